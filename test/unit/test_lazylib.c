/* test_lazylib.c - util/lazylib: a library loaded on first use, every name
 * resolved or a clear error naming the library or the missing symbol; a
 * failure is remembered (no second attempt, the same message). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "util/err.h"
#include "util/lazylib.h"

static const char *const libm_names[] = { "cos", "sqrt" };
static const char *const bad_names[] = { "cos", "prenv_no_such_symbol" };

struct lazy_case {
	const char *soname;
	const char *dir;
	const char *const *names;
	size_t n;
	int rc;
	const char *msg_has;  /* NULL when it loads */
};

static const struct lazy_case cases[] = {
	{ "libm.so.6", NULL, libm_names, 2, 0, NULL },
	{ "libm.so.6", "/nonexistent", libm_names, 2, 0, NULL },
	{ "libprenv-nope.so.9", NULL, libm_names, 2, PRENV_EFAIL, "cannot load libtest (libprenv-nope.so.9)" },
	{ "libprenv-nope.so.9", "/nonexistent", libm_names, 2, PRENV_EFAIL, "install the libtest runtime" },
	{ "libm.so.6", NULL, bad_names, 2, PRENV_EFAIL, "it has no prenv_no_such_symbol" },
};

static void test_lazylib_table(void **state)
{
	size_t i, k;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct lazy_case *c = &cases[i];
		void *slots[2] = { NULL, NULL };
		struct lazylib l = LAZYLIB_INIT("libtest", c->soname, c->dir, c->names, slots, c->n);

		for (k = 0; k < 2; k++) { /* the second call answers from memory */
			struct prenv_err err = PRENV_ERR_INIT;
			int rc = lazylib_load(&l, &err);

			assert_int_equal(rc, c->rc);
			assert_int_equal(lazylib_loaded(&l), c->rc == 0);
			if (c->msg_has) {
				assert_non_null(err.msg);
				if (!strstr(err.msg, c->msg_has))
					fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, c->msg_has);
			} else {
				double (*cosp)(double) = (double (*)(double))slots[0];

				assert_null(err.msg);
				assert_non_null(slots[1]);
				assert_true(cosp(0.0) == 1.0);
			}
			prenv_err_clear(&err);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lazylib_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
