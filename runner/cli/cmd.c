/* cmd.c - option parsing and the commands (context, render, deploy, destroy,
 * status, gc, version). Each command is a cmd_* function in one table. */
#include "cli/cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"
#include "context/ci.h"
#include "cli/cli.h"
#include "report/codehost.h"
#include "config/config.h"
#include "util/err.h"
#include "util/log.h"
#include "config/plan.h"
#include "provider.h"
#include "render/render.h"
#include "report/report.h"

#ifndef PRENV_VERSION
#define PRENV_VERSION "0.0.0"
#endif

struct cmd {
	const char *name;
	int (*fn)(struct cli *cli, struct prenv_err *err);
	const char *summary;
	const char *help;
};

static int cmd_context(struct cli *cli, struct prenv_err *err);
static int cmd_render(struct cli *cli, struct prenv_err *err);
static int cmd_deploy(struct cli *cli, struct prenv_err *err);
static int cmd_destroy(struct cli *cli, struct prenv_err *err);
static int cmd_status(struct cli *cli, struct prenv_err *err);
static int cmd_gc(struct cli *cli, struct prenv_err *err);
static int cmd_version(struct cli *cli, struct prenv_err *err);

static const struct cmd commands[] = {
	{ "context", cmd_context, "what was detected (CI, repo, branch, sha, PR) and the environment chosen",
	  "Prints the detected CI context and, when a configuration is found, the\n"
	  "environment this run is for. Needs no network.\n"
	  "  -o text|json   output format (default text)\n" },
	{ "render", cmd_render, "render the manifests (no cluster, no network)",
	  "Renders every *.yaml/*.yml/*.json template of the configured directory\n"
	  "with YAML-context escaping, checks the documents and adds prenv's labels.\n"
	  "  -o yaml|json     output format (default yaml; json prints an array)\n"
	  "  --out DIR        write one file per object into DIR instead of stdout\n"
	  "  --allow-missing  render missing variables as empty instead of failing\n" },
	{ "deploy", cmd_deploy, "create or update the environment, wait until ready, report the URL",
	  "Creates or updates the environment through the configured provider,\n"
	  "waits until it is ready and reports the URL (PR comment, job outputs).\n"
	  "  --dry-run        show what would happen, change nothing\n"
	  "  --wait SECONDS   bound the wait (0 = don't wait)\n"
	  "  --strict-report  fail when reporting to the code host fails\n" },
	{ "destroy", cmd_destroy, "delete the environment, report it",
	  "Deletes the environment (refused for protected environments) and marks\n"
	  "the PR comment destroyed. An environment that is already gone is success.\n"
	  "  --no-wait        do not wait until it is gone\n"
	  "  --dry-run        show what would happen, change nothing\n" },
	{ "status", cmd_status, "the environment's state",
	  "Prints whether the environment exists and what it holds.\n"
	  "  -o text|json     output format\n" },
	{ "gc", cmd_gc, "destroy environments whose PR is closed or whose TTL passed",
	  "Lists this app's environments (kubernetes: namespaces labelled for the app;\n"
	  "pages dir: the target's subdirectories) and destroys those whose pull\n"
	  "request is closed or merged (asked from the code host; needs a token) or\n"
	  "whose TTL passed (the rule named like the environment, else the first\n"
	  "pull_request rule). Protected environments are never touched. Needs no\n"
	  "pull request and no matching branch rule: run it on a schedule.\n"
	  "Prints one line per environment (-o json: an array). Exit 1 when a destroy\n"
	  "failed (the others are still handled). Providers that cannot list\n"
	  "(command, pages git:) do nothing, with a warning, and exit 0.\n"
	  "  --dry-run        say what would be destroyed and why, change nothing\n"
	  "  --no-wait        do not wait until each environment is gone\n"
	  "  -o text|json     output format\n" },
	{ "version", cmd_version, "print the version", "Prints prenv's version.\n" },
};

static const char global_help[] =
	"usage: prenv [-c FILE] [-o text|json] [-v|-q] [--dry-run] COMMAND [options]\n"
	"\n"
	"Global options:\n"
	"  -c, --config FILE  configuration file (default: $PRENV_CONFIG, .prenv.yml)\n"
	"  -o, --output FMT   text (default) or json; render also takes yaml\n"
	"  -v, --verbose      more detail (twice: debug)\n"
	"  -q, --quiet        errors and warnings only\n"
	"  --dry-run          change nothing\n"
	"  -h, --help         this help; `prenv COMMAND --help` for one command\n"
	"\n"
	"Exit codes: 0 success, 1 the operation failed, 2 usage or configuration\n"
	"error (nothing was changed), 3 authentication or permission error.\n";

static void print_usage(FILE *f)
{
	size_t i;

	fputs(global_help, f);
	fputs("\nCommands:\n", f);
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
}

/* Registers the secrets the environment carries, before anything is printed. */
static void register_env_secrets(const char *const *envp)
{
	static const char *const names[] = {
		"GITHUB_TOKEN", "PRENV_GITHUB_TOKEN", "GITLAB_TOKEN", "PRENV_GITLAB_TOKEN",
		"CI_JOB_TOKEN", "PRENV_GIT_TOKEN", "PRENV_KUBECONFIG", "PRENV_KUBE_TOKEN",
		"ACTIONS_RUNTIME_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "GH_TOKEN", NULL,
	};
	const char *extra;
	size_t i;

	for (i = 0; names[i]; i++) {
		const char *v = ci_getenv(envp, names[i]);

		if (v)
			log_add_secret(v);
	}
	/* PRENV_SECRETS: names of further variables to mask, comma-separated. */
	extra = ci_getenv(envp, "PRENV_SECRETS");
	if (extra) {
		struct prenv_buf name = PRENV_BUF_INIT;
		const char *p = extra;

		for (;;) {
			if (*p == ',' || *p == '\0') {
				const char *v = name.len ? ci_getenv(envp, name.ptr) : NULL;

				if (v)
					log_add_secret(v);
				prenv_buf_reset(&name);
				if (!*p)
					break;
			} else if (*p != ' ') {
				prenv_buf_addc(&name, *p);
			}
			p++;
		}
		prenv_buf_free(&name);
	}
}

