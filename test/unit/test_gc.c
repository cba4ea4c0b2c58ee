/* test_gc.c - the gc decision (lifecycle/gc.c): listed environments + PR
 * states + the clock -> keep or destroy, and why. Pure, from tables. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "lifecycle/gc.h"
#include "registry.h"
#include "util/buf.h"
#include "util/err.h"

#define HOUR 3600L
#define DAY (24 * HOUR)
#define NOW 1800000000L

/* main is protected; previews live 72h; a named `staging` rule with 7d;
 * feature branches (branch rule) 2d; release-* branches protected. */
static const char cfg_yaml[] =
	"app: shop\n"
	"provider: { kind: kubernetes }\n"
	"environments:\n"
	"  - branch: main\n"
	"    name: production\n"
	"    kind: production\n"
	"    protected: true\n"
	"  - branch: \"release-*\"\n"
	"    protected: true\n"
	"  - branch: staging\n"
	"    name: staging\n"
	"    ttl: 7d\n"
	"  - pull_request: true\n"
	"    ttl: 72h\n"
	"  - branch: \"**\"\n"
	"    ttl: 2d\n";

static struct prenv_config *load(const char *y)
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

struct gc_case {
	const char *name;
	long pr;                 /* listed PR (0: none; pr-N names count) */
	long long deployed_ago;  /* seconds before NOW, -1: unknown */
	const char *state;       /* PR state the code host gives, NULL unknown */
	int wants_state;         /* gc_wants_pr_state() */
	enum gc_action action;
	int protected_;
	long ttl;
	const char *why;
};

static const struct gc_case cases[] = {
	/* closed and merged PRs go, whatever their age */
	{ "pr-7", 7, HOUR, "closed", 1, GC_DESTROY, 0, 72 * HOUR, "PR #7 closed" },
	{ "pr-8", 0, HOUR, "merged", 1, GC_DESTROY, 0, 72 * HOUR, "PR #8 merged" },
	/* an open PR stays until its TTL passes */
	{ "pr-9", 9, 10 * HOUR, "open", 1, GC_KEEP, 0, 72 * HOUR, "PR #9 open, TTL 72h: 62h left" },
	{ "pr-9", 9, 73 * HOUR, "open", 1, GC_DESTROY, 0, 72 * HOUR,
	  "TTL 72h passed: deployed 73h ago" },
	/* exactly at the TTL it goes */
	{ "pr-9", 9, 72 * HOUR, "open", 1, GC_DESTROY, 0, 72 * HOUR,
	  "TTL 72h passed: deployed 72h ago" },
	/* state unknown: TTL only */
	{ "pr-10", 10, HOUR, NULL, 1, GC_KEEP, 0, 72 * HOUR,
	  "PR #10 state unknown, TTL 72h: 71h left" },
	{ "pr-10", 10, -1, NULL, 1, GC_KEEP, 0, 72 * HOUR,
	  "PR #10 state unknown, TTL 72h: deploy time unknown" },
	/* protected: never, and the code host is not asked */
	{ "production", 0, 400 * DAY, NULL, 0, GC_KEEP, 1, 0, "protected" },
	{ "release-2", 0, 400 * DAY, NULL, 0, GC_KEEP, 1, 0, "protected" },
	/* named rule's TTL, days shown from a week on */
	{ "staging", 0, 8 * DAY + 3 * HOUR, NULL, 0, GC_DESTROY, 0, 7 * DAY,
	  "TTL 7d passed: deployed 8d3h ago" },
	{ "staging", 0, 2 * DAY, NULL, 0, GC_KEEP, 0, 7 * DAY, "TTL 7d: 120h left" },
	/* a branch environment: branch rules only protect (the name is a slug,
	 * not the branch), so it gets no TTL from the catch-all branch rule */
	{ "feature-x", 0, 3 * DAY, NULL, 0, GC_KEEP, 0, 0, "no TTL" },
};

