/* names.h - one definition of each name rule and of the labels and
 * annotations prenv puts on what it creates (DESIGN.md, "Names and
 * labels"). Pure: no I/O.
 */
#ifndef PRENV_NAMES_H
#define PRENV_NAMES_H

#include <stddef.h>

#define NAME_LABEL_MAX 63

/* Labels on every object prenv creates. */
#define PRENV_LABEL_MANAGED "app.kubernetes.io/managed-by"
#define PRENV_MANAGED_BY "prenv"           /* its value */
#define PRENV_LABEL_APP "prenv.dev/app"
#define PRENV_LABEL_ENV "prenv.dev/env"
#define PRENV_LABEL_PHASE "prenv.dev/phase" /* the phase that applied it (phases:) */

/* Annotations on an environment (the namespace). */
#define PRENV_ANN_PREFIX "prenv.dev/"      /* + a provider note's key */
#define PRENV_ANN_REPO "prenv.dev/repo"
#define PRENV_ANN_PR "prenv.dev/pr"
#define PRENV_ANN_SHA "prenv.dev/sha"
#define PRENV_ANN_DEPLOYED_AT "prenv.dev/deployed-at"
#define PRENV_ANN_COMMENT_ID "prenv.dev/comment-id"
/* services: (labels: values made label-safe with name_slug; annotations
 * with the same keys: the full values) */
#define PRENV_LABEL_SERVICE "prenv.dev/service"
#define PRENV_LABEL_SERVICE_REPO "prenv.dev/service-repo"
#define PRENV_LABEL_SERVICE_BRANCH "prenv.dev/service-branch"
#define PRENV_LABEL_SERVICE_SHA "prenv.dev/service-sha"
#define PRENV_ANN_SERVICES "prenv.dev/services"   /* namespace: JSON list of the services */
#define PRENV_ANN_REPOS "prenv.dev/repos"         /* namespace: every service's repository */
/* logical environments (issue 13): on the preview's namespace the baseline
 * it borrows from (a label a baseline NetworkPolicy can admit) and what was
 * deployed or borrowed and why (JSON); on each alias Service "true" */
#define PRENV_LABEL_BASELINE "prenv.dev/baseline"
#define PRENV_ANN_LOGICAL "prenv.dev/logical"
#define PRENV_LABEL_BORROWED "prenv.dev/borrowed"

/* sleep and wake (lifecycle): on the namespace, when it went to sleep
 * (absent: awake), when it was last woken, last `prenv touch`ed; on a
 * Deployment/StatefulSet the replicas it had, on a CronJob whether it was
 * suspended, before the sleep (absent: not put to sleep by prenv) */
#define PRENV_ANN_ASLEEP_SINCE "prenv.dev/asleep-since"
#define PRENV_ANN_WOKEN_AT "prenv.dev/woken-at"
#define PRENV_ANN_TOUCHED_AT "prenv.dev/touched-at"
#define PRENV_ANN_SLEEP_REPLICAS "prenv.dev/sleep-replicas"
#define PRENV_ANN_SLEEP_SUSPEND "prenv.dev/sleep-suspend"

/* DNS-1123 slug of in, at most maxlen (<= 63) characters. When information
 * was lost (case folded, characters replaced, truncated) "-" and 8 hex
 * digits of a hash of the input (FNV-1a 64, folded to 32 bits) are appended;
 * a lossless input is returned as is, unless it already ends like a hashed
 * slug ("-" + 8 hex), which is hashed again so no branch can take another
 * branch's hashed name. Nothing usable left -> "x-<hash>". maxlen < 10 ->
 * the first maxlen hash digits. NULL for NULL, maxlen 0 or out of memory.
 * Caller frees. */
char *name_slug(const char *in, size_t maxlen);
int name_is_dns_label(const char *s);

/* The 8 lower-case hex digits of name_slug's hash of s (FNV-1a 64 folded to
 * 32 bits) into out (NUL-terminated). */
void name_hash8(const char *s, char out[9]);

/* GitHub Actions filter pattern: '*' any run of characters but '/', '**'
 * any run (a '**' directly followed by '/' may also match no directory at
 * all, so "docs/" "**" "/x" matches "docs/x"), '?' zero or one of the
 * preceding character, '+' one or more of it, [abc] [a-z] [!a-z] one
 * character (never '/'), a backslash escapes. A leading '!' negates the
 * whole pattern. An invalid pattern (unclosed '[') matches nothing.
 * Returns 1 on a match. */
int name_glob_match(const char *pattern, const char *s);

/* The closest of names to s when it is close enough to be a typo (edit
 * distance, case-insensitive: 1 for names up to 3 characters, 2 up to 6, 3
 * beyond), else NULL. Borrowed from names. */
const char *name_closest(const char *s, const char *const *names, size_t n);

#endif
