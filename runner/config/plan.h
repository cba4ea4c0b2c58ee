/* plan.h - which environment this run is for, and its name (pure, no I/O).
 */
#ifndef PRENV_PLAN_H
#define PRENV_PLAN_H

#include <stddef.h>
#include <cjson/cJSON.h>
#include "config/config.h"

struct prenv_context;

#define PLAN_MAX_UNTRUSTED 64
struct prenv_err;

struct prenv_plan {
	char *env_name;    /* DNS-1123 label */
	enum env_kind kind;
	char *namespace_;  /* <app>-<env> by default; DNS-1123 label */
	char *url;         /* rendered, or NULL when the config has none */
	char *host;        /* the URL's host, or NULL */
	/* `check:` rendered (NULL when check is off): check.url or NULL (the
	 * deploy's URL), and {header: value} of check.headers. */
	char *check_url;
	cJSON *check_headers;
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
	/* With `services:` (filled by runner/resolve/ after plan_make; NULL
	 * otherwise): one object per service, in the config's order: name,
	 * repo, repo_name, branch, sha, short_sha, virtual, from_branch, image
	 * (the same as the templates' services.<name>), owned by the plan. */
	cJSON *services;
	/* owner/name of every service's repository (this one's included),
	 * NULL-terminated, owned by the plan; NULL without services. The
	 * namespace's ownership check accepts each of them. */
	char **service_repos;
};

/* Adds a dotted variable name to the untrusted list (a copy). -1 when out
 * of memory; a full list is left as it is (0). */
int plan_add_untrusted(struct prenv_plan *plan, const char *name);

/* Moves an error at line:col of the template under key ("url",
 * "values.a", "services.web.image") to that template's position in the
 * config file. */
void plan_err_at_config(struct prenv_err *err, const struct prenv_config *cfg, const char *key);

/* Picks the first matching rule and names the environment. A rule matches
 * when its branch pattern matches ctx->branch (the PR's head branch on PRs;
 * a run without a branch matches no branch rule), its tag pattern matches
 * ctx->tag (a run without a tag matches no tag rule) and its pull_request,
 * when set, equals ctx->has_pr.
 * Name: the rule's `name` template, else pr-<number>, else the branch, else
 * the tag, else sha-<7 hex>; then slugged to at most 62 - strlen(app) characters so the
 * default namespace <app>-<name> is a label too. The namespace template (or
 * the default) is kept when it renders to a label, slugged otherwise.
 * Templates (name, namespace, url, values) are rendered strictly; values may
 * use app, env.*, git.*, pr.*, repo.*, ci.*, but not other values. pr is
 * JSON null outside a PR, so use {{#pr}}..{{/pr}} for PR-only text.
 * Errors: PRENV_ECONFIG when no rule matches (names the config file and the
 * line of `environments:`), when nothing can name the environment, or when
 * a template fails. */
int plan_make(struct prenv_plan **out, const struct prenv_config *cfg,
	      const struct prenv_context *ctx, struct prenv_err *err);
void plan_free(struct prenv_plan *plan);

/* The plan of the environment called name (`--env NAME`: any environment,
 * not this run's): the rule that gives it its kind and TTL
 * (plan_rule_for_env), its namespace and URL rendered with env.name = name,
 * the other variables from ctx. PRENV_ECONFIG when name cannot be one. */
int plan_named(struct prenv_plan **out, const struct prenv_config *cfg,
	       const struct prenv_context *ctx, const char *name, struct prenv_err *err);

/* The rule that decides a listed environment's TTL and kind: the rule
 * whose `name` is the environment's name, else (for a PR environment) the
 * first `pull_request: true` rule, else the first rule with neither branch
 * nor pull_request. *protected_ is set when that rule, or any rule named
 * like the environment or whose branch pattern matches its name, is
 * protected (errs on the side of keeping). NULL when none. */
const struct config_rule *plan_rule_for_env(const struct prenv_config *cfg, const char *name,
					    long pr, int *protected_);

/* N of an environment named pr-N, else 0. */
long plan_env_pr(const char *name);

/* The first rule of cfg that matches this run (borrowed from cfg), or NULL
 * with err (PRENV_ECONFIG at the `environments:` key) naming the run (PR,
 * branch or tag) and the rule to add. plan_make() starts with it;
 * `prenv context` uses it to show a run no rule matches without failing. */
const struct config_rule *plan_find_rule(const struct prenv_config *cfg,
					 const struct prenv_context *ctx, struct prenv_err *err);

/* "env" object for `prenv context -o json`. Caller frees. */
cJSON *plan_to_json(const struct prenv_plan *plan);

/* The dotted variable names whose values come from the pull request and are
 * untrusted (git.branch, pr.title, ...). NULL-terminated, static. */
extern const char *const plan_untrusted_vars[];

#endif
