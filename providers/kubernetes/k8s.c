/* k8s.c - provider.kind: kubernetes (the vtable); see k8s.h */
#include "kubernetes/k8s.h"
#include "kubernetes/k8s_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "context/ci.h"
#include "config/config.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/names.h"
#include "config/plan.h"

#define DEFAULT_WAIT 300

static const struct k8s_mapping ns_map = { (char *)"", (char *)"v1", (char *)"Namespace",
					   (char *)"namespaces", 0 };

/* A session: the cluster connections of the whole run, each made on first
 * use (k8s_contexts.c: one per kubeconfig + context). */
struct k8s_session {
	struct provider_session base;
	struct k8s_targets *ts;
};

/* One operation's environment. */
struct k8s_run {
	struct k8s_env env;
	struct k8s_client *k;   /* borrowed from the session */
	char pr[24];
};

static const cJSON *pget(const struct provider_run *run, const char *key)
{
	return run->cfg ? cJSON_GetObjectItemCaseSensitive(run->cfg->provider, key) : NULL;
}

static const char *pstr(const struct provider_run *run, const char *key)
{
	const cJSON *v = pget(run, key);

	return cJSON_IsString(v) && *v->valuestring ? v->valuestring : NULL;
}

static int run_env(struct k8s_run *r, const struct provider_run *run, struct prenv_err *err)
{
	memset(r, 0, sizeof(*r));
	if (!run->plan || !run->plan->namespace_ || !run->cfg || !run->cfg->app)
		return prenv_err_set(err, PRENV_ECONFIG, "kubernetes: no namespace for this environment");
	r->env.app = run->cfg->app;
	r->env.env = run->plan->env_name;
	r->env.ns = run->plan->namespace_;
	if (run->ctx) {
		r->env.repo = run->ctx->repo_full_name;
		r->env.sha = run->ctx->sha;
		if (run->ctx->has_pr) {
			snprintf(r->pr, sizeof(r->pr), "%ld", run->ctx->pr_number);
			r->env.pr = r->pr;
		}
	}
	r->env.extra_labels = pget(run, "labels");
	r->env.extra_annotations = pget(run, "annotations");
	r->env.allow_namespaces = pget(run, "allow_namespaces");
	r->env.dry_run = run->dry_run;
	r->env.replace_jobs = cJSON_IsTrue(pget(run, "replace_jobs"));
	r->env.phase = run->phase ? run->phase->name : NULL;
	r->env.services = run->plan->services;
	r->env.repos = (const char *const *)run->plan->service_repos;
	return 0;
}

/* The session's client for run's cluster, connecting on first use: each
 * kubeconfig is loaded (and an exec plugin run) once per session. */
static int session_client(struct provider_session *base, const struct provider_run *run,
			  struct k8s_client **out, struct prenv_err *err)
{
	return k8s_targets_client(((struct k8s_session *)base)->ts, run, out, err);
}

static int run_connect(struct k8s_run *r, struct provider_session *s,
		       const struct provider_run *run, struct prenv_err *err)
{
	return session_client(s, run, &r->k, err);
}

static long wait_seconds(const struct provider_run *run)
{
	const cJSON *w = pget(run, "wait");

	if (run->no_wait)
		return 0;
	if (run->wait_seconds >= 0)
		return run->wait_seconds;
	return cJSON_IsNumber(w) ? (long)w->valuedouble : DEFAULT_WAIT;
}

static char *selector(const struct k8s_env *env)
{
	struct prenv_buf b = PRENV_BUF_INIT;

	k8s_env_selector(&b, env);
	return prenv_buf_detach(&b, NULL);
}

/* ------------------------------------------------------------ deploy */

/* With services:, which services a phase's prune takes: the phase's own
 * (prenv.dev/service in (...)), or for a directory's phase the objects of
 * no service; another phase's or service's objects are never candidates. */
static void phase_services_sel(struct prenv_buf *sel, const struct k8s_env *env,
			       const struct provider_phase *ph)
{
	const char *const *p;

	if (!cJSON_GetArraySize(env->services))
		return;
	if (!ph->services || !*ph->services) {
		prenv_buf_printf(sel, ",!%s", PRENV_LABEL_SERVICE);
		return;
	}
	prenv_buf_printf(sel, ",%s in (", PRENV_LABEL_SERVICE);
	for (p = ph->services; *p; p++)
		prenv_buf_printf(sel, "%s%s", p == ph->services ? "" : ",", *p);
	prenv_buf_addc(sel, ')');
}

/* k8s_prune with prune_extra sel (its own services requirement when own). */
static int prune_sel(struct k8s_run *r, const cJSON *prepared, const struct prenv_buf *sel, int own,
		     int *pruned, struct prenv_err *err)
{
	int more = 0, rc;

	r->env.prune_extra = sel->ptr;
	r->env.prune_extra_services = own;
	rc = k8s_prune(r->k, prepared, &r->env, &more, err);
	r->env.prune_extra = NULL;
	r->env.prune_extra_services = 0;
	*pruned += more;
	return rc;
}

/* A phase's prune: its own objects of earlier deploys, and for the last
 * phase of the run also the environment's objects of no phase or of a phase
 * no longer configured (with services: of the services, and the objects of
 * no service that a phase no longer configured left). */
static int phase_prune(struct k8s_run *r, const cJSON *prepared, const struct provider_phase *ph,
		       int *pruned, struct prenv_err *err)
{
	struct prenv_buf sel = PRENV_BUF_INIT, gone = PRENV_BUF_INIT;
	const char *const *p;
	int rc;

	*pruned = 0;
	prenv_buf_printf(&sel, "%s=%s", PRENV_LABEL_PHASE, ph->name);
	phase_services_sel(&sel, &r->env, ph);
	rc = prune_sel(r, prepared, &sel, 1, pruned, err);
	if (rc == 0 && ph->last && ph->all) {
		prenv_buf_printf(&gone, "%s notin (", PRENV_LABEL_PHASE);
		for (p = ph->all; *p; p++)
			prenv_buf_printf(&gone, "%s%s", p == ph->all ? "" : ",", *p);
		prenv_buf_addc(&gone, ')');
		rc = prune_sel(r, prepared, &gone, 0, pruned, err);
		if (rc == 0 && cJSON_GetArraySize(r->env.services)) {
			prenv_buf_reset(&sel);
			prenv_buf_printf(&sel, "%s,%s,!%s", PRENV_LABEL_PHASE, gone.ptr, PRENV_LABEL_SERVICE);
			rc = prune_sel(r, prepared, &sel, 1, pruned, err);
		}
	}
	prenv_buf_free(&sel);
	prenv_buf_free(&gone);
	return rc;
}

