/* test_logical_config.c - `logical:`, `shared_paths:` and the services'
 * paths, calls and stateful in .prenv.yml (config/logical_config.c and the
 * rows of services.c's table): what parses, and every error at
 * file:line:col with what to do; and the PR comment's table of what a
 * logical environment deployed and borrowed (report/report.c). */
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
#include "util/buf.h"
#include "util/err.h"

#define HEAD "app: shop\nprovider:\n  kind: kubernetes\nenvironments:\n  - pull_request: true\n"
/* line 6 on */
#define SVCS "services:\n" \
	"  web: { templates: deploy/web, paths: [\"web/**\"], calls: [api] }\n" \
	"  api: { templates: deploy/api, paths: [\"api/**\", \"proto/**\"], calls: [db] }\n" \
	"  db: { templates: deploy/db, paths: [\"db/**\"], stateful: true }\n"

static struct prenv_config *parse(const char *yaml, struct prenv_err *err)
{
	struct prenv_config *cfg = NULL;

	config_parse(&cfg, "dir/.prenv.yml", yaml, strlen(yaml), provider_schemas(), err);
	return cfg;
}

static void issue_example_parses(void **state)
{
	static const char yaml[] = HEAD "  - branch: main\n    logical: false\n"
		"logical:\n  baseline: staging\n" SVCS "shared_paths: [\"deploy/common/**\"]\n";
	struct prenv_err err = PRENV_ERR_INIT;
	struct prenv_config *cfg = parse(yaml, &err);
	const cJSON *calls;

	(void)state;
	if (!cfg)
		print_error("%d:%d: %s\n", err.line, err.col, err.msg);
	assert_non_null(cfg);
	assert_string_equal(cfg->logical.baseline, "staging");
	assert_null(cfg->logical.namespace_);
	assert_int_equal(cfg->logical.line, 8);
	assert_int_equal(cfg->logical.nshared, 1);
	assert_string_equal(cfg->logical.shared_paths[0], "deploy/common/**");
	assert_int_equal(cfg->rules[0].logical, -1);
	assert_int_equal(cfg->rules[1].logical, 0);
	calls = cJSON_GetObjectItemCaseSensitive(cfg->services[0].keys, "calls");
	assert_string_equal(cJSON_GetArrayItem(calls, 0)->valuestring, "api");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(cfg->services[1].keys,
									     "paths")), 2);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cfg->services[2].keys, "stateful")));
	/* the default */
	assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(cfg->services[0].keys, "stateful")));
	config_free(cfg);
}

static void namespace_given(void **state)
{
	static const char yaml[] = HEAD "logical: {baseline: staging, namespace: shop-stage}\n" SVCS;
	struct prenv_err err = PRENV_ERR_INIT;
	struct prenv_config *cfg = parse(yaml, &err);

	(void)state;
	assert_non_null(cfg);
	assert_string_equal(cfg->logical.namespace_, "shop-stage");
	assert_int_equal(cfg->logical.nshared, 0);
	config_free(cfg);
}

/* Without logical: nothing changes (the keys parse, nothing is on). */
static void without_logical(void **state)
{
	static const char yaml[] = HEAD SVCS;
	struct prenv_err err = PRENV_ERR_INIT;
	struct prenv_config *cfg = parse(yaml, &err);

	(void)state;
	assert_non_null(cfg);
	assert_null(cfg->logical.baseline);
	assert_int_equal(cfg->rules[0].logical, -1);
	config_free(cfg);
}

struct bad {
	const char *what;
	const char *yaml;
	int line, col;
	const char *want1, *want2;
};

