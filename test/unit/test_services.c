/* test_services.c - `services:` in .prenv.yml (config/services.c) and the
 * pure decisions of branch resolution (resolve/services.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/plan.h"
#include "context/ci.h"
#include "registry.h"
#include "report/report.h"
#include "resolve/services.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/git.h"

#define HEAD "app: shop\nprovider:\n  kind: kubernetes\nenvironments:\n  - pull_request: true\n"

static struct prenv_config *parse_ok(const char *yaml)
{
	struct prenv_config *cfg = NULL;
	struct prenv_err err = PRENV_ERR_INIT;
	int rc = config_parse(&cfg, "t.yml", yaml, strlen(yaml), provider_schemas(), &err);

	if (rc)
		fail_msg("unexpected error: %s", err.msg);
	prenv_err_clear(&err);
	return cfg;
}

/* ------------------------------------------------------------ config */

static void test_services_config_parses(void **state)
{
	struct prenv_config *cfg = parse_ok(HEAD "services:\n"
		"  web:\n    templates: deploy/web\n    image: \"ghcr.io/acme/web:{{service.sha}}\"\n"
		"  api:\n    repo: https://github.com/acme/api.git\n    production_branch: main\n"
		"    templates: deploy/api\n");
	const struct config_service *web, *api;
	int line, col, plain;

	(void)state;
	assert_int_equal(cfg->nservices, 2);
	web = &cfg->services[0];
	api = &cfg->services[1];
	assert_string_equal(web->name, "web");
	assert_null(web->repo);
	assert_null(web->production_branch);
	assert_string_equal(web->templates, "deploy/web");
	assert_string_equal(web->image, "ghcr.io/acme/web:{{service.sha}}");
	assert_int_equal(web->line, 7);
	assert_int_equal(web->templates_line, 8);
	assert_int_equal(web->templates_col, 16);
	assert_string_equal(api->repo, "https://github.com/acme/api.git");
	assert_string_equal(api->production_branch, "main");
	assert_null(api->image);
	assert_ptr_equal(config_service_find(cfg, "api"), api);
	assert_null(config_service_find(cfg, "db"));
	assert_true(cJSON_IsObject(api->keys));
	assert_int_equal(config_template_pos(cfg, "services.web.image", &line, &col, &plain), 1);
	assert_int_equal(line, 9);
	assert_int_equal(col, 12);
	assert_int_equal(plain, 0);
	assert_int_equal(cfg->services_line, 6);
	assert_null(cfg->templates);
	config_free(cfg);
}

static void test_services_config_absent(void **state)
{
	struct prenv_config *cfg = parse_ok(HEAD "templates: deploy\n");

	(void)state;
	assert_int_equal(cfg->nservices, 0);
	assert_null(cfg->services);
	assert_string_equal(cfg->templates, "deploy");
	config_free(cfg);
}

static void test_services_config_repo_forms(void **state)
{
	static const char *const ok[] = {
		"https://github.com/acme/api.git", "http://127.0.0.1:8080/api.git",
		"ssh://git@github.com/acme/api.git", "git@github.com:acme/api.git",
		"file:///srv/git/api.git", "/srv/git/api.git", "../api", "./api",
		"https://git@github.com/acme/api.git",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		char yaml[512];
		struct prenv_config *cfg;

		snprintf(yaml, sizeof(yaml), HEAD "services:\n  api:\n    repo: %s\n    templates: d\n", ok[i]);
		cfg = parse_ok(yaml);
		assert_string_equal(cfg->services[0].repo, ok[i]);
		config_free(cfg);
	}
}

struct bad {
	const char *yaml;
	int line, col;
	const char *want1, *want2;
};

