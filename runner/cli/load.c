/* load.c - what the commands share: context, configuration, plan, the
 * provider session and the reporter, rendering; see cli.h */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "config/plan.h"
#include "context/ci.h"
#include "registry.h"
#include "render/render.h"
#include "report/codehost.h"
#include "report/report.h"
#include "resolve/services.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"
#include "util/names.h"

#ifndef PRENV_VERSION
#define PRENV_VERSION "0.0.0"
#endif

static int file_exists(const char *p)
{
	return access(p, F_OK) == 0;
}

/* Finds the configuration: -c, PRENV_CONFIG, .prenv.yml, .prenv.yaml.
 * Returns NULL when there is none (an explicit path is returned as is). */
static const char *config_path(const struct cli *cli)
{
	const char *p = cli->config_path;

	if (!p)
		p = ci_getenv(cli->envp, "PRENV_CONFIG");
	if (p)
		return p;
	if (file_exists(".prenv.yml"))
		return ".prenv.yml";
	if (file_exists(".prenv.yaml"))
		return ".prenv.yaml";
	return NULL;
}

/* A workflow_run that follows a fork's pull_request build carries no
 * pull_requests in its event: ask the code host which open PR has this
 * fork's branch at this exact commit. Failing that, the run stays PR-less
 * (and deploy refuses it: see cli_load). */
static void resolve_fork_pr(struct cli *cli)
{
	struct codehost_opts o;
	struct prenv_buf why = PRENV_BUF_INIT;
	struct prenv_err rerr = PRENV_ERR_INIT;
	int auth = 0;

	memset(&o, 0, sizeof(o));
	o.ctx = cli->ctx;
	o.envp = cli->envp;
	if (codehost_new(&cli->codehost, &o, &why, &auth, &rerr) < 0 || !cli->codehost)
		log_warn("cannot look up the pull request of this workflow_run from a fork: %s",
			 why.len ? why.ptr : rerr.msg ? rerr.msg : "no code host session");
	else if (codehost_resolve_pr(cli->codehost, cli->ctx, &rerr) < 0)
		log_warn("cannot find the pull request of this workflow_run from a fork: %s", rerr.msg);
	else
		log_info("workflow_run from %s: pull request #%ld", cli->ctx->head_repo_full_name,
			 cli->ctx->pr_number);
	prenv_err_clear(&rerr);
	prenv_buf_free(&why);
}

int cli_load_config(struct cli *cli, int need_config, struct prenv_err *err)
{
	const char *path;
	int rc;

	rc = ci_detect(&cli->ctx, cli->envp, NULL, err);
	if (rc < 0)
		return rc;
	if (cli->ctx->warning)
		log_warn("%s", cli->ctx->warning);
	if (cli->ctx->pr_fork && !cli->ctx->has_pr && cli->ctx->event &&
	    !strcmp(cli->ctx->event, "workflow_run"))
		resolve_fork_pr(cli);
	path = config_path(cli);
	if (!path) {
		if (need_config > 0)
			return prenv_err_set(err, PRENV_ECONFIG,
					     "no configuration found: create .prenv.yml (see README) or pass -c FILE");
		return 0;
	}
	if (!file_exists(path))
		return prenv_err_set(err, PRENV_ECONFIG,
				     "configuration file %s does not exist; pass an existing file with -c", path);
	return config_load(&cli->cfg, path, provider_schemas(), err);
}

/* A local run (a laptop, no CI) that no rule matches. */
static int local_without_rule(const struct cli *cli)
{
	struct prenv_err e = PRENV_ERR_INIT;
	int none = cli->ctx->ci && !strcmp(cli->ctx->ci, "local") &&
		   !plan_find_rule(cli->cfg, cli->ctx, &e);

	prenv_err_clear(&e);
	return none;
}

/* render and status on a laptop whose branch no rule matches: the
 * environment the branch would get from a catch-all rule, said so. */
