/* pages.c - provider.kind: pages (static site per environment).
 *
 *   target: dir:PATH                 -> PATH/<env>/ swapped in atomically
 *   target: git:URL#BRANCH[:subdir]  -> <subdir/><env>/ on BRANCH (gitpub.c)
 *
 * The site is read into memory once (pages_site_load, site.c), with *.mustache
 * files rendered, and then written by either backend. Files outside <env>/ are
 * never touched; <env> is checked again here although the plan validated it.
 */
#include "pages/pages.h"
#include "pages/gitpub.h"
#include "pages/site.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
/* musl before 1.2.5 (the static build, make static) has no renameat2(). */
#include <sys/syscall.h>
#define RENAME_NOREPLACE (1 << 0)
#define RENAME_EXCHANGE (1 << 1)
static int renameat2(int olddir, const char *oldp, int newdir, const char *newp, unsigned flags)
{
	return (int)syscall(SYS_renameat2, olddir, oldp, newdir, newp, flags);
}
#endif

#include "util/buf.h"
#include "context/ci.h"
#include "config/config.h"
#include "util/err.h"
#include "util/fs.h"
#include "util/names.h"
#include "util/log.h"
#include "config/plan.h"
#include "render/tmpl.h"

static int name_cmp(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int skip_dots(const struct dirent *d)
{
	return strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0;
}

/* --------------------------------------------------------------- target */

void pages_target_clear(struct pages_target *t)
{
	if (!t)
		return;
	free(t->path);
	free(t->url);
	free(t->branch);
	free(t->subdir);
	memset(t, 0, sizeof(*t));
}

static int subdir_ok(const char *s)
{
	const char *p = s;

	if (*s == '/' || strchr(s, '\\'))
		return 0;
	while (*p) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);

		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.') ||
		    (n == 4 && strncmp(p, ".git", 4) == 0))
			return 0;
		p += n;
		if (*p == '/')
			p++;
	}
	return 1;
}

int pages_target_parse(struct pages_target *out, const char *s, struct prenv_err *err)
{
	memset(out, 0, sizeof(*out));
	if (!s)
		return prenv_err_set(err, PRENV_ECONFIG, "pages: provider.target is missing "
				     "(dir:PATH or git:URL#BRANCH)");
	if (strncmp(s, "dir:", 4) == 0) {
		if (!s[4])
			return prenv_err_set(err, PRENV_ECONFIG, "pages: target \"dir:\" names no directory");
		out->kind = PAGES_TARGET_DIR;
		out->path = strdup(s + 4);
		if (!out->path)
			return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
		return 0;
	}
	if (strncmp(s, "git:", 4) == 0) {
		const char *hash = strrchr(s + 4, '#'), *colon;
		char *sub;
		size_t n;

		if (!hash || hash == s + 4 || !hash[1])
			return prenv_err_set(err, PRENV_ECONFIG,
					     "pages: target \"%s\" needs a branch: git:URL#BRANCH[:subdir] "
					     "(e.g. git:https://github.com/acme/shop.git#gh-pages)", s);
		out->kind = PAGES_TARGET_GIT;
		out->url = strndup(s + 4, (size_t)(hash - s - 4));
		colon = strchr(hash + 1, ':');
		n = colon ? (size_t)(colon - hash - 1) : strlen(hash + 1);
		out->branch = strndup(hash + 1, n);
		sub = strdup(colon ? colon + 1 : "");
		if (!out->url || !out->branch || !sub) {
			free(sub);
			pages_target_clear(out);
			return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
		}
		while (*sub && sub[strlen(sub) - 1] == '/')
			sub[strlen(sub) - 1] = 0;
		out->subdir = sub;
		if (!*out->branch || strstr(out->branch, "..") || strchr(out->branch, ' ') ||
		    out->branch[0] == '-' || out->branch[0] == '/' || strchr(out->branch, '~') ||
		    strchr(out->branch, '^') || strchr(out->branch, '\\')) {
			prenv_err_set(err, PRENV_ECONFIG, "pages: \"%s\" is not a usable branch name",
				      out->branch);
			pages_target_clear(out);
			return PRENV_ECONFIG;
		}
		if (!subdir_ok(out->subdir)) {
			prenv_err_set(err, PRENV_ECONFIG, "pages: the subdirectory \"%s\" must be a "
				      "relative path without \"..\", \".\" or \".git\"", out->subdir);
			pages_target_clear(out);
			return PRENV_ECONFIG;
		}
		return 0;
	}
	return prenv_err_set(err, PRENV_ECONFIG,
			     "pages: target \"%s\" is neither dir:PATH nor git:URL#BRANCH[:subdir]", s);
}

/* ------------------------------------------------------------ dir: I/O */

