/* test_ci.c - CI context detection: tables of environments per CI system,
 * overrides, error paths, URL parsing, the local checkout, and every
 * pull_request/push payload of @octokit/webhooks-examples. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>

#include "util/buf.h"
#include "context/ci.h"
#include "util/err.h"
#include "gitfixture.h"

#define FX "test/fixtures/github-events/"
#define S1 "0123456789abcdef0123456789abcdef01234567"
#define S2 "89abcdef0123456789abcdef0123456789abcdef"
#define MERGE "ffffffffffffffffffffffffffffffffffffffff"
#define NPM_INDEX "build/npm/node_modules/@octokit/webhooks-examples/api.github.com/index.json"

/* A directory that is not inside any git repository: detection must not
 * pick up the checkout the tests run in. */
static char nogit_dir[256];

static int group_setup(void **state)
{
	(void)state;
	return gitfx_tmpdir(nogit_dir, sizeof(nogit_dir));
}

static int group_teardown(void **state)
{
	(void)state;
	gitfx_rmrf(nogit_dir);
	return 0;
}

/* Expected context; NULL strings must be NULL. */
struct expect {
	const char *ci, *event, *action, *host, *server_url, *api_url;
	const char *owner, *name, *full_name, *repo_url, *project_id;
	const char *branch, *base_branch, *sha, *tag;
	int has_pr;
	long number;
	const char *title, *author, *pr_url, *state;
	int fork, deleted;
	const char *run_url, *head_repo;
};

struct ci_case {
	const char *name;
	const char *env[40];
	struct expect x;
};

static void assert_str(const char *tc, const char *field, const char *want,
		       const char *got)
{
	if (want == NULL && got != NULL)
		fail_msg("%s: %s: want null, got \"%s\"", tc, field, got);
	if (want != NULL && (got == NULL || strcmp(want, got) != 0))
		fail_msg("%s: %s: want \"%s\", got %s%s%s", tc, field, want,
			 got ? "\"" : "", got ? got : "null", got ? "\"" : "");
}

#define ASSERT_STR(field, want, got) assert_str(tc, field, want, got)

#define ASSERT_INT(field, want, got)                                           \
	do {                                                                   \
		if ((long)(want) != (long)(got))                               \
			fail_msg("%s: %s: want %ld, got %ld", tc, field,         \
				 (long)(want), (long)(got));                   \
	} while (0)

static void check(const char *tc, const struct expect *x,
		  const struct prenv_context *c)
{
	ASSERT_STR("ci", x->ci, c->ci);
	ASSERT_STR("event", x->event, c->event);
	ASSERT_STR("action", x->action, c->action);
	ASSERT_STR("host", x->host, c->host);
	ASSERT_STR("server_url", x->server_url, c->server_url);
	ASSERT_STR("api_url", x->api_url, c->api_url);
	ASSERT_STR("repo_owner", x->owner, c->repo_owner);
	ASSERT_STR("repo_name", x->name, c->repo_name);
	ASSERT_STR("repo_full_name", x->full_name, c->repo_full_name);
	ASSERT_STR("repo_url", x->repo_url, c->repo_url);
	ASSERT_STR("project_id", x->project_id, c->project_id);
	ASSERT_STR("branch", x->branch, c->branch);
	ASSERT_STR("base_branch", x->base_branch, c->base_branch);
	ASSERT_STR("sha", x->sha, c->sha);
	ASSERT_STR("tag", x->tag, c->tag);
	ASSERT_INT("has_pr", x->has_pr, c->has_pr);
	ASSERT_INT("pr_number", x->number, c->pr_number);
	ASSERT_STR("pr_title", x->title, c->pr_title);
	ASSERT_STR("pr_author", x->author, c->pr_author);
	ASSERT_STR("pr_url", x->pr_url, c->pr_url);
	ASSERT_STR("pr_state", x->state, c->pr_state);
	ASSERT_INT("pr_fork", x->fork, c->pr_fork);
	ASSERT_INT("ref_deleted", x->deleted, c->ref_deleted);
	ASSERT_STR("run_url", x->run_url, c->run_url);
	ASSERT_STR("head_repo", x->head_repo, c->head_repo_full_name);
}

#define GH "GITHUB_ACTIONS=true", "GITHUB_REPOSITORY=acme/shop", \
	"GITHUB_RUN_ID=77", "GITHUB_SHA=" MERGE
#define GH_X .ci = "github", .host = "github", .server_url = "https://github.com", \
	.api_url = "https://api.github.com", .owner = "acme", .name = "shop", \
	.full_name = "acme/shop", .repo_url = "https://github.com/acme/shop", \
	.run_url = "https://github.com/acme/shop/actions/runs/77"

