/* config.c - .prenv.yml; see config.h.
 *
 * The text is loaded as one positioned YAML document (util/yaml.h, strict:
 * syntax errors with libyaml's problem mark; anchors, aliases, tags and a
 * second document are rejected with their position); every node keeps its
 * start, so every error here names file:line:col (1-based).
 *
 * Anchors and aliases are NOT supported: a config is short, and an alias
 * would make one node appear in several places, so an error in it could not
 * name a single position. Explicit tags (!!str, !foo) are rejected too.
 */
#include "config/config.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/htpasswd.h"
#include "util/names.h"
#include "util/yaml.h"
#include "config/schema.h"
#include "config/config_int.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define CONFIG_MAX_BYTES ((size_t)1 << 20)
#define APP_MAX 40
#define VALUES_MAX_DEPTH 16

static const char *const kind_names[] = {
	[ENV_KIND_PREVIEW] = "preview",
	[ENV_KIND_DEVELOPMENT] = "development",
	[ENV_KIND_UAT] = "uat",
	[ENV_KIND_STAGING] = "staging",
	[ENV_KIND_PRODUCTION] = "production",
};
#define NKINDS (sizeof(kind_names) / sizeof(kind_names[0]))

const char *env_kind_name(enum env_kind k)
{
	if ((size_t)k < NKINDS)
		return kind_names[k];
	return "unknown";
}

/* ------------------------------------------------------------------ */
/* Key tables                                                          */

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_KEYS 32

/* The loader's own keys (the providers' keys come from their schemas). */
static const struct config_key top_keys[] = {
	{ "version", CONFIG_INT, 0, "1", "the config format version (1)", NULL },
	{ "app", CONFIG_STR, 1, NULL, "the application's name (a DNS label)", NULL },
	{ "templates", CONFIG_STR, 0, NULL, "the templates directory, relative to the config", NULL },
	{ "allow_empty", CONFIG_BOOL, 0, "false",
	  "the templates may render no object (a deploy then empties the environment)", NULL },
	{ "url", CONFIG_STR, 0, NULL, "the environment's URL (a template)", NULL },
	{ "forks", CONFIG_STR, 0, "skip", "pull requests from forks: skip or deploy", NULL },
	{ "provider", CONFIG_STRMAP, 1, NULL, "where environments go (kind and its keys)", NULL },
	{ "environments", CONFIG_STRSEQ, 1, NULL, "the rules, first match wins", NULL },
	{ "values", CONFIG_STRMAP, 0, NULL, "template values (themselves templates)", NULL },
	{ "phases", CONFIG_STRSEQ, 0, NULL, "ordered phases, each applied and waited on before the next", NULL },
	{ "on_destroy", CONFIG_STRMAP, 0, NULL, "Jobs run before the environment is destroyed", NULL },
	{ "secrets", CONFIG_STRMAP, 0, NULL, "CI variables written into a Secret of the environment", NULL },
	{ "access", CONFIG_STRMAP, 0, NULL, "who may open the preview (basic_auth)", NULL },
	{ "check", CONFIG_STRMAP, 0, NULL, "the URL check after a deploy is ready", NULL },
	{ "services", CONFIG_STRMAP, 0, NULL,
	  "named services, each with its templates and repository (services.c)", NULL },
	{ "logical", CONFIG_STRMAP, 0, NULL,
	  "deploy only the services a change touched, borrow the rest from a baseline", NULL },
	{ "shared_paths", CONFIG_STRSEQ, 0, NULL,
	  "with logical: files whose change deploys every service", NULL },
};

static const struct config_key rule_keys[] = {
	{ "branch", CONFIG_STR, 0, NULL, "branch pattern (GitHub Actions glob)", NULL },
	{ "tag", CONFIG_STR, 0, NULL, "tag pattern (GitHub Actions glob): runs for a pushed tag", NULL },
	{ "pull_request", CONFIG_BOOL, 0, NULL, "true: pull requests only; false: none", NULL },
	{ "name", CONFIG_STR, 0, NULL, "the environment's name (a template)", NULL },
	{ "kind", CONFIG_STR, 0, NULL, "preview, development, uat, staging or production", NULL },
	{ "protected", CONFIG_BOOL, 0, "false", "destroy and gc refuse it", NULL },
	{ "ttl", CONFIG_DUR, 0, NULL, "gc destroys it this long after the last deploy", NULL },
	{ "schedule", CONFIG_STRMAP, 0, NULL,
	  "when it is awake: { awake: \"Mon-Fri 08:00-20:00\", timezone: Europe/Paris }", NULL },
	{ "sleep_after", CONFIG_DUR, 0, NULL, "gc puts it to sleep after this long without a deploy or "
	  "`prenv touch`", NULL },
	{ "context", CONFIG_STR, 0, NULL, "the cluster context its environments go to (kubernetes: a "
	  "kubeconfig context)", NULL },
	{ "kubeconfig", CONFIG_STR, 0, NULL, "the kubeconfig file of that context, relative to the config",
	  NULL },
	{ "logical", CONFIG_BOOL, 0, NULL, "with a top-level logical: false deploys a full copy", NULL },
};

static const struct config_key schedule_keys[] = {
	{ "awake", CONFIG_STR, 1, NULL, "the awake windows, e.g. \"Mon-Fri 08:00-20:00, Sat 10:00-14:00\"",
	  NULL },
	{ "timezone", CONFIG_STR, 0, "UTC", "a tz database zone, e.g. Europe/Paris", NULL },
};

static const char *const forks_names[] = { "skip", "deploy" };

/* ------------------------------------------------------------------ */
/* Parser state and errors                                             */

/* struct cp: config_int.h */

/* Remembers where the template under key starts (config_template_pos). */
static int note_pos(struct cp *c, const char *key, const struct yaml_node *n)
{
	cJSON *a;

	if (!c->cfg->positions && !(c->cfg->positions = cJSON_CreateObject()))
		return -1;
	if (!(a = cJSON_CreateArray()))
		return -1;
	cJSON_AddItemToArray(a, cJSON_CreateNumber(n->line));
	cJSON_AddItemToArray(a, cJSON_CreateNumber(n->col));
	cJSON_AddItemToArray(a, cJSON_CreateBool(n->plain));
	cJSON_AddItemToObject(c->cfg->positions, key, a);
	return 0;
}

static int cp_fail_at(struct cp *c, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int cp_fail_at(struct cp *c, int line, int col, const char *fmt, ...)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	prenv_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (b.failed)
		return prenv_err_set(c->err, PRENV_ENOMEM, "out of memory");
	prenv_err_set_at(c->err, PRENV_ECONFIG, c->path, line, col, "%s", b.ptr);
	prenv_buf_free(&b);
	return PRENV_ECONFIG;
}

#define NODE_LINE(n) ((n) ? (n)->line : 1)
#define NODE_COL(n) ((n) ? (n)->col : 1)
#define cp_fail(c, n, ...) cp_fail_at((c), NODE_LINE(n), NODE_COL(n), __VA_ARGS__)

static int oom(struct cp *c)
{
	return prenv_err_set(c->err, PRENV_ENOMEM, "out of memory");
}

/* ------------------------------------------------------------------ */
/* Node helpers                                                        */

static const char *sval(const struct yaml_node *n)
{
	return n->text;
}

static int is_plain(const struct yaml_node *n)
{
	return n->kind == YAML_KIND_SCALAR && n->plain;
}

static int is_null(const struct yaml_node *n)
{
	const char *s;

	if (!is_plain(n))
		return 0;
	s = sval(n);
	return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
	       !strcmp(s, "NULL");
}

static int bool_value(const char *s)
{
	if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
		return 1;
	if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
		return 0;
	return -1;
}

static int is_int_text(const char *s)
{
	if (*s == '-' || *s == '+')
		s++;
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

/* "a list", "a mapping", "a number", "a boolean", "an empty value", "'text'" */
static void describe(struct prenv_buf *b, const struct yaml_node *n)
{
	if (n->kind == YAML_KIND_MAP) {
		prenv_buf_adds(b, "a mapping");
	} else if (n->kind == YAML_KIND_SEQ) {
		prenv_buf_adds(b, "a list");
	} else if (is_null(n)) {
		prenv_buf_adds(b, "an empty value");
	} else if (is_plain(n) && bool_value(sval(n)) >= 0) {
		prenv_buf_printf(b, "the boolean %s", sval(n));
	} else {
		size_t len = n->len;
		if (!is_plain(n))
			prenv_buf_adds(b, "the quoted string ");
		prenv_buf_addc(b, '\'');
		prenv_buf_add(b, sval(n), len > 60 ? 60 : len);
		prenv_buf_adds(b, len > 60 ? "...'" : "'");
	}
}

/* Fails with "<what>, got <description of n>". */
static int fail_type(struct cp *c, const struct yaml_node *n, const char *what)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	int rc;

	describe(&b, n);
	rc = cp_fail(c, n, "%s, got %s", what, b.failed ? "something else" : b.ptr);
	prenv_buf_free(&b);
	return rc;
}

/* ------------------------------------------------------------------ */
/* "did you mean"                                                      */

/* "; did you mean 'x'? valid X: a, b, c" */
static void add_choices(struct prenv_buf *b, const char *got, const char *const *names,
			size_t n, const char *what)
{
	const char *near = name_closest(got, names, n);
	size_t i;

	if (near)
		prenv_buf_printf(b, "; did you mean '%s'?", near);
	prenv_buf_printf(b, "%s valid %s: ", near ? "" : ";", what);
	for (i = 0; i < n; i++)
		prenv_buf_printf(b, "%s%s", i ? ", " : "", names[i]);
}

/* ------------------------------------------------------------------ */
/* Typed readers                                                       */

static int need_scalar_text(struct cp *c, const struct yaml_node *n, const char *key,
			    const char *what)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	int rc;

	if (n->kind == YAML_KIND_SCALAR && !is_null(n)) {
		if (strlen(sval(n)) != n->len)
			return cp_fail(c, n, "'%s' contains a NUL character; remove it", key);
		return 0;
	}
	prenv_buf_printf(&b, "'%s' must be %s", key, what);
	rc = fail_type(c, n, b.failed ? key : b.ptr);
	prenv_buf_free(&b);
	return rc;
}

