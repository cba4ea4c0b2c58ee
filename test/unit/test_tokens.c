/* test_tokens.c - which token may be sent to which host (context/tokens.c).
 * Pure, from tables: the decision for one variable and a URL, the pick of
 * the first usable token, and what counts as loopback. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "context/ci.h"
#include "context/tokens.h"
#include "util/buf.h"

#define S(s) ((char *)(uintptr_t)(s))

enum ctx_kind { CTX_NONE, CTX_GITHUB, CTX_GITLAB, CTX_GHE_JENKINS };

static void make_ctx(struct prenv_context *c, enum ctx_kind k)
{
	memset(c, 0, sizeof(*c));
	switch (k) {
	case CTX_GITHUB:
		c->ci = S("github");
		c->host = S("github");
		c->server_url = S("https://github.com");
		c->api_url = S("https://api.github.com");
		break;
	case CTX_GITLAB:
		c->ci = S("gitlab");
		c->host = S("gitlab");
		c->server_url = S("https://gitlab.corp.example");
		c->api_url = S("https://gitlab.corp.example/api/v4");
		break;
	case CTX_GHE_JENKINS: /* from CHANGE_URL https://ghe.corp.example/o/r/pull/5 */
		c->ci = S("jenkins");
		c->host = S("github");
		c->server_url = S("https://ghe.corp.example");
		c->api_url = S("https://ghe.corp.example/api/v3");
		break;
	default:
		c->ci = S("local");
		break;
	}
}

struct allow_case {
	enum ctx_kind ctx;
	const char *env[4];
	const char *var;
	const char *url;
	int want;
	const char *why; /* a part of the reason when refused */
};

#define GHA "GITHUB_ACTIONS=true"
#define GLCI "CI_SERVER_URL=https://gitlab.corp.example"

