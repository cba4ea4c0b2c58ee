/* test_report.c - report.c: the phases line (issue 12) and where it shows
 * (the PR comment, the JSON result). */
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
#include "report/report.h"
#include "util/buf.h"

#define OK REPORT_PHASE_OK
#define SK REPORT_PHASE_SKIPPED
#define FA REPORT_PHASE_FAILED
#define PE REPORT_PHASE_PENDING
#define RU REPORT_PHASE_RUNNING

struct line_case {
	struct report_phase ph[3];
	size_t n;
	const char *want;
};

static const struct line_case line_cases[] = {
	{ { { "data", OK, 0, 0, NULL }, { "seed", OK, 1, 42, NULL }, { "app", OK, 0, 0, NULL } }, 3,
	  "data \xe2\x9c\x93 \xc2\xb7 seed \xe2\x9c\x93 (once, 42 s) \xc2\xb7 app \xe2\x9c\x93" },
	{ { { "data", OK, 0, 3, NULL }, { "seed", SK, 1, 0, NULL }, { "app", OK, 0, 0, NULL } }, 3,
	  "data \xe2\x9c\x93 (3 s) \xc2\xb7 seed \xe2\x9c\x93 (once, earlier) \xc2\xb7 app \xe2\x9c\x93" },
	{ { { "data", OK, 0, 0, NULL }, { "seed", FA, 0, 7, NULL }, { "app", PE, 0, 0, NULL } }, 3,
	  "data \xe2\x9c\x93 \xc2\xb7 seed \xe2\x9c\x97 (7 s) \xc2\xb7 app \xe2\x80\x93" },
	{ { { "data", RU, 0, 0, NULL }, { "seed", PE, 1, 0, NULL } }, 2,
	  "data \xe2\x80\xa6 \xc2\xb7 seed \xe2\x80\x93 (once)" },
	{ { { "only", OK, 0, 0, NULL } }, 1, "only \xe2\x9c\x93" },
	/* phases of services name them */
	{ { { "data", OK, 0, 0, "db" }, { "seed", SK, 1, 0, NULL }, { "app", FA, 0, 4, "api, web" } }, 3,
	  "data [db] \xe2\x9c\x93 \xc2\xb7 seed \xe2\x9c\x93 (once, earlier) \xc2\xb7 app [api, web] "
	  "\xe2\x9c\x97 (4 s)" },
};

static void test_report_phases_line_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(line_cases) / sizeof(line_cases[0]); i++) {
		struct prenv_buf b = PRENV_BUF_INIT;

		assert_int_equal(report_phases_line(&b, line_cases[i].ph, line_cases[i].n), 0);
		if (strcmp(b.ptr, line_cases[i].want))
			printf("case %zu: got '%s'\n", i, b.ptr);
		assert_string_equal(b.ptr, line_cases[i].want);
		prenv_buf_free(&b);
	}
}

static void test_report_comment_and_json_show_phases(void **state)
{
	struct prenv_config cfg;
	struct prenv_context ctx;
	struct prenv_plan plan;
	struct report_info ri;
	struct prenv_buf b = PRENV_BUF_INIT;
	cJSON *j;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	memset(&ctx, 0, sizeof(ctx));
	memset(&plan, 0, sizeof(plan));
	memset(&ri, 0, sizeof(ri));
	cfg.app = (char *)"shop";
	plan.env_name = (char *)"pr-7";
	ri.cfg = &cfg;
	ri.ctx = &ctx;
	ri.plan = &plan;
	ri.status = "failed";
	ri.reason = "phase seed: BackoffLimitExceeded";
	ri.phases = "data \xe2\x9c\x93 \xc2\xb7 seed \xe2\x9c\x97 \xc2\xb7 app \xe2\x80\x93";
	assert_int_equal(report_comment_body(&b, &ri), 0);
	assert_non_null(strstr(b.ptr, "| Phases | data \xe2\x9c\x93 \xc2\xb7 seed \xe2\x9c\x97 \xc2\xb7 app "));
	assert_non_null(strstr(b.ptr, "**Reason:** phase seed"));
	j = report_result_json(&ri);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(j, "phases")), ri.phases);
	cJSON_Delete(j);
	/* no phases: no row, no key (as before) */
	prenv_buf_reset(&b);
	ri.phases = NULL;
	assert_int_equal(report_comment_body(&b, &ri), 0);
	assert_null(strstr(b.ptr, "Phases"));
	j = report_result_json(&ri);
	assert_null(cJSON_GetObjectItem(j, "phases"));
	cJSON_Delete(j);
	prenv_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_report_phases_line_table),
		cmocka_unit_test(test_report_comment_and_json_show_phases),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