static int write_site(const char *dir, const struct pages_site *site, struct prenv_err *err)
{
	struct prenv_buf p = PRENV_BUF_INIT;
	size_t i;
	int rc = 0;

	for (i = 0; i < site->n && rc == 0; i++) {
		const struct pages_file *f = &site->files[i];
		int fd;

		prenv_buf_reset(&p);
		if (prenv_buf_printf(&p, "%s/%s", dir, f->path) < 0) {
			rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
			break;
		}
		if (f->mode == PAGES_DIR) {
			if (mkdir(p.ptr, 0755) < 0)
				rc = prenv_err_set(err, PRENV_EFAIL, "pages: cannot create %s: %s",
						   p.ptr, strerror(errno));
		} else if (f->mode == PAGES_LINK) {
			if (symlink(f->data, p.ptr) < 0)
				rc = prenv_err_set(err, PRENV_EFAIL, "pages: cannot create the link %s: %s",
						   p.ptr, strerror(errno));
		} else {
			fd = open(p.ptr, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
			if (fd < 0 || prenv_write_fd(fd, f->data, f->len) < 0 ||
			    fchmod(fd, (mode_t)f->mode) < 0) {
				rc = prenv_err_set(err, PRENV_EFAIL, "pages: cannot write %s: %s",
						   p.ptr, strerror(errno));
			}
			if (fd >= 0 && close(fd) < 0 && rc == 0)
				rc = prenv_err_set(err, PRENV_EFAIL, "pages: cannot write %s: %s",
						   p.ptr, strerror(errno));
		}
	}
	prenv_buf_free(&p);
	return rc;
}

/* ------------------------------------------------------------ marker */

/* Every environment directory a deploy makes holds PAGES_MARKER, saying that
 * prenv made it, for which app and environment, and when:
 *   {"prenv":1,"app":"shop","env":"pr-42","deployed_at":1733000000}
 * The site is public (a web server serves this file too), so it holds
 * nothing else: no sha, no pull request, no repository. list (gc), destroy
 * and deploy touch only directories whose marker names this app and
 * environment; a directory without one (made by hand, or by a prenv from
 * before markers) is left as it is. */
#define PAGES_MARKER ".prenv.json"
#define PAGES_MARKER_MAX 4096

enum marker_state {
	MARK_ABSENT,   /* no such directory */
	MARK_OURS,     /* this app's and environment's */
	MARK_NONE,     /* a directory without a marker */
	MARK_OTHER,    /* another app's or environment's, or not readable: *why */
};

static int write_marker(const char *dir, const char *app, const char *env,
			struct prenv_err *err)
{
	struct prenv_buf p = PRENV_BUF_INIT;
	cJSON *m = cJSON_CreateObject();
	char *text = NULL;
	int fd = -1, rc = 0;

	if (!m || !cJSON_AddNumberToObject(m, "prenv", 1) || !cJSON_AddStringToObject(m, "app", app) ||
	    !cJSON_AddStringToObject(m, "env", env) ||
	    !cJSON_AddNumberToObject(m, "deployed_at", (double)time(NULL)) ||
	    !(text = cJSON_PrintUnformatted(m)) || prenv_buf_printf(&p, "%s/%s", dir, PAGES_MARKER) < 0) {
		rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
		goto done;
	}
	fd = open(p.ptr, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0 || prenv_write_fd(fd, text, strlen(text)) < 0 || close(fd) < 0) {
		rc = prenv_err_set(err, PRENV_EFAIL, "pages: cannot write %s: %s", p.ptr,
				   strerror(errno));
		if (fd >= 0)
			close(fd);
	}
done:
	cJSON_Delete(m);
	free(text);
	prenv_buf_free(&p);
	return rc;
}

/* The marker's fields, checked against app and env. */
static enum marker_state marker_fields(const char *text, const char *app, const char *env,
				       long long *deployed_at, struct prenv_buf *why)
{
	cJSON *m = cJSON_Parse(text);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, "prenv");
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(m, "app");
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(m, "env");
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(m, "deployed_at");
	enum marker_state st = MARK_OTHER;

	if (!cJSON_IsNumber(v) || v->valuedouble != 1 || !cJSON_IsString(a) || !cJSON_IsString(e) ||
	    !cJSON_IsNumber(t))
		prenv_buf_adds(why, "is not a marker this prenv understands");
	else if (strcmp(a->valuestring, app))
		prenv_buf_printf(why, "belongs to app '%s' (its " PAGES_MARKER ")",
				 name_is_dns_label(a->valuestring) ? a->valuestring : "(not a valid name)");
	else if (strcmp(e->valuestring, env))
		prenv_buf_printf(why, "names environment '%s'", name_is_dns_label(e->valuestring)
				 ? e->valuestring : "(not a valid name)");
	else {
		*deployed_at = (long long)t->valuedouble;
		st = MARK_OURS;
	}
	cJSON_Delete(m);
	return st;
}

/* What dir (root/<env>) is. *why (MARK_NONE, MARK_OTHER) completes
 * "DIR/ ...". */
