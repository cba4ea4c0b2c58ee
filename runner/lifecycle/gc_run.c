/* gc_run.c - the gc driver: list, decide (gc.c), destroy, report; see
 * gc.h */
#include "lifecycle/gc.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "config/config.h"
#include "config/plan.h"
#include "context/ci.h"
#include "provider.h"
#include "report/codehost.h"
#include "report/policy.h"
#include "util/err.h"
#include "util/names.h"
#include "util/fs.h"
#include "util/log.h"

struct gc_state {
	const struct gc_opts *o;
	struct codehost *host;   /* for PR states; NULL when not possible */
	int host_tried;
	int acted[4], failed, kept, total;  /* acted: by enum gc_action */
	int ctx_failed;                    /* contexts that could not be listed */
	const char *failed_what;           /* "destroyed", "put to sleep", ... */
};

/* The PR's state from the code host, or NULL (unknown; says why). */
static char *pr_state(struct gc_state *g, long pr)
{
	struct prenv_err e = PRENV_ERR_INIT;
	char *state = NULL;

	if (!g->host_tried) {
		struct codehost_opts co;
		struct prenv_buf why = PRENV_BUF_INIT;

		g->host_tried = 1;
		memset(&co, 0, sizeof(co));
		co.ctx = g->o->ctx;
		co.envp = g->o->run->envp;
		if (codehost_new(&g->host, &co, &why, NULL, &e) < 0) {
			prenv_buf_adds(&why, e.msg ? e.msg : "error");
			prenv_err_clear(&e);
		}
		if (!g->host)
			log_warn("gc cannot ask the code host whether pull requests are closed (%s); "
				 "only TTLs apply", why.ptr);
		prenv_buf_free(&why);
	}
	if (!g->host)
		return NULL;
	if (codehost_pr_state(g->host, pr, &state, &e) < 0)
		log_warn("state of #%ld unknown: %s", pr, e.msg);
	prenv_err_clear(&e);
	return state;
}

/* A plan for a listed environment (the fields destroy and the report use). */
static struct prenv_plan *env_plan(const struct gc_env *e, const struct config_rule *rule,
				   long pr)
{
	struct prenv_plan *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->env_name = strdup(e->name);
	p->namespace_ = e->ns ? strdup(e->ns) : NULL;
	p->kind = rule && rule->kind_set ? rule->kind : pr > 0 ? ENV_KIND_PREVIEW : ENV_KIND_DEVELOPMENT;
	p->rule = rule;
	p->ttl_seconds = rule ? rule->ttl_seconds : 0;
	if (!p->env_name || (e->ns && !p->namespace_)) {
		plan_free(p);
		return NULL;
	}
	return p;
}

/* The URL a woken environment reports (its plan's), or NULL. */
static char *env_url(const struct gc_opts *o, const struct prenv_context *ectx, const char *name)
{
	struct prenv_err e = PRENV_ERR_INIT;
	struct prenv_plan *p = NULL;
	char *url = NULL;

	if (plan_named(&p, o->cfg, ectx, name, &e) == 0 && p->url)
		url = strdup(p->url);
	plan_free(p);
	prenv_err_clear(&e);
	return url;
}

/* The provider's operation for d's action. */
static int act_op(struct gc_state *g, struct provider_run *run, const struct gc_decision *d,
		  struct provider_result *res, struct prenv_err *err)
{
	const struct gc_opts *o = g->o;
	const struct prenv_provider *prov = o->session->provider;
	int (*op)(struct provider_session *, const struct provider_run *, struct provider_result *,
		  struct prenv_err *) = d->action == GC_DESTROY ? prov->destroy
		: d->action == GC_SLEEP ? prov->sleep : prov->wake;

	if (!op)
		return prenv_err_set(err, PRENV_ECONFIG, "%s is not supported by provider %s",
				     d->action == GC_SLEEP ? "sleep" : "wake", prov->name);
	return op(o->session, run, res, err);
}

/* Destroys, puts to sleep or wakes one environment through the provider
 * session and, when the code host can be told, updates its PR comment
 * (destroyed; sleeping until ...; ready again). */
static int act_one(struct gc_state *g, const struct gc_env *e, const struct gc_decision *d,
		   struct prenv_err *err)
{
	const struct gc_opts *o = g->o;
	struct prenv_context ectx = *o->ctx;
	struct provider_run run = *o->run;
	struct provider_result res;
	struct provider_note_ref ref;
	struct reporter rep;
	long pr = gc_env_pr(e);
	int rc, report = g->host && pr > 0 && !run.dry_run;
	struct prenv_plan *plan = env_plan(e, d->rule, pr);
	char *torn = NULL;

