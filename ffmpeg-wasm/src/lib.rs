//! The thumbnail engine's Rust face.
//!
//! Two parts:
//! - the vocabulary shared by the server and the browser worker: [`ErrorKind`], [`Mode`],
//!   [`VideoInfo`], [`ThumbnailOptions`] (this part has no native code and builds for wasm32);
//! - with the `native` feature (default), [`Engine`]: the C engine of `engine/engine.c` compiled
//!   against the system's FFmpeg, the same source the wasm build runs in the browser.

mod error;
pub mod layout;
#[cfg(feature = "native")]
mod native;
mod options;

pub use error::{Error, ErrorKind};
#[cfg(feature = "native")]
pub use native::{status_name, Engine, Image, Interrupt, OpenOptions};
pub use options::{parse_quality, parse_side, At, Format, ThumbnailOptions, DEFAULT_QUALITY, MAX_SIDE};

/// Which frame [`Engine::frame`] picks for a time t.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// The first frame whose time is at or after t (decodes from the keyframe before t).
    #[default]
    Exact,
    /// The keyframe at or before t: faster, good for previews.
    Keyframe,
}

impl Mode {
    /// The engine's number for this mode (`te_mode` in engine.h).
    pub fn code(self) -> i32 {
        match self {
            Mode::Exact => 0,
            Mode::Keyframe => 1,
        }
    }
}

/// What the engine says about a video (`te_info` in engine.h); also the JSON of POST /probe.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VideoInfo {
    /// Seconds, when the container says.
    pub duration: Option<f64>,
    /// Average frames per second, when known.
    pub fps: Option<f64>,
    /// Coded frame size.
    pub width: u32,
    pub height: u32,
    /// Size as shown: sample aspect ratio and rotation applied.
    pub display_width: u32,
    pub display_height: u32,
    /// Clockwise degrees the coded picture is turned for display: 0, 90, 180 or 270.
    pub rotation: u32,
    /// FFmpeg's codec name, such as "h264" or "av1".
    pub codec: String,
}
