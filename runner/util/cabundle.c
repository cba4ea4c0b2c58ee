/* cabundle.c - see cabundle.h. */
#include "util/cabundle.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

const char *const ca_bundle_paths[] = {
	"/etc/ssl/certs/ca-certificates.crt",     /* Debian, Ubuntu, Alpine, Arch, Gentoo */
	"/etc/pki/tls/certs/ca-bundle.crt",       /* Fedora, RHEL, CentOS */
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", /* RHEL 7+ */
	"/etc/ssl/ca-bundle.pem",                 /* openSUSE */
	"/etc/ssl/cert.pem",                      /* Alpine, macOS, OpenBSD */
	"/etc/pki/tls/cacert.pem",                /* OpenELEC */
	"/usr/local/share/certs/ca-root-nss.crt", /* FreeBSD */
	NULL,
};

const char *ca_bundle_pick(const char *env, const char *const *paths)
{
	struct stat st;

	if (env && *env)
		return env;
	for (; *paths; paths++)
		if (stat(*paths, &st) == 0 && S_ISREG(st.st_mode) && access(*paths, R_OK) == 0)
			return *paths;
	return NULL;
}

const char *ca_bundle_find(void)
{
	return ca_bundle_pick(getenv("SSL_CERT_FILE"), ca_bundle_paths);
}