static int read_str(struct cp *c, const struct yaml_node *n, const char *key, char **out)
{
	int rc = need_scalar_text(c, n, key, "a string");
	if (rc)
		return rc;
	free(*out);
	*out = strdup(sval(n));
	return *out ? 0 : oom(c);
}

static int read_bool(struct cp *c, const struct yaml_node *n, const char *key, int *out)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	int v = -1, rc;

	if (is_plain(n))
		v = bool_value(sval(n));
	if (v >= 0) {
		*out = v;
		return 0;
	}
	prenv_buf_printf(&b, "'%s' must be true or false", key);
	rc = fail_type(c, n, b.failed ? key : b.ptr);
	prenv_buf_free(&b);
	return rc;
}

static int read_int(struct cp *c, const struct yaml_node *n, const char *key, long *out)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	int rc;

	if (is_plain(n) && is_int_text(sval(n))) {
		char *end;
		long v;
		errno = 0;
		v = strtol(sval(n), &end, 10);
		if (!errno && !*end) {
			*out = v;
			return 0;
		}
	}
	prenv_buf_printf(&b, "'%s' must be a whole number", key);
	rc = fail_type(c, n, b.failed ? key : b.ptr);
	prenv_buf_free(&b);
	return rc;
}

static int read_dur(struct cp *c, const struct yaml_node *n, const char *key, long *out)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	int rc;

	if (n->kind == YAML_KIND_SCALAR && !is_null(n) &&
	    strlen(sval(n)) == n->len) {
		long v = config_parse_duration(sval(n));
		if (v >= 0) {
			*out = v;
			return 0;
		}
		if (v == -2)
			prenv_buf_printf(&b, "'%s' is too long: at most 365d (a year)", key);
	}
	if (!b.len)
		prenv_buf_printf(&b, "'%s' must be a duration like 300s, 5m, 72h, 1h30m or 2d", key);
	rc = fail_type(c, n, b.failed ? key : b.ptr);
	prenv_buf_free(&b);
	return rc;
}

/* One choice among names; *idx is its index. */
static int read_enum(struct cp *c, const struct yaml_node *n, const char *key,
		     const char *const *names, size_t nnames, size_t *idx)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	size_t i;
	int rc;

	rc = need_scalar_text(c, n, key, "a string");
	if (rc)
		return rc;
	for (i = 0; i < nnames; i++) {
		if (!strcmp(sval(n), names[i])) {
			*idx = i;
			return 0;
		}
	}
	prenv_buf_printf(&b, "'%s' cannot be '%s'", key, sval(n));
	add_choices(&b, sval(n), names, nnames, "values");
	rc = b.failed ? oom(c) : cp_fail(c, n, "%s", b.ptr);
	prenv_buf_free(&b);
	return rc;
}

/* Checks every key of map against defs: scalar, known, not repeated, and the
 * required ones present. where: "the top level", "'provider'", ... */
static int check_keys(struct cp *c, const struct yaml_node *map, const char *where,
		      const struct config_key *const *defs, size_t ndefs)
{
	const char *names[MAX_KEYS];
	size_t i, pi, qi;

	if (ndefs > MAX_KEYS)
		ndefs = MAX_KEYS;
	for (i = 0; i < ndefs; i++)
		names[i] = defs[i]->name;
	for (pi = 0; pi < map->n; pi++) {
		const struct yaml_node *k = map->pairs[pi].key;
		int known = 0;

		if (!k || k->kind != YAML_KIND_SCALAR || is_null(k))
			return cp_fail(c, k, "keys in %s must be plain names", where);
		for (i = 0; i < ndefs; i++)
			if (!strcmp(sval(k), defs[i]->name))
				known = 1;
		if (!known) {
			struct prenv_buf b = PRENV_BUF_INIT;
			int rc;
			prenv_buf_printf(&b, "unknown key '%s' in %s", sval(k), where);
			add_choices(&b, sval(k), names, ndefs, "keys");
			rc = b.failed ? oom(c) : cp_fail(c, k, "%s", b.ptr);
			prenv_buf_free(&b);
			return rc;
		}
		for (qi = 0; qi < pi; qi++) {
			const struct yaml_node *k2 = map->pairs[qi].key;
			if (!strcmp(sval(k2), sval(k)))
				return cp_fail(c, k, "duplicate key '%s' in %s (first set at line %d, "
					       "column %d); keep one", sval(k), where,
					       NODE_LINE(k2), NODE_COL(k2));
		}
	}
	for (i = 0; i < ndefs; i++)
		if (defs[i]->required && !yaml_map_get(map, defs[i]->name))
			return cp_fail(c, map, "missing required key '%s' in %s", defs[i]->name, where);
	return 0;
}

/* check_keys over a plain table. */
static int check_table(struct cp *c, const struct yaml_node *map, const char *where,
		       const struct config_key *table, size_t n)
{
	const struct config_key *defs[MAX_KEYS];
	size_t i;

	for (i = 0; i < n && i < MAX_KEYS; i++)
		defs[i] = &table[i];
	return check_keys(c, map, where, defs, i);
}

/* ------------------------------------------------------------------ */
/* Durations                                                           */

/* Reads the digits at *p into *n (saturating just above CONFIG_DUR_MAX, so
 * that no length of digits overflows); 0 when there is no digit. */
static int dur_digits(const char **p, long *n)
{
	const char *q = *p;
	long v = 0;

	if (*q < '0' || *q > '9')
		return 0;
	for (; *q >= '0' && *q <= '9'; q++)
		if (v <= CONFIG_DUR_MAX)
			v = v * 10 + (*q - '0');
	*n = v;
	*p = q;
	return 1;
}

long config_parse_duration(const char *s)
{
	long total = 0, n, mult;
	int units_seen = 0, unit, over = 0;
	const char *p = s;

	if (!s || !*s)
		return -1;
	while (*p) {
		if (!dur_digits(&p, &n))
			return -1;
		if (!*p && !units_seen) { /* a bare integer: seconds */
			total = n;
			break;
		}
		switch (*p) {
		case 'd': mult = 86400; unit = 4; break;
		case 'h': mult = 3600; unit = 3; break;
		case 'm': mult = 60; unit = 2; break;
		case 's': mult = 1; unit = 1; break;
		default: return -1;
		}
		p++;
		/* Units must come largest first, each once: 1h30m, not 30m1h. */
		if (units_seen && unit >= units_seen)
			return -1;
		units_seen = unit;
		if (n > CONFIG_DUR_MAX / mult)
			over = 1;
		else
			total += n * mult; /* each term <= CONFIG_DUR_MAX: no overflow */
	}
	return over || total > CONFIG_DUR_MAX ? -2 : total;
}

/* ------------------------------------------------------------------ */
/* Conversions to JSON                                                 */

static int strseq_json(struct cp *c, const struct yaml_node *n, const char *key, int nonempty,
		       cJSON **out)
{
	cJSON *arr;
	char what[] = "a list of strings";
	size_t i;

	if (n->kind != YAML_KIND_SEQ) {
		struct prenv_buf b = PRENV_BUF_INIT;
		int rc;
		prenv_buf_printf(&b, "'%s' must be %s%s", key, what,
				 nonempty ? " (the command and its arguments, e.g. [\"make\", \"deploy\"])"
					  : "");
		rc = fail_type(c, n, b.failed ? key : b.ptr);
		prenv_buf_free(&b);
		return rc;
	}
	if (nonempty && !n->n)
		return cp_fail(c, n, "'%s' must not be empty: give the command and its arguments", key);
	if (!(arr = cJSON_CreateArray()))
		return oom(c);
	for (i = 0; i < n->n; i++) {
		const struct yaml_node *v = n->items[i];
		cJSON *s;
		int rc = need_scalar_text(c, v, key, "a list of strings; this item must be a string");
		if (rc) {
			cJSON_Delete(arr);
			return rc;
		}
		if (!(s = cJSON_CreateString(sval(v)))) {
			cJSON_Delete(arr);
			return oom(c);
		}
		cJSON_AddItemToArray(arr, s);
	}
	*out = arr;
	return 0;
}

struct key_at {
	const char *text;
	size_t i;
};

static int key_at_cmp(const void *a, const void *b)
{
	const struct key_at *x = a, *y = b;
	int r = strcmp(x->text, y->text);

	return r ? r : (x->i > y->i) - (x->i < y->i);
}

/* The index of the first pair of map whose key has the text of an earlier
 * key (compared as C strings), map->n when none, SIZE_MAX when out of
 * memory. Sorted, not pairwise: a mapping of 60000 keys took 9 s. */
static size_t first_repeat(const struct yaml_node *map)
{
	struct key_at *v;
	size_t i, first = map->n;

	if (map->n < 2)
		return map->n;
	if (!(v = malloc(map->n * sizeof(*v))))
		return SIZE_MAX;
	for (i = 0; i < map->n; i++) {
		v[i].text = sval(map->pairs[i].key);
		v[i].i = i;
	}
	qsort(v, map->n, sizeof(*v), key_at_cmp);
	for (i = 1; i < map->n; i++)
		if (v[i].i < first && !strcmp(v[i].text, v[i - 1].text))
			first = v[i].i;
	free(v);
	return first;
}

static int strmap_json(struct cp *c, const struct yaml_node *n, const char *key, cJSON **out)
{
	cJSON *obj;
	size_t pi, dup;

	if (n->kind != YAML_KIND_MAP) {
		struct prenv_buf b = PRENV_BUF_INIT;
		int rc;
		prenv_buf_printf(&b, "'%s' must be a mapping of names to strings", key);
		rc = fail_type(c, n, b.failed ? key : b.ptr);
		prenv_buf_free(&b);
		return rc;
	}
	if ((dup = first_repeat(n)) == SIZE_MAX || !(obj = cJSON_CreateObject()))
		return oom(c);
	for (pi = 0; pi < n->n; pi++) {
		const struct yaml_node *k = n->pairs[pi].key, *v = n->pairs[pi].value;
		int rc = need_scalar_text(c, k, key, "a mapping of names to strings; this key must be a name");
		if (!rc && pi == dup)
			rc = cp_fail(c, k, "duplicate key '%s' in '%s'; keep one", sval(k), key);
		if (!rc) {
			struct prenv_buf name = PRENV_BUF_INIT;
			prenv_buf_printf(&name, "%s.%s", key, sval(k));
			rc = name.failed ? oom(c) : need_scalar_text(c, v, name.ptr, "a string");
			prenv_buf_free(&name);
		}
		if (!rc && !cJSON_AddStringToObject(obj, sval(k), sval(v)))
			rc = oom(c);
		if (rc) {
			cJSON_Delete(obj);
			return rc;
		}
	}
	*out = obj;
	return 0;
}

