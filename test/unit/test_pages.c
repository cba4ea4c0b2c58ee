/* test_pages.c - pages provider, dir: targets, site loading, templates,
 * path safety. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <time.h>
#include <pthread.h>
#include <stdatomic.h>

#include "context/ci.h"
#include "config/config.h"
#include "util/err.h"
#include "util/log.h"
#include "pages/pages.h"
#include "pages/site.h"
#include "config/plan.h"
#include "provider.h"
#include "registry.h"
#include "pages_testutil.h"

struct fx {
	char *dir;
	struct prenv_config cfg;
	struct prenv_context ctx;
	cJSON *vars;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->dir = tu_tmpdir();
	assert_non_null(f->dir);
	assert_int_equal(tu_write(f->dir, "site/index.html", "<h1>hello</h1>\n"), 0);
	assert_int_equal(tu_write(f->dir, "site/assets/app.js", "console.log(1)\n"), 0);
	assert_int_equal(tu_write(f->dir, "out/other/keep.txt", "another env\n"), 0);
	assert_int_equal(tu_write(f->dir, "out/index.html", "root index\n"), 0);
	f->cfg.dir = f->dir;
	f->cfg.app = (char *)"shop";
	f->cfg.provider = cJSON_Parse("{\"source\":\"site\",\"target\":\"dir:out\"}");
	f->vars = cJSON_Parse("{\"env\":{\"name\":\"pr-4\"},\"git\":{\"short_sha\":\"abc1234\"},"
			      "\"pr\":{\"title\":\"<script>alert(1)</script> & more\"}}");
	f->ctx.has_pr = 1;
	f->ctx.pr_number = 4;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	tu_rm_rf(f->dir);
	free(f->dir);
	cJSON_Delete(f->cfg.provider);
	cJSON_Delete(f->vars);
	free(f);
	return 0;
}

static int run_op(struct fx *f, enum prenv_op op, const char *env, struct provider_result *res,
		  struct prenv_err *err)
{
	struct prenv_plan plan;
	struct provider_run run;

	memset(&plan, 0, sizeof(plan));
	memset(&run, 0, sizeof(run));
	plan.env_name = (char *)env;
	plan.url = (char *)"http://localhost:8080/pr-4/";
	plan.vars = f->vars;
	run.cfg = &f->cfg;
	run.ctx = &f->ctx;
	run.plan = &plan;
	run.wait_seconds = -1;
	memset(res, 0, sizeof(*res));
	return provider_once(&pages_provider, op, &run, NULL, res, err);
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	/* visible entries: what a web server would list */
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void test_pages_dir_deploy_redeploy_destroy(void **state)
{
	struct fx *f = *state;
	struct provider_result res;
	struct prenv_err err = PRENV_ERR_INIT;
	char *s, out[600];

	assert_int_equal(run_op(f, PRENV_OP_DEPLOY, "pr-4", &res, &err), 0);
	assert_string_equal(res.status, "ready");
	assert_string_equal(res.url, "http://localhost:8080/pr-4/");
	provider_result_clear(&res);
	s = tu_read(f->dir, "out/pr-4/index.html");
	assert_string_equal(s, "<h1>hello</h1>\n");
	free(s);
	s = tu_read(f->dir, "out/pr-4/assets/app.js");
	assert_string_equal(s, "console.log(1)\n");
	free(s);

	/* redeploy: new content, removed files gone, no temporary leftovers */
	assert_int_equal(tu_write(f->dir, "site/index.html", "<h1>v2</h1>\n"), 0);
	{
		char p[600];

		snprintf(p, sizeof(p), "%s/site/assets/app.js", f->dir);
		assert_int_equal(remove(p), 0);
	}
	assert_int_equal(run_op(f, PRENV_OP_DEPLOY, "pr-4", &res, &err), 0);
	provider_result_clear(&res);
	s = tu_read(f->dir, "out/pr-4/index.html");
	assert_string_equal(s, "<h1>v2</h1>\n");
	free(s);
	assert_false(tu_exists(f->dir, "out/pr-4/assets/app.js"));
	snprintf(out, sizeof(out), "%s/out", f->dir);
	assert_int_equal(count_entries(out), 3); /* index.html, other, pr-4 */

	/* status */
	assert_int_equal(run_op(f, PRENV_OP_STATUS, "pr-4", &res, &err), 0);
	assert_string_equal(res.status, "ready");
	assert_int_equal((int)cJSON_GetObjectItem(res.info, "files")->valuedouble, 1);
	assert_int_equal((int)cJSON_GetObjectItem(res.info, "bytes")->valuedouble, 12);
	assert_non_null(cJSON_GetObjectItem(res.info, "modified"));
	provider_result_clear(&res);

	/* destroy, then again (already gone is success) */
	assert_int_equal(run_op(f, PRENV_OP_DESTROY, "pr-4", &res, &err), 0);
	assert_string_equal(res.status, "destroyed");
	provider_result_clear(&res);
	assert_false(tu_exists(f->dir, "out/pr-4"));
	assert_int_equal(run_op(f, PRENV_OP_DESTROY, "pr-4", &res, &err), 0);
	assert_string_equal(res.status, "destroyed");
	provider_result_clear(&res);
	assert_int_equal(run_op(f, PRENV_OP_STATUS, "pr-4", &res, &err), 0);
	assert_string_equal(res.status, "absent");
	provider_result_clear(&res);

	/* nothing else touched */
	s = tu_read(f->dir, "out/other/keep.txt");
	assert_string_equal(s, "another env\n");
	free(s);
	s = tu_read(f->dir, "out/index.html");
	assert_string_equal(s, "root index\n");
	free(s);
	assert_int_equal(count_entries(out), 2);
	/* the kept previous version went with it */
	{
		char out2[600];
		DIR *d;
		struct dirent *e;

		snprintf(out2, sizeof(out2), "%s/out", f->dir);
		d = opendir(out2);
		while ((e = readdir(d)))
			assert_null(strstr(e->d_name, ".prenv-"));
		closedir(d);
	}
	prenv_err_clear(&err);
}

