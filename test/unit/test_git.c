/* test_git.c - util/git against real temporary repositories: git_repo_info()
 * on checkouts, and the work-repository API (fetch, tree_replace, commit,
 * push, compare-and-swap, path_info, ls-remote) checked with the git CLI,
 * over file:// and through `git http-backend` (test/servers/git_http_server.py)
 * for credentials. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <sys/stat.h>

#include "util/err.h"
#include "util/git.h"
#include "gitfixture.h"

struct fx {
	char dir[256];
	char sha[41];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f || gitfx_tmpdir(f->dir, sizeof(f->dir)) < 0) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	gitfx_rmrf(f->dir);
	free(f);
	return 0;
}

static void test_git_branch_and_origin(void **state)
{
	struct fx *f = *state;
	struct git_repo_info *gi = NULL;
	struct prenv_err err = PRENV_ERR_INIT;

	assert_int_equal(gitfx_repo_with_commit(f->dir, "main"), 0);
	assert_int_equal(gitfx_run(f->dir, "checkout", "-q", "-b", "feature/Login_2", NULL), 0);
	assert_int_equal(gitfx_run(f->dir, "remote", "add", "origin",
				   "git@github.com:acme/shop.git", NULL), 0);
	assert_int_equal(gitfx_head(f->dir, f->sha), 0);

	assert_int_equal(git_repo_info(&gi, f->dir, &err), 0);
	assert_non_null(gi);
	assert_string_equal(gi->branch, "feature/Login_2");
	assert_string_equal(gi->sha, f->sha);
	assert_int_equal(gi->detached, 0);
	assert_int_equal(gi->unborn, 0);
	assert_string_equal(gi->origin_url, "git@github.com:acme/shop.git");
	assert_non_null(gi->workdir);
	git_repo_info_free(gi);
}

static void test_git_detached_head(void **state)
{
	struct fx *f = *state;
	struct git_repo_info *gi = NULL;
	struct prenv_err err = PRENV_ERR_INIT;

	assert_int_equal(gitfx_repo_with_commit(f->dir, "main"), 0);
	assert_int_equal(gitfx_head(f->dir, f->sha), 0);
	assert_int_equal(gitfx_run(f->dir, "checkout", "-q", "--detach", "HEAD", NULL), 0);

	assert_int_equal(git_repo_info(&gi, f->dir, &err), 0);
	assert_null(gi->branch);
	assert_int_equal(gi->detached, 1);
	assert_string_equal(gi->sha, f->sha);
	assert_null(gi->origin_url);
	git_repo_info_free(gi);
}

static void test_git_no_commits(void **state)
{
	struct fx *f = *state;
	struct git_repo_info *gi = NULL;
	struct prenv_err err = PRENV_ERR_INIT;

	assert_int_equal(gitfx_run(f->dir, "init", "-q", "-b", "trunk", NULL), 0);
	assert_int_equal(gitfx_run(f->dir, "remote", "add", "origin",
				   "https://gitlab.example.com/g/sub/p.git", NULL), 0);
	assert_int_equal(git_repo_info(&gi, f->dir, &err), 0);
	assert_string_equal(gi->branch, "trunk");
	assert_null(gi->sha);
	assert_int_equal(gi->unborn, 1);
	assert_int_equal(gi->detached, 0);
	assert_string_equal(gi->origin_url, "https://gitlab.example.com/g/sub/p.git");
	git_repo_info_free(gi);
}

static void test_git_subdirectory_is_found(void **state)
{
	struct fx *f = *state;
	struct git_repo_info *gi = NULL;
	struct prenv_err err = PRENV_ERR_INIT;
	char sub[300];

	assert_int_equal(gitfx_repo_with_commit(f->dir, "dev"), 0);
	snprintf(sub, sizeof(sub), "%s/a", f->dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(git_repo_info(&gi, sub, &err), 0);
	assert_string_equal(gi->branch, "dev");
	git_repo_info_free(gi);
}

static void test_git_not_a_repository(void **state)
{
	struct fx *f = *state;
	struct git_repo_info *gi = (struct git_repo_info *)1;
	struct prenv_err err = PRENV_ERR_INIT;

	assert_int_equal(git_repo_info(&gi, f->dir, &err), PRENV_ENOTFOUND);
	assert_null(gi);
	assert_non_null(err.msg);
	assert_non_null(strstr(err.msg, f->dir));
	prenv_err_clear(&err);
}

/* Three dots: main moves on after the branch point; only the branch's own
 * changes count, a rename counts both paths, and a base that does not
 * exist (a shallow clone) is "no merge base", not an error. */
