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
#include "util/fs.h"

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

/* ------------------------------------------------------------ sleep and wake */

/* Previews: awake Mon-Fri 08:00-20:00 in Paris, asleep after 3h without
 * activity, destroyed 7d after the last deploy; staging: the schedule only;
 * demo: sleep_after only; production: protected; other branches: no rule. */
static const char sleep_yaml[] =
	"app: shop\n"
	"provider: { kind: kubernetes }\n"
	"environments:\n"
	"  - branch: main\n"
	"    name: production\n"
	"    protected: true\n"
	"  - branch: staging\n"
	"    name: staging\n"
	"    schedule: { awake: \"Mon-Fri 08:00-20:00\", timezone: Europe/Paris }\n"
	"  - branch: demo\n"
	"    name: demo\n"
	"    sleep_after: 3h\n"
	"  - pull_request: true\n"
	"    ttl: 7d\n"
	"    sleep_after: 3h\n"
	"    schedule: { awake: \"Mon-Fri 08:00-20:00\", timezone: Europe/Paris }\n";

/* UTC times; the DST change of Europe/Paris is Sunday 2026-03-29 01:00Z */
#define FRI_0800Z 1774598400LL  /* 2026-03-27T08:00Z, 09:00 CET */
#define FRI_0900Z (FRI_0800Z + HOUR)
#define FRI_1900Z (FRI_0800Z + 11 * HOUR) /* 20:00 CET: the window closes */
#define SUN_1000Z (FRI_0800Z + 2 * DAY + 2 * HOUR)
#define SUN_1100Z (SUN_1000Z + HOUR)
#define MAR_20Z (FRI_0800Z - 7 * DAY - 8 * HOUR)

/* The 50 environments: 46 previews in five classes (i % 5), and four
 * branch environments. */
static void sleep_envs(struct gc_env *e, char names[][16], size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		memset(&e[i], 0, sizeof(e[i]));
		e[i].deployed_at = FRI_0800Z;
		if (i >= 46) {
			static const char *const other[] = { "production", "staging", "demo", "feature-x" };

			snprintf(names[i], 16, "%s", other[i - 46]);
			e[i].deployed_at = i == 48 ? SUN_1100Z : FRI_0900Z;
		} else {
			snprintf(names[i], 16, "pr-%zu", 100 + i);
			e[i].pr = (long)(100 + i);
			switch (i % 5) {
			case 0: e[i].asleep_since = FRI_1900Z; break;      /* slept at Friday's close */
			case 1: e[i].deployed_at = FRI_0900Z; break;       /* awake: a tick was missed */
			case 2: e[i].deployed_at = SUN_1100Z; break;       /* pushed on Sunday */
			case 3: e[i].asleep_since = SUN_1000Z; break;      /* `prenv sleep` on Sunday */
			default: if (i % 10 == 9) e[i].deployed_at = MAR_20Z; break; /* TTL passed */
			}
		}
		e[i].name = names[i];
	}
}

/* The expected action of environment i at instant t (see the table in the
 * comment of each instant). */
struct sleep_instant {
	const char *at;          /* for messages */
	long long t;
	const char *pr_class;    /* action letters for classes 0-4: K keep, D destroy, S sleep, W wake */
	const char *branch;      /* production, staging, demo, feature-x */
};

static const struct sleep_instant instants[] = {
	/* Sunday 14:00 CEST: outside the window; a weekend push (1h ago) stays
	 * up for sleep_after; what was awake since before Friday's close sleeps */
	{ "Sun 2026-03-29T12:00Z", SUN_1100Z + HOUR, "KSKKD", "KSKK" },
	/* Monday 08:00 CEST, the window opens (06:00Z after the change, 07:00Z
	 * the Monday before): what slept wakes; demo idle 19h sleeps */
	{ "Mon 2026-03-30T06:00Z", FRI_0800Z + 3 * DAY - 2 * HOUR, "WKKWD", "KKSK" },
	/* Monday 12:00: four hours after the opening, the awake ones idle */
	{ "Mon 2026-03-30T10:00Z", FRI_0800Z + 3 * DAY + 2 * HOUR, "WSSWD", "KKSK" },
	/* Monday 20:30: closed; what slept stays asleep until Tuesday 08:00 */
	{ "Mon 2026-03-30T18:30Z", FRI_0800Z + 3 * DAY + 10 * HOUR + 30 * 60, "KSSKD", "KSSK" },
};

static char action_letter(enum gc_action a)
{
	return a == GC_DESTROY ? 'D' : a == GC_SLEEP ? 'S' : a == GC_WAKE ? 'W' : 'K';
}

/* Decides every environment at t; applies the actions to e (as the
 * provider would stamp them at t); returns the number of mismatches
 * against want (NULL: every action must be K) and counts actions. */
