/* config.h - .prenv.yml, parsed with libyaml.
 *
 * Every error names file:line:col (1-based) and what to do, and is
 * PRENV_ECONFIG (exit 2). Unknown keys (with "did you mean"), wrong types,
 * bad durations, duplicate keys, YAML syntax errors are errors. On error
 * nothing is returned (*out stays NULL).
 *
 * Decisions:
 * - `version` is optional (default 1); when present it must be 1.
 * - `app` is required: a DNS-1123 label of at most 40 characters, so that
 *   `<app>-<env>` fits in 63.
 * - YAML anchors, aliases and explicit tags are rejected (an alias would put
 *   one node in several places, so an error could not name one position);
 *   so are files with more than one document.
 * - Strings: any non-null scalar (numbers and booleans keep their text).
 *   Booleans: true/false (any case form YAML 1.2 allows), never yes/no or
 *   quoted. An empty value (`key:`) is an error, not "unset".
 * - A rule with neither `branch`, `tag` nor `pull_request` matches
 *   everything (tag runs too). `tag` (a glob, like `branch`) matches runs for
 *   a pushed tag only; a `branch` rule never matches a tag run. A rule has
 *   at most one of `branch` and `tag`, and a tag rule no `pull_request: true`.
 *   `pull_request: false` matches non-PR runs only. `kind` defaults to
 *   preview for PR runs and development otherwise (decided per run by the
 *   plan when kind_set is 0). `protected` is never implied, not even by
 *   `kind: production`.
 * - provider: validated against the kind's key table (config/schema.h);
 *   absent keys with a default get it (kubernetes: `namespace`
 *   "{{app}}-{{env.name}}", `wait` 300); durations are seconds; argv keys
 *   are non-empty arrays of strings.
 * - phases: a non-empty list of {name, templates, run: once|always
 *   (default always), outputs: configmap/NAME}; names are unique DNS labels;
 *   `templates` and `phases` exclude each other (with phases each phase
 *   names its directory). With `services:`, a phase's `templates` may name
 *   a service, or be a list of services; every service is in exactly one
 *   phase (one in none is an error naming it). outputs may only name a ConfigMap (a Secret's
 *   values would reach templates and the PR comment). on_destroy:
 *   {templates (required), timeout (default 5m)}.
 * - services: (optional) a mapping of DNS-label names to entries with
 *   `templates` (required), `repo`, `production_branch`, `image` (a
 *   template, see services.c for the table); with it the top-level
 *   `templates` is an error (phases: name the services instead). A repo URL may not carry credentials.
 * - logical: {baseline (required), namespace} needs `services:` and no
 *   `phases:` (not yet); each service may say `paths` (globs of this
 *   repository), `calls` (names of other services, checked) and
 *   `stateful`; `shared_paths` (globs) needs `logical:`; a rule's
 *   `logical: true|false` needs it too.
 */
#ifndef PRENV_CONFIG_H
#define PRENV_CONFIG_H

#include <cjson/cJSON.h>

#include "util/schedule.h"

struct prenv_err;
struct config_schema;

enum env_kind {
	ENV_KIND_PREVIEW = 0,
	ENV_KIND_DEVELOPMENT,
	ENV_KIND_UAT,
	ENV_KIND_STAGING,
	ENV_KIND_PRODUCTION,
};
const char *env_kind_name(enum env_kind k);

struct config_rule {
	char *branch;        /* glob (GitHub Actions filter semantics) or NULL */
	char *tag;           /* glob, the same semantics, or NULL (never with branch) */
	int pull_request;    /* 1: matches PRs only; 0: matches non-PRs only; -1: unset */
	char *name;          /* environment name template, or NULL for the default */
	enum env_kind kind;
	int kind_set;
	int protected_;      /* destroy and gc refuse it */
	long ttl_seconds;    /* 0: none */
	long sleep_after;    /* seconds without a deploy or touch before gc puts it to sleep; 0: never */
	int has_schedule;    /* schedule: gc keeps it awake inside these windows only */
	struct schedule schedule;
	/* context: / kubeconfig: (issue 14: a cluster per environment kind),
	 * as written (kubeconfig relative to the config's dir), or NULL; only
	 * with a provider that has these keys itself (provider.context) */
	char *context;
	char *kubeconfig;
	int context_line, context_col, kubeconfig_line, kubeconfig_col;
	int logical;         /* logical: 1 on, 0 off (a full copy), -1 unset (on
			      * when the config has `logical:`) */
	int line, col;       /* where the rule starts in the file */
};

/* One item of `phases:` (issue 12): applied and waited on in order. */
struct config_phase {
	char *name;          /* DNS label of at most CONFIG_PHASE_NAME_MAX characters */
	/* A directory, relative to the config's; with `services:`, a service's
	 * name means that service (services[0]); NULL when `templates:` is a
	 * list of services. */
	char *templates;
	int templates_line, templates_col;
	/* With `services:`: the services this phase deploys (`templates: NAME`
	 * naming a service, or `templates: [a, b]`), in order, NULL-terminated;
	 * NULL (nservices 0): the phase is the directory `templates`. Every
	 * service is in exactly one phase. */
	char **services;
	size_t nservices;
	int run_once;        /* run: once (else always) */
	char *outputs;       /* the ConfigMap of `outputs: configmap/NAME`, or NULL */
	int line, col;       /* where the item starts */
};

#define CONFIG_PHASE_NAME_MAX 40
/* A CI variable named in the config, and where. */
struct config_env_var {
	char *name;
	int line, col;
};

/* `check:` - the URL check of a deploy, after the provider says ready
 * (enabled 0: none). */
