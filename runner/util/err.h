/* err.h - the one error struct, filled once at the lowest level.
 *
 * Functions that can fail return int: 0 on success or a negative PRENV_E*
 * code, and fill a caller-owned struct prenv_err with a concrete message (and
 * the file:line:col it is about, when there is one). main() maps the code to
 * the process exit status (see prenv_err_exit_code()).
 */
#ifndef PRENV_ERR_H
#define PRENV_ERR_H

enum prenv_errcode {
	PRENV_OK = 0,
	PRENV_EFAIL = -1,     /* the operation failed            -> exit 1 */
	PRENV_ECONFIG = -2,   /* usage/config/template error      -> exit 2 */
	PRENV_EAUTH = -3,     /* authentication or permission     -> exit 3 */
	PRENV_ENOMEM = -4,    /* out of memory                    -> exit 1 */
	PRENV_ENOTFOUND = -5, /* a thing looked up does not exist -> exit 1 */
};

struct prenv_err {
	int code;      /* one of enum prenv_errcode; 0 when no error is set */
	char *msg;     /* what went wrong and what to do (owned) */
	char *file;    /* file it is about, or NULL (owned) */
	int line, col; /* 1-based; 0 when unknown */
};

#define PRENV_ERR_INIT { 0, NULL, NULL, 0, 0 }

/* Sets err (replacing an earlier error) and returns code. err may be NULL. */
int prenv_err_set(struct prenv_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int prenv_err_set_at(struct prenv_err *err, int code, const char *file,
		     int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
/* Prepends "prefix: " to the current message (context on the way up). */
void prenv_err_prefix(struct prenv_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void prenv_err_clear(struct prenv_err *err);
int prenv_err_exit_code(int code);

#endif
