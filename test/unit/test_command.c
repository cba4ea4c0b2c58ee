/* test_command.c - the command provider: environment, URL file, failures
 * with the last lines, output masking, literal argv, timeout.
 * The commands under test are our own fixed argv (/bin/sh -c with a script
 * written here, printf, sleep): trusted test input, not user text. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <time.h>

#include "context/ci.h"
#include "command/command.h"
#include "config/config.h"
#include "util/err.h"
#include "util/log.h"
#include "config/plan.h"
#include "provider.h"
#include "pages_testutil.h"

struct fx {
	char *dir;
	struct prenv_config cfg;
	struct prenv_context ctx;
	struct prenv_plan plan;
	FILE *cap;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->dir = tu_tmpdir();
	f->cfg.dir = f->dir;
	f->cfg.app = (char *)"shop";
	f->ctx.has_pr = 1;
	f->ctx.pr_number = 42;
	f->ctx.sha = (char *)"0123456789abcdef0123456789abcdef01234567";
	f->ctx.branch = (char *)"feature/login";
	f->ctx.repo_full_name = (char *)"acme/shop";
	f->plan.env_name = (char *)"pr-42";
	f->plan.kind = ENV_KIND_PREVIEW;
	f->plan.namespace_ = (char *)"shop-pr-42";
	f->plan.url = (char *)"https://pr-42.preview.example.com";
	f->plan.vars = cJSON_Parse("{\"env\":{\"name\":\"pr-42\"},"
				   "\"pr\":{\"title\":\"$(touch pwned); `id` && echo hi | cat > x; *\"}}");
	f->cap = tmpfile();
	log_set_streams(f->cap, f->cap);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	log_set_streams(NULL, NULL);
	log_reset();
	fclose(f->cap);
	tu_rm_rf(f->dir);
	free(f->dir);
	cJSON_Delete(f->cfg.provider);
	cJSON_Delete(f->plan.vars);
	free(f);
	return 0;
}

static char *captured(struct fx *f)
{
	long n;
	char *s;

	fflush(f->cap);
	n = ftell(f->cap);
	s = calloc(1, (size_t)n + 1);
	rewind(f->cap);
	if (fread(s, 1, (size_t)n, f->cap) != (size_t)n)
		s[0] = 0;
	return s;
}

/* provider = {"deploy": argv, ...extra JSON members} */
static void set_provider(struct fx *f, const char *json)
{
	cJSON_Delete(f->cfg.provider);
	f->cfg.provider = cJSON_Parse(json);
	assert_non_null(f->cfg.provider);
}

static int run_op(struct fx *f, enum prenv_op op, const cJSON *objects, int dry,
		  struct provider_result *res, struct prenv_err *err)
{
	struct provider_run run;
	const char *envp[] = { "PATH=/usr/bin:/bin", "HOME=/nonexistent", "PRENV_ENV=stale", NULL };

	memset(&run, 0, sizeof(run));
	memset(res, 0, sizeof(*res));
	run.cfg = &f->cfg;
	run.ctx = &f->ctx;
	run.plan = &f->plan;
	run.envp = envp;
	run.dry_run = dry;
	run.wait_seconds = -1;
	return provider_once(&command_provider, op, &run, objects, res, err);
}

