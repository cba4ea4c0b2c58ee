/* codehost.c - the code-host session and the comment rules (find, create,
 * update, de-duplicate), the same on every host; see codehost.h. What
 * differs between GitHub and GitLab is in codehost_github.c and
 * codehost_gitlab.c (codehost_int.h). */
#include "report/codehost_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>

#include "context/ci.h"
#include "context/tokens.h"
#include "util/buf.h"
#include "util/log.h"

#define MAX_ID 9007199254740991LL /* 2^53 - 1: exact in a JSON number */

struct ch_list {
	struct ch_comment *v;
	size_t n, cap;
	size_t seen;         /* every comment read, marked or not */
	int pages;
};

static const struct codehost_host *const hosts[] = {
	&codehost_github_host, &codehost_gitlab_host,
};

/* ---- small helpers ---- */

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

int ch_oom(struct prenv_err *err)
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

/* GitHub's ids are past 2^31. */
long long ch_json_id(const cJSON *o, const char *name)
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

const char *ch_json_str(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

cJSON *ch_parse_body(const struct http_response *resp, const char *what,
		     struct prenv_err *err)
{
	cJSON *j = cJSON_ParseWithLength(resp->body.ptr, resp->body.len);

	if (!j)
		prenv_err_set(err, PRENV_EFAIL, "%s: the answer is not JSON (HTTP %ld)",
			      what, resp->status);
	return j;
}

/* Sleeps ms (scaled like http.c: the delay hook, or PRENV_HTTP_SLEEP_SCALE). */
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

int ch_do(struct codehost *h, const char *method, const char *url,
	  const char *body, struct http_response *resp, struct prenv_err *err)
{
	struct http_request rq;

	http_response_free(resp);
	memset(&rq, 0, sizeof(rq));
	rq.method = method;
	rq.url = url;
	rq.headers = h->host->headers;
	rq.body = body;
	rq.body_len = body ? strlen(body) : 0;
	rq.bearer_token = h->token;
	/* Setting a comment's body again to the same text is harmless: an edit
	 * (PATCH on GitHub) may be retried like a PUT. */
	if (!strcmp(method, "PATCH") && strstr(url, "/issues/comments/"))
		rq.idempotent = HTTP_IDEMPOTENT_YES;
	return http_do(h->http, &rq, resp, err);
}

int ch_get_json(struct codehost *h, const struct prenv_buf *url, const char *what,
		struct http_response *resp, cJSON **out, struct prenv_err *err)
{
	int rc;

	*out = NULL;
	if (url->failed)
		return ch_oom(err);
	if ((rc = ch_do(h, "GET", url->ptr, NULL, resp, err)) < 0)
		return rc;
	if (!(*out = ch_parse_body(resp, what, err)))
		return err->code ? err->code : PRENV_EFAIL;
	return 0;
}

/* {"body": text}, the request body of every comment write. */
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
	return prenv_buf_printf(u, "%s%s%s%s", h->api, h->repo, h->pr_path, h->host->comments);
}

/* Fills c from an API comment/note object. Returns 0 or -1 (not a comment). */
static int comment_from_json(struct codehost *h, const cJSON *o, struct ch_comment *c)
{
	const char *body = ch_json_str(o, "body"), *login;

	memset(c, 0, sizeof(*c));
	if (!cJSON_IsObject(o) || !(c->id = ch_json_id(o, "id")) || !body)
		return -1;
	login = h->host->author(o, c);
	c->body = strdup(body);
	c->author = prenv_strdup(login);
	if (!c->body || (login && !c->author)) {
		comment_clear(c);
		return -1;
	}
	return 0;
}

/* The token's identity, found once: /user (GitHub user tokens, GitLab), or
 * the CI's bot for its own token (the Actions GITHUB_TOKEN, whose /user
 * answers 403). */
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
	    (login = ch_json_str(o, h->host->identity_key)))
		h->identity = strdup(login);
	if (!h->identity && h->bot_token)
		h->identity = strdup(h->host->bot_identity);
	log_verbose("%s: the token's identity is %s", h->desc,
		    h->identity ? h->identity : "unknown (duplicates will be left alone)");
	cJSON_Delete(o);
	prenv_err_clear(&e);
	http_response_free(&resp);
	prenv_buf_free(&url);
	return h->identity;
}

