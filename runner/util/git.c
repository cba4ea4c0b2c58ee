/* git.c - everything prenv does with git, through libgit2; see git.h.
 *
 * The only file that includes <git2.h>. Policy lives with the callers; what
 * is here is mechanism: handles, libgit2 calls, and turning libgit2's
 * failures into a struct prenv_err.
 */
#include "util/git.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <git2.h>
#include "util/lazylib.h"

/* The oldest libgit2 prenv builds with is 1.1 (Ubuntu 22.04); the Makefile
 * checks it with pkg-config first, this says it again if the headers differ. */
#if LIBGIT2_VER_MAJOR < 1 || (LIBGIT2_VER_MAJOR == 1 && LIBGIT2_VER_MINOR < 1)
#error "prenv needs libgit2 >= 1.1 (Debian/Ubuntu: apt-get install libgit2-dev); see README, Building"
#endif
/* Repository owner validation (safe.directory: GIT_EOWNER and
 * GIT_OPT_{GET,SET}_OWNER_VALIDATION) came with libgit2 1.4.3; older ones do
 * not check the owner, so there is nothing to retry. */
#if (LIBGIT2_VER_MAJOR > 1 || LIBGIT2_VER_MINOR > 4 || \
     (LIBGIT2_VER_MINOR == 4 && LIBGIT2_VER_REVISION >= 3)) && \
	!defined(PRENV_LIBGIT2_NO_OWNER_VALIDATION)
#define PRENV_HAVE_OWNER_VALIDATION 1
#endif
/* libgit2 >= 1.4 can be told not to follow a redirect to another host at
 * all (follow_redirects). prenv does so whenever it holds a token: libgit2
 * 1.5.1 without Debian's deb12u2 fix (CVE-2026-53586) hands the credential
 * callback the remote's original URL after a redirect, so cred_cb() cannot
 * see that the token would go to another host (it did, in the static build).
 * With NONE, libgit2 refuses such a redirect before any request goes there. */
#if LIBGIT2_VER_MAJOR > 1 || LIBGIT2_VER_MINOR >= 4
#define PRENV_HAVE_FOLLOW_REDIRECTS 1
#endif

#include "util/buf.h"
#include "util/err.h"
#include "util/fs.h"
#ifdef PRENV_STATIC
#include "util/cabundle.h"
#endif

/* libgit2 is loaded on first use in the dynamic build (util/lazylib.h;
 * the Makefile defines PRENV_LAZY_GIT2, its soname): its start-up (mbedTLS
 * reading the system's CA bundle, ~15 ms) is paid only by a command that
 * reads a checkout or publishes. Every call goes through LG(), which is the
 * function itself when libgit2 is linked (LAZY=0, static builds). */
#ifdef PRENV_HAVE_FOLLOW_REDIRECTS
#define GIT2_CONNECT(X) X(git_remote_connect_ext) X(git_remote_connect_options_init)
#else
#define GIT2_CONNECT(X) X(git_remote_connect) X(git_remote_init_callbacks)
#endif
#define GIT2_FUNCS(X) X(git_blob_create_from_buffer) X(git_commit_create) \
	X(git_commit_free) X(git_commit_lookup) X(git_commit_tree) X(git_config_free) \
	X(git_config_get_string) X(git_credential_ssh_key_from_agent) \
	X(git_credential_userpass_plaintext_new) X(git_diff_find_options_init) \
	X(git_diff_find_similar) X(git_diff_free) X(git_diff_get_delta) X(git_diff_num_deltas) \
	X(git_diff_tree_to_tree) X(git_error_clear) X(git_error_last) X(git_error_set_str) \
	X(git_fetch_options_init) X(git_libgit2_init) X(git_libgit2_opts) \
	X(git_libgit2_shutdown) X(git_merge_base) X(git_object_free) X(git_object_id) \
	X(git_object_lookup) X(git_object_peel) X(git_odb_free) X(git_odb_read_header) \
	X(git_oid_cpy) X(git_oid_fromstr) X(git_oid_tostr) X(git_push_options_init) \
	X(git_reference_create) X(git_reference_create_matching) X(git_reference_delete) \
	X(git_reference_free) X(git_reference_is_branch) X(git_reference_lookup) \
	X(git_reference_name_to_id) X(git_reference_shorthand) X(git_reference_symbolic_target) \
	X(git_reference_target) X(git_reference_type) GIT2_CONNECT(X) \
	X(git_remote_create_detached) X(git_remote_create_options_init) \
	X(git_remote_create_with_opts) X(git_remote_fetch) X(git_remote_free) \
	X(git_remote_ls) X(git_remote_push) \
	X(git_repository_config_snapshot) X(git_repository_free) X(git_repository_head) \
	X(git_repository_head_detached) X(git_repository_init) X(git_repository_is_bare) \
	X(git_repository_odb) X(git_repository_open_ext) X(git_repository_path) \
	X(git_repository_workdir) X(git_revparse_single) X(git_signature_free) \
	X(git_signature_now) X(git_tree_create_updated) X(git_tree_entry_bypath) \
	X(git_tree_entry_free) X(git_tree_entry_id) X(git_tree_entry_type) X(git_tree_free) \
	X(git_tree_id) X(git_tree_lookup) X(git_tree_walk) X(git_treebuilder_free) \
	X(git_treebuilder_new) X(git_treebuilder_write)
#ifndef PRENV_LAZY_GIT2
#define LG(f) f
#else
LAZYLIB_DEFINE(lg_lib, "libgit2", PRENV_LAZY_GIT2, PRENV_LAZY_DIR, GIT2_FUNCS);
#define LG(f) LAZYLIB_FN(lg_lib, f)
#endif

