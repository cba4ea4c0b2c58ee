/* k8s_cost.c - what an environment requests (gc's and status' cost
 * figures): CPU and memory requests of its Deployments and StatefulSets,
 * summed over containers and multiplied by the replicas it runs now. */
#include "kubernetes/k8s_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/names.h"

int k8s_quantity(const char *s, double *out)
{
	static const struct { const char *suffix; double mult; } sfx[] = {
		{ "Ki", 1024.0 }, { "Mi", 1048576.0 }, { "Gi", 1073741824.0 },
		{ "Ti", 1099511627776.0 }, { "Pi", 1125899906842624.0 }, { "Ei", 1152921504606846976.0 },
		{ "n", 1e-9 }, { "u", 1e-6 }, { "m", 1e-3 }, { "k", 1e3 }, { "M", 1e6 }, { "G", 1e9 },
		{ "T", 1e12 }, { "P", 1e15 }, { "E", 1e18 },
	};
	char *end;
	double v;
	size_t i;

	if (!s || !*s || strchr(" \t+", *s))
		return -1;
	v = strtod(s, &end);
	if (end == s || !isfinite(v) || v < 0)
		return -1;
	if (!*end) {
		*out = v;
		return 0;
	}
	for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		if (!strcmp(end, sfx[i].suffix)) {
			*out = v * sfx[i].mult;
			return 0;
		}
	}
	return -1;
}

/* Requests of one pod template, added to cpu (cores) and mem (bytes). */
static void template_requests(const cJSON *o, double *cpu, double *mem)
{
	const cJSON *c;

	cJSON_ArrayForEach(c, k8s_item(o, "spec.template.spec.containers")) {
		const cJSON *req = k8s_item(c, "resources.requests");
		double v;

		if (k8s_quantity(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "cpu")), &v) == 0)
			*cpu += v;
		if (k8s_quantity(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "memory")), &v) == 0)
			*mem += v;
	}
}

/* Adds what items request to the entries of envs, by namespace. */
static void add_costs(cJSON *envs, const cJSON *items)
{
	const cJSON *o;

	cJSON_ArrayForEach(o, items) {
		const char *ns = k8s_str(o, "metadata.namespace");
		double cpu = 0, mem = 0, n = (double)k8s_num(o, "spec.replicas", 1);
		cJSON *e;

		template_requests(o, &cpu, &mem);
		cJSON_ArrayForEach(e, envs) {
			cJSON *jc = cJSON_GetObjectItemCaseSensitive(e, "cpu_millis");
			cJSON *jm = cJSON_GetObjectItemCaseSensitive(e, "memory_bytes");

			if (!ns || !jc || !jm || strcmp(ns, k8s_str(e, "namespace") ? k8s_str(e, "namespace") : ""))
				continue;
			cJSON_SetNumberValue(jc, jc->valuedouble + floor(cpu * 1000.0 * n + 0.5));
			cJSON_SetNumberValue(jm, jm->valuedouble + floor(mem * n + 0.5));
		}
	}
}

int k8s_env_costs(struct k8s_client *k, const char *app, cJSON *envs, struct prenv_err *err)
{
	static const char *const kinds[] = { "Deployment", "StatefulSet" };
	struct prenv_buf sel = PRENV_BUF_INIT;
	cJSON *e;
	size_t i;
	int rc = 0;

	cJSON_ArrayForEach(e, envs) {
		cJSON_AddNumberToObject(e, "cpu_millis", 0);
		cJSON_AddNumberToObject(e, "memory_bytes", 0);
	}
	prenv_buf_printf(&sel, "%s=%s,%s=%s", PRENV_LABEL_MANAGED, PRENV_MANAGED_BY, PRENV_LABEL_APP, app);
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]) && rc == 0; i++) {
		const struct k8s_mapping *m;
		cJSON *items = NULL;

		/* one list of the whole cluster per kind, not one per namespace */
		if ((rc = k8s_client_map(k, "apps/v1", kinds[i], &m, err)) == 0 &&
		    (rc = k8s_list(k, m, NULL, sel.ptr, NULL, &items, NULL, err)) == 0)
			add_costs(envs, items);
		cJSON_Delete(items);
	}
	if (rc < 0) {
		cJSON_ArrayForEach(e, envs) {
			cJSON_DeleteItemFromObjectCaseSensitive(e, "cpu_millis");
			cJSON_DeleteItemFromObjectCaseSensitive(e, "memory_bytes");
		}
	}
	prenv_buf_free(&sel);
	return rc;
}
