/* fuzz_kubeconfig.c - libFuzzer target for the kubeconfig reader
 * (providers/kubernetes/kubeconfig.c).
 *
 * The input is a kubeconfig. It is parsed (k8s_kubeconfig_parse), then
 * loaded the two ways a run finds one: as the content of PRENV_KUBECONFIG
 * (raw, or base64 when it has no ':', up to its first NUL as an
 * environment variable would be) and as the file KUBECONFIG names (in a
 * private temporary directory that also holds ca.crt, client.crt,
 * client.key and token, so relative file references resolve). Must not
 * crash, leak or misbehave: errors say why and return no connection; a
 * connection has a server URL, a context and a source.
 *
 * Safety. Loading never runs an exec credential plugin: only
 * k8s_conn_refresh() does, and this target never calls it; posix_spawn and
 * posix_spawnp are replaced below by functions that abort, so a path that
 * started a command would be a crash, not a command run. A kubeconfig also
 * names files to read (certificate-authority, client-certificate,
 * client-key, tokenFile); an input whose strings hold an absolute path,
 * "~" or ".." is parsed but not loaded, so the fuzzer reads only files
 * under its temporary directory or the current one (never /dev/zero or a
 * FIFO). */
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"
#include "kubernetes/k8s_int.h"
#include "fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
		const posix_spawnattr_t *attr, char *const argv[], char *const envp[]);
int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
		 const posix_spawnattr_t *attr, char *const argv[], char *const envp[]);

static void fz_no_spawn(const char *what)
{
	fprintf(stderr, "fuzz_kubeconfig: the loader tried to run %s\n", what);
	abort();
}

int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
		const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	(void)pid; (void)fa; (void)attr; (void)argv; (void)envp;
	fz_no_spawn(path);
	return -1;
}

int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
		 const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	(void)pid; (void)fa; (void)attr; (void)argv; (void)envp;
	fz_no_spawn(file);
	return -1;
}

/* Sample files for relative references (not valid PEM: the loader does
 * not parse them, curl would). */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const files[][2] = {
		{ "ca.crt", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" },
		{ "client.crt", "-----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----\n" },
		{ "client.key", "-----BEGIN PRIVATE KEY-----\nCCCC\n-----END PRIVATE KEY-----\n" },
		{ "token", "fuzz-token-0123456789\n" },
	};
	char path[512];
	size_t i;

	(void)argc; (void)argv;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		fz_write_file(path, sizeof(path), files[i][0], files[i][1], strlen(files[i][1]));
	return 0;
}

/* 1 when some string in j could name a file outside the two directories. */
static int fz_names_outside(const cJSON *j)
{
	const cJSON *c;

	if (cJSON_IsString(j))
		return j->valuestring[0] == '/' || j->valuestring[0] == '~' ||
		       strstr(j->valuestring, "..") != NULL;
	cJSON_ArrayForEach(c, j)
		if (fz_names_outside(c))
			return 1;
	return 0;
}

static void fz_load(const char *const *envp)
{
	struct k8s_load_opts o = { NULL, NULL, envp, NULL };
	struct k8s_conn *c = NULL;
	struct prenv_err err = PRENV_ERR_INIT;
	int rc = k8s_conn_load(&c, &o, &err);

	if ((rc < 0) != (c == NULL) || (rc < 0) != (err.code != 0) || rc > 0)
		abort();
	if (rc < 0 && (!err.msg || !*err.msg))
		abort();
	if (c && (!c->server || (strncmp(c->server, "https://", 8) && strncmp(c->server, "http://", 7)) ||
		  !c->context || !c->source || c->exec_done))
		abort();
	k8s_conn_free(c);
	prenv_err_clear(&err);
}

/* What the loader will read from PRENV_KUBECONFIG=text, parsed the same
 * way; 1 when it may be loaded (see the top). */
static int fz_loadable(const char *text)
{
	struct prenv_buf dec = PRENV_BUF_INIT;
	struct prenv_err err = PRENV_ERR_INIT;
	cJSON *cfg = NULL;
	size_t len = strlen(text);
	int ok = 1;

	if (!strchr(text, ':')) {
		if (k8s_base64_decode(&dec, text, len) < 0 || dec.failed)
			ok = 0; /* refused before anything is read */
		text = dec.ptr;
		len = dec.len;
	}
	if (ok && k8s_kubeconfig_parse(&cfg, text, len, "fuzz", &err) == 0)
		ok = !fz_names_outside(cfg);
	cJSON_Delete(cfg);
	prenv_err_clear(&err);
	prenv_buf_free(&dec);
	return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct prenv_err err = PRENV_ERR_INIT;
	cJSON *cfg = NULL;
	char *text, *env, kc_path[512], kc_env[600];
	const char *envp[3] = { NULL, NULL, NULL };
	int rc, outside;

	rc = k8s_kubeconfig_parse(&cfg, (const char *)data, size, "fuzz", &err);
	if ((rc < 0) != (cfg == NULL) || (rc < 0) != (err.code != 0) || rc > 0 ||
	    (rc == 0 && !cJSON_IsObject(cfg)) || (rc < 0 && err.code != PRENV_ECONFIG &&
						 err.code != PRENV_ENOMEM))
		abort();
	outside = cfg && fz_names_outside(cfg);
	cJSON_Delete(cfg);
	prenv_err_clear(&err);

	/* KUBECONFIG=<dir>/config: the whole input, relative paths from <dir>. */
	if (rc == 0 && !outside) {
		fz_write_file(kc_path, sizeof(kc_path), "config", data, size);
		snprintf(kc_env, sizeof(kc_env), "KUBECONFIG=%s", kc_path);
		envp[0] = kc_env;
		fz_load(envp);
	}
	/* PRENV_KUBECONFIG=<input up to its first NUL>. */
	if (!(text = strndup((const char *)data, size)))
		return 0;
	if (*text && fz_loadable(text) && (env = malloc(strlen(text) + 18))) {
		strcpy(env, "PRENV_KUBECONFIG=");
		strcat(env, text);
		envp[0] = env;
		fz_load(envp);
		free(env);
	}
	free(text);
	log_reset(); /* the loader registers tokens and keys as secrets */
	return 0;
}
