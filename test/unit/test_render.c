/* test_render.c - render_dir: templates directory -> checked, labelled
 * objects (needs the Mustache engine, tmpl.c), and the starter templates in
 * templates/web/ with hostile pull-request values.
 * Run from the repository root (test/run-tests.sh does). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render/render.h"
#include "util/err.h"

#define FIX "test/fixtures/render/"

static const char *const untrusted[] = { "git.branch", "pr.title", "pr.author", NULL };

static cJSON *make_vars(const char *branch, const char *title, int with_pr)
{
	cJSON *v = cJSON_Parse(
		"{\"app\": \"shop\","
		" \"env\": {\"name\": \"pr-42\", \"kind\": \"preview\", \"namespace\": \"shop-pr-42\","
		"          \"host\": \"pr-42.preview.example.com\","
		"          \"url\": \"https://pr-42.preview.example.com\"},"
		" \"git\": {\"sha\": \"0123456789abcdef0123456789abcdef01234567\", \"short_sha\": \"0123456\"},"
		" \"repo\": {\"owner\": \"acme\", \"name\": \"shop\", \"full_name\": \"acme/shop\"},"
		" \"ci\": {\"name\": \"github\", \"run_url\": \"https://ci.example/run/1\"},"
		" \"values\": {\"image\": \"ghcr.io/acme/shop:0123456\", \"tier\": \"web\"}}");

	assert_non_null(v);
	cJSON_AddStringToObject(cJSON_GetObjectItem(v, "git"), "branch", branch);
	if (with_pr) {
		cJSON *pr = cJSON_AddObjectToObject(v, "pr");

		cJSON_AddNumberToObject(pr, "number", 42);
		cJSON_AddStringToObject(pr, "title", title);
		cJSON_AddStringToObject(pr, "author", "octocat");
	} else {
		cJSON_AddNullToObject(v, "pr");
	}
	return v;
}

static void opts_for(struct render_opts *o, const char *dir, const cJSON *vars)
{
	memset(o, 0, sizeof(*o));
	o->dir = dir;
	o->vars = vars;
	o->app = "shop";
	o->env_name = "pr-42";
	o->untrusted = untrusted;
}

static int render(cJSON **out, const char *dir, const cJSON *vars, struct prenv_err *err)
{
	struct render_opts o;

	opts_for(&o, dir, vars);
	return render_dir(out, &o, err);
}

static const cJSON *at(const cJSON *o, const char *p1, const char *p2, const char *p3)
{
	o = cJSON_GetObjectItemCaseSensitive(o, p1);
	if (p2)
		o = cJSON_GetObjectItemCaseSensitive(o, p2);
	if (p3)
		o = cJSON_GetObjectItemCaseSensitive(o, p3);
	return o;
}

static const char *str_at(const cJSON *o, const char *p1, const char *p2, const char *p3)
{
	o = at(o, p1, p2, p3);
	assert_true(cJSON_IsString(o));
	return o->valuestring;
}

static void test_render_dir_files_order_partials(void **state)
{
	const char *branch = "feat/\xc3\x9cn\xc3\xaf" "code\"q\"#1";
	const char *title = "Fix: \"quoted\" #1 --- yes";
	cJSON *vars = make_vars(branch, title, 1), *objs = NULL, *o;
	struct prenv_err err = PRENV_ERR_INIT;
	int rc;

	(void)state;
	rc = render(&objs, FIX "basic", vars, &err);
	if (rc)
		print_error("%s:%d:%d: %s\n", err.file, err.line, err.col, err.msg);
	assert_int_equal(rc, 0);
	/* 05-empty (no documents), 10-config, 20-svc.yml, 30-extra.json; not
	 * _labels/_unused (partials), .hidden, notes.txt, sub.yaml/ (a dir) */
	assert_int_equal(cJSON_GetArraySize(objs), 3);
	o = cJSON_GetArrayItem(objs, 0);
	assert_string_equal(str_at(o, "kind", NULL, NULL), "ConfigMap");
	assert_string_equal(str_at(o, "metadata", "name", NULL), "shop-config");
	assert_string_equal(str_at(o, "data", "branch", NULL), branch);
	assert_string_equal(str_at(o, "data", "title", NULL), title);
	/* the partial, indented under labels, plus prenv's labels */
	assert_string_equal(str_at(o, "metadata", "labels", "tier"), "web");
	assert_string_equal(str_at(o, "metadata", "labels", "owner"), "octocat");
	assert_string_equal(str_at(o, "metadata", "labels", "prenv.dev/env"), "pr-42");
	assert_string_equal(str_at(o, "metadata", "labels", "app.kubernetes.io/managed-by"), "prenv");
	o = cJSON_GetArrayItem(objs, 1);
	assert_string_equal(str_at(o, "kind", NULL, NULL), "Service");
	assert_string_equal(str_at(o, "metadata", "labels", "prenv.dev/app"), "shop");
	o = cJSON_GetArrayItem(objs, 2);
	assert_string_equal(str_at(o, "kind", NULL, NULL), "Secret");
	assert_string_equal(str_at(o, "metadata", "namespace", NULL), "shop-pr-42");
	assert_string_equal(str_at(o, "stringData", "title", NULL), title);
	assert_string_equal(str_at(o, "stringData", "n", NULL), "42");
	cJSON_Delete(objs);
	cJSON_Delete(vars);
}

