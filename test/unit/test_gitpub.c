/* test_gitpub.c - pages provider, git: targets (gitpub.c), checked with the
 * real git command-line client against local bare repositories, and through
 * the real `git http-backend` behind test/servers/git_http_server.py. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <time.h>

#include "context/ci.h"
#include "config/config.h"
#include "util/err.h"
#include "util/log.h"
#include "pages/gitpub.h"
#include "pages/pages.h"
#include "pages/site.h"
#include "config/plan.h"
#include "provider.h"
#include "pages_testutil.h"

#define SHA "0123456789abcdef0123456789abcdef01234567"

struct fx {
	char *dir;      /* temp dir: site/, bare.git, work/ */
	char *bare;
	struct prenv_config cfg;
	struct prenv_context ctx;
};

static char *git_out(struct fx *f, const char *a1, const char *a2, const char *a3, const char *a4)
{
	char gd[600];
	char *argv[8] = { (char *)"git", gd, (char *)a1, (char *)a2, (char *)a3, (char *)a4, NULL, NULL };
	char *out = NULL;

	snprintf(gd, sizeof(gd), "--git-dir=%s", f->bare);
	if (tu_run(argv, NULL, &out) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; s && *s; s++)
		if (*s == '\n')
			n++;
	return n;
}

static void set_target(struct fx *f, const char *target)
{
	cJSON_Delete(f->cfg.provider);
	f->cfg.provider = cJSON_CreateObject();
	cJSON_AddStringToObject(f->cfg.provider, "source", "site");
	cJSON_AddStringToObject(f->cfg.provider, "target", target);
}

/* Bare repo with branch gh-pages holding index.html and pr-9/index.html. */
static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct prenv_buf b = PRENV_BUF_INIT, w = PRENV_BUF_INIT;
	char target[700];

	f->dir = tu_tmpdir();
	prenv_buf_printf(&b, "%s/bare.git", f->dir);
	f->bare = prenv_buf_detach(&b, NULL);
	prenv_buf_printf(&w, "%s/work", f->dir);
	{
		char *init_bare[] = { (char *)"git", (char *)"init", (char *)"-q", (char *)"--bare", f->bare, NULL };
		char *init_w[] = { (char *)"git", (char *)"init", (char *)"-q", w.ptr, NULL };
		char *add[] = { (char *)"git", (char *)"add", (char *)"-A", NULL };
		char *commit[] = { (char *)"git", (char *)"-c", (char *)"user.name=Seed", (char *)"-c",
				   (char *)"user.email=seed@example.com", (char *)"commit", (char *)"-q",
				   (char *)"-m", (char *)"seed", NULL };
		char *push[] = { (char *)"git", (char *)"push", (char *)"-q", f->bare,
				 (char *)"HEAD:refs/heads/gh-pages", NULL };

		assert_int_equal(tu_run(init_bare, NULL, NULL), 0);
		assert_int_equal(tu_run(init_w, NULL, NULL), 0);
		assert_int_equal(tu_write(w.ptr, "index.html", "<h1>root</h1>\n"), 0);
		assert_int_equal(tu_write(w.ptr, "pr-9/index.html", "<h1>pr 9</h1>\n"), 0);
		assert_int_equal(tu_run(add, w.ptr, NULL), 0);
		assert_int_equal(tu_run(commit, w.ptr, NULL), 0);
		assert_int_equal(tu_run(push, w.ptr, NULL), 0);
	}
	prenv_buf_free(&w);
	assert_int_equal(tu_write(f->dir, "site/index.html", "<h1>preview</h1>\n"), 0);
	assert_int_equal(tu_write(f->dir, "site/css/site.css", "body{}\n"), 0);
	f->cfg.dir = f->dir;
	f->cfg.app = (char *)"shop";
	snprintf(target, sizeof(target), "git:%s#gh-pages", f->bare);
	set_target(f, target);
	f->ctx.has_pr = 1;
	f->ctx.pr_number = 1;
	f->ctx.sha = (char *)SHA;
	f->ctx.branch = (char *)"feature/x";
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	tu_rm_rf(f->dir);
	free(f->dir);
	free(f->bare);
	cJSON_Delete(f->cfg.provider);
	free(f);
	log_set_streams(NULL, NULL);
	log_reset();
	return 0;
}

