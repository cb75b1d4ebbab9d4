/* Reading weights and masks from a .safetensors file: an 8-byte
 * little-endian header length, a JSON header (parsed with jansson) mapping
 * each tensor name to {dtype, shape, data_offsets}, then the data, little-
 * endian and row-major. F32, F16 and BF16 tensors are weights, pruned by
 * magnitude to the requested density (exactly round(density x K x N) kept,
 * ties to the lower index, so the masks of successive levels are nested);
 * U8 and BOOL tensors are masks, used as they are (nonzero = kept). */
#ifndef WAFERSIM_WORKLOADS_SAFETENSORS_H
#define WAFERSIM_WORKLOADS_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "mask.h"
#include "models/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WL_PATH_MAX 256
#define WL_MAX_TENSORS 256
#define WL_TENSOR_NAME_MAX 96

/* How a weight W[K, N] is stored: K x N (GPT-2's Conv1D) or N x K
 * (PyTorch's nn.Linear, out x in). */
typedef enum { WL_LAYOUT_KN, WL_LAYOUT_NK } wl_layout;

/* Which file, and which of its tensors is which op's weight. */
typedef struct {
  char path[WL_PATH_MAX];
  wl_layout layout;
  uint32_t ntensors;
  struct {
    char tensor[WL_TENSOR_NAME_MAX];
    char op[MDL_OP_NAME_MAX];
  } tensors[WL_MAX_TENSORS];
} wl_file_spec;

typedef struct wl_st wl_st;

/* Open a file and check its header: sizes, JSON, every tensor's dtype,
 * shape and data offsets within the file. NULL with "PATH: what is wrong"
 * in err. */
wl_st *wl_st_open(const char *path, char *err, size_t errlen);
void wl_st_close(wl_st *f);

/* The mask of tensor `name` as the rows x cols weight W[K, N] stored in
 * `layout`: a weight pruned to `density`, or a mask as it is. NULL with
 * "PATH: tensor NAME: what is wrong" in err (no such tensor, a dtype that
 * is neither, a shape other than the weight's, NaN values, I/O). */
wl_mask *wl_st_mask(wl_st *f, const char *name, uint32_t rows, uint32_t cols, wl_layout layout, double density,
                    char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
