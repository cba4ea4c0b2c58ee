/* services.c - branch resolution for `services:`; see services.h */
#include "resolve/services.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "config/config.h"
#include "config/plan.h"
#include "context/ci.h"
#include "context/tokens.h"
#include "render/tmpl.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/git.h"
#include "util/log.h"

#define HEADS "refs/heads/"

/* ------------------------------------------------------------ the decision */

/* Up to 5 branch names of refs, for a message. */
static void some_branches(struct prenv_buf *b, const struct prenv_git_refs *refs)
{
	size_t i, shown = 0;

	for (i = 0; refs && i < refs->n && shown < 5; i++) {
		if (strncmp(refs->v[i].name, HEADS, strlen(HEADS)))
			continue;
		prenv_buf_printf(b, "%s%s", shown++ ? ", " : "", refs->v[i].name + strlen(HEADS));
	}
	if (!shown)
		prenv_buf_adds(b, "none");
	else if (refs->n > shown)
		prenv_buf_adds(b, ", ...");
}

static const struct prenv_git_ref *find_branch(const struct prenv_git_refs *refs, const char *b,
					       struct prenv_buf *tmp)
{
	prenv_buf_reset(tmp);
	prenv_buf_printf(tmp, HEADS "%s", b);
	return tmp->failed ? NULL : prenv_git_refs_find(refs, tmp->ptr);
}

static int set_found(struct resolved_service *svc, const struct prenv_git_ref *r,
		     const char *branch, int virtual_, struct prenv_err *err)
{
	free(svc->branch);
	free(svc->from_branch);
	svc->from_branch = NULL;
	if (!(svc->branch = strdup(branch)) || (virtual_ && !(svc->from_branch = strdup(branch))))
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	snprintf(svc->sha, sizeof(svc->sha), "%s", r->id);
	svc->virtual_ = virtual_;
	return 0;
}

int resolve_decide(struct resolved_service *svc, const struct prenv_git_refs *refs,
		   const char *want, struct prenv_err *err)
{
	struct prenv_buf tmp = PRENV_BUF_INIT;
	const struct prenv_git_ref *r = NULL;
	const char *prod = svc->cfg ? svc->cfg->production_branch : NULL;
	int rc;

	if (!prod && refs && refs->head && !strncmp(refs->head, HEADS, strlen(HEADS)))
		prod = refs->head + strlen(HEADS);
	if (prod && (r = find_branch(refs, prod, &tmp))) {
		/* what on_missing: production deploys */
		free(svc->prod_branch);
		if (!(svc->prod_branch = strdup(prod))) {
			rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
			goto done;
		}
		snprintf(svc->prod_sha, sizeof(svc->prod_sha), "%s", r->id);
	}
	if (want && *want && (r = find_branch(refs, want, &tmp))) {
		rc = set_found(svc, r, want, 0, err);
		goto done;
	}
	if (prod && (r = find_branch(refs, prod, &tmp))) {
		rc = set_found(svc, r, prod, 1, err);
		goto done;
	}
	prenv_buf_reset(&tmp);
	some_branches(&tmp, refs);
	if (!prod)
		rc = prenv_err_set(err, PRENV_EFAIL, "service '%s': repository %s has no branch '%s' and "
				   "no HEAD branch to fall back to; set services.%s.production_branch "
				   "(its branches: %s)", svc->cfg->name, svc->url, want ? want : "",
				   svc->cfg->name, tmp.ptr ? tmp.ptr : "");
	else
		rc = prenv_err_set(err, PRENV_EFAIL, "service '%s': repository %s has neither branch "
				   "'%s' nor its production branch '%s' (its branches: %s); fix "
				   "services.%s.production_branch", svc->cfg->name, svc->url,
				   want ? want : "", prod, tmp.ptr ? tmp.ptr : "", svc->cfg->name);
done:
	prenv_buf_free(&tmp);
	return rc;
}

/* ------------------------------------------------------------ asking */

/* "owner/name" of a repository URL or path: its last two path segments,
 * without ".git"; NULL when there are not two. */
