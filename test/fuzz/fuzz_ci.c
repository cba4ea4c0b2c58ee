/* fuzz_ci.c - libFuzzer target for CI detection on GitHub Actions: the
 * event JSON that GITHUB_EVENT_PATH names (context/ci_github.c).
 *
 * Input: the first byte picks the event (GITHUB_EVENT_NAME: its low three
 * bits index fz_events[]) and whether the fall-back variables GITHUB_REF,
 * GITHUB_SHA and GITHUB_REPOSITORY are set (bit 3); the rest is the event
 * file, written to a private temporary directory. ci_detect() runs with
 * that environment and the (empty, not a checkout) directory as repo_dir,
 * the whole path a GitHub run takes. Must not crash, leak or misbehave: an
 * error is PRENV_ECONFIG naming the file, and a context that is detected
 * says github and the event, and prints as JSON that parses back. */
#include <git2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "context/ci.h"
#include "util/err.h"
#include "fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const fz_events[8] = {
	"pull_request", "pull_request_target", "push", "delete",
	"workflow_run", "workflow_dispatch", "issue_comment", "create",
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc; (void)argv;
	/* ci_detect() opens the checkout through libgit2, which initialises
	 * itself (loading the system's CA certificates) on every first
	 * git_libgit2_init(): holding one reference keeps that to once. */
	git_libgit2_init();
	return 0;
}

static void fz_check_ctx(const struct prenv_context *ctx, const char *event)
{
	cJSON *j = ci_context_to_json(ctx), *back;
	char *text;

	if (!ctx->ci || strcmp(ctx->ci, "github") || !ctx->event || strcmp(ctx->event, event))
		abort();
	if (!j || !(text = cJSON_PrintUnformatted(j)))
		abort();
	back = cJSON_Parse(text);
	if (!back || !cJSON_Compare(j, back, 1))
		abort(); /* what `prenv context -o json` prints reads back */
	cJSON_Delete(back);
	cJSON_free(text);
	cJSON_Delete(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[512], ev_path[600], ev_name[64];
	const char *envp[8];
	struct prenv_context *ctx = NULL;
	struct prenv_err err = PRENV_ERR_INIT;
	const char *event;
	size_t n = 0;
	int rc;

	if (size < 1)
		return 0;
	event = fz_events[data[0] & 7];
	fz_write_file(path, sizeof(path), "event.json", data + 1, size - 1);
	snprintf(ev_path, sizeof(ev_path), "GITHUB_EVENT_PATH=%s", path);
	snprintf(ev_name, sizeof(ev_name), "GITHUB_EVENT_NAME=%s", event);
	envp[n++] = "GITHUB_ACTIONS=true";
	envp[n++] = ev_name;
	envp[n++] = ev_path;
	if (data[0] & 8) {
		envp[n++] = "GITHUB_REF=refs/heads/main";
		envp[n++] = "GITHUB_SHA=0123456789abcdef0123456789abcdef01234567";
		envp[n++] = "GITHUB_REPOSITORY=octo/repo";
	}
	envp[n] = NULL;
	rc = ci_detect(&ctx, envp, fz_tmpdir(), &err);
	if ((rc < 0) != (ctx == NULL) || (rc < 0) != (err.code != 0) || rc > 0)
		abort();
	if (rc < 0 && err.code != PRENV_ENOMEM &&
	    (err.code != PRENV_ECONFIG || !err.msg || !err.file || strcmp(err.file, path)))
		abort(); /* a bad event file is a config error naming it */
	if (ctx)
		fz_check_ctx(ctx, event);
	ci_context_free(ctx);
	prenv_err_clear(&err);
	return 0;
}
