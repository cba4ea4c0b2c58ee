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
	/* sleep state and activity (unix seconds; 0: none/unknown) */
	long long asleep_since;  /* > 0: asleep since then */
	long long woken_at;      /* last wake */
	long long touched_at;    /* last `prenv touch` */
	/* cost, as listed (not used by the decision) */
	long long awake_since;   /* > 0: running since then */
	int has_cost;            /* the provider gave the requests below */
	double cpu_millis, memory_bytes;
	/* where it lives, as listed (NULL: the provider does not say) */
	const char *context;     /* its name, for people */
	const char *target;      /* the provider's key: run->target of its operations */
};

/* At most one action per environment and run. */
enum gc_action { GC_KEEP = 0, GC_DESTROY, GC_SLEEP, GC_WAKE };

struct gc_decision {
	enum gc_action action;
	const struct config_rule *rule; /* the rule that gives its TTL, or NULL */
	int protected_;
	long ttl;                /* 0: none */
	struct prenv_buf why;    /* "PR #7 closed", "TTL 72h passed: deployed 3d1h ago", ... */
	int asleep;              /* asleep after the action (GC_SLEEP, or kept asleep) */
	long long next_wake;     /* asleep: when its schedule wakes it; -1: nothing will
				  * (`prenv wake` or a push does) */
	struct prenv_buf until;  /* asleep: "until Mon 08:00 (Europe/Paris)" or "" */
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
 * (unknown, or not asked). After destroy (PR closed, TTL), the rule's
 * schedule and sleep_after decide:
 *  - asleep: woken when an awake window opened after it fell asleep (so a
 *    `prenv sleep` inside the window, or an idle sleep, lasts until the
 *    next opening); else kept asleep;
 *  - awake, outside the window: put to sleep when it was awake before the
 *    window closed, or when its last activity (deploy, touch, wake) is
 *    older than sleep_after (1h without sleep_after): a push at night
 *    keeps it up that long;
 *  - awake, sleep_after: put to sleep when nothing happened for that long
 *    (the opening of the window counts as activity).
 * Deciding the same environment twice at one instant after acting gives
 * GC_KEEP (the action's own stamp is the instant). d must be zeroed or cleared; free d->why with
 * gc_decision_clear(). Returns 0 or PRENV_ENOMEM. */
int gc_decide(const struct prenv_config *cfg, const struct gc_env *e, const char *pr_state,
	      time_t now, struct gc_decision *d);
void gc_decision_clear(struct gc_decision *d);

/* How long an environment put to sleep at now sleeps, by r's schedule:
 * "until Mon 08:00 (Europe/Paris)" (the next opening of its awake window
 * after now, or after the window now is in), appended to b; nothing when
 * r has no schedule. */
void gc_sleep_until(struct prenv_buf *b, const struct config_rule *r, time_t now);

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
	/* Called after each environment with its result entry (see gc_run),
	 * the width of the longest name and of the longest context name (0
	 * when the provider listed one context only); may be NULL. Also called
	 * for each context that could not be listed: an entry without "name"
	 * ({"context", "error", "action": "failed"}). */
	void (*on_env)(void *ud, const struct cJSON *entry, int width, int ctx_width);
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
 * gets an array of {"name","namespace"?,"context"? (where it lives),"pr","pr_state","deployed_at"
 * (RFC 3339 or null),"ttl_seconds","protected","state" ("awake", "asleep",
 * "destroyed": after the action),"next_wake" (RFC 3339 or null),
 * "cpu_millis","memory_bytes" (requested now, or null when the provider
 * cannot say),"awake_seconds" (how long it has been running, 0 asleep),
 * "action","reason","error"?} with action "kept", "destroyed", "slept",
 * "woken", "would-destroy", "would-sleep", "would-wake" or "failed".
 * Sleep and wake also update the PR comment. A context the provider
 * could not list (several contexts, provider.h) gets an entry
 * {"name": null, "context", "error", "action": "failed"}: the others are
 * handled and the result is PRENV_EFAIL. *out stays NULL when
 * the provider cannot list. Returns 0, or PRENV_EFAIL when a destroy
 * failed (the others are still handled), or the list's error. */
int gc_run(const struct gc_opts *o, struct cJSON **out, struct prenv_err *err);

/* The widths for lines of the listed envs: the longest usable name (at
 * least 4) and the longest context name, 0 when all live in one context
 * (the column is left out then). */
void gc_widths(const struct cJSON *envs, int *width, int *ctx_width);

#endif
