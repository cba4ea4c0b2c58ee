/* command.c - provider.kind: command, the escape hatch (helm, terraform,
 * docker compose over ssh, ...).
 *
 *   provider:
 *     kind: command
 *     deploy:  ["./deploy.sh", "--env", "{{env.name}}"]
 *     destroy: ["./destroy.sh", "{{env.name}}"]
 *     status:  ["./status.sh"]          # optional
 *     env:     { REGION: eu-west-1 }    # optional, literal values
 *     timeout: 1800                     # seconds (config accepts "30m")
 *
 * Each argv element is a Mustache template rendered without escaping and
 * passed to posix_spawnp() as one argument: there is no shell, so a value
 * such as "; rm -rf /" or "$(id)" arrives as those literal characters.
 *
 * The child's environment is prenv's own plus PRENV_APP, PRENV_ENV,
 * PRENV_ENV_KIND, PRENV_NAMESPACE, PRENV_URL, PRENV_SHA, PRENV_BRANCH,
 * PRENV_PR (empty when there is none), PRENV_REPO, PRENV_MANIFESTS (a
 * temporary directory holding the rendered documents, one JSON file per
 * object named NNN-kind-name.json; JSON is valid YAML), PRENV_URL_FILE (a
 * path: what the command writes there becomes the environment's URL) and the
 * config's env entries. Output (stdout and stderr merged) is streamed line by
 * line through the logger, so registered secrets are masked; the last 20
 * lines go into the report when the command fails. After the timeout
 * (default 30 minutes) the whole process group gets SIGTERM, then SIGKILL.
 */
#include "command/command.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"
#include "context/ci.h"
#include "config/config.h"
#include "util/err.h"
#include "util/fs.h"
#include "util/log.h"
#include "config/plan.h"
#include "render/tmpl.h"

#define TAIL_LINES 20
#define LINE_MAX_BYTES 8192

static const char *const op_names[] = { "deploy", "destroy", "status" };

/* ------------------------------------------------------------ output */

struct tail {
	char *lines[TAIL_LINES];
	size_t next, count;
	struct prenv_buf partial;
	const char *op;
};

static void tail_line(struct tail *t, const char *s, size_t len)
{
	char *masked;

	if (len && s[len - 1] == '\r')
		len--;
	masked = log_mask_dup(s, len, NULL);
	if (!masked)
		return;
	log_info("[%s] %s", t->op, masked);
	free(t->lines[t->next]);
	t->lines[t->next] = masked;
	t->next = (t->next + 1) % TAIL_LINES;
	if (t->count < TAIL_LINES)
		t->count++;
}

static void tail_feed(struct tail *t, const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] == '\n') {
			tail_line(t, t->partial.ptr, t->partial.len);
			prenv_buf_reset(&t->partial);
		} else if (t->partial.len < LINE_MAX_BYTES) {
			prenv_buf_addc(&t->partial, p[i]);
		}
	}
}

static void tail_flush(struct tail *t)
{
	if (t->partial.len) {
		tail_line(t, t->partial.ptr, t->partial.len);
		prenv_buf_reset(&t->partial);
	}
}

static char *tail_join(struct tail *t)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	size_t i, start = (t->next + TAIL_LINES - t->count) % TAIL_LINES;

	if (!t->count)
		return NULL;
	for (i = 0; i < t->count; i++) {
		prenv_buf_adds(&b, t->lines[(start + i) % TAIL_LINES]);
		prenv_buf_addc(&b, '\n');
	}
	return b.failed ? NULL : prenv_buf_detach(&b, NULL);
}

static void tail_free(struct tail *t)
{
	size_t i;

	for (i = 0; i < TAIL_LINES; i++)
		free(t->lines[i]);
	prenv_buf_free(&t->partial);
}

/* ------------------------------------------------------- environment */

struct envv {
	char **v;
	size_t n;
	int failed;
};