static void test_gc_decision_table(void **state)
{
	struct prenv_config *cfg = load(cfg_yaml);
	size_t i, failed = 0;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct gc_case *c = &cases[i];
		struct gc_env e = { .name = c->name, .pr = c->pr,
				    .deployed_at = c->deployed_ago < 0 ? -1 : NOW - c->deployed_ago };
		struct gc_decision d;

		memset(&d, 0, sizeof(d));
		prenv_buf_init(&d.why, 0);
		assert_int_equal(gc_decide(cfg, &e, c->state, (time_t)NOW, &d), 0);
		if ((int)d.action != (int)c->action || d.protected_ != c->protected_ ||
		    d.ttl != c->ttl || strcmp(d.why.ptr, c->why) != 0 ||
		    gc_wants_pr_state(cfg, &e) != c->wants_state) {
			printf("case %zu (%s): action %d protected %d ttl %ld why '%s' wants %d\n", i,
			       c->name, d.action, d.protected_, d.ttl, d.why.ptr,
			       gc_wants_pr_state(cfg, &e));
			failed++;
		}
		gc_decision_clear(&d);
	}
	printf("# gc decision cases: %zu, failed: %zu\n", i, failed);
	assert_int_equal(failed, 0);
	config_free(cfg);
}

/* A PR environment without a pull_request rule takes the first rule with
 * neither branch nor pull_request; a closed PR goes even without a TTL. */
static void test_gc_rule_fallbacks(void **state)
{
	struct prenv_config *cfg = load("app: shop\nprovider: { kind: kubernetes }\n"
					"environments:\n"
					"  - branch: main\n"
					"  - ttl: 5h\n");
	struct gc_env e = { .name = "pr-3", .ns = "shop-pr-3", .sha = "abc", .pr = 3,
			    .deployed_at = NOW - 6 * HOUR };
	struct gc_decision d;
	int prot = -1;

	(void)state;
	assert_ptr_equal(gc_rule(cfg, "pr-3", 3, &prot), &cfg->rules[1]);
	assert_int_equal(prot, 0);
	assert_null(gc_rule(cfg, "feature", 0, &prot));
	memset(&d, 0, sizeof(d));
	prenv_buf_init(&d.why, 0);
	assert_int_equal(gc_decide(cfg, &e, "open", (time_t)NOW, &d), 0);
	assert_int_equal(d.action, GC_DESTROY);
	assert_string_equal(d.why.ptr, "TTL 5h passed: deployed 6h ago");
	/* no rule at all: kept, no TTL; closed PR still goes */
	e.name = "branchy";
	e.pr = 0;
	assert_int_equal(gc_decide(cfg, &e, NULL, (time_t)NOW, &d), 0);
	assert_int_equal(d.action, GC_KEEP);
	assert_string_equal(d.why.ptr, "no TTL");
	gc_decision_clear(&d);
	config_free(cfg);
}

static void test_gc_env_pr_from_name(void **state)
{
	static const struct { const char *name; long listed, want; } t[] = {
		{ "pr-42", 0, 42 }, { "pr-42", 7, 7 }, { "pr-0", 0, 0 }, { "pr-4x", 0, 0 },
		{ "pr-", 0, 0 }, { "prx-1", 0, 0 }, { "main", 0, 0 }, { "pr-9999999", 0, 9999999 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct gc_env e = { .name = t[i].name, .pr = t[i].listed, .deployed_at = -1 };

		if (gc_env_pr(&e) != t[i].want)
			fail_msg("gc_env_pr(%s, %ld) = %ld, want %ld", t[i].name, t[i].listed,
				 gc_env_pr(&e), t[i].want);
	}
}

static void test_gc_duration_format(void **state)
{
	static const struct { long s; const char *want; } t[] = {
		{ 0, "0s" }, { 20, "20s" }, { 60, "1m" }, { 2700, "45m" }, { 3600, "1h" },
		{ 9000, "2h30m" }, { 72 * HOUR, "72h" }, { 6 * DAY + 23 * HOUR, "167h" },
		{ 7 * DAY, "7d" }, { 9 * DAY + 3 * HOUR, "9d3h" }, { 9 * DAY + 59, "9d" },
		{ -5, "0s" }, { HOUR + 1, "1h" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct prenv_buf b = PRENV_BUF_INIT;

		gc_duration(&b, t[i].s);
		if (strcmp(b.ptr, t[i].want))
			fail_msg("gc_duration(%ld) = '%s', want '%s'", t[i].s, b.ptr, t[i].want);
		prenv_buf_free(&b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gc_decision_table),
		cmocka_unit_test(test_gc_rule_fallbacks),
		cmocka_unit_test(test_gc_env_pr_from_name),
		cmocka_unit_test(test_gc_duration_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
