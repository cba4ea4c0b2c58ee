/* registry.c - image checks against an OCI distribution registry (see
 * registry.h). */
#include "resolve/registry.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "context/tokens.h"
#include "resolve/registry_auth.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/log.h"

#define ACCEPT_MANIFESTS                                                              \
	"Accept: application/vnd.oci.image.index.v1+json, "                           \
	"application/vnd.oci.image.manifest.v1+json, "                                \
	"application/vnd.docker.distribution.manifest.list.v2+json, "                 \
	"application/vnd.docker.distribution.manifest.v2+json"

/* What a repository's looks send, once a challenge was answered. */
struct auth_entry {
	char *host;
	char *path;
	char *header;   /* "Authorization: Basic ..." or "...Bearer ..." */
};

struct registry {
	struct http_client *http;
	const char *const *envp;
	long poll_first_ms, poll_max_ms;
	struct auth_entry *auth;
	size_t nauth;
};

int registry_new(struct registry **out, struct http_client *c, const struct registry_opts *o,
		 struct prenv_err *err)
{
	struct registry *r = calloc(1, sizeof(*r));

	*out = NULL;
	if (!r)
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	r->http = c;
	r->envp = o ? o->envp : NULL;
	r->poll_first_ms = o && o->poll_first_ms > 0 ? o->poll_first_ms : 1000;
	r->poll_max_ms = o && o->poll_max_ms > 0 ? o->poll_max_ms : 10000;
	*out = r;
	return 0;
}

static void auth_entry_free(struct auth_entry *e)
{
	free(e->host);
	free(e->path);
	if (e->header)
		explicit_bzero(e->header, strlen(e->header));
	free(e->header);
}

void registry_free(struct registry *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < r->nauth; i++)
		auth_entry_free(&r->auth[i]);
	free(r->auth);
	free(r);
}

static struct auth_entry *auth_find(struct registry *r, const struct image_ref *ref)
{
	size_t i;

	for (i = 0; i < r->nauth; i++)
		if (!strcmp(r->auth[i].host, ref->host) && !strcmp(r->auth[i].path, ref->path))
			return &r->auth[i];
	return NULL;
}

/* Keeps header (taken over) for ref's repository. */
static int auth_keep(struct registry *r, const struct image_ref *ref, char *header)
{
	struct auth_entry *e = auth_find(r, ref), *n;

	if (e) {
		auth_entry_free(e);
	} else {
		n = realloc(r->auth, (r->nauth + 1) * sizeof(*n));
		if (!n) {
			free(header);
			return PRENV_ENOMEM;
		}
		r->auth = n;
		e = &r->auth[r->nauth++];
	}
	e->host = strdup(ref->host);
	e->path = strdup(ref->path);
	e->header = header;
	return e->host && e->path ? 0 : PRENV_ENOMEM;
}

/* https://host, or http://host for a loopback registry. */
static void base_url(struct prenv_buf *b, const char *host)
{
	prenv_buf_printf(b, "%s://%s", tokens_host_is_loopback(host) ? "http" : "https", host);
}

/* ---- the token flow ---- */

/* May credentials go to this realm? https, or http to loopback; no user
 * info. 1, or 0 with why set. */
static int realm_ok_for_credentials(const char *realm)
{
	const char *a, *e;
	struct prenv_buf host = PRENV_BUF_INIT;
	int ok;

	if (!strncmp(realm, "https://", 8))
		a = realm + 8;
	else if (!strncmp(realm, "http://", 7))
		a = realm + 7;
	else
		return 0;
	e = a + strcspn(a, "/?#");
	if (memchr(a, '@', (size_t)(e - a)) || e == a)
		return 0;
	if (a == realm + 8)
		return 1;
	prenv_buf_add(&host, a, (size_t)(e - a));
	ok = !host.failed && tokens_host_is_loopback(host.ptr);
	prenv_buf_free(&host);
	return ok;
}

