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

/// Where a code can come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The engine, in either host.
    Engine,
    /// The HTTP server only.
    Server,
    /// The JS API only (the browser side).
    Browser,
    /// The server and the JS API alike.
    Both,
}

/// One code a client can be given, in a `ThumbnailError` or a problem document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code {
    pub name: &'static str,
    pub origin: Origin,
}

impl Code {
    /// Can the HTTP server answer with it?
    pub fn from_server(self) -> bool {
        matches!(self.origin, Origin::Engine | Origin::Server | Origin::Both)
    }
}

const fn code(name: &'static str, origin: Origin) -> Code {
    Code { name, origin }
}

/// Every code a client can see, from any host: the source of the lists in `thumbnailer.d.ts`,
/// `openapi.json` and `app.js`, which a test compares with it. (The engine's `interrupted` never
/// reaches a client: the server says `timeout`, the browser stops its worker instead.)
pub const CODES: [Code; 29] = [
    code("not_media", Origin::Engine),
    code("unsupported_container", Origin::Engine),
    code("no_video", Origin::Engine),
    code("unsupported_codec", Origin::Engine),
    code("corrupt", Origin::Engine),
    code("too_large", Origin::Engine),
    code("no_memory", Origin::Engine),
    code("io", Origin::Engine),
    code("invalid_argument", Origin::Engine),
    code("timeout", Origin::Both),
    code("engine_crashed", Origin::Both),
    code("bad_request", Origin::Server),
    code("upload_too_large", Origin::Server),
    code("unsupported_media_type", Origin::Server),
    code("busy", Origin::Server),
    code("request_timeout", Origin::Server),
    code("internal", Origin::Server),
    code("not_found", Origin::Server),
    code("gone", Origin::Server),
    code("conflict", Origin::Server),
    code("idempotency_key_reused", Origin::Server),
    code("aborted", Origin::Browser),
    code("engine_unavailable", Origin::Browser),
    code("upload_declined", Origin::Browser),
    code("network", Origin::Browser),
    code("source_not_found", Origin::Browser),
    code("source_no_range", Origin::Browser),
    code("source_refused", Origin::Browser),
    code("source_changed", Origin::Browser),
];

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

    #[test]
    fn every_engine_kind_a_client_sees_is_a_code() {
        for kind in ErrorKind::ALL {
            let listed = CODES
                .iter()
                .any(|c| c.name == kind.name() && c.origin == Origin::Engine);
            assert_eq!(listed, kind != ErrorKind::Interrupted, "{kind}");
        }
        let mut names: Vec<_> = CODES.iter().map(|c| c.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), CODES.len(), "a code listed twice");
    }
}
