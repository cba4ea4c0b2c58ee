/* codehost_gitlab.c - what is GitLab's own in a code-host session: merge
 * request notes, X-Next-Page pagination, project paths; see
 * codehost_int.h. GitLab has no Deployments API call here: the job's
 * environment: keyword and the dotenv report do that. */
#include "report/codehost_int.h"

#include <errno.h>
#include <stdlib.h>

#include "context/ci.h"
#include "context/tokens.h"
#include "util/buf.h"

static int gitlab_repo_path(struct prenv_buf *b, const struct prenv_context *ctx)
{
	const char *pid = ctx->project_id ? ctx->project_id : ctx->repo_full_name;

	if (!pid)
		return -1;
	prenv_buf_adds(b, "/projects/");
	http_url_escape(b, pid); /* group/sub/proj -> group%2Fsub%2Fproj */
	return 0;
}

static int gitlab_url_comment(struct codehost *h, struct prenv_buf *u, long long id)
{
	return prenv_buf_printf(u, "%s%s%s/notes/%lld", h->api, h->repo, h->pr_path, id);
}

static const char *gitlab_author(const cJSON *o, struct ch_comment *c)
{
	c->system = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "system"));
	return ch_json_str(cJSON_GetObjectItemCaseSensitive(o, "author"), "username");
}

static int gitlab_next_page(struct codehost *h, const struct http_response *resp,
			    const char *first, struct prenv_buf *url, struct prenv_err *err)
{
	const char *np = http_response_header(resp, "x-next-page");
	long pg;
	char *end;

	(void)h;
	if (!np || !*np)
		return 0;
	errno = 0;
	pg = strtol(np, &end, 10);
	if (errno || *end || pg < 2 || pg > MAX_PAGES + 1)
		return prenv_err_set(err, PRENV_EFAIL,
				     "listing the notes: X-Next-Page '%s' is not a page number", np);
	prenv_buf_printf(url, "%s&page=%ld", first, pg);
	return 1;
}

static const char *gitlab_head_sha(const cJSON *pr)
{
	return ch_json_str(pr, "sha");
}

static const char *gitlab_pr_state(const cJSON *pr)
{
	const char *st = ch_json_str(pr, "state");

	if (ch_streq(st, "merged"))
		return "merged";
	if (ch_streq(st, "closed"))
		return "closed";
	if (ch_streq(st, "opened") || ch_streq(st, "locked"))
		return "open";
	return NULL;
}

static const char *const gitlab_headers[] = {
	"Accept: application/json", "Content-Type: application/json", NULL,
};

const struct codehost_host codehost_gitlab_host = {
	.kind = CODEHOST_GITLAB,
	.id = "gitlab",
	.name = "GitLab",
	.pr_noun = "merge request",
	.headers = gitlab_headers,
	.api_var = "CI_API_V4_URL",
	.token_use = TOKEN_FOR_GITLAB_API,
	.job_token_var = "CI_JOB_TOKEN",
	.job_token_why = "only CI_JOB_TOKEN is set, and GitLab job tokens cannot write "
		"merge request notes: set PRENV_GITLAB_TOKEN (or GITLAB_TOKEN) to a project "
		"access token with the api scope (a masked CI/CD variable)",
	.no_token_why = "no token: set PRENV_GITLAB_TOKEN (or GITLAB_TOKEN) to a "
		"project access token with the api scope",
	.identity_key = "username",
	.own_comments_only = 1,
	.repo_path = gitlab_repo_path,
	.no_repo_why = "the GitLab project is unknown: set PRENV_PROJECT_ID or PRENV_REPO",
	.thread_fmt = "/merge_requests/%ld",
	.pr_fmt = "/merge_requests/%ld",
	/* oldest first, so the first marked note is the oldest */
	.comments = "/notes?per_page=100&sort=asc&order_by=created_at",
	.update_method = "PUT",
	.url_comment = gitlab_url_comment,
	.on_pr = NULL, /* fetched through the MR's own path */
	.author = gitlab_author,
	.next_page = gitlab_next_page,
	.head_sha = gitlab_head_sha,
	.pr_state = gitlab_pr_state,
};
