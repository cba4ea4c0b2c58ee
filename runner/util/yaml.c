/* yaml.c - YAML <-> cJSON, and the positioned document tree (see yaml.h).
 * The only file that includes <yaml.h>.
 *
 * Both parsers use libyaml's event parser, so every error can name
 * file:line:col (libyaml marks are 0-based; ours are 1-based).
 *
 * cJSON view. Typing follows the YAML 1.2 core schema, for plain scalars
 * only:
 *
 *   null   null Null NULL ~ (and the empty plain scalar)
 *   bool   true True TRUE false False FALSE
 *   int    [-+]?[0-9]+   0o[0-7]+   0x[0-9a-fA-F]+
 *   float  [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
 *          [-+]?(.inf|.Inf|.INF)   .nan .NaN .NAN
 *
 * Everything else, and every quoted or block scalar, is a string (so `yes`
 * and `on` are strings; `0777` is the int 777, not octal).
 * Explicit tags !!str !!int !!float !!bool !!null !!map !!seq and the
 * non-specific `!` are honoured; any other tag is an error.
 *
 * Mapping keys must be scalars (their text is the key, whatever its type);
 * duplicate keys are an error. Merge keys (`<<`) are not special (YAML 1.2).
 * Anchors and aliases are RESOLVED: an alias is a deep copy of its anchored
 * node; the total number of nodes a stream may produce (aliases expanded) is
 * limited to YP_MAX_NODES, which stops "billion laughs". Nesting is
 * limited to YP_MAX_DEPTH.
 *
 * Numbers are doubles (cJSON). A decimal integer beyond 2^53 keeps its exact
 * text in the item's valuestring (cJSON frees and duplicates it), and the
 * YAML emitter writes that text back, so YAML -> YAML keeps every digit; JSON
 * output (cJSON_Print) does not. Hex/octal integers beyond 2^53 are rounded.
 *
 * Block-style text (what rendered manifests nearly always are) is read
 * without libyaml by yaml_block.c, into the same cJSON; anything else goes
 * through libyaml here.
 *
 * Emitting uses libyaml's emitter: block style, 2-space indent, no line
 * folding, UTF-8 kept. A string is written plain only when it is clearly
 * a string to a YAML 1.2 core-schema parser AND to YAML 1.1 parsers (PyYAML,
 * go-yaml v2 as used by Kubernetes tools): it starts with an ASCII letter,
 * `_` or `/`, contains only [A-Za-z0-9_./-] (and `:` not at the end), and is
 * not one of the 1.1 boolean/null words. Every other string is double-quoted.
 *
 * Positioned tree. Built from the same events without recursion (an
 * explicit stack of open collections); nesting is limited to YP_MAX_DEPTH
 * in every document of the stream, which also bounds the time libyaml's
 * scanner takes on deep flow collections (quadratic in the depth). Scalars are not typed: the
 * loader above it decides what "true" or "" means where. Every node is
 * allocated on its own (a scalar and its text in one block) and listed in
 * the document, which frees them all at once; that is what lets a
 * non-strict alias share its anchored node.
 */
#include "util/yaml.h"
#include "util/yaml_int.h"
#include "util/buf.h"
#include "util/err.h"

#include <yaml.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define YP_MAX_NODES 1000000
#define YP_MAX_DEPTH 512

#define TAG_PREFIX "tag:yaml.org,2002:"

/* p (an array of *cap elements of size bytes) reallocated to twice as many
 * (8 at first), *cap updated; NULL when out of memory (p is then unchanged
 * and still the caller's). */
static void *grow(void *p, size_t *cap, size_t size)
{
	size_t n = *cap ? *cap * 2 : 8;
	void *q;

	if (n > SIZE_MAX / size || !(q = realloc(p, n * size)))
		return NULL;
	*cap = n;
	return q;
}

/* ---------------------------------------------------------------- typing */

static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int match_null(const char *s, size_t n)
{
	return n == 0 || (n == 1 && s[0] == '~') ||
	       (n == 4 && (!memcmp(s, "null", 4) || !memcmp(s, "Null", 4) ||
			   !memcmp(s, "NULL", 4)));
}

/* 1 true, 0 false, -1 not a bool */
static int match_bool(const char *s, size_t n)
{
	if (n == 4 && (!memcmp(s, "true", 4) || !memcmp(s, "True", 4) ||
		       !memcmp(s, "TRUE", 4)))
		return 1;
	if (n == 5 && (!memcmp(s, "false", 5) || !memcmp(s, "False", 5) ||
		       !memcmp(s, "FALSE", 5)))
		return 0;
	return -1;
}

/* 10 decimal, 8 octal, 16 hex, 0 not an int */
static int match_int(const char *s, size_t n)
{
	size_t i = 0;

	if (n > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'x')) {
		for (i = 2; i < n; i++) {
			if (s[1] == 'o' ? !(s[i] >= '0' && s[i] <= '7') : !is_hex(s[i]))
				return 0;
		}
		return s[1] == 'o' ? 8 : 16;
	}
	if (n > 0 && (s[0] == '-' || s[0] == '+'))
		i = 1;
	if (i == n)
		return 0;
	for (; i < n; i++)
		if (!is_digit(s[i]))
			return 0;
	return 10;
}

static int match_float(const char *s, size_t n)
{
	size_t i = 0, digits = 0;

	if (n > 0 && (s[0] == '-' || s[0] == '+'))
		i = 1;
	if (n - i == 4 && (!memcmp(s + i, ".inf", 4) || !memcmp(s + i, ".Inf", 4) ||
			   !memcmp(s + i, ".INF", 4)))
		return 1;
	if (i == 0 && n == 4 && (!memcmp(s, ".nan", 4) || !memcmp(s, ".NaN", 4) ||
				 !memcmp(s, ".NAN", 4)))
		return 1;
	if (i < n && s[i] == '.') {
		i++;
		while (i < n && is_digit(s[i])) {
			i++;
			digits++;
		}
		if (!digits)
			return 0;
	} else {
		while (i < n && is_digit(s[i])) {
			i++;
			digits++;
		}
		if (!digits)
			return 0;
		if (i < n && s[i] == '.') {
			i++;
			while (i < n && is_digit(s[i]))
				i++;
		}
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '-' || s[i] == '+'))
			i++;
		digits = 0;
		while (i < n && is_digit(s[i])) {
			i++;
			digits++;
		}
		if (!digits)
			return 0;
	}
	return i == n;
}

static double float_value(const char *s, size_t n)
{
	size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
	char tmp[64];
	struct prenv_buf b = PRENV_BUF_INIT;
	double v;

	if (n - i == 4 && s[i] == '.' && (s[i + 1] == 'i' || s[i + 1] == 'I'))
		return s[0] == '-' ? -INFINITY : INFINITY;
	if (n == 4 && s[0] == '.' && (s[1] == 'n' || s[1] == 'N'))
		return NAN;
	if (n < sizeof(tmp)) {
		memcpy(tmp, s, n);
		tmp[n] = '\0';
		return strtod(tmp, NULL);
	}
	if (prenv_buf_add(&b, s, n) < 0)
		return NAN;
	v = strtod(b.ptr, NULL);
	prenv_buf_free(&b);
	return v;
}

