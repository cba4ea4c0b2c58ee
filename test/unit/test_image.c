/* test_image.c - image references (resolve/image.c): a table of references
 * as Docker reads them, a table of what is refused, digests, pinning. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resolve/image.h"

#define D64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static int eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static void test_image_parse_table(void **state)
{
	static const struct {
		const char *in;
		const char *domain, *host, *path, *tag, *digest, *name, *reference;
	} cases[] = {
		{ "nginx", "docker.io", "registry-1.docker.io", "library/nginx", NULL, NULL, "nginx",
		  "latest" },
		{ "nginx:1.25", "docker.io", "registry-1.docker.io", "library/nginx", "1.25", NULL,
		  "nginx", "1.25" },
		{ "acme/web:abc", "docker.io", "registry-1.docker.io", "acme/web", "abc", NULL,
		  "acme/web", "abc" },
		{ "docker.io/nginx", "docker.io", "registry-1.docker.io", "library/nginx", NULL, NULL,
		  "docker.io/nginx", "latest" },
		{ "index.docker.io/acme/web:1", "docker.io", "registry-1.docker.io", "acme/web", "1",
		  NULL, "index.docker.io/acme/web", "1" },
		{ "ghcr.io/acme/web:0a1b2c3", "ghcr.io", "ghcr.io", "acme/web", "0a1b2c3", NULL,
		  "ghcr.io/acme/web", "0a1b2c3" },
		{ "GHCR.io/acme/web:X", "ghcr.io", "ghcr.io", "acme/web", "X", NULL, "GHCR.io/acme/web",
		  "X" },
		{ "127.0.0.1:5000/web:feature-x", "127.0.0.1:5000", "127.0.0.1:5000", "web", "feature-x",
		  NULL, "127.0.0.1:5000/web", "feature-x" },
		{ "127.0.0.1:5000/web", "127.0.0.1:5000", "127.0.0.1:5000", "web", NULL, NULL,
		  "127.0.0.1:5000/web", "latest" },
		{ "localhost/web:x", "localhost", "localhost", "web", "x", NULL, "localhost/web", "x" },
		{ "localhost:5000/a/b/c:v_1.2-3", "localhost:5000", "localhost:5000", "a/b/c",
		  "v_1.2-3", NULL, "localhost:5000/a/b/c", "v_1.2-3" },
		{ "[::1]:5000/web:x", "[::1]:5000", "[::1]:5000", "web", "x", NULL, "[::1]:5000/web",
		  "x" },
		{ "registry.example.com/team/a.b__c--d_e:t", "registry.example.com",
		  "registry.example.com", "team/a.b__c--d_e", "t", NULL,
		  "registry.example.com/team/a.b__c--d_e", "t" },
		{ "ghcr.io/acme/web@sha256:" D64, "ghcr.io", "ghcr.io", "acme/web", NULL,
		  "sha256:" D64, "ghcr.io/acme/web", "sha256:" D64 },
		{ "ghcr.io/acme/web:1@sha256:" D64, "ghcr.io", "ghcr.io", "acme/web", "1",
		  "sha256:" D64, "ghcr.io/acme/web", "sha256:" D64 },
		/* a port-like tag without a registry: Docker Hub's library/localhost */
		{ "localhost:5000", "docker.io", "registry-1.docker.io", "library/localhost", "5000",
		  NULL, "localhost", "5000" },
		{ "my-registry:5000/web", "my-registry:5000", "my-registry:5000", "web", NULL, NULL,
		  "my-registry:5000/web", "latest" },
	};
	size_t i, failed = 0;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct image_ref r = IMAGE_REF_INIT;
		struct prenv_err err = PRENV_ERR_INIT;
		int rc = image_ref_parse(&r, cases[i].in, &err);

		if (rc || !eq(r.domain, cases[i].domain) || !eq(r.host, cases[i].host) ||
		    !eq(r.path, cases[i].path) || !eq(r.tag, cases[i].tag) ||
		    !eq(r.digest, cases[i].digest) || !eq(r.name, cases[i].name) ||
		    strcmp(image_ref_reference(&r), cases[i].reference)) {
			printf("# %s: rc %d (%s) domain %s host %s path %s tag %s digest %s name %s\n",
			       cases[i].in, rc, err.msg ? err.msg : "", r.domain, r.host, r.path,
			       r.tag ? r.tag : "-", r.digest ? r.digest : "-", r.name);
			failed++;
		}
		image_ref_free(&r);
		prenv_err_clear(&err);
	}
	assert_int_equal(0, failed);
}

