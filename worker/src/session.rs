//! Pictures made by the browser's own decoder (WebCodecs) on the demux-only engine's packets, for
//! one source: the engine opens it, `thumbnail_engine::webcodecs` names the codec, the browser is
//! asked once whether it decodes that config; then the pictures of any times, each fitted in a box
//! as the engine fits its frames (`te_output_size`) and made as the engine makes them
//! (`webcodecs::draw`). Times that follow each other from the same keyframe are decoded in one pass
//! (at most [`MAX_TAKEN`] frames at once). Every step says `None` where this path cannot go on
//! (no codec string, a refused config, packets without timestamps, a decoder error, a frame
//! the browser converted itself or resized): the whole engine then makes what was asked.

use std::cell::RefCell;
use std::rc::Rc;

use futures_channel::oneshot;
use thumbnail_engine::layout::Packets;
use thumbnail_engine::webcodecs::{decoder_config_or_keyframe, DecoderConfig};
use thumbnail_frames::Picture;
use thumbnail_tonemap::{Primaries, ToneMap};
use thumbnail_vocabulary::colour::HdrOutput;
use thumbnail_vocabulary::{Seek, VideoInfo};
use web_sys::VideoFrame;

use crate::engine::Failure;
use crate::source::Source;
use crate::webcodecs::{converted_by_browser, draw, visible_size};
use crate::Engines;

/// Wanted frames of one decoding pass: each becomes a picture as it comes out, and what the
/// pictures hold (a box of RGBA each) is all this keeps.
pub const MAX_TAKEN: usize = 8;

/// The demux-only engine open on a source whose codec the browser decodes (closed when dropped).
pub struct Session {
    engines: Rc<Engines>,
    pub info: VideoInfo,
    config: DecoderConfig,
    /// Whether a frame the browser converted itself (`converted_by_browser`) is taken: only
    /// where the wasm decoders cannot make it instead (AV1).
    browser_colours: bool,
    /// An HDR video's, when its frames are tone-mapped (from the decoder's 10-bit planes).
    tone_map: Option<Rc<ToneMap>>,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.engines.demuxer.borrow_mut().close();
    }
}

/// Times from one keyframe: the packets up to the last of them, and each one's frame time.
struct Pass {
    packets: Packets,
    times: Vec<f64>,
}

impl Pass {
    /// Whether the frame at `time`, whose packets are `next`, can come out of this pass made
    /// longer: the same keyframe, a later frame, every frame wanted so far among its packets.
    fn takes(&self, next: &Packets, time: f64) -> bool {
        let (first, theirs) = (&self.packets.list[0], &next.list[0]);
        self.times.len() < MAX_TAKEN
            && first.time == theirs.time
            && first.size == theirs.size
            && self.times.last().is_some_and(|last| time > *last)
            && self.times.iter().all(|t| next.list.iter().any(|p| p.time == *t))
    }
}

impl Session {
    /// Opens `source` with the demux-only engine, when `webcodecs` is wanted, the browser has it,
    /// and it says it decodes the codec; an HDR video's frames will be tone-mapped, or not, as
    /// `hdr` says.
    pub async fn start(engines: &Rc<Engines>, source: &Rc<Source>, webcodecs: bool, hdr: HdrOutput) -> Option<Session> {
        if !webcodecs || !crate::webcodecs::available() {
            return None;
        }
        let opened = {
            let mut demuxer = engines.demuxer.borrow_mut();
            let opened = demuxer.open(source, HdrOutput::Keep).ok().and_then(|info| {
                let codec = demuxer.codec();
                // Where the container carries no parameters (AV1 in IVF), the first keyframe's.
                let keyframe = || {
                    let packets = demuxer.read_packets(0.0, Seek::Keyframe).ok()?;
                    Some(packets.bytes(packets.list.first()?).to_vec())
                };
                decoder_config_or_keyframe(&info.codec, info.coded_width, info.coded_height, &codec, keyframe)
                    .map(|c| (info, c))
            });
            if opened.is_none() {
                demuxer.close();
            }
            opened
        };
        let (info, config) = opened?;
        let browser_colours = !thumbnail_engine::formats::wasm_decodes(&info.codec);
        let tone_mapped = if hdr == HdrOutput::Sdr { info.hdr } else { None };
        if (!browser_colours || tone_mapped.is_some()) && engines.decoders.converts_itself(&config) {
            engines.demuxer.borrow_mut().close();
            return None;
        }
        let primaries = Primaries::of(engines.demuxer.borrow().codec().color_primaries);
        let session = Session {
            engines: engines.clone(),
            tone_map: tone_mapped.map(|transfer| Rc::new(ToneMap::new(transfer, primaries))),
            info,
            config,
            browser_colours,
        };
        if !session.engines.decoders.supported(&session.config).await {
            return None;
        }
        session.engines.decoders.prepare(&session.config);
        Some(session)
    }

