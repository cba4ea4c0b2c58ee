/* phases.c - `phases:` and `on_destroy:` (issue 12): a deploy in ordered
 * phases, each applied and waited on (workloads ready, Jobs Complete) by
 * its own provider deploy call before the next starts; outputs of a phase
 * reach later phases' templates; `run: once` phases are remembered with the
 * environment (a provider note "phase-<name>": the hash of what ran); the
 * teardown Jobs that destroy and gc run first. See cli.h. */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config/config.h"
#include "config/plan.h"
#include "context/ci.h"
#include "render/tmpl.h"
#include "render/render.h"
#include "report/report.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/names.h"

#define TEARDOWN_PHASE "teardown"

struct phase_state {
	const struct config_phase *cp;
	cJSON *objs;              /* the checked render (outputs not known yet) */
	char hash[16];            /* of objs: what a `run: once` note remembers */
	char *open;               /* "outputs.<name>" of this phase, or NULL */
	char *svcs;               /* "api, web": the services it deploys, or NULL */
	struct report_phase rp;
};

struct phases {
	struct cli *cli;
	struct phase_state *ph;
	size_t n;
	const char **names;       /* every phase's name, NULL-terminated */
	const char **open;        /* the open names of a check render */
	size_t first, last;       /* the first and the last phase this run applies */
	cJSON *vars;              /* the plan's variables + outputs.<phase> */
	struct prenv_buf line;    /* the phases line of the report */
};

static int phases_setup(struct phases *p, struct cli *cli, struct prenv_err *err);

static void phases_free(struct phases *p)
{
	size_t i;

	for (i = 0; p->ph && i < p->n; i++) {
		cJSON_Delete(p->ph[i].objs);
		free(p->ph[i].open);
		free(p->ph[i].svcs);
	}
	free(p->ph);
	free(p->names);
	free(p->open);
	cJSON_Delete(p->vars);
	prenv_buf_free(&p->line);
}

static const char *jget(const cJSON *o, const char *a, const char *b)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);

	return cJSON_GetStringValue(b ? cJSON_GetObjectItemCaseSensitive(v, b) : v);
}

/* An object of phase i that an earlier phase has too: the same object in
 * two phases would change phase on every deploy. */
static int phases_dup(const struct phases *p, size_t i, struct prenv_err *err)
{
	const cJSON *o, *a;
	size_t j;

	cJSON_ArrayForEach(o, p->ph[i].objs) {
		const char *k = jget(o, "kind", NULL), *n = jget(o, "metadata", "name");

		for (j = 0; j < i; j++) {
			cJSON_ArrayForEach(a, p->ph[j].objs) {
				const char *src = render_object_source(o), *asrc = render_object_source(a);

				if (!k || !n || !jget(a, "kind", NULL) || strcmp(k, jget(a, "kind", NULL)) ||
				    !jget(a, "metadata", "name") || strcmp(n, jget(a, "metadata", "name")))
					continue;
				return prenv_err_set(err, PRENV_ECONFIG, "%s: %s/%s of phase %s is in phase %s "
						     "too (%s); an object belongs to one phase: remove one of them",
						     src ? src : p->ph[i].cp->templates, k, n, p->ph[i].cp->name,
						     p->ph[j].cp->name, asrc ? asrc : p->ph[j].cp->templates);
			}
		}
	}
	return 0;
}

/* The render of phase i with vars: its directory, or (services:) each of
 * its services with its own service.* and labels. */
static int phase_render(struct phases *p, size_t i, const char *const *open, cJSON **out,
			struct prenv_err *err)
{
	const struct config_phase *cp = p->ph[i].cp;
	struct cli *cli = p->cli;
	size_t k;
	int rc = 0;

	if (!cp->nservices)
		return cli_render_dir(cli, cp->templates, cp->templates_line, cp->templates_col, p->vars,
				      open, out, err);
	if (!(*out = cJSON_CreateArray()))
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	for (k = 0; k < cp->nservices && rc == 0; k++)
		rc = cli_render_service(cli, config_service_find(cli->cfg, cp->services[k]), p->vars, open,
					*out, err);
	if (rc < 0) {
		cJSON_Delete(*out);
		*out = NULL;
	}
	return rc;
}

