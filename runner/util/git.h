/* git.h - read-only facts about a git checkout (libgit2).
 *
 * This module and the pages provider's git publisher are the only places that
 * include <git2.h>. Each call initialises libgit2 and shuts it down again
 * (libgit2 counts init/shutdown pairs, so nesting with other users is fine).
 */
#ifndef PRENV_GIT_H
#define PRENV_GIT_H

struct prenv_err;

struct git_repo_info {
	char *workdir;    /* the checkout's top directory (or the git dir when bare) */
	char *branch;     /* current branch short name ("feature/x"); NULL when detached */
	char *sha;        /* HEAD commit, 40 hex; NULL when there are no commits yet */
	int detached;     /* 1 when HEAD points at a commit, not a branch */
	int unborn;       /* 1 when the current branch has no commits yet */
	char *origin_url; /* URL of the "origin" remote, or NULL when there is none */
};

/* Opens the repository containing dir (searching parent directories; NULL:
 * the current directory) and fills *out (caller frees with
 * git_repo_info_free()). Returns 0, PRENV_ENOTFOUND when dir is not inside a
 * git repository, PRENV_ENOMEM, or PRENV_EFAIL (message from libgit2). */
int git_repo_info(struct git_repo_info **out, const char *dir,
		  struct prenv_err *err);
void git_repo_info_free(struct git_repo_info *info);

#endif
