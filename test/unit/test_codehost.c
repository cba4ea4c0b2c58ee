/* test_codehost.c - the PR/MR comment upsert and GitHub deployment statuses
 * against the real test servers (test/servers/github_server.py and
 * gitlab_server.py), started once on 127.0.0.1 (ephemeral ports, no shell)
 * and stopped by PID. Each test uses its own repository/project, so tests
 * do not depend on each other. Every request the module sent must pass the
 * servers' request validation (OpenAPI for GitHub, the documented parameter
 * tables for GitLab).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "util/buf.h"
#include "context/ci.h"
#include "report/codehost.h"
#include "util/err.h"
#include "util/http.h"
#include "util/log.h"

extern char **environ;

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

struct server {
	pid_t pid;
	char url[64];
};

static struct server gh = { -1, "" }, gl = { -1, "" };
static char tmpdir[64];
static struct http_client *admin;

static struct {
	int calls;
	long total_ms;
} delays;

static long short_delay(void *ud, long ms)
{
	(void)ud;
	delays.calls++;
	delays.total_ms += ms;
	return ms > 20 ? 20 : ms;
}

static const struct http_client_opts fast_http = {
	.max_wait_ms = 120000, .delay_hook = short_delay,
};

/* ---- servers ---- */

static int spawn_server(const char *script, const char *const *extra, struct server *s)
{
	char port_file[128], line[32];
	char *argv[24];
	size_t k = 0;
	int i;
	FILE *f;

	snprintf(port_file, sizeof(port_file), "%s/%s.port", tmpdir, strrchr(script, '/') + 1);
	unlink(port_file);
	argv[k++] = (char *)(uintptr_t)"/usr/bin/python3";
	argv[k++] = (char *)(uintptr_t)script;
	argv[k++] = (char *)(uintptr_t)"--port";
	argv[k++] = (char *)(uintptr_t)"0";
	argv[k++] = (char *)(uintptr_t)"--port-file";
	argv[k++] = port_file;
	for (; extra && *extra && k < 22; extra++)
		argv[k++] = (char *)(uintptr_t)*extra;
	argv[k] = NULL;
	if (posix_spawn(&s->pid, "/usr/bin/python3", NULL, NULL, argv, environ) != 0)
		return -1;
	for (i = 0; i < 12000; i++) { /* 120 s: a busy machine starts Python slowly */
		if ((f = fopen(port_file, "r"))) {
			if (fgets(line, sizeof(line), f)) {
				fclose(f);
				snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d", atoi(line));
				return 0;
			}
			fclose(f);
		}
		if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
			s->pid = -1;
			return -1;
		}
		usleep(10000);
	}
	return -1;
}

static void stop_server(struct server *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		waitpid(s->pid, NULL, 0);
		s->pid = -1;
	}
}

static int setup_all(void **state)
{
	static const char *const gh_args[] = {
		"--token", "ghs_bot=github-actions[bot]:write",
		"--token", "ghp_alice=alice:write",
		"--token", "ghp_ro=reader:read",
		NULL,
	};
	static const char *const gl_args[] = {
		"--token", "glpat-rw=alice:api",
		"--token", "glpat-ro=bob:read_api",
		"--job-token", "jobtok",
		NULL,
	};
	char tmpl[] = "/tmp/prenv-codehost-XXXXXX";

	(void)state;
	if (!mkdtemp(tmpl))
		return -1;
	snprintf(tmpdir, sizeof(tmpdir), "%s", tmpl);
	if (spawn_server("test/servers/github_server.py", gh_args, &gh) < 0)
		return -1;
	if (spawn_server("test/servers/gitlab_server.py", gl_args, &gl) < 0)
		return -1;
	if (http_client_new(&admin, NULL, NULL) < 0)
		return -1;
	log_set_streams(stdout, stdout);
	return 0;
}

