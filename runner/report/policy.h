/* policy.h - the reporting policy: what a run tells the code host and the
 * job, when, and what a failure to tell costs.
 *
 * A struct reporter is one environment's reporting for one run: it opens
 * the code host session on first use (codehost.h), posts or updates the PR
 * comment, sets the deployment status, writes the job outputs and prints
 * the result; it remembers the PR comment id through the notes the caller
 * hands it (the provider keeps them with the environment). It never reads
 * manifests and never talks to a provider directly.
 *
 * The decisions themselves are pure functions (report_decide(),
 * report_final_code()), unit-tested from tables.
 */
#ifndef PRENV_REPORT_POLICY_H
#define PRENV_REPORT_POLICY_H

struct prenv_config;
struct prenv_context;
struct prenv_plan;
struct prenv_err;
struct codehost;

/* ------------------------------------------------------------ decisions */

/* What is known before a report is made. */
struct report_facts {
	const char *status;    /* "deploying", "ready", "applied", "failed", "destroyed" */
	int quiet;             /* the early "deploying" report */
	int dry_run;
	int has_pr;
	int strict;            /* --strict-report */
	int host;              /* a code host session exists */
	int host_auth;         /* no session, because of a missing/unusable token */
};

enum report_step {
	REPORT_SHOW_BODY = 1 << 0,    /* print the comment body that is not posted */
	REPORT_COMMENT = 1 << 1,      /* create/update the PR comment */
	REPORT_REMEMBER = 1 << 2,     /* keep the comment id with the environment */
	REPORT_DEPLOYMENT = 1 << 3,   /* the deployment status */
	REPORT_NO_HOST_FAILS = 1 << 4 /* no session: an error (--strict-report) */
};

/* The steps of one report (a mask of enum report_step). */
unsigned report_decide(const struct report_facts *f);

/* The outcome of a report whose steps returned comment_rc and deploy_rc
 * (0 or a negative PRENV_E*): 0 when reporting failures are only warnings
 * (the default, and always for the quiet report), else PRENV_EAUTH when a
 * step was refused for lack of permission, PRENV_EFAIL otherwise. */
int report_final_code(const struct report_facts *f, int comment_rc, int deploy_rc);

/* Whether the deployment status is still sent after the comment step
 * returned comment_rc (the quiet report does not try again what the token
 * was just refused). */
int report_deployment_wanted(const struct report_facts *f, int comment_rc);

/* The hint added to a refused comment (host: enum codehost_kind). */
const char *report_auth_hint(int host_kind);

/* ------------------------------------------------------------ the reporter */

/* Where the PR comment id is kept between runs (NULL slots: nowhere). */
struct report_notes {
	int (*get)(void *ud, const char *key, char **out, struct prenv_err *err);
	int (*set)(void *ud, const char *key, const char *value, struct prenv_err *err);
	void *ud;
};

struct reporter {
	const struct prenv_config *cfg;
	const struct prenv_context *ctx;
	const struct prenv_plan *plan;
	const char *const *envp;
	int dry_run;
	int strict;               /* --strict-report */
	int json;                 /* the result goes to stdout as JSON */
	struct report_notes notes;
	const char *phases;       /* the phases line (report_phases_line), or NULL; borrowed */
	/* state */
	struct codehost *host;    /* owned; may be handed in already open */
	long long comment_id;     /* remembered or written comment id; 0 */
	int comment_id_read;      /* 1 read, 2 stored */
	int outputs_done;         /* the job outputs were written */
};

/* Frees the code host session; r stays usable (it reopens on demand). */
void reporter_clear(struct reporter *r);

/* The comment id the notes keep, read once (while the environment still
 * exists: call it before a destroy). 0 when there is none. */
long long reporter_comment_id(struct reporter *r);

/* Whether this run reports to a code host (opens its session, no I/O):
 * what a deploy checks before it tells the pull request anything. */
int reporter_has_host(struct reporter *r);
/* "deploying", before the provider runs: the comment and the deployment
 * show progress. Never fails the run. */
void reporter_progress(struct reporter *r);

/* The result: code host, job outputs, and stdout (the URL, or JSON).
 * status: "ready", "applied" (not waited for), "failed", "destroyed". reason and url are
 * masked here. Reporting failures are warnings unless r->strict. */
int reporter_result(struct reporter *r, const char *status, const char *url,
		    const char *reason, struct prenv_err *err);

/* Only the job outputs (status and why), for a run that ends without a
 * result of the provider's: a configuration error (exit 2), a fork's pull
 * request that is skipped. Once per run: a no-op when they were written.
 * Failures to write are warnings. */
void reporter_outputs(struct reporter *r, const char *status, const char *reason);

/* The same without stdout or job outputs (gc marks a comment destroyed). */
int reporter_to_host(struct reporter *r, const char *status, const char *url,
		     const char *reason, struct prenv_err *err);

#endif
