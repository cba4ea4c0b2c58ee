/* test_kubeconfig.c - finding cluster access like kubectl (kubeconfig.c) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kubernetes/k8s_int.h"
#include "util/log.h"

struct fx {
	char dir[64];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/prenv-kc-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	log_reset();
	return 0;
}

static char *path_in(const struct fx *f, const char *name)
{
	struct prenv_buf b = PRENV_BUF_INIT;

	prenv_buf_printf(&b, "%s/%s", f->dir, name);
	return prenv_buf_detach(&b, NULL);
}

static char *write_file(const struct fx *f, const char *name, const char *text)
{
	char *p = path_in(f, name);
	FILE *fp = fopen(p, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	return p;
}

static int load(struct k8s_conn **c, const char *kubeconfig, const char *context,
		const char **envp, struct prenv_err *err)
{
	struct k8s_load_opts o = { kubeconfig, context, envp, NULL };

	return k8s_conn_load(c, &o, err);
}

static const char KC_A[] =
	"apiVersion: v1\nkind: Config\n"
	"clusters:\n"
	"- name: shared\n  cluster:\n    server: https://a.example:6443/\n    certificate-authority: ca.pem\n"
	"- name: only-a\n  cluster:\n    server: https://only-a.example\n    insecure-skip-tls-verify: true\n"
	"users:\n- name: u\n  user:\n    token: token-from-file-a\n"
	"contexts:\n- name: ctx-a\n  context:\n    cluster: shared\n    user: u\n    namespace: team-a\n"
	"- name: ctx-only-a\n  context:\n    cluster: only-a\n    user: u\n";

static const char KC_B[] =
	"apiVersion: v1\nkind: Config\ncurrent-context: ctx-b\n"
	"clusters:\n- name: shared\n  cluster:\n    server: https://b.example\n"
	"users:\n- name: u\n  user:\n    token: token-from-file-b\n"
	"- name: ub\n  user:\n    token: token-of-ub\n"
	"contexts:\n- name: ctx-b\n  context:\n    cluster: shared\n    user: ub\n"
	"- name: ctx-a\n  context:\n    cluster: shared\n    user: ub\n";

static void test_kubeconfig_merge_first_file_wins(void **state)
{
	struct fx *f = *state;
	struct prenv_err err = PRENV_ERR_INIT;
	struct k8s_conn *c = NULL;
	char *a = write_file(f, "a", KC_A), *b = write_file(f, "b", KC_B);
	char *ca = write_file(f, "ca.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
	struct prenv_buf kc = PRENV_BUF_INIT;
	const char *env[3] = { NULL, "HOME=/nonexistent", NULL };
	const char *tok;

	/* a missing file in the list is skipped, as kubectl does */
	prenv_buf_printf(&kc, "KUBECONFIG=%s/missing:%s:%s", f->dir, a, b);
	env[0] = kc.ptr;
	/* current-context comes from b (a sets none): ctx-b; its cluster
	 * "shared" is a's (first definition wins), its user ub is b's */
	assert_int_equal(load(&c, NULL, NULL, env, &err), 0);
	assert_string_equal(c->context, "ctx-b");
	assert_string_equal(c->server, "https://a.example:6443");
	assert_string_equal(c->ca.ptr, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
	assert_int_equal(k8s_conn_refresh(c, 0, &tok, &err), 0);
	assert_string_equal(tok, "token-of-ub");
	k8s_conn_free(c);

	/* ctx-a is defined in both: a's wins (user u -> a's token) */
	assert_int_equal(load(&c, NULL, "ctx-a", env, &err), 0);
	assert_string_equal(c->default_ns, "team-a");
	assert_string_equal(c->token, "token-from-file-a");
	k8s_conn_free(c);

	/* insecure flag */
	assert_int_equal(load(&c, NULL, "ctx-only-a", env, &err), 0);
	assert_int_equal(c->insecure, 1);
	assert_int_equal(c->ca.len, 0);
	k8s_conn_free(c);

	/* an undefined context names the sources */
	assert_int_equal(load(&c, NULL, "nope", env, &err), PRENV_ECONFIG);
	assert_null(c);
	assert_non_null(strstr(err.msg, "context 'nope' is not defined"));
	assert_non_null(strstr(err.msg, "KUBECONFIG="));
	prenv_err_clear(&err);
	prenv_buf_free(&kc);
	free(a);
	free(b);
	free(ca);
}

