/* test_config_contexts.c - a rule's context: and kubeconfig:, and
 * provider.production_context (issue 14: a cluster per environment kind):
 * what parses, and every error at file:line:col. */
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

#define K8S "app: shop\nprovider:\n  kind: kubernetes\n"

/* One bad config: what, the text, where the error must point, two
 * substrings of its message. */
struct ctx_case {
	const char *what;
	const char *yaml;
	int at[2];
	const char *msg[2];
};

static const struct ctx_case bad_cases[] = {
	{ "context on a pages provider",
	  "app: shop\nprovider:\n  kind: pages\n  source: site\n  target: \"dir:public\"\n"
	  "environments:\n  - pull_request: true\n    context: preview\n", { 8, 14 },
	  { "'context' in a rule needs a provider with clusters", "provider pages has none" } },
	{ "kubeconfig on a command provider",
	  "app: shop\nprovider:\n  kind: command\n  deploy: [\"true\"]\n"
	  "environments:\n  - pull_request: true\n    kubeconfig: k\n", { 7, 17 },
	  { "'kubeconfig' in a rule needs a provider with clusters", "command" } },
	{ "empty context", K8S "environments:\n  - pull_request: true\n    context: \"\"\n", { 6, 14 },
	  { "'context' is empty", "kubeconfig context" } },
	{ "empty kubeconfig", K8S "environments:\n  - pull_request: true\n    kubeconfig: ''\n", { 6, 17 },
	  { "'kubeconfig' is empty", "kubeconfig file" } },
	{ "context is a list", K8S "environments:\n  - pull_request: true\n    context: [a, b]\n", { 6, 14 },
	  { "'context' must be a string", "got a list" } },
	{ "kubeconfig is a mapping", K8S "environments:\n  - pull_request: true\n    kubeconfig: {a: b}\n", { 6, 17 }, { "'kubeconfig' must be a string", NULL } },
	{ "misspelt rule key", K8S "environments:\n  - pull_request: true\n    contxt: preview\n", { 6, 5 },
	  { "unknown key 'contxt'", "did you mean 'context'?" } },
	{ "production_context is a mapping",
	  "app: shop\nprovider:\n  kind: kubernetes\n  production_context: {a: b}\n"
	  "environments:\n  - pull_request: true\n", { 4, 23 }, { "'production_context' must be a list of strings", NULL } },
	{ "production_context item is a list",
	  "app: shop\nprovider:\n  kind: kubernetes\n  production_context: [[a]]\n"
	  "environments:\n  - pull_request: true\n", { 4, 24 }, { "'production_context' must be a list of strings", NULL } },
	{ "a kind's kubeconfig variable as a check header",
	  K8S "environments:\n  - pull_request: true\ncheck:\n  headers_from_env:\n    X-T: PRENV_KUBECONFIG_PREVIEW\n",
	  { 8, 10 }, { "PRENV_KUBECONFIG_PREVIEW is a CI token", "never sent" } },
	{ "production_context on pages",
	  "app: shop\nprovider:\n  kind: pages\n  source: site\n  target: \"dir:public\"\n  production_context: p\n"
	  "environments:\n  - pull_request: true\n", { 6, 3 }, { "unknown key 'production_context'", NULL } },
};

/* 1 when c's config fails where and as it must; says why not. */
static int fails_right(const struct ctx_case *c)
{
	struct prenv_config *cfg = (struct prenv_config *)(uintptr_t)1;
	struct prenv_err e = PRENV_ERR_INIT;
	int rc = config_parse(&cfg, "dir/.prenv.yml", c->yaml, strlen(c->yaml), provider_schemas(), &e);
	int ok = rc == PRENV_ECONFIG && !cfg && e.file && !strcmp(e.file, "dir/.prenv.yml") &&
		 e.line == c->at[0] && e.col == c->at[1] && e.msg && strstr(e.msg, c->msg[0]) &&
		 (!c->msg[1] || strstr(e.msg, c->msg[1]));

	if (!ok)
		printf("case '%s': rc=%d at %d:%d, want %d:%d: %s\n", c->what, rc, e.line, e.col, c->at[0],
		       c->at[1], e.msg ? e.msg : "(no message)");
	if (rc == 0)
		config_free(cfg);
	prenv_err_clear(&e);
	return ok;
}

static void test_config_contexts_errors(void **state)
{
	size_t i, n = sizeof(bad_cases) / sizeof(bad_cases[0]), bad = 0;

	(void)state;
	for (i = 0; i < n; i++)
		bad += !fails_right(&bad_cases[i]);
	printf("# context config error cases: %zu, failed: %zu\n", n, bad);
	assert_int_equal(bad, 0);
}

static struct prenv_config *parse_ok(const char *yaml)
{
	struct prenv_config *cfg = NULL;
	struct prenv_err err = PRENV_ERR_INIT;
	int rc = config_parse(&cfg, "dir/.prenv.yml", yaml, strlen(yaml), provider_schemas(), &err);

	if (rc)
		printf("%d:%d: %s\n", err.line, err.col, err.msg);
	assert_int_equal(rc, 0);
	prenv_err_clear(&err);
	return cfg;
}

static void test_config_contexts_rules(void **state)
{
	struct prenv_config *cfg = parse_ok(
		K8S "  production_context: prod\n"
		"environments:\n"
		"  - branch: main\n    kind: production\n    context: prod\n    kubeconfig: clusters/prod.yaml\n"
		"  - pull_request: true\n    context: preview\n"
		"  - branch: \"**\"\n");
	const cJSON *pc = cJSON_GetObjectItemCaseSensitive(cfg->provider, "production_context");

	(void)state;
	assert_int_equal(cfg->nrules, 3);
	assert_string_equal(cfg->rules[0].context, "prod");
	assert_int_equal(cfg->rules[0].context_line, 8);
	assert_int_equal(cfg->rules[0].context_col, 14);
	assert_string_equal(cfg->rules[0].kubeconfig, "clusters/prod.yaml");
	assert_int_equal(cfg->rules[0].kubeconfig_line, 9);
	assert_int_equal(cfg->rules[0].kubeconfig_col, 17);
	assert_string_equal(cfg->rules[1].context, "preview");
	assert_null(cfg->rules[1].kubeconfig);
	assert_null(cfg->rules[2].context);
	/* one name is a list of one */
	assert_true(cJSON_IsArray(pc));
	assert_int_equal(cJSON_GetArraySize(pc), 1);
	assert_string_equal(cJSON_GetArrayItem(pc, 0)->valuestring, "prod");
	config_free(cfg);

	cfg = parse_ok(K8S "  production_context: [prod-eu, prod-us]\nenvironments:\n  - pull_request: true\n");
	pc = cJSON_GetObjectItemCaseSensitive(cfg->provider, "production_context");
	assert_int_equal(cJSON_GetArraySize(pc), 2);
	assert_string_equal(cJSON_GetArrayItem(pc, 1)->valuestring, "prod-us");
	config_free(cfg);

	/* absent: no key, nothing production-only */
	cfg = parse_ok(K8S "environments:\n  - pull_request: true\n");
	assert_null(cJSON_GetObjectItemCaseSensitive(cfg->provider, "production_context"));
	assert_null(cfg->rules[0].context);
	config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_contexts_errors),
		cmocka_unit_test(test_config_contexts_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