/* The keys of ConfigMap name (a phase's outputs) into res->info
 * {"outputs": {...}}. Its values are never logged. */
static int read_outputs(struct k8s_run *r, const char *name, const char *phase,
			struct provider_result *res, struct prenv_err *err)
{
	const struct k8s_mapping *m;
	struct prenv_buf url = PRENV_BUF_INIT;
	cJSON *cm = NULL, *data;
	int rc;

	if ((rc = k8s_client_map(r->k, "v1", "ConfigMap", &m, err)) < 0)
		return rc;
	k8s_url(r->k, &url, m, r->env.ns, name, NULL);
	rc = k8s_get_json(r->k, url.ptr, &cm, err);
	if (rc == PRENV_ENOTFOUND) {
		prenv_err_clear(err);
		rc = prenv_err_set(err, PRENV_EFAIL, "phase %s is ready, but its outputs, configmap/%s, do not "
				   "exist in namespace %s: a Job of the phase must write them (outputs: in "
				   ".prenv.yml names that ConfigMap)", phase, name, r->env.ns);
	}
	if (rc == 0) {
		data = cJSON_Duplicate(k8s_item(cm, "data"), 1);
		if (!cJSON_IsObject(data)) {
			cJSON_Delete(data);
			data = cJSON_CreateObject();
		}
		log_info("phase %s: %d output(s) read from configmap/%s", phase, cJSON_GetArraySize(data), name);
		cJSON_Delete(res->info);
		res->info = cJSON_CreateObject();
		cJSON_AddItemToObject(res->info, "outputs", data);
	}
	cJSON_Delete(cm);
	prenv_buf_free(&url);
	return rc;
}

/* Fills res from a failed wait. */
static void wait_failed(struct provider_result *res, char **reason, char **detail,
			const struct prenv_err *err)
{
	prenv_set_str(&res->status, "failed");
	prenv_set_str(&res->reason, *reason ? *reason : err->msg);
	res->detail = *detail;
	*detail = NULL;
}

/* Apply, prune and wait of a deploy that is not a dry run. Without phases
 * the prune comes before the wait (today's order); a phase prunes its
 * earlier objects once it is ready, so a failed phase (a Job that failed)
 * leaves the last good ones in place. */
static int deploy_apply(struct k8s_run *r, const struct provider_run *run, const cJSON *prepared,
			int created, long secs, struct provider_result *res, struct prenv_err *err)
{
	const struct provider_phase *ph = run->phase;
	char *sel = NULL, *reason = NULL, *detail = NULL;
	int rc, pruned = 0;

	if (ph && (rc = k8s_jobs_fresh(r->k, prepared, &r->env, err)) < 0)
		return rc;
	if ((rc = k8s_apply_all(r->k, prepared, &r->env, err)) < 0)
		return rc;
	/* a namespace made just now holds nothing of an earlier deploy */
	if (!ph && !created && (rc = k8s_prune(r->k, prepared, &r->env, &pruned, err)) < 0)
		return rc;
	sel = selector(&r->env);
	rc = k8s_wait_ready(r->k, prepared, r->env.ns, sel, secs, &reason, &detail, err);
	if (rc < 0)
		wait_failed(res, &reason, &detail, err);
	else if (ph && !created)
		rc = phase_prune(r, prepared, ph, &pruned, err);
	if (rc == 0 && ph && ph->outputs)
		rc = read_outputs(r, ph->outputs, ph->name, res, err);
	if (rc == 0)
		/* not waited for: "applied", never "ready" */
		prenv_set_str(&res->status, secs > 0 ? "ready" : "applied");
	free(sel);
	free(reason);
	free(detail);
	return rc;
}

static void dry_run_list(const struct k8s_run *r, const cJSON *prepared, int created)
{
	const cJSON *o;

	log_info("dry run: namespace/%s would be %s", r->env.ns, created ? "created" : "updated");
	cJSON_ArrayForEach(o, prepared) {
		struct prenv_buf ref = PRENV_BUF_INIT;

		k8s_obj_ref(&ref, o);
		log_info("dry run: %s would be applied%s", ref.ptr,
			 r->env.phase && !strcmp(k8s_str(o, "kind"), "Job") ? " (created anew)" : "");
		prenv_buf_free(&ref);
	}
}

static int k8s_teardown(struct provider_session *s, const struct provider_run *run,
			const cJSON *objects, struct provider_result *res, struct prenv_err *err);

static long long run_now(const struct provider_run *run)
{
	return run->now > 0 ? run->now : (long long)time(NULL);
}

/* A deploy of a sleeping environment wakes it first: the recorded replica
 * counts come back, then the apply sets what the templates set (the
 * template wins where it names replicas). */
static int deploy_wake(struct k8s_run *r, const struct provider_run *run, struct prenv_err *err)
{
	int writes = 0, rc;

	log_info("environment %s is asleep: this deploy wakes it", r->env.env);
	rc = k8s_env_wake(r->k, &r->env, 1, run_now(run), NULL, &writes, err);
	if (rc < 0)
		prenv_err_prefix(err, "wake environment %s", r->env.env);
	return rc;
}

/* A logical environment (run->logical): the deployed objects and the
 * borrowed services' aliases (*out, NULL otherwise); the namespace will
 * carry the baseline's label and what was deployed or borrowed (*summary,
 * the caller frees). */
static int logical_objects(struct k8s_run *r, const struct provider_run *run, const cJSON *objects,
			   cJSON **out, char **summary, struct prenv_err *err)
{
	const char *domain = pstr(run, "cluster_domain");
	int rc, n;

	*out = NULL;
	if (!run->logical)
		return 0;
	r->env.baseline = run->logical->baseline;
	if (run->logical->summary && !(*summary = cJSON_PrintUnformatted(run->logical->summary)))
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	r->env.logical_summary = *summary;
	if ((rc = k8s_logical_objects(out, objects, run->logical, domain ? domain : "cluster.local", err)) < 0)
		return rc;
	n = cJSON_GetArraySize(*out) - (objects ? cJSON_GetArraySize(objects) : 0);
	if (n > 0 && !r->env.quiet)
		log_info("%d Service(s) of the borrowed services made ExternalName aliases of namespace %s",
			 n, run->logical->baseline_ns);
	return 0;
}

/* What deploy applies, built from the rendered objects: the config's
 * secrets, a logical environment's aliases, prenv's labels. */
struct deploy_objs {
	cJSON *prepared, *with_secrets, *with_aliases;
	char *summary;
};

static void deploy_objs_free(struct deploy_objs *d)
{
	cJSON_Delete(d->prepared);
	cJSON_Delete(d->with_secrets);
	cJSON_Delete(d->with_aliases);
	free(d->summary);
}

