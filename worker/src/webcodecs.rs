//! The browser's own decoder (WebCodecs' `VideoDecoder`) on packets the engine demuxed
//! (`te_read_packets`): configured as `thumbnail_engine::webcodecs` says, fed from the keyframe up
//! to the frame wanted (without the pictures nothing refers to), flushed; the wanted frame is drawn
//! at the engine's size, turned as the engine turns it, and every other frame closed at once.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use js_sys::{Reflect, Uint8Array};
use thumbnail_engine::layout::Packets;
use thumbnail_engine::webcodecs::DecoderConfig;

use crate::engine::js_message as message;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    EncodedVideoChunk, EncodedVideoChunkInit, EncodedVideoChunkType, OffscreenCanvas, VideoColorPrimaries,
    VideoColorSpaceInit, VideoDecoder, VideoDecoderConfig, VideoDecoderInit, VideoFrame, VideoMatrixCoefficients,
    VideoTransferCharacteristics,
};

/// Whether the browser has WebCodecs at all (a worker of an old browser, or a non-secure page).
pub fn available() -> bool {
    Reflect::has(&js_sys::global(), &"VideoDecoder".into()).unwrap_or(false)
}

/// The config as WebCodecs takes it. The colour space is the engine's conversion: the stream's
/// matrix and range, and primaries and transfer those of the canvas (sRGB), so that the browser
/// converts YUV to RGB with the matrix only, as swscale does, and manages no colour besides.
fn config(c: &DecoderConfig) -> VideoDecoderConfig {
    let config = VideoDecoderConfig::new(&c.codec);
    if let Some(description) = &c.description {
        config.set_description_u8_array(&Uint8Array::from(&description[..]));
    }
    let colour = VideoColorSpaceInit::new();
    let matrix = match c.matrix {
        "bt709" => VideoMatrixCoefficients::Bt709,
        "bt470bg" => VideoMatrixCoefficients::Bt470bg,
        "bt2020-ncl" => VideoMatrixCoefficients::Bt2020Ncl,
        _ => VideoMatrixCoefficients::Smpte170m,
    };
    colour.set_matrix(Some(matrix));
    colour.set_full_range(Some(c.full_range));
    colour.set_primaries(Some(VideoColorPrimaries::Bt709));
    colour.set_transfer(Some(VideoTransferCharacteristics::Iec6196621));
    config.set_color_space(&colour);
    config
}

/// The browser's decoders of one worker: what `VideoDecoder.isConfigSupported` said, asked once
/// per codec string and description, and the last decoder, kept configured for the next job of the
/// same config (configuring one starts the browser's decoder and its threads anew: 5-20 ms).
#[derive(Default)]
pub struct Decoders {
    support: RefCell<HashMap<(String, Option<Vec<u8>>), bool>>,
    kept: RefCell<Option<Kept>>,
}

/// A configured decoder, and the job its callbacks report to.
struct Kept {
    config: DecoderConfig,
    decoder: VideoDecoder,
    job: Rc<RefCell<Job>>,
    _callbacks: (Closure<dyn FnMut(VideoFrame)>, Closure<dyn FnMut(JsValue)>),
}

/// What one decode is after, and what it got.
#[derive(Default)]
struct Job {
    /// The wanted frame's timestamp (microseconds).
    wanted_at: f64,
    found: Option<VideoFrame>,
    failed: Option<String>,
}

impl Kept {
    fn new(c: &DecoderConfig) -> Result<Kept, String> {
        let job: Rc<RefCell<Job>> = Rc::default();
        let output = {
            let job = job.clone();
            Closure::<dyn FnMut(VideoFrame)>::new(move |frame: VideoFrame| {
                let mut job = job.borrow_mut();
                if frame.timestamp() == job.wanted_at && job.found.is_none() {
                    job.found = Some(frame);
                } else {
                    frame.close();
                }
            })
        };
        let error = {
            let job = job.clone();
            Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
                job.borrow_mut().failed = Some(message(&e));
            })
        };
        let decoder = VideoDecoder::new(&VideoDecoderInit::new(
            error.as_ref().unchecked_ref(),
            output.as_ref().unchecked_ref(),
        ))
        .map_err(|e| message(&e))?;
        decoder.configure(&config(c)).map_err(|e| message(&e))?;
        Ok(Kept {
            config: c.clone(),
            decoder,
            job,
            _callbacks: (output, error),
        })
    }
}