static const struct bad bads[] = {
	{ "calls a service that does not exist: did you mean",
	  HEAD "logical: {baseline: staging}\nservices:\n"
	  "  web: { templates: deploy/web, calls: [apo] }\n  api: { templates: deploy/api }\n",
	  8, 41, "service 'web' calls 'apo', which is not a service", "did you mean 'api'?" },
	{ "calls itself", HEAD "services:\n  web: { templates: t, calls: [web] }\n", 7, 32,
	  "lists itself in 'calls'", NULL },
	{ "unknown service key: did you mean paths",
	  HEAD "services:\n  web:\n    templates: t\n    path: [\"web/**\"]\n", 9, 5,
	  "unknown key 'path' in service 'web'", "did you mean 'paths'?" },
	{ "stateful is not a boolean", HEAD "services:\n  db: { templates: t, stateful: yes }\n", 7, 33,
	  "'stateful' must be true or false", NULL },
	{ "paths is a string", HEAD "services:\n  db: { templates: t, paths: db }\n", 7, 30,
	  "'paths' must be a list of strings", NULL },
	{ "an absolute path glob", HEAD "services:\n  db: { templates: t, paths: [\"/db/**\"] }\n", 7,
	  31, "must be relative to the repository's top", NULL },
	{ "a .. path glob", HEAD "services:\n  db: { templates: t, paths: [\"../db/**\"] }\n", 7, 31,
	  "has an empty, '.' or '..' part", NULL },
	{ "logical without services", HEAD "templates: t\nlogical: {baseline: staging}\n", 7, 1,
	  "'logical' needs `services:`", NULL },
	{ "logical with phases",
	  HEAD "phases:\n  - {name: app, templates: [web]}\nlogical: {baseline: s}\n"
	  "services:\n  web: { templates: deploy/web }\n", 8, 1,
	  "'logical' and 'phases' do not go together yet", NULL },
	{ "logical without baseline", HEAD "logical: {namespace: x}\n" SVCS, 6, 10,
	  "missing required key 'baseline' in logical", NULL },
	{ "logical: false at the top", HEAD "logical: false\n" SVCS, 6, 10,
	  "write `logical: false` in their rule", NULL },
	{ "unknown key in logical: did you mean", HEAD "logical: {baseline: s, baselin: t}\n" SVCS, 6, 24,
	  "unknown key 'baselin' in logical", "did you mean 'baseline'?" },
	{ "baseline is not a name", HEAD "logical: {baseline: Staging_1}\n" SVCS, 6, 21,
	  "logical.baseline must be an environment's name", "got 'Staging_1'" },
	{ "namespace is not a label", HEAD "logical: {baseline: s, namespace: \"a.b\"}\n" SVCS, 6, 35,
	  "logical.namespace must be a namespace", NULL },
	{ "shared_paths without logical", HEAD SVCS "shared_paths: [\"a/**\"]\n", 10, 15,
	  "'shared_paths' needs `logical:`", NULL },
	{ "shared_paths is a string", HEAD "logical: {baseline: s}\n" SVCS "shared_paths: a\n", 11, 15,
	  "'shared_paths' must be a list", NULL },
	{ "shared path with a leading !", HEAD "logical: {baseline: s}\n" SVCS "shared_paths: [\"!a\"]\n",
	  11, 16, "without a leading '!'", NULL },
	{ "a rule's logical without the block",
	  "app: shop\nprovider:\n  kind: kubernetes\nenvironments:\n  - pull_request: true\n"
	  "    logical: true\n" SVCS, 6, 14, "no top-level `logical:`", NULL },
	{ "a rule's logical is not a boolean",
	  "app: shop\nprovider:\n  kind: kubernetes\nenvironments:\n  - pull_request: true\n"
	  "    logical: off\nlogical: {baseline: s}\n" SVCS, 6, 14, "'logical' must be true or false", NULL },
};

static void errors(void **state)
{
	size_t i, failures = 0;

	(void)state;
	for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		const struct bad *b = &bads[i];
		struct prenv_err err = PRENV_ERR_INIT;
		struct prenv_config *cfg = parse(b->yaml, &err);
		int ok = !cfg && err.code == PRENV_ECONFIG && err.file &&
			 !strcmp(err.file, "dir/.prenv.yml") && err.line == b->line && err.col == b->col &&
			 err.msg && strstr(err.msg, b->want1) && (!b->want2 || strstr(err.msg, b->want2));

		if (!ok) {
			print_error("%s: got %d:%d %s (want %d:%d)\n", b->what, err.line, err.col,
				    err.msg ? err.msg : "(no error)", b->line, b->col);
			failures++;
		}
		config_free(cfg);
		prenv_err_clear(&err);
	}
	assert_int_equal(failures, 0);
}

