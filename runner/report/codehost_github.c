/* codehost_github.c - what is GitHub's own in a code-host session: issue
 * comments and their authors, Link pagination, finding a fork's pull
 * request, and the Deployments API; see codehost_int.h and codehost.h. */
#include "report/codehost_int.h"

#include <stdlib.h>
#include <strings.h>

#include "context/ci.h"
#include "context/tokens.h"
#include "util/buf.h"
#include "util/log.h"

/* ---- the host ---- */

static int github_repo_path(struct prenv_buf *b, const struct prenv_context *ctx)
{
	const char *owner = ctx->repo_owner, *name = ctx->repo_name;
	const char *full = ctx->repo_full_name, *slash;
	char *own = NULL;

	if ((!owner || !name) && full && (slash = strrchr(full, '/')) && slash != full && slash[1]) {
		own = strndup(full, (size_t)(slash - full));
		owner = own;
		name = slash + 1;
	}
	if (!owner || !name) {
		free(own);
		return -1;
	}
	prenv_buf_adds(b, "/repos/");
	http_url_escape(b, owner);
	prenv_buf_addc(b, '/');
	http_url_escape(b, name);
	free(own);
	return 0;
}

static int github_url_comment(struct codehost *h, struct prenv_buf *u, long long id)
{
	return prenv_buf_printf(u, "%s%s/issues/comments/%lld", h->api, h->repo, id);
}

/* The issue number at the end of a comment's issue_url. */
static int github_on_pr(struct codehost *h, const cJSON *o)
{
	const char *iu = ch_json_str(o, "issue_url");
	const char *slash;

	if (!iu || !(slash = strrchr(iu, '/')))
		return 0;
	return strtol(slash + 1, NULL, 10) == h->pr && slash - iu >= 7 &&
	       !strncmp(slash - 7, "/issues", 7);
}

static const char *github_author(const cJSON *o, struct ch_comment *c)
{
	const cJSON *who = cJSON_GetObjectItemCaseSensitive(o, "user");
	const char *type = ch_json_str(who, "type");
	const char *assoc = ch_json_str(o, "author_association");

	/* The marker, not the author, identifies prenv's comment (tokens
	 * change between runs), but only an author who could have run prenv
	 * counts: a bot (the Actions token, an app), or the repository's
	 * owner, members and collaborators (a personal token). A drive-by
	 * commenter's marker is ignored, so nobody can plant a comment for
	 * prenv to adopt. */
	c->untrusted = !(type && !strcmp(type, "Bot")) &&
		       !(assoc && (!strcmp(assoc, "OWNER") || !strcmp(assoc, "MEMBER") ||
				   !strcmp(assoc, "COLLABORATOR")));
	return ch_json_str(who, "login");
}

/* The URL of the rel="next" link of a Link header, checked to be on the
 * API's own origin (the token goes only there). */
static int next_link(struct codehost *h, const char *link, struct prenv_buf *out)
{
	const char *p = link, *lt, *gt, *nxt; /* link NULL: no next page */
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

static int github_next_page(struct codehost *h, const struct http_response *resp,
			    const char *first, struct prenv_buf *url, struct prenv_err *err)
{
	int k = next_link(h, http_response_header(resp, "link"), url);

	(void)first;
	if (k < 0)
		return prenv_err_set(err, PRENV_EFAIL,
				     "listing the comments: the next-page link does not point at %s",
				     h->origin);
	return k;
}

static const char *github_head_sha(const cJSON *pr)
{
	return ch_json_str(cJSON_GetObjectItemCaseSensitive(pr, "head"), "sha");
}

static const char *github_pr_state(const cJSON *pr)
{
	const char *st = ch_json_str(pr, "state");

	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pr, "merged")) || ch_json_str(pr, "merged_at"))
		return "merged";
	if (ch_streq(st, "closed"))
		return "closed";
	if (ch_streq(st, "open"))
		return "open";
	return NULL;
}

