/* cmd.h - command-line parsing and the prenv commands. */
#ifndef PRENV_CMD_H
#define PRENV_CMD_H

/* Runs prenv with argv and the environment envp; returns the exit code
 * (0 ok, 1 failed, 2 usage/config, 3 auth). */
int prenv_main(int argc, char **argv, const char *const *envp);

#endif
