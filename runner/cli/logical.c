/* logical.c - the commands' side of a logical environment (`logical:`,
 * issue 13): whether this run is one, the files the change touched (the
 * merge base of the PR's base and head, util/git.h), which services are
 * deployed and which borrowed (config/logical.h, pure), said in the log,
 * in plan->services (the report's table) and to the provider
 * (run->logical); see cli.h. */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/logical.h"
#include "config/plan.h"
#include "context/ci.h"
#include "registry.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/git.h"
#include "util/log.h"

struct cli_logical {
	char *baseline_ns;
	char *reason;                    /* why everything is deployed, or NULL */
	struct prenv_git_paths *changed; /* the choices borrow from it */
	struct logical_service *svcs;    /* the pure computation's input */
	const char **strs;               /* every paths/calls entry, borrowed from cfg */
	struct logical_choice *choices;  /* one per cfg->services */
	size_t ndeployed;
	cJSON *borrowed;                 /* the borrowed services' rendered objects */
	cJSON *summary;
	struct provider_logical pl;
};

void cli_logical_free(struct cli_logical *lg)
{
	if (!lg)
		return;
	free(lg->baseline_ns);
	free(lg->reason);
	prenv_git_paths_free(lg->changed);
	free(lg->svcs);
	free(lg->strs);
	free(lg->choices);
	cJSON_Delete(lg->borrowed);
	cJSON_Delete(lg->summary);
	free(lg);
}

/* Points *out at the strings of the JSON array keys[key] (stored in
 * strs from *used on). */
static size_t strs_of(const cJSON *keys, const char *key, const char **strs, size_t *used,
		      const char *const **out)
{
	const cJSON *e;
	size_t n = 0;

	*out = strs + *used;
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(keys, key))
		if (cJSON_IsString(e))
			strs[(*used)++] = e->valuestring, n++;
	return n;
}

static int build_input(struct cli_logical *lg, const struct prenv_config *cfg)
{
	size_t i, nstr = 0, used = 0;

	for (i = 0; i < cfg->nservices; i++)
		nstr += (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(cfg->services[i].keys, "paths")) +
			(size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(cfg->services[i].keys, "calls"));
	if (!(lg->svcs = calloc(cfg->nservices + 1, sizeof(*lg->svcs))) ||
	    !(lg->strs = calloc(nstr + 1, sizeof(*lg->strs))) ||
	    !(lg->choices = calloc(cfg->nservices + 1, sizeof(*lg->choices))))
		return -1;
	for (i = 0; i < cfg->nservices; i++) {
		const cJSON *keys = cfg->services[i].keys;

		lg->svcs[i].name = cfg->services[i].name;
		lg->svcs[i].npaths = strs_of(keys, "paths", lg->strs, &used, &lg->svcs[i].paths);
		lg->svcs[i].ncalls = strs_of(keys, "calls", lg->strs, &used, &lg->svcs[i].calls);
		lg->svcs[i].stateful = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(keys, "stateful"));
	}
	return 0;
}

/* The files changed between the merge base of base and the commit
 * deployed (else HEAD: a checkout of GitHub's merge commit has the same
 * merge base) and that commit. */
static int diff_from(struct cli_logical *lg, const struct cli *cli, const char *base,
		     struct prenv_err *e)
{
	int rc = -1;

	prenv_git_paths_free(lg->changed);
	lg->changed = NULL;
	if (cli->ctx->sha)
		rc = prenv_git_changed_paths(&lg->changed, cli->cfg->dir, base, cli->ctx->sha, e);
	if (rc < 0 && rc != PRENV_ENOMEM) {
		prenv_err_clear(e);
		rc = prenv_git_changed_paths(&lg->changed, cli->cfg->dir, base, "HEAD", e);
	}
	return rc;
}

/* The changed files; the base is the PR's base branch as the checkout
 * knows it: origin/<base>, else <base>. A checkout that cannot say deploys
 * everything (no merge base), with a warning. */
