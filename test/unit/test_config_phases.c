/* test_config_phases.c - `phases:` and `on_destroy:` of .prenv.yml (issue
 * 12): valid files and every error, at file:line:col. */
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
/* lines 6-12: three services; `phases:` is at line 13 after it */
#define SVC HEAD "services:\n  db:\n    templates: deploy/db\n  api:\n    templates: deploy/api\n" \
	"  web:\n    templates: deploy/web\n"

struct bad_case {
	const char *name;
	const char *yaml;
	int line, col;
	const char *want1, *want2;
};

static const struct bad_case bad_cases[] = {
	{ "phases is a string", HEAD "phases: data\n", 6, 9, "'phases' must be a list", NULL },
	{ "phases is empty", HEAD "phases: []\n", 6, 9, "'phases' is empty", "remove the key" },
	{ "phase is a string", HEAD "phases:\n  - data\n", 7, 5, "each item of 'phases' must be a mapping",
	  NULL },
	{ "phase without templates", HEAD "phases:\n  - name: data\n", 7, 5,
	  "missing required key 'templates' in phases item 1", NULL },
	{ "phase without name", HEAD "phases:\n  - templates: d\n", 7, 5,
	  "missing required key 'name' in phases item 1", NULL },
	{ "unknown phase key", HEAD "phases:\n  - name: data\n    templates: d\n    rn: once\n", 9, 5,
	  "unknown key 'rn' in phases item 1", "did you mean 'run'?" },
	{ "bad run", HEAD "phases:\n  - name: data\n    templates: d\n    run: twice\n", 9, 10,
	  "'run' cannot be 'twice'", "always, once" },
	{ "name not a label", HEAD "phases:\n  - name: Seed_DB\n    templates: d\n", 7, 11,
	  "must be a DNS-1123 label", "try 'seed-db'" },
	{ "duplicate name", HEAD "phases:\n  - name: a\n    templates: d\n  - name: a\n    templates: e\n", 9, 11,
	  "phase 'a' is named twice (first at line 7, column 5)", NULL },
	{ "outputs secret", HEAD "phases:\n  - name: a\n    templates: d\n    outputs: secret/db\n", 9, 14,
	  "can only read a ConfigMap", "reference its Secret" },
	{ "outputs bad", HEAD "phases:\n  - name: a\n    templates: d\n    outputs: db\n", 9, 14,
	  "'outputs' must be configmap/NAME", "got 'db'" },
	{ "outputs bad name", HEAD "phases:\n  - name: a\n    templates: d\n    outputs: configmap/Db_x\n", 9, 14,
	  "'outputs' must be configmap/NAME", NULL },
	{ "templates and phases", "templates: tpl\n" HEAD "phases:\n  - name: a\n    templates: d\n", 1, 12,
	  "'templates' and 'phases' cannot both be set", "`templates: tpl`" },
	{ "on_destroy a string", HEAD "on_destroy: x\n", 6, 13, "'on_destroy' must be a mapping", NULL },
	{ "on_destroy without templates", HEAD "on_destroy:\n  timeout: 5m\n", 7, 3,
	  "missing required key 'templates' in 'on_destroy'", NULL },
	{ "on_destroy bad timeout", HEAD "on_destroy:\n  templates: t\n  timeout: soon\n", 8, 12,
	  "'timeout' must be a duration", NULL },
	{ "on_destroy unknown key", HEAD "on_destroy:\n  templates: t\n  timout: 5m\n", 8, 3,
	  "unknown key 'timout' in 'on_destroy'", "did you mean 'timeout'?" },
	{ "top-level typo", HEAD "phase:\n  - name: a\n", 6, 1, "unknown key 'phase'", "did you mean 'phases'?" },
	/* phases with services: (a phase's templates name services) */
	{ "unknown service in a list", SVC "phases:\n  - name: data\n    templates: db\n  - name: app\n"
	  "    templates: [api, wev]\n", 17, 22, "phase 'app' names service 'wev', which is not in 'services'",
	  "did you mean 'web'?" },
	{ "a list without services", HEAD "phases:\n  - name: app\n    templates: [api, web]\n", 8, 16,
	  "a list of 'templates' names services, and this file has no 'services'", "a directory" },
	{ "a service in two phases", SVC "phases:\n  - name: data\n    templates: db\n  - name: app\n"
	  "    templates: [api, web, db]\n", 17, 27, "service 'db' is in phase 'data' (line 15, column 16) "
	  "and in phase 'app'", "one phase" },
	{ "a service twice in a list", SVC "phases:\n  - name: data\n    templates: db\n  - name: app\n"
	  "    templates: [api, web, api]\n", 17, 27, "service 'api' is named twice in phase 'app'", NULL },
	{ "a service in no phase", SVC "phases:\n  - name: data\n    templates: db\n  - name: app\n"
	  "    templates: [api]\n", 13, 1, "service web is in no phase", "templates: [api, web]" },
	{ "two services in no phase", SVC "phases:\n  - name: app\n    templates: [api]\n", 13, 1,
	  "services db, web are in no phase", NULL },
	{ "a typo of a service in no phase", SVC "phases:\n  - name: data\n    templates: dbb\n  - name: app\n"
	  "    templates: [api, web]\n", 15, 16, "phase 'data': templates 'dbb' names no service, and service db "
	  "is in no phase; did you mean 'db'?", NULL },
	{ "an empty list", SVC "phases:\n  - name: data\n    templates: db\n  - name: app\n"
	  "    templates: []\n", 17, 16, "'templates' of phase 'app' is an empty list", NULL },
	{ "a list item not a name", SVC "phases:\n  - name: data\n    templates: db\n  - name: app\n"
	  "    templates: [api, {web: 1}]\n", 17, 22, "each item of 'templates' must be a service's name",
	  NULL },
	{ "templates a mapping", SVC "phases:\n  - name: data\n    templates: {db: 1}\n", 15, 16,
	  "'templates' must be a directory or a service's name, or a list of services", NULL },
};

