//! The thumbnail options every host accepts, parsed the same way everywhere: from the server's
//! query string (text) and from the browser API's option object (numbers and text), with the same
//! names, the same limits, the same messages, and unknown names refused in both.

use std::fmt;
use std::str::FromStr;

use crate::colour::HdrOutput;
use crate::fit::Fitting;
use crate::{Error, ErrorKind, Seek};

/// Where in the video to take the frame.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum At {
    /// Seconds from the start.
    Seconds(f64),
    /// A share of the duration, 0 to 100.
    Percent(f64),
    /// The most representative frame (`auto`): no black, blank or fading one; the hosts pick it
    /// with the crate `thumbnail-frames`.
    Auto,
}

impl Default for At {
    /// One second in, as the tutorial service this replaces always did.
    fn default() -> Self {
        At::Seconds(1.0)
    }
}

impl At {
    /// Seconds from the start for a video of this duration (a percentage of an unknown
    /// duration is the start), or `None` for `Auto`, which the host picks by looking at frames.
    pub fn seconds(self, duration: Option<f64>) -> Option<f64> {
        match self {
            At::Seconds(s) => Some(s),
            At::Percent(p) => Some(duration.map_or(0.0, |d| d * p / 100.0)),
            At::Auto => None,
        }
    }
}

pub(crate) fn bad(message: String) -> Error {
    Error::new(ErrorKind::InvalidArgument, message)
}

impl FromStr for At {
    type Err = Error;

    /// `12.5` (seconds), `10%`, a clock time `01:02.5` / `00:01:02.5`, or `auto`.
    fn from_str(s: &str) -> Result<At, Error> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("auto") {
            return Ok(At::Auto);
        }
        let invalid = || {
            bad(format!(
                "`at` must be seconds (1.5), a percentage (10%), a time (00:01:02.5) or auto, not {}",
                shown(OptionValue::Text(s))
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
        // Seconds as any finite, non-negative decimal number, exponent included: what JavaScript's
        // String(1e-7) gives.
        if s.contains(['e', 'E']) && !s.contains(':') {
            return match s.parse::<f64>() {
                Ok(v) if v.is_finite() && v >= 0.0 && !s.starts_with(['+', '-']) => Ok(At::Seconds(v)),
                _ => Err(invalid()),
            };
        }
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
            At::Auto => f.write_str("auto"),
        }
    }
}

/// The image format of a thumbnail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Format {
    #[default]
    Png,
    Jpeg,
    Webp,
    /// Always an animation: frames at `fps` a second for `duration` seconds from `at`.
    Gif,
    /// No image: the frame's placeholder alone, its ThumbHash and average colour as JSON (see
    /// `thumbnail_frames::placeholder`), made from the frame in a 100 px box unless one is given.
    Thumbhash,
}

impl Format {
    pub fn mime(self) -> &'static str {
        match self {
            Format::Png => "image/png",
            Format::Jpeg => "image/jpeg",
            Format::Webp => "image/webp",
            Format::Gif => "image/gif",
            Format::Thumbhash => "application/json",
        }
    }

    /// The name the options give it.
    pub fn name(self) -> &'static str {
        match self {
            Format::Png => "png",
            Format::Jpeg => "jpeg",
            Format::Webp => "webp",
            Format::Gif => "gif",
            Format::Thumbhash => "thumbhash",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Png => "png",
            Format::Jpeg => "jpg",
            Format::Webp => "webp",
            Format::Gif => "gif",
            Format::Thumbhash => "json",
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
            "gif" => Ok(Format::Gif),
            "thumbhash" => Ok(Format::Thumbhash),
            _ => Err(bad(format!(
                "`format` must be png, jpeg, webp, gif or thumbhash, not {}",
                shown(OptionValue::Text(s))
            ))),
        }
    }
}

impl FromStr for Seek {
    type Err = Error;

    fn from_str(s: &str) -> Result<Seek, Error> {
        match s.trim() {
            "exact" => Ok(Seek::Exact),
            "keyframe" => Ok(Seek::Keyframe),
            _ => Err(bad(format!(
                "`seek` must be exact or keyframe, not {}",
                shown(OptionValue::Text(s))
            ))),
        }
    }
}

impl Seek {
    pub fn name(self) -> &'static str {
        match self {
            Seek::Exact => "exact",
            Seek::Keyframe => "keyframe",
        }
    }
}

/// Pixels of a source frame, or of an image made, at most (decompression bombs): the engine's
/// default (`TE_DEFAULT_MAX_PIXELS`), the server's `--max-pixels` default and the browser's limit.
pub const DEFAULT_MAX_PIXELS: u32 = 64 * 1024 * 1024;