static enum log_ci log_ci_from_env(const char *const *envp)
{
	if (ci_getenv(envp, "GITHUB_ACTIONS"))
		return LOG_CI_GITHUB;
	if (ci_getenv(envp, "GITLAB_CI"))
		return LOG_CI_GITLAB;
	if (ci_getenv(envp, "JENKINS_URL"))
		return LOG_CI_JENKINS;
	return LOG_CI_NONE;
}

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

/* Detects the context and loads the config when need_config (or when a
 * config exists and need_config < 0); makes no plan. */
static int cli_load_config(struct cli *cli, int need_config, struct prenv_err *err)
{
	const char *path;
	int rc;

	rc = ci_detect(&cli->ctx, cli->envp, NULL, err);
	if (rc < 0)
		return rc;
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
	return config_load(&cli->cfg, path, err);
}

/* Detects the context; loads the config and makes the plan when need_config
 * (or when a config exists and need_config < 0). */
static int cli_load(struct cli *cli, int need_config, struct prenv_err *err)
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
	return plan_make(&cli->plan, cli->cfg, cli->ctx, err);
}

static int want_json(const struct cli *cli)
{
	return cli->output && !strcmp(cli->output, "json");
}

static void text_row(struct prenv_buf *b, const char *label, const char *value)
{
	prenv_buf_printf(b, "%-12s ", label);
	report_sanitize_line(b, value ? value : "-");
	prenv_buf_addc(b, '\n');
}

static int cmd_context(struct cli *cli, struct prenv_err *err)
{
	const struct prenv_context *c;
	struct prenv_buf b = PRENV_BUF_INIT, v = PRENV_BUF_INIT;
	int rc = cli_load(cli, -1, err);

	if (rc < 0)
		return rc;
	c = cli->ctx;
	if (want_json(cli)) {
		cJSON *o = ci_context_to_json(c);
		char *s;

		if (!o)
			return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
		if (cli->plan)
			cJSON_AddItemToObject(o, "env", plan_to_json(cli->plan));
		s = cJSON_Print(o);
		cJSON_Delete(o);
		if (!s)
			return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
		log_outs(s);
		log_outs("\n");
		free(s);
		return 0;
	}
	text_row(&b, "ci", c->ci);
	if (c->event) {
		prenv_buf_printf(&v, "%s%s%s%s", c->event, c->action ? " (" : "",
				 c->action ? c->action : "", c->action ? ")" : "");
		text_row(&b, "event", v.ptr);
		prenv_buf_reset(&v);
	}
	text_row(&b, "repository", c->repo_full_name);
	if (c->repo_url)
		text_row(&b, "repo url", c->repo_url);
	text_row(&b, "branch", c->branch ? c->branch : "(detached HEAD)");
	if (c->base_branch)
		text_row(&b, "base branch", c->base_branch);
	text_row(&b, "sha", c->sha);
	if (c->has_pr) {
		prenv_buf_printf(&v, "#%ld %s%s", c->pr_number, c->pr_state ? c->pr_state : "",
				 c->pr_fork ? ", from a fork" : "");
		text_row(&b, "pr", v.ptr);
		prenv_buf_reset(&v);
		text_row(&b, "pr title", c->pr_title);
		text_row(&b, "pr author", c->pr_author);
		text_row(&b, "pr url", c->pr_url);
	} else {
		text_row(&b, "pr", "(none)");
	}
	if (c->run_url)
		text_row(&b, "run url", c->run_url);
	if (cli->plan) {
		const struct prenv_plan *p = cli->plan;

		prenv_buf_printf(&v, "%s (%s%s)", p->env_name, env_kind_name(p->kind),
				 p->protected_ ? ", protected" : "");
		text_row(&b, "environment", v.ptr);
		text_row(&b, "namespace", p->namespace_);
		text_row(&b, "url", p->url);
	} else {
		text_row(&b, "environment", "(no .prenv.yml found)");
	}
	log_out(b.ptr, b.len);
	prenv_buf_free(&b);
	prenv_buf_free(&v);
	return 0;
}

static void tmpl_warn_to_log(void *ud, const char *file, int line, int col, const char *msg)
{
	struct prenv_buf b = PRENV_BUF_INIT;

	(void)ud;
	prenv_buf_printf(&b, "%s:%d:%d: %s", file ? file : "<template>", line, col, msg);
	log_warn("%s", b.ptr);
	prenv_buf_free(&b);
}

/* Renders the configured templates into *out (NULL when the config names no
 * templates directory). */
static int render_objects(struct cli *cli, cJSON **out, struct prenv_err *err)
{
	struct render_opts ro;
	struct prenv_buf dir = PRENV_BUF_INIT;
	int rc;

	*out = NULL;
	if (!cli->cfg->templates)
		return 0;
	if (cli->cfg->templates[0] == '/' || !cli->cfg->dir || !*cli->cfg->dir)
		prenv_buf_adds(&dir, cli->cfg->templates);
	else
		prenv_buf_printf(&dir, "%s/%s", cli->cfg->dir, cli->cfg->templates);
	memset(&ro, 0, sizeof(ro));
	ro.dir = dir.ptr;
	ro.vars = cli->plan->vars;
	ro.app = cli->cfg->app;
	ro.env_name = cli->plan->env_name;
	ro.allow_missing = cli->allow_missing;
	ro.untrusted = cli->plan->untrusted;
	ro.warn = tmpl_warn_to_log;
	rc = render_dir(out, &ro, err);
	prenv_buf_free(&dir);
	return rc;
}

