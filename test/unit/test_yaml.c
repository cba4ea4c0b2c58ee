/* test_yaml.c - util/yaml: YAML <-> cJSON (core-schema typing, errors with
 * file:line:col, anchors, empty documents, the emitter, and a round-trip
 * property over generated hostile values) and the positioned document tree
 * (positions, text, style, strict mode). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/yaml.h"
#include "util/yaml_int.h"

/* Parses "v: <text>" and returns a copy of v (caller frees). */
static cJSON *parse_v(const char *text)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	struct prenv_err err = PRENV_ERR_INIT;
	cJSON *docs = NULL, *v = NULL;
	int rc;

	prenv_buf_printf(&b, "v: %s\n", text);
	rc = yaml_parse_json(&docs, b.ptr, b.len, "t.yaml", &err);
	if (rc != 0)
		print_error("parse of '%s' failed: %s\n", text, err.msg);
	assert_int_equal(rc, 0);
	assert_int_equal(cJSON_GetArraySize(docs), 1);
	v = cJSON_DetachItemFromObjectCaseSensitive(cJSON_GetArrayItem(docs, 0), "v");
	assert_non_null(v);
	cJSON_Delete(docs);
	prenv_buf_free(&b);
	prenv_err_clear(&err);
	return v;
}

static void test_yaml_parse_typing(void **state)
{
	/* yaml text -> expected JSON (as JSON text) */
	static const struct { const char *yaml, *json; } cases[] = {
		{ "true", "true" }, { "True", "true" }, { "TRUE", "true" },
		{ "false", "false" }, { "False", "false" }, { "FALSE", "false" },
		{ "tRUE", "\"tRUE\"" },
		{ "yes", "\"yes\"" }, { "no", "\"no\"" }, { "on", "\"on\"" },
		{ "off", "\"off\"" }, { "Y", "\"Y\"" },
		{ "3", "3" }, { "-3", "-3" }, { "+3", "3" }, { "007", "7" },
		{ "0o17", "15" }, { "0x1F", "31" }, { "0x1f", "31" },
		{ "0b101", "\"0b101\"" }, { "1_000", "\"1_000\"" }, { "0x", "\"0x\"" },
		{ "0o8", "\"0o8\"" }, { "1:20", "\"1:20\"" },
		{ "0.5", "0.5" }, { ".5", "0.5" }, { "+.5", "0.5" }, { "1.", "1" },
		{ "1e3", "1000" }, { "1E3", "1000" }, { "-2.5e-1", "-0.25" },
		{ "1e", "\"1e\"" }, { ".", "\".\"" }, { "1.2.3", "\"1.2.3\"" },
		{ "2001-12-14", "\"2001-12-14\"" },
		{ "\"3\"", "\"3\"" }, { "'3'", "\"3\"" }, { "\"true\"", "\"true\"" },
		{ "~", "null" }, { "null", "null" }, { "Null", "null" }, { "NULL", "null" },
		{ "", "null" }, { "nULL", "\"nULL\"" }, { "''", "\"\"" },
		{ "!!str 3", "\"3\"" }, { "!!str true", "\"true\"" }, { "! 3", "\"3\"" },
		{ "!!int \"3\"", "3" }, { "!!float 1", "1" }, { "!!float \"0.5\"", "0.5" },
		{ "!!bool \"true\"", "true" }, { "!!null ''", "null" },
		{ "\"a\\tb\\u00e9\"", "\"a\\tb\\u00e9\"" },
		{ "a: b", NULL }, /* an error: a mapping value on a plain scalar line */
		{ "[1, \"2\", x, ~]", "[1, \"2\", \"x\", null]" },
		{ "{a: 1, \"b\": yes}", "{\"a\": 1, \"b\": \"yes\"}" },
		{ "|\n  3\n  x", "\"3\\nx\\n\"" },
		{ ">-\n  true", "\"true\"" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *got, *want;

		if (!cases[i].json) {
			struct prenv_err err = PRENV_ERR_INIT;
			struct prenv_buf b = PRENV_BUF_INIT;
			cJSON *docs = NULL;

			prenv_buf_printf(&b, "v: %s\n", cases[i].yaml);
			assert_int_equal(yaml_parse_json(&docs, b.ptr, b.len, "t.yaml", &err),
					 PRENV_ECONFIG);
			assert_null(docs);
			prenv_buf_free(&b);
			prenv_err_clear(&err);
			continue;
		}
		got = parse_v(cases[i].yaml);
		want = cJSON_Parse(cases[i].json);
		assert_non_null(want);
		if (!cJSON_Compare(got, want, 1)) {
			char *g = cJSON_PrintUnformatted(got);

			print_error("'%s': got %s, want %s\n", cases[i].yaml, g, cases[i].json);
			free(g);
		}
		assert_true(cJSON_Compare(got, want, 1));
		/* cJSON_Compare treats 1 and 1.0 alike, and strings vs numbers not */
		assert_int_equal(got->type & 0xff, want->type & 0xff);
		cJSON_Delete(got);
		cJSON_Delete(want);
	}
}

static void test_yaml_parse_special_floats(void **state)
{
	static const char *const infs[] = { ".inf", ".Inf", ".INF", "+.inf", "-.inf", "-.INF" };
	static const char *const nans[] = { ".nan", ".NaN", ".NAN" };
	static const char *const strs[] = { "inf", "nan", ".iNf", "-.nan", "..inf" };
	size_t i;

	(void)state;
	for (i = 0; i < 6; i++) {
		cJSON *v = parse_v(infs[i]);

		assert_true(cJSON_IsNumber(v));
		assert_true(isinf(v->valuedouble));
		assert_true((v->valuedouble < 0) == (infs[i][0] == '-'));
		cJSON_Delete(v);
	}
	for (i = 0; i < 3; i++) {
		cJSON *v = parse_v(nans[i]);

		assert_true(cJSON_IsNumber(v));
		assert_true(isnan(v->valuedouble));
		cJSON_Delete(v);
	}
	for (i = 0; i < 5; i++) {
		cJSON *v = parse_v(strs[i]);

		assert_true(cJSON_IsString(v));
		assert_string_equal(v->valuestring, strs[i]);
		cJSON_Delete(v);
	}
}

static void test_yaml_big_int_keeps_digits(void **state)
{
	cJSON *v = parse_v("-000123456789012345678901234");
	struct prenv_buf out = PRENV_BUF_INIT;
	struct prenv_err err = PRENV_ERR_INIT;
	cJSON *doc = cJSON_CreateObject();

	(void)state;
	assert_true(cJSON_IsNumber(v));
	assert_string_equal(v->valuestring, "-123456789012345678901234");
	cJSON_AddItemToObject(doc, "big", v);
	cJSON_AddNumberToObject(doc, "small", 9007199254740992.0);
	assert_int_equal(yaml_emit_json(&out, doc, &err), 0);
	assert_string_equal(out.ptr, "---\nbig: -123456789012345678901234\nsmall: 9007199254740992\n");
	cJSON_Delete(doc);
	prenv_buf_free(&out);
}

struct err_case {
	const char *text;
	int line, col;
	const char *msg_part;
};

static void test_yaml_parse_errors_have_position(void **state)
{
	static const struct err_case cases[] = {
		{ "a: 1\nb: 2\na: 3\n", 3, 1, "duplicate mapping key 'a'" },
		{ "x:\n  y: {k: 1, k: 2}\n", 2, 13, "duplicate mapping key 'k'" },
		{ "a: [1, 2\n", 2, 1, "while parsing a flow sequence" },
		{ "a:\n\tb: 1\n", 2, 1, "cannot start any token" },
		{ "? [a]\n: b\n", 1, 3, "must be a scalar" },
		{ "? {a: 1}\n: b\n", 1, 3, "must be a scalar" },
		{ "a: *nope\n", 1, 4, "undefined YAML alias *nope" },
		{ "a: 1\nx: !foo 1\n", 2, 4, "unsupported YAML tag !foo" },
		{ "x: !!int abc\n", 1, 4, "not an integer" },
		{ "x: !!bool yes\n", 1, 4, "not true or false" },
		{ "x: !!map [1]\n", 1, 4, "!!map cannot be used" },
		{ "x: !!binary aGk=\n", 1, 4, "!!binary" },
		{ "x: \"a\\0b\"\n", 1, 4, "NUL" },
		{ "a: b: c\n", 1, 5, "mapping values are not allowed" },
		{ "---\nok: 1\n---\nk: 1\nk: 2\n", 5, 1, "duplicate" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct prenv_err err = PRENV_ERR_INIT;
		cJSON *docs = (cJSON *)1;
		int rc = yaml_parse_json(&docs, cases[i].text, strlen(cases[i].text),
					   "dir/x.yaml", &err);

		if (rc == 0 || err.line != cases[i].line || err.col != cases[i].col ||
		    !strstr(err.msg, cases[i].msg_part))
			print_error("case %zu: rc %d at %d:%d: %s\n", i, rc, err.line, err.col,
				    err.msg ? err.msg : "(none)");
		assert_int_equal(rc, PRENV_ECONFIG);
		assert_null(docs);
		assert_string_equal(err.file, "dir/x.yaml");
		assert_int_equal(err.line, cases[i].line);
		assert_int_equal(err.col, cases[i].col);
		assert_non_null(strstr(err.msg, cases[i].msg_part));
		prenv_err_clear(&err);
	}
}

static void test_yaml_empty_documents_skipped(void **state)
{
	const char *text = "# only a comment\n---\n# another\n---\na: 1\n---\n...\n---\n- x\n--- ~\n";
	struct prenv_err err = PRENV_ERR_INIT;
	cJSON *docs = NULL;
	int *lines = NULL;

	(void)state;
	assert_int_equal(yaml_parse_json_lines(&docs, &lines, text, strlen(text), "f", &err), 0);
	/* a: 1, [x], and the explicit null (not empty: it has a value) */
	assert_int_equal(cJSON_GetArraySize(docs), 3);
	assert_int_equal(lines[0], 5);
	assert_int_equal(lines[1], 9);
	assert_int_equal(lines[2], 10);
	assert_true(cJSON_IsNull(cJSON_GetArrayItem(docs, 2)));
	cJSON_Delete(docs);
	free(lines);

	assert_int_equal(yaml_parse_json(&docs, "# nothing\n", 10, "f", &err), 0);
	assert_int_equal(cJSON_GetArraySize(docs), 0);
	cJSON_Delete(docs);
	assert_int_equal(yaml_parse_json(&docs, "", 0, "f", &err), 0);
	assert_int_equal(cJSON_GetArraySize(docs), 0);
	cJSON_Delete(docs);
}

static void test_yaml_anchors_resolved(void **state)
{
	const char *text = "base: &b {image: x, ports: [80]}\ncopy: *b\nname: &n web\nalso: *n\n";
	struct prenv_err err = PRENV_ERR_INIT;
	cJSON *docs = NULL, *d;

	(void)state;
	assert_int_equal(yaml_parse_json(&docs, text, strlen(text), "f", &err), 0);
	d = cJSON_GetArrayItem(docs, 0);
	assert_true(cJSON_Compare(cJSON_GetObjectItem(d, "base"), cJSON_GetObjectItem(d, "copy"), 1));
	assert_string_equal(cJSON_GetObjectItem(d, "also")->valuestring, "web");
	/* a copy, not a shared node */
	assert_ptr_not_equal(cJSON_GetObjectItem(d, "base")->child,
			     cJSON_GetObjectItem(d, "copy")->child);
	cJSON_Delete(docs);
}

static void test_yaml_billion_laughs_rejected(void **state)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	struct prenv_err err = PRENV_ERR_INIT;
	cJSON *docs = NULL;
	int i, j;

	(void)state;
	prenv_buf_adds(&b, "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
	for (i = 1; i < 9; i++) {
		prenv_buf_printf(&b, "a%d: &a%d [", i, i);
		for (j = 0; j < 10; j++)
			prenv_buf_printf(&b, "%s*a%d", j ? ", " : "", i - 1);
		prenv_buf_adds(&b, "]\n");
	}
	assert_int_equal(yaml_parse_json(&docs, b.ptr, b.len, "lol.yaml", &err), PRENV_ECONFIG);
	assert_null(docs);
	assert_non_null(strstr(err.msg, "1000000 nodes"));
	assert_true(err.line >= 6 && err.line <= 9);
	prenv_err_clear(&err);
	prenv_buf_free(&b);
}

static void test_yaml_deep_nesting_rejected(void **state)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	struct prenv_err err = PRENV_ERR_INIT;
	cJSON *docs = NULL;
	int i;

	(void)state;
	for (i = 0; i < 600; i++)
		prenv_buf_addc(&b, '[');
	for (i = 0; i < 600; i++)
		prenv_buf_addc(&b, ']');
	assert_int_equal(yaml_parse_json(&docs, b.ptr, b.len, "deep.yaml", &err), PRENV_ECONFIG);
	assert_non_null(strstr(err.msg, "deeper than 512"));
	prenv_err_clear(&err);
	prenv_buf_free(&b);
}

static void test_yaml_emit_quotes_ambiguous_strings(void **state)
{
	const char *json = "{\"apiVersion\": \"v1\", \"t\": \"true\", \"n\": \"3\", \"f\": \"0.5\","
			   " \"y\": \"yes\", \"o\": \"On\", \"e\": \"\", \"z\": \"~\", \"h\": \"0x1F\","
			   " \"img\": \"ghcr.io/acme/shop:1.2\", \"sp\": \" lead\", \"c\": \"a: b\","
			   " \"h2\": \"x #y\", \"nl\": \"a\\nb\", \"num\": 3, \"b\": false, \"nil\": null,"
			   " \"l\": [1, \"1\"], \"m\": {}, \"true\": 1}";
	const char *want =
		"---\n"
		"apiVersion: v1\n"
		"t: \"true\"\n"
		"\"n\": \"3\"\n" /* y/n are booleans to YAML 1.1 parsers */
		"f: \"0.5\"\n"
		"\"y\": \"yes\"\n"
		"o: \"On\"\n"
		"e: \"\"\n"
		"z: \"~\"\n"
		"h: \"0x1F\"\n"
		"img: ghcr.io/acme/shop:1.2\n"
		"sp: \" lead\"\n"
		"c: \"a: b\"\n"
		"h2: \"x #y\"\n"
		"nl: \"a\\nb\"\n"
		"num: 3\n"
		"b: false\n"
		"nil: null\n"
		"l:\n"
		"- 1\n"
		"- \"1\"\n"
		"m: {}\n"
		"\"true\": 1\n";
	cJSON *doc = cJSON_Parse(json);
	struct prenv_buf out = PRENV_BUF_INIT;
	struct prenv_err err = PRENV_ERR_INIT;

	(void)state;
	assert_non_null(doc);
	prenv_buf_adds(&out, "keep\n");
	assert_int_equal(yaml_emit_json(&out, doc, &err), 0);
	assert_string_equal(out.ptr + 5, want);
	assert_memory_equal(out.ptr, "keep\n", 5);
	cJSON_Delete(doc);
	prenv_buf_free(&out);
}

static void test_yaml_emit_rejects_raw(void **state)
{
	cJSON *doc = cJSON_CreateObject();
	struct prenv_buf out = PRENV_BUF_INIT;
	struct prenv_err err = PRENV_ERR_INIT;

	(void)state;
	cJSON_AddStringToObject(doc, "a", "x");
	cJSON_AddRawToObject(doc, "raw", "{\"x\":1}");
	prenv_buf_adds(&out, "before");
	assert_true(yaml_emit_json(&out, doc, &err) < 0);
	assert_string_equal(out.ptr, "before"); /* nothing appended */
	prenv_err_clear(&err);
	cJSON_Delete(doc);

	doc = cJSON_CreateString("\xff\xfe bad utf-8");
	assert_true(yaml_emit_json(&out, doc, &err) < 0);
	assert_string_equal(out.ptr, "before");
	prenv_err_clear(&err);
	cJSON_Delete(doc);
	prenv_buf_free(&out);
}

static void test_yaml_plain_safe_table(void **state)
{
	static const char *const plain[] = {
		"v1", "web", "apps/v1", "app.kubernetes.io/name", "nginx:1.25", "_x", "/",
		"ClusterIP", "a-b.c_d", "Prefix", NULL,
	};
	static const char *const quoted[] = {
		"", "true", "True", "yes", "NO", "on", "Off", "y", "N", "null", "Null", "~",
		"3", "-3", "0x1F", "0o7", "1e3", ".inf", ".nan", "nan", "inf", "a b", "a: b",
		"a #b", "x:", "-x", "?x", "&x", "*x", "!x", "|x", ">x", "%x", "@x", "`x",
		"'x", "\"x", "{x", "[x", "x,y", "x\n", "\tx", "Ü", "2001-12-14", "1:20",
		NULL,
	};
	size_t i;

	(void)state;
	for (i = 0; plain[i]; i++) {
		if (!yaml_plain_safe(plain[i]))
			print_error("'%s' should be plain\n", plain[i]);
		assert_true(yaml_plain_safe(plain[i]));
	}
	for (i = 0; quoted[i]; i++) {
		if (yaml_plain_safe(quoted[i]))
			print_error("'%s' should be quoted\n", quoted[i]);
		assert_false(yaml_plain_safe(quoted[i]));
	}
}

/* ---- round-trip property ---- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state % n);
}

static const char *const pieces[] = {
	"\n", ": ", " #", "#", "\"", "'", "\\", "{{", "}}", "---", "...", "- ", "-",
	"?", "&", "*", "!", "|", ">", "%", "@", "`", "\t", " ", "  ", "\r", "\r\n",
	"\xc3\x9c", "\xe2\x80\xa8", "\xe2\x80\xa9", "\xef\xbb\xbf", "\x01", "\x1b",
	"\x7f", "\xc2\x85", "\xc2\xa0", "\xf0\x9f\x98\x80", "\xef\xbf\xbe", "true",
	"3", "0x1F", "~", "null", "yes", "on", "1e3", ".inf", "a", "b/c", "x:y",
	"[", "]", "{", "}", ",", "<<", "=", "0", "-1", ".5", "é", "\\n", "\\x41",
	"!!int", "*a", "&a",
};

static char *hostile_string(void)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	uint32_t i, n = rnd(9);

	if (rnd(50) == 0)
		n = 200 + rnd(400); /* long */
	for (i = 0; i < n; i++)
		prenv_buf_adds(&b, pieces[rnd(sizeof(pieces) / sizeof(pieces[0]))]);
	return prenv_buf_detach(&b, NULL);
}

