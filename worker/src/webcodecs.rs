//! The browser's own decoder (WebCodecs' `VideoDecoder`) on packets the engine demuxed
//! (`te_read_packets`): configured as `thumbnail_engine::webcodecs` says, fed from the keyframe up
//! to the last frame wanted (without the pictures nothing refers to), flushed; each wanted frame
//! is handed on as it comes out and every other closed at once. `draw` makes a frame's RGBA at
//! the engine's size as the engine makes it (the pixel work is `pixels.rs`).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use js_sys::{Reflect, Uint8Array};
use thumbnail_engine::layout::Packets;
use thumbnail_engine::webcodecs::DecoderConfig;
use thumbnail_tonemap::ToneMap;

use crate::engine::js_message as message;
use crate::pixels::{scale_rgba, turn, Layout, Matrix, Planes};
use futures_channel::oneshot;
use futures_util::future::{select, Either};
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
/// converts YUV to RGB with the matrix only, as swscale does, and manages no colour besides. When
/// neither the container nor (H.264) the SPS gives the range, none is given: a colour space in the
/// config replaces the bitstream's, and the frames' `colorSpace` must tell the range (see `matrix`).
fn config(c: &DecoderConfig) -> VideoDecoderConfig {
    let config = VideoDecoderConfig::new(&c.codec);
    if let Some(description) = &c.description {
        config.set_description_u8_array(&Uint8Array::from(&description[..]));
    }
    if c.full_range.is_none() {
        return config;
    }
    let colour = VideoColorSpaceInit::new();
    let matrix = match c.matrix {
        "bt709" => VideoMatrixCoefficients::Bt709,
        "bt470bg" => VideoMatrixCoefficients::Bt470bg,
        "bt2020-ncl" => VideoMatrixCoefficients::Bt2020Ncl,
        _ => VideoMatrixCoefficients::Smpte170m,
    };
    colour.set_matrix(Some(matrix));
    colour.set_full_range(c.full_range);
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
    /// The configs' codec strings whose frames this browser converted itself (see
    /// [`converted_by_browser`]).
    converts_itself: RefCell<std::collections::HashSet<String>>,
    kept: RefCell<Option<Kept>>,
}

/// A configured decoder, and the job its callbacks report to.
struct Kept {
    config: DecoderConfig,
    decoder: VideoDecoder,
    job: Rc<RefCell<Job>>,
    /// Whether the last job's flush went well, when that job ended as soon as it had its frames
    /// (the decoder is used again only once it has).
    flushing: Option<JsFuture<js_sys::Undefined>>,
    _callbacks: (Closure<dyn FnMut(VideoFrame)>, Closure<dyn FnMut(JsValue)>),
}

/// What to do with a wanted frame as it comes out: its index in the wanted timestamps, and the
/// frame (which the taker closes).
pub type Take = Box<dyn FnMut(usize, VideoFrame)>;

/// What one decode is after, and what it got.
#[derive(Default)]
struct Job {
    /// The wanted frames' timestamps (microseconds), each taken once.
    wanted: Vec<f64>,
    taken: Vec<bool>,
    take: Option<Take>,
    /// Told when every wanted frame has been taken.
    all_taken: Option<oneshot::Sender<()>>,
    failed: Option<String>,
}

