/* tokens.c - which token may be sent to which host; see tokens.h. */
#include "context/tokens.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "context/ci.h"
#include "util/buf.h"

#define MAX_HOSTS 8

enum family { FAM_NAMED, FAM_GITHUB, FAM_GITLAB };

/* The order is the order of preference for a URL: the explicit prenv
 * variable of a host first. */
static const struct tok {
	const char *var;
	enum family fam;
	const char *user;  /* NULL: PRENV_GIT_USER, else x-access-token */
	unsigned use;
} toks[] = {
	{ "PRENV_GIT_TOKEN", FAM_NAMED, NULL, TOKEN_FOR_GIT },
	{ "PRENV_GITHUB_TOKEN", FAM_GITHUB, "x-access-token", TOKEN_FOR_GIT | TOKEN_FOR_GITHUB_API },
	{ "GITHUB_TOKEN", FAM_GITHUB, "x-access-token", TOKEN_FOR_GIT | TOKEN_FOR_GITHUB_API },
	{ "GH_TOKEN", FAM_GITHUB, "x-access-token", TOKEN_FOR_GIT | TOKEN_FOR_GITHUB_API },
	{ "PRENV_GITLAB_TOKEN", FAM_GITLAB, "oauth2", TOKEN_FOR_GIT | TOKEN_FOR_GITLAB_API },
	{ "GITLAB_TOKEN", FAM_GITLAB, "oauth2", TOKEN_FOR_GIT | TOKEN_FOR_GITLAB_API },
	{ "CI_JOB_TOKEN", FAM_GITLAB, "gitlab-ci-token", TOKEN_FOR_GIT },
};

/* Where a code host's server is named. */
static const struct fam {
	const char *name;        /* messages */
	const char *ctx_host;    /* ctx->host of this code host */
	const char *server_var, *api_var;
	const char *public_host, *public_api_host; /* the default */
} fams[] = {
	[FAM_NAMED] = { "PRENV_GIT_TOKEN_HOST", NULL, NULL, NULL, NULL, NULL },
	[FAM_GITHUB] = { "the GitHub server", "github", "GITHUB_SERVER_URL", "GITHUB_API_URL",
			 "github.com", "api.github.com" },
	[FAM_GITLAB] = { "the GitLab server", "gitlab", "CI_SERVER_URL", "CI_API_V4_URL",
			 "gitlab.com", NULL },
};

/* ---- host names ---- */

static int host_char(unsigned char c)
{
	return isalnum(c) || c == '.' || c == '-' || c == '_';
}

/* host[:port] (s, n bytes) into out: lower case, ":<defport>" dropped
 * (defport NULL: ":443" and ":80"). -1 when it is not a plain host name,
 * IPv4 or [IPv6] address with an optional numeric port. */
static int norm_hostport(const char *s, size_t n, const char *defport, struct prenv_buf *out)
{
	size_t hlen, i;
	const char *port = NULL;

	if (n && s[0] == '[') {
		const char *rb = memchr(s, ']', n);

		if (!rb || rb == s + 1)
			return -1;
		for (i = 1; s + i < rb; i++)
			if (!isxdigit((unsigned char)s[i]) && s[i] != ':' && s[i] != '.')
				return -1;
		hlen = (size_t)(rb - s) + 1;
	} else {
		for (hlen = 0; hlen < n && host_char((unsigned char)s[hlen]); hlen++)
			;
		if (!hlen)
			return -1;
	}
	if (hlen < n) {
		if (s[hlen] != ':' || hlen + 1 == n)
			return -1;
		port = s + hlen + 1;
		for (i = hlen + 1; i < n; i++)
			if (!isdigit((unsigned char)s[i]))
				return -1;
	}
	prenv_buf_reset(out);
	for (i = 0; i < hlen; i++)
		prenv_buf_addc(out, (char)tolower((unsigned char)s[i]));
	if (port) {
		size_t plen = n - hlen - 1;
		int dflt = defport ? (strlen(defport) == plen && !strncmp(port, defport, plen))
			: ((plen == 3 && !strncmp(port, "443", 3)) || (plen == 2 && !strncmp(port, "80", 2)));

		if (!dflt)
			prenv_buf_add(out, s + hlen, n - hlen);
	}
	return out->failed ? -1 : 0;
}

