/* test_tmpl_yaml.c - the injection property of TMPL_ESC_YAML.
 *
 * For many generated hostile values and every lexical context in a table of
 * small templates: render the template with the value and with "benign",
 * parse both with libyaml into event streams, and require
 *   - the same sequence of events (same kinds, same tags), every other scalar
 *     equal, with the same resolved type (a plain "true" is a bool, a quoted
 *     one a string: the value must stay a string);
 *   - the scalar that held "benign" now holds the template's text around the
 *     tag with the value in its place, byte for byte.
 * A value the engine refuses must be refused with PRENV_ECONFIG and for an
 * expected reason (invalid UTF-8 anywhere; a line break or control character
 * inside a comment; a very long value used as a mapping key).
 * The PRNG is deterministic; the seed is printed (PRENV_SEED overrides it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "util/buf.h"
#include "util/err.h"
#include "render/tmpl.h"

#define NVALUES 10000

struct ctx {
	const char *name;
	const char *tp;
	int is_comment;
	int is_key;
};

static const struct ctx contexts[] = {
	{ "plain value", "a: {{v}}\nb: c\n", 0, 0 },
	{ "plain with prefix/suffix", "image: repo/{{v}}:tag\nb: c\n", 0, 0 },
	{ "double-quoted", "a: \"x-{{v}}-y\"\nb: c\n", 0, 0 },
	{ "single-quoted", "a: 'x-{{v}}-y'\nb: c\n", 0, 0 },
	{ "literal block", "a: |\n  line1\n  {{v}}\n  line3\nb: c\n", 0, 0 },
	{ "literal block, tag at start", "a: |\n  {{v}}\nb: c\n", 0, 0 },
	{ "literal block keep", "a: |+\n  x {{v}}\n\nb: c\n", 0, 0 },
	{ "folded block", "a: >-\n  line1\n  pre {{v}} post\n  line3\nb: c\n", 0, 0 },
	{ "flow sequence item", "a: [x, {{v}}, y]\nb: c\n", 0, 0 },
	{ "flow mapping value", "a: {k: {{v}}, j: y}\nb: c\n", 0, 0 },
	{ "mapping key", "{{v}}: val\nb: c\n", 0, 1 },
	{ "sequence item", "items:\n  - x\n  - {{v}}\n  - y\n", 0, 0 },
	{ "comment", "a: b # note {{v}}\nc: d\n", 1, 0 },
	{ "annotation value",
	  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"
	  "  annotations:\n    prenv.dev/title: {{v}}\n    other: \"z\"\n"
	  "data:\n  k: v\n", 0, 0 },
	{ "second document", "a: b\n---\nc: {{v}}\nd: e\n...\n", 0, 0 },
	{ "tagged plain", "a: !!str {{v}}\nb: c\n", 0, 0 },
};
#define NCTX (sizeof(contexts) / sizeof(contexts[0]))

static const char *const pieces[] = {
	"\n", "\r\n", "\r", ": ", ":", " #", "#", "\"", "'", "\\", "{{", "}}",
	"{{v}}", "---", "...", "--- ", "-", "- ", "?", "? ", "&", "&a ", "*",
	"*a", "!", "!!int ", "|", ">", "%", "%YAML 1.1", "@", "`", "\t", " ",
	"  ", "[", "]", "{", "}", ",", "Ünïcode", "\xe2\x80\xa8", "\xe2\x80\xa9",
	"\xef\xbb\xbf", "\xf0\x9f\x98\x80", "\xc2\x85", "\x01", "\x1b", "\x7f",
	"\xc2\x9f", "\xef\xbf\xbe", "true", "false", "null", "~", "3", "0x1F",
	"1e3", "-1.5", ".inf", "yes", "NO", "on", "<<", "=", "a", "web", "x y",
	"feat/x", "hostNetwork: true", "\n  hostNetwork: true", "\n- x",
	"\n  ", "  \n", "#!", "\\n", "\\x41", "\\\"", "''",
};
#define NPIECES (sizeof(pieces) / sizeof(pieces[0]))

static uint64_t rng_state;

static uint64_t rng(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return x;
}

static void gen_value(struct prenv_buf *v, int idx)
{
	int k, n;

	prenv_buf_reset(v);
	if (idx == 0)
		return;                 /* empty */
	if (idx % 97 == 1) {            /* very long */
		while (v->len < 10000)
			prenv_buf_adds(v, pieces[rng() % NPIECES]);
		return;
	}
	if (idx % 251 == 2) {           /* invalid UTF-8 */
		static const char *const bad[] = { "\xff", "\xc3", "\xe2\x80",
			"\xed\xa0\x80", "\xc0\xaf" };
		prenv_buf_adds(v, "x");
		prenv_buf_adds(v, bad[rng() % 5]);
		return;
	}
	n = 1 + (int)(rng() % 6);
	for (k = 0; k < n; k++)
		prenv_buf_adds(v, pieces[rng() % NPIECES]);
}

