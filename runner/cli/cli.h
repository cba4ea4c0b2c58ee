/* cli.h - the tool: one invocation of prenv (parsed options, what was
 * loaded, the provider session, the reporter) and the commands, one
 * cmd_<name>.c each, found in the table of cli.c.
 *
 * The tool is the only place that knows every stage: it runs the flow
 * context -> config/plan -> render -> provider -> report for a command and
 * maps the result to the exit code. It holds no policy of its own (that is
 * report/policy.c and lifecycle/).
 */
#ifndef PRENV_CLI_H
#define PRENV_CLI_H

#include <cjson/cJSON.h>

#include "provider.h"
#include "report/policy.h"

struct prenv_buf;
struct prenv_err;
struct codehost;

struct cli {
	const char *const *envp;
	const char *config_path;   /* -c FILE, or NULL: PRENV_CONFIG, .prenv.yml */
	const char *output;        /* "text", "json", "yaml" (render) */
	int verbosity;             /* LOG_QUIET .. LOG_DEBUG */
	int dry_run;
	int allow_missing;
	int no_wait;
	int strict_report;
	int wait_seconds;          /* --wait; -1: config */
	int reseed;                /* deploy --reseed: run `run: once` phases again */
	int keep_on_teardown_failure; /* destroy, gc: keep an environment whose teardown failed */
	const char *forks;         /* --forks deploy|skip, or NULL: the config's */
	const char *out_dir;       /* render --out */
	const char *kubeconfig;    /* --kubeconfig */
	const char *env_name;      /* --env NAME: any environment, not this run's */
	long long now;             /* --now TIME (unix seconds), 0: the clock */
	int all;                   /* status --all: every environment in every context */
	int laptop_fallback;       /* render, status: a local run no rule matches
				    * gets the environment of its branch */
	int image_check;           /* deploy: services' image_check is done
				    * (resolve/image_check.h); render and status
				    * show the images unchecked */
	/* filled by cli_load() */
	struct prenv_context *ctx;
	struct prenv_config *cfg;
	struct prenv_plan *plan;
	/* a code host session opened early (a fork's workflow_run looks its
	 * pull request up); handed to the reporter */
	struct codehost *codehost;
	/* filled by cli_provider_begin() */
	struct provider_session *session;
	struct provider_run run;
	struct provider_note_ref notes;
	struct reporter rep;
	/* filled by cli_secrets_resolve() (deploy): the values of the config's
	 * secrets:/access:, handed to the provider as run.secrets */
	cJSON *secrets;
	/* filled by cli_logical_plan() (logical.c): a logical environment's
	 * decision, or NULL (no `logical:`, or a full copy this run) */
	struct cli_logical *logical;
	/* render: cli_render_dir hands each template file's objects here as
	 * soon as they are checked (render_opts.sink); NULL: collected */
	int (*render_sink)(void *ud, cJSON *objects, struct prenv_err *err);
	void *render_sink_ud;
};

/* One command: `prenv NAME`. */
struct cmd_entry {
	const char *name;
	int (*fn)(struct cli *cli, struct prenv_err *err);
	const char *summary;
	const char *help;
	int outputs;     /* writes the job outputs: also when it fails early */
};

extern const struct cmd_entry cmd_context_entry;
extern const struct cmd_entry cmd_render_entry;
extern const struct cmd_entry cmd_deploy_entry;
extern const struct cmd_entry cmd_destroy_entry;
extern const struct cmd_entry cmd_status_entry;
extern const struct cmd_entry cmd_gc_entry;
extern const struct cmd_entry cmd_sleep_entry;
extern const struct cmd_entry cmd_wake_entry;
extern const struct cmd_entry cmd_touch_entry;
extern const struct cmd_entry cmd_list_entry;
extern const struct cmd_entry cmd_version_entry;

/* Runs prenv with argv and the environment envp; returns the exit code
 * (0 ok, 1 failed, 2 usage/config, 3 auth). */
int prenv_main(int argc, char **argv, const char *const *envp);

/* ------------------------------------------------------------ load.c */

/* Detects the context and loads the config when need_config (or when a
 * config exists and need_config < 0); makes no plan. */
int cli_load_config(struct cli *cli, int need_config, struct prenv_err *err);
/* The same, and the plan when there is a config. */
int cli_load(struct cli *cli, int need_config, struct prenv_err *err);
/* The provider of the config, its session and the operations' arguments
 * (cli->run; plan as loaded, NULL for gc), and the reporter. */
int cli_provider_begin(struct cli *cli, struct prenv_err *err);
/* sleep, wake, touch (what): cli_load + cli_provider_begin, and
 * PRENV_ECONFIG "not supported by provider X" when the provider has no
 * such slot (before any request). */
int cli_lifecycle_begin(struct cli *cli, const char *what, struct prenv_err *err);
/* Renders the configured templates into *out (NULL when the config names
 * no templates directory). With services: cli_render_services. */
int cli_render_objects(struct cli *cli, cJSON **out, struct prenv_err *err);
/* Renders the templates directory templates (relative to the config; at
 * line:col of the config for an empty one) with vars; open_names: see
 * render_opts (NULL: none). */
int cli_render_dir(struct cli *cli, const char *templates, int line, int col, const cJSON *vars,
		   const char *const *open_names, cJSON **out, struct prenv_err *err);

/* ------------------------------------------------------------ cmd_gc.c, cmd_status_all.c */

/* "250m" / "2" CPU and "256Mi" memory, appended to b (the cost figures of
 * gc and status --all). */
