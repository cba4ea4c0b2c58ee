/* htpasswd.h - password hashes for HTTP basic authentication, the way
 * Apache's `htpasswd` writes them.
 *
 * prenv writes APR1 ("$apr1$SALT$HASH": 1000 rounds of salted MD5, Apache's
 * default): ingress-nginx's auth_basic verifies it itself (ngx_crypt, on
 * any libc), and so do Traefik's basicAuth and Apache. It is no strong hash:
 * it keeps a preview's password out of sight in the cluster, it does not
 * make a weak password safe.
 */
#ifndef PRENV_HTPASSWD_H
#define PRENV_HTPASSWD_H

#include <stddef.h>

struct prenv_buf;

#define HTPASSWD_SALT_LEN 8

/* The MD5 digest (RFC 1321) of p[0..n). */
void htpasswd_md5(unsigned char out[16], const void *p, size_t n);

/* Appends "$apr1$<salt>$<22 characters>" to out. salt: up to 8 characters
 * of [./0-9A-Za-z] (more are ignored, as Apache does). 0, or -1 when out
 * failed. */
int htpasswd_apr1(struct prenv_buf *out, const char *password, size_t plen, const char *salt);

/* Fills salt with HTPASSWD_SALT_LEN random characters of [./0-9A-Za-z]
 * and a NUL (getrandom, else /dev/urandom). -1 when there is no
 * randomness to be had. */
int htpasswd_salt(char salt[HTPASSWD_SALT_LEN + 1]);

/* A user name htpasswd can store: 1..255 printable ASCII characters, no
 * ':' (it ends the name) and no space. */
int htpasswd_user_ok(const char *user);

/* Appends the htpasswd line "user:$apr1$...\n" with a fresh random salt.
 * 0; -1 when out failed or there was no randomness. */
int htpasswd_line(struct prenv_buf *out, const char *user, const char *password);

#endif