static int cmd_render(struct cli *cli, struct prenv_err *err)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	cJSON *objs = NULL;
	int rc = cli_load(cli, 1, err);

	if (rc < 0)
		return rc;
	if (!cli->cfg->templates)
		return prenv_err_set(err, PRENV_ECONFIG,
				     "%s names no templates directory: add `templates: DIR`", cli->cfg->path);
	rc = render_objects(cli, &objs, err);
	if (rc < 0)
		return rc;
	rc = render_write(objs, cli->output && strcmp(cli->output, "text") ? cli->output : "yaml",
			  cli->out_dir, &b, err);
	if (rc == 0 && !cli->out_dir)
		log_out(b.ptr, b.len);
	else if (rc == 0)
		log_info("wrote %d objects to %s", cJSON_GetArraySize(objs), cli->out_dir);
	cJSON_Delete(objs);
	prenv_buf_free(&b);
	return rc;
}

static const struct prenv_provider *need_provider(struct cli *cli, struct prenv_err *err)
{
	const struct prenv_provider *p = provider_find(cli->cfg->provider_kind);

	if (!p)
		prenv_err_set(err, PRENV_ECONFIG,
			      "provider '%s' (provider.kind in %s) is not available in this build of prenv %s; "
			      "available: kubernetes, pages, command",
			      cli->cfg->provider_kind, cli->cfg->path, PRENV_VERSION);
	return p;
}

/* Shows the comment body that was not posted, and why. */
static void show_unposted(const char *body, const char *why, int warn)
{
	if (warn)
		log_warn("the PR comment was not posted: %s", why);
	else
		log_info("not posting the PR comment: %s", why);
	if (log_level() >= LOG_NORMAL) {
		log_group_begin("PR comment that would be posted");
		log_info("the comment it would post:");
		log_block(body);
		log_group_end();
	}
}

/* The PR comment id the provider keeps with the environment (Kubernetes: a
 * namespace annotation), read once per run; 0 when there is none. */
static long long remembered_comment_id(struct cli *cli)
{
	struct prenv_err nerr = PRENV_ERR_INIT;
	char *v = NULL, *end;
	long long id;

	if (cli->comment_id_read || !cli->prov || !cli->prov->get_note || !cli->run)
		return cli->comment_id;
	cli->comment_id_read = 1;
	if (cli->prov->get_note(cli->run, "comment-id", &v, &nerr) < 0)
		log_verbose("no remembered comment id: %s", nerr.msg);
	else if (v && (id = strtoll(v, &end, 10)) > 0 && *end == '\0')
		cli->comment_id = id;
	free(v);
	prenv_err_clear(&nerr);
	return cli->comment_id;
}

/* Keeps id with the environment when the provider has a place for it. The
 * environment may not exist yet (the "deploying" report of a first deploy):
 * then the final report stores it. */
static void remember_comment_id(struct cli *cli, long long id)
{
	struct prenv_err nerr = PRENV_ERR_INIT;
	char v[32];

	if (id == cli->comment_id && cli->comment_id_read == 2)
		return;
	if (!cli->prov || !cli->prov->set_note || !cli->run)
		return;
	snprintf(v, sizeof(v), "%lld", id);
	if (cli->prov->set_note(cli->run, "comment-id", v, &nerr) < 0) {
		log_verbose("comment id not remembered: %s", nerr.msg);
	} else {
		cli->comment_id = id;
		cli->comment_id_read = 2; /* stored */
	}
	prenv_err_clear(&nerr);
}

/* Reports ri to the code host: the PR/MR comment (codehost.h) and, on
 * GitHub, the deployment status. Failures are warnings; with
 * --strict-report they become the result (exit 1, or 3 for auth).
 * quiet: the early "deploying" report, which only says something when it
 * could post. */
static int report_to_host(struct cli *cli, const struct report_info *ri, int quiet,
			  struct prenv_err *err)
{
	struct codehost_opts o;
	struct prenv_buf body = PRENV_BUF_INIT, why = PRENV_BUF_INIT, marker = PRENV_BUF_INIT;
	struct prenv_err rerr = PRENV_ERR_INIT;
	const struct prenv_context *c = cli->ctx;
	int rc = 0, auth = 0, failed = 0;

