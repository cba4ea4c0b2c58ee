/* test_log.c - the message module: secrets masked in every output,
 * untrusted text neutralised for CI log parsers, GitHub annotations
 * escaped. The streams are captured with open_memstream. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/log.h"

struct cap {
	FILE *out, *err;
	char *obuf, *ebuf;
	size_t olen, elen;
};

static void cap_start(struct cap *c, enum log_ci ci)
{
	memset(c, 0, sizeof(*c));
	c->out = open_memstream(&c->obuf, &c->olen);
	c->err = open_memstream(&c->ebuf, &c->elen);
	assert_non_null(c->out);
	assert_non_null(c->err);
	log_set_streams(c->out, c->err);
	log_setup(ci, LOG_NORMAL, 0);
}

static void cap_stop(struct cap *c)
{
	fclose(c->out);
	fclose(c->err);
	log_set_streams(NULL, NULL);
	log_reset();
	log_setup(LOG_CI_NONE, LOG_NORMAL, 0);
}

static void cap_free(struct cap *c)
{
	free(c->obuf);
	free(c->ebuf);
}

/* Drops the ::add-mask:: lines (they name the secret on purpose) in place. */
static void drop_add_mask_lines(char *s)
{
	char *r = s, *w = s;

	while (*r) {
		char *nl = strchr(r, '\n');
		size_t n = nl ? (size_t)(nl - r) + 1 : strlen(r);

		if (strncmp(r, "::add-mask::", 12) != 0) {
			memmove(w, r, n);
			w += n;
		}
		r += n;
	}
	*w = '\0';
}

static void test_log_mask_longest_match_everywhere(void **state)
{
	struct cap c;
	char *m;

	(void)state;
	cap_start(&c, LOG_CI_NONE);
	assert_int_equal(log_add_secret("hunter2hunter2"), 0);
	assert_int_equal(log_add_secret("hunter2"), 0);
	assert_int_equal(log_add_secret("abc"), -1); /* too short to mask safely */
	log_info("token=%s and %s and abc", "hunter2hunter2", "hunter2");
	log_outf("url https://x:%s@host/\n", "hunter2hunter2");
	log_block("line hunter2\n");
	m = log_mask_dup("xhunter2hunter2hunter2y", 23, NULL);
	assert_string_equal(m, "x******y");
	free(m);
	cap_stop(&c);
	assert_string_equal(c.obuf, "url https://x:***@host/\n");
	assert_non_null(strstr(c.ebuf, "token=*** and *** and abc\n"));
	assert_non_null(strstr(c.ebuf, "    line ***\n"));
	assert_null(strstr(c.ebuf, "hunter2"));
	cap_free(&c);
}

/* A multi-line secret (a kubeconfig) is printed a line at a time: its
 * token and key data are masked on their own. */
static void test_log_mask_multiline_secret_line_by_line(void **state)
{
	static const char kc[] =
		"users:\n"
		"- name: ci\n"
		"  user:\n"
		"    token: s3cr3t-token-value\n"
		"    client-key-data: \"QUJDREVGR0hJSktMTU5PUA==\"\n";
	struct cap c;

	(void)state;
	cap_start(&c, LOG_CI_NONE);
	assert_int_equal(log_add_secret(kc), 0);
	log_info("the token is s3cr3t-token-value");
	log_info("key QUJDREVGR0hJSktMTU5PUA== leaked?");
	cap_stop(&c);
	assert_null(strstr(c.ebuf, "s3cr3t-token-value"));
	assert_null(strstr(c.ebuf, "QUJDREVGR0hJSktMTU5PUA=="));
	assert_non_null(strstr(c.ebuf, "the token is ***"));
	cap_free(&c);
}

/* A realistic kubeconfig (what PRENV_KUBECONFIG holds): certificate data,
 * a client key wrapped over two lines, a token, basic auth, an OIDC
 * auth-provider, an exec plugin with a secret in its env, a proxy URL with
 * a password. */
