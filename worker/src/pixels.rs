//! The pixel work of the WebCodecs path, done as swscale makes packed RGB from YUV so that the
//! browser's frame is the server's: planes scaled with swscale's bicubic filter (14-bit weights,
//! 15-bit intermediates saturated as swscale's are), converted with the stream's matrix and range,
//! turned as the engine's `copy_turned` turns them.
//!
//! In the browser (wasm32 with simd128) the scaling and conversion loops are written with wasm
//! SIMD; everywhere else, and for the ends of rows, the same arithmetic in plain Rust. The tests
//! (natively and in wasm under Node: `cargo test --target wasm32-unknown-unknown`) hold the two to
//! the same bytes.

/// A picture's 8-bit plane: `height` rows of `width` samples, `stride` bytes apart.
#[derive(Clone, Copy)]
struct Plane<'a> {
    data: &'a [u8],
    stride: usize,
    width: usize,
    height: usize,
}

impl<'a> Plane<'a> {
    /// The plane if `data` holds every row (else None).
    fn new(data: &'a [u8], stride: usize, width: usize, height: usize) -> Option<Plane<'a>> {
        let fits = height == 0 || (stride >= width && (height - 1) * stride + width <= data.len());
        fits.then_some(Plane {
            data,
            stride,
            width,
            height,
        })
    }

    /// Rows of `width` samples one after the other.
    fn packed(data: &'a [u8], width: usize, height: usize) -> Option<Plane<'a>> {
        Plane::new(data, width, width, height)
    }

    fn row(&self, y: usize) -> &'a [u8] {
        &self.data[y * self.stride..][..self.width]
    }
}

/// How a decoded picture's planes lie in what WebCodecs' `copyTo` wrote: three planes (luma, Cb,
/// Cr; 8-bit, or 10-bit in little-endian 16-bit samples), or NV12 (luma, then Cb and Cr
/// interleaved): the decoder's layout of what the engine decodes as yuv420p, yuv422p, yuv444p
/// (or their 10-bit forms).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Layout {
    I420,
    I420P10,
    I422,
    I422P10,
    I444,
    I444P10,
    Nv12,
}

impl Layout {
    /// Chroma at half the width, at half the height.
    fn subsampled(self) -> (bool, bool) {
        match self {
            Layout::I420 | Layout::I420P10 | Layout::Nv12 => (true, true),
            Layout::I422 | Layout::I422P10 => (true, false),
            Layout::I444 | Layout::I444P10 => (false, false),
        }
    }

    fn deep(self) -> bool {
        matches!(self, Layout::I420P10 | Layout::I422P10 | Layout::I444P10)
    }
}

/// A decoded picture's 8-bit planes (luma, then the two chroma planes at their own size): where
/// they lie in what was copied, or (10-bit samples made 8-bit, NV12's chroma pulled apart) in a
/// buffer of their own.
pub struct Planes {
    layout: Layout,
    bytes: Vec<u8>,
    /// Each plane's offset, stride, width and height in `bytes`.
    places: [(usize, usize, usize, usize); 3],
    /// 10-bit planes' samples as they were (luma, Cb, Cr, packed at `places`' sizes), when kept.
    wide: Option<Vec<u16>>,
}

impl Planes {
    /// The planes of a `width` x `height` picture in `layout`, from the bytes copied and each
    /// plane's (offset, stride) as `copyTo` says them; None if a plane's rows do not lie inside.
    /// With `wide`, 10-bit samples are also kept as they are ([`Planes::to_rgb16`]).
    pub fn from_copy(
        layout: Layout,
        (w, h): (usize, usize),
        mut bytes: Vec<u8>,
        places: &[(usize, usize)],
        wide: bool,
    ) -> Option<Planes> {
        let (half_w, half_h) = layout.subsampled();
        let (cw, ch) = (
            if half_w { w.div_ceil(2) } else { w },
            if half_h { h.div_ceil(2) } else { h },
        );
        let sample = if layout.deep() { 2 } else { 1 };
        let inside = |index: usize, row_bytes: usize, rows: usize| {
            let &(offset, stride) = places.get(index)?;
            Plane::new(bytes.get(offset..)?, stride, row_bytes, rows).map(|_| (offset, stride))
        };
        let (y, cb, cr) = if layout == Layout::Nv12 {
            let (y, uv) = (inside(0, w, h)?, inside(1, 2 * cw, ch)?);
            // Cb and Cr pulled apart, after the bytes copied
            let (mut cbs, mut crs): (Vec<u8>, Vec<u8>) = (Vec::with_capacity(cw * ch), Vec::with_capacity(cw * ch));
            for row in 0..ch {
                let pairs = &bytes[uv.0 + row * uv.1..][..2 * cw];
                cbs.extend(pairs.iter().step_by(2));
                crs.extend(pairs.iter().skip(1).step_by(2));
            }
            let at = bytes.len();
            bytes.extend(cbs);
            bytes.extend(crs);
            ((y.0, y.1), (at, cw), (at + cw * ch, cw))
        } else {
            (
                inside(0, w * sample, h)?,
                inside(1, cw * sample, ch)?,
                inside(2, cw * sample, ch)?,
            )
        };
        let mut planes = Planes {
            layout,
            bytes,
            places: [(y.0, y.1, w, h), (cb.0, cb.1, cw, ch), (cr.0, cr.1, cw, ch)],
            wide: None,
        };
        if layout.deep() {
            // 10 bits to 8, rounded (little-endian 16-bit samples), each plane after the one before
            let mut eight = Vec::with_capacity(w * h + 2 * cw * ch);
            let mut kept = Vec::with_capacity(if wide { w * h + 2 * cw * ch } else { 0 });
            for place in &mut planes.places {
                let (offset, stride, pw, ph) = *place;
                *place = (eight.len(), pw, pw, ph);
                for row in 0..ph {
                    let samples = &planes.bytes[offset + row * stride..][..2 * pw];
                    for v in samples.chunks_exact(2) {
                        let v = u16::from_le_bytes([v[0], v[1]]);
                        eight.push(((u32::from(v) + 2) >> 2).min(255) as u8);
                        if wide {
                            kept.push(v.min(1023));
                        }
                    }
                }
            }
            planes.bytes = eight;
            planes.wide = wide.then_some(kept);
        }
        Some(planes)
    }