static int run_op(struct fx *f, enum prenv_op op, const char *env, const char *const *envp,
		  struct provider_result *res, struct prenv_err *err)
{
	struct prenv_plan plan;
	struct provider_run run;

	memset(&plan, 0, sizeof(plan));
	memset(&run, 0, sizeof(run));
	plan.env_name = (char *)env;
	plan.url = (char *)"https://acme.github.io/shop/x/";
	plan.vars = NULL;
	run.cfg = &f->cfg;
	run.ctx = &f->ctx;
	run.plan = &plan;
	run.envp = envp;
	run.wait_seconds = -1;
	return provider_once(&pages_provider, op, &run, NULL, res, err);
}

static void test_gitpub_deploy_one_commit_right_tree(void **state)
{
	struct fx *f = *state;
	struct provider_result res = { 0 };
	struct prenv_err err = PRENV_ERR_INIT;
	char *log, *tree, *root_before, *pr9_before, *s;

	root_before = git_out(f, "rev-parse", "gh-pages:index.html", NULL, NULL);
	pr9_before = git_out(f, "rev-parse", "gh-pages:pr-9", NULL, NULL);
	assert_non_null(root_before);
	assert_non_null(pr9_before);

	/* deploy: exactly one commit, right message, right tree */
	assert_int_equal(run_op(f, PRENV_OP_DEPLOY, "pr-1", NULL, &res, &err), 0);
	assert_string_equal(res.status, "ready");
	assert_string_equal(res.url, "https://acme.github.io/shop/x/");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(res.info, "changed")));
	provider_result_clear(&res);
	log = git_out(f, "log", "--format=%s", "gh-pages", NULL);
	assert_string_equal(log, "prenv: deploy pr-1 (PR #1, 0123456)\nseed\n");
	free(log);
	tree = git_out(f, "ls-tree", "-r", "--name-only", "gh-pages");
	assert_string_equal(tree, "index.html\npr-1/css/site.css\npr-1/index.html\npr-9/index.html\n");
	free(tree);
	s = git_out(f, "show", "gh-pages:pr-1/index.html", NULL, NULL);
	assert_string_equal(s, "<h1>preview</h1>\n");
	free(s);
	s = git_out(f, "log", "-1", "--format=%an <%ae>|%cn <%ce>", "gh-pages");
	assert_string_equal(s, "prenv <prenv@localhost>|prenv <prenv@localhost>\n");
	free(s);

	/* same site again: no commit */
	assert_int_equal(run_op(f, PRENV_OP_DEPLOY, "pr-1", NULL, &res, &err), 0);
	assert_false(cJSON_IsTrue(cJSON_GetObjectItem(res.info, "changed")));
	provider_result_clear(&res);
	log = git_out(f, "log", "--format=%s", "gh-pages", NULL);
	assert_int_equal(count_lines(log), 2);
	free(log);
	/* nothing outside pr-1/ changed */
	s = git_out(f, "rev-parse", "gh-pages:index.html", NULL, NULL);
	assert_string_equal(s, root_before);
	free(s);
	s = git_out(f, "rev-parse", "gh-pages:pr-9", NULL, NULL);
	assert_string_equal(s, pr9_before);
	free(s);
	free(root_before);
	free(pr9_before);
	prenv_err_clear(&err);
}

