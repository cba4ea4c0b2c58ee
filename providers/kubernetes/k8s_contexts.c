/* k8s_contexts.c - the clusters of one session (issue 14): each kubeconfig
 * + context a run uses gets its own connection and client, so a context's
 * credential only ever goes to that context's server; the production-only
 * guard before any request; gc's and status --all's list of every cluster
 * the rules name, one thread per cluster. See k8s_int.h. */
#include "kubernetes/k8s_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "config/plan.h"
#include "provider.h"
#include "util/log.h"

/* One cluster: a connection made from a spec, its client on first use. */
struct k8s_target {
	char *key;                 /* the spec's key (run->target) */
	char *context;             /* the context's name */
	char *server;
	char *from;                /* where its kubeconfig comes from (messages) */
	struct k8s_conn *conn;     /* loaded, until the client takes it */
	struct k8s_client *k;
	/* one list (k8s_targets_list) */
	const struct provider_run *run;
	k8s_list_fn fn;
	cJSON *envs;
	int rc;
	struct prenv_err err;
};

struct k8s_targets {
	struct k8s_target **t;
	size_t n;
};

struct k8s_targets *k8s_targets_new(void)
{
	return calloc(1, sizeof(struct k8s_targets));
}

static void target_free(struct k8s_target *t)
{
	if (!t)
		return;
	if (t->k)
		log_verbose("kubernetes: context %s: %lu API requests", t->context, k8s_client_requests(t->k));
	k8s_client_free(t->k);
	k8s_conn_free(t->conn);
	cJSON_Delete(t->envs);
	prenv_err_clear(&t->err);
	free(t->key);
	free(t->context);
	free(t->server);
	free(t->from);
	free(t);
}

void k8s_targets_free(struct k8s_targets *ts)
{
	size_t i;

	if (!ts)
		return;
	for (i = 0; i < ts->n; i++)
		target_free(ts->t[i]);
	free(ts->t);
	free(ts);
}

static struct k8s_target *target_find(const struct k8s_targets *ts, const char *key)
{
	size_t i;

	for (i = 0; i < ts->n; i++)
		if (!strcmp(ts->t[i]->key, key))
			return ts->t[i];
	return NULL;
}

/* Loads the connection of spec (files and variables only, no request)
 * into a new target of ts. */
static int target_load(struct k8s_targets *ts, const struct provider_run *run,
		       const struct k8s_target_spec *spec, struct k8s_target **out, struct prenv_err *err)
{
	struct k8s_load_opts o;
	struct k8s_target *t, **grown;
	int rc;

	*out = NULL;
	memset(&o, 0, sizeof(o));
	o.kubeconfig = spec->kubeconfig;
	o.var = spec->var;
	o.context = spec->context;
	o.envp = run->envp;
	if (!(t = calloc(1, sizeof(*t))) || !(t->key = strdup(spec->key)) ||
	    !(grown = realloc(ts->t, (ts->n + 1) * sizeof(*ts->t)))) {
		target_free(t);
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	}
	ts->t = grown;
	if ((rc = k8s_conn_load(&t->conn, &o, err)) < 0) {
		target_free(t);
		return rc;
	}
	t->context = strdup(t->conn->context ? t->conn->context : "?");
	t->server = strdup(t->conn->server ? t->conn->server : "?");
	t->from = strdup(spec->from ? spec->from : "?");
	if (!t->context || !t->server || !t->from) {
		target_free(t);
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	}
	ts->t[ts->n++] = t;
	*out = t;
	return 0;
}

/* The target's client, made on first use (an exec plugin runs then). */
static int target_client(struct k8s_target *t, struct prenv_err *err)
{
	struct k8s_conn *conn = t->conn;

	if (t->k)
		return 0;
	if (!conn)
		return prenv_err_set(err, PRENV_EFAIL, "context %s (%s): could not connect", t->context, t->server);
	log_verbose("kubernetes: context %s, server %s (from %s)", conn->context, conn->server, conn->source);
	t->conn = NULL;
	return k8s_client_new(&t->k, conn, err);
}

/* The spec of run's environment: its rule and kind (none for a run
 * without a plan). */
static int run_spec(struct k8s_target_spec *spec, const struct provider_run *run, struct prenv_err *err)
{
	const struct prenv_plan *p = run->plan;

	if (k8s_target_spec_for(spec, run->cfg, p ? p->rule : NULL, p ? p->kind : ENV_KIND_PREVIEW,
				run->kubeconfig, run->envp) < 0)
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	return 0;
}

/* The target of run's own environment, loaded and guarded the first time.
 * lenient: a kubeconfig that cannot be loaded is not an error yet (*out
 * stays NULL; the first request will say why). */
