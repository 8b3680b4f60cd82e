/* Seeking and decoding: the frame for a time, exact or the keyframe before it (te_decode), and
 * the next ones from where the last decode left off (te_decode_next). */
#include "internal.h"

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

/* Opens the container again from its first byte: the way back to the start when seeking there
 * fails (no index, a broken one) or lands where nothing decodes. The decoder is kept. */
int engine_restart(te_engine *e) {
  enum AVCodecID codec = e->fmt->streams[e->stream]->codecpar->codec_id;
  avformat_close_input(&e->fmt); /* custom I/O: e->io stays open */
  int ret = engine_open_demuxer(e);
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
int engine_seek_before(te_engine *e, int64_t target) {
  e->positioned = e->drained = 0;
  if (e->dec) avcodec_flush_buffers(e->dec);
  if (e->fresh && target <= e->start) return 0; /* already at the start */
  int ret = avformat_seek_file(e->fmt, e->stream, INT64_MIN, target, target, 0);
  if (ret < 0) ret = av_seek_frame(e->fmt, e->stream, target, AVSEEK_FLAG_BACKWARD);
  if (ret < 0 && e->fresh) return 0; /* unseekable, but we are at the start: decode forward */
  e->fresh = 0;
  return ret;
}

int64_t engine_frame_time(const AVFrame *f) {
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
      int64_t pts = engine_frame_time(e->kept);
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
  if (engine_seek_before(e, e->start) >= 0) {
    int status = decode_until(e, target, mode, 1, 0);
    if (at_first_byte) return status;
    /* A seek "to the start" of an MPEG-TS can land on a later keyframe: a first frame after the
     * target means the start was not reached, as much as nothing decoding does. */
    int64_t pts = status == TE_OK ? engine_frame_time(e->kept) : AV_NOPTS_VALUE;
    int late = mode == TE_MODE_EXACT && pts != AV_NOPTS_VALUE && pts > sat_add(target, e->frame_dur) && pts > e->start;
    if (status != TE_ERR_CORRUPT && !late) return status;
  }
  int ret = engine_restart(e);
  return ret != TE_OK ? ret : decode_until(e, target, mode, 1, 0);
}

/* Finds the frame for `target`. Where a seek lands after the keyframe the target needs (no index,
 * as in MPEG-TS), the first decoded frame comes after the target: seek further back and retry. */
static int find_frame(te_engine *e, int64_t target, int mode) {
  int64_t back = sat_mul(e->frame_dur, 25);
  int64_t seek_to = target;
  for (int attempt = 0;; attempt++) {
    if (seek_to <= e->start || attempt > 4) return decode_from_start(e, target, mode);
    if (engine_seek_before(e, seek_to) < 0) return decode_from_start(e, target, mode);
    int status = decode_until(e, target, mode, 0, 0);
    if (status == TE_OK) {
      int64_t pts = engine_frame_time(e->kept);
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

/* Checks a decode call's arguments; sets *target to t in the stream's time base. */
int engine_decode_args(te_engine *e, double t, int32_t max_width, int32_t max_height, int32_t mode, int64_t *target) {
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
  int status = engine_decode_args(e, t, max_width, max_height, mode, &target);
  if (status == TE_OK) status = open_decoder(e);
  if (status == TE_OK) status = find_frame(e, target, mode);
  if (status == TE_ERR_CORRUPT && mode == TE_MODE_KEYFRAME && !e->unflagged_keys) {
    e->unflagged_keys = 1; /* nothing came out as a keyframe: the decoder may flag none */
    e->message[0] = 0;
    status = find_frame(e, target, mode);
  }
  if (status != TE_OK) return status;
  return engine_to_rgba(e, max_width, max_height);
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
  int status = engine_decode_args(e, t, max_width, max_height, TE_MODE_EXACT, &target);
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
  return engine_to_rgba(e, max_width, max_height);
}
