/* test_k8s_deploy.c - install order, namespace rules, readiness and pod
 * failure detection of the kubernetes provider (no network). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "kubernetes/k8s_int.h"

static cJSON *parse(const char *s)
{
	cJSON *j = cJSON_Parse(s);

	assert_non_null(j);
	return j;
}

static void test_k8s_stage_helm_order(void **state)
{
	(void)state;
	assert_true(k8s_kind_stage("Namespace") < k8s_kind_stage("ServiceAccount"));
	assert_true(k8s_kind_stage("ServiceAccount") < k8s_kind_stage("Secret"));
	assert_true(k8s_kind_stage("Secret") < k8s_kind_stage("ConfigMap"));
	assert_true(k8s_kind_stage("ConfigMap") < k8s_kind_stage("PersistentVolumeClaim"));
	assert_true(k8s_kind_stage("CustomResourceDefinition") < k8s_kind_stage("Role"));
	assert_true(k8s_kind_stage("RoleBinding") < k8s_kind_stage("Service"));
	assert_true(k8s_kind_stage("Service") < k8s_kind_stage("Deployment"));
	assert_true(k8s_kind_stage("Deployment") < k8s_kind_stage("Job"));
	assert_true(k8s_kind_stage("Job") < k8s_kind_stage("Ingress"));
	assert_true(k8s_kind_stage("Ingress") < k8s_kind_stage("APIService"));
	assert_true(k8s_kind_stage("APIService") < k8s_kind_stage("Widget"));
	assert_int_equal(k8s_kind_stage("Widget"), k8s_kind_stage("Gadget"));
}

static const struct k8s_env ENV = { .app = "shop", .env = "pr-1", .ns = "shop-pr-1" };

static void test_k8s_prepare_orders_and_namespaces(void **state)
{
	cJSON *objs = parse("["
		"{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"Ingress\",\"metadata\":{\"name\":\"web\"}},"
		"{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"metadata\":{\"name\":\"w\"}},"
		"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\"}},"
		"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"b\"}},"
		"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\",\"namespace\":\"shop-pr-1\"}},"
		"{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"web\"}}]");
	static const char *const want[][3] = {
		{ "ConfigMap", "b", "shop-pr-1" }, { "ConfigMap", "a", "shop-pr-1" },
		{ "Service", "web", "shop-pr-1" },
		{ "Deployment", "web", "shop-pr-1" }, { "Ingress", "web", "shop-pr-1" },
		{ "Widget", "w", "shop-pr-1" },
	};
	struct prenv_err err = PRENV_ERR_INIT;
	cJSON *out = NULL, *o;
	size_t i = 0;

	(void)state;
	assert_int_equal(k8s_prepare(&out, objs, &ENV, NULL, &err), 0);
	assert_int_equal(cJSON_GetArraySize(out), 6);
	cJSON_ArrayForEach(o, out) {
		assert_string_equal(k8s_str(o, "kind"), want[i][0]);
		assert_string_equal(k8s_str(o, "metadata.name"), want[i][1]);
		if (want[i][2])
			assert_string_equal(k8s_str(o, "metadata.namespace"), want[i][2]);
		else
			assert_null(k8s_str(o, "metadata.namespace"));
		i++;
	}
	/* the input is not modified */
	assert_null(k8s_str(cJSON_GetArrayItem(objs, 3), "metadata.namespace"));
	cJSON_Delete(out);
	cJSON_Delete(objs);
}