static char *repo_name_of(const char *url)
{
	const char *p = strstr(url, "://"), *end, *a, *b;
	struct prenv_buf out = PRENV_BUF_INIT;

	p = p ? p + 3 : url;
	if (!strstr(url, "://") && strchr(p, ':') && p[0] != '/' && p[0] != '.')
		p = strchr(p, ':') + 1; /* git@host:owner/name.git */
	end = p + strlen(p);
	while (end > p && end[-1] == '/')
		end--;
	if (end - p > 4 && !strncmp(end - 4, ".git", 4))
		end -= 4;
	for (b = end; b > p && b[-1] != '/' && b[-1] != ':'; b--)
		;
	if (b <= p + 1)
		return NULL;
	for (a = b - 1; a > p && a[-1] != '/' && a[-1] != ':'; a--)
		;
	if (a == b - 1 || b == end)
		return NULL;
	prenv_buf_add(&out, a, (size_t)(end - a));
	return prenv_buf_detach(&out, NULL);
}

/* The URL to ask: ./ and ../ paths are the config's directory's. */
static char *url_of(const struct prenv_config *cfg, const char *repo)
{
	struct prenv_buf b = PRENV_BUF_INIT;

	if ((!strncmp(repo, "./", 2) || !strncmp(repo, "../", 3)) && cfg->dir)
		prenv_buf_printf(&b, "%s/%s", cfg->dir, repo);
	else
		prenv_buf_adds(&b, repo);
	return prenv_buf_detach(&b, NULL);
}

