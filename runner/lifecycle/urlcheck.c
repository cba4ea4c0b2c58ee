/* urlcheck.c - the URL check after a deploy (see urlcheck.h). */
#include "lifecycle/urlcheck.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/plan.h"
#include "util/err.h"
#include "util/fs.h"
#include "util/http.h"
#include "util/log.h"

#define CHECK_MAX_BODY (8u << 20)   /* bytes kept of an answer */
#define CHECK_REQ_MAX_MS 30000L      /* one request at most */
#define CHECK_CONNECT_MAX_MS 10000L
#define CHECK_WAIT_FIRST_MS 1000L    /* between attempts: 1 s, x1.5, at most 5 s */
#define CHECK_WAIT_MAX_MS 5000L
#define CHECK_LAST_MS 100L          /* less left than this: no further attempt */
#define EXCERPT_LINES 5
#define EXCERPT_COLS 200

static int add_header(struct urlcheck *uc, const char *name, const char *value,
		      struct prenv_err *err)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	char **n = realloc(uc->headers, (uc->nheaders + 2) * sizeof(*n));

	if (!n)
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	uc->headers = n;
	prenv_buf_printf(&b, "%s: %s", name, value);
	if (b.failed)
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	uc->headers[uc->nheaders++] = prenv_buf_detach(&b, NULL);
	uc->headers[uc->nheaders] = NULL;
	return 0;
}

/* One entry of check.headers_from_env: the variable must be set. */
static int env_header(struct urlcheck *uc, const struct prenv_config *cfg, const cJSON *h,
		      struct prenv_err *err)
{
	const char *v = getenv(h->valuestring);
	struct prenv_buf key = PRENV_BUF_INIT;
	int line = cfg->check.line, col = cfg->check.col, plain;

	if (v && *v) {
		if (strpbrk(v, "\r\n"))
			return prenv_err_set(err, PRENV_ECONFIG, "check header '%s': $%s holds more "
					     "than one line", h->string, h->valuestring);
		log_add_secret(v);
		return add_header(uc, h->string, v, err);
	}
	prenv_buf_printf(&key, "check.headers_from_env.%s", h->string);
	if (!key.failed)
		config_template_pos(cfg, key.ptr, &line, &col, &plain);
	prenv_buf_free(&key);
	return prenv_err_set_at(err, PRENV_ECONFIG, cfg->path, line, col,
				"check header '%s' comes from $%s, which is %s; set it in the CI job "
				"or remove the header", h->string, h->valuestring, v ? "empty" : "not set");
}

int urlcheck_prepare(struct urlcheck *uc, const struct prenv_config *cfg,
		     const struct prenv_plan *plan, struct prenv_err *err)
{
	const cJSON *h;
	int rc = 0;

	memset(uc, 0, sizeof(*uc));
	if (!cfg->check.enabled)
		return 0;
	uc->ck = &cfg->check;
	uc->cfg_path = cfg->path;
	uc->url = plan->check_url;
	cJSON_ArrayForEach(h, plan->check_headers)
		if ((rc = add_header(uc, h->string, h->valuestring, err)) < 0)
			return rc;
	cJSON_ArrayForEach(h, cfg->check.headers_from_env)
		if ((rc = env_header(uc, cfg, h, err)) < 0)
			return rc;
	return 0;
}

void urlcheck_free(struct urlcheck *uc)
{
	size_t i;

	for (i = 0; i < uc->nheaders; i++)
		free(uc->headers[i]);
	free(uc->headers);
	memset(uc, 0, sizeof(*uc));
}

char *urlcheck_join(const char *base, const char *path)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	size_t n = strlen(base);

	if (!path)
		return strdup(base);
	if (n && base[n - 1] == '/')
		n--;
	prenv_buf_add(&b, base, n);
	prenv_buf_adds(&b, path);
	return b.failed ? (prenv_buf_free(&b), NULL) : prenv_buf_detach(&b, NULL);
}

int urlcheck_expected(const struct config_check *ck, long status, const char *body, size_t len)
{
	if (status < ck->status_lo || status > ck->status_hi)
		return 0;
	return !ck->contains || (body && memmem(body, len, ck->contains, strlen(ck->contains)));
}

