/* yaml.h - YAML <-> cJSON on libyaml (see yaml.c).
 *
 * A whole stream of documents -> a cJSON array, plain scalars typed by the
 * YAML 1.2 core schema, anchors and aliases resolved (copied); and one cJSON
 * value -> a YAML document. For rendered manifests and kubeconfig files.
 *
 * Errors: int return (0, or a negative PRENV_E* code) and err filled once;
 * YAML errors are PRENV_ECONFIG at filename:line:col (1-based), out of
 * memory is PRENV_ENOMEM. What comes back through an out parameter is the
 * caller's, freed as each function says; on error *out is NULL.
 *
 * Our names share libyaml's yaml_ prefix but never its identifiers; only
 * yaml.c sees both.
 */
#ifndef PRENV_YAML_H
#define PRENV_YAML_H

#include <stddef.h>
#include <cjson/cJSON.h>

struct prenv_buf;
struct prenv_err;

/* Parses a YAML stream (all documents) into a cJSON array, one item per
 * document; empty documents (an empty plain scalar, no tag, no anchor) are
 * skipped. filename is for errors (NULL: "<yaml>"). Typing,
 * tags, anchors, limits: see the top of yaml.c. Caller frees *out
 * (cJSON_Delete). */
int yaml_parse_json(cJSON **out, const char *text, size_t len,
		    const char *filename, struct prenv_err *err);

/* Same, and *lines (caller frees with free(); lines may be NULL) gets the
 * 1-based line where each kept document's root node starts. */
int yaml_parse_json_lines(cJSON **out, int **lines, const char *text, size_t len,
			  const char *filename, struct prenv_err *err);

/* Emits one JSON value as a YAML document (block style, 2-space indent,
 * strings quoted when needed) and appends it to out, starting with "---\n".
 * On error out is as it was. */
int yaml_emit_json(struct prenv_buf *out, const cJSON *doc, struct prenv_err *err);

/* 1 when string s can be written as a plain YAML scalar and still read back
 * as that string by YAML 1.2 and 1.1 parsers (see yaml.c). */
int yaml_plain_safe(const char *s);

#endif