	if (c->has_pr && report_comment_body(&body, ri) < 0)
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	if (cli->dry_run) {
		if (c->has_pr && !quiet)
			show_unposted(body.ptr, "dry run", 0);
		goto done;
	}
	if (!cli->codehost) {
		memset(&o, 0, sizeof(o));
		o.ctx = c;
		o.envp = cli->envp;
		if (codehost_new(&cli->codehost, &o, &why, &auth, &rerr) < 0) {
			prenv_buf_adds(&why, rerr.msg ? rerr.msg : "error");
			auth = rerr.code == PRENV_EAUTH;
		}
		if (!cli->codehost) {
			if (!quiet && c->has_pr)
				show_unposted(body.ptr, why.ptr, 0);
			if (!quiet && cli->strict_report && (c->has_pr || auth))
				rc = prenv_err_set(err, auth ? PRENV_EAUTH : PRENV_EFAIL,
						   "--strict-report: not reported to the code host: %s", why.ptr);
			goto done;
		}
	}
	if (c->has_pr) {
		struct codehost_comment cc;
		struct codehost_comment_result res;

		memset(&cc, 0, sizeof(cc));
		report_marker(&marker, cli->cfg->app, cli->plan->env_name);
		cc.marker = marker.ptr;
		cc.body = body.ptr;
		cc.sha = c->sha;
		cc.force = !strcmp(ri->status, "destroyed");
		cc.known_id = remembered_comment_id(cli);
		int urc = codehost_upsert_comment(cli->codehost, &cc, &res, &rerr);

		if (urc == 0 && res.id > 0 && strcmp(ri->status, "destroyed") != 0)
			remember_comment_id(cli, res.id);

		if (urc < 0 && quiet) {
			/* the final report tries again and says why */
			log_verbose("the deploying comment was not posted: %s", rerr.msg);
			failed = urc;
			prenv_err_clear(&rerr);
		} else if (urc < 0) {
			prenv_buf_reset(&why);
			prenv_buf_adds(&why, rerr.msg);
			if (rerr.code == PRENV_EAUTH)
				prenv_buf_adds(&why, codehost_kind(cli->codehost) == CODEHOST_GITHUB
					       ? " (the token cannot write comments: it needs pull-requests: write; "
						 "a pull request from a fork gets a read-only token)"
					       : " (the token cannot write notes: it needs the api scope, "
						 "and a job token never can)");
			show_unposted(body.ptr, why.ptr, 1);
			failed = urc;
			prenv_err_clear(&rerr);
		} else if (res.action == CODEHOST_CREATED) {
			log_info("posted the %s comment on #%ld (%s)", ri->status, c->pr_number,
				 codehost_describe(cli->codehost));
		} else if (res.action != CODEHOST_SKIPPED) {
			log_verbose("updated comment %lld on #%ld: %s", res.id, c->pr_number, ri->status);
		}
	}
	{
		struct codehost_deploy d;

		memset(&d, 0, sizeof(d));
		d.status = ri->status;
		d.app = cli->cfg->app;
		d.environment = cli->plan->env_name;
		d.sha = c->sha;
		d.url = ri->url;
		d.log_url = c->run_url;
		d.reason = ri->reason;
		d.transient = cli->plan->kind == ENV_KIND_PREVIEW;
		d.production = cli->plan->kind == ENV_KIND_PRODUCTION;
		if (quiet && failed == PRENV_EAUTH) {
			/* the token cannot write: the final report says so once */
		} else if (codehost_deployment(cli->codehost, &d, &rerr) < 0) {
			if (quiet)
				log_verbose("deployment status not reported to %s: %s",
					    codehost_describe(cli->codehost), rerr.msg);
			else
				log_warn("deployment status not reported to %s: %s",
					 codehost_describe(cli->codehost), rerr.msg);
			if (!failed)
				failed = rerr.code ? rerr.code : PRENV_EFAIL;
			prenv_err_clear(&rerr);
		}
	}
	log_verbose("reporting %s: %lu request(s) to %s so far", ri->status,
		    codehost_request_count(cli->codehost), codehost_describe(cli->codehost));
	if (failed && cli->strict_report && !quiet)
		rc = prenv_err_set(err, failed == PRENV_EAUTH ? PRENV_EAUTH : PRENV_EFAIL,
				   "--strict-report: reporting to %s failed (see the warnings above)",
				   codehost_describe(cli->codehost));
done:
	prenv_err_clear(&rerr);
	prenv_buf_free(&body);
	prenv_buf_free(&why);
	prenv_buf_free(&marker);
	return rc;
}

static void fill_info(struct report_info *ri, struct cli *cli, const char *status,
		      const char *url, const char *reason)
{
	memset(ri, 0, sizeof(*ri));
	ri->cfg = cli->cfg;
	ri->ctx = cli->ctx;
	ri->plan = cli->plan;
	ri->status = status;
	ri->url = url;
	ri->reason = reason;
	ri->deployed_at = (long)time(NULL);
}

/* "deploying", before the provider runs: the comment and the GitHub
 * deployment show progress. Never fails the run. */
static void report_progress(struct cli *cli)
{
	struct report_info ri;
	struct prenv_err e = PRENV_ERR_INIT;

	fill_info(&ri, cli, "deploying", cli->plan->url, NULL);
	report_to_host(cli, &ri, 1, &e);
	prenv_err_clear(&e);
}

/* Prints the result, reports to the code host and writes the job outputs;
 * the comment body is shown where it cannot be posted. Reporting failures
 * are warnings unless --strict-report. */
static int report_result(struct cli *cli, const char *status, const char *url,
			 const char *reason, struct prenv_err *err)
{
	struct report_info ri;
	struct prenv_err rerr = PRENV_ERR_INIT;
	struct prenv_err herr = PRENV_ERR_INIT;
	/* The reason can hold what a failing command or API said, and goes to
	 * the PR comment, the deployment status and the outputs, which the
	 * logger's mask does not cover: mask it (and the URL) here. */
	char *mreason = reason ? log_mask_dup(reason, strlen(reason), NULL) : NULL;
	char *murl = url ? log_mask_dup(url, strlen(url), NULL) : NULL;
	int rc = 0;

	if (mreason)
		reason = mreason;
	if (murl)
		url = murl;
	fill_info(&ri, cli, status, url, reason);
	if (report_to_host(cli, &ri, 0, &herr) < 0)
		rc = prenv_err_set(err, herr.code, "%s", herr.msg);
	if (!cli->dry_run && report_job_outputs(&ri, cli->envp, &rerr) < 0) {
		if (cli->strict_report) {
			if (!rc)
				rc = prenv_err_set(err, rerr.code, "%s", rerr.msg);
		} else {
			log_warn("job outputs not written: %s", rerr.msg);
		}
	}
	if (want_json(cli)) {
		cJSON *o = report_result_json(&ri);
		char *s = o ? cJSON_Print(o) : NULL;

		if (s) {
			log_outs(s);
			log_outs("\n");
		}
		free(s);
		cJSON_Delete(o);
	} else if (url && strcmp(status, "destroyed")) {
		log_outf("%s\n", url);
	}
	prenv_err_clear(&rerr);
	prenv_err_clear(&herr);
	free(mreason);
	free(murl);
	return rc;
}

static void fill_run(struct cli *cli, struct provider_run *run, const cJSON *objs)
{
	memset(run, 0, sizeof(*run));
	run->cfg = cli->cfg;
	run->ctx = cli->ctx;
	run->plan = cli->plan;
	run->objects = objs;
	run->envp = cli->envp;
	run->dry_run = cli->dry_run;
	run->wait_seconds = cli->wait_seconds;
	run->no_wait = cli->no_wait;
	run->kubeconfig = cli->kubeconfig;
	cli->run = run; /* for the provider's notes while reporting; this command's scope */
}

/* What deploy, destroy and status share: the context, configuration and
 * plan, the provider, and its arguments in *run (objects: none yet). */
static int provider_cmd_begin(struct cli *cli, const struct prenv_provider **prov,
			      struct provider_run *run, struct prenv_err *err)
{
	int rc = cli_load(cli, 1, err);