static enum marker_state read_marker(const char *dir, const char *app, const char *env,
				     long long *deployed_at, struct prenv_buf *why)
{
	struct prenv_buf p = PRENV_BUF_INIT, text = PRENV_BUF_INIT;
	enum marker_state st = MARK_OTHER;
	struct stat sb;

	if (lstat(dir, &sb) < 0) {
		if (errno == ENOENT)
			return MARK_ABSENT;
		prenv_buf_printf(why, "cannot be read: %s", strerror(errno));
		return MARK_OTHER;
	}
	if (!S_ISDIR(sb.st_mode)) {
		prenv_buf_adds(why, "is not a directory");
		return MARK_OTHER;
	}
	prenv_buf_printf(&p, "%s/%s", dir, PAGES_MARKER);
	if (p.failed)
		prenv_buf_adds(why, "cannot be checked: out of memory");
	else if (lstat(p.ptr, &sb) < 0 && errno == ENOENT)
		st = MARK_NONE;
	else if (!S_ISREG(sb.st_mode) || sb.st_size > PAGES_MARKER_MAX)
		prenv_buf_adds(why, "has a " PAGES_MARKER " that is not a small regular file");
	else if (prenv_buf_read_file(&text, p.ptr) < 0)
		prenv_buf_printf(why, "has a " PAGES_MARKER " that cannot be read: %s", strerror(errno));
	else
		st = marker_fields(text.ptr, app, env, deployed_at, why);
	if (st == MARK_NONE)
		prenv_buf_adds(why, "has no " PAGES_MARKER " marker (made by hand, or by a prenv "
			       "from before markers)");
	prenv_buf_free(&p);
	prenv_buf_free(&text);
	return st;
}

/* deploy and destroy: root/<env> must be absent or this app's. */
static int check_owned(const char *dir, const char *app, const char *env, struct prenv_err *err)
{
	struct prenv_buf why = PRENV_BUF_INIT;
	long long at;
	enum marker_state st = read_marker(dir, app, env, &at, &why);
	int rc = 0;

	if (st == MARK_NONE || st == MARK_OTHER)
		rc = prenv_err_set(err, PRENV_EAUTH, "pages: %s/ %s; prenv touches only the "
				   "directories it made for app '%s'. If this one is the "
				   "environment's, remove it by hand and deploy again",
				   dir, why.failed ? "is not prenv's" : why.ptr, app);
	prenv_buf_free(&why);
	return rc;
}

/* The site must not bring a file where the marker goes. */
static int check_no_marker_in_site(const struct pages_site *site, struct prenv_err *err)
{
	size_t i;

	for (i = 0; i < site->n; i++)
		if (!strcmp(site->files[i].path, PAGES_MARKER))
			return prenv_err_set(err, PRENV_ECONFIG, "pages: the site has its own "
					     PAGES_MARKER ", the file prenv writes into every "
					     "environment as its marker; rename or remove yours");
	return 0;
}

/* Replaced versions of root/<env> are kept as
 * root/.prenv-old-<env>.<unix-seconds>.<pid>.<n> for at least
 * PAGES_OLD_GRACE_SECONDS, then removed by a later deploy (or destroy): a
 * reader (web server) that opened the old directory just before a swap can
 * finish reading it instead of seeing files vanish under it. */
#define PAGES_OLD_GRACE_SECONDS 10

static void sweep_old(const char *root, const char *env, int all)
{
	struct prenv_buf prefix = PRENV_BUF_INIT, p = PRENV_BUF_INIT;
	struct dirent *d;
	DIR *dp = opendir(root);
	time_t now = time(NULL);

	if (!dp)
		return;
	prenv_buf_printf(&prefix, ".prenv-old-%s.", env);
	while (!prefix.failed && (d = readdir(dp)) != NULL) {
		long long when;

		if (strncmp(d->d_name, prefix.ptr, prefix.len) != 0)
			continue;
		when = strtoll(d->d_name + prefix.len, NULL, 10);
		if (!all && now - (time_t)when < PAGES_OLD_GRACE_SECONDS)
			continue;
		prenv_buf_reset(&p);
		if (prenv_buf_printf(&p, "%s/%s", root, d->d_name) == 0)
			fs_rm_tree(p.ptr);
	}
	closedir(dp);
	prenv_buf_free(&prefix);
	prenv_buf_free(&p);
}

