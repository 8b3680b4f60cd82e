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