static int values_key_ok(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
			return 0;
	return 1;
}

/* values: a mapping whose values are strings (numbers and booleans become
 * their text) or nested mappings of the same. dotted: "values.a.b" so far. */
static int values_json(struct cp *c, const struct yaml_node *n, struct prenv_buf *dotted,
		       int depth, cJSON **out)
{
	cJSON *obj;
	size_t mark = dotted->len, pi, dup;

	if (n->kind != YAML_KIND_MAP)
		return fail_type(c, n, depth ? "a nested value must be a mapping"
				 : "'values' must be a mapping of names to strings (templates)");
	if (depth >= VALUES_MAX_DEPTH)
		return cp_fail(c, n, "'%s' is nested too deeply (more than %d levels)",
			       dotted->ptr, VALUES_MAX_DEPTH);
	if ((dup = first_repeat(n)) == SIZE_MAX || !(obj = cJSON_CreateObject()))
		return oom(c);
	for (pi = 0; pi < n->n; pi++) {
		const struct yaml_node *k = n->pairs[pi].key, *v = n->pairs[pi].value;
		cJSON *item = NULL;
		int rc = 0;

		prenv_buf_truncate(dotted, mark);
		if (k->kind != YAML_KIND_SCALAR || !values_key_ok(sval(k)))
			rc = fail_type(c, k, "names in 'values' may use only letters, digits, '_' "
				       "and '-' (they are used as {{values.NAME}})");
		if (!rc && pi == dup)
			rc = cp_fail(c, k, "duplicate key '%s' in '%s'; keep one", sval(k), dotted->ptr);
		if (!rc) {
			prenv_buf_truncate(dotted, mark);
			prenv_buf_printf(dotted, ".%s", sval(k));
			if (dotted->failed)
				rc = oom(c);
		}
		if (!rc && v->kind == YAML_KIND_MAP) {
			rc = values_json(c, v, dotted, depth + 1, &item);
		} else if (!rc && v->kind == YAML_KIND_SCALAR && !is_null(v)) {
			rc = need_scalar_text(c, v, dotted->ptr, "a string");
			if (!rc && (!(item = cJSON_CreateString(sval(v))) || note_pos(c, dotted->ptr, v) < 0))
				rc = oom(c);
		} else if (!rc) {
			rc = fail_type(c, v, is_null(v) ?
				       "a value must be a string (write \"\" for an empty one)" :
				       "a value must be a string (a template) or a mapping; lists are not supported");
			if (rc && c->err && c->err->msg) {
				prenv_err_prefix(c->err, "'%s'", dotted->ptr);
			}
		}
		if (!rc)
			cJSON_AddItemToObject(obj, sval(k), item);
		if (rc) {
			cJSON_Delete(obj);
			return rc;
		}
	}
	prenv_buf_truncate(dotted, mark);
	*out = obj;
	return 0;
}

/* ------------------------------------------------------------------ */
/* provider                                                            */

/* The schema of provider kind `name`, or NULL. */
static const struct config_schema *find_kind(const struct cp *c, const char *name)
{
	size_t i;

	for (i = 0; c->kinds && c->kinds[i]; i++)
		if (!strcmp(c->kinds[i]->kind, name))
			return c->kinds[i];
	return NULL;
}

/* One provider key's value, converted by its type. */
static int provider_value(struct cp *c, const struct config_key *d, const struct yaml_node *v,
			  cJSON **item)
{
	struct prenv_buf why = PRENV_BUF_INIT;
	long num;
	int rc = 0, b = 0;

	switch (d->type) {
	case CONFIG_STR:
		rc = need_scalar_text(c, v, d->name, "a string");
		if (!rc && d->check && d->check(sval(v), &why) < 0)
			rc = why.failed ? oom(c) : cp_fail(c, v, "%s", why.ptr);
		if (!rc && !(*item = cJSON_CreateString(sval(v))))
			rc = oom(c);
		break;
	case CONFIG_INT:
		rc = read_int(c, v, d->name, &num);
		if (!rc && !(*item = cJSON_CreateNumber((double)num)))
			rc = oom(c);
		break;
	case CONFIG_BOOL:
		rc = read_bool(c, v, d->name, &b);
		if (!rc && !(*item = cJSON_CreateBool(b)))
			rc = oom(c);
		break;
	case CONFIG_DUR:
		rc = read_dur(c, v, d->name, &num);
		if (!rc && !(*item = cJSON_CreateNumber((double)num)))
			rc = oom(c);
		break;
	case CONFIG_STRSEQ:
	case CONFIG_ARGV:
		rc = strseq_json(c, v, d->name, d->type == CONFIG_ARGV, item);
		break;
	case CONFIG_STRMAP:
		rc = strmap_json(c, v, d->name, item);
		break;
	case CONFIG_STRS:
		if (v->kind != YAML_KIND_SCALAR) {
			rc = strseq_json(c, v, d->name, 0, item);
			break;
		}
		rc = need_scalar_text(c, v, d->name, "a string or a list of strings");
		if (!rc && (!(*item = cJSON_CreateArray()) ||
			    !cJSON_AddItemToArray(*item, cJSON_CreateString(sval(v)))))
			rc = oom(c);
		break;
	}
	prenv_buf_free(&why);
	return rc;
}

/* A schema default (written as a user would write it) as JSON, or NULL. */
static cJSON *default_value(const struct config_key *d)
{
	switch (d->type) {
	case CONFIG_STR:
		return cJSON_CreateString(d->dflt);
	case CONFIG_INT:
		return cJSON_CreateNumber((double)strtol(d->dflt, NULL, 10));
	case CONFIG_BOOL:
		return cJSON_CreateBool(!strcmp(d->dflt, "true"));
	case CONFIG_DUR:
		return cJSON_CreateNumber((double)config_parse_duration(d->dflt));
	default:
		return NULL;
	}
}

static const struct config_key kind_key = {
	"kind", CONFIG_STR, 1, NULL, "the provider", NULL,
};

static int parse_provider(struct cp *c, const struct yaml_node *n, struct prenv_config *cfg)
{
	const struct config_schema *pk;
	const struct config_key *defs[MAX_KEYS];
	const char *names[MAX_KEYS];
	struct prenv_buf where = PRENV_BUF_INIT, valid = PRENV_BUF_INIT;
	const struct yaml_node *kn;
	size_t idx, i, pi, nkinds = 0, ndefs = 0;
	int rc;

	for (i = 0; c->kinds && c->kinds[i] && i < MAX_KEYS; i++) {
		names[nkinds++] = c->kinds[i]->kind;
		prenv_buf_printf(&valid, "%s%s", i ? ", " : "", c->kinds[i]->kind);
	}
	if (n->kind != YAML_KIND_MAP) {
		prenv_buf_adds(&where, "'provider' must be a mapping with at least 'kind' (");
		for (i = 0; i < nkinds; i++)
			prenv_buf_printf(&where, "%s%s", i == 0 ? "" : i + 1 == nkinds ? " or " : ", ",
					 names[i]);
		prenv_buf_addc(&where, ')');
		rc = fail_type(c, n, where.failed ? "'provider' must be a mapping" : where.ptr);
		goto done;
	}
	if (!(kn = yaml_map_get(n, "kind"))) {
		rc = cp_fail(c, n, "missing required key 'kind' in 'provider'; valid kinds: %s",
			     valid.ptr);
		goto done;
	}
	if ((rc = read_enum(c, kn, "kind", names, nkinds, &idx)))
		goto done;
	pk = find_kind(c, names[idx]);
	if (!(cfg->provider_kind = strdup(pk->kind))) {
		rc = oom(c);
		goto done;
	}
	defs[ndefs++] = &kind_key;
	for (i = 0; i < pk->nkeys && ndefs < MAX_KEYS; i++)
		defs[ndefs++] = &pk->keys[i];
	prenv_buf_printf(&where, "'provider' (kind: %s)", pk->kind);
	if (where.failed) {
		rc = oom(c);
		goto done;
	}
	if ((rc = check_keys(c, n, where.ptr, defs, ndefs)))
		goto done;
	if (!(cfg->provider = cJSON_CreateObject())) {
		rc = oom(c);
		goto done;
	}
	for (pi = 0; pi < n->n; pi++) {
		const struct yaml_node *k = n->pairs[pi].key, *v = n->pairs[pi].value;
		const struct config_key *d = NULL;
		cJSON *item = NULL;

		for (i = 0; i < ndefs; i++)
			if (!strcmp(defs[i]->name, sval(k)))
				d = defs[i];
		if ((rc = provider_value(c, d, v, &item)))
			goto done;
		cJSON_AddItemToObject(cfg->provider, d->name, item);
	}
	for (i = 0; i < pk->nkeys; i++) {
		const struct config_key *d = &pk->keys[i];
		cJSON *item;

		if (!d->dflt || cJSON_GetObjectItemCaseSensitive(cfg->provider, d->name))
			continue;
		if (!(item = default_value(d))) {
			rc = oom(c);
			goto done;
		}
		cJSON_AddItemToObject(cfg->provider, d->name, item);
	}
done:
	prenv_buf_free(&where);
	prenv_buf_free(&valid);
	return rc;
}

/* ------------------------------------------------------------------ */
/* environments                                                        */

/* A branch or tag pattern (what: "branch" or "tag"): non-empty, '['
 * classes closed, '!' only at the start. */
