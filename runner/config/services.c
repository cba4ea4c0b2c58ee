/* services.c - `services:` of .prenv.yml; see config.h.
 *
 * services:
 *   web:                       # a DNS label
 *     templates: deploy/web    # required: this service's templates directory
 *     image: "ghcr.io/acme/web:{{service.sha}}"
 *   api:
 *     repo: https://github.com/acme/api.git
 *     production_branch: main
 *     templates: deploy/api
 *
 * Every entry is validated against service_keys (the same generic reader as
 * the providers' key tables: "did you mean", types, checks, defaults, every
 * error at file:line:col). To add a per-service key, add a row to the table
 * and read it from svc->keys (JSON; durations are seconds).
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

#define SERVICES_MAX 64
#define REPO_MAX 2048

/* A character no repository URL or branch name needs. */
static int odd_char(unsigned char ch)
{
	return ch <= ' ' || ch == 0x7f || ch == '\\' || ch == '"' || ch == '\'' || ch == '`';
}

/* repo: an https://, http://, ssh://, git:// or file:// URL, an scp-like
 * user@host:path, or a path (absolute, or ./ ../ relative to the config).
 * No credentials in it: tokens come from the environment. */
static int check_repo(const char *v, struct prenv_buf *why)
{
	static const char *const schemes[] = { "https://", "http://", "ssh://", "git://", "file://" };
	const char *p, *auth, *end, *at;
	size_t i;

	if (strlen(v) > REPO_MAX)
		return prenv_buf_printf(why, "'repo' is longer than %d characters", REPO_MAX), -1;
	for (p = v; *p; p++)
		if (odd_char((unsigned char)*p))
			return prenv_buf_printf(why, "'repo' must be a repository URL or path without "
						"spaces, quotes or control characters"), -1;
	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (!strncmp(v, schemes[i], strlen(schemes[i])))
			break;
	if (i == sizeof(schemes) / sizeof(schemes[0])) {
		if (v[0] == '/' || !strncmp(v, "./", 2) || !strncmp(v, "../", 3))
			return 0;
		if (strchr(v, ':') && !strstr(v, "://") && v[0] != '-' && v[0] != ':')
			return 0; /* user@host:path */
		return prenv_buf_printf(why, "'repo' must be a repository URL (https://, ssh://, "
					"git@host:owner/name.git, file://) or a path starting with "
					"/, ./ or ../, got '%s'", v), -1;
	}
	auth = v + strlen(schemes[i]);
	end = auth + strcspn(auth, "/?#");
	at = memchr(auth, '@', (size_t)(end - auth));
	if (at && memchr(auth, ':', (size_t)(at - auth)))
		return prenv_buf_printf(why, "'repo' must not carry a password or token (it would be "
					"in the file for everyone to read): write the URL without it and "
					"give the token in the environment (README: services, tokens)"), -1;
	return 0;
}

/* production_branch: a plain branch name (git check-ref-format's rules,
 * roughly), not a ref. */
static int check_branch(const char *v, struct prenv_buf *why)
{
	const char *p;
	size_t n = strlen(v);

	for (p = v; *p; p++)
		if (odd_char((unsigned char)*p) || strchr("~^:?*[", *p))
			break;
	if (*p || !n || v[0] == '-' || v[0] == '/' || v[n - 1] == '/' || v[n - 1] == '.' ||
	    strstr(v, "..") || strstr(v, "//") || strstr(v, "@{") ||
	    (n >= 5 && !strcmp(v + n - 5, ".lock")) || !strncmp(v, "refs/", 5))
		return prenv_buf_printf(why, "'production_branch' must be a branch name like main "
					"or release/2.x (not a ref or a pattern), got '%s'", v), -1;
	return 0;
}

/* on_missing: what to deploy when image_check never finds the image. */
static int check_on_missing(const char *v, struct prenv_buf *why)
{
	if (!strcmp(v, "fail") || !strcmp(v, "production"))
		return 0;
	return prenv_buf_printf(why, "'on_missing' must be fail (the default: stop, deploy "
				"nothing) or production (deploy the production image), got '%s'", v), -1;
}

/* The keys of one service. Another part of prenv adds its keys here. */
static const struct config_key service_keys[] = {
	{ "templates", CONFIG_STR, 1, NULL,
	  "this service's templates directory, relative to the config", NULL },
	{ "repo", CONFIG_STR, 0, NULL,
	  "the repository the service is built from (default: this one)", check_repo },
	{ "production_branch", CONFIG_STR, 0, NULL,
	  "the branch a missing branch comes from (default: the repository's HEAD branch)",
	  check_branch },
	{ "image", CONFIG_STR, 0, NULL,
	  "the service's image (a template; {{service.image}})", NULL },
	/* the image check (runner/resolve/image_check.c) */
	{ "image_check", CONFIG_BOOL, 0, "false",
	  "ask the image's registry that the image exists before deploying (and pin its digest)",
	  NULL },
	{ "image_wait", CONFIG_DUR, 0, "10m",
	  "how long image_check waits for the image to be pushed", NULL },
	{ "on_missing", CONFIG_STR, 0, "fail",
	  "when the image never appears: fail, or production (deploy the production image)",
	  check_on_missing },
	/* logical environments (logical.c, logical_config.c) */
	{ "paths", CONFIG_STRSEQ, 0, NULL,
	  "with logical: globs of this repository's files; a change to one deploys the service", NULL },
	{ "calls", CONFIG_STRSEQ, 0, NULL,
	  "with logical: the services this one calls (its callers come along when it is deployed)",
	  NULL },
	{ "stateful", CONFIG_BOOL, 0, "false",
	  "with logical: never borrowed when a deployed service calls it (a database)", NULL },
};