static char *comment(const char *services_json, const char *status)
{
	static const char yaml[] = HEAD SVCS;
	struct prenv_err err = PRENV_ERR_INIT;
	struct prenv_config *cfg = parse(yaml, &err);
	struct prenv_context ctx;
	struct prenv_plan plan;
	struct report_info ri;
	struct prenv_buf b = PRENV_BUF_INIT;

	memset(&ctx, 0, sizeof(ctx));
	memset(&plan, 0, sizeof(plan));
	memset(&ri, 0, sizeof(ri));
	plan.env_name = (char *)"pr-7";
	plan.services = cJSON_Parse(services_json);
	ri.cfg = cfg;
	ri.ctx = &ctx;
	ri.plan = &plan;
	ri.status = status;
	assert_int_equal(0, report_comment_body(&b, &ri));
	cJSON_Delete(plan.services);
	config_free(cfg);
	return prenv_buf_detach(&b, NULL);
}

/* Each service deployed (and why) or borrowed (and from where); a file
 * name from the pull request is escaped. */
static void comment_lists_deployed_and_borrowed(void **state)
{
	char *body = comment("[{\"name\":\"api\",\"logical\":\"deployed\",\"logical_why\":"
			     "\"changed (api/<b>x|y.go matches api/**)\"},"
			     "{\"name\":\"web\",\"logical\":\"deployed\",\"logical_why\":\"calls api\"},"
			     "{\"name\":\"search\",\"logical\":\"borrowed\",\"logical_why\":"
			     "\"borrowed from staging (namespace shop-staging)\"}]", "ready");

	(void)state;
	assert_non_null(strstr(body, "**Logical environment:** only what this change touches"));
	assert_non_null(strstr(body, "| Service | | Why |"));
	assert_non_null(strstr(body, "| api | deployed | changed (api/&lt;b&gt;x\\|y.go matches api/\\*\\*) |"));
	assert_non_null(strstr(body, "| web | deployed | calls api |"));
	assert_non_null(strstr(body, "| search | borrowed | borrowed from staging (namespace shop-staging) |"));
	free(body);
	/* gone once destroyed */
	body = comment("[{\"name\":\"api\",\"logical\":\"deployed\",\"logical_why\":\"calls x\"}]",
		       "destroyed");
	assert_null(strstr(body, "Logical environment"));
	free(body);
}

/* Everything deployed for one reason: one line, not a row per service. */
static void comment_says_everything_once(void **state)
{
	char *body = comment("[{\"name\":\"api\",\"logical\":\"deployed\",\"logical_why\":"
			     "\"everything: deploy/common/a matches shared path deploy/common/**\"},"
			     "{\"name\":\"web\",\"logical\":\"deployed\",\"logical_why\":"
			     "\"everything: deploy/common/a matches shared path deploy/common/**\"}]", "ready");

	(void)state;
	assert_non_null(strstr(body, "**Logical environment:** every service is deployed \xe2\x80\x94 "
			       "deploy/common/a matches shared path"));
	assert_null(strstr(body, "| Service | | Why |"));
	free(body);
	/* not a logical environment: nothing */
	body = comment("[{\"name\":\"api\"}]", "ready");
	assert_null(strstr(body, "Logical environment"));
	free(body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(issue_example_parses),
		cmocka_unit_test(namespace_given),
		cmocka_unit_test(without_logical),
		cmocka_unit_test(errors),
		cmocka_unit_test(comment_lists_deployed_and_borrowed),
		cmocka_unit_test(comment_says_everything_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
