/* git.h - everything prenv does with git, through libgit2.
 *
 * The only module that includes libgit2's header. Mechanism, no policy:
 *   - facts about the checkout prenv runs in (git_repo_info);
 *   - work on other repositories: a temporary bare work repository (or an
 *     existing bare one), fetching one branch, building a tree from a base
 *     tree with one folder replaced by files held in memory, committing,
 *     pushing without force, moving a ref by compare-and-swap, reading what
 *     a path holds under a commit, and listing a remote's refs without a
 *     clone (ls-remote).
 * Which token goes to which host, retries, and the messages users read are
 * the callers' (the pages provider's git publisher, providers/pages/gitpub.c).
 *
 * Names: prenv_git_* (git_* is libgit2's namespace); git_repo_info keeps
 * its older name. Object ids cross this interface as 40 hex digits and a
 * NUL (char[PRENV_GIT_HEX]). Handles are opaque; what comes back through
 * **out is the caller's and is freed with the type's _free() (NULL is a
 * no-op). libgit2 is initialised by every call that makes a handle and shut
 * down by its _free() (libgit2 counts init/shutdown pairs, so nesting with
 * other users is fine). A handle is used by one thread at a time; different
 * handles may be used at once.
 *
 * Errors: 0, or a negative code with err set. For a libgit2 failure
 * err->msg is libgit2's own message without context (the caller says what
 * it was doing); codes are PRENV_EAUTH (below), PRENV_ENOTFOUND where a
 * function says so, PRENV_GIT_EREJECTED / PRENV_GIT_EOS where a function
 * says so, PRENV_ENOMEM, and PRENV_EFAIL for everything else.
 *
 * Credentials: the caller passes (host -> user, token) entries; this module
 * never picks a token itself. When a server asks for a user name and a
 * password, the entry whose host equals the host of the URL libgit2 is
 * talking to at that moment (after any redirect) is sent, at most once per
 * network operation; if no entry has that host, nothing is sent and the
 * operation fails ("the remote asked for credentials from another host than
 * the configured one; not sending the token"); if the server asks a second
 * time, it refused what it got ("the remote refused the credentials"). A
 * server that wants an SSH key gets the ssh-agent's, as user-from-URL or
 * "git". Tokens go nowhere else: not into URLs, messages or logs.
 * Once the remote of a handle has asked for credentials, a failing call on
 * that handle returns PRENV_EAUTH when credentials were refused (by the
 * server, or withheld from another host), when libgit2 reports an
 * authentication error, or when the caller gave no entries at all.
 */
#ifndef PRENV_GIT_H
#define PRENV_GIT_H

#include <stddef.h>

struct prenv_err;

/* ------------------------------------------------- the checkout prenv runs in */

struct git_repo_info {
	char *workdir;    /* the checkout's top directory (or the git dir when bare) */
	char *branch;     /* current branch short name ("feature/x"); NULL when detached */
	char *sha;        /* HEAD commit, 40 hex; NULL when there are no commits yet */
	int detached;     /* 1 when HEAD points at a commit, not a branch */
	int unborn;       /* 1 when the current branch has no commits yet */
	char *origin_url; /* URL of the "origin" remote, or NULL when there is none */
};

/* Opens the repository containing dir (searching parent directories; NULL:
 * the current directory) and fills *out (caller frees with
 * git_repo_info_free()). Returns 0, PRENV_ENOTFOUND when dir is not inside a
 * git repository, PRENV_ENOMEM, or PRENV_EFAIL (message from libgit2). */
int git_repo_info(struct git_repo_info **out, const char *dir,
		  struct prenv_err *err);
void git_repo_info_free(struct git_repo_info *info);

/* ------------------------------------------------------------ common pieces */

#define PRENV_GIT_HEX 41  /* an object id: 40 hex digits and a NUL */

/* The branch moved under us: a push that is not a fast-forward (or that the
 * server refused for the ref, e.g. stale or locked), or a compare-and-swap
 * that found another value. Fetch again and rebuild. err->msg says why. */
#define PRENV_GIT_EREJECTED (-30)
/* The operating system refused something that is not libgit2's (the
 * temporary directory). err->msg is complete: what, and strerror. */
#define PRENV_GIT_EOS (-31)