static cJSON *gen_value(int depth)
{
	uint32_t k = rnd(depth > 3 ? 6 : 9);
	cJSON *v;
	char *s;

	switch (k) {
	case 0:
	case 1:
	case 2:
		s = hostile_string();
		v = cJSON_CreateString(s);
		free(s);
		return v;
	case 3:
		switch (rnd(6)) {
		case 0: return cJSON_CreateNumber((double)rnd(100000) - 50000);
		case 1: return cJSON_CreateNumber(((double)rnd(1u << 31) - (1u << 30)) / 1024.0);
		case 2: return cJSON_CreateNumber(((double)rnd(1u << 31)) * 4194304.0 + rnd(1u << 22));
		case 3: return cJSON_CreateNumber(1e300 * (rnd(2) ? 1 : -1));
		case 4: return cJSON_CreateNumber(5e-324);
		default: return cJSON_CreateNumber(0.1 * rnd(1000));
		}
	case 4:
		return cJSON_CreateBool(rnd(2));
	case 5:
		return cJSON_CreateNull();
	case 6:
	case 7: {
		uint32_t i, n = rnd(5);

		v = cJSON_CreateObject();
		for (i = 0; i < n; i++) {
			s = hostile_string();
			if (!cJSON_GetObjectItemCaseSensitive(v, s))
				cJSON_AddItemToObject(v, s, gen_value(depth + 1));
			free(s);
		}
		return v;
	}
	default: {
		uint32_t i, n = rnd(5);

		v = cJSON_CreateArray();
		for (i = 0; i < n; i++)
			cJSON_AddItemToArray(v, gen_value(depth + 1));
		return v;
	}
	}
}

