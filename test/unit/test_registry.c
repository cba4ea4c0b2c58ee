/* test_registry.c - the image check's client (resolve/registry.c) against
 * the real docker-registry (the CNCF distribution registry), started by
 * test/servers/registry.py four times on 127.0.0.1: anonymous, with Basic
 * auth (htpasswd), and with token auth (the Bearer flow, with a token
 * service that signs JWTs the registry trusts; once for users only, once
 * giving anyone pull). Each is stopped by its PID.
 *
 * Found and pinned to the registry's digest, missing, waiting between looks,
 * the fallback, and every way credentials can be missing, wrong, or meant
 * for another registry; the Bearer token is reused for later looks.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "resolve/image.h"
#include "resolve/registry.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/http.h"
#include "util/log.h"

extern char **environ;

enum { ANON, BASIC, TOKEN, TOKEN_ANON, NSERVERS };

static struct server {
	const char *auth;
	const char *push;
	pid_t pid;
	char host[64];
	char digest[80];
} servers[NSERVERS] = {
	{ "none", "web:v1", -1, "", "" },
	{ "basic", "team/web:v1", -1, "", "" },
	{ "token", "web:v1", -1, "", "" },
	{ "token-anonymous", "library/web:v1", -1, "", "" },
};

static char tmp[64];

static int spawn(struct server *s, const char *info)
{
	const char *py = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
	char *argv[] = { (char *)py, (char *)"test/servers/registry.py", (char *)"serve",
			 (char *)"--auth", (char *)s->auth, (char *)"--user",
			 (char *)"alice:s3cret", (char *)"--push", (char *)s->push,
			 (char *)"--info", (char *)info, NULL };

	return posix_spawnp(&s->pid, py, NULL, NULL, argv, environ) ? -1 : 0;
}

/* Waits for the info file of s and reads its host and digest. */
static int read_info(struct server *s, const char *info)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	double end = fs_now_ms() + 60000;
	cJSON *j = NULL;
	int ok = 0;

	while (fs_now_ms() < end && prenv_buf_read_file(&b, info) < 0) {
		struct timespec ts = { 0, 50000000L };

		if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
			s->pid = -1;
			break;
		}
		nanosleep(&ts, NULL);
	}
	j = cJSON_Parse(b.ptr);
	if (cJSON_IsString(cJSON_GetObjectItem(j, "host"))) {
		snprintf(s->host, sizeof s->host, "%s", cJSON_GetObjectItem(j, "host")->valuestring);
		snprintf(s->digest, sizeof s->digest, "%s",
			 cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "digests"),
								  s->push)));
		ok = 1;
	}
	cJSON_Delete(j);
	prenv_buf_free(&b);
	return ok ? 0 : -1;
}

static int stop_servers(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NSERVERS; i++)
		if (servers[i].pid > 0) {
			kill(servers[i].pid, SIGTERM);
			waitpid(servers[i].pid, NULL, 0);
			servers[i].pid = -1;
		}
	log_reset();
	return tmp[0] ? fs_rm_tree(tmp) : 0;
}

static int start_servers(void **state)
{
	char info[NSERVERS][96];
	size_t i;

	snprintf(tmp, sizeof tmp, "/tmp/prenv-registry-XXXXXX");
	if (!mkdtemp(tmp))
		return -1;
	for (i = 0; i < NSERVERS; i++) {
		snprintf(info[i], sizeof info[i], "%s/info-%zu.json", tmp, i);
		if (spawn(&servers[i], info[i]) < 0)
			return stop_servers(state), -1;
	}
	for (i = 0; i < NSERVERS; i++)
		if (read_info(&servers[i], info[i]) < 0) {
			fprintf(stderr, "test_registry: registry.py serve --auth %s did not start "
					"(is docker-registry installed? make deps)\n", servers[i].auth);
			stop_servers(state);
			return -1;
		}
	return 0;
}

/* ---- helpers ---- */

struct run {
	struct http_client *http;
	struct registry *reg;
	struct prenv_err err;
	char env[4][300];
	const char *envp[5];
};