static void test_gitpub_redeploy_changes_and_destroy(void **state)
{
	struct fx *f = *state;
	struct provider_result res = { 0 };
	struct prenv_err err = PRENV_ERR_INIT;
	char *log, *tree, *root_before, *pr9_before, *s, *site_css;

	root_before = git_out(f, "rev-parse", "gh-pages:index.html", NULL, NULL);
	pr9_before = git_out(f, "rev-parse", "gh-pages:pr-9", NULL, NULL);
	assert_int_equal(run_op(f, PRENV_OP_DEPLOY, "pr-1", NULL, &res, &err), 0);
	provider_result_clear(&res);

	site_css = NULL;
	{
		struct prenv_buf p = PRENV_BUF_INIT;

		prenv_buf_printf(&p, "%s/site/css/site.css", f->dir);
		assert_int_equal(remove(p.ptr), 0);
		prenv_buf_free(&p);
	}
	assert_int_equal(tu_write(f->dir, "site/index.html", "<h1>preview v2</h1>\n"), 0);
	f->ctx.sha = (char *)"fedcba9876543210fedcba9876543210fedcba98";
	assert_int_equal(run_op(f, PRENV_OP_DEPLOY, "pr-1", NULL, &res, &err), 0);
	provider_result_clear(&res);
	log = git_out(f, "log", "--format=%s", "gh-pages", NULL);
	assert_string_equal(log, "prenv: deploy pr-1 (PR #1, fedcba9)\n"
			    "prenv: deploy pr-1 (PR #1, 0123456)\nseed\n");
	free(log);
	tree = git_out(f, "ls-tree", "-r", "--name-only", "gh-pages");
	assert_string_equal(tree, "index.html\npr-1/index.html\npr-9/index.html\n");
	free(tree);
	s = git_out(f, "show", "gh-pages:pr-1/index.html", NULL, NULL);
	assert_string_equal(s, "<h1>preview v2</h1>\n");
	free(s);

	/* status */
	assert_int_equal(run_op(f, PRENV_OP_STATUS, "pr-1", NULL, &res, &err), 0);
	assert_string_equal(res.status, "ready");
	assert_int_equal((int)cJSON_GetObjectItem(res.info, "files")->valuedouble, 1);
	provider_result_clear(&res);

	/* destroy: a commit that deletes pr-1/, nothing else touched */
	assert_int_equal(run_op(f, PRENV_OP_DESTROY, "pr-1", NULL, &res, &err), 0);
	assert_string_equal(res.status, "destroyed");
	provider_result_clear(&res);
	log = git_out(f, "log", "-1", "--format=%s", "gh-pages");
	assert_string_equal(log, "prenv: destroy pr-1\n");
	free(log);
	tree = git_out(f, "ls-tree", "-r", "--name-only", "gh-pages");
	assert_string_equal(tree, "index.html\npr-9/index.html\n");
	free(tree);
	s = git_out(f, "rev-parse", "gh-pages:index.html", NULL, NULL);
	assert_string_equal(s, root_before);
	free(s);
	s = git_out(f, "rev-parse", "gh-pages:pr-9", NULL, NULL);
	assert_string_equal(s, pr9_before);
	free(s);

	/* destroy again: success, no commit */
	assert_int_equal(run_op(f, PRENV_OP_DESTROY, "pr-1", NULL, &res, &err), 0);
	assert_string_equal(res.status, "destroyed");
	assert_false(cJSON_IsTrue(cJSON_GetObjectItem(res.info, "changed")));
	provider_result_clear(&res);
	log = git_out(f, "log", "--format=%s", "gh-pages", NULL);
	assert_int_equal(count_lines(log), 4);
	free(log);
	assert_int_equal(run_op(f, PRENV_OP_STATUS, "pr-1", NULL, &res, &err), 0);
	assert_string_equal(res.status, "absent");
	provider_result_clear(&res);
	free(root_before);
	free(pr9_before);
	free(site_css);
	prenv_err_clear(&err);
}

static void test_gitpub_orphan_branch_with_subdir_over_file_url(void **state)
{
	struct fx *f = *state;
	struct provider_result res = { 0 };
	struct prenv_err err = PRENV_ERR_INIT;
	char target[700], *log, *tree;

	snprintf(target, sizeof(target), "git:file://%s#previews:site/pr", f->bare);
	set_target(f, target);
	f->ctx.has_pr = 0;
	f->ctx.branch = (char *)"main";
	assert_int_equal(run_op(f, PRENV_OP_DEPLOY, "main", NULL, &res, &err), 0);
	provider_result_clear(&res);
	log = git_out(f, "log", "--format=%s %P", "previews", NULL);
	/* one commit, without a parent (orphan) */
	assert_string_equal(log, "prenv: deploy main (main, 0123456) \n");
	free(log);
	tree = git_out(f, "ls-tree", "-r", "--name-only", "previews");
	assert_string_equal(tree, "site/pr/main/css/site.css\nsite/pr/main/index.html\n");
	free(tree);
	/* gh-pages untouched */
	log = git_out(f, "log", "--format=%s", "gh-pages", NULL);
	assert_string_equal(log, "seed\n");
	free(log);
	/* destroying on a branch that does not exist: success, no branch made */
	snprintf(target, sizeof(target), "git:%s#nothing-here", f->bare);
	set_target(f, target);
	assert_int_equal(run_op(f, PRENV_OP_DESTROY, "main", NULL, &res, &err), 0);
	provider_result_clear(&res);
	assert_null(git_out(f, "rev-parse", "--verify", "-q", "refs/heads/nothing-here"));
	prenv_err_clear(&err);
}

