/* The thumbnail engine (see engine.h): its life (te_new, te_close, te_free), its accessors and the
 * names of its errors. The same sources build to wasm and natively; internal.h says which file
 * does what. */
#include "internal.h"

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

#ifdef TE_NO_DECODERS
/* The demux-only build has no scaler: nothing calls it, since no decoder is ever found. */
struct SwsContext;
static void sws_freeContext(struct SwsContext *c) { (void)c; }
#endif

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
  e->output_depth = 8;
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

TE_EXPORT void te_set_output_depth(te_engine *e, int32_t bits) { e->output_depth = bits == 16 ? 16 : 8; }

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

TE_EXPORT const te_info *te_probe(const te_engine *e) { return &e->info; }
TE_EXPORT const te_codec *te_codec_info(const te_engine *e) { return &e->codec_info; }
TE_EXPORT const te_packets *te_packet_list(const te_engine *e) { return &e->list; }
TE_EXPORT const te_image *te_result(const te_engine *e) { return &e->image; }
TE_EXPORT const char *te_message(const te_engine *e) { return e->message; }

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
