/* policy.c - the reporting policy; see policy.h */
#include "report/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "config/plan.h"
#include "context/ci.h"
#include "report/codehost.h"
#include "report/report.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"

/* ------------------------------------------------------------ decisions */

unsigned report_decide(const struct report_facts *f)
{
	unsigned steps = 0;

	if (f->dry_run)
		return f->has_pr && !f->quiet ? REPORT_SHOW_BODY : 0;
	if (!f->host) {
		if (!f->quiet && f->has_pr)
			steps |= REPORT_SHOW_BODY;
		if (!f->quiet && f->strict && (f->has_pr || f->host_auth))
			steps |= REPORT_NO_HOST_FAILS;
		return steps;
	}
	/* a sleeping environment keeps its deployment as it was */
	if (strcmp(f->status, "sleeping") != 0)
		steps |= REPORT_DEPLOYMENT;
	if (f->has_pr) {
		steps |= REPORT_COMMENT;
		if (strcmp(f->status, "destroyed") != 0)
			steps |= REPORT_REMEMBER;
	}
	return steps;
}

int report_deployment_wanted(const struct report_facts *f, int comment_rc)
{
	return !(f->quiet && comment_rc == PRENV_EAUTH);
}

int report_final_code(const struct report_facts *f, int comment_rc, int deploy_rc)
{
	int failed = comment_rc ? comment_rc : deploy_rc;

	if (!failed || !f->strict || f->quiet)
		return 0;
	return failed == PRENV_EAUTH ? PRENV_EAUTH : PRENV_EFAIL;
}

const char *report_auth_hint(int host_kind)
{
	return host_kind == CODEHOST_GITHUB
		? " (the token cannot write comments: it needs pull-requests: write; "
		  "a pull request from a fork gets a read-only token)"
		: " (the token cannot write notes: it needs the api scope, "
		  "and a job token never can)";
}

/* ------------------------------------------------------------ the reporter */

void reporter_clear(struct reporter *r)
{
	codehost_free(r->host);
	r->host = NULL;
}

long long reporter_comment_id(struct reporter *r)
{
	struct prenv_err nerr = PRENV_ERR_INIT;
	char *v = NULL, *end;
	long long id;

	if (r->comment_id_read || !r->notes.get)
		return r->comment_id;
	r->comment_id_read = 1;
	if (r->notes.get(r->notes.ud, "comment-id", &v, &nerr) < 0)
		log_verbose("no remembered comment id: %s", nerr.msg);
	else if (v && (id = strtoll(v, &end, 10)) > 0 && *end == '\0')
		r->comment_id = id;
	free(v);
	prenv_err_clear(&nerr);
	return r->comment_id;
}

/* Keeps id with the environment when there is a place for it. The
 * environment may not exist yet (the "deploying" report of a first
 * deploy): then the final report stores it. */
static void remember_comment_id(struct reporter *r, long long id)
{
	struct prenv_err nerr = PRENV_ERR_INIT;
	char v[32];

	if (id == r->comment_id && r->comment_id_read == 2)
		return;
	if (!r->notes.set)
		return;
	snprintf(v, sizeof(v), "%lld", id);
	if (r->notes.set(r->notes.ud, "comment-id", v, &nerr) < 0) {
		log_verbose("comment id not remembered: %s", nerr.msg);
	} else {
		r->comment_id = id;
		r->comment_id_read = 2; /* stored */
	}
	prenv_err_clear(&nerr);
}

/* Shows the comment body that was not posted, and why. */
static void show_unposted(const char *body, const char *why, int warn)
{
	if (warn)
		log_warn("the PR comment was not posted: %s", why);
	else
		log_info("not posting the PR comment: %s", why);
	if (log_level() >= LOG_NORMAL) {
		log_group_begin("PR comment that would be posted");
		log_info("the comment it would post:");
		log_block(body);
		log_group_end();
	}
}

static void fill_info(struct report_info *ri, const struct reporter *r, const char *status,
		      const char *url, const char *reason)
{
	memset(ri, 0, sizeof(*ri));
	ri->cfg = r->cfg;
	ri->ctx = r->ctx;
	ri->plan = r->plan;
	ri->status = status;
	ri->url = url;
	ri->reason = reason;
	ri->deployed_at = (long)time(NULL);
	ri->phases = r->phases;
}

