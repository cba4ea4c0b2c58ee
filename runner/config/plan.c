/* plan.c - which environment this run is for, and its name; see plan.h.
 *
 * Pure: no I/O. Everything comes from the config and the CI context.
 */
#include "config/plan.h"
#include "util/buf.h"
#include "context/ci.h"
#include "util/err.h"
#include "render/tmpl.h"
#include "util/names.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define LABEL_MAX NAME_LABEL_MAX

const char *const plan_untrusted_vars[] = {
	"git.branch", "git.tag", "pr.title", "pr.author", NULL,
};

/* ------------------------------------------------------------------ */
/* Plan                                                                */

static int rule_matches(const struct config_rule *r, const struct prenv_context *ctx)
{
	if (r->pull_request >= 0 && r->pull_request != (ctx->has_pr ? 1 : 0))
		return 0;
	/* A fork's branch names are chosen by the fork's author: a pull request
	 * from someone's `main` must never match `branch: main` (production).
	 * Runs from forks match only rules without a branch pattern. */
	if (r->branch && ctx->pr_fork)
		return 0;
	if (r->branch && (!ctx->branch || !name_glob_match(r->branch, ctx->branch)))
		return 0;
	if (r->tag && (!ctx->tag || !name_glob_match(r->tag, ctx->tag)))
		return 0;
	return 1;
}