static int env_has_name(const char *entry, const char *name)
{
	size_t n = strlen(name);

	return strncmp(entry, name, n) == 0 && entry[n] == '=';
}

static void env_push(struct envv *e, char *s)
{
	char **nv;

	if (!s) {
		e->failed = 1;
		return;
	}
	nv = realloc(e->v, (e->n + 2) * sizeof(*nv));
	if (!nv) {
		free(s);
		e->failed = 1;
		return;
	}
	e->v = nv;
	e->v[e->n++] = s;
	e->v[e->n] = NULL;
}

static void env_set(struct envv *e, const char *name, const char *value)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	size_t i;

	for (i = 0; i < e->n; i++)
		if (env_has_name(e->v[i], name)) {
			free(e->v[i]);
			memmove(e->v + i, e->v + i + 1, (e->n - i) * sizeof(*e->v));
			e->n--;
			break;
		}
	prenv_buf_printf(&b, "%s=%s", name, value ? value : "");
	env_push(e, b.failed ? NULL : prenv_buf_detach(&b, NULL));
}

static void env_free(struct envv *e)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		free(e->v[i]);
	free(e->v);
}

/* ---------------------------------------------------------- temp files */

static void safe_part(struct prenv_buf *b, const char *s)
{
	for (; s && *s; s++) {
		char c = *s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.')
			prenv_buf_addc(b, c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c);
		else
			prenv_buf_addc(b, '_');
	}
}

static int write_manifests(const char *dir, const cJSON *objects, struct prenv_err *err)
{
	const cJSON *o;
	unsigned i = 0;
	int rc = 0;

	cJSON_ArrayForEach(o, objects) {
		const cJSON *meta = cJSON_GetObjectItemCaseSensitive(o, "metadata");
		const cJSON *kind = cJSON_GetObjectItemCaseSensitive(o, "kind");
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(meta, "name");
		struct prenv_buf p = PRENV_BUF_INIT;
		char *text = cJSON_Print(o);
		FILE *f;

		prenv_buf_printf(&p, "%s/%03u-", dir, ++i);
		safe_part(&p, cJSON_IsString(kind) ? kind->valuestring : "object");
		prenv_buf_addc(&p, '-');
		safe_part(&p, cJSON_IsString(name) ? name->valuestring : "unnamed");
		prenv_buf_adds(&p, ".json");
		if (!text || p.failed) {
			rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
		} else if (!(f = fopen(p.ptr, "wx")) || fputs(text, f) < 0 || fputc('\n', f) < 0 ||
			   fclose(f) != 0) {
			rc = prenv_err_set(err, PRENV_EFAIL, "command: cannot write %s: %s", p.ptr,
					   strerror(errno));
		}
		free(text);
		prenv_buf_free(&p);
		if (rc < 0)
			break;
	}
	return rc;
}

/* --------------------------------------------------------------- run */

/* Runs argv, streaming its output into t. *status: the waitpid status;
 * *timed_out: 1 when it was killed for running too long. */
