/* test_tmpl.c - the official Mustache spec (loaded at run time from
 * $PRENV_REFDATA/mustache-spec/specs/<name>.json) plus unit tests of the engine's
 * own behaviour: strict variables, error positions, raw-tag warnings, YAML
 * escaping examples. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/err.h"
#include "render/tmpl.h"

/* ------------------------------------------------------------ the spec */

static int req_pass, req_total, opt_pass, opt_total, lambdas_skipped;

static int spec_partial(struct prenv_buf *out, const char *name, void *ud,
			struct prenv_err *err)
{
	const cJSON *p = cJSON_GetObjectItemCaseSensitive((const cJSON *)ud, name);

	(void)err;
	if (!cJSON_IsString(p))
		return PRENV_ENOTFOUND;
	return prenv_buf_adds(out, p->valuestring) < 0 ? PRENV_ENOMEM : 0;
}

static cJSON *load_spec(const char *file)
{
	const char *root = getenv("PRENV_REFDATA");
	struct prenv_buf path = PRENV_BUF_INIT, txt = PRENV_BUF_INIT;
	cJSON *j = NULL;

	prenv_buf_printf(&path, "%s/mustache-spec/specs/%s",
			 root && *root ? root : "../shared/refdata", file);
	if (prenv_buf_read_file(&txt, path.ptr) == 0)
		j = cJSON_Parse(txt.ptr);
	if (!j)
		print_error("cannot load spec file %s\n", path.ptr);
	prenv_buf_free(&path);
	prenv_buf_free(&txt);
	return j;
}

/* Runs every case of one spec file; returns the number of failures. */
static int run_spec(const char *file, int *pass, int *total)
{
	cJSON *j = load_spec(file), *t;
	int fails = 0;

	assert_non_null(j);
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(j, "tests")) {
		const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(t, "name"));
		const char *tp = cJSON_GetStringValue(cJSON_GetObjectItem(t, "template"));
		const char *exp = cJSON_GetStringValue(cJSON_GetObjectItem(t, "expected"));
		const cJSON *data = cJSON_GetObjectItem(t, "data");
		struct tmpl_opts o = TMPL_OPTS_INIT;
		struct prenv_buf out = PRENV_BUF_INIT;
		struct prenv_err err = PRENV_ERR_INIT;
		int rc;

		assert_non_null(tp);
		assert_non_null(exp);
		o.filename = name;
		o.allow_missing = 1;
		o.partial = spec_partial;
		o.partial_ud = cJSON_GetObjectItem(t, "partials");
		(*total)++;
		rc = tmpl_render(&out, tp, strlen(tp), data, &o, &err);
		if (rc == 0 && strcmp(out.ptr, exp) == 0) {
			(*pass)++;
		} else {
			fails++;
			printf("spec %s: \"%s\" FAILED\n  template: %s\n  expected: [%s]\n"
			       "  got:      [%s]%s%s\n", file, name, tp, exp, out.ptr,
			       rc ? "\n  error: " : "", rc ? err.msg : "");
		}
		prenv_buf_free(&out);
		prenv_err_clear(&err);
	}
	cJSON_Delete(j);
	return fails;
}

#define REQUIRED_SPEC(fn, file) \
	static void fn(void **state) \
	{ \
		(void)state; \
		assert_int_equal(run_spec(file, &req_pass, &req_total), 0); \
	}
REQUIRED_SPEC(test_tmpl_spec_comments, "comments.json")
REQUIRED_SPEC(test_tmpl_spec_delimiters, "delimiters.json")
REQUIRED_SPEC(test_tmpl_spec_interpolation, "interpolation.json")
REQUIRED_SPEC(test_tmpl_spec_inverted, "inverted.json")
REQUIRED_SPEC(test_tmpl_spec_partials, "partials.json")
REQUIRED_SPEC(test_tmpl_spec_sections, "sections.json")