static int dup_key(cJSON *keys, const char *name, char **out)
{
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(keys, name));

	*out = NULL;
	return v && !(*out = strdup(v)) ? -1 : 0;
}

static int parse_service(struct cp *c, const struct yaml_node *k, const struct yaml_node *v,
			 struct config_service *svc)
{
	struct prenv_buf where = PRENV_BUF_INIT;
	const struct yaml_node *t;
	int rc;

	svc->line = k->line;
	svc->col = k->col;
	if (!(svc->name = strdup(k->text)))
		return config_oom(c);
	if (v->kind != YAML_KIND_MAP)
		return config_fail(c, v, "service '%s' must be a mapping with at least 'templates' "
				   "(and optionally repo, production_branch, image)", svc->name);
	prenv_buf_printf(&where, "service '%s'", svc->name);
	rc = where.failed ? config_oom(c)
		: config_keyed_map(c, v, where.ptr, service_keys,
				   sizeof(service_keys) / sizeof(service_keys[0]), &svc->keys);
	prenv_buf_free(&where);
	if (rc)
		return rc;
	if (dup_key(svc->keys, "templates", &svc->templates) < 0 ||
	    dup_key(svc->keys, "repo", &svc->repo) < 0 ||
	    dup_key(svc->keys, "production_branch", &svc->production_branch) < 0 ||
	    dup_key(svc->keys, "image", &svc->image) < 0)
		return config_oom(c);
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(svc->keys, "image_check")) && !svc->image)
		return config_fail(c, yaml_map_get(v, "image_check"),
				   "service '%s' has image_check: true but no image: add "
				   "image: \"registry/name:{{service.sha}}\" (what is checked)", svc->name);
	t = yaml_map_get(v, "templates");
	svc->templates_line = t->line;
	svc->templates_col = t->col;
	if ((t = yaml_map_get(v, "image"))) {
		struct prenv_buf key = PRENV_BUF_INIT;

		prenv_buf_printf(&key, "services.%s.image", svc->name);
		rc = key.failed || config_note_pos(c, key.ptr, t) < 0 ? config_oom(c) : 0;
		prenv_buf_free(&key);
	}
	return rc;
}

/* The name of a service: a DNS label, not seen before. */
static int check_name(struct cp *c, const struct yaml_node *map, size_t pi)
{
	const struct yaml_node *k = map->pairs[pi].key;
	size_t qi;

	if (k->kind != YAML_KIND_SCALAR || !k->plain || strlen(k->text) != k->len ||
	    !name_is_dns_label(k->text))
		return config_fail(c, k, "a service's name must be a DNS label (lower-case letters, "
				   "digits and '-', at most 63, starting and ending with a letter or "
				   "digit), like web or api");
	for (qi = 0; qi < pi; qi++)
		if (!strcmp(map->pairs[qi].key->text, k->text))
			return config_fail(c, k, "duplicate service '%s' (first at line %d, column %d); "
					   "keep one", k->text, map->pairs[qi].key->line,
					   map->pairs[qi].key->col);
	return 0;
}

int config_parse_services(struct cp *c, const struct yaml_node *key, const struct yaml_node *n,
			  struct prenv_config *cfg)
{
	size_t pi;
	int rc;

	cfg->services_line = key->line;
	cfg->services_col = key->col;
	if (n->kind != YAML_KIND_MAP || !n->n)
		return config_fail(c, n, "'services' must be a mapping of service names to their "
				   "settings, e.g. `web: {templates: deploy/web}`");
	if (n->n > SERVICES_MAX)
		return config_fail(c, n, "'services' has %zu services; at most %d", n->n, SERVICES_MAX);
	if (!(cfg->services = calloc(n->n, sizeof(*cfg->services))))
		return config_oom(c);
	for (pi = 0; pi < n->n; pi++) {
		if ((rc = check_name(c, n, pi)))
			return rc;
		cfg->nservices = pi + 1;
		if ((rc = parse_service(c, n->pairs[pi].key, n->pairs[pi].value, &cfg->services[pi])))
			return rc;
	}
	return 0;
}

void config_services_free(struct prenv_config *cfg)
{
	size_t i;

	for (i = 0; i < cfg->nservices; i++) {
		struct config_service *s = &cfg->services[i];

		free(s->name);
		free(s->repo);
		free(s->production_branch);
		free(s->templates);
		free(s->image);
		cJSON_Delete(s->keys);
	}
	free(cfg->services);
	cfg->services = NULL;
	cfg->nservices = 0;
}

const struct config_service *config_service_find(const struct prenv_config *cfg,
						 const char *name)
{
	size_t i;

	for (i = 0; cfg && name && i < cfg->nservices; i++)
		if (!strcmp(cfg->services[i].name, name))
			return &cfg->services[i];
	return NULL;
}

char *config_templates_dir(const struct prenv_config *cfg, const struct config_service *svc)
{
	const char *t = svc ? svc->templates : cfg->templates;
	struct prenv_buf b = PRENV_BUF_INIT;

	if (!t)
		return NULL;
	if (t[0] == '/' || !cfg->dir || !*cfg->dir)
		prenv_buf_adds(&b, t);
	else
		prenv_buf_printf(&b, "%s/%s", cfg->dir, t);
	return prenv_buf_detach(&b, NULL);
}