impl Kept {
    fn new(c: &DecoderConfig) -> Result<Kept, String> {
        let job: Rc<RefCell<Job>> = Rc::default();
        let output = {
            let job = job.clone();
            Closure::<dyn FnMut(VideoFrame)>::new(move |frame: VideoFrame| {
                let mut job = job.borrow_mut();
                let Job {
                    wanted,
                    taken,
                    take,
                    all_taken,
                    ..
                } = &mut *job;
                let at = frame.timestamp();
                match (wanted.iter().zip(taken.iter()).position(|(w, t)| *w == at && !t), take) {
                    (Some(index), Some(take)) => {
                        taken[index] = true;
                        take(index, frame);
                        if taken.iter().all(|t| *t) {
                            all_taken.take().map(|tell| tell.send(()));
                        }
                    }
                    _ => frame.close(),
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
            flushing: None,
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

    /// Remembers that this browser converted a frame of `c`'s codec itself (see
    /// [`converted_by_browser`]).
    pub fn converted_itself(&self, c: &DecoderConfig) {
        self.converts_itself.borrow_mut().insert(c.codec.clone());
    }

    /// Whether this browser converted a frame of `c`'s codec (its codec string) itself.
    pub fn converts_itself(&self, c: &DecoderConfig) -> bool {
        self.converts_itself.borrow().contains(&c.codec)
    }

    /// A decoder configured for `c`: the kept one, or a new one (the old one closed). Asked for
    /// ahead of the packets, the browser starts its decoder while the engine reads them.
    pub fn prepare(&self, c: &DecoderConfig) {
        if let Ok(kept) = self.configured(c) {
            *self.kept.borrow_mut() = Some(kept);
        }
    }

    fn configured(&self, c: &DecoderConfig) -> Result<Kept, String> {
        match self.kept.borrow_mut().take() {
            Some(kept) if kept.config == *c && kept.decoder.state() == web_sys::CodecState::Configured => Ok(kept),
            other => {
                if let Some(old) = other {
                    let _ = old.decoder.close();
                }
                Kept::new(c)
            }
        }
    }

    /// Decodes `packets` (those nothing refers to left out, unless wanted) and hands each frame
    /// whose time is one of `wanted` (seconds) to `take` as it comes out; every other frame is
    /// closed at once. The decoder is flushed after the packets (the next job starts at a
    /// keyframe, as a flushed decoder needs) and kept if it did not fail; this returns as soon as
    /// every wanted frame is out, the flush going on (the next job waits for it). An error when
    /// the decoder failed or the flush ended without every wanted frame.
    pub async fn decode(&self, c: &DecoderConfig, packets: &Packets, wanted: &[f64], take: Take) -> Result<(), String> {
        let mut kept = self.configured(c)?;
        if let Some(flushing) = kept.flushing.take() {
            // The last job's flush: a decoder that failed in it is replaced.
            if flushing.await.is_err() || kept.decoder.state() != web_sys::CodecState::Configured {
                let _ = kept.decoder.close();
                kept = Kept::new(c)?;
            }
        }
        let wanted: Vec<f64> = wanted.iter().map(|t| micros(*t)).collect();
        let (tell, all_taken) = oneshot::channel();
        *kept.job.borrow_mut() = Job {
            taken: vec![false; wanted.len()],
            wanted: wanted.clone(),
            take: Some(take),
            all_taken: Some(tell),
            failed: None,
        };
        // (No borrow of the job may live across the wait: the callbacks borrow it.)
        let flushed = match feed(&kept.decoder, packets, &wanted) {
            Ok(()) => match select(JsFuture::from(kept.decoder.flush()), all_taken).await {
                Either::Left((flushed, _)) => flushed.map(drop).map_err(|e| message(&e)),
                Either::Right((_, flushing)) => {
                    // (A JsFuture handles its promise's rejection even if never awaited.)
                    kept.flushing = Some(flushing);
                    Ok(())
                }
            },
            Err(e) => Err(e),
        };
        let (all_taken, failed) = {
            let mut job = kept.job.borrow_mut();
            job.take = None;
            (job.taken.iter().all(|t| *t), job.failed.take())
        };
        if let Some(why) = failed.or(flushed.err()) {
            let _ = kept.decoder.close();
            return Err(why);
        }
        *self.kept.borrow_mut() = Some(kept);
        match all_taken {
            true => Ok(()),
            false => Err("the browser's decoder gave no frame at a time wanted".into()),
        }
    }
}

/// Queues every packet that is needed: all but the skippable ones not wanted.
fn feed(decoder: &VideoDecoder, packets: &Packets, wanted: &[f64]) -> Result<(), String> {
    for packet in &packets.list {
        let timestamp = micros(packet.time);
        if packet.skip && !wanted.contains(&timestamp) {
            continue;
        }
        let kind = if packet.key {
            EncodedVideoChunkType::Key
        } else {
            EncodedVideoChunkType::Delta
        };
        let init = EncodedVideoChunkInit::new_with_u8_array(&Uint8Array::from(packets.bytes(packet)), 0, kind);
        init.set_timestamp_f64(timestamp);
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
/// the YUV planes (`copyTo`) scaled as swscale scales them to RGB (its bicubic filters; luma to
/// the output size, chroma to the full height and half the width, each chroma sample shared by two
/// pixels, or the full width for an odd one), converted with the stream's matrix and range, then
/// turned as the engine's copy_turned. With `tone_map` (an HDR video), 10-bit planes are scaled
/// and converted the same way into 16-bit R'G'B', then tone-mapped, as the engine's pictures are.
/// Frames in other formats (taken only where the wasm decoders cannot make them, see
/// [`converted_by_browser`]): RGB ones (Firefox's BGRX) are scaled as they are, any other is
/// converted by the browser's canvas.
pub async fn draw(
    frame: VideoFrame,
    width: u32,
    height: u32,
    rotation: u32,
    config: &DecoderConfig,
    tone_map: Option<&ToneMap>,
) -> Result<Vec<u8>, JsValue> {
    let turned = rotation % 180 != 0;
    let (sw, sh) = if turned { (height, width) } else { (width, height) };
    let size = (sw as usize, sh as usize);
    let made = match planes(&frame, tone_map.is_some()).await {
        Ok(Some(planes)) => Ok(match (tone_map, planes.to_rgb16(size, matrix(config, &frame))) {
            (Some(map), Some(rgb16)) => map.to_sdr(&rgb16),
            _ => planes.to_rgba(size, matrix(config, &frame)),
        }),
        Ok(None) => match rgb(&frame).await {
            Ok(Some(rgba)) => Ok(scale_rgba(&rgba, as_usize(visible_size(&frame)), size)),
            Ok(None) => canvas_rgba(&frame).map(|(rgba, from)| scale_rgba(&rgba, from, size)),
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    frame.close();
    Ok(turn(made?, size.0, size.1, rotation))
}

/// The layout of the frame's planes, where it is one `pixels` converts.
fn layout(frame: &VideoFrame) -> Option<Layout> {
    use web_sys::VideoPixelFormat as F;
    Some(match frame.format()? {
        F::I420 | F::I420a => Layout::I420,
        F::I420p10 => Layout::I420P10,
        F::I422 | F::I422a => Layout::I422,
        F::I422p10 => Layout::I422P10,
        F::I444 | F::I444a => Layout::I444,
        F::I444p10 => Layout::I444P10,
        F::Nv12 => Layout::Nv12,
        _ => return None,
    })
}

/// The frame's planes as `copyTo` writes them, for the layouts `pixels` converts (None: another
/// format, or a layout that does not fit what was copied); 10-bit ones also `wide` (for HDR).
async fn planes(frame: &VideoFrame, wide: bool) -> Result<Option<Planes>, JsValue> {
    let Some(layout) = layout(frame) else {
        return Ok(None);
    };
    let (w, h) = visible_size(frame);
    let (bytes, copied) = copied(frame).await?;
    let places: Vec<(usize, usize)> = copied
        .iter()
        .map(|plane| {
            let plane: web_sys::PlaneLayout = plane.unchecked_into();
            (plane.get_offset() as usize, plane.get_stride() as usize)
        })
        .collect();
    Ok(Planes::from_copy(
        layout,
        (w as usize, h as usize),
        bytes,
        &places,
        wide,
    ))
}

/// The frame's bytes (`copyTo`) and their planes' layout: copied straight into this worker's
/// memory, or, if that memory grew meanwhile (the view then has died and may have missed the
/// copy), through a buffer of its own.
async fn copied(frame: &VideoFrame) -> Result<(Vec<u8>, js_sys::Array), JsValue> {
    let size = frame.allocation_size()?;
    let mut bytes = vec![0u8; size as usize];
    // SAFETY: the view covers `bytes`, which outlives it; nothing else touches `bytes` until the
    // copy is awaited, and the view is checked to be alive before `bytes` is trusted.
    let view = unsafe { Uint8Array::view_mut_raw(bytes.as_mut_ptr(), bytes.len()) };
    if let Ok(layout) = JsFuture::from(frame.copy_to_with_u8_array(&view)).await {
        if view.byte_length() == size {
            return Ok((bytes, layout.unchecked_into()));
        }
    }
    let buffer = Uint8Array::new_with_length(size);
    let layout = JsFuture::from(frame.copy_to_with_u8_array(&buffer)).await?;
    Ok((buffer.to_vec(), layout.unchecked_into()))
}

/// Whether the engine's conversion cannot be applied to `frame`: it is not in one of the YUV
/// layouts `pixels` converts, so its colours are the browser's own decisions, which the frame
/// does not tell. Measured: Firefox ESR 153's decoded frames are all BGRX (read back from its
/// decoding process): a stream that names no matrix is converted with BT.709 (the engine's rule,
/// swscale's, is BT.601: pure green comes out (0, 217, 0), 25 dB from the engine's frame), one
/// tagged BT.709 has its transfer managed to sRGB as well (34.5 dB), and its `colorSpace` echoes
/// the decoder config, not what was done. WebKitGTK 2.50 gives 10-bit HEVC frames no format (its
/// canvas draws them 27-29 dB from the engine's). Such frames are made by the wasm decoders
/// instead wherever they decode the codec.
pub fn converted_by_browser(frame: &VideoFrame) -> bool {
    layout(frame).is_none()
}

/// An RGB frame's pixels as RGBA at its visible size (None: not an RGB format, or a layout that
/// does not fit what was copied).
async fn rgb(frame: &VideoFrame) -> Result<Option<Vec<u8>>, JsValue> {
    use web_sys::VideoPixelFormat as F;
    let (bgr, opaque) = match frame.format() {
        Some(F::Rgba) => (false, false),
        Some(F::Rgbx) => (false, true),
        Some(F::Bgra) => (true, false),
        Some(F::Bgrx) => (true, true),
        _ => return Ok(None),
    };
    let (w, h) = as_usize(visible_size(frame));
    let (bytes, copied) = copied(frame).await?;
    let plane = copied.get(0);
    if !plane.is_object() {
        return Ok(None);
    }
    let plane: web_sys::PlaneLayout = plane.unchecked_into();
    let (offset, stride) = (plane.get_offset() as usize, plane.get_stride() as usize);
    let fits = stride >= w * 4 && h > 0 && offset + stride * (h - 1) + w * 4 <= bytes.len();
    if !fits {
        return Ok(None);
    }
    let mut rgba = Vec::with_capacity(w * h * 4);
    for row in bytes[offset..].chunks(stride).take(h) {
        for px in row[..w * 4].chunks_exact(4) {
            let (r, b) = if bgr { (px[2], px[0]) } else { (px[0], px[2]) };
            rgba.extend_from_slice(&[r, px[1], b, if opaque { 255 } else { px[3] }]);
        }
    }
    Ok(Some(rgba))
}

fn as_usize((w, h): (u32, u32)) -> (usize, usize) {
    (w as usize, h as usize)
}

/// swscale's matrix for the stream's (unspecified: BT.601, as the engine converts), and its range:
/// the container's, else what the decoded frame says (the bitstream's), else limited.
fn matrix(config: &DecoderConfig, frame: &VideoFrame) -> Matrix {
    let (kr, kb) = match config.matrix {
        "bt709" => (0.2126, 0.0722),
        "bt2020-ncl" => (0.2627, 0.0593),
        _ => (0.299, 0.114), // smpte170m, bt470bg: BT.601
    };
    Matrix {
        kr,
        kb,
        full_range: config
            .full_range
            .or_else(|| frame.color_space().full_range())
            .unwrap_or(false),
    }
}

/// The frame converted to RGBA by the browser's canvas, at its own size (no aspect ratio).
fn canvas_rgba(frame: &VideoFrame) -> Result<(Vec<u8>, (usize, usize)), JsValue> {
    let (w, h) = visible_size(frame);
    let canvas = OffscreenCanvas::new(w, h)?;
    let context = crate::context_2d(&canvas)?;
    context.draw_image_with_video_frame_and_dw_and_dh(frame, 0.0, 0.0, f64::from(w), f64::from(h))?;
    Ok((
        context.get_image_data(0, 0, w as i32, h as i32)?.data().0,
        (w as usize, h as usize),
    ))
}

/// The visible size of a decoded frame (its coded size without padding; no aspect ratio).
pub fn visible_size(frame: &VideoFrame) -> (u32, u32) {
    match frame.visible_rect() {
        Some(rect) => (rect.width() as u32, rect.height() as u32),
        None => (frame.coded_width(), frame.coded_height()),
    }
}