	if (!plan)
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	/* the environment's own context: its PR and commit, this run's repo */
	ectx.has_pr = pr > 0;
	ectx.pr_number = pr > 0 ? pr : 0;
	ectx.sha = (char *)e->sha;
	ectx.branch = NULL;
	ectx.pr_title = ectx.pr_author = ectx.pr_url = ectx.pr_state = NULL;
	run.ctx = &ectx;
	run.plan = plan;
	run.target = e->target;
	run.now = (long long)o->now;
	ref.s = o->session;
	ref.run = &run;
	memset(&rep, 0, sizeof(rep));
	rep.cfg = o->cfg;
	rep.ctx = &ectx;
	rep.plan = plan;
	rep.envp = run.envp;
	rep.strict = o->strict;
	if (provider_notes_supported(o->session)) {
		rep.notes.get = provider_note_get;
		rep.notes.set = provider_note_set;
		rep.notes.ud = &ref;
	}
	memset(&res, 0, sizeof(res));
	if (report && d->action == GC_DESTROY)
		(void)reporter_comment_id(&rep); /* read it while the environment exists */
	rc = d->action == GC_DESTROY && o->teardown ? o->teardown(o->teardown_ud, &run, err) : 0;
	if (rc < 0 && !o->keep_on_teardown_failure) {
		log_error("%s; destroying %s anyway", err->msg, e->name);
		torn = err->msg;
		err->msg = NULL;
		prenv_err_clear(err);
		rc = 0;
	}
	if (rc == 0)
		rc = act_op(g, &run, d, &res, err);
	if (rc == 0 && torn)
		rc = prenv_err_set(err, PRENV_EFAIL, "%s (the environment was destroyed)", torn);
	if (rc == 0 && report) {
		struct prenv_err herr = PRENV_ERR_INIT;
		struct prenv_buf r = PRENV_BUF_INIT;
		char *url = NULL;

		if (d->action == GC_DESTROY) {
			prenv_buf_printf(&r, "removed by prenv gc: %s", d->why.ptr);
			reporter_to_host(&rep, "destroyed", NULL, r.ptr, &herr);
		} else if (d->action == GC_SLEEP) {
			reporter_to_host(&rep, "sleeping", NULL, d->until.ptr, &herr);
		} else {
			url = env_url(o, &ectx, e->name);
			reporter_to_host(&rep, "ready", url, NULL, &herr);
		}
		free(url);
		prenv_buf_free(&r);
		prenv_err_clear(&herr);
	}
	reporter_clear(&rep);
	provider_result_clear(&res);
	plan_free(plan);
	free(torn);
	return rc;
}

static void add_num_or_null(cJSON *o, const char *k, int present, double v)
{
	if (present)
		cJSON_AddNumberToObject(o, k, v);
	else
		cJSON_AddNullToObject(o, k);
}

static void add_time_or_null(cJSON *o, const char *k, long long t)
{
	char when[32];

	if (t > 0) {
		fs_rfc3339(when, sizeof(when), t);
		cJSON_AddStringToObject(o, k, when);
	} else {
		cJSON_AddNullToObject(o, k);
	}
}

/* The result entry of one environment. */
static cJSON *entry(const struct gc_env *e, const char *state, const struct gc_decision *d,
		    const char *action, const char *error, long long now)
{
	cJSON *o = cJSON_CreateObject();
	long pr = gc_env_pr(e);

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "name", e->name);
	if (e->ns)
		cJSON_AddStringToObject(o, "namespace", e->ns);
	if (e->context)
		cJSON_AddStringToObject(o, "context", e->context);
	add_num_or_null(o, "pr", pr > 0, (double)pr);
	if (state)
		cJSON_AddStringToObject(o, "pr_state", state);
	else
		cJSON_AddNullToObject(o, "pr_state");
	if (e->deployed_at >= 0) {
		char when[32];

		fs_rfc3339(when, sizeof(when), e->deployed_at);
		cJSON_AddStringToObject(o, "deployed_at", when);
	} else {
		cJSON_AddNullToObject(o, "deployed_at");
	}
	add_num_or_null(o, "ttl_seconds", d->ttl > 0, (double)d->ttl);
	cJSON_AddBoolToObject(o, "protected", d->protected_);
	cJSON_AddStringToObject(o, "state", d->action == GC_DESTROY ? "destroyed" : d->asleep ? "asleep"
				: "awake");
	add_time_or_null(o, "next_wake", d->asleep ? d->next_wake : -1);
	add_num_or_null(o, "cpu_millis", e->has_cost, e->cpu_millis);
	add_num_or_null(o, "memory_bytes", e->has_cost, e->memory_bytes);
	cJSON_AddNumberToObject(o, "awake_seconds", e->asleep_since <= 0 && e->awake_since > 0 &&
				now > e->awake_since ? (double)(now - e->awake_since) : 0);
	cJSON_AddStringToObject(o, "action", action);
	cJSON_AddStringToObject(o, "reason", d->why.ptr);
	if (error)
		cJSON_AddStringToObject(o, "error", error);
	return o;
}