/* Optional modules: counted, reported; lambdas are not supported. */
static void test_tmpl_spec_optional(void **state)
{
	cJSON *l = load_spec("~lambdas.json");
	int dyn_pass = 0, dyn_total = 0, inh_pass = 0, inh_total = 0;

	(void)state;
	run_spec("~dynamic-names.json", &dyn_pass, &dyn_total);
	run_spec("~inheritance.json", &inh_pass, &inh_total);
	assert_non_null(l);
	lambdas_skipped = cJSON_GetArraySize(cJSON_GetObjectItem(l, "tests"));
	cJSON_Delete(l);
	opt_pass = dyn_pass + inh_pass;
	opt_total = dyn_total + inh_total;
	printf("# mustache optional: ~dynamic-names %d/%d, ~inheritance %d/%d\n",
	       dyn_pass, dyn_total, inh_pass, inh_total);
	/* both optional files were found and run */
	assert_true(dyn_total > 0 && inh_total > 0);
}

/* ------------------------------------------------------------- helpers */

static cJSON *J(const char *s)
{
	cJSON *j = cJSON_Parse(s);
	assert_non_null(j);
	return j;
}

static int render(const char *tp, const char *data, enum tmpl_escape esc,
		  struct prenv_buf *out, struct prenv_err *err)
{
	struct tmpl_opts o = TMPL_OPTS_INIT;
	cJSON *d = J(data);
	int rc;

	o.filename = "t.yaml";
	o.escape = esc;
	rc = tmpl_render(out, tp, strlen(tp), d, &o, err);
	cJSON_Delete(d);
	return rc;
}

static void expect(const char *tp, const char *data, enum tmpl_escape esc,
		   const char *want)
{
	struct prenv_buf out = PRENV_BUF_INIT;
	struct prenv_err err = PRENV_ERR_INIT;
	int rc = render(tp, data, esc, &out, &err);

	if (rc != 0)
		print_error("render failed: %s\n", err.msg);
	assert_int_equal(rc, 0);
	assert_string_equal(out.ptr, want);
	prenv_buf_free(&out);
	prenv_err_clear(&err);
}

static void expect_err(const char *tp, const char *data, enum tmpl_escape esc,
		       int line, int col, const char *msg_part)
{
	struct prenv_buf out = PRENV_BUF_INIT;
	struct prenv_err err = PRENV_ERR_INIT;
	int rc;

	prenv_buf_adds(&out, "KEEP");
	rc = render(tp, data, esc, &out, &err);
	assert_int_equal(rc, PRENV_ECONFIG);
	assert_int_equal(err.code, PRENV_ECONFIG);
	assert_non_null(err.msg);
	if (!strstr(err.msg, msg_part))
		print_error("message: %s\n", err.msg);
	assert_non_null(strstr(err.msg, msg_part));
	assert_string_equal(err.file, "t.yaml");
	assert_int_equal(err.line, line);
	assert_int_equal(err.col, col);
	/* nothing from the failed call stays in out */
	assert_string_equal(out.ptr, "KEEP");
	prenv_buf_free(&out);
	prenv_err_clear(&err);
}

/* ---------------------------------------------------------- unit tests */

static void test_tmpl_strict_missing_variable(void **state)
{
	(void)state;
	expect_err("a: 1\nb: x{{nope}}\n", "{}", TMPL_ESC_NONE, 2, 5, "'nope'");
	expect_err("{{#a}}\n  {{a.b.c}}\n{{/a}}", "{\"a\":{\"b\":{}}}",
		   TMPL_ESC_NONE, 2, 3, "'a.b.c'");
	expect_err("x\n{{#sec}}y{{/sec}}", "{}", TMPL_ESC_HTML, 2, 1, "'sec'");
	expect_err("x {{^sec}}y{{/sec}}", "{}", TMPL_ESC_HTML, 1, 3, "--allow-missing");
}

static void test_tmpl_allow_missing_renders_empty(void **state)
{
	struct tmpl_opts o = TMPL_OPTS_INIT;
	struct prenv_buf out = PRENV_BUF_INIT;
	cJSON *d = J("{}");

	(void)state;
	o.allow_missing = 1;
	{
	const char *tp = "[{{x}}|{{#s}}S{{/s}}|{{^s}}N{{/s}}]";

	assert_int_equal(tmpl_render(&out, tp, strlen(tp), d, &o, NULL), 0);
	assert_string_equal(out.ptr, "[||N]");
	}
	prenv_buf_free(&out);
	cJSON_Delete(d);
}

