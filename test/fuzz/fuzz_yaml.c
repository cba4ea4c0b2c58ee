/* fuzz_yaml.c - libFuzzer target for util/yaml.
 *
 * The input is YAML text. It is parsed to cJSON (every document kept is
 * emitted again and must parse back), and loaded as a positioned tree,
 * strict and lenient: every node must be well formed (position >= 1:1,
 * scalar text NUL-terminated at len, collections complete), a strict load
 * that succeeds must succeed lenient too, and errors must say why. The fast
 * block-style reader (util/yaml_block.c) must give exactly what libyaml
 * alone gives: the same documents and lines, or the same error. Must not
 * crash, leak or misbehave. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Checks n and everything below it (strict trees only: no shared nodes, so
 * the walk is linear; depth is bounded by the input size). */
static void fz_check_node(const struct yaml_node *n)
{
	size_t i;

	if (!n || n->line < 1 || n->col < 1 || !n->text || n->text[n->len] != '\0')
		abort();
	if (n->kind == YAML_KIND_SCALAR) {
		if (n->n || n->items || n->pairs)
			abort();
		return;
	}
	if (n->len || n->plain)
		abort();
	for (i = 0; i < n->n; i++) {
		if (n->kind == YAML_KIND_SEQ) {
			fz_check_node(n->items[i]);
		} else {
			fz_check_node(n->pairs[i].key);
			fz_check_node(n->pairs[i].value);
		}
	}
}

static void fz_tree(const char *text, size_t len)
{
	struct prenv_err err = PRENV_ERR_INIT;
	struct yaml_doc *strict = NULL, *lenient = NULL;
	int rs, rl;

	rs = yaml_doc_load(&strict, text, len, "fuzz", YAML_DOC_STRICT, &err);
	if ((rs < 0) != (err.msg != NULL) || (rs < 0) != !strict)
		abort();
	prenv_err_clear(&err);
	rl = yaml_doc_load(&lenient, text, len, "fuzz", 0, &err);
	if ((rl < 0) != (err.msg != NULL) || (rl < 0) != !lenient || (rs == 0 && rl < 0))
		abort();
	prenv_err_clear(&err);
	if (strict && yaml_doc_root(strict))
		fz_check_node(yaml_doc_root(strict));
	yaml_doc_free(strict);
	yaml_doc_free(lenient);
}

/* The fast reader against libyaml alone (differential). */
static void fz_same_as_libyaml(const cJSON *docs, const int *lines, int rc,
			       const char *msg, const char *text, size_t len)
{
	struct prenv_err err = PRENV_ERR_INIT;
	cJSON *ref = NULL;
	int *rlines = NULL, rrc, i;

	rrc = yaml_parse_json_lines_ref(&ref, &rlines, text, len, "fuzz", &err);
	if (rrc != rc)
		abort();
	if (rc < 0) {
		if (!msg || !err.msg || strcmp(msg, err.msg) != 0)
			abort();
	} else {
		/* printed, not cJSON_Compare: that says inf != inf */
		char *a = cJSON_PrintUnformatted(docs), *b = cJSON_PrintUnformatted(ref);

		if (!a || !b || strcmp(a, b) != 0)
			abort();
		free(a);
		free(b);
		for (i = 0; i < cJSON_GetArraySize(ref); i++)
			if (lines[i] != rlines[i])
				abort();
	}
	prenv_err_clear(&err);
	cJSON_Delete(ref);
	free(rlines);
}

static void fz_json(const char *text, size_t len)
{
	struct prenv_err err = PRENV_ERR_INIT;
	cJSON *docs = NULL, *back = NULL, *d;
	int *lines = NULL;
	int rc;

	rc = yaml_parse_json_lines(&docs, &lines, text, len, "fuzz", &err);
	fz_same_as_libyaml(docs, lines, rc, err.msg, text, len);
	if (rc < 0) {
		if (docs || lines || !err.msg)
			abort();
		prenv_err_clear(&err);
		return;
	}
	cJSON_ArrayForEach(d, docs) {
		struct prenv_buf out = PRENV_BUF_INIT;

		if (yaml_emit_json(&out, d, &err) == 0) {
			if (yaml_parse_json(&back, out.ptr, out.len, "emitted", &err) < 0 ||
			    cJSON_GetArraySize(back) != 1)
				abort(); /* what we write, we read */
			cJSON_Delete(back);
			back = NULL;
		}
		prenv_err_clear(&err);
		prenv_buf_free(&out);
	}
	cJSON_Delete(docs);
	free(lines);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_tree((const char *)data, size);
	fz_json((const char *)data, size);
	return 0;
}
