/* site.c - a static site read into memory; see site.h. */
#include "pages/site.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "render/tmpl.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"

int pages_check_env_name(const char *env, struct prenv_err *err)
{
	size_t i, n;

	if (!env || !*env)
		return prenv_err_set(err, PRENV_ECONFIG, "pages: the environment name is empty");
	n = strlen(env);
	if (n > 63 || env[0] == '-' || env[n - 1] == '-')
		goto bad;
	for (i = 0; i < n; i++) {
		char c = env[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			goto bad;
	}
	return 0;
bad:
	return prenv_err_set(err, PRENV_ECONFIG,
			     "pages: refusing environment name \"%s\": it must be a DNS-1123 label "
			     "(a-z, 0-9, '-', at most 63 characters), so it cannot leave the target",
			     env);
}

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int site_add(struct pages_site *site, char *path, char *data, size_t len,
		    enum pages_mode mode, struct prenv_err *err)
{
	struct pages_file *nf = realloc(site->files, (site->n + 1) * sizeof(*nf));

	if (!nf) {
		free(path);
		free(data);
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory reading the site");
	}
	site->files = nf;
	nf[site->n].path = path;
	nf[site->n].data = data;
	nf[site->n].len = len;
	nf[site->n].mode = mode;
	site->n++;
	if (mode != PAGES_DIR) {
		site->nfiles++;
		site->bytes += len;
	}
	return 0;
}

/* 1 when a link pointing at target is safe to publish: relative, and
 * without any ".." component. A lexical ".." check is not enough, because
 * the components before it may be links themselves (`s -> .` makes
 * `s/s/../..` climb further than it looks). Without "..", every link
 * resolves inside its own directory's subtree (by induction over the
 * site's links, which all obey the same rule), so nothing can reach
 * outside the environment's folder. rel is unused but kept for the
 * message's caller. */
static int link_inside(const char *rel, const char *target)
{
	const char *p = target;

	(void)rel;
	if (target[0] == '/' || !target[0])
		return 0;
	while (*p) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return 0;
		p += n;
		if (*p == '/')
			p++;
	}
	return 1;
}

