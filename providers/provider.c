/* provider.c - the table of deploy backends; see provider.h */
#include "provider.h"

#include <stdlib.h>
#include <string.h>

#include "command/command.h"
#include "kubernetes/k8s.h"
#include "pages/pages.h"

/* One entry per provider, found by name (like curl's handler table). */
static const struct prenv_provider *const providers[] = {
	&k8s_provider,
	&pages_provider,
	&command_provider,
};

const struct prenv_provider *provider_find(const char *name)
{
	size_t i;

	if (!name)
		return NULL;
	for (i = 0; i < sizeof(providers) / sizeof(providers[0]); i++)
		if (strcmp(providers[i]->name, name) == 0)
			return providers[i];
	return NULL;
}

void provider_result_clear(struct provider_result *res)
{
	if (!res)
		return;
	free(res->status);
	free(res->url);
	free(res->reason);
	free(res->detail);
	cJSON_Delete(res->info);
	memset(res, 0, sizeof(*res));
}