static void test_yaml_roundtrip_property(void **state)
{
	const int N = 4000;
	int i, docs_total = 0;

	(void)state;
	for (i = 0; i < N; i++) {
		cJSON *x = gen_value(0), *back = NULL;
		struct prenv_buf out = PRENV_BUF_INIT;
		struct prenv_err err = PRENV_ERR_INIT;
		int rc;

		assert_int_equal(yaml_emit_json(&out, x, &err), 0);
		/* two documents in a stream, to check the separators too */
		assert_int_equal(yaml_emit_json(&out, x, &err), 0);
		rc = yaml_parse_json(&back, out.ptr, out.len, "rt.yaml", &err);
		if (rc != 0 || cJSON_GetArraySize(back) != 2 ||
		    !cJSON_Compare(x, cJSON_GetArrayItem(back, 0), 1) ||
		    !cJSON_Compare(x, cJSON_GetArrayItem(back, 1), 1)) {
			char *j = cJSON_PrintUnformatted(x);

			print_error("round-trip %d failed (rc %d %s)\nvalue: %s\nyaml:\n%s\n", i, rc,
				    err.msg ? err.msg : "", j, out.ptr);
			free(j);
			fail();
		}
		docs_total += 2;
		cJSON_Delete(x);
		cJSON_Delete(back);
		prenv_buf_free(&out);
	}
	printf("# yaml round-trip: %d generated values (%d documents) parse(emit(x)) == x\n",
	       N, docs_total);
}