static const struct bad bad[] = {
	{ HEAD "templates: x\nservices:\n  web:\n    templates: a\n", 6, 12,
	  "'templates' and 'services' do not go together", "services.<name>.templates" },
	{ HEAD "services: []\n", 6, 11, "'services' must be a mapping", NULL },
	{ HEAD "services: {}\n", 6, 11, "'services' must be a mapping", NULL },
	{ HEAD "services:\n  Web:\n    templates: a\n", 7, 3, "must be a DNS label", "like web" },
	{ HEAD "services:\n  web_1:\n    templates: a\n", 7, 3, "must be a DNS label", NULL },
	{ HEAD "services:\n  web:\n    templates: a\n  web:\n    templates: b\n", 9, 3,
	  "duplicate service 'web'", "line 7, column 3" },
	{ HEAD "services:\n  web: deploy\n", 7, 8, "service 'web' must be a mapping", "templates" },
	{ HEAD "services:\n  web:\n    image: x\n", 8, 5, "missing required key 'templates' in service 'web'",
	  NULL },
	{ HEAD "services:\n  web:\n    templates: a\n    repos: x\n", 9, 5,
	  "unknown key 'repos' in service 'web'", "did you mean 'repo'?" },
	{ HEAD "services:\n  web:\n    templates: a\n    templates: b\n", 9, 5,
	  "duplicate key 'templates' in service 'web'", NULL },
	{ HEAD "services:\n  api:\n    templates: a\n    repo: https://x:secret@github.com/a/b\n", 9, 11,
	  "must not carry a password or token", "environment" },
	{ HEAD "services:\n  api:\n    templates: a\n    repo: github.com/acme/api\n", 9, 11,
	  "'repo' must be a repository URL", "github.com/acme/api" },
	{ HEAD "services:\n  api:\n    templates: a\n    repo: \"https://x/a b\"\n", 9, 11,
	  "without spaces", NULL },
	{ HEAD "services:\n  api:\n    templates: a\n    production_branch: refs/heads/main\n", 9, 24,
	  "'production_branch' must be a branch name", "refs/heads/main" },
	{ HEAD "services:\n  api:\n    templates: a\n    production_branch: \"ma..in\"\n", 9, 24,
	  "'production_branch' must be a branch name", NULL },
	{ HEAD "services:\n  api:\n    templates: [a]\n", 8, 16, "'templates' must be a string",
	  "got a list" },
};

static void test_services_config_errors(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct prenv_config *cfg = NULL;
		struct prenv_err err = PRENV_ERR_INIT;
		int rc = config_parse(&cfg, "t.yml", bad[i].yaml, strlen(bad[i].yaml),
				      provider_schemas(), &err);

		if (rc != PRENV_ECONFIG || cfg || !err.msg || err.line != bad[i].line ||
		    err.col != bad[i].col || !strstr(err.msg, bad[i].want1) ||
		    (bad[i].want2 && !strstr(err.msg, bad[i].want2)))
			fail_msg("case %zu: rc %d at %d:%d: %s", i, rc, err.line, err.col,
				 err.msg ? err.msg : "(none)");
		prenv_err_clear(&err);
	}
}

/* ------------------------------------------------------------ decisions */

#define SHA_MAIN "1111111111111111111111111111111111111111"
#define SHA_X "2222222222222222222222222222222222222222"
#define SHA_DEV "3333333333333333333333333333333333333333"

struct decide_case {
	const char *head;      /* the remote's HEAD symref, or NULL */
	const char *refs;      /* "name=sha name=sha" */
	const char *prod;      /* production_branch, or NULL */
	const char *want;      /* the environment's branch */
	int rc;
	const char *branch, *sha, *from;
	int virtual_;
	const char *msg;       /* part of the error */
};

