/* ci_github.c - GitHub Actions: the GITHUB_* variables and the event JSON
 * that GITHUB_EVENT_PATH names.
 *
 * The payload says the most (the PR's head branch and sha, the deleted ref,
 * the run that triggered a workflow_run); GITHUB_REF and GITHUB_SHA are the
 * fall-back where there is no payload or the event is not one read here.
 * One reader per event kind, found by name in github_events[].
 */
#include <errno.h>
#include <string.h>

#include "context/ci.h"
#include "context/ci_int.h"
#include "util/buf.h"
#include "util/err.h"

/* ------------------------------------------------------------------ */
/* The payload                                                         */

/* Object member by dotted path ("head.repo.full_name"). */
static const cJSON *jget(const cJSON *o, const char *path)
{
	char key[64];

	while (o && *path) {
		size_t n = strcspn(path, ".");

		if (n >= sizeof(key))
			return NULL;
		memcpy(key, path, n);
		key[n] = '\0';
		o = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
		path += n;
		if (*path == '.')
			path++;
	}
	return o;
}

static const char *jstr(const cJSON *o, const char *path)
{
	const cJSON *v = jget(o, path);

	return cJSON_IsString(v) && v->valuestring && v->valuestring[0] ?
	       v->valuestring : NULL;
}

static long jnum(const cJSON *o, const char *path)
{
	const cJSON *v = jget(o, path);

	if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 1e15 ||
	    v->valuedouble != (double)(long)v->valuedouble)
		return 0;
	return (long)v->valuedouble;
}

/* ------------------------------------------------------------------ */
/* NUL characters                                                      */
/*
 * cJSON ends its strings at a NUL, so a title "x\u0000y" would be read as
 * "x" without a word, and a member "title\u0000x" as "title". prenv keeps
 * working on such a pull request: each NUL inside a string (the escape or a
 * raw 0 byte) is read as U+FFFD, and the context's warning names the event
 * file and every member that had one.
 */

/* Copies the n bytes at s into out with each NUL inside a JSON string
 * replaced by the escape \ufffd. Returns the number replaced. */
static int nul_to_fffd(const char *s, size_t n, struct prenv_buf *out)
{
	size_t i, from = 0;
	int in_str = 0, count = 0;

	for (i = 0; i < n; i++) {
		size_t len = 0;

		if (!in_str)
			in_str = s[i] == '"';
		else if (s[i] == '"')
			in_str = 0;
		else if (s[i] == '\0')
			len = 1;
		else if (s[i] == '\\' && n - i >= 6 && !memcmp(s + i + 1, "u0000", 5))
			len = 6;
		else if (s[i] == '\\')
			i++; /* the escaped character ('\\', '"', ...) */
		if (!len)
			continue;
		prenv_buf_add(out, s + from, i - from);
		prenv_buf_adds(out, "\\ufffd");
		from = i + len;
		i += len - 1;
		count++;
	}
	prenv_buf_add(out, s + from, n - from);
	return count;
}

/* Appends to list the dotted path of every member of b (the text read with
 * U+FFFD) whose name or string differs from a's (read as cJSON cuts it). */
static void nul_members(const cJSON *a, const cJSON *b, struct prenv_buf *path,
			struct prenv_buf *list)
{
	size_t len = path->len;
	int i = 0;

	for (a = a->child, b = b->child; a && b; a = a->next, b = b->next, i++) {
		if (b->string)
			prenv_buf_printf(path, "%s%s", len ? "." : "", b->string);
		else
			prenv_buf_printf(path, "[%d]", i);
		if ((b->string && a->string && strcmp(a->string, b->string)) ||
		    (cJSON_IsString(b) && cJSON_IsString(a) && strcmp(a->valuestring, b->valuestring)))
			prenv_buf_printf(list, "%s%s", list->len ? ", " : "", path->ptr);
		nul_members(a, b, path, list);
		prenv_buf_truncate(path, len);
	}
}

/* Parses the payload; with NULs in it, the copy that reads them as U+FFFD,
 * and d->c->warning says where they were. */
