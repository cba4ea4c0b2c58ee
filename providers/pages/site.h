/* site.h - a static site read into memory (the pages provider's model).
 *
 * Both publishers work from it: the dir: target in pages.c and the git:
 * target in gitpub.c. It depends on nothing of theirs, so the include graph
 * is pages.c -> gitpub -> site and pages.c -> site.
 */
#ifndef PRENV_PAGES_SITE_H
#define PRENV_PAGES_SITE_H

#include <stddef.h>
#include <cjson/cJSON.h>

struct prenv_err;

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

#endif