static int name_cmp(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int skip_dots(const struct dirent *d)
{
	return strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0;
}

static int render_file(struct prenv_buf *out, const char *abs, const char *outname,
		       const struct prenv_buf *src, const cJSON *vars, struct prenv_err *err)
{
	struct tmpl_opts o = TMPL_OPTS_INIT;
	cJSON *empty = NULL;
	int rc;

	o.filename = abs;
	o.escape = (ends_with(outname, ".html") || ends_with(outname, ".htm"))
		? TMPL_ESC_HTML : TMPL_ESC_NONE;
	if (!vars)
		vars = empty = cJSON_CreateObject();
	rc = tmpl_render(out, src->ptr, src->len, vars, &o, err);
	cJSON_Delete(empty);
	return rc;
}

/* The target of the link at abs into *link. readlink does not say how long
 * the target is: grow until it fits. Returns 0 or -1. */
static int read_link(struct prenv_buf *link, const char *abs)
{
	size_t cap = 256;
	ssize_t k = -1;

	while (cap <= 65536) {
		char *tmp = malloc(cap);

		if (!tmp)
			break;
		prenv_buf_reset(link);
		k = readlink(abs, tmp, cap);
		if (k >= 0 && (size_t)k < cap)
			prenv_buf_add(link, tmp, (size_t)k);
		free(tmp);
		if (k < 0 || (size_t)k < cap)
			break;
		cap *= 4;
	}
	return k < 0 || link->failed || (size_t)k != link->len ? -1 : 0;
}

/* A symbolic link at abs, published as rel (taken over). */
static int add_link(struct pages_site *site, const char *abs, struct prenv_buf *rel,
		    struct prenv_err *err)
{
	struct prenv_buf link = PRENV_BUF_INIT;
	int rc;

	if (read_link(&link, abs) < 0) {
		rc = prenv_err_set(err, PRENV_EFAIL, "pages: cannot read the link %s", abs);
	} else if (!link_inside(rel->ptr, link.ptr)) {
		rc = prenv_err_set(err, PRENV_ECONFIG,
				   "pages: the site's symbolic link %s points outside "
				   "the site or uses \"..\" (%s); replace it with a copy of the "
				   "file or a relative link to a file below the link's own "
				   "folder", abs, link.ptr);
	} else {
		size_t len = link.len;

		rc = site_add(site, prenv_buf_detach(rel, NULL), prenv_buf_detach(&link, NULL), len,
			      PAGES_LINK, err);
	}
	prenv_buf_free(&link);
	return rc;
}

/* A regular file at abs named name, published as rel (taken over; without
 * ".mustache" when it is a template, rendered with vars). */
static int add_regular(struct pages_site *site, const char *abs, const char *name,
		       struct prenv_buf *rel, mode_t st_mode, const cJSON *vars,
		       struct prenv_err *err)
{
	enum pages_mode mode = (st_mode & 0111) ? PAGES_EXEC : PAGES_FILE;
	struct prenv_buf data = PRENV_BUF_INIT, out = PRENV_BUF_INIT;
	struct prenv_buf *keep = &data;
	size_t len;
	int rc = 0;

	if (prenv_buf_read_file(&data, abs) < 0) {
		rc = prenv_err_set(err, PRENV_EFAIL, "pages: cannot read %s: %s", abs,
				   strerror(errno));
		goto done;
	}
	if (ends_with(name, ".mustache") && strlen(name) > 9) {
		prenv_buf_truncate(rel, rel->len - 9);
		if ((rc = render_file(&out, abs, rel->ptr, &data, vars, err)) < 0)
			goto done;
		keep = &out;
	}
	len = keep->len;
	rc = site_add(site, prenv_buf_detach(rel, NULL), prenv_buf_detach(keep, NULL), len, mode,
		      err);
done:
	prenv_buf_free(&data);
	prenv_buf_free(&out);
	return rc;
}

static int walk(struct pages_site *site, const char *root, const char *rel,
		const cJSON *vars, struct prenv_err *err);

/* One directory entry: dir/name, published as rel/name. */
static int add_entry(struct pages_site *site, const char *root, const char *dir,
		     const char *rel, const char *name, const cJSON *vars, struct prenv_err *err)
{
	struct prenv_buf abs = PRENV_BUF_INIT, r = PRENV_BUF_INIT;
	struct stat st;
	int rc = 0;

	prenv_buf_printf(&abs, "%s/%s", dir, name);
	if (*rel)
		prenv_buf_printf(&r, "%s/", rel);
	prenv_buf_adds(&r, name);
	if (abs.failed || r.failed) {
		rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	} else if (lstat(abs.ptr, &st) < 0) {
		rc = prenv_err_set(err, PRENV_EFAIL, "pages: cannot stat %s: %s", abs.ptr,
				   strerror(errno));
	} else if (S_ISDIR(st.st_mode)) {
		if (strcmp(name, ".git") == 0) {
			log_verbose("pages: skipping %s", abs.ptr);
		} else {
			rc = site_add(site, prenv_buf_detach(&r, NULL), NULL, 0, PAGES_DIR, err);
			if (rc == 0)
				rc = walk(site, root, site->files[site->n - 1].path, vars, err);
		}
	} else if (S_ISLNK(st.st_mode)) {
		rc = add_link(site, abs.ptr, &r, err);
	} else if (S_ISREG(st.st_mode)) {
		rc = add_regular(site, abs.ptr, name, &r, st.st_mode, vars, err);
	} else {
		rc = prenv_err_set(err, PRENV_ECONFIG,
				   "pages: %s is not a regular file, directory or link; "
				   "remove it from the site", abs.ptr);
	}
	prenv_buf_free(&abs);
	prenv_buf_free(&r);
	return rc;
}

static int walk(struct pages_site *site, const char *root, const char *rel,
		const cJSON *vars, struct prenv_err *err)
{
	struct prenv_buf dir = PRENV_BUF_INIT;
	struct dirent **ents = NULL;
	int n = 0, i, rc = 0;

	prenv_buf_adds(&dir, root);
	if (*rel)
		prenv_buf_printf(&dir, "/%s", rel);
	if (dir.failed) {
		rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
		goto done;
	}
	n = scandir(dir.ptr, &ents, skip_dots, name_cmp);
	if (n < 0) {
		rc = prenv_err_set(err, PRENV_ECONFIG, "pages: cannot read the site directory %s: %s",
				   dir.ptr, strerror(errno));
		n = 0;
		goto done;
	}
	for (i = 0; i < n && rc == 0; i++)
		rc = add_entry(site, root, dir.ptr, rel, ents[i]->d_name, vars, err);
done:
	for (i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	prenv_buf_free(&dir);
	return rc;
}

static int file_cmp(const void *a, const void *b)
{
	return strcmp(((const struct pages_file *)a)->path, ((const struct pages_file *)b)->path);
}

int pages_site_load(struct pages_site **out, const char *dir, const cJSON *vars,
		    struct prenv_err *err)
{
	struct pages_site *site = calloc(1, sizeof(*site));
	struct stat st;
	size_t i;
	int rc;

	*out = NULL;
	if (!site)
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		rc = prenv_err_set(err, PRENV_ECONFIG,
				   "pages: the site directory %s does not exist; build the site "
				   "first or fix provider.source", dir);
		goto done;
	}
	rc = walk(site, dir, "", vars, err);
	if (rc < 0)
		goto done;
	qsort(site->files, site->n, sizeof(*site->files), file_cmp);
	for (i = 1; i < site->n; i++)
		if (strcmp(site->files[i - 1].path, site->files[i].path) == 0) {
			rc = prenv_err_set(err, PRENV_ECONFIG,
					   "pages: %s/%s exists twice (as a file and as %s.mustache); "
					   "keep one of them", dir, site->files[i].path,
					   site->files[i].path);
			goto done;
		}
	*out = site;
	site = NULL;
done:
	pages_site_free(site);
	return rc;
}

void pages_site_free(struct pages_site *site)
{
	size_t i;

	if (!site)
		return;
	for (i = 0; i < site->n; i++) {
		free(site->files[i].path);
		free(site->files[i].data);
	}
	free(site->files);
	free(site);
}
