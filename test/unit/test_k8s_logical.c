/* test_k8s_logical.c - a logical environment's objects on Kubernetes
 * (providers/kubernetes/k8s_logical.c, no network): the ExternalName alias
 * of each borrowed Service (name, ports, labels, the target computed from
 * the baseline's namespace), and the deployed objects that cannot go with
 * them (an Ingress routing to a borrowed Service, in both API forms; a
 * Service with a borrowed one's name). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "kubernetes/k8s_int.h"
#include "provider.h"
#include "util/err.h"

static cJSON *parse(const char *s)
{
	cJSON *j = cJSON_Parse(s);

	assert_non_null(j);
	return j;
}

static const char BORROWED[] =
	"[{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"api\"}},"
	" {\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"api\",\"labels\":"
	"  {\"prenv.dev/service\":\"api\",\"prenv.dev/app\":\"shop\",\"team\":\"core\"}},"
	"  \"spec\":{\"selector\":{\"app\":\"api\"},\"clusterIP\":\"None\",\"ports\":["
	"   {\"name\":\"http\",\"port\":80,\"targetPort\":8080,\"protocol\":\"TCP\"},"
	"   {\"name\":\"grpc\",\"port\":9090,\"appProtocol\":\"grpc\",\"nodePort\":30001}]}},"
	" {\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"Ingress\",\"metadata\":{\"name\":\"api\"}},"
	" {\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"api\"}}]";

static void aliases(void **state)
{
	cJSON *borrowed = parse(BORROWED);
	cJSON *deployed = parse("[{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"web\"}}]");
	struct provider_logical lg = { "staging", "shop-staging", borrowed, NULL };
	struct prenv_err err = PRENV_ERR_INIT;
	cJSON *out = NULL, *a;
	char *text;

	(void)state;
	assert_int_equal(0, k8s_logical_objects(&out, deployed, &lg, "cluster.local", &err));
	/* the deployed object, then one alias: only the Service is aliased */
	assert_int_equal(2, cJSON_GetArraySize(out));
	assert_string_equal("web", k8s_str(cJSON_GetArrayItem(out, 0), "metadata.name"));
	a = cJSON_GetArrayItem(out, 1);
	text = cJSON_PrintUnformatted(a);
	assert_string_equal(text,
			    "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"api\","
			    "\"labels\":{\"prenv.dev/service\":\"api\",\"prenv.dev/app\":\"shop\",\"team\":\"core\","
			    "\"prenv.dev/borrowed\":\"true\"},\"annotations\":{\"prenv.dev/baseline\":\"staging\"}},"
			    "\"spec\":{\"type\":\"ExternalName\",\"externalName\":"
			    "\"api.shop-staging.svc.cluster.local\",\"ports\":["
			    "{\"name\":\"http\",\"port\":80,\"protocol\":\"TCP\"},"
			    "{\"name\":\"grpc\",\"port\":9090,\"appProtocol\":\"grpc\"}]}}");
	free(text);
	cJSON_Delete(out);
	/* another cluster domain; no deployed objects at all */
	assert_int_equal(0, k8s_logical_objects(&out, NULL, &lg, "corp.internal", &err));
	assert_int_equal(1, cJSON_GetArraySize(out));
	assert_string_equal("api.shop-staging.svc.corp.internal",
			    k8s_str(cJSON_GetArrayItem(out, 0), "spec.externalName"));
	cJSON_Delete(out);
	cJSON_Delete(deployed);
	cJSON_Delete(borrowed);
}

struct bad {
	const char *what;
	const char *deployed;
	const char *want;
};

static const struct bad bads[] = {
	{ "an Ingress rule to a borrowed Service (networking.k8s.io/v1)",
	  "[{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"Ingress\",\"metadata\":{\"name\":\"web\"},"
	  "\"spec\":{\"rules\":[{\"http\":{\"paths\":[{\"backend\":{\"service\":{\"name\":\"web\"}}},"
	  "{\"backend\":{\"service\":{\"name\":\"api\"}}}]}}]}}]",
	  "ingress/web: routes to service api, which this preview borrows from the baseline staging" },
	{ "the default backend",
	  "[{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"Ingress\",\"metadata\":{\"name\":\"web\"},"
	  "\"spec\":{\"defaultBackend\":{\"service\":{\"name\":\"api\"}}}}]",
	  "routes to service api" },
	{ "the older serviceName form",
	  "[{\"apiVersion\":\"networking.k8s.io/v1beta1\",\"kind\":\"Ingress\",\"metadata\":{\"name\":\"w\"},"
	  "\"spec\":{\"rules\":[{\"http\":{\"paths\":[{\"backend\":{\"serviceName\":\"api\"}}]}}]}}]",
	  "routes to service api" },
	{ "a deployed Service with a borrowed one's name",
	  "[{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"api\"}}]",
	  "service/api: a deployed service defines Service api, and so does a borrowed one" },
};

static void refused(void **state)
{
	cJSON *borrowed = parse(BORROWED);
	struct provider_logical lg = { "staging", "shop-staging", borrowed, NULL };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		cJSON *deployed = parse(bads[i].deployed), *out = (cJSON *)(uintptr_t)1;
		struct prenv_err err = PRENV_ERR_INIT;
		int rc = k8s_logical_objects(&out, deployed, &lg, "cluster.local", &err);

		if (rc != PRENV_ECONFIG || out || !err.msg || !strstr(err.msg, bads[i].want))
			print_error("%s: rc %d: %s\n", bads[i].what, rc, err.msg ? err.msg : "(none)");
		assert_int_equal(PRENV_ECONFIG, rc);
		assert_null(out);
		assert_non_null(strstr(err.msg, bads[i].want));
		prenv_err_clear(&err);
		cJSON_Delete(deployed);
	}
	cJSON_Delete(borrowed);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(aliases),
		cmocka_unit_test(refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