	if (rc < 0)
		return rc;
	if (!(*prov = need_provider(cli, err)))
		return err->code;
	cli->prov = *prov;
	fill_run(cli, run, NULL);
	return 0;
}

static int cmd_deploy(struct cli *cli, struct prenv_err *err)
{
	const struct prenv_provider *prov;
	struct provider_run run;
	struct provider_result res;
	cJSON *objs = NULL;
	int rc = provider_cmd_begin(cli, &prov, &run, err);

	if (rc < 0)
		return rc;
	if (cli->ctx->has_pr && cli->ctx->pr_fork && strcmp(cli->cfg->forks, "deploy") != 0) {
		log_info("not deploying: pull request #%ld comes from a fork and %s says `forks: skip` "
			 "(a fork's code must not run with this repository's secrets; see the fork-safe "
			 "workflow in ci-examples/)", cli->ctx->pr_number, cli->cfg->path);
		return 0;
	}
	if (cli->ctx->has_pr && cli->ctx->pr_state && strcmp(cli->ctx->pr_state, "open") != 0)
		log_warn("pull request #%ld is %s; deploying anyway (run `prenv destroy` on close)",
			 cli->ctx->pr_number, cli->ctx->pr_state);
	rc = render_objects(cli, &objs, err);
	if (rc < 0)
		return rc;
	log_group_begin("prenv deploy");
	log_info("deploying %s environment %s of %s%s", env_kind_name(cli->plan->kind),
		 cli->plan->env_name, cli->cfg->app, cli->dry_run ? " (dry run)" : "");
	run.objects = objs;
	if (!cli->dry_run)
		report_progress(cli);
	memset(&res, 0, sizeof(res));
	rc = prov->deploy(&run, &res, err);
	log_group_end();
	if (cli->dry_run) {
		log_info("dry run: nothing was changed");
	} else if (rc < 0) {
		/* Exit 2 promises that nothing changed; once the PR was told a
		 * deploy started, a configuration error the provider finds is a
		 * failed deploy (exit 1), and is reported as such. */
		if (rc == PRENV_ECONFIG && cli->codehost) {
			rc = PRENV_EFAIL;
			err->code = PRENV_EFAIL;
		}
		if (res.detail)
			log_error("last output:\n%s", res.detail);
		report_result(cli, "failed", res.url ? res.url : cli->plan->url,
			      res.reason ? res.reason : err->msg, NULL);
	} else {
		rc = report_result(cli, "ready", res.url ? res.url : cli->plan->url, NULL, err);
	}
	provider_result_clear(&res);
	cJSON_Delete(objs);
	cli->run = NULL;
	return rc;
}

static int cmd_destroy(struct cli *cli, struct prenv_err *err)
{
	const struct prenv_provider *prov;
	struct provider_run run;
	struct provider_result res;
	int rc = provider_cmd_begin(cli, &prov, &run, err);

	if (rc < 0)
		return rc;
	if (cli->plan->protected_)
		return prenv_err_set(err, PRENV_ECONFIG,
				     "environment %s is protected (protected: true in %s); prenv will not destroy it",
				     cli->plan->env_name, cli->cfg->path);
	memset(&res, 0, sizeof(res));
	log_info("destroying environment %s of %s%s", cli->plan->env_name, cli->cfg->app,
		 cli->dry_run ? " (dry run)" : "");
	if (cli->ctx->has_pr && !cli->dry_run)
		(void)remembered_comment_id(cli); /* read it while the environment exists */
	rc = prov->destroy(&run, &res, err);
	if (rc == 0 && !cli->dry_run)
		rc = report_result(cli, "destroyed", NULL, NULL, err);
	provider_result_clear(&res);
	cli->run = NULL;
	return rc;
}

static int cmd_status(struct cli *cli, struct prenv_err *err)
{
	const struct prenv_provider *prov;
	struct provider_run run;
	struct provider_result res;
	int rc = provider_cmd_begin(cli, &prov, &run, err);

	if (rc < 0)
		return rc;
	memset(&res, 0, sizeof(res));
	rc = prov->status(&run, &res, err);
	if (rc == 0) {
		if (want_json(cli)) {
			cJSON *o = cJSON_CreateObject();
			char *s;

			cJSON_AddStringToObject(o, "environment", cli->plan->env_name);
			cJSON_AddStringToObject(o, "status", res.status ? res.status : "unknown");
			if (res.url || cli->plan->url)
				cJSON_AddStringToObject(o, "url", res.url ? res.url : cli->plan->url);
			if (res.info)
				cJSON_AddItemToObject(o, "details", cJSON_Duplicate(res.info, 1));
			s = cJSON_Print(o);
			if (s) {
				log_outs(s);
				log_outs("\n");
			}
			free(s);
			cJSON_Delete(o);
		} else {
			struct prenv_buf b = PRENV_BUF_INIT;

			text_row(&b, "environment", cli->plan->env_name);
			text_row(&b, "status", res.status ? res.status : "unknown");
			if (!res.status || strcmp(res.status, "absent") != 0)
				text_row(&b, "url", res.url ? res.url : cli->plan->url);
			if (res.detail)
				prenv_buf_printf(&b, "%s\n", res.detail);
			log_out(b.ptr, b.len);
			prenv_buf_free(&b);
		}
	}
	provider_result_clear(&res);
	cli->run = NULL;
	return rc;
}

/* ------------------------------------------------------------------ gc */

/* "72h", "2h30m", "45m", "20s", "9d3h" (days from a week on): at most two
 * units. */
static void gc_duration(struct prenv_buf *b, long s)
{
	static const struct { long secs; char unit; } units[] = {
		{ 86400, 'd' }, { 3600, 'h' }, { 60, 'm' }, { 1, 's' },
	};
	size_t i;
	int shown = 0;

	if (s < 0)
		s = 0;
	for (i = 0; i < sizeof(units) / sizeof(units[0]) && shown < 2; i++) {
		long n = s / units[i].secs;

		if (units[i].unit == 'd' && s < 7 * 86400)
			continue;

		if (n > 0 || (shown == 0 && units[i].secs == 1)) {
			prenv_buf_printf(b, "%ld%c", n, units[i].unit);
			s -= n * units[i].secs;
			shown++;
		} else if (shown) {
			break;
		}
	}
}

