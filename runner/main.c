/* main.c - the thin entry point; the tool is runner/cli/. */
#include "cli/cli.h"

extern char **environ;

int main(int argc, char **argv)
{
	return prenv_main(argc, argv, (const char *const *)environ);
}
