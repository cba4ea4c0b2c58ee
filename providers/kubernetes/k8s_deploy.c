/* k8s_deploy.c - namespace, ordered parallel server-side apply, prune; see
 * k8s_int.h
 */
#include "kubernetes/k8s_int.h"
#include "kubernetes/k8s.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "util/log.h"
#include "util/names.h"

/* helm's InstallOrder (pkg/releaseutil/kind_sorter.go) */
static const char *const install_order[] = {
	"PriorityClass", "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange",
	"PodSecurityPolicy", "PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList",
	"ConfigMap", "StorageClass", "PersistentVolume", "PersistentVolumeClaim",
	"CustomResourceDefinition", "ClusterRole", "ClusterRoleList", "ClusterRoleBinding",
	"ClusterRoleBindingList", "Role", "RoleList", "RoleBinding", "RoleBindingList", "Service",
	"DaemonSet", "Pod", "ReplicationController", "ReplicaSet", "Deployment",
	"HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob", "IngressClass", "Ingress",
	"APIService",
};

#define NSTAGES ((int)(sizeof(install_order) / sizeof(install_order[0])))

/* Namespaced kinds listed for pruning (besides discovered kinds present in
 * the render). Pods, ReplicaSets, Endpoints and Events are left out: their
 * owners (or the cluster) manage them. */
static const struct {
	const char *api_version, *kind;
} prune_kinds[] = {
	{ "v1", "ConfigMap" }, { "v1", "Secret" }, { "v1", "Service" },
	{ "v1", "ServiceAccount" }, { "v1", "PersistentVolumeClaim" },
	{ "v1", "ResourceQuota" }, { "v1", "LimitRange" },
	{ "apps/v1", "Deployment" }, { "apps/v1", "StatefulSet" }, { "apps/v1", "DaemonSet" },
	{ "batch/v1", "Job" }, { "batch/v1", "CronJob" },
	{ "networking.k8s.io/v1", "Ingress" }, { "networking.k8s.io/v1", "NetworkPolicy" },
	{ "rbac.authorization.k8s.io/v1", "Role" }, { "rbac.authorization.k8s.io/v1", "RoleBinding" },
	{ "policy/v1", "PodDisruptionBudget" }, { "autoscaling/v2", "HorizontalPodAutoscaler" },
};

int k8s_kind_stage(const char *kind)
{
	int i;

	for (i = 0; kind && i < NSTAGES; i++)
		if (!strcmp(install_order[i], kind))
			return i;
	return NSTAGES;
}

static int ns_allowed(const struct k8s_env *env, const char *ns)
{
	const cJSON *e;

	if (!strcmp(ns, env->ns))
		return 1;
	cJSON_ArrayForEach(e, env->allow_namespaces)
		if (cJSON_IsString(e) && !strcmp(e->valuestring, ns))
			return 1;
	return 0;
}

static int add_extra(cJSON *obj, const char *field, const cJSON *extra)
{
	cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata"), *dst;
	const cJSON *e;

	if (!extra || !cJSON_IsObject(meta))
		return 0;
	dst = cJSON_GetObjectItemCaseSensitive(meta, field);
	if (!dst)
		dst = cJSON_AddObjectToObject(meta, field);
	if (!cJSON_IsObject(dst))
		return -1;
	cJSON_ArrayForEach(e, extra)
		if (cJSON_IsString(e) && !cJSON_GetObjectItemCaseSensitive(dst, e->string))
			cJSON_AddStringToObject(dst, e->string, e->valuestring);
	return 0;
}

static int stage_cmp(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
	int sx = k8s_kind_stage(k8s_str(x, "kind")), sy = k8s_kind_stage(k8s_str(y, "kind"));
	long ix = k8s_num(x, "$index", 0), iy = k8s_num(y, "$index", 0);

	if (sx != sy)
		return sx < sy ? -1 : 1;
	return ix < iy ? -1 : ix > iy;
}

/* Why prenv refuses cluster-scoped objects (issue 10 #11): it deletes an
 * environment by deleting its namespace, so such an object would outlive
 * every destroy and gc, and two environments would overwrite it. */
#define CLUSTER_SCOPED_WHY \
	"a cluster-scoped object: destroy and gc delete the environment's namespace, so prenv " \
	"could never delete it, and every environment would overwrite it; remove it from the " \
	"templates and manage it outside prenv (apply it once, e.g. with kubectl or your " \
	"cluster's configuration); the templates may refer to it by name"

/* Where the ports are that server-side apply of Kubernetes < 1.21 needs a
 * protocol on (kubernetes#98576: a Service port without one is HTTP 500):
 * the ports of a Service, the pod spec of a pod and of every workload's
 * pod template (its containers' and init containers' ports). */