/* ------------------------------------------------ reader during swaps */

#define NFILES 12
#define SWAPS 50

struct reader {
	const char *path;
	atomic_int stop;
	long listings, missing, partial, mixed, stale;
};

static void *read_loop(void *p)
{
	struct reader *r = p;

	while (!atomic_load(&r->stop)) {
		DIR *d = opendir(r->path);
		struct dirent *e;
		int n = 0, version = -1, mixed = 0;

		if (!d) {
			r->missing++;
			continue;
		}
		while ((e = readdir(d))) {
			int v, i;

			if (e->d_name[0] == '.')
				continue;
			if (sscanf(e->d_name, "v%d-f%d.txt", &v, &i) != 2)
				continue;
			if (version == -1)
				version = v;
			else if (v != version)
				mixed = 1;
			n++;
		}
		{
			struct stat st;

			/* (diagnostics: a directory deleted while it was read) */
			if (n != NFILES && fstat(dirfd(d), &st) == 0 && st.st_nlink == 0)
				r->stale++;
		}
		closedir(d);
		r->listings++;
		if (mixed)
			r->mixed++;
		else if (n != NFILES)
			r->partial++;
	}
	return NULL;
}

static struct pages_site *make_version(int v)
{
	struct pages_site *s = calloc(1, sizeof(*s));
	int i;

	s->files = calloc(NFILES, sizeof(*s->files));
	for (i = 0; i < NFILES; i++) {
		char name[64];

		snprintf(name, sizeof(name), "v%d-f%d.txt", v, i);
		s->files[i].path = strdup(name);
		s->files[i].data = strdup(name);
		s->files[i].len = strlen(name);
		s->files[i].mode = PAGES_FILE;
	}
	s->n = s->nfiles = NFILES;
	return s;
}

