/* tokens.h - which token may be sent to which host: the one place prenv
 * decides it (the code-host sessions in report/, the pages provider's git
 * publisher, and whatever else talks to a code host or a git server).
 *
 * Every token belongs to one host; a URL gets a token only from its own
 * host's variables:
 *
 *   GitHub  PRENV_GITHUB_TOKEN, GITHUB_TOKEN, GH_TOKEN
 *           -> the GitHub server: the host of GITHUB_SERVER_URL and of
 *              GITHUB_API_URL, and of ctx->server_url / ctx->api_url when
 *              ctx->host is "github"; github.com and api.github.com when
 *              none of these names a server
 *   GitLab  PRENV_GITLAB_TOKEN, GITLAB_TOKEN, CI_JOB_TOKEN
 *           -> the GitLab server: CI_SERVER_URL, CI_API_V4_URL, and
 *              ctx->server_url / ctx->api_url when ctx->host is "gitlab";
 *              gitlab.com when none names a server
 *   PRENV_GIT_TOKEN
 *           -> only the host named by PRENV_GIT_TOKEN_HOST (host[:port] or
 *              a URL); without it, nowhere
 *   PRENV_GIT_TOKEN_<NAME> (NAME: A-Z, 0-9, _; e.g. PRENV_GIT_TOKEN_ACME)
 *           -> only the host named by PRENV_GIT_TOKEN_<NAME>_HOST; sent
 *              with the user PRENV_GIT_TOKEN_<NAME>_USER (default
 *              x-access-token). One pair per git server: a token each.
 *              Checked before the variables above, git only.
 *
 * Hosts compare as host[:port], case-insensitively, with the scheme's
 * default port (https 443, http 80) left out. Only https:// URLs get a token,
 * and http:// ones whose host is loopback (127.0.0.0/8, ::1, localhost: the
 * tests' servers). Anything else (ssh, scp-like, file, a path, a URL whose
 * authority is ambiguous) gets none. All of these inputs come from the
 * environment the CI sets, never from the configuration or the pull request;
 * the URL may come from anywhere.
 *
 * Pure: no I/O; ctx and envp are read only.
 */
#ifndef PRENV_TOKENS_H
#define PRENV_TOKENS_H

struct prenv_context;
struct prenv_buf;

/* What a token is wanted for (a mask). */
#define TOKEN_FOR_GIT        1u  /* git over https: fetch, push, ls-remote */
#define TOKEN_FOR_GITHUB_API 2u  /* the GitHub REST API */
#define TOKEN_FOR_GITLAB_API 4u  /* the GitLab REST API (not CI_JOB_TOKEN) */

struct token_pick {
	const char *var;    /* the variable's name (static, or var_buf for a
			     * PRENV_GIT_TOKEN_<NAME>: valid while the pick is) */
	const char *value;  /* its value (borrowed from envp) */
	const char *user;   /* the user name git sends with it: PRENV_GIT_USER or
			     * x-access-token for PRENV_GIT_TOKEN, x-access-token
			     * (GitHub), oauth2 (GitLab), gitlab-ci-token
			     * (CI_JOB_TOKEN). Static or borrowed from envp. */
	char var_buf[96];
};

/* The decision: may the token of variable var (one of the names above) be
 * sent to url? 1 yes, 0 no (why, when not NULL, gets one sentence: whose
 * host it is, or that the URL is plain http to another host). Whether var
 * is set does not matter. */
int tokens_allowed(const struct prenv_context *ctx, const char *const *envp,
		   const char *var, const char *url, struct prenv_buf *why);

/* The first variable, in the order of the table above (PRENV_GIT_TOKEN
 * first), that is set, serves one of the uses in the mask `use`, and may go
 * to url. 1 with *out filled; 0 when there is none (why gets the first
 * refusal of a variable that is set, e.g. "GITHUB_TOKEN belongs to
 * github.com, not git.example.org", or stays empty when none is set). */
int tokens_for_url(const struct prenv_context *ctx, const char *const *envp,
		   const char *url, unsigned use, struct token_pick *out,
		   struct prenv_buf *why);

/* 1 when host (host, host:port, [v6]:port) is loopback: 127.0.0.0/8, ::1,
 * localhost. */
int tokens_host_is_loopback(const char *host);

#endif
