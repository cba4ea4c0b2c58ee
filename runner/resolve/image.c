/* image.c - container image references (see image.h). */
#include "resolve/image.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

#define NAME_MAX_LEN 255
#define TAG_MAX_LEN 128

static int is_lower_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* One path component: [a-z0-9]+ ((\.|_|__|-+)[a-z0-9]+)* */
static int path_component_valid(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t start = i;

		while (i < n && is_lower_alnum((unsigned char)s[i]))
			i++;
		if (i == start)
			return 0;
		if (i == n)
			return 1;
		if (s[i] == '.') {
			i++;
		} else if (s[i] == '_') {
			i += (i + 1 < n && s[i + 1] == '_') ? 2 : 1;
		} else if (s[i] == '-') {
			while (i < n && s[i] == '-')
				i++;
		} else {
			return 0;
		}
		if (i == n)
			return 0; /* a separator must be followed by a component */
	}
	return 0;
}

/* path-component ('/' path-component)* */
static int path_valid(const char *s)
{
	const char *slash;

	for (;;) {
		slash = strchr(s, '/');
		if (!path_component_valid(s, slash ? (size_t)(slash - s) : strlen(s)))
			return 0;
		if (!slash)
			return 1;
		s = slash + 1;
	}
}

static int port_valid(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > 5)
		return 0;
	for (i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

/* host component: [A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])? joined by '.',
 * or [IPv6]; then an optional :port. */
static int domain_valid(const char *s, size_t n)
{
	size_t i = 0;

	if (n && s[0] == '[') {
		for (i = 1; i < n && s[i] != ']'; i++)
			if (!isxdigit((unsigned char)s[i]) && s[i] != ':')
				return 0;
		if (i >= n || i == 1)
			return 0;
		i++;
	} else {
		for (;;) {
			size_t start = i;

			while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '-'))
				i++;
			if (i == start || s[start] == '-' || s[i - 1] == '-')
				return 0;
			if (i < n && s[i] == '.') {
				i++;
				continue;
			}
			break;
		}
	}
	if (i == n)
		return 1;
	return s[i] == ':' && port_valid(s + i + 1, n - i - 1);
}

/* [\w][\w.-]{0,127} */
static int tag_valid(const char *t)
{
	size_t i;

	if (!*t || !(isalnum((unsigned char)t[0]) || t[0] == '_'))
		return 0;
	for (i = 0; t[i]; i++)
		if (i >= TAG_MAX_LEN ||
		    !(isalnum((unsigned char)t[i]) || t[i] == '_' || t[i] == '.' || t[i] == '-'))
			return 0;
	return 1;
}

/* [A-Za-z][A-Za-z0-9]* ([-_+.][A-Za-z][A-Za-z0-9]*)* */
static int algorithm_valid(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		if (!isalpha((unsigned char)s[i]))
			return 0;
		while (i < n && isalnum((unsigned char)s[i]))
			i++;
		if (i == n)
			return 1;
		if (!strchr("-_+.", s[i]) || ++i == n)
			return 0;
	}
	return 0;
}

int image_digest_valid(const char *d)
{
	const char *colon = d ? strchr(d, ':') : NULL;
	size_t i, n;

	if (!colon || !algorithm_valid(d, (size_t)(colon - d)))
		return 0;
	n = strlen(colon + 1);
	if (n < 32)
		return 0;
	for (i = 0; i < n; i++)
		if (!isxdigit((unsigned char)colon[1 + i]))
			return 0;
	if ((size_t)(colon - d) == 6 && !strncmp(d, "sha256", 6)) {
		if (n != 64)
			return 0;
		for (i = 0; i < n; i++)
			if (isupper((unsigned char)colon[1 + i]))
				return 0;
	}
	return 1;
}

/* Is the first component (n bytes) a registry rather than a path? */
static int looks_like_domain(const char *s, size_t n)
{
	size_t i;

	if ((n == 9 && !strncmp(s, "localhost", 9)) || (n && s[0] == '['))
		return 1;
	for (i = 0; i < n; i++)
		if (s[i] == '.' || s[i] == ':' || isupper((unsigned char)s[i]))
			return 1;
	return 0;
}