/// Largest box side a caller may ask for (the engine never enlarges anyway).
pub const MAX_SIDE: u32 = 16384;
/// Quality when none is given, for the lossy formats.
pub const DEFAULT_QUALITY: u8 = 85;

/// Everything a caller may ask of one thumbnail.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ThumbnailOptions {
    pub at: At,
    /// The box (0 = no limit on that side): the frame fits in it, never enlarged, unless
    /// `fitting` says otherwise.
    pub max_width: u32,
    pub max_height: u32,
    /// How the picture fills the box (`fit`, `focus`, `background`).
    pub fitting: Fitting,
    pub format: Format,
    /// 1 to 100, for jpeg and webp.
    pub quality: u8,
    pub seek: Seek,
    /// An HDR video's pictures tone-mapped (`sdr`) or as coded (`keep`).
    pub hdr: HdrOutput,
    /// An animation rather than one frame: always for gif, asked for webp (`animated=true`).
    pub animated: bool,
    /// For an animation: seconds of video, frames a second, and whether it loops.
    pub duration: f64,
    pub fps: f64,
    pub looped: bool,
}

/// An animation's defaults: the tutorial GIF's `-t 3`, `fps=5`, `scale=720:-1`, looping.
pub const GIF_DURATION: f64 = 3.0;
pub const GIF_FPS: f64 = 5.0;
pub const GIF_WIDTH: u32 = 720;
/// The box of a frame made for its placeholder alone (`format=thumbhash`) when none is given.
pub const THUMBHASH_SIDE: u32 = 100;
/// Seconds and frames a second an animation may have at most.
pub const MAX_GIF_DURATION: f64 = 30.0;
pub const MAX_GIF_FPS: f64 = 30.0;

impl Default for ThumbnailOptions {
    fn default() -> Self {
        ThumbnailOptions {
            at: At::default(),
            max_width: 0,
            max_height: 0,
            fitting: Fitting::default(),
            format: Format::default(),
            quality: DEFAULT_QUALITY,
            seek: Seek::Exact,
            hdr: HdrOutput::Sdr,
            animated: false,
            duration: GIF_DURATION,
            fps: GIF_FPS,
            looped: true,
        }
    }
}

/// The names of the options, in the order the messages list them.
pub const OPTION_NAMES: [&str; 14] = [
    "at",
    "width",
    "height",
    "fit",
    "focus",
    "background",
    "format",
    "quality",
    "seek",
    "hdr",
    "animated",
    "duration",
    "fps",
    "loop",
];

/// One option's value as a host has it: text (a query string) or a number (a JS option object).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OptionValue<'a> {
    Text(&'a str),
    Number(f64),
}

/// A whole number from `lo` to `hi`, from text or a number.
pub(crate) fn whole(name: &str, value: OptionValue, lo: u32, hi: u32, what: &str) -> Result<u32, Error> {
    let parsed = match value {
        OptionValue::Text(s) => s.trim().parse::<u32>().ok(),
        OptionValue::Number(n) if n.fract() == 0.0 && n >= 0.0 && n <= f64::from(u32::MAX) => Some(n as u32),
        OptionValue::Number(_) => None,
    };
    match parsed {
        Some(v) if (lo..=hi).contains(&v) => Ok(v),
        _ => Err(bad(format!(
            "`{name}` must be {what} from {lo} to {hi}, not {}",
            shown(value)
        ))),
    }
}

/// A value as a message shows it: a number as a number, whether it came as one or as text (so that
/// both hosts say the same), other text quoted.
pub(crate) fn shown(value: OptionValue) -> String {
    match value {
        OptionValue::Text(s) if s.trim().parse::<f64>().is_ok() => s.trim().to_owned(),
        OptionValue::Text(s) => format!("{s:?}"),
        OptionValue::Number(n) => n.to_string(),
    }
}

/// A word option (`format`, `seek`): a number given for one is read as its text, as the server
/// reads it from a query string.
pub(crate) fn word<T: FromStr<Err = Error>>(value: OptionValue) -> Result<T, Error> {
    match value {
        OptionValue::Text(s) => s.parse(),
        OptionValue::Number(n) => n.to_string().parse(),
    }
}

/// A box side: a whole number of pixels, 1 to MAX_SIDE.
pub fn parse_side(name: &str, value: OptionValue) -> Result<u32, Error> {
    whole(name, value, 1, MAX_SIDE, "a whole number of pixels")
}

pub fn parse_quality(value: OptionValue) -> Result<u8, Error> {
    whole("quality", value, 1, 100, "a whole number").map(|q| q as u8)
}