/* Opens the code host session if there is none; why/auth say why not. */
static void open_host(struct reporter *r, struct prenv_buf *why, int *auth)
{
	struct codehost_opts o;
	struct prenv_err rerr = PRENV_ERR_INIT;

	if (r->host)
		return;
	memset(&o, 0, sizeof(o));
	o.ctx = r->ctx;
	o.envp = r->envp;
	if (codehost_new(&r->host, &o, why, auth, &rerr) < 0) {
		prenv_buf_adds(why, rerr.msg ? rerr.msg : "error");
		*auth = rerr.code == PRENV_EAUTH;
	}
	prenv_err_clear(&rerr);
}

/* The PR comment step. Returns 0 or the step's negative PRENV_E*. */
static int post_comment(struct reporter *r, const struct report_facts *f, unsigned steps,
			const char *body)
{
	struct codehost_comment cc;
	struct codehost_comment_result res;
	struct prenv_buf marker = PRENV_BUF_INIT, why = PRENV_BUF_INIT;
	struct prenv_err rerr = PRENV_ERR_INIT;
	int urc;

	memset(&cc, 0, sizeof(cc));
	report_marker(&marker, r->cfg->app, r->plan->env_name);
	cc.marker = marker.ptr;
	cc.body = body;
	cc.sha = r->ctx->sha;
	cc.force = !strcmp(f->status, "destroyed");
	cc.known_id = reporter_comment_id(r);
	urc = codehost_upsert_comment(r->host, &cc, &res, &rerr);
	if (urc == 0 && res.id > 0 && (steps & REPORT_REMEMBER))
		remember_comment_id(r, res.id);
	if (urc < 0 && f->quiet) {
		/* the final report tries again and says why */
		log_verbose("the deploying comment was not posted: %s", rerr.msg);
	} else if (urc < 0) {
		prenv_buf_adds(&why, rerr.msg);
		if (rerr.code == PRENV_EAUTH)
			prenv_buf_adds(&why, report_auth_hint(codehost_kind(r->host)));
		show_unposted(body, why.ptr, 1);
	} else if (res.action == CODEHOST_CREATED) {
		log_info("posted the %s comment on #%ld (%s)", f->status, r->ctx->pr_number,
			 codehost_describe(r->host));
	} else if (res.action != CODEHOST_SKIPPED) {
		log_verbose("updated comment %lld on #%ld: %s", res.id, r->ctx->pr_number, f->status);
	}
	prenv_err_clear(&rerr);
	prenv_buf_free(&marker);
	prenv_buf_free(&why);
	return urc;
}

/* The deployment status step. */
static int post_deployment(struct reporter *r, const struct report_facts *f,
			   const struct report_info *ri)
{
	struct codehost_deploy d;
	struct prenv_err rerr = PRENV_ERR_INIT;
	int rc = 0;

	memset(&d, 0, sizeof(d));
	d.status = ri->status;
	d.app = r->cfg->app;
	d.environment = r->plan->env_name;
	d.sha = r->ctx->sha;
	d.url = ri->url;
	d.log_url = r->ctx->run_url;
	d.reason = ri->reason;
	d.transient = r->plan->kind == ENV_KIND_PREVIEW;
	d.production = r->plan->kind == ENV_KIND_PRODUCTION;
	if (codehost_deployment(r->host, &d, &rerr) < 0) {
		if (f->quiet)
			log_verbose("deployment status not reported to %s: %s",
				    codehost_describe(r->host), rerr.msg);
		else
			log_warn("deployment status not reported to %s: %s",
				 codehost_describe(r->host), rerr.msg);
		rc = rerr.code ? rerr.code : PRENV_EFAIL;
	}
	prenv_err_clear(&rerr);
	return rc;
}

/* Reports ri to the code host: the PR/MR comment and, on GitHub, the
 * deployment status. quiet: the early "deploying" report, which only says
 * something when it could post. */
static int report_host(struct reporter *r, const struct report_info *ri, int quiet,
		       struct prenv_err *err)
{
	struct report_facts f;
	struct prenv_buf body = PRENV_BUF_INIT, why = PRENV_BUF_INIT;
	unsigned steps;
	int rc = 0, auth = 0, crc = 0, drc = 0;

