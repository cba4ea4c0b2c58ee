/* gitpub.c - publish a site folder on a git branch; see gitpub.h.
 *
 * The policy of publishing; every git operation is runner/util/git.c's (the
 * only user of libgit2).
 *
 * Remote repositories (https://, ssh://, git@host:...) are worked on in a
 * temporary bare repository (deleted afterwards):
 *
 *   fetch +refs/heads/B:refs/prenv/base    (missing: orphan branch)
 *   tree  = base tree - <subdir/><env> + site files   (prenv_git_tree_replace)
 *   same tree as base -> nothing to do ("unchanged")
 *   commit (parent: base), push refs/prenv/new:refs/heads/B (no force)
 *   rejected (non-fast-forward, lock) -> back off, fetch, rebuild, push again
 *
 * The server's receive-pack updates the branch only if it still points at
 * the commit we built on, under its lock, so no push is ever lost.
 *
 * Local repositories (a path or file://) are opened directly instead:
 * libgit2's local "push" writes the ref without checking its old value, so
 * two jobs racing could overwrite each other. Working in the bare repository
 * itself, the objects are written to its object store and the branch moves
 * with a compare-and-swap under the ref's lock (prenv_git_ref_set with the
 * old value); a lost race is retried like a rejected push. Objects of a lost
 * attempt stay unreferenced until git gc.
 *
 * Tokens: context/tokens.c decides which token, if any, belongs to the
 * remote's host (GitHub's tokens to the GitHub server, GitLab's to the
 * GitLab server, PRENV_GIT_TOKEN to PRENV_GIT_TOKEN_HOST; https only, or
 * http to loopback). That one is registered as a secret and handed to
 * util/git for the remote's host only, so a redirect to another host never
 * receives it; util/git passes it to the server only through libgit2's
 * credential callback.
 */
#include "context/ci.h"
#include "context/tokens.h"
#include "pages/gitpub.h"
#include "pages/site.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/git.h"
#include "util/log.h"

/* For scheme://[userinfo@]host...: the '@' that ends the user info (the
 * last one before the path), or NULL; *host: where the authority starts. */
static const char *userinfo_end(const char *url, const char **host)
{
	const char *scheme = strstr(url, "://"), *end, *at = NULL, *p;

	if (!scheme)
		return NULL;
	*host = scheme + 3;
	end = *host + strcspn(*host, "/?#");
	for (p = *host; p < end; p++)
		if (*p == '@')
			at = p;
	return at;
}

char *gitpub_redact_url(const char *url)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	const char *host = NULL, *at;

	if (!url)
		return NULL;
	if ((at = userinfo_end(url, &host))) {
		prenv_buf_add(&b, url, (size_t)(host - url));
		prenv_buf_adds(&b, at + 1);
	} else {
		prenv_buf_adds(&b, url);
	}
	if (b.failed)
		return NULL;
	return prenv_buf_detach(&b, NULL);
}

/* A password written into the URL itself is a secret too. */
static void mask_url_password(const char *url)
{
	const char *host = NULL, *at = userinfo_end(url, &host), *colon;
	char *pw;

	if (!at)
		return;
	colon = memchr(host, ':', (size_t)(at - host));
	if (!colon)
		return;
	pw = strndup(colon + 1, (size_t)(at - colon - 1));
	if (pw)
		log_add_secret(pw);
	free(pw);
}

struct session {
	const struct gitpub_opts *o;
	char *shown;          /* redacted URL */
	struct prenv_git_repo *repo;
	struct prenv_git_cred cred; /* the token, for the remote's host only */
	char *cred_host;      /* cred.host (owned) */
	size_t ncred;         /* 1 when a token was found */
	const char *token_var; /* which variable it came from (for messages) */
	char *no_token_why;   /* why no token was sent (a token that was set
			       * belongs to another host), or NULL */
	char *env_path;       /* <subdir/><env> */
	char *ref_branch;     /* refs/heads/B */
	int local;            /* working in the target repository itself */
};

/* util/git failed with rc (err holds its message): say what we were doing,
 * where, and for an authentication error what to do. */
