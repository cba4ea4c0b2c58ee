/* report.c - comment body, job outputs, result JSON; see report.h */
#include "report/report.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "context/ci.h"
#include "config/config.h"
#include "util/err.h"
#include "util/log.h"
#include "config/plan.h"

void report_sanitize_line(struct prenv_buf *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");

	for (; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			prenv_buf_printf(out, "\\x%02x", *p);
		else
			prenv_buf_addc(out, (char)*p);
	}
}

int report_marker(struct prenv_buf *out, const char *app, const char *env)
{
	/* app and env are DNS-1123 labels: nothing to escape. */
	return prenv_buf_printf(out, "<!-- prenv:marker app=%s env=%s -->", app, env);
}

/* Escapes text for a Markdown table cell / paragraph: HTML specials become
 * entities, Markdown specials are backslash-escaped, newlines become spaces. */
static void md_escape(struct prenv_buf *out, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<': prenv_buf_adds(out, "&lt;"); break;
		case '>': prenv_buf_adds(out, "&gt;"); break;
		case '&': prenv_buf_adds(out, "&amp;"); break;
		case '\n': case '\r': case '\t': prenv_buf_addc(out, ' '); break;
		case '|': case '`': case '*': case '_': case '[': case ']':
		case '\\': case '#': case '!': case '~':
			prenv_buf_addc(out, '\\');
			prenv_buf_addc(out, *s);
			break;
		default:
			if ((unsigned char)*s >= 0x20)
				prenv_buf_addc(out, *s);
		}
	}
}

static void fmt_time(char *dst, size_t n, long t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(dst, n, "%Y-%m-%d %H:%M UTC", &tm);
}

static void fmt_duration(struct prenv_buf *out, long s)
{
	if (s % 86400 == 0)
		prenv_buf_printf(out, "%ldd", s / 86400);
	else if (s % 3600 == 0)
		prenv_buf_printf(out, "%ldh", s / 3600);
	else if (s % 60 == 0)
		prenv_buf_printf(out, "%ldm", s / 60);
	else
		prenv_buf_printf(out, "%lds", s);
}

static const char *status_icon(const char *st)
{
	if (!strcmp(st, "ready"))
		return "\xe2\x9c\x85";          /* check mark */
	if (!strcmp(st, "applied"))
		return "\xe2\x98\x91\xef\xb8\x8f";  /* ballot box with check */
	if (!strcmp(st, "failed"))
		return "\xe2\x9d\x8c";          /* cross */
	if (!strcmp(st, "destroyed"))
		return "\xf0\x9f\x97\x91";      /* wastebasket */
	if (!strcmp(st, "sleeping"))
		return "\xf0\x9f\x92\xa4";      /* zzz */
	return "\xe2\x8f\xb3";                  /* hourglass */
}

static const char *svc_str(const cJSON *svc, const char *key)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(svc, key));
}

/* The services of the environment (plan->services): name, branch, commit,
 * real or virtual (and the branch a virtual one came from), image. */
static void services_table(struct prenv_buf *out, const cJSON *services)
{
	const cJSON *svc;

	if (!cJSON_GetArraySize(services))
		return;
	prenv_buf_adds(out, "\n| Service | Branch | Commit | | Image |\n|---|---|---|---|---|\n");
	cJSON_ArrayForEach(svc, services) {
		const char *img = svc_str(svc, "image"), *from = svc_str(svc, "from_branch");

		prenv_buf_adds(out, "| ");
		md_escape(out, svc_str(svc, "name"));
		prenv_buf_adds(out, " | ");
		md_escape(out, svc_str(svc, "branch"));
		prenv_buf_adds(out, " | ");
		md_escape(out, svc_str(svc, "short_sha"));
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(svc, "virtual"))) {
			prenv_buf_adds(out, " | virtual: from ");
			md_escape(out, from);
			prenv_buf_adds(out, " (no branch of this name in ");
			md_escape(out, svc_str(svc, "repo_name") ? svc_str(svc, "repo_name") : svc_str(svc, "repo"));
			prenv_buf_adds(out, ")");
		} else {
			prenv_buf_adds(out, " | real");
		}
		prenv_buf_adds(out, " | ");
		md_escape(out, img ? img : "-");
		prenv_buf_adds(out, " |\n");
	}
}