/* The length of the valid UTF-8 sequence at s (2-4), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t k, i;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		k = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		k = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		k = 4;
	else
		return 0;
	if (k > n)
		return 0;
	for (i = 1; i < k; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return k;
}

/* One line (no '\n'), at most max_cols bytes of it. */
static void excerpt_line(struct prenv_buf *b, const unsigned char *s, size_t n, size_t max_cols)
{
	size_t i = 0, k;

	while (i < n && i < max_cols) {
		if (s[i] >= 0x20 && s[i] < 0x7f) {
			prenv_buf_addc(b, (char)s[i++]);
		} else if (s[i] == '\t') {
			prenv_buf_addc(b, ' ');
			i++;
		} else if (s[i] >= 0x80 && (k = utf8_len(s + i, n - i)) > 0) {
			prenv_buf_add(b, (const char *)s + i, k);
			i += k;
		} else {
			prenv_buf_printf(b, "\\x%02x", s[i++]);
		}
	}
	if (i < n)
		prenv_buf_adds(b, "...");
}

void urlcheck_excerpt(struct prenv_buf *b, const char *body, size_t len, int max_lines,
		      size_t max_cols)
{
	const unsigned char *p = (const unsigned char *)body, *z = p + len;
	int lines = 0;

	while (body && p < z && lines < max_lines) {
		const unsigned char *e = memchr(p, '\n', (size_t)(z - p)), *t;

		if (!e)
			e = z;
		for (t = e; t > p && (t[-1] == '\r' || t[-1] == ' ' || t[-1] == '\t'); t--)
			;
		if (t > p) {
			if (lines++)
				prenv_buf_addc(b, '\n');
			excerpt_line(b, p, (size_t)(t - p), max_cols);
		}
		p = e + 1;
	}
}

/* What the last attempt got. */
struct attempt {
	long status;        /* 0: no answer */
	char why[512];      /* the connection / TLS / timeout error, or "" */
	struct prenv_buf excerpt;
};

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0)
		;
}

/* An http.c message without its leading "GET <url>: " (said already). */
static const char *without_request(const char *msg)
{
	const char *sp = strncmp(msg, "GET ", 4) ? NULL : strchr(msg + 4, ' ');

	return sp && sp[-1] == ':' && sp[1] ? sp + 1 : msg;
}

/* One GET; 1 when it answered as expected. at is overwritten. */
static int attempt_once(const struct urlcheck *uc, const char *url, long remaining_ms,
			struct attempt *at)
{
	struct http_client_opts o = { 0 };
	struct http_client *c = NULL;
	struct http_response resp = HTTP_RESPONSE_INIT;
	struct http_request rq = { 0 };
	struct prenv_err e = PRENV_ERR_INIT;
	int ok = 0, rc;

	o.user_agent_extra = "url-check";
	o.connect_timeout_ms = remaining_ms < CHECK_CONNECT_MAX_MS ? remaining_ms : CHECK_CONNECT_MAX_MS;
	o.timeout_ms = remaining_ms < CHECK_REQ_MAX_MS ? remaining_ms : CHECK_REQ_MAX_MS;
	o.max_attempts = 1;
	o.max_body_bytes = CHECK_MAX_BODY;
	rq.method = "GET";
	rq.url = url;
	rq.headers = (const char *const *)uc->headers; /* no token: bearer_token stays NULL */
	rq.no_redirects = 1; /* the headers go to this URL's server only */
	at->status = 0;
	at->why[0] = '\0';
	prenv_buf_reset(&at->excerpt);
	if ((rc = http_client_new(&c, &o, &e)) == 0)
		rc = http_do(c, &rq, &resp, &e);
	at->status = resp.status;
	if (resp.status > 0) {
		ok = urlcheck_expected(uc->ck, resp.status, resp.body.ptr, resp.body.len);
		urlcheck_excerpt(&at->excerpt, resp.body.ptr, resp.body.len, EXCERPT_LINES, EXCERPT_COLS);
	} else {
		snprintf(at->why, sizeof(at->why), "%s", rc == HTTP_ETIMEDOUT ? "no answer in time: " : "");
		snprintf(at->why + strlen(at->why), sizeof(at->why) - strlen(at->why), "%s",
			 e.msg && e.msg[0] ? without_request(e.msg) : "no answer");
	}
	prenv_err_clear(&e);
	http_response_free(&resp);
	http_client_free(c);
	return ok;
}

/* "200", "200-399", then ' with "text" in the body'. */
static void want_text(struct prenv_buf *b, const struct config_check *ck)
{
	if (ck->status_lo == ck->status_hi)
		prenv_buf_printf(b, "%d", ck->status_lo);
	else
		prenv_buf_printf(b, "%d-%d", ck->status_lo, ck->status_hi);
	if (ck->contains)
		prenv_buf_printf(b, " with \"%s\" in the body", ck->contains);
}

