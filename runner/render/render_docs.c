/* render_docs.c - rendered text -> checked, labelled objects (see render.h).
 *
 * Each object remembers the template file and the line its document starts
 * on, in a parallel array (the objects themselves stay clean), so errors
 * found later (a duplicate, a bad label) can name both places.
 */
#include "render/render.h"
#include "util/err.h"
#include "util/log.h"
#include "util/names.h"
#include "util/yaml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


struct render_src {
	char *file;
	int line;
	char *key;          /* apiVersion \x1f kind \x1f namespace \x1f name */
	unsigned long hash; /* FNV-1a of key: duplicates are found by comparing hashes first */
};

struct render_docs {
	cJSON *objects;     /* objects src[taken..n) */
	struct render_src *src;
	size_t n, cap;
	size_t taken;       /* objects already handed out by render_docs_take_new */
	size_t *slots;      /* hash set of src indexes + 1 (0: free), by key hash */
	size_t nslots;      /* a power of two, at least twice n; 0: none yet */
	char *app, *env_name;
	tmpl_warn_fn warn;
	void *warn_ud;
};

/* A Kubernetes label value: empty, or <= 63 chars of [A-Za-z0-9-_.],
 * starting and ending with an alphanumeric. */
static int label_value_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0)
		return 1;
	if (n > 63)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];
		int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9');

		if (!alnum && ((i == 0 || i == n - 1) ||
			       !(c == '-' || c == '_' || c == '.')))
			return 0;
	}
	return 1;
}

int render_docs_new(struct render_docs **out, const char *app, const char *env_name,
		    tmpl_warn_fn warn, void *warn_ud, struct prenv_err *err)
{
	struct render_docs *d;

	*out = NULL;
	if (!app || !*app || !env_name || !*env_name)
		return prenv_err_set(err, PRENV_ECONFIG,
				     "render: the app and environment names must not be empty");
	if (!label_value_ok(app) || !label_value_ok(env_name))
		return prenv_err_set(err, PRENV_ECONFIG,
				     "render: app '%s' / environment '%s' is not a valid Kubernetes label value "
				     "(<= 63 characters of [A-Za-z0-9-_.], alphanumeric at both ends)",
				     app, env_name);
	d = calloc(1, sizeof(*d));
	if (!d)
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	d->objects = cJSON_CreateArray();
	d->app = strdup(app);
	d->env_name = strdup(env_name);
	d->warn = warn;
	d->warn_ud = warn_ud;
	if (!d->objects || !d->app || !d->env_name) {
		render_docs_free(d);
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	}
	*out = d;
	return 0;
}

/* Forgets every object's source and key (the array itself is kept). */
static void src_clear(struct render_docs *d)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		free(d->src[i].file);
		free(d->src[i].key);
	}
	d->n = 0;
	if (d->slots)
		memset(d->slots, 0, d->nslots * sizeof(*d->slots));
}

void render_docs_free(struct render_docs *d)
{
	if (!d)
		return;
	src_clear(d);
	free(d->src);
	free(d->slots);
	cJSON_Delete(d->objects);
	free(d->app);
	free(d->env_name);
	free(d);
}

size_t render_docs_count(const struct render_docs *d)
{
	return d ? d->n : 0;
}

const char *render_docs_source(const struct render_docs *d, size_t i, int *line)
{
	if (!d || i >= d->n) {
		if (line)
			*line = 0;
		return NULL;
	}
	if (line)
		*line = d->src[i].line;
	return d->src[i].file;
}

const char *render_object_source(const cJSON *obj)
{
	return obj ? obj->string : NULL;
}

/* Detaches d's objects (src[taken..n)), each named after its source. */
static cJSON *take_objects(struct render_docs *d)
{
	cJSON *a, *fresh = cJSON_CreateArray(), *o;
	size_t i = d->taken;

	if (!fresh)
		return NULL;
	a = d->objects;
	for (o = a->child; o && i < d->n; o = o->next, i++) {
		size_t fl = strlen(d->src[i].file);
		char *name;

		if (o->string || !(name = malloc(fl + 24)))
			continue;
		memcpy(name, d->src[i].file, fl);
		snprintf(name + fl, 24, ":%d", d->src[i].line);
		o->string = name;
	}
	d->objects = fresh;
	d->taken = d->n;
	return a;
}

cJSON *render_docs_take(struct render_docs *d)
{
	cJSON *a = take_objects(d);

	if (a) {
		src_clear(d);
		d->taken = 0;
	}
	return a;
}

