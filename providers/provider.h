/* provider.h - the versioned interface every deploy backend implements
 * (like libgit2's transports and curl's protocol handlers).
 *
 * A provider is one `const struct prenv_provider` in its own folder
 * (providers/<name>/), listed in the one table of providers/registry.c.
 * The core (runner/) includes only this header and registry.h, never a
 * provider's own header.
 *
 * Life of a run:
 *
 *	struct provider_session *s = NULL;
 *	rc = provider_open(prov, &run, &s, err);        // once per run
 *	rc = s->provider->deploy(s, &run, objects, &res, err);
 *	rc = s->provider->set_note(s, &run, "comment-id", "42", err);
 *	provider_close(s);                               // once
 *
 * A session holds what a run would otherwise redo for every operation:
 * the Kubernetes session loads the kubeconfig, runs the exec credential
 * plugin and opens its connections once, and every request of the run (the
 * deploy, the remembered PR comment id, gc's list and destroys) goes
 * through it. Sessions connect lazily: opening one does no I/O, so a
 * configuration error found later is still reported before any request.
 */
#ifndef PRENV_PROVIDER_H
#define PRENV_PROVIDER_H

#include <cjson/cJSON.h>

#include "config/schema.h"

struct prenv_config;
struct prenv_context;
struct prenv_plan;
struct prenv_err;

/* Bumped when a slot is added or changes meaning; provider_open() refuses
 * a provider built against another version. */
#define PRENV_PROVIDER_VERSION 4

enum prenv_op { PRENV_OP_DEPLOY, PRENV_OP_DESTROY, PRENV_OP_STATUS };

/* One phase of a deploy (since version 3; .prenv.yml `phases:`, issue 12).
 * The core runs the phases in order, one deploy call each, and stops at the
 * first that fails; run->phase NULL is a deploy without phases (today's
 * one deploy of everything). Everything is borrowed. */
struct provider_phase {
	const char *name;            /* labels the phase's objects (prenv.dev/phase) */
	const char *const *all;      /* every phase of the config, NULL-terminated */
	/* The last phase this run applies: besides its own earlier objects, its
	 * prune removes the environment's objects of no phase or of a phase
	 * that is no longer in all. */
	int last;
	/* A ConfigMap to read once the phase is ready: res->info gets
	 * {"outputs": {key: value, ...}}; its absence is a failure. NULL: none. */
	const char *outputs;
	/* A `run: once` phase that ran before: nothing is applied or pruned,
	 * only its outputs are read (res->info as above). */
	int outputs_only;
	/* on_destroy: run in an existing environment only (absent: nothing to
	 * do, status "absent"), change nothing else, prune nothing; bounded by
	 * run->wait_seconds. */
	int teardown;
	/* With services: (run->plan->services set): the services this phase
	 * deploys (its objects carry prenv.dev/service), NULL-terminated; NULL:
	 * a directory's phase, whose objects belong to no service. The phase's
	 * prune takes exactly these, never another phase's or service's. */
	const char *const *services;
};

/* A logical environment (.prenv.yml `logical:`, issue 13): the core
 * deploys only the services a change touched (the objects handed to
 * deploy) and hands the others' here, for the provider to reach in the
 * baseline environment instead. Everything is borrowed. */
struct provider_logical {
	const char *baseline;        /* the baseline environment's name */
	const char *baseline_ns;     /* its namespace (computed by the core) */
	/* The rendered objects of the borrowed services (each labelled
	 * prenv.dev/service): never applied; the provider makes aliases of
	 * what they expose (Kubernetes: an ExternalName Service per Service). */
	const cJSON *borrowed;
	/* What to keep with the environment for `status`: {"baseline",
	 * "baseline_namespace", "reason" (why everything is deployed, or
	 * absent), "services": [{"name", "deployed": bool, "why"}]} */
	const cJSON *summary;
};

