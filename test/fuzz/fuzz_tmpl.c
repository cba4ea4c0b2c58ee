/* fuzz_tmpl.c - libFuzzer target for the template engine.
 *
 * Input: the first line is JSON data (a fixed object is used when it does not
 * parse), the rest is the template. It is rendered with every escape mode,
 * strict and with allow_missing; partials come from the data's "partials"
 * object (so recursion is reachable). Must not crash, leak or misbehave. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/err.h"
#include "render/tmpl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fz_partial(struct prenv_buf *out, const char *name, void *ud,
		      struct prenv_err *err)
{
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive((const cJSON *)ud, "partials"), name);

	(void)err;
	if (!cJSON_IsString(p))
		return PRENV_ENOTFOUND;
	return prenv_buf_adds(out, p->valuestring) < 0 ? PRENV_ENOMEM : 0;
}

static void fz_warn(void *ud, const char *file, int line, int col,
		    const char *msg)
{
	(void)ud; (void)file; (void)line; (void)col; (void)msg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const untrusted[] = { "pr.title", "v", NULL };
	const char *nl = memchr(data, '\n', size);
	size_t jl = nl ? (size_t)(nl - (const char *)data) : 0;
	char *json = malloc(jl + 1);
	cJSON *d;
	int esc, strict;

	if (!json)
		return 0;
	memcpy(json, data, jl);
	json[jl] = '\0';
	d = cJSON_Parse(json);
	free(json);
	if (!d)
		d = cJSON_Parse("{\"v\":\"a: \\\"b\\\"\\n- c #\",\"n\":3,\"t\":true,"
				"\"l\":[1,\"x\\ny\",{\"v\":\"'\"}],\"o\":{\"v\":\"|\"},"
				"\"pr\":{\"title\":\"Fix: #1 ---\"}}");
	for (esc = 0; esc < 3; esc++) {
		for (strict = 0; strict < 2; strict++) {
			struct tmpl_opts o = TMPL_OPTS_INIT;
			struct prenv_buf out = PRENV_BUF_INIT;
			struct prenv_err err = PRENV_ERR_INIT;
			const char *tp = nl ? nl + 1 : (const char *)data;
			size_t tl = size - (size_t)(tp - (const char *)data);
			int rc;

			o.filename = "fuzz";
			o.escape = (enum tmpl_escape)esc;
			o.allow_missing = !strict;
			o.partial = fz_partial;
			o.partial_ud = d;
			o.untrusted = untrusted;
			o.warn = fz_warn;
			prenv_buf_adds(&out, "pre");
			rc = tmpl_render(&out, tp, tl, d, &o, &err);
			if (rc < 0 && (out.len != 3 || !err.msg))
				abort(); /* errors leave out untouched and say why */
			if (rc == 0 && err.msg)
				abort();
			prenv_buf_free(&out);
			prenv_err_clear(&err);
		}
	}
	cJSON_Delete(d);
	return 0;
}
