/* ci_int.h - what the files of runner/context/ share with each other. Not
 * for other modules: they include context/ci.h.
 *
 * Every detector fills one struct prenv_context through a struct ci_det.
 * The ci_put* helpers copy strings into it and, instead of failing, set the
 * sticky d->oom flag, so the many small copies need not each be checked;
 * ci_detect() checks the flag once.
 */
#ifndef PRENV_CI_INT_H
#define PRENV_CI_INT_H

#include <stddef.h>
#include <string.h>

struct prenv_context;
struct prenv_err;

/* Detection state: the context being filled, the environment it is read
 * from, and two flags. */
struct ci_det {
	struct prenv_context *c;
	const char *const *envp;
	int oom;        /* a copy failed: ci_detect() reports out of memory */
	int no_git_ref; /* do not take branch/sha from the checkout */
};

/* ---- ci_fields.c: setting fields--------------------------------------- */

/* *dst = copy of s (the old value freed); s NULL: *dst unchanged. */
void ci_put(struct ci_det *d, char **dst, const char *s);
/* *dst = copy of the n bytes at s. */
void ci_put_n(struct ci_det *d, char **dst, const char *s, size_t n);
/* ci_put(), but only when *dst is still unset. */
void ci_fill(struct ci_det *d, char **dst, const char *s);
/* *dst = the formatted string. */
void ci_putf(struct ci_det *d, char **dst, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* *dst = NULL (the old value freed). */
void ci_clear(char **dst);
/* repo_full_name = full; owner and name split at its last '/'. */
void ci_set_full_name(struct ci_det *d, const char *full);

/* ---- ci_fields.c: looking at untrusted text---------------------------- */

/* Digits only, 1..15 of them, value > 0. Returns 0 or -1. */
int ci_parse_pos_long(const char *s, long *out);
/* 1 when s has a control character (< 0x20 or DEL). */
int ci_has_ctl(const char *s);
/* Strips trailing slashes of a URL in place (s may be NULL). */
void ci_rstrip_slash(char *s);

static inline const char *ci_env(const struct ci_det *d, const char *name)
{
	return ci_getenv(d->envp, name);
}

static inline int ci_streq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

static inline int ci_starts(const char *s, const char *prefix)
{
	return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- repourl.c ----------------------------------------------------- */

/* "a/b/c": non-empty segments of allowed characters, no "." or "..". */
int ci_path_ok(const char *s, size_t n);
/* ci_parse_remote_url() / ci_parse_change_url() without the message:
 * 0, or -1 (u cleared; d->oom says whether memory ran out). */
int ci_remote_url(struct ci_det *d, struct ci_url_info *u, const char *url);
int ci_change_url(struct ci_det *d, struct ci_url_info *u, const char *url);
/* Copies what a parsed URL says into the context. force: replace what is
 * there; else fill only what is unset. */
void ci_apply_url_info(struct ci_det *d, const struct ci_url_info *u, int force);

/* ---- one detector per CI system ------------------------------------ */

/* Fill d->c from that CI's variables. Return 0 or a PRENV_E* code (with
 * err set). */
int ci_detect_github(struct ci_det *d, struct prenv_err *err);  /* ci_github.c */
int ci_detect_gitlab(struct ci_det *d, struct prenv_err *err);  /* ci_gitlab.c */
int ci_detect_jenkins(struct ci_det *d, struct prenv_err *err); /* ci_jenkins.c */

/* ---- ci_local.c: the checkout -------------------------------------- */

/* Fills what is still missing from the git checkout at repo_dir. Not a
 * checkout is not an error. 0 or PRENV_ENOMEM. */
int ci_fill_from_git(struct ci_det *d, const char *repo_dir,
		     struct prenv_err *err);

/* ---- ci_override.c: PRENV_* ---------------------------------------- */

/* PRENV_CI, checked: *out is the CI it names (borrowed from envp), or
 * NULL when unset. 0 or PRENV_ECONFIG. */
int ci_override_ci(const char *const *envp, const char **out,
		   struct prenv_err *err);
/* Applies every other PRENV_* variable. 0, PRENV_ECONFIG or PRENV_ENOMEM. */
int ci_apply_overrides(struct ci_det *d, struct prenv_err *err);

#endif