/* What to do about a repository that cannot be read: which token it needs. */
static void token_hint(struct prenv_buf *b, const struct resolve_opts *o, const char *url,
		       const struct token_pick *pick, const char *withheld)
{
	char *host = prenv_git_url_host(url);

	if (pick->var) {
		prenv_buf_printf(b, "the token in %s was refused or cannot read it: give it read "
				 "access to this repository", pick->var);
	} else if (strncmp(url, "https://", 8) && strncmp(url, "http://", 7)) {
		prenv_buf_adds(b, host && *host ? "it is reached over ssh: the ssh-agent's key must be "
			       "allowed to read it" : "check the path");
	} else if (tokens_allowed(o->ctx, o->envp, "GITHUB_TOKEN", url, NULL)) {
		prenv_buf_printf(b, "it needs a token of %s that can read it (the GITHUB_TOKEN of "
				 "GitHub Actions reads only its own repository): set PRENV_GIT_TOKEN_<NAME> "
				 "to a fine-grained or GitHub App token with contents: read on it and "
				 "PRENV_GIT_TOKEN_<NAME>_HOST=%s", host, host);
	} else if (tokens_allowed(o->ctx, o->envp, "CI_JOB_TOKEN", url, NULL)) {
		prenv_buf_printf(b, "it needs a token of %s that can read it: add this project to "
				 "that project's CI/CD job token allowlist (CI_JOB_TOKEN), or set "
				 "PRENV_GITLAB_TOKEN", host);
	} else {
		prenv_buf_printf(b, "it needs a token of its host: set PRENV_GIT_TOKEN_<NAME> to a "
				 "token that can read it and PRENV_GIT_TOKEN_<NAME>_HOST=%s",
				 host ? host : "");
	}
	if (withheld && *withheld)
		prenv_buf_printf(b, " (not sent: %s)", withheld);
	free(host);
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One ls-remote of one repository (branches and HEAD), with its host's
 * token only. The token is picked and registered with the logger before
 * the threads start; a thread only runs prenv_git_ls_remote (util/git.c
 * keeps no global state; one handle per call). */
struct ask_job {
	const char *name, *url;     /* the first service with this URL; borrowed */
	struct token_pick pick;
	struct prenv_buf why;       /* a token withheld, and why */
	struct prenv_git_cred cred;
	char *host;
	struct prenv_git_refs *refs;
	struct prenv_err err;
	int rc;
	double seconds;
};

#define ASK_PARALLEL 8

static void ask_prepare(struct ask_job *j, const struct resolve_opts *o)
{
	j->host = prenv_git_url_host(j->url);
	prenv_buf_init(&j->why, 0); /* max 0: the default bound */
	if (tokens_for_url(o->ctx, o->envp, j->url, TOKEN_FOR_GIT, &j->pick, &j->why)) {
		log_add_secret(j->pick.value);
		j->cred.host = j->host;
		j->cred.user = j->pick.user;
		j->cred.token = j->pick.value;
	}
}

static void *ask_thread(void *arg)
{
	struct ask_job *j = arg;
	double t0 = now_seconds();

	j->rc = prenv_git_ls_remote(&j->refs, j->url, NULL, &j->cred, j->cred.token ? 1 : 0, &j->err);
	j->seconds = now_seconds() - t0;
	return NULL;
}

/* Runs the jobs, ASK_PARALLEL at a time (one thread each; in this thread
 * when a thread cannot be made). */
static void ask_all(struct ask_job **jobs, size_t n)
{
	pthread_t th[ASK_PARALLEL];
	int started[ASK_PARALLEL];
	size_t i, k;

	for (i = 0; i < n; i += ASK_PARALLEL) {
		for (k = 0; k < ASK_PARALLEL && i + k < n; k++)
			started[k] = pthread_create(&th[k], NULL, ask_thread, jobs[i + k]) == 0;
		for (k = 0; k < ASK_PARALLEL && i + k < n; k++) {
			if (started[k])
				pthread_join(th[k], NULL);
			else
				ask_thread(jobs[i + k]);
		}
	}
}

/* The job's failure as the run's error: the service, the repository, and
 * the token it needs. */
static int ask_error(struct ask_job *j, const struct resolve_opts *o, struct prenv_err *err)
{
	struct prenv_buf hint = PRENV_BUF_INIT, full = PRENV_BUF_INIT;
	int rc;

	token_hint(&hint, o, j->url, &j->pick, j->why.ptr);
	prenv_buf_printf(&full, "service '%s': cannot read repository %s: %s; %s", j->name, j->url,
			 j->err.msg ? j->err.msg : "failed", hint.ptr ? hint.ptr : "");
	rc = prenv_err_set(err, j->rc == PRENV_EAUTH ? PRENV_EAUTH : PRENV_EFAIL, "%s",
			   full.failed ? "out of memory" : full.ptr);
	prenv_buf_free(&full);
	prenv_buf_free(&hint);
	return rc;
}

static void ask_job_free(struct ask_job *j)
{
	if (!j)
		return;
	prenv_buf_free(&j->why);
	free(j->host);
	prenv_git_refs_free(j->refs);
	prenv_err_clear(&j->err);
	free(j);
}

int resolve_ask(const struct resolve_opts *o, const char *name, const char *url,
		struct prenv_git_refs **refs, struct prenv_err *err)
{
	struct ask_job *j = calloc(1, sizeof(*j));
	int rc;

	*refs = NULL;
	if (!j)
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	j->name = name;
	j->url = url;
	ask_prepare(j, o);
	ask_thread(j);
	if (o->on_asked)
		o->on_asked(o->ud, url, j->seconds);
	if ((rc = j->rc) < 0)
		rc = ask_error(j, o, err);
	else
		*refs = j->refs, j->refs = NULL;
	ask_job_free(j);
	return rc;
}

/* ------------------------------------------------------------ all services */

/* A service of this repository: real at the commit being deployed. */
static int resolve_here(struct resolved_service *svc, const struct prenv_context *ctx,
			struct prenv_err *err)
{
	const char *b = ctx->branch ? ctx->branch : ctx->tag ? ctx->tag : "";

	if (!(svc->branch = strdup(b)) ||
	    (ctx->repo_full_name && !(svc->repo_name = strdup(ctx->repo_full_name))))
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	snprintf(svc->sha, sizeof(svc->sha), "%s", ctx->sha ? ctx->sha : "");
	return 0;
}

/* The job of an earlier service with the same URL, or NULL. */
static struct ask_job *asked_before(const struct resolved_services *rs, struct ask_job **jobs,
				    size_t i)
{
	size_t j;

	for (j = 0; j < i; j++)
		if (jobs[j] && !strcmp(rs->v[j].url, rs->v[i].url))
			return jobs[j];
	return NULL;
}

/* Who to ask: the URL of every service from another repository, one job
 * per distinct URL (jobs[i] for the first service with it). */
static int plan_asks(struct resolved_services *rs, struct ask_job **jobs, struct ask_job **run,
		     size_t *nrun, const struct resolve_opts *o, struct prenv_err *err)
{
	size_t i;

	for (i = 0; i < rs->n; i++) {
		struct resolved_service *svc = &rs->v[i];

		svc->cfg = &o->cfg->services[i];
		if (!svc->cfg->repo) {
			int rc = resolve_here(svc, o->ctx, err);
			if (rc < 0)
				return rc;
			continue;
		}
		if (!(svc->url = url_of(o->cfg, svc->cfg->repo)))
			return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
		svc->repo_name = repo_name_of(svc->cfg->repo);
		if (asked_before(rs, jobs, i))
			continue;
		if (!(jobs[i] = calloc(1, sizeof(*jobs[i]))))
			return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
		jobs[i]->name = svc->cfg->name;
		jobs[i]->url = svc->url;
		ask_prepare(jobs[i], o);
		run[(*nrun)++] = jobs[i];
	}
	return 0;
}

/* Every service of another repository, from its repository's answer. */
static int decide_all(struct resolved_services *rs, struct ask_job **jobs,
		      const struct resolve_opts *o, struct prenv_err *err)
{
	size_t i;
	int rc;

	for (i = 0; i < rs->n; i++) {
		struct resolved_service *svc = &rs->v[i];
		struct ask_job *j = jobs[i] ? jobs[i] : svc->url ? asked_before(rs, jobs, i) : NULL;

		if (!j)
			continue;
		if (j->rc < 0)
			return ask_error(j, o, err);
		if ((rc = resolve_decide(svc, j->refs, o->ctx->branch, err)) < 0)
			return rc;
		if (svc->virtual_)
			log_info("service %s: virtual: %s has no branch %s, deploying %s at %.12s",
				 svc->cfg->name, svc->url, o->ctx->branch ? o->ctx->branch : "(none)",
				 svc->branch, svc->sha);
		else
			log_info("service %s: real: %s at %.12s", svc->cfg->name, svc->branch, svc->sha);
	}
	return 0;
}

int resolve_services(struct resolved_services **out, const struct resolve_opts *o,
		     struct prenv_err *err)
{
	struct resolved_services *rs;
	struct ask_job **jobs, **run;
	size_t i, n = o->cfg->nservices, nrun = 0;
	int rc;

	*out = NULL;
	if (!n)
		return 0;
	rs = calloc(1, sizeof(*rs));
	jobs = calloc(n, sizeof(*jobs));
	run = calloc(n, sizeof(*run));
	if (!rs || !jobs || !run || !(rs->v = calloc(n, sizeof(*rs->v)))) {
		rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
		goto done;
	}
	rs->n = n;
	if ((rc = plan_asks(rs, jobs, run, &nrun, o, err)) < 0)
		goto done;
	ask_all(run, nrun);
	for (i = 0; i < nrun && o->on_asked; i++)
		o->on_asked(o->ud, run[i]->url, run[i]->seconds);
	rc = decide_all(rs, jobs, o, err);
done:
	for (i = 0; i < n && jobs; i++)
		ask_job_free(jobs[i]);
	free(jobs);
	free(run);
	if (rc < 0) {
		resolve_services_free(rs);
		return rc;
	}
	*out = rs;
	return 0;
}

void resolve_services_free(struct resolved_services *rs)
{
	size_t i;

	if (!rs)
		return;
	for (i = 0; i < rs->n; i++) {
		free(rs->v[i].url);
		free(rs->v[i].repo_name);
		free(rs->v[i].branch);
		free(rs->v[i].from_branch);
		free(rs->v[i].image);
		free(rs->v[i].prod_branch);
	}
	free(rs->v);
	free(rs);
}

/* ------------------------------------------------------------ to the plan */

static void add_opt_str(cJSON *o, const char *k, const char *v)
{
	if (v)
		cJSON_AddStringToObject(o, k, v);
	else
		cJSON_AddNullToObject(o, k);
}

cJSON *resolve_service_json(const struct resolved_service *svc)
{
	cJSON *o = cJSON_CreateObject();
	char short_sha[8];

	if (!o)
		return NULL;
	snprintf(short_sha, sizeof(short_sha), "%.7s", svc->sha);
	cJSON_AddStringToObject(o, "name", svc->cfg->name);
	add_opt_str(o, "repo", svc->cfg->repo);
	add_opt_str(o, "repo_name", svc->repo_name);
	cJSON_AddStringToObject(o, "branch", svc->branch ? svc->branch : "");
	cJSON_AddStringToObject(o, "sha", svc->sha);
	cJSON_AddStringToObject(o, "short_sha", short_sha);
	cJSON_AddBoolToObject(o, "virtual", svc->virtual_);
	add_opt_str(o, "from_branch", svc->from_branch);
	add_opt_str(o, "image", svc->image);
	return o;
}

int resolve_service_image(const struct resolve_opts *o, struct resolved_service *svc,
			  const cJSON *vars, struct prenv_err *err)
{
	struct prenv_buf key = PRENV_BUF_INIT;
	char *img;

	if (!svc->cfg->image)
		return 0;
	if (!(img = tmpl_render_string(svc->cfg->image, vars, o->cfg->path, err))) {
		prenv_buf_printf(&key, "services.%s.image", svc->cfg->name);
		plan_err_at_config(err, o->cfg, key.ptr);
		prenv_err_prefix(err, "services.%s.image in %s (it may use service.*, services.*, "
				 "app, env.*, git.*, pr.*, repo.*, ci.*, values.*)", svc->cfg->name,
				 o->cfg->path);
		prenv_buf_free(&key);
		return err->code ? err->code : PRENV_ECONFIG;
	}
	/* The image check (does the tag exist yet? its digest; else the
	 * production image): svc->image is what every template sees as
	 * service.image. */
	if (o->check_image && o->check_image(o, svc, vars, &img, err) < 0) {
		free(img);
		return err->code;
	}
	free(svc->image);
	svc->image = img;
	return 0;
}

/* plan->vars.services, rebuilt from rs. */
static int set_services_var(const struct resolved_services *rs, struct prenv_plan *plan)
{
	cJSON *all = cJSON_CreateObject(), *one;
	size_t i;

	if (!all)
		return -1;
	for (i = 0; i < rs->n; i++) {
		if (!(one = resolve_service_json(&rs->v[i]))) {
			cJSON_Delete(all);
			return -1;
		}
		cJSON_AddItemToObject(all, rs->v[i].cfg->name, one);
	}
	cJSON_DeleteItemFromObjectCaseSensitive(plan->vars, "services");
	cJSON_AddItemToObject(plan->vars, "services", all);
	return 0;
}

cJSON *resolve_service_vars(const struct prenv_plan *plan, const char *name)
{
	cJSON *v = cJSON_Duplicate(plan->vars, 1), *svc;

	if (!v)
		return NULL;
	svc = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(v, "services"), name);
	if (svc && !cJSON_AddItemToObject(v, "service", cJSON_Duplicate(svc, 1))) {
		cJSON_Delete(v);
		return NULL;
	}
	return v;
}