static int bad(struct prenv_err *err, const char *s, const char *what)
{
	return prenv_err_set(err, PRENV_ECONFIG,
			     "image \"%.300s\": %s (an image is [registry/]name[:tag][@digest], "
			     "e.g. ghcr.io/acme/web:1.2)", s, what);
}

/* Splits name (without tag and digest) into domain and path. */
static int split_name(struct image_ref *out, const char *s, const char *name,
		      struct prenv_err *err)
{
	const char *slash = strchr(name, '/'), *rest = name;
	struct prenv_buf p = PRENV_BUF_INIT;
	size_t i;

	if (slash && looks_like_domain(name, (size_t)(slash - name))) {
		if (!domain_valid(name, (size_t)(slash - name)))
			return bad(err, s, "the registry is not a host name with an optional :port");
		out->domain = strndup(name, (size_t)(slash - name));
		rest = slash + 1;
	} else {
		out->domain = strdup("docker.io");
	}
	if (!out->domain)
		return PRENV_ENOMEM;
	for (i = 0; out->domain[i]; i++)
		out->domain[i] = (char)tolower((unsigned char)out->domain[i]);
	if (!strcmp(out->domain, "index.docker.io") && prenv_set_str(&out->domain, "docker.io") < 0)
		return PRENV_ENOMEM;
	if (!path_valid(rest))
		return bad(err, s, "the repository name must be lower-case letters and digits in "
				   "components separated by '/', joined by '.', '_', '__' or '-'");
	if (!strcmp(out->domain, "docker.io") && !strchr(rest, '/'))
		prenv_buf_adds(&p, "library/");
	prenv_buf_adds(&p, rest);
	if (p.failed)
		return PRENV_ENOMEM;
	out->path = prenv_buf_detach(&p, NULL);
	out->host = strdup(strcmp(out->domain, "docker.io") ? out->domain : "registry-1.docker.io");
	return out->host ? 0 : PRENV_ENOMEM;
}

int image_ref_parse(struct image_ref *out, const char *s, struct prenv_err *err)
{
	const char *at, *slash, *colon;
	char *name = NULL;
	int rc;

	if (!s || !*s)
		return bad(err, s ? s : "", "it is empty");
	at = strchr(s, '@');
	if (at) {
		if (!image_digest_valid(at + 1))
			return bad(err, s, "the digest is not algorithm:hex (sha256: 64 lower-case "
					   "hex digits)");
		if (!(out->digest = strdup(at + 1)))
			return PRENV_ENOMEM;
	}
	name = strndup(s, at ? (size_t)(at - s) : strlen(s));
	if (!name)
		return PRENV_ENOMEM;
	slash = strrchr(name, '/');
	colon = strrchr(slash ? slash : name, ':');
	if (colon) {
		if (!tag_valid(colon + 1)) {
			rc = bad(err, s, "the tag must be 1 to 128 letters, digits, '_', '.' or '-' "
					 "and not start with '.' or '-'");
			goto done;
		}
		if (!(out->tag = strdup(colon + 1))) {
			rc = PRENV_ENOMEM;
			goto done;
		}
		name[colon - name] = '\0';
	}
	if (strlen(name) > NAME_MAX_LEN) {
		rc = bad(err, s, "the name is longer than 255 characters");
		goto done;
	}
	rc = split_name(out, s, name, err);
	if (!rc)
		out->name = name, name = NULL;
done:
	free(name);
	if (rc == PRENV_ENOMEM)
		prenv_err_set(err, rc, "out of memory");
	return rc;
}

void image_ref_free(struct image_ref *r)
{
	if (!r)
		return;
	free(r->domain);
	free(r->host);
	free(r->path);
	free(r->tag);
	free(r->digest);
	free(r->name);
	*r = (struct image_ref)IMAGE_REF_INIT;
}

const char *image_ref_reference(const struct image_ref *r)
{
	return r->digest ? r->digest : r->tag ? r->tag : "latest";
}

char *image_ref_pinned(const struct image_ref *r, const char *digest)
{
	struct prenv_buf b = PRENV_BUF_INIT;

	prenv_buf_adds(&b, r->name);
	if (r->tag)
		prenv_buf_printf(&b, ":%s", r->tag);
	prenv_buf_printf(&b, "@%s", digest);
	return b.failed ? NULL : prenv_buf_detach(&b, NULL);
}
