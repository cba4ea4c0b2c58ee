/* cmd_sleep.c - `prenv sleep`: put the environment to sleep, report it. */
#include "cli/cli.h"

#include <string.h>
#include <time.h>

#include "config/config.h"
#include "config/plan.h"
#include "lifecycle/gc.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"

static int cmd_sleep(struct cli *cli, struct prenv_err *err)
{
	struct provider_result res;
	struct prenv_buf until = PRENV_BUF_INIT;
	int rc = cli_lifecycle_begin(cli, "sleep", err);

	if (rc < 0)
		return rc;
	if (cli->plan->protected_)
		return prenv_err_set(err, PRENV_ECONFIG,
				     "environment %s is protected (protected: true in %s); prenv will not put it "
				     "to sleep", cli->plan->env_name, cli->cfg->path);
	memset(&res, 0, sizeof(res));
	log_info("putting environment %s of %s to sleep%s", cli->plan->env_name, cli->cfg->app,
		 cli->dry_run ? " (dry run)" : "");
	rc = cli->session->provider->sleep(cli->session, &cli->run, &res, err);
	if (rc == 0 && res.status && !strcmp(res.status, "absent"))
		rc = prenv_err_set(err, PRENV_EFAIL, "environment %s does not exist: nothing to put to sleep",
				   cli->plan->env_name);
	gc_sleep_until(&until, cli->plan->rule, cli->now > 0 ? (time_t)cli->now : time(NULL));
	if (rc == 0 && !cli->dry_run)
		rc = reporter_result(&cli->rep, "sleeping", NULL, until.ptr, err);
	prenv_buf_free(&until);
	provider_result_clear(&res);
	return rc;
}

const struct cmd_entry cmd_sleep_entry = {
	"sleep", cmd_sleep, "put the environment to sleep (nothing runs; wake restores it)",
	"Stops what the environment runs and remembers how to start it again\n"
	"(kubernetes: Deployments and StatefulSets scaled to 0, the previous counts\n"
	"kept in an annotation; CronJobs suspended). The PR comment says it sleeps\n"
	"and until when its schedule wakes it. Refused for protected environments;\n"
	"an environment asleep already is left as it is.\n"
	"  --env NAME       another environment than this run's\n"
	"  --dry-run        say what would change, change nothing\n",
	1,
};