/* A logical environment (plan->services' "logical" and "logical_why"):
 * each service deployed (and why) or borrowed (and from where); one line
 * when everything is deployed for one reason (a shared path, no merge
 * base). The reasons name files of the pull request: escaped. */
static void logical_table(struct prenv_buf *out, const cJSON *services)
{
	const cJSON *svc = cJSON_GetArrayItem(services, 0);
	const char *why = svc ? svc_str(svc, "logical_why") : NULL;

	if (!why || !svc_str(svc, "logical"))
		return;
	if (!strncmp(why, "everything: ", 12)) {
		prenv_buf_adds(out, "\n**Logical environment:** every service is deployed \xe2\x80\x94 ");
		md_escape(out, why + 12);
		prenv_buf_adds(out, "\n");
		return;
	}
	prenv_buf_adds(out, "\n**Logical environment:** only what this change touches is deployed; the "
		       "rest is borrowed from the baseline.\n\n| Service | | Why |\n|---|---|---|\n");
	cJSON_ArrayForEach(svc, services) {
		const char *l = svc_str(svc, "logical");

		prenv_buf_adds(out, "| ");
		md_escape(out, svc_str(svc, "name"));
		prenv_buf_printf(out, " | %s | ", l && !strcmp(l, "deployed") ? "deployed" : "borrowed");
		md_escape(out, svc_str(svc, "logical_why") ? svc_str(svc, "logical_why") : "-");
		prenv_buf_adds(out, " |\n");
	}
}

int report_comment_body(struct prenv_buf *out, const struct report_info *ri)
{
	const struct prenv_plan *p = ri->plan;
	const struct prenv_context *c = ri->ctx;
	char when[64];

	report_marker(out, ri->cfg->app, p->env_name);
	if (c->sha)
		prenv_buf_printf(out, "\n<!-- prenv:sha=%.40s -->", c->sha);
	prenv_buf_printf(out, "\n### %s Preview environment `%s` — %s\n\n",
			 status_icon(ri->status), p->env_name, ri->status);
	if (!strcmp(ri->status, "sleeping")) {
		/* "Sleeping until Mon 08:00 (Europe/Paris) — run `prenv wake` or push to wake it." */
		prenv_buf_adds(out, "Sleeping");
		if (ri->reason && *ri->reason) {
			prenv_buf_addc(out, ' ');
			md_escape(out, ri->reason);
		}
		prenv_buf_adds(out, " \xe2\x80\x94 run `prenv wake` or push to wake it.\n\n");
	} else if (ri->reason && *ri->reason) {
		prenv_buf_adds(out, "**Reason:** ");
		md_escape(out, ri->reason);
		prenv_buf_adds(out, "\n\n");
	}
	if (!strcmp(ri->status, "applied"))
		prenv_buf_adds(out, "Applied without waiting (`wait: 0`, `--wait 0` or `--no-wait`): "
			       "prenv did not wait for it to be ready, so it may still be starting.\n\n");
	prenv_buf_adds(out, "| | |\n|---|---|\n");
	if (ri->url && strcmp(ri->status, "destroyed") != 0) {
		prenv_buf_adds(out, "| URL | ");
		md_escape(out, ri->url);
		prenv_buf_adds(out, " |\n");
	}
	prenv_buf_printf(out, "| App | `%s` (%s) |\n", ri->cfg->app, env_kind_name(p->kind));
	/* a namespace is shown where the provider has one (a `namespace` key) */
	if (p->namespace_ && cJSON_GetObjectItemCaseSensitive(ri->cfg->provider, "namespace"))
		prenv_buf_printf(out, "| Namespace | `%s` |\n", p->namespace_);
	if (ri->cfg->auth_user && strcmp(ri->status, "destroyed")) {
		/* never the password: the user and where the password lives */
		prenv_buf_adds(out, "| Access | \xf0\x9f\x94\x92 protected (HTTP basic auth): user ");
		md_escape(out, ri->cfg->auth_user);
		prenv_buf_printf(out, ", password in the CI variable `%s` |\n", ri->cfg->auth_password.name);
	}
	if (c->sha)
		prenv_buf_printf(out, "| Commit | `%.12s` |\n", c->sha);
	fmt_time(when, sizeof(when), ri->deployed_at);
	prenv_buf_printf(out, "| %s | %s |\n",
			 strcmp(ri->status, "destroyed") ? "Deployed" : "Destroyed", when);
	if (c->run_url) {
		prenv_buf_adds(out, "| CI run | ");
		md_escape(out, c->run_url);
		prenv_buf_adds(out, " |\n");
	}
	if (ri->phases && strcmp(ri->status, "destroyed"))
		prenv_buf_printf(out, "| Phases | %s |\n", ri->phases);
	if (p->ttl_seconds > 0 && strcmp(ri->status, "destroyed")) {
		prenv_buf_adds(out, "| TTL | ");
		fmt_duration(out, p->ttl_seconds);
		prenv_buf_adds(out, " after the last deploy |\n");
	}
	services_table(out, p->services);
	if (strcmp(ri->status, "destroyed"))
		logical_table(out, p->services);
	prenv_buf_adds(out, "\n<sub>Managed by prenv. This comment is updated in place.</sub>\n");
	return out->failed ? PRENV_ENOMEM : 0;
}