/* A token for the servers of one host. */
struct prenv_git_cred {
	const char *host;   /* host[:port] as prenv_git_url_host() gives it */
	const char *user;   /* the user name sent with the token */
	const char *token;
};

/* host[:port] of a URL, without user info: "https://u:p@Example.com:8443/x"
 * -> "Example.com:8443", "git@github.com:acme/shop.git" -> "github.com";
 * "" for a local path or file:// URL. Caller frees; NULL when out of memory
 * or url is NULL. */
char *prenv_git_url_host(const char *url);

/* ------------------------------------------------------- work repositories */

struct prenv_git_repo;

/* A new empty bare repository in a fresh directory under $TMPDIR (or /tmp),
 * deleted with everything in it by prenv_git_repo_free(). Returns 0,
 * PRENV_GIT_EOS when the directory cannot be made, PRENV_EFAIL. */
int prenv_git_repo_new_temp(struct prenv_git_repo **out, struct prenv_err *err);
/* The existing repository at path (no search upwards; bare ones too).
 * Returns 0 or PRENV_EFAIL (libgit2's message says why). Never deleted. */
int prenv_git_repo_open(struct prenv_git_repo **out, const char *path, struct prenv_err *err);
int prenv_git_repo_is_bare(const struct prenv_git_repo *repo);
void prenv_git_repo_free(struct prenv_git_repo *repo);

/* Gives the repository its one remote (URL, file:// URL or local path;
 * url.*.insteadOf is not applied) and the credentials for it (copied by
 * pointer: creds, their strings and url must outlive the handle). */
int prenv_git_repo_set_remote(struct prenv_git_repo *repo, const char *url,
			      const struct prenv_git_cred *creds, size_t ncreds,
			      struct prenv_err *err);

/* Fetches refs/heads/<branch> of the remote into the local ref `into`
 * (e.g. "refs/prenv/base"), forced; tags are not fetched. `into` is deleted
 * first, so when the remote has no such branch it does not exist afterwards
 * (that is not an error; see prenv_git_ref_id). */
int prenv_git_fetch_branch(struct prenv_git_repo *repo, const char *branch, const char *into,
			   struct prenv_err *err);

/* The id ref points at. PRENV_ENOTFOUND when there is no such ref. */
int prenv_git_ref_id(struct prenv_git_repo *repo, char out[PRENV_GIT_HEX], const char *ref,
		     struct prenv_err *err);

/* Points ref at id. old NULL: whatever it pointed at; old "": only if the ref
 * does not exist; old an id: only if the ref points there now, checked under
 * the ref's lock (compare-and-swap). When old is given and does not hold (or
 * the ref is locked), PRENV_GIT_EREJECTED. log_message: for the reflog (may
 * be NULL). */
int prenv_git_ref_set(struct prenv_git_repo *repo, const char *ref, const char *id,
		      const char *old, const char *log_message, struct prenv_err *err);

/* Pushes the local ref src to the remote's ref dst, without force (the
 * server updates dst only if the push is a fast-forward of its value, under
 * its lock). PRENV_GIT_EREJECTED when it is not a fast-forward or the server
 * refused the ref update (err->msg: libgit2's message, or "<dst>: <the
 * server's reason>"); PRENV_EAUTH / PRENV_EFAIL as above. */
int prenv_git_push(struct prenv_git_repo *repo, const char *src, const char *dst,
		   struct prenv_err *err);

/* --------------------------------------------------------- trees, commits */

/* The tree of commit (a commit or tree id); commit NULL: the empty tree
 * (written to the repository). */
int prenv_git_tree_id(struct prenv_git_repo *repo, char out[PRENV_GIT_HEX], const char *commit,
		      struct prenv_err *err);

enum prenv_git_filemode { PRENV_GIT_FILE, PRENV_GIT_EXEC, PRENV_GIT_LINK };

/* A file held in memory; for a link, data is the link's target. */
struct prenv_git_file {
	const char *path;    /* relative to the folder, '/'-separated */
	const void *data;
	size_t len;
	enum prenv_git_filemode mode;
};

/* Where a call made of several libgit2 steps failed, for callers whose
 * messages name the step. */