/* The rule that decides an environment's TTL: the rule whose `name` is the
 * environment's name, else (for a PR environment) the first
 * `pull_request: true` rule, else the first rule with neither branch nor
 * pull_request. *protected_ is set when that rule, or any rule named like
 * the environment or whose branch pattern matches its name, is protected
 * (gc errs on the side of keeping). */
static const struct config_rule *gc_rule(const struct prenv_config *cfg, const char *name, long pr,
					 int *protected_)
{
	const struct config_rule *chosen = NULL;
	size_t i;

	*protected_ = 0;
	for (i = 0; i < cfg->nrules; i++) {
		const struct config_rule *r = &cfg->rules[i];

		if (r->name && !strcmp(r->name, name)) {
			if (!chosen)
				chosen = r;
			*protected_ |= r->protected_;
		} else if (!r->name && r->branch && r->pull_request != 1 &&
			   plan_glob_match(r->branch, name)) {
			*protected_ |= r->protected_;
		}
	}
	for (i = 0; !chosen && pr > 0 && i < cfg->nrules; i++)
		if (cfg->rules[i].pull_request == 1)
			chosen = &cfg->rules[i];
	for (i = 0; !chosen && pr > 0 && i < cfg->nrules; i++)
		if (cfg->rules[i].pull_request == -1 && !cfg->rules[i].branch)
			chosen = &cfg->rules[i];
	if (chosen)
		*protected_ |= chosen->protected_;
	return chosen;
}

struct gc_state {
	struct codehost *host;   /* for PR states; NULL when not possible */
	int host_tried;
	int destroyed, failed, kept;
};

