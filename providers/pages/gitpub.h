/* gitpub.h - publishes a site into a folder of a git branch (through
 * util/git.h, the libgit2 module).
 *
 * Works in a temporary bare repository: fetches BRANCH (or starts it as an
 * orphan), replaces <subdir/><env>/ in the tree, commits, pushes without
 * force; when another job pushed first, fetches again and rebuilds the
 * commit on the new tip (bounded retries). The token comes from the
 * environment, is the one that belongs to the remote's host
 * (context/tokens.h: never over plain http except to loopback), and goes
 * only through libgit2's credential callback.
 */
#ifndef PRENV_GITPUB_H
#define PRENV_GITPUB_H

#include <stddef.h>

struct prenv_err;
struct pages_site;
struct prenv_context;

struct gitpub_opts {
	const char *url;          /* remote URL, file:// URL or local path */
	const char *branch;
	const char *subdir;       /* "" / NULL or "a/b" */
	const char *env_name;     /* checked with pages_check_env_name() */
	const struct pages_site *site; /* NULL: remove <env>/ (destroy) */
	const char *message;      /* commit message */
	const char *author_name, *author_email; /* NULL: prenv <prenv@localhost> */
	const char *const *envp;  /* where tokens are looked up (NULL: none) */
	const struct prenv_context *ctx; /* which CI and server (context/tokens.h
				   * decides which token goes to the remote's
				   * host); may be NULL */
	int max_attempts;         /* 0: 5 */
	int dry_run;              /* build the commit, do not push */
	/* Called before each push attempt (tests use it to push a competing
	 * commit first); NULL normally. */
	void (*before_push)(void *ud, int attempt);
	void *before_push_ud;
};

#define GITPUB_OPTS_INIT { NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, NULL, NULL }

struct gitpub_result {
	char commit[41];  /* the branch tip afterwards (hex), "" when the branch does not exist */
	int changed;      /* 1 when a commit was pushed */
	int existed;      /* <env>/ was on the branch before (status: is there now) */
	int attempts;     /* push attempts made */
	size_t files, bytes; /* status: what <env>/ holds */
};

/* Deploy (o->site set) or destroy (o->site NULL). Errors: PRENV_EAUTH when
 * the remote refuses the credentials, PRENV_EFAIL otherwise. */
int gitpub_publish(const struct gitpub_opts *o, struct gitpub_result *res, struct prenv_err *err);
/* Looks <env>/ up on the branch (fetch only). */
int gitpub_status(const struct gitpub_opts *o, struct gitpub_result *res, struct prenv_err *err);

/* url without "user:password@" (for printing). Caller frees; NULL on OOM. */
char *gitpub_redact_url(const char *url);

#endif
