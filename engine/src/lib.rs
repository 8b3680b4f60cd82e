//! The thumbnail engine's Rust face: the C engine (`c/`, over FFmpeg) and its ABI.
//!
//! - [`layout`]: the engine's structs as bytes, for a host that reads them out of the wasm heap (the
//!   browser worker); no native code, builds for wasm32.
//! - [`formats`]: `c/formats.h`, the one list of containers, codecs and parsers, as Rust reads
//!   it (which codecs the wasm builds decode); no native code.
//! - [`webcodecs`]: the codec string and description another decoder (the browser's WebCodecs) is
//!   configured with for a stream the engine demuxes (`te_read_packets`); no native code either.
//! - with the `native` feature (default), [`Engine`]: `c/*.c` compiled against the system's
//!   FFmpeg (build.rs), the same source the wasm recipe (`recipe/build.sh`) links for the browser.
//!
//! What the engine is asked and answers (options, seek modes, video descriptions, errors) is the
//! vocabulary crate's, `thumbnail-vocabulary`.

pub mod formats;
pub mod layout;
#[cfg(feature = "native")]
mod native;
pub mod webcodecs;

#[cfg(feature = "native")]
pub use native::{status_name, Engine, Image, Interrupt, OpenOptions};