static cJSON *add_obj(cJSON *parent, const char *name)
{
	cJSON *o = cJSON_CreateObject();

	if (o && !cJSON_AddItemToObject(parent, name, o)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static int add_str(cJSON *o, const char *name, const char *v)
{
	return o && cJSON_AddStringToObject(o, name, v ? v : "") ? 0 : -1;
}

/* git.branch_slug: the branch as a DNS label short enough to name an
 * environment (name_slug: lossy or long names get a hash suffix), the same
 * in every repository of one app, so that `name: "{{git.branch_slug}}"`
 * names one environment across them; it is the name a branch push gets by
 * default, and name_env keeps it as it is. */
static int add_branch_slug(cJSON *o, const char *branch, size_t maxlen)
{
	char *slug = branch ? name_slug(branch, maxlen) : NULL;
	int bad = (branch && !slug) || add_str(o, "branch_slug", slug);

	free(slug);
	return bad;
}

/* The variables known before the environment is named. */
static cJSON *base_vars(const struct prenv_config *cfg, const struct prenv_context *ctx,
			enum env_kind kind)
{
	cJSON *v = cJSON_CreateObject(), *o;
	char short_sha[8] = "";
	int bad = 0;

	if (!v)
		return NULL;
	if (ctx->sha) {
		size_t n = strlen(ctx->sha);
		memcpy(short_sha, ctx->sha, n < 7 ? n : 7);
		short_sha[n < 7 ? n : 7] = '\0';
	}
	bad |= add_str(v, "app", cfg->app);
	o = add_obj(v, "env");
	bad |= add_str(o, "kind", env_kind_name(kind));
	o = add_obj(v, "git");
	bad |= add_str(o, "branch", ctx->branch);
	bad |= add_branch_slug(o, ctx->branch, LABEL_MAX - 1 - strlen(cfg->app));
	bad |= add_str(o, "tag", ctx->tag);
	bad |= add_str(o, "sha", ctx->sha);
	bad |= add_str(o, "short_sha", short_sha);
	if (ctx->has_pr) {
		o = add_obj(v, "pr");
		if (!o || !cJSON_AddNumberToObject(o, "number", (double)ctx->pr_number))
			bad = 1;
		bad |= add_str(o, "title", ctx->pr_title);
		bad |= add_str(o, "author", ctx->pr_author);
		bad |= add_str(o, "url", ctx->pr_url);
	} else if (!cJSON_AddNullToObject(v, "pr")) {
		bad = 1;
	}
	o = add_obj(v, "repo");
	bad |= add_str(o, "owner", ctx->repo_owner);
	bad |= add_str(o, "name", ctx->repo_name);
	bad |= add_str(o, "full_name", ctx->repo_full_name);
	bad |= add_str(o, "url", ctx->repo_url);
	o = add_obj(v, "ci");
	bad |= add_str(o, "name", ctx->ci);
	bad |= add_str(o, "run_url", ctx->run_url);
	if (bad) {
		cJSON_Delete(v);
		return NULL;
	}
	return v;
}

/* The host part of url ("https://user@h.example.com:8443/x" -> "h.example.com"),
 * or NULL. */
static char *url_host(const char *url)
{
	const char *p = strstr(url, "://"), *end, *at;

	if (!p)
		return NULL;
	p += 3;
	end = p + strcspn(p, "/?#");
	at = memchr(p, '@', (size_t)(end - p));
	if (at)
		p = at + 1;
	if (*p == '[') { /* IPv6 literal */
		const char *rb = memchr(p, ']', (size_t)(end - p));
		if (rb)
			return strndup(p, (size_t)(rb - p + 1));
	}
	at = memchr(p, ':', (size_t)(end - p));
	if (at)
		end = at;
	return end > p ? strndup(p, (size_t)(end - p)) : NULL;
}

static int mentions_untrusted(const char *src)
{
	size_t i;

	for (i = 0; plan_untrusted_vars[i]; i++)
		if (strstr(src, plan_untrusted_vars[i]))
			return 1;
	return 0;
}

/* Renders every string of the values tree (in place, in a copy) with vars. */
/* An error at line:col of the template under key is at the config file's
 * position of that template (not 1:29 of the value's own text). */
static void err_at_config(struct prenv_err *err, const struct prenv_config *cfg, const char *key)
{
	int line, col, plain;

	if (!err || err->line < 1 || !config_template_pos(cfg, key, &line, &col, &plain))
		return;
	if (err->line == 1)
		err->col = col + (plain ? 0 : 1) + err->col - 1;
	err->line = line + err->line - 1;
}

static int render_values(struct prenv_plan *plan, cJSON *node, const cJSON *vars,
			 struct prenv_buf *dotted, const struct prenv_config *cfg,
			 struct prenv_err *err)
{
	cJSON *it;
	size_t mark = dotted->len;

	cJSON_ArrayForEach(it, node) {
		prenv_buf_truncate(dotted, mark);
		prenv_buf_printf(dotted, ".%s", it->string);
		if (dotted->failed)
			return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
		if (cJSON_IsObject(it)) {
			int rc = render_values(plan, it, vars, dotted, cfg, err);
			if (rc)
				return rc;
		} else if (cJSON_IsString(it)) {
			char *s = tmpl_render_string(it->valuestring, vars, cfg->path, err);
			if (!s) {
				err_at_config(err, cfg, dotted->ptr);
				prenv_err_prefix(err, "'%s' in %s (values may use app, env.*, git.*, "
						 "pr.*, repo.*, ci.*, not other values)",
						 dotted->ptr, cfg->path);
				return err && err->code ? err->code : PRENV_ECONFIG;
			}
			if (mentions_untrusted(it->valuestring) && plan->nuntrusted < PLAN_MAX_UNTRUSTED) {
				char *name = strdup(dotted->ptr);
				if (!name) {
					free(s);
					return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
				}
				plan->untrusted_[plan->nuntrusted++] = name;
			}
			cJSON_SetValuestring(it, s);
			free(s);
		}
	}
	prenv_buf_truncate(dotted, mark);
	return 0;
}

static char *render_at(const char *src, const cJSON *vars, const struct prenv_config *cfg,
		       const char *what, const char *key, struct prenv_err *err)
{
	char *s = tmpl_render_string(src, vars, cfg->path, err);

	if (!s) {
		err_at_config(err, cfg, key);
		prenv_err_prefix(err, "%s", what);
	}
	return s;
}

static char *render(const char *src, const cJSON *vars, const struct prenv_config *cfg,
		    const char *what, struct prenv_err *err)
{
	return render_at(src, vars, cfg, what, NULL, err);
}

const struct config_rule *plan_find_rule(const struct prenv_config *cfg,
					 const struct prenv_context *ctx, struct prenv_err *err)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	size_t i;

	for (i = 0; i < cfg->nrules; i++)
		if (rule_matches(&cfg->rules[i], ctx))
			return &cfg->rules[i];
	if (ctx->has_pr)
		prenv_buf_printf(&b, "pull request #%ld (branch '%s')", ctx->pr_number,
				 ctx->branch ? ctx->branch : "?");
	else if (ctx->branch)
		prenv_buf_printf(&b, "branch '%s' (not a pull request)", ctx->branch);
	else if (ctx->tag)
		prenv_buf_printf(&b, "tag '%s' (not a pull request)", ctx->tag);
	else
		prenv_buf_printf(&b, "a detached HEAD (no branch, not a pull request)");
	prenv_err_set_at(err, PRENV_ECONFIG, cfg->path, cfg->environments_line,
			 cfg->environments_col,
			 "no rule in 'environments' matches %s; add a rule for it, e.g. "
			 "`- %s` (rules are tried in order, the first match wins)",
			 b.failed ? "this run" : b.ptr,
			 ctx->has_pr ? "pull_request: true"
			 : !ctx->branch && ctx->tag ? "tag: \"**\"" : "branch: \"**\"");
	prenv_buf_free(&b);
	return NULL;
}

static int fail_code(const struct prenv_err *err)
{
	return err && err->code ? err->code : PRENV_ECONFIG;
}

/* The environment's name before slugging: the rule's `name`, pr-N, the
 * branch, the tag, or sha-<7 hex>. *raw is the caller's. */
static int raw_name(char **raw, const struct prenv_plan *plan, const struct prenv_config *cfg,
		    const struct prenv_context *ctx, struct prenv_err *err)
{
	const struct config_rule *rule = plan->rule;
	struct prenv_buf b = PRENV_BUF_INIT;

	*raw = NULL;
	if (rule->name) {
		prenv_buf_printf(&b, "environment 'name' of the rule at line %d", rule->line);
		*raw = render(rule->name, plan->vars, cfg, b.failed ? "name" : b.ptr, err);
		prenv_buf_free(&b);
		if (!*raw)
			return fail_code(err);
		if (!**raw)
			return prenv_err_set_at(err, PRENV_ECONFIG, cfg->path, rule->line, rule->col,
						"the rule's 'name' renders to an empty string; give it "
						"a value that is never empty");
		return 0;
	}
	if (ctx->has_pr)
		prenv_buf_printf(&b, "pr-%ld", ctx->pr_number);
	else if (ctx->branch && *ctx->branch)
		prenv_buf_adds(&b, ctx->branch);
	else if (ctx->tag && *ctx->tag)
		prenv_buf_adds(&b, ctx->tag);
	else if (ctx->sha && *ctx->sha)
		prenv_buf_printf(&b, "sha-%.7s", ctx->sha);
	else
		return prenv_err_set_at(err, PRENV_ECONFIG, cfg->path, rule->line, rule->col,
					"cannot name the environment: no branch, pull request or "
					"commit was detected; set PRENV_BRANCH (or PRENV_PR) or give "
					"the rule a 'name'");
	if (b.failed)
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	*raw = prenv_buf_detach(&b, NULL);
	return 0;
}

/* env.namespace, env.url and env.host, once env.name is set. */
static int finish_env(struct prenv_plan *plan, const struct prenv_config *cfg,
		      struct prenv_err *err)
{
	cJSON *env = cJSON_GetObjectItemCaseSensitive(plan->vars, "env");
	const cJSON *ns_tmpl = cJSON_GetObjectItemCaseSensitive(cfg->provider, "namespace");
	char *raw;

	raw = render(cJSON_IsString(ns_tmpl) ? ns_tmpl->valuestring : "{{app}}-{{env.name}}",
		     plan->vars, cfg, "provider 'namespace'", err);
	if (!raw)
		return fail_code(err);
	/* Kept as rendered when it is a label (it may end in the env name's
	 * hash); slugged (with a hash of its own) otherwise. */
	plan->namespace_ = name_is_dns_label(raw) ? strdup(raw) : name_slug(raw, LABEL_MAX);
	free(raw);
	if (!plan->namespace_ || add_str(env, "namespace", plan->namespace_))
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	if (!cfg->url)
		return 0;
	if (!(plan->url = render_at(cfg->url, plan->vars, cfg, "'url'", "url", err)))
		return fail_code(err);
	plan->host = url_host(plan->url);
	if (add_str(env, "url", plan->url) || (plan->host && add_str(env, "host", plan->host)))
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	return 0;
}

/* The rule's name rendered to exactly git.branch_slug. */
static int is_branch_slug(const struct prenv_plan *plan, const char *raw)
{
	const cJSON *git = cJSON_GetObjectItemCaseSensitive(plan->vars, "git");
	const char *slug = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(git, "branch_slug"));

	return plan->rule && plan->rule->name && slug && *slug && !strcmp(raw, slug);
}

