/* yaml_block.c - the fast path of yaml_parse_json_lines() (see yaml.c).
 *
 * Rendered manifests are nearly always the same small part of YAML: block
 * mappings and sequences, one scalar a line, plain or quoted. This reads
 * exactly that part, in one pass over the text with no libyaml, into the
 * same cJSON the libyaml path builds (same typing, same key order, same
 * document lines). Anything else - a tab, a carriage return, a byte outside
 * printable ASCII, flow collections, block scalars, anchors, aliases, tags,
 * directives, "...", a multi-line scalar, a duplicate key, a key that is not
 * [A-Za-z0-9_/][A-Za-z0-9_./-]*, nesting deeper than 500 - makes it give up
 * on the whole text (YB_NO), and the caller parses it with libyaml, which
 * also writes every error message. So this never reports an error, never
 * accepts what libyaml refuses, and never reads a document differently
 * (test_yaml compares the two paths on a table and on random documents).
 */
#include "util/yaml_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define YB_MAX_DEPTH 500
#define YB_MAX_NODES 1000000
#define YB_KEY_MAX 256

struct yb {
	const char *s;
	size_t n;
	size_t ls, le;  /* the current line is s[ls, le) */
	size_t cur;     /* the cursor on it */
	size_t next;    /* where the line after it starts */
	int line;       /* its 1-based number */
	int indent;     /* its leading spaces */
	int eof;        /* no line left */
	int doc;        /* it starts with "---" at column 1 */
	size_t nodes;
	char *tmp;      /* scratch for a scalar's text */
	size_t tmp_len, tmp_cap;
};

/* Moves to the next line holding content (blank and comment lines are
 * skipped: they do not count for structure). */
static void yb_advance(struct yb *y)
{
	for (;;) {
		const char *nl;
		size_t p;

		if (y->next >= y->n) {
			y->eof = 1;
			y->doc = 0;
			y->ls = y->le = y->cur = y->n;
			y->indent = -1;
			return;
		}
		y->ls = y->next;
		nl = memchr(y->s + y->ls, '\n', y->n - y->ls);
		y->le = nl ? (size_t)(nl - y->s) : y->n;
		y->next = nl ? y->le + 1 : y->n;
		y->line++;
		for (p = y->ls; p < y->le && y->s[p] == ' '; p++)
			;
		if (p == y->le || y->s[p] == '#')
			continue;
		y->indent = (int)(p - y->ls);
		y->cur = p;
		y->doc = p == y->ls && y->le - y->ls >= 3 && !memcmp(y->s + p, "---", 3);
		return;
	}
}

/* The current line belongs to a node indented deeper than col. */
static int yb_deeper(const struct yb *y, int col)
{
	return !y->eof && !y->doc && y->indent > col;
}

static void yb_skip_spaces(struct yb *y)
{
	while (y->cur < y->le && y->s[y->cur] == ' ')
		y->cur++;
}

/* Nothing but blanks and a comment left on the line. */
static int yb_rest_empty(const struct yb *y)
{
	return y->cur >= y->le || (y->s[y->cur] == '#' && y->s[y->cur - 1] == ' ');
}

/* "-" followed by a space or the end of the line at the cursor. */
static int yb_is_dash(const struct yb *y)
{
	return y->cur < y->le && y->s[y->cur] == '-' &&
	       (y->cur + 1 == y->le || y->s[y->cur + 1] == ' ');
}

static int yb_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Where the ':' of a "key:" at the cursor is, or 0 when there is none. */
static size_t yb_key_end(const struct yb *y)
{
	size_t p = y->cur;

	if (p >= y->le || !(yb_alnum(y->s[p]) || y->s[p] == '_' || y->s[p] == '/'))
		return 0;
	while (p < y->le && (yb_alnum(y->s[p]) || y->s[p] == '_' || y->s[p] == '.' ||
			     y->s[p] == '/' || y->s[p] == '-'))
		p++;
	if (p >= y->le || y->s[p] != ':' || (p + 1 < y->le && y->s[p + 1] != ' '))
		return 0;
	return p;
}

static int yb_count(struct yb *y)
{
	return ++y->nodes <= YB_MAX_NODES;
}

/* ------------------------------------------------------------- scalars */

static int yb_put(struct yb *y, const char *p, size_t n)
{
	if (y->tmp_len + n + 1 > y->tmp_cap) {
		size_t cap = y->tmp_cap ? y->tmp_cap : 256;
		char *q;

		while (cap < y->tmp_len + n + 1)
			cap *= 2;
		if (!(q = realloc(y->tmp, cap)))
			return 0;
		y->tmp = q;
		y->tmp_cap = cap;
	}
	memcpy(y->tmp + y->tmp_len, p, n);
	y->tmp_len += n;
	y->tmp[y->tmp_len] = '\0';
	return 1;
}