static void test_git_changed_paths(void **state)
{
	struct fx *f = *state;
	struct prenv_git_paths *p = NULL;
	struct prenv_err err = PRENV_ERR_INIT;
	char base[41];

	assert_int_equal(gitfx_run(f->dir, "init", "-q", "-b", "main", NULL), 0);
	assert_int_equal(gitfx_run(f->dir, "config", "user.email", "t@example.com", NULL), 0);
	assert_int_equal(gitfx_run(f->dir, "config", "user.name", "t", NULL), 0);
	{
		char d[300];

		snprintf(d, sizeof(d), "%s/api", f->dir);
		assert_int_equal(mkdir(d, 0755), 0);
		snprintf(d, sizeof(d), "%s/web", f->dir);
		assert_int_equal(mkdir(d, 0755), 0);
	}
	assert_int_equal(gitfx_write(f->dir, "api/main.go", "package main\n"), 0);
	assert_int_equal(gitfx_write(f->dir, "web/old.html", "<p>a fairly long page that is renamed</p>\n"), 0);
	assert_int_equal(gitfx_write(f->dir, "README.md", "hi\n"), 0);
	assert_int_equal(gitfx_run(f->dir, "add", "-A", NULL), 0);
	assert_int_equal(gitfx_run(f->dir, "commit", "-q", "-m", "one", NULL), 0);
	assert_int_equal(gitfx_run(f->dir, "checkout", "-q", "-b", "feature/x", NULL), 0);
	assert_int_equal(gitfx_write(f->dir, "api/main.go", "package main // changed\n"), 0);
	assert_int_equal(gitfx_run(f->dir, "mv", "web/old.html", "web/new.html", NULL), 0);
	assert_int_equal(gitfx_run(f->dir, "commit", "-q", "-am", "two", NULL), 0);
	/* main moves on: its change is not the branch's */
	assert_int_equal(gitfx_run(f->dir, "checkout", "-q", "main", NULL), 0);
	assert_int_equal(gitfx_write(f->dir, "README.md", "changed on main\n"), 0);
	assert_int_equal(gitfx_run(f->dir, "commit", "-q", "-am", "three", NULL), 0);
	assert_int_equal(gitfx_head(f->dir, base), 0);

	assert_int_equal(prenv_git_changed_paths(&p, f->dir, base, "feature/x", &err), 0);
	assert_non_null(p);
	assert_int_equal(p->no_merge_base, 0);
	assert_int_equal(p->n, 3);
	assert_string_equal(p->v[0], "api/main.go");
	assert_string_equal(p->v[1], "web/new.html");
	assert_string_equal(p->v[2], "web/old.html");
	prenv_git_paths_free(p);

	assert_int_equal(prenv_git_changed_paths(&p, f->dir, "0123456789012345678901234567890123456789",
						 "feature/x", &err), 0);
	assert_int_equal(p->no_merge_base, 1);
	assert_int_equal(p->n, 0);
	prenv_git_paths_free(p);

	assert_int_not_equal(prenv_git_changed_paths(&p, f->dir, "main", "no-such-branch", &err), 0);
	assert_null(p);
	prenv_err_clear(&err);
	prenv_git_paths_free(NULL);
}

static void test_git_free_null(void **state)
{
	(void)state;
	git_repo_info_free(NULL);
}

/* ------------------------------------------------ work repositories */

#define TOKEN "ghs_utilGitTestToken0123456789"

/* dir/bare.git with main (index.html, site/keep.txt) and feature/x (one
 * commit more); dir/work is the clone that made them. */
