/* codehost.h - report to the code host: one pull/merge request comment per
 * environment, kept up to date, and GitHub deployment statuses.
 *
 * Hosts: GitHub (issue comments API + Deployments API) and GitLab (merge
 * request notes API). Everything goes through http.h (retries, backoff,
 * rate limits; a POST is never sent twice blindly).
 *
 * Where and with what:
 *   GitHub Actions  ctx->api_url (GITHUB_API_URL); PRENV_GITHUB_TOKEN, else
 *                   GITHUB_TOKEN
 *   GitLab CI       ctx->api_url (CI_API_V4_URL); PRENV_GITLAB_TOKEN, else
 *                   GITLAB_TOKEN (CI_JOB_TOKEN cannot write notes)
 *   Jenkins         ctx->host/api_url as ci.c derives them from CHANGE_URL
 *                   (github.com -> api.github.com, GHE -> <server>/api/v3,
 *                   GitLab -> <server>/api/v4); the same token variables
 *   local           not reported, unless PRENV_API_URL is set (any other CI)
 * The token is the first of these (GH_TOKEN too on GitHub) that
 * context/tokens.h lets go to the API's host (https, or http to loopback).
 *
 * The comment is found by its marker (report_marker()), which must be the
 * very first thing in the body: a quote or code block by someone else that
 * contains the marker text does not match. See codehost_upsert_comment()
 * for the rules (older commits, races, duplicates).
 *
 * Use:
 *	struct codehost *h = NULL;
 *	struct prenv_buf why = PRENV_BUF_INIT;
 *	rc = codehost_new(&h, &opts, &why, err);
 *	if (rc == 0 && !h) log_info("not posting: %s", why.ptr);
 *	rc = codehost_upsert_comment(h, &c, &res, err);
 *	rc = codehost_deployment(h, &d, err);
 *	codehost_free(h);
 */
#ifndef PRENV_CODEHOST_H
#define PRENV_CODEHOST_H

#include "util/buf.h"

struct prenv_context;
struct prenv_err;
struct http_client_opts;

enum codehost_kind { CODEHOST_GITHUB = 1, CODEHOST_GITLAB = 2 };

struct codehost;

struct codehost_opts {
	const struct prenv_context *ctx;
	const char *const *envp;               /* "NAME=value", NULL-terminated */
	const struct http_client_opts *http;   /* NULL: defaults */
};

/* Opens a session for ctx. Returns 0 with *out set when reporting is
 * possible; 0 with *out NULL and why filled (one sentence: no token, only
 * CI_JOB_TOKEN, a local run, an unsupported host...) when it is not, with
 * *auth set to 1 when the reason is a missing/unusable token (auth may be
 * NULL); negative PRENV_E* on other errors. The token is registered with
 * log_add_secret(). */
int codehost_new(struct codehost **out, const struct codehost_opts *o,
		 struct prenv_buf *why, int *auth, struct prenv_err *err);
void codehost_free(struct codehost *h);

/* GitHub only: a workflow_run from a fork carries no pull_requests, so this
 * finds the open pull request whose head is ctx->head_repo_full_name:branch
 * at exactly ctx->sha (GET /repos/o/r/pulls?head=owner:branch&state=open)
 * and fills ctx's PR fields (has_pr, number, title, author, url, state);
 * the session then reports to it. PRENV_ENOTFOUND when there is none. */
int codehost_resolve_pr(struct codehost *h, struct prenv_context *ctx,
			struct prenv_err *err);

enum codehost_kind codehost_kind(const struct codehost *h);
/* "GitHub" / "GitLab" and where: "GitHub (https://api.github.com)". Borrowed. */
const char *codehost_describe(const struct codehost *h);
/* Requests sent by this session so far (retries included). */
unsigned long codehost_request_count(const struct codehost *h);
/* The token's identity (login/username) when it is known: the author of a
 * comment this session created, else /user, else "github-actions[bot]" for
 * the Actions GITHUB_TOKEN. NULL if unknown. Borrowed. */
const char *codehost_identity(const struct codehost *h);

struct codehost_comment {
	const char *marker;   /* report_marker() text; the body starts with it */
	const char *body;     /* the whole comment */
	const char *sha;      /* the commit this comment reports, or NULL */
	int force;            /* 1: skip the older-commit check (destroyed) */
	long long known_id;   /* a remembered comment id (e.g. the namespace
				 annotation prenv.dev/comment-id), or 0 */
};

