/* cli.h - shared state of one prenv invocation (parsed options, detected
 * context, loaded config, plan), used by the cmd_* functions. */
#ifndef PRENV_CLI_H
#define PRENV_CLI_H

#include "context/ci.h"
#include "config/config.h"
#include "config/plan.h"
#include "provider.h"

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
	/* the provider of this run and its arguments, for the notes it keeps
	 * (the remembered PR comment id); NULL/unset before a provider runs */
	const struct prenv_provider *prov;
	const struct provider_run *run;
	long long comment_id;      /* remembered or written PR comment id; 0 */
	int comment_id_read;       /* the provider's note was read */
};

#endif