static int laptop_plan(struct cli *cli, struct prenv_err *err)
{
	const char *b = cli->ctx->branch ? cli->ctx->branch : cli->ctx->tag;
	size_t max = NAME_LABEL_MAX - 1 - strlen(cli->cfg->app);
	char *name;
	int rc;

	if (!b)
		return plan_make(&cli->plan, cli->cfg, cli->ctx, err);
	if (!(name = name_slug(b, max)))
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	log_info("no rule in %s matches this local run: showing environment %s, the one a "
		 "catch-all rule (`- branch: \"**\"`) would give this branch", cli->cfg->path, name);
	rc = plan_named(&cli->plan, cli->cfg, cli->ctx, name, err);
	free(name);
	return rc;
}

int cli_load(struct cli *cli, int need_config, struct prenv_err *err)
{
	int rc = cli_load_config(cli, need_config, err);

	if (rc < 0 || !cli->cfg)
		return rc;
	if (need_config > 0 && cli->ctx->pr_fork && !cli->ctx->has_pr)
		return prenv_err_set(err, PRENV_EFAIL,
				     "this run comes from a fork (%s) but its pull request is unknown; "
				     "prenv acts on a fork's code only for a known pull request "
				     "(give the token read access to pull requests, or set PRENV_PR)",
				     cli->ctx->head_repo_full_name ? cli->ctx->head_repo_full_name : "another repository");
	if (cli->env_name)
		rc = plan_named(&cli->plan, cli->cfg, cli->ctx, cli->env_name, err);
	else if (cli->laptop_fallback && local_without_rule(cli))
		rc = laptop_plan(cli, err);
	else
		rc = plan_make(&cli->plan, cli->cfg, cli->ctx, err);
	if (rc == 0 && resolve_repos(cli->plan, cli->cfg, cli->ctx) < 0)
		rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	return rc;
}

int cli_provider_begin(struct cli *cli, struct prenv_err *err)
{
	const struct prenv_provider *p = provider_find(cli->cfg->provider_kind);
	struct provider_run *run = &cli->run;
	struct reporter *rep = &cli->rep;
	int rc;

	if (!p)
		return prenv_err_set(err, PRENV_ECONFIG,
				     "provider '%s' (provider.kind in %s) is not available in this build of prenv %s; "
				     "available: %s", cli->cfg->provider_kind, cli->cfg->path, PRENV_VERSION,
				     provider_names());
	if ((cli->cfg->nphases || cli->cfg->teardown_templates) && !p->phases)
		return prenv_err_set_at(err, PRENV_ECONFIG, cli->cfg->path,
					cli->cfg->nphases ? cli->cfg->phases_line : cli->cfg->teardown_line,
					cli->cfg->nphases ? cli->cfg->phases_col : cli->cfg->teardown_col,
					"'%s' needs provider.kind kubernetes: provider %s has no Jobs to wait "
					"for between phases; remove it (a command provider can run its own "
					"steps in order)", cli->cfg->nphases ? "phases" : "on_destroy", p->name);
	memset(run, 0, sizeof(*run));
	run->cfg = cli->cfg;
	run->ctx = cli->ctx;
	run->plan = cli->plan;
	run->envp = cli->envp;
	run->dry_run = cli->dry_run;
	run->wait_seconds = cli->wait_seconds;
	run->no_wait = cli->no_wait;
	run->kubeconfig = cli->kubeconfig;
	run->now = cli->now;
	if ((rc = provider_open(p, run, &cli->session, err)) < 0)
		return rc;
	cli->notes.s = cli->session;
	cli->notes.run = run;
	memset(rep, 0, sizeof(*rep));
	rep->cfg = cli->cfg;
	rep->ctx = cli->ctx;
	rep->plan = cli->plan;
	rep->envp = cli->envp;
	rep->dry_run = cli->dry_run;
	rep->strict = cli->strict_report;
	rep->json = cli_want_json(cli);
	rep->host = cli->codehost;
	cli->codehost = NULL;
	if (provider_notes_supported(cli->session)) {
		rep->notes.get = provider_note_get;
		rep->notes.set = provider_note_set;
		rep->notes.ud = &cli->notes;
	}
	return 0;
}