enum codehost_action {
	CODEHOST_CREATED = 1,
	CODEHOST_UPDATED,
	CODEHOST_UNCHANGED,   /* the comment already had this body */
	CODEHOST_SKIPPED,     /* a newer commit's comment was left alone */
};

struct codehost_comment_result {
	enum codehost_action action;
	long long id;         /* the comment that now holds the report */
	int deleted;          /* duplicates deleted (races) */
	int kept_foreign;     /* duplicates left alone (other author) */
};

/* Creates or updates the one comment carrying c->marker on the PR/MR.
 *  1. Tries c->known_id, then the id this session wrote before (GET; used
 *     if it still starts with the marker); else lists every page of the
 *     PR's comments (GitHub Link rel="next", GitLab X-Next-Page).
 *  2. None: POST. If the POST fails ambiguously (no answer, 5xx), re-reads
 *     before anything else; never re-sends blindly.
 *  3. One (or more: the oldest): reads the PR's head sha; when c->sha is
 *     not the head the update is skipped (CODEHOST_SKIPPED), whatever
 *     commit the comment shows: only the head's runs edit it, so an older
 *     run's edit that lands late never replaces the head's. Else PATCH/PUT
 *     in place (also when the head cannot be read, with a warning).
 *  4. After a POST it re-reads: with two or more marker comments the
 *     oldest (lowest id) is kept, the others are deleted when their author
 *     is the token's identity (never otherwise), and the kept one gets
 *     our body (same sha rule).
 * Comments without the marker at the start are never touched, and a marked
 * one is adopted (1., 3.) only when prenv could have written it: on GitHub
 * a bot's, or the repository's owner's, members' or collaborators', or the
 * token's identity's whatever author_association says; on GitLab, where
 * only a note's author may edit it, only the token's identity's (GET /user,
 * or the author of the note this session created). A look-alike planted by
 * someone else is left alone and prenv posts its own. Returns 0
 * or a negative PRENV_E* (PRENV_EAUTH for 401/403: read-only token). */
int codehost_upsert_comment(struct codehost *h, const struct codehost_comment *c,
			    struct codehost_comment_result *res, struct prenv_err *err);

struct codehost_deploy {
	const char *status;      /* "deploying", "ready", "applied", "failed", "destroyed" */
	const char *app;
	const char *environment; /* the GitHub environment: the env name (pr-42) */
	const char *sha;         /* deployment ref */
	const char *url;         /* environment_url, or NULL */
	const char *log_url;     /* the CI run, or NULL */
	const char *reason;      /* failure description, or NULL */
	int transient;           /* previews */
	int production;
};

/* GitHub Deployments API (a no-op returning 0 on GitLab, where the job's
 * environment: keyword and the dotenv report do this):
 *   deploying  POST deployment (payload.app = app), status in_progress
 *   ready      status success (auto_inactive), failed: status failure;
 *              the deployment is created first if this session has none
 *   destroyed  every deployment of the environment that is prenv's for
 *              this app (payload.tool "prenv", payload.app), on every page
 *              of the list, whose latest status is not inactive gets status
 *              inactive; other tools' and apps' are never touched
 * Returns 0 or a negative PRENV_E*. */
int codehost_deployment(struct codehost *h, const struct codehost_deploy *d,
			struct prenv_err *err);

/* The deployment this session created (0: none). */
long long codehost_deployment_id(const struct codehost *h);

/* The state of pull request (GitHub) / merge request iid (GitLab) number,
 * which need not be the session's: *state (caller frees) is "open",
 * "closed" or "merged" (GitLab "locked" counts as open). GET
 * /repos/o/r/pulls/N or /projects/:id/merge_requests/N. Returns 0 or a
 * negative PRENV_E* (PRENV_ENOTFOUND: no such PR, PRENV_EAUTH). */
int codehost_pr_state(struct codehost *h, long number, char **state, struct prenv_err *err);

/* Parses the "<!-- prenv:sha=HEX -->" line that follows the marker line of
 * body into out (41 bytes). Returns 0, or -1 when there is none. */
int codehost_comment_sha(const char *body, char out[41]);
/* 1 when body starts with marker (followed by the end or a line break). */
int codehost_marker_matches(const char *body, const char *marker);

#endif
