/* k8s_sleep.c - sleep and wake an environment (see k8s_int.h).
 *
 * Sleep scales every Deployment and StatefulSet carrying the environment's
 * labels to 0 replicas and suspends its CronJobs, recording what each had
 * in an annotation on the object (prenv.dev/sleep-replicas,
 * prenv.dev/sleep-suspend); wake puts exactly that back and removes the
 * annotation. The namespace notes when it fell asleep
 * (prenv.dev/asleep-since) and when it was woken (prenv.dev/woken-at).
 *
 * Every write is a server-side apply with a field manager of its own,
 * "prenv-sleep" (force: it takes spec.replicas / spec.suspend from whoever
 * set them), naming only those fields and the annotations: the deploy's
 * apply (manager "prenv") keeps everything else, and a later deploy that
 * sets replicas in its template takes the field back. Wake applies the
 * restored count without the annotation, which removes it (this manager
 * owned it alone); the namespace's "asleep since" and "woken at" are the
 * same manager's, so one replaces the other. (A merge patch would do too,
 * but a real 1.20 API server built with Go >= 1.18 panics on merge and
 * strategic patches: server-side apply is what every cluster takes.)
 * HorizontalPodAutoscalers are left as they are: Kubernetes' autoscaler
 * does not act on a target scaled to 0 (ScalingActive=False,
 * "ScalingDisabled") and resumes when wake restores the count.
 */
#include "kubernetes/k8s_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/names.h"
#include "util/fs.h"

#define SLEEP_MANAGER "prenv-sleep"
#define TOUCH_MANAGER "prenv-touch"

/* What sleep touches, with the older API version some clusters still serve
 * (CronJob is batch/v1 from Kubernetes 1.21, batch/v1beta1 before). */
static const struct {
	const char *av, *old_av, *kind;
	int replicas;   /* 1: scaled; 0: suspended */
} sleep_kinds[] = {
	{ "apps/v1", NULL, "Deployment", 1 },
	{ "apps/v1", NULL, "StatefulSet", 1 },
	{ "batch/v1", "batch/v1beta1", "CronJob", 0 },
};
#define NSLEEP (sizeof(sleep_kinds) / sizeof(sleep_kinds[0]))

/* The environment's objects of sleep_kinds[i] (*m gets the mapping). */
static int list_kind(struct k8s_client *k, size_t i, const struct k8s_env *env, const char *sel,
		     const struct k8s_mapping **m, cJSON **items, struct prenv_err *err)
{
	int rc;

	if ((rc = k8s_client_map(k, sleep_kinds[i].av, sleep_kinds[i].kind, m, err)) < 0)
		return rc;
	rc = k8s_list(k, *m, env->ns, sel, NULL, items, NULL, err);
	if (rc == PRENV_ENOTFOUND && sleep_kinds[i].old_av) {
		prenv_err_clear(err);
		if ((rc = k8s_client_map(k, sleep_kinds[i].old_av, sleep_kinds[i].kind, m, err)) < 0)
			return rc;
		rc = k8s_list(k, *m, env->ns, sel, NULL, items, NULL, err);
	}
	if (rc < 0)
		prenv_err_prefix(err, "list %ss in namespace %s", sleep_kinds[i].kind, env->ns);
	return rc;
}

/* Server-side apply of body (apiVersion, kind and metadata.name are added
 * here) to one object by the field manager (force). */
static int apply_fields(struct k8s_client *k, const struct k8s_mapping *m, const char *ns,
			const char *name, cJSON *body, const char *manager, struct prenv_err *err)
{
	struct prenv_buf url = PRENV_BUF_INIT, av = PRENV_BUF_INIT, q = PRENV_BUF_INIT;
	struct http_response resp = HTTP_RESPONSE_INIT;
	cJSON *md = cJSON_GetObjectItemCaseSensitive(body, "metadata");
	char *text;
	int rc;

	if (*m->group)
		prenv_buf_printf(&av, "%s/%s", m->group, m->version);
	else
		prenv_buf_adds(&av, m->version);
	cJSON_AddStringToObject(body, "apiVersion", av.ptr);
	cJSON_AddStringToObject(body, "kind", m->kind);
	cJSON_AddStringToObject(md ? md : cJSON_AddObjectToObject(body, "metadata"), "name", name);
	if (!(text = cJSON_PrintUnformatted(body)) || av.failed) {
		prenv_buf_free(&av);
		free(text);
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	}
	prenv_buf_printf(&q, "fieldManager=%s&force=true", manager);
	k8s_url(k, &url, m, ns, name, q.ptr);
	rc = k8s_request(k, "PATCH", url.ptr, "application/apply-patch+yaml", text, &resp, err);
	if (rc < 0)
		prenv_err_prefix(err, "apply %s/%s", m->kind, name);
	http_response_free(&resp);
	prenv_buf_free(&url);
	prenv_buf_free(&av);
	prenv_buf_free(&q);
	free(text);
	return rc;
}