static const struct ci_case github_cases[] = {
	{ "github fork pull_request: head sha, not GITHUB_SHA",
	  { GH, "GITHUB_EVENT_NAME=pull_request", "GITHUB_EVENT_PATH=" FX "pull_request_fork.json",
	    "GITHUB_REF=refs/pull/7/merge", "GITHUB_HEAD_REF=main", "GITHUB_BASE_REF=main" },
	  { GH_X, .event = "pull_request", .action = "synchronize", .branch = "main",
	    .base_branch = "main", .sha = S1, .has_pr = 1, .number = 7,
	    .title = "Fix typo \"quoted\" <b>html</b>", .author = "mallory",
	    .pr_url = "https://github.com/acme/shop/pull/7", .state = "open", .fork = 1,
	    .head_repo = "mallory/shop" } },
	{ "github pull_request_target from a fork",
	  { GH, "GITHUB_EVENT_NAME=pull_request_target", "GITHUB_EVENT_PATH=" FX "pull_request_target_fork.json",
	    "GITHUB_REF=refs/heads/develop" },
	  { GH_X, .event = "pull_request_target", .action = "opened", .branch = "docs/readme",
	    .base_branch = "develop", .sha = S1, .has_pr = 1, .number = 8, .title = "Docs",
	    .author = "eve", .pr_url = "https://github.com/acme/shop/pull/8", .state = "open",
	    .fork = 1, .head_repo = "eve/shop-fork" } },
	{ "github closed and merged",
	  { GH, "GITHUB_EVENT_NAME=pull_request", "GITHUB_EVENT_PATH=" FX "pull_request_closed_merged.json" },
	  { GH_X, .event = "pull_request", .action = "closed", .branch = "feature/login",
	    .base_branch = "main", .sha = S1, .has_pr = 1, .number = 42, .title = "Add login",
	    .author = "alice", .pr_url = "https://github.com/acme/shop/pull/42", .state = "merged",
	    .head_repo = "acme/shop" } },
	{ "github closed without merge",
	  { GH, "GITHUB_EVENT_NAME=pull_request", "GITHUB_EVENT_PATH=" FX "pull_request_closed_unmerged.json" },
	  { GH_X, .event = "pull_request", .action = "closed", .branch = "idea",
	    .base_branch = "main", .sha = S1, .has_pr = 1, .number = 43, .title = "Abandoned idea",
	    .author = "bob", .pr_url = "https://github.com/acme/shop/pull/43", .state = "closed",
	    .head_repo = "acme/shop" } },
	{ "github PR whose fork was deleted (head.repo null)",
	  { GH, "GITHUB_EVENT_NAME=pull_request", "GITHUB_EVENT_PATH=" FX "pull_request_deleted_fork.json" },
	  { GH_X, .event = "pull_request", .action = "reopened", .branch = "wip",
	    .base_branch = "main", .sha = S1, .has_pr = 1, .number = 9, .title = "Old work",
	    .author = "ghost", .pr_url = "https://github.com/acme/shop/pull/9", .state = "open",
	    .fork = 1 } },
	{ "github delete: the deleted branch, not GITHUB_REF",
	  { GH, "GITHUB_EVENT_NAME=delete", "GITHUB_EVENT_PATH=" FX "delete_branch.json",
	    "GITHUB_REF=refs/heads/main" },
	  { GH_X, .event = "delete", .branch = "feature/old", .deleted = 1 } },
	{ "github push deleting a branch",
	  { GH, "GITHUB_EVENT_NAME=push", "GITHUB_EVENT_PATH=" FX "push_branch_deleted.json",
	    "GITHUB_REF=refs/heads/feature/gone" },
	  { GH_X, .event = "push", .branch = "feature/gone", .deleted = 1 } },
	{ "github workflow_run with pull_requests",
	  { GH, "GITHUB_EVENT_NAME=workflow_run", "GITHUB_EVENT_PATH=" FX "workflow_run_pr.json",
	    "GITHUB_REF=refs/heads/main" },
	  { GH_X, .event = "workflow_run", .action = "completed", .branch = "feature/login",
	    .base_branch = "main", .sha = S1, .has_pr = 1, .number = 42,
	    .pr_url = "https://github.com/acme/shop/pull/42", .head_repo = "acme/shop" } },
	{ "github workflow_run from a fork: empty pull_requests",
	  { GH, "GITHUB_EVENT_NAME=workflow_run", "GITHUB_EVENT_PATH=" FX "workflow_run_fork.json",
	    "GITHUB_REF=refs/heads/main" },
	  { GH_X, .event = "workflow_run", .action = "completed", .branch = "patch-1",
	    .sha = S1, .fork = 1, .head_repo = "mallory/shop" } },
	{ "github workflow_dispatch",
	  { GH, "GITHUB_EVENT_NAME=workflow_dispatch", "GITHUB_EVENT_PATH=" FX "workflow_dispatch.json",
	    "GITHUB_REF=refs/heads/release/1.2" },
	  { GH_X, .event = "workflow_dispatch", .branch = "release/1.2", .sha = MERGE } },
	{ "github issue_comment on a PR",
	  { GH, "GITHUB_EVENT_NAME=issue_comment", "GITHUB_EVENT_PATH=" FX "issue_comment_pr.json",
	    "GITHUB_REF=refs/heads/main" },
	  { GH_X, .event = "issue_comment", .action = "created", .has_pr = 1, .number = 42,
	    .title = "Add login", .author = "alice",
	    .pr_url = "https://github.com/acme/shop/pull/42", .state = "open" } },
	{ "github pull_request without event file: variables only",
	  { GH, "GITHUB_EVENT_NAME=pull_request", "GITHUB_REF=refs/pull/5/merge",
	    "GITHUB_HEAD_REF=feat/x", "GITHUB_BASE_REF=main" },
	  { GH_X, .event = "pull_request", .branch = "feat/x", .base_branch = "main",
	    .sha = MERGE, .has_pr = 1, .number = 5,
	    .pr_url = "https://github.com/acme/shop/pull/5" } },
	{ "github tag push from variables",
	  { GH, "GITHUB_EVENT_NAME=push", "GITHUB_REF=refs/tags/v1.2.3" },
	  { GH_X, .event = "push", .tag = "v1.2.3", .sha = MERGE } },
	{ "github enterprise server, second attempt",
	  { "GITHUB_ACTIONS=true", "GITHUB_REPOSITORY=team/app", "GITHUB_RUN_ID=9",
	    "GITHUB_RUN_ATTEMPT=2", "GITHUB_SERVER_URL=https://ghe.example.com/",
	    "GITHUB_EVENT_NAME=push", "GITHUB_REF=refs/heads/main", "GITHUB_SHA=" S2 },
	  { .ci = "github", .host = "github", .server_url = "https://ghe.example.com",
	    .api_url = "https://ghe.example.com/api/v3", .owner = "team", .name = "app",
	    .full_name = "team/app", .repo_url = "https://ghe.example.com/team/app",
	    .run_url = "https://ghe.example.com/team/app/actions/runs/9/attempts/2",
	    .event = "push", .branch = "main", .sha = S2 } },
	{ "github with almost nothing set",
	  { "GITHUB_ACTIONS=true" },
	  { .ci = "github", .host = "github", .server_url = "https://github.com",
	    .api_url = "https://api.github.com" } },
};

#define GL "GITLAB_CI=true", "CI_SERVER_URL=https://gitlab.example.com", \
	"CI_API_V4_URL=https://gitlab.example.com/api/v4", "CI_PROJECT_NAMESPACE=grp/sub", \
	"CI_PROJECT_NAME=shop", "CI_PROJECT_PATH=grp/sub/shop", \
	"CI_PROJECT_URL=https://gitlab.example.com/grp/sub/shop", "CI_PROJECT_ID=123", \
	"CI_PIPELINE_ID=555", "CI_JOB_URL=https://gitlab.example.com/grp/sub/shop/-/jobs/9", \
	"CI_COMMIT_SHA=" MERGE, "GITLAB_USER_LOGIN=alice"
#define GL_X .ci = "gitlab", .host = "gitlab", .server_url = "https://gitlab.example.com", \
	.api_url = "https://gitlab.example.com/api/v4", .owner = "grp/sub", .name = "shop", \
	.full_name = "grp/sub/shop", .repo_url = "https://gitlab.example.com/grp/sub/shop", \
	.project_id = "123", .run_url = "https://gitlab.example.com/grp/sub/shop/-/jobs/9"