/* The failure: err's one line, and the body's first lines in the log. */
static int check_failed(const struct urlcheck *uc, const char *url, const struct attempt *at,
			int attempts, double secs, struct prenv_err *err)
{
	struct prenv_buf want = PRENV_BUF_INIT;

	want_text(&want, uc->ck);
	if (at->status > 0)
		prenv_err_set(err, PRENV_EFAIL, "URL check failed: GET %s answered %ld, expected %s "
			      "(%d attempt%s in %.0fs; check.timeout is %lds)", url, at->status,
			      want.failed ? "?" : want.ptr, attempts, attempts == 1 ? "" : "s", secs,
			      uc->ck->timeout_seconds);
	else
		prenv_err_set(err, PRENV_EFAIL, "URL check failed: GET %s got no answer: %s "
			      "(%d attempt%s in %.0fs; check.timeout is %lds)", url, at->why, attempts,
			      attempts == 1 ? "" : "s", secs, uc->ck->timeout_seconds);
	prenv_buf_free(&want);
	if (at->excerpt.len && !at->excerpt.failed) {
		log_info("URL check: %s answered %ld; the first lines of its body (untrusted text):",
			 url, at->status);
		log_block(at->excerpt.ptr);
	} else if (at->status > 0) {
		log_info("URL check: %s answered %ld with an empty body", url, at->status);
	}
	return PRENV_EFAIL;
}

/* The URL to ask, malloc'd; NULL with err when there is none (*skip set
 * for a file:// URL). */
static char *check_target(const struct urlcheck *uc, const char *deploy_url, int *skip,
			  struct prenv_err *err)
{
	const char *base = uc->url ? uc->url : deploy_url;
	char *u;

	*skip = 0;
	if (!base || !*base) {
		prenv_err_set(err, PRENV_EFAIL, "URL check: this deploy has no URL to check; set `url` "
			      "or `check.url` in %s", uc->cfg_path);
		return NULL;
	}
	if (!strncmp(base, "file://", 7)) {
		log_info("URL check skipped: %s is a file:// URL (a directory, no server to ask); set "
			 "`check.url` to the server that serves it", base);
		*skip = 1;
		return NULL;
	}
	if (strncmp(base, "http://", 7) && strncmp(base, "https://", 8)) {
		prenv_err_set(err, PRENV_EFAIL, "URL check: '%s' is not an http:// or https:// URL; set "
			      "`check.url` in %s", base, uc->cfg_path);
		return NULL;
	}
	if (!(u = urlcheck_join(base, uc->ck->path)))
		prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	return u;
}

int urlcheck_run(const struct urlcheck *uc, const char *deploy_url, struct prenv_err *err)
{
	struct attempt at = { 0, "", PRENV_BUF_INIT };
	double start = fs_now_ms(), deadline;
	long wait = CHECK_WAIT_FIRST_MS;
	int attempts = 0, skip, rc = 0;
	char *url;

	if (!uc->ck)
		return 0;
	if (!(url = check_target(uc, deploy_url, &skip, err)))
		return skip ? 0 : err->code;
	deadline = start + (double)uc->ck->timeout_seconds * 1000.0;
	want_text(&at.excerpt, uc->ck);
	log_info("checking %s (expecting %s, for up to %lds)", url,
		 at.excerpt.failed ? "?" : at.excerpt.ptr, uc->ck->timeout_seconds);
	for (;;) {
		long left = (long)(deadline - fs_now_ms());

		attempts++;
		if (attempt_once(uc, url, left > CHECK_LAST_MS ? left : CHECK_LAST_MS, &at))
			break;
		log_verbose("URL check attempt %d: %s", attempts, at.status ? "unexpected answer" : at.why);
		if (at.status)
			log_verbose("  status %ld", at.status);
		left = (long)(deadline - fs_now_ms());
		if (left < CHECK_LAST_MS) {
			rc = check_failed(uc, url, &at, attempts, (fs_now_ms() - start) / 1000.0, err);
			break;
		}
		/* the last attempt comes at the deadline itself */
		sleep_ms(wait < left - CHECK_LAST_MS ? wait : left - CHECK_LAST_MS);
		wait = wait * 3 / 2 < CHECK_WAIT_MAX_MS ? wait * 3 / 2 : CHECK_WAIT_MAX_MS;
	}
	if (!rc)
		log_info("URL check passed: %s answered %ld (attempt %d, %.1fs)", url, at.status,
			 attempts, (fs_now_ms() - start) / 1000.0);
	prenv_buf_free(&at.excerpt);
	free(url);
	return rc;
}