static void test_gitpub_custom_message_author(void **state)
{
	struct fx *f = *state;
	struct provider_result res = { 0 };
	struct prenv_err err = PRENV_ERR_INIT;
	char *s;

	cJSON_AddStringToObject(f->cfg.provider, "author", "Pages Bot <bot@example.com>");
	assert_int_equal(run_op(f, PRENV_OP_DEPLOY, "pr-3", NULL, &res, &err), 0);
	provider_result_clear(&res);
	s = git_out(f, "log", "-1", "--format=%an <%ae>|%s", "gh-pages");
	assert_string_equal(s, "Pages Bot <bot@example.com>|prenv: deploy pr-3 (PR #1, 0123456)\n");
	free(s);
	cJSON_ReplaceItemInObject(f->cfg.provider, "author", cJSON_CreateString("no email"));
	assert_int_equal(run_op(f, PRENV_OP_DEPLOY, "pr-3", NULL, &res, &err), PRENV_ECONFIG);
	provider_result_clear(&res);
	prenv_err_clear(&err);
}

/* ---------------------------------------------------------- concurrent */

struct racer {
	struct fx *f;
	const char *env;
	pthread_barrier_t *go;
	int rc;
	int attempts;
};

static void *race(void *p)
{
	struct racer *r = p;
	struct provider_result res = { 0 };
	struct prenv_err err = PRENV_ERR_INIT;

	pthread_barrier_wait(r->go);
	r->rc = run_op(r->f, PRENV_OP_DEPLOY, r->env, NULL, &res, &err);
	if (res.info)
		r->attempts = (int)cJSON_GetObjectItem(res.info, "attempts")->valuedouble;
	provider_result_clear(&res);
	prenv_err_clear(&err);
	return NULL;
}

static void test_gitpub_concurrent_deploys_both_land(void **state)
{
	struct fx *f = *state;
	pthread_barrier_t go;
	pthread_t t1, t2;
	struct racer a = { f, "pr-1", &go, -99, 0 }, b = { f, "pr-2", &go, -99, 0 };
	char *log, *tree;
	int round;

	for (round = 0; round < 3; round++) {
		struct prenv_buf p = PRENV_BUF_INIT;

		/* Each round changes both sites so both must commit again. */
		prenv_buf_printf(&p, "<h1>round %d</h1>\n", round);
		assert_int_equal(tu_write(f->dir, "site/index.html", p.ptr), 0);
		prenv_buf_free(&p);
		pthread_barrier_init(&go, NULL, 2);
		pthread_create(&t1, NULL, race, &a);
		pthread_create(&t2, NULL, race, &b);
		pthread_join(t1, NULL);
		pthread_join(t2, NULL);
		pthread_barrier_destroy(&go);
		assert_int_equal(a.rc, 0);
		assert_int_equal(b.rc, 0);
		printf("# concurrent round %d: push attempts pr-1=%d pr-2=%d\n", round, a.attempts,
		       b.attempts);
	}
	log = git_out(f, "log", "--format=%s", "gh-pages", NULL);
	assert_int_equal(count_lines(log), 1 + 6);  /* seed + 2 per round */
	free(log);
	tree = git_out(f, "ls-tree", "-r", "--name-only", "gh-pages");
	assert_string_equal(tree, "index.html\npr-1/css/site.css\npr-1/index.html\n"
			    "pr-2/css/site.css\npr-2/index.html\npr-9/index.html\n");
	free(tree);
	tree = git_out(f, "show", "gh-pages:pr-2/index.html", NULL, NULL);
	assert_string_equal(tree, "<h1>round 2</h1>\n");
	free(tree);
}

/* Another job pushes between our fetch and our push: the push is rejected,
 * we rebuild on the new tip and land on the second attempt. Over a local
 * path (compare-and-swap) and over HTTP (git receive-pack). */
struct competitor {
	const char *url;
	const struct pages_site *site;
	const char *const *envp;
	int fired;
};

