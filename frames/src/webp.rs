//! An animated WebP from still WebP images of one size (the browser's canvas encodes each frame:
//! `convertToBlob({ type: 'image/webp' })`), for the browser worker, where libwebp's animation
//! encoder (the server's) does not run. This is the container only, as the WebP RIFF spec lays it
//! out (no crate writes it without libwebp): `VP8X` (animation, alpha), `ANIM` (loop count), and
//! one `ANMF` per frame holding that still's own `ALPH` + `VP8 ` or `VP8L` chunks unchanged, so
//! every frame is coded whole, at the canvas's quality.

/// One RIFF chunk: its four-character code and payload.
struct Chunk<'a> {
    code: [u8; 4],
    data: &'a [u8],
}

/// The chunks of a still WebP file (after `RIFF size WEBP`).
fn chunks(file: &[u8]) -> Result<Vec<Chunk<'_>>, String> {
    if file.len() < 12 || &file[..4] != b"RIFF" || &file[8..12] != b"WEBP" {
        return Err("a frame is not a WebP image".into());
    }
    let declared = u32::from_le_bytes(file[4..8].try_into().unwrap()) as usize;
    let body = file.get(12..(8 + declared).min(file.len())).unwrap_or_default();
    let mut out = Vec::new();
    let mut at = 0;
    while at + 8 <= body.len() {
        let code: [u8; 4] = body[at..at + 4].try_into().unwrap();
        let size = u32::from_le_bytes(body[at + 4..at + 8].try_into().unwrap()) as usize;
        let data = body
            .get(at + 8..at + 8 + size)
            .ok_or("a frame's WebP chunk runs past its end")?;
        out.push(Chunk { code, data });
        at += 8 + size + size % 2;
    }
    Ok(out)
}

fn put_chunk(out: &mut Vec<u8>, code: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(code);
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    if data.len() % 2 == 1 {
        out.push(0);
    }
}

fn u24(value: u32) -> [u8; 3] {
    let b = value.to_le_bytes();
    [b[0], b[1], b[2]]
}

/// The animation of `stills` (WebP files, `width` x `height` each), each shown 1/`fps` s,
/// looping forever when `looped`.
pub fn mux_animation(stills: &[Vec<u8>], width: u32, height: u32, fps: f64, looped: bool) -> Result<Vec<u8>, String> {
    if stills.is_empty() {
        return Err("no frames to animate".into());
    }
    if !(1..=16384).contains(&width) || !(1..=16384).contains(&height) {
        return Err(format!(
            "WebP images are at most 16384 pixels on a side, not {width}x{height}"
        ));
    }
    let duration = (1000.0 / fps).round().clamp(1.0, f64::from((1 << 24) - 1)) as u32;
    let mut frames = Vec::new();
    let mut alpha = false;
    for still in stills {
        // The image chunks; a still's own VP8X (its flags and size) is the animation's to say.
        let image: Vec<Chunk> = chunks(still)?
            .into_iter()
            .filter(|c| matches!(&c.code, b"ALPH" | b"VP8 " | b"VP8L"))
            .collect();
        if !image.iter().any(|c| matches!(&c.code, b"VP8 " | b"VP8L")) {
            return Err("a frame's WebP has no image".into());
        }
        // A lossless still says in its header whether it has alpha (bit 28 of its 32 after the signature).
        alpha |= image
            .iter()
            .any(|c| &c.code == b"ALPH" || (&c.code == b"VP8L" && c.data.len() >= 5 && c.data[4] & 0x10 != 0));
        let mut frame = Vec::new();
        frame.extend_from_slice(&u24(0)); // x / 2
        frame.extend_from_slice(&u24(0)); // y / 2
        frame.extend_from_slice(&u24(width - 1));
        frame.extend_from_slice(&u24(height - 1));
        frame.extend_from_slice(&u24(duration));
        frame.push(0b10); // do not blend with the frame before; no disposal (each frame is whole)
        for c in &image {
            put_chunk(&mut frame, &c.code, c.data);
        }
        frames.push(frame);
    }
    let mut body = b"WEBP".to_vec();
    let mut header = vec![0b10 | if alpha { 0b1_0000 } else { 0 }, 0, 0, 0];
    header.extend_from_slice(&u24(width - 1));
    header.extend_from_slice(&u24(height - 1));
    put_chunk(&mut body, b"VP8X", &header);
    let loops: u16 = if looped { 0 } else { 1 };
    let mut anim = [0u8; 6]; // background colour (transparent black), loop count
    anim[4..].copy_from_slice(&loops.to_le_bytes());
    put_chunk(&mut body, b"ANIM", &anim);
    for frame in &frames {
        put_chunk(&mut body, b"ANMF", frame);
    }
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lossless still WebP of a `width` x `height` picture (image-webp's encoder), without
    /// alpha when it is opaque (as the canvas writes one).
    fn still(width: u32, height: u32, rgba: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let encoder = image_webp::WebPEncoder::new(&mut out);
        if rgba.chunks(4).all(|px| px[3] == 255) {
            let rgb: Vec<u8> = rgba.chunks(4).flat_map(|px| [px[0], px[1], px[2]]).collect();
            encoder
                .encode(&rgb, width, height, image_webp::ColorType::Rgb8)
                .unwrap();
        } else {
            encoder
                .encode(rgba, width, height, image_webp::ColorType::Rgba8)
                .unwrap();
        }
        out
    }

    #[test]
    fn stills_become_frames_of_their_duration() {
        let (w, h) = (17, 9); // odd sizes: padded chunks
        let a: Vec<u8> = (0..w * h).flat_map(|i| [(i * 3) as u8, 40, 200, 255]).collect();
        let b: Vec<u8> = (0..w * h).flat_map(|i| [90, (i * 5) as u8, 10, 255]).collect();
        let c: Vec<u8> = (0..w * h).flat_map(|i| [1, 2, (i * 7) as u8, 128]).collect();
        let bytes = mux_animation(&[still(w, h, &a), still(w, h, &b), still(w, h, &c)], w, h, 4.0, false).unwrap();
        let mut decoder = image_webp::WebPDecoder::new(std::io::Cursor::new(&bytes)).unwrap();
        assert!(decoder.is_animated());
        assert_eq!(decoder.dimensions(), (w, h));
        assert_eq!(decoder.num_frames(), 3);
        assert_eq!(
            decoder.loop_count(),
            image_webp::LoopCount::Times(1.try_into().unwrap())
        );
        assert!(decoder.has_alpha());
        let mut frame = vec![0u8; (w * h * 4) as usize];
        for want in [&a, &b, &c] {
            let shown = decoder.read_frame(&mut frame).unwrap();
            assert_eq!(shown, 250);
            assert_eq!(&frame, want, "lossless stills come out as they went in");
        }
        // Looping forever; opaque stills make an opaque animation.
        let looped = mux_animation(&[still(w, h, &a)], w, h, 5.0, true).unwrap();
        let decoder = image_webp::WebPDecoder::new(std::io::Cursor::new(&looped)).unwrap();
        assert_eq!(decoder.loop_count(), image_webp::LoopCount::Forever);
        assert!(!decoder.has_alpha());
        // Not WebP, or nothing: refused.
        assert!(mux_animation(&[b"GIF89a....".to_vec()], w, h, 5.0, true).is_err());
        assert!(mux_animation(&[], w, h, 5.0, true).is_err());
    }
}
