/* services.h - what each service of `services:` deploys, asked from
 * outside: the services' repositories are asked for the environment's
 * branch (one ls-remote per repository, through util/git.h; no clone).
 *
 * A service from another repository is REAL when its repository has the
 * environment's branch (the PR's head branch, or the pushed branch): it is
 * deployed at that branch's head. Otherwise it is VIRTUAL: deployed at the
 * head of its production branch (production_branch, else the repository's
 * HEAD branch). A service from this repository (no `repo:`) is always real
 * at the commit being deployed. A run without a branch (a tag, a detached
 * HEAD) makes every other service virtual.
 *
 * Tokens: each repository gets only its own host's token
 * (context/tokens.h); a repository that cannot be read is an error naming
 * the service, the repository and the token it needs (PRENV_EAUTH when the
 * server wanted credentials, else PRENV_EFAIL), before anything is
 * deployed.
 *
 * The decision for one service (resolve_decide) is pure; the rest does the
 * asking and then hands the results to the plan (resolve_apply): the
 * template variables service.* and services.<name>.*, plan->services and
 * plan->service_repos.
 */
#ifndef PRENV_RESOLVE_SERVICES_H
#define PRENV_RESOLVE_SERVICES_H

#include <stddef.h>
#include <cjson/cJSON.h>

struct prenv_config;
struct config_service;
struct prenv_context;
struct prenv_plan;
struct prenv_err;
struct prenv_git_refs;
struct image_checker;
struct resolved_service;

struct resolved_service {
	const struct config_service *cfg; /* borrowed from the config */
	char *url;          /* the repository asked (a relative path made absolute);
			     * NULL: this repository */
	char *repo_name;    /* "owner/name" (labels, ownership); may be NULL */
	char *branch;       /* the branch deployed */
	char *from_branch;  /* virtual: the production branch it came from; else NULL */
	char sha[41];       /* the commit deployed ("" when unknown) */
	int virtual_;
	char *image;        /* the final image (resolve_service_image), or NULL */
	/* Its production branch and that branch's head when known (another
	 * repository's refs say; for this repository image_check.c asks when
	 * on_missing: production needs it): what on_missing: production
	 * deploys. */
	char *prod_branch;
	char prod_sha[41];
	int image_fell_back; /* 1: the image check fell back to production */
};

struct resolved_services {
	struct resolved_service *v; /* the config's order */
	size_t n;
};


struct resolve_opts {
	const struct prenv_config *cfg;
	const struct prenv_context *ctx;
	const char *const *envp;
	/* the image check for `prenv deploy`: resolve/image_check.h's
	 * image_check_service and its checker (the tool sets both); NULL:
	 * images are not checked (render, status) */
	int (*check_image)(const struct resolve_opts *o, struct resolved_service *svc,
			   const cJSON *vars, char **img, struct prenv_err *err);
	struct image_checker *images;
	/* called once per repository asked (may be NULL): url, seconds taken */
	void (*on_asked)(void *ud, const char *url, double seconds);
	void *ud;
};

/* The pure decision for svc (of another repository) from its repository's
 * refs: real at refs/heads/<want> when there (want may be NULL: never),
 * else virtual at the production branch. PRENV_EFAIL when neither exists
 * (naming both and the branches it has). */
int resolve_decide(struct resolved_service *svc, const struct prenv_git_refs *refs,
		   const char *want, struct prenv_err *err);

/* One ls-remote of url for service name, with its host's token only; an
 * error names the service, the repository and the token it needs. */
int resolve_ask(const struct resolve_opts *o, const char *name, const char *url,
		struct prenv_git_refs **refs, struct prenv_err *err);

/* Resolves every service of o->cfg (NULL *out and 0 when it has none). */
int resolve_services(struct resolved_services **out, const struct resolve_opts *o,
		     struct prenv_err *err);
void resolve_services_free(struct resolved_services *rs);

/* The one place a service's final image is settled: renders its `image:`
 * template with vars (which hold service.* and services.*), into
 * svc->image; an image check or a pin to a digest belongs here too. No
 * image template: svc->image stays NULL. PRENV_ECONFIG at the template's
 * position in the config when it does not render. */
int resolve_service_image(const struct resolve_opts *o, struct resolved_service *svc,
			  const cJSON *vars, struct prenv_err *err);

/* services.<name> of the templates for svc: name, repo, repo_name, branch,
 * sha, short_sha, virtual, from_branch, image. Caller frees. */
cJSON *resolve_service_json(const struct resolved_service *svc);

/* Hands rs to the plan: renders every image (resolve_service_image), sets
 * plan->vars.services, plan->services, plan->service_repos and marks
 * services.<name>.branch untrusted. */
int resolve_apply(const struct resolved_services *rs, const struct resolve_opts *o,
		  struct prenv_plan *plan, struct prenv_err *err);

/* plan->service_repos from the config alone (no network): owner/name of
 * this repository and of every service's `repo:`. Nothing without
 * services. -1 when out of memory. */
int resolve_repos(struct prenv_plan *plan, const struct prenv_config *cfg,
		  const struct prenv_context *ctx);

/* The variables for the templates of service i: a copy of the plan's with
 * `service` set to services.<name>. Caller frees; NULL when out of memory. */
cJSON *resolve_service_vars(const struct prenv_plan *plan, const char *name);

#endif