static void compete(void *ud, int attempt)
{
	struct competitor *c = ud;
	struct gitpub_opts o = GITPUB_OPTS_INIT;
	struct gitpub_result r;
	struct prenv_err err = PRENV_ERR_INIT;

	if (attempt != 1)
		return;
	o.url = c->url;
	o.branch = "gh-pages";
	o.env_name = "pr-7";
	o.site = c->site;
	o.message = "competitor";
	o.envp = c->envp;
	assert_int_equal(gitpub_publish(&o, &r, &err), 0);
	assert_int_equal(r.changed, 1);
	c->fired++;
	prenv_err_clear(&err);
}

static void push_race(struct fx *f, const char *url, const char *const *envp)
{
	struct pages_site *site = NULL;
	struct gitpub_opts o = GITPUB_OPTS_INIT;
	struct gitpub_result r;
	struct prenv_err err = PRENV_ERR_INIT;
	struct competitor c = { url, NULL, envp, 0 };
	struct prenv_buf src = PRENV_BUF_INIT;
	char *log, *tree;

	prenv_buf_printf(&src, "%s/site", f->dir);
	assert_int_equal(pages_site_load(&site, src.ptr, NULL, &err), 0);
	c.site = site;
	o.url = url;
	o.branch = "gh-pages";
	o.env_name = "pr-1";
	o.site = site;
	o.message = "mine";
	o.envp = envp;
	o.before_push = compete;
	o.before_push_ud = &c;
	assert_int_equal(gitpub_publish(&o, &r, &err), 0);
	assert_int_equal(c.fired, 1);
	assert_int_equal(r.attempts, 2);
	assert_int_equal(r.changed, 1);
	log = git_out(f, "log", "--format=%s", "gh-pages", NULL);
	assert_string_equal(log, "mine\ncompetitor\nseed\n");
	free(log);
	tree = git_out(f, "ls-tree", "-r", "--name-only", "gh-pages");
	assert_string_equal(tree, "index.html\npr-1/css/site.css\npr-1/index.html\n"
			    "pr-7/css/site.css\npr-7/index.html\npr-9/index.html\n");
	free(tree);
	pages_site_free(site);
	prenv_buf_free(&src);
	prenv_err_clear(&err);
}

static void test_gitpub_rejected_push_is_rebuilt_local(void **state)
{
	struct fx *f = *state;

	push_race(f, f->bare, NULL);
}

/* ------------------------------------------------------------ HTTP */

struct server {
	pid_t pid;
	int port;
};

