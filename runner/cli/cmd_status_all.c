/* cmd_status_all.c - `prenv status --all`: every environment of the app in
 * every context the rules name (the provider lists them, in parallel, as
 * for gc), with its kind, context, state, age and cost figures. */
#include "cli/cli.h"

#include <string.h>
#include <time.h>

#include "config/config.h"
#include "lifecycle/gc.h"
#include "report/report.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/fs.h"
#include "util/log.h"

static const char *str_of(const cJSON *o, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static double num_of(const cJSON *o, const char *k, double dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

/* The status entry of one listed environment (the caller's). */
static cJSON *status_entry(const struct cli *cli, const cJSON *it, long long now)
{
	const char *name = str_of(it, "name");
	const char *ctx = str_of(it, "context");
	struct gc_env e;
	const struct config_rule *r;
	cJSON *o = cJSON_CreateObject();
	double created = num_of(it, "created_at", num_of(it, "deployed_at", 0));
	double awake = num_of(it, "awake_since", 0);
	int asleep = num_of(it, "asleep_since", 0) > 0, prot = 0;
	long pr;

	if (!o)
		return NULL;
	memset(&e, 0, sizeof(e));
	e.name = name;
	e.pr = (long)num_of(it, "pr", 0);
	pr = gc_env_pr(&e);
	r = gc_rule(cli->cfg, name, pr, &prot);
	cJSON_AddStringToObject(o, "name", name);
	if (str_of(it, "namespace"))
		cJSON_AddStringToObject(o, "namespace", str_of(it, "namespace"));
	cJSON_AddStringToObject(o, "kind", env_kind_name(r && r->kind_set ? r->kind : pr > 0 ? ENV_KIND_PREVIEW
							 : ENV_KIND_DEVELOPMENT));
	if (pr > 0)
		cJSON_AddNumberToObject(o, "pr", (double)pr);
	else
		cJSON_AddNullToObject(o, "pr");
	if (ctx)
		cJSON_AddStringToObject(o, "context", ctx);
	else
		cJSON_AddNullToObject(o, "context");
	cJSON_AddStringToObject(o, "state", asleep ? "asleep" : "awake");
	cJSON_AddBoolToObject(o, "protected", prot);
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "foreign")))
		cJSON_AddStringToObject(o, "repo", str_of(it, "repo") ? str_of(it, "repo") : "?");
	cJSON_AddNumberToObject(o, "age_seconds", created > 0 && now > created ? (double)now - created : 0);
	if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(it, "cpu_millis"))) {
		cJSON_AddNumberToObject(o, "cpu_millis", num_of(it, "cpu_millis", 0));
		cJSON_AddNumberToObject(o, "memory_bytes", num_of(it, "memory_bytes", 0));
	} else {
		cJSON_AddNullToObject(o, "cpu_millis");
		cJSON_AddNullToObject(o, "memory_bytes");
	}
	cJSON_AddNumberToObject(o, "awake_seconds", !asleep && awake > 0 && now > awake ? (double)now - awake : 0);
	return o;
}

/* A context that could not be listed. */
static cJSON *failed_entry(const cJSON *it)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	cJSON_AddNullToObject(o, "name");
	if (str_of(it, "context"))
		cJSON_AddStringToObject(o, "context", str_of(it, "context"));
	else
		cJSON_AddNullToObject(o, "context");
	cJSON_AddStringToObject(o, "error", str_of(it, "error") ? str_of(it, "error") : "failed");
	log_error("context %s could not be listed: %s", str_of(it, "context") ? str_of(it, "context") :
		  "(current-context)", str_of(it, "error") ? str_of(it, "error") : "failed");
	return o;
}

static void duration_cell(struct prenv_buf *b, double secs)
{
	if (secs > 0)
		gc_duration(b, (long)secs);
	else
		prenv_buf_addc(b, '-');
}