/* Makes the number for an int text of kind base (match_int). */
static cJSON *int_item(const char *s, size_t n, int base)
{
	double v = 0;
	cJSON *item;
	size_t i;

	if (base != 10) {
		for (i = 2; i < n; i++) {
			int d = is_digit(s[i]) ? s[i] - '0' : (s[i] | 0x20) - 'a' + 10;
			v = v * base + d;
		}
		return cJSON_CreateNumber(v);
	}
	v = float_value(s, n);
	item = cJSON_CreateNumber(v);
	if (item && fabs(v) > 9007199254740992.0) {
		/* Keep the exact digits (see the top of the file). */
		struct prenv_buf b = PRENV_BUF_INIT;

		i = 0;
		if (s[0] == '-')
			prenv_buf_addc(&b, '-');
		if (s[0] == '-' || s[0] == '+')
			i = 1;
		while (i + 1 < n && s[i] == '0')
			i++;
		prenv_buf_add(&b, s + i, n - i);
		item->valuestring = prenv_buf_detach(&b, NULL);
	}
	return item;
}

/* The core-schema type of a plain scalar. */
static cJSON *resolve_plain(const char *s, size_t n)
{
	int b, base;

	if (match_null(s, n))
		return cJSON_CreateNull();
	if ((b = match_bool(s, n)) >= 0)
		return cJSON_CreateBool(b);
	if ((base = match_int(s, n)) != 0)
		return int_item(s, n, base);
	if (match_float(s, n))
		return cJSON_CreateNumber(float_value(s, n));
	return NULL; /* a string */
}

cJSON *yaml__resolve_plain(const char *s, size_t n)
{
	return resolve_plain(s, n);
}

/* ---------------------------------------------------------------- events */

#define EV_LINE(ev) ((int)(ev)->start_mark.line + 1) /* 1-based, where ev starts */
#define EV_COL(ev) ((int)(ev)->start_mark.column + 1)

/* The anchor and tag of a node event (NULL when it has none, or ev is not a
 * scalar or the start of a collection). Borrowed from ev. */
static void ev_props(const yaml_event_t *ev, const char **anchor, const char **tag)
{
	const yaml_char_t *a = NULL, *t = NULL;

	if (ev->type == YAML_SCALAR_EVENT) {
		a = ev->data.scalar.anchor;
		t = ev->data.scalar.tag;
	} else if (ev->type == YAML_SEQUENCE_START_EVENT) {
		a = ev->data.sequence_start.anchor;
		t = ev->data.sequence_start.tag;
	} else if (ev->type == YAML_MAPPING_START_EVENT) {
		a = ev->data.mapping_start.anchor;
		t = ev->data.mapping_start.tag;
	}
	*anchor = (const char *)a;
	*tag = (const char *)t;
}

/* ------------------------------------------------------- parser (cJSON) */

struct yp_anchor {
	char *name;
	cJSON *node;    /* owned copy */
	size_t count;   /* nodes in it */
};

struct yp {
	yaml_parser_t parser;
	const char *file;
	struct prenv_err *err;
	struct yp_anchor *anchors;
	size_t n_anchors, cap_anchors;
	size_t nodes;
};

static int yp_oom(struct yp *y)
{
	return prenv_err_set(y->err, PRENV_ENOMEM, "out of memory");
}

static int yp_error_at(struct yp *y, yaml_mark_t m, const char *fmt, const char *a)
{
	return prenv_err_set_at(y->err, PRENV_ECONFIG, y->file, (int)m.line + 1,
				(int)m.column + 1, fmt, a);
}

static int yp_next(struct yp *y, yaml_event_t *ev)
{
	if (yaml_parser_parse(&y->parser, ev))
		return 0;
	if (y->parser.error == YAML_MEMORY_ERROR)
		return prenv_err_set(y->err, PRENV_ENOMEM, "out of memory parsing YAML");
	{
		yaml_mark_t m = y->parser.problem_mark;
		const char *ctx = y->parser.context;

		if (m.line == 0 && m.column == 0 && m.index == 0 && ctx)
			m = y->parser.context_mark;
		if (ctx)
			return prenv_err_set_at(y->err, PRENV_ECONFIG, y->file,
						(int)m.line + 1, (int)m.column + 1,
						"YAML syntax error: %s %s (started at line %d, column %d)",
						y->parser.problem ? y->parser.problem : "error",
						ctx, (int)y->parser.context_mark.line + 1,
						(int)y->parser.context_mark.column + 1);
		return prenv_err_set_at(y->err, PRENV_ECONFIG, y->file,
					(int)m.line + 1, (int)m.column + 1,
					"YAML syntax error: %s",
					y->parser.problem ? y->parser.problem : "error");
	}
}

static void yp_clear_anchors(struct yp *y)
{
	size_t i;

	for (i = 0; i < y->n_anchors; i++) {
		free(y->anchors[i].name);
		cJSON_Delete(y->anchors[i].node);
	}
	y->n_anchors = 0;
}

static int yp_count(struct yp *y, yaml_mark_t m, size_t n)
{
	if (n > YP_MAX_NODES || y->nodes + n > YP_MAX_NODES)
		return yp_error_at(y, m, "%s: more than 1000000 nodes (aliases expanded); refusing",
				   "YAML document too large");
	y->nodes += n;
	return 0;
}

/* Stores a copy of node under anchor name (NULL: nothing). A later anchor of
 * the same name hides the earlier one (YAML says so). */
static int yp_set_anchor(struct yp *y, const char *name, const cJSON *node, size_t count)
{
	struct yp_anchor *a;

	if (!name)
		return 0;
	if (y->n_anchors == y->cap_anchors) {
		struct yp_anchor *p = grow(y->anchors, &y->cap_anchors, sizeof(*p));

		if (!p)
			return yp_oom(y);
		y->anchors = p;
	}
	a = &y->anchors[y->n_anchors];
	a->name = strdup(name);
	a->node = cJSON_Duplicate(node, 1);
	a->count = count;
	if (!a->name || !a->node) {
		free(a->name);
		cJSON_Delete(a->node);
		return yp_oom(y);
	}
	y->n_anchors++;
	return 0;
}

static const struct yp_anchor *yp_find_anchor(struct yp *y, const yaml_char_t *name)
{
	size_t i;

	for (i = y->n_anchors; i-- > 0;)
		if (!strcmp(y->anchors[i].name, (const char *)name))
			return &y->anchors[i];
	return NULL;
}

/* The cJSON value of a scalar with an explicit tag:yaml.org,2002: tag; t is
 * the tag's name after that prefix. */