static cJSON *github_event_parse(struct ci_det *d, const char *path, const struct prenv_buf *raw)
{
	struct prenv_buf fixed = PRENV_BUF_INIT, where = PRENV_BUF_INIT, list = PRENV_BUF_INIT;
	cJSON *cut = cJSON_ParseWithLength(raw->ptr, raw->len), *root = NULL;

	if (!cut || !cJSON_IsObject(cut) ||
	    (!memchr(raw->ptr, '\0', raw->len) && !memmem(raw->ptr, raw->len, "\\u0000", 6)) ||
	    !nul_to_fffd(raw->ptr, raw->len, &fixed) ||
	    fixed.failed || !(root = cJSON_ParseWithLength(fixed.ptr, fixed.len))) {
		if (fixed.failed)
			d->oom = 1;
		prenv_buf_free(&fixed);
		return cut;
	}
	nul_members(cut, root, &where, &list);
	ci_putf(d, &d->c->warning,
		"the GitHub event file %s (GITHUB_EVENT_PATH) has NUL characters (\\u0000) in "
		"%s; prenv reads each as U+FFFD (\xef\xbf\xbd)", path,
		list.len ? list.ptr : "a string");
	if (where.failed || list.failed)
		d->oom = 1;
	prenv_buf_free(&where);
	prenv_buf_free(&list);
	prenv_buf_free(&fixed);
	cJSON_Delete(cut);
	return root;
}

static int github_event_file(struct ci_det *d, const char *path, cJSON **out,
			     struct prenv_err *err)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	const char *at;
	cJSON *root;

	*out = NULL;
	if (prenv_buf_read_file(&b, path) < 0) {
		int e = errno;

		prenv_buf_free(&b);
		return prenv_err_set_at(err, PRENV_ECONFIG, path, 0, 0,
					"cannot read the GitHub event file %s "
					"(GITHUB_EVENT_PATH): %s", path, strerror(e));
	}
	root = github_event_parse(d, path, &b);
	if (!root || !cJSON_IsObject(root)) {
		at = root ? NULL : cJSON_GetErrorPtr();
		if (at && at >= b.ptr && at <= b.ptr + b.len)
			prenv_err_set_at(err, PRENV_ECONFIG, path, 0, 0,
					 "the GitHub event file %s (GITHUB_EVENT_PATH) "
					 "is not valid JSON (error near byte %ld)",
					 path, (long)(at - b.ptr));
		else
			prenv_err_set_at(err, PRENV_ECONFIG, path, 0, 0,
					 "the GitHub event file %s (GITHUB_EVENT_PATH) "
					 "is not a JSON object", path);
		cJSON_Delete(root);
		prenv_buf_free(&b);
		return PRENV_ECONFIG;
	}
	prenv_buf_free(&b);
	*out = root;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Refs                                                                */

/* refs/heads/x -> branch x; refs/tags/x -> tag x; anything else: ignored. */
static void set_ref(struct ci_det *d, const char *ref)
{
	struct prenv_context *c = d->c;

	if (ci_starts(ref, "refs/heads/") && ref[11])
		ci_put(d, &c->branch, ref + 11);
	else if (ci_starts(ref, "refs/tags/") && ref[10])
		ci_put(d, &c->tag, ref + 10);
}

/* A short ref name and its type ("tag", else a branch). */
static void set_ref_name(struct ci_det *d, const char *type, const char *name)
{
	struct prenv_context *c = d->c;

	if (ci_streq(type, "tag"))
		ci_put(d, &c->tag, name);
	else
		ci_put(d, &c->branch, name);
}

static int is_zero_sha(const char *s)
{
	if (!s || !*s)
		return 0;
	for (; *s; s++)
		if (*s != '0')
			return 0;
	return 1;
}

/* ------------------------------------------------------------------ */
/* One reader per event kind                                           */

static int is_pr_event(const char *event)
{
	return ci_streq(event, "pull_request") ||
	       ci_streq(event, "pull_request_target") ||
	       ci_streq(event, "pull_request_review") ||
	       ci_streq(event, "pull_request_review_comment");
}

