/* test_image_check.c - a service's image check settings (image_check,
 * image_wait, on_missing in config/services.c) and what image_check.c makes
 * of them; the checks against a real registry are test/e2e/test_registry.py. */
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
#include "resolve/image_check.h"
#include "util/err.h"
#include "util/http.h"

#define HEAD "app: shop\nprovider:\n  kind: kubernetes\nenvironments:\n  - pull_request: true\n" \
	     "services:\n  web:\n    templates: deploy/web\n"

static struct prenv_config *parse(const char *yaml, struct prenv_err *err)
{
	struct prenv_config *cfg = NULL;

	config_parse(&cfg, "t.yml", yaml, strlen(yaml), provider_schemas(), err);
	return cfg;
}

/* HEAD with extra lines for service web. */
static struct prenv_config *parse_web(const char *extra, struct prenv_err *err)
{
	char yaml[512];

	snprintf(yaml, sizeof yaml, HEAD "%s", extra);
	return parse(yaml, err);
}

static void test_image_check_keys_defaults_and_values(void **state)
{
	static const struct {
		const char *extra;
		int enabled;
		long wait_ms;
		int production;
	} cases[] = {
		{ "", 0, 600000, 0 },
		{ "    image: x\n    image_check: true\n", 1, 600000, 0 },
		{ "    image: x\n    image_check: true\n    image_wait: 30s\n", 1, 30000, 0 },
		{ "    image: x\n    image_check: true\n    image_wait: 1h30m\n    on_missing: production\n",
		  1, 5400000, 1 },
		{ "    image: x\n    image_check: false\n    on_missing: fail\n", 0, 600000, 0 },
		{ "    image: x\n    image_check: true\n    image_wait: 0\n", 1, 0, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct prenv_err err = PRENV_ERR_INIT;
		struct prenv_config *cfg = parse_web(cases[i].extra, &err);
		struct image_check_keys k;

		if (!cfg)
			fail_msg("case %zu: %s", i, err.msg);
		image_check_keys_read(cfg->services[0].keys, &k);
		if (k.enabled != cases[i].enabled || k.wait_ms != cases[i].wait_ms ||
		    k.production != cases[i].production)
			fail_msg("case %zu: enabled %d wait %ld production %d", i, k.enabled, k.wait_ms,
				 k.production);
		config_free(cfg);
	}
}

static void test_image_check_config_errors(void **state)
{
	static const struct {
		const char *extra;
		int line, col;
		const char *want;
	} cases[] = {
		{ "    image: x\n    on_missing: latest\n", 10, 17,
		  "'on_missing' must be fail (the default: stop, deploy nothing) or production" },
		{ "    image_check: true\n", 9, 18, "image_check: true but no image" },
		{ "    image: x\n    image_check: yes please\n", 10, 18, "image_check" },
		{ "    image: x\n    image_check: true\n    image_wait: 10 minutes\n", 11, 17, "image_wait" },
		{ "    image: x\n    image_wiat: 5m\n", 10, 5, "did you mean 'image_wait'?" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct prenv_err err = PRENV_ERR_INIT;
		struct prenv_config *cfg = parse_web(cases[i].extra, &err);

		if (cfg || err.code != PRENV_ECONFIG || err.line != cases[i].line ||
		    err.col != cases[i].col || !strstr(err.msg, cases[i].want))
			fail_msg("case %zu: %d at %d:%d: %s", i, err.code, err.line, err.col,
				 err.msg ? err.msg : "(none)");
		config_free(cfg);
		prenv_err_clear(&err);
	}
}

/* Without image_check nothing is asked: the image is kept as it is (no
 * client is even made: no request is counted anywhere). */
static void test_image_check_off_keeps_image(void **state)
{
	struct image_checker *ic = NULL;
	struct prenv_err err = PRENV_ERR_INIT;
	cJSON *keys = cJSON_Parse("{\"image_check\": false, \"image_wait\": 600}");
	char *out = NULL;
	int fell_back = -1;

	(void)state;
	assert_int_equal(0, image_checker_new(&ic, NULL, &err));
	assert_int_equal(0, image_checker_run(ic, "web", keys, "ghcr.io/acme/web:abc", NULL, &out,
					      &fell_back, &err));
	assert_string_equal("ghcr.io/acme/web:abc", out);
	assert_int_equal(0, fell_back);
	free(out);
	image_checker_free(ic);
	cJSON_Delete(keys);
}

/* A rendered image that is not a reference is a config error, before any
 * request (the registry port here is closed). */
static void test_image_check_bad_reference(void **state)
{
	struct image_checker *ic = NULL;
	struct prenv_err err = PRENV_ERR_INIT;
	cJSON *keys = cJSON_Parse("{\"image_check\": true, \"image_wait\": 0}");
	char *out = NULL;
	int fell_back;

	(void)state;
	assert_int_equal(0, image_checker_new(&ic, NULL, &err));
	assert_int_equal(PRENV_ECONFIG, image_checker_run(ic, "web", keys, "127.0.0.1:1/Web:feature/x",
							  NULL, &out, &fell_back, &err));
	assert_non_null(strstr(err.msg, "lower-case"));
	assert_null(out);
	prenv_err_clear(&err);
	image_checker_free(ic);
	cJSON_Delete(keys);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_image_check_keys_defaults_and_values),
		cmocka_unit_test(test_image_check_config_errors),
		cmocka_unit_test(test_image_check_off_keeps_image),
		cmocka_unit_test(test_image_check_bad_reference),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
