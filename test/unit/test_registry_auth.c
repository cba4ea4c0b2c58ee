/* test_registry_auth.c - what a registry asks for and which credentials
 * prenv gives it (resolve/registry_auth.c): WWW-Authenticate challenges
 * (a table, several challenges, several headers), base64, which names are
 * one registry, and the credentials found for a registry from variables and
 * config.json files in a temporary directory. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "resolve/registry_auth.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/log.h"

static int eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static void test_registry_challenge_table(void **state)
{
	static const struct {
		const char *in;
		int rc;
		enum registry_scheme scheme;
		const char *realm, *service, *scope;
	} cases[] = {
		{ "Basic realm=\"Registry Realm\"", 0, REGISTRY_AUTH_BASIC, "Registry Realm", NULL, NULL },
		{ "basic realm=reg", 0, REGISTRY_AUTH_BASIC, "reg", NULL, NULL },
		{ "Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
		  "scope=\"repository:library/nginx:pull\"", 0, REGISTRY_AUTH_BEARER,
		  "https://auth.docker.io/token", "registry.docker.io", "repository:library/nginx:pull" },
		{ "Bearer realm=\"https://ghcr.io/token\",service=\"ghcr.io\",scope=\"repository:a/b:pull\"",
		  0, REGISTRY_AUTH_BEARER, "https://ghcr.io/token", "ghcr.io", "repository:a/b:pull" },
		/* white space around '=' and ',', unquoted values, any order, case */
		{ "BEARER  Service = reg ,  REALM= \"http://127.0.0.1:1/t\" , error=\"invalid_token\"", 0,
		  REGISTRY_AUTH_BEARER, "http://127.0.0.1:1/t", "reg", NULL },
		/* quoted-pair escapes; commas inside quotes */
		{ "Bearer realm=\"https://a/t?x=1,y=\\\"2\\\"\",scope=\"repository:a:pull,push\"", 0,
		  REGISTRY_AUTH_BEARER, "https://a/t?x=1,y=\"2\"", NULL, "repository:a:pull,push" },
		/* several challenges: Bearer wins, whatever the order */
		{ "Basic realm=\"r\", Bearer realm=\"https://t/\",service=s", 0, REGISTRY_AUTH_BEARER,
		  "https://t/", "s", NULL },
		{ "Bearer realm=\"https://t/\", Basic realm=\"r\"", 0, REGISTRY_AUTH_BEARER, "https://t/",
		  NULL, NULL },
		{ "Negotiate, Basic realm=x", 0, REGISTRY_AUTH_BASIC, "x", NULL, NULL },
		{ "Negotiate abc123==, Basic realm=x", 0, REGISTRY_AUTH_BASIC, "x", NULL, NULL },
		{ "Negotiate a/b+c==", 0, REGISTRY_AUTH_OTHER, NULL, NULL, NULL },
		{ "Basic", 0, REGISTRY_AUTH_BASIC, NULL, NULL, NULL },
		/* the first realm of a challenge is kept */
		{ "Bearer realm=\"https://a/\",realm=\"https://evil/\"", 0, REGISTRY_AUTH_BEARER,
		  "https://a/", NULL, NULL },
		{ "", 0, REGISTRY_AUTH_NONE, NULL, NULL, NULL },
		/* not a challenge list */
		{ "realm=x", PRENV_EFAIL, REGISTRY_AUTH_NONE, NULL, NULL, NULL },
		{ "Bearer realm=\"https://a/", PRENV_EFAIL, REGISTRY_AUTH_NONE, NULL, NULL, NULL },
		/* "realm=" alone is a token68, not a realm */
		{ "Bearer realm=", 0, REGISTRY_AUTH_BEARER, NULL, NULL, NULL },
		{ "Bearer realm=\"a\" junk\"", PRENV_EFAIL, REGISTRY_AUTH_NONE, NULL, NULL, NULL },
		{ "=Bearer", PRENV_EFAIL, REGISTRY_AUTH_NONE, NULL, NULL, NULL },
	};
	size_t i, failed = 0;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct registry_challenge c = REGISTRY_CHALLENGE_INIT;
		int rc = registry_challenge_add(&c, cases[i].in);

		if (rc != cases[i].rc || c.scheme != cases[i].scheme || !eq(c.realm, cases[i].realm) ||
		    !eq(c.service, cases[i].service) || !eq(c.scope, cases[i].scope)) {
			printf("# %s: rc %d scheme %d realm %s service %s scope %s\n", cases[i].in, rc,
			       (int)c.scheme, c.realm ? c.realm : "-", c.service ? c.service : "-",
			       c.scope ? c.scope : "-");
			failed++;
		}
		registry_challenge_free(&c);
	}
	assert_int_equal(0, failed);
}

