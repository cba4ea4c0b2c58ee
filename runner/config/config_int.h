/* config_int.h - what the files of runner/config/ that read .prenv.yml
 * share (config.c and services.c); not for other folders.
 */
#ifndef PRENV_CONFIG_INT_H
#define PRENV_CONFIG_INT_H

#include <stddef.h>
#include <cjson/cJSON.h>

struct prenv_config;
struct prenv_err;
struct config_schema;
struct config_key;
struct yaml_node;

/* The parser's state. */
struct cp {
	const char *path;
	struct prenv_err *err;
	const struct config_schema *const *kinds; /* NULL-terminated */
	struct prenv_config *cfg;
};

/* PRENV_ECONFIG at n's position (1:1 when n is NULL) with the message. */
int config_fail(struct cp *c, const struct yaml_node *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* PRENV_ENOMEM. */
int config_oom(struct cp *c);

/* Remembers where the template under key ("services.web.image") starts, for
 * config_template_pos(). -1 when out of memory. */
int config_note_pos(struct cp *c, const char *key, const struct yaml_node *n);

/* A mapping validated against a key table, the way `provider:` is:
 * unknown keys (with "did you mean"), repeats, required keys, each value
 * converted by its type (and its check), then the defaults of absent keys.
 * where names the mapping in messages ("service 'web'"). *out: a JSON
 * object, the caller's. */
int config_keyed_map(struct cp *c, const struct yaml_node *n, const char *where,
		     const struct config_key *keys, size_t nkeys, cJSON **out);

/* services.c: `services:` into cfg->services. */
int config_parse_services(struct cp *c, const struct yaml_node *key, const struct yaml_node *n,
			  struct prenv_config *cfg);
void config_services_free(struct prenv_config *cfg);

/* logical_config.c: `logical:`, `shared_paths:`, services' `calls` and the
 * rules' `logical` checked against them (after services and rules). */
int config_parse_logical(struct cp *c, const struct yaml_node *root, struct prenv_config *cfg);
void config_logical_free(struct prenv_config *cfg);

#endif