    /// The kept 10-bit planes ([`Planes::from_copy`] with `wide`) as 16-bit RGBA of `size`, R'G'B'
    /// with `matrix` undone, scaled as [`Planes::to_rgba`] scales 8-bit ones (swscale's way:
    /// luma to the size, chroma to the full height and half the width, each chroma sample shared
    /// by two pixels, or to the full width for an odd one or 4:4:4), in `f32`: the engine's
    /// 16-bit picture, for the tone mapping. None without them.
    pub fn to_rgb16(&self, size: (usize, usize), m: Matrix) -> Option<Vec<u16>> {
        let wide = self.wide.as_ref()?;
        let [(_, _, w, h), (_, _, cw, ch), _] = self.places;
        let samples =
            |range: std::ops::Range<usize>| -> Vec<f32> { wide[range].iter().map(|&v| f32::from(v)).collect() };
        let (y, cb, cr) = (
            samples(0..w * h),
            samples(w * h..w * h + cw * ch),
            samples(w * h + cw * ch..w * h + 2 * cw * ch),
        );
        let (half_w, _) = self.layout.subsampled();
        let shared = if half_w && size.0 % 2 == 0 { 2 } else { 1 };
        let chroma = (size.0 / shared, size.1);
        let y = scale_plane_f32(&y, (w, h), size);
        let (cb, cr) = (
            scale_plane_f32(&cb, (cw, ch), chroma),
            scale_plane_f32(&cr, (cw, ch), chroma),
        );
        let (y_offset, y_scale, c_scale) = if m.full_range {
            (0.0, 1.0 / 1023.0, 1.0 / 1023.0)
        } else {
            (64.0, 1.0 / 876.0, 1.0 / 896.0)
        };
        let kg = 1.0 - m.kr - m.kb;
        let (rv, bu) = (2.0 * (1.0 - m.kr), 2.0 * (1.0 - m.kb));
        let (gu, gv) = (bu * m.kb / kg, rv * m.kr / kg);
        let sample = |v: f32| (v.clamp(0.0, 1.0) * 65535.0 + 0.5) as u16;
        let mut out = Vec::with_capacity(size.0 * size.1 * 4);
        for row in 0..size.1 {
            for x in 0..size.0 {
                let c = row * chroma.0 + (x / shared).min(chroma.0.saturating_sub(1));
                let l = (y[row * size.0 + x] - y_offset) * y_scale;
                let (u, v) = ((cb[c] - 512.0) * c_scale, (cr[c] - 512.0) * c_scale);
                out.extend([
                    sample(l + rv * v),
                    sample(l - gu * u - gv * v),
                    sample(l + bu * u),
                    u16::MAX,
                ]);
            }
        }
        Some(out)
    }

    fn plane(&self, index: usize) -> Plane<'_> {
        let (offset, stride, width, height) = self.places[index];
        Plane::new(&self.bytes[offset..], stride, width, height).expect("checked when copied")
    }

    /// RGBA of `size` with `matrix`, as swscale makes packed RGB from the engine's decoded frame.
    pub fn to_rgba(&self, size: (usize, usize), matrix: Matrix) -> Vec<u8> {
        let (y, cb, cr) = (self.plane(0), self.plane(1), self.plane(2));
        let (w, h) = size;
        let (half_w, half_h) = self.layout.subsampled();
        // 8-bit 4:2:0 or 4:2:2 at its own size and an even height is converted without scaling,
        // each chroma sample shared by 2x2 or 2x1 pixels (swscale's yuv2rgb shortcut).
        if (y.width, y.height) == size && !self.layout.deep() && half_w && h % 2 == 0 {
            return yuv_to_rgba(y, cb, cr, 2, if half_h { 2 } else { 1 }, matrix);
        }
        // Otherwise chroma is scaled to the full height and to half the width, each sample shared
        // by two pixels; to the full width from 4:4:4, or for an odd width.
        let shared = if half_w && w % 2 == 0 { 2 } else { 1 };
        let chroma = (w / shared, h);
        let (y, cb, cr) = (scale_plane(y, size), scale_plane(cb, chroma), scale_plane(cr, chroma));
        let packed = |data, (w, h)| Plane::packed(data, w, h).expect("as scaled");
        yuv_to_rgba(
            packed(&y, size),
            packed(&cb, chroma),
            packed(&cr, chroma),
            shared,
            1,
            matrix,
        )
    }
}

/// YUV to RGB as swscale does it: the matrix (Kr, Kb) and whether the samples use the full range.
#[derive(Clone, Copy)]
pub struct Matrix {
    pub kr: f32,
    pub kb: f32,
    pub full_range: bool,
}

/// A plane scaled to `to` with swscale's bicubic taps (a copy when the size is the same).
fn scale_plane(plane: Plane, to: (usize, usize)) -> Vec<u8> {
    let (tw, th) = to;
    if (plane.width, plane.height) == to {
        return (0..th).flat_map(|y| plane.row(y).iter().copied()).collect();
    }
    if plane.width == 0 || plane.height == 0 || tw == 0 || th == 0 {
        return vec![128; tw * th];
    }
    let (across, down) = (Taps::new(plane.width, tw, 4), Taps::new(plane.height, th, 2));
    // Down the columns first, whole rows at a time, into 15-bit values; then across the fewer
    // rows left. Each intermediate row has room after it for the widest read across.
    let stride = (plane.width + LANES).max(across.reach);
    let mut rows = vec![0i16; stride * th];
    for (y, line) in rows.chunks_exact_mut(stride).enumerate() {
        let (first, weights) = down.of(y);
        let sources: Vec<&[u8]> = (first..first + weights.len()).map(|r| plane.row(r)).collect();
        vertical(&sources, weights, &mut line[..plane.width]);
    }
    let mut out = vec![0u8; tw * th];
    for (line, row) in out.chunks_exact_mut(tw).zip(rows.chunks_exact(stride)) {
        horizontal(row, &across, line);
    }
    out
}

