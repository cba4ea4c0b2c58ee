/* k8s.h - provider.kind: kubernetes. One namespace per environment, talked
 * to over the Kubernetes REST API (runner/util/http.h; no kubectl, no helm).
 *
 * Cluster access is found the way kubectl finds it (kubeconfig.c), objects
 * are applied with server-side apply in helm's install order and pruned by
 * label (k8s_deploy.c), readiness is followed with the watch API and
 * failures are explained (k8s_wait.c), destroy/status live in k8s.c.
 */
#ifndef PRENV_K8S_H
#define PRENV_K8S_H

#include "provider.h"

struct prenv_err;

extern const struct prenv_provider k8s_provider;

/* Label and annotation keys prenv puts on what it creates. */
#define K8S_LABEL_MANAGED "app.kubernetes.io/managed-by"
#define K8S_LABEL_APP "prenv.dev/app"
#define K8S_LABEL_ENV "prenv.dev/env"
#define K8S_ANN_COMMENT_ID "prenv.dev/comment-id"

/* Sets annotation key=value on the environment's namespace (server-side
 * apply with its own field manager "prenv-report", so a later deploy does
 * not remove it). value NULL removes it. The namespace must exist and be
 * prenv's (PRENV_ENOTFOUND / PRENV_EAUTH otherwise). For the reporting
 * module: remembers the PR comment id (K8S_ANN_COMMENT_ID). */
int k8s_namespace_annotate(const struct provider_run *run, const char *key,
			   const char *value, struct prenv_err *err);

/* Reads annotation key of the environment's namespace into *out (caller
 * frees; NULL when the annotation or the namespace is absent). */
int k8s_namespace_annotation(const struct provider_run *run, const char *key,
			     char **out, struct prenv_err *err);

#endif
