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
#include "registry.h"
#include "util/err.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_services_config_parses),
		cmocka_unit_test(test_services_config_absent),
		cmocka_unit_test(test_services_config_repo_forms),
		cmocka_unit_test(test_services_config_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