static void test_command_environment_and_manifests(void **state)
{
	struct fx *f = *state;
	struct provider_result res;
	struct prenv_err err = PRENV_ERR_INIT;
	cJSON *objs = cJSON_Parse("[{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"web\"}},"
				  "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\"}}]");
	char json[1024], *out, *mdir, *nl;

	snprintf(json, sizeof(json),
		 "{\"deploy\":[\"/bin/sh\",\"-c\","
		 "\"env | grep -E '^(PRENV_|REGION=|HOME=)' | sort > \\\"$OUT\\\"; "
		 "ls \\\"$PRENV_MANIFESTS\\\" >> \\\"$OUT\\\"; "
		 "cat \\\"$PRENV_MANIFESTS\\\"/002-deployment-web.json | tr -d ' \\\\n\\\\t' >> \\\"$OUT\\\"\"],"
		 "\"env\":{\"REGION\":\"eu-west-1\",\"OUT\":\"%s/env.txt\"}}", f->dir);
	set_provider(f, json);
	assert_int_equal(run_op(f, PRENV_OP_DEPLOY, objs, 0, &res, &err), 0);
	assert_string_equal(res.status, "ready");
	assert_string_equal(res.url, "https://pr-42.preview.example.com");
	provider_result_clear(&res);
	out = tu_read(f->dir, "env.txt");
	assert_non_null(out);
	assert_non_null(strstr(out, "HOME=/nonexistent\n"));   /* inherited */
	assert_non_null(strstr(out, "PRENV_APP=shop\n"));
	assert_non_null(strstr(out, "PRENV_ENV=pr-42\n"));     /* replaces the inherited one */
	assert_null(strstr(out, "PRENV_ENV=stale"));
	assert_non_null(strstr(out, "PRENV_ENV_KIND=preview\n"));
	assert_non_null(strstr(out, "PRENV_NAMESPACE=shop-pr-42\n"));
	assert_non_null(strstr(out, "PRENV_URL=https://pr-42.preview.example.com\n"));
	assert_non_null(strstr(out, "PRENV_SHA=0123456789abcdef0123456789abcdef01234567\n"));
	assert_non_null(strstr(out, "PRENV_BRANCH=feature/login\n"));
	assert_non_null(strstr(out, "PRENV_PR=42\n"));
	assert_non_null(strstr(out, "PRENV_REPO=acme/shop\n"));
	assert_non_null(strstr(out, "PRENV_URL_FILE="));
	assert_non_null(strstr(out, "REGION=eu-west-1\n"));
	assert_non_null(strstr(out, "001-service-web.json\n002-deployment-web.json\n"));
	assert_non_null(strstr(out, "\"kind\":\"Deployment\""));
	/* the temporary directory is gone afterwards */
	mdir = strstr(out, "PRENV_MANIFESTS=");
	assert_non_null(mdir);
	mdir += strlen("PRENV_MANIFESTS=");
	nl = strchr(mdir, '\n');
	*nl = 0;
	assert_false(tu_exists(mdir, ""));
	free(out);

	/* no PR: PRENV_PR is empty */
	f->ctx.has_pr = 0;
	assert_int_equal(run_op(f, PRENV_OP_DEPLOY, NULL, 0, &res, &err), 0);
	provider_result_clear(&res);
	out = tu_read(f->dir, "env.txt");
	assert_non_null(strstr(out, "PRENV_PR=\n"));
	free(out);
	cJSON_Delete(objs);
	prenv_err_clear(&err);
}

static void test_command_url_file(void **state)
{
	struct fx *f = *state;
	struct provider_result res;
	struct prenv_err err = PRENV_ERR_INIT;

	set_provider(f, "{\"deploy\":[\"/bin/sh\",\"-c\","
		     "\"echo deploying; printf '  https://app-42.example.net/\\\\n' > \\\"$PRENV_URL_FILE\\\"\"]}");
	assert_int_equal(run_op(f, PRENV_OP_DEPLOY, NULL, 0, &res, &err), 0);
	assert_string_equal(res.url, "https://app-42.example.net/");
	provider_result_clear(&res);
	prenv_err_clear(&err);
}