static int check_glob(struct cp *c, const struct yaml_node *n, const char *what)
{
	const char *s = sval(n), *p = s;

	if (*p == '!')
		p++;
	if (!*p)
		return cp_fail(c, n, "'%s' must be a %s name or pattern, got '%s'", what, what, s);
	for (; *p; p++) {
		if (*p == '\\' && p[1]) {
			p++;
		} else if (*p == '[') {
			const char *q = p + 1;
			if (*q == ']')
				q++;
			while (*q && *q != ']')
				q++;
			if (!*q)
				return cp_fail(c, n, "'%s' pattern '%s' has a '[' without a "
					       "closing ']'; escape it as \\[ to match it literally", what, s);
			p = q;
		} else if (*p == '!' ) {
			return cp_fail(c, n, "'%s' pattern '%s': '!' (not) may only stand at the "
				       "start", what, s);
		}
	}
	return 0;
}

/* branch and tag: patterns; a rule has at most one of them, and a tag rule
 * never matches a pull request. */
static int parse_rule_refs(struct cp *c, const struct yaml_node *n, struct config_rule *r)
{
	const struct yaml_node *v, *t = yaml_map_get(n, "tag");
	int rc;

	if ((v = yaml_map_get(n, "branch"))) {
		if ((rc = read_str(c, v, "branch", &r->branch)) || (rc = check_glob(c, v, "branch")))
			return rc;
	}
	if (t) {
		if ((rc = read_str(c, t, "tag", &r->tag)) || (rc = check_glob(c, t, "tag")))
			return rc;
		if (r->branch)
			return cp_fail(c, t, "a rule matches a branch or a tag, not both; make two "
				       "rules (one with 'branch', one with 'tag')");
	}
	if ((v = yaml_map_get(n, "pull_request")) && (rc = read_bool(c, v, "pull_request", &r->pull_request)))
		return rc;
	if (t && r->pull_request == 1)
		return cp_fail(c, v, "a 'tag' rule never matches a pull request (tags are pushed, "
			       "not proposed); remove 'pull_request: true' or make it a rule of its own");
	return 0;
}

/* schedule: { awake: "Mon-Fri 08:00-20:00", timezone: Europe/Paris }; an
 * error points at the bad part of the text. */
static int parse_schedule(struct cp *c, const struct yaml_node *n, struct config_rule *r)
{
	const struct yaml_node *aw, *tz;
	struct prenv_buf why = PRENV_BUF_INIT;
	char *awake = NULL, *zone = NULL;
	size_t at = 0;
	int rc;

	if (n->kind != YAML_KIND_MAP)
		return fail_type(c, n, "'schedule' must be a mapping, e.g. "
				 "{ awake: \"Mon-Fri 08:00-20:00\", timezone: Europe/Paris }");
	if ((rc = check_table(c, n, "schedule", schedule_keys, NELEM(schedule_keys))))
		return rc;
	aw = yaml_map_get(n, "awake");
	tz = yaml_map_get(n, "timezone");
	if ((rc = read_str(c, aw, "awake", &awake)) || (tz && (rc = read_str(c, tz, "timezone", &zone))))
		goto done;
	if (schedule_parse(&r->schedule, awake, zone, &why, &at) < 0) {
		if (at == (size_t)-1)
			rc = cp_fail(c, tz, "%s", why.ptr);
		else
			rc = cp_fail_at(c, NODE_LINE(aw), NODE_COL(aw) + (aw->plain ? 0 : 1) + (int)at,
					"schedule: '%s': %s", awake, why.ptr);
		goto done;
	}
	r->has_schedule = 1;
done:
	free(awake);
	free(zone);
	prenv_buf_free(&why);
	return rc;
}

/* Whether the provider kind read already has key `name` itself. */
static int provider_has_key(const struct cp *c, const char *name)
{
	const struct config_schema *pk = c->cfg->provider_kind ? find_kind(c, c->cfg->provider_kind) : NULL;
	size_t i;

	for (i = 0; pk && i < pk->nkeys; i++)
		if (!strcmp(pk->keys[i].name, name))
			return 1;
	return 0;
}

/* One of a rule's context: / kubeconfig:, a non-empty string; only for a
 * provider that has the key itself. */
static int read_rule_cluster_key(struct cp *c, const struct yaml_node *v, const char *key, char **out,
				 int *line, int *col)
{
	int rc;

	if (!provider_has_key(c, key))
		return cp_fail(c, v, "'%s' in a rule needs a provider with clusters (provider.kind "
			       "kubernetes); provider %s has none: remove it", key,
			       c->cfg->provider_kind ? c->cfg->provider_kind : "?");
	if ((rc = read_str(c, v, key, out)))
		return rc;
	if (!**out)
		return cp_fail(c, v, "'%s' is empty: name a %s or remove the key", key,
			       !strcmp(key, "context") ? "kubeconfig context" : "kubeconfig file");
	*line = NODE_LINE(v);
	*col = NODE_COL(v);
	return 0;
}

/* context: and kubeconfig: of a rule: the cluster its environments go to. */
static int parse_rule_cluster(struct cp *c, const struct yaml_node *n, struct config_rule *r)
{
	const struct yaml_node *v;
	int rc;

	if ((v = yaml_map_get(n, "context")) &&
	    (rc = read_rule_cluster_key(c, v, "context", &r->context, &r->context_line, &r->context_col)))
		return rc;
	if ((v = yaml_map_get(n, "kubeconfig")) &&
	    (rc = read_rule_cluster_key(c, v, "kubeconfig", &r->kubeconfig, &r->kubeconfig_line,
					&r->kubeconfig_col)))
		return rc;
	return 0;
}

static int parse_rule(struct cp *c, const struct yaml_node *n, size_t i, struct config_rule *r)
{
	struct prenv_buf where = PRENV_BUF_INIT;
	const struct yaml_node *v;
	int rc;

	r->pull_request = -1;
	r->line = NODE_LINE(n);
	r->col = NODE_COL(n);
	if (n->kind != YAML_KIND_MAP)
		return fail_type(c, n, "each item of 'environments' must be a mapping "
				 "(branch, tag, pull_request, name, kind, protected, ttl, schedule, sleep_after, "
				 "context, kubeconfig)");
	prenv_buf_printf(&where, "environments item %zu", i + 1);
	if (where.failed)
		return oom(c);
	rc = check_table(c, n, where.ptr, rule_keys, NELEM(rule_keys));
	prenv_buf_free(&where);
	if (rc)
		return rc;
	if ((rc = parse_rule_refs(c, n, r)))
		return rc;
	if ((v = yaml_map_get(n, "name"))) {
		if ((rc = read_str(c, v, "name", &r->name)))
			return rc;
	}
	r->kind = r->pull_request == 1 ? ENV_KIND_PREVIEW : ENV_KIND_DEVELOPMENT;
	if ((v = yaml_map_get(n, "kind"))) {
		size_t k;
		if ((rc = read_enum(c, v, "kind", kind_names, NKINDS, &k)))
			return rc;
		r->kind = (enum env_kind)k;
		r->kind_set = 1;
	}
	if ((v = yaml_map_get(n, "protected")) && (rc = read_bool(c, v, "protected", &r->protected_)))
		return rc;
	if ((v = yaml_map_get(n, "ttl")) && (rc = read_dur(c, v, "ttl", &r->ttl_seconds)))
		return rc;
	if ((v = yaml_map_get(n, "sleep_after")) && (rc = read_dur(c, v, "sleep_after", &r->sleep_after)))
		return rc;
	if ((v = yaml_map_get(n, "schedule")) && (rc = parse_schedule(c, v, r)))
		return rc;
	r->logical = -1;
	if ((v = yaml_map_get(n, "logical")) && (rc = read_bool(c, v, "logical", &r->logical)))
		return rc;
	return parse_rule_cluster(c, n, r);
}

static int parse_environments(struct cp *c, const struct yaml_node *key, const struct yaml_node *n,
			      struct prenv_config *cfg)
{
	size_t count, i;
	int rc;

