//! HDR to SDR, for both hosts: the native engine's pictures (the server and the CLI), the browser
//! worker's wasm engine and its WebCodecs frames all come here as 16-bit R'G'B' (the coded values
//! with the stream's matrix undone, at the size they are shown) and leave as 8-bit RGBA for an SDR
//! display, in `f32` from the first step to the last:
//!
//! 1. **Display light in nits**: PQ through SMPTE ST 2084's EOTF; HLG through its inverse OETF and
//!    the OOTF for the nominal 1,000-nit display (system gamma 1.2), which puts HLG's reference
//!    white (75 %) at 203 nits as ITU-R BT.2408 says. The OOTF is applied to each component, as
//!    zimg (the `ffmpeg` CLI's `zscale`) applies it: BT.2100 applies it to luminance, which on
//!    testsrc2 made HLG by zscale gives 66 % of the SDR original's colourfulness and 18 % more
//!    luma, where each component gives 92 % and 4 %.
//! 2. **BT.2020 to BT.709 primaries**, then what lies outside BT.709 (a negative component) moved
//!    towards the pixel's own luminance until it is inside: its luminance kept, its hue nearly.
//! 3. **Highlights rolled off** with ITU-R BT.2390's EETF (in the PQ domain, on each pixel's
//!    largest component, so that hues keep their ratios) from the picture's own peak (at least
//!    the reference white) to the reference white, 203 nits, where SDR white goes: a picture
//!    without highlights passes unchanged, one with highlights keeps their gradation.
//! 4. **For an SDR display**: 203 nits as 1.0, BT.1886's gamma 2.4 inverted (what an SDR
//!    display's EOTF undoes; the `ffmpeg` CLI's `zscale` converts SDR to HDR with the same, so a
//!    clip made from SDR comes back to its original), rounded to 8 bits.

use thumbnail_vocabulary::colour::Hdr;

/// Where SDR white goes (ITU-R BT.2408's HDR reference white, in nits).
pub const REFERENCE_WHITE: f32 = 203.0;
/// The display HLG's OOTF is for (BT.2100's nominal peak, in nits), and its system gamma.
const HLG_DISPLAY_PEAK: f32 = 1000.0;
const HLG_SYSTEM_GAMMA: f32 = 1.2;
/// SMPTE ST 2084's range (nits) and constants.
const PQ_PEAK: f32 = 10000.0;
const PQ_M1: f32 = 2610.0 / 16384.0;
const PQ_M2: f32 = 2523.0 / 4096.0 * 128.0;
const PQ_C1: f32 = 3424.0 / 4096.0;
const PQ_C2: f32 = 2413.0 / 4096.0 * 32.0;
const PQ_C3: f32 = 2392.0 / 4096.0 * 32.0;
/// HLG's OETF constants (BT.2100).
const HLG_A: f32 = 0.178_832_77;
const HLG_B: f32 = 0.284_668_92; // 1 - 4a
const HLG_C: f32 = 0.559_910_7; // 0.5 - a ln(4a)
/// Luminance weights of BT.709 primaries.
const BT709_LUMA: [f32; 3] = [0.2126, 0.7152, 0.0722];
/// Linear BT.2020 RGB to linear BT.709 RGB (ITU-R BT.2087, rows summing to 1).
const BT2020_TO_BT709: [[f32; 3]; 3] = [
    [1.660_491, -0.587_641_1, -0.072_849_9],
    [-0.124_550_5, 1.132_899_9, -0.008_349_4],
    [-0.018_150_8, -0.100_578_9, 1.118_729_7],
];

/// The primaries an HDR picture's R'G'B' are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Primaries {
    /// BT.2020 (what PQ and HLG come with).
    Bt2020,
    /// BT.709 (an HDR transfer on SDR primaries: nothing to map).
    Bt709,
}

impl Primaries {
    /// From FFmpeg's `AVColorPrimaries` number: BT.709 when it says so, else BT.2020.
    pub fn of(primaries: i32) -> Primaries {
        if primaries == 1 {
            Primaries::Bt709
        } else {
            Primaries::Bt2020
        }
    }
}

/// How an HDR picture is made SDR: its transfer and primaries, and each 16-bit code's display
/// light (nits).
#[derive(Clone)]
pub struct ToneMap {
    primaries: Primaries,
    light: Vec<f32>,
    /// The 8-bit SDR code of each step of relative light (see [`ENCODING_STEPS`]), rounded to
    /// the nearest step.
    encoding: Vec<u8>,
}