/* ------------------------------------------------------- libyaml events */

enum rtype { R_STR, R_NULL, R_BOOL, R_INT, R_FLOAT };

struct ev {
	int type;
	char *val;
	size_t len;
	char *tag;
	enum rtype rt;
};

static int in_list(const char *s, const char *const *l)
{
	for (; *l; l++)
		if (strcmp(s, *l) == 0)
			return 1;
	return 0;
}

static int all_in(const char *s, const char *set)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!strchr(set, *s))
			return 0;
	return 1;
}

/* YAML 1.2 core schema plus YAML 1.1's booleans (what other parsers use). */
static enum rtype resolve(const char *s)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL", NULL };
	static const char *const bools[] = { "true", "True", "TRUE", "false",
		"False", "FALSE", "yes", "Yes", "YES", "no", "No", "NO", "on", "On",
		"ON", "off", "Off", "OFF", "y", "Y", "n", "N", NULL };
	static const char *const floats[] = { ".inf", ".Inf", ".INF", "-.inf",
		"+.inf", "-.Inf", "+.Inf", ".nan", ".NaN", ".NAN", NULL };
	const char *p = s;
	char *end;

	if (in_list(s, nulls))
		return R_NULL;
	if (in_list(s, bools))
		return R_BOOL;
	if (in_list(s, floats))
		return R_FLOAT;
	if ((s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) && s[2])
		return R_INT;
	if (*p == '-' || *p == '+')
		p++;
	if (all_in(p, "0123456789_"))
		return R_INT;
	if (*p && strchr("0123456789.", *p)) {
		strtod(s, &end);
		if (*end == '\0')
			return R_FLOAT;
	}
	if (strchr("0123456789", s[0]) && strchr(s, ':'))
		return R_INT;   /* YAML 1.1 sexagesimal: treat as not-a-string */
	return R_STR;
}

static void evs_free(struct ev *e, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(e[i].val);
		free(e[i].tag);
	}
	free(e);
}

/* Parses s into events; returns the count, or -1 on a parse error. */
static long parse_events(const char *s, size_t n, struct ev **out)
{
	yaml_parser_t p;
	yaml_event_t e;
	struct ev *v = NULL;
	size_t cnt = 0, cap = 0;
	int done = 0;

	*out = NULL;
	if (!yaml_parser_initialize(&p))
		return -1;
	yaml_parser_set_input_string(&p, (const unsigned char *)s, n);
	while (!done) {
		struct ev x;
		if (!yaml_parser_parse(&p, &e)) {
			yaml_parser_delete(&p);
			evs_free(v, cnt);
			return -1;
		}
		memset(&x, 0, sizeof(x));
		x.type = e.type;
		if (e.type == YAML_SCALAR_EVENT) {
			x.len = e.data.scalar.length;
			x.val = malloc(x.len + 1);
			memcpy(x.val, e.data.scalar.value, x.len);
			x.val[x.len] = '\0';
			if (e.data.scalar.tag)
				x.tag = strdup((const char *)e.data.scalar.tag);
			x.rt = e.data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
			       e.data.scalar.plain_implicit && !x.tag ?
			       resolve(x.val) : R_STR;
		} else if (e.type == YAML_MAPPING_START_EVENT && e.data.mapping_start.tag) {
			x.tag = strdup((const char *)e.data.mapping_start.tag);
		} else if (e.type == YAML_SEQUENCE_START_EVENT && e.data.sequence_start.tag) {
			x.tag = strdup((const char *)e.data.sequence_start.tag);
		}
		done = e.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&e);
		if (cnt == cap) {
			cap = cap ? cap * 2 : 32;
			v = realloc(v, cap * sizeof(*v));
		}
		v[cnt++] = x;
	}
	yaml_parser_delete(&p);
	*out = v;
	return (long)cnt;
}