static char *dupstr(const char *s)
{
	size_t n;
	char *p;

	if (!s)
		return NULL;
	n = strlen(s);
	p = malloc(n + 1);
	if (p)
		memcpy(p, s, n + 1);
	return p;
}

static const char *lg2_msg(const char *fallback)
{
	const git_error *e = LG(git_error_last)();

	return e && e->message ? e->message : fallback;
}

static int nomem(struct prenv_err *err)
{
	return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
}

/* Loads (first time) and initialises libgit2; every successful call is
 * paired with a git_libgit2_shutdown(). */
static int lg2_init(struct prenv_err *err)
{
#ifdef PRENV_LAZY_GIT2
	int rc = lazylib_load(&lg_lib, err);

	if (rc < 0)
		return rc;
#endif
	if (LG(git_libgit2_init)() < 0)
		return prenv_err_set(err, PRENV_EFAIL, "libgit2 init failed: %s",
				     lg2_msg("unknown libgit2 error"));
#ifdef PRENV_STATIC
	{	/* the system's bundle, wherever this system keeps it */
		const char *ca = ca_bundle_find();

		if (ca)
			LG(git_libgit2_opts)(GIT_OPT_SET_SSL_CERT_LOCATIONS, ca, NULL);
	}
#endif
	return 0;
}

/* =========================================== the checkout prenv runs in */

static int info_nomem(struct prenv_err *err)
{
	return prenv_err_set(err, PRENV_ENOMEM, "out of memory reading git repository");
}

void git_repo_info_free(struct git_repo_info *info)
{
	if (!info)
		return;
	free(info->workdir);
	free(info->branch);
	free(info->sha);
	free(info->origin_url);
	free(info);
}

/* Opens the repository at or above dir. A checkout owned by another user
 * (common in CI containers) is refused by libgit2's safe.directory check;
 * we only read from it, so retry once with the check off and restore it. */
static int open_repo(git_repository **repo, const char *dir)
{
	int rc = LG(git_repository_open_ext)(repo, dir, 0, NULL);
#ifdef PRENV_HAVE_OWNER_VALIDATION
	int enabled = 1;

	if (rc != GIT_EOWNER)
		return rc;
	if (LG(git_libgit2_opts)(GIT_OPT_GET_OWNER_VALIDATION, &enabled) < 0)
		return rc;
	LG(git_libgit2_opts)(GIT_OPT_SET_OWNER_VALIDATION, 0);
	rc = LG(git_repository_open_ext)(repo, dir, 0, NULL);
	LG(git_libgit2_opts)(GIT_OPT_SET_OWNER_VALIDATION, enabled);
#endif
	return rc;
}

/* No commits yet: HEAD is a symbolic ref to a branch that does not exist;
 * read the name it points at. Returns 0 or -1 (out of memory). */
static int read_unborn(struct git_repo_info *info, git_repository *repo)
{
	git_reference *sym = NULL;
	const char *target;
	int rc = 0;

	info->unborn = 1;
	if (LG(git_reference_lookup)(&sym, repo, "HEAD") == 0 &&
	    LG(git_reference_type)(sym) == GIT_REFERENCE_SYMBOLIC &&
	    (target = LG(git_reference_symbolic_target)(sym)) &&
	    strncmp(target, "refs/heads/", 11) == 0) {
		info->branch = dupstr(target + 11);
		if (!info->branch)
			rc = -1;
	}
	LG(git_reference_free)(sym);
	return rc;
}

/* sha, branch, detached, unborn. */
static int read_head(struct git_repo_info *info, git_repository *repo, const char *path,
		     struct prenv_err *err)
{
	git_reference *head = NULL;
	const git_oid *oid;
	int rc;

	info->detached = LG(git_repository_head_detached)(repo) == 1;
	rc = LG(git_repository_head)(&head, repo);
	if (rc == GIT_EUNBORNBRANCH || rc == GIT_ENOTFOUND)
		return read_unborn(info, repo) < 0 ? info_nomem(err) : 0;
	if (rc < 0)
		return prenv_err_set(err, PRENV_EFAIL, "cannot read HEAD of %s: %s",
				     info->workdir ? info->workdir : path,
				     lg2_msg("unknown libgit2 error"));
	rc = 0;
	if ((oid = LG(git_reference_target)(head))) {
		char hex[GIT_OID_HEXSZ + 1];

		LG(git_oid_tostr)(hex, sizeof(hex), oid);
		if (!(info->sha = dupstr(hex)))
			rc = info_nomem(err);
	}
	if (rc == 0 && !info->detached && LG(git_reference_is_branch)(head)) {
		const char *name = LG(git_reference_shorthand)(head);

		if (name && !(info->branch = dupstr(name)))
			rc = info_nomem(err);
	}
	LG(git_reference_free)(head);
	return rc;
}

/* remote.origin.url straight from the config: git_remote_lookup() in
 * libgit2 1.5 leaks pcre2 match data (its regex config iteration), and we
 * need nothing else of the remote. (url.<x>.insteadOf is not applied.) */
static int read_origin(struct git_repo_info *info, git_repository *repo, const char *path,
		       struct prenv_err *err)
{
	git_config *cfg = NULL;
	const char *url = NULL;
	int rc;

	rc = LG(git_repository_config_snapshot)(&cfg, repo);
	if (rc == 0)
		rc = LG(git_config_get_string)(&url, cfg, "remote.origin.url");
	if (rc == 0) {
		if (url && *url && !(info->origin_url = dupstr(url)))
			rc = info_nomem(err);
	} else if (rc == GIT_ENOTFOUND) {
		rc = 0;
	} else {
		rc = prenv_err_set(err, PRENV_EFAIL, "cannot read remote \"origin\" of %s: %s",
				   info->workdir ? info->workdir : path,
				   lg2_msg("unknown libgit2 error"));
	}
	LG(git_config_free)(cfg);
	return rc;
}