/* Builds d, connects and checks what needs the cluster but writes
 * nothing: every object's mapping and a logical environment's baseline
 * (exit 2: nothing was changed). */
static int deploy_objs_check(struct k8s_run *r, struct deploy_objs *d, struct provider_session *s,
			     const struct provider_run *run, const cJSON *objects, struct prenv_err *err)
{
	int rc;

	if ((rc = k8s_secrets_objects(&d->with_secrets, objects, run->secrets, &r->env, err)) < 0 ||
	    (rc = logical_objects(r, run, d->with_secrets ? d->with_secrets : objects, &d->with_aliases,
				  &d->summary, err)) < 0 ||
	    (rc = k8s_prepare(&d->prepared, d->with_aliases ? d->with_aliases :
			      d->with_secrets ? d->with_secrets : objects, &r->env, NULL, err)) < 0)
		return rc;
	if (r->env.phase)
		k8s_label_phase(d->prepared, r->env.phase);
	if ((rc = run_connect(r, s, run, err)) < 0)
		return rc;
	/* every mapping is known before the first write */
	if ((rc = k8s_resolve(r->k, d->prepared, &r->env, err)) < 0 ||
	    (run->logical && cJSON_GetArraySize(run->logical->borrowed) > 0 &&
	     (rc = k8s_logical_baseline(r->k, &r->env, run->logical, err)) < 0))
		return rc;
	return 0;
}

/* Before the pull request is told that a deploy started: everything
 * deploy would refuse before its first write (the mappings, a logical
 * environment's baseline, the namespace's owner), read only, so such a
 * run exits 2 or 3 having changed and said nothing. */
static int k8s_precheck(struct provider_session *s, const struct provider_run *run,
			const cJSON *objects, struct prenv_err *err)
{
	struct k8s_run r;
	struct deploy_objs d = { NULL, NULL, NULL, NULL };
	int rc;

	if (run->phase && (run->phase->teardown || run->phase->outputs_only))
		return 0;
	if ((rc = run_env(&r, run, err)) < 0)
		return rc;
	r.env.quiet = 1;
	if ((rc = deploy_objs_check(&r, &d, s, run, objects, err)) == 0)
		rc = k8s_namespace_check(r.k, &r.env, err);
	deploy_objs_free(&d);
	return rc;
}

static int k8s_deploy(struct provider_session *s, const struct provider_run *run,
		      const cJSON *objects, struct provider_result *res, struct prenv_err *err)
{
	struct k8s_run r;
	struct deploy_objs d = { NULL, NULL, NULL, NULL };
	cJSON *prepared = NULL;
	int rc, created = 0, pruned = 0, asleep = 0;
	long secs = wait_seconds(run);

	if (run->phase && run->phase->teardown)
		return k8s_teardown(s, run, objects, res, err);
	if ((rc = run_env(&r, run, err)) < 0)
		return rc;
	if (run->phase && !run->phase->last && secs <= 0) {
		/* the next phase needs this one ready: --no-wait is the last one's */
		log_info("phase %s: waited on (up to %d s) although not waiting was asked: the next phase "
			 "needs it ready", run->phase->name, DEFAULT_WAIT);
		secs = DEFAULT_WAIT;
	}
	if (run->phase && run->phase->outputs_only) {
		/* a `run: once` phase that ran before: its outputs only */
		if ((rc = run_connect(&r, s, run, err)) == 0 && run->phase->outputs)
			rc = read_outputs(&r, run->phase->outputs, run->phase->name, res, err);
		return rc;
	}
	/* a namespace still being deleted (a destroy just before) is waited for */
	r.env.ns_wait = secs > DEFAULT_WAIT ? secs : DEFAULT_WAIT;
	if ((rc = deploy_objs_check(&r, &d, s, run, objects, err)) < 0)
		goto done;
	prepared = d.prepared;
	r.env.asleep = &asleep;
	if ((rc = k8s_namespace_apply(r.k, &r.env, &created, err)) < 0)
		goto done;
	if (asleep && (rc = deploy_wake(&r, run, err)) < 0)
		goto done;
	if (run->dry_run) {
		dry_run_list(&r, prepared, created);
		if (!created && run->phase)
			rc = phase_prune(&r, prepared, run->phase, &pruned, err);
		else if (!created)
			rc = k8s_prune(r.k, prepared, &r.env, &pruned, err);
		prenv_set_str(&res->status, "applied");
		goto done;
	}
	rc = deploy_apply(&r, run, prepared, created, secs, res, err);
done:
	if (r.k)
		log_verbose("kubernetes: %lu API requests", k8s_client_requests(r.k));
	if (rc < 0 && !res->reason && err->msg) {
		/* the report names the template too (file:line of the object) */
		struct prenv_buf why = PRENV_BUF_INIT;

		if (err->file)
			prenv_buf_printf(&why, "%s:%d: ", err->file, err->line);
		prenv_buf_adds(&why, err->msg);
		prenv_set_str(&res->reason, why.ptr);
		prenv_buf_free(&why);
	}
	deploy_objs_free(&d);
	return rc;
}

/* ------------------------------------------------------------ destroy */

/* Checks the namespace is this app's; 0 ok. */
static int check_owner(const cJSON *ns, const struct k8s_env *env, const char *what,
		       struct prenv_err *err)
{
	const char *m = k8s_label(ns, PRENV_LABEL_MANAGED), *a = k8s_label(ns, PRENV_LABEL_APP);
	const char *e = k8s_label(ns, PRENV_LABEL_ENV);

	if (!m || strcmp(m, PRENV_MANAGED_BY) || !a || strcmp(a, env->app))
		return prenv_err_set(err, PRENV_EAUTH, "refusing to %s namespace %s: it does not carry %s=prenv "
				     "and %s=%s, so prenv did not create it for app %s; nothing was changed",
				     what, env->ns, PRENV_LABEL_MANAGED, PRENV_LABEL_APP, env->app, env->app);
	if (e && strcmp(e, env->env))
		return prenv_err_set(err, PRENV_EAUTH, "refusing to %s namespace %s: it belongs to environment "
				     "%s, not %s; nothing was changed", what, env->ns, e, env->env);
	if (k8s_foreign_repo(ns, env))
		return k8s_foreign_err(err, env, what, k8s_foreign_repo(ns, env));
	return 0;
}

static int k8s_destroy(struct provider_session *s, const struct provider_run *run,
		       struct provider_result *res, struct prenv_err *err)
{
	struct k8s_run r;
	struct prenv_buf url = PRENV_BUF_INIT;
	struct http_response resp = HTTP_RESPONSE_INIT;
	cJSON *ns = NULL;
	long secs;
	int rc;