static int teardown_all(void **state)
{
	char p[160];

	(void)state;
	stop_server(&gh);
	stop_server(&gl);
	http_client_free(admin);
	snprintf(p, sizeof(p), "%s/github_server.py.port", tmpdir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/gitlab_server.py.port", tmpdir);
	unlink(p);
	rmdir(tmpdir);
	return 0;
}

/* An admin call; returns the parsed answer (or NULL for an empty one). */
static cJSON *admin_call(const struct server *s, const char *method, const char *path,
			 const char *body)
{
	static const char *const hdrs[] = { "Content-Type: application/json", NULL };
	struct http_response resp = HTTP_RESPONSE_INIT;
	struct prenv_err err = PRENV_ERR_INIT;
	struct prenv_buf url = PRENV_BUF_INIT;
	struct http_request rq;
	cJSON *j;

	memset(&rq, 0, sizeof(rq));
	prenv_buf_printf(&url, "%s%s", s->url, path);
	rq.method = method;
	rq.url = url.ptr;
	rq.headers = hdrs;
	rq.body = body;
	rq.body_len = body ? strlen(body) : 0;
	rq.idempotent = HTTP_IDEMPOTENT_NO;
	if (http_do(admin, &rq, &resp, &err) < 0)
		fail_msg("admin %s %s: %s", method, path, err.msg);
	j = resp.body.len ? cJSON_ParseWithLength(resp.body.ptr, resp.body.len) : NULL;
	http_response_free(&resp);
	prenv_buf_free(&url);
	prenv_err_clear(&err);
	return j;
}

static void seed(const struct server *s, const char *json)
{
	cJSON_Delete(admin_call(s, "POST", "/_test/seed", json));
}

/* Every request logged so far passed validation; returns how many there were. */
static int all_valid(const struct server *s)
{
	cJSON *reqs = admin_call(s, "GET", "/_test/requests", NULL);
	const cJSON *r;
	int n = 0;

	cJSON_ArrayForEach(r, reqs) {
		const cJSON *v = cJSON_GetObjectItem(r, "validation");

		if (!cJSON_IsTrue(cJSON_GetObjectItem(v, "ok"))) {
			char *txt = cJSON_PrintUnformatted(r);

			fail_msg("invalid request: %s", txt);
			free(txt);
		}
		n++;
	}
	cJSON_Delete(reqs);
	return n;
}

/* Requests logged whose "METHOD path" contains needle. */
static int count_requests(const struct server *s, const char *method, const char *needle)
{
	cJSON *reqs = admin_call(s, "GET", "/_test/requests", NULL);
	const cJSON *r;
	int n = 0;

	cJSON_ArrayForEach(r, reqs) {
		const char *m = cJSON_GetStringValue(cJSON_GetObjectItem(r, "method"));
		const char *p = cJSON_GetStringValue(cJSON_GetObjectItem(r, "path"));

		if (m && p && !strcmp(m, method) && strstr(p, needle))
			n++;
	}
	cJSON_Delete(reqs);
	return n;
}

/* The comments (GitHub) or notes (GitLab) of repo/issue, from /_test/state. */
static cJSON *comments_of(const char *repo, long issue)
{
	cJSON *st = admin_call(&gh, "GET", "/_test/state", NULL);
	cJSON *out = cJSON_CreateArray();
	const cJSON *c;
	char suffix[64];

	snprintf(suffix, sizeof(suffix), "/issues/%ld", issue);
	cJSON_ArrayForEach(c, cJSON_GetObjectItem(st, "comments")) {
		const char *iu = cJSON_GetStringValue(cJSON_GetObjectItem(c, "issue_url"));

		if (iu && strstr(iu, repo) && strlen(iu) >= strlen(suffix) &&
		    !strcmp(iu + strlen(iu) - strlen(suffix), suffix))
			cJSON_AddItemToArray(out, cJSON_Duplicate(c, 1));
	}
	cJSON_Delete(st);
	return out;
}

static int count_marked(const cJSON *arr, const char *marker)
{
	const cJSON *c;
	int n = 0;

	cJSON_ArrayForEach(c, arr)
		n += codehost_marker_matches(cJSON_GetStringValue(cJSON_GetObjectItem(c, "body")), marker);
	return n;
}

/* ---- contexts ---- */

#define S(s) ((char *)(uintptr_t)(s))

static void gh_ctx(struct prenv_context *c, const char *api, const char *repo_owner,
		   const char *repo_name, long pr, const char *sha)
{
	memset(c, 0, sizeof(*c));
	c->ci = S("github");
	c->host = S("github");
	c->api_url = S(api);
	c->repo_owner = S(repo_owner);
	c->repo_name = S(repo_name);
	c->has_pr = pr > 0;
	c->pr_number = pr;
	c->sha = S(sha);
	c->run_url = S("https://github.com/acme/x/actions/runs/1");
}

static const char *const env_bot[] = { "GITHUB_ACTIONS=true", "GITHUB_TOKEN=ghs_bot", NULL };

static struct codehost *open_host(const struct prenv_context *ctx, const char *const *envp)
{
	struct codehost_opts o = { ctx, envp, &fast_http };
	struct prenv_buf why = PRENV_BUF_INIT;
	struct prenv_err err = PRENV_ERR_INIT;
	struct codehost *h = NULL;
	int auth = 0;

	assert_int_equal(0, codehost_new(&h, &o, &why, &auth, &err));
	if (!h)
		fail_msg("not reporting: %s", why.ptr);
	prenv_buf_free(&why);
	return h;
}

static void body_for(struct prenv_buf *b, const char *marker, const char *sha, const char *status)
{
	prenv_buf_reset(b);
	prenv_buf_printf(b, "%s\n<!-- prenv:sha=%s -->\n### Preview - %s\n", marker, sha, status);
}

static int upsert(const struct prenv_context *ctx, const char *const *envp, const char *marker,
		  const char *sha, const char *status, long long known,
		  struct codehost_comment_result *res, unsigned long *nreq)
{
	struct codehost *h = open_host(ctx, envp);
	struct prenv_buf body = PRENV_BUF_INIT;
	struct prenv_err err = PRENV_ERR_INIT;
	struct codehost_comment c;
	int rc;

	body_for(&body, marker, sha, status);
	memset(&c, 0, sizeof(c));
	c.marker = marker;
	c.body = body.ptr;
	c.sha = sha;
	c.known_id = known;
	c.force = !strcmp(status, "destroyed");
	rc = codehost_upsert_comment(h, &c, res, &err);
	if (rc < 0)
		printf("# upsert: %s\n", err.msg);
	if (nreq)
		*nreq = codehost_request_count(h);
	codehost_free(h);
	prenv_buf_free(&body);
	prenv_err_clear(&err);
	return rc;
}

/* ---- pure functions ---- */

static void test_codehost_marker_matches_only_at_start(void **state)
{
	const char *m = "<!-- prenv:marker app=shop env=pr-1 -->";

	(void)state;
	assert_true(codehost_marker_matches("<!-- prenv:marker app=shop env=pr-1 -->", m));
	assert_true(codehost_marker_matches("<!-- prenv:marker app=shop env=pr-1 -->\nx", m));
	assert_true(codehost_marker_matches("<!-- prenv:marker app=shop env=pr-1 -->\r\nx", m));
	assert_false(codehost_marker_matches("> <!-- prenv:marker app=shop env=pr-1 -->\nx", m));
	assert_false(codehost_marker_matches("```\n<!-- prenv:marker app=shop env=pr-1 -->\n```", m));
	assert_false(codehost_marker_matches(" <!-- prenv:marker app=shop env=pr-1 -->", m));
	/* another environment whose name starts the same */
	assert_false(codehost_marker_matches("<!-- prenv:marker app=shop env=pr-10 -->", m));
	assert_false(codehost_marker_matches("<!-- prenv:marker app=shop env=pr-1 -->x", m));
	assert_false(codehost_marker_matches(NULL, m));
}

static void test_codehost_comment_sha_parses_second_line(void **state)
{
	char sha[41];

	(void)state;
	assert_int_equal(0, codehost_comment_sha("<!-- m -->\n<!-- prenv:sha=" SHA_A " -->\n###", sha));
	assert_string_equal(SHA_A, sha);
	assert_int_equal(0, codehost_comment_sha("<!-- m -->\n<!-- prenv:sha=ABCDEF0123ABCDEF0123ABCDEF0123ABCDEF0123 -->", sha));
	assert_string_equal("abcdef0123abcdef0123abcdef0123abcdef0123", sha);
	assert_int_equal(-1, codehost_comment_sha("<!-- m -->\n<!-- prenv:sha=abc -->", sha));
	assert_int_equal(-1, codehost_comment_sha("<!-- m -->\ntext <!-- prenv:sha=" SHA_A " -->", sha));
	assert_int_equal(-1, codehost_comment_sha("<!-- m -->", sha));
}

/* ---- why nothing is posted ---- */

static void test_codehost_reasons_not_posted(void **state)
{
	struct prenv_context c;
	struct codehost_opts o;
	struct prenv_buf why = PRENV_BUF_INIT;
	struct prenv_err err = PRENV_ERR_INIT;
	struct codehost *h = (struct codehost *)1;
	static const char *const none[] = { "GITHUB_ACTIONS=true", NULL };
	static const char *const job[] = { "GITLAB_CI=true", "CI_JOB_TOKEN=jobtok", NULL };
	static const char *const local_tok[] = { "GITHUB_TOKEN=ghs_bot", NULL };
	int auth = -1;

	(void)state;
	gh_ctx(&c, gh.url, "acme", "why", 1, SHA_A);
	memset(&o, 0, sizeof(o));
	o.ctx = &c;

	o.envp = none; /* no token */
	assert_int_equal(0, codehost_new(&h, &o, &why, &auth, &err));
	assert_null(h);
	assert_int_equal(1, auth);
	assert_non_null(strstr(why.ptr, "GITHUB_TOKEN"));

	/* an API over plain http (not loopback): the token is not sent */
	prenv_buf_reset(&why);
	o.envp = env_bot;
	c.api_url = S("http://ghe.corp.example/api/v3");
	assert_int_equal(0, codehost_new(&h, &o, &why, &auth, &err));
	assert_null(h);
	assert_non_null(strstr(why.ptr, "GITHUB_TOKEN is not sent over plain http:// to ghe.corp.example"));
	c.api_url = S(gh.url);

	prenv_buf_reset(&why);
	c.ci = S("local"); /* a local run with a token in the shell */
	o.envp = local_tok;
	assert_int_equal(0, codehost_new(&h, &o, &why, &auth, &err));
	assert_null(h);
	assert_int_equal(0, auth);
	assert_non_null(strstr(why.ptr, "local run"));

	prenv_buf_reset(&why);
	c.ci = S("gitlab");
	c.host = S("gitlab");
	c.project_id = S("42");
	o.envp = job; /* only the job token */
	assert_int_equal(0, codehost_new(&h, &o, &why, &auth, &err));
	assert_null(h);
	assert_int_equal(1, auth);
	assert_non_null(strstr(why.ptr, "CI_JOB_TOKEN"));
	assert_non_null(strstr(why.ptr, "PRENV_GITLAB_TOKEN"));

	prenv_buf_reset(&why);
	c.host = S("bitbucket");
	assert_int_equal(0, codehost_new(&h, &o, &why, &auth, &err));
	assert_null(h);
	assert_non_null(strstr(why.ptr, "bitbucket"));
	prenv_buf_free(&why);
}

/* ---- GitHub ---- */

static void test_codehost_github_three_updates_one_comment(void **state)
{
	const char *m = "<!-- prenv:marker app=shop env=pr-7 -->";
	struct prenv_context c;
	struct codehost_comment_result r1, r2, r3;
	cJSON *cs;
	const cJSON *it;
	int foreign_ok = 0;

	(void)state;
	seed(&gh, "{\"repo\":\"acme/three\",\"pulls\":[{\"number\":7,\"head_sha\":\"" SHA_A "\","
		  "\"head_ref\":\"feat\",\"base_ref\":\"main\",\"state\":\"open\",\"user\":\"alice\"}],"
		  "\"comments\":[{\"issue_number\":7,\"user\":\"carol\",\"body\":\"> <!-- prenv:marker app=shop env=pr-7 -->\\nquoted\"},"
		  "{\"issue_number\":7,\"user\":\"carol\",\"body\":\"```\\n<!-- prenv:marker app=shop env=pr-7 -->\\n```\"},"
		  "{\"issue_number\":7,\"user\":\"carol\",\"body\":\"Preview environment pr-7 looks good\"}]}");
	gh_ctx(&c, gh.url, "acme", "three", 7, SHA_A);
	assert_int_equal(0, upsert(&c, env_bot, m, SHA_A, "deploying", 0, &r1, NULL));
	assert_int_equal(CODEHOST_CREATED, r1.action);
	assert_true(r1.id > 2147483647LL); /* ids past 2^31 survive */
	assert_int_equal(0, upsert(&c, env_bot, m, SHA_A, "ready", 0, &r2, NULL));
	assert_int_equal(CODEHOST_UPDATED, r2.action);
	assert_true(r2.id == r1.id);
	assert_int_equal(0, upsert(&c, env_bot, m, SHA_A, "failed", 0, &r3, NULL));
	assert_int_equal(CODEHOST_UPDATED, r3.action);
	assert_true(r3.id == r1.id);

	cs = comments_of("acme/three", 7);
	assert_int_equal(4, cJSON_GetArraySize(cs));
	assert_int_equal(1, count_marked(cs, m));
	cJSON_ArrayForEach(it, cs) {
		const char *b = cJSON_GetStringValue(cJSON_GetObjectItem(it, "body"));
		const char *u = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(it, "user"), "login"));

		if (codehost_marker_matches(b, m)) {
			assert_string_equal("github-actions[bot]", u);
			assert_non_null(strstr(b, "failed"));
		} else {
			assert_string_equal("carol", u);
			/* the look-alikes kept their text and were never edited */
			assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(it, "created_at")),
					    cJSON_GetStringValue(cJSON_GetObjectItem(it, "updated_at")));
			foreign_ok++;
		}
	}
	assert_int_equal(3, foreign_ok);
	cJSON_Delete(cs);
	all_valid(&gh);
}

