/* The thumbnail engine (see engine.h). The same source builds to wasm and natively. */
#include "engine.h"
#include "formats.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <libavutil/display.h>
#include <libavutil/pixdesc.h>
#ifndef TE_NO_DECODERS
#include <libswscale/swscale.h>
#endif
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#ifdef __EMSCRIPTEN__
#include <emscripten/emscripten.h>
#define TE_EXPORT EMSCRIPTEN_KEEPALIVE
#else
#define TE_EXPORT
#endif

/* Most decoder threads: the mt wasm build sets its pthread pool size; elsewhere FFmpeg decides. */
#ifndef TE_MAX_THREADS
#if defined(__EMSCRIPTEN__) && !defined(__EMSCRIPTEN_PTHREADS__)
#define TE_MAX_THREADS 1
#else
#define TE_MAX_THREADS 64
#endif
#endif

/* JavaScript reads these structs from the heap at fixed offsets. */
_Static_assert(offsetof(te_info, fps) == 8, "te_info layout");
_Static_assert(offsetof(te_info, width) == 16, "te_info layout");
_Static_assert(offsetof(te_info, display_width) == 24, "te_info layout");
_Static_assert(offsetof(te_info, rotation) == 32, "te_info layout");
_Static_assert(offsetof(te_info, codec) == 40, "te_info layout");
_Static_assert(sizeof(te_info) == 64, "te_info layout");
_Static_assert(offsetof(te_image, width) == 8, "te_image layout");
_Static_assert(offsetof(te_image, height) == 12, "te_image layout");
_Static_assert(offsetof(te_image, rgba) == 16, "te_image layout");

/* A sample aspect ratio may claim any width; what the engine computes with stays far from INT_MAX. */
#define TE_MAX_SHOWN (1 << 24)

/* Packets whose time lies this many frame durations before the target are decoded only as far as
 * later frames need them (non-reference frames skipped): same frame, much less work. */
#define SKIP_MARGIN_FRAMES 2
/* Give up on a file whose packets keep failing before any frame decodes. */
#define MAX_DECODE_ERRORS 64
/* te_read_packets gives up (the engine's own decoder then goes on) past this many packets or bytes
 * from a keyframe to the frame wanted: a GOP of minutes, or of huge intra frames. */
#define MAX_PACKETS 3000
#define MAX_PACKET_BYTES (256 * 1024 * 1024)
/* When packets carry no decode times, this many packets after the one wanted may still come out
 * before it (the most frames a decoder reorders). */
#define MAX_REORDER 16

#ifdef TE_NO_DECODERS
/* The demux-only build has no scaler: nothing calls it, since no decoder is ever found. */
struct SwsContext;
static void sws_freeContext(struct SwsContext *c) { (void)c; }
#endif

struct te_engine {
  AVFormatContext *fmt;
  AVIOContext *io;
  const AVInputFormat *ifmt; /* the probed container, to open it again from byte 0 */
  int fd, own_io;            /* te_open_fd: the caller's descriptor; e->io is our own (fd, reader) */
  char url[4096];
  const AVCodec *codec; /* the decoder for the stream, NULL when this build has none */
  int threads;          /* the decoder threads asked at open */
  AVCodecContext *dec;  /* opened at the first decode */
  AVPacket *pkt;
  AVFrame *frame; /* the decoder's output */
  AVFrame *kept;  /* the best frame found so far */
  AVFrame *scaled; /* swscale's output: aligned rows and padding (its SIMD writes past the row end) */
  struct SwsContext *sws;
  int stream;
  int64_t start;     /* stream timestamp of t = 0 */
  int64_t frame_dur; /* one frame, in stream time base (estimate) */
  int fresh;         /* nothing read since open: no need to seek to the start */
  /* Where the last exact decode left off, for te_decode_next: the decoder holds what follows
   * e->kept (positioned), or has given all it had (drained). */
  int positioned, drained;
  int64_t kept_pts, before_pts; /* e->kept's time, and the frame's before it (AV_NOPTS_VALUE: none) */
  int64_t sent_dts;             /* the last packet given to the decoder */
  int frames_seen;              /* frames the last decode_until received */
  int64_t max_dts;              /* the latest packet ever given to it (AV_NOPTS_VALUE: none yet) */
  int64_t packets, again;       /* packets given to the decoder since te_open; of them, given again */
  int indexed;                  /* the container's header indexes the keyframes (see open_video) */
  int unflagged_keys;           /* the decoder flags no frame as a keyframe (H.261): keyframe mode
                                   takes the first frame from the container's keyframe */
  int32_t max_pixels;
  int too_many_streams; /* the demuxer refused a stream past TE_MAX_STREAMS (see on_log) */
  const volatile int32_t *interrupt;
  te_info info;
  te_codec codec_info;
  uint8_t *extradata; /* codec_info's, a copy: the stream's own goes when restart() reads again */
  te_packets list;  /* te_read_packets's answer, in plist and pdata */
  te_packet *plist;
  size_t plist_cap;
  uint8_t *pdata;
  size_t pdata_cap;
  double reader_size; /* te_open_reader: the host's file, and where the next read starts */
  int64_t reader_pos;
  te_image image;
  uint8_t *pixels;
  size_t pixels_size;
  char message[256];
};

static int interrupted(void *opaque) {
  const te_engine *e = opaque;
  return e->interrupt && __atomic_load_n(e->interrupt, __ATOMIC_RELAXED) != 0;
}

/* Records why a call failed. Any failure after an interrupt is the interrupt's doing. */
static int fail(te_engine *e, int status, const char *fmt, ...) {
  if (interrupted(e)) {
    snprintf(e->message, sizeof e->message, "interrupted");
    return TE_ERR_INTERRUPTED;
  }
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->message, sizeof e->message, fmt, ap);
  va_end(ap);
  return status;
}

/* An FFmpeg error where `status` was expected: running out of memory is its own kind. */
static int fail_av(te_engine *e, int status, int averr, const char *what) {
  if (averr == AVERROR(ENOMEM)) status = TE_ERR_NO_MEMORY;
  return fail(e, status, "%s: %s", what, av_err2str(averr));
}

/* FFmpeg's log shows nothing (errors reach the caller as te_status + te_message), with one message
 * read here: a demuxer refusing a stream past max_streams, which FFmpeg returns only as ENOMEM. It
 * comes from the engine's own format context, whose opaque is the engine. FFmpeg 5.1's words. */
static void on_log(void *avcl, int level, const char *fmt, va_list vl) {
  (void)vl;
  if (level > AV_LOG_ERROR || !avcl || !fmt || *(const AVClass **)avcl != avformat_get_class()) return;
  te_engine *e = ((AVFormatContext *)avcl)->opaque;
  if (e && !strncmp(fmt, "Number of streams exceeds max_streams", 37)) e->too_many_streams = 1;
}