static int spawn_and_wait(char *const *argv, char *const *envp, long timeout, struct tail *t,
			  int *status, int *timed_out, struct prenv_err *err)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	int pfd[2] = { -1, -1 };
	double deadline = (fs_now_ms() / 1000.0) + (double)timeout, killed_at = 0;
	pid_t pid = -1;
	int rc = 0, exited = 0, eof = 0;

	*timed_out = 0;
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return prenv_err_set(err, PRENV_EFAIL, "command: pipe: %s", strerror(errno));
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
	/* Its own process group, so a timeout can stop its children too. */
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
	rc = posix_spawnp(&pid, argv[0], &fa, &at, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(pfd[1]);
	if (rc != 0) {
		close(pfd[0]);
		if (rc == ENOENT)
			return prenv_err_set(err, PRENV_ECONFIG,
					     "command `%s`: \"%s\" was not found (looked in PATH when "
					     "it has no '/'); install it or fix provider.%s[0]",
					     t->op, argv[0], t->op);
		return prenv_err_set(err, PRENV_EFAIL, "command `%s`: cannot run \"%s\": %s", t->op,
				     argv[0], strerror(rc));
	}
	rc = 0;
	while (!exited || !eof) {
		struct pollfd p = { pfd[0], POLLIN, 0 };
		double left = deadline - (fs_now_ms() / 1000.0);
		int ms = 200, k;

		if (!killed_at && left <= 0) {
			*timed_out = 1;
			kill(-pid, SIGTERM);
			killed_at = (fs_now_ms() / 1000.0);
		} else if (killed_at && (fs_now_ms() / 1000.0) - killed_at > 5) {
			kill(-pid, SIGKILL);
		}
		if (!eof) {
			k = poll(&p, 1, ms);
			if (k > 0) {
				char buf[4096];
				ssize_t n = read(pfd[0], buf, sizeof(buf));

				if (n > 0)
					tail_feed(t, buf, (size_t)n);
				else if (n == 0 || (errno != EINTR && errno != EAGAIN))
					eof = 1;
			}
		}
		if (!exited) {
			pid_t w = waitpid(pid, status, WNOHANG);

			if (w == pid) {
				exited = 1;
			} else if (w < 0 && errno != EINTR) {
				/* Its end is unknown: never report that as success. */
				int e = errno;

				exited = 1;
				rc = prenv_err_set(err, PRENV_EFAIL, "command `%s`: cannot learn how "
						   "it ended (waitpid: %s); counting it as failed",
						   t->op, strerror(e));
			} else if (eof) {
				/* Output closed, still running: wait, minding the timeout. */
				struct timespec ts = { 0, 50 * 1000000L };

				nanosleep(&ts, NULL);
			}
		} else if (!eof) {
			/* The command is done but something it started still holds
			 * the pipe: read what is there now and stop. */
			p.revents = 0;
			if (poll(&p, 1, 0) <= 0)
				eof = 1;
		}
	}
	tail_flush(t);
	close(pfd[0]);
	return rc;
}

/* A CI agent may start prenv with SIGCHLD ignored (inherited across exec):
 * the kernel then reaps the child itself, waitpid() fails with ECHILD and the
 * exit status is lost. While the command runs SIGCHLD is at its default (the
 * command inherits that too: its own children behave); the caller's
 * disposition comes back afterwards. */
static int run_with_sigchld_default(char *const *argv, char *const *envp, long timeout,
				    struct tail *t, int *status, int *timed_out,
				    struct prenv_err *err)
{
	struct sigaction dfl, old;
	int rc, saved;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	saved = sigaction(SIGCHLD, &dfl, &old) == 0;
	rc = spawn_and_wait(argv, envp, timeout, t, status, timed_out, err);
	if (saved)
		sigaction(SIGCHLD, &old, NULL);
	return rc;
}

static const cJSON *cfg_item(const struct provider_run *run, const char *key)
{
	return run->cfg && run->cfg->provider
		? cJSON_GetObjectItemCaseSensitive(run->cfg->provider, key) : NULL;
}

static char *trim_url(char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = 0;
	return s;
}

/* One run of a command: what command_run builds and frees. */
struct cmd_job {
	const char *op;
	char **argv;
	size_t argc;
	long timeout;
	struct envv env;
	struct prenv_buf tmp, mdir, ufile;
	struct tail t;
};

static void job_free(struct cmd_job *j)
{
	size_t i;

	if (j->tmp.len && j->tmp.ptr[0])
		fs_rm_tree(j->tmp.ptr);
	for (i = 0; j->argv && i < j->argc; i++)
		free(j->argv[i]);
	free(j->argv);
	env_free(&j->env);
	tail_free(&j->t);
	prenv_buf_free(&j->tmp);
	prenv_buf_free(&j->mdir);
	prenv_buf_free(&j->ufile);
}

