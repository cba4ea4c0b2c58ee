/* k8s_client.c - REST mapping, discovery, requests, lists; see k8s_int.h */
#include "kubernetes/k8s_int.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "render/render.h"
#include "util/log.h"

#define MAX_PARALLEL 8

struct gv_cache {
	char *gv;               /* "apps/v1", "v1" */
	cJSON *resources;       /* APIResourceList.resources, or NULL (not served) */
};

struct map_cache {
	struct k8s_mapping m;
	char *api_version;
};

struct k8s_client {
	struct k8s_conn *conn;
	pthread_mutex_t cred_mu;       /* conn's credential: refreshed and read under it */
	unsigned long cert_gen;        /* bumped when the client certificate changed */
	unsigned long http_gen;        /* the cert_gen http was made with */
	struct http_client *http;      /* the main thread's */
	unsigned long prev_requests;   /* of clients replaced after a credential change */
	struct gv_cache *gvs;
	size_t ngvs;
	struct map_cache **maps;
	size_t nmaps;
};

/* ------------------------------------------------------------ built-ins */

static const struct {
	const char *group, *kind, *plural;
	int namespaced;
} builtin[] = {
	{ "", "Namespace", "namespaces", 0 },
	{ "", "Pod", "pods", 1 },
	{ "", "Service", "services", 1 },
	{ "", "ConfigMap", "configmaps", 1 },
	{ "", "Secret", "secrets", 1 },
	{ "", "ServiceAccount", "serviceaccounts", 1 },
	{ "", "PersistentVolumeClaim", "persistentvolumeclaims", 1 },
	{ "", "PersistentVolume", "persistentvolumes", 0 },
	{ "", "ResourceQuota", "resourcequotas", 1 },
	{ "", "LimitRange", "limitranges", 1 },
	{ "", "ReplicationController", "replicationcontrollers", 1 },
	{ "", "Endpoints", "endpoints", 1 },
	{ "", "Event", "events", 1 },
	{ "apps", "Deployment", "deployments", 1 },
	{ "apps", "StatefulSet", "statefulsets", 1 },
	{ "apps", "DaemonSet", "daemonsets", 1 },
	{ "apps", "ReplicaSet", "replicasets", 1 },
	{ "batch", "Job", "jobs", 1 },
	{ "batch", "CronJob", "cronjobs", 1 },
	{ "networking.k8s.io", "Ingress", "ingresses", 1 },
	{ "networking.k8s.io", "NetworkPolicy", "networkpolicies", 1 },
	{ "networking.k8s.io", "IngressClass", "ingressclasses", 0 },
	{ "rbac.authorization.k8s.io", "Role", "roles", 1 },
	{ "rbac.authorization.k8s.io", "RoleBinding", "rolebindings", 1 },
	{ "rbac.authorization.k8s.io", "ClusterRole", "clusterroles", 0 },
	{ "rbac.authorization.k8s.io", "ClusterRoleBinding", "clusterrolebindings", 0 },
	{ "policy", "PodDisruptionBudget", "poddisruptionbudgets", 1 },
	{ "autoscaling", "HorizontalPodAutoscaler", "horizontalpodautoscalers", 1 },
	{ "apiextensions.k8s.io", "CustomResourceDefinition", "customresourcedefinitions", 0 },
	{ "storage.k8s.io", "StorageClass", "storageclasses", 0 },
	{ "apiregistration.k8s.io", "APIService", "apiservices", 0 },
	{ "scheduling.k8s.io", "PriorityClass", "priorityclasses", 0 },
};

int k8s_builtin_mapping(const char *group, const char *kind, const char **plural, int *namespaced)
{
	size_t i;

	for (i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++)
		if (!strcmp(builtin[i].group, group) && !strcmp(builtin[i].kind, kind)) {
			*plural = builtin[i].plural;
			*namespaced = builtin[i].namespaced;
			return 1;
		}
	return 0;
}