static const struct ci_case gitlab_cases[] = {
	{ "gitlab merge request pipeline",
	  { GL, "CI_PIPELINE_SOURCE=merge_request_event", "CI_MERGE_REQUEST_IID=12",
	    "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME=feature/a", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME=main",
	    "CI_MERGE_REQUEST_TITLE=Add A", "CI_MERGE_REQUEST_PROJECT_PATH=grp/sub/shop",
	    "CI_MERGE_REQUEST_SOURCE_PROJECT_PATH=grp/sub/shop",
	    "CI_MERGE_REQUEST_PROJECT_URL=https://gitlab.example.com/grp/sub/shop",
	    "CI_COMMIT_REF_NAME=feature/a" },
	  { GL_X, .event = "merge_request_event", .branch = "feature/a", .base_branch = "main",
	    .sha = MERGE, .has_pr = 1, .number = 12, .title = "Add A", .author = "alice",
	    .pr_url = "https://gitlab.example.com/grp/sub/shop/-/merge_requests/12",
	    .state = "open", .head_repo = "grp/sub/shop" } },
	{ "gitlab fork merge request, merged results pipeline",
	  { GL, "CI_PIPELINE_SOURCE=merge_request_event", "CI_MERGE_REQUEST_IID=13",
	    "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME=main", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME=main",
	    "CI_MERGE_REQUEST_TITLE=From a fork", "CI_MERGE_REQUEST_PROJECT_PATH=grp/sub/shop",
	    "CI_MERGE_REQUEST_SOURCE_PROJECT_PATH=someone/shop",
	    "CI_MERGE_REQUEST_SOURCE_BRANCH_SHA=" S1,
	    "CI_MERGE_REQUEST_PROJECT_URL=https://gitlab.example.com/grp/sub/shop" },
	  { GL_X, .event = "merge_request_event", .branch = "main", .base_branch = "main",
	    .sha = S1, .has_pr = 1, .number = 13, .title = "From a fork", .author = "alice",
	    .pr_url = "https://gitlab.example.com/grp/sub/shop/-/merge_requests/13",
	    .state = "open", .fork = 1, .head_repo = "someone/shop" } },
	{ "gitlab branch pipeline",
	  { GL, "CI_PIPELINE_SOURCE=push", "CI_COMMIT_BRANCH=develop", "CI_COMMIT_REF_NAME=develop" },
	  { GL_X, .event = "push", .branch = "develop", .sha = MERGE } },
	{ "gitlab tag pipeline",
	  { GL, "CI_PIPELINE_SOURCE=push", "CI_COMMIT_TAG=v2", "CI_COMMIT_REF_NAME=v2" },
	  { GL_X, .event = "push", .tag = "v2", .sha = MERGE } },
	{ "gitlab external pull request",
	  { GL, "CI_PIPELINE_SOURCE=external_pull_request_event", "CI_EXTERNAL_PULL_REQUEST_IID=4",
	    "CI_EXTERNAL_PULL_REQUEST_SOURCE_BRANCH_NAME=fix", "CI_EXTERNAL_PULL_REQUEST_TARGET_BRANCH_NAME=main",
	    "CI_EXTERNAL_PULL_REQUEST_SOURCE_BRANCH_SHA=" S2,
	    "CI_EXTERNAL_PULL_REQUEST_SOURCE_REPOSITORY=bob/shop",
	    "CI_EXTERNAL_PULL_REQUEST_TARGET_REPOSITORY=acme/shop" },
	  { GL_X, .event = "external_pull_request_event", .branch = "fix", .base_branch = "main",
	    .sha = S2, .has_pr = 1, .number = 4, .state = "open", .fork = 1,
	    .pr_url = "https://gitlab.example.com/grp/sub/shop/-/merge_requests/4",
	    .head_repo = "bob/shop" } },
};

#define JK "JENKINS_URL=https://ci.example.com/", \
	"BUILD_URL=https://ci.example.com/job/shop/job/PR-5/3/", "BUILD_NUMBER=3", \
	"GIT_COMMIT=" S1

static const struct ci_case jenkins_cases[] = {
	{ "jenkins GitHub pull request",
	  { JK, "BRANCH_NAME=PR-5", "CHANGE_ID=5", "CHANGE_BRANCH=feature/x", "CHANGE_TARGET=main",
	    "CHANGE_TITLE=Add x", "CHANGE_AUTHOR=carol",
	    "CHANGE_URL=https://github.com/acme/shop/pull/5" },
	  { .ci = "jenkins", .event = "pull_request", .host = "github",
	    .server_url = "https://github.com", .api_url = "https://api.github.com",
	    .owner = "acme", .name = "shop", .full_name = "acme/shop",
	    .repo_url = "https://github.com/acme/shop", .branch = "feature/x",
	    .base_branch = "main", .sha = S1, .has_pr = 1, .number = 5, .title = "Add x",
	    .author = "carol", .pr_url = "https://github.com/acme/shop/pull/5", .state = "open",
	    .run_url = "https://ci.example.com/job/shop/job/PR-5/3/" } },
	{ "jenkins GitHub Enterprise fork pull request",
	  { JK, "BRANCH_NAME=PR-6", "CHANGE_ID=6", "CHANGE_BRANCH=main", "CHANGE_TARGET=main",
	    "CHANGE_FORK=dave", "CHANGE_URL=https://ghe.example.com/acme/shop/pull/6" },
	  { .ci = "jenkins", .event = "pull_request", .host = "github",
	    .server_url = "https://ghe.example.com", .api_url = "https://ghe.example.com/api/v3",
	    .owner = "acme", .name = "shop", .full_name = "acme/shop",
	    .repo_url = "https://ghe.example.com/acme/shop", .branch = "main",
	    .base_branch = "main", .sha = S1, .has_pr = 1, .number = 6,
	    .pr_url = "https://ghe.example.com/acme/shop/pull/6", .state = "open", .fork = 1,
	    .head_repo = "dave", .run_url = "https://ci.example.com/job/shop/job/PR-5/3/" } },
	{ "jenkins GitLab merge request in a subgroup",
	  { JK, "BRANCH_NAME=MR-7-head", "CHANGE_ID=7", "CHANGE_BRANCH=feat", "CHANGE_TARGET=main",
	    "CHANGE_URL=https://gitlab.example.com/g/s/proj/-/merge_requests/7" },
	  { .ci = "jenkins", .event = "pull_request", .host = "gitlab",
	    .server_url = "https://gitlab.example.com",
	    .api_url = "https://gitlab.example.com/api/v4", .owner = "g/s", .name = "proj",
	    .full_name = "g/s/proj", .repo_url = "https://gitlab.example.com/g/s/proj",
	    .branch = "feat", .base_branch = "main", .sha = S1, .has_pr = 1, .number = 7,
	    .pr_url = "https://gitlab.example.com/g/s/proj/-/merge_requests/7", .state = "open",
	    .run_url = "https://ci.example.com/job/shop/job/PR-5/3/" } },
	{ "jenkins branch build, repository from GIT_URL",
	  { JK, "BRANCH_NAME=release/2", "GIT_URL=git@github.com:acme/shop.git" },
	  { .ci = "jenkins", .event = "push", .host = "github", .server_url = "https://github.com",
	    .api_url = "https://api.github.com", .owner = "acme", .name = "shop",
	    .full_name = "acme/shop", .repo_url = "https://github.com/acme/shop",
	    .branch = "release/2", .sha = S1,
	    .run_url = "https://ci.example.com/job/shop/job/PR-5/3/" } },
	{ "jenkins freestyle: GIT_BRANCH origin/x",
	  { JK, "GIT_BRANCH=origin/hotfix" },
	  { .ci = "jenkins", .event = "push", .branch = "hotfix", .sha = S1,
	    .run_url = "https://ci.example.com/job/shop/job/PR-5/3/" } },
	{ "jenkins tag build",
	  { JK, "BRANCH_NAME=v3", "TAG_NAME=v3" },
	  { .ci = "jenkins", .event = "tag", .tag = "v3", .sha = S1,
	    .run_url = "https://ci.example.com/job/shop/job/PR-5/3/" } },
	{ "jenkins non-numeric CHANGE_ID is a branch build",
	  { JK, "BRANCH_NAME=CR-abc", "CHANGE_ID=abc" },
	  { .ci = "jenkins", .event = "push", .branch = "CR-abc", .sha = S1,
	    .run_url = "https://ci.example.com/job/shop/job/PR-5/3/" } },
};