static void test_tmpl_null_is_not_missing(void **state)
{
	(void)state;
	expect("[{{n}}|{{#n}}S{{/n}}|{{^n}}N{{/n}}]", "{\"n\":null}",
	       TMPL_ESC_NONE, "[||N]");
}

static void test_tmpl_numbers(void **state)
{
	(void)state;
	expect("{{a}} {{b}} {{c}} {{d}}", "{\"a\":3,\"b\":1.210,\"c\":-0.5,\"d\":1e20}",
	       TMPL_ESC_NONE, "3 1.21 -0.5 1e+20");
}

static void test_tmpl_syntax_errors(void **state)
{
	(void)state;
	expect_err("a\n {{#list}}x", "{}", TMPL_ESC_NONE, 2, 2,
		   "{{#list}} is never closed");
	expect_err("{{#a}}\n{{#b}}\n{{/a}}\n{{/b}}", "{}", TMPL_ESC_NONE, 3, 1,
		   "{{/a}} does not match {{#b}} opened at line 2, column 1");
	expect_err("ok\nx {{name", "{}", TMPL_ESC_NONE, 2, 3, "unclosed tag");
	expect_err("\n\n  {{=<% =}}", "{}", TMPL_ESC_NONE, 3, 3, "set-delimiter");
	expect_err("{{/x}}", "{}", TMPL_ESC_NONE, 1, 1, "no opening");
	expect_err("{{ }}", "{}", TMPL_ESC_NONE, 1, 1, "empty tag name");
}

static void test_tmpl_object_interpolation_is_error(void **state)
{
	(void)state;
	expect_err("v: {{o}}", "{\"o\":{\"a\":1}}", TMPL_ESC_YAML, 1, 4,
		   "use a section");
}

struct warn_rec {
	int n, line, col;
	char msg[256];
};

static void rec_warn(void *ud, const char *file, int line, int col,
		     const char *msg)
{
	struct warn_rec *w = ud;

	(void)file;
	w->n++;
	w->line = line;
	w->col = col;
	snprintf(w->msg, sizeof(w->msg), "%s", msg);
}

static void test_tmpl_raw_untrusted_warns(void **state)
{
	static const char *const untrusted[] = { "pr.title", "git.branch", NULL };
	struct tmpl_opts o = TMPL_OPTS_INIT;
	struct prenv_buf out = PRENV_BUF_INIT;
	struct warn_rec w = { 0, 0, 0, "" };
	cJSON *d = J("{\"pr\":{\"title\":\"a: b\"},\"app\":\"x\"}");
	const char *tp = "{{{app}}}\n  t: {{{pr.title}}} {{& pr.title}}";

	(void)state;
	o.escape = TMPL_ESC_YAML;
	o.untrusted = untrusted;
	o.warn = rec_warn;
	o.warn_ud = &w;
	assert_int_equal(tmpl_render(&out, tp, strlen(tp), d, &o, NULL), 0);
	assert_string_equal(out.ptr, "x\n  t: a: b a: b");
	assert_int_equal(w.n, 2);
	assert_int_equal(w.line, 2);
	assert_int_equal(w.col, 21);
	assert_non_null(strstr(w.msg, "use {{pr.title}} to escape it"));
	prenv_buf_free(&out);
	cJSON_Delete(d);
}

static void test_tmpl_render_string(void **state)
{
	struct prenv_err err = PRENV_ERR_INIT;
	cJSON *d = J("{\"env\":{\"name\":\"pr-7\"}}");
	char *s;

	(void)state;
	s = tmpl_render_string("https://{{env.name}}.x/<&>", d, "url", &err);
	assert_non_null(s);
	assert_string_equal(s, "https://pr-7.x/<&>");
	free(s);
	assert_null(tmpl_render_string("{{env.nope}}", d, "url", &err));
	assert_int_equal(err.code, PRENV_ECONFIG);
	assert_string_equal(err.file, "url");
	prenv_err_clear(&err);
	cJSON_Delete(d);
}