/* The PR's state from the code host, or NULL (unknown; says why). */
static char *gc_pr_state(struct cli *cli, struct gc_state *g, long pr)
{
	struct prenv_err e = PRENV_ERR_INIT;
	char *state = NULL;

	if (!g->host_tried) {
		struct codehost_opts o;
		struct prenv_buf why = PRENV_BUF_INIT;

		g->host_tried = 1;
		memset(&o, 0, sizeof(o));
		o.ctx = cli->ctx;
		o.envp = cli->envp;
		if (codehost_new(&g->host, &o, &why, NULL, &e) < 0) {
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
static struct prenv_plan *gc_plan(const char *name, const char *ns, const struct config_rule *rule,
				  long pr)
{
	struct prenv_plan *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->env_name = strdup(name);
	p->namespace_ = ns ? strdup(ns) : NULL;
	p->kind = rule && rule->kind_set ? rule->kind : pr > 0 ? ENV_KIND_PREVIEW : ENV_KIND_DEVELOPMENT;
	p->rule = rule;
	p->ttl_seconds = rule ? rule->ttl_seconds : 0;
	if (!p->env_name || (ns && !p->namespace_)) {
		plan_free(p);
		return NULL;
	}
	return p;
}

/* Destroys one environment through the provider and, when the code host
 * can be told, marks its PR comment destroyed. */
static int gc_destroy(struct cli *cli, struct gc_state *g, const struct prenv_provider *prov,
		      struct prenv_plan *plan, long pr, const char *sha, const char *reason,
		      struct prenv_err *err)
{
	struct prenv_context ectx, *saved_ctx = cli->ctx;
	struct provider_run run;
	struct provider_result res;
	int rc, report = g->host && pr > 0 && !cli->dry_run;

	/* the environment's own context: its PR and commit, this run's repo */
	ectx = *cli->ctx;
	ectx.has_pr = pr > 0;
	ectx.pr_number = pr > 0 ? pr : 0;
	ectx.sha = (char *)sha;
	ectx.branch = NULL;
	ectx.pr_title = ectx.pr_author = ectx.pr_url = ectx.pr_state = NULL;
	cli->ctx = &ectx;
	cli->plan = plan;
	cli->prov = prov;
	cli->comment_id = 0;
	cli->comment_id_read = 0;
	fill_run(cli, &run, NULL);
	memset(&res, 0, sizeof(res));
	if (report)
		(void)remembered_comment_id(cli); /* read it while the environment exists */
	rc = prov->destroy(&run, &res, err);
	if (rc == 0 && report) {
		struct report_info ri;
		struct prenv_err herr = PRENV_ERR_INIT;

		struct prenv_buf r = PRENV_BUF_INIT;

		prenv_buf_printf(&r, "removed by prenv gc: %s", reason);
		fill_info(&ri, cli, "destroyed", NULL, r.ptr);
		report_to_host(cli, &ri, 0, &herr);
		prenv_buf_free(&r);
		prenv_err_clear(&herr);
		codehost_free(cli->codehost);
		cli->codehost = NULL;
	}
	provider_result_clear(&res);
	cli->run = NULL;
	cli->prov = NULL;
	cli->plan = NULL;
	cli->ctx = saved_ctx;
	return rc;
}

static const char *gc_target(const struct cli *cli)
{
	const cJSON *t = cli->cfg->provider ? cJSON_GetObjectItemCaseSensitive(cli->cfg->provider, "target")
		: NULL;

	return cJSON_IsString(t) ? t->valuestring : NULL;
}

static int cmd_gc(struct cli *cli, struct prenv_err *err)
{
	const struct prenv_provider *prov;
	struct provider_run run;
	struct gc_state g;
	cJSON *envs = NULL, *out = NULL;
	const cJSON *e;
	time_t now = time(NULL);
	int rc = cli_load_config(cli, 1, err), width = 4, total = 0;

	if (rc < 0)
		return rc;
	if (!(prov = need_provider(cli, err)))
		return err->code;
	memset(&g, 0, sizeof(g));
	if (prov->list) {
		fill_run(cli, &run, NULL);
		rc = prov->list(&run, &envs, err);
		cli->run = NULL;
		if (rc < 0)
			return rc;
	}
	if (!envs) {
		log_warn("gc is not supported for provider %s%s%s: nothing done (destroy each "
			 "environment with `prenv destroy` when its pull request closes)", prov->name,
			 gc_target(cli) ? " with target " : "", gc_target(cli) ? gc_target(cli) : "");
		if (want_json(cli))
			log_outs("[]\n");
		return 0;
	}
	log_info("gc: %d environment(s) of %s%s", cJSON_GetArraySize(envs), cli->cfg->app,
		 cli->dry_run ? " (dry run)" : "");
	cJSON_ArrayForEach(e, envs) {
		const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "name"));
		int n = name ? (int)strlen(name) : 0;

		if (n > width)
			width = n;
	}
	out = cJSON_CreateArray();
	cJSON_ArrayForEach(e, envs) {
		const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "name"));
		const char *ns = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "namespace"));
		const char *sha = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "sha"));
		const cJSON *jpr = cJSON_GetObjectItemCaseSensitive(e, "pr");
		const cJSON *jat = cJSON_GetObjectItemCaseSensitive(e, "deployed_at");
		const struct config_rule *rule;
		struct prenv_buf why = PRENV_BUF_INIT, line = PRENV_BUF_INIT;
		struct prenv_err derr = PRENV_ERR_INIT;
		const char *action;
		char *state = NULL;
		long pr = cJSON_IsNumber(jpr) ? (long)jpr->valuedouble : 0, ttl;
		long long at = cJSON_IsNumber(jat) ? (long long)jat->valuedouble : -1;
		int protected_ = 0, collect = 0;
		cJSON *o;

		if (!name || !plan_is_dns_label(name))
			continue;
		total++;
		if (pr <= 0 && !strncmp(name, "pr-", 3)) {
			char *end;

			pr = strtol(name + 3, &end, 10);
			if (*end || pr <= 0)
				pr = 0;
		}
		rule = gc_rule(cli->cfg, name, pr, &protected_);
		ttl = rule ? rule->ttl_seconds : 0;
		if (protected_) {
			prenv_buf_adds(&why, "protected");
		} else {
			if (pr > 0)
				state = gc_pr_state(cli, &g, pr);
			if (state && strcmp(state, "open") != 0) {
				collect = 1;
				prenv_buf_printf(&why, "PR #%ld %s", pr, state);
			} else if (ttl > 0 && at >= 0 && (long long)now - at >= ttl) {
				collect = 1;
				prenv_buf_adds(&why, "TTL ");
				gc_duration(&why, ttl);
				prenv_buf_adds(&why, " passed: deployed ");
				gc_duration(&why, (long)((long long)now - at));
				prenv_buf_adds(&why, " ago");
			} else {
				if (pr > 0)
					prenv_buf_printf(&why, "PR #%ld %s, ", pr, state ? state : "state unknown");
				if (ttl <= 0) {
					prenv_buf_adds(&why, "no TTL");
				} else {
					prenv_buf_adds(&why, "TTL ");
					gc_duration(&why, ttl);
					if (at < 0) {
						prenv_buf_adds(&why, ": deploy time unknown");
					} else {
						prenv_buf_adds(&why, ": ");
						gc_duration(&why, (long)(at + ttl - (long long)now));
						prenv_buf_adds(&why, " left");
					}
				}
			}
		}
		if (!collect) {
			action = "kept";
			g.kept++;
		} else if (cli->dry_run) {
			action = "would be destroyed";
			g.destroyed++;
		} else {
			struct prenv_plan *plan = gc_plan(name, ns, rule, pr);

			log_group_begin("prenv gc");
			log_info("destroying environment %s of %s (%s)", name, cli->cfg->app, why.ptr);
			if (!plan) {
				rc = prenv_err_set(&derr, PRENV_ENOMEM, "out of memory");
			} else {
				rc = gc_destroy(cli, &g, prov, plan, pr, sha, why.ptr, &derr);
				plan_free(plan);
			}
			log_group_end();
			if (rc < 0) {
				action = "failed";
				g.failed++;
				log_err(&derr);
			} else {
				action = "destroyed";
				g.destroyed++;
			}
		}
		if ((o = cJSON_CreateObject()) != NULL) {
			cJSON_AddStringToObject(o, "name", name);
			if (ns)
				cJSON_AddStringToObject(o, "namespace", ns);
			if (pr > 0)
				cJSON_AddNumberToObject(o, "pr", (double)pr);
			else
				cJSON_AddNullToObject(o, "pr");
			if (state)
				cJSON_AddStringToObject(o, "pr_state", state);
			else
				cJSON_AddNullToObject(o, "pr_state");
			if (at >= 0)
				cJSON_AddNumberToObject(o, "deployed_at", (double)at);
			else
				cJSON_AddNullToObject(o, "deployed_at");
			if (ttl > 0)
				cJSON_AddNumberToObject(o, "ttl_seconds", (double)ttl);
			else
				cJSON_AddNullToObject(o, "ttl_seconds");
			cJSON_AddBoolToObject(o, "protected", protected_);
			cJSON_AddStringToObject(o, "action", !strcmp(action, "would be destroyed")
						? "would-destroy" : action);
			cJSON_AddStringToObject(o, "reason", why.ptr ? why.ptr : "");
			if (derr.msg)
				cJSON_AddStringToObject(o, "error", derr.msg);
			cJSON_AddItemToArray(out, o);
		}
		if (!want_json(cli)) {
			prenv_buf_printf(&line, "%-*s  %s (", width, name, action);
			report_sanitize_line(&line, why.ptr);
			prenv_buf_addc(&line, ')');
			if (derr.msg) {
				prenv_buf_adds(&line, ": ");
				report_sanitize_line(&line, derr.msg);
			}
			prenv_buf_addc(&line, '\n');
			log_out(line.ptr, line.len);
		}
		free(state);
		prenv_err_clear(&derr);
		prenv_buf_free(&why);
		prenv_buf_free(&line);
	}
	if (want_json(cli)) {
		char *js = out ? cJSON_Print(out) : NULL;

		if (js) {
			log_outs(js);
			log_outs("\n");
		}
		free(js);
	}
	if (total == 0)
		log_info("gc: no environments of %s found", cli->cfg->app);
	else
		log_info("gc: %d %s, %d kept, %d failed", g.destroyed,
			 cli->dry_run ? "would be destroyed" : "destroyed", g.kept, g.failed);
	rc = 0;
	if (g.failed)
		rc = prenv_err_set(err, PRENV_EFAIL, "gc: %d of %d environment(s) could not be destroyed "
				   "(see the errors above); the others were handled", g.failed, total);
	codehost_free(g.host);
	cJSON_Delete(envs);
	cJSON_Delete(out);
	return rc;
}

