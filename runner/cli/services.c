/* services.c - the commands' side of `services:`: resolve each service's
 * branch, render each service's templates with its own service.*, label
 * what each renders; see cli.h */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/plan.h"
#include "context/ci.h"
#include "render/render.h"
#include "resolve/image_check.h"
#include "resolve/services.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"
#include "util/names.h"

static void asked(void *ud, const char *url, double seconds)
{
	(void)ud;
	log_verbose("ls-remote %s: %.3f s", url, seconds);
}

/* The image check of a deployed service; a borrowed one keeps its image
 * unchecked (it is not deployed). */
static int check_unless_borrowed(const struct resolve_opts *o, struct resolved_service *svc,
				 const cJSON *vars, char **img, struct prenv_err *err)
{
	const struct cli *cli = o->ud;

	if (!cli_logical_deployed(cli, (size_t)(svc->cfg - cli->cfg->services)))
		return 0;
	return image_check_service(o, svc, vars, img, err);
}

int cli_resolve_services(struct cli *cli, struct prenv_err *err)
{
	struct resolved_services *rs = NULL;
	struct resolve_opts o;
	int rc;

	if (!cli->cfg->nservices || cli->plan->services)
		return 0;
	/* a logical environment decides first: a borrowed service's image is
	 * never checked (nobody builds it for this change) */
	if ((rc = cli_logical_plan(cli, err)) < 0)
		return rc;
	memset(&o, 0, sizeof(o));
	o.cfg = cli->cfg;
	o.ctx = cli->ctx;
	o.envp = cli->envp;
	o.on_asked = asked;
	if (cli->image_check) {
		if ((rc = image_checker_new(&o.images, cli->envp, err)) < 0)
			return rc;
		o.check_image = cli->logical ? check_unless_borrowed : image_check_service;
		o.ud = cli;
	}
	if ((rc = resolve_services(&rs, &o, err)) == 0)
		rc = resolve_apply(rs, &o, cli->plan, err);
	resolve_services_free(rs);
	image_checker_free(o.images);
	return rc;
}

static cJSON *obj_map(cJSON *obj, const char *field)
{
	cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata"), *m;

	if (!cJSON_IsObject(meta))
		return NULL;
	m = cJSON_GetObjectItemCaseSensitive(meta, field);
	if (!m)
		m = cJSON_AddObjectToObject(meta, field);
	return cJSON_IsObject(m) ? m : NULL;
}

static void set_str(cJSON *map, const char *key, const char *v)
{
	if (!map || !v || !*v)
		return;
	cJSON_DeleteItemFromObjectCaseSensitive(map, key);
	cJSON_AddStringToObject(map, key, v);
}

/* One label-safe value and the full value as an annotation. */
static void set_both(cJSON *labels, cJSON *anns, const char *key, const char *v)
{
	char *slug = v && *v ? name_slug(v, NAME_LABEL_MAX) : NULL;

	set_str(labels, key, slug);
	set_str(anns, key, v);
	free(slug);
}

/* prenv.dev/service (and -repo, -branch, -sha) on every object of svc. */
static void label_objects(cJSON *objs, const cJSON *svc)
{
	const char *repo = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(svc, "repo_name"));
	cJSON *o;

	if (!repo)
		repo = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(svc, "repo"));
	cJSON_ArrayForEach(o, objs) {
		cJSON *labels = obj_map(o, "labels"), *anns = obj_map(o, "annotations");

		set_str(labels, PRENV_LABEL_SERVICE,
			cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(svc, "name")));
		set_both(labels, anns, PRENV_LABEL_SERVICE_REPO, repo);
		set_both(labels, anns, PRENV_LABEL_SERVICE_BRANCH,
			 cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(svc, "branch")));
		set_both(labels, anns, PRENV_LABEL_SERVICE_SHA,
			 cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(svc, "sha")));
	}
}

static const char *jstr(const cJSON *o, const char *a, const char *b)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);

	x = b ? cJSON_GetObjectItemCaseSensitive(x, b) : x;
	return cJSON_IsString(x) ? x->valuestring : "";
}

static int same_object(const cJSON *a, const cJSON *b)
{
	return !strcmp(jstr(a, "apiVersion", NULL), jstr(b, "apiVersion", NULL)) &&
	       !strcmp(jstr(a, "kind", NULL), jstr(b, "kind", NULL)) &&
	       !strcmp(jstr(a, "metadata", "namespace"), jstr(b, "metadata", "namespace")) &&
	       !strcmp(jstr(a, "metadata", "name"), jstr(b, "metadata", "name"));
}

/* Moves objs into all; two services rendering the same object is an error. */
static int merge_objects(cJSON *all, cJSON *objs, const char *name, struct prenv_err *err)
{
	cJSON *o, *p;

	cJSON_ArrayForEach(o, objs)
		cJSON_ArrayForEach(p, all)
			if (same_object(o, p)) {
				const char *src = render_object_source(o), *src2 = render_object_source(p);

				return prenv_err_set(err, PRENV_ECONFIG, "%s/%s is rendered twice: by "
						     "service '%s' (%s) and by service '%s' (%s); give "
						     "one of them another name", jstr(o, "kind", NULL),
						     jstr(o, "metadata", "name"), name, src ? src : "?",
						     jstr(cJSON_GetObjectItemCaseSensitive(p, "metadata"),
							  "labels", PRENV_LABEL_SERVICE),
						     src2 ? src2 : "?");
			}
	while (cJSON_GetArraySize(objs) > 0) {
		cJSON *it = cJSON_DetachItemFromArray(objs, 0);

		cJSON_AddItemToArray(all, it);
	}
	return 0;
}

/* plan->services' entry of service name. */
static const cJSON *resolved(const struct cli *cli, const char *name)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, cli->plan->services)
		if (!strcmp(jstr(e, "name", NULL), name))
			return e;
	return NULL;
}

int cli_render_service(struct cli *cli, const struct config_service *s, const cJSON *vars,
		       const char *const *open_names, cJSON *all, struct prenv_err *err)
{
	cJSON *v = cJSON_Duplicate(vars, 1), *objs = NULL;
	const cJSON *svc = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(v, "services"),
							    s->name);
	int rc;

	if (!v || (svc && !cJSON_AddItemToObject(v, "service", cJSON_Duplicate(svc, 1))))
		rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	else if ((rc = cli_render_dir(cli, s->templates, s->templates_line, s->templates_col, v, open_names,
				      &objs, err)) < 0)
		prenv_err_prefix(err, "service '%s'", s->name);
	if (rc == 0) {
		label_objects(objs, resolved(cli, s->name));
		rc = merge_objects(all, objs, s->name, err);
	}
	cJSON_Delete(objs);
	cJSON_Delete(v);
	return rc;
}

int cli_render_services(struct cli *cli, cJSON **out, struct prenv_err *err)
{
	cJSON *all = NULL;
	size_t i;
	int rc;

	*out = NULL;
	if ((rc = cli_resolve_services(cli, err)) < 0)
		return rc;
	if (!(all = cJSON_CreateArray()))
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	cli_logical_annotate(cli);
	/* a logical environment's borrowed services are rendered apart (their
	 * Services become aliases), never applied */
	for (i = 0; i < cli->cfg->nservices && rc == 0; i++)
		rc = cli_render_service(cli, &cli->cfg->services[i], cli->plan->vars, NULL,
					cli_logical_deployed(cli, i) ? all : cli_logical_borrowed(cli), err);
	if (rc < 0) {
		cJSON_Delete(all);
		return rc;
	}
	*out = all;
	return 0;
}
