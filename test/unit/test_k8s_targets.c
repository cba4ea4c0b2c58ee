/* test_k8s_targets.c - which kubeconfig and context an environment gets
 * (k8s_targets.c): the order rule kubeconfig: > PRENV_KUBECONFIG_<KIND> >
 * --kubeconfig > provider.kubeconfig > the default chain, the context rule >
 * provider > current-context, the clusters gc visits, the production-only
 * guard; and that each context's connection pairs its own server with its
 * own credential (kubeconfig.c with PRENV_KUBECONFIG_<KIND>). */
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
#include "kubernetes/k8s_int.h"
#include "registry.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"

static struct prenv_config *parse(const char *yaml)
{
	struct prenv_config *cfg = NULL;
	struct prenv_err err = PRENV_ERR_INIT;
	int rc = config_parse(&cfg, "/repo/.prenv.yml", yaml, strlen(yaml), provider_schemas(), &err);

	if (rc)
		printf("%d:%d: %s\n", err.line, err.col, err.msg);
	assert_int_equal(rc, 0);
	prenv_err_clear(&err);
	return cfg;
}

#define HEAD "app: shop\nprovider:\n  kind: kubernetes\n"

/* One row: a config, the rule index (-1: none), the kind, --kubeconfig,
 * the environment -> what the spec must say. */
struct sel_case {
	const char *name;
	const char *provider_extra;   /* more provider keys */
	const char *rule_extra;       /* keys of the pull_request rule */
	int rule;                     /* 0: that rule, -1: none */
	enum env_kind kind;
	const char *cli;              /* --kubeconfig */
	const char *env[3];
	const char *want_file, *want_var, *want_context;
};

static const struct sel_case sel_cases[] = {
	{ "nothing set: the default chain", "", "", 0, ENV_KIND_PREVIEW, NULL, { NULL },
	  NULL, NULL, NULL },
	{ "kind variable", "", "", 0, ENV_KIND_PREVIEW, NULL, { "PRENV_KUBECONFIG_PREVIEW=xyz", NULL },
	  NULL, "PRENV_KUBECONFIG_PREVIEW", NULL },
	{ "another kind's variable does not count", "", "", 0, ENV_KIND_PREVIEW, NULL,
	  { "PRENV_KUBECONFIG_PRODUCTION=xyz", NULL }, NULL, NULL, NULL },
	{ "an empty kind variable is unset", "", "", 0, ENV_KIND_STAGING, NULL,
	  { "PRENV_KUBECONFIG_STAGING=", NULL }, NULL, NULL, NULL },
	{ "kind variable (upper-cased kind)", "", "", 0, ENV_KIND_UAT, NULL, { "PRENV_KUBECONFIG_UAT=x", NULL },
	  NULL, "PRENV_KUBECONFIG_UAT", NULL },
	{ "rule kubeconfig: wins over the kind variable, relative to the config", "",
	  "    kubeconfig: clusters/preview.yaml\n", 0, ENV_KIND_PREVIEW, "/cli/kc",
	  { "PRENV_KUBECONFIG_PREVIEW=xyz", NULL }, "/repo/clusters/preview.yaml", NULL, NULL },
	{ "rule kubeconfig: absolute", "", "    kubeconfig: /etc/kc\n", 0, ENV_KIND_PREVIEW, NULL, { NULL },
	  "/etc/kc", NULL, NULL },
	{ "kind variable wins over --kubeconfig and provider.kubeconfig", "  kubeconfig: prov.yaml\n", "", 0,
	  ENV_KIND_PREVIEW, "/cli/kc", { "PRENV_KUBECONFIG_PREVIEW=xyz", NULL }, NULL,
	  "PRENV_KUBECONFIG_PREVIEW", NULL },
	{ "--kubeconfig wins over provider.kubeconfig", "  kubeconfig: prov.yaml\n", "", 0, ENV_KIND_PREVIEW,
	  "/cli/kc", { NULL }, "/cli/kc", NULL, NULL },
	{ "provider.kubeconfig relative to the config", "  kubeconfig: prov.yaml\n", "", 0, ENV_KIND_PREVIEW,
	  NULL, { "KUBECONFIG=/k", NULL }, "/repo/prov.yaml", NULL, NULL },
	{ "rule context: wins over provider.context", "  context: prov-ctx\n", "    context: rule-ctx\n", 0,
	  ENV_KIND_PREVIEW, NULL, { NULL }, NULL, NULL, "rule-ctx" },
	{ "provider.context without a rule context", "  context: prov-ctx\n", "", 0, ENV_KIND_PREVIEW, NULL,
	  { NULL }, NULL, NULL, "prov-ctx" },
	{ "no rule: provider keys", "  context: prov-ctx\n", "    context: rule-ctx\n", -1, ENV_KIND_PREVIEW,
	  NULL, { NULL }, NULL, NULL, "prov-ctx" },
};

