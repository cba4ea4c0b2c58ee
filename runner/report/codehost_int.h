/* codehost_int.h - what codehost.c (the session and the comment rules),
 * codehost_github.c and codehost_gitlab.c share; not for other modules
 * (they use codehost.h).
 *
 * Each code host is one const struct codehost_host: its names, paths and
 * token variables as data, and the few places where its API differs
 * (comment authors, pagination, the head sha, the PR state) as functions.
 * codehost.c asks the table and never tests the kind; what only GitHub has
 * (finding a fork's PR, the Deployments API) lives in codehost_github.c.
 */
#ifndef PRENV_CODEHOST_INT_H
#define PRENV_CODEHOST_INT_H

#include <string.h>

#include <cjson/cJSON.h>

#include "report/codehost.h"
#include "util/err.h"
#include "util/http.h"

#define MAX_PAGES 1000          /* 100 000 comments: far beyond any real PR */

struct prenv_context;

struct codehost {
	const struct codehost_host *host;
	char *api;           /* API base, no trailing '/' */
	char *origin;        /* scheme://host[:port] of api (pagination links) */
	char *token;
	int bot_token;       /* the CI's own token (Actions GITHUB_TOKEN) */
	char *repo;          /* GitHub "/repos/o/r"; GitLab "/projects/<id>" */
	char *pr_path;       /* GitHub "/issues/N"; GitLab "/merge_requests/N" */
	long pr;
	int has_pr;
	char *identity;
	int identity_tried;
	long long comment_id;
	long long deployment_id;
	char *desc;
	struct http_client *http;
	long (*delay_hook)(void *ud, long ms);
	void *delay_ud;
	double sleep_scale;
};

/* One PR comment (GitHub) or MR note (GitLab) as read from the API. */
struct ch_comment {
	long long id;
	char *body;
	char *author;
	int system;
	int untrusted; /* GitHub: written by someone who cannot have been prenv */
};

struct codehost_host {
	enum codehost_kind kind;
	const char *id;            /* ctx->host / ctx->ci: "github" */
	const char *name;          /* messages: "GitHub" */
	const char *pr_noun;       /* messages: "pull request" */
	const char *const *headers; /* sent with every request */

	/* The API URL when ctx has none: api_var, else public_api when
	 * ctx->server_url is public_server (both may be NULL). */
	const char *api_var, *public_server, *public_api;

	/* The token: the first of the variables that serve token_use
	 * (context/tokens.h) that belongs to the API's host. When none is
	 * set, why is job_token_why if job_token_var is set, else
	 * no_token_why. */
	unsigned token_use;
	const char *job_token_var, *job_token_why, *no_token_why;
	/* bot_ci set and a token other than own_token_var used: possibly the
	 * CI's own token, whose identity (GET /user refuses it) is
	 * bot_identity. */
	const char *bot_ci, *own_token_var, *bot_identity;
	const char *identity_key;  /* the login in GET /user's answer */
	/* Only a comment's author may edit it (GitLab notes): a marked
	 * comment is adopted only when the token's identity wrote it. */
	int own_comments_only;

	/* The repository's API path ("/repos/o/r", "/projects/<id>") into b
	 * (a failed b is out of memory). -1 when ctx does not name it: the
	 * session is not opened, with no_repo_why. */
	int (*repo_path)(struct prenv_buf *b, const struct prenv_context *ctx);
	const char *no_repo_why;

	/* Below repo: the PR's comment thread and the PR itself ("%ld": the
	 * number), the comment list (first page) below the thread, and the
	 * method that replaces a comment's body. */
	const char *thread_fmt, *pr_fmt, *comments, *update_method;

	/* The URL of comment id into u. */
	int (*url_comment)(struct codehost *h, struct prenv_buf *u, long long id);
	/* 1 when the comment object o is on the session's PR; NULL: every
	 * comment read through the PR's own path is. */
	int (*on_pr)(struct codehost *h, const cJSON *o);
	/* Sets c->system / c->untrusted from the comment object o and returns
	 * its author's login (borrowed from o), or NULL. */
	const char *(*author)(const cJSON *o, struct ch_comment *c);
	/* After a page of comments: url (empty) gets the next page's; first is
	 * the first page's. 1 when there is one, 0 after the last page,
	 * negative PRENV_E* (err set) when the answer is unusable. */
	int (*next_page)(struct codehost *h, const struct http_response *resp,
			 const char *first, struct prenv_buf *url, struct prenv_err *err);
	/* From a PR object: its head sha, and its state as "open", "closed" or
	 * "merged" (NULL: unknown). Borrowed from pr (or static). */
	const char *(*head_sha)(const cJSON *pr);
	const char *(*pr_state)(const cJSON *pr);
};

extern const struct codehost_host codehost_github_host;
extern const struct codehost_host codehost_gitlab_host;

/* ---- shared by the three files (codehost.c) ---- */

static inline int ch_streq(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

int ch_oom(struct prenv_err *err);
/* A JSON id: a positive integer below 2^53, else 0. */
long long ch_json_id(const cJSON *o, const char *name);
/* A string member, or NULL. Borrowed from o. */
const char *ch_json_str(const cJSON *o, const char *name);
/* The answer's JSON (caller frees), or NULL with err set ("what: the answer
 * is not JSON"). */
cJSON *ch_parse_body(const struct http_response *resp, const char *what,
		     struct prenv_err *err);
/* One request with the host's headers and the session's token. */
int ch_do(struct codehost *h, const char *method, const char *url,
	  const char *body, struct http_response *resp, struct prenv_err *err);
/* GET url (built by the caller; a failed buffer is out of memory) and parse
 * the JSON answer into *out (caller frees). what names it in errors. */
int ch_get_json(struct codehost *h, const struct prenv_buf *url, const char *what,
		struct http_response *resp, cJSON **out, struct prenv_err *err);

#endif