    /// The size the engine makes this video's frames in the box (`te_output_size`).
    pub fn output_size(&self, max_width: u32, max_height: u32) -> Result<(u32, u32), Failure> {
        self.engines
            .demuxer
            .borrow()
            .video_output_size(&self.info, max_width, max_height)
    }

    /// The time of the keyframe at or before `t`, from the container's packets (nothing decoded).
    pub fn keyframe_before(&self, t: f64) -> Option<f64> {
        let packets = self.engines.demuxer.borrow_mut().read_packets(t, Seek::Keyframe).ok()?;
        packets.wanted_time()
    }

    /// The pictures of `times` (in their order) fitted in `fit` (0: no limit), `seek` as the
    /// engine's: the first frame at or after each time, or the keyframe at or before it.
    pub async fn pictures(&self, times: &[f64], fit: (u32, u32), seek: Seek) -> Option<Vec<Picture>> {
        let mut pictures = Vec::with_capacity(times.len());
        let mut pass: Option<Pass> = None;
        for &t in times {
            let packets = self.engines.demuxer.borrow_mut().read_packets(t, seek).ok()?;
            let time = packets.wanted_time()?;
            match &mut pass {
                Some(p) if p.takes(&packets, time) => {
                    p.packets = packets;
                    p.times.push(time);
                }
                _ => {
                    if let Some(done) = pass.take() {
                        pictures.extend(self.decode(done, fit).await?);
                    }
                    pass = Some(Pass {
                        packets,
                        times: vec![time],
                    });
                }
            }
        }
        if let Some(done) = pass {
            pictures.extend(self.decode(done, fit).await?);
        }
        Some(pictures)
    }

    /// One pass through the browser's decoder: each wanted frame, as it comes out, sized by the
    /// engine and drawn (its planes copied out, the frame closed, then scaled and converted)
    /// while the decoder goes on.
    async fn decode(&self, pass: Pass, fit: (u32, u32)) -> Option<Vec<Picture>> {
        type Drawn = oneshot::Receiver<Option<Picture>>;
        let drawn: Rc<RefCell<Vec<Option<Drawn>>>> =
            Rc::new(RefCell::new((0..pass.times.len()).map(|_| None).collect()));
        let take = {
            let (engines, drawn, config) = (self.engines.clone(), drawn.clone(), self.config.clone());
            let (times, rotation, browser_colours) = (pass.times.clone(), self.info.rotation, self.browser_colours);
            let picture_size = (self.info.coded_width, self.info.coded_height);
            let tone_map = self.tone_map.clone();
            move |index: usize, frame: VideoFrame| {
                if converted_by_browser(&frame) && (!browser_colours || tone_map.is_some()) {
                    // Not the engine's colours, or an HDR frame already made 8-bit RGB (no
                    // tone mapping can be applied): this job and the codec's later ones on the
                    // wasm decoders (for AV1, which they lack: unsupported_codec, and `auto`
                    // asks the server).
                    engines.decoders.converted_itself(&config);
                    frame.close();
                    return;
                }
                let (w, h) = visible_size(&frame);
                if (w, h) != picture_size {
                    // Resized by the browser (WebKit's GStreamer applies a sample aspect ratio
                    // to the picture's rows: 320x240 at 4:3 comes out 320x180): the wasm
                    // decoders make it from the stream's own pixels.
                    frame.close();
                    return;
                }
                let Ok((width, height)) = engines.demuxer.borrow().output_size(w, h, fit.0, fit.1) else {
                    frame.close();
                    return;
                };
                let (send, receive) = oneshot::channel();
                drawn.borrow_mut()[index] = Some(receive);
                let (config, time) = (config.clone(), times[index].max(0.0));
                let tone_map = tone_map.clone();
                wasm_bindgen_futures::spawn_local(async move {
                    let picture = draw(frame, width, height, rotation, &config, tone_map.as_deref())
                        .await
                        .ok()
                        .map(|rgba| Picture {
                            width,
                            height,
                            time,
                            rgba,
                        });
                    let _ = send.send(picture);
                });
            }
        };
        let decoded = self
            .engines
            .decoders
            .decode(&self.config, &pass.packets, &pass.times, Box::new(take))
            .await;
        let receivers = drawn.take();
        decoded.ok()?;
        let mut pictures = Vec::with_capacity(receivers.len());
        for receiver in receivers {
            pictures.push(receiver?.await.ok()??);
        }
        Some(pictures)
    }
}
