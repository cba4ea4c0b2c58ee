/* fs.c - see fs.h */
#include "util/fs.h"
#include "util/buf.h"

#include <ctype.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>
#include <string.h>
#include <time.h>

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

int fs_rm_tree(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int fs_mkdir_p(const char *path)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	size_t i;
	int rc = 0;

	if (prenv_buf_adds(&b, path) < 0)
		return -1;
	for (i = 1; i <= b.len && rc == 0; i++) {
		if (b.ptr[i] == '/' || b.ptr[i] == 0) {
			char c = b.ptr[i];

			b.ptr[i] = 0;
			if (mkdir(b.ptr, 0755) < 0 && errno != EEXIST)
				rc = -1;
			b.ptr[i] = c;
		}
	}
	prenv_buf_free(&b);
	return rc;
}

double fs_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

void fs_rfc3339(char *out, size_t n, long long t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

long long fs_parse_rfc3339(const char *s)
{
	struct tm tm;
	const char *p;
	int off = 0, sign = 1;

	memset(&tm, 0, sizeof(tm));
	if (!s || !(p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)))
		return -1;
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	}
	if ((*p == 'Z' || *p == 'z') && !p[1])
		return (long long)timegm(&tm);
	if ((*p != '+' && *p != '-') || strlen(p) != 6 || p[3] != ':' ||
	    !isdigit((unsigned char)p[1]) || !isdigit((unsigned char)p[2]) ||
	    !isdigit((unsigned char)p[4]) || !isdigit((unsigned char)p[5]))
		return -1;
	sign = *p == '-' ? -1 : 1;
	off = ((p[1] - '0') * 10 + (p[2] - '0')) * 3600 + ((p[4] - '0') * 10 + (p[5] - '0')) * 60;
	return (long long)timegm(&tm) - sign * off;
}
