/* cli.c - prenv_main: options, the command table, dispatch, exit code. */
#include "cli/cli.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "config/plan.h"
#include "context/ci.h"
#include "report/codehost.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/fs.h"
#include "util/log.h"

static const struct cmd_entry *const commands[] = {
	&cmd_context_entry,
	&cmd_render_entry,
	&cmd_deploy_entry,
	&cmd_destroy_entry,
	&cmd_status_entry,
	&cmd_gc_entry,
	&cmd_sleep_entry,
	&cmd_wake_entry,
	&cmd_touch_entry,
	&cmd_list_entry,
	&cmd_version_entry,
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const char global_help[] =
	"usage: prenv [-c FILE] [-o text|json] [-v|-q] [--dry-run] COMMAND [options]\n"
	"\n"
	"Global options:\n"
	"  -c, --config FILE  configuration file (default: $PRENV_CONFIG, .prenv.yml)\n"
	"  -o, --output FMT   text (default) or json; render also takes yaml\n"
	"  -v, --verbose      more detail (twice: debug)\n"
	"  -q, --quiet        errors and warnings only\n"
	"  --dry-run          change nothing\n"
	"  --kubeconfig FILE  the kubeconfig (kubernetes; default: PRENV_KUBECONFIG,\n"
	"                     KUBECONFIG, ~/.kube/config, in-cluster)\n"
	"  --env NAME         act on environment NAME instead of this run's (context,\n"
	"                     render, status, destroy; `prenv list` shows them)\n"
	"  --now TIME         the clock of gc, sleep, wake and touch (RFC 3339): tests,\n"
	"                     dry runs\n"
	"  -h, --help         this help; `prenv COMMAND --help` for one command\n"
	"\n"
	"Exit codes: 0 success, 1 the operation failed, 2 usage or configuration\n"
	"error (nothing was changed), 3 authentication or permission error.\n";

static void print_usage(FILE *f)
{
	size_t i;

	fputs(global_help, f);
	fputs("\nCommands:\n", f);
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-9s %s\n", commands[i]->name, commands[i]->summary);
}

static const struct cmd_entry *find_cmd(const char *name)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i]->name, name))
			return commands[i];
	return NULL;
}

/* ------------------------------------------------------------ secrets, CI */

/* Registers the secrets the environment carries, before anything is printed. */
static void register_env_secrets(const char *const *envp)
{
	static const char *const names[] = {
		"GITHUB_TOKEN", "PRENV_GITHUB_TOKEN", "GITLAB_TOKEN", "PRENV_GITLAB_TOKEN",
		"CI_JOB_TOKEN", "PRENV_GIT_TOKEN", "PRENV_KUBECONFIG", "PRENV_KUBE_TOKEN",
		"ACTIONS_RUNTIME_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "GH_TOKEN", NULL,
	};
	struct prenv_buf name = PRENV_BUF_INIT;
	const char *extra, *p;
	size_t i;

	for (i = 0; names[i]; i++) {
		const char *v = ci_getenv(envp, names[i]);

		if (v)
			log_add_secret(v);
	}
	/* PRENV_KUBECONFIG_<KIND>: a kubeconfig per environment kind */
	for (i = 0; envp && envp[i]; i++) {
		const char *eq = strchr(envp[i], '=');

		if (!strncmp(envp[i], "PRENV_KUBECONFIG_", 17) && eq && eq[1])
			log_add_secret(eq + 1);
	}
	/* PRENV_SECRETS: names of further variables to mask, comma-separated. */
	extra = ci_getenv(envp, "PRENV_SECRETS");
	for (p = extra; p; p++) {
		if (*p == ',' || *p == '\0') {
			const char *v = name.len ? ci_getenv(envp, name.ptr) : NULL;

			if (v)
				log_add_secret(v);
			prenv_buf_reset(&name);
			if (!*p)
				break;
		} else if (*p != ' ') {
			prenv_buf_addc(&name, *p);
		}
	}
	prenv_buf_free(&name);
}

static enum log_ci log_ci_from_env(const char *const *envp)
{
	if (ci_getenv(envp, "GITHUB_ACTIONS"))
		return LOG_CI_GITHUB;
	if (ci_getenv(envp, "GITLAB_CI"))
		return LOG_CI_GITLAB;
	if (ci_getenv(envp, "JENKINS_URL"))
		return LOG_CI_JENKINS;
	return LOG_CI_NONE;
}

