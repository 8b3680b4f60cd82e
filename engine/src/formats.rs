//! The one list of what the engine is made for (`c/formats.h`), read by Rust: which codecs the
//! wasm builds decode themselves. No native code: the browser worker asks it before it gives up a
//! browser decoder's picture for its own.

const FORMATS_H: &str = include_str!("../c/formats.h");

/// The names in one of formats.h's lists (`TE_DECODERS`, ...): its `#define NAME "a,b,c"` line.
fn list(name: &str) -> impl Iterator<Item = &'static str> {
    let prefix = format!("#define {name} \"");
    FORMATS_H
        .lines()
        .find_map(|line| line.strip_prefix(prefix.as_str())?.strip_suffix('"'))
        .unwrap_or_else(|| panic!("{name} is not in c/formats.h"))
        .split(',')
}

/// Whether the wasm engine (st, mt) has a decoder of FFmpeg's codec `codec` ("h264", "av1").
pub fn wasm_decodes(codec: &str) -> bool {
    list("TE_DECODERS").any(|decoder| decoder == codec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_decoders_are_formats_h_s() {
        for codec in ["h264", "hevc", "vp8", "vp9", "mpeg4", "ffv1"] {
            assert!(wasm_decodes(codec), "{codec}");
        }
        // AV1 is decoded natively (Debian's libdav1d) and by browsers, not in wasm.
        for codec in ["av1", "png", "h26"] {
            assert!(!wasm_decodes(codec), "{codec}");
        }
    }
}
