/* err.c - see err.h */
#include "util/err.h"
#include "util/buf.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static char oom_msg[] = "out of memory";

static void err_store(struct prenv_err *err, int code, const char *file,
		      int line, int col, const char *fmt, va_list ap)
{
	struct prenv_buf b = PRENV_BUF_INIT;

	prenv_err_clear(err);
	err->code = code;
	err->line = line;
	err->col = col;
	if (file)
		err->file = strdup(file);
	if (prenv_buf_vprintf(&b, fmt, ap) == 0)
		err->msg = prenv_buf_detach(&b, NULL);
	if (!err->msg)
		err->msg = oom_msg;
}

int prenv_err_set(struct prenv_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return code;
	va_start(ap, fmt);
	err_store(err, code, NULL, 0, 0, fmt, ap);
	va_end(ap);
	return code;
}

int prenv_err_set_at(struct prenv_err *err, int code, const char *file,
		     int line, int col, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return code;
	va_start(ap, fmt);
	err_store(err, code, file, line, col, fmt, ap);
	va_end(ap);
	return code;
}

void prenv_err_prefix(struct prenv_err *err, const char *fmt, ...)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	va_list ap;

	if (!err || !err->msg)
		return;
	va_start(ap, fmt);
	prenv_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	prenv_buf_printf(&b, ": %s", err->msg);
	if (b.failed)
		return;
	if (err->msg != oom_msg)
		free(err->msg);
	err->msg = prenv_buf_detach(&b, NULL);
	if (!err->msg)
		err->msg = oom_msg;
}

void prenv_err_clear(struct prenv_err *err)
{
	if (!err)
		return;
	if (err->msg != oom_msg)
		free(err->msg);
	free(err->file);
	err->msg = NULL;
	err->file = NULL;
	err->code = 0;
	err->line = err->col = 0;
}

int prenv_err_exit_code(int code)
{
	switch (code) {
	case PRENV_OK:
		return 0;
	case PRENV_ECONFIG:
		return 2;
	case PRENV_EAUTH:
		return 3;
	default:
		return 1;
	}
}
