/* Invariant checks that stay on in release builds: a broken invariant is a
 * bug in wafersim, so it stops the program with file:line and what broke. */
#ifndef WAFERSIM_SIM_ENGINE_CHECK_H
#define WAFERSIM_SIM_ENGINE_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define SIM_CHECK(cond, ...)                                                        \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      fprintf(stderr, "%s:%d: internal error: ", __FILE__, __LINE__);               \
      fprintf(stderr, __VA_ARGS__);                                                 \
      fputc('\n', stderr);                                                          \
      abort();                                                                      \
    }                                                                               \
  } while (0)

#endif
