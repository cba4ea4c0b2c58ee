/* k8s_wait.c - readiness with the watch API, and why it failed; see
 * k8s_int.h
 *
 * One watch stream per resource kind (the workload kinds present, and pods
 * for fail-fast), each on its own thread with its own HTTP client; events
 * go through a queue to the main thread, which keeps the latest copy of
 * every object, re-evaluates and prints a line only when an object's state
 * line changes. Streams are cut every few seconds and resumed from the last
 * resourceVersion so a finished wait stops promptly; 410 Gone re-lists.
 */
#include "kubernetes/k8s_int.h"
#include "kubernetes/k8s.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/log.h"
#include "util/fs.h"

/* A watch is asked to end after at most this long (timeoutSeconds) and is
 * then resumed from its last resourceVersion on the same connection; the
 * client gives the server this much more before it gives up itself. */
#define WATCH_SLICE_MAX_S 300L
#define WATCH_GRACE_MS 10000L
#define LOG_LINES 30
/* A request of a watch stream was refused with HTTP 401 (internal). */
#define HTTP_401 (-401)
#define MAX_EVENTS 20

/* ------------------------------------------------------------ readiness */

static const cJSON *condition(const cJSON *obj, const char *type)
{
	const cJSON *c;

	cJSON_ArrayForEach(c, k8s_item(obj, "status.conditions"))
		if (k8s_str(c, "type") && !strcmp(k8s_str(c, "type"), type))
			return c;
	return NULL;
}

static int cond_true(const cJSON *c)
{
	return c && k8s_str(c, "status") && !strcmp(k8s_str(c, "status"), "True");
}

int k8s_readiness(const cJSON *obj, struct prenv_buf *line, struct prenv_buf *why)
{
	const char *kind = k8s_str(obj, "kind");
	long gen = k8s_num(obj, "metadata.generation", 0);
	long obs = k8s_num(obj, "status.observedGeneration", 0);
	int observed = obs >= gen;

	k8s_obj_ref(line, obj);
	if (!kind)
		return 1;
	if (!strcmp(kind, "Deployment")) {
		long want = k8s_num(obj, "spec.replicas", 1);
		long upd = k8s_num(obj, "status.updatedReplicas", 0);
		long avail = k8s_num(obj, "status.availableReplicas", 0);
		long total = k8s_num(obj, "status.replicas", 0);
		const cJSON *p = condition(obj, "Progressing");

		if (p && k8s_str(p, "reason") && !strcmp(k8s_str(p, "reason"), "ProgressDeadlineExceeded")) {
			prenv_buf_printf(line, " failed");
			prenv_buf_printf(why, "ProgressDeadlineExceeded: %s",
					 k8s_str(p, "message") ? k8s_str(p, "message") : "no progress");
			return -1;
		}
		prenv_buf_printf(line, " %ld/%ld ready", observed ? (avail < upd ? avail : upd) : 0, want);
		return observed && upd >= want && avail >= want && total <= want;
	}
	if (!strcmp(kind, "StatefulSet")) {
		long want = k8s_num(obj, "spec.replicas", 1);
		long ready = k8s_num(obj, "status.readyReplicas", 0);
		long upd = k8s_num(obj, "status.updatedReplicas", 0);
		const char *cur = k8s_str(obj, "status.currentRevision");
		const char *up = k8s_str(obj, "status.updateRevision");

		prenv_buf_printf(line, " %ld/%ld ready", observed ? ready : 0, want);
		return observed && ready >= want && (upd >= want || (cur && up && !strcmp(cur, up)));
	}
	if (!strcmp(kind, "DaemonSet")) {
		long want = k8s_num(obj, "status.desiredNumberScheduled", 0);
		long upd = k8s_num(obj, "status.updatedNumberScheduled", 0);
		long avail = k8s_num(obj, "status.numberAvailable", 0);

		prenv_buf_printf(line, " %ld/%ld ready", observed ? avail : 0, want);
		return observed && k8s_item(obj, "status.desiredNumberScheduled") && upd >= want && avail >= want;
	}
	if (!strcmp(kind, "Job")) {
		const cJSON *f = condition(obj, "Failed");

		if (cond_true(f)) {
			prenv_buf_adds(line, " failed");
			prenv_buf_printf(why, "%s: %s", k8s_str(f, "reason") ? k8s_str(f, "reason") : "Failed",
					 k8s_str(f, "message") ? k8s_str(f, "message") : "the job failed");
			return -1;
		}
		if (cond_true(condition(obj, "Complete"))) {
			prenv_buf_adds(line, " complete");
			return 1;
		}
		prenv_buf_printf(line, " running (%ld succeeded, %ld failed)", k8s_num(obj, "status.succeeded", 0),
				 k8s_num(obj, "status.failed", 0));
		return 0;
	}
	return 1;
}

static int is_waited_kind(const char *kind)
{
	return kind && (!strcmp(kind, "Deployment") || !strcmp(kind, "StatefulSet") ||
			!strcmp(kind, "DaemonSet") || !strcmp(kind, "Job"));
}

