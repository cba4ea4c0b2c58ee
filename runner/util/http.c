/* http.c - see http.h */
#include "util/http.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/fs.h"
#ifdef PRENV_STATIC
#include "util/cabundle.h"
#endif

#include <curl/curl.h>
#include "util/lazylib.h"

/* The oldest libcurl prenv builds with: 7.77 (CURLOPT_CAINFO_BLOB); the
 * Makefile checks it with pkg-config first, this says it again if the
 * headers differ. 7.85's CURLOPT_PROTOCOLS_STR is used when present. */
#if LIBCURL_VERSION_NUM < 0x074d00
#error "prenv needs libcurl >= 7.77.0 (Debian/Ubuntu: apt-get install libcurl4-openssl-dev); see README, Building"
#endif

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

/* libcurl is loaded on first use in the dynamic build (util/lazylib.h;
 * the Makefile defines PRENV_LAZY_CURL, its soname): a command that makes no
 * request never loads it. Every call goes through LC(), which is the
 * function itself when libcurl is linked (LAZY=0, static builds). */
#define CURL_FUNCS(X) X(curl_easy_cleanup) X(curl_easy_getinfo) X(curl_easy_init) \
	X(curl_easy_setopt) X(curl_easy_strerror) X(curl_getdate) X(curl_global_cleanup) \
	X(curl_global_init) X(curl_multi_add_handle) X(curl_multi_cleanup) \
	X(curl_multi_info_read) X(curl_multi_init) X(curl_multi_perform) X(curl_multi_poll) \
	X(curl_multi_remove_handle) X(curl_multi_setopt) X(curl_multi_wakeup) \
	X(curl_share_cleanup) X(curl_share_init) X(curl_share_setopt) X(curl_slist_append) \
	X(curl_slist_free_all) X(curl_version_info)
#ifdef PRENV_LAZY_CURL
LAZYLIB_DEFINE(lc_lib, "libcurl", PRENV_LAZY_CURL, PRENV_LAZY_DIR, CURL_FUNCS);
#define LC(f) LAZYLIB_FN(lc_lib, f)
#define LC_LOAD(err) lazylib_load(&lc_lib, (err))
#else
#define LC(f) f
#define LC_LOAD(err) ((void)(err), 0)
#endif

#ifndef PRENV_VERSION
#define PRENV_VERSION "dev"
#endif

#define DEF_CONNECT_TIMEOUT_MS 10000L
#define DEF_TIMEOUT_MS 60000L
#define DEF_MAX_ATTEMPTS 4
#define DEF_BACKOFF_BASE_MS 500L
#define DEF_BACKOFF_MAX_MS 8000L
#define DEF_MAX_WAIT_MS 60000L
#define DEF_MAX_BODY ((size_t)256 << 20)
#define DEF_PARALLEL 8
#define SECONDARY_MIN_WAIT_MS 60000L

struct http_client {
	CURLM *multi;
	CURLSH *share;
	struct http_client_opts o;   /* pointers borrowed except the copies below */
	char *user_agent;
	char *ca_file, *cert_file, *key_file;
	void *ca_blob, *cert_blob, *key_blob;
	double sleep_scale;          /* from PRENV_HTTP_SLEEP_SCALE; 1 in production */
	unsigned long nsent;
	unsigned long nconnects;     /* new connections made (CURLINFO_NUM_CONNECTS) */
	unsigned long nh2;           /* responses that came over HTTP/2 */
	uint64_t rng;
	const char *warned[8];       /* optional options refused (logged once) */
	size_t nwarned;
};

enum xstate { X_PENDING, X_RUNNING, X_DONE };

/* One request in flight (http_do, http_do_many and http_stream_lines all run
 * through the same multi loop). */
struct xfer {
	struct http_client *c;
	const struct http_request *req;
	struct http_response *resp;
	struct prenv_err *err;
	const char *method;
	int idempotent;
	char *shown_url;             /* redacted */
	CURL *easy;
	struct curl_slist *hdrs;
	enum xstate state;
	int rc;
	double not_before;           /* monotonic ms */
	double started;
	long timeout_ms;
	size_t max_body;
	int body_too_big;
	char errbuf[CURL_ERROR_SIZE];
	/* streaming */
	int (*on_line)(void *ud, const char *line, size_t len);
	void *ud;
	struct prenv_buf line;
	int delivered;               /* a line went to on_line: never retry */
	int stopped;                 /* on_line asked to stop */
};

/* ---- global init: reference counted so the last free cleans up ---- */

static int global_refs;

/* PRENV_HTTP_TIMEOUT: seconds a request may take (1..3600), else 60. */
static long env_timeout_ms(void)
{
	const char *v = getenv("PRENV_HTTP_TIMEOUT");
	char *end;
	long s;

	if (!v || !*v)
		return DEF_TIMEOUT_MS;
	s = strtol(v, &end, 10);
	if (*end || s < 1 || s > 3600)
		return DEF_TIMEOUT_MS;
	return s * 1000;
}

static int global_ref(void)
{
	if (global_refs++ == 0 && LC(curl_global_init)(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		global_refs = 0;
		return -1;
	}
	return 0;
}

static void global_unref(void)
{
	if (global_refs > 0 && --global_refs == 0)
		LC(curl_global_cleanup)();
}

/* ---- small helpers ---- */

static uint64_t rng_next(struct http_client *c)
{
	/* xorshift64*: jitter only, not security. */
	uint64_t x = c->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	c->rng = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static void *memprenv_strdup(const void *p, size_t n)
{
	void *d;

	if (!p || !n)
		return NULL;
	d = malloc(n);
	if (d)
		memcpy(d, p, n);
	return d;
}

static void wipe_free(void *p, size_t n)
{
	if (p) {
		explicit_bzero(p, n);
		free(p);
	}
}

static int method_is(const char *m, const char *what)
{
	return strcasecmp(m, what) == 0;
}

static int infer_idempotent(const char *m)
{
	return method_is(m, "GET") || method_is(m, "HEAD") || method_is(m, "PUT") ||
	       method_is(m, "DELETE") || method_is(m, "OPTIONS");
}

/* Parses a bounded non-negative decimal integer; -1 when s is not one. */
static long long parse_num(const char *s, long long max)
{
	long long v = 0;

	if (!s)
		return -1;
	while (*s == ' ' || *s == '\t')
		s++;
	if (!isdigit((unsigned char)*s))
		return -1;
	for (; isdigit((unsigned char)*s); s++) {
		v = v * 10 + (*s - '0');
		if (v > max)
			return -1;
	}
	while (*s == ' ' || *s == '\t')
		s++;
	return *s ? -1 : v;
}

/* ---- URLs ---- */

int http_url_escape(struct prenv_buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
			prenv_buf_addc(out, (char)ch);
		} else {
			char e[3] = { '%', hex[ch >> 4], hex[ch & 15] };

			prenv_buf_add(out, e, 3);
		}
	}
	return out->failed ? -1 : 0;
}