/* env.name, then the rest of env.*. */
static int name_env(struct prenv_plan *plan, const struct prenv_config *cfg,
		    const struct prenv_context *ctx, struct prenv_err *err)
{
	cJSON *env = cJSON_GetObjectItemCaseSensitive(plan->vars, "env");
	/* The environment's name: <app>-<name> must stay a valid label. */
	size_t maxlen = LABEL_MAX - 1 - strlen(cfg->app);
	char *raw = NULL;
	int rc;

	if ((rc = raw_name(&raw, plan, cfg, ctx, err)) < 0) {
		free(raw);
		return rc;
	}
	if (is_branch_slug(plan, raw) && strlen(raw) <= maxlen)
		plan->env_name = strdup(raw); /* a slug already: not hashed again */
	else
		plan->env_name = name_slug(raw, maxlen);
	free(raw);
	if (!plan->env_name || add_str(env, "name", plan->env_name))
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	return finish_env(plan, cfg, err);
}

/* values.*: rendered with everything above, but not with each other. */
static int plan_values(struct prenv_plan *plan, const struct prenv_config *cfg,
		       struct prenv_err *err)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	cJSON *values;
	int rc;

	if (!cfg->values)
		return 0;
	if (!(values = cJSON_Duplicate(cfg->values, 1)))
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	prenv_buf_adds(&b, "values");
	rc = render_values(plan, values, plan->vars, &b, cfg, err);
	prenv_buf_free(&b);
	if (rc) {
		cJSON_Delete(values);
		return rc;
	}
	cJSON_AddItemToObject(plan->vars, "values", values);
	return 0;
}