static void test_tmpl_yaml_contexts(void **state)
{
	(void)state;
	/* plain: safe strings stay plain, others become double-quoted */
	expect("a: {{v}}\n", "{\"v\":\"web-1\"}", TMPL_ESC_YAML, "a: web-1\n");
	expect("a: {{v}}\n", "{\"v\":\"true\"}", TMPL_ESC_YAML, "a: \"true\"\n");
	expect("a: {{n}}\n", "{\"n\":3}", TMPL_ESC_YAML, "a: 3\n");
	expect("image: repo/{{v}}:tag # c\n", "{\"v\":\"x\\\"\\ny\"}", TMPL_ESC_YAML,
	       "image: \"repo/x\\\"\\ny:tag\" # c\n");
	expect("{{v}}: 1\n", "{\"v\":\"a: b\"}", TMPL_ESC_YAML, "\"a: b\": 1\n");
	expect("a: [x, {{v}}]\n", "{\"v\":\"], y\"}", TMPL_ESC_YAML,
	       "a: [x, \"], y\"]\n");
	/* quoted */
	expect("a: \"<{{v}}>\"\n", "{\"v\":\" q\\\"\\\\\\t\\u2028\"}", TMPL_ESC_YAML,
	       "a: \"<\\x20q\\\"\\\\\\t\\L>\"\n");
	expect("a: '{{v}}'\n", "{\"v\":\"it's\"}", TMPL_ESC_YAML, "a: 'it''s'\n");
	expect("a: 'x{{v}}'\n", "{\"v\":\"l1\\nl2\"}", TMPL_ESC_YAML,
	       "a: \"xl1\\nl2\"\n");
	/* block scalars */
	expect("a: |\n  {{v}}\nb: 1\n", "{\"v\":\"l1\\n  l2\"}", TMPL_ESC_YAML,
	       "a: |\n  l1\n    l2\nb: 1\n");
	expect("a: |\n  {{v}}\nb: 1\n", "{\"v\":\"l1\\n\"}", TMPL_ESC_YAML,
	       "a: \"l1\\n\\n\"\nb: 1\n");
	expect("a: >\n  x {{v}}\n  y\nb: 1\n", "{\"v\":\"l1\\nl2\"}", TMPL_ESC_YAML,
	       "a: \"x l1\\nl2 y\\n\"\nb: 1\n");
	/* comment */
	expect("a: 1 # {{v}}\n", "{\"v\":\"x: y\"}", TMPL_ESC_YAML, "a: 1 # x: y\n");
}

static void test_tmpl_yaml_rejects(void **state)
{
	(void)state;
	expect_err("a: 1\nb: 2 # {{v}}\n", "{\"v\":\"x\\ny: 1\"}", TMPL_ESC_YAML,
		   2, 8, "comment");
	expect_err("a: &{{v}} x\n", "{\"v\":\"n\"}", TMPL_ESC_YAML, 1, 5, "anchor");
	{
		struct tmpl_opts o = TMPL_OPTS_INIT;
		struct prenv_buf out = PRENV_BUF_INIT;
		struct prenv_err err = PRENV_ERR_INIT;
		cJSON *d = cJSON_CreateObject();

		cJSON_AddStringToObject(d, "v", "ok\xff\xfe");
		o.escape = TMPL_ESC_YAML;
		assert_int_equal(tmpl_render(&out, "a: \"{{v}}\"\n", 12, d, &o, &err),
				 PRENV_ECONFIG);
		assert_non_null(strstr(err.msg, "UTF-8"));
		assert_int_equal(err.col, 5);
		assert_int_equal(out.len, 0);
		prenv_buf_free(&out);
		prenv_err_clear(&err);
		cJSON_Delete(d);
	}
}

static int group_teardown(void **state)
{
	(void)state;
	printf("# mustache spec: required %d/%d passed, optional %d/%d passed, "
	       "lambdas skipped: %d\n", req_pass, req_total, opt_pass, opt_total,
	       lambdas_skipped);
	return 0;
}

static int two_line_partial(struct prenv_buf *out, const char *name, void *ud,
			    struct prenv_err *err)
{
	(void)ud;
	(void)err;
	if (strcmp(name, "p"))
		return PRENV_ENOTFOUND;
	return prenv_buf_adds(out, "p1: {{v}}\np2: x\n") < 0 ? PRENV_ENOMEM : 0;
}

