/* k8s_targets.c - which cluster an environment goes to (issue 14: a
 * cluster per environment kind): the kubeconfig and context of a rule and
 * kind, the production-only guard, and every cluster the rules name (what
 * gc and status --all visit). No I/O: the environment comes as an array.
 *
 * Where the kubeconfig comes from, first found wins:
 *   1. the rule's `kubeconfig:` (a file, relative to the config);
 *   2. PRENV_KUBECONFIG_<KIND> (KIND: the environment's kind upper-cased;
 *      content, raw or base64, or the path of a file, as PRENV_KUBECONFIG);
 *   3. the run-wide chain: --kubeconfig, provider.kubeconfig,
 *      PRENV_KUBECONFIG, KUBECONFIG, ~/.kube/config, in-cluster.
 * The context: the rule's `context:`, else provider.context, else that
 * kubeconfig's current-context.
 */
#include "kubernetes/k8s_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "config/plan.h"
#include "context/ci.h"
#include "util/buf.h"

static const char *pstr(const struct prenv_config *cfg, const char *key)
{
	const cJSON *v = cfg ? cJSON_GetObjectItemCaseSensitive(cfg->provider, key) : NULL;

	return cJSON_IsString(v) && *v->valuestring ? v->valuestring : NULL;
}

void k8s_kind_var(struct prenv_buf *out, enum env_kind kind)
{
	const char *k = env_kind_name(kind);

	prenv_buf_adds(out, "PRENV_KUBECONFIG_");
	for (; k && *k; k++)
		prenv_buf_addc(out, (char)toupper((unsigned char)*k));
}

/* path as a file to read: absolute, or joined to the config's directory. */
static char *config_relative(const struct prenv_config *cfg, const char *path)
{
	struct prenv_buf b = PRENV_BUF_INIT;

	if (path[0] == '/' || !cfg || !cfg->dir)
		prenv_buf_adds(&b, path);
	else
		prenv_buf_printf(&b, "%s/%s", cfg->dir, path);
	return prenv_buf_detach(&b, NULL);
}

void k8s_target_spec_clear(struct k8s_target_spec *s)
{
	if (!s)
		return;
	free(s->kubeconfig);
	free(s->var);
	free(s->key);
	free(s->from);
	memset(s, 0, sizeof(*s));
}

/* The kubeconfig part of a spec (steps 1-3 above); from gets where. */
static int spec_source(struct k8s_target_spec *out, const struct prenv_config *cfg,
		       const struct config_rule *rule, enum env_kind kind, const char *cli_kubeconfig,
		       const char *const *envp, struct prenv_buf *from)
{
	struct prenv_buf var = PRENV_BUF_INIT;
	const char *file = NULL;

	k8s_kind_var(&var, kind);
	if (var.failed)
		return -1;
	if (rule && rule->kubeconfig) {
		out->kubeconfig = config_relative(cfg, rule->kubeconfig);
		prenv_buf_printf(from, "the rule's kubeconfig: %s (%s:%d:%d)", rule->kubeconfig,
				 cfg->path ? cfg->path : ".prenv.yml", rule->kubeconfig_line, rule->kubeconfig_col);
	} else if (ci_getenv(envp, var.ptr)) {
		out->var = prenv_buf_detach(&var, NULL);
		prenv_buf_adds(from, out->var ? out->var : "");
	} else if ((file = cli_kubeconfig) || (file = pstr(cfg, "kubeconfig"))) {
		out->kubeconfig = file == cli_kubeconfig ? strdup(file) : config_relative(cfg, file);
		prenv_buf_printf(from, "%s %s", file == cli_kubeconfig ? "--kubeconfig" : "provider.kubeconfig",
				 file);
	} else {
		prenv_buf_adds(from, "the default kubeconfig (PRENV_KUBECONFIG, KUBECONFIG, ~/.kube/config or "
			       "in-cluster)");
	}
	prenv_buf_free(&var);
	if ((rule && rule->kubeconfig && !out->kubeconfig) || (file && !out->kubeconfig))
		return -1;
	return 0;
}

int k8s_target_spec_for(struct k8s_target_spec *out, const struct prenv_config *cfg,
			const struct config_rule *rule, enum env_kind kind, const char *cli_kubeconfig,
			const char *const *envp)
{
	struct prenv_buf from = PRENV_BUF_INIT, key = PRENV_BUF_INIT;

	memset(out, 0, sizeof(*out));
	if (spec_source(out, cfg, rule, kind, cli_kubeconfig, envp, &from) < 0)
		goto oom;
	out->context = rule && rule->context ? rule->context : pstr(cfg, "context");
	out->context_from_rule = rule && rule->context;
	if (out->kubeconfig)
		prenv_buf_printf(&key, "file:%s", out->kubeconfig);
	else if (out->var)
		prenv_buf_printf(&key, "env:%s", out->var);
	else
		prenv_buf_adds(&key, "default");
	prenv_buf_printf(&key, ";context=%s", out->context ? out->context : "");
	if (from.failed || key.failed)
		goto oom;
	out->from = prenv_buf_detach(&from, NULL);
	out->key = prenv_buf_detach(&key, NULL);
	return 0;
oom:
	prenv_buf_free(&from);
	prenv_buf_free(&key);
	k8s_target_spec_clear(out);
	return -1;
}

