/* cmd_gc.c - `prenv gc`: the lifecycle driver (lifecycle/gc.h) run from a
 * schedule, its lines or JSON on stdout. */
#include "cli/cli.h"

#include <string.h>
#include <time.h>

#include "config/config.h"
#include "lifecycle/gc.h"
#include "report/report.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"

/* One line per environment: "pr-7   destroyed (PR #7 closed)". */
static void gc_line(void *ud, const cJSON *e, int width)
{
	const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "name"));
	const char *action = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "action"));
	const char *why = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "reason"));
	const char *error = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "error"));
	struct prenv_buf line = PRENV_BUF_INIT;

	(void)ud;
	if (action && !strcmp(action, "would-destroy"))
		action = "would be destroyed";
	prenv_buf_printf(&line, "%-*s  %s (", width, name, action);
	report_sanitize_line(&line, why);
	prenv_buf_addc(&line, ')');
	if (error) {
		prenv_buf_adds(&line, ": ");
		report_sanitize_line(&line, error);
	}
	prenv_buf_addc(&line, '\n');
	log_out(line.ptr, line.len);
	prenv_buf_free(&line);
}

static const char *gc_target(const struct cli *cli)
{
	const cJSON *t = cli->cfg->provider ? cJSON_GetObjectItemCaseSensitive(cli->cfg->provider, "target")
		: NULL;

	return cJSON_IsString(t) ? t->valuestring : NULL;
}

static int cmd_gc(struct cli *cli, struct prenv_err *err)
{
	struct gc_opts o;
	cJSON *out = NULL;
	int rc = cli_load_config(cli, 1, err);

	if (rc < 0 || (rc = cli_provider_begin(cli, err)) < 0)
		return rc;
	memset(&o, 0, sizeof(o));
	o.cfg = cli->cfg;
	o.ctx = cli->ctx;
	o.session = cli->session;
	o.run = &cli->run;
	o.strict = cli->strict_report;
	o.now = time(NULL);
	if (!cli_want_json(cli))
		o.on_env = gc_line;
	if (cli->cfg->teardown_templates) {
		o.teardown = cli_gc_teardown;
		o.teardown_ud = cli;
		o.keep_on_teardown_failure = cli->keep_on_teardown_failure;
	}
	rc = gc_run(&o, &out, err);
	if (rc == 0 && !out) {
		log_warn("gc is not supported for provider %s%s%s: nothing done (destroy each "
			 "environment with `prenv destroy` when its pull request closes)",
			 cli->session->provider->name, gc_target(cli) ? " with target " : "",
			 gc_target(cli) ? gc_target(cli) : "");
		if (cli_want_json(cli))
			log_outs("[]\n");
		return 0;
	}
	if (cli_want_json(cli))
		cli_print_json(out);
	cJSON_Delete(out);
	return rc;
}

const struct cmd_entry cmd_gc_entry = {
	"gc", cmd_gc, "destroy environments whose PR is closed or whose TTL passed",
	"Lists this app's environments (kubernetes: namespaces labelled for the app;\n"
	"pages dir: the target's subdirectories) and destroys those whose pull\n"
	"request is closed or merged (asked from the code host; needs a token) or\n"
	"whose TTL passed (the rule named like the environment, else the first\n"
	"pull_request rule). Protected environments are never touched. Needs no\n"
	"pull request and no matching branch rule: run it on a schedule.\n"
	"Prints one line per environment (-o json: an array). Exit 1 when a destroy\n"
	"failed (the others are still handled). Providers that cannot list\n"
	"(command, pages git:) do nothing, with a warning, and exit 0.\n"
	"  --dry-run        say what would be destroyed and why, change nothing\n"
	"  --no-wait        do not wait until each environment is gone\n"
	"  --keep-on-teardown-failure  keep an environment whose on_destroy Jobs\n"
	"                   failed (exit 1 either way)\n"
	"  -o text|json     output format\n",
	0,
};
