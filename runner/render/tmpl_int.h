/* tmpl_int.h - private to tmpl.c and tmpl_yaml.c: the YAML-context escaper
 * as the Mustache renderer drives it in TMPL_ESC_YAML mode. Other modules
 * include tmpl.h only.
 *
 * In YAML mode the renderer appends nothing itself: literal template text
 * (and raw tags) goes through tmpl_yaml_text(), each escaped value through
 * tmpl_yaml_value(). The escaper appends to the output buffer, lexes the
 * literal text as YAML, and rewrites a scalar that holds values once that
 * scalar ends; tmpl_yaml_finish() closes what the end of the output leaves
 * open. Errors are PRENV_ECONFIG at the value's tag (or PRENV_ENOMEM); the
 * caller then drops the output.
 */
#ifndef PRENV_TMPL_INT_H
#define PRENV_TMPL_INT_H

#include <stddef.h>

struct prenv_buf;
struct prenv_err;

struct tmpl_tag {               /* the {{name}} a value comes from, for messages */
	const char *file;
	int line, col;
	const char *name;       /* not NUL-terminated */
	size_t namen;
};

struct tmpl_yaml;

/* Starts escaping what is appended to out after its current end. out and err
 * are borrowed until tmpl_yaml_free(). Returns NULL when out of memory. */
struct tmpl_yaml *tmpl_yaml_new(struct prenv_buf *out, struct prenv_err *err);
void tmpl_yaml_free(struct tmpl_yaml *y);   /* NULL: no-op */

/* Appends literal template text s[0, n) and lexes it. */
int tmpl_yaml_text(struct tmpl_yaml *y, const char *s, size_t n);

/* Appends the value s[0, n) escaped for the YAML context it lands in.
 * is_str: it is a JSON string (numbers, booleans, null are not quoted).
 * tag's strings are borrowed until tmpl_yaml_finish(). */
int tmpl_yaml_value(struct tmpl_yaml *y, const struct tmpl_tag *tag,
		    const char *s, size_t n, int is_str);

/* The output is complete: finishes the scalar still open. */
int tmpl_yaml_finish(struct tmpl_yaml *y);

#endif