const char *k8s_pod_failure(const cJSON *pod, const char **container, const char **message)
{
	static const char *const bad[] = { "CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull",
					   "CreateContainerConfigError", "InvalidImageName",
					   "CreateContainerError" };
	static const char *const lists[] = { "status.initContainerStatuses", "status.containerStatuses" };
	size_t l, i;
	const cJSON *cs;

	if (k8s_str(pod, "metadata.deletionTimestamp"))
		return NULL;
	for (l = 0; l < 2; l++)
		cJSON_ArrayForEach(cs, k8s_item(pod, lists[l])) {
			const char *r = k8s_str(cs, "state.waiting.reason");

			for (i = 0; r && i < sizeof(bad) / sizeof(bad[0]); i++)
				if (!strcmp(r, bad[i])) {
					*container = k8s_str(cs, "name");
					*message = k8s_str(cs, "state.waiting.message");
					return r;
				}
		}
	return NULL;
}

/* ------------------------------------------------------------ watch threads */

struct evq {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	cJSON *events;          /* array of {"type", "object"} */
	int stop;
	int nerr;
	struct prenv_err err;   /* first stream error */
};

struct watcher {
	struct evq *q;
	struct k8s_client *k;   /* only for k8s_client_cred / k8s_client_http_new */
	struct http_client *http; /* replaced (under q->mu) when the client certificate changes */
	char *url;              /* collection URL with labelSelector, without watch params */
	char *rv;
	struct k8s_cred cred;   /* what this stream sends (a copy, brought up to date per slice) */
	long deadline_ms;       /* monotonic */
	pthread_t th;
	int started;
	int gone;               /* 410: list again */
};

static void push(struct evq *q, cJSON *ev)
{
	pthread_mutex_lock(&q->mu);
	cJSON_AddItemToArray(q->events, ev);
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

static int on_line(void *ud, const char *line, size_t len)
{
	struct watcher *w = ud;
	cJSON *ev = cJSON_ParseWithLength(line, len);
	const char *type = k8s_str(ev, "type");
	const char *rv = k8s_str(ev, "object.metadata.resourceVersion");
	int stop;

	if (type && !strcmp(type, "ERROR")) {
		if (k8s_num(ev, "object.code", 0) == 410)
			w->gone = 1;
		cJSON_Delete(ev);
		return 1;
	}
	if (rv) {
		free(w->rv);
		w->rv = strdup(rv);
	}
	if (type && strcmp(type, "BOOKMARK"))
		push(w->q, ev);
	else
		cJSON_Delete(ev);
	pthread_mutex_lock(&w->q->mu);
	stop = w->q->stop;
	pthread_mutex_unlock(&w->q->mu);
	return stop;
}

/* Lists the collection (first time or after 410) and queues every item as
 * a synthetic event. */
static int relist(struct watcher *w, struct prenv_err *err)
{
	const char *hdrs[] = { "Accept: application/json", NULL };
	struct http_request rq;
	struct http_response resp = HTTP_RESPONSE_INIT;
	cJSON *doc = NULL, *it;
	const char *kind;
	int rc;

	memset(&rq, 0, sizeof(rq));
	rq.url = w->url;
	rq.headers = hdrs;
	rq.bearer_token = w->cred.token;
	if ((rc = http_do(w->http, &rq, &resp, err)) < 0 && resp.status == 401)
		rc = HTTP_401;
	if (rc == 0) {
		doc = cJSON_ParseWithLength(resp.body.ptr, resp.body.len);
		kind = k8s_str(doc, "kind");
		free(w->rv);
		w->rv = k8s_str(doc, "metadata.resourceVersion") ? strdup(k8s_str(doc, "metadata.resourceVersion")) : NULL;
		cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(doc, "items")) {
			cJSON *ev = cJSON_CreateObject(), *o = cJSON_Duplicate(it, 1);

			if (kind && strlen(kind) > 4 && !cJSON_GetObjectItemCaseSensitive(o, "kind")) {
				char *k = strndup(kind, strlen(kind) - 4); /* "DeploymentList" */

				cJSON_AddStringToObject(o, "kind", k);
				free(k);
			}
			cJSON_AddStringToObject(ev, "type", "ADDED");
			cJSON_AddItemToObject(ev, "object", o);
			push(w->q, ev);
		}
		/* an empty marker so the main thread knows this kind was listed */
		{
			cJSON *ev = cJSON_CreateObject();

			cJSON_AddStringToObject(ev, "type", "SYNCED");
			push(w->q, ev);
		}
	}
	cJSON_Delete(doc);
	http_response_free(&resp);
	return rc;
}

/* OpenSSL 3 (under libcurl) keeps per-thread random generators that it
 * frees only when the thread says it is done; without this they would
 * leak once per watch thread. Looked up at run time: prenv does not link
 * OpenSSL itself, and a TLS library without the function needs nothing. */
static void thread_tls_cleanup(void)
{
	void (*stop)(void);
	void *sym = dlsym(RTLD_DEFAULT, "OPENSSL_thread_stop");

	if (sym) {
		memcpy(&stop, &sym, sizeof(stop));
		stop();
	}
}

/* http_request.cancelled: the wait is over. */
static int watcher_stopped(void *ud)
{
	struct watcher *w = ud;
	int stop;

	pthread_mutex_lock(&w->q->mu);
	stop = w->q->stop;
	pthread_mutex_unlock(&w->q->mu);
	return stop;
}

/* The server-side length of the next watch slice: what is left of the
 * wait, rounded up, at most WATCH_SLICE_MAX_S. */
static long slice_seconds(long left_ms)
{
	long t = (left_ms + 999) / 1000;

	return t < 1 ? 1 : t > WATCH_SLICE_MAX_S ? WATCH_SLICE_MAX_S : t;
}

