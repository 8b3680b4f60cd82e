/* Opening a video: probing what the bytes are, the lists of formats.h applied (containers, the
 * decoders probing may open, bounds on probing), the stream chosen as the CLI chooses it, and its
 * description for the host (te_probe, te_codec_info). */
#include "internal.h"

/* Clockwise degrees (0, 90, 180, 270) from the stream's display matrix, as the ffmpeg CLI reads it. */
static int stream_rotation(const AVStream *st) {
  const int32_t *matrix = (const int32_t *)av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, NULL);
  if (!matrix) return 0;
  double theta = -av_display_rotation_get(matrix);
  if (!isfinite(theta)) return 0;
  int quarter = (int)lrint(fmod(theta, 360.0) / 90.0) % 4;
  return (quarter < 0 ? quarter + 4 : quarter) * 90;
}

/* Fills info and codec_info from the stream (codec_info's extradata copied: it must outlive the
 * format context, which engine_restart() replaces). */
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
  int dw = engine_shown_width(par->width, sar), dh = par->height;
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
int engine_open_demuxer(te_engine *e) {
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

/* The frame size of a stream whose header does not say it and whose decoder this build lacks (AV1
 * as bare OBUs in the demux-only and wasm builds; probing closed the demuxer's parser): from
 * FFmpeg's parser, given the first packets. The demuxer then stands after them: 0 (not fresh, the
 * first decode seeks back). */
static int size_from_parser(te_engine *e, AVStream *st) {
  enum { MOST_PACKETS = 16 };
  AVCodecParserContext *parser = av_parser_init(st->codecpar->codec_id);
  AVCodecContext *ctx = parser ? avcodec_alloc_context3(NULL) : NULL;
  for (int n = 0; ctx && n < MOST_PACKETS && parser->width <= 0 && av_read_frame(e->fmt, e->pkt) >= 0;) {
    if (e->pkt->stream_index == st->index) {
      uint8_t *out;
      int out_size;
      av_parser_parse2(parser, ctx, &out, &out_size, e->pkt->data, e->pkt->size, e->pkt->pts, e->pkt->dts, e->pkt->pos);
      n++;
    }
    av_packet_unref(e->pkt);
  }
  if (parser && parser->width > 0 && parser->height > 0) {
    st->codecpar->width = parser->width;
    st->codecpar->height = parser->height;
  }
  av_parser_close(parser);
  avcodec_free_context(&ctx);
  return 0;
}

int engine_open_video(te_engine *e, int32_t threads) {
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
  ret = engine_open_demuxer(e);
  if (ret != TE_OK) return ret;

  int index = choose_video_stream(e->fmt);
  if (index < 0) return fail(e, TE_ERR_NO_VIDEO, "the file has no video stream");
  AVStream *st = e->fmt->streams[index];
  AVCodecParameters *par = st->codecpar;
  int fresh = 1;
  if (par->width <= 0 || par->height <= 0) fresh = size_from_parser(e, st);
  if (par->width <= 0 || par->height <= 0) return fail(e, TE_ERR_CORRUPT, "the video stream has no frame size");
  if ((int64_t)par->width * par->height > e->max_pixels)
    return fail(e, TE_ERR_TOO_LARGE, "%dx%d frames are above the limit of %d pixels", par->width, par->height, e->max_pixels);
  /* The decoder starts at the first decode: probing and reading packets need none. */
  e->codec = avcodec_find_decoder(par->codec_id);
  if (e->codec && !av_match_list(e->codec->name, TE_ALL_DECODERS, ',')) e->codec = NULL;
  e->threads = threads;

  e->stream = index;
  e->fresh = fresh;
  /* An index from the file's header (MP4's moov, Matroska's cues, AVI's idx1) says where keyframes
   * are before they are read; one built while reading (MPEG-TS) does not, and seeks by it land
   * only near the target. */
  e->indexed = avformat_index_get_entries_count(st) > 1;
  return describe(e, st);
}
