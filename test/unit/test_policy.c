/* test_policy.c - the reporting policy (report/policy.c): which steps a
 * report takes and what a reporting failure costs. Pure, from tables. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "report/codehost.h"
#include "report/policy.h"
#include "util/err.h"

#define SHOW REPORT_SHOW_BODY
#define COMMENT REPORT_COMMENT
#define REMEMBER REPORT_REMEMBER
#define DEPLOY REPORT_DEPLOYMENT
#define NOHOST REPORT_NO_HOST_FAILS

struct decide_case {
	const char *status;
	int quiet, dry_run, has_pr, strict, host, host_auth;
	unsigned want;
};

static const struct decide_case decide_cases[] = {
	/* a dry run posts nothing; the final report shows the body on a PR */
	{ "ready", 0, 1, 1, 0, 1, 0, SHOW },
	{ "ready", 0, 1, 0, 0, 1, 0, 0 },
	{ "deploying", 1, 1, 1, 0, 1, 0, 0 },
	{ "ready", 0, 1, 1, 1, 0, 1, SHOW },     /* strict, no host: still no error */
	/* no code host session */
	{ "ready", 0, 0, 1, 0, 0, 0, SHOW },
	{ "ready", 0, 0, 0, 0, 0, 0, 0 },
	{ "ready", 0, 0, 1, 1, 0, 0, SHOW | NOHOST },
	{ "ready", 0, 0, 0, 1, 0, 0, 0 },         /* no PR, no token problem: fine */
	{ "ready", 0, 0, 0, 1, 0, 1, NOHOST },    /* no PR but the token is unusable */
	{ "deploying", 1, 0, 1, 1, 0, 1, 0 },     /* the quiet report never fails */
	/* with a session */
	{ "deploying", 1, 0, 1, 0, 1, 0, COMMENT | REMEMBER | DEPLOY },
	{ "ready", 0, 0, 1, 0, 1, 0, COMMENT | REMEMBER | DEPLOY },
	{ "failed", 0, 0, 1, 1, 1, 0, COMMENT | REMEMBER | DEPLOY },
	{ "destroyed", 0, 0, 1, 0, 1, 0, COMMENT | DEPLOY }, /* not remembered: it is gone */
	{ "ready", 0, 0, 0, 0, 1, 0, DEPLOY },                /* a branch: deployment only */
	/* sleeping: the comment says so, the deployment stays as it was */
	{ "sleeping", 0, 0, 1, 0, 1, 0, COMMENT | REMEMBER },
	{ "sleeping", 0, 0, 0, 0, 1, 0, 0 },
};

static void test_policy_decide_table(void **state)
{
	size_t i, failed = 0;

	(void)state;
	for (i = 0; i < sizeof(decide_cases) / sizeof(decide_cases[0]); i++) {
		const struct decide_case *c = &decide_cases[i];
		struct report_facts f = { c->status, c->quiet, c->dry_run, c->has_pr, c->strict,
					  c->host, c->host_auth };
		unsigned got = report_decide(&f);

		if (got != c->want) {
			printf("case %zu (%s): steps 0x%x, want 0x%x\n", i, c->status, got, c->want);
			failed++;
		}
	}
	printf("# report_decide cases: %zu, failed: %zu\n", i, failed);
	assert_int_equal(failed, 0);
}

struct final_case {
	int quiet, strict, comment_rc, deploy_rc, want;
};

static const struct final_case final_cases[] = {
	{ 0, 0, 0, 0, 0 },
	{ 0, 0, PRENV_EAUTH, 0, 0 },                 /* warnings only by default */
	{ 0, 0, 0, PRENV_EFAIL, 0 },
	{ 0, 1, 0, 0, 0 },
	{ 0, 1, PRENV_EAUTH, 0, PRENV_EAUTH },       /* --strict-report: exit 3 */
	{ 0, 1, PRENV_EAUTH, PRENV_EFAIL, PRENV_EAUTH }, /* the comment's failure counts first */
	{ 0, 1, PRENV_EFAIL, PRENV_EAUTH, PRENV_EFAIL },
	{ 0, 1, 0, PRENV_EAUTH, PRENV_EAUTH },
	{ 0, 1, 0, PRENV_ENOTFOUND, PRENV_EFAIL },   /* anything else: exit 1 */
	{ 0, 1, -20, 0, PRENV_EFAIL },
	{ 1, 1, PRENV_EAUTH, PRENV_EFAIL, 0 },       /* the quiet report never fails */
};

static void test_policy_final_code_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(final_cases) / sizeof(final_cases[0]); i++) {
		const struct final_case *c = &final_cases[i];
		struct report_facts f = { "ready", c->quiet, 0, 1, c->strict, 1, 0 };
		int got = report_final_code(&f, c->comment_rc, c->deploy_rc);

		if (got != c->want)
			fail_msg("case %zu: %d, want %d", i, got, c->want);
	}
}

/* The quiet report does not try the deployment status with a token that
 * was just refused; the final report always does. */
static void test_policy_deployment_after_refused_comment(void **state)
{
	struct report_facts quiet = { "deploying", 1, 0, 1, 0, 1, 0 };
	struct report_facts final = { "ready", 0, 0, 1, 0, 1, 0 };

	(void)state;
	assert_false(report_deployment_wanted(&quiet, PRENV_EAUTH));
	assert_true(report_deployment_wanted(&quiet, PRENV_EFAIL));
	assert_true(report_deployment_wanted(&quiet, 0));
	assert_true(report_deployment_wanted(&final, PRENV_EAUTH));
}

static void test_policy_auth_hints_name_the_permission(void **state)
{
	(void)state;
	assert_non_null(strstr(report_auth_hint(CODEHOST_GITHUB), "pull-requests: write"));
	assert_non_null(strstr(report_auth_hint(CODEHOST_GITHUB), "fork"));
	assert_non_null(strstr(report_auth_hint(CODEHOST_GITLAB), "api scope"));
	assert_non_null(strstr(report_auth_hint(CODEHOST_GITLAB), "job token"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_decide_table),
		cmocka_unit_test(test_policy_final_code_table),
		cmocka_unit_test(test_policy_deployment_after_refused_comment),
		cmocka_unit_test(test_policy_auth_hints_name_the_permission),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
