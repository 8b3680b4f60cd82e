//! Animated previews: frames at a steady rate from a start time, as one GIF with one palette for
//! all frames (NeuQuant, as FFmpeg's palettegen makes one for the whole clip), error-diffusion
//! dithering (paletteuse dithers too) and pixels unchanged from the frame before left transparent
//! (as FFmpeg's GIF encoder does), looping by default. The tutorial's
//! `fps=5,scale=720:-1,...,palettegen,paletteuse` GIF, in Rust, for both hosts.

use crate::budget::{within, PixelBudget};
use crate::{Failed, Picture};

/// How much of a pixel's quantisation error is carried to its neighbours (Floyd–Steinberg: 1).
/// Half keeps gradients smooth without the full diffusion's noise, which costs bytes and, on video
/// frames, PSNR: on the tutorial's GIF of a 1080p clip, 1.0 gave 38.1 dB at 1.15x ffmpeg's size,
/// 0.75 38.8 dB at 1.01x, 0.5 (with NeuQuant sampling 3) 40.2 dB at 0.92x; ffmpeg 39.6 dB. (With
/// the palette lookups cached at 6 bits a channel, [`Nearest`]: 40.0 dB at 0.78x.)
const DIFFUSION: f32 = 0.5;

/// The palette index that means "as in the frame before" (transparent over it).
const UNCHANGED: u8 = 255;

/// Most frames in one animation.
pub const MAX_FRAMES: usize = 150;

/// The times of the animation's frames: `fps` a second for `duration` seconds from `start`, not
/// past the video's end (but at least one frame).
pub fn animation_times(start: f64, duration: f64, fps: f64, video_duration: Option<f64>) -> Vec<f64> {
    let end = video_duration.map_or(start + duration, |d| d.min(start + duration));
    let step = 1.0 / fps;
    let mut times: Vec<f64> = (0..MAX_FRAMES)
        .map(|i| start + step * i as f64)
        .take_while(|t| *t < end - 1e-9)
        .collect();
    if times.is_empty() {
        times.push(start.min(video_duration.unwrap_or(start)));
    }
    times
}

/// Pixels the palette is learnt from, at most (sampled evenly across all frames).
const PALETTE_SAMPLE: usize = 1 << 20;
/// NeuQuant's sampling factor: 1 (best) to 30 (fastest).
const NEUQUANT_SAMPLING: i32 = 3;

/// An animation: its first frame's size and time, and the encoded file (GIF, animated WebP).
pub struct Animation {
    pub width: u32,
    pub height: u32,
    pub time: f64,
    pub bytes: Vec<u8>,
}

/// The frames `next` makes at `times` (asked in order: each packet decoded at most once) that an
/// animation shows, each asked in the box `size` (the host's engine's size for the video's
/// frames, `te_output_size`): those of the first frame's size (a frame of another size, after a
/// resolution change, is left out). All of them, and one more for the encoder's work, are
/// counted in the `budget` before the first is made.
pub fn animation_pictures<E>(
    times: &[f64],
    size: (u32, u32),
    budget: &mut PixelBudget,
    mut next: impl FnMut(f64) -> Result<Picture, E>,
) -> Result<Vec<Picture>, Failed<E>> {
    budget.reserve_pictures(times.len() + 1, size, || {
        format!("an animation of {} frames of {}x{}", times.len(), size.0, size.1)
    })?;
    let mut pictures = Vec::with_capacity(times.len());
    for &t in times {
        let picture = next(t).map_err(Failed::Engine)?;
        within(picture.width, picture.height, size)?;
        pictures.push(picture);
    }
    let first = pictures
        .first()
        .ok_or_else(|| Failed::Refused("no frames to animate".into()))?;
    let first = (first.width, first.height);
    pictures.retain(|p| (p.width, p.height) == first);
    Ok(pictures)
}

/// The animation of the frames `next` makes at `times` ([`animation_pictures`]), encoded by
/// `encode` (the GIF below, or a host's own encoder).
pub fn make_animation<E>(
    times: &[f64],
    size: (u32, u32),
    budget: &mut PixelBudget,
    next: impl FnMut(f64) -> Result<Picture, E>,
    encode: impl FnOnce(&[Picture]) -> Result<Vec<u8>, String>,
) -> Result<Animation, Failed<E>> {
    let pictures = animation_pictures(times, size, budget, next)?;
    let (width, height, time) = (pictures[0].width, pictures[0].height, pictures[0].time);
    let bytes = encode(&pictures).map_err(Failed::Refused)?;
    Ok(Animation {
        width,
        height,
        time,
        bytes,
    })
}