int report_phases_line(struct prenv_buf *out, const struct report_phase *ph, size_t n)
{
	static const char *const marks[] = {
		[REPORT_PHASE_PENDING] = "\xe2\x80\x93",  /* en dash: not applied */
		[REPORT_PHASE_RUNNING] = "\xe2\x80\xa6",  /* ellipsis */
		[REPORT_PHASE_OK] = "\xe2\x9c\x93",       /* check mark */
		[REPORT_PHASE_SKIPPED] = "\xe2\x9c\x93",
		[REPORT_PHASE_FAILED] = "\xe2\x9c\x97",   /* ballot x */
	};
	size_t i;

	for (i = 0; i < n; i++) {
		const struct report_phase *p = &ph[i];
		int timed = p->seconds >= 1 && p->state != REPORT_PHASE_SKIPPED &&
			    p->state != REPORT_PHASE_PENDING;
		struct prenv_buf par = PRENV_BUF_INIT;

		prenv_buf_printf(out, "%s%s", i ? " \xc2\xb7 " : "", p->name);
		if (p->services)
			prenv_buf_printf(out, " [%s]", p->services);
		prenv_buf_printf(out, " %s", marks[p->state]);
		if (p->state == REPORT_PHASE_SKIPPED) {
			prenv_buf_adds(&par, "once, earlier");
		} else {
			if (p->once)
				prenv_buf_adds(&par, "once");
			if (timed)
				prenv_buf_printf(&par, "%s%ld s", par.len ? ", " : "", p->seconds);
		}
		if (par.len)
			prenv_buf_printf(out, " (%s)", par.ptr);
		prenv_buf_free(&par);
	}
	return out->failed ? PRENV_ENOMEM : 0;
}

static void add_str(cJSON *o, const char *k, const char *v)
{
	if (v)
		cJSON_AddStringToObject(o, k, v);
	else
		cJSON_AddNullToObject(o, k);
}

cJSON *report_result_json(const struct report_info *ri)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	add_str(o, "status", ri->status);
	add_str(o, "url", ri->url);
	add_str(o, "environment", ri->plan->env_name);
	add_str(o, "kind", env_kind_name(ri->plan->kind));
	add_str(o, "namespace", ri->plan->namespace_);
	add_str(o, "sha", ri->ctx->sha);
	if (ri->ctx->has_pr)
		cJSON_AddNumberToObject(o, "pr", (double)ri->ctx->pr_number);
	else
		cJSON_AddNullToObject(o, "pr");
	add_str(o, "reason", ri->reason);
	if (ri->phases)
		add_str(o, "phases", ri->phases);
	if (ri->plan->services)
		cJSON_AddItemToObject(o, "services", cJSON_Duplicate(ri->plan->services, 1));
	return o;
}

static int append_file(const char *path, const char *data, size_t len,
		       struct prenv_err *err)
{
	if (prenv_write_file(path, O_APPEND | O_CREAT, 0644, data, len) < 0)
		return prenv_err_set(err, PRENV_EFAIL, "cannot write %s: %s", path, strerror(errno));
	return 0;
}

