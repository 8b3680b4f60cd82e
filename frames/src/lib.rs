//! Many frames of one video, the same way in every host (the server's engine workers and the
//! browser worker call this with their own engine):
//! - [`best_time`]: the most representative frame for `at: 'auto'`, as FFmpeg's `thumbnail` filter
//!   and ffmpegthumbnailer choose one: small frames at [`CANDIDATES`] times over 10–33 % of the
//!   video (then 33–66 %, 66–95 % while all of them are dark or blank), dark, blank and faded ones
//!   set aside, then the frame whose colour histogram is closest to their mean.
//!
//! - [`sprite`]: a contact sheet, frames tiled in one image, and its WebVTT thumbnails track;
//! - [`animation`]: an animation (the GIF here; the server's animated WebP through libwebp);
//! - [`series`]: the times of a series of frames (`t.frames()`, POST /frames);
//! - [`webp`]: an animated WebP from the browser canvas's still WebP frames;
//! - [`png`]: a still frame as a PNG, the same bytes in both hosts;
//! - [`budget`]: the pixels a job holds at once, counted before they are made;
//! - [`placeholder`]: a still's ThumbHash and average colour, for a page to show while it loads.
//!
//! The frames come from the host's engine as [`Picture`]s, asked for at increasing times (its
//! `next_frame`: each packet decoded at most once); the loops that ask for them are here, once.

pub mod animation;
pub mod budget;
pub mod fit;
pub mod placeholder;
pub mod png;
pub mod series;
pub mod sprite;
pub mod webp;

/// A frame a host's engine made: its size, its own time and its RGBA.
#[derive(Debug, Clone, PartialEq)]
pub struct Picture {
    pub width: u32,
    pub height: u32,
    pub time: f64,
    pub rgba: Vec<u8>,
}

/// Why making something of many frames stopped: the host's engine failed (its own error), what
/// was asked cannot be made (a sheet wider than 16384, ...: an invalid argument in every host), or
/// it would hold more pixels than the job's budget allows (`too_large` in every host).
#[derive(Debug, Clone, PartialEq)]
pub enum Failed<E> {
    Engine(E),
    Refused(String),
    TooLarge(String),
}

/// How many candidate frames are looked at.
pub const CANDIDATES: usize = 24;
/// The box the candidate frames are made in.
pub const PICK_SIDE: u32 = 64;
/// The shares of the video the candidates are taken from (after intros, before the end), in turn
/// while every candidate of one is dark or blank.
const WINDOWS: [(f64, f64); 3] = [(0.10, 0.33), (0.33, 0.66), (0.66, 0.95)];
/// Without a known duration, the candidates are taken from the first this many seconds.
const UNKNOWN_DURATION_WINDOW: f64 = 10.0;
/// Bins per colour channel.
const BINS: usize = 16;
/// A frame darker than this mean luma (0–255) is set aside as black.
const DARK: f64 = 24.0;
/// A frame whose luma varies less than this (standard deviation) is set aside as blank.
const BLANK: f64 = 6.0;
/// A frame this much dimmer than the brightest candidate is set aside as fading.
const FADED: f64 = 0.85;
/// Distances this close to the smallest (5 %, or this much: frames of one shot differ by less)
/// count as equal, and the earliest such frame wins, so that rounding differences between hosts
/// (wasm and native swscale) do not change the choice.
const TIE: (f64, f64) = (1.05, 5e-4);

/// The times to look at in `window` (shares of the duration) of a video, in increasing order.
fn window_times(duration: Option<f64>, window: (f64, f64)) -> Vec<f64> {
    let (from, to) = match duration {
        Some(d) if d.is_finite() && d > 0.0 => (d * window.0, d * window.1),
        _ => (
            UNKNOWN_DURATION_WINDOW * window.0 / WINDOWS[0].1,
            UNKNOWN_DURATION_WINDOW * window.1 / WINDOWS[0].1,
        ),
    };
    let step = (to - from) / (CANDIDATES - 1) as f64;
    (0..CANDIDATES).map(|i| from + step * i as f64).collect()
}

