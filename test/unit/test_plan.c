/* test_plan.c - rule matching, globs, slugs, names, variables. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "context/ci.h"
#include "config/config.h"
#include "registry.h"
#include "util/err.h"
#include "util/names.h"
#include "config/plan.h"

#define FIX "test/fixtures/config/"
#define SHA "0123456789abcdef0123456789abcdef01234567"

/* ------------------------------------------------------------------ */
/* Helpers                                                             */

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* A context as ci_detect() would fill it (only the fields plan reads). */
static struct prenv_context *ctx_new(const char *branch, long pr, const char *sha)
{
	struct prenv_context *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	c->ci = strdup("github");
	c->branch = dup_or_null(branch);
	c->sha = dup_or_null(sha);
	c->repo_owner = strdup("acme");
	c->repo_name = strdup("shop");
	c->repo_full_name = strdup("acme/shop");
	c->repo_url = strdup("https://github.com/acme/shop");
	c->run_url = strdup("https://github.com/acme/shop/actions/runs/1");
	if (pr > 0) {
		c->has_pr = 1;
		c->pr_number = pr;
		c->pr_title = strdup("Add \"login\" page");
		c->pr_author = strdup("octocat");
		c->pr_url = strdup("https://github.com/acme/shop/pull/42");
	}
	return c;
}

/* A run for a tag (a GitHub push of refs/tags/<tag>): no branch, no PR. */
static struct prenv_context *ctx_tag(const char *tag)
{
	struct prenv_context *c = ctx_new(NULL, 0, SHA);

	c->tag = strdup(tag);
	return c;
}

static void ctx_free(struct prenv_context *c)
{
	free(c->tag);
	free(c->ci);
	free(c->branch);
	free(c->sha);
	free(c->repo_owner);
	free(c->repo_name);
	free(c->repo_full_name);
	free(c->repo_url);
	free(c->run_url);
	free(c->pr_title);
	free(c->pr_author);
	free(c->pr_url);
	free(c);
}

static struct prenv_config *cfg_load(const char *path)
{
	struct prenv_config *cfg = NULL;
	struct prenv_err err = PRENV_ERR_INIT;
	int rc = config_load(&cfg, path, provider_schemas(), &err);

	if (rc)
		printf("%s:%d:%d: %s\n", err.file, err.line, err.col, err.msg);
	assert_int_equal(rc, 0);
	prenv_err_clear(&err);
	return cfg;
}

static struct prenv_config *cfg_text(const char *y)
{
	struct prenv_config *cfg = NULL;
	struct prenv_err err = PRENV_ERR_INIT;
	int rc = config_parse(&cfg, "t/.prenv.yml", y, strlen(y), provider_schemas(), &err);

	if (rc)
		printf("%d:%d: %s\n", err.line, err.col, err.msg);
	assert_int_equal(rc, 0);
	prenv_err_clear(&err);
	return cfg;
}

static struct prenv_plan *plan_ok(const struct prenv_config *cfg, const struct prenv_context *ctx)
{
	struct prenv_plan *p = NULL;
	struct prenv_err err = PRENV_ERR_INIT;
	int rc = plan_make(&p, cfg, ctx, &err);

	if (rc)
		printf("plan_make: %s\n", err.msg);
	assert_int_equal(rc, 0);
	assert_non_null(p);
	prenv_err_clear(&err);
	assert_true(name_is_dns_label(p->env_name));
	assert_true(name_is_dns_label(p->namespace_));
	return p;
}

/* vars lookup by dotted path */
static const cJSON *var(const struct prenv_plan *p, const char *dotted)
{
	char buf[128], *s, *dot;
	const cJSON *cur = p->vars;

	snprintf(buf, sizeof(buf), "%s", dotted);
	for (s = buf; cur && (dot = strchr(s, '.')); s = dot + 1) {
		*dot = '\0';
		cur = cJSON_GetObjectItemCaseSensitive(cur, s);
	}
	return cur ? cJSON_GetObjectItemCaseSensitive(cur, s) : NULL;
}