/// The GIF of the frames `next` makes at `times` in the box `size`, each shown 1/`fps` s,
/// looping forever when `looped` (see [`make_animation`]).
pub fn make_gif<E>(
    times: &[f64],
    size: (u32, u32),
    fps: f64,
    looped: bool,
    budget: &mut PixelBudget,
    next: impl FnMut(f64) -> Result<Picture, E>,
) -> Result<Animation, Failed<E>> {
    make_animation(times, size, budget, next, |pictures| encode_gif(pictures, fps, looped))
}

/// The GIF of `frames`, each shown 1/`fps` s, looping forever when `looped`.
pub fn encode_gif(frames: &[Picture], fps: f64, looped: bool) -> Result<Vec<u8>, String> {
    let first = frames.first().ok_or("no frames to animate")?;
    let (width, height) = (first.width, first.height);
    if width > u32::from(u16::MAX) || height > u32::from(u16::MAX) {
        return Err(format!("a GIF is at most 65535 pixels a side, not {width}x{height}"));
    }
    // One palette for every frame, from pixels sampled across them all.
    let total: usize = frames.iter().map(|f| f.rgba.len() / 4).sum();
    let every = total.div_ceil(PALETTE_SAMPLE).max(1);
    let mut sample = Vec::with_capacity(total / every * 4 + 4);
    let mut n = 0usize;
    for f in frames {
        for px in f.rgba.chunks_exact(4) {
            if n % every == 0 {
                sample.extend_from_slice(&[px[0], px[1], px[2], 255]);
            }
            n += 1;
        }
    }
    // 255 colours, and index 255 kept for "as in the frame before" (transparent): a pixel whose
    // colour does not change is not coded again, which is most of a video's pixels.
    let quantiser = color_quant::NeuQuant::new(NEUQUANT_SAMPLING, 255, &sample);
    let mut palette: Vec<u8> = quantiser.color_map_rgb();
    palette.resize(256 * 3, 0);
    let mut out = Vec::new();
    {
        let mut encoder =
            gif::Encoder::new(&mut out, width as u16, height as u16, &palette).map_err(|e| e.to_string())?;
        if looped {
            encoder.set_repeat(gif::Repeat::Infinite).map_err(|e| e.to_string())?;
        }
        let delay = (100.0 / fps).round().clamp(1.0, 65535.0) as u16;
        let mut before: Option<Vec<u8>> = None;
        let mut nearest = Nearest::new(&quantiser);
        for f in frames {
            if (f.width, f.height) != (width, height) {
                return Err("the frames differ in size".into());
            }
            let indices = dither(f, &mut nearest, &palette);
            let mut coded = indices.clone();
            if let Some(before) = &before {
                for (c, b) in coded.iter_mut().zip(before) {
                    if c == b {
                        *c = UNCHANGED;
                    }
                }
            }
            let frame = gif::Frame {
                width: width as u16,
                height: height as u16,
                delay,
                dispose: gif::DisposalMethod::Keep,
                transparent: before.is_some().then_some(UNCHANGED),
                buffer: std::borrow::Cow::Owned(coded),
                ..gif::Frame::default()
            };
            encoder.write_frame(&frame).map_err(|e| e.to_string())?;
            before = Some(indices);
        }
    }
    Ok(out)
}

/// The quantiser's palette index for a colour, looked up once for each colour at 6 bits a
/// channel (the centre of its 4x4x4 cell) and kept: NeuQuant's own search for every pixel was
/// most of an animation's time. The dithering carries what the cell's rounding leaves on.
struct Nearest<'a> {
    quantiser: &'a color_quant::NeuQuant,
    /// Each of the 2^18 cells' index, once `asked`.
    found: Vec<u8>,
    asked: Vec<bool>,
}