/// The SMPTE ST 2084 EOTF: a PQ signal (0–1) to nits.
pub fn pq_to_nits(signal: f32) -> f32 {
    let p = signal.clamp(0.0, 1.0).powf(1.0 / PQ_M2);
    PQ_PEAK * ((p - PQ_C1).max(0.0) / (PQ_C2 - PQ_C3 * p)).powf(1.0 / PQ_M1)
}

/// The inverse EOTF: nits to a PQ signal (0–1).
pub fn nits_to_pq(nits: f32) -> f32 {
    let y = (nits / PQ_PEAK).clamp(0.0, 1.0).powf(PQ_M1);
    ((PQ_C1 + PQ_C2 * y) / (1.0 + PQ_C3 * y)).powf(PQ_M2)
}

/// HLG's inverse OETF: a signal (0–1) to scene light (0–1).
pub fn hlg_to_scene(signal: f32) -> f32 {
    let e = signal.clamp(0.0, 1.0);
    if e <= 0.5 {
        e * e / 3.0
    } else {
        (((e - HLG_C) / HLG_A).exp() + HLG_B) / 12.0
    }
}

/// BT.2390's EETF for one picture: display light (nits) from a picture whose peak is
/// `source_peak` made to fit under `target_peak`, in the PQ domain: unchanged below the knee, a
/// Hermite spline above it.
#[derive(Debug, Clone, Copy)]
struct Eetf {
    /// The source's peak in PQ, the target's and the knee's relative to it, the knee in nits.
    source: f32,
    max_lum: f32,
    knee: f32,
    knee_nits: f32,
    target_peak: f32,
}

impl Eetf {
    fn new(source_peak: f32, target_peak: f32) -> Eetf {
        let source = nits_to_pq(source_peak);
        let max_lum = nits_to_pq(target_peak) / source;
        let knee = 1.5 * max_lum - 0.5;
        let knee_nits = if source_peak <= target_peak {
            target_peak
        } else {
            pq_to_nits(knee * source)
        };
        Eetf {
            source,
            max_lum,
            knee,
            knee_nits,
            target_peak,
        }
    }

    fn apply(&self, nits: f32) -> f32 {
        if nits < self.knee_nits {
            return nits;
        }
        if self.max_lum >= 1.0 {
            return nits.min(self.target_peak);
        }
        let e1 = nits_to_pq(nits) / self.source;
        let (knee, max_lum) = (self.knee, self.max_lum);
        if e1 < knee {
            return nits;
        }
        let t = ((e1 - knee) / (1.0 - knee)).min(1.0);
        let (t2, t3) = (t * t, t * t * t);
        let e2 =
            (2.0 * t3 - 3.0 * t2 + 1.0) * knee + (t3 - 2.0 * t2 + t) * (1.0 - knee) + (-2.0 * t3 + 3.0 * t2) * max_lum;
        pq_to_nits(e2 * self.source).min(self.target_peak)
    }
}

/// [`Eetf`] for one value: `nits` of a picture peaking at `source_peak` under `target_peak`.
pub fn eetf(nits: f32, source_peak: f32, target_peak: f32) -> f32 {
    Eetf::new(source_peak, target_peak).apply(nits)
}

impl ToneMap {
    pub fn new(transfer: Hdr, primaries: Primaries) -> ToneMap {
        let light = (0..=u16::MAX)
            .map(|code| {
                let signal = f32::from(code) / 65535.0;
                match transfer {
                    Hdr::Pq => pq_to_nits(signal),
                    Hdr::Hlg => HLG_DISPLAY_PEAK * hlg_to_scene(signal).powf(HLG_SYSTEM_GAMMA),
                }
            })
            .collect();
        let encoding = (0..=ENCODING_STEPS as u32)
            .map(|step| to_sdr_code(step as f32 / ENCODING_STEPS))
            .collect();
        ToneMap {
            primaries,
            light,
            encoding,
        }
    }

    /// The picture's peak (nits), at least the reference white: the light its brightest
    /// components reach but for the brightest 0.1 % of pixels, so that a few pixels a codec
    /// overshot near an edge do not darken the whole picture (and a picture gives the same peak
    /// whatever its size). From a histogram of the square roots of each pixel's largest component.
    fn peak(&self, pixels: &[u16]) -> f32 {
        const BINS: usize = 1001; // √nits × 10: 0.1 √nit apart, to 10,000 nits
        let mut histogram = vec![0u32; BINS];
        for px in pixels.chunks_exact(4) {
            let bin = (max3(self.display_light(px)).max(0.0).sqrt() * 10.0) as usize;
            histogram[bin.min(BINS - 1)] += 1;
        }
        let mut above = (pixels.len() / 4) as u64 / 1000; // the brightest pixels left out
        for (bin, &count) in histogram.iter().enumerate().rev() {
            if u64::from(count) > above {
                let root = (bin + 1) as f32 / 10.0;
                return (root * root).max(REFERENCE_WHITE);
            }
            above -= u64::from(count);
        }
        REFERENCE_WHITE
    }

