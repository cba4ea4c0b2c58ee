/* pages.h - provider.kind: pages. Publishes a static site per environment
 * to a directory (dir:PATH) or a git branch (git:URL#BRANCH[:subdir]).
 * The site model is site.h; the git publisher is gitpub.h.
 */
#ifndef PRENV_PAGES_H
#define PRENV_PAGES_H

#include <stddef.h>
#include <cjson/cJSON.h>
#include "provider.h"

struct prenv_err;
struct pages_site;  /* site.h */

extern const struct prenv_provider pages_provider;

enum pages_target_kind { PAGES_TARGET_DIR, PAGES_TARGET_GIT };

struct pages_target {
	enum pages_target_kind kind;
	char *path;    /* dir: the root (as written) */
	char *url;     /* git: the remote URL or local path */
	char *branch;  /* git: the branch */
	char *subdir;  /* git: "" or "a/b" (no leading/trailing '/') */
};

/* Parses "dir:PATH" or "git:URL#BRANCH[:subdir]". Free with
 * pages_target_clear(). Errors are PRENV_ECONFIG. */
int pages_target_parse(struct pages_target *out, const char *s, struct prenv_err *err);
void pages_target_clear(struct pages_target *t);

/* dir: operations on root/<env> (root already resolved). site NULL never.
 * Deploy writes the marker root/<env>/.prenv.json ({"prenv":1, "app",
 * "env", "deployed_at"}: nothing more, the site is public); deploy and
 * destroy refuse (PRENV_EAUTH, nothing changed) a root/<env> whose marker
 * is missing or names another app or environment. */
int pages_dir_deploy(const char *root, const char *env, const char *app,
		     const struct pages_site *site, struct prenv_err *err);
/* *existed is set to 1 when root/<env> was there and is now removed. */
int pages_dir_destroy(const char *root, const char *env, const char *app, int *existed,
		      struct prenv_err *err);
/* Fills *out (caller frees) with {"exists", "files", "bytes", "modified"}. */
int pages_dir_status(cJSON **out, const char *root, const char *env, struct prenv_err *err);

#endif