/* Every output line knows the template line (and file) it came from:
 * standalone section lines that vanish, sections that repeat, partials
 * that add lines, in NONE and YAML mode. */
static void test_tmpl_linemap_points_at_source_lines(void **state)
{
	static const char src[] =
		"a: 1\n"          /* 1 */
		"{{#pr}}\n"       /* 2  standalone: gone */
		"t: {{v}}\n"      /* 3 */
		"{{/pr}}\n"       /* 4  gone */
		"{{#list}}\n"     /* 5  gone */
		"- {{.}}\n"       /* 6  twice */
		"{{/list}}\n"     /* 7  gone */
		"{{> p}}\n"       /* 8  partial: its own lines 1, 2 */
		"z: end\n";       /* 9 */
	static const struct { int out; const char *file; int line; } want[] = {
		{ 1, "t.yaml", 1 }, { 2, "t.yaml", 3 }, { 3, "t.yaml", 6 }, { 4, "t.yaml", 6 },
		{ 5, "p", 1 }, { 6, "p", 2 }, { 7, "t.yaml", 9 },
	};
	enum tmpl_escape modes[] = { TMPL_ESC_NONE, TMPL_ESC_YAML };
	cJSON *data = cJSON_Parse("{\"pr\": {\"n\": 1}, \"v\": \"x\", \"list\": [\"a\", \"b\"]}");
	size_t m, i;

	(void)state;
	for (m = 0; m < 2; m++) {
		struct tmpl_opts o = TMPL_OPTS_INIT;
		struct tmpl_linemap map = TMPL_LINEMAP_INIT;
		struct prenv_buf out = PRENV_BUF_INIT;
		struct prenv_err err = PRENV_ERR_INIT;

		o.filename = "t.yaml";
		o.escape = modes[m];
		o.partial = two_line_partial;
		o.linemap = &map;
		assert_int_equal(tmpl_render(&out, src, strlen(src), data, &o, &err), 0);
		assert_string_equal(out.ptr, modes[m] == TMPL_ESC_NONE
				    ? "a: 1\nt: x\n- a\n- b\np1: x\np2: x\nz: end\n"
				    : "a: 1\nt: x\n- a\n- b\np1: x\np2: x\nz: end\n");
		for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
			const char *file = NULL;
			int line = 0;

			assert_true(tmpl_linemap_find(&map, want[i].out, &file, &line));
			if (strcmp(file, want[i].file) || line != want[i].line)
				fail_msg("mode %zu: output line %d from %s:%d, want %s:%d", m,
					 want[i].out, file, line, want[i].file, want[i].line);
		}
		tmpl_linemap_free(&map);
		prenv_buf_free(&out);
	}
	cJSON_Delete(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tmpl_spec_comments),
		cmocka_unit_test(test_tmpl_spec_delimiters),
		cmocka_unit_test(test_tmpl_spec_interpolation),
		cmocka_unit_test(test_tmpl_spec_inverted),
		cmocka_unit_test(test_tmpl_spec_partials),
		cmocka_unit_test(test_tmpl_spec_sections),
		cmocka_unit_test(test_tmpl_spec_optional),
		cmocka_unit_test(test_tmpl_strict_missing_variable),
		cmocka_unit_test(test_tmpl_allow_missing_renders_empty),
		cmocka_unit_test(test_tmpl_null_is_not_missing),
		cmocka_unit_test(test_tmpl_numbers),
		cmocka_unit_test(test_tmpl_syntax_errors),
		cmocka_unit_test(test_tmpl_object_interpolation_is_error),
		cmocka_unit_test(test_tmpl_raw_untrusted_warns),
		cmocka_unit_test(test_tmpl_render_string),
		cmocka_unit_test(test_tmpl_yaml_contexts),
		cmocka_unit_test(test_tmpl_yaml_rejects),
		cmocka_unit_test(test_tmpl_linemap_points_at_source_lines),
	};

	return cmocka_run_group_tests(tests, NULL, group_teardown);
}
