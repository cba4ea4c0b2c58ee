/* cmd_deploy.c - `prenv deploy`: render, deploy through the provider
 * session, report. */
#include "cli/cli.h"

#include <string.h>

#include "config/config.h"
#include "config/plan.h"
#include "context/ci.h"
#include "lifecycle/urlcheck.h"
#include "util/err.h"
#include "util/log.h"

/* Whether this run deploys at all: a fork's PR under `forks: skip` (or
 * --forks skip, which wins over the config) does not. */
static int deploy_wanted(const struct cli *cli)
{
	const struct prenv_context *c = cli->ctx;
	const char *forks = cli->forks ? cli->forks : cli->cfg->forks;

	if (c->has_pr && c->pr_fork && strcmp(forks, "deploy") != 0) {
		if (cli->forks)
			log_info("not deploying: pull request #%ld comes from a fork and --forks skip says "
				 "so", c->pr_number);
		else
			log_info("not deploying: pull request #%ld comes from a fork and %s says `forks: "
				 "skip` (a fork's code must not run with this repository's secrets; see the "
				 "fork-safe workflow in ci-examples/)", c->pr_number, cli->cfg->path);
		return 0;
	}
	if (c->has_pr && c->pr_state && strcmp(c->pr_state, "open") != 0)
		log_warn("pull request #%ld is %s; deploying anyway (run `prenv destroy` on close)",
			 c->pr_number, c->pr_state);
	return 1;
}

/* The status of a deploy the provider finished: "applied" when nobody
 * waited to see it work (the provider's `wait: 0`, --wait 0, --no-wait),
 * else "ready". */
static const char *deployed_status(const struct cli *cli, const struct provider_result *res)
{
	const char *why = NULL;

	if (cli->no_wait)
		why = "--no-wait";
	else if (cli->wait_seconds == 0)
		why = "--wait 0";
	else if (res->status && !strcmp(res->status, "applied"))
		why = "provider.wait is 0";
	if (!why)
		return "ready";
	log_info("applied, not waited for (%s): prenv did not check that %s is ready",
		 why, cli->plan->env_name);
	return "applied";
}

/* A deploy the provider finished: "ready" only once the URL check (when
 * the config has one) passed; a failed check is a failed deploy (exit 1). */
static int deploy_done(struct cli *cli, const struct urlcheck *uc, const struct provider_result *res,
		       struct prenv_err *err)
{
	const char *status = deployed_status(cli, res);
	const char *url = res->url ? res->url : cli->plan->url;
	int rc;

	if (uc->ck && !strcmp(status, "applied"))
		log_info("URL check skipped: the deploy was not waited for");
	else if (uc->ck && (rc = urlcheck_run(uc, url, err)) < 0) {
		reporter_result(&cli->rep, "failed", url, err->msg, NULL);
		return rc;
	}
	return reporter_result(&cli->rep, status, url, NULL, err);
}

static int cmd_deploy(struct cli *cli, struct prenv_err *err)
{
	struct urlcheck uc;
	struct provider_result res;
	cJSON *objs = NULL;
	int rc;

	if (cli->env_name)
		return prenv_err_set(err, PRENV_ECONFIG, "deploy does not take --env: it deploys this "
				     "run's environment (the rules of the configuration name it)");
	rc = cli_load(cli, 1, err);
	if (rc < 0 || (rc = cli_provider_begin(cli, err)) < 0)
		return rc;
	if (!deploy_wanted(cli)) {
		reporter_outputs(&cli->rep, "skipped", "the pull request comes from a fork and the "
				 "configuration says `forks: skip`");
		return 0;
	}
	cli->image_check = 1; /* before anything is applied */
	/* the secrets' values: an unset one is exit 2 before anything happens */
	if ((rc = cli_secrets_resolve(cli, err)) < 0)
		return rc;
	if ((rc = urlcheck_prepare(&uc, cli->cfg, cli->plan, err)) < 0 ||
	    (!cli->cfg->nphases && (rc = cli_render_objects(cli, &objs, err)) < 0)) {
		urlcheck_free(&uc);
		return rc;
	}
	if (cli->cfg->nphases) {
		rc = cli_deploy_phases(cli, &uc, err);
		urlcheck_free(&uc);
		return rc;
	}
	log_group_begin("prenv deploy");
	log_info("deploying %s environment %s of %s%s", env_kind_name(cli->plan->kind),
		 cli->plan->env_name, cli->cfg->app, cli->dry_run ? " (dry run)" : "");
	if ((rc = cli_deploy_precheck(cli, &cli->run, objs, err)) < 0) {
		log_group_end();
		urlcheck_free(&uc);
		cJSON_Delete(objs);
		return rc;
	}
	if (!cli->dry_run)
		reporter_progress(&cli->rep);
	memset(&res, 0, sizeof(res));
	rc = cli->session->provider->deploy(cli->session, &cli->run, objs, &res, err);
	log_group_end();
	rc = cli_deploy_report(cli, rc, &uc, &res, err);
	urlcheck_free(&uc);
	provider_result_clear(&res);
	cJSON_Delete(objs);
	return rc;
}

int cli_deploy_precheck(struct cli *cli, const struct provider_run *run, const cJSON *objects,
			struct prenv_err *err)
{
	const struct prenv_provider *p = cli->session->provider;

	/* without either, deploy's own order already checks before writing */
	if (cli->dry_run || !p->precheck || (!cli->cfg->nphases && !reporter_has_host(&cli->rep)))
		return 0;
	return p->precheck(cli->session, run, objects, err);
}

int cli_deploy_report(struct cli *cli, int rc, const struct urlcheck *uc, struct provider_result *res,
		      struct prenv_err *err)
{
	if (cli->dry_run) {
		log_info("dry run: nothing was changed");
	} else if (rc < 0) {
		/* Exit 2 promises that nothing changed; once the PR was told a
		 * deploy started, a configuration error the provider finds is a
		 * failed deploy (exit 1), and is reported as such. */
		if (rc == PRENV_ECONFIG && cli->rep.host) {
			rc = PRENV_EFAIL;
			err->code = PRENV_EFAIL;
		}
		if (res->detail)
			log_error("last output:\n%s", res->detail);
		reporter_result(&cli->rep, "failed", res->url ? res->url : cli->plan->url,
				res->reason ? res->reason : err->msg, NULL);
	} else {
		rc = deploy_done(cli, uc, res, err);
	}
	return rc;
}

const struct cmd_entry cmd_deploy_entry = {
	"deploy", cmd_deploy, "create or update the environment, wait until ready, report the URL",
	"Creates or updates the environment through the configured provider,\n"
	"waits until it is ready and reports the URL (PR comment, job outputs).\n"
	"  --dry-run        show what would happen, change nothing\n"
	"  --wait DURATION  bound the wait: 300, 300s, 5m, 1h30m (0 = don't wait; at most 365d)\n"
	"  --strict-report  fail when reporting to the code host fails\n"
	"  --forks deploy|skip  pull requests from forks, over the config's forks:\n"
	"                   (deploy only in the privileged stage of the fork-safe pair)\n"
	"  --reseed         run the `run: once` phases again (phases:)\n",
	1,
};
