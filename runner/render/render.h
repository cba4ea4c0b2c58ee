/* render.h - templates directory -> Kubernetes-style documents (cJSON).
 *
 * Every *.yaml / *.yml / *.json file of the directory, in file-name order, is
 * rendered (YAML escaping), split into documents, parsed into cJSON by
 * util/yaml.h (YAML 1.2 core schema for plain scalars), checked (apiVersion,
 * kind, metadata.name; no duplicates) and labelled
 * (app.kubernetes.io/managed-by: prenv, prenv.dev/app, prenv.dev/env).
 */
#ifndef PRENV_RENDER_H
#define PRENV_RENDER_H

#include <cjson/cJSON.h>
#include "util/buf.h"
#include "render/tmpl.h"

struct prenv_err;

struct render_opts {
	const char *dir;              /* the templates directory */
	const cJSON *vars;            /* template variables */
	const char *app, *env_name;   /* for the labels */
	int allow_missing;
	const char *const *untrusted; /* see tmpl_opts */
	tmpl_warn_fn warn;
	void *warn_ud;
	/* No object at all is an error unless allow_empty, reported at
	 * where_file:where_line:where_col (the config's `templates:`), or at
	 * the directory when where_file is NULL. */
	int allow_empty;
	const char *where_file;
	int where_line, where_col;
	const char *const *open_names; /* see tmpl_opts.open_names; NULL: none */
	/* NULL, or: each template file's objects, checked and labelled, are
	 * handed to sink as soon as the file is done (an array that is then
	 * the sink's, render_docs_take_new), instead of being kept until the
	 * end; *out is then an empty array. Duplicates across files and "no
	 * object at all" are still found. A sink's error stops render_dir.
	 * For `prenv render`, so the objects of only one file are in memory. */
	int (*sink)(void *ud, cJSON *objects, struct prenv_err *err);
	void *sink_ud;
};

/* Renders every template; *out is a cJSON array of objects (caller frees).
 * Templates: the regular files of dir named *.yaml, *.yml or *.json whose
 * name does not start with '_' (partials) or '.' (hidden), in strcmp order;
 * any other regular file (but documentation: *.md, *.txt) gets a warning
 * naming it (a deployment.yaml.tmpl is not rendered),
 * all rendered with TMPL_ESC_YAML (JSON is YAML: its strings are
 * double-quoted scalars). Partials ({{> name}}) are loaded from
 * dir/_name.yaml, dir/_name.yml, then dir/name (the first that exists); a
 * name containing '/', '\\' or "..", or starting with '.', is an error; a
 * missing partial is an error unless allow_missing (then it renders empty). On any error *out is NULL. */
int render_dir(cJSON **out, const struct render_opts *opts, struct prenv_err *err);

/* --- documents: checks, labels, duplicates (render_docs.c) -------------
 * render_dir feeds each rendered template to render_docs_add; usable on its
 * own (tests, other callers with already rendered text). */
struct render_docs;

/* app and env_name are copied; warn may be NULL (then log_warn). */
int render_docs_new(struct render_docs **out, const char *app, const char *env_name,
		    tmpl_warn_fn warn, void *warn_ud, struct prenv_err *err);
void render_docs_free(struct render_docs *d);
/* Parses text (the rendered template `filename`), checks every document
 * (a mapping with string apiVersion, kind, metadata.name; metadata.labels a
 * mapping if present; no (apiVersion, kind, namespace, name) seen before),
 * adds the labels and appends the objects. On error nothing is appended. */
int render_docs_add(struct render_docs *d, const char *text, size_t len,
		    const char *filename, struct prenv_err *err);
/* The same, with the rendered text's line map (tmpl_opts.linemap): every
 * position in an error and every object's source is the template's own
 * (its file and line: a partial's when the object starts there). */
int render_docs_add_mapped(struct render_docs *d, const char *text, size_t len,
			   const char *filename, const struct tmpl_linemap *map,
			   struct prenv_err *err);
size_t render_docs_count(const struct render_docs *d);
/* Where object i came from (borrowed, valid until render_docs_free). */
const char *render_docs_source(const struct render_docs *d, size_t i, int *line);
/* Hands the array of objects to the caller (d then holds an empty array).
 * Each object keeps its source: see render_object_source(). */
cJSON *render_docs_take(struct render_docs *d);
/* Hands the objects added since the last call (or since the start) to the
 * caller, named the same way; d still knows every object's identity and
 * source, so later duplicates are still found and render_docs_count() still
 * counts them all. */
cJSON *render_docs_take_new(struct render_docs *d);

/* Where an object of render_dir's / render_docs_take's array came from:
 * "file:line" (the template, and the line its document starts on), or NULL.
 * It travels as the array element's own name (cJSON's `string` member,
 * unused for array elements: no printer shows it, cJSON_Compare ignores it,
 * cJSON_Duplicate copies it), so the objects stay exactly what was rendered
 * and a provider can still name the template in an error. Borrowed from
 * obj. */
const char *render_object_source(const cJSON *obj);

/* The workload kinds whose pod template also gets prenv.dev/app and
 * prenv.dev/env: Deployment, StatefulSet, DaemonSet, ReplicaSet, Job
 * (spec.template) and CronJob (spec.jobTemplate.spec.template). */

/* Writes objects (a cJSON array) for `prenv render`.
 * format: "yaml" (a stream, one "---" document per object) or "json" (one
 * pretty-printed array); NULL means "yaml".
 * out_dir NULL: appended to out. Otherwise one file per object, named
 * NNN-<kind>-<name>.yaml (or .json), lowercase, [a-z0-9.-] only, NNN the
 * 1-based order (at least 3 digits). out_dir is created if missing; if it
 * exists it may only contain files of that pattern (earlier prenv output,
 * which is replaced) - anything else makes it refuse. Files are written to a
 * temporary directory inside out_dir and renamed into place, so an error
 * leaves out_dir as it was. When out is not NULL it gets the written paths,
 * one a line. */
int render_write(const cJSON *objects, const char *format, const char *out_dir,
		 struct prenv_buf *out, struct prenv_err *err);

#endif