static int yp_tagged_scalar(struct yp *y, const yaml_event_t *ev, const char *t, cJSON **out)
{
	const char *s = (const char *)ev->data.scalar.value;
	size_t n = ev->data.scalar.length;
	int b, base;

	if (!strcmp(t, "str")) {
		*out = cJSON_CreateString(s);
	} else if (!strcmp(t, "int")) {
		if (!(base = match_int(s, n)))
			return yp_error_at(y, ev->start_mark, "!!int value '%s' is not an integer", s);
		*out = int_item(s, n, base);
	} else if (!strcmp(t, "float")) {
		if ((base = match_int(s, n)) != 0)
			*out = int_item(s, n, base);
		else if (match_float(s, n))
			*out = cJSON_CreateNumber(float_value(s, n));
		else
			return yp_error_at(y, ev->start_mark, "!!float value '%s' is not a number", s);
	} else if (!strcmp(t, "bool")) {
		if ((b = match_bool(s, n)) < 0)
			return yp_error_at(y, ev->start_mark, "!!bool value '%s' is not true or false", s);
		*out = cJSON_CreateBool(b);
	} else if (!strcmp(t, "null")) {
		if (!match_null(s, n))
			return yp_error_at(y, ev->start_mark, "!!null value '%s' is not null", s);
		*out = cJSON_CreateNull();
	} else {
		return yp_error_at(y, ev->start_mark,
				   "YAML tag !!%s cannot be used on a scalar (only !!str, !!int, !!float, !!bool, !!null)",
				   t);
	}
	return *out ? 0 : yp_oom(y);
}

/* The cJSON value of a scalar event (tag, style, text). */
static int yp_scalar(struct yp *y, const yaml_event_t *ev, cJSON **out)
{
	const char *s = (const char *)ev->data.scalar.value;
	size_t n = ev->data.scalar.length;
	const char *tag = (const char *)ev->data.scalar.tag;

	*out = NULL;
	if (strlen(s) != n)
		return yp_error_at(y, ev->start_mark, "%s",
				   "a scalar contains a NUL character (\\0); not supported");
	if (tag && !strcmp(tag, "!"))
		tag = TAG_PREFIX "str";
	if (tag && strncmp(tag, TAG_PREFIX, strlen(TAG_PREFIX)) != 0)
		return yp_error_at(y, ev->start_mark,
				   "unsupported YAML tag %s (only !!str, !!int, !!float, !!bool, !!null, !!map, !!seq)",
				   tag);
	if (tag)
		return yp_tagged_scalar(y, ev, tag + strlen(TAG_PREFIX), out);
	if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
		*out = resolve_plain(s, n);
	if (!*out && !(*out = cJSON_CreateString(s)))
		return yp_oom(y);
	return 0;
}

static int yp_check_collection_tag(struct yp *y, const yaml_event_t *ev,
				   const char *t, const char *want)
{

	if (!t || !strcmp(t, "!"))
		return 0;
	if (!strncmp(t, TAG_PREFIX, strlen(TAG_PREFIX))) {
		if (!strcmp(t + strlen(TAG_PREFIX), want))
			return 0;
		return yp_error_at(y, ev->start_mark,
				   "YAML tag !!%s cannot be used on this collection",
				   t + strlen(TAG_PREFIX));
	}
	return yp_error_at(y, ev->start_mark,
			   "unsupported YAML tag %s on a collection (only !!map, !!seq)", t);
}

static int yp_node(struct yp *y, yaml_event_t *ev, int depth, cJSON **out, size_t *count);

/* An alias: a copy of its anchored node, which has *n nodes. */
static int yp_alias(struct yp *y, const yaml_event_t *ev, cJSON **out, size_t *n)
{
	const struct yp_anchor *a = yp_find_anchor(y, ev->data.alias.anchor);
	int rc;

	if (!a)
		return yp_error_at(y, ev->start_mark, "undefined YAML alias *%s",
				   (const char *)ev->data.alias.anchor);
	if ((rc = yp_count(y, ev->start_mark, a->count)) < 0)
		return rc;
	if (!(*out = cJSON_Duplicate(a->node, 1)))
		return yp_oom(y);
	*n = a->count;
	return 0;
}

/* The items of a sequence up to its end, appended to arr; *n grows by the
 * nodes they have. */
static int yp_seq_items(struct yp *y, int depth, cJSON *arr, size_t *n)
{
	yaml_event_t ev;
	cJSON *child;
	size_t cn;
	int rc;

	for (;;) {
		if ((rc = yp_next(y, &ev)) < 0)
			return rc;
		if (ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			return 0;
		}
		if ((rc = yp_node(y, &ev, depth + 1, &child, &cn)) < 0)
			return rc;
		cJSON_AddItemToArray(arr, child);
		*n += cn;
	}
}

/* A mapping key: a scalar without NUL, anchor or foreign tag, not yet in obj. */
static int yp_check_key(struct yp *y, const yaml_event_t *kev, const cJSON *obj)
{
	const char *key, *ktag;

	if (kev->type != YAML_SCALAR_EVENT)
		return yp_error_at(y, kev->start_mark, "%s",
				   kev->type == YAML_ALIAS_EVENT
				   ? "an alias cannot be a mapping key here"
				   : "a mapping key must be a scalar (not a list or mapping)");
	key = (const char *)kev->data.scalar.value;
	ktag = (const char *)kev->data.scalar.tag;
	if (strlen(key) != kev->data.scalar.length)
		return yp_error_at(y, kev->start_mark, "%s",
				   "a mapping key contains a NUL character");
	if (kev->data.scalar.anchor)
		return yp_error_at(y, kev->start_mark, "%s",
				   "anchors on mapping keys are not supported");
	if (ktag && strcmp(ktag, "!") && strncmp(ktag, TAG_PREFIX, strlen(TAG_PREFIX)))
		return yp_error_at(y, kev->start_mark, "unsupported YAML tag %s", ktag);
	if (cJSON_GetObjectItemCaseSensitive(obj, key))
		return yp_error_at(y, kev->start_mark, "duplicate mapping key '%s'", key);
	return 0;
}

/* Adds child to obj under key; on error child is freed. */
static int yp_add_member(struct yp *y, cJSON *obj, const char *key, cJSON *child)
{
	cJSON_AddItemToObject(obj, key, child);
	if (!cJSON_GetObjectItemCaseSensitive(obj, key)) {
		/* cJSON could not copy the key: the child was not added */
		cJSON_Delete(child);
		return yp_oom(y);
	}
	return 0;
}

/* The pairs of a mapping up to its end, added to obj; *n grows by the nodes
 * of their values. */
static int yp_map_pairs(struct yp *y, int depth, cJSON *obj, size_t *n)
{
	yaml_event_t kev, vev;
	cJSON *child;
	size_t cn = 0;
	int rc;

	for (;;) {
		if ((rc = yp_next(y, &kev)) < 0)
			return rc;
		if (kev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&kev);
			return 0;
		}
		if ((rc = yp_check_key(y, &kev, obj)) == 0 &&
		    (rc = yp_next(y, &vev)) == 0 &&
		    (rc = yp_node(y, &vev, depth + 1, &child, &cn)) == 0)
			rc = yp_add_member(y, obj, (const char *)kev.data.scalar.value, child);
		yaml_event_delete(&kev);
		if (rc < 0)
			return rc;
		*n += cn;
	}
}

/* A sequence or mapping that starts with *ev (which stays the caller's)
 * and has tag (or NULL); *n is 1 and grows by the nodes inside. */