static void test_k8s_targets_selection_table(void **state)
{
	size_t i, failures = 0;

	(void)state;
	for (i = 0; i < sizeof(sel_cases) / sizeof(sel_cases[0]); i++) {
		const struct sel_case *t = &sel_cases[i];
		struct prenv_buf y = PRENV_BUF_INIT;
		struct k8s_target_spec s;
		struct prenv_config *cfg;
		int ok;

		prenv_buf_printf(&y, HEAD "%senvironments:\n  - pull_request: true\n%s", t->provider_extra,
				 t->rule_extra);
		cfg = parse(y.ptr);
		assert_int_equal(k8s_target_spec_for(&s, cfg, t->rule < 0 ? NULL : &cfg->rules[0], t->kind, t->cli,
						     t->env), 0);
		ok = (!t->want_file ? !s.kubeconfig : s.kubeconfig && !strcmp(s.kubeconfig, t->want_file)) &&
		     (!t->want_var ? !s.var : s.var && !strcmp(s.var, t->want_var)) &&
		     (!t->want_context ? !s.context : s.context && !strcmp(s.context, t->want_context)) &&
		     s.key && s.from;
		if (!ok) {
			printf("case '%s': file=%s var=%s context=%s\n", t->name, s.kubeconfig ? s.kubeconfig : "-",
			       s.var ? s.var : "-", s.context ? s.context : "-");
			failures++;
		}
		k8s_target_spec_clear(&s);
		config_free(cfg);
		prenv_buf_free(&y);
	}
	printf("# kubeconfig selection cases: %zu, failed: %zu\n", i, failures);
	assert_int_equal(failures, 0);
}