/* A bearer token is sent in a header: printable ASCII only. */
static int token_chars_ok(const char *t)
{
	if (!*t)
		return 0;
	for (; *t; t++)
		if (*t <= 0x20 || *t >= 0x7f)
			return 0;
	return 1;
}

/* GET realm?service=..&scope=repository:<path>:pull -> "Authorization:
 * Bearer <token>" in *hdr_out. */
static int fetch_token(struct registry *r, const struct image_ref *ref,
		       const struct registry_challenge *ch, const struct registry_cred *cred,
		       char **hdr_out, struct prenv_err *err)
{
	struct prenv_buf url = PRENV_BUF_INIT, scope = PRENV_BUF_INIT, basic = PRENV_BUF_INIT,
			 h = PRENV_BUF_INIT;
	struct http_response resp = HTTP_RESPONSE_INIT;
	const char *hdrs[3] = { "Accept: application/json", NULL, NULL };
	struct http_request rq = { .method = "GET", .headers = hdrs };
	cJSON *doc = NULL;
	const cJSON *tok;
	int rc;

	if (!ch->realm || !(strncmp(ch->realm, "https://", 8) == 0 ||
			    strncmp(ch->realm, "http://", 7) == 0))
		return prenv_err_set(err, PRENV_EFAIL, "registry %s asked for a token without an "
				     "http(s) realm to get it from", ref->host);
	if (cred && !realm_ok_for_credentials(ch->realm))
		return prenv_err_set(err, PRENV_EAUTH,
				     "registry %s sends prenv for a token to %.200s: prenv sends the "
				     "credentials from %s only over https (plain http only to "
				     "loopback)", ref->host, ch->realm, cred->source);
	prenv_buf_printf(&scope, "repository:%s:pull", ref->path);
	prenv_buf_printf(&url, "%s%c", ch->realm, strchr(ch->realm, '?') ? '&' : '?');
	if (ch->service) {
		prenv_buf_adds(&url, "service=");
		http_url_escape(&url, ch->service);
		prenv_buf_addc(&url, '&');
	}
	prenv_buf_adds(&url, "scope=");
	http_url_escape(&url, scope.ptr);
	if (cred) {
		prenv_buf_printf(&basic, "Authorization: Basic %s", cred->basic);
		hdrs[1] = basic.ptr;
	}
	if (url.failed || basic.failed) {
		rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
		goto done;
	}
	rq.url = url.ptr;
	rc = http_do(r->http, &rq, &resp, err);
	if (resp.status == 401 || resp.status == 403) {
		rc = cred ? prenv_err_set(err, PRENV_EAUTH, "the token service of registry %s (%.200s) "
					  "refused the credentials from %s (HTTP %ld): check them",
					  ref->host, ch->realm, cred->source, resp.status)
			  : prenv_err_set(err, PRENV_EAUTH, "the token service of registry %s refuses "
					  "anonymous access to %s (HTTP %ld): give prenv credentials "
					  "for %s (docker login, or PRENV_REGISTRY_HOST, _USER and "
					  "_PASSWORD)", ref->host, ref->path, resp.status, ref->domain);
		goto done;
	}
	if (rc)
		goto done;
	doc = cJSON_ParseWithLength(resp.body.ptr, resp.body.len);
	tok = cJSON_GetObjectItemCaseSensitive(doc, "token");
	if (!cJSON_IsString(tok))
		tok = cJSON_GetObjectItemCaseSensitive(doc, "access_token");
	if (!cJSON_IsString(tok) || !token_chars_ok(tok->valuestring)) {
		rc = prenv_err_set(err, PRENV_EFAIL, "the token service of registry %s (%.200s) "
				   "answered without a token", ref->host, ch->realm);
		goto done;
	}
	log_add_secret(tok->valuestring);
	prenv_buf_printf(&h, "Authorization: Bearer %s", tok->valuestring);
	if (h.failed) {
		rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
		goto done;
	}
	*hdr_out = prenv_buf_detach(&h, NULL);
done:
	if (basic.len)
		explicit_bzero(basic.ptr, basic.len);
	prenv_buf_free(&basic);
	prenv_buf_free(&url);
	prenv_buf_free(&scope);
	prenv_buf_free(&h);
	cJSON_Delete(doc);
	http_response_free(&resp);
	return rc;
}