static void test_k8s_prepare_namespace_errors(void **state)
{
	static const char *const bad[][2] = {
		{ "[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\",\"namespace\":\"kube-system\"}}]",
		  "names namespace 'kube-system'" },
		{ "[{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"other\"}}]",
		  "prenv creates the environment's namespace" },
		{ "[{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRole\",\"metadata\":{\"name\":\"r\",\"namespace\":\"x\"}}]",
		  "cluster-scoped" },
		/* cluster-scoped kinds are refused outright (destroy and gc could not delete them) */
		{ "[{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRole\",\"metadata\":{\"name\":\"r\"}}]",
		  "clusterrole/r: a cluster-scoped object" },
		{ "[{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRoleBinding\",\"metadata\":{\"name\":\"r\"}}]",
		  "manage it outside prenv" },
		{ "[{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"IngressClass\",\"metadata\":{\"name\":\"c\"}}]",
		  "ingressclass/c: a cluster-scoped object" },
		{ "[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{}}]", "lacks apiVersion, kind or metadata.name" },
	};
	struct k8s_env env = ENV;
	struct prenv_err err = PRENV_ERR_INIT;
	cJSON *allow = parse("[\"shared-infra\"]");
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cJSON *objs = parse(bad[i][0]), *out = NULL;

		assert_int_equal(k8s_prepare(&out, objs, &env, NULL, &err), PRENV_ECONFIG);
		assert_null(out);
		assert_non_null(strstr(err.msg, bad[i][1]));
		prenv_err_clear(&err);
		cJSON_Delete(objs);
	}
	/* allowed namespaces pass; the environment's own Namespace object is dropped */
	env.allow_namespaces = allow;
	{
		cJSON *objs = parse("[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\","
				    "\"namespace\":\"shared-infra\"}},{\"apiVersion\":\"v1\",\"kind\":\"Namespace\","
				    "\"metadata\":{\"name\":\"shop-pr-1\"}}]"), *out = NULL;

		assert_int_equal(k8s_prepare(&out, objs, &env, NULL, &err), 0);
		assert_int_equal(cJSON_GetArraySize(out), 1);
		assert_string_equal(k8s_str(cJSON_GetArrayItem(out, 0), "metadata.namespace"), "shared-infra");
		cJSON_Delete(out);
		cJSON_Delete(objs);
	}
	cJSON_Delete(allow);
}

/* Server-side apply on Kubernetes < 1.21 fails with HTTP 500 on a Service
 * port without protocol (kubernetes#98576): prepare sets the API's own
 * default, TCP, on every Service port and container port that lacks one,
 * in pods and in the pod templates of every workload kind. */
static void test_k8s_prepare_defaults_port_protocol(void **state)
{
	static const char *const paths[] = {
		"spec.ports", /* Service */
		"spec.template.spec.containers", "spec.template.spec.initContainers", /* Deployment */
		"spec.containers", /* Pod */
		"spec.jobTemplate.spec.template.spec.containers", /* CronJob */
		"spec.template.spec.containers", /* StatefulSet */
	};
	cJSON *objs = parse("["
		"{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"s\"},\"spec\":{\"ports\":"
		"[{\"port\":80},{\"port\":53,\"protocol\":\"UDP\"}]}},"
		"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"d\"},\"spec\":{\"template\":"
		"{\"spec\":{\"containers\":[{\"name\":\"c\",\"ports\":[{\"containerPort\":8080},"
		"{\"containerPort\":53,\"protocol\":\"UDP\"}]}],\"initContainers\":[{\"name\":\"i\",\"ports\":"
		"[{\"containerPort\":9}]}]}}}},"
		"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":"
		"[{\"name\":\"c\",\"ports\":[{\"containerPort\":1}]}]}},"
		"{\"apiVersion\":\"batch/v1\",\"kind\":\"CronJob\",\"metadata\":{\"name\":\"cj\"},\"spec\":"
		"{\"jobTemplate\":{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"c\",\"ports\":"
		"[{\"containerPort\":2}]}]}}}}}},"
		"{\"apiVersion\":\"apps/v1\",\"kind\":\"StatefulSet\",\"metadata\":{\"name\":\"ss\"},\"spec\":{\"template\":"
		"{\"spec\":{\"containers\":[{\"name\":\"c\",\"ports\":[{\"containerPort\":3}]}]}}}},"
		"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"cm\"},\"data\":{\"ports\":\"x\"}}]");
	struct prenv_err err = PRENV_ERR_INIT;
	cJSON *out = NULL, *o;
	const char *kinds[] = { "Service", "Deployment", "Deployment", "Pod", "CronJob", "StatefulSet" };
	size_t i;

	(void)state;
	assert_int_equal(k8s_prepare(&out, objs, &ENV, NULL, &err), 0);
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		const cJSON *list = NULL, *e, *p;

		cJSON_ArrayForEach(o, out)
			if (!strcmp(k8s_str(o, "kind"), kinds[i]))
				list = k8s_item(o, paths[i]);
		assert_non_null(list);
		cJSON_ArrayForEach(e, list) {
			const cJSON *ports = i == 0 ? list : k8s_item(e, "ports");

			cJSON_ArrayForEach(p, ports) {
				long port = k8s_num(p, i == 0 ? "port" : "containerPort", 0);

				assert_non_null(k8s_str(p, "protocol"));
				assert_string_equal(k8s_str(p, "protocol"), port == 53 ? "UDP" : "TCP");
			}
			if (i == 0)
				break;
		}
	}
	/* other kinds are left alone, and so is the input */
	cJSON_ArrayForEach(o, out)
		if (!strcmp(k8s_str(o, "kind"), "ConfigMap"))
			assert_string_equal(k8s_str(o, "data.ports"), "x");
	assert_null(k8s_item(cJSON_GetArrayItem(objs, 0), "spec.ports.protocol"));
	assert_null(k8s_str(cJSON_GetArrayItem(k8s_item(cJSON_GetArrayItem(objs, 0), "spec.ports"), 0), "protocol"));
	cJSON_Delete(out);
	cJSON_Delete(objs);
}

