/* The wafersim command line: `wafersim COMMAND [options]`. Kept apart from
 * main() so tests run commands in-process and read their output and status. */
#ifndef WAFERSIM_SIM_CLI_H
#define WAFERSIM_SIM_CLI_H

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WS_VERSION "0.1.0"
/* The version of the JSON documents' fields (sim/output.schema.json). The
 * configuration's keys have their own, WS_SCHEMA_VERSION (config.h). */
#define WS_OUTPUT_SCHEMA_VERSION 11

/* Exit statuses (also in `wafersim --help`). */
enum {
  WS_EXIT_OK = 0,
  WS_EXIT_FAILURE = 1,     /* failed while running, e.g. cannot write the output */
  WS_EXIT_BAD_INPUT = 2,   /* bad usage, configuration or value */
};

/* Run one command line; results on out, messages on err. Returns the exit status. */
int ws_cli_main(int argc, char **argv, FILE *out, FILE *err);

#ifdef __cplusplus
}
#endif
#endif
