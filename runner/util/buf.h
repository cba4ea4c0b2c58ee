/* buf.h - the one growable string buffer (after curl's dynbuf / git's strbuf).
 *
 * A buffer initialised with PRENV_BUF_INIT or prenv_buf_init() is always
 * valid: ->ptr is never NULL (it points at "" until something is added) and
 * is always NUL-terminated. A failed append frees the contents and returns
 * -1; every later append then fails too (sticky error), so a caller may chain
 * appends and check once. prenv_buf_detach() hands the memory to the caller.
 */
#ifndef PRENV_BUF_H
#define PRENV_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct prenv_buf {
	char *ptr;    /* never NULL; "" when empty */
	size_t len;
	size_t cap;   /* 0: ptr points at a static "" */
	size_t max;   /* hard limit on len; 0 means the default (1 GiB) */
	int failed;   /* set after an allocation failure or the limit was hit */
};

extern char prenv_buf__empty[];
#define PRENV_BUF_INIT { prenv_buf__empty, 0, 0, 0, 0 }

void prenv_buf_init(struct prenv_buf *b, size_t max);
void prenv_buf_free(struct prenv_buf *b);           /* leaves b re-usable, empty */
void prenv_buf_reset(struct prenv_buf *b);          /* len = 0, keeps memory */
int prenv_buf_add(struct prenv_buf *b, const void *p, size_t n);
int prenv_buf_adds(struct prenv_buf *b, const char *s);
int prenv_buf_addc(struct prenv_buf *b, char c);
int prenv_buf_printf(struct prenv_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int prenv_buf_vprintf(struct prenv_buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
void prenv_buf_truncate(struct prenv_buf *b, size_t len);
/* Returns the malloc'd, NUL-terminated contents (caller frees); b is reset. */
char *prenv_buf_detach(struct prenv_buf *b, size_t *len_out);

/* A copy of s (caller frees), NULL for NULL or when out of memory. */
char *prenv_strdup(const char *s);
/* Replaces *slot (freed) with a copy of s (NULL clears it). Returns 0, or
 * -1 when out of memory (*slot is then unchanged). */
int prenv_set_str(char **slot, const char *s);

/* Reads a whole file into b. Returns 0, or -1 with errno set. */
int prenv_buf_read_file(struct prenv_buf *b, const char *path);

/* Writes all len bytes to fd (retrying short writes and EINTR). Returns 0,
 * or -1 with errno set. */
int prenv_write_fd(int fd, const void *data, size_t len);
/* Opens path with open(2) flags | O_WRONLY | O_CLOEXEC and mode, writes all
 * of data and closes it. Returns 0, or -1 with errno set (the file is
 * closed either way). */
int prenv_write_file(const char *path, int flags, unsigned mode,
		     const void *data, size_t len);

#endif