/* Brings the stream's credential up to date (stale: the serial of one the
 * server refused, see k8s_client_cred; 0: none): a token that expired or
 * was refused is replaced, and the http client is remade when an exec
 * plugin handed out another client certificate. */
static int watcher_cred(struct watcher *w, unsigned long stale, struct prenv_err *err)
{
	struct k8s_cred c;
	struct http_client *fresh = NULL, *old;
	int rc = k8s_client_cred(w->k, stale, &c, err);

	if (rc < 0)
		return rc;
	if (c.cert_gen != w->cred.cert_gen) {
		if ((rc = k8s_client_http_new(w->k, 30000, &fresh, err)) < 0) {
			k8s_cred_clear(&c);
			return rc;
		}
		pthread_mutex_lock(&w->q->mu); /* waiting_free() wakes w->http under it */
		old = w->http;
		w->http = fresh;
		pthread_mutex_unlock(&w->q->mu);
		http_client_free(old);
	}
	k8s_cred_clear(&w->cred);
	w->cred = c;
	return 0;
}

/* After a request of the stream failed with rc: 1 when it is worth one more
 * try with a fresh credential (the first 401 in a row: a token that expired
 * or was revoked while the stream ran), else 0 (rc stays). */
static int retry_with_fresh_cred(struct watcher *w, int *rc, int *refused,
				 struct prenv_err *err)
{
	if (*rc != HTTP_401 || (*refused)++)
		return 0;
	prenv_err_clear(err);
	log_verbose("watch: the API server refused the credential (HTTP 401): refreshing it");
	*rc = watcher_cred(w, w->cred.serial, err);
	return *rc == 0;
}

/* One watch slice from w->rv: 0 when it ended (its time, the server, or
 * the wait is over), HTTP_401, or another error. */
static int watch_slice(struct watcher *w, struct prenv_buf *url, long secs, struct prenv_err *err)
{
	const char *hdrs[] = { "Accept: application/json", NULL };
	struct http_request rq;
	long status = 0;
	int rc;

	prenv_buf_reset(url);
	prenv_buf_printf(url, "%s%swatch=1&allowWatchBookmarks=true&timeoutSeconds=%ld", w->url,
			 strchr(w->url, '?') ? "&" : "?", secs);
	if (w->rv) {
		prenv_buf_adds(url, "&resourceVersion=");
		http_url_escape(url, w->rv);
	}
	memset(&rq, 0, sizeof(rq));
	rq.url = url->ptr;
	rq.headers = hdrs;
	rq.bearer_token = w->cred.token;
	rq.cancelled = watcher_stopped;
	rq.cancel_ud = w;
	rc = http_stream_lines(w->http, &rq, secs * 1000 + WATCH_GRACE_MS, on_line, w, &status, err);
	if (rc == HTTP_ETIMEDOUT) {
		prenv_err_clear(err);
		rc = 0;
	}
	return rc < 0 && status == 401 ? HTTP_401 : rc;
}

/* Lists the kind, then watches it from the list's resourceVersion until the
 * wait is over. Each slice ends on the server's side (timeoutSeconds), so
 * the connection stays open for the next one; the main thread ends the
 * current slice at once when it stops the wait (cancelled + wakeup). Every
 * list and slice sends the current credential (an exec plugin's token that
 * expired is renewed), and a 401 is retried once with a fresh one. */
static void *watch_main(void *ud)
{
	struct watcher *w = ud;
	struct prenv_err err = PRENV_ERR_INIT;
	struct prenv_buf url = PRENV_BUF_INIT;
	int refused = 0, listed = 0, rc = 0;

	w->gone = 1; /* the first list */
	while (rc == 0) {
		long left = w->deadline_ms - (long)fs_now_ms();

		if (watcher_stopped(w) || (listed && left <= 0))
			break;
		if ((rc = watcher_cred(w, 0, &err)) < 0)
			break;
		if (w->gone && (rc = relist(w, &err)) == 0) {
			w->gone = 0;
			listed = 1;
		}
		if (rc == 0)
			rc = watch_slice(w, &url, slice_seconds(left), &err);
		if (rc == 0)
			refused = 0;
		else
			retry_with_fresh_cred(w, &rc, &refused, &err);
	}
	if (rc < 0) {
		pthread_mutex_lock(&w->q->mu);
		if (!w->q->nerr++)
			prenv_err_set(&w->q->err, rc == HTTP_401 ? PRENV_EAUTH : err.code, "%s",
				      err.msg ? err.msg : "watch failed");
		pthread_cond_signal(&w->q->cv);
		pthread_mutex_unlock(&w->q->mu);
	}
	prenv_err_clear(&err);
	prenv_buf_free(&url);
	thread_tls_cleanup();
	return NULL;
}

/* ------------------------------------------------------------ diagnosis */