	if ((rc = run_env(&r, run, err)) < 0)
		return rc;
	if (run->plan->protected_) {
		rc = prenv_err_set(err, PRENV_ECONFIG, "environment %s is protected; prenv will not destroy it",
				   r.env.env);
		goto done;
	}
	if ((rc = run_connect(&r, s, run, err)) < 0)
		goto done;
	k8s_url(r.k, &url, &ns_map, NULL, r.env.ns, NULL);
	rc = k8s_get_json(r.k, url.ptr, &ns, err);
	if (rc == PRENV_ENOTFOUND) {
		prenv_err_clear(err);
		log_info("namespace/%s does not exist: nothing to destroy", r.env.ns);
		prenv_set_str(&res->status, "absent");
		rc = 0;
		goto done;
	}
	if (rc < 0 || (rc = check_owner(ns, &r.env, "delete", err)) < 0)
		goto done;
	if (run->dry_run) {
		log_info("dry run: namespace/%s would be deleted", r.env.ns);
		prenv_set_str(&res->status, "destroyed");
		goto done;
	}
	if (!k8s_str(ns, "metadata.deletionTimestamp")) {
		rc = k8s_request(r.k, "DELETE", url.ptr, NULL, NULL, &resp, err);
		if (rc == PRENV_ENOTFOUND) {
			prenv_err_clear(err);
			rc = 0;
		} else if (rc < 0) {
			prenv_err_prefix(err, "delete namespace/%s", r.env.ns);
			goto done;
		}
	}
	secs = run->no_wait ? 0 : run->wait_seconds >= 0 ? run->wait_seconds : wait_seconds(run);
	if (secs <= 0) {
		log_info("namespace/%s: deletion started; not waiting for it to go (it stays Terminating "
			 "until the objects in it are deleted)", r.env.ns);
	} else {
		log_info("namespace/%s: deletion %s; waiting up to %ld s for it to go", r.env.ns,
			 k8s_str(ns, "metadata.deletionTimestamp") ? "already under way" : "started", secs);
		if ((rc = k8s_wait_ns_gone(r.k, r.env.ns, secs, err)) < 0)
			goto done;
		log_info("namespace/%s is gone", r.env.ns);
	}
	prenv_set_str(&res->status, "destroyed");
done:
	if (rc < 0 && err->msg)
		prenv_set_str(&res->reason, err->msg);
	cJSON_Delete(ns);
	http_response_free(&resp);
	prenv_buf_free(&url);
	return rc;
}

/* ------------------------------------------------------------ teardown */

/* The on_destroy Jobs (run->phase->teardown): applied in the existing
 * environment and waited on (run->wait_seconds: on_destroy.timeout); the
 * namespace is left as it is and nothing is pruned. No namespace, or one
 * being deleted: nothing to run (status "absent"). */
static int k8s_teardown(struct provider_session *s, const struct provider_run *run,
			const cJSON *objects, struct provider_result *res, struct prenv_err *err)
{
	struct k8s_run r;
	struct prenv_buf url = PRENV_BUF_INIT;
	cJSON *prepared = NULL, *ns = NULL;
	char *sel = NULL, *reason = NULL, *detail = NULL;
	int rc;

	if ((rc = run_env(&r, run, err)) < 0)
		return rc;
	if ((rc = k8s_prepare(&prepared, objects, &r.env, NULL, err)) < 0 ||
	    (rc = run_connect(&r, s, run, err)) < 0)
		goto done;
	k8s_label_phase(prepared, r.env.phase);
	k8s_url(r.k, &url, &ns_map, NULL, r.env.ns, NULL);
	rc = k8s_get_json(r.k, url.ptr, &ns, err);
	if (rc == PRENV_ENOTFOUND || (rc == 0 && k8s_str(ns, "metadata.deletionTimestamp"))) {
		prenv_err_clear(err);
		log_info("namespace/%s %s: no teardown Jobs to run", r.env.ns,
			 rc ? "does not exist" : "is being deleted already");
		prenv_set_str(&res->status, "absent");
		rc = 0;
		goto done;
	}
	if (rc < 0 || (rc = check_owner(ns, &r.env, "tear down", err)) < 0 ||
	    (rc = k8s_resolve(r.k, prepared, &r.env, err)) < 0)
		goto done;
	if (run->dry_run) {
		dry_run_list(&r, prepared, 0);
		prenv_set_str(&res->status, "applied");
		goto done;
	}
	if ((rc = k8s_jobs_fresh(r.k, prepared, &r.env, err)) < 0 ||
	    (rc = k8s_apply_all(r.k, prepared, &r.env, err)) < 0)
		goto done;
	sel = selector(&r.env);
	rc = k8s_wait_ready(r.k, prepared, r.env.ns, sel, wait_seconds(run), &reason, &detail, err);
	if (rc < 0)
		wait_failed(res, &reason, &detail, err);
	else
		prenv_set_str(&res->status, "ready");
done:
	if (rc < 0 && !res->reason && err->msg)
		prenv_set_str(&res->reason, err->msg);
	free(sel);
	free(reason);
	free(detail);
	cJSON_Delete(ns);
	cJSON_Delete(prepared);
	prenv_buf_free(&url);
	return rc;
}

/* ------------------------------------------------------------ status */

/* The services the last deploy recorded on the namespace: info.services
 * and one line each. */
static void status_services(cJSON *info, struct prenv_buf *text, const char *ann)
{
	cJSON *list = ann ? cJSON_Parse(ann) : NULL;
	const cJSON *e;

	if (!cJSON_IsArray(list)) {
		cJSON_Delete(list);
		return;
	}
	cJSON_ArrayForEach(e, list) {
		const char *from = k8s_str(e, "from_branch"), *img = k8s_str(e, "image");
		const char *sha = k8s_str(e, "sha");

		prenv_buf_printf(text, "service %s: %s %.7s, %s%s%s%s\n", k8s_str(e, "name") ? k8s_str(e, "name") : "?",
				 k8s_str(e, "branch") ? k8s_str(e, "branch") : "-", sha ? sha : "",
				 cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "virtual")) ? "virtual from " : "real",
				 cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "virtual")) && from ? from : "",
				 img ? ", image " : "", img ? img : "");
	}
	cJSON_AddItemToObject(info, "services", list);
}