static int is_dir(const struct prenv_config *cfg, const char *rel)
{
	struct prenv_buf path = PRENV_BUF_INIT;
	struct stat st;
	int yes;

	if (rel[0] == '/' || !cfg->dir || !*cfg->dir)
		prenv_buf_adds(&path, rel);
	else
		prenv_buf_printf(&path, "%s/%s", cfg->dir, rel);
	yes = path.ptr && stat(path.ptr, &st) == 0 && S_ISDIR(st.st_mode);
	prenv_buf_free(&path);
	return yes;
}

/* With services:, `templates: NAME` of phase i is a service or a
 * directory, never both, and never neither (exit 2 at its position). */
static int phase_source(const struct phases *p, size_t i, struct prenv_err *err)
{
	const struct prenv_config *cfg = p->cli->cfg;
	const struct config_phase *cp = p->ph[i].cp;
	struct prenv_buf why = PRENV_BUF_INIT;
	const char **names;
	const char *t = cp->templates, *near;
	size_t k;
	int rc;

	if (!cfg->nservices || !t || (cp->nservices ? !is_dir(cfg, t) : is_dir(cfg, t)))
		return 0;
	if (!(names = calloc(cfg->nservices, sizeof(*names))))
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	for (k = 0; k < cfg->nservices; k++)
		names[k] = cfg->services[k].name;
	if (cp->nservices) {
		prenv_buf_printf(&why, "phase '%s': templates '%s' names both service '%s' and the directory "
				 "%s/ next to the configuration; write `templates: [%s]` for the service or "
				 "`templates: ./%s` for the directory", cp->name, t, t, t, t, t);
	} else {
		near = name_closest(t, names, cfg->nservices);
		prenv_buf_printf(&why, "phase '%s': templates '%s' is neither a service of 'services' nor a "
				 "directory%s%s%s; services: ", cp->name, t, near ? "; did you mean service '" : "",
				 near ? near : "", near ? "'?" : "");
		for (k = 0; k < cfg->nservices; k++)
			prenv_buf_printf(&why, "%s%s", k ? ", " : "", names[k]);
	}
	rc = why.failed ? prenv_err_set(err, PRENV_ENOMEM, "out of memory")
		: prenv_err_set_at(err, PRENV_ECONFIG, cfg->path, cp->templates_line, cp->templates_col, "%s",
				   why.ptr);
	prenv_buf_free(&why);
	free(names);
	return rc;
}

/* The check render of every phase, before anything is written: a template
 * error in the last phase stops the deploy before the first is applied
 * (exit 2). A phase may use outputs.<earlier phase>.<key> of the earlier
 * phases that have `outputs:` (rendered here as a placeholder). */
static int phase_check(struct phases *p, size_t i, const struct prenv_provider *prov,
		       size_t *nopen, struct prenv_err *err)
{
	struct cli *cli = p->cli;
	struct phase_state *s = &p->ph[i];
	const struct config_phase *cp = s->cp;
	char *text;
	int rc;

	p->names[i] = cp->name;
	s->rp.name = cp->name;
	s->rp.once = cp->run_once;
	s->rp.services = s->svcs;
	if ((rc = phase_source(p, i, err)) < 0 || (rc = phase_render(p, i, p->open, &s->objs, err)) < 0)
		return rc;
	if (prov && prov->check && (rc = prov->check(&cli->run, s->objs, err)) < 0)
		return rc;
	if ((rc = phases_dup(p, i, err)) < 0)
		return rc;
	text = cJSON_PrintUnformatted(s->objs);
	if (!text)
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	name_hash8(text, s->hash);
	free(text);
	if (cp->outputs) {
		struct prenv_buf o = PRENV_BUF_INIT;

		prenv_buf_printf(&o, "outputs.%s", cp->name);
		s->open = prenv_buf_detach(&o, NULL);
		if (!s->open)
			return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
		p->open[(*nopen)++] = s->open;
	}
	return 0;
}

static int phases_check(struct phases *p, const struct prenv_provider *prov, struct prenv_err *err)
{
	size_t i, nopen = 0;
	int rc = 0;

	for (i = 0; i < p->n && rc == 0; i++)
		rc = phase_check(p, i, prov, &nopen, err);
	return rc;
}

/* Moves the objects of objs to the end of all. */
static void phases_append(cJSON *all, cJSON *objs)
{
	cJSON *o;

	while (objs && (o = objs->child) != NULL)
		cJSON_AddItemToArray(all, cJSON_DetachItemViaPointer(objs, o));
}

