/* gc.h - which environments to collect: a pure decision (listed
 * environments + pull request states + the clock -> actions) and its
 * driver, which lists through the provider session, asks the code host,
 * destroys and reports.
 *
 * lifecycle never renders templates; the driver touches environments only
 * through the provider interface and reports only through report/policy.h.
 */
#ifndef PRENV_LIFECYCLE_GC_H
#define PRENV_LIFECYCLE_GC_H

#include <time.h>

#include "util/buf.h"

struct prenv_config;
struct config_rule;
struct prenv_err;
struct cJSON;

/* ------------------------------------------------------------ decision */

/* One environment as a provider listed it. */
struct gc_env {
	const char *name;        /* DNS label */
	const char *ns;          /* or NULL */
	const char *sha;         /* or NULL */
	long pr;                 /* 0: none (a "pr-N" name counts) */
	long long deployed_at;   /* unix seconds, -1 unknown */
};

enum gc_action { GC_KEEP = 0, GC_DESTROY };

struct gc_decision {
	enum gc_action action;
	const struct config_rule *rule; /* the rule that gives its TTL, or NULL */
	int protected_;
	long ttl;                /* 0: none */
	struct prenv_buf why;    /* "PR #7 closed", "TTL 72h passed: deployed 3d1h ago", ... */
};

/* The rule that decides an environment's TTL: the rule whose `name` is the
 * environment's name, else (for a PR environment) the first
 * `pull_request: true` rule, else the first rule with neither branch nor
 * pull_request. *protected_ is set when that rule, or any rule named like
 * the environment or whose branch pattern matches its name, is protected
 * (gc errs on the side of keeping). */
const struct config_rule *gc_rule(const struct prenv_config *cfg, const char *name, long pr,
				  int *protected_);

/* The PR number of e: e->pr, else from a "pr-N" name; 0 when none. */
long gc_env_pr(const struct gc_env *e);

/* Whether deciding e needs its pull request's state (not protected, has a
 * PR): the driver asks the code host only then. */
int gc_wants_pr_state(const struct prenv_config *cfg, const struct gc_env *e);

/* Decides e at now. pr_state: "open", "closed", "merged", or NULL
 * (unknown, or not asked). d must be zeroed or cleared; free d->why with
 * gc_decision_clear(). Returns 0 or PRENV_ENOMEM. */
int gc_decide(const struct prenv_config *cfg, const struct gc_env *e, const char *pr_state,
	      time_t now, struct gc_decision *d);
void gc_decision_clear(struct gc_decision *d);

/* "72h", "2h30m", "45m", "20s", "9d3h" (days from a week on): at most two
 * units. */
void gc_duration(struct prenv_buf *b, long seconds);

/* ------------------------------------------------------------ driver */

struct provider_session;
struct provider_run;
struct prenv_context;

struct gc_opts {
	const struct prenv_config *cfg;
	const struct prenv_context *ctx;  /* this run's: the repository, the code host */
	struct provider_session *session; /* the provider's, for list and destroy */
	const struct provider_run *run;   /* the operations' arguments (plan NULL) */
	int strict;                       /* --strict-report, for the comments */
	time_t now;
	/* Called after each environment with its result entry (see gc_run) and
	 * the width of the longest name; may be NULL. */
	void (*on_env)(void *ud, const struct cJSON *entry, int width);
	void *ud;
	/* The on_destroy Jobs of one environment (run: its plan and context),
	 * run before its destroy; NULL: none. A failure is the environment's
	 * error; it is still destroyed unless keep_on_teardown_failure. */
	int (*teardown)(void *ud, const struct provider_run *run, struct prenv_err *err);
	void *teardown_ud;
	int keep_on_teardown_failure;
};

/* Lists the environments, decides each and destroys what is due (a dry run
 * decides only), marking the PR comments destroyed. *out (the caller's)
 * gets an array of {"name","namespace"?,"pr","pr_state","deployed_at"
 * (RFC 3339 or null),"ttl_seconds","protected","action","reason","error"?}
 * with action
 * "kept", "destroyed", "would-destroy" or "failed"; *out stays NULL when
 * the provider cannot list. Returns 0, or PRENV_EFAIL when a destroy
 * failed (the others are still handled), or the list's error. */
int gc_run(const struct gc_opts *o, struct cJSON **out, struct prenv_err *err);

#endif
