/* gitpub.c - publish a site folder on a git branch; see gitpub.h.
 *
 * One of the two files that include <git2.h> (the other is runner/util/git.c).
 *
 * Remote repositories (https://, ssh://, git@host:...) are worked on in a
 * temporary bare repository (deleted afterwards):
 *
 *   fetch +refs/heads/B:refs/prenv/base    (missing: orphan branch)
 *   tree  = base tree - <subdir/><env> + site files   (git_tree_create_updated)
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
 * with git_reference_create_matching(), a compare-and-swap under the ref's
 * lock; a lost race (GIT_EMODIFIED, GIT_ELOCKED, GIT_EEXISTS) is retried like
 * a rejected push. Objects of a lost attempt stay unreferenced until git gc.
 */
#include "context/ci.h"
#include "pages/gitpub.h"
#include "pages/site.h"

#include <errno.h>
#include <ftw.h>
#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"

struct cred_state {
	const char *remote;      /* the configured URL: credentials go to its host only */
	const char *user;
	const char *token;
	const char *token_var;   /* which variable it came from (for messages) */
	int tries;
	int needed;              /* the remote asked for credentials */
	int refused;             /* ... and refused ours */
};

struct push_state {
	int rejected;
	char *why;
};

static const struct {
	const char *var, *user;
} token_vars[] = {
	{ "PRENV_GIT_TOKEN", NULL },          /* user: PRENV_GIT_USER or x-access-token */
	{ "GITHUB_TOKEN", "x-access-token" },
	{ "GITLAB_TOKEN", "oauth2" },
	{ "PRENV_GITHUB_TOKEN", "x-access-token" },
	{ "CI_JOB_TOKEN", "gitlab-ci-token" },
};