static char *read_fixture(const char *path, size_t *len)
{
	struct prenv_buf b = PRENV_BUF_INIT;

	assert_int_equal(prenv_buf_read_file(&b, path), 0);
	return prenv_buf_detach(&b, len);
}

/* API errors are cut to what a human needs: the bodies a real 1.20.2
 * kube-apiserver returned (test/fixtures/k8s-real/), Go struct dumps out. */
static void test_k8s_api_message_real_bodies(void **state)
{
	static const struct {
		const char *file;
		long status;
		const char *want;
	} cases[] = {
		{ "test/fixtures/k8s-real/job-immutable-422.json", 422,
		  "HTTP 422 Invalid: spec.template: field is immutable" },
		{ "test/fixtures/k8s-real/deployment-selector-422.json", 422,
		  "HTTP 422 Invalid: spec.selector: field is immutable" },
		{ "test/fixtures/k8s-real/service-no-protocol-500.json", 500,
		  "HTTP 500: failed to create typed patch object: .spec.ports: element 0: associative list with "
		  "keys has an element that omits key field \"protocol\" (and doesn't have default value)" },
	};
	size_t i, len;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct prenv_buf m = PRENV_BUF_INIT;
		char *body = read_fixture(cases[i].file, &len);

		assert_int_equal(k8s_api_message(&m, cases[i].status, body, len), 0);
		assert_string_equal(m.ptr, cases[i].want);
		prenv_buf_free(&m);
		free(body);
	}
}

static void test_k8s_api_message_shapes(void **state)
{
	static const struct {
		const char *body;
		int rc;
		const char *want;
	} cases[] = {
		/* no causes: the message, its dumps cut */
		{ "{\"kind\":\"Status\",\"message\":\"x: Invalid value: core.A{B:\\\"}{\\\", C:map[string]string{\\\"d\\\":\\\"e\\\"}}: "
		  "must be y\",\"reason\":\"Invalid\",\"code\":422}", 0, "HTTP 422 Invalid: x: must be y" },
		/* a quoted value is what a human needs: kept */
		{ "{\"kind\":\"Status\",\"reason\":\"Invalid\",\"code\":422,\"details\":{\"causes\":[{\"field\":"
		  "\"metadata.name\",\"message\":\"Invalid value: \\\"Web\\\": a lowercase RFC 1123 subdomain\"},"
		  "{\"field\":\"spec.x\",\"message\":\"Required value\"}]}}", 0,
		  "HTTP 422 Invalid: metadata.name: Invalid value: \"Web\": a lowercase RFC 1123 subdomain; "
		  "spec.x: Required value" },
		{ "{\"kind\":\"Status\",\"message\":\"ptr: Invalid value: (*int64)(0xc006247c90): bad\",\"code\":400}", 0,
		  "HTTP 400: ptr: bad" },
		/* not a Status: the caller keeps its own message */
		{ "<html>bad gateway</html>", -1, NULL },
		{ "{\"kind\":\"Deployment\"}", -1, NULL },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct prenv_buf m = PRENV_BUF_INIT;

		assert_int_equal(k8s_api_message(&m, 0, cases[i].body, strlen(cases[i].body)), cases[i].rc);
		if (cases[i].want)
			assert_string_equal(m.ptr, cases[i].want);
		prenv_buf_free(&m);
	}
}

static void test_k8s_api_hint(void **state)
{
	cJSON *job = parse("{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":\"m\"}}");
	cJSON *dep = parse("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"d\"}}");

	(void)state;
	assert_non_null(strstr(k8s_api_hint(job, "HTTP 422 Invalid: spec.template: field is immutable"),
			       "{{git.short_sha}}"));
	assert_non_null(strstr(k8s_api_hint(job, "HTTP 422 Invalid: spec.template: field is immutable"),
			       "provider.replace_jobs"));
	assert_non_null(strstr(k8s_api_hint(dep, "HTTP 422 Invalid: spec.selector: field is immutable"),
			       "cannot change"));
	assert_non_null(strstr(k8s_api_hint(dep, "HTTP 500: ... omits key field \"protocol\" ..."),
			       "kubernetes#98576"));
	assert_null(k8s_api_hint(dep, "HTTP 422 Invalid: spec.replicas: must be greater than or equal to 0"));
	cJSON_Delete(job);
	cJSON_Delete(dep);
}