impl Decoders {
    pub async fn supported(&self, c: &DecoderConfig) -> bool {
        let key = (c.codec.clone(), c.description.clone());
        if let Some(known) = self.support.borrow().get(&key) {
            return *known;
        }
        let answer = match JsFuture::from(VideoDecoder::is_config_supported(&config(c))).await {
            Ok(support) => support
                .unchecked_into::<web_sys::VideoDecoderSupport>()
                .get_supported()
                .unwrap_or(false),
            Err(_) => false, // a config it cannot even read
        };
        self.support.borrow_mut().insert(key, answer);
        answer
    }

    /// The decoded frame for `packets.wanted`, or why the browser's decoder did not give it. The
    /// decoder is flushed after the packets (the next job starts at a keyframe, as a flushed
    /// decoder needs), and kept if it did not fail.
    pub async fn decode(&self, c: &DecoderConfig, packets: &Packets) -> Result<VideoFrame, String> {
        let kept = match self.kept.borrow_mut().take() {
            Some(kept) if kept.config == *c && kept.decoder.state() == web_sys::CodecState::Configured => kept,
            other => {
                if let Some(old) = other {
                    let _ = old.decoder.close();
                }
                Kept::new(c)?
            }
        };
        *kept.job.borrow_mut() = Job {
            wanted_at: micros(packets.list[packets.wanted].time),
            ..Job::default()
        };
        let flushed = match feed(&kept.decoder, packets) {
            Ok(()) => JsFuture::from(kept.decoder.flush())
                .await
                .map(drop)
                .map_err(|e| message(&e)),
            Err(e) => Err(e),
        };
        let (frame, failed) = {
            let mut job = kept.job.borrow_mut();
            (job.found.take(), job.failed.take())
        };
        if let Some(why) = failed.or(flushed.err()) {
            if let Some(frame) = frame {
                frame.close();
            }
            let _ = kept.decoder.close();
            return Err(why);
        }
        *self.kept.borrow_mut() = Some(kept);
        frame.ok_or_else(|| "the browser's decoder gave no frame at the time wanted".into())
    }
}

/// Queues every packet that is needed.
fn feed(decoder: &VideoDecoder, packets: &Packets) -> Result<(), String> {
    for packet in packets.list.iter().filter(|p| !p.skip) {
        let kind = if packet.key {
            EncodedVideoChunkType::Key
        } else {
            EncodedVideoChunkType::Delta
        };
        let init = EncodedVideoChunkInit::new_with_u8_array(&Uint8Array::from(packets.bytes(packet)), 0, kind);
        init.set_timestamp_f64(micros(packet.time));
        if packet.duration > 0.0 {
            init.set_duration_f64(micros(packet.duration));
        }
        let chunk = EncodedVideoChunk::new(&init).map_err(|e| message(&e))?;
        decoder.decode(&chunk).map_err(|e| message(&e))?;
    }
    Ok(())
}

/// WebCodecs' timestamps: whole microseconds.
fn micros(seconds: f64) -> f64 {
    (seconds * 1e6).round()
}

/// The RGBA of `frame` (then closed) at `width` x `height` as shown, turned `rotation` degrees
/// clockwise, made as the engine makes its frames, so that both paths give the server's pixels:
/// the YUV planes (`copyTo`) scaled as swscale scales them to RGB (bicubic B = 0, C = 0.6; luma to
/// the output size, chroma to half its width and its full height, each chroma sample shared by two
/// pixels), converted with the stream's matrix and range, then turned as the engine's copy_rgba.
/// A pixel format other than 8/10-bit 4:2:0 or 4:4:4 is converted by the browser's canvas instead.
pub async fn draw(
    frame: VideoFrame,
    width: u32,
    height: u32,
    rotation: u32,
    config: &DecoderConfig,
) -> Result<js_sys::Uint8ClampedArray, JsValue> {
    let turned = rotation % 180 != 0;
    let (sw, sh) = if turned { (height, width) } else { (width, height) };
    let made = match planes(&frame).await {
        Ok(Some(planes)) => Ok(planes.to_rgba((sw, sh), config)),
        Ok(None) => canvas_rgba(&frame)
            .and_then(|(rgba, size)| scale(rgba, size, (sw, sh), 4).map_err(|e| JsValue::from_str(&e))),
        Err(e) => Err(e),
    };
    frame.close();
    let out = turn(&made?, sw, sh, rotation);
    Ok(js_sys::Uint8ClampedArray::from(&out[..]))
}

