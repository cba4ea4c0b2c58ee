/* main.c - the thin entry point; everything else is in libprenv (cmd.c). */
#include "cli/cmd.h"

extern char **environ;

int main(int argc, char **argv)
{
	return prenv_main(argc, argv, (const char *const *)environ);
}