static void test_pages_dir_swap_reader_never_sees_partial(void **state)
{
	struct fx *f = *state;
	struct prenv_err err = PRENV_ERR_INIT;
	struct reader r;
	char root[600], path[700];
	pthread_t t;
	int v;

	snprintf(root, sizeof(root), "%s/www", f->dir);
	snprintf(path, sizeof(path), "%s/pr-8", root);
	memset(&r, 0, sizeof(r));
	r.path = path;
	{
		struct pages_site *s = make_version(0);

		assert_int_equal(pages_dir_deploy(root, "pr-8", "shop", s, &err), 0);
		pages_site_free(s);
	}
	pthread_create(&t, NULL, read_loop, &r);
	for (v = 1; v <= SWAPS; v++) {
		struct pages_site *s = make_version(v);

		assert_int_equal(pages_dir_deploy(root, "pr-8", "shop", s, &err), 0);
		pages_site_free(s);
	}
	atomic_store(&r.stop, 1);
	pthread_join(t, NULL);
	printf("# %d swaps: %ld listings, %ld missing, %ld partial (%ld of a deleted dir), %ld mixed\n",
	       SWAPS, r.listings, r.missing, r.partial, r.stale, r.mixed);
	assert_true(r.listings > SWAPS);
	assert_int_equal(r.missing, 0);
	assert_int_equal(r.partial, 0);
	assert_int_equal(r.mixed, 0);
	/* the last version is in place, the one before kept hidden, no temp dirs */
	assert_true(tu_exists(path, "v50-f0.txt"));
	assert_int_equal(count_entries(root), 1);

	{
		char pat[700];

		snprintf(pat, sizeof(pat), ".prenv-tmp-pr-8-%ld", (long)getpid());
		assert_false(tu_exists(root, pat));
	}
	prenv_err_clear(&err);
}

/* ------------------------------------------------------------ templates */

static void test_pages_mustache_files_rendered(void **state)
{
	struct fx *f = *state;
	struct provider_result res;
	struct prenv_err err = PRENV_ERR_INIT;
	char *s;

	assert_int_equal(tu_write(f->dir, "site/banner.html.mustache",
				  "<p>{{env.name}} {{git.short_sha}}: {{pr.title}}</p>\n"), 0);
	assert_int_equal(tu_write(f->dir, "site/env.js.mustache",
				  "window.ENV = \"{{env.name}}\";\n"), 0);
	assert_int_equal(run_op(f, PRENV_OP_DEPLOY, "pr-4", &res, &err), 0);
	provider_result_clear(&res);
	s = tu_read(f->dir, "out/pr-4/banner.html");
	assert_non_null(s);
	/* HTML-escaped: the untrusted title cannot inject markup */
	assert_non_null(strstr(s, "<p>pr-4 abc1234: "));
	assert_null(strstr(s, "<script>"));
	assert_non_null(strstr(s, "&lt;script&gt;"));
	free(s);
	s = tu_read(f->dir, "out/pr-4/env.js");
	assert_string_equal(s, "window.ENV = \"pr-4\";\n");
	free(s);
	assert_false(tu_exists(f->dir, "out/pr-4/banner.html.mustache"));
	assert_false(tu_exists(f->dir, "out/pr-4/env.js.mustache"));

	/* a file and a template producing the same name: refused */
	assert_int_equal(tu_write(f->dir, "site/env.js", "dup\n"), 0);
	assert_int_equal(run_op(f, PRENV_OP_DEPLOY, "pr-4", &res, &err), PRENV_ECONFIG);
	assert_non_null(strstr(err.msg, "env.js"));
	provider_result_clear(&res);
	prenv_err_clear(&err);
}

/* --------------------------------------------------------------- safety */