/* 1 when the marked comment c may hold this environment's report: not a
 * system note; written by someone who could have run prenv (GitHub: a bot,
 * the repository's owner, members, collaborators), or, where only a
 * comment's author may edit it (GitLab), by the token's identity; and in
 * any case when its author is the token's identity (a private organisation
 * member shows as CONTRIBUTOR). A planted look-alike is never adopted. */
static int adoptable(struct codehost *h, const struct ch_comment *c)
{
	const char *me;

	if (c->system)
		return 0;
	if (!c->untrusted && !h->host->own_comments_only)
		return 1;
	if ((me = ensure_identity(h)) && ch_streq(c->author, me))
		return 1;
	log_verbose("%s: comment %lld by %s carries this environment's marker but was not written "
		    "by this token's identity (%s); leaving it alone", h->desc, c->id,
		    c->author ? c->author : "?", me ? me : "unknown");
	return 0;
}

/* Adds the comments of one page (a JSON array) that start with marker and
 * may be adopted. */
static int collect_marked(struct codehost *h, const cJSON *arr, const char *marker,
			  struct ch_list *out, struct prenv_err *err)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, arr) {
		struct ch_comment c;

		out->seen++;
		if (comment_from_json(h, it, &c) < 0)
			continue;
		if (codehost_marker_matches(c.body, marker) && adoptable(h, &c) &&
		    list_push(out, &c) < 0) {
			comment_clear(&c);
			return ch_oom(err);
		}
		comment_clear(&c);
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
	for (;;) {
		if (url.failed) {
			rc = ch_oom(err);
			goto done;
		}
		if (++out->pages > MAX_PAGES) {
			rc = prenv_err_set(err, PRENV_EFAIL, "more than %d pages of comments on %s; giving up",
					   MAX_PAGES, h->pr_path);
			goto done;
		}
		if ((rc = ch_do(h, "GET", url.ptr, NULL, &resp, err)) < 0)
			goto done;
		cJSON_Delete(arr);
		if (!(arr = ch_parse_body(&resp, "listing the comments", err))) {
			rc = err->code;
			goto done;
		}
		if (!cJSON_IsArray(arr)) {
			rc = prenv_err_set(err, PRENV_EFAIL, "listing the comments: expected a JSON array");
			goto done;
		}
		if ((rc = collect_marked(h, arr, marker, out, err)) < 0)
			goto done;
		prenv_buf_reset(&url);
		if ((rc = h->host->next_page(h, &resp, first.ptr, &url, err)) < 0)
			goto done;
		if (rc == 0)
			break;
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

/* GET one comment by id. PRENV_ENOTFOUND when gone or not on this PR. */
static int get_comment(struct codehost *h, long long id, struct ch_comment *out,
		       struct prenv_err *err)
{
	struct prenv_buf url = PRENV_BUF_INIT;
	struct http_response resp = HTTP_RESPONSE_INIT;
	cJSON *o = NULL;
	int rc;

	h->host->url_comment(h, &url, id);
	if ((rc = ch_get_json(h, &url, "reading the comment", &resp, &o, err)) < 0)
		goto done;
	if ((h->host->on_pr && !h->host->on_pr(h, o)) || comment_from_json(h, o, out) < 0) {
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
		h->host->url_comment(h, &url, id);
	else
		url_comments(h, &url);
	if (!json || url.failed) {
		rc = ch_oom(err);
		goto done;
	}
	if (!id) /* the list query is not part of the create URL */
		prenv_buf_truncate(&url, (size_t)(strchr(url.ptr, '?') - url.ptr));
	rc = ch_do(h, id ? h->host->update_method : "POST", url.ptr, json, &resp, err);
	if (status_out)
		*status_out = resp.status;
	if (retry_after)
		*retry_after = resp.retry_after_ms;
	if (rc < 0)
		goto done;
	if (!(o = ch_parse_body(&resp, id ? "updating the comment" : "creating the comment", err))) {
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

	h->host->url_comment(h, &url, id);
	if (url.failed)
		return ch_oom(err);
	rc = ch_do(h, "DELETE", url.ptr, NULL, &resp, err);
	if (rc == PRENV_ENOTFOUND) { /* the other job deleted it first */
		prenv_err_clear(err);
		rc = 0;
	}
	http_response_free(&resp);
	prenv_buf_free(&url);
	return rc;
}

/* GET pull request (merge request) number into *out (caller frees). named:
 * a failed request's message says which one. */
static int get_pr(struct codehost *h, long number, int named, cJSON **out,
		  struct prenv_err *err)
{
	struct prenv_buf url = PRENV_BUF_INIT;
	struct http_response resp = HTTP_RESPONSE_INIT;
	int rc;

	*out = NULL;
	prenv_buf_printf(&url, "%s%s", h->api, h->repo);
	prenv_buf_printf(&url, h->host->pr_fmt, number);
	if (url.failed)
		rc = ch_oom(err);
	else if ((rc = ch_do(h, "GET", url.ptr, NULL, &resp, err)) < 0) {
		if (named)
			prenv_err_prefix(err, "reading %s #%ld", h->host->pr_noun, number);
	} else if (!(*out = ch_parse_body(&resp, "reading the pull request", err))) {
		rc = err->code ? err->code : PRENV_EFAIL;
	}
	http_response_free(&resp);
	prenv_buf_free(&url);
	return rc;
}

/* The PR's (MR's) current head sha; *out is the caller's. */
static int head_sha(struct codehost *h, char **out, struct prenv_err *err)
{
	cJSON *o;
	const char *sha;
	int rc;

	*out = NULL;
	if ((rc = get_pr(h, h->pr, 0, &o, err)) < 0)
		return rc;
	if (!(sha = h->host->head_sha(o)))
		rc = prenv_err_set(err, PRENV_EFAIL, "reading the pull request: no head sha in the answer");
	else if (!(*out = strdup(sha)))
		rc = ch_oom(err);
	cJSON_Delete(o);
	return rc;
}

int codehost_pr_state(struct codehost *h, long number, char **state, struct prenv_err *err)
{
	cJSON *o;
	const char *out;
	int rc;

	*state = NULL;
	if (number <= 0)
		return prenv_err_set(err, PRENV_EFAIL, "pull request number %ld is not valid", number);
	if ((rc = get_pr(h, number, 1, &o, err)) < 0)
		return rc;
	if (!(out = h->host->pr_state(o))) {
		const char *st = ch_json_str(o, "state");

		rc = prenv_err_set(err, PRENV_EFAIL, "reading #%ld: unknown state '%s' in the answer",
				   number, st ? st : "(none)");
	} else if (!(*state = strdup(out))) {
		rc = ch_oom(err);
	}
	cJSON_Delete(o);
	return rc;
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

static const struct codehost_host *find_host(const char *id)
{
	size_t i;

	for (i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++)
		if (ch_streq(id, hosts[i]->id))
			return hosts[i];
	return NULL;
}

/* Where and with what a session reports. */
struct ch_where {
	const struct codehost_host *host;
	const char *api;
	struct token_pick tok;
};

/* The token for w->api (context/tokens.h: only one that belongs to the
 * API's host, never over plain http but to loopback). 1, or 0 with why. */
static int pick_token(const struct codehost_opts *o, struct ch_where *w,
		      struct prenv_buf *why, int *auth)
{
	const struct codehost_host *hd = w->host;
	struct prenv_buf refused = PRENV_BUF_INIT;
	int ok = tokens_for_url(o->ctx, o->envp, w->api, hd->token_use, &w->tok, &refused);

	if (!ok && refused.len)
		set_why(why, auth, 1, "no token for %s: %s", w->api, refused.ptr);
	else if (!ok)
		set_why(why, auth, 1, "%s", hd->job_token_var && ci_getenv(o->envp, hd->job_token_var)
			? hd->job_token_why : hd->no_token_why);
	prenv_buf_free(&refused);
	return ok;
}

/* The code host, its API URL and the token for this run. 1 when reporting
 * is possible; 0 with why (and *auth) set when it is not. */
static int locate(const struct codehost_opts *o, struct ch_where *w,
		  struct prenv_buf *why, int *auth)
{
	const struct prenv_context *ctx = o->ctx;
	const char *const *envp = o->envp;
	const char *host = ctx->host;
	const struct codehost_host *hd;

	if (ch_streq(ctx->ci, "local") && !ci_getenv(envp, "PRENV_API_URL")) {
		set_why(why, auth, 0, "this is a local run (no CI detected); set PRENV_API_URL and a token "
			"to report from another CI");
		return 0;
	}
	if (!host && find_host(ctx->ci))
		host = ctx->ci;
	if (!(w->host = hd = find_host(host))) {
		set_why(why, auth, 0, "reporting to %s is not supported (GitHub and GitLab are)",
			host ? host : "an unknown code host");
		return 0;
	}
	if (!(w->api = ctx->api_url))
		w->api = ci_getenv(envp, hd->api_var);
	if (!w->api && hd->public_server && ch_streq(ctx->server_url, hd->public_server))
		w->api = hd->public_api;
	if (!http_url_ok(w->api)) {
		set_why(why, auth, 0, "the %s API URL is unknown: set PRENV_API_URL", hd->name);
		return 0;
	}
	return pick_token(o, w, why, auth);
}

/* PRENV_HTTP_SLEEP_SCALE in [0, 1] (tests), else 1. */
static double sleep_scale(const char *const *envp)
{
	const char *scale = ci_getenv(envp, "PRENV_HTTP_SLEEP_SCALE");
	char *end;
	double d;

	if (!scale)
		return 1.0;
	d = strtod(scale, &end);
	return !*end && d >= 0 && d <= 1 ? d : 1.0;
}

/* The repository, PR and description of the session. 1 with why set when
 * ctx does not name the repository. */
static int session_paths(struct codehost *h, const struct prenv_context *ctx,
			 struct prenv_buf *why, int *auth, struct prenv_err *err)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	int rc = 0;

	if (h->host->repo_path(&b, ctx) < 0) {
		set_why(why, auth, 0, "%s", h->host->no_repo_why);
		rc = 1;
		goto done;
	}
	if (b.failed || !h->origin) {
		rc = ch_oom(err);
		goto done;
	}
	h->repo = prenv_buf_detach(&b, NULL);
	h->has_pr = ctx->has_pr;
	h->pr = ctx->pr_number;
	prenv_buf_printf(&b, h->host->thread_fmt, h->pr);
	h->pr_path = prenv_buf_detach(&b, NULL);
	prenv_buf_printf(&b, "%s (%s)", h->host->name, h->api);
	h->desc = prenv_buf_detach(&b, NULL);
	if (!h->repo || !h->pr_path || !h->desc)
		rc = ch_oom(err);
done:
	prenv_buf_free(&b);
	return rc;
}

/* Fills the new session h for w. 1 with why set when it cannot report. */
static int session_init(struct codehost *h, const struct codehost_opts *o,
			const struct ch_where *w, struct prenv_buf *why, int *auth,
			struct prenv_err *err)
{
	const struct codehost_host *hd = w->host;
	const char *slash;
	int rc;

	h->host = hd;
	h->token = strdup(w->tok.value);
	h->bot_token = hd->bot_ci && ci_getenv(o->envp, hd->bot_ci) &&
		       !ch_streq(w->tok.var, hd->own_token_var);
	h->api = strdup(w->api);
	if (!h->token || !h->api)
		return ch_oom(err);
	log_add_secret(h->token);
	while (*h->api && h->api[strlen(h->api) - 1] == '/')
		h->api[strlen(h->api) - 1] = '\0';
	slash = strchr(strstr(h->api, "://") + 3, '/');
	h->origin = slash ? strndup(h->api, (size_t)(slash - h->api)) : strdup(h->api);
	if ((rc = session_paths(h, o->ctx, why, auth, err)) != 0)
		return rc;
	h->delay_hook = o->http ? o->http->delay_hook : NULL;
	h->delay_ud = o->http ? o->http->delay_ud : NULL;
	h->sleep_scale = sleep_scale(o->envp);
	return http_client_new(&h->http, o->http, err);
}

int codehost_new(struct codehost **out, const struct codehost_opts *o,
		 struct prenv_buf *why, int *auth, struct prenv_err *err)
{
	struct ch_where w;
	struct codehost *h;
	int rc;

	*out = NULL;
	if (auth)
		*auth = 0;
	if (!locate(o, &w, why, auth))
		return 0;
	if (!(h = calloc(1, sizeof(*h))))
		return ch_oom(err);
	if ((rc = session_init(h, o, &w, why, auth, err)) != 0) {
		codehost_free(h);
		return rc > 0 ? 0 : rc;
	}
	*out = h;
	return 0;
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
	return h->host->kind;
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

/* 1 when this run's commit (c->sha) is not the PR's head: then it never
 * replaces what an existing comment shows, whatever commit that is. The
 * head's own runs report; a run for an older commit that wrote after one
 * of them (runs overlap, requests are delayed) would leave the older
 * commit shown for good. When the head cannot be read, 0 (with a warning). */
static int not_the_head(struct codehost *h, const struct codehost_comment *c,
			const struct ch_comment *cur)
{
	struct prenv_err e = PRENV_ERR_INIT;
	char *head = NULL;
	int skip = 0;

	if (head_sha(h, &head, &e) < 0) {
		log_warn("%s: cannot read the head commit of %s (%s); updating the comment anyway",
			 h->desc, h->pr_path + 1, e.msg);
	} else if (strcasecmp(head, c->sha) != 0) {
		log_info("not updating comment %lld: this run is for the older commit %.12s, and the "
			 "head of the %s is %.12s (its run reports)", cur->id, c->sha,
			 h->host->pr_noun, head);
		skip = 1;
	}
	prenv_err_clear(&e);
	free(head);
	return skip;
}

/* Updates the existing comment cur with c->body, unless this run is not
 * for the PR's head commit (destroyed, c->force, always writes). */
static int update_existing(struct codehost *h, const struct codehost_comment *c,
			   const struct ch_comment *cur, struct codehost_comment_result *res,
			   struct prenv_err *err)
{
	struct ch_comment upd;
	int rc;

	memset(&upd, 0, sizeof(upd));
	res->id = cur->id;
	h->comment_id = cur->id;
	if (!strcmp(cur->body, c->body)) {
		res->action = CODEHOST_UNCHANGED;
		return 0;
	}
	if (!c->force && c->sha && not_the_head(h, c, cur)) {
		res->action = CODEHOST_SKIPPED;
		return 0;
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

		if (!me || !ch_streq(d->author, me)) {
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

/* 1. A remembered id (c->known_id, then the one this session wrote): one
 * GET instead of listing every page. 1 with cur filled, 0 when neither is
 * usable, negative PRENV_E*. */
static int get_remembered(struct codehost *h, const struct codehost_comment *c,
			  struct ch_comment *cur, struct prenv_err *err)
{
	long long ids[2];
	size_t i;
	int rc;

	ids[0] = c->known_id;
	ids[1] = h->comment_id != c->known_id ? h->comment_id : 0;
	for (i = 0; i < 2; i++) {
		if (ids[i] <= 0)
			continue;
		rc = get_comment(h, ids[i], cur, err);
		if (rc == 0 && codehost_marker_matches(cur->body, c->marker) && adoptable(h, cur))
			return 1;
		if (rc != 0 && rc != PRENV_ENOTFOUND)
			return rc;
		log_verbose("%s: remembered comment %lld is gone or no longer ours; listing comments",
			    h->desc, ids[i]);
		comment_clear(cur);
		prenv_err_clear(err);
	}
	return 0;
}

/* list holds the marked comments, oldest first: cur takes the oldest, which
 * gets our body; the others are duplicates. */
static int update_oldest(struct codehost *h, const struct codehost_comment *c,
			 struct ch_list *list, struct ch_comment *cur,
			 struct codehost_comment_result *res, struct prenv_err *err)
{
	int rc;

	comment_clear(cur);
	*cur = list->v[0];
	memset(&list->v[0], 0, sizeof(list->v[0]));
	if ((rc = update_existing(h, c, cur, res, err)) < 0 || list->n < 2)
		return rc;
	list->v[0].id = cur->id; /* remove_duplicates() keeps v[0] */
	return remove_duplicates(h, list, res, err);
}

/* 2. None: create. A POST is never sent twice blindly: after one that
 * failed without a clear answer the comments are read again first. 0 with
 * cur created; 1 when the re-read found one (updated, res set); negative
 * PRENV_E*. */
static int create_comment(struct codehost *h, const struct codehost_comment *c,
			  struct ch_list *list, struct ch_comment *cur,
			  struct codehost_comment_result *res, struct prenv_err *err)
{
	long status = 0, retry_after = -1;
	int rc, attempt;

	for (attempt = 0;; attempt++) {
		rc = write_comment(h, 0, c->body, cur, &status, &retry_after, err);
		if (rc == 0)
			return 0;
		if (attempt > 0 || !(ambiguous(status) || rate_limited(status, retry_after)))
			return rc;
		log_warn("%s: creating the comment failed (%s); reading the comments again before "
			 "deciding whether to post again", h->desc, err->msg);
		prenv_err_clear(err);
		if (rate_limited(status, retry_after))
			ch_sleep(h, retry_after > 0 ? retry_after : 1000);
		if ((rc = list_marked(h, c->marker, list, err)) < 0)
			return rc;
		if (list->n) /* it (or another job's) arrived after all */
			return (rc = update_oldest(h, c, list, cur, res, err)) < 0 ? rc : 1;
		if (ambiguous(status))
			ch_sleep(h, 500);
	}
}

/* After creating cur: remember it, then 3. re-read, since another job may
 * have posted at the same moment (and may already have deleted ours). */
static int after_create(struct codehost *h, const struct codehost_comment *c,
			const struct ch_comment *cur, struct ch_list *list,
			struct codehost_comment_result *res, struct prenv_err *err)
{
	struct codehost_comment_result r2;
	struct ch_comment keep;
	int rc;

	res->action = CODEHOST_CREATED;
	res->id = cur->id;
	h->comment_id = cur->id;
	if (!h->identity && cur->author) {
		/* the author of the comment we just wrote is who the token is */
		h->identity = strdup(cur->author);
		h->identity_tried = 1;
	}
	log_verbose("%s: created comment %lld", h->desc, cur->id);
	if ((rc = list_marked(h, c->marker, list, err)) < 0) {
		log_warn("%s: could not re-read the comments after posting (%s); a duplicate from a "
			 "concurrent job would stay", h->desc, err->msg);
		prenv_err_clear(err);
		return 0;
	}
	if (!(list->n > 1 || (list->n == 1 && list->v[0].id != cur->id)))
		return 0;
	log_info("a concurrent job posted a comment for this environment too; keeping the "
		 "oldest, %lld", list->v[0].id);
	if ((rc = remove_duplicates(h, list, res, err)) < 0 || list->v[0].id == cur->id)
		return rc;
	keep = list->v[0];
	memset(&r2, 0, sizeof(r2));
	rc = update_existing(h, c, &keep, &r2, err);
	res->id = r2.id;
	res->action = r2.action == CODEHOST_SKIPPED ? CODEHOST_SKIPPED : CODEHOST_UPDATED;
	return rc;
}

int codehost_upsert_comment(struct codehost *h, const struct codehost_comment *c,
			    struct codehost_comment_result *res, struct prenv_err *err)
{
	struct ch_comment cur;
	struct ch_list list;
	int rc;

	memset(res, 0, sizeof(*res));
	memset(&cur, 0, sizeof(cur));
	memset(&list, 0, sizeof(list));
	if (!h->has_pr)
		return prenv_err_set(err, PRENV_EFAIL, "no pull request to comment on");
	if (!codehost_marker_matches(c->body, c->marker))
		return prenv_err_set(err, PRENV_EFAIL, "the comment body does not start with its marker");
	if ((rc = get_remembered(h, c, &cur, err)) > 0) {
		rc = update_existing(h, c, &cur, res, err);
		goto done;
	}
	if (rc < 0 || (rc = list_marked(h, c->marker, &list, err)) < 0)
		goto done;
	if (list.n) {
		rc = update_oldest(h, c, &list, &cur, res, err);
		goto done;
	}
	rc = create_comment(h, c, &list, &cur, res, err);
	if (rc == 0)
		rc = after_create(h, c, &cur, &list, res, err);
	else if (rc > 0)
		rc = 0;
done:
	comment_clear(&cur);
	list_clear(&list);
	return rc;
}