TE_EXPORT te_engine *te_new(void) {
  te_engine *e = av_mallocz(sizeof *e);
  if (!e) return NULL;
  e->max_pixels = TE_DEFAULT_MAX_PIXELS;
  e->stream = -1;
  e->fd = -1;
  e->pkt = av_packet_alloc();
  e->frame = av_frame_alloc();
  e->kept = av_frame_alloc();
  e->scaled = av_frame_alloc();
  if (!e->pkt || !e->frame || !e->kept || !e->scaled) {
    te_free(e);
    return NULL;
  }
  av_log_set_level(AV_LOG_QUIET); /* errors reach the caller as te_status + te_message */
  av_log_set_callback(on_log);
  return e;
}

TE_EXPORT void te_set_max_pixels(te_engine *e, int32_t max_pixels) {
  e->max_pixels = max_pixels > 0 ? max_pixels : TE_DEFAULT_MAX_PIXELS;
}

TE_EXPORT void te_set_interrupt(te_engine *e, const volatile int32_t *flag) { e->interrupt = flag; }

TE_EXPORT void te_close(te_engine *e) {
  avcodec_free_context(&e->dec);
  avformat_close_input(&e->fmt);
  if (e->own_io) { /* te_open_fd and te_open_reader: the buffer is ours (a descriptor the caller's) */
    if (e->io) av_freep(&e->io->buffer);
    avio_context_free(&e->io);
    e->own_io = 0;
    e->fd = -1;
  } else {
    avio_closep(&e->io); /* ours: the format context was told it does not own it */
  }
  av_frame_unref(e->frame);
  av_frame_unref(e->kept);
  av_frame_unref(e->scaled);
  e->positioned = e->drained = 0;
  e->unflagged_keys = 0;
  e->packets = e->again = 0;
  e->max_dts = AV_NOPTS_VALUE;
  e->ifmt = NULL;
  sws_freeContext(e->sws);
  e->sws = NULL;
  e->stream = -1;
  e->codec = NULL;
  memset(&e->info, 0, sizeof e->info);
  memset(&e->codec_info, 0, sizeof e->codec_info);
  av_freep(&e->extradata);
  memset(&e->list, 0, sizeof e->list);
  memset(&e->image, 0, sizeof e->image);
}

TE_EXPORT void te_free(te_engine *e) {
  if (!e) return;
  te_close(e);
  av_packet_free(&e->pkt);
  av_frame_free(&e->frame);
  av_frame_free(&e->kept);
  av_frame_free(&e->scaled);
  av_free(e->pixels);
  av_free(e->plist);
  av_free(e->pdata);
  av_free(e);
}

/* Saturating arithmetic on timestamps: a hostile file may put them anywhere in int64. */
static int64_t sat_add(int64_t a, int64_t b) {
  int64_t r;
  return __builtin_add_overflow(a, b, &r) ? (b > 0 ? INT64_MAX : INT64_MIN) : r;
}
static int64_t sat_mul(int64_t a, int64_t b) {
  int64_t r;
  return __builtin_mul_overflow(a, b, &r) ? ((a < 0) != (b < 0) ? INT64_MIN : INT64_MAX) : r;
}

/* Clockwise degrees (0, 90, 180, 270) from the stream's display matrix, as the ffmpeg CLI reads it. */
static int stream_rotation(const AVStream *st) {
  const int32_t *matrix = (const int32_t *)av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, NULL);
  if (!matrix) return 0;
  double theta = -av_display_rotation_get(matrix);
  if (!isfinite(theta)) return 0;
  int quarter = (int)lrint(fmod(theta, 360.0) / 90.0) % 4;
  return (quarter < 0 ? quarter + 4 : quarter) * 90;
}

/* The width a w-pixel row is shown at with this sample aspect ratio, as the CLI's scale=iw*sar:ih
 * makes it, kept within [1, TE_MAX_SHOWN] whatever the file claims. */
static int shown_width(int w, AVRational sar) {
  if (sar.num <= 0 || sar.den <= 0 || av_cmp_q(sar, (AVRational){1, 1}) == 0) return w;
  double shown = w * av_q2d(sar);
  return (int)FFMAX(1.0, FFMIN(round(shown), (double)TE_MAX_SHOWN));
}

/* Fills info and codec_info from the stream (codec_info's extradata copied: it must outlive the
 * format context, which restart() replaces). */
static int describe(te_engine *e, const AVStream *st) {
  const AVCodecParameters *par = st->codecpar;
  te_info *info = &e->info;
  info->width = par->width;
  info->height = par->height;
  if (e->fmt->duration != AV_NOPTS_VALUE && e->fmt->duration > 0)
    info->duration = e->fmt->duration / (double)AV_TIME_BASE;
  else if (st->duration != AV_NOPTS_VALUE && st->duration > 0)
    info->duration = st->duration * av_q2d(st->time_base);
  else
    info->duration = -1;
  AVRational rate = st->avg_frame_rate.num > 0 && st->avg_frame_rate.den > 0 ? st->avg_frame_rate : st->r_frame_rate;
  info->fps = rate.num > 0 && rate.den > 0 ? av_q2d(rate) : 0;

  /* Display size as the CLI makes it: width scaled by the sample aspect ratio, then rotated. */
  AVRational sar = av_guess_sample_aspect_ratio(e->fmt, (AVStream *)st, NULL);
  int dw = shown_width(par->width, sar), dh = par->height;
  info->rotation = stream_rotation(st);
  info->display_width = info->rotation % 180 ? dh : dw;
  info->display_height = info->rotation % 180 ? dw : dh;
  av_strlcpy(info->codec, avcodec_get_name(par->codec_id), sizeof info->codec);

  /* For another decoder: what its configuration needs, as the stream declares it. */
  te_codec *c = &e->codec_info;
  c->profile = par->profile;
  c->level = par->level;
  const AVPixFmtDescriptor *pix = av_pix_fmt_desc_get(par->format);
  c->bit_depth = pix ? pix->comp[0].depth : par->bits_per_raw_sample > 0 ? par->bits_per_raw_sample : 0;
  c->chroma = !pix ? 0 : pix->nb_components < 3 ? 400
            : pix->log2_chroma_w == 1 && pix->log2_chroma_h == 1 ? 420
            : pix->log2_chroma_w == 1 ? 422 : pix->log2_chroma_w == 0 && pix->log2_chroma_h == 0 ? 444 : 0;
  c->alpha = pix && (pix->flags & AV_PIX_FMT_FLAG_ALPHA) ? 1 : 0;
  c->color_space = par->color_space;
  c->color_range = par->color_range;
  c->color_primaries = par->color_primaries;
  c->color_transfer = par->color_trc;
  c->sar_num = sar.num > 0 && sar.den > 0 ? sar.num : 1;
  c->sar_den = sar.num > 0 && sar.den > 0 ? sar.den : 1;
  av_freep(&e->extradata);
  if (par->extradata_size > 0) {
    e->extradata = av_memdup(par->extradata, par->extradata_size);
    if (!e->extradata) return fail(e, TE_ERR_NO_MEMORY, "out of memory");
  }
  c->extradata_size = e->extradata ? par->extradata_size : 0;
  c->extradata = e->extradata;

  int64_t start = e->fmt->start_time != AV_NOPTS_VALUE ? e->fmt->start_time : 0;
  e->start = av_rescale_q(start, AV_TIME_BASE_Q, st->time_base);
  e->frame_dur = info->fps > 0 ? av_rescale_q(1, av_inv_q(rate), st->time_base) : 0;
  if (e->frame_dur < 0) e->frame_dur = 0;
  return TE_OK;
}