/* Per action: done, dry run, doing (log). */
static const char *const actions[][3] = {
	{ "kept", "kept", "keeping" },
	{ "destroyed", "would-destroy", "destroying" },
	{ "slept", "would-sleep", "putting to sleep" },
	{ "woken", "would-wake", "waking" },
};

static const char *const failed_what[] = { "kept", "destroyed", "put to sleep", "woken" };

/* Decides and handles one listed environment. */
static cJSON *handle(struct gc_state *g, const struct gc_env *e)
{
	const struct gc_opts *o = g->o;
	struct gc_decision d;
	struct prenv_err derr = PRENV_ERR_INIT;
	const char *action;
	char *state = NULL;
	cJSON *out;
	int rc;

	memset(&d, 0, sizeof(d));
	prenv_buf_init(&d.why, 0);
	prenv_buf_init(&d.until, 0);
	if (gc_wants_pr_state(o->cfg, e))
		state = pr_state(g, gc_env_pr(e));
	if (gc_decide(o->cfg, e, state, o->now, &d) < 0) {
		action = "failed";
		g->failed++;
		prenv_err_set(&derr, PRENV_ENOMEM, "out of memory");
	} else if (d.action == GC_KEEP) {
		action = "kept";
		g->kept++;
	} else if (o->run->dry_run) {
		action = actions[d.action][1];
		g->acted[d.action]++;
	} else {
		log_group_begin("prenv gc");
		log_info("%s environment %s of %s (%s)", actions[d.action][2], e->name, o->cfg->app, d.why.ptr);
		rc = act_one(g, e, &d, &derr);
		log_group_end();
		if (rc < 0) {
			action = "failed";
			g->failed++;
			if (!g->failed_what || strcmp(g->failed_what, failed_what[d.action]))
				g->failed_what = g->failed_what ? "handled" : failed_what[d.action];
			log_err(&derr);
		} else {
			action = actions[d.action][0];
			g->acted[d.action]++;
		}
	}
	out = entry(e, state, &d, action, derr.msg, (long long)o->now);
	free(state);
	prenv_err_clear(&derr);
	gc_decision_clear(&d);
	return out;
}

/* An environment the provider marked "foreign" (another repository's, see
 * provider.h): never destroyed, reported as skipped. */
static cJSON *skipped(struct gc_state *g, const struct gc_env *e, const cJSON *it)
{
	const char *repo = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "repo"));
	struct gc_decision d;
	cJSON *out;

	memset(&d, 0, sizeof(d));
	prenv_buf_init(&d.why, 0);
	prenv_buf_init(&d.until, 0);
	prenv_buf_printf(&d.why, "belongs to repository %s, not this one: left alone", repo ? repo : "?");
	log_info("gc: environment %s %s", e->name, d.why.ptr);
	g->kept++;
	out = entry(e, NULL, &d, "skipped", NULL, (long long)g->o->now);
	gc_decision_clear(&d);
	return out;
}

static long long json_time(const cJSON *it, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(it, key);

	return cJSON_IsNumber(v) && v->valuedouble > 0 ? (long long)v->valuedouble : 0;
}

/* The listed entry as a gc_env (borrowed strings); 0 when it is unusable. */
static int env_of(const cJSON *it, struct gc_env *e)
{
	const cJSON *jpr = cJSON_GetObjectItemCaseSensitive(it, "pr");
	const cJSON *jat = cJSON_GetObjectItemCaseSensitive(it, "deployed_at");

	e->name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "name"));
	e->ns = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "namespace"));
	e->sha = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "sha"));
	e->pr = cJSON_IsNumber(jpr) ? (long)jpr->valuedouble : 0;
	e->deployed_at = cJSON_IsNumber(jat) ? (long long)jat->valuedouble : -1;
	e->asleep_since = json_time(it, "asleep_since");
	e->woken_at = json_time(it, "woken_at");
	e->touched_at = json_time(it, "touched_at");
	e->awake_since = json_time(it, "awake_since");
	e->has_cost = cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(it, "cpu_millis")) &&
		cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(it, "memory_bytes"));
	e->cpu_millis = e->has_cost ? cJSON_GetObjectItemCaseSensitive(it, "cpu_millis")->valuedouble : 0;
	e->memory_bytes = e->has_cost ? cJSON_GetObjectItemCaseSensitive(it, "memory_bytes")->valuedouble : 0;
	e->context = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "context"));
	e->target = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "target"));
	return e->name && name_is_dns_label(e->name);
}