struct race_arg {
	const struct prenv_context *ctx;
	const char *marker;
	const char *status;
	pthread_barrier_t *bar;
	int sync;     /* first deploys: both lists rate limited, then together */
	int rc;
	struct codehost_comment_result res;
};

/* Both racing jobs' first list is rate limited; their waits meet at this
 * barrier, so both list again at the same moment and both see no comment. */
static pthread_barrier_t race_wait;

static long race_delay(void *ud, long ms)
{
	(void)ud;
	(void)ms;
	pthread_barrier_wait(&race_wait);
	return 1;
}

static const struct http_client_opts race_http = { .delay_hook = race_delay };

static void *race_thread(void *p)
{
	struct race_arg *a = p;
	struct codehost_opts o = { a->ctx, env_bot, a->sync ? &race_http : &fast_http };
	struct prenv_buf why = PRENV_BUF_INIT;
	struct codehost *h = NULL;
	struct prenv_buf body = PRENV_BUF_INIT;
	struct prenv_err err = PRENV_ERR_INIT;
	struct codehost_comment c;

	if (codehost_new(&h, &o, &why, NULL, &err) < 0 || !h) {
		a->rc = -100;
		pthread_barrier_wait(a->bar);
		return NULL;
	}
	prenv_buf_free(&why);
	body_for(&body, a->marker, SHA_A, a->status);
	memset(&c, 0, sizeof(c));
	c.marker = a->marker;
	c.body = body.ptr;
	c.sha = SHA_A;
	pthread_barrier_wait(a->bar);
	a->rc = codehost_upsert_comment(h, &c, &a->res, &err);
	codehost_free(h);
	prenv_buf_free(&body);
	prenv_err_clear(&err);
	return NULL;
}

static void test_codehost_github_race_leaves_one_comment(void **state)
{
	static const char *const markers[] = {
		"<!-- prenv:marker app=shop env=pr-8 -->", "<!-- prenv:marker app=api env=pr-8 -->",
		"<!-- prenv:marker app=web env=pr-8 -->", "<!-- prenv:marker app=db env=pr-8 -->",
	};
	struct prenv_context c;
	pthread_barrier_t bar;
	struct race_arg a[2];
	pthread_t t[2];
	cJSON *cs;
	int round, i, both = 0, posts;

	(void)state;
	seed(&gh, "{\"repo\":\"acme/race\",\"pulls\":[{\"number\":8,\"head_sha\":\"" SHA_A "\","
		  "\"head_ref\":\"r\",\"base_ref\":\"main\",\"state\":\"open\",\"user\":\"alice\"}]}");
	gh_ctx(&c, gh.url, "acme", "race", 8, SHA_A);
	/* Each round races two first deploys of a new environment (both may
	 * see "no comment" and both post), then two updates. Either way one
	 * comment must remain. */
	for (round = 0; round < 8; round++) {
		const char *m = markers[round / 2];
		int created = 0;

		if (round % 2 == 0) {
			pthread_barrier_init(&race_wait, NULL, 2);
			cJSON_Delete(admin_call(&gh, "POST", "/_test/faults",
						"{\"status\":\"403rate\",\"count\":2,\"match\":\"GET /race/issues/8/comments\"}"));
		}

		pthread_barrier_init(&bar, NULL, 2);
		for (i = 0; i < 2; i++) {
			memset(&a[i], 0, sizeof(a[i]));
			a[i].ctx = &c;
			a[i].marker = m;
			a[i].status = i ? "ready" : "deploying";
			a[i].bar = &bar;
			a[i].sync = round % 2 == 0;
			pthread_create(&t[i], NULL, race_thread, &a[i]);
		}
		for (i = 0; i < 2; i++) {
			pthread_join(t[i], NULL);
			assert_int_equal(0, a[i].rc);
			created += a[i].res.action == CODEHOST_CREATED;
		}
		pthread_barrier_destroy(&bar);
		both += created == 2;
		if (round % 2 == 0)
			pthread_barrier_destroy(&race_wait);
		assert_true(a[0].res.id == a[1].res.id); /* both ended on the kept one */
		cs = comments_of("acme/race", 8);
		assert_int_equal(1, count_marked(cs, m));
		cJSON_Delete(cs);
	}
	posts = count_requests(&gh, "POST", "/race/issues/8/comments");
	printf("# race: %d comments posted by 4 pairs of racing first deploys; one left each time\n", posts);
	assert_true(posts > 4); /* the double-post path was exercised */
	(void)both;
	all_valid(&gh);
}

