/* test_render_docs.c - checks, labels and duplicates of rendered documents
 * (render_docs_*), and render_write's three outputs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "render/render.h"
#include "util/err.h"
#include "util/yaml.h"

struct warns {
	int n;
	char last[512];
};

static void on_warn(void *ud, const char *file, int line, int col, const char *msg)
{
	struct warns *w = ud;

	(void)col;
	w->n++;
	snprintf(w->last, sizeof(w->last), "%s:%d: %s", file, line, msg);
}

static const char *label(const cJSON *labels, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(labels, key);

	assert_true(cJSON_IsString(v));
	return v->valuestring;
}

static const cJSON *path(const cJSON *o, const char *dotted)
{
	char buf[256], *p, *dot;

	snprintf(buf, sizeof(buf), "%s", dotted);
	for (p = buf; o && p; p = dot) {
		dot = strchr(p, '|');
		if (dot)
			*dot++ = '\0';
		o = cJSON_GetObjectItemCaseSensitive(o, p);
	}
	return o;
}

static const char workloads[] =
	"apiVersion: apps/v1\n"
	"kind: Deployment\n"
	"metadata:\n"
	"  name: web\n"
	"  labels:\n"
	"    app.kubernetes.io/name: web\n"
	"    prenv.dev/env: wrong\n"
	"spec:\n"
	"  selector:\n"
	"    matchLabels:\n"
	"      app.kubernetes.io/name: web\n"
	"  template:\n"
	"    metadata:\n"
	"      labels:\n"
	"        app.kubernetes.io/name: web\n"
	"    spec:\n"
	"      containers: [{name: web, image: x}]\n"
	"---\n"
	"apiVersion: batch/v1\n"
	"kind: CronJob\n"
	"metadata: {name: nightly}\n"
	"spec:\n"
	"  schedule: '0 0 * * *'\n"
	"  jobTemplate:\n"
	"    spec:\n"
	"      template:\n"
	"        spec: {containers: [{name: c, image: x}], restartPolicy: Never}\n"
	"---\n"
	"apiVersion: v1\n"
	"kind: Service\n"
	"metadata: {name: web}\n"
	"spec:\n"
	"  selector: {app.kubernetes.io/name: web}\n"
	"  template: {metadata: {labels: {x: y}}}\n";

/* The objects render_docs_take() hands out remember where they came from
 * (render_object_source), invisibly: printing and comparing ignore it, a
 * copy keeps it. */
static void test_render_docs_object_source(void **state)
{
	struct render_docs *d = NULL;
	struct prenv_err err = PRENV_ERR_INIT;
	struct warns w = { 0, "" };
	cJSON *objs, *copy;
	char *printed;

	(void)state;
	assert_int_equal(render_docs_new(&d, "shop", "pr-42", on_warn, &w, &err), 0);
	assert_int_equal(render_docs_add(d, workloads, strlen(workloads), "t/app.yaml", &err), 0);
	objs = render_docs_take(d);
	assert_string_equal(render_object_source(cJSON_GetArrayItem(objs, 1)), "t/app.yaml:19");
	assert_string_equal(render_object_source(cJSON_GetArrayItem(objs, 2)), "t/app.yaml:29");
	assert_null(render_object_source(NULL));
	printed = cJSON_PrintUnformatted(objs);
	assert_null(strstr(printed, "t/app.yaml"));
	free(printed);
	printed = cJSON_PrintUnformatted(cJSON_GetArrayItem(objs, 2));
	assert_null(strstr(printed, "t/app.yaml"));
	free(printed);
	copy = cJSON_Duplicate(cJSON_GetArrayItem(objs, 2), 1);
	assert_string_equal(render_object_source(copy), "t/app.yaml:29");
	cJSON_Delete(copy);
	cJSON_Delete(objs);
	render_docs_free(d);
}