static size_t decide_all(const struct prenv_config *cfg, struct gc_env *e, size_t n,
			 const struct sleep_instant *in, int check, size_t *actions)
{
	size_t i, bad = 0;

	for (i = 0; i < n; i++) {
		struct gc_decision d;
		const char *state = NULL;
		char want = 'K', got;

		if (!e[i].name)
			continue; /* destroyed */
		memset(&d, 0, sizeof(d));
		prenv_buf_init(&d.why, 0);
		if (e[i].pr)
			state = (i % 10 == 4) ? "closed" : "open";
		assert_int_equal(0, gc_decide(cfg, &e[i], state, (time_t)in->t, &d));
		if (check)
			want = i < 46 ? in->pr_class[i % 5] : in->branch[i - 46];
		got = action_letter(d.action);
		if (got != want) {
			printf("%s: %s: %c, want %c (%s)\n", in->at, e[i].name, got, want, d.why.ptr);
			bad++;
		}
		if (d.action != GC_KEEP)
			(*actions)++;
		if (d.action == GC_DESTROY)
			e[i].name = NULL;
		else if (d.action == GC_SLEEP)
			e[i].asleep_since = in->t;
		else if (d.action == GC_WAKE)
			e[i].asleep_since = 0, e[i].woken_at = in->t;
		gc_decision_clear(&d);
	}
	return bad;
}

/* 50 environments x 4 instants: exactly the expected destroy/sleep/wake
 * sets, and a second pass at the same instant (after the actions) does
 * nothing. */
static void test_gc_sleep_wake_table(void **state)
{
	struct prenv_config *cfg = load(sleep_yaml);
	struct gc_env e[50];
	char names[50][16];
	size_t k, bad = 0;

	(void)state;
	for (k = 0; k < sizeof(instants) / sizeof(instants[0]); k++) {
		size_t first = 0, second = 0;

		sleep_envs(e, names, 50);
		bad += decide_all(cfg, e, 50, &instants[k], 1, &first);
		bad += decide_all(cfg, e, 50, &instants[k], 0, &second);
		printf("# %s: %zu action(s), then %zu\n", instants[k].at, first, second);
		assert_true(first > 0);
		assert_int_equal(0, second);
	}
	assert_int_equal(0, bad);
	config_free(cfg);
}

/* What the reasons say, and when a sleeping environment wakes. */
static void test_gc_sleep_reasons(void **state)
{
	struct prenv_config *cfg = load(sleep_yaml);
	struct gc_env e = { .name = "pr-7", .pr = 7, .deployed_at = FRI_0900Z };
	struct gc_decision d;
	char when[32];

	(void)state;
	memset(&d, 0, sizeof(d));
	assert_int_equal(0, gc_decide(cfg, &e, "open", (time_t)(SUN_1100Z + HOUR), &d));
	assert_int_equal(GC_SLEEP, d.action);
	assert_string_equal("outside the awake window (closed Fri 20:00 (Europe/Paris))", d.why.ptr);
	assert_string_equal("until Mon 08:00 (Europe/Paris)", d.until.ptr);
	fs_rfc3339(when, sizeof(when), d.next_wake);
	assert_string_equal("2026-03-30T06:00:00Z", when);
	/* asleep: kept, and says until when */
	e.asleep_since = SUN_1100Z + HOUR;
	assert_int_equal(0, gc_decide(cfg, &e, "open", (time_t)(SUN_1100Z + 2 * HOUR), &d));
	assert_int_equal(GC_KEEP, d.action);
	assert_int_equal(1, d.asleep);
	assert_string_equal("sleeping until Mon 08:00 (Europe/Paris); PR #7 open, TTL 7d: 116h left",
			    d.why.ptr);
	/* idle inside the window: until the next opening (Tuesday) */
	e.asleep_since = 0;
	assert_int_equal(0, gc_decide(cfg, &e, "open", (time_t)(FRI_0800Z + 3 * DAY + 2 * HOUR), &d));
	assert_int_equal(GC_SLEEP, d.action);
	assert_string_equal("idle for 4h (sleep_after 3h: no deploy, touch or wake since)", d.why.ptr);
	assert_string_equal("until Tue 08:00 (Europe/Paris)", d.until.ptr);
	/* a touch restarts the idle clock */
	e.touched_at = FRI_0800Z + 3 * DAY + HOUR;
	assert_int_equal(0, gc_decide(cfg, &e, "open", (time_t)(FRI_0800Z + 3 * DAY + 2 * HOUR), &d));
	assert_int_equal(GC_KEEP, d.action);
	/* protected: never put to sleep */
	e.name = "production";
	e.pr = 0;
	e.touched_at = 0;
	assert_int_equal(0, gc_decide(cfg, &e, NULL, (time_t)(SUN_1100Z + HOUR), &d));
	assert_int_equal(GC_KEEP, d.action);
	assert_string_equal("protected", d.why.ptr);
	gc_decision_clear(&d);
	config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gc_decision_table),
		cmocka_unit_test(test_gc_rule_fallbacks),
		cmocka_unit_test(test_gc_sleep_wake_table),
		cmocka_unit_test(test_gc_sleep_reasons),
		cmocka_unit_test(test_gc_env_pr_from_name),
		cmocka_unit_test(test_gc_duration_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
