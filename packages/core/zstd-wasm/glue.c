/*
 * A small C surface over libzstd's streaming decoder for core's reader (see build.sh).
 * One decoder per instance: fixed input and output buffers in linear memory; JavaScript copies
 * input in, calls otz_decompress, and copies produced output out. Every frame's window is limited
 * by ZSTD_d_windowLogMax, so a frame asking for a larger window fails before any allocation.
 */
#define ZSTD_STATIC_LINKING_ONLY
#include "zstd.h"
#include "zstd_errors.h"
#include <stddef.h>

#define IN_SIZE (64 * 1024)
#define OUT_SIZE (128 * 1024)

static ZSTD_DCtx *dctx;
static unsigned char in_buf[IN_SIZE];
static unsigned char out_buf[OUT_SIZE];
static ZSTD_inBuffer input;
static ZSTD_outBuffer output;

/* Creates the decoder; returns 0 on success. */
int otz_create(int window_log_max) {
  dctx = ZSTD_createDCtx();
  if (!dctx) return -1;
  if (ZSTD_isError(ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, window_log_max))) return -2;
  input.src = in_buf;
  input.size = 0;
  input.pos = 0;
  return 0;
}

void otz_free(void) {
  ZSTD_freeDCtx(dctx);
  dctx = NULL;
}

unsigned char *otz_in_buffer(void) { return in_buf; }
unsigned char *otz_out_buffer(void) { return out_buf; }
size_t otz_in_pos(void) { return input.pos; }
size_t otz_out_pos(void) { return output.pos; }

/*
 * Decodes from in_buf[in_pos .. in_size) into out_buf[0 .. out_max). in_size resets the input when
 * non-negative (new data was copied to in_buf[0 .. in_size)). Returns ZSTD_decompressStream's
 * result: 0 when a frame is complete and flushed, an error code (see otz_error_name), or a hint > 0.
 */
size_t otz_decompress(int in_size, size_t out_max) {
  if (in_size >= 0) {
    input.size = (size_t)in_size;
    input.pos = 0;
  }
  output.dst = out_buf;
  output.size = out_max < OUT_SIZE ? out_max : OUT_SIZE;
  output.pos = 0;
  return ZSTD_decompressStream(dctx, &output, &input);
}

/* NULL when code is not an error. */
const char *otz_error_name(size_t code) {
  return ZSTD_isError(code) ? ZSTD_getErrorName(code) : NULL;
}

/* The ZSTD_ErrorCode of a result (0 when it is not an error). */
int otz_error_code(size_t code) { return (int)ZSTD_getErrorCode(code); }