int git_repo_info(struct git_repo_info **out, const char *dir,
		  struct prenv_err *err)
{
	git_repository *repo = NULL;
	struct git_repo_info *info = NULL;
	const char *path = dir ? dir : ".";
	const char *wd;
	int rc, ret;

	*out = NULL;
	if ((rc = lg2_init(err)) < 0)
		return rc;

	rc = open_repo(&repo, path);
	if (rc == GIT_ENOTFOUND) {
		ret = prenv_err_set(err, PRENV_ENOTFOUND,
				    "%s is not inside a git repository", path);
		goto done;
	}
	if (rc < 0) {
		ret = prenv_err_set(err, PRENV_EFAIL,
				    "cannot open git repository at %s: %s",
				    path, lg2_msg("unknown libgit2 error"));
		goto done;
	}
	if (!(info = calloc(1, sizeof(*info)))) {
		ret = info_nomem(err);
		goto done;
	}
	wd = LG(git_repository_workdir)(repo);
	if (!wd)
		wd = LG(git_repository_path)(repo);
	if (wd && !(info->workdir = dupstr(wd))) {
		ret = info_nomem(err);
		goto done;
	}
	if ((ret = read_head(info, repo, path, err)) < 0 ||
	    (ret = read_origin(info, repo, path, err)) < 0)
		goto done;
	*out = info;
	info = NULL;
done:
	LG(git_repository_free)(repo);
	git_repo_info_free(info);
	LG(git_libgit2_shutdown)();
	return ret;
}

/* ================================================================= URLs */

/* Where host[:port] stands in url (*len bytes; user info left out): after
 * "scheme://", or before the ':' of scp-like "[user@]host:path"; empty for
 * a local path. */
static const char *host_span(const char *url, size_t *len)
{
	const char *p = strstr(url, "://"), *e, *at;

	if (p) {
		p += 3;
		e = p + strcspn(p, "/?#");
	} else {
		p = url;
		e = url + strcspn(url, ":/");
		if (*e != ':')
			e = p;
	}
	at = memchr(p, '@', (size_t)(e - p));
	if (at)
		p = at + 1;
	*len = (size_t)(e - p);
	return p;
}

char *prenv_git_url_host(const char *url)
{
	size_t len;
	const char *h;

	if (!url)
		return NULL;
	h = host_span(url, &len);
	return strndup(h, len);
}

/* ========================================================= credentials */

/* The state of a handle's network operations (the payload of libgit2's
 * callbacks). */
struct net_state {
	const struct prenv_git_cred *creds;
	size_t ncreds;
	int tries;          /* credential requests in this operation */
	int needed;         /* the remote asked for credentials (ever) */
	int refused;        /* ... and refused them, or we withheld them (ever) */
	int ref_refused;    /* push: the server refused the ref update */
	char *why;          /* ... "<ref>: <reason>" */
};

static const struct prenv_git_cred *cred_for(const struct net_state *ns, const char *url)
{
	const char *h;
	size_t len, i;

	if (!url)
		return NULL;
	h = host_span(url, &len);
	for (i = 0; i < ns->ncreds; i++) {
		const char *ch = ns->creds[i].host;

		if (ch && strlen(ch) == len && strncasecmp(ch, h, len) == 0)
			return &ns->creds[i];
	}
	return NULL;
}

static int cred_cb(git_credential **out, const char *url, const char *user_from_url,
		   unsigned int allowed, void *payload)
{
	struct net_state *ns = payload;
	const struct prenv_git_cred *c = NULL;
	int userpass = (allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) != 0;

	ns->needed = 1;
	if (userpass && ns->ncreds > 0 && !(c = cred_for(ns, url))) {
		/* A redirect to another host must not receive the token. */
		ns->refused = 1;
		LG(git_error_set_str)(GIT_ERROR_NET, "the remote asked for credentials from another host "
				  "than the configured one; not sending the token");
		return GIT_EAUTH;
	}
	if (ns->tries++ > 0) {
		/* What we gave was refused; asking again loops. */
		ns->refused = 1;
		LG(git_error_set_str)(GIT_ERROR_NET, "the remote refused the credentials");
		return GIT_EAUTH;
	}
	if (c)
		return LG(git_credential_userpass_plaintext_new)(out, c->user ? c->user : "",
							     c->token ? c->token : "");
	if (allowed & GIT_CREDENTIAL_SSH_KEY)
		return LG(git_credential_ssh_key_from_agent)(out, user_from_url ? user_from_url : "git");
	return GIT_PASSTHROUGH;
}

/* Where libgit2 may follow a redirect: not to another host when a token
 * is at stake (PRENV_HAVE_FOLLOW_REDIRECTS above). */
#ifdef PRENV_HAVE_FOLLOW_REDIRECTS
#define FOLLOW(ns) ((ns)->ncreds > 0 ? GIT_REMOTE_REDIRECT_NONE : GIT_REMOTE_REDIRECT_INITIAL)
#endif

static int push_ref_cb(const char *refname, const char *status, void *payload)
{
	struct net_state *ns = payload;

	if (status) {
		ns->ref_refused = 1;
		free(ns->why);
		if (asprintf(&ns->why, "%s: %s", refname, status) < 0)
			ns->why = NULL;
	}
	return 0;
}

/* A libgit2 failure (gerr) on a handle whose network state is ns (NULL:
 * none): PRENV_EAUTH or PRENV_EFAIL, libgit2's message. */