static void test_kubeconfig_discovery_order(void **state)
{
	struct fx *f = *state;
	struct prenv_err err = PRENV_ERR_INIT;
	struct k8s_conn *c = NULL;
	char *b = write_file(f, "b", KC_B);
	struct prenv_buf home = PRENV_BUF_INIT, kc = PRENV_BUF_INIT;
	char *kdir = path_in(f, ".kube");
	const char *env[4];

	mkdir(kdir, 0700);
	free(write_file(f, ".kube/config",
			"clusters: [{name: h, cluster: {server: 'http://home.example'}}]\n"
			"contexts: [{name: h, context: {cluster: h}}]\ncurrent-context: h\n"));
	prenv_buf_printf(&home, "HOME=%s", f->dir);
	prenv_buf_printf(&kc, "KUBECONFIG=%s", b);
	env[0] = home.ptr;
	env[1] = NULL;
	assert_int_equal(load(&c, NULL, NULL, env, &err), 0);
	assert_string_equal(c->server, "http://home.example");
	assert_null(c->token);
	k8s_conn_free(c);
	/* KUBECONFIG beats ~/.kube/config */
	env[1] = kc.ptr;
	env[2] = NULL;
	assert_int_equal(load(&c, NULL, NULL, env, &err), 0);
	assert_string_equal(c->server, "https://b.example");
	k8s_conn_free(c);
	/* --kubeconfig beats both */
	{
		char *p = path_in(f, ".kube/config");

		assert_int_equal(load(&c, p, NULL, env, &err), 0);
		assert_string_equal(c->server, "http://home.example");
		k8s_conn_free(c);
		free(p);
	}
	/* an explicit file that does not exist is an error, not a fallback */
	assert_int_equal(load(&c, "/nonexistent/kc", NULL, env, &err), PRENV_ECONFIG);
	assert_non_null(strstr(err.msg, "/nonexistent/kc"));
	prenv_err_clear(&err);
	/* nothing at all */
	env[0] = "HOME=/nonexistent";
	env[1] = NULL;
	assert_int_equal(load(&c, NULL, NULL, env, &err), PRENV_ECONFIG);
	assert_non_null(strstr(err.msg, "no cluster access found"));
	prenv_err_clear(&err);
	prenv_buf_free(&home);
	prenv_buf_free(&kc);
	free(kdir);
	free(b);
}

