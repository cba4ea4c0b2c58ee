/* test_http.c - the HTTP client against test/servers/fault_server.py.
 *
 * The server is started once (127.0.0.1, ephemeral port, no shell) and
 * stopped by PID at the end. Each test uses its own script keys, so tests do
 * not depend on each other; tests that count connections reset the server's
 * counters first. Retry waits go through the client's delay hook, which
 * records the wait the client computed and shortens the real one.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <dirent.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/http.h"
#include "util/log.h"

extern char **environ;

static pid_t server_pid = -1;
static int server_port;
static char base[64];

/* ---- the delay hook ---- */

static struct {
	int calls;
	long last_ms;
	long total_ms;
} delays;

static long record_delay(void *ud, long ms)
{
	(void)ud;
	delays.calls++;
	delays.last_ms = ms;
	delays.total_ms += ms;
	return ms > 20 ? 20 : ms;
}

static void delays_reset(void)
{
	memset(&delays, 0, sizeof(delays));
}

/* ---- server ---- */

/* Starts the fault server with extra arguments (NULL-terminated); fills the
 * PID and port. Returns 0 or -1. */
static int spawn_server(const char *const *extra, pid_t *pid, int *port)
{
	const char *script = getenv("PRENV_FAULT_SERVER");
	const char *py = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
	posix_spawn_file_actions_t fa;
	char *argv[16];
	char line[64];
	size_t got = 0, k = 0;
	int fds[2], rc;

	if (!script)
		script = "test/servers/fault_server.py";
	if (access(script, R_OK) != 0) {
		fprintf(stderr, "test_http: %s not found (run from the repository root "
				"or set PRENV_FAULT_SERVER)\n", script);
		return -1;
	}
	argv[k++] = (char *)py;
	argv[k++] = (char *)script;
	argv[k++] = (char *)"--lifetime";
	argv[k++] = (char *)"600";
	for (; extra && *extra && k < 15; extra++)
		argv[k++] = (char *)*extra;
	argv[k] = NULL;
	if (pipe(fds) != 0)
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	posix_spawn_file_actions_addclose(&fa, fds[0]);
	posix_spawn_file_actions_addclose(&fa, fds[1]);
	rc = posix_spawnp(pid, py, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	if (rc != 0) {
		close(fds[0]);
		return -1;
	}
	while (got < sizeof(line) - 1) {
		ssize_t n = read(fds[0], line + got, 1);

		if (n <= 0 || line[got] == '\n')
			break;
		got += (size_t)n;
	}
	line[got] = '\0';
	close(fds[0]);
	if (sscanf(line, "PORT %d", port) != 1 || *port <= 0) {
		fprintf(stderr, "test_http: fault server did not report its port (got \"%s\")\n", line);
		kill(*pid, SIGTERM);
		waitpid(*pid, NULL, 0);
		return -1;
	}
	return 0;
}

static void kill_server(pid_t pid)
{
	if (pid > 0) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
	}
}

static int start_server(void **state)
{
	(void)state;
	if (spawn_server(NULL, &server_pid, &server_port) < 0)
		return -1;
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", server_port);
	return 0;
}

static int stop_server(void **state)
{
	(void)state;
	kill_server(server_pid);
	server_pid = -1;
	log_reset();
	return 0;
}

/* ---- helpers ---- */

static struct http_client *client(long timeout_ms, int max_attempts, long max_wait_ms)
{
	struct http_client_opts o;
	struct http_client *c = NULL;
	struct prenv_err err = PRENV_ERR_INIT;

	memset(&o, 0, sizeof(o));
	o.user_agent_extra = "unit";
	o.timeout_ms = timeout_ms;
	o.max_attempts = max_attempts;
	o.max_wait_ms = max_wait_ms;
	o.backoff_base_ms = 100;
	o.delay_hook = record_delay;
	assert_int_equal(http_client_new(&c, &o, &err), 0);
	assert_non_null(c);
	prenv_err_clear(&err);
	delays_reset();
	return c;
}

static char *url(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *url(const char *fmt, ...)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	va_list ap;

	prenv_buf_adds(&b, base);
	va_start(ap, fmt);
	prenv_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	assert_false(b.failed);
	return prenv_buf_detach(&b, NULL);
}

/* Runs one request; returns rc. */
static int req(struct http_client *c, const char *method, const char *u, int idem,
	       struct http_response *resp, struct prenv_err *err)
{
	struct http_request r;

	memset(&r, 0, sizeof(r));
	r.method = method;
	r.url = u;
	r.idempotent = idem;
	return http_do(c, &r, resp, err);
}

/* A counter from the server's /_stats ("requests", "connections", ...), or
 * the request count of a key when key is given. Uses its own client. */
static long stat_of(const char *name, const char *key)
{
	struct http_client *c = client(0, 1, 0);
	struct http_response resp = HTTP_RESPONSE_INIT;
	struct prenv_err err = PRENV_ERR_INIT;
	char *u = url("/_stats");
	cJSON *j, *v;
	long out = -1;

	assert_int_equal(req(c, "GET", u, HTTP_IDEMPOTENT_AUTO, &resp, &err), 0);
	j = cJSON_Parse(resp.body.ptr);
	assert_non_null(j);
	v = key ? cJSON_GetObjectItem(cJSON_GetObjectItem(j, "by_key"), key)
		: cJSON_GetObjectItem(j, name);
	if (cJSON_IsNumber(v))
		out = (long)v->valuedouble;
	else if (key)
		out = 0;
	cJSON_Delete(j);
	free(u);
	http_response_free(&resp);
	http_client_free(c);
	return out;
}

static void server_reset(void)
{
	struct http_client *c = client(0, 1, 0);
	struct http_response resp = HTTP_RESPONSE_INIT;
	char *u = url("/_reset");

	assert_int_equal(req(c, "POST", u, HTTP_IDEMPOTENT_AUTO, &resp, NULL), 0);
	free(u);
	http_response_free(&resp);
	http_client_free(c);
}

static void assert_contains(const char *hay, const char *needle)
{
	if (!hay || !strstr(hay, needle))
		fail_msg("expected \"%s\" in \"%s\"", needle, hay ? hay : "(null)");
}

