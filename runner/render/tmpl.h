/* tmpl.h - Mustache templates with context-aware escaping.
 *
 * The data is a cJSON tree. The escaping is a parameter: HTML (the Mustache
 * spec's), NONE (plain text: URLs, values), or YAML, where each {{name}} is
 * escaped for the lexical place it stands in (double-quoted, single-quoted,
 * plain, block scalar) so that no value can change the document's structure.
 * {{{name}}} and {{& name}} emit raw text (unsafe for untrusted values).
 * Lambdas are not supported.
 */
#ifndef PRENV_TMPL_H
#define PRENV_TMPL_H

#include <stddef.h>
#include <cjson/cJSON.h>
#include "util/buf.h"

struct prenv_err;

enum tmpl_escape {
	TMPL_ESC_HTML = 0,  /* & < > " ' escaped as the Mustache spec wants */
	TMPL_ESC_NONE,      /* values as they are */
	TMPL_ESC_YAML,      /* lexical-context YAML escaping (manifests) */
};

/* Loads partial `name` into out. Return 0, PRENV_ENOTFOUND (the partial
 * renders as empty, as the spec says), or another negative code + err. */
typedef int (*tmpl_partial_fn)(struct prenv_buf *out, const char *name,
			       void *ud, struct prenv_err *err);

/* Called for each warning (e.g. a raw tag that receives an untrusted value). */
typedef void (*tmpl_warn_fn)(void *ud, const char *file, int line, int col,
			     const char *msg);

/* Where each line of the output came from: output line k+1 came from line
 * line[k] of files[file[k]] (files[0] is the template's own filename, the
 * others its partials). Literal template text is mapped exactly; a value
 * that spans lines counts as the line of its tag (in YAML mode a multi-line
 * value inside a block scalar can shift the lines after it by its extra
 * lines). Free with tmpl_linemap_free(). */
struct tmpl_linemap {
	int *line;
	unsigned *file;
	size_t n, cap;
	char **files;
	size_t nfiles;
};

#define TMPL_LINEMAP_INIT { NULL, NULL, 0, 0, NULL, 0 }

void tmpl_linemap_free(struct tmpl_linemap *m);
/* The source of output line out_line (1-based): 1 with *file and *line set,
 * 0 when the map has no entry for it (then they are untouched). */
int tmpl_linemap_find(const struct tmpl_linemap *m, int out_line, const char **file, int *line);

struct tmpl_opts {
	const char *filename;        /* for file:line:col in errors; "<template>" if NULL */
	enum tmpl_escape escape;
	int allow_missing;           /* 0: a missing variable is an error (strict) */
	tmpl_partial_fn partial;     /* NULL: partials render empty */
	void *partial_ud;
	const char *const *untrusted; /* dotted names whose values are untrusted, NULL-terminated */
	tmpl_warn_fn warn;
	void *warn_ud;
	struct tmpl_linemap *linemap;  /* filled when set (emptied first); may be NULL */
	/* Dotted names ("outputs.seed") whose members are not known yet (a
	 * check before the values exist): a missing {{outputs.seed.url}}
	 * renders as TMPL_OPEN_PLACEHOLDER and a missing section under them as
	 * empty, instead of an error. NULL-terminated; NULL: none. */
	const char *const *open_names;
};

#define TMPL_OPEN_PLACEHOLDER "prenv-output"

#define TMPL_OPTS_INIT { NULL, TMPL_ESC_HTML, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL }

/* Renders src (len bytes) with data into out (appended).
 * Errors are PRENV_ECONFIG with file:line:col: syntax errors (unclosed
 * section, mismatched end tag, bad delimiter), missing variables in strict
 * mode, values that cannot be made safe in their YAML context, NUL bytes in
 * values (YAML mode). On error out holds no partial output from this call. */
int tmpl_render(struct prenv_buf *out, const char *src, size_t len,
		const cJSON *data, const struct tmpl_opts *opts,
		struct prenv_err *err);

/* Convenience: renders a NUL-terminated string with TMPL_ESC_NONE, strict.
 * Returns a malloc'd string (caller frees) or NULL with err set. */
char *tmpl_render_string(const char *src, const cJSON *data,
			 const char *filename, struct prenv_err *err);

#endif