/* What the namespace says (annotations, sleep state), into info and text. */
static void status_namespace(cJSON *info, struct prenv_buf *tp, const cJSON *ns, const char *name)
{
#define ANN(key, field) \
	if (k8s_annotation(ns, key)) \
		cJSON_AddStringToObject(info, field, k8s_annotation(ns, key))
	ANN(PRENV_ANN_SHA, "sha");
	ANN(PRENV_ANN_DEPLOYED_AT, "deployed_at");
	if (k8s_annotation(ns, PRENV_ANN_PR))
		cJSON_AddNumberToObject(info, "pr", (double)strtol(k8s_annotation(ns, PRENV_ANN_PR), NULL, 10));
	ANN(PRENV_ANN_REPO, "repo");
	ANN(PRENV_ANN_COMMENT_ID, "comment_id");
	ANN(PRENV_ANN_ASLEEP_SINCE, "asleep_since");
	ANN(PRENV_ANN_WOKEN_AT, "woken_at");
	ANN(PRENV_ANN_TOUCHED_AT, "touched_at");
#undef ANN
	cJSON_AddBoolToObject(info, "sleeping", k8s_annotation(ns, PRENV_ANN_ASLEEP_SINCE) != NULL);
	if (k8s_annotation(ns, PRENV_ANN_LOGICAL)) {
		cJSON *lg = cJSON_Parse(k8s_annotation(ns, PRENV_ANN_LOGICAL));

		if (cJSON_IsObject(lg))
			cJSON_AddItemToObject(info, "logical", lg);
		else
			cJSON_Delete(lg);
	}
	prenv_buf_printf(tp, "namespace/%s", name);
	if (k8s_annotation(ns, PRENV_ANN_SHA))
		prenv_buf_printf(tp, ", sha %s", k8s_annotation(ns, PRENV_ANN_SHA));
	if (k8s_annotation(ns, PRENV_ANN_DEPLOYED_AT))
		prenv_buf_printf(tp, ", deployed %s", k8s_annotation(ns, PRENV_ANN_DEPLOYED_AT));
	if (k8s_annotation(ns, PRENV_ANN_ASLEEP_SINCE))
		prenv_buf_printf(tp, ", sleeping since %s (`prenv wake` or a deploy wakes it)",
				 k8s_annotation(ns, PRENV_ANN_ASLEEP_SINCE));
	else
		prenv_buf_adds(tp, ", awake");
	if (k8s_label(ns, PRENV_LABEL_BASELINE))
		prenv_buf_printf(tp, ", logical: borrows from %s", k8s_label(ns, PRENV_LABEL_BASELINE));
}

static int k8s_status(struct provider_session *s, const struct provider_run *run,
		      struct provider_result *res, struct prenv_err *err)
{
	static const char *const kinds[][2] = {
		{ "apps/v1", "Deployment" }, { "apps/v1", "StatefulSet" }, { "apps/v1", "DaemonSet" },
		{ "batch/v1", "Job" }, { "v1", "Service" }, { "networking.k8s.io/v1", "Ingress" },
	};
	struct k8s_run r;
	struct prenv_buf url = PRENV_BUF_INIT, text = PRENV_BUF_INIT;
	cJSON *ns = NULL, *info = NULL, *objs;
	char *sel = NULL;
	size_t i;
	int rc, all_ready = 1, any_failed = 0;

	if ((rc = run_env(&r, run, err)) < 0)
		return rc;
	if ((rc = run_connect(&r, s, run, err)) < 0)
		goto done;
	info = cJSON_CreateObject();
	cJSON_AddStringToObject(info, "namespace", r.env.ns);
	k8s_url(r.k, &url, &ns_map, NULL, r.env.ns, NULL);
	rc = k8s_get_json(r.k, url.ptr, &ns, err);
	if (rc == PRENV_ENOTFOUND) {
		prenv_err_clear(err);
		cJSON_AddBoolToObject(info, "exists", 0);
		prenv_set_str(&res->status, "absent");
		prenv_buf_printf(&text, "namespace/%s does not exist", r.env.ns);
		rc = 0;
		goto out;
	}
	if (rc < 0)
		goto done;
	cJSON_AddBoolToObject(info, "exists", 1);
	cJSON_AddBoolToObject(info, "managed", check_owner(ns, &r.env, "use", NULL) == 0);
	if (k8s_str(ns, "metadata.deletionTimestamp"))
		cJSON_AddBoolToObject(info, "terminating", 1);
	status_services(info, &text, k8s_annotation(ns, PRENV_ANN_SERVICES));
	status_namespace(info, &text, ns, r.env.ns);
	prenv_buf_addc(&text, '\n');
	objs = cJSON_AddArrayToObject(info, "objects");
	sel = selector(&r.env);
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		const struct k8s_mapping *m;
		cJSON *items = NULL, *it;

		if ((rc = k8s_client_map(r.k, kinds[i][0], kinds[i][1], &m, err)) < 0 ||
		    (rc = k8s_list(r.k, m, r.env.ns, sel, NULL, &items, NULL, err)) < 0)
			goto done;
		cJSON_ArrayForEach(it, items) {
			struct prenv_buf line = PRENV_BUF_INIT, why = PRENV_BUF_INIT;
			int st = k8s_readiness(it, &line, &why);
			cJSON *e = cJSON_CreateObject();

			cJSON_AddStringToObject(e, "kind", m->kind);
			cJSON_AddStringToObject(e, "name", k8s_str(it, "metadata.name"));
			cJSON_AddStringToObject(e, "state", st > 0 ? "ready" : st < 0 ? "failed" : "progressing");
			cJSON_AddStringToObject(e, "summary", line.ptr);
			if (why.len)
				cJSON_AddStringToObject(e, "reason", why.ptr);
			cJSON_AddItemToArray(objs, e);
			prenv_buf_printf(&text, "  %s%s%s\n", line.ptr, why.len ? ": " : "", why.ptr);
			if (st == 0)
				all_ready = 0;
			if (st < 0)
				any_failed = 1;
			prenv_buf_free(&line);
			prenv_buf_free(&why);
		}
		cJSON_Delete(items);
	}
	prenv_set_str(&res->status, k8s_str(ns, "metadata.deletionTimestamp") ? "terminating"
			      : k8s_annotation(ns, PRENV_ANN_ASLEEP_SINCE) ? "sleeping" : any_failed ? "failed" : all_ready ? "ready" : "progressing");
out:
	while (text.len && text.ptr[text.len - 1] == '\n')
		prenv_buf_truncate(&text, text.len - 1);
	res->detail = prenv_buf_detach(&text, NULL);
	res->info = info;
	info = NULL;
done:
	free(sel);
	cJSON_Delete(ns);
	cJSON_Delete(info);
	prenv_buf_free(&url);
	prenv_buf_free(&text);
	return rc;
}

/* ------------------------------------------------------------ annotations */