static int yp_collection(struct yp *y, const yaml_event_t *ev, const char *tag, int depth,
			 cJSON **out, size_t *n)
{
	int seq = ev->type == YAML_SEQUENCE_START_EVENT;
	cJSON *node;
	int rc;

	if ((rc = yp_check_collection_tag(y, ev, tag, seq ? "seq" : "map")) < 0 ||
	    (rc = yp_count(y, ev->start_mark, 1)) < 0)
		return rc;
	if (!(node = seq ? cJSON_CreateArray() : cJSON_CreateObject()))
		return yp_oom(y);
	rc = seq ? yp_seq_items(y, depth, node, n) : yp_map_pairs(y, depth, node, n);
	if (rc < 0) {
		cJSON_Delete(node);
		return rc;
	}
	*out = node;
	return 0;
}

/* Builds the node that starts with *ev (which this function deletes).
 * *count is the number of nodes of the result. */
static int yp_node(struct yp *y, yaml_event_t *ev, int depth, cJSON **out, size_t *count)
{
	const char *anchor, *tag;
	cJSON *node = NULL;
	size_t n = 1;
	int rc;

	*out = NULL;
	*count = 0;
	ev_props(ev, &anchor, &tag);
	if (depth > YP_MAX_DEPTH) {
		rc = yp_error_at(y, ev->start_mark, "%s", "YAML nesting deeper than 512 levels");
	} else if (ev->type == YAML_ALIAS_EVENT) {
		rc = yp_alias(y, ev, &node, &n);
	} else if (ev->type == YAML_SCALAR_EVENT) {
		if ((rc = yp_count(y, ev->start_mark, 1)) == 0)
			rc = yp_scalar(y, ev, &node);
	} else if (ev->type == YAML_SEQUENCE_START_EVENT || ev->type == YAML_MAPPING_START_EVENT) {
		rc = yp_collection(y, ev, tag, depth, &node, &n);
	} else {
		rc = yp_error_at(y, ev->start_mark, "%s", "unexpected YAML event");
	}
	if (rc == 0)
		rc = yp_set_anchor(y, anchor, node, n);
	yaml_event_delete(ev);
	if (rc < 0) {
		cJSON_Delete(node);
		return rc;
	}
	*out = node;
	*count = n;
	return 0;
}

/* One document, after its DOCUMENT_START event, through its DOCUMENT_END:
 * *doc is its root (NULL when the document is empty, see yaml.h), *line the
 * 1-based line where the root starts. Anchors end with the document. */
static int yp_document(struct yp *y, cJSON **doc, int *line)
{
	yaml_event_t ev;
	size_t cn;
	int empty, rc;

	*doc = NULL;
	if ((rc = yp_next(y, &ev)) < 0)
		return rc;
	*line = (int)ev.start_mark.line + 1;
	empty = ev.type == YAML_SCALAR_EVENT && ev.data.scalar.length == 0 &&
		ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
		!ev.data.scalar.tag && !ev.data.scalar.anchor;
	if ((rc = yp_node(y, &ev, 0, doc, &cn)) < 0)
		return rc;
	if ((rc = yp_next(y, &ev)) < 0) {
		cJSON_Delete(*doc);
		*doc = NULL;
		return rc;
	}
	yaml_event_delete(&ev); /* DOCUMENT_END */
	yp_clear_anchors(y);
	if (empty) {
		cJSON_Delete(*doc);
		*doc = NULL;
	}
	return 0;
}

/* Appends line as (*lines)[n]. */
static int add_line(int **lines, size_t n, int line, struct prenv_err *err)
{
	int *p = realloc(*lines, (n + 1) * sizeof(*p));

	if (!p)
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	*lines = p;
	p[n] = line;
	return 0;
}

int yaml_parse_json_lines(cJSON **out, int **lines, const char *text, size_t len,
			  const char *filename, struct prenv_err *err)
{
	if (yaml__parse_block(out, lines, text, len) == 0)
		return 0;
	return yaml_parse_json_lines_ref(out, lines, text, len, filename, err);
}

int yaml_parse_json_lines_ref(cJSON **out, int **lines, const char *text, size_t len,
			      const char *filename, struct prenv_err *err)
{
	struct yp y;
	yaml_event_t ev;
	cJSON *docs = NULL, *doc = NULL;
	int *ln = NULL;
	size_t n_docs = 0;
	int rc = 0;

	*out = NULL;
	if (lines)
		*lines = NULL;
	memset(&y, 0, sizeof(y));
	y.file = filename ? filename : "<yaml>";
	y.err = err;
	if (!yaml_parser_initialize(&y.parser))
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	yaml_parser_set_input_string(&y.parser, (const unsigned char *)text, len);
	if (!(docs = cJSON_CreateArray())) {
		rc = yp_oom(&y);
		goto done;
	}
	for (;;) {
		yaml_event_type_t type;
		int line;

		if ((rc = yp_next(&y, &ev)) < 0)
			goto done;
		type = ev.type;
		yaml_event_delete(&ev);
		if (type == YAML_STREAM_END_EVENT)
			break;
		if (type != YAML_DOCUMENT_START_EVENT)
			continue; /* STREAM_START */
		if ((rc = yp_document(&y, &doc, &line)) < 0)
			goto done;
		if (!doc)
			continue;
		if (lines && (rc = add_line(&ln, n_docs, line, err)) < 0)
			goto done;
		cJSON_AddItemToArray(docs, doc);
		doc = NULL;
		n_docs++;
	}
	*out = docs;
	docs = NULL;
	if (lines) {
		*lines = ln;
		ln = NULL;
	}
done:
	yp_clear_anchors(&y);
	free(y.anchors);
	yaml_parser_delete(&y.parser);
	cJSON_Delete(doc);
	cJSON_Delete(docs);
	free(ln);
	return rc;
}

int yaml_parse_json(cJSON **out, const char *text, size_t len,
		    const char *filename, struct prenv_err *err)
{
	return yaml_parse_json_lines(out, NULL, text, len, filename, err);
}

/* --------------------------------------------------------------- emitter */

/* resolve_plain() would type s (without making the item). */
static int plain_typed(const char *s, size_t n)
{
	return match_null(s, n) || match_bool(s, n) >= 0 || match_int(s, n) || match_float(s, n);
}

/* [A-Za-z0-9_./-]: the bytes a plain-safe string is made of (and ':' not
 * at its end). */
static int plain_char(unsigned char c)
{
	static const unsigned long long bits[4] = {
		0x03ffe00000000000ULL,  /* '-' '.' '/' '0'-'9' */
		0x07fffffe87fffffeULL,  /* 'A'-'Z' '_' 'a'-'z' */
		0, 0,
	};

	return (int)((bits[c >> 6] >> (c & 63)) & 1);
}

