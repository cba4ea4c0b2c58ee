/* secrets.c - the values behind the config's `secrets:` and `access:`,
 * read from this job's environment at deploy; see cli.h.
 *
 * Provider-neutral: the values are checked (a listed variable that is
 * unset or empty is an exit-2 error naming it, before anything is
 * applied or reported), registered with the logger's mask (also in
 * base64, the form a Secret carries), and handed to the provider as
 * JSON (run->secrets, see providers/provider.h), which writes them.
 */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "context/ci.h"
#include "util/base64.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/htpasswd.h"
#include "util/log.h"

#define REGISTRY_AUTH_MAX (1024 * 1024)

/* Masks s and its base64 (how a Secret's data carries it). */
static void mask(const char *s)
{
	struct prenv_buf b = PRENV_BUF_INIT;

	log_add_secret(s);
	base64_encode(&b, s, strlen(s));
	if (!b.failed)
		log_add_secret(b.ptr);
	prenv_buf_free(&b);
}

static int env_value(const struct cli *cli, const struct config_env_var *v, const char *key,
		     const char **out, struct prenv_err *err)
{
	const char *s = ci_getenv(cli->envp, v->name);

	if (!s || !*s)
		return prenv_err_set_at(err, PRENV_ECONFIG, cli->cfg->path, v->line, v->col,
					"%s names the CI variable %s, which is %s in this job; pass it "
					"to prenv's step (e.g. `env: %s: ${{ secrets.%s }}` on GitHub "
					"Actions); nothing was applied", key, v->name,
					s ? "empty" : "not set", v->name, v->name);
	mask(s);
	*out = s;
	return 0;
}

static int env_secret(struct cli *cli, cJSON *out, struct prenv_err *err)
{
	cJSON *o = cJSON_AddObjectToObject(out, "env"), *data;
	size_t i;
	int rc;

	if (!o || !cJSON_AddStringToObject(o, "name", cli->cfg->secrets_name) ||
	    !(data = cJSON_AddObjectToObject(o, "data")))
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	for (i = 0; i < cli->cfg->nsecrets_env; i++) {
		const struct config_env_var *v = &cli->cfg->secrets_env[i];
		const char *s;

		if ((rc = env_value(cli, v, "secrets.from_env", &s, err)) < 0)
			return rc;
		if (!cJSON_AddStringToObject(data, v->name, s))
			return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	}
	return 0;
}

/* The Docker config's text: PRENV_REGISTRY_AUTH (JSON, or its base64),
 * else $DOCKER_CONFIG/config.json, else ~/.docker/config.json. */
static int docker_config_text(const struct cli *cli, struct prenv_buf *text, struct prenv_buf *from,
			      struct prenv_err *err)
{
	const char *v = ci_getenv(cli->envp, "PRENV_REGISTRY_AUTH");
	const char *dir = ci_getenv(cli->envp, "DOCKER_CONFIG"), *home = ci_getenv(cli->envp, "HOME");
	const char *p;

	if (v && *v) {
		prenv_buf_adds(from, "PRENV_REGISTRY_AUTH");
		log_add_secret(v);
		for (p = v; *p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'; p++)
			;
		if (*p == '{')
			prenv_buf_adds(text, v);
		else if (base64_decode(text, v, strlen(v)) < 0)
			return prenv_err_set(err, PRENV_ECONFIG, "PRENV_REGISTRY_AUTH is neither a Docker "
					     "config.json ({\"auths\": ...}) nor its base64");
		return text->failed ? prenv_err_set(err, PRENV_ENOMEM, "out of memory") : 0;
	}
	if (dir && *dir)
		prenv_buf_printf(from, "%s/config.json", dir);
	else if (home && *home)
		prenv_buf_printf(from, "%s/.docker/config.json", home);
	else
		return prenv_err_set_at(err, PRENV_ECONFIG, cli->cfg->path, cli->cfg->secrets_line,
					cli->cfg->secrets_col, "secrets.image_pull needs registry "
					"credentials: set PRENV_REGISTRY_AUTH to a Docker config.json "
					"({\"auths\": {...}}); nothing was applied");
	prenv_buf_init(text, REGISTRY_AUTH_MAX);
	if (prenv_buf_read_file(text, from->ptr) < 0)
		return prenv_err_set_at(err, PRENV_ECONFIG, cli->cfg->path, cli->cfg->secrets_line,
					cli->cfg->secrets_col, "secrets.image_pull needs registry "
					"credentials and %s cannot be read: set PRENV_REGISTRY_AUTH to a "
					"Docker config.json ({\"auths\": {...}}) or run `docker login`; "
					"nothing was applied", from->ptr);
	return 0;
}

/* Masks every credential of an auths entry, also the password inside a
 * base64 "auth" (user:password). */
static void mask_auths(const cJSON *auths)
{
	static const char *const keys[] = { "auth", "password", "identitytoken", "registrytoken" };
	const cJSON *e;
	size_t i;

	cJSON_ArrayForEach(e, auths) {
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, keys[i]);
			struct prenv_buf d = PRENV_BUF_INIT;
			const char *colon;

			if (!cJSON_IsString(v) || !*v->valuestring)
				continue;
			log_add_secret(v->valuestring);
			if (!strcmp(keys[i], "auth") &&
			    base64_decode(&d, v->valuestring, strlen(v->valuestring)) == 0 && !d.failed &&
			    (colon = memchr(d.ptr, ':', d.len)) && strlen(d.ptr) == d.len)
				log_add_secret(colon + 1);
			prenv_buf_free(&d);
		}
	}
}

