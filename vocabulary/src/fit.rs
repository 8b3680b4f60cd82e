//! How a picture fills the box `width` x `height`, as the hosted thumbnail APIs offer it: the same
//! three options (`fit`, `focus`, `background`) for a thumbnail, a contact sheet's tiles and a
//! series' frames, in the query and in the JS object. The frames crate does what they say.

use std::str::FromStr;

use crate::options::{bad, shown, word, OptionValue};
use crate::Error;

/// The names of the fitting options, in the order the messages list them.
pub const FIT_OPTION_NAMES: [&str; 3] = ["fit", "focus", "background"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Fit {
    /// Within the box, aspect kept, never enlarged (the default: what every host always made).
    #[default]
    Contain,
    /// The box exactly, filled: scaled to cover it, what lies outside cropped (`focus` keeps its part).
    Cover,
    /// The box exactly, stretched to it.
    Fill,
    /// The box exactly: the picture scaled to fit inside it, centred, the rest `background`.
    Pad,
}

impl Fit {
    pub fn name(self) -> &'static str {
        match self {
            Fit::Contain => "contain",
            Fit::Cover => "cover",
            Fit::Fill => "fill",
            Fit::Pad => "pad",
        }
    }
}

impl FromStr for Fit {
    type Err = Error;

    fn from_str(s: &str) -> Result<Fit, Error> {
        match s.trim() {
            "contain" => Ok(Fit::Contain),
            "cover" => Ok(Fit::Cover),
            "fill" => Ok(Fit::Fill),
            "pad" => Ok(Fit::Pad),
            _ => Err(bad(format!(
                "`fit` must be contain, cover, fill or pad, not {}",
                shown(OptionValue::Text(s))
            ))),
        }
    }
}

/// The fitting options as given.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Fitting {
    pub fit: Fit,
    /// For `cover`: the point of the picture (0 to 1 across, 0 to 1 down) whose part is kept; the
    /// centre by default.
    pub focus: (f64, f64),
    /// For `pad`: the colour around the picture, RGBA. Default: transparent, which formats
    /// without alpha (JPEG, GIF) show black.
    pub background: [u8; 4],
}

impl Default for Fitting {
    fn default() -> Self {
        Fitting {
            fit: Fit::Contain,
            focus: (0.5, 0.5),
            background: [0, 0, 0, 0],
        }
    }
}

impl Fitting {
    /// Takes the option `name` if it is one of the fitting options: `None` when it is not.
    pub(crate) fn take(&mut self, name: &str, value: OptionValue) -> Option<Result<(), Error>> {
        let done = match name {
            "fit" => word(value).map(|fit| self.fit = fit),
            "focus" => focus(value).map(|focus| self.focus = focus),
            "background" => background(value).map(|colour| self.background = colour),
            _ => return None,
        };
        Some(done)
    }

    /// Checks the options together, once all are read: a fit other than `contain` needs the whole
    /// box, `focus` is for `cover` and `background` for `pad` (given elsewhere, they would do
    /// nothing: a typo's symptom).
    pub(crate) fn check(&self, given: &[&str], width: u32, height: u32) -> Result<(), Error> {
        if self.fit != Fit::Contain && (width == 0 || height == 0) {
            return Err(bad(format!(
                "`fit={}` fills the box exactly: give both `width` and `height`",
                self.fit.name()
            )));
        }
        if given.contains(&"focus") && self.fit != Fit::Cover {
            return Err(bad(
                "`focus` is for fit=cover (it picks the part of the picture kept)".into()
            ));
        }
        if given.contains(&"background") && self.fit != Fit::Pad {
            return Err(bad("`background` is for fit=pad (the colour around the picture)".into()));
        }
        Ok(())
    }
}

/// `x,y`, each from 0 to 1.
fn focus(value: OptionValue) -> Result<(f64, f64), Error> {
    let invalid = || {
        bad(format!(
            "`focus` must be two numbers from 0 to 1, across and down (0.5,0.3), not {}",
            shown(value)
        ))
    };
    let OptionValue::Text(s) = value else {
        return Err(invalid());
    };
    let mut parts = s.split(',').map(|p| p.trim().parse::<f64>());
    match (parts.next(), parts.next(), parts.next()) {
        (Some(Ok(x)), Some(Ok(y)), None) if (0.0..=1.0).contains(&x) && (0.0..=1.0).contains(&y) => Ok((x, y)),
        _ => Err(invalid()),
    }
}

/// A colour: `rrggbb` or `rrggbbaa` in hex, `#` before it or not, or `transparent`.
fn background(value: OptionValue) -> Result<[u8; 4], Error> {
    let invalid = || {
        bad(format!(
            "`background` must be a colour in hex (ffffff, #00000080) or transparent, not {}",
            shown(value)
        ))
    };
    let OptionValue::Text(s) = value else {
        return Err(invalid());
    };
    let s = s.trim();
    if s.eq_ignore_ascii_case("transparent") {
        return Ok([0, 0, 0, 0]);
    }
    let hex = s.strip_prefix('#').unwrap_or(s);
    if !(hex.len() == 6 || hex.len() == 8) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid());
    }
    let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| invalid());
    Ok([
        byte(0)?,
        byte(2)?,
        byte(4)?,
        if hex.len() == 8 { byte(6)? } else { 255 },
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(pairs: &[(&str, &str)]) -> Result<Fitting, Error> {
        let mut fitting = Fitting::default();
        for &(name, value) in pairs {
            fitting
                .take(name, OptionValue::Text(value))
                .expect("a fitting option")?;
        }
        Ok(fitting)
    }

    #[test]
    fn fitting_options() {
        let f = read(&[("fit", "cover"), ("focus", "0.25, 1")]).unwrap();
        assert_eq!((f.fit, f.focus), (Fit::Cover, (0.25, 1.0)));
        assert_eq!(
            read(&[("background", "#ff8000")]).unwrap().background,
            [255, 128, 0, 255]
        );
        assert_eq!(read(&[("background", "00000080")]).unwrap().background, [0, 0, 0, 128]);
        assert_eq!(read(&[("background", "transparent")]).unwrap().background, [0, 0, 0, 0]);
        for bad in [
            ("fit", "crop"),
            ("focus", "0.5"),
            ("focus", "1.5,0"),
            ("focus", "a,b"),
            ("focus", "0,0,0"),
            ("background", "red"),
            ("background", "#fff"),
            ("background", "ff00zz"),
        ] {
            assert!(read(&[bad]).is_err(), "{bad:?}");
        }
        assert!(Fitting::default().take("width", OptionValue::Number(1.0)).is_none());
    }

    #[test]
    fn fitting_needs_the_box_and_its_own_fit() {
        let cover = read(&[("fit", "cover")]).unwrap();
        assert!(cover.check(&["fit"], 100, 100).is_ok());
        let err = cover.check(&["fit"], 100, 0).unwrap_err();
        assert!(err.message.contains("both `width` and `height`"), "{err}");
        assert!(Fitting::default().check(&[], 100, 0).is_ok());
        assert!(cover.check(&["fit", "background"], 100, 100).is_err());
        let pad = read(&[("fit", "pad")]).unwrap();
        assert!(pad.check(&["fit", "focus"], 100, 100).is_err());
        assert!(pad.check(&["fit", "background"], 100, 100).is_ok());
    }
}
