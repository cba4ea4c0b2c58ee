/* registry_auth.c - registry challenges and credentials (see registry_auth.h). */
#include "resolve/registry_auth.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "context/ci.h"
#include "util/log.h"

/* ---- WWW-Authenticate (RFC 7235) ---- */

struct cursor {
	const char *p;
};

static int is_tchar(int c)
{
	return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static void skip_ws(struct cursor *k)
{
	while (*k->p == ' ' || *k->p == '\t')
		k->p++;
}

/* A token into out (n bytes); 0 when there is none. */
static size_t read_token(struct cursor *k, const char **out)
{
	const char *s = k->p;

	while (is_tchar((unsigned char)*k->p))
		k->p++;
	*out = s;
	return (size_t)(k->p - s);
}

/* token / quoted-string, unescaped into out. -1 when malformed. */
static int read_value(struct cursor *k, struct prenv_buf *out)
{
	const char *t;
	size_t n;

	if (*k->p != '"') {
		n = read_token(k, &t);
		return n ? prenv_buf_add(out, t, n) : -1;
	}
	for (k->p++; *k->p != '"'; k->p++) {
		if (!*k->p)
			return -1;
		if (*k->p == '\\' && k->p[1])
			k->p++;
		if (prenv_buf_addc(out, *k->p) < 0)
			return -1;
	}
	k->p++;
	return 0;
}

static int scheme_rank(enum registry_scheme s)
{
	return s == REGISTRY_AUTH_BEARER ? 3 : s == REGISTRY_AUTH_BASIC ? 2 :
	       s == REGISTRY_AUTH_OTHER ? 1 : 0;
}

/* Offers the parsed challenge cur to c: the better one stays in c. */
static void offer(struct registry_challenge *c, struct registry_challenge *cur)
{
	if (scheme_rank(cur->scheme) > scheme_rank(c->scheme)) {
		registry_challenge_free(c);
		*c = *cur;
	} else {
		registry_challenge_free(cur);
	}
	*cur = (struct registry_challenge)REGISTRY_CHALLENGE_INIT;
}

static int start_challenge(struct registry_challenge *cur, const char *t, size_t n)
{
	if (n == 6 && !strncasecmp(t, "bearer", 6))
		cur->scheme = REGISTRY_AUTH_BEARER;
	else if (n == 5 && !strncasecmp(t, "basic", 5))
		cur->scheme = REGISTRY_AUTH_BASIC;
	else if (!(cur->other = strndup(t, n)))
		return -1;
	else
		cur->scheme = REGISTRY_AUTH_OTHER;
	return 0;
}

static int set_param(struct registry_challenge *cur, const char *name, size_t n,
		     struct prenv_buf *v)
{
	char **slot = NULL;

	if (n == 5 && !strncasecmp(name, "realm", 5))
		slot = &cur->realm;
	else if (n == 7 && !strncasecmp(name, "service", 7))
		slot = &cur->service;
	else if (n == 5 && !strncasecmp(name, "scope", 5))
		slot = &cur->scope;
	if (v->failed)
		return -1;
	if (slot && !*slot)
		*slot = prenv_buf_detach(v, NULL);
	prenv_buf_free(v);
	return 0;
}

/* After a token: "=" starts a parameter's value when a value follows
 * (a token68 ends in '=' and nothing follows it). */
static int param_follows(const struct cursor *k)
{
	const char *p = k->p;

	if (*p != '=')
		return 0;
	for (p++; *p == ' ' || *p == '\t'; p++)
		;
	return *p == '"' || is_tchar((unsigned char)*p);
}

/* One item of the list: a scheme (maybe with a token68) or a parameter. */
static int read_item(struct cursor *k, struct registry_challenge *c, struct registry_challenge *cur)
{
	struct prenv_buf v = PRENV_BUF_INIT;
	const char *t;
	size_t n = read_token(k, &t);

	if (!n)
		return -1;
	skip_ws(k);
	if (param_follows(k) && cur->scheme != REGISTRY_AUTH_NONE) {
		k->p++;
		skip_ws(k);
		if (read_value(k, &v) < 0) {
			prenv_buf_free(&v);
			return -1;
		}
		return set_param(cur, t, n, &v);
	}
	if (cur->scheme != REGISTRY_AUTH_NONE)
		offer(c, cur);
	if (start_challenge(cur, t, n) < 0)
		return -1;
	/* a token68 or the challenge's first parameter */
	if (is_tchar((unsigned char)*k->p) || *k->p == '/') {
		const char *save = k->p;

		n = read_token(k, &t);
		while (*k->p == '/' || *k->p == '+')
			k->p++, n += read_token(k, &t);
		skip_ws(k);
		if (param_follows(k)) {
			k->p = save;
			return read_item(k, c, cur);
		}
		while (*k->p == '=')
			k->p++;
	}
	return 0;
}

int registry_challenge_add(struct registry_challenge *c, const char *value)
{
	struct registry_challenge cur = REGISTRY_CHALLENGE_INIT;
	struct cursor k = { value ? value : "" };

	for (;;) {
		while (*k.p == ' ' || *k.p == '\t' || *k.p == ',')
			k.p++;
		if (!*k.p)
			break;
		if (read_item(&k, c, &cur) < 0)
			goto bad;
		skip_ws(&k);
		if (*k.p && *k.p != ',')
			goto bad;
	}
	if (cur.scheme != REGISTRY_AUTH_NONE)
		offer(c, &cur);
	return 0;
bad:
	registry_challenge_free(&cur);
	return PRENV_EFAIL;
}

void registry_challenge_free(struct registry_challenge *c)
{
	if (!c)
		return;
	free(c->realm);
	free(c->service);
	free(c->scope);
	free(c->other);
	*c = (struct registry_challenge)REGISTRY_CHALLENGE_INIT;
}

/* ---- base64 ---- */

int registry_base64(struct prenv_buf *out, const void *p, size_t n)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *s = p;
	size_t i;

	for (i = 0; i + 2 < n; i += 3) {
		unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8 | s[i + 2];
		char q[4] = { tab[v >> 18], tab[(v >> 12) & 63], tab[(v >> 6) & 63], tab[v & 63] };

		prenv_buf_add(out, q, 4);
	}
	if (n - i == 1) {
		unsigned v = (unsigned)s[i] << 16;
		char q[4] = { tab[v >> 18], tab[(v >> 12) & 63], '=', '=' };

		prenv_buf_add(out, q, 4);
	} else if (n - i == 2) {
		unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8;
		char q[4] = { tab[v >> 18], tab[(v >> 12) & 63], tab[(v >> 6) & 63], '=' };

		prenv_buf_add(out, q, 4);
	}
	return out->failed ? -1 : 0;
}

