//! The C engine compiled natively (see build.rs), behind a safe API.

use std::ffi::{c_char, c_int, CStr, CString};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

use thumbnail_tonemap::{Primaries, ToneMap};
use thumbnail_vocabulary::colour::HdrOutput;
use thumbnail_vocabulary::{Error, ErrorKind, Seek, VideoInfo};

use crate::layout::{CodecInfo, Packet, Packets};

#[repr(C)]
struct TeEngine {
    _opaque: [u8; 0],
}

/// `te_info` in engine.h.
#[repr(C)]
struct TeInfo {
    duration: f64,
    fps: f64,
    width: i32,
    height: i32,
    display_width: i32,
    display_height: i32,
    rotation: i32,
    reserved: i32,
    codec: [c_char; 24],
}

/// `te_image` in engine.h.
#[repr(C)]
struct TeImage {
    time: f64,
    width: i32,
    height: i32,
    rgba: *const u8,
}

/// `te_codec` in engine.h.
#[repr(C)]
struct TeCodec {
    profile: i32,
    level: i32,
    bit_depth: i32,
    chroma: i32,
    color_space: i32,
    color_range: i32,
    color_primaries: i32,
    color_transfer: i32,
    sar_num: i32,
    sar_den: i32,
    alpha: i32,
    extradata_size: i32,
    extradata: *const u8,
}

/// `te_packet` in engine.h.
#[repr(C)]
struct TePacket {
    time: f64,
    duration: f64,
    offset: i32,
    size: i32,
    flags: i32,
    reserved: i32,
}

/// `te_packets` in engine.h.
#[repr(C)]
struct TePackets {
    count: i32,
    wanted: i32,
    data_size: i32,
    reserved: i32,
    list: *const TePacket,
    data: *const u8,
}

const _: () = assert!(std::mem::size_of::<TeInfo>() == crate::layout::INFO_SIZE);
const _: () = assert!(std::mem::size_of::<TePacket>() == crate::layout::PACKET_SIZE);
const _: () = assert!(std::mem::size_of::<TeImage>() == 24);

extern "C" {
    fn te_new() -> *mut TeEngine;
    fn te_free(e: *mut TeEngine);
    fn te_set_max_pixels(e: *mut TeEngine, max_pixels: i32);
    fn te_set_output_depth(e: *mut TeEngine, bits: i32);
    fn te_set_interrupt(e: *mut TeEngine, flag: *const AtomicI32);
    fn te_open(e: *mut TeEngine, path: *const c_char, threads: i32) -> c_int;
    fn te_open_fd(e: *mut TeEngine, fd: c_int, threads: i32) -> c_int;
    fn te_probe(e: *const TeEngine) -> *const TeInfo;
    fn te_codec_info(e: *const TeEngine) -> *const TeCodec;
    fn te_read_packets(e: *mut TeEngine, t: f64, mode: i32) -> c_int;
    fn te_packet_list(e: *const TeEngine) -> *const TePackets;
    fn te_decode(e: *mut TeEngine, t: f64, max_width: i32, max_height: i32, mode: i32) -> c_int;
    fn te_decode_next(e: *mut TeEngine, t: f64, max_width: i32, max_height: i32) -> c_int;
    fn te_packets_decoded(e: *const TeEngine, again: i32) -> f64;
    fn te_output_size(
        e: *mut TeEngine,
        width: i32,
        height: i32,
        max_width: i32,
        max_height: i32,
        out: *mut i32,
    ) -> c_int;
    fn te_result(e: *const TeEngine) -> *const TeImage;
    fn te_message(e: *const TeEngine) -> *const c_char;
    fn te_error_name(status: i32) -> *const c_char;
}

/// The C engine's own name for a status (`te_error_name`), to check it against [`ErrorKind::name`].
pub fn status_name(status: i32) -> String {
    // SAFETY: te_error_name returns a static NUL-terminated string for any status.
    unsafe { CStr::from_ptr(te_error_name(status)) }
        .to_string_lossy()
        .into_owned()
}

/// A flag another thread can raise to make an engine give up (with [`ErrorKind::Interrupted`]) at
/// its next read or frame: how a job timeout stops work already running.
#[derive(Debug, Clone, Default)]
pub struct Interrupt(Arc<AtomicI32>);

impl Interrupt {
    pub fn new() -> Interrupt {
        Interrupt::default()
    }

    pub fn interrupt(&self) {
        self.0.store(1, Ordering::Relaxed);
    }

    pub fn is_interrupted(&self) -> bool {
        self.0.load(Ordering::Relaxed) != 0
    }
}