	if (r->ctx->has_pr && report_comment_body(&body, ri) < 0)
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	if (!r->dry_run)
		open_host(r, &why, &auth);
	memset(&f, 0, sizeof(f));
	f.status = ri->status;
	f.quiet = quiet;
	f.dry_run = r->dry_run;
	f.has_pr = r->ctx->has_pr;
	f.strict = r->strict;
	f.host = r->host != NULL;
	f.host_auth = auth;
	steps = report_decide(&f);
	if (steps & REPORT_SHOW_BODY)
		show_unposted(body.ptr, r->dry_run ? "dry run" : why.ptr, 0);
	if (steps & REPORT_NO_HOST_FAILS)
		rc = prenv_err_set(err, auth ? PRENV_EAUTH : PRENV_EFAIL,
				   "--strict-report: not reported to the code host: %s", why.ptr);
	if (steps & REPORT_COMMENT)
		crc = post_comment(r, &f, steps, body.ptr);
	if ((steps & REPORT_DEPLOYMENT) && report_deployment_wanted(&f, crc))
		drc = post_deployment(r, &f, ri);
	if (r->host) {
		log_verbose("reporting %s: %lu request(s) to %s so far", ri->status,
			    codehost_request_count(r->host), codehost_describe(r->host));
		if (report_final_code(&f, crc, drc))
			rc = prenv_err_set(err, report_final_code(&f, crc, drc),
					   "--strict-report: reporting to %s failed (see the warnings above)",
					   codehost_describe(r->host));
	}
	prenv_buf_free(&body);
	prenv_buf_free(&why);
	return rc;
}

int reporter_has_host(struct reporter *r)
{
	struct prenv_buf why = PRENV_BUF_INIT;
	int auth = 0;

	if (!r->dry_run)
		open_host(r, &why, &auth);
	prenv_buf_free(&why);
	return r->host != NULL;
}

void reporter_progress(struct reporter *r)
{
	struct report_info ri;
	struct prenv_err e = PRENV_ERR_INIT;

	fill_info(&ri, r, "deploying", r->plan->url, NULL);
	report_host(r, &ri, 1, &e);
	prenv_err_clear(&e);
}

void reporter_outputs(struct reporter *r, const char *status, const char *reason)
{
	struct report_info ri;
	struct prenv_err err = PRENV_ERR_INIT;
	char *mreason = reason ? log_mask_dup(reason, strlen(reason), NULL) : NULL;

	if (r->outputs_done || r->dry_run)
		goto done;
	r->outputs_done = 1;
	fill_info(&ri, r, status, r->plan ? r->plan->url : NULL, mreason ? mreason : reason);
	if (report_job_outputs(&ri, r->envp, &err) < 0)
		log_warn("job outputs not written: %s", err.msg);
done:
	prenv_err_clear(&err);
	free(mreason);
}

int reporter_to_host(struct reporter *r, const char *status, const char *url,
		     const char *reason, struct prenv_err *err)
{
	struct report_info ri;

	fill_info(&ri, r, status, url, reason);
	return report_host(r, &ri, 0, err);
}

/* Prints the result on stdout: JSON, or the URL. */
static void print_result(const struct reporter *r, const struct report_info *ri)
{
	if (r->json) {
		cJSON *o = report_result_json(ri);
		char *s = o ? cJSON_Print(o) : NULL;

		if (s) {
			log_outs(s);
			log_outs("\n");
		}
		free(s);
		cJSON_Delete(o);
	} else if (ri->url && strcmp(ri->status, "destroyed")) {
		log_outf("%s\n", ri->url);
	}
}

int reporter_result(struct reporter *r, const char *status, const char *url,
		    const char *reason, struct prenv_err *err)
{
	struct report_info ri;
	struct prenv_err rerr = PRENV_ERR_INIT;
	struct prenv_err herr = PRENV_ERR_INIT;
	/* The reason can hold what a failing command or API said, and goes to
	 * the PR comment, the deployment status and the outputs, which the
	 * logger's mask does not cover: mask it (and the URL) here. */
	char *mreason = reason ? log_mask_dup(reason, strlen(reason), NULL) : NULL;
	char *murl = url ? log_mask_dup(url, strlen(url), NULL) : NULL;
	int rc = 0;

	if (mreason)
		reason = mreason;
	if (murl)
		url = murl;
	fill_info(&ri, r, status, url, reason);
	if (report_host(r, &ri, 0, &herr) < 0)
		rc = prenv_err_set(err, herr.code, "%s", herr.msg);
	r->outputs_done = 1;
	if (!r->dry_run && report_job_outputs(&ri, r->envp, &rerr) < 0) {
		if (r->strict) {
			if (!rc)
				rc = prenv_err_set(err, rerr.code, "%s", rerr.msg);
		} else {
			log_warn("job outputs not written: %s", rerr.msg);
		}
	}
	print_result(r, &ri);
	prenv_err_clear(&rerr);
	prenv_err_clear(&herr);
	free(mreason);
	free(murl);
	return rc;
}