static void run_open(struct run *r, const char *e0, const char *e1, const char *e2)
{
	const char *e[3] = { e0, e1, e2 };
	struct registry_opts o;
	size_t i, n = 0;

	memset(r, 0, sizeof(*r));
	for (i = 0; i < 3; i++)
		if (e[i]) {
			snprintf(r->env[n], sizeof r->env[n], "%s", e[i]);
			r->envp[n] = r->env[n];
			n++;
		}
	o = (struct registry_opts){ .envp = r->envp, .poll_first_ms = 200, .poll_max_ms = 400 };
	assert_int_equal(0, http_client_new(&r->http, NULL, &r->err));
	assert_int_equal(0, registry_new(&r->reg, r->http, &o, &r->err));
}

static void run_close(struct run *r)
{
	registry_free(r->reg);
	http_client_free(r->http);
	prenv_err_clear(&r->err);
}

static int resolve(struct run *r, const char *image, long wait_ms, const char *fallback,
		   struct registry_result *res)
{
	struct registry_check chk = { .image = image, .wait_ms = wait_ms, .fallback = fallback,
				      .what = "service web" };

	return registry_resolve(r->reg, &chk, fs_now_ms(), res, &r->err);
}

static char *image(const struct server *s, const char *rest)
{
	static char buf[4][200];
	static int k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof buf[k], "%s/%s", s->host, rest);
	return buf[k];
}

/* ---- anonymous ---- */

static void test_registry_found_and_pinned(void **state)
{
	struct server *s = &servers[ANON];
	struct registry_result res = REGISTRY_RESULT_INIT;
	struct run r;
	char want[300];

	(void)state;
	run_open(&r, NULL, NULL, NULL);
	assert_int_equal(0, resolve(&r, image(s, "web:v1"), 0, NULL, &res));
	snprintf(want, sizeof want, "%s/web:v1@%s", s->host, s->digest);
	assert_string_equal(want, res.image);
	assert_string_equal(s->digest, res.digest);
	assert_int_equal(0, res.fell_back);
	assert_int_equal(1, res.looks);
	assert_int_equal(1, (int)http_client_request_count(r.http));
	registry_result_free(&res);
	/* a reference by digest is found and stays as it is */
	snprintf(want, sizeof want, "%s/web@%s", s->host, s->digest);
	assert_int_equal(0, resolve(&r, want, 0, NULL, &res));
	assert_string_equal(want, res.image);
	registry_result_free(&res);
	run_close(&r);
}

static void test_registry_missing_fails(void **state)
{
	struct server *s = &servers[ANON];
	struct registry_result res = REGISTRY_RESULT_INIT;
	struct image_ref ref = IMAGE_REF_INIT;
	char *digest = (char *)"x";
	struct run r;

	(void)state;
	run_open(&r, NULL, NULL, NULL);
	assert_int_equal(0, image_ref_parse(&ref, image(s, "web:nope"), NULL));
	assert_int_equal(0, registry_manifest(r.reg, &ref, &digest, &r.err));
	assert_null(digest);
	image_ref_free(&ref);
	assert_int_equal(0, image_ref_parse(&ref, image(s, "nothing/here:v1"), NULL));
	assert_int_equal(0, registry_manifest(r.reg, &ref, NULL, &r.err));
	image_ref_free(&ref);
	assert_int_equal(PRENV_EFAIL, resolve(&r, image(s, "web:nope"), 0, NULL, &res));
	assert_non_null(strstr(r.err.msg, "service web: image 127.0.0.1:"));
	assert_non_null(strstr(r.err.msg, "is not in registry"));
	assert_non_null(strstr(r.err.msg, "on_missing: production"));
	assert_null(res.image);
	run_close(&r);
}

