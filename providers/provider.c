/* provider.c - what the core does with any provider: sessions, results.
 * The table of providers is registry.c. */
#include "provider.h"

#include <stdlib.h>
#include <string.h>

#include "util/err.h"

int provider_open(const struct prenv_provider *p, const struct provider_run *run,
		  struct provider_session **out, struct prenv_err *err)
{
	int rc;

	*out = NULL;
	if (p->version != PRENV_PROVIDER_VERSION)
		return prenv_err_set(err, PRENV_EFAIL,
				     "provider %s implements interface version %u, this prenv needs %u",
				     p->name, p->version, PRENV_PROVIDER_VERSION);
	rc = p->open(out, run, err);
	if (rc == 0 && *out)
		(*out)->provider = p;
	return rc;
}

void provider_close(struct provider_session *s)
{
	if (s)
		s->provider->close(s);
}

int provider_once(const struct prenv_provider *p, enum prenv_op op,
		  const struct provider_run *run, const cJSON *objects,
		  struct provider_result *res, struct prenv_err *err)
{
	struct provider_session *s = NULL;
	int rc = provider_open(p, run, &s, err);

	if (rc < 0)
		return rc;
	switch (op) {
	case PRENV_OP_DEPLOY:
		rc = p->deploy(s, run, objects, res, err);
		break;
	case PRENV_OP_DESTROY:
		rc = p->destroy(s, run, res, err);
		break;
	case PRENV_OP_STATUS:
		rc = p->status(s, run, res, err);
		break;
	}
	provider_close(s);
	return rc;
}

int provider_notes_supported(const struct provider_session *s)
{
	return s && s->provider->get_note && s->provider->set_note;
}

int provider_note_get(void *ud, const char *key, char **out, struct prenv_err *err)
{
	const struct provider_note_ref *n = ud;

	return n->s->provider->get_note(n->s, n->run, key, out, err);
}

int provider_note_set(void *ud, const char *key, const char *value, struct prenv_err *err)
{
	const struct provider_note_ref *n = ud;

	return n->s->provider->set_note(n->s, n->run, key, value, err);
}

void provider_result_clear(struct provider_result *res)
{
	if (!res)
		return;
	free(res->status);
	free(res->url);
	free(res->reason);
	free(res->detail);
	cJSON_Delete(res->info);
	memset(res, 0, sizeof(*res));
}