static int git_fail(struct session *s, const char *what, int rc, struct prenv_err *err)
{
	char *msg;
	const char *m;

	if (rc == PRENV_ENOMEM)
		return rc;
	msg = err && err->msg ? strdup(err->msg) : NULL;
	m = msg ? msg : "unknown error";
	if (rc == PRENV_GIT_EOS)
		rc = prenv_err_set(err, PRENV_EFAIL, "git: %s", m);
	else if (rc == PRENV_EAUTH && s->ncred)
		rc = prenv_err_set(err, PRENV_EAUTH,
				   "git: %s %s: the remote refused the token from %s (%s); "
				   "check that it may push to the repository",
				   what, s->shown, s->token_var, m);
	else if (rc == PRENV_EAUTH && s->no_token_why)
		rc = prenv_err_set(err, PRENV_EAUTH,
				   "git: %s %s: the remote needs credentials (%s), and no token was "
				   "sent: %s; set PRENV_GIT_TOKEN and PRENV_GIT_TOKEN_HOST for this "
				   "host", what, s->shown, m, s->no_token_why);
	else if (rc == PRENV_EAUTH)
		rc = prenv_err_set(err, PRENV_EAUTH,
				   "git: %s %s: the remote needs credentials (%s); set "
				   "PRENV_GIT_TOKEN and PRENV_GIT_TOKEN_HOST (or, for the CI's own "
				   "server, GITHUB_TOKEN, GITLAB_TOKEN, CI_JOB_TOKEN)",
				   what, s->shown, m);
	else
		rc = prenv_err_set(err, PRENV_EFAIL, "git: %s %s failed: %s", what, s->shown, m);
	free(msg);
	return rc;
}

/* A path or file:// URL (not scp-like host:path, not scheme://). */
static int is_local(const char *url)
{
	if (strncmp(url, "file://", 7) == 0)
		return 1;
	if (strstr(url, "://"))
		return 0;
	return url[0] == '/' || url[0] == '.' || !strchr(url, ':');
}

/* The token that belongs to the remote's host (context/tokens.h), if any. */
static int find_token(struct session *s, struct prenv_err *err)
{
	const struct gitpub_opts *o = s->o;
	struct prenv_buf why = PRENV_BUF_INIT;
	struct token_pick p;
	int rc = 0;

	if (!tokens_for_url(o->ctx, o->envp, o->url, TOKEN_FOR_GIT, &p, &why)) {
		if (why.len) {
			log_verbose("git: no token for %s: %s", s->shown, why.ptr);
			s->no_token_why = prenv_buf_detach(&why, NULL);
			if (!s->no_token_why)
				rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
		}
		goto done;
	}
	log_add_secret(p.value);
	if (!(s->cred_host = prenv_git_url_host(o->url))) {
		rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
		goto done;
	}
	s->cred.host = s->cred_host;
	s->cred.user = p.user;
	s->cred.token = p.value;
	s->token_var = p.var;
	s->ncred = 1;
done:
	prenv_buf_free(&why);
	return rc;
}

/* The bare repository at the local path or file:// URL itself. */
static int open_local(struct session *s, struct prenv_err *err)
{
	const char *url = s->o->url;
	const char *path = strncmp(url, "file://", 7) == 0 ? url + 7 : url;
	int rc;

	s->local = 1;
	if ((rc = prenv_git_repo_open(&s->repo, path, err)) < 0) {
		char *msg = err && err->msg ? strdup(err->msg) : NULL;

		rc = prenv_err_set(err, PRENV_EFAIL, "git: %s is not a git repository (%s); "
				   "create it with `git init --bare %s`", s->shown,
				   msg ? msg : "?", path);
		free(msg);
		return rc;
	}
	if (!prenv_git_repo_is_bare(s->repo))
		return prenv_err_set(err, PRENV_ECONFIG, "git: %s is not a bare repository; "
				     "publish to a bare one (git init --bare)", s->shown);
	return 0;
}

static int session_open(struct session *s, const struct gitpub_opts *o, struct prenv_err *err)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	int rc;

	memset(s, 0, sizeof(*s));
	s->o = o;
	if (!o->url || !*o->url || !o->branch || !*o->branch)
		return prenv_err_set(err, PRENV_ECONFIG, "git: the target needs a URL and a branch");
	if ((rc = pages_check_env_name(o->env_name, err)) < 0)
		return rc;
	mask_url_password(o->url);
	s->shown = gitpub_redact_url(o->url);
	if (o->subdir && *o->subdir)
		prenv_buf_printf(&b, "%s/%s", o->subdir, o->env_name);
	else
		prenv_buf_adds(&b, o->env_name);
	s->env_path = prenv_buf_detach(&b, NULL);
	if (asprintf(&s->ref_branch, "refs/heads/%s", o->branch) < 0)
		s->ref_branch = NULL;
	if (!s->shown || !s->env_path || !s->ref_branch)
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	if ((rc = find_token(s, err)) < 0)
		return rc;
	if (is_local(o->url))
		return open_local(s, err);
	if ((rc = prenv_git_repo_new_temp(&s->repo, err)) < 0)
		return git_fail(s, "creating a work repository for", rc, err);
	if ((rc = prenv_git_repo_set_remote(s->repo, o->url, &s->cred, s->ncred, err)) < 0)
		return git_fail(s, "opening the remote", rc, err);
	return 0;
}