static int changed_files(struct cli_logical *lg, const struct cli *cli, struct prenv_err *err)
{
	struct prenv_buf base = PRENV_BUF_INIT;
	struct prenv_err e = PRENV_ERR_INIT;
	int rc;

	prenv_buf_printf(&base, "origin/%s", cli->ctx->base_branch);
	if (base.failed)
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	rc = diff_from(lg, cli, base.ptr, &e);
	if (rc == 0 && lg->changed->no_merge_base)
		rc = diff_from(lg, cli, cli->ctx->base_branch, &e);
	prenv_buf_free(&base);
	if (rc < 0 && rc != PRENV_ENOMEM) {
		log_warn("logical: cannot read the change from the checkout (%s): every service is deployed",
			 e.msg ? e.msg : "?");
		rc = (lg->changed = calloc(1, sizeof(*lg->changed))) ? 0 : PRENV_ENOMEM;
		if (rc == 0)
			lg->changed->no_merge_base = 1;
	}
	prenv_err_clear(&e);
	return rc < 0 ? prenv_err_set(err, PRENV_ENOMEM, "out of memory") : 0;
}

/* Whether this run is a logical environment; *why says why not (a line
 * for the log) when it is not, NULL when the config has no `logical:`. */
static int applies(const struct cli *cli, const char *baseline_ns, const char **why)
{
	const struct config_rule *r = cli->plan->rule;

	*why = NULL;
	if (!cli->cfg->logical.baseline)
		return 0;
	if (r && r->logical == 0)
		*why = "the rule says `logical: false`: a full copy";
	else if (!strcmp(cli->plan->env_name, cli->cfg->logical.baseline) ||
		 !strcmp(cli->plan->namespace_, baseline_ns))
		*why = "this is the baseline environment: a full copy";
	else if (!cli->ctx->has_pr || !cli->ctx->base_branch)
		*why = "not a pull request (no base branch to compare with): a full copy";
	return *why == NULL;
}

static int baseline_namespace(struct cli *cli, char **out, struct prenv_err *err)
{
	struct prenv_plan *bp = NULL;
	int rc;

	*out = NULL;
	if (cli->cfg->logical.namespace_)
		return (*out = strdup(cli->cfg->logical.namespace_)) ? 0
			: prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	if ((rc = plan_named(&bp, cli->cfg, cli->ctx, cli->cfg->logical.baseline, err)) < 0) {
		prenv_err_prefix(err, "the baseline environment %s (logical.baseline)",
				 cli->cfg->logical.baseline);
		return rc;
	}
	if (!(*out = strdup(bp->namespace_)))
		rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	plan_free(bp);
	return rc;
}

static void describe(const struct cli_logical *lg, size_t i, const char *baseline, char *buf,
		     size_t size)
{
	if (lg->choices[i].why == LOGICAL_BORROWED)
		snprintf(buf, size, "borrowed from %s (namespace %s)", baseline, lg->baseline_ns);
	else
		logical_describe(&lg->choices[i], buf, size);
}

/* The log lines and the summary (for the provider: status). */
static int tell(struct cli_logical *lg, struct cli *cli)
{
	const char *baseline = cli->cfg->logical.baseline;
	cJSON *list, *e;
	char why[512];
	size_t i;

	if (!(lg->summary = cJSON_CreateObject()))
		return -1;
	cJSON_AddStringToObject(lg->summary, "baseline", baseline);
	cJSON_AddStringToObject(lg->summary, "baseline_namespace", lg->baseline_ns);
	if (lg->changed->merge_base[0])
		cJSON_AddStringToObject(lg->summary, "merge_base", lg->changed->merge_base);
	list = cJSON_AddArrayToObject(lg->summary, "services");
	for (i = 0; i < cli->cfg->nservices; i++) {
		int dep = lg->choices[i].why != LOGICAL_BORROWED;

		describe(lg, i, baseline, why, sizeof(why));
		if (lg->choices[i].why == LOGICAL_ALL && !lg->reason) {
			lg->reason = strdup(why);
			log_info("logical: every service is deployed: %s", why + strlen("everything: "));
		}
		if (lg->choices[i].why != LOGICAL_ALL)
			log_info("logical: %s %s%s", cli->cfg->services[i].name, dep ? "deployed: " : "", why);
		if (!(e = cJSON_CreateObject()))
			return -1;
		cJSON_AddStringToObject(e, "name", cli->cfg->services[i].name);
		cJSON_AddBoolToObject(e, "deployed", dep);
		cJSON_AddStringToObject(e, "why", why);
		cJSON_AddItemToArray(list, e);
	}
	if (lg->reason)
		cJSON_AddStringToObject(lg->summary, "reason", lg->reason);
	return 0;
}