/* Two WWW-Authenticate headers: they add up, Bearer still wins. */
static void test_registry_challenge_two_headers(void **state)
{
	struct registry_challenge c = REGISTRY_CHALLENGE_INIT;

	(void)state;
	assert_int_equal(0, registry_challenge_add(&c, "Basic realm=\"r\""));
	assert_int_equal(REGISTRY_AUTH_BASIC, c.scheme);
	assert_int_equal(0, registry_challenge_add(&c, "Bearer realm=\"https://t/x\",service=\"y\""));
	assert_int_equal(REGISTRY_AUTH_BEARER, c.scheme);
	assert_string_equal("https://t/x", c.realm);
	/* a broken later header leaves what was found */
	assert_int_equal(PRENV_EFAIL, registry_challenge_add(&c, "Basic realm=\"open"));
	assert_int_equal(REGISTRY_AUTH_BEARER, c.scheme);
	assert_string_equal("y", c.service);
	registry_challenge_free(&c);
}

static void test_registry_base64(void **state)
{
	static const char *cases[][2] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
		{ "user:p@ss:w\xc3\xb6rd", "dXNlcjpwQHNzOnfDtnJk" },
		{ "Aladdin:open sesame", "QWxhZGRpbjpvcGVuIHNlc2FtZQ==" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct prenv_buf b = PRENV_BUF_INIT;

		assert_int_equal(0, registry_base64(&b, cases[i][0], strlen(cases[i][0])));
		assert_string_equal(cases[i][1], b.ptr);
		prenv_buf_free(&b);
	}
}

static void test_registry_same_host_table(void **state)
{
	static const struct {
		const char *a, *b;
		int want;
	} cases[] = {
		{ "ghcr.io", "ghcr.io", 1 },
		{ "GHCR.IO", "ghcr.io", 1 },
		{ "https://ghcr.io", "ghcr.io", 1 },
		{ "https://ghcr.io/v2/", "ghcr.io", 1 },
		{ "https://index.docker.io/v1/", "docker.io", 1 },
		{ "index.docker.io", "docker.io", 1 },
		{ "registry-1.docker.io", "docker.io", 1 },
		{ "127.0.0.1:5000", "127.0.0.1:5000", 1 },
		{ "http://127.0.0.1:5000", "127.0.0.1:5000", 1 },
		{ "127.0.0.1:5000", "127.0.0.1:5001", 0 },
		{ "127.0.0.1", "127.0.0.1:5000", 0 },
		{ "ghcr.io", "ghcr.io.evil.example", 0 },
		{ "ghcr.io", "evil.example/ghcr.io", 0 },
		{ "https://user@ghcr.io", "ghcr.io", 0 },
		{ "ghcr.io@evil.example", "ghcr.io", 0 },
		{ "", "", 0 },
		{ NULL, "ghcr.io", 0 },
	};
	size_t i, failed = 0;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (registry_same_host(cases[i].a, cases[i].b) != cases[i].want) {
			printf("# %s vs %s: want %d\n", cases[i].a ? cases[i].a : "(null)", cases[i].b,
			       cases[i].want);
			failed++;
		}
	assert_int_equal(0, failed);
}

/* ---- credentials ---- */

static char tmp[64];

static int make_tmp(void **state)
{
	(void)state;
	snprintf(tmp, sizeof tmp, "/tmp/prenv-regauth-XXXXXX");
	return mkdtemp(tmp) ? 0 : -1;
}