static void test_render_docs_labels_added(void **state)
{
	struct render_docs *d = NULL;
	struct prenv_err err = PRENV_ERR_INIT;
	struct warns w = { 0, "" };
	cJSON *objs;
	const cJSON *dep, *cj, *svc, *l;
	int line = 0;

	(void)state;
	assert_int_equal(render_docs_new(&d, "shop", "pr-42", on_warn, &w, &err), 0);
	assert_int_equal(render_docs_add(d, workloads, strlen(workloads), "t/app.yaml", &err), 0);
	assert_int_equal(render_docs_count(d), 3);
	assert_string_equal(render_docs_source(d, 1, &line), "t/app.yaml");
	assert_int_equal(line, 19);
	assert_string_equal(render_docs_source(d, 2, &line), "t/app.yaml");
	assert_int_equal(line, 29);
	/* the template's prenv.dev/env: wrong was replaced, with a warning */
	assert_int_equal(w.n, 1);
	assert_non_null(strstr(w.last, "t/app.yaml:1: "));
	assert_non_null(strstr(w.last, "prenv.dev/env"));

	objs = render_docs_take(d);
	dep = cJSON_GetArrayItem(objs, 0);
	cj = cJSON_GetArrayItem(objs, 1);
	svc = cJSON_GetArrayItem(objs, 2);

	l = path(dep, "metadata|labels");
	assert_string_equal(label(l, "app.kubernetes.io/managed-by"), "prenv");
	assert_string_equal(label(l, "prenv.dev/app"), "shop");
	assert_string_equal(label(l, "prenv.dev/env"), "pr-42");
	assert_string_equal(label(l, "app.kubernetes.io/name"), "web");
	l = path(dep, "spec|template|metadata|labels");
	assert_string_equal(label(l, "prenv.dev/app"), "shop");
	assert_string_equal(label(l, "prenv.dev/env"), "pr-42");
	assert_string_equal(label(l, "app.kubernetes.io/name"), "web");
	assert_null(cJSON_GetObjectItem(l, "app.kubernetes.io/managed-by"));
	/* selectors untouched */
	assert_int_equal(cJSON_GetArraySize(path(dep, "spec|selector|matchLabels")), 1);

	l = path(cj, "metadata|labels");
	assert_string_equal(label(l, "prenv.dev/env"), "pr-42");
	l = path(cj, "spec|jobTemplate|spec|template|metadata|labels");
	assert_non_null(l);
	assert_string_equal(label(l, "prenv.dev/app"), "shop");
	assert_string_equal(label(l, "prenv.dev/env"), "pr-42");

	/* a Service is not a workload: its (odd) template is left alone */
	assert_int_equal(cJSON_GetArraySize(path(svc, "spec|selector")), 1);
	assert_int_equal(cJSON_GetArraySize(path(svc, "spec|template|metadata|labels")), 1);
	assert_string_equal(label(path(svc, "metadata|labels"), "prenv.dev/app"), "shop");

	cJSON_Delete(objs);
	assert_int_equal(render_docs_count(d), 0);
	render_docs_free(d);
}

struct bad_case {
	const char *text;
	int line;
	const char *msg_part;
};