/// What is kept of a candidate frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The frame's own time (seconds).
    pub time: f64,
    /// Share of pixels per bin, R then G then B.
    histogram: Vec<f64>,
    luma_mean: f64,
    luma_deviation: f64,
}

impl Candidate {
    /// Neither black nor blank (a uniform picture).
    fn has_a_picture(&self) -> bool {
        self.luma_mean >= DARK && self.luma_deviation >= BLANK
    }

    /// Describes an RGBA frame made at `time`.
    pub fn new(time: f64, rgba: &[u8]) -> Candidate {
        let pixels = (rgba.len() / 4).max(1) as f64;
        let mut histogram = vec![0.0; 3 * BINS];
        let (mut sum, mut sum_sq) = (0.0, 0.0);
        for p in rgba.chunks_exact(4) {
            for c in 0..3 {
                histogram[c * BINS + usize::from(p[c]) * BINS / 256] += 1.0;
            }
            let y = 0.299 * f64::from(p[0]) + 0.587 * f64::from(p[1]) + 0.114 * f64::from(p[2]);
            sum += y;
            sum_sq += y * y;
        }
        histogram.iter_mut().for_each(|h| *h /= pixels);
        let luma_mean = sum / pixels;
        let luma_deviation = (sum_sq / pixels - luma_mean * luma_mean).max(0.0).sqrt();
        Candidate {
            time,
            histogram,
            luma_mean,
            luma_deviation,
        }
    }
}

/// The index of the most representative of `candidates` (in time order); `None` if there are none.
pub fn most_representative(candidates: &[Candidate]) -> Option<usize> {
    let brightest = candidates.iter().map(|c| c.luma_mean).fold(0.0, f64::max);
    let good: Vec<usize> = (0..candidates.len())
        .filter(|&i| candidates[i].has_a_picture() && candidates[i].luma_mean >= FADED * brightest)
        .collect();
    // All dark or blank (a black video, a slide): any is as good; the first.
    let pool = if good.is_empty() {
        (0..candidates.len()).collect()
    } else {
        good
    };
    let mut mean = vec![0.0; 3 * BINS];
    for &i in &pool {
        for (m, h) in mean.iter_mut().zip(&candidates[i].histogram) {
            *m += h / pool.len() as f64;
        }
    }
    let distance = |i: usize| -> f64 {
        candidates[i]
            .histogram
            .iter()
            .zip(&mean)
            .map(|(h, m)| (h - m) * (h - m))
            .sum()
    };
    let smallest = pool.iter().map(|&i| distance(i)).fold(f64::INFINITY, f64::min);
    pool.into_iter().find(|&i| distance(i) <= smallest * TIE.0 + TIE.1)
}

/// The times [`best_time`] asks for, window by window (it asks for a window's only while every
/// frame of the ones before is dark or blank): for a host that makes frames in batches.
pub fn candidate_windows(duration: Option<f64>) -> Vec<Vec<f64>> {
    WINDOWS.iter().map(|&window| window_times(duration, window)).collect()
}