/* Containers FFmpeg recognises that are pictures, not videos (PNG, JPEG, ... and image sequences). */
static int is_image_format(const char *name) {
  size_t n = strlen(name);
  return !strcmp(name, "image2") || (n > 5 && !strcmp(name + n - 5, "_pipe"));
}

/* CD+G (karaoke discs) has no signature: FFmpeg knows it by its file name (.cdg) alone, and the
 * engine reads by content. Its 24-byte packets are empty (command 0) or TV graphics (0x09) with
 * one of nine instructions; a file whose first packets are all that, a few of them graphics, is
 * one (a random file passes one packet in 32). Reads from byte 0 and goes back there. */
static int looks_like_cdg(AVIOContext *io) {
  enum { PACKET = 24, PACKETS = 512, MIN_PACKETS = 8, MIN_GRAPHICS = 4 };
  uint8_t p[PACKET];
  int packets = 0, graphics = 0, other = 0;
  if (avio_seek(io, 0, SEEK_SET) < 0) return 0;
  while (packets < PACKETS && !other && avio_read(io, p, PACKET) == PACKET) {
    packets++;
    int command = p[0] & 0x3F, instruction = p[1] & 0x3F;
    if (command == 0) continue;
    switch (command == 0x09 ? instruction : -1) {
    case 1: case 2: case 6: case 20: case 24: case 28: case 30: case 31: case 38: graphics++; break;
    default: other = 1;
    }
  }
  return avio_seek(io, 0, SEEK_SET) >= 0 && !other && packets >= MIN_PACKETS && graphics >= MIN_GRAPHICS;
}

static int too_many_streams(te_engine *e) {
  return fail(e, TE_ERR_TOO_LARGE, "the file has more than %d streams, the most the engine reads", TE_MAX_STREAMS);
}

/* Opens the demuxer on e->io from byte 0 and reads the stream parameters. */
static int open_demuxer(te_engine *e) {
  int ret = avio_seek(e->io, 0, SEEK_SET);
  if (ret < 0) return fail_av(e, TE_ERR_IO, ret, "cannot read the file");
  e->fmt = avformat_alloc_context();
  if (!e->fmt) return fail(e, TE_ERR_NO_MEMORY, "out of memory");
  e->fmt->pb = e->io;
  e->fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
  e->fmt->interrupt_callback = (AVIOInterruptCB){interrupted, e};
  e->fmt->opaque = e;
  e->too_many_streams = 0;
  /* Only what formats.h lists runs, in both hosts: the containers, and the decoders that
   * avformat_find_stream_info may open (natively, Debian's FFmpeg would open any of hundreds).
   * The limits bound what probing reads and keeps, whatever the file claims. */
  AVDictionary *opts = NULL;
  av_dict_set(&opts, "protocol_whitelist", "file", 0);
  av_dict_set(&opts, "format_whitelist", TE_DEMUXER_NAMES, 0);
  av_dict_set(&opts, "codec_whitelist", TE_ALL_DECODERS, 0);
  av_dict_set_int(&opts, "max_streams", TE_MAX_STREAMS, 0);
  av_dict_set_int(&opts, "probesize", TE_PROBE_BYTES, 0);
  av_dict_set_int(&opts, "analyzeduration", TE_PROBE_MICROSECONDS, 0);
  av_dict_set_int(&opts, "max_probe_packets", TE_PROBE_PACKETS, 0);
  ret = avformat_open_input(&e->fmt, e->url, e->ifmt, &opts);
  av_dict_free(&opts);
  if (ret < 0 && e->too_many_streams) return too_many_streams(e);
  if (ret < 0) return fail_av(e, TE_ERR_CORRUPT, ret, "cannot read the container");
  ret = avformat_find_stream_info(e->fmt, NULL);
  if (ret < 0 && e->too_many_streams) return too_many_streams(e);
  if (ret < 0) return fail_av(e, TE_ERR_CORRUPT, ret, "cannot read the streams");
  return TE_OK;
}

/* The rest of te_open / te_open_fd / te_open_reader, once e->io reads the file. */
static int open_video(te_engine *e, int32_t threads);

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
  return open_video(e, threads);
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
  return open_video(e, threads);
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

/* The stream the thumbnail comes from, chosen as the ffmpeg CLI chooses it (fftools' stream
 * selection), so that both give the same picture of a file with several: the largest frame, a
 * stream that had packets while probing and the default one weigh more (area + 10^8 + 5*10^6), an
 * attached picture (cover art) counts only when nothing else does, and ties go to the first. An
 * AVIF with an alpha track thus gives its colour track. -1: no video stream. */
static int choose_video_stream(const AVFormatContext *fmt) {
  int best = -1;
  int64_t best_score = 0;
  for (unsigned i = 0; i < fmt->nb_streams; i++) {
    const AVStream *st = fmt->streams[i];
    if (st->codecpar->codec_type != AVMEDIA_TYPE_VIDEO) continue;
    int64_t score = (int64_t)st->codecpar->width * st->codecpar->height
                    + 100000000 * !!(st->event_flags & AVSTREAM_EVENT_FLAG_NEW_PACKETS)
                    + 5000000 * !!(st->disposition & AV_DISPOSITION_DEFAULT);
    if (st->disposition & AV_DISPOSITION_ATTACHED_PIC) score = 1;
    if (score > best_score) {
      best_score = score;
      best = (int)i;
    }
  }
  return best;
}

static int open_video(te_engine *e, int32_t threads) {
  AVIOContext *io = e->io;
  int ret;
  if (avio_size(io) == 0) return fail(e, TE_ERR_NOT_MEDIA, "the file is empty");

  /* Probe first, so that "not a container we read" and "a broken one" are told apart. By content
   * only: a text file named .mp4 is not a broken MP4. */
  const AVInputFormat *ifmt = NULL;
  ret = av_probe_input_buffer2(io, &ifmt, "", NULL, 0, TE_FORMAT_PROBE_BYTES);
  if (ret == AVERROR(ENOMEM)) return fail_av(e, TE_ERR_NO_MEMORY, ret, "probing");
  if ((ret < 0 || !ifmt) && looks_like_cdg(io)) ifmt = av_find_input_format("cdg");
  if (!ifmt) return fail(e, TE_ERR_NOT_MEDIA, "not a video file (no known container format)");
  if (is_image_format(ifmt->name)) return fail(e, TE_ERR_NOT_MEDIA, "an image, not a video");
  if (!av_match_list(ifmt->name, TE_DEMUXER_NAMES, ','))
    return fail(e, TE_ERR_UNSUPPORTED_CONTAINER, "the %s container is not supported",
                ifmt->long_name ? ifmt->long_name : ifmt->name);
  e->ifmt = ifmt;
  ret = open_demuxer(e);
  if (ret != TE_OK) return ret;

  int index = choose_video_stream(e->fmt);
  if (index < 0) return fail(e, TE_ERR_NO_VIDEO, "the file has no video stream");
  AVStream *st = e->fmt->streams[index];
  const AVCodecParameters *par = st->codecpar;
  if (par->width <= 0 || par->height <= 0) return fail(e, TE_ERR_CORRUPT, "the video stream has no frame size");
  if ((int64_t)par->width * par->height > e->max_pixels)
    return fail(e, TE_ERR_TOO_LARGE, "%dx%d frames are above the limit of %d pixels", par->width, par->height, e->max_pixels);
  /* The decoder starts at the first decode: probing and reading packets need none. */
  e->codec = avcodec_find_decoder(par->codec_id);
  if (e->codec && !av_match_list(e->codec->name, TE_ALL_DECODERS, ',')) e->codec = NULL;
  e->threads = threads;

  e->stream = index;
  e->fresh = 1;
  /* An index from the file's header (MP4's moov, Matroska's cues, AVI's idx1) says where keyframes
   * are before they are read; one built while reading (MPEG-TS) does not, and seeks by it land
   * only near the target. */
  e->indexed = avformat_index_get_entries_count(st) > 1;
  return describe(e, st);
}

