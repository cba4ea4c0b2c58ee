/* report.h - tell people where the environment is: the PR comment body, the
 * job's outputs (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, GitLab dotenv) and the
 * machine-readable result. */
#ifndef PRENV_REPORT_H
#define PRENV_REPORT_H

#include <cjson/cJSON.h>
#include "util/buf.h"

struct prenv_context;
struct prenv_plan;
struct prenv_config;
struct prenv_err;

struct report_info {
	const struct prenv_config *cfg;
	const struct prenv_context *ctx;
	const struct prenv_plan *plan;
	const char *status;   /* "deploying", "ready", "applied", "failed", "destroyed" */
	const char *url;      /* final URL or NULL */
	const char *reason;   /* one line when failed, or NULL */
	long deployed_at;     /* unix time */
	const char *phases;   /* report_phases_line(), or NULL (no phases:) */
};

/* One phase's outcome, for the progress lines and the PR comment. */
enum report_phase_state {
	REPORT_PHASE_PENDING = 0, /* not applied (yet, or a phase before failed) */
	REPORT_PHASE_RUNNING,     /* applied, being waited on */
	REPORT_PHASE_OK,
	REPORT_PHASE_SKIPPED,     /* run: once, and it ran before */
	REPORT_PHASE_FAILED,
};

struct report_phase {
	const char *name;
	enum report_phase_state state;
	int once;                 /* run: once */
	long seconds;             /* how long it took (shown from 1 s on) */
	const char *services;     /* "api, web": the services it deploys, or NULL */
};

/* "data ✓ · seed ✓ (once, 42 s) · app ✓" appended to out: ✓ ready, ✗
 * failed, … running, – not applied; a skipped once phase is "seed ✓ (once,
 * earlier)"; a phase of services names them: "app [api, web] ✓". */
int report_phases_line(struct prenv_buf *out, const struct report_phase *ph, size_t n);

/* The marker that identifies prenv's comment for app/env (an HTML comment). */
int report_marker(struct prenv_buf *out, const char *app, const char *env);
/* The comment body (Markdown), starting with the marker. Untrusted text is
 * escaped for Markdown/HTML. */
int report_comment_body(struct prenv_buf *out, const struct report_info *ri);
/* {"url","environment","namespace","status","reason","sha","pr"} */
cJSON *report_result_json(const struct report_info *ri);
/* Writes GITHUB_OUTPUT / GITHUB_STEP_SUMMARY (GitHub), prenv.env (GitLab,
 * or when PRENV_DOTENV names a file): url, environment, namespace, status
 * and reason. envp: the environment. ri->cfg, ->ctx and ->plan may be NULL
 * (a run that failed before it had them): their fields are then empty. */
int report_job_outputs(const struct report_info *ri, const char *const *envp,
		       struct prenv_err *err);

/* Appends s to out with control characters shown as \xNN (safe for a
 * terminal and for CI log parsers). */
void report_sanitize_line(struct prenv_buf *out, const char *s);

#endif
