/* cmd_destroy.c - `prenv destroy`: delete the environment, report it. */
#include "cli/cli.h"

#include <string.h>

#include "config/config.h"
#include "config/plan.h"
#include "context/ci.h"
#include "util/err.h"
#include "util/log.h"

static int cmd_destroy(struct cli *cli, struct prenv_err *err)
{
	struct provider_result res;
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
	rc = cli->session->provider->destroy(cli->session, &cli->run, &res, err);
	if (rc == 0 && !cli->dry_run)
		rc = reporter_result(&cli->rep, "destroyed", NULL, NULL, err);
	provider_result_clear(&res);
	return rc;
}

const struct cmd_entry cmd_destroy_entry = {
	"destroy", cmd_destroy, "delete the environment, report it",
	"Deletes the environment (refused for protected environments) and marks\n"
	"the PR comment destroyed. An environment that is already gone is success.\n"
	"  --no-wait        do not wait until it is gone\n"
	"  --dry-run        show what would happen, change nothing\n",
	1,
};