int k8s_production_only(const struct prenv_config *cfg, const char *context)
{
	const cJSON *pc = cfg ? cJSON_GetObjectItemCaseSensitive(cfg->provider, "production_context") : NULL;
	const cJSON *it;

	if (!context)
		return 0;
	cJSON_ArrayForEach(it, pc) {
		if (cJSON_IsString(it) && !strcmp(it->valuestring, context))
			return 1;
	}
	return 0;
}

int k8s_guard(const struct prenv_config *cfg, const struct prenv_plan *plan,
	      const struct k8s_target_spec *spec, const char *context, struct prenv_err *err)
{
	const struct config_rule *r = plan ? plan->rule : NULL;
	struct prenv_buf var = PRENV_BUF_INIT;
	int line = 0, col = 0, rc;

	if (!plan || plan->kind == ENV_KIND_PRODUCTION || !k8s_production_only(cfg, context))
		return 0;
	if (r && spec->context_from_rule) {
		line = r->context_line;
		col = r->context_col;
	} else if (r) {
		line = r->line;
		col = r->col;
	}
	k8s_kind_var(&var, plan->kind);
	rc = prenv_err_set_at(err, PRENV_ECONFIG, cfg->path, line, col,
			      "environment %s (kind %s) would go to context '%s' (%s; kubeconfig from %s), "
			      "which provider.production_context marks production-only: refused before any "
			      "request. Give this rule a `context:` of a non-production cluster (or a "
			      "`kubeconfig:`, or set %s), or `kind: production` if it is one",
			      plan->env_name, env_kind_name(plan->kind), context,
			      spec->context_from_rule ? "the rule's context:" : spec->context ? "provider.context"
			      : "the kubeconfig's current-context", spec->from, var.failed ? "it" : var.ptr);
	prenv_buf_free(&var);
	return rc;
}

/* The kinds a rule's environments can have: its kind, else preview for
 * pull requests and development otherwise (both when it matches either). */
static size_t rule_kinds(const struct config_rule *r, enum env_kind kinds[2])
{
	if (r->kind_set) {
		kinds[0] = r->kind;
		return 1;
	}
	if (r->pull_request >= 0) {
		kinds[0] = r->pull_request ? ENV_KIND_PREVIEW : ENV_KIND_DEVELOPMENT;
		return 1;
	}
	kinds[0] = ENV_KIND_PREVIEW;
	kinds[1] = ENV_KIND_DEVELOPMENT;
	return 2;
}

/* Appends spec to the list unless one with its key is there (then clears it). */
static int specs_add(struct k8s_target_spec **list, size_t *n, struct k8s_target_spec *spec)
{
	struct k8s_target_spec *grown;
	size_t i;

	for (i = 0; i < *n; i++) {
		if (!strcmp((*list)[i].key, spec->key)) {
			k8s_target_spec_clear(spec);
			return 0;
		}
	}
	if (!(grown = realloc(*list, (*n + 1) * sizeof(**list)))) {
		k8s_target_spec_clear(spec);
		return -1;
	}
	*list = grown;
	grown[(*n)++] = *spec;
	memset(spec, 0, sizeof(*spec));
	return 0;
}

int k8s_target_specs(struct k8s_target_spec **out, size_t *n, const struct prenv_config *cfg,
		     const char *cli_kubeconfig, const char *const *envp)
{
	struct k8s_target_spec spec;
	size_t i, k, nk;

	*out = NULL;
	*n = 0;
	for (i = 0; cfg && i < cfg->nrules; i++) {
		enum env_kind kinds[2];

		nk = rule_kinds(&cfg->rules[i], kinds);
		for (k = 0; k < nk; k++) {
			if (k8s_target_spec_for(&spec, cfg, &cfg->rules[i], kinds[k], cli_kubeconfig, envp) < 0 ||
			    specs_add(out, n, &spec) < 0)
				goto oom;
		}
	}
	if (*n == 0) {
		if (k8s_target_spec_for(&spec, cfg, NULL, ENV_KIND_PREVIEW, cli_kubeconfig, envp) < 0 ||
		    specs_add(out, n, &spec) < 0)
			goto oom;
	}
	return 0;
oom:
	k8s_target_specs_free(*out, *n);
	*out = NULL;
	*n = 0;
	return -1;
}

void k8s_target_specs_free(struct k8s_target_spec *list, size_t n)
{
	size_t i;

	for (i = 0; list && i < n; i++)
		k8s_target_spec_clear(&list[i]);
	free(list);
}