static const struct ci_case override_cases[] = {
	{ "overrides win over a GitHub PR",
	  { GH, "GITHUB_EVENT_NAME=pull_request", "GITHUB_EVENT_PATH=" FX "pull_request_fork.json",
	    "PRENV_BRANCH=forced", "PRENV_BASE_BRANCH=stable", "PRENV_SHA=" "ABCDEF0123456789ABCDEF0123456789ABCDEF01",
	    "PRENV_REPO=other/repo", "PRENV_PR=99", "PRENV_PR_TITLE=T", "PRENV_PR_AUTHOR=me",
	    "PRENV_PR_URL=https://x.example/pr/99", "PRENV_PR_STATE=merged", "PRENV_PR_FORK=false",
	    "PRENV_RUN_URL=https://run.example/1/", "PRENV_EVENT=custom", "PRENV_CI=github" },
	  { .ci = "github", .event = "custom", .action = "synchronize", .host = "github",
	    .server_url = "https://github.com", .api_url = "https://api.github.com",
	    .owner = "other", .name = "repo", .full_name = "other/repo",
	    .repo_url = "https://github.com/other/repo", .branch = "forced",
	    .base_branch = "stable", .sha = "abcdef0123456789abcdef0123456789abcdef01",
	    .has_pr = 1, .number = 99, .title = "T", .author = "me",
	    .pr_url = "https://x.example/pr/99", .state = "merged", .fork = 0,
	    .run_url = "https://run.example/1", .head_repo = "mallory/shop" } },
	{ "any other CI driven by overrides only",
	  { "PRENV_CI=buildkite", "PRENV_REPO_URL=git@gitlab.com:g/s/p.git",
	    "PRENV_BRANCH=feat/y", "PRENV_SHA=" S2, "PRENV_PR=3", "PRENV_PR_FORK=true" },
	  { .ci = "buildkite", .host = "gitlab", .server_url = "https://gitlab.com",
	    .api_url = "https://gitlab.com/api/v4", .owner = "g/s", .name = "p",
	    .full_name = "g/s/p", .repo_url = "https://gitlab.com/g/s/p", .branch = "feat/y",
	    .sha = S2, .has_pr = 1, .number = 3,
	    .pr_url = "https://gitlab.com/g/s/p/-/merge_requests/3", .state = "open",
	    .fork = 1 } },
	{ "local outside a checkout: all unknown",
	  { "HOME=/nonexistent" },
	  { .ci = "local" } },
	{ "empty variables count as unset",
	  { "GITHUB_ACTIONS=", "GITLAB_CI=", "JENKINS_URL=", "PRENV_PR=", "PRENV_BRANCH=" },
	  { .ci = "local" } },
};

static void run_cases(const struct ci_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct prenv_context *c = NULL;
		struct prenv_err err = PRENV_ERR_INIT;
		int rc = ci_detect(&c, cases[i].env, nogit_dir, &err);

		if (rc != 0)
			fail_msg("%s: ci_detect returned %d: %s", cases[i].name, rc,
				 err.msg ? err.msg : "(no message)");
		check(cases[i].name, &cases[i].x, c);
		ci_context_free(c);
	}
}

static void test_ci_github_table(void **state)
{
	(void)state;
	run_cases(github_cases, sizeof(github_cases) / sizeof(github_cases[0]));
}

static void test_ci_gitlab_table(void **state)
{
	(void)state;
	run_cases(gitlab_cases, sizeof(gitlab_cases) / sizeof(gitlab_cases[0]));
}

static void test_ci_jenkins_table(void **state)
{
	(void)state;
	run_cases(jenkins_cases, sizeof(jenkins_cases) / sizeof(jenkins_cases[0]));
}

static void test_ci_overrides_table(void **state)
{
	(void)state;
	run_cases(override_cases, sizeof(override_cases) / sizeof(override_cases[0]));
}

/* ------------------------------------------------------------------ */

static const struct {
	const char *env[8];
	const char *mention; /* the message must contain this */
} error_cases[] = {
	{ { "PRENV_PR=0" }, "PRENV_PR" },
	{ { "PRENV_PR=-4" }, "PRENV_PR" },
	{ { "PRENV_PR=12x" }, "PRENV_PR" },
	{ { "PRENV_PR= 12" }, "PRENV_PR" },
	{ { "PRENV_PR=99999999999999999999" }, "PRENV_PR" },
	{ { "PRENV_SHA=xyz" }, "PRENV_SHA" },
	{ { "PRENV_SHA=0123456" }, "PRENV_SHA" },
	{ { "PRENV_REPO=noslash" }, "PRENV_REPO" },
	{ { "PRENV_REPO=a/" }, "PRENV_REPO" },
	{ { "PRENV_REPO=/b" }, "PRENV_REPO" },
	{ { "PRENV_REPO=a/../b" }, "PRENV_REPO" },
	{ { "PRENV_REPO=a b/c" }, "PRENV_REPO" },
	{ { "PRENV_REPO_URL=/local/path/repo" }, "PRENV_REPO_URL" },
	{ { "PRENV_PR_STATE=draft" }, "PRENV_PR_STATE" },
	{ { "PRENV_PR_FORK=maybe" }, "PRENV_PR_FORK" },
	{ { "PRENV_API_URL=ftp://x" }, "PRENV_API_URL" },
	{ { "PRENV_RUN_URL=not a url" }, "PRENV_RUN_URL" },
	{ { "PRENV_BRANCH=a\nb" }, "PRENV_BRANCH" },
	{ { "PRENV_CI=a b" }, "PRENV_CI" },
	{ { "PRENV_HOST=sourceforge" }, "PRENV_HOST" },
	{ { "GITHUB_ACTIONS=true", "GITHUB_EVENT_NAME=push",
	    "GITHUB_EVENT_PATH=" FX "does-not-exist.json" }, FX "does-not-exist.json" },
	{ { "GITHUB_ACTIONS=true", "GITHUB_EVENT_NAME=pull_request",
	    "GITHUB_EVENT_PATH=" FX "malformed.json" }, FX "malformed.json" },
	{ { "GITHUB_ACTIONS=true", "GITHUB_EVENT_NAME=pull_request",
	    "GITHUB_EVENT_PATH=" FX "not_object.json" }, FX "not_object.json" },
};