static const char kubeconfig[] =
	"apiVersion: v1\n"
	"kind: Config\n"
	"clusters:\n"
	"- cluster:\n"
	"    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUM1ekNDQWMrZ0F3SUJBZ0lCQVRB\n"
	"    server: https://k8s.example.com:6443\n"
	"    proxy-url: http://proxyuser:proxy-pass-42@proxy.example.com:3128\n"
	"  name: prod-cluster\n"
	"contexts:\n"
	"- context:\n"
	"    cluster: prod-cluster\n"
	"    namespace: previews\n"
	"    user: ci-bot\n"
	"  name: ci@prod\n"
	"current-context: ci@prod\n"
	"preferences: {}\n"
	"users:\n"
	"- name: ci-bot\n"
	"  user:\n"
	"    client-certificate-data: Q0VSVElGSUNBVEUtREFUQS1CQVNFNjQtVkFMVUUtMDEyMzQ1Njc4OQ==\n"
	"    client-key-data: LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQpNSUlFb3dJQkFBS0NBUUVB\n"
	"      d3JhcHBlZEJhc2U2NExpbmVUd29PZlRoZUtleURhdGFYWVo=\n"
	"    token: eyJhbGciOiJSUzI1NiIsImtpZCI6ImFiYyJ9.eyJzdWIiOiJjaSJ9.c2lnbmF0dXJl\n"
	"    token-ttl: 3600\n"
	"- name: basic\n"
	"  user:\n"
	"    username: admin\n"
	"    password: \"hunter2-pass\"\n"
	"- name: oidc\n"
	"  user:\n"
	"    auth-provider:\n"
	"      name: oidc\n"
	"      config:\n"
	"        client-id: prenv-client\n"
	"        client-secret: oidc-client-s3cret\n"
	"        id-token: oidc.id.token.value\n"
	"        refresh-token: 'oidc-refresh-value'\n"
	"        idp-issuer-url: https://idp.example.com\n"
	"- name: eks\n"
	"  user:\n"
	"    exec:\n"
	"      apiVersion: client.authentication.k8s.io/v1beta1\n"
	"      command: aws\n"
	"      args: [\"eks\", \"get-token\", \"--cluster-name\", \"prod\"]\n"
	"      env:\n"
	"      - name: AWS_SECRET_ACCESS_KEY\n"
	"        value: aws-secret-value-123\n"
	"      - name: AWS_REGION\n"
	"        value: eu-west-1\n";

/* Only the secret-bearing parts of a structured secret are masked (and,
 * on GitHub, announced for the whole job): apiVersion: v1, kind: Config,
 * names, server URLs stay readable. */
static void test_log_kubeconfig_masks_only_secret_values(void **state)
{
	static const char *const masked[] = {
		"LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUM1ekNDQWMrZ0F3SUJBZ0lCQVRB",
		"proxy-pass-42",
		"Q0VSVElGSUNBVEUtREFUQS1CQVNFNjQtVkFMVUUtMDEyMzQ1Njc4OQ==",
		"LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQpNSUlFb3dJQkFBS0NBUUVB",
		"d3JhcHBlZEJhc2U2NExpbmVUd29PZlRoZUtleURhdGFYWVo=",
		"eyJhbGciOiJSUzI1NiIsImtpZCI6ImFiYyJ9.eyJzdWIiOiJjaSJ9.c2lnbmF0dXJl",
		"hunter2-pass", "oidc-client-s3cret", "oidc.id.token.value",
		"oidc-refresh-value", "aws-secret-value-123", NULL,
	};
	static const char *const visible[] = {
		"apiVersion: v1", "kind: Config", "kind: ConfigMap", "clusters:",
		"server: https://k8s.example.com:6443", "proxyuser", "name: prod-cluster",
		"namespace: previews", "user: ci-bot", "current-context: ci@prod",
		"token-ttl: 3600", "username: admin", "client-id: prenv-client",
		"idp-issuer-url: https://idp.example.com",
		"apiVersion: client.authentication.k8s.io/v1beta1", "command: aws",
		"name: AWS_SECRET_ACCESS_KEY", "value: eu-west-1", NULL,
	};
	struct cap c;
	size_t i, announced = 0;
	const char *p;

	(void)state;
	cap_start(&c, LOG_CI_GITHUB);
	assert_int_equal(log_add_secret(kubeconfig), 0);
	for (i = 0; masked[i]; i++)
		log_info("[%s]", masked[i]);
	for (i = 0; visible[i]; i++)
		log_info("[%s]", visible[i]);
	log_block(kubeconfig);
	cap_stop(&c);
	for (i = 0; masked[i]; i++) {
		char line[256];

		snprintf(line, sizeof(line), "::add-mask::%s\n", masked[i]);
		if (!strstr(c.ebuf, line))
			fail_msg("not announced: %s", masked[i]);
	}
	for (p = c.ebuf; (p = strstr(p, "::add-mask::")); p++)
		announced++;
	assert_int_equal(announced, 11);
	drop_add_mask_lines(c.ebuf);
	for (i = 0; masked[i]; i++) {
		if (strstr(c.ebuf, masked[i]))
			fail_msg("printed: %s", masked[i]);
	}
	assert_non_null(strstr(c.ebuf, "prenv: [***]\n"));
	for (i = 0; visible[i]; i++) {
		char line[256];

		snprintf(line, sizeof(line), "prenv: [%s]\n", visible[i]);
		if (!strstr(c.ebuf, line))
			fail_msg("masked: %s", visible[i]);
	}
	/* The whole kubeconfig printed at once is one secret. */
	assert_non_null(strstr(c.ebuf, "\n    ***\n"));
	cap_free(&c);
}

