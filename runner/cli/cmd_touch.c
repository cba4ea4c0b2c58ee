/* cmd_touch.c - `prenv touch`: the environment is in use (sleep_after
 * counts from now). */
#include "cli/cli.h"

#include "config/config.h"
#include "config/plan.h"
#include "util/err.h"
#include "util/log.h"

static int cmd_touch(struct cli *cli, struct prenv_err *err)
{
	int rc = cli_lifecycle_begin(cli, "touch", err);

	if (rc < 0)
		return rc;
	rc = cli->session->provider->touch(cli->session, &cli->run, err);
	if (rc == 0)
		log_info("environment %s of %s touched: its sleep_after counts from now%s",
			 cli->plan->env_name, cli->cfg->app, cli->dry_run ? " (dry run: nothing written)" : "");
	return rc;
}

const struct cmd_entry cmd_touch_entry = {
	"touch", cmd_touch, "note that the environment is in use (restarts sleep_after)",
	"Records now as the environment's last activity: gc puts an environment\n"
	"to sleep after its rule's sleep_after without a deploy, touch or wake.\n"
	"Does not wake a sleeping environment (`prenv wake` does).\n"
	"  --env NAME       another environment than this run's\n",
	0,
};