static void test_config_phases_error_table(void **state)
{
	size_t i, failures = 0;

	(void)state;
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *t = &bad_cases[i];
		struct prenv_config *cfg = NULL;
		struct prenv_err err = PRENV_ERR_INIT;
		int rc = config_parse(&cfg, "dir/.prenv.yml", t->yaml, strlen(t->yaml), provider_schemas(), &err);
		int ok = rc == PRENV_ECONFIG && cfg == NULL && err.file && !strcmp(err.file, "dir/.prenv.yml") &&
			 err.line == t->line && err.col == t->col && err.msg && strstr(err.msg, t->want1) &&
			 (!t->want2 || strstr(err.msg, t->want2));

		if (!ok) {
			printf("case '%s': rc=%d at %d:%d (want %d:%d): %s\n", t->name, rc, err.line, err.col,
			       t->line, t->col, err.msg ? err.msg : "(no message)");
			failures++;
		}
		if (rc == 0)
			config_free(cfg);
		prenv_err_clear(&err);
	}
	printf("# phase config error cases: %zu, failed: %zu\n", i, failures);
	assert_int_equal(failures, 0);
}

static void test_config_phases_parse(void **state)
{
	static const char yaml[] = HEAD
		"phases:\n"
		"  - name: data\n    templates: deploy/data\n"
		"  - name: seed\n    templates: deploy/seed\n    run: once\n    outputs: configmap/seed-out\n"
		"  - name: app\n    templates: deploy/app\n    run: always\n"
		"on_destroy:\n  templates: deploy/teardown\n  timeout: 2m\n";
	struct prenv_config *cfg = NULL;
	struct prenv_err err = PRENV_ERR_INIT;

	(void)state;
	assert_int_equal(config_parse(&cfg, "d/.prenv.yml", yaml, strlen(yaml), provider_schemas(), &err), 0);
	assert_int_equal(cfg->nphases, 3);
	assert_null(cfg->templates);
	assert_string_equal(cfg->phases[0].name, "data");
	assert_string_equal(cfg->phases[0].templates, "deploy/data");
	assert_int_equal(cfg->phases[0].run_once, 0);
	assert_null(cfg->phases[0].outputs);
	assert_int_equal(cfg->phases[0].templates_line, 8);
	assert_int_equal(cfg->phases[0].templates_col, 16);
	assert_string_equal(cfg->phases[1].name, "seed");
	assert_int_equal(cfg->phases[1].run_once, 1);
	assert_string_equal(cfg->phases[1].outputs, "seed-out");
	assert_int_equal(cfg->phases[2].run_once, 0);
	assert_int_equal(cfg->phases_line, 6);
	assert_string_equal(cfg->teardown_templates, "deploy/teardown");
	assert_int_equal(cfg->teardown_timeout, 120);
	config_free(cfg);
}

static void test_config_phases_absent_is_today(void **state)
{
	static const char yaml[] = "templates: tpl\n" HEAD "on_destroy:\n  templates: down\n";
	struct prenv_config *cfg = NULL;
	struct prenv_err err = PRENV_ERR_INIT;

	(void)state;
	assert_int_equal(config_parse(&cfg, "d/.prenv.yml", yaml, strlen(yaml), provider_schemas(), &err), 0);
	assert_int_equal(cfg->nphases, 0);
	assert_null(cfg->phases);
	assert_string_equal(cfg->templates, "tpl");
	assert_int_equal(cfg->teardown_timeout, 300); /* the default: 5m */
	config_free(cfg);
}

static void test_config_phases_with_services(void **state)
{
	static const char yaml[] = SVC
		"phases:\n"
		"  - name: data\n    templates: db\n"
		"  - name: seed\n    templates: deploy/seed\n    run: once\n"
		"  - name: app\n    templates: [api, web]\n";
	struct prenv_config *cfg = NULL;
	struct prenv_err err = PRENV_ERR_INIT;

	(void)state;
	assert_int_equal(config_parse(&cfg, "d/.prenv.yml", yaml, strlen(yaml), provider_schemas(), &err), 0);
	assert_int_equal(cfg->nphases, 3);
	assert_int_equal(cfg->nservices, 3);
	/* a name of a service: that service (the name is kept: the tool checks
	 * it is not a directory too) */
	assert_string_equal(cfg->phases[0].templates, "db");
	assert_int_equal(cfg->phases[0].nservices, 1);
	assert_string_equal(cfg->phases[0].services[0], "db");
	assert_null(cfg->phases[0].services[1]);
	/* anything else: a directory */
	assert_string_equal(cfg->phases[1].templates, "deploy/seed");
	assert_int_equal(cfg->phases[1].nservices, 0);
	assert_null(cfg->phases[1].services);
	/* a list: services, in its order */
	assert_null(cfg->phases[2].templates);
	assert_int_equal(cfg->phases[2].nservices, 2);
	assert_string_equal(cfg->phases[2].services[0], "api");
	assert_string_equal(cfg->phases[2].services[1], "web");
	assert_null(cfg->phases[2].services[2]);
	assert_int_equal(cfg->phases[2].templates_line, 20);
	assert_int_equal(cfg->phases[2].templates_col, 16);
	config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_phases_error_table),
		cmocka_unit_test(test_config_phases_parse),
		cmocka_unit_test(test_config_phases_absent_is_today),
		cmocka_unit_test(test_config_phases_with_services),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