static const struct decide_case decide_cases[] = {
	/* the branch exists: real */
	{ "refs/heads/main", "refs/heads/main=" SHA_MAIN " refs/heads/feature/x=" SHA_X, NULL,
	  "feature/x", 0, "feature/x", SHA_X, NULL, 0, NULL },
	/* missing: virtual at the HEAD branch */
	{ "refs/heads/main", "refs/heads/main=" SHA_MAIN, NULL, "feature/x", 0, "main", SHA_MAIN,
	  "main", 1, NULL },
	/* missing: virtual at production_branch, not HEAD */
	{ "refs/heads/main", "refs/heads/main=" SHA_MAIN " refs/heads/develop=" SHA_DEV, "develop",
	  "feature/x", 0, "develop", SHA_DEV, "develop", 1, NULL },
	/* a tag of the same name is not the branch */
	{ "refs/heads/main", "refs/heads/main=" SHA_MAIN " refs/tags/feature/x=" SHA_X, NULL,
	  "feature/x", 0, "main", SHA_MAIN, "main", 1, NULL },
	/* a prefix is not the branch */
	{ "refs/heads/main", "refs/heads/main=" SHA_MAIN " refs/heads/feature/x2=" SHA_X, NULL,
	  "feature/x", 0, "main", SHA_MAIN, "main", 1, NULL },
	/* no branch in this run (a tag): virtual */
	{ "refs/heads/main", "refs/heads/main=" SHA_MAIN, NULL, NULL, 0, "main", SHA_MAIN, "main", 1,
	  NULL },
	/* the environment is production's own branch: real */
	{ "refs/heads/main", "refs/heads/main=" SHA_MAIN, NULL, "main", 0, "main", SHA_MAIN, NULL, 0,
	  NULL },
	/* no HEAD and no production_branch */
	{ NULL, "refs/heads/main=" SHA_MAIN, NULL, "feature/x", PRENV_EFAIL, NULL, NULL, NULL, 0,
	  "no HEAD branch to fall back to; set services.api.production_branch (its branches: main)" },
	/* production_branch missing too */
	{ "refs/heads/main", "refs/heads/main=" SHA_MAIN, "trunk", "feature/x", PRENV_EFAIL, NULL,
	  NULL, NULL, 0, "neither branch 'feature/x' nor its production branch 'trunk'" },
	/* an empty repository */
	{ NULL, "", NULL, "feature/x", PRENV_EFAIL, NULL, NULL, NULL, 0, "(its branches: none)" },
};

static void fill_refs(struct prenv_git_refs *refs, const char *head, const char *spec)
{
	char *copy = strdup(spec), *save = NULL, *tok;

	memset(refs, 0, sizeof(*refs));
	refs->v = calloc(8, sizeof(*refs->v));
	refs->head = head ? strdup(head) : NULL;
	for (tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '=');

		*eq = '\0';
		refs->v[refs->n].name = strdup(tok);
		snprintf(refs->v[refs->n].id, sizeof(refs->v[refs->n].id), "%s", eq + 1);
		refs->n++;
	}
	free(copy);
}

static void test_services_decide_table(void **state)
{
	size_t i, failed = 0;

	(void)state;
	for (i = 0; i < sizeof(decide_cases) / sizeof(decide_cases[0]); i++) {
		const struct decide_case *c = &decide_cases[i];
		struct config_service cs;
		struct resolved_service svc;
		struct prenv_git_refs *refs = calloc(1, sizeof(*refs));
		struct prenv_err err = PRENV_ERR_INIT;
		int rc;

		memset(&cs, 0, sizeof(cs));
		memset(&svc, 0, sizeof(svc));
		cs.name = (char *)"api";
		cs.production_branch = (char *)c->prod;
		svc.cfg = &cs;
		svc.url = (char *)"https://git.example/acme/api.git";
		fill_refs(refs, c->head, c->refs);
		rc = resolve_decide(&svc, refs, c->want, &err);
		if (rc != c->rc ||
		    (!rc && (strcmp(svc.branch, c->branch) || strcmp(svc.sha, c->sha) ||
			     svc.virtual_ != c->virtual_ || (c->from == NULL) != (svc.from_branch == NULL) ||
			     (c->from && strcmp(c->from, svc.from_branch)))) ||
		    (rc && (!err.msg || !strstr(err.msg, c->msg)))) {
			printf("# case %zu: rc %d branch %s sha %.7s virtual %d from %s: %s\n", i, rc,
			       svc.branch ? svc.branch : "-", svc.sha, svc.virtual_,
			       svc.from_branch ? svc.from_branch : "-", err.msg ? err.msg : "");
			failed++;
		}
		free(svc.branch);
		free(svc.from_branch);
		free(svc.prod_branch);
		prenv_err_clear(&err);
		prenv_git_refs_free(refs);
	}
	assert_int_equal(0, failed);
}