/// A decoded picture's 8-bit planes: luma, and the two chroma planes at their own size.
struct Planes {
    /// The source's chroma is subsampled (4:2:0): swscale then makes half-width chroma for RGB;
    /// from 4:4:4, full-width.
    subsampled: bool,
    /// More than 8 bits a sample: swscale has no unscaled shortcut to RGB for those.
    deep: bool,
    luma: (Vec<u8>, u32, u32),
    cb: (Vec<u8>, u32, u32),
    cr: (Vec<u8>, u32, u32),
}

/// The frame's planes, for the formats this converts (None: another format).
async fn planes(frame: &VideoFrame) -> Result<Option<Planes>, JsValue> {
    use web_sys::VideoPixelFormat as F;
    let (deep, sub) = match frame.format() {
        Some(F::I420 | F::I420a) => (false, true),
        Some(F::I420p10) => (true, true),
        Some(F::I444 | F::I444a) => (false, false),
        Some(F::I444p10) => (true, false),
        _ => return Ok(None),
    };
    let (w, h) = visible_size(frame);
    let buffer = Uint8Array::new_with_length(frame.allocation_size()?);
    let layout: js_sys::Array = JsFuture::from(frame.copy_to_with_u8_array(&buffer))
        .await?
        .unchecked_into();
    let bytes = buffer.to_vec();
    let (cw, ch) = if sub { (w.div_ceil(2), h.div_ceil(2)) } else { (w, h) };
    // Each plane's rows must lie in what was copied (else: the canvas converts).
    let sample = if deep { 2 } else { 1 };
    let fits = |index: u32, pw: u32, ph: u32| {
        let layout: web_sys::PlaneLayout = layout.get(index).unchecked_into();
        let (offset, stride) = (layout.get_offset() as usize, layout.get_stride() as usize);
        ph == 0 || offset + (ph as usize - 1) * stride + pw as usize * sample <= bytes.len()
    };
    if layout.length() < 3 || !(fits(0, w, h) && fits(1, cw, ch) && fits(2, cw, ch)) {
        return Ok(None);
    }
    let plane = |index: u32, pw: u32, ph: u32| -> (Vec<u8>, u32, u32) {
        let layout: web_sys::PlaneLayout = layout.get(index).unchecked_into();
        let (offset, stride) = (layout.get_offset() as usize, layout.get_stride() as usize);
        let mut out = Vec::with_capacity((pw * ph) as usize);
        for y in 0..ph as usize {
            let row = &bytes[offset + y * stride..];
            if deep {
                // 10 bits to 8, rounded (little-endian 16-bit samples)
                out.extend((0..pw as usize).map(|x| {
                    let v = u16::from_le_bytes([row[2 * x], row[2 * x + 1]]);
                    ((v + 2) >> 2).min(255) as u8
                }));
            } else {
                out.extend_from_slice(&row[..pw as usize]);
            }
        }
        (out, pw, ph)
    };
    Ok(Some(Planes {
        subsampled: sub,
        deep,
        luma: plane(0, w, h),
        cb: plane(1, cw, ch),
        cr: plane(2, cw, ch),
    }))
}