static const struct allow_case allow_cases[] = {
	/* GitHub's tokens: the GitHub server and its API only */
	{ CTX_GITHUB, { GHA }, "GITHUB_TOKEN", "https://github.com/acme/site.git", 1, NULL },
	{ CTX_GITHUB, { GHA }, "GITHUB_TOKEN", "https://api.github.com/repos/acme/site", 1, NULL },
	{ CTX_GITHUB, { GHA }, "GITHUB_TOKEN", "https://GitHub.COM:443/acme/site.git", 1, NULL },
	{ CTX_GITHUB, { GHA }, "GITHUB_TOKEN", "https://x-access-token@github.com/acme/site.git", 1, NULL },
	{ CTX_GITHUB, { GHA }, "PRENV_GITHUB_TOKEN", "https://github.com/a/b", 1, NULL },
	{ CTX_GITHUB, { GHA }, "GH_TOKEN", "https://github.com/a/b", 1, NULL },
	{ CTX_GITHUB, { GHA }, "GITHUB_TOKEN", "https://gitlab.com/acme/site.git", 0,
	  "GITHUB_TOKEN belongs to the GitHub server github.com, not gitlab.com" },
	{ CTX_GITHUB, { GHA }, "GITHUB_TOKEN", "https://evil.example/acme/site.git", 0, "not evil.example" },
	{ CTX_GITHUB, { GHA }, "GITHUB_TOKEN", "https://github.com.evil.example/a/b", 0, "belongs to" },
	{ CTX_GITHUB, { GHA }, "GITHUB_TOKEN", "https://github.com@evil.example/a/b", 0, "not evil.example" },
	{ CTX_GITHUB, { GHA }, "GITHUB_TOKEN", "https://a@b@github.com/a/b", 0, "not https" },
	{ CTX_GITHUB, { GHA }, "GITHUB_TOKEN", "https://github.com:8443/a/b", 0, "not github.com:8443" },
	{ CTX_GITHUB, { GHA }, "GITHUB_TOKEN", "https://github.com\\@evil.example/a", 0, "not evil.example" },
	{ CTX_GITHUB, { GHA }, "GITHUB_TOKEN", "http://github.com/acme/site.git", 0,
	  "not sent over plain http:// to github.com" },
	{ CTX_GITHUB, { GHA }, "GITHUB_TOKEN", "git@github.com:acme/site.git", 0, "not https" },
	{ CTX_GITHUB, { GHA }, "GITHUB_TOKEN", "ssh://git@github.com/acme/site.git", 0, "not https" },
	{ CTX_GITHUB, { GHA }, "GITHUB_TOKEN", "file:///srv/site.git", 0, "not https" },
	{ CTX_GITHUB, { GHA }, "GITHUB_TOKEN", "/srv/site.git", 0, "not https" },
	{ CTX_GITHUB, { GHA }, "GITHUB_TOKEN", NULL, 0, "not https" },
	/* ... GitLab's tokens never go to GitHub */
	{ CTX_GITHUB, { GHA }, "GITLAB_TOKEN", "https://github.com/a/b", 0, "the GitLab server gitlab.com" },
	{ CTX_GITHUB, { GHA }, "GITLAB_TOKEN", "https://gitlab.com/a/b", 1, NULL },
	/* GitHub Enterprise: the server the CI names */
	{ CTX_NONE, { "GITHUB_SERVER_URL=https://ghe.corp.example" }, "GITHUB_TOKEN",
	  "https://ghe.corp.example/o/r.git", 1, NULL },
	{ CTX_NONE, { "GITHUB_SERVER_URL=https://ghe.corp.example" }, "GITHUB_TOKEN",
	  "https://github.com/o/r.git", 0, "ghe.corp.example, not github.com" },
	{ CTX_GHE_JENKINS, { NULL }, "GITHUB_TOKEN", "https://ghe.corp.example/api/v3/repos/o/r", 1, NULL },
	{ CTX_GHE_JENKINS, { NULL }, "GITHUB_TOKEN", "https://github.com/o/r", 0, "belongs to" },
	/* GitLab CI: the job token and GitLab tokens go to CI_SERVER_URL only */
	{ CTX_GITLAB, { GLCI }, "CI_JOB_TOKEN", "https://gitlab.corp.example/g/site.git", 1, NULL },
	{ CTX_GITLAB, { GLCI }, "CI_JOB_TOKEN", "https://gitlab.corp.example/api/v4/projects/1", 1, NULL },
	{ CTX_GITLAB, { GLCI }, "CI_JOB_TOKEN", "https://evil.example/g/site.git", 0,
	  "CI_JOB_TOKEN belongs to the GitLab server gitlab.corp.example, not evil.example" },
	{ CTX_GITLAB, { GLCI }, "CI_JOB_TOKEN", "https://gitlab.com/g/site.git", 0, "not gitlab.com" },
	{ CTX_GITLAB, { GLCI }, "CI_JOB_TOKEN", "https://github.com/g/site.git", 0, "belongs to" },
	{ CTX_GITLAB, { GLCI }, "GITLAB_TOKEN", "http://gitlab.corp.example/g/site.git", 0, "plain http" },
	{ CTX_GITLAB, { GLCI }, "GITHUB_TOKEN", "https://gitlab.corp.example/g/site.git", 0, "GitHub server" },
	{ CTX_GITLAB, { GLCI }, "GITHUB_TOKEN", "https://github.com/o/site.git", 1, NULL },
	/* a GitLab served over plain http: still no token over http */
	{ CTX_NONE, { "CI_SERVER_URL=http://gitlab.lan" }, "CI_JOB_TOKEN", "http://gitlab.lan/g/p.git", 0,
	  "not sent over plain http:// to gitlab.lan: use https://" },
	/* PRENV_GIT_TOKEN: only to PRENV_GIT_TOKEN_HOST */
	{ CTX_GITHUB, { GHA }, "PRENV_GIT_TOKEN", "https://git.example.com/site.git", 0, "PRENV_GIT_TOKEN_HOST" },
	{ CTX_NONE, { "PRENV_GIT_TOKEN_HOST=git.example.com" }, "PRENV_GIT_TOKEN",
	  "https://git.example.com/site.git", 1, NULL },
	{ CTX_NONE, { "PRENV_GIT_TOKEN_HOST=Git.Example.com:443" }, "PRENV_GIT_TOKEN",
	  "https://git.example.com:443/site.git", 1, NULL },
	{ CTX_NONE, { "PRENV_GIT_TOKEN_HOST=git.example.com" }, "PRENV_GIT_TOKEN",
	  "https://git.example.com:8443/site.git", 0, "not git.example.com:8443" },
	{ CTX_NONE, { "PRENV_GIT_TOKEN_HOST=git.example.com" }, "PRENV_GIT_TOKEN",
	  "https://other.example.com/site.git", 0, "PRENV_GIT_TOKEN_HOST git.example.com, not other" },
	{ CTX_NONE, { "PRENV_GIT_TOKEN_HOST=git.example.com" }, "PRENV_GIT_TOKEN",
	  "http://git.example.com/site.git", 0, "plain http" },
	{ CTX_NONE, { "PRENV_GIT_TOKEN_HOST=https://git.example.com:8443/" }, "PRENV_GIT_TOKEN",
	  "https://git.example.com:8443/site.git", 1, NULL },
	{ CTX_NONE, { "PRENV_GIT_TOKEN_HOST=git.example.com" }, "GITHUB_TOKEN",
	  "https://git.example.com/site.git", 0, "belongs to" },
	/* plain http: loopback only (the tests' servers) */
	{ CTX_NONE, { "GITHUB_SERVER_URL=http://127.0.0.1:8080" }, "GITHUB_TOKEN",
	  "http://127.0.0.1:8080/site.git", 1, NULL },
	{ CTX_NONE, { "GITHUB_SERVER_URL=http://127.0.0.1:8080" }, "GITHUB_TOKEN",
	  "http://127.0.0.1:8081/site.git", 0, "not 127.0.0.1:8081" },
	{ CTX_NONE, { "GITHUB_SERVER_URL=http://127.0.0.1:8080" }, "GITHUB_TOKEN",
	  "http://localhost:8080/site.git", 0, "not localhost:8080" },
	{ CTX_NONE, { "CI_SERVER_URL=http://localhost:9000" }, "CI_JOB_TOKEN", "http://LOCALHOST:9000/g/p", 1, NULL },
	{ CTX_NONE, { "PRENV_GIT_TOKEN_HOST=[::1]:9000" }, "PRENV_GIT_TOKEN", "http://[::1]:9000/p.git", 1, NULL },
	{ CTX_NONE, { "PRENV_GIT_TOKEN_HOST=127.9.8.7" }, "PRENV_GIT_TOKEN", "http://127.9.8.7/p.git", 1, NULL },
	{ CTX_NONE, { "PRENV_GIT_TOKEN_HOST=127.0.0.1.nip.io" }, "PRENV_GIT_TOKEN",
	  "http://127.0.0.1.nip.io/p.git", 0, "plain http" },
	{ CTX_NONE, { "PRENV_GIT_TOKEN_HOST=localhost.evil.example" }, "PRENV_GIT_TOKEN",
	  "http://localhost.evil.example/p.git", 0, "plain http" },
	{ CTX_NONE, { "PRENV_GIT_TOKEN_HOST=10.0.0.1:80" }, "PRENV_GIT_TOKEN", "http://10.0.0.1/p.git", 0,
	  "plain http" },
	/* not a token prenv knows */
	{ CTX_GITHUB, { GHA }, "AWS_SECRET_ACCESS_KEY", "https://github.com/a/b", 0, "not a token" },
};