/* The environment of run, the session's client, the namespace's URL in
 * url and the namespace itself in *ns (PRENV_ENOTFOUND when absent). */
static int get_env_ns(struct provider_session *s, const struct provider_run *run,
		      struct k8s_run *r, struct prenv_buf *url, cJSON **ns, struct prenv_err *err)
{
	int rc;

	*ns = NULL;
	if ((rc = run_env(r, run, err)) < 0 || (rc = run_connect(r, s, run, err)) < 0)
		return rc;
	k8s_url(r->k, url, &ns_map, NULL, r->env.ns, NULL);
	return k8s_get_json(r->k, url->ptr, ns, err);
}

/* Sets annotation key=value on the environment's namespace (server-side
 * apply with its own field manager "prenv-report", so a later deploy does
 * not remove it); value NULL removes it. The namespace must exist and be
 * prenv's (PRENV_ENOTFOUND / PRENV_EAUTH otherwise). */
static int namespace_annotate(struct provider_session *s, const struct provider_run *run,
			      const char *key, const char *value, struct prenv_err *err)
{
	struct k8s_run r;
	struct prenv_buf url = PRENV_BUF_INIT;
	struct http_response resp = HTTP_RESPONSE_INIT;
	cJSON *ns = NULL, *obj = NULL, *meta;
	char *body = NULL;
	int rc;

	if ((rc = get_env_ns(s, run, &r, &url, &ns, err)) < 0 ||
	    (rc = check_owner(ns, &r.env, "annotate", err)) < 0)
		goto done;
	obj = cJSON_CreateObject();
	cJSON_AddStringToObject(obj, "apiVersion", "v1");
	cJSON_AddStringToObject(obj, "kind", "Namespace");
	meta = cJSON_AddObjectToObject(obj, "metadata");
	cJSON_AddStringToObject(meta, "name", r.env.ns);
	/* applying without the key drops it: this manager owns only it */
	if (value)
		cJSON_AddStringToObject(cJSON_AddObjectToObject(meta, "annotations"), key, value);
	body = cJSON_PrintUnformatted(obj);
	/* one field manager per note: applying one note must not drop another
	 * (the PR comment's keeps its manager of before) */
	if (!strcmp(key, PRENV_ANN_COMMENT_ID))
		prenv_buf_adds(&url, "?fieldManager=prenv-report&force=true");
	else
		prenv_buf_printf(&url, "?fieldManager=prenv-note-%s&force=true", key + strlen(PRENV_ANN_PREFIX));
	rc = k8s_request(r.k, "PATCH", url.ptr, "application/apply-patch+yaml", body, &resp, err);
	if (rc < 0)
		prenv_err_prefix(err, "annotate namespace/%s", r.env.ns);
done:
	free(body);
	cJSON_Delete(obj);
	cJSON_Delete(ns);
	http_response_free(&resp);
	prenv_buf_free(&url);
	return rc;
}

/* Reads annotation key of the environment's namespace into *out (caller
 * frees; NULL when the annotation or the namespace is absent). */
static int namespace_annotation(struct provider_session *s, const struct provider_run *run,
				const char *key, char **out, struct prenv_err *err)
{
	struct k8s_run r;
	struct prenv_buf url = PRENV_BUF_INIT;
	cJSON *ns = NULL;
	int rc;

	*out = NULL;
	rc = get_env_ns(s, run, &r, &url, &ns, err);
	if (rc == PRENV_ENOTFOUND) {
		prenv_err_clear(err);
		rc = 0;
	} else if (rc == 0 && k8s_annotation(ns, key) && !k8s_foreign_repo(ns, &r.env)) {
		/* another repository's note (its PR comment) is not this run's */
		*out = strdup(k8s_annotation(ns, key));
	}
	cJSON_Delete(ns);
	prenv_buf_free(&url);
	return rc;
}

/* Notes are annotations prenv.dev/<key> on the environment's namespace. */
static int note_key(struct prenv_buf *b, const char *key, struct prenv_err *err)
{
	if (prenv_buf_printf(b, "%s%s", PRENV_ANN_PREFIX, key) < 0)
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	return 0;
}

static int k8s_get_note(struct provider_session *s, const struct provider_run *run,
			const char *key, char **out, struct prenv_err *err)
{
	struct prenv_buf k = PRENV_BUF_INIT;
	int rc;

	*out = NULL;
	if ((rc = note_key(&k, key, err)) == 0)
		rc = namespace_annotation(s, run, k.ptr, out, err);
	prenv_buf_free(&k);
	return rc;
}

static int k8s_set_note(struct provider_session *s, const struct provider_run *run,
			const char *key, const char *value, struct prenv_err *err)
{
	struct prenv_buf k = PRENV_BUF_INIT;
	int rc;

	if ((rc = note_key(&k, key, err)) == 0)
		rc = namespace_annotate(s, run, k.ptr, value, err);
	prenv_buf_free(&k);
	return rc;
}

/* ------------------------------------------------------------ list (gc) */

/* The sleep state and activity times of a listed namespace (provider.h). */
static void list_sleep_state(cJSON *e, const cJSON *ns)
{
	static const struct { const char *ann, *key; } times[] = {
		{ PRENV_ANN_ASLEEP_SINCE, "asleep_since" },
		{ PRENV_ANN_WOKEN_AT, "woken_at" },
		{ PRENV_ANN_TOUCHED_AT, "touched_at" },
	};
	time_t t, awake = k8s_parse_time(k8s_str(ns, "metadata.creationTimestamp"));
	size_t i;

	for (i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		const char *v = k8s_annotation(ns, times[i].ann);

		if (v && (t = k8s_parse_time(v)) != (time_t)-1) {
			cJSON_AddNumberToObject(e, times[i].key, (double)t);
			if (i == 1)
				awake = t;
		}
	}
	if (!k8s_annotation(ns, PRENV_ANN_ASLEEP_SINCE) && awake != (time_t)-1)
		cJSON_AddNumberToObject(e, "awake_since", (double)awake);
}

/* The cost figures of the listed environments; without them when the
 * cluster refuses the lists (a warning: gc still works). */
static void list_costs(struct k8s_client *k, const char *app, cJSON *envs)
{
	struct prenv_err e = PRENV_ERR_INIT;

	if (!cJSON_GetArraySize(envs))
		return;
	if (k8s_env_costs(k, app, envs, &e) < 0)
		log_warn("kubernetes: no cost figures (requested CPU and memory): %s", e.msg);
	prenv_err_clear(&e);
}

/* The namespaces labelled for this app in one cluster, one entry per
 * environment. A namespace being deleted is left out (it is going
 * already). Runs in a thread of its own (k8s_targets_list). */