/* Answers the challenge of a 401: *hdr_out gets the Authorization line,
 * *source_out where the credentials came from ("anonymous": none); both
 * the caller's. */
static int answer_challenge(struct registry *r, const struct image_ref *ref,
			    const struct http_response *resp, char **hdr_out, char **source_out,
			    struct prenv_err *err)
{
	struct registry_challenge ch = REGISTRY_CHALLENGE_INIT;
	struct registry_cred cred = REGISTRY_CRED_INIT;
	struct prenv_buf h = PRENV_BUF_INIT;
	size_t i;
	int rc, have;

	for (i = 0; i < resp->nheaders; i++)
		if (!strcmp(resp->headers[i].name, "www-authenticate"))
			registry_challenge_add(&ch, resp->headers[i].value);
	have = registry_cred_find(&cred, r->envp, ref->domain, err);
	if (have < 0) {
		rc = have;
		goto done;
	}
	if (ch.scheme == REGISTRY_AUTH_BEARER) {
		rc = fetch_token(r, ref, &ch, have ? &cred : NULL, hdr_out, err);
	} else if (ch.scheme == REGISTRY_AUTH_BASIC && have) {
		prenv_buf_printf(&h, "Authorization: Basic %s", cred.basic);
		rc = h.failed ? prenv_err_set(err, PRENV_ENOMEM, "out of memory") : 0;
		if (!rc)
			*hdr_out = prenv_buf_detach(&h, NULL);
	} else if (ch.scheme == REGISTRY_AUTH_BASIC) {
		rc = prenv_err_set(err, PRENV_EAUTH,
				   "registry %s asks for credentials to read %s and prenv has none "
				   "for it: docker login %s (config.json in $DOCKER_CONFIG or "
				   "~/.docker), or set PRENV_REGISTRY_HOST=%s, PRENV_REGISTRY_USER "
				   "and PRENV_REGISTRY_PASSWORD", ref->domain, ref->path, ref->domain,
				   ref->domain);
	} else {
		rc = prenv_err_set(err, PRENV_EAUTH,
				   "registry %s answered 401 with %s%s%s: prenv speaks Basic and "
				   "Bearer (the distribution token flow)", ref->host,
				   ch.scheme == REGISTRY_AUTH_OTHER ? "the scheme \"" : "no challenge",
				   ch.scheme == REGISTRY_AUTH_OTHER ? ch.other : "",
				   ch.scheme == REGISTRY_AUTH_OTHER ? "\"" : "");
	}
	if (!rc && !(*source_out = strdup(have ? cred.source : "anonymous")))
		rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
done:
	if (h.len)
		explicit_bzero(h.ptr, h.len);
	prenv_buf_free(&h);
	registry_cred_free(&cred);
	registry_challenge_free(&ch);
	return rc;
}

/* ---- one look ---- */

static int head_manifest(struct registry *r, const char *url, const char *auth,
			 struct http_response *resp, struct prenv_err *err)
{
	const char *hdrs[] = { ACCEPT_MANIFESTS, auth, NULL };
	struct http_request rq = { .method = "HEAD", .url = url, .headers = hdrs };

	http_response_free(resp);
	return http_do(r->http, &rq, resp, err);
}

/* 401/403 after prenv answered the challenge. */
static int refused(const struct image_ref *ref, long status, const char *source,
		   struct prenv_err *err)
{
	if (!strcmp(source, "anonymous"))
		return prenv_err_set(err, PRENV_EAUTH,
				     "registry %s refuses anonymous access to %s (HTTP %ld): the "
				     "repository is private or does not exist; give prenv credentials "
				     "for %s (docker login, or PRENV_REGISTRY_HOST, _USER and "
				     "_PASSWORD)", ref->host, ref->path, status, ref->domain);
	return prenv_err_set(err, PRENV_EAUTH,
			     "registry %s refused the credentials from %s for %s (HTTP %ld): "
			     "check the user and password, and that they may pull %s",
			     ref->host, source, ref->path, status, ref->path);
}