/* Appends code point cp as UTF-8; 0 for what libyaml refuses (or NUL,
 * which the libyaml path refuses). */
static int yb_put_cp(struct yb *y, unsigned long cp)
{
	char u[4];
	size_t n;

	if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return yb_put(y, u, n);
}

/* The code point of a \x, \u or \U escape whose digits start at p. */
static int yb_hex(const struct yb *y, size_t p, size_t digits, unsigned long *cp)
{
	size_t i;

	*cp = 0;
	if (p + digits > y->le)
		return 0;
	for (i = 0; i < digits; i++) {
		char c = y->s[p + i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
			c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;

		if (d < 0)
			return 0;
		*cp = *cp * 16 + (unsigned long)d;
	}
	return 1;
}

/* One escape of a double-quoted scalar; p is at the letter after '\'.
 * Returns the length of the escape after the '\', 0 when unsupported. */
static size_t yb_escape(struct yb *y, size_t p)
{
	static const char simple[] = "\\\\\"\"//n\nt\tr\rb\bf\fa\av\ve\033  ";
	const char *e;
	unsigned long cp;
	size_t digits;

	if (p >= y->le)
		return 0;
	for (e = simple; *e; e += 2)
		if (*e == y->s[p])
			return yb_put(y, e + 1, 1) ? 1 : 0;
	switch (y->s[p]) {
	case 'N': return yb_put_cp(y, 0x85) ? 1 : 0;
	case '_': return yb_put_cp(y, 0xa0) ? 1 : 0;
	case 'L': return yb_put_cp(y, 0x2028) ? 1 : 0;
	case 'P': return yb_put_cp(y, 0x2029) ? 1 : 0;
	case 'x': digits = 2; break;
	case 'u': digits = 4; break;
	case 'U': digits = 8; break;
	default: return 0;
	}
	if (!yb_hex(y, p + 1, digits, &cp) || !yb_put_cp(y, cp))
		return 0;
	return 1 + digits;
}

/* A quoted scalar on one line, into y->tmp; the cursor ends after the
 * closing quote. 0 when it does not close on this line. */
static int yb_quoted(struct yb *y)
{
	char q = y->s[y->cur];
	size_t p = y->cur + 1, from;

	y->tmp_len = 0;
	if (!yb_put(y, "", 0))
		return 0;
	for (;;) {
		size_t k;

		for (from = p; p < y->le && y->s[p] != q && (q == '\'' || y->s[p] != '\\'); p++)
			;
		if (p >= y->le || !yb_put(y, y->s + from, p - from))
			return 0;
		if (q == '"' && y->s[p] == '\\') {
			if (!(k = yb_escape(y, p + 1)))
				return 0;
			p += 1 + k;
		} else if (q == '\'' && p + 1 < y->le && y->s[p + 1] == '\'') {
			if (!yb_put(y, "'", 1))
				return 0;
			p += 2;
		} else {
			y->cur = p + 1;
			return 1;
		}
	}
}

/* A plain scalar that fills the rest of the line (up to a comment). */
static cJSON *yb_plain(struct yb *y)
{
	size_t p, end;
	char c = y->s[y->cur];
	cJSON *v;

	if (strchr("?:,[]{}#&*!|>'\"%@`", c) || (c == '-' && yb_is_dash(y)))
		return NULL;
	for (p = y->cur; p < y->le; p++) {
		if (y->s[p] == ':' && (p + 1 == y->le || y->s[p + 1] == ' '))
			return NULL; /* a mapping where libyaml refuses one */
		if (y->s[p] == '#' && y->s[p - 1] == ' ')
			break;
	}
	for (end = p; end > y->cur && y->s[end - 1] == ' '; end--)
		;
	if ((v = yaml__resolve_plain(y->s + y->cur, end - y->cur)) != NULL)
		return v;
	y->tmp_len = 0;
	if (!yb_put(y, y->s + y->cur, end - y->cur))
		return NULL;
	return cJSON_CreateString(y->tmp);
}

/* The scalar at the cursor, which must end its line. */
static cJSON *yb_scalar(struct yb *y)
{
	char c = y->s[y->cur];

	if (c != '"' && c != '\'')
		return yb_plain(y);
	if (!yb_quoted(y))
		return NULL;
	yb_skip_spaces(y);
	if (!yb_rest_empty(y))
		return NULL; /* a quoted key, or text after the quote */
	return cJSON_CreateString(y->tmp);
}

/* ---------------------------------------------------------- collections */

static cJSON *yb_map(struct yb *y, int col, int depth);
static cJSON *yb_seq(struct yb *y, int col, int depth);

/* The block collection at the cursor (column col). */
static cJSON *yb_block(struct yb *y, int col, int depth)
{
	if (depth > YB_MAX_DEPTH)
		return NULL;
	if (yb_is_dash(y))
		return yb_seq(y, col, depth);
	if (yb_key_end(y))
		return yb_map(y, col, depth);
	return NULL;
}

/* The value after "key:" or "-" when the rest of the line is empty: the
 * deeper block below, the compact sequence below a key (same column), or
 * null. */
static cJSON *yb_value_below(struct yb *y, int col, int key, int depth)
{
	yb_advance(y);
	if (yb_deeper(y, col))
		return yb_block(y, y->indent, depth + 1);
	if (key && !y->eof && !y->doc && y->indent == col && yb_is_dash(y))
		return yb_seq(y, col, depth + 1);
	return cJSON_CreateNull();
}

/* A scalar ending its line; the next line must not be deeper than col (a
 * continuation line: libyaml's business). */
static cJSON *yb_value_inline(struct yb *y, int col)
{
	cJSON *v = yb_scalar(y);

	yb_advance(y);
	if (v && yb_deeper(y, col)) {
		cJSON_Delete(v);
		return NULL;
	}
	return v;
}

/* The keys nearly every manifest has. A key among them is added as a
 * constant (cJSON_AddItemToObjectCS: these static strings, never copied or
 * freed) instead of a copy: two allocations fewer per member. */
static const char *const yb_common[] = {
	"apiVersion", "kind", "metadata", "name", "namespace", "labels", "annotations",
	"spec", "replicas", "selector", "matchLabels", "template", "containers", "image",
	"ports", "containerPort", "env", "value", "data", "type", "protocol", "port",
	"targetPort", "resources", "limits", "requests", "cpu", "memory", "args",
	"command", "volumeMounts", "volumes", "mountPath", "imagePullPolicy", "rules",
	"host", "http", "paths", "path", "pathType", "backend", "service", "number", "app",
	"stringData", "restartPolicy", "serviceAccountName", "securityContext",
	"livenessProbe", "readinessProbe", "httpGet", "initialDelaySeconds",
	"periodSeconds", "tls", "hosts", "secretName", "ingressClassName", "configMap",
	"secret", "key", "valueFrom", "secretKeyRef", "configMapKeyRef", "envFrom",
	"initContainers", "nodeSelector", "tolerations", "strategy", "schedule",
	"jobTemplate", "backoffLimit", "subPath", "readOnly", "emptyDir", "items",
};

#define YB_SLOTS 256 /* a power of two, over twice the keys above */

static const char *yb_slot[YB_SLOTS];
static pthread_once_t yb_slot_once = PTHREAD_ONCE_INIT;

static size_t yb_key_hash(const char *k, size_t n)
{
	return (n * 31u + (unsigned char)k[0] * 7u + (unsigned char)k[n - 1] * 3u +
		(unsigned char)k[n / 2]) & (YB_SLOTS - 1);
}

static void yb_slot_fill(void)
{
	size_t i, h;

	for (i = 0; i < sizeof(yb_common) / sizeof(yb_common[0]); i++) {
		for (h = yb_key_hash(yb_common[i], strlen(yb_common[i])); yb_slot[h];
		     h = (h + 1) & (YB_SLOTS - 1))
			;
		yb_slot[h] = yb_common[i];
	}
}

/* The static copy of key k (n bytes), or NULL. */
static const char *yb_common_key(const char *k, size_t n)
{
	size_t h;

	pthread_once(&yb_slot_once, yb_slot_fill);
	for (h = yb_key_hash(k, n); yb_slot[h]; h = (h + 1) & (YB_SLOTS - 1))
		if (!strncmp(yb_slot[h], k, n) && yb_slot[h][n] == '\0')
			return yb_slot[h];
	return NULL;
}

static int yb_map_pair(struct yb *y, cJSON *obj, int col, int depth)
{
	size_t ke = yb_key_end(y);
	char key[YB_KEY_MAX];
	const char *common;
	cJSON *v;

	if (!ke || ke - y->cur >= sizeof(key))
		return 0;
	common = yb_common_key(y->s + y->cur, ke - y->cur);
	memcpy(key, y->s + y->cur, ke - y->cur);
	key[ke - y->cur] = '\0';
	if (cJSON_GetObjectItemCaseSensitive(obj, key))
		return 0; /* duplicate key */
	y->cur = ke + 1;
	yb_skip_spaces(y);
	if (yb_rest_empty(y))
		v = yb_value_below(y, col, 1, depth);
	else
		v = yb_value_inline(y, col);
	if (!v || !yb_count(y))
		goto fail;
	if (!(common ? cJSON_AddItemToObjectCS(obj, common, v) : cJSON_AddItemToObject(obj, key, v)))
		goto fail;
	return 1;
fail:
	cJSON_Delete(v);
	return 0;
}

/* A block mapping whose keys are at column col; the first key is at the
 * cursor (maybe after "- " on its line). */
static cJSON *yb_map(struct yb *y, int col, int depth)
{
	cJSON *obj = depth > YB_MAX_DEPTH ? NULL : cJSON_CreateObject();

	if (!obj || !yb_count(y))
		goto fail;
	for (;;) {
		if (!yb_map_pair(y, obj, col, depth))
			goto fail;
		if (y->eof || y->doc || y->indent < col)
			return obj;
		if (y->indent > col)
			goto fail;
	}
fail:
	cJSON_Delete(obj);
	return NULL;
}

/* A block sequence whose dashes are at column col; the first at the
 * cursor. */
static cJSON *yb_seq(struct yb *y, int col, int depth)
{
	cJSON *arr = depth > YB_MAX_DEPTH ? NULL : cJSON_CreateArray(), *v = NULL;

	if (!arr || !yb_count(y))
		goto fail;
	for (;;) {
		y->cur++;
		yb_skip_spaces(y);
		if (yb_rest_empty(y))
			v = yb_value_below(y, col, 0, depth);
		else if (yb_is_dash(y))
			v = NULL; /* "- - x" */
		else if (yb_key_end(y))
			v = yb_map(y, (int)(y->cur - y->ls), depth + 1);
		else
			v = yb_value_inline(y, col);
		if (!v || !yb_count(y) || !cJSON_AddItemToArray(arr, v))
			goto fail_item;
		if (y->eof || y->doc || y->indent < col)
			return arr;
		if (y->indent > col)
			goto fail;
		if (!yb_is_dash(y))
			return arr; /* the next key of a mapping at this column */
	}
fail_item:
	cJSON_Delete(v);
fail:
	cJSON_Delete(arr);
	return NULL;
}

/* ---------------------------------------------------------------- stream */

static int yb_ascii(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((s[i] < 0x20 || s[i] > 0x7e) && s[i] != '\n')
			return 0;
	return 1;
}

/* A "---" line: nothing else on it but blanks and a comment. */
static int yb_doc_line(struct yb *y)
{
	y->cur = y->ls + 3;
	if (y->cur < y->le && y->s[y->cur] != ' ')
		return 0;
	yb_skip_spaces(y);
	return yb_rest_empty(y);
}

static int yb_add_doc(cJSON *docs, int **lines, size_t n, cJSON *root, int line)
{
	if (lines) {
		int *p = realloc(*lines, (n + 1) * sizeof(*p));

		if (!p)
			return 0;
		*lines = p;
		p[n] = line;
	}
	return cJSON_AddItemToArray(docs, root);
}

static int yb_stream(struct yb *y, cJSON *docs, int **lines)
{
	size_t n = 0;

	yb_advance(y);
	while (!y->eof) {
		cJSON *root;
		int line = y->line;

		if (y->doc) {
			if (!yb_doc_line(y))
				return 0;
			yb_advance(y);
			continue;
		}
		if (!yb_key_end(y) || !(root = yb_map(y, y->indent, 1)))
			return 0;
		if (!yb_add_doc(docs, lines, n++, root, line)) {
			cJSON_Delete(root);
			return 0;
		}
		if (!y->eof && !y->doc)
			return 0; /* a line less indented than the root */
	}
	return 1;
}

int yaml__parse_block(cJSON **out, int **lines, const char *text, size_t len)
{
	struct yb y;
	cJSON *docs;
	int ok;

	*out = NULL;
	if (lines)
		*lines = NULL;
	if (!yb_ascii(text, len) || !(docs = cJSON_CreateArray()))
		return YB_NO;
	memset(&y, 0, sizeof(y));
	y.s = text;
	y.n = len;
	ok = yb_stream(&y, docs, lines);
	free(y.tmp);
	if (!ok) {
		cJSON_Delete(docs);
		if (lines) {
			free(*lines);
			*lines = NULL;
		}
		return YB_NO;
	}
	*out = docs;
	return 0;
}
