//! The options of a contact sheet (a sprite of frames with its WebVTT thumbnails track), parsed
//! like the thumbnail's: the same names in the query of POST /sprite and in `t.sprite()`'s object.

use crate::colour::HdrOutput;
use crate::fit::Fitting;
use crate::options::{bad, parse_quality, parse_side, shown, whole, word, OptionValue};
use crate::{Error, Format};

/// The names of the sprite options, in the order the messages list them.
pub const SPRITE_OPTION_NAMES: [&str; 12] = [
    "count",
    "every",
    "columns",
    "width",
    "height",
    "fit",
    "focus",
    "background",
    "format",
    "quality",
    "seek",
    "hdr",
];
/// Most frames in one sheet.
pub const MAX_SPRITE_FRAMES: u32 = 400;
/// Most tiles in a row.
pub const MAX_COLUMNS: u32 = 50;

/// How a sheet finds its frames: `auto` (the default) takes the keyframe at or before each time
/// where the tiles are further apart than the video's keyframes (each tile then shows a frame of
/// its own share, one decoded frame each), else the exact frame; or always one of the two.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SheetSeek {
    #[default]
    Auto,
    Exact,
    Keyframe,
}

impl std::str::FromStr for SheetSeek {
    type Err = Error;

    fn from_str(s: &str) -> Result<SheetSeek, Error> {
        match s.trim() {
            "auto" => Ok(SheetSeek::Auto),
            "exact" => Ok(SheetSeek::Exact),
            "keyframe" => Ok(SheetSeek::Keyframe),
            _ => Err(bad(format!(
                "`seek` of a contact sheet must be auto, exact or keyframe, not {}",
                shown(OptionValue::Text(s))
            ))),
        }
    }
}

/// Which frames: so many, evenly spread, or one every so many seconds.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum FrameTimes {
    Count(u32),
    Every(f64),
}

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SpriteOptions {
    pub frames: FrameTimes,
    /// Tiles in a row (fewer if there are fewer frames).
    pub columns: u32,
    /// Each frame fitted in this box (0: no limit on that side); never enlarged, unless
    /// `fitting` says otherwise.
    pub tile_width: u32,
    pub tile_height: u32,
    /// How each frame fills its tile (`fit`, `focus`, `background`).
    pub fitting: Fitting,
    pub format: Format,
    pub quality: u8,
    /// How the frames are found (`auto`, `exact`, `keyframe`).
    pub seek: SheetSeek,
    /// An HDR video's frames tone-mapped (`sdr`) or as coded (`keep`).
    pub hdr: HdrOutput,
}

impl Default for SpriteOptions {
    fn default() -> Self {
        SpriteOptions {
            frames: FrameTimes::Count(24),
            columns: 6,
            tile_width: 160,
            tile_height: 0,
            fitting: Fitting::default(),
            format: Format::Jpeg,
            quality: crate::DEFAULT_QUALITY,
            seek: SheetSeek::Auto,
            hdr: HdrOutput::Sdr,
        }
    }
}

