/* render.h - templates directory -> Kubernetes-style documents (cJSON).
 *
 * Every *.yaml / *.yml / *.json file of the directory, in file-name order, is
 * rendered (YAML escaping), split into documents, parsed with libyaml into
 * cJSON (YAML 1.2 core schema for plain scalars), checked (apiVersion, kind,
 * metadata.name; no duplicates) and labelled (app.kubernetes.io/managed-by:
 * prenv, prenv.dev/app, prenv.dev/env).
 */
#ifndef PRENV_RENDER_H
#define PRENV_RENDER_H

#include <cjson/cJSON.h>
#include "buf.h"
#include "tmpl.h"

struct prenv_err;

struct render_opts {
	const char *dir;              /* the templates directory */
	const cJSON *vars;            /* template variables */
	const char *app, *env_name;   /* for the labels */
	int allow_missing;
	const char *const *untrusted; /* see tmpl_opts */
	tmpl_warn_fn warn;
	void *warn_ud;
};

/* Renders every template; *out is a cJSON array of objects (caller frees).
 * Partials ({{> name}}) are loaded from dir/name, dir/name.mustache,
 * dir/_name.yaml... (see render.c). */
int render_dir(cJSON **out, const struct render_opts *opts, struct prenv_err *err);

/* Parses a YAML stream (all documents) into a cJSON array (core schema).
 * filename is for errors. Caller frees *out. */
int render_yaml_parse(cJSON **out, const char *text, size_t len,
		      const char *filename, struct prenv_err *err);

/* Emits one JSON value as a YAML document (block style, strings quoted when
 * needed) and appends it to out. */
int render_yaml_emit(struct prenv_buf *out, const cJSON *doc, struct prenv_err *err);

#endif