static void test_tokens_allowed_table(void **state)
{
	size_t i, failed = 0;

	(void)state;
	for (i = 0; i < sizeof(allow_cases) / sizeof(allow_cases[0]); i++) {
		const struct allow_case *c = &allow_cases[i];
		struct prenv_buf why = PRENV_BUF_INIT;
		struct prenv_context ctx;
		int got;

		make_ctx(&ctx, c->ctx);
		got = tokens_allowed(&ctx, c->env, c->var, c->url, &why);
		if (got != c->want || (!got && c->why && !strstr(why.ptr, c->why)) ||
		    (!got && !why.len)) {
			printf("# case %zu: %s -> %s: got %d (%s), want %d (%s)\n", i, c->var,
			       c->url ? c->url : "(null)", got, why.ptr, c->want, c->why ? c->why : "");
			failed++;
		}
		prenv_buf_free(&why);
	}
	printf("# %zu decisions checked\n", i);
	assert_int_equal(0, failed);
}

struct pick_case {
	const char *env[8];
	const char *url;
	unsigned use;
	const char *var;  /* NULL: none */
	const char *user;
	const char *why;  /* none: a part of the reason */
};

#define GIT TOKEN_FOR_GIT
#define GH_API TOKEN_FOR_GITHUB_API
#define GL_API TOKEN_FOR_GITLAB_API
#define ALL_GL "CI_SERVER_URL=https://gitlab.corp.example", "CI_JOB_TOKEN=job", "GITLAB_TOKEN=glpat"