static int remove_tmp(void **state)
{
	(void)state;
	log_reset();
	return fs_rm_tree(tmp);
}

static void write_config(const char *dir, const char *json)
{
	char path[160];

	snprintf(path, sizeof path, "%s/%s", tmp, dir);
	assert_int_equal(0, fs_mkdir_p(path));
	snprintf(path, sizeof path, "%s/%s/config.json", tmp, dir);
	assert_int_equal(0, prenv_write_file(path, O_CREAT | O_TRUNC, 0600, json, strlen(json)));
}

#define MAXENV 8

struct cred_case {
	const char *env[MAXENV];   /* "DOCKER_CONFIG=@d" means tmp/d */
	const char *domain;
	int rc;
	const char *basic;         /* base64 user:password */
	const char *source;        /* a part of it */
};

/* QWxhZGRpbjpvcGVuIHNlc2FtZQ== is Aladdin:open sesame */
static const struct cred_case cred_cases[] = {
	/* PRENV_REGISTRY_*: only for PRENV_REGISTRY_HOST */
	{ { "PRENV_REGISTRY_HOST=ghcr.io", "PRENV_REGISTRY_USER=Aladdin",
	    "PRENV_REGISTRY_PASSWORD=open sesame" }, "ghcr.io", 1, "QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
	  "PRENV_REGISTRY_USER and PRENV_REGISTRY_PASSWORD" },
	{ { "PRENV_REGISTRY_HOST=https://ghcr.io/", "PRENV_REGISTRY_USER=Aladdin",
	    "PRENV_REGISTRY_PASSWORD=open sesame" }, "ghcr.io", 1, "QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
	  "PRENV_REGISTRY" },
	{ { "PRENV_REGISTRY_HOST=ghcr.io", "PRENV_REGISTRY_USER=Aladdin",
	    "PRENV_REGISTRY_PASSWORD=open sesame" }, "quay.io", 0, NULL, NULL },
	{ { "PRENV_REGISTRY_HOST=127.0.0.1:5000", "PRENV_REGISTRY_USER=Aladdin",
	    "PRENV_REGISTRY_PASSWORD=open sesame" }, "127.0.0.1:5001", 0, NULL, NULL },
	{ { "PRENV_REGISTRY_USER=Aladdin", "PRENV_REGISTRY_PASSWORD=open sesame" }, "ghcr.io", 0,
	  NULL, NULL },
	{ { "PRENV_REGISTRY_HOST=ghcr.io", "PRENV_REGISTRY_USER=Aladdin" }, "ghcr.io", 0, NULL, NULL },
	/* GitLab's registry variables: for CI_REGISTRY only */
	{ { "CI_REGISTRY=registry.gitlab.example:5050", "CI_REGISTRY_USER=gitlab-ci-token",
	    "CI_REGISTRY_PASSWORD=jt" }, "registry.gitlab.example:5050", 1,
	  "Z2l0bGFiLWNpLXRva2VuOmp0", "CI_REGISTRY_USER" },
	{ { "CI_REGISTRY=registry.gitlab.example:5050", "CI_REGISTRY_USER=gitlab-ci-token",
	    "CI_REGISTRY_PASSWORD=jt" }, "registry.gitlab.example", 0, NULL, NULL },
	/* PRENV_ first */
	{ { "CI_REGISTRY=ghcr.io", "CI_REGISTRY_USER=f", "CI_REGISTRY_PASSWORD=o",
	    "PRENV_REGISTRY_HOST=ghcr.io", "PRENV_REGISTRY_USER=Aladdin",
	    "PRENV_REGISTRY_PASSWORD=open sesame" }, "ghcr.io", 1, "QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
	  "PRENV_REGISTRY_USER" },
	/* config.json: $DOCKER_CONFIG, else ~/.docker */
	{ { "DOCKER_CONFIG=@dc" }, "127.0.0.1:5000", 1, "dTpw", "dc/config.json" },
	{ { "DOCKER_CONFIG=@dc" }, "127.0.0.1:5001", 0, NULL, NULL },
	{ { "DOCKER_CONFIG=@dc" }, "docker.io", 1, "aHViOmh1Yg==", "dc/config.json" },
	{ { "DOCKER_CONFIG=@dc" }, "ghcr.io", 1, "Z2g6c2VjcmV0", "dc/config.json" },
	{ { "DOCKER_CONFIG=@dc" }, "quay.io", 0, NULL, NULL },
	{ { "HOME=@home" }, "127.0.0.1:5000", 1, "aG9tZTpob21l", "home/.docker/config.json" },
	{ { "HOME=@home", "DOCKER_CONFIG=@dc" }, "127.0.0.1:5000", 1, "dTpw", "dc/config.json" },
	{ { "DOCKER_CONFIG=@missing" }, "127.0.0.1:5000", 0, NULL, NULL },
	{ { "DOCKER_CONFIG=@broken" }, "127.0.0.1:5000", PRENV_ECONFIG, NULL, "broken/config.json: not" },
	{ { "DOCKER_CONFIG=@inject" }, "ghcr.io", PRENV_ECONFIG, NULL, "is not base64" },
	{ { "DOCKER_CONFIG=@helper" }, "ghcr.io", 0, NULL, NULL },
	{ { NULL }, "ghcr.io", 0, NULL, NULL },
};