int cli_render_phases(struct cli *cli, cJSON **out, struct prenv_err *err)
{
	struct phases p;
	cJSON *all = cJSON_CreateArray();
	size_t i;
	int rc;

	*out = NULL;
	if (!all)
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	if ((rc = phases_setup(&p, cli, err)) == 0 && (rc = phases_check(&p, NULL, err)) == 0) {
		for (i = 0; i < p.n; i++)
			phases_append(all, p.ph[i].objs);
		*out = all;
		all = NULL;
	}
	cJSON_Delete(all);
	phases_free(&p);
	return rc;
}

/* Decides which `run: once` phases ran before: the note phase-<name> of the
 * environment holds the hash of what ran. --reseed runs them again. */
static int phases_once(struct phases *p, struct prenv_err *err)
{
	struct cli *cli = p->cli;
	size_t i;
	int rc = 0;

	for (i = 0; i < p->n && rc == 0; i++) {
		struct phase_state *s = &p->ph[i];
		struct prenv_buf key = PRENV_BUF_INIT;
		char *prev = NULL;

		if (!s->cp->run_once || !provider_notes_supported(cli->session))
			continue;
		prenv_buf_printf(&key, "phase-%s", s->cp->name);
		rc = cli->session->provider->get_note(cli->session, &cli->run, key.ptr, &prev, err);
		if (rc == 0 && prev && !cli->reseed) {
			s->rp.state = REPORT_PHASE_SKIPPED;
			if (strcmp(prev, s->hash))
				log_info("phase %s has changed since it ran, but it runs once (run: once): "
					 "`prenv deploy --reseed` runs it again", s->cp->name);
		} else if (rc == 0 && prev) {
			log_info("phase %s ran before; --reseed: it runs again", s->cp->name);
		}
		free(prev);
		prenv_buf_free(&key);
	}
	return rc;
}

/* Keeps the outputs a phase's deploy read (res->info.outputs) as
 * outputs.<phase>. */
static void keep_outputs(struct phases *p, const struct phase_state *s, const struct provider_result *res)
{
	cJSON *outs = cJSON_GetObjectItemCaseSensitive(p->vars, "outputs");
	const cJSON *got = cJSON_GetObjectItemCaseSensitive(res->info, "outputs");

	if (!s->cp->outputs || !cJSON_IsObject(got))
		return;
	cJSON_DeleteItemFromObjectCaseSensitive(outs, s->cp->name);
	cJSON_AddItemToObject(outs, s->cp->name, cJSON_Duplicate(got, 1));
}

/* Applies phase i (or, for a phase that ran before, reads its outputs
 * only) and waits for it. */
static int phase_run(struct phases *p, size_t i, struct provider_result *res, struct prenv_err *err)
{
	struct cli *cli = p->cli;
	struct phase_state *s = &p->ph[i];
	struct provider_phase ph;
	struct provider_run run = cli->run;
	cJSON *objs = NULL;
	double t0 = fs_now_ms();
	int rc, skipped = s->rp.state == REPORT_PHASE_SKIPPED;

	memset(&ph, 0, sizeof(ph));
	ph.name = s->cp->name;
	ph.all = p->names;
	ph.last = i == p->last;
	/* the config's secrets: are written once, with the first phase applied */
	if (i != p->first)
		run.secrets = NULL;
	ph.outputs = s->cp->outputs;
	ph.services = (const char *const *)s->cp->services;
	ph.outputs_only = skipped;
	run.phase = &ph;
	if (skipped && !s->cp->outputs) {
		log_info("phase %s: ran before (run: once); skipped", s->cp->name);
		return 0;
	}
	if (!skipped) {
		log_info("phase %s (%zu of %zu): applying%s%s", s->cp->name, i + 1, p->n,
			 s->svcs ? " services " : "", s->svcs ? s->svcs : "");
		s->rp.state = REPORT_PHASE_RUNNING;
		/* now with the outputs of the phases before (a dry run has none) */
		rc = phase_render(p, i, cli->dry_run ? p->open : NULL, &objs, err);
		if (rc < 0)
			return rc;
	}
	rc = cli->session->provider->deploy(cli->session, &run, objs ? objs : s->objs, res, err);
	cJSON_Delete(objs);
	if (rc == 0)
		keep_outputs(p, s, res);
	if (skipped)
		return rc;
	s->rp.seconds = (long)((fs_now_ms() - t0) / 1000.0 + 0.5);
	s->rp.state = rc < 0 ? REPORT_PHASE_FAILED : REPORT_PHASE_OK;
	if (rc == 0 && s->cp->run_once && !cli->dry_run) {
		struct prenv_buf key = PRENV_BUF_INIT;

		prenv_buf_printf(&key, "phase-%s", s->cp->name);
		rc = cli->session->provider->set_note(cli->session, &cli->run, key.ptr, s->hash, err);
		prenv_buf_free(&key);
	}
	if (rc == 0)
		log_info("phase %s: %s (%ld s)", s->cp->name, cli->dry_run ? "checked" : "ready", s->rp.seconds);
	return rc;
}