int yaml_plain_safe(const char *s)
{
	static const struct { const char *w; size_t n; } words[] = {
		{ "true", 4 }, { "false", 5 }, { "yes", 3 }, { "no", 2 }, { "on", 2 },
		{ "off", 3 }, { "y", 1 }, { "n", 1 }, { "null", 4 }, { "nan", 3 }, { "inf", 3 },
	};
	size_t i, k;
	char c = s[0];

	if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '/'))
		return 0; /* also the empty string */
	for (i = 0; plain_char((unsigned char)s[i]); i++)
		;
	while (s[i] == ':' && s[i + 1] != '\0')
		for (i++; plain_char((unsigned char)s[i]); i++)
			;
	if (s[i] != '\0')
		return 0;
	if (i > 5)
		return 1; /* longer than every word, and no number starts with
			   * a letter, '_' or '/' */
	for (k = 0; k < sizeof(words) / sizeof(words[0]); k++)
		if (words[k].n == i && (s[0] | 0x20) == words[k].w[0] && !strcasecmp(s, words[k].w))
			return 0;
	/* Defence in depth: our own resolver must call it a string too. */
	return !plain_typed(s, i);
}

static int ye_write(void *data, unsigned char *buffer, size_t size)
{
	return prenv_buf_add(data, buffer, size) == 0;
}

/* Shortest text that reads back as the same double and as a YAML number. */
static void number_text(char *tmp, size_t cap, const cJSON *item)
{
	double v = item->valuedouble;
	int prec;

	if (isnan(v)) {
		snprintf(tmp, cap, ".nan");
		return;
	}
	if (isinf(v)) {
		snprintf(tmp, cap, v < 0 ? "-.inf" : ".inf");
		return;
	}
	if (item->valuestring && match_int(item->valuestring, strlen(item->valuestring)) == 10 &&
	    strtod(item->valuestring, NULL) == v && strlen(item->valuestring) < cap) {
		snprintf(tmp, cap, "%s", item->valuestring);
		return;
	}
	if (v == floor(v) && fabs(v) < 1e15 && (v != 0 || !signbit(v)) && cap >= 24) {
		/* the same digits as %.0f, without printf */
		unsigned long long u = (unsigned long long)fabs(v);
		char d[24], *p = d + sizeof(d);

		*--p = '\0';
		do
			*--p = (char)('0' + u % 10);
		while ((u /= 10) != 0);
		if (v < 0)
			*--p = '-';
		memcpy(tmp, p, (size_t)(d + sizeof(d) - p));
		return;
	}
	if (v == floor(v) && fabs(v) < 1e17) {
		snprintf(tmp, cap, "%.0f", v);
		if (!strcmp(tmp, "-0"))
			snprintf(tmp, cap, "-0.0");
		return;
	}
	for (prec = 15; prec <= 17; prec++) {
		snprintf(tmp, cap, "%.*g", prec, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	/* %g of a non-integral or huge value always has '.', 'e' or both:
	 * a core-schema float. */
}

static int ye_emit(yaml_emitter_t *em, yaml_event_t *ev, struct prenv_err *err)
{
	if (yaml_emitter_emit(em, ev))
		return 0;
	return prenv_err_set(err, em->error == YAML_MEMORY_ERROR ? PRENV_ENOMEM : PRENV_EFAIL,
			     "YAML emitter: %s", em->problem ? em->problem : "error");
}

static int ye_scalar(yaml_emitter_t *em, const char *s, int string, struct prenv_err *err)
{
	yaml_event_t ev;
	int plain = !string || yaml_plain_safe(s);

	if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)(uintptr_t)s,
					  (int)strlen(s), plain, !plain,
					  plain ? YAML_PLAIN_SCALAR_STYLE
						: YAML_DOUBLE_QUOTED_SCALAR_STYLE))
		return prenv_err_set(err, PRENV_EFAIL,
				     "cannot write a string as YAML (not valid UTF-8?)");
	return ye_emit(em, &ev, err);
}

static int ye_node(yaml_emitter_t *em, const cJSON *item, int depth, struct prenv_err *err)
{
	yaml_event_t ev;
	const cJSON *c;
	char tmp[64];
	int rc;

	if (depth > YP_MAX_DEPTH)
		return prenv_err_set(err, PRENV_EFAIL, "value nested deeper than 512 levels");
	if (cJSON_IsObject(item)) {
		yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
		if ((rc = ye_emit(em, &ev, err)) < 0)
			return rc;
		for (c = item->child; c; c = c->next) {
			if (!c->string)
				return prenv_err_set(err, PRENV_EFAIL, "object member without a name");
			if ((rc = ye_scalar(em, c->string, 1, err)) < 0 ||
			    (rc = ye_node(em, c, depth + 1, err)) < 0)
				return rc;
		}
		yaml_mapping_end_event_initialize(&ev);
		return ye_emit(em, &ev, err);
	}
	if (cJSON_IsArray(item)) {
		yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
		if ((rc = ye_emit(em, &ev, err)) < 0)
			return rc;
		for (c = item->child; c; c = c->next)
			if ((rc = ye_node(em, c, depth + 1, err)) < 0)
				return rc;
		yaml_sequence_end_event_initialize(&ev);
		return ye_emit(em, &ev, err);
	}
	if (cJSON_IsString(item))
		return ye_scalar(em, item->valuestring ? item->valuestring : "", 1, err);
	if (cJSON_IsNumber(item)) {
		number_text(tmp, sizeof(tmp), item);
		return ye_scalar(em, tmp, 0, err);
	}
	if (cJSON_IsTrue(item))
		return ye_scalar(em, "true", 0, err);
	if (cJSON_IsFalse(item))
		return ye_scalar(em, "false", 0, err);
	if (cJSON_IsNull(item))
		return ye_scalar(em, "null", 0, err);
	return prenv_err_set(err, PRENV_EFAIL, "cannot write this JSON value as YAML (raw/invalid)");
}

int yaml_emit_json_ref(struct prenv_buf *out, const cJSON *doc, struct prenv_err *err)
{
	yaml_emitter_t em;
	yaml_event_t ev;
	size_t start = out->len;
	int rc;

	if (!yaml_emitter_initialize(&em))
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	yaml_emitter_set_output(&em, ye_write, out);
	yaml_emitter_set_unicode(&em, 1);
	yaml_emitter_set_indent(&em, 2);
	yaml_emitter_set_width(&em, -1);
	yaml_emitter_set_break(&em, YAML_LN_BREAK);

	yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
	if ((rc = ye_emit(&em, &ev, err)) < 0)
		goto done;
	yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 0);
	if ((rc = ye_emit(&em, &ev, err)) < 0)
		goto done;
	if ((rc = ye_node(&em, doc, 0, err)) < 0)
		goto done;
	yaml_document_end_event_initialize(&ev, 1);
	if ((rc = ye_emit(&em, &ev, err)) < 0)
		goto done;
	yaml_stream_end_event_initialize(&ev);
	if ((rc = ye_emit(&em, &ev, err)) < 0)
		goto done;
	if (!yaml_emitter_flush(&em) || out->failed)
		rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory writing YAML");
done:
	yaml_emitter_delete(&em);
	if (rc < 0 && !out->failed)
		prenv_buf_truncate(out, start);
	return rc;
}

/* ---------------------------------------------------- the fast emitter */