struct fail_case {
	const char *dir;
	const char *file;  /* expected err.file, or NULL: not checked */
	int line;          /* expected err.line, or 0: not checked */
	const char *msg_part;
};

static void test_render_dir_errors_write_nothing(void **state)
{
	static const struct fail_case cases[] = {
		{ FIX "traversal-dots", NULL, 0, "not allowed" },
		{ FIX "traversal-abs", NULL, 0, "not allowed" },
		{ FIX "missing-partial", NULL, 0, "nothere" },
		{ FIX "dup", FIX "dup/b.yaml", 2, "also defined at " FIX "dup/a.yaml:1" },
		{ FIX "bad-doc", FIX "bad-doc/b.yaml", 6, "no kind" },
		{ FIX "no-such-dir", NULL, 0, "no-such-dir" },
	};
	cJSON *vars = make_vars("main", "t", 1);
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct prenv_err err = PRENV_ERR_INIT;
		cJSON *objs = (cJSON *)1;
		int rc = render(&objs, cases[i].dir, vars, &err);

		if (rc != PRENV_ECONFIG || !err.msg || !strstr(err.msg, cases[i].msg_part))
			print_error("%s: rc %d: %s\n", cases[i].dir, rc, err.msg ? err.msg : "(none)");
		assert_int_equal(rc, PRENV_ECONFIG);
		assert_null(objs);
		assert_non_null(strstr(err.msg, cases[i].msg_part));
		if (cases[i].file)
			assert_string_equal(err.file, cases[i].file);
		if (cases[i].line)
			assert_int_equal(err.line, cases[i].line);
		prenv_err_clear(&err);
	}
	cJSON_Delete(vars);
}

/* ---- templates/web ---- */

static const cJSON *find_kind(const cJSON *objs, const char *kind)
{
	const cJSON *o;

	cJSON_ArrayForEach(o, objs)
		if (!strcmp(str_at(o, "kind", NULL, NULL), kind))
			return o;
	fail_msg("no %s", kind);
	return NULL;
}

/* Every selector key=value is a label of the pod template. */
static void assert_selects(const cJSON *selector, const cJSON *labels)
{
	const cJSON *s;

	assert_true(cJSON_GetArraySize(selector) > 0);
	cJSON_ArrayForEach(s, selector) {
		const cJSON *l = cJSON_GetObjectItemCaseSensitive(labels, s->string);

		assert_true(cJSON_IsString(l));
		assert_string_equal(l->valuestring, s->valuestring);
	}
}

