/* registry.c - the one table of providers; see registry.h. Adding a
 * provider: a folder providers/<name>/ exporting one
 * `const struct prenv_provider`, and one line in each table below. */
#include "registry.h"

#include <string.h>

#include "provider.h"
#include "command/command.h"
#include "kubernetes/k8s.h"
#include "pages/pages.h"

static const struct prenv_provider *const providers[] = {
	&k8s_provider,
	&pages_provider,
	&command_provider,
};

#define NPROVIDERS (sizeof(providers) / sizeof(providers[0]))

static const struct config_schema *const schemas[NPROVIDERS + 1] = {
	&k8s_provider.schema,
	&pages_provider.schema,
	&command_provider.schema,
	NULL,
};

const struct prenv_provider *provider_find(const char *name)
{
	size_t i;

	if (!name)
		return NULL;
	for (i = 0; i < NPROVIDERS; i++)
		if (strcmp(providers[i]->name, name) == 0)
			return providers[i];
	return NULL;
}

const struct prenv_provider *provider_at(size_t i)
{
	return i < NPROVIDERS ? providers[i] : NULL;
}

const struct config_schema *const *provider_schemas(void)
{
	return schemas;
}

const char *provider_names(void)
{
	static char names[256];
	size_t i, len = 0;

	if (names[0])
		return names;
	for (i = 0; i < NPROVIDERS; i++) {
		size_t n = strlen(providers[i]->name);

		if (len + n + 3 > sizeof(names))
			break;
		if (i) {
			memcpy(names + len, ", ", 2);
			len += 2;
		}
		memcpy(names + len, providers[i]->name, n);
		len += n;
	}
	names[len] = '\0';
	return names;
}
