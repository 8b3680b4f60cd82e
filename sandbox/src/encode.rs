//! RGBA frames to PNG (the frames crate's encoder, which the browser worker uses too), JPEG or
//! WebP with the well-kept encoder crates, and many frames to an
//! animated WebP (libwebp's animation encoder, through the `webp` crate). Most frames are opaque
//! and are encoded without alpha; a frame with transparency (QuickTime Animation, ProRes 4444 ...)
//! keeps it in PNG and WebP, as the browser's canvas keeps it (JPEG has none).

use thumbnail_engine::Image;
use thumbnail_frames::placeholder::PlaceholderAnswer;
use thumbnail_frames::Picture;
use thumbnail_vocabulary::Format;

use thumbnail_vocabulary::{Error as EngineError, ErrorKind};

use crate::failure::Failure;

/// A frame encoded as `format`; what the caller asked that cannot be encoded (a WebP wider than
/// 16383) is its error (`invalid_argument`), anything else ours.
pub fn encode(image: &Image, format: Format, quality: u8) -> Result<Vec<u8>, Failure> {
    let rgb = || -> Vec<u8> {
        image
            .rgba
            .chunks_exact(4)
            .flat_map(|px| [px[0], px[1], px[2]])
            .collect()
    };
    let failed = |e: &dyn std::fmt::Display| Failure::Internal(format!("encoding {}: {e}", format.extension()));
    let (width, height) = (image.width, image.height);
    match format {
        Format::Png => thumbnail_frames::png::encode(&image.rgba, width, height).map_err(|e| failed(&e)),
        Format::Jpeg => {
            let mut out = Vec::new();
            let side = |v: u32| u16::try_from(v).map_err(|_| failed(&"a JPEG side is at most 65535"));
            jpeg_encoder::Encoder::new(&mut out, quality)
                .encode(&rgb(), side(width)?, side(height)?, jpeg_encoder::ColorType::Rgb)
                .map_err(|e| failed(&e))?;
            Ok(out)
        }
        Format::Thumbhash => Ok(PlaceholderAnswer::json(width, height, image.time, &image.rgba)),
        // An animation is made by work.rs's make_animation, never here.
        Format::Gif => Err(Failure::Internal(
            "a GIF is an animation, made from several frames".into(),
        )),
        Format::Webp => {
            if width > 16383 || height > 16383 {
                return Err(Failure::from(EngineError::new(
                    ErrorKind::InvalidArgument,
                    "WebP images are at most 16383 pixels on a side",
                )));
            }
            let encoded = if image.rgba.chunks_exact(4).any(|px| px[3] != 255) {
                webp::Encoder::from_rgba(&image.rgba, width, height).encode(quality as f32)
            } else {
                webp::Encoder::from_rgb(&rgb(), width, height).encode(quality as f32)
            };
            Ok(encoded.to_vec())
        }
    }
}

/// An animated WebP of `frames` (all of one size), each shown 1/`fps` s, looping forever when
/// `looped`, lossy at `quality`. libwebp codes each frame as the rectangle that changed since the
/// one before.
pub fn encode_animated_webp(frames: &[Picture], fps: f64, looped: bool, quality: u8) -> Result<Vec<u8>, String> {
    let first = frames.first().ok_or("no frames to animate")?;
    let (width, height) = (first.width, first.height);
    if width > 16383 || height > 16383 {
        return Err(format!(
            "WebP images are at most 16383 pixels on a side, not {width}x{height}"
        ));
    }
    let transparent = frames.iter().any(|f| f.rgba.chunks_exact(4).any(|px| px[3] != 255));
    let rgb: Vec<Vec<u8>> = if transparent {
        Vec::new()
    } else {
        frames
            .iter()
            .map(|f| f.rgba.chunks_exact(4).flat_map(|px| [px[0], px[1], px[2]]).collect())
            .collect()
    };
    let mut config = webp::WebPConfig::new().map_err(|()| "libwebp's configuration".to_string())?;
    config.quality = f32::from(quality);
    config.alpha_compression = 1;
    let mut encoder = webp::AnimEncoder::new(width, height, &config);
    encoder.set_loop_count(if looped { 0 } else { 1 });
    let delay = 1000.0 / fps;
    let at = |i: usize| (i as f64 * delay).round() as i32;
    for (i, f) in frames.iter().enumerate() {
        let frame = if transparent {
            webp::AnimFrame::from_rgba(&f.rgba, width, height, at(i))
        } else {
            webp::AnimFrame::from_rgb(&rgb[i], width, height, at(i))
        };
        encoder.add_frame(frame);
    }
    // The crate ends the animation with a timestamp of 0, which libwebp takes as "the last frame
    // lasts as long as the one before" (checked: every frame 1/fps, the test decodes them).
    let encoded = encoder
        .try_encode()
        .map_err(|e| format!("encoding an animated WebP: {e:?}"))?;
    Ok(encoded.to_vec())
}
