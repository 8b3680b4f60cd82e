//! The engine's structs as bytes (engine.h), for a host that reads them out of the wasm heap: the
//! browser worker. The native host reads the same structs through `#[repr(C)]` mirrors.

use thumbnail_vocabulary::VideoInfo;

/// `te_info`'s fields and their byte offsets, in engine.h's order: the Rust copy of engine.h, which
/// `engine/tests/abi.rs` compares with the header (and with the Node test runner's reading), and
/// native.rs's `#[repr(C)]` mirror with.
pub const TE_INFO: [(&str, usize); 9] = [
    ("duration", 0),
    ("fps", 8),
    ("width", 16),
    ("height", 20),
    ("display_width", 24),
    ("display_height", 28),
    ("rotation", 32),
    ("reserved", 36),
    ("codec", 40),
];
/// `te_image`'s fields and offsets in a wasm32 build (4-byte pointer).
pub const TE_IMAGE_WASM32: [(&str, usize); 4] = [("time", 0), ("width", 8), ("height", 12), ("rgba", 16)];

/// `te_codec`'s fields and offsets in a wasm32 build (the pointer last).
pub const TE_CODEC_WASM32: [(&str, usize); 13] = [
    ("profile", 0),
    ("level", 4),
    ("bit_depth", 8),
    ("chroma", 12),
    ("color_space", 16),
    ("color_range", 20),
    ("color_primaries", 24),
    ("color_transfer", 28),
    ("sar_num", 32),
    ("sar_den", 36),
    ("alpha", 40),
    ("extradata_size", 44),
    ("extradata", 48),
];
/// `te_packet`'s fields and offsets (no pointer: the same on every host).
pub const TE_PACKET: [(&str, usize); 6] = [
    ("time", 0),
    ("duration", 8),
    ("offset", 16),
    ("size", 20),
    ("flags", 24),
    ("reserved", 28),
];
/// `te_packets`'s fields and offsets in a wasm32 build.
pub const TE_PACKETS_WASM32: [(&str, usize); 6] = [
    ("count", 0),
    ("wanted", 4),
    ("data_size", 8),
    ("reserved", 12),
    ("list", 16),
    ("data", 20),
];
/// `sizeof` of each in a wasm32 build.
pub const CODEC_SIZE_WASM32: usize = 52;
pub const PACKET_SIZE: usize = 32;
pub const PACKETS_SIZE_WASM32: usize = 24;
/// `te_packet.flags`: TE_PACKET_KEY and TE_PACKET_SKIP.
pub const PACKET_KEY: i32 = 1;
pub const PACKET_SKIP: i32 = 2;

/// `sizeof(te_info)`.
pub const INFO_SIZE: usize = 64;
/// `sizeof(te_image)` in a wasm32 build (4-byte pointer, padded to 8).
pub const IMAGE_SIZE_WASM32: usize = 24;

/// The offset of `field` in `fields` (a name that is not there is a bug here).
pub const fn offset(fields: &[(&str, usize)], field: &str) -> usize {
    let mut i = 0;
    while i < fields.len() {
        if eq(fields[i].0, field) {
            return fields[i].1;
        }
        i += 1;
    }
    panic!("no such field")
}

const fn eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

const INFO_DURATION: usize = offset(&TE_INFO, "duration");
const INFO_FPS: usize = offset(&TE_INFO, "fps");
const INFO_WIDTH: usize = offset(&TE_INFO, "width");
const INFO_HEIGHT: usize = offset(&TE_INFO, "height");
const INFO_DISPLAY_WIDTH: usize = offset(&TE_INFO, "display_width");
const INFO_DISPLAY_HEIGHT: usize = offset(&TE_INFO, "display_height");
const INFO_ROTATION: usize = offset(&TE_INFO, "rotation");
const INFO_CODEC: usize = offset(&TE_INFO, "codec");
const IMAGE_TIME: usize = offset(&TE_IMAGE_WASM32, "time");
const IMAGE_WIDTH: usize = offset(&TE_IMAGE_WASM32, "width");
const IMAGE_HEIGHT: usize = offset(&TE_IMAGE_WASM32, "height");
const IMAGE_RGBA: usize = offset(&TE_IMAGE_WASM32, "rgba");