static int cmd_version(struct cli *cli, struct prenv_err *err)
{
	(void)err;
	if (want_json(cli))
		log_outf("{\"version\":\"%s\"}\n", PRENV_VERSION);
	else
		log_outf("prenv %s\n", PRENV_VERSION);
	return 0;
}

static const struct cmd *find_cmd(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

/* Returns the option's argument: "--opt=value" or the next argv element. */
static const char *opt_arg(int argc, char **argv, int *i, const char *arg, const char *name)
{
	const char *eq = strchr(arg, '=');

	if (arg[1] == '-' && eq)
		return eq + 1;
	if (*i + 1 >= argc) {
		fprintf(stderr, "prenv: error: option %s needs a value; see `prenv --help`\n", name);
		return NULL;
	}
	return argv[++*i];
}

static int opt_is(const char *arg, const char *long_name)
{
	size_t n = strlen(long_name);

	return !strncmp(arg, long_name, n) && (arg[n] == '\0' || arg[n] == '=');
}

static int parse_int_arg(const char *s, int *out)
{
	char *end;
	long v;

	if (!s || !*s)
		return -1;
	v = strtol(s, &end, 10);
	if (*end == 's' && end[1] == '\0')
		end++;
	if (*end || v < 0 || v > 86400 * 7)
		return -1;
	*out = (int)v;
	return 0;
}

int prenv_main(int argc, char **argv, const char *const *envp)
{
	struct cli cli;
	struct prenv_err err = PRENV_ERR_INIT;
	const struct cmd *cmd = NULL;
	int help = 0, rc, i, color;
	const char *v;

	memset(&cli, 0, sizeof(cli));
	cli.envp = envp;
	cli.output = "text";
	cli.wait_seconds = -1;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (a[0] != '-' || a[1] == '\0') {
			if (cmd) {
				fprintf(stderr, "prenv: error: unexpected argument '%s'; see `prenv %s --help`\n",
					a, cmd->name);
				return 2;
			}
			if (!(cmd = find_cmd(a))) {
				fprintf(stderr, "prenv: error: unknown command '%s'\n\n", a);
				print_usage(stderr);
				return 2;
			}
			continue;
		}
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			help = 1;
		} else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			cli.verbosity++;
		} else if (!strcmp(a, "-vv")) {
			cli.verbosity += 2;
		} else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
			cli.verbosity = LOG_QUIET;
		} else if (!strcmp(a, "--dry-run")) {
			cli.dry_run = 1;
		} else if (!strcmp(a, "--allow-missing")) {
			cli.allow_missing = 1;
		} else if (!strcmp(a, "--no-wait")) {
			cli.no_wait = 1;
		} else if (!strcmp(a, "--strict-report")) {
			cli.strict_report = 1;
		} else if (!strcmp(a, "-c") || opt_is(a, "--config")) {
			if (!(cli.config_path = opt_arg(argc, argv, &i, a, "--config")))
				return 2;
		} else if (!strcmp(a, "-o") || opt_is(a, "--output")) {
			if (!(cli.output = opt_arg(argc, argv, &i, a, "--output")))
				return 2;
			if (strcmp(cli.output, "text") && strcmp(cli.output, "json") &&
			    strcmp(cli.output, "yaml")) {
				fprintf(stderr, "prenv: error: -o takes text, json or yaml, not '%s'\n", cli.output);
				return 2;
			}
		} else if (opt_is(a, "--out")) {
			if (!(cli.out_dir = opt_arg(argc, argv, &i, a, "--out")))
				return 2;
		} else if (opt_is(a, "--kubeconfig")) {
			if (!(cli.kubeconfig = opt_arg(argc, argv, &i, a, "--kubeconfig")))
				return 2;
		} else if (opt_is(a, "--wait")) {
			if (!(v = opt_arg(argc, argv, &i, a, "--wait")))
				return 2;
			if (parse_int_arg(v, &cli.wait_seconds) < 0) {
				fprintf(stderr, "prenv: error: --wait takes seconds (0 = don't wait), not '%s'\n", v);
				return 2;
			}
		} else {
			fprintf(stderr, "prenv: error: unknown option '%s'; see `prenv --help`\n", a);
			return 2;
		}
	}
	if (i < argc) {
		fprintf(stderr, "prenv: error: unexpected argument '%s'\n", argv[i]);
		return 2;
	}
	if (help) {
		if (cmd)
			printf("usage: prenv [global options] %s [options]\n\n%s\n%s", cmd->name,
			       cmd->summary, cmd->help);
		else
			print_usage(stdout);
		return 0;
	}
	if (!cmd) {
		print_usage(stderr);
		return 2;
	}

	color = isatty(2) && !ci_getenv(envp, "NO_COLOR") && !ci_getenv(envp, "CI");
	log_setup(log_ci_from_env(envp), cli.verbosity, color);
	register_env_secrets(envp);

	rc = cmd->fn(&cli, &err);
	if (rc < 0) {
		if (!err.code)
			prenv_err_set(&err, rc, "%s failed", cmd->name);
		log_err(&err);
	}
	rc = prenv_err_exit_code(rc);
	codehost_free(cli.codehost);
	plan_free(cli.plan);
	config_free(cli.cfg);
	ci_context_free(cli.ctx);
	prenv_err_clear(&err);
	log_reset();
	return rc;
}
