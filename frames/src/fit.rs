//! Fitting a picture to its box as the options say (`fit`, `focus`, `background`: see
//! `thumbnail_vocabulary::Fitting`), the same in both hosts: the engine makes the picture at the
//! size this asks ([`Sizing::engine_box`]: its usual fit, never enlarged), then [`Sizing::apply`]
//! crops, stretches or pads it to the box exactly. `contain`, the default, is the engine's own
//! picture, untouched. Resampling (only where the engine's picture is not already the size needed:
//! enlarging, stretching, a crop of fractional size) is fast_image_resize's Catmull-Rom.

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use thumbnail_vocabulary::{Fit, Fitting};

use crate::Picture;

/// How pictures of a video are made for one box.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sizing {
    fitting: Fitting,
    /// The box asked for (0: no limit on that side; both set for any fit but `contain`).
    requested: (u32, u32),
    /// The box the engine is asked to fit its picture in.
    engine_box: (u32, u32),
    /// Every picture's size, for a series (see [`Sizing::series`]).
    size: (u32, u32),
}

impl Sizing {
    /// For one picture of a video shown at `display` (its frames' size, sample aspect ratio and
    /// rotation applied), in the box `requested`: with `contain`, the frame's own size fitted in it
    /// (a stream that changes its resolution gives that frame's).
    pub fn still(fitting: Fitting, requested: (u32, u32), display: (u32, u32)) -> Sizing {
        Sizing::new(fitting, requested, display, requested)
    }

    /// For a series of pictures that must all have one size (a sheet's tiles, an animation's
    /// frames, frames counted against a budget): with `contain`, the size `contain_size` gives
    /// for the box (the engine's, from the header's frame size), which then bounds every frame,
    /// whatever size the stream grows to.
    pub fn series<E>(
        fitting: Fitting,
        requested: (u32, u32),
        display: (u32, u32),
        contain_size: impl FnOnce((u32, u32)) -> Result<(u32, u32), E>,
    ) -> Result<Sizing, E> {
        let size = match fitting.fit {
            Fit::Contain => contain_size(requested)?,
            _ => requested,
        };
        let mut sizing = Sizing::new(fitting, requested, display, size);
        if fitting.fit == Fit::Contain {
            sizing.engine_box = size;
        }
        Ok(sizing)
    }

    fn new(fitting: Fitting, requested: (u32, u32), display: (u32, u32), size: (u32, u32)) -> Sizing {
        let (bw, bh) = (f64::from(requested.0), f64::from(requested.1));
        let (dw, dh) = (f64::from(display.0.max(1)), f64::from(display.1.max(1)));
        let engine_box = match fitting.fit {
            Fit::Contain | Fit::Pad => requested,
            // As large as covering the box needs, or the whole picture if that is less.
            Fit::Cover | Fit::Fill => {
                let scale = (bw / dw).max(bh / dh);
                if scale >= 1.0 {
                    display
                } else {
                    ((dw * scale).ceil() as u32, (dh * scale).ceil() as u32)
                }
            }
        };
        Sizing {
            fitting,
            requested,
            engine_box,
            size,
        }
    }

    /// The box to ask the engine for.
    pub fn engine_box(&self) -> (u32, u32) {
        self.engine_box
    }

    /// The size of every picture of a series (for a still: the box asked for).
    pub fn size(&self) -> (u32, u32) {
        self.size
    }