fn f64_at(b: &[u8], at: usize) -> f64 {
    f64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

fn i32_at(b: &[u8], at: usize) -> i32 {
    i32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

/// Decodes a `te_info` (INFO_SIZE bytes, little-endian).
pub fn info_from_bytes(b: &[u8]) -> VideoInfo {
    let codec = &b[INFO_CODEC..INFO_SIZE];
    let end = codec.iter().position(|&c| c == 0).unwrap_or(codec.len());
    let duration = f64_at(b, INFO_DURATION);
    let fps = f64_at(b, INFO_FPS);
    let size = |at| i32_at(b, at).max(0) as u32;
    VideoInfo {
        duration: (duration >= 0.0).then_some(duration),
        fps: (fps > 0.0).then_some(fps),
        coded_width: size(INFO_WIDTH),
        coded_height: size(INFO_HEIGHT),
        width: size(INFO_DISPLAY_WIDTH),
        height: size(INFO_DISPLAY_HEIGHT),
        rotation: size(INFO_ROTATION),
        codec: String::from_utf8_lossy(&codec[..end]).into_owned(),
        ..VideoInfo::default()
    }
}

/// A wasm32 `te_codec` (CODEC_SIZE_WASM32 bytes), and where its extradata lies in the heap.
pub fn codec_from_wasm32_bytes(b: &[u8]) -> (CodecInfo, u32, usize) {
    let at = |field| i32_at(b, offset(&TE_CODEC_WASM32, field));
    let info = CodecInfo {
        profile: at("profile"),
        level: at("level"),
        bit_depth: at("bit_depth"),
        chroma: at("chroma"),
        color_space: at("color_space"),
        color_range: at("color_range"),
        color_primaries: at("color_primaries"),
        color_transfer: at("color_transfer"),
        sar: (at("sar_num"), at("sar_den")),
        alpha: at("alpha") != 0,
        extradata: Vec::new(),
    };
    (info, at("extradata") as u32, at("extradata_size").max(0) as usize)
}

/// A `te_packet` (PACKET_SIZE bytes).
pub fn packet_from_bytes(b: &[u8]) -> Packet {
    let flags = i32_at(b, offset(&TE_PACKET, "flags"));
    Packet {
        time: f64_at(b, offset(&TE_PACKET, "time")),
        duration: f64_at(b, offset(&TE_PACKET, "duration")),
        offset: i32_at(b, offset(&TE_PACKET, "offset")).max(0) as usize,
        size: i32_at(b, offset(&TE_PACKET, "size")).max(0) as usize,
        key: flags & PACKET_KEY != 0,
        skip: flags & PACKET_SKIP != 0,
    }
}

/// A wasm32 `te_packets`: (count, wanted, data size, heap offset of the list, of the data).
pub fn packets_from_wasm32_bytes(b: &[u8]) -> (usize, usize, usize, u32, u32) {
    let at = |field| i32_at(b, offset(&TE_PACKETS_WASM32, field));
    (
        at("count").max(0) as usize,
        at("wanted").max(0) as usize,
        at("data_size").max(0) as usize,
        at("list") as u32,
        at("data") as u32,
    )
}

/// What another decoder needs to decode the stream (`te_codec`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CodecInfo {
    /// FFmpeg's profile and level numbers; -99 when unknown.
    pub profile: i32,
    pub level: i32,
    /// 8, 10, 12; 0 when unknown.
    pub bit_depth: i32,
    /// 420, 422, 444, 400; 0 when unknown.
    pub chroma: i32,
    /// FFmpeg's AVColorSpace, AVColorRange, AVColorPrimaries, AVColorTransferCharacteristic.
    pub color_space: i32,
    pub color_range: i32,
    pub color_primaries: i32,
    pub color_transfer: i32,
    /// The sample aspect ratio the engine applies (1:1 when none).
    pub sar: (i32, i32),
    pub alpha: bool,
    /// avcC, hvcC, av1C, ... or Annex B parameter sets.
    pub extradata: Vec<u8>,
}

/// One packet of `te_read_packets`, its bytes at `offset..offset + size` of the packets' data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Packet {
    /// Presentation time in seconds from the start (as a frame's time).
    pub time: f64,
    pub duration: f64,
    pub offset: usize,
    pub size: usize,
    pub key: bool,
    /// Nothing refers to it and it is not the frame wanted: need not be decoded.
    pub skip: bool,
}

