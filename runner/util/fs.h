/* fs.h - small file-system helpers (one copy of each). */
#ifndef PRENV_FS_H
#define PRENV_FS_H

#include <stddef.h>

/* Removes path and everything under it without following links. A path
 * that does not exist is success. Returns 0 or -1 with errno set. */
int fs_rm_tree(const char *path);

/* Creates path and its missing parents (mode 0755). Returns 0 or -1 with
 * errno set. */
int fs_mkdir_p(const char *path);

/* Milliseconds of a monotonic clock (for deadlines and durations). */
double fs_now_ms(void);

/* t (unix seconds) as RFC 3339 UTC, "2026-12-01T21:56:20Z", into out
 * (at least 21 bytes); the format of every time in prenv's JSON. */
void fs_rfc3339(char *out, size_t n, long long t);

/* "2026-12-01T21:56:20Z" or with an offset ("+01:00") and a fraction ->
 * unix seconds; -1 when s is not RFC 3339. */
long long fs_parse_rfc3339(const char *s);

#endif
