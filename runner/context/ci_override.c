/* ci_override.c - the PRENV_* variables: checked, then they win over
 * everything detected. A bad value is a configuration error that names
 * the variable.
 *
 * The steps run in a fixed order (overrides_steps[]): PRENV_REPO builds
 * repo_url from the server URL as detected or set by PRENV_REPO_URL, before
 * PRENV_SERVER_URL replaces it.
 */
#include <ctype.h>
#include <stddef.h>
#include <string.h>

#include "context/ci.h"
#include "context/ci_int.h"
#include "util/err.h"

static int token_ok(const char *s)
{
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
			return 0;
	return 1;
}

static int http_url_ok(const char *s)
{
	return (ci_starts(s, "https://") || ci_starts(s, "http://")) && !ci_has_ctl(s) &&
	       !strchr(s, ' ');
}

static int is_hex_sha(const char *s)
{
	size_t i;

	if (!s)
		return 0;
	for (i = 0; s[i]; i++)
		if (!isxdigit((unsigned char)s[i]))
			return 0;
	return i == 40 || i == 64;
}

static int bad(struct prenv_err *err, const char *var, const char *what)
{
	return prenv_err_set(err, PRENV_ECONFIG, "%s: %s", var, what);
}

int ci_override_ci(const char *const *envp, const char **out,
		   struct prenv_err *err)
{
	const char *ci = ci_getenv(envp, "PRENV_CI");

	*out = ci;
	if (ci && !token_ok(ci))
		return bad(err, "PRENV_CI", "expected a word like \"github\" or \"buildkite\"");
	return 0;
}

/* ------------------------------------------------------------------ */
/* One step per group of variables; each returns 0 or PRENV_E*          */

/* PRENV_EVENT, PRENV_ACTION, PRENV_HOST */
static int override_words(struct ci_det *d, struct prenv_err *err)
{
	struct prenv_context *c = d->c;
	const char *v;

	if ((v = ci_env(d, "PRENV_EVENT"))) {
		if (!token_ok(v))
			return bad(err, "PRENV_EVENT", "expected a word like \"push\" or \"pull_request\"");
		ci_put(d, &c->event, v);
	}
	if ((v = ci_env(d, "PRENV_ACTION"))) {
		if (!token_ok(v))
			return bad(err, "PRENV_ACTION", "expected a word like \"opened\"");
		ci_put(d, &c->action, v);
	}
	if ((v = ci_env(d, "PRENV_HOST"))) {
		if (!ci_streq(v, "github") && !ci_streq(v, "gitlab") &&
		    !ci_streq(v, "bitbucket") && !ci_streq(v, "gitea"))
			return bad(err, "PRENV_HOST", "expected github, gitlab, bitbucket or gitea");
		ci_put(d, &c->host, v);
	}
	return 0;
}

/* PRENV_REPO_URL, then PRENV_REPO */
static int override_repo(struct ci_det *d, struct prenv_err *err)
{
	struct prenv_context *c = d->c;
	struct ci_url_info u;
	const char *v;

	if ((v = ci_env(d, "PRENV_REPO_URL"))) {
		if (ci_remote_url(d, &u, v) < 0) {
			if (d->oom)
				return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
			return bad(err, "PRENV_REPO_URL",
				   "expected a repository URL like https://host/owner/name");
		}
		/* the URL's own host wins over the detected one */
		if (!ci_env(d, "PRENV_HOST"))
			ci_put(d, &c->host, u.host);
		ci_apply_url_info(d, &u, 1);
		ci_url_info_clear(&u);
	}
	if ((v = ci_env(d, "PRENV_REPO"))) {
		const char *slash = strrchr(v, '/');

		if (!slash || slash == v || !slash[1] || !ci_path_ok(v, strlen(v)))
			return bad(err, "PRENV_REPO",
				   "expected owner/name (letters, digits, '-', '_', '.')");
		ci_set_full_name(d, v);
		if (!ci_env(d, "PRENV_REPO_URL")) {
			if (c->server_url)
				ci_putf(d, &c->repo_url, "%s/%s", c->server_url, v);
			else
				ci_clear(&c->repo_url);
		}
	}
	return 0;
}

