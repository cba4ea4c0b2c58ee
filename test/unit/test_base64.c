/* test_base64.c - RFC 4648's vectors both ways, binary round trips, and
 * what the decoder refuses. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "util/base64.h"
#include "util/buf.h"

static const struct { const char *plain, *enc; } rfc4648[] = {
	{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	{ "user:p\xc3\xa4ss", "dXNlcjpww6Rzcw==" },
};

static void test_base64_encode_rfc4648(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
		struct prenv_buf b = PRENV_BUF_INIT;

		prenv_buf_adds(&b, "x");
		assert_int_equal(base64_encode(&b, rfc4648[i].plain, strlen(rfc4648[i].plain)), 0);
		assert_int_equal(b.len, 1 + strlen(rfc4648[i].enc));
		assert_memory_equal(b.ptr + 1, rfc4648[i].enc, b.len - 1);
		prenv_buf_free(&b);
	}
}

static void test_base64_decode_rfc4648(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
		struct prenv_buf b = PRENV_BUF_INIT;

		assert_int_equal(base64_decode(&b, rfc4648[i].enc, strlen(rfc4648[i].enc)), 0);
		assert_int_equal(b.len, strlen(rfc4648[i].plain));
		if (b.len)
			assert_memory_equal(b.ptr, rfc4648[i].plain, b.len);
		prenv_buf_free(&b);
	}
}

static void test_base64_decode_lenient_forms(void **state)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "Zm9vYg", "foob" },                /* padding left out */
		{ "Zm9v\nYmFy\n", "foobar" },        /* wrapped */
		{ " Zm 9v YmE = ", "fooba" },
		{ "-_-_", "\xfb\xff\xbf" },           /* URL-safe alphabet */
		{ "+/+/", "\xfb\xff\xbf" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct prenv_buf b = PRENV_BUF_INIT;

		assert_int_equal(base64_decode(&b, cases[i].in, strlen(cases[i].in)), 0);
		assert_int_equal(b.len, strlen(cases[i].out));
		assert_memory_equal(b.ptr, cases[i].out, b.len);
		prenv_buf_free(&b);
	}
}

static void test_base64_decode_refuses_garbage(void **state)
{
	static const char *const bad[] = {
		"Zm9v!", "Zg=a", "Z", "Zm9vY", "Zg===", "=Zg", "Zm9v\x80", "Zm=9v",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct prenv_buf b = PRENV_BUF_INIT;

		prenv_buf_adds(&b, "keep");
		assert_int_equal(base64_decode(&b, bad[i], strlen(bad[i])), -1);
		assert_int_equal(b.len, 4); /* out unchanged in length */
		prenv_buf_free(&b);
	}
}

static void test_base64_round_trips_every_byte(void **state)
{
	unsigned char all[256];
	size_t n, i;

	(void)state;
	for (i = 0; i < sizeof(all); i++)
		all[i] = (unsigned char)(255 - i);
	for (n = 0; n <= sizeof(all); n += 37) {
		struct prenv_buf e = PRENV_BUF_INIT, d = PRENV_BUF_INIT;

		assert_int_equal(base64_encode(&e, all, n), 0);
		assert_int_equal(e.len, (n + 2) / 3 * 4);
		assert_int_equal(base64_decode(&d, e.ptr, e.len), 0);
		assert_int_equal(d.len, n);
		if (n)
			assert_memory_equal(d.ptr, all, n);
		prenv_buf_free(&e);
		prenv_buf_free(&d);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base64_encode_rfc4648),
		cmocka_unit_test(test_base64_decode_rfc4648),
		cmocka_unit_test(test_base64_decode_lenient_forms),
		cmocka_unit_test(test_base64_decode_refuses_garbage),
		cmocka_unit_test(test_base64_round_trips_every_byte),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