static void test_image_parse_refused_table(void **state)
{
	static const struct {
		const char *in;
		const char *why;
	} cases[] = {
		{ "", "empty" },
		{ "Nginx", "lower-case" },
		{ "acme/Web:1", "lower-case" },
		{ "ghcr.io/acme/Web", "lower-case" },
		{ "ghcr.io/acme/web:", "tag" },
		{ "ghcr.io/acme/web:-x", "tag" },
		{ "ghcr.io/acme/web:.x", "tag" },
		{ "ghcr.io/acme/web:a b", "tag" },
		{ "ghcr.io/acme/web:a/b", "lower-case" },
		{ "ghcr.io/acme/web:a\nb", "tag" },
		{ "ghcr.io/acme/web:feature/x", "lower-case" },
		{ "ghcr.io/acme/web:x$(id)", "tag" },
		{ "ghcr.io/acme//web", "lower-case" },
		{ "ghcr.io/acme/web/", "lower-case" },
		{ "ghcr.io/acme/-web", "lower-case" },
		{ "ghcr.io/acme/web-", "lower-case" },
		{ "ghcr.io/acme/web..x", "lower-case" },
		{ "ghcr.io/acme/web___x", "lower-case" },
		{ "ghcr.io/acme/../x", "lower-case" },
		{ "ghcr.io/acme/%2e%2e", "lower-case" },
		{ "-ghcr.io/acme/web", "registry" },
		{ "ghcr-.io/acme/web", "registry" },
		{ "ghcr.io:/acme/web", "registry" },
		{ "ghcr.io:123456/acme/web", "registry" },
		{ "ghcr.io:80a/acme/web", "registry" },
		{ "user@ghcr.io/acme/web", "digest" },
		{ "[]:5000/web", "registry" },
		{ "[::1/web", "registry" },
		{ "ghcr.io/acme/web@sha256:abc", "digest" },
		{ "ghcr.io/acme/web@sha256:" D64 "0", "digest" },
		{ "ghcr.io/acme/web@sha256:" "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
		  "digest" },
		{ "ghcr.io/acme/web@:" D64, "digest" },
		{ "ghcr.io/acme/web@sha256:" D64 "@sha256:" D64, "digest" },
		{ "ghcr.io/acme/web:" "0123456789012345678901234567890123456789012345678901234567890123"
		  "01234567890123456789012345678901234567890123456789012345678901234", "tag" },
	};
	struct image_ref r = IMAGE_REF_INIT;
	struct prenv_err err = PRENV_ERR_INIT;
	size_t i, failed = 0;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = image_ref_parse(&r, cases[i].in, &err);

		if (rc != PRENV_ECONFIG || !err.msg || !strstr(err.msg, cases[i].why)) {
			printf("# \"%s\": rc %d, message %s (want one with \"%s\")\n", cases[i].in, rc,
			       err.msg ? err.msg : "(none)", cases[i].why);
			failed++;
		}
		image_ref_free(&r);
		prenv_err_clear(&err);
	}
	assert_int_equal(0, failed);
}

static void test_image_long_name_refused(void **state)
{
	char in[400];
	struct image_ref r = IMAGE_REF_INIT;
	struct prenv_err err = PRENV_ERR_INIT;

	(void)state;
	memset(in, 'a', sizeof in);
	memcpy(in, "ghcr.io/", 8);
	memcpy(in + 300, ":tag", 5);
	assert_int_equal(PRENV_ECONFIG, image_ref_parse(&r, in, &err));
	assert_non_null(strstr(err.msg, "255"));
	image_ref_free(&r);
	prenv_err_clear(&err);
	in[255] = '\0'; /* 255 characters: the longest name */
	assert_int_equal(0, image_ref_parse(&r, in, &err));
	image_ref_free(&r);
}

static void test_image_digest_table(void **state)
{
	static const struct {
		const char *d;
		int want;
	} cases[] = {
		{ "sha256:" D64, 1 },
		{ "sha512:" D64 D64, 1 },
		{ "multihash+base58:" D64, 1 },
		{ "sha256:" D64 "a", 0 },
		{ "sha256:", 0 },
		{ "sha256", 0 },
		{ ":" D64, 0 },
		{ "sha256:" D64 "\r\nX-Evil: 1", 0 },
		{ "1sha:" D64, 0 },
		{ "sha-:" D64, 0 },
		{ "sha256:0123456789abcdef0123456789abcde", 0 },
		{ NULL, 0 },
	};
	size_t i, failed = 0;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (image_digest_valid(cases[i].d) != cases[i].want) {
			printf("# %s: want %d\n", cases[i].d ? cases[i].d : "(null)", cases[i].want);
			failed++;
		}
	assert_int_equal(0, failed);
}

static void test_image_pinned(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "ghcr.io/acme/web:abc", "ghcr.io/acme/web:abc@sha256:" D64 },
		{ "nginx", "nginx@sha256:" D64 },
		{ "127.0.0.1:5000/web:x", "127.0.0.1:5000/web:x@sha256:" D64 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct image_ref r = IMAGE_REF_INIT;
		char *p;

		assert_int_equal(0, image_ref_parse(&r, cases[i].in, NULL));
		p = image_ref_pinned(&r, "sha256:" D64);
		assert_string_equal(cases[i].want, p);
		free(p);
		image_ref_free(&r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_image_parse_table),
		cmocka_unit_test(test_image_parse_refused_table),
		cmocka_unit_test(test_image_long_name_refused),
		cmocka_unit_test(test_image_digest_table),
		cmocka_unit_test(test_image_pinned),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