/// A number from `lo` to `hi`.
fn positive(name: &str, value: OptionValue, lo: f64, hi: f64, what: &str) -> Result<f64, Error> {
    let n = match value {
        OptionValue::Number(n) => Some(n),
        OptionValue::Text(s) => s.trim().parse::<f64>().ok(),
    };
    match n {
        Some(n) if n.is_finite() && (lo..=hi).contains(&n) => Ok(n),
        _ => Err(bad(format!(
            "`{name}` must be {what} from {lo} to {hi}, not {}",
            shown(value)
        ))),
    }
}

/// Yes or no: true/false, 1/0.
fn flag(name: &str, value: OptionValue) -> Result<bool, Error> {
    match value {
        OptionValue::Number(n) if n == 1.0 => Ok(true),
        OptionValue::Number(n) if n == 0.0 => Ok(false),
        OptionValue::Text(s) if matches!(s.trim(), "true" | "1") => Ok(true),
        OptionValue::Text(s) if matches!(s.trim(), "false" | "0") => Ok(false),
        _ => Err(bad(format!("`{name}` must be true or false, not {}", shown(value)))),
    }
}

fn parse_at(value: OptionValue) -> Result<At, Error> {
    match value {
        OptionValue::Text(s) => s.parse(),
        OptionValue::Number(n) if n.is_finite() && n >= 0.0 => Ok(At::Seconds(n)),
        OptionValue::Number(n) => Err(bad(format!(
            "`at` must be seconds (1.5), a percentage (10%), a time (00:01:02.5) or auto, not {n}"
        ))),
    }
}

