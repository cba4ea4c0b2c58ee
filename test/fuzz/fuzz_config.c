/* fuzz_config.c - libFuzzer target for the config loader (config/config.c).
 *
 * The input is the text of a .prenv.yml, parsed with the real provider
 * schemas (providers/registry.h), so every provider's keys, types,
 * defaults and checks are reachable. Must not crash, leak or misbehave:
 * an error is PRENV_ECONFIG with a message at fuzz/.prenv.yml:line:col
 * (1-based) and no config; a config that loads has what the loader
 * promises (app, provider kind and keys, rules with their positions). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "registry.h"
#include "util/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_PATH "fuzz/.prenv.yml"

static void fz_check_err(const struct prenv_err *err)
{
	if (err->code == PRENV_ENOMEM)
		return;
	if (err->code != PRENV_ECONFIG || !err->msg || !*err->msg)
		abort(); /* config errors are exit 2 and say why */
	if (!err->file || strcmp(err->file, FZ_PATH) || err->line < 1 || err->col < 1)
		abort(); /* ... at file:line:col */
}

static void fz_check_cfg(const struct prenv_config *cfg)
{
	size_t i;

	if (!cfg->app || !*cfg->app || strlen(cfg->app) > 40 || cfg->version != 1)
		abort();
	if (!cfg->provider_kind || !cJSON_IsObject(cfg->provider))
		abort();
	if (strcmp(cfg->path, FZ_PATH) || strcmp(cfg->dir, "fuzz"))
		abort();
	if (cfg->nrules && !cfg->rules)
		abort();
	for (i = 0; i < cfg->nrules; i++)
		if (cfg->rules[i].line < 1 || cfg->rules[i].col < 1 || cfg->rules[i].ttl_seconds < 0)
			abort();
	if (cfg->values && !cJSON_IsObject(cfg->values))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct prenv_config *cfg = NULL;
	struct prenv_err err = PRENV_ERR_INIT;
	int rc;

	rc = config_parse(&cfg, FZ_PATH, (const char *)data, size, provider_schemas(), &err);
	if ((rc < 0) != (cfg == NULL) || (rc < 0) != (err.code != 0) || rc > 0)
		abort();
	if (rc < 0)
		fz_check_err(&err);
	else
		fz_check_cfg(cfg);
	config_free(cfg);
	prenv_err_clear(&err);
	return 0;
}