/* Renders provider.<op> (each element a template, no escaping) into
 * j->argv. */
static int job_argv(struct cmd_job *j, const cJSON *argv_json, const cJSON *vars,
		    struct prenv_err *err)
{
	const cJSON *item;
	size_t i = 0;

	j->argc = (size_t)cJSON_GetArraySize(argv_json);
	if (!(j->argv = calloc(j->argc + 1, sizeof(*j->argv))))
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	cJSON_ArrayForEach(item, argv_json) {
		char where[64];

		snprintf(where, sizeof(where), "provider.%s[%zu]", j->op, i);
		if (!cJSON_IsString(item))
			return prenv_err_set(err, PRENV_ECONFIG, "command: %s must be a string", where);
		j->argv[i] = tmpl_render_string(item->valuestring, vars, where, err);
		if (!j->argv[i])
			return err && err->code ? err->code : PRENV_ENOMEM;
		i++;
	}
	if (!j->argv[0][0])
		return prenv_err_set(err, PRENV_ECONFIG, "command: provider.%s[0] (the program) is empty",
				     j->op);
	return 0;
}

/* The temporary directory with the manifests and the URL file. */
static int job_files(struct cmd_job *j, const cJSON *objects, struct prenv_err *err)
{
	const char *tdir = getenv("TMPDIR");

	prenv_buf_printf(&j->tmp, "%s/prenv-cmd-XXXXXX", tdir && *tdir ? tdir : "/tmp");
	if (j->tmp.failed || !mkdtemp(j->tmp.ptr)) {
		int e = errno;

		prenv_buf_free(&j->tmp);
		return prenv_err_set(err, PRENV_EFAIL, "command: cannot create a temporary directory: %s",
				     strerror(e));
	}
	prenv_buf_printf(&j->mdir, "%s/manifests", j->tmp.ptr);
	prenv_buf_printf(&j->ufile, "%s/url", j->tmp.ptr);
	if (j->mdir.failed || j->ufile.failed || mkdir(j->mdir.ptr, 0700) < 0)
		return prenv_err_set(err, PRENV_EFAIL, "command: cannot prepare %s", j->tmp.ptr);
	return objects ? write_manifests(j->mdir.ptr, objects, err) : 0;
}

/* prenv's environment plus PRENV_* and provider.env. */
static int job_env(struct cmd_job *j, const struct provider_run *run, struct prenv_err *err)
{
	const struct prenv_context *ctx = run->ctx;
	const struct prenv_plan *plan = run->plan;
	const cJSON *kv;
	char pr[32] = "";
	size_t i;

	for (i = 0; run->envp && run->envp[i]; i++)
		env_push(&j->env, strdup(run->envp[i]));
	env_set(&j->env, "PRENV_APP", run->cfg ? run->cfg->app : NULL);
	env_set(&j->env, "PRENV_ENV", plan ? plan->env_name : NULL);
	env_set(&j->env, "PRENV_ENV_KIND", plan ? env_kind_name(plan->kind) : "");
	env_set(&j->env, "PRENV_NAMESPACE", plan ? plan->namespace_ : NULL);
	env_set(&j->env, "PRENV_URL", plan ? plan->url : NULL);
	env_set(&j->env, "PRENV_SHA", ctx ? ctx->sha : NULL);
	env_set(&j->env, "PRENV_BRANCH", ctx ? ctx->branch : NULL);
	if (ctx && ctx->has_pr)
		snprintf(pr, sizeof(pr), "%ld", ctx->pr_number);
	env_set(&j->env, "PRENV_PR", pr);
	env_set(&j->env, "PRENV_REPO", ctx ? ctx->repo_full_name : NULL);
	env_set(&j->env, "PRENV_MANIFESTS", j->mdir.ptr);
	env_set(&j->env, "PRENV_URL_FILE", j->ufile.ptr);
	cJSON_ArrayForEach(kv, cfg_item(run, "env")) {
		char num[64];
		const char *v = NULL;

		if (cJSON_IsString(kv)) {
			v = kv->valuestring;
		} else if (cJSON_IsNumber(kv)) {
			snprintf(num, sizeof(num), "%.15g", kv->valuedouble);
			v = num;
		} else if (cJSON_IsBool(kv)) {
			v = cJSON_IsTrue(kv) ? "true" : "false";
		}
		if (!v || !kv->string || !*kv->string || strchr(kv->string, '='))
			return prenv_err_set(err, PRENV_ECONFIG, "command: provider.env.%s must be "
					     "a string, number or boolean with a name without '='",
					     kv->string ? kv->string : "?");
		env_set(&j->env, kv->string, v);
	}
	if (j->env.failed)
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	return 0;
}

