/* k8s_int.h - what the files of the kubernetes provider share (not for
 * other modules; they use k8s.h).
 */
#ifndef PRENV_K8S_INT_H
#define PRENV_K8S_INT_H

#include <stddef.h>
#include <time.h>
#include <cjson/cJSON.h>

#include "config/config.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/http.h"

struct prenv_plan;

/* ------------------------------------------------------------ kubeconfig.c */

/* Where cluster access comes from. Everything is optional. */
struct k8s_load_opts {
	const char *kubeconfig;      /* --kubeconfig or provider.kubeconfig: one file */
	const char *context;         /* provider.context; NULL: current-context */
	const char *const *envp;     /* KUBECONFIG, PRENV_KUBECONFIG, HOME, KUBERNETES_SERVICE_*, PRENV_SA_DIR */
	/* The variable that holds the kubeconfig in place of PRENV_KUBECONFIG
	 * (PRENV_KUBECONFIG_<KIND>; it must be set), or NULL. Never with
	 * kubeconfig. */
	const char *var;
};

/* Resolved access to one cluster. Secrets (token, key) are registered with
 * log_add_secret() when read and live only in memory. */
struct k8s_conn {
	char *server;          /* base URL, no trailing '/' */
	char *context;         /* context name, or "in-cluster" */
	char *user;            /* user name (messages), or NULL */
	char *source;          /* where the config came from (messages) */
	char *default_ns;      /* the context's namespace, or NULL */
	struct prenv_buf ca;   /* PEM or empty */
	struct prenv_buf cert; /* PEM client certificate or empty */
	struct prenv_buf key;  /* PEM private key or empty */
	char *ca_file;         /* only when the CA stays a file (never) - unused */
	int insecure;
	char *token;           /* static token, or the last one read/produced */
	char *token_file;      /* re-read when its mtime or size changes */
	struct timespec token_mtime;
	long long token_size;
	cJSON *exec;           /* users[].user.exec (copy), or NULL */
	char *exec_dir;        /* directory of the kubeconfig that defined it */
	time_t exec_expiry;    /* 0: no expiry */
	int exec_done;         /* the plugin ran at least once */
	int cred_changed;      /* the client certificate changed (rebuild client) */
	unsigned long serial;  /* which credential: bumped when the token or the
				* client certificate is replaced (starts at 1) */
	cJSON *cluster;        /* clusters[].cluster (copy) for provideClusterInfo */
	char **envp;           /* copy of the environment for exec plugins */
};

/* Finds and loads the cluster access: --kubeconfig / provider.kubeconfig,
 * else PRENV_KUBECONFIG (content, raw or base64), else KUBECONFIG (a
 * ':'-separated list merged the kubectl way: the first file to set a
 * cluster, user or context name or current-context wins), else
 * ~/.kube/config, else in-cluster (KUBERNETES_SERVICE_HOST/PORT and the
 * service account directory; PRENV_SA_DIR overrides its path for tests).
 * Errors: PRENV_ECONFIG naming the file and what is missing. */
int k8s_conn_load(struct k8s_conn **out, const struct k8s_load_opts *o,
		  struct prenv_err *err);
void k8s_conn_free(struct k8s_conn *c);

/* Brings the credential up to date: re-reads a changed token file, runs the
 * exec plugin the first time, when its credential expired, or when force
 * is set (after a 401). *token gets a borrowed pointer (NULL: no token),
 * valid until the next call. */
int k8s_conn_refresh(struct k8s_conn *c, int force, const char **token,
		     struct prenv_err *err);

/* Parses a kubeconfig text (YAML) into a JSON object. Caller frees. */
int k8s_kubeconfig_parse(cJSON **out, const char *text, size_t len,
			 const char *name, struct prenv_err *err);

/* Decodes standard base64 (whitespace ignored). Returns 0 or -1. */
int k8s_base64_decode(struct prenv_buf *out, const char *s, size_t len);