/* ---- which registry a name means ---- */

/* host[:port] of a registry name (host[:port], a URL, a Docker key such as
 * "https://index.docker.io/v1/"), lower-cased, Docker Hub's names as
 * "docker.io". Empty when the name has user info or no host. */
static int norm_registry(const char *in, struct prenv_buf *out)
{
	const char *s = in, *e, *sep = strstr(in, "://");
	size_t i;

	if (sep)
		s = sep + 3;
	e = s + strcspn(s, "/?#");
	if (memchr(s, '@', (size_t)(e - s)) || e == s)
		return 0;
	for (i = 0; s + i < e; i++)
		prenv_buf_addc(out, (char)tolower((unsigned char)s[i]));
	if (!strcmp(out->ptr, "index.docker.io") || !strcmp(out->ptr, "registry-1.docker.io")) {
		prenv_buf_reset(out);
		prenv_buf_adds(out, "docker.io");
	}
	return out->failed ? -1 : 0;
}

int registry_same_host(const char *a, const char *b)
{
	struct prenv_buf x = PRENV_BUF_INIT, y = PRENV_BUF_INIT;
	int same;

	same = a && b && norm_registry(a, &x) == 0 && norm_registry(b, &y) == 0 &&
	       x.len && !strcmp(x.ptr, y.ptr);
	prenv_buf_free(&x);
	prenv_buf_free(&y);
	return same;
}

/* ---- credentials ---- */

static int cred_set(struct registry_cred *out, const char *user, const char *pass,
		    const char *source)
{
	struct prenv_buf b = PRENV_BUF_INIT, raw = PRENV_BUF_INIT;

	prenv_buf_printf(&raw, "%s:%s", user, pass);
	registry_base64(&b, raw.ptr, raw.len);
	explicit_bzero(raw.ptr, raw.len);
	prenv_buf_free(&raw);
	if (b.failed || !(out->source = strdup(source))) {
		prenv_buf_free(&b);
		return PRENV_ENOMEM;
	}
	out->basic = prenv_buf_detach(&b, NULL);
	log_add_secret(pass);
	log_add_secret(out->basic);
	return 1;
}

/* user + password variables for the registry a host variable names. */
static int cred_from_env(struct registry_cred *out, const char *const *envp, const char *domain,
			 const char *host_var, const char *user_var, const char *pass_var)
{
	const char *h = ci_getenv(envp, host_var), *u = ci_getenv(envp, user_var),
		   *p = ci_getenv(envp, pass_var);
	char src[128];

	if (!h || !*h || !u || !*u || !p || !*p || !registry_same_host(h, domain))
		return 0;
	snprintf(src, sizeof src, "%s and %s (for %s)", user_var, pass_var, host_var);
	return cred_set(out, u, p, src);
}

