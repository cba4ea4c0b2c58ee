/* cli.h - shared state of one prenv invocation (parsed options, detected
 * context, loaded config, plan), used by the cmd_* functions. */
#ifndef PRENV_CLI_H
#define PRENV_CLI_H

#include "ci.h"
#include "config.h"
#include "plan.h"

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
	const char *out_dir;       /* render --out */
	const char *kubeconfig;    /* --kubeconfig */
	/* filled by cli_load() */
	struct prenv_context *ctx;
	struct prenv_config *cfg;
	struct prenv_plan *plan;
	/* the code host session (codehost.h), opened by the first report */
	struct codehost *codehost;
};

#endif