/* A context the provider could not list (provider.h): its result entry. */
static cJSON *context_failed(struct gc_state *g, const cJSON *it)
{
	const char *ctx = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "context"));
	const char *why = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "error"));
	cJSON *o = cJSON_CreateObject();

	g->ctx_failed++;
	log_error("gc: context %s could not be listed: %s", ctx ? ctx : "(current-context)", why ? why : "failed");
	if (!o)
		return NULL;
	cJSON_AddNullToObject(o, "name");
	if (ctx)
		cJSON_AddStringToObject(o, "context", ctx);
	else
		cJSON_AddNullToObject(o, "context");
	cJSON_AddStringToObject(o, "action", "failed");
	cJSON_AddStringToObject(o, "error", why ? why : "failed");
	return o;
}

static int is_context_error(const cJSON *it)
{
	return !cJSON_GetObjectItemCaseSensitive(it, "name") && cJSON_GetObjectItemCaseSensitive(it, "error");
}

static int count_named(const cJSON *envs)
{
	const cJSON *it;
	int n = 0;

	cJSON_ArrayForEach(it, envs)
		n += !is_context_error(it);
	return n;
}

void gc_widths(const cJSON *envs, int *width, int *ctx_width)
{
	const cJSON *it;
	const char *first = NULL;
	int multi = 0, cw = 0;

	*width = 4;
	cJSON_ArrayForEach(it, envs) {
		struct gc_env e;
		const char *c = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "context"));

		memset(&e, 0, sizeof(e));
		if (!is_context_error(it) && env_of(it, &e) && (int)strlen(e.name) > *width)
			*width = (int)strlen(e.name);
		if (is_context_error(it))
			multi = 1;
		if (c && first && strcmp(c, first))
			multi = 1;
		if (c && !first)
			first = c;
		if (c && (int)strlen(c) > cw)
			cw = (int)strlen(c);
	}
	*ctx_width = multi ? cw : 0;
}

int gc_run(const struct gc_opts *o, cJSON **out, struct prenv_err *err)
{
	const struct prenv_provider *prov = o->session->provider;
	struct gc_state g;
	cJSON *envs = NULL, *results;
	const cJSON *it;
	int rc, width, ctx_width;

	*out = NULL;
	if (!prov->list)
		return 0;
	if ((rc = prov->list(o->session, o->run, &envs, err)) < 0 || !envs)
		return rc;
	if (!(results = cJSON_CreateArray())) {
		cJSON_Delete(envs);
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	}
	memset(&g, 0, sizeof(g));
	g.o = o;
	log_info("gc: %d environment(s) of %s%s", count_named(envs), o->cfg->app,
		 o->run->dry_run ? " (dry run)" : "");
	gc_widths(envs, &width, &ctx_width);
	cJSON_ArrayForEach(it, envs) {
		struct gc_env e;
		cJSON *r;

		if (is_context_error(it)) {
			r = context_failed(&g, it);
		} else if (!env_of(it, &e)) {
			continue;
		} else {
			g.total++;
			r = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "foreign")) ? skipped(&g, &e, it)
				: handle(&g, &e);
		}
		if (r != NULL) {
			cJSON_AddItemToArray(results, r);
			if (o->on_env)
				o->on_env(o->ud, r, width, ctx_width);
		}
	}
	if (g.total == 0)
		log_info("gc: no environments of %s found", o->cfg->app);
	else
		log_info("gc: %d %s, %d %s, %d %s, %d kept, %d failed", g.acted[GC_DESTROY],
			 o->run->dry_run ? "would be destroyed" : "destroyed", g.acted[GC_SLEEP],
			 o->run->dry_run ? "would sleep" : "put to sleep", g.acted[GC_WAKE],
			 o->run->dry_run ? "would wake" : "woken", g.kept, g.failed);
	rc = 0;
	if (g.failed)
		rc = prenv_err_set(err, PRENV_EFAIL, "gc: %d of %d environment(s) could not be %s "
				   "(see the errors above); the others were handled", g.failed, g.total,
				   g.failed_what ? g.failed_what : "destroyed");
	else if (g.ctx_failed)
		rc = prenv_err_set(err, PRENV_EFAIL, "gc: %d context(s) could not be listed (see the errors "
				   "above); the environments of the others were handled", g.ctx_failed);
	codehost_free(g.host);
	cJSON_Delete(envs);
	*out = results;
	return rc;
}
