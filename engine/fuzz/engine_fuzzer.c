/* libFuzzer harness over the engine (engine/c/engine.c), as the server's worker runs it: the input is
 * a file behind a descriptor (te_open_fd), probed, its packets at 1 s read as the browser's
 * WebCodecs path reads them, then a scaled frame at 1 s and the keyframe at the start in full size, with the pixel limit at 4 MP so that fuzzing stays fast.
 * Built and run by fuzz.sh with ASan + UBSan over FFmpeg built from the recipe's source and flags. */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static te_engine *e;
  if (!e) {
    e = te_new();
    te_set_max_pixels(e, 4 * 1024 * 1024);
  }
  int fd = memfd_create("input", MFD_CLOEXEC);
  if (fd < 0) return 0;
  size_t done = 0;
  while (done < size) {
    ssize_t n = write(fd, data + done, size - done);
    if (n <= 0) break;
    done += (size_t)n;
  }
  if (te_open_fd(e, fd, 1) == TE_OK) {
    (void)te_probe(e);
    (void)te_codec_info(e);
    te_read_packets(e, 1.0, TE_MODE_EXACT); /* the packets for another decoder (WebCodecs) */
    te_decode(e, 1.0, 64, 64, TE_MODE_EXACT);
    te_decode(e, 0.0, 0, 0, TE_MODE_KEYFRAME);
  }
  te_close(e);
  close(fd);
  return 0;
}