/* Both jobs saw no comment and posted: the re-read keeps the oldest and
 * deletes the younger one (same author); a duplicate by another author
 * stays. Made deterministic by seeding the "other job's" comment. */
static void test_codehost_github_duplicate_cleanup_by_author(void **state)
{
	const char *m = "<!-- prenv:marker app=shop env=pr-9 -->";
	struct prenv_context c;
	struct codehost_comment_result r;
	cJSON *cs;
	const cJSON *it;
	int alice = 0, bot = 0;

	(void)state;
	/* The oldest is alice's (a collaborator's token): kept and updated.
	 * The bot's younger duplicate is deleted. mallory (no association with
	 * the repository) planted a marker: ignored entirely, never touched. */
	seed(&gh, "{\"repo\":\"acme/dups\",\"pulls\":[{\"number\":9,\"head_sha\":\"" SHA_A "\","
		  "\"head_ref\":\"d\",\"base_ref\":\"main\",\"state\":\"open\",\"user\":\"alice\"}],"
		  "\"comments\":[{\"issue_number\":9,\"user\":\"alice\",\"body\":\"<!-- prenv:marker app=shop env=pr-9 -->\\nold\"},"
		  "{\"issue_number\":9,\"user\":\"github-actions[bot]\",\"body\":\"<!-- prenv:marker app=shop env=pr-9 -->\\nbot\"},"
		  "{\"issue_number\":9,\"user\":\"mallory\",\"body\":\"<!-- prenv:marker app=shop env=pr-9 -->\\nfake\"}]}");
	gh_ctx(&c, gh.url, "acme", "dups", 9, SHA_A);
	assert_int_equal(0, upsert(&c, env_bot, m, SHA_A, "ready", 0, &r, NULL));
	assert_int_equal(CODEHOST_UPDATED, r.action);
	assert_int_equal(1, r.deleted);
	assert_int_equal(0, r.kept_foreign);
	cs = comments_of("acme/dups", 9);
	cJSON_ArrayForEach(it, cs) {
		const char *u = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(it, "user"), "login"));
		const char *b = cJSON_GetStringValue(cJSON_GetObjectItem(it, "body"));

		if (!strcmp(u, "alice")) {
			alice++;
			assert_non_null(strstr(b, "ready")); /* the oldest got our body */
		} else if (!strcmp(u, "mallory")) {
			assert_non_null(strstr(b, "fake"));  /* never touched */
		} else {
			bot++;
		}
	}
	assert_int_equal(1, alice);
	assert_int_equal(0, bot);
	cJSON_Delete(cs);
	all_valid(&gh);
}

static void test_codehost_github_older_sha_does_not_overwrite(void **state)
{
	const char *m = "<!-- prenv:marker app=shop env=pr-10 -->";
	struct prenv_context c;
	struct codehost_comment_result r;
	cJSON *cs;
	const char *b;

	(void)state;
	seed(&gh, "{\"repo\":\"acme/older\",\"pulls\":[{\"number\":10,\"head_sha\":\"" SHA_B "\","
		  "\"head_ref\":\"o\",\"base_ref\":\"main\",\"state\":\"open\",\"user\":\"alice\"}]}");
	gh_ctx(&c, gh.url, "acme", "older", 10, SHA_B);
	assert_int_equal(0, upsert(&c, env_bot, m, SHA_B, "ready", 0, &r, NULL));
	assert_int_equal(CODEHOST_CREATED, r.action);
	/* the job of the older commit A finishes later */
	c.sha = S(SHA_A);
	assert_int_equal(0, upsert(&c, env_bot, m, SHA_A, "failed", 0, &r, NULL));
	assert_int_equal(CODEHOST_SKIPPED, r.action);
	cs = comments_of("acme/older", 10);
	assert_int_equal(1, cJSON_GetArraySize(cs));
	b = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(cs, 0), "body"));
	assert_non_null(strstr(b, SHA_B));
	assert_non_null(strstr(b, "ready"));
	cJSON_Delete(cs);
	/* destroy (force) always writes */
	assert_int_equal(0, upsert(&c, env_bot, m, SHA_A, "destroyed", 0, &r, NULL));
	assert_int_equal(CODEHOST_UPDATED, r.action);
	all_valid(&gh);
}

/* Runs overlap: a run for an older commit never replaces what the comment
 * shows, even its own commit's earlier report or another older commit's,
 * because the head's run may have written in between (or may write before
 * this request lands); only the head's runs update it. */
static void test_codehost_github_older_run_never_updates(void **state)
{
	const char *m = "<!-- prenv:marker app=shop env=pr-17 -->";
	struct prenv_context c;
	struct codehost_comment_result r;
	long long id;
	cJSON *cs;

	(void)state;
	seed(&gh, "{\"repo\":\"acme/overlap\",\"pulls\":[{\"number\":17,\"head_sha\":\"" SHA_A "\","
		  "\"head_ref\":\"o\",\"base_ref\":\"main\",\"state\":\"open\",\"user\":\"alice\"}]}");
	gh_ctx(&c, gh.url, "acme", "overlap", 17, SHA_A);
	/* A, then the head, reports "deploying" */
	assert_int_equal(0, upsert(&c, env_bot, m, SHA_A, "deploying", 0, &r, NULL));
	assert_int_equal(CODEHOST_CREATED, r.action);
	id = r.id;
	/* B is pushed: the PR's head moves on while A's run still runs */
	seed(&gh, "{\"repo\":\"acme/overlap\",\"pulls\":[{\"number\":17,\"head_sha\":\"" SHA_B "\","
		  "\"head_ref\":\"o\",\"base_ref\":\"main\",\"state\":\"open\",\"user\":\"alice\"}]}");
	/* A's "ready": its own commit's comment, but A is no longer the head */
	assert_int_equal(0, upsert(&c, env_bot, m, SHA_A, "ready", id, &r, NULL));
	assert_int_equal(CODEHOST_SKIPPED, r.action);
	/* B's run reports */
	c.sha = S(SHA_B);
	assert_int_equal(0, upsert(&c, env_bot, m, SHA_B, "ready", id, &r, NULL));
	assert_int_equal(CODEHOST_UPDATED, r.action);
	cs = comments_of("acme/overlap", 17);
	assert_int_equal(1, cJSON_GetArraySize(cs));
	assert_non_null(strstr(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(cs, 0), "body")),
			       "sha=" SHA_B " -->\n### Preview - ready"));
	cJSON_Delete(cs);
	all_valid(&gh);
}

