/* gitfixture.h - temporary git repositories for tests (git CLI, no shell). */
#ifndef PRENV_TEST_GITFIXTURE_H
#define PRENV_TEST_GITFIXTURE_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <signal.h>
#include <time.h>
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

/* Runs git -C dir <args...> (NULL-terminated) and reads its stdout into out
 * (n bytes, NUL-terminated, one trailing newline removed). Returns git's
 * exit status (or -1). */
static inline int gitfx_out(char *out, size_t n, const char *dir, ...)
{
	const char *argv[32];
	va_list ap;
	int fd[2], st, argc = 0;
	size_t got = 0;
	ssize_t r;
	pid_t pid;

	argv[argc++] = "git";
	argv[argc++] = "-C";
	argv[argc++] = dir;
	va_start(ap, dir);
	while (argc < 31 && (argv[argc] = va_arg(ap, const char *)))
		argc++;
	va_end(ap);
	argv[argc] = NULL;
	if (n == 0 || pipe(fd) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(fd[1], 1);
		close(fd[0]);
		execvp("git", (char *const *)argv);
		_exit(127);
	}
	close(fd[1]);
	while (got < n - 1 && (r = read(fd[0], out + got, n - 1 - got)) > 0)
		got += (size_t)r;
	close(fd[0]);
	if (got && out[got - 1] == '\n')
		got--;
	out[got] = '\0';
	if (waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Writes s to dir/rel (the directories in rel must exist). */
static inline int gitfx_write(const char *dir, const char *rel, const char *s)
{
	char path[1024];
	FILE *f;
	int rc = 0;

	if (snprintf(path, sizeof(path), "%s/%s", dir, rel) >= (int)sizeof(path) ||
	    !(f = fopen(path, "w")))
		return -1;
	if (fputs(s, f) < 0)
		rc = -1;
	if (fclose(f) != 0)
		rc = -1;
	return rc;
}

/* Starts test/servers/git_http_server.py (run from the repository's top) on
 * the bare repositories under root, accepting user x-access-token with
 * token; redirect_host (or NULL) as its --redirect-host; its stderr to
 * root/server.log. *port: where it listens. Returns the pid, or -1. */
static inline pid_t gitfx_http_start(const char *root, const char *token,
				     const char *redirect_host, int *port)
{
	char portfile[1024], logfile[1024], buf[32];
	const char *argv[12];
	int i, argc = 0;
	pid_t pid;

	snprintf(portfile, sizeof(portfile), "%s/port", root);
	snprintf(logfile, sizeof(logfile), "%s/server.log", root);
	/* Debian's python3 when there is one: a version manager's shim on PATH
	 * costs seconds on a busy machine */
	argv[argc++] = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
	argv[argc++] = "test/servers/git_http_server.py";
	argv[argc++] = "--root";
	argv[argc++] = root;
	argv[argc++] = "--token";
	argv[argc++] = token;
	argv[argc++] = "--port-file";
	argv[argc++] = portfile;
	if (redirect_host) {
		argv[argc++] = "--redirect-host";
		argv[argc++] = redirect_host;
	}
	argv[argc] = NULL;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		FILE *devnull = fopen("/dev/null", "w"), *log = fopen(logfile, "w");

		if (devnull)
			dup2(fileno(devnull), 1);
		if (log)
			dup2(fileno(log), 2);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	/* Waits for the port file as long as the server lives (a busy CI
	 * machine can take many seconds to start Python), at most 120 s. */
	for (i = 0; i < 2400; i++) {
		FILE *f = fopen(portfile, "r");
		struct timespec ts = { 0, 50000000L };

		if (waitpid(pid, NULL, WNOHANG) == pid)
			return -1;

		if (f) {
			int ok = fgets(buf, sizeof(buf), f) != NULL;

			fclose(f);
			if (ok) {
				*port = atoi(buf);
				return pid;
			}
		}
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	return -1;
}

static inline void gitfx_http_stop(pid_t pid)
{
	if (pid > 0) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
	}
}

#endif