/* ------------------------------------------------------- positioned tree */

static void test_yaml_doc_nodes_keep_position_text_and_style(void **state)
{
	const char *text = "# head\n"
			   "name: web\n"
			   "ports: [80, \"443\"]\n"
			   "nested:\n"
			   "  - a: 'x'\n"
			   "    b: |\n"
			   "      lit\n"
			   "name: again\n"
			   "nul: \"a\\0b\"\n"
			   "empty:\n";
	struct prenv_err err = PRENV_ERR_INIT;
	struct yaml_doc *doc = NULL;
	const struct yaml_node *root, *n;

	(void)state;
	assert_int_equal(yaml_doc_load(&doc, text, strlen(text), "c.yml", YAML_DOC_STRICT, &err), 0);
	root = yaml_doc_root(doc);
	assert_non_null(root);
	assert_int_equal(root->kind, YAML_KIND_MAP);
	assert_int_equal(root->line, 2);
	assert_int_equal(root->col, 1);
	assert_string_equal(root->text, "");
	assert_int_equal(root->n, 6); /* repeated keys are kept, in order */
	assert_string_equal(root->pairs[0].key->text, "name");
	assert_string_equal(root->pairs[4].key->text, "nul");
	assert_string_equal(root->pairs[5].key->text, "empty");

	n = yaml_map_get(root, "name"); /* the first of the two */
	assert_string_equal(n->text, "web");
	assert_int_equal(n->line, 2);
	assert_int_equal(n->col, 7);
	assert_true(n->plain);
	assert_int_equal(root->pairs[3].value->line, 8);

	n = yaml_map_get(root, "ports");
	assert_int_equal(n->kind, YAML_KIND_SEQ);
	assert_int_equal(n->n, 2);
	assert_true(n->items[0]->plain);
	assert_string_equal(n->items[0]->text, "80"); /* untyped */
	assert_false(n->items[1]->plain);
	assert_string_equal(n->items[1]->text, "443");
	assert_int_equal(n->items[1]->col, 13);

	n = yaml_map_get(root, "nested");
	assert_int_equal(n->kind, YAML_KIND_SEQ);
	assert_int_equal(n->line, 5);
	assert_int_equal(n->col, 3);
	n = n->items[0];
	assert_int_equal(n->kind, YAML_KIND_MAP);
	assert_int_equal(n->col, 5);
	assert_false(yaml_map_get(n, "a")->plain);
	assert_string_equal(yaml_map_get(n, "b")->text, "lit\n");
	assert_false(yaml_map_get(n, "b")->plain);
	assert_null(yaml_map_get(n, "c"));
	assert_null(yaml_map_get(yaml_map_get(n, "a"), "a")); /* not a mapping */

	n = yaml_map_get(root, "nul");
	assert_int_equal(n->len, 3);
	assert_int_equal(strlen(n->text), 1);
	n = yaml_map_get(root, "empty");
	assert_int_equal(n->kind, YAML_KIND_SCALAR);
	assert_true(n->plain);
	assert_int_equal(n->len, 0);
	assert_string_equal(n->text, "");
	yaml_doc_free(doc);
	yaml_doc_free(NULL);
}

static void test_yaml_doc_empty_streams(void **state)
{
	static const char *const none[] = { "", "# only a comment\n", "\n\n" };
	struct prenv_err err = PRENV_ERR_INIT;
	struct yaml_doc *doc = NULL;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
		assert_int_equal(yaml_doc_load(&doc, none[i], strlen(none[i]), NULL,
					       YAML_DOC_STRICT, &err), 0);
		assert_null(yaml_doc_root(doc));
		yaml_doc_free(doc);
	}
	assert_int_equal(yaml_doc_load(&doc, "---\n", 4, NULL, YAML_DOC_STRICT, &err), 0);
	assert_int_equal(yaml_doc_root(doc)->kind, YAML_KIND_SCALAR);
	assert_int_equal(yaml_doc_root(doc)->len, 0);
	yaml_doc_free(doc);
}

struct doc_err_case {
	const char *text;
	unsigned flags;
	int line, col;
	const char *msg; /* the whole message */
};

#define ANCHOR_X "YAML anchors (&x) are not supported in a config; remove it"
#define SECOND_DOC "a second YAML document starts here; a config holds one document " \
		   "(remove the '---')"

