/* test_cabundle.c - where the static binary looks for the CA bundle:
 * SSL_CERT_FILE first, then the first usual path that is a readable file. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cabundle.h"

static char dir[64];
static char f_a[96], f_b[96], d_c[96], f_none[96];

static int setup(void **state)
{
	FILE *f;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/prenv-cabundle-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(f_a, sizeof(f_a), "%s/a.pem", dir);
	snprintf(f_b, sizeof(f_b), "%s/b.pem", dir);
	snprintf(d_c, sizeof(d_c), "%s/c.pem", dir);
	snprintf(f_none, sizeof(f_none), "%s/none.pem", dir);
	if (!(f = fopen(f_a, "w")) || fclose(f) || !(f = fopen(f_b, "w")) || fclose(f))
		return -1;
	return mkdir(d_c, 0755);
}

static int teardown(void **state)
{
	(void)state;
	unlink(f_a);
	unlink(f_b);
	rmdir(d_c);
	return rmdir(dir);
}

static void test_cabundle_pick_table(void **state)
{
	const char *const none_a_b[] = { f_none, f_a, f_b, NULL };
	const char *const dir_b[] = { d_c, f_b, NULL };
	const char *const nothing[] = { f_none, d_c, NULL };
	const char *const empty[] = { NULL };
	const struct { const char *env; const char *const *paths; const char *want; } t[] = {
		{ NULL, none_a_b, f_a },      /* first that exists */
		{ "", none_a_b, f_a },        /* empty SSL_CERT_FILE is unset */
		{ "/x/env.pem", none_a_b, "/x/env.pem" }, /* SSL_CERT_FILE wins, as given */
		{ NULL, dir_b, f_b },         /* a directory is not a bundle */
		{ NULL, nothing, NULL },
		{ NULL, empty, NULL },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		const char *got = ca_bundle_pick(t[i].env, t[i].paths);

		if (!t[i].want)
			assert_null(got);
		else
			assert_string_equal(got, t[i].want);
	}
}

static void test_cabundle_usual_paths(void **state)
{
	size_t i;
	int debian = 0, rhel = 0, cert_pem = 0;

	(void)state;
	for (i = 0; ca_bundle_paths[i]; i++) {
		debian |= !strcmp(ca_bundle_paths[i], "/etc/ssl/certs/ca-certificates.crt");
		rhel |= !strcmp(ca_bundle_paths[i], "/etc/pki/tls/certs/ca-bundle.crt");
		cert_pem |= !strcmp(ca_bundle_paths[i], "/etc/ssl/cert.pem");
	}
	assert_true(debian && rhel && cert_pem);
	/* Debian's path first: it is where most CI runners keep theirs */
	assert_string_equal(ca_bundle_paths[0], "/etc/ssl/certs/ca-certificates.crt");
}

static void test_cabundle_find_env(void **state)
{
	(void)state;
	assert_int_equal(setenv("SSL_CERT_FILE", f_b, 1), 0);
	assert_string_equal(ca_bundle_find(), f_b);
	unsetenv("SSL_CERT_FILE");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cabundle_pick_table),
		cmocka_unit_test(test_cabundle_usual_paths),
		cmocka_unit_test(test_cabundle_find_env),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
