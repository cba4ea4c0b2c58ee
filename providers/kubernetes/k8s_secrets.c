/* k8s_secrets.c - the Secrets of the config's `secrets:` and `access:`
 * and the basic-auth annotations of the environment's Ingresses.
 *
 * The core hands the checked values in (run->secrets); this file makes
 * the Kubernetes objects: an Opaque Secret of the CI variables, a
 * kubernetes.io/dockerconfigjson Secret, and an Opaque Secret holding the
 * htpasswd line under "auth" (ingress-nginx's auth-file key) and "users"
 * (Traefik's basicAuth key). They are applied with the rendered objects
 * (server-side apply, prenv's labels) and pruned like them; `render` never
 * sees them.
 */
#include "kubernetes/k8s_int.h"

#include <string.h>

#include "util/base64.h"
#include "util/names.h"

#define ANN_NGINX "nginx.ingress.kubernetes.io/"

static int oom(struct prenv_err *err)
{
	return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
}

/* Adds key: base64(value) to data. */
static int add_b64(cJSON *data, const char *key, const char *value)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	int ok;

	base64_encode(&b, value, strlen(value));
	ok = !b.failed && cJSON_AddStringToObject(data, key, b.ptr);
	prenv_buf_free(&b);
	return ok ? 0 : -1;
}

/* A Secret of type with prenv's labels and an empty data (*data). */
static cJSON *secret_new(const struct k8s_env *env, const char *name, const char *type,
			 cJSON **data)
{
	cJSON *o = cJSON_CreateObject(), *meta, *labels;

	if (!o || !cJSON_AddStringToObject(o, "apiVersion", "v1") ||
	    !cJSON_AddStringToObject(o, "kind", "Secret") ||
	    !(meta = cJSON_AddObjectToObject(o, "metadata")) ||
	    !cJSON_AddStringToObject(meta, "name", name) ||
	    !(labels = cJSON_AddObjectToObject(meta, "labels")) ||
	    !cJSON_AddStringToObject(labels, PRENV_LABEL_MANAGED, PRENV_MANAGED_BY) ||
	    !cJSON_AddStringToObject(labels, PRENV_LABEL_APP, env->app) ||
	    !cJSON_AddStringToObject(labels, PRENV_LABEL_ENV, env->env) ||
	    !cJSON_AddStringToObject(o, "type", type) || !(*data = cJSON_AddObjectToObject(o, "data"))) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* A rendered Secret of the same name would be applied twice. */
static int clash(const cJSON *objects, const char *name, const char *key, struct prenv_err *err)
{
	const cJSON *o;

	cJSON_ArrayForEach(o, objects) {
		const char *k = k8s_str(o, "kind"), *n = k8s_str(o, "metadata.name");

		if (k && n && !strcmp(k, "Secret") && !strcmp(n, name))
			return k8s_obj_err(err, PRENV_ECONFIG, o, "the configuration's %s writes Secret "
					   "%s itself; remove it from the templates or name it otherwise",
					   key, name);
	}
	return 0;
}

/* Appends an empty Secret (*data: its data) unless a template has one of
 * that name. what: the config key that asks for it. */
static int add_secret(cJSON *arr, const cJSON *objects, const struct k8s_env *env, const char *name,
		      const char *what, const char *type, cJSON **data, struct prenv_err *err)
{
	cJSON *o;
	int rc;

	if ((rc = clash(objects, name, what, err)) < 0)
		return rc;
	if (!(o = secret_new(env, name, type, data)))
		return oom(err);
	cJSON_AddItemToArray(arr, o);
	return 0;
}

static int add_secrets(cJSON *arr, const cJSON *objects, const cJSON *sec, const struct k8s_env *env,
		       struct prenv_err *err)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(sec, "env");
	const cJSON *ip = cJSON_GetObjectItemCaseSensitive(sec, "image_pull");
	const cJSON *ba = cJSON_GetObjectItemCaseSensitive(sec, "basic_auth"), *v;
	cJSON *data;
	int rc;

	if (e) {
		if ((rc = add_secret(arr, objects, env, k8s_str(e, "name"), "secrets.name", "Opaque",
				     &data, err)) < 0)
			return rc;
		cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(e, "data"))
			if (add_b64(data, v->string, v->valuestring) < 0)
				return oom(err);
	}
	if (ip && ((rc = add_secret(arr, objects, env, k8s_str(ip, "name"), "secrets.image_pull",
				    "kubernetes.io/dockerconfigjson", &data, err)) < 0 ||
		   (rc = add_b64(data, ".dockerconfigjson", k8s_str(ip, "dockerconfigjson"))) < 0))
		return rc == PRENV_ECONFIG ? rc : oom(err);
	/* "auth": ingress-nginx's auth-file key; "users": Traefik's basicAuth */
	if (ba && ((rc = add_secret(arr, objects, env, k8s_str(ba, "secret"), "access.basic_auth",
				    "Opaque", &data, err)) < 0 ||
		   (rc = add_b64(data, "auth", k8s_str(ba, "htpasswd"))) < 0 ||
		   (rc = add_b64(data, "users", k8s_str(ba, "htpasswd"))) < 0))
		return rc == PRENV_ECONFIG ? rc : oom(err);
	return 0;
}

