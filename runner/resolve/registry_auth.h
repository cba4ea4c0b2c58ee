/* registry_auth.h - what a container registry asks for and which
 * credentials prenv may give it.
 *
 * Challenges: a registry answers an unauthenticated request with 401 and
 * WWW-Authenticate: Basic realm="..." or Bearer realm="...",service="...",
 * scope="..." (RFC 7235 auth-params: token or quoted-string values, several
 * challenges in one header or in several headers). prenv answers Bearer
 * (the token flow of the distribution spec) before Basic.
 *
 * Credentials belong to one registry, matched by its host[:port] exactly
 * (case-insensitively; docker.io, index.docker.io, registry-1.docker.io and
 * Docker's "https://index.docker.io/v1/" key are one registry). They come
 * from, first found:
 *   1. PRENV_REGISTRY_USER + PRENV_REGISTRY_PASSWORD, for the registry
 *      named by PRENV_REGISTRY_HOST (host[:port] or a URL) - and no other;
 *   2. GitLab CI's CI_REGISTRY_USER + CI_REGISTRY_PASSWORD, for CI_REGISTRY;
 *   3. the "auths" of $DOCKER_CONFIG/config.json, else of
 *      $HOME/.docker/config.json (what docker login and
 *      docker/login-action write): "auth" (base64 user:password) or
 *      "username" + "password". Credential helpers (credsStore,
 *      credHelpers) are not run.
 * A credential's value is registered with the logger as a secret.
 */
#ifndef PRENV_REGISTRY_AUTH_H
#define PRENV_REGISTRY_AUTH_H

#include "util/buf.h"
#include "util/err.h"

enum registry_scheme {
	REGISTRY_AUTH_NONE = 0,  /* no challenge found */
	REGISTRY_AUTH_BASIC,
	REGISTRY_AUTH_BEARER,
	REGISTRY_AUTH_OTHER,     /* a scheme prenv does not speak */
};

struct registry_challenge {
	enum registry_scheme scheme;
	char *realm;    /* NULL when absent */
	char *service;
	char *scope;
	char *other;    /* the scheme's name for REGISTRY_AUTH_OTHER */
};

#define REGISTRY_CHALLENGE_INIT { REGISTRY_AUTH_NONE, NULL, NULL, NULL, NULL }

/* Reads one WWW-Authenticate value (more challenges may follow in it and
 * in later calls on the same *c: Bearer wins over Basic, Basic over an
 * unknown scheme, the first of a kind wins). Returns 0, PRENV_EFAIL for a
 * value that is not a challenge list (*c is left as it was), PRENV_ENOMEM. */
int registry_challenge_add(struct registry_challenge *c, const char *value);
void registry_challenge_free(struct registry_challenge *c);

struct registry_cred {
	char *basic;    /* base64 of user:password, the Basic credentials */
	char *source;   /* where they came from, for messages: a variable's
			 * name or a file */
};

#define REGISTRY_CRED_INIT { NULL, NULL }

/* The credentials of registry domain (an image_ref's domain) from envp.
 * Returns 1 with *out filled, 0 when there are none (*out untouched),
 * PRENV_ECONFIG for a config.json that is not JSON or whose entry for this
 * registry is malformed (err names the file), PRENV_ENOMEM. */
int registry_cred_find(struct registry_cred *out, const char *const *envp,
		       const char *domain, struct prenv_err *err);
void registry_cred_free(struct registry_cred *c);

/* 1 when the two registry names (host[:port], a URL, or Docker's keys)
 * are the same registry, as above. */
int registry_same_host(const char *a, const char *b);

/* Appends the standard base64 of n bytes of p. Returns 0 or -1. */
int registry_base64(struct prenv_buf *out, const void *p, size_t n);

#endif