/* A plan for rule (may be NULL) with its variables, but no name yet. */
static int plan_start(struct prenv_plan **out, const struct prenv_config *cfg,
		      const struct prenv_context *ctx, const struct config_rule *rule,
		      enum env_kind kind, struct prenv_err *err)
{
	struct prenv_plan *plan;
	size_t i;

	*out = NULL;
	if (!(plan = calloc(1, sizeof(*plan))))
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	plan->rule = rule;
	plan->kind = kind;
	plan->protected_ = rule ? rule->protected_ : 0;
	plan->ttl_seconds = rule ? rule->ttl_seconds : 0;
	for (i = 0; plan_untrusted_vars[i]; i++) {
		if (!(plan->untrusted_[i] = strdup(plan_untrusted_vars[i])))
			goto oom;
		plan->nuntrusted = i + 1;
	}
	plan->untrusted = (const char *const *)plan->untrusted_;
	if (!(plan->vars = base_vars(cfg, ctx, plan->kind)))
		goto oom;
	*out = plan;
	return 0;
oom:
	plan_free(plan);
	return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
}

/* check.url must be an http(s) URL once rendered. */
static int check_url_ok(const char *u, const struct prenv_config *cfg, struct prenv_err *err)
{
	int line = cfg->check.line, col = cfg->check.col, plain;

	if (!strncmp(u, "http://", 7) || !strncmp(u, "https://", 8))
		return 0;
	config_template_pos(cfg, "check.url", &line, &col, &plain);
	return prenv_err_set_at(err, PRENV_ECONFIG, cfg->path, line, col,
				"'check.url' must be an http:// or https:// URL once rendered, got '%s'", u);
}

