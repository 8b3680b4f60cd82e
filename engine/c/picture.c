/* The picture: the size a frame is shown at (sample aspect ratio, rotation, the box, the pixel
 * limit; te_output_size), and the frame scaled, converted to RGBA (or RGBA64) and turned
 * (engine_to_rgba). */
#include "internal.h"

/* The width a w-pixel row is shown at with this sample aspect ratio, as the CLI's scale=iw*sar:ih
 * makes it, kept within [1, TE_MAX_SHOWN] whatever the file claims. */
int engine_shown_width(int w, AVRational sar) {
  if (sar.num <= 0 || sar.den <= 0 || av_cmp_q(sar, (AVRational){1, 1}) == 0) return w;
  double shown = w * av_q2d(sar);
  return (int)FFMAX(1.0, FFMIN(round(shown), (double)TE_MAX_SHOWN));
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

/* Copies a w x h picture of `bytes`-byte pixels (rows `stride` bytes apart) into the packed dst,
 * turned `rotation` degrees clockwise. */
static void copy_turned(const uint8_t *src, int stride, int w, int h, int rotation, size_t bytes, uint8_t *dst) {
  if (rotation == 0) {
    for (int y = 0; y < h; y++) memcpy(dst + (size_t)y * w * bytes, src + (size_t)y * stride, (size_t)w * bytes);
    return;
  }
  for (int y = 0; y < h; y++) {
    const uint8_t *row = src + (size_t)y * stride;
    for (int x = 0; x < w; x++) {
      size_t to;
      switch (rotation) {
        case 90: to = (size_t)x * h + (h - 1 - y); break;
        case 180: to = (size_t)(h - 1 - y) * w + (w - 1 - x); break;
        default: to = (size_t)(w - 1 - x) * h + y; break; /* 270 */
      }
      memcpy(dst + to * bytes, row + (size_t)x * bytes, bytes);
    }
  }
}

/* The size a w x h frame of the open stream is shown at, fitted in the box: its sample aspect
 * ratio and rotation applied, never enlarged, at most max_pixels, and TE_MAX_SIDE a side. */
static void fit_size(const te_engine *e, int w, int h, AVRational sar, int max_width, int max_height, int *out_w_, int *out_h_) {
  const int turned = e->info.rotation % 180 != 0;
  double shown_w = engine_shown_width(w, sar), shown_h = h;
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

/* Scales e->kept to fit the box (never enlarging; at most max_pixels, and TE_MAX_SIDE a side),
 * converts it to RGBA (RGBA64 at output depth 16) and applies the rotation. The size comes from
 * the frame itself, since a stream may change its resolution. */
int engine_to_rgba(te_engine *e, int max_width, int max_height) {
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
  const int deep = e->output_depth == 16;
  const enum AVPixelFormat out_format = deep ? AV_PIX_FMT_RGBA64 : AV_PIX_FMT_RGBA;
  const size_t pixel_bytes = deep ? 8 : 4;
  e->sws = sws_getCachedContext(e->sws, f->width, f->height, f->format, scaled_w, scaled_h, out_format,
                                SWS_BICUBIC, NULL, NULL, NULL);
  if (!e->sws) return fail(e, TE_ERR_NO_MEMORY, "cannot set up the scaler for %dx%d to %dx%d", f->width, f->height, scaled_w, scaled_h);
  /* YUV -> RGB with the matrix and range the stream declares (BT.601 when it says nothing). */
  int *inv_table, src_range, *table, dst_range, brightness, contrast, saturation;
  if (sws_getColorspaceDetails(e->sws, &inv_table, &src_range, &table, &dst_range, &brightness, &contrast, &saturation) >= 0) {
    int space = f->colorspace != AVCOL_SPC_UNSPECIFIED ? f->colorspace : SWS_CS_DEFAULT;
    if (f->color_range == AVCOL_RANGE_JPEG) src_range = 1;
    /* swscale's RGBA64 comes out 0.4 % dark (10-bit limited-range white at 65283, not 65535, in
     * FFmpeg 5.1): its contrast makes up for it, so that the host's tone mapping gets the exact
     * values (the browser's WebCodecs path computes them: worker/src/pixels.rs). */
    if (deep) contrast = (int)((int64_t)contrast * 65535 / 65283);
    sws_setColorspaceDetails(e->sws, sws_getCoefficients(space), src_range, table, 1, brightness, contrast, saturation);
  }

  /* swscale writes whole SIMD blocks: its output needs aligned rows and padding after the last. */
  AVFrame *scaled = e->scaled;
  if (scaled->width != scaled_w || scaled->height != scaled_h || scaled->format != out_format || !scaled->data[0]) {
    av_frame_unref(scaled);
    scaled->format = out_format;
    scaled->width = scaled_w;
    scaled->height = scaled_h;
    if (av_frame_get_buffer(scaled, 64) < 0) return fail(e, TE_ERR_NO_MEMORY, "out of memory for a %dx%d image", out_w, out_h);
  }
  size_t need = (size_t)out_w * out_h * pixel_bytes;
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
  copy_turned(scaled->data[0], scaled->linesize[0], scaled_w, scaled_h, rotation, pixel_bytes, e->pixels);

  int64_t pts = engine_frame_time(f);
  AVRational tb = e->fmt->streams[e->stream]->time_base;
  e->image.time = pts != AV_NOPTS_VALUE ? FFMAX(0.0, ((double)pts - (double)e->start) * av_q2d(tb)) : 0.0;
  e->image.width = out_w;
  e->image.height = out_h;
  e->image.rgba = e->pixels;
  return TE_OK;
#endif
}