impl<'a> Nearest<'a> {
    fn new(quantiser: &'a color_quant::NeuQuant) -> Nearest<'a> {
        Nearest {
            quantiser,
            found: vec![0; 1 << 18],
            asked: vec![false; 1 << 18],
        }
    }

    fn index_of(&mut self, [r, g, b]: [u8; 3]) -> usize {
        let cell = (usize::from(r >> 2) << 12) | (usize::from(g >> 2) << 6) | usize::from(b >> 2);
        if !self.asked[cell] {
            let centre = [r, g, b].map(|c| (c & !3) | 2);
            self.found[cell] = self.quantiser.index_of(&[centre[0], centre[1], centre[2], 255]) as u8;
            self.asked[cell] = true;
        }
        usize::from(self.found[cell])
    }
}

/// Palette indices of a frame, Floyd–Steinberg dithered.
fn dither(frame: &Picture, nearest: &mut Nearest, palette: &[u8]) -> Vec<u8> {
    let (w, h) = (frame.width as usize, frame.height as usize);
    let mut indices = vec![0u8; w * h];
    // The error carried to this row and the next, per channel.
    let mut here = vec![[0f32; 3]; w + 2];
    let mut below = vec![[0f32; 3]; w + 2];
    for y in 0..h {
        for x in 0..w {
            let px = &frame.rgba[(y * w + x) * 4..(y * w + x) * 4 + 4];
            let want = [0, 1, 2].map(|c| (f32::from(px[c]) + here[x + 1][c]).clamp(0.0, 255.0));
            let index = nearest.index_of([want[0] as u8, want[1] as u8, want[2] as u8]);
            indices[y * w + x] = index as u8;
            let got = &palette[index * 3..index * 3 + 3];
            for c in 0..3 {
                let error = (want[c] - f32::from(got[c])) * DIFFUSION;
                here[x + 2][c] += error * 7.0 / 16.0;
                below[x][c] += error * 3.0 / 16.0;
                below[x + 1][c] += error * 5.0 / 16.0;
                below[x + 2][c] += error / 16.0;
            }
        }
        std::mem::swap(&mut here, &mut below);
        below.iter_mut().for_each(|e| *e = [0.0; 3]);
    }
    indices
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_from_the_start_at_the_rate() {
        assert_eq!(animation_times(1.0, 1.0, 5.0, Some(10.0)).len(), 5);
        let t = animation_times(1.0, 3.0, 5.0, Some(10.0));
        assert_eq!(t.len(), 15);
        assert!((t[14] - 3.8).abs() < 1e-9);
        // Past the end: what exists; at the very end: one frame.
        assert_eq!(animation_times(2.0, 3.0, 5.0, Some(3.0)).len(), 5);
        assert_eq!(animation_times(5.0, 3.0, 5.0, Some(3.0)), vec![3.0]);
        assert_eq!(animation_times(0.0, 100.0, 30.0, None).len(), MAX_FRAMES);
    }

    #[test]
    fn a_gif_of_two_frames() {
        let a: Vec<u8> = (0..16 * 8).flat_map(|i| [(i * 2) as u8, 100, 200, 255]).collect();
        let b: Vec<u8> = (0..16 * 8).flat_map(|i| [200, (i * 2) as u8, 50, 255]).collect();
        let picture = |width: u32, height: u32, time: f64, rgba: &[u8]| Picture {
            width,
            height,
            time,
            rgba: rgba.to_vec(),
        };
        // The third frame has another size (a resolution change): left out.
        let frames = [
            picture(16, 8, 0.5, &a),
            picture(16, 8, 0.7, &b),
            picture(8, 4, 0.9, &a[..8 * 4 * 4]),
        ];
        let mut budget = PixelBudget::new(4 * 16 * 8, "the test's");
        let made = make_gif(&[0.5, 0.7, 0.9], (16, 8), 5.0, true, &mut budget, |t| {
            Ok::<_, ()>(frames[((t - 0.5) / 0.2).round() as usize].clone())
        })
        .unwrap();
        assert_eq!((made.width, made.height, made.time), (16, 8, 0.5));
        let bytes = made.bytes;
        assert!(bytes.starts_with(b"GIF89a"));
        // One frame less of budget: refused before any frame is made.
        let mut asked = 0;
        let refused = make_gif(
            &[0.5, 0.7, 0.9],
            (16, 8),
            5.0,
            true,
            &mut PixelBudget::new(3 * 16 * 8, "the test's"),
            |t| {
                asked += 1;
                Ok::<_, ()>(frames[((t - 0.5) / 0.2).round() as usize].clone())
            },
        );
        assert!(matches!(refused, Err(Failed::TooLarge(m)) if m.contains("an animation of 3 frames of 16x8")));
        assert_eq!(asked, 0);
        let mut decoder = gif::DecodeOptions::new();
        decoder.set_color_output(gif::ColorOutput::RGBA);
        let mut decoder = decoder.read_info(&bytes[..]).unwrap();
        let mut count = 0;
        while let Some(frame) = decoder.read_next_frame().unwrap() {
            assert_eq!((frame.width, frame.height, frame.delay), (16, 8, 20));
            let want = if count == 0 { &a } else { &b };
            let err: f64 = frame
                .buffer
                .iter()
                .zip(want.iter())
                .map(|(x, y)| (f64::from(*x) - f64::from(*y)).abs())
                .sum::<f64>()
                / frame.buffer.len() as f64;
            assert!(err < 12.0, "frame {count}: mean error {err}");
            count += 1;
        }
        assert_eq!(count, 2);
    }
}