/* The arguments of one operation. Everything is borrowed. */
struct provider_run {
	const struct prenv_config *cfg;
	const struct prenv_context *ctx;
	const struct prenv_plan *plan;  /* the environment; NULL for list */
	const char *const *envp;
	int dry_run;
	int wait_seconds;       /* -1: the provider's/config's default */
	int no_wait;
	const char *kubeconfig; /* --kubeconfig, or NULL */
	const struct provider_phase *phase; /* deploy: the phase, or NULL (see above) */
	/* deploy: the values of the config's secrets: and access: (checked
	 * and masked by the core), or NULL when it has neither:
	 *   {"env": {"name": Secret name, "data": {VAR: value}},
	 *    "image_pull": {"name": Secret name, "dockerconfigjson": JSON text},
	 *    "basic_auth": {"secret": name, "realm": text, "htpasswd": "user:$apr1$...\n"}}
	 * each member present only when configured. Only providers whose
	 * schema has .secrets get them. */
	const cJSON *secrets;
	long long now;          /* the clock of this run (gc --now), unix seconds;
				 * 0: time(NULL). Stamps sleep/wake/touch times. */
	/* gc, status --all: where the provider listed the environment (its list
	 * entry's "target"), so that the operation goes there; NULL: where
	 * run->plan's rule says (deploy and the other commands). */
	const char *target;
	/* deploy: a logical environment (see above), or NULL: every service
	 * is deployed. Only providers with .logical get one. */
	const struct provider_logical *logical;
};

/* What an operation reports back (filled by the provider, owned by the
 * caller; free with provider_result_clear()). */
struct provider_result {
	/* "ready", "applied" (a deploy that was not waited for: wait 0),
	 * "failed", "destroyed", "absent" */
	char *status;
	char *url;      /* final URL (may replace plan->url), or NULL */
	char *reason;   /* one line, on failure */
	char *detail;   /* longer text (last log lines), or NULL */
	cJSON *info;    /* provider-specific (status output), or NULL */
};

/* The part of a session the core sees. Each provider's own session struct
 * starts with this (and casts back in its slots). */
struct provider_session {
	const struct prenv_provider *provider;
};

struct prenv_provider {
	unsigned int version;           /* PRENV_PROVIDER_VERSION */
	const char *name;               /* provider.kind in .prenv.yml */
	struct config_schema schema;    /* its configuration keys */
	/* 1 when deploy honours run->phase (phases, Jobs, outputs, teardown);
	 * 0: a configuration with `phases:` or `on_destroy:` is refused. */
	int phases;
	/* 1 when deploy honours run->logical (borrowed services reached in
	 * the baseline, the baseline checked before any write); 0: a
	 * configuration with `logical:` is refused. */
	int logical;

	/* Starts a session for run->cfg (connects lazily). *out is the
	 * caller's, released with close. */
	int (*open)(struct provider_session **out, const struct provider_run *run,
		    struct prenv_err *err);
	void (*close)(struct provider_session *s);

	/* Each returns 0 or a negative PRENV_E* with err filled; res gets the
	 * outcome either way. objects: the rendered documents (an array). */
	int (*deploy)(struct provider_session *s, const struct provider_run *run,
		      const cJSON *objects, struct provider_result *res, struct prenv_err *err);
	int (*destroy)(struct provider_session *s, const struct provider_run *run,
		       struct provider_result *res, struct prenv_err *err);
	int (*status)(struct provider_session *s, const struct provider_run *run,
		      struct provider_result *res, struct prenv_err *err);

	/* Optional (since version 2): the checks of the rendered objects that
	 * need no cluster and no session (no I/O), so `prenv render` finds a
	 * mistake before any deploy does. Errors are PRENV_ECONFIG naming the
	 * object's template file:line. */
	int (*check)(const struct provider_run *run, const cJSON *objects, struct prenv_err *err);

	/* Optional (since version 4; NULL: deploy's own order is enough):
	 * what deploy would refuse before its first write, checked without
	 * writing anything, before the pull request is told that a deploy
	 * started. Same arguments as deploy; errors as deploy's (exit 2 or 3:
	 * nothing was changed). */
	int (*precheck)(struct provider_session *s, const struct provider_run *run,
			const cJSON *objects, struct prenv_err *err);

