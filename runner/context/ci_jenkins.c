/* ci_jenkins.c - Jenkins: multibranch pipelines (the branch-api plugin's
 * BRANCH_NAME, CHANGE_*, TAG_NAME) and the git plugin's GIT_* variables.
 *
 * Jenkins says nothing about the code host itself: it is read from
 * CHANGE_URL (a pull/merge request web URL) or GIT_URL (the remote), see
 * repourl.c.
 */
#include "context/ci.h"
#include "context/ci_int.h"

/* A change request (pull/merge request) build. */
static void jenkins_change(struct ci_det *d, long n)
{
	struct prenv_context *c = d->c;
	const char *chg_url = ci_env(d, "CHANGE_URL");
	struct ci_url_info u;

	ci_put(d, &c->event, "pull_request");
	c->has_pr = 1;
	c->pr_number = n;
	ci_put(d, &c->branch, ci_env(d, "CHANGE_BRANCH"));
	ci_put(d, &c->base_branch, ci_env(d, "CHANGE_TARGET"));
	ci_put(d, &c->pr_title, ci_env(d, "CHANGE_TITLE"));
	ci_put(d, &c->pr_author, ci_env(d, "CHANGE_AUTHOR"));
	ci_put(d, &c->pr_url, chg_url);
	/* Jenkins builds change requests while they are open. */
	ci_put(d, &c->pr_state, "open");
	c->pr_fork = ci_env(d, "CHANGE_FORK") != NULL;
	if (c->pr_fork)
		ci_put(d, &c->head_repo_full_name, ci_env(d, "CHANGE_FORK"));
	if (chg_url && ci_change_url(d, &u, chg_url) == 0) {
		ci_apply_url_info(d, &u, 1);
		ci_url_info_clear(&u);
	}
}

/* A branch build. A non-numeric CHANGE_ID (some SCMs) is not a PR number;
 * the build is then treated like a branch build of BRANCH_NAME. */
static void jenkins_branch(struct ci_det *d)
{
	struct prenv_context *c = d->c;
	const char *git_branch = ci_env(d, "GIT_BRANCH");

	ci_put(d, &c->event, "push");
	ci_put(d, &c->branch, ci_env(d, "BRANCH_NAME"));
	/* Freestyle jobs: the git plugin's GIT_BRANCH is "origin/x". */
	if (!c->branch && git_branch)
		ci_put(d, &c->branch, ci_starts(git_branch, "origin/") ?
		       git_branch + 7 : git_branch);
}

int ci_detect_jenkins(struct ci_det *d, struct prenv_err *err)
{
	struct prenv_context *c = d->c;
	const char *change_id = ci_env(d, "CHANGE_ID");
	const char *git_url = ci_env(d, "GIT_URL");
	struct ci_url_info u;
	long n;

	(void)err; /* nothing here can fail but memory (d->oom) */
	ci_put(d, &c->ci, "jenkins");
	ci_put(d, &c->run_url, ci_env(d, "BUILD_URL"));
	ci_put(d, &c->run_id, ci_env(d, "BUILD_NUMBER"));
	ci_put(d, &c->sha, ci_env(d, "GIT_COMMIT"));

	/* Jenkins has no event; name the kind of build. */
	if (change_id && ci_parse_pos_long(change_id, &n) == 0) {
		jenkins_change(d, n);
	} else if (ci_env(d, "TAG_NAME")) {
		ci_put(d, &c->event, "tag");
		ci_put(d, &c->tag, ci_env(d, "TAG_NAME"));
	} else {
		jenkins_branch(d);
	}
	if (git_url && ci_remote_url(d, &u, git_url) == 0) {
		ci_apply_url_info(d, &u, 0);
		ci_url_info_clear(&u);
	}
	return 0;
}
