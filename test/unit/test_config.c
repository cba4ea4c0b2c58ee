/* test_config.c - .prenv.yml parsing: valid files and every error path. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "registry.h"
#include "util/buf.h"
#include "util/err.h"

#define FIX "test/fixtures/config/"

#define PROV "provider:\n  kind: kubernetes\n"
#define ENVS "environments:\n  - pull_request: true\n"

/* ------------------------------------------------------------------ */
/* Error table                                                         */

struct bad_case {
	const char *name;
	const char *yaml;
	int line, col;
	const char *want1; /* substrings the message must contain */
	const char *want2;
};

static const struct bad_case bad_cases[] = {
	{ "unknown top-level key with suggestion",
	  "app: shop\nprovder:\n  kind: kubernetes\n" ENVS, 2, 1,
	  "unknown key 'provder' in the top level; did you mean 'provider'?",
	  "valid keys: version, app, templates, allow_empty, url, forks, provider, environments, values" },
	{ "unknown key without a near match",
	  "app: shop\n" PROV ENVS "zzzzzzzz: 1\n", 6, 1, "unknown key 'zzzzzzzz'", "valid keys:" },
	{ "missing app", PROV ENVS, 1, 1, "missing required key 'app'", "the top level" },
	{ "missing provider", "app: shop\n" ENVS, 1, 1, "missing required key 'provider'", NULL },
	{ "missing environments", "app: shop\n" PROV, 1, 1, "missing required key 'environments'", NULL },
	{ "empty environments", "app: shop\n" PROV "environments: []\n", 4, 15,
	  "'environments' is empty", "pull_request: true" },
	{ "environments is a string", "app: shop\n" PROV "environments: main\n", 4, 15,
	  "'environments' must be a list", "got 'main'" },
	{ "rule is not a mapping", "app: shop\n" PROV "environments:\n  - main\n", 5, 5,
	  "each item of 'environments' must be a mapping", "got 'main'" },
	{ "app not a DNS label", "app: Shop_App\n" PROV ENVS, 1, 6, "'app' must be a DNS-1123 label",
	  "try 'shop-app'" },
	{ "app too long", "app: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n" PROV ENVS, 1, 6,
	  "at most 40 characters", "'app'" },
	{ "app is a list", "app: [a]\n" PROV ENVS, 1, 6, "'app' must be a string", "got a list" },
	{ "app is empty", "app:\n" PROV ENVS, 1, 5, "'app' must be a string", "got an empty value" },
	{ "version 2", "version: 2\napp: shop\n" PROV ENVS, 1, 10, "'version' must be 1", "got 2" },
	{ "version not a number", "version: one\napp: shop\n" PROV ENVS, 1, 10,
	  "'version' must be a whole number", "got 'one'" },
	{ "version quoted", "version: \"1\"\napp: shop\n" PROV ENVS, 1, 10,
	  "'version' must be a whole number", "quoted string '1'" },
	{ "duplicate top-level key", "app: shop\napp: shop2\n" PROV ENVS, 2, 1,
	  "duplicate key 'app' in the top level", "line 1, column 1" },
	{ "forks bad value", "app: shop\nforks: always\n" PROV ENVS, 2, 8,
	  "'forks' cannot be 'always'", "valid values: skip, deploy" },
	{ "provider not a mapping", "app: shop\nprovider: kubernetes\n" ENVS, 2, 11,
	  "'provider' must be a mapping", "got 'kubernetes'" },
	{ "provider without kind", "app: shop\nprovider:\n  context: x\n" ENVS, 3, 3,
	  "missing required key 'kind' in 'provider'", "kubernetes, pages, command" },
	{ "provider kind typo", "app: shop\nprovider:\n  kind: kubernets\n" ENVS, 3, 9,
	  "'kind' cannot be 'kubernets'; did you mean 'kubernetes'?",
	  "valid values: kubernetes, pages, command" },
	{ "provider key of another kind", "app: shop\nprovider:\n  kind: pages\n  source: s\n"
	  "  target: dir:out\n  namespace: x\n" ENVS, 6, 3,
	  "unknown key 'namespace' in 'provider' (kind: pages)",
	  "valid keys: kind, source, target, commit_message, author" },
	{ "provider key typo", "app: shop\nprovider:\n  kind: kubernetes\n  contxt: prod\n" ENVS, 4, 3,
	  "unknown key 'contxt'", "did you mean 'context'?" },
	{ "duplicate provider key", "app: shop\nprovider:\n  kind: kubernetes\n  wait: 5m\n  wait: 6m\n"
	  ENVS, 5, 3, "duplicate key 'wait' in 'provider' (kind: kubernetes)", "line 4" },
	{ "wait bad duration", "app: shop\nprovider:\n  kind: kubernetes\n  wait: 5 minutes\n" ENVS, 4, 9,
	  "'wait' must be a duration like 300s", "got '5 minutes'" },
	{ "wait is a list", "app: shop\nprovider:\n  kind: kubernetes\n  wait: [1]\n" ENVS, 4, 9,
	  "'wait' must be a duration", "got a list" },
	{ "wait is a mapping", "app: shop\nprovider:\n  kind: kubernetes\n  wait:\n    a: 1\n" ENVS, 5, 5,
	  "'wait' must be a duration", "got a mapping" },
	{ "wait beyond a year", "app: shop\nprovider:\n  kind: kubernetes\n  wait: 10000000000000000\n"
	  ENVS, 4, 9, "'wait' is too long: at most 365d (a year)", "got '10000000000000000'" },
	{ "wait 366d", "app: shop\nprovider:\n  kind: kubernetes\n  wait: 366d\n" ENVS, 4, 9,
	  "'wait' is too long", "got '366d'" },
	{ "allow_namespaces not a list", "app: shop\nprovider:\n  kind: kubernetes\n"
	  "  allow_namespaces: shop\n" ENVS, 4, 21, "'allow_namespaces' must be a list of strings",
	  "got 'shop'" },
	{ "allow_namespaces item is a list", "app: shop\nprovider:\n  kind: kubernetes\n"
	  "  allow_namespaces: [a, [b]]\n" ENVS, 4, 25, "'allow_namespaces' must be a list of strings",
	  "got a list" },
	{ "labels value is a mapping", "app: shop\nprovider:\n  kind: kubernetes\n  labels:\n"
	  "    team:\n      a: b\n" ENVS, 6, 7, "'labels.team' must be a string", "got a mapping" },
	{ "labels is a list", "app: shop\nprovider:\n  kind: kubernetes\n  labels: [a]\n" ENVS, 4, 11,
	  "'labels' must be a mapping", "got a list" },
	{ "pages missing target", "app: shop\nprovider:\n  kind: pages\n  source: site\n" ENVS, 3, 3,
	  "missing required key 'target' in 'provider' (kind: pages)", NULL },
	{ "pages bad target", "app: shop\nprovider:\n  kind: pages\n  source: site\n"
	  "  target: /srv/www\n" ENVS, 5, 11, "'target' must be dir:PATH or git:URL#BRANCH",
	  "'/srv/www'" },
	{ "pages git target without branch", "app: shop\nprovider:\n  kind: pages\n  source: site\n"
	  "  target: \"git:https://x/y.git\"\n" ENVS, 5, 11, "git:URL#BRANCH", NULL },
	{ "command deploy missing", "app: shop\nprovider:\n  kind: command\n  status: [x]\n" ENVS, 3, 3,
	  "missing required key 'deploy' in 'provider' (kind: command)", NULL },
	{ "command deploy is a string", "app: shop\nprovider:\n  kind: command\n"
	  "  deploy: ./deploy.sh up\n" ENVS, 4, 11, "'deploy' must be a list of strings",
	  "got './deploy.sh up'" },
	{ "command deploy empty", "app: shop\nprovider:\n  kind: command\n  deploy: []\n" ENVS, 4, 11,
	  "'deploy' must not be empty", NULL },
	{ "command timeout bad", "app: shop\nprovider:\n  kind: command\n  deploy: [x]\n"
	  "  timeout: soon\n" ENVS, 5, 12, "'timeout' must be a duration", "got 'soon'" },
	{ "command timeout beyond a year", "app: shop\nprovider:\n  kind: command\n  deploy: [x]\n"
	  "  timeout: 8761h\n" ENVS, 5, 12, "'timeout' is too long: at most 365d", "got '8761h'" },
	{ "rule key typo", "app: shop\n" PROV "environments:\n  - pull_request: true\n    brnach: main\n",
	  6, 5, "unknown key 'brnach' in environments item 1", "did you mean 'branch'?" },
	{ "second rule key typo", "app: shop\n" PROV "environments:\n  - branch: main\n"
	  "  - pull_reqest: true\n", 6, 5, "unknown key 'pull_reqest' in environments item 2",
	  "did you mean 'pull_request'?" },
	{ "rule kind typo", "app: shop\n" PROV "environments:\n  - branch: main\n    kind: prodution\n",
	  6, 11, "'kind' cannot be 'prodution'; did you mean 'production'?",
	  "preview, development, uat, staging, production" },
	{ "pull_request yes", "app: shop\n" PROV "environments:\n  - pull_request: yes\n", 5, 19,
	  "'pull_request' must be true or false", "got 'yes'" },
	{ "protected quoted", "app: shop\n" PROV "environments:\n  - branch: main\n    protected: \"true\"\n",
	  6, 16, "'protected' must be true or false", "quoted string 'true'" },
	{ "ttl bad", "app: shop\n" PROV "environments:\n  - pull_request: true\n    ttl: 3w\n", 6, 10,
	  "'ttl' must be a duration like 300s, 5m, 72h, 1h30m or 2d", "got '3w'" },
	{ "ttl units out of order", "app: shop\n" PROV "environments:\n  - pull_request: true\n"
	  "    ttl: 30m1h\n", 6, 10, "'ttl' must be a duration", "'30m1h'" },
	{ "ttl beyond a year", "app: shop\n" PROV "environments:\n  - pull_request: true\n"
	  "    ttl: 99999999999999\n", 6, 10, "'ttl' is too long: at most 365d", "99999999999999" },
	{ "tag and branch in one rule", "app: shop\n" PROV "environments:\n  - branch: main\n"
	  "    tag: \"v*\"\n", 6, 10, "a rule matches a branch or a tag, not both",
	  "make two rules" },
	{ "tag with pull_request: true", "app: shop\n" PROV "environments:\n  - tag: \"v*\"\n"
	  "    pull_request: true\n", 6, 19, "a 'tag' rule never matches a pull request", NULL },
	{ "tag unclosed class", "app: shop\n" PROV "environments:\n  - tag: \"v[0-9\"\n", 5, 10,
	  "'tag' pattern 'v[0-9' has a '[' without a closing ']'", NULL },
	{ "tag empty pattern", "app: shop\n" PROV "environments:\n  - tag: \"!\"\n", 5, 10,
	  "'tag' must be a tag name or pattern", NULL },
	{ "branch unclosed class", "app: shop\n" PROV "environments:\n  - branch: \"feat[ure\"\n", 5, 13,
	  "without a closing ']'", "'branch'" },
	{ "branch inner negation", "app: shop\n" PROV "environments:\n  - branch: \"a!b\"\n", 5, 13,
	  "'!' (not) may only stand at the start", NULL },
	{ "branch is a list", "app: shop\n" PROV "environments:\n  - branch: [main]\n", 5, 13,
	  "'branch' must be a string", "got a list" },
	{ "duplicate rule key", "app: shop\n" PROV "environments:\n  - branch: main\n    branch: dev\n",
	  6, 5, "duplicate key 'branch' in environments item 1", "line 5, column 5" },
	{ "values is a list", "app: shop\n" PROV ENVS "values: [a]\n", 6, 9,
	  "'values' must be a mapping", "got a list" },
	{ "value is a list", "app: shop\n" PROV ENVS "values:\n  tags: [a, b]\n", 7, 9,
	  "'values.tags'", "lists are not supported" },
	{ "nested value is a list", "app: shop\n" PROV ENVS "values:\n  db:\n    hosts: [a]\n", 8, 12,
	  "'values.db.hosts'", "lists are not supported" },
	{ "value is empty", "app: shop\n" PROV ENVS "values:\n  image: ~\n", 7, 10,
	  "'values.image'", "write \"\" for an empty one" },
	{ "value name with a dot", "app: shop\n" PROV ENVS "values:\n  a.b: x\n", 7, 3,
	  "names in 'values' may use only letters", "'a.b'" },
	{ "duplicate value", "app: shop\n" PROV ENVS "values:\n  a: x\n  a: y\n", 8, 3,
	  "duplicate key 'a' in 'values'", NULL },
	{ "NUL in a string", "app: \"sh\\0op\"\n" PROV ENVS, 1, 6, "'app' contains a NUL character", NULL },
	{ "complex key", "? [a]\n: b\napp: shop\n" PROV ENVS, 1, 3,
	  "keys in the top level must be plain names", NULL },
	{ "YAML syntax error: unclosed flow sequence", "app: shop\nurl: [a, b\n" PROV ENVS, 3, 9,
	  "YAML syntax error", "while parsing a flow sequence" },
	{ "YAML syntax error: bad indentation", "app: shop\nprovider:\n  kind: kubernetes\n"
	  " context: x\n" ENVS, 4, 2, "YAML syntax error: did not find expected key",
	  "while parsing a block mapping that starts at line 1, column 1" },
	{ "YAML syntax error: tab", "app: shop\n\tprovider: x\n", 2, 1, "YAML syntax error", "tab" },
	{ "YAML syntax error: unclosed quote", "app: \"shop\n", 2, 1, "YAML syntax error",
	  "found unexpected end of stream" },
	{ "anchor", "app: &a shop\n" PROV ENVS, 1, 6, "YAML anchors (&a) are not supported", NULL },
	{ "alias", "app: shop\nurl: *nope\n" PROV ENVS, 2, 6, "YAML aliases (*nope) are not supported", NULL },
	{ "anchored mapping", "app: shop\nprovider: &p\n  kind: kubernetes\n" ENVS, 2, 11,
	  "YAML anchors (&p)", NULL },
	{ "tag", "app: !!str shop\n" PROV ENVS, 1, 6, "YAML tags (tag:yaml.org,2002:str) are not supported", NULL },
	{ "two documents", "app: shop\n" PROV ENVS "---\napp: other\n", 6, 1,
	  "a second YAML document starts here", NULL },
	{ "empty file", "", 1, 1, "the config is empty", "'app'" },
	{ "only comments", "# nothing here\n\n", 1, 1, "the config is empty", NULL },
	{ "explicit null document", "~\n", 1, 1, "the config is empty", NULL },
	{ "top level is a list", "- app: shop\n", 1, 1, "the top level must be a mapping", "got a list" },
	{ "top level is a string", "shop\n", 1, 1, "the top level must be a mapping", "got 'shop'" },
};

