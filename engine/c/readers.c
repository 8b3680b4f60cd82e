/* Where the engine's bytes come from: a path (te_open), the host's reader (te_open_reader, wasm:
 * the browser worker's File or URL) or a descriptor the caller keeps (te_open_fd, native: the
 * server's sandboxed engine processes). Each ends in open.c's engine_open_video. */
#include "internal.h"

/* Opens the video through our own AVIOContext (read and seek callbacks on e), its buffer ours. */
static int open_custom_io(te_engine *e, int buffer_size, int (*read)(void *, uint8_t *, int),
                          int64_t (*seek)(void *, int64_t, int), int32_t threads) {
  uint8_t *buffer = av_malloc(buffer_size);
  if (!buffer) return fail(e, TE_ERR_NO_MEMORY, "out of memory");
  e->io = avio_alloc_context(buffer, buffer_size, 0, e, read, NULL, seek);
  if (!e->io) {
    av_free(buffer);
    return fail(e, TE_ERR_NO_MEMORY, "out of memory");
  }
  e->own_io = 1;
  return engine_open_video(e, threads);
}

TE_EXPORT int te_open(te_engine *e, const char *path, int32_t threads) {
  te_close(e);
  e->message[0] = 0;
  if (!path || !*path) return fail(e, TE_ERR_INVALID_ARGUMENT, "no path given");

  /* Always through the file protocol: a path with a colon must not select another protocol. */
  if (snprintf(e->url, sizeof e->url, "file:%s", path) >= (int)sizeof e->url)
    return fail(e, TE_ERR_INVALID_ARGUMENT, "the path is too long");
  AVIOContext *io = NULL;
  const AVIOInterruptCB interrupt = {interrupted, e};
  int ret = avio_open2(&io, e->url, AVIO_FLAG_READ, &interrupt, NULL);
  if (ret < 0) return fail_av(e, TE_ERR_IO, ret, "cannot open the file");
  e->io = io;
  return engine_open_video(e, threads);
}

#ifdef __EMSCRIPTEN__
#define READER_BUFFER_SIZE (64 * 1024)

/* The host's reader: copies up to `size` bytes at `offset` to `buf`; the count, 0 at the end, or
 * negative when the host cannot read (it keeps the reason). */
EM_JS(int, te_host_read, (double offset, uint8_t *buf, int size), {
  return Module.teRead ? Module.teRead(offset, buf, size) : -1;
});

static int reader_read(void *opaque, uint8_t *buf, int size) {
  te_engine *e = opaque;
  if (interrupted(e)) return AVERROR_EXIT;
  if ((double)e->reader_pos >= e->reader_size) return AVERROR_EOF;
  int n = te_host_read((double)e->reader_pos, buf, size);
  if (n < 0) return AVERROR(EIO);
  if (n == 0) return AVERROR_EOF;
  e->reader_pos += n;
  return n;
}

static int64_t reader_seek(void *opaque, int64_t offset, int whence) {
  te_engine *e = opaque;
  int64_t size = (int64_t)e->reader_size;
  switch (whence & ~AVSEEK_FORCE) {
    case AVSEEK_SIZE: return size;
    case SEEK_SET: break;
    case SEEK_CUR: offset = sat_add(e->reader_pos, offset); break;
    case SEEK_END: offset = sat_add(size, offset); break;
    default: return AVERROR(EINVAL);
  }
  if (offset < 0) return AVERROR(EINVAL);
  e->reader_pos = offset;
  return offset;
}

/* Like te_open, on the host's bytes (see engine.h): the browser worker's File or URL. */
TE_EXPORT int te_open_reader(te_engine *e, double size, int32_t threads) {
  te_close(e);
  e->message[0] = 0;
  if (!isfinite(size) || size < 0 || size > 9e15) return fail(e, TE_ERR_INVALID_ARGUMENT, "bad size");
  e->reader_size = size;
  e->reader_pos = 0;
  snprintf(e->url, sizeof e->url, "reader:");
  return open_custom_io(e, READER_BUFFER_SIZE, reader_read, reader_seek, threads);
}
#endif

#ifndef __EMSCRIPTEN__
#include <sys/stat.h>
#include <unistd.h>

#define FD_BUFFER_SIZE (64 * 1024)

static int fd_read(void *opaque, uint8_t *buf, int size) {
  te_engine *e = opaque;
  if (interrupted(e)) return AVERROR_EXIT;
  ssize_t n;
  do n = read(e->fd, buf, (size_t)size); while (n < 0 && errno == EINTR);
  if (n < 0) return AVERROR(errno);
  return n == 0 ? AVERROR_EOF : (int)n;
}

static int64_t fd_seek(void *opaque, int64_t offset, int whence) {
  const te_engine *e = opaque;
  if (whence == AVSEEK_SIZE) {
    struct stat st;
    return fstat(e->fd, &st) < 0 ? AVERROR(errno) : (int64_t)st.st_size;
  }
  int64_t at = lseek(e->fd, offset, whence & ~AVSEEK_FORCE);
  return at < 0 ? AVERROR(errno) : (int64_t)at;
}

/* Like te_open, on a file descriptor the caller keeps (and closes after te_close): the engine then
 * needs no access to any file system, which is how the server's sandboxed workers run it. */
TE_EXPORT int te_open_fd(te_engine *e, int fd, int32_t threads) {
  te_close(e);
  e->message[0] = 0;
  if (fd < 0) return fail(e, TE_ERR_INVALID_ARGUMENT, "no file descriptor given");
  if (lseek(fd, 0, SEEK_SET) < 0) return fail(e, TE_ERR_IO, "the file cannot be read at any position");
  e->fd = fd;
  snprintf(e->url, sizeof e->url, "fd:%d", fd);
  return open_custom_io(e, FD_BUFFER_SIZE, fd_read, fd_seek, threads);
}
#endif
