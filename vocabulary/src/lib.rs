//! The vocabulary every host shares, with no native code (it builds for wasm32 too):
//! - [`ThumbnailOptions`] and its parts ([`At`], [`Format`], [`Seek`]): what a caller may ask, parsed
//!   from the server's query string and from the browser API's option object by the same code;
//! - [`VideoInfo`]: what a video is, the same JSON from `POST /probe` and from the browser's `probe()`;
//! - [`SpriteOptions`]: a contact sheet's options (POST /sprite, `t.sprite()`), read the same way;
//! - [`FramesOptions`]: a series of frames' options (POST /frames, `t.frames()`), read the same way;
//! - [`ErrorKind`]: the engine's failures, with the C engine's status numbers and their stable names.
//!
//! The native engine (crate `thumbnail-engine`), the browser worker (`thumbnail-worker`) and the
//! server (`thumbnail-server`) all speak it; ARCHITECTURE.md says where each other form of it lives.

pub mod colour;
mod error;
mod fit;
mod frames;
mod options;
mod sprite;

pub use error::{Code, Error, ErrorKind, Origin, CODES};
pub use fit::{Fit, Fitting, FIT_OPTION_NAMES};
pub use frames::{FramesOptions, Series, FRAMES_OPTION_NAMES};
pub use options::{
    parse_quality, parse_side, At, Format, OptionValue, ThumbnailOptions, DEFAULT_MAX_PIXELS, DEFAULT_QUALITY,
    MAX_SIDE, OPTION_NAMES,
};
pub use sprite::{FrameTimes, SheetSeek, SpriteOptions, MAX_COLUMNS, MAX_SPRITE_FRAMES, SPRITE_OPTION_NAMES};

/// Which frame is taken for a time t. Named `seek` everywhere (query, JS option, widget
/// attribute); not to be confused with the engine choice (`auto`, `browser`, `server`), named `engine`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Seek {
    /// The first frame whose time is at or after t (decodes from the keyframe before t).
    #[default]
    Exact,
    /// The keyframe at or before t: faster, good for previews.
    Keyframe,
}

impl Seek {
    /// The engine's number for this mode (`te_mode` in engine.h).
    pub fn code(self) -> i32 {
        match self {
            Seek::Exact => 0,
            Seek::Keyframe => 1,
        }
    }
}

/// What a video is (`te_info` in engine.h, its colour from `te_codec`). Serialised the same way by
/// every host (camelCase): `{ duration, fps, width, height, codedWidth, codedHeight, rotation,
/// codec, hdr, colorPrimaries, colorTransfer, colorMatrix }`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VideoInfo {
    /// Seconds, when the container says.
    pub duration: Option<f64>,
    /// Average frames per second, when known.
    pub fps: Option<f64>,
    /// Size as shown: sample aspect ratio and rotation applied.
    pub width: u32,
    pub height: u32,
    /// Size of the coded pictures.
    pub coded_width: u32,
    pub coded_height: u32,
    /// Clockwise degrees the coded picture is turned for display: 0, 90, 180 or 270.
    pub rotation: u32,
    /// FFmpeg's codec name, such as "h264" or "av1".
    pub codec: String,
    /// `pq` or `hlg` when the stream declares an HDR transfer, else null.
    pub hdr: Option<colour::Hdr>,
    /// The colour the stream declares, in FFmpeg's words (`bt709`, `bt2020`, `arib-std-b67`,
    /// `bt2020nc` ...), null where it says nothing (see [`colour`]).
    pub color_primaries: Option<String>,
    pub color_transfer: Option<String>,
    pub color_matrix: Option<String>,
}

impl VideoInfo {
    /// Sets the colour from the engine's numbers (FFmpeg's `AVColorPrimaries`,
    /// `AVColorTransferCharacteristic` and `AVColorSpace`).
    pub fn set_colour(&mut self, primaries: i32, transfer: i32, matrix: i32) {
        self.hdr = colour::Hdr::of_transfer(transfer);
        self.color_primaries = colour::primaries_name(primaries).map(str::to_owned);
        self.color_transfer = colour::transfer_name(transfer).map(str::to_owned);
        self.color_matrix = colour::matrix_name(matrix).map(str::to_owned);
    }
}

#[cfg(test)]
mod tests {
    use super::VideoInfo;

    #[test]
    fn video_info_json_is_camel_case_with_the_display_size_first() {
        let info = VideoInfo {
            duration: Some(3.0),
            fps: None,
            width: 427,
            height: 240,
            coded_width: 320,
            coded_height: 240,
            rotation: 0,
            codec: "h264".into(),
            ..Default::default()
        };
        let json = serde_json::to_value(&info).unwrap();
        assert_eq!(
            json,
            serde_json::json!({ "duration": 3.0, "fps": null, "width": 427, "height": 240,
                                "codedWidth": 320, "codedHeight": 240, "rotation": 0, "codec": "h264",
                                "hdr": null, "colorPrimaries": null, "colorTransfer": null, "colorMatrix": null })
        );
        assert_eq!(serde_json::from_value::<VideoInfo>(json).unwrap(), info);
        let mut hlg = info.clone();
        hlg.set_colour(9, 18, 9);
        assert_eq!(serde_json::to_value(&hlg).unwrap()["hdr"], "hlg",);
        assert_eq!(
            (
                hlg.color_primaries.as_deref(),
                hlg.color_transfer.as_deref(),
                hlg.color_matrix.as_deref()
            ),
            (Some("bt2020"), Some("arib-std-b67"), Some("bt2020nc"))
        );
    }
}