/* A PEM block is masked whole and by each line of its base64 body (also
 * inside a YAML block scalar); its BEGIN/END lines are not secrets. A
 * single-line JSON secret gives up its secret values too. A multi-line
 * secret with no structure at all is masked a line at a time. */
static void test_log_pem_json_and_plain_multiline_secrets(void **state)
{
	static const char pem[] =
		"-----BEGIN RSA PRIVATE KEY-----\n"
		"MIIEowIBAAKCAQEAwrappedBase64LineNumberOne0123456789abcdefghijklmnop\n"
		"qrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/abcdefghijklmnopqrst\n"
		"AQAB\n"
		"-----END RSA PRIVATE KEY-----\n";
	static const char yaml[] =
		"tls:\n"
		"  key: |\n"
		"    -----BEGIN PRIVATE KEY-----\n"
		"    MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n"
		"    -----END PRIVATE KEY-----\n"
		"  hosts: preview.example.com\n";
	struct cap c;

	(void)state;
	cap_start(&c, LOG_CI_NONE);
	assert_int_equal(log_add_secret(pem), 0);
	assert_int_equal(log_add_secret(yaml), 0);
	assert_int_equal(log_add_secret("{\"apiVersion\":\"v1\",\"users\":[{\"name\":\"ci\","
					"\"user\":{\"token\":\"json-token-value-1\"}}]}"), 0);
	assert_int_equal(log_add_secret("correct horse battery\nstaple-staple\nab\n"), 0);
	log_info("[MIIEowIBAAKCAQEAwrappedBase64LineNumberOne0123456789abcdefghijklmnop]");
	log_info("[qrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/abcdefghijklmnopqrst]");
	log_info("[-----BEGIN RSA PRIVATE KEY-----]");
	log_info("[MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7]");
	log_info("[tls:] [hosts: preview.example.com]");
	log_info("[json-token-value-1] [\"apiVersion\":\"v1\"]");
	log_info("[correct horse battery] [staple-staple] [ab]");
	log_block(pem);
	cap_stop(&c);
	assert_string_equal(c.ebuf,
		"prenv: [***]\n"
		"prenv: [***]\n"
		"prenv: [-----BEGIN RSA PRIVATE KEY-----]\n"
		"prenv: [***]\n"
		"prenv: [tls:] [hosts: preview.example.com]\n"
		"prenv: [***] [\"apiVersion\":\"v1\"]\n"
		"prenv: [***] [***] [ab]\n"
		"    ***\n");
	cap_free(&c);
}

/* Text from outside (pod logs, a PR's title, API errors) cannot start a
 * GitHub workflow command: "::" at a line start gets a backslash, CR is
 * shown as \r so it cannot hide what follows. */
static void test_log_neutralises_workflow_commands(void **state)
{
	struct cap c;

	(void)state;
	cap_start(&c, LOG_CI_GITHUB);
	log_block("::add-mask::x\n  ::stop-commands::tok\nfine::not at start\nA\rB");
	log_info("line1\n::warning::planted");
	cap_stop(&c);
	assert_non_null(strstr(c.ebuf, "    \\::add-mask::x\n"));
	assert_non_null(strstr(c.ebuf, "      \\::stop-commands::tok\n"));
	assert_non_null(strstr(c.ebuf, "    fine::not at start\n"));
	assert_non_null(strstr(c.ebuf, "    A\\rB\n"));
	assert_non_null(strstr(c.ebuf, "line1\n\\::warning::planted\n"));
	cap_free(&c);
}

/* The runner also acts on "##[command]" ANYWHERE in a line (the legacy
 * syntax, actions/runner ActionCommand.TryParse), and finds "::" after
 * trimming every Unicode white space (.NET TrimStart). Text from outside
 * gets "##\[" and "\::" on stderr; on stdout (machine output) "##[" is
 * written "##\u005b", which JSON and YAML double-quoted strings read back
 * as "##[" (prenv's YAML never writes '#' in a plain scalar). */
