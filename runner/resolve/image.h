/* image.h - container image references, as Docker and the OCI distribution
 * reference grammar read them (distribution/reference).
 *
 *   nginx                     -> docker.io  library/nginx       tag latest (implied)
 *   acme/web:1.2              -> docker.io  acme/web            tag 1.2
 *   ghcr.io/acme/web:abc      -> ghcr.io    acme/web            tag abc
 *   127.0.0.1:5000/web@sha256:<64 hex> -> 127.0.0.1:5000 web    digest
 *   localhost/web:x, [::1]:5000/web:x
 *
 * The first path component is the registry when it contains '.' or ':', is
 * "localhost" or starts with '[' (an IPv6 address); otherwise the image is on
 * Docker Hub (domain docker.io, API host registry-1.docker.io, and a
 * one-component name gets "library/"). index.docker.io is docker.io.
 *
 * References come from rendered templates, so from pull requests: every
 * part is checked against the grammar (lower-case path components joined by
 * '.', '_', '__' or dashes; a tag of at most 128 word characters, '.' and
 * '-'; a digest algorithm:hex, sha256 with exactly 64 lower-case hex
 * digits; a name of at most 255 characters), so the parts are safe to put
 * in a URL path as they are. Pure: no I/O.
 */
#ifndef PRENV_IMAGE_H
#define PRENV_IMAGE_H

#include "util/err.h"

struct image_ref {
	char *domain;  /* "docker.io", "ghcr.io", "127.0.0.1:5000" (lower-cased) */
	char *host;    /* where its API is: registry-1.docker.io for docker.io */
	char *path;    /* the repository: "library/nginx", "acme/web" */
	char *tag;     /* NULL when the reference has none */
	char *digest;  /* "sha256:...", NULL when none */
	char *name;    /* the reference up to the tag, as written: "nginx" */
};

#define IMAGE_REF_INIT { NULL, NULL, NULL, NULL, NULL, NULL }

/* Parses s into *out (which the caller frees with image_ref_free(), also
 * after a failure). Returns 0, PRENV_ECONFIG (err says which part is wrong
 * and quotes the reference) or PRENV_ENOMEM. */
int image_ref_parse(struct image_ref *out, const char *s, struct prenv_err *err);
void image_ref_free(struct image_ref *r);

/* What to ask the registry for: the digest when there is one, else the
 * tag, else "latest". Borrowed from r. */
const char *image_ref_reference(const struct image_ref *r);

/* 1 when d is a valid digest (algorithm:hex, see above), else 0. */
int image_digest_valid(const char *d);

/* The reference pinned to digest: "name:tag@digest" ("name@digest" when the
 * reference has no tag). Caller frees; NULL when out of memory. */
char *image_ref_pinned(const struct image_ref *r, const char *digest);

#endif