static int list_one(struct k8s_client *k, const struct provider_run *run, cJSON **out,
		    struct prenv_err *err)
{
	struct k8s_run r;
	struct prenv_buf sel = PRENV_BUF_INIT;
	cJSON *items = NULL, *arr = NULL;
	const cJSON *it;
	int rc;

	*out = NULL;
	memset(&r, 0, sizeof(r));
	if (!run->cfg || !run->cfg->app)
		return prenv_err_set(err, PRENV_ECONFIG, "kubernetes: no app to list environments of");
	r.env.app = run->cfg->app;
	r.env.repo = run->ctx ? run->ctx->repo_full_name : NULL;
	r.env.repos = run->plan ? (const char *const *)run->plan->service_repos : NULL;
	r.k = k;
	prenv_buf_printf(&sel, "%s=%s,%s=%s", PRENV_LABEL_MANAGED, PRENV_MANAGED_BY, PRENV_LABEL_APP,
			 run->cfg->app);
	if (sel.failed || !(arr = cJSON_CreateArray())) {
		rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
		goto done;
	}
	if ((rc = k8s_list(r.k, &ns_map, NULL, sel.ptr, NULL, &items, NULL, err)) < 0) {
		prenv_err_prefix(err, "list namespaces (%s)", sel.ptr);
		goto done;
	}
	cJSON_ArrayForEach(it, items) {
		const char *name = k8s_str(it, "metadata.name");
		const char *env = k8s_label(it, PRENV_LABEL_ENV);
		const char *pr = k8s_annotation(it, PRENV_ANN_PR);
		const char *sha = k8s_annotation(it, PRENV_ANN_SHA);
		const char *at = k8s_annotation(it, PRENV_ANN_DEPLOYED_AT);
		const char *owner;
		cJSON *e;
		char *end;
		long n;
		time_t t;

		if (!name || !env || !name_is_dns_label(env)) {
			log_verbose("kubernetes: namespace %s has no usable %s label; skipped",
				    name ? name : "?", PRENV_LABEL_ENV);
			continue;
		}
		if (k8s_str(it, "metadata.deletionTimestamp")) {
			log_verbose("kubernetes: namespace %s is being deleted; skipped", name);
			continue;
		}
		if (!(e = cJSON_CreateObject())) {
			rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
			goto done;
		}
		cJSON_AddItemToArray(arr, e);
		cJSON_AddStringToObject(e, "name", env);
		cJSON_AddStringToObject(e, "namespace", name);
		if ((owner = k8s_foreign_repo(it, &r.env)) != NULL) {
			/* another repository's: gc leaves it alone, destroy refuses */
			cJSON_AddTrueToObject(e, "foreign");
			cJSON_AddStringToObject(e, "repo", owner);
		}
		n = pr ? strtol(pr, &end, 10) : 0;
		if (pr && n > 0 && *end == '\0')
			cJSON_AddNumberToObject(e, "pr", (double)n);
		else
			cJSON_AddNullToObject(e, "pr");
		if (sha)
			cJSON_AddStringToObject(e, "sha", sha);
		else
			cJSON_AddNullToObject(e, "sha");
		t = at ? k8s_parse_time(at) : (time_t)-1;
		if (t != (time_t)-1)
			cJSON_AddNumberToObject(e, "deployed_at", (double)t);
		else
			cJSON_AddNullToObject(e, "deployed_at");
		list_sleep_state(e, it);
		if ((t = k8s_parse_time(k8s_str(it, "metadata.creationTimestamp"))) != (time_t)-1)
			cJSON_AddNumberToObject(e, "created_at", (double)t);
	}
	list_costs(r.k, run->cfg->app, arr);
	*out = arr;
	arr = NULL;
done:
	cJSON_Delete(items);
	cJSON_Delete(arr);
	prenv_buf_free(&sel);
	return rc;
}

/* Every cluster the rules name, in parallel (k8s_contexts.c). */
static int k8s_list_envs(struct provider_session *s, const struct provider_run *run, cJSON **out,
			 struct prenv_err *err)
{
	*out = NULL;
	if (!run->cfg || !run->cfg->app)
		return prenv_err_set(err, PRENV_ECONFIG, "kubernetes: no app to list environments of");
	return k8s_targets_list(((struct k8s_session *)s)->ts, run, list_one, out, err);
}

/* ------------------------------------------------------------ sleep, wake, touch */

/* The environment's namespace for sleep/wake/touch (what: the verb, for
 * messages): 1 when it does not exist (res says "absent"), 0 when it is
 * prenv's and usable, or an error. */
static int lifecycle_ns(struct provider_session *s, const struct provider_run *run, struct k8s_run *r,
			cJSON **ns, const char *what, struct provider_result *res, struct prenv_err *err)
{
	struct prenv_buf url = PRENV_BUF_INIT;
	int rc = get_env_ns(s, run, r, &url, ns, err);

	prenv_buf_free(&url);
	if (rc == PRENV_ENOTFOUND) {
		prenv_err_clear(err);
		log_info("namespace/%s does not exist: nothing to %s", r->env.ns, what);
		if (res)
			prenv_set_str(&res->status, "absent");
		return 1;
	}
	if (rc < 0 || (rc = check_owner(*ns, &r->env, what, err)) < 0)
		return rc;
	if (k8s_str(*ns, "metadata.deletionTimestamp"))
		return prenv_err_set(err, PRENV_EFAIL, "namespace/%s is being deleted: nothing to %s",
				     r->env.ns, what);
	return 0;
}

static int k8s_sleep(struct provider_session *s, const struct provider_run *run,
		     struct provider_result *res, struct prenv_err *err)
{
	struct k8s_run r;
	cJSON *ns = NULL;
	int rc, writes = 0, asleep;

	if (run->plan && run->plan->protected_)
		return prenv_err_set(err, PRENV_ECONFIG, "environment %s is protected; prenv will not put it "
				     "to sleep", run->plan->env_name);
	if ((rc = lifecycle_ns(s, run, &r, &ns, "put to sleep", res, err)) != 0)
		goto done;
	asleep = k8s_annotation(ns, PRENV_ANN_ASLEEP_SINCE) != NULL;
	if ((rc = k8s_env_sleep(r.k, &r.env, asleep, run_now(run), &writes, err)) < 0)
		goto done;
	if (asleep && !writes)
		log_info("environment %s is asleep already (since %s): nothing changed", r.env.env,
			 k8s_annotation(ns, PRENV_ANN_ASLEEP_SINCE));
	else
		log_info("environment %s %s asleep (%d write(s))", r.env.env, run->dry_run ? "would be" : "is",
			 writes);
	prenv_set_str(&res->status, "sleeping");
done:
	if (rc < 0 && err->msg)
		prenv_set_str(&res->reason, err->msg);
	cJSON_Delete(ns);
	return rc > 0 ? 0 : rc;
}