enum prenv_git_step {
	PRENV_GIT_STEP_NONE = 0,
	PRENV_GIT_STEP_READ,     /* reading what should be there (base tree, entry, parent) */
	PRENV_GIT_STEP_REMOVE,   /* tree_replace: taking the old folder out */
	PRENV_GIT_STEP_STORE,    /* tree_replace: storing a file */
	PRENV_GIT_STEP_WRITE,    /* writing the new tree / the commit */
};

struct prenv_git_tree_result {
	char id[PRENV_GIT_HEX];     /* the new tree */
	int existed;                /* dir was in the base tree (as anything) */
	enum prenv_git_step failed; /* on error: the step that failed */
};

/* Writes the tree `base` (a tree or commit id) with the folder dir ("a/b",
 * no leading or trailing '/') replaced by files: the old dir (tree or file)
 * is removed, then each file is stored at dir/<path>. nfiles 0: dir is only
 * removed. Nothing outside dir changes. res->id equals base's tree id when
 * nothing changed. */
int prenv_git_tree_replace(struct prenv_git_repo *repo, struct prenv_git_tree_result *res,
			   const char *base, const char *dir, const struct prenv_git_file *files,
			   size_t nfiles, struct prenv_err *err);

/* An author/committer, with the time it was made. */
struct prenv_git_sig;

/* PRENV_ECONFIG (libgit2's message) when name or email is not usable. */
int prenv_git_sig_new(struct prenv_git_sig **out, const char *name, const char *email,
		      struct prenv_err *err);
void prenv_git_sig_free(struct prenv_git_sig *sig);

/* Writes a commit of tree with parent (NULL: none, a root commit) by sig as
 * author and committer; no ref moves. *failed (may be NULL): the step that
 * failed (READ: the tree or parent, WRITE: the commit). */
int prenv_git_commit(struct prenv_git_repo *repo, char out[PRENV_GIT_HEX], const char *tree,
		     const char *parent, const struct prenv_git_sig *sig, const char *message,
		     enum prenv_git_step *failed, struct prenv_err *err);

/* What path holds under a tree or commit. */
struct prenv_git_path_info {
	int exists;
	int is_tree;     /* a folder */
	size_t files;    /* blobs (files and links) in it, recursively; 1 for a file */
	size_t bytes;    /* their total size */
};

int prenv_git_path_info(struct prenv_git_repo *repo, struct prenv_git_path_info *out,
			const char *tree, const char *path, struct prenv_err *err);

/* ------------------------------------------------------------- ls-remote */

struct prenv_git_ref {
	char *name;                /* "refs/heads/main" */
	char id[PRENV_GIT_HEX];
};

struct prenv_git_refs {
	struct prenv_git_ref *v;   /* in the server's order */
	size_t n;
	char *head;                /* what HEAD points at ("refs/heads/main") when the
				    * server says; NULL otherwise */
};

/* Lists the refs of the repository at url (like `git ls-remote`, no clone,
 * no repository needed) whose names start with prefix (NULL: all, "HEAD"
 * included; "refs/heads/": the branches). Credentials as above. *out is
 * the caller's (prenv_git_refs_free). */
int prenv_git_ls_remote(struct prenv_git_refs **out, const char *url, const char *prefix,
			const struct prenv_git_cred *creds, size_t ncreds, struct prenv_err *err);
/* The entry named name, or NULL; borrowed from refs. */
const struct prenv_git_ref *prenv_git_refs_find(const struct prenv_git_refs *refs,
						const char *name);
void prenv_git_refs_free(struct prenv_git_refs *refs);

/* ------------------------------------------------- what a change touched */

struct prenv_git_paths {
	char **v;                  /* repository-relative paths, sorted, unique */
	size_t n;
	int no_merge_base;         /* base and head share no history here (a
				    * shallow clone, a base that was not fetched) */
	char merge_base[PRENV_GIT_HEX];
};

/* The files changed between the merge base of base and head and head, in
 * the checkout at or above dir, the way GitHub's "Files changed" counts
 * them (three dots); a rename gives its old and its new path. base and
 * head are anything git rev-parse takes (a sha, "origin/main"). When base
 * cannot be resolved or the two have no merge base, *out says
 * no_merge_base and lists nothing; that is not an error. *out is the
 * caller's (prenv_git_paths_free). */
int prenv_git_changed_paths(struct prenv_git_paths **out, const char *dir, const char *base,
			    const char *head, struct prenv_err *err);
void prenv_git_paths_free(struct prenv_git_paths *p);

#endif
