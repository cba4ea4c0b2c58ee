/* git.c - read-only facts about a git checkout, through libgit2. */
#include "util/git.h"

#include <stdlib.h>
#include <string.h>

#include <git2.h>

#include "util/err.h"

static char *dupstr(const char *s)
{
	size_t n;
	char *p;

	if (!s)
		return NULL;
	n = strlen(s);
	p = malloc(n + 1);
	if (p)
		memcpy(p, s, n + 1);
	return p;
}

static const char *lg2_msg(void)
{
	const git_error *e = git_error_last();

	return e && e->message ? e->message : "unknown libgit2 error";
}

void git_repo_info_free(struct git_repo_info *info)
{
	if (!info)
		return;
	free(info->workdir);
	free(info->branch);
	free(info->sha);
	free(info->origin_url);
	free(info);
}

/* Opens the repository at or above dir. A checkout owned by another user
 * (common in CI containers) is refused by libgit2's safe.directory check;
 * we only read from it, so retry once with the check off and restore it. */
static int open_repo(git_repository **repo, const char *dir)
{
	int rc, enabled = 1;

	rc = git_repository_open_ext(repo, dir, 0, NULL);
	if (rc != GIT_EOWNER)
		return rc;
	if (git_libgit2_opts(GIT_OPT_GET_OWNER_VALIDATION, &enabled) < 0)
		return rc;
	git_libgit2_opts(GIT_OPT_SET_OWNER_VALIDATION, 0);
	rc = git_repository_open_ext(repo, dir, 0, NULL);
	git_libgit2_opts(GIT_OPT_SET_OWNER_VALIDATION, enabled);
	return rc;
}

int git_repo_info(struct git_repo_info **out, const char *dir,
		  struct prenv_err *err)
{
	git_repository *repo = NULL;
	git_reference *head = NULL;
	git_config *cfg = NULL;
	const char *url = NULL;
	struct git_repo_info *info = NULL;
	const char *path = dir ? dir : ".";
	const char *wd;
	int rc, ret = PRENV_EFAIL;

	*out = NULL;
	if (git_libgit2_init() < 0)
		return prenv_err_set(err, PRENV_EFAIL, "libgit2 init failed: %s",
				     lg2_msg());

	rc = open_repo(&repo, path);
	if (rc == GIT_ENOTFOUND) {
		ret = prenv_err_set(err, PRENV_ENOTFOUND,
				    "%s is not inside a git repository", path);
		goto done;
	}
	if (rc < 0) {
		ret = prenv_err_set(err, PRENV_EFAIL,
				    "cannot open git repository at %s: %s",
				    path, lg2_msg());
		goto done;
	}

	info = calloc(1, sizeof(*info));
	if (!info)
		goto nomem;
	wd = git_repository_workdir(repo);
	if (!wd)
		wd = git_repository_path(repo);
	if (wd && !(info->workdir = dupstr(wd)))
		goto nomem;

	info->detached = git_repository_head_detached(repo) == 1;
	rc = git_repository_head(&head, repo);
	if (rc == GIT_EUNBORNBRANCH || rc == GIT_ENOTFOUND) {
		/* No commits yet: HEAD is a symbolic ref to a branch that does
		 * not exist; read the name it points at. */
		git_reference *sym = NULL;
		const char *target;

		info->unborn = 1;
		if (git_reference_lookup(&sym, repo, "HEAD") == 0 &&
		    git_reference_type(sym) == GIT_REFERENCE_SYMBOLIC &&
		    (target = git_reference_symbolic_target(sym)) &&
		    strncmp(target, "refs/heads/", 11) == 0) {
			info->branch = dupstr(target + 11);
			if (!info->branch) {
				git_reference_free(sym);
				goto nomem;
			}
		}
		git_reference_free(sym);
	} else if (rc < 0) {
		ret = prenv_err_set(err, PRENV_EFAIL, "cannot read HEAD of %s: %s",
				    info->workdir ? info->workdir : path, lg2_msg());
		goto done;
	} else {
		const git_oid *oid = git_reference_target(head);
		char hex[GIT_OID_HEXSZ + 1];

		if (oid) {
			git_oid_tostr(hex, sizeof(hex), oid);
			if (!(info->sha = dupstr(hex)))
				goto nomem;
		}
		if (!info->detached && git_reference_is_branch(head)) {
			const char *name = git_reference_shorthand(head);

			if (name && !(info->branch = dupstr(name)))
				goto nomem;
		}
	}

	/* remote.origin.url straight from the config: git_remote_lookup() in
	 * libgit2 1.5 leaks pcre2 match data (its regex config iteration), and
	 * we need nothing else of the remote. (url.<x>.insteadOf is not
	 * applied.) */
	rc = git_repository_config_snapshot(&cfg, repo);
	if (rc == 0)
		rc = git_config_get_string(&url, cfg, "remote.origin.url");
	if (rc == 0) {
		if (url && *url && !(info->origin_url = dupstr(url)))
			goto nomem;
	} else if (rc != GIT_ENOTFOUND) {
		ret = prenv_err_set(err, PRENV_EFAIL,
				    "cannot read remote \"origin\" of %s: %s",
				    info->workdir ? info->workdir : path, lg2_msg());
		goto done;
	}

	*out = info;
	info = NULL;
	ret = 0;
	goto done;
nomem:
	ret = prenv_err_set(err, PRENV_ENOMEM, "out of memory reading git repository");
done:
	git_config_free(cfg);
	git_reference_free(head);
	git_repository_free(repo);
	git_repo_info_free(info);
	git_libgit2_shutdown();
	return ret;
}