/* ---- tests ---- */

static void test_http_get_returns_body_and_headers(void **state)
{
	struct http_client *c = client(0, 0, 0);
	struct http_response resp = HTTP_RESPONSE_INIT;
	struct prenv_err err = PRENV_ERR_INIT;
	const char *hdrs[] = { "X-Test: yes", "Accept: application/json", NULL };
	struct http_request r = { "GET", NULL, hdrs, NULL, 0, HTTP_IDEMPOTENT_AUTO, NULL, NULL, NULL, 0 };
	char *u = url("/echo?x=1");
	cJSON *j;

	(void)state;
	r.url = u;
	assert_int_equal(http_do(c, &r, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	assert_int_equal(resp.attempts, 1);
	assert_string_equal(resp.content_type, "application/json");
	assert_string_equal(http_response_header(&resp, "CONTENT-TYPE"), "application/json");
	assert_non_null(http_response_header(&resp, "content-length"));
	assert_null(http_response_header(&resp, "x-nothing"));
	j = cJSON_Parse(resp.body.ptr);
	assert_non_null(j);
	assert_string_equal(cJSON_GetObjectItem(j, "method")->valuestring, "GET");
	assert_string_equal(cJSON_GetObjectItem(j, "target")->valuestring, "/echo?x=1");
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "headers"), "x-test")->valuestring,
			    "yes");
	cJSON_Delete(j);
	assert_int_equal(http_client_request_count(c), 1);
	free(u);
	http_response_free(&resp);
	http_client_free(c);
}

static void test_http_sends_user_agent_body_and_token(void **state)
{
	struct http_client *c = client(0, 0, 0);
	struct http_response resp = HTTP_RESPONSE_INIT;
	struct prenv_err err = PRENV_ERR_INIT;
	const char *hdrs[] = { "Content-Type: application/json", NULL };
	struct http_request r = { "PATCH", NULL, hdrs, "{\"a\":1}", 7, HTTP_IDEMPOTENT_AUTO, "tok-ua-123456", NULL, NULL, 0 };
	char *u = url("/echo");
	cJSON *j, *h;

	(void)state;
	r.url = u;
	assert_int_equal(http_do(c, &r, &resp, &err), 0);
	j = cJSON_Parse(resp.body.ptr);
	assert_non_null(j);
	h = cJSON_GetObjectItem(j, "headers");
	assert_string_equal(cJSON_GetObjectItem(j, "method")->valuestring, "PATCH");
	assert_string_equal(cJSON_GetObjectItem(j, "body")->valuestring, "{\"a\":1}");
	assert_string_equal(cJSON_GetObjectItem(h, "user-agent")->valuestring,
			    "prenv/" PRENV_VERSION " unit");
	assert_string_equal(cJSON_GetObjectItem(h, "authorization")->valuestring,
			    "Bearer tok-ua-123456");
	assert_string_equal(cJSON_GetObjectItem(h, "content-type")->valuestring,
			    "application/json");
	assert_null(cJSON_GetObjectItem(h, "expect"));
	cJSON_Delete(j);
	free(u);
	http_response_free(&resp);
	http_client_free(c);
}

static void test_http_sequential_requests_reuse_one_connection(void **state)
{
	struct http_client *c;
	struct http_response resp = HTTP_RESPONSE_INIT;
	char *u = url("/echo");
	int i;

	(void)state;
	server_reset();
	c = client(0, 0, 0);
	for (i = 0; i < 5; i++) {
		assert_int_equal(req(c, "GET", u, HTTP_IDEMPOTENT_AUTO, &resp, NULL), 0);
		assert_int_equal(resp.status, 200);
		http_response_free(&resp);
	}
	assert_int_equal(stat_of("requests", NULL), 5);
	assert_int_equal(stat_of("connections", NULL), 1);
	assert_int_equal(http_client_request_count(c), 5);
	free(u);
	http_client_free(c);
}