static void session_close(struct session *s)
{
	prenv_git_repo_free(s->repo);
	free(s->cred_host);
	free(s->no_token_why);
	free(s->shown);
	free(s->env_path);
	free(s->ref_branch);
}

/* The branch's commit into base (hex); *have 0 when the remote has no such
 * branch. */
static int fetch_base(struct session *s, char base[PRENV_GIT_HEX], int *have,
		      struct prenv_err *err)
{
	const char *what = "reading the branch of";
	int rc;

	*have = 0;
	if (s->local) {
		rc = prenv_git_ref_id(s->repo, base, s->ref_branch, err);
	} else {
		rc = prenv_git_fetch_branch(s->repo, s->o->branch, "refs/prenv/base", err);
		if (rc < 0)
			return git_fail(s, "fetching", rc, err);
		what = "reading the fetched branch of";
		rc = prenv_git_ref_id(s->repo, base, "refs/prenv/base", err);
	}
	if (rc == PRENV_ENOTFOUND) {
		prenv_err_clear(err);
		return 0;
	}
	if (rc < 0)
		return git_fail(s, what, rc, err);
	*have = 1;
	return 0;
}

/* The site's files and links (git keeps no empty directories); none for a
 * destroy (site NULL). *out is the caller's (free). */
static int site_files(const struct pages_site *site, struct prenv_git_file **out, size_t *n,
		      struct prenv_err *err)
{
	size_t i;

	*out = NULL;
	*n = 0;
	if (!site)
		return 0;
	if (!(*out = calloc(site->n ? site->n : 1, sizeof(**out))))
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
	for (i = 0; i < site->n; i++) {
		const struct pages_file *f = &site->files[i];
		struct prenv_git_file *g = &(*out)[*n];

		if (f->mode == PAGES_DIR)
			continue;
		g->path = f->path;
		g->data = f->data;
		g->len = f->len;
		g->mode = f->mode == PAGES_LINK ? PRENV_GIT_LINK
			: f->mode == PAGES_EXEC ? PRENV_GIT_EXEC : PRENV_GIT_FILE;
		(*n)++;
	}
	return 0;
}

/* What a failed step of prenv_git_tree_replace was doing. */
static const char *tree_step(enum prenv_git_step step)
{
	switch (step) {
	case PRENV_GIT_STEP_REMOVE:
		return "removing the old folder for";
	case PRENV_GIT_STEP_STORE:
		return "storing the site for";
	case PRENV_GIT_STEP_WRITE:
		return "building the new tree for";
	default:
		return "reading the tree of";
	}
}

/* One attempt's commit on base (have: the branch exists): its tree with
 * <env>/ replaced by the site (or removed), into commit. *unchanged: the
 * tree is the same, nothing to commit (for a destroy, also when there is no
 * branch: no orphan branch is made). *existed: <env>/ was there. */
static int build_commit(struct session *s, const struct prenv_git_sig *sig, const char *base,
			int have, char commit[PRENV_GIT_HEX], int *existed, int *unchanged,
			struct prenv_err *err)
{
	const struct gitpub_opts *o = s->o;
	char base_tree[PRENV_GIT_HEX];
	struct prenv_git_tree_result tr;
	struct prenv_git_file *files = NULL;
	enum prenv_git_step step;
	size_t n;
	int rc;

	*existed = 0;
	*unchanged = 0;
	if ((rc = prenv_git_tree_id(s->repo, base_tree, have ? base : NULL, err)) < 0)
		return git_fail(s, have ? "reading the branch of" : "starting an orphan branch for",
				rc, err);
	if ((rc = site_files(o->site, &files, &n, err)) < 0)
		return rc;
	rc = prenv_git_tree_replace(s->repo, &tr, base_tree, s->env_path, files, n, err);
	free(files);
	*existed = tr.existed;
	if (rc < 0)
		return git_fail(s, tree_step(tr.failed), rc, err);
	if (strcmp(tr.id, base_tree) == 0 && (have || !o->site)) {
		*unchanged = 1;
		return 0;
	}
	rc = prenv_git_commit(s->repo, commit, tr.id, have ? base : NULL, sig,
			      o->message ? o->message : "prenv: update", &step, err);
	if (rc < 0)
		return git_fail(s, step == PRENV_GIT_STEP_READ ? "reading the new tree for"
				: "committing for", rc, err);
	return 0;
}

/* Moves the branch from base (have: it exists) to commit, or sets *rejected
 * and *why (the branch moved meanwhile). */