/* Waits, looking again and again (200 ms, then 400 ms), until the end. */
static void test_registry_waits_then_fails(void **state)
{
	struct server *s = &servers[ANON];
	struct registry_result res = REGISTRY_RESULT_INIT;
	struct run r;
	double t0 = fs_now_ms(), took;

	(void)state;
	run_open(&r, NULL, NULL, NULL);
	assert_int_equal(PRENV_EFAIL, resolve(&r, image(s, "web:later"), 1500, NULL, &res));
	took = fs_now_ms() - t0;
	assert_true(took >= 1500 && took < 5000);
	assert_true(res.looks >= 4 && res.looks <= 7);
	assert_non_null(strstr(r.err.msg, "after waiting 1.5s"));
	printf("# %d looks in %.0f ms\n", res.looks, took);
	run_close(&r);
}

static void test_registry_fallback(void **state)
{
	struct registry_result res = REGISTRY_RESULT_INIT;
	struct server *s = &servers[ANON];
	struct run r;

	(void)state;
	run_open(&r, NULL, NULL, NULL);
	assert_int_equal(0, resolve(&r, image(s, "web:feature"), 0, image(s, "web:v1"), &res));
	assert_non_null(strstr(res.image, "/web:v1@"));
	assert_string_equal(s->digest, strchr(res.image, '@') + 1);
	assert_int_equal(1, res.fell_back);
	registry_result_free(&res);
	/* a missing fallback fails, naming both */
	assert_int_equal(PRENV_EFAIL, resolve(&r, image(s, "web:feature"), 0, image(s, "web:v0"), &res));
	assert_non_null(strstr(r.err.msg, "neither is the production image"));
	assert_non_null(strstr(r.err.msg, "web:v0"));
	run_close(&r);
}

/* ---- Basic ---- */

static void test_registry_basic(void **state)
{
	struct server *s = &servers[BASIC];
	struct registry_result res = REGISTRY_RESULT_INIT;
	char host[100], other[100];
	struct run r;

	(void)state;
	snprintf(host, sizeof host, "PRENV_REGISTRY_HOST=%s", s->host);
	/* no credentials */
	run_open(&r, NULL, NULL, NULL);
	assert_int_equal(PRENV_EAUTH, resolve(&r, image(s, "team/web:v1"), 0, NULL, &res));
	assert_non_null(strstr(r.err.msg, "asks for credentials to read team/web and prenv has none"));
	run_close(&r);
	/* credentials for another registry (another port) are not used */
	snprintf(other, sizeof other, "PRENV_REGISTRY_HOST=127.0.0.1:1");
	run_open(&r, other, "PRENV_REGISTRY_USER=alice", "PRENV_REGISTRY_PASSWORD=s3cret");
	assert_int_equal(PRENV_EAUTH, resolve(&r, image(s, "team/web:v1"), 0, NULL, &res));
	assert_non_null(strstr(r.err.msg, "prenv has none"));
	run_close(&r);
	/* wrong ones */
	run_open(&r, host, "PRENV_REGISTRY_USER=alice", "PRENV_REGISTRY_PASSWORD=wrong");
	assert_int_equal(PRENV_EAUTH, resolve(&r, image(s, "team/web:v1"), 0, NULL, &res));
	assert_non_null(strstr(r.err.msg, "refused the credentials from PRENV_REGISTRY_USER and "
					  "PRENV_REGISTRY_PASSWORD"));
	assert_null(strstr(r.err.msg, "wrong"));
	run_close(&r);
	/* right ones; the second look sends them at once (one request) */
	run_open(&r, host, "PRENV_REGISTRY_USER=alice", "PRENV_REGISTRY_PASSWORD=s3cret");
	assert_int_equal(0, resolve(&r, image(s, "team/web:v1"), 0, NULL, &res));
	assert_non_null(strstr(res.image, s->digest));
	assert_int_equal(2, (int)http_client_request_count(r.http));
	registry_result_free(&res);
	assert_int_equal(0, resolve(&r, image(s, "team/web:v1"), 0, NULL, &res));
	assert_int_equal(3, (int)http_client_request_count(r.http));
	registry_result_free(&res);
	assert_int_equal(PRENV_EFAIL, resolve(&r, image(s, "team/web:v2"), 0, NULL, &res));
	run_close(&r);
}

