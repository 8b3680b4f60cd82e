/* H.264 and HEVC NAL units, read only as far as telling which pictures nothing refers to: the
 * packets another decoder (WebCodecs) need not be given. */
#include "internal.h"

/* The length-prefix size of AVCC/HVCC packets (from avcC/hvcC extradata), or 0: Annex B. */
int engine_nal_length_size(const te_codec *c, enum AVCodecID id) {
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
int engine_packet_unreferenced(const uint8_t *d, size_t size, enum AVCodecID id, int length_size) {
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
