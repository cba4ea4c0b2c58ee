/* kubeconfig.c - finding cluster access the way kubectl does; see k8s_int.h
 *
 * Merge rule (client-go's ClientConfigLoadingRules): files of KUBECONFIG
 * are read in order; the first file that defines a cluster, user or context
 * name wins for that name, and the first file that sets current-context
 * wins for it. Relative paths inside a file are relative to that file's
 * directory. Exec plugins are run with posix_spawnp (no shell), stdin from
 * /dev/null, the environment plus the plugin's env and KUBERNETES_EXEC_INFO.
 */
#include "context/ci.h"
#include "kubernetes/k8s_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/log.h"
#include "util/yaml.h"

#define SA_DIR_DEFAULT "/var/run/secrets/kubernetes.io/serviceaccount"
#define EXEC_TIMEOUT_MS 60000
#define EXEC_MAX_OUT (4u << 20)

/* ------------------------------------------------------------ helpers */

int k8s_base64_decode(struct prenv_buf *out, const char *s, size_t len)
{
	unsigned acc = 0;
	int bits = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		int v;

		if (ch >= 'A' && ch <= 'Z')
			v = ch - 'A';
		else if (ch >= 'a' && ch <= 'z')
			v = ch - 'a' + 26;
		else if (ch >= '0' && ch <= '9')
			v = ch - '0' + 52;
		else if (ch == '+' || ch == '-')
			v = 62;
		else if (ch == '/' || ch == '_')
			v = 63;
		else if (ch == '=' || ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t')
			continue;
		else
			return -1;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (prenv_buf_addc(out, (char)((acc >> bits) & 0xff)) < 0)
				return -1;
		}
	}
	return 0;
}

static int digits(const char *s, int n, int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

time_t k8s_parse_time(const char *s)
{
	struct tm tm;
	int y, mo, d, h, mi, se, oh = 0, om = 0;
	time_t t;
	const char *p;

	if (!s || strlen(s) < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    s[13] != ':' || s[16] != ':')
		return -1;
	if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) ||
	    digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) || digits(s + 17, 2, &se))
		return -1;
	p = s + 19;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		if (strlen(p) < 6 || p[3] != ':' || digits(p + 1, 2, &oh) || digits(p + 4, 2, &om))
			return -1;
		if (*p == '-') {
			oh = -oh;
			om = -om;
		}
		p += 6;
	} else {
		return -1;
	}
	if (*p)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	return t - (time_t)oh * 3600 - (time_t)om * 60;
}