/* One header of check.headers, rendered into plan->check_headers. */
static int check_header(struct prenv_plan *plan, const struct prenv_config *cfg, const cJSON *h,
			struct prenv_buf *key, struct prenv_err *err)
{
	char *v;
	int rc = 0;

	prenv_buf_reset(key);
	prenv_buf_printf(key, "check.headers.%s", h->string);
	if (key->failed)
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	if (!(v = render_at(h->valuestring, plan->vars, cfg, "'check.headers'", key->ptr, err)))
		return fail_code(err);
	if (strpbrk(v, "\r\n"))
		rc = prenv_err_set_at(err, PRENV_ECONFIG, cfg->path, cfg->check.line, cfg->check.col,
				      "check header '%s' renders to more than one line", h->string);
	else if (!cJSON_AddStringToObject(plan->check_headers, h->string, v))
		rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	free(v);
	return rc;
}

/* The check's URL and header templates, rendered (PRENV_ECONFIG at the
 * config's position when one fails). */
static int plan_check(struct prenv_plan *plan, const struct prenv_config *cfg,
		      struct prenv_err *err)
{
	const cJSON *h;
	struct prenv_buf key = PRENV_BUF_INIT;
	int rc = 0;

	if (!cfg->check.enabled)
		return 0;
	if (cfg->check.url &&
	    (!(plan->check_url = render_at(cfg->check.url, plan->vars, cfg, "'check.url'", "check.url", err)) ||
	     check_url_ok(plan->check_url, cfg, err) < 0))
		return fail_code(err);
	if (!(plan->check_headers = cJSON_CreateObject()))
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	cJSON_ArrayForEach(h, cfg->check.headers) {
		if ((rc = check_header(plan, cfg, h, &key, err)) < 0)
			break;
	}
	prenv_buf_free(&key);
	return rc;
}

int plan_make(struct prenv_plan **out, const struct prenv_config *cfg,
	      const struct prenv_context *ctx, struct prenv_err *err)
{
	const struct config_rule *rule = plan_find_rule(cfg, ctx, err);
	struct prenv_plan *plan;
	int rc;

	*out = NULL;
	if (!rule)
		return PRENV_ECONFIG;
	if ((rc = plan_start(&plan, cfg, ctx, rule, rule->kind_set ? rule->kind
			     : ctx->has_pr ? ENV_KIND_PREVIEW : ENV_KIND_DEVELOPMENT, err)) < 0)
		return rc;
	if ((rc = name_env(plan, cfg, ctx, err)) < 0 || (rc = plan_values(plan, cfg, err)) < 0 ||
	    (rc = plan_check(plan, cfg, err)) < 0) {
		plan_free(plan);
		return rc;
	}
	*out = plan;
	return 0;
}

long plan_env_pr(const char *name)
{
	char *end;
	long pr;

	if (!name || strncmp(name, "pr-", 3) != 0 || name[3] < '1' || name[3] > '9')
		return 0;
	pr = strtol(name + 3, &end, 10);
	return *end || pr <= 0 ? 0 : pr;
}

const struct config_rule *plan_rule_for_env(const struct prenv_config *cfg, const char *name,
					    long pr, int *protected_)
{
	const struct config_rule *chosen = NULL;
	size_t i;

	*protected_ = 0;
	for (i = 0; i < cfg->nrules; i++) {
		const struct config_rule *r = &cfg->rules[i];

		if (r->name && !strcmp(r->name, name)) {
			if (!chosen)
				chosen = r;
			*protected_ |= r->protected_;
		} else if (!r->name && r->branch && r->pull_request != 1 &&
			   name_glob_match(r->branch, name)) {
			*protected_ |= r->protected_;
		}
	}
	for (i = 0; !chosen && pr > 0 && i < cfg->nrules; i++)
		if (cfg->rules[i].pull_request == 1)
			chosen = &cfg->rules[i];
	for (i = 0; !chosen && pr > 0 && i < cfg->nrules; i++)
		if (cfg->rules[i].pull_request == -1 && !cfg->rules[i].branch)
			chosen = &cfg->rules[i];
	if (chosen)
		*protected_ |= chosen->protected_;
	return chosen;
}