static void add_logs(struct k8s_client *k, const char *ns, const char *pod, const char *container,
		     int previous, struct prenv_buf *detail)
{
	struct prenv_buf url = PRENV_BUF_INIT;
	struct http_response resp = HTTP_RESPONSE_INIT;
	struct prenv_err e = PRENV_ERR_INIT;
	int rc;

	prenv_buf_printf(&url, "%s/api/v1/namespaces/", k8s_client_conn(k)->server);
	http_url_escape(&url, ns);
	prenv_buf_adds(&url, "/pods/");
	http_url_escape(&url, pod);
	prenv_buf_printf(&url, "/log?tailLines=%d", LOG_LINES);
	if (container) {
		prenv_buf_adds(&url, "&container=");
		http_url_escape(&url, container);
	}
	if (previous)
		prenv_buf_adds(&url, "&previous=true");
	rc = k8s_request(k, "GET", url.ptr, NULL, NULL, &resp, &e);
	if (rc < 0 && previous) {
		/* no previous instance: the current one */
		prenv_err_clear(&e);
		prenv_buf_truncate(&url, url.len - strlen("&previous=true"));
		rc = k8s_request(k, "GET", url.ptr, NULL, NULL, &resp, &e);
	}
	if (rc == 0 && resp.body.len) {
		prenv_buf_printf(detail, "last %d log lines of pod/%s container %s:\n", LOG_LINES, pod,
				 container ? container : "?");
		prenv_buf_add(detail, resp.body.ptr, resp.body.len);
		if (resp.body.ptr[resp.body.len - 1] != '\n')
			prenv_buf_addc(detail, '\n');
	} else {
		prenv_buf_printf(detail, "no logs of pod/%s container %s%s%s\n", pod, container ? container : "?",
				 e.msg ? ": " : "", e.msg ? e.msg : "");
	}
	prenv_err_clear(&e);
	http_response_free(&resp);
	prenv_buf_free(&url);
}

static void add_events(struct k8s_client *k, const char *ns, struct prenv_buf *detail)
{
	static const struct k8s_mapping ev = { (char *)"", (char *)"v1", (char *)"Event", (char *)"events", 1 };
	struct prenv_err e = PRENV_ERR_INIT;
	cJSON *items = NULL, *it;
	int n, skip;

	if (k8s_list(k, &ev, ns, NULL, "type=Warning", &items, NULL, &e) < 0) {
		prenv_buf_printf(detail, "events of namespace %s not available: %s\n", ns, e.msg);
		prenv_err_clear(&e);
		return;
	}
	n = cJSON_GetArraySize(items);
	if (n == 0) {
		cJSON_Delete(items);
		return;
	}
	prenv_buf_printf(detail, "Warning events in namespace %s%s:\n", ns, n > MAX_EVENTS ? " (latest)" : "");
	skip = n > MAX_EVENTS ? n - MAX_EVENTS : 0;
	cJSON_ArrayForEach(it, items) {
		if (skip-- > 0)
			continue;
		prenv_buf_printf(detail, "  %s/%s: %s: %s", k8s_str(it, "involvedObject.kind") ?
				 k8s_str(it, "involvedObject.kind") : "?",
				 k8s_str(it, "involvedObject.name") ? k8s_str(it, "involvedObject.name") : "?",
				 k8s_str(it, "reason") ? k8s_str(it, "reason") : "?",
				 k8s_str(it, "message") ? k8s_str(it, "message") : "");
		if (k8s_num(it, "count", 1) > 1)
			prenv_buf_printf(detail, " (x%ld)", k8s_num(it, "count", 1));
		prenv_buf_addc(detail, '\n');
	}
	cJSON_Delete(items);
}

/* Is this failing pod from an outdated ReplicaSet of a Deployment (being
 * replaced)? Then its failure is not the rollout's. */
static int pod_outdated(struct k8s_client *k, const cJSON *pod, const char *ns)
{
	static const struct k8s_mapping rsm = { (char *)"apps", (char *)"v1", (char *)"ReplicaSet",
						(char *)"replicasets", 1 };
	static const struct k8s_mapping dm = { (char *)"apps", (char *)"v1", (char *)"Deployment",
					       (char *)"deployments", 1 };
	const cJSON *ow;
	struct prenv_buf url = PRENV_BUF_INIT;
	struct prenv_err e = PRENV_ERR_INIT;
	cJSON *rs = NULL, *d = NULL;
	int old = 0;

	cJSON_ArrayForEach(ow, k8s_item(pod, "metadata.ownerReferences")) {
		const cJSON *dow;

		if (!k8s_str(ow, "kind") || strcmp(k8s_str(ow, "kind"), "ReplicaSet"))
			continue;
		k8s_url(k, &url, &rsm, ns, k8s_str(ow, "name"), NULL);
		if (k8s_get_json(k, url.ptr, &rs, &e) < 0)
			break;
		if (k8s_num(rs, "spec.replicas", 1) == 0) {
			old = 1;
			break;
		}
		cJSON_ArrayForEach(dow, k8s_item(rs, "metadata.ownerReferences")) {
			const char *a, *b;

			if (!k8s_str(dow, "kind") || strcmp(k8s_str(dow, "kind"), "Deployment"))
				continue;
			prenv_buf_reset(&url);
			k8s_url(k, &url, &dm, ns, k8s_str(dow, "name"), NULL);
			if (k8s_get_json(k, url.ptr, &d, &e) < 0)
				break;
			a = k8s_annotation(rs, "deployment.kubernetes.io/revision");
			b = k8s_annotation(d, "deployment.kubernetes.io/revision");
			if (a && b && strcmp(a, b))
				old = 1;
			break;
		}
		break;
	}
	prenv_err_clear(&e);
	prenv_buf_free(&url);
	cJSON_Delete(rs);
	cJSON_Delete(d);
	return old;
}

/* The logs of the first failed pod of the Job whose uid is given, among
 * pods (an array or an object of pods); 1 when there was one. */
static int failed_pod_logs(struct k8s_client *k, const char *uid, const char *ns, const cJSON *pods,
			   struct prenv_buf *detail)
{
	const cJSON *p;

