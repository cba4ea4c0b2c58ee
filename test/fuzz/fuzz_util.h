/* fuzz_util.h - what the libFuzzer targets that need files share: one
 * private temporary directory per process, in /dev/shm when there is one
 * (else $TMPDIR or /tmp; removed at exit; a crash or an interrupt, which
 * libFuzzer ends with _Exit, leaves it behind as
 * prenv-fuzz-*), and writing the input into a file in it. Header-only:
 * each target is one translation unit.
 *
 * Speed: every input is written to a file, so the file is removed and
 * created anew rather than truncated: on ext4, truncating a file to zero
 * and closing it forces its data to disk (auto_da_alloc), which made a run
 * of fuzz_ci ten times slower on /tmp. */
#ifndef PRENV_FUZZ_UTIL_H
#define PRENV_FUZZ_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

static char fz_dir[256];

static int fz_rm_one(const char *path, const struct stat *st, int type, struct FTW *f)
{
	(void)st; (void)type; (void)f;
	return remove(path) < 0 ? -1 : 0;
}

static void fz_rm_dir(void)
{
	if (fz_dir[0] && nftw(fz_dir, fz_rm_one, 8, FTW_DEPTH | FTW_PHYS) < 0)
		fprintf(stderr, "fuzz: could not remove %s\n", fz_dir);
}

/* The directory (created on first use); aborts when it cannot be made. */
static const char *fz_tmpdir(void)
{
	const char *t = getenv("TMPDIR");

	if (fz_dir[0])
		return fz_dir;
	if (access("/dev/shm", W_OK | X_OK) == 0)
		t = "/dev/shm";
	else if (!t || *t != '/')
		t = "/tmp";
	snprintf(fz_dir, sizeof(fz_dir), "%s/prenv-fuzz-XXXXXX", t);
	if (!mkdtemp(fz_dir)) {
		perror("fuzz: mkdtemp");
		abort();
	}
	atexit(fz_rm_dir);
	return fz_dir;
}

/* Writes size bytes to dir/name (replacing it); the path goes to path.
 * Aborts on failure: a harness that cannot write tests nothing. */
static void fz_write_file(char *path, size_t cap, const char *name,
			  const void *data, size_t size)
{
	int fd;

	snprintf(path, cap, "%s/%s", fz_tmpdir(), name);
	if (unlink(path) < 0 && errno != ENOENT) {
		perror(path);
		abort();
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size) || close(fd) < 0) {
		perror(path);
		abort();
	}
}

#endif