/* ------------------------------------------------------------ git.branch_slug */

/* A PR in one repository named by {{git.branch_slug}} and a push of the
 * same branch in another (default naming) are one environment. */
static void test_services_branch_slug_names_one_environment(void **state)
{
	struct prenv_config *named = parse_ok("app: shop\nprovider:\n  kind: kubernetes\n"
					      "environments:\n  - branch: \"**\"\n"
					      "    name: \"{{git.branch_slug}}\"\n");
	struct prenv_config *plain = parse_ok("app: shop\nprovider:\n  kind: kubernetes\n"
					      "environments:\n  - branch: \"**\"\n");
	static const char *const branches[] = { "feature/x", "main", "Fix/Ünï", "a-b-1234abcd",
		"feature/a-very-long-branch-name-that-goes-on-and-on-beyond-any-label-limit" };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(branches) / sizeof(branches[0]); i++) {
		struct prenv_context pr, push;
		struct prenv_plan *p1 = NULL, *p2 = NULL;
		struct prenv_err err = PRENV_ERR_INIT;
		const char *slug;

		memset(&pr, 0, sizeof(pr));
		pr.branch = (char *)branches[i];
		pr.has_pr = 1;
		pr.pr_number = 7;
		push = pr;
		push.has_pr = 0;
		assert_int_equal(0, plan_make(&p1, named, &pr, &err));
		assert_int_equal(0, plan_make(&p2, plain, &push, &err));
		slug = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(p1->vars, "git"), "branch_slug"));
		assert_string_equal(p1->env_name, slug);
		assert_string_equal(p1->env_name, p2->env_name);
		assert_true(strlen(p1->namespace_) <= 63);
		plan_free(p1);
		plan_free(p2);
	}
	config_free(named);
	config_free(plain);
}

/* ------------------------------------------------------------ report */

static void test_services_comment_table(void **state)
{
	struct prenv_config *cfg = parse_ok(HEAD "services:\n  web:\n    templates: a\n");
	struct prenv_context ctx;
	struct prenv_plan plan;
	struct report_info ri;
	struct prenv_buf b = PRENV_BUF_INIT;
	cJSON *res;

	(void)state;
	memset(&ctx, 0, sizeof(ctx));
	memset(&plan, 0, sizeof(plan));
	memset(&ri, 0, sizeof(ri));
	plan.env_name = (char *)"feature-x";
	plan.services = cJSON_Parse("[{\"name\":\"web\",\"branch\":\"feature/x|<b>\",\"short_sha\":\"abc1234\","
				    "\"virtual\":false,\"image\":\"ghcr.io/acme/web:abc\"},"
				    "{\"name\":\"api\",\"branch\":\"main\",\"short_sha\":\"def5678\","
				    "\"virtual\":true,\"from_branch\":\"main\",\"repo_name\":\"acme/api\"}]");
	ri.cfg = cfg;
	ri.ctx = &ctx;
	ri.plan = &plan;
	ri.status = "ready";
	assert_int_equal(0, report_comment_body(&b, &ri));
	assert_non_null(strstr(b.ptr, "| Service | Branch | Commit | | Image |"));
	assert_non_null(strstr(b.ptr, "| web | feature/x\\|&lt;b&gt; | abc1234 | real | ghcr.io/acme/web:abc |"));
	assert_non_null(strstr(b.ptr, "| api | main | def5678 | virtual: from main (no branch of this "
				    "name in acme/api) | - |"));
	res = report_result_json(&ri);
	assert_int_equal(2, cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(res, "services")));
	cJSON_Delete(res);
	cJSON_Delete(plan.services);
	prenv_buf_free(&b);
	config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_services_config_parses),
		cmocka_unit_test(test_services_config_absent),
		cmocka_unit_test(test_services_config_repo_forms),
		cmocka_unit_test(test_services_config_errors),
		cmocka_unit_test(test_services_decide_table),
		cmocka_unit_test(test_services_branch_slug_names_one_environment),
		cmocka_unit_test(test_services_comment_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