static void seed(struct fx *f, char bare[300], char work[300])
{
	snprintf(bare, 300, "%s/bare.git", f->dir);
	snprintf(work, 300, "%s/work", f->dir);
	assert_int_equal(gitfx_run(f->dir, "init", "-q", "--bare", "bare.git", NULL), 0);
	assert_int_equal(gitfx_run(bare, "symbolic-ref", "HEAD", "refs/heads/main", NULL), 0);
	assert_int_equal(gitfx_run(f->dir, "init", "-q", "-b", "main", "work", NULL), 0);
	assert_int_equal(gitfx_write(work, "index.html", "root\n"), 0);
	{
		char d[400];

		snprintf(d, sizeof(d), "%s/site", work);
		assert_int_equal(mkdir(d, 0755), 0);
	}
	assert_int_equal(gitfx_write(work, "site/keep.txt", "keep\n"), 0);
	assert_int_equal(gitfx_run(work, "add", "-A", NULL), 0);
	assert_int_equal(gitfx_run(work, "commit", "-q", "-m", "seed", NULL), 0);
	assert_int_equal(gitfx_run(work, "push", "-q", bare, "main", NULL), 0);
	assert_int_equal(gitfx_run(work, "commit", "-q", "--allow-empty", "-m", "x", NULL), 0);
	assert_int_equal(gitfx_run(work, "push", "-q", bare, "HEAD:refs/heads/feature/x", NULL), 0);
	assert_int_equal(gitfx_run(work, "reset", "-q", "--hard", "main", NULL), 0);
}