cJSON *render_docs_take_new(struct render_docs *d)
{
	return take_objects(d);
}

static void docs_warn(struct render_docs *d, const char *file, int line, const char *msg)
{
	if (d->warn)
		d->warn(d->warn_ud, file, line, 0, msg);
	else
		log_warn("%s:%d: %s", file, line, msg);
}

static const char *str_member(const cJSON *obj, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Returns obj[name], creating an empty mapping there if it is missing.
 * NULL when obj[name] exists and is not a mapping (or out of memory). */
static cJSON *child_object(cJSON *obj, const char *name, int *not_object)
{
	cJSON *c = cJSON_GetObjectItemCaseSensitive(obj, name);

	*not_object = 0;
	if (c) {
		if (cJSON_IsObject(c))
			return c;
		*not_object = 1;
		return NULL;
	}
	return cJSON_AddObjectToObject(obj, name);
}

static int set_label(struct render_docs *d, cJSON *labels, const char *key,
		     const char *value, const char *where, const char *file, int line,
		     struct prenv_err *err)
{
	cJSON *old = cJSON_GetObjectItemCaseSensitive(labels, key);
	cJSON *v;

	if (old) {
		if (!cJSON_IsString(old) || strcmp(old->valuestring, value)) {
			struct prenv_buf m = PRENV_BUF_INIT;

			prenv_buf_printf(&m, "%s label %s is set by prenv to '%s'; the template's value is replaced",
					 where, key, value);
			if (!m.failed)
				docs_warn(d, file, line, m.ptr);
			prenv_buf_free(&m);
		}
		cJSON_DeleteItemFromObjectCaseSensitive(labels, key);
	}
	/* key is one of the PRENV_LABEL_ literals: added as a constant (not
	 * copied, never freed) */
	if (!(v = cJSON_CreateString(value)) || !cJSON_AddItemToObjectCS(labels, key, v)) {
		cJSON_Delete(v);
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	}
	return 0;
}

static int add_labels(struct render_docs *d, cJSON *labels, const char *where,
		      int managed, const char *file, int line, struct prenv_err *err)
{
	int rc = 0;

	if (managed)
		rc = set_label(d, labels, PRENV_LABEL_MANAGED, PRENV_MANAGED_BY, where, file, line, err);
	if (!rc)
		rc = set_label(d, labels, PRENV_LABEL_APP, d->app, where, file, line, err);
	if (!rc)
		rc = set_label(d, labels, PRENV_LABEL_ENV, d->env_name, where, file, line, err);
	return rc;
}

static int has_pod_template(const char *kind)
{
	static const char *const kinds[] = {
		"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", NULL,
	};
	size_t i;

	for (i = 0; kinds[i]; i++)
		if (!strcmp(kind, kinds[i]))
			return 1;
	return 0;
}

/* Labels the pod template of a workload (spec.template, or for a CronJob
 * spec.jobTemplate.spec.template). A workload without a pod template is
 * left alone (the API server will say what is missing). */
static int label_pod_template(struct render_docs *d, cJSON *obj, const char *kind,
			      const char *file, int line, struct prenv_err *err)
{
	cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	cJSON *tpl, *meta, *labels;
	const char *path = "spec.template";
	int bad;

	if (!strcmp(kind, "CronJob")) {
		cJSON *jt = cJSON_GetObjectItemCaseSensitive(spec, "jobTemplate");

		spec = cJSON_GetObjectItemCaseSensitive(jt, "spec");
		path = "spec.jobTemplate.spec.template";
	}
	tpl = cJSON_GetObjectItemCaseSensitive(spec, "template");
	if (!cJSON_IsObject(tpl))
		return 0;
	meta = child_object(tpl, "metadata", &bad);
	if (!meta && bad)
		return prenv_err_set_at(err, PRENV_ECONFIG, file, line, 0,
					"%s %s: %s.metadata must be a mapping", kind,
					str_member(cJSON_GetObjectItemCaseSensitive(obj, "metadata"), "name"),
					path);
	labels = meta ? child_object(meta, "labels", &bad) : NULL;
	if (!labels && bad)
		return prenv_err_set_at(err, PRENV_ECONFIG, file, line, 0,
					"%s %s: %s.metadata.labels must be a mapping", kind,
					str_member(cJSON_GetObjectItemCaseSensitive(obj, "metadata"), "name"),
					path);
	if (!labels)
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	return add_labels(d, labels, "pod template", 0, file, line, err);
}

/* Checks one document and labels it. */
static int check_object(struct render_docs *d, cJSON *obj, const char *file, int line,
			struct prenv_err *err)
{
	cJSON *meta, *labels;
	const char *api, *kind, *name;
	cJSON *ns;
	int bad;

	if (!cJSON_IsObject(obj))
		return prenv_err_set_at(err, PRENV_ECONFIG, file, line, 0,
					"a document must be a mapping (a Kubernetes object), not a %s",
					cJSON_IsArray(obj) ? "list" : "scalar");
	api = str_member(obj, "apiVersion");
	kind = str_member(obj, "kind");
	if (!api || !*api)
		return prenv_err_set_at(err, PRENV_ECONFIG, file, line, 0,
					"the document has no apiVersion (a non-empty string)");
	if (!kind || !*kind)
		return prenv_err_set_at(err, PRENV_ECONFIG, file, line, 0,
					"the document has no kind (a non-empty string)");
	meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	if (!cJSON_IsObject(meta))
		return prenv_err_set_at(err, PRENV_ECONFIG, file, line, 0,
					"%s has no metadata mapping (metadata.name is required)", kind);
	name = str_member(meta, "name");
	if (!name || !*name)
		return prenv_err_set_at(err, PRENV_ECONFIG, file, line, 0,
					"%s has no metadata.name (a non-empty string)", kind);
	ns = cJSON_GetObjectItemCaseSensitive(meta, "namespace");
	if (ns && !cJSON_IsString(ns) && !cJSON_IsNull(ns))
		return prenv_err_set_at(err, PRENV_ECONFIG, file, line, 0,
					"%s %s: metadata.namespace must be a string", kind, name);
	labels = child_object(meta, "labels", &bad);
	if (!labels)
		return bad ? prenv_err_set_at(err, PRENV_ECONFIG, file, line, 0,
					      "%s %s: metadata.labels must be a mapping", kind, name)
			   : prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	if (add_labels(d, labels, "metadata", 1, file, line, err) < 0)
		return err ? err->code : PRENV_ENOMEM;
	if (has_pod_template(kind))
		return label_pod_template(d, obj, kind, file, line, err);
	return 0;
}

static const char *ns_of(const cJSON *obj)
{
	const char *ns = str_member(cJSON_GetObjectItemCaseSensitive(obj, "metadata"), "namespace");

	return ns ? ns : "";
}

/* The identity of an object (apiVersion, kind, namespace, name) as one
 * string, and its hash. Caller frees the key. */
static char *object_key(const cJSON *o, unsigned long *hash)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "metadata");
	const char *part[4];
	size_t len[4], i, n = 0;
	unsigned long h = 1469598103934665603UL;
	char *k, *p;

	part[0] = str_member(o, "apiVersion");
	part[1] = str_member(o, "kind");
	part[2] = ns_of(o);
	part[3] = str_member(m, "name");
	for (i = 0; i < 4; i++) {
		if (!part[i])
			part[i] = "(null)";
		n += (len[i] = strlen(part[i])) + 1;
	}
	if (!(p = k = malloc(n)))
		return NULL;
	for (i = 0; i < 4; i++) {
		memcpy(p, part[i], len[i]);
		p += len[i];
		*p++ = i < 3 ? '\x1f' : '\0';
	}
	for (p = k; *p; p++) {
		h ^= (unsigned char)*p;
		h *= 1099511628211UL;
	}
	*hash = h;
	return k;
}

