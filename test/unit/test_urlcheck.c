/* test_urlcheck.c - the pure parts of the URL check (lifecycle/urlcheck.c)
 * and of its config (config_parse_status, check: in .prenv.yml), from
 * tables. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "lifecycle/urlcheck.h"
#include "registry.h"
#include "util/buf.h"
#include "util/err.h"

static void test_status_parse(void **state)
{
	static const struct { const char *s; int rc, lo, hi; } t[] = {
		{ "200", 0, 200, 200 }, { "2xx", 0, 200, 299 }, { "4XX", 0, 400, 499 },
		{ "200-399", 0, 200, 399 }, { "100-599", 0, 100, 599 }, { "301-301", 0, 301, 301 },
		{ "700", -1, 0, 0 }, { "99", -1, 0, 0 }, { "6xx", -1, 0, 0 }, { "0xx", -1, 0, 0 },
		{ "399-200", -1, 0, 0 }, { "200-", -1, 0, 0 }, { "-200", -1, 0, 0 }, { "", -1, 0, 0 },
		{ "2000", -1, 0, 0 }, { "20x", -1, 0, 0 }, { "200-600", -1, 0, 0 }, { "ok", -1, 0, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int lo = 0, hi = 0, rc = config_parse_status(t[i].s, &lo, &hi);

		if (rc != t[i].rc || (!rc && (lo != t[i].lo || hi != t[i].hi)))
			fail_msg("'%s': rc %d [%d,%d], want %d [%d,%d]", t[i].s, rc, lo, hi, t[i].rc,
				 t[i].lo, t[i].hi);
	}
}

static void test_join(void **state)
{
	static const struct { const char *base, *path, *want; } t[] = {
		{ "http://a", NULL, "http://a" },
		{ "http://a/", NULL, "http://a/" },
		{ "http://a", "/healthz", "http://a/healthz" },
		{ "http://a/", "/healthz", "http://a/healthz" },
		{ "http://a/app/", "/", "http://a/app/" },
		{ "http://a/app", "/x?y=1", "http://a/app/x?y=1" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *u = urlcheck_join(t[i].base, t[i].path);

		assert_non_null(u);
		if (strcmp(u, t[i].want))
			fail_msg("join(%s, %s) = %s, want %s", t[i].base, t[i].path ? t[i].path : "NULL",
				 u, t[i].want);
		free(u);
	}
}

static void test_expected(void **state)
{
	struct config_check ck = { 0 };
	static const struct { int lo, hi; const char *contains, *body; long status; int want; } t[] = {
		{ 200, 399, NULL, "", 200, 1 }, { 200, 399, NULL, "", 302, 1 },
		{ 200, 399, NULL, "x", 404, 0 }, { 200, 399, NULL, "x", 503, 0 },
		{ 200, 200, "Welcome", "<h1>Welcome</h1>", 200, 1 },
		{ 200, 200, "Welcome", "default backend - 404", 200, 0 },
		{ 200, 200, "Welcome", "<h1>Welcome</h1>", 201, 0 },
		{ 400, 499, NULL, "login", 401, 1 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ck.status_lo = t[i].lo;
		ck.status_hi = t[i].hi;
		ck.contains = (char *)t[i].contains;
		if (urlcheck_expected(&ck, t[i].status, t[i].body, strlen(t[i].body)) != t[i].want)
			fail_msg("row %zu: want %d", i, t[i].want);
	}
}

static void test_excerpt(void **state)
{
	static const struct { const char *body; int lines; size_t cols; const char *want; } t[] = {
		{ "a\nb\nc\n", 2, 80, "a\nb" },
		{ "\n\n  \r\nfirst\r\n\nsecond  \n", 5, 80, "first\nsecond" },
		{ "\x1b[31mred\x1b[0m", 1, 80, "\\x1b[31mred\\x1b[0m" },
		{ "nul\x01\x7f", 1, 80, "nul\\x01\\x7f" },
		{ "caf\xc3\xa9 \xff", 1, 80, "caf\xc3\xa9 \\xff" },
		{ "abcdefghij", 1, 4, "abcd..." },
		{ "tab\there", 1, 80, "tab here" },
		{ "::set-output name=x::y\n##[error]z", 5, 80, "::set-output name=x::y\n##[error]z" },
		{ "", 5, 80, "" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct prenv_buf b = PRENV_BUF_INIT;

		prenv_buf_adds(&b, "");
		urlcheck_excerpt(&b, t[i].body, strlen(t[i].body), t[i].lines, t[i].cols);
		if (strcmp(b.ptr ? b.ptr : "", t[i].want))
			fail_msg("row %zu: '%s', want '%s'", i, b.ptr ? b.ptr : "", t[i].want);
		prenv_buf_free(&b);
	}
}

static const char base_cfg[] =
	"app: shop\n"
	"provider: { kind: command, deploy: [\"true\"] }\n"
	"environments:\n"
	"  - pull_request: true\n";

/* check: as written -> parse result (0 or the line:col of the error). */
static void test_config_check(void **state)
{
	static const struct { const char *check; int rc, line, col, enabled; } t[] = {
		{ "check: true\n", 0, 0, 0, 1 },
		{ "check: false\n", 0, 0, 0, 0 },
		{ "check: { path: /healthz, status: 2xx, timeout: 30s }\n", 0, 0, 0, 1 },
		{ "check: yes please\n", PRENV_ECONFIG, 5, 8, 0 },
		{ "check: { status: 999 }\n", PRENV_ECONFIG, 5, 18, 0 },
		{ "check: { contains: '' }\n", PRENV_ECONFIG, 5, 20, 0 },
		{ "check: { timeout: 0s }\n", PRENV_ECONFIG, 5, 19, 0 },
		{ "check: { path: '/a b' }\n", PRENV_ECONFIG, 5, 16, 0 },
		{ "check: { headers: { X-A: \"a\\nb\" } }\n", PRENV_ECONFIG, 5, 26, 0 },
		{ "check: { headers_from_env: { X-A: 'not a var' } }\n", PRENV_ECONFIG, 5, 35, 0 },
		{ "check: { headers_from_env: { X-A: CI_JOB_TOKEN } }\n", PRENV_ECONFIG, 5, 35, 0 },
		{ "check: { pth: /x }\n", PRENV_ECONFIG, 5, 10, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct prenv_buf y = PRENV_BUF_INIT;
		struct prenv_config *cfg = NULL;
		struct prenv_err err = PRENV_ERR_INIT;
		int rc;

		prenv_buf_printf(&y, "%s%s", base_cfg, t[i].check);
		rc = config_parse(&cfg, ".prenv.yml", y.ptr, y.len, provider_schemas(), &err);
		if (rc != t[i].rc || (rc && (err.line != t[i].line || err.col != t[i].col)) ||
		    (!rc && cfg->check.enabled != t[i].enabled))
			fail_msg("%s: rc %d at %d:%d (%s), want %d at %d:%d", t[i].check, rc, err.line,
				 err.col, err.msg ? err.msg : "", t[i].rc, t[i].line, t[i].col);
		config_free(cfg);
		prenv_err_clear(&err);
		prenv_buf_free(&y);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_parse),
		cmocka_unit_test(test_join),
		cmocka_unit_test(test_expected),
		cmocka_unit_test(test_excerpt),
		cmocka_unit_test(test_config_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