char *gitpub_redact_url(const char *url)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	const char *scheme = url ? strstr(url, "://") : NULL;

	if (!url)
		return NULL;
	if (scheme) {
		const char *host = scheme + 3;
		const char *end = host + strcspn(host, "/?#");
		const char *at = NULL, *p;

		for (p = host; p < end; p++)
			if (*p == '@')
				at = p;
		prenv_buf_add(&b, url, (size_t)(host - url));
		prenv_buf_adds(&b, at ? at + 1 : host);
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
	const char *scheme = strstr(url, "://"), *host, *end, *at = NULL, *colon, *p;
	char *pw;

	if (!scheme)
		return;
	host = scheme + 3;
	end = host + strcspn(host, "/?#");
	for (p = host; p < end; p++)
		if (*p == '@')
			at = p;
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

/* The host[:port] of a URL, without user info; "" when it has none. */
static void url_host(const char *u, char *out, size_t n)
{
	const char *p = strstr(u, "://"), *e, *at;
	size_t len;

	out[0] = '\0';
	if (!p)
		return;
	p += 3;
	e = p + strcspn(p, "/?#");
	at = memchr(p, '@', (size_t)(e - p));
	if (at)
		p = at + 1;
	len = (size_t)(e - p);
	if (len >= n)
		len = n - 1;
	memcpy(out, p, len);
	out[len] = '\0';
}

static int same_host(const char *a, const char *b)
{
	char ha[256], hb[256];

	url_host(a, ha, sizeof(ha));
	url_host(b, hb, sizeof(hb));
	return strcasecmp(ha, hb) == 0;
}

static int cred_cb(git_credential **out, const char *url, const char *user_from_url,
		   unsigned int allowed, void *payload)
{
	struct cred_state *c = payload;

	c->needed = 1;
	if ((allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) && c->token && url && c->remote &&
	    strstr(c->remote, "://") && !same_host(url, c->remote)) {
		/* A redirect to another host must not receive the token. */
		c->refused = 1;
		git_error_set_str(GIT_ERROR_NET, "the remote asked for credentials from another host "
				  "than the configured one; not sending the token");
		return GIT_EAUTH;
	}
	if (c->tries++ > 0) {
		/* The credentials we gave were refused; asking again loops. */
		c->refused = 1;
		git_error_set_str(GIT_ERROR_NET, "the remote refused the credentials");
		return GIT_EAUTH;
	}
	if ((allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) && c->token)
		return git_credential_userpass_plaintext_new(out, c->user, c->token);
	if (allowed & GIT_CREDENTIAL_SSH_KEY)
		return git_credential_ssh_key_from_agent(out, user_from_url ? user_from_url : "git");
	return GIT_PASSTHROUGH;
}

static int push_ref_cb(const char *refname, const char *status, void *data)
{
	struct push_state *p = data;

	if (status) {
		p->rejected = 1;
		free(p->why);
		p->why = NULL;
		if (asprintf(&p->why, "%s: %s", refname, status) < 0)
			p->why = NULL;
	}
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

struct session {
	const struct gitpub_opts *o;
	char *shown;          /* redacted URL */
	char tmpdir[64];
	git_repository *repo;
	git_remote *remote;
	struct cred_state cred;
	char *env_path;       /* <subdir/><env> */
	char *ref_src;        /* +refs/heads/B:refs/prenv/base */
	char *ref_push;       /* refs/prenv/new:refs/heads/B */
	char *ref_branch;     /* refs/heads/B */
	int local;            /* working in the target repository itself */
};

static int git_fail(struct session *s, const char *what, int gerr, struct prenv_err *err)
{
	const git_error *e = git_error_last();
	const char *msg = e && e->message ? e->message : "unknown error";

	if (s->cred.needed && (s->cred.refused || gerr == GIT_EAUTH || !s->cred.token)) {
		if (s->cred.token)
			return prenv_err_set(err, PRENV_EAUTH,
					     "git: %s %s: the remote refused the token from %s (%s); "
					     "check that it may push to the repository",
					     what, s->shown, s->cred.token_var, msg);
		return prenv_err_set(err, PRENV_EAUTH,
				     "git: %s %s: the remote needs credentials (%s); set "
				     "PRENV_GIT_TOKEN (or GITHUB_TOKEN, GITLAB_TOKEN, CI_JOB_TOKEN)",
				     what, s->shown, msg);
	}
	return prenv_err_set(err, PRENV_EFAIL, "git: %s %s failed: %s", what, s->shown, msg);
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

static int session_open(struct session *s, const struct gitpub_opts *o, struct prenv_err *err)
{
	const char *tmp = getenv("TMPDIR");
	struct prenv_buf b = PRENV_BUF_INIT;
	size_t i;
	int rc;

	memset(s, 0, sizeof(*s));
	s->o = o;
	git_libgit2_init();
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
	if (asprintf(&s->ref_src, "+refs/heads/%s:refs/prenv/base", o->branch) < 0)
		s->ref_src = NULL;
	if (asprintf(&s->ref_push, "refs/prenv/new:refs/heads/%s", o->branch) < 0)
		s->ref_push = NULL;
	if (asprintf(&s->ref_branch, "refs/heads/%s", o->branch) < 0)
		s->ref_branch = NULL;
	if (!s->shown || !s->env_path || !s->ref_src || !s->ref_push || !s->ref_branch)
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");

	for (i = 0; i < sizeof(token_vars) / sizeof(token_vars[0]); i++) {
		const char *v = ci_getenv(o->envp, token_vars[i].var);

		if (v) {
			const char *user = token_vars[i].user;

			if (!user)
				user = ci_getenv(o->envp, "PRENV_GIT_USER");
			s->cred.remote = o->url;
			s->cred.user = user ? user : "x-access-token";
			s->cred.token = v;
			s->cred.token_var = token_vars[i].var;
			log_add_secret(v);
			break;
		}
	}

	if (is_local(o->url)) {
		const char *path = strncmp(o->url, "file://", 7) == 0 ? o->url + 7 : o->url;

		s->local = 1;
		rc = git_repository_open_ext(&s->repo, path, GIT_REPOSITORY_OPEN_NO_SEARCH |
					     GIT_REPOSITORY_OPEN_BARE, NULL);
		if (rc < 0)
			return prenv_err_set(err, PRENV_EFAIL, "git: %s is not a git repository (%s); "
					     "create it with `git init --bare %s`", s->shown,
					     git_error_last() ? git_error_last()->message : "?", path);
		if (!git_repository_is_bare(s->repo))
			return prenv_err_set(err, PRENV_ECONFIG, "git: %s is not a bare repository; "
					     "publish to a bare one (git init --bare)", s->shown);
		return 0;
	}
	snprintf(s->tmpdir, sizeof(s->tmpdir), "%s/prenv-git-XXXXXX",
		 tmp && *tmp && strlen(tmp) < 40 ? tmp : "/tmp");
	if (!mkdtemp(s->tmpdir)) {
		s->tmpdir[0] = 0;
		return prenv_err_set(err, PRENV_EFAIL, "git: cannot create a temporary directory: %s",
				     strerror(errno));
	}
	if ((rc = git_repository_init(&s->repo, s->tmpdir, 1)) < 0)
		return git_fail(s, "creating a work repository for", rc, err);
	{
		/* url.*.insteadOf is not applied: the work repository is ours and
		 * the lookup leaks memory in libgit2 1.5 (git_regexp_match). */
		git_remote_create_options co;

		git_remote_create_options_init(&co, GIT_REMOTE_CREATE_OPTIONS_VERSION);
		co.repository = s->repo;
		co.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF;
		if ((rc = git_remote_create_with_opts(&s->remote, o->url, &co)) < 0)
			return git_fail(s, "opening the remote", rc, err);
	}
	return 0;
}

static void session_close(struct session *s)
{
	git_remote_free(s->remote);
	git_repository_free(s->repo);
	if (s->tmpdir[0])
		nftw(s->tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(s->shown);
	free(s->env_path);
	free(s->ref_src);
	free(s->ref_push);
	free(s->ref_branch);
	git_libgit2_shutdown();
}

/* Fetches the branch into refs/prenv/base. *base: its commit id, or zero
 * when the remote has no such branch. */
static int fetch_base(struct session *s, git_oid *base, int *have, struct prenv_err *err)
{
	git_fetch_options fo;
	char *specs[1] = { s->ref_src };
	git_strarray refspecs = { specs, 1 };
	git_reference *ref = NULL;
	int rc;

	*have = 0;
	if (s->local) {
		rc = git_reference_name_to_id(base, s->repo, s->ref_branch);
		if (rc == GIT_ENOTFOUND) {
			git_error_clear();
			return 0;
		}
		if (rc < 0)
			return git_fail(s, "reading the branch of", rc, err);
		*have = 1;
		return 0;
	}
	git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	/* A stale base from an earlier attempt must not survive a deleted branch. */
	if (git_reference_lookup(&ref, s->repo, "refs/prenv/base") == 0) {
		git_reference_delete(ref);
		git_reference_free(ref);
	}
	fo.callbacks.credentials = cred_cb;
	fo.callbacks.payload = &s->cred;
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	s->cred.tries = 0;
	if ((rc = git_remote_fetch(s->remote, &refspecs, &fo, NULL)) < 0)
		return git_fail(s, "fetching", rc, err);
	rc = git_reference_name_to_id(base, s->repo, "refs/prenv/base");
	if (rc == GIT_ENOTFOUND) {
		git_error_clear();
		return 0;
	}
	if (rc < 0)
		return git_fail(s, "reading the fetched branch of", rc, err);
	*have = 1;
	return 0;
}

static int empty_tree(git_tree **out, git_repository *repo)
{
	git_treebuilder *tb = NULL;
	git_oid id;
	int rc;

	if ((rc = git_treebuilder_new(&tb, repo, NULL)) < 0)
		return rc;
	rc = git_treebuilder_write(&id, tb);
	git_treebuilder_free(tb);
	if (rc < 0)
		return rc;
	return git_tree_lookup(out, repo, &id);
}

/* Builds the new tree from base_tree. *same: the result equals base_tree. */
static int build_tree(struct session *s, git_tree *base_tree, git_oid *out, int *existed,
		      struct prenv_err *err)
{
	const struct pages_site *site = s->o->site;
	git_tree_entry *entry = NULL;
	git_tree *mid = NULL;
	git_tree_update *ups = NULL;
	struct prenv_buf paths = PRENV_BUF_INIT;
	size_t *offs = NULL, i, n = 0;
	git_oid mid_id;
	int rc;

	*existed = 0;
	rc = git_tree_entry_bypath(&entry, base_tree, s->env_path);
	if (rc == 0) {
		git_tree_update rm;

		*existed = 1;
		memset(&rm, 0, sizeof(rm));
		rm.action = GIT_TREE_UPDATE_REMOVE;
		rm.path = s->env_path;
		if ((rc = git_tree_create_updated(&mid_id, s->repo, base_tree, 1, &rm)) < 0 ||
		    (rc = git_tree_lookup(&mid, s->repo, &mid_id)) < 0) {
			rc = git_fail(s, "removing the old folder for", rc, err);
			goto done;
		}
	} else if (rc != GIT_ENOTFOUND) {
		rc = git_fail(s, "reading the tree of", rc, err);
		goto done;
	}
	git_error_clear();
	rc = 0;
	if (!site) {
		git_oid_cpy(out, mid ? git_tree_id(mid) : git_tree_id(base_tree));
		goto done;
	}
	ups = calloc(site->n ? site->n : 1, sizeof(*ups));
	offs = calloc(site->n ? site->n : 1, sizeof(*offs));
	if (!ups || !offs) {
		rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
		goto done;
	}
	for (i = 0; i < site->n; i++) {
		const struct pages_file *f = &site->files[i];

		if (f->mode == PAGES_DIR)
			continue; /* git keeps no empty directories */
		offs[n] = paths.len;
		prenv_buf_printf(&paths, "%s/%s", s->env_path, f->path);
		prenv_buf_addc(&paths, 0);
		if ((rc = git_blob_create_from_buffer(&ups[n].id, s->repo, f->data, f->len)) < 0) {
			rc = git_fail(s, "storing the site for", rc, err);
			goto done;
		}
		ups[n].action = GIT_TREE_UPDATE_UPSERT;
		ups[n].filemode = f->mode == PAGES_LINK ? GIT_FILEMODE_LINK
			: f->mode == PAGES_EXEC ? GIT_FILEMODE_BLOB_EXECUTABLE : GIT_FILEMODE_BLOB;
		n++;
	}
	if (paths.failed) {
		rc = prenv_err_set(err, PRENV_ENOMEM, "out of memory");
		goto done;
	}
	for (i = 0; i < n; i++)
		ups[i].path = paths.ptr + offs[i];
	if ((rc = git_tree_create_updated(out, s->repo, mid ? mid : base_tree, n, ups)) < 0)
		rc = git_fail(s, "building the new tree for", rc, err);
done:
	git_tree_entry_free(entry);
	git_tree_free(mid);
	free(ups);
	free(offs);
	prenv_buf_free(&paths);
	return rc;
}

/* The callbacks share one payload (the session); these adapt. */
struct cb_payload {
	struct cred_state *cred;
	struct push_state *push;
};

static int cred_cb2(git_credential **out, const char *url, const char *user_from_url,
		    unsigned int allowed, void *payload)
{
	return cred_cb(out, url, user_from_url, allowed, ((struct cb_payload *)payload)->cred);
}

static int push_ref_cb2(const char *refname, const char *status, void *payload)
{
	return push_ref_cb(refname, status, ((struct cb_payload *)payload)->push);
}

static void rejected(struct push_state *ps, const char *why)
{
	const git_error *e = git_error_last();

	ps->rejected = 1;
	free(ps->why);
	ps->why = strdup(e && e->message ? e->message : why);
	git_error_clear();
}

/* Moves the branch from base (have: it exists) to commit, or records a
 * rejection in ps (the branch moved meanwhile). */
static int do_push(struct session *s, const git_oid *commit, int have, const git_oid *base,
		   const char *msg, struct push_state *ps, struct prenv_err *err)
{
	git_push_options po;
	char *specs[1] = { s->ref_push };
	git_strarray refspecs = { specs, 1 };
	struct cb_payload pl = { &s->cred, ps };
	git_reference *ref = NULL;
	int rc;

	git_push_options_init(&po, GIT_PUSH_OPTIONS_VERSION);
	if (s->local) {
		if (have)
			rc = git_reference_create_matching(&ref, s->repo, s->ref_branch, commit, 1,
							   base, msg);
		else
			rc = git_reference_create(&ref, s->repo, s->ref_branch, commit, 0, msg);
		git_reference_free(ref);
		if (rc == GIT_EMODIFIED || rc == GIT_ELOCKED || rc == GIT_EEXISTS) {
			rejected(ps, "the branch moved");
			return 0;
		}
		if (rc < 0)
			return git_fail(s, "updating the branch of", rc, err);
		return 0;
	}
	if ((rc = git_reference_create(&ref, s->repo, "refs/prenv/new", commit, 1, NULL)) < 0)
		return git_fail(s, "preparing the push to", rc, err);
	git_reference_free(ref);
	po.callbacks.credentials = cred_cb2;
	po.callbacks.push_update_reference = push_ref_cb2;
	po.callbacks.payload = &pl;
	s->cred.tries = 0;
	rc = git_remote_push(s->remote, &refspecs, &po);
	if (rc == GIT_ENONFASTFORWARD || rc == GIT_ELOCKED) {
		rejected(ps, "non-fast-forward");
		return 0;
	}
	if (rc < 0)
		return git_fail(s, "pushing to", rc, err);
	return 0;
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
	struct push_state ps = { 0, NULL };
	git_signature *sig = NULL;
	unsigned seed = (unsigned)getpid() ^ (unsigned)time(NULL) ^ (unsigned)(size_t)&s;
	int max = o->max_attempts > 0 ? o->max_attempts : 5;
	int rc, attempt;

	memset(res, 0, sizeof(*res));
	if ((rc = session_open(&s, o, err)) < 0)
		goto done;
	rc = git_signature_now(&sig, o->author_name ? o->author_name : "prenv",
			       o->author_email ? o->author_email : "prenv@localhost");
	if (rc < 0) {
		rc = prenv_err_set(err, PRENV_ECONFIG, "git: invalid author \"%s <%s>\"",
				   o->author_name ? o->author_name : "",
				   o->author_email ? o->author_email : "");
		goto done;
	}
	for (attempt = 1; attempt <= max; attempt++) {
		git_oid base_id, tree_id, commit_id;
		git_commit *base = NULL;
		git_tree *base_tree = NULL, *tree = NULL;
		int have, existed = 0;

		res->attempts = attempt;
		if ((rc = fetch_base(&s, &base_id, &have, err)) < 0)
			goto done;
		if (have) {
			if ((rc = git_commit_lookup(&base, s.repo, &base_id)) < 0 ||
			    (rc = git_commit_tree(&base_tree, base)) < 0) {
				rc = git_fail(&s, "reading the branch of", rc, err);
				git_commit_free(base);
				goto done;
			}
			git_oid_tostr(res->commit, sizeof(res->commit), &base_id);
		} else if ((rc = empty_tree(&base_tree, s.repo)) < 0) {
			rc = git_fail(&s, "starting an orphan branch for", rc, err);
			goto done;
		}
		rc = build_tree(&s, base_tree, &tree_id, &existed, err);
		if (attempt == 1)
			res->existed = existed;
		if (rc == 0 && git_oid_equal(&tree_id, git_tree_id(base_tree)) && (have || !o->site)) {
			/* Nothing changes: no commit (and no orphan branch for a destroy). */
			git_tree_free(base_tree);
			git_commit_free(base);
			res->changed = 0;
			goto done;
		}
		if (rc == 0 && (rc = git_tree_lookup(&tree, s.repo, &tree_id)) < 0)
			rc = git_fail(&s, "reading the new tree for", rc, err);
		if (rc == 0) {
			const git_commit *parents[1] = { base };

			rc = git_commit_create(&commit_id, s.repo, NULL, sig, sig, NULL,
					       o->message ? o->message : "prenv: update", tree,
					       have ? 1 : 0, parents);
			if (rc < 0)
				rc = git_fail(&s, "committing for", rc, err);
		}
		git_tree_free(tree);
		git_tree_free(base_tree);
		git_commit_free(base);
		if (rc < 0)
			goto done;
		if (o->dry_run) {
			log_info("git: would push %s to %s#%s", o->message ? o->message : "",
				 s.shown, o->branch);
			goto done;
		}
		ps.rejected = 0;
		if (o->before_push)
			o->before_push(o->before_push_ud, attempt);
		if ((rc = do_push(&s, &commit_id, have, &base_id, o->message, &ps, err)) < 0)
			goto done;
		if (!ps.rejected) {
			git_oid_tostr(res->commit, sizeof(res->commit), &commit_id);
			res->changed = 1;
			goto done;
		}
		log_verbose("git: push to %s#%s rejected (%s); retrying on the new tip (%d/%d)",
			    s.shown, o->branch, ps.why ? ps.why : "rejected", attempt, max);
		if (attempt < max)
			backoff(attempt, &seed);
	}
	rc = prenv_err_set(err, PRENV_EFAIL,
			   "git: could not push to %s#%s after %d attempts (%s); other jobs keep "
			   "pushing to the branch, run the job again",
			   s.shown, o->branch, max, ps.why ? ps.why : "rejected");
done:
	free(ps.why);
	git_signature_free(sig);
	session_close(&s);
	return rc;
}

static int count_cb(const char *root, const git_tree_entry *entry, void *payload)
{
	struct gitpub_result *res = ((void **)payload)[0];
	git_repository *repo = ((void **)payload)[1];
	git_odb *odb = NULL;
	size_t len = 0;
	git_object_t type;

	(void)root;
	if (git_tree_entry_type(entry) != GIT_OBJECT_BLOB)
		return 0;
	res->files++;
	if (git_repository_odb(&odb, repo) == 0 &&
	    git_odb_read_header(&len, &type, odb, git_tree_entry_id(entry)) == 0)
		res->bytes += len;
	git_odb_free(odb);
	return 0;
}

int gitpub_status(const struct gitpub_opts *o, struct gitpub_result *res, struct prenv_err *err)
{
	struct session s;
	git_commit *base = NULL;
	git_tree *tree = NULL, *sub = NULL;
	git_tree_entry *entry = NULL;
	git_oid id;
	int rc, have;

	memset(res, 0, sizeof(*res));
	if ((rc = session_open(&s, o, err)) < 0)
		goto done;
	if ((rc = fetch_base(&s, &id, &have, err)) < 0 || !have)
		goto done;
	git_oid_tostr(res->commit, sizeof(res->commit), &id);
	if ((rc = git_commit_lookup(&base, s.repo, &id)) < 0 ||
	    (rc = git_commit_tree(&tree, base)) < 0) {
		rc = git_fail(&s, "reading the branch of", rc, err);
		goto done;
	}
	rc = git_tree_entry_bypath(&entry, tree, s.env_path);
	if (rc == GIT_ENOTFOUND) {
		git_error_clear();
		rc = 0;
		goto done;
	}
	if (rc < 0) {
		rc = git_fail(&s, "reading the tree of", rc, err);
		goto done;
	}
	res->existed = 1;
	if (git_tree_entry_type(entry) == GIT_OBJECT_TREE &&
	    git_tree_lookup(&sub, s.repo, git_tree_entry_id(entry)) == 0) {
		void *pl[2] = { res, s.repo };

		git_tree_walk(sub, GIT_TREEWALK_PRE, count_cb, pl);
	}
done:
	git_tree_entry_free(entry);
	git_tree_free(sub);
	git_tree_free(tree);
	git_commit_free(base);
	session_close(&s);
	return rc;
}