static void test_render_web_templates(void **state)
{
	const char *branch = "feat/\xc3\x9cn\xc3\xaf" "code\"q\"#1";
	const char *title = "Fix: \"quoted\" #1 --- yes";
	cJSON *vars = make_vars(branch, title, 1), *objs = NULL;
	const cJSON *dep, *svc, *ing, *pod, *c, *ann, *rule, *path;
	struct prenv_err err = PRENV_ERR_INIT;
	int rc;

	(void)state;
	rc = render(&objs, "templates/web", vars, &err);
	if (rc)
		print_error("%s:%d:%d: %s\n", err.file, err.line, err.col, err.msg);
	assert_int_equal(rc, 0);
	assert_int_equal(cJSON_GetArraySize(objs), 3);
	dep = find_kind(objs, "Deployment");
	svc = find_kind(objs, "Service");
	ing = find_kind(objs, "Ingress");

	ann = at(dep, "metadata", "annotations", NULL);
	assert_string_equal(str_at(ann, "prenv.dev/branch", NULL, NULL), branch);
	assert_string_equal(str_at(ann, "prenv.dev/pr-title", NULL, NULL), title);
	assert_true(cJSON_IsNumber(at(dep, "spec", "replicas", NULL)));
	assert_int_equal(at(dep, "spec", "replicas", NULL)->valueint, 1);
	pod = at(dep, "spec", "template", NULL);
	c = cJSON_GetArrayItem(at(pod, "spec", "containers", NULL), 0);
	assert_string_equal(str_at(c, "image", NULL, NULL), "ghcr.io/acme/shop:0123456");
	assert_string_equal(str_at(c, "readinessProbe", "httpGet", "path"), "/");
	assert_string_equal(str_at(c, "readinessProbe", "httpGet", "port"), "http");
	assert_non_null(at(c, "resources", "requests", "cpu"));
	assert_selects(at(dep, "spec", "selector", "matchLabels"), at(pod, "metadata", "labels", NULL));
	assert_selects(at(svc, "spec", "selector", NULL), at(pod, "metadata", "labels", NULL));
	assert_string_equal(str_at(pod, "metadata", "labels", "prenv.dev/env"), "pr-42");
	assert_string_equal(str_at(svc, "spec", "type", NULL), "ClusterIP");
	assert_string_equal(str_at(cJSON_GetArrayItem(at(svc, "spec", "ports", NULL), 0),
				   "targetPort", NULL, NULL), "http");

	rule = cJSON_GetArrayItem(at(ing, "spec", "rules", NULL), 0);
	assert_string_equal(str_at(rule, "host", NULL, NULL), "pr-42.preview.example.com");
	path = cJSON_GetArrayItem(at(rule, "http", "paths", NULL), 0);
	assert_string_equal(str_at(path, "path", NULL, NULL), "/");
	assert_string_equal(str_at(path, "pathType", NULL, NULL), "Prefix");
	assert_string_equal(str_at(path, "backend", "service", "name"), "shop");
	cJSON_Delete(objs);
	cJSON_Delete(vars);

	/* no pull request: pr is null, the title annotation is left out */
	vars = make_vars("main", "", 0);
	assert_int_equal(render(&objs, "templates/web", vars, &err), 0);
	ann = at(find_kind(objs, "Deployment"), "metadata", "annotations", NULL);
	assert_null(cJSON_GetObjectItem(ann, "prenv.dev/pr-title"));
	assert_string_equal(str_at(ann, "prenv.dev/branch", NULL, NULL), "main");
	cJSON_Delete(objs);
	cJSON_Delete(vars);
}

/* Hostile branch names and titles give the same objects as plain ones,
 * apart from the two annotations, which hold the values byte for byte. */
static void test_render_web_hostile_values_same_structure(void **state)
{
	static const char *const pieces[] = {
		"\n", ": ", " #", "\"", "'", "\\", "{{", "}}", "---", "...", "- ", "?", "&",
		"*", "!", "|", ">", "%", "@", "\t", " ", "\xc3\x9c", "\xe2\x80\xa8", "true",
		"3", "~", "null", "yes", "\r\n", "[", "{", "\x01", "\xf0\x9f\x98\x80",
	};
	cJSON *vars = make_vars("plain-branch", "plain title", 1), *plain = NULL;
	struct prenv_err err = PRENV_ERR_INIT;
	uint32_t seed = 12345;
	int i, n = 300;

	(void)state;
	assert_int_equal(render(&plain, "templates/web", vars, &err), 0);
	cJSON_Delete(vars);
	for (i = 0; i < n; i++) {
		struct prenv_buf b = PRENV_BUF_INIT, t = PRENV_BUF_INIT;
		cJSON *objs = NULL, *ann;
		int k, len;

		for (k = 0, len = 1 + (int)(seed % 7); k < len; k++) {
			seed = seed * 1103515245u + 12345u;
			prenv_buf_adds(&b, pieces[(seed >> 8) % (sizeof(pieces) / sizeof(pieces[0]))]);
			seed = seed * 1103515245u + 12345u;
			prenv_buf_adds(&t, pieces[(seed >> 8) % (sizeof(pieces) / sizeof(pieces[0]))]);
		}
		vars = make_vars(b.ptr, t.ptr, 1);
		if (render(&objs, "templates/web", vars, &err) != 0) {
			print_error("branch '%s' title '%s': %s\n", b.ptr, t.ptr, err.msg);
			fail();
		}
		ann = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(objs, 0), "metadata"),
					  "annotations");
		assert_string_equal(cJSON_GetObjectItem(ann, "prenv.dev/branch")->valuestring, b.ptr);
		assert_string_equal(cJSON_GetObjectItem(ann, "prenv.dev/pr-title")->valuestring, t.ptr);
		cJSON_ReplaceItemInObject(ann, "prenv.dev/branch", cJSON_CreateString("plain-branch"));
		cJSON_ReplaceItemInObject(ann, "prenv.dev/pr-title", cJSON_CreateString("plain title"));
		assert_true(cJSON_Compare(objs, plain, 1));
		cJSON_Delete(objs);
		cJSON_Delete(vars);
		prenv_buf_free(&b);
		prenv_buf_free(&t);
	}
	printf("# templates/web: %d hostile branch/title pairs rendered to the same structure\n", n);
	cJSON_Delete(plain);
}

