/* ci.c - CI context detection: GitHub Actions, GitLab CI, Jenkins, local.
 *
 * Order: the CI system's variables (and, on GitHub, the event JSON) first;
 * then whatever is still missing from the git checkout (git.h); then the
 * PRENV_* overrides, which win over everything; then derived fields (owner
 * and name from full_name, repository and PR URLs).
 *
 * All strings in struct prenv_context are heap copies. Values read from the
 * environment or the event payload are untrusted: nothing here interprets
 * them beyond splitting and comparing.
 */
#include "context/ci.h"

#include <ctype.h>
#include <stddef.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/git.h"

/* Detection state: the context being filled, plus a sticky out-of-memory
 * flag so the many small copies need not each be checked. */
struct det {
	struct prenv_context *c;
	const char *const *envp;
	int oom;
	int no_git_ref; /* do not take branch/sha from the checkout */
};

static char *dupn(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

/* *dst = copy of s (s NULL: *dst unchanged). */
static void put(struct det *d, char **dst, const char *s)
{
	char *p;

	if (!s)
		return;
	p = dupn(s, strlen(s));
	if (!p) {
		d->oom = 1;
		return;
	}
	free(*dst);
	*dst = p;
}

static void put_n(struct det *d, char **dst, const char *s, size_t n)
{
	char *p = dupn(s, n);

	if (!p) {
		d->oom = 1;
		return;
	}
	free(*dst);
	*dst = p;
}

/* Only when *dst is still unset. */
static void fill(struct det *d, char **dst, const char *s)
{
	if (!*dst)
		put(d, dst, s);
}

static void putf(struct det *d, char **dst, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void putf(struct det *d, char **dst, const char *fmt, ...)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	va_list ap;
	char *p;

	va_start(ap, fmt);
	prenv_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (b.failed) {
		d->oom = 1;
		prenv_buf_free(&b);
		return;
	}
	p = prenv_buf_detach(&b, NULL);
	if (!p) {
		d->oom = 1;
		return;
	}
	free(*dst);
	*dst = p;
}

static void clear(char **dst)
{
	free(*dst);
	*dst = NULL;
}

const char *ci_getenv(const char *const *envp, const char *name)
{
	size_t n;

	if (!envp || !name)
		return NULL;
	n = strlen(name);
	for (; *envp; envp++) {
		if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
			return (*envp)[n + 1] ? *envp + n + 1 : NULL;
	}
	return NULL;
}

static const char *env(const struct det *d, const char *name)
{
	return ci_getenv(d->envp, name);
}

static int streq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

static int starts(const char *s, const char *prefix)
{
	return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Digits only, 1..15 of them, value > 0. */
static int parse_pos_long(const char *s, long *out)
{
	long v = 0;
	size_t i;

	if (!s || !*s)
		return -1;
	for (i = 0; s[i]; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 15)
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v <= 0)
		return -1;
	*out = v;
	return 0;
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

static int is_zero_sha(const char *s)
{
	if (!s || !*s)
		return 0;
	for (; *s; s++)
		if (*s != '0')
			return 0;
	return 1;
}

static int has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

/* Strips trailing slashes of a URL in place. */
static void rstrip_slash(char *s)
{
	size_t n;

	if (!s)
		return;
	n = strlen(s);
	while (n > 0 && s[n - 1] == '/')
		s[--n] = '\0';
}

/* ------------------------------------------------------------------ */
/* URL parsing                                                         */

void ci_url_info_clear(struct ci_url_info *u)
{
	if (!u)
		return;
	free(u->host);
	free(u->hostname);
	free(u->server_url);
	free(u->api_url);
	free(u->owner);
	free(u->name);
	free(u->repo_url);
	memset(u, 0, sizeof(*u));
}

/* Characters allowed in an owner/name path segment. */
static int seg_char_ok(char ch)
{
	return isalnum((unsigned char)ch) || ch == '-' || ch == '_' || ch == '.' ||
	       ch == '~' || ch == '+' || ch == '@';
}

/* Checks "a/b/c": non-empty segments of allowed characters, no "." or "..". */
static int path_ok(const char *s, size_t n)
{
	size_t i, seg = 0;

	if (n == 0)
		return 0;
	for (i = 0; i <= n; i++) {
		if (i == n || s[i] == '/') {
			size_t len = i - seg;

			if (len == 0)
				return 0;
			if (s[seg] == '.' && (len == 1 || (len == 2 && s[seg + 1] == '.')))
				return 0;
			seg = i + 1;
		} else if (!seg_char_ok(s[i])) {
			return 0;
		}
	}
	return 1;
}

/* The code host kind and API base for a web server, guessed from the name. */
static void guess_host(struct det *d, struct ci_url_info *u, const char *hostname)
{
	const char *kind = NULL;

	if (streq(hostname, "github.com")) {
		put(d, &u->host, "github");
		put(d, &u->api_url, "https://api.github.com");
		return;
	}
	if (streq(hostname, "bitbucket.org")) {
		put(d, &u->host, "bitbucket");
		put(d, &u->api_url, "https://api.bitbucket.org/2.0");
		return;
	}
	if (strstr(hostname, "github"))
		kind = "github";
	else if (strstr(hostname, "gitlab"))
		kind = "gitlab";
	else if (strstr(hostname, "bitbucket"))
		kind = "bitbucket";
	else if (strstr(hostname, "gitea") || strstr(hostname, "forgejo") ||
		 streq(hostname, "codeberg.org"))
		kind = "gitea";
	if (!kind)
		return;
	put(d, &u->host, kind);
	if (streq(kind, "github"))
		putf(d, &u->api_url, "%s/api/v3", u->server_url);
	else if (streq(kind, "gitlab"))
		putf(d, &u->api_url, "%s/api/v4", u->server_url);
	else if (streq(kind, "bitbucket"))
		putf(d, &u->api_url, "%s/rest/api/1.0", u->server_url);
	else
		putf(d, &u->api_url, "%s/api/v1", u->server_url);
}

/* Splits url into scheme (may be NULL for scp-like), host[:port] (lower
 * case, credentials dropped) and path (without leading '/', query,
 * fragment, trailing '/'). */
struct url_parts {
	char scheme[16];
	char *hostport;  /* owned */
	char *path;      /* owned */
	int has_port;
};

static int split_url(struct det *d, struct url_parts *p, const char *url)
{
	const char *auth, *auth_end, *at, *path, *q, *colon;
	size_t n, i;

	memset(p, 0, sizeof(*p));
	colon = strstr(url, "://");
	if (colon) {
		n = (size_t)(colon - url);
		if (n == 0 || n >= sizeof(p->scheme))
			return -1;
		for (i = 0; i < n; i++) {
			if (!isalpha((unsigned char)url[i]) && url[i] != '+')
				return -1;
			p->scheme[i] = (char)tolower((unsigned char)url[i]);
		}
		p->scheme[n] = '\0';
		auth = colon + 3;
		auth_end = auth + strcspn(auth, "/?#");
		path = *auth_end == '/' ? auth_end + 1 : auth_end;
	} else {
		/* scp-like [user@]host:path; a '/' before the ':' means a local path */
		colon = strchr(url, ':');
		if (!colon || memchr(url, '/', (size_t)(colon - url)))
			return -1;
		auth = url;
		auth_end = colon;
		path = colon + 1;
		while (*path == '/')
			path++;
	}
	/* drop user[:password]@ */
	for (at = auth_end; at > auth && at[-1] != '@'; at--)
		;
	if (at > auth)
		auth = at;
	if (auth_end == auth)
		return -1;
	for (q = auth; q < auth_end; q++)
		if (!isalnum((unsigned char)*q) && *q != '.' && *q != '-' &&
		    *q != ':' && *q != '[' && *q != ']' && *q != '_')
			return -1;
	put_n(d, &p->hostport, auth, (size_t)(auth_end - auth));
	if (d->oom)
		return -1;
	for (i = 0; p->hostport[i]; i++)
		p->hostport[i] = (char)tolower((unsigned char)p->hostport[i]);
	p->has_port = strchr(p->hostport, ':') != NULL && p->hostport[0] != '[';
	n = strcspn(path, "?#");
	while (n > 0 && path[n - 1] == '/')
		n--;
	put_n(d, &p->path, path, n);
	return d->oom ? -1 : 0;
}

static void url_parts_clear(struct url_parts *p)
{
	free(p->hostport);
	free(p->path);
	memset(p, 0, sizeof(*p));
}

/* owner = all segments but the last, name = the last one. */
static int set_owner_name(struct det *d, struct ci_url_info *u, const char *path,
			  size_t n)
{
	const char *slash;

	if (!path_ok(path, n))
		return -1;
	slash = NULL;
	for (size_t i = 0; i < n; i++)
		if (path[i] == '/')
			slash = path + i;
	if (!slash)
		return -1;
	put_n(d, &u->owner, path, (size_t)(slash - path));
	put_n(d, &u->name, slash + 1, n - (size_t)(slash - path) - 1);
	return 0;
}

static int remote_url(struct det *d, struct ci_url_info *u, const char *url)
{
	struct url_parts p = { 0 };
	const char *web_scheme;
	char *host_only = NULL;
	size_t n;
	int ret = -1;

	memset(u, 0, sizeof(*u));
	if (!url || has_ctl(url) || split_url(d, &p, url) < 0) {
		url_parts_clear(&p);
		return -1;
	}
	if (p.scheme[0] && strcmp(p.scheme, "https") && strcmp(p.scheme, "http") &&
	    strcmp(p.scheme, "ssh") && strcmp(p.scheme, "git") &&
	    strcmp(p.scheme, "git+ssh") && strcmp(p.scheme, "ssh+git"))
		goto done;
	n = strlen(p.path);
	if (n > 4 && strcmp(p.path + n - 4, ".git") == 0)
		n -= 4;
	if (set_owner_name(d, u, p.path, n) < 0)
		goto done;
	/* Web URLs keep their scheme and port; ssh/git remotes map to https on
	 * the same host (the ssh port says nothing about the web port). */
	if (streq(p.scheme, "http") || streq(p.scheme, "https")) {
		web_scheme = p.scheme;
		put(d, &u->hostname, p.hostport);
	} else {
		web_scheme = "https";
		host_only = p.hostport[0] == '[' ? NULL : strchr(p.hostport, ':');
		put_n(d, &u->hostname, p.hostport,
		      host_only ? (size_t)(host_only - p.hostport) : strlen(p.hostport));
	}
	if (d->oom)
		goto done;
	putf(d, &u->server_url, "%s://%s", web_scheme, u->hostname);
	putf(d, &u->repo_url, "%s/%s/%s", u->server_url, u->owner, u->name);
	if (d->oom)
		goto done;
	guess_host(d, u, u->hostname);
	ret = d->oom ? -1 : 0;
done:
	url_parts_clear(&p);
	if (ret < 0)
		ci_url_info_clear(u);
	return ret;
}

int ci_parse_remote_url(struct ci_url_info *out, const char *url,
			struct prenv_err *err)
{
	struct det d = { 0 };

	if (remote_url(&d, out, url) < 0) {
		if (d.oom)
			return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
		return prenv_err_set(err, PRENV_ECONFIG,
				     "cannot parse repository URL \"%s\": expected "
				     "https://host/owner/name, ssh://host/owner/name "
				     "or user@host:owner/name", url ? url : "");
	}
	return 0;
}

/* Finds the segment "marker" in path (segments separated by '/'), followed
 * by exactly one more segment (the number). Returns the offset of the
 * marker or -1. */
static long find_marker(const char *path, const char *marker, const char **num)
{
	size_t m = strlen(marker);
	const char *s = path;

	for (;;) {
		if (strncmp(s, marker, m) == 0 && s[m] == '/' &&
		    (s == path || s[-1] == '/') && !strchr(s + m + 1, '/')) {
			*num = s + m + 1;
			return (long)(s - path);
		}
		s = strchr(s, '/');
		if (!s)
			return -1;
		s++;
	}
}

static int change_url(struct det *d, struct ci_url_info *u, const char *url)
{
	struct url_parts p = { 0 };
	const char *num = NULL, *repo;
	long off, n;
	int ret = -1;

	memset(u, 0, sizeof(*u));
	if (!url || has_ctl(url) || split_url(d, &p, url) < 0) {
		url_parts_clear(&p);
		return -1;
	}
	if (!streq(p.scheme, "https") && !streq(p.scheme, "http"))
		goto done;
	put(d, &u->hostname, p.hostport);
	putf(d, &u->server_url, "%s://%s", p.scheme, p.hostport);
	if (d->oom)
		goto done;
	repo = p.path;
	if ((off = find_marker(p.path, "merge_requests", &num)) > 2 &&
	    strncmp(p.path + off - 2, "-/", 2) == 0) {
		put(d, &u->host, "gitlab");
		putf(d, &u->api_url, "%s/api/v4", u->server_url);
		n = off - 3;
	} else if ((off = find_marker(p.path, "pull-requests", &num)) > 0) {
		put(d, &u->host, "bitbucket");
		n = off - 1;
		if (streq(u->hostname, "bitbucket.org")) {
			put(d, &u->api_url, "https://api.bitbucket.org/2.0");
		} else {
			/* Bitbucket Server: projects/<KEY>/repos/<slug>/pull-requests/N */
			putf(d, &u->api_url, "%s/rest/api/1.0", u->server_url);
			if (starts(p.path, "projects/")) {
				const char *r = strstr(p.path + 9, "/repos/");
				long slug_len;

				if (!r || r - p.path >= off)
					goto done;
				/* an empty slug (".../repos/pull-requests/N") is
				 * not a repository */
				slug_len = off - 1 - (long)(r + 7 - p.path);
				if (slug_len <= 0)
					goto done;
				if (!path_ok(p.path + 9, (size_t)(r - p.path - 9)) ||
				    memchr(p.path + 9, '/', (size_t)(r - p.path - 9)))
					goto done;
				put_n(d, &u->owner, p.path + 9, (size_t)(r - p.path - 9));
				put_n(d, &u->name, r + 7, (size_t)slug_len);
				if (!path_ok(r + 7, (size_t)slug_len) || d->oom)
					goto done;
				putf(d, &u->repo_url, "%s/projects/%s/repos/%s",
				     u->server_url, u->owner, u->name);
			}
		}
	} else if ((off = find_marker(p.path, "pulls", &num)) > 0) {
		put(d, &u->host, "gitea");
		putf(d, &u->api_url, "%s/api/v1", u->server_url);
		n = off - 1;
	} else if ((off = find_marker(p.path, "pull", &num)) > 0) {
		put(d, &u->host, "github");
		if (streq(u->hostname, "github.com"))
			put(d, &u->api_url, "https://api.github.com");
		else
			putf(d, &u->api_url, "%s/api/v3", u->server_url);
		n = off - 1;
	} else {
		goto done;
	}
	if (d->oom || parse_pos_long(num, &u->number) < 0)
		goto done;
	if (!u->owner) {
		if (n <= 0 || set_owner_name(d, u, repo, (size_t)n) < 0)
			goto done;
		putf(d, &u->repo_url, "%s/%s/%s", u->server_url, u->owner, u->name);
	}
	ret = d->oom ? -1 : 0;
done:
	url_parts_clear(&p);
	if (ret < 0)
		ci_url_info_clear(u);
	return ret;
}

int ci_parse_change_url(struct ci_url_info *out, const char *url,
			struct prenv_err *err)
{
	struct det d = { 0 };

	if (change_url(&d, out, url) < 0) {
		if (d.oom)
			return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
		return prenv_err_set(err, PRENV_ECONFIG,
				     "cannot parse change URL \"%s\": expected a "
				     "GitHub, GitLab, Bitbucket or Gitea pull/merge "
				     "request URL", url ? url : "");
	}
	return 0;
}

/* Copies what a parsed URL says into the context; force: replace. */
static void apply_url_info(struct det *d, const struct ci_url_info *u, int force)
{
	struct prenv_context *c = d->c;
	void (*set)(struct det *, char **, const char *) = force ? put : fill;

	set(d, &c->host, u->host);
	set(d, &c->server_url, u->server_url);
	set(d, &c->api_url, u->api_url);
	if (force || !c->repo_full_name) {
		set(d, &c->repo_owner, u->owner);
		set(d, &c->repo_name, u->name);
		if (u->owner && u->name)
			putf(d, &c->repo_full_name, "%s/%s", u->owner, u->name);
	}
	set(d, &c->repo_url, u->repo_url);
}

/* ------------------------------------------------------------------ */
/* GitHub Actions                                                      */

/* Object member by dotted path ("head.repo.full_name"). */
static const cJSON *jget(const cJSON *o, const char *path)
{
	char key[64];

	while (o && *path) {
		size_t n = strcspn(path, ".");

		if (n >= sizeof(key))
			return NULL;
		memcpy(key, path, n);
		key[n] = '\0';
		o = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
		path += n;
		if (*path == '.')
			path++;
	}
	return o;
}

static const char *jstr(const cJSON *o, const char *path)
{
	const cJSON *v = jget(o, path);

	return cJSON_IsString(v) && v->valuestring && v->valuestring[0] ?
	       v->valuestring : NULL;
}

static long jnum(const cJSON *o, const char *path)
{
	const cJSON *v = jget(o, path);

	if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 1e15 ||
	    v->valuedouble != (double)(long)v->valuedouble)
		return 0;
	return (long)v->valuedouble;
}

/* refs/heads/x -> branch x; refs/tags/x -> tag x; anything else: ignored. */
static void set_ref(struct det *d, const char *ref)
{
	struct prenv_context *c = d->c;

	if (starts(ref, "refs/heads/") && ref[11])
		put(d, &c->branch, ref + 11);
	else if (starts(ref, "refs/tags/") && ref[10])
		put(d, &c->tag, ref + 10);
}

/* Fills the PR fields from a pull_request object of the event payload. */
static void github_pr(struct det *d, const cJSON *pr, const cJSON *root)
{
	struct prenv_context *c = d->c;
	const char *head_repo = jstr(pr, "head.repo.full_name");
	const char *base_repo = jstr(pr, "base.repo.full_name");
	const char *state = jstr(pr, "state");
	const cJSON *merged = jget(pr, "merged");
	const cJSON *merged_at = jget(pr, "merged_at");

	c->has_pr = 1;
	c->pr_number = jnum(pr, "number");
	if (!c->pr_number)
		c->pr_number = jnum(root, "number");
	put(d, &c->pr_title, jstr(pr, "title"));
	put(d, &c->pr_author, jstr(pr, "user.login"));
	put(d, &c->pr_url, jstr(pr, "html_url"));
	if (cJSON_IsTrue(merged) || (cJSON_IsString(merged_at) && !merged))
		put(d, &c->pr_state, "merged");
	else if (streq(state, "closed"))
		put(d, &c->pr_state, "closed");
	else if (state)
		put(d, &c->pr_state, "open");
	put(d, &c->branch, jstr(pr, "head.ref"));
	put(d, &c->base_branch, jstr(pr, "base.ref"));
	/* The PR's head commit. GITHUB_SHA is the test merge commit on
	 * pull_request and the base branch tip on pull_request_target. */
	put(d, &c->sha, jstr(pr, "head.sha"));
	put(d, &c->head_repo_full_name, head_repo);
	/* head.repo is null when the fork was deleted: still a fork. */
	if (!base_repo)
		base_repo = jstr(root, "repository.full_name");
	c->pr_fork = !head_repo || (base_repo && strcmp(head_repo, base_repo) != 0);
}

/* workflow_run: the run that triggered this one. pull_requests lists the
 * PRs whose head matches the run, but GitHub leaves it EMPTY for runs
 * triggered from forks. Then there is no PR here (has_pr 0) but branch and
 * sha come from head_branch/head_sha and pr_fork is 1; the report module
 * resolves the PR through the API (head_repo_full_name + head sha). */
static void github_workflow_run(struct det *d, const cJSON *root)
{
	struct prenv_context *c = d->c;
	const cJSON *wr = jget(root, "workflow_run");
	const cJSON *prs = jget(wr, "pull_requests");
	const char *head_repo = jstr(wr, "head_repository.full_name");
	const char *base_repo = jstr(wr, "repository.full_name");

	if (!base_repo)
		base_repo = jstr(root, "repository.full_name");
	put(d, &c->trigger_event, jstr(wr, "event"));
	put(d, &c->branch, jstr(wr, "head_branch"));
	put(d, &c->sha, jstr(wr, "head_sha"));
	put(d, &c->head_repo_full_name, head_repo);
	c->pr_fork = head_repo && base_repo && strcmp(head_repo, base_repo) != 0;
	if (cJSON_IsArray(prs) && cJSON_GetArraySize(prs) > 0) {
		const cJSON *pr = cJSON_GetArrayItem(prs, 0);
		long num = jnum(pr, "number");

		if (num > 0) {
			c->has_pr = 1;
			c->pr_number = num;
			fill(d, &c->branch, jstr(pr, "head.ref"));
			put(d, &c->base_branch, jstr(pr, "base.ref"));
			/* pr_state stays unknown: the payload does not say. */
		}
	}
	d->no_git_ref = 1; /* the checkout is the default branch */
}

/* issue_comment on a pull request: the PR is known, its branch is not. */
static void github_issue_comment(struct det *d, const cJSON *root)
{
	struct prenv_context *c = d->c;
	const cJSON *issue = jget(root, "issue");

	d->no_git_ref = 1;
	if (!cJSON_IsObject(jget(issue, "pull_request")))
		return;
	c->has_pr = 1;
	c->pr_number = jnum(issue, "number");
	put(d, &c->pr_title, jstr(issue, "title"));
	put(d, &c->pr_author, jstr(issue, "user.login"));
	put(d, &c->pr_url, jstr(issue, "pull_request.html_url"));
	if (jstr(issue, "pull_request.merged_at"))
		put(d, &c->pr_state, "merged");
	else if (streq(jstr(issue, "state"), "closed"))
		put(d, &c->pr_state, "closed");
	else
		put(d, &c->pr_state, "open");
}

static int github_event_file(const char *path, cJSON **out,
			     struct prenv_err *err)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	const char *at;
	cJSON *root;

	*out = NULL;
	if (prenv_buf_read_file(&b, path) < 0) {
		int e = errno;

		prenv_buf_free(&b);
		return prenv_err_set_at(err, PRENV_ECONFIG, path, 0, 0,
					"cannot read the GitHub event file %s "
					"(GITHUB_EVENT_PATH): %s", path, strerror(e));
	}
	root = cJSON_ParseWithLength(b.ptr, b.len);
	if (!root || !cJSON_IsObject(root)) {
		at = root ? NULL : cJSON_GetErrorPtr();
		if (at && at >= b.ptr && at <= b.ptr + b.len)
			prenv_err_set_at(err, PRENV_ECONFIG, path, 0, 0,
					 "the GitHub event file %s (GITHUB_EVENT_PATH) "
					 "is not valid JSON (error near byte %ld)",
					 path, (long)(at - b.ptr));
		else
			prenv_err_set_at(err, PRENV_ECONFIG, path, 0, 0,
					 "the GitHub event file %s (GITHUB_EVENT_PATH) "
					 "is not a JSON object", path);
		cJSON_Delete(root);
		prenv_buf_free(&b);
		return PRENV_ECONFIG;
	}
	prenv_buf_free(&b);
	*out = root;
	return 0;
}

