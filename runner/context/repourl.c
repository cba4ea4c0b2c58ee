/* repourl.c - what a repository URL or a pull/merge request URL says.
 *
 * Owns ci_parse_remote_url() (git remotes: GIT_URL, origin, PRENV_REPO_URL),
 * ci_parse_change_url() (Jenkins CHANGE_URL), ci_url_info_clear(), and
 * ci_apply_url_info(), which copies a parsed URL into the context.
 * Credentials in a URL are dropped here and never reach the context.
 */
#include "context/ci.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "context/ci_int.h"
#include "util/err.h"

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

int ci_path_ok(const char *s, size_t n)
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
static void guess_host(struct ci_det *d, struct ci_url_info *u, const char *hostname)
{
	const char *kind = NULL;

	if (ci_streq(hostname, "github.com")) {
		ci_put(d, &u->host, "github");
		ci_put(d, &u->api_url, "https://api.github.com");
		return;
	}
	if (ci_streq(hostname, "bitbucket.org")) {
		ci_put(d, &u->host, "bitbucket");
		ci_put(d, &u->api_url, "https://api.bitbucket.org/2.0");
		return;
	}
	if (strstr(hostname, "github"))
		kind = "github";
	else if (strstr(hostname, "gitlab"))
		kind = "gitlab";
	else if (strstr(hostname, "bitbucket"))
		kind = "bitbucket";
	else if (strstr(hostname, "gitea") || strstr(hostname, "forgejo") ||
		 ci_streq(hostname, "codeberg.org"))
		kind = "gitea";
	if (!kind)
		return;
	ci_put(d, &u->host, kind);
	if (ci_streq(kind, "github"))
		ci_putf(d, &u->api_url, "%s/api/v3", u->server_url);
	else if (ci_streq(kind, "gitlab"))
		ci_putf(d, &u->api_url, "%s/api/v4", u->server_url);
	else if (ci_streq(kind, "bitbucket"))
		ci_putf(d, &u->api_url, "%s/rest/api/1.0", u->server_url);
	else
		ci_putf(d, &u->api_url, "%s/api/v1", u->server_url);
}

/* ------------------------------------------------------------------ */
/* Splitting a URL                                                     */

/* A URL split into scheme (empty for scp-like), host[:port] (lower case,
 * credentials dropped) and path (without leading '/', query, fragment,
 * trailing '/'). */
struct url_parts {
	char scheme[16];
	char *hostport;  /* owned */
	char *path;      /* owned */
	int has_port;
};

static int split_url(struct ci_det *d, struct url_parts *p, const char *url)
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
	ci_put_n(d, &p->hostport, auth, (size_t)(auth_end - auth));
	if (d->oom)
		return -1;
	for (i = 0; p->hostport[i]; i++)
		p->hostport[i] = (char)tolower((unsigned char)p->hostport[i]);
	p->has_port = strchr(p->hostport, ':') != NULL && p->hostport[0] != '[';
	n = strcspn(path, "?#");
	while (n > 0 && path[n - 1] == '/')
		n--;
	ci_put_n(d, &p->path, path, n);
	return d->oom ? -1 : 0;
}

static void url_parts_clear(struct url_parts *p)
{
	free(p->hostport);
	free(p->path);
	memset(p, 0, sizeof(*p));
}

/* owner = all segments but the last, name = the last one. */
static int set_owner_name(struct ci_det *d, struct ci_url_info *u, const char *path,
			  size_t n)
{
	const char *slash;

	if (!ci_path_ok(path, n))
		return -1;
	slash = NULL;
	for (size_t i = 0; i < n; i++)
		if (path[i] == '/')
			slash = path + i;
	if (!slash)
		return -1;
	ci_put_n(d, &u->owner, path, (size_t)(slash - path));
	ci_put_n(d, &u->name, slash + 1, n - (size_t)(slash - path) - 1);
	return 0;
}

/* What differs between the two kinds of URL: from the split URL to *u.
 * Returns 0 or -1. */
typedef int url_parser(struct ci_det *d, struct ci_url_info *u,
		       const struct url_parts *p);

