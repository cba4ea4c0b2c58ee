/* yaml.h - YAML, the only module that uses libyaml (see yaml.c).
 *
 * Two views of YAML text:
 *
 *  - cJSON: a whole stream of documents -> a cJSON array, plain scalars typed
 *    by the YAML 1.2 core schema, anchors and aliases resolved (copied); and
 *    one cJSON value -> a YAML document. For rendered manifests and
 *    kubeconfig files.
 *
 *  - a positioned tree: ONE document -> nodes that keep their kind, their
 *    text exactly as written (no typing) and their 1-based line and column,
 *    so a loader can name file:line:col in every error. For the config.
 *
 * Errors: int return (0, or a negative PRENV_E* code) and err filled once;
 * YAML errors are PRENV_ECONFIG at filename:line:col (1-based), out of
 * memory is PRENV_ENOMEM. What comes back through an out parameter is the
 * caller's, freed as each function says; on error *out is NULL.
 *
 * Our names share libyaml's yaml_ prefix but never its identifiers
 * (yaml_node_t, YAML_SCALAR_NODE, ... are libyaml's; struct yaml_node,
 * YAML_KIND_SCALAR, ... are ours); only yaml.c sees both.
 */
#ifndef PRENV_YAML_H
#define PRENV_YAML_H

#include <stddef.h>
#include <cjson/cJSON.h>

struct prenv_buf;
struct prenv_err;

/* ------------------------------------------------------------ cJSON view */

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
/* The same through libyaml alone: yaml_parse_json_lines() reads the
 * block-style documents rendered manifests nearly always are without it
 * (yaml_block.c) and gives the same result; everything else, and every
 * error, comes from here. */
int yaml_parse_json_lines_ref(cJSON **out, int **lines, const char *text, size_t len,
			      const char *filename, struct prenv_err *err);

/* Emits one JSON value as a YAML document (block style, 2-space indent,
 * strings quoted when needed) and appends it to out, starting with "---\n".
 * On error out is as it was. */
int yaml_emit_json(struct prenv_buf *out, const cJSON *doc, struct prenv_err *err);
/* The same through libyaml's emitter: the reference yaml_emit_json()
 * matches byte for byte (and uses for the shapes it leaves to it). */
int yaml_emit_json_ref(struct prenv_buf *out, const cJSON *doc, struct prenv_err *err);

/* 1 when string s can be written as a plain YAML scalar and still read back
 * as that string by YAML 1.2 and 1.1 parsers (see yaml.c). */
int yaml_plain_safe(const char *s);

/* ------------------------------------------------------- positioned tree */

enum yaml_kind { YAML_KIND_SCALAR, YAML_KIND_SEQ, YAML_KIND_MAP };

struct yaml_pair;

/* One node. Every pointer in it is owned by the struct yaml_doc it came
 * from and lives until yaml_doc_free(). */
struct yaml_node {
	enum yaml_kind kind;
	int line, col;             /* 1-based start of the node */
	/* scalar: its text as written, after YAML unescaping and folding but
	 * untyped ("true", "1" and "" are text too), always NUL-terminated; a
	 * quoted "\0" makes strlen(text) < len. Collections: "" and 0. */
	const char *text;
	size_t len;
	int plain;                 /* scalar in plain style (not quoted, not | or >) */
	size_t n;                  /* seq: items; map: pairs; scalar: 0 */
	struct yaml_node **items;  /* seq: n items, in order */
	struct yaml_pair *pairs;   /* map: n pairs, in document order, repeats kept */
};

struct yaml_pair {
	struct yaml_node *key, *value;
};

/* yaml_doc_load flags */
#define YAML_DOC_STRICT 0x1u /* the config file's dialect, see yaml_doc_load */

struct yaml_doc; /* opaque: owns every node and text of one document */

/* Loads the first document of text (filename is for errors; NULL:
 * "<yaml>"). The whole stream is parsed, so a syntax error anywhere is
 * reported, as "YAML syntax error: <problem> (<context> that starts at line
 * L, column C); check the indentation and quoting" (or without the
 * parenthesis when libyaml gives no context) at libyaml's problem mark.
 *
 * YAML_DOC_STRICT rejects, at the position of the first offender in stream
 * order, anchors (&a), aliases (*a), explicit tags (!!str, !x) and a second
 * document, with messages written for a config file ("YAML anchors (&a) are
 * not supported in a config; remove it", ...). Without it, tags and later
 * documents are ignored and an alias IS its anchored node (shared, not
 * copied: a node can be reached more than once, so a recursive walk must
 * bound its work); an anchor takes effect where its node ends, so there
 * are no cycles.
 *
 * Nesting deeper than 512 levels, in any document of the stream, is an
 * error at the first node too deep (libyaml's scanner is quadratic in the
 * depth of flow collections).
 *
 * *out gets the document (yaml_doc_free()); yaml_doc_root() is NULL when
 * the stream holds no document. */
int yaml_doc_load(struct yaml_doc **out, const char *text, size_t len,
		  const char *filename, unsigned flags, struct prenv_err *err);

/* The root node, or NULL (no document). Borrowed from doc. */
const struct yaml_node *yaml_doc_root(const struct yaml_doc *doc);

/* Frees doc and all of its nodes; NULL is a no-op. */
void yaml_doc_free(struct yaml_doc *doc);

/* The value of the first pair of mapping map whose key is a scalar with
 * text key (compared as C strings), or NULL (none, or map is not a
 * mapping). Borrowed from map's document. */
const struct yaml_node *yaml_map_get(const struct yaml_node *map, const char *key);

#endif