/* Starts the stream's decoder, if this build has one. */
static int open_decoder(te_engine *e) {
  if (e->dec) return TE_OK;
  const AVStream *st = e->fmt->streams[e->stream];
  if (!e->codec) return fail(e, TE_ERR_UNSUPPORTED_CODEC, "the %s codec is not supported", avcodec_get_name(st->codecpar->codec_id));
  e->dec = avcodec_alloc_context3(e->codec);
  if (!e->dec) return fail(e, TE_ERR_NO_MEMORY, "out of memory");
  int ret = avcodec_parameters_to_context(e->dec, st->codecpar);
  if (ret < 0) return fail_av(e, TE_ERR_CORRUPT, ret, "bad codec parameters");
  e->dec->pkt_timebase = st->time_base;
  e->dec->max_pixels = e->max_pixels;
  e->dec->thread_count = e->threads > 0 ? FFMIN(e->threads, TE_MAX_THREADS) : (TE_MAX_THREADS < 64 ? TE_MAX_THREADS : 0);
  e->dec->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
  ret = avcodec_open2(e->dec, e->codec, NULL);
  if (ret < 0) {
    avcodec_free_context(&e->dec);
    return fail_av(e, TE_ERR_UNSUPPORTED_CODEC, ret, "cannot start the decoder");
  }
  return TE_OK;
}

TE_EXPORT const te_info *te_probe(const te_engine *e) { return &e->info; }
TE_EXPORT const te_codec *te_codec_info(const te_engine *e) { return &e->codec_info; }
TE_EXPORT const te_packets *te_packet_list(const te_engine *e) { return &e->list; }
TE_EXPORT const te_image *te_result(const te_engine *e) { return &e->image; }
TE_EXPORT const char *te_message(const te_engine *e) { return e->message; }

/* Opens the container again from its first byte: the way back to the start when seeking there
 * fails (no index, a broken one) or lands where nothing decodes. The decoder is kept. */
static int restart(te_engine *e) {
  enum AVCodecID codec = e->fmt->streams[e->stream]->codecpar->codec_id;
  avformat_close_input(&e->fmt); /* custom I/O: e->io stays open */
  int ret = open_demuxer(e);
  if (ret != TE_OK) return ret;
  /* codec_info stays what the decoders were configured with (its extradata is our own copy). */
  if ((unsigned)e->stream >= e->fmt->nb_streams || e->fmt->streams[e->stream]->codecpar->codec_id != codec)
    return fail(e, TE_ERR_CORRUPT, "the streams differ when the file is read again");
  if (e->dec) avcodec_flush_buffers(e->dec);
  e->positioned = e->drained = 0;
  e->fresh = 1;
  return TE_OK;
}

/* Positions the demuxer at the keyframe at or before `target` (stream time base). */
static int seek_before(te_engine *e, int64_t target) {
  e->positioned = e->drained = 0;
  if (e->dec) avcodec_flush_buffers(e->dec);
  if (e->fresh && target <= e->start) return 0; /* already at the start */
  int ret = avformat_seek_file(e->fmt, e->stream, INT64_MIN, target, target, 0);
  if (ret < 0) ret = av_seek_frame(e->fmt, e->stream, target, AVSEEK_FLAG_BACKWARD);
  if (ret < 0 && e->fresh) return 0; /* unseekable, but we are at the start: decode forward */
  e->fresh = 0;
  return ret;
}

static int64_t frame_time(const AVFrame *f) {
  return f->best_effort_timestamp != AV_NOPTS_VALUE ? f->best_effort_timestamp : f->pts;
}

/* Decodes from the current position until a frame at or after `target` (exact) or the first frame
 * (keyframe mode); at the end of the stream, the last frame decoded. The frame is left in e->kept.
 * `at_start`: the demuxer is at the start of the video. `continuing`: the decoder goes on from
 * e->kept (te_decode_next), which stays the answer if nothing follows it. */