static void test_command_failure_reports_last_lines(void **state)
{
	struct fx *f = *state;
	struct provider_result res;
	struct prenv_err err = PRENV_ERR_INIT;
	char *log;

	set_provider(f, "{\"destroy\":[\"/bin/sh\",\"-c\","
		     "\"i=1; while [ $i -le 30 ]; do echo line $i; i=$((i+1)); done; "
		     "echo oops >&2; exit 3\"]}");
	assert_int_equal(run_op(f, PRENV_OP_DESTROY, NULL, 0, &res, &err), PRENV_EFAIL);
	assert_string_equal(res.status, "failed");
	assert_string_equal(res.reason, "command `destroy` exited with status 3");
	assert_string_equal(err.msg, "command `destroy` exited with status 3");
	assert_non_null(res.detail);
	assert_non_null(strstr(res.detail, "line 12\n"));
	assert_non_null(strstr(res.detail, "line 30\noops\n"));
	assert_null(strstr(res.detail, "line 11\n"));   /* only the last 20 lines */
	provider_result_clear(&res);
	/* every line was streamed through the logger */
	log = captured(f);
	assert_non_null(strstr(log, "[destroy] line 1\n"));
	assert_non_null(strstr(log, "[destroy] oops\n"));
	free(log);
	prenv_err_clear(&err);
}

static void test_command_output_is_masked(void **state)
{
	struct fx *f = *state;
	struct provider_result res;
	struct prenv_err err = PRENV_ERR_INIT;
	char *log;

	assert_int_equal(log_add_secret("tok-SECRET-98765"), 0);
	set_provider(f, "{\"deploy\":[\"/bin/sh\",\"-c\","
		     "\"echo using tok-SECRET-98765 now; echo x-tok-SECRET-98765-y >&2; exit 1\"]}");
	assert_int_equal(run_op(f, PRENV_OP_DEPLOY, NULL, 0, &res, &err), PRENV_EFAIL);
	log = captured(f);
	assert_null(strstr(log, "tok-SECRET-98765"));
	assert_non_null(strstr(log, "using *** now"));
	assert_non_null(strstr(log, "x-***-y"));
	assert_null(strstr(res.detail, "tok-SECRET-98765"));
	assert_non_null(strstr(res.detail, "using *** now"));
	free(log);
	provider_result_clear(&res);
	prenv_err_clear(&err);
}

static void test_command_argv_metacharacters_literal(void **state)
{
	struct fx *f = *state;
	struct provider_result res;
	struct prenv_err err = PRENV_ERR_INIT;
	char *log;

	/* printf receives the rendered title as ONE argument: no shell runs. */
	set_provider(f, "{\"deploy\":[\"printf\",\"<%s>\\\\n\",\"{{pr.title}}\",\"{{env.name}} ; ls\"]}");
	assert_int_equal(chdir(f->dir), 0);
	assert_int_equal(run_op(f, PRENV_OP_DEPLOY, NULL, 0, &res, &err), 0);
	provider_result_clear(&res);
	log = captured(f);
	assert_non_null(strstr(log, "<$(touch pwned); `id` && echo hi | cat > x; *>\n"));
	assert_non_null(strstr(log, "<pr-42 ; ls>\n"));
	free(log);
	assert_false(tu_exists(f->dir, "pwned"));
	assert_false(tu_exists(f->dir, "x"));
	assert_int_equal(chdir("/"), 0);
	prenv_err_clear(&err);
}

static void test_command_missing_program(void **state)
{
	struct fx *f = *state;
	struct provider_result res;
	struct prenv_err err = PRENV_ERR_INIT;

	set_provider(f, "{\"deploy\":[\"prenv-no-such-program-xyz\",\"a\"]}");
	assert_int_equal(run_op(f, PRENV_OP_DEPLOY, NULL, 0, &res, &err), PRENV_ECONFIG);
	assert_non_null(strstr(err.msg, "prenv-no-such-program-xyz"));
	assert_non_null(strstr(err.msg, "not found"));
	provider_result_clear(&res);
	/* no deploy list at all */
	set_provider(f, "{\"destroy\":[\"true\"]}");
	assert_int_equal(run_op(f, PRENV_OP_DEPLOY, NULL, 0, &res, &err), PRENV_ECONFIG);
	provider_result_clear(&res);
	/* status is optional */
	assert_int_equal(run_op(f, PRENV_OP_STATUS, NULL, 0, &res, &err), 0);
	assert_string_equal(res.status, "unknown");
	provider_result_clear(&res);
	prenv_err_clear(&err);
}

