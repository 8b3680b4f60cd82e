//! The thumbnail options every host accepts, parsed the same way everywhere: from the server's
//! query string and from the browser API's option object.

use std::fmt;
use std::str::FromStr;

use crate::{Error, ErrorKind, Mode};

/// Where in the video to take the frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum At {
    /// Seconds from the start.
    Seconds(f64),
    /// A share of the duration, 0 to 100.
    Percent(f64),
}

impl Default for At {
    /// One second in, as the tutorial service this replaces always did.
    fn default() -> Self {
        At::Seconds(1.0)
    }
}

impl At {
    /// Seconds from the start for a video of this duration (a percentage of an unknown
    /// duration is the start).
    pub fn seconds(self, duration: Option<f64>) -> f64 {
        match self {
            At::Seconds(s) => s,
            At::Percent(p) => duration.map_or(0.0, |d| d * p / 100.0),
        }
    }
}

fn bad(message: String) -> Error {
    Error::new(ErrorKind::InvalidArgument, message)
}

impl FromStr for At {
    type Err = Error;

    /// `12.5` (seconds), `10%`, or a clock time `01:02.5` / `00:01:02.5`.
    fn from_str(s: &str) -> Result<At, Error> {
        let s = s.trim();
        let invalid = || {
            bad(format!(
                "`at` must be seconds (1.5), a percentage (10%) or a time (00:01:02.5), not {s:?}"
            ))
        };
        let number = |part: &str| -> Result<f64, Error> {
            let ok = !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit() || b == b'.');
            let value: f64 = if ok {
                part.parse().map_err(|_| invalid())?
            } else {
                return Err(invalid());
            };
            Ok(value)
        };
        if let Some(p) = s.strip_suffix('%') {
            let p = number(p.trim())?;
            if p > 100.0 {
                return Err(bad(format!("`at` percentage must be 0 to 100, not {p}")));
            }
            return Ok(At::Percent(p));
        }
        let parts: Vec<&str> = s.split(':').collect();
        if parts.len() > 3 {
            return Err(invalid());
        }
        let mut seconds = 0.0;
        for (i, part) in parts.iter().enumerate() {
            let value = number(part)?;
            // minutes and seconds of a clock time stay below 60
            if i > 0 && value >= 60.0 || i + 1 < parts.len() && part.contains('.') {
                return Err(invalid());
            }
            seconds = seconds * 60.0 + value;
        }
        if !seconds.is_finite() {
            return Err(invalid());
        }
        Ok(At::Seconds(seconds))
    }
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            At::Seconds(s) => write!(f, "{s}"),
            At::Percent(p) => write!(f, "{p}%"),
        }
    }
}

/// The image format of a thumbnail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Png,
    Jpeg,
    Webp,
}

impl Format {
    pub fn mime(self) -> &'static str {
        match self {
            Format::Png => "image/png",
            Format::Jpeg => "image/jpeg",
            Format::Webp => "image/webp",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Png => "png",
            Format::Jpeg => "jpg",
            Format::Webp => "webp",
        }
    }
}

impl FromStr for Format {
    type Err = Error;

    fn from_str(s: &str) -> Result<Format, Error> {
        match s.trim().to_ascii_lowercase().as_str() {
            "png" => Ok(Format::Png),
            "jpeg" | "jpg" => Ok(Format::Jpeg),
            "webp" => Ok(Format::Webp),
            _ => Err(bad(format!("`format` must be png, jpeg or webp, not {s:?}"))),
        }
    }
}

impl FromStr for Mode {
    type Err = Error;

    fn from_str(s: &str) -> Result<Mode, Error> {
        match s.trim() {
            "exact" => Ok(Mode::Exact),
            "keyframe" => Ok(Mode::Keyframe),
            _ => Err(bad(format!("`mode` must be exact or keyframe, not {s:?}"))),
        }
    }
}

/// Largest box side a caller may ask for (the engine never enlarges anyway).
pub const MAX_SIDE: u32 = 16384;
/// Quality when none is given, for the lossy formats.
pub const DEFAULT_QUALITY: u8 = 85;