static void test_codehost_github_known_id_skips_listing(void **state)
{
	const char *m = "<!-- prenv:marker app=shop env=pr-11 -->";
	struct prenv_context c;
	struct codehost_comment_result r;
	unsigned long nreq = 0;
	long long id;

	(void)state;
	seed(&gh, "{\"repo\":\"acme/known\",\"pulls\":[{\"number\":11,\"head_sha\":\"" SHA_A "\","
		  "\"head_ref\":\"k\",\"base_ref\":\"main\",\"state\":\"open\",\"user\":\"alice\"}]}");
	gh_ctx(&c, gh.url, "acme", "known", 11, SHA_A);
	cJSON_Delete(admin_call(&gh, "DELETE", "/_test/requests", NULL));
	assert_int_equal(0, upsert(&c, env_bot, m, SHA_A, "deploying", 0, &r, &nreq));
	id = r.id;
	printf("# github first report: %lu requests (list + create + re-read)\n", nreq);
	assert_int_equal(3, nreq);
	cJSON_Delete(admin_call(&gh, "DELETE", "/_test/requests", NULL));
	assert_int_equal(0, upsert(&c, env_bot, m, SHA_A, "ready", id, &r, &nreq));
	assert_int_equal(CODEHOST_UPDATED, r.action);
	assert_true(r.id == id);
	printf("# github later report with a remembered comment id: %lu requests (get + PR head + patch)\n",
	       nreq);
	assert_int_equal(3, nreq);
	assert_int_equal(0, count_requests(&gh, "GET", "/issues/11/comments"));
	/* a remembered id that is gone falls back to listing */
	assert_int_equal(0, upsert(&c, env_bot, m, SHA_A, "ready", 2147483647LL + 999999, &r, &nreq));
	assert_true(r.id == id);
	assert_int_equal(1, count_requests(&gh, "GET", "/issues/11/comments"));
	all_valid(&gh);
}

static void test_codehost_github_faults_are_retried(void **state)
{
	const char *m = "<!-- prenv:marker app=shop env=pr-12 -->";
	struct prenv_context c;
	struct codehost_comment_result r;
	cJSON *cs, *f;

	(void)state;
	seed(&gh, "{\"repo\":\"acme/faults\",\"pulls\":[{\"number\":12,\"head_sha\":\"" SHA_A "\","
		  "\"head_ref\":\"f\",\"base_ref\":\"main\",\"state\":\"open\",\"user\":\"alice\"}]}");
	gh_ctx(&c, gh.url, "acme", "faults", 12, SHA_A);
	cJSON_Delete(admin_call(&gh, "DELETE", "/_test/faults", NULL));
	f = admin_call(&gh, "POST", "/_test/faults",
		       "[{\"status\":\"403rate\",\"count\":1,\"match\":\"GET /issues/12/comments\",\"reset_in\":2},"
		       "{\"status\":\"502\",\"count\":1,\"match\":\"POST /issues/12/comments\"},"
		       "{\"status\":\"429secondary\",\"count\":1,\"match\":\"PATCH /issues/comments\",\"retry_after\":1}]");
	cJSON_Delete(f);
	delays.calls = 0;
	assert_int_equal(0, upsert(&c, env_bot, m, SHA_A, "ready", 0, &r, NULL));
	assert_int_equal(CODEHOST_CREATED, r.action);
	assert_true(delays.calls >= 1); /* the rate-limit wait went through the hook */
	cs = comments_of("acme/faults", 12);
	assert_int_equal(1, count_marked(cs, m));
	cJSON_Delete(cs);
	/* the 502'd POST was not resent blindly: a list came between the two POSTs */
	assert_int_equal(2, count_requests(&gh, "POST", "/issues/12/comments"));
	/* an edit hit by a secondary rate limit is retried after Retry-After
	 * (setting the same body twice is harmless) */
	delays.calls = 0;
	assert_int_equal(0, upsert(&c, env_bot, m, SHA_A, "failed", 0, &r, NULL));
	assert_true(delays.calls >= 1);
	assert_int_equal(2, count_requests(&gh, "PATCH", "/faults/issues/comments/"));
	assert_int_equal(CODEHOST_UPDATED, r.action);
	f = admin_call(&gh, "GET", "/_test/faults", NULL);
	assert_int_equal(3, cJSON_GetArraySize(f));
	assert_int_equal(0, cJSON_GetObjectItem(cJSON_GetArrayItem(f, 0), "count")->valueint);
	assert_int_equal(0, cJSON_GetObjectItem(cJSON_GetArrayItem(f, 1), "count")->valueint);
	assert_int_equal(0, cJSON_GetObjectItem(cJSON_GetArrayItem(f, 2), "count")->valueint);
	cJSON_Delete(f);
	all_valid(&gh);
}

static void test_codehost_github_read_only_token_is_auth_error(void **state)
{
	static const char *const ro[] = { "GITHUB_ACTIONS=true", "GITHUB_TOKEN=ghp_ro", NULL };
	const char *m = "<!-- prenv:marker app=shop env=pr-13 -->";
	struct prenv_context c;
	struct codehost_comment_result r;

	(void)state;
	seed(&gh, "{\"repo\":\"acme/ro\",\"pulls\":[{\"number\":13,\"head_sha\":\"" SHA_A "\","
		  "\"head_ref\":\"f\",\"base_ref\":\"main\",\"state\":\"open\",\"user\":\"alice\"}]}");
	gh_ctx(&c, gh.url, "acme", "ro", 13, SHA_A);
	assert_int_equal(PRENV_EAUTH, upsert(&c, ro, m, SHA_A, "ready", 0, &r, NULL));
	all_valid(&gh);
}

static const cJSON *deployment_of(const cJSON *st, const char *env, int nth)
{
	const cJSON *d;

	cJSON_ArrayForEach(d, cJSON_GetObjectItem(st, "deployments")) {
		if (!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(d, "environment")), env) && nth-- == 0)
			return d;
	}
	return NULL;
}

static const char *latest_state(const cJSON *d)
{
	/* statuses come newest first */
	return cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(d, "statuses"), 0), "state"));
}

static void test_codehost_github_deployment_lifecycle(void **state)
{
	struct prenv_context c;
	struct codehost_deploy d;
	struct prenv_err err = PRENV_ERR_INIT;
	struct codehost *h;
	cJSON *st;
	const cJSON *dep, *s0;

	(void)state;
	seed(&gh, "{\"repo\":\"acme/dep\",\"pulls\":[{\"number\":14,\"head_sha\":\"" SHA_A "\","
		  "\"head_ref\":\"f\",\"base_ref\":\"main\",\"state\":\"open\",\"user\":\"alice\"}],"
		  "\"statuses\":[{\"sha\":\"" SHA_A "\",\"context\":\"ci/test\",\"state\":\"pending\"}]}");
	gh_ctx(&c, gh.url, "acme", "dep", 14, SHA_A);
	memset(&d, 0, sizeof(d));
	d.app = "shop";
	d.environment = "pr-14";
	d.sha = SHA_A;
	d.url = "https://pr-14.preview.example.com";
	d.log_url = "https://github.com/acme/dep/actions/runs/5";
	d.transient = 1;

	h = open_host(&c, env_bot);
	d.status = "deploying";
	assert_int_equal(0, codehost_deployment(h, &d, &err));
	d.status = "ready";
	assert_int_equal(0, codehost_deployment(h, &d, &err));
	assert_true(codehost_deployment_id(h) > 0);
	codehost_free(h);

	/* a second run (new process) deploys again, then a failure */
	h = open_host(&c, env_bot);
	d.status = "failed";
	d.reason = "pod crashed: \xc3\xa9" "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		   "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
	assert_int_equal(0, codehost_deployment(h, &d, &err));
	codehost_free(h);

	st = admin_call(&gh, "GET", "/_test/state", NULL);
	dep = deployment_of(st, "pr-14", 0);
	assert_non_null(dep);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(dep, "transient_environment")));
	assert_false(cJSON_IsTrue(cJSON_GetObjectItem(dep, "production_environment")));
	assert_string_equal(SHA_A, cJSON_GetStringValue(cJSON_GetObjectItem(dep, "sha")));
	assert_string_equal("success", latest_state(dep));
	assert_int_equal(2, cJSON_GetArraySize(cJSON_GetObjectItem(dep, "statuses")));
	s0 = cJSON_GetArrayItem(cJSON_GetObjectItem(dep, "statuses"), 0);
	assert_string_equal("https://pr-14.preview.example.com",
			    cJSON_GetStringValue(cJSON_GetObjectItem(s0, "environment_url")));
	assert_string_equal("https://github.com/acme/dep/actions/runs/5",
			    cJSON_GetStringValue(cJSON_GetObjectItem(s0, "log_url")));
	assert_string_equal("in_progress", cJSON_GetStringValue(cJSON_GetObjectItem(
		cJSON_GetArrayItem(cJSON_GetObjectItem(dep, "statuses"), 1), "state")));
	assert_string_equal("failure", latest_state(deployment_of(st, "pr-14", 1)));
	cJSON_Delete(st);

	/* destroy: every deployment of pr-14 becomes inactive */
	h = open_host(&c, env_bot);
	d.status = "destroyed";
	assert_int_equal(0, codehost_deployment(h, &d, &err));
	codehost_free(h);
	st = admin_call(&gh, "GET", "/_test/state", NULL);
	assert_string_equal("inactive", latest_state(deployment_of(st, "pr-14", 0)));
	assert_string_equal("inactive", latest_state(deployment_of(st, "pr-14", 1)));
	cJSON_Delete(st);
	/* a second destroy adds nothing */
	cJSON_Delete(admin_call(&gh, "DELETE", "/_test/requests", NULL));
	h = open_host(&c, env_bot);
	assert_int_equal(0, codehost_deployment(h, &d, &err));
	codehost_free(h);
	assert_int_equal(0, count_requests(&gh, "POST", "/statuses"));
	prenv_err_clear(&err);
	all_valid(&gh);
}