static int lg2_fail(const struct net_state *ns, int gerr, struct prenv_err *err)
{
	const git_error *e = LG(git_error_last)();
	int code = PRENV_EFAIL;

	if (ns && ns->ncreds > 0 && e && e->klass == GIT_ERROR_NET && e->message &&
	    strncmp(e->message, "cannot redirect from ", 21) == 0)
		return prenv_err_set(err, PRENV_EAUTH, "the remote redirected to another host or "
				     "scheme (%s); not following it with the token", e->message);
	if (ns && ns->needed && (ns->refused || gerr == GIT_EAUTH || ns->ncreds == 0))
		code = PRENV_EAUTH;
	return prenv_err_set(err, code, "%s", lg2_msg("unknown error"));
}

/* The branch moved: libgit2's message, or why. */
static int rejected(const char *why, struct prenv_err *err)
{
	int rc = prenv_err_set(err, PRENV_GIT_EREJECTED, "%s", lg2_msg(why));

	LG(git_error_clear)();
	return rc;
}

/* =================================================== work repositories */

struct prenv_git_repo {
	git_repository *repo;
	git_remote *remote;
	char *tmpdir;             /* ours, deleted by _free; NULL otherwise */
	struct net_state net;
};

void prenv_git_repo_free(struct prenv_git_repo *r)
{
	if (!r)
		return;
	LG(git_remote_free)(r->remote);
	LG(git_repository_free)(r->repo);
	if (r->tmpdir)
		fs_rm_tree(r->tmpdir);
	free(r->tmpdir);
	free(r->net.why);
	free(r);
	LG(git_libgit2_shutdown)();
}

/* A handle, with libgit2 loaded and initialised (its _free shuts down). */
static int repo_alloc(struct prenv_git_repo **out, struct prenv_err *err)
{
	struct prenv_git_repo *r;
	int rc = lg2_init(err);

	*out = NULL;
	if (rc < 0)
		return rc;
	if (!(r = calloc(1, sizeof(*r)))) {
		LG(git_libgit2_shutdown)();
		return nomem(err);
	}
	*out = r;
	return 0;
}

int prenv_git_repo_new_temp(struct prenv_git_repo **out, struct prenv_err *err)
{
	const char *tmp = getenv("TMPDIR");
	struct prenv_buf dir = PRENV_BUF_INIT;
	struct prenv_git_repo *r = NULL;
	int rc;

	*out = NULL;
	if ((rc = repo_alloc(&r, err)) < 0)
		return rc;
	if (prenv_buf_printf(&dir, "%s/prenv-git-XXXXXX", tmp && *tmp ? tmp : "/tmp") < 0) {
		rc = nomem(err);
		goto done;
	}
	if (!mkdtemp(dir.ptr)) {
		rc = prenv_err_set(err, PRENV_GIT_EOS, "cannot create a temporary directory: %s",
				   strerror(errno));
		goto done;
	}
	r->tmpdir = prenv_buf_detach(&dir, NULL);
	if ((rc = LG(git_repository_init)(&r->repo, r->tmpdir, 1)) < 0) {
		rc = lg2_fail(NULL, rc, err);
		goto done;
	}
	*out = r;
	r = NULL;
done:
	prenv_buf_free(&dir);
	prenv_git_repo_free(r);
	return rc;
}