    /// A pixel's display light in BT.709 primaries (nits), inside BT.709's gamut.
    fn display_light(&self, px: &[u16]) -> [f32; 3] {
        let table = &self.light;
        let mut rgb = [table[px[0] as usize], table[px[1] as usize], table[px[2] as usize]];
        if self.primaries == Primaries::Bt2020 {
            let m = BT2020_TO_BT709;
            rgb = [0, 1, 2].map(|i| m[i][0] * rgb[0] + m[i][1] * rgb[1] + m[i][2] * rgb[2]);
        }
        into_gamut(rgb)
    }

    /// `pixels` 16-bit RGBA (R'G'B' in this transfer and these primaries, alpha linear) made
    /// 8-bit RGBA for an SDR display. The picture's peak is found first (see [`ToneMap::peak`]);
    /// highlights above the reference white are rolled off from there.
    pub fn to_sdr(&self, pixels: &[u16]) -> Vec<u8> {
        let curve = Eetf::new(self.peak(pixels), REFERENCE_WHITE);
        let mut out = Vec::with_capacity(pixels.len());
        for px in pixels.chunks_exact(4) {
            let rgb = self.display_light(px);
            let largest = max3(rgb);
            let gain = if largest > 0.0 {
                curve.apply(largest) / largest / REFERENCE_WHITE
            } else {
                0.0
            };
            for c in rgb {
                out.push(self.encoding[((c * gain).clamp(0.0, 1.0) * ENCODING_STEPS + 0.5) as usize]);
            }
            out.push(((u32::from(px[3]) + 128) / 257) as u8);
        }
        out
    }
}

fn max3(rgb: [f32; 3]) -> f32 {
    rgb[0].max(rgb[1]).max(rgb[2])
}

/// A colour outside BT.709's gamut (a negative component) moved towards its luminance until it
/// is on the gamut's edge.
fn into_gamut(rgb: [f32; 3]) -> [f32; 3] {
    let y: f32 = rgb.iter().zip(BT709_LUMA).map(|(c, w)| c * w).sum();
    let least = rgb[0].min(rgb[1]).min(rgb[2]);
    if least >= 0.0 {
        return rgb;
    }
    if y <= 0.0 {
        return [0.0; 3];
    }
    let keep = y / (y - least);
    rgb.map(|c| (y + keep * (c - y)).max(0.0))
}

/// Steps of relative SDR light (0–1) the encoding table holds: fine enough that the table's
/// code is the exact one's, or one off at the very darkest steps.
const ENCODING_STEPS: f32 = 65535.0;

/// Relative SDR light (1.0 = white) to an 8-bit code with BT.1886's gamma 2.4 inverted.
fn to_sdr_code(light: f32) -> u8 {
    (light.clamp(0.0, 1.0).powf(1.0 / 2.4) * 255.0 + 0.5) as u8
}