/* ------------------------------------------------------------ options */

/* Returns the option's argument: "--opt=value" or the next argv element. */
static const char *opt_arg(int argc, char **argv, int *i, const char *arg, const char *name)
{
	const char *eq = strchr(arg, '=');

	if (arg[1] == '-' && eq)
		return eq + 1;
	if (*i + 1 >= argc) {
		fprintf(stderr, "prenv: error: option %s needs a value; see `prenv --help`\n", name);
		return NULL;
	}
	return argv[++*i];
}

static int opt_is(const char *arg, const char *long_name)
{
	size_t n = strlen(long_name);

	return !strncmp(arg, long_name, n) && (arg[n] == '\0' || arg[n] == '=');
}

/* --wait: a duration like the config's (bare seconds, 300s, 5m, 1h30m),
 * at most CONFIG_DUR_MAX. Returns 0, or 2 (usage error, printed). */
static int parse_wait_arg(const char *s, int *out)
{
	long v = config_parse_duration(s);

	if (v == -2) {
		fprintf(stderr, "prenv: error: --wait is too long: at most 365d (a year), not '%s'\n", s);
		return 2;
	}
	if (v < 0) {
		fprintf(stderr, "prenv: error: --wait takes a duration like 300, 300s, 5m or 1h30m "
			"(0 = don't wait), not '%s'\n", s);
		return 2;
	}
	*out = (int)v;
	return 0;
}

/* A flag without a value: 1 when a is one (and it was applied). */
static int parse_flag(struct cli *cli, const char *a, int *help)
{
	if (!strcmp(a, "-h") || !strcmp(a, "--help"))
		*help = 1;
	else if (!strcmp(a, "-v") || !strcmp(a, "--verbose"))
		cli->verbosity++;
	else if (!strcmp(a, "-vv"))
		cli->verbosity += 2;
	else if (!strcmp(a, "-q") || !strcmp(a, "--quiet"))
		cli->verbosity = LOG_QUIET;
	else if (!strcmp(a, "--dry-run"))
		cli->dry_run = 1;
	else if (!strcmp(a, "--allow-missing"))
		cli->allow_missing = 1;
	else if (!strcmp(a, "--no-wait"))
		cli->no_wait = 1;
	else if (!strcmp(a, "--strict-report"))
		cli->strict_report = 1;
	else if (!strcmp(a, "--reseed"))
		cli->reseed = 1;
	else if (!strcmp(a, "--keep-on-teardown-failure"))
		cli->keep_on_teardown_failure = 1;
	else if (!strcmp(a, "--all"))
		cli->all = 1;
	else
		return 0;
	return 1;
}

/* An option with a value at argv[*i]. Returns 0, or 2 (usage error,
 * already printed). */
static int parse_valued(struct cli *cli, int argc, char **argv, int *i)
{
	const char *a = argv[*i], *v;

	if (!strcmp(a, "-c") || opt_is(a, "--config")) {
		if (!(cli->config_path = opt_arg(argc, argv, i, a, "--config")))
			return 2;
	} else if (!strcmp(a, "-o") || opt_is(a, "--output")) {
		if (!(cli->output = opt_arg(argc, argv, i, a, "--output")))
			return 2;
		if (strcmp(cli->output, "text") && strcmp(cli->output, "json") &&
		    strcmp(cli->output, "yaml")) {
			fprintf(stderr, "prenv: error: -o takes text, json or yaml, not '%s'\n", cli->output);
			return 2;
		}
	} else if (opt_is(a, "--out")) {
		if (!(cli->out_dir = opt_arg(argc, argv, i, a, "--out")))
			return 2;
	} else if (opt_is(a, "--kubeconfig")) {
		if (!(cli->kubeconfig = opt_arg(argc, argv, i, a, "--kubeconfig")))
			return 2;
	} else if (opt_is(a, "--env")) {
		if (!(cli->env_name = opt_arg(argc, argv, i, a, "--env")))
			return 2;
	} else if (opt_is(a, "--now")) {
		if (!(v = opt_arg(argc, argv, i, a, "--now")))
			return 2;
		if ((cli->now = fs_parse_rfc3339(v)) <= 0) {
			fprintf(stderr, "prenv: error: --now takes an RFC 3339 time like 2026-03-30T06:00:00Z "
				"or 2026-03-30T08:00:00+02:00, not '%s'\n", v);
			return 2;
		}
	} else if (opt_is(a, "--forks")) {
		if (!(cli->forks = opt_arg(argc, argv, i, a, "--forks")))
			return 2;
		if (strcmp(cli->forks, "deploy") && strcmp(cli->forks, "skip")) {
			fprintf(stderr, "prenv: error: --forks takes deploy or skip, not '%s'\n", cli->forks);
			return 2;
		}
	} else if (opt_is(a, "--wait")) {
		if (!(v = opt_arg(argc, argv, i, a, "--wait")))
			return 2;
		if (parse_wait_arg(v, &cli->wait_seconds))
			return 2;
	} else {
		fprintf(stderr, "prenv: error: unknown option '%s'; see `prenv --help`\n", a);
		return 2;
	}
	return 0;
}