static int push(struct session *s, const char *commit, int have, const char *base,
		int *rejected, char **why, struct prenv_err *err)
{
	const char *what = "updating the branch of";
	int rc;

	*rejected = 0;
	if (s->local) {
		rc = prenv_git_ref_set(s->repo, s->ref_branch, commit, have ? base : "",
				       s->o->message, err);
	} else {
		rc = prenv_git_ref_set(s->repo, "refs/prenv/new", commit, NULL, NULL, err);
		if (rc < 0)
			return git_fail(s, "preparing the push to", rc, err);
		what = "pushing to";
		rc = prenv_git_push(s->repo, "refs/prenv/new", s->ref_branch, err);
	}
	if (rc == PRENV_GIT_EREJECTED) {
		*rejected = 1;
		free(*why);
		*why = err && err->msg ? strdup(err->msg) : NULL;
		prenv_err_clear(err);
		return 0;
	}
	return rc < 0 ? git_fail(s, what, rc, err) : 0;
}

static void backoff(int attempt, unsigned *seed)
{
	long ms = (50L << (attempt < 5 ? attempt : 5)) + (long)(rand_r(seed) % 100);
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

int gitpub_publish(const struct gitpub_opts *o, struct gitpub_result *res, struct prenv_err *err)
{
	struct session s;
	struct prenv_git_sig *sig = NULL;
	char *why = NULL;
	unsigned seed = (unsigned)getpid() ^ (unsigned)time(NULL) ^ (unsigned)(size_t)&s;
	int max = o->max_attempts > 0 ? o->max_attempts : 5;
	int rc, attempt;

	memset(res, 0, sizeof(*res));
	if ((rc = session_open(&s, o, err)) < 0)
		goto done;
	if (prenv_git_sig_new(&sig, o->author_name ? o->author_name : "prenv",
			      o->author_email ? o->author_email : "prenv@localhost", err) < 0) {
		rc = prenv_err_set(err, PRENV_ECONFIG, "git: invalid author \"%s <%s>\"",
				   o->author_name ? o->author_name : "",
				   o->author_email ? o->author_email : "");
		goto done;
	}
	for (attempt = 1; attempt <= max; attempt++) {
		char base[PRENV_GIT_HEX], commit[PRENV_GIT_HEX];
		int have, existed, unchanged, rejected;

		res->attempts = attempt;
		if ((rc = fetch_base(&s, base, &have, err)) < 0)
			goto done;
		if (have)
			snprintf(res->commit, sizeof(res->commit), "%s", base);
		rc = build_commit(&s, sig, base, have, commit, &existed, &unchanged, err);
		if (attempt == 1)
			res->existed = existed;
		if (rc < 0 || unchanged)
			goto done;   /* unchanged: no commit (res->changed stays 0) */
		if (o->dry_run) {
			log_info("git: would push %s to %s#%s", o->message ? o->message : "",
				 s.shown, o->branch);
			goto done;
		}
		if (o->before_push)
			o->before_push(o->before_push_ud, attempt);
		if ((rc = push(&s, commit, have, base, &rejected, &why, err)) < 0)
			goto done;
		if (!rejected) {
			snprintf(res->commit, sizeof(res->commit), "%s", commit);
			res->changed = 1;
			goto done;
		}
		log_verbose("git: push to %s#%s rejected (%s); retrying on the new tip (%d/%d)",
			    s.shown, o->branch, why ? why : "rejected", attempt, max);
		if (attempt < max)
			backoff(attempt, &seed);
	}
	rc = prenv_err_set(err, PRENV_EFAIL,
			   "git: could not push to %s#%s after %d attempts (%s); other jobs keep "
			   "pushing to the branch, run the job again",
			   s.shown, o->branch, max, why ? why : "rejected");
done:
	free(why);
	prenv_git_sig_free(sig);
	session_close(&s);
	return rc;
}

int gitpub_status(const struct gitpub_opts *o, struct gitpub_result *res, struct prenv_err *err)
{
	struct session s;
	struct prenv_git_path_info pi;
	char base[PRENV_GIT_HEX], tree[PRENV_GIT_HEX];
	int rc, have;

	memset(res, 0, sizeof(*res));
	if ((rc = session_open(&s, o, err)) < 0)
		goto done;
	if ((rc = fetch_base(&s, base, &have, err)) < 0 || !have)
		goto done;
	snprintf(res->commit, sizeof(res->commit), "%s", base);
	if ((rc = prenv_git_tree_id(s.repo, tree, base, err)) < 0) {
		rc = git_fail(&s, "reading the branch of", rc, err);
		goto done;
	}
	if ((rc = prenv_git_path_info(s.repo, &pi, tree, s.env_path, err)) < 0) {
		rc = git_fail(&s, "reading the tree of", rc, err);
		goto done;
	}
	res->existed = pi.exists;
	if (pi.is_tree) {
		res->files = pi.files;
		res->bytes = pi.bytes;
	}
done:
	session_close(&s);
	return rc;
}