/* The reason of a failed phase: "phase seed: ...". */
static void phase_reason(struct provider_result *res, const struct phase_state *s, const struct prenv_err *err)
{
	struct prenv_buf why = PRENV_BUF_INIT;

	prenv_buf_printf(&why, "phase %s: %s", s->cp->name, res->reason ? res->reason :
			 err->msg ? err->msg : "failed");
	prenv_set_str(&res->reason, why.ptr);
	prenv_buf_free(&why);
}

/* The provider's read-only checks of every phase that will be applied,
 * with its check render, before the pull request hears of the deploy. */
static int phases_precheck(struct phases *p, struct prenv_err *err)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < p->n && rc == 0; i++) {
		struct provider_phase ph;
		struct provider_run run = p->cli->run;

		if (p->ph[i].rp.state == REPORT_PHASE_SKIPPED)
			continue;
		memset(&ph, 0, sizeof(ph));
		ph.name = p->ph[i].cp->name;
		ph.all = p->names;
		ph.services = (const char *const *)p->ph[i].cp->services;
		run.phase = &ph;
		if ((rc = cli_deploy_precheck(p->cli, &run, p->ph[i].objs, err)) < 0)
			prenv_err_prefix(err, "phase %s", ph.name);
	}
	return rc;
}

static int phases_apply(struct phases *p, struct provider_result *res, struct prenv_err *err)
{
	size_t i;
	int rc = 0;

	p->first = p->n;
	for (i = 0; i < p->n; i++) {
		if (p->ph[i].rp.state == REPORT_PHASE_SKIPPED)
			continue;
		if (p->first == p->n)
			p->first = i;
		p->last = i;
	}
	for (i = 0; i < p->n; i++) {
		struct provider_result one;

		memset(&one, 0, sizeof(one));
		rc = phase_run(p, i, &one, err);
		if (rc < 0) {
			/* exit 2 promises nothing changed: not so once a phase was applied */
			if (rc == PRENV_ECONFIG && i > 0 && !p->cli->dry_run)
				rc = err->code = PRENV_EFAIL;
			phase_reason(&one, &p->ph[i], err);
			prenv_err_prefix(err, "phase %s", p->ph[i].cp->name);
			provider_result_clear(res);
			*res = one;
			return rc;
		}
		if (i == p->last) { /* its status ("applied": not waited for) is the deploy's */
			provider_result_clear(res);
			*res = one;
		} else {
			provider_result_clear(&one);
		}
	}
	return 0;
}

static void phases_line(struct phases *p)
{
	struct report_phase *rp = calloc(p->n, sizeof(*rp));
	size_t i;

	prenv_buf_reset(&p->line);
	for (i = 0; rp && i < p->n; i++)
		rp[i] = p->ph[i].rp;
	if (rp)
		report_phases_line(&p->line, rp, p->n);
	free(rp);
	p->cli->rep.phases = p->line.ptr;
}

static int phases_setup(struct phases *p, struct cli *cli, struct prenv_err *err)
{
	size_t i;
	int rc;

	memset(p, 0, sizeof(*p));
	p->cli = cli;
	p->n = cli->cfg->nphases;
	p->line = (struct prenv_buf)PRENV_BUF_INIT;
	/* services: resolved first, so that every phase sees services.* */
	if (cli->cfg->nservices && (rc = cli_resolve_services(cli, err)) < 0)
		return rc;
	p->ph = calloc(p->n, sizeof(*p->ph));
	p->names = calloc(p->n + 1, sizeof(*p->names));
	p->open = calloc(p->n + 1, sizeof(*p->open));
	p->vars = cJSON_Duplicate(cli->plan->vars, 1);
	if (!p->ph || !p->names || !p->open || !p->vars ||
	    !cJSON_AddObjectToObject(p->vars, "outputs"))
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	for (i = 0; i < p->n; i++) {
		const struct config_phase *cp = &cli->cfg->phases[i];
		struct prenv_buf b = PRENV_BUF_INIT;
		size_t k;

		p->ph[i].cp = cp;
		for (k = 0; k < cp->nservices; k++)
			prenv_buf_printf(&b, "%s%s", k ? ", " : "", cp->services[k]);
		if (b.failed || (k && !(p->ph[i].svcs = prenv_buf_detach(&b, NULL))))
			return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	}
	return 0;
}

