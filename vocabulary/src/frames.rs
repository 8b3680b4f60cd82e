//! The options of a series of frames (`t.frames()` in the browser, POST /frames on the server),
//! parsed like the thumbnail's: the same names in the query and in the JS object.

use crate::colour::HdrOutput;
use crate::fit::Fitting;
use crate::options::{bad, parse_quality, parse_side, shown, whole, word, OptionValue};
use crate::sprite::{every_seconds, FrameTimes, MAX_SPRITE_FRAMES};
use crate::{Error, Format, Seek};

/// The names of the frames options, in the order the messages list them.
pub const FRAMES_OPTION_NAMES: [&str; 12] = [
    "times",
    "count",
    "every",
    "width",
    "height",
    "fit",
    "focus",
    "background",
    "seek",
    "format",
    "quality",
    "hdr",
];

/// Which frames of a series.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Series {
    /// At these seconds, increasing (`times: [1, 2.5, 4]`, `times=1,2.5,4`).
    Times(Vec<f64>),
    /// So many spread over the video, or one every so many seconds (as a contact sheet's).
    Spread(FrameTimes),
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FramesOptions {
    pub series: Series,
    /// Each frame fitted in this box (0: no limit on that side); never enlarged, unless
    /// `fitting` says otherwise.
    pub max_width: u32,
    pub max_height: u32,
    /// How each frame fills the box (`fit`, `focus`, `background`).
    pub fitting: Fitting,
    /// `exact`: the first frame at or after each time; `keyframe`: the keyframe at or before it.
    pub seek: Seek,
    /// An encoded image per frame; none given: the browser gives an ImageBitmap, the server PNG.
    pub format: Option<Format>,
    pub quality: u8,
    /// An HDR video's frames tone-mapped (`sdr`) or as coded (`keep`).
    pub hdr: HdrOutput,
}

impl FramesOptions {
    /// Reads the options as any host has them; unknown names are refused, and one of `times`,
    /// `count` and `every` is needed.
    pub fn from_values<'a>(
        values: impl IntoIterator<Item = (&'a str, OptionValue<'a>)>,
    ) -> Result<FramesOptions, Error> {
        let mut options = FramesOptions {
            series: Series::Times(Vec::new()),
            max_width: 0,
            max_height: 0,
            fitting: Fitting::default(),
            seek: Seek::Exact,
            format: None,
            quality: crate::DEFAULT_QUALITY,
            hdr: HdrOutput::Sdr,
        };
        let mut series = Vec::new();
        let mut given = Vec::new();
        for (name, value) in values {
            given.push(name);
            if let Some(taken) = options.fitting.take(name, value) {
                taken?;
                continue;
            }
            match name {
                "times" => series.push(Series::Times(times(value)?)),
                "count" => series.push(Series::Spread(FrameTimes::Count(whole(
                    "count",
                    value,
                    1,
                    MAX_SPRITE_FRAMES,
                    "a whole number",
                )?))),
                "every" => series.push(Series::Spread(FrameTimes::Every(every_seconds(value)?))),
                "width" => options.max_width = parse_side("width", value)?,
                "height" => options.max_height = parse_side("height", value)?,
                "seek" => options.seek = word(value)?,
                "format" => {
                    let format: Format = word(value)?;
                    if matches!(format, Format::Gif | Format::Thumbhash) {
                        return Err(bad(format!(
                            "`format` of frames must be png, jpeg or webp, not {:?}",
                            format.name()
                        )));
                    }
                    options.format = Some(format);
                }
                "quality" => options.quality = parse_quality(value)?,
                "hdr" => options.hdr = word(value)?,
                _ => {
                    return Err(bad(format!(
                        "unknown option `{name}` (known: {})",
                        FRAMES_OPTION_NAMES.join(", ")
                    )))
                }
            }
        }
        options.series = match series.len() {
            1 => series.remove(0),
            0 => return Err(bad("give `times`, `count` or `every`".into())),
            _ => return Err(bad("give one of `times`, `count` and `every`".into())),
        };
        options.fitting.check(&given, options.max_width, options.max_height)?;
        Ok(options)
    }

    /// From text pairs (a query string).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<FramesOptions, Error> {
        FramesOptions::from_values(pairs.into_iter().map(|(k, v)| (k, OptionValue::Text(v))))
    }
}

/// `times`: seconds, comma-separated in text (`1,2.5,4`: what JavaScript's String() makes of an
/// array), increasing, at most MAX_SPRITE_FRAMES of them.
fn times(value: OptionValue) -> Result<Vec<f64>, Error> {
    let invalid = || {
        bad(format!(
            "`times` must be increasing seconds (1,2.5,4), at most {MAX_SPRITE_FRAMES} of them, not {}",
            shown(value)
        ))
    };
    let list = match value {
        OptionValue::Number(n) => vec![n],
        OptionValue::Text(s) => s
            .split(',')
            .map(|part| part.trim().parse::<f64>().map_err(|_| invalid()))
            .collect::<Result<Vec<f64>, Error>>()?,
    };
    let in_order = list.windows(2).all(|w| w[0] < w[1]);
    let valid = list.iter().all(|t| t.is_finite() && *t >= 0.0);
    if list.is_empty() || list.len() > MAX_SPRITE_FRAMES as usize || !in_order || !valid {
        return Err(invalid());
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn frames_options() {
        let o = FramesOptions::from_pairs([("times", "0.5, 1,2.25"), ("width", "320"), ("seek", "keyframe")]).unwrap();
        assert_eq!(o.series, Series::Times(vec![0.5, 1.0, 2.25]));
        assert_eq!(
            (o.max_width, o.max_height, o.seek, o.format),
            (320, 0, Seek::Keyframe, None)
        );
        let o = FramesOptions::from_values([
            ("times", OptionValue::Number(3.0)),
            ("format", OptionValue::Text("jpg")),
        ])
        .unwrap();
        assert_eq!((o.series, o.format), (Series::Times(vec![3.0]), Some(Format::Jpeg)));
        let o = FramesOptions::from_pairs([("count", "12")]).unwrap();
        assert_eq!(o.series, Series::Spread(FrameTimes::Count(12)));
        let o = FramesOptions::from_pairs([("every", "2.5")]).unwrap();
        assert_eq!(o.series, Series::Spread(FrameTimes::Every(2.5)));
        let many = (0..401).map(|i| i.to_string()).collect::<Vec<_>>().join(",");
        for pairs in [
            &[][..],
            &[("times", "2,1")],
            &[("times", "1,1")],
            &[("times", "1,,2")],
            &[("times", "-1")],
            &[("times", "1e999")],
            &[("times", "10%")],
            &[("times", many.as_str())],
            &[("count", "0")],
            &[("every", "0")],
            &[("times", "1"), ("count", "2")],
            &[("count", "2"), ("format", "gif")],
            &[("count", "2"), ("at", "1")],
        ] {
            let err = FramesOptions::from_pairs(pairs.iter().copied()).unwrap_err();
            assert_eq!(err.kind, ErrorKind::InvalidArgument, "{pairs:?}");
        }
    }
}