/* The host[:port] of an http(s) URL into out; *https 1 for https. -1 for
 * another scheme, no URL, or an authority that is not plainly one host
 * (two '@', odd characters). */
static int url_host(const char *url, int *https, struct prenv_buf *out)
{
	const char *p, *end, *at;

	if (!url)
		return -1;
	if (!strncasecmp(url, "https://", 8)) {
		*https = 1;
		p = url + 8;
	} else if (!strncasecmp(url, "http://", 7)) {
		*https = 0;
		p = url + 7;
	} else {
		return -1;
	}
	end = p + strcspn(p, "/?#");
	if ((at = memchr(p, '@', (size_t)(end - p)))) {
		if (memchr(at + 1, '@', (size_t)(end - at - 1)))
			return -1;
		p = at + 1;
	}
	return norm_hostport(p, (size_t)(end - p), *https ? "443" : "80", out);
}

/* A host named in a variable: host[:port], or a URL. */
static int named_host(const char *v, struct prenv_buf *out)
{
	int https;

	if (strstr(v, "://"))
		return url_host(v, &https, out);
	return norm_hostport(v, strlen(v), NULL, out);
}

int tokens_host_is_loopback(const char *host)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	const char *h, *colon;
	int ok = 0, parts = 0;

	if (!host || norm_hostport(host, strlen(host), NULL, &b) < 0)
		goto done;
	h = b.ptr;
	if (h[0] == '[') {
		ok = !strncmp(h, "[::1]", 5) && (h[5] == '\0' || h[5] == ':');
		goto done;
	}
	if ((colon = strchr(h, ':')))
		prenv_buf_truncate(&b, (size_t)(colon - h));
	if (!strcmp(h, "localhost")) {
		ok = 1;
		goto done;
	}
	/* a dotted quad whose first number is 127 */
	while (*h) {
		char *end;
		long v = strtol(h, &end, 10);

		if (end == h || end - h > 3 || !isdigit((unsigned char)*h) || v > 255 ||
		    (parts == 0 && v != 127) || (*end && *end != '.'))
			goto done;
		parts++;
		h = *end ? end + 1 : end;
		if (*end && !*h)
			goto done;
	}
	ok = parts == 4;
done:
	prenv_buf_free(&b);
	return ok;
}

/* ---- the hosts of a family ---- */

struct hosts {
	char *v[MAX_HOSTS];
	size_t n;
};

static void hosts_free(struct hosts *h)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		free(h->v[i]);
	h->n = 0;
}

static void hosts_add_str(struct hosts *h, const char *s)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		if (!strcmp(h->v[i], s))
			return;
	if (h->n < MAX_HOSTS && (h->v[h->n] = strdup(s)))
		h->n++;
}

static void hosts_add(struct hosts *h, const char *value, struct prenv_buf *tmp)
{
	if (value && named_host(value, tmp) == 0)
		hosts_add_str(h, tmp->ptr);
}

/* Every host the tokens of family f belong to. */
static void family_hosts(const struct prenv_context *ctx, const char *const *envp,
			 enum family f, struct hosts *h)
{
	const struct fam *d = &fams[f];
	struct prenv_buf tmp = PRENV_BUF_INIT;
	size_t i;

