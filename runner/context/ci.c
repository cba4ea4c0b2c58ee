/* ci.c - CI context detection: ci_detect() and what every detector shares.
 *
 * Owns the dispatcher (which CI is this, then the order below),
 * ci_context_free() and ci_context_to_json(); the field setters, text
 * checks and ci_getenv() every detector uses are in ci_fields.c. One file
 * per CI system does the detecting
 * (ci_github.c, ci_gitlab.c, ci_jenkins.c), ci_local.c reads the checkout,
 * ci_override.c the PRENV_* variables, repourl.c the URLs.
 *
 * Order: the CI system's variables (and, on GitHub, the event JSON) first;
 * then whatever is still missing from the git checkout (git.h); then the
 * PRENV_* overrides, which win over everything; then derived fields (owner
 * and name from full_name, repository and PR URLs).
 *
 * All strings in struct prenv_context are heap copies. Values read from the
 * environment or the event payload are untrusted: nothing here interprets
 * them beyond splitting and comparing.
 */
#include "context/ci.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "context/ci_int.h"
#include "util/buf.h"
#include "util/err.h"

/* ------------------------------------------------------------------ */
/* The dispatcher                                                      */

/* The CI systems with a detector, in the order they are recognised.
 * Anything else (no variable matches, or PRENV_CI names another CI) is
 * read from the checkout and the PRENV_* variables alone. */
static const struct ci_system {
	const char *name;  /* ctx->ci, and the PRENV_CI value that selects it */
	const char *var;   /* the variable that says we run there ... */
	const char *value; /* ... with this value (NULL: any) */
	int (*detect)(struct ci_det *d, struct prenv_err *err);
} ci_systems[] = {
	{ "github", "GITHUB_ACTIONS", "true", ci_detect_github },
	{ "gitlab", "GITLAB_CI", "true", ci_detect_gitlab },
	{ "jenkins", "JENKINS_URL", NULL, ci_detect_jenkins },
};

#define N_SYSTEMS (sizeof(ci_systems) / sizeof(ci_systems[0]))

/* The name of the CI whose variable is set, else "local". */
static const char *which_ci(const char *const *envp)
{
	for (size_t i = 0; i < N_SYSTEMS; i++) {
		const char *v = ci_getenv(envp, ci_systems[i].var);

		if (v && (!ci_systems[i].value || strcmp(v, ci_systems[i].value) == 0))
			return ci_systems[i].name;
	}
	return "local";
}

static int detect_system(struct ci_det *d, const char *ci, struct prenv_err *err)
{
	for (size_t i = 0; i < N_SYSTEMS; i++)
		if (strcmp(ci, ci_systems[i].name) == 0)
			return ci_systems[i].detect(d, err);
	return 0;
}

/* Fields that follow from others. */
static void derive(struct ci_det *d)
{
	struct prenv_context *c = d->c;

	if (c->repo_full_name && (!c->repo_owner || !c->repo_name)) {
		char *full = c->repo_full_name;

		c->repo_full_name = NULL;
		ci_set_full_name(d, full);
		free(full);
	} else if (!c->repo_full_name && c->repo_owner && c->repo_name) {
		ci_putf(d, &c->repo_full_name, "%s/%s", c->repo_owner, c->repo_name);
	}
	if (!c->repo_url && c->server_url && c->repo_full_name)
		ci_putf(d, &c->repo_url, "%s/%s", c->server_url, c->repo_full_name);
	if (c->has_pr && !c->pr_url && c->repo_url && c->pr_number > 0) {
		if (ci_streq(c->host, "github"))
			ci_putf(d, &c->pr_url, "%s/pull/%ld", c->repo_url, c->pr_number);
		else if (ci_streq(c->host, "gitlab"))
			ci_putf(d, &c->pr_url, "%s/-/merge_requests/%ld", c->repo_url,
				c->pr_number);
		else if (ci_streq(c->host, "gitea"))
			ci_putf(d, &c->pr_url, "%s/pulls/%ld", c->repo_url, c->pr_number);
	}
	if (!c->has_pr) {
		/* no PR: no PR fields (a workflow_run from a fork keeps pr_fork) */
		ci_clear(&c->pr_title);
		ci_clear(&c->pr_author);
		ci_clear(&c->pr_url);
		ci_clear(&c->pr_state);
		c->pr_number = 0;
	}
}

