/* logical.h - which services a logical environment deploys, and which it
 * borrows from the baseline (issue 13). Pure: no I/O, no allocation beyond
 * the result.
 *
 * Input: the services (name, `paths` globs, `calls`, `stateful`), the
 * config's `shared_paths`, and the files the change touched (the diff from
 * the merge base of the PR's base and head to the head). Output, per
 * service: deployed or borrowed, and why.
 *
 * The rules, in order:
 *   1. No merge base (a shallow clone, unrelated histories): everything is
 *      deployed (LOGICAL_ALL, the reason says so).
 *   2. A changed file under `shared_paths`: everything is deployed
 *      (LOGICAL_ALL, the reason names the file and the pattern).
 *   3. A service is changed when a changed file matches one of its `paths`.
 *   4. Upward closure: every service that calls a deployed service is
 *      deployed (LOGICAL_CALLER), to a fixed point, so a request entering
 *      the preview at an entry point stays in it. Cycles in `calls` end.
 *   5. A stateful service that a deployed service calls is deployed
 *      (LOGICAL_STATEFUL): preview migrations never touch baseline data.
 *      This does not close upward again: the baseline's other callers of
 *      that database keep the baseline's copy.
 * Everything not deployed is LOGICAL_BORROWED. A change that touches no
 * service's paths deploys nothing: every service is borrowed (the caller
 * says so; predictable beats guessing which services are entry points).
 */
#ifndef PRENV_LOGICAL_H
#define PRENV_LOGICAL_H

#include <stddef.h>

struct logical_service {
	const char *name;
	const char *const *paths;   /* globs (name_glob_match), repository-relative */
	size_t npaths;
	const char *const *calls;   /* names of services this one calls */
	size_t ncalls;
	int stateful;
};

enum logical_why {
	LOGICAL_BORROWED = 0,
	LOGICAL_CHANGED,            /* a changed file matches its paths */
	LOGICAL_CALLER,             /* calls a deployed service */
	LOGICAL_STATEFUL,           /* stateful, called by a deployed service */
	LOGICAL_ALL                 /* everything deployed (shared path, no merge base) */
};

struct logical_input {
	const struct logical_service *services;
	size_t nservices;
	const char *const *shared_paths;
	size_t nshared;
	const char *const *changed;  /* changed files, repository-relative */
	size_t nchanged;
	int no_merge_base;           /* the merge base could not be found */
};

struct logical_choice {
	enum logical_why why;
	/* What made it so, borrowed from the input: the changed file
	 * (LOGICAL_CHANGED, LOGICAL_ALL for a shared path), the deployed
	 * service it calls (LOGICAL_CALLER) or that calls it
	 * (LOGICAL_STATEFUL); NULL otherwise. */
	const char *because;
	const char *pattern;         /* the glob that matched (CHANGED, ALL) */
};

/* Fills out[0..nservices-1] (in the input's order). Returns the number of
 * services deployed. A `calls` entry that names no service is ignored (the
 * config loader reports it). */
size_t logical_compute(const struct logical_input *in, struct logical_choice *out);

/* "changed", "caller", "stateful", "all", "borrowed". */
const char *logical_why_name(enum logical_why why);

/* One line a person reads, e.g. "changed (api/main.go matches <glob>)",
 * "calls api", "stateful, called by api", "borrowed", "everything:
 * deploy/common/x matches shared path <glob>", "everything: no merge base
 * ...". Written into buf (always terminated). */
void logical_describe(const struct logical_choice *c, char *buf, size_t size);

#endif