/// How to open a video.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// Decoder threads; 0 lets FFmpeg choose. A server running one job per core wants 1.
    pub threads: u32,
    /// Refuse frames above this many pixels (default: the engine's 64 MP).
    pub max_pixels: Option<u32>,
    pub interrupt: Option<Interrupt>,
    /// An HDR video's frames tone-mapped for an SDR display (the default) or as coded.
    pub hdr: HdrOutput,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            threads: 1,
            max_pixels: None,
            interrupt: None,
            hdr: HdrOutput::Sdr,
        }
    }
}

/// A decoded frame: RGBA, rows top-down, in display orientation.
#[derive(Debug, Clone)]
pub struct Image {
    pub width: u32,
    pub height: u32,
    /// The frame's time in seconds from the start of the video.
    pub time: f64,
    pub rgba: Vec<u8>,
}

/// One open video. Frames can be asked for in any order.
pub struct Engine {
    raw: NonNull<TeEngine>,
    info: VideoInfo,
    /// Kept alive as long as the C engine holds a pointer to its flag.
    _interrupt: Option<Interrupt>,
    /// The file [`Engine::open_file`] reads, open as long as the engine.
    _file: Option<std::fs::File>,
    /// An HDR video's, when its frames are tone-mapped: the engine then gives 16-bit RGBA.
    tone_map: Option<ToneMap>,
}

// The C engine has no thread affinity: one Engine may move between threads, but is used by one
// at a time (&mut self for every call that touches its state).
unsafe impl Send for Engine {}

