/* command.h - provider.kind: command. deploy/destroy/status are argument
 * vectors (never shell strings) run with prenv's variables in the
 * environment; see command.c for the exact contract. */
#ifndef PRENV_COMMAND_H
#define PRENV_COMMAND_H

#include "provider.h"

extern const struct prenv_provider command_provider;

#endif