static void test_yaml_doc_errors(void **state)
{
	static const struct doc_err_case cases[] = {
		{ "a: &x 1\n", YAML_DOC_STRICT, 1, 4, ANCHOR_X },
		{ "a: &x [1]\n", YAML_DOC_STRICT, 1, 4, ANCHOR_X },
		{ "a: &x !x [1]\n", YAML_DOC_STRICT, 1, 4, ANCHOR_X },
		{ "a: 1\nb: *x\n", YAML_DOC_STRICT, 2, 4,
		  "YAML aliases (*x) are not supported in a config; write the value out" },
		{ "a: !!str 1\n", YAML_DOC_STRICT, 1, 4,
		  "YAML tags (tag:yaml.org,2002:str) are not supported in a config; "
		  "quote the value instead" },
		{ "a: !x {b: 1}\n", YAML_DOC_STRICT, 1, 4,
		  "YAML tags (!x) are not supported in a config; remove it" },
		{ "a: 1\n---\nb: 2\n", YAML_DOC_STRICT, 2, 1, SECOND_DOC },
		{ "a: 1\n---\nb: &x 2\n", YAML_DOC_STRICT, 2, 1, SECOND_DOC },
		{ "a: [1, 2\nb: 3\n", YAML_DOC_STRICT, 2, 2,
		  "YAML syntax error: did not find expected ',' or ']' (while parsing a flow "
		  "sequence that starts at line 1, column 4); check the indentation and quoting" },
		{ "a: 1\n---\nb: [\n", 0, 4, 1,
		  "YAML syntax error: did not find expected node content (while parsing a flow "
		  "node that starts at line 4, column 1); check the indentation and quoting" },
		{ "a:\n\tb: 1\n", 0, 2, 1,
		  "YAML syntax error: found character that cannot start any token (while "
		  "scanning for the next token that starts at line 2, column 1); check the "
		  "indentation and quoting" },
		{ "a: 1\nb: *nope\n", 0, 2, 4, "undefined YAML alias *nope" },
		{ "a: &x [1, *x]\n", 0, 1, 11, "undefined YAML alias *x" }, /* no cycles */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct doc_err_case *c = &cases[i];
		struct prenv_err err = PRENV_ERR_INIT;
		struct yaml_doc *doc = (struct yaml_doc *)1;
		int rc = yaml_doc_load(&doc, c->text, strlen(c->text), "c.yml", c->flags, &err);

		if (rc != PRENV_ECONFIG || err.line != c->line || err.col != c->col ||
		    !err.msg || strcmp(err.msg, c->msg))
			print_error("case %zu: rc %d at %d:%d: %s\n", i, rc, err.line, err.col,
				    err.msg ? err.msg : "(none)");
		assert_int_equal(rc, PRENV_ECONFIG);
		assert_null(doc);
		assert_string_equal(err.file, "c.yml");
		assert_int_equal(err.line, c->line);
		assert_int_equal(err.col, c->col);
		assert_string_equal(err.msg, c->msg);
		prenv_err_clear(&err);
	}
}

static void test_yaml_doc_lenient_shares_aliases(void **state)
{
	const char *text = "base: &b {image: x}\ncopy: *b\nname: !!str &n web\nalso: *n\n"
			   "---\nignored: &b [*b]\n";
	struct prenv_err err = PRENV_ERR_INIT;
	struct yaml_doc *doc = NULL;
	const struct yaml_node *root;

	(void)state;
	assert_int_equal(yaml_doc_load(&doc, text, strlen(text), "f", 0, &err), 0);
	root = yaml_doc_root(doc);
	assert_int_equal(root->n, 4);
	/* an alias is its anchored node, shared */
	assert_ptr_equal(yaml_map_get(root, "base"), yaml_map_get(root, "copy"));
	assert_ptr_equal(yaml_map_get(root, "name"), yaml_map_get(root, "also"));
	assert_string_equal(yaml_map_get(root, "also")->text, "web");
	assert_null(yaml_map_get(root, "ignored"));
	yaml_doc_free(doc); /* frees the shared nodes once (ASan checks) */
}

/* depth '['s, "x", depth ']'s after prefix. */
static void nested(struct prenv_buf *b, const char *prefix, int depth)
{
	int i;

	prenv_buf_reset(b);
	prenv_buf_adds(b, prefix);
	for (i = 0; i < depth; i++)
		prenv_buf_addc(b, '[');
	prenv_buf_adds(b, "x");
	for (i = 0; i < depth; i++)
		prenv_buf_addc(b, ']');
}

/* Nesting is limited to 512 levels, as in the cJSON view, in every document
 * of the stream: libyaml's scanner takes time quadratic in the flow depth
 * (the config loader took 9 s on 64 KiB of "{a: ", 151 s on 256 KiB), so the
 * loader stops at the first node that is too deep. 512 levels still load,
 * without recursion. */
static void test_yaml_doc_deep_nesting_limited(void **state)
{
	static const unsigned modes[] = { YAML_DOC_STRICT, 0 };
	struct prenv_buf b = PRENV_BUF_INIT;
	struct prenv_err err = PRENV_ERR_INIT;
	struct yaml_doc *doc = NULL;
	const struct yaml_node *n;
	size_t m;
	int i, depth = 0;

	(void)state;
	nested(&b, "", 512);
	assert_int_equal(yaml_doc_load(&doc, b.ptr, b.len, "deep", YAML_DOC_STRICT, &err), 0);
	for (n = yaml_doc_root(doc); n->kind == YAML_KIND_SEQ; n = n->items[0])
		depth++;
	assert_int_equal(depth, 512);
	assert_string_equal(n->text, "x");
	assert_int_equal(n->col, 513);
	yaml_doc_free(doc);
	for (m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		nested(&b, "a: ", 513);
		assert_int_equal(yaml_doc_load(&doc, b.ptr, b.len, "deep", modes[m], &err),
				 PRENV_ECONFIG);
		assert_null(doc);
		assert_non_null(strstr(err.msg, "deeper than 512"));
		assert_int_equal(err.line, 1);
		assert_int_equal(err.col, 4 + 511); /* the mapping is level 1 */
		prenv_err_clear(&err);
	}
	/* a later document (read, not kept, when lenient) */
	nested(&b, "a\n---\n", 2000);
	assert_int_equal(yaml_doc_load(&doc, b.ptr, b.len, "deep", 0, &err), PRENV_ECONFIG);
	assert_non_null(strstr(err.msg, "deeper than 512"));
	assert_int_equal(err.line, 3);
	prenv_err_clear(&err);
	/* the slow input: flow mappings 8000 deep, never closed */
	prenv_buf_reset(&b);
	for (i = 0; i < 8000; i++)
		prenv_buf_adds(&b, "{a: ");
	assert_int_equal(yaml_doc_load(&doc, b.ptr, b.len, "deep", YAML_DOC_STRICT, &err),
			 PRENV_ECONFIG);
	assert_non_null(strstr(err.msg, "deeper than 512"));
	assert_int_equal(err.col, 4 * 512 + 1);
	prenv_err_clear(&err);
	prenv_buf_free(&b);
}