static void test_config_error_table(void **state)
{
	size_t i, failures = 0;

	(void)state;
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *t = &bad_cases[i];
		struct prenv_config *cfg = (struct prenv_config *)(uintptr_t)1;
		struct prenv_err err = PRENV_ERR_INIT;
		int rc = config_parse(&cfg, "dir/.prenv.yml", t->yaml, strlen(t->yaml), provider_schemas(), &err);
		int ok = rc == PRENV_ECONFIG && cfg == NULL && err.code == PRENV_ECONFIG &&
			 err.file && !strcmp(err.file, "dir/.prenv.yml") && err.line == t->line &&
			 err.col == t->col && err.msg && strstr(err.msg, t->want1) &&
			 (!t->want2 || strstr(err.msg, t->want2));
		if (getenv("TEST_VERBOSE"))
			printf("%s:%d:%d: %s\n", err.file, err.line, err.col, err.msg);
		if (!ok) {
			printf("case '%s': rc=%d at %d:%d (want %d:%d): %s\n", t->name, rc, err.line,
			       err.col, t->line, t->col, err.msg ? err.msg : "(no message)");
			failures++;
		}
		if (rc == 0)
			config_free(cfg);
		prenv_err_clear(&err);
	}
	printf("# config error cases: %zu, failed: %zu\n", i, failures);
	assert_int_equal(failures, 0);
}