/* RFC 3339 "2024-01-02T03:04:05Z" (fraction and offset allowed) -> epoch,
 * or -1. */
time_t k8s_parse_time(const char *s);

/* ------------------------------------------------------------ k8s_targets.c */

/* Where one environment's cluster access comes from (k8s_targets.c has
 * the order). Everything is the spec's own except context (borrowed from
 * the config). */
struct k8s_target_spec {
	char *kubeconfig;      /* a kubeconfig file (resolved), or NULL */
	char *var;             /* PRENV_KUBECONFIG_<KIND> when it is set and no file is, or NULL */
	const char *context;   /* the rule's context:, else provider.context; NULL: current-context */
	int context_from_rule;
	char *key;             /* identifies kubeconfig + context ("file:PATH;context=NAME") */
	char *from;            /* for messages: where the kubeconfig comes from */
};

/* "PRENV_KUBECONFIG_PREVIEW" for preview, appended to out. */
void k8s_kind_var(struct prenv_buf *out, enum env_kind kind);

/* The spec of an environment of kind under rule (NULL: none).
 * cli_kubeconfig: --kubeconfig or NULL. -1 when out of memory. */
int k8s_target_spec_for(struct k8s_target_spec *out, const struct prenv_config *cfg,
			const struct config_rule *rule, enum env_kind kind, const char *cli_kubeconfig,
			const char *const *envp);
void k8s_target_spec_clear(struct k8s_target_spec *s);

/* Every distinct spec of the config's rules, each rule with each kind its
 * environments can have (its kind; else preview for pull requests,
 * development otherwise), in rule order. *out is the caller's
 * (k8s_target_specs_free). -1 when out of memory. */
int k8s_target_specs(struct k8s_target_spec **out, size_t *n, const struct prenv_config *cfg,
		     const char *cli_kubeconfig, const char *const *envp);
void k8s_target_specs_free(struct k8s_target_spec *list, size_t n);

/* 1 when provider.production_context names context. */
int k8s_production_only(const struct prenv_config *cfg, const char *context);

/* The guard: PRENV_ECONFIG at the rule's file:line:col (its context: when
 * the context came from there) when plan's environment is not of kind
 * production and context is production-only; else 0. */
int k8s_guard(const struct prenv_config *cfg, const struct prenv_plan *plan,
	      const struct k8s_target_spec *spec, const char *context, struct prenv_err *err);

/* ------------------------------------------------------------ k8s_contexts.c */

struct provider_run;
struct k8s_client;
struct k8s_targets;

/* The clusters of one session; NULL when out of memory. */
struct k8s_targets *k8s_targets_new(void);
void k8s_targets_free(struct k8s_targets *ts);

/* At open: when provider.production_context is set, finds the cluster of
 * run->plan's environment (reading the kubeconfig when the context is
 * not named in the config; no request) and applies k8s_guard(). */
int k8s_targets_guard(struct k8s_targets *ts, const struct provider_run *run, struct prenv_err *err);

/* The client for run: run->target's (a cluster gc listed), else the one
 * of run->plan's rule and kind (guarded), connected on first use. *out is
 * borrowed from ts. */
int k8s_targets_client(struct k8s_targets *ts, const struct provider_run *run, struct k8s_client **out,
		       struct prenv_err *err);

/* Lists one cluster (called from its own thread). */
typedef int (*k8s_list_fn)(struct k8s_client *k, const struct provider_run *run, cJSON **out,
			   struct prenv_err *err);

/* Every cluster the config's rules name (k8s_target_specs), each once
 * (server + context), listed by fn in parallel; *out (the caller's) gets
 * their entries with "context", "server" and "target", and an error entry
 * for each cluster that could not be listed (provider.h). When none
 * could, the first one's error. */
int k8s_targets_list(struct k8s_targets *ts, const struct provider_run *run, k8s_list_fn fn, cJSON **out,
		     struct prenv_err *err);

