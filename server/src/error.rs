//! Every error the HTTP API answers with, as RFC 9457 problem details
//! (`application/problem+json`). `code` uses the engine's vocabulary where the engine decided.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use thumbnail_vocabulary::{Error as EngineError, ErrorKind};

/// Seconds a client is told to wait when the server is busy.
pub const RETRY_AFTER_SECS: u32 = 2;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A missing or malformed field, parameter or body (400).
    #[error("{0}")]
    BadRequest(String),
    /// The upload is over the configured limit (413).
    #[error("the upload is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    /// The request body is not something that can hold a video (415).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The engine refused the video; the kind decides the status.
    #[error("{0}")]
    Engine(#[from] EngineError),
    /// No room for this request now: workers and queue full, too many uploads at once, the
    /// temporary-file budget spent, too many connections (503 + Retry-After). Says which.
    #[error("the server is busy ({0}); retry in a moment")]
    Busy(&'static str),
    /// The client was too slow: a stalled or too slow upload, or the whole request past its time (408).
    #[error("{0}")]
    RequestTimeout(String),
    /// The engine process died on this video (a crash, an abort, killed): 422. The server goes on.
    #[error("{0}")]
    EngineCrashed(String),
    /// The job ran past the time limit and was stopped (503).
    #[error("the video took longer than {0} s to process")]
    Timeout(f64),
    /// No such asynchronous job (404).
    #[error("{0}")]
    NotFound(String),
    /// The job's result has expired (410).
    #[error("{0}")]
    Gone(String),
    /// The job is not in a state for this: cancelling a finished job, the result of one still
    /// running (409).
    #[error("{0}")]
    Conflict(String),
    /// An asynchronous request's Idempotency-Key was sent before with another request (422).
    #[error("{0}")]
    IdempotencyKeyReused(String),
    /// A bug or a fault of the server's machine (500). The text goes to the log only: it may name
    /// paths; the client is told that something failed on the server's side.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Set on every error response, so the metrics can count problems by code.
#[derive(Clone, Copy)]
pub struct ProblemCode(pub &'static str);

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: String,
    /// The stable name a client can switch on ("not_media", "busy", ...).
    code: &'a str,
}

impl ApiError {
    /// The status, the stable code and a short title.
    fn describe(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request", "Bad request"),
            ApiError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "upload_too_large", "Upload too large"),
            ApiError::UnsupportedMediaType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Unsupported media type",
            ),
            ApiError::Busy(_) => (StatusCode::SERVICE_UNAVAILABLE, "busy", "Server busy"),
            ApiError::RequestTimeout(_) => (StatusCode::REQUEST_TIMEOUT, "request_timeout", "Request too slow"),
            ApiError::Timeout(_) => (StatusCode::SERVICE_UNAVAILABLE, "timeout", "Processing took too long"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal error"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found", "No such job"),
            ApiError::Gone(_) => (StatusCode::GONE, "gone", "The result has expired"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict", "Not in this state"),
            ApiError::IdempotencyKeyReused(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "The Idempotency-Key was used for another request",
            ),
            ApiError::EngineCrashed(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "engine_crashed",
                "The engine failed on this video",
            ),
            ApiError::Engine(e) => match e.kind {
                ErrorKind::NotMedia => (StatusCode::UNSUPPORTED_MEDIA_TYPE, e.kind.name(), "Not a video"),
                ErrorKind::UnsupportedContainer => (
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    e.kind.name(),
                    "Unsupported container",
                ),
                ErrorKind::NoVideo => (StatusCode::UNSUPPORTED_MEDIA_TYPE, e.kind.name(), "No video stream"),
                ErrorKind::UnsupportedCodec => (StatusCode::UNSUPPORTED_MEDIA_TYPE, e.kind.name(), "Unsupported codec"),
                ErrorKind::Corrupt => (StatusCode::UNPROCESSABLE_ENTITY, e.kind.name(), "Corrupt video"),
                ErrorKind::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, e.kind.name(), "Video frames too large"),
                ErrorKind::InvalidArgument => (StatusCode::BAD_REQUEST, e.kind.name(), "Bad request"),
                ErrorKind::NoMemory => (StatusCode::SERVICE_UNAVAILABLE, e.kind.name(), "Out of memory"),
                ErrorKind::Interrupted => (StatusCode::SERVICE_UNAVAILABLE, "timeout", "Processing took too long"),
                ErrorKind::Io => (StatusCode::INTERNAL_SERVER_ERROR, e.kind.name(), "Internal error"),
            },
        }
    }

    /// What the client is told: the error's own text, except where it may carry the server's
    /// internals (paths, OS errors), which stay in the log.
    fn detail(&self) -> String {
        match self {
            ApiError::Internal(_)
            | ApiError::Engine(EngineError {
                kind: ErrorKind::Io, ..
            }) => "the server failed to process the request; the failure is in its log".into(),
            other => other.to_string(),
        }
    }

    /// The problem document as JSON (what a failed job keeps).
    pub fn problem_json(&self) -> serde_json::Value {
        let (_, body) = self.problem();
        serde_json::from_slice(&body).expect("a problem is JSON")
    }

    /// The status and the problem+json body.
    pub fn problem(&self) -> (StatusCode, Vec<u8>) {
        let (status, code, title) = self.describe();
        let problem = Problem {
            kind: format!("/problems/{code}"),
            title,
            status: status.as_u16(),
            detail: self.detail(),
            code,
        };
        (status, serde_json::to_vec(&problem).expect("a problem serialises"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, _) = self.describe();
        if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE {
            tracing::error!(error = %self, "request failed");
        } else {
            tracing::info!(error = %self, code, "request refused");
        }
        let (status, body) = self.problem();
        let mut response = (status, body).into_response();
        response.extensions_mut().insert(ProblemCode(code));
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if matches!(self, ApiError::Busy(_)) {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use thumbnail_vocabulary::{Error as EngineError, ErrorKind, CODES};

    use super::ApiError;

    /// Every problem the server can send has a code of the vocabulary's list that the server may give.
    #[test]
    fn every_problem_code_is_in_the_vocabulary() {
        let mut errors = vec![
            ApiError::BadRequest(String::new()),
            ApiError::TooLarge { limit: 1 },
            ApiError::UnsupportedMediaType(String::new()),
            ApiError::Busy(""),
            ApiError::RequestTimeout(String::new()),
            ApiError::EngineCrashed(String::new()),
            ApiError::Timeout(1.0),
            ApiError::Internal(String::new()),
            ApiError::NotFound(String::new()),
            ApiError::Gone(String::new()),
            ApiError::Conflict(String::new()),
            ApiError::IdempotencyKeyReused(String::new()),
        ];
        errors.extend(ErrorKind::ALL.map(|kind| ApiError::Engine(EngineError::new(kind, ""))));
        for error in errors {
            // Exhaustive: a new variant does not compile until it is listed above.
            match &error {
                ApiError::BadRequest(_)
                | ApiError::TooLarge { .. }
                | ApiError::UnsupportedMediaType(_)
                | ApiError::Busy(_)
                | ApiError::RequestTimeout(_)
                | ApiError::EngineCrashed(_)
                | ApiError::Timeout(_)
                | ApiError::Internal(_)
                | ApiError::NotFound(_)
                | ApiError::Gone(_)
                | ApiError::Conflict(_)
                | ApiError::IdempotencyKeyReused(_)
                | ApiError::Engine(_) => {}
            }
            let (_, code, _) = error.describe();
            assert!(
                CODES.iter().any(|c| c.name == code && c.from_server()),
                "{error:?} answers `{code}`, which the vocabulary does not list as a server code"
            );
        }
    }
}