impl Engine {
    pub fn open(path: &Path, options: &OpenOptions) -> Result<Engine, Error> {
        let c_path = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| Error::new(ErrorKind::InvalidArgument, "the path contains a NUL byte"))?;
        // SAFETY: c_path is a NUL-terminated string that outlives the call.
        Engine::open_with(options, |raw, threads| unsafe {
            te_open(raw, c_path.as_ptr(), threads)
        })
    }

    /// Opens the video a file descriptor reads (seekable), which `file` keeps open as long as the
    /// engine lives: the engine then needs no file system (the server's sandboxed workers).
    pub fn open_file(file: std::fs::File, options: &OpenOptions) -> Result<Engine, Error> {
        let fd = file.as_raw_fd();
        // SAFETY: fd stays open: the engine keeps `file` until it is freed.
        let mut engine = Engine::open_with(options, |raw, threads| unsafe { te_open_fd(raw, fd, threads) });
        if let Ok(engine) = &mut engine {
            engine._file = Some(file);
        }
        engine
    }

    fn open_with(options: &OpenOptions, open: impl FnOnce(*mut TeEngine, i32) -> c_int) -> Result<Engine, Error> {
        // SAFETY: te_new returns an engine we own, or NULL when out of memory.
        let raw = NonNull::new(unsafe { te_new() })
            .ok_or_else(|| Error::new(ErrorKind::NoMemory, "cannot allocate the engine"))?;
        let mut engine = Engine {
            raw,
            info: VideoInfo::default(),
            _interrupt: options.interrupt.clone(),
            _file: None,
            tone_map: None,
        };
        let threads = i32::try_from(options.threads).unwrap_or(i32::MAX);
        // SAFETY: raw is a live engine; the interrupt flag lives in an Arc the engine keeps until
        // it is freed.
        unsafe {
            if let Some(max) = options.max_pixels {
                te_set_max_pixels(raw.as_ptr(), i32::try_from(max).unwrap_or(i32::MAX));
            }
            if let Some(interrupt) = &options.interrupt {
                te_set_interrupt(raw.as_ptr(), Arc::as_ptr(&interrupt.0));
            }
        }
        let status = open(raw.as_ptr(), threads);
        engine.check(status)?;
        // SAFETY: after a successful te_open, te_probe points at the engine's filled-in te_info.
        engine.info = unsafe { read_info(&*te_probe(raw.as_ptr())) };
        let colour = engine.codec();
        engine
            .info
            .set_colour(colour.color_primaries, colour.color_transfer, colour.color_space);
        if let (Some(transfer), HdrOutput::Sdr) = (engine.info.hdr, options.hdr) {
            engine.tone_map = Some(ToneMap::new(transfer, Primaries::of(colour.color_primaries)));
            // SAFETY: raw is a live engine.
            unsafe { te_set_output_depth(raw.as_ptr(), 16) };
        }
        Ok(engine)
    }

    pub fn info(&self) -> &VideoInfo {
        &self.info
    }

    /// The frame at `t` seconds (past the end: the last frame), fitted in
    /// `max_width` x `max_height` (0 = no limit; never enlarged).
    pub fn frame(&mut self, t: f64, max_width: u32, max_height: u32, seek: Seek) -> Result<Image, Error> {
        // SAFETY: raw is a live engine with a video open.
        let status = unsafe { te_decode(self.raw.as_ptr(), t, clamp(max_width), clamp(max_height), seek.code()) };
        self.check(status)?;
        Ok(self.result())
    }

    /// The first frame at or after `t` seconds, going on from the last frame made when `t` is later
    /// (`te_decode_next`): frames asked for at increasing times decode each packet at most once.
    pub fn next_frame(&mut self, t: f64, max_width: u32, max_height: u32) -> Result<Image, Error> {
        // SAFETY: raw is a live engine with a video open.
        let status = unsafe { te_decode_next(self.raw.as_ptr(), t, clamp(max_width), clamp(max_height)) };
        self.check(status)?;
        Ok(self.result())
    }

    /// The size [`Engine::frame`] and [`Engine::next_frame`] make a frame of the video's coded size
    /// in `max_width` x `max_height` (`te_output_size`): what a job of many frames counts before
    /// it asks for them, and the box it asks them in (a later frame of another size then fits in it).
    pub fn output_size(&mut self, max_width: u32, max_height: u32) -> Result<(u32, u32), Error> {
        let mut out = [0i32; 2];
        let (w, h) = (clamp(self.info.coded_width), clamp(self.info.coded_height));
        // SAFETY: raw is a live engine with a video open; out holds the two sides it writes.
        let status = unsafe {
            te_output_size(
                self.raw.as_ptr(),
                w,
                h,
                clamp(max_width),
                clamp(max_height),
                out.as_mut_ptr(),
            )
        };
        self.check(status)?;
        Ok((out[0].max(1) as u32, out[1].max(1) as u32))
    }

    /// What another decoder needs for the video stream (`te_codec_info`).
    pub fn codec(&self) -> CodecInfo {
        // SAFETY: te_codec_info points at the engine's te_codec, whose extradata (when not NULL)
        // holds extradata_size bytes while the video is open; we copy them out now.
        unsafe {
            let c = &*te_codec_info(self.raw.as_ptr());
            let extradata = if c.extradata.is_null() || c.extradata_size <= 0 {
                Vec::new()
            } else {
                std::slice::from_raw_parts(c.extradata, c.extradata_size as usize).to_vec()
            };
            CodecInfo {
                profile: c.profile,
                level: c.level,
                bit_depth: c.bit_depth,
                chroma: c.chroma,
                color_space: c.color_space,
                color_range: c.color_range,
                color_primaries: c.color_primaries,
                color_transfer: c.color_transfer,
                sar: (c.sar_num, c.sar_den),
                alpha: c.alpha != 0,
                extradata,
            }
        }
    }

    /// The packets the frame at `t` needs, undecoded (`te_read_packets`).
    pub fn read_packets(&mut self, t: f64, seek: Seek) -> Result<Packets, Error> {
        // SAFETY: raw is a live engine with a video open.
        let status = unsafe { te_read_packets(self.raw.as_ptr(), t, seek.code()) };
        self.check(status)?;
        // SAFETY: after success, te_packet_list describes `count` packets and `data_size` bytes
        // the engine holds until its next call; we copy them out now.
        unsafe {
            let p = &*te_packet_list(self.raw.as_ptr());
            let list = std::slice::from_raw_parts(p.list, p.count as usize)
                .iter()
                .map(|k| Packet {
                    time: k.time,
                    duration: k.duration,
                    offset: k.offset as usize,
                    size: k.size as usize,
                    key: k.flags & crate::layout::PACKET_KEY != 0,
                    skip: k.flags & crate::layout::PACKET_SKIP != 0,
                })
                .collect();
            Ok(Packets {
                list,
                wanted: p.wanted as usize,
                data: std::slice::from_raw_parts(p.data, p.data_size as usize).to_vec(),
            })
        }
    }

    /// Packets given to the decoder since the video was opened, and of them those given again
    /// (decoded a second time after a seek back).
    pub fn packets_decoded(&self) -> (u64, u64) {
        // SAFETY: raw is a live engine.
        unsafe {
            (
                te_packets_decoded(self.raw.as_ptr(), 0) as u64,
                te_packets_decoded(self.raw.as_ptr(), 1) as u64,
            )
        }
    }

    /// The image of the last successful decode, copied out (an HDR one tone-mapped).
    fn result(&self) -> Image {
        // SAFETY: after a successful decode, te_result describes width*height*4 samples of RGBA
        // (bytes, or 16-bit at output depth 16) owned by the engine, valid until the next call;
        // we copy them out now.
        unsafe {
            let image = &*te_result(self.raw.as_ptr());
            let samples = image.width as usize * image.height as usize * 4;
            let rgba = match &self.tone_map {
                None => std::slice::from_raw_parts(image.rgba, samples).to_vec(),
                Some(map) => map.to_sdr(std::slice::from_raw_parts(image.rgba.cast::<u16>(), samples)),
            };
            Image {
                width: image.width as u32,
                height: image.height as u32,
                time: image.time,
                rgba,
            }
        }
    }

    fn check(&self, status: c_int) -> Result<(), Error> {
        if status == 0 {
            return Ok(());
        }
        // SAFETY: te_message returns the engine's NUL-terminated message buffer.
        let message = unsafe { CStr::from_ptr(te_message(self.raw.as_ptr())) };
        Err(Error::new(ErrorKind::from_status(status), message.to_string_lossy()))
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        // SAFETY: we own the engine; te_free closes whatever is open.
        unsafe { te_free(self.raw.as_ptr()) }
    }
}