static const struct {
	const char *group, *kind, *path;
	int service;
} port_places[] = {
	{ "", "Service", "spec.ports", 1 },
	{ "", "Pod", "spec", 0 },
	{ "", "ReplicationController", "spec.template.spec", 0 },
	{ "", "PodTemplate", "template.spec", 0 },
	{ "apps", "Deployment", "spec.template.spec", 0 },
	{ "apps", "StatefulSet", "spec.template.spec", 0 },
	{ "apps", "DaemonSet", "spec.template.spec", 0 },
	{ "apps", "ReplicaSet", "spec.template.spec", 0 },
	{ "batch", "Job", "spec.template.spec", 0 },
	{ "batch", "CronJob", "spec.jobTemplate.spec.template.spec", 0 },
};

/* protocol: TCP (the API's own default) on every port of ports without one. */
static void default_protocol(cJSON *ports)
{
	cJSON *p;

	cJSON_ArrayForEach(p, ports)
		if (cJSON_IsObject(p) && !cJSON_GetObjectItemCaseSensitive(p, "protocol"))
			cJSON_AddStringToObject(p, "protocol", "TCP");
}

/* Defaults the port protocols of obj (a copy of group/kind) in place. */
static void default_port_protocols(cJSON *obj, const char *group, const char *kind)
{
	static const char *const lists[] = { "containers", "initContainers" };
	size_t i, l;

	for (i = 0; i < sizeof(port_places) / sizeof(port_places[0]); i++) {
		cJSON *at, *c;

		if (strcmp(port_places[i].group, group) || strcmp(port_places[i].kind, kind))
			continue;
		at = (cJSON *)k8s_item(obj, port_places[i].path);
		if (port_places[i].service) {
			default_protocol(at);
			return;
		}
		for (l = 0; l < sizeof(lists) / sizeof(lists[0]); l++)
			cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(at, lists[l]))
				default_protocol(cJSON_GetObjectItemCaseSensitive(c, "ports"));
		return;
	}
}

/* Checks one rendered object and makes its copy for applying (*out; NULL
 * for the environment's own Namespace object, which prenv applies itself). */
static int prepare_one(const cJSON *o, const struct k8s_env *env, cJSON **out,
		       struct prenv_err *err)
{
	const char *kind = k8s_str(o, "kind"), *av = k8s_str(o, "apiVersion");
	const char *name = k8s_str(o, "metadata.name"), *ns = k8s_str(o, "metadata.namespace");
	const char *plural, *group_end;
	struct prenv_buf grp = PRENV_BUF_INIT;
	int namespaced = 1;
	cJSON *c;

	*out = NULL;
	if (!kind || !av || !name)
		return prenv_err_set(err, PRENV_ECONFIG, "a rendered object lacks apiVersion, kind or "
				     "metadata.name");
	if (!k8s_api_version_ok(av))
		return k8s_obj_err(err, PRENV_ECONFIG, o, "apiVersion \"%s\" is not GROUP/VERSION or VERSION "
				   "(lower-case letters, digits, '.' and '-'); fix the template", av);
	if (!strcmp(kind, "Namespace") && !strcmp(av, "v1")) {
		if (strcmp(name, env->ns))
			return k8s_obj_err(err, PRENV_ECONFIG, o, "prenv creates the environment's namespace %s "
					   "itself; remove the Namespace object from the templates", env->ns);
		return 0; /* prenv applies the namespace itself */
	}
	group_end = strchr(av, '/');
	prenv_buf_add(&grp, av, group_end ? (size_t)(group_end - av) : 0);
	if (!k8s_builtin_mapping(group_end ? grp.ptr : "", kind, &plural, &namespaced))
		namespaced = -1; /* decided by discovery (k8s_resolve) */
	if (namespaced == 0 || (ns && *ns && !ns_allowed(env, ns))) {
		prenv_buf_free(&grp);
		if (namespaced == 0)
			return k8s_obj_err(err, PRENV_ECONFIG, o, CLUSTER_SCOPED_WHY);
		return k8s_obj_err(err, PRENV_ECONFIG, o, "names namespace '%s', not the environment's "
				   "namespace '%s'; remove metadata.namespace from the template or list '%s' "
				   "in provider.allow_namespaces", ns, env->ns, ns);
	}
	if (!(c = cJSON_Duplicate(o, 1))) {
		prenv_buf_free(&grp);
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	}
	default_port_protocols(c, group_end ? grp.ptr : "", kind);
	prenv_buf_free(&grp);
	if (!(ns && *ns)) {
		cJSON *meta = cJSON_GetObjectItemCaseSensitive(c, "metadata");

		cJSON_DeleteItemFromObjectCaseSensitive(meta, "namespace");
		cJSON_AddStringToObject(meta, "namespace", env->ns);
	}
	add_extra(c, "labels", env->extra_labels);
	add_extra(c, "annotations", env->extra_annotations);
	*out = c;
	return 0;
}

int k8s_prepare(cJSON **out, const cJSON *objects, const struct k8s_env *env,
		struct k8s_client *k, struct prenv_err *err)
{
	cJSON **v = NULL, *arr = NULL;
	const cJSON *o;
	size_t n = 0, i;
	int rc = 0;

