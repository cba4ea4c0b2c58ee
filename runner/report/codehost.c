/* codehost.c - PR/MR comment upsert and GitHub deployment statuses; see
 * codehost.h. */
#include "report/codehost.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "context/ci.h"
#include "util/err.h"
#include "util/http.h"
#include "util/log.h"

#define MAX_PAGES 1000          /* 100 000 comments: far beyond any real PR */
#define MAX_ID 9007199254740991LL /* 2^53 - 1: exact in a JSON number */

struct codehost {
	enum codehost_kind kind;
	char *api;           /* API base, no trailing '/' */
	char *origin;        /* scheme://host[:port] of api (pagination links) */
	char *token;
	const char *token_var;
	int actions_token;   /* GITHUB_ACTIONS and the token is GITHUB_TOKEN */
	char *repo;          /* GitHub "/repos/o/r"; GitLab "/projects/<id>" */
	char *pr_path;       /* GitHub "/issues/N"; GitLab "/merge_requests/N" */
	long pr;
	int has_pr;
	char *identity;
	int identity_tried;
	long long comment_id;
	long long deployment_id;
	char *desc;
	struct http_client *http;
	long (*delay_hook)(void *ud, long ms);
	void *delay_ud;
	double sleep_scale;
};

struct ch_comment {
	long long id;
	char *body;
	char *author;
	int system;
	int untrusted; /* GitHub: written by someone who cannot have been prenv */
};

struct ch_list {
	struct ch_comment *v;
	size_t n, cap;
	size_t seen;         /* every comment read, marked or not */
	int pages;
};

/* ---- small helpers ---- */

