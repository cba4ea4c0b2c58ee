/* provider.h - deploy backends plug in through this vtable (like curl's
 * protocol handlers). One const struct per provider, found by name. */
#ifndef PRENV_PROVIDER_H
#define PRENV_PROVIDER_H

#include <cjson/cJSON.h>

struct prenv_config;
struct prenv_context;
struct prenv_plan;
struct prenv_err;

enum prenv_op { PRENV_OP_DEPLOY, PRENV_OP_DESTROY, PRENV_OP_STATUS };

struct provider_run {
	const struct prenv_config *cfg;
	const struct prenv_context *ctx;
	const struct prenv_plan *plan;
	const cJSON *objects;   /* rendered documents (array), or NULL */
	const char *const *envp;
	int dry_run;
	int wait_seconds;       /* -1: the provider's/config's default */
	int no_wait;
	const char *kubeconfig; /* --kubeconfig, or NULL */
};

/* What an operation reports back (filled by the provider, owned by caller;
 * free with provider_result_clear()). */
struct provider_result {
	char *status;   /* "ready", "failed", "destroyed", "absent", "deployed" */
	char *url;      /* final URL (may replace plan->url), or NULL */
	char *reason;   /* one line, on failure */
	char *detail;   /* longer text (last log lines), or NULL */
	cJSON *info;    /* provider-specific (status output), or NULL */
};

struct prenv_provider {
	const char *name;
	/* Each returns 0 or a negative PRENV_E* with err filled. */
	int (*deploy)(const struct provider_run *run, struct provider_result *res, struct prenv_err *err);
	int (*destroy)(const struct provider_run *run, struct provider_result *res, struct prenv_err *err);
	int (*status)(const struct provider_run *run, struct provider_result *res, struct prenv_err *err);
	/* Optional (NULL when the provider has no place for it): a small note
	 * kept with the environment, e.g. "comment-id", the PR comment that
	 * reports it, so later runs need not list the PR's comments.
	 * get_note: *out is the caller's, NULL when absent. */
	int (*get_note)(const struct provider_run *run, const char *key, char **out,
			struct prenv_err *err);
	int (*set_note)(const struct provider_run *run, const char *key, const char *value,
			struct prenv_err *err);
	/* Optional (NULL when unsupported): this app's environments, for gc.
	 * run->plan is NULL. *out (the caller's) is an array of objects
	 *   {"name": env name, "namespace": string (kubernetes) or absent,
	 *    "pr": number or null, "sha": string or null,
	 *    "deployed_at": unix seconds or null}
	 * Returns 0 with *out NULL when this configuration cannot list (e.g.
	 * a pages git: target); a negative PRENV_E* on failure. */
	int (*list)(const struct provider_run *run, cJSON **out, struct prenv_err *err);
};

/* Finds a provider by name; NULL when unknown. */
const struct prenv_provider *provider_find(const char *name);
void provider_result_clear(struct provider_result *res);

#endif