/* A command that failed or timed out: the result and the error. */
static int job_failed(struct cmd_job *j, int status, int timed_out, struct provider_result *res,
		      struct prenv_err *err)
{
	struct prenv_buf why = PRENV_BUF_INIT;
	int rc;

	if (timed_out)
		prenv_buf_printf(&why, "command `%s` timed out after %ld s and was stopped",
				 j->op, j->timeout);
	else if (WIFSIGNALED(status))
		prenv_buf_printf(&why, "command `%s` was killed by signal %d", j->op,
				 WTERMSIG(status));
	else
		prenv_buf_printf(&why, "command `%s` exited with status %d", j->op,
				 WEXITSTATUS(status));
	res->status = strdup("failed");
	res->reason = strdup(why.ptr);
	res->detail = tail_join(&j->t);
	rc = prenv_err_set(err, PRENV_EFAIL, "%s", why.ptr);
	prenv_buf_free(&why);
	return rc;
}

/* What the command wrote to PRENV_URL_FILE becomes the URL. */
static void job_url(struct cmd_job *j, const struct provider_run *run,
		    struct provider_result *res)
{
	struct prenv_buf u = PRENV_BUF_INIT;

	if (prenv_buf_read_file(&u, j->ufile.ptr) == 0) {
		char *s = trim_url(u.ptr);

		if (*s && !strpbrk(s, "\n\r\t ")) {
			free(res->url);
			res->url = strdup(s);
		} else if (*s) {
			log_warn("command: ignoring PRENV_URL_FILE: it must hold one URL on one line");
		}
	}
	prenv_buf_free(&u);
	if (!res->url && run->plan && run->plan->url)
		res->url = strdup(run->plan->url);
}

static void job_dry_run(const struct cmd_job *j, enum prenv_op op, struct provider_result *res)
{
	struct prenv_buf line = PRENV_BUF_INIT;
	size_t i;

	for (i = 0; i < j->argc; i++)
		prenv_buf_printf(&line, "%s[%s]", i ? " " : "", j->argv[i]);
	log_info("command: would run %s: %s", j->op, line.ptr);
	prenv_buf_free(&line);
	res->status = strdup(op == PRENV_OP_DESTROY ? "destroyed" : "ready");
}

static int command_run(enum prenv_op op, const struct provider_run *run, const cJSON *objects,
		       struct provider_result *res, struct prenv_err *err)
{
	const cJSON *argv_json = cfg_item(run, op_names[op]), *te = cfg_item(run, "timeout");
	cJSON *empty = NULL;
	struct cmd_job j;
	int rc = 0, status = 0, timed_out = 0;

