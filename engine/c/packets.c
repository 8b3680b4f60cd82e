/* The packets for another decoder (te_read_packets, for the browser's WebCodecs): from the
 * keyframe at or before a time up to the frame wanted, which of them that is, and which need not
 * be decoded. */
#include "internal.h"

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
  int status = engine_decode_args(e, t, 0, 0, mode, &target);
  memset(&e->list, 0, sizeof e->list);
  if (status != TE_OK) return status;
  /* What te_decode would then do is unknown: it seeks again. */
  e->positioned = e->drained = 0;
  int64_t back = sat_mul(e->frame_dur, 25), seek_to = target;
  int late = 0;
  for (int attempt = 0;; attempt++) {
    if (seek_to <= e->start || attempt > 4) { /* from the start */
      if (!e->fresh && engine_seek_before(e, e->start) >= 0) {
        status = collect_packets(e, target, mode, &late);
        if (status == TE_OK && !late) break;
        if (status != TE_OK && status != TE_ERR_CORRUPT) return status;
      }
      /* the start not reached (no index; an MPEG-TS seek landing later): from the first byte */
      if (!e->fresh && (status = engine_restart(e)) != TE_OK) return status;
      status = collect_packets(e, target, mode, &late);
      if (status != TE_OK) return status;
      break;
    }
    if (engine_seek_before(e, seek_to) < 0) {
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
  int length_size = engine_nal_length_size(&e->codec_info, id);
  for (int i = 0; i < p->count; i++) {
    te_packet *k = &e->plist[i];
    if (i != p->wanted && !(k->flags & TE_PACKET_KEY) && engine_packet_unreferenced(e->pdata + k->offset, k->size, id, length_size))
      k->flags |= TE_PACKET_SKIP;
  }
  /* Two packets at the wanted time: which one comes out is the decoder's choice. */
  for (int i = 0; i < p->count; i++)
    if (i != p->wanted && e->plist[i].time == e->plist[p->wanted].time)
      return fail(e, TE_ERR_UNSUPPORTED_CODEC, "two packets at the time wanted");
  return TE_OK;
}