static void test_git_url_host(void **state)
{
	static const char *const cases[][2] = {
		{ "https://github.com/acme/shop.git", "github.com" },
		{ "https://x-access-token:s3cret@GitHub.com:8443/a/b.git", "GitHub.com:8443" },
		{ "http://127.0.0.1:9418/bare.git?x=1", "127.0.0.1:9418" },
		{ "ssh://git@gitlab.example.com:2222/g/p.git", "gitlab.example.com:2222" },
		{ "git@github.com:acme/shop.git", "github.com" },
		{ "file:///srv/git/site.git", "" },
		{ "/srv/git/site.git", "" },
		{ "./site.git", "" },
		{ "dir/with:colon", "" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *h = prenv_git_url_host(cases[i][0]);

		assert_non_null(h);
		assert_string_equal(h, cases[i][1]);
		free(h);
	}
	assert_null(prenv_git_url_host(NULL));
}

static int count_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* fetch -> tree_replace -> commit -> push over file://, checked with git. */
static void test_git_fetch_replace_commit_push(void **state)
{
	struct fx *f = *state;
	struct prenv_err err = PRENV_ERR_INIT;
	struct prenv_git_repo *r = NULL;
	struct prenv_git_sig *sig = NULL;
	struct prenv_git_tree_result tr;
	const struct prenv_git_file files[] = {
		{ "index.html", "<h1>pr</h1>\n", 12, PRENV_GIT_FILE },
		{ "bin/run.sh", "#!/bin/sh\n", 10, PRENV_GIT_EXEC },
		{ "home.html", "index.html", 10, PRENV_GIT_LINK },
	};
	char bare[300], work[300], url[400], tmp[400], base[PRENV_GIT_HEX];
	char tree[PRENV_GIT_HEX], commit[PRENV_GIT_HEX], out[4096], want[200];
	enum prenv_git_step step = PRENV_GIT_STEP_READ;

	seed(f, bare, work);
	snprintf(tmp, sizeof(tmp), "%s/tmp", f->dir);
	assert_int_equal(mkdir(tmp, 0700), 0);
	setenv("TMPDIR", tmp, 1);
	snprintf(url, sizeof(url), "file://%s", bare);
	assert_int_equal(prenv_git_repo_new_temp(&r, &err), 0);
	unsetenv("TMPDIR");
	assert_int_equal(count_dir(tmp), 1);
	assert_int_equal(prenv_git_repo_is_bare(r), 1);
	assert_int_equal(prenv_git_repo_set_remote(r, url, NULL, 0, &err), 0);
	assert_int_equal(prenv_git_fetch_branch(r, "main", "refs/prenv/base", &err), 0);
	assert_int_equal(prenv_git_ref_id(r, base, "refs/prenv/base", &err), 0);
	assert_int_equal(gitfx_out(out, sizeof(out), bare, "rev-parse", "main", NULL), 0);
	assert_string_equal(base, out);

	assert_int_equal(prenv_git_tree_id(r, tree, base, &err), 0);
	assert_int_equal(prenv_git_tree_replace(r, &tr, tree, "site/pr-1", files, 3, &err), 0);
	assert_int_equal(tr.existed, 0);
	assert_int_equal(tr.failed, PRENV_GIT_STEP_NONE);
	assert_string_not_equal(tr.id, tree);
	assert_int_equal(prenv_git_sig_new(&sig, "Pages Bot", "bot@example.com", &err), 0);
	assert_int_equal(prenv_git_commit(r, commit, tr.id, base, sig, "deploy pr-1", &step, &err), 0);
	assert_int_equal(step, PRENV_GIT_STEP_NONE);
	assert_int_equal(prenv_git_ref_set(r, "refs/prenv/new", commit, NULL, NULL, &err), 0);
	assert_int_equal(prenv_git_push(r, "refs/prenv/new", "refs/heads/main", &err), 0);

	assert_int_equal(gitfx_out(out, sizeof(out), bare, "ls-tree", "-r", "--name-only", "main", NULL), 0);
	assert_string_equal(out, "index.html\nsite/keep.txt\nsite/pr-1/bin/run.sh\n"
			    "site/pr-1/home.html\nsite/pr-1/index.html");
	assert_int_equal(gitfx_out(out, sizeof(out), bare, "ls-tree", "main", "site/pr-1/bin/run.sh", NULL), 0);
	assert_memory_equal(out, "100755 blob", 11);
	assert_int_equal(gitfx_out(out, sizeof(out), bare, "ls-tree", "main", "site/pr-1/home.html", NULL), 0);
	assert_memory_equal(out, "120000 blob", 11);
	assert_int_equal(gitfx_out(out, sizeof(out), bare, "show", "main:site/pr-1/home.html", NULL), 0);
	assert_string_equal(out, "index.html");
	snprintf(want, sizeof(want), "Pages Bot <bot@example.com>|deploy pr-1|%s", base);
	assert_int_equal(gitfx_out(out, sizeof(out), bare, "log", "-1", "--format=%an <%ae>|%s|%P", "main", NULL), 0);
	assert_string_equal(out, want);

	/* removing the folder again gives back the base tree exactly */
	assert_int_equal(prenv_git_tree_replace(r, &tr, commit, "site/pr-1", NULL, 0, &err), 0);
	assert_int_equal(tr.existed, 1);
	assert_string_equal(tr.id, tree);

	prenv_git_sig_free(sig);
	prenv_git_repo_free(r);
	assert_int_equal(count_dir(tmp), 0);  /* the work repository is gone */
	prenv_err_clear(&err);
}

/* The remote moved after our fetch: the push is not a fast-forward. */
static void test_git_push_on_a_stale_base_is_rejected(void **state)
{
	struct fx *f = *state;
	struct prenv_err err = PRENV_ERR_INIT;
	struct prenv_git_repo *r = NULL;
	struct prenv_git_sig *sig = NULL;
	char bare[300], work[300], base[PRENV_GIT_HEX], tree[PRENV_GIT_HEX];
	char commit[PRENV_GIT_HEX], moved[100], out[100];

	seed(f, bare, work);
	assert_int_equal(prenv_git_repo_new_temp(&r, &err), 0);
	assert_int_equal(prenv_git_repo_set_remote(r, bare, NULL, 0, &err), 0);
	assert_int_equal(prenv_git_fetch_branch(r, "main", "refs/prenv/base", &err), 0);
	assert_int_equal(prenv_git_ref_id(r, base, "refs/prenv/base", &err), 0);
	assert_int_equal(prenv_git_tree_id(r, tree, base, &err), 0);
	assert_int_equal(prenv_git_sig_new(&sig, "prenv", "prenv@localhost", &err), 0);
	assert_int_equal(prenv_git_commit(r, commit, tree, base, sig, "mine", NULL, &err), 0);

	assert_int_equal(gitfx_run(work, "commit", "-q", "--allow-empty", "-m", "theirs", NULL), 0);
	assert_int_equal(gitfx_run(work, "push", "-q", bare, "main", NULL), 0);
	assert_int_equal(gitfx_out(moved, sizeof(moved), bare, "rev-parse", "main", NULL), 0);

	assert_int_equal(prenv_git_ref_set(r, "refs/prenv/new", commit, NULL, NULL, &err), 0);
	assert_int_equal(prenv_git_push(r, "refs/prenv/new", "refs/heads/main", &err),
			 PRENV_GIT_EREJECTED);
	assert_non_null(err.msg);
	assert_int_equal(gitfx_out(out, sizeof(out), bare, "rev-parse", "main", NULL), 0);
	assert_string_equal(out, moved);
	prenv_git_sig_free(sig);
	prenv_git_repo_free(r);
	prenv_err_clear(&err);
}

static void test_git_ref_set_compare_and_swap(void **state)
{
	struct fx *f = *state;
	struct prenv_err err = PRENV_ERR_INIT;
	struct prenv_git_repo *r = NULL;
	char bare[300], work[300], main_id[PRENV_GIT_HEX], x_id[PRENV_GIT_HEX], got[PRENV_GIT_HEX];

	seed(f, bare, work);
	assert_int_equal(prenv_git_repo_open(&r, bare, &err), 0);
	assert_int_equal(prenv_git_repo_is_bare(r), 1);
	assert_int_equal(prenv_git_ref_id(r, main_id, "refs/heads/main", &err), 0);
	assert_int_equal(prenv_git_ref_id(r, x_id, "refs/heads/feature/x", &err), 0);
	assert_string_not_equal(main_id, x_id);

	/* another value than expected, or "must not exist": rejected, unchanged */
	assert_int_equal(prenv_git_ref_set(r, "refs/heads/main", x_id, x_id, "m", &err),
			 PRENV_GIT_EREJECTED);
	assert_int_equal(prenv_git_ref_set(r, "refs/heads/main", x_id, "", "m", &err),
			 PRENV_GIT_EREJECTED);
	assert_int_equal(prenv_git_ref_id(r, got, "refs/heads/main", &err), 0);
	assert_string_equal(got, main_id);
	/* the expected value: moved */
	assert_int_equal(prenv_git_ref_set(r, "refs/heads/main", x_id, main_id, "m", &err), 0);
	assert_int_equal(prenv_git_ref_id(r, got, "refs/heads/main", &err), 0);
	assert_string_equal(got, x_id);
	assert_int_equal(prenv_git_ref_set(r, "refs/heads/new", main_id, "", NULL, &err), 0);
	assert_int_equal(prenv_git_ref_id(r, got, "refs/heads/new", &err), 0);
	assert_string_equal(got, main_id);
	/* not an id */
	assert_int_equal(prenv_git_ref_set(r, "refs/heads/new", "zz", NULL, NULL, &err), PRENV_EFAIL);
	prenv_git_repo_free(r);
	prenv_err_clear(&err);
}

static void test_git_fetch_of_a_missing_branch_leaves_no_ref(void **state)
{
	struct fx *f = *state;
	struct prenv_err err = PRENV_ERR_INIT;
	struct prenv_git_repo *r = NULL;
	char bare[300], work[300], id[PRENV_GIT_HEX];

	seed(f, bare, work);
	assert_int_equal(prenv_git_repo_new_temp(&r, &err), 0);
	assert_int_equal(prenv_git_fetch_branch(r, "main", "refs/prenv/base", &err), PRENV_EFAIL);
	assert_int_equal(prenv_git_repo_set_remote(r, bare, NULL, 0, &err), 0);
	assert_int_equal(prenv_git_fetch_branch(r, "main", "refs/prenv/base", &err), 0);
	assert_int_equal(prenv_git_ref_id(r, id, "refs/prenv/base", &err), 0);
	/* the stale copy goes with a fetch that finds nothing */
	assert_int_equal(prenv_git_fetch_branch(r, "gone", "refs/prenv/base", &err), 0);
	assert_int_equal(prenv_git_ref_id(r, id, "refs/prenv/base", &err), PRENV_ENOTFOUND);
	assert_string_equal(id, "");
	prenv_git_repo_free(r);
	prenv_err_clear(&err);
}

static void test_git_path_info(void **state)
{
	struct fx *f = *state;
	struct prenv_err err = PRENV_ERR_INIT;
	struct prenv_git_repo *r = NULL;
	struct prenv_git_path_info pi;
	char bare[300], work[300], id[PRENV_GIT_HEX], tree[PRENV_GIT_HEX];

	seed(f, bare, work);
	assert_int_equal(prenv_git_repo_open(&r, bare, &err), 0);
	assert_int_equal(prenv_git_ref_id(r, id, "refs/heads/main", &err), 0);
	assert_int_equal(prenv_git_path_info(r, &pi, id, "site", &err), 0);
	assert_int_equal(pi.exists, 1);
	assert_int_equal(pi.is_tree, 1);
	assert_int_equal(pi.files, 1);
	assert_int_equal(pi.bytes, 5);
	/* a tree id works as well as a commit id */
	assert_int_equal(prenv_git_tree_id(r, tree, id, &err), 0);
	assert_int_equal(prenv_git_path_info(r, &pi, tree, "index.html", &err), 0);
	assert_int_equal(pi.exists, 1);
	assert_int_equal(pi.is_tree, 0);
	assert_int_equal(pi.files, 1);
	assert_int_equal(pi.bytes, 5);
	assert_int_equal(prenv_git_path_info(r, &pi, id, "site/none", &err), 0);
	assert_int_equal(pi.exists, 0);
	assert_int_equal(prenv_git_path_info(r, &pi, "0123456789abcdef0123456789abcdef01234567",
					     "site", &err), PRENV_EFAIL);
	prenv_git_repo_free(r);
	prenv_err_clear(&err);
}

static void test_git_ls_remote_local(void **state)
{
	struct fx *f = *state;
	struct prenv_err err = PRENV_ERR_INIT;
	struct prenv_git_refs *refs = NULL;
	const struct prenv_git_ref *ref;
	char bare[300], work[300], out[100];

	seed(f, bare, work);
	assert_int_equal(prenv_git_ls_remote(&refs, bare, "refs/heads/", NULL, 0, &err), 0);
	assert_int_equal(refs->n, 2);
	assert_null(prenv_git_refs_find(refs, "HEAD"));
	ref = prenv_git_refs_find(refs, "refs/heads/feature/x");
	assert_non_null(ref);
	assert_int_equal(gitfx_out(out, sizeof(out), bare, "rev-parse", "feature/x", NULL), 0);
	assert_string_equal(ref->id, out);
	ref = prenv_git_refs_find(refs, "refs/heads/main");
	assert_non_null(ref);
	assert_int_equal(gitfx_out(out, sizeof(out), bare, "rev-parse", "main", NULL), 0);
	assert_string_equal(ref->id, out);
	assert_non_null(refs->head);
	assert_string_equal(refs->head, "refs/heads/main");
	prenv_git_refs_free(refs);

	assert_int_equal(prenv_git_ls_remote(&refs, bare, NULL, NULL, 0, &err), 0);
	assert_non_null(prenv_git_refs_find(refs, "HEAD"));
	prenv_git_refs_free(refs);

	snprintf(bare, sizeof(bare), "%s/none.git", f->dir);
	refs = (struct prenv_git_refs *)1;
	assert_int_equal(prenv_git_ls_remote(&refs, bare, NULL, NULL, 0, &err), PRENV_EFAIL);
	assert_null(refs);
	assert_non_null(err.msg);
	prenv_err_clear(&err);
}

static int log_has(const char *dir, const char *what)
{
	char path[400], line[512];
	FILE *fp;
	int found = 0;

	snprintf(path, sizeof(path), "%s/server.log", dir);
	if (!(fp = fopen(path, "r")))
		return -1;
	while (!found && fgets(line, sizeof(line), fp))
		found = strstr(line, what) != NULL;
	fclose(fp);
	return found;
}

/* Credentials through git http-backend: only the matching host's token is
 * sent, a wrong one is refused, none at all is an authentication error. */
static void test_git_ls_remote_http_credentials(void **state)
{
	struct fx *f = *state;
	struct prenv_err err = PRENV_ERR_INIT;
	struct prenv_git_refs *refs = NULL;
	char bare[300], work[300], url[200], *host;
	struct prenv_git_cred other = { "example.com", "x-access-token", TOKEN };
	struct prenv_git_cred wrong = { NULL, "x-access-token", "not-the-token" };
	struct prenv_git_cred right[2] = { { "example.com", "x-access-token", "not-the-token" },
					   { NULL, "x-access-token", TOKEN } };
	int port = 0;
	pid_t srv;

	seed(f, bare, work);
	srv = gitfx_http_start(f->dir, TOKEN, NULL, &port);
	assert_true(srv > 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/bare.git", port);
	host = prenv_git_url_host(url);
	wrong.host = right[1].host = host;

	assert_int_equal(prenv_git_ls_remote(&refs, url, NULL, &other, 1, &err), PRENV_EAUTH);
	assert_non_null(strstr(err.msg, "another host"));
	assert_int_equal(log_has(f->dir, "credentials received"), 0);
	assert_int_equal(prenv_git_ls_remote(&refs, url, NULL, NULL, 0, &err), PRENV_EAUTH);
	assert_int_equal(prenv_git_ls_remote(&refs, url, NULL, &wrong, 1, &err), PRENV_EAUTH);
	assert_non_null(strstr(err.msg, "refused"));
	assert_null(strstr(err.msg, "not-the-token"));

	assert_int_equal(prenv_git_ls_remote(&refs, url, "refs/heads/", right, 2, &err), 0);
	assert_int_equal(refs->n, 2);
	assert_non_null(prenv_git_refs_find(refs, "refs/heads/main"));
	prenv_git_refs_free(refs);
	gitfx_http_stop(srv);
	free(host);
	prenv_err_clear(&err);
}

/* The server redirects to another host name: the token does not follow. */
static void test_git_ls_remote_redirect_keeps_the_token(void **state)
{
	struct fx *f = *state;
	struct prenv_err err = PRENV_ERR_INIT;
	struct prenv_git_refs *refs = NULL;
	struct prenv_git_cred cred = { NULL, "x-access-token", TOKEN };
	char bare[300], work[300], url[200], *host;
	int port = 0;
	pid_t srv;

	seed(f, bare, work);
	srv = gitfx_http_start(f->dir, TOKEN, "localhost", &port);
	assert_true(srv > 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/bare.git", port);
	cred.host = host = prenv_git_url_host(url);
	assert_int_equal(prenv_git_ls_remote(&refs, url, NULL, &cred, 1, &err), PRENV_EAUTH);
	assert_non_null(strstr(err.msg, "another host"));
	assert_null(strstr(err.msg, TOKEN));
	gitfx_http_stop(srv);
	assert_int_equal(log_has(f->dir, "credentials received"), 0);
	free(host);
	prenv_err_clear(&err);
}

static void test_git_bad_author_and_frees(void **state)
{
	struct prenv_err err = PRENV_ERR_INIT;
	struct prenv_git_sig *sig = (struct prenv_git_sig *)1;

	(void)state;
	assert_int_equal(prenv_git_sig_new(&sig, "", "a@b", &err), PRENV_ECONFIG);
	assert_null(sig);
	assert_non_null(err.msg);
	prenv_git_sig_free(NULL);
	prenv_git_repo_free(NULL);
	prenv_git_refs_free(NULL);
	prenv_err_clear(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_git_branch_and_origin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_git_detached_head, setup, teardown),
		cmocka_unit_test_setup_teardown(test_git_no_commits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_git_subdirectory_is_found, setup, teardown),
		cmocka_unit_test_setup_teardown(test_git_not_a_repository, setup, teardown),
		cmocka_unit_test(test_git_free_null),
		cmocka_unit_test(test_git_url_host),
		cmocka_unit_test_setup_teardown(test_git_fetch_replace_commit_push, setup, teardown),
		cmocka_unit_test_setup_teardown(test_git_push_on_a_stale_base_is_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_git_ref_set_compare_and_swap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_git_fetch_of_a_missing_branch_leaves_no_ref, setup, teardown),
		cmocka_unit_test_setup_teardown(test_git_path_info, setup, teardown),
		cmocka_unit_test_setup_teardown(test_git_ls_remote_local, setup, teardown),
		cmocka_unit_test_setup_teardown(test_git_ls_remote_http_credentials, setup, teardown),
		cmocka_unit_test_setup_teardown(test_git_ls_remote_redirect_keeps_the_token, setup, teardown),
		cmocka_unit_test(test_git_bad_author_and_frees),
		cmocka_unit_test_setup_teardown(test_git_changed_paths, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