/* ---- render_opts.sink (prenv render): the same objects, a file at a time */

struct collect {
	cJSON *all;
	int calls;
};

static int collect_file(void *ud, cJSON *objs, struct prenv_err *err)
{
	struct collect *c = ud;
	cJSON *o;

	(void)err;
	c->calls++;
	while ((o = cJSON_DetachItemFromArray(objs, 0)) != NULL)
		cJSON_AddItemToArray(c->all, o);
	cJSON_Delete(objs);
	return 0;
}

static int render_sunk(struct collect *c, const char *dir, const cJSON *vars,
		       struct prenv_err *err)
{
	struct render_opts o;
	cJSON *rest = NULL;
	int rc;

	opts_for(&o, dir, vars);
	o.sink = collect_file;
	o.sink_ud = c;
	c->all = cJSON_CreateArray();
	c->calls = 0;
	rc = render_dir(&rest, &o, err);
	if (rc == 0)
		assert_int_equal(cJSON_GetArraySize(rest), 0);
	cJSON_Delete(rest);
	return rc;
}

static void test_render_dir_sink_same_objects_and_sources(void **state)
{
	static const char *const dirs[] = { FIX "basic", "templates/web" };
	cJSON *vars = make_vars("feat/x", "Fix: \"q\" #1", 1);
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		struct prenv_err err = PRENV_ERR_INIT;
		struct collect c;
		cJSON *objs = NULL, *a, *b;
		char *ja, *jb;

		assert_int_equal(render(&objs, dirs[i], vars, &err), 0);
		assert_int_equal(render_sunk(&c, dirs[i], vars, &err), 0);
		assert_true(c.calls >= 2);
		ja = cJSON_PrintUnformatted(objs);
		jb = cJSON_PrintUnformatted(c.all);
		assert_string_equal(ja, jb);
		for (a = objs->child, b = c.all->child; a && b; a = a->next, b = b->next)
			assert_string_equal(render_object_source(a), render_object_source(b));
		free(ja);
		free(jb);
		cJSON_Delete(objs);
		cJSON_Delete(c.all);
	}
	cJSON_Delete(vars);
}

static void test_render_dir_sink_still_finds_duplicates_across_files(void **state)
{
	cJSON *vars = make_vars("main", "t", 1);
	struct prenv_err err = PRENV_ERR_INIT;
	struct collect c;

	(void)state;
	assert_int_equal(render_sunk(&c, FIX "dup", vars, &err), PRENV_ECONFIG);
	assert_string_equal(err.file, FIX "dup/b.yaml");
	assert_int_equal(err.line, 2);
	assert_non_null(strstr(err.msg, "also defined at " FIX "dup/a.yaml:1"));
	prenv_err_clear(&err);
	cJSON_Delete(c.all);
	cJSON_Delete(vars);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render_dir_files_order_partials),
		cmocka_unit_test(test_render_dir_errors_write_nothing),
		cmocka_unit_test(test_render_web_templates),
		cmocka_unit_test(test_render_web_hostile_values_same_structure),
		cmocka_unit_test(test_render_dir_sink_same_objects_and_sources),
		cmocka_unit_test(test_render_dir_sink_still_finds_duplicates_across_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