static void take_digest(const struct http_response *resp, char **digest_out)
{
	const char *d = http_response_header(resp, "docker-content-digest");

	if (!digest_out)
		return;
	*digest_out = d && image_digest_valid(d) ? strdup(d) : NULL;
	if (d && !image_digest_valid(d))
		log_verbose("registry: ignoring a Docker-Content-Digest that is not a digest");
}

int registry_manifest(struct registry *r, const struct image_ref *ref, char **digest_out,
		      struct prenv_err *err)
{
	struct http_response resp = HTTP_RESPONSE_INIT;
	struct prenv_buf url = PRENV_BUF_INIT;
	struct auth_entry *e = auth_find(r, ref);
	char *hdr = NULL, *source = NULL;
	int rc, had_auth = e != NULL;

	if (digest_out)
		*digest_out = NULL;
	base_url(&url, ref->host);
	prenv_buf_printf(&url, "/v2/%s/manifests/%s", ref->path, image_ref_reference(ref));
	if (url.failed)
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	rc = head_manifest(r, url.ptr, e ? e->header : NULL, &resp, err);
	if (resp.status == 401) {
		rc = answer_challenge(r, ref, &resp, &hdr, &source, err);
		if (rc)
			goto done;
		rc = head_manifest(r, url.ptr, hdr, &resp, err);
		if (resp.status == 401 || resp.status == 403) {
			rc = refused(ref, resp.status, source, err);
			goto done;
		}
		rc = auth_keep(r, ref, hdr);
		hdr = NULL;
		if (rc) {
			prenv_err_set(err, rc, "out of memory");
			goto done;
		}
	}
	if (resp.status == 404) {
		prenv_err_clear(err);
		rc = 0;
	} else if (resp.status == 403) {
		rc = refused(ref, resp.status, had_auth ? "the credentials prenv used" : "anonymous", err);
	} else if (!rc && resp.status >= 200 && resp.status < 300) {
		take_digest(&resp, digest_out);
		rc = 1;
	} else if (!rc) {
		rc = prenv_err_set(err, PRENV_EFAIL, "registry %s: HEAD %s answered %ld", ref->host,
				   url.ptr, resp.status);
	}
done:
	free(hdr);
	free(source);
	prenv_buf_free(&url);
	http_response_free(&resp);
	return rc;
}

/* ---- waiting, falling back ---- */

