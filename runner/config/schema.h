/* schema.h - how a provider declares its configuration keys.
 *
 * Each provider keeps one table of struct config_key in its own folder
 * (providers/<name>/), published through its struct prenv_provider. The
 * config loader validates `provider:` generically from that table: known
 * keys (with "did you mean"), types, required keys, defaults, extra checks,
 * every error at file:line:col. The `kind` key itself is the loader's; a
 * table lists only the provider's own keys.
 */
#ifndef PRENV_CONFIG_SCHEMA_H
#define PRENV_CONFIG_SCHEMA_H

#include <stddef.h>

struct prenv_buf;

enum config_type {
	CONFIG_STR,     /* any non-null scalar, as text */
	CONFIG_INT,     /* a whole number */
	CONFIG_BOOL,    /* true / false */
	CONFIG_DUR,     /* "300s", "5m", "72h", "1h30m", "2d" or seconds -> seconds */
	CONFIG_STRSEQ,  /* a list of strings */
	CONFIG_ARGV,    /* a non-empty list of strings (a command and its arguments) */
	CONFIG_STRMAP,  /* a mapping of names to strings */
	CONFIG_STRS,    /* a string or a list of strings -> always a list */
};

struct config_key {
	const char *name;
	enum config_type type;
	int required;
	/* Filled in when the key is absent, written as a user would write it
	 * ("300s", "{{app}}-{{env.name}}"); NULL: no default. */
	const char *dflt;
	/* One line for humans (README, --help, error hints). */
	const char *help;
	/* Optional further check of a CONFIG_STR value: returns 0 when it is
	 * fine, else -1 with why filled (one sentence; the loader adds
	 * file:line:col). */
	int (*check)(const char *value, struct prenv_buf *why);
};

/* One provider kind's keys, as the loader needs them. */
struct config_schema {
	const char *kind;                /* "kubernetes" */
	const struct config_key *keys;
	size_t nkeys;
	/* 1: the provider writes the config's `secrets:` and `access:` (a
	 * Secret, protected Ingresses); 0: the loader refuses them */
	int secrets;
};

#endif
