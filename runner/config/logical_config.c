/* logical_config.c - `logical:` and `shared_paths:` of .prenv.yml, and the
 * logical keys of each service (paths, calls, stateful); see config.h.
 *
 * logical:
 *   baseline: staging             # the environment whose services are borrowed
 *   namespace: shop-staging       # optional: its namespace (default: computed)
 * shared_paths: ["deploy/common/<globstar>"]
 * services:
 *   web: { templates: deploy/web, paths: ["web/<globstar>"], calls: [api] }
 *   db:  { templates: deploy/db,  paths: ["db/<globstar>"], stateful: true }
 * (<globstar> is two asterisks, which a C comment cannot hold.)
 *
 * The keys of a service are in services.c's table (validated there); here
 * what needs the whole file: `calls` names services of the config (with
 * "did you mean"), `paths` and `shared_paths` are repository-relative
 * globs, `logical:` needs `services:`, and `shared_paths` and a rule's
 * `logical:` need `logical:`. Every error at file:line:col.
 */
#include "config/config.h"
#include "config/config_int.h"
#include "config/schema.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/names.h"
#include "util/yaml.h"

#include <stdlib.h>
#include <string.h>

#define SHARED_MAX 256

static const struct config_key logical_keys[] = {
	{ "baseline", CONFIG_STR, 1, NULL,
	  "the environment whose services are borrowed (its name, e.g. staging)", NULL },
	{ "namespace", CONFIG_STR, 0, NULL,
	  "the baseline's namespace (default: computed like any environment's)", NULL },
};

/* A path glob of the repository: relative, no "." or ".." segment. */
static int check_path_glob(struct cp *c, const struct yaml_node *n, const char *what)
{
	const char *s = n->text, *seg;

	if (n->kind != YAML_KIND_SCALAR || !*s || strlen(s) != n->len)
		return config_fail(c, n, "each item of '%s' must be a path pattern like \"api/**\"", what);
	if (s[0] == '/' || s[0] == '!')
		return config_fail(c, n, "'%s' pattern '%s' must be relative to the repository's top "
				   "(like \"api/**\"), without a leading '%c'", what, s, s[0]);
	for (seg = s; seg; seg = strchr(seg, '/') ? strchr(seg, '/') + 1 : NULL) {
		size_t len = strcspn(seg, "/");

		if ((len == 1 && seg[0] == '.') || (len == 2 && !strncmp(seg, "..", 2)) || !len)
			return config_fail(c, n, "'%s' pattern '%s' has an empty, '.' or '..' part: write "
					   "the path from the repository's top, like \"api/**\"", what, s);
	}
	return 0;
}

static int check_path_seq(struct cp *c, const struct yaml_node *seq, const char *what)
{
	size_t i;
	int rc;

	for (i = 0; seq && seq->kind == YAML_KIND_SEQ && i < seq->n; i++)
		if ((rc = check_path_glob(c, seq->items[i], what)))
			return rc;
	return 0;
}

/* One `calls` item: a service of the config, not the caller itself. */
static int check_call(struct cp *c, const struct prenv_config *cfg, const char *caller,
		      const struct yaml_node *item)
{
	const char *names[64], *near;
	struct prenv_buf b = PRENV_BUF_INIT;
	size_t i, n = 0;
	int rc;

	if (!strcmp(item->text, caller))
		return config_fail(c, item, "service '%s' lists itself in 'calls'; remove it", caller);
	if (config_service_find(cfg, item->text))
		return 0;
	for (i = 0; i < cfg->nservices && n < sizeof(names) / sizeof(names[0]); i++)
		names[n++] = cfg->services[i].name;
	near = name_closest(item->text, names, n);
	prenv_buf_printf(&b, "service '%s' calls '%s', which is not a service of this config", caller,
			 item->text);
	if (near)
		prenv_buf_printf(&b, "; did you mean '%s'?", near);
	prenv_buf_adds(&b, " services: ");
	for (i = 0; i < n; i++)
		prenv_buf_printf(&b, "%s%s", i ? ", " : "", names[i]);
	rc = b.failed ? config_oom(c) : config_fail(c, item, "%s", b.ptr);
	prenv_buf_free(&b);
	return rc;
}

/* Each service's `calls` and `paths` (the types were checked by the table). */
static int check_services(struct cp *c, const struct yaml_node *root, const struct prenv_config *cfg)
{
	const struct yaml_node *svcs = yaml_map_get(root, "services"), *calls;
	size_t pi, i;
	int rc;

	for (pi = 0; svcs && svcs->kind == YAML_KIND_MAP && pi < svcs->n; pi++) {
		const char *name = svcs->pairs[pi].key->text;
		const struct yaml_node *v = svcs->pairs[pi].value;

		if ((rc = check_path_seq(c, yaml_map_get(v, "paths"), "paths")))
			return rc;
		calls = yaml_map_get(v, "calls");
		for (i = 0; calls && calls->kind == YAML_KIND_SEQ && i < calls->n; i++)
			if ((rc = check_call(c, cfg, name, calls->items[i])))
				return rc;
	}
	return 0;
}