struct config_check {
	int enabled;
	char *url;            /* a template, or NULL: the environment's URL */
	char *path;           /* starts with '/'; "/" means the URL itself */
	int status_lo, status_hi; /* the accepted statuses (default 200-399) */
	char *contains;       /* text the body must contain, or NULL */
	long timeout_seconds; /* for the whole check (default 120) */
	cJSON *headers;       /* {name: value template} or NULL */
	cJSON *headers_from_env; /* {name: environment variable} or NULL */
	int line, col;        /* where `check` is written */
};

/* One entry of `services:` (runner/config/services.c has the key table). */
struct config_service {
	char *name;              /* a DNS label, unique in the config */
	char *repo;              /* the repository it is built from; NULL: this one */
	char *production_branch; /* where a missing branch comes from; NULL: the
				  * repository's HEAD branch */
	char *templates;         /* directory, as written (relative to the config's dir) */
	char *image;             /* the image template, or NULL */
	/* Every key of the entry as JSON, validated against the table (with
	 * defaults): keys added to the table later are read from here. */
	cJSON *keys;
	int line, col;           /* the service's name in the file */
	int templates_line, templates_col;
};

/* `logical:` and `shared_paths:` (issue 13, logical_config.c): deploy only
 * the services a pull request changed, borrow the others from the baseline
 * environment. baseline NULL: the config has no `logical:`. */
struct config_logical {
	char *baseline;      /* the baseline environment's name (a DNS label) */
	char *namespace_;    /* its namespace as written, or NULL: computed like any
			      * environment's (provider.namespace with env.name = baseline) */
	char **shared_paths; /* globs: a changed file under one deploys everything */
	size_t nshared;
	int line, col;       /* the `logical:` key */
};

struct prenv_config {
	char *path;          /* the file read */
	char *dir;           /* its directory (relative paths are resolved from it) */
	int version;
	char *app;           /* validated DNS-1123 label */
	char *templates;     /* directory, as written (relative to dir) or NULL */
	int templates_line, templates_col; /* where it is written */
	int allow_empty;     /* the templates may render no object */
	char *url;           /* Mustache template or NULL */
	char *forks;         /* "skip" (default) or "deploy" */
	char *provider_kind; /* "kubernetes", "pages", "command" */
	/* Provider-specific keys as JSON (strings, numbers, arrays, booleans),
	 * already validated against the provider's key table; durations are
	 * converted to seconds (numbers). */
	cJSON *provider;
	struct config_rule *rules;
	size_t nrules;
	cJSON *values;       /* object of string templates (may nest) or NULL */
	cJSON *positions;    /* where each template starts: see config_template_pos() */
	int environments_line, environments_col; /* the `environments:` key */
	/* phases: (none: one implicit phase, `templates`) and on_destroy: */
	struct config_phase *phases;
	size_t nphases;
	int phases_line, phases_col;       /* the `phases:` key */
	char *teardown_templates;          /* on_destroy.templates, or NULL */
	int teardown_line, teardown_col;
	long teardown_timeout;             /* on_destroy.timeout, seconds (default 300) */
	/* secrets: (only with a provider whose schema has .secrets): the
	 * Secret's name (default "<app>-secrets", set when `secrets:` is),
	 * the CI variables copied into it, the dockerconfigjson Secret's name */
	char *secrets_name;
	struct config_env_var *secrets_env;
	size_t nsecrets_env;
	char *image_pull;
	int secrets_line, secrets_col;   /* the `secrets:` key; 0 when absent */
	/* access.basic_auth: user, the variable holding the password, realm
	 * (default "Preview"); auth_user NULL when absent */
	char *auth_user;
	struct config_env_var auth_password;
	char *auth_realm;
	int access_line, access_col;
	struct config_check check;
	/* `services:`, in the file's order; 0 when absent (then `templates` is
	 * the one implicit service). */
	struct config_service *services;
	size_t nservices;
	int services_line, services_col; /* the `services:` key */
	struct config_logical logical;
};

/* The service called name, or NULL. */
const struct config_service *config_service_find(const struct prenv_config *cfg,
						 const char *name);

/* The directory of a service's templates (absolute, or relative to the
 * current directory: the config's dir joined). Caller frees; NULL when out
 * of memory. svc NULL: the top-level `templates` (NULL when unset). */
char *config_templates_dir(const struct prenv_config *cfg, const struct config_service *svc);

/* Parses text (len bytes) read from path. kinds: the provider kinds this
 * prenv has and their keys (NULL-terminated; providers/registry.h's
 * provider_schemas()). On success *out is the caller's. */
int config_parse(struct prenv_config **out, const char *path, const char *text,
		 size_t len, const struct config_schema *const *kinds, struct prenv_err *err);
/* Reads and parses path. */
int config_load(struct prenv_config **out, const char *path,
		const struct config_schema *const *kinds, struct prenv_err *err);
void config_free(struct prenv_config *cfg);

/* The longest duration any key (or --wait) accepts: a year. Bounding them
 * keeps every use (milliseconds, deploy time + ttl) far from overflow. */
#define CONFIG_DUR_MAX (365L * 86400)

/* Parses an expected HTTP status: "200", a class "2xx" or a range
 * "200-399" (statuses 100-599) into [*lo, *hi]; -1 if it is none of them. */
int config_parse_status(const char *s, int *lo, int *hi);
/* Where the template under key ("url", "values.image", "values.a.b")
 * starts in the file: its line and column and whether it is a plain scalar
 * (else quoted: its text starts one column later). 0 when unknown. */
int config_template_pos(const struct prenv_config *cfg, const char *key, int *line, int *col,
			int *plain);

/* Parses "300s", "5m", "72h", "1h30m", "2d" (units d/h/m/s, largest first,
 * each once) or a bare integer number of seconds; -1 if invalid, -2 if well
 * formed but longer than CONFIG_DUR_MAX. */
long config_parse_duration(const char *s);

#endif