/* The index of an earlier object (src[0, d->n)) with s's key, or -1. */
static long seen_before(const struct render_docs *d, const struct render_src *s)
{
	size_t mask = d->nslots - 1, i;

	if (!d->nslots)
		return -1;
	for (i = s->hash & mask; d->slots[i]; i = (i + 1) & mask) {
		const struct render_src *o = &d->src[d->slots[i] - 1];

		if (o->hash == s->hash && !strcmp(o->key, s->key))
			return (long)(d->slots[i] - 1);
	}
	return -1;
}

/* Adds src[from, to) to the hash set (growing it first when needed). */
static int remember(struct render_docs *d, size_t from, size_t to)
{
	size_t i;

	if (to * 2 > d->nslots) {
		size_t n = d->nslots ? d->nslots : 64, *sl;

		while (to * 2 > n)
			n *= 2;
		if (!(sl = calloc(n, sizeof(*sl))))
			return -1;
		free(d->slots);
		d->slots = sl;
		d->nslots = n;
		from = 0;
	}
	for (i = from; i < to; i++) {
		size_t mask = d->nslots - 1, j = d->src[i].hash & mask;

		while (d->slots[j])
			j = (j + 1) & mask;
		d->slots[j] = i + 1;
	}
	return 0;
}

static int duplicate_error(const cJSON *obj, const char *filename, int line,
			   const char *other_file, int other_line, struct prenv_err *err)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, "metadata");

	return prenv_err_set_at(err, PRENV_ECONFIG, filename, line, 0,
				"duplicate object %s %s %s%s%s: also defined at %s:%d",
				str_member(obj, "apiVersion"), str_member(obj, "kind"),
				*ns_of(obj) ? ns_of(obj) : "", *ns_of(obj) ? "/" : "",
				str_member(m, "name"), other_file, other_line);
}