static int decode_until(te_engine *e, int64_t target, int mode, int at_start, int continuing) {
  int have = continuing, draining = 0, errors = 0;
  e->frames_seen = 0;
  /* Frames come out in presentation order. One without a timestamp, or whose timestamp goes
   * backwards (a broken one, often the last of an MPEG-PS), is one frame after the one before; from
   * the start, the first is at the start. That is how raw streams (.h264, .hevc), which carry no
   * timestamps at all, are timed by their frame rate, as the CLI times them. */
  int64_t last = continuing ? e->kept_pts : AV_NOPTS_VALUE, before = continuing ? e->kept_pts : AV_NOPTS_VALUE;
  at_start = at_start || e->fresh;
  int64_t early_before = sat_add(target, -sat_mul(e->frame_dur, SKIP_MARGIN_FRAMES));
  e->positioned = e->drained = 0;
  if (!continuing) av_frame_unref(e->kept);
  e->dec->skip_frame = mode == TE_MODE_KEYFRAME && !e->unflagged_keys ? AVDISCARD_NONKEY : AVDISCARD_DEFAULT;
  for (;;) {
    if (interrupted(e)) return fail(e, TE_ERR_INTERRUPTED, "interrupted");
    int ret = avcodec_receive_frame(e->dec, e->frame);
    if (ret >= 0) {
      av_frame_unref(e->kept);
      av_frame_move_ref(e->kept, e->frame);
      have = 1;
      e->frames_seen++;
      int64_t pts = frame_time(e->kept);
      if (e->frame_dur > 0 && (pts == AV_NOPTS_VALUE || (last != AV_NOPTS_VALUE && pts < last))) {
        pts = last != AV_NOPTS_VALUE ? sat_add(last, e->frame_dur) : at_start ? e->start : AV_NOPTS_VALUE;
        e->kept->best_effort_timestamp = pts;
      }
      before = last;
      last = pts;
      if (mode == TE_MODE_KEYFRAME || pts == AV_NOPTS_VALUE || pts >= target) {
        e->positioned = mode == TE_MODE_EXACT && pts != AV_NOPTS_VALUE;
        e->kept_pts = pts;
        e->before_pts = before;
        return TE_OK;
      }
      continue;
    }
    if (ret == AVERROR_EOF) break;
    if (ret == AVERROR(ENOMEM)) return fail_av(e, TE_ERR_NO_MEMORY, ret, "decoding");
    if (ret != AVERROR(EAGAIN)) { /* a broken frame: carry on, as the CLI does */
      if (++errors > MAX_DECODE_ERRORS && !have) return fail_av(e, TE_ERR_CORRUPT, ret, "the video does not decode");
      continue;
    }
    if (draining) break;

    ret = av_read_frame(e->fmt, e->pkt);
    e->fresh = 0;
    if (ret == AVERROR(ENOMEM)) return fail_av(e, TE_ERR_NO_MEMORY, ret, "reading");
    if (ret < 0) { /* end of file, or a truncated one: flush what the decoder holds */
      draining = 1;
      avcodec_send_packet(e->dec, NULL);
      continue;
    }
    if (e->pkt->stream_index != e->stream) {
      av_packet_unref(e->pkt);
      continue;
    }
    e->packets++;
    if (e->pkt->dts != AV_NOPTS_VALUE) {
      e->sent_dts = e->pkt->dts;
      if (e->max_dts != AV_NOPTS_VALUE && e->pkt->dts <= e->max_dts) e->again++;
      else e->max_dts = e->pkt->dts;
    }
    if (mode == TE_MODE_EXACT) {
      int64_t pts = e->pkt->pts;
      int early = pts != AV_NOPTS_VALUE && e->frame_dur > 0 && pts < early_before;
      e->dec->skip_frame = early ? AVDISCARD_NONREF : AVDISCARD_DEFAULT;
    }
    ret = avcodec_send_packet(e->dec, e->pkt);
    av_packet_unref(e->pkt);
    if (ret == AVERROR(ENOMEM)) return fail_av(e, TE_ERR_NO_MEMORY, ret, "decoding");
    if (ret < 0 && ret != AVERROR(EAGAIN) && ++errors > MAX_DECODE_ERRORS && !have)
      return fail_av(e, TE_ERR_CORRUPT, ret, "the video does not decode");
  }
  if (!have) return fail(e, TE_ERR_CORRUPT, "no frame of the video could be decoded");
  /* The end: the last frame is the answer to any later time. */
  e->drained = mode == TE_MODE_EXACT;
  e->kept_pts = last;
  e->before_pts = before;
  return TE_OK;
}

/* Decodes from the start of the video. When the start cannot be reached by seeking, or nothing
 * decodes from where the seek landed (a 2-frame MPEG-TS, a Matroska file without cues), the file
 * is read again from its first byte, as the CLI reads it. */
static int decode_from_start(te_engine *e, int64_t target, int mode) {
  int at_first_byte = e->fresh;
  if (seek_before(e, e->start) >= 0) {
    int status = decode_until(e, target, mode, 1, 0);
    if (at_first_byte) return status;
    /* A seek "to the start" of an MPEG-TS can land on a later keyframe: a first frame after the
     * target means the start was not reached, as much as nothing decoding does. */
    int64_t pts = status == TE_OK ? frame_time(e->kept) : AV_NOPTS_VALUE;
    int late = mode == TE_MODE_EXACT && pts != AV_NOPTS_VALUE && pts > sat_add(target, e->frame_dur) && pts > e->start;
    if (status != TE_ERR_CORRUPT && !late) return status;
  }
  int ret = restart(e);
  return ret != TE_OK ? ret : decode_until(e, target, mode, 1, 0);
}

/* Finds the frame for `target`. Where a seek lands after the keyframe the target needs (no index,
 * as in MPEG-TS), the first decoded frame comes after the target: seek further back and retry. */
static int find_frame(te_engine *e, int64_t target, int mode) {
  int64_t back = sat_mul(e->frame_dur, 25);
  int64_t seek_to = target;
  for (int attempt = 0;; attempt++) {
    if (seek_to <= e->start || attempt > 4) return decode_from_start(e, target, mode);
    if (seek_before(e, seek_to) < 0) return decode_from_start(e, target, mode);
    int status = decode_until(e, target, mode, 0, 0);
    if (status == TE_OK) {
      int64_t pts = frame_time(e->kept);
      /* no timestamps: where the seek landed is unknown, so count the frames from the start */
      if (pts == AV_NOPTS_VALUE && mode == TE_MODE_EXACT) return decode_from_start(e, target, mode);
      /* Late: the first frame decoded after the seek is already past the target, so one between
       * them may have been missed; or, having decoded up to it, still more than a frame past. */
      int late = mode == TE_MODE_EXACT && pts != AV_NOPTS_VALUE &&
                 (pts > sat_add(target, e->frame_dur) || (e->frames_seen == 1 && pts > target));
      if (!late || attempt >= 3) return TE_OK;
    } else if (status != TE_ERR_CORRUPT) {
      return status;
    }
    /* too late or nothing decodable from here (an index pointing past a truncation): go back */
    back = back > 0 ? sat_mul(back, 4) : sat_add(target, -e->start);
    seek_to = sat_add(target, -back);
  }
}

static int ensure_buffer(uint8_t **buf, size_t *size, size_t need) {
  if (*size >= need) return 0;
  av_freep(buf);
  *size = 0;
  *buf = av_malloc(need);
  if (!*buf) return -1;
  *size = need;
  return 0;
}

/* Copies a w x h RGBA picture (rows `stride` bytes apart) into the packed dst, turned `rotation`
 * degrees clockwise. */
static void copy_rgba(const uint8_t *src, int stride, int w, int h, int rotation, uint32_t *dst) {
  if (rotation == 0) {
    for (int y = 0; y < h; y++) memcpy(dst + (size_t)y * w, src + (size_t)y * stride, (size_t)w * 4);
    return;
  }
  for (int y = 0; y < h; y++) {
    const uint32_t *row = (const uint32_t *)(src + (size_t)y * stride);
    for (int x = 0; x < w; x++) {
      uint32_t px = row[x];
      switch (rotation) {
        case 90: dst[(size_t)x * h + (h - 1 - y)] = px; break;
        case 180: dst[(size_t)(h - 1 - y) * w + (w - 1 - x)] = px; break;
        default: dst[(size_t)(w - 1 - x) * h + y] = px; break; /* 270 */
      }
    }
  }
}

/* Scales e->kept to fit the box (never enlarging; at most max_pixels, and TE_MAX_SIDE a side),
 * converts it to RGBA and applies the rotation. The size comes from the frame itself, since a
 * stream may change its resolution. */
/* The size a w x h frame of the open stream is shown at, fitted in the box: its sample aspect
 * ratio and rotation applied, never enlarged, at most max_pixels, and TE_MAX_SIDE a side. */
