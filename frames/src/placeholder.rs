//! What a page shows while a thumbnail loads, made of the thumbnail's own pixels in both hosts:
//! its ThumbHash (a 20-30 byte sketch of its colours, shape and aspect ratio, as evanw/thumbhash
//! defines it; base64 as text) and its average colour (`#rrggbb`).

use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// The side ThumbHash is made from at most (its encoder refuses larger).
const SKETCH_SIDE: u32 = 100;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Placeholder {
    /// The ThumbHash, base64 (standard alphabet, padded).
    pub thumbhash: String,
    /// `#rrggbb`: the mean of the picture's pixels.
    pub average_color: String,
}

impl Placeholder {
    /// The placeholder of an RGBA picture (not premultiplied) of `width` x `height`.
    pub fn of(width: u32, height: u32, rgba: &[u8]) -> Placeholder {
        let (w, h, small) = shrink(width.max(1), height.max(1), rgba);
        let hash = thumbhash::rgba_to_thumb_hash(w as usize, h as usize, &small);
        let mut sum = [0u64; 3];
        for pixel in rgba.chunks_exact(4) {
            for (s, v) in sum.iter_mut().zip(pixel) {
                *s += u64::from(*v);
            }
        }
        let n = (rgba.len() / 4).max(1) as u64;
        let [r, g, b] = sum.map(|s| ((s + n / 2) / n) as u8);
        Placeholder {
            thumbhash: base64::engine::general_purpose::STANDARD.encode(hash),
            average_color: format!("#{r:02x}{g:02x}{b:02x}"),
        }
    }
}

/// `format=thumbhash`'s answer in both hosts (the server's body, the browser's `blob`): the
/// placeholder and the frame it was made of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlaceholderAnswer {
    #[serde(flatten)]
    pub placeholder: Placeholder,
    /// The frame's size and time (seconds).
    pub width: u32,
    pub height: u32,
    pub time: f64,
}

impl PlaceholderAnswer {
    /// The answer for the frame `rgba` of `width` x `height` at `time`, as JSON.
    pub fn json(width: u32, height: u32, time: f64, rgba: &[u8]) -> Vec<u8> {
        let answer = PlaceholderAnswer {
            placeholder: Placeholder::of(width, height, rgba),
            width,
            height,
            time,
        };
        serde_json::to_vec(&answer).expect("strings and numbers")
    }
}

/// The picture fitted in 100 x 100 (each pixel the mean of the source pixels it covers), as the
/// encoder takes it; one that fits already as it is.
fn shrink(width: u32, height: u32, rgba: &[u8]) -> (u32, u32, Vec<u8>) {
    if width <= SKETCH_SIDE && height <= SKETCH_SIDE {
        return (width, height, rgba.to_vec());
    }
    let scale = f64::from(SKETCH_SIDE) / f64::from(width.max(height));
    let w = ((f64::from(width) * scale).round() as u32).clamp(1, SKETCH_SIDE);
    let h = ((f64::from(height) * scale).round() as u32).clamp(1, SKETCH_SIDE);
    let mut out = Vec::with_capacity((w * h * 4) as usize);
    for y in 0..h {
        let (y0, y1) = span(y, h, height);
        for x in 0..w {
            let (x0, x1) = span(x, w, width);
            let mut sum = [0u64; 4];
            for sy in y0..y1 {
                let row = &rgba[(sy * width + x0) as usize * 4..(sy * width + x1) as usize * 4];
                for pixel in row.chunks_exact(4) {
                    for (s, v) in sum.iter_mut().zip(pixel) {
                        *s += u64::from(*v);
                    }
                }
            }
            let n = u64::from((x1 - x0) * (y1 - y0));
            out.extend(sum.map(|s| ((s + n / 2) / n) as u8));
        }
    }
    (w, h, out)
}

/// The source rows (or columns) output row `i` of `out` covers among `of`: at least one.
fn span(i: u32, out: u32, of: u32) -> (u32, u32) {
    let start = (u64::from(i) * u64::from(of) / u64::from(out)) as u32;
    let end = ((u64::from(i) + 1) * u64::from(of) / u64::from(out)) as u32;
    (start, end.max(start + 1).min(of))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A picture: left half red, right half blue, `w` x `h`.
    fn halves(w: u32, h: u32) -> Vec<u8> {
        (0..w * h)
            .flat_map(|i| {
                if i % w < w / 2 {
                    [200, 30, 30, 255]
                } else {
                    [30, 30, 200, 255]
                }
            })
            .collect()
    }

    #[test]
    fn its_thumbhash_draws_the_picture_back() {
        let (w, h) = (320, 180);
        let picture = halves(w, h);
        let placeholder = Placeholder::of(w, h, &picture);
        assert_eq!(placeholder.average_color, "#731e73");
        let hash = base64::engine::general_purpose::STANDARD
            .decode(&placeholder.thumbhash)
            .unwrap();
        assert!(hash.len() <= 30, "{} bytes", hash.len());
        let ratio = thumbhash::thumb_hash_to_approximate_aspect_ratio(&hash).unwrap();
        assert!((ratio - 16.0 / 9.0).abs() < 0.2, "aspect ratio {ratio}");
        let (dw, dh, drawn) = thumbhash::thumb_hash_to_rgba(&hash).unwrap();
        // Its left quarter is red, its right quarter blue.
        let at = |x: usize, y: usize| &drawn[(y * dw + x) * 4..(y * dw + x) * 4 + 3];
        let (left, right) = (at(dw / 8, dh / 2), at(dw - 1 - dw / 8, dh / 2));
        assert!(left[0] > 150 && left[2] < 90, "{left:?}");
        assert!(right[2] > 150 && right[0] < 90, "{right:?}");
    }

    #[test]
    fn small_and_odd_pictures_are_taken_as_they_are() {
        for (w, h) in [(1, 1), (2, 80), (100, 100), (101, 3), (1, 4000)] {
            let picture = halves(w, h);
            let p = Placeholder::of(w, h, &picture);
            assert!(!p.thumbhash.is_empty() && p.average_color.len() == 7, "{w}x{h}: {p:?}");
        }
    }
}