int prenv_git_repo_open(struct prenv_git_repo **out, const char *path, struct prenv_err *err)
{
	struct prenv_git_repo *r = NULL;
	int rc;

	*out = NULL;
	if ((rc = repo_alloc(&r, err)) < 0)
		return rc;
	rc = LG(git_repository_open_ext)(&r->repo, path, GIT_REPOSITORY_OPEN_NO_SEARCH |
				     GIT_REPOSITORY_OPEN_BARE, NULL);
	if (rc < 0) {
		rc = lg2_fail(NULL, rc, err);
		prenv_git_repo_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

int prenv_git_repo_is_bare(const struct prenv_git_repo *r)
{
	return LG(git_repository_is_bare)(r->repo) == 1;
}

int prenv_git_repo_set_remote(struct prenv_git_repo *r, const char *url,
			      const struct prenv_git_cred *creds, size_t ncreds,
			      struct prenv_err *err)
{
	/* url.*.insteadOf is not applied: the work repository is ours and the
	 * lookup leaks memory in libgit2 1.5 (git_regexp_match). */
	git_remote_create_options co;
	int rc;

	LG(git_remote_free)(r->remote);
	r->remote = NULL;
	r->net.creds = creds;
	r->net.ncreds = ncreds;
	LG(git_remote_create_options_init)(&co, GIT_REMOTE_CREATE_OPTIONS_VERSION);
	co.repository = r->repo;
	co.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF;
	if ((rc = LG(git_remote_create_with_opts)(&r->remote, url, &co)) < 0)
		return lg2_fail(&r->net, rc, err);
	return 0;
}

static int no_remote(struct prenv_err *err)
{
	return prenv_err_set(err, PRENV_EFAIL, "the work repository has no remote");
}

int prenv_git_fetch_branch(struct prenv_git_repo *r, const char *branch, const char *into,
			   struct prenv_err *err)
{
	git_fetch_options fo;
	git_reference *ref = NULL;
	char *spec = NULL;
	git_strarray specs = { &spec, 1 };
	int rc;

	if (!r->remote)
		return no_remote(err);
	if (asprintf(&spec, "+refs/heads/%s:%s", branch, into) < 0)
		return nomem(err);
	/* A stale copy from an earlier fetch must not survive a deleted branch. */
	if (LG(git_reference_lookup)(&ref, r->repo, into) == 0) {
		LG(git_reference_delete)(ref);
		LG(git_reference_free)(ref);
	}
	LG(git_fetch_options_init)(&fo, GIT_FETCH_OPTIONS_VERSION);
	fo.callbacks.credentials = cred_cb;
	fo.callbacks.payload = &r->net;
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
#ifdef PRENV_HAVE_FOLLOW_REDIRECTS
	fo.follow_redirects = FOLLOW(&r->net);
#endif
	r->net.tries = 0;
	rc = LG(git_remote_fetch)(r->remote, &specs, &fo, NULL);
	free(spec);
	return rc < 0 ? lg2_fail(&r->net, rc, err) : 0;
}

int prenv_git_ref_id(struct prenv_git_repo *r, char out[PRENV_GIT_HEX], const char *ref,
		     struct prenv_err *err)
{
	git_oid id;
	int rc;

	out[0] = '\0';
	rc = LG(git_reference_name_to_id)(&id, r->repo, ref);
	if (rc == GIT_ENOTFOUND) {
		rc = prenv_err_set(err, PRENV_ENOTFOUND, "%s", lg2_msg("no such reference"));
		LG(git_error_clear)();
		return rc;
	}
	if (rc < 0)
		return lg2_fail(&r->net, rc, err);
	LG(git_oid_tostr)(out, PRENV_GIT_HEX, &id);
	return 0;
}

/* Parses a hex id (libgit2 sets its error when it is not one). */
static int parse_id(git_oid *out, const char *hex)
{
	if (!hex) {
		LG(git_error_set_str)(GIT_ERROR_INVALID, "no object id given");
		return -1;
	}
	return LG(git_oid_fromstr)(out, hex);
}

int prenv_git_ref_set(struct prenv_git_repo *r, const char *ref, const char *id,
		      const char *old, const char *log_message, struct prenv_err *err)
{
	git_reference *out = NULL;
	git_oid new_id, old_id;
	int rc;

	if ((rc = parse_id(&new_id, id)) < 0)
		return lg2_fail(&r->net, rc, err);
	if (!old)
		rc = LG(git_reference_create)(&out, r->repo, ref, &new_id, 1, log_message);
	else if (!*old)
		rc = LG(git_reference_create)(&out, r->repo, ref, &new_id, 0, log_message);
	else if ((rc = parse_id(&old_id, old)) == 0)
		rc = LG(git_reference_create_matching)(&out, r->repo, ref, &new_id, 1, &old_id,
						   log_message);
	LG(git_reference_free)(out);
	if (old && (rc == GIT_EMODIFIED || rc == GIT_ELOCKED || rc == GIT_EEXISTS))
		return rejected("the branch moved", err);
	return rc < 0 ? lg2_fail(&r->net, rc, err) : 0;
}

int prenv_git_push(struct prenv_git_repo *r, const char *src, const char *dst,
		   struct prenv_err *err)
{
	git_push_options po;
	char *spec = NULL;
	git_strarray specs = { &spec, 1 };
	int rc;

	if (!r->remote)
		return no_remote(err);
	if (asprintf(&spec, "%s:%s", src, dst) < 0)
		return nomem(err);
	LG(git_push_options_init)(&po, GIT_PUSH_OPTIONS_VERSION);
	po.callbacks.credentials = cred_cb;
	po.callbacks.push_update_reference = push_ref_cb;
	po.callbacks.payload = &r->net;
#ifdef PRENV_HAVE_FOLLOW_REDIRECTS
	po.follow_redirects = FOLLOW(&r->net);
#endif
	r->net.tries = 0;
	r->net.ref_refused = 0;
	rc = LG(git_remote_push)(r->remote, &specs, &po);
	free(spec);
	if (rc == GIT_ENONFASTFORWARD || rc == GIT_ELOCKED)
		return rejected("non-fast-forward", err);
	if (rc < 0)
		return lg2_fail(&r->net, rc, err);
	if (r->net.ref_refused)
		return prenv_err_set(err, PRENV_GIT_EREJECTED, "%s",
				     r->net.why ? r->net.why : "rejected");
	return 0;
}

/* ============================================================= trees */

/* The tree of a commit or tree id. */
static int lookup_tree(git_tree **out, git_repository *repo, const char *hex)
{
	git_object *obj = NULL;
	git_oid id;
	int rc;

	*out = NULL;
	if ((rc = parse_id(&id, hex)) < 0 ||
	    (rc = LG(git_object_lookup)(&obj, repo, &id, GIT_OBJECT_ANY)) < 0)
		return rc;
	rc = LG(git_object_peel)((git_object **)out, obj, GIT_OBJECT_TREE);
	LG(git_object_free)(obj);
	return rc;
}

int prenv_git_tree_id(struct prenv_git_repo *r, char out[PRENV_GIT_HEX], const char *commit,
		      struct prenv_err *err)
{
	git_treebuilder *tb = NULL;
	git_tree *tree = NULL;
	git_oid id;
	int rc;

	out[0] = '\0';
	if (commit) {
		if ((rc = lookup_tree(&tree, r->repo, commit)) == 0)
			LG(git_oid_cpy)(&id, LG(git_tree_id)(tree));
		LG(git_tree_free)(tree);
	} else if ((rc = LG(git_treebuilder_new)(&tb, r->repo, NULL)) == 0) {
		rc = LG(git_treebuilder_write)(&id, tb);
		LG(git_treebuilder_free)(tb);
	}
	if (rc < 0)
		return lg2_fail(&r->net, rc, err);
	LG(git_oid_tostr)(out, PRENV_GIT_HEX, &id);
	return 0;
}

static git_filemode_t filemode(enum prenv_git_filemode m)
{
	return m == PRENV_GIT_LINK ? GIT_FILEMODE_LINK
		: m == PRENV_GIT_EXEC ? GIT_FILEMODE_BLOB_EXECUTABLE : GIT_FILEMODE_BLOB;
}

/* Stores files under dir/ and writes from + them as the tree res->id. */
static int add_files(struct prenv_git_repo *r, struct prenv_git_tree_result *res, git_tree *from,
		     const char *dir, const struct prenv_git_file *files, size_t n,
		     struct prenv_err *err)
{
	git_tree_update *ups = calloc(n, sizeof(*ups));
	size_t *offs = calloc(n, sizeof(*offs)), i;
	struct prenv_buf paths = PRENV_BUF_INIT;
	git_oid id;
	int rc = 0;

	if (!ups || !offs) {
		rc = nomem(err);
		goto done;
	}
	res->failed = PRENV_GIT_STEP_STORE;
	for (i = 0; i < n; i++) {
		offs[i] = paths.len;
		prenv_buf_printf(&paths, "%s/%s", dir, files[i].path);
		prenv_buf_addc(&paths, 0);
		rc = LG(git_blob_create_from_buffer)(&ups[i].id, r->repo, files[i].data, files[i].len);
		if (rc < 0) {
			rc = lg2_fail(&r->net, rc, err);
			goto done;
		}
		ups[i].action = GIT_TREE_UPDATE_UPSERT;
		ups[i].filemode = filemode(files[i].mode);
	}
	if (paths.failed) {
		rc = nomem(err);
		goto done;
	}
	for (i = 0; i < n; i++)
		ups[i].path = paths.ptr + offs[i];
	res->failed = PRENV_GIT_STEP_WRITE;
	if ((rc = LG(git_tree_create_updated)(&id, r->repo, from, n, ups)) < 0)
		rc = lg2_fail(&r->net, rc, err);
	else
		LG(git_oid_tostr)(res->id, sizeof(res->id), &id);
done:
	free(ups);
	free(offs);
	prenv_buf_free(&paths);
	return rc;
}

int prenv_git_tree_replace(struct prenv_git_repo *r, struct prenv_git_tree_result *res,
			   const char *base, const char *dir, const struct prenv_git_file *files,
			   size_t nfiles, struct prenv_err *err)
{
	git_tree *base_tree = NULL, *mid = NULL;
	git_tree_entry *entry = NULL;
	git_oid mid_id;
	int rc;

	memset(res, 0, sizeof(*res));
	res->failed = PRENV_GIT_STEP_READ;
	if (!dir || !*dir)
		return prenv_err_set(err, PRENV_EFAIL, "replacing a folder needs its path");
	if ((rc = lookup_tree(&base_tree, r->repo, base)) < 0)
		goto fail;
	rc = LG(git_tree_entry_bypath)(&entry, base_tree, dir);
	if (rc == 0) {
		git_tree_update rm;

		res->existed = 1;
		res->failed = PRENV_GIT_STEP_REMOVE;
		memset(&rm, 0, sizeof(rm));
		rm.action = GIT_TREE_UPDATE_REMOVE;
		rm.path = dir;
		if ((rc = LG(git_tree_create_updated)(&mid_id, r->repo, base_tree, 1, &rm)) < 0 ||
		    (rc = LG(git_tree_lookup)(&mid, r->repo, &mid_id)) < 0)
			goto fail;
	} else if (rc != GIT_ENOTFOUND) {
		goto fail;
	}
	LG(git_error_clear)();
	if (nfiles == 0) {
		LG(git_oid_tostr)(res->id, sizeof(res->id), LG(git_tree_id)(mid ? mid : base_tree));
		rc = 0;
	} else {
		rc = add_files(r, res, mid ? mid : base_tree, dir, files, nfiles, err);
	}
	goto done;
fail:
	rc = lg2_fail(&r->net, rc, err);
done:
	if (rc == 0)
		res->failed = PRENV_GIT_STEP_NONE;
	LG(git_tree_entry_free)(entry);
	LG(git_tree_free)(mid);
	LG(git_tree_free)(base_tree);
	return rc;
}

/* ============================================================ commits */

struct prenv_git_sig {
	git_signature *sig;
};

int prenv_git_sig_new(struct prenv_git_sig **out, const char *name, const char *email,
		      struct prenv_err *err)
{
	struct prenv_git_sig *s;
	int rc;

	*out = NULL;
	if ((rc = lg2_init(err)) < 0)
		return rc;
	if (!(s = calloc(1, sizeof(*s)))) {
		LG(git_libgit2_shutdown)();
		return nomem(err);
	}
	if (LG(git_signature_now)(&s->sig, name, email) < 0) {
		rc = prenv_err_set(err, PRENV_ECONFIG, "%s", lg2_msg("invalid signature"));
		prenv_git_sig_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void prenv_git_sig_free(struct prenv_git_sig *s)
{
	if (!s)
		return;
	LG(git_signature_free)(s->sig);
	free(s);
	LG(git_libgit2_shutdown)();
}

int prenv_git_commit(struct prenv_git_repo *r, char out[PRENV_GIT_HEX], const char *tree,
		     const char *parent, const struct prenv_git_sig *sig, const char *message,
		     enum prenv_git_step *failed, struct prenv_err *err)
{
	enum prenv_git_step step = PRENV_GIT_STEP_READ;
	git_tree *t = NULL;
	git_commit *p = NULL;
	git_oid id;
	int rc;

	out[0] = '\0';
	rc = lookup_tree(&t, r->repo, tree);
	if (rc == 0 && parent && (rc = parse_id(&id, parent)) == 0)
		rc = LG(git_commit_lookup)(&p, r->repo, &id);
	if (rc == 0) {
		const git_commit *parents[1] = { p };

		step = PRENV_GIT_STEP_WRITE;
		rc = LG(git_commit_create)(&id, r->repo, NULL, sig->sig, sig->sig, NULL, message, t,
				       p ? 1 : 0, parents);
	}
	if (rc < 0) {
		rc = lg2_fail(&r->net, rc, err);
	} else {
		LG(git_oid_tostr)(out, PRENV_GIT_HEX, &id);
		step = PRENV_GIT_STEP_NONE;
	}
	if (failed)
		*failed = step;
	LG(git_commit_free)(p);
	LG(git_tree_free)(t);
	return rc;
}

struct tally {
	struct prenv_git_path_info *info;
	git_odb *odb;
};

static void count_blob(struct tally *t, const git_oid *id)
{
	git_object_t type;
	size_t len = 0;

	t->info->files++;
	if (t->odb && LG(git_odb_read_header)(&len, &type, t->odb, id) == 0)
		t->info->bytes += len;
}

static int count_cb(const char *root, const git_tree_entry *entry, void *payload)
{
	(void)root;
	if (LG(git_tree_entry_type)(entry) == GIT_OBJECT_BLOB)
		count_blob(payload, LG(git_tree_entry_id)(entry));
	return 0;
}

int prenv_git_path_info(struct prenv_git_repo *r, struct prenv_git_path_info *out,
			const char *tree, const char *path, struct prenv_err *err)
{
	struct tally t = { out, NULL };
	git_tree *root = NULL, *sub = NULL;
	git_tree_entry *entry = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = lookup_tree(&root, r->repo, tree)) < 0)
		goto done;
	rc = LG(git_tree_entry_bypath)(&entry, root, path);
	if (rc == GIT_ENOTFOUND) {
		LG(git_error_clear)();
		rc = 0;
		goto done;
	}
	if (rc < 0)
		goto done;
	out->exists = 1;
	/* Sizes are best effort: a missing object counts as 0 bytes. */
	if (LG(git_repository_odb)(&t.odb, r->repo) < 0)
		t.odb = NULL;
	if (LG(git_tree_entry_type)(entry) == GIT_OBJECT_TREE) {
		out->is_tree = 1;
		if (LG(git_tree_lookup)(&sub, r->repo, LG(git_tree_entry_id)(entry)) == 0)
			LG(git_tree_walk)(sub, GIT_TREEWALK_PRE, count_cb, &t);
	} else if (LG(git_tree_entry_type)(entry) == GIT_OBJECT_BLOB) {
		count_blob(&t, LG(git_tree_entry_id)(entry));
	}
	LG(git_error_clear)();
done:
	if (rc < 0)
		rc = lg2_fail(&r->net, rc, err);
	LG(git_odb_free)(t.odb);
	LG(git_tree_free)(sub);
	LG(git_tree_entry_free)(entry);
	LG(git_tree_free)(root);
	return rc;
}

/* =========================================================== ls-remote */

void prenv_git_refs_free(struct prenv_git_refs *refs)
{
	size_t i;

	if (!refs)
		return;
	for (i = 0; i < refs->n; i++)
		free(refs->v[i].name);
	free(refs->v);
	free(refs->head);
	free(refs);
}

const struct prenv_git_ref *prenv_git_refs_find(const struct prenv_git_refs *refs,
						const char *name)
{
	size_t i;

	for (i = 0; refs && name && i < refs->n; i++)
		if (strcmp(refs->v[i].name, name) == 0)
			return &refs->v[i];
	return NULL;
}

static int copy_refs(struct prenv_git_refs **out, const git_remote_head **heads, size_t n,
		     const char *prefix, struct prenv_err *err)
{
	struct prenv_git_refs *refs = calloc(1, sizeof(*refs));
	size_t i, plen = prefix ? strlen(prefix) : 0;

	if (!refs || !(refs->v = calloc(n ? n : 1, sizeof(*refs->v))))
		goto nomem;
	for (i = 0; i < n; i++) {
		const git_remote_head *h = heads[i];
		struct prenv_git_ref *ref = &refs->v[refs->n];

		if (strcmp(h->name, "HEAD") == 0 && h->symref_target && !refs->head &&
		    !(refs->head = dupstr(h->symref_target)))
			goto nomem;
		if (prefix && strncmp(h->name, prefix, plen) != 0)
			continue;
		if (!(ref->name = dupstr(h->name)))
			goto nomem;
		LG(git_oid_tostr)(ref->id, sizeof(ref->id), &h->oid);
		refs->n++;
	}
	*out = refs;
	return 0;
nomem:
	prenv_git_refs_free(refs);
	return nomem(err);
}

#ifdef PRENV_HAVE_FOLLOW_REDIRECTS
typedef git_remote_connect_options connect_opts;
static int connect_fetch(git_remote *remote, const connect_opts *co)
{
	return LG(git_remote_connect_ext)(remote, GIT_DIRECTION_FETCH, co);
}
#else
typedef git_remote_callbacks connect_opts;
static int connect_fetch(git_remote *remote, const connect_opts *co)
{
	return LG(git_remote_connect)(remote, GIT_DIRECTION_FETCH, co, NULL, NULL);
}
#endif

int prenv_git_ls_remote(struct prenv_git_refs **out, const char *url, const char *prefix,
			const struct prenv_git_cred *creds, size_t ncreds, struct prenv_err *err)
{
	struct net_state ns;
	git_remote *remote = NULL;
	connect_opts co;
	const git_remote_head **heads = NULL;
	size_t n = 0;
	int rc;

	*out = NULL;
	memset(&ns, 0, sizeof(ns));
	ns.creds = creds;
	ns.ncreds = ncreds;
	if ((rc = lg2_init(err)) < 0)
		return rc;
#ifdef PRENV_HAVE_FOLLOW_REDIRECTS
	LG(git_remote_connect_options_init)(&co, GIT_REMOTE_CONNECT_OPTIONS_VERSION);
	co.callbacks.credentials = cred_cb;
	co.callbacks.payload = &ns;
	co.follow_redirects = FOLLOW(&ns);
#else
	LG(git_remote_init_callbacks)(&co, GIT_REMOTE_CALLBACKS_VERSION);
	co.credentials = cred_cb;
	co.payload = &ns;
#endif
	/* Detached: no repository, no configuration, no url.*.insteadOf. */
	if ((rc = LG(git_remote_create_detached)(&remote, url)) < 0 ||
	    (rc = connect_fetch(remote, &co)) < 0 ||
	    (rc = LG(git_remote_ls)(&heads, &n, remote)) < 0)
		rc = lg2_fail(&ns, rc, err);
	else
		rc = copy_refs(out, heads, n, prefix, err);
	LG(git_remote_free)(remote);
	free(ns.why);
	LG(git_libgit2_shutdown)();
	return rc;
}

/* ===================================================== what a change touched */

/* The commit spec names, or GIT_ENOTFOUND. */
static int commit_of(git_oid *out, git_repository *repo, const char *spec)
{
	git_object *obj = NULL, *commit = NULL;
	int rc = LG(git_revparse_single)(&obj, repo, spec);

	if (rc == 0 && (rc = LG(git_object_peel)(&commit, obj, GIT_OBJECT_COMMIT)) == 0)
		LG(git_oid_cpy)(out, LG(git_object_id)(commit));
	LG(git_object_free)(commit);
	LG(git_object_free)(obj);
	return rc;
}

static int path_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int paths_add(struct prenv_git_paths *p, size_t *cap, const char *path)
{
	char **v;

	if (!path)
		return 0;
	if (p->n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		if (!(v = realloc(p->v, *cap * sizeof(*v))))
			return -1;
		p->v = v;
	}
	if (!(p->v[p->n] = dupstr(path)))
		return -1;
	p->n++;
	return 0;
}

/* Sorts and drops repeats (a rename's two paths, a path on both sides). */
static void paths_unique(struct prenv_git_paths *p)
{
	size_t i, o = 0;

	if (!p->n)
		return;
	qsort(p->v, p->n, sizeof(*p->v), path_cmp);
	for (i = 1; i < p->n; i++) {
		if (!strcmp(p->v[i], p->v[o]))
			free(p->v[i]);
		else
			p->v[++o] = p->v[i];
	}
	p->n = o + 1;
}

static int diff_paths(struct prenv_git_paths *p, git_repository *repo, const git_oid *from,
		      const git_oid *to)
{
	git_commit *a = NULL, *b = NULL;
	git_tree *ta = NULL, *tb = NULL;
	git_diff *diff = NULL;
	git_diff_find_options find;
	size_t i, n, cap = 0;
	int rc;

	LG(git_diff_find_options_init)(&find, GIT_DIFF_FIND_OPTIONS_VERSION);
	find.flags = GIT_DIFF_FIND_RENAMES;
	if ((rc = LG(git_commit_lookup)(&a, repo, from)) < 0 ||
	    (rc = LG(git_commit_lookup)(&b, repo, to)) < 0 ||
	    (rc = LG(git_commit_tree)(&ta, a)) < 0 || (rc = LG(git_commit_tree)(&tb, b)) < 0 ||
	    (rc = LG(git_diff_tree_to_tree)(&diff, repo, ta, tb, NULL)) < 0 ||
	    (rc = LG(git_diff_find_similar)(diff, &find)) < 0)
		goto done;
	n = LG(git_diff_num_deltas)(diff);
	for (i = 0; i < n && rc == 0; i++) {
		const git_diff_delta *d = LG(git_diff_get_delta)(diff, i);

		if (paths_add(p, &cap, d->old_file.path) < 0 ||
		    paths_add(p, &cap, d->new_file.path) < 0)
			rc = GIT_EBUFS; /* out of memory, reported by the caller */
	}
	paths_unique(p);
done:
	LG(git_diff_free)(diff);
	LG(git_tree_free)(ta);
	LG(git_tree_free)(tb);
	LG(git_commit_free)(a);
	LG(git_commit_free)(b);
	return rc;
}

static int changed_in(struct prenv_git_paths *p, git_repository *repo, const char *base,
		      const char *head, struct prenv_err *err)
{
	git_oid b, h, mb;
	int rc;

	if ((rc = commit_of(&h, repo, head)) < 0)
		return prenv_err_set(err, rc == GIT_ENOTFOUND ? PRENV_ENOTFOUND : PRENV_EFAIL,
				     "%s", lg2_msg("cannot resolve the head commit"));
	if (commit_of(&b, repo, base) < 0 || LG(git_merge_base)(&mb, repo, &b, &h) < 0) {
		p->no_merge_base = 1;
		return 0;
	}
	LG(git_oid_tostr)(p->merge_base, sizeof(p->merge_base), &mb);
	if ((rc = diff_paths(p, repo, &mb, &h)) == GIT_EBUFS)
		return nomem(err);
	if (rc < 0)
		return prenv_err_set(err, PRENV_EFAIL, "%s", lg2_msg("diff failed"));
	return 0;
}

int prenv_git_changed_paths(struct prenv_git_paths **out, const char *dir, const char *base,
			    const char *head, struct prenv_err *err)
{
	git_repository *repo = NULL;
	struct prenv_git_paths *p;
	int rc;

	*out = NULL;
	if (!(p = calloc(1, sizeof(*p))))
		return nomem(err);
	if ((rc = lg2_init(err)) < 0) {
		free(p);
		return rc;
	}
	rc = open_repo(&repo, dir ? dir : ".");
	if (rc < 0)
		rc = prenv_err_set(err, rc == GIT_ENOTFOUND ? PRENV_ENOTFOUND : PRENV_EFAIL,
				   "cannot open the git repository at %s: %s", dir ? dir : ".",
				   lg2_msg("not a git repository"));
	else
		rc = changed_in(p, repo, base, head, err);
	LG(git_repository_free)(repo);
	LG(git_libgit2_shutdown)();
	if (rc < 0)
		prenv_git_paths_free(p);
	else
		*out = p;
	return rc;
}

void prenv_git_paths_free(struct prenv_git_paths *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->n; i++)
		free(p->v[i]);
	free(p->v);
	free(p);
}
