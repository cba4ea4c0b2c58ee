/* render_out.c - render_write(): objects -> YAML stream, JSON array, or one
 * file per object in a directory (see render.h). */
#include "render/render.h"
#include "util/err.h"
#include "util/yaml.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TMP_PREFIX ".prenv-tmp-"
#define NAME_PART_MAX 100

static int format_is_json(const char *format, int *json, struct prenv_err *err)
{
	if (!format || !strcmp(format, "yaml")) {
		*json = 0;
		return 0;
	}
	if (!strcmp(format, "json")) {
		*json = 1;
		return 0;
	}
	return prenv_err_set(err, PRENV_ECONFIG, "unknown output format '%s' (yaml or json)", format);
}

/* Appends one object (or, for JSON, the whole value) in the format. */
static int write_value(struct prenv_buf *b, const cJSON *v, int json, struct prenv_err *err)
{
	char *s;

	if (!json)
		return yaml_emit_json(b, v, err);
	if (!(s = cJSON_Print(v)))
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory writing JSON");
	prenv_buf_adds(b, s);
	prenv_buf_addc(b, '\n');
	cJSON_free(s);
	return b->failed ? prenv_err_set(err, PRENV_ENOMEM, "out of memory") : 0;
}

static void add_name_part(struct prenv_buf *b, const char *s)
{
	size_t i, n = s ? strlen(s) : 0;

	if (n == 0) {
		prenv_buf_adds(b, "unknown");
		return;
	}
	for (i = 0; i < n && i < NAME_PART_MAX; i++) {
		char c = s[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-'))
			c = '-';
		prenv_buf_addc(b, c);
	}
}

static void file_name(struct prenv_buf *b, size_t index, int width, const cJSON *obj, int json)
{
	const cJSON *kind = cJSON_GetObjectItemCaseSensitive(obj, "kind");
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(meta, "name");

	prenv_buf_printf(b, "%0*zu-", width, index + 1);
	add_name_part(b, cJSON_IsString(kind) ? kind->valuestring : NULL);
	prenv_buf_addc(b, '-');
	add_name_part(b, cJSON_IsString(name) ? name->valuestring : NULL);
	prenv_buf_adds(b, json ? ".json" : ".yaml");
}

/* A name render_write could have written: [0-9]{3,}-[a-z0-9.-]*.(yaml|json) */
static int is_prenv_file(const char *s)
{
	size_t i = 0, n = strlen(s);

	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++;
	if (i < 3 || i >= n || s[i] != '-')
		return 0;
	if (n < 5 || (strcmp(s + n - 5, ".yaml") && strcmp(s + n - 5, ".json")))
		return 0;
	for (i++; i < n - 5; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-'))
			return 0;
	}
	return 1;
}

struct names {
	char **v;
	size_t n, cap;
};

static int names_add(struct names *l, const char *s)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		char **p = realloc(l->v, cap * sizeof(*p));

		if (!p)
			return -1;
		l->v = p;
		l->cap = cap;
	}
	if (!(l->v[l->n] = strdup(s)))
		return -1;
	l->n++;
	return 0;
}

static void names_free(struct names *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

/* Lists the earlier prenv files of dir into old; refuses anything else
 * (except our own left-over temporary directories). */
static int scan_out_dir(const char *dir, struct names *old, struct prenv_err *err)
{
	DIR *dh = opendir(dir);
	struct dirent *de;
	int rc = 0;

	if (!dh)
		return prenv_err_set(err, PRENV_EFAIL, "cannot open %s: %s", dir, strerror(errno));
	while ((de = readdir(dh)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    !strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX)))
			continue;
		if (!is_prenv_file(de->d_name)) {
			rc = prenv_err_set(err, PRENV_ECONFIG,
					   "--out %s contains '%s', which prenv did not write; "
					   "refusing (use a new or empty directory)", dir, de->d_name);
			break;
		}
		if (names_add(old, de->d_name) < 0) {
			rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
			break;
		}
	}
	closedir(dh);
	return rc;
}

static int write_file(const char *path, const char *data, size_t len, struct prenv_err *err)
{
	if (prenv_write_file(path, O_CREAT | O_EXCL, 0666, data, len) < 0)
		return prenv_err_set(err, PRENV_EFAIL, "cannot write %s: %s", path, strerror(errno));
	return 0;
}

static int write_dir(const cJSON *objects, int json, const char *out_dir,
		     struct prenv_buf *out, struct prenv_err *err)
{
	struct names old = { NULL, 0, 0 }, made = { NULL, 0, 0 };
	struct prenv_buf tmp = PRENV_BUF_INIT, path = PRENV_BUF_INIT, data = PRENV_BUF_INIT;
	struct prenv_buf list = PRENV_BUF_INIT;
	const cJSON *obj;
	struct stat st;
	size_t i, j, count = (size_t)cJSON_GetArraySize(objects);
	int created = 0, have_tmp = 0, width = 3, rc = 0;