static int override_sha(struct ci_det *d, struct prenv_err *err)
{
	struct prenv_context *c = d->c;
	const char *v = ci_env(d, "PRENV_SHA");

	if (!v)
		return 0;
	if (!is_hex_sha(v))
		return bad(err, "PRENV_SHA", "expected a full commit id (40 hex digits)");
	ci_put(d, &c->sha, v);
	for (char *p = c->sha; p && *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return 0;
}

/* Overrides that are copied as they are, once checked. */
static const struct {
	const char *var;
	size_t off; /* of the char * in struct prenv_context */
	int url;    /* 1: an http(s) URL, trailing '/' dropped; 0: plain text */
} plain[] = {
	{ "PRENV_BRANCH", offsetof(struct prenv_context, branch), 0 },
	{ "PRENV_BASE_BRANCH", offsetof(struct prenv_context, base_branch), 0 },
	{ "PRENV_PR_TITLE", offsetof(struct prenv_context, pr_title), 0 },
	{ "PRENV_PR_AUTHOR", offsetof(struct prenv_context, pr_author), 0 },
	{ "PRENV_PROJECT_ID", offsetof(struct prenv_context, project_id), 0 },
	{ "PRENV_RUN_ID", offsetof(struct prenv_context, run_id), 0 },
	{ "PRENV_SERVER_URL", offsetof(struct prenv_context, server_url), 1 },
	{ "PRENV_API_URL", offsetof(struct prenv_context, api_url), 1 },
	{ "PRENV_PR_URL", offsetof(struct prenv_context, pr_url), 1 },
	{ "PRENV_RUN_URL", offsetof(struct prenv_context, run_url), 1 },
};

static int override_plain(struct ci_det *d, struct prenv_err *err)
{
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		char **dst = (char **)((char *)d->c + plain[i].off);
		const char *v = ci_env(d, plain[i].var);

		if (!v)
			continue;
		if (plain[i].url && !http_url_ok(v))
			return bad(err, plain[i].var, "expected an http:// or https:// URL");
		if (!plain[i].url && ci_has_ctl(v))
			return bad(err, plain[i].var, "contains control characters");
		ci_put(d, dst, v);
		if (plain[i].url)
			ci_rstrip_slash(*dst);
	}
	return 0;
}

/* PRENV_PR, PRENV_PR_STATE, PRENV_PR_FORK */
static int override_pr(struct ci_det *d, struct prenv_err *err)
{
	struct prenv_context *c = d->c;
	const char *v;
	long n;

	if ((v = ci_env(d, "PRENV_PR"))) {
		if (ci_parse_pos_long(v, &n) < 0)
			return bad(err, "PRENV_PR", "expected a positive pull request number");
		c->has_pr = 1;
		c->pr_number = n;
		ci_fill(d, &c->pr_state, "open");
	}
	if ((v = ci_env(d, "PRENV_PR_STATE"))) {
		if (!ci_streq(v, "open") && !ci_streq(v, "closed") && !ci_streq(v, "merged"))
			return bad(err, "PRENV_PR_STATE", "expected open, closed or merged");
		ci_put(d, &c->pr_state, v);
	}
	if ((v = ci_env(d, "PRENV_PR_FORK"))) {
		if (ci_streq(v, "true") || ci_streq(v, "1") || ci_streq(v, "yes"))
			c->pr_fork = 1;
		else if (ci_streq(v, "false") || ci_streq(v, "0") || ci_streq(v, "no"))
			c->pr_fork = 0;
		else
			return bad(err, "PRENV_PR_FORK", "expected true or false");
	}
	return 0;
}

static int (*const overrides_steps[])(struct ci_det *, struct prenv_err *) = {
	override_words, override_repo, override_sha, override_plain, override_pr,
};

int ci_apply_overrides(struct ci_det *d, struct prenv_err *err)
{
	int rc;

	for (size_t i = 0; i < sizeof(overrides_steps) / sizeof(overrides_steps[0]); i++)
		if ((rc = overrides_steps[i](d, err)) < 0)
			return rc;
	/* a branch named by hand is not a tag */
	if (ci_env(d, "PRENV_BRANCH"))
		ci_clear(&d->c->tag);
	return 0;
}