	*out = NULL;
	v = calloc((size_t)cJSON_GetArraySize(objects) + 1, sizeof(*v));
	if (!v || !(arr = cJSON_CreateArray())) {
		rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
		goto done;
	}
	cJSON_ArrayForEach(o, objects) {
		cJSON *c;

		if ((rc = prepare_one(o, env, &c, err)) < 0)
			goto done;
		if (!c)
			continue;
		cJSON_AddNumberToObject(c, "$index", (double)n);
		v[n++] = c;
	}
	qsort(v, n, sizeof(*v), stage_cmp);
	for (i = 0; i < n; i++) {
		cJSON_DeleteItemFromObjectCaseSensitive(v[i], "$index");
		cJSON_AddItemToArray(arr, v[i]);
		v[i] = NULL;
	}
	*out = arr;
	arr = NULL;
	if (k && (rc = k8s_resolve(k, *out, env, err)) < 0) {
		cJSON_Delete(*out);
		*out = NULL;
	}
done:
	for (i = 0; v && i < n; i++)
		cJSON_Delete(v[i]);
	free(v);
	cJSON_Delete(arr);
	return rc;
}

int k8s_resolve(struct k8s_client *k, cJSON *prepared, const struct k8s_env *env,
		struct prenv_err *err)
{
	cJSON *o;
	int rc;

	(void)env;
	cJSON_ArrayForEach(o, prepared) {
		const struct k8s_mapping *m;

		rc = k8s_client_map(k, k8s_str(o, "apiVersion"), k8s_str(o, "kind"), &m, err);
		if (rc == PRENV_ECONFIG) {
			char *why = prenv_strdup(err->msg);

			rc = k8s_obj_err(err, rc, o, "%s", why ? why : "unknown kind");
			free(why);
			return rc;
		}
		if (rc < 0)
			return rc;
		if (!m->namespaced)
			return k8s_obj_err(err, PRENV_ECONFIG, o, CLUSTER_SCOPED_WHY);
	}
	return 0;
}

/* ------------------------------------------------------------ namespace */

const char *k8s_foreign_repo(const cJSON *ns, const struct k8s_env *env)
{
	const char *owner = k8s_annotation(ns, PRENV_ANN_REPO);
	size_t i;

	if (!owner || !*owner)
		return NULL;
	if (env->repo && *env->repo && !strcasecmp(owner, env->repo))
		return NULL;
	for (i = 0; env->repos && env->repos[i]; i++)
		if (!strcasecmp(owner, env->repos[i]))
			return NULL; /* one of the config's services' repositories */
	return owner;
}

int k8s_foreign_err(struct prenv_err *err, const struct k8s_env *env, const char *what,
		    const char *owner)
{
	if (!env->repo || !*env->repo)
		return prenv_err_set(err, PRENV_EAUTH, "refusing to %s namespace %s: it belongs to repository "
				     "%s (annotation %s) and this run does not know its repository, so it cannot "
				     "tell whether it is that one; set PRENV_REPO=owner/name; nothing was changed",
				     what, env->ns, owner, PRENV_ANN_REPO);
	return prenv_err_set(err, PRENV_EAUTH, "refusing to %s namespace %s: it belongs to repository %s "
			     "(annotation %s), not %s; two repositories use app '%s', so their environments "
			     "share namespaces: give one of them another app name or provider.namespace; "
			     "nothing was changed", what, env->ns, owner, PRENV_ANN_REPO, env->repo, env->app);
}

/* prenv.dev/services (name, repo, branch, sha, virtual, from_branch,
 * image of each) and prenv.dev/repos on the namespace. */
static void ns_services_annotations(cJSON *ann, const struct k8s_env *env)
{
	static const char *const keep[] = { "name", "repo", "repo_name", "branch", "sha", "virtual",
					    "from_branch", "image" };
	struct prenv_buf repos = PRENV_BUF_INIT;
	cJSON *list, *e, *c;
	char *text;
	size_t i;

	if (!env->services || !(list = cJSON_CreateArray()))
		return;
	cJSON_ArrayForEach(e, env->services) {
		if (!(c = cJSON_CreateObject()))
			break;
		for (i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, keep[i]);
			if (v && !cJSON_IsNull(v))
				cJSON_AddItemToObject(c, keep[i], cJSON_Duplicate(v, 0));
		}
		cJSON_AddItemToArray(list, c);
	}
	if ((text = cJSON_PrintUnformatted(list)))
		cJSON_AddStringToObject(ann, PRENV_ANN_SERVICES, text);
	free(text);
	cJSON_Delete(list);
	for (i = 0; env->repos && env->repos[i]; i++)
		prenv_buf_printf(&repos, "%s%s", i ? "," : "", env->repos[i]);
	if (repos.len && !repos.failed)
		cJSON_AddStringToObject(ann, PRENV_ANN_REPOS, repos.ptr);
	prenv_buf_free(&repos);
}

static const struct k8s_mapping ns_mapping = { (char *)"", (char *)"v1", (char *)"Namespace",
					       (char *)"namespaces", 0 };

/* This environment's namespace is being deleted: waits for it to go (a
 * dry run only says so), then it is created anew. */