/* ------------------------------------------------------------------ */
/* Valid files                                                         */

static struct prenv_config *load_ok(const char *path)
{
	struct prenv_config *cfg = NULL;
	struct prenv_err err = PRENV_ERR_INIT;
	int rc = config_load(&cfg, path, provider_schemas(), &err);

	if (rc)
		printf("%s:%d:%d: %s\n", err.file ? err.file : "?", err.line, err.col, err.msg);
	assert_int_equal(rc, 0);
	assert_non_null(cfg);
	prenv_err_clear(&err);
	return cfg;
}

static const char *jstr(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double jnum(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsNumber(v) ? v->valuedouble : -12345;
}

static void test_config_design_draft_parses(void **state)
{
	struct prenv_config *cfg = load_ok(FIX "design.yml");

	(void)state;
	assert_string_equal(cfg->path, FIX "design.yml");
	assert_string_equal(cfg->dir, "test/fixtures/config");
	assert_int_equal(cfg->version, 1);
	assert_string_equal(cfg->app, "shop");
	assert_string_equal(cfg->templates, "deploy/preview");
	assert_string_equal(cfg->url, "https://{{env.name}}.preview.example.com");
	assert_string_equal(cfg->forks, "skip");
	assert_string_equal(cfg->provider_kind, "kubernetes");
	assert_string_equal(jstr(cfg->provider, "kind"), "kubernetes");
	assert_string_equal(jstr(cfg->provider, "context"), "preview");
	assert_string_equal(jstr(cfg->provider, "namespace"), "{{app}}-{{env.name}}");
	assert_true(jnum(cfg->provider, "wait") == 300);
	assert_int_equal(cfg->nrules, 2);
	assert_string_equal(cfg->rules[0].branch, "main");
	assert_string_equal(cfg->rules[0].name, "production");
	assert_int_equal(cfg->rules[0].kind, ENV_KIND_PRODUCTION);
	assert_int_equal(cfg->rules[0].kind_set, 1);
	assert_int_equal(cfg->rules[0].protected_, 1);
	assert_int_equal(cfg->rules[0].pull_request, -1);
	assert_int_equal(cfg->rules[0].ttl_seconds, 0);
	assert_int_equal(cfg->rules[0].line, 11);
	assert_int_equal(cfg->rules[0].col, 5);
	assert_null(cfg->rules[1].branch);
	assert_null(cfg->rules[1].name);
	assert_int_equal(cfg->rules[1].pull_request, 1);
	assert_int_equal(cfg->rules[1].kind, ENV_KIND_PREVIEW);
	assert_int_equal(cfg->rules[1].protected_, 0);
	assert_int_equal(cfg->rules[1].ttl_seconds, 72 * 3600);
	assert_int_equal(cfg->environments_line, 10);
	assert_int_equal(cfg->environments_col, 1);
	assert_string_equal(jstr(cfg->values, "image"), "ghcr.io/acme/shop:{{git.sha}}");
	config_free(cfg);
}

static void test_config_pages_file(void **state)
{
	struct prenv_config *cfg = load_ok(FIX "pages.yml");

	(void)state;
	assert_string_equal(cfg->forks, "deploy");
	assert_string_equal(cfg->provider_kind, "pages");
	assert_string_equal(jstr(cfg->provider, "target"),
			    "git:https://github.com/acme/docs.git#gh-pages:previews");
	assert_string_equal(jstr(cfg->provider, "source"), "site/");
	assert_null(cJSON_GetObjectItemCaseSensitive(cfg->provider, "namespace"));
	assert_null(cJSON_GetObjectItemCaseSensitive(cfg->provider, "wait"));
	assert_int_equal(cfg->nrules, 3);
	assert_int_equal(cfg->rules[0].ttl_seconds, 2 * 86400);
	assert_string_equal(cfg->rules[1].branch, "releases/**");
	assert_int_equal(cfg->rules[1].kind, ENV_KIND_STAGING);
	/* The empty rule is a catch-all. */
	assert_null(cfg->rules[2].branch);
	assert_int_equal(cfg->rules[2].pull_request, -1);
	assert_int_equal(cfg->rules[2].kind_set, 0);
	assert_int_equal(cfg->rules[2].kind, ENV_KIND_DEVELOPMENT);
	assert_null(cfg->values);
	config_free(cfg);
}

static void test_config_command_file(void **state)
{
	struct prenv_config *cfg = load_ok(FIX "command.yml");
	const cJSON *deploy, *destroy, *env, *db;

	(void)state;
	assert_int_equal(cfg->version, 1); /* version defaults to 1 */
	deploy = cJSON_GetObjectItemCaseSensitive(cfg->provider, "deploy");
	assert_true(cJSON_IsArray(deploy));
	assert_int_equal(cJSON_GetArraySize(deploy), 4);
	assert_string_equal(cJSON_GetArrayItem(deploy, 3)->valuestring, "{{env.name}}");
	destroy = cJSON_GetObjectItemCaseSensitive(cfg->provider, "destroy");
	assert_int_equal(cJSON_GetArraySize(destroy), 2);
	assert_string_equal(cJSON_GetArrayItem(destroy, 1)->valuestring, "down");
	env = cJSON_GetObjectItemCaseSensitive(cfg->provider, "env");
	assert_string_equal(jstr(env, "REGION"), "eu-west-1");
	assert_string_equal(jstr(env, "REPLICAS"), "2"); /* numbers become text */
	assert_true(jnum(cfg->provider, "timeout") == 5400);
	assert_int_equal(cfg->rules[1].pull_request, 0);
	assert_int_equal(cfg->rules[1].kind, ENV_KIND_UAT);
	assert_string_equal(jstr(cfg->values, "replicas"), "3");
	assert_string_equal(jstr(cfg->values, "debug"), "true");
	db = cJSON_GetObjectItemCaseSensitive(cfg->values, "db");
	assert_string_equal(jstr(db, "host"), "db.{{env.name}}.internal");
	assert_string_equal(jstr(db, "port"), "5432");
	config_free(cfg);
}

static void test_config_kubernetes_keys(void **state)
{
	struct prenv_config *cfg = load_ok(FIX "kubernetes-full.yml");
	const cJSON *allow;

	(void)state;
	assert_string_equal(jstr(cfg->provider, "kubeconfig"), "~/.kube/config");
	assert_true(jnum(cfg->provider, "wait") == 300);
	/* default namespace filled in */
	assert_string_equal(jstr(cfg->provider, "namespace"), "{{app}}-{{env.name}}");
	allow = cJSON_GetObjectItemCaseSensitive(cfg->provider, "allow_namespaces");
	assert_int_equal(cJSON_GetArraySize(allow), 2);
	assert_string_equal(cJSON_GetArrayItem(allow, 1)->valuestring, "shop-*");
	assert_string_equal(jstr(cJSON_GetObjectItemCaseSensitive(cfg->provider, "labels"), "team"), "web");
	assert_string_equal(jstr(cJSON_GetObjectItemCaseSensitive(cfg->provider, "annotations"), "owner"),
			    "alice");
	config_free(cfg);
}

static void test_config_missing_file(void **state)
{
	struct prenv_config *cfg = NULL;
	struct prenv_err err = PRENV_ERR_INIT;

	(void)state;
	assert_int_equal(config_load(&cfg, "test/fixtures/config/does-not-exist.yml", provider_schemas(), &err),
			 PRENV_ECONFIG);
	assert_null(cfg);
	assert_non_null(strstr(err.msg, "cannot read test/fixtures/config/does-not-exist.yml"));
	assert_non_null(strstr(err.msg, "-c FILE"));
	prenv_err_clear(&err);
	config_free(NULL); /* no-op */
}

static void test_config_no_path_name(void **state)
{
	struct prenv_config *cfg = NULL;
	struct prenv_err err = PRENV_ERR_INIT;
	const char *y = "app: shop\n" PROV ENVS;

	(void)state;
	assert_int_equal(config_parse(&cfg, "x.yml", y, strlen(y), provider_schemas(), &err), 0);
	assert_string_equal(cfg->dir, ".");
	config_free(cfg);
	assert_int_equal(config_parse(&cfg, "/x.yml", y, strlen(y), provider_schemas(), &err), 0);
	assert_string_equal(cfg->dir, "/");
	config_free(cfg);
}

/* Truncating a valid file anywhere gives either a config or an error with a
 * position inside the file, never a crash or a leak. */
static void test_config_every_prefix(void **state)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	size_t n, ok = 0, bad = 0;

	(void)state;
	assert_int_equal(prenv_buf_read_file(&b, FIX "design.yml"), 0);
	for (n = 0; n <= b.len; n++) {
		struct prenv_config *cfg = NULL;
		struct prenv_err err = PRENV_ERR_INIT;
		int rc = config_parse(&cfg, "p.yml", b.ptr, n, provider_schemas(), &err);
		if (rc == 0) {
			ok++;
			config_free(cfg);
		} else {
			assert_int_equal(rc, PRENV_ECONFIG);
			assert_null(cfg);
			assert_true(err.line >= 1 && err.line <= 20);
			assert_true(err.col >= 1);
			bad++;
		}
		prenv_err_clear(&err);
	}
	printf("# design.yml prefixes: %zu parse, %zu rejected\n", ok, bad);
	assert_true(ok > 0 && bad > 0);
	prenv_buf_free(&b);
}