/// What `te_read_packets` gives: the packets in decode order (the first a keyframe), which of them
/// is the frame wanted, and their bytes.
#[derive(Debug, Clone, Default)]
pub struct Packets {
    pub list: Vec<Packet>,
    pub wanted: usize,
    pub data: Vec<u8>,
}

impl Packets {
    pub fn bytes(&self, packet: &Packet) -> &[u8] {
        &self.data[packet.offset..packet.offset + packet.size]
    }

    /// The time of the frame wanted (None: an empty list).
    pub fn wanted_time(&self) -> Option<f64> {
        self.list.get(self.wanted).map(|p| p.time)
    }
}

/// A `te_image` of a wasm32 build: where the RGBA lies in the heap.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImageRef {
    pub time: f64,
    pub width: u32,
    pub height: u32,
    /// Heap offset of width * height * 4 bytes of RGBA.
    pub rgba: u32,
}

impl ImageRef {
    pub fn len(&self) -> usize {
        self.width as usize * self.height as usize * 4
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Decodes a wasm32 `te_image` (IMAGE_SIZE_WASM32 bytes, little-endian).
pub fn image_from_wasm32_bytes(b: &[u8]) -> ImageRef {
    ImageRef {
        time: f64_at(b, IMAGE_TIME),
        width: i32_at(b, IMAGE_WIDTH).max(0) as u32,
        height: i32_at(b, IMAGE_HEIGHT).max(0) as u32,
        rgba: u32::from_le_bytes(b[IMAGE_RGBA..IMAGE_RGBA + 4].try_into().unwrap()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_c_layout() {
        let mut b = [0u8; INFO_SIZE];
        b[0..8].copy_from_slice(&3.5f64.to_le_bytes());
        b[8..16].copy_from_slice(&25.0f64.to_le_bytes());
        for (at, v) in [(16, 320), (20, 240), (24, 240), (28, 320), (32, 90)] {
            b[at..at + 4].copy_from_slice(&i32::to_le_bytes(v));
        }
        b[40..44].copy_from_slice(b"h264");
        let info = info_from_bytes(&b);
        assert_eq!(info.duration, Some(3.5));
        assert_eq!(info.fps, Some(25.0));
        assert_eq!(
            (info.coded_width, info.coded_height, info.width, info.height),
            (320, 240, 240, 320)
        );
        assert_eq!((info.rotation, info.codec.as_str()), (90, "h264"));
        b[0..8].copy_from_slice(&(-1.0f64).to_le_bytes());
        assert_eq!(info_from_bytes(&b).duration, None);

        let mut i = [0u8; IMAGE_SIZE_WASM32];
        i[0..8].copy_from_slice(&1.04f64.to_le_bytes());
        i[8..12].copy_from_slice(&160i32.to_le_bytes());
        i[12..16].copy_from_slice(&120i32.to_le_bytes());
        i[16..20].copy_from_slice(&4096u32.to_le_bytes());
        let image = image_from_wasm32_bytes(&i);
        assert_eq!(
            image,
            ImageRef {
                time: 1.04,
                width: 160,
                height: 120,
                rgba: 4096
            }
        );
        assert_eq!(image.len(), 160 * 120 * 4);
    }
}