impl SpriteOptions {
    /// Reads the options as any host has them; unknown names are refused.
    pub fn from_values<'a>(
        values: impl IntoIterator<Item = (&'a str, OptionValue<'a>)>,
    ) -> Result<SpriteOptions, Error> {
        let mut options = SpriteOptions::default();
        let (mut count, mut every, mut width_given) = (None, None, false);
        let mut given = Vec::new();
        for (name, value) in values {
            given.push(name);
            if let Some(taken) = options.fitting.take(name, value) {
                taken?;
                continue;
            }
            match name {
                "count" => count = Some(whole("count", value, 1, MAX_SPRITE_FRAMES, "a whole number")?),
                "every" => every = Some(every_seconds(value)?),
                "columns" => options.columns = whole("columns", value, 1, MAX_COLUMNS, "a whole number")?,
                "width" => {
                    options.tile_width = parse_side("width", value)?;
                    width_given = true;
                }
                "height" => options.tile_height = parse_side("height", value)?,
                "format" => {
                    options.format = word(value)?;
                    if matches!(options.format, Format::Gif | Format::Thumbhash) {
                        return Err(bad(format!(
                            "`format` of a contact sheet must be png, jpeg or webp, not {:?}",
                            options.format.name()
                        )));
                    }
                }
                "quality" => options.quality = parse_quality(value)?,
                "seek" => options.seek = word(value)?,
                "hdr" => options.hdr = word(value)?,
                _ => {
                    return Err(bad(format!(
                        "unknown option `{name}` (known: {})",
                        SPRITE_OPTION_NAMES.join(", ")
                    )))
                }
            }
        }
        options.frames = match (count, every) {
            (Some(_), Some(_)) => return Err(bad("give `count` or `every`, not both".into())),
            (Some(n), None) => FrameTimes::Count(n),
            (None, Some(s)) => FrameTimes::Every(s),
            (None, None) => options.frames,
        };
        if options.tile_height != 0 && !width_given {
            // A height alone sets the box: the default width does not narrow it.
            options.tile_width = 0;
        }
        options.fitting.check(&given, options.tile_width, options.tile_height)?;
        Ok(options)
    }

    /// From text pairs (a query string).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<SpriteOptions, Error> {
        SpriteOptions::from_values(pairs.into_iter().map(|(k, v)| (k, OptionValue::Text(v))))
    }
}

/// `every`: seconds between frames, at least 0.04 (one frame at 25 fps).
pub(crate) fn every_seconds(value: OptionValue) -> Result<f64, Error> {
    let n = match value {
        OptionValue::Number(n) => Some(n),
        OptionValue::Text(s) => s.trim().parse::<f64>().ok(),
    };
    match n {
        Some(n) if n.is_finite() && (0.04..=86_400.0).contains(&n) => Ok(n),
        _ => Err(bad(format!(
            "`every` must be seconds from 0.04 to 86400, not {}",
            shown(value)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sprite_options() {
        let o =
            SpriteOptions::from_pairs([("count", "12"), ("columns", "4"), ("width", "80"), ("format", "png")]).unwrap();
        assert_eq!(o.frames, FrameTimes::Count(12));
        assert_eq!(
            (o.columns, o.tile_width, o.tile_height, o.format),
            (4, 80, 0, Format::Png)
        );
        let o = SpriteOptions::from_values([
            ("every", OptionValue::Number(2.5)),
            ("height", OptionValue::Number(90.0)),
        ])
        .unwrap();
        assert_eq!((o.frames, o.tile_width, o.tile_height), (FrameTimes::Every(2.5), 0, 90));
        let o = SpriteOptions::from_pairs([("width", "160"), ("height", "90")]).unwrap();
        assert_eq!((o.tile_width, o.tile_height), (160, 90));
        assert_eq!(SpriteOptions::from_pairs([]).unwrap(), SpriteOptions::default());
        assert_eq!(SpriteOptions::default().seek, SheetSeek::Auto);
        for (word, seek) in [
            ("auto", SheetSeek::Auto),
            ("exact", SheetSeek::Exact),
            ("keyframe", SheetSeek::Keyframe),
        ] {
            assert_eq!(SpriteOptions::from_pairs([("seek", word)]).unwrap().seek, seek);
        }
        for (name, value) in [
            ("seek", "fast"),
            ("count", "0"),
            ("count", "401"),
            ("every", "0"),
            ("every", "-1"),
            ("columns", "51"),
            ("width", "0"),
            ("format", "gif"),
            ("at", "1"),
        ] {
            assert!(SpriteOptions::from_pairs([(name, value)]).is_err(), "{name}={value}");
        }
        assert!(SpriteOptions::from_pairs([("count", "5"), ("every", "2")]).is_err());
    }
}