/* ------------------------------------------------------------ JSON helpers */

const cJSON *k8s_item(const cJSON *o, const char *path)
{
	const char *p = path;

	while (o && *p) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		char key[64];

		if (n >= sizeof(key) || !cJSON_IsObject(o))
			return NULL;
		memcpy(key, p, n);
		key[n] = 0;
		o = cJSON_GetObjectItemCaseSensitive(o, key);
		p += n + (dot ? 1 : 0);
	}
	return o;
}

const char *k8s_str(const cJSON *o, const char *path)
{
	const cJSON *v = k8s_item(o, path);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

const char *k8s_label(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(k8s_item(o, "metadata.labels"), key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

const char *k8s_annotation(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(k8s_item(o, "metadata.annotations"), key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

long k8s_num(const cJSON *o, const char *path, long dflt)
{
	const cJSON *v = k8s_item(o, path);

	return cJSON_IsNumber(v) ? (long)v->valuedouble : dflt;
}

int k8s_obj_ref(struct prenv_buf *out, const cJSON *obj)
{
	const char *kind = k8s_str(obj, "kind"), *name = k8s_str(obj, "metadata.name");
	const char *p;

	for (p = kind ? kind : "object"; *p; p++)
		prenv_buf_addc(out, (char)tolower((unsigned char)*p));
	return prenv_buf_printf(out, "/%s", name ? name : "?");
}

int k8s_obj_err(struct prenv_err *err, int code, const cJSON *obj, const char *fmt, ...)
{
	struct prenv_buf msg = PRENV_BUF_INIT, file = PRENV_BUF_INIT;
	const char *src = render_object_source(obj), *colon = src ? strrchr(src, ':') : NULL;
	int line = 0;
	va_list ap;

	k8s_obj_ref(&msg, obj);
	prenv_buf_adds(&msg, ": ");
	va_start(ap, fmt);
	prenv_buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	if (colon) {
		prenv_buf_add(&file, src, (size_t)(colon - src));
		line = atoi(colon + 1);
	}
	if (msg.failed)
		code = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	else
		prenv_err_set_at(err, code, colon ? file.ptr : NULL, line, 0, "%s", msg.ptr);
	prenv_buf_free(&msg);
	prenv_buf_free(&file);
	return code;
}

/* ------------------------------------------------------------ API errors */

#define API_MESSAGE_MAX 500

/* The end of a Go %#v dump at v ("core.PodTemplateSpec{...}",
 * "[]string(nil)", "(*int64)(0xc0...)"), or NULL when v is not one (a
 * quoted string or a number is a value a human wants to see). */
static const char *go_dump_end(const char *v)
{
	const char *p = v;
	char open, close;
	int depth = 0, quoted = 0;

	if (p[0] == '(' && p[1] == '*') { /* (*T)(0x...) */
		if (!(p = strstr(p, ")(")) || !(p = strchr(p + 2, ')')))
			return NULL;
		return p + 1;
	}
	while (isalnum((unsigned char)*p) || *p == '_' || *p == '.' || *p == '*' || *p == '[' || *p == ']')
		p++;
	if (p == v || (*p != '{' && *p != '('))
		return NULL;
	open = *p;
	close = open == '{' ? '}' : ')';
	for (; *p; p++) {
		if (quoted) {
			if (*p == '\\' && p[1])
				p++;
			else if (*p == '"')
				quoted = 0;
		} else if (*p == '"') {
			quoted = 1;
		} else if (*p == open) {
			depth++;
		} else if (*p == close && --depth == 0) {
			return p + 1;
		}
	}
	return p; /* cut short: drop the rest */
}

/* Appends m without the Go dumps of "Invalid value: <dump>: ". */
static void add_without_dumps(struct prenv_buf *out, const char *m)
{
	static const char iv[] = "Invalid value: ";
	const char *p = m, *hit;

	while ((hit = strstr(p, iv)) != NULL) {
		const char *v = hit + strlen(iv), *end = go_dump_end(v);

		if (!end) {
			prenv_buf_add(out, p, (size_t)(v - p));
			p = v;
			continue;
		}
		prenv_buf_add(out, p, (size_t)(hit - p));
		p = strncmp(end, ": ", 2) ? end : end + 2;
	}
	prenv_buf_adds(out, p);
}

int k8s_api_message(struct prenv_buf *out, long status, const char *body, size_t len)
{
	cJSON *st = body ? cJSON_ParseWithLength(body, len) : NULL;
	const char *reason = k8s_str(st, "reason"), *msg = k8s_str(st, "message");
	const cJSON *c;
	size_t start = out->len;
	int n = 0;

	if (!k8s_str(st, "kind") || strcmp(k8s_str(st, "kind"), "Status")) {
		cJSON_Delete(st);
		return -1;
	}
	prenv_buf_printf(out, "HTTP %ld%s%s: ", status > 0 ? status : k8s_num(st, "code", 0),
			 reason && *reason ? " " : "", reason ? reason : "");
	cJSON_ArrayForEach(c, k8s_item(st, "details.causes")) {
		const char *f = k8s_str(c, "field"), *cm = k8s_str(c, "message");

		if (!cm)
			continue;
		if (n++)
			prenv_buf_adds(out, "; ");
		if (f && *f)
			prenv_buf_printf(out, "%s: ", f);
		add_without_dumps(out, cm);
	}
	if (!n)
		add_without_dumps(out, msg ? msg : "(no message)");
	if (out->len - start > API_MESSAGE_MAX) {
		prenv_buf_truncate(out, start + API_MESSAGE_MAX);
		prenv_buf_adds(out, "...");
	}
	cJSON_Delete(st);
	return out->failed ? -1 : 0;
}

const char *k8s_api_hint(const cJSON *obj, const char *message)
{
	const char *kind = k8s_str(obj, "kind");

	if (strstr(message, "field is immutable")) {
		if (kind && !strcmp(kind, "Job"))
			return "a Job's pod template cannot change once the Job exists: name the Job with "
			       "{{git.short_sha}} (a new Job per commit) or set provider.replace_jobs: true "
			       "(prenv then deletes a Job whose template changed and creates it anew)";
		return "that field cannot change once the object exists: rename the object (or delete "
		       "it, or destroy the environment) and deploy again";
	}
	if (strstr(message, "omits key field"))
		return "set that field explicitly: server-side apply on Kubernetes < 1.21 needs every "
		       "key field of such a list (kubernetes#98576)";
	return NULL;
}

/* ------------------------------------------------------------ client */

void k8s_http_opts(struct http_client_opts *o, const struct k8s_conn *conn)
{
	memset(o, 0, sizeof(*o));
	o->user_agent_extra = "(kubernetes)";
	if (conn->ca.len) {
		o->ca_blob = conn->ca.ptr;
		o->ca_blob_len = conn->ca.len;
	}
	if (conn->cert.len && conn->key.len) {
		o->cert_blob = conn->cert.ptr;
		o->cert_len = conn->cert.len;
		o->key_blob = conn->key.ptr;
		o->key_len = conn->key.len;
	}
	o->insecure = conn->insecure;
}

static int make_http(struct k8s_client *k, struct prenv_err *err)
{
	struct http_client_opts o;

	k8s_http_opts(&o, k->conn);
	return http_client_new(&k->http, &o, err);
}

int k8s_client_new(struct k8s_client **out, struct k8s_conn *conn, struct prenv_err *err)
{
	struct k8s_client *k = calloc(1, sizeof(*k));
	const char *tok;
	int rc;

	*out = NULL;
	if (!k) {
		k8s_conn_free(conn);
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	}
	k->conn = conn;
	pthread_mutex_init(&k->cred_mu, NULL);
	/* an exec plugin may hand out a client certificate: run it first */
	if ((rc = k8s_conn_refresh(conn, 0, &tok, err)) < 0 || (rc = make_http(k, err)) < 0) {
		k8s_client_free(k);
		return rc;
	}
	conn->cred_changed = 0;
	*out = k;
	return 0;
}

void k8s_client_free(struct k8s_client *k)
{
	size_t i;

	if (!k)
		return;
	http_client_free(k->http);
	k8s_conn_free(k->conn);
	pthread_mutex_destroy(&k->cred_mu);
	for (i = 0; i < k->ngvs; i++) {
		free(k->gvs[i].gv);
		cJSON_Delete(k->gvs[i].resources);
	}
	free(k->gvs);
	for (i = 0; i < k->nmaps; i++) {
		free(k->maps[i]->m.group);
		free(k->maps[i]->m.version);
		free(k->maps[i]->m.kind);
		free(k->maps[i]->m.plural);
		free(k->maps[i]->api_version);
		free(k->maps[i]);
	}
	free(k->maps);
	free(k);
}

struct k8s_conn *k8s_client_conn(struct k8s_client *k)
{
	return k->conn;
}

unsigned long k8s_client_requests(const struct k8s_client *k)
{
	return k->prev_requests + (k->http ? http_client_request_count(k->http) : 0);
}

int k8s_client_cred(struct k8s_client *k, unsigned long stale, struct k8s_cred *out,
		    struct prenv_err *err)
{
	struct k8s_conn *c = k->conn;
	const char *tok;
	int rc;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&k->cred_mu);
	rc = k8s_conn_refresh(c, stale && stale == c->serial, &tok, err);
	if (rc == 0) {
		if (c->cred_changed) {
			k->cert_gen++;
			c->cred_changed = 0;
		}
		out->serial = c->serial;
		out->cert_gen = k->cert_gen;
		if (tok && !(out->token = strdup(tok)))
			rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	}
	pthread_mutex_unlock(&k->cred_mu);
	return rc;
}

void k8s_cred_clear(struct k8s_cred *c)
{
	if (c->token) {
		memset(c->token, 0, strlen(c->token));
		free(c->token);
	}
	memset(c, 0, sizeof(*c));
}

int k8s_client_http_new(struct k8s_client *k, long timeout_ms, struct http_client **out,
			struct prenv_err *err)
{
	struct http_client_opts o;
	int rc;

	pthread_mutex_lock(&k->cred_mu);
	k8s_http_opts(&o, k->conn);
	o.timeout_ms = timeout_ms;
	rc = http_client_new(out, &o, err);
	pthread_mutex_unlock(&k->cred_mu);
	return rc;
}

/* The current credential for a request of the main thread; remakes the
 * main http client when an exec plugin handed out another client
 * certificate. cred is the caller's (k8s_cred_clear). */
static int credential(struct k8s_client *k, unsigned long stale, struct k8s_cred *cred,
		      struct prenv_err *err)
{
	int rc = k8s_client_cred(k, stale, cred, err);

	if (rc < 0 || cred->cert_gen == k->http_gen)
		return rc;
	k->prev_requests += http_client_request_count(k->http);
	http_client_free(k->http);
	k->http = NULL;
	if ((rc = k8s_client_http_new(k, 0, &k->http, err)) == 0)
		k->http_gen = cred->cert_gen;
	return rc;
}

static void auth_message(struct k8s_client *k, long status, struct prenv_err *err)
{
	const char *what = status == 401
		? "the cluster did not accept the credentials (HTTP 401): the token or certificate is "
		  "expired or wrong; renew the kubeconfig secret or check the user"
		: "the cluster refused the request (HTTP 403): the user lacks RBAC permission for it; "
		  "grant it (e.g. a RoleBinding) or use another user";

	prenv_err_prefix(err, "%s (context %s, user %s, from %s)", what, k->conn->context,
			 k->conn->user ? k->conn->user : "none", k->conn->source);
	err->code = PRENV_EAUTH;
}

int k8s_request(struct k8s_client *k, const char *method, const char *url,
		const char *content_type, const char *body, struct http_response *resp,
		struct prenv_err *err)
{
	struct prenv_buf ct = PRENV_BUF_INIT;
	const char *hdrs[3] = { "Accept: application/json", NULL, NULL };
	struct http_request rq;
	struct k8s_cred cred = { NULL, 0, 0 };
	int rc, attempt;

	prenv_buf_printf(&ct, "Content-Type: %s", content_type ? content_type : "application/json");
	if (body)
		hdrs[1] = ct.ptr;
	for (attempt = 0; attempt < 2; attempt++) {
		unsigned long refused = cred.serial;

		k8s_cred_clear(&cred);
		if ((rc = credential(k, attempt > 0 ? refused : 0, &cred, err)) < 0)
			break;
		memset(&rq, 0, sizeof(rq));
		rq.method = method;
		rq.url = url;
		rq.headers = hdrs;
		rq.body = body;
		rq.body_len = body ? strlen(body) : 0;
		rq.bearer_token = cred.token;
		/* server-side apply is idempotent: the same body gives the same object */
		if (method && !strcmp(method, "PATCH") && content_type &&
		    !strcmp(content_type, "application/apply-patch+yaml"))
			rq.idempotent = HTTP_IDEMPOTENT_YES;
		http_response_free(resp);
		rc = http_do(k->http, &rq, resp, err);
		/* a 401: an exec plugin's token may have been revoked or expired
		 * early, a token file rotated: once more with a fresh one */
		if (rc == 0 || resp->status != 401 || (!k->conn->exec && !k->conn->token_file))
			break;
		prenv_err_clear(err);
	}
	if (rc < 0 && (resp->status == 401 || resp->status == 403))
		auth_message(k, resp->status, err);
	k8s_cred_clear(&cred);
	prenv_buf_free(&ct);
	return rc;
}

int k8s_request_many(struct k8s_client *k, struct http_request *reqs,
		     struct http_response *resps, size_t n, struct prenv_err *errs)
{
	struct k8s_cred cred;
	size_t i;
	int rc;

	if (n == 0)
		return 0;
	if ((rc = credential(k, 0, &cred, &errs[0])) < 0)
		return rc;
	for (i = 0; i < n; i++)
		reqs[i].bearer_token = cred.token;
	rc = http_do_many(k->http, reqs, resps, n, MAX_PARALLEL, errs);
	for (i = 0; i < n; i++)
		if (errs[i].code && (resps[i].status == 401 || resps[i].status == 403))
			auth_message(k, resps[i].status, &errs[i]);
	k8s_cred_clear(&cred);
	return rc;
}

int k8s_get_json(struct k8s_client *k, const char *url, cJSON **out, struct prenv_err *err)
{
	struct http_response resp = HTTP_RESPONSE_INIT;
	int rc;

	*out = NULL;
	rc = k8s_request(k, "GET", url, NULL, NULL, &resp, err);
	if (rc == 0) {
		*out = cJSON_ParseWithLength(resp.body.ptr, resp.body.len);
		if (!*out)
			rc = prenv_err_set(err, PRENV_EFAIL, "GET %s: the answer is not JSON", url);
	}
	http_response_free(&resp);
	return rc;
}

/* ------------------------------------------------------------ mapping */

/* apiVersion goes into URL paths: only a DNS-subdomain group and a version
 * word ("v1", "apps/v1", "example.com/v1beta1") are accepted. */
int k8s_api_version_ok(const char *av)
{
	const char *sl = strchr(av, '/');
	const char *p;

	if (!*av || (sl && (sl == av || strchr(sl + 1, '/'))))
		return 0;
	for (p = av; *p && p != sl; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		      ((*p == '.' || *p == '-') && sl)))
			return 0;
	if (sl) {
		if (!sl[1])
			return 0;
		for (p = sl + 1; *p; p++)
			if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
				return 0;
	}
	return 1;
}

static int split_api_version(const char *av, char **group, char **version)
{
	const char *sl = strchr(av, '/');

	*group = sl ? strndup(av, (size_t)(sl - av)) : strdup("");
	*version = strdup(sl ? sl + 1 : av);
	return *group && *version ? 0 : -1;
}

static int discover(struct k8s_client *k, const char *group, const char *version,
		    const cJSON **resources, struct prenv_err *err)
{
	struct prenv_buf url = PRENV_BUF_INIT, gv = PRENV_BUF_INIT;
	struct gv_cache *n;
	cJSON *doc = NULL;
	size_t i;
	int rc;

	if (*group)
		prenv_buf_printf(&gv, "%s/%s", group, version);
	else
		prenv_buf_adds(&gv, version);
	for (i = 0; i < k->ngvs; i++)
		if (!strcmp(k->gvs[i].gv, gv.ptr)) {
			*resources = k->gvs[i].resources;
			prenv_buf_free(&gv);
			return 0;
		}
	if (*group)
		prenv_buf_printf(&url, "%s/apis/%s", k->conn->server, gv.ptr);
	else
		prenv_buf_printf(&url, "%s/api/%s", k->conn->server, version);
	rc = k8s_get_json(k, url.ptr, &doc, err);
	if (rc == PRENV_ENOTFOUND) {
		prenv_err_clear(err);
		rc = 0;
	}
	if (rc == 0) {
		n = realloc(k->gvs, (k->ngvs + 1) * sizeof(*n));
		if (!n) {
			rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
		} else {
			k->gvs = n;
			n[k->ngvs].gv = prenv_buf_detach(&gv, NULL);
			n[k->ngvs].resources = doc ? cJSON_DetachItemFromObjectCaseSensitive(doc, "resources") : NULL;
			*resources = n[k->ngvs].resources;
			k->ngvs++;
		}
	}
	cJSON_Delete(doc);
	prenv_buf_free(&url);
	prenv_buf_free(&gv);
	return rc;
}

int k8s_client_map(struct k8s_client *k, const char *api_version, const char *kind,
		   const struct k8s_mapping **out, struct prenv_err *err)
{
	struct map_cache *mc, **nm;
	const char *plural = NULL;
	int namespaced = 1, rc = 0;
	size_t i;

	for (i = 0; i < k->nmaps; i++)
		if (!strcmp(k->maps[i]->api_version, api_version) && !strcmp(k->maps[i]->m.kind, kind)) {
			*out = &k->maps[i]->m;
			return 0;
		}
	if (!k8s_api_version_ok(api_version))
		return prenv_err_set(err, PRENV_ECONFIG,
				     "apiVersion \"%s\" of kind %s is not GROUP/VERSION or VERSION "
				     "(lower-case letters, digits, '.' and '-'); fix the template",
				     api_version, kind);
	if (!(mc = calloc(1, sizeof(*mc))))
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	if (split_api_version(api_version, &mc->m.group, &mc->m.version) < 0 ||
	    !(mc->m.kind = strdup(kind)) || !(mc->api_version = strdup(api_version))) {
		rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
		goto done;
	}
	if (k8s_builtin_mapping(mc->m.group, kind, &plural, &namespaced)) {
		mc->m.plural = strdup(plural);
		mc->m.namespaced = namespaced;
	} else {
		const cJSON *res = NULL, *r;

		if ((rc = discover(k, mc->m.group, mc->m.version, &res, err)) < 0)
			goto done;
		cJSON_ArrayForEach(r, res) {
			const char *rn = k8s_str(r, "name"), *kd = k8s_str(r, "kind");

			if (rn && kd && !strchr(rn, '/') && !strcmp(kd, kind)) {
				mc->m.plural = strdup(rn);
				mc->m.namespaced = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "namespaced"));
				break;
			}
		}
		if (!mc->m.plural) {
			rc = prenv_err_set(err, PRENV_ECONFIG, "the cluster does not serve kind %s of apiVersion %s%s",
					   kind, api_version,
					   res ? "" : " (the API group/version is unknown: is its CRD installed?)");
			goto done;
		}
	}
	if (!mc->m.plural || !(nm = realloc(k->maps, (k->nmaps + 1) * sizeof(*nm)))) {
		rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
		goto done;
	}
	k->maps = nm;
	k->maps[k->nmaps++] = mc;
	*out = &mc->m;
	return 0;
done:
	free(mc->m.group);
	free(mc->m.version);
	free(mc->m.kind);
	free(mc->m.plural);
	free(mc->api_version);
	free(mc);
	return rc;
}

int k8s_url(struct k8s_client *k, struct prenv_buf *out, const struct k8s_mapping *m,
	    const char *ns, const char *name, const char *query)
{
	prenv_buf_adds(out, k->conn->server);
	if (*m->group)
		prenv_buf_printf(out, "/apis/%s/%s", m->group, m->version);
	else
		prenv_buf_printf(out, "/api/%s", m->version);
	if (m->namespaced && ns) {
		prenv_buf_adds(out, "/namespaces/");
		http_url_escape(out, ns);
	}
	prenv_buf_printf(out, "/%s", m->plural);
	if (name) {
		prenv_buf_addc(out, '/');
		http_url_escape(out, name);
	}
	if (query && *query)
		prenv_buf_printf(out, "?%s", query);
	return out->failed ? -1 : 0;
}

int k8s_list(struct k8s_client *k, const struct k8s_mapping *m, const char *ns,
	     const char *label_selector, const char *field_selector, cJSON **items,
	     char **rv, struct prenv_err *err)
{
	struct prenv_buf url = PRENV_BUF_INIT, q = PRENV_BUF_INIT;
	char *cont = NULL;
	cJSON *all = cJSON_CreateArray(), *doc = NULL;
	int rc = 0;

	*items = NULL;
	if (rv)
		*rv = NULL;
	if (!all)
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	do {
		cJSON *its, *it;

		prenv_buf_reset(&q);
		prenv_buf_adds(&q, "limit=500");
		if (label_selector) {
			prenv_buf_adds(&q, "&labelSelector=");
			http_url_escape(&q, label_selector);
		}
		if (field_selector) {
			prenv_buf_adds(&q, "&fieldSelector=");
			http_url_escape(&q, field_selector);
		}
		if (cont) {
			prenv_buf_adds(&q, "&continue=");
			http_url_escape(&q, cont);
		}
		prenv_buf_reset(&url);
		k8s_url(k, &url, m, ns, NULL, q.ptr);
		if ((rc = k8s_get_json(k, url.ptr, &doc, err)) < 0)
			break;
		its = cJSON_GetObjectItemCaseSensitive(doc, "items");
		while (cJSON_IsArray(its) && (it = cJSON_DetachItemFromArray(its, 0))) {
			/* lists leave out kind/apiVersion of items: put them back */
			if (!cJSON_GetObjectItemCaseSensitive(it, "kind"))
				cJSON_AddStringToObject(it, "kind", m->kind);
			cJSON_AddItemToArray(all, it);
		}
		free(cont);
		cont = k8s_str(doc, "metadata.continue") && *k8s_str(doc, "metadata.continue")
			? strdup(k8s_str(doc, "metadata.continue")) : NULL;
		if (rv && k8s_str(doc, "metadata.resourceVersion")) {
			free(*rv);
			*rv = strdup(k8s_str(doc, "metadata.resourceVersion"));
		}
		cJSON_Delete(doc);
		doc = NULL;
	} while (cont);
	free(cont);
	prenv_buf_free(&url);
	prenv_buf_free(&q);
	if (rc < 0) {
		cJSON_Delete(all);
		if (rv) {
			free(*rv);
			*rv = NULL;
		}
		return rc;
	}
	*items = all;
	return 0;
}
