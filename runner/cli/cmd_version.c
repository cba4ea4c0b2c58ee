/* cmd_version.c - `prenv version`. */
#include "cli/cli.h"

#include "util/log.h"

#ifndef PRENV_VERSION
#define PRENV_VERSION "0.0.0"
#endif

static int cmd_version(struct cli *cli, struct prenv_err *err)
{
	(void)err;
	if (cli_want_json(cli))
		log_outf("{\"version\":\"%s\"}\n", PRENV_VERSION);
	else
		log_outf("prenv %s\n", PRENV_VERSION);
	return 0;
}

const struct cmd_entry cmd_version_entry = {
	"version", cmd_version, "print the version", "Prints prenv's version.\n",
	0,
};