static void tmpl_warn_to_log(void *ud, const char *file, int line, int col, const char *msg)
{
	struct prenv_buf b = PRENV_BUF_INIT;

	(void)ud;
	if (line > 0)
		prenv_buf_printf(&b, "%s:%d:%d: %s", file ? file : "<template>", line, col, msg);
	else
		prenv_buf_printf(&b, "%s: %s", file ? file : "<template>", msg);
	log_warn("%s", b.ptr);
	prenv_buf_free(&b);
}

int cli_render_dir(struct cli *cli, const char *templates, int line, int col, const cJSON *vars,
		   const char *const *open_names, cJSON **out, struct prenv_err *err)
{
	struct prenv_buf dir = PRENV_BUF_INIT;
	struct render_opts ro;
	int rc;

	*out = NULL;
	if (templates[0] == '/' || !cli->cfg->dir || !*cli->cfg->dir)
		prenv_buf_adds(&dir, templates);
	else
		prenv_buf_printf(&dir, "%s/%s", cli->cfg->dir, templates);
	memset(&ro, 0, sizeof(ro));
	ro.dir = dir.ptr;
	ro.vars = vars;
	ro.app = cli->cfg->app;
	ro.env_name = cli->plan->env_name;
	ro.allow_missing = cli->allow_missing;
	ro.untrusted = cli->plan->untrusted;
	ro.warn = tmpl_warn_to_log;
	ro.allow_empty = cli->cfg->allow_empty;
	ro.where_file = cli->cfg->path;
	ro.where_line = line;
	ro.where_col = col;
	ro.open_names = open_names;
	ro.sink = cli->render_sink;
	ro.sink_ud = cli->render_sink_ud;
	rc = render_dir(out, &ro, err);
	prenv_buf_free(&dir);
	return rc;
}

int cli_render_objects(struct cli *cli, cJSON **out, struct prenv_err *err)
{
	*out = NULL;
	if (cli->cfg->nphases)
		return cli_render_phases(cli, out, err);
	if (cli->cfg->nservices)
		return cli_render_services(cli, out, err);
	if (!cli->cfg->templates)
		return 0;
	return cli_render_dir(cli, cli->cfg->templates, cli->cfg->templates_line, cli->cfg->templates_col,
			      cli->plan->vars, NULL, out, err);
}

int cli_want_json(const struct cli *cli)
{
	return cli->output && !strcmp(cli->output, "json");
}

void cli_text_row(struct prenv_buf *b, const char *label, const char *value)
{
	prenv_buf_printf(b, "%-12s ", label);
	report_sanitize_line(b, value ? value : "-");
	prenv_buf_addc(b, '\n');
}

void cli_print_json(const cJSON *o)
{
	char *s = o ? cJSON_Print(o) : NULL;

	if (s) {
		log_outs(s);
		log_outs("\n");
	}
	free(s);
}

int cli_lifecycle_begin(struct cli *cli, const char *what, struct prenv_err *err)
{
	const struct prenv_provider *p;
	int rc = cli_load(cli, 1, err), supported;

	if (rc < 0 || (rc = cli_provider_begin(cli, err)) < 0)
		return rc;
	p = cli->session->provider;
	supported = !strcmp(what, "sleep") ? p->sleep != NULL : !strcmp(what, "wake") ? p->wake != NULL
		: p->touch != NULL;
	if (!supported)
		return prenv_err_set(err, PRENV_ECONFIG, "%s is not supported by provider %s (provider.kind in "
				     "%s): only kubernetes environments can sleep and wake; nothing was changed",
				     what, p->name, cli->cfg->path);
	return 0;
}