static void test_log_neutralises_legacy_and_unicode_blank_commands(void **state)
{
	struct cap c;

	(void)state;
	cap_start(&c, LOG_CI_GITHUB);
	log_block("pod: ##[stop-commands]tok\n"
		  "###[add-mask]apiVersion\n"
		  "\xc2\xa0::add-mask::nbsp\n"
		  "\xe2\x80\x83\xe2\x80\xa8::set-output name=a::emsp\n"
		  "\v\f::error::vtff\n"
		  "\xc2\x85::warning::nel\n"
		  "\xe3\x80\x80::notice::ideo\n"
		  "\xe2\x80\x8b\xef\xbb\xbf::group::zw\n"
		  "already ##\\[escaped]\n"
		  "\xe2\x80\xb0::per mille is no blank\n");
	log_info("progress ##[group]x");
	log_error("api said ##[add-mask]y");
	log_group_begin("title ##[endgroup]");
	log_group_end();
	log_outs("{\"title\": \"##[set-output name=url;]evil\"}\n");
	log_outs("  ::add-mask::z\n");
	log_outs("\xe2\x80\x89::add-mask::thin\r::stop-commands::cr\n");
	log_outs("a ");
	log_outs("::not at a line start\n");
	cap_stop(&c);
	assert_non_null(strstr(c.ebuf,
		"    pod: ##\\[stop-commands]tok\n"
		"    ###\\[add-mask]apiVersion\n"
		"    \xc2\xa0\\::add-mask::nbsp\n"
		"    \xe2\x80\x83\xe2\x80\xa8\\::set-output name=a::emsp\n"
		"    \v\f\\::error::vtff\n"
		"    \xc2\x85\\::warning::nel\n"
		"    \xe3\x80\x80\\::notice::ideo\n"
		"    \xe2\x80\x8b\xef\xbb\xbf\\::group::zw\n"
		"    already ##\\[escaped]\n"
		"    \xe2\x80\xb0::per mille is no blank\n"));
	assert_non_null(strstr(c.ebuf, "prenv: progress ##\\[group]x\n"));
	assert_non_null(strstr(c.ebuf, "::error::api said ##\\[add-mask]y\n"
					"prenv: error: api said ##\\[add-mask]y\n"));
	assert_non_null(strstr(c.ebuf, "::group::title ##\\[endgroup]\n"));
	assert_string_equal(c.obuf,
		"{\"title\": \"##\\u005bset-output name=url;]evil\"}\n"
		"  \\::add-mask::z\n"
		"\xe2\x80\x89\\::add-mask::thin\r\\::stop-commands::cr\n"
		"a ::not at a line start\n");
	cap_free(&c);
}

/* An error at a file position becomes a GitHub annotation with its
 * properties and message escaped (a ':' or ',' in a file name, a newline
 * or '%' in a message cannot end the command early). */
static void test_log_github_annotation_escaping(void **state)
{
	struct cap c;
	const char *all;

	(void)state;
	cap_start(&c, LOG_CI_GITHUB);
	log_error_at("dir/a:b,c.yaml", 3, 7, "bad 50%% value\nnext");
	cap_stop(&c);
	all = c.ebuf;
	assert_non_null(strstr(all, "::error file=dir/a%3Ab%2Cc.yaml,line=3,col=7::bad 50%25 value%0Anext\n"));
	assert_non_null(strstr(c.ebuf, "prenv: error: dir/a:b,c.yaml:3:7: bad 50% value\nnext\n"));
	cap_free(&c);
}

/* GitHub is told each new secret once (::add-mask::, value escaped), so the
 * runner hides it in every later line of the job. */
static void test_log_add_mask_announced_once(void **state)
{
	struct cap c;

	(void)state;
	cap_start(&c, LOG_CI_GITHUB);
	assert_int_equal(log_add_secret("ghp_abcdef%123"), 0);
	assert_int_equal(log_add_secret("ghp_abcdef%123"), 0);
	cap_stop(&c);
	assert_string_equal(c.ebuf, "::add-mask::ghp_abcdef%25123\n");
	assert_string_equal(c.obuf, "");
	cap_free(&c);
}

/* stdout is machine output (`context -o json | jq`, `render > file`): on
 * GitHub every workflow command (::add-mask::, annotations, groups) goes to
 * stderr, which the runner reads too; each annotation comes right before
 * its human line. */