impl Planes {
    /// RGBA of `size`, as swscale makes packed RGB from YUV (see [`draw`]).
    fn to_rgba(&self, size: (u32, u32), config: &DecoderConfig) -> Vec<u8> {
        let (w, h) = size;
        // At the picture's own size swscale converts 8-bit samples without scaling, each chroma
        // sample shared by 2x2 pixels (4:2:0); otherwise it makes chroma of half the width and the
        // full height.
        let unscaled = (self.luma.1, self.luma.2) == size && !self.deep;
        let shared = if self.subsampled { 2 } else { 1 };
        let chroma = if unscaled {
            (self.cb.1, self.cb.2)
        } else {
            (w.div_ceil(shared), h)
        };
        let rows_shared = if unscaled { shared as usize } else { 1 };
        let scaled = |(plane, pw, ph): &(Vec<u8>, u32, u32), to: (u32, u32)| {
            scale(plane.clone(), (*pw, *ph), to, 1).unwrap_or_else(|_| vec![128; (to.0 * to.1) as usize])
        };
        let (y, cb, cr) = (
            scaled(&self.luma, size),
            scaled(&self.cb, chroma),
            scaled(&self.cr, chroma),
        );
        let (kr, kb) = match config.matrix {
            "bt709" => (0.2126f32, 0.0722f32),
            "bt2020-ncl" => (0.2627, 0.0593),
            _ => (0.299, 0.114), // smpte170m, bt470bg: BT.601
        };
        let kg = 1.0 - kr - kb;
        let (y_scale, y_offset, c_scale) = if config.full_range {
            (1.0f32, 0.0f32, 1.0f32)
        } else {
            (255.0 / 219.0, 16.0, 255.0 / 224.0)
        };
        // R = Y' + rv V, G = Y' - gu U - gv V, B = Y' + bu U (U, V centred on 128)
        let (rv, bu) = (2.0 * (1.0 - kr) * c_scale, 2.0 * (1.0 - kb) * c_scale);
        let (gu, gv) = (bu * kb / kg, rv * kr / kg);
        let mut out = vec![255u8; (w * h * 4) as usize];
        for (row, pixels) in out.chunks_exact_mut(w as usize * 4).enumerate() {
            let chroma_row = row / rows_shared * chroma.0 as usize;
            let luma_row = &y[row * w as usize..][..w as usize];
            for (x, px) in pixels.chunks_exact_mut(4).enumerate() {
                let l = (f32::from(luma_row[x]) - y_offset) * y_scale;
                let c = chroma_row + x / shared as usize;
                let (u, v) = (f32::from(cb[c]) - 128.0, f32::from(cr[c]) - 128.0);
                px[0] = (l + rv * v).round().clamp(0.0, 255.0) as u8;
                px[1] = (l - gu * u - gv * v).round().clamp(0.0, 255.0) as u8;
                px[2] = (l + bu * u).round().clamp(0.0, 255.0) as u8;
            }
        }
        out
    }
}

/// The frame converted to RGBA by the browser's canvas, at its own size (no aspect ratio).
fn canvas_rgba(frame: &VideoFrame) -> Result<(Vec<u8>, (u32, u32)), JsValue> {
    let (w, h) = visible_size(frame);
    let canvas = OffscreenCanvas::new(w, h)?;
    let context = crate::context_2d(&canvas)?;
    context.draw_image_with_video_frame_and_dw_and_dh(frame, 0.0, 0.0, f64::from(w), f64::from(h))?;
    Ok((context.get_image_data(0, 0, w as i32, h as i32)?.data().0, (w, h)))
}

/// A `w` x `h` RGBA picture turned `rotation` degrees clockwise (as the engine's copy_rgba).
fn turn(rgba: &[u8], w: u32, h: u32, rotation: u32) -> Vec<u8> {
    if rotation == 0 {
        return rgba.to_vec();
    }
    let (w, h) = (w as usize, h as usize);
    let mut out = vec![0u8; rgba.len()];
    for y in 0..h {
        for x in 0..w {
            let to = match rotation {
                90 => x * h + (h - 1 - y),
                180 => (h - 1 - y) * w + (w - 1 - x),
                _ => (w - 1 - x) * h + y, // 270
            };
            let from = y * w + x;
            out[to * 4..to * 4 + 4].copy_from_slice(&rgba[from * 4..from * 4 + 4]);
        }
    }
    out
}

/// swscale's SWS_BICUBIC kernel: the cubic of Mitchell and Netravali with B = 0, C = 0.6.
fn swscale_bicubic(x: f32) -> f32 {
    const B: f32 = 0.0;
    const C: f32 = 0.6;
    let x = x.abs();
    if x < 1.0 {
        ((12.0 - 9.0 * B - 6.0 * C) * x * x * x + (-18.0 + 12.0 * B + 6.0 * C) * x * x + (6.0 - 2.0 * B)) / 6.0
    } else if x < 2.0 {
        ((-B - 6.0 * C) * x * x * x + (6.0 * B + 30.0 * C) * x * x + (-12.0 * B - 48.0 * C) * x + (8.0 * B + 24.0 * C))
            / 6.0
    } else {
        0.0
    }
}