/* After a wake: waits (--wait) until what was started again is ready. */
static int wake_wait(struct k8s_run *r, const struct provider_run *run, cJSON *woken,
		     struct provider_result *res, struct prenv_err *err)
{
	long secs = run->no_wait ? 0 : run->wait_seconds > 0 ? run->wait_seconds : 0;
	char *sel, *reason = NULL, *detail = NULL;
	const cJSON *o;
	int rc;

	if (secs <= 0 || run->dry_run || !cJSON_GetArraySize(woken)) {
		prenv_set_str(&res->status, "awake");
		return 0;
	}
	cJSON_ArrayForEach(o, woken) {
		if (!k8s_str(o, "metadata.namespace"))
			cJSON_AddStringToObject(cJSON_GetObjectItemCaseSensitive(o, "metadata"), "namespace",
						r->env.ns);
	}
	sel = selector(&r->env);
	rc = k8s_wait_ready(r->k, woken, r->env.ns, sel, secs, &reason, &detail, err);
	prenv_set_str(&res->status, rc < 0 ? "failed" : "ready");
	if (rc < 0) {
		prenv_set_str(&res->reason, reason ? reason : err->msg);
		res->detail = detail;
		detail = NULL;
	}
	free(sel);
	free(reason);
	free(detail);
	return rc;
}

static int k8s_wake(struct provider_session *s, const struct provider_run *run,
		    struct provider_result *res, struct prenv_err *err)
{
	struct k8s_run r;
	cJSON *ns = NULL, *woken = cJSON_CreateArray();
	int rc, writes = 0, asleep;

	if (!woken)
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	if ((rc = lifecycle_ns(s, run, &r, &ns, "wake", res, err)) != 0)
		goto done;
	asleep = k8s_annotation(ns, PRENV_ANN_ASLEEP_SINCE) != NULL;
	if ((rc = k8s_env_wake(r.k, &r.env, asleep, run_now(run), woken, &writes, err)) < 0)
		goto done;
	if (!asleep && !writes)
		log_info("environment %s is awake already: nothing changed", r.env.env);
	else
		log_info("environment %s %s awake (%d write(s))", r.env.env, run->dry_run ? "would be" : "is",
			 writes);
	rc = wake_wait(&r, run, woken, res, err);
done:
	if (rc < 0 && err->msg && !res->reason)
		prenv_set_str(&res->reason, err->msg);
	cJSON_Delete(ns);
	cJSON_Delete(woken);
	return rc > 0 ? 0 : rc;
}

static int k8s_touch(struct provider_session *s, const struct provider_run *run, struct prenv_err *err)
{
	struct k8s_run r;
	cJSON *ns = NULL;
	int rc;

	if ((rc = lifecycle_ns(s, run, &r, &ns, "touch", NULL, err)) == 0 && !run->dry_run)
		rc = k8s_env_touch(r.k, &r.env, run_now(run), err);
	cJSON_Delete(ns);
	return rc > 0 ? 0 : rc;
}

/* ------------------------------------------------------------ check */

/* What k8s_prepare() finds without a cluster: namespaces other than the
 * environment's, cluster-scoped kinds, bad apiVersions. */
static int k8s_check(const struct provider_run *run, const cJSON *objects, struct prenv_err *err)
{
	struct k8s_run r;
	cJSON *prepared = NULL;
	int rc;

	if ((rc = run_env(&r, run, err)) < 0)
		return rc;
	rc = k8s_prepare(&prepared, objects, &r.env, NULL, err);
	cJSON_Delete(prepared);
	return rc;
}

/* ------------------------------------------------------------ the interface */

static int k8s_open(struct provider_session **out, const struct provider_run *run,
		    struct prenv_err *err)
{
	struct k8s_session *s = calloc(1, sizeof(*s));
	int rc;

	if (!s || !(s->ts = k8s_targets_new())) {
		free(s);
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	}
	/* a production-only context refuses another kind before anything */
	if ((rc = k8s_targets_guard(s->ts, run, err)) < 0) {
		k8s_targets_free(s->ts);
		free(s);
		return rc;
	}
	*out = &s->base;
	return 0;
}

static void k8s_close(struct provider_session *base)
{
	struct k8s_session *s = (struct k8s_session *)base;

	k8s_targets_free(s->ts);
	free(s);
}

static const struct config_key k8s_keys[] = {
	{ "context", CONFIG_STR, 0, NULL, "the kubeconfig context (default: current-context)", NULL },
	{ "namespace", CONFIG_STR, 0, "{{app}}-{{env.name}}", "the environment's namespace (a template)",
	  NULL },
	{ "wait", CONFIG_DUR, 0, "300s", "how long deploy waits for readiness (0: not at all)", NULL },
	{ "kubeconfig", CONFIG_STR, 0, NULL, "a kubeconfig file, relative to the config", NULL },
	{ "allow_namespaces", CONFIG_STRSEQ, 0, NULL,
	  "other namespaces the templates may name", NULL },
	{ "labels", CONFIG_STRMAP, 0, NULL, "extra labels on the namespace", NULL },
	{ "annotations", CONFIG_STRMAP, 0, NULL, "extra annotations on the namespace", NULL },
	{ "replace_jobs", CONFIG_BOOL, 0, "false",
	  "delete and create anew a Job whose pod template changed (a Job cannot change in place)", NULL },
	{ "production_context", CONFIG_STRS, 0, NULL,
	  "context(s) only environments of kind production may use (a name or a list)", NULL },
	{ "cluster_domain", CONFIG_STR, 0, NULL,
	  "the cluster's DNS domain, for the aliases of a logical environment (default cluster.local)",
	  NULL },
};

const struct prenv_provider k8s_provider = {
	.version = PRENV_PROVIDER_VERSION,
	.name = "kubernetes",
	.schema = { "kubernetes", k8s_keys, sizeof(k8s_keys) / sizeof(k8s_keys[0]), 1 },
	.phases = 1,
	.logical = 1,
	.open = k8s_open,
	.close = k8s_close,
	.deploy = k8s_deploy,
	.precheck = k8s_precheck,
	.destroy = k8s_destroy,
	.status = k8s_status,
	.check = k8s_check,
	.list = k8s_list_envs,
	.get_note = k8s_get_note,
	.set_note = k8s_set_note,
	.sleep = k8s_sleep,
	.wake = k8s_wake,
	.touch = k8s_touch,
};