static const char *const github_headers[] = {
	"Accept: application/vnd.github+json",
	"X-GitHub-Api-Version: 2022-11-28",
	"Content-Type: application/json", NULL,
};

const struct codehost_host codehost_github_host = {
	.kind = CODEHOST_GITHUB,
	.id = "github",
	.name = "GitHub",
	.pr_noun = "pull request",
	.headers = github_headers,
	.api_var = "GITHUB_API_URL",
	.public_server = "https://github.com",
	.public_api = "https://api.github.com",
	.token_use = TOKEN_FOR_GITHUB_API,
	.no_token_why = "no token: set PRENV_GITHUB_TOKEN or GITHUB_TOKEN (in GitHub Actions: "
		"env: GITHUB_TOKEN: ${{ github.token }} with permissions pull-requests: write "
		"and deployments: write)",
	.bot_ci = "GITHUB_ACTIONS",
	.own_token_var = "PRENV_GITHUB_TOKEN",
	.bot_identity = "github-actions[bot]",
	.identity_key = "login",
	.repo_path = github_repo_path,
	.no_repo_why = "the repository is unknown: set PRENV_REPO=owner/name",
	.thread_fmt = "/issues/%ld",
	.pr_fmt = "/pulls/%ld",
	.comments = "/comments?per_page=100",
	.update_method = "PATCH",
	.url_comment = github_url_comment,
	.on_pr = github_on_pr,
	.author = github_author,
	.next_page = github_next_page,
	.head_sha = github_head_sha,
	.pr_state = github_pr_state,
};

/* ---- a fork's pull request (workflow_run) ---- */

/* The open pull request in list whose head is ctx->sha from the fork
 * ctx->head_repo_full_name, or NULL. */
static const cJSON *find_fork_pr(const cJSON *list, const struct prenv_context *ctx)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, list) {
		const cJSON *hd = cJSON_GetObjectItemCaseSensitive(it, "head");
		const char *sha = ch_json_str(hd, "sha");
		const char *full = ch_json_str(cJSON_GetObjectItemCaseSensitive(hd, "repo"), "full_name");

		/* The exact commit of the run, from the fork that ran it. */
		if (sha && full && !strcasecmp(sha, ctx->sha) &&
		    !strcmp(full, ctx->head_repo_full_name))
			return it;
	}
	return NULL;
}

/* Fills ctx's PR fields from pr and points the session at it. */
static int adopt_pr(struct codehost *h, struct prenv_context *ctx, const cJSON *pr,
		    struct prenv_err *err)
{
	struct prenv_buf path = PRENV_BUF_INIT;

	ctx->has_pr = 1;
	ctx->pr_number = (long)ch_json_id(pr, "number");
	if (prenv_set_str(&ctx->pr_title, ch_json_str(pr, "title")) < 0 ||
	    prenv_set_str(&ctx->pr_author, ch_json_str(cJSON_GetObjectItemCaseSensitive(pr, "user"), "login")) < 0 ||
	    prenv_set_str(&ctx->pr_url, ch_json_str(pr, "html_url")) < 0 ||
	    prenv_set_str(&ctx->pr_state, "open") < 0)
		return ch_oom(err);
	h->has_pr = 1;
	h->pr = ctx->pr_number;
	free(h->pr_path);
	prenv_buf_printf(&path, h->host->thread_fmt, h->pr);
	if (!(h->pr_path = prenv_buf_detach(&path, NULL)))
		return ch_oom(err);
	return 0;
}

int codehost_resolve_pr(struct codehost *h, struct prenv_context *ctx,
			struct prenv_err *err)
{
	struct prenv_buf url = PRENV_BUF_INIT, head = PRENV_BUF_INIT;
	struct http_response resp = HTTP_RESPONSE_INIT;
	const char *slash;
	const cJSON *pr;
	cJSON *list = NULL;
	int rc;