/* yaml_emit_json writes what libyaml's emitter writes for the same events
 * (yaml_emit_json_ref, kept as the reference: test_yaml compares the two on
 * tables and random documents) at a fraction of its cost: libyaml's emitter
 * analyses every scalar a character at a time through a state machine,
 * which was a third of `prenv render` (issue 15 item 7). The shapes it does
 * not cover - a root that is not a non-empty mapping, a key libyaml writes
 * as "? key" (over 128 bytes or with a line break), text that is not
 * valid UTF-8 - go to the reference, so the output never differs. */

struct fe {
	struct prenv_buf *out;
	int fallback;           /* a shape for the reference emitter */
};

/* Length of the UTF-8 character at p (1-4), or 0 when invalid. */
static size_t fe_utf8_len(const unsigned char *p)
{
	size_t n, i;
	unsigned long cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xC2 && p[0] <= 0xDF)
		n = 2, cp = p[0] & 0x1F;
	else if (p[0] >= 0xE0 && p[0] <= 0xEF)
		n = 3, cp = p[0] & 0x0F;
	else if (p[0] >= 0xF0 && p[0] <= 0xF4)
		n = 4, cp = p[0] & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3F);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return n;
}

/* libyaml's IS_PRINTABLE, IS_BOM and IS_BREAK on one character. */
static int fe_raw_ok(const unsigned char *p, size_t n)
{
	if (n == 1)
		return p[0] >= 0x20 && p[0] <= 0x7E && p[0] != '"' && p[0] != '\\';
	if (n == 2)
		return p[0] > 0xC2 || p[1] >= 0xA0;
	if (n == 3) {
		if (p[0] == 0xE2 && p[1] == 0x80 && (p[2] == 0xA8 || p[2] == 0xA9))
			return 0; /* line and paragraph separators */
		if (p[0] == 0xED)
			return p[1] < 0xA0;
		if (p[0] == 0xEF)
			return !(p[1] == 0xBB && p[2] == 0xBF) &&
			       !(p[1] == 0xBF && (p[2] == 0xBE || p[2] == 0xBF));
		return 1;
	}
	return 0; /* libyaml escapes everything beyond the BMP */
}

static unsigned long fe_code_point(const unsigned char *p, size_t n)
{
	unsigned long cp = n == 1 ? p[0] : p[0] & (0xFF >> (n + 1));
	size_t i;

	for (i = 1; i < n; i++)
		cp = (cp << 6) | (p[i] & 0x3F);
	return cp;
}

static void fe_escape(struct prenv_buf *b, unsigned long cp)
{
	static const char from[] = "\0\a\b\t\n\v\f\r\x1b\"\\";
	static const char to[] = "0abtnvfre\"\\";
	const char *hit = cp < 0x80 ? memchr(from, (int)cp, sizeof(from) - 1) : NULL;

	if (hit)
		prenv_buf_printf(b, "\\%c", to[hit - from]);
	else if (cp == 0x85 || cp == 0xA0 || cp == 0x2028 || cp == 0x2029)
		prenv_buf_printf(b, "\\%c", cp == 0x85 ? 'N' : cp == 0xA0 ? '_' : cp == 0x2028 ? 'L' : 'P');
	else if (cp <= 0xFF)
		prenv_buf_printf(b, "\\x%02lX", cp);
	else if (cp <= 0xFFFF)
		prenv_buf_printf(b, "\\u%04lX", cp);
	else
		prenv_buf_printf(b, "\\U%08lX", cp);
}

/* A string scalar: plain when yaml_plain_safe(), else double-quoted as
 * libyaml quotes it (unicode on, no line width). */
static void fe_string(struct fe *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t run = 0;

	if (yaml_plain_safe(s)) {
		prenv_buf_adds(f->out, s);
		return;
	}
	prenv_buf_add(f->out, "\"", 1);
	while (p[run]) {
		size_t n = fe_utf8_len(p + run);

		if (!n) {
			f->fallback = 1;
			return;
		}
		if (fe_raw_ok(p + run, n)) {
			run += n;
			continue;
		}
		prenv_buf_add(f->out, p, run);
		fe_escape(f->out, fe_code_point(p + run, n));
		p += run + n;
		run = 0;
	}
	prenv_buf_add(f->out, p, run);
	prenv_buf_add(f->out, "\"", 1);
}

/* A key libyaml writes as a simple key: at most 128 bytes, no line break. */
static int fe_simple_key(const char *k)
{
	const unsigned char *p = (const unsigned char *)k;
	size_t i;

	for (i = 0; p[i]; i++) {
		if (i >= 128 || p[i] == '\r' || p[i] == '\n' || (p[i] == 0xC2 && p[i + 1] == 0x85) ||
		    (p[i] == 0xE2 && p[i + 1] == 0x80 && (p[i + 2] == 0xA8 || p[i + 2] == 0xA9)))
			return 0;
	}
	return 1;
}

static int fe_collection(const cJSON *v)
{
	return (cJSON_IsObject(v) || cJSON_IsArray(v)) && v->child;
}

static void fe_indent(struct fe *f, int indent)
{
	static const char sp[] = "                                ";

	while (indent > 0) {
		int k = indent < 32 ? indent : 32;

		prenv_buf_add(f->out, sp, (size_t)k);
		indent -= k;
	}
}

static void fe_node(struct fe *f, const cJSON *v, int indent, int inline_first, int depth);

/* A scalar or an empty collection, after "key:" or "-" (with its space). */
static void fe_leaf(struct fe *f, const cJSON *v)
{
	char tmp[64];

	if (cJSON_IsObject(v))
		prenv_buf_adds(f->out, "{}");
	else if (cJSON_IsArray(v))
		prenv_buf_adds(f->out, "[]");
	else if (cJSON_IsString(v))
		fe_string(f, v->valuestring ? v->valuestring : "");
	else if (cJSON_IsNumber(v)) {
		number_text(tmp, sizeof(tmp), v);
		prenv_buf_adds(f->out, tmp);
	} else if (cJSON_IsTrue(v) || cJSON_IsFalse(v) || cJSON_IsNull(v))
		prenv_buf_adds(f->out, cJSON_IsTrue(v) ? "true" : cJSON_IsFalse(v) ? "false" : "null");
	else
		f->fallback = 1;
	prenv_buf_add(f->out, "\n", 1);
}

/* A non-empty mapping or sequence at indent; its first line follows
 * "- " already written when inline_first. Sequences in mappings are not
 * indented (libyaml's default). */
static void fe_node(struct fe *f, const cJSON *v, int indent, int inline_first, int depth)
{
	const cJSON *c;
	int obj = cJSON_IsObject(v);

	if (depth > YP_MAX_DEPTH) {
		f->fallback = 1;
		return;
	}
	for (c = v->child; c && !f->fallback; c = c->next, inline_first = 0) {
		if (!inline_first)
			fe_indent(f, indent);
		if (obj) {
			if (!c->string || !fe_simple_key(c->string)) {
				f->fallback = 1;
				return;
			}
			fe_string(f, c->string);
			prenv_buf_add(f->out, ":", 1);
			if (!fe_collection(c)) {
				prenv_buf_add(f->out, " ", 1);
				fe_leaf(f, c);
			} else {
				prenv_buf_add(f->out, "\n", 1);
				fe_node(f, c, cJSON_IsObject(c) ? indent + 2 : indent, 0, depth + 1);
			}
		} else {
			prenv_buf_add(f->out, "- ", 2);
			if (!fe_collection(c))
				fe_leaf(f, c);
			else
				fe_node(f, c, indent + 2, 1, depth + 1);
		}
	}
}