static void fit_size(const te_engine *e, int w, int h, AVRational sar, int max_width, int max_height, int *out_w_, int *out_h_) {
  const int turned = e->info.rotation % 180 != 0;
  double shown_w = shown_width(w, sar), shown_h = h;
  double disp_w = turned ? shown_h : shown_w, disp_h = turned ? shown_w : shown_h;
  double scale = 1.0;
  if (max_width > 0) scale = FFMIN(scale, max_width / disp_w);
  if (max_height > 0) scale = FFMIN(scale, max_height / disp_h);
  scale = FFMIN(scale, TE_MAX_SIDE / FFMAX(disp_w, disp_h));
  if (disp_w * disp_h * scale * scale > e->max_pixels) scale = sqrt(e->max_pixels / (disp_w * disp_h));
  int out_w = (int)FFMAX(1.0, round(disp_w * scale));
  int out_h = (int)FFMAX(1.0, round(disp_h * scale));
  /* Rounding up may cross the pixel limit: the longer side gives way. */
  if ((int64_t)out_w * out_h > e->max_pixels) {
    if (out_w >= out_h) out_w = FFMAX(1, e->max_pixels / out_h);
    else out_h = FFMAX(1, e->max_pixels / out_w);
  }
  *out_w_ = out_w;
  *out_h_ = out_h;
}

TE_EXPORT int te_output_size(te_engine *e, int32_t width, int32_t height, int32_t max_width, int32_t max_height, int32_t *out) {
  e->message[0] = 0;
  if (!e->fmt || e->stream < 0) return fail(e, TE_ERR_INVALID_ARGUMENT, "no video is open");
  if (width <= 0 || height <= 0 || (int64_t)width * height > e->max_pixels || max_width < 0 || max_height < 0)
    return fail(e, TE_ERR_INVALID_ARGUMENT, "bad frame size %dx%d", width, height);
  AVRational sar = {e->codec_info.sar_num, e->codec_info.sar_den};
  fit_size(e, width, height, sar, max_width, max_height, &out[0], &out[1]);
  return TE_OK;
}

static int to_rgba(te_engine *e, int max_width, int max_height) {
#ifdef TE_NO_DECODERS
  (void)max_width, (void)max_height;
  return fail(e, TE_ERR_UNSUPPORTED_CODEC, "this build reads containers only");
#else
  const AVFrame *f = e->kept;
  const int rotation = e->info.rotation, turned = rotation % 180 != 0;
  if (f->width <= 0 || f->height <= 0) return fail(e, TE_ERR_CORRUPT, "a frame without a size");
  AVRational sar = av_guess_sample_aspect_ratio(e->fmt, e->fmt->streams[e->stream], (AVFrame *)f);
  int out_w, out_h;
  fit_size(e, f->width, f->height, sar, max_width, max_height, &out_w, &out_h);
  int scaled_w = turned ? out_h : out_w, scaled_h = turned ? out_w : out_h;

  if (!sws_isSupportedInput(f->format))
    return fail(e, TE_ERR_UNSUPPORTED_CODEC, "the %s pixel format is not supported", av_get_pix_fmt_name(f->format));
  e->sws = sws_getCachedContext(e->sws, f->width, f->height, f->format, scaled_w, scaled_h, AV_PIX_FMT_RGBA,
                                SWS_BICUBIC, NULL, NULL, NULL);
  if (!e->sws) return fail(e, TE_ERR_NO_MEMORY, "cannot set up the scaler for %dx%d to %dx%d", f->width, f->height, scaled_w, scaled_h);
  /* YUV -> RGB with the matrix and range the stream declares (BT.601 when it says nothing). */
  int *inv_table, src_range, *table, dst_range, brightness, contrast, saturation;
  if (sws_getColorspaceDetails(e->sws, &inv_table, &src_range, &table, &dst_range, &brightness, &contrast, &saturation) >= 0) {
    int space = f->colorspace != AVCOL_SPC_UNSPECIFIED ? f->colorspace : SWS_CS_DEFAULT;
    if (f->color_range == AVCOL_RANGE_JPEG) src_range = 1;
    sws_setColorspaceDetails(e->sws, sws_getCoefficients(space), src_range, table, 1, brightness, contrast, saturation);
  }

  /* swscale writes whole SIMD blocks: its output needs aligned rows and padding after the last. */
  AVFrame *scaled = e->scaled;
  if (scaled->width != scaled_w || scaled->height != scaled_h || !scaled->data[0]) {
    av_frame_unref(scaled);
    scaled->format = AV_PIX_FMT_RGBA;
    scaled->width = scaled_w;
    scaled->height = scaled_h;
    if (av_frame_get_buffer(scaled, 64) < 0) return fail(e, TE_ERR_NO_MEMORY, "out of memory for a %dx%d image", out_w, out_h);
  }
  size_t need = (size_t)out_w * out_h * 4;
  if (ensure_buffer(&e->pixels, &e->pixels_size, need) < 0)
    return fail(e, TE_ERR_NO_MEMORY, "out of memory for a %dx%d image", out_w, out_h);
  /* A palette whose every entry has alpha 0 is an opaque one that never set alpha (AVI's RGBQUAD
   * has a reserved byte there): made opaque, as the CLI shows it. */
  const uint8_t *src[4] = {f->data[0], f->data[1], f->data[2], f->data[3]};
  uint32_t palette[256];
  if (f->format == AV_PIX_FMT_PAL8 && f->data[1]) {
    memcpy(palette, f->data[1], sizeof palette);
    int any_alpha = 0;
    for (int i = 0; i < 256; i++) any_alpha |= palette[i] >> 24;
    if (!any_alpha) {
      for (int i = 0; i < 256; i++) palette[i] |= 0xFF000000u;
      src[1] = (const uint8_t *)palette;
    }
  }
  int ret = sws_scale(e->sws, src, f->linesize, 0, f->height, scaled->data, scaled->linesize);
  if (ret < 0) return fail_av(e, TE_ERR_CORRUPT, ret, "cannot convert the frame");
  copy_rgba(scaled->data[0], scaled->linesize[0], scaled_w, scaled_h, rotation, (uint32_t *)e->pixels);

  int64_t pts = frame_time(f);
  AVRational tb = e->fmt->streams[e->stream]->time_base;
  e->image.time = pts != AV_NOPTS_VALUE ? FFMAX(0.0, ((double)pts - (double)e->start) * av_q2d(tb)) : 0.0;
  e->image.width = out_w;
  e->image.height = out_h;
  e->image.rgba = e->pixels;
  return TE_OK;
#endif
}

/* Checks a decode call's arguments; sets *target to t in the stream's time base. */
static int decode_args(te_engine *e, double t, int32_t max_width, int32_t max_height, int32_t mode, int64_t *target) {
  e->message[0] = 0;
  memset(&e->image, 0, sizeof e->image);
  if (!e->fmt || e->stream < 0) return fail(e, TE_ERR_INVALID_ARGUMENT, "no video is open");
  if (!isfinite(t) || t < 0) return fail(e, TE_ERR_INVALID_ARGUMENT, "the time must be a number of seconds >= 0");
  if (max_width < 0 || max_height < 0) return fail(e, TE_ERR_INVALID_ARGUMENT, "the size must not be negative");
  if (mode != TE_MODE_EXACT && mode != TE_MODE_KEYFRAME) return fail(e, TE_ERR_INVALID_ARGUMENT, "unknown mode %d", mode);
  AVRational tb = e->fmt->streams[e->stream]->time_base;
  /* Clamp far-future times before converting, so the timestamp cannot overflow. */
  double seconds = FFMIN(t, 1e9);
  *target = sat_add(e->start, av_rescale_q((int64_t)llrint(seconds * AV_TIME_BASE), AV_TIME_BASE_Q, tb));
  return TE_OK;
}