/* Adds name to the NULL-terminated list v of *n (room for it) unless there. */
static int add_repo(char **v, size_t *n, const char *name)
{
	size_t j;

	for (j = 0; name && j < *n; j++)
		if (!strcasecmp(v[j], name))
			return 0;
	if (name && !(v[(*n)++] = strdup(name)))
		return -1;
	return 0;
}

int resolve_repos(struct prenv_plan *plan, const struct prenv_config *cfg,
		  const struct prenv_context *ctx)
{
	size_t i, n = 0;
	int bad = 0;

	if (!cfg->nservices || plan->service_repos)
		return 0;
	if (!(plan->service_repos = calloc(cfg->nservices + 2, sizeof(char *))))
		return -1;
	bad |= add_repo(plan->service_repos, &n, ctx->repo_full_name);
	for (i = 0; i < cfg->nservices; i++) {
		char *rn = cfg->services[i].repo ? repo_name_of(cfg->services[i].repo) : NULL;

		bad |= add_repo(plan->service_repos, &n, rn);
		free(rn);
	}
	return bad ? -1 : 0;
}

/* plan->services from rs; services.<name>.branch and service.branch are
 * untrusted (a PR's branch name). */
static int set_plan_lists(const struct resolved_services *rs, struct prenv_plan *plan)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	size_t i;
	int bad = 0;

	cJSON_Delete(plan->services);
	if (!(plan->services = cJSON_CreateArray()))
		return -1;
	for (i = 0; i < rs->n; i++) {
		cJSON_AddItemToArray(plan->services, resolve_service_json(&rs->v[i]));
		prenv_buf_reset(&b);
		prenv_buf_printf(&b, "services.%s.branch", rs->v[i].cfg->name);
		bad |= b.failed || plan_add_untrusted(plan, b.ptr) < 0;
	}
	bad |= plan_add_untrusted(plan, "service.branch") < 0;
	prenv_buf_free(&b);
	return bad || cJSON_GetArraySize(plan->services) != (int)rs->n ? -1 : 0;
}

int resolve_apply(const struct resolved_services *rs, const struct resolve_opts *o,
		  struct prenv_plan *plan, struct prenv_err *err)
{
	size_t i;
	int rc;

	if (!rs || !rs->n)
		return 0;
	if (set_services_var(rs, plan) < 0)
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	for (i = 0; i < rs->n; i++) {
		cJSON *vars = resolve_service_vars(plan, rs->v[i].cfg->name);

		if (!vars)
			return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
		rc = resolve_service_image(o, &rs->v[i], vars, err);
		cJSON_Delete(vars);
		if (rc < 0)
			return rc;
	}
	if (set_services_var(rs, plan) < 0 || set_plan_lists(rs, plan) < 0)
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	return 0;
}
