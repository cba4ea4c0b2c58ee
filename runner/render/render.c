/* render.c - render_dir(): the templates directory -> objects (see render.h).
 *
 * Lists the templates (*.yaml, *.yml, *.json; names starting with '_' are
 * partials and with '.' hidden, both skipped), renders each with tmpl_render
 * (YAML escaping, also for .json: JSON is YAML and its strings are
 * double-quoted scalars), then hands the text to render_docs_add (parse,
 * check, label, find duplicates).
 */
#include "render/render.h"
#include "util/err.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct partial_ctx {
	const char *dir;
	int allow_missing;
};

static int has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);

	return n > m && !strcmp(s + n - m, suf);
}

static int is_template_name(const char *name)
{
	if (name[0] == '_' || name[0] == '.')
		return 0;
	return has_suffix(name, ".yaml") || has_suffix(name, ".yml") || has_suffix(name, ".json");
}

/* Files a templates directory may hold without a warning. */
static int is_doc_name(const char *name)
{
	return name[0] == '.' || has_suffix(name, ".md") || has_suffix(name, ".txt") ||
	       !strncmp(name, "LICENSE", 7);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_regular(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The template files of dir, sorted by name (strcmp). */
static void warn_ignored(const struct render_opts *o, const char *path)
{
	if (o->warn)
		o->warn(o->warn_ud, path, 0, 0, "this file is not rendered: only *.yaml, *.yml and "
			"*.json files are templates (and _name.yaml partials); rename it or move it "
			"out of the templates directory");
}

static int list_templates(const struct render_opts *o, char ***out, size_t *count,
			  struct prenv_err *err)
{
	const char *dir = o->dir;
	DIR *dh = opendir(dir);
	struct dirent *de;
	struct prenv_buf path = PRENV_BUF_INIT;
	char **v = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	*out = NULL;
	*count = 0;
	if (!dh)
		return prenv_err_set(err, errno == ENOENT ? PRENV_ECONFIG : PRENV_EFAIL,
				     "cannot read the templates directory %s: %s", dir, strerror(errno));
	while ((de = readdir(dh)) != NULL) {
		if (is_doc_name(de->d_name) || de->d_name[0] == '_')
			continue;
		prenv_buf_reset(&path);
		prenv_buf_printf(&path, "%s/%s", dir, de->d_name);
		if (path.failed) {
			rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
			goto done;
		}
		if (!is_regular(path.ptr))
			continue;
		if (!is_template_name(de->d_name)) {
			warn_ignored(o, path.ptr);
			continue;
		}
		if (n == cap) {
			char **p;

			cap = cap ? cap * 2 : 16;
			if (!(p = realloc(v, cap * sizeof(*p)))) {
				rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
				goto done;
			}
			v = p;
		}
		if (!(v[n] = strdup(de->d_name))) {
			rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
			goto done;
		}
		n++;
	}
	if (n)
		qsort(v, n, sizeof(*v), cmp_names);
	*out = v;
	*count = n;
	v = NULL;
done:
	closedir(dh);
	prenv_buf_free(&path);
	if (v) {
		while (n-- > 0)
			free(v[n]);
		free(v);
	}
	return rc;
}

/* {{> name}}: dir/_name.yaml, dir/_name.yml, dir/name - the first that is
 * a regular file. */
static int load_partial(struct prenv_buf *out, const char *name, void *ud,
			struct prenv_err *err)
{
	static const char *const forms[] = { "%s/_%s.yaml", "%s/_%s.yml", "%s/%s", NULL };
	const struct partial_ctx *ctx = ud;
	struct prenv_buf path = PRENV_BUF_INIT;
	size_t i;
	int rc = PRENV_ENOTFOUND;

	if (!*name || strchr(name, '/') || strchr(name, '\\') || strstr(name, "..") ||
	    name[0] == '.')
		return prenv_err_set(err, PRENV_ECONFIG,
				     "partial name '%s' is not allowed (no '/', '\\', '..' or leading '.': "
				     "partials are files of the templates directory)", name);
	for (i = 0; forms[i]; i++) {
		prenv_buf_reset(&path);
		prenv_buf_printf(&path, forms[i], ctx->dir, name);
		if (path.failed) {
			rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
			goto done;
		}
		if (!is_regular(path.ptr))
			continue;
		if (prenv_buf_read_file(out, path.ptr) < 0) {
			rc = prenv_err_set(err, PRENV_EFAIL, "cannot read partial %s: %s",
					   path.ptr, strerror(errno));
			goto done;
		}
		rc = 0;
		goto done;
	}
	if (ctx->allow_missing)
		rc = PRENV_ENOTFOUND; /* renders empty */
	else
		rc = prenv_err_set(err, PRENV_ECONFIG,
				   "partial '%s' not found (looked for %s/_%s.yaml, %s/_%s.yml, %s/%s)",
				   name, ctx->dir, name, ctx->dir, name, ctx->dir, name);
done:
	prenv_buf_free(&path);
	return rc;
}

static int give_to_sink(const struct render_opts *opts, struct render_docs *docs,
			struct prenv_err *err)
{
	cJSON *objs;

	if (!opts->sink)
		return 0;
	if (!(objs = render_docs_take_new(docs)))
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	return opts->sink(opts->sink_ud, objs, err);
}

int render_dir(cJSON **out, const struct render_opts *opts, struct prenv_err *err)
{
	struct render_docs *docs = NULL;
	struct partial_ctx pctx;
	struct tmpl_opts topts = TMPL_OPTS_INIT;
	struct tmpl_linemap map = TMPL_LINEMAP_INIT;
	struct prenv_buf src = PRENV_BUF_INIT, text = PRENV_BUF_INIT, path = PRENV_BUF_INIT;
	char **names = NULL;
	size_t i, n = 0;
	int rc;

	*out = NULL;
	if (!opts || !opts->dir)
		return prenv_err_set(err, PRENV_ECONFIG, "render: no templates directory");
	if ((rc = render_docs_new(&docs, opts->app, opts->env_name, opts->warn,
				  opts->warn_ud, err)) < 0)
		return rc;
	if ((rc = list_templates(opts, &names, &n, err)) < 0)
		goto done;
	pctx.dir = opts->dir;
	pctx.allow_missing = opts->allow_missing;
	topts.escape = TMPL_ESC_YAML;
	topts.allow_missing = opts->allow_missing;
	topts.partial = load_partial;
	topts.partial_ud = &pctx;
	topts.untrusted = opts->untrusted;
	topts.open_names = opts->open_names;
	topts.warn = opts->warn;
	topts.warn_ud = opts->warn_ud;
	topts.linemap = &map;
	for (i = 0; i < n; i++) {
		prenv_buf_reset(&path);
		prenv_buf_reset(&src);
		prenv_buf_reset(&text);
		prenv_buf_printf(&path, "%s/%s", opts->dir, names[i]);
		if (path.failed) {
			rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
			goto done;
		}
		if (prenv_buf_read_file(&src, path.ptr) < 0) {
			rc = prenv_err_set(err, PRENV_EFAIL, "cannot read %s: %s", path.ptr,
					   strerror(errno));
			goto done;
		}
		topts.filename = path.ptr;
		if ((rc = tmpl_render(&text, src.ptr, src.len, opts->vars, &topts, err)) < 0)
			goto done;
		if ((rc = render_docs_add_mapped(docs, text.ptr, text.len, path.ptr, &map, err)) < 0 ||
		    (rc = give_to_sink(opts, docs, err)) < 0)
			goto done;
	}
	if (render_docs_count(docs) == 0 && !opts->allow_empty) {
		rc = prenv_err_set_at(err, PRENV_ECONFIG, opts->where_file ? opts->where_file : opts->dir,
				      opts->where_line, opts->where_col,
				      "the templates in %s rendered no object (%zu template file%s): a deploy "
				      "of nothing would remove everything from the environment; add "
				      "*.yaml templates there, or set `allow_empty: true` if an empty "
				      "environment is what you want", opts->dir, n, n == 1 ? "" : "s");
		goto done;
	}
	if (!(*out = render_docs_take(docs)))
		rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
done:
	render_docs_free(docs);
	if (names) {
		for (i = 0; i < n; i++)
			free(names[i]);
		free(names);
	}
	prenv_buf_free(&src);
	prenv_buf_free(&text);
	prenv_buf_free(&path);
	tmpl_linemap_free(&map);
	return rc;
}