	if (h->host->kind != CODEHOST_GITHUB || !ctx->head_repo_full_name || !ctx->branch || !ctx->sha)
		return prenv_err_set(err, PRENV_ENOTFOUND,
				     "cannot look the pull request up: %s",
				     h->host->kind != CODEHOST_GITHUB ? "only GitHub runs workflow_run"
				     : "the event names no head repository, branch and sha");
	slash = strchr(ctx->head_repo_full_name, '/');
	prenv_buf_add(&head, ctx->head_repo_full_name,
		      slash ? (size_t)(slash - ctx->head_repo_full_name) : strlen(ctx->head_repo_full_name));
	prenv_buf_printf(&head, ":%s", ctx->branch);
	prenv_buf_printf(&url, "%s%s/pulls?state=open&per_page=100&head=", h->api, h->repo);
	http_url_escape(&url, head.ptr);
	if (head.failed) {
		rc = ch_oom(err);
		goto done;
	}
	if ((rc = ch_get_json(h, &url, "looking the pull request up", &resp, &list, err)) < 0)
		goto done;
	pr = find_fork_pr(list, ctx);
	if (!pr || ch_json_id(pr, "number") <= 0) {
		rc = prenv_err_set(err, PRENV_ENOTFOUND,
				   "no open pull request has %s at %.12s as its head", head.ptr, ctx->sha);
		goto done;
	}
	rc = adopt_pr(h, ctx, pr, err);
done:
	cJSON_Delete(list);
	http_response_free(&resp);
	prenv_buf_free(&url);
	prenv_buf_free(&head);
	return rc;
}

/* ---- deployments ---- */

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
		return ch_oom(err);
	rc = ch_do(h, "POST", url, s, resp, err);
	free(s);
	return rc;
}

/* The body of POST /deployments. */
static void deployment_json(cJSON *o, const struct codehost_deploy *d, const char *desc)
{
	cJSON *payload;

	cJSON_AddStringToObject(o, "ref", d->sha);
	cJSON_AddStringToObject(o, "task", "deploy");
	cJSON_AddBoolToObject(o, "auto_merge", 0);
	cJSON_AddItemToObject(o, "required_contexts", cJSON_CreateArray());
	payload = cJSON_AddObjectToObject(o, "payload");
	cJSON_AddStringToObject(payload, "app", d->app);
	cJSON_AddStringToObject(payload, "tool", "prenv");
	cJSON_AddStringToObject(o, "environment", d->environment);
	add_capped(o, "description", desc, 140);
	cJSON_AddBoolToObject(o, "transient_environment", d->transient);
	cJSON_AddBoolToObject(o, "production_environment", d->production);
}

static int create_deployment(struct codehost *h, const struct codehost_deploy *d,
			     struct prenv_err *err)
{
	struct prenv_buf url = PRENV_BUF_INIT, desc = PRENV_BUF_INIT;
	struct http_response resp = HTTP_RESPONSE_INIT;
	cJSON *o = cJSON_CreateObject(), *ans = NULL;
	int rc;