/// A box side for the C API (0 = no limit).
fn clamp(side: u32) -> i32 {
    i32::try_from(side).unwrap_or(i32::MAX)
}

fn read_info(raw: &TeInfo) -> VideoInfo {
    // SAFETY: the engine NUL-terminates codec within its 24 bytes.
    let codec = unsafe { CStr::from_ptr(raw.codec.as_ptr()) };
    VideoInfo {
        duration: (raw.duration >= 0.0).then_some(raw.duration),
        fps: (raw.fps > 0.0).then_some(raw.fps),
        width: raw.display_width as u32,
        height: raw.display_height as u32,
        coded_width: raw.width as u32,
        coded_height: raw.height as u32,
        rotation: raw.rotation as u32,
        codec: codec.to_string_lossy().into_owned(),
        ..VideoInfo::default()
    }
}

#[cfg(test)]
mod tests {
    use std::mem::offset_of;

    use super::{TeCodec, TeImage, TeInfo, TePacket, TePackets};
    use crate::layout::{TE_CODEC_WASM32, TE_IMAGE_WASM32, TE_INFO, TE_PACKET, TE_PACKETS_WASM32};

    /// The `#[repr(C)]` mirrors have engine.h's fields at engine.h's offsets (layout.rs holds them;
    /// engine/tests/abi.rs checks layout.rs against the header).
    #[test]
    fn the_mirrors_match_the_layout() {
        let info = [
            ("duration", offset_of!(TeInfo, duration)),
            ("fps", offset_of!(TeInfo, fps)),
            ("width", offset_of!(TeInfo, width)),
            ("height", offset_of!(TeInfo, height)),
            ("display_width", offset_of!(TeInfo, display_width)),
            ("display_height", offset_of!(TeInfo, display_height)),
            ("rotation", offset_of!(TeInfo, rotation)),
            ("reserved", offset_of!(TeInfo, reserved)),
            ("codec", offset_of!(TeInfo, codec)),
        ];
        assert_eq!(info, TE_INFO);
        // Natively the pointer is 8 bytes; the fields before it are where wasm32 has them.
        let image = [
            ("time", offset_of!(TeImage, time)),
            ("width", offset_of!(TeImage, width)),
            ("height", offset_of!(TeImage, height)),
            ("rgba", offset_of!(TeImage, rgba)),
        ];
        assert_eq!(image, TE_IMAGE_WASM32);
        let codec = [
            ("profile", offset_of!(TeCodec, profile)),
            ("level", offset_of!(TeCodec, level)),
            ("bit_depth", offset_of!(TeCodec, bit_depth)),
            ("chroma", offset_of!(TeCodec, chroma)),
            ("color_space", offset_of!(TeCodec, color_space)),
            ("color_range", offset_of!(TeCodec, color_range)),
            ("color_primaries", offset_of!(TeCodec, color_primaries)),
            ("color_transfer", offset_of!(TeCodec, color_transfer)),
            ("sar_num", offset_of!(TeCodec, sar_num)),
            ("sar_den", offset_of!(TeCodec, sar_den)),
            ("alpha", offset_of!(TeCodec, alpha)),
            ("extradata_size", offset_of!(TeCodec, extradata_size)),
            ("extradata", offset_of!(TeCodec, extradata)),
        ];
        assert_eq!(codec, TE_CODEC_WASM32);
        let packet = [
            ("time", offset_of!(TePacket, time)),
            ("duration", offset_of!(TePacket, duration)),
            ("offset", offset_of!(TePacket, offset)),
            ("size", offset_of!(TePacket, size)),
            ("flags", offset_of!(TePacket, flags)),
            ("reserved", offset_of!(TePacket, reserved)),
        ];
        assert_eq!(packet, TE_PACKET);
        // The pointers last: the fields before them are where wasm32 has them.
        let packets = [
            ("count", offset_of!(TePackets, count)),
            ("wanted", offset_of!(TePackets, wanted)),
            ("data_size", offset_of!(TePackets, data_size)),
            ("reserved", offset_of!(TePackets, reserved)),
            ("list", offset_of!(TePackets, list)),
        ];
        assert_eq!(packets, TE_PACKETS_WASM32[..5]);
    }
}
