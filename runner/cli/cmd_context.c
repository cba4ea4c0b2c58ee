/* cmd_context.c - `prenv context`: what was detected and the environment
 * chosen. Needs no network. */
#include "cli/cli.h"

#include <stdlib.h>

#include "config/config.h"
#include "config/plan.h"
#include "context/ci.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"

/* "env": the plan; null with "env_reason" when no rule matches (why: the
 * reason, or NULL). */
static int context_json(const struct cli *cli, const char *why, struct prenv_err *err)
{
	cJSON *o = ci_context_to_json(cli->ctx);

	if (!o)
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	if (cli->plan) {
		cJSON_AddItemToObject(o, "env", plan_to_json(cli->plan));
		if (cli_logical_summary(cli))
			cJSON_AddItemToObject(o, "logical", cJSON_Duplicate(cli_logical_summary(cli), 1));
	} else if (why) {
		cJSON_AddNullToObject(o, "env");
		cJSON_AddStringToObject(o, "env_reason", why);
	}
	cli_print_json(o);
	cJSON_Delete(o);
	return 0;
}

/* "event", "pr": rows built from several fields. */
static void context_rows(struct prenv_buf *b, const struct prenv_context *c)
{
	struct prenv_buf v = PRENV_BUF_INIT;

	cli_text_row(b, "ci", c->ci);
	if (c->event) {
		prenv_buf_printf(&v, "%s%s%s%s", c->event, c->action ? " (" : "",
				 c->action ? c->action : "", c->action ? ")" : "");
		cli_text_row(b, "event", v.ptr);
		prenv_buf_reset(&v);
	}
	cli_text_row(b, "repository", c->repo_full_name);
	if (c->repo_url)
		cli_text_row(b, "repo url", c->repo_url);
	if (!c->branch && c->tag)
		cli_text_row(b, "tag", c->tag);
	else
		cli_text_row(b, "branch", c->branch ? c->branch : "(detached HEAD)");
	if (c->base_branch)
		cli_text_row(b, "base branch", c->base_branch);
	cli_text_row(b, "sha", c->sha);
	if (c->has_pr) {
		prenv_buf_printf(&v, "#%ld %s%s", c->pr_number, c->pr_state ? c->pr_state : "",
				 c->pr_fork ? ", from a fork" : "");
		cli_text_row(b, "pr", v.ptr);
		cli_text_row(b, "pr title", c->pr_title);
		cli_text_row(b, "pr author", c->pr_author);
		cli_text_row(b, "pr url", c->pr_url);
	} else {
		cli_text_row(b, "pr", "(none)");
	}
	if (c->run_url)
		cli_text_row(b, "run url", c->run_url);
	prenv_buf_free(&v);
}

/* A logical environment: one row per service, deployed or borrowed, and why. */
static void logical_rows(struct prenv_buf *b, const cJSON *summary)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(summary, "services")) {
		struct prenv_buf v = PRENV_BUF_INIT;
		const char *why = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "why"));

		prenv_buf_printf(&v, "%s: %s%s",
				 cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "name")),
				 cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "deployed")) ? "deployed, " : "",
				 why ? why : "");
		cli_text_row(b, "service", v.ptr);
		prenv_buf_free(&v);
	}
}

/* The plan, when a rule matches. `context` is a diagnostic: a run that no
 * rule matches is shown without an environment, with the reason in *why
 * ("file:line:col: message", the caller's), and is no error. */
static int context_plan(struct cli *cli, char **why, struct prenv_err *err)
{
	struct prenv_err nomatch = PRENV_ERR_INIT;
	struct prenv_buf b = PRENV_BUF_INIT;

	*why = NULL;
	if (!cli->cfg)
		return 0;
	if (plan_find_rule(cli->cfg, cli->ctx, &nomatch))
		return plan_make(&cli->plan, cli->cfg, cli->ctx, err);
	prenv_buf_printf(&b, "%s:%d:%d: %s", nomatch.file ? nomatch.file : cli->cfg->path,
			 nomatch.line, nomatch.col, nomatch.msg ? nomatch.msg : "no rule matches");
	prenv_err_clear(&nomatch);
	if (b.failed)
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	*why = prenv_buf_detach(&b, NULL);
	return 0;
}

static int cmd_context(struct cli *cli, struct prenv_err *err)
{
	struct prenv_buf b = PRENV_BUF_INIT, v = PRENV_BUF_INIT;
	char *why = NULL;
	int rc = cli_load_config(cli, -1, err);

	if (rc < 0 || (rc = context_plan(cli, &why, err)) < 0 || (rc = cli_logical_plan(cli, err)) < 0)
		return rc;
	if (cli_want_json(cli)) {
		rc = context_json(cli, why, err);
		free(why);
		return rc;
	}
	context_rows(&b, cli->ctx);
	if (cli->plan) {
		const struct prenv_plan *p = cli->plan;

		prenv_buf_printf(&v, "%s (%s%s)", p->env_name, env_kind_name(p->kind),
				 p->protected_ ? ", protected" : "");
		cli_text_row(&b, "environment", v.ptr);
		cli_text_row(&b, "namespace", p->namespace_);
		cli_text_row(&b, "url", p->url);
		logical_rows(&b, cli_logical_summary(cli));
	} else if (why) {
		prenv_buf_printf(&v, "(none) %s", why);
		cli_text_row(&b, "environment", v.ptr);
	} else {
		cli_text_row(&b, "environment", "(no .prenv.yml found)");
	}
	log_out(b.ptr, b.len);
	prenv_buf_free(&b);
	prenv_buf_free(&v);
	free(why);
	return 0;
}

const struct cmd_entry cmd_context_entry = {
	"context", cmd_context,
	"what was detected (CI, repo, branch, sha, PR) and the environment chosen",
	"Prints the detected CI context and, when a configuration is found, the\n"
	"environment this run is for (or, when no rule matches, none and why: a\n"
	"diagnostic, it exits 0); for a logical environment each service, deployed\n"
	"or borrowed, and why. Needs no network.\n"
	"  -o text|json   output format (default text)\n",
	0,
};