static void test_pages_env_names_cannot_escape(void **state)
{
	struct fx *f = *state;
	static const char *const bad[] = {
		"", "..", ".", "../x", "a/b", "/abs", "/", "-a", "a-", "Pr-1", "pr_1", "pr 1",
		"a\nb", "0123456789012345678901234567890123456789012345678901234567890123",
	};
	struct provider_result res;
	struct prenv_err err = PRENV_ERR_INIT;
	size_t i;
	char out[600];

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(pages_check_env_name(bad[i], &err), PRENV_ECONFIG);
		assert_int_equal(run_op(f, PRENV_OP_DEPLOY, bad[i], &res, &err), PRENV_ECONFIG);
		provider_result_clear(&res);
		assert_int_equal(run_op(f, PRENV_OP_DESTROY, bad[i], &res, &err), PRENV_ECONFIG);
		provider_result_clear(&res);
	}
	assert_int_equal(pages_check_env_name("pr-1", &err), 0);
	assert_int_equal(pages_check_env_name("main", &err), 0);
	/* nothing was created or removed */
	snprintf(out, sizeof(out), "%s/out", f->dir);
	assert_int_equal(count_entries(out), 2);
	assert_int_equal(count_entries(f->dir), 2); /* site, out */
	{
		int existed = 1;

		assert_int_equal(pages_dir_destroy(out, "..", "shop", &existed, &err), PRENV_ECONFIG);
		assert_int_equal(existed, 0);
	}
	assert_true(tu_exists(f->dir, "out/other/keep.txt"));
	prenv_err_clear(&err);
}

static void test_pages_symlinks_outside_refused(void **state)
{
	struct fx *f = *state;
	struct pages_site *site = NULL;
	struct prenv_err err = PRENV_ERR_INIT;
	char src[600], link[700];
	size_t i;
	int found = 0;

	snprintf(src, sizeof(src), "%s/site", f->dir);
	/* inside: kept as a link */
	snprintf(link, sizeof(link), "%s/assets/main.js", src);
	assert_int_equal(symlink("app.js", link), 0);
	snprintf(link, sizeof(link), "%s/home.html", src);
	assert_int_equal(symlink("./index.html", link), 0);
	assert_int_equal(pages_site_load(&site, src, NULL, &err), 0);
	for (i = 0; i < site->n; i++)
		if (strcmp(site->files[i].path, "assets/main.js") == 0) {
			assert_int_equal(site->files[i].mode, PAGES_LINK);
			assert_string_equal(site->files[i].data, "app.js");
			found = 1;
		}
	assert_true(found);
	pages_site_free(site);

	/* outside: refused, naming the link */
	snprintf(link, sizeof(link), "%s/assets/secret", src);
	assert_int_equal(symlink("../../out/index.html", link), 0);
	assert_int_equal(pages_site_load(&site, src, NULL, &err), PRENV_ECONFIG);
	assert_null(site);
	assert_non_null(strstr(err.msg, "assets/secret"));
	assert_int_equal(remove(link), 0);
	assert_int_equal(symlink("/etc/passwd", link), 0);
	assert_int_equal(pages_site_load(&site, src, NULL, &err), PRENV_ECONFIG);
	assert_int_equal(remove(link), 0);
	/* a ".." that looks harmless lexically but climbs through a link to "." */
	snprintf(link, sizeof(link), "%s/s", src);
	assert_int_equal(symlink(".", link), 0);
	snprintf(link, sizeof(link), "%s/leak", src);
	assert_int_equal(symlink("s/s/s/../../../out/index.html", link), 0);
	assert_int_equal(pages_site_load(&site, src, NULL, &err), PRENV_ECONFIG);
	assert_non_null(strstr(err.msg, "leak"));
	prenv_err_clear(&err);
	assert_int_equal(remove(link), 0);
	/* even one ".." inside the site is refused */
	assert_int_equal(symlink("assets/../index.html", link), 0);
	assert_int_equal(pages_site_load(&site, src, NULL, &err), PRENV_ECONFIG);
	prenv_err_clear(&err);
	assert_int_equal(remove(link), 0);
	snprintf(link, sizeof(link), "%s/s", src);
	assert_int_equal(remove(link), 0);

	/* the deployed copy keeps inside links as links */
	{
		struct provider_result res;
		char *s;

		assert_int_equal(run_op(f, PRENV_OP_DEPLOY, "pr-4", &res, &err), 0);
		provider_result_clear(&res);
		s = tu_read(f->dir, "out/pr-4/assets/main.js");
		assert_string_equal(s, "console.log(1)\n");
		free(s);
	}
	prenv_err_clear(&err);
}