/* Fills the PR fields from a pull_request object of the event payload. */
static void github_pr(struct ci_det *d, const cJSON *pr, const cJSON *root)
{
	struct prenv_context *c = d->c;
	const char *head_repo = jstr(pr, "head.repo.full_name");
	const char *base_repo = jstr(pr, "base.repo.full_name");
	const char *state = jstr(pr, "state");
	const cJSON *merged = jget(pr, "merged");
	const cJSON *merged_at = jget(pr, "merged_at");

	c->has_pr = 1;
	c->pr_number = jnum(pr, "number");
	if (!c->pr_number)
		c->pr_number = jnum(root, "number");
	ci_put(d, &c->pr_title, jstr(pr, "title"));
	ci_put(d, &c->pr_author, jstr(pr, "user.login"));
	ci_put(d, &c->pr_url, jstr(pr, "html_url"));
	if (cJSON_IsTrue(merged) || (cJSON_IsString(merged_at) && !merged))
		ci_put(d, &c->pr_state, "merged");
	else if (ci_streq(state, "closed"))
		ci_put(d, &c->pr_state, "closed");
	else if (state)
		ci_put(d, &c->pr_state, "open");
	ci_put(d, &c->branch, jstr(pr, "head.ref"));
	ci_put(d, &c->base_branch, jstr(pr, "base.ref"));
	/* The PR's head commit. GITHUB_SHA is the test merge commit on
	 * pull_request and the base branch tip on pull_request_target. */
	ci_put(d, &c->sha, jstr(pr, "head.sha"));
	ci_put(d, &c->head_repo_full_name, head_repo);
	/* head.repo is null when the fork was deleted: still a fork. */
	if (!base_repo)
		base_repo = jstr(root, "repository.full_name");
	c->pr_fork = !head_repo || (base_repo && strcmp(head_repo, base_repo) != 0);
}

/* The readers below return 1 when GITHUB_REF and GITHUB_SHA still apply
 * (the payload did not name the ref), else 0. */

static int github_push(struct ci_det *d, const cJSON *root)
{
	struct prenv_context *c = d->c;

	set_ref(d, jstr(root, "ref"));
	if (cJSON_IsTrue(jget(root, "deleted")) || is_zero_sha(jstr(root, "after"))) {
		c->ref_deleted = 1;
		d->no_git_ref = 1;
	} else {
		ci_put(d, &c->sha, jstr(root, "after"));
	}
	return !(c->branch || c->tag || c->ref_deleted);
}

/* The deleted ref is the one to act on. */
static int github_delete(struct ci_det *d, const cJSON *root)
{
	set_ref_name(d, jstr(root, "ref_type"), jstr(root, "ref"));
	d->c->ref_deleted = 1;
	return 0;
}

static int github_create(struct ci_det *d, const cJSON *root)
{
	set_ref_name(d, jstr(root, "ref_type"), jstr(root, "ref"));
	return 1;
}

static int github_workflow_dispatch(struct ci_det *d, const cJSON *root)
{
	set_ref(d, jstr(root, "ref"));
	return 1;
}

/* workflow_run: the run that triggered this one. pull_requests lists the
 * PRs whose head matches the run, but GitHub leaves it EMPTY for runs
 * triggered from forks. Then there is no PR here (has_pr 0) but branch and
 * sha come from head_branch/head_sha and pr_fork is 1; the report module
 * resolves the PR through the API (head_repo_full_name + head sha). */