static int detect_github(struct det *d, struct prenv_err *err)
{
	struct prenv_context *c = d->c;
	const char *event = env(d, "GITHUB_EVENT_NAME");
	const char *path = env(d, "GITHUB_EVENT_PATH");
	const char *repo = env(d, "GITHUB_REPOSITORY");
	const char *server = env(d, "GITHUB_SERVER_URL");
	const char *api = env(d, "GITHUB_API_URL");
	const char *run_id = env(d, "GITHUB_RUN_ID");
	const char *attempt = env(d, "GITHUB_RUN_ATTEMPT");
	const char *ref = env(d, "GITHUB_REF");
	int is_pr_event, use_env_ref = 1;
	cJSON *root = NULL;
	long n;
	int rc;

	put(d, &c->ci, "github");
	put(d, &c->host, "github");
	put(d, &c->event, event);
	put(d, &c->server_url, server ? server : "https://github.com");
	rstrip_slash(c->server_url);
	if (api)
		put(d, &c->api_url, api);
	else if (streq(c->server_url, "https://github.com"))
		put(d, &c->api_url, "https://api.github.com");
	else if (c->server_url)
		putf(d, &c->api_url, "%s/api/v3", c->server_url);
	rstrip_slash(c->api_url);
	put(d, &c->repo_full_name, repo);
	put(d, &c->run_id, run_id);

	is_pr_event = streq(event, "pull_request") ||
		      streq(event, "pull_request_target") ||
		      streq(event, "pull_request_review") ||
		      streq(event, "pull_request_review_comment");

	if (path) {
		rc = github_event_file(path, &root, err);
		if (rc < 0)
			return rc;
		put(d, &c->action, jstr(root, "action"));
		fill(d, &c->repo_full_name, jstr(root, "repository.full_name"));
		if (is_pr_event && cJSON_IsObject(jget(root, "pull_request"))) {
			github_pr(d, jget(root, "pull_request"), root);
			use_env_ref = 0;
		} else if (streq(event, "push")) {
			set_ref(d, jstr(root, "ref"));
			if (cJSON_IsTrue(jget(root, "deleted")) ||
			    is_zero_sha(jstr(root, "after"))) {
				c->ref_deleted = 1;
				d->no_git_ref = 1;
			} else {
				put(d, &c->sha, jstr(root, "after"));
			}
			if (c->branch || c->tag || c->ref_deleted)
				use_env_ref = 0;
		} else if (streq(event, "delete")) {
			/* GITHUB_REF/GITHUB_SHA are the default branch here; the
			 * deleted ref is the one to act on. */
			const char *name = jstr(root, "ref");

			if (streq(jstr(root, "ref_type"), "tag"))
				put(d, &c->tag, name);
			else
				put(d, &c->branch, name);
			c->ref_deleted = 1;
			d->no_git_ref = 1;
			use_env_ref = 0;
		} else if (streq(event, "create")) {
			const char *name = jstr(root, "ref");

			if (streq(jstr(root, "ref_type"), "tag"))
				put(d, &c->tag, name);
			else
				put(d, &c->branch, name);
		} else if (streq(event, "workflow_run")) {
			github_workflow_run(d, root);
			use_env_ref = 0;
		} else if (streq(event, "workflow_dispatch")) {
			set_ref(d, jstr(root, "ref"));
		} else if (streq(event, "issue_comment")) {
			github_issue_comment(d, root);
			use_env_ref = 0;
		}
	} else if (streq(event, "delete") || streq(event, "workflow_run") ||
		   streq(event, "issue_comment")) {
		use_env_ref = 0; /* GITHUB_REF is the default branch */
		d->no_git_ref = 1;
	}

	if (use_env_ref) {
		/* No (usable) payload: the variables. On pull_request events
		 * GITHUB_REF is refs/pull/<n>/merge and GITHUB_SHA the merge
		 * commit, the best there is without the payload. */
		if (is_pr_event || env(d, "GITHUB_HEAD_REF")) {
			fill(d, &c->branch, env(d, "GITHUB_HEAD_REF"));
			fill(d, &c->base_branch, env(d, "GITHUB_BASE_REF"));
			if (!c->has_pr && starts(ref, "refs/pull/")) {
				char num[24];
				size_t len = strcspn(ref + 10, "/");

				if (len < sizeof(num)) {
					memcpy(num, ref + 10, len);
					num[len] = '\0';
					if (parse_pos_long(num, &n) == 0) {
						c->has_pr = 1;
						c->pr_number = n;
					}
				}
			}
		} else if (!c->branch && !c->tag) {
			set_ref(d, ref);
			if (!c->branch && !c->tag && starts(ref, "refs/heads/") == 0 &&
			    env(d, "GITHUB_REF_TYPE") && env(d, "GITHUB_REF_NAME")) {
				if (streq(env(d, "GITHUB_REF_TYPE"), "tag"))
					put(d, &c->tag, env(d, "GITHUB_REF_NAME"));
				else
					put(d, &c->branch, env(d, "GITHUB_REF_NAME"));
			}
		}
		if (!c->ref_deleted)
			fill(d, &c->sha, env(d, "GITHUB_SHA"));
	}

	if (c->repo_full_name && c->server_url) {
		putf(d, &c->repo_url, "%s/%s", c->server_url, c->repo_full_name);
		if (run_id) {
			if (attempt && parse_pos_long(attempt, &n) == 0 && n > 1)
				putf(d, &c->run_url, "%s/%s/actions/runs/%s/attempts/%ld",
				     c->server_url, c->repo_full_name, run_id, n);
			else
				putf(d, &c->run_url, "%s/%s/actions/runs/%s",
				     c->server_url, c->repo_full_name, run_id);
		}
	}
	cJSON_Delete(root);
	return 0;
}

