/* k8s_logical.c - a logical environment on Kubernetes (issue 13): the
 * services the change touched are deployed as usual; every Service a
 * borrowed service's templates define becomes, in the preview's namespace,
 * a Service of type ExternalName with the same name and ports pointing at
 * <name>.<baseline namespace>.svc.<cluster domain>, so the deployed services
 * reach the baseline's copy under the name they always use. The baseline
 * must exist (its namespace carries prenv's labels for this app and the
 * baseline environment) before anything is written. The aliases carry
 * prenv's labels, prenv.dev/service and prenv.dev/borrowed=true: the
 * deploy's prune and destroy treat them like any other object.
 */
#include "kubernetes/k8s_int.h"
#include "provider.h"

#include <string.h>

#include "util/log.h"
#include "util/names.h"

static int is_service(const cJSON *o)
{
	const char *av = k8s_str(o, "apiVersion"), *kind = k8s_str(o, "kind");

	return av && kind && !strcmp(av, "v1") && !strcmp(kind, "Service");
}

/* The ports of an alias: name, port, protocol, appProtocol of each
 * (targetPort and nodePort mean nothing for a DNS name). */
static cJSON *alias_ports(const cJSON *svc)
{
	static const char *const keep[] = { "name", "port", "protocol", "appProtocol" };
	const cJSON *p, *v;
	cJSON *ports = cJSON_CreateArray(), *q;
	size_t i;

	cJSON_ArrayForEach(p, k8s_item(svc, "spec.ports")) {
		if (!(q = cJSON_CreateObject()))
			break;
		for (i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
			if ((v = cJSON_GetObjectItemCaseSensitive(p, keep[i])))
				cJSON_AddItemToObject(q, keep[i], cJSON_Duplicate(v, 0));
		cJSON_AddItemToArray(ports, q);
	}
	return ports;
}

/* The ExternalName Service standing for svc (a borrowed service's Service).
 * The target is computed here from the baseline's namespace, never taken
 * from the templates. */
static cJSON *alias_of(const cJSON *svc, const struct provider_logical *lg, const char *domain)
{
	const char *name = k8s_str(svc, "metadata.name");
	const cJSON *given = k8s_item(svc, "metadata.labels");
	struct prenv_buf fqdn = PRENV_BUF_INIT;
	cJSON *o = cJSON_CreateObject(), *meta, *labels, *spec;

	prenv_buf_printf(&fqdn, "%s.%s.svc.%s", name, lg->baseline_ns, domain);
	cJSON_AddStringToObject(o, "apiVersion", "v1");
	cJSON_AddStringToObject(o, "kind", "Service");
	meta = cJSON_AddObjectToObject(o, "metadata");
	cJSON_AddStringToObject(meta, "name", name);
	/* the rendered Service's labels: prenv's (app, env, service, ...) and
	 * the template's own */
	labels = cJSON_IsObject(given) ? cJSON_Duplicate(given, 1) : cJSON_CreateObject();
	cJSON_AddItemToObject(meta, "labels", labels);
	cJSON_DeleteItemFromObjectCaseSensitive(labels, PRENV_LABEL_BORROWED);
	cJSON_AddStringToObject(labels, PRENV_LABEL_BORROWED, "true");
	cJSON_AddStringToObject(cJSON_AddObjectToObject(meta, "annotations"), PRENV_LABEL_BASELINE,
				lg->baseline);
	spec = cJSON_AddObjectToObject(o, "spec");
	cJSON_AddStringToObject(spec, "type", "ExternalName");
	cJSON_AddStringToObject(spec, "externalName", fqdn.ptr ? fqdn.ptr : "");
	if (cJSON_GetArraySize(k8s_item(svc, "spec.ports")))
		cJSON_AddItemToObject(spec, "ports", alias_ports(svc));
	prenv_buf_free(&fqdn);
	return o;
}

/* The name of the first backend of an Ingress that names a service of
 * names (networking.k8s.io/v1 and the older serviceName form), or NULL. */
static const char *backend_in(const cJSON *ing, const cJSON *names)
{
	static const char *const paths[] = { "spec.defaultBackend.service.name", "spec.backend.serviceName" };
	const cJSON *rule, *p, *n;
	const char *s;
	size_t i;

	cJSON_ArrayForEach(n, names) {
		for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
			if ((s = k8s_str(ing, paths[i])) && !strcmp(s, n->valuestring))
				return n->valuestring;
		cJSON_ArrayForEach(rule, k8s_item(ing, "spec.rules"))
			cJSON_ArrayForEach(p, k8s_item(rule, "http.paths")) {
				s = k8s_str(p, "backend.service.name");
				if (!s)
					s = k8s_str(p, "backend.serviceName");
				if (s && !strcmp(s, n->valuestring))
					return n->valuestring;
			}
	}
	return NULL;
}

/* The deployed objects may not clash with an alias nor route to one. */
static int check_deployed(const cJSON *objects, const cJSON *names, const struct provider_logical *lg,
			  struct prenv_err *err)
{
	const cJSON *o, *n;
	const char *kind, *hit;

	cJSON_ArrayForEach(o, objects) {
		kind = k8s_str(o, "kind");
		if (kind && !strcmp(kind, "Ingress") && (hit = backend_in(o, names)))
			return k8s_obj_err(err, PRENV_ECONFIG, o, "routes to service %s, which this preview "
					   "borrows from the baseline %s (namespace %s): an Ingress cannot "
					   "route into another namespace; move the Ingress into the templates "
					   "of the service it routes to, or list that service's paths so that "
					   "it is deployed", hit, lg->baseline, lg->baseline_ns);
		if (!is_service(o))
			continue;
		cJSON_ArrayForEach(n, names)
			if (k8s_str(o, "metadata.name") && !strcmp(k8s_str(o, "metadata.name"), n->valuestring))
				return k8s_obj_err(err, PRENV_ECONFIG, o, "a deployed service defines Service "
						   "%s, and so does a borrowed one (%s); give one of them another "
						   "name", n->valuestring, lg->baseline);
	}
	return 0;
}

int k8s_logical_objects(cJSON **out, const cJSON *objects, const struct provider_logical *lg,
			const char *domain, struct prenv_err *err)
{
	cJSON *all = NULL, *names = cJSON_CreateArray();
	const cJSON *o;
	int rc = 0;

	*out = NULL;
	if (!names)
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	cJSON_ArrayForEach(o, lg->borrowed)
		if (is_service(o) && k8s_str(o, "metadata.name"))
			cJSON_AddItemToArray(names, cJSON_CreateString(k8s_str(o, "metadata.name")));
	if ((rc = check_deployed(objects, names, lg, err)) < 0)
		goto done;
	if (!(all = objects ? cJSON_Duplicate(objects, 1) : cJSON_CreateArray())) {
		rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
		goto done;
	}
	cJSON_ArrayForEach(o, lg->borrowed)
		if (is_service(o) && k8s_str(o, "metadata.name"))
			cJSON_AddItemToArray(all, alias_of(o, lg, domain));
	*out = all;
done:
	cJSON_Delete(names);
	return rc;
}

int k8s_logical_baseline(struct k8s_client *k, const struct k8s_env *env,
			 const struct provider_logical *lg, struct prenv_err *err)
{
	static const struct k8s_mapping ns_m = { (char *)"", (char *)"v1", (char *)"Namespace",
						 (char *)"namespaces", 0 };
	struct prenv_buf url = PRENV_BUF_INIT;
	cJSON *ns = NULL;
	const char *m, *a, *e;
	int rc;

	k8s_url(k, &url, &ns_m, NULL, lg->baseline_ns, NULL);
	rc = k8s_get_json(k, url.ptr, &ns, err);
	prenv_buf_free(&url);
	if (rc == PRENV_ENOTFOUND) {
		prenv_err_clear(err);
		return prenv_err_set(err, PRENV_ECONFIG, "the baseline environment %s (namespace %s) does "
				     "not exist, so this logical environment has nothing to borrow from; "
				     "deploy %s first (logical.baseline in the config), or write `logical: "
				     "false` in this rule for a full copy; nothing was changed", lg->baseline,
				     lg->baseline_ns, lg->baseline);
	}
	if (rc < 0)
		return prenv_err_prefix(err, "read the baseline's namespace %s", lg->baseline_ns), rc;
	m = k8s_label(ns, PRENV_LABEL_MANAGED);
	a = k8s_label(ns, PRENV_LABEL_APP);
	e = k8s_label(ns, PRENV_LABEL_ENV);
	if (!m || strcmp(m, PRENV_MANAGED_BY) || !a || strcmp(a, env->app) || !e ||
	    strcmp(e, lg->baseline))
		rc = prenv_err_set(err, PRENV_ECONFIG, "namespace %s is not the baseline environment %s of "
				   "%s: it does not carry %s=prenv, %s=%s and %s=%s (prenv puts them on "
				   "the environments it deploys); deploy the baseline with prenv, or set "
				   "logical.namespace to its namespace; nothing was changed",
				   lg->baseline_ns, lg->baseline, env->app, PRENV_LABEL_MANAGED,
				   PRENV_LABEL_APP, env->app, PRENV_LABEL_ENV, lg->baseline);
	else if (k8s_annotation(ns, PRENV_ANN_ASLEEP_SINCE) && !env->quiet)
		log_warn("the baseline %s is asleep (since %s): the borrowed services answer once it is "
			 "woken (`prenv wake --env %s`)", lg->baseline, k8s_annotation(ns, PRENV_ANN_ASLEEP_SINCE),
			 lg->baseline);
	cJSON_Delete(ns);
	return rc;
}
