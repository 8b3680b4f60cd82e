//! RGBA frames to PNG, JPEG or WebP with the well-kept encoder crates. Most frames are opaque and
//! are encoded without alpha; a frame with transparency (QuickTime Animation, ProRes 4444 ...)
//! keeps it in PNG and WebP, as the browser's canvas keeps it (JPEG has none).

use thumbnail_engine::Image;
use thumbnail_vocabulary::Format;

use crate::error::ApiError;

pub fn encode(image: &Image, format: Format, quality: u8) -> Result<Vec<u8>, ApiError> {
    let rgb: Vec<u8> = image
        .rgba
        .chunks_exact(4)
        .flat_map(|px| [px[0], px[1], px[2]])
        .collect();
    let failed = |e: &dyn std::fmt::Display| ApiError::Internal(format!("encoding {}: {e}", format.extension()));
    let (width, height) = (image.width, image.height);
    let transparent = format != Format::Jpeg && image.rgba.chunks_exact(4).any(|px| px[3] != 255);
    match format {
        Format::Png => {
            let (color, pixels) = if transparent {
                (png::ColorType::Rgba, &image.rgba)
            } else {
                (png::ColorType::Rgb, &rgb)
            };
            let mut out = Vec::new();
            let mut encoder = png::Encoder::new(&mut out, width, height);
            encoder.set_color(color);
            encoder.set_depth(png::BitDepth::Eight);
            encoder.set_compression(png::Compression::Fast);
            let mut writer = encoder.write_header().map_err(|e| failed(&e))?;
            writer.write_image_data(pixels).map_err(|e| failed(&e))?;
            writer.finish().map_err(|e| failed(&e))?;
            Ok(out)
        }
        Format::Jpeg => {
            let mut out = Vec::new();
            let side = |v: u32| u16::try_from(v).map_err(|_| failed(&"a JPEG side is at most 65535"));
            jpeg_encoder::Encoder::new(&mut out, quality)
                .encode(&rgb, side(width)?, side(height)?, jpeg_encoder::ColorType::Rgb)
                .map_err(|e| failed(&e))?;
            Ok(out)
        }
        // An animation is made by engine_job::make_gif, never here.
        Format::Gif => Err(ApiError::Internal(
            "a GIF is an animation, made from several frames".into(),
        )),
        Format::Webp => {
            if width > 16383 || height > 16383 {
                return Err(ApiError::BadRequest(
                    "WebP images are at most 16383 pixels on a side".into(),
                ));
            }
            let encoded = if transparent {
                webp::Encoder::from_rgba(&image.rgba, width, height).encode(quality as f32)
            } else {
                webp::Encoder::from_rgb(&rgb, width, height).encode(quality as f32)
            };
            Ok(encoded.to_vec())
        }
    }
}