static const char *jstr(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int jbool(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsTrue(v) || (cJSON_IsString(v) && !strcmp(v->valuestring, "true"));
}

/* dir of a path ("." when none) */
static char *dir_of(const char *path)
{
	const char *sl = strrchr(path, '/');

	if (!sl)
		return strdup(".");
	if (sl == path)
		return strdup("/");
	return strndup(path, (size_t)(sl - path));
}

/* path resolved against dir unless absolute (or dir NULL). Caller frees. */
static char *resolve(const char *dir, const char *path)
{
	struct prenv_buf b = PRENV_BUF_INIT;

	if (path[0] == '/' || !dir)
		return strdup(path);
	if (path[0] == '~' && path[1] == '/')
		return strdup(path); /* handled by caller via HOME when needed */
	prenv_buf_printf(&b, "%s/%s", dir, path);
	return prenv_buf_detach(&b, NULL);
}

int k8s_kubeconfig_parse(cJSON **out, const char *text, size_t len,
			 const char *name, struct prenv_err *err)
{
	cJSON *docs = NULL, *doc;
	int rc;

	*out = NULL;
	/* JSON is YAML, but a JSON kubeconfig is cheaper through cJSON. */
	if (len && (text[0] == '{')) {
		doc = cJSON_ParseWithLength(text, len);
		if (doc && cJSON_IsObject(doc)) {
			*out = doc;
			return 0;
		}
		cJSON_Delete(doc);
	}
	rc = yaml_parse_json(&docs, text, len, name, err);
	if (rc < 0) {
		if (err && err->code)
			err->code = PRENV_ECONFIG;
		return PRENV_ECONFIG;
	}
	doc = cJSON_GetArrayItem(docs, 0);
	if (!doc || cJSON_IsNull(doc)) {
		cJSON_Delete(docs);
		*out = cJSON_CreateObject();
		return *out ? 0 : prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	}
	if (!cJSON_IsObject(doc)) {
		cJSON_Delete(docs);
		return prenv_err_set(err, PRENV_ECONFIG, "%s: a kubeconfig must be a mapping "
				     "(apiVersion: v1, kind: Config, clusters, users, contexts)", name);
	}
	*out = cJSON_DetachItemFromArray(docs, 0);
	cJSON_Delete(docs);
	return 0;
}

/* ------------------------------------------------------------ merging */

/* merged: {"current-context": s, "clusters": {name: {..., "$dir": d}},
 * "users": {...}, "contexts": {...}} */
static int merge_file(cJSON *merged, const cJSON *cfg, const char *dir,
		      const char *name, struct prenv_err *err)
{
	static const char *const sect[][2] = {
		{ "clusters", "cluster" }, { "users", "user" }, { "contexts", "context" },
	};
	const char *cur = jstr(cfg, "current-context");
	size_t s;

	if (cur && *cur && !cJSON_GetObjectItemCaseSensitive(merged, "current-context"))
		cJSON_AddStringToObject(merged, "current-context", cur);
	for (s = 0; s < 3; s++) {
		const cJSON *list = cJSON_GetObjectItemCaseSensitive(cfg, sect[s][0]);
		cJSON *dst = cJSON_GetObjectItemCaseSensitive(merged, sect[s][0]);
		const cJSON *e;

		if (!list || cJSON_IsNull(list))
			continue;
		if (!cJSON_IsArray(list))
			return prenv_err_set(err, PRENV_ECONFIG, "%s: '%s' must be a list", name, sect[s][0]);
		cJSON_ArrayForEach(e, list) {
			const char *n = jstr(e, "name");
			const cJSON *body = cJSON_GetObjectItemCaseSensitive(e, sect[s][1]);
			cJSON *copy;

			if (!n || !*n)
				return prenv_err_set(err, PRENV_ECONFIG, "%s: an entry of '%s' has no name",
						     name, sect[s][0]);
			if (cJSON_GetObjectItemCaseSensitive(dst, n))
				continue; /* the first file wins */
			copy = body && cJSON_IsObject(body) ? cJSON_Duplicate(body, 1) : cJSON_CreateObject();
			if (!copy)
				return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
			if (dir)
				cJSON_AddStringToObject(copy, "$dir", dir);
			cJSON_AddItemToObject(dst, n, copy);
		}
	}
	return 0;
}

static cJSON *merged_new(void)
{
	cJSON *m = cJSON_CreateObject();

	if (m) {
		cJSON_AddObjectToObject(m, "clusters");
		cJSON_AddObjectToObject(m, "users");
		cJSON_AddObjectToObject(m, "contexts");
	}
	return m;
}

/* Reads, parses and merges one file. missing_ok: a missing file is skipped
 * (KUBECONFIG entries, as kubectl does). *found is set when it was read. */
static int merge_path(cJSON *merged, const char *path, int missing_ok, int *found,
		      struct prenv_err *err)
{
	struct prenv_buf text = PRENV_BUF_INIT;
	cJSON *cfg = NULL;
	char *dir = NULL;
	int rc;

	if (prenv_buf_read_file(&text, path) < 0) {
		int e = errno;

		prenv_buf_free(&text);
		if (missing_ok && e == ENOENT)
			return 0;
		return prenv_err_set(err, PRENV_ECONFIG, "cannot read kubeconfig %s: %s", path, strerror(e));
	}
	*found = 1;
	rc = k8s_kubeconfig_parse(&cfg, text.ptr, text.len, path, err);
	if (rc == 0) {
		dir = dir_of(path);
		rc = merge_file(merged, cfg, dir, path, err);
	}
	free(dir);
	cJSON_Delete(cfg);
	prenv_buf_free(&text);
	return rc;
}

/* ------------------------------------------------------------ loading */

/* A new, empty connection: every embedded buffer initialised (calloc alone
 * would leave their ptr NULL, and a later strcmp on one crashes). */
static struct k8s_conn *conn_new(void)
{
	struct k8s_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	prenv_buf_init(&c->ca, 0);
	prenv_buf_init(&c->cert, 0);
	prenv_buf_init(&c->key, 0);
	c->serial = 1;
	return c;
}

void k8s_conn_free(struct k8s_conn *c)
{
	size_t i;

	if (!c)
		return;
	free(c->server);
	free(c->context);
	free(c->user);
	free(c->source);
	free(c->default_ns);
	if (c->key.cap)
		memset(c->key.ptr, 0, c->key.len);
	prenv_buf_free(&c->ca);
	prenv_buf_free(&c->cert);
	prenv_buf_free(&c->key);
	free(c->ca_file);
	if (c->token)
		memset(c->token, 0, strlen(c->token));
	free(c->token);
	free(c->token_file);
	cJSON_Delete(c->exec);
	free(c->exec_dir);
	cJSON_Delete(c->cluster);
	for (i = 0; c->envp && c->envp[i]; i++)
		free(c->envp[i]);
	free(c->envp);
	free(c);
}

/* Loads PEM material: data (base64) wins over a file. */
static int load_pem(struct prenv_buf *out, const cJSON *o, const char *data_key,
		    const char *file_key, const char *dir, const char *what,
		    struct prenv_err *err)
{
	const char *data = jstr(o, data_key), *file = jstr(o, file_key);

	if (data && *data) {
		if (k8s_base64_decode(out, data, strlen(data)) < 0 || out->failed)
			return prenv_err_set(err, PRENV_ECONFIG, "%s: '%s' is not valid base64", what, data_key);
		return 0;
	}
	if (file && *file) {
		char *p = resolve(dir, file);
		int rc = 0;

		if (!p)
			return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
		if (prenv_buf_read_file(out, p) < 0)
			rc = prenv_err_set(err, PRENV_ECONFIG, "%s: cannot read %s %s: %s", what, file_key, p,
					   strerror(errno));
		free(p);
		return rc;
	}
	return 0;
}

static int copy_env(struct k8s_conn *c, const char *const *envp)
{
	size_t n = 0, i;

	while (envp && envp[n])
		n++;
	if (!(c->envp = calloc(n + 1, sizeof(char *))))
		return -1;
	for (i = 0; i < n; i++)
		if (!(c->envp[i] = strdup(envp[i])))
			return -1;
	return 0;
}

static int read_token_file(struct k8s_conn *c, struct prenv_err *err)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	struct stat st;

	if (stat(c->token_file, &st) < 0)
		return prenv_err_set(err, PRENV_EAUTH, "cannot read the token file %s: %s", c->token_file,
				     strerror(errno));
	if (c->token && st.st_mtim.tv_sec == c->token_mtime.tv_sec &&
	    st.st_mtim.tv_nsec == c->token_mtime.tv_nsec && (long long)st.st_size == c->token_size)
		return 0;
	if (prenv_buf_read_file(&b, c->token_file) < 0) {
		prenv_buf_free(&b);
		return prenv_err_set(err, PRENV_EAUTH, "cannot read the token file %s: %s", c->token_file,
				     strerror(errno));
	}
	while (b.len && (b.ptr[b.len - 1] == '\n' || b.ptr[b.len - 1] == '\r' || b.ptr[b.len - 1] == ' '))
		prenv_buf_truncate(&b, b.len - 1);
	if (c->token)
		memset(c->token, 0, strlen(c->token));
	free(c->token);
	c->token = prenv_buf_detach(&b, NULL);
	c->serial++;
	if (!c->token)
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	log_add_secret(c->token);
	c->token_mtime = st.st_mtim;
	c->token_size = (long long)st.st_size;
	return 0;
}

