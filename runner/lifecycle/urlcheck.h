/* urlcheck.h - the URL check of a deploy (`check:` in the config): after
 * the provider says ready, the environment's URL (or check.url) is asked
 * until it answers as expected or check.timeout runs out. Core, not a
 * provider: it runs for every provider that produced an http(s) URL.
 *
 * The request carries no token: only the headers the config names
 * (check.headers, rendered by the plan; check.headers_from_env, read from
 * the environment and masked like secrets). What the server answered is
 * untrusted text: it is shown through log_block() (no workflow commands),
 * with control characters escaped.
 */
#ifndef PRENV_URLCHECK_H
#define PRENV_URLCHECK_H

#include <stddef.h>

#include "config/config.h"
#include "util/buf.h"

struct prenv_plan;
struct prenv_err;

struct urlcheck {
	const struct config_check *ck; /* borrowed from the config */
	const char *cfg_path;          /* the config file (for errors) */
	const char *url;               /* check.url rendered, or NULL; borrowed */
	char **headers;                /* "Name: value", NULL-terminated */
	size_t nheaders;
};

/* Builds the check of this run before anything is deployed: headers from
 * the plan and from the environment (an unset or empty variable is
 * PRENV_ECONFIG at its line in the config). uc is zeroed first; free it
 * with urlcheck_free(). A config without check: leaves uc->ck NULL. */
int urlcheck_prepare(struct urlcheck *uc, const struct prenv_config *cfg,
		     const struct prenv_plan *plan, struct prenv_err *err);
void urlcheck_free(struct urlcheck *uc);

/* base + path: path (NULL: base as is) replaces a trailing '/' of base.
 * Malloc'd, NULL without memory. */
char *urlcheck_join(const char *base, const char *path);

/* 1 when status is within the expected range and the body holds
 * check.contains (when set). */
int urlcheck_expected(const struct config_check *ck, long status, const char *body, size_t len);

/* Appends the first max_lines non-blank lines of body, each cut at
 * max_cols bytes ("..." added), control characters and bytes >= 0x7f that
 * are not UTF-8 shown as \xNN, lines joined with '\n'. */
void urlcheck_excerpt(struct prenv_buf *b, const char *body, size_t len, int max_lines,
		      size_t max_cols);

/* Runs the check against deploy_url (the URL the deploy reported; used
 * when check.url is not set). 0: it answered as expected, or there is
 * nothing to ask (a file:// URL: said in the log). PRENV_EFAIL: it did not
 * within check.timeout; err holds one line (what answered last: status,
 * or the connection / TLS error, or the timeout) and the first lines of the
 * last body were logged. */
int urlcheck_run(const struct urlcheck *uc, const char *deploy_url, struct prenv_err *err);

#endif
