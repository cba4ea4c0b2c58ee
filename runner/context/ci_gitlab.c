/* ci_gitlab.c - GitLab CI: the CI_* variables of a pipeline (merge request
 * pipelines, external pull request pipelines, tag and branch pipelines).
 */
#include <string.h>

#include "context/ci.h"
#include "context/ci_int.h"

/* What both kinds of change request set: number, state, and where the
 * head lives (src) compared to the project (dst). */
static void gitlab_change(struct ci_det *d, long n, const char *src, const char *dst)
{
	struct prenv_context *c = d->c;

	c->has_pr = 1;
	c->pr_number = n;
	/* MR and external PR pipelines run for open change requests. */
	ci_put(d, &c->pr_state, "open");
	ci_put(d, &c->head_repo_full_name, src);
	c->pr_fork = src && dst && strcmp(src, dst) != 0;
}

/* Merge request pipelines. */
static void gitlab_mr(struct ci_det *d, long n)
{
	struct prenv_context *c = d->c;
	const char *src = ci_env(d, "CI_MERGE_REQUEST_SOURCE_PROJECT_PATH");
	const char *dst = ci_env(d, "CI_MERGE_REQUEST_PROJECT_PATH");
	const char *mr_project = ci_env(d, "CI_MERGE_REQUEST_PROJECT_URL");

	if (!dst)
		dst = ci_env(d, "CI_PROJECT_PATH");
	gitlab_change(d, n, src, dst);
	ci_put(d, &c->branch, ci_env(d, "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME"));
	ci_put(d, &c->base_branch, ci_env(d, "CI_MERGE_REQUEST_TARGET_BRANCH_NAME"));
	ci_put(d, &c->pr_title, ci_env(d, "CI_MERGE_REQUEST_TITLE"));
	/* GitLab has no variable for the MR author; GITLAB_USER_LOGIN is
	 * who started the pipeline (the author for pushes to the MR). */
	ci_put(d, &c->pr_author, ci_env(d, "GITLAB_USER_LOGIN"));
	if (!mr_project)
		mr_project = ci_env(d, "CI_PROJECT_URL");
	if (mr_project)
		ci_putf(d, &c->pr_url, "%s/-/merge_requests/%ld", mr_project, n);
	/* Merged-results pipelines build a merge commit (CI_COMMIT_SHA);
	 * the MR's own head is CI_MERGE_REQUEST_SOURCE_BRANCH_SHA. */
	ci_put(d, &c->sha, ci_env(d, "CI_MERGE_REQUEST_SOURCE_BRANCH_SHA"));
}

/* External (GitHub) pull request pipelines. */
static void gitlab_external_pr(struct ci_det *d, long n)
{
	struct prenv_context *c = d->c;

	gitlab_change(d, n, ci_env(d, "CI_EXTERNAL_PULL_REQUEST_SOURCE_REPOSITORY"),
		      ci_env(d, "CI_EXTERNAL_PULL_REQUEST_TARGET_REPOSITORY"));
	ci_put(d, &c->branch, ci_env(d, "CI_EXTERNAL_PULL_REQUEST_SOURCE_BRANCH_NAME"));
	ci_put(d, &c->base_branch, ci_env(d, "CI_EXTERNAL_PULL_REQUEST_TARGET_BRANCH_NAME"));
	ci_put(d, &c->sha, ci_env(d, "CI_EXTERNAL_PULL_REQUEST_SOURCE_BRANCH_SHA"));
}

int ci_detect_gitlab(struct ci_det *d, struct prenv_err *err)
{
	struct prenv_context *c = d->c;
	const char *iid = ci_env(d, "CI_MERGE_REQUEST_IID");
	const char *ext = ci_env(d, "CI_EXTERNAL_PULL_REQUEST_IID");
	long n;

	(void)err; /* nothing here can fail but memory (d->oom) */
	ci_put(d, &c->ci, "gitlab");
	ci_put(d, &c->host, "gitlab");
	ci_put(d, &c->event, ci_env(d, "CI_PIPELINE_SOURCE"));
	ci_put(d, &c->server_url, ci_env(d, "CI_SERVER_URL"));
	ci_put(d, &c->api_url, ci_env(d, "CI_API_V4_URL"));
	if (!c->api_url && c->server_url)
		ci_putf(d, &c->api_url, "%s/api/v4", c->server_url);
	ci_put(d, &c->repo_owner, ci_env(d, "CI_PROJECT_NAMESPACE"));
	ci_put(d, &c->repo_name, ci_env(d, "CI_PROJECT_NAME"));
	ci_put(d, &c->repo_full_name, ci_env(d, "CI_PROJECT_PATH"));
	ci_put(d, &c->repo_url, ci_env(d, "CI_PROJECT_URL"));
	ci_put(d, &c->project_id, ci_env(d, "CI_PROJECT_ID"));
	ci_put(d, &c->run_id, ci_env(d, "CI_PIPELINE_ID"));
	ci_put(d, &c->run_url, ci_env(d, "CI_JOB_URL"));
	ci_fill(d, &c->run_url, ci_env(d, "CI_PIPELINE_URL"));
	ci_put(d, &c->sha, ci_env(d, "CI_COMMIT_SHA"));

	if (iid && ci_parse_pos_long(iid, &n) == 0) {
		gitlab_mr(d, n);
	} else if (ext && ci_parse_pos_long(ext, &n) == 0) {
		gitlab_external_pr(d, n);
	} else if (ci_env(d, "CI_COMMIT_TAG")) {
		ci_put(d, &c->tag, ci_env(d, "CI_COMMIT_TAG"));
	} else {
		ci_put(d, &c->branch, ci_env(d, "CI_COMMIT_BRANCH"));
		ci_fill(d, &c->branch, ci_env(d, "CI_COMMIT_REF_NAME"));
	}
	return 0;
}
