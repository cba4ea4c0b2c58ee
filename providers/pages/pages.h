/* pages.h - provider.kind: pages. Publishes a static site per environment
 * to a directory (dir:PATH) or a git branch (git:URL#BRANCH[:subdir]).
 */
#ifndef PRENV_PAGES_H
#define PRENV_PAGES_H

#include <stddef.h>
#include <cjson/cJSON.h>
#include "provider.h"

struct prenv_err;

extern const struct prenv_provider pages_provider;

enum pages_mode {
	PAGES_FILE = 0644,
	PAGES_EXEC = 0755,
	PAGES_LINK = 0120000,  /* data is the link target (relative, inside the site) */
	PAGES_DIR = 040000,    /* an (possibly empty) directory; no data */
};

struct pages_file {
	char *path;      /* relative, '/'-separated, ".mustache" stripped */
	char *data;      /* contents (rendered for .mustache), NUL-terminated */
	size_t len;
	enum pages_mode mode;
};

/* A site read into memory, in path order (directories before their files). */
struct pages_site {
	struct pages_file *files;
	size_t n;
	size_t nfiles;   /* regular files and links (not directories) */
	size_t bytes;    /* total size of files and links */
};

/* Reads every file under dir. Files named *.mustache are rendered with vars
 * (HTML escaping for *.html.mustache / *.htm.mustache, none otherwise) and
 * stored without the suffix. Symbolic links are kept as links when their
 * target stays inside dir, refused (PRENV_ECONFIG) otherwise; devices, fifos
 * and sockets are refused; ".git" directories are skipped.
 * vars may be NULL only when the site has no templates. *out is the
 * caller's (pages_site_free). */
int pages_site_load(struct pages_site **out, const char *dir, const cJSON *vars,
		    struct prenv_err *err);
void pages_site_free(struct pages_site *site);

/* Defence in depth: env must be a DNS-1123 label (no "..", "/", empty,
 * absolute, at most 63 characters). Returns 0 or PRENV_ECONFIG. */
int pages_check_env_name(const char *env, struct prenv_err *err);

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

/* dir: operations on root/<env> (root already resolved). site NULL never. */
int pages_dir_deploy(const char *root, const char *env, const struct pages_site *site,
		     struct prenv_err *err);
/* *existed is set to 1 when root/<env> was there and is now removed. */
int pages_dir_destroy(const char *root, const char *env, int *existed, struct prenv_err *err);
/* Fills *out (caller frees) with {"exists", "files", "bytes", "modified"}. */
int pages_dir_status(cJSON **out, const char *root, const char *env, struct prenv_err *err);

#endif