/* --------------------------------------------------------------- checks */

static int utf8_ok(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i];
		size_t l = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 :
			   (c >> 3) == 30 ? 4 : 0;
		unsigned long cp;
		size_t k;

		if (!l || i + l > n)
			return 0;
		cp = l == 1 ? c : c & (0x7F >> l);
		for (k = 1; k < l; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		if ((l == 2 && cp < 0x80) || (l == 3 && cp < 0x800) ||
		    (l == 4 && cp < 0x10000) || cp > 0x10FFFF ||
		    (cp >= 0xD800 && cp <= 0xDFFF))
			return 0;
		i += l;
	}
	return 1;
}

/* Would end or break a comment line: anything but printable text and tab. */
static int comment_unsafe(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;

	for (; *u; u++) {
		if (*u < 0x20 && *u != '\t')
			return 1;
		if (*u == 0x7f || (u[0] == 0xc2 && u[1] >= 0x80 && u[1] <= 0x9f))
			return 1;
		if (u[0] == 0xe2 && u[1] == 0x80 && (u[2] == 0xa8 || u[2] == 0xa9))
			return 1;
		if (u[0] == 0xef && ((u[1] == 0xbb && u[2] == 0xbf) ||
				     (u[1] == 0xbf && u[2] >= 0xbe)))
			return 1;
	}
	return 0;
}