/* ---- the fast emitter writes exactly what libyaml's does (issue 15 item 7) */

static void emit_same(const cJSON *doc, const char *what)
{
	struct prenv_buf a = PRENV_BUF_INIT, b = PRENV_BUF_INIT;
	struct prenv_err ea = PRENV_ERR_INIT, eb = PRENV_ERR_INIT;
	int ra = yaml_emit_json(&a, doc, &ea), rb = yaml_emit_json_ref(&b, doc, &eb);

	if (ra != rb || (ra == 0 && (a.len != b.len || memcmp(a.ptr, b.ptr, a.len)))) {
		char *j = cJSON_PrintUnformatted(doc);

		fail_msg("%s: %s\nfast (%d):\n%s\nlibyaml (%d):\n%s", what, j ? j : "?", ra,
			 a.ptr ? a.ptr : "", rb, b.ptr ? b.ptr : "");
	}
	prenv_buf_free(&a);
	prenv_buf_free(&b);
	prenv_err_clear(&ea);
	prenv_err_clear(&eb);
}

static const char *const emit_docs[] = {
	"{\"a\":1}",
	"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"y\",\"labels\":{\"a.b/c\":\"x:y\"}},"
	"\"data\":{\"t\":\"Fix: \\\"q\\\" #1 --- yes\",\"e\":\"\",\"n\":\"null\",\"one\":\"1\",\"d\":\"-\"}}",
	"{\"s\":[[1,2],[],{},{\"x\":1},-1.5,true,false,null,1e300,-0.0,0.1,12345678901234567890]}",
	"{\"deep\":[[[{\"a\":[{\"b\":[[]]}]}]]],\"m\":{\"n\":{\"o\":{}}}}",
	"{\"ctl\":\"\\u0000\\u0001\\u0007\\b\\t\\n\\u000b\\f\\r\\u001b\\u007f\\\\\\\"\"}",
	"{\"u\":\"\\u0085 \\u00a0 \\u2028 \\u2029 \\ufeff \\ufffe \\uffff \\ud83d\\ude00 \\u00e9 \\u4e2d \\ue000\"}",
	"{\"long\":\"" "a b c d e f g h i j k l m n o p q r s t u v w x y z a b c d e f g h i j k l m n o p"
	" q r s t u v w x y z a b c d e f g h i j k l m n o p q r s t u v w x y z  two  spaces \"}",
	"{\"k with space\":1,\"\":2,\"y\":3,\"Yes\":4,\"0x1F\":5,\"~\":6,\"a:\":7,\"-a\":8,\"/p\":9}",
	"{\"" "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"
	"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk\":1}",
	"{\"multi\\nline key\":1,\"v\":2}",
	"{}", "[]", "[1,{\"a\":2}]", "\"scalar\"", "42", "null",
};

static void test_yaml_emit_fast_matches_libyaml_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(emit_docs) / sizeof(emit_docs[0]); i++) {
		cJSON *d = cJSON_Parse(emit_docs[i]);

		assert_non_null(d);
		emit_same(d, emit_docs[i]);
		cJSON_Delete(d);
	}
}

/* Random documents from pieces that matter to quoting. */
static unsigned long emit_rng = 12345;

static unsigned pick(unsigned n)
{
	emit_rng = emit_rng * 6364136223846793005UL + 1442695040888963407UL;
	return (unsigned)((emit_rng >> 33) % n);
}

static char *random_text(void)
{
	static const char *const bits[] = {
		"a", "Z", "0", "9", "_", "-", ".", "/", ":", " ", "  ", "#", "\"", "'", "\\", "\n",
		"\t", "\r", "\x01", "\x7f", "{", "}", "[", "]", ",", "&", "*", "!", "|", ">", "%", "@",
		"`", "?", "true", "no", "null", "~", "1", "0x1", "1e3", ".5", "\xc3\xa9", "\xc2\x85",
		"\xc2\xa0", "\xc2\x9f", "\xe2\x80\xa8", "\xe2\x80\xa9", "\xef\xbb\xbf", "\xef\xbf\xbe",
		"\xed\x9f\xbf", "\xee\x80\x80", "\xf0\x9f\x98\x80", "\xe4\xb8\xad", "\xff", "\xc3",
	};
	char *s = calloc(1, 200);
	unsigned k, n = pick(8);

	for (k = 0; k < n; k++)
		strcat(s, bits[pick(sizeof(bits) / sizeof(bits[0]))]);
	return s;
}

static cJSON *random_value(int depth)
{
	unsigned kind = pick(depth > 4 ? 6 : 9);
	cJSON *v;
	char *t;

	switch (kind) {
	case 0: case 1: case 2:
		t = random_text();
		v = cJSON_CreateString(t);
		free(t);
		return v;
	case 3: return cJSON_CreateNumber((double)pick(2000) / 8.0 - 100.0);
	case 4: return pick(2) ? cJSON_CreateBool(pick(2)) : cJSON_CreateNull();
	case 5: return pick(2) ? cJSON_CreateObject() : cJSON_CreateArray();
	case 6: case 7: {
		unsigned k, n = 1 + pick(4);

		v = cJSON_CreateObject();
		for (k = 0; k < n; k++) {
			t = random_text();
			cJSON_AddItemToObject(v, t, random_value(depth + 1));
			free(t);
		}
		return v;
	}
	default: {
		unsigned k, n = 1 + pick(4);

		v = cJSON_CreateArray();
		for (k = 0; k < n; k++)
			cJSON_AddItemToArray(v, random_value(depth + 1));
		return v;
	}
	}
}

static void test_yaml_emit_fast_matches_libyaml_random(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < 3000; i++) {
		cJSON *d = cJSON_CreateObject();
		unsigned k, n = 1 + pick(5);

		for (k = 0; k < n; k++) {
			char *t = random_text();

			cJSON_AddItemToObject(d, t, random_value(0));
			free(t);
		}
		emit_same(d, "random");
		cJSON_Delete(d);
	}
}

/* ---- the block-style fast path reads exactly what libyaml reads (issue 15
 * item 7): whatever yaml__parse_block accepts, the libyaml path accepts too
 * and makes the same documents (types, key order) and lines of; whatever
 * it leaves, yaml_parse_json_lines hands to libyaml (same errors). */