static void test_ci_errors_are_config_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
		struct prenv_context *c = (struct prenv_context *)1;
		struct prenv_err err = PRENV_ERR_INIT;
		int rc = ci_detect(&c, error_cases[i].env, nogit_dir, &err);

		if (rc != PRENV_ECONFIG)
			fail_msg("case %zu (%s): want PRENV_ECONFIG, got %d", i,
				 error_cases[i].env[0], rc);
		assert_null(c);
		assert_non_null(err.msg);
		if (!strstr(err.msg, error_cases[i].mention))
			fail_msg("case %zu: message \"%s\" does not name %s", i, err.msg,
				 error_cases[i].mention);
		prenv_err_clear(&err);
	}
}

/* A NUL in a payload string (the escape \u0000, or a raw 0 byte) used to
 * cut the string silently ("x\u0000y" read as "x"). It is shown as U+FFFD
 * and ctx->warning names the event file and each field; a member name with
 * a NUL ("title\u0000x") no longer passes for the real one; an escaped
 * backslash before "u0000" is no NUL. A clean payload gives no warning. */
static void test_ci_github_nul_in_payload_strings(void **state)
{
	static const char payload[] =
		"{\"action\":\"opened\",\"number\":7,\"pull_request\":{\"number\":7,"
		"\"title\\u0000x\":\"planted\",\"title\":\"x\\u0000y\",\"state\":\"open\","
		"\"html_url\":\"https://github.com/acme/shop/pull/7\","
		"\"user\":{\"login\":\"mal\0lory\"},"
		"\"head\":{\"ref\":\"feat\\u0000evil\",\"sha\":\"" S1 "\","
		"\"repo\":{\"full_name\":\"acme/shop\"}},"
		"\"base\":{\"ref\":\"\\\\u0000base\",\"repo\":{\"full_name\":\"acme/shop\"}}},"
		"\"repository\":{\"full_name\":\"acme/shop\"}}";
	char path[512], envpath[600];
	const char *envp[] = { "GITHUB_ACTIONS=true", "GITHUB_EVENT_NAME=pull_request",
			       envpath, "GITHUB_REPOSITORY=acme/shop", NULL };
	const char *clean[] = { "GITHUB_ACTIONS=true", "GITHUB_EVENT_NAME=pull_request",
				"GITHUB_EVENT_PATH=" FX "pull_request_fork.json", NULL };
	struct prenv_context *c = NULL;
	struct prenv_err err = PRENV_ERR_INIT;
	const char *tc = "nul";
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/nul-event.json", nogit_dir);
	snprintf(envpath, sizeof(envpath), "GITHUB_EVENT_PATH=%s", path);
	assert_non_null(f = fopen(path, "wb"));
	assert_int_equal(fwrite(payload, 1, sizeof(payload) - 1, f), sizeof(payload) - 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(ci_detect(&c, envp, nogit_dir, &err), 0);
	ASSERT_STR("pr_title", "x\xef\xbf\xbdy", c->pr_title);
	ASSERT_STR("pr_author", "mal\xef\xbf\xbdlory", c->pr_author);
	ASSERT_STR("branch", "feat\xef\xbf\xbd" "evil", c->branch);
	ASSERT_STR("base_branch", "\\u0000base", c->base_branch);
	ASSERT_STR("sha", S1, c->sha);
	assert_non_null(c->warning);
	assert_non_null(strstr(c->warning, path));
	assert_non_null(strstr(c->warning, "pull_request.title\xef\xbf\xbdx"));
	assert_non_null(strstr(c->warning, "pull_request.title,"));
	assert_non_null(strstr(c->warning, "pull_request.user.login"));
	assert_non_null(strstr(c->warning, "pull_request.head.ref"));
	assert_null(strstr(c->warning, "base"));
	ci_context_free(c);
	c = NULL;
	assert_int_equal(ci_detect(&c, clean, nogit_dir, &err), 0);
	assert_null(c->warning);
	ci_context_free(c);
	unlink(path);
}

/* ------------------------------------------------------------------ */

static const struct {
	const char *url;
	const char *host, *hostname, *owner, *name, *repo_url, *api_url;
} remote_cases[] = {
	{ "https://github.com/acme/shop.git", "github", "github.com", "acme", "shop",
	  "https://github.com/acme/shop", "https://api.github.com" },
	{ "https://github.com/acme/shop", "github", "github.com", "acme", "shop",
	  "https://github.com/acme/shop", "https://api.github.com" },
	{ "https://github.com/acme/shop/", "github", "github.com", "acme", "shop",
	  "https://github.com/acme/shop", "https://api.github.com" },
	{ "https://x-access-token:SECRET@github.com/acme/shop.git", "github", "github.com",
	  "acme", "shop", "https://github.com/acme/shop", "https://api.github.com" },
	{ "git@github.com:acme/shop.git", "github", "github.com", "acme", "shop",
	  "https://github.com/acme/shop", "https://api.github.com" },
	{ "git@github.com:acme/shop", "github", "github.com", "acme", "shop",
	  "https://github.com/acme/shop", "https://api.github.com" },
	{ "ssh://git@github.com/acme/my.repo.git", "github", "github.com", "acme", "my.repo",
	  "https://github.com/acme/my.repo", "https://api.github.com" },
	{ "ssh://git@gitlab.example.com:2222/grp/sub/proj.git", "gitlab", "gitlab.example.com",
	  "grp/sub", "proj", "https://gitlab.example.com/grp/sub/proj",
	  "https://gitlab.example.com/api/v4" },
	{ "https://gitlab.example.com:8443/grp/sub/deeper/proj.git", "gitlab",
	  "gitlab.example.com:8443", "grp/sub/deeper", "proj",
	  "https://gitlab.example.com:8443/grp/sub/deeper/proj",
	  "https://gitlab.example.com:8443/api/v4" },
	{ "git@gitlab.com:g/s/p.git", "gitlab", "gitlab.com", "g/s", "p",
	  "https://gitlab.com/g/s/p", "https://gitlab.com/api/v4" },
	{ "https://bitbucket.org/team/repo.git", "bitbucket", "bitbucket.org", "team", "repo",
	  "https://bitbucket.org/team/repo", "https://api.bitbucket.org/2.0" },
	{ "https://codeberg.org/u/r.git", "gitea", "codeberg.org", "u", "r",
	  "https://codeberg.org/u/r", "https://codeberg.org/api/v1" },
	{ "http://git.internal.lan/Team/Repo", NULL, "git.internal.lan", "Team", "Repo",
	  "http://git.internal.lan/Team/Repo", NULL },
	{ "HTTPS://GitHub.COM/acme/shop.git", "github", "github.com", "acme", "shop",
	  "https://github.com/acme/shop", "https://api.github.com" },
	{ "git://example.org/o/n.git", NULL, "example.org", "o", "n",
	  "https://example.org/o/n", NULL },
	/* failures */
	{ "/srv/git/repo.git", NULL, NULL, NULL, NULL, NULL, NULL },
	{ "../relative/repo", NULL, NULL, NULL, NULL, NULL, NULL },
	{ "https://github.com/onlyowner", NULL, NULL, NULL, NULL, NULL, NULL },
	{ "https://github.com/", NULL, NULL, NULL, NULL, NULL, NULL },
	{ "https:///acme/shop", NULL, NULL, NULL, NULL, NULL, NULL },
	{ "https://github.com/a/../b", NULL, NULL, NULL, NULL, NULL, NULL },
	{ "file:///tmp/a/b", NULL, NULL, NULL, NULL, NULL, NULL },
	{ "", NULL, NULL, NULL, NULL, NULL, NULL },
	{ "git@github.com:", NULL, NULL, NULL, NULL, NULL, NULL },
	{ "https://github.com//shop", NULL, NULL, NULL, NULL, NULL, NULL },
};

static void test_ci_parse_remote_url_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(remote_cases) / sizeof(remote_cases[0]); i++) {
		struct ci_url_info u;
		struct prenv_err err = PRENV_ERR_INIT;
		const char *tc = remote_cases[i].url;
		int rc = ci_parse_remote_url(&u, tc, &err);

		if (!remote_cases[i].owner) {
			if (rc != PRENV_ECONFIG)
				fail_msg("\"%s\": want PRENV_ECONFIG, got %d", tc, rc);
			assert_null(u.owner);
			prenv_err_clear(&err);
			continue;
		}
		if (rc != 0)
			fail_msg("\"%s\": rc %d: %s", tc, rc, err.msg);
		ASSERT_STR("host", remote_cases[i].host, u.host);
		ASSERT_STR("hostname", remote_cases[i].hostname, u.hostname);
		ASSERT_STR("owner", remote_cases[i].owner, u.owner);
		ASSERT_STR("name", remote_cases[i].name, u.name);
		ASSERT_STR("repo_url", remote_cases[i].repo_url, u.repo_url);
		ASSERT_STR("api_url", remote_cases[i].api_url, u.api_url);
		if (strstr(u.repo_url, "SECRET") || strstr(u.server_url, "SECRET"))
			fail_msg("\"%s\": credentials kept", tc);
		ci_url_info_clear(&u);
	}
}

