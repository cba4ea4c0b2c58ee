/* ci_fields.c - what every detector uses: the field setters and text
 * checks of ci_int.h, and ci_getenv(). Calls nothing else of this folder,
 * so the dispatcher (ci.c) and the detectors depend on it, never the other
 * way round. */
#include "context/ci.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "context/ci_int.h"
#include "util/buf.h"

/* ------------------------------------------------------------------ */
/* Setting fields                                                      */

static char *dupn(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

/* *dst = p, a fresh copy or NULL when making it ran out of memory. */
static void take(struct ci_det *d, char **dst, char *p)
{
	if (!p) {
		d->oom = 1;
		return;
	}
	free(*dst);
	*dst = p;
}

void ci_put(struct ci_det *d, char **dst, const char *s)
{
	if (s)
		take(d, dst, dupn(s, strlen(s)));
}

void ci_put_n(struct ci_det *d, char **dst, const char *s, size_t n)
{
	take(d, dst, dupn(s, n));
}

void ci_fill(struct ci_det *d, char **dst, const char *s)
{
	if (!*dst)
		ci_put(d, dst, s);
}

void ci_putf(struct ci_det *d, char **dst, const char *fmt, ...)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	va_list ap;
	char *p;

	va_start(ap, fmt);
	prenv_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	p = prenv_buf_detach(&b, NULL); /* NULL when an append failed */
	prenv_buf_free(&b);
	take(d, dst, p);
}

void ci_clear(char **dst)
{
	free(*dst);
	*dst = NULL;
}

void ci_set_full_name(struct ci_det *d, const char *full)
{
	struct prenv_context *c = d->c;
	const char *slash = strrchr(full, '/');

	ci_put(d, &c->repo_full_name, full);
	if (!slash)
		return;
	ci_put_n(d, &c->repo_owner, full, (size_t)(slash - full));
	ci_put(d, &c->repo_name, slash + 1);
}

/* ------------------------------------------------------------------ */
/* Looking at untrusted text                                           */

const char *ci_getenv(const char *const *envp, const char *name)
{
	size_t n;

	if (!envp || !name)
		return NULL;
	n = strlen(name);
	for (; *envp; envp++) {
		if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
			return (*envp)[n + 1] ? *envp + n + 1 : NULL;
	}
	return NULL;
}

int ci_parse_pos_long(const char *s, long *out)
{
	long v = 0;
	size_t i;

	if (!s || !*s)
		return -1;
	for (i = 0; s[i]; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 15)
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v <= 0)
		return -1;
	*out = v;
	return 0;
}

int ci_has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

void ci_rstrip_slash(char *s)
{
	size_t n;

	if (!s)
		return;
	n = strlen(s);
	while (n > 0 && s[n - 1] == '/')
		s[--n] = '\0';
}

