/* log.h - the one message module.
 *
 * Human text goes to stderr as "prenv: ...", machine output to stdout through
 * log_out(). Every byte written through this module passes the secret mask:
 * a string registered with log_add_secret() is replaced by "***" in any
 * output, at any verbosity. The logger knows its CI: on GitHub Actions it
 * emits ::group::, ::error file=..:: and ::add-mask::, all on stderr (the
 * runner reads both streams; stdout stays machine output); on GitLab CI,
 * collapsible sections.
 */
#ifndef PRENV_LOG_H
#define PRENV_LOG_H

#include <stddef.h>
#include <stdio.h>

struct prenv_err;

enum log_ci { LOG_CI_NONE = 0, LOG_CI_GITHUB, LOG_CI_GITLAB, LOG_CI_JENKINS };

enum log_level { LOG_QUIET = -1, LOG_NORMAL = 0, LOG_VERBOSE = 1, LOG_DEBUG = 2 };

void log_setup(enum log_ci ci, int level, int color);
/* Redirects output (tests). NULL restores stdout/stderr. */
void log_set_streams(FILE *out, FILE *err);
int log_level(void);

/* Registers a secret (copied); on GitHub it is announced once with
 * ::add-mask:: when it fits on one line. Of a multi-line secret (a
 * kubeconfig, a PEM key) or a JSON one, the secret-bearing parts are
 * registered too: values of secret-looking keys, PEM blocks and their
 * lines, URL passwords (not "apiVersion: v1"); without key-value structure,
 * each line of 8 bytes or more. Strings shorter than 4 bytes are not masked
 * (they would mask ordinary text) and are reported with -1. */
int log_add_secret(const char *secret);
/* Frees every registered secret (end of main, tests). */
void log_reset(void);

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_verbose(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* An error about a place in a file (config, template). */
void log_error_at(const char *file, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Prints err (with its file:line:col when set) as an error. */
void log_err(const struct prenv_err *err);

void log_group_begin(const char *title);
void log_group_end(void);

/* A block of text for humans (e.g. the comment body that was not posted):
 * to stderr, each line indented by four spaces, masked, defused like every
 * human line ("\::" first on a line, "##\[", CR shown as \r). */
void log_block(const char *text);

/* Machine output to stdout, masked; "##[" is written "##\u005b" (the same
 * string to JSON and YAML) and "::" first on a line gets a backslash, so no
 * line can be a GitHub workflow command. */
void log_out(const char *s, size_t len);
void log_outs(const char *s);
void log_outf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Returns a malloc'd copy of s with every secret replaced (caller frees). */
char *log_mask_dup(const char *s, size_t len, size_t *out_len);

#endif