static const struct {
	const char *url;
	const char *host, *server, *api, *owner, *name, *repo_url;
	long number;
} change_cases[] = {
	{ "https://github.com/o/n/pull/5", "github", "https://github.com",
	  "https://api.github.com", "o", "n", "https://github.com/o/n", 5 },
	{ "https://ghe.x/o/n/pull/5", "github", "https://ghe.x", "https://ghe.x/api/v3",
	  "o", "n", "https://ghe.x/o/n", 5 },
	{ "https://gitlab.x/group/sub/proj/-/merge_requests/5", "gitlab", "https://gitlab.x",
	  "https://gitlab.x/api/v4", "group/sub", "proj", "https://gitlab.x/group/sub/proj", 5 },
	{ "https://bitbucket.org/team/repo/pull-requests/12", "bitbucket",
	  "https://bitbucket.org", "https://api.bitbucket.org/2.0", "team", "repo",
	  "https://bitbucket.org/team/repo", 12 },
	{ "https://bb.corp:7990/projects/PRJ/repos/app/pull-requests/3", "bitbucket",
	  "https://bb.corp:7990", "https://bb.corp:7990/rest/api/1.0", "PRJ", "app",
	  "https://bb.corp:7990/projects/PRJ/repos/app", 3 },
	{ "https://gitea.x/o/n/pulls/8", "gitea", "https://gitea.x", "https://gitea.x/api/v1",
	  "o", "n", "https://gitea.x/o/n", 8 },
	{ "https://github.com/o/pull/pull/9/", "github", "https://github.com",
	  "https://api.github.com", "o", "pull", "https://github.com/o/pull", 9 },
	/* failures */
	{ "https://github.com/o/n/pull/0", NULL, NULL, NULL, NULL, NULL, NULL, 0 },
	{ "https://github.com/o/n/pull/x", NULL, NULL, NULL, NULL, NULL, NULL, 0 },
	{ "https://github.com/o/n/issues/5", NULL, NULL, NULL, NULL, NULL, NULL, 0 },
	{ "https://github.com/pull/5", NULL, NULL, NULL, NULL, NULL, NULL, 0 },
	{ "git@github.com:o/n/pull/5", NULL, NULL, NULL, NULL, NULL, NULL, 0 },
	{ "https://gitlab.x/-/merge_requests/5", NULL, NULL, NULL, NULL, NULL, NULL, 0 },
	{ "", NULL, NULL, NULL, NULL, NULL, NULL, 0 },
};

static void test_ci_parse_change_url_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(change_cases) / sizeof(change_cases[0]); i++) {
		struct ci_url_info u;
		struct prenv_err err = PRENV_ERR_INIT;
		const char *tc = change_cases[i].url;
		int rc = ci_parse_change_url(&u, tc, &err);

		if (!change_cases[i].host) {
			if (rc != PRENV_ECONFIG)
				fail_msg("\"%s\": want PRENV_ECONFIG, got %d", tc, rc);
			prenv_err_clear(&err);
			continue;
		}
		if (rc != 0)
			fail_msg("\"%s\": rc %d: %s", tc, rc, err.msg);
		ASSERT_STR("host", change_cases[i].host, u.host);
		ASSERT_STR("server_url", change_cases[i].server, u.server_url);
		ASSERT_STR("api_url", change_cases[i].api, u.api_url);
		ASSERT_STR("owner", change_cases[i].owner, u.owner);
		ASSERT_STR("name", change_cases[i].name, u.name);
		ASSERT_STR("repo_url", change_cases[i].repo_url, u.repo_url);
		ASSERT_INT("number", change_cases[i].number, u.number);
		ci_url_info_clear(&u);
	}
}

/* ------------------------------------------------------------------ */

static void test_ci_getenv(void **state)
{
	const char *envp[] = { "A=1", "AB=2", "EMPTY=", "EQ==x", NULL };

	(void)state;
	assert_string_equal(ci_getenv(envp, "A"), "1");
	assert_string_equal(ci_getenv(envp, "AB"), "2");
	assert_null(ci_getenv(envp, "EMPTY"));
	assert_null(ci_getenv(envp, "B"));
	assert_string_equal(ci_getenv(envp, "EQ"), "=x");
	assert_null(ci_getenv(NULL, "A"));
}