/// 16-bit RGBA, native-endian, from bytes (the engines' RGBA64 output).
pub fn samples(bytes: &[u8]) -> Vec<u16> {
    bytes
        .chunks_exact(2)
        .map(|b| u16::from_ne_bytes([b[0], b[1]]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the `ffmpeg` CLI's zscale (zimg) makes of an SDR value (0–1, BT.1886 display, white at
    /// 203 nits): the HDR signal a fixture made from SDR carries.
    fn from_sdr(v: f32, transfer: Hdr) -> f32 {
        let nits = v.powf(2.4) * REFERENCE_WHITE;
        match transfer {
            Hdr::Pq => nits_to_pq(nits),
            Hdr::Hlg => {
                // the inverse OOTF, then the OETF
                let e = (nits / HLG_DISPLAY_PEAK).powf(1.0 / HLG_SYSTEM_GAMMA);
                if e <= 1.0 / 12.0 {
                    (3.0 * e).sqrt()
                } else {
                    HLG_A * (12.0 * e - HLG_B).ln() + HLG_C
                }
            }
        }
    }

    fn code(signal: f32) -> u16 {
        (signal * 65535.0).round() as u16
    }

    #[test]
    fn transfers_invert() {
        for nits in [0.0f32, 0.1, 1.0, 50.0, 203.0, 1000.0, 4000.0, 10000.0] {
            let back = pq_to_nits(nits_to_pq(nits));
            assert!((back - nits).abs() <= nits * 1e-3 + 1e-3, "{nits} -> {back}");
        }
        // BT.2100's reference points: PQ 0.58 is 203 nits; HLG 0.75 is 203 nits on a 1,000-nit display
        assert!((pq_to_nits(0.5807) - 203.0).abs() < 1.0, "{}", pq_to_nits(0.5807));
        let hlg_white = HLG_DISPLAY_PEAK * hlg_to_scene(0.75).powf(HLG_SYSTEM_GAMMA);
        assert!((hlg_white - 203.0).abs() < 2.0, "{hlg_white}");
    }

    #[test]
    fn sdr_made_hdr_comes_back() {
        // a grey ramp and primaries made HDR as the CLI makes them: each comes back within one code
        for transfer in [Hdr::Pq, Hdr::Hlg] {
            let map = ToneMap::new(transfer, Primaries::Bt2020);
            for v in (0..=255).step_by(5) {
                let s = code(from_sdr(v as f32 / 255.0, transfer));
                let out = map.to_sdr(&[s, s, s, 65535]);
                assert!((i32::from(out[0]) - v).abs() <= 1, "{transfer:?} {v} -> {out:?}");
                assert_eq!((out[0], out[1], out[2], out[3]), (out[0], out[0], out[0], 255));
            }
        }
    }

    #[test]
    fn the_eetf_rolls_highlights_off_and_keeps_the_rest() {
        // below the knee (about 45 nits from a 4,000-nit peak, 88 from 1,000) nothing changes;
        // the source peak lands on the target; order is kept
        assert_eq!(eetf(40.0, 4000.0, 203.0), 40.0);
        assert_eq!(eetf(80.0, 1000.0, 203.0), 80.0);
        assert!(eetf(120.0, 1000.0, 203.0) < 120.0);
        assert!((eetf(4000.0, 4000.0, 203.0) - 203.0).abs() < 0.5);
        // (strictly rising until the spline flattens onto the target in f32)
        let mut last = 0.0;
        for nits in (100..=3000).step_by(100) {
            let out = eetf(nits as f32, 4000.0, 203.0);
            assert!(out > last && out < 203.0, "{nits} -> {out}");
            last = out;
        }
        // no highlights: unchanged
        assert_eq!(eetf(150.0, 203.0, 203.0), 150.0);
    }

    #[test]
    fn highlights_keep_their_gradation() {
        // PQ greys from 203 to 4,000 nits: each a different SDR code, rising
        let map = ToneMap::new(Hdr::Pq, Primaries::Bt2020);
        let levels = [203.0f32, 400.0, 800.0, 1600.0, 4000.0];
        let pixels: Vec<u16> = levels
            .iter()
            .flat_map(|&n| {
                let s = code(nits_to_pq(n));
                [s, s, s, 65535]
            })
            .collect();
        let out = map.to_sdr(&pixels);
        let greys: Vec<u8> = out.chunks_exact(4).map(|p| p[1]).collect();
        assert!(greys.windows(2).all(|w| w[0] < w[1]), "{greys:?}");
        assert_eq!(greys[4], 255, "{greys:?}");
    }

    #[test]
    fn a_few_overshooting_pixels_change_nothing() {
        // 10,000 pixels at 150 nits: unchanged with 5 pixels at 4,000 nits (0.05 %), rolled off
        // with 50 (0.5 %)
        let map = ToneMap::new(Hdr::Pq, Primaries::Bt2020);
        let (grey, bright) = (code(nits_to_pq(150.0)), code(nits_to_pq(4000.0)));
        let picture = |bright_pixels: usize| -> Vec<u16> {
            let mut px = vec![grey; 10_000 * 4];
            px.extend(std::iter::repeat(bright).take(bright_pixels * 4));
            px
        };
        let alone = map.to_sdr(&picture(0))[0];
        assert_eq!(map.to_sdr(&picture(5))[0], alone);
        assert!(map.to_sdr(&picture(50))[0] < alone);
    }

    #[test]
    fn saturated_bt2020_colours_keep_their_hue_inside_bt709() {
        // BT.2020's pure green at SDR white: outside BT.709; it comes back green, red and blue
        // at most what keeps its luminance
        let map = ToneMap::new(Hdr::Pq, Primaries::Bt2020);
        let g = code(nits_to_pq(100.0));
        let out = map.to_sdr(&[0, g, 0, 65535]);
        assert!(out[1] > 150 && out[0] < out[1] && out[2] < out[1], "{out:?}");
    }
}