/* ------------------------------------------------------------ k8s_client.c */

struct k8s_mapping {
	char *group;     /* "" for the core group */
	char *version;
	char *kind;
	char *plural;
	int namespaced;
};

struct k8s_client;

/* Takes ownership of conn (also on failure). */
int k8s_client_new(struct k8s_client **out, struct k8s_conn *conn,
		   struct prenv_err *err);
void k8s_client_free(struct k8s_client *k);
struct k8s_conn *k8s_client_conn(struct k8s_client *k);
unsigned long k8s_client_requests(const struct k8s_client *k);

/* Fills opts for a new http client with the connection's TLS material
 * (borrowed from conn). */
void k8s_http_opts(struct http_client_opts *o, const struct k8s_conn *conn);

/* The built-in REST mapping of a well-known kind (no request): 1 found,
 * 0 not known. group "" is core. */
int k8s_builtin_mapping(const char *group, const char *kind, const char **plural,
			int *namespaced);

/* Maps apiVersion+kind to a resource: built-in table, else discovery (one
 * request per group-version per client, cached). *out is borrowed from
 * the client's cache. PRENV_ECONFIG when the cluster does not serve it. */
int k8s_client_map(struct k8s_client *k, const char *api_version, const char *kind,
		   const struct k8s_mapping **out, struct prenv_err *err);

/* Appends the URL of a collection (name NULL) or object. ns NULL for
 * cluster-scoped. query (already escaped, without '?') may be NULL. */
int k8s_url(struct k8s_client *k, struct prenv_buf *out, const struct k8s_mapping *m,
	    const char *ns, const char *name, const char *query);

/* One request with the current credential; on 401 with an exec plugin the
 * credential is refreshed and the request repeated once. body may be NULL.
 * content_type NULL: application/json. 401/403 messages explain what to
 * do. resp is filled (see http_do). */
int k8s_request(struct k8s_client *k, const char *method, const char *url,
		const char *content_type, const char *body, struct http_response *resp,
		struct prenv_err *err);

/* The credential to send, for any thread (the watch threads resume their
 * streams with it): the connection's lock is held while it is brought up to
 * date (k8s_conn_refresh: a token file re-read, an exec plugin re-run when
 * its credential expired) and copied. stale: the serial of a credential the
 * server refused (401): the plugin runs again unless the credential has
 * been replaced since; 0: none. */
struct k8s_cred {
	char *token;             /* a copy, or NULL (no token: a certificate) */
	unsigned long serial;    /* k8s_conn.serial of this credential */
	unsigned long cert_gen;  /* bumped when the client certificate changed:
				  * an http client made before must be remade */
};
int k8s_client_cred(struct k8s_client *k, unsigned long stale, struct k8s_cred *out,
		    struct prenv_err *err);
/* Wipes and frees the token copy. */
void k8s_cred_clear(struct k8s_cred *c);

/* A new http client with the connection's current TLS material (for a
 * stream of its own; any thread). timeout_ms 0: the default. */
int k8s_client_http_new(struct k8s_client *k, long timeout_ms, struct http_client **out,
			struct prenv_err *err);

/* Parallel requests (http_do_many, at most 8 in flight). reqs[i].bearer_token
 * is filled in here. */
int k8s_request_many(struct k8s_client *k, struct http_request *reqs,
		     struct http_response *resps, size_t n, struct prenv_err *errs);

/* GET a JSON object. *out is the caller's. PRENV_ENOTFOUND on 404. */
int k8s_get_json(struct k8s_client *k, const char *url, cJSON **out,
		 struct prenv_err *err);

/* Lists a collection (all pages, limit 500): *items is a new array, *rv
 * (caller frees, may be NULL) the list's resourceVersion. */
int k8s_list(struct k8s_client *k, const struct k8s_mapping *m, const char *ns,
	     const char *label_selector, const char *field_selector, cJSON **items,
	     char **rv, struct prenv_err *err);