static int github_workflow_run(struct ci_det *d, const cJSON *root)
{
	struct prenv_context *c = d->c;
	const cJSON *wr = jget(root, "workflow_run");
	const cJSON *prs = jget(wr, "pull_requests");
	const char *head_repo = jstr(wr, "head_repository.full_name");
	const char *base_repo = jstr(wr, "repository.full_name");

	if (!base_repo)
		base_repo = jstr(root, "repository.full_name");
	ci_put(d, &c->trigger_event, jstr(wr, "event"));
	ci_put(d, &c->branch, jstr(wr, "head_branch"));
	ci_put(d, &c->sha, jstr(wr, "head_sha"));
	ci_put(d, &c->head_repo_full_name, head_repo);
	c->pr_fork = head_repo && base_repo && strcmp(head_repo, base_repo) != 0;
	if (cJSON_IsArray(prs) && cJSON_GetArraySize(prs) > 0) {
		const cJSON *pr = cJSON_GetArrayItem(prs, 0);
		long num = jnum(pr, "number");

		if (num > 0) {
			c->has_pr = 1;
			c->pr_number = num;
			ci_fill(d, &c->branch, jstr(pr, "head.ref"));
			ci_put(d, &c->base_branch, jstr(pr, "base.ref"));
			/* pr_state stays unknown: the payload does not say. */
		}
	}
	return 0;
}

/* issue_comment on a pull request: the PR is known, its branch is not. */
static int github_issue_comment(struct ci_det *d, const cJSON *root)
{
	struct prenv_context *c = d->c;
	const cJSON *issue = jget(root, "issue");

	if (!cJSON_IsObject(jget(issue, "pull_request")))
		return 0;
	c->has_pr = 1;
	c->pr_number = jnum(issue, "number");
	ci_put(d, &c->pr_title, jstr(issue, "title"));
	ci_put(d, &c->pr_author, jstr(issue, "user.login"));
	ci_put(d, &c->pr_url, jstr(issue, "pull_request.html_url"));
	if (jstr(issue, "pull_request.merged_at"))
		ci_put(d, &c->pr_state, "merged");
	else if (ci_streq(jstr(issue, "state"), "closed"))
		ci_put(d, &c->pr_state, "closed");
	else
		ci_put(d, &c->pr_state, "open");
	return 0;
}

/* The events read beyond GITHUB_REF (pull requests aside: is_pr_event()). */
static const struct github_event {
	const char *name;
	int (*read)(struct ci_det *d, const cJSON *root);
	/* GITHUB_REF and GITHUB_SHA are the default branch's, and so is the
	 * checkout: use neither, with or without a payload. */
	int ref_is_default;
} github_events[] = {
	{ "push", github_push, 0 },
	{ "delete", github_delete, 1 },
	{ "create", github_create, 0 },
	{ "workflow_run", github_workflow_run, 1 },
	{ "workflow_dispatch", github_workflow_dispatch, 0 },
	{ "issue_comment", github_issue_comment, 1 },
};

static const struct github_event *github_event_find(const char *event)
{
	for (size_t i = 0; i < sizeof(github_events) / sizeof(github_events[0]); i++)
		if (ci_streq(event, github_events[i].name))
			return &github_events[i];
	return NULL;
}

/* What the payload says. Returns 1 when GITHUB_REF/GITHUB_SHA still apply. */
static int github_payload(struct ci_det *d, const cJSON *root, const char *event,
			  const struct github_event *ev)
{
	struct prenv_context *c = d->c;

	ci_put(d, &c->action, jstr(root, "action"));
	ci_fill(d, &c->repo_full_name, jstr(root, "repository.full_name"));
	if (is_pr_event(event) && cJSON_IsObject(jget(root, "pull_request"))) {
		github_pr(d, jget(root, "pull_request"), root);
		return 0;
	}
	return ev ? ev->read(d, root) : 1;
}

/* ------------------------------------------------------------------ */
/* The variables                                                       */

/* Server, API, repository and run id: there with or without a payload. */
static void github_vars(struct ci_det *d, const char *event)
{
	struct prenv_context *c = d->c;
	const char *server = ci_env(d, "GITHUB_SERVER_URL");
	const char *api = ci_env(d, "GITHUB_API_URL");

	ci_put(d, &c->ci, "github");
	ci_put(d, &c->host, "github");
	ci_put(d, &c->event, event);
	ci_put(d, &c->server_url, server ? server : "https://github.com");
	ci_rstrip_slash(c->server_url);
	if (api)
		ci_put(d, &c->api_url, api);
	else if (ci_streq(c->server_url, "https://github.com"))
		ci_put(d, &c->api_url, "https://api.github.com");
	else if (c->server_url)
		ci_putf(d, &c->api_url, "%s/api/v3", c->server_url);
	ci_rstrip_slash(c->api_url);
	ci_put(d, &c->repo_full_name, ci_env(d, "GITHUB_REPOSITORY"));
	ci_put(d, &c->run_id, ci_env(d, "GITHUB_RUN_ID"));
}