void ci_context_free(struct prenv_context *c)
{
	if (!c)
		return;
	free(c->ci);
	free(c->event);
	free(c->action);
	free(c->host);
	free(c->server_url);
	free(c->api_url);
	free(c->repo_owner);
	free(c->repo_name);
	free(c->repo_full_name);
	free(c->repo_url);
	free(c->project_id);
	free(c->branch);
	free(c->base_branch);
	free(c->sha);
	free(c->pr_title);
	free(c->pr_author);
	free(c->pr_url);
	free(c->pr_state);
	free(c->run_url);
	free(c->run_id);
	free(c->tag);
	free(c->head_repo_full_name);
	free(c->trigger_event);
	free(c->warning);
	free(c);
}

int ci_detect(struct prenv_context **out, const char *const *envp,
	      const char *repo_dir, struct prenv_err *err)
{
	struct ci_det d = { 0 };
	const char *ci;
	int rc;

	*out = NULL;
	d.envp = envp;
	d.c = calloc(1, sizeof(*d.c));
	if (!d.c)
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	if ((rc = ci_override_ci(envp, &ci, err)) < 0)
		goto done;
	if (!ci)
		ci = which_ci(envp);
	if ((rc = detect_system(&d, ci, err)) < 0)
		goto done;
	ci_put(&d, &d.c->ci, ci); /* PRENV_CI names any other CI */
	if (d.oom)
		goto nomem;
	if ((rc = ci_fill_from_git(&d, repo_dir, err)) < 0)
		goto done;
	if ((rc = ci_apply_overrides(&d, err)) < 0)
		goto done;
	derive(&d);
	if (d.oom)
		goto nomem;
	*out = d.c;
	d.c = NULL;
	rc = 0;
	goto done;
nomem:
	rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
done:
	ci_context_free(d.c);
	return rc;
}

/* ------------------------------------------------------------------ */
/* JSON                                                                */

static int add_str(cJSON *o, const char *key, const char *v)
{
	cJSON *item = v ? cJSON_CreateString(v) : cJSON_CreateNull();

	if (!item)
		return -1;
	cJSON_AddItemToObject(o, key, item);
	return 0;
}

cJSON *ci_context_to_json(const struct prenv_context *c)
{
	cJSON *o = cJSON_CreateObject(), *repo = NULL, *pr = NULL;
	int fail = 0;

	if (!o || !c)
		goto fail;
	fail |= add_str(o, "ci", c->ci);
	fail |= add_str(o, "event", c->event);
	fail |= add_str(o, "action", c->action);
	repo = cJSON_AddObjectToObject(o, "repo");
	if (!repo)
		goto fail;
	fail |= add_str(repo, "owner", c->repo_owner);
	fail |= add_str(repo, "name", c->repo_name);
	fail |= add_str(repo, "full_name", c->repo_full_name);
	fail |= add_str(repo, "url", c->repo_url);
	fail |= add_str(o, "branch", c->branch);
	fail |= add_str(o, "base_branch", c->base_branch);
	fail |= add_str(o, "sha", c->sha);
	/* "pr" is the number, as in every command's JSON; the details are in
	 * "pull_request" */
	if (c->has_pr ? !cJSON_AddNumberToObject(o, "pr", (double)c->pr_number)
		      : !cJSON_AddNullToObject(o, "pr"))
		goto fail;
	if (c->has_pr) {
		pr = cJSON_AddObjectToObject(o, "pull_request");
		if (!pr || !cJSON_AddNumberToObject(pr, "number", (double)c->pr_number))
			goto fail;
		fail |= add_str(pr, "title", c->pr_title);
		fail |= add_str(pr, "author", c->pr_author);
		fail |= add_str(pr, "url", c->pr_url);
		if (!cJSON_AddBoolToObject(pr, "fork", c->pr_fork))
			goto fail;
		fail |= add_str(pr, "state", c->pr_state);
	} else if (!cJSON_AddNullToObject(o, "pull_request")) {
		goto fail;
	}
	fail |= add_str(o, "run_url", c->run_url);
	/* additions to the documented shape */
	fail |= add_str(o, "host", c->host);
	fail |= add_str(o, "server_url", c->server_url);
	fail |= add_str(o, "api_url", c->api_url);
	fail |= add_str(o, "tag", c->tag);
	if (!cJSON_AddBoolToObject(o, "deleted", c->ref_deleted) ||
	    !cJSON_AddBoolToObject(o, "fork", c->pr_fork))
		goto fail;
	fail |= add_str(o, "head_repo", c->head_repo_full_name);
	fail |= add_str(o, "trigger_event", c->trigger_event);
	fail |= add_str(o, "project_id", c->project_id);
	fail |= add_str(o, "run_id", c->run_id);
	if (fail)
		goto fail;
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}
