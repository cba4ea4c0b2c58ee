/* cmd_destroy.c - `prenv destroy`: delete the environment, report it. */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/plan.h"
#include "context/ci.h"
#include "util/err.h"
#include "util/log.h"

/* The on_destroy Jobs before the namespace goes. Returns 0 to go on with
 * the destroy (*failed set when they failed and the environment goes
 * anyway), or the code to stop with. */
static int destroy_teardown(struct cli *cli, char **failed, struct prenv_err *err)
{
	int rc = cli_teardown(cli, &cli->run, cli->plan->vars, err);

	if (rc == 0 || rc == PRENV_ECONFIG)
		return rc;
	if (cli->keep_on_teardown_failure) {
		log_error("%s", err->msg);
		prenv_err_prefix(err, "environment %s kept (--keep-on-teardown-failure)", cli->plan->env_name);
		reporter_result(&cli->rep, "failed", NULL, err->msg, NULL);
		return rc;
	}
	log_error("%s", err->msg);
	log_warn("deleting environment %s anyway (--keep-on-teardown-failure would keep it)",
		 cli->plan->env_name);
	*failed = err->msg;
	err->msg = NULL;
	prenv_err_clear(err);
	return 0;
}

static int cmd_destroy(struct cli *cli, struct prenv_err *err)
{
	struct provider_result res;
	char *failed = NULL;
	int rc = cli_load(cli, 1, err);

	if (rc < 0 || (rc = cli_provider_begin(cli, err)) < 0)
		return rc;
	if (cli->plan->protected_)
		return prenv_err_set(err, PRENV_ECONFIG,
				     "environment %s is protected (protected: true in %s); prenv will not destroy it",
				     cli->plan->env_name, cli->cfg->path);
	memset(&res, 0, sizeof(res));
	log_info("destroying environment %s of %s%s", cli->plan->env_name, cli->cfg->app,
		 cli->dry_run ? " (dry run)" : "");
	if (cli->ctx->has_pr && !cli->dry_run)
		(void)reporter_comment_id(&cli->rep); /* read it while the environment exists */
	if ((rc = destroy_teardown(cli, &failed, err)) < 0)
		return rc;
	rc = cli->session->provider->destroy(cli->session, &cli->run, &res, err);
	if (rc == 0 && !cli->dry_run)
		rc = reporter_result(&cli->rep, "destroyed", NULL, failed, err);
	if (rc == 0 && failed)
		rc = prenv_err_set(err, PRENV_EFAIL, "%s (the environment was deleted)", failed);
	free(failed);
	provider_result_clear(&res);
	return rc;
}

const struct cmd_entry cmd_destroy_entry = {
	"destroy", cmd_destroy, "delete the environment, report it",
	"Deletes the environment (refused for protected environments) and marks\n"
	"the PR comment destroyed. An environment that is already gone is success.\n"
	"  --no-wait        do not wait until it is gone\n"
	"  --dry-run        show what would happen, change nothing\n"
	"  --keep-on-teardown-failure  keep the environment when its on_destroy\n"
	"                   Jobs fail (exit 1 either way)\n",
	1,
};
