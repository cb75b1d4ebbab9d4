/* wafersim entry point: everything happens in ws_cli_main (sim/cli.c). */
#include <stdio.h>

#include "cli.h"

int main(int argc, char **argv) { return ws_cli_main(argc, argv, stdout, stderr); }