/* destroyed: every one of prenv's deployments of the environment for this
 * app becomes inactive, on every page (GitHub pages 100 at most, newest
 * first), and nothing else: other tools' deployments (no payload.tool, or
 * another) and other apps' stay as they were. */
static void test_codehost_github_destroy_pages_and_only_prenvs(void **state)
{
	struct prenv_buf js = PRENV_BUF_INIT;
	struct prenv_context c;
	struct codehost_deploy d;
	struct prenv_err err = PRENV_ERR_INIT;
	struct codehost *h;
	cJSON *st;
	const cJSON *dep;
	int i, ours = 0, others = 0, reqs;

	(void)state;
	prenv_buf_adds(&js, "{\"repo\":\"acme/many\",\"pulls\":[{\"number\":20,\"head_sha\":\"" SHA_A "\","
			    "\"head_ref\":\"f\",\"base_ref\":\"main\",\"state\":\"open\",\"user\":\"alice\"}],"
			    "\"deployments\":[");
	/* the oldest first: 110 of prenv's (the first ten past page one),
	 * with another tool's, one without a payload and another app's mixed in */
	for (i = 0; i < 120; i++) {
		const char *payload = i % 12 == 3 ? "{\"tool\":\"other-deployer\",\"app\":\"shop\"}"
				    : i % 12 == 7 ? "{}"
				    : i % 12 == 11 ? "{\"app\":\"api\",\"tool\":\"prenv\"}"
				    : "{\"app\":\"shop\",\"tool\":\"prenv\"}";

		prenv_buf_printf(&js, "%s{\"environment\":\"pr-20\",\"sha\":\"" SHA_A "\",\"transient\":true,"
				 "\"payload\":%s,\"statuses\":[\"in_progress\",\"success\"]}", i ? "," : "", payload);
	}
	prenv_buf_adds(&js, "]}");
	seed(&gh, js.ptr);
	prenv_buf_free(&js);
	gh_ctx(&c, gh.url, "acme", "many", 20, SHA_A);
	memset(&d, 0, sizeof(d));
	d.app = "shop";
	d.environment = "pr-20";
	d.status = "destroyed";
	cJSON_Delete(admin_call(&gh, "DELETE", "/_test/requests", NULL));
	h = open_host(&c, env_bot);
	assert_int_equal(0, codehost_deployment(h, &d, &err));
	codehost_free(h);
	reqs = all_valid(&gh);
	st = admin_call(&gh, "GET", "/_test/state", NULL);
	cJSON_ArrayForEach(dep, cJSON_GetObjectItem(st, "deployments")) {
		const cJSON *pl = cJSON_GetObjectItem(dep, "payload");
		int mine = !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(pl, "app")) ?
				   cJSON_GetStringValue(cJSON_GetObjectItem(pl, "app")) : "", "shop") &&
			   !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(pl, "tool")) ?
				   cJSON_GetStringValue(cJSON_GetObjectItem(pl, "tool")) : "", "prenv");

		if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(dep, "environment")), "pr-20"))
			continue;
		if (mine && !strcmp(latest_state(dep), "inactive"))
			ours++;
		else if (!mine && !strcmp(latest_state(dep), "success"))
			others++;
		else
			printf("# deployment %d (%s): %s\n", cJSON_GetObjectItem(dep, "id")->valueint,
			       mine ? "prenv's" : "not prenv's", latest_state(dep));
	}
	cJSON_Delete(st);
	printf("# destroy: %d of prenv's deployments inactive, %d others untouched, %d requests\n",
	       ours, others, reqs);
	assert_int_equal(90, ours);
	assert_int_equal(30, others);
	prenv_err_clear(&err);
	all_valid(&gh);
}

/* Jenkins with a GitHub Enterprise CHANGE_URL: ci.c derives <server>/api/v3. */
static void test_codehost_github_enterprise_api_v3(void **state)
{
	const char *m = "<!-- prenv:marker app=shop env=pr-15 -->";
	static const char *const jenk[] = { "JENKINS_URL=http://jenkins", "GITHUB_TOKEN=ghp_alice", NULL };
	struct prenv_context c;
	struct codehost_comment_result r;
	char api[96];
	cJSON *cs;

	(void)state;
	seed(&gh, "{\"repo\":\"acme/ghe\",\"pulls\":[{\"number\":15,\"head_sha\":\"" SHA_A "\","
		  "\"head_ref\":\"f\",\"base_ref\":\"main\",\"state\":\"open\",\"user\":\"alice\"}]}");
	snprintf(api, sizeof(api), "%s/api/v3", gh.url);
	gh_ctx(&c, api, "acme", "ghe", 15, SHA_A);
	c.ci = S("jenkins");
	assert_int_equal(0, upsert(&c, jenk, m, SHA_A, "ready", 0, &r, NULL));
	assert_int_equal(CODEHOST_CREATED, r.action);
	cs = comments_of("acme/ghe", 15);
	assert_int_equal(1, count_marked(cs, m));
	assert_string_equal("alice", cJSON_GetStringValue(cJSON_GetObjectItem(
		cJSON_GetObjectItem(cJSON_GetArrayItem(cs, 0), "user"), "login")));
	cJSON_Delete(cs);
	all_valid(&gh);
}

/* A personal token whose comments GitHub shows as CONTRIBUTOR (private
 * organisation membership) or without author_association: the token's own
 * login (GET /user) still makes them prenv's, so there is no duplicate. A
 * planted one by someone else with the same association is still ignored. */