TE_EXPORT int te_decode(te_engine *e, double t, int32_t max_width, int32_t max_height, int32_t mode) {
  int64_t target;
  int status = decode_args(e, t, max_width, max_height, mode, &target);
  if (status == TE_OK) status = open_decoder(e);
  if (status == TE_OK) status = find_frame(e, target, mode);
  if (status == TE_ERR_CORRUPT && mode == TE_MODE_KEYFRAME && !e->unflagged_keys) {
    e->unflagged_keys = 1; /* nothing came out as a keyframe: the decoder may flag none */
    e->message[0] = 0;
    status = find_frame(e, target, mode);
  }
  if (status != TE_OK) return status;
  return to_rgba(e, max_width, max_height);
}

/* Is there a keyframe after the last packet the decoder was given, at or before `target`? Then
 * seeking there skips packets rather than decoding them. Known from the header's index only. */
static int keyframe_ahead(te_engine *e, int64_t target) {
  if (!e->indexed) return 0;
  AVStream *st = e->fmt->streams[e->stream];
  int idx = av_index_search_timestamp(st, target, AVSEEK_FLAG_BACKWARD);
  if (idx < 0) return 0;
  const AVIndexEntry *entry = avformat_index_get_entry(st, idx);
  return entry && entry->timestamp > e->sent_dts;
}

TE_EXPORT int te_decode_next(te_engine *e, double t, int32_t max_width, int32_t max_height) {
  int64_t target;
  int status = decode_args(e, t, max_width, max_height, TE_MODE_EXACT, &target);
  if (status == TE_OK) status = open_decoder(e);
  if (status != TE_OK) return status;
  int ready = e->positioned || e->drained;
  if (ready && target <= e->kept_pts && e->before_pts != AV_NOPTS_VALUE && target > e->before_pts)
    status = TE_OK; /* the frame already decoded is the first at or after t (the one before it is known) */
  else if (!ready || target <= e->kept_pts)
    status = find_frame(e, target, TE_MODE_EXACT); /* backwards, or nothing to go on from */
  else if (e->drained)
    status = TE_OK; /* past the end: the last frame */
  else if (keyframe_ahead(e, target))
    status = find_frame(e, target, TE_MODE_EXACT);
  else
    status = decode_until(e, target, TE_MODE_EXACT, 0, 1);
  if (status != TE_OK) return status;
  return to_rgba(e, max_width, max_height);
}

/* --- Packets for another decoder (te_read_packets) --- */

/* The length-prefix size of AVCC/HVCC packets (from avcC/hvcC extradata), or 0: Annex B. */
static int nal_length_size(const te_codec *c, enum AVCodecID id) {
  const uint8_t *x = c->extradata;
  if (!x || c->extradata_size < 7 || x[0] != 1) return 0;
  if (id == AV_CODEC_ID_H264) return (x[4] & 3) + 1;
  if (id == AV_CODEC_ID_HEVC && c->extradata_size >= 23) return (x[21] & 3) + 1;
  return 0;
}

/* Is one H.264/HEVC NAL unit a picture that another refers to? -1: not a picture's NAL. As
 * FFmpeg's decoders tell it for skip_frame = NONREF: H.264's nal_ref_idc; HEVC's sub-layer
 * non-reference types (TRAIL_N, TSA_N, STSA_N, RADL_N, RASL_N, and reserved 10, 12, 14). */
static int nal_is_reference(const uint8_t *nal, size_t size, int hevc) {
  if (size < 1) return -1;
  if (!hevc) {
    int type = nal[0] & 0x1f;
    if (type < 1 || type > 5) return -1;
    return (nal[0] >> 5) & 3 ? 1 : 0;
  }
  int type = (nal[0] >> 1) & 0x3f;
  if (type > 31) return -1;
  return type <= 14 && type % 2 == 0 ? 0 : 1;
}

/* Does nothing refer to this packet's picture? Only said of H.264 and HEVC, when every picture NAL
 * in it says so; anything unreadable counts as a reference. */
static int packet_unreferenced(const uint8_t *d, size_t size, enum AVCodecID id, int length_size) {
  if (id != AV_CODEC_ID_H264 && id != AV_CODEC_ID_HEVC) return 0;
  int hevc = id == AV_CODEC_ID_HEVC, pictures = 0;
  size_t i = 0;
  while (i < size) {
    size_t start, end;
    if (length_size) {
      if (size - i < (size_t)length_size) return 0;
      size_t n = 0;
      for (int k = 0; k < length_size; k++) n = n << 8 | d[i + k];
      start = i + length_size;
      if (n > size - start) return 0;
      end = start + n;
    } else { /* Annex B: from after a start code to the next one */
      while (i + 3 <= size && !(d[i] == 0 && d[i + 1] == 0 && d[i + 2] == 1)) i++;
      if (i + 3 > size) break;
      start = i + 3;
      end = start;
      while (end + 3 <= size && !(d[end] == 0 && d[end + 1] == 0 && (d[end + 2] == 1 || d[end + 2] == 0))) end++;
      if (end + 3 > size) end = size;
    }
    int ref = nal_is_reference(d + start, end - start, hevc);
    if (ref == 1) return 0;
    if (ref == 0) pictures++;
    i = end;
  }
  return pictures > 0;
}

/* Appends the packet in e->pkt to e->list. */
static int keep_packet(te_engine *e, const AVStream *st) {
  te_packets *p = &e->list;
  if (p->count >= MAX_PACKETS || (size_t)p->data_size + e->pkt->size > MAX_PACKET_BYTES)
    return fail(e, TE_ERR_TOO_LARGE, "more than %d packets or %d MB from the keyframe to the frame", MAX_PACKETS, MAX_PACKET_BYTES >> 20);
  if ((size_t)p->count + 1 > e->plist_cap) {
    size_t cap = e->plist_cap ? e->plist_cap * 2 : 64;
    te_packet *list = av_realloc_array(e->plist, cap, sizeof *list);
    if (!list) return fail(e, TE_ERR_NO_MEMORY, "out of memory");
    e->plist = list;
    e->plist_cap = cap;
  }
  size_t need = (size_t)p->data_size + e->pkt->size;
  if (need > e->pdata_cap) {
    size_t cap = FFMAX(need, e->pdata_cap * 2);
    uint8_t *data = av_realloc(e->pdata, cap);
    if (!data) return fail(e, TE_ERR_NO_MEMORY, "out of memory");
    e->pdata = data;
    e->pdata_cap = cap;
  }
  memcpy(e->pdata + p->data_size, e->pkt->data, e->pkt->size);
  AVRational tb = st->time_base;
  te_packet *out = &e->plist[p->count++];
  out->time = ((double)e->pkt->pts - (double)e->start) * av_q2d(tb);
  out->duration = e->pkt->duration > 0 ? e->pkt->duration * av_q2d(tb) : 0;
  out->offset = p->data_size;
  out->size = e->pkt->size;
  out->flags = e->pkt->flags & AV_PKT_FLAG_KEY ? TE_PACKET_KEY : 0;
  out->reserved = 0;
  p->data_size += e->pkt->size;
  p->list = e->plist;
  p->data = e->pdata;
  return TE_OK;
}