int yaml_emit_json(struct prenv_buf *out, const cJSON *doc, struct prenv_err *err)
{
	struct fe f = { out, 0 };
	size_t start = out->len;

	if (!cJSON_IsObject(doc) || !doc->child)
		return yaml_emit_json_ref(out, doc, err);
	prenv_buf_adds(out, "---\n");
	fe_node(&f, doc, 0, 0, 0);
	if (out->failed)
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory writing YAML");
	if (f.fallback) {
		prenv_buf_truncate(out, start);
		return yaml_emit_json_ref(out, doc, err);
	}
	return 0;
}

/* ------------------------------------------------------- positioned tree */

struct yaml_doc {
	struct yaml_node *root;
	struct yaml_node **all; /* every node, each once: what yaml_doc_free frees */
	size_t n_all, cap_all;
};

/* A collection whose end event has not come yet. */
struct td_open {
	struct yaml_node *node;
	size_t cap;             /* of node->items or node->pairs */
	struct yaml_node *key;  /* map: the key of the pair being read, or NULL */
	char *anchor;           /* non-strict: its anchor, registered at its end */
};

struct td_anchor {
	char *name;
	struct yaml_node *node;
};

/* The loader's state. */
struct td {
	yaml_parser_t parser;
	struct yaml_doc *doc;
	const char *file;
	unsigned flags;
	struct prenv_err *err;
	int docs;               /* DOCUMENT_START events so far */
	int depth;              /* collections open in the stream, any document */
	struct td_open *open;   /* innermost last */
	size_t n_open, cap_open;
	struct td_anchor *anchors;
	size_t n_anchors, cap_anchors;
};

static int td_oom(struct td *t)
{
	return prenv_err_set(t->err, PRENV_ENOMEM, "out of memory");
}

/* A YAML error at line:col of the file (1-based). */
#define td_fail_at(t, line, col, ...) \
	prenv_err_set_at((t)->err, PRENV_ECONFIG, (t)->file, (line), (col), __VA_ARGS__)

static int td_syntax_error(struct td *t)
{
	const yaml_parser_t *ps = &t->parser;
	const char *problem = ps->problem ? ps->problem : "invalid YAML";

	if (ps->error == YAML_MEMORY_ERROR)
		return td_oom(t);
	if (ps->context)
		return td_fail_at(t, (int)ps->problem_mark.line + 1, (int)ps->problem_mark.column + 1,
				  "YAML syntax error: %s (%s that starts at line %d, column %d); "
				  "check the indentation and quoting", problem, ps->context,
				  (int)ps->context_mark.line + 1, (int)ps->context_mark.column + 1);
	return td_fail_at(t, (int)ps->problem_mark.line + 1, (int)ps->problem_mark.column + 1,
			  "YAML syntax error: %s; check the indentation and quoting", problem);
}

/* YAML_DOC_STRICT: an alias, an anchor, a tag or a second document (t->docs
 * counts ev already) is an error at the event's start. */
static int td_strict(struct td *t, const yaml_event_t *ev)
{
	const char *anchor, *tag;

	if (ev->type == YAML_DOCUMENT_START_EVENT && t->docs > 1)
		return td_fail_at(t, EV_LINE(ev), EV_COL(ev), "a second YAML document starts "
				  "here; a config holds one document (remove the '---')");
	if (ev->type == YAML_ALIAS_EVENT)
		return td_fail_at(t, EV_LINE(ev), EV_COL(ev), "YAML aliases (*%s) are not "
				  "supported in a config; write the value out",
				  (const char *)ev->data.alias.anchor);
	ev_props(ev, &anchor, &tag);
	if (anchor)
		return td_fail_at(t, EV_LINE(ev), EV_COL(ev), "YAML anchors (&%s) are not "
				  "supported in a config; remove it", anchor);
	if (tag)
		return td_fail_at(t, EV_LINE(ev), EV_COL(ev), "YAML tags (%s) are not supported "
				  "in a config; %s", tag, ev->type == YAML_SCALAR_EVENT
				  ? "quote the value instead" : "remove it");
	return 0;
}

/* A new node of kind at ev's start, listed in the document; a scalar gets a
 * copy of ev's text in the same allocation. */
static struct yaml_node *td_new_node(struct td *t, enum yaml_kind kind, const yaml_event_t *ev)
{
	struct yaml_doc *d = t->doc;
	size_t len = kind == YAML_KIND_SCALAR ? ev->data.scalar.length : 0;
	struct yaml_node *n;
	char *text;

	if (d->n_all == d->cap_all) {
		struct yaml_node **p = grow(d->all, &d->cap_all, sizeof(*p));

		if (!p)
			return NULL;
		d->all = p;
	}
	if (len > SIZE_MAX - sizeof(*n) - 1 || !(n = calloc(1, sizeof(*n) + len + 1)))
		return NULL;
	text = (char *)(n + 1);
	if (len)
		memcpy(text, ev->data.scalar.value, len);
	text[len] = '\0';
	n->kind = kind;
	n->line = EV_LINE(ev);
	n->col = EV_COL(ev);
	n->text = text;
	n->len = len;
	n->plain = kind == YAML_KIND_SCALAR && ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	d->all[d->n_all++] = n;
	return n;
}

/* Puts node where the stream says: the root, the next item of the open
 * sequence, or the key or the value of the open mapping's next pair. */
static int td_attach(struct td *t, struct yaml_node *node)
{
	struct td_open *o;
	struct yaml_node *c;

	if (!t->n_open) {
		t->doc->root = node;
		return 0;
	}
	o = &t->open[t->n_open - 1];
	c = o->node;
	if (c->kind == YAML_KIND_MAP && !o->key) {
		o->key = node;
		return 0;
	}
	if (c->n == o->cap) {
		void *p = c->kind == YAML_KIND_SEQ ? grow(c->items, &o->cap, sizeof(*c->items))
						   : grow(c->pairs, &o->cap, sizeof(*c->pairs));
		if (!p)
			return td_oom(t);
		if (c->kind == YAML_KIND_SEQ)
			c->items = p;
		else
			c->pairs = p;
	}
	if (c->kind == YAML_KIND_SEQ) {
		c->items[c->n++] = node;
	} else {
		c->pairs[c->n].key = o->key;
		c->pairs[c->n++].value = node;
		o->key = NULL;
	}
	return 0;
}

/* Non-strict: name (NULL: nothing) now means node; a later anchor of the
 * same name hides an earlier one. Takes name (malloc'd) in every case. */