/// A picture of `channels` bytes a pixel (1 or 4) scaled from `from` to `to` with
/// [`swscale_bicubic`], in 14-bit integer weights as swscale computes (an alpha channel as it is:
/// swscale does not premultiply). Written here rather than taken from a crate: fast_image_resize
/// cost the worker 300 KB brotli, and `resize` (float, generic) took about 25 ms to scale and
/// convert a 1080p frame to 640 px, where this takes 15-20 (columns first: whole rows at once).
fn scale(pixels: Vec<u8>, from: (u32, u32), to: (u32, u32), channels: u32) -> Result<Vec<u8>, String> {
    if from == to {
        return Ok(pixels);
    }
    let c = channels as usize;
    let (fw, fh, tw, th) = (from.0 as usize, from.1 as usize, to.0 as usize, to.1 as usize);
    if fw == 0 || fh == 0 || tw == 0 || th == 0 || pixels.len() < fw * fh * c {
        return Err("bad picture size".into());
    }
    let (across, down) = (Taps::new(fw, tw), Taps::new(fh, th));
    // Down the columns first, whole rows at a time (which the compiler vectorises), into values
    // with 7 more bits (swscale keeps 15-bit intermediates); then across the fewer rows left.
    let stride = fw * c;
    let mut rows = vec![0i32; stride * th];
    for (y, line) in rows.chunks_exact_mut(stride).enumerate() {
        let (first, weights) = down.of(y);
        for (i, w) in weights.iter().enumerate() {
            let row = &pixels[(first + i) * stride..][..stride];
            for (s, v) in line.iter_mut().zip(row) {
                *s += w * i32::from(*v);
            }
        }
        line.iter_mut().for_each(|s| *s = (*s + (1 << 6)) >> 7);
    }
    let mut out = vec![0u8; tw * c * th];
    for (line, row) in out.chunks_exact_mut(tw * c).zip(rows.chunks_exact(stride)) {
        for x in 0..tw {
            let (first, weights) = across.of(x);
            for k in 0..c {
                let mut sum = 0i32;
                for (i, w) in weights.iter().enumerate() {
                    sum += w * row[(first + i) * c + k];
                }
                line[x * c + k] = ((sum + (1 << 20)) >> 21).clamp(0, 255) as u8;
            }
        }
    }
    Ok(out)
}

/// One dimension's filter: for each output sample, the first source sample and the weights of
/// that one and those after (14-bit, summing to 1 << 14), the taps moved inside the picture at its
/// edges, as swscale moves them.
struct Taps {
    first: Vec<usize>,
    weights: Vec<i32>,
    size: usize,
}

impl Taps {
    fn new(from: usize, to: usize) -> Taps {
        let ratio = from as f64 / to as f64;
        let stretch = ratio.max(1.0); // downscaling widens the kernel
        let size = ((2.0 * stretch).ceil() as usize * 2).min(from.max(1)).max(1);
        let (mut first, mut weights) = (Vec::with_capacity(to), Vec::with_capacity(to * size));
        for i in 0..to {
            let centre = (i as f64 + 0.5) * ratio - 0.5;
            let start = (centre - size as f64 / 2.0 + 1.0).floor() as isize;
            let start_in = start.clamp(0, (from - size) as isize) as usize;
            // Weights of the taps at start.., then folded onto the samples inside.
            let mut folded = vec![0f64; size];
            for j in 0..size {
                let at = start + j as isize;
                let w = f64::from(swscale_bicubic(((at as f64 - centre) / stretch) as f32));
                let inside = (at.clamp(0, from as isize - 1) as usize).clamp(start_in, start_in + size - 1);
                folded[inside - start_in] += w;
            }
            let total: f64 = folded.iter().sum();
            let mut ints: Vec<i32> = folded.iter().map(|w| (w / total * 16384.0).round() as i32).collect();
            let error = 16384 - ints.iter().sum::<i32>();
            let biggest = (0..size).max_by(|&a, &b| ints[a].cmp(&ints[b])).unwrap_or(0);
            ints[biggest] += error;
            first.push(start_in);
            weights.extend(ints);
        }
        Taps { first, weights, size }
    }

    fn of(&self, i: usize) -> (usize, &[i32]) {
        (self.first[i], &self.weights[i * self.size..][..self.size])
    }
}

/// The visible size of a decoded frame (its coded size without padding; no aspect ratio).
pub fn visible_size(frame: &VideoFrame) -> (u32, u32) {
    match frame.visible_rect() {
        Some(rect) => (rect.width() as u32, rect.height() as u32),
        None => (frame.coded_width(), frame.coded_height()),
    }
}