	/* Optional (NULL when unsupported): this app's environments, for gc.
	 * run->plan is NULL. *out (the caller's) is an array of objects
	 *   {"name": env name, "namespace": string (kubernetes) or absent,
	 *    "pr": number or null, "sha": string or null,
	 *    "deployed_at": unix seconds or null,
	 *    "foreign": true and "repo": its repository, when it is another
	 *    repository's environment (gc leaves it alone; destroy refuses),
	 *    since version 3, each optional (absent: unknown or not kept):
	 *    "asleep_since": unix seconds (the environment is asleep),
	 *    "woken_at", "touched_at": unix seconds (last wake, `prenv touch`),
	 *    "awake_since": unix seconds (since when it runs, for cost),
	 *    "cpu_millis", "memory_bytes": requested by what runs now
	 *    (containers x replicas),
	 *    "created_at": unix seconds (the environment's age),
	 *    "context": where it lives (kubernetes: the context's name),
	 *    "target": an opaque key the core hands back in run->target for
	 *    the operations on this environment}
	 * A provider that visits several places (kubernetes: every context a
	 * rule names) adds an entry without "name" for each place it could not
	 * list: {"context": name, "error": one line, "code": PRENV_E*}; the
	 * others are listed all the same. When it could list none, it returns
	 * the first one's error instead.
	 * Returns 0 with *out NULL when this configuration cannot list (e.g.
	 * a pages git: target); a negative PRENV_E* on failure. */
	int (*list)(struct provider_session *s, const struct provider_run *run, cJSON **out,
		    struct prenv_err *err);

	/* Optional (NULL when the provider has no place for it): a small note
	 * kept with run->plan's environment, e.g. "comment-id", the PR comment
	 * that reports it, so later runs need not list the PR's comments.
	 * get_note: *out is the caller's, NULL when absent. set_note: value
	 * NULL removes it. */
	int (*get_note)(struct provider_session *s, const struct provider_run *run,
			const char *key, char **out, struct prenv_err *err);
	int (*set_note)(struct provider_session *s, const struct provider_run *run,
			const char *key, const char *value, struct prenv_err *err);

	/* Optional (since version 3; NULL when unsupported: the commands say
	 * "not supported by provider X", exit 2): put run->plan's environment
	 * to sleep (stop what runs, remember how to start it again, note the
	 * time run->now as "asleep since") and wake it (restore exactly what
	 * sleep stopped; with a wait (run->wait_seconds/no_wait as deploy)
	 * until it is ready). Both are idempotent: an environment already
	 * asleep/awake is left as it is, without a write. res->status:
	 * "sleeping" / "awake" (or "ready" after a wait), "absent" when the
	 * environment does not exist. Sleep refuses a protected environment. */
	int (*sleep)(struct provider_session *s, const struct provider_run *run,
		     struct provider_result *res, struct prenv_err *err);
	int (*wake)(struct provider_session *s, const struct provider_run *run,
		    struct provider_result *res, struct prenv_err *err);
	/* Optional (since version 3): notes run->now as the environment's last
	 * activity (`prenv touch`; gc's sleep_after counts from the last deploy,
	 * touch or wake). Does not wake it. */
	int (*touch)(struct provider_session *s, const struct provider_run *run,
		     struct prenv_err *err);
};

/* Opens a session of p, checking its interface version. */
int provider_open(const struct prenv_provider *p, const struct provider_run *run,
		  struct provider_session **out, struct prenv_err *err);
/* NULL is a no-op. */
void provider_close(struct provider_session *s);

/* One operation in a session of its own (tests, one-shot callers):
 * open, op, close. objects only for PRENV_OP_DEPLOY. */
int provider_once(const struct prenv_provider *p, enum prenv_op op,
		  const struct provider_run *run, const cJSON *objects,
		  struct provider_result *res, struct prenv_err *err);

/* The notes of one environment as plain callbacks (for report/policy.h's
 * struct report_notes): ud points at a struct provider_note_ref. NULL-safe
 * provider_notes_supported() tells whether the provider keeps notes. */
struct provider_note_ref {
	struct provider_session *s;
	const struct provider_run *run;
};
int provider_notes_supported(const struct provider_session *s);
int provider_note_get(void *ud, const char *key, char **out, struct prenv_err *err);
int provider_note_set(void *ud, const char *key, const char *value, struct prenv_err *err);

void provider_result_clear(struct provider_result *res);

#endif