/// An RGBA picture (4 bytes a pixel, alpha as it is: swscale does not premultiply) scaled to
/// `to`, each channel as a plane.
pub fn scale_rgba(rgba: &[u8], from: (usize, usize), to: (usize, usize)) -> Vec<u8> {
    let (w, h) = from;
    let pixels = w * h;
    let mut out = vec![0u8; to.0 * to.1 * 4];
    for channel in 0..4 {
        let plane: Vec<u8> = rgba.iter().skip(channel).step_by(4).take(pixels).copied().collect();
        let Some(plane) = Plane::packed(&plane, w, h) else {
            return vec![0; to.0 * to.1 * 4];
        };
        for (o, v) in out.iter_mut().skip(channel).step_by(4).zip(scale_plane(plane, to)) {
            *o = v;
        }
    }
    out
}

/// A plane of `f32` samples (`from` wide and high, rows packed) scaled to `to` with swscale's
/// bicubic taps, down the columns then across, without rounding but clamped to 10 bits: the
/// 10-bit planes of an HDR picture, whose values go on to the tone mapping.
fn scale_plane_f32(plane: &[f32], from: (usize, usize), to: (usize, usize)) -> Vec<f32> {
    let ((w, h), (tw, th)) = (from, to);
    if from == to || w == 0 || h == 0 {
        return plane.to_vec();
    }
    let (across, down) = (Taps::new(w, tw, 4), Taps::new(h, th, 2));
    const ONE: f32 = (1 << 14) as f32;
    let mut column = vec![0f32; w];
    let mut out = Vec::with_capacity(tw * th);
    for y in 0..th {
        let (first, weights) = down.of(y);
        column.iter_mut().for_each(|v| *v = 0.0);
        for (row, &weight) in (first..).zip(weights) {
            let weight = weight as f32 / ONE;
            for (acc, &v) in column.iter_mut().zip(&plane[row * w..][..w]) {
                *acc += weight * v;
            }
        }
        for x in 0..tw {
            let (first, weights) = across.of(x);
            let sum: f32 = (first..)
                .zip(weights)
                .map(|(sx, &weight)| weight as f32 / ONE * column[sx])
                .sum();
            out.push(sum.clamp(0.0, 1023.0)); // within 10 bits, as swscale's planes stay
        }
    }
    out
}

/// RGBA (alpha 255) of the luma plane's size from `y`, `cb` and `cr`, each chroma sample shared
/// by `shared` pixels across and `rows_shared` rows down (the chroma planes as wide as that needs).
fn yuv_to_rgba(y: Plane, cb: Plane, cr: Plane, shared: usize, rows_shared: usize, m: Matrix) -> Vec<u8> {
    let (w, h) = (y.width, y.height);
    let coefficients = Coefficients::new(m);
    let mut out = vec![255u8; w * h * 4];
    for (row, pixels) in out.chunks_exact_mut(w * 4).enumerate() {
        let c = (row / rows_shared).min(cb.height.min(cr.height).saturating_sub(1));
        convert_row(y.row(row), cb.row(c), cr.row(c), shared, &coefficients, pixels);
    }
    out
}

/// A `w` x `h` RGBA picture turned `rotation` degrees clockwise (as the engine's copy_turned).
pub fn turn(rgba: Vec<u8>, w: usize, h: usize, rotation: u32) -> Vec<u8> {
    if rotation % 360 == 0 {
        return rgba;
    }
    let mut out = vec![0u8; rgba.len()];
    for y in 0..h {
        for x in 0..w {
            let to = match rotation {
                90 => x * h + (h - 1 - y),
                180 => (h - 1 - y) * w + (w - 1 - x),
                _ => (w - 1 - x) * h + y, // 270
            };
            let from = y * w + x;
            out[to * 4..to * 4 + 4].copy_from_slice(&rgba[from * 4..from * 4 + 4]);
        }
    }
    out
}

/// Samples one SIMD read across takes (the weights of each output are padded to a multiple).
const LANES: usize = 8;

/// One output row down the columns: Σ weight × sample over `sources` (rows of equal width),
/// rounded to 7 fewer bits and saturated to 16 (swscale's 15-bit intermediates, its clip).
fn vertical(sources: &[&[u8]], weights: &[i32], out: &mut [i16]) {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    let done = simd::vertical(sources, weights, out);
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    let done = 0;
    vertical_from(done, sources, weights, out);
}

fn vertical_from(start: usize, sources: &[&[u8]], weights: &[i32], out: &mut [i16]) {
    for (x, o) in out.iter_mut().enumerate().skip(start) {
        let sum: i32 = sources.iter().zip(weights).map(|(row, w)| w * i32::from(row[x])).sum();
        *o = ((sum + (1 << 6)) >> 7).clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16;
    }
}

/// One output row across: Σ weight × intermediate, from 14 + 7 bits back to 8, clamped.
/// `row` has at least [`LANES`] values after the last one any output reads.
fn horizontal(row: &[i16], taps: &Taps, out: &mut [u8]) {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    let done = simd::horizontal(row, taps, out);
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    let done = 0;
    horizontal_from(done, row, taps, out);
}

fn horizontal_from(start: usize, row: &[i16], taps: &Taps, out: &mut [u8]) {
    for (x, o) in out.iter_mut().enumerate().skip(start) {
        let (first, weights) = taps.of(x);
        let sum: i32 = weights.iter().zip(&row[first..]).map(|(w, v)| w * i32::from(*v)).sum();
        *o = ((sum + (1 << 20)) >> 21).clamp(0, 255) as u8;
    }
}

/// R = Y' + rv V, G = Y' - gu U - gv V, B = Y' + bu U, with Y' = (Y - y_offset) y_scale and U, V
/// centred on 128.
struct Coefficients {
    y_offset: f32,
    y_scale: f32,
    rv: f32,
    gu: f32,
    gv: f32,
    bu: f32,
}

impl Coefficients {
    fn new(m: Matrix) -> Coefficients {
        let kg = 1.0 - m.kr - m.kb;
        let (y_scale, y_offset, c_scale) = if m.full_range {
            (1.0f32, 0.0f32, 1.0f32)
        } else {
            (255.0 / 219.0, 16.0, 255.0 / 224.0)
        };
        let (rv, bu) = (2.0 * (1.0 - m.kr) * c_scale, 2.0 * (1.0 - m.kb) * c_scale);
        Coefficients {
            y_offset,
            y_scale,
            rv,
            gu: bu * m.kb / kg,
            gv: rv * m.kr / kg,
            bu,
        }
    }
}