impl ThumbnailOptions {
    /// Reads the options from name/value pairs, as any host has them. Unknown names are refused,
    /// so that a typo does not silently give the default.
    pub fn from_values<'a>(
        values: impl IntoIterator<Item = (&'a str, OptionValue<'a>)>,
    ) -> Result<ThumbnailOptions, Error> {
        let mut options = ThumbnailOptions::default();
        let mut given = Vec::new();
        for (name, value) in values {
            given.push(name);
            if let Some(taken) = options.fitting.take(name, value) {
                taken?;
                continue;
            }
            match name {
                "at" => options.at = parse_at(value)?,
                "width" => options.max_width = parse_side("width", value)?,
                "height" => options.max_height = parse_side("height", value)?,
                "format" => options.format = word(value)?,
                "quality" => options.quality = parse_quality(value)?,
                "seek" => options.seek = word(value)?,
                "hdr" => options.hdr = word(value)?,
                "animated" => options.animated = flag("animated", value)?,
                "duration" => options.duration = positive("duration", value, 0.04, MAX_GIF_DURATION, "seconds")?,
                "fps" => options.fps = positive("fps", value, 0.1, MAX_GIF_FPS, "frames a second")?,
                "loop" => options.looped = flag("loop", value)?,
                _ => {
                    return Err(bad(format!(
                        "unknown option `{name}` (known: {})",
                        OPTION_NAMES.join(", ")
                    )))
                }
            }
        }
        let asked = |name: &str| given.contains(&name);
        match options.format {
            Format::Gif if asked("animated") && !options.animated => {
                return Err(bad(
                    "a GIF is always animated (`animated=false` is for one frame: png, jpeg or webp)".into(),
                ))
            }
            Format::Gif => options.animated = true,
            Format::Png if options.animated => return Err(bad("`animated` is for gif and webp, not png".into())),
            Format::Jpeg if options.animated => return Err(bad("`animated` is for gif and webp, not jpeg".into())),
            Format::Thumbhash if options.animated => {
                return Err(bad("`animated` is for gif and webp, not thumbhash".into()))
            }
            _ => {}
        }
        if !options.animated && ["duration", "fps", "loop"].into_iter().any(asked) {
            return Err(bad(
                "`duration`, `fps` and `loop` are for animations: format=gif, or format=webp with animated=true".into(),
            ));
        }
        options.fitting.check(&given, options.max_width, options.max_height)?;
        if options.animated && options.max_width == 0 && options.max_height == 0 {
            options.max_width = GIF_WIDTH;
        }
        if options.format == Format::Thumbhash && options.max_width == 0 && options.max_height == 0 {
            // A ThumbHash is made of at most 100x100 pixels: no larger frame is needed.
            (options.max_width, options.max_height) = (THUMBHASH_SIDE, THUMBHASH_SIDE);
        }
        Ok(options)
    }

    /// Reads the options from text pairs (a query string, form fields ...).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<ThumbnailOptions, Error> {
        ThumbnailOptions::from_values(pairs.into_iter().map(|(k, v)| (k, OptionValue::Text(v))))
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
        // As JavaScript writes small and large numbers.
        assert_eq!("1e-7".parse::<At>().unwrap(), At::Seconds(1e-7));
        assert_eq!("1e3".parse::<At>().unwrap(), At::Seconds(1000.0));
        for bad in [
            "", "-1", "abc", "-1e3", "1e999", "1e3:00", "101%", "1:60", "1.5:00", "1:2:3:4", "NaN", "inf", "%", "1..2",
        ] {
            assert!(bad.parse::<At>().is_err(), "{bad:?} should be refused");
        }
        assert_eq!(At::Percent(50.0).seconds(Some(10.0)), Some(5.0));
        assert_eq!(At::Percent(50.0).seconds(None), Some(0.0));
        assert_eq!("auto".parse::<At>().unwrap(), At::Auto);
        assert_eq!(At::Auto.seconds(Some(10.0)), None);
    }

    #[test]
    fn options_from_pairs() {
        let o = ThumbnailOptions::from_pairs([
            ("at", "10%"),
            ("width", "320"),
            ("format", "JPG"),
            ("quality", "70"),
            ("seek", "keyframe"),
        ])
        .unwrap();
        assert_eq!(o.at, At::Percent(10.0));
        assert_eq!((o.max_width, o.max_height), (320, 0));
        assert_eq!(o.format, Format::Jpeg);
        assert_eq!(o.quality, 70);
        assert_eq!(o.seek, Seek::Keyframe);
        assert_eq!(ThumbnailOptions::from_pairs([]).unwrap(), ThumbnailOptions::default());
        for (name, value) in [
            ("width", "0"),
            ("width", "-5"),
            ("height", "99999"),
            ("quality", "0"),
            ("quality", "101"),
            ("format", "bmp"),
            ("seek", "fast"),
            ("fps", "5"),
            ("loop", "maybe"),
            ("animated", "yes"),
            ("mode", "keyframe"),
            ("size", "1"),
        ] {
            let err = ThumbnailOptions::from_pairs([(name, value)]).unwrap_err();
            assert_eq!(err.kind, ErrorKind::InvalidArgument);
        }
    }

    #[test]
    fn numbers_and_text_mean_the_same() {
        use OptionValue::{Number, Text};
        let from_numbers =
            ThumbnailOptions::from_values([("at", Number(2.5)), ("width", Number(320.0)), ("quality", Number(70.0))])
                .unwrap();
        let from_text = ThumbnailOptions::from_pairs([("at", "2.5"), ("width", "320"), ("quality", "70")]).unwrap();
        assert_eq!(from_numbers, from_text);
        assert_eq!(from_text.hdr, crate::colour::HdrOutput::Sdr);
        let keep = ThumbnailOptions::from_pairs([("hdr", "keep")]).unwrap();
        assert_eq!(keep.hdr, crate::colour::HdrOutput::Keep);
        for (name, value) in [
            ("width", Number(320.5)),
            ("width", Number(-1.0)),
            ("width", Number(f64::NAN)),
            ("at", Number(-1.0)),
            ("at", Number(f64::INFINITY)),
            ("format", Number(1.0)),
            ("seek", Number(0.0)),
            ("hdr", Number(1.0)),
            ("hdr", Text("pq")),
            ("quality", Number(0.0)),
        ] {
            let err = ThumbnailOptions::from_values([(name, value)]).unwrap_err();
            assert_eq!(err.kind, ErrorKind::InvalidArgument, "{name} {value:?}");
        }
        let unknown = ThumbnailOptions::from_values([("colour", Text("red"))]).unwrap_err();
        assert_eq!(
            unknown.message,
            "unknown option `colour` (known: at, width, height, fit, focus, background, format, quality, seek, hdr, animated, duration, fps, loop)"
        );
    }

    #[test]
    fn animations_are_gif_or_webp() {
        let gif = ThumbnailOptions::from_pairs([("format", "gif")]).unwrap();
        assert!(gif.animated);
        assert_eq!(gif.max_width, GIF_WIDTH);
        let webp = ThumbnailOptions::from_pairs([("format", "webp"), ("animated", "true"), ("fps", "10")]).unwrap();
        assert!(webp.animated && webp.fps == 10.0 && webp.max_width == GIF_WIDTH);
        let still = ThumbnailOptions::from_pairs([("format", "webp"), ("animated", "false")]).unwrap();
        assert!(!still.animated && still.max_width == 0);
        for pairs in [
            &[("format", "png"), ("animated", "true")][..],
            &[("format", "jpeg"), ("animated", "1")],
            &[("animated", "true")],
            &[("format", "gif"), ("animated", "false")],
            &[("format", "webp"), ("duration", "2")],
            &[("format", "webp"), ("animated", "false"), ("loop", "false")],
        ] {
            let err = ThumbnailOptions::from_pairs(pairs.iter().copied()).unwrap_err();
            assert_eq!(err.kind, ErrorKind::InvalidArgument, "{pairs:?}");
        }
    }
}