	h->n = 0;
	if (f == FAM_NAMED) {
		hosts_add(h, ci_getenv(envp, "PRENV_GIT_TOKEN_HOST"), &tmp);
		prenv_buf_free(&tmp);
		return;
	}
	hosts_add(h, ci_getenv(envp, d->server_var), &tmp);
	hosts_add(h, ci_getenv(envp, d->api_var), &tmp);
	if (ctx && ctx->host && !strcmp(ctx->host, d->ctx_host)) {
		hosts_add(h, ctx->server_url, &tmp);
		hosts_add(h, ctx->api_url, &tmp);
	}
	if (!h->n)
		hosts_add_str(h, d->public_host);
	for (i = 0; i < h->n && d->public_api_host; i++)
		if (!strcmp(h->v[i], d->public_host)) {
			hosts_add_str(h, d->public_api_host);
			break;
		}
	prenv_buf_free(&tmp);
}

static const struct tok *find_tok(const char *var)
{
	size_t i;

	for (i = 0; var && i < sizeof(toks) / sizeof(toks[0]); i++)
		if (!strcmp(toks[i].var, var))
			return &toks[i];
	return NULL;
}

/* The decision for t; see tokens_allowed(). */
static int allowed(const struct prenv_context *ctx, const char *const *envp,
		   const struct tok *t, const char *url, struct prenv_buf *why)
{
	struct prenv_buf hp = PRENV_BUF_INIT;
	struct hosts h;
	size_t i;
	int https = 0, ok = 0, match = 0;

	if (url_host(url, &https, &hp) < 0) {
		if (why)
			prenv_buf_printf(why, "no token is sent to a URL that is not https:// with one "
					 "plain host name");
		goto done;
	}
	family_hosts(ctx, envp, t->fam, &h);
	for (i = 0; i < h.n; i++)
		match |= !strcmp(h.v[i], hp.ptr);
	if (!match && why) {
		if (t->fam == FAM_NAMED && !h.n)
			prenv_buf_printf(why, "%s is only sent to the host named by PRENV_GIT_TOKEN_HOST, "
					 "which is not set", t->var);
		else
			prenv_buf_printf(why, "%s belongs to %s %s, not %s", t->var, fams[t->fam].name,
					 h.n ? h.v[0] : "", hp.ptr);
	} else if (match && !https && !tokens_host_is_loopback(hp.ptr)) {
		if (why)
			prenv_buf_printf(why, "%s is not sent over plain http:// to %s: use https://",
					 t->var, hp.ptr);
	} else {
		ok = match;
	}
	hosts_free(&h);
done:
	prenv_buf_free(&hp);
	return ok;
}

/* ---- PRENV_GIT_TOKEN_<NAME> with PRENV_GIT_TOKEN_<NAME>_HOST ---- */

#define NAMED_PREFIX "PRENV_GIT_TOKEN_"

static int ends_with(const char *s, size_t n, const char *suffix)
{
	size_t m = strlen(suffix);

	return n >= m && !strncmp(s + n - m, suffix, m);
}

/* The length of the name of a named token variable at the start of s
 * ("PRENV_GIT_TOKEN_ACME=..." or "PRENV_GIT_TOKEN_ACME"), or 0. */