static void show(const char *label, const char *s, size_t n)
{
	size_t i;

	printf("  %s: \"", label);
	for (i = 0; i < n && i < 300; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\n')
			printf("\\n");
		else if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
	printf("\"%s\n", n > 300 ? "..." : "");
}

static int render_yaml(const char *tp, const char *val, struct prenv_buf *out,
		       struct prenv_err *err)
{
	struct tmpl_opts o = TMPL_OPTS_INIT;
	cJSON *d = cJSON_CreateObject();
	cJSON *s = cJSON_CreateString("");
	int rc;

	/* cJSON_CreateString would not take invalid UTF-8 as it is either way */
	free(s->valuestring);
	s->valuestring = strdup(val);
	cJSON_AddItemToObject(d, "v", s);
	o.filename = "prop.yaml";
	o.escape = TMPL_ESC_YAML;
	rc = tmpl_render(out, tp, strlen(tp), d, &o, err);
	cJSON_Delete(d);
	return rc;
}

/* 0 ok; 1 mismatch (printed). */
static int compare(const struct ctx *c, const struct ev *b, long nb,
		   const struct ev *h, long nh, const char *val)
{
	long i;

	if (nb != nh) {
		printf("  event count %ld != %ld\n", nh, nb);
		return 1;
	}
	for (i = 0; i < nb; i++) {
		const char *m;
		if (b[i].type != h[i].type) {
			printf("  event %ld: type %d != %d\n", i, h[i].type, b[i].type);
			return 1;
		}
		if ((b[i].tag == NULL) != (h[i].tag == NULL) ||
		    (b[i].tag && strcmp(b[i].tag, h[i].tag) != 0)) {
			printf("  event %ld: tags differ\n", i);
			return 1;
		}
		if (b[i].type != YAML_SCALAR_EVENT)
			continue;
		if (h[i].rt != b[i].rt) {
			printf("  event %ld: resolved type %d != %d\n", i, h[i].rt, b[i].rt);
			return 1;
		}
		m = c->is_comment ? NULL : strstr(b[i].val, "benign");
		if (m) {
			struct prenv_buf want = PRENV_BUF_INIT;
			int bad;
			prenv_buf_add(&want, b[i].val, (size_t)(m - b[i].val));
			prenv_buf_adds(&want, val);
			prenv_buf_adds(&want, m + 6);
			bad = want.len != h[i].len || memcmp(want.ptr, h[i].val, want.len);
			if (bad) {
				printf("  event %ld: scalar differs\n", i);
				show("want", want.ptr, want.len);
				show("got ", h[i].val, h[i].len);
			}
			prenv_buf_free(&want);
			if (bad)
				return 1;
		} else if (b[i].len != h[i].len || memcmp(b[i].val, h[i].val, b[i].len)) {
			printf("  event %ld: other scalar changed\n", i);
			show("got", h[i].val, h[i].len);
			return 1;
		}
	}
	return 0;
}

static void test_tmpl_yaml_injection_property(void **state)
{
	struct ev *bev[NCTX];
	long nbev[NCTX];
	struct prenv_buf val = PRENV_BUF_INIT, out = PRENV_BUF_INIT;
	const char *seed_env = getenv("PRENV_SEED");
	uint64_t seed = seed_env ? strtoull(seed_env, NULL, 0) : 0x5eed2024u;
	size_t ci;
	long pass = 0, fail = 0, rej_utf8 = 0, rej_comment = 0, rej_key = 0,
	     rej_other = 0, values = NVALUES;
	int idx;

	(void)state;
	rng_state = seed ? seed : 1;
	printf("# yaml injection property: seed 0x%llx\n", (unsigned long long)seed);
	for (ci = 0; ci < NCTX; ci++) {
		struct prenv_err err = PRENV_ERR_INIT;
		prenv_buf_reset(&out);
		assert_int_equal(render_yaml(contexts[ci].tp, "benign", &out, &err), 0);
		nbev[ci] = parse_events(out.ptr, out.len, &bev[ci]);
		if (nbev[ci] < 0)
			printf("benign rendering of '%s' does not parse:\n%s\n",
			       contexts[ci].name, out.ptr);
		assert_true(nbev[ci] > 0);
	}
	for (idx = 0; idx < NVALUES; idx++) {
		gen_value(&val, idx);
		assert_false(val.failed);
		for (ci = 0; ci < NCTX; ci++) {
			const struct ctx *c = &contexts[ci];
			struct prenv_err err = PRENV_ERR_INIT;
			struct ev *hev = NULL;
			long nh;
			int rc;

			prenv_buf_reset(&out);
			rc = render_yaml(c->tp, val.ptr, &out, &err);
			if (rc != 0) {
				int ok = rc == PRENV_ECONFIG && out.len == 0 && err.msg;
				if (ok && strstr(err.msg, "UTF-8") &&
				    !utf8_ok((const unsigned char *)val.ptr, val.len))
					rej_utf8++;
				else if (ok && c->is_comment && strstr(err.msg, "comment") &&
					 comment_unsafe(val.ptr))
					rej_comment++;
				else if (ok && c->is_key && strstr(err.msg, "too long") &&
					 val.len > 300)
					rej_key++;
				else {
					rej_other++;
					printf("unexpected rejection, context '%s' (rc %d): %s\n",
					       c->name, rc, err.msg ? err.msg : "?");
					show("value", val.ptr, val.len);
				}
				prenv_err_clear(&err);
				continue;
			}
			nh = parse_events(out.ptr, out.len, &hev);
			if (nh < 0 || compare(c, bev[ci], nbev[ci], hev, nh, val.ptr)) {
				if (fail < 20) {
					printf("FAIL context '%s'%s\n", c->name,
					       nh < 0 ? ": output does not parse" : "");
					show("value", val.ptr, val.len);
					show("output", out.ptr, out.len);
				}
				fail++;
			} else {
				pass++;
			}
			if (nh > 0)
				evs_free(hev, (size_t)nh);
		}
	}
	printf("# yaml injection property: %ld values x %zu contexts, %ld passed, "
	       "%ld rejected (invalid UTF-8: %ld, line break/control char in a "
	       "comment: %ld, over-long mapping key: %ld), %ld failed, %ld "
	       "unexpected rejections\n", values, NCTX, pass,
	       rej_utf8 + rej_comment + rej_key, rej_utf8, rej_comment, rej_key,
	       fail, rej_other);
	for (ci = 0; ci < NCTX; ci++)
		evs_free(bev[ci], (size_t)nbev[ci]);
	prenv_buf_free(&val);
	prenv_buf_free(&out);
	assert_int_equal(fail, 0);
	assert_int_equal(rej_other, 0);
	assert_true(pass > (long)(NVALUES * NCTX / 2));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tmpl_yaml_injection_property),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