static void test_kubeconfig_content_raw_and_base64(void **state)
{
	struct prenv_err err = PRENV_ERR_INIT;
	struct k8s_conn *c = NULL;
	static const char raw[] =
		"clusters: [{name: c, cluster: {server: 'https://ci.example', "
		"certificate-authority-data: 'UEVNIQ=='}}]\n"
		"users: [{name: u, user: {token: ci-secret-token, client-certificate-data: 'Q0VSVA==', "
		"client-key-data: 'S0VZIQ=='}}]\n"
		"contexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n";
	struct prenv_buf env0 = PRENV_BUF_INIT, b64 = PRENV_BUF_INIT;
	const char *env[3] = { NULL, "KUBECONFIG=/nonexistent", NULL };
	FILE *p;
	char line[4096];

	(void)state;
	prenv_buf_printf(&env0, "PRENV_KUBECONFIG=%s", raw);
	env[0] = env0.ptr;
	assert_int_equal(load(&c, NULL, NULL, env, &err), 0);
	assert_string_equal(c->server, "https://ci.example");
	assert_string_equal(c->ca.ptr, "PEM!");
	assert_string_equal(c->cert.ptr, "CERT");
	assert_string_equal(c->key.ptr, "KEY!");
	assert_string_equal(c->source, "PRENV_KUBECONFIG");
	k8s_conn_free(c);
	/* the token was registered: it never appears in output */
	{
		char *m = log_mask_dup("x ci-secret-token y", 19, NULL);

		assert_string_equal(m, "x *** y");
		free(m);
	}
	/* base64 of the same content (as a CI secret often is), wrapped */
	assert_int_equal(setenv("K", raw, 1), 0);
	p = popen("printf '%s' \"$K\" | base64 -w 60", "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p))
		prenv_buf_adds(&b64, line);
	pclose(p);
	unsetenv("K");
	prenv_buf_reset(&env0);
	prenv_buf_printf(&env0, "PRENV_KUBECONFIG=%s", b64.ptr);
	env[0] = env0.ptr;
	assert_int_equal(load(&c, NULL, NULL, env, &err), 0);
	assert_string_equal(c->server, "https://ci.example");
	k8s_conn_free(c);
	/* garbage */
	env[0] = "PRENV_KUBECONFIG=%%%not base64%%%";
	assert_int_equal(load(&c, NULL, NULL, env, &err), PRENV_ECONFIG);
	assert_non_null(strstr(err.msg, "PRENV_KUBECONFIG"));
	prenv_err_clear(&err);
	prenv_buf_free(&env0);
	prenv_buf_free(&b64);
}

/* PRENV_KUBECONFIG holding a path (a GitLab "file" variable does that)
 * is read as that file, with a line saying so; a path that names no file
 * is explained, not "YAML syntax error: invalid leading UTF-8 octet". */
static void test_kubeconfig_prenv_kubeconfig_path(void **state)
{
	struct fx *f = *state;
	struct prenv_err err = PRENV_ERR_INIT;
	struct k8s_conn *c = NULL;
	struct prenv_buf env0 = PRENV_BUF_INIT;
	const char *env[3] = { NULL, "KUBECONFIG=/nonexistent", NULL };
	char *pem = write_file(f, "ca.pem", "PEM FROM FILE");
	char *kc = write_file(f, "ci-kubeconfig", KC_A);

	(void)state;
	prenv_buf_printf(&env0, "PRENV_KUBECONFIG=%s", kc);
	env[0] = env0.ptr;
	assert_int_equal(load(&c, NULL, "ctx-a", env, &err), 0);
	assert_string_equal(c->server, "https://a.example:6443");
	/* relative paths inside it are relative to its directory */
	assert_string_equal(c->ca.ptr, "PEM FROM FILE");
	assert_non_null(strstr(c->source, "PRENV_KUBECONFIG"));
	assert_non_null(strstr(c->source, kc));
	k8s_conn_free(c);
	/* a path that names no file */
	env[0] = "PRENV_KUBECONFIG=/builds/acme/shop.tmp/PRENV_KUBECONFIG";
	assert_int_equal(load(&c, NULL, NULL, env, &err), PRENV_ECONFIG);
	assert_null(strstr(err.msg, "YAML"));
	assert_non_null(strstr(err.msg, "path"));
	assert_non_null(strstr(err.msg, "content"));
	prenv_err_clear(&err);
	env[0] = "PRENV_KUBECONFIG=./kube/config";
	assert_int_equal(load(&c, NULL, NULL, env, &err), PRENV_ECONFIG);
	assert_non_null(strstr(err.msg, "path"));
	prenv_err_clear(&err);
	prenv_buf_free(&env0);
	free(pem);
	free(kc);
}

static void test_kubeconfig_token_file_reread(void **state)
{
	struct fx *f = *state;
	struct prenv_err err = PRENV_ERR_INIT;
	struct k8s_conn *c = NULL;
	char *kc = write_file(f, "kc",
			      "clusters: [{name: c, cluster: {server: 'http://x'}}]\n"
			      "users: [{name: u, user: {tokenFile: tok}}]\n"
			      "contexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n");
	char *tp = write_file(f, "tok", "first-token-value\n");
	const char *env[] = { "HOME=/nonexistent", NULL };
	const char *tok;
	struct timespec ts[2] = { { 0, UTIME_NOW }, { 1000, 0 } };

	assert_int_equal(load(&c, kc, NULL, env, &err), 0);
	assert_int_equal(k8s_conn_refresh(c, 0, &tok, &err), 0);
	assert_string_equal(tok, "first-token-value");
	free(write_file(f, "tok", "second-token-value\n"));
	/* make sure the mtime differs even on coarse file systems */
	utimensat(AT_FDCWD, tp, ts, 0);
	assert_int_equal(k8s_conn_refresh(c, 0, &tok, &err), 0);
	assert_string_equal(tok, "second-token-value");
	unlink(tp);
	assert_int_equal(k8s_conn_refresh(c, 0, &tok, &err), PRENV_EAUTH);
	assert_non_null(strstr(err.msg, "token file"));
	prenv_err_clear(&err);
	k8s_conn_free(c);
	free(kc);
	free(tp);
}

static void test_kubeconfig_incluster(void **state)
{
	struct fx *f = *state;
	struct prenv_err err = PRENV_ERR_INIT;
	struct k8s_conn *c = NULL;
	struct prenv_buf sa = PRENV_BUF_INIT;
	const char *env[] = { "HOME=/nonexistent", "KUBERNETES_SERVICE_HOST=10.0.0.1",
			      "KUBERNETES_SERVICE_PORT=8443", NULL, NULL };
	const char *tok;

	free(write_file(f, "token", "sa-token-abc\n"));
	free(write_file(f, "ca.crt", "CA PEM"));
	free(write_file(f, "namespace", "ci-runners\n"));
	prenv_buf_printf(&sa, "PRENV_SA_DIR=%s", f->dir);
	env[3] = sa.ptr;
	assert_int_equal(load(&c, NULL, NULL, env, &err), 0);
	assert_string_equal(c->server, "https://10.0.0.1:8443");
	assert_string_equal(c->context, "in-cluster");
	assert_string_equal(c->ca.ptr, "CA PEM");
	assert_string_equal(c->default_ns, "ci-runners");
	assert_int_equal(k8s_conn_refresh(c, 0, &tok, &err), 0);
	assert_string_equal(tok, "sa-token-abc");
	k8s_conn_free(c);
	/* IPv6 service host */
	env[1] = "KUBERNETES_SERVICE_HOST=fd00::1";
	assert_int_equal(load(&c, NULL, NULL, env, &err), 0);
	assert_string_equal(c->server, "https://[fd00::1]:8443");
	k8s_conn_free(c);
	/* no token: a configuration error naming the file */
	free(write_file(f, "x", ""));
	{
		char *t = path_in(f, "token");

		unlink(t);
		free(t);
	}
	assert_int_equal(load(&c, NULL, NULL, env, &err), PRENV_ECONFIG);
	assert_non_null(strstr(err.msg, "token"));
	prenv_err_clear(&err);
	prenv_buf_free(&sa);
}

static const char PLUGIN[] =
	"#!/bin/sh\n"
	"# counts its runs; prints a token built from its env and arguments\n"
	"n=$(cat \"$(dirname \"$0\")/count\" 2>/dev/null || echo 0); n=$((n+1))\n"
	"echo $n > \"$(dirname \"$0\")/count\"\n"
	"case \"$KUBERNETES_EXEC_INFO\" in *'\"interactive\":false'*) ;; *) echo bad info >&2; exit 3;; esac\n"
	"[ \"$1\" = get-token ] || { echo 'bad args' >&2; exit 4; }\n"
	"printf '{\"apiVersion\":\"%s\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"tok-%s-%s\",\"expirationTimestamp\":\"%s\"}}' "
	"\"$API\" \"$REGION\" $n \"$EXP\"\n";

static void exec_case(struct fx *f, const char *api, const char *exp, int refreshes_expected)
{
	struct prenv_err err = PRENV_ERR_INIT;
	struct k8s_conn *c = NULL;
	struct prenv_buf kc = PRENV_BUF_INIT;
	char *plug = write_file(f, "plugin.sh", PLUGIN), *kcp, *cnt = path_in(f, "count");
	const char *env[] = { "HOME=/nonexistent", "PATH=/usr/bin:/bin", NULL };
	const char *tok;
	char want[64];

	chmod(plug, 0755);
	unlink(cnt);
	prenv_buf_printf(&kc,
			 "clusters: [{name: c, cluster: {server: 'http://x'}}]\n"
			 "users: [{name: u, user: {exec: {apiVersion: '%s', command: ./plugin.sh, "
			 "args: [get-token], interactiveMode: Never, env: [{name: REGION, value: eu1}, "
			 "{name: API, value: '%s'}, {name: EXP, value: '%s'}]}}}]\n"
			 "contexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n",
			 api, api, exp);
	kcp = write_file(f, "kc", kc.ptr);
	assert_int_equal(load(&c, kcp, NULL, env, &err), 0);
	assert_int_equal(k8s_conn_refresh(c, 0, &tok, &err), 0);
	assert_string_equal(tok, "tok-eu1-1");
	assert_int_equal(k8s_conn_refresh(c, 0, &tok, &err), 0);
	snprintf(want, sizeof(want), "tok-eu1-%d", 1 + refreshes_expected);
	assert_string_equal(tok, want);
	/* after a 401 the caller forces a new credential */
	assert_int_equal(k8s_conn_refresh(c, 1, &tok, &err), 0);
	snprintf(want, sizeof(want), "tok-eu1-%d", 2 + refreshes_expected);
	assert_string_equal(tok, want);
	k8s_conn_free(c);
	prenv_buf_free(&kc);
	free(plug);
	free(kcp);
	free(cnt);
}

static void test_kubeconfig_exec_plugin_token_and_expiry(void **state)
{
	/* not expired: cached within the run */
	exec_case(*state, "client.authentication.k8s.io/v1", "2999-01-01T00:00:00Z", 0);
	/* expired: run again */
	exec_case(*state, "client.authentication.k8s.io/v1beta1", "2001-01-01T00:00:00+02:00", 1);
}

static void test_kubeconfig_exec_plugin_failure(void **state)
{
	struct fx *f = *state;
	struct prenv_err err = PRENV_ERR_INIT;
	struct k8s_conn *c = NULL;
	char *plug = write_file(f, "fail.sh", "#!/bin/sh\necho 'token expired, run aws sso login' >&2\nexit 1\n");
	char *kcp;
	const char *env[] = { "HOME=/nonexistent", NULL };
	const char *tok;

	chmod(plug, 0755);
	kcp = write_file(f, "kc",
			 "clusters: [{name: c, cluster: {server: 'http://x'}}]\n"
			 "users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1, "
			 "command: ./fail.sh, interactiveMode: Never, installHint: 'install the CLI'}}}]\n"
			 "contexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n");
	assert_int_equal(load(&c, kcp, NULL, env, &err), 0);
	assert_int_equal(k8s_conn_refresh(c, 0, &tok, &err), PRENV_EAUTH);
	assert_non_null(strstr(err.msg, "token expired, run aws sso login"));
	assert_non_null(strstr(err.msg, "install the CLI"));
	prenv_err_clear(&err);
	k8s_conn_free(c);
	/* unsupported apiVersion and interactiveMode Always are config errors */
	free(kcp);
	kcp = write_file(f, "kc",
			 "clusters: [{name: c, cluster: {server: 'http://x'}}]\n"
			 "users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1alpha1, "
			 "command: x}}}]\n"
			 "contexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n");
	assert_int_equal(load(&c, kcp, NULL, env, &err), PRENV_ECONFIG);
	assert_non_null(strstr(err.msg, "v1alpha1"));
	prenv_err_clear(&err);
	free(plug);
	free(kcp);
}

static void test_kubeconfig_parse_time(void **state)
{
	(void)state;
	assert_int_equal(k8s_parse_time("1970-01-01T00:00:00Z"), 0);
	assert_int_equal(k8s_parse_time("2024-02-29T12:00:00Z"), 1709208000);
	assert_int_equal(k8s_parse_time("2024-02-29T12:00:00.123456Z"), 1709208000);
	assert_int_equal(k8s_parse_time("2024-02-29T14:30:00+02:30"), 1709208000);
	assert_int_equal(k8s_parse_time("2024-02-29 12:00:00"), -1);
	assert_int_equal(k8s_parse_time("2024-02-29T12:00:00Zjunk"), -1);
	assert_int_equal(k8s_parse_time("yesterday"), -1);
	assert_int_equal(k8s_parse_time(NULL), -1);
}

static void test_kubeconfig_base64(void **state)
{
	struct prenv_buf b = PRENV_BUF_INIT;

	(void)state;
	assert_int_equal(k8s_base64_decode(&b, "aGVs\nbG8=", 9), 0);
	assert_string_equal(b.ptr, "hello");
	prenv_buf_reset(&b);
	assert_int_equal(k8s_base64_decode(&b, "a*b", 3), -1);
	prenv_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_kubeconfig_merge_first_file_wins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kubeconfig_discovery_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kubeconfig_content_raw_and_base64, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kubeconfig_prenv_kubeconfig_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kubeconfig_token_file_reread, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kubeconfig_incluster, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kubeconfig_exec_plugin_token_and_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kubeconfig_exec_plugin_failure, setup, teardown),
		cmocka_unit_test(test_kubeconfig_parse_time),
		cmocka_unit_test(test_kubeconfig_base64),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