static void test_pages_target_parse(void **state)
{
	struct pages_target t;
	struct prenv_err err = PRENV_ERR_INIT;
	static const char *const bad[] = {
		"dir:", "git:", "git:https://x/y.git", "git:https://x/y.git#", "ftp://x",
		"git:/r.git#b:../up", "git:/r.git#b:/abs", "git:/r.git#b:a/./b", "git:/r.git#a..b",
		"git:/r.git#-x", "git:/r.git#b:.git",
	};
	size_t i;

	(void)state;
	assert_int_equal(pages_target_parse(&t, "dir:/srv/www", &err), 0);
	assert_int_equal(t.kind, PAGES_TARGET_DIR);
	assert_string_equal(t.path, "/srv/www");
	pages_target_clear(&t);
	assert_int_equal(pages_target_parse(&t, "git:https://github.com/acme/shop.git#gh-pages", &err), 0);
	assert_int_equal(t.kind, PAGES_TARGET_GIT);
	assert_string_equal(t.url, "https://github.com/acme/shop.git");
	assert_string_equal(t.branch, "gh-pages");
	assert_string_equal(t.subdir, "");
	pages_target_clear(&t);
	assert_int_equal(pages_target_parse(&t, "git:git@github.com:acme/shop.git#pages:previews/pr/", &err), 0);
	assert_string_equal(t.url, "git@github.com:acme/shop.git");
	assert_string_equal(t.branch, "pages");
	assert_string_equal(t.subdir, "previews/pr");
	pages_target_clear(&t);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(pages_target_parse(&t, bad[i], &err), PRENV_ECONFIG);
		assert_null(t.url);
	}
	prenv_err_clear(&err);
}

static void test_pages_missing_source_is_config_error(void **state)
{
	struct fx *f = *state;
	struct provider_result res;
	struct prenv_err err = PRENV_ERR_INIT;

	cJSON_ReplaceItemInObject(f->cfg.provider, "source", cJSON_CreateString("public"));
	assert_int_equal(run_op(f, PRENV_OP_DEPLOY, "pr-4", &res, &err), PRENV_ECONFIG);
	assert_non_null(strstr(err.msg, "public"));
	assert_string_equal(res.status, "failed");
	provider_result_clear(&res);
	assert_false(tu_exists(f->dir, "out/pr-4"));
	prenv_err_clear(&err);
}

/* gc's list of a dir: target: what run_op's session lists (caller frees). */
static cJSON *list_envs(struct fx *f)
{
	struct provider_session *s = NULL;
	struct prenv_err err = PRENV_ERR_INIT;
	struct provider_run run;
	cJSON *out = NULL;

	memset(&run, 0, sizeof(run));
	run.cfg = &f->cfg;
	run.wait_seconds = -1;
	assert_int_equal(provider_open(&pages_provider, &run, &s, &err), 0);
	assert_int_equal(s->provider->list(s, &run, &out, &err), 0);
	provider_close(s);
	assert_non_null(out);
	return out;
}

/* Every environment directory prenv makes carries a small marker
 * (.prenv.json: app, env, deploy time; the site is public, so nothing
 * else); list (gc), destroy and deploy touch only directories whose marker
 * names this app and environment. */