	cJSON_ArrayForEach(p, pods) {
		const cJSON *ow, *cs;
		int mine = 0;

		cJSON_ArrayForEach(ow, k8s_item(p, "metadata.ownerReferences"))
			if (uid && k8s_str(ow, "uid") && !strcmp(k8s_str(ow, "uid"), uid))
				mine = 1;
		if (!mine || !k8s_str(p, "status.phase") || strcmp(k8s_str(p, "status.phase"), "Failed"))
			continue;
		cs = cJSON_GetArrayItem(k8s_item(p, "status.containerStatuses"), 0);
		add_logs(k, ns, k8s_str(p, "metadata.name"), k8s_str(cs, "name"), 0, detail);
		return 1;
	}
	return 0;
}

/* The failing pod of a failed Job: logs. The pods come from their own
 * watch, which can lag the Job's (the Job is marked failed after its pod
 * failed, but the two streams arrive independently): when the tracked
 * pods do not show the failed pod yet, the server is asked. */
static void job_logs(struct k8s_client *k, const cJSON *job, const char *ns, const cJSON *pods,
		     struct prenv_buf *detail)
{
	static const struct k8s_mapping pm = { (char *)"", (char *)"v1", (char *)"Pod", (char *)"pods", 1 };
	const char *uid = k8s_str(job, "metadata.uid");
	struct prenv_err e = PRENV_ERR_INIT;
	cJSON *items = NULL;

	if (!uid || failed_pod_logs(k, uid, ns, pods, detail))
		return;
	if (k8s_list(k, &pm, ns, NULL, NULL, &items, NULL, &e) == 0)
		(void)failed_pod_logs(k, uid, ns, items, detail);
	prenv_err_clear(&e);
	cJSON_Delete(items);
}

/* ------------------------------------------------------------ the wait */

struct tracked {
	cJSON *objs;     /* object: "kind/name" -> latest object */
	cJSON *pods;     /* object: name -> latest pod */
	cJSON *lines;    /* object: "kind/name" -> last printed line */
};

static void track(struct tracked *t, const cJSON *wanted, cJSON *ev)
{
	const char *type = k8s_str(ev, "type");
	cJSON *obj = cJSON_GetObjectItemCaseSensitive(ev, "object");
	const char *kind = k8s_str(obj, "kind"), *name = k8s_str(obj, "metadata.name");
	struct prenv_buf key = PRENV_BUF_INIT;

	if (!kind || !name)
		return;
	if (!strcmp(kind, "Pod")) {
		cJSON_DeleteItemFromObjectCaseSensitive(t->pods, name);
		if (strcmp(type, "DELETED"))
			cJSON_AddItemToObject(t->pods, name, cJSON_DetachItemViaPointer(ev, obj));
		return;
	}
	prenv_buf_printf(&key, "%s/%s", kind, name);
	if (cJSON_GetObjectItemCaseSensitive(wanted, key.ptr)) {
		cJSON_DeleteItemFromObjectCaseSensitive(t->objs, key.ptr);
		if (strcmp(type, "DELETED"))
			cJSON_AddItemToObject(t->objs, key.ptr, cJSON_DetachItemViaPointer(ev, obj));
	}
	prenv_buf_free(&key);
}

/* What one wait watches: the workload kinds, then pods (for fail-fast). */
static const struct {
	const char *kind, *group, *plural;
} watch_kinds[] = {
	{ "Deployment", "apps", "deployments" }, { "StatefulSet", "apps", "statefulsets" },
	{ "DaemonSet", "apps", "daemonsets" }, { "Job", "batch", "jobs" }, { "Pod", "", "pods" },
};
#define NKINDS (sizeof(watch_kinds) / sizeof(watch_kinds[0]))
#define POD_KIND (NKINDS - 1)

/* One k8s_wait_ready() call. The watchers point at q, so it stays put. */
struct waiting {
	struct k8s_client *k;
	const char *ns;
	long seconds;
	long deadline;           /* monotonic ms */
	struct watcher w[NKINDS];
	size_t nw;
	struct evq q;
	struct tracked t;
	cJSON *wanted;           /* object: "kind/name" -> true */
	int nwanted;
	int synced;              /* watchers that listed their kind */
	struct prenv_buf r, d;   /* the reason and the detail of a failure */
};

static void waiting_init(struct waiting *s, struct k8s_client *k, const char *ns, long seconds)
{
	memset(s, 0, sizeof(*s));
	s->k = k;
	s->ns = ns;
	s->seconds = seconds;
	s->deadline = (long)fs_now_ms() + seconds * 1000;
	pthread_mutex_init(&s->q.mu, NULL);
	pthread_cond_init(&s->q.cv, NULL);
	s->q.events = cJSON_CreateArray();
	s->t.objs = cJSON_CreateObject();
	s->t.pods = cJSON_CreateObject();
	s->t.lines = cJSON_CreateObject();
	s->wanted = cJSON_CreateObject();
	prenv_buf_init(&s->r, 0);
	prenv_buf_init(&s->d, 0);
}

