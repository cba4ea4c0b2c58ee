/* test_git.c - git_repo_info() against real temporary repositories. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

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

static void test_git_free_null(void **state)
{
	(void)state;
	git_repo_info_free(NULL);
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