static int start_server(struct server *s, const char *root, const char *token)
{
	char portfile[600];
	char *argv[] = { (char *)"/usr/bin/python3", (char *)"test/servers/git_http_server.py",
			 (char *)"--root", (char *)root, (char *)"--token", (char *)token,
			 (char *)"--port-file", portfile, NULL };
	posix_spawn_file_actions_t fa;
	int i;

	snprintf(portfile, sizeof(portfile), "%s/port", root);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	if (posix_spawn(&s->pid, argv[0], &fa, NULL, argv, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	/* as long as the server lives, at most 120 s: Python can take many
	 * seconds to start on a busy machine */
	for (i = 0; i < 2400; i++) {
		char *p = tu_read(root, "port");
		struct timespec ts = { 0, 50000000L };

		if (waitpid(s->pid, NULL, WNOHANG) == s->pid)
			return -1;

		if (p) {
			s->port = atoi(p);
			free(p);
			return 0;
		}
		nanosleep(&ts, NULL);
	}
	return -1;
}

static void stop_server(struct server *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		waitpid(s->pid, NULL, 0);
	}
}

static void test_gitpub_http_backend_token_never_printed(void **state)
{
	struct fx *f = *state;
	const char *token = "ghs_TestToken1234567890secret";
	struct server srv = { 0, 0 };
	struct provider_result res = { 0 };
	struct prenv_err err = PRENV_ERR_INIT;
	char target[700], *log, *tree, *captured, host[80], server[96];
	/* each token is sent to its own host only (context/tokens.h) */
	const char *envp_ok[] = { "PRENV_GIT_TOKEN=ghs_TestToken1234567890secret", host, NULL };
	const char *envp_bad[] = { "GITHUB_TOKEN=wrong-token-value", server, NULL };
	FILE *cap = tmpfile();
	long n;

	assert_non_null(cap);
	assert_int_equal(start_server(&srv, f->dir, token), 0);
	snprintf(host, sizeof(host), "PRENV_GIT_TOKEN_HOST=127.0.0.1:%d", srv.port);
	snprintf(server, sizeof(server), "GITHUB_SERVER_URL=http://127.0.0.1:%d", srv.port);
	log_set_streams(cap, cap);
	log_setup(LOG_CI_NONE, LOG_DEBUG, 0);
	snprintf(target, sizeof(target), "git:http://127.0.0.1:%d/bare.git#gh-pages", srv.port);
	set_target(f, target);

	/* without a token: an authentication error (exit 3), nothing pushed */
	assert_int_equal(run_op(f, PRENV_OP_DEPLOY, "pr-5", NULL, &res, &err), PRENV_EAUTH);
	assert_non_null(strstr(err.msg, "PRENV_GIT_TOKEN"));
	provider_result_clear(&res);
	/* a wrong token: refused, also exit 3 */
	assert_int_equal(run_op(f, PRENV_OP_DEPLOY, "pr-5", envp_bad, &res, &err), PRENV_EAUTH);
	assert_non_null(strstr(err.msg, "GITHUB_TOKEN"));
	provider_result_clear(&res);
	/* the right one */
	assert_int_equal(run_op(f, PRENV_OP_DEPLOY, "pr-5", envp_ok, &res, &err), 0);
	assert_string_equal(res.status, "ready");
	provider_result_clear(&res);
	log_set_streams(NULL, NULL);
	log_setup(LOG_CI_NONE, LOG_NORMAL, 0);
	stop_server(&srv);

	log = git_out(f, "log", "--format=%s", "gh-pages", NULL);
	assert_string_equal(log, "prenv: deploy pr-5 (PR #1, 0123456)\nseed\n");
	free(log);
	tree = git_out(f, "ls-tree", "-r", "--name-only", "gh-pages");
	assert_string_equal(tree, "index.html\npr-5/css/site.css\npr-5/index.html\npr-9/index.html\n");
	free(tree);

	fflush(cap);
	n = ftell(cap);
	rewind(cap);
	captured = calloc(1, (size_t)n + 1);
	assert_int_equal(fread(captured, 1, (size_t)n, cap), (size_t)n);
	fclose(cap);
	assert_true(n > 0);
	/* something was logged about the push, with the URL but no token */
	assert_non_null(strstr(captured, "127.0.0.1"));
	assert_null(strstr(captured, token));
	assert_null(strstr(captured, "wrong-token-value"));
	assert_null(strstr(err.msg ? err.msg : "", token));
	free(captured);
	prenv_err_clear(&err);
}

static void test_gitpub_rejected_push_is_rebuilt_http(void **state)
{
	struct fx *f = *state;
	struct server srv = { 0, 0 };
	char server[96];
	const char *envp[] = { "GITHUB_TOKEN=another-test-token-42", server, NULL };
	char url[200];

	assert_int_equal(start_server(&srv, f->dir, "another-test-token-42"), 0);
	snprintf(server, sizeof(server), "GITHUB_SERVER_URL=http://127.0.0.1:%d", srv.port);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/bare.git", srv.port);
	push_race(f, url, envp);
	stop_server(&srv);
}

static void test_gitpub_redact_url(void **state)
{
	char *s;

	(void)state;
	s = gitpub_redact_url("https://user:pa55word@github.com/a/b.git");
	assert_string_equal(s, "https://github.com/a/b.git");
	free(s);
	s = gitpub_redact_url("https://github.com/a/b@c.git");
	assert_string_equal(s, "https://github.com/a/b@c.git");
	free(s);
	s = gitpub_redact_url("/srv/git/site.git");
	assert_string_equal(s, "/srv/git/site.git");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_gitpub_deploy_one_commit_right_tree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gitpub_redeploy_changes_and_destroy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gitpub_orphan_branch_with_subdir_over_file_url, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gitpub_custom_message_author, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gitpub_concurrent_deploys_both_land, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gitpub_http_backend_token_never_printed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gitpub_rejected_push_is_rebuilt_local, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gitpub_rejected_push_is_rebuilt_http, setup, teardown),
		cmocka_unit_test(test_gitpub_redact_url),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