/* refs/pull/<n>/merge -> PR n. */
static void github_pr_from_ref(struct ci_det *d, const char *ref)
{
	struct prenv_context *c = d->c;
	char num[24];
	size_t len;
	long n;

	if (!ci_starts(ref, "refs/pull/"))
		return;
	len = strcspn(ref + 10, "/");
	if (len >= sizeof(num))
		return;
	memcpy(num, ref + 10, len);
	num[len] = '\0';
	if (ci_parse_pos_long(num, &n) == 0) {
		c->has_pr = 1;
		c->pr_number = n;
	}
}

/* No (usable) payload: the variables. On pull_request events GITHUB_REF is
 * refs/pull/<n>/merge and GITHUB_SHA the merge commit, the best there is
 * without the payload. */
static void github_env_ref(struct ci_det *d, const char *event)
{
	struct prenv_context *c = d->c;
	const char *ref = ci_env(d, "GITHUB_REF");
	const char *ref_type = ci_env(d, "GITHUB_REF_TYPE");
	const char *ref_name = ci_env(d, "GITHUB_REF_NAME");

	if (is_pr_event(event) || ci_env(d, "GITHUB_HEAD_REF")) {
		ci_fill(d, &c->branch, ci_env(d, "GITHUB_HEAD_REF"));
		ci_fill(d, &c->base_branch, ci_env(d, "GITHUB_BASE_REF"));
		if (!c->has_pr)
			github_pr_from_ref(d, ref);
	} else if (!c->branch && !c->tag) {
		set_ref(d, ref);
		if (!c->branch && !c->tag && ci_starts(ref, "refs/heads/") == 0 &&
		    ref_type && ref_name)
			set_ref_name(d, ref_type, ref_name);
	}
	if (!c->ref_deleted)
		ci_fill(d, &c->sha, ci_env(d, "GITHUB_SHA"));
}

/* The repository and run links. */
static void github_urls(struct ci_det *d)
{
	struct prenv_context *c = d->c;
	const char *run_id = ci_env(d, "GITHUB_RUN_ID");
	const char *attempt = ci_env(d, "GITHUB_RUN_ATTEMPT");
	long n;

	if (!c->repo_full_name || !c->server_url)
		return;
	ci_putf(d, &c->repo_url, "%s/%s", c->server_url, c->repo_full_name);
	if (!run_id)
		return;
	if (attempt && ci_parse_pos_long(attempt, &n) == 0 && n > 1)
		ci_putf(d, &c->run_url, "%s/%s/actions/runs/%s/attempts/%ld",
			c->server_url, c->repo_full_name, run_id, n);
	else
		ci_putf(d, &c->run_url, "%s/%s/actions/runs/%s",
			c->server_url, c->repo_full_name, run_id);
}

int ci_detect_github(struct ci_det *d, struct prenv_err *err)
{
	const char *event = ci_env(d, "GITHUB_EVENT_NAME");
	const char *path = ci_env(d, "GITHUB_EVENT_PATH");
	const struct github_event *ev = github_event_find(event);
	int use_env_ref = 1;
	cJSON *root = NULL;
	int rc;

	github_vars(d, event);
	if (path) {
		rc = github_event_file(d, path, &root, err);
		if (rc < 0)
			return rc;
		use_env_ref = github_payload(d, root, event, ev);
	}
	if (ev && ev->ref_is_default) {
		use_env_ref = 0;
		d->no_git_ref = 1;
	}
	if (use_env_ref)
		github_env_ref(d, event);
	github_urls(d);
	cJSON_Delete(root);
	return 0;
}
