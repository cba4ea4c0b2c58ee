/* plan.h - which environment this run is for, and its name (pure, no I/O).
 */
#ifndef PRENV_PLAN_H
#define PRENV_PLAN_H

#include <stddef.h>
#include <cjson/cJSON.h>
#include "config.h"

struct prenv_context;

#define PLAN_MAX_UNTRUSTED 64
struct prenv_err;

struct prenv_plan {
	char *env_name;    /* DNS-1123 label */
	enum env_kind kind;
	char *namespace_;  /* <app>-<env> by default; DNS-1123 label */
	char *url;         /* rendered, or NULL when the config has none */
	char *host;        /* the URL's host, or NULL */
	int protected_;
	long ttl_seconds;
	const struct config_rule *rule; /* borrowed from the config */
	/* The template variables of DESIGN.md (app, env.*, git.*, pr.*, repo.*,
	 * ci.*, values.*) as one JSON object, owned by the plan. */
	cJSON *vars;
	/* plan_untrusted_vars plus every values.* whose template mentions one of
	 * them (so render can escape/warn for those too). NULL-terminated; points
	 * into untrusted_, owned by the plan. */
	const char *const *untrusted;
	char *untrusted_[PLAN_MAX_UNTRUSTED + 1];
	size_t nuntrusted;
};

/* Picks the first matching rule and names the environment. Errors:
 * PRENV_ECONFIG when no rule matches (names the config file). */
int plan_make(struct prenv_plan **out, const struct prenv_config *cfg,
	      const struct prenv_context *ctx, struct prenv_err *err);
void plan_free(struct prenv_plan *plan);

/* DNS-1123 slug of in, at most maxlen (<= 63) characters. When information
 * was lost (case folded, characters replaced, truncated) a short
 * deterministic hash of the input is appended. Caller frees. */
char *plan_slug(const char *in, size_t maxlen);
int plan_is_dns_label(const char *s);

/* GitHub Actions branch filter glob: '*' does not match '/', '**' matches
 * anything, '?' one character, [...] classes. Returns 1 on a match. */
int plan_glob_match(const char *pattern, const char *s);

/* "env" object for `prenv context -o json`. Caller frees. */
cJSON *plan_to_json(const struct prenv_plan *plan);

/* The dotted variable names whose values come from the pull request and are
 * untrusted (git.branch, pr.title, ...). NULL-terminated, static. */
extern const char *const plan_untrusted_vars[];

#endif
