/* ci_local.c - the git checkout: what every CI, and a plain local run,
 * still misses after its variables (branch, sha, and the repository from
 * the origin remote). The only file here that reads the checkout, through
 * util/git.h (libgit2).
 */
#include "context/ci.h"
#include "context/ci_int.h"
#include "util/err.h"
#include "util/git.h"

int ci_fill_from_git(struct ci_det *d, const char *repo_dir, struct prenv_err *err)
{
	struct prenv_context *c = d->c;
	struct git_repo_info *gi = NULL;
	struct prenv_err gerr = PRENV_ERR_INIT;
	struct ci_url_info u;
	/* Overrides are applied after this; a field an override will set does
	 * not need the checkout (opening it costs ~15 ms of libgit2 start-up,
	 * most of it loading the system's CA certificates). */
	int have_ref = (c->branch || c->tag || ci_env(d, "PRENV_BRANCH")) &&
		       (c->sha || ci_env(d, "PRENV_SHA"));
	int need_ref = !d->no_git_ref && !c->ref_deleted && !have_ref;
	int rc;

	if (!need_ref && (c->repo_full_name || ci_env(d, "PRENV_REPO")))
		return 0;
	rc = git_repo_info(&gi, repo_dir, &gerr);
	if (rc == PRENV_ENOMEM) {
		prenv_err_clear(&gerr);
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	}
	/* Not a checkout, or one libgit2 cannot read: detection goes on with
	 * what the variables said. */
	prenv_err_clear(&gerr);
	if (rc < 0)
		return 0;
	if (need_ref) {
		if (!c->branch && !c->tag)
			ci_put(d, &c->branch, gi->branch); /* NULL when detached */
		ci_fill(d, &c->sha, gi->sha);
	}
	if (!c->repo_full_name && gi->origin_url &&
	    ci_remote_url(d, &u, gi->origin_url) == 0) {
		ci_apply_url_info(d, &u, 0);
		ci_url_info_clear(&u);
	}
	git_repo_info_free(gi);
	return 0;
}
