/* http.h - the HTTP client every network edge uses (Kubernetes API, GitHub,
 * GitLab). The only module that includes <curl/curl.h>.
 *
 * One struct http_client per run. It owns one curl multi handle (its
 * connection cache is shared by every request, so sequential and parallel
 * requests reuse connections; HTTP/2 is negotiated over TLS when the server
 * offers it and parallel requests are multiplexed) and a share handle for
 * DNS and TLS sessions. Proxies come from the environment exactly as curl
 * reads them (http_proxy, https_proxy, HTTPS_PROXY, all_proxy, NO_PROXY).
 *
 * Retries (bounded by opts.max_attempts, default 4), with exponential backoff
 * and full jitter unless the server names a wait:
 *   - the connection failed before the request was sent (could not resolve,
 *     could not connect): any method;
 *   - the connection broke after sending (reset, empty reply, timeout),
 *     or HTTP 502/503/504: idempotent requests only;
 *   - HTTP 429, and GitHub's rate limits (403 or 429 with Retry-After,
 *     "x-ratelimit-remaining: 0" with "x-ratelimit-reset", or a body that
 *     mentions a "secondary rate limit"): idempotent requests only, after
 *     the wait the server asks for (Retry-After seconds or HTTP-date; the
 *     reset time; at least 60 s for a secondary limit without Retry-After),
 *     capped at opts.max_wait_ms (default 60 s; a log line says when the cap
 *     cut a wait short). A primary rate limit that resets later than the cap
 *     fails at once with the reset time in the message.
 * A non-idempotent request (POST, PATCH unless the caller marks it) is never
 * sent twice: once it may have reached the server it is not retried; the
 * caller re-reads and decides (resp->retry_after_ms tells it what the server
 * asked for).
 *
 * Every attempt is logged at -v: method, URL (user info and token-like query
 * values masked), status or curl error, milliseconds, attempt number. A bearer
 * token is registered with log_add_secret() and never appears in any output.
 *
 * Errors: http_do() returns 0 for a 1xx-3xx final response; otherwise a
 * negative PRENV_E* code with err naming the method, the masked URL, the
 * status and the server's own "message" (Kubernetes Status, GitHub and
 * GitLab error bodies), and resp still holds the final response (status,
 * headers, body) so the caller can branch on resp->status. Codes:
 * 401/403 -> PRENV_EAUTH (a rate-limit 403 -> PRENV_EFAIL), 404 ->
 * PRENV_ENOTFOUND, a timeout -> HTTP_ETIMEDOUT, anything else -> PRENV_EFAIL.
 *
 * Use:
 *	struct http_response resp = HTTP_RESPONSE_INIT;
 *	const char *hdrs[] = { "Accept: application/json", NULL };
 *	struct http_request rq = { .method = "GET", .url = url.ptr,
 *				   .headers = hdrs, .bearer_token = token };
 *	rc = http_do(client, &rq, &resp, err);
 *	if (rc == PRENV_ENOTFOUND) ... else if (rc) return rc;
 *	... resp.body.ptr, http_response_header(&resp, "link") ...
 *	http_response_free(&resp);
 * Build URLs with http_url_escape() for every untrusted piece.
 */
#ifndef PRENV_HTTP_H
#define PRENV_HTTP_H

#include <stddef.h>

#include "util/buf.h"
#include "util/err.h"

/* Returned when the connect or overall timeout expired (exit code 1). */
#define HTTP_ETIMEDOUT (-20)

struct http_client;

struct http_client_opts {
	const char *user_agent_extra; /* appended: "prenv/<version> <extra>" */
	long connect_timeout_ms;      /* 0: 10 s */
	long timeout_ms;              /* whole request; 0: $PRENV_HTTP_TIMEOUT seconds, else 60 s */
	int max_attempts;             /* 0: 4 */
	long backoff_base_ms;         /* 0: 500 ms (first retry waits 0..base) */
	long backoff_max_ms;          /* 0: 8 s */
	long max_wait_ms;             /* cap on server-requested waits; 0: 60 s */
	size_t max_body_bytes;        /* cap on a response body; 0: 256 MiB */

	/* TLS. Blobs are copied by curl and never written to disk. */
	const char *ca_file;
	const void *ca_blob;      /* PEM */
	size_t ca_blob_len;
	const void *cert_blob;    /* PEM client certificate */
	size_t cert_len;
	const void *key_blob;     /* PEM private key */
	size_t key_len;
	const char *cert_file, *key_file;
	int insecure;             /* skip peer and host verification */

	/* Tests: called with every computed retry wait; returns the wait to
	 * actually use. NULL: wait the full time (scaled by the environment
	 * variable PRENV_HTTP_SLEEP_SCALE, a factor in [0, 1], for e2e tests). */
	long (*delay_hook)(void *ud, long delay_ms);
	void *delay_ud;
};

