/* image_check.c - a service's image check (see image_check.h). */
#include "resolve/image_check.h"

#include <stdlib.h>
#include <string.h>

#include "resolve/registry.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/http.h"
#include "util/log.h"

struct image_checker {
	const char *const *envp;
	double start_ms;
	struct http_client *http;   /* made at the first check */
	struct registry *reg;
};

void image_check_keys_read(const cJSON *keys, struct image_check_keys *out)
{
	const cJSON *w = cJSON_GetObjectItemCaseSensitive(keys, "image_wait");
	const char *m = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(keys, "on_missing"));

	out->enabled = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(keys, "image_check"));
	out->wait_ms = cJSON_IsNumber(w) ? (long)w->valuedouble * 1000L : 600000L;
	out->production = m && !strcmp(m, "production");
}

int image_checker_new(struct image_checker **out, const char *const *envp,
		      struct prenv_err *err)
{
	struct image_checker *ic = calloc(1, sizeof(*ic));

	*out = NULL;
	if (!ic)
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	ic->envp = envp;
	ic->start_ms = fs_now_ms();
	*out = ic;
	return 0;
}

void image_checker_free(struct image_checker *ic)
{
	if (!ic)
		return;
	registry_free(ic->reg);
	http_client_free(ic->http);
	free(ic);
}

static int connect_lazily(struct image_checker *ic, struct prenv_err *err)
{
	struct http_client_opts ho = { .user_agent_extra = "image-check" };
	struct registry_opts ro = { .envp = ic->envp };
	int rc;

	if (ic->reg)
		return 0;
	rc = http_client_new(&ic->http, &ho, err);
	if (!rc)
		rc = registry_new(&ic->reg, ic->http, &ro, err);
	return rc;
}

int image_checker_run(struct image_checker *ic, const char *service, const cJSON *keys,
		      const char *image, const char *production, char **out, int *fell_back,
		      struct prenv_err *err)
{
	struct image_check_keys k;
	struct registry_result res = REGISTRY_RESULT_INIT;
	struct prenv_buf what = PRENV_BUF_INIT;
	struct registry_check chk;
	int rc;

	*out = NULL;
	*fell_back = 0;
	image_check_keys_read(keys, &k);
	if (!k.enabled) {
		*out = strdup(image);
		return *out ? 0 : prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	}
	if (k.production && !production)
		log_verbose("service %s: no production image to fall back to", service);
	rc = connect_lazily(ic, err);
	if (rc)
		return rc;
	prenv_buf_printf(&what, "service %s", service);
	if (what.failed)
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	chk = (struct registry_check){ .image = image, .wait_ms = k.wait_ms,
				       .fallback = k.production ? production : NULL,
				       .what = what.ptr };
	rc = registry_resolve(ic->reg, &chk, ic->start_ms, &res, err);
	if (!rc) {
		if (res.digest)
			log_info("service %s: image %s", service, res.image);
		*out = res.image;
		*fell_back = res.fell_back;
		res.image = NULL;
	}
	registry_result_free(&res);
	prenv_buf_free(&what);
	return rc;
}
