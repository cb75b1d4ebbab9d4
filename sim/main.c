/* wafersim entry point: huge pages for its state (hugepages.h), then
 * everything happens in ws_cli_main (sim/cli.c). */
#include <stdio.h>

#include "cli.h"
#include "hugepages.h"

int main(int argc, char **argv) {
  ws_hugepages_restart(argv);
  return ws_cli_main(argc, argv, stdout, stderr);
}