int render_docs_add(struct render_docs *d, const char *text, size_t len,
		    const char *filename, struct prenv_err *err)
{
	return render_docs_add_mapped(d, text, len, filename, NULL, err);
}

/* An error at a line of the rendered text is about the template's line. */
static void map_err(struct prenv_err *err, const struct tmpl_linemap *map)
{
	const char *file;
	int line;

	if (map && err->line > 0 && tmpl_linemap_find(map, err->line, &file, &line)) {
		err->line = line;
		if (!err->file || strcmp(err->file, file))
			prenv_set_str(&err->file, file);
	}
}

int render_docs_add_mapped(struct render_docs *d, const char *text, size_t len,
			   const char *filename, const struct tmpl_linemap *map,
			   struct prenv_err *err)
{
	cJSON *docs = NULL, *obj;
	int *lines = NULL;
	const char **files = NULL;
	size_t i, j, n, base = d->n;
	long dup;
	int rc;

	if (!filename)
		filename = "<template>";
	if ((rc = yaml_parse_json_lines(&docs, &lines, text, len, filename, err)) < 0) {
		map_err(err, map);
		goto done;
	}
	n = (size_t)cJSON_GetArraySize(docs);
	if (!(files = calloc(n ? n : 1, sizeof(*files)))) {
		rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
		goto done;
	}
	for (i = 0; i < n; i++)
		if (!map || !tmpl_linemap_find(map, lines[i], &files[i], &lines[i]))
			files[i] = filename;
	if (d->n + n > d->cap) {
		size_t cap = d->cap ? d->cap : 16;
		struct render_src *p;

		while (cap < d->n + n)
			cap *= 2;
		if (!(p = realloc(d->src, cap * sizeof(*p)))) {
			rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
			goto done;
		}
		d->src = p;
		d->cap = cap;
	}
	/* Check all of this file's documents before appending any. Their keys
	 * go into the free slots of d->src and are kept on success. */
	for (i = 0; i < n; i++)
		d->src[base + i].key = NULL;
	for (i = 0, obj = docs->child; obj; obj = obj->next, i++) {
		struct render_src *s = &d->src[base + i];

		if ((rc = check_object(d, obj, files[i], lines[i], err)) < 0)
			goto drop_keys;
		if (!(s->key = object_key(obj, &s->hash))) {
			rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
			goto drop_keys;
		}
		/* earlier files through the hash set, this file's one by one */
		if ((dup = seen_before(d, s)) >= 0) {
			rc = duplicate_error(obj, files[i], lines[i], d->src[dup].file,
					     d->src[dup].line, err);
			goto drop_keys;
		}
		for (j = base; j < base + i; j++) {
			if (d->src[j].hash != s->hash || strcmp(d->src[j].key, s->key))
				continue;
			rc = duplicate_error(obj, files[i], lines[i], files[j - base],
					     lines[j - base], err);
			goto drop_keys;
		}
	}
	for (i = 0; i < n; i++) {
		if (!(d->src[base + i].file = strdup(files[i]))) {
			while (i-- > 0)
				free(d->src[base + i].file);
			rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
			goto drop_keys;
		}
		d->src[base + i].line = lines[i];
	}
	if (remember(d, base, base + n) < 0) {
		for (i = 0; i < n; i++)
			free(d->src[base + i].file);
		rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
		goto drop_keys;
	}
	while ((obj = cJSON_DetachItemFromArray(docs, 0)) != NULL)
		cJSON_AddItemToArray(d->objects, obj);
	d->n += n;
	goto done;
drop_keys:
	for (i = 0; i < n; i++) {
		free(d->src[base + i].key);
		d->src[base + i].key = NULL;
	}
done:
	cJSON_Delete(docs);
	free(lines);
	free(files);
	return rc;
}
