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

/* The totals of the cost figures. */
struct gc_totals {
	double cpu, mem, awake;
	int n, with_cost;
};

/* "250m" CPU, "256Mi" memory */
void cli_fmt_cpu(struct prenv_buf *b, double millis)
{
	if (millis >= 1000 && (long long)millis % 1000 == 0)
		prenv_buf_printf(b, "%.0f", millis / 1000);
	else
		prenv_buf_printf(b, "%.0fm", millis);
}

void cli_fmt_mem(struct prenv_buf *b, double bytes)
{
	static const char *const units[] = { "", "Ki", "Mi", "Gi", "Ti" };
	size_t i = 0;

	while (i + 1 < sizeof(units) / sizeof(units[0]) && bytes >= 1024 * 10)
		bytes /= 1024, i++;
	prenv_buf_printf(b, "%.0f%s", bytes, units[i]);
}

/* " — cpu 250m, memory 256Mi, awake 3h2m" */
static void cost_text(struct prenv_buf *b, double cpu, double mem, double awake)
{
	prenv_buf_adds(b, " \xe2\x80\x94 cpu ");
	cli_fmt_cpu(b, cpu);
	prenv_buf_adds(b, ", memory ");
	cli_fmt_mem(b, mem);
	prenv_buf_adds(b, ", awake ");
	gc_duration(b, (long)awake);
}

/* A context that could not be listed: "-  production  failed: why". */
static void gc_context_line(const cJSON *e, int width, int ctx_width)
{
	const char *ctx = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "context"));
	const char *error = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "error"));
	struct prenv_buf line = PRENV_BUF_INIT;

	prenv_buf_printf(&line, "%-*s  %-*s  failed (context not listed): ", width, "-", ctx_width,
			 ctx ? ctx : "?");
	report_sanitize_line(&line, error ? error : "failed");
	prenv_buf_addc(&line, '\n');
	log_out(line.ptr, line.len);
	prenv_buf_free(&line);
}

/* One line per environment: "pr-7   destroyed (PR #7 closed)", with what
 * it requests and how long it has been awake when the provider says; with
 * several contexts, the context after the name. */
static void gc_line(void *ud, const cJSON *e, int width, int ctx_width)
{
	struct gc_totals *t = ud;
	const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "name"));
	const char *action = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "action"));
	const char *why = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "reason"));
	const char *error = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "error"));
	const cJSON *cpu = cJSON_GetObjectItemCaseSensitive(e, "cpu_millis");
	const cJSON *mem = cJSON_GetObjectItemCaseSensitive(e, "memory_bytes");
	const cJSON *awake = cJSON_GetObjectItemCaseSensitive(e, "awake_seconds");
	const char *ctx = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "context"));
	struct prenv_buf line = PRENV_BUF_INIT;

	if (!name) {
		gc_context_line(e, width, ctx_width);
		return;
	}
	if (action && !strcmp(action, "would-destroy"))
		action = "would be destroyed";
	else if (action && !strcmp(action, "would-sleep"))
		action = "would sleep";
	else if (action && !strcmp(action, "would-wake"))
		action = "would wake";
	prenv_buf_printf(&line, "%-*s  ", width, name);
	if (ctx_width)
		prenv_buf_printf(&line, "%-*s  ", ctx_width, ctx ? ctx : "-");
	prenv_buf_printf(&line, "%s (", action);
	report_sanitize_line(&line, why);
	prenv_buf_addc(&line, ')');
	if (error) {
		prenv_buf_adds(&line, ": ");
		report_sanitize_line(&line, error);
	}
	t->n++;
	if (cJSON_IsNumber(cpu) && cJSON_IsNumber(mem)) {
		double aw = cJSON_IsNumber(awake) ? awake->valuedouble : 0;

		cost_text(&line, cpu->valuedouble, mem->valuedouble, aw);
		t->cpu += cpu->valuedouble;
		t->mem += mem->valuedouble;
		t->awake += aw;
		t->with_cost++;
	}
	prenv_buf_addc(&line, '\n');
	log_out(line.ptr, line.len);
	prenv_buf_free(&line);
}

/* "total (3 environments) — cpu 750m, memory 768Mi, awake 9h" */
static void gc_total(const struct gc_totals *t)
{
	struct prenv_buf line = PRENV_BUF_INIT;

	if (!t->with_cost)
		return;
	prenv_buf_printf(&line, "total (%d environment%s)", t->with_cost, t->with_cost == 1 ? "" : "s");
	cost_text(&line, t->cpu, t->mem, t->awake);
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
	struct gc_totals totals;
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
	o.now = cli->now > 0 ? (time_t)cli->now : time(NULL);
	memset(&totals, 0, sizeof(totals));
	if (!cli_want_json(cli)) {
		o.on_env = gc_line;
		o.ud = &totals;
	}
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
	else
		gc_total(&totals);
	cJSON_Delete(out);
	return rc;
}

const struct cmd_entry cmd_gc_entry = {
	"gc", cmd_gc, "destroy, put to sleep or wake environments (PR closed, TTL, schedules)",
	"Lists this app's environments (kubernetes: namespaces labelled for the app;\n"
	"pages dir: the target's subdirectories) and destroys those whose pull\n"
	"request is closed or merged (asked from the code host; needs a token) or\n"
	"whose TTL passed (the rule named like the environment, else the first\n"
	"pull_request rule). Protected environments are never touched. Needs no\n"
	"pull request and no matching branch rule: run it on a schedule.\n"
	"Prints one line per environment (-o json: an array). Exit 1 when a destroy\n"
	"failed (the others are still handled). Providers that cannot list\n"
	"(command, pages git:) do nothing, with a warning, and exit 0.\n"
	"Rules with a schedule ({ awake: \"Mon-Fri 08:00-20:00\", timezone: ...})\n"
	"or sleep_after: gc also puts environments to sleep outside their awake\n"
	"window or when idle, and wakes them when the window opens; at most one\n"
	"action per environment, and a second run at the same time changes\n"
	"nothing. Each line ends with what the environment requests (CPU, memory:\n"
	"containers x replicas running now) and how long it has been awake, and a\n"
	"total line follows.\n"
	"Several clusters (a rule's context:/kubeconfig:, PRENV_KUBECONFIG_<KIND>):\n"
	"every context the rules name is listed, in parallel; each line then names\n"
	"the context after the environment, and a context that cannot be listed\n"
	"gets a failed line (exit 1) while the others are still handled.\n"
	"  --now TIME       decide at TIME (RFC 3339) instead of now: tests, dry runs\n"
	"  --dry-run        say what would be destroyed and why, change nothing\n"
	"  --no-wait        do not wait until each environment is gone\n"
	"  --keep-on-teardown-failure  keep an environment whose on_destroy Jobs\n"
	"                   failed (exit 1 either way)\n"
	"  -o text|json     output format\n",
	0,
};