	cfg->environments_line = NODE_LINE(key);
	cfg->environments_col = NODE_COL(key);
	if (n->kind != YAML_KIND_SEQ)
		return fail_type(c, n, "'environments' must be a list of rules "
				 "(e.g. `- pull_request: true`)");
	count = n->n;
	if (!count)
		return cp_fail(c, n, "'environments' is empty: add at least one rule, "
			       "e.g. `- pull_request: true`");
	if (!(cfg->rules = calloc(count, sizeof(*cfg->rules))))
		return oom(c);
	for (i = 0; i < count; i++) {
		cfg->nrules = i + 1;
		if ((rc = parse_rule(c, n->items[i], i, &cfg->rules[i])))
			return rc;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* secrets and access                                                  */

static const struct config_key secrets_keys[] = {
	{ "name", CONFIG_STR, 0, "{{app}}-secrets", "the Secret's name in the environment's namespace", NULL },
	{ "from_env", CONFIG_STRSEQ, 0, NULL, "CI variables copied as keys of that Secret", NULL },
	{ "image_pull", CONFIG_STR, 0, NULL,
	  "a dockerconfigjson Secret of this name, from PRENV_REGISTRY_AUTH or the Docker config", NULL },
};

static const struct config_key access_keys[] = {
	{ "basic_auth", CONFIG_STRMAP, 1, NULL, "HTTP basic authentication: user, password_from_env", NULL },
};

static const struct config_key basic_auth_keys[] = {
	{ "user", CONFIG_STR, 1, NULL, "the user name people type", NULL },
	{ "password_from_env", CONFIG_STR, 1, NULL, "the CI variable holding the password", NULL },
	{ "realm", CONFIG_STR, 0, "Preview", "what the browser's password prompt says", NULL },
};

/* A CI variable name: [A-Za-z_][A-Za-z0-9_]* (also a valid Secret key). */
static int env_name_ok(const char *s)
{
	size_t i;

	if (!s || !(*s == '_' || (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')))
		return 0;
	for (i = 1; s[i]; i++)
		if (!(s[i] == '_' || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9')))
			return 0;
	return i <= 253;
}

static int read_env_var(struct cp *c, const struct yaml_node *n, const char *key,
			struct config_env_var *out)
{
	int rc = read_str(c, n, key, &out->name);

	if (rc)
		return rc;
	out->line = NODE_LINE(n);
	out->col = NODE_COL(n);
	if (!env_name_ok(out->name))
		return cp_fail(c, n, "'%s' must name a CI variable (letters, digits and '_', not "
			       "starting with a digit), got '%s'", key, out->name);
	return 0;
}

static int read_secret_name(struct cp *c, const struct yaml_node *n, const char *key, char **out)
{
	int rc = read_str(c, n, key, out);

	if (rc)
		return rc;
	if (!name_is_dns_label(*out))
		return cp_fail(c, n, "'%s' must be a Secret name: a DNS-1123 label (lower-case "
			       "letters, digits and '-', at most 63), got '%s'", key, *out);
	return 0;
}

static int parse_from_env(struct cp *c, const struct yaml_node *n, struct prenv_config *cfg)
{
	size_t i, j;
	int rc;

	if (n->kind != YAML_KIND_SEQ || !n->n)
		return fail_type(c, n, "'from_env' must be a non-empty list of CI variable names "
				 "(e.g. [REGISTRY_TOKEN, STRIPE_KEY])");
	if (!(cfg->secrets_env = calloc(n->n, sizeof(*cfg->secrets_env))))
		return oom(c);
	for (i = 0; i < n->n; i++) {
		cfg->nsecrets_env = i + 1;
		if ((rc = read_env_var(c, n->items[i], "from_env", &cfg->secrets_env[i])))
			return rc;
		for (j = 0; j < i; j++)
			if (!strcmp(cfg->secrets_env[j].name, cfg->secrets_env[i].name))
				return cp_fail(c, n->items[i], "'from_env' lists %s twice (first at line "
					       "%d); keep one", cfg->secrets_env[i].name,
					       cfg->secrets_env[j].line);
	}
	return 0;
}

static int parse_secrets(struct cp *c, const struct yaml_node *n, struct prenv_config *cfg)
{
	const struct yaml_node *v;
	int rc;

	if (n->kind != YAML_KIND_MAP)
		return fail_type(c, n, "'secrets' must be a mapping (name, from_env, image_pull)");
	if ((rc = check_table(c, n, "'secrets'", secrets_keys, NELEM(secrets_keys))))
		return rc;
	if ((v = yaml_map_get(n, "name")) && (rc = read_secret_name(c, v, "name", &cfg->secrets_name)))
		return rc;
	if (!v) {
		struct prenv_buf b = PRENV_BUF_INIT;

		prenv_buf_printf(&b, "%s-secrets", cfg->app);
		if (!(cfg->secrets_name = prenv_buf_detach(&b, NULL)))
			return oom(c);
	}
	if ((v = yaml_map_get(n, "from_env")) && (rc = parse_from_env(c, v, cfg)))
		return rc;
	if ((v = yaml_map_get(n, "image_pull"))) {
		if ((rc = read_secret_name(c, v, "image_pull", &cfg->image_pull)))
			return rc;
		if (!strcmp(cfg->image_pull, cfg->secrets_name))
			return cp_fail(c, v, "'image_pull' names the same Secret as 'name' (%s); give the "
				       "dockerconfigjson Secret a name of its own", cfg->image_pull);
	}
	if (!cfg->nsecrets_env && !cfg->image_pull)
		return cp_fail(c, n, "'secrets' needs 'from_env' (CI variables to copy) or 'image_pull'");
	return 0;
}

static int parse_access(struct cp *c, const struct yaml_node *n, struct prenv_config *cfg)
{
	const struct yaml_node *ba, *v;
	int rc;

	if (n->kind != YAML_KIND_MAP)
		return fail_type(c, n, "'access' must be a mapping (basic_auth)");
	if ((rc = check_table(c, n, "'access'", access_keys, NELEM(access_keys))))
		return rc;
	ba = yaml_map_get(n, "basic_auth");
	if (ba->kind != YAML_KIND_MAP)
		return fail_type(c, ba, "'basic_auth' must be a mapping (user, password_from_env, realm)");
	if ((rc = check_table(c, ba, "'basic_auth'", basic_auth_keys, NELEM(basic_auth_keys))))
		return rc;
	v = yaml_map_get(ba, "user");
	if ((rc = read_str(c, v, "user", &cfg->auth_user)))
		return rc;
	if (!htpasswd_user_ok(cfg->auth_user))
		return cp_fail(c, v, "'user' must be 1 to 255 printable ASCII characters without "
			       "spaces or ':', got '%s'", cfg->auth_user);
	if ((rc = read_env_var(c, yaml_map_get(ba, "password_from_env"), "password_from_env",
			       &cfg->auth_password)))
		return rc;
	if ((v = yaml_map_get(ba, "realm"))) {
		const char *s;

		if ((rc = read_str(c, v, "realm", &cfg->auth_realm)))
			return rc;
		for (s = cfg->auth_realm; *s; s++)
			if ((unsigned char)*s < ' ' || *s == '"' || *s == '\\')
				return cp_fail(c, v, "'realm' must be one line without '\"' or '\\'");
	} else if (!(cfg->auth_realm = strdup("Preview"))) {
		return oom(c);
	}
	return 0;
}

/* secrets: and access: are the core's keys, written by the provider; a
 * provider without a place for them (schema.secrets 0) refuses them here. */
static int parse_secrets_access(struct cp *c, const struct yaml_node *root, struct prenv_config *cfg)
{
	const struct config_schema *k = find_kind(c, cfg->provider_kind);
	const struct yaml_node *s = yaml_map_get(root, "secrets"), *a = yaml_map_get(root, "access");
	size_t pi;
	int rc;

	for (pi = 0; pi < root->n && k && !k->secrets; pi++) {
		const struct yaml_node *key = root->pairs[pi].key;

		if (strcmp(sval(key), "secrets") && strcmp(sval(key), "access"))
			continue;
		return cp_fail(c, key, "'%s' needs a provider that can keep secrets (kubernetes); "
			       "provider '%s' has no place for them%s; remove '%s'", sval(key), k->kind,
			       !strcmp(k->kind, "command") ? " (its command already gets this job's "
			       "environment variables: read them there)" : "", sval(key));
	}
	if (s) {
		cfg->secrets_line = NODE_LINE(s);
		cfg->secrets_col = NODE_COL(s);
		if ((rc = parse_secrets(c, s, cfg)))
			return rc;
	}
	if (a) {
		cfg->access_line = NODE_LINE(a);
		cfg->access_col = NODE_COL(a);
		if ((rc = parse_access(c, a, cfg)))
			return rc;
	}
	return 0;
}

static void config_secrets_free(struct prenv_config *cfg)
{
	size_t i;

	for (i = 0; i < cfg->nsecrets_env; i++)
		free(cfg->secrets_env[i].name);
	free(cfg->secrets_env);
	free(cfg->secrets_name);
	free(cfg->image_pull);
	free(cfg->auth_user);
	free(cfg->auth_password.name);
	free(cfg->auth_realm);
}

/* ------------------------------------------------------------------ */
/* check                                                               */

static const struct config_key url_check_keys[] = {
	{ "url", CONFIG_STR, 0, NULL, "the URL to check (a template); default the environment's", NULL },
	{ "path", CONFIG_STR, 0, "/", "appended to the URL", NULL },
	{ "status", CONFIG_STR, 0, "200-399", "the expected status: 200, 2xx or 200-399", NULL },
	{ "contains", CONFIG_STR, 0, NULL, "text the body must contain", NULL },
	{ "timeout", CONFIG_DUR, 0, "2m", "how long to keep trying", NULL },
	{ "headers", CONFIG_STRMAP, 0, NULL, "extra request headers (values are templates)", NULL },
	{ "headers_from_env", CONFIG_STRMAP, 0, NULL, "extra request headers: name -> environment variable", NULL },
};

/* CI tokens: never sent with the check (they belong to the code host). */
static const char *const check_token_vars[] = {
	"GITHUB_TOKEN", "GH_TOKEN", "PRENV_GITHUB_TOKEN", "GITLAB_TOKEN", "PRENV_GITLAB_TOKEN",
	"CI_JOB_TOKEN", "CI_JOB_JWT", "CI_JOB_JWT_V2", "PRENV_GIT_TOKEN", "PRENV_KUBECONFIG",
	"ACTIONS_RUNTIME_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", NULL,
};

/* Parses the digits of s[0..n) as a number; -1 if not all digits. */
static int status_digits(const char *s, size_t n)
{
	int v = 0;
	size_t i;

	if (!n || n > 3)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int config_parse_status(const char *s, int *lo, int *hi)
{
	const char *dash = strchr(s, '-');
	int a, b;

	if (strlen(s) == 3 && s[0] >= '1' && s[0] <= '5' && (s[1] == 'x' || s[1] == 'X') &&
	    (s[2] == 'x' || s[2] == 'X')) {
		*lo = (s[0] - '0') * 100;
		*hi = *lo + 99;
		return 0;
	}
	a = status_digits(s, dash ? (size_t)(dash - s) : strlen(s));
	b = dash ? status_digits(dash + 1, strlen(dash + 1)) : a;
	if (a < 100 || b > 599 || b < a)
		return -1;
	*lo = a;
	*hi = b;
	return 0;
}

/* A header name: an RFC 9110 token. */
static int header_name_ok(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      strchr("!#$%&'*+-.^_`|~", *s)))
			return 0;
	return 1;
}

/* A value of headers_from_env: a variable name that is no CI token. */
static int check_env_value(struct cp *c, const struct yaml_node *k, const struct yaml_node *v)
{
	size_t i;

	if (!env_name_ok(sval(v)))
		return cp_fail(c, v, "header '%s': '%s' is not an environment variable name "
			       "(letters, digits, '_')", sval(k), sval(v));
	for (i = 0; check_token_vars[i]; i++)
		if (!strcmp(sval(v), check_token_vars[i]) || !strncmp(sval(v), "PRENV_KUBECONFIG_", 17))
			return cp_fail(c, v, "header '%s': %s is a CI token and is never sent to the "
				       "preview; give the preview a token of its own", sval(k), sval(v));
	return 0;
}

/* headers (from_env 0: values are templates) or headers_from_env. */
static int check_headers(struct cp *c, const struct yaml_node *n, int from_env, cJSON **out)
{
	const char *key = from_env ? "headers_from_env" : "headers";
	size_t pi;
	int rc = strmap_json(c, n, key, out);

	for (pi = 0; !rc && pi < n->n; pi++) {
		const struct yaml_node *k = n->pairs[pi].key, *v = n->pairs[pi].value;
		struct prenv_buf pos = PRENV_BUF_INIT;

		prenv_buf_printf(&pos, "check.%s.%s", key, sval(k));
		if (pos.failed || note_pos(c, pos.ptr, v) < 0)
			rc = oom(c);
		else if (!header_name_ok(sval(k)))
			rc = cp_fail(c, k, "'%s' is not a header name (letters, digits and !#$%%&'*+-.^_`|~)",
				     sval(k));
		else if (from_env)
			rc = check_env_value(c, k, v);
		else if (strpbrk(sval(v), "\r\n"))
			rc = cp_fail(c, v, "header '%s' must be one line", sval(k));
		prenv_buf_free(&pos);
	}
	return rc;
}

/* check.path: starts with '/', no spaces, control characters or '#'. */
static int check_path(struct cp *c, const struct yaml_node *n, struct config_check *ck)
{
	const unsigned char *p;
	int rc = read_str(c, n, "path", &ck->path);

	if (rc)
		return rc;
	if (ck->path[0] != '/')
		return cp_fail(c, n, "'path' must start with '/' (it is appended to the URL), got '%s'",
			       ck->path);
	for (p = (const unsigned char *)ck->path; *p; p++)
		if (*p <= 0x20 || *p == 0x7f || *p == '#')
			return cp_fail(c, n, "'path' must not contain spaces, control characters or "
				       "'#'; percent-encode them (%%20)");
	return 0;
}

static int parse_check_keys(struct cp *c, const struct yaml_node *n, struct config_check *ck)
{
	const struct yaml_node *v;
	int rc = 0;

	if ((v = yaml_map_get(n, "url")) &&
	    ((rc = read_str(c, v, "url", &ck->url)) || (rc = note_pos(c, "check.url", v) < 0 ? oom(c) : 0)))
		return rc;
	if ((v = yaml_map_get(n, "path")) && (rc = check_path(c, v, ck)))
		return rc;
	if ((v = yaml_map_get(n, "status")) &&
	    (!(rc = need_scalar_text(c, v, "status", "an HTTP status")) &&
	     config_parse_status(sval(v), &ck->status_lo, &ck->status_hi) < 0))
		rc = cp_fail(c, v, "'status' must be an HTTP status (200), a class (2xx) or a range "
			     "(200-399) within 100-599, got '%s'", sval(v));
	if (rc)
		return rc;
	if ((v = yaml_map_get(n, "contains"))) {
		if ((rc = read_str(c, v, "contains", &ck->contains)))
			return rc;
		if (!*ck->contains)
			return cp_fail(c, v, "'contains' must not be empty (leave it out to check the "
				       "status only)");
	}
	if ((v = yaml_map_get(n, "timeout"))) {
		if ((rc = read_dur(c, v, "timeout", &ck->timeout_seconds)))
			return rc;
		if (ck->timeout_seconds < 1)
			return cp_fail(c, v, "'timeout' must be at least 1s");
	}
	if ((v = yaml_map_get(n, "headers")) && (rc = check_headers(c, v, 0, &ck->headers)))
		return rc;
	if ((v = yaml_map_get(n, "headers_from_env")))
		rc = check_headers(c, v, 1, &ck->headers_from_env);
	return rc;
}

/* check: a mapping of check_keys, or true (the defaults) / false (none). */
static int parse_check(struct cp *c, const struct yaml_node *n, struct config_check *ck)
{
	int on = 0, rc;

	ck->line = NODE_LINE(n);
	ck->col = NODE_COL(n);
	if (is_plain(n) && bool_value(sval(n)) >= 0)
		on = bool_value(sval(n));
	else if (n->kind != YAML_KIND_MAP)
		return fail_type(c, n, "'check' must be a mapping (url, path, status, contains, "
				 "timeout, headers) or true (check the URL with the defaults)");
	else if ((rc = check_table(c, n, "'check'", url_check_keys, NELEM(url_check_keys))))
		return rc;
	else
		on = 1;
	ck->enabled = on;
	ck->status_lo = 200;
	ck->status_hi = 399;
	ck->timeout_seconds = config_parse_duration("2m");
	if (!on || n->kind != YAML_KIND_MAP)
		return 0;
	return parse_check_keys(c, n, ck);
}

static void check_free(struct config_check *ck)
{
	free(ck->url);
	free(ck->path);
	free(ck->contains);
	cJSON_Delete(ck->headers);
	cJSON_Delete(ck->headers_from_env);
}

/* ------------------------------------------------------------------ */
/* top level                                                           */

/* Lower-cased, '-'-joined suggestion for a bad app name ("Shop_App" ->
 * "shop-app"); NULL if nothing useful comes out. */
static char *suggest_label(const char *s, size_t max)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	char *out;

	for (; *s && b.len < max; s++) {
		char ch = *s;
		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'))
			prenv_buf_addc(&b, ch);
		else if (b.len && b.ptr[b.len - 1] != '-')
			prenv_buf_addc(&b, '-');
	}
	while (b.len && b.ptr[b.len - 1] == '-')
		prenv_buf_truncate(&b, b.len - 1);
	if (b.failed || !b.len) {
		prenv_buf_free(&b);
		return NULL;
	}
	out = prenv_buf_detach(&b, NULL);
	return out;
}

/* services: (services.c); the top-level `templates` is then not used. */
static int parse_top_services(struct cp *c, const struct yaml_node *root, struct prenv_config *cfg)
{
	const struct yaml_node *v = yaml_map_get(root, "services"), *t;
	size_t pi;

	if (!v)
		return 0;
	if ((t = yaml_map_get(root, "templates")))
		return cp_fail(c, t, "'templates' and 'services' do not go together: with services, "
			       "each service names its own templates (services.<name>.templates); "
			       "move this directory into a service");
	for (pi = 0; pi < root->n; pi++)
		if (root->pairs[pi].value == v)
			return config_parse_services(c, root->pairs[pi].key, v, cfg);
	return 0;
}


/* ------------------------------------------------------------------ */
/* phases and on_destroy (issue 12)                                     */

static const struct config_key phase_keys[] = {
	{ "name", CONFIG_STR, 1, NULL, "the phase's name (a DNS label)", NULL },
	{ "templates", CONFIG_STR, 1, NULL, "its templates directory, relative to the config", NULL },
	{ "run", CONFIG_STR, 0, "always", "always: every deploy; once: when the environment is created "
	  "(or deploy --reseed)", NULL },
	{ "outputs", CONFIG_STR, 0, NULL, "configmap/NAME: its keys become outputs.<phase>.<key>", NULL },
};

static const struct config_key teardown_keys[] = {
	{ "templates", CONFIG_STR, 1, NULL, "the teardown Jobs' templates directory", NULL },
	{ "timeout", CONFIG_DUR, 0, "5m", "how long destroy waits for them", NULL },
};

static const char *const run_names[] = { "always", "once" };

/* outputs: configmap/NAME (NAME a DNS subdomain); only a ConfigMap. */
static int parse_phase_outputs(struct cp *c, const struct yaml_node *v, struct config_phase *ph)
{
	const char *s, *name;
	int rc;

	if ((rc = need_scalar_text(c, v, "outputs", "a string like configmap/NAME")))
		return rc;
	s = sval(v);
	if (!strncmp(s, "secret/", 7))
		return cp_fail(c, v, "'outputs' can only read a ConfigMap (configmap/NAME): a Secret's values "
			       "would reach templates and the PR comment; have the Job write the values "
			       "later phases may see to a ConfigMap, and reference its Secret from your "
			       "templates directly");
	name = !strncmp(s, "configmap/", 10) ? s + 10 : NULL;
	if (!name || !*name || strlen(name) > 253 || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-.") !=
	    strlen(name) || name[0] == '-' || name[0] == '.' || name[strlen(name) - 1] == '-' ||
	    name[strlen(name) - 1] == '.')
		return cp_fail(c, v, "'outputs' must be configmap/NAME, NAME the ConfigMap's name "
			       "(lower-case letters, digits, '-' and '.'), got '%s'", s);
	ph->outputs = strdup(name);
	return ph->outputs ? 0 : oom(c);
}

/* templates: [a, b]: the names of services (checked against `services:`
 * by link_phase_services once that is read). */
static int parse_phase_list(struct cp *c, const struct yaml_node *v, struct config_phase *ph)
{
	size_t k;
	int rc;

	if (!v->n)
		return cp_fail(c, v, "'templates' of phase '%s' is an empty list: name the services it deploys "
			       "(`templates: [api, web]`), or a directory", ph->name);
	if (!(ph->services = calloc(v->n + 1, sizeof(*ph->services))))
		return oom(c);
	for (k = 0; k < v->n; k++) {
		if ((rc = need_scalar_text(c, v->items[k], "templates", "each item of 'templates' must be a "
					   "service's name")))
			return rc;
		if (!(ph->services[k] = strdup(sval(v->items[k]))))
			return oom(c);
		ph->nservices = k + 1;
	}
	return 0;
}

static int parse_phase(struct cp *c, const struct yaml_node *n, size_t i, struct config_phase *ph)
{
	struct prenv_buf where = PRENV_BUF_INIT;
	const struct yaml_node *v;
	size_t k;
	int rc;

	ph->line = NODE_LINE(n);
	ph->col = NODE_COL(n);
	if (n->kind != YAML_KIND_MAP)
		return fail_type(c, n, "each item of 'phases' must be a mapping (name, templates, run, outputs)");
	prenv_buf_printf(&where, "phases item %zu", i + 1);
	rc = where.failed ? oom(c) : check_table(c, n, where.ptr, phase_keys, NELEM(phase_keys));
	prenv_buf_free(&where);
	if (rc)
		return rc;
	v = yaml_map_get(n, "name");
	if ((rc = read_str(c, v, "name", &ph->name)))
		return rc;
	if (strlen(ph->name) > CONFIG_PHASE_NAME_MAX || !name_is_dns_label(ph->name)) {
		char *sug = suggest_label(ph->name, CONFIG_PHASE_NAME_MAX);
		rc = cp_fail(c, v, "a phase's 'name' must be a DNS-1123 label of at most %d characters "
			     "(it labels the phase's objects), got '%s'%s%s%s", CONFIG_PHASE_NAME_MAX, ph->name,
			     sug ? "; try '" : "", sug ? sug : "", sug ? "'" : "");
		free(sug);
		return rc;
	}
	v = yaml_map_get(n, "templates");
	ph->templates_line = NODE_LINE(v);
	ph->templates_col = NODE_COL(v);
	if (v->kind == YAML_KIND_SEQ)
		rc = parse_phase_list(c, v, ph);
	else if (v->kind == YAML_KIND_MAP)
		rc = fail_type(c, v, "'templates' must be a directory or a service's name, or a list of services "
			       "(`templates: [api, web]`)");
	else
		rc = read_str(c, v, "templates", &ph->templates);
	if (rc)
		return rc;
	if ((v = yaml_map_get(n, "run"))) {
		if ((rc = read_enum(c, v, "run", run_names, NELEM(run_names), &k)))
			return rc;
		ph->run_once = k == 1;
	}
	if ((v = yaml_map_get(n, "outputs")) && (rc = parse_phase_outputs(c, v, ph)))
		return rc;
	return 0;
}

static int parse_phases(struct cp *c, const struct yaml_node *key, const struct yaml_node *n,
			struct prenv_config *cfg)
{
	size_t i, j;
	int rc;

	cfg->phases_line = NODE_LINE(key);
	cfg->phases_col = NODE_COL(key);
	if (n->kind != YAML_KIND_SEQ)
		return fail_type(c, n, "'phases' must be a list (e.g. `- name: data` with `templates: deploy/data`)");
	if (!n->n)
		return cp_fail(c, n, "'phases' is empty: list at least one phase, or remove the key "
			       "(then 'templates' is the one phase)");
	if (!(cfg->phases = calloc(n->n, sizeof(*cfg->phases))))
		return oom(c);
	for (i = 0; i < n->n; i++) {
		cfg->nphases = i + 1;
		if ((rc = parse_phase(c, n->items[i], i, &cfg->phases[i])))
			return rc;
		for (j = 0; j < i; j++)
			if (!strcmp(cfg->phases[j].name, cfg->phases[i].name))
				return cp_fail(c, yaml_map_get(n->items[i], "name"), "phase '%s' is named twice "
					       "(first at line %d, column %d); phase names must be unique",
					       cfg->phases[i].name, cfg->phases[j].line, cfg->phases[j].col);
	}
	return 0;
}

static int parse_on_destroy(struct cp *c, const struct yaml_node *n, struct prenv_config *cfg)
{
	const struct yaml_node *v;
	int rc;

	if (n->kind != YAML_KIND_MAP)
		return fail_type(c, n, "'on_destroy' must be a mapping (templates, timeout)");
	if ((rc = check_table(c, n, "'on_destroy'", teardown_keys, NELEM(teardown_keys))))
		return rc;
	v = yaml_map_get(n, "templates");
	if ((rc = read_str(c, v, "templates", &cfg->teardown_templates)))
		return rc;
	cfg->teardown_line = NODE_LINE(v);
	cfg->teardown_col = NODE_COL(v);
	cfg->teardown_timeout = 300;
	if ((v = yaml_map_get(n, "timeout")) && (rc = read_dur(c, v, "timeout", &cfg->teardown_timeout)))
		return rc;
	return 0;
}

/* phases: and on_destroy: of the top level. */
static int parse_phases_top(struct cp *c, const struct yaml_node *root, struct prenv_config *cfg)
{
	const struct yaml_node *v;
	size_t pi;
	int rc;

	for (pi = 0; pi < root->n; pi++) {
		const struct yaml_node *k = root->pairs[pi].key;

		if (!strcmp(sval(k), "phases") && (rc = parse_phases(c, k, root->pairs[pi].value, cfg)))
			return rc;
	}
	if (cfg->nphases && (v = yaml_map_get(root, "templates")))
		return cp_fail(c, v, "'templates' and 'phases' cannot both be set: with phases, each phase "
			       "names its own templates directory; move this directory into a phase "
			       "(e.g. `- name: app` with `templates: %s`)", cfg->templates);
	if ((v = yaml_map_get(root, "on_destroy")) && (rc = parse_on_destroy(c, v, cfg)))
		return rc;
	return 0;
}

/* The node of the services item k of phase i names (the `templates` scalar
 * itself when it is one). */
static const struct yaml_node *phase_item(const struct yaml_node *phases, size_t i, size_t k)
{
	const struct yaml_node *t = yaml_map_get(phases->items[i], "templates");

	return t->kind == YAML_KIND_SEQ ? t->items[k] : t;
}

/* Service k of phase i: one of `services:`, not named before (in this phase
 * or an earlier one). */
static int link_one(struct cp *c, const struct yaml_node *phases, const struct prenv_config *cfg,
		    size_t i, size_t k)
{
	const struct config_phase *ph = &cfg->phases[i];
	const struct yaml_node *at = phase_item(phases, i, k);
	const char *name = ph->services[k];
	size_t j, q;

	if (!config_service_find(cfg, name)) {
		struct prenv_buf b = PRENV_BUF_INIT;
		const char **names = calloc(cfg->nservices, sizeof(*names));
		int rc;

		for (q = 0; names && q < cfg->nservices; q++)
			names[q] = cfg->services[q].name;
		if (names)
			add_choices(&b, name, names, cfg->nservices, "services");
		rc = b.failed || !names ? oom(c) : cp_fail(c, at, "phase '%s' names service '%s', which is not "
							     "in 'services'%s", ph->name, name, b.ptr);
		free(names);
		prenv_buf_free(&b);
		return rc;
	}
	for (q = 0; q < k; q++)
		if (!strcmp(ph->services[q], name))
			return cp_fail(c, at, "service '%s' is named twice in phase '%s'; keep one", name, ph->name);
	for (j = 0; j < i; j++)
		for (q = 0; q < cfg->phases[j].nservices; q++)
			if (!strcmp(cfg->phases[j].services[q], name))
				return cp_fail(c, at, "service '%s' is in phase '%s' (line %d, column %d) and in "
					       "phase '%s'; a service belongs to one phase: remove one",
					       name, cfg->phases[j].name, NODE_LINE(phase_item(phases, j, q)),
					       NODE_COL(phase_item(phases, j, q)), ph->name);
	return 0;
}

/* A phase whose `templates` is a typo of a service in no phase (missing,
 * n names): "did you mean" at its position; 0 when there is none. */
static int phase_typo(struct cp *c, const struct yaml_node *phases, const struct prenv_config *cfg,
		      const char **missing, size_t n)
{
	const char *near;
	size_t j;

	for (j = 0; j < cfg->nphases; j++) {
		const struct config_phase *ph = &cfg->phases[j];

		if (ph->nservices || !(near = name_closest(ph->templates, missing, n)))
			continue;
		return cp_fail(c, yaml_map_get(phases->items[j], "templates"), "phase '%s': templates '%s' names "
			       "no service, and service %s is in no phase; did you mean '%s'? (with 'phases', "
			       "every service is deployed by the phase that names it)", ph->name, ph->templates,
			       near, near);
	}
	return 0;
}

/* "service web is in no phase" (or "services db, web are") at `phases:`. */
static int unphased(struct cp *c, const struct yaml_node *key, const struct yaml_node *phases,
		    const struct prenv_config *cfg)
{
	struct prenv_buf b = PRENV_BUF_INIT, eg = PRENV_BUF_INIT;
	const char **missing = calloc(cfg->nservices + 1, sizeof(*missing));
	size_t s, j, q, n = 0;
	int rc;

	if (!missing)
		return oom(c);
	for (s = 0; s < cfg->nservices; s++) {
		int in = 0;

		for (j = 0; j < cfg->nphases && !in; j++)
			for (q = 0; q < cfg->phases[j].nservices; q++)
				in |= !strcmp(cfg->phases[j].services[q], cfg->services[s].name);
		if (in)
			continue;
		prenv_buf_printf(&b, "%s%s", n ? ", " : "", cfg->services[s].name);
		missing[n++] = cfg->services[s].name;
	}
	rc = n ? phase_typo(c, phases, cfg, missing, n) : 0;
	free(missing);
	if (!n || rc) {
		prenv_buf_free(&b);
		return rc;
	}
	/* the example: the last phase of services, with the missing ones added */
	for (j = cfg->nphases; j-- > 0 && !cfg->phases[j].nservices;)
		;
	for (q = 0; j < cfg->nphases && q < cfg->phases[j].nservices; q++)
		prenv_buf_printf(&eg, "%s, ", cfg->phases[j].services[q]);
	rc = b.failed || eg.failed ? oom(c)
		: cp_fail(c, key, "%s %s %s in no phase: with 'phases', every service is deployed by the phase "
			  "that names it; add %s to a phase (e.g. `templates: [%s%s]`)", n > 1 ? "services" :
			  "service", b.ptr, n > 1 ? "are" : "is", n > 1 ? "them" : "it", eg.ptr ? eg.ptr : "", b.ptr);
	prenv_buf_free(&b);
	prenv_buf_free(&eg);
	return rc;
}

/* phases: with services: a phase's `templates` naming a service is that
 * service; a list must name services only; each service is in one phase. */
static int link_phase_services(struct cp *c, const struct yaml_node *root, struct prenv_config *cfg)
{
	const struct yaml_node *phases = yaml_map_get(root, "phases"), *key = NULL;
	size_t i, k, pi;
	int rc;

	if (!cfg->nphases)
		return 0;
	for (pi = 0; pi < root->n; pi++)
		if (!strcmp(sval(root->pairs[pi].key), "phases"))
			key = root->pairs[pi].key;
	for (i = 0; i < cfg->nphases; i++) {
		struct config_phase *ph = &cfg->phases[i];

		if (ph->nservices && !cfg->nservices)
			return cp_fail(c, yaml_map_get(phases->items[i], "templates"), "a list of 'templates' names "
				       "services, and this file has no 'services': give phase '%s' a directory "
				       "(`templates: deploy/%s`)", ph->name, ph->name);
		if (!ph->nservices && cfg->nservices && config_service_find(cfg, ph->templates)) {
			if (!(ph->services = calloc(2, sizeof(*ph->services))) ||
			    !(ph->services[0] = strdup(ph->templates)))
				return oom(c);
			ph->nservices = 1;
		}
		for (k = 0; k < ph->nservices; k++)
			if ((rc = link_one(c, phases, cfg, i, k)))
				return rc;
	}
	return unphased(c, key, phases, cfg);
}

static int parse_top(struct cp *c, const struct yaml_node *root, struct prenv_config *cfg)
{
	const struct yaml_node *v;
	size_t pi;
	int rc;

	if (root->kind != YAML_KIND_MAP)
		return fail_type(c, root, "the top level must be a mapping "
				 "(version, app, provider, environments, ...)");
	if ((rc = check_table(c, root, "the top level", top_keys, NELEM(top_keys))))
		return rc;
	cfg->version = 1;
	if ((v = yaml_map_get(root, "version"))) {
		long ver = 0;
		if ((rc = read_int(c, v, "version", &ver)))
			return rc;
		if (ver != 1)
			return cp_fail(c, v, "'version' must be 1 (the only version this prenv "
				       "understands), got %ld", ver);
	}
	v = yaml_map_get(root, "app");
	if ((rc = read_str(c, v, "app", &cfg->app)))
		return rc;
	if (strlen(cfg->app) > APP_MAX || !name_is_dns_label(cfg->app)) {
		char *sug = suggest_label(cfg->app, APP_MAX);
		rc = cp_fail(c, v, "'app' must be a DNS-1123 label of at most %d characters "
			     "(lower-case letters, digits and '-', starting and ending with a "
			     "letter or digit) so that '<app>-<env>' is a valid namespace, got '%s'%s%s%s",
			     APP_MAX, cfg->app, sug ? "; try '" : "", sug ? sug : "", sug ? "'" : "");
		free(sug);
		return rc;
	}
	if ((v = yaml_map_get(root, "templates"))) {
		if ((rc = read_str(c, v, "templates", &cfg->templates)))
			return rc;
		cfg->templates_line = NODE_LINE(v);
		cfg->templates_col = NODE_COL(v);
	}
	if ((v = yaml_map_get(root, "allow_empty")) &&
	    (rc = read_bool(c, v, "allow_empty", &cfg->allow_empty)))
		return rc;
	if ((v = yaml_map_get(root, "url")) &&
	    ((rc = read_str(c, v, "url", &cfg->url)) || (rc = note_pos(c, "url", v) < 0 ? oom(c) : 0)))
		return rc;
	if ((v = yaml_map_get(root, "forks"))) {
		size_t k;
		if ((rc = read_enum(c, v, "forks", forks_names, NELEM(forks_names), &k)))
			return rc;
		cfg->forks = strdup(forks_names[k]);
	} else {
		cfg->forks = strdup("skip");
	}
	if (!cfg->forks)
		return oom(c);
	if ((rc = parse_provider(c, yaml_map_get(root, "provider"), cfg)))
		return rc;
	for (pi = 0; pi < root->n; pi++) {
		const struct yaml_node *k = root->pairs[pi].key;
		if (!strcmp(sval(k), "environments") &&
		    (rc = parse_environments(c, k, root->pairs[pi].value, cfg)))
			return rc;
	}
	if ((rc = parse_phases_top(c, root, cfg)) || (rc = parse_top_services(c, root, cfg)) ||
	    (rc = link_phase_services(c, root, cfg)))
		return rc;
	if ((v = yaml_map_get(root, "values"))) {
		struct prenv_buf dotted = PRENV_BUF_INIT;
		prenv_buf_adds(&dotted, "values");
		rc = dotted.failed ? oom(c) : values_json(c, v, &dotted, 0, &cfg->values);
		prenv_buf_free(&dotted);
		if (rc)
			return rc;
	}
	if ((v = yaml_map_get(root, "check")) && (rc = parse_check(c, v, &cfg->check)))
		return rc;
	if ((rc = config_parse_logical(c, root, cfg)))
		return rc;
	return parse_secrets_access(c, root, cfg);
}

/* ------------------------------------------------------------------ */
/* Public                                                              */

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

int config_parse(struct prenv_config **out, const char *path, const char *text,
		 size_t len, const struct config_schema *const *kinds, struct prenv_err *err)
{
	struct prenv_config *cfg = NULL;
	struct yaml_doc *doc = NULL;
	const struct yaml_node *root;
	struct cp c;
	int rc;

	*out = NULL;
	if (!path)
		path = "<config>";
	c.path = path;
	c.err = err;
	c.kinds = kinds;
	c.cfg = NULL;
	if (len > CONFIG_MAX_BYTES)
		return cp_fail_at(&c, 1, 1, "the file is %zu bytes; a config may be at most %zu",
				  len, CONFIG_MAX_BYTES);
	if ((rc = yaml_doc_load(&doc, text, len, path, YAML_DOC_STRICT, err)))
		goto done;
	if (!(cfg = calloc(1, sizeof(*cfg))) || !(cfg->path = strdup(path)) ||
	    !(cfg->dir = dir_of(path))) {
		rc = oom(&c);
		goto done;
	}
	c.cfg = cfg;
	root = yaml_doc_root(doc);
	if (!root || is_null(root)) {
		rc = cp_fail_at(&c, 1, 1, "the config is empty; it needs at least 'app', "
				"'provider' and 'environments'");
		goto done;
	}
	rc = parse_top(&c, root, cfg);
done:
	yaml_doc_free(doc);
	if (rc) {
		config_free(cfg);
		return rc;
	}
	*out = cfg;
	return 0;
}

int config_load(struct prenv_config **out, const char *path,
		const struct config_schema *const *kinds, struct prenv_err *err)
{
	struct prenv_buf b;
	int rc;

	*out = NULL;
	prenv_buf_init(&b, CONFIG_MAX_BYTES + 1);
	if (prenv_buf_read_file(&b, path) < 0) {
		int e = errno;
		prenv_buf_free(&b);
		if (e == ENOMEM)
			return prenv_err_set_at(err, PRENV_ECONFIG, path, 0, 0,
						"cannot read %s: larger than %zu bytes or out of memory",
						path, CONFIG_MAX_BYTES);
		return prenv_err_set_at(err, PRENV_ECONFIG, path, 0, 0,
					"cannot read %s: %s; create it (see README.md) or pass "
					"-c FILE", path, strerror(e));
	}
	rc = config_parse(out, path, b.ptr, b.len, kinds, err);
	prenv_buf_free(&b);
	return rc;
}

void config_free(struct prenv_config *cfg)
{
	size_t i, k;

	if (!cfg)
		return;
	free(cfg->path);
	free(cfg->dir);
	free(cfg->app);
	free(cfg->templates);
	free(cfg->url);
	free(cfg->forks);
	free(cfg->provider_kind);
	cJSON_Delete(cfg->provider);
	for (i = 0; i < cfg->nrules; i++) {
		free(cfg->rules[i].branch);
		free(cfg->rules[i].tag);
		free(cfg->rules[i].name);
		free(cfg->rules[i].context);
		free(cfg->rules[i].kubeconfig);
	}
	free(cfg->rules);
	cJSON_Delete(cfg->values);
	check_free(&cfg->check);
	cJSON_Delete(cfg->positions);
	for (i = 0; i < cfg->nphases; i++) {
		free(cfg->phases[i].name);
		free(cfg->phases[i].templates);
		free(cfg->phases[i].outputs);
		for (k = 0; k < cfg->phases[i].nservices; k++)
			free(cfg->phases[i].services[k]);
		free(cfg->phases[i].services);
	}
	free(cfg->phases);
	free(cfg->teardown_templates);
	config_secrets_free(cfg);
	config_services_free(cfg);
	config_logical_free(cfg);
	free(cfg);
}

int config_template_pos(const struct prenv_config *cfg, const char *key, int *line, int *col,
			int *plain)
{
	const cJSON *a = cfg ? cJSON_GetObjectItemCaseSensitive(cfg->positions, key) : NULL;

	if (cJSON_GetArraySize(a) != 3)
		return 0;
	*line = cJSON_GetArrayItem(a, 0)->valueint;
	*col = cJSON_GetArrayItem(a, 1)->valueint;
	*plain = cJSON_IsTrue(cJSON_GetArrayItem(a, 2));
	return 1;
}

/* ------------------------------------------------------------------ */
/* For the other readers of this folder (config_int.h)                 */

int config_fail(struct cp *c, const struct yaml_node *n, const char *fmt, ...)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	prenv_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	rc = b.failed ? oom(c) : cp_fail(c, n, "%s", b.ptr);
	prenv_buf_free(&b);
	return rc;
}

int config_oom(struct cp *c)
{
	return oom(c);
}

int config_note_pos(struct cp *c, const char *key, const struct yaml_node *n)
{
	return note_pos(c, key, n);
}

int config_keyed_map(struct cp *c, const struct yaml_node *n, const char *where,
		     const struct config_key *keys, size_t nkeys, cJSON **out)
{
	const struct config_key *d;
	cJSON *obj, *item;
	size_t pi, i;
	int rc;

	*out = NULL;
	if ((rc = check_table(c, n, where, keys, nkeys)))
		return rc;
	if (!(obj = cJSON_CreateObject()))
		return oom(c);
	for (pi = 0; pi < n->n; pi++) {
		const struct yaml_node *k = n->pairs[pi].key;

		for (d = NULL, i = 0; i < nkeys && !d; i++)
			if (!strcmp(keys[i].name, sval(k)))
				d = &keys[i];
		item = NULL;
		if ((rc = provider_value(c, d, n->pairs[pi].value, &item))) {
			cJSON_Delete(obj);
			return rc;
		}
		cJSON_AddItemToObject(obj, d->name, item);
	}
	for (i = 0; i < nkeys; i++) {
		if (!keys[i].dflt || cJSON_GetObjectItemCaseSensitive(obj, keys[i].name))
			continue;
		if (!(item = default_value(&keys[i]))) {
			cJSON_Delete(obj);
			return oom(c);
		}
		cJSON_AddItemToObject(obj, keys[i].name, item);
	}
	*out = obj;
	return 0;
}
