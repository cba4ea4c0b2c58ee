/* gitfixture.h - temporary git repositories for tests (git CLI, no shell). */
#ifndef PRENV_TEST_GITFIXTURE_H
#define PRENV_TEST_GITFIXTURE_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs git -C dir <args...> (NULL-terminated), stdout/stderr to /dev/null.
 * Returns git's exit status (or -1). */
static inline int gitfx_run(const char *dir, ...)
{
	const char *argv[32];
	va_list ap;
	int n = 0, st;
	pid_t pid;

	argv[n++] = "git";
	argv[n++] = "-C";
	argv[n++] = dir;
	argv[n++] = "-c";
	argv[n++] = "user.name=prenv test";
	argv[n++] = "-c";
	argv[n++] = "user.email=test@example.invalid";
	argv[n++] = "-c";
	argv[n++] = "commit.gpgsign=false";
	va_start(ap, dir);
	while (n < 31 && (argv[n] = va_arg(ap, const char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		FILE *devnull = fopen("/dev/null", "w");

		if (devnull) {
			dup2(fileno(devnull), 1);
			dup2(fileno(devnull), 2);
		}
		setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
		setenv("GIT_CONFIG_GLOBAL", "/dev/null", 1);
		execvp("git", (char *const *)argv);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Reads the output of git -C dir rev-parse HEAD into out (41 bytes). */
static inline int gitfx_head(const char *dir, char out[41])
{
	int fd[2], st;
	ssize_t r;
	size_t got = 0;
	pid_t pid;

	if (pipe(fd) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(fd[1], 1);
		close(fd[0]);
		execlp("git", "git", "-C", dir, "rev-parse", "HEAD", (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	while (got < 40 && (r = read(fd[0], out + got, 40 - got)) > 0)
		got += (size_t)r;
	close(fd[0]);
	out[got] = '\0';
	waitpid(pid, &st, 0);
	return got == 40 && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* Makes a fresh temporary directory; path is written to buf. */
static inline int gitfx_tmpdir(char *buf, size_t n)
{
	const char *t = getenv("TMPDIR");

	if (snprintf(buf, n, "%s/prenv-test-XXXXXX", t && *t ? t : "/tmp") >= (int)n)
		return -1;
	return mkdtemp(buf) ? 0 : -1;
}

/* rm -rf dir (only directories made by gitfx_tmpdir). */
static inline void gitfx_rmrf(const char *dir)
{
	pid_t pid;
	int st;

	if (!dir || !strstr(dir, "/prenv-test-"))
		return;
	pid = fork();
	if (pid == 0) {
		execlp("rm", "rm", "-rf", "--", dir, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, &st, 0);
}

/* A repository at dir with one commit on branch `branch`. */
static inline int gitfx_repo_with_commit(const char *dir, const char *branch)
{
	if (gitfx_run(dir, "init", "-q", "-b", branch, NULL) != 0)
		return -1;
	return gitfx_run(dir, "commit", "-q", "--allow-empty", "-m", "first", NULL);
}

#endif