/* name<<DELIM\nvalue\nDELIM\n, the multi-line-safe GITHUB_OUTPUT syntax; the
 * delimiter is chosen so that it does not occur in the value. */
static void gh_output(struct prenv_buf *b, const char *name, const char *value)
{
	unsigned long n = 0;
	char delim[64];

	value = value ? value : "";
	do {
		snprintf(delim, sizeof(delim), "prenv_EOF_%lx_%lu", (unsigned long)getpid(), n++);
	} while (strstr(value, delim));
	prenv_buf_printf(b, "%s<<%s\n%s\n%s\n", name, delim, value, delim);
}

/* KEY=value for GitLab's dotenv report: one line, no newlines allowed. */
static void dotenv_line(struct prenv_buf *b, const char *k, const char *v)
{
	prenv_buf_printf(b, "%s=", k);
	for (; v && *v; v++)
		if (*v != '\n' && *v != '\r')
			prenv_buf_addc(b, *v);
	prenv_buf_addc(b, '\n');
}

/* The GitHub step summary of a run that ended before there was an
 * environment to describe (a configuration error, a skipped fork). */
static void short_summary(struct prenv_buf *b, const struct report_info *ri)
{
	prenv_buf_printf(b, "### prenv: %s\n\n", ri->status);
	if (ri->reason && *ri->reason) {
		prenv_buf_adds(b, "**Reason:** ");
		md_escape(b, ri->reason);
		prenv_buf_adds(b, "\n");
	}
}

int report_job_outputs(const struct report_info *ri, const char *const *envp,
		       struct prenv_err *err)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	const char *gh_out = ci_getenv(envp, "GITHUB_OUTPUT");
	const char *gh_sum = ci_getenv(envp, "GITHUB_STEP_SUMMARY");
	const char *dotenv = ci_getenv(envp, "PRENV_DOTENV");
	const char *env = ri->plan ? ri->plan->env_name : NULL;
	const char *ns = ri->plan ? ri->plan->namespace_ : NULL;
	int rc = 0;

	if (gh_out) {
		gh_output(&b, "url", ri->url);
		gh_output(&b, "environment", env);
		gh_output(&b, "namespace", ns);
		gh_output(&b, "status", ri->status);
		gh_output(&b, "reason", ri->reason);
		rc = b.failed ? PRENV_ENOMEM : append_file(gh_out, b.ptr, b.len, err);
		if (rc)
			goto done;
		prenv_buf_reset(&b);
	}
	if (gh_sum) {
		if (ri->plan && ri->cfg && ri->ctx)
			rc = report_comment_body(&b, ri);
		else
			short_summary(&b, ri);
		if (rc < 0 || b.failed) {
			rc = rc < 0 ? rc : PRENV_ENOMEM;
			goto done;
		}
		prenv_buf_addc(&b, '\n');
		rc = append_file(gh_sum, b.ptr, b.len, err);
		if (rc)
			goto done;
		prenv_buf_reset(&b);
	}
	if (!dotenv && (ci_getenv(envp, "GITLAB_CI") ||
			(ri->ctx && ri->ctx->ci && !strcmp(ri->ctx->ci, "gitlab"))))
		dotenv = "prenv.env";
	if (dotenv) {
		dotenv_line(&b, "PRENV_URL", ri->url ? ri->url : "");
		dotenv_line(&b, "PRENV_ENV", env ? env : "");
		dotenv_line(&b, "PRENV_NAMESPACE", ns ? ns : "");
		dotenv_line(&b, "PRENV_STATUS", ri->status);
		dotenv_line(&b, "PRENV_REASON", ri->reason ? ri->reason : "");
		/* O_NOFOLLOW: a checked-in symlink named prenv.env must not
		 * make prenv truncate another file. */
		if (prenv_write_file(dotenv, O_CREAT | O_TRUNC | O_NOFOLLOW, 0644, b.ptr, b.len) < 0)
			rc = prenv_err_set(err, PRENV_EFAIL, "cannot write %s: %s", dotenv, strerror(errno));
	}
done:
	prenv_buf_free(&b);
	return rc;
}