static int streq(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

static char *xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void comment_clear(struct ch_comment *c)
{
	free(c->body);
	free(c->author);
	memset(c, 0, sizeof(*c));
}

static void list_clear(struct ch_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		comment_clear(&l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int list_push(struct ch_list *l, struct ch_comment *c)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		struct ch_comment *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *c;
	memset(c, 0, sizeof(*c));
	return 0;
}

static int cmp_id(const void *a, const void *b)
{
	const struct ch_comment *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static int oom(struct prenv_err *err)
{
	return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
}

int codehost_marker_matches(const char *body, const char *marker)
{
	size_t n;

	if (!body || !marker || !*marker)
		return 0;
	n = strlen(marker);
	return !strncmp(body, marker, n) &&
	       (body[n] == '\0' || body[n] == '\n' || body[n] == '\r');
}

int codehost_comment_sha(const char *body, char out[41])
{
	static const char tag[] = "<!-- prenv:sha=";
	const char *p;
	size_t i;

	if (!body || !(p = strchr(body, '\n')))
		return -1;
	p++;
	if (strncmp(p, tag, sizeof(tag) - 1))
		return -1;
	p += sizeof(tag) - 1;
	for (i = 0; i < 40; i++) {
		if (!isxdigit((unsigned char)p[i]))
			return -1;
		out[i] = (char)tolower((unsigned char)p[i]);
	}
	if (strncmp(p + 40, " -->", 4))
		return -1;
	out[40] = '\0';
	return 0;
}

/* A JSON id: a positive integer below 2^53 (GitHub's are past 2^31). */
static long long json_id(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	double d;

	if (!cJSON_IsNumber(v))
		return 0;
	d = v->valuedouble;
	if (!(d >= 1 && d <= (double)MAX_ID))
		return 0;
	return (long long)d;
}

static const char *json_str(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static cJSON *parse_body(const struct http_response *resp, const char *what,
			 struct prenv_err *err)
{
	cJSON *j = cJSON_ParseWithLength(resp->body.ptr, resp->body.len);

	if (!j)
		prenv_err_set(err, PRENV_EFAIL, "%s: the answer is not JSON (HTTP %ld)",
			      what, resp->status);
	return j;
}

/* Sleeps ms (scaled like http.c: the delay hook, or PRENV_HTTP_SLEEP_SCALE). */
/* GET url (built by the caller; a failed buffer is out of memory) and parse
 * the JSON answer into *out (caller frees). what names it in errors. */
static int get_json(struct codehost *h, const struct prenv_buf *url, const char *what,
		    struct http_response *resp, cJSON **out, struct prenv_err *err);

static void ch_sleep(struct codehost *h, long ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	if (h->delay_hook)
		ms = h->delay_hook(h->delay_ud, ms);
	else
		ms = (long)((double)ms * h->sleep_scale);
	if (ms <= 0)
		return;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ---- requests ---- */

static int ch_do(struct codehost *h, const char *method, const char *url,
		 const char *body, struct http_response *resp, struct prenv_err *err)
{
	static const char *const gh_hdrs[] = {
		"Accept: application/vnd.github+json",
		"X-GitHub-Api-Version: 2022-11-28",
		"Content-Type: application/json", NULL,
	};
	static const char *const gl_hdrs[] = {
		"Accept: application/json", "Content-Type: application/json", NULL,
	};
	struct http_request rq;

	http_response_free(resp);
	memset(&rq, 0, sizeof(rq));
	rq.method = method;
	rq.url = url;
	rq.headers = h->kind == CODEHOST_GITHUB ? gh_hdrs : gl_hdrs;
	rq.body = body;
	rq.body_len = body ? strlen(body) : 0;
	rq.bearer_token = h->token;
	/* Setting a comment's body again to the same text is harmless: an edit
	 * (PATCH on GitHub) may be retried like a PUT. */
	if (!strcmp(method, "PATCH") && strstr(url, "/issues/comments/"))
		rq.idempotent = HTTP_IDEMPOTENT_YES;
	return http_do(h->http, &rq, resp, err);
}

/* {"body": text}, the request body of every comment write. */
static int get_json(struct codehost *h, const struct prenv_buf *url, const char *what,
		    struct http_response *resp, cJSON **out, struct prenv_err *err)
{
	int rc;

	*out = NULL;
	if (url->failed)
		return oom(err);
	if ((rc = ch_do(h, "GET", url->ptr, NULL, resp, err)) < 0)
		return rc;
	if (!(*out = parse_body(resp, what, err)))
		return err->code ? err->code : PRENV_EFAIL;
	return 0;
}

static char *body_json(const char *text)
{
	cJSON *o = cJSON_CreateObject();
	char *s = NULL;

	if (o && cJSON_AddStringToObject(o, "body", text))
		s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

static int url_comments(struct codehost *h, struct prenv_buf *u)
{
	if (h->kind == CODEHOST_GITHUB)
		return prenv_buf_printf(u, "%s%s%s/comments?per_page=100", h->api, h->repo, h->pr_path);
	/* oldest first, so the first marked note is the oldest */
	return prenv_buf_printf(u, "%s%s%s/notes?per_page=100&sort=asc&order_by=created_at",
				h->api, h->repo, h->pr_path);
}

static int url_comment(struct codehost *h, struct prenv_buf *u, long long id)
{
	if (h->kind == CODEHOST_GITHUB)
		return prenv_buf_printf(u, "%s%s/issues/comments/%lld", h->api, h->repo, id);
	return prenv_buf_printf(u, "%s%s%s/notes/%lld", h->api, h->repo, h->pr_path, id);
}

/* Fills c from an API comment/note object. Returns 0 or -1 (not a comment). */
static int comment_from_json(struct codehost *h, const cJSON *o, struct ch_comment *c)
{
	const cJSON *who;
	const char *body = json_str(o, "body"), *login = NULL;

	memset(c, 0, sizeof(*c));
	if (!cJSON_IsObject(o) || !(c->id = json_id(o, "id")) || !body)
		return -1;
	if (h->kind == CODEHOST_GITHUB) {
		const char *type, *assoc = json_str(o, "author_association");

		who = cJSON_GetObjectItemCaseSensitive(o, "user");
		login = json_str(who, "login");
		type = json_str(who, "type");
		/* The marker, not the author, identifies prenv's comment (tokens
		 * change between runs), but only an author who could have run
		 * prenv counts: a bot (the Actions token, an app), or the
		 * repository's owner, members and collaborators (a personal
		 * token). A drive-by commenter's marker is ignored, so nobody can
		 * plant a comment for prenv to adopt. */
		c->untrusted = !(type && !strcmp(type, "Bot")) &&
			       !(assoc && (!strcmp(assoc, "OWNER") || !strcmp(assoc, "MEMBER") ||
					   !strcmp(assoc, "COLLABORATOR")));
	} else {
		who = cJSON_GetObjectItemCaseSensitive(o, "author");
		login = json_str(who, "username");
		c->system = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "system"));
	}
	c->body = strdup(body);
	c->author = xstrdup(login);
	if (!c->body || (login && !c->author)) {
		comment_clear(c);
		return -1;
	}
	return 0;
}

/* The URL of the rel="next" link of a GitHub Link header, checked to be on
 * the API's own origin (the token goes only there). */
static int next_link(struct codehost *h, const char *link, struct prenv_buf *out)
{
	const char *p = link, *lt, *gt, *nxt;
	size_t olen = strlen(h->origin);

	while (p && (lt = strchr(p, '<')) && (gt = strchr(lt, '>'))) {
		nxt = strchr(gt, '<');
		if (memmem(gt, nxt ? (size_t)(nxt - gt) : strlen(gt), "rel=\"next\"", 10)) {
			size_t n = (size_t)(gt - lt - 1);

			if (n <= olen || strncmp(lt + 1, h->origin, olen) || lt[1 + olen] != '/')
				return -1;
			prenv_buf_add(out, lt + 1, n);
			return out->failed ? -1 : 1;
		}
		p = nxt;
	}
	return 0;
}

/* Every comment of the PR whose body starts with marker, oldest (lowest id)
 * first, following every page. */
static int list_marked(struct codehost *h, const char *marker, struct ch_list *out,
		       struct prenv_err *err)
{
	struct prenv_buf first = PRENV_BUF_INIT, url = PRENV_BUF_INIT;
	struct http_response resp = HTTP_RESPONSE_INIT;
	cJSON *arr = NULL;
	int rc = 0;

	list_clear(out);
	url_comments(h, &first);
	prenv_buf_adds(&url, first.ptr);
	if (url.failed) {
		rc = oom(err);
		goto done;
	}
	for (;;) {
		const cJSON *it;
		const char *np;

		if (++out->pages > MAX_PAGES) {
			rc = prenv_err_set(err, PRENV_EFAIL, "more than %d pages of comments on %s; giving up",
					   MAX_PAGES, h->pr_path);
			goto done;
		}
		if ((rc = ch_do(h, "GET", url.ptr, NULL, &resp, err)) < 0)
			goto done;
		cJSON_Delete(arr);
		if (!(arr = parse_body(&resp, "listing the comments", err))) {
			rc = err->code;
			goto done;
		}
		if (!cJSON_IsArray(arr)) {
			rc = prenv_err_set(err, PRENV_EFAIL, "listing the comments: expected a JSON array");
			goto done;
		}
		cJSON_ArrayForEach(it, arr) {
			struct ch_comment c;

			out->seen++;
			if (comment_from_json(h, it, &c) < 0)
				continue;
			if (!c.system && !c.untrusted && codehost_marker_matches(c.body, marker)) {
				if (list_push(out, &c) < 0) {
					comment_clear(&c);
					rc = oom(err);
					goto done;
				}
			}
			comment_clear(&c);
		}
		prenv_buf_reset(&url);
		if (h->kind == CODEHOST_GITHUB) {
			const char *link = http_response_header(&resp, "link");
			int k = link ? next_link(h, link, &url) : 0;

			if (k < 0) {
				rc = prenv_err_set(err, PRENV_EFAIL,
						   "listing the comments: the next-page link does not point at %s",
						   h->origin);
				goto done;
			}
			if (k == 0)
				break;
		} else {
			long pg;
			char *end;

			np = http_response_header(&resp, "x-next-page");
			if (!np || !*np)
				break;
			errno = 0;
			pg = strtol(np, &end, 10);
			if (errno || *end || pg < 2 || pg > MAX_PAGES + 1) {
				rc = prenv_err_set(err, PRENV_EFAIL,
						   "listing the notes: X-Next-Page '%s' is not a page number", np);
				goto done;
			}
			prenv_buf_printf(&url, "%s&page=%ld", first.ptr, pg);
		}
		if (url.failed) {
			rc = oom(err);
			goto done;
		}
	}
	if (out->n > 1)
		qsort(out->v, out->n, sizeof(out->v[0]), cmp_id);
	log_verbose("%s: %zu comments on %zu page(s), %zu with this environment's marker",
		    h->desc, out->seen, (size_t)out->pages, out->n);
done:
	cJSON_Delete(arr);
	http_response_free(&resp);
	prenv_buf_free(&first);
	prenv_buf_free(&url);
	return rc;
}

/* The issue number at the end of a GitHub comment's issue_url. */
static int belongs_to_pr(struct codehost *h, const cJSON *o)
{
	const char *iu;
	const char *slash;

	if (h->kind != CODEHOST_GITHUB)
		return 1; /* fetched through the MR's own path */
	iu = json_str(o, "issue_url");
	if (!iu || !(slash = strrchr(iu, '/')))
		return 0;
	return strtol(slash + 1, NULL, 10) == h->pr && slash - iu >= 7 &&
	       !strncmp(slash - 7, "/issues", 7);
}

/* GET one comment by id. PRENV_ENOTFOUND when gone or not on this PR. */
static int get_comment(struct codehost *h, long long id, struct ch_comment *out,
		       struct prenv_err *err)
{
	struct prenv_buf url = PRENV_BUF_INIT;
	struct http_response resp = HTTP_RESPONSE_INIT;
	cJSON *o = NULL;
	int rc;

	url_comment(h, &url, id);
	if ((rc = get_json(h, &url, "reading the comment", &resp, &o, err)) < 0)
		goto done;
	if (!belongs_to_pr(h, o) || comment_from_json(h, o, out) < 0) {
		rc = prenv_err_set(err, PRENV_ENOTFOUND, "comment %lld is not on %s", id, h->pr_path);
		goto done;
	}
done:
	cJSON_Delete(o);
	http_response_free(&resp);
	prenv_buf_free(&url);
	return rc;
}

/* POST (create) or PATCH/PUT (id != 0) a comment; out gets the answer.
 * status_out: the HTTP status (0: no answer). */
static int write_comment(struct codehost *h, long long id, const char *text,
			 struct ch_comment *out, long *status_out, long *retry_after,
			 struct prenv_err *err)
{
	struct prenv_buf url = PRENV_BUF_INIT;
	struct http_response resp = HTTP_RESPONSE_INIT;
	char *json = body_json(text);
	cJSON *o = NULL;
	int rc;

	if (status_out)
		*status_out = 0;
	if (id)
		url_comment(h, &url, id);
	else
		url_comments(h, &url);
	if (!json || url.failed) {
		rc = oom(err);
		goto done;
	}
	if (!id) /* the list query is not part of the create URL */
		prenv_buf_truncate(&url, (size_t)(strchr(url.ptr, '?') - url.ptr));
	rc = ch_do(h, id ? (h->kind == CODEHOST_GITHUB ? "PATCH" : "PUT") : "POST",
		   url.ptr, json, &resp, err);
	if (status_out)
		*status_out = resp.status;
	if (retry_after)
		*retry_after = resp.retry_after_ms;
	if (rc < 0)
		goto done;
	if (!(o = parse_body(&resp, id ? "updating the comment" : "creating the comment", err))) {
		rc = err->code;
		goto done;
	}
	if (comment_from_json(h, o, out) < 0)
		rc = prenv_err_set(err, PRENV_EFAIL, "%s: the answer is not a comment",
				   id ? "updating the comment" : "creating the comment");
done:
	cJSON_Delete(o);
	free(json);
	http_response_free(&resp);
	prenv_buf_free(&url);
	return rc;
}

static int delete_comment(struct codehost *h, long long id, struct prenv_err *err)
{
	struct prenv_buf url = PRENV_BUF_INIT;
	struct http_response resp = HTTP_RESPONSE_INIT;
	int rc;

	url_comment(h, &url, id);
	if (url.failed)
		return oom(err);
	rc = ch_do(h, "DELETE", url.ptr, NULL, &resp, err);
	if (rc == PRENV_ENOTFOUND) { /* the other job deleted it first */
		prenv_err_clear(err);
		rc = 0;
	}
	http_response_free(&resp);
	prenv_buf_free(&url);
	return rc;
}

/* The PR's (MR's) current head sha; *out is the caller's. */
static int head_sha(struct codehost *h, char **out, struct prenv_err *err)
{
	struct prenv_buf url = PRENV_BUF_INIT;
	struct http_response resp = HTTP_RESPONSE_INIT;
	cJSON *o = NULL;
	const char *sha;
	int rc;

	*out = NULL;
	if (h->kind == CODEHOST_GITHUB)
		prenv_buf_printf(&url, "%s%s/pulls/%ld", h->api, h->repo, h->pr);
	else
		prenv_buf_printf(&url, "%s%s%s", h->api, h->repo, h->pr_path);
	if ((rc = get_json(h, &url, "reading the pull request", &resp, &o, err)) < 0)
		goto done;
	sha = h->kind == CODEHOST_GITHUB
		? json_str(cJSON_GetObjectItemCaseSensitive(o, "head"), "sha")
		: json_str(o, "sha");
	if (!sha) {
		rc = prenv_err_set(err, PRENV_EFAIL, "reading the pull request: no head sha in the answer");
		goto done;
	}
	if (!(*out = strdup(sha)))
		rc = oom(err);
done:
	cJSON_Delete(o);
	http_response_free(&resp);
	prenv_buf_free(&url);
	return rc;
}

static int set_str(char **dst, const char *v)
{
	char *c = v ? strdup(v) : NULL;

	if (v && !c)
		return -1;
	free(*dst);
	*dst = c;
	return 0;
}

int codehost_resolve_pr(struct codehost *h, struct prenv_context *ctx,
			struct prenv_err *err)
{
	struct prenv_buf url = PRENV_BUF_INIT, head = PRENV_BUF_INIT;
	struct http_response resp = HTTP_RESPONSE_INIT;
	const char *slash;
	const cJSON *pr = NULL, *it;
	cJSON *list = NULL;
	int rc;

	if (h->kind != CODEHOST_GITHUB || !ctx->head_repo_full_name || !ctx->branch || !ctx->sha)
		return prenv_err_set(err, PRENV_ENOTFOUND,
				     "cannot look the pull request up: %s",
				     h->kind != CODEHOST_GITHUB ? "only GitHub runs workflow_run"
								: "the event names no head repository, branch and sha");
	slash = strchr(ctx->head_repo_full_name, '/');
	prenv_buf_add(&head, ctx->head_repo_full_name,
		      slash ? (size_t)(slash - ctx->head_repo_full_name) : strlen(ctx->head_repo_full_name));
	prenv_buf_printf(&head, ":%s", ctx->branch);
	prenv_buf_printf(&url, "%s%s/pulls?state=open&per_page=100&head=", h->api, h->repo);
	http_url_escape(&url, head.ptr);
	if (head.failed) {
		rc = oom(err);
		goto done;
	}
	if ((rc = get_json(h, &url, "looking the pull request up", &resp, &list, err)) < 0)
		goto done;
	cJSON_ArrayForEach(it, list) {
		const cJSON *hd = cJSON_GetObjectItemCaseSensitive(it, "head");
		const char *sha = json_str(hd, "sha");
		const char *full = json_str(cJSON_GetObjectItemCaseSensitive(hd, "repo"), "full_name");

		/* The exact commit of the run, from the fork that ran it. */
		if (sha && full && !strcasecmp(sha, ctx->sha) &&
		    !strcmp(full, ctx->head_repo_full_name)) {
			pr = it;
			break;
		}
	}
	if (!pr || json_id(pr, "number") <= 0) {
		rc = prenv_err_set(err, PRENV_ENOTFOUND,
				   "no open pull request has %s at %.12s as its head", head.ptr, ctx->sha);
		goto done;
	}
	ctx->has_pr = 1;
	ctx->pr_number = (long)json_id(pr, "number");
	if (set_str(&ctx->pr_title, json_str(pr, "title")) < 0 ||
	    set_str(&ctx->pr_author, json_str(cJSON_GetObjectItemCaseSensitive(pr, "user"), "login")) < 0 ||
	    set_str(&ctx->pr_url, json_str(pr, "html_url")) < 0 ||
	    set_str(&ctx->pr_state, "open") < 0) {
		rc = oom(err);
		goto done;
	}
	h->has_pr = 1;
	h->pr = ctx->pr_number;
	free(h->pr_path);
	prenv_buf_reset(&url);
	prenv_buf_printf(&url, "/issues/%ld", h->pr);
	if (!(h->pr_path = prenv_buf_detach(&url, NULL)))
		rc = oom(err);
done:
	cJSON_Delete(list);
	http_response_free(&resp);
	prenv_buf_free(&url);
	prenv_buf_free(&head);
	return rc;
}

/* The token's identity, found once: /user (GitHub user tokens, GitLab), or
 * the Actions bot for GITHUB_TOKEN (whose /user answers 403). */
static const char *ensure_identity(struct codehost *h)
{
	struct prenv_buf url = PRENV_BUF_INIT;
	struct http_response resp = HTTP_RESPONSE_INIT;
	struct prenv_err e = PRENV_ERR_INIT;
	cJSON *o = NULL;
	const char *login;

	if (h->identity || h->identity_tried)
		return h->identity;
	h->identity_tried = 1;
	prenv_buf_printf(&url, "%s/user", h->api);
	if (!url.failed && ch_do(h, "GET", url.ptr, NULL, &resp, &e) == 0 &&
	    (o = cJSON_ParseWithLength(resp.body.ptr, resp.body.len)) &&
	    (login = json_str(o, h->kind == CODEHOST_GITHUB ? "login" : "username")))
		h->identity = strdup(login);
	if (!h->identity && h->kind == CODEHOST_GITHUB && h->actions_token)
		h->identity = strdup("github-actions[bot]");
	log_verbose("%s: the token's identity is %s", h->desc,
		    h->identity ? h->identity : "unknown (duplicates will be left alone)");
	cJSON_Delete(o);
	prenv_err_clear(&e);
	http_response_free(&resp);
	prenv_buf_free(&url);
	return h->identity;
}

/* ---- the session ---- */

static void set_why(struct prenv_buf *why, int *auth, int is_auth, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void set_why(struct prenv_buf *why, int *auth, int is_auth, const char *fmt, ...)
{
	va_list ap;

	if (auth)
		*auth = is_auth;
	if (!why)
		return;
	va_start(ap, fmt);
	prenv_buf_vprintf(why, fmt, ap);
	va_end(ap);
}

static int http_url_ok(const char *u)
{
	return u && (!strncmp(u, "https://", 8) || !strncmp(u, "http://", 7)) &&
	       !strpbrk(u, " \t\r\n");
}

int codehost_new(struct codehost **out, const struct codehost_opts *o,
		 struct prenv_buf *why, int *auth, struct prenv_err *err)
{
	const struct prenv_context *ctx = o->ctx;
	const char *const *envp = o->envp;
	struct codehost *h = NULL;
	struct prenv_buf b = PRENV_BUF_INIT;
	const char *host = ctx->host, *api = ctx->api_url, *tok = NULL, *scale;
	const char *slash;
	int rc = 0;

	*out = NULL;
	if (auth)
		*auth = 0;
	if (streq(ctx->ci, "local") && !ci_getenv(envp, "PRENV_API_URL")) {
		set_why(why, auth, 0, "this is a local run (no CI detected); set PRENV_API_URL and a token "
			"to report from another CI");
		return 0;
	}
	if (!host && streq(ctx->ci, "github"))
		host = "github";
	if (!host && streq(ctx->ci, "gitlab"))
		host = "gitlab";
	if (!streq(host, "github") && !streq(host, "gitlab")) {
		set_why(why, auth, 0, "reporting to %s is not supported (GitHub and GitLab are)",
			host ? host : "an unknown code host");
		return 0;
	}
	if (!api)
		api = ci_getenv(envp, streq(host, "github") ? "GITHUB_API_URL" : "CI_API_V4_URL");
	if (!api && streq(host, "github") && streq(ctx->server_url, "https://github.com"))
		api = "https://api.github.com";
	if (!http_url_ok(api)) {
		set_why(why, auth, 0, "the %s API URL is unknown: set PRENV_API_URL",
			streq(host, "github") ? "GitHub" : "GitLab");
		return 0;
	}
	if (streq(host, "github")) {
		if (!(tok = ci_getenv(envp, "PRENV_GITHUB_TOKEN")))
			tok = ci_getenv(envp, "GITHUB_TOKEN");
		if (!tok) {
			set_why(why, auth, 1, "no token: set PRENV_GITHUB_TOKEN or GITHUB_TOKEN (in GitHub Actions: "
				"env: GITHUB_TOKEN: ${{ github.token }} with permissions pull-requests: write "
				"and deployments: write)");
			return 0;
		}
	} else {
		if (!(tok = ci_getenv(envp, "PRENV_GITLAB_TOKEN")))
			tok = ci_getenv(envp, "GITLAB_TOKEN");
		if (!tok) {
			if (ci_getenv(envp, "CI_JOB_TOKEN"))
				set_why(why, auth, 1, "only CI_JOB_TOKEN is set, and GitLab job tokens cannot write "
					"merge request notes: set PRENV_GITLAB_TOKEN (or GITLAB_TOKEN) to a project "
					"access token with the api scope (a masked CI/CD variable)");
			else
				set_why(why, auth, 1, "no token: set PRENV_GITLAB_TOKEN (or GITLAB_TOKEN) to a "
					"project access token with the api scope");
			return 0;
		}
	}
	if (!(h = calloc(1, sizeof(*h))))
		return oom(err);
	h->kind = streq(host, "github") ? CODEHOST_GITHUB : CODEHOST_GITLAB;
	h->token = strdup(tok);
	h->token_var = ci_getenv(envp, h->kind == CODEHOST_GITHUB ? "PRENV_GITHUB_TOKEN" : "PRENV_GITLAB_TOKEN")
		? (h->kind == CODEHOST_GITHUB ? "PRENV_GITHUB_TOKEN" : "PRENV_GITLAB_TOKEN")
		: (h->kind == CODEHOST_GITHUB ? "GITHUB_TOKEN" : "GITLAB_TOKEN");
	h->actions_token = h->kind == CODEHOST_GITHUB && ci_getenv(envp, "GITHUB_ACTIONS") &&
			   streq(h->token_var, "GITHUB_TOKEN");
	h->api = strdup(api);
	if (!h->token || !h->api) {
		rc = oom(err);
		goto done;
	}
	log_add_secret(h->token);
	while (*h->api && h->api[strlen(h->api) - 1] == '/')
		h->api[strlen(h->api) - 1] = '\0';
	slash = strchr(strstr(h->api, "://") + 3, '/');
	h->origin = slash ? strndup(h->api, (size_t)(slash - h->api)) : strdup(h->api);

	/* The repository's API path. */
	if (h->kind == CODEHOST_GITHUB) {
		const char *owner = ctx->repo_owner, *name = ctx->repo_name;
		const char *full = ctx->repo_full_name;
		char *own = NULL;

		if ((!owner || !name) && full && (slash = strrchr(full, '/')) && slash != full && slash[1]) {
			own = strndup(full, (size_t)(slash - full));
			owner = own;
			name = slash + 1;
		}
		if (!owner || !name) {
			free(own);
			set_why(why, auth, 0, "the repository is unknown: set PRENV_REPO=owner/name");
			goto nope;
		}
		prenv_buf_adds(&b, "/repos/");
		http_url_escape(&b, owner);
		prenv_buf_addc(&b, '/');
		http_url_escape(&b, name);
		free(own);
	} else {
		const char *pid = ctx->project_id ? ctx->project_id : ctx->repo_full_name;

		if (!pid) {
			set_why(why, auth, 0, "the GitLab project is unknown: set PRENV_PROJECT_ID or PRENV_REPO");
			goto nope;
		}
		prenv_buf_adds(&b, "/projects/");
		http_url_escape(&b, pid); /* group/sub/proj -> group%2Fsub%2Fproj */
	}
	if (b.failed || !h->origin) {
		rc = oom(err);
		goto done;
	}
	h->repo = prenv_buf_detach(&b, NULL);
	h->has_pr = ctx->has_pr;
	h->pr = ctx->pr_number;
	prenv_buf_printf(&b, h->kind == CODEHOST_GITHUB ? "/issues/%ld" : "/merge_requests/%ld", h->pr);
	h->pr_path = prenv_buf_detach(&b, NULL);
	prenv_buf_printf(&b, "%s (%s)", h->kind == CODEHOST_GITHUB ? "GitHub" : "GitLab", h->api);
	h->desc = prenv_buf_detach(&b, NULL);
	if (!h->repo || !h->pr_path || !h->desc) {
		rc = oom(err);
		goto done;
	}
	h->delay_hook = o->http ? o->http->delay_hook : NULL;
	h->delay_ud = o->http ? o->http->delay_ud : NULL;
	h->sleep_scale = 1.0;
	if ((scale = ci_getenv(envp, "PRENV_HTTP_SLEEP_SCALE"))) {
		char *end;
		double d = strtod(scale, &end);

		if (!*end && d >= 0 && d <= 1)
			h->sleep_scale = d;
	}
	if ((rc = http_client_new(&h->http, o->http, err)) < 0)
		goto done;
	*out = h;
	h = NULL;
	goto done;
nope:
	rc = 0;
done:
	prenv_buf_free(&b);
	codehost_free(h);
	return rc;
}

void codehost_free(struct codehost *h)
{
	if (!h)
		return;
	http_client_free(h->http);
	free(h->api);
	free(h->origin);
	free(h->token);
	free(h->repo);
	free(h->pr_path);
	free(h->identity);
	free(h->desc);
	free(h);
}

enum codehost_kind codehost_kind(const struct codehost *h)
{
	return h->kind;
}

const char *codehost_describe(const struct codehost *h)
{
	return h->desc;
}

unsigned long codehost_request_count(const struct codehost *h)
{
	return h && h->http ? http_client_request_count(h->http) : 0;
}

const char *codehost_identity(const struct codehost *h)
{
	return h->identity;
}

long long codehost_deployment_id(const struct codehost *h)
{
	return h->deployment_id;
}

/* ---- the comment ---- */

/* Updates the existing comment cur with c->body unless it reports a newer
 * commit (the PR's head) than ours. */
static int update_existing(struct codehost *h, const struct codehost_comment *c,
			   const struct ch_comment *cur, struct codehost_comment_result *res,
			   struct prenv_err *err)
{
	struct ch_comment upd;
	char csha[41];
	char *head = NULL;
	int rc;

	memset(&upd, 0, sizeof(upd));
	res->id = cur->id;
	h->comment_id = cur->id;
	if (!strcmp(cur->body, c->body)) {
		res->action = CODEHOST_UNCHANGED;
		return 0;
	}
	if (!c->force && c->sha && codehost_comment_sha(cur->body, csha) == 0 &&
	    strcasecmp(csha, c->sha) != 0) {
		struct prenv_err e = PRENV_ERR_INIT;

		if (head_sha(h, &head, &e) < 0) {
			log_warn("%s: cannot read the head commit of %s (%s); updating the comment anyway",
				 h->desc, h->pr_path + 1, e.msg);
		} else if (strcasecmp(head, c->sha) != 0 && !strcasecmp(head, csha)) {
			log_info("not updating comment %lld: it reports commit %.12s, the head of the pull "
				 "request, and this run is for the older commit %.12s", cur->id, csha, c->sha);
			res->action = CODEHOST_SKIPPED;
			prenv_err_clear(&e);
			free(head);
			return 0;
		}
		prenv_err_clear(&e);
		free(head);
	}
	rc = write_comment(h, cur->id, c->body, &upd, NULL, NULL, err);
	if (rc == 0) {
		res->action = CODEHOST_UPDATED;
		log_verbose("%s: updated comment %lld", h->desc, cur->id);
	}
	comment_clear(&upd);
	return rc;
}

/* Two or more marked comments: keep list->v[0] (the oldest), delete the
 * others written by the token's identity, leave the rest. */
static int remove_duplicates(struct codehost *h, const struct ch_list *list,
			     struct codehost_comment_result *res, struct prenv_err *err)
{
	const char *me = ensure_identity(h);
	size_t i;
	int rc;

	for (i = 1; i < list->n; i++) {
		const struct ch_comment *d = &list->v[i];

		if (!me || !streq(d->author, me)) {
			log_info("leaving duplicate comment %lld alone: written by %s, not by this token's "
				 "identity (%s)", d->id, d->author ? d->author : "?", me ? me : "unknown");
			res->kept_foreign++;
			continue;
		}
		if ((rc = delete_comment(h, d->id, err)) < 0)
			return rc;
		log_verbose("%s: deleted duplicate comment %lld (kept %lld)", h->desc, d->id, list->v[0].id);
		res->deleted++;
	}
	return 0;
}

static int ambiguous(long status)
{
	return status == 0 || status >= 500;
}

static int rate_limited(long status, long retry_after)
{
	return status == 429 || (status == 403 && retry_after >= 0);
}

int codehost_upsert_comment(struct codehost *h, const struct codehost_comment *c,
			    struct codehost_comment_result *res, struct prenv_err *err)
{
	struct ch_comment cur;
	struct ch_list list;
	long long ids[2];
	long status = 0, retry_after = -1;
	size_t i;
	int rc = 0, have = 0, listed = 0, attempt;

	memset(res, 0, sizeof(*res));
	memset(&cur, 0, sizeof(cur));
	memset(&list, 0, sizeof(list));
	if (!h->has_pr)
		return prenv_err_set(err, PRENV_EFAIL, "no pull request to comment on");
	if (!codehost_marker_matches(c->body, c->marker))
		return prenv_err_set(err, PRENV_EFAIL, "the comment body does not start with its marker");

	/* 1. A remembered id: one GET instead of listing every page. */
	ids[0] = c->known_id;
	ids[1] = h->comment_id != c->known_id ? h->comment_id : 0;
	for (i = 0; i < 2 && !have; i++) {
		if (ids[i] <= 0)
			continue;
		rc = get_comment(h, ids[i], &cur, err);
		if (rc == 0 && codehost_marker_matches(cur.body, c->marker) && !cur.system) {
			have = 1;
		} else if (rc == 0 || rc == PRENV_ENOTFOUND) {
			log_verbose("%s: remembered comment %lld is gone or no longer ours; listing comments",
				    h->desc, ids[i]);
			comment_clear(&cur);
			prenv_err_clear(err);
			rc = 0;
		} else {
			goto done;
		}
	}
	if (!have) {
		if ((rc = list_marked(h, c->marker, &list, err)) < 0)
			goto done;
		listed = 1;
		if (list.n) {
			cur = list.v[0];
			memset(&list.v[0], 0, sizeof(list.v[0]));
			have = 1;
		}
	}
	if (have) {
		if ((rc = update_existing(h, c, &cur, res, err)) < 0)
			goto done;
		if (listed && list.n > 1) {
			list.v[0].id = cur.id; /* remove_duplicates() keeps v[0] */
			rc = remove_duplicates(h, &list, res, err);
		}
		goto done;
	}

	/* 2. None: create. A POST is never sent twice blindly. */
	for (attempt = 0;; attempt++) {
		rc = write_comment(h, 0, c->body, &cur, &status, &retry_after, err);
		if (rc == 0)
			break;
		if (attempt > 0 || !(ambiguous(status) || rate_limited(status, retry_after)))
			goto done;
		log_warn("%s: creating the comment failed (%s); reading the comments again before "
			 "deciding whether to post again", h->desc, err->msg);
		prenv_err_clear(err);
		if (rate_limited(status, retry_after))
			ch_sleep(h, retry_after > 0 ? retry_after : 1000);
		if ((rc = list_marked(h, c->marker, &list, err)) < 0)
			goto done;
		if (list.n) { /* it (or another job's) arrived after all */
			cur = list.v[0];
			memset(&list.v[0], 0, sizeof(list.v[0]));
			rc = update_existing(h, c, &cur, res, err);
			if (rc == 0 && list.n > 1) {
				list.v[0].id = cur.id;
				rc = remove_duplicates(h, &list, res, err);
			}
			goto done;
		}
		if (ambiguous(status))
			ch_sleep(h, 500);
	}
	res->action = CODEHOST_CREATED;
	res->id = cur.id;
	h->comment_id = cur.id;
	if (!h->identity && cur.author) {
		/* the author of the comment we just wrote is who the token is */
		h->identity = strdup(cur.author);
		h->identity_tried = 1;
	}
	log_verbose("%s: created comment %lld", h->desc, cur.id);

	/* 3. Re-read: another job may have posted at the same moment. */
	if ((rc = list_marked(h, c->marker, &list, err)) < 0) {
		log_warn("%s: could not re-read the comments after posting (%s); a duplicate from a "
			 "concurrent job would stay", h->desc, err->msg);
		prenv_err_clear(err);
		rc = 0;
		goto done;
	}
	if (list.n > 1 || (list.n == 1 && list.v[0].id != cur.id)) {
		struct codehost_comment_result r2;
		struct ch_comment keep;

		/* A concurrent job posted too (and may already have deleted ours). */
		log_info("a concurrent job posted a comment for this environment too; keeping the "
			 "oldest, %lld", list.v[0].id);
		if ((rc = remove_duplicates(h, &list, res, err)) < 0)
			goto done;
		if (list.v[0].id != cur.id) {
			keep = list.v[0];
			memset(&r2, 0, sizeof(r2));
			rc = update_existing(h, c, &keep, &r2, err);
			res->id = r2.id;
			res->action = r2.action == CODEHOST_SKIPPED ? CODEHOST_SKIPPED : CODEHOST_UPDATED;
		}
	}
done:
	comment_clear(&cur);
	list_clear(&list);
	return rc;
}

/* ---- GitHub deployments ---- */

/* Adds s as name, cut to at most max characters (UTF-8 aware; "..." marks
 * the cut), control characters as spaces. */
static void add_capped(cJSON *o, const char *name, const char *s, size_t max)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	const unsigned char *p;
	size_t total = 0, chars = 0;

	for (p = (const unsigned char *)s; *p; p++)
		total += (*p & 0xc0) != 0x80;
	for (p = (const unsigned char *)s; *p; p++) {
		if ((*p & 0xc0) != 0x80 && total > max && ++chars > max - 3) {
			prenv_buf_adds(&b, "...");
			break;
		}
		prenv_buf_addc(&b, *p < 0x20 || *p == 0x7f ? ' ' : (char)*p);
	}
	if (!b.failed)
		cJSON_AddStringToObject(o, name, b.ptr);
	prenv_buf_free(&b);
}

static int post_json(struct codehost *h, const char *url, cJSON *o, struct http_response *resp,
		     struct prenv_err *err)
{
	char *s = cJSON_PrintUnformatted(o);
	int rc;

	if (!s)
		return oom(err);
	rc = ch_do(h, "POST", url, s, resp, err);
	free(s);
	return rc;
}

static int create_deployment(struct codehost *h, const struct codehost_deploy *d,
			     struct prenv_err *err)
{
	struct prenv_buf url = PRENV_BUF_INIT, desc = PRENV_BUF_INIT;
	struct http_response resp = HTTP_RESPONSE_INIT;
	cJSON *o = cJSON_CreateObject(), *payload, *ans = NULL;
	int rc;

	prenv_buf_printf(&url, "%s%s/deployments", h->api, h->repo);
	prenv_buf_printf(&desc, "prenv: %s environment %s of %s",
			 d->production ? "production" : d->transient ? "preview" : "the",
			 d->environment, d->app);
	if (!o || url.failed || desc.failed) {
		rc = oom(err);
		goto done;
	}
	cJSON_AddStringToObject(o, "ref", d->sha);
	cJSON_AddStringToObject(o, "task", "deploy");
	cJSON_AddBoolToObject(o, "auto_merge", 0);
	cJSON_AddItemToObject(o, "required_contexts", cJSON_CreateArray());
	payload = cJSON_AddObjectToObject(o, "payload");
	cJSON_AddStringToObject(payload, "app", d->app);
	cJSON_AddStringToObject(payload, "tool", "prenv");
	cJSON_AddStringToObject(o, "environment", d->environment);
	add_capped(o, "description", desc.ptr, 140);
	cJSON_AddBoolToObject(o, "transient_environment", d->transient);
	cJSON_AddBoolToObject(o, "production_environment", d->production);
	if ((rc = post_json(h, url.ptr, o, &resp, err)) < 0)
		goto done;
	if (!(ans = parse_body(&resp, "creating the deployment", err))) {
		rc = err->code;
		goto done;
	}
	if (!(h->deployment_id = json_id(ans, "id"))) {
		rc = prenv_err_set(err, PRENV_EFAIL, "creating the deployment: HTTP %ld without a deployment id%s%s",
				   resp.status, json_str(ans, "message") ? ": " : "",
				   json_str(ans, "message") ? json_str(ans, "message") : "");
		goto done;
	}
	log_verbose("%s: created deployment %lld for environment %s", h->desc, h->deployment_id,
		    d->environment);
done:
	cJSON_Delete(o);
	cJSON_Delete(ans);
	http_response_free(&resp);
	prenv_buf_free(&url);
	prenv_buf_free(&desc);
	return rc;
}

static int post_status(struct codehost *h, long long id, const char *state,
		       const struct codehost_deploy *d, const char *description,
		       struct prenv_err *err)
{
	struct prenv_buf url = PRENV_BUF_INIT;
	struct http_response resp = HTTP_RESPONSE_INIT;
	cJSON *o = cJSON_CreateObject();
	int rc;

	prenv_buf_printf(&url, "%s%s/deployments/%lld/statuses", h->api, h->repo, id);
	if (!o || url.failed) {
		rc = oom(err);
		goto done;
	}
	cJSON_AddStringToObject(o, "state", state);
	if (d->log_url)
		cJSON_AddStringToObject(o, "log_url", d->log_url);
	if (d->url && strcmp(state, "inactive"))
		cJSON_AddStringToObject(o, "environment_url", d->url);
	if (description && *description)
		add_capped(o, "description", description, 140);
	if (!strcmp(state, "success"))
		cJSON_AddBoolToObject(o, "auto_inactive", 1);
	rc = post_json(h, url.ptr, o, &resp, err);
	if (rc == 0)
		log_verbose("%s: deployment %lld is %s", h->desc, id, state);
done:
	cJSON_Delete(o);
	http_response_free(&resp);
	prenv_buf_free(&url);
	return rc;
}

/* destroyed: inactive for every deployment of the environment made for this
 * app (payload.app) whose latest status is not inactive already. */
static int deactivate_all(struct codehost *h, const struct codehost_deploy *d,
			  struct prenv_err *err)
{
	struct prenv_buf url = PRENV_BUF_INIT;
	struct http_response resp = HTTP_RESPONSE_INIT;
	cJSON *arr = NULL, *st = NULL;
	const cJSON *it;
	int rc, n = 0;

	prenv_buf_printf(&url, "%s%s/deployments?environment=", h->api, h->repo);
	http_url_escape(&url, d->environment);
	prenv_buf_adds(&url, "&per_page=100");
	if (url.failed) {
		rc = oom(err);
		goto done;
	}
	if ((rc = ch_do(h, "GET", url.ptr, NULL, &resp, err)) < 0)
		goto done;
	if (!(arr = parse_body(&resp, "listing the deployments", err)) || !cJSON_IsArray(arr)) {
		rc = prenv_err_set(err, PRENV_EFAIL, "listing the deployments: expected a JSON array");
		goto done;
	}
	cJSON_ArrayForEach(it, arr) {
		const cJSON *payload = cJSON_GetObjectItemCaseSensitive(it, "payload");
		const char *papp = json_str(payload, "app");
		long long id = json_id(it, "id");
		const char *state;

		if (!id || (papp && d->app && strcmp(papp, d->app)))
			continue; /* another app's deployment in the same environment */
		prenv_buf_reset(&url);
		prenv_buf_printf(&url, "%s%s/deployments/%lld/statuses?per_page=1", h->api, h->repo, id);
		if (url.failed) {
			rc = oom(err);
			goto done;
		}
		if ((rc = ch_do(h, "GET", url.ptr, NULL, &resp, err)) < 0)
			goto done;
		cJSON_Delete(st);
		st = cJSON_ParseWithLength(resp.body.ptr, resp.body.len);
		state = json_str(cJSON_GetArrayItem(st, 0), "state");
		if (state && !strcmp(state, "inactive"))
			continue;
		if ((rc = post_status(h, id, "inactive", d, "environment destroyed by prenv", err)) < 0)
			goto done;
		n++;
	}
	log_verbose("%s: %d deployment(s) of %s marked inactive", h->desc, n, d->environment);
done:
	cJSON_Delete(arr);
	cJSON_Delete(st);
	http_response_free(&resp);
	prenv_buf_free(&url);
	return rc;
}

int codehost_deployment(struct codehost *h, const struct codehost_deploy *d,
			struct prenv_err *err)
{
	const char *st = d->status;

	if (h->kind != CODEHOST_GITHUB)
		return 0;
	if (!d->environment || !d->app)
		return prenv_err_set(err, PRENV_EFAIL, "deployment status: no environment name");
	if (streq(st, "destroyed"))
		return deactivate_all(h, d, err);
	if (!d->sha)
		return prenv_err_set(err, PRENV_EFAIL, "deployment status: the commit is unknown");
	if (!h->deployment_id) {
		int rc = create_deployment(h, d, err);

		if (rc < 0)
			return rc;
	}
	if (streq(st, "deploying"))
		return post_status(h, h->deployment_id, "in_progress", d, "deploying", err);
	if (streq(st, "ready"))
		return post_status(h, h->deployment_id, "success", d, "ready", err);
	if (streq(st, "failed"))
		return post_status(h, h->deployment_id, "failure", d,
				   d->reason && *d->reason ? d->reason : "failed", err);
	return prenv_err_set(err, PRENV_EFAIL, "deployment status: unknown status '%s'", st ? st : "");
}

int codehost_pr_state(struct codehost *h, long number, char **state, struct prenv_err *err)
{
	struct prenv_buf url = PRENV_BUF_INIT;
	struct http_response resp = HTTP_RESPONSE_INIT;
	cJSON *o = NULL;
	const char *st, *out = NULL;
	int rc;

	*state = NULL;
	if (number <= 0)
		return prenv_err_set(err, PRENV_EFAIL, "pull request number %ld is not valid", number);
	if (h->kind == CODEHOST_GITHUB)
		prenv_buf_printf(&url, "%s%s/pulls/%ld", h->api, h->repo, number);
	else
		prenv_buf_printf(&url, "%s%s/merge_requests/%ld", h->api, h->repo, number);
	if (url.failed) {
		rc = oom(err);
		goto done;
	}
	if ((rc = ch_do(h, "GET", url.ptr, NULL, &resp, err)) < 0) {
		prenv_err_prefix(err, "reading %s #%ld", h->kind == CODEHOST_GITHUB ? "pull request"
				 : "merge request", number);
		goto done;
	}
	if (!(o = parse_body(&resp, "reading the pull request", err))) {
		rc = err->code;
		goto done;
	}
	st = json_str(o, "state");
	if (h->kind == CODEHOST_GITHUB) {
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "merged")) || json_str(o, "merged_at"))
			out = "merged";
		else if (streq(st, "closed"))
			out = "closed";
		else if (streq(st, "open"))
			out = "open";
	} else {
		if (streq(st, "merged"))
			out = "merged";
		else if (streq(st, "closed"))
			out = "closed";
		else if (streq(st, "opened") || streq(st, "locked"))
			out = "open";
	}
	if (!out) {
		rc = prenv_err_set(err, PRENV_EFAIL, "reading #%ld: unknown state '%s' in the answer",
				   number, st ? st : "(none)");
		goto done;
	}
	if (!(*state = strdup(out)))
		rc = oom(err);
done:
	cJSON_Delete(o);
	http_response_free(&resp);
	prenv_buf_free(&url);
	return rc;
}