int plan_named(struct prenv_plan **out, const struct prenv_config *cfg,
	       const struct prenv_context *ctx, const char *name, struct prenv_err *err)
{
	const struct config_rule *rule;
	struct prenv_plan *plan;
	long pr = plan_env_pr(name);
	int protected_ = 0, rc;

	*out = NULL;
	if (!name_is_dns_label(name) || strlen(name) > LABEL_MAX - 1 - strlen(cfg->app))
		return prenv_err_set(err, PRENV_ECONFIG, "--env '%s' is not an environment name: "
				     "names are DNS labels of at most %zu characters (see `prenv list`)",
				     name, LABEL_MAX - 1 - strlen(cfg->app));
	rule = plan_rule_for_env(cfg, name, pr, &protected_);
	if ((rc = plan_start(&plan, cfg, ctx, rule, rule && rule->kind_set ? rule->kind
			     : pr > 0 ? ENV_KIND_PREVIEW : ENV_KIND_DEVELOPMENT, err)) < 0)
		return rc;
	plan->protected_ = protected_;
	if (!(plan->env_name = strdup(name)) ||
	    add_str(cJSON_GetObjectItemCaseSensitive(plan->vars, "env"), "name", name))
		rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	if (rc < 0 || (rc = finish_env(plan, cfg, err)) < 0 || (rc = plan_values(plan, cfg, err)) < 0) {
		plan_free(plan);
		return rc;
	}
	*out = plan;
	return 0;
}

void plan_free(struct prenv_plan *plan)
{
	size_t i;

	if (!plan)
		return;
	free(plan->env_name);
	free(plan->namespace_);
	free(plan->url);
	free(plan->host);
	free(plan->check_url);
	cJSON_Delete(plan->check_headers);
	cJSON_Delete(plan->vars);
	for (i = 0; i < plan->nuntrusted; i++)
		free(plan->untrusted_[i]);
	cJSON_Delete(plan->services);
	for (i = 0; plan->service_repos && plan->service_repos[i]; i++)
		free(plan->service_repos[i]);
	free(plan->service_repos);
	free(plan);
}

cJSON *plan_to_json(const struct prenv_plan *plan)
{
	cJSON *o = cJSON_CreateObject();
	int bad = 0;

	if (!o)
		return NULL;
	bad |= !cJSON_AddStringToObject(o, "name", plan->env_name);
	bad |= !cJSON_AddStringToObject(o, "kind", env_kind_name(plan->kind));
	bad |= !cJSON_AddStringToObject(o, "namespace", plan->namespace_);
	if (plan->url)
		bad |= !cJSON_AddStringToObject(o, "url", plan->url);
	else
		bad |= !cJSON_AddNullToObject(o, "url");
	bad |= !cJSON_AddBoolToObject(o, "protected", plan->protected_);
	if (plan->ttl_seconds > 0)
		bad |= !cJSON_AddNumberToObject(o, "ttl", (double)plan->ttl_seconds);
	else
		bad |= !cJSON_AddNullToObject(o, "ttl");
	if (bad) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

int plan_add_untrusted(struct prenv_plan *plan, const char *name)
{
	char *dup;

	if (plan->nuntrusted >= PLAN_MAX_UNTRUSTED)
		return 0; /* the render escapes every value anyway; this list adds warnings */
	if (!(dup = strdup(name)))
		return -1;
	plan->untrusted_[plan->nuntrusted++] = dup;
	plan->untrusted_[plan->nuntrusted] = NULL;
	plan->untrusted = (const char *const *)plan->untrusted_;
	return 0;
}

void plan_err_at_config(struct prenv_err *err, const struct prenv_config *cfg, const char *key)
{
	err_at_config(err, cfg, key);
}
