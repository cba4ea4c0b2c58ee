/* cabundle.h - the system's CA bundle, found the way other tools find it.
 *
 * The static binary (make static, issue 15 item 1) carries libcurl and
 * libgit2 built against OpenSSL, which know one default path each, compiled
 * in (/etc/ssl/certs/ca-certificates.crt; /etc/ssl/cert.pem); a binary that
 * runs on any distribution
 * looks for the bundle at run time: $SSL_CERT_FILE when set, else the first
 * of the usual paths (Debian/Ubuntu/Alpine/Arch, Fedora/RHEL, openSUSE,
 * macOS/BSD-style) that can be opened. The dynamic build leaves this to
 * its libcurl and libgit2 (their TLS library's defaults).
 */
#ifndef PRENV_CABUNDLE_H
#define PRENV_CABUNDLE_H

/* The usual paths, in the order they are tried; NULL-terminated. */
extern const char *const ca_bundle_paths[];

/* env when it is set and non-empty (taken as given: a wrong SSL_CERT_FILE
 * fails the TLS handshake with the library's message rather than being
 * skipped silently), else the first of paths (NULL-terminated) that is a
 * readable file, else NULL. */
const char *ca_bundle_pick(const char *env, const char *const *paths);

/* ca_bundle_pick(getenv("SSL_CERT_FILE"), ca_bundle_paths). */
const char *ca_bundle_find(void);

#endif
