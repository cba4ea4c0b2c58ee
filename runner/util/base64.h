/* base64.h - standard base64 (RFC 4648 section 4, with '=' padding).
 *
 * Kubernetes carries Secret data as base64, and Docker's config.json an
 * `auth` of base64("user:password"); prenv writes the one and reads the
 * other.
 */
#ifndef PRENV_BASE64_H
#define PRENV_BASE64_H

#include <stddef.h>

struct prenv_buf;

/* Appends the base64 of p[0..n) to out. 0, or -1 when out failed. */
int base64_encode(struct prenv_buf *out, const void *p, size_t n);

/* Appends the bytes that s[0..n) encodes to out. Whitespace (a wrapped
 * encoding) is skipped; the padding may be left out; the URL-safe alphabet
 * ('-', '_') is accepted too. -1 (out unchanged in length) when s holds
 * anything else, '=' before the end, or a dangling 6 bits. */
int base64_decode(struct prenv_buf *out, const char *s, size_t n);

#endif