/// Everything a caller may ask of one thumbnail.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThumbnailOptions {
    pub at: At,
    /// Fit in this box (0 = no limit); the frame is never enlarged.
    pub max_width: u32,
    pub max_height: u32,
    pub format: Format,
    /// 1 to 100, for jpeg and webp.
    pub quality: u8,
    pub mode: Mode,
}

impl Default for ThumbnailOptions {
    fn default() -> Self {
        ThumbnailOptions {
            at: At::default(),
            max_width: 0,
            max_height: 0,
            format: Format::default(),
            quality: DEFAULT_QUALITY,
            mode: Mode::Exact,
        }
    }
}

/// A box side: a whole number of pixels, 1 to MAX_SIDE.
pub fn parse_side(name: &str, s: &str) -> Result<u32, Error> {
    match s.trim().parse::<u32>() {
        Ok(v) if (1..=MAX_SIDE).contains(&v) => Ok(v),
        _ => Err(bad(format!(
            "`{name}` must be a whole number of pixels from 1 to {MAX_SIDE}, not {s:?}"
        ))),
    }
}

pub fn parse_quality(s: &str) -> Result<u8, Error> {
    match s.trim().parse::<u8>() {
        Ok(v) if (1..=100).contains(&v) => Ok(v),
        _ => Err(bad(format!(
            "`quality` must be a whole number from 1 to 100, not {s:?}"
        ))),
    }
}

impl ThumbnailOptions {
    /// Reads the options from name/value pairs (a query string, form fields ...). Unknown names are
    /// refused, so that a typo does not silently give the default.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<ThumbnailOptions, Error> {
        let mut options = ThumbnailOptions::default();
        for (name, value) in pairs {
            match name {
                "at" => options.at = value.parse()?,
                "width" => options.max_width = parse_side("width", value)?,
                "height" => options.max_height = parse_side("height", value)?,
                "format" => options.format = value.parse()?,
                "quality" => options.quality = parse_quality(value)?,
                "mode" => options.mode = value.parse()?,
                _ => {
                    return Err(bad(format!(
                        "unknown parameter `{name}` (known: at, width, height, format, quality, mode)"
                    )))
                }
            }
        }
        Ok(options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_forms() {
        assert_eq!("1".parse::<At>().unwrap(), At::Seconds(1.0));
        assert_eq!(" 2.5 ".parse::<At>().unwrap(), At::Seconds(2.5));
        assert_eq!("10%".parse::<At>().unwrap(), At::Percent(10.0));
        assert_eq!("01:02.5".parse::<At>().unwrap(), At::Seconds(62.5));
        assert_eq!("00:01:02.5".parse::<At>().unwrap(), At::Seconds(62.5));
        assert_eq!("1:00:00".parse::<At>().unwrap(), At::Seconds(3600.0));
        for bad in [
            "", "-1", "abc", "1e3", "101%", "1:60", "1.5:00", "1:2:3:4", "NaN", "inf", "%", "1..2",
        ] {
            assert!(bad.parse::<At>().is_err(), "{bad:?} should be refused");
        }
        assert_eq!(At::Percent(50.0).seconds(Some(10.0)), 5.0);
        assert_eq!(At::Percent(50.0).seconds(None), 0.0);
    }

    #[test]
    fn options_from_pairs() {
        let o = ThumbnailOptions::from_pairs([
            ("at", "10%"),
            ("width", "320"),
            ("format", "JPG"),
            ("quality", "70"),
            ("mode", "keyframe"),
        ])
        .unwrap();
        assert_eq!(o.at, At::Percent(10.0));
        assert_eq!((o.max_width, o.max_height), (320, 0));
        assert_eq!(o.format, Format::Jpeg);
        assert_eq!(o.quality, 70);
        assert_eq!(o.mode, Mode::Keyframe);
        assert_eq!(ThumbnailOptions::from_pairs([]).unwrap(), ThumbnailOptions::default());
        for (name, value) in [
            ("width", "0"),
            ("width", "-5"),
            ("height", "99999"),
            ("quality", "0"),
            ("quality", "101"),
            ("format", "gif"),
            ("mode", "fast"),
            ("size", "1"),
        ] {
            let err = ThumbnailOptions::from_pairs([(name, value)]).unwrap_err();
            assert_eq!(err.kind, ErrorKind::InvalidArgument);
        }
    }
}