/* Stops the watch threads (if any) and frees everything. */
static void waiting_free(struct waiting *s)
{
	size_t i;

	pthread_mutex_lock(&s->q.mu);
	s->q.stop = 1;
	for (i = 0; i < s->nw; i++) /* under the lock: a watcher may swap its client */
		http_client_wakeup(s->w[i].http);
	pthread_mutex_unlock(&s->q.mu);
	for (i = 0; i < s->nw; i++) {
		if (s->w[i].started)
			pthread_join(s->w[i].th, NULL);
		http_client_free(s->w[i].http);
		free(s->w[i].url);
		free(s->w[i].rv);
		k8s_cred_clear(&s->w[i].cred);
	}
	prenv_err_clear(&s->q.err);
	cJSON_Delete(s->q.events);
	pthread_mutex_destroy(&s->q.mu);
	pthread_cond_destroy(&s->q.cv);
	cJSON_Delete(s->t.objs);
	cJSON_Delete(s->t.pods);
	cJSON_Delete(s->t.lines);
	cJSON_Delete(s->wanted);
	prenv_buf_free(&s->r);
	prenv_buf_free(&s->d);
}

/* The workloads of prepared in ns, as "kind/name" keys of s->wanted. */
static void collect_wanted(struct waiting *s, const cJSON *prepared)
{
	const cJSON *o;

	cJSON_ArrayForEach(o, prepared) {
		const char *kind = k8s_str(o, "kind");
		struct prenv_buf key = PRENV_BUF_INIT;

		if (!is_waited_kind(kind) || !k8s_str(o, "metadata.namespace") ||
		    strcmp(k8s_str(o, "metadata.namespace"), s->ns))
			continue;
		prenv_buf_printf(&key, "%s/%s", kind, k8s_str(o, "metadata.name"));
		cJSON_AddTrueToObject(s->wanted, key.ptr);
		s->nwanted++;
		prenv_buf_free(&key);
	}
}

/* 1 when a wanted object is of watch_kinds[i] (pods: always). */
static int kind_wanted(const struct waiting *s, size_t i)
{
	const char *kind = watch_kinds[i].kind;
	const cJSON *wo;

	if (i == POD_KIND)
		return 1;
	cJSON_ArrayForEach(wo, s->wanted)
		if (!strncmp(wo->string, kind, strlen(kind)) && wo->string[strlen(kind)] == '/')
			return 1;
	return 0;
}

/* The collection URL of watch_kinds[i] in the namespace (caller frees);
 * workloads are selected by the environment's labels. */
static char *watch_url(const struct waiting *s, size_t i, const char *label_selector)
{
	struct prenv_buf url = PRENV_BUF_INIT;

	prenv_buf_adds(&url, k8s_client_conn(s->k)->server);
	if (*watch_kinds[i].group)
		prenv_buf_printf(&url, "/apis/%s/v1", watch_kinds[i].group);
	else
		prenv_buf_adds(&url, "/api/v1");
	prenv_buf_adds(&url, "/namespaces/");
	http_url_escape(&url, s->ns);
	prenv_buf_printf(&url, "/%s", watch_kinds[i].plural);
	if (i != POD_KIND && label_selector) {
		prenv_buf_adds(&url, "?labelSelector=");
		http_url_escape(&url, label_selector);
	}
	return prenv_buf_detach(&url, NULL);
}

/* One watcher (own HTTP client, own thread) per kind that is wanted. */
static int start_watches(struct waiting *s, const char *label_selector, struct prenv_err *err)
{
	struct k8s_cred now;
	size_t i;
	int rc;

	/* the exec plugin runs here if it must, not in every thread at once */
	if ((rc = k8s_client_cred(s->k, 0, &now, err)) < 0)
		return rc;
	for (i = 0; i < NKINDS && rc == 0; i++) {
		struct watcher *w = &s->w[s->nw];

		if (!kind_wanted(s, i))
			continue;
		w->q = &s->q;
		w->k = s->k;
		w->url = watch_url(s, i, label_selector);
		w->cred.cert_gen = now.cert_gen;
		w->deadline_ms = s->deadline;
		/* 30 s for the list; each watch slice has its own time-out */
		if ((rc = k8s_client_http_new(s->k, 30000, &w->http, err)) < 0)
			free(w->url);
		else
			s->nw++;
	}
	k8s_cred_clear(&now);
	if (rc < 0)
		return rc;
	for (i = 0; i < s->nw; i++) {
		if (pthread_create(&s->w[i].th, NULL, watch_main, &s->w[i]) != 0)
			return prenv_err_set(err, PRENV_EFAIL, "cannot start a watch thread: %s",
					     strerror(errno));
		s->w[i].started = 1;
	}
	return 0;
}