static int load_incluster(struct k8s_conn *c, const char *const *envp, struct prenv_err *err)
{
	const char *host = ci_getenv(envp, "KUBERNETES_SERVICE_HOST");
	const char *port = ci_getenv(envp, "KUBERNETES_SERVICE_PORT");
	const char *dir = ci_getenv(envp, "PRENV_SA_DIR");
	struct prenv_buf b = PRENV_BUF_INIT;
	int rc;

	if (!dir)
		dir = SA_DIR_DEFAULT;
	if (!port)
		port = "443";
	if (strchr(host, ':'))
		prenv_buf_printf(&b, "https://[%s]:%s", host, port);
	else
		prenv_buf_printf(&b, "https://%s:%s", host, port);
	c->server = prenv_buf_detach(&b, NULL);
	c->context = strdup("in-cluster");
	prenv_buf_printf(&b, "in-cluster service account (%s)", dir);
	c->source = prenv_buf_detach(&b, NULL);
	prenv_buf_printf(&b, "%s/token", dir);
	c->token_file = prenv_buf_detach(&b, NULL);
	if (!c->server || !c->context || !c->source || !c->token_file)
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	if ((rc = read_token_file(c, err)) < 0) {
		prenv_err_prefix(err, "in-cluster access (KUBERNETES_SERVICE_HOST is set)");
		return rc == PRENV_EAUTH ? PRENV_ECONFIG : rc;
	}
	prenv_buf_printf(&b, "%s/ca.crt", dir);
	if (prenv_buf_read_file(&c->ca, b.ptr) < 0) {
		rc = prenv_err_set(err, PRENV_ECONFIG, "in-cluster access: cannot read %s: %s", b.ptr,
				   strerror(errno));
		prenv_buf_free(&b);
		return rc;
	}
	prenv_buf_reset(&b);
	prenv_buf_printf(&b, "%s/namespace", dir);
	{
		struct prenv_buf ns = PRENV_BUF_INIT;

		if (prenv_buf_read_file(&ns, b.ptr) == 0) {
			while (ns.len && (ns.ptr[ns.len - 1] == '\n' || ns.ptr[ns.len - 1] == ' '))
				prenv_buf_truncate(&ns, ns.len - 1);
			c->default_ns = prenv_buf_detach(&ns, NULL);
		}
		prenv_buf_free(&ns);
	}
	prenv_buf_free(&b);
	return 0;
}

/* The cluster cl (named cln): server, TLS, and a copy for the exec plugin's
 * provideClusterInfo. */
static int load_cluster(struct k8s_conn *c, const cJSON *cl, const char *cln,
			struct prenv_err *err)
{
	const char *server = jstr(cl, "server");
	int rc;

