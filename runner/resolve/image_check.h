/* image_check.h - a service's image check: its keys image_check, image_wait
 * and on_missing (config/services.c) applied to its rendered image through
 * the registry (registry.h), before anything is deployed.
 *
 *   struct image_checker *ic;
 *   rc = image_checker_new(&ic, envp, err);      // the clock starts here
 *   rc = image_checker_run(ic, "web", svc->keys, "ghcr.io/acme/web:abc",
 *                          "ghcr.io/acme/web:0f0f0f0", &image, &fell_back, err);
 *   ... image: "ghcr.io/acme/web:abc@sha256:..." (caller frees) ...
 *   image_checker_free(ic);
 *
 * Every service's wait counts from image_checker_new(), so services checked
 * one after another wait at most the longest image_wait in all. The HTTP
 * client is made at the first service with image_check: true.
 */
#ifndef PRENV_IMAGE_CHECK_H
#define PRENV_IMAGE_CHECK_H

#include <cjson/cJSON.h>

#include "util/err.h"

struct image_checker;

/* A service's settings, from its keys (as the config validated them). */
struct image_check_keys {
	int enabled;        /* image_check (default false) */
	long wait_ms;       /* image_wait (default 10m) */
	int production;     /* on_missing: production (default fail) */
};

void image_check_keys_read(const cJSON *keys, struct image_check_keys *out);

/* envp is borrowed (credentials) and must outlive the checker. */
int image_checker_new(struct image_checker **out, const char *const *envp,
		      struct prenv_err *err);
void image_checker_free(struct image_checker *ic);

/* service's image as it is to be deployed: without image_check a copy of
 * image; with it, image pinned to its digest when the registry names one,
 * after waiting for it up to image_wait; when it never appears, the
 * production image (pinned too) with on_missing: production, else
 * PRENV_EFAIL saying so (nothing was deployed). production may be NULL
 * when there is none to fall back to (on_missing: production then fails
 * the same way, saying why). *out and *fell_back are the caller's. Errors
 * from the registry: PRENV_EAUTH, PRENV_EFAIL; PRENV_ECONFIG for an image
 * that is not an image reference. */
int image_checker_run(struct image_checker *ic, const char *service, const cJSON *keys,
		      const char *image, const char *production, char **out, int *fell_back,
		      struct prenv_err *err);

/* The check of a service of `services:` in o->images (resolve_opts), on
 * its rendered image *img (replaced by the image to deploy, the caller's).
 * The production image is made only when it is needed: the image template
 * rendered as the head of the service's production branch (service.branch,
 * sha, short_sha, virtual and from_branch as a virtual service's), asked
 * with one ls-remote of this repository's URL for a service of this
 * repository. A virtual service has no other image to fall back to. */
struct resolve_opts;
struct resolved_service;
int image_check_service(const struct resolve_opts *o, struct resolved_service *svc,
			const cJSON *vars, char **img, struct prenv_err *err);

#endif