static int secret_param(const char *name, size_t n)
{
	static const char *const words[] = { "token", "secret", "password", "passwd",
					     "key", "sig", "auth", "code", "credential" };
	size_t w, i;

	for (w = 0; w < sizeof(words) / sizeof(words[0]); w++) {
		size_t wl = strlen(words[w]);

		for (i = 0; i + wl <= n; i++)
			if (strncasecmp(name + i, words[w], wl) == 0)
				return 1;
	}
	return 0;
}

int http_url_redact(struct prenv_buf *out, const char *url)
{
	const char *scheme = strstr(url, "://");
	const char *p = url, *q;

	if (scheme) {
		const char *auth = scheme + 3;
		size_t alen = strcspn(auth, "/?#");
		const char *at = memchr(auth, '@', alen);

		prenv_buf_add(out, url, (size_t)(auth - url));
		if (at) {
			prenv_buf_adds(out, "***@");
			p = at + 1;
		} else {
			p = auth;
		}
	}
	q = strchr(p, '?');
	if (!q)
		return prenv_buf_adds(out, p);
	prenv_buf_add(out, p, (size_t)(q + 1 - p));
	p = q + 1;
	while (*p && *p != '#') {
		size_t plen = strcspn(p, "&#");
		const char *eq = memchr(p, '=', plen);

		if (eq && secret_param(p, (size_t)(eq - p))) {
			prenv_buf_add(out, p, (size_t)(eq + 1 - p));
			prenv_buf_adds(out, "***");
		} else {
			prenv_buf_add(out, p, plen);
		}
		p += plen;
		if (*p == '&') {
			prenv_buf_addc(out, '&');
			p++;
		}
	}
	/* The fragment is never sent; leave it out. */
	return out->failed ? -1 : 0;
}

/* ---- responses ---- */

const char *http_response_header(const struct http_response *resp, const char *name)
{
	size_t i;

	for (i = 0; i < resp->nheaders; i++)
		if (strcasecmp(resp->headers[i].name, name) == 0)
			return resp->headers[i].value;
	return NULL;
}

static void headers_clear(struct http_response *resp)
{
	size_t i;

	for (i = 0; i < resp->nheaders; i++) {
		free(resp->headers[i].name);
		free(resp->headers[i].value);
	}
	free(resp->headers);
	resp->headers = NULL;
	resp->nheaders = 0;
}

void http_response_free(struct http_response *resp)
{
	if (!resp)
		return;
	headers_clear(resp);
	prenv_buf_free(&resp->body);
	free(resp->content_type);
	resp->content_type = NULL;
	resp->status = 0;
	resp->attempts = 0;
	resp->retry_after_ms = -1;
}

/* Resets what one attempt fills; keeps attempts. */
static void response_reset(struct http_response *resp, size_t max_body)
{
	headers_clear(resp);
	prenv_buf_free(&resp->body);
	prenv_buf_init(&resp->body, max_body);
	free(resp->content_type);
	resp->content_type = NULL;
	resp->status = 0;
	resp->retry_after_ms = -1;
}

/* ---- curl callbacks ---- */