	if (!server || !*server)
		return prenv_err_set(err, PRENV_ECONFIG, "cluster '%s' in %s has no server", cln, c->source);
	if (strncmp(server, "https://", 8) && strncmp(server, "http://", 7))
		return prenv_err_set(err, PRENV_ECONFIG, "cluster '%s' in %s: server '%s' must start with "
				     "https:// or http://", cln, c->source, server);
	if (!(c->server = strdup(server)))
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	while (strlen(c->server) > 8 && c->server[strlen(c->server) - 1] == '/')
		c->server[strlen(c->server) - 1] = 0;
	c->insecure = jbool(cl, "insecure-skip-tls-verify");
	if ((rc = load_pem(&c->ca, cl, "certificate-authority-data", "certificate-authority",
			   jstr(cl, "$dir"), c->source, err)) < 0)
		return rc;
	if (!(c->cluster = cJSON_Duplicate(cl, 1)))
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	cJSON_DeleteItemFromObjectCaseSensitive(c->cluster, "$dir");
	return 0;
}

/* The exec plugin ex of user usn (defined in directory udir), checked. */
static int load_exec(struct k8s_conn *c, const cJSON *ex, const char *usn, const char *udir,
		     struct prenv_err *err)
{
	const char *av = jstr(ex, "apiVersion");
	const char *mode = jstr(ex, "interactiveMode");

	if (!cJSON_IsObject(ex) || !jstr(ex, "command"))
		return prenv_err_set(err, PRENV_ECONFIG, "user '%s' in %s: exec needs a command", usn, c->source);
	if (!av || (strcmp(av, "client.authentication.k8s.io/v1") &&
		    strcmp(av, "client.authentication.k8s.io/v1beta1")))
		return prenv_err_set(err, PRENV_ECONFIG, "user '%s' in %s: exec apiVersion '%s' is not "
				     "supported (use client.authentication.k8s.io/v1 or v1beta1)",
				     usn, c->source, av ? av : "");
	if (mode && !strcmp(mode, "Always"))
		return prenv_err_set(err, PRENV_ECONFIG, "user '%s' in %s: exec interactiveMode Always needs "
				     "a terminal, and prenv runs in CI; use a plugin that can run with "
				     "interactiveMode Never", usn, c->source);
	if (!(c->exec = cJSON_Duplicate(ex, 1)) || !(c->exec_dir = prenv_strdup(udir ? udir : ".")))
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	return 0;
}

/* The user us (named usn): client certificate, token or token file, exec
 * plugin; refuses what kubectl no longer supports. */
static int load_user(struct k8s_conn *c, const cJSON *us, const char *usn,
		     struct prenv_err *err)
{
	const char *udir = jstr(us, "$dir");
	int rc;

	if ((rc = load_pem(&c->cert, us, "client-certificate-data", "client-certificate", udir, c->source, err)) < 0 ||
	    (rc = load_pem(&c->key, us, "client-key-data", "client-key", udir, c->source, err)) < 0)
		return rc;
	if (c->key.len) {
		log_add_secret(c->key.ptr);
		if (!c->cert.len)
			return prenv_err_set(err, PRENV_ECONFIG, "user '%s' in %s has a client key but no client "
					     "certificate", usn, c->source);
	}
	if (jstr(us, "token") && *jstr(us, "token")) {
		if (!(c->token = strdup(jstr(us, "token"))))
			return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
		log_add_secret(c->token);
	} else if (jstr(us, "tokenFile") && *jstr(us, "tokenFile")) {
		if (!(c->token_file = resolve(udir, jstr(us, "tokenFile"))))
			return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
		if ((rc = read_token_file(c, err)) < 0)
			return rc == PRENV_EAUTH ? PRENV_ECONFIG : rc;
	}
	if (cJSON_GetObjectItemCaseSensitive(us, "exec"))
		return load_exec(c, cJSON_GetObjectItemCaseSensitive(us, "exec"), usn, udir, err);
	if (cJSON_GetObjectItemCaseSensitive(us, "auth-provider")) {
		if (!c->token)
			return prenv_err_set(err, PRENV_ECONFIG, "user '%s' in %s uses an auth-provider, which "
					     "kubectl itself no longer supports; use an exec plugin "
					     "(e.g. gke-gcloud-auth-plugin, kubelogin)", usn, c->source);
	} else if (jstr(us, "username") && !c->token && !c->cert.len) {
		return prenv_err_set(err, PRENV_ECONFIG, "user '%s' in %s uses basic auth (username/password), "
				     "which Kubernetes removed; use a token, a client certificate or an exec plugin",
				     usn, c->source);
	}
	return 0;
}

