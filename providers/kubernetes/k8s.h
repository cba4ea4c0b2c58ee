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

/* The labels and annotations are util/names.h's. */

#endif
