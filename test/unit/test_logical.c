/* test_logical.c - the deployed set of a logical environment
 * (config/logical.c): service graphs x changed paths -> deployed or
 * borrowed, and why. Pure, from tables. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "config/logical.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* The product: web -> api -> db (stateful), plus a worker that
 * calls db, an admin entry point that calls api, and a search service
 * nobody calls from the changed side. */
static const char *const web_paths[] = { "web/**" };
static const char *const api_paths[] = { "api/**", "proto/**" };
static const char *const db_paths[] = { "db/**" };
static const char *const worker_paths[] = { "worker/**" };
static const char *const admin_paths[] = { "admin/**" };
static const char *const search_paths[] = { "search/**" };
static const char *const web_calls[] = { "api", "search" };
static const char *const api_calls[] = { "db" };
static const char *const worker_calls[] = { "db" };
static const char *const admin_calls[] = { "api" };

static const struct logical_service product[] = {
	{ "web", web_paths, 1, web_calls, 2, 0 },
	{ "api", api_paths, 2, api_calls, 1, 0 },
	{ "db", db_paths, 1, NULL, 0, 1 },
	{ "worker", worker_paths, 1, worker_calls, 1, 0 },
	{ "admin", admin_paths, 1, admin_calls, 1, 0 },
	{ "search", search_paths, 1, NULL, 0, 0 },
};
static const char *const shared[] = { "deploy/common/**" };

struct row {
	const char *what;
	const char *changed[4];
	int no_merge_base;
	/* one letter per service of product[], in order:
	 * c changed, k caller, s stateful, e entry, a all, - borrowed */
	const char *want;
};

static const struct row rows[] = {
	{ "only api changed: callers up to the entry points, db as stateful dependency",
	  { "api/main.go" }, 0, "kcs-k-" },
	{ "proto counts for api", { "proto/api.proto" }, 0, "kcs-k-" },
	{ "only web changed: web alone (search and api borrowed)", { "web/index.html" }, 0,
	  "c-----" },
	{ "db changed: db and every caller up the graph", { "db/migrations/001.sql" }, 0,
	  "kkckk-" },
	{ "worker changed: worker and its database", { "worker/run.py" }, 0, "--sc--" },
	{ "search changed: search and web", { "search/index.go" }, 0, "k----c" },
	{ "a shared path: everything", { "web/x", "deploy/common/ingress.yaml" }, 0,
	  "aaaaaa" },
	{ "no merge base: everything", { "web/x" }, 1, "aaaaaa" },
	{ "nothing a service owns changed: all borrowed", { "README.md" }, 0, "------" },
	{ "no changed file at all: all borrowed", { NULL }, 0, "------" },
	{ "two changes", { "README.md", "worker/a", "search/b" }, 0, "k-sc-c" },
};

static char letter(enum logical_why w)
{
	switch (w) {
	case LOGICAL_CHANGED: return 'c';
	case LOGICAL_CALLER: return 'k';
	case LOGICAL_STATEFUL: return 's';
	case LOGICAL_ALL: return 'a';
	case LOGICAL_BORROWED: break;
	}
	return '-';
}

static void run_table(void **state)
{
	struct logical_choice out[N(product)];
	char got[N(product) + 1];
	size_t r, i, nc, n, want_n;

	(void)state;
	for (r = 0; r < N(rows); r++) {
		struct logical_input in = { product, N(product), shared, N(shared), rows[r].changed,
					    0, rows[r].no_merge_base };

		for (nc = 0; nc < 4 && rows[r].changed[nc]; nc++)
			;
		in.nchanged = nc;
		n = logical_compute(&in, out);
		for (i = 0; i < N(product); i++)
			got[i] = letter(out[i].why);
		got[i] = 0;
		if (strcmp(got, rows[r].want))
			print_error("%s: got %s, want %s\n", rows[r].what, got, rows[r].want);
		assert_string_equal(got, rows[r].want);
		for (i = want_n = 0; i < N(product); i++)
			want_n += rows[r].want[i] != '-';
		assert_int_equal(n, want_n);
	}
}