static void sleep_ms(long ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* "10m", "90s", "1.5s" for messages. */
static void fmt_ms(char *out, size_t n, long ms)
{
	if (ms % 60000 == 0 && ms)
		snprintf(out, n, "%ldm", ms / 60000);
	else if (ms % 1000 == 0)
		snprintf(out, n, "%lds", ms / 1000);
	else
		snprintf(out, n, "%.1fs", (double)ms / 1000.0);
}

/* Looks at image until it exists or the deadline: 1 found, 0 not, <0. */
static int wait_for(struct registry *r, const struct image_ref *ref, const struct registry_check *chk,
		    double deadline, char **digest, int *looks, struct prenv_err *err)
{
	long interval = r->poll_first_ms;
	char dur[32];
	int rc;

	for (;;) {
		double now;

		rc = registry_manifest(r, ref, digest, err);
		(*looks)++;
		if (rc)
			return rc;
		now = fs_now_ms();
		if (now >= deadline)
			return 0;
		if (*looks == 1) {
			fmt_ms(dur, sizeof dur, chk->wait_ms);
			log_info("%s: image %s is not in its registry yet; waiting up to %s "
				 "(image_wait) for it", chk->what, chk->image, dur);
		}
		sleep_ms(interval < deadline - now ? interval : (long)(deadline - now));
		interval = interval * 2 < r->poll_max_ms ? interval * 2 : r->poll_max_ms;
	}
}

static int result_set(struct registry_result *out, const struct image_ref *ref, const char *image,
		      char *digest)
{
	out->digest = digest;
	out->image = digest && !ref->digest ? image_ref_pinned(ref, digest) : strdup(image);
	return out->image ? 0 : PRENV_ENOMEM;
}

static int missing(const struct registry_check *chk, const struct image_ref *ref,
		   const char *fallback, const char *no_fallback, struct prenv_err *err)
{
	char dur[32];

	fmt_ms(dur, sizeof dur, chk->wait_ms);
	if (no_fallback)
		return prenv_err_set(err, PRENV_EFAIL,
				     "%s: image %s is not in registry %s after waiting %s, and "
				     "on_missing: production has nothing to fall back to: %s; nothing "
				     "was deployed: push it, or raise image_wait", chk->what, chk->image,
				     ref->domain, dur, no_fallback);
	if (fallback)
		return prenv_err_set(err, PRENV_EFAIL,
				     "%s: image %s is not in registry %s after waiting %s, and "
				     "neither is the production image %s (on_missing: production): "
				     "push one of them, or raise image_wait", chk->what, chk->image,
				     ref->domain, dur, fallback);
	return prenv_err_set(err, PRENV_EFAIL,
			     "%s: image %s is not in registry %s after waiting %s (on_missing: "
			     "fail); nothing was deployed: push it (is its build done?), raise "
			     "image_wait, or set on_missing: production to deploy the production "
			     "image instead", chk->what, chk->image, ref->domain, dur);
}

/* The fallback after the image did not appear: 1 found (out set), 0 none
 * or missing too (err set), <0. */
static int fall_back(struct registry *r, const struct registry_check *chk,
		     const struct image_ref *ref, struct registry_result *out,
		     struct prenv_err *err)
{
	struct image_ref fb = IMAGE_REF_INIT;
	const char *why = NULL;
	char *made = NULL, *digest = NULL;
	const char *image = chk->fallback;
	int rc = 0;

	if (!image && chk->fallback_fn) {
		rc = chk->fallback_fn(chk->fallback_ud, &made, &why, err);
		image = made;
	}
	if (rc < 0)
		goto done;
	if (!image) {
		rc = missing(chk, ref, NULL, why, err);
		goto done;
	}
	rc = image_ref_parse(&fb, image, err);
	if (!rc)
		rc = registry_manifest(r, &fb, &digest, err);
	if (rc == 1) {
		log_warn("%s: image %s did not appear in time; deploying the production image %s "
			 "(on_missing: production)", chk->what, chk->image, image);
		out->fell_back = 1;
		rc = result_set(out, &fb, image, digest);
	} else if (rc == 0) {
		rc = missing(chk, ref, image, NULL, err);
	}
done:
	image_ref_free(&fb);
	free(made);
	return rc;
}

int registry_resolve(struct registry *r, const struct registry_check *chk, double start_ms,
		     struct registry_result *out, struct prenv_err *err)
{
	struct image_ref ref = IMAGE_REF_INIT;
	char *digest = NULL;
	int rc;

	rc = image_ref_parse(&ref, chk->image, err);
	if (!rc)
		rc = wait_for(r, &ref, chk, start_ms + (double)chk->wait_ms, &digest, &out->looks, err);
	if (rc == 1)
		rc = result_set(out, &ref, chk->image, digest);
	else if (rc == 0 && (chk->fallback || chk->fallback_fn))
		rc = fall_back(r, chk, &ref, out, err);
	else if (rc == 0)
		rc = missing(chk, &ref, NULL, NULL, err);
	if (rc == PRENV_ENOMEM)
		prenv_err_set(err, rc, "out of memory");
	image_ref_free(&ref);
	return rc;
}

void registry_result_free(struct registry_result *res)
{
	if (!res)
		return;
	free(res->image);
	free(res->digest);
	*res = (struct registry_result)REGISTRY_RESULT_INIT;
}