/* A mapping of many keys (values, labels) near the 1 MiB limit loads in
 * time that grows with n log n, not n^2: the duplicate check compared every
 * key with every earlier one: 60000 keys took 10+ s of CPU (a PR can change
 * .prenv.yml). The last key repeats the first, so the check still runs to
 * the end and names the repeat's position. Measured in CPU time, with a
 * bound far above what the loader needs (under 1 s with ASan). */
static void test_config_many_keys_not_quadratic(void **state)
{
	static const char *const heads[] = {
		"app: shop\n" ENVS PROV "values:\n",
		"app: shop\n" ENVS PROV "  labels:\n",
	};
	size_t h;

	(void)state;
	for (h = 0; h < sizeof(heads) / sizeof(heads[0]); h++) {
		struct prenv_buf b = PRENV_BUF_INIT;
		struct prenv_config *cfg = NULL;
		struct prenv_err err = PRENV_ERR_INIT;
		const char *ind = h ? "    " : "  ";
		clock_t t0;
		double cpu;
		int i, n = 60000;

		prenv_buf_adds(&b, heads[h]);
		for (i = 0; i < n; i++)
			prenv_buf_printf(&b, "%sk%d: v\n", ind, i + 1);
		prenv_buf_printf(&b, "%sk1: again\n", ind);
		assert_true(b.len < ((size_t)1 << 20));
		t0 = clock();
		assert_int_equal(config_parse(&cfg, "big.yml", b.ptr, b.len, provider_schemas(), &err),
				 PRENV_ECONFIG);
		cpu = (double)(clock() - t0) / CLOCKS_PER_SEC;
		printf("# %s: %d keys, %zu bytes, %.2f s CPU\n", h ? "labels" : "values", n + 1,
		       b.len, cpu);
		assert_non_null(strstr(err.msg, "duplicate key 'k1'"));
		assert_int_equal(err.line, 7 + n);
		assert_true(cpu < 5.0);
		prenv_err_clear(&err);
		prenv_buf_free(&b);
	}
}