/* ---- Bearer (token auth) ---- */

static void write_docker_config(const char *host, const char *auth)
{
	char path[160], json[300];

	snprintf(path, sizeof path, "%s/docker", tmp);
	assert_int_equal(0, fs_mkdir_p(path));
	snprintf(path, sizeof path, "%s/docker/config.json", tmp);
	snprintf(json, sizeof json, "{\"auths\": {\"%s\": {\"auth\": \"%s\"}}}", host, auth);
	assert_int_equal(0, prenv_write_file(path, O_CREAT | O_TRUNC, 0600, json, strlen(json)));
}

static void test_registry_bearer(void **state)
{
	struct server *s = &servers[TOKEN];
	struct registry_result res = REGISTRY_RESULT_INIT;
	char dc[120];
	struct run r;

	(void)state;
	snprintf(dc, sizeof dc, "DOCKER_CONFIG=%s/docker", tmp);
	/* anonymous: the token service refuses */
	run_open(&r, NULL, NULL, NULL);
	assert_int_equal(PRENV_EAUTH, resolve(&r, image(s, "web:v1"), 0, NULL, &res));
	assert_non_null(strstr(r.err.msg, "refuses anonymous access to web"));
	run_close(&r);
	/* wrong credentials (alice:wrong) */
	write_docker_config(s->host, "YWxpY2U6d3Jvbmc=");
	run_open(&r, dc, NULL, NULL);
	assert_int_equal(PRENV_EAUTH, resolve(&r, image(s, "web:v1"), 0, NULL, &res));
	assert_non_null(strstr(r.err.msg, "refused the credentials from"));
	assert_non_null(strstr(r.err.msg, "docker/config.json"));
	run_close(&r);
	/* alice:s3cret: HEAD 401, GET token, HEAD 200; then the token is reused */
	write_docker_config(s->host, "YWxpY2U6czNjcmV0");
	run_open(&r, dc, NULL, NULL);
	assert_int_equal(0, resolve(&r, image(s, "web:v1"), 0, NULL, &res));
	assert_non_null(strstr(res.image, s->digest));
	assert_int_equal(3, (int)http_client_request_count(r.http));
	registry_result_free(&res);
	assert_int_equal(PRENV_EFAIL, resolve(&r, image(s, "web:v2"), 0, NULL, &res));
	assert_int_equal(4, (int)http_client_request_count(r.http));
	run_close(&r);
	/* the credentials of another registry are not used */
	write_docker_config("127.0.0.1:1", "YWxpY2U6czNjcmV0");
	run_open(&r, dc, NULL, NULL);
	assert_int_equal(PRENV_EAUTH, resolve(&r, image(s, "web:v1"), 0, NULL, &res));
	assert_non_null(strstr(r.err.msg, "anonymous"));
	run_close(&r);
}

/* A public repository behind the token flow (Docker Hub's library/ images):
 * an anonymous token, no credentials anywhere. */
static void test_registry_bearer_anonymous(void **state)
{
	struct server *s = &servers[TOKEN_ANON];
	struct registry_result res = REGISTRY_RESULT_INIT;
	struct run r;

	(void)state;
	run_open(&r, NULL, NULL, NULL);
	assert_int_equal(0, resolve(&r, image(s, "library/web:v1"), 0, NULL, &res));
	assert_string_equal(s->digest, res.digest);
	assert_int_equal(3, (int)http_client_request_count(r.http));
	registry_result_free(&res);
	run_close(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry_found_and_pinned),
		cmocka_unit_test(test_registry_missing_fails),
		cmocka_unit_test(test_registry_waits_then_fails),
		cmocka_unit_test(test_registry_fallback),
		cmocka_unit_test(test_registry_basic),
		cmocka_unit_test(test_registry_bearer),
		cmocka_unit_test(test_registry_bearer_anonymous),
	};

	return cmocka_run_group_tests(tests, start_servers, stop_servers);
}