static int td_set_anchor(struct td *t, char *name, struct yaml_node *node)
{
	if (!name)
		return 0;
	if (t->n_anchors == t->cap_anchors) {
		struct td_anchor *p = grow(t->anchors, &t->cap_anchors, sizeof(*p));

		if (!p) {
			free(name);
			return td_oom(t);
		}
		t->anchors = p;
	}
	t->anchors[t->n_anchors].name = name;
	t->anchors[t->n_anchors++].node = node;
	return 0;
}

/* A copy of ev's anchor when anchors are kept (non-strict); NULL with *rc 0
 * when there is none, NULL with *rc < 0 when out of memory. */
static char *td_anchor_copy(struct td *t, const yaml_event_t *ev, int *rc)
{
	const char *anchor, *tag;
	char *copy;

	*rc = 0;
	ev_props(ev, &anchor, &tag);
	if (!anchor || (t->flags & YAML_DOC_STRICT))
		return NULL;
	if (!(copy = strdup(anchor)))
		*rc = td_oom(t);
	return copy;
}

static int td_scalar(struct td *t, const yaml_event_t *ev)
{
	struct yaml_node *n = td_new_node(t, YAML_KIND_SCALAR, ev);
	char *anchor;
	int rc;

	if (!n)
		return td_oom(t);
	if ((rc = td_attach(t, n)) < 0)
		return rc;
	anchor = td_anchor_copy(t, ev, &rc);
	return rc < 0 ? rc : td_set_anchor(t, anchor, n);
}

/* A sequence or mapping starts: attached now, filled until its end. */
static int td_open_collection(struct td *t, const yaml_event_t *ev, enum yaml_kind kind)
{
	struct yaml_node *n = td_new_node(t, kind, ev);
	struct td_open *o;
	int rc;

	if (!n)
		return td_oom(t);
	if ((rc = td_attach(t, n)) < 0)
		return rc;
	if (t->n_open == t->cap_open) {
		struct td_open *p = grow(t->open, &t->cap_open, sizeof(*p));

		if (!p)
			return td_oom(t);
		t->open = p;
	}
	o = &t->open[t->n_open];
	memset(o, 0, sizeof(*o));
	o->node = n;
	o->anchor = td_anchor_copy(t, ev, &rc);
	if (rc < 0)
		return rc;
	t->n_open++;
	return 0;
}

/* The innermost collection ends; its anchor (if kept) takes effect now, so
 * an alias can never point into a collection from inside it (no cycles). */
static int td_close_collection(struct td *t)
{
	struct td_open *o = &t->open[--t->n_open];

	return td_set_anchor(t, o->anchor, o->node);
}

/* Non-strict: an alias is its anchored node, attached once more. */
static int td_alias(struct td *t, const yaml_event_t *ev)
{
	const char *name = (const char *)ev->data.alias.anchor;
	size_t i;

	for (i = t->n_anchors; i-- > 0;)
		if (!strcmp(t->anchors[i].name, name))
			return td_attach(t, t->anchors[i].node);
	return td_fail_at(t, EV_LINE(ev), EV_COL(ev), "undefined YAML alias *%s", name);
}

/* Builds the tree from one event of the first document. */
static int td_event(struct td *t, const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		return td_scalar(t, ev);
	case YAML_SEQUENCE_START_EVENT:
		return td_open_collection(t, ev, YAML_KIND_SEQ);
	case YAML_MAPPING_START_EVENT:
		return td_open_collection(t, ev, YAML_KIND_MAP);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		return td_close_collection(t);
	case YAML_ALIAS_EVENT:
		return td_alias(t, ev);
	default:
		return 0; /* stream and document start and end */
	}
}

/* Nesting is limited in every document: libyaml's scanner takes time
 * quadratic in the depth of flow collections (256 KiB of "{a: " took 151 s),
 * so the stream stops being read at the first node too deep. */
static int td_depth(struct td *t, const yaml_event_t *ev)
{
	if (ev->type == YAML_SEQUENCE_END_EVENT || ev->type == YAML_MAPPING_END_EVENT)
		t->depth--;
	if (ev->type != YAML_SEQUENCE_START_EVENT && ev->type != YAML_MAPPING_START_EVENT)
		return 0;
	if (++t->depth > YP_MAX_DEPTH)
		return td_fail_at(t, EV_LINE(ev), EV_COL(ev), "YAML nesting deeper than %d levels",
				  YP_MAX_DEPTH);
	return 0;
}

/* Every event of the stream: checked (strict), and those of the first
 * document built into t->doc. */
static int td_run(struct td *t)
{
	yaml_event_t ev;
	int rc = 0, end;

	do {
		if (!yaml_parser_parse(&t->parser, &ev))
			return td_syntax_error(t);
		end = ev.type == YAML_STREAM_END_EVENT;
		if (ev.type == YAML_DOCUMENT_START_EVENT)
			t->docs++;
		rc = td_depth(t, &ev);
		if (!rc && (t->flags & YAML_DOC_STRICT))
			rc = td_strict(t, &ev);
		if (!rc && t->docs == 1)
			rc = td_event(t, &ev);
		yaml_event_delete(&ev);
	} while (!rc && !end);
	return rc;
}

int yaml_doc_load(struct yaml_doc **out, const char *text, size_t len,
		  const char *filename, unsigned flags, struct prenv_err *err)
{
	struct td t;
	size_t i;
	int rc;

	*out = NULL;
	memset(&t, 0, sizeof(t));
	t.file = filename ? filename : "<yaml>";
	t.flags = flags;
	t.err = err;
	if (!(t.doc = calloc(1, sizeof(*t.doc))))
		return td_oom(&t);
	if (!yaml_parser_initialize(&t.parser)) {
		free(t.doc);
		return td_oom(&t);
	}
	yaml_parser_set_input_string(&t.parser, (const unsigned char *)text, len);
	rc = td_run(&t);
	yaml_parser_delete(&t.parser);
	for (i = 0; i < t.n_open; i++)
		free(t.open[i].anchor);
	free(t.open);
	for (i = 0; i < t.n_anchors; i++)
		free(t.anchors[i].name);
	free(t.anchors);
	if (rc < 0) {
		yaml_doc_free(t.doc);
		return rc;
	}
	*out = t.doc;
	return 0;
}

const struct yaml_node *yaml_doc_root(const struct yaml_doc *doc)
{
	return doc ? doc->root : NULL;
}

void yaml_doc_free(struct yaml_doc *doc)
{
	size_t i;

	if (!doc)
		return;
	for (i = 0; i < doc->n_all; i++) {
		free(doc->all[i]->items);
		free(doc->all[i]->pairs);
		free(doc->all[i]);
	}
	free(doc->all);
	free(doc);
}

const struct yaml_node *yaml_map_get(const struct yaml_node *map, const char *key)
{
	size_t i;

	if (!map || map->kind != YAML_KIND_MAP)
		return NULL;
	for (i = 0; i < map->n; i++) {
		const struct yaml_node *k = map->pairs[i].key;

		if (k->kind == YAML_KIND_SCALAR && !strcmp(k->text, key))
			return map->pairs[i].value;
	}
	return NULL;
}