/* ts = now (CLOCK_REALTIME, as pthread_cond_timedwait wants) + ms. */
static void abstime_in(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

/* Waits until events arrive, a stream fails or the deadline passes, and
 * takes the queued events (*evs, caller frees; may be empty). */
static int take_events(struct waiting *s, cJSON **evs, struct prenv_err *err)
{
	struct evq *q = &s->q;
	int rc = 0;

	pthread_mutex_lock(&q->mu);
	while (cJSON_GetArraySize(q->events) == 0 && !q->nerr) {
		struct timespec ts;
		long left = s->deadline - (long)fs_now_ms();

		if (left <= 0)
			break;
		abstime_in(&ts, left);
		if (pthread_cond_timedwait(&q->cv, &q->mu, &ts) == ETIMEDOUT)
			break;
	}
	*evs = q->events;
	q->events = cJSON_CreateArray();
	if (q->nerr) {
		rc = prenv_err_set(err, q->err.code ? q->err.code : PRENV_EFAIL, "watching %s: %s",
				   s->ns, q->err.msg);
		cJSON_Delete(*evs);
		*evs = NULL;
	}
	pthread_mutex_unlock(&q->mu);
	return rc;
}

/* Keeps the latest copy of every object the events carry; frees evs. */
static void track_events(struct waiting *s, cJSON *evs)
{
	cJSON *ev;

	cJSON_ArrayForEach(ev, evs) {
		if (!strcmp(k8s_str(ev, "type") ? k8s_str(ev, "type") : "", "SYNCED"))
			s->synced++;
		else
			track(&s->t, s->wanted, ev);
	}
	cJSON_Delete(evs);
}

/* Re-evaluates every wanted workload, printing a line when one's state
 * changed. Returns 1 when one failed (s->r, s->d filled; 2: a Job, whose
 * pod's logs are in s->d already); *all_ready. */
static int check_workloads(struct waiting *s, int *all_ready)
{
	const cJSON *wo;
	int failed = 0;

	*all_ready = 1;
	cJSON_ArrayForEach(wo, s->wanted) {
		const cJSON *obj = cJSON_GetObjectItemCaseSensitive(s->t.objs, wo->string);
		struct prenv_buf line = PRENV_BUF_INIT, why = PRENV_BUF_INIT;
		const cJSON *last;
		int st;

		if (!obj) {
			*all_ready = 0;
			continue;
		}
		st = k8s_readiness(obj, &line, &why);
		last = cJSON_GetObjectItemCaseSensitive(s->t.lines, wo->string);
		if (!last || strcmp(last->valuestring, line.ptr)) {
			log_info("%s", line.ptr);
			cJSON_DeleteItemFromObjectCaseSensitive(s->t.lines, wo->string);
			cJSON_AddStringToObject(s->t.lines, wo->string, line.ptr);
		}
		if (st < 0 && !failed) {
			failed = 1;
			prenv_buf_printf(&s->r, "%s: %s", line.ptr, why.ptr);
			prenv_buf_truncate(&s->r, strcspn(s->r.ptr, "\n"));
			if (!strcmp(k8s_str(obj, "kind"), "Job")) {
				job_logs(s->k, obj, s->ns, s->t.pods, &s->d);
				failed = 2;
			}
		}
		if (st != 1)
			*all_ready = 0;
		prenv_buf_free(&line);
		prenv_buf_free(&why);
	}
	return failed;
}

/* 1 when a pod of the current rollout fails: its one-line reason goes to
 * line (s->r, or the detail when a workload's failure is the reason), its
 * logs to s->d. */
static int check_pods(struct waiting *s, struct prenv_buf *line)
{
	const cJSON *p;

	cJSON_ArrayForEach(p, s->t.pods) {
		const char *cn = NULL, *msg = NULL, *why = k8s_pod_failure(p, &cn, &msg);
		size_t at = line->len;

		if (!why || pod_outdated(s->k, p, s->ns))
			continue;
		prenv_buf_printf(line, "pod/%s container %s: %s%s%s", p->string, cn ? cn : "?", why,
				 msg ? ": " : "", msg ? msg : "");
		if (line->ptr)
			prenv_buf_truncate(line, at + strcspn(line->ptr + at, "\n"));
		if (line != &s->r)
			prenv_buf_addc(line, '\n');
		add_logs(s->k, s->ns, p->string, cn, !strcmp(why, "CrashLoopBackOff"), &s->d);
		return 1;
	}
	return 0;
}

/* s->r: what is not ready at the deadline. */
static void not_ready_reason(struct waiting *s)
{
	const cJSON *wo;

	prenv_buf_printf(&s->r, "not ready after %ld s:", s->seconds);
	cJSON_ArrayForEach(wo, s->wanted) {
		const cJSON *obj = cJSON_GetObjectItemCaseSensitive(s->t.objs, wo->string);
		struct prenv_buf line = PRENV_BUF_INIT, why = PRENV_BUF_INIT;

		if (!obj)
			prenv_buf_printf(&s->r, " %s (not found)", wo->string);
		else if (k8s_readiness(obj, &line, &why) != 1)
			prenv_buf_printf(&s->r, " %s;", line.ptr);
		prenv_buf_free(&line);
		prenv_buf_free(&why);
	}
}

/* Takes events until every workload is ready (0), one fails or the
 * deadline passes (PRENV_EFAIL with *reason and *detail), or a stream
 * fails. */
static int watch_until_ready(struct waiting *s, char **reason, char **detail,
			     struct prenv_err *err)
{
	for (;;) {
		cJSON *evs;
		int all_ready, rc;

		if ((rc = take_events(s, &evs, err)) < 0)
			return rc;
		track_events(s, evs);
		if (s->synced < (int)s->nw && (long)fs_now_ms() < s->deadline)
			continue;
		if ((rc = check_workloads(s, &all_ready)) || check_pods(s, &s->r)) {
			/* a Deployment that failed (ProgressDeadlineExceeded: it
			 * may have been failing before this run) says little;
			 * what its failing pod says goes in the detail */
			if (rc == 1)
				(void)check_pods(s, &s->d);
			add_events(s->k, s->ns, &s->d);
			*reason = prenv_buf_detach(&s->r, NULL);
			*detail = prenv_buf_detach(&s->d, NULL);
			return prenv_err_set(err, PRENV_EFAIL, "the environment did not become ready: %s",
					     *reason);
		}
		if (all_ready) {
			log_info("all %d workload%s ready", s->nwanted, s->nwanted == 1 ? "" : "s");
			return 0;
		}
		if ((long)fs_now_ms() >= s->deadline) {
			not_ready_reason(s);
			add_events(s->k, s->ns, &s->d);
			*reason = prenv_buf_detach(&s->r, NULL);
			*detail = s->d.len ? prenv_buf_detach(&s->d, NULL) : NULL;
			return prenv_err_set(err, PRENV_EFAIL, "%s (provider.wait bounds the wait)", *reason);
		}
	}
}

int k8s_wait_ready(struct k8s_client *k, const cJSON *prepared, const char *ns,
		   const char *label_selector, long seconds, char **reason, char **detail,
		   struct prenv_err *err)
{
	struct waiting s;
	int rc = 0;

	*reason = *detail = NULL;
	waiting_init(&s, k, ns, seconds);
	collect_wanted(&s, prepared);
	if (s.nwanted == 0 || seconds <= 0)
		goto done;
	if ((rc = start_watches(&s, label_selector, err)) < 0)
		goto done;
	log_info("waiting up to %ld s for %d workload%s to be ready", seconds, s.nwanted,
		 s.nwanted == 1 ? "" : "s");
	rc = watch_until_ready(&s, reason, detail, err);
done:
	waiting_free(&s);
	return rc;
}

/* ------------------------------------------------------------ namespace gone */

struct nsw {
	const char *name;
	int gone;
};

static int ns_line(void *ud, const char *line, size_t len)
{
	struct nsw *s = ud;
	cJSON *ev = cJSON_ParseWithLength(line, len);
	const char *type = k8s_str(ev, "type"), *name = k8s_str(ev, "object.metadata.name");

	if (type && name && !strcmp(type, "DELETED") && !strcmp(name, s->name))
		s->gone = 1;
	if (type && !strcmp(type, "ERROR"))
		s->gone = -1; /* re-check with a GET */
	cJSON_Delete(ev);
	return s->gone != 0;
}

/* One watch slice of the namespace (from rv), on hc. */
static int ns_watch_slice(struct k8s_client *k, struct http_client *hc, const char *fs,
			  const char *rv, long left, struct nsw *s, struct prenv_err *err)
{
	static const struct k8s_mapping nsm = { (char *)"", (char *)"v1", (char *)"Namespace",
						(char *)"namespaces", 0 };
	const char *hdrs[] = { "Accept: application/json", NULL };
	struct prenv_buf url = PRENV_BUF_INIT;
	struct http_request rq;
	struct k8s_cred cred = { NULL, 0, 0 };
	long secs = slice_seconds(left), status = 0;
	int rc, attempt;

	k8s_url(k, &url, &nsm, NULL, NULL, NULL);
	prenv_buf_printf(&url, "?watch=1&timeoutSeconds=%ld&fieldSelector=", secs);
	http_url_escape(&url, fs);
	if (rv) {
		prenv_buf_adds(&url, "&resourceVersion=");
		http_url_escape(&url, rv);
	}
	for (attempt = 0; attempt < 2; attempt++) {
		unsigned long refused = cred.serial;

		k8s_cred_clear(&cred);
		if ((rc = k8s_client_cred(k, attempt ? refused : 0, &cred, err)) < 0)
			break;
		memset(&rq, 0, sizeof(rq));
		rq.url = url.ptr;
		rq.headers = hdrs;
		rq.bearer_token = cred.token;
		rc = http_stream_lines(hc, &rq, left < secs * 1000 ? left : secs * 1000 + WATCH_GRACE_MS,
				       ns_line, s, &status, err);
		if (rc == 0 || status != 401)
			break;
		prenv_err_clear(err); /* a token that expired meanwhile: once more */
	}
	k8s_cred_clear(&cred);
	prenv_buf_free(&url);
	if (rc == HTTP_ETIMEDOUT) {
		prenv_err_clear(err);
		rc = 0;
	}
	return rc;
}

int k8s_wait_ns_gone(struct k8s_client *k, const char *ns, long seconds, struct prenv_err *err)
{
	static const struct k8s_mapping nsm = { (char *)"", (char *)"v1", (char *)"Namespace",
						(char *)"namespaces", 0 };
	long deadline = (long)fs_now_ms() + seconds * 1000;
	struct prenv_buf fs = PRENV_BUF_INIT;
	struct http_client *hc = NULL;
	int rc;

	/* the watch stream has a client (and so a connection) of its own for
	 * the whole wait: a stream the deadline cuts leaves the main one alone */
	if ((rc = k8s_client_http_new(k, 0, &hc, err)) < 0)
		return rc;
	prenv_buf_printf(&fs, "metadata.name=%s", ns);
	for (;;) {
		cJSON *items = NULL;
		char *rv = NULL;
		struct nsw s = { ns, 0 };
		long left;

		if ((rc = k8s_list(k, &nsm, NULL, NULL, fs.ptr, &items, &rv, err)) < 0)
			break;
		if (cJSON_GetArraySize(items) == 0) {
			cJSON_Delete(items);
			free(rv);
			break;
		}
		cJSON_Delete(items);
		left = deadline - (long)fs_now_ms();
		if (left <= 0) {
			free(rv);
			rc = prenv_err_set(err, PRENV_EFAIL, "namespace %s is still terminating after %ld s; it "
					   "will go away on its own (check its finalizers if it does not)", ns, seconds);
			break;
		}
		rc = ns_watch_slice(k, hc, fs.ptr, rv, left, &s, err);
		free(rv);
		if (rc < 0 || s.gone == 1)
			break;
	}
	http_client_free(hc);
	prenv_buf_free(&fs);
	return rc;
}