int cli_deploy_phases(struct cli *cli, const struct urlcheck *uc, struct prenv_err *err)
{
	struct phases p;
	struct provider_result res;
	cJSON *down = NULL;
	int rc;

	memset(&res, 0, sizeof(res));
	if ((rc = phases_setup(&p, cli, err)) < 0 || (rc = phases_check(&p, cli->session->provider, err)) < 0)
		goto done;
	/* the teardown templates are checked at every deploy too, not first
	 * when the environment goes */
	if (cli->cfg->teardown_templates &&
	    (rc = cli_render_dir(cli, cli->cfg->teardown_templates, cli->cfg->teardown_line,
				 cli->cfg->teardown_col, cli->plan->vars, NULL, &down, err)) < 0)
		goto done;
	if ((rc = phases_once(&p, err)) < 0)
		goto done;
	phases_line(&p);
	log_group_begin("prenv deploy");
	log_info("deploying %s environment %s of %s in %zu phases%s", env_kind_name(cli->plan->kind),
		 cli->plan->env_name, cli->cfg->app, p.n, cli->dry_run ? " (dry run)" : "");
	if ((rc = phases_precheck(&p, err)) < 0) {
		log_group_end();
		goto done;
	}
	if (!cli->dry_run)
		reporter_progress(&cli->rep);
	rc = phases_apply(&p, &res, err);
	phases_line(&p);
	log_info("phases: %s", p.line.ptr);
	log_group_end();
	rc = cli_deploy_report(cli, rc, uc, &res, err);
done:
	cJSON_Delete(down);
	provider_result_clear(&res);
	cli->rep.phases = NULL;
	phases_free(&p);
	return rc;
}

/* ------------------------------------------------------------ teardown */

int cli_teardown(struct cli *cli, const struct provider_run *base, const cJSON *vars,
		 struct prenv_err *err)
{
	struct provider_phase ph;
	struct provider_run run = *base;
	struct provider_result res;
	cJSON *objs = NULL;
	int rc;

	if (!cli->cfg->teardown_templates)
		return 0;
	if ((rc = cli_render_dir(cli, cli->cfg->teardown_templates, cli->cfg->teardown_line,
				 cli->cfg->teardown_col, vars, NULL, &objs, err)) < 0)
		return rc;
	memset(&ph, 0, sizeof(ph));
	memset(&res, 0, sizeof(res));
	ph.name = TEARDOWN_PHASE;
	ph.teardown = 1;
	run.phase = &ph;
	run.secrets = NULL;
	run.no_wait = 0;
	run.wait_seconds = (int)cli->cfg->teardown_timeout;
	log_info("teardown: running the on_destroy Jobs of %s (at most %ld s)", run.plan->env_name,
		 cli->cfg->teardown_timeout);
	rc = cli->session->provider->deploy(cli->session, &run, objs, &res, err);
	if (rc < 0) {
		if (res.detail)
			log_error("teardown output:\n%s", res.detail);
		prenv_err_set(err, PRENV_EFAIL, "teardown of %s failed: %s", run.plan->env_name,
			      res.reason ? res.reason : err->msg ? err->msg : "unknown error");
		rc = PRENV_EFAIL;
	} else if (res.status && !strcmp(res.status, "ready")) {
		log_info("teardown: done");
	}
	provider_result_clear(&res);
	cJSON_Delete(objs);
	return rc;
}

int cli_gc_teardown(void *ud, const struct provider_run *run, struct prenv_err *err)
{
	struct cli *cli = ud;
	struct prenv_plan *plan = NULL;
	int rc;

	if (!cli->cfg->teardown_templates)
		return 0;
	if ((rc = plan_named(&plan, cli->cfg, run->ctx, run->plan->env_name, err)) < 0) {
		prenv_err_prefix(err, "teardown of %s: its variables", run->plan->env_name);
		return PRENV_EFAIL;
	}
	/* gc has no plan of its own: render with this environment's */
	cli->plan = plan;
	rc = cli_teardown(cli, run, plan->vars, err);
	cli->plan = NULL;
	if (rc == PRENV_ECONFIG)
		rc = PRENV_EFAIL;
	plan_free(plan);
	return rc;
}