static void test_k8s_targets_kind_var(void **state)
{
	static const struct { enum env_kind k; const char *want; } cases[] = {
		{ ENV_KIND_PREVIEW, "PRENV_KUBECONFIG_PREVIEW" },
		{ ENV_KIND_DEVELOPMENT, "PRENV_KUBECONFIG_DEVELOPMENT" },
		{ ENV_KIND_UAT, "PRENV_KUBECONFIG_UAT" },
		{ ENV_KIND_STAGING, "PRENV_KUBECONFIG_STAGING" },
		{ ENV_KIND_PRODUCTION, "PRENV_KUBECONFIG_PRODUCTION" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct prenv_buf b = PRENV_BUF_INIT;

		k8s_kind_var(&b, cases[i].k);
		assert_string_equal(b.ptr, cases[i].want);
		prenv_buf_free(&b);
	}
}

/* gc visits every distinct kubeconfig + context the rules give: each rule
 * with each kind its environments can have. */
static void test_k8s_targets_specs_of_the_rules(void **state)
{
	struct prenv_config *cfg = parse(HEAD
		"environments:\n"
		"  - branch: main\n    kind: production\n    context: prod\n"
		"  - branch: release\n    kind: production\n    context: prod\n" /* the same: once */
		"  - pull_request: true\n    context: preview\n"
		"  - branch: \"**\"\n"); /* kind unset, matches anything: preview and development */
	const char *env[] = { "PRENV_KUBECONFIG_PRODUCTION=x", "PRENV_KUBECONFIG_DEVELOPMENT=y", NULL };
	struct k8s_target_spec *specs = NULL;
	size_t n = 0;

	(void)state;
	assert_int_equal(k8s_target_specs(&specs, &n, cfg, NULL, env), 0);
	assert_int_equal(n, 4);
	assert_string_equal(specs[0].key, "env:PRENV_KUBECONFIG_PRODUCTION;context=prod");
	assert_string_equal(specs[1].key, "default;context=preview");
	assert_string_equal(specs[2].key, "default;context=");
	assert_string_equal(specs[3].key, "env:PRENV_KUBECONFIG_DEVELOPMENT;context=");
	k8s_target_specs_free(specs, n);
	/* without the variables, the last two are one */
	assert_int_equal(k8s_target_specs(&specs, &n, cfg, NULL, NULL), 0);
	assert_int_equal(n, 3);
	k8s_target_specs_free(specs, n);
	config_free(cfg);
}

static void test_k8s_targets_guard(void **state)
{
	struct prenv_config *cfg = parse(HEAD "  production_context: [prod-eu, prod-us]\n"
					 "environments:\n"
					 "  - branch: main\n    kind: production\n    context: prod-eu\n"
					 "  - pull_request: true\n    context: prod-us\n"
					 "  - branch: dev\n");
	struct prenv_plan plan;
	struct k8s_target_spec s;
	struct prenv_err err = PRENV_ERR_INIT;

	(void)state;
	memset(&plan, 0, sizeof(plan));
	plan.env_name = (char *)"pr-5";
	assert_true(k8s_production_only(cfg, "prod-us"));
	assert_false(k8s_production_only(cfg, "preview"));
	assert_false(k8s_production_only(cfg, NULL));
	/* production in a production context: fine */
	plan.kind = ENV_KIND_PRODUCTION;
	plan.rule = &cfg->rules[0];
	assert_int_equal(k8s_target_spec_for(&s, cfg, plan.rule, plan.kind, NULL, NULL), 0);
	assert_int_equal(k8s_guard(cfg, &plan, &s, "prod-eu", &err), 0);
	k8s_target_spec_clear(&s);
	/* a preview whose rule names a production context: at that context: */
	plan.kind = ENV_KIND_PREVIEW;
	plan.rule = &cfg->rules[1];
	assert_int_equal(k8s_target_spec_for(&s, cfg, plan.rule, plan.kind, NULL, NULL), 0);
	assert_int_equal(k8s_guard(cfg, &plan, &s, s.context, &err), PRENV_ECONFIG);
	assert_string_equal(err.file, "/repo/.prenv.yml");
	assert_int_equal(err.line, 10);
	assert_int_equal(err.col, 14);
	assert_non_null(strstr(err.msg, "environment pr-5 (kind preview) would go to context 'prod-us' "
				"(the rule's context:"));
	assert_non_null(strstr(err.msg, "production-only: refused before any request"));
	assert_non_null(strstr(err.msg, "PRENV_KUBECONFIG_PREVIEW"));
	prenv_err_clear(&err);
	k8s_target_spec_clear(&s);
	/* a development environment landing there through current-context: at the rule */
	plan.kind = ENV_KIND_DEVELOPMENT;
	plan.env_name = (char *)"dev";
	plan.rule = &cfg->rules[2];
	assert_int_equal(k8s_target_spec_for(&s, cfg, plan.rule, plan.kind, NULL, NULL), 0);
	assert_int_equal(k8s_guard(cfg, &plan, &s, "prod-eu", &err), PRENV_ECONFIG);
	assert_int_equal(err.line, 11);
	assert_int_equal(err.col, 5);
	assert_non_null(strstr(err.msg, "the kubeconfig's current-context"));
	prenv_err_clear(&err);
	/* not production-only: fine */
	assert_int_equal(k8s_guard(cfg, &plan, &s, "dev-cluster", &err), 0);
	k8s_target_spec_clear(&s);
	config_free(cfg);
}

/* Two contexts of one kubeconfig, and PRENV_KUBECONFIG_<KIND>: each
 * connection has its own context's server and its own user's token. */
static const char KC_TWO[] =
	"apiVersion: v1\nkind: Config\ncurrent-context: preview\n"
	"clusters:\n- name: c-prev\n  cluster:\n    server: https://preview.example:6443\n"
	"- name: c-prod\n  cluster:\n    server: https://prod.example:6443\n"
	"users:\n- name: u-prev\n  user:\n    token: token-preview\n"
	"- name: u-prod\n  user:\n    token: token-production\n"
	"contexts:\n- name: preview\n  context:\n    cluster: c-prev\n    user: u-prev\n"
	"- name: production\n  context:\n    cluster: c-prod\n    user: u-prod\n";

static void test_k8s_targets_each_context_its_own_credential(void **state)
{
	struct prenv_buf var = PRENV_BUF_INIT;
	const char *env[3] = { NULL, "HOME=/nonexistent", NULL };
	static const struct { const char *ctx, *server, *token; } want[] = {
		{ "preview", "https://preview.example:6443", "token-preview" },
		{ "production", "https://prod.example:6443", "token-production" },
		{ NULL, "https://preview.example:6443", "token-preview" }, /* current-context */
	};
	size_t i;

	(void)state;
	prenv_buf_printf(&var, "PRENV_KUBECONFIG_PREVIEW=%s", KC_TWO);
	env[0] = var.ptr;
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct k8s_load_opts o;
		struct k8s_conn *c = NULL;
		struct prenv_err err = PRENV_ERR_INIT;
		const char *tok = NULL;

		memset(&o, 0, sizeof(o));
		o.context = want[i].ctx;
		o.envp = env;
		o.var = "PRENV_KUBECONFIG_PREVIEW";
		assert_int_equal(k8s_conn_load(&c, &o, &err), 0);
		assert_string_equal(c->server, want[i].server);
		assert_int_equal(k8s_conn_refresh(c, 0, &tok, &err), 0);
		assert_string_equal(tok, want[i].token);
		assert_string_equal(c->source, "PRENV_KUBECONFIG_PREVIEW");
		k8s_conn_free(c);
	}
	prenv_buf_free(&var);
	/* the variable named but not set: a clear error, no fallback */
	{
		struct k8s_load_opts o;
		struct k8s_conn *c = NULL;
		struct prenv_err err = PRENV_ERR_INIT;
		const char *env2[] = { "PRENV_KUBECONFIG=whatever", NULL };

		memset(&o, 0, sizeof(o));
		o.envp = env2;
		o.var = "PRENV_KUBECONFIG_STAGING";
		assert_int_equal(k8s_conn_load(&c, &o, &err), PRENV_ECONFIG);
		assert_non_null(strstr(err.msg, "PRENV_KUBECONFIG_STAGING is not set"));
		prenv_err_clear(&err);
	}
	log_reset();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_k8s_targets_selection_table),
		cmocka_unit_test(test_k8s_targets_kind_var),
		cmocka_unit_test(test_k8s_targets_specs_of_the_rules),
		cmocka_unit_test(test_k8s_targets_guard),
		cmocka_unit_test(test_k8s_targets_each_context_its_own_credential),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