	prenv_buf_printf(&url, "%s%s/deployments", h->api, h->repo);
	prenv_buf_printf(&desc, "prenv: %s environment %s of %s",
			 d->production ? "production" : d->transient ? "preview" : "the",
			 d->environment, d->app);
	if (!o || url.failed || desc.failed) {
		rc = ch_oom(err);
		goto done;
	}
	deployment_json(o, d, desc.ptr);
	if ((rc = post_json(h, url.ptr, o, &resp, err)) < 0)
		goto done;
	if (!(ans = ch_parse_body(&resp, "creating the deployment", err))) {
		rc = err->code;
		goto done;
	}
	if (!(h->deployment_id = ch_json_id(ans, "id"))) {
		rc = prenv_err_set(err, PRENV_EFAIL, "creating the deployment: HTTP %ld without a deployment id%s%s",
				   resp.status, ch_json_str(ans, "message") ? ": " : "",
				   ch_json_str(ans, "message") ? ch_json_str(ans, "message") : "");
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
		rc = ch_oom(err);
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

/* Deployment id's latest status is inactive already. url and resp are the
 * caller's scratch. 1 yes, 0 no, negative PRENV_E*. */
static int deployment_inactive(struct codehost *h, long long id, struct prenv_buf *url,
			       struct http_response *resp, struct prenv_err *err)
{
	cJSON *st;
	const char *state;
	int rc;

	prenv_buf_reset(url);
	prenv_buf_printf(url, "%s%s/deployments/%lld/statuses?per_page=1", h->api, h->repo, id);
	if (url->failed)
		return ch_oom(err);
	if ((rc = ch_do(h, "GET", url->ptr, NULL, resp, err)) < 0)
		return rc;
	st = cJSON_ParseWithLength(resp->body.ptr, resp->body.len);
	state = ch_json_str(cJSON_GetArrayItem(st, 0), "state");
	rc = state && !strcmp(state, "inactive");
	cJSON_Delete(st);
	return rc;
}

/* 1 when deployment o is prenv's for app: its payload says tool "prenv"
 * and app (another tool's, or another app's, is never touched). */
static int prenv_deployment(const cJSON *o, const char *app)
{
	const cJSON *payload = cJSON_GetObjectItemCaseSensitive(o, "payload");

	return ch_streq(ch_json_str(payload, "tool"), "prenv") &&
	       ch_streq(ch_json_str(payload, "app"), app);
}

/* What destroy found in the environment's deployment list: marked
 * inactive now, prenv's for this app (any state), anyone else's. */
struct env_census {
	int marked, ours, others;
};

/* One page of deployments (arr): inactive for each of prenv's for d->app
 * whose latest status is not inactive already; counted in *c. */
static int deactivate_page(struct codehost *h, const struct codehost_deploy *d,
			   const cJSON *arr, struct env_census *c, struct prenv_err *err)
{
	struct prenv_buf url = PRENV_BUF_INIT;
	struct http_response resp = HTTP_RESPONSE_INIT;
	const cJSON *it;
	int rc = 0;

	cJSON_ArrayForEach(it, arr) {
		long long id = ch_json_id(it, "id");

		if (!id || !prenv_deployment(it, d->app)) {
			c->others++;
			continue;
		}
		c->ours++;
		if ((rc = deployment_inactive(h, id, &url, &resp, err)) < 0)
			break;
		if (rc == 1) {
			rc = 0;
			continue;
		}
		if ((rc = post_status(h, id, "inactive", d, "environment destroyed by prenv", err)) < 0)
			break;
		c->marked++;
	}
	http_response_free(&resp);
	prenv_buf_free(&url);
	return rc;
}

/* A preview's GitHub Environment (Settings -> Environments), which GitHub
 * made for its first deployment and which would stay after the preview is
 * gone. DELETE needs administration: write, which the Actions GITHUB_TOKEN
 * never has: without it one line says how, and that is not a failure; nor
 * is an environment someone deleted first. */
static void delete_environment(struct codehost *h, const char *name)
{
	struct prenv_buf url = PRENV_BUF_INIT;
	struct http_response resp = HTTP_RESPONSE_INIT;
	struct prenv_err derr = PRENV_ERR_INIT;
	int rc;

	prenv_buf_printf(&url, "%s%s/environments/", h->api, h->repo);
	http_url_escape(&url, name);
	if (url.failed)
		rc = ch_oom(&derr);
	else
		rc = ch_do(h, "DELETE", url.ptr, NULL, &resp, &derr);
	if (rc == 0)
		log_info("deleted the GitHub environment %s (Settings > Environments)", name);
	else if (rc == PRENV_ENOTFOUND)
		log_verbose("%s: the GitHub environment %s is gone already", h->desc, name);
	else if (rc == PRENV_EAUTH)
		log_info("the GitHub environment %s stays: deleting it needs a token with administration: write "
			 "in PRENV_GITHUB_TOKEN (the Actions GITHUB_TOKEN never has it), or delete it under "
			 "Settings > Environments", name);
	else
		log_warn("the GitHub environment %s was not deleted: %s", name, derr.msg);
	prenv_err_clear(&derr);
	http_response_free(&resp);
	prenv_buf_free(&url);
}

/* destroyed: inactive for every one of prenv's deployments of the
 * environment for this app, on every page of the list (Link rel="next",
 * which must stay on the API's origin); then a preview's GitHub
 * Environment is deleted when only prenv's deployments were in it. */
static int deactivate_all(struct codehost *h, const struct codehost_deploy *d,
			  struct prenv_err *err)
{
	struct prenv_buf url = PRENV_BUF_INIT;
	struct http_response resp = HTTP_RESPONSE_INIT;
	struct env_census c = { 0, 0, 0 };
	cJSON *arr = NULL;
	int rc = 0, pages = 0;

	prenv_buf_printf(&url, "%s%s/deployments?environment=", h->api, h->repo);
	http_url_escape(&url, d->environment);
	prenv_buf_adds(&url, "&per_page=100");
	while (rc == 0 && url.len) {
		if (url.failed) {
			rc = ch_oom(err);
			break;
		}
		if (++pages > MAX_PAGES) {
			rc = prenv_err_set(err, PRENV_EFAIL, "more than %d pages of deployments of %s; giving up",
					   MAX_PAGES, d->environment);
			break;
		}
		cJSON_Delete(arr);
		arr = NULL;
		if ((rc = ch_get_json(h, &url, "listing the deployments", &resp, &arr, err)) < 0)
			break;
		if (!cJSON_IsArray(arr)) {
			rc = prenv_err_set(err, PRENV_EFAIL, "listing the deployments: expected a JSON array");
			break;
		}
		prenv_buf_reset(&url);
		if ((rc = next_link(h, http_response_header(&resp, "link"), &url)) < 0) {
			rc = prenv_err_set(err, PRENV_EFAIL, "listing the deployments: the next-page link "
					   "does not point at %s", h->origin);
			break;
		}
		rc = deactivate_page(h, d, arr, &c, err);
	}
	if (rc == 0)
		log_verbose("%s: %d deployment(s) of %s marked inactive (%d page(s))", h->desc, c.marked,
			    d->environment, pages);
	/* Only a preview's, only when prenv deployed there, and only when
	 * nothing else did: an environment holding other deployments may carry
	 * settings (protection rules, secrets) someone made. */
	if (rc == 0 && d->transient && c.ours && c.others)
		log_info("the GitHub environment %s stays: it holds deployments of other tools or apps",
			 d->environment);
	else if (rc == 0 && d->transient && c.ours)
		delete_environment(h, d->environment);
	cJSON_Delete(arr);
	http_response_free(&resp);
	prenv_buf_free(&url);
	return rc;
}

int codehost_deployment(struct codehost *h, const struct codehost_deploy *d,
			struct prenv_err *err)
{
	const char *st = d->status;

	if (h->host->kind != CODEHOST_GITHUB)
		return 0;
	if (!d->environment || !d->app)
		return prenv_err_set(err, PRENV_EFAIL, "deployment status: no environment name");
	if (ch_streq(st, "destroyed"))
		return deactivate_all(h, d, err);
	if (!d->sha)
		return prenv_err_set(err, PRENV_EFAIL, "deployment status: the commit is unknown");
	if (!h->deployment_id) {
		int rc = create_deployment(h, d, err);

		if (rc < 0)
			return rc;
	}
	if (ch_streq(st, "deploying"))
		return post_status(h, h->deployment_id, "in_progress", d, "deploying", err);
	if (ch_streq(st, "ready"))
		return post_status(h, h->deployment_id, "success", d, "ready", err);
	if (ch_streq(st, "applied"))
		return post_status(h, h->deployment_id, "success", d, "applied (not waited for)", err);
	if (ch_streq(st, "failed"))
		return post_status(h, h->deployment_id, "failure", d,
				   d->reason && *d->reason ? d->reason : "failed", err);
	return prenv_err_set(err, PRENV_EFAIL, "deployment status: unknown status '%s'", st ? st : "");
}