/* a <-> b call each other, c calls b; a changes. */
static void cycles_end(void **state)
{
	static const char *const pa[] = { "a/**" }, *const pb[] = { "b/**" },
				 *const pc[] = { "c/**" };
	static const char *const ca[] = { "b" }, *const cb[] = { "a" }, *const cc[] = { "b" },
				 *const cself[] = { "self" };
	static const struct logical_service g[] = {
		{ "a", pa, 1, ca, 1, 0 }, { "b", pb, 1, cb, 1, 0 }, { "c", pc, 1, cc, 1, 0 },
		{ "self", NULL, 0, cself, 1, 0 },
	};
	static const char *const changed[] = { "a/x.c" };
	struct logical_input in = { g, N(g), NULL, 0, changed, 1, 0 };
	struct logical_choice out[N(g)];

	(void)state;
	assert_int_equal(logical_compute(&in, out), 3);
	assert_int_equal(out[0].why, LOGICAL_CHANGED);
	assert_int_equal(out[1].why, LOGICAL_CALLER);
	assert_string_equal(out[1].because, "a");
	assert_int_equal(out[2].why, LOGICAL_CALLER);
	assert_string_equal(out[2].because, "b");
	assert_int_equal(out[3].why, LOGICAL_BORROWED);
}

/* A calls entry naming no service is ignored; two deployed callers of one
 * database: it is deployed once, because of the first. */
static void unknown_calls_and_shared_database(void **state)
{
	static const char *const pw[] = { "web/**" }, *const pj[] = { "jobs/**" };
	static const char *const cw[] = { "nosuch", "db" }, *const cj[] = { "db" };
	static const struct logical_service g[] = {
		{ "web", pw, 1, cw, 2, 0 }, { "db", NULL, 0, NULL, 0, 1 },
		{ "jobs", pj, 1, cj, 1, 0 },
	};
	static const char *const changed[] = { "jobs/a", "web/b" };
	struct logical_input in = { g, N(g), NULL, 0, changed, 2, 0 };
	struct logical_choice out[N(g)];

	(void)state;
	assert_int_equal(logical_compute(&in, out), 3);
	assert_int_equal(out[0].why, LOGICAL_CHANGED);
	assert_string_equal(out[0].because, "web/b");
	assert_int_equal(out[1].why, LOGICAL_STATEFUL);
	assert_string_equal(out[1].because, "web");
	assert_int_equal(out[2].why, LOGICAL_CHANGED);
}

static void descriptions(void **state)
{
	static const char *const changed[] = { "api/main.go" };
	struct logical_input in = { product, N(product), shared, N(shared), changed, 1, 0 };
	struct logical_choice out[N(product)];
	char buf[160];

	(void)state;
	logical_compute(&in, out);
	logical_describe(&out[1], buf, sizeof(buf));
	assert_string_equal(buf, "changed (api/main.go matches api/**)");
	logical_describe(&out[0], buf, sizeof(buf));
	assert_string_equal(buf, "calls api");
	logical_describe(&out[2], buf, sizeof(buf));
	assert_string_equal(buf, "stateful, called by api");
	logical_describe(&out[5], buf, sizeof(buf));
	assert_string_equal(buf, "borrowed");
	assert_string_equal(logical_why_name(out[2].why), "stateful");

	in.changed = (const char *const[]){ "deploy/common/a.yaml" };
	logical_compute(&in, out);
	logical_describe(&out[3], buf, sizeof(buf));
	assert_string_equal(buf, "everything: deploy/common/a.yaml matches shared path "
				 "deploy/common/**");
	in.no_merge_base = 1;
	logical_compute(&in, out);
	logical_describe(&out[3], buf, sizeof(buf));
	assert_non_null(strstr(buf, "no merge base"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(run_table),
		cmocka_unit_test(cycles_end),
		cmocka_unit_test(unknown_calls_and_shared_database),
		cmocka_unit_test(descriptions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