static void test_codehost_github_own_comment_despite_association(void **state)
{
	static const char *const alice[] = { "GITHUB_TOKEN=ghp_alice", NULL };
	static const char *const repos[] = { "assoc1", "assoc2" };
	static const char *const assoc[] = { "\"CONTRIBUTOR\"", "null" };
	const char *m = "<!-- prenv:marker app=shop env=pr-16 -->";
	struct prenv_context c;
	struct codehost_comment_result r1, r2;
	char seedjs[800], full[32];
	cJSON *cs;
	int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		snprintf(seedjs, sizeof(seedjs),
			 "{\"repo\":\"acme/%s\",\"associations\":{\"alice\":%s,\"mallory\":%s},"
			 "\"pulls\":[{\"number\":16,\"head_sha\":\"" SHA_A "\",\"head_ref\":\"f\","
			 "\"base_ref\":\"main\",\"state\":\"open\",\"user\":\"alice\"}],"
			 "\"comments\":[{\"issue_number\":16,\"user\":\"mallory\",\"body\":\"%s\\nplanted\"}]}",
			 repos[i], assoc[i], assoc[i], m);
		seed(&gh, seedjs);
		gh_ctx(&c, gh.url, "acme", repos[i], 16, SHA_A);
		c.ci = S("jenkins");
		assert_int_equal(0, upsert(&c, alice, m, SHA_A, "deploying", 0, &r1, NULL));
		assert_int_equal(CODEHOST_CREATED, r1.action);
		assert_int_equal(0, upsert(&c, alice, m, SHA_A, "ready", 0, &r2, NULL));
		assert_int_equal(CODEHOST_UPDATED, r2.action);
		assert_true(r1.id == r2.id);
		snprintf(full, sizeof(full), "acme/%s", repos[i]);
		cs = comments_of(full, 16);
		assert_int_equal(2, count_marked(cs, m)); /* mallory's and ours */
		assert_non_null(strstr(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(cs, 0), "body")),
				       "planted"));
		cJSON_Delete(cs);
	}
	all_valid(&gh);
}

/* ---- GitLab ---- */

static void gl_ctx(struct prenv_context *c, const char *api, const char *project, long iid,
		   const char *sha)
{
	memset(c, 0, sizeof(*c));
	c->ci = S("gitlab");
	c->host = S("gitlab");
	c->api_url = S(api);
	c->project_id = S(project);
	c->has_pr = 1;
	c->pr_number = iid;
	c->sha = S(sha);
}

static int gl_marked_notes(const char *marker, int *total)
{
	cJSON *st = admin_call(&gl, "GET", "/_test/state", NULL);
	const cJSON *n;
	int k = 0;

	*total = 0;
	cJSON_ArrayForEach(n, cJSON_GetObjectItem(st, "notes")) {
		(*total)++;
		k += codehost_marker_matches(cJSON_GetStringValue(cJSON_GetObjectItem(n, "body")), marker);
	}
	cJSON_Delete(st);
	return k;
}

static void test_codehost_gitlab_pagination_250_notes(void **state)
{
	static const char *const env_gl[] = { "GITLAB_CI=true", "PRENV_GITLAB_TOKEN=glpat-rw", "CI_JOB_TOKEN=jobtok", NULL };
	const char *m = "<!-- prenv:marker app=shop env=pr-3 -->";
	struct prenv_buf s = PRENV_BUF_INIT;
	struct prenv_context c;
	struct codehost_comment_result r;
	char api[96];
	int i, total;

	(void)state;
	prenv_buf_adds(&s, "{\"project\":\"group/proj\",\"id\":42,\"merge_requests\":[{\"iid\":3,\"sha\":\"" SHA_A "\","
			   "\"source_branch\":\"feat\",\"target_branch\":\"main\",\"state\":\"opened\",\"author\":\"alice\"}],"
			   "\"notes\":[");
	for (i = 0; i < 250; i++)
		prenv_buf_printf(&s, "%s{\"mr_iid\":3,\"author\":\"carol\",\"body\":\"note %d\"}", i ? "," : "", i);
	/* a look-alike by someone else, quoted */
	prenv_buf_adds(&s, ",{\"mr_iid\":3,\"author\":\"carol\",\"body\":\"> <!-- prenv:marker app=shop env=pr-3 -->\"}]}");
	seed(&gl, s.ptr);
	prenv_buf_free(&s);
	snprintf(api, sizeof(api), "%s/api/v4", gl.url);
	gl_ctx(&c, api, "42", 3, SHA_A);
	cJSON_Delete(admin_call(&gl, "DELETE", "/_test/requests", NULL));
	assert_int_equal(0, upsert(&c, env_gl, m, SHA_A, "deploying", 0, &r, NULL));
	assert_int_equal(CODEHOST_CREATED, r.action);
	/* 251 notes at 100 a page: 3 pages before the POST, 3 after */
	assert_int_equal(6, count_requests(&gl, "GET", "/notes"));
	assert_int_equal(0, upsert(&c, env_gl, m, SHA_A, "ready", 0, &r, NULL));
	assert_int_equal(CODEHOST_UPDATED, r.action);
	assert_int_equal(1, gl_marked_notes(m, &total));
	assert_int_equal(252, total);
	assert_int_equal(0, all_valid(&gl) == 0);

	/* by path instead of id (Jenkins with a GitLab CHANGE_URL) */
	gl_ctx(&c, api, "group/proj", 3, SHA_A);
	c.project_id = NULL;
	c.repo_full_name = S("group/proj");
	c.ci = S("jenkins");
	assert_int_equal(0, upsert(&c, env_gl, m, SHA_A, "destroyed", 0, &r, NULL));
	assert_int_equal(CODEHOST_UPDATED, r.action);
	assert_int_equal(1, gl_marked_notes(m, &total));
	all_valid(&gl);
}

static void test_codehost_gitlab_older_sha_and_read_only(void **state)
{
	static const char *const env_gl[] = { "GITLAB_CI=true", "GITLAB_TOKEN=glpat-rw", NULL };
	static const char *const env_ro[] = { "GITLAB_CI=true", "GITLAB_TOKEN=glpat-ro", NULL };
	const char *m = "<!-- prenv:marker app=shop env=pr-4 -->";
	struct prenv_context c;
	struct codehost_comment_result r;
	char api[96];
	int total;

	(void)state;
	seed(&gl, "{\"project\":\"group/two\",\"id\":43,\"merge_requests\":[{\"iid\":4,\"sha\":\"" SHA_B "\","
		  "\"source_branch\":\"f\",\"target_branch\":\"main\",\"state\":\"opened\",\"author\":\"alice\"}]}");
	snprintf(api, sizeof(api), "%s/api/v4", gl.url);
	gl_ctx(&c, api, "43", 4, SHA_B);
	assert_int_equal(0, upsert(&c, env_gl, m, SHA_B, "ready", 0, &r, NULL));
	assert_int_equal(CODEHOST_CREATED, r.action);
	c.sha = S(SHA_A);
	assert_int_equal(0, upsert(&c, env_gl, m, SHA_A, "ready", 0, &r, NULL));
	assert_int_equal(CODEHOST_SKIPPED, r.action);
	assert_int_equal(PRENV_EAUTH, upsert(&c, env_ro, m, SHA_B, "failed", 0, &r, NULL));
	(void)gl_marked_notes(m, &total);
	all_valid(&gl);
}

/* A note planted with prenv's marker by someone else: GitLab lets only a
 * note's author edit it, so adopting it would fail forever (403). Only the
 * token's own notes (GET /user) are adopted; prenv posts its own. */
