/* cmd_wake.c - `prenv wake`: wake a sleeping environment, report it. */
#include "cli/cli.h"

#include <string.h>

#include "config/config.h"
#include "config/plan.h"
#include "util/err.h"
#include "util/log.h"

static int cmd_wake(struct cli *cli, struct prenv_err *err)
{
	struct provider_result res;
	int rc = cli_lifecycle_begin(cli, "wake", err);

	if (rc < 0)
		return rc;
	memset(&res, 0, sizeof(res));
	log_info("waking environment %s of %s%s", cli->plan->env_name, cli->cfg->app,
		 cli->dry_run ? " (dry run)" : "");
	rc = cli->session->provider->wake(cli->session, &cli->run, &res, err);
	if (rc == 0 && res.status && !strcmp(res.status, "absent"))
		rc = prenv_err_set(err, PRENV_EFAIL, "environment %s does not exist: nothing to wake",
				   cli->plan->env_name);
	if (rc == 0 && !cli->dry_run) {
		rc = reporter_result(&cli->rep, "ready", res.url ? res.url : cli->plan->url, NULL, err);
	} else if (rc < 0 && !cli->dry_run && res.status && !strcmp(res.status, "failed")) {
		struct prenv_err rerr = PRENV_ERR_INIT;

		(void)reporter_result(&cli->rep, "failed", cli->plan->url, res.reason, &rerr);
		prenv_err_clear(&rerr);
	}
	provider_result_clear(&res);
	return rc;
}

const struct cmd_entry cmd_wake_entry = {
	"wake", cmd_wake, "wake a sleeping environment",
	"Starts again exactly what `prenv sleep` (or gc) stopped: the recorded\n"
	"replica counts, the CronJobs that were not suspended before. The PR\n"
	"comment shows the environment ready again. An awake environment is left\n"
	"as it is. A deploy wakes a sleeping environment too.\n"
	"  --env NAME       another environment than this run's\n"
	"  --wait DURATION  wait until what was started is ready (default: do not wait)\n"
	"  --dry-run        say what would change, change nothing\n",
	1,
};