int pages_dir_deploy(const char *root, const char *env, const char *app,
		     const struct pages_site *site, struct prenv_err *err)
{
	struct prenv_buf tmp = PRENV_BUF_INIT, fin = PRENV_BUF_INIT, old = PRENV_BUF_INIT;
	int rc = 0;

	if ((rc = pages_check_env_name(env, err)) < 0 || (rc = check_no_marker_in_site(site, err)) < 0)
		return rc;
	prenv_buf_printf(&tmp, "%s/.prenv-tmp-%s-%ld", root, env, (long)getpid());
	prenv_buf_printf(&fin, "%s/%s", root, env);
	{
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		prenv_buf_printf(&old, "%s/.prenv-old-%s.%lld.%09ld.%ld", root, env,
				 (long long)ts.tv_sec, ts.tv_nsec, (long)getpid());
	}
	if (tmp.failed || fin.failed || old.failed) {
		rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
		goto done;
	}
	if ((rc = check_owned(fin.ptr, app, env, err)) < 0)
		goto done;
	if (fs_mkdir_p(root) < 0) {
		rc = prenv_err_set(err, PRENV_EFAIL, "pages: cannot create the target directory %s: %s",
				   root, strerror(errno));
		goto done;
	}
	/* A leftover of a run that died with our pid; old versions. */
	fs_rm_tree(tmp.ptr);
	sweep_old(root, env, 0);
	if (mkdir(tmp.ptr, 0755) < 0) {
		rc = prenv_err_set(err, PRENV_EFAIL, "pages: cannot create %s: %s", tmp.ptr,
				   strerror(errno));
		goto done;
	}
	if ((rc = write_site(tmp.ptr, site, err)) < 0 || (rc = write_marker(tmp.ptr, app, env, err)) < 0)
		goto done;
	/* New environment: a plain rename (fails if one appeared meanwhile). */
	if (renameat2(AT_FDCWD, tmp.ptr, AT_FDCWD, fin.ptr, RENAME_NOREPLACE) == 0)
		goto done;
	if (errno == EEXIST || errno == ENOTEMPTY) {
		/* Existing one: swap both names in one step, so a reader finds
		 * either the old complete tree or the new complete tree. */
		if (renameat2(AT_FDCWD, tmp.ptr, AT_FDCWD, fin.ptr, RENAME_EXCHANGE) == 0) {
			if (rename(tmp.ptr, old.ptr) < 0)
				fs_rm_tree(tmp.ptr);
			goto done;
		}
	}
	if (errno != EINVAL && errno != ENOSYS) {
		rc = prenv_err_set(err, PRENV_EFAIL, "pages: cannot move %s to %s: %s", tmp.ptr,
				   fin.ptr, strerror(errno));
		goto done;
	}
	/* Fallback for file systems without renameat2 flags: move the old tree
	 * away, then the new one in. Between the two renames (microseconds)
	 * PATH/<env> does not exist; readers may get a 404 then. */
	if (rename(fin.ptr, old.ptr) < 0 && errno != ENOENT) {
		rc = prenv_err_set(err, PRENV_EFAIL, "pages: cannot move %s aside: %s", fin.ptr,
				   strerror(errno));
		goto done;
	}
	if (rename(tmp.ptr, fin.ptr) < 0) {
		rc = prenv_err_set(err, PRENV_EFAIL, "pages: cannot move %s to %s: %s", tmp.ptr,
				   fin.ptr, strerror(errno));
		rename(old.ptr, fin.ptr);
		goto done;
	}
done:
	if (rc < 0)
		fs_rm_tree(tmp.ptr);
	prenv_buf_free(&tmp);
	prenv_buf_free(&fin);
	prenv_buf_free(&old);
	return rc;
}

int pages_dir_destroy(const char *root, const char *env, const char *app, int *existed,
		      struct prenv_err *err)
{
	struct prenv_buf fin = PRENV_BUF_INIT, gone = PRENV_BUF_INIT;
	int rc = 0;

	*existed = 0;
	if ((rc = pages_check_env_name(env, err)) < 0)
		return rc;
	prenv_buf_printf(&fin, "%s/%s", root, env);
	prenv_buf_printf(&gone, "%s/.prenv-gone-%s-%ld", root, env, (long)getpid());
	if (fin.failed || gone.failed) {
		rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
		goto done;
	}
	if ((rc = check_owned(fin.ptr, app, env, err)) < 0)
		goto done;
	fs_rm_tree(gone.ptr);
	sweep_old(root, env, 1);  /* versions kept by pages_dir_deploy */
	/* One rename takes it off the web at once; deleting takes longer. */
	if (rename(fin.ptr, gone.ptr) < 0) {
		if (errno != ENOENT)
			rc = prenv_err_set(err, PRENV_EFAIL, "pages: cannot remove %s: %s", fin.ptr,
					   strerror(errno));
		goto done;
	}
	*existed = 1;
	if (fs_rm_tree(gone.ptr) < 0)
		rc = prenv_err_set(err, PRENV_EFAIL, "pages: cannot delete %s: %s", gone.ptr,
				   strerror(errno));
done:
	prenv_buf_free(&fin);
	prenv_buf_free(&gone);
	return rc;
}

struct tally {
	double files, bytes;
	time_t mtime;
};