/* http_request.idempotent. A zero-initialised request infers it from the
 * method: GET HEAD PUT DELETE OPTIONS are idempotent, POST PATCH are not.
 * Mark a server-side-apply PATCH with HTTP_IDEMPOTENT_YES. (-1 also means
 * "infer", for callers written against the first sketch of this API.) */
#define HTTP_IDEMPOTENT_AUTO 0
#define HTTP_IDEMPOTENT_YES 1
#define HTTP_IDEMPOTENT_NO 2

struct http_request {
	const char *method;               /* NULL: "GET" */
	const char *url;
	const char *const *headers;       /* "Name: value", NULL-terminated; may be NULL */
	const char *body;                 /* may be NULL */
	size_t body_len;
	int idempotent;                   /* HTTP_IDEMPOTENT_* below */
	const char *bearer_token;         /* sent as "Authorization: Bearer ..." */
	/* http_stream_lines only: asked between reads (and whenever the
	 * client is woken with http_client_wakeup()); returning non-zero ends
	 * the stream at once as a normal end (0). NULL: never. */
	int (*cancelled)(void *ud);
	void *cancel_ud;
	/* GET: the final response is a 3xx itself, not where it points
	 * (0, the default: follow, at most 5). Last, so positional
	 * initialisers stay valid. */
	int no_redirects;
};

struct http_header {
	char *name;   /* lower-case */
	char *value;  /* trimmed */
};

struct http_response {
	long status;              /* 0 when no response was received */
	struct prenv_buf body;
	char *content_type;       /* NULL when absent */
	struct http_header *headers; /* of the final response */
	size_t nheaders;
	int attempts;             /* attempts sent for this request */
	long retry_after_ms;      /* what the server asked for, -1 if nothing */
};

#define HTTP_RESPONSE_INIT { 0, PRENV_BUF_INIT, NULL, NULL, 0, 0, -1 }

/* Creates a client. o may be NULL (all defaults). */
int http_client_new(struct http_client **out, const struct http_client_opts *o,
		    struct prenv_err *err);
void http_client_free(struct http_client *c);

/* Wakes a client that is waiting in a call on another thread (so a
 * stream sees its cancelled() at once). Safe from any thread. */
void http_client_wakeup(struct http_client *c);

/* Attempts actually sent by this client (retries included). */
unsigned long http_client_request_count(const struct http_client *c);

/* One request, with the retry rules above. resp must be initialised with
 * HTTP_RESPONSE_INIT (or freed with http_response_free()); it is filled
 * with the final response even when an error is returned. */
int http_do(struct http_client *c, const struct http_request *req,
	    struct http_response *resp, struct prenv_err *err);

/* n requests, at most max_parallel (0: 8) in flight at once, over the
 * client's reused connections, each with the same retry rules. resps and
 * errs are arrays of n (errs may be NULL). Returns 0 when all succeeded,
 * else the code of the first failed request (by index). */
int http_do_many(struct http_client *c, const struct http_request *reqs,
		 struct http_response *resps, size_t n, int max_parallel,
		 struct prenv_err *errs);

/* Streams a response body line by line (watch). on_line gets each complete
 * line without its "\n" (and "\r"), NUL-terminated at line[len]; a last
 * line without "\n" is delivered at the end. Returning non-zero from
 * on_line stops the stream: the call then returns 0. timeout_ms (0: none)
 * bounds the whole stream; expiry returns HTTP_ETIMEDOUT and is never
 * retried (a quiet stream that reaches its time is an ended slice, not a
 * failure to repeat). Other failures are retried as http_do() until the
 * first line was delivered, never after. A stream that ends normally (the
 * server closed it, e.g. a watch's timeoutSeconds) leaves its connection
 * for the next request. A non-2xx
 * response is not split into lines: it becomes the error. status_out may
 * be NULL. */
int http_stream_lines(struct http_client *c, const struct http_request *req,
		      long timeout_ms,
		      int (*on_line)(void *ud, const char *line, size_t len),
		      void *ud, long *status_out, struct prenv_err *err);

/* The value of the first header called name (case-insensitive) of the final
 * response, or NULL. Borrowed: valid until http_response_free(). */
const char *http_response_header(const struct http_response *resp,
				 const char *name);
/* Frees the contents; resp is left as HTTP_RESPONSE_INIT. */
void http_response_free(struct http_response *resp);

/* Appends s percent-encoded (everything except A-Z a-z 0-9 - . _ ~), for a
 * path segment or a query name or value. Untrusted text enters URLs only
 * through this. Returns 0 or -1 (out of memory; out is then failed). */
int http_url_escape(struct prenv_buf *out, const char *s);

/* Appends url with user info and the values of token-like query parameters
 * (names containing token, secret, password, key, sig, auth or code)
 * replaced by "***" - the form used in logs and error messages. */
int http_url_redact(struct prenv_buf *out, const char *url);

#endif