	for (i = count; i >= 1000; i /= 10)
		width++;
	if (stat(out_dir, &st) < 0) {
		if (errno != ENOENT)
			return prenv_err_set(err, PRENV_EFAIL, "cannot use --out %s: %s", out_dir, strerror(errno));
		if (mkdir(out_dir, 0777) < 0)
			return prenv_err_set(err, PRENV_EFAIL, "cannot create %s: %s", out_dir, strerror(errno));
		created = 1;
	} else if (!S_ISDIR(st.st_mode)) {
		return prenv_err_set(err, PRENV_ECONFIG, "--out %s is not a directory", out_dir);
	}
	if ((rc = scan_out_dir(out_dir, &old, err)) < 0)
		goto done;
	prenv_buf_printf(&tmp, "%s/" TMP_PREFIX "XXXXXX", out_dir);
	if (tmp.failed) {
		rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
		goto done;
	}
	if (!mkdtemp(tmp.ptr)) {
		rc = prenv_err_set(err, PRENV_EFAIL, "cannot create a directory in %s: %s",
				   out_dir, strerror(errno));
		goto done;
	}
	have_tmp = 1;
	for (i = 0, obj = objects->child; obj; obj = obj->next, i++) {
		prenv_buf_reset(&path);
		prenv_buf_reset(&data);
		file_name(&path, i, width, obj, json);
		if (path.failed || names_add(&made, path.ptr) < 0) {
			rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
			goto done;
		}
		if ((rc = write_value(&data, obj, json, err)) < 0)
			goto done;
		prenv_buf_reset(&path);
		prenv_buf_printf(&path, "%s/%s", tmp.ptr, made.v[i]);
		if (path.failed) {
			rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
			goto done;
		}
		if ((rc = write_file(path.ptr, data.ptr, data.len, err)) < 0)
			goto done;
	}
	/* Everything is written: move it into place, then drop what is left
	 * of the earlier output. */
	for (i = 0; i < made.n; i++) {
		struct prenv_buf to = PRENV_BUF_INIT;

		prenv_buf_reset(&path);
		prenv_buf_printf(&path, "%s/%s", tmp.ptr, made.v[i]);
		prenv_buf_printf(&to, "%s/%s", out_dir, made.v[i]);
		if (path.failed || to.failed) {
			prenv_buf_free(&to);
			rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
			goto done;
		}
		if (rename(path.ptr, to.ptr) < 0) {
			rc = prenv_err_set(err, PRENV_EFAIL, "cannot rename %s to %s: %s",
					   path.ptr, to.ptr, strerror(errno));
			prenv_buf_free(&to);
			goto done;
		}
		prenv_buf_printf(&list, "%s\n", to.ptr);
		prenv_buf_free(&to);
	}
	for (i = 0; i < old.n; i++) {
		for (j = 0; j < made.n && strcmp(old.v[i], made.v[j]); j++)
			;
		if (j < made.n)
			continue;
		prenv_buf_reset(&path);
		prenv_buf_printf(&path, "%s/%s", out_dir, old.v[i]);
		if (!path.failed)
			unlink(path.ptr);
	}
	if (out && !list.failed)
		prenv_buf_add(out, list.ptr, list.len);
done:
	if (have_tmp) {
		for (i = 0; i < made.n; i++) {
			prenv_buf_reset(&path);
			prenv_buf_printf(&path, "%s/%s", tmp.ptr, made.v[i]);
			if (!path.failed)
				unlink(path.ptr); /* ENOENT once renamed */
		}
		rmdir(tmp.ptr);
	}
	if (rc < 0 && created)
		rmdir(out_dir);
	names_free(&old);
	names_free(&made);
	prenv_buf_free(&tmp);
	prenv_buf_free(&path);
	prenv_buf_free(&data);
	prenv_buf_free(&list);
	return rc;
}

int render_write(const cJSON *objects, const char *format, const char *out_dir,
		 struct prenv_buf *out, struct prenv_err *err)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	const cJSON *obj;
	int json = 0, rc;

	if ((rc = format_is_json(format, &json, err)) < 0)
		return rc;
	if (!cJSON_IsArray(objects))
		return prenv_err_set(err, PRENV_EFAIL, "render_write: objects must be an array");
	if (out_dir)
		return write_dir(objects, json, out_dir, out, err);
	if (json) {
		rc = write_value(&b, objects, 1, err);
	} else {
		for (obj = objects->child; obj && rc == 0; obj = obj->next)
			rc = yaml_emit_json(&b, obj, err);
	}
	if (rc == 0 && prenv_buf_add(out, b.ptr, b.len) < 0)
		rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	prenv_buf_free(&b);
	return rc;
}