void cli_fmt_cpu(struct prenv_buf *b, double millis);
void cli_fmt_mem(struct prenv_buf *b, double bytes);
/* load, the provider session and its list (cmd_list.c): *envs (the
 * caller's) NULL when the provider cannot list (a warning said so, and
 * "[]" went to stdout with -o json). */
int cli_list(struct cli *cli, cJSON **envs, struct prenv_err *err);
/* `prenv status --all`: every environment of the app in every context the
 * rules name. */
int cli_status_all(struct cli *cli, struct prenv_err *err);

/* ------------------------------------------------------------ cmd_deploy.c */

/* The end of a deploy: the result of the provider's deploy (rc, res)
 * reported (PR comment, outputs, stdout). Returns the command's code. */
struct urlcheck;
int cli_deploy_report(struct cli *cli, int rc, const struct urlcheck *uc, struct provider_result *res,
		      struct prenv_err *err);

/* Before the pull request is told that a deploy started (a code host to
 * report to) and before a first phase is applied (phases:): the provider's
 * read-only checks of what its deploy of objects would refuse (provider
 * precheck), so such a run exits 2 or 3 having changed and said nothing.
 * 0 when there is nothing to check (a dry run writes nothing). */
int cli_deploy_precheck(struct cli *cli, const struct provider_run *run, const cJSON *objects,
			struct prenv_err *err);

/* ------------------------------------------------------------ phases.c */

/* deploy of a configuration with `phases:`: every phase rendered and
 * checked first (exit 2, nothing changed), then applied and waited on in
 * order, stopping at the first that fails; reported like a deploy. */
int cli_deploy_phases(struct cli *cli, const struct urlcheck *uc, struct prenv_err *err);
/* Every phase's objects in order, for `prenv render` (outputs of earlier
 * phases render as a placeholder, TMPL_OPEN_PLACEHOLDER). */
int cli_render_phases(struct cli *cli, cJSON **out, struct prenv_err *err);
/* The on_destroy Jobs of the environment of base (its plan) rendered with
 * vars and run, waited on at most on_destroy.timeout. 0 when there are
 * none or they completed (or the environment is absent); PRENV_ECONFIG for
 * a template error (nothing run); PRENV_EFAIL when they failed. */
int cli_teardown(struct cli *cli, const struct provider_run *base, const cJSON *vars,
		 struct prenv_err *err);
/* gc_opts.teardown: cli_teardown with the variables of run's environment
 * (ud: the struct cli). */
int cli_gc_teardown(void *ud, const struct provider_run *run, struct prenv_err *err);
/* services.c: asks every service's repository for its branch (once per
 * run; resolve/services.h) and hands the answer to the plan; then renders
 * each service's templates with its service.* and labels its objects
 * (prenv.dev/service, -repo, -branch, -sha). */
int cli_resolve_services(struct cli *cli, struct prenv_err *err);
int cli_render_services(struct cli *cli, cJSON **out, struct prenv_err *err);
/* One service's templates rendered with vars (which hold services.*;
 * service.* is set from services.<name>) and open_names (render_opts),
 * labelled, and moved into all: an object all has already is PRENV_ECONFIG
 * naming both services. Services resolved first (cli_resolve_services). */
struct config_service;
int cli_render_service(struct cli *cli, const struct config_service *s, const cJSON *vars,
		       const char *const *open_names, cJSON *all, struct prenv_err *err);

/* ------------------------------------------------------------ logical.c */
/* A logical environment (`logical:`, issue 13): decides once per run
 * (idempotent) whether this run is one (a PR, a rule that does not say
 * `logical: false`, not the baseline itself), reads the files the change
 * touched from the checkout, computes which services are deployed and
 * which borrowed (config/logical.h), logs a line for each and hands the
 * provider run.logical. PRENV_ECONFIG
 * when the provider cannot do it or the baseline's name cannot be one. */
struct cli_logical;
int cli_logical_plan(struct cli *cli, struct prenv_err *err);
/* Adds "logical" ("deployed"/"borrowed") and "logical_why" to each entry
 * of plan->services (after cli_resolve_services; no-op without one). */
void cli_logical_annotate(struct cli *cli);
/* Whether service i of the config is deployed this run (1 without a
 * logical decision). */
int cli_logical_deployed(const struct cli *cli, size_t i);
/* Where the borrowed services' rendered objects go (owned by cli), or NULL. */
cJSON *cli_logical_borrowed(struct cli *cli);
/* {"baseline", "baseline_namespace", "merge_base", "reason", "services":
 * [{"name", "deployed", "why"}]} or NULL; borrowed from cli. */
const cJSON *cli_logical_summary(const struct cli *cli);
void cli_logical_free(struct cli_logical *lg);

/* ------------------------------------------------------------ output */

int cli_want_json(const struct cli *cli);
/* "label        value\n", the value sanitised for a terminal/CI log. */
void cli_text_row(struct prenv_buf *b, const char *label, const char *value);
/* Prints o (pretty) and a newline on stdout; NULL prints nothing. */
void cli_print_json(const cJSON *o);

/* secrets.c: the Secret that access.basic_auth writes (its htpasswd). */
#define CLI_BASIC_AUTH_SECRET "prenv-basic-auth"
/* Reads, checks and masks the values of the config's secrets: and access:
 * (deploy): a listed variable unset or empty, or image_pull without
 * credentials, is PRENV_ECONFIG naming it and where the config lists it.
 * Sets cli->secrets and cli->run.secrets (call after cli_provider_begin). */
int cli_secrets_resolve(struct cli *cli, struct prenv_err *err);

#endif