fn convert_row(y: &[u8], cb: &[u8], cr: &[u8], shared: usize, k: &Coefficients, out: &mut [u8]) {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    let done = simd::convert_row(y, cb, cr, shared, k, out);
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    let done = 0;
    convert_row_from(done, y, cb, cr, shared, k, out);
}

/// Rounds half up (what the SIMD path can do exactly: floor(v + 0.5)) into 0..=255.
fn to_byte(v: f32) -> u8 {
    (v + 0.5).floor().clamp(0.0, 255.0) as u8
}

fn convert_row_from(start: usize, y: &[u8], cb: &[u8], cr: &[u8], shared: usize, k: &Coefficients, out: &mut [u8]) {
    for (x, px) in out.chunks_exact_mut(4).enumerate().skip(start) {
        let l = (f32::from(y[x]) - k.y_offset) * k.y_scale;
        let c = (x / shared).min(cb.len().min(cr.len()) - 1);
        let (u, v) = (f32::from(cb[c]) - 128.0, f32::from(cr[c]) - 128.0);
        px[0] = to_byte(l + k.rv * v);
        px[1] = to_byte(l - k.gu * u - k.gv * v);
        px[2] = to_byte(l + k.bu * u);
    }
}

/// One dimension's filter as swscale's `initFilter` makes it for SWS_BICUBIC (the cubic of
/// Mitchell and Netravali with B = 0, C = 0.6) when it scales `from` samples to `to`: per output
/// sample, the first source sample and the weights of that one and those after (14-bit, summing
/// to 1 << 14), made in swscale's fixed point with its steps: the kernel widened by the
/// downscaling ratio over `1 + ceil(4 * ratio)` taps (at most `from - 2`), the near-zero taps at
/// either end cut off, the size rounded up to `align` (what swscale's x86 code uses: 4 across, 2
/// down), the taps moved inside the picture at its edges, and the rounding error carried from tap
/// to tap. Also the same weights as 16-bit lanes, padded with zeros to a multiple of [`LANES`]
/// (what the SIMD path multiplies).
struct Taps {
    first: Vec<usize>,
    weights: Vec<i32>,
    size: usize,
    #[cfg_attr(not(all(target_arch = "wasm32", target_feature = "simd128")), allow(dead_code))]
    lanes: Vec<i16>,
    #[cfg_attr(not(all(target_arch = "wasm32", target_feature = "simd128")), allow(dead_code))]
    padded: usize,
    /// How far into a row the padded reads go (the last first sample + `padded`).
    reach: usize,
    /// The source's samples.
    from: usize,
}

/// swscale's kernel weight at distance `d` (in units of 1 << 30 samples of the widened kernel),
/// in its fixed point.
fn bicubic_weight(d: i64, fone: i64) -> i64 {
    const ONE: i64 = 1 << 24;
    const B: i64 = 0;
    const C: i64 = 10_066_329; // 0.6 * (1 << 24), truncated as swscale's int64 conversion does
    if d >= 1 << 31 {
        return 0;
    }
    let dd = (d * d) >> 30;
    let ddd = (dd * d) >> 30;
    let coefficient = if d < 1 << 30 {
        (12 * ONE - 9 * B - 6 * C) * ddd + (-18 * ONE + 12 * B + 6 * C) * dd + (6 * ONE - 2 * B) * (1 << 30)
    } else {
        (-B - 6 * C) * ddd + (6 * B + 30 * C) * dd + (-12 * B - 48 * C) * d + (8 * B + 24 * C) * (1 << 30)
    };
    coefficient / ((1i64 << 54) / fone)
}

impl Taps {
    fn new(from: usize, to: usize, align: usize) -> Taps {
        let (src, dst) = (from.max(1) as i64, to.max(1) as i64);
        let step = ((src << 16) + (dst >> 1)) / dst; // xInc
        let fone = 1i64 << (54 - ((src / dst).max(1).ilog2() as i64).min(8));
        let mut size = if step <= 1 << 16 {
            5
        } else {
            1 + (4 * src + dst - 1) / dst
        };
        size = size.min(src - 2).max(1);
        let size = size as usize;
        // The kernel at each output's taps; positions in 1 << 17ths of a sample (the first
        // output's centre at (ratio - 1) / 2, as swscale places luma and MPEG chroma alike).
        let mut at = step - (1 << 16);
        let mut position: Vec<i64> = Vec::with_capacity(to);
        let mut filter: Vec<i64> = Vec::with_capacity(to * size);
        for _ in 0..to {
            let first = (at - (size as i64 - 2) * (1 << 16)) / (1 << 17); // truncated, as C divides
            position.push(first);
            for j in 0..size as i64 {
                let mut d = ((first + j) * (1 << 17) - at).abs() << 13;
                if step > 1 << 16 {
                    d = d * dst / src;
                }
                filter.push(bicubic_weight(d, fone));
            }
            at += 2 * step;
        }
        // Near-zero taps cut off: on the left by moving the filter right (keeping the positions
        // increasing), on the right by counting them; the longest filter left is the size.
        let cutoff = 0.002 * fone as f64;
        let mut kept = 0;
        for i in (0..to).rev() {
            let taps = &mut filter[i * size..][..size];
            let mut cut = 0i64;
            for _ in 0..size {
                cut += taps[0].abs();
                if cut as f64 > cutoff || (i + 1 < to && position[i] >= position[i + 1]) {
                    break;
                }
                taps.rotate_left(1);
                taps[size - 1] = 0;
                position[i] += 1;
            }
            let (mut cut, mut used) = (0i64, size);
            for j in (1..size).rev() {
                cut += taps[j].abs();
                if cut as f64 > cutoff {
                    break;
                }
                used -= 1;
            }
            kept = kept.max(used);
        }
        let out_size = kept.div_ceil(align.max(1)) * align.max(1);
        let padded = out_size.div_ceil(LANES) * LANES;
        let (mut first, mut weights) = (Vec::with_capacity(to), Vec::with_capacity(to * out_size));
        let mut lanes = Vec::with_capacity(to * padded);
        let from = from as i64;
        for i in 0..to {
            let mut taps: Vec<i64> = (0..out_size)
                .map(|j| if j < size { filter[i * size + j] } else { 0 })
                .collect();
            let mut pos = position[i];
            // Taps before the picture folded onto its first sample, after it onto its last.
            if pos < 0 {
                for j in 1..out_size {
                    let left = (j as i64 + pos).max(0) as usize;
                    let moved = std::mem::take(&mut taps[j]);
                    taps[left] += moved;
                }
                pos = 0;
            }
            if pos + out_size as i64 > from {
                let shift = pos + (out_size as i64 - from).min(0);
                let mut beyond = 0;
                for (j, tap) in taps.iter_mut().enumerate() {
                    if pos + j as i64 >= from {
                        beyond += std::mem::take(tap);
                    }
                }
                let shift = shift.clamp(0, out_size as i64) as usize;
                taps.rotate_right(shift);
                taps[..shift].iter_mut().for_each(|t| *t = 0);
                pos -= shift as i64;
                let last = (from - 1 - pos).clamp(0, out_size as i64 - 1) as usize;
                taps[last] += beyond;
            }
            // 14-bit weights, each one's rounding error carried to the next
            let one = 1i64 << 14;
            let sum = ((taps.iter().sum::<i64>() + one / 2) / one).max(1);
            let mut error = 0;
            for &tap in &taps {
                let v = tap + error;
                let w = if v >= 0 {
                    (v + (sum >> 1)) / sum
                } else {
                    (v - (sum >> 1)) / sum
                };
                error = v - w * sum;
                weights.push(w as i32);
                // The kernel's lobes keep each weight well inside 16 bits (at most about 1.18 << 14).
                lanes.push(w.clamp(i64::from(i16::MIN), i64::from(i16::MAX)) as i16);
            }
            lanes.extend(std::iter::repeat(0).take(padded - out_size));
            first.push(pos.max(0) as usize);
        }
        let reach = first.iter().max().map_or(0, |f| f + padded);
        Taps {
            first,
            weights,
            size: out_size,
            lanes,
            padded,
            reach,
            from: from as usize,
        }
    }