static int ns_recreate_wait(struct k8s_client *k, const struct k8s_env *env, int *created,
			    struct prenv_err *err)
{
	int rc;

	*created = 1;
	if (env->dry_run) {
		log_info("dry run: namespace/%s is being deleted; a deploy would wait for it to go and "
			 "create it anew", env->ns);
		return 0;
	}
	log_info("namespace/%s is being deleted (Terminating: a destroy just before?); waiting up to %ld s "
		 "for it to go, then it is created anew", env->ns, env->ns_wait);
	if ((rc = k8s_wait_ns_gone(k, env->ns, env->ns_wait, err)) < 0)
		prenv_err_prefix(err, "deploy into namespace/%s", env->ns);
	return rc;
}

/* Whether deploy may use the live namespace: prenv's, for this app and
 * environment, of this repository; else the error (nothing was changed). */
static int ns_refused(const cJSON *live, const struct k8s_env *env, struct prenv_err *err)
{
	const char *m = k8s_label(live, PRENV_LABEL_MANAGED);
	const char *a = k8s_label(live, PRENV_LABEL_APP);
	const char *e = k8s_label(live, PRENV_LABEL_ENV);

	if (!m || strcmp(m, PRENV_MANAGED_BY) || !a || strcmp(a, env->app))
		return prenv_err_set(err, PRENV_ECONFIG, "namespace %s exists and is not managed by prenv for "
				     "app %s (labels %s=prenv, %s=%s); prenv will not take it over: choose "
				     "another provider.namespace", env->ns, env->app, PRENV_LABEL_MANAGED,
				     PRENV_LABEL_APP, env->app);
	if (e && strcmp(e, env->env))
		return prenv_err_set(err, PRENV_ECONFIG, "namespace %s belongs to environment %s of %s, not "
				     "to %s; give each environment its own provider.namespace",
				     env->ns, e, env->app, env->env);
	if (k8s_foreign_repo(live, env))
		return k8s_foreign_err(err, env, "deploy into", k8s_foreign_repo(live, env));
	return 0;
}

/* The live namespace (*live NULL when there is none), if deploy may use
 * it; else the error. */
static int ns_live(struct k8s_client *k, const struct k8s_env *env, cJSON **live, struct prenv_err *err)
{
	struct prenv_buf url = PRENV_BUF_INIT;
	int rc;

	*live = NULL;
	k8s_url(k, &url, &ns_mapping, NULL, env->ns, NULL);
	rc = k8s_get_json(k, url.ptr, live, err);
	prenv_buf_free(&url);
	if (rc == PRENV_ENOTFOUND) {
		prenv_err_clear(err);
		rc = 0;
	} else if (rc == 0) {
		rc = ns_refused(*live, env, err);
	}
	if (rc < 0) {
		cJSON_Delete(*live);
		*live = NULL;
	}
	return rc;
}

int k8s_namespace_check(struct k8s_client *k, const struct k8s_env *env, struct prenv_err *err)
{
	cJSON *live = NULL;
	int rc = ns_live(k, env, &live, err);

	cJSON_Delete(live);
	return rc;
}

int k8s_namespace_apply(struct k8s_client *k, const struct k8s_env *env, int *created,
			struct prenv_err *err)
{
	struct prenv_buf url = PRENV_BUF_INIT;
	struct http_response resp = HTTP_RESPONSE_INIT;
	cJSON *live = NULL, *obj = NULL, *meta, *labels, *ann;
	char stamp[32], *body = NULL;
	time_t now = time(NULL);
	struct tm tm;
	int rc;

	*created = 0;
	k8s_url(k, &url, &ns_mapping, NULL, env->ns, NULL);
	rc = ns_live(k, env, &live, err);
	if (rc == 0 && !live) {
		*created = 1;
	} else if (rc == 0) {
		if (k8s_str(live, "metadata.deletionTimestamp") ||
		    (k8s_str(live, "status.phase") && !strcmp(k8s_str(live, "status.phase"), "Terminating"))) {
			rc = ns_recreate_wait(k, env, created, err);
		} else if (env->asleep && k8s_annotation(live, PRENV_ANN_ASLEEP_SINCE)) {
			*env->asleep = 1;
		}
	}
	if (rc < 0 || env->dry_run)
		goto done;
	obj = cJSON_CreateObject();
	cJSON_AddStringToObject(obj, "apiVersion", "v1");
	cJSON_AddStringToObject(obj, "kind", "Namespace");
	meta = cJSON_AddObjectToObject(obj, "metadata");
	cJSON_AddStringToObject(meta, "name", env->ns);
	labels = cJSON_AddObjectToObject(meta, "labels");
	cJSON_AddStringToObject(labels, PRENV_LABEL_MANAGED, PRENV_MANAGED_BY);
	cJSON_AddStringToObject(labels, PRENV_LABEL_APP, env->app);
	cJSON_AddStringToObject(labels, PRENV_LABEL_ENV, env->env);
	if (env->baseline)
		cJSON_AddStringToObject(labels, PRENV_LABEL_BASELINE, env->baseline);
	ann = cJSON_AddObjectToObject(meta, "annotations");
	if (env->logical_summary)
		cJSON_AddStringToObject(ann, PRENV_ANN_LOGICAL, env->logical_summary);
	if (env->repo)
		cJSON_AddStringToObject(ann, PRENV_ANN_REPO, env->repo);
	if (env->pr)
		cJSON_AddStringToObject(ann, PRENV_ANN_PR, env->pr);
	if (env->sha)
		cJSON_AddStringToObject(ann, PRENV_ANN_SHA, env->sha);
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	cJSON_AddStringToObject(ann, PRENV_ANN_DEPLOYED_AT, stamp);
	ns_services_annotations(ann, env);
	add_extra(obj, "labels", env->extra_labels);
	add_extra(obj, "annotations", env->extra_annotations);
	if (!(body = cJSON_PrintUnformatted(obj))) {
		rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
		goto done;
	}
	prenv_buf_adds(&url, "?fieldManager=prenv&force=true");
	rc = k8s_request(k, "PATCH", url.ptr, "application/apply-patch+yaml", body, &resp, err);
	if (rc < 0)
		prenv_err_prefix(err, "apply namespace/%s", env->ns);
	else
		log_info("namespace/%s %s", env->ns, *created ? "created" : "configured");
done:
	http_response_free(&resp);
	prenv_buf_free(&url);
	cJSON_Delete(live);
	cJSON_Delete(obj);
	free(body);
	return rc;
}