struct parsed {
	int rc;
	char *json;
	int *lines;
	size_t n;
	struct prenv_err err;
};

static void parsed_free(struct parsed *p)
{
	free(p->json);
	free(p->lines);
	prenv_err_clear(&p->err);
}

/* how: 0 the public function, 1 libyaml only, 2 the fast path only */
static void parse_with(struct parsed *p, int how, const char *text, size_t len)
{
	struct prenv_err e0 = PRENV_ERR_INIT;
	cJSON *docs = NULL;

	memset(p, 0, sizeof(*p));
	p->err = e0;
	if (how == 0)
		p->rc = yaml_parse_json_lines(&docs, &p->lines, text, len, "t.yaml", &p->err);
	else if (how == 1)
		p->rc = yaml_parse_json_lines_ref(&docs, &p->lines, text, len, "t.yaml", &p->err);
	else
		p->rc = yaml__parse_block(&docs, &p->lines, text, len);
	if (p->rc == 0) {
		p->json = cJSON_PrintUnformatted(docs);
		p->n = (size_t)cJSON_GetArraySize(docs);
	}
	cJSON_Delete(docs);
}

static void parsed_same(const struct parsed *a, const struct parsed *b, const char *text,
			const char *what)
{
	size_t i;

	if (a->rc != b->rc || (a->rc == 0 && strcmp(a->json, b->json)) ||
	    (a->rc == 0 && a->n != b->n))
		fail_msg("%s: different results for:\n%s\n-- %d %s\n-- %d %s", what, text,
			 a->rc, a->rc ? a->err.msg : a->json, b->rc, b->rc ? b->err.msg : b->json);
	for (i = 0; a->rc == 0 && i < a->n; i++)
		if (a->lines[i] != b->lines[i])
			fail_msg("%s: document %zu starts on line %d, libyaml says %d:\n%s", what,
				 i, a->lines[i], b->lines[i], text);
	if (a->rc != 0 && (strcmp(a->err.msg, b->err.msg) || a->err.line != b->err.line ||
			   a->err.col != b->err.col))
		fail_msg("%s: different errors for:\n%s\n-- %s\n-- %s", what, text, a->err.msg,
			 b->err.msg);
}

/* Compares the fast path (when it takes the text) and the public function
 * with libyaml's; returns 1 when the fast path took it. */
static int block_ref_ok; /* how many libyaml read */

static int block_check(const char *text, size_t len)
{
	struct parsed fast, pub, ref;
	int took;

	parse_with(&ref, 1, text, len);
	block_ref_ok += ref.rc == 0;
	parse_with(&pub, 0, text, len);
	parse_with(&fast, 2, text, len);
	parsed_same(&pub, &ref, text, "yaml_parse_json_lines");
	took = fast.rc == 0;
	if (took) {
		if (ref.rc != 0)
			fail_msg("the fast path accepts what libyaml refuses (%s):\n%s", ref.err.msg, text);
		parsed_same(&fast, &ref, text, "yaml__parse_block");
	} else {
		assert_int_equal(fast.rc, YB_NO);
	}
	parsed_free(&fast);
	parsed_free(&pub);
	parsed_free(&ref);
	return took;
}

static const char *const block_taken[] = {
	"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web-0\n  annotations:\n"
	"    prenv.dev/branch: feature/login\n    prenv.dev/title: \"Fix: login\"\nspec:\n"
	"  replicas: 1\n  selector:\n    matchLabels:\n      app: web-0\n  template:\n"
	"    metadata:\n      labels:\n        app: web-0\n    spec:\n      containers:\n"
	"        - name: web\n          image: ghcr.io/acme/shop:1111111\n          ports:\n"
	"            - containerPort: 8080\n          env:\n            - name: ENV_NAME\n"
	"              value: pr-42\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n"
	"  name: c\n---\n",
	"# c\n\n---\n# only a comment\n---   # c\na: 1\nb:\nc: ~\nd: null\ne: true\nf: 0x1F\n"
	"g: 0o17\nh: -1.5e3\ni: .inf\nj: 12345678901234567890\nk: 'it''s'\nl: \"\\x20\\u00e9\\U0001F600\\t\\\\\\\"\\/\\N\\_\\L\\P\\e\"\n",
	"a:\n- x\n-\n- k: v\n  k2: v2\n-   k3: 1\n    k4:\n      - 1\nb: x # c\nc: a#b\nd: http://h:1/p\n"
	"e: '#'\nf: \"a\" # c\ng:    spaced   \nh: -x\n",
	"  a: 1\n  b:\n    c: 2\n",
	"a: [x\n", /* not taken: flow */
	"",
	"---\n---\n",
};

static void test_yaml_block_fast_path_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(block_taken) / sizeof(block_taken[0]); i++)
		assert_int_equal(block_check(block_taken[i], strlen(block_taken[i])),
				 strstr(block_taken[i], "[x") == NULL);
}

static const char *const block_left[] = {
	"a: |\n  x\n", "a: >\n  x\n", "a: &x 1\nb: *x\n", "a: !!str 1\n", "%YAML 1.2\n---\na: 1\n",
	"a: 1\n...\n", "a: {b: 1}\n", "a: b: c\n", "a: b:\n", "a:\tb\n", "a: b\r\n",
	"a: \xc3\xa9\n", "a: 1\na: 2\n", "\"a\": 1\n", "a: x\n  y\n", "a:\n  x\n",
	"a: \"x\n  y\"\n", "a: 'x\n", "a: \"\\0\"\n", "a: \"\\ud800\"\n", "a: \"\\q\"\n",
	"- a\n", "x\n", "a: 1\n b: 2\n", "a:\n    b: 1\n  c: 2\n", "--- a: 1\n", "---x\n",
	"a: \"x\"y\n", "a: ? x\n", "a: -\n", "a: - x\n", "a:\n- x\n - y\n", "? a\n: 1\n",
	"a: 1 # c\n  b: 2\n", "a: \"\\x00\"\n", "a: \"\\u0000\"\n", "a: \"\\U00110000\"\n",
};

static void test_yaml_block_fast_path_leaves_the_rest_to_libyaml(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(block_left) / sizeof(block_left[0]); i++)
		if (block_check(block_left[i], strlen(block_left[i])))
			fail_msg("the fast path took:\n%s", block_left[i]);
}

/* Lines are mostly indented like a document's (the same as the line
 * before, two more, or back), sometimes anyhow. */
