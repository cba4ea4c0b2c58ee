/* test_tmpl_open.c - tmpl_opts.open_names: the check render of a phase
 * before the outputs of the phases before it exist (issue 12). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "render/tmpl.h"
#include "util/err.h"

static int render(const char *src, const char *const *open, struct prenv_buf *out, struct prenv_err *err)
{
	struct tmpl_opts o = TMPL_OPTS_INIT;
	cJSON *data = cJSON_Parse("{\"outputs\": {}, \"app\": \"shop\"}");
	int rc;

	o.escape = TMPL_ESC_YAML;
	o.open_names = open;
	rc = tmpl_render(out, src, strlen(src), data, &o, err);
	cJSON_Delete(data);
	return rc;
}

static void test_tmpl_open_names(void **state)
{
	static const char *const open[] = { "outputs.seed", NULL };
	struct prenv_buf b = PRENV_BUF_INIT;
	struct prenv_err err = PRENV_ERR_INIT;

	(void)state;
	/* a member of an open name: the placeholder; a section under it: empty */
	assert_int_equal(render("host: {{outputs.seed.db_host}}\n{{#outputs.seed.x}}y{{/outputs.seed.x}}", open,
				&b, &err), 0);
	assert_string_equal(b.ptr, "host: " TMPL_OPEN_PLACEHOLDER "\n");
	prenv_buf_reset(&b);
	/* another phase's outputs, or the open name itself, stay errors */
	assert_int_equal(render("h: {{outputs.app.host}}", open, &b, &err), PRENV_ECONFIG);
	assert_non_null(strstr(err.msg, "'outputs.app.host' is not defined"));
	prenv_err_clear(&err);
	assert_int_equal(render("h: {{outputs.seedx.host}}", open, &b, &err), PRENV_ECONFIG);
	prenv_err_clear(&err);
	assert_int_equal(render("h: {{app}} {{nope}}", open, &b, &err), PRENV_ECONFIG);
	assert_int_equal(err.line, 1);
	assert_int_equal(err.col, 12);
	prenv_err_clear(&err);
	/* without open names: an error as always */
	assert_int_equal(render("h: {{outputs.seed.db_host}}", NULL, &b, &err), PRENV_ECONFIG);
	prenv_err_clear(&err);
	prenv_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tmpl_open_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