static int run_target(struct k8s_targets *ts, const struct provider_run *run, int lenient,
		      struct k8s_target **out, struct prenv_err *err)
{
	struct k8s_target_spec spec;
	int rc;

	if ((rc = run_spec(&spec, run, err)) < 0)
		return rc;
	*out = target_find(ts, spec.key);
	rc = 0;
	/* a context named in the config is checked before any file is read */
	if (!*out && spec.context)
		rc = k8s_guard(run->cfg, run->plan, &spec, spec.context, err);
	if (!*out && rc == 0 && !(lenient && spec.context)) {
		if ((rc = target_load(ts, run, &spec, out, err)) == 0) {
			rc = k8s_guard(run->cfg, run->plan, &spec, (*out)->context, err);
		} else if (lenient && rc != PRENV_ENOMEM) {
			prenv_err_clear(err);
			rc = 0;
		}
	}
	k8s_target_spec_clear(&spec);
	return rc;
}

int k8s_targets_guard(struct k8s_targets *ts, const struct provider_run *run, struct prenv_err *err)
{
	struct k8s_target *t;

	if (!run->plan || run->target || !cJSON_GetObjectItemCaseSensitive(run->cfg ? run->cfg->provider : NULL,
									   "production_context"))
		return 0;
	/* lenient: a run that never connects (a fork's skipped deploy, whose
	 * job has no secrets) must not fail here for want of a kubeconfig */
	return run_target(ts, run, 1, &t, err);
}

int k8s_targets_client(struct k8s_targets *ts, const struct provider_run *run, struct k8s_client **out,
		       struct prenv_err *err)
{
	struct k8s_target *t;
	int rc;

	*out = NULL;
	if (run->target) {
		if (!(t = target_find(ts, run->target)))
			return prenv_err_set(err, PRENV_EFAIL, "kubernetes: no cluster was listed as '%s'", run->target);
	} else if ((rc = run_target(ts, run, 0, &t, err)) < 0) {
		return rc;
	}
	if ((rc = target_client(t, err)) < 0)
		return rc;
	*out = t->k;
	return 0;
}

/* ------------------------------------------------------------ list every cluster */

static void *list_thread(void *arg)
{
	struct k8s_target *t = arg;

	t->rc = t->fn(t->k, t->run, &t->envs, &t->err);
	return NULL;
}

/* Runs the lists, LIST_PARALLEL at a time, one thread each (in this thread
 * when a thread cannot be made). */
#define LIST_PARALLEL 8
static void list_all(struct k8s_target **vis, size_t n)
{
	pthread_t th[LIST_PARALLEL];
	int started[LIST_PARALLEL];
	size_t i, k;

	if (n == 1) {
		list_thread(vis[0]);
		return;
	}
	for (i = 0; i < n; i += LIST_PARALLEL) {
		for (k = 0; k < LIST_PARALLEL && i + k < n; k++)
			started[k] = pthread_create(&th[k], NULL, list_thread, vis[i + k]) == 0;
		for (k = 0; k < LIST_PARALLEL && i + k < n; k++) {
			if (started[k])
				pthread_join(th[k], NULL);
			else
				list_thread(vis[i + k]);
		}
	}
}

/* An entry for a cluster that could not be listed (provider.h). */
static int add_failed(cJSON *arr, const char *context, const char *server, const char *from,
		      const struct prenv_err *e)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || !cJSON_AddItemToArray(arr, o)) {
		cJSON_Delete(o);
		return -1;
	}
	if (context)
		cJSON_AddStringToObject(o, "context", context);
	else
		cJSON_AddNullToObject(o, "context");
	if (server)
		cJSON_AddStringToObject(o, "server", server);
	cJSON_AddStringToObject(o, "kubeconfig", from);
	cJSON_AddStringToObject(o, "error", e->msg ? e->msg : "failed");
	cJSON_AddNumberToObject(o, "code", e->code ? e->code : PRENV_EFAIL);
	return 0;
}

/* The target to visit for spec: NULL when its cluster (server + context)
 * is visited already, or when it failed (then failed has an entry). */
static struct k8s_target *visit_target(struct k8s_targets *ts, const struct provider_run *run,
				       const struct k8s_target_spec *spec, struct k8s_target **vis, size_t nvis,
				       cJSON *failed, int *first_rc, struct prenv_err *first)
{
	struct prenv_err e = PRENV_ERR_INIT;
	struct k8s_target *t = target_find(ts, spec->key);
	size_t i;
	int rc = 0;

	if (!t)
		rc = target_load(ts, run, spec, &t, &e);
	for (i = 0; rc == 0 && i < nvis; i++)
		if (vis[i] == t || (!strcmp(vis[i]->server, t->server) && !strcmp(vis[i]->context, t->context)))
			return NULL;
	if (rc == 0)
		rc = target_client(t, &e);
	if (rc < 0) {
		if (add_failed(failed, t ? t->context : spec->context, t ? t->server : NULL, spec->from, &e) < 0)
			rc = PRENV_ENOMEM;
		if (!*first_rc) {
			*first_rc = rc;
			prenv_err_set(first, rc, "%s", e.msg ? e.msg : "failed");
		}
		t = NULL;
	}
	prenv_err_clear(&e);
	return t;
}