/* ------------------------------------------------------------ apply */

/* One stage's objects, applied in parallel. */
struct batch {
	cJSON **objs;
	size_t n;
	struct http_request *reqs;
	struct http_response *resps;
	struct prenv_err *errs;
	struct prenv_buf *urls;
	char **bodies;
};

static void batch_free(struct batch *b)
{
	size_t i;

	for (i = 0; i < b->n; i++) {
		if (b->resps)
			http_response_free(&b->resps[i]);
		if (b->errs)
			prenv_err_clear(&b->errs[i]);
		if (b->urls)
			prenv_buf_free(&b->urls[i]);
		if (b->bodies)
			free(b->bodies[i]);
	}
	free(b->reqs);
	free(b->resps);
	free(b->errs);
	free(b->urls);
	free(b->bodies);
}

/* The requests of b (every embedded buffer initialised first). */
static int batch_build(struct k8s_client *k, struct batch *b, struct prenv_err *err)
{
	static const char *const hdrs[] = { "Accept: application/json",
					    "Content-Type: application/apply-patch+yaml", NULL };
	size_t i, n = b->n;
	int rc;

	b->reqs = calloc(n, sizeof(*b->reqs));
	b->resps = calloc(n, sizeof(*b->resps));
	b->errs = calloc(n, sizeof(*b->errs));
	b->urls = calloc(n, sizeof(*b->urls));
	b->bodies = calloc(n, sizeof(*b->bodies));
	if (!b->reqs || !b->resps || !b->errs || !b->urls || !b->bodies) {
		b->n = 0;
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	}
	for (i = 0; i < n; i++) {
		b->resps[i] = (struct http_response)HTTP_RESPONSE_INIT;
		b->urls[i] = (struct prenv_buf)PRENV_BUF_INIT;
		b->errs[i] = (struct prenv_err)PRENV_ERR_INIT;
	}
	for (i = 0; i < n; i++) {
		const struct k8s_mapping *m;

		if ((rc = k8s_client_map(k, k8s_str(b->objs[i], "apiVersion"), k8s_str(b->objs[i], "kind"),
					 &m, err)) < 0)
			return rc;
		k8s_url(k, &b->urls[i], m, k8s_str(b->objs[i], "metadata.namespace"),
			k8s_str(b->objs[i], "metadata.name"), "fieldManager=prenv&force=true");
		if (!(b->bodies[i] = cJSON_PrintUnformatted(b->objs[i])) || b->urls[i].failed)
			return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
		b->reqs[i].method = "PATCH";
		b->reqs[i].url = b->urls[i].ptr;
		b->reqs[i].headers = hdrs;
		b->reqs[i].body = b->bodies[i];
		b->reqs[i].body_len = strlen(b->bodies[i]);
		b->reqs[i].idempotent = HTTP_IDEMPOTENT_YES;
	}
	return 0;
}