static size_t on_header(char *data, size_t size, size_t nitems, void *ud)
{
	struct xfer *x = ud;
	struct http_response *r = x->resp;
	size_t n = size * nitems, nl, vs, ve;
	struct http_header *nh;
	const char *colon;
	char *name, *value;

	if (n >= 5 && memcmp(data, "HTTP/", 5) == 0) {
		/* A new response (after a redirect or 100 Continue). */
		headers_clear(r);
		return n;
	}
	colon = memchr(data, ':', n);
	if (!colon || colon == data)
		return n;
	nl = (size_t)(colon - data);
	vs = nl + 1;
	ve = n;
	while (vs < ve && (data[vs] == ' ' || data[vs] == '\t'))
		vs++;
	while (ve > vs && (data[ve - 1] == '\r' || data[ve - 1] == '\n' ||
			   data[ve - 1] == ' ' || data[ve - 1] == '\t'))
		ve--;
	if (r->nheaders >= 1000)
		return n; /* ignore absurd header counts */
	name = strndup(data, nl);
	value = strndup(data + vs, ve - vs);
	nh = realloc(r->headers, (r->nheaders + 1) * sizeof(*nh));
	if (!name || !value || !nh) {
		free(name);
		free(value);
		if (nh)
			r->headers = nh;
		return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
	}
	for (char *p = name; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	r->headers = nh;
	r->headers[r->nheaders].name = name;
	r->headers[r->nheaders].value = value;
	r->nheaders++;
	return n;
}

static int deliver_lines(struct xfer *x, int final)
{
	struct prenv_buf *b = &x->line;
	size_t start = 0;

	for (;;) {
		char *nl = memchr(b->ptr + start, '\n', b->len - start);
		size_t end, len;
		char saved;
		int stop;

		if (!nl) {
			if (!final || start >= b->len)
				break;
			end = b->len;
		} else {
			end = (size_t)(nl - b->ptr);
		}
		len = end - start;
		if (len && b->ptr[start + len - 1] == '\r')
			len--;
		saved = b->ptr[start + len];
		b->ptr[start + len] = '\0';
		x->delivered = 1;
		stop = x->on_line(x->ud, b->ptr + start, len);
		b->ptr[start + len] = saved;
		start = nl ? end + 1 : b->len;
		if (stop) {
			x->stopped = 1;
			break;
		}
	}
	if (start) {
		memmove(b->ptr, b->ptr + start, b->len - start);
		prenv_buf_truncate(b, b->len - start);
	}
	return x->stopped ? -1 : 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t n = size * nmemb;
	long status = 0;

	if (x->on_line) {
		LC(curl_easy_getinfo)(x->easy, CURLINFO_RESPONSE_CODE, &status);
		if (status >= 200 && status < 300) {
			if (prenv_buf_add(&x->line, data, n) < 0) {
				x->body_too_big = 1;
				return 0;
			}
			return deliver_lines(x, 0) < 0 ? 0 : n;
		}
	}
	if (prenv_buf_add(&x->resp->body, data, n) < 0) {
		x->body_too_big = 1;
		return 0;
	}
	return n;
}

/* ---- client ---- */

int http_client_new(struct http_client **out, const struct http_client_opts *o,
		    struct prenv_err *err)
{
	static const struct http_client_opts none;
	struct http_client *c = NULL;
	struct prenv_buf ua = PRENV_BUF_INIT;
	const char *scale;
	int rc = PRENV_ENOMEM;

	*out = NULL;
	if (!o)
		o = &none;
	if (LC_LOAD(err) < 0)
		return err ? err->code : PRENV_EFAIL;
	if (global_ref() < 0)
		return prenv_err_set(err, PRENV_EFAIL, "cannot initialise libcurl");
	c = calloc(1, sizeof(*c));
	if (!c) {
		global_unref();
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	}
	c->o = *o;
	if (c->o.connect_timeout_ms <= 0)
		c->o.connect_timeout_ms = DEF_CONNECT_TIMEOUT_MS;
	if (c->o.timeout_ms <= 0)
		c->o.timeout_ms = env_timeout_ms();
	if (c->o.max_attempts <= 0)
		c->o.max_attempts = DEF_MAX_ATTEMPTS;
	if (c->o.backoff_base_ms <= 0)
		c->o.backoff_base_ms = DEF_BACKOFF_BASE_MS;
	if (c->o.backoff_max_ms <= 0)
		c->o.backoff_max_ms = DEF_BACKOFF_MAX_MS;
	if (c->o.max_wait_ms <= 0)
		c->o.max_wait_ms = DEF_MAX_WAIT_MS;
	if (!c->o.max_body_bytes)
		c->o.max_body_bytes = DEF_MAX_BODY;
	/* Keep private copies of everything borrowed. */
	c->o.user_agent_extra = NULL;
	c->ca_file = prenv_strdup(o->ca_file);
	c->cert_file = prenv_strdup(o->cert_file);
	c->key_file = prenv_strdup(o->key_file);
	c->ca_blob = memprenv_strdup(o->ca_blob, o->ca_blob_len);
	c->cert_blob = memprenv_strdup(o->cert_blob, o->cert_len);
	c->key_blob = memprenv_strdup(o->key_blob, o->key_len);
	if ((o->ca_file && !c->ca_file) || (o->cert_file && !c->cert_file) ||
	    (o->key_file && !c->key_file) || (o->ca_blob && o->ca_blob_len && !c->ca_blob) ||
	    (o->cert_blob && o->cert_len && !c->cert_blob) ||
	    (o->key_blob && o->key_len && !c->key_blob))
		goto done;

	prenv_buf_adds(&ua, "prenv/" PRENV_VERSION);
	if (o->user_agent_extra && *o->user_agent_extra)
		prenv_buf_printf(&ua, " %s", o->user_agent_extra);
	if (ua.failed)
		goto done;
	c->user_agent = prenv_buf_detach(&ua, NULL);

	c->sleep_scale = 1.0;
	scale = getenv("PRENV_HTTP_SLEEP_SCALE");
	if (scale && *scale) {
		char *end;
		double v = strtod(scale, &end);

		/* Only ever shortens waits (tests); nonsense is ignored. */
		if (*end == '\0' && v >= 0.0 && v <= 1.0)
			c->sleep_scale = v;
	}
	c->rng = ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid() ^
		 (uint64_t)(uintptr_t)c ^ (uint64_t)fs_now_ms();
	if (!c->rng)
		c->rng = 0x9E3779B97F4A7C15ULL;

	c->multi = LC(curl_multi_init)();
	c->share = LC(curl_share_init)();
	if (!c->multi || !c->share) {
		rc = prenv_err_set(err, PRENV_EFAIL, "cannot create a libcurl handle");
		goto done_set;
	}
	LC(curl_share_setopt)(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	LC(curl_share_setopt)(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	LC(curl_multi_setopt)(c->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	LC(curl_multi_setopt)(c->multi, CURLMOPT_MAXCONNECTS, 32L);
	*out = c;
	return 0;

done:
	rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
done_set:
	prenv_buf_free(&ua);
	http_client_free(c);
	return rc;
}

void http_client_free(struct http_client *c)
{
	if (!c)
		return;
	if (c->nsent)
		log_verbose("http: %lu request%s sent over %lu connection%s%s", c->nsent,
			    c->nsent == 1 ? "" : "s", c->nconnects, c->nconnects == 1 ? "" : "s",
			    c->nh2 ? " (HTTP/2)" : "");
	if (c->multi)
		LC(curl_multi_cleanup)(c->multi);
	if (c->share)
		LC(curl_share_cleanup)(c->share);
	free(c->user_agent);
	free(c->ca_file);
	free(c->cert_file);
	free(c->key_file);
	free(c->ca_blob);
	wipe_free(c->cert_blob, c->o.cert_len);
	wipe_free(c->key_blob, c->o.key_len);
	free(c);
	global_unref();
}

unsigned long http_client_request_count(const struct http_client *c)
{
	return c ? c->nsent : 0;
}

/* ---- one attempt ---- */

static void xfer_release_easy(struct xfer *x)
{
	struct curl_slist *h;

	if (x->easy) {
		LC(curl_multi_remove_handle)(x->c->multi, x->easy);
		LC(curl_easy_cleanup)(x->easy);
		x->easy = NULL;
	}
	/* The Authorization line holds the token: wipe before freeing. */
	for (h = x->hdrs; h; h = h->next)
		explicit_bzero(h->data, strlen(h->data));
	LC(curl_slist_free_all)(x->hdrs);
	x->hdrs = NULL;
}

static int append_header(struct curl_slist **list, const char *line)
{
	struct curl_slist *n = LC(curl_slist_append)(*list, line);

	if (!n)
		return -1;
	*list = n;
	return 0;
}

static int has_header(const char *const *hdrs, const char *name)
{
	size_t nl = strlen(name);

	for (; hdrs && *hdrs; hdrs++)
		if (strncasecmp(*hdrs, name, nl) == 0 && (*hdrs)[nl] == ':')
			return 1;
	return 0;
}

/* The request's header lines, "Expect:" (no 100-continue wait) unless the
 * caller set one, and the bearer token. -1 when out of memory. */
static int xfer_headers(struct xfer *x)
{
	const struct http_request *r = x->req;
	const char *const *h;
	struct prenv_buf a = PRENV_BUF_INIT;
	int bad;

	for (h = r->headers; h && *h; h++)
		if (append_header(&x->hdrs, *h) < 0)
			return -1;
	if (!has_header(r->headers, "Expect") && append_header(&x->hdrs, "Expect:") < 0)
		return -1;
	if (!r->bearer_token || !*r->bearer_token)
		return 0;
	log_add_secret(r->bearer_token);
	prenv_buf_printf(&a, "Authorization: Bearer %s", r->bearer_token);
	bad = a.failed || append_header(&x->hdrs, a.ptr) < 0;
	explicit_bzero(a.ptr, a.len);
	prenv_buf_free(&a);
	return bad ? -1 : 0;
}

/* ---- setting a request's options: every curl_easy_setopt() is checked ---- */

/* One request's options being set. A refused essential option is kept (the
 * first one) and fails the request before it is sent; a refused optional one
 * (a speed-up such as HTTP/2 or compression) is logged once per client at -v. */
struct optset {
	struct http_client *c;
	CURL *e;
	const char *refused;         /* the first essential option libcurl refused */
	CURLcode code;
};

#define OPT_ESSENTIAL 1
#define OPT_OPTIONAL 0
/* SETOPT(os, CURLOPT_X, value[, OPT_OPTIONAL]): curl_easy_setopt, checked;
 * the option's name goes into the error. */
#define SETOPT(os, opt, val) optset_check((os), LC(curl_easy_setopt)((os)->e, opt, val), #opt, OPT_ESSENTIAL)
#define SETOPT_OPTIONAL(os, opt, val) \
	optset_check((os), LC(curl_easy_setopt)((os)->e, opt, val), #opt, OPT_OPTIONAL)

static void optset_check(struct optset *os, CURLcode rc, const char *name, int essential)
{
	struct http_client *c = os->c;
	size_t i;

	if (rc == CURLE_OK)
		return;
	if (essential) {
		if (!os->refused) {
			os->refused = name;
			os->code = rc;
		}
		return;
	}
	for (i = 0; i < c->nwarned; i++)
		if (c->warned[i] == name)
			return;
	if (c->nwarned < sizeof(c->warned) / sizeof(c->warned[0]))
		c->warned[c->nwarned++] = name;
	log_verbose("libcurl %s refused %s (%s); going on without it",
		    LC(curl_version_info)(CURLVERSION_NOW)->version, name, LC(curl_easy_strerror)(rc));
}

/* The request's error for a refused essential option: which, libcurl's
 * reason and (for an option this libcurl lacks) what to do. */
static int optset_error(const struct optset *os, const struct xfer *x)
{
	int lacks = os->code == CURLE_UNKNOWN_OPTION || os->code == CURLE_NOT_BUILT_IN;
	size_t n = strlen(x->shown_url);

	return prenv_err_set(x->err, PRENV_EFAIL,
			     "%s %.200s%s: cannot set up the request: libcurl %s refused %s: %s%s",
			     x->method, x->shown_url, n > 200 ? "..." : "",
			     LC(curl_version_info)(CURLVERSION_NOW)->version, os->refused,
			     LC(curl_easy_strerror)(os->code),
			     lacks ? "; prenv needs libcurl 7.77 or later built with OpenSSL "
				     "(Debian/Ubuntu: libcurl4-openssl-dev), then rebuild prenv" : "");
}

/* Only http and https, for the request and for redirects. */
static void set_protocols(struct optset *os)
{
#if LIBCURL_VERSION_NUM >= 0x075500 && !defined(PRENV_CURL_NO_PROTOCOLS_STR)
	SETOPT(os, CURLOPT_PROTOCOLS_STR, "http,https");
	SETOPT(os, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
	/* libcurl < 7.85 (Ubuntu 22.04 has 7.81): the bitmask, deprecated since. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	SETOPT(os, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
	SETOPT(os, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#pragma GCC diagnostic pop
#endif
}

/* What every request sets: URL, callbacks, protocols, timeouts. */
static void xfer_set_common(struct xfer *x, struct optset *os)
{
	struct http_client *c = x->c;

	SETOPT(os, CURLOPT_URL, x->req->url);
	SETOPT(os, CURLOPT_PRIVATE, (void *)x);
	SETOPT(os, CURLOPT_SHARE, c->share);
	SETOPT(os, CURLOPT_NOSIGNAL, 1L);
	SETOPT(os, CURLOPT_ERRORBUFFER, x->errbuf);
	SETOPT(os, CURLOPT_USERAGENT, c->user_agent);
	SETOPT(os, CURLOPT_HTTPHEADER, x->hdrs);
	set_protocols(os);
	SETOPT_OPTIONAL(os, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	SETOPT_OPTIONAL(os, CURLOPT_PIPEWAIT, 1L);
	if (!x->idempotent)
		/* libcurl silently resends a request once when a reused
		 * connection dies before any reply; a request that must not
		 * be sent twice therefore gets a connection of its own. */
		SETOPT(os, CURLOPT_FRESH_CONNECT, 1L);
	SETOPT(os, CURLOPT_CONNECTTIMEOUT_MS, c->o.connect_timeout_ms);
	SETOPT(os, CURLOPT_TIMEOUT_MS, x->timeout_ms);
	SETOPT_OPTIONAL(os, CURLOPT_ACCEPT_ENCODING, "");
	SETOPT(os, CURLOPT_HEADERFUNCTION, on_header);
	SETOPT(os, CURLOPT_HEADERDATA, (void *)x);
	SETOPT(os, CURLOPT_WRITEFUNCTION, on_body);
	SETOPT(os, CURLOPT_WRITEDATA, (void *)x);
	if (x->on_line) {
		/* A watch may be quiet for long; keep the connection alive. */
		SETOPT_OPTIONAL(os, CURLOPT_TCP_KEEPALIVE, 1L);
		SETOPT_OPTIONAL(os, CURLOPT_ACCEPT_ENCODING, (char *)NULL);
	}
}

/* The method and its body. */
static void xfer_set_method(struct xfer *x, struct optset *os)
{
	const struct http_request *r = x->req;

	if (method_is(x->method, "GET")) {
		SETOPT(os, CURLOPT_HTTPGET, 1L);
		/* Redirects are followed for reads only (unless the caller
		 * says no_redirects); curl drops the Authorization header
		 * when the host changes, not the caller's other headers. */
		SETOPT(os, CURLOPT_FOLLOWLOCATION, r->no_redirects ? 0L : 1L);
		SETOPT(os, CURLOPT_MAXREDIRS, 5L);
	} else if (method_is(x->method, "HEAD")) {
		SETOPT(os, CURLOPT_NOBODY, 1L);
	} else {
		if (r->body || method_is(x->method, "POST")) {
			SETOPT(os, CURLOPT_POSTFIELDS, r->body ? r->body : "");
			SETOPT(os, CURLOPT_POSTFIELDSIZE_LARGE,
			       (curl_off_t)(r->body ? r->body_len : 0));
		}
		SETOPT(os, CURLOPT_CUSTOMREQUEST, x->method);
	}
}

/* The client's TLS settings: verification, CA, client certificate and key
 * (CURL_BLOB_NOCOPY: the blobs are the client's own copies, which live as
 * long as the client). All essential: a CA or a client key that libcurl
 * (or its TLS library) does not take must not be dropped silently. */
static void xfer_set_tls(const struct http_client *c, struct optset *os)
{
#ifdef PRENV_STATIC
	/* the system's bundle, wherever this system keeps it (looked up once) */
	const char *sys_ca = c->ca_file || c->ca_blob ? NULL : ca_bundle_find();
#endif

	if (c->o.insecure) {
		SETOPT(os, CURLOPT_SSL_VERIFYPEER, 0L);
		SETOPT(os, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (c->ca_file)
		SETOPT(os, CURLOPT_CAINFO, c->ca_file);
#ifdef PRENV_STATIC
	else if (sys_ca)
		SETOPT(os, CURLOPT_CAINFO, sys_ca);
#endif
	if (c->ca_blob) {
		struct curl_blob b = { c->ca_blob, c->o.ca_blob_len, CURL_BLOB_NOCOPY };

		SETOPT(os, CURLOPT_CAINFO_BLOB, &b);
	}
	if (c->cert_file)
		SETOPT(os, CURLOPT_SSLCERT, c->cert_file);
	if (c->key_file)
		SETOPT(os, CURLOPT_SSLKEY, c->key_file);
	if (c->cert_blob) {
		struct curl_blob b = { c->cert_blob, c->o.cert_len, CURL_BLOB_NOCOPY };

		SETOPT(os, CURLOPT_SSLCERTTYPE, "PEM");
		SETOPT(os, CURLOPT_SSLCERT_BLOB, &b);
	}
	if (c->key_blob) {
		struct curl_blob b = { c->key_blob, c->o.key_len, CURL_BLOB_NOCOPY };

		SETOPT(os, CURLOPT_SSLKEYTYPE, "PEM");
		SETOPT(os, CURLOPT_SSLKEY_BLOB, &b);
	}
}

static int xfer_start(struct xfer *x)
{
	struct http_client *c = x->c;
	struct optset os = { NULL, NULL, NULL, CURLE_OK };
	CURL *e;

	x->errbuf[0] = '\0';
	x->body_too_big = 0;
	response_reset(x->resp, x->max_body);
	prenv_buf_reset(&x->line);
	e = x->easy = LC(curl_easy_init)();
	if (!e)
		return prenv_err_set(x->err, PRENV_ENOMEM, "out of memory");
	if (xfer_headers(x) < 0) {
		xfer_release_easy(x);
		return prenv_err_set(x->err, PRENV_ENOMEM, "out of memory");
	}
	os.c = c;
	os.e = e;
	xfer_set_common(x, &os);
	xfer_set_method(x, &os);
	xfer_set_tls(c, &os);
	if (os.refused) {
		int rc = optset_error(&os, x);

		xfer_release_easy(x);
		return rc;
	}
	if (LC(curl_multi_add_handle)(c->multi, e) != CURLM_OK) {
		xfer_release_easy(x);
		return prenv_err_set(x->err, PRENV_EFAIL, "%s %s: cannot start the request",
				     x->method, x->shown_url);
	}
	x->state = X_RUNNING;
	x->started = fs_now_ms();
	x->resp->attempts++;
	c->nsent++;
	return 0;
}

/* ---- deciding what happened ---- */

/* The server's own message from a JSON error body, or NULL (caller frees). */
static char *server_message(const struct http_response *r)
{
	cJSON *j, *m;
	char *out = NULL;

	if (r->body.len && r->content_type && strncasecmp(r->content_type, "text/plain", 10) == 0) {
		/* A proxy's or load balancer's plain-text answer: its first line. */
		size_t n = strcspn(r->body.ptr, "\r\n"), i;

		if (n > 160)
			n = 160;
		for (i = 0; i < n; i++)
			if ((unsigned char)r->body.ptr[i] < 0x20)
				return NULL;
		return n ? strndup(r->body.ptr, n) : NULL;
	}
	if (!r->body.len || r->body.ptr[0] != '{')
		return NULL;
	j = cJSON_ParseWithLength(r->body.ptr, r->body.len);
	if (!j)
		return NULL;
	m = cJSON_GetObjectItemCaseSensitive(j, "message");
	if (cJSON_IsString(m) && m->valuestring[0])
		out = strdup(m->valuestring);
	cJSON_Delete(j);
	return out;
}

/* Retry-After as milliseconds (seconds or an HTTP-date), or -1. */
static long retry_after_ms(const struct http_response *r)
{
	const char *v = http_response_header(r, "retry-after");
	long long s;
	time_t t;

	if (!v)
		return -1;
	s = parse_num(v, 86400LL * 365);
	if (s >= 0)
		return (long)(s * 1000);
	t = LC(curl_getdate)(v, NULL);
	if (t == (time_t)-1)
		return -1;
	return t > time(NULL) ? (long)(t - time(NULL)) * 1000 : 0;
}

static int body_mentions(const struct http_response *r, const char *needle)
{
	size_t nl = strlen(needle), i;

	for (i = 0; i + nl <= r->body.len; i++)
		if (strncasecmp(r->body.ptr + i, needle, nl) == 0)
			return 1;
	return 0;
}

enum verdict { V_DONE, V_RETRY, V_FAIL };

struct decision {
	enum verdict v;
	long wait_ms;        /* -1: backoff */
	int rate_limited;
	int unsafe;          /* would retry, but the request is not idempotent */
	char why[CURL_ERROR_SIZE + 96]; /* for the retry log line and the final error */
};

static void decide_status(struct xfer *x, struct decision *d)
{
	struct http_client *c = x->c;
	struct http_response *r = x->resp;
	long st = r->status, ra = retry_after_ms(r);
	const char *remaining = http_response_header(r, "x-ratelimit-remaining");
	const char *reset = http_response_header(r, "x-ratelimit-reset");

	if (!remaining) {
		/* GitLab's names for the same thing. */
		remaining = http_response_header(r, "ratelimit-remaining");
		reset = http_response_header(r, "ratelimit-reset");
	}

	r->retry_after_ms = ra;
	if (st < 400) {
		d->v = V_DONE;
		return;
	}
	d->v = V_FAIL;
	if (st == 403 || st == 429) {
		int primary = remaining && parse_num(remaining, 1LL << 40) == 0;
		int secondary = ra >= 0 || body_mentions(r, "secondary rate limit");

		if (primary && ra < 0) {
			long long rs = parse_num(reset, 1LL << 40);
			/* A second of margin: the reset is in whole seconds and
			 * clocks differ. An unreadable reset: plain backoff. */
			long long wait = rs >= 0 ? (rs - (long long)time(NULL)) * 1000 + 1000 : -1;

			d->rate_limited = 1;
			if (rs >= 0 && wait < 1000)
				wait = 1000;
			r->retry_after_ms = (long)wait;
			if (rs >= 0 && wait > c->o.max_wait_ms) {
				time_t t = (time_t)rs;
				struct tm tm;
				char when[32] = "unknown";

				if (gmtime_r(&t, &tm))
					strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
				snprintf(d->why, sizeof(d->why),
					 "rate limit exhausted until %s (longer than the %ld s wait cap)",
					 when, c->o.max_wait_ms / 1000);
				return;
			}
			snprintf(d->why, sizeof(d->why), "HTTP %ld, rate limit exhausted", st);
			d->wait_ms = (long)wait;
		} else if (st == 429 || secondary) {
			long wait = ra;

			if (st == 403 && !secondary)
				return; /* an ordinary permission error */
			d->rate_limited = 1;
			if (wait < 0)
				wait = st == 429 && !body_mentions(r, "secondary rate limit") ?
					-1 : SECONDARY_MIN_WAIT_MS;
			if (wait > c->o.max_wait_ms) {
				if (x->idempotent)
					log_info("http: %s %s: the server asks to wait %ld s; "
						 "waiting the cap of %ld s", x->method, x->shown_url,
						 wait / 1000, c->o.max_wait_ms / 1000);
				wait = c->o.max_wait_ms;
			}
			snprintf(d->why, sizeof(d->why), "HTTP %ld%s", st,
				 d->rate_limited ? ", rate limited" : "");
			d->wait_ms = wait;
		} else {
			return;
		}
		if (x->idempotent)
			d->v = V_RETRY;
		else
			d->unsafe = 1;
		return;
	}
	if (st == 502 || st == 503 || st == 504) {
		snprintf(d->why, sizeof(d->why), "HTTP %ld", st);
		d->wait_ms = ra >= 0 ? (ra > c->o.max_wait_ms ? c->o.max_wait_ms : ra) : -1;
		if (x->idempotent)
			d->v = V_RETRY;
		else
			d->unsafe = 1;
	}
}

static void decide_transport(struct xfer *x, CURLcode cc, struct decision *d)
{
	int not_sent = cc == CURLE_COULDNT_RESOLVE_HOST || cc == CURLE_COULDNT_RESOLVE_PROXY ||
		       cc == CURLE_COULDNT_CONNECT;
	int broken = cc == CURLE_SEND_ERROR || cc == CURLE_RECV_ERROR ||
		     cc == CURLE_GOT_NOTHING || cc == CURLE_PARTIAL_FILE ||
		     cc == CURLE_OPERATION_TIMEDOUT || cc == CURLE_HTTP2 ||
		     cc == CURLE_HTTP2_STREAM;

	d->v = V_FAIL;
	d->wait_ms = -1;
	snprintf(d->why, sizeof(d->why), "%s", x->errbuf[0] ? x->errbuf : LC(curl_easy_strerror)(cc));
	if (x->delivered || x->stopped || x->body_too_big)
		return;
	/* A stream that reached its time ended its slice: the caller decides
	 * what comes next, and the overall deadline stays the caller's. */
	if (x->on_line && cc == CURLE_OPERATION_TIMEDOUT)
		return;
	if (not_sent || (broken && x->idempotent))
		d->v = V_RETRY;
	else if (broken)
		d->unsafe = 1;
}

static long backoff_ms(struct http_client *c, int attempt)
{
	long cap = c->o.backoff_base_ms;
	int i;

	for (i = 1; i < attempt && cap < c->o.backoff_max_ms; i++)
		cap *= 2;
	if (cap > c->o.backoff_max_ms)
		cap = c->o.backoff_max_ms;
	/* Full jitter: uniform in [0, cap]. */
	return (long)(rng_next(c) % (uint64_t)(cap + 1));
}

static long scaled_wait(struct http_client *c, long ms)
{
	if (c->o.delay_hook)
		return c->o.delay_hook(c->o.delay_ud, ms);
	return (long)((double)ms * c->sleep_scale);
}

static int status_code(long st, int rate_limited)
{
	if (st == 404)
		return PRENV_ENOTFOUND;
	if ((st == 401 || st == 403) && !rate_limited)
		return PRENV_EAUTH;
	return PRENV_EFAIL;
}

static void fail_status(struct xfer *x, const struct decision *d)
{
	struct http_response *r = x->resp;
	char *msg = server_message(r);
	struct prenv_buf extra = PRENV_BUF_INIT;

	if (d->why[0] && d->rate_limited)
		prenv_buf_printf(&extra, " (%s)", d->why);
	if (r->attempts > 1)
		prenv_buf_printf(&extra, " (gave up after %d attempts)", r->attempts);
	if (d->unsafe)
		prenv_buf_printf(&extra, " (not retried: a %s may not be sent twice)", x->method);
	x->rc = prenv_err_set(x->err, status_code(r->status, d->rate_limited),
			      "%s %s: HTTP %ld%s%s%s", x->method, x->shown_url, r->status,
			      msg ? ": " : "", msg ? msg : "", extra.ptr);
	free(msg);
	prenv_buf_free(&extra);
}

static void fail_transport(struct xfer *x, CURLcode cc, const struct decision *d)
{
	struct prenv_buf extra = PRENV_BUF_INIT;

	if (x->resp->attempts > 1)
		prenv_buf_printf(&extra, " (gave up after %d attempts)", x->resp->attempts);
	if (d->unsafe)
		prenv_buf_printf(&extra, " (not retried: the server may have received this %s)",
				 x->method);
	if (x->body_too_big)
		x->rc = prenv_err_set(x->err, PRENV_EFAIL,
				      "%s %s: the response is larger than %zu bytes",
				      x->method, x->shown_url, x->max_body);
	else if (cc == CURLE_OPERATION_TIMEDOUT)
		x->rc = prenv_err_set(x->err, HTTP_ETIMEDOUT, "%s %s: timed out: %s%s",
				      x->method, x->shown_url, d->why, extra.ptr);
	else
		x->rc = prenv_err_set(x->err, PRENV_EFAIL, "%s %s: %s%s", x->method,
				      x->shown_url, d->why, extra.ptr);
	prenv_buf_free(&extra);
}

/* Called when an attempt ended: finishes x or schedules the next attempt. */
/* How many connections this transfer opened, and whether it spoke HTTP/2
 * (the -v summary: one connection multiplexed, or the HTTP/1.1 pool). */
static void count_connection(struct http_client *c, CURL *e)
{
	long n = 0, ver = 0;

	if (LC(curl_easy_getinfo)(e, CURLINFO_NUM_CONNECTS, &n) == CURLE_OK && n > 0)
		c->nconnects += (unsigned long)n;
	if (LC(curl_easy_getinfo)(e, CURLINFO_HTTP_VERSION, &ver) == CURLE_OK &&
	    ver == CURL_HTTP_VERSION_2_0)
		c->nh2++;
}

static void xfer_finished(struct xfer *x, CURLcode cc)
{
	struct http_client *c = x->c;
	struct http_response *r = x->resp;
	struct decision d;
	double ms = fs_now_ms() - x->started;
	char *ct = NULL;

	memset(&d, 0, sizeof(d));
	d.wait_ms = -1;
	LC(curl_easy_getinfo)(x->easy, CURLINFO_RESPONSE_CODE, &r->status);
	LC(curl_easy_getinfo)(x->easy, CURLINFO_CONTENT_TYPE, &ct);
	count_connection(c, x->easy);
	if (ct)
		r->content_type = strdup(ct);
	if (x->stopped)
		cc = CURLE_OK; /* on_line asked to stop: a normal end */

	if (cc == CURLE_OK) {
		if (x->on_line && !x->stopped && r->status >= 200 && r->status < 300)
			deliver_lines(x, 1);
		log_verbose("http: %s %s -> %ld (%.0f ms, attempt %d)", x->method,
			    x->shown_url, r->status, ms, r->attempts);
		decide_status(x, &d);
	} else {
		log_verbose("http: %s %s -> error: %s (%.0f ms, attempt %d)", x->method,
			    x->shown_url, x->errbuf[0] ? x->errbuf : LC(curl_easy_strerror)(cc),
			    ms, r->attempts);
		decide_transport(x, cc, &d);
	}
	xfer_release_easy(x);

	if (d.v == V_RETRY && r->attempts < c->o.max_attempts) {
		long wait = d.wait_ms >= 0 ? d.wait_ms : backoff_ms(c, r->attempts);
		long real = scaled_wait(c, wait);

		if (d.rate_limited || wait >= 5000)
			log_info("http: %s %s: %s; waiting %.1f s before attempt %d of %d",
				 x->method, x->shown_url, d.why, wait / 1000.0,
				 r->attempts + 1, c->o.max_attempts);
		else
			log_verbose("http: %s %s: %s; retrying in %ld ms (attempt %d of %d)",
				    x->method, x->shown_url, d.why, wait,
				    r->attempts + 1, c->o.max_attempts);
		x->state = X_PENDING;
		x->not_before = fs_now_ms() + (double)(real > 0 ? real : 0);
		return;
	}
	x->state = X_DONE;
	if (cc != CURLE_OK)
		fail_transport(x, cc, &d);
	else if (d.v != V_DONE)
		fail_status(x, &d);
	else
		x->rc = 0;
}

/* ---- the loop ---- */

/* Ends the streams whose caller asked to stop: a normal end (0). Returns
 * how many were running. */
static int cancel_streams(struct xfer *xs, size_t n, size_t *done)
{
	int ended = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		struct xfer *x = &xs[i];

		if (x->state == X_DONE || !x->on_line || !x->req->cancelled ||
		    !x->req->cancelled(x->req->cancel_ud))
			continue;
		if (x->state == X_RUNNING)
			ended++;
		x->stopped = 1;
		xfer_release_easy(x);
		x->state = X_DONE;
		x->rc = 0;
		(*done)++;
	}
	return ended;
}

void http_client_wakeup(struct http_client *c)
{
	if (c)
		LC(curl_multi_wakeup)(c->multi);
}

static int run_xfers(struct http_client *c, struct xfer *xs, size_t n, int max_parallel)
{
	size_t done = 0, i;
	int running = 0;

	if (max_parallel <= 0)
		max_parallel = DEF_PARALLEL;
	for (i = 0; i < n; i++)
		if (xs[i].state == X_DONE)
			done++;
	while (done < n) {
		double now = fs_now_ms(), next = -1;
		int still = 0, nfds = 0, left;
		long timeout;
		CURLMsg *m;

		running -= cancel_streams(xs, n, &done);
		if (done >= n)
			break;
		for (i = 0; i < n && running < max_parallel; i++) {
			if (xs[i].state != X_PENDING || xs[i].not_before > now)
				continue;
			int src = xfer_start(&xs[i]);

			if (src < 0) {
				xs[i].state = X_DONE;
				xs[i].rc = src;
				done++;
				continue;
			}
			running++;
		}
		LC(curl_multi_perform)(c->multi, &still);
		while ((m = LC(curl_multi_info_read)(c->multi, &left))) {
			struct xfer *x;
			void *priv = NULL;

			if (m->msg != CURLMSG_DONE)
				continue;
			LC(curl_easy_getinfo)(m->easy_handle, CURLINFO_PRIVATE, &priv);
			x = priv;
			running--;
			xfer_finished(x, m->data.result);
			if (x->state == X_DONE)
				done++;
		}
		if (done >= n)
			break;
		/* How long may we sleep? Until curl has work or a retry is due. */
		now = fs_now_ms();
		for (i = 0; i < n; i++)
			if (xs[i].state == X_PENDING && (next < 0 || xs[i].not_before < next))
				next = xs[i].not_before;
		if (next >= 0 && running < max_parallel)
			timeout = next <= now ? 0 : (long)(next - now) + 1;
		else
			timeout = 1000;
		if (timeout > 1000)
			timeout = 1000;
		if (timeout > 0)
			LC(curl_multi_poll)(c->multi, NULL, 0, (int)timeout, &nfds);
	}
	return 0;
}

static int xfer_init(struct xfer *x, struct http_client *c, const struct http_request *req,
		     struct http_response *resp, struct prenv_err *err)
{
	struct prenv_buf u = PRENV_BUF_INIT;

	memset(x, 0, sizeof(*x));
	x->c = c;
	x->req = req;
	x->resp = resp;
	x->err = err;
	x->method = req->method && *req->method ? req->method : "GET";
	if (req->idempotent == HTTP_IDEMPOTENT_YES)
		x->idempotent = 1;
	else if (req->idempotent == HTTP_IDEMPOTENT_NO)
		x->idempotent = 0;
	else
		x->idempotent = infer_idempotent(x->method);
	x->timeout_ms = c->o.timeout_ms;
	x->max_body = c->o.max_body_bytes;
	x->state = X_PENDING;
	prenv_buf_init(&x->line, x->max_body);
	resp->attempts = 0;
	resp->retry_after_ms = -1;
	if (!req->url || !*req->url) {
		x->state = X_DONE;
		x->rc = prenv_err_set(err, PRENV_EFAIL, "%s: no URL given", x->method);
		return x->rc;
	}
	if (http_url_redact(&u, req->url) < 0) {
		x->state = X_DONE;
		x->rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
		return x->rc;
	}
	x->shown_url = prenv_buf_detach(&u, NULL);
	return 0;
}

static void xfer_cleanup(struct xfer *x)
{
	xfer_release_easy(x);
	free(x->shown_url);
	x->shown_url = NULL;
	prenv_buf_free(&x->line);
}

int http_do_many(struct http_client *c, const struct http_request *reqs,
		 struct http_response *resps, size_t n, int max_parallel,
		 struct prenv_err *errs)
{
	struct xfer *xs;
	size_t i;
	int rc = 0;

	if (!n)
		return 0;
	xs = calloc(n, sizeof(*xs));
	if (!xs) {
		for (i = 0; errs && i < n; i++)
			prenv_err_set(&errs[i], PRENV_ENOMEM, "out of memory");
		return PRENV_ENOMEM;
	}
	for (i = 0; i < n; i++)
		xfer_init(&xs[i], c, &reqs[i], &resps[i], errs ? &errs[i] : NULL);
	run_xfers(c, xs, n, max_parallel);
	for (i = 0; i < n; i++) {
		if (xs[i].rc && !rc)
			rc = xs[i].rc;
		xfer_cleanup(&xs[i]);
	}
	free(xs);
	return rc;
}

int http_do(struct http_client *c, const struct http_request *req,
	    struct http_response *resp, struct prenv_err *err)
{
	struct xfer x;
	int rc;

	xfer_init(&x, c, req, resp, err);
	run_xfers(c, &x, 1, 1);
	rc = x.rc;
	xfer_cleanup(&x);
	return rc;
}

int http_stream_lines(struct http_client *c, const struct http_request *req,
		      long timeout_ms,
		      int (*on_line)(void *ud, const char *line, size_t len),
		      void *ud, long *status_out, struct prenv_err *err)
{
	struct http_response resp = HTTP_RESPONSE_INIT;
	struct xfer x;
	int rc;

	xfer_init(&x, c, req, &resp, err);
	x.on_line = on_line;
	x.ud = ud;
	x.timeout_ms = timeout_ms > 0 ? timeout_ms : 0;
	run_xfers(c, &x, 1, 1);
	rc = x.rc;
	if (status_out)
		*status_out = resp.status;
	xfer_cleanup(&x);
	http_response_free(&resp);
	return rc;
}
