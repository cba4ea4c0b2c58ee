/* test_htpasswd.c - MD5 against RFC 1321's vectors, APR1 against
 * `openssl passwd -apr1 -salt SALT PASSWORD` (OpenSSL 3, the values below
 * were produced on this machine), the salt and user checks and the line. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "util/buf.h"
#include "util/htpasswd.h"

static void hex(char out[33], const unsigned char d[16])
{
	int i;

	for (i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void test_htpasswd_md5_rfc1321(void **state)
{
	static const struct { const char *in, *md5; } cases[] = {
		{ "", "d41d8cd98f00b204e9800998ecf8427e" },
		{ "a", "0cc175b9c0f1b6a831c399e269772661" },
		{ "abc", "900150983cd24fb0d6963f7d28e17f72" },
		{ "message digest", "f96b697d7cb7938d525a2f31aaf161d0" },
		{ "abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b" },
		{ "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
		  "d174ab98d277d9f5a5611c2c9f419d9f" },
		{ "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
		  "57edf4a22be3c955ac49da2e2107b67a" },
	};
	unsigned char d[16];
	char h[33];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		htpasswd_md5(d, cases[i].in, strlen(cases[i].in));
		hex(h, d);
		assert_string_equal(h, cases[i].md5);
	}
}

static void test_htpasswd_apr1_matches_openssl(void **state)
{
	static const struct { const char *pw, *salt, *want; } cases[] = {
		{ "password", "saltsalt", "$apr1$saltsalt$yAAkm4libquA.ZWLHbSBq/" },
		{ "preview", "abcdefgh", "$apr1$abcdefgh$60aF9LQVWCh163s6Dwg0y." },
		{ "", "12345678", "$apr1$12345678$sHuPAw7VA9xjRbJz7zKV7/" },
		{ "a-very-long-password-with-more-than-sixteen-bytes-0123456789", "./AZaz09",
		  "$apr1$./AZaz09$/gZju07SvN5bUxUTb6h7y0" },
		{ "p\xc3\xa4ssw\xc3\xb6rd", "xyzXYZ12", "$apr1$xyzXYZ12$2FJCVOASmhnrbuZ4pmBMJ." },
		{ "x", "ab", "$apr1$ab$eIePjsejfBGR8ITtu2z0U1" },
		/* 55 and 64 bytes: MD5's padding edges */
		{ "ppppppppppppppppppppppppppppppppppppppppppppppppppppppp", "abcdefgh",
		  "$apr1$abcdefgh$.HKoPUuJXr0hjlgSn5rvb0" },
		{ "qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq"
		  "qqqqqqqq", "abcdefgh", "$apr1$abcdefgh$YFsEGKtv0HWLWl1oOzb.e0" },
		/* a longer salt is cut at 8, as openssl and Apache do */
		{ "password", "saltsaltEXTRA", "$apr1$saltsalt$yAAkm4libquA.ZWLHbSBq/" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct prenv_buf b = PRENV_BUF_INIT;

		assert_int_equal(htpasswd_apr1(&b, cases[i].pw, strlen(cases[i].pw), cases[i].salt), 0);
		assert_string_equal(b.ptr, cases[i].want);
		prenv_buf_free(&b);
	}
}

static void test_htpasswd_salt_is_random_and_in_alphabet(void **state)
{
	char a[HTPASSWD_SALT_LEN + 1], b[HTPASSWD_SALT_LEN + 1];
	size_t i;

	(void)state;
	assert_int_equal(htpasswd_salt(a), 0);
	assert_int_equal(htpasswd_salt(b), 0);
	assert_int_equal(strlen(a), HTPASSWD_SALT_LEN);
	assert_string_not_equal(a, b);
	for (i = 0; i < HTPASSWD_SALT_LEN; i++)
		assert_non_null(strchr("./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", a[i]));
}

static void test_htpasswd_user_ok(void **state)
{
	static const struct { const char *user; int ok; } cases[] = {
		{ "preview", 1 }, { "team.member@example.com", 1 }, { "a", 1 },
		{ "", 0 }, { "a:b", 0 }, { "a b", 0 }, { "tab\there", 0 }, { "nl\n", 0 },
		{ "caf\xc3\xa9", 0 },
	};
	char longname[300];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(htpasswd_user_ok(cases[i].user), cases[i].ok);
	assert_int_equal(htpasswd_user_ok(NULL), 0);
	memset(longname, 'u', sizeof(longname));
	longname[255] = '\0';
	assert_int_equal(htpasswd_user_ok(longname), 1);
	longname[255] = 'u';
	longname[256] = '\0';
	assert_int_equal(htpasswd_user_ok(longname), 0);
}

/* The line verifies: re-hashing the password with the line's own salt
 * gives the line's hash. */
static void test_htpasswd_line_verifies(void **state)
{
	struct prenv_buf line = PRENV_BUF_INIT, again = PRENV_BUF_INIT;
	const char *hash, *salt;

	(void)state;
	assert_int_equal(htpasswd_line(&line, "preview", "s3cret-Passw0rd"), 0);
	assert_int_equal(strncmp(line.ptr, "preview:$apr1$", 14), 0);
	assert_int_equal(line.ptr[line.len - 1], '\n');
	assert_int_equal(line.len, strlen("preview:") + 6 + 8 + 1 + 22 + 1);
	hash = line.ptr + strlen("preview:");
	salt = hash + 6;
	assert_int_equal(htpasswd_apr1(&again, "s3cret-Passw0rd", 15, salt), 0);
	assert_int_equal(strncmp(again.ptr, hash, again.len), 0);
	assert_null(strstr(line.ptr, "s3cret"));
	prenv_buf_free(&line);
	prenv_buf_free(&again);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_htpasswd_md5_rfc1321),
		cmocka_unit_test(test_htpasswd_apr1_matches_openssl),
		cmocka_unit_test(test_htpasswd_salt_is_random_and_in_alphabet),
		cmocka_unit_test(test_htpasswd_user_ok),
		cmocka_unit_test(test_htpasswd_line_verifies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
