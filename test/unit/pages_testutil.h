/* pages_testutil.h - helpers shared by test_pages.c, test_gitpub.c and
 * test_command.c: temporary directories, files, running the real git CLI. */
#ifndef PRENV_PAGES_TESTUTIL_H
#define PRENV_PAGES_TESTUTIL_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/buf.h"

extern char **environ;

#define TU_UNUSED __attribute__((unused))

static TU_UNUSED char *tu_tmpdir(void)
{
	char *d = strdup("/tmp/prenv-test-XXXXXX");

	if (!d || !mkdtemp(d)) {
		free(d);
		return NULL;
	}
	return d;
}

static int tu_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static TU_UNUSED void tu_rm_rf(const char *path)
{
	if (path)
		nftw(path, tu_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Writes s to dir/rel, creating parent directories. */
static TU_UNUSED int tu_write(const char *dir, const char *rel, const char *s)
{
	struct prenv_buf p = PRENV_BUF_INIT;
	size_t i;
	FILE *f;
	int rc = 0;

	prenv_buf_printf(&p, "%s/%s", dir, rel);
	for (i = strlen(dir) + 1; i < p.len; i++)
		if (p.ptr[i] == '/') {
			p.ptr[i] = 0;
			mkdir(p.ptr, 0755);
			p.ptr[i] = '/';
		}
	f = fopen(p.ptr, "w");
	if (!f || fputs(s, f) < 0)
		rc = -1;
	if (f && fclose(f) != 0)
		rc = -1;
	prenv_buf_free(&p);
	return rc;
}

/* Contents of dir/rel (caller frees) or NULL. */
static TU_UNUSED char *tu_read(const char *dir, const char *rel)
{
	struct prenv_buf p = PRENV_BUF_INIT, b = PRENV_BUF_INIT;
	char *out = NULL;

	prenv_buf_printf(&p, "%s/%s", dir, rel);
	if (prenv_buf_read_file(&b, p.ptr) == 0)
		out = prenv_buf_detach(&b, NULL);
	prenv_buf_free(&p);
	prenv_buf_free(&b);
	return out;
}

static TU_UNUSED int tu_exists(const char *dir, const char *rel)
{
	struct prenv_buf p = PRENV_BUF_INIT;
	struct stat st;
	int r;

	prenv_buf_printf(&p, "%s/%s", dir, rel);
	r = lstat(p.ptr, &st) == 0;
	prenv_buf_free(&p);
	return r;
}

/* Runs argv (no shell) in cwd (NULL: here); stdout into *out (caller frees,
 * may be NULL). Returns the exit status, or -1. */
static TU_UNUSED int tu_run(char *const argv[], const char *cwd, char **out)
{
	posix_spawn_file_actions_t fa;
	struct prenv_buf b = PRENV_BUF_INIT;
	int pfd[2], status = 0;
	pid_t pid;
	char buf[4096];
	ssize_t n;

	if (out)
		*out = NULL;
	if (pipe(pfd) < 0)
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	posix_spawn_file_actions_addclose(&fa, pfd[0]);
	if (cwd)
		posix_spawn_file_actions_addchdir_np(&fa, cwd);
	if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	while ((n = read(pfd[0], buf, sizeof(buf))) > 0)
		prenv_buf_add(&b, buf, (size_t)n);
	close(pfd[0]);
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	if (out)
		*out = prenv_buf_detach(&b, NULL);
	prenv_buf_free(&b);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

#endif
