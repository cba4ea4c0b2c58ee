/* image_check.c - a service's image check (see image_check.h). */
#include "resolve/image_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "context/ci.h"
#include "render/tmpl.h"
#include "resolve/registry.h"
#include "resolve/services.h"
#include "util/git.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/http.h"
#include "util/log.h"

struct image_checker {
	const char *const *envp;
	double start_ms;
	struct http_client *http;   /* made at the first check */
	struct registry *reg;
};

void image_check_keys_read(const cJSON *keys, struct image_check_keys *out)
{
	const cJSON *w = cJSON_GetObjectItemCaseSensitive(keys, "image_wait");
	const char *m = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(keys, "on_missing"));

	out->enabled = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(keys, "image_check"));
	out->wait_ms = cJSON_IsNumber(w) ? (long)w->valuedouble * 1000L : 600000L;
	out->production = m && !strcmp(m, "production");
}

int image_checker_new(struct image_checker **out, const char *const *envp,
		      struct prenv_err *err)
{
	struct image_checker *ic = calloc(1, sizeof(*ic));

	*out = NULL;
	if (!ic)
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	ic->envp = envp;
	ic->start_ms = fs_now_ms();
	*out = ic;
	return 0;
}

void image_checker_free(struct image_checker *ic)
{
	if (!ic)
		return;
	registry_free(ic->reg);
	http_client_free(ic->http);
	free(ic);
}

static int connect_lazily(struct image_checker *ic, struct prenv_err *err)
{
	struct http_client_opts ho = { .user_agent_extra = "image-check" };
	struct registry_opts ro = { .envp = ic->envp };
	int rc;

	if (ic->reg)
		return 0;
	rc = http_client_new(&ic->http, &ho, err);
	if (!rc)
		rc = registry_new(&ic->reg, ic->http, &ro, err);
	return rc;
}

/* The check of one image; the fallback is production, else made by fn. */
static int run_check(struct image_checker *ic, const char *service, const cJSON *keys,
		     const char *image, const char *production,
		     int (*fn)(void *, char **, const char **, struct prenv_err *), void *ud,
		     char **out, int *fell_back, struct prenv_err *err)
{
	struct image_check_keys k;
	struct registry_result res = REGISTRY_RESULT_INIT;
	struct prenv_buf what = PRENV_BUF_INIT;
	struct registry_check chk;
	int rc;

	*out = NULL;
	*fell_back = 0;
	image_check_keys_read(keys, &k);
	if (!k.enabled) {
		*out = strdup(image);
		return *out ? 0 : prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	}
	rc = connect_lazily(ic, err);
	if (rc)
		return rc;
	prenv_buf_printf(&what, "service %s", service);
	if (what.failed)
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	chk = (struct registry_check){ .image = image, .wait_ms = k.wait_ms,
				       .fallback = k.production ? production : NULL,
				       .fallback_fn = k.production && !production ? fn : NULL,
				       .fallback_ud = ud, .what = what.ptr };
	rc = registry_resolve(ic->reg, &chk, ic->start_ms, &res, err);
	if (!rc) {
		if (res.digest)
			log_info("service %s: image %s", service, res.image);
		*out = res.image;
		*fell_back = res.fell_back;
		res.image = NULL;
	}
	registry_result_free(&res);
	prenv_buf_free(&what);
	return rc;
}

static int no_production(void *ud, char **image, const char **why, struct prenv_err *err)
{
	(void)ud;
	(void)err;
	*image = NULL;
	*why = "no production image was given";
	return 0;
}

int image_checker_run(struct image_checker *ic, const char *service, const cJSON *keys,
		      const char *image, const char *production, char **out, int *fell_back,
		      struct prenv_err *err)
{
	return run_check(ic, service, keys, image, production, no_production, NULL, out, fell_back,
			 err);
}

/* ---- a service of `services:` ---- */

struct prod_ctx {
	const struct resolve_opts *o;
	struct resolved_service *svc;
	const cJSON *vars;
};

/* This repository's production branch head, asked from its URL (the
 * context's repository URL) when the service is this repository's. 0 with
 * *why set when it cannot be known. */
