/* What the engine's files share (not part of its API, engine.h): the engine's state, how a call
 * fails, timestamp arithmetic, and the functions one file gives another (prefixed engine_). The
 * files, by role:
 *   engine.c   the engine's life (new, close, free), its accessors and error names
 *   readers.c  where the bytes come from: a path, the host's reader (wasm), a descriptor (native)
 *   open.c     probing, the lists of formats.h applied, choosing the stream, describing it
 *   decode.c   seeking and decoding to the frame for a time (te_decode, te_decode_next)
 *   picture.c  the frame's output size, scaled and turned into RGBA
 *   packets.c  the packets for another decoder (te_read_packets)
 *   nal.c      H.264/HEVC NAL units: which pictures nothing refers to */
#ifndef TE_INTERNAL_H
#define TE_INTERNAL_H

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
  int output_depth;     /* te_set_output_depth: 8 or 16 */
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

static inline int interrupted(void *opaque) {
  const te_engine *e = opaque;
  return e->interrupt && __atomic_load_n(e->interrupt, __ATOMIC_RELAXED) != 0;
}

/* Records why a call failed. Any failure after an interrupt is the interrupt's doing. */
static inline int fail(te_engine *e, int status, const char *fmt, ...) {
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
static inline int fail_av(te_engine *e, int status, int averr, const char *what) {
  if (averr == AVERROR(ENOMEM)) status = TE_ERR_NO_MEMORY;
  return fail(e, status, "%s: %s", what, av_err2str(averr));
}

/* Saturating arithmetic on timestamps: a hostile file may put them anywhere in int64. */
static inline int64_t sat_add(int64_t a, int64_t b) {
  int64_t r;
  return __builtin_add_overflow(a, b, &r) ? (b > 0 ? INT64_MAX : INT64_MIN) : r;
}
static inline int64_t sat_mul(int64_t a, int64_t b) {
  int64_t r;
  return __builtin_mul_overflow(a, b, &r) ? ((a < 0) != (b < 0) ? INT64_MIN : INT64_MAX) : r;
}

/* open.c */
/* The rest of te_open / te_open_fd / te_open_reader, once e->io reads the file. */
int engine_open_video(te_engine *e, int32_t threads);
/* Opens the demuxer on e->io from byte 0 and reads the stream parameters. */
int engine_open_demuxer(te_engine *e);

/* decode.c */
/* Opens the container again from its first byte (seeking to the start failed or landed late). */
int engine_restart(te_engine *e);
/* Positions the demuxer at the keyframe at or before `target` (stream time base). */
int engine_seek_before(te_engine *e, int64_t target);
/* A decoded frame's time (stream time base), AV_NOPTS_VALUE when it has none. */
int64_t engine_frame_time(const AVFrame *f);
/* Checks a decode call's arguments; sets *target to t in the stream's time base. */
int engine_decode_args(te_engine *e, double t, int32_t max_width, int32_t max_height, int32_t mode, int64_t *target);

/* picture.c */
/* The width a w-pixel row is shown at with this sample aspect ratio (as the CLI's scale=iw*sar:ih). */
int engine_shown_width(int w, AVRational sar);
/* e->kept, fitted in the box, as the RGBA picture of te_result. */
int engine_to_rgba(te_engine *e, int max_width, int max_height);

/* nal.c */
/* The length-prefix size of AVCC/HVCC packets (from avcC/hvcC extradata), or 0: Annex B. */
int engine_nal_length_size(const te_codec *c, enum AVCodecID id);
/* Does nothing refer to this packet's picture (H.264, HEVC)? */
int engine_packet_unreferenced(const uint8_t *d, size_t size, enum AVCodecID id, int length_size);

#endif