static int image_pull_secret(struct cli *cli, cJSON *out, struct prenv_err *err)
{
	struct prenv_buf text = PRENV_BUF_INIT, from = PRENV_BUF_INIT;
	cJSON *doc = NULL, *keep = NULL, *o;
	const cJSON *auths;
	char *json = NULL;
	int rc;

	if ((rc = docker_config_text(cli, &text, &from, err)) < 0)
		goto done;
	doc = cJSON_ParseWithLength(text.ptr, text.len);
	auths = cJSON_GetObjectItemCaseSensitive(doc, "auths");
	if (!cJSON_IsObject(auths) || !auths->child) {
		const cJSON *store = cJSON_GetObjectItemCaseSensitive(doc, "credsStore");

		rc = prenv_err_set(err, PRENV_ECONFIG, "secrets.image_pull: %s %s; give prenv a "
				   "Docker config whose \"auths\" hold the credentials (PRENV_REGISTRY_AUTH)"
				   "; nothing was applied", from.ptr, !doc ? "is not JSON"
				   : cJSON_IsString(store) ? "keeps its credentials in a credential "
				   "helper (credsStore), which a cluster cannot use" : "has no \"auths\"");
		goto done;
	}
	mask_auths(auths);
	if (!(keep = cJSON_CreateObject()) ||
	    !cJSON_AddItemToObject(keep, "auths", cJSON_Duplicate(auths, 1)) ||
	    !(json = cJSON_PrintUnformatted(keep)) || !(o = cJSON_AddObjectToObject(out, "image_pull")) ||
	    !cJSON_AddStringToObject(o, "name", cli->cfg->image_pull) ||
	    !cJSON_AddStringToObject(o, "dockerconfigjson", json)) {
		rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
		goto done;
	}
	mask(json);
	log_verbose("secrets: image pull Secret %s from %s", cli->cfg->image_pull, from.ptr);
done:
	free(json);
	cJSON_Delete(keep);
	cJSON_Delete(doc);
	prenv_buf_free(&text);
	prenv_buf_free(&from);
	return rc;
}

static int basic_auth_secret(struct cli *cli, cJSON *out, struct prenv_err *err)
{
	struct prenv_buf line = PRENV_BUF_INIT;
	const char *pw;
	cJSON *o;
	int rc;

	if ((rc = env_value(cli, &cli->cfg->auth_password, "access.basic_auth.password_from_env", &pw,
			    err)) < 0)
		return rc;
	if (htpasswd_line(&line, cli->cfg->auth_user, pw) < 0) {
		prenv_buf_free(&line);
		return prenv_err_set(err, PRENV_EFAIL, "access.basic_auth: cannot hash the password "
				     "(no randomness for the salt)");
	}
	mask(line.ptr);
	rc = 0;
	if (!(o = cJSON_AddObjectToObject(out, "basic_auth")) ||
	    !cJSON_AddStringToObject(o, "secret", CLI_BASIC_AUTH_SECRET) ||
	    !cJSON_AddStringToObject(o, "realm", cli->cfg->auth_realm) ||
	    !cJSON_AddStringToObject(o, "htpasswd", line.ptr))
		rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	prenv_buf_free(&line);
	return rc;
}

int cli_secrets_resolve(struct cli *cli, struct prenv_err *err)
{
	const struct prenv_config *cfg = cli->cfg;
	cJSON *o;
	int rc = 0;

	if (!cfg->secrets_name && !cfg->image_pull && !cfg->auth_user)
		return 0;
	if (!(o = cJSON_CreateObject()))
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	if (cfg->nsecrets_env)
		rc = env_secret(cli, o, err);
	if (rc == 0 && cfg->auth_user)
		rc = basic_auth_secret(cli, o, err);
	if (rc == 0 && cfg->image_pull)
		rc = image_pull_secret(cli, o, err);
	if (rc < 0) {
		cJSON_Delete(o);
		return rc;
	}
	cJSON_Delete(cli->secrets);
	cli->secrets = o;
	cli->run.secrets = o;
	return 0;
}