	memset(&j, 0, sizeof(j));
	j.op = op_names[op];
	j.timeout = cJSON_IsNumber(te) && te->valuedouble > 0 ? (long)te->valuedouble : 30 * 60;
	prenv_buf_init(&j.tmp, 0);
	prenv_buf_init(&j.mdir, 0);
	prenv_buf_init(&j.ufile, 0);
	prenv_buf_init(&j.t.partial, 0);
	j.t.op = j.op;
	if (!cJSON_IsArray(argv_json) || cJSON_GetArraySize(argv_json) == 0) {
		if (op == PRENV_OP_STATUS) {
			/* Optional: without it prenv cannot tell. */
			res->status = strdup("unknown");
			res->reason = strdup("provider.status is not set; prenv cannot check the environment");
			goto done;
		}
		rc = prenv_err_set(err, PRENV_ECONFIG, "command: provider.%s must be a non-empty list "
				   "of strings (the program and its arguments)", j.op);
		goto done;
	}
	if (!run->plan || !run->plan->vars)
		empty = cJSON_CreateObject();
	if ((rc = job_argv(&j, argv_json, empty ? empty : run->plan->vars, err)) < 0)
		goto done;
	if (run->dry_run) {
		job_dry_run(&j, op, res);
		goto done;
	}
	if ((rc = job_files(&j, objects, err)) < 0 || (rc = job_env(&j, run, err)) < 0)
		goto done;
	log_info("command: running %s (%s)", j.op, j.argv[0]);
	rc = run_with_sigchld_default(j.argv, j.env.v, j.timeout, &j.t, &status, &timed_out, err);
	if (rc < 0)
		goto done;
	if (timed_out || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		rc = job_failed(&j, status, timed_out, res, err);
		goto done;
	}
	job_url(&j, run, res);
	res->status = strdup(op == PRENV_OP_DESTROY ? "destroyed" : "ready");
	res->info = cJSON_CreateObject();
	if (res->info)
		cJSON_AddNumberToObject(res->info, "exit_status", 0);
done:
	if (rc < 0 && !res->reason && err && err->msg)
		res->reason = strdup(err->msg);
	if (rc < 0 && !res->status)
		res->status = strdup("failed");
	job_free(&j);
	cJSON_Delete(empty);
	return rc;
}

/* ------------------------------------------------------------ the interface */

/* Commands keep nothing between operations. */
struct command_session {
	struct provider_session base;
};

static int command_open(struct provider_session **out, const struct provider_run *run,
			struct prenv_err *err)
{
	struct command_session *s = calloc(1, sizeof(*s));

	(void)run;
	if (!s)
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	*out = &s->base;
	return 0;
}

static void command_close(struct provider_session *s)
{
	free(s);
}

static int command_deploy(struct provider_session *s, const struct provider_run *run,
			  const cJSON *objects, struct provider_result *res, struct prenv_err *err)
{
	(void)s;
	return command_run(PRENV_OP_DEPLOY, run, objects, res, err);
}

static int command_destroy(struct provider_session *s, const struct provider_run *run,
			   struct provider_result *res, struct prenv_err *err)
{
	(void)s;
	return command_run(PRENV_OP_DESTROY, run, NULL, res, err);
}

static int command_status(struct provider_session *s, const struct provider_run *run,
			  struct provider_result *res, struct prenv_err *err)
{
	(void)s;
	return command_run(PRENV_OP_STATUS, run, NULL, res, err);
}

static const struct config_key command_keys[] = {
	{ "deploy", CONFIG_ARGV, 1, NULL,
	  "the deploy command and its arguments (each a template; no shell)", NULL },
	{ "destroy", CONFIG_ARGV, 0, NULL, "the destroy command and its arguments", NULL },
	{ "status", CONFIG_ARGV, 0, NULL, "the status command and its arguments", NULL },
	{ "env", CONFIG_STRMAP, 0, NULL, "extra environment variables for the commands", NULL },
	{ "timeout", CONFIG_DUR, 0, NULL, "how long a command may run (default 30m)", NULL },
};

const struct prenv_provider command_provider = {
	.version = PRENV_PROVIDER_VERSION,
	.name = "command",
	.schema = { "command", command_keys, sizeof(command_keys) / sizeof(command_keys[0]), 0 },
	.open = command_open,
	.close = command_close,
	.deploy = command_deploy,
	.destroy = command_destroy,
	.status = command_status,
	/* no list, get_note/set_note: nowhere to keep notes */
};