/* A rule's `logical:` needs the top-level block. */
static int check_rules(struct cp *c, const struct yaml_node *root, const struct prenv_config *cfg)
{
	const struct yaml_node *envs = yaml_map_get(root, "environments"), *v;
	size_t i;

	for (i = 0; !cfg->logical.baseline && envs && envs->kind == YAML_KIND_SEQ && i < envs->n; i++)
		if ((v = yaml_map_get(envs->items[i], "logical")))
			return config_fail(c, v, "'logical' in a rule switches logical environments on or "
					   "off, but the config has no top-level `logical:` naming the "
					   "baseline; add `logical: {baseline: staging}` (the environment "
					   "to borrow from) or remove this key");
	return 0;
}

static int label_key(struct cp *c, const cJSON *keys, const struct yaml_node *n, const char *key,
		     char **out)
{
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(keys, key));

	if (!v)
		return 0;
	if (!name_is_dns_label(v))
		return config_fail(c, yaml_map_get(n, key), "logical.%s must be %s: a DNS label (lower-case "
				   "letters, digits and '-', at most 63), got '%s'", key,
				   !strcmp(key, "baseline") ? "an environment's name" : "a namespace", v);
	return (*out = strdup(v)) ? 0 : config_oom(c);
}

static int parse_block(struct cp *c, const struct yaml_node *key, const struct yaml_node *n,
		       struct prenv_config *cfg)
{
	cJSON *keys = NULL;
	int rc;

	cfg->logical.line = key->line;
	cfg->logical.col = key->col;
	if (n->kind != YAML_KIND_MAP)
		return config_fail(c, n, "'logical' names the baseline environment: write `logical: "
				   "{baseline: staging}`; to deploy a full copy on some branches, write "
				   "`logical: false` in their rule under environments");
	if (!cfg->nservices)
		return config_fail(c, key, "'logical' needs `services:`: a logical environment deploys "
				   "the services a change touched and borrows the others; declare the "
				   "services (each with its templates and paths)");
	if (cfg->nphases)
		return config_fail(c, key, "'logical' and 'phases' do not go together yet: a logical "
				   "environment deploys some services and borrows the others, which phases "
				   "do not know; use one of them");
	if ((rc = config_keyed_map(c, n, "logical", logical_keys,
				   sizeof(logical_keys) / sizeof(logical_keys[0]), &keys)))
		return rc;
	if (!(rc = label_key(c, keys, n, "baseline", &cfg->logical.baseline)))
		rc = label_key(c, keys, n, "namespace", &cfg->logical.namespace_);
	cJSON_Delete(keys);
	return rc;
}

static int parse_shared(struct cp *c, const struct yaml_node *n, struct prenv_config *cfg)
{
	size_t i;
	int rc;

	if (!cfg->logical.baseline)
		return config_fail(c, n, "'shared_paths' needs `logical:` (a change under a shared path "
				   "deploys every service of a logical environment); add `logical: "
				   "{baseline: staging}` or remove it");
	if (n->kind != YAML_KIND_SEQ)
		return config_fail(c, n, "'shared_paths' must be a list of path patterns, like "
				   "[\"deploy/common/**\"]");
	if (n->n > SHARED_MAX)
		return config_fail(c, n, "'shared_paths' has %zu patterns; at most %d", n->n, SHARED_MAX);
	if ((rc = check_path_seq(c, n, "shared_paths")))
		return rc;
	if (n->n && !(cfg->logical.shared_paths = calloc(n->n, sizeof(char *))))
		return config_oom(c);
	for (i = 0; i < n->n; i++, cfg->logical.nshared++)
		if (!(cfg->logical.shared_paths[i] = strdup(n->items[i]->text)))
			return config_oom(c);
	return 0;
}

int config_parse_logical(struct cp *c, const struct yaml_node *root, struct prenv_config *cfg)
{
	const struct yaml_node *v;
	size_t pi;
	int rc;

	for (pi = 0; pi < root->n; pi++)
		if (!strcmp(root->pairs[pi].key->text, "logical") &&
		    (rc = parse_block(c, root->pairs[pi].key, root->pairs[pi].value, cfg)))
			return rc;
	if ((v = yaml_map_get(root, "shared_paths")) && (rc = parse_shared(c, v, cfg)))
		return rc;
	if ((rc = check_rules(c, root, cfg)))
		return rc;
	return check_services(c, root, cfg);
}

void config_logical_free(struct prenv_config *cfg)
{
	size_t i;

	free(cfg->logical.baseline);
	free(cfg->logical.namespace_);
	for (i = 0; i < cfg->logical.nshared; i++)
		free(cfg->logical.shared_paths[i]);
	free(cfg->logical.shared_paths);
	memset(&cfg->logical, 0, sizeof(cfg->logical));
}