/* One row of the table; the totals grow. */
static void text_row(struct prenv_buf *b, const cJSON *o, int width, int cw, double tot[4])
{
	const cJSON *pr = cJSON_GetObjectItemCaseSensitive(o, "pr");
	struct prenv_buf c = PRENV_BUF_INIT;
	char prs[24] = "-";

	if (!str_of(o, "name")) {
		prenv_buf_printf(b, "%-*s %-12s %-6s %-*s ", width, "-", "-", "-", cw, str_of(o, "context") ?
				 str_of(o, "context") : "?");
		prenv_buf_adds(b, "failed (context not listed): ");
		report_sanitize_line(b, str_of(o, "error"));
		prenv_buf_addc(b, '\n');
		return;
	}
	if (cJSON_IsNumber(pr))
		snprintf(prs, sizeof(prs), "#%.0f", pr->valuedouble);
	prenv_buf_printf(b, "%-*s %-12s %-6s %-*s %-7s ", width, str_of(o, "name"), str_of(o, "kind"), prs, cw,
			 str_of(o, "context") ? str_of(o, "context") : "-", str_of(o, "state"));
	duration_cell(&c, num_of(o, "age_seconds", 0));
	prenv_buf_printf(b, "%-8s ", c.ptr ? c.ptr : "-");
	prenv_buf_truncate(&c, 0);
	if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(o, "cpu_millis"))) {
		cli_fmt_cpu(&c, num_of(o, "cpu_millis", 0));
		prenv_buf_printf(b, "%-7s ", c.ptr);
		prenv_buf_truncate(&c, 0);
		cli_fmt_mem(&c, num_of(o, "memory_bytes", 0));
		prenv_buf_printf(b, "%-8s ", c.ptr);
		prenv_buf_truncate(&c, 0);
		tot[0]++;
		tot[1] += num_of(o, "cpu_millis", 0);
		tot[2] += num_of(o, "memory_bytes", 0);
	} else {
		prenv_buf_printf(b, "%-7s %-8s ", "-", "-");
	}
	tot[3] += num_of(o, "awake_seconds", 0);
	duration_cell(&c, num_of(o, "awake_seconds", 0));
	prenv_buf_printf(b, "%s\n", c.ptr ? c.ptr : "-");
	prenv_buf_free(&c);
}

static void print_text(const cJSON *rows, int width, int cw)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	double tot[4] = { 0, 0, 0, 0 };
	const cJSON *o;

	prenv_buf_printf(&b, "%-*s %-12s %-6s %-*s %-7s %-8s %-7s %-8s %s\n", width, "NAME", "KIND", "PR", cw,
			 "CONTEXT", "STATE", "AGE", "CPU", "MEMORY", "AWAKE");
	cJSON_ArrayForEach(o, rows)
		text_row(&b, o, width, cw, tot);
	if (tot[0] > 0) {
		prenv_buf_printf(&b, "total (%.0f environment%s) \xe2\x80\x94 cpu ", tot[0], tot[0] == 1 ? "" : "s");
		cli_fmt_cpu(&b, tot[1]);
		prenv_buf_adds(&b, ", memory ");
		cli_fmt_mem(&b, tot[2]);
		prenv_buf_adds(&b, ", awake ");
		gc_duration(&b, (long)tot[3]);
		prenv_buf_addc(&b, '\n');
	}
	log_out(b.ptr, b.len);
	prenv_buf_free(&b);
}

int cli_status_all(struct cli *cli, struct prenv_err *err)
{
	long long now;
	cJSON *envs = NULL, *rows = NULL, *o;
	const cJSON *it;
	int rc, width, cw, failed = 0;

	if (cli->env_name)
		return prenv_err_set(err, PRENV_ECONFIG, "status takes --env NAME or --all, not both");
	if ((rc = cli_list(cli, &envs, err)) < 0 || !envs)
		return rc;
	now = cli->now > 0 ? cli->now : (long long)time(NULL);
	gc_widths(envs, &width, &cw);
	if (!(rows = cJSON_CreateArray())) {
		cJSON_Delete(envs);
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	}
	cJSON_ArrayForEach(it, envs) {
		int bad = !str_of(it, "name") && str_of(it, "error");

		failed += bad;
		if (!bad && !str_of(it, "name"))
			continue;
		if ((o = bad ? failed_entry(it) : status_entry(cli, it, now)) != NULL)
			cJSON_AddItemToArray(rows, o);
		if (str_of(it, "context") && (int)strlen(str_of(it, "context")) > cw)
			cw = (int)strlen(str_of(it, "context"));
	}
	if (cli_want_json(cli))
		cli_print_json(rows);
	else
		print_text(rows, width, cw < 7 ? 7 : cw);
	cJSON_Delete(rows);
	cJSON_Delete(envs);
	if (failed)
		return prenv_err_set(err, PRENV_EFAIL, "status --all: %d context(s) could not be listed (see "
				     "above); the environments of the others are shown", failed);
	return 0;
}
