//! The engine's errors, as one vocabulary for every host: the C engine's `te_status` codes,
//! their stable names (used in JSON and in JavaScript), and a message in words.

use std::fmt;

/// What went wrong, as the engine classifies it (`te_status` in engine.h).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Empty, text, an image: no media container found.
    NotMedia,
    /// A media container the engine recognises but does not read (RealMedia natively, ...).
    UnsupportedContainer,
    /// A media file without a video stream.
    NoVideo,
    /// A video stream whose codec this engine cannot decode.
    UnsupportedCodec,
    /// A recognised file that is broken: bad header, truncated, nothing decodes.
    Corrupt,
    /// Frames above the pixel limit.
    TooLarge,
    /// The engine ran out of memory.
    NoMemory,
    /// The file could not be opened or read.
    Io,
    /// A bad call or option: negative time, an unknown format, a path with a NUL byte ...
    InvalidArgument,
    /// The caller's interrupt was set (a timeout, a cancelled job).
    Interrupted,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 10] = [
        ErrorKind::NotMedia,
        ErrorKind::UnsupportedContainer,
        ErrorKind::NoVideo,
        ErrorKind::UnsupportedCodec,
        ErrorKind::Corrupt,
        ErrorKind::TooLarge,
        ErrorKind::NoMemory,
        ErrorKind::Io,
        ErrorKind::InvalidArgument,
        ErrorKind::Interrupted,
    ];

    /// The kind for a non-zero `te_status`; an unknown code is a bug in the engine, reported as
    /// an invalid argument rather than a panic.
    pub fn from_status(status: i32) -> ErrorKind {
        match status {
            1 => ErrorKind::NotMedia,
            2 => ErrorKind::NoVideo,
            3 => ErrorKind::UnsupportedCodec,
            4 => ErrorKind::Corrupt,
            5 => ErrorKind::TooLarge,
            6 => ErrorKind::NoMemory,
            7 => ErrorKind::Io,
            9 => ErrorKind::Interrupted,
            10 => ErrorKind::UnsupportedContainer,
            _ => ErrorKind::InvalidArgument,
        }
    }

    /// The engine's code for this kind.
    pub fn status(self) -> i32 {
        match self {
            ErrorKind::NotMedia => 1,
            ErrorKind::NoVideo => 2,
            ErrorKind::UnsupportedCodec => 3,
            ErrorKind::Corrupt => 4,
            ErrorKind::TooLarge => 5,
            ErrorKind::NoMemory => 6,
            ErrorKind::Io => 7,
            ErrorKind::InvalidArgument => 8,
            ErrorKind::Interrupted => 9,
            ErrorKind::UnsupportedContainer => 10,
        }
    }

    /// A stable name, the same as the C engine's `te_error_name`: "not_media", "no_video", ...
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::NotMedia => "not_media",
            ErrorKind::NoVideo => "no_video",
            ErrorKind::UnsupportedCodec => "unsupported_codec",
            ErrorKind::Corrupt => "corrupt",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::NoMemory => "no_memory",
            ErrorKind::Io => "io",
            ErrorKind::InvalidArgument => "invalid_argument",
            ErrorKind::Interrupted => "interrupted",
            ErrorKind::UnsupportedContainer => "unsupported_container",
        }
    }

    pub fn from_name(name: &str) -> Option<ErrorKind> {
        ErrorKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An engine error: its kind and the engine's explanation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_round_trip() {
        for kind in ErrorKind::ALL {
            assert_eq!(ErrorKind::from_status(kind.status()), kind);
            assert_eq!(ErrorKind::from_name(kind.name()), Some(kind));
        }
        assert_eq!(ErrorKind::from_name("nope"), None);
    }
}