static void test_k8s_readiness_table(void **state)
{
	static const struct {
		const char *obj;
		int want;
		const char *line;
	} cases[] = {
		{ "{\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\",\"generation\":2},\"spec\":{\"replicas\":2},"
		  "\"status\":{\"observedGeneration\":2,\"replicas\":2,\"updatedReplicas\":2,\"availableReplicas\":1}}",
		  0, "deployment/web 1/2 ready" },
		{ "{\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\",\"generation\":2},\"spec\":{\"replicas\":2},"
		  "\"status\":{\"observedGeneration\":2,\"replicas\":2,\"updatedReplicas\":2,\"availableReplicas\":2}}",
		  1, "deployment/web 2/2 ready" },
		/* the controller has not seen the new generation yet */
		{ "{\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\",\"generation\":3},\"spec\":{\"replicas\":1},"
		  "\"status\":{\"observedGeneration\":2,\"replicas\":1,\"updatedReplicas\":1,\"availableReplicas\":1}}",
		  0, "deployment/web 0/1 ready" },
		/* old replicas still terminating */
		{ "{\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\",\"generation\":1},\"spec\":{\"replicas\":1},"
		  "\"status\":{\"observedGeneration\":1,\"replicas\":2,\"updatedReplicas\":1,\"availableReplicas\":1}}",
		  0, "deployment/web 1/1 ready" },
		{ "{\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\",\"generation\":1},\"spec\":{\"replicas\":1},"
		  "\"status\":{\"observedGeneration\":1,\"conditions\":[{\"type\":\"Progressing\",\"status\":\"False\","
		  "\"reason\":\"ProgressDeadlineExceeded\",\"message\":\"ReplicaSet web-1 has timed out progressing.\"}]}}",
		  -1, "deployment/web failed" },
		{ "{\"kind\":\"StatefulSet\",\"metadata\":{\"name\":\"db\",\"generation\":1},\"spec\":{\"replicas\":3},"
		  "\"status\":{\"observedGeneration\":1,\"readyReplicas\":3,\"updatedReplicas\":3}}", 1,
		  "statefulset/db 3/3 ready" },
		{ "{\"kind\":\"DaemonSet\",\"metadata\":{\"name\":\"agent\",\"generation\":1},"
		  "\"status\":{\"observedGeneration\":1,\"desiredNumberScheduled\":2,\"updatedNumberScheduled\":2,"
		  "\"numberAvailable\":1}}", 0, "daemonset/agent 1/2 ready" },
		{ "{\"kind\":\"Job\",\"metadata\":{\"name\":\"migrate\"},\"status\":{\"conditions\":[{\"type\":\"Complete\","
		  "\"status\":\"True\"}]}}", 1, "job/migrate complete" },
		{ "{\"kind\":\"Job\",\"metadata\":{\"name\":\"migrate\"},\"status\":{\"failed\":4,\"conditions\":[{\"type\":"
		  "\"Failed\",\"status\":\"True\",\"reason\":\"BackoffLimitExceeded\",\"message\":\"Job has reached the "
		  "specified backoff limit\"}]}}", -1, "job/migrate failed" },
		{ "{\"kind\":\"Job\",\"metadata\":{\"name\":\"migrate\"},\"status\":{\"succeeded\":0}}", 0,
		  "job/migrate running (0 succeeded, 0 failed)" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *o = parse(cases[i].obj);
		struct prenv_buf line = PRENV_BUF_INIT, why = PRENV_BUF_INIT;

		assert_int_equal(k8s_readiness(o, &line, &why), cases[i].want);
		assert_string_equal(line.ptr, cases[i].line);
		if (cases[i].want < 0)
			assert_true(why.len > 0);
		prenv_buf_free(&line);
		prenv_buf_free(&why);
		cJSON_Delete(o);
	}
}

static void test_k8s_pod_failure_reasons(void **state)
{
	static const struct {
		const char *pod;
		const char *reason, *container;
	} cases[] = {
		{ "{\"status\":{\"containerStatuses\":[{\"name\":\"web\",\"state\":{\"waiting\":{\"reason\":"
		  "\"CrashLoopBackOff\",\"message\":\"back-off\"}}}]}}", "CrashLoopBackOff", "web" },
		{ "{\"status\":{\"containerStatuses\":[{\"name\":\"a\",\"state\":{\"running\":{}}},{\"name\":\"b\","
		  "\"state\":{\"waiting\":{\"reason\":\"ImagePullBackOff\"}}}]}}", "ImagePullBackOff", "b" },
		{ "{\"status\":{\"initContainerStatuses\":[{\"name\":\"init\",\"state\":{\"waiting\":{\"reason\":"
		  "\"ErrImagePull\"}}}]}}", "ErrImagePull", "init" },
		{ "{\"status\":{\"containerStatuses\":[{\"name\":\"c\",\"state\":{\"waiting\":{\"reason\":"
		  "\"CreateContainerConfigError\"}}}]}}", "CreateContainerConfigError", "c" },
		/* still starting: not a failure */
		{ "{\"status\":{\"containerStatuses\":[{\"name\":\"c\",\"state\":{\"waiting\":{\"reason\":"
		  "\"ContainerCreating\"}}}]}}", NULL, NULL },
		/* being deleted: not counted */
		{ "{\"metadata\":{\"deletionTimestamp\":\"2024-01-01T00:00:00Z\"},\"status\":{\"containerStatuses\":"
		  "[{\"name\":\"c\",\"state\":{\"waiting\":{\"reason\":\"CrashLoopBackOff\"}}}]}}", NULL, NULL },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *p = parse(cases[i].pod);
		const char *c = NULL, *m = NULL, *r = k8s_pod_failure(p, &c, &m);

		if (cases[i].reason) {
			assert_non_null(r);
			assert_string_equal(r, cases[i].reason);
			assert_string_equal(c, cases[i].container);
		} else {
			assert_null(r);
		}
		cJSON_Delete(p);
	}
}

static void test_k8s_builtin_mapping(void **state)
{
	const char *plural;
	int ns;

	(void)state;
	assert_int_equal(k8s_builtin_mapping("apps", "Deployment", &plural, &ns), 1);
	assert_string_equal(plural, "deployments");
	assert_int_equal(ns, 1);
	assert_int_equal(k8s_builtin_mapping("networking.k8s.io", "IngressClass", &plural, &ns), 1);
	assert_int_equal(ns, 0);
	assert_int_equal(k8s_builtin_mapping("", "Deployment", &plural, &ns), 0);
	assert_int_equal(k8s_builtin_mapping("example.com", "Widget", &plural, &ns), 0);
}

/* Resource quantities (cost figures): cores and bytes. */
static void test_k8s_quantity_table(void **state)
{
	static const struct { const char *s; int ok; double want; } t[] = {
		{ "100m", 1, 0.1 }, { "0.5", 1, 0.5 }, { "2", 1, 2 }, { "64Mi", 1, 67108864 },
		{ "1Gi", 1, 1073741824 }, { "500M", 1, 5e8 }, { "1k", 1, 1000 }, { "1e3", 1, 1000 },
		{ "250u", 1, 0.00025 }, { "", 0, 0 }, { "abc", 0, 0 }, { "1Xi", 0, 0 }, { "-1", 0, 0 },
		{ " 1", 0, 0 }, { "1 Mi", 0, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		double v = -1;
		int rc = k8s_quantity(t[i].s, &v);

		if ((rc == 0) != t[i].ok || (t[i].ok && (v < t[i].want * 0.999999 || v > t[i].want * 1.000001)))
			fail_msg("k8s_quantity('%s') = %d, %g", t[i].s, rc, v);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_k8s_stage_helm_order),
		cmocka_unit_test(test_k8s_quantity_table),
		cmocka_unit_test(test_k8s_prepare_orders_and_namespaces),
		cmocka_unit_test(test_k8s_prepare_namespace_errors),
		cmocka_unit_test(test_k8s_prepare_defaults_port_protocol),
		cmocka_unit_test(test_k8s_api_message_real_bodies),
		cmocka_unit_test(test_k8s_api_message_shapes),
		cmocka_unit_test(test_k8s_api_hint),
		cmocka_unit_test(test_k8s_readiness_table),
		cmocka_unit_test(test_k8s_pod_failure_reasons),
		cmocka_unit_test(test_k8s_builtin_mapping),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