static void test_pages_marker_owns_the_directory(void **state)
{
	struct fx *f = *state;
	struct provider_result res;
	struct prenv_err err = PRENV_ERR_INIT;
	cJSON *m, *list;
	char *s;

	assert_int_equal(run_op(f, PRENV_OP_DEPLOY, "pr-4", &res, &err), 0);
	provider_result_clear(&res);
	s = tu_read(f->dir, "out/pr-4/.prenv.json");
	assert_non_null(s);
	m = cJSON_Parse(s);
	free(s);
	assert_int_equal(cJSON_GetArraySize(m), 4);
	assert_int_equal((int)cJSON_GetObjectItem(m, "prenv")->valuedouble, 1);
	assert_string_equal(cJSON_GetObjectItem(m, "app")->valuestring, "shop");
	assert_string_equal(cJSON_GetObjectItem(m, "env")->valuestring, "pr-4");
	assert_true(fabs(cJSON_GetObjectItem(m, "deployed_at")->valuedouble - (double)time(NULL)) < 60);
	/* a hand-made directory, another app's, an older prenv's (no marker) */
	assert_int_equal(tu_write(f->dir, "out/blog/.prenv.json",
				  "{\"prenv\":1,\"app\":\"blog\",\"env\":\"blog\",\"deployed_at\":1}"), 0);
	assert_int_equal(tu_write(f->dir, "out/pr-3/index.html", "older prenv\n"), 0);
	list = list_envs(f);
	assert_int_equal(cJSON_GetArraySize(list), 1);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(list, 0), "name")->valuestring, "pr-4");
	assert_true(cJSON_GetObjectItem(cJSON_GetArrayItem(list, 0), "deployed_at")->valuedouble ==
		    cJSON_GetObjectItem(m, "deployed_at")->valuedouble);
	cJSON_Delete(list);
	cJSON_Delete(m);
	/* destroy and deploy refuse what is not this app's (exit 3), untouched */
	assert_int_equal(run_op(f, PRENV_OP_DESTROY, "other", &res, &err), PRENV_EAUTH);
	assert_non_null(strstr(err.msg, "no .prenv.json"));
	provider_result_clear(&res);
	assert_int_equal(run_op(f, PRENV_OP_DEPLOY, "other", &res, &err), PRENV_EAUTH);
	provider_result_clear(&res);
	assert_int_equal(run_op(f, PRENV_OP_DESTROY, "blog", &res, &err), PRENV_EAUTH);
	assert_non_null(strstr(err.msg, "app 'blog'"));
	provider_result_clear(&res);
	assert_int_equal(run_op(f, PRENV_OP_DEPLOY, "pr-3", &res, &err), PRENV_EAUTH);
	provider_result_clear(&res);
	assert_true(tu_exists(f->dir, "out/other/keep.txt"));
	assert_false(tu_exists(f->dir, "out/other/index.html"));
	assert_true(tu_exists(f->dir, "out/blog/.prenv.json"));
	assert_true(tu_exists(f->dir, "out/pr-3/index.html"));
	/* prenv's own goes */
	assert_int_equal(run_op(f, PRENV_OP_DESTROY, "pr-4", &res, &err), 0);
	provider_result_clear(&res);
	assert_false(tu_exists(f->dir, "out/pr-4"));
	/* a site cannot bring its own marker */
	assert_int_equal(tu_write(f->dir, "site/.prenv.json", "{}"), 0);
	assert_int_equal(run_op(f, PRENV_OP_DEPLOY, "pr-4", &res, &err), PRENV_ECONFIG);
	assert_non_null(strstr(err.msg, ".prenv.json"));
	provider_result_clear(&res);
	assert_false(tu_exists(f->dir, "out/pr-4"));
	prenv_err_clear(&err);
}

static void test_pages_provider_table(void **state)
{
	(void)state;
	assert_ptr_equal(provider_find("pages"), &pages_provider);
	assert_non_null(provider_find("command"));
	assert_string_equal(provider_find("command")->name, "command");
	assert_null(provider_find("nope"));
	assert_null(provider_find(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pages_dir_deploy_redeploy_destroy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pages_marker_owns_the_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pages_dir_swap_reader_never_sees_partial, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pages_mustache_files_rendered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pages_env_names_cannot_escape, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pages_symlinks_outside_refused, setup, teardown),
		cmocka_unit_test(test_pages_target_parse),
		cmocka_unit_test_setup_teardown(test_pages_missing_source_is_config_error, setup, teardown),
		cmocka_unit_test(test_pages_provider_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