    /// Output `i`'s first source sample and its weights (those past the picture's end, zero
    /// after swscale's rounding up of the size, left out).
    fn of(&self, i: usize) -> (usize, &[i32]) {
        let first = self.first[i];
        let inside = self.size.min(self.from.saturating_sub(first));
        (first, &self.weights[i * self.size..][..inside])
    }
}

/// The loops above in wasm SIMD. Each returns how many outputs it made (whole vectors); the
/// plain loops make the rest.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd {
    use core::arch::wasm32::*;

    use super::{Coefficients, Taps, LANES};

    /// 16 bytes from `s` at `at` (bounds-checked).
    fn load(s: &[u8], at: usize) -> v128 {
        let s = &s[at..at + 16];
        // SAFETY: the slice above holds the 16 bytes read; v128_load reads unaligned.
        unsafe { v128_load(s.as_ptr().cast()) }
    }

    /// 8 bytes from `s` at `at` into the low half (bounds-checked).
    fn load8(s: &[u8], at: usize) -> v128 {
        let s = &s[at..at + 8];
        // SAFETY: the slice holds the 8 bytes read.
        unsafe { v128_load64_zero(s.as_ptr().cast()) }
    }

    pub fn vertical(sources: &[&[u8]], weights: &[i32], out: &mut [i16]) -> usize {
        let width = out.len();
        if sources.len() != weights.len() || sources.iter().any(|row| row.len() < width) {
            return 0;
        }
        // Rows two at a time: their bytes interleaved, times (w0, w1) pairs, summed in one
        // instruction (i32x4_dot_i16x8); an odd last row on its own.
        let pairs: Vec<(*const u8, *const u8, v128)> = sources
            .chunks_exact(2)
            .zip(weights.chunks_exact(2))
            .map(|(rows, w)| {
                let (w0, w1) = (w[0] as i16, w[1] as i16);
                (
                    rows[0].as_ptr(),
                    rows[1].as_ptr(),
                    i16x8(w0, w1, w0, w1, w0, w1, w0, w1),
                )
            })
            .collect();
        let odd = (sources.len() % 2 == 1).then(|| (sources[sources.len() - 1].as_ptr(), weights[weights.len() - 1]));
        let round = i32x4_splat(1 << 6);
        let mut x = 0;
        while x + 16 <= width {
            let (mut a, mut b, mut c, mut d) = (round, round, round, round);
            // SAFETY: every row holds at least `width` bytes (checked above) and x + 16 <= width.
            unsafe {
                for &(r0, r1, w) in &pairs {
                    let (v0, v1) = (v128_load(r0.add(x).cast()), v128_load(r1.add(x).cast()));
                    let low = i8x16_shuffle::<0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23>(v0, v1);
                    let high = i8x16_shuffle::<8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31>(v0, v1);
                    a = i32x4_add(a, i32x4_dot_i16x8(u16x8_extend_low_u8x16(low), w));
                    b = i32x4_add(b, i32x4_dot_i16x8(u16x8_extend_high_u8x16(low), w));
                    c = i32x4_add(c, i32x4_dot_i16x8(u16x8_extend_low_u8x16(high), w));
                    d = i32x4_add(d, i32x4_dot_i16x8(u16x8_extend_high_u8x16(high), w));
                }
                if let Some((row, w)) = odd {
                    let w = i16x8_splat(w as i16);
                    let v = v128_load(row.add(x).cast());
                    let (lo, hi) = (u16x8_extend_low_u8x16(v), u16x8_extend_high_u8x16(v));
                    a = i32x4_add(a, i32x4_extmul_low_i16x8(lo, w));
                    b = i32x4_add(b, i32x4_extmul_high_i16x8(lo, w));
                    c = i32x4_add(c, i32x4_extmul_low_i16x8(hi, w));
                    d = i32x4_add(d, i32x4_extmul_high_i16x8(hi, w));
                }
            }
            let first = i16x8_narrow_i32x4(i32x4_shr(a, 7), i32x4_shr(b, 7));
            let second = i16x8_narrow_i32x4(i32x4_shr(c, 7), i32x4_shr(d, 7));
            let o = &mut out[x..x + 16];
            // SAFETY: the slice holds the 32 bytes written (two unaligned stores of 16).
            unsafe {
                v128_store(o.as_mut_ptr().cast(), first);
                v128_store(o.as_mut_ptr().add(8).cast(), second);
            }
            x += 16;
        }
        x
    }

    pub fn horizontal(row: &[i16], taps: &Taps, out: &mut [u8]) -> usize {
        let padded = taps.padded;
        // Every read below lies in `row` and in the taps' lanes: checked once, here.
        if taps.reach > row.len() || out.len() > taps.first.len() {
            return 0;
        }
        let dot = |x: usize| -> v128 {
            // SAFETY: x < taps.first.len(); first[x] + padded <= reach <= row.len(); the lanes
            // hold `padded` weights for each of the first.len() outputs.
            unsafe {
                let source = row.as_ptr().add(*taps.first.get_unchecked(x));
                let weights = taps.lanes.as_ptr().add(x * padded);
                let mut sum = i32x4_splat(0);
                for g in (0..padded).step_by(LANES) {
                    let (v, w) = (v128_load(source.add(g).cast()), v128_load(weights.add(g).cast()));
                    sum = i32x4_add(sum, i32x4_dot_i16x8(v, w));
                }
                sum
            }
        };
        let round = i32x4_splat(1 << 20);
        let mut x = 0;
        while x + 4 <= out.len() {
            let (a, b, c, d) = (dot(x), dot(x + 1), dot(x + 2), dot(x + 3));
            // Each one's four partial sums into one lane: [a, b, c, d]
            let ab = i32x4_add(i32x4_shuffle::<0, 4, 1, 5>(a, b), i32x4_shuffle::<2, 6, 3, 7>(a, b));
            let cd = i32x4_add(i32x4_shuffle::<0, 4, 1, 5>(c, d), i32x4_shuffle::<2, 6, 3, 7>(c, d));
            let sums = i32x4_add(i32x4_shuffle::<0, 1, 4, 5>(ab, cd), i32x4_shuffle::<2, 3, 6, 7>(ab, cd));
            let values = i32x4_shr(i32x4_add(sums, round), 21);
            // to bytes, saturating: the clamp to 0..=255
            let words = i16x8_narrow_i32x4(values, values);
            let bytes = u8x16_narrow_i16x8(words, words);
            out[x..x + 4].copy_from_slice(&(i32x4_extract_lane::<0>(bytes) as u32).to_le_bytes());
            x += 4;
        }
        x
    }

    pub fn convert_row(y: &[u8], cb: &[u8], cr: &[u8], shared: usize, k: &Coefficients, out: &mut [u8]) -> usize {
        let width = out.len() / 4;
        let chroma_room = cb.len().min(cr.len());
        let (y_offset, y_scale) = (f32x4_splat(k.y_offset), f32x4_splat(k.y_scale));
        let (rv, gu, gv, bu) = (
            f32x4_splat(k.rv),
            f32x4_splat(k.gu),
            f32x4_splat(k.gv),
            f32x4_splat(k.bu),
        );
        let (half, centre) = (f32x4_splat(0.5), f32x4_splat(128.0));
        let (low, high, alpha) = (i32x4_splat(0), i32x4_splat(255), i32x4_splat(-16777216)); // 0xff000000
                                                                                             // Four f32 lanes from bytes `lane * 4..` of `v`.
        let floats = |v: v128, lane: usize| -> v128 {
            let words = match lane {
                0 => u32x4_extend_low_u16x8(u16x8_extend_low_u8x16(v)),
                1 => u32x4_extend_high_u16x8(u16x8_extend_low_u8x16(v)),
                2 => u32x4_extend_low_u16x8(u16x8_extend_high_u8x16(v)),
                _ => u32x4_extend_high_u16x8(u16x8_extend_high_u8x16(v)),
            };
            f32x4_convert_i32x4(words)
        };
        let byte = |v: v128| {
            i32x4_min(
                i32x4_max(i32x4_trunc_sat_f32x4(f32x4_floor(f32x4_add(v, half))), low),
                high,
            )
        };
        let mut x = 0;
        while x + 16 <= width {
            let c = x / shared;
            let (u, v) = match shared {
                1 if c + 16 <= chroma_room => (load(cb, c), load(cr, c)),
                2 if c + 8 <= chroma_room => {
                    let twice = |v| i8x16_shuffle::<0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7>(v, v);
                    (twice(load8(cb, c)), twice(load8(cr, c)))
                }
                _ => break,
            };
            let luma = load(y, x);
            for lane in 0..4 {
                let l = f32x4_mul(f32x4_sub(floats(luma, lane), y_offset), y_scale);
                let (u, v) = (f32x4_sub(floats(u, lane), centre), f32x4_sub(floats(v, lane), centre));
                let r = byte(f32x4_add(l, f32x4_mul(rv, v)));
                let g = byte(f32x4_sub(f32x4_sub(l, f32x4_mul(gu, u)), f32x4_mul(gv, v)));
                let b = byte(f32x4_add(l, f32x4_mul(bu, u)));
                let pixels = v128_or(v128_or(r, i32x4_shl(g, 8)), v128_or(i32x4_shl(b, 16), alpha));
                let o = &mut out[(x + lane * 4) * 4..][..16];
                // SAFETY: the slice holds the 16 bytes written.
                unsafe { v128_store(o.as_mut_ptr().cast(), pixels) };
            }
            x += 16;
        }
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// `height` rows of `stride` bytes of deterministic noise, with runs of the extremes (0, 255)
    /// where the filter's lobes saturate.
    fn picture(height: usize, stride: usize, seed: u32) -> Vec<u8> {
        let mut state = seed.wrapping_mul(2_654_435_761).max(1);
        (0..stride * height)
            .map(|i| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                match (i / 7) % 5 {
                    0 => 0,
                    1 => 255,
                    _ => state as u8,
                }
            })
            .collect()
    }

    /// The filter of [`scale_plane`] in the plainest form: every output from its two taps,
    /// integers as wide as they need, the intermediate rounded and saturated as swscale's.
    fn reference(plane: Plane, to: (usize, usize)) -> Vec<u8> {
        let (across, down) = (Taps::new(plane.width, to.0, 4), Taps::new(plane.height, to.1, 2));
        let mut out = Vec::new();
        for y in 0..to.1 {
            let (top, rows) = down.of(y);
            for x in 0..to.0 {
                let (left, columns) = across.of(x);
                let mut sum = 0i64;
                for (j, wx) in columns.iter().enumerate() {
                    let column: i64 = rows
                        .iter()
                        .enumerate()
                        .map(|(i, wy)| i64::from(*wy) * i64::from(plane.row(top + i)[left + j]))
                        .sum();
                    let intermediate = ((column + 64) >> 7).clamp(-32768, 32767);
                    sum += i64::from(*wx) * intermediate;
                }
                out.push(((sum + (1 << 20)) >> 21).clamp(0, 255) as u8);
            }
        }
        out
    }

    #[test]
    fn scaling_makes_the_filters_bytes_at_every_size() {
        // Sizes around the vector widths (16 down, 8 across), odd ones, strides wider than rows,
        // downscales by 1.5 to 12 and upscales.
        let cases = [
            ((1920, 1080), (640, 360)),
            ((960, 540), (320, 360)),
            ((17, 9), (5, 31)),
            ((33, 35), (16, 16)),
            ((15, 16), (31, 47)),
            ((200, 150), (199, 3)),
            ((1, 40), (7, 3)),
            ((640, 2), (33, 1)),
        ];
        for (i, ((w, h), to)) in cases.into_iter().enumerate() {
            let stride = w + (i % 3) * 5;
            let data = picture(h, stride, i as u32 + 1);
            let plane = Plane::new(&data, stride, w, h).unwrap();
            assert_eq!(scale_plane(plane, to), reference(plane, to), "{w}x{h} → {to:?}");
        }
    }

    #[test]
    fn a_flat_plane_stays_flat_and_the_same_size_is_a_copy() {
        let data = vec![77u8; 50 * 30];
        let flat = Plane::new(&data, 50, 50, 30).unwrap();
        assert!(scale_plane(flat, (13, 7)).iter().all(|&v| v == 77));
        assert!(scale_plane(flat, (121, 64)).iter().all(|&v| v == 77));
        let data = picture(5, 24, 9);
        let plane = Plane::new(&data, 24, 21, 5).unwrap();
        let copy = scale_plane(plane, (21, 5));
        assert_eq!(&copy[21..42], plane.row(1));
        assert!(Plane::new(&data, 24, 25, 5).is_none() && Plane::new(&data, 24, 21, 6).is_none());
    }

    /// The conversion in the plainest form: each pixel in f64 from its own chroma sample.
    #[test]
    fn conversion_gives_each_pixel_its_matrix_value() {
        let bt709 = Matrix {
            kr: 0.2126,
            kb: 0.0722,
            full_range: false,
        };
        for (shared, rows_shared, (w, h)) in [
            (2usize, 2usize, (37usize, 6usize)),
            (2, 1, (64, 3)),
            (1, 1, (35, 4)),
            (2, 2, (16, 2)),
        ] {
            let (cw, ch) = (w.div_ceil(shared), h.div_ceil(rows_shared));
            let (y, cb, cr) = (picture(h, w, 1), picture(ch, cw, 2), picture(ch, cw, 3));
            let (yp, cbp, crp) = (
                Plane::packed(&y, w, h).unwrap(),
                Plane::packed(&cb, cw, ch).unwrap(),
                Plane::packed(&cr, cw, ch).unwrap(),
            );
            let rgba = yuv_to_rgba(yp, cbp, crp, shared, rows_shared, bt709);
            let (kr, kb) = (0.2126f64, 0.0722f64);
            let kg = 1.0 - kr - kb;
            for (i, px) in rgba.chunks_exact(4).enumerate() {
                let (x, row) = (i % w, i / w);
                let c = row / rows_shared * cw + x / shared;
                let l = (f64::from(y[i]) - 16.0) * 255.0 / 219.0;
                let (u, v) = (
                    (f64::from(cb[c]) - 128.0) * 255.0 / 224.0,
                    (f64::from(cr[c]) - 128.0) * 255.0 / 224.0,
                );
                let want = [
                    l + 2.0 * (1.0 - kr) * v,
                    l - 2.0 * (1.0 - kb) * kb / kg * u - 2.0 * (1.0 - kr) * kr / kg * v,
                    l + 2.0 * (1.0 - kb) * u,
                ];
                for (got, want) in px.iter().zip(want) {
                    let want = want.round().clamp(0.0, 255.0);
                    // f32 against f64: a value within a hair of .5 may round either way
                    assert!((f64::from(*got) - want).abs() <= 1.0, "pixel {i}: {px:?} vs {want}");
                }
                assert_eq!(px[3], 255);
            }
            // and exactly the plain loop's bytes, whatever made them
            let k = Coefficients::new(bt709);
            for row in 0..h {
                let mut plain = vec![255u8; w * 4];
                let c = row / rows_shared;
                convert_row_from(0, yp.row(row), cbp.row(c), crp.row(c), shared, &k, &mut plain);
                assert_eq!(&rgba[row * w * 4..][..w * 4], &plain[..], "row {row}");
            }
        }
    }

    /// A `w` x `h` picture's three 8-bit planes, copied as `copyTo` writes `layout` (rows
    /// `pad` bytes longer than they need, planes one after the other).
    fn copied(
        layout: Layout,
        (w, h): (usize, usize),
        planes: [&[u8]; 3],
        pad: usize,
    ) -> (Vec<u8>, Vec<(usize, usize)>) {
        let (half_w, half_h) = layout.subsampled();
        let (cw, ch) = (
            if half_w { w.div_ceil(2) } else { w },
            if half_h { h.div_ceil(2) } else { h },
        );
        let (mut bytes, mut places) = (Vec::new(), Vec::new());
        let mut put = |rows: Vec<Vec<u8>>| {
            let stride = rows[0].len() + pad;
            places.push((bytes.len(), stride));
            for row in rows {
                bytes.extend(&row);
                bytes.extend(std::iter::repeat(0xAA).take(pad));
            }
        };
        let rows = |plane: &[u8], pw: usize, ph: usize| -> Vec<Vec<u8>> {
            (0..ph).map(|r| plane[r * pw..][..pw].to_vec()).collect()
        };
        let ten = |rows: Vec<Vec<u8>>| -> Vec<Vec<u8>> {
            rows.into_iter()
                .map(|r| r.iter().flat_map(|&v| (u16::from(v) << 2).to_le_bytes()).collect())
                .collect()
        };
        match layout {
            Layout::Nv12 => {
                put(rows(planes[0], w, h));
                put((0..ch)
                    .map(|r| {
                        (0..cw)
                            .flat_map(|x| [planes[1][r * cw + x], planes[2][r * cw + x]])
                            .collect()
                    })
                    .collect());
            }
            _ if layout.deep() => {
                put(ten(rows(planes[0], w, h)));
                put(ten(rows(planes[1], cw, ch)));
                put(ten(rows(planes[2], cw, ch)));
            }
            _ => {
                put(rows(planes[0], w, h));
                put(rows(planes[1], cw, ch));
                put(rows(planes[2], cw, ch));
            }
        }
        (bytes, places)
    }

    #[test]
    fn every_layout_of_a_picture_gives_its_pixels() {
        let m = Matrix {
            kr: 0.2126,
            kb: 0.0722,
            full_range: false,
        };
        for (w, h) in [(37usize, 24usize), (64, 36), (15, 9)] {
            let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
            let (y, cb, cr) = (picture(h, w, 4), picture(ch, cw, 5), picture(ch, cw, 6));
            let made = |layout, planes: [&[u8]; 3], size| {
                let (bytes, places) = copied(layout, (w, h), planes, 3);
                Planes::from_copy(layout, (w, h), bytes, &places, false)
                    .unwrap()
                    .to_rgba(size, m)
            };
            for size in [(w, h), (w / 2 + 1, h / 3 + 1)] {
                let i420 = made(Layout::I420, [&y, &cb, &cr], size);
                // NV12 is I420 interleaved; 10-bit the same samples shifted up (no unscaled
                // shortcut: compared with 8-bit where both scale)
                assert_eq!(
                    made(Layout::Nv12, [&y, &cb, &cr], size),
                    i420,
                    "NV12 {w}x{h} at {size:?}"
                );
                if size != (w, h) {
                    assert_eq!(
                        made(Layout::I420P10, [&y, &cb, &cr], size),
                        i420,
                        "10-bit {w}x{h} at {size:?}"
                    );
                }
            }
            // 4:2:2 shares each chroma sample by two pixels across: what 4:4:4 with each chroma
            // sample twice gives
            let (cb2, cr2) = (picture(h, cw, 7), picture(h, cw, 8));
            let twice = |c: &[u8]| -> Vec<u8> { (0..h).flat_map(|r| (0..w).map(move |x| c[r * cw + x / 2])).collect() };
            let (cb4, cr4) = (twice(&cb2), twice(&cr2));
            let i422 = made(Layout::I422, [&y, &cb2, &cr2], (w, h));
            let i444 = made(Layout::I444, [&y, &cb4, &cr4], (w, h));
            if h % 2 == 0 {
                assert_eq!(i422, i444, "4:2:2 {w}x{h}");
            }
            assert_eq!(
                made(Layout::I444P10, [&y, &cb4, &cr4], (w, h)),
                i444,
                "4:4:4 10-bit {w}x{h}"
            );
        }
        // 10-bit planes kept wide (HDR): the same R'G'B' at 16 bits as the 8-bit planes give,
        // scaled the same way, to a level or two (the 8-bit path rounds between its steps; on
        // smooth pictures: on noise its 15-bit intermediates saturate)
        for (w, h) in [(36usize, 24usize), (15, 9)] {
            let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
            let smooth = |pw: usize, ph: usize, a: usize, b: usize| -> Vec<u8> {
                (0..pw * ph)
                    .map(|i| (16 + (i % pw) * a / pw + (i / pw) * b / ph) as u8)
                    .collect()
            };
            let (y, cb, cr) = (smooth(w, h, 180, 40), smooth(cw, ch, 60, 160), smooth(cw, ch, 200, 30));
            let (bytes, places) = copied(Layout::I420P10, (w, h), [&y, &cb, &cr], 3);
            let planes = Planes::from_copy(Layout::I420P10, (w, h), bytes, &places, true).unwrap();
            for size in [(w / 2 + 1, h / 3 + 1), (w / 3, h / 2)] {
                let wide = planes.to_rgb16(size, m).unwrap();
                let eight = planes.to_rgba(size, m);
                let worst = wide
                    .iter()
                    .zip(&eight)
                    .map(|(&a, &b)| (i32::from(a >> 8) - i32::from(b)).abs())
                    .max();
                assert!(worst <= Some(2), "{w}x{h} at {size:?}: {worst:?}");
            }
            let (bytes, places) = copied(Layout::I420, (w, h), [&y, &cb, &cr], 0);
            let planes = Planes::from_copy(Layout::I420, (w, h), bytes, &places, true).unwrap();
            assert!(
                planes.to_rgb16((w, h), m).is_none(),
                "8-bit planes have no wide samples"
            );
        }
        // A plane that does not lie in what was copied: not read
        let (y, c) = (picture(8, 8, 1), picture(4, 4, 2));
        let (bytes, mut places) = copied(Layout::I420, (8, 8), [&y, &c, &c], 0);
        places[2].0 += 5;
        assert!(Planes::from_copy(Layout::I420, (8, 8), bytes.clone(), &places, false).is_none());
        assert!(Planes::from_copy(Layout::I420, (8, 8), bytes, &places[..2], false).is_none());
    }

    #[test]
    fn turning_moves_each_pixel_where_the_engine_puts_it() {
        // 3 x 2: pixel values are their index
        let rgba: Vec<u8> = (0..6u8).flat_map(|i| [i, i, i, 255]).collect();
        let order = |turned: Vec<u8>| turned.chunks_exact(4).map(|p| p[0]).collect::<Vec<_>>();
        assert_eq!(order(turn(rgba.clone(), 3, 2, 90)), [3, 0, 4, 1, 5, 2]);
        assert_eq!(order(turn(rgba.clone(), 3, 2, 180)), [5, 4, 3, 2, 1, 0]);
        assert_eq!(order(turn(rgba.clone(), 3, 2, 270)), [2, 5, 1, 4, 0, 3]);
        assert_eq!(order(turn(rgba, 3, 2, 0)), [0, 1, 2, 3, 4, 5]);
    }
}
