/* registry.h - the providers built into this prenv, found by name. The one
 * place that knows them all is registry.c. */
#ifndef PRENV_REGISTRY_H
#define PRENV_REGISTRY_H

#include <stddef.h>

struct prenv_provider;
struct config_schema;

/* The provider called name (provider.kind), or NULL. */
const struct prenv_provider *provider_find(const char *name);
/* The i-th provider, NULL past the end (table order). */
const struct prenv_provider *provider_at(size_t i);
/* Their configuration schemas, NULL-terminated, for config_parse(). */
const struct config_schema *const *provider_schemas(void);
/* "kubernetes, pages, command" (static). */
const char *provider_names(void);

#endif