static void test_codehost_gitlab_planted_note_not_adopted(void **state)
{
	static const char *const env_gl[] = { "GITLAB_CI=true", "PRENV_GITLAB_TOKEN=glpat-rw", NULL };
	const char *m = "<!-- prenv:marker app=shop env=pr-5 -->";
	struct prenv_context c;
	struct codehost_comment_result r1, r2;
	char api[96];
	cJSON *st;
	const cJSON *n;
	int total, mallory = 0;

	(void)state;
	seed(&gl, "{\"project\":\"group/planted\",\"id\":45,\"merge_requests\":[{\"iid\":5,\"sha\":\"" SHA_A "\","
		  "\"source_branch\":\"f\",\"target_branch\":\"main\",\"state\":\"opened\",\"author\":\"alice\"}],"
		  "\"notes\":[{\"mr_iid\":5,\"author\":\"mallory\",\"body\":\"<!-- prenv:marker app=shop env=pr-5 -->\\nplanted\"}]}");
	snprintf(api, sizeof(api), "%s/api/v4", gl.url);
	gl_ctx(&c, api, "45", 5, SHA_A);
	assert_int_equal(0, upsert(&c, env_gl, m, SHA_A, "deploying", 0, &r1, NULL));
	assert_int_equal(CODEHOST_CREATED, r1.action);
	assert_int_equal(0, upsert(&c, env_gl, m, SHA_A, "ready", 0, &r2, NULL));
	assert_int_equal(CODEHOST_UPDATED, r2.action);
	assert_true(r1.id == r2.id);
	/* a remembered id that points at the planted note is not used either */
	st = admin_call(&gl, "GET", "/_test/state", NULL);
	cJSON_ArrayForEach(n, cJSON_GetObjectItem(st, "notes")) {
		const char *who = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(n, "author"), "username"));
		const char *b = cJSON_GetStringValue(cJSON_GetObjectItem(n, "body"));

		if (codehost_marker_matches(b, m) && !strcmp(who, "mallory")) {
			mallory++;
			assert_int_equal(0, upsert(&c, env_gl, m, SHA_A, "failed",
						   (long long)cJSON_GetNumberValue(cJSON_GetObjectItem(n, "id")), &r2, NULL));
			assert_true(r1.id == r2.id);
			assert_non_null(strstr(b, "planted"));
		}
	}
	cJSON_Delete(st);
	assert_int_equal(1, mallory);
	(void)gl_marked_notes(m, &total);
	assert_int_equal(2, count_requests(&gl, "PUT", "/merge_requests/5/notes/"));
	all_valid(&gl);
}

static void expect_state(struct codehost *h, long n, int rc, const char *want)
{
	struct prenv_err err = PRENV_ERR_INIT;
	char *st = NULL;

	assert_int_equal(rc, codehost_pr_state(h, n, &st, &err));
	if (want)
		assert_string_equal(want, st);
	else
		assert_null(st);
	free(st);
	prenv_err_clear(&err);
}

static void test_codehost_pr_state_github_and_gitlab(void **state)
{
	static const char *const env_gl[] = { "GITLAB_CI=true", "PRENV_GITLAB_TOKEN=glpat-rw", NULL };
	struct prenv_context c;
	struct codehost *h;
	char api[96];

	(void)state;
	seed(&gh, "{\"repo\":\"acme/states\",\"pulls\":["
		  "{\"number\":1,\"head_sha\":\"" SHA_A "\",\"head_ref\":\"a\",\"base_ref\":\"main\",\"state\":\"open\",\"user\":\"alice\"},"
		  "{\"number\":2,\"head_sha\":\"" SHA_A "\",\"head_ref\":\"b\",\"base_ref\":\"main\",\"state\":\"closed\",\"user\":\"alice\"},"
		  "{\"number\":3,\"head_sha\":\"" SHA_A "\",\"head_ref\":\"c\",\"base_ref\":\"main\",\"state\":\"closed\",\"merged\":true,\"user\":\"alice\"}]}");
	gh_ctx(&c, gh.url, "acme", "states", 0, SHA_A); /* a scheduled run: no PR of its own */
	h = open_host(&c, env_bot);
	expect_state(h, 1, 0, "open");
	expect_state(h, 2, 0, "closed");
	expect_state(h, 3, 0, "merged");
	expect_state(h, 99, PRENV_ENOTFOUND, NULL);
	assert_int_equal(1, count_requests(&gh, "GET", "/repos/acme/states/pulls/3"));
	codehost_free(h);
	all_valid(&gh);

	seed(&gl, "{\"project\":\"group/states\",\"id\":44,\"merge_requests\":["
		  "{\"iid\":1,\"sha\":\"" SHA_A "\",\"source_branch\":\"a\",\"target_branch\":\"main\",\"state\":\"opened\",\"author\":\"alice\"},"
		  "{\"iid\":2,\"sha\":\"" SHA_A "\",\"source_branch\":\"b\",\"target_branch\":\"main\",\"state\":\"closed\",\"author\":\"alice\"},"
		  "{\"iid\":3,\"sha\":\"" SHA_A "\",\"source_branch\":\"c\",\"target_branch\":\"main\",\"state\":\"merged\",\"author\":\"alice\"},"
		  "{\"iid\":4,\"sha\":\"" SHA_A "\",\"source_branch\":\"d\",\"target_branch\":\"main\",\"state\":\"locked\",\"author\":\"alice\"}]}");
	snprintf(api, sizeof(api), "%s/api/v4", gl.url);
	gl_ctx(&c, api, "44", 0, SHA_A);
	c.has_pr = 0;
	h = open_host(&c, env_gl);
	expect_state(h, 1, 0, "open");
	expect_state(h, 2, 0, "closed");
	expect_state(h, 3, 0, "merged");
	expect_state(h, 4, 0, "open");
	expect_state(h, 77, PRENV_ENOTFOUND, NULL);
	codehost_free(h);
	all_valid(&gl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_codehost_marker_matches_only_at_start),
		cmocka_unit_test(test_codehost_comment_sha_parses_second_line),
		cmocka_unit_test(test_codehost_reasons_not_posted),
		cmocka_unit_test(test_codehost_github_three_updates_one_comment),
		cmocka_unit_test(test_codehost_github_race_leaves_one_comment),
		cmocka_unit_test(test_codehost_github_duplicate_cleanup_by_author),
		cmocka_unit_test(test_codehost_github_older_sha_does_not_overwrite),
		cmocka_unit_test(test_codehost_github_older_run_never_updates),
		cmocka_unit_test(test_codehost_github_known_id_skips_listing),
		cmocka_unit_test(test_codehost_github_faults_are_retried),
		cmocka_unit_test(test_codehost_github_read_only_token_is_auth_error),
		cmocka_unit_test(test_codehost_github_deployment_lifecycle),
		cmocka_unit_test(test_codehost_github_destroy_pages_and_only_prenvs),
		cmocka_unit_test(test_codehost_github_enterprise_api_v3),
		cmocka_unit_test(test_codehost_github_own_comment_despite_association),
		cmocka_unit_test(test_codehost_gitlab_pagination_250_notes),
		cmocka_unit_test(test_codehost_gitlab_older_sha_and_read_only),
		cmocka_unit_test(test_codehost_gitlab_planted_note_not_adopted),
		cmocka_unit_test(test_codehost_pr_state_github_and_gitlab),
	};

	return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
