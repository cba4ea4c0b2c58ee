/* ci.h - CI context detection: where are we running, for which branch/PR.
 *
 * ci_detect() reads an environment array (like envp: "NAME=value" strings,
 * NULL-terminated), the GitHub event JSON named by GITHUB_EVENT_PATH, and,
 * when variables are missing, the git checkout at repo_dir (libgit2, via
 * git.h). PRENV_* overrides win over everything detected.
 */
#ifndef PRENV_CI_H
#define PRENV_CI_H

#include <cjson/cJSON.h>

struct prenv_err;

struct prenv_context {
	char *ci;          /* "github", "gitlab", "jenkins", "local" */
	char *event;       /* "pull_request", "push", "merge_request_event", ... or NULL */
	char *action;      /* "opened", "synchronize", "closed", ... or NULL */
	char *host;        /* code host: "github", "gitlab", "bitbucket", "gitea", or NULL */
	char *server_url;  /* e.g. https://github.com, https://gitlab.example.com */
	char *api_url;     /* e.g. https://api.github.com, https://gitlab.x/api/v4 */
	char *repo_owner;  /* for GitLab: the namespace path (may contain '/') */
	char *repo_name;
	char *repo_full_name; /* owner/name */
	char *repo_url;
	char *project_id;  /* GitLab CI_PROJECT_ID, or NULL */
	char *branch;      /* head branch (the PR's source branch on PRs); NULL if detached and unknown */
	char *base_branch; /* PR target branch, or NULL */
	char *sha;         /* 40 hex, the commit being deployed (PR head on PRs) */
	int has_pr;
	long pr_number;
	char *pr_title;    /* untrusted */
	char *pr_author;   /* untrusted */
	char *pr_url;
	char *pr_state;    /* "open", "closed", "merged" */
	int pr_fork;       /* 1 when the PR comes from another repository */
	char *run_url;     /* link to this CI run/job */
	char *run_id;
	/* Added by the ci module: */
	char *tag;         /* tag name when the run is for a tag (branch is NULL then) */
	int ref_deleted;   /* 1 when the branch/tag was deleted (GitHub delete event,
			    * push with "deleted": true); sha is NULL then */
	char *head_repo_full_name; /* repository the head commit lives in (differs on forks) */
	char *trigger_event; /* workflow_run: the event of the triggering run */
	/* What detection had to change in untrusted input, for the caller to
	 * print as a warning (a NUL in the event JSON shown as U+FFFD), or NULL. */
	char *warning;
};

/* Detects the context. On success *out is the caller's (ci_context_free()).
 * envp: NULL-terminated "NAME=value" array. repo_dir: the checkout to read
 * when variables are missing (NULL: the current directory). */
int ci_detect(struct prenv_context **out, const char *const *envp,
	      const char *repo_dir, struct prenv_err *err);
void ci_context_free(struct prenv_context *ctx);

/* The JSON shape of `prenv context -o json` (without "env"); caller frees. */
cJSON *ci_context_to_json(const struct prenv_context *ctx);

/* Looks NAME up in envp; returns a borrowed pointer or NULL. Empty values
 * count as unset. */
const char *ci_getenv(const char *const *envp, const char *name);

/* What a repository URL or a change-request URL says. All strings owned;
 * clear with ci_url_info_clear(). */
struct ci_url_info {
	char *host;       /* "github", "gitlab", "bitbucket", "gitea", or NULL (unknown) */
	char *hostname;   /* lower-case host name, with ":port" for http(s) URLs */
	char *server_url; /* web base, e.g. https://github.com (never credentials) */
	char *api_url;    /* REST base when host is known, else NULL */
	char *owner;      /* may contain '/' (GitLab subgroups) */
	char *name;
	char *repo_url;   /* server_url/owner/name */
	long number;      /* PR/MR number (ci_parse_change_url only), else 0 */
};

/* Parses a git remote URL: https://[user[:pw]@]host[:port]/owner/name[.git],
 * ssh://[user@]host[:port]/owner/name[.git], git://..., scp-like
 * [user@]host:owner/name[.git]. GitLab subgroups give owner "group/sub".
 * Credentials in the URL are dropped. Returns 0 or PRENV_ECONFIG. */
int ci_parse_remote_url(struct ci_url_info *out, const char *url,
			struct prenv_err *err);

/* Parses a pull/merge request web URL (Jenkins CHANGE_URL):
 *   GitHub   https://github.com/o/n/pull/5 (GitHub Enterprise: api <server>/api/v3)
 *   GitLab   https://gitlab.x/group/sub/proj/-/merge_requests/5 (api <server>/api/v4)
 *   Bitbucket https://bitbucket.org/o/n/pull-requests/5,
 *            https://bb.x/projects/P/repos/r/pull-requests/5 (Server: api <server>/rest/api/1.0)
 *   Gitea    https://gitea.x/o/n/pulls/5 (api <server>/api/v1)
 * Returns 0 or PRENV_ECONFIG. */
int ci_parse_change_url(struct ci_url_info *out, const char *url,
			struct prenv_err *err);
void ci_url_info_clear(struct ci_url_info *info);

#endif
