/* cmd_status.c - `prenv status`: the environment's state. */
#include "cli/cli.h"

#include <string.h>

#include "config/plan.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"

static void status_print(const struct cli *cli, const struct provider_result *res)
{
	const char *url = res->url ? res->url : cli->plan->url;
	struct prenv_buf b = PRENV_BUF_INIT;

	if (cli_want_json(cli)) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "environment", cli->plan->env_name);
		cJSON_AddStringToObject(o, "status", res->status ? res->status : "unknown");
		if (url)
			cJSON_AddStringToObject(o, "url", url);
		if (res->info)
			cJSON_AddItemToObject(o, "details", cJSON_Duplicate(res->info, 1));
		/* services: what the environment records (the last deploy's) */
		if (cJSON_GetObjectItemCaseSensitive(res->info, "services"))
			cJSON_AddItemToObject(o, "services", cJSON_Duplicate(
				cJSON_GetObjectItemCaseSensitive(res->info, "services"), 1));
		cli_print_json(o);
		cJSON_Delete(o);
		return;
	}
	cli_text_row(&b, "environment", cli->plan->env_name);
	cli_text_row(&b, "status", res->status ? res->status : "unknown");
	if (!res->status || strcmp(res->status, "absent") != 0)
		cli_text_row(&b, "url", url);
	if (res->detail)
		prenv_buf_printf(&b, "%s\n", res->detail);
	log_out(b.ptr, b.len);
	prenv_buf_free(&b);
}

static int cmd_status(struct cli *cli, struct prenv_err *err)
{
	struct provider_result res;
	int rc;

	if (cli->all)
		return cli_status_all(cli, err);
	cli->laptop_fallback = 1;
	rc = cli_load(cli, 1, err);

	if (rc < 0 || (rc = cli_provider_begin(cli, err)) < 0)
		return rc;
	memset(&res, 0, sizeof(res));
	rc = cli->session->provider->status(cli->session, &cli->run, &res, err);
	if (rc == 0)
		status_print(cli, &res);
	provider_result_clear(&res);
	return rc;
}

const struct cmd_entry cmd_status_entry = {
	"status", cmd_status, "the environment's state",
	"Prints whether the environment exists and what it holds.\n"
	"  --all            every environment of the app instead, in every context\n"
	"                   the rules name (visited in parallel): name, kind, PR,\n"
	"                   context, awake/asleep, age, requested CPU and memory,\n"
	"                   time awake, and a total; exit 1 when a context could\n"
	"                   not be listed (the others are shown)\n"
	"  -o text|json     output format\n",
	0,
};