static int base64_chars(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("+/=", *s))
			return 0;
	return 1;
}

/* The entry for domain in a parsed config.json: 1, 0 (none), <0. */
static int cred_from_docker_json(struct registry_cred *out, const cJSON *root, const char *domain,
				 const char *path, struct prenv_err *err)
{
	const cJSON *auths = cJSON_GetObjectItemCaseSensitive(root, "auths"), *e;

	if (!cJSON_IsObject(auths))
		auths = NULL;
	cJSON_ArrayForEach(e, auths) {
		const cJSON *a = cJSON_GetObjectItemCaseSensitive(e, "auth"),
			    *u = cJSON_GetObjectItemCaseSensitive(e, "username"),
			    *p = cJSON_GetObjectItemCaseSensitive(e, "password");

		if (!e->string || !registry_same_host(e->string, domain))
			continue;
		if (cJSON_IsString(a) && a->valuestring[0]) {
			if (!base64_chars(a->valuestring))
				return prenv_err_set(err, PRENV_ECONFIG,
						     "%s: auths.\"%.200s\".auth is not base64 of "
						     "user:password: run docker login again", path, e->string);
			if (!(out->basic = strdup(a->valuestring)) || !(out->source = strdup(path)))
				return PRENV_ENOMEM;
			log_add_secret(out->basic);
			return 1;
		}
		if (cJSON_IsString(u) && cJSON_IsString(p) && p->valuestring[0])
			return cred_set(out, u->valuestring, p->valuestring, path);
		log_verbose("%s: the entry for %s has no auth or username and password "
			    "(an identitytoken is not used)", path, e->string);
	}
	if (cJSON_GetObjectItemCaseSensitive(root, "credsStore") ||
	    cJSON_GetObjectItemCaseSensitive(root, "credHelpers"))
		log_verbose("%s: credential helpers are not run; credentials for %s must be in "
			    "its auths (or PRENV_REGISTRY_USER/PASSWORD/HOST)", path, domain);
	return 0;
}

static int cred_from_docker_config(struct registry_cred *out, const char *const *envp,
				   const char *domain, struct prenv_err *err)
{
	const char *dir = ci_getenv(envp, "DOCKER_CONFIG"), *home = ci_getenv(envp, "HOME");
	struct prenv_buf path = PRENV_BUF_INIT, text = PRENV_BUF_INIT;
	cJSON *root = NULL;
	int rc = 0;

	if (dir && *dir)
		prenv_buf_printf(&path, "%s/config.json", dir);
	else if (home && *home)
		prenv_buf_printf(&path, "%s/.docker/config.json", home);
	else
		return 0;
	if (path.failed) {
		rc = PRENV_ENOMEM;
		goto done;
	}
	if (prenv_buf_read_file(&text, path.ptr) < 0) {
		if (errno != ENOENT)
			rc = prenv_err_set(err, PRENV_ECONFIG, "%s: cannot read it: %s", path.ptr,
					   strerror(errno));
		goto done;
	}
	root = cJSON_ParseWithLength(text.ptr, text.len);
	if (!cJSON_IsObject(root)) {
		rc = prenv_err_set(err, PRENV_ECONFIG, "%s: not a JSON object: fix or remove it "
				   "(docker login writes it)", path.ptr);
		goto done;
	}
	rc = cred_from_docker_json(out, root, domain, path.ptr, err);
done:
	cJSON_Delete(root);
	if (text.len)
		explicit_bzero(text.ptr, text.len);
	prenv_buf_free(&text);
	prenv_buf_free(&path);
	return rc;
}

int registry_cred_find(struct registry_cred *out, const char *const *envp,
		       const char *domain, struct prenv_err *err)
{
	int rc;

	rc = cred_from_env(out, envp, domain, "PRENV_REGISTRY_HOST", "PRENV_REGISTRY_USER",
			   "PRENV_REGISTRY_PASSWORD");
	if (rc == 0)
		rc = cred_from_env(out, envp, domain, "CI_REGISTRY", "CI_REGISTRY_USER",
				   "CI_REGISTRY_PASSWORD");
	if (rc == 0)
		rc = cred_from_docker_config(out, envp, domain, err);
	if (rc == PRENV_ENOMEM)
		prenv_err_set(err, rc, "out of memory");
	return rc;
}

void registry_cred_free(struct registry_cred *c)
{
	if (!c)
		return;
	if (c->basic)
		explicit_bzero(c->basic, strlen(c->basic));
	free(c->basic);
	free(c->source);
	*c = (struct registry_cred)REGISTRY_CRED_INIT;
}