static int check_provider(const struct cli *cli, struct prenv_err *err)
{
	const struct prenv_provider *p = provider_find(cli->cfg->provider_kind);

	if (!p || p->logical)
		return 0;
	return prenv_err_set_at(err, PRENV_ECONFIG, cli->cfg->path, cli->cfg->logical.line,
				cli->cfg->logical.col, "'logical' needs provider.kind kubernetes: provider "
				"%s cannot reach a borrowed service in the baseline; remove it", p->name);
}

int cli_logical_plan(struct cli *cli, struct prenv_err *err)
{
	struct cli_logical *lg;
	struct logical_input in;
	const char *why;
	char *ns = NULL;
	int rc;

	if (cli->logical || !cli->cfg || !cli->plan || !cli->cfg->logical.baseline)
		return 0;
	if ((rc = check_provider(cli, err)) < 0 || (rc = baseline_namespace(cli, &ns, err)) < 0)
		return rc;
	if (!applies(cli, ns, &why)) {
		log_info("logical: %s", why);
		free(ns);
		return 0;
	}
	if (!(lg = calloc(1, sizeof(*lg)))) {
		free(ns);
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	}
	cli->logical = lg;
	lg->baseline_ns = ns;
	if (build_input(lg, cli->cfg) < 0 || !(lg->borrowed = cJSON_CreateArray()))
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	if ((rc = changed_files(lg, cli, err)) < 0)
		return rc;
	memset(&in, 0, sizeof(in));
	in.services = lg->svcs;
	in.nservices = cli->cfg->nservices;
	in.shared_paths = (const char *const *)cli->cfg->logical.shared_paths;
	in.nshared = cli->cfg->logical.nshared;
	in.changed = (const char *const *)lg->changed->v;
	in.nchanged = lg->changed->n;
	in.no_merge_base = lg->changed->no_merge_base;
	lg->ndeployed = logical_compute(&in, lg->choices);
	if (tell(lg, cli) < 0)
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	if (!lg->ndeployed)
		log_info("logical: the change touches no service's paths: every service is borrowed from %s",
			 cli->cfg->logical.baseline);
	lg->pl.baseline = cli->cfg->logical.baseline;
	lg->pl.baseline_ns = lg->baseline_ns;
	lg->pl.borrowed = lg->borrowed;
	lg->pl.summary = lg->summary;
	cli->run.logical = &lg->pl;
	return 0;
}

int cli_logical_deployed(const struct cli *cli, size_t i)
{
	return !cli->logical || cli->logical->choices[i].why != LOGICAL_BORROWED;
}

cJSON *cli_logical_borrowed(struct cli *cli)
{
	return cli->logical ? cli->logical->borrowed : NULL;
}

const cJSON *cli_logical_summary(const struct cli *cli)
{
	return cli->logical ? cli->logical->summary : NULL;
}

void cli_logical_annotate(struct cli *cli)
{
	const cJSON *e;
	cJSON *svc;
	int i = 0;

	if (!cli->logical)
		return;
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(cli->logical->summary, "services")) {
		if ((svc = cJSON_GetArrayItem(cli->plan->services, i++))) {
			cJSON_DeleteItemFromObjectCaseSensitive(svc, "logical");
			cJSON_DeleteItemFromObjectCaseSensitive(svc, "logical_why");
			cJSON_AddStringToObject(svc, "logical", cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
				e, "deployed")) ? "deployed" : "borrowed");
			cJSON_AddStringToObject(svc, "logical_why", cJSON_GetStringValue(
				cJSON_GetObjectItemCaseSensitive(e, "why")));
		}
	}
}