static void test_render_docs_bad_documents(void **state)
{
	static const struct bad_case cases[] = {
		{ "kind: Service\nmetadata: {name: a}\n", 1, "no apiVersion" },
		{ "apiVersion: 1\nkind: Service\nmetadata: {name: a}\n", 1, "no apiVersion" },
		{ "apiVersion: v1\nmetadata: {name: a}\n", 1, "no kind" },
		{ "apiVersion: v1\nkind: Service\n", 1, "no metadata" },
		{ "apiVersion: v1\nkind: Service\nmetadata: {namespace: x}\n", 1, "no metadata.name" },
		{ "apiVersion: v1\nkind: Service\nmetadata: {name: 3}\n", 1, "no metadata.name" },
		{ "apiVersion: v1\nkind: Service\nmetadata: {name: ''}\n", 1, "no metadata.name" },
		{ "apiVersion: v1\nkind: Service\nmetadata: {name: a, labels: [x]}\n", 1,
		  "metadata.labels must be a mapping" },
		{ "apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: [x]}\n", 1,
		  "namespace must be a string" },
		{ "# header\n\n---\n- a\n", 4, "must be a mapping" },
		{ "---\nplain\n", 2, "must be a mapping" },
		{ "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n---\n"
		  "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\n"
		  "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n", 9,
		  "duplicate object v1 Service a: also defined at t/x.yaml:5" },
		{ "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\n"
		  "spec: {template: {metadata: [1]}}\n", 1, "spec.template.metadata must be a mapping" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct render_docs *d = NULL;
		struct prenv_err err = PRENV_ERR_INIT;
		int rc;

		assert_int_equal(render_docs_new(&d, "shop", "pr-1", NULL, NULL, &err), 0);
		rc = render_docs_add(d, cases[i].text, strlen(cases[i].text), "t/x.yaml", &err);
		if (rc != PRENV_ECONFIG || err.line != cases[i].line ||
		    !strstr(err.msg ? err.msg : "", cases[i].msg_part))
			print_error("case %zu: rc %d line %d: %s\n", i, rc, err.line,
				    err.msg ? err.msg : "(none)");
		assert_int_equal(rc, PRENV_ECONFIG);
		assert_string_equal(err.file, "t/x.yaml");
		assert_int_equal(err.line, cases[i].line);
		assert_non_null(strstr(err.msg, cases[i].msg_part));
		/* nothing of a failed file is kept */
		assert_int_equal(render_docs_count(d), 0);
		prenv_err_clear(&err);
		render_docs_free(d);
	}
}

static void test_render_docs_duplicates_across_files(void **state)
{
	const char *a = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n";
	const char *b = "# other\napiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: ''}\n";
	const char *c = "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: other}\n"
			"---\napiVersion: v2\nkind: Service\nmetadata: {name: web}\n"
			"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\n";
	struct render_docs *d = NULL;
	struct prenv_err err = PRENV_ERR_INIT;

	(void)state;
	assert_int_equal(render_docs_new(&d, "shop", "pr-1", NULL, NULL, &err), 0);
	assert_int_equal(render_docs_add(d, a, strlen(a), "t/a.yaml", &err), 0);
	/* other namespace, apiVersion or kind: not duplicates */
	assert_int_equal(render_docs_add(d, c, strlen(c), "t/c.yaml", &err), 0);
	assert_int_equal(render_docs_count(d), 4);
	/* namespace "" is the same as no namespace */
	assert_int_equal(render_docs_add(d, b, strlen(b), "t/b.yaml", &err), PRENV_ECONFIG);
	assert_string_equal(err.file, "t/b.yaml");
	assert_int_equal(err.line, 2);
	assert_non_null(strstr(err.msg, "also defined at t/a.yaml:1"));
	assert_int_equal(render_docs_count(d), 4);
	prenv_err_clear(&err);
	render_docs_free(d);
}

/* Many files (the identities are kept in a hash set that grows): a late
 * duplicate still names the first file, and a failed file leaves nothing
 * behind that a later one could collide with. */
static void test_render_docs_duplicates_among_many(void **state)
{
	struct render_docs *d = NULL;
	struct prenv_err err = PRENV_ERR_INIT;
	char text[160], file[32];
	int i;

	(void)state;
	assert_int_equal(render_docs_new(&d, "shop", "pr-1", NULL, NULL, &err), 0);
	for (i = 0; i < 300; i++) {
		snprintf(text, sizeof(text), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c%d\n", i);
		snprintf(file, sizeof(file), "t/%03d.yaml", i);
		assert_int_equal(render_docs_add(d, text, strlen(text), file, &err), 0);
	}
	snprintf(text, sizeof(text), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: new\n"
		 "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c7\n");
	assert_int_equal(render_docs_add(d, text, strlen(text), "t/late.yaml", &err), PRENV_ECONFIG);
	assert_int_equal(err.line, 6);
	assert_non_null(strstr(err.msg, "also defined at t/007.yaml:1"));
	prenv_err_clear(&err);
	assert_int_equal(render_docs_count(d), 300);
	/* "new" was not kept: it can come now */
	snprintf(text, sizeof(text), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: new\n");
	assert_int_equal(render_docs_add(d, text, strlen(text), "t/new.yaml", &err), 0);
	assert_int_equal(render_docs_add(d, text, strlen(text), "t/again.yaml", &err), PRENV_ECONFIG);
	assert_non_null(strstr(err.msg, "also defined at t/new.yaml:1"));
	prenv_err_clear(&err);
	render_docs_free(d);
}

static void test_render_docs_bad_names(void **state)
{
	struct render_docs *d = (struct render_docs *)1;
	struct prenv_err err = PRENV_ERR_INIT;

	(void)state;
	assert_int_equal(render_docs_new(&d, "shop", "", NULL, NULL, &err), PRENV_ECONFIG);
	assert_null(d);
	prenv_err_clear(&err);
	assert_int_equal(render_docs_new(&d, "shop", "pr-1\"x", NULL, NULL, &err), PRENV_ECONFIG);
	assert_null(d);
	assert_non_null(strstr(err.msg, "label value"));
	prenv_err_clear(&err);
	render_docs_free(NULL);
}

/* ---- render_write ---- */

static cJSON *two_objects(void)
{
	return cJSON_Parse("[{\"apiVersion\": \"v1\", \"kind\": \"Service\","
			   "  \"metadata\": {\"name\": \"Web_1\"}, \"spec\": {\"x\": \"true\"}},"
			   " {\"apiVersion\": \"apps/v1\", \"kind\": \"Deployment\","
			   "  \"metadata\": {\"name\": \"../../etc/passwd\"}}]");
}

static void test_render_write_yaml_and_json(void **state)
{
	cJSON *objs = two_objects(), *back = NULL;
	struct prenv_buf out = PRENV_BUF_INIT;
	struct prenv_err err = PRENV_ERR_INIT;

	(void)state;
	assert_int_equal(render_write(objs, NULL, NULL, &out, &err), 0);
	assert_int_equal(strncmp(out.ptr, "---\napiVersion: v1\nkind: Service\n", 33), 0);
	assert_non_null(strstr(out.ptr, "\n---\napiVersion: apps/v1\n"));
	assert_non_null(strstr(out.ptr, "x: \"true\"\n"));
	assert_int_equal(yaml_parse_json(&back, out.ptr, out.len, "o", &err), 0);
	assert_true(cJSON_Compare(objs, back, 1));
	cJSON_Delete(back);

	prenv_buf_reset(&out);
	assert_int_equal(render_write(objs, "json", NULL, &out, &err), 0);
	assert_int_equal(out.ptr[0], '[');
	assert_int_equal(out.ptr[out.len - 1], '\n');
	assert_non_null(strchr(out.ptr, '\t')); /* pretty */
	back = cJSON_Parse(out.ptr);
	assert_true(cJSON_Compare(objs, back, 1));
	cJSON_Delete(back);

	prenv_buf_reset(&out);
	prenv_buf_adds(&out, "x");
	assert_int_equal(render_write(objs, "toml", NULL, &out, &err), PRENV_ECONFIG);
	assert_string_equal(out.ptr, "x");
	prenv_err_clear(&err);
	cJSON_Delete(objs);
	prenv_buf_free(&out);
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void read_into(struct prenv_buf *b, const char *dir, const char *name)
{
	struct prenv_buf p = PRENV_BUF_INIT;

	prenv_buf_printf(&p, "%s/%s", dir, name);
	prenv_buf_reset(b);
	if (prenv_buf_read_file(b, p.ptr) != 0)
		print_error("cannot read %s\n", p.ptr);
	assert_false(b->failed);
	assert_true(b->len > 0);
	prenv_buf_free(&p);
}

static void test_render_write_out_dir(void **state)
{
	char base[] = "/tmp/prenv-render-XXXXXX";
	char outd[64], p[200];
	cJSON *objs = two_objects(), *back = NULL, *one;
	struct prenv_buf out = PRENV_BUF_INIT, f = PRENV_BUF_INIT;
	struct prenv_err err = PRENV_ERR_INIT;
	FILE *fp;

	(void)state;
	assert_non_null(mkdtemp(base));
	snprintf(outd, sizeof(outd), "%s/out", base);

	/* created when missing; names are NNN-kind-name, lowercase, safe */
	assert_int_equal(render_write(objs, "yaml", outd, &out, &err), 0);
	assert_int_equal(count_entries(outd), 2);
	read_into(&f, outd, "001-service-web-1.yaml");
	assert_int_equal(yaml_parse_json(&back, f.ptr, f.len, "f", &err), 0);
	assert_true(cJSON_Compare(cJSON_GetArrayItem(objs, 0), cJSON_GetArrayItem(back, 0), 1));
	cJSON_Delete(back);
	read_into(&f, outd, "002-deployment-..-..-etc-passwd.yaml");
	assert_non_null(strstr(out.ptr, "/001-service-web-1.yaml\n"));

	/* again with fewer objects, as JSON: the old files are replaced */
	one = cJSON_CreateArray();
	cJSON_AddItemToArray(one, cJSON_Duplicate(cJSON_GetArrayItem(objs, 1), 1));
	assert_int_equal(render_write(one, "json", outd, NULL, &err), 0);
	assert_int_equal(count_entries(outd), 1);
	read_into(&f, outd, "001-deployment-..-..-etc-passwd.json");
	back = cJSON_Parse(f.ptr);
	assert_true(cJSON_Compare(cJSON_GetArrayItem(objs, 1), back, 1));
	cJSON_Delete(back);

	/* a file prenv did not write: refused, nothing changes */
	snprintf(p, sizeof(p), "%s/notes.txt", outd);
	fp = fopen(p, "w");
	assert_non_null(fp);
	fclose(fp);
	assert_int_equal(render_write(objs, "yaml", outd, NULL, &err), PRENV_ECONFIG);
	assert_non_null(strstr(err.msg, "notes.txt"));
	prenv_err_clear(&err);
	assert_int_equal(count_entries(outd), 2);
	read_into(&f, outd, "001-deployment-..-..-etc-passwd.json");
	unlink(p);

	/* an error while writing (an object that cannot be YAML): nothing */
	cJSON_AddRawToObject(cJSON_GetArrayItem(objs, 1), "raw", "1");
	assert_true(render_write(objs, "yaml", outd, NULL, &err) < 0);
	prenv_err_clear(&err);
	assert_int_equal(count_entries(outd), 1);
	read_into(&f, outd, "001-deployment-..-..-etc-passwd.json");
	/* ... and a directory it had to create is removed again */
	snprintf(p, sizeof(p), "%s/new", base);
	assert_true(render_write(objs, "yaml", p, NULL, &err) < 0);
	prenv_err_clear(&err);
	assert_int_equal(count_entries(p), -1);

	/* not a directory */
	snprintf(p, sizeof(p), "%s/001-deployment-..-..-etc-passwd.json", outd);
	assert_int_equal(render_write(one, "yaml", p, NULL, &err), PRENV_ECONFIG);
	prenv_err_clear(&err);

	unlink(p);
	rmdir(outd);
	rmdir(base);
	cJSON_Delete(objs);
	cJSON_Delete(one);
	prenv_buf_free(&out);
	prenv_buf_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render_docs_labels_added),
		cmocka_unit_test(test_render_docs_object_source),
		cmocka_unit_test(test_render_docs_bad_documents),
		cmocka_unit_test(test_render_docs_duplicates_across_files),
		cmocka_unit_test(test_render_docs_duplicates_among_many),
		cmocka_unit_test(test_render_docs_bad_names),
		cmocka_unit_test(test_render_write_yaml_and_json),
		cmocka_unit_test(test_render_write_out_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