static const char *var_str(const struct prenv_plan *p, const char *dotted)
{
	const cJSON *v = var(p, dotted);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* ------------------------------------------------------------------ */
/* Globs                                                               */

static void test_plan_glob_github_cheat_sheet(void **state)
{
	static const struct { const char *pat, *s; int want; } t[] = {
		{ "feature/*", "feature/my-branch", 1 },
		{ "feature/*", "feature/your-branch", 1 },
		{ "feature/*", "feature/a/b", 0 },
		{ "feature/*", "features/a", 0 },
		{ "feature/**", "feature/beta-a/my-branch", 1 },
		{ "feature/**", "feature/your-branch", 1 },
		{ "feature/**", "feature/mona/the/octocat", 1 },
		{ "feature/**", "featurex/a", 0 },
		{ "main", "main", 1 },
		{ "main", "main2", 0 },
		{ "main", "xmain", 0 },
		{ "main", "Main", 0 },
		{ "releases/mona-the-octocat", "releases/mona-the-octocat", 1 },
		{ "*", "main", 1 },
		{ "*", "releases", 1 },
		{ "*", "releases/v1", 0 },
		{ "**", "releases/v1/hotfix", 1 },
		{ "**", "main", 1 },
		{ "*feature", "mona-feature", 1 },
		{ "*feature", "feature", 1 },
		{ "*feature", "ver-10-feature", 1 },
		{ "*feature", "feature-x", 0 },
		{ "*feature", "a/feature", 0 },
		{ "v2*", "v2", 1 },
		{ "v2*", "v2.0", 1 },
		{ "v2*", "v2.9", 1 },
		{ "v2*", "v3", 0 },
		{ "v[12].[0-9]+.[0-9]+", "v1.10.1", 1 },
		{ "v[12].[0-9]+.[0-9]+", "v2.0.0", 1 },
		{ "v[12].[0-9]+.[0-9]+", "v3.0.0", 0 },
		{ "v[12].[0-9]+.[0-9]+", "v1..1", 0 },
		{ "v[12].[0-9]+.[0-9]+", "v1.x.1", 0 },
		{ "releases/**-alpha", "releases/beta/3-alpha", 1 },
		{ "releases/**-alpha", "releases/10-alpha", 1 },
		{ "releases/**-alpha", "releases/10-beta", 0 },
		{ "!releases/**-alpha", "releases/10-beta", 1 },
		{ "!releases/**-alpha", "releases/10-alpha", 0 },
		{ "!main", "main", 0 },
		{ "!main", "dev", 1 },
		/* path examples of the same cheat sheet */
		{ "docs/**/*.md", "docs/README.md", 1 },
		{ "docs/**/*.md", "docs/mona/octocat.md", 1 },
		{ "docs/**/*.md", "docs/a/markdown/file.md", 1 },
		{ "docs/**/*.md", "docs/a/markdown/file.txt", 0 },
		{ "**/docs/**", "docs/hello.md", 1 },
		{ "**/docs/**", "dir/docs/my-file.txt", 1 },
		{ "**/docs/**", "space/docs/plan/space.doc", 1 },
		{ "**/docs/**", "mydocs/x", 0 },
		{ "**/README.md", "README.md", 1 },
		{ "**/README.md", "js/README.md", 1 },
		{ "**/*src/**", "a/src/app.js", 1 },
		{ "**/*src/**", "my-src/code/js/app.js", 1 },
		{ "*.md", "README.md", 1 },
		{ "*.md", "docs/README.md", 0 },
		{ "**.js", "app.js", 1 },
		{ "**.js", "js/index.js", 1 },
		/* '?' and '+' quantify the preceding character */
		{ "colou?r", "color", 1 },
		{ "colou?r", "colour", 1 },
		{ "colou?r", "colouur", 0 },
		{ "v1+", "v1", 1 },
		{ "v1+", "v111", 1 },
		{ "v1+", "v", 0 },
		{ "?x", "?x", 1 },
		/* classes, negated classes, escapes */
		{ "[a-c]x", "bx", 1 },
		{ "[a-c]x", "dx", 0 },
		{ "[!a-c]x", "dx", 1 },
		{ "[!a-c]x", "ax", 0 },
		{ "[/]", "/", 0 },
		{ "a\\*b", "a*b", 1 },
		{ "a\\*b", "axb", 0 },
		{ "", "", 1 },
		{ "", "x", 0 },
		{ "feat[ure", "feat[ure", 0 }, /* invalid pattern matches nothing */
	};
	size_t i, bad = 0;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int got = name_glob_match(t[i].pat, t[i].s);
		if (got != t[i].want) {
			printf("glob '%s' vs '%s': got %d, want %d\n", t[i].pat, t[i].s, got, t[i].want);
			bad++;
		}
	}
	printf("# glob cases: %zu, failed: %zu\n", i, bad);
	assert_int_equal(bad, 0);
	assert_int_equal(name_glob_match(NULL, "x"), 0);
	assert_int_equal(name_glob_match("x", NULL), 0);
}