static size_t named_len(const char *s)
{
	size_t n = strlen(NAMED_PREFIX), i;

	if (strncmp(s, NAMED_PREFIX, n))
		return 0;
	for (i = n; s[i] && s[i] != '='; i++)
		if (!isupper((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '_')
			return 0;
	if (i == n || i >= sizeof(((struct token_pick *)0)->var_buf) - 8 ||
	    ends_with(s, i, "_HOST") || ends_with(s, i, "_USER"))
		return 0;
	return i;
}

/* The value of <name>_<suffix> ("HOST", "USER") in envp, or NULL. */
static const char *named_companion(const char *const *envp, const char *name, size_t n,
				   const char *suffix)
{
	char key[128];

	snprintf(key, sizeof(key), "%.*s_%s", (int)n, name, suffix);
	return ci_getenv(envp, key);
}

/* May the named token (name, n bytes) go to url? */
static int named_allowed(const char *const *envp, const char *name, size_t n, const char *url,
			 struct prenv_buf *why)
{
	struct prenv_buf hp = PRENV_BUF_INIT, want = PRENV_BUF_INIT;
	const char *hv = named_companion(envp, name, n, "HOST");
	int https = 0, ok = 0;

	if (url_host(url, &https, &hp) < 0) {
		if (why)
			prenv_buf_printf(why, "no token is sent to a URL that is not https:// with one "
					 "plain host name");
	} else if (!hv || named_host(hv, &want) < 0) {
		if (why)
			prenv_buf_printf(why, "%.*s is only sent to the host named by %.*s_HOST, which is "
					 "%s", (int)n, name, (int)n, name, hv ? "not a host name" : "not set");
	} else if (strcmp(want.ptr, hp.ptr)) {
		if (why)
			prenv_buf_printf(why, "%.*s belongs to %s, not %s", (int)n, name, want.ptr, hp.ptr);
	} else if (!https && !tokens_host_is_loopback(hp.ptr)) {
		if (why)
			prenv_buf_printf(why, "%.*s is not sent over plain http:// to %s: use https://",
					 (int)n, name, hp.ptr);
	} else {
		ok = 1;
	}
	prenv_buf_free(&hp);
	prenv_buf_free(&want);
	return ok;
}

/* The first named token that may go to url, into out. */
static int named_pick(const char *const *envp, const char *url, struct token_pick *out,
		      struct prenv_buf *first)
{
	struct prenv_buf tmp = PRENV_BUF_INIT;
	size_t i, n;
	int found = 0;

	for (i = 0; envp && envp[i] && !found; i++) {
		if (!(n = named_len(envp[i])) || envp[i][n] != '=' || !envp[i][n + 1])
			continue;
		prenv_buf_reset(&tmp);
		if (!named_allowed(envp, envp[i], n, url, &tmp)) {
			if (!first->len)
				prenv_buf_adds(first, tmp.ptr ? tmp.ptr : "");
			continue;
		}
		memcpy(out->var_buf, envp[i], n);
		out->var_buf[n] = '\0';
		out->var = out->var_buf;
		out->value = envp[i] + n + 1;
		if (!(out->user = named_companion(envp, envp[i], n, "USER")))
			out->user = "x-access-token";
		found = 1;
	}
	prenv_buf_free(&tmp);
	return found;
}

int tokens_allowed(const struct prenv_context *ctx, const char *const *envp,
		   const char *var, const char *url, struct prenv_buf *why)
{
	const struct tok *t = find_tok(var);
	size_t n = var ? named_len(var) : 0;

	if (!t && n && !var[n])
		return named_allowed(envp, var, n, url, why);
	if (!t) {
		if (why)
			prenv_buf_printf(why, "%s is not a token prenv knows", var ? var : "(none)");
		return 0;
	}
	return allowed(ctx, envp, t, url, why);
}

int tokens_for_url(const struct prenv_context *ctx, const char *const *envp,
		   const char *url, unsigned use, struct token_pick *out,
		   struct prenv_buf *why)
{
	struct prenv_buf first = PRENV_BUF_INIT, tmp = PRENV_BUF_INIT;
	size_t i;
	int found = 0;

	memset(out, 0, sizeof(*out));
	if (use & TOKEN_FOR_GIT)
		found = named_pick(envp, url, out, &first);
	for (i = 0; i < sizeof(toks) / sizeof(toks[0]) && !found; i++) {
		const struct tok *t = &toks[i];
		const char *v = ci_getenv(envp, t->var);

		if (!v || !(t->use & use))
			continue;
		prenv_buf_reset(&tmp);
		if (!allowed(ctx, envp, t, url, &tmp)) {
			if (!first.len)
				prenv_buf_adds(&first, tmp.ptr ? tmp.ptr : "");
			continue;
		}
		out->var = t->var;
		out->value = v;
		out->user = t->user;
		if (!out->user && !(out->user = ci_getenv(envp, "PRENV_GIT_USER")))
			out->user = "x-access-token";
		found = 1;
	}
	if (!found && why && first.len)
		prenv_buf_adds(why, first.ptr);
	prenv_buf_free(&first);
	prenv_buf_free(&tmp);
	return found;
}