/* {"metadata":{"annotations":{key: value}}, "spec":{}} (no annotation when
 * value is NULL); spec is returned for the caller to fill. */
static cJSON *patch_new(const char *key, const char *value, cJSON **spec)
{
	cJSON *p = cJSON_CreateObject();
	cJSON *md = cJSON_AddObjectToObject(p, "metadata");

	if (value)
		cJSON_AddStringToObject(cJSON_AddObjectToObject(md, "annotations"), key, value);
	*spec = cJSON_AddObjectToObject(p, "spec");
	return p;
}

/* Puts one object to sleep; *writes counts. */
static int sleep_one(struct k8s_client *k, const struct k8s_mapping *m, size_t i, const cJSON *o,
		     const struct k8s_env *env, int *writes, struct prenv_err *err)
{
	const char *name = k8s_str(o, "metadata.name");
	cJSON *patch, *spec;
	char was[32];
	int rc;

	if (sleep_kinds[i].replicas) {
		if (k8s_annotation(o, PRENV_ANN_SLEEP_REPLICAS))
			return 0; /* asleep already */
		snprintf(was, sizeof(was), "%ld", k8s_num(o, "spec.replicas", 1));
		patch = patch_new(PRENV_ANN_SLEEP_REPLICAS, was, &spec);
		cJSON_AddNumberToObject(spec, "replicas", 0);
	} else {
		if (k8s_annotation(o, PRENV_ANN_SLEEP_SUSPEND))
			return 0;
		snprintf(was, sizeof(was), "%s", cJSON_IsTrue(k8s_item(o, "spec.suspend")) ? "true" : "false");
		patch = patch_new(PRENV_ANN_SLEEP_SUSPEND, was, &spec);
		cJSON_AddTrueToObject(spec, "suspend");
	}
	if (!patch)
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	log_info("%s%s/%s: %s (was %s)", env->dry_run ? "dry run: " : "", m->kind, name,
		 sleep_kinds[i].replicas ? "scaled to 0" : "suspended",
		 sleep_kinds[i].replicas ? was : !strcmp(was, "true") ? "suspended" : "active");
	rc = env->dry_run ? 0 : apply_fields(k, m, env->ns, name, patch, SLEEP_MANAGER, err);
	if (rc == 0 && !env->dry_run)
		(*writes)++;
	cJSON_Delete(patch);
	return rc;
}

/* The replica count recorded on o, or -1 when it is not a count. */
static long recorded_replicas(const cJSON *o)
{
	const char *s = k8s_annotation(o, PRENV_ANN_SLEEP_REPLICAS);
	char *end;
	long n;

	if (!s || !*s)
		return -1;
	errno = 0;
	n = strtol(s, &end, 10);
	return errno || *end || n < 0 || n > 100000 ? -1 : n;
}

/* Wakes one object; a workload that will run is added to woken (for the
 * wait). */
static int wake_one(struct k8s_client *k, const struct k8s_mapping *m, size_t i, const cJSON *o,
		    const struct k8s_env *env, cJSON *woken, int *writes, struct prenv_err *err)
{
	const char *name = k8s_str(o, "metadata.name");
	cJSON *patch, *spec;
	long n = 0;
	int rc, suspend = 0;

	if (sleep_kinds[i].replicas) {
		if (!k8s_annotation(o, PRENV_ANN_SLEEP_REPLICAS))
			return 0;
		if ((n = recorded_replicas(o)) < 0)
			return prenv_err_set(err, PRENV_EFAIL, "%s/%s: annotation %s is '%s', not a replica count; "
					     "set spec.replicas yourself and remove the annotation", m->kind, name,
					     PRENV_ANN_SLEEP_REPLICAS, k8s_annotation(o, PRENV_ANN_SLEEP_REPLICAS));
		patch = patch_new(PRENV_ANN_SLEEP_REPLICAS, NULL, &spec);
		cJSON_AddNumberToObject(spec, "replicas", (double)n);
	} else {
		if (!k8s_annotation(o, PRENV_ANN_SLEEP_SUSPEND))
			return 0;
		suspend = !strcmp(k8s_annotation(o, PRENV_ANN_SLEEP_SUSPEND), "true");
		patch = patch_new(PRENV_ANN_SLEEP_SUSPEND, NULL, &spec);
		cJSON_AddBoolToObject(spec, "suspend", suspend);
	}
	if (!patch)
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	if (sleep_kinds[i].replicas)
		log_info("%s%s/%s: %ld replica(s) restored", env->dry_run ? "dry run: " : "", m->kind, name, n);
	else
		log_info("%s%s/%s: %s", env->dry_run ? "dry run: " : "", m->kind, name,
			 suspend ? "stays suspended (it was before the sleep)" : "resumed");
	rc = env->dry_run ? 0 : apply_fields(k, m, env->ns, name, patch, SLEEP_MANAGER, err);
	if (rc == 0 && !env->dry_run)
		(*writes)++;
	if (rc == 0 && woken && n > 0) {
		cJSON *w = cJSON_Duplicate(o, 1);

		if (w)
			cJSON_AddItemToArray(woken, w);
	}
	cJSON_Delete(patch);
	return rc;
}