/* From where the demuxer is, the packets from the first keyframe up to the frame for `target`,
 * into e->list. Sets *late when that keyframe comes after the target (the seek landed too
 * late). */
static int collect_packets(te_engine *e, int64_t target, int mode, int *late) {
  const AVStream *st = e->fmt->streams[e->stream];
  te_packets *p = &e->list;
  p->count = p->data_size = 0;
  p->wanted = -1;
  *late = 0;
  int64_t wanted_pts = AV_NOPTS_VALUE, last_pts = AV_NOPTS_VALUE;
  int after_wanted = 0, skipped = 0;
  for (;;) {
    if (interrupted(e)) return fail(e, TE_ERR_INTERRUPTED, "interrupted");
    int ret = av_read_frame(e->fmt, e->pkt);
    e->fresh = 0;
    if (ret == AVERROR(ENOMEM)) return fail_av(e, TE_ERR_NO_MEMORY, ret, "reading");
    if (ret < 0) break; /* the end, or a truncation */
    if (e->pkt->stream_index != e->stream) {
      av_packet_unref(e->pkt);
      continue;
    }
    if (p->count == 0 && !(e->pkt->flags & AV_PKT_FLAG_KEY)) { /* a seek may land before a keyframe */
      av_packet_unref(e->pkt);
      if (++skipped > MAX_PACKETS) return fail(e, TE_ERR_CORRUPT, "no keyframe found");
      continue;
    }
    int64_t pts = e->pkt->pts, dts = e->pkt->dts;
    if (pts == AV_NOPTS_VALUE) {
      av_packet_unref(e->pkt);
      return fail(e, TE_ERR_UNSUPPORTED_CODEC, "packets without timestamps");
    }
    /* All wanted is out of the decoder once a packet decodes after it in time (dts past its pts). */
    if (wanted_pts != AV_NOPTS_VALUE && (dts != AV_NOPTS_VALUE ? dts > wanted_pts : after_wanted >= MAX_REORDER)) {
      av_packet_unref(e->pkt);
      break;
    }
    ret = keep_packet(e, st);
    av_packet_unref(e->pkt);
    if (ret != TE_OK) return ret;
    int index = p->count - 1;
    /* (as te_decode, which takes in keyframe mode the first keyframe the seek finds) */
    if (index == 0 && mode == TE_MODE_EXACT && pts > sat_add(target, e->frame_dur)) *late = 1;
    if (mode == TE_MODE_KEYFRAME) {
      p->wanted = 0;
      return TE_OK;
    }
    if (pts >= target && (wanted_pts == AV_NOPTS_VALUE || pts < wanted_pts)) {
      wanted_pts = pts;
      p->wanted = index;
      after_wanted = 0;
    } else if (wanted_pts != AV_NOPTS_VALUE) {
      after_wanted++;
    }
    if (p->wanted < 0 && (last_pts == AV_NOPTS_VALUE || pts > last_pts)) last_pts = pts;
  }
  if (p->count == 0) return fail(e, TE_ERR_CORRUPT, "no packet of the video could be read");
  if (p->wanted < 0) { /* past the end: the last frame */
    for (int i = 0; i < p->count; i++)
      if (p->wanted < 0 || e->plist[i].time > e->plist[p->wanted].time) p->wanted = i;
  }
  return TE_OK;
}

TE_EXPORT int te_read_packets(te_engine *e, double t, int32_t mode) {
  int64_t target;
  int status = decode_args(e, t, 0, 0, mode, &target);
  memset(&e->list, 0, sizeof e->list);
  if (status != TE_OK) return status;
  /* What te_decode would then do is unknown: it seeks again. */
  e->positioned = e->drained = 0;
  int64_t back = sat_mul(e->frame_dur, 25), seek_to = target;
  int late = 0;
  for (int attempt = 0;; attempt++) {
    if (seek_to <= e->start || attempt > 4) { /* from the start */
      if (!e->fresh && seek_before(e, e->start) >= 0) {
        status = collect_packets(e, target, mode, &late);
        if (status == TE_OK && !late) break;
        if (status != TE_OK && status != TE_ERR_CORRUPT) return status;
      }
      /* the start not reached (no index; an MPEG-TS seek landing later): from the first byte */
      if (!e->fresh && (status = restart(e)) != TE_OK) return status;
      status = collect_packets(e, target, mode, &late);
      if (status != TE_OK) return status;
      break;
    }
    if (seek_before(e, seek_to) < 0) {
      seek_to = e->start;
      continue;
    }
    status = collect_packets(e, target, mode, &late);
    if (status != TE_OK && status != TE_ERR_CORRUPT) return status;
    if (status == TE_OK && !late) break;
    /* too late, or nothing readable from there: go back */
    back = back > 0 ? sat_mul(back, 4) : sat_add(target, -e->start);
    seek_to = sat_add(target, -back);
  }
  /* What need not be decoded: pictures nothing refers to, but the one wanted. */
  te_packets *p = &e->list;
  enum AVCodecID id = e->fmt->streams[e->stream]->codecpar->codec_id;
  int length_size = nal_length_size(&e->codec_info, id);
  for (int i = 0; i < p->count; i++) {
    te_packet *k = &e->plist[i];
    if (i != p->wanted && !(k->flags & TE_PACKET_KEY) && packet_unreferenced(e->pdata + k->offset, k->size, id, length_size))
      k->flags |= TE_PACKET_SKIP;
  }
  /* Two packets at the wanted time: which one comes out is the decoder's choice. */
  for (int i = 0; i < p->count; i++)
    if (i != p->wanted && e->plist[i].time == e->plist[p->wanted].time)
      return fail(e, TE_ERR_UNSUPPORTED_CODEC, "two packets at the time wanted");
  return TE_OK;
}

TE_EXPORT double te_packets_decoded(const te_engine *e, int32_t again) { return (double)(again ? e->again : e->packets); }

TE_EXPORT const char *te_error_name(int32_t status) {
  switch (status) {
    case TE_OK: return "ok";
    case TE_ERR_NOT_MEDIA: return "not_media";
    case TE_ERR_NO_VIDEO: return "no_video";
    case TE_ERR_UNSUPPORTED_CODEC: return "unsupported_codec";
    case TE_ERR_CORRUPT: return "corrupt";
    case TE_ERR_TOO_LARGE: return "too_large";
    case TE_ERR_NO_MEMORY: return "no_memory";
    case TE_ERR_IO: return "io";
    case TE_ERR_INVALID_ARGUMENT: return "invalid_argument";
    case TE_ERR_INTERRUPTED: return "interrupted";
    case TE_ERR_UNSUPPORTED_CONTAINER: return "unsupported_container";
    default: return "unknown";
  }
}