    /// The engine's picture made to fill the box as the options say.
    pub fn apply(&self, picture: Picture) -> Picture {
        let (bw, bh) = self.requested;
        let (pw, ph) = (picture.width, picture.height);
        if self.fitting.fit == Fit::Contain || pw == 0 || ph == 0 {
            return picture;
        }
        let rgba = match self.fitting.fit {
            Fit::Contain => unreachable!(),
            Fit::Fill => resize(&picture, (0.0, 0.0, f64::from(pw), f64::from(ph)), (bw, bh)),
            Fit::Cover => {
                // The largest part of the box's shape, placed at the focus.
                let (pw_f, ph_f) = (f64::from(pw), f64::from(ph));
                let (cw, ch) = if pw_f * f64::from(bh) > ph_f * f64::from(bw) {
                    (ph_f * f64::from(bw) / f64::from(bh), ph_f)
                } else {
                    (pw_f, pw_f * f64::from(bh) / f64::from(bw))
                };
                let (fx, fy) = self.fitting.focus;
                let (left, top) = ((pw_f - cw) * fx, (ph_f - ch) * fy);
                if (cw - f64::from(bw)).abs() < 0.5 && (ch - f64::from(bh)).abs() < 0.5 {
                    // The engine made it the box's size on one side (so the box fits in it): a
                    // crop, no resampling.
                    let x = (left.round() as u32).min(pw - bw);
                    let y = (top.round() as u32).min(ph - bh);
                    crop(&picture, x, y, bw, bh)
                } else {
                    resize(&picture, (left, top, cw, ch), (bw, bh))
                }
            }
            Fit::Pad => {
                let scale = (f64::from(bw) / f64::from(pw)).min(f64::from(bh) / f64::from(ph));
                let inner = (
                    ((f64::from(pw) * scale).round() as u32).clamp(1, bw),
                    ((f64::from(ph) * scale).round() as u32).clamp(1, bh),
                );
                let inside = if inner == (pw, ph) {
                    picture.rgba.clone()
                } else {
                    resize(&picture, (0.0, 0.0, f64::from(pw), f64::from(ph)), inner)
                };
                pad(&inside, inner, (bw, bh), self.fitting.background)
            }
        };
        Picture {
            width: bw,
            height: bh,
            time: picture.time,
            rgba,
        }
    }
}

/// The part `(left, top, width, height)` of the picture, resampled to `size`.
fn resize(picture: &Picture, part: (f64, f64, f64, f64), size: (u32, u32)) -> Vec<u8> {
    let src = ImageRef::new(picture.width, picture.height, &picture.rgba, PixelType::U8x4)
        .expect("a picture's RGBA is width x height x 4 bytes");
    let mut dst = Image::new(size.0, size.1, PixelType::U8x4);
    let options = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(FilterType::CatmullRom))
        .crop(part.0, part.1, part.2, part.3);
    Resizer::new()
        .resize(&src, &mut dst, &options)
        .expect("same pixel types, a crop inside the picture");
    dst.into_vec()
}

/// The `w` x `h` pixels at (x, y).
fn crop(picture: &Picture, x: u32, y: u32, w: u32, h: u32) -> Vec<u8> {
    let stride = picture.width as usize * 4;
    let mut out = Vec::with_capacity(w as usize * h as usize * 4);
    for row in y..y + h {
        let start = row as usize * stride + x as usize * 4;
        out.extend_from_slice(&picture.rgba[start..start + w as usize * 4]);
    }
    out
}