static void test_command_timeout_kills_group(void **state)
{
	struct fx *f = *state;
	struct provider_result res;
	struct prenv_err err = PRENV_ERR_INIT;
	struct timespec a, b;
	double took;

	/* The shell starts a child sleep; both must go. */
	set_provider(f, "{\"deploy\":[\"/bin/sh\",\"-c\",\"echo start; sleep 30; echo never\"],"
		     "\"timeout\":1}");
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(run_op(f, PRENV_OP_DEPLOY, NULL, 0, &res, &err), PRENV_EFAIL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	took = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	printf("# timeout 1 s: stopped after %.2f s\n", took);
	assert_true(took < 5.0);
	assert_non_null(strstr(res.reason, "timed out after 1 s"));
	assert_non_null(strstr(res.detail, "start"));
	assert_null(strstr(res.detail, "never"));
	provider_result_clear(&res);
	prenv_err_clear(&err);
}

static void test_command_dry_run_runs_nothing(void **state)
{
	struct fx *f = *state;
	struct provider_result res;
	struct prenv_err err = PRENV_ERR_INIT;
	char json[600];

	snprintf(json, sizeof(json), "{\"deploy\":[\"touch\",\"%s/ran\"]}", f->dir);
	set_provider(f, json);
	assert_int_equal(run_op(f, PRENV_OP_DEPLOY, NULL, 1, &res, &err), 0);
	provider_result_clear(&res);
	assert_false(tu_exists(f->dir, "ran"));
	assert_int_equal(run_op(f, PRENV_OP_DEPLOY, NULL, 0, &res, &err), 0);
	provider_result_clear(&res);
	assert_true(tu_exists(f->dir, "ran"));
	prenv_err_clear(&err);
}

/* A CI agent that ignores SIGCHLD makes the kernel reap children itself, so
 * waitpid() fails with ECHILD: the exit status must still be seen (a failed
 * command is never "ready"), the command runs with SIGCHLD at its default,
 * and prenv's caller gets its disposition back. */
static void test_command_sigchld_ignored_by_parent(void **state)
{
	struct fx *f = *state;
	struct provider_result res;
	struct prenv_err err = PRENV_ERR_INIT;
	struct sigaction ign, old, now;
	const char *line;
	char *log;

	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	assert_int_equal(sigaction(SIGCHLD, &ign, &old), 0);
	set_provider(f, "{\"deploy\":[\"/bin/sh\",\"-c\",\"echo partial; exit 1\"]}");
	assert_int_equal(run_op(f, PRENV_OP_DEPLOY, NULL, 0, &res, &err), PRENV_EFAIL);
	assert_string_equal(res.status, "failed");
	assert_string_equal(res.reason, "command `deploy` exited with status 1");
	provider_result_clear(&res);
	prenv_err_clear(&err);
	/* what the command itself sees: SigIgn without SIGCHLD (bit 17 - 1) */
	set_provider(f, "{\"deploy\":[\"/bin/sh\",\"-c\",\"grep SigIgn /proc/self/status\"]}");
	assert_int_equal(run_op(f, PRENV_OP_DEPLOY, NULL, 0, &res, &err), 0);
	assert_string_equal(res.status, "ready");
	provider_result_clear(&res);
	log = captured(f);
	line = strstr(log, "SigIgn:");
	assert_non_null(line);
	assert_int_equal(strtoull(line + 7, NULL, 16) & (1ull << (SIGCHLD - 1)), 0);
	free(log);
	assert_int_equal(sigaction(SIGCHLD, NULL, &now), 0);
	assert_true(now.sa_handler == SIG_IGN);
	assert_int_equal(sigaction(SIGCHLD, &old, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_command_environment_and_manifests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_command_url_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_command_failure_reports_last_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_command_output_is_masked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_command_argv_metacharacters_literal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_command_missing_program, setup, teardown),
		cmocka_unit_test_setup_teardown(test_command_timeout_kills_group, setup, teardown),
		cmocka_unit_test_setup_teardown(test_command_dry_run_runs_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_command_sigchld_ignored_by_parent, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