static void test_ci_json_shape(void **state)
{
	const char *envp[] = { GH, "GITHUB_EVENT_NAME=pull_request",
			       "GITHUB_EVENT_PATH=" FX "pull_request_closed_merged.json", NULL };
	const char *push[] = { GH, "GITHUB_EVENT_NAME=push", "GITHUB_REF=refs/heads/main", NULL };
	struct prenv_context *c = NULL;
	struct prenv_err err = PRENV_ERR_INIT;
	cJSON *j, *pr;

	(void)state;
	assert_int_equal(ci_detect(&c, envp, nogit_dir, &err), 0);
	j = ci_context_to_json(c);
	assert_non_null(j);
	assert_string_equal(cJSON_GetObjectItem(j, "ci")->valuestring, "github");
	assert_string_equal(cJSON_GetObjectItem(j, "event")->valuestring, "pull_request");
	assert_string_equal(cJSON_GetObjectItem(j, "action")->valuestring, "closed");
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "repo"), "owner")->valuestring, "acme");
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "repo"), "full_name")->valuestring, "acme/shop");
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "repo"), "url")->valuestring,
			    "https://github.com/acme/shop");
	assert_string_equal(cJSON_GetObjectItem(j, "branch")->valuestring, "feature/login");
	assert_string_equal(cJSON_GetObjectItem(j, "base_branch")->valuestring, "main");
	assert_string_equal(cJSON_GetObjectItem(j, "sha")->valuestring, S1);
	/* "pr" is the number in every command's JSON; the details are in
	 * "pull_request" */
	assert_true(cJSON_IsNumber(cJSON_GetObjectItem(j, "pr")));
	assert_int_equal(cJSON_GetObjectItem(j, "pr")->valueint, 42);
	pr = cJSON_GetObjectItem(j, "pull_request");
	assert_true(cJSON_IsObject(pr));
	assert_true(cJSON_IsNumber(cJSON_GetObjectItem(pr, "number")));
	assert_int_equal(cJSON_GetObjectItem(pr, "number")->valueint, 42);
	assert_string_equal(cJSON_GetObjectItem(pr, "title")->valuestring, "Add login");
	assert_string_equal(cJSON_GetObjectItem(pr, "author")->valuestring, "alice");
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(pr, "fork")));
	assert_string_equal(cJSON_GetObjectItem(pr, "state")->valuestring, "merged");
	assert_string_equal(cJSON_GetObjectItem(j, "run_url")->valuestring,
			    "https://github.com/acme/shop/actions/runs/77");
	cJSON_Delete(j);
	ci_context_free(c);

	assert_int_equal(ci_detect(&c, push, nogit_dir, &err), 0);
	j = ci_context_to_json(c);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "pr")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "pull_request")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "base_branch")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "action")));
	cJSON_Delete(j);
	ci_context_free(c);
	ci_context_free(NULL);
}

/* ------------------------------------------------------------------ */
/* The local checkout                                                   */

static void test_ci_local_checkout(void **state)
{
	char dir[256], sha[41];
	const char *envp[] = { "HOME=/nonexistent", NULL };
	const char *gh_partial[] = { "GITHUB_ACTIONS=true", "GITHUB_EVENT_NAME=push", NULL };
	struct prenv_context *c = NULL;
	struct prenv_err err = PRENV_ERR_INIT;

	(void)state;
	assert_int_equal(gitfx_tmpdir(dir, sizeof(dir)), 0);
	assert_int_equal(gitfx_repo_with_commit(dir, "main"), 0);
	assert_int_equal(gitfx_run(dir, "checkout", "-q", "-b", "feature/local", NULL), 0);
	assert_int_equal(gitfx_run(dir, "remote", "add", "origin",
				   "git@gitlab.example.com:grp/sub/app.git", NULL), 0);
	assert_int_equal(gitfx_head(dir, sha), 0);

	assert_int_equal(ci_detect(&c, envp, dir, &err), 0);
	{
		const char *tc = "local checkout";
		struct expect x = { .ci = "local", .host = "gitlab",
			.server_url = "https://gitlab.example.com",
			.api_url = "https://gitlab.example.com/api/v4", .owner = "grp/sub",
			.name = "app", .full_name = "grp/sub/app",
			.repo_url = "https://gitlab.example.com/grp/sub/app",
			.branch = "feature/local", .sha = sha };
		check(tc, &x, c);
	}
	ci_context_free(c);

	/* GitHub Actions with missing variables: the checkout fills in */
	assert_int_equal(ci_detect(&c, gh_partial, dir, &err), 0);
	assert_string_equal(c->ci, "github");
	assert_string_equal(c->branch, "feature/local");
	assert_string_equal(c->sha, sha);
	assert_string_equal(c->repo_full_name, "grp/sub/app");
	ci_context_free(c);

	/* detached HEAD: no branch, unless overridden */
	assert_int_equal(gitfx_run(dir, "checkout", "-q", "--detach", "HEAD", NULL), 0);
	assert_int_equal(ci_detect(&c, envp, dir, &err), 0);
	assert_null(c->branch);
	assert_string_equal(c->sha, sha);
	ci_context_free(c);
	{
		const char *ov[] = { "PRENV_BRANCH=given", NULL };

		assert_int_equal(ci_detect(&c, ov, dir, &err), 0);
		assert_string_equal(c->branch, "given");
		ci_context_free(c);
	}
	gitfx_rmrf(dir);
}

/* ------------------------------------------------------------------ */
/* Real payloads                                                        */