/* Moves the entries of each visited target into out, each with its
 * context and target; a failed list becomes an error entry. */
static int merge_lists(struct k8s_target **vis, size_t nvis, int multi, cJSON *out, int *nok, int *first_rc,
		       struct prenv_err *first)
{
	size_t i;
	cJSON *e;

	for (i = 0; i < nvis; i++) {
		struct k8s_target *t = vis[i];

		if (t->rc < 0) {
			if (multi)
				prenv_err_prefix(&t->err, "context %s (%s)", t->context, t->server);
			if (add_failed(out, t->context, t->server, t->from, &t->err) < 0)
				return -1;
			if (!*first_rc) {
				*first_rc = t->rc;
				prenv_err_set(first, t->rc, "%s", t->err.msg ? t->err.msg : "failed");
			}
			continue;
		}
		(*nok)++;
		while (t->envs && (e = cJSON_DetachItemFromArray(t->envs, 0)) != NULL) {
			cJSON_AddStringToObject(e, "context", t->context);
			cJSON_AddStringToObject(e, "server", t->server);
			cJSON_AddStringToObject(e, "target", t->key);
			cJSON_AddItemToArray(out, e);
		}
		cJSON_Delete(t->envs);
		t->envs = NULL;
		prenv_err_clear(&t->err);
	}
	return 0;
}

/* The error when no cluster could be listed: with several, each one's. */
static int none_listed(const cJSON *failed, int multi, int first_rc, const struct prenv_err *first,
		       struct prenv_err *err)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	const cJSON *it;
	int rc;

	if (!multi)
		return prenv_err_set(err, first_rc ? first_rc : PRENV_EFAIL, "%s", first->msg ? first->msg : "failed");
	prenv_buf_printf(&b, "none of the %d contexts could be listed", cJSON_GetArraySize(failed));
	cJSON_ArrayForEach(it, failed) {
		const char *c = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "context"));
		const char *e = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "error"));

		if (e && !strncmp(e, "context ", 8))
			prenv_buf_printf(&b, "; %s", e);
		else
			prenv_buf_printf(&b, "; context %s: %s", c ? c : "(current-context)", e ? e : "failed");
	}
	rc = prenv_err_set(err, first_rc ? first_rc : PRENV_EFAIL, "%s", b.failed ? "out of memory" : b.ptr);
	prenv_buf_free(&b);
	return rc;
}

int k8s_targets_list(struct k8s_targets *ts, const struct provider_run *run, k8s_list_fn fn, cJSON **out,
		     struct prenv_err *err)
{
	struct k8s_target_spec *specs = NULL;
	struct k8s_target **vis = NULL, *t;
	struct prenv_err first = PRENV_ERR_INIT;
	cJSON *arr = cJSON_CreateArray();
	size_t nspecs = 0, nvis = 0, i;
	int rc = 0, first_rc = 0, nok = 0;

	*out = NULL;
	if (!arr || k8s_target_specs(&specs, &nspecs, run->cfg, run->kubeconfig, run->envp) < 0 ||
	    !(vis = calloc(nspecs + 1, sizeof(*vis)))) {
		rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
		goto done;
	}
	/* connections on this thread (an exec plugin may run), lists in parallel */
	for (i = 0; i < nspecs; i++) {
		if ((t = visit_target(ts, run, &specs[i], vis, nvis, arr, &first_rc, &first)) != NULL) {
			t->run = run;
			t->fn = fn;
			t->rc = 0;
			vis[nvis++] = t;
		}
	}
	if (nvis > 1) {
		log_info("kubernetes: listing %zu contexts in parallel:", nvis);
		for (i = 0; i < nvis; i++)
			log_info("  %s (%s)", vis[i]->context, vis[i]->server);
	}
	if (nvis)
		list_all(vis, nvis);
	if (merge_lists(vis, nvis, nspecs > 1, arr, &nok, &first_rc, &first) < 0) {
		rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
		goto done;
	}
	if (!nok) {
		/* nothing could be listed: that is the error, as with one cluster */
		rc = none_listed(arr, nspecs > 1, first_rc, &first, err);
		goto done;
	}
	*out = arr;
	arr = NULL;
done:
	prenv_err_clear(&first);
	cJSON_Delete(arr);
	free(vis);
	k8s_target_specs_free(specs, nspecs);
	return rc;
}