/* Builds the connection from the merged config. */
static int resolve_context(struct k8s_conn *c, const cJSON *merged, const char *want,
			   const char *home, struct prenv_err *err)
{
	const char *ctxname = want && *want ? want : jstr(merged, "current-context");
	const cJSON *ctx, *cl, *us = NULL;
	const char *cln, *usn;
	int rc;

	(void)home;
	if (!ctxname)
		return prenv_err_set(err, PRENV_ECONFIG, "%s sets no current-context: set provider.context "
				     "in .prenv.yml or `current-context` in the kubeconfig", c->source);
	ctx = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(merged, "contexts"), ctxname);
	if (!ctx)
		return prenv_err_set(err, PRENV_ECONFIG, "context '%s' is not defined in %s%s", ctxname, c->source,
				     want ? " (the rule's context: or provider.context)" : " (current-context)");
	if (!(c->context = strdup(ctxname)))
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	c->default_ns = prenv_strdup(jstr(ctx, "namespace"));
	cln = jstr(ctx, "cluster");
	usn = jstr(ctx, "user");
	cl = cln ? cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(merged, "clusters"), cln) : NULL;
	if (!cl)
		return prenv_err_set(err, PRENV_ECONFIG, "context '%s' in %s names cluster '%s', which is not defined",
				     ctxname, c->source, cln ? cln : "");
	if (usn) {
		us = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(merged, "users"), usn);
		if (!us)
			return prenv_err_set(err, PRENV_ECONFIG, "context '%s' in %s names user '%s', which is not defined",
					     ctxname, c->source, usn);
		c->user = strdup(usn);
	}
	if ((rc = load_cluster(c, cl, cln, err)) < 0 || !us)
		return rc;
	return load_user(c, us, usn, err);
}

/* 1 when PRENV_KUBECONFIG's value is a path rather than content: one line
 * that names a regular file, or starts like a path ('/', "./", "../",
 * "~/": never the start of a kubeconfig, nor of base64 of one). */
static int content_is_path(const char *v, int *exists)
{
	struct stat st;

	*exists = 0;
	if (!*v || strchr(v, '\n') || *v == '{')
		return 0;
	if (stat(v, &st) == 0 && S_ISREG(st.st_mode)) {
		*exists = 1;
		return 1;
	}
	return v[0] == '/' || !strncmp(v, "./", 2) || !strncmp(v, "../", 3) || !strncmp(v, "~/", 2);
}

/* PRENV_KUBECONFIG: the content of a kubeconfig, raw or base64 - or, as a
 * GitLab "file" variable gives it, the path of a file holding it (read,
 * with a line saying so). source gets where it came from. */
static int merge_content(cJSON *merged, const char *var, const char *content, struct prenv_buf *source,
			 struct prenv_err *err)
{
	struct prenv_buf dec = PRENV_BUF_INIT;
	const char *text = content;
	size_t len = strlen(content);
	cJSON *cfg = NULL;
	int rc, exists, found = 0;

	if (content_is_path(content, &exists)) {
		if (!exists)
			return prenv_err_set(err, PRENV_ECONFIG, "%s holds a path (%s), but no such "
					     "file exists; it must hold the kubeconfig's content (raw or base64, e.g. "
					     "from a CI secret) or the path of a readable kubeconfig file (a CI file "
					     "variable); KUBECONFIG=path works too", var, content);
		log_info("%s holds a path, not a kubeconfig's content: reading the kubeconfig "
			 "from that file", var);
		prenv_buf_printf(source, " (file %s)", content);
		return merge_path(merged, content, 0, &found, err);
	}
	if (!strchr(content, ':')) {
		if (k8s_base64_decode(&dec, content, len) < 0 || dec.failed) {
			prenv_buf_free(&dec);
			return prenv_err_set(err, PRENV_ECONFIG, "%s is neither a kubeconfig nor "
					     "base64 of one", var);
		}
		text = dec.ptr;
		len = dec.len;
	}
	rc = k8s_kubeconfig_parse(&cfg, text, len, var, err);
	if (rc == 0)
		rc = merge_file(merged, cfg, NULL, var, err);
	cJSON_Delete(cfg);
	prenv_buf_free(&dec);
	return rc;
}