static const struct pick_case pick_cases[] = {
	/* the pre-fix order took PRENV_GIT_TOKEN / GITHUB_TOKEN for any host */
	{ { "PRENV_GIT_TOKEN=p", "PRENV_GIT_TOKEN_HOST=git.example.com", "GITHUB_TOKEN=g", ALL_GL },
	  "https://github.com/o/r.git", GIT, "GITHUB_TOKEN", "x-access-token", NULL },
	{ { "PRENV_GIT_TOKEN=p", "PRENV_GIT_TOKEN_HOST=git.example.com", "GITHUB_TOKEN=g", ALL_GL },
	  "https://git.example.com/r.git", GIT, "PRENV_GIT_TOKEN", "x-access-token", NULL },
	{ { "PRENV_GIT_TOKEN=p", "PRENV_GIT_TOKEN_HOST=git.example.com", "PRENV_GIT_USER=bob" },
	  "https://git.example.com/r.git", GIT, "PRENV_GIT_TOKEN", "bob", NULL },
	{ { "PRENV_GIT_TOKEN=p", "PRENV_GIT_TOKEN_HOST=git.example.com", "GITHUB_TOKEN=g", ALL_GL },
	  "https://gitlab.corp.example/g/r.git", GIT, "GITLAB_TOKEN", "oauth2", NULL },
	{ { ALL_GL }, "https://evil.example/r.git", GIT, NULL, NULL,
	  "belongs to the GitLab server gitlab.corp.example, not evil.example" },
	{ { "CI_SERVER_URL=https://gitlab.corp.example", "CI_JOB_TOKEN=job" },
	  "https://gitlab.corp.example/g/r.git", GIT, "CI_JOB_TOKEN", "gitlab-ci-token", NULL },
	/* the API: the job token cannot write notes; GitLab's tokens are not GitHub's */
	{ { "CI_SERVER_URL=https://gitlab.corp.example", "CI_JOB_TOKEN=job" },
	  "https://gitlab.corp.example/api/v4", GL_API, NULL, NULL, "" },
	{ { ALL_GL }, "https://gitlab.corp.example/api/v4", GL_API, "GITLAB_TOKEN", "oauth2", NULL },
	{ { ALL_GL, "GITHUB_TOKEN=g" }, "https://gitlab.corp.example/api/v4", GH_API, NULL, NULL,
	  "GITHUB_TOKEN belongs to the GitHub server github.com" },
	{ { "GITHUB_TOKEN=g", "PRENV_GITHUB_TOKEN=pg" }, "https://api.github.com", GH_API,
	  "PRENV_GITHUB_TOKEN", "x-access-token", NULL },
	{ { "GH_TOKEN=gh" }, "https://api.github.com", GH_API, "GH_TOKEN", "x-access-token", NULL },
	/* PRENV_GIT_TOKEN_<NAME>: one token per git server, each only to its own host */
	{ { "PRENV_GIT_TOKEN_A=ta", "PRENV_GIT_TOKEN_A_HOST=git-a.example", "PRENV_GIT_TOKEN_B=tb",
	    "PRENV_GIT_TOKEN_B_HOST=git-b.example:8443", "PRENV_GIT_TOKEN_B_USER=bot" },
	  "https://git-b.example:8443/r.git", GIT, "PRENV_GIT_TOKEN_B", "bot", NULL },
	{ { "PRENV_GIT_TOKEN_A=ta", "PRENV_GIT_TOKEN_A_HOST=git-a.example", "PRENV_GIT_TOKEN_B=tb",
	    "PRENV_GIT_TOKEN_B_HOST=git-b.example:8443" },
	  "https://git-a.example/r.git", GIT, "PRENV_GIT_TOKEN_A", "x-access-token", NULL },
	{ { "PRENV_GIT_TOKEN_A=ta", "PRENV_GIT_TOKEN_A_HOST=git-a.example" },
	  "https://git.a.example/r.git", GIT, NULL, NULL, "PRENV_GIT_TOKEN_A belongs to git-a.example, not git.a.example" },
	{ { "PRENV_GIT_TOKEN_A=ta" }, "https://git-a.example/r.git", GIT, NULL, NULL,
	  "PRENV_GIT_TOKEN_A_HOST, which is not set" },
	{ { "PRENV_GIT_TOKEN_A=ta", "PRENV_GIT_TOKEN_A_HOST=git-a.example:80" },
	  "http://git-a.example/r.git", GIT, NULL, NULL, "not sent over plain http://" },
	{ { "PRENV_GIT_TOKEN_A=ta", "PRENV_GIT_TOKEN_A_HOST=127.0.0.1:9000" },
	  "http://127.0.0.1:9000/r.git", GIT, "PRENV_GIT_TOKEN_A", "x-access-token", NULL },
	{ { "PRENV_GIT_TOKEN_A=ta", "PRENV_GIT_TOKEN_A_HOST=127.0.0.1:9000" },
	  "http://127.0.0.1:9001/r.git", GIT, NULL, NULL, "belongs to 127.0.0.1:9000" },
	{ { "PRENV_GIT_TOKEN_A=ta", "PRENV_GIT_TOKEN_A_HOST=api.github.com" },
	  "https://api.github.com", GH_API, NULL, NULL, "" },
	{ { "PRENV_GIT_TOKEN_A=ta", "PRENV_GIT_TOKEN_A_HOST=github.com", "GITHUB_TOKEN=g" },
	  "https://github.com/o/r.git", GIT, "PRENV_GIT_TOKEN_A", "x-access-token", NULL },
	{ { "PRENV_GIT_TOKEN_a=ta", "PRENV_GIT_TOKEN_a_HOST=github.com" },
	  "https://github.com/o/r.git", GIT, NULL, NULL, "" },
	/* ssh remotes use keys */
	{ { "GITHUB_TOKEN=g" }, "git@github.com:o/r.git", GIT, NULL, NULL, "not https" },
	{ { NULL }, "https://github.com/o/r.git", GIT, NULL, NULL, "" },
};