/* top: path is the environment's directory (its marker is not counted). */
static int count_tree(const char *path, int top, struct tally *t)
{
	struct prenv_buf p = PRENV_BUF_INIT;
	struct dirent *d;
	DIR *dp = opendir(path);
	int rc = 0;

	if (!dp)
		return -1;
	while ((d = readdir(dp)) != NULL && rc == 0) {
		struct stat st;

		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, "..") ||
		    (top && !strcmp(d->d_name, PAGES_MARKER)))
			continue;
		prenv_buf_reset(&p);
		if (prenv_buf_printf(&p, "%s/%s", path, d->d_name) < 0) {
			rc = -1;
			break;
		}
		if (lstat(p.ptr, &st) < 0)
			continue;
		if (st.st_mtime > t->mtime)
			t->mtime = st.st_mtime;
		if (S_ISDIR(st.st_mode)) {
			rc = count_tree(p.ptr, 0, t);
		} else {
			t->files++;
			t->bytes += (double)st.st_size;
		}
	}
	closedir(dp);
	prenv_buf_free(&p);
	return rc;
}

int pages_dir_status(cJSON **out, const char *root, const char *env, struct prenv_err *err)
{
	struct prenv_buf fin = PRENV_BUF_INIT;
	struct tally t = { 0, 0, 0 };
	struct stat st;
	cJSON *o = NULL;
	int rc = 0;

	*out = NULL;
	if ((rc = pages_check_env_name(env, err)) < 0)
		return rc;
	o = cJSON_CreateObject();
	if (prenv_buf_printf(&fin, "%s/%s", root, env) < 0 || !o) {
		rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
		goto done;
	}
	cJSON_AddStringToObject(o, "path", fin.ptr);
	if (lstat(fin.ptr, &st) < 0 || !S_ISDIR(st.st_mode)) {
		cJSON_AddBoolToObject(o, "exists", 0);
		goto done;
	}
	t.mtime = st.st_mtime;
	if (count_tree(fin.ptr, 1, &t) < 0) {
		rc = prenv_err_set(err, PRENV_EFAIL, "pages: cannot read %s: %s", fin.ptr,
				   strerror(errno));
		goto done;
	}
	cJSON_AddBoolToObject(o, "exists", 1);
	cJSON_AddNumberToObject(o, "files", t.files);
	cJSON_AddNumberToObject(o, "bytes", t.bytes);
	{
		char when[32];
		struct tm tm;

		gmtime_r(&t.mtime, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		cJSON_AddStringToObject(o, "modified", when);
	}
done:
	if (rc < 0)
		cJSON_Delete(o);
	else
		*out = o;
	prenv_buf_free(&fin);
	return rc;
}

/* ------------------------------------------------------------ provider */

static const char *cfg_str(const struct provider_run *run, const char *key)
{
	const cJSON *v = run->cfg && run->cfg->provider
		? cJSON_GetObjectItemCaseSensitive(run->cfg->provider, key) : NULL;

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* path as written in the config, resolved from the config's directory. */
static char *resolve(const struct provider_run *run, const char *path)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	const char *base = run->cfg && run->cfg->dir ? run->cfg->dir : ".";

	if (path[0] == '/')
		prenv_buf_adds(&b, path);
	else
		prenv_buf_printf(&b, "%s/%s", base, path);
	if (b.failed)
		return NULL;
	return prenv_buf_detach(&b, NULL);
}

static int set_str(char **slot, const char *s, struct prenv_err *err)
{
	if (prenv_set_str(slot, s) < 0)
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	return 0;
}

static int parse_author(const char *s, char **name, char **email, struct prenv_err *err)
{
	const char *lt, *gt;
	size_t n;

	if (!s) {
		*name = strdup("prenv");
		*email = strdup("prenv@localhost");
		goto check;
	}
	lt = strchr(s, '<');
	gt = lt ? strchr(lt, '>') : NULL;
	if (!lt || !gt || gt[1] || gt == lt + 1 || lt == s)
		return prenv_err_set(err, PRENV_ECONFIG, "pages: author \"%s\" must look like "
				     "\"Name <email>\"", s);
	n = (size_t)(lt - s);
	while (n && s[n - 1] == ' ')
		n--;
	*name = strndup(s, n);
	*email = strndup(lt + 1, (size_t)(gt - lt - 1));
check:
	if (!*name || !*email)
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	return 0;
}

static char *commit_message(const struct provider_run *run, const char *env, int destroy,
			    struct prenv_err *err)
{
	const char *tmpl = cfg_str(run, "commit_message");
	const struct prenv_context *ctx = run->ctx;
	struct prenv_buf b = PRENV_BUF_INIT;
	char shortsha[8] = "";

	if (!destroy && tmpl && run->plan)
		return tmpl_render_string(tmpl, run->plan->vars, "provider.commit_message", err);
	if (ctx && ctx->sha)
		snprintf(shortsha, sizeof(shortsha), "%.7s", ctx->sha);
	prenv_buf_printf(&b, "prenv: %s %s", destroy ? "destroy" : "deploy", env);
	if (!destroy && ctx) {
		if (ctx->has_pr)
			prenv_buf_printf(&b, " (PR #%ld%s%s)", ctx->pr_number, *shortsha ? ", " : "",
					 shortsha);
		else if (ctx->branch || *shortsha)
			prenv_buf_printf(&b, " (%s%s%s)", ctx->branch ? ctx->branch : "",
					 ctx->branch && *shortsha ? ", " : "", shortsha);
	}
	if (b.failed) {
		prenv_err_set(err, PRENV_ENOMEM, "out of memory");
		return NULL;
	}
	return prenv_buf_detach(&b, NULL);
}

/* What one operation works on, resolved from the configuration. */
struct pages_op {
	enum prenv_op op;
	const struct provider_run *run;
	const char *env;
	struct pages_target t;
	struct pages_site *site;   /* deploy only */
	char *src;                 /* deploy: the site directory, resolved */
};

static void op_clear(struct pages_op *o)
{
	pages_target_clear(&o->t);
	pages_site_free(o->site);
	free(o->src);
}

static void info_dir_deploy(struct provider_result *res, const struct pages_site *site)
{
	res->info = cJSON_CreateObject();
	if (res->info) {
		cJSON_AddStringToObject(res->info, "target", "dir");
		cJSON_AddNumberToObject(res->info, "files", (double)site->nfiles);
		cJSON_AddNumberToObject(res->info, "bytes", (double)site->bytes);
	}
}

/* dir: targets. */
static int pages_dir_op(struct pages_op *o, struct provider_result *res, struct prenv_err *err)
{
	const char *env = o->env;
	const char *app = o->run->cfg && o->run->cfg->app ? o->run->cfg->app : "";
	char *root = resolve(o->run, o->t.path);
	int rc = 0, existed = 0;

	if (!root)
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	if (o->op == PRENV_OP_DEPLOY && o->run->dry_run) {
		log_info("pages: would copy %zu files (%zu bytes) from %s to %s/%s/",
			 o->site->nfiles, o->site->bytes, o->src, root, env);
		rc = set_str(&res->status, "ready", err);
	} else if (o->op == PRENV_OP_DEPLOY) {
		if ((rc = pages_dir_deploy(root, env, app, o->site, err)) == 0) {
			log_info("pages: published %zu files (%zu bytes) to %s/%s/", o->site->nfiles,
				 o->site->bytes, root, env);
			info_dir_deploy(res, o->site);
			rc = set_str(&res->status, "ready", err);
		}
	} else if (o->op == PRENV_OP_DESTROY && o->run->dry_run) {
		log_info("pages: would remove %s/%s/", root, env);
		rc = set_str(&res->status, "destroyed", err);
	} else if (o->op == PRENV_OP_DESTROY) {
		if ((rc = pages_dir_destroy(root, env, app, &existed, err)) == 0) {
			if (existed)
				log_info("pages: removed %s/%s/", root, env);
			else
				log_info("pages: %s/%s/ was already absent", root, env);
			rc = set_str(&res->status, "destroyed", err);
		}
	} else if ((rc = pages_dir_status(&res->info, root, env, err)) == 0) {
		rc = set_str(&res->status, cJSON_IsTrue(cJSON_GetObjectItem(res->info, "exists"))
			     ? "ready" : "absent", err);
	}
	free(root);
	return rc;
}

static void info_git_status(struct provider_result *res, const char *shown, const char *branch,
			    const struct gitpub_result *gr)
{
	res->info = cJSON_CreateObject();
	if (res->info) {
		cJSON_AddStringToObject(res->info, "remote", shown ? shown : "");
		cJSON_AddStringToObject(res->info, "branch", branch);
		cJSON_AddBoolToObject(res->info, "exists", gr->existed);
		cJSON_AddStringToObject(res->info, "commit", gr->commit);
		cJSON_AddNumberToObject(res->info, "files", (double)gr->files);
		cJSON_AddNumberToObject(res->info, "bytes", (double)gr->bytes);
	}
}

static void info_git_publish(struct provider_result *res, const struct gitpub_result *gr)
{
	res->info = cJSON_CreateObject();
	if (res->info) {
		cJSON_AddStringToObject(res->info, "target", "git");
		cJSON_AddBoolToObject(res->info, "changed", gr->changed);
		cJSON_AddStringToObject(res->info, "commit", gr->commit);
		cJSON_AddNumberToObject(res->info, "attempts", gr->attempts);
	}
}

/* git: targets. */
static int pages_git_op(struct pages_op *o, struct provider_result *res, struct prenv_err *err)
{
	const struct pages_target *t = &o->t;
	struct gitpub_opts g = GITPUB_OPTS_INIT;
	struct gitpub_result gr;
	char *msg = NULL, *name = NULL, *email = NULL, *shown = gitpub_redact_url(t->url);
	int rc;

	if ((rc = parse_author(cfg_str(o->run, "author"), &name, &email, err)) < 0)
		goto done;
	if (o->op != PRENV_OP_STATUS &&
	    !(msg = commit_message(o->run, o->env, o->op == PRENV_OP_DESTROY, err))) {
		rc = err && err->code ? err->code : PRENV_ENOMEM;
		goto done;
	}
	g.url = t->url;
	g.branch = t->branch;
	g.subdir = t->subdir;
	g.env_name = o->env;
	g.site = o->site;
	g.message = msg;
	g.author_name = name;
	g.author_email = email;
	g.envp = o->run->envp;
	g.ctx = o->run->ctx;
	g.dry_run = o->run->dry_run;
	if (o->op == PRENV_OP_STATUS) {
		if ((rc = gitpub_status(&g, &gr, err)) == 0) {
			info_git_status(res, shown, t->branch, &gr);
			rc = set_str(&res->status, gr.existed ? "ready" : "absent", err);
		}
		goto done;
	}
	if ((rc = gitpub_publish(&g, &gr, err)) < 0)
		goto done;
	if (o->op == PRENV_OP_DEPLOY)
		log_info("pages: %s %s%s%s/ on %s#%s%s%s", gr.changed ? "published" : "unchanged:",
			 t->subdir, *t->subdir ? "/" : "", o->env, shown ? shown : "", t->branch,
			 gr.changed ? " as " : "", gr.changed ? gr.commit : "");
	else
		log_info("pages: %s %s%s%s/ on %s#%s", gr.changed ? "removed" : "already absent:",
			 t->subdir, *t->subdir ? "/" : "", o->env, shown ? shown : "", t->branch);
	info_git_publish(res, &gr);
	rc = set_str(&res->status, o->op == PRENV_OP_DEPLOY ? "ready" : "destroyed", err);
done:
	free(msg);
	free(name);
	free(email);
	free(shown);
	return rc;
}

/* Checks the environment name and the target, and loads the site for a
 * deploy. */
static int op_prepare(struct pages_op *o, struct provider_result *res, struct prenv_err *err)
{
	const struct provider_run *run = o->run;
	const char *source = cfg_str(run, "source");
	int rc;

	if ((rc = pages_check_env_name(o->env, err)) < 0 ||
	    (rc = pages_target_parse(&o->t, cfg_str(run, "target"), err)) < 0)
		return rc;
	if (run->plan && run->plan->url && (rc = set_str(&res->url, run->plan->url, err)) < 0)
		return rc;
	if (o->op != PRENV_OP_DEPLOY)
		return 0;
	if (!source)
		return prenv_err_set(err, PRENV_ECONFIG, "pages: provider.source (the built "
				     "site directory) is missing");
	if (!(o->src = resolve(run, source)))
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	return pages_site_load(&o->site, o->src, run->plan ? run->plan->vars : NULL, err);
}

static int pages_run(enum prenv_op op, const struct provider_run *run,
		     struct provider_result *res, struct prenv_err *err)
{
	struct pages_op o;
	int rc;

	memset(&o, 0, sizeof(o));
	o.op = op;
	o.run = run;
	o.env = run->plan ? run->plan->env_name : NULL;
	if ((rc = op_prepare(&o, res, err)) == 0)
		rc = o.t.kind == PAGES_TARGET_DIR ? pages_dir_op(&o, res, err) : pages_git_op(&o, res, err);
	if (rc < 0 && res && !res->reason && err && err->msg)
		res->reason = strdup(err->msg);
	if (rc < 0 && res && !res->status)
		res->status = strdup("failed");
	op_clear(&o);
	return rc;
}

/* ------------------------------------------------------------ the interface */

/* Sites are published in one go; a session keeps nothing. */
struct pages_session {
	struct provider_session base;
};

static int pages_open(struct provider_session **out, const struct provider_run *run,
		      struct prenv_err *err)
{
	struct pages_session *s = calloc(1, sizeof(*s));

	(void)run;
	if (!s)
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	*out = &s->base;
	return 0;
}

static void pages_close(struct provider_session *s)
{
	free(s);
}

static int pages_deploy(struct provider_session *s, const struct provider_run *run,
			const cJSON *objects, struct provider_result *res, struct prenv_err *err)
{
	(void)s;
	(void)objects; /* a site, not manifests */
	return pages_run(PRENV_OP_DEPLOY, run, res, err);
}

static int pages_destroy(struct provider_session *s, const struct provider_run *run,
			 struct provider_result *res, struct prenv_err *err)
{
	(void)s;
	return pages_run(PRENV_OP_DESTROY, run, res, err);
}

static int pages_status(struct provider_session *s, const struct provider_run *run,
			struct provider_result *res, struct prenv_err *err)
{
	(void)s;
	return pages_run(PRENV_OP_STATUS, run, res, err);
}

/* One subdirectory of a dir: target, as gc's list wants it: NULL when it is
 * not one of this app's environments (said at -v). */
static cJSON *list_entry(const char *root, const char *name, const char *app)
{
	struct prenv_buf p = PRENV_BUF_INIT, why = PRENV_BUF_INIT;
	long long at = 0;
	cJSON *e = NULL;
	char *end;
	long pr = 0;

	if (prenv_buf_printf(&p, "%s/%s", root, name) < 0)
		goto done;
	if (read_marker(p.ptr, app, name, &at, &why) != MARK_OURS) {
		log_verbose("pages: not an environment of %s: %s/ %s; gc leaves it", app, p.ptr,
			    why.failed ? "is not prenv's" : why.ptr);
		goto done;
	}
	if (!(e = cJSON_CreateObject()))
		goto done;
	cJSON_AddStringToObject(e, "name", name);
	if (!strncmp(name, "pr-", 3) && name[3] >= '1' && name[3] <= '9')
		pr = strtol(name + 3, &end, 10);
	if (pr > 0 && *end == '\0')
		cJSON_AddNumberToObject(e, "pr", (double)pr);
	else
		cJSON_AddNullToObject(e, "pr");
	cJSON_AddNullToObject(e, "sha");
	cJSON_AddNumberToObject(e, "deployed_at", (double)at);
done:
	prenv_buf_free(&p);
	prenv_buf_free(&why);
	return e;
}

/* gc: the environments under a dir: target are its subdirectories whose
 * marker names this app and the directory (others, ".prenv-old-*" and any
 * hand-made or older directory, are left alone). pr from a "pr-N" name,
 * deployed_at from the marker. A git: target cannot list (*out stays NULL). */
static int pages_list(struct provider_session *s, const struct provider_run *run, cJSON **out,
		      struct prenv_err *err)
{
	struct pages_target t = { 0, NULL, NULL, NULL, NULL };
	const char *app = run->cfg && run->cfg->app ? run->cfg->app : "";
	struct dirent **ents = NULL;
	cJSON *arr = NULL, *e;
	char *root = NULL;
	int rc, n = 0, i;

	(void)s;
	*out = NULL;
	if ((rc = pages_target_parse(&t, cfg_str(run, "target"), err)) < 0)
		goto done;
	if (t.kind != PAGES_TARGET_DIR)
		goto done;
	if (!(root = resolve(run, t.path)) || !(arr = cJSON_CreateArray())) {
		rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
		goto done;
	}
	n = scandir(root, &ents, skip_dots, name_cmp);
	if (n < 0) {
		n = 0;
		if (errno != ENOENT) {
			rc = prenv_err_set(err, PRENV_EFAIL, "pages: cannot read %s: %s", root,
					   strerror(errno));
			goto done;
		}
		log_verbose("pages: %s does not exist: no environments", root);
	}
	for (i = 0; i < n; i++)
		if (name_is_dns_label(ents[i]->d_name) &&
		    (e = list_entry(root, ents[i]->d_name, app)))
			cJSON_AddItemToArray(arr, e);
	*out = arr;
	arr = NULL;
done:
	for (i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	cJSON_Delete(arr);
	free(root);
	pages_target_clear(&t);
	return rc;
}

/* "dir:PATH" or "git:URL#BRANCH[:subdir]" (pages_target_parse checks the
 * parts when it is used). */
static int check_target(const char *t, struct prenv_buf *why)
{
	if (!strncmp(t, "dir:", 4) && t[4])
		return 0;
	if (!strncmp(t, "git:", 4)) {
		const char *hash = strchr(t + 4, '#');

		if (hash && hash > t + 4 && hash[1] && hash[1] != ':')
			return 0;
	}
	prenv_buf_printf(why, "'target' must be dir:PATH or git:URL#BRANCH[:subdir], got '%s'", t);
	return -1;
}

static const struct config_key pages_keys[] = {
	{ "source", CONFIG_STR, 1, NULL, "the built site directory, relative to the config", NULL },
	{ "target", CONFIG_STR, 1, NULL, "dir:PATH or git:URL#BRANCH[:subdir]", check_target },
	{ "commit_message", CONFIG_STR, 0, NULL, "git: the commit message (a template)", NULL },
	{ "author", CONFIG_STR, 0, NULL, "git: \"Name <email>\" of the commits", NULL },
};

const struct prenv_provider pages_provider = {
	.version = PRENV_PROVIDER_VERSION,
	.name = "pages",
	.schema = { "pages", pages_keys, sizeof(pages_keys) / sizeof(pages_keys[0]), 0 },
	.open = pages_open,
	.close = pages_close,
	.deploy = pages_deploy,
	.destroy = pages_destroy,
	.status = pages_status,
	.list = pages_list,
	/* no get_note/set_note: nowhere to keep notes */
};