/* Many stars against a long non-matching name stay fast (memoised). */
static void test_plan_glob_pathological(void **state)
{
	char s[201];

	(void)state;
	memset(s, 'a', 200);
	s[200] = '\0';
	assert_int_equal(name_glob_match("**a**a**a**a**a**a**a**a**a**b", s), 0);
	assert_int_equal(name_glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*b", s), 0);
	assert_int_equal(name_glob_match("a+a+a+a+a+a+a+a+b", s), 0);
	assert_int_equal(name_glob_match("**a", s), 1);
}

/* ------------------------------------------------------------------ */
/* Slugs                                                               */

static int hashed_like(const char *s, const char *prefix)
{
	size_t n = strlen(s), i;

	if (strncmp(s, prefix, strlen(prefix)) || n != strlen(prefix) + 9 || s[n - 9] != '-')
		return 0;
	for (i = n - 8; i < n; i++)
		if (!strchr("0123456789abcdef", s[i]))
			return 0;
	return 1;
}

static void test_plan_slug_table(void **state)
{
	static const struct { const char *in; size_t max; const char *same; const char *prefix; } t[] = {
		/* unchanged: already a label */
		{ "main", 63, "main", NULL },
		{ "feature-a", 63, "feature-a", NULL },
		{ "123-abc", 63, "123-abc", NULL }, /* leading digits are fine */
		{ "0", 63, "0", NULL },
		/* lossy: prefix + "-" + 8 hex */
		{ "feature/login", 63, NULL, "feature-login" },
		{ "feature/a", 63, NULL, "feature-a" },
		{ "feature_a", 63, NULL, "feature-a" },
		{ "Feature", 63, NULL, "feature" },
		{ "release.1.2", 63, NULL, "release-1-2" },
		{ "a  b", 63, NULL, "a-b" },
		{ "-abc-", 63, NULL, "abc" },
		{ "fix/\xc3\xbc" "n\xc3\xaf" "code-\xc3\x9f", 63, NULL, "fix-n-code" }, /* UTF-8 */
		{ "dependabot/npm_and_yarn/lodash-4.17.21", 63, NULL,
		  "dependabot-npm-and-yarn-lodash-4-17-21" },
		{ "", 63, NULL, "x" },
		{ "///", 63, NULL, "x" },
		{ "!!!...___", 63, NULL, "x" },
		{ "\xf0\x9f\x9a\x80", 63, NULL, "x" }, /* an emoji alone */
		/* a valid label that looks like a hashed slug is hashed again */
		{ "feature-a-0123abcd", 63, NULL, "feature-a-0123abcd" },
		/* too long for maxlen */
		{ "abcdefghijklmnopqrstuvwxyz", 20, NULL, "abcdefghijk" },
		{ "abc--/.//--x", 63, NULL, "abc-x" }, /* runs collapse */
		{ "abcd/efgh", 14, NULL, "abcd" }, /* trailing '-' trimmed after the cut */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *s = name_slug(t[i].in, t[i].max);
		assert_non_null(s);
		if (!name_is_dns_label(s) || strlen(s) > t[i].max ||
		    (t[i].same && strcmp(s, t[i].same)) ||
		    (t[i].prefix && !hashed_like(s, t[i].prefix)))
			fail_msg("slug('%s', %zu) = '%s'", t[i].in, t[i].max, s);
		free(s);
	}
}

static void test_plan_slug_distinct_near_names(void **state)
{
	static const char *const names[] = {
		"feature/a", "feature-a", "feature_a", "feature.a", "Feature/a", "FEATURE-A",
		"feature--a", "feature/a/", "feature a", "feature/A", "feature", "Feature",
	};
	char *slugs[sizeof(names) / sizeof(names[0])];
	size_t n = sizeof(names) / sizeof(names[0]), i, j;

	(void)state;
	for (i = 0; i < n; i++) {
		slugs[i] = name_slug(names[i], 63);
		assert_true(name_is_dns_label(slugs[i]));
	}
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			if (!strcmp(slugs[i], slugs[j]))
				fail_msg("'%s' and '%s' share slug '%s'", names[i], names[j], slugs[i]);
	for (i = 0; i < n; i++)
		free(slugs[i]);
}

static void test_plan_slug_deterministic_and_bounded(void **state)
{
	char long_name[201], *a, *b;
	size_t max;

	(void)state;
	memset(long_name, 'b', 200);
	memcpy(long_name, "feature/", 8);
	long_name[200] = '\0';
	a = name_slug(long_name, 63);
	b = name_slug(long_name, 63);
	assert_string_equal(a, b);
	assert_int_equal(strlen(a), 63);
	assert_true(name_is_dns_label(a));
	free(a);
	free(b);
	/* A 63-character label is kept; 64 is cut and hashed. */
	long_name[63] = '\0';
	memset(long_name, 'c', 63);
	a = name_slug(long_name, 63);
	assert_string_equal(a, long_name);
	free(a);
	long_name[63] = 'c';
	long_name[64] = '\0';
	a = name_slug(long_name, 63);
	assert_int_equal(strlen(a), 63);
	assert_true(name_is_dns_label(a));
	assert_true(strcmp(a, "ccccccccccccccccccccccccccccccccccccccccccccccccccccc") > 0);
	free(a);
	/* maxlen above 63 is clamped; every small maxlen gives a label */
	a = name_slug("x/y", 500);
	assert_true(strlen(a) <= 63);
	free(a);
	for (max = 1; max <= 63; max++) {
		a = name_slug("Some/Branch_Name.with.DOTS", max);
		assert_non_null(a);
		assert_true(strlen(a) <= max);
		assert_true(name_is_dns_label(a));
		free(a);
	}
	assert_null(name_slug(NULL, 63));
	assert_null(name_slug("x", 0));
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* 1,000 branches whose slugs share the same cut prefix stay distinct. */
static void test_plan_slug_1000_collisions(void **state)
{
	enum { N = 1000 };
	char **slugs = calloc(N, sizeof(*slugs));
	struct prenv_buf b = PRENV_BUF_INIT;
	size_t i, prefix_len = 0;

	(void)state;
	assert_non_null(slugs);
	for (i = 0; i < N; i++) {
		prenv_buf_reset(&b);
		/* Long shared prefix (cut away), then a per-branch part; every
		 * third one differs only in punctuation or case from a sibling. */
		prenv_buf_printf(&b, "feature/very-long-shared-prefix-for-the-team-backlog-items/%s%zu",
				 i % 3 == 0 ? "Item_" : i % 3 == 1 ? "item." : "item/", i / 3);
		slugs[i] = name_slug(b.ptr, 58);
		assert_non_null(slugs[i]);
		assert_true(name_is_dns_label(slugs[i]));
		assert_true(strlen(slugs[i]) <= 58);
		if (i == 0)
			prefix_len = strlen(slugs[0]) - 9;
		assert_int_equal(strncmp(slugs[i], slugs[0], prefix_len), 0); /* same prefix */
	}
	qsort(slugs, N, sizeof(*slugs), cmp_str);
	for (i = 1; i < N; i++)
		if (!strcmp(slugs[i - 1], slugs[i]))
			fail_msg("collision: %s", slugs[i]);
	printf("# 1000 branches with one %zu-char slug prefix: 1000 distinct slugs\n", prefix_len);
	for (i = 0; i < N; i++)
		free(slugs[i]);
	free(slugs);
	prenv_buf_free(&b);
}

static void test_plan_is_dns_label_table(void **state)
{
	static const struct { const char *s; int want; } t[] = {
		{ "a", 1 }, { "a-b", 1 }, { "0a", 1 }, { "a0", 1 }, { "a--b", 1 },
		{ "", 0 }, { "-a", 0 }, { "a-", 0 }, { "A", 0 }, { "a_b", 0 }, { "a.b", 0 },
		{ "a b", 0 }, { "\xc3\xa9", 0 },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 1 },  /* 63 */
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0 }, /* 64 */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (name_is_dns_label(t[i].s) != t[i].want)
			fail_msg("name_is_dns_label('%s') != %d", t[i].s, t[i].want);
	assert_int_equal(name_is_dns_label(NULL), 0);
}

/* ------------------------------------------------------------------ */
/* plan_make                                                           */

static void test_plan_design_pull_request(void **state)
{
	struct prenv_config *cfg = cfg_load(FIX "design.yml");
	struct prenv_context *ctx = ctx_new("feature/login", 42, SHA);
	struct prenv_plan *p = plan_ok(cfg, ctx);
	cJSON *j;
	char *txt;

	(void)state;
	assert_ptr_equal(p->rule, &cfg->rules[1]);
	assert_string_equal(p->env_name, "pr-42");
	assert_int_equal(p->kind, ENV_KIND_PREVIEW);
	assert_string_equal(p->namespace_, "shop-pr-42");
	assert_string_equal(p->url, "https://pr-42.preview.example.com");
	assert_string_equal(p->host, "pr-42.preview.example.com");
	assert_int_equal(p->protected_, 0);
	assert_int_equal(p->ttl_seconds, 259200);
	/* variables */
	assert_string_equal(var_str(p, "app"), "shop");
	assert_string_equal(var_str(p, "env.name"), "pr-42");
	assert_string_equal(var_str(p, "env.kind"), "preview");
	assert_string_equal(var_str(p, "env.namespace"), "shop-pr-42");
	assert_string_equal(var_str(p, "env.url"), "https://pr-42.preview.example.com");
	assert_string_equal(var_str(p, "env.host"), "pr-42.preview.example.com");
	assert_string_equal(var_str(p, "git.branch"), "feature/login");
	assert_string_equal(var_str(p, "git.sha"), SHA);
	assert_string_equal(var_str(p, "git.short_sha"), "0123456");
	assert_true(var(p, "pr.number")->valuedouble == 42);
	assert_string_equal(var_str(p, "pr.title"), "Add \"login\" page");
	assert_string_equal(var_str(p, "pr.author"), "octocat");
	assert_string_equal(var_str(p, "repo.full_name"), "acme/shop");
	assert_string_equal(var_str(p, "ci.name"), "github");
	assert_string_equal(var_str(p, "values.image"), "ghcr.io/acme/shop:" SHA);
	/* plan_to_json */
	j = plan_to_json(p);
	txt = cJSON_PrintUnformatted(j);
	assert_string_equal(txt, "{\"name\":\"pr-42\",\"kind\":\"preview\",\"namespace\":\"shop-pr-42\","
			    "\"url\":\"https://pr-42.preview.example.com\",\"protected\":false,"
			    "\"ttl\":259200}");
	free(txt);
	cJSON_Delete(j);
	plan_free(p);
	ctx_free(ctx);
	config_free(cfg);
}

static void test_plan_design_main_is_production(void **state)
{
	struct prenv_config *cfg = cfg_load(FIX "design.yml");
	struct prenv_context *ctx = ctx_new("main", 0, SHA);
	struct prenv_plan *p = plan_ok(cfg, ctx);
	cJSON *j;
	char *txt;

	(void)state;
	assert_ptr_equal(p->rule, &cfg->rules[0]);
	assert_string_equal(p->env_name, "production");
	assert_int_equal(p->kind, ENV_KIND_PRODUCTION);
	assert_int_equal(p->protected_, 1);
	assert_string_equal(p->namespace_, "shop-production");
	assert_true(cJSON_IsNull(var(p, "pr")));
	j = plan_to_json(p);
	txt = cJSON_PrintUnformatted(j);
	assert_string_equal(txt, "{\"name\":\"production\",\"kind\":\"production\",\"namespace\":"
			    "\"shop-production\",\"url\":\"https://production.preview.example.com\","
			    "\"protected\":true,\"ttl\":null}");
	free(txt);
	cJSON_Delete(j);
	plan_free(p);
	ctx_free(ctx);
	config_free(cfg);
}

/* A fork's branch names are its author's: a pull request from a fork's
 * `main` (or a fork's workflow_run with no resolved PR) never matches the
 * `branch: main` production rule. */
static void test_plan_fork_branch_never_matches_branch_rules(void **state)
{
	struct prenv_config *cfg = cfg_load(FIX "design.yml");
	struct prenv_context *ctx = ctx_new("main", 7, SHA);
	struct prenv_plan *p;
	struct prenv_err err = PRENV_ERR_INIT;

	(void)state;
	ctx->pr_fork = 1;
	p = plan_ok(cfg, ctx);
	assert_string_equal(p->env_name, "pr-7");
	assert_int_equal(p->kind, ENV_KIND_PREVIEW);
	assert_int_equal(p->protected_, 0);
	plan_free(p);
	ctx_free(ctx);
	/* not a PR (unresolved fork workflow_run): nothing matches */
	ctx = ctx_new("main", 0, SHA);
	ctx->pr_fork = 1;
	assert_int_equal(plan_make(&p, cfg, ctx, &err), PRENV_ECONFIG);
	prenv_err_clear(&err);
	ctx->pr_fork = 0; /* the same branch from this repository is production */
	p = plan_ok(cfg, ctx);
	assert_string_equal(p->env_name, "production");
	plan_free(p);
	ctx_free(ctx);
	config_free(cfg);
}

static void test_plan_no_rule_matches(void **state)
{
	struct prenv_config *cfg = cfg_load(FIX "design.yml");
	struct prenv_context *ctx = ctx_new("feature/x", 0, SHA);
	struct prenv_plan *p = (struct prenv_plan *)(uintptr_t)1;
	struct prenv_err err = PRENV_ERR_INIT;

	(void)state;
	assert_int_equal(plan_make(&p, cfg, ctx, &err), PRENV_ECONFIG);
	assert_null(p);
	assert_string_equal(err.file, FIX "design.yml");
	assert_int_equal(err.line, 10);
	assert_int_equal(err.col, 1);
	assert_non_null(strstr(err.msg, "no rule in 'environments' matches branch 'feature/x'"));
	assert_non_null(strstr(err.msg, "branch: \"**\""));
	prenv_err_clear(&err);
	ctx_free(ctx);
	/* detached HEAD: branch rules cannot match either */
	ctx = ctx_new(NULL, 0, SHA);
	assert_int_equal(plan_make(&p, cfg, ctx, &err), PRENV_ECONFIG);
	assert_non_null(strstr(err.msg, "detached HEAD"));
	prenv_err_clear(&err);
	ctx_free(ctx);
	config_free(cfg);
}

static void test_plan_rule_order_and_kinds(void **state)
{
	struct prenv_config *cfg = cfg_load(FIX "pages.yml");
	struct prenv_context *ctx;
	struct prenv_plan *p;

	(void)state;
	/* PR: first rule */
	ctx = ctx_new("releases/1.0", 7, SHA);
	p = plan_ok(cfg, ctx);
	assert_ptr_equal(p->rule, &cfg->rules[0]);
	assert_string_equal(p->env_name, "pr-7");
	assert_int_equal(p->kind, ENV_KIND_PREVIEW);
	assert_int_equal(p->ttl_seconds, 2 * 86400);
	assert_string_equal(p->url, "https://acme.github.io/docs/pr-7/");
	assert_string_equal(p->host, "acme.github.io");
	plan_free(p);
	ctx_free(ctx);
	/* release branch: second rule, staging, slug with hash */
	ctx = ctx_new("releases/1.0", 0, SHA);
	p = plan_ok(cfg, ctx);
	assert_ptr_equal(p->rule, &cfg->rules[1]);
	assert_int_equal(p->kind, ENV_KIND_STAGING);
	assert_true(hashed_like(p->env_name, "releases-1-0"));
	plan_free(p);
	ctx_free(ctx);
	/* anything else: the empty catch-all rule, development by default */
	ctx = ctx_new("Feature/Foo", 0, SHA);
	p = plan_ok(cfg, ctx);
	assert_ptr_equal(p->rule, &cfg->rules[2]);
	assert_int_equal(p->kind, ENV_KIND_DEVELOPMENT);
	assert_true(hashed_like(p->env_name, "feature-foo"));
	assert_string_equal(var_str(p, "env.kind"), "development");
	plan_free(p);
	ctx_free(ctx);
	/* detached HEAD without PR: sha-<short> */
	ctx = ctx_new(NULL, 0, SHA);
	p = plan_ok(cfg, ctx);
	assert_string_equal(p->env_name, "sha-0123456");
	assert_string_equal(var_str(p, "git.branch"), "");
	plan_free(p);
	ctx_free(ctx);
	config_free(cfg);
}

static void test_plan_nothing_to_name(void **state)
{
	struct prenv_config *cfg = cfg_load(FIX "pages.yml");
	struct prenv_context *ctx = ctx_new(NULL, 0, NULL);
	struct prenv_plan *p = NULL;
	struct prenv_err err = PRENV_ERR_INIT;

	(void)state;
	assert_int_equal(plan_make(&p, cfg, ctx, &err), PRENV_ECONFIG);
	assert_null(p);
	assert_non_null(strstr(err.msg, "PRENV_BRANCH"));
	assert_int_equal(err.line, cfg->rules[2].line);
	prenv_err_clear(&err);
	ctx_free(ctx);
	config_free(cfg);
}

static void test_plan_pull_request_false_and_catch_all(void **state)
{
	struct prenv_config *cfg = cfg_text(
		"app: web\nprovider:\n  kind: kubernetes\nenvironments:\n"
		"  - pull_request: false\n    kind: uat\n"
		"  - branch: \"!main\"\n    kind: staging\n"
		"  - {}\n");
	struct prenv_context *ctx;
	struct prenv_plan *p;

	(void)state;
	ctx = ctx_new("dev", 0, SHA);
	p = plan_ok(cfg, ctx);
	assert_int_equal(p->kind, ENV_KIND_UAT);
	assert_string_equal(p->env_name, "dev");
	assert_string_equal(p->namespace_, "web-dev");
	assert_null(p->url);
	assert_null(p->host);
	assert_null(var(p, "env.url"));
	plan_free(p);
	ctx_free(ctx);
	ctx = ctx_new("feature/x", 5, SHA); /* PR from feature/x: '!main' rule */
	p = plan_ok(cfg, ctx);
	assert_int_equal(p->kind, ENV_KIND_STAGING);
	plan_free(p);
	ctx_free(ctx);
	ctx = ctx_new("main", 5, SHA); /* PR from main: catch-all, preview (PR default) */
	p = plan_ok(cfg, ctx);
	assert_ptr_equal(p->rule, &cfg->rules[2]);
	assert_int_equal(p->kind, ENV_KIND_PREVIEW);
	plan_free(p);
	ctx_free(ctx);
	config_free(cfg);
}

/* The env name leaves room for "<app>-" so the default namespace is a label
 * without a second hash. */
static void test_plan_long_names_fit_namespace(void **state)
{
	struct prenv_config *cfg = cfg_text(
		"app: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n" /* 40 */
		"provider:\n  kind: kubernetes\nenvironments:\n  - branch: \"**\"\n");
	char branch[201];
	struct prenv_context *ctx;
	struct prenv_plan *p;

	(void)state;
	memset(branch, 'b', 200);
	branch[200] = '\0';
	ctx = ctx_new(branch, 0, SHA);
	p = plan_ok(cfg, ctx);
	assert_int_equal(strlen(p->env_name), 22);
	assert_int_equal(strlen(p->namespace_), 63);
	assert_int_equal(strncmp(p->namespace_, cfg->app, 40), 0);
	assert_string_equal(p->namespace_ + 41, p->env_name);
	plan_free(p);
	ctx_free(ctx);
	config_free(cfg);
}

static void test_plan_namespace_template_too_long_is_slugged(void **state)
{
	struct prenv_config *cfg = cfg_text(
		"app: shop\nprovider:\n  kind: kubernetes\n"
		"  namespace: \"{{app}}-{{git.branch}}-{{git.sha}}\"\n"
		"environments:\n  - branch: \"**\"\n");
	struct prenv_context *ctx = ctx_new("Feature/X", 0, SHA);
	struct prenv_plan *p = plan_ok(cfg, ctx);

	(void)state;
	assert_true(strlen(p->namespace_) <= 63);
	assert_true(hashed_like(p->namespace_, "shop-feature-x-0123456789abcdef0123456789abcdef0123456"));
	plan_free(p);
	ctx_free(ctx);
	config_free(cfg);
}

static void test_plan_different_branches_different_envs(void **state)
{
	struct prenv_config *cfg = cfg_load(FIX "pages.yml");
	static const char *const branches[] = { "feature/a", "feature-a", "feature_a", "Feature-A" };
	char *names[4], *nss[4];
	size_t i, j;

	(void)state;
	for (i = 0; i < 4; i++) {
		struct prenv_context *ctx = ctx_new(branches[i], 0, SHA);
		struct prenv_plan *p = plan_ok(cfg, ctx);
		names[i] = strdup(p->env_name);
		nss[i] = strdup(p->namespace_);
		plan_free(p);
		ctx_free(ctx);
	}
	for (i = 0; i < 4; i++)
		for (j = i + 1; j < 4; j++) {
			assert_string_not_equal(names[i], names[j]);
			assert_string_not_equal(nss[i], nss[j]);
		}
	for (i = 0; i < 4; i++) {
		free(names[i]);
		free(nss[i]);
	}
	config_free(cfg);
}

static void test_plan_values_and_untrusted(void **state)
{
	struct prenv_config *cfg = cfg_load(FIX "command.yml");
	struct prenv_context *ctx = ctx_new("feature/pay", 0, SHA);
	struct prenv_plan *p = plan_ok(cfg, ctx);
	size_t i;
	int saw_who = 0, saw_branch = 0, saw_db = 0;

	(void)state;
	assert_string_equal(p->env_name, "feat-0123456"); /* rule name template */
	assert_string_equal(var_str(p, "values.db.host"), "db.feat-0123456.internal");
	assert_string_equal(var_str(p, "values.db.port"), "5432");
	assert_string_equal(var_str(p, "values.who"), "built from feature/pay");
	assert_string_equal(var_str(p, "values.replicas"), "3");
	for (i = 0; p->untrusted[i]; i++) {
		saw_who |= !strcmp(p->untrusted[i], "values.who");
		saw_branch |= !strcmp(p->untrusted[i], "git.branch");
		saw_db |= !strcmp(p->untrusted[i], "values.db.host");
	}
	assert_true(saw_who && saw_branch && !saw_db);
	/* the static list */
	for (i = 0; plan_untrusted_vars[i]; i++)
		;
	assert_int_equal(i, 4);
	plan_free(p);
	ctx_free(ctx);
	config_free(cfg);
}

static void test_plan_value_may_not_use_values(void **state)
{
	struct prenv_config *cfg = cfg_text(
		"app: shop\nprovider:\n  kind: kubernetes\nenvironments:\n  - {}\n"
		"values:\n  a: x\n  b: \"{{values.a}}\"\n");
	struct prenv_context *ctx = ctx_new("main", 0, SHA);
	struct prenv_plan *p = NULL;
	struct prenv_err err = PRENV_ERR_INIT;

	(void)state;
	assert_int_equal(plan_make(&p, cfg, ctx, &err), PRENV_ECONFIG);
	assert_null(p);
	assert_non_null(strstr(err.msg, "'values.b'"));
	assert_non_null(strstr(err.msg, "not other values"));
	prenv_err_clear(&err);
	ctx_free(ctx);
	config_free(cfg);
}

static void test_plan_name_templates(void **state)
{
	struct prenv_config *cfg = cfg_text(
		"app: shop\nprovider:\n  kind: kubernetes\nenvironments:\n"
		"  - pull_request: true\n    name: \"review-{{pr.number}}\"\n"
		"  - branch: \"feature/**\"\n    name: \"{{git.branch}}\"\n"
		"  - branch: broken\n    name: \"{{nope}}\"\n"
		"  - branch: empty\n    name: \"{{#pr}}x{{/pr}}\"\n");
	struct prenv_context *ctx;
	struct prenv_plan *p = NULL;
	struct prenv_err err = PRENV_ERR_INIT;

	(void)state;
	ctx = ctx_new("feature/x", 9, SHA);
	p = plan_ok(cfg, ctx);
	assert_string_equal(p->env_name, "review-9");
	plan_free(p);
	ctx_free(ctx);
	ctx = ctx_new("feature/Big_Thing", 0, SHA); /* rendered, then slugged */
	p = plan_ok(cfg, ctx);
	assert_true(hashed_like(p->env_name, "feature-big-thing"));
	plan_free(p);
	ctx_free(ctx);
	ctx = ctx_new("broken", 0, SHA);
	assert_int_equal(plan_make(&p, cfg, ctx, &err), PRENV_ECONFIG);
	assert_null(p);
	assert_non_null(strstr(err.msg, "environment 'name' of the rule at line 9"));
	assert_non_null(strstr(err.msg, "nope"));
	prenv_err_clear(&err);
	ctx_free(ctx);
	ctx = ctx_new("empty", 0, SHA);
	assert_int_equal(plan_make(&p, cfg, ctx, &err), PRENV_ECONFIG);
	assert_non_null(strstr(err.msg, "renders to an empty string"));
	assert_int_equal(err.line, 11);
	prenv_err_clear(&err);
	ctx_free(ctx);
	config_free(cfg);
}

/* pr is null outside a PR: PR-only text goes in a {{#pr}} section. */
static void test_plan_pr_section_in_values(void **state)
{
	struct prenv_config *cfg = cfg_text(
		"app: shop\nprovider:\n  kind: kubernetes\nenvironments:\n  - {}\n"
		"values:\n  by: \"{{#pr}}PR #{{pr.number}} by {{pr.author}}{{/pr}}\"\n");
	struct prenv_context *ctx;
	struct prenv_plan *p;

	(void)state;
	ctx = ctx_new("main", 0, SHA);
	p = plan_ok(cfg, ctx);
	assert_string_equal(var_str(p, "values.by"), "");
	plan_free(p);
	ctx_free(ctx);
	ctx = ctx_new("main", 42, SHA);
	p = plan_ok(cfg, ctx);
	assert_string_equal(var_str(p, "values.by"), "PR #42 by octocat");
	plan_free(p);
	ctx_free(ctx);
	config_free(cfg);
}

/* Rules for tags (`tag: "v*"`), git.tag, and a tag no rule matches. */
static void test_plan_tag_rules(void **state)
{
	static const char yml[] =
		"app: shop\nurl: \"https://{{env.name}}.example.com/{{git.tag}}\"\n"
		"provider:\n  kind: kubernetes\nenvironments:\n"
		"  - branch: \"**\"\n    pull_request: false\n"
		"  - tag: \"v*\"\n    name: \"release-{{git.tag}}\"\n    kind: production\n"
		"  - pull_request: true\n";
	struct prenv_err err = PRENV_ERR_INIT;
	struct prenv_config *cfg = cfg_text(yml);
	struct prenv_plan *p = NULL;
	struct prenv_context *ctx;

	(void)state;
	/* a tag: its rule (a branch rule, even "**", never matches a tag) */
	ctx = ctx_tag("v1.2.3");
	p = plan_ok(cfg, ctx);
	assert_ptr_equal(p->rule, &cfg->rules[1]);
	assert_int_equal(p->kind, ENV_KIND_PRODUCTION);
	assert_true(hashed_like(p->env_name, "release-v1-2-3"));
	assert_string_equal(var_str(p, "git.tag"), "v1.2.3");
	assert_string_equal(var_str(p, "git.branch"), "");
	assert_non_null(strstr(p->url, ".example.com/v1.2.3"));
	plan_free(p);
	ctx_free(ctx);
	/* a branch: git.tag is empty, the tag rule does not match */
	ctx = ctx_new("main", 0, SHA);
	p = plan_ok(cfg, ctx);
	ctx_free(ctx);
	assert_string_equal(var_str(p, "git.tag"), "");
	assert_ptr_equal(p->rule, &cfg->rules[0]);
	plan_free(p);
	/* a tag no rule matches: named as a tag, not as a detached HEAD */
	ctx = ctx_tag("nightly");
	p = (struct prenv_plan *)(uintptr_t)1;
	assert_int_equal(plan_make(&p, cfg, ctx, &err), PRENV_ECONFIG);
	assert_null(p);
	assert_non_null(strstr(err.msg, "no rule in 'environments' matches tag 'nightly' "
				"(not a pull request)"));
	assert_non_null(strstr(err.msg, "`- tag: \"**\"`"));
	assert_null(strstr(err.msg, "detached"));
	prenv_err_clear(&err);
	ctx_free(ctx);
	config_free(cfg);
	/* a catch-all rule names a tag's environment after the tag */
	cfg = cfg_text("app: shop\nprovider:\n  kind: kubernetes\nenvironments:\n  - {}\n");
	ctx = ctx_tag("v2.0.0");
	p = plan_ok(cfg, ctx);
	assert_true(hashed_like(p->env_name, "v2-0-0"));
	plan_free(p);
	ctx_free(ctx);
	config_free(cfg);
}

static void test_plan_free_null(void **state)
{
	(void)state;
	plan_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plan_glob_github_cheat_sheet),
		cmocka_unit_test(test_plan_glob_pathological),
		cmocka_unit_test(test_plan_slug_table),
		cmocka_unit_test(test_plan_slug_distinct_near_names),
		cmocka_unit_test(test_plan_slug_deterministic_and_bounded),
		cmocka_unit_test(test_plan_slug_1000_collisions),
		cmocka_unit_test(test_plan_is_dns_label_table),
		cmocka_unit_test(test_plan_design_pull_request),
		cmocka_unit_test(test_plan_design_main_is_production),
		cmocka_unit_test(test_plan_no_rule_matches),
		cmocka_unit_test(test_plan_fork_branch_never_matches_branch_rules),
		cmocka_unit_test(test_plan_rule_order_and_kinds),
		cmocka_unit_test(test_plan_nothing_to_name),
		cmocka_unit_test(test_plan_pull_request_false_and_catch_all),
		cmocka_unit_test(test_plan_long_names_fit_namespace),
		cmocka_unit_test(test_plan_namespace_template_too_long_is_slugged),
		cmocka_unit_test(test_plan_different_branches_different_envs),
		cmocka_unit_test(test_plan_values_and_untrusted),
		cmocka_unit_test(test_plan_value_may_not_use_values),
		cmocka_unit_test(test_plan_name_templates),
		cmocka_unit_test(test_plan_pr_section_in_values),
		cmocka_unit_test(test_plan_tag_rules),
		cmocka_unit_test(test_plan_free_null),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