/* "kind/name" in kubectl's lower-case form ("deployment/web"). */
int k8s_obj_ref(struct prenv_buf *out, const cJSON *obj);

/* Sets err (code) about a rendered object: at its template's file:line
 * when it carries one (render_object_source), the message starting with
 * the object's "kind/name: ". Returns code. */
int k8s_obj_err(struct prenv_err *err, int code, const cJSON *obj, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* The message a human needs from an API server's error answer (a Status
 * body), appended to out: "HTTP 422 Invalid: spec.template: field is
 * immutable" - the causes' fields and messages (else the message), with
 * the Go struct dumps of values ("Invalid value: core.PodTemplateSpec{...}")
 * cut out, at most ~500 characters. status 0: the body's code. -1 when the
 * body is not a Status (the caller keeps the HTTP client's message). */
int k8s_api_message(struct prenv_buf *out, long status, const char *body, size_t len);

/* A hint (one sentence) for a known API error message of obj (from
 * k8s_api_message), or NULL. */
const char *k8s_api_hint(const cJSON *obj, const char *message);

/* Shortcuts into a JSON object; NULL/0 when absent. */
const char *k8s_str(const cJSON *o, const char *path);   /* "metadata.name" */
long k8s_num(const cJSON *o, const char *path, long dflt);
const cJSON *k8s_item(const cJSON *o, const char *path);
/* metadata.labels[key] / metadata.annotations[key] (keys contain dots). */
const char *k8s_label(const cJSON *o, const char *key);
const char *k8s_annotation(const cJSON *o, const char *key);

/* ------------------------------------------------------------ k8s_deploy.c */

struct k8s_env {
	const char *app, *env, *ns;
	const char *repo, *pr, *sha;  /* annotations; may be NULL */
	const cJSON *extra_labels;    /* provider.labels or NULL */
	const cJSON *extra_annotations;
	const cJSON *allow_namespaces;/* array of strings or NULL */
	int dry_run;
	int replace_jobs;             /* provider.replace_jobs */
	long ns_wait;                 /* seconds to wait for a Terminating namespace to go */
	const char *phase;            /* the phase deployed (provider_run.phase), or NULL */
	const char *prune_extra;      /* more requirements for k8s_prune's selector, or NULL */
	int prune_extra_services;     /* 1: prune_extra says which services (a phase's), not env->services */
	/* services: (plan->services / plan->service_repos; NULL without):
	 * prune is per service, the namespace records them, and a namespace
	 * owned by any of repos is this run's too. */
	const cJSON *services;
	const char *const *repos;
	int *asleep;                  /* or NULL: k8s_namespace_apply() sets it to 1 when the
				       * namespace it found is asleep (k8s_sleep.c) */
	/* a logical environment (k8s_logical.c): the baseline it borrows from
	 * (the namespace's label prenv.dev/baseline) and what it deployed or
	 * borrowed (annotation prenv.dev/logical, JSON); NULL otherwise */
	const char *baseline;
	const char *logical_summary;
	int quiet;                    /* 1: a precheck, whose deploy follows: says nothing it will say */
};

/* Whose environment the namespace ns is: NULL when it is env's repository's
 * (its prenv.dev/repo annotation names env->repo, case-insensitively as
 * GitHub and GitLab compare names) or names none (an older prenv's: it is
 * adopted); else the repository it names. Another repository's
 * environment is never written or deleted. */
const char *k8s_foreign_repo(const cJSON *ns, const struct k8s_env *env);

/* PRENV_EAUTH "refusing to <what> namespace ...: it belongs to repository
 * ..." for a namespace k8s_foreign_repo() names owner of. */
int k8s_foreign_err(struct prenv_err *err, const struct k8s_env *env, const char *what,
		    const char *owner);

/* The install stage of a kind (helm's order); unknown kinds come last. */
int k8s_kind_stage(const char *kind);

/* Checks and copies the rendered objects: namespaced ones get the env
 * namespace (another one is PRENV_ECONFIG unless allowed); sorted by stage
 * (stable). *out is a new array. Needs the client only for discovery of
 * unknown kinds (may be NULL in tests: unknown kinds count as namespaced). */
/* 1 when apiVersion is "VERSION" or "GROUP/VERSION" with a DNS-subdomain
 * group: it goes into URL paths. */
int k8s_api_version_ok(const char *av);

int k8s_prepare(cJSON **out, const cJSON *objects, const struct k8s_env *env,
		struct k8s_client *k, struct prenv_err *err);

/* Resolves the REST mapping of every prepared object (discovery for kinds
 * prenv does not know) before anything is written: an unknown kind or a
 * cluster-scoped one is PRENV_ECONFIG naming the object and its template.
 * Namespaced objects without a namespace get env->ns. */
int k8s_resolve(struct k8s_client *k, cJSON *prepared, const struct k8s_env *env,
		struct prenv_err *err);

/* What k8s_namespace_apply() would refuse, read only: 0 when the namespace
 * is absent or deploy may use it (a Terminating one included). */
int k8s_namespace_check(struct k8s_client *k, const struct k8s_env *env, struct prenv_err *err);

/* Creates or updates the namespace with prenv's labels and annotations.
 * *created is set when it did not exist. Refuses a namespace that exists
 * without prenv's labels for this app/env (PRENV_ECONFIG) or is another
 * repository's (PRENV_EAUTH). When this environment's namespace is being
 * deleted (a destroy just before), waits up to env->ns_wait seconds for it
 * to go and creates it anew (*created). */
int k8s_namespace_apply(struct k8s_client *k, const struct k8s_env *env, int *created,
			struct prenv_err *err);

/* Applies prepared objects stage by stage, each stage in parallel. An
 * object the API server refuses is an error at its template's line, with
 * the server's message cut to what a human needs (k8s_api_message) and a
 * hint; with env->replace_jobs a Job whose pod template changed is deleted
 * and created anew (logged). */
int k8s_apply_all(struct k8s_client *k, const cJSON *prepared, const struct k8s_env *env,
		  struct prenv_err *err);

/* Sets the label prenv.dev/phase=phase on every prepared object. */
void k8s_label_phase(cJSON *prepared, const char *phase);

/* Deletes the Jobs of prepared that exist and are this environment's, and
 * waits until they are gone, so that apply creates them anew: a phase's Jobs
 * run each time the phase runs, and a changed Job never meets "field is
 * immutable". Logs each; a dry run only says so. */
int k8s_jobs_fresh(struct k8s_client *k, const cJSON *prepared, const struct k8s_env *env,
		   struct prenv_err *err);

/* Appends the label selector of env's objects
 * ("prenv.dev/app=A,prenv.dev/env=E,app.kubernetes.io/managed-by=prenv"). */
int k8s_env_selector(struct prenv_buf *out, const struct k8s_env *env);

/* Deletes what carries this environment's labels and is not in prepared.
 * *deleted counts the deletions. */
int k8s_prune(struct k8s_client *k, const cJSON *prepared, const struct k8s_env *env,
	      int *deleted, struct prenv_err *err);

/* ------------------------------------------------------------ k8s_logical.c */

struct provider_logical;

/* The objects to deploy in a logical environment: a copy of objects (the
 * deployed services') and, for every Service of lg->borrowed, an
 * ExternalName Service of the same name and ports pointing at
 * <name>.<lg->baseline_ns>.svc.<domain>, labelled prenv.dev/service and
 * prenv.dev/borrowed=true. PRENV_ECONFIG (at the template's line) when a
 * deployed Ingress routes to a borrowed Service or a deployed Service has
 * a borrowed one's name. *out is the caller's. No I/O. */
int k8s_logical_objects(cJSON **out, const cJSON *objects, const struct provider_logical *lg,
			const char *domain, struct prenv_err *err);

/* The baseline's namespace exists and carries prenv's labels for env->app
 * and environment lg->baseline; else PRENV_ECONFIG saying what to do. One
 * GET, nothing written. */
int k8s_logical_baseline(struct k8s_client *k, const struct k8s_env *env,
			 const struct provider_logical *lg, struct prenv_err *err);

/* ------------------------------------------------------------ k8s_sleep.c */

/* Puts env to sleep: its Deployments and StatefulSets scaled to 0 and its
 * CronJobs suspended, what each had recorded in an annotation on it; the
 * namespace marked asleep since now unless ns_asleep (it is already). An
 * object asleep already is left alone, so a second sleep writes nothing.
 * Server-side apply by the field manager "prenv-sleep". *writes counts the
 * writes (0 in a dry run, which only says what it would do). */
int k8s_env_sleep(struct k8s_client *k, const struct k8s_env *env, int ns_asleep, long long now,
		  int *writes, struct prenv_err *err);

/* Restores exactly what sleep recorded (and removes the records); the
 * namespace marked woken at now when ns_asleep. Workloads that will run
 * again are added to woken (may be NULL), for k8s_wait_ready(). */
int k8s_env_wake(struct k8s_client *k, const struct k8s_env *env, int ns_asleep, long long now,
		 cJSON *woken, int *writes, struct prenv_err *err);

/* Stamps the namespace touched at now (`prenv touch`: the idle clock of
 * sleep_after starts again). */
int k8s_env_touch(struct k8s_client *k, const struct k8s_env *env, long long now,
		  struct prenv_err *err);

/* ------------------------------------------------------------ k8s_cost.c */

/* A resource quantity ("100m", "0.5", "128Mi", "1G") as a number (cores or
 * bytes). -1 when it is not one. */
int k8s_quantity(const char *s, double *out);

/* Adds "cpu_millis" and "memory_bytes" (requests of the Deployments and
 * StatefulSets of app, containers x replicas now) to each entry of envs by
 * its "namespace": two lists of the whole cluster. On an error the entries
 * get no figures. */
int k8s_env_costs(struct k8s_client *k, const char *app, cJSON *envs, struct prenv_err *err);

/* ------------------------------------------------------------ k8s_wait.c */

/* Readiness of one workload object: 1 ready, 0 not yet, -1 failed (why
 * gets the reason). line gets "deployment/web 1/2 ready". */
int k8s_readiness(const cJSON *obj, struct prenv_buf *line, struct prenv_buf *why);

/* The waiting reason of a failing pod (CrashLoopBackOff, ...) and its
 * container, or NULL. Borrowed from pod. */
const char *k8s_pod_failure(const cJSON *pod, const char **container,
			    const char **message);

/* Waits until every workload of prepared is ready, seconds at most (0: do
 * not wait). On failure *reason (one line) and *detail (log lines, events)
 * are set (caller frees). */
int k8s_wait_ready(struct k8s_client *k, const cJSON *prepared, const char *ns,
		   const char *label_selector, long seconds, char **reason, char **detail,
		   struct prenv_err *err);

/* Waits until the namespace is gone (watch). */
int k8s_wait_ns_gone(struct k8s_client *k, const char *ns, long seconds,
		     struct prenv_err *err);

/* ------------------------------------------------------------ k8s_secrets.c */

/* The objects to deploy when the core handed secrets in (run->secrets):
 * a copy of objects with the Secrets of secrets:/access: appended (prenv's
 * labels) and, with basic_auth, ingress-nginx's auth annotations on every
 * Ingress. *out is the caller's; NULL (and 0) when secrets is NULL.
 * PRENV_ECONFIG when a template defines a Secret of the same name. */
int k8s_secrets_objects(cJSON **out, const cJSON *objects, const cJSON *secrets,
			const struct k8s_env *env, struct prenv_err *err);

#endif
