/* registry.h - does an image exist yet? Asks its registry through the OCI
 * distribution API, waits for it, falls back, pins its digest.
 *
 *   struct registry *reg;
 *   struct registry_opts o = { .envp = envp };
 *   rc = registry_new(&reg, http, &o, err);
 *   struct registry_check chk = { .image = "ghcr.io/acme/web:abc",
 *                                 .wait_ms = 600000, .fallback = NULL,
 *                                 .what = "service web" };
 *   struct registry_result res = REGISTRY_RESULT_INIT;
 *   rc = registry_resolve(reg, &chk, fs_now_ms(), &res, err);
 *   ... res.image is "ghcr.io/acme/web:abc@sha256:..." ...
 *   registry_result_free(&res);
 *   registry_free(reg);
 *
 * One look is HEAD <base>/v2/<path>/manifests/<tag or digest> with Accept
 * for OCI indexes and manifests and Docker v2 manifest lists and manifests.
 * <base> is https://<host>, and http://<host> for a loopback host
 * (127.0.0.0/8, ::1, localhost: a local registry). 200: it exists, and its
 * Docker-Content-Digest (when valid) pins it; 404: not (yet). A 401 is
 * answered once per look, by its WWW-Authenticate challenge:
 *   Basic   the registry's own credentials (registry_auth.h);
 *   Bearer  GET realm?service=..&scope=repository:<path>:pull, with the
 *           registry's credentials as Basic when there are any (anonymous
 *           otherwise), and the token it returns as Bearer.
 * The credentials of a registry go only to that registry (host and port)
 * and to the token realm it names, and only over https (plain http only to
 * loopback); the answer (Basic or the token) is reused for later looks at
 * the same repository. No credentials and a challenge, refused credentials,
 * or 403: PRENV_EAUTH naming the registry and where the credentials came
 * from (never their value).
 */
#ifndef PRENV_REGISTRY_H
#define PRENV_REGISTRY_H

#include "resolve/image.h"
#include "util/err.h"
#include "util/http.h"

struct registry;

struct registry_opts {
	const char *const *envp;  /* credentials (registry_auth.h); borrowed */
	long poll_first_ms;       /* first wait between looks; 0: 1 s */
	long poll_max_ms;         /* the wait doubles up to this; 0: 10 s */
};

/* c is borrowed and must outlive the registry. */
int registry_new(struct registry **out, struct http_client *c, const struct registry_opts *o,
		 struct prenv_err *err);
void registry_free(struct registry *r);

/* One look. 1 when the manifest exists (*digest_out, when not NULL, gets
 * its digest or NULL; the caller frees it), 0 when the registry says it
 * does not, negative on failure (PRENV_EAUTH, PRENV_EFAIL, ...). */
int registry_manifest(struct registry *r, const struct image_ref *ref, char **digest_out,
		      struct prenv_err *err);

struct registry_check {
	const char *image;     /* the rendered reference */
	long wait_ms;          /* how long to wait for it, from start_ms; 0: one look */
	const char *fallback;  /* the image to use when it never appears
				* (on_missing: production); NULL: fail */
	/* Or the fallback made only when it is needed (fallback NULL): sets
	 * *image (the caller of registry_resolve frees nothing: the result
	 * copies it; fallback_fn's caller frees *image), or leaves it NULL and
	 * sets *why (static or borrowed) when there is none; <0 on error. */
	int (*fallback_fn)(void *ud, char **image, const char **why, struct prenv_err *err);
	void *fallback_ud;
	const char *what;      /* for messages: "service web" */
};

struct registry_result {
	char *image;      /* what to deploy: pinned (name:tag@digest) when the
			   * registry gave a digest */
	char *digest;     /* NULL when the registry gave none */
	int fell_back;    /* 1: image is the fallback */
	int looks;        /* looks at the registry for chk->image */
};

#define REGISTRY_RESULT_INIT { NULL, NULL, 0, 0 }

/* Looks for chk->image until it exists or start_ms (fs_now_ms() clock) +
 * wait_ms passes, waiting between looks; then one look at the fallback.
 * Returns 0 with *out filled; PRENV_ECONFIG for a reference that is not an
 * image; PRENV_EFAIL when the image (and the fallback, when there is one)
 * does not exist, the message saying which image, which registry, how long
 * prenv waited and what to do; PRENV_EAUTH and others from the looks. */
int registry_resolve(struct registry *r, const struct registry_check *chk, double start_ms,
		     struct registry_result *out, struct prenv_err *err);
void registry_result_free(struct registry_result *res);

#endif