/// The time of the most representative frame, looking at the frames `next` makes: `next(t)` gives
/// the first frame at or after `t`, fitted in [`PICK_SIDE`] pixels, and is asked for increasing times.
pub fn best_time<E>(duration: Option<f64>, mut next: impl FnMut(f64) -> Result<Picture, E>) -> Result<f64, E> {
    let mut first_window = None;
    for times in candidate_windows(duration) {
        let mut candidates: Vec<Candidate> = Vec::with_capacity(CANDIDATES);
        for t in times {
            let picture = next(t)?;
            // Past the end, or the same frame again (a short video): nothing new to look at.
            if candidates.last().is_some_and(|c| c.time >= picture.time) {
                continue;
            }
            candidates.push(Candidate::new(picture.time, &picture.rgba));
        }
        if candidates.iter().any(Candidate::has_a_picture) {
            return Ok(most_representative(&candidates).map_or(0.0, |i| candidates[i].time));
        }
        first_window.get_or_insert(candidates);
    }
    // Dark or blank all through (a black video, a slide): the first window's choice.
    let candidates = first_window.unwrap_or_default();
    Ok(most_representative(&candidates).map_or(0.0, |i| candidates[i].time))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 64x48 picture (the RGBA's length aside) made at `time`.
    fn at(time: f64, rgba: Vec<u8>) -> Picture {
        Picture {
            width: 64,
            height: 48,
            time,
            rgba,
        }
    }

    fn flat(value: u8, pixels: usize) -> Vec<u8> {
        [value, value, value, 255].repeat(pixels)
    }

    /// A picture with some detail, dimmed by `level` (0–1).
    fn picture(level: f64) -> Vec<u8> {
        (0..64 * 48)
            .flat_map(|i| {
                let v = |k: usize| ((((i * k) % 251) as f64) * level) as u8;
                [v(7), v(13), v(29), 255]
            })
            .collect()
    }

    #[test]
    fn the_window_is_ten_to_thirty_three_percent() {
        let times = window_times(Some(100.0), WINDOWS[0]);
        assert_eq!(times.len(), CANDIDATES);
        assert!((times[0] - 10.0).abs() < 1e-9 && (times[CANDIDATES - 1] - 33.0).abs() < 1e-9);
        assert!(times.windows(2).all(|w| w[0] < w[1]));
        let unknown = window_times(None, WINDOWS[0]);
        assert!(unknown[0] > 0.0 && unknown[CANDIDATES - 1] <= UNKNOWN_DURATION_WINDOW + 1e-9);
    }

    #[test]
    fn a_black_first_window_moves_on_to_the_next() {
        // Black for the first 40 %, a picture after.
        let time = best_time(Some(100.0), |t| {
            Ok::<_, ()>(at(t, if t < 40.0 { flat(0, 64 * 48) } else { picture(1.0) }))
        })
        .unwrap();
        assert!(time >= 40.0, "{time}");
        // Black all through: a time from the first window.
        let time = best_time(Some(100.0), |t| Ok::<_, ()>(at(t, flat(0, 16)))).unwrap();
        assert!((10.0..=33.0).contains(&time), "{time}");
    }

    #[test]
    fn black_blank_and_faded_frames_are_set_aside() {
        let mut candidates = vec![
            Candidate::new(1.0, &flat(0, 64 * 48)),   // black
            Candidate::new(2.0, &flat(200, 64 * 48)), // blank
            Candidate::new(3.0, &picture(0.4)),       // fading in
        ];
        candidates.extend((4..8).map(|t| Candidate::new(f64::from(t), &picture(1.0))));
        let best = most_representative(&candidates).unwrap();
        assert!(best >= 3, "picked {best}");
        // All black: the first.
        let black: Vec<_> = (0..4).map(|t| Candidate::new(f64::from(t), &flat(0, 16))).collect();
        assert_eq!(most_representative(&black), Some(0));
        assert_eq!(most_representative(&[]), None);
    }

    #[test]
    fn the_frame_closest_to_the_mean_wins() {
        // Three frames of one scene and one of another: one of the three.
        let scene = picture(1.0);
        // Another shot: reds, with detail.
        let other: Vec<u8> = scene
            .chunks(4)
            .flat_map(|p| [200 + p[0] % 50, p[1] % 40, p[2] % 30, 255])
            .collect();
        let candidates = vec![
            Candidate::new(0.0, &other),
            Candidate::new(1.0, &scene),
            Candidate::new(2.0, &scene),
            Candidate::new(3.0, &scene),
        ];
        assert_eq!(most_representative(&candidates), Some(1));
    }

    #[test]
    fn best_time_asks_increasing_times_and_skips_repeats() {
        let mut asked = Vec::new();
        let time = best_time(Some(2.0), |t| {
            asked.push(t);
            // a 0.5 s video: every time past it gives its last frame
            Ok::<_, ()>(at(t.min(0.5), picture(1.0)))
        })
        .unwrap();
        assert!(asked.windows(2).all(|w| w[0] < w[1]));
        assert!(time <= 0.5);
    }
}