static void test_http_429_honours_retry_after_seconds(void **state)
{
	struct http_client *c = client(0, 0, 0);
	struct http_response resp = HTTP_RESPONSE_INIT;
	struct prenv_err err = PRENV_ERR_INIT;
	char *u = url("/seq?k=r429&s=429,200&ra=1");

	(void)state;
	assert_int_equal(req(c, "GET", u, HTTP_IDEMPOTENT_AUTO, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	assert_int_equal(resp.attempts, 2);
	assert_int_equal(delays.calls, 1);
	assert_int_equal(delays.last_ms, 1000);
	assert_int_equal(stat_of(NULL, "r429"), 2);
	free(u);
	http_response_free(&resp);
	http_client_free(c);
}

static void test_http_429_honours_retry_after_date_and_cap(void **state)
{
	struct http_client *c = client(0, 0, 3000);
	struct http_response resp = HTTP_RESPONSE_INIT;
	struct prenv_buf b = PRENV_BUF_INIT;
	char date[64];
	time_t t = time(NULL) + 2;
	struct tm tm;
	char *u;

	(void)state;
	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	prenv_buf_adds(&b, "/seq?k=rdate&s=429,200&ra=");
	assert_int_equal(http_url_escape(&b, date), 0);
	u = url("%s", b.ptr);
	assert_int_equal(req(c, "GET", u, HTTP_IDEMPOTENT_AUTO, &resp, NULL), 0);
	assert_int_equal(resp.attempts, 2);
	assert_int_equal(delays.calls, 1);
	assert_true(delays.last_ms >= 1000 && delays.last_ms <= 2000);
	free(u);
	http_response_free(&resp);

	/* Retry-After beyond the cap: waits the cap. */
	delays_reset();
	u = url("/seq?k=rcap&s=429,200&ra=3600");
	assert_int_equal(req(c, "GET", u, HTTP_IDEMPOTENT_AUTO, &resp, NULL), 0);
	assert_int_equal(resp.attempts, 2);
	assert_int_equal(delays.last_ms, 3000);
	free(u);
	http_response_free(&resp);
	prenv_buf_free(&b);
	http_client_free(c);
}

static void test_http_503_on_get_is_retried(void **state)
{
	struct http_client *c = client(0, 0, 0);
	struct http_response resp = HTTP_RESPONSE_INIT;
	char *u = url("/seq?k=g503&s=503,503,200");

	(void)state;
	assert_int_equal(req(c, "GET", u, HTTP_IDEMPOTENT_AUTO, &resp, NULL), 0);
	assert_int_equal(resp.status, 200);
	assert_int_equal(resp.attempts, 3);
	assert_int_equal(delays.calls, 2);
	/* Full jitter: each wait within [0, base * 2^(n-1)]. */
	assert_true(delays.total_ms <= 100 + 200);
	assert_int_equal(stat_of(NULL, "g503"), 3);
	free(u);
	http_response_free(&resp);
	http_client_free(c);
}

static void test_http_503_on_post_is_not_retried(void **state)
{
	struct http_client *c = client(0, 0, 0);
	struct http_response resp = HTTP_RESPONSE_INIT;
	struct prenv_err err = PRENV_ERR_INIT;
	char *u = url("%s", "/seq?k=p503&s=503,200&msg=try%20later");

	(void)state;
	assert_int_equal(req(c, "POST", u, HTTP_IDEMPOTENT_AUTO, &resp, &err), PRENV_EFAIL);
	assert_int_equal(resp.status, 503);
	assert_int_equal(resp.attempts, 1);
	assert_int_equal(delays.calls, 0);
	assert_int_equal(stat_of(NULL, "p503"), 1);
	assert_contains(err.msg, "POST http://127.0.0.1:");
	assert_contains(err.msg, "HTTP 503: try later");
	assert_contains(err.msg, "not retried");
	prenv_err_clear(&err);
	free(u);
	http_response_free(&resp);

	/* A PATCH the caller marks idempotent (server-side apply) is retried. */
	u = url("/seq?k=patch503&s=503,200");
	assert_int_equal(req(c, "PATCH", u, HTTP_IDEMPOTENT_YES, &resp, &err), 0);
	assert_int_equal(resp.attempts, 2);
	free(u);
	http_response_free(&resp);

	/* And a GET the caller marks as not idempotent is not. */
	u = url("/seq?k=getno503&s=503,200");
	assert_int_equal(req(c, "GET", u, HTTP_IDEMPOTENT_NO, &resp, &err), PRENV_EFAIL);
	assert_int_equal(resp.attempts, 1);
	prenv_err_clear(&err);
	free(u);
	http_response_free(&resp);
	http_client_free(c);
}

static void test_http_dropped_connection_retried_for_get_only(void **state)
{
	struct http_client *c = client(0, 0, 0);
	struct http_response resp = HTTP_RESPONSE_INIT;
	struct prenv_err err = PRENV_ERR_INIT;
	char *u = url("/drop?k=drop1&n=1");

	(void)state;
	assert_int_equal(req(c, "GET", u, HTTP_IDEMPOTENT_AUTO, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	assert_int_equal(resp.attempts, 2);
	free(u);
	http_response_free(&resp);

	u = url("/drop?k=drop2&n=1");
	assert_int_equal(req(c, "POST", u, HTTP_IDEMPOTENT_AUTO, &resp, &err), PRENV_EFAIL);
	assert_int_equal(resp.attempts, 1);
	assert_int_equal(stat_of(NULL, "drop2"), 1);
	assert_contains(err.msg, "POST ");
	prenv_err_clear(&err);
	free(u);
	http_response_free(&resp);
	http_client_free(c);
}

static void test_http_connect_failure_retried_even_for_post(void **state)
{
	struct http_client *c = client(0, 2, 0);
	struct http_response resp = HTTP_RESPONSE_INIT;
	struct prenv_err err = PRENV_ERR_INIT;
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	char u[80];
	int s = socket(AF_INET, SOCK_STREAM, 0);

	(void)state;
	/* A port nobody listens on: bind, read the port, close. */
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&sa, &sl), 0);
	close(s);
	snprintf(u, sizeof(u), "http://127.0.0.1:%d/x", ntohs(sa.sin_port));
	assert_int_equal(req(c, "POST", u, HTTP_IDEMPOTENT_AUTO, &resp, &err), PRENV_EFAIL);
	assert_int_equal(resp.attempts, 2);
	assert_int_equal(resp.status, 0);
	assert_contains(err.msg, "POST http://127.0.0.1:");
	assert_contains(err.msg, "gave up after 2 attempts");
	prenv_err_clear(&err);
	http_response_free(&resp);
	http_client_free(c);
}

static void test_http_attempts_are_bounded(void **state)
{
	struct http_client *c = client(0, 3, 0);
	struct http_response resp = HTTP_RESPONSE_INIT;
	struct prenv_err err = PRENV_ERR_INIT;
	char *u = url("/seq?k=always503&s=503&msg=overloaded");

	(void)state;
	assert_int_equal(req(c, "GET", u, HTTP_IDEMPOTENT_AUTO, &resp, &err), PRENV_EFAIL);
	assert_int_equal(resp.status, 503);
	assert_int_equal(resp.attempts, 3);
	assert_int_equal(stat_of(NULL, "always503"), 3);
	assert_contains(err.msg, "GET http://127.0.0.1:");
	assert_contains(err.msg, "/seq?k=always503&s=503&msg=overloaded: HTTP 503: overloaded");
	assert_contains(err.msg, "gave up after 3 attempts");
	prenv_err_clear(&err);
	free(u);
	http_response_free(&resp);
	http_client_free(c);
}

static void test_http_github_primary_rate_limit_waits_for_reset(void **state)
{
	struct http_client *c = client(0, 0, 5000);
	struct http_response resp = HTTP_RESPONSE_INIT;
	struct prenv_err err = PRENV_ERR_INIT;
	char *u = url("/seq?k=gh403&s=403,200&rl=1");

	(void)state;
	assert_int_equal(req(c, "GET", u, HTTP_IDEMPOTENT_AUTO, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	assert_int_equal(resp.attempts, 2);
	assert_int_equal(delays.calls, 1);
	/* reset = now + 1 s (whole seconds) plus a second of margin */
	assert_true(delays.last_ms >= 1000 && delays.last_ms <= 3000);
	free(u);
	http_response_free(&resp);

	/* GitLab's header names, on a 429 without Retry-After. */
	delays_reset();
	u = url("/seq?k=gl429&s=429,200&rl=1&gl=1");
	assert_int_equal(req(c, "GET", u, HTTP_IDEMPOTENT_AUTO, &resp, &err), 0);
	assert_int_equal(resp.attempts, 2);
	assert_true(delays.last_ms >= 1000 && delays.last_ms <= 3000);
	free(u);
	http_response_free(&resp);

	/* A reset an hour away is beyond the cap: fail at once, clearly. */
	delays_reset();
	u = url("/seq?k=gh403far&s=403,200&rl=3600");
	assert_int_equal(req(c, "GET", u, HTTP_IDEMPOTENT_AUTO, &resp, &err), PRENV_EFAIL);
	assert_int_equal(resp.attempts, 1);
	assert_int_equal(delays.calls, 0);
	assert_true(resp.retry_after_ms > 3500 * 1000L);
	assert_contains(err.msg, "HTTP 403");
	assert_contains(err.msg, "rate limit exhausted until");
	prenv_err_clear(&err);
	free(u);
	http_response_free(&resp);
	http_client_free(c);
}

static void test_http_github_secondary_rate_limit(void **state)
{
	struct http_client *c = client(0, 0, 2000);
	struct http_response resp = HTTP_RESPONSE_INIT;
	struct prenv_err err = PRENV_ERR_INIT;
	char *u = url("/seq?k=gh2nd&s=403,200&sec=1");

	(void)state;
	/* No Retry-After: at least 60 s, here cut to the 2 s cap. */
	assert_int_equal(req(c, "GET", u, HTTP_IDEMPOTENT_AUTO, &resp, &err), 0);
	assert_int_equal(resp.attempts, 2);
	assert_int_equal(delays.last_ms, 2000);
	free(u);
	http_response_free(&resp);

	/* With Retry-After, the server's figure. */
	delays_reset();
	u = url("/seq?k=gh2ndra&s=403,200&sec=1&ra=1");
	assert_int_equal(req(c, "GET", u, HTTP_IDEMPOTENT_AUTO, &resp, &err), 0);
	assert_int_equal(resp.attempts, 2);
	assert_int_equal(delays.last_ms, 1000);
	free(u);
	http_response_free(&resp);
	http_client_free(c);
}

static void test_http_status_codes_map_to_errors(void **state)
{
	static const struct {
		const char *path;
		int rc;
		const char *msg;
	} cases[] = {
		{ "/seq?k=c403&s=403&msg=Resource%20not%20accessible", PRENV_EAUTH,
		  "HTTP 403: Resource not accessible" },
		{ "/seq?k=c401&s=401&msg=Unauthorized", PRENV_EAUTH, "HTTP 401: Unauthorized" },
		{ "/seq?k=c404&s=404&msg=namespaces%20%22x%22%20not%20found", PRENV_ENOTFOUND,
		  "HTTP 404: namespaces \"x\" not found" },
		{ "/seq?k=c422&s=422&msg=Validation%20Failed", PRENV_EFAIL,
		  "HTTP 422: Validation Failed" },
		{ "/seq?k=c409&s=409", PRENV_EFAIL, "HTTP 409: scripted failure" },
		{ "/seq?k=c400&s=400&text=bad%20gateway%20thing", PRENV_EFAIL,
		  "HTTP 400: bad gateway thing" },
	};
	struct http_client *c = client(0, 0, 0);
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct http_response resp = HTTP_RESPONSE_INIT;
		struct prenv_err err = PRENV_ERR_INIT;
		char *u = url("%s", cases[i].path);

		assert_int_equal(req(c, "GET", u, HTTP_IDEMPOTENT_AUTO, &resp, &err), cases[i].rc);
		assert_int_equal(resp.attempts, 1);
		assert_contains(err.msg, cases[i].msg);
		assert_true(resp.body.len > 0);
		prenv_err_clear(&err);
		free(u);
		http_response_free(&resp);
	}
	http_client_free(c);
}

static void test_http_token_never_in_verbose_log(void **state)
{
	struct http_client *c = client(0, 0, 0);
	struct http_response resp = HTTP_RESPONSE_INIT;
	struct prenv_err err = PRENV_ERR_INIT;
	struct http_request r;
	char *logbuf = NULL, *outbuf = NULL;
	size_t loglen = 0, outlen = 0;
	FILE *lf = open_memstream(&logbuf, &loglen);
	FILE *of = open_memstream(&outbuf, &outlen);
	char *u = url("/seq?k=tok&s=503,401&private_token=plainvalue123&x=1");

	(void)state;
	assert_non_null(lf);
	assert_non_null(of);
	log_setup(LOG_CI_NONE, LOG_VERBOSE, 0);
	log_set_streams(of, lf);
	memset(&r, 0, sizeof(r));
	r.url = u;
	r.idempotent = -1; /* the first sketch of the API: also "infer" */
	r.bearer_token = "tok-SECRET-987654";
	assert_int_equal(http_do(c, &r, &resp, &err), PRENV_EAUTH);
	log_err(&err);
	log_set_streams(NULL, NULL);
	log_setup(LOG_CI_NONE, LOG_NORMAL, 0);
	fclose(lf);
	fclose(of);
	assert_null(strstr(logbuf, "tok-SECRET"));
	assert_null(strstr(logbuf, "plainvalue123"));
	assert_null(strstr(err.msg, "plainvalue123"));
	assert_contains(logbuf, "http: GET http://127.0.0.1:");
	assert_contains(logbuf, "/seq?k=tok&s=503,401&private_token=***&x=1 -> 503");
	assert_contains(logbuf, "-> 401");
	assert_contains(logbuf, "attempt 2)");
	assert_contains(logbuf, "HTTP 401: scripted failure");
	assert_null(strstr(outbuf, "tok-SECRET"));
	prenv_err_clear(&err);
	free(logbuf);
	free(outbuf);
	free(u);
	http_response_free(&resp);
	http_client_free(c);
}

static void test_http_do_many_bounded_parallel_over_reused_connections(void **state)
{
	enum { N = 20 };
	struct http_client *c;
	struct http_request reqs[N];
	struct http_response resps[N];
	struct prenv_err errs[N];
	char *urls[N];
	long conns, maxc;
	size_t i;

	(void)state;
	server_reset();
	c = client(0, 0, 0);
	memset(reqs, 0, sizeof(reqs));
	for (i = 0; i < N; i++) {
		/* Every fifth request fails once with 503 and must be retried. */
		urls[i] = i % 5 == 0 ? url("/seq?k=many%zu&s=503,200", i) : url("/slow?ms=60&i=%zu", i);
		reqs[i].url = urls[i];
		resps[i] = (struct http_response)HTTP_RESPONSE_INIT;
		errs[i] = (struct prenv_err)PRENV_ERR_INIT;
	}
	assert_int_equal(http_do_many(c, reqs, resps, N, 4, errs), 0);
	for (i = 0; i < N; i++) {
		assert_int_equal(resps[i].status, 200);
		assert_int_equal(resps[i].attempts, i % 5 == 0 ? 2 : 1);
		assert_int_equal(errs[i].code, 0);
		if (i % 5)
			assert_string_equal(resps[i].body.ptr, "slow");
	}
	conns = stat_of("connections", NULL);
	maxc = stat_of("max_concurrent", NULL);
	printf("# http_do_many: 20 requests (4 retried), max_parallel 4: %ld connections, "
	       "%ld at once, %lu attempts\n", conns, maxc, http_client_request_count(c));
	assert_true(maxc >= 2 && maxc <= 4);
	assert_true(conns >= 2 && conns <= 4);
	assert_int_equal(stat_of("requests", NULL), 24);
	assert_int_equal(http_client_request_count(c), 24);
	for (i = 0; i < N; i++) {
		free(urls[i]);
		http_response_free(&resps[i]);
	}
	http_client_free(c);
}

struct lines {
	char got[16][32];
	int n;
	int stop_at;
};

static int collect_line(void *ud, const char *line, size_t len)
{
	struct lines *l = ud;

	assert_int_equal(strlen(line), len);
	if (l->n < 16)
		snprintf(l->got[l->n], sizeof(l->got[0]), "%s", line);
	l->n++;
	return l->stop_at && l->n >= l->stop_at;
}

static void test_http_stream_lines_reads_chunked_lines(void **state)
{
	struct http_client *c = client(0, 0, 0);
	struct prenv_err err = PRENV_ERR_INIT;
	struct http_request r;
	struct lines l;
	long status = 0;
	char *u = url("/stream?n=5&ms=10");
	int i;

	(void)state;
	memset(&r, 0, sizeof(r));
	memset(&l, 0, sizeof(l));
	r.url = u;
	r.idempotent = HTTP_IDEMPOTENT_AUTO;
	assert_int_equal(http_stream_lines(c, &r, 5000, collect_line, &l, &status, &err), 0);
	assert_int_equal(status, 200);
	assert_int_equal(l.n, 5);
	for (i = 0; i < 5; i++) {
		char want[32];

		snprintf(want, sizeof(want), "line %d", i + 1);
		assert_string_equal(l.got[i], want);
	}
	free(u);

	/* The last line without "\n" is still delivered. */
	memset(&l, 0, sizeof(l));
	u = url("/stream?n=3&nolast=1");
	r.url = u;
	assert_int_equal(http_stream_lines(c, &r, 5000, collect_line, &l, NULL, &err), 0);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.got[2], "line 3");
	free(u);

	/* on_line stops a stream that would stay open for an hour. */
	memset(&l, 0, sizeof(l));
	l.stop_at = 2;
	u = url("/stream?n=4&hang=1");
	r.url = u;
	assert_int_equal(http_stream_lines(c, &r, 20000, collect_line, &l, &status, &err), 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(status, 200);
	free(u);

	/* An error status is not split into lines; it is the error. */
	memset(&l, 0, sizeof(l));
	u = url("%s", "/seq?k=streamerr&s=410&msg=too%20old%20resource%20version");
	r.url = u;
	assert_int_equal(http_stream_lines(c, &r, 5000, collect_line, &l, &status, &err), PRENV_EFAIL);
	assert_int_equal(l.n, 0);
	assert_int_equal(status, 410);
	assert_contains(err.msg, "HTTP 410: too old resource version");
	prenv_err_clear(&err);
	free(u);
	http_client_free(c);
}

static void test_http_stream_timeout_after_lines_is_not_retried(void **state)
{
	struct http_client *c = client(0, 0, 0);
	struct prenv_err err = PRENV_ERR_INIT;
	struct http_request r;
	struct lines l;
	char *u = url("/stream?k=streamto&n=2&hang=1");

	(void)state;
	memset(&r, 0, sizeof(r));
	memset(&l, 0, sizeof(l));
	r.url = u;
	r.idempotent = HTTP_IDEMPOTENT_AUTO;
	assert_int_equal(http_stream_lines(c, &r, 400, collect_line, &l, NULL, &err), HTTP_ETIMEDOUT);
	assert_int_equal(l.n, 2);
	assert_contains(err.msg, "timed out");
	assert_int_equal(stat_of(NULL, "streamto"), 1);
	prenv_err_clear(&err);
	free(u);
	http_client_free(c);
}

/* A stream that stays quiet until its time is an ended slice (a watch with
 * nothing to say): HTTP_ETIMEDOUT at once, never sent again. (Before, it
 * was retried as a broken idempotent request: a destroy waiting 3 s on a
 * namespace stuck in Terminating took 14 s.) */
static void test_http_quiet_stream_timeout_is_not_retried(void **state)
{
	struct http_client *c = client(0, 0, 0);
	struct prenv_err err = PRENV_ERR_INIT;
	struct http_request r;
	struct lines l;
	struct timespec t0, t1;
	char *u = url("/stream?k=quietto&n=0&hang=1");
	double ms;

	(void)state;
	memset(&r, 0, sizeof(r));
	memset(&l, 0, sizeof(l));
	r.url = u;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(http_stream_lines(c, &r, 400, collect_line, &l, NULL, &err), HTTP_ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	assert_int_equal(l.n, 0);
	assert_int_equal(stat_of(NULL, "quietto"), 1);
	assert_true(ms < 3000);
	prenv_err_clear(&err);
	free(u);
	http_client_free(c);
}

struct canceller {
	struct http_client *c;
	int stop;
	int lines;              /* lines the stream has delivered */
	struct timespec at;     /* when stop was set */
	pthread_mutex_t mu;
};

static int count_line(void *ud, const char *line, size_t len)
{
	struct canceller *k = ud;

	(void)line;
	(void)len;
	pthread_mutex_lock(&k->mu);
	k->lines++;
	pthread_mutex_unlock(&k->mu);
	return 0;
}

static int is_cancelled(void *ud)
{
	struct canceller *k = ud;
	int v;

	pthread_mutex_lock(&k->mu);
	v = k->stop;
	pthread_mutex_unlock(&k->mu);
	return v;
}

/* Cancels once the stream has delivered its line and then hung for 200 ms
 * (waiting for the line, not a fixed delay: on a busy machine the line can
 * take longer than that to come). */
static void *cancel_later(void *ud)
{
	struct canceller *k = ud;
	struct timespec tick = { 0, 10 * 1000000L }, hung = { 0, 200 * 1000000L };
	int i, lines = 0;

	for (i = 0; i < 3000 && !lines; i++) {      /* up to 30 s */
		nanosleep(&tick, NULL);
		pthread_mutex_lock(&k->mu);
		lines = k->lines;
		pthread_mutex_unlock(&k->mu);
	}
	nanosleep(&hung, NULL);
	pthread_mutex_lock(&k->mu);
	clock_gettime(CLOCK_MONOTONIC, &k->at);
	k->stop = 1;
	pthread_mutex_unlock(&k->mu);
	http_client_wakeup(k->c);
	return NULL;
}

/* Another thread ends a stream that would stay open for an hour: it
 * returns 0 at once (the wait it served is over), not at its time-out. */
static void test_http_stream_cancelled_from_another_thread(void **state)
{
	struct canceller k;
	struct prenv_err err = PRENV_ERR_INIT;
	struct http_request r;
	struct timespec t1;
	pthread_t th;
	char *u = url("/stream?n=1&hang=1");
	double ms;

	(void)state;
	memset(&k, 0, sizeof(k));
	pthread_mutex_init(&k.mu, NULL);
	k.c = client(0, 0, 0);
	memset(&r, 0, sizeof(r));
	r.url = u;
	r.cancelled = is_cancelled;
	r.cancel_ud = &k;
	assert_int_equal(pthread_create(&th, NULL, cancel_later, &k), 0);
	assert_int_equal(http_stream_lines(k.c, &r, 60000, count_line, &k, NULL, &err), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	pthread_join(th, NULL);
	ms = (double)(t1.tv_sec - k.at.tv_sec) * 1e3 + (double)(t1.tv_nsec - k.at.tv_nsec) / 1e6;
	printf("# stream returned %.0f ms after it was cancelled (its time-out: 60 s)\n", ms);
	assert_int_equal(k.lines, 1);
	assert_true(ms < 5000);
	free(u);
	http_client_free(k.c);
	pthread_mutex_destroy(&k.mu);
}

static void test_http_timeout_on_slow_server(void **state)
{
	struct http_client *c = client(300, 2, 0);
	struct http_response resp = HTTP_RESPONSE_INIT;
	struct prenv_err err = PRENV_ERR_INIT;
	char *u = url("/slow?k=slow1&ms=3000");

	(void)state;
	assert_int_equal(req(c, "GET", u, HTTP_IDEMPOTENT_AUTO, &resp, &err), HTTP_ETIMEDOUT);
	assert_int_equal(resp.attempts, 2);
	assert_contains(err.msg, "GET http://127.0.0.1:");
	assert_contains(err.msg, "timed out");
	assert_contains(err.msg, "gave up after 2 attempts");
	prenv_err_clear(&err);
	http_response_free(&resp);

	/* POST: a timeout may mean the server got it; not retried. */
	assert_int_equal(req(c, "POST", u, HTTP_IDEMPOTENT_AUTO, &resp, &err), HTTP_ETIMEDOUT);
	assert_int_equal(resp.attempts, 1);
	prenv_err_clear(&err);
	free(u);
	http_response_free(&resp);
	http_client_free(c);
}

static void test_http_proxy_variables_and_no_proxy(void **state)
{
	struct http_client *c = client(0, 1, 0);
	struct http_response resp = HTTP_RESPONSE_INIT;
	struct prenv_err err = PRENV_ERR_INIT;
	char *u = url("/echo");
	cJSON *j;

	(void)state;
	/* A dead proxy, but NO_PROXY covers 127.0.0.1: direct. */
	setenv("http_proxy", "http://127.0.0.1:1", 1);
	setenv("NO_PROXY", "127.0.0.1", 1);
	assert_int_equal(req(c, "GET", u, HTTP_IDEMPOTENT_AUTO, &resp, &err), 0);
	j = cJSON_Parse(resp.body.ptr);
	assert_string_equal(cJSON_GetObjectItem(j, "target")->valuestring, "/echo");
	cJSON_Delete(j);
	http_response_free(&resp);

	/* The fault server as the proxy: it sees the absolute-form target. */
	unsetenv("NO_PROXY");
	setenv("http_proxy", base, 1);
	assert_int_equal(req(c, "GET", "http://prenv-test.invalid/echo", HTTP_IDEMPOTENT_AUTO, &resp, &err), 0);
	j = cJSON_Parse(resp.body.ptr);
	assert_non_null(j);
	assert_string_equal(cJSON_GetObjectItem(j, "target")->valuestring,
			    "http://prenv-test.invalid/echo");
	cJSON_Delete(j);
	unsetenv("http_proxy");
	prenv_err_clear(&err);
	free(u);
	http_response_free(&resp);
	http_client_free(c);
}

/* A curl_easy_setopt() that libcurl refuses is an error naming the option,
 * before anything is sent; here libcurl's own limit on string options (8 MB)
 * refuses an over-long URL. */
static void test_http_refused_option_is_an_error_naming_it(void **state)
{
	struct http_client *c = client(0, 0, 0);
	struct http_response resp = HTTP_RESPONSE_INIT;
	struct prenv_err err = PRENV_ERR_INIT;
	struct prenv_buf u = PRENV_BUF_INIT;
	long before = stat_of("requests", NULL);
	size_t i;

	(void)state;
	prenv_buf_adds(&u, base);
	prenv_buf_adds(&u, "/echo?pad=");
	for (i = 0; i < 8100000 / 64; i++)
		prenv_buf_adds(&u, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	assert_false(u.failed);
	assert_int_equal(req(c, "GET", u.ptr, HTTP_IDEMPOTENT_AUTO, &resp, &err), PRENV_EFAIL);
	assert_contains(err.msg, "cannot set up the request: libcurl ");
	assert_contains(err.msg, " refused CURLOPT_URL: ");
	assert_true(strlen(err.msg) < 600); /* the URL is not repeated whole */
	assert_int_equal(http_client_request_count(c), 0);
	assert_int_equal(stat_of("requests", NULL), before); /* nothing reached the server */
	prenv_err_clear(&err);
	prenv_buf_free(&u);
	http_response_free(&resp);
	http_client_free(c);
}

/* Only http and https, asked for or redirected to (CURLOPT_PROTOCOLS_STR, or
 * the CURLOPT_PROTOCOLS bitmask on libcurl < 7.85: the build with
 * -DPRENV_CURL_NO_PROTOCOLS_STR runs this too). */
static void test_http_only_http_and_https(void **state)
{
	static const char *const targets[] = { "file:///etc/passwd", "ftp://127.0.0.1:1/x",
					       "dict://127.0.0.1:1/x", "gopher://127.0.0.1:1/x" };
	struct http_client *c = client(0, 1, 0);
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		struct http_response resp = HTTP_RESPONSE_INIT;
		struct prenv_err err = PRENV_ERR_INIT;
		char *u = url("/redirect?to=%s", targets[i]);

		assert_int_not_equal(req(c, "GET", targets[i], HTTP_IDEMPOTENT_AUTO, &resp, &err), 0);
		assert_null(strstr(resp.body.ptr ? resp.body.ptr : "", "root:"));
		prenv_err_clear(&err);
		http_response_free(&resp);
		/* redirected there: not followed */
		assert_int_not_equal(req(c, "GET", u, HTTP_IDEMPOTENT_AUTO, &resp, &err), 0);
		assert_contains(err.msg, "otocol");
		assert_null(strstr(resp.body.ptr ? resp.body.ptr : "", "root:"));
		prenv_err_clear(&err);
		http_response_free(&resp);
		free(u);
	}
	http_client_free(c);
}

/* A GET that carries a bearer token is redirected: to the same server it
 * keeps the token; to the same host on another port (another server) it
 * does not (the header is prenv's own "Authorization: Bearer"; libcurl
 * drops it when host, port or scheme change). */
static void test_http_token_not_sent_to_another_port_on_redirect(void **state)
{
	static const char *const args[] = { NULL };
	struct http_client *c = client(0, 1, 0);
	pid_t pid = -1;
	int port = 0, i;

	(void)state;
	assert_int_equal(spawn_server(args, &pid, &port), 0);
	for (i = 0; i < 2; i++) {
		struct http_response resp = HTTP_RESPONSE_INIT;
		struct prenv_err err = PRENV_ERR_INIT;
		struct http_request r;
		char to[96];
		char *u;
		cJSON *j;
		const cJSON *auth;

		if (i == 0)
			snprintf(to, sizeof(to), "/echo");
		else
			snprintf(to, sizeof(to), "http://127.0.0.1:%d/echo", port);
		u = url("/redirect?to=%s", to);
		memset(&r, 0, sizeof(r));
		r.method = "GET";
		r.url = u;
		r.bearer_token = "tok-REDIRECT-24680";
		assert_int_equal(http_do(c, &r, &resp, &err), 0);
		j = cJSON_Parse(resp.body.ptr);
		assert_non_null(j);
		auth = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "headers"),
							"authorization");
		if (i == 0) {
			assert_true(cJSON_IsString(auth));
			assert_string_equal(auth->valuestring, "Bearer tok-REDIRECT-24680");
		} else {
			assert_null(auth);
			assert_null(strstr(resp.body.ptr, "tok-REDIRECT"));
		}
		cJSON_Delete(j);
		prenv_err_clear(&err);
		http_response_free(&resp);
		free(u);
	}
	kill_server(pid);
	http_client_free(c);
}

static void test_http_url_escape_encodes_reserved(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "", "" },
		{ "plain-name_1.2~x", "plain-name_1.2~x" },
		{ "a b/c?d&e=f#g", "a%20b%2Fc%3Fd%26e%3Df%23g" },
		{ "100%", "100%25" },
		{ "\xc3\xbc", "%C3%BC" },
		{ "..", ".." },
		{ "key=val+1", "key%3Dval%2B1" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct prenv_buf b = PRENV_BUF_INIT;

		assert_int_equal(http_url_escape(&b, cases[i].in), 0);
		assert_string_equal(b.ptr, cases[i].out);
		prenv_buf_free(&b);
	}
}

static void test_http_url_redact_masks_credentials(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "http://h/p", "http://h/p" },
		{ "https://user:pw@h:8443/p?x=1", "https://***@h:8443/p?x=1" },
		{ "https://h/p?access_token=abc&x=1#frag", "https://h/p?access_token=***&x=1" },
		{ "https://h/p?private_token=abc", "https://h/p?private_token=***" },
		{ "https://h/p?X-Amz-Signature=abc&page=2", "https://h/p?X-Amz-Signature=***&page=2" },
		{ "https://h/a@b?labelSelector=app%3Dx", "https://h/a@b?labelSelector=app%3Dx" },
		{ "https://h/p?flag&limit=5", "https://h/p?flag&limit=5" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct prenv_buf b = PRENV_BUF_INIT;

		assert_int_equal(http_url_redact(&b, cases[i].in), 0);
		assert_string_equal(b.ptr, cases[i].out);
		prenv_buf_free(&b);
	}
}

struct tls_case {
	int ca, client_cert, insecure;
	int rc;
	const char *client_cn;   /* expected, or NULL for none */
	const char *msg;         /* expected in the error */
};

static void test_http_tls_material_from_memory(void **state)
{
	static const struct tls_case cases[] = {
		{ 1, 0, 0, 0, NULL, NULL },
		{ 1, 1, 0, 0, "prenv-client", NULL },
		{ 0, 0, 0, PRENV_EFAIL, NULL, "certificate" },
		{ 0, 0, 1, 0, NULL, NULL },
	};
	char dir[] = "/tmp/prenv-http-tls-XXXXXX";
	const char *args[] = { "--tls", dir, NULL };
	struct prenv_buf ca = PRENV_BUF_INIT, crt = PRENV_BUF_INIT, key = PRENV_BUF_INIT;
	struct prenv_buf path = PRENV_BUF_INIT;
	char u[80];
	pid_t pid = -1;
	int port = 0;
	size_t i;
	DIR *dh;
	struct dirent *de;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(spawn_server(args, &pid, &port), 0);
	prenv_buf_printf(&path, "%s/ca.crt", dir);
	assert_int_equal(prenv_buf_read_file(&ca, path.ptr), 0);
	prenv_buf_reset(&path);
	prenv_buf_printf(&path, "%s/client.crt", dir);
	assert_int_equal(prenv_buf_read_file(&crt, path.ptr), 0);
	prenv_buf_reset(&path);
	prenv_buf_printf(&path, "%s/client.key", dir);
	assert_int_equal(prenv_buf_read_file(&key, path.ptr), 0);
	/* From here on the material exists only in memory. */
	dh = opendir(dir);
	assert_non_null(dh);
	while ((de = readdir(dh))) {
		if (de->d_name[0] == '.')
			continue;
		prenv_buf_reset(&path);
		prenv_buf_printf(&path, "%s/%s", dir, de->d_name);
		unlink(path.ptr);
	}
	closedir(dh);
	rmdir(dir);
	snprintf(u, sizeof(u), "https://127.0.0.1:%d/echo", port);

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct http_client_opts o;
		struct http_client *c = NULL;
		struct http_response resp = HTTP_RESPONSE_INIT;
		struct prenv_err err = PRENV_ERR_INIT;
		cJSON *j;

		memset(&o, 0, sizeof(o));
		if (cases[i].ca) {
			o.ca_blob = ca.ptr;
			o.ca_blob_len = ca.len;
		}
		if (cases[i].client_cert) {
			o.cert_blob = crt.ptr;
			o.cert_len = crt.len;
			o.key_blob = key.ptr;
			o.key_len = key.len;
		}
		o.insecure = cases[i].insecure;
		o.delay_hook = record_delay;
		assert_int_equal(http_client_new(&c, &o, &err), 0);
		assert_int_equal(req(c, "GET", u, HTTP_IDEMPOTENT_AUTO, &resp, &err), cases[i].rc);
		assert_int_equal(resp.attempts, 1);
		if (cases[i].rc) {
			assert_contains(err.msg, cases[i].msg);
			assert_contains(err.msg, "GET https://127.0.0.1:");
		} else {
			cJSON *cn;

			j = cJSON_Parse(resp.body.ptr);
			assert_non_null(j);
			cn = cJSON_GetObjectItem(j, "client_cn");
			if (cases[i].client_cn)
				assert_string_equal(cn->valuestring, cases[i].client_cn);
			else
				assert_true(cJSON_IsNull(cn));
			cJSON_Delete(j);
		}
		prenv_err_clear(&err);
		http_response_free(&resp);
		http_client_free(c);
	}
	kill_server(pid);
	explicit_bzero(key.ptr, key.len);
	prenv_buf_free(&key);
	prenv_buf_free(&crt);
	prenv_buf_free(&ca);
	prenv_buf_free(&path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_get_returns_body_and_headers),
		cmocka_unit_test(test_http_sends_user_agent_body_and_token),
		cmocka_unit_test(test_http_sequential_requests_reuse_one_connection),
		cmocka_unit_test(test_http_429_honours_retry_after_seconds),
		cmocka_unit_test(test_http_429_honours_retry_after_date_and_cap),
		cmocka_unit_test(test_http_503_on_get_is_retried),
		cmocka_unit_test(test_http_503_on_post_is_not_retried),
		cmocka_unit_test(test_http_dropped_connection_retried_for_get_only),
		cmocka_unit_test(test_http_connect_failure_retried_even_for_post),
		cmocka_unit_test(test_http_attempts_are_bounded),
		cmocka_unit_test(test_http_github_primary_rate_limit_waits_for_reset),
		cmocka_unit_test(test_http_github_secondary_rate_limit),
		cmocka_unit_test(test_http_status_codes_map_to_errors),
		cmocka_unit_test(test_http_token_never_in_verbose_log),
		cmocka_unit_test(test_http_do_many_bounded_parallel_over_reused_connections),
		cmocka_unit_test(test_http_stream_lines_reads_chunked_lines),
		cmocka_unit_test(test_http_stream_timeout_after_lines_is_not_retried),
		cmocka_unit_test(test_http_quiet_stream_timeout_is_not_retried),
		cmocka_unit_test(test_http_stream_cancelled_from_another_thread),
		cmocka_unit_test(test_http_timeout_on_slow_server),
		cmocka_unit_test(test_http_proxy_variables_and_no_proxy),
		cmocka_unit_test(test_http_tls_material_from_memory),
		cmocka_unit_test(test_http_refused_option_is_an_error_naming_it),
		cmocka_unit_test(test_http_only_http_and_https),
		cmocka_unit_test(test_http_token_not_sent_to_another_port_on_redirect),
		cmocka_unit_test(test_http_url_escape_encodes_reserved),
		cmocka_unit_test(test_http_url_redact_masks_credentials),
	};

	/* Proxy variables of the machine must not route the tests. */
	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
	unsetenv("https_proxy");
	unsetenv("HTTPS_PROXY");
	unsetenv("all_proxy");
	unsetenv("ALL_PROXY");
	unsetenv("PRENV_HTTP_SLEEP_SCALE");
	unsetenv("no_proxy");
	unsetenv("NO_PROXY");
	return cmocka_run_group_tests(tests, start_server, stop_server);
}