static void test_log_github_commands_go_to_stderr(void **state)
{
	struct cap c;

	(void)state;
	cap_start(&c, LOG_CI_GITHUB);
	assert_int_equal(log_add_secret("ghp_0123456789abcdef"), 0);
	log_group_begin("prenv deploy");
	log_outs("{\"url\": \"https://x\"}\n");
	log_warn("slow");
	log_error_at("a.yaml", 1, 2, "bad");
	log_group_end();
	cap_stop(&c);
	assert_string_equal(c.obuf, "{\"url\": \"https://x\"}\n");
	assert_string_equal(c.ebuf, "::add-mask::ghp_0123456789abcdef\n"
				    "::group::prenv deploy\n"
				    "::warning::slow\n"
				    "prenv: warning: slow\n"
				    "::error file=a.yaml,line=1,col=2::bad\n"
				    "prenv: error: a.yaml:1:2: bad\n"
				    "::endgroup::\n");
	cap_free(&c);
}

/* A secret is masked before the text is escaped: for an annotation ('%',
 * CR and LF become %25, %0D, %0A) and for a human line (CR shown as \r),
 * else the escaped secret no longer matches and is printed. */
static void test_log_mask_before_escape(void **state)
{
	struct cap c;

	(void)state;
	cap_start(&c, LOG_CI_GITHUB);
	assert_int_equal(log_add_secret("p%40ss%word"), 0);
	assert_int_equal(log_add_secret("tok\rvalue42"), 0);
	assert_int_equal(log_add_secret("ab%cd\nef-gh"), 0);
	log_error("auth p%%40ss%%word failed");
	log_warn("cr tok\rvalue42 here");
	log_error_at("f.yaml", 1, 1, "ml ab%%cd\nef-gh end");
	log_group_begin("group p%40ss%word");
	log_group_end();
	cap_stop(&c);
	assert_non_null(strstr(c.ebuf, "::add-mask::p%2540ss%25word\n"));
	assert_non_null(strstr(c.ebuf, "::add-mask::tok%0Dvalue42\n"));
	drop_add_mask_lines(c.ebuf);
	assert_null(strstr(c.ebuf, "40ss"));
	assert_null(strstr(c.ebuf, "value42"));
	assert_null(strstr(c.ebuf, "cd"));
	assert_null(strstr(c.ebuf, "ef-gh"));
	assert_non_null(strstr(c.ebuf, "::error::auth *** failed\nprenv: error: auth *** failed\n"));
	assert_non_null(strstr(c.ebuf, "::warning::cr *** here\nprenv: warning: cr *** here\n"));
	assert_non_null(strstr(c.ebuf, "::error file=f.yaml,line=1,col=1::ml *** end\n"
				       "prenv: error: f.yaml:1:1: ml *** end\n"));
	assert_non_null(strstr(c.ebuf, "::group::group ***\n"));
	cap_free(&c);
}

static void test_log_err_prints_position_and_levels(void **state)
{
	struct prenv_err e = PRENV_ERR_INIT;
	struct cap c;

	(void)state;
	cap_start(&c, LOG_CI_NONE);
	prenv_err_set_at(&e, PRENV_ECONFIG, ".prenv.yml", 4, 3, "unknown key 'x'");
	log_err(&e);
	log_verbose("hidden at normal level");
	log_setup(LOG_CI_NONE, LOG_QUIET, 0);
	log_info("hidden when quiet");
	log_warn("warnings stay");
	cap_stop(&c);
	assert_string_equal(c.ebuf, "prenv: error: .prenv.yml:4:3: unknown key 'x'\n"
				    "prenv: warning: warnings stay\n");
	prenv_err_clear(&e);
	cap_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log_mask_longest_match_everywhere),
		cmocka_unit_test(test_log_mask_multiline_secret_line_by_line),
		cmocka_unit_test(test_log_kubeconfig_masks_only_secret_values),
		cmocka_unit_test(test_log_pem_json_and_plain_multiline_secrets),
		cmocka_unit_test(test_log_neutralises_workflow_commands),
		cmocka_unit_test(test_log_neutralises_legacy_and_unicode_blank_commands),
		cmocka_unit_test(test_log_github_annotation_escaping),
		cmocka_unit_test(test_log_add_mask_announced_once),
		cmocka_unit_test(test_log_github_commands_go_to_stderr),
		cmocka_unit_test(test_log_mask_before_escape),
		cmocka_unit_test(test_log_err_prints_position_and_levels),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