static void setup_configs(void)
{
	write_config("dc", "{\"auths\": {"
			   "\"127.0.0.1:5000\": {\"auth\": \"dTpw\"},"
			   "\"https://index.docker.io/v1/\": {\"auth\": \"aHViOmh1Yg==\"},"
			   "\"https://ghcr.io\": {\"username\": \"gh\", \"password\": \"secret\"},"
			   "\"quay.io\": {\"identitytoken\": \"x\"}}}");
	write_config("home/.docker", "{\"auths\": {\"127.0.0.1:5000\": {\"auth\": \"aG9tZTpob21l\"}}}");
	write_config("broken", "{\"auths\": ");
	write_config("inject", "{\"auths\": {\"ghcr.io\": {\"auth\": \"dTpw\\r\\nX-Evil: 1\"}}}");
	write_config("helper", "{\"auths\": {}, \"credsStore\": \"desktop\"}");
}

static void test_registry_cred_table(void **state)
{
	size_t i, j, failed = 0;

	(void)state;
	setup_configs();
	for (i = 0; i < sizeof(cred_cases) / sizeof(cred_cases[0]); i++) {
		const struct cred_case *k = &cred_cases[i];
		char envbuf[MAXENV][200];
		const char *envp[MAXENV + 1] = { NULL };
		struct registry_cred c = REGISTRY_CRED_INIT;
		struct prenv_err err = PRENV_ERR_INIT;
		const char *where;
		int rc;

		for (j = 0; j < MAXENV && k->env[j]; j++) {
			const char *at = strchr(k->env[j], '@');

			if (at)
				snprintf(envbuf[j], sizeof envbuf[j], "%.*s%s/%s", (int)(at - k->env[j]),
					 k->env[j], tmp, at + 1);
			else
				snprintf(envbuf[j], sizeof envbuf[j], "%s", k->env[j]);
			envp[j] = envbuf[j];
		}
		rc = registry_cred_find(&c, envp, k->domain, &err);
		where = rc < 0 ? err.msg : c.source;
		if (rc != k->rc || !eq(c.basic, k->basic) ||
		    (k->source && (!where || !strstr(where, k->source)))) {
			printf("# case %zu (%s): rc %d basic %s source %s\n", i, k->domain, rc,
			       c.basic ? c.basic : "-", where ? where : "-");
			failed++;
		}
		registry_cred_free(&c);
		prenv_err_clear(&err);
	}
	assert_int_equal(0, failed);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry_challenge_table),
		cmocka_unit_test(test_registry_challenge_two_headers),
		cmocka_unit_test(test_registry_base64),
		cmocka_unit_test(test_registry_same_host_table),
		cmocka_unit_test_setup_teardown(test_registry_cred_table, make_tmp, remove_tmp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
