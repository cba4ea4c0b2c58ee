/* buf.c - growable string buffer; see buf.h */
#include "util/buf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char prenv_buf__empty[1];

#define BUF_DEFAULT_MAX ((size_t)1 << 30)

void prenv_buf_init(struct prenv_buf *b, size_t max)
{
	b->ptr = prenv_buf__empty;
	b->len = 0;
	b->cap = 0;
	b->max = max;
	b->failed = 0;
}

void prenv_buf_free(struct prenv_buf *b)
{
	if (!b)
		return;
	if (b->cap)
		free(b->ptr);
	b->ptr = prenv_buf__empty;
	b->len = 0;
	b->cap = 0;
	b->failed = 0;
}

void prenv_buf_reset(struct prenv_buf *b)
{
	b->len = 0;
	if (b->cap)
		b->ptr[0] = '\0';
	b->failed = 0;
}

static int buf_fail(struct prenv_buf *b)
{
	if (b->cap)
		free(b->ptr);
	b->ptr = prenv_buf__empty;
	b->len = 0;
	b->cap = 0;
	b->failed = 1;
	return -1;
}

static int buf_grow(struct prenv_buf *b, size_t extra)
{
	size_t max = b->max ? b->max : BUF_DEFAULT_MAX;
	size_t need, ncap;
	char *np;

	if (b->failed)
		return -1;
	if (extra > max || b->len > max - extra)
		return buf_fail(b);
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 32;
	while (ncap < need)
		ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
	np = b->cap ? realloc(b->ptr, ncap) : malloc(ncap);
	if (!np)
		return buf_fail(b);
	if (!b->cap)
		np[0] = '\0';
	b->ptr = np;
	b->cap = ncap;
	return 0;
}

int prenv_buf_add(struct prenv_buf *b, const void *p, size_t n)
{
	/* the usual case first: it fits, below the default limit */
	if (n < b->cap - b->len && !b->max && !b->failed && b->len + n <= BUF_DEFAULT_MAX) {
		if (n)
			memcpy(b->ptr + b->len, p, n);
		b->len += n;
		b->ptr[b->len] = '\0';
		return 0;
	}
	if (buf_grow(b, n) < 0)
		return -1;
	if (n)
		memcpy(b->ptr + b->len, p, n);
	b->len += n;
	if (b->cap)
		b->ptr[b->len] = '\0';
	return 0;
}

int prenv_buf_adds(struct prenv_buf *b, const char *s)
{
	return prenv_buf_add(b, s, strlen(s));
}

int prenv_buf_addc(struct prenv_buf *b, char c)
{
	return prenv_buf_add(b, &c, 1);
}

int prenv_buf_vprintf(struct prenv_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return buf_fail(b);
	if (buf_grow(b, (size_t)n) < 0)
		return -1;
	vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int prenv_buf_printf(struct prenv_buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = prenv_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

void prenv_buf_truncate(struct prenv_buf *b, size_t len)
{
	if (len < b->len) {
		b->len = len;
		if (b->cap)
			b->ptr[len] = '\0';
	}
}

char *prenv_buf_detach(struct prenv_buf *b, size_t *len_out)
{
	char *p;

	if (b->failed)
		return NULL;
	if (!b->cap) {
		p = calloc(1, 1);
		if (len_out)
			*len_out = 0;
		return p;
	}
	p = b->ptr;
	if (len_out)
		*len_out = b->len;
	b->ptr = prenv_buf__empty;
	b->len = 0;
	b->cap = 0;
	return p;
}

int prenv_buf_read_file(struct prenv_buf *b, const char *path)
{
	FILE *f = fopen(path, "rb");
	char chunk[65536];
	size_t n;
	int saved;

	if (!f)
		return -1;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (prenv_buf_add(b, chunk, n) < 0) {
			fclose(f);
			errno = ENOMEM;
			return -1;
		}
	}
	saved = ferror(f) ? EIO : 0;
	fclose(f);
	if (saved) {
		errno = saved;
		return -1;
	}
	return 0;
}

int prenv_write_fd(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t k = write(fd, p, len);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			if (k == 0)
				errno = EIO;
			return -1;
		}
		p += k;
		len -= (size_t)k;
	}
	return 0;
}

int prenv_write_file(const char *path, int flags, unsigned mode,
		     const void *data, size_t len)
{
	int fd = open(path, flags | O_WRONLY | O_CLOEXEC, (mode_t)mode);
	int saved;

	if (fd < 0)
		return -1;
	if (prenv_write_fd(fd, data, len) < 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return close(fd);
}

char *prenv_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

int prenv_set_str(char **slot, const char *s)
{
	char *c = s ? strdup(s) : NULL;

	if (s && !c)
		return -1;
	free(*slot);
	*slot = c;
	return 0;
}