static int production_here(const struct prod_ctx *p, const char **why, struct prenv_err *err)
{
	struct resolved_service *svc = p->svc;
	const char *url = p->o->ctx ? p->o->ctx->repo_url : NULL, *prod;
	struct prenv_git_refs *refs = NULL;
	const struct prenv_git_ref *r = NULL;
	struct prenv_buf name = PRENV_BUF_INIT;
	int rc;

	if (!url || !*url) {
		*why = "this repository's URL is unknown, so its production branch is too "
		       "(set PRENV_REPO_URL)";
		return 0;
	}
	if ((rc = resolve_ask(p->o, svc->cfg->name, url, &refs, err)) < 0)
		return rc;
	prod = svc->cfg->production_branch;
	if (!prod && refs->head && !strncmp(refs->head, "refs/heads/", 11))
		prod = refs->head + 11;
	if (prod)
		prenv_buf_printf(&name, "refs/heads/%s", prod);
	if (prod && !name.failed)
		r = prenv_git_refs_find(refs, name.ptr);
	if (r && (svc->prod_branch = strdup(prod)))
		snprintf(svc->prod_sha, sizeof(svc->prod_sha), "%s", r->id);
	else
		*why = "this repository has no production branch to deploy (set "
		       "production_branch)";
	prenv_buf_free(&name);
	prenv_git_refs_free(refs);
	return 0;
}

/* obj's service-like fields set to the production branch's head. */
static void as_production(cJSON *obj, const struct resolved_service *svc)
{
	char short_sha[8];

	if (!cJSON_IsObject(obj))
		return;
	snprintf(short_sha, sizeof short_sha, "%.7s", svc->prod_sha);
	cJSON_ReplaceItemInObjectCaseSensitive(obj, "branch", cJSON_CreateString(svc->prod_branch));
	cJSON_ReplaceItemInObjectCaseSensitive(obj, "sha", cJSON_CreateString(svc->prod_sha));
	cJSON_ReplaceItemInObjectCaseSensitive(obj, "short_sha", cJSON_CreateString(short_sha));
	cJSON_ReplaceItemInObjectCaseSensitive(obj, "virtual", cJSON_CreateTrue());
	cJSON_ReplaceItemInObjectCaseSensitive(obj, "from_branch",
					       cJSON_CreateString(svc->prod_branch));
}

/* The production image: the service's image template rendered as its
 * production branch's head. */
static int make_production(void *ud, char **image, const char **why, struct prenv_err *err)
{
	const struct prod_ctx *p = ud;
	struct resolved_service *svc = p->svc;
	cJSON *vars;
	int rc;

	*image = NULL;
	if (svc->virtual_) {
		*why = "the service is virtual: its image is the production image already";
		return 0;
	}
	if (!svc->prod_sha[0] && !svc->cfg->repo && (rc = production_here(p, why, err)) < 0)
		return rc;
	if (!svc->prod_sha[0]) {
		if (!*why)
			*why = "its repository has no production branch";
		return 0;
	}
	if (!(vars = cJSON_Duplicate(p->vars, 1)))
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	as_production(cJSON_GetObjectItemCaseSensitive(vars, "service"), svc);
	as_production(cJSON_GetObjectItemCaseSensitive(
			      cJSON_GetObjectItemCaseSensitive(vars, "services"), svc->cfg->name), svc);
	*image = tmpl_render_string(svc->cfg->image, vars, p->o->cfg->path, err);
	cJSON_Delete(vars);
	if (!*image)
		return err->code ? err->code : PRENV_ECONFIG;
	log_verbose("service %s: its production image is %s (%s at %.12s)", svc->cfg->name, *image,
		    svc->prod_branch, svc->prod_sha);
	return 0;
}

int image_check_service(const struct resolve_opts *o, struct resolved_service *svc,
			const cJSON *vars, char **img, struct prenv_err *err)
{
	struct prod_ctx p = { o, svc, vars };
	char *final = NULL;
	int rc, fell = 0;

	rc = run_check(o->images, svc->cfg->name, svc->cfg->keys, *img, NULL, make_production, &p,
		       &final, &fell, err);
	if (rc < 0)
		return rc;
	free(*img);
	*img = final;
	svc->image_fell_back = fell;
	return 0;
}