/* 1 when the API server refused to change a field of this Job in place. */
static int job_immutable(const cJSON *obj, const struct http_response *resp)
{
	struct prenv_buf m = PRENV_BUF_INIT;
	int yes;

	if (strcmp(k8s_str(obj, "kind"), "Job") || resp->status != 422 ||
	    k8s_api_message(&m, resp->status, resp->body.ptr, resp->body.len) < 0) {
		prenv_buf_free(&m);
		return 0;
	}
	yes = strstr(m.ptr, "field is immutable") != NULL;
	prenv_buf_free(&m);
	return yes;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Deletes the object at obj_url (no query) and waits until it is gone (a
 * minute at most). PRENV_ENOTFOUND when it is gone (or was never there). */
static int delete_and_wait(struct k8s_client *k, const char *obj_url, struct http_response *resp,
			   struct prenv_err *e)
{
	struct prenv_buf del = PRENV_BUF_INIT;
	long wait = 100, waited = 0;
	int rc;

	prenv_buf_printf(&del, "%s?propagationPolicy=Background", obj_url);
	rc = k8s_request(k, "DELETE", del.ptr, NULL, NULL, resp, e);
	while (rc == 0) { /* gone at once unless a finalizer holds it */
		cJSON *live = NULL;

		rc = k8s_get_json(k, obj_url, &live, e);
		cJSON_Delete(live);
		if (rc < 0 || waited >= 60000)
			break;
		sleep_ms(wait);
		waited += wait;
		wait = wait < 1000 ? wait * 2 : 1000;
	}
	if (rc == 0)
		rc = prenv_err_set(e, PRENV_EFAIL, "deleted to be created anew, but still there after %ld s",
				   waited / 1000);
	prenv_buf_free(&del);
	return rc;
}

/* Deletes the Job at url (its apply URL) and applies body again once it is
 * gone: a Job's pod template cannot change in place. resp and e get the
 * outcome of the last request. */
static int replace_job(struct k8s_client *k, const char *url, const char *body,
		       struct http_response *resp, struct prenv_err *e)
{
	struct prenv_buf obj = PRENV_BUF_INIT;
	int rc;

	prenv_buf_add(&obj, url, strcspn(url, "?"));
	prenv_err_clear(e);
	rc = delete_and_wait(k, obj.ptr, resp, e);
	if (rc == PRENV_ENOTFOUND) {
		prenv_err_clear(e);
		rc = k8s_request(k, "PATCH", url, "application/apply-patch+yaml", body, resp, e);
	}
	prenv_buf_free(&obj);
	return rc;
}

void k8s_label_phase(cJSON *prepared, const char *phase)
{
	cJSON *o;

	cJSON_ArrayForEach(o, prepared) {
		cJSON *md = cJSON_GetObjectItemCaseSensitive(o, "metadata"), *labels;

		if (!cJSON_IsObject(md))
			continue;
		labels = cJSON_GetObjectItemCaseSensitive(md, "labels");
		if (!cJSON_IsObject(labels))
			labels = cJSON_AddObjectToObject(md, "labels");
		cJSON_DeleteItemFromObjectCaseSensitive(labels, PRENV_LABEL_PHASE);
		cJSON_AddStringToObject(labels, PRENV_LABEL_PHASE, phase);
	}
}

/* 1 when live carries this environment's labels (prenv may delete it). */
static int env_owned(const cJSON *live, const struct k8s_env *env)
{
	const char *m = k8s_label(live, PRENV_LABEL_MANAGED), *a = k8s_label(live, PRENV_LABEL_APP);
	const char *e = k8s_label(live, PRENV_LABEL_ENV);

	return m && !strcmp(m, PRENV_MANAGED_BY) && a && !strcmp(a, env->app) && e && !strcmp(e, env->env);
}

int k8s_jobs_fresh(struct k8s_client *k, const cJSON *prepared, const struct k8s_env *env,
		   struct prenv_err *err)
{
	const cJSON *o;
	int rc = 0;

	cJSON_ArrayForEach(o, prepared) {
		const struct k8s_mapping *m;
		struct prenv_buf url = PRENV_BUF_INIT, ref = PRENV_BUF_INIT;
		struct http_response resp = HTTP_RESPONSE_INIT;
		cJSON *live = NULL;

		if (strcmp(k8s_str(o, "kind"), "Job"))
			continue;
		if ((rc = k8s_client_map(k, k8s_str(o, "apiVersion"), "Job", &m, err)) < 0)
			break;
		k8s_url(k, &url, m, k8s_str(o, "metadata.namespace"), k8s_str(o, "metadata.name"), NULL);
		k8s_obj_ref(&ref, o);
		rc = k8s_get_json(k, url.ptr, &live, err);
		if (rc == 0 && env_owned(live, env)) {
			if (env->dry_run) {
				log_info("%s would be deleted and created anew (dry run)", ref.ptr);
			} else {
				rc = delete_and_wait(k, url.ptr, &resp, err);
				if (rc == PRENV_ENOTFOUND)
					log_info("%s: deleted, to run anew in phase %s", ref.ptr, env->phase);
				else
					prenv_err_prefix(err, "delete %s to run it anew", ref.ptr);
			}
		}
		if (rc == PRENV_ENOTFOUND) {
			prenv_err_clear(err);
			rc = 0;
		}
		cJSON_Delete(live);
		http_response_free(&resp);
		prenv_buf_free(&url);
		prenv_buf_free(&ref);
		if (rc < 0)
			break;
	}
	return rc;
}

/* The error of object obj whose apply failed (e, resp): at its template's
 * line, with the API server's own message cut to what a human needs and
 * a hint for known cases. */
static int apply_error(struct prenv_err *out, const cJSON *obj, const struct http_response *resp,
		       const struct prenv_err *e)
{
	struct prenv_buf m = PRENV_BUF_INIT;
	const char *hint;
	int rc;

	if (e->code == PRENV_EAUTH || resp->status < 400 ||
	    k8s_api_message(&m, resp->status, resp->body.ptr, resp->body.len) < 0) {
		prenv_buf_free(&m);
		return k8s_obj_err(out, e->code ? e->code : PRENV_EFAIL, obj, "could not apply it: %s",
				   e->msg ? e->msg : "unknown error");
	}
	hint = k8s_api_hint(obj, m.ptr);
	rc = k8s_obj_err(out, PRENV_EFAIL, obj, "the API server refused it (%s)%s%s", m.ptr,
			 hint ? "; " : "", hint ? hint : "");
	prenv_buf_free(&m);
	return rc;
}

/* Applies the objects of one stage in parallel. The first failure becomes
 * err (printed once, by the caller); any other is logged here, once. */
static int apply_batch(struct k8s_client *k, cJSON **objs, size_t n, const struct k8s_env *env,
		       struct prenv_err *err)
{
	struct batch b = { objs, n, NULL, NULL, NULL, NULL, NULL };
	size_t i;
	int rc;

	if ((rc = batch_build(k, &b, err)) < 0)
		goto done;
	rc = k8s_request_many(k, b.reqs, b.resps, n, b.errs);
	for (i = 0; i < n; i++) {
		struct prenv_buf ref = PRENV_BUF_INIT;
		int replaced = 0;

		k8s_obj_ref(&ref, objs[i]);
		if (b.errs[i].code && env->replace_jobs && job_immutable(objs[i], &b.resps[i]) &&
		    replace_job(k, b.urls[i].ptr, b.bodies[i], &b.resps[i], &b.errs[i]) == 0) {
			log_info("%s: its pod template changed, and a Job cannot be changed in place: deleted "
				 "and created anew (provider.replace_jobs)", ref.ptr);
			replaced = 1;
		}
		if (b.errs[i].code && !replaced) {
			struct prenv_err one = PRENV_ERR_INIT;

			apply_error(&one, objs[i], &b.resps[i], &b.errs[i]);
			if (!err->code) {
				prenv_err_clear(err);
				*err = one;
				rc = err->code;
			} else {
				log_err(&one);
				prenv_err_clear(&one);
			}
		} else if (!replaced) {
			log_info("%s %s", ref.ptr, b.resps[i].status == 201 ? "created" : "applied");
		}
		prenv_buf_free(&ref);
	}
	if (!err->code)
		rc = 0;
done:
	batch_free(&b);
	return rc;
}

int k8s_apply_all(struct k8s_client *k, const cJSON *prepared, const struct k8s_env *env,
		  struct prenv_err *err)
{
	size_t n = (size_t)cJSON_GetArraySize(prepared), i = 0, j;
	cJSON **v = calloc(n + 1, sizeof(*v));
	cJSON *o;
	int rc = 0;

	if (!v)
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	cJSON_ArrayForEach(o, prepared)
		v[i++] = o;
	for (i = 0; i < n && rc == 0; i = j) {
		int st = k8s_kind_stage(k8s_str(v[i], "kind"));

		for (j = i + 1; j < n && k8s_kind_stage(k8s_str(v[j], "kind")) == st; j++)
			;
		rc = apply_batch(k, v + i, j - i, env, err);
	}
	free(v);
	return rc;
}

/* ------------------------------------------------------------ prune */

static int in_render(const cJSON *prepared, const char *kind, const char *group,
		     const char *ns, const char *name)
{
	const cJSON *o;

	cJSON_ArrayForEach(o, prepared) {
		const char *av = k8s_str(o, "apiVersion"), *sl = av ? strchr(av, '/') : NULL;
		const char *ons = k8s_str(o, "metadata.namespace");
		size_t gl = sl ? (size_t)(sl - av) : 0;

		if (strcmp(k8s_str(o, "kind"), kind) || strcmp(k8s_str(o, "metadata.name"), name))
			continue;
		if (strlen(group) != gl || strncmp(group, av, gl))
			continue;
		if ((ns == NULL) != (ons == NULL) || (ns && strcmp(ns, ons)))
			continue;
		return 1;
	}
	return 0;
}

/* Adds (api_version, kind) to the list unless there; returns the list. */
static void add_kind(cJSON *kinds, const char *av, const char *kind)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, kinds)
		if (!strcmp(k8s_str(e, "apiVersion"), av) && !strcmp(k8s_str(e, "kind"), kind))
			return;
	e = cJSON_CreateObject();
	cJSON_AddStringToObject((cJSON *)e, "apiVersion", av);
	cJSON_AddStringToObject((cJSON *)e, "kind", kind);
	cJSON_AddItemToArray(kinds, (cJSON *)e);
}