int k8s_conn_load(struct k8s_conn **out, const struct k8s_load_opts *o, struct prenv_err *err)
{
	const char *const *envp = o->envp;
	const char *kc = ci_getenv(envp, "KUBECONFIG");
	const char *var = o->var ? o->var : "PRENV_KUBECONFIG";
	const char *content = ci_getenv(envp, var);
	const char *home = ci_getenv(envp, "HOME");
	struct prenv_buf b = PRENV_BUF_INIT;
	struct k8s_conn *c;
	cJSON *merged = NULL;
	int rc = 0, found = 0;

	*out = NULL;
	if (!(c = conn_new()) || copy_env(c, envp) < 0 || !(merged = merged_new())) {
		rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
		goto done;
	}
	if (o->kubeconfig && *o->kubeconfig) {
		prenv_buf_printf(&b, "kubeconfig %s", o->kubeconfig);
		if ((rc = merge_path(merged, o->kubeconfig, 0, &found, err)) < 0)
			goto done;
	} else if (content) {
		prenv_buf_adds(&b, var);
		found = 1;
		if ((rc = merge_content(merged, var, content, &b, err)) < 0)
			goto done;
	} else if (o->var) {
		rc = prenv_err_set(err, PRENV_ECONFIG, "%s is not set", var);
		goto done;
	} else if (kc) {
		const char *p = kc;

		prenv_buf_printf(&b, "KUBECONFIG=%s", kc);
		while (*p) {
			const char *e = strchr(p, ':');
			size_t n = e ? (size_t)(e - p) : strlen(p);
			char *one = strndup(p, n);

			if (!one) {
				rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
				goto done;
			}
			if (n)
				rc = merge_path(merged, one, 1, &found, err);
			free(one);
			if (rc < 0)
				goto done;
			p += n + (e ? 1 : 0);
		}
		if (!found) {
			rc = prenv_err_set(err, PRENV_ECONFIG, "none of the files in KUBECONFIG=%s exists", kc);
			goto done;
		}
	} else if (home) {
		struct prenv_buf p = PRENV_BUF_INIT;

		prenv_buf_printf(&p, "%s/.kube/config", home);
		prenv_buf_printf(&b, "%s", p.ptr);
		rc = merge_path(merged, p.ptr, 1, &found, err);
		prenv_buf_free(&p);
		if (rc < 0)
			goto done;
	}
	if (!found) {
		if (ci_getenv(envp, "KUBERNETES_SERVICE_HOST")) {
			rc = load_incluster(c, envp, err);
			goto done;
		}
		rc = prenv_err_set(err, PRENV_ECONFIG, "no cluster access found: pass --kubeconfig, set "
				   "KUBECONFIG or PRENV_KUBECONFIG (a kubeconfig's content, e.g. from a CI "
				   "secret), create ~/.kube/config, or run inside the cluster");
		goto done;
	}
	if (!(c->source = prenv_buf_detach(&b, NULL))) {
		rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
		goto done;
	}
	rc = resolve_context(c, merged, o->context, home, err);
done:
	prenv_buf_free(&b);
	cJSON_Delete(merged);
	if (rc < 0) {
		k8s_conn_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

/* ------------------------------------------------------------ exec plugins */

static char *exec_info(const struct k8s_conn *c, const char *api_version)
{
	cJSON *o = cJSON_CreateObject(), *spec;
	char *s;

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "apiVersion", api_version);
	cJSON_AddStringToObject(o, "kind", "ExecCredential");
	spec = cJSON_AddObjectToObject(o, "spec");
	cJSON_AddBoolToObject(spec, "interactive", 0);
	if (jbool(c->exec, "provideClusterInfo") && c->cluster) {
		cJSON *cl = cJSON_AddObjectToObject(spec, "cluster");
		const cJSON *ext = cJSON_GetObjectItemCaseSensitive(c->cluster, "extensions");

		cJSON_AddStringToObject(cl, "server", c->server);
		if (c->ca.len) {
			struct prenv_buf b64 = PRENV_BUF_INIT;
			static const char tbl[] =
				"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
			size_t i;

			for (i = 0; i < c->ca.len; i += 3) {
				unsigned v = (unsigned char)c->ca.ptr[i] << 16;
				size_t n = c->ca.len - i;

				if (n > 1)
					v |= (unsigned char)c->ca.ptr[i + 1] << 8;
				if (n > 2)
					v |= (unsigned char)c->ca.ptr[i + 2];
				prenv_buf_addc(&b64, tbl[(v >> 18) & 63]);
				prenv_buf_addc(&b64, tbl[(v >> 12) & 63]);
				prenv_buf_addc(&b64, n > 1 ? tbl[(v >> 6) & 63] : '=');
				prenv_buf_addc(&b64, n > 2 ? tbl[v & 63] : '=');
			}
			cJSON_AddStringToObject(cl, "certificate-authority-data", b64.ptr);
			prenv_buf_free(&b64);
		}
		if (c->insecure)
			cJSON_AddBoolToObject(cl, "insecure-skip-tls-verify", 1);
		if (ext && cJSON_IsArray(ext)) {
			const cJSON *e;

			cJSON_ArrayForEach(e, ext)
				if (jstr(e, "name") && !strcmp(jstr(e, "name"), "client.authentication.k8s.io/exec"))
					cJSON_AddItemToObject(cl, "config",
						cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(e, "extension"), 1));
		}
	}
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

static void free_strv(char **v)
{
	size_t i;

	for (i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* Runs argv with envp, collects stdout into out and stderr into errout. */
static int spawn_collect(char *const argv[], char *const envp[], struct prenv_buf *out,
			 struct prenv_buf *errout, int *status, struct prenv_err *err)
{
	posix_spawn_file_actions_t fa;
	int po[2] = { -1, -1 }, pe[2] = { -1, -1 };
	pid_t pid;
	int rc, open_fds = 2;
	struct timespec t0, t1;

	if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0) {
		rc = prenv_err_set(err, PRENV_EFAIL, "exec plugin: pipe: %s", strerror(errno));
		goto fail;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
	rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	close(po[1]);
	close(pe[1]);
	po[1] = pe[1] = -1;
	if (rc != 0) {
		rc = prenv_err_set(err, PRENV_EAUTH, "cannot run the exec credential plugin '%s': %s", argv[0],
				   strerror(rc));
		goto fail;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (open_fds > 0) {
		struct pollfd p[2] = { { po[0], POLLIN, 0 }, { pe[0], POLLIN, 0 } };
		char buf[4096];
		long ms;
		int k, i;

		clock_gettime(CLOCK_MONOTONIC, &t1);
		ms = EXEC_TIMEOUT_MS - ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
		if (ms <= 0) {
			kill(pid, SIGKILL);
			waitpid(pid, status, 0);
			rc = prenv_err_set(err, PRENV_EAUTH, "the exec credential plugin '%s' did not finish "
					   "within %d s", argv[0], EXEC_TIMEOUT_MS / 1000);
			goto fail;
		}
		k = poll(p, 2, (int)ms);
		if (k < 0 && errno == EINTR)
			continue;
		for (i = 0; i < 2; i++) {
			ssize_t r;
			int *fd = i ? &pe[0] : &po[0];

			if (*fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			r = read(*fd, buf, sizeof(buf));
			if (r > 0) {
				struct prenv_buf *dst = i ? errout : out;

				if (dst->len + (size_t)r <= EXEC_MAX_OUT)
					prenv_buf_add(dst, buf, (size_t)r);
			} else if (r == 0 || errno != EINTR) {
				close(*fd);
				*fd = -1;
				open_fds--;
			}
		}
		if (p[0].fd < 0 && p[1].fd < 0)
			break;
	}
	while (waitpid(pid, status, 0) < 0 && errno == EINTR)
		;
	rc = 0;
fail:
	if (po[0] >= 0)
		close(po[0]);
	if (pe[0] >= 0)
		close(pe[0]);
	if (po[1] >= 0)
		close(po[1]);
	if (pe[1] >= 0)
		close(pe[1]);
	return rc;
}

/* The plugin's argv: its command (relative to the kubeconfig's directory
 * when it names a path) and its args. NULL when out of memory. */
static char **exec_argv(const struct k8s_conn *c)
{
	const char *cmd = jstr(c->exec, "command");
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(c->exec, "args");
	const cJSON *e;
	char **argv = calloc((size_t)cJSON_GetArraySize(args) + 2, sizeof(char *));
	size_t n = 0;

	if (!argv)
		return NULL;
	argv[n++] = strchr(cmd, '/') ? resolve(c->exec_dir, cmd) : strdup(cmd);
	cJSON_ArrayForEach(e, args)
		if (cJSON_IsString(e))
			argv[n++] = strdup(e->valuestring);
	return argv;
}

/* 1 when the plugin's env entries set the variable of "NAME=value" (or it
 * is KUBERNETES_EXEC_INFO, which prenv sets). */
static int exec_env_overrides(const cJSON *env, const char *var)
{
	const char *eq = strchr(var, '=');
	size_t kl = eq ? (size_t)(eq - var) : strlen(var);
	const cJSON *e;
	int over = !strncmp(var, "KUBERNETES_EXEC_INFO=", 21);

	cJSON_ArrayForEach(e, env) {
		const char *nm = jstr(e, "name");

		if (nm && strlen(nm) == kl && !strncmp(nm, var, kl))
			over = 1;
	}
	return over;
}

/* The plugin's environment: prenv's, with the plugin's env entries
 * replacing same-named variables, plus KUBERNETES_EXEC_INFO. NULL when out
 * of memory. */
static char **exec_envp(const struct k8s_conn *c, const char *api_version)
{
	const cJSON *env = cJSON_GetObjectItemCaseSensitive(c->exec, "env");
	const cJSON *e;
	struct prenv_buf b = PRENV_BUF_INIT;
	char **envv, *info;
	size_t ne = 0, i;

	for (i = 0; c->envp[i]; i++)
		;
	envv = calloc(i + (size_t)cJSON_GetArraySize(env) + 2, sizeof(char *));
	if (!envv)
		return NULL;
	for (i = 0; c->envp[i]; i++)
		if (!exec_env_overrides(env, c->envp[i]))
			envv[ne++] = strdup(c->envp[i]);
	cJSON_ArrayForEach(e, env) {
		if (!jstr(e, "name"))
			continue;
		prenv_buf_printf(&b, "%s=%s", jstr(e, "name"), jstr(e, "value") ? jstr(e, "value") : "");
		envv[ne++] = prenv_buf_detach(&b, NULL);
	}
	info = exec_info(c, api_version);
	prenv_buf_printf(&b, "KUBERNETES_EXEC_INFO=%s", info ? info : "");
	envv[ne++] = prenv_buf_detach(&b, NULL);
	free(info);
	return envv;
}

/* The plugin exited with an error or was killed: what, its stderr and the
 * kubeconfig's install hint. */
static int exec_failed(const struct k8s_conn *c, const char *cmd, int status,
		       struct prenv_buf *eout, struct prenv_err *err)
{
	const char *hint = jstr(c->exec, "installHint");

	while (eout->len && eout->ptr[eout->len - 1] == '\n')
		prenv_buf_truncate(eout, eout->len - 1);
	return prenv_err_set(err, PRENV_EAUTH, "the exec credential plugin '%s' of user '%s' failed (%s %d)%s%s%s%s",
			     cmd, c->user ? c->user : "?",
			     WIFEXITED(status) ? "exit status" : "signal",
			     WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
			     eout->len ? ": " : "", eout->ptr, hint ? "; " : "", hint ? hint : "");
}

/* Keeps the token and/or client certificate of an ExecCredential status
 * (secrets registered). */
static void exec_store(struct k8s_conn *c, const char *tok, const char *cd, const char *kd)
{
	c->serial++;
	if (tok && *tok) {
		if (c->token)
			memset(c->token, 0, strlen(c->token));
		free(c->token);
		c->token = strdup(tok);
		log_add_secret(tok);
	}
	if (cd && kd) {
		if (strcmp(c->cert.ptr, cd) || strcmp(c->key.ptr, kd))
			c->cred_changed = 1;
		prenv_buf_reset(&c->cert);
		prenv_buf_reset(&c->key);
		prenv_buf_adds(&c->cert, cd);
		prenv_buf_adds(&c->key, kd);
		log_add_secret(kd);
	}
}

/* Checks the plugin's answer (an ExecCredential of apiVersion av) and takes
 * the credential and its expiry from it. */
static int exec_take_credential(struct k8s_conn *c, const char *cmd, const char *av,
				const struct prenv_buf *out, struct prenv_err *err)
{
	cJSON *cred = cJSON_ParseWithLength(out->ptr, out->len);
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(cred, "status");
	const char *tok = jstr(st, "token"), *cd = jstr(st, "clientCertificateData");
	const char *kd = jstr(st, "clientKeyData"), *exp = jstr(st, "expirationTimestamp");
	int rc = 0;

	if (!cred || !jstr(cred, "kind") || strcmp(jstr(cred, "kind"), "ExecCredential")) {
		rc = prenv_err_set(err, PRENV_EAUTH, "the exec credential plugin '%s' did not print an "
				   "ExecCredential JSON object", cmd);
	} else if (jstr(cred, "apiVersion") && strcmp(jstr(cred, "apiVersion"), av)) {
		rc = prenv_err_set(err, PRENV_EAUTH, "the exec credential plugin '%s' answered with apiVersion "
				   "%s, but the kubeconfig asked for %s", cmd, jstr(cred, "apiVersion"), av);
	} else if (!(tok && *tok) && !(cd && kd)) {
		rc = prenv_err_set(err, PRENV_EAUTH, "the exec credential plugin '%s' returned neither "
				   "status.token nor status.clientCertificateData and clientKeyData", cmd);
	} else {
		time_t t = exp && *exp ? k8s_parse_time(exp) : 0;

		exec_store(c, tok, cd, kd);
		c->exec_expiry = t == (time_t)-1 ? 0 : t;
		if (t == (time_t)-1)
			rc = prenv_err_set(err, PRENV_EAUTH, "the exec credential plugin '%s' returned an "
					   "invalid expirationTimestamp '%s'", cmd, exp);
		else
			c->exec_done = 1;
	}
	cJSON_Delete(cred);
	return rc;
}

static int run_exec(struct k8s_conn *c, struct prenv_err *err)
{
	const char *av = jstr(c->exec, "apiVersion");
	struct prenv_buf out = PRENV_BUF_INIT, eout = PRENV_BUF_INIT;
	char **argv = exec_argv(c), **envv = exec_envp(c, av);
	int rc, status = 0;

	if (!argv || !envv) {
		rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
		goto done;
	}
	log_verbose("running the exec credential plugin %s (user %s)", argv[0], c->user ? c->user : "?");
	if ((rc = spawn_collect(argv, envv, &out, &eout, &status, err)) < 0)
		goto done;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		rc = exec_failed(c, argv[0], status, &eout, err);
	else
		rc = exec_take_credential(c, argv[0], av, &out, err);
done:
	if (out.cap)
		memset(out.ptr, 0, out.len);
	prenv_buf_free(&out);
	prenv_buf_free(&eout);
	free_strv(argv);
	free_strv(envv);
	return rc;
}

int k8s_conn_refresh(struct k8s_conn *c, int force, const char **token, struct prenv_err *err)
{
	int rc;

	*token = NULL;
	if (c->exec) {
		if (force || !c->exec_done || (c->exec_expiry && time(NULL) >= c->exec_expiry))
			if ((rc = run_exec(c, err)) < 0)
				return rc;
	} else if (c->token_file) {
		if ((rc = read_token_file(c, err)) < 0)
			return rc;
	}
	*token = c->token && *c->token ? c->token : NULL;
	return 0;
}