/* Marks the namespace asleep (since now), awake (woken at now) or, asleep
 * -1, touched (at now): one annotation, applied by the sleep manager (which
 * so drops the other one) or the touch manager. */
static int mark_ns(struct k8s_client *k, const struct k8s_env *env, int asleep, long long now,
		   int *writes, struct prenv_err *err)
{
	static const struct k8s_mapping ns_map = { (char *)"", (char *)"v1", (char *)"Namespace",
						   (char *)"namespaces", 0 };
	cJSON *p = cJSON_CreateObject(), *ann;
	char stamp[32];
	int rc;

	if (!p)
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	fs_rfc3339(stamp, sizeof(stamp), now);
	ann = cJSON_AddObjectToObject(cJSON_AddObjectToObject(p, "metadata"), "annotations");
	cJSON_AddStringToObject(ann, asleep < 0 ? PRENV_ANN_TOUCHED_AT : asleep ? PRENV_ANN_ASLEEP_SINCE
				: PRENV_ANN_WOKEN_AT, stamp);
	rc = env->dry_run ? 0 : apply_fields(k, &ns_map, NULL, env->ns, p, asleep < 0 ? TOUCH_MANAGER
					     : SLEEP_MANAGER, err);
	if (rc == 0 && !env->dry_run)
		(*writes)++;
	cJSON_Delete(p);
	return rc;
}

/* Sleep (woken NULL) or wake every object of the environment. */
static int each_object(struct k8s_client *k, const struct k8s_env *env, int to_sleep, cJSON *woken,
		       int *writes, struct prenv_err *err)
{
	struct prenv_buf sel = PRENV_BUF_INIT;
	size_t i;
	int rc = 0;

	if (k8s_env_selector(&sel, env) < 0 || sel.failed)
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	for (i = 0; i < NSLEEP && rc == 0; i++) {
		const struct k8s_mapping *m;
		cJSON *items = NULL;
		const cJSON *o;

		if ((rc = list_kind(k, i, env, sel.ptr, &m, &items, err)) < 0)
			break;
		cJSON_ArrayForEach(o, items) {
			rc = to_sleep ? sleep_one(k, m, i, o, env, writes, err)
				: wake_one(k, m, i, o, env, woken, writes, err);
			if (rc < 0)
				break;
		}
		cJSON_Delete(items);
	}
	prenv_buf_free(&sel);
	return rc;
}

int k8s_env_sleep(struct k8s_client *k, const struct k8s_env *env, int ns_asleep, long long now,
		  int *writes, struct prenv_err *err)
{
	int rc;

	*writes = 0;
	/* the objects first: a sleep cut short is finished by the next one */
	if ((rc = each_object(k, env, 1, NULL, writes, err)) < 0)
		return rc;
	if (!ns_asleep)
		rc = mark_ns(k, env, 1, now, writes, err);
	return rc;
}

int k8s_env_wake(struct k8s_client *k, const struct k8s_env *env, int ns_asleep, long long now,
		 cJSON *woken, int *writes, struct prenv_err *err)
{
	int rc;

	*writes = 0;
	if ((rc = each_object(k, env, 0, woken, writes, err)) < 0)
		return rc;
	if (ns_asleep)
		rc = mark_ns(k, env, 0, now, writes, err);
	return rc;
}

int k8s_env_touch(struct k8s_client *k, const struct k8s_env *env, long long now,
		  struct prenv_err *err)
{
	int writes = 0;

	return mark_ns(k, env, -1, now, &writes, err);
}