/* ------------------------------------------------------------------ */
/* GitLab CI                                                           */

static int detect_gitlab(struct det *d)
{
	struct prenv_context *c = d->c;
	const char *iid = env(d, "CI_MERGE_REQUEST_IID");
	const char *ext = env(d, "CI_EXTERNAL_PULL_REQUEST_IID");
	long n;

	put(d, &c->ci, "gitlab");
	put(d, &c->host, "gitlab");
	put(d, &c->event, env(d, "CI_PIPELINE_SOURCE"));
	put(d, &c->server_url, env(d, "CI_SERVER_URL"));
	put(d, &c->api_url, env(d, "CI_API_V4_URL"));
	if (!c->api_url && c->server_url)
		putf(d, &c->api_url, "%s/api/v4", c->server_url);
	put(d, &c->repo_owner, env(d, "CI_PROJECT_NAMESPACE"));
	put(d, &c->repo_name, env(d, "CI_PROJECT_NAME"));
	put(d, &c->repo_full_name, env(d, "CI_PROJECT_PATH"));
	put(d, &c->repo_url, env(d, "CI_PROJECT_URL"));
	put(d, &c->project_id, env(d, "CI_PROJECT_ID"));
	put(d, &c->run_id, env(d, "CI_PIPELINE_ID"));
	put(d, &c->run_url, env(d, "CI_JOB_URL"));
	fill(d, &c->run_url, env(d, "CI_PIPELINE_URL"));
	put(d, &c->sha, env(d, "CI_COMMIT_SHA"));

	if (iid && parse_pos_long(iid, &n) == 0) {
		const char *src = env(d, "CI_MERGE_REQUEST_SOURCE_PROJECT_PATH");
		const char *dst = env(d, "CI_MERGE_REQUEST_PROJECT_PATH");
		const char *mr_project = env(d, "CI_MERGE_REQUEST_PROJECT_URL");

		if (!dst)
			dst = env(d, "CI_PROJECT_PATH");
		c->has_pr = 1;
		c->pr_number = n;
		put(d, &c->branch, env(d, "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME"));
		put(d, &c->base_branch, env(d, "CI_MERGE_REQUEST_TARGET_BRANCH_NAME"));
		put(d, &c->pr_title, env(d, "CI_MERGE_REQUEST_TITLE"));
		/* GitLab has no variable for the MR author; GITLAB_USER_LOGIN is
		 * who started the pipeline (the author for pushes to the MR). */
		put(d, &c->pr_author, env(d, "GITLAB_USER_LOGIN"));
		if (!mr_project)
			mr_project = env(d, "CI_PROJECT_URL");
		if (mr_project)
			putf(d, &c->pr_url, "%s/-/merge_requests/%ld", mr_project, n);
		/* MR pipelines run for open merge requests. */
		put(d, &c->pr_state, "open");
		put(d, &c->head_repo_full_name, src);
		c->pr_fork = src && dst && strcmp(src, dst) != 0;
		/* Merged-results pipelines build a merge commit (CI_COMMIT_SHA);
		 * the MR's own head is CI_MERGE_REQUEST_SOURCE_BRANCH_SHA. */
		put(d, &c->sha, env(d, "CI_MERGE_REQUEST_SOURCE_BRANCH_SHA"));
	} else if (ext && parse_pos_long(ext, &n) == 0) {
		/* External (GitHub) pull request pipelines. */
		const char *src = env(d, "CI_EXTERNAL_PULL_REQUEST_SOURCE_REPOSITORY");
		const char *dst = env(d, "CI_EXTERNAL_PULL_REQUEST_TARGET_REPOSITORY");

		c->has_pr = 1;
		c->pr_number = n;
		put(d, &c->branch, env(d, "CI_EXTERNAL_PULL_REQUEST_SOURCE_BRANCH_NAME"));
		put(d, &c->base_branch, env(d, "CI_EXTERNAL_PULL_REQUEST_TARGET_BRANCH_NAME"));
		put(d, &c->sha, env(d, "CI_EXTERNAL_PULL_REQUEST_SOURCE_BRANCH_SHA"));
		put(d, &c->pr_state, "open");
		put(d, &c->head_repo_full_name, src);
		c->pr_fork = src && dst && strcmp(src, dst) != 0;
	} else if (env(d, "CI_COMMIT_TAG")) {
		put(d, &c->tag, env(d, "CI_COMMIT_TAG"));
	} else {
		put(d, &c->branch, env(d, "CI_COMMIT_BRANCH"));
		fill(d, &c->branch, env(d, "CI_COMMIT_REF_NAME"));
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Jenkins (multibranch: branch-api plugin; git plugin for GIT_*)      */

static int detect_jenkins(struct det *d)
{
	struct prenv_context *c = d->c;
	const char *change_id = env(d, "CHANGE_ID");
	const char *chg_url = env(d, "CHANGE_URL");
	const char *git_url = env(d, "GIT_URL");
	const char *git_branch = env(d, "GIT_BRANCH");
	struct ci_url_info u;
	long n;

	put(d, &c->ci, "jenkins");
	put(d, &c->run_url, env(d, "BUILD_URL"));
	put(d, &c->run_id, env(d, "BUILD_NUMBER"));
	put(d, &c->sha, env(d, "GIT_COMMIT"));

	/* Jenkins has no event; name the kind of build. */
	if (change_id && parse_pos_long(change_id, &n) == 0) {
		put(d, &c->event, "pull_request");
		c->has_pr = 1;
		c->pr_number = n;
		put(d, &c->branch, env(d, "CHANGE_BRANCH"));
		put(d, &c->base_branch, env(d, "CHANGE_TARGET"));
		put(d, &c->pr_title, env(d, "CHANGE_TITLE"));
		put(d, &c->pr_author, env(d, "CHANGE_AUTHOR"));
		put(d, &c->pr_url, chg_url);
		/* Jenkins builds change requests while they are open. */
		put(d, &c->pr_state, "open");
		c->pr_fork = env(d, "CHANGE_FORK") != NULL;
		if (c->pr_fork)
			put(d, &c->head_repo_full_name, env(d, "CHANGE_FORK"));
		if (chg_url && change_url(d, &u, chg_url) == 0) {
			apply_url_info(d, &u, 1);
			ci_url_info_clear(&u);
		}
	} else if (env(d, "TAG_NAME")) {
		put(d, &c->event, "tag");
		put(d, &c->tag, env(d, "TAG_NAME"));
	} else {
		/* A non-numeric CHANGE_ID (some SCMs) is not a PR number; the
		 * build is then treated like a branch build of BRANCH_NAME. */
		put(d, &c->event, "push");
		put(d, &c->branch, env(d, "BRANCH_NAME"));
		/* Freestyle jobs: the git plugin's GIT_BRANCH is "origin/x". */
		if (!c->branch && git_branch)
			put(d, &c->branch, starts(git_branch, "origin/") ?
			    git_branch + 7 : git_branch);
	}
	if (git_url && remote_url(d, &u, git_url) == 0) {
		apply_url_info(d, &u, 0);
		ci_url_info_clear(&u);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* The checkout (anything still missing)                               */

static int fill_from_git(struct det *d, const char *repo_dir, struct prenv_err *err)
{
	struct prenv_context *c = d->c;
	struct git_repo_info *gi = NULL;
	struct prenv_err gerr = PRENV_ERR_INIT;
	struct ci_url_info u;
	/* Overrides are applied after this; a field an override will set does
	 * not need the checkout (opening it costs ~15 ms of libgit2 start-up,
	 * most of it loading the system's CA certificates). */
	int have_ref = (c->branch || c->tag || env(d, "PRENV_BRANCH")) &&
		       (c->sha || env(d, "PRENV_SHA"));
	int need_ref = !d->no_git_ref && !c->ref_deleted && !have_ref;
	int rc;

	if (!need_ref && (c->repo_full_name || env(d, "PRENV_REPO")))
		return 0;
	rc = git_repo_info(&gi, repo_dir, &gerr);
	if (rc == PRENV_ENOMEM) {
		prenv_err_clear(&gerr);
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	}
	/* Not a checkout, or one libgit2 cannot read: detection goes on with
	 * what the variables said. */
	prenv_err_clear(&gerr);
	if (rc < 0)
		return 0;
	if (need_ref) {
		if (!c->branch && !c->tag)
			put(d, &c->branch, gi->branch); /* NULL when detached */
		fill(d, &c->sha, gi->sha);
	}
	if (!c->repo_full_name && gi->origin_url &&
	    remote_url(d, &u, gi->origin_url) == 0) {
		apply_url_info(d, &u, 0);
		ci_url_info_clear(&u);
	}
	git_repo_info_free(gi);
	return 0;
}

/* ------------------------------------------------------------------ */
/* PRENV_* overrides                                                   */

static int token_ok(const char *s)
{
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
			return 0;
	return 1;
}

static int http_url_ok(const char *s)
{
	return (starts(s, "https://") || starts(s, "http://")) && !has_ctl(s) &&
	       !strchr(s, ' ');
}

/* Splits "owner/name" (owner may contain '/') into the context. */
static void set_full_name(struct det *d, const char *full)
{
	struct prenv_context *c = d->c;
	const char *slash = strrchr(full, '/');

	put(d, &c->repo_full_name, full);
	if (!slash)
		return;
	put_n(d, &c->repo_owner, full, (size_t)(slash - full));
	put(d, &c->repo_name, slash + 1);
}

static int bad(struct prenv_err *err, const char *var, const char *what)
{
	return prenv_err_set(err, PRENV_ECONFIG, "%s: %s", var, what);
}

static int apply_overrides(struct det *d, struct prenv_err *err)
{
	struct prenv_context *c = d->c;
	const char *v;
	struct ci_url_info u;
	long n;
	size_t i;
	/* Plain text overrides: no control characters. */
	static const struct { const char *var; size_t off; } text[] = {
		{ "PRENV_BRANCH", offsetof(struct prenv_context, branch) },
		{ "PRENV_BASE_BRANCH", offsetof(struct prenv_context, base_branch) },
		{ "PRENV_PR_TITLE", offsetof(struct prenv_context, pr_title) },
		{ "PRENV_PR_AUTHOR", offsetof(struct prenv_context, pr_author) },
		{ "PRENV_PROJECT_ID", offsetof(struct prenv_context, project_id) },
		{ "PRENV_RUN_ID", offsetof(struct prenv_context, run_id) },
	};
	static const struct { const char *var; size_t off; } urls[] = {
		{ "PRENV_SERVER_URL", offsetof(struct prenv_context, server_url) },
		{ "PRENV_API_URL", offsetof(struct prenv_context, api_url) },
		{ "PRENV_PR_URL", offsetof(struct prenv_context, pr_url) },
		{ "PRENV_RUN_URL", offsetof(struct prenv_context, run_url) },
	};

	if ((v = env(d, "PRENV_EVENT"))) {
		if (!token_ok(v))
			return bad(err, "PRENV_EVENT", "expected a word like \"push\" or \"pull_request\"");
		put(d, &c->event, v);
	}
	if ((v = env(d, "PRENV_ACTION"))) {
		if (!token_ok(v))
			return bad(err, "PRENV_ACTION", "expected a word like \"opened\"");
		put(d, &c->action, v);
	}
	if ((v = env(d, "PRENV_HOST"))) {
		if (!streq(v, "github") && !streq(v, "gitlab") &&
		    !streq(v, "bitbucket") && !streq(v, "gitea"))
			return bad(err, "PRENV_HOST", "expected github, gitlab, bitbucket or gitea");
		put(d, &c->host, v);
	}
	if ((v = env(d, "PRENV_REPO_URL"))) {
		if (remote_url(d, &u, v) < 0) {
			if (d->oom)
				return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
			return bad(err, "PRENV_REPO_URL",
				   "expected a repository URL like https://host/owner/name");
		}
		/* the URL's own host wins over the detected one */
		if (!env(d, "PRENV_HOST"))
			put(d, &c->host, u.host);
		apply_url_info(d, &u, 1);
		ci_url_info_clear(&u);
	}
	if ((v = env(d, "PRENV_REPO"))) {
		const char *slash = strrchr(v, '/');

		if (!slash || slash == v || !slash[1] || !path_ok(v, strlen(v)))
			return bad(err, "PRENV_REPO",
				   "expected owner/name (letters, digits, '-', '_', '.')");
		set_full_name(d, v);
		if (!env(d, "PRENV_REPO_URL")) {
			if (c->server_url)
				putf(d, &c->repo_url, "%s/%s", c->server_url, v);
			else
				clear(&c->repo_url);
		}
	}
	if ((v = env(d, "PRENV_SHA"))) {
		if (!is_hex_sha(v))
			return bad(err, "PRENV_SHA", "expected a full commit id (40 hex digits)");
		put(d, &c->sha, v);
		for (char *p = c->sha; p && *p; p++)
			*p = (char)tolower((unsigned char)*p);
	}
	for (i = 0; i < sizeof(text) / sizeof(text[0]); i++) {
		if (!(v = env(d, text[i].var)))
			continue;
		if (has_ctl(v))
			return bad(err, text[i].var, "contains control characters");
		put(d, (char **)((char *)c + text[i].off), v);
	}
	for (i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		if (!(v = env(d, urls[i].var)))
			continue;
		if (!http_url_ok(v))
			return bad(err, urls[i].var, "expected an http:// or https:// URL");
		put(d, (char **)((char *)c + urls[i].off), v);
		rstrip_slash(*(char **)((char *)c + urls[i].off));
	}
	if ((v = env(d, "PRENV_PR"))) {
		if (parse_pos_long(v, &n) < 0)
			return bad(err, "PRENV_PR", "expected a positive pull request number");
		c->has_pr = 1;
		c->pr_number = n;
		fill(d, &c->pr_state, "open");
	}
	if ((v = env(d, "PRENV_PR_STATE"))) {
		if (!streq(v, "open") && !streq(v, "closed") && !streq(v, "merged"))
			return bad(err, "PRENV_PR_STATE", "expected open, closed or merged");
		put(d, &c->pr_state, v);
	}
	if ((v = env(d, "PRENV_PR_FORK"))) {
		if (streq(v, "true") || streq(v, "1") || streq(v, "yes"))
			c->pr_fork = 1;
		else if (streq(v, "false") || streq(v, "0") || streq(v, "no"))
			c->pr_fork = 0;
		else
			return bad(err, "PRENV_PR_FORK", "expected true or false");
	}
	if (env(d, "PRENV_BRANCH"))
		clear(&c->tag);
	return 0;
}

/* ------------------------------------------------------------------ */

/* Fields that follow from others. */
static void derive(struct det *d)
{
	struct prenv_context *c = d->c;

	if (c->repo_full_name && (!c->repo_owner || !c->repo_name)) {
		char *full = c->repo_full_name;

		c->repo_full_name = NULL;
		set_full_name(d, full);
		free(full);
	} else if (!c->repo_full_name && c->repo_owner && c->repo_name) {
		putf(d, &c->repo_full_name, "%s/%s", c->repo_owner, c->repo_name);
	}
	if (!c->repo_url && c->server_url && c->repo_full_name)
		putf(d, &c->repo_url, "%s/%s", c->server_url, c->repo_full_name);
	if (c->has_pr && !c->pr_url && c->repo_url && c->pr_number > 0) {
		if (streq(c->host, "github"))
			putf(d, &c->pr_url, "%s/pull/%ld", c->repo_url, c->pr_number);
		else if (streq(c->host, "gitlab"))
			putf(d, &c->pr_url, "%s/-/merge_requests/%ld", c->repo_url,
			     c->pr_number);
		else if (streq(c->host, "gitea"))
			putf(d, &c->pr_url, "%s/pulls/%ld", c->repo_url, c->pr_number);
	}
	if (!c->has_pr) {
		/* no PR: no PR fields (a workflow_run from a fork keeps pr_fork) */
		clear(&c->pr_title);
		clear(&c->pr_author);
		clear(&c->pr_url);
		clear(&c->pr_state);
		c->pr_number = 0;
	}
}

void ci_context_free(struct prenv_context *c)
{
	if (!c)
		return;
	free(c->ci);
	free(c->event);
	free(c->action);
	free(c->host);
	free(c->server_url);
	free(c->api_url);
	free(c->repo_owner);
	free(c->repo_name);
	free(c->repo_full_name);
	free(c->repo_url);
	free(c->project_id);
	free(c->branch);
	free(c->base_branch);
	free(c->sha);
	free(c->pr_title);
	free(c->pr_author);
	free(c->pr_url);
	free(c->pr_state);
	free(c->run_url);
	free(c->run_id);
	free(c->tag);
	free(c->head_repo_full_name);
	free(c->trigger_event);
	free(c);
}

int ci_detect(struct prenv_context **out, const char *const *envp,
	      const char *repo_dir, struct prenv_err *err)
{
	struct det d = { 0 };
	const char *ci = ci_getenv(envp, "PRENV_CI");
	int rc;

	*out = NULL;
	d.envp = envp;
	d.c = calloc(1, sizeof(*d.c));
	if (!d.c)
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	if (ci && !token_ok(ci)) {
		rc = bad(err, "PRENV_CI", "expected a word like \"github\" or \"buildkite\"");
		goto done;
	}
	if (!ci) {
		if (streq(ci_getenv(envp, "GITHUB_ACTIONS"), "true"))
			ci = "github";
		else if (streq(ci_getenv(envp, "GITLAB_CI"), "true"))
			ci = "gitlab";
		else if (ci_getenv(envp, "JENKINS_URL"))
			ci = "jenkins";
		else
			ci = "local";
	}
	if (streq(ci, "github"))
		rc = detect_github(&d, err);
	else if (streq(ci, "gitlab"))
		rc = detect_gitlab(&d);
	else if (streq(ci, "jenkins"))
		rc = detect_jenkins(&d);
	else
		rc = 0;
	if (rc < 0)
		goto done;
	put(&d, &d.c->ci, ci); /* PRENV_CI names any other CI */
	if (d.oom)
		goto nomem;
	if ((rc = fill_from_git(&d, repo_dir, err)) < 0)
		goto done;
	if ((rc = apply_overrides(&d, err)) < 0)
		goto done;
	derive(&d);
	if (d.oom)
		goto nomem;
	*out = d.c;
	d.c = NULL;
	rc = 0;
	goto done;
nomem:
	rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
done:
	ci_context_free(d.c);
	return rc;
}

/* ------------------------------------------------------------------ */

static int add_str(cJSON *o, const char *key, const char *v)
{
	cJSON *item = v ? cJSON_CreateString(v) : cJSON_CreateNull();

	if (!item)
		return -1;
	cJSON_AddItemToObject(o, key, item);
	return 0;
}

cJSON *ci_context_to_json(const struct prenv_context *c)
{
	cJSON *o = cJSON_CreateObject(), *repo = NULL, *pr = NULL;
	int fail = 0;

	if (!o || !c)
		goto fail;
	fail |= add_str(o, "ci", c->ci);
	fail |= add_str(o, "event", c->event);
	fail |= add_str(o, "action", c->action);
	repo = cJSON_AddObjectToObject(o, "repo");
	if (!repo)
		goto fail;
	fail |= add_str(repo, "owner", c->repo_owner);
	fail |= add_str(repo, "name", c->repo_name);
	fail |= add_str(repo, "full_name", c->repo_full_name);
	fail |= add_str(repo, "url", c->repo_url);
	fail |= add_str(o, "branch", c->branch);
	fail |= add_str(o, "base_branch", c->base_branch);
	fail |= add_str(o, "sha", c->sha);
	if (c->has_pr) {
		pr = cJSON_AddObjectToObject(o, "pr");
		if (!pr || !cJSON_AddNumberToObject(pr, "number", (double)c->pr_number))
			goto fail;
		fail |= add_str(pr, "title", c->pr_title);
		fail |= add_str(pr, "author", c->pr_author);
		fail |= add_str(pr, "url", c->pr_url);
		if (!cJSON_AddBoolToObject(pr, "fork", c->pr_fork))
			goto fail;
		fail |= add_str(pr, "state", c->pr_state);
	} else if (!cJSON_AddNullToObject(o, "pr")) {
		goto fail;
	}
	fail |= add_str(o, "run_url", c->run_url);
	/* additions to the documented shape */
	fail |= add_str(o, "host", c->host);
	fail |= add_str(o, "server_url", c->server_url);
	fail |= add_str(o, "api_url", c->api_url);
	fail |= add_str(o, "tag", c->tag);
	if (!cJSON_AddBoolToObject(o, "deleted", c->ref_deleted) ||
	    !cJSON_AddBoolToObject(o, "fork", c->pr_fork))
		goto fail;
	fail |= add_str(o, "head_repo", c->head_repo_full_name);
	fail |= add_str(o, "trigger_event", c->trigger_event);
	fail |= add_str(o, "project_id", c->project_id);
	fail |= add_str(o, "run_id", c->run_id);
	if (fail)
		goto fail;
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}