/* Parses argv into cli and *cmd. Returns 0, or 2 (usage error, printed). */
static int parse_args(struct cli *cli, int argc, char **argv, const struct cmd_entry **cmd,
		      int *help)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (a[0] != '-' || a[1] == '\0') {
			if (*cmd) {
				fprintf(stderr, "prenv: error: unexpected argument '%s'; see `prenv %s --help`\n",
					a, (*cmd)->name);
				return 2;
			}
			if (!(*cmd = find_cmd(a))) {
				fprintf(stderr, "prenv: error: unknown command '%s'\n\n", a);
				print_usage(stderr);
				return 2;
			}
			continue;
		}
		if (!parse_flag(cli, a, help) && parse_valued(cli, argc, argv, &i))
			return 2;
	}
	if (i < argc) {
		fprintf(stderr, "prenv: error: unexpected argument '%s'\n", argv[i]);
		return 2;
	}
	return 0;
}

/* ------------------------------------------------------------ main */

/* A deploy or destroy that failed before it reported (a configuration
 * error, exit 2) still tells the job: status=failed and why. */
static void failed_outputs(struct cli *cli, const struct prenv_err *err)
{
	struct reporter *r = &cli->rep;

	if (!r->envp) {
		r->envp = cli->envp;
		r->cfg = cli->cfg;
		r->ctx = cli->ctx;
		r->plan = cli->plan;
		r->dry_run = cli->dry_run;
	}
	reporter_outputs(r, "failed", err->msg);
}

static void cli_free(struct cli *cli)
{
	reporter_clear(&cli->rep);
	provider_close(cli->session);
	cJSON_Delete(cli->secrets);
	cli_logical_free(cli->logical);
	codehost_free(cli->codehost);
	plan_free(cli->plan);
	config_free(cli->cfg);
	ci_context_free(cli->ctx);
}

int prenv_main(int argc, char **argv, const char *const *envp)
{
	struct cli cli;
	struct prenv_err err = PRENV_ERR_INIT;
	const struct cmd_entry *cmd = NULL;
	int help = 0, rc, color;

	/* A CI agent may start prenv with SIGCHLD ignored (inherited across
	 * exec); the kernel would then reap every child prenv runs (commands,
	 * exec credential plugins) and their exit status would be lost. */
	signal(SIGCHLD, SIG_DFL);
	memset(&cli, 0, sizeof(cli));
	cli.envp = envp;
	cli.output = "text";
	cli.wait_seconds = -1;
	if (parse_args(&cli, argc, argv, &cmd, &help))
		return 2;
	if (help) {
		if (cmd)
			printf("usage: prenv [global options] %s [options]\n\n%s\n%s", cmd->name,
			       cmd->summary, cmd->help);
		else
			print_usage(stdout);
		return 0;
	}
	if (!cmd) {
		print_usage(stderr);
		return 2;
	}

	color = isatty(2) && !ci_getenv(envp, "NO_COLOR") && !ci_getenv(envp, "CI");
	log_setup(log_ci_from_env(envp), cli.verbosity, color);
	register_env_secrets(envp);

	rc = cmd->fn(&cli, &err);
	if (rc < 0) {
		if (!err.code)
			prenv_err_set(&err, rc, "%s failed", cmd->name);
		log_err(&err);
		if (cmd->outputs)
			failed_outputs(&cli, &err);
	}
	rc = prenv_err_exit_code(rc);
	cli_free(&cli);
	prenv_err_clear(&err);
	log_reset();
	return rc;
}