/* Splits url and hands it to parse; on failure *u is left cleared. */
static int parse_url(struct ci_det *d, struct ci_url_info *u, const char *url,
		     url_parser *parse)
{
	struct url_parts p = { 0 };
	int ret = -1;

	memset(u, 0, sizeof(*u));
	if (url && !ci_has_ctl(url) && split_url(d, &p, url) == 0 &&
	    parse(d, u, &p) == 0 && !d->oom)
		ret = 0;
	url_parts_clear(&p);
	if (ret < 0)
		ci_url_info_clear(u);
	return ret;
}

/* The error for a URL that did not parse. */
static int url_error(const struct ci_det *d, struct prenv_err *err,
		     const char *what, const char *url, const char *expected)
{
	if (d->oom)
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	return prenv_err_set(err, PRENV_ECONFIG, "cannot parse %s \"%s\": expected %s",
			     what, url ? url : "", expected);
}

/* ------------------------------------------------------------------ */
/* Repository (remote) URLs                                            */

static int parse_remote(struct ci_det *d, struct ci_url_info *u,
			const struct url_parts *p)
{
	const char *web_scheme, *port;
	size_t n;

	if (p->scheme[0] && strcmp(p->scheme, "https") && strcmp(p->scheme, "http") &&
	    strcmp(p->scheme, "ssh") && strcmp(p->scheme, "git") &&
	    strcmp(p->scheme, "git+ssh") && strcmp(p->scheme, "ssh+git"))
		return -1;
	n = strlen(p->path);
	if (n > 4 && strcmp(p->path + n - 4, ".git") == 0)
		n -= 4;
	if (set_owner_name(d, u, p->path, n) < 0)
		return -1;
	/* Web URLs keep their scheme and port; ssh/git remotes map to https on
	 * the same host (the ssh port says nothing about the web port). */
	if (ci_streq(p->scheme, "http") || ci_streq(p->scheme, "https")) {
		web_scheme = p->scheme;
		ci_put(d, &u->hostname, p->hostport);
	} else {
		web_scheme = "https";
		port = p->hostport[0] == '[' ? NULL : strchr(p->hostport, ':');
		ci_put_n(d, &u->hostname, p->hostport,
			 port ? (size_t)(port - p->hostport) : strlen(p->hostport));
	}
	if (d->oom)
		return -1;
	ci_putf(d, &u->server_url, "%s://%s", web_scheme, u->hostname);
	ci_putf(d, &u->repo_url, "%s/%s/%s", u->server_url, u->owner, u->name);
	if (d->oom)
		return -1;
	guess_host(d, u, u->hostname);
	return 0;
}

int ci_remote_url(struct ci_det *d, struct ci_url_info *u, const char *url)
{
	return parse_url(d, u, url, parse_remote);
}

int ci_parse_remote_url(struct ci_url_info *out, const char *url,
			struct prenv_err *err)
{
	struct ci_det d = { 0 };

	if (ci_remote_url(&d, out, url) == 0)
		return 0;
	return url_error(&d, err, "repository URL", url,
			 "https://host/owner/name, ssh://host/owner/name "
			 "or user@host:owner/name");
}

/* ------------------------------------------------------------------ */
/* Change (pull/merge request) URLs                                    */

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

/* Bitbucket: bitbucket.org/<owner>/<name>/pull-requests/N (owner and name
 * are then read by the caller), or Bitbucket Server's
 * projects/<KEY>/repos/<slug>/pull-requests/N. off: where "pull-requests"
 * starts in path. Returns 0 or -1. */