static void test_tokens_pick_table(void **state)
{
	size_t i, failed = 0;

	(void)state;
	for (i = 0; i < sizeof(pick_cases) / sizeof(pick_cases[0]); i++) {
		const struct pick_case *c = &pick_cases[i];
		struct prenv_buf why = PRENV_BUF_INIT;
		struct prenv_context ctx;
		struct token_pick p;
		int got;

		make_ctx(&ctx, CTX_NONE);
		got = tokens_for_url(&ctx, c->env, c->url, c->use, &p, &why);
		if (c->var ? (got != 1 || strcmp(p.var, c->var) || strcmp(p.user, c->user))
			   : (got != 0 || p.var || (c->why && !strstr(why.ptr, c->why)) ||
			      (c->why && !*c->why && why.len))) {
			printf("# case %zu: %s: got %d %s/%s (%s), want %s/%s (%s)\n", i, c->url, got,
			       p.var ? p.var : "-", p.user ? p.user : "-", why.ptr,
			       c->var ? c->var : "-", c->user ? c->user : "-", c->why ? c->why : "");
			failed++;
		}
		prenv_buf_free(&why);
	}
	assert_int_equal(0, failed);
}

static void test_tokens_loopback_table(void **state)
{
	static const struct {
		const char *host;
		int want;
	} cases[] = {
		{ "127.0.0.1", 1 }, { "127.0.0.1:8080", 1 }, { "127.255.255.254", 1 },
		{ "127.0.0.2:80", 1 }, { "localhost", 1 }, { "LocalHost:9", 1 },
		{ "[::1]", 1 }, { "[::1]:8080", 1 },
		{ "128.0.0.1", 0 }, { "10.0.0.1", 0 }, { "127.0.0.1.nip.io", 0 },
		{ "127.0.0", 0 }, { "127.0.0.1.", 0 }, { "127.0.0.256", 0 }, { "0127.0.0.1", 0 },
		{ "localhost.evil.example", 0 }, { "mylocalhost", 0 }, { "[::2]", 0 },
		{ "[::1]x", 0 }, { "", 0 }, { NULL, 0 }, { "127.0.0.1:x", 0 }, { "::1", 0 },
	};
	size_t i, failed = 0;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (tokens_host_is_loopback(cases[i].host) != cases[i].want) {
			printf("# %s: want %d\n", cases[i].host ? cases[i].host : "(null)", cases[i].want);
			failed++;
		}
	}
	assert_int_equal(0, failed);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tokens_allowed_table),
		cmocka_unit_test(test_tokens_pick_table),
		cmocka_unit_test(test_tokens_loopback_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