static int write_tmp(const char *dir, const char *name, const char *text, char *path,
		     size_t n)
{
	FILE *f;

	snprintf(path, n, "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static const char *js(const cJSON *o, const char *a, const char *b, const char *c3)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);

	if (b)
		v = cJSON_GetObjectItemCaseSensitive(v, b);
	if (c3)
		v = cJSON_GetObjectItemCaseSensitive(v, c3);
	return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

/* Runs ci_detect over one payload and checks it against the payload's own
 * fields. Returns 1 when checked. */
static int check_payload(const char *event, const cJSON *payload, const char *label)
{
	char path[512], envpath[600], envname[100], envrepo[300];
	const char *envp[6];
	struct prenv_context *c = NULL;
	struct prenv_err err = PRENV_ERR_INIT;
	char *text = cJSON_PrintUnformatted(payload);
	const char *repo = js(payload, "repository", "full_name", NULL);
	const char *tc = label;
	int rc;

	assert_non_null(text);
	assert_int_equal(write_tmp(nogit_dir, "event.json", text, path, sizeof(path)), 0);
	free(text);
	snprintf(envpath, sizeof(envpath), "GITHUB_EVENT_PATH=%s", path);
	snprintf(envname, sizeof(envname), "GITHUB_EVENT_NAME=%s", event);
	snprintf(envrepo, sizeof(envrepo), "GITHUB_REPOSITORY=%s", repo ? repo : "");
	envp[0] = "GITHUB_ACTIONS=true";
	envp[1] = envpath;
	envp[2] = envname;
	envp[3] = envrepo;
	envp[4] = "GITHUB_SHA=" MERGE;
	envp[5] = NULL;
	rc = ci_detect(&c, envp, nogit_dir, &err);
	if (rc != 0)
		fail_msg("%s: ci_detect: %s", label, err.msg);
	ASSERT_STR("event", event, c->event);
	ASSERT_STR("action", js(payload, "action", NULL, NULL), c->action);
	ASSERT_STR("repo_full_name", repo, c->repo_full_name);
	if (strcmp(event, "pull_request") == 0) {
		const cJSON *pr = cJSON_GetObjectItemCaseSensitive(payload, "pull_request");
		const char *head = js(pr, "head", "repo", "full_name");
		const char *base = js(pr, "base", "repo", "full_name");
		const char *state = cJSON_IsTrue(cJSON_GetObjectItem(pr, "merged")) ? "merged" :
				    js(pr, "state", NULL, NULL);
		int fork = !head || strcmp(head, base) != 0;

		ASSERT_INT("has_pr", 1, c->has_pr);
		ASSERT_INT("number", cJSON_GetObjectItem(payload, "number")->valuedouble, c->pr_number);
		ASSERT_STR("title", js(pr, "title", NULL, NULL), c->pr_title);
		ASSERT_STR("author", js(pr, "user", "login", NULL), c->pr_author);
		ASSERT_STR("url", js(pr, "html_url", NULL, NULL), c->pr_url);
		ASSERT_STR("sha", js(pr, "head", "sha", NULL), c->sha);
		ASSERT_STR("branch", js(pr, "head", "ref", NULL), c->branch);
		ASSERT_STR("base_branch", js(pr, "base", "ref", NULL), c->base_branch);
		ASSERT_STR("state", state, c->pr_state);
		ASSERT_INT("fork", fork, c->pr_fork);
		if (strcmp(c->sha, MERGE) == 0)
			fail_msg("%s: took GITHUB_SHA", label);
	} else if (strcmp(event, "push") == 0) {
		const char *ref = js(payload, "ref", NULL, NULL);
		int deleted = cJSON_IsTrue(cJSON_GetObjectItem(payload, "deleted"));

		ASSERT_INT("has_pr", 0, c->has_pr);
		ASSERT_INT("deleted", deleted, c->ref_deleted);
		ASSERT_STR("sha", deleted ? NULL : js(payload, "after", NULL, NULL), c->sha);
		ASSERT_STR("branch", strncmp(ref, "refs/heads/", 11) ? NULL : ref + 11, c->branch);
		ASSERT_STR("tag", strncmp(ref, "refs/tags/", 10) ? NULL : ref + 10, c->tag);
	} else if (strcmp(event, "delete") == 0) {
		int tag = strcmp(js(payload, "ref_type", NULL, NULL), "tag") == 0;

		ASSERT_INT("deleted", 1, c->ref_deleted);
		ASSERT_STR("branch", tag ? NULL : js(payload, "ref", NULL, NULL), c->branch);
		ASSERT_STR("tag", tag ? js(payload, "ref", NULL, NULL) : NULL, c->tag);
		ASSERT_STR("sha", NULL, c->sha);
	} else if (strcmp(event, "workflow_run") == 0) {
		const cJSON *wr = cJSON_GetObjectItem(payload, "workflow_run");
		const cJSON *prs = cJSON_GetObjectItem(wr, "pull_requests");

		ASSERT_STR("branch", js(wr, "head_branch", NULL, NULL), c->branch);
		ASSERT_STR("sha", js(wr, "head_sha", NULL, NULL), c->sha);
		ASSERT_INT("has_pr", cJSON_GetArraySize(prs) > 0, c->has_pr);
		if (c->has_pr)
			ASSERT_INT("number",
				   cJSON_GetObjectItem(cJSON_GetArrayItem(prs, 0), "number")->valuedouble,
				   c->pr_number);
	}
	ci_context_free(c);
	return 1;
}

static void test_ci_webhooks_examples(void **state)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	cJSON *root, *ev;
	int counts[4] = { 0 };
	static const char *const events[] = { "pull_request", "push", "delete", "workflow_run" };

	(void)state;
	if (prenv_buf_read_file(&b, NPM_INDEX) < 0)
		fail_msg("%s is missing: run test/fetch-fixtures.sh first "
			 "(installs @octokit/webhooks-examples into build/npm)", NPM_INDEX);
	root = cJSON_ParseWithLength(b.ptr, b.len);
	prenv_buf_free(&b);
	assert_true(cJSON_IsArray(root));
	cJSON_ArrayForEach(ev, root) {
		const char *name = js(ev, "name", NULL, NULL);
		const cJSON *ex;
		int k;

		for (k = 0; k < 4; k++)
			if (name && strcmp(name, events[k]) == 0)
				break;
		if (k == 4)
			continue;
		cJSON_ArrayForEach(ex, cJSON_GetObjectItem(ev, "examples")) {
			char label[128];

			snprintf(label, sizeof(label), "webhooks-examples %s #%d", name, counts[k]);
			counts[k] += check_payload(name, ex, label);
		}
	}
	cJSON_Delete(root);
	/* The package has 29 pull_request and 7 push examples in 7.6; a much
	 * smaller number means the layout changed and we checked nothing. */
	assert_true(counts[0] >= 10);
	assert_true(counts[1] >= 3);
	printf("# webhooks-examples: %d pull_request + %d push payloads checked "
	       "(+ %d delete, %d workflow_run)\n", counts[0], counts[1], counts[2], counts[3]);
}

static void test_ci_refdata_payloads(void **state)
{
	const char *ref = getenv("PRENV_REFDATA");
	char dir[512], path[800];
	DIR *dh;
	struct dirent *de;
	int n = 0;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/github/webhook-payloads/pull_request",
		 ref && *ref ? ref : "../shared/refdata");
	dh = opendir(dir);
	if (!dh)
		fail_msg("%s: %s (set PRENV_REFDATA to shared/refdata)", dir, strerror(errno));
	while ((de = readdir(dh))) {
		struct prenv_buf b = PRENV_BUF_INIT;
		cJSON *p;

		if (!strstr(de->d_name, ".json"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		assert_int_equal(prenv_buf_read_file(&b, path), 0);
		p = cJSON_ParseWithLength(b.ptr, b.len);
		prenv_buf_free(&b);
		assert_non_null(p);
		n += check_payload("pull_request", p, de->d_name);
		cJSON_Delete(p);
	}
	closedir(dh);
	assert_true(n >= 5);
	printf("# refdata: %d pull_request payloads checked\n", n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ci_getenv),
		cmocka_unit_test(test_ci_github_table),
		cmocka_unit_test(test_ci_gitlab_table),
		cmocka_unit_test(test_ci_jenkins_table),
		cmocka_unit_test(test_ci_overrides_table),
		cmocka_unit_test(test_ci_errors_are_config_errors),
		cmocka_unit_test(test_ci_github_nul_in_payload_strings),
		cmocka_unit_test(test_ci_parse_remote_url_table),
		cmocka_unit_test(test_ci_parse_change_url_table),
		cmocka_unit_test(test_ci_json_shape),
		cmocka_unit_test(test_ci_local_checkout),
		cmocka_unit_test(test_ci_webhooks_examples),
		cmocka_unit_test(test_ci_refdata_payloads),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