/// `inside` (of size `inner`) centred on a `size` picture of `background`.
fn pad(inside: &[u8], inner: (u32, u32), size: (u32, u32), background: [u8; 4]) -> Vec<u8> {
    let (w, h) = (size.0 as usize, size.1 as usize);
    let mut out: Vec<u8> = background.iter().copied().cycle().take(w * h * 4).collect();
    let (x0, y0) = (((size.0 - inner.0) / 2) as usize, ((size.1 - inner.1) / 2) as usize);
    let row_bytes = inner.0 as usize * 4;
    for row in 0..inner.1 as usize {
        let dst = ((y0 + row) * w + x0) * 4;
        out[dst..dst + row_bytes].copy_from_slice(&inside[row * row_bytes..(row + 1) * row_bytes]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A picture whose every pixel says where it is: red across, green down.
    fn gradient(width: u32, height: u32) -> Picture {
        let mut rgba = Vec::new();
        for y in 0..height {
            for x in 0..width {
                rgba.extend([(x * 255 / (width - 1)) as u8, (y * 255 / (height - 1)) as u8, 0, 255]);
            }
        }
        Picture {
            width,
            height,
            time: 1.0,
            rgba,
        }
    }

    fn fitting(fit: Fit) -> Fitting {
        Fitting {
            fit,
            ..Fitting::default()
        }
    }

    fn pixel(p: &Picture, x: u32, y: u32) -> [u8; 4] {
        let i = ((y * p.width + x) * 4) as usize;
        p.rgba[i..i + 4].try_into().unwrap()
    }

    #[test]
    fn contain_is_the_engine_s_picture() {
        let s = Sizing::still(fitting(Fit::Contain), (100, 0), (320, 240));
        assert_eq!(s.engine_box(), (100, 0));
        let p = gradient(100, 75);
        assert_eq!(s.apply(p.clone()), p);
        // A series: every frame in the size the header's gives, whatever the stream grows to.
        let s = Sizing::series(fitting(Fit::Contain), (100, 0), (320, 240), |_| Ok::<_, ()>((100, 75))).unwrap();
        assert_eq!((s.engine_box(), s.size()), ((100, 75), (100, 75)));
    }

    #[test]
    fn cover_crops_at_the_focus_without_resampling() {
        // 320x240 into 100x100: the engine makes 133x100, of which 100x100 are kept.
        let s = Sizing::series(fitting(Fit::Cover), (100, 100), (320, 240), |_| Err(())).unwrap();
        assert_eq!((s.engine_box(), s.size()), ((134, 100), (100, 100)));
        let made = gradient(133, 100);
        let centre = s.apply(made.clone());
        assert_eq!((centre.width, centre.height, centre.rgba.len()), (100, 100, 40_000));
        assert_eq!(pixel(&centre, 0, 0), pixel(&made, 17, 0));
        let left = Sizing::still(
            Fitting {
                focus: (0.0, 0.5),
                ..fitting(Fit::Cover)
            },
            (100, 100),
            (320, 240),
        );
        assert_eq!(pixel(&left.apply(made.clone()), 0, 0), pixel(&made, 0, 0));
        let right = Sizing::still(
            Fitting {
                focus: (1.0, 0.5),
                ..fitting(Fit::Cover)
            },
            (100, 100),
            (320, 240),
        );
        assert_eq!(pixel(&right.apply(made.clone()), 99, 0), pixel(&made, 132, 0));
    }

    #[test]
    fn cover_and_fill_enlarge_a_small_picture_to_the_box() {
        // A 64x48 video in 200x100: the whole picture, resampled.
        let s = Sizing::still(fitting(Fit::Cover), (200, 100), (64, 48));
        assert_eq!(s.engine_box(), (64, 48));
        let out = s.apply(gradient(64, 48));
        assert_eq!((out.width, out.height, out.rgba.len()), (200, 100, 80_000));
        // The focus (centre) kept: the middle row's green is mid-way.
        assert!(
            (i32::from(pixel(&out, 100, 50)[1]) - 128).abs() < 12,
            "{:?}",
            pixel(&out, 100, 50)
        );
        let fill = Sizing::still(fitting(Fit::Fill), (200, 100), (64, 48)).apply(gradient(64, 48));
        assert_eq!((fill.width, fill.height), (200, 100));
        // Stretched: the corners are the picture's corners.
        assert!(pixel(&fill, 0, 0)[0] < 8 && pixel(&fill, 199, 99)[0] > 247 && pixel(&fill, 199, 99)[1] > 247);
    }

    #[test]
    fn pad_centres_the_picture_on_the_background() {
        let s = Sizing::still(
            Fitting {
                background: [0, 0, 255, 255],
                ..fitting(Fit::Pad)
            },
            (200, 200),
            (320, 240),
        );
        assert_eq!(s.engine_box(), (200, 200));
        let out = s.apply(gradient(200, 150));
        assert_eq!((out.width, out.height), (200, 200));
        assert_eq!(pixel(&out, 0, 0), [0, 0, 255, 255]);
        assert_eq!(pixel(&out, 199, 24), [0, 0, 255, 255]);
        assert_eq!(pixel(&out, 0, 25), [0, 0, 0, 255]); // the picture's first row
        assert_eq!(pixel(&out, 0, 175), [0, 0, 255, 255]);
        // Transparent by default; a small picture is enlarged to fit.
        let small = Sizing::still(fitting(Fit::Pad), (200, 200), (64, 48)).apply(gradient(64, 48));
        assert_eq!((small.width, small.height), (200, 200));
        assert_eq!(pixel(&small, 0, 0), [0, 0, 0, 0]);
        assert_eq!(pixel(&small, 0, 100)[3], 255);
    }
}