/* ------------------------------------------------------------------ */
/* Durations                                                           */

static void test_config_duration_table(void **state)
{
	static const struct { const char *in; long want; } t[] = {
		{ "300s", 300 }, { "5m", 300 }, { "72h", 259200 }, { "1h30m", 5400 },
		{ "2d", 172800 }, { "300", 300 }, { "0", 0 }, { "0s", 0 },
		{ "1d2h3m4s", 93784 }, { "90m", 5400 },
		{ "", -1 }, { "5x", -1 }, { "m", -1 }, { "1m1h", -1 }, { "1h1h", -1 },
		{ "-5", -1 }, { "+5", -1 }, { "5 m", -1 }, { " 5m", -1 }, { "1.5h", -1 },
		{ "99999999999999999999s", -2 }, { "99999999999999999999", -2 },
		{ "9223372036854775807d", -2 }, { "5M", -1 }, { "h5", -1 }, { "5mm", -1 },
		/* at most a year; beyond it -2 (well formed, too long) */
		{ "365d", 31536000 }, { "31536000", 31536000 }, { "8760h", 31536000 },
		{ "364d23h59m60s", 31536000 }, { "365d1s", -2 }, { "31536001", -2 },
		{ "366d", -2 }, { "10000000000000000", -2 }, { "106751991167300d", -2 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		long got = config_parse_duration(t[i].in);
		if (got != t[i].want)
			printf("duration '%s': got %ld, want %ld\n", t[i].in, got, t[i].want);
		assert_int_equal(got, t[i].want);
	}
	assert_int_equal(config_parse_duration(NULL), -1);
}

static void test_config_tag_rule(void **state)
{
	static const char y[] = "app: shop\n" PROV "environments:\n"
				"  - tag: \"v*\"\n    name: \"release-{{git.tag}}\"\n    kind: production\n"
				"  - pull_request: true\n";
	struct prenv_config *cfg = NULL;
	struct prenv_err err = PRENV_ERR_INIT;

	(void)state;
	assert_int_equal(config_parse(&cfg, "t.yml", y, strlen(y), provider_schemas(), &err), 0);
	assert_int_equal(cfg->nrules, 2);
	assert_string_equal(cfg->rules[0].tag, "v*");
	assert_null(cfg->rules[0].branch);
	assert_int_equal(cfg->rules[0].kind, ENV_KIND_PRODUCTION);
	assert_null(cfg->rules[1].tag);
	config_free(cfg);
}

/* secrets: and access: (issue 16 items 11, 20): the fields, the default
 * name, and the errors at file:line:col, with kubernetes and without. */
static void test_config_secrets_access(void **state)
{
	static const char ok[] = "app: shop\nprovider:\n  kind: kubernetes\nenvironments:\n"
				 "  - pull_request: true\n"
				 "secrets:\n  from_env: [REGISTRY_TOKEN, STRIPE_KEY]\n  image_pull: regcred\n"
				 "access:\n  basic_auth: {user: preview, password_from_env: PREVIEW_PASSWORD}\n";
	static const struct { const char *tail; int line, col; const char *want; } bad[] = {
		{ "secrets:\n  from_env: [A, 2B]\n", 7, 17, "must name a CI variable" },
		{ "secrets:\n  from_env: [A, A]\n", 7, 17, "lists A twice" },
		{ "secrets:\n  from_env: []\n", 7, 13, "non-empty list" },
		{ "secrets:\n  name: app_secrets\n  from_env: [A]\n", 7, 9, "Secret name" },
		{ "secrets:\n  name: x\n", 7, 3, "needs 'from_env'" },
		{ "secrets:\n  from_env: [A]\n  image_pull: shop-secrets\n", 8, 15, "same Secret" },
		{ "access:\n  basic_auth: {user: \"a b\", password_from_env: P}\n", 7, 22, "'user'" },
		{ "access:\n  basic_auth: {user: a, password_from_env: P, realm: \"x\\\"y\"}\n", 7, 54, "'realm'" },
		{ "access:\n  oauth: {}\n", 7, 3, "unknown key 'oauth'" },
	};
	struct prenv_config *cfg = NULL;
	struct prenv_err err = PRENV_ERR_INIT;
	size_t i;

	(void)state;
	assert_int_equal(config_parse(&cfg, "t.yml", ok, strlen(ok), provider_schemas(), &err), 0);
	assert_string_equal(cfg->secrets_name, "shop-secrets");
	assert_int_equal(cfg->nsecrets_env, 2);
	assert_string_equal(cfg->secrets_env[1].name, "STRIPE_KEY");
	assert_int_equal(cfg->secrets_env[1].line, 7);
	assert_int_equal(cfg->secrets_env[1].col, 30);
	assert_string_equal(cfg->image_pull, "regcred");
	assert_string_equal(cfg->auth_user, "preview");
	assert_string_equal(cfg->auth_password.name, "PREVIEW_PASSWORD");
	assert_string_equal(cfg->auth_realm, "Preview");
	config_free(cfg);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct prenv_buf y = PRENV_BUF_INIT;

		prenv_buf_printf(&y, "app: shop\nprovider:\n  kind: kubernetes\nenvironments:\n"
				 "  - pull_request: true\n%s%s", i % 2 ? "" : "# -\n", bad[i].tail);
		cfg = NULL;
		assert_int_equal(config_parse(&cfg, "t.yml", y.ptr, y.len, provider_schemas(), &err),
				 PRENV_ECONFIG);
		if (getenv("TEST_VERBOSE"))
			printf("case %zu: %d:%d %s\n", i, err.line, err.col, err.msg);
		if (!strstr(err.msg, bad[i].want) || err.line != bad[i].line + (i % 2 ? 0 : 1) ||
		    err.col != bad[i].col)
			fail_msg("case %zu: %d:%d %s", i, err.line, err.col, err.msg);
		prenv_err_clear(&err);
		prenv_buf_free(&y);
	}
	/* the other providers refuse them at the key */
	{
		static const char pages[] = "app: shop\nprovider:\n  kind: command\n  deploy: [\"true\"]\n"
					    "environments:\n  - pull_request: true\naccess:\n"
					    "  basic_auth: {user: a, password_from_env: P}\n";

		assert_int_equal(config_parse(&cfg, "t.yml", pages, strlen(pages), provider_schemas(), &err),
				 PRENV_ECONFIG);
		assert_int_equal(err.line, 7);
		assert_int_equal(err.col, 1);
		assert_non_null(strstr(err.msg, "provider 'command' has no place for them"));
		prenv_err_clear(&err);
	}
}

static void test_config_env_kind_names(void **state)
{
	(void)state;
	assert_string_equal(env_kind_name(ENV_KIND_PREVIEW), "preview");
	assert_string_equal(env_kind_name(ENV_KIND_DEVELOPMENT), "development");
	assert_string_equal(env_kind_name(ENV_KIND_UAT), "uat");
	assert_string_equal(env_kind_name(ENV_KIND_STAGING), "staging");
	assert_string_equal(env_kind_name(ENV_KIND_PRODUCTION), "production");
	assert_string_equal(env_kind_name((enum env_kind)42), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_error_table),
		cmocka_unit_test(test_config_design_draft_parses),
		cmocka_unit_test(test_config_pages_file),
		cmocka_unit_test(test_config_command_file),
		cmocka_unit_test(test_config_kubernetes_keys),
		cmocka_unit_test(test_config_missing_file),
		cmocka_unit_test(test_config_no_path_name),
		cmocka_unit_test(test_config_every_prefix),
		cmocka_unit_test(test_config_many_keys_not_quadratic),
		cmocka_unit_test(test_config_duration_table),
		cmocka_unit_test(test_config_tag_rule),
		cmocka_unit_test(test_config_env_kind_names),
		cmocka_unit_test(test_config_secrets_access),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