int k8s_env_selector(struct prenv_buf *out, const struct k8s_env *env)
{
	return prenv_buf_printf(out, "%s=%s,%s=%s,%s=%s", PRENV_LABEL_APP, env->app, PRENV_LABEL_ENV,
				env->env, PRENV_LABEL_MANAGED, PRENV_MANAGED_BY);
}

/* With services, prune is per service: only objects of the services this
 * run renders (prenv.dev/service in (...)) are candidates, so a run never
 * deletes another service's objects, nor objects from before services. */
static void prune_services_selector(struct prenv_buf *sel, const struct k8s_env *env)
{
	const cJSON *e;
	int n = 0;

	if (!cJSON_GetArraySize(env->services) || env->prune_extra_services)
		return;
	prenv_buf_printf(sel, ",%s in (", PRENV_LABEL_SERVICE);
	cJSON_ArrayForEach(e, env->services)
		prenv_buf_printf(sel, "%s%s", n++ ? "," : "", k8s_str(e, "name"));
	prenv_buf_addc(sel, ')');
}

int k8s_prune(struct k8s_client *k, const cJSON *prepared, const struct k8s_env *env,
	      int *deleted, struct prenv_err *err)
{
	struct prenv_buf sel = PRENV_BUF_INIT;
	cJSON *kinds = cJSON_CreateArray(), *nss = cJSON_CreateArray();
	const cJSON *o, *kd, *nse;
	size_t i;
	int rc = 0;

	*deleted = 0;
	if (!kinds || !nss) {
		rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
		goto done;
	}
	k8s_env_selector(&sel, env);
	prune_services_selector(&sel, env);
	if (env->prune_extra)
		prenv_buf_printf(&sel, ",%s", env->prune_extra);
	for (i = 0; i < sizeof(prune_kinds) / sizeof(prune_kinds[0]); i++)
		add_kind(kinds, prune_kinds[i].api_version, prune_kinds[i].kind);
	cJSON_AddItemToArray(nss, cJSON_CreateString(env->ns));
	cJSON_ArrayForEach(o, prepared) {
		const char *ons = k8s_str(o, "metadata.namespace");
		int seen = 0;

		add_kind(kinds, k8s_str(o, "apiVersion"), k8s_str(o, "kind"));
		cJSON_ArrayForEach(nse, nss)
			if (ons && !strcmp(nse->valuestring, ons))
				seen = 1;
		if (ons && !seen)
			cJSON_AddItemToArray(nss, cJSON_CreateString(ons));
	}
	cJSON_ArrayForEach(kd, kinds) {
		const struct k8s_mapping *m;

		if ((rc = k8s_client_map(k, k8s_str(kd, "apiVersion"), k8s_str(kd, "kind"), &m, err)) < 0) {
			if (rc != PRENV_ECONFIG)
				goto done;
			prenv_err_clear(err); /* a kind the cluster does not serve has nothing to prune */
			rc = 0;
			continue;
		}
		cJSON_ArrayForEach(nse, nss) {
			cJSON *items = NULL, *it;
			const char *ns = m->namespaced ? nse->valuestring : NULL;

			if (!m->namespaced && nse != nss->child)
				break;
			if ((rc = k8s_list(k, m, ns, sel.ptr, NULL, &items, NULL, err)) < 0) {
				if (rc == PRENV_ENOTFOUND || rc == PRENV_EAUTH) {
					/* not served at this version, or not ours to list */
					log_verbose("prune: cannot list %s: %s", m->plural, err->msg);
					prenv_err_clear(err);
					rc = 0;
					continue;
				}
				goto done;
			}
			cJSON_ArrayForEach(it, items) {
				const char *name = k8s_str(it, "metadata.name");
				struct prenv_buf url = PRENV_BUF_INIT, ref = PRENV_BUF_INIT;
				struct http_response resp = HTTP_RESPONSE_INIT;

				if (!name || k8s_item(it, "metadata.ownerReferences") ||
				    k8s_str(it, "metadata.deletionTimestamp") ||
				    in_render(prepared, m->kind, m->group, ns, name))
					continue;
				cJSON_ReplaceItemInObjectCaseSensitive(it, "kind", cJSON_CreateString(m->kind));
				k8s_obj_ref(&ref, it);
				if (env->dry_run) {
					log_info("%s would be pruned (dry run)", ref.ptr);
				} else {
					k8s_url(k, &url, m, ns, name, "propagationPolicy=Background");
					rc = k8s_request(k, "DELETE", url.ptr, NULL, NULL, &resp, err);
					if (rc == PRENV_ENOTFOUND) {
						prenv_err_clear(err);
						rc = 0;
					} else if (rc < 0) {
						prenv_err_prefix(err, "prune %s", ref.ptr);
					} else {
						log_info("%s pruned", ref.ptr);
						(*deleted)++;
					}
				}
				http_response_free(&resp);
				prenv_buf_free(&url);
				prenv_buf_free(&ref);
				if (rc < 0)
					break;
			}
			cJSON_Delete(items);
			if (rc < 0)
				goto done;
		}
	}
done:
	cJSON_Delete(kinds);
	cJSON_Delete(nss);
	prenv_buf_free(&sel);
	return rc;
}