static int bitbucket_change(struct ci_det *d, struct ci_url_info *u,
			    const char *path, long off)
{
	const char *r;
	long slug_len;

	ci_put(d, &u->host, "bitbucket");
	if (ci_streq(u->hostname, "bitbucket.org")) {
		ci_put(d, &u->api_url, "https://api.bitbucket.org/2.0");
		return 0;
	}
	ci_putf(d, &u->api_url, "%s/rest/api/1.0", u->server_url);
	if (!ci_starts(path, "projects/"))
		return 0;
	r = strstr(path + 9, "/repos/");
	if (!r || r - path >= off)
		return -1;
	/* an empty slug (".../repos/pull-requests/N") is not a repository */
	slug_len = off - 1 - (long)(r + 7 - path);
	if (slug_len <= 0)
		return -1;
	if (!ci_path_ok(path + 9, (size_t)(r - path - 9)) ||
	    memchr(path + 9, '/', (size_t)(r - path - 9)))
		return -1;
	ci_put_n(d, &u->owner, path + 9, (size_t)(r - path - 9));
	ci_put_n(d, &u->name, r + 7, (size_t)slug_len);
	if (!ci_path_ok(r + 7, (size_t)slug_len) || d->oom)
		return -1;
	ci_putf(d, &u->repo_url, "%s/projects/%s/repos/%s",
		u->server_url, u->owner, u->name);
	return 0;
}

static int parse_change(struct ci_det *d, struct ci_url_info *u,
			const struct url_parts *p)
{
	const char *num = NULL;
	long off, n;

	if (!ci_streq(p->scheme, "https") && !ci_streq(p->scheme, "http"))
		return -1;
	ci_put(d, &u->hostname, p->hostport);
	ci_putf(d, &u->server_url, "%s://%s", p->scheme, p->hostport);
	if (d->oom)
		return -1;
	if ((off = find_marker(p->path, "merge_requests", &num)) > 2 &&
	    strncmp(p->path + off - 2, "-/", 2) == 0) {
		ci_put(d, &u->host, "gitlab");
		ci_putf(d, &u->api_url, "%s/api/v4", u->server_url);
		n = off - 3;
	} else if ((off = find_marker(p->path, "pull-requests", &num)) > 0) {
		if (bitbucket_change(d, u, p->path, off) < 0)
			return -1;
		n = off - 1;
	} else if ((off = find_marker(p->path, "pulls", &num)) > 0) {
		ci_put(d, &u->host, "gitea");
		ci_putf(d, &u->api_url, "%s/api/v1", u->server_url);
		n = off - 1;
	} else if ((off = find_marker(p->path, "pull", &num)) > 0) {
		ci_put(d, &u->host, "github");
		if (ci_streq(u->hostname, "github.com"))
			ci_put(d, &u->api_url, "https://api.github.com");
		else
			ci_putf(d, &u->api_url, "%s/api/v3", u->server_url);
		n = off - 1;
	} else {
		return -1;
	}
	if (d->oom || ci_parse_pos_long(num, &u->number) < 0)
		return -1;
	if (!u->owner) {
		if (n <= 0 || set_owner_name(d, u, p->path, (size_t)n) < 0)
			return -1;
		ci_putf(d, &u->repo_url, "%s/%s/%s", u->server_url, u->owner, u->name);
	}
	return 0;
}

int ci_change_url(struct ci_det *d, struct ci_url_info *u, const char *url)
{
	return parse_url(d, u, url, parse_change);
}

int ci_parse_change_url(struct ci_url_info *out, const char *url,
			struct prenv_err *err)
{
	struct ci_det d = { 0 };

	if (ci_change_url(&d, out, url) == 0)
		return 0;
	return url_error(&d, err, "change URL", url,
			 "a GitHub, GitLab, Bitbucket or Gitea pull/merge "
			 "request URL");
}

/* ------------------------------------------------------------------ */

void ci_apply_url_info(struct ci_det *d, const struct ci_url_info *u, int force)
{
	struct prenv_context *c = d->c;
	void (*set)(struct ci_det *, char **, const char *) = force ? ci_put : ci_fill;

	set(d, &c->host, u->host);
	set(d, &c->server_url, u->server_url);
	set(d, &c->api_url, u->api_url);
	if (force || !c->repo_full_name) {
		set(d, &c->repo_owner, u->owner);
		set(d, &c->repo_name, u->name);
		if (u->owner && u->name)
			ci_putf(d, &c->repo_full_name, "%s/%s", u->owner, u->name);
	}
	set(d, &c->repo_url, u->repo_url);
}