static int set_annotation(cJSON *ann, const char *key, const char *value)
{
	cJSON_DeleteItemFromObjectCaseSensitive(ann, key);
	return cJSON_AddStringToObject(ann, key, value) ? 0 : -1;
}

/* ingress-nginx's basic authentication on an Ingress (networking.k8s.io
 * or the old extensions group): what the templates set is replaced. */
static int protect_ingress(cJSON *o, const cJSON *ba)
{
	cJSON *meta = cJSON_GetObjectItemCaseSensitive(o, "metadata"), *ann;

	if (!cJSON_IsObject(meta))
		return 0;
	ann = cJSON_GetObjectItemCaseSensitive(meta, "annotations");
	if (!cJSON_IsObject(ann)) {
		cJSON_DeleteItemFromObjectCaseSensitive(meta, "annotations");
		if (!(ann = cJSON_AddObjectToObject(meta, "annotations")))
			return -1;
	}
	if (set_annotation(ann, ANN_NGINX "auth-type", "basic") < 0 ||
	    set_annotation(ann, ANN_NGINX "auth-secret", k8s_str(ba, "secret")) < 0 ||
	    set_annotation(ann, ANN_NGINX "auth-secret-type", "auth-file") < 0 ||
	    set_annotation(ann, ANN_NGINX "auth-realm", k8s_str(ba, "realm")) < 0)
		return -1;
	return 0;
}

int k8s_secrets_objects(cJSON **out, const cJSON *objects, const cJSON *secrets,
			const struct k8s_env *env, struct prenv_err *err)
{
	const cJSON *ba = cJSON_GetObjectItemCaseSensitive(secrets, "basic_auth");
	cJSON *arr, *o;
	int rc;

	*out = NULL;
	if (!secrets)
		return 0;
	if (!(arr = objects ? cJSON_Duplicate(objects, 1) : cJSON_CreateArray()))
		return oom(err);
	cJSON_ArrayForEach(o, arr) {
		const char *kind = k8s_str(o, "kind"), *av = k8s_str(o, "apiVersion");

		if (ba && kind && av && !strcmp(kind, "Ingress") &&
		    (!strncmp(av, "networking.k8s.io/", 18) || !strncmp(av, "extensions/", 11)) &&
		    protect_ingress(o, ba) < 0) {
			cJSON_Delete(arr);
			return oom(err);
		}
	}
	if ((rc = add_secrets(arr, objects, secrets, env, err)) < 0) {
		cJSON_Delete(arr);
		return rc;
	}
	*out = arr;
	return 0;
}
