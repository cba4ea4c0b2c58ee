/* cmd_list.c - `prenv list`: this app's environments, as the provider
 * lists them (the same list gc works from). */
#include "cli/cli.h"

#include <string.h>

#include "config/config.h"
#include "report/report.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/fs.h"
#include "util/log.h"

static const char *str_of(const cJSON *o, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static void list_text(const cJSON *envs)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	const cJSON *e;

	prenv_buf_printf(&b, "%-24s %-32s %-6s %-8s %s\n", "ENVIRONMENT", "NAMESPACE", "PR", "SHA",
			 "DEPLOYED");
	cJSON_ArrayForEach(e, envs) {
		const cJSON *pr = cJSON_GetObjectItemCaseSensitive(e, "pr");
		const cJSON *at = cJSON_GetObjectItemCaseSensitive(e, "deployed_at");
		char prs[24] = "-", when[32] = "-";
		const char *sha = str_of(e, "sha");

		if (cJSON_IsNumber(pr))
			snprintf(prs, sizeof(prs), "#%.0f", pr->valuedouble);
		if (cJSON_IsNumber(at))
			fs_rfc3339(when, sizeof(when), (long long)at->valuedouble);
		prenv_buf_printf(&b, "%-24s %-32s %-6s %-8.7s ", str_of(e, "name") ? str_of(e, "name") : "?",
				 str_of(e, "namespace") ? str_of(e, "namespace") : "-", prs, sha ? sha : "-");
		report_sanitize_line(&b, when);
		prenv_buf_addc(&b, '\n');
	}
	log_out(b.ptr, b.len);
	prenv_buf_free(&b);
}

int cli_list(struct cli *cli, cJSON **envs, struct prenv_err *err)
{
	const struct prenv_provider *p;
	int rc = cli_load_config(cli, 1, err);

	*envs = NULL;
	if (rc < 0 || (rc = cli_provider_begin(cli, err)) < 0)
		return rc;
	p = cli->session->provider;
	if (p->list && (rc = p->list(cli->session, &cli->run, envs, err)) < 0)
		return rc;
	if (!*envs) {
		log_warn("provider %s cannot list its environments with this configuration", p->name);
		if (cli_want_json(cli))
			log_outs("[]\n");
	}
	return 0;
}

/* Takes out the entries of contexts the provider could not list (said on
 * stderr) and the provider's internal "target" keys; returns how many
 * contexts failed. */
static int list_failed_contexts(cJSON *envs)
{
	cJSON *e = envs ? envs->child : NULL, *next;
	int failed = 0;

	for (; e; e = next) {
		next = e->next;
		cJSON_DeleteItemFromObjectCaseSensitive(e, "target");
		if (str_of(e, "name") || !str_of(e, "error"))
			continue;
		log_error("context %s could not be listed: %s", str_of(e, "context") ? str_of(e, "context") :
			  "(current-context)", str_of(e, "error"));
		cJSON_Delete(cJSON_DetachItemViaPointer(envs, e));
		failed++;
	}
	return failed;
}

static int cmd_list(struct cli *cli, struct prenv_err *err)
{
	cJSON *envs = NULL;
	int rc = cli_list(cli, &envs, err), failed;

	if (rc < 0 || !envs)
		return rc;
	failed = list_failed_contexts(envs);
	if (cli_want_json(cli)) {
		cJSON *e;

		/* times as everywhere else: RFC 3339 */
		cJSON_ArrayForEach(e, envs) {
			cJSON *at = cJSON_GetObjectItemCaseSensitive(e, "deployed_at");

			if (cJSON_IsNumber(at)) {
				char when[32];

				fs_rfc3339(when, sizeof(when), (long long)at->valuedouble);
				cJSON_ReplaceItemInObjectCaseSensitive(e, "deployed_at", cJSON_CreateString(when));
			}
		}
		cli_print_json(envs);
	} else {
		list_text(envs);
	}
	cJSON_Delete(envs);
	if (failed)
		return prenv_err_set(err, PRENV_EFAIL, "list: %d context(s) could not be listed (see above); "
				     "the environments of the others are shown", failed);
	return 0;
}

const struct cmd_entry cmd_list_entry = {
	"list", cmd_list, "this app's environments (any PR, any branch)",
	"Lists the environments of this app that the provider can see\n"
	"(kubernetes: the namespaces labelled for the app; pages dir: the target's\n"
	"environment folders): name, namespace, pull request, commit, last deploy.\n"
	"`prenv status --env NAME` then shows one of them. Needs no pull request.\n"
	"  -o text|json     output format\n",
	0,
};