static int block_indent(int prev)
{
	static const int odd[] = { 0, 1, 3, 5, 8 };
	unsigned r = pick(20);

	if (r < 8)
		return prev;
	if (r < 13)
		return prev + 2;
	if (r < 18)
		return prev >= 2 ? (int)(pick((unsigned)prev / 2 + 1) * 2) : 0;
	return odd[pick(sizeof(odd) / sizeof(odd[0]))];
}

static int block_random_line(struct prenv_buf *b, int prev)
{
	static const char *const keys[] = {
		"a", "b", "name", "app.kubernetes.io/name", "x-y", "_k", "1", "true", "a b",
		"\"q\"", "'s'", "-k", ".k", "k:", "a#b", "/p", "a.b", "A9",
	};
	static const char *const vals[] = {
		"x", "web-0", "\"Fix: login\"", "'it''s'", "\"\\x20a\\u00e9\\U0001F600\"", "\"\\0\"",
		"\"\\ud800\"", "null", "~", "true", "1", "-1", "0x1F", "0o17", "1e3", ".inf", "-.5",
		"a: b", "a:", "a #c", "a#b", "#c", "[1]", "{}", "&a x", "*a", "!!str 1", "|", "> x",
		"\"open", "'", "\"a\" b", "'a' # c", "-x", "--", "?x", ":x", "x  ", "http://h:1/p",
		"12345678901234567890", "\"\\t\\n\\\\\\\"\"", "\"\\q\"", "", "- x", "-", "a,b", "a]",
		"\"#\"", "'\"'", "\"'\"", "x # y: z", "\xc3\xa9", "a\tb", "No", "0777", "+1", "1_0",
	};
	const char *k = keys[pick(3) ? pick(3) : pick(sizeof(keys) / sizeof(keys[0]))];
	const char *v = vals[pick(2) ? pick(17) : pick(sizeof(vals) / sizeof(vals[0]))];
	int i, in = block_indent(prev);

	for (i = 0; i < in; i++)
		prenv_buf_addc(b, ' ');
	switch (pick(12)) {
	case 0: case 1: case 2: prenv_buf_printf(b, "%s: %s", k, v); break;
	case 3: prenv_buf_printf(b, "%s:", k); break;
	case 4: prenv_buf_printf(b, "- %s", v); break;
	case 5: prenv_buf_printf(b, "- %s: %s", k, v); break;
	case 6: prenv_buf_printf(b, "- %s:", k); break;
	case 7: prenv_buf_adds(b, pick(2) ? "-" : "# comment"); break;
	case 8: prenv_buf_adds(b, pick(3) ? "---" : pick(2) ? "--- # c" : "..."); break;
	case 9: prenv_buf_printf(b, "%s", v); break;
	case 10: prenv_buf_printf(b, "%s:   %s   # c", k, v); break;
	default: break;
	}
	prenv_buf_addc(b, '\n');
	return in;
}

static void test_yaml_block_fast_path_random(void **state)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	int i, in, took = 0;

	(void)state;
	block_ref_ok = 0;
	for (i = 0; i < 30000; i++) {
		unsigned k, n = 1 + pick(10);

		prenv_buf_reset(&b);
		for (k = 0, in = 0; k < n; k++)
			in = block_random_line(&b, in);
		if (pick(4) == 0)
			b.len--; /* no newline at the end */
		took += block_check(b.ptr, b.len);
	}
	/* it must have been tried on plenty: the comparison means nothing
	 * when the fast path takes nothing */
	print_message("# fast path: took %d of 30000 random streams (libyaml read %d)\n", took,
		      block_ref_ok);
	assert_true(took > 2000);
	prenv_buf_free(&b);
}

/* Whole numbers are written as %.0f writes them (the emitter formats the
 * ones below 1e15 itself); -0.0 stays -0.0. */
static void test_yaml_emit_whole_numbers(void **state)
{
	static const double nums[] = {
		0, 1, -1, 7, 10, 8080, -8080, 65535, 123456789, -987654321012, 999999999999999,
		-999999999999999, 1e15, -1e15, 4503599627370496.0, 9007199254740992.0, 1e16,
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		struct prenv_buf out = PRENV_BUF_INIT, want = PRENV_BUF_INIT;
		struct prenv_err err = PRENV_ERR_INIT;
		cJSON *d = cJSON_CreateObject();

		cJSON_AddNumberToObject(d, "x", nums[i]);
		assert_int_equal(yaml_emit_json(&out, d, &err), 0);
		prenv_buf_printf(&want, "---\nx: %.0f\n", nums[i]);
		assert_string_equal(out.ptr, want.ptr);
		prenv_buf_free(&out);
		prenv_buf_free(&want);
		cJSON_Delete(d);
	}
	{
		struct prenv_buf out = PRENV_BUF_INIT;
		struct prenv_err err = PRENV_ERR_INIT;
		cJSON *d = cJSON_CreateObject();

		cJSON_AddNumberToObject(d, "x", -0.0);
		assert_int_equal(yaml_emit_json(&out, d, &err), 0);
		assert_string_equal(out.ptr, "---\nx: -0.0\n");
		prenv_buf_free(&out);
		cJSON_Delete(d);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_yaml_parse_typing),
		cmocka_unit_test(test_yaml_parse_special_floats),
		cmocka_unit_test(test_yaml_big_int_keeps_digits),
		cmocka_unit_test(test_yaml_parse_errors_have_position),
		cmocka_unit_test(test_yaml_empty_documents_skipped),
		cmocka_unit_test(test_yaml_anchors_resolved),
		cmocka_unit_test(test_yaml_billion_laughs_rejected),
		cmocka_unit_test(test_yaml_deep_nesting_rejected),
		cmocka_unit_test(test_yaml_emit_quotes_ambiguous_strings),
		cmocka_unit_test(test_yaml_emit_rejects_raw),
		cmocka_unit_test(test_yaml_emit_fast_matches_libyaml_table),
		cmocka_unit_test(test_yaml_emit_fast_matches_libyaml_random),
		cmocka_unit_test(test_yaml_plain_safe_table),
		cmocka_unit_test(test_yaml_roundtrip_property),
		cmocka_unit_test(test_yaml_doc_nodes_keep_position_text_and_style),
		cmocka_unit_test(test_yaml_doc_empty_streams),
		cmocka_unit_test(test_yaml_doc_errors),
		cmocka_unit_test(test_yaml_doc_lenient_shares_aliases),
		cmocka_unit_test(test_yaml_doc_deep_nesting_limited),
		cmocka_unit_test(test_yaml_emit_whole_numbers),
		cmocka_unit_test(test_yaml_block_fast_path_table),
		cmocka_unit_test(test_yaml_block_fast_path_leaves_the_rest_to_libyaml),
		cmocka_unit_test(test_yaml_block_fast_path_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
