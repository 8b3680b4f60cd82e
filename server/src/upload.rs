//! Receiving the video: a multipart form with a `video` field (the tutorial's
//! `FormData.append('video', file)`) or a raw `video/*` / `application/octet-stream` body, streamed
//! to a temporary file chunk by chunk (memory stays constant whatever the size). The file is
//! deleted when the `Upload` is dropped, on every path.

use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{header, HeaderMap};
use futures_util::{Stream, StreamExt};
use tempfile::NamedTempFile;
use tokio::io::AsyncWriteExt;

use crate::error::ApiError;
use crate::AppState;

/// The multipart field that carries the video.
pub const FIELD: &str = "video";
/// Room for the multipart framing around the video when checking Content-Length up front.
const MULTIPART_OVERHEAD: u64 = 64 * 1024;
/// Most we keep reading of a refused body, in time and bytes (see `discard`). Independent of the
/// upload limit, so that a small limit does not turn every slightly-too-large upload into a reset.
const DISCARD_TIME: std::time::Duration = std::time::Duration::from_secs(5);
const DISCARD_BYTES: u64 = 64 * 1024 * 1024;

pub struct Upload {
    pub file: NamedTempFile,
    pub size: u64,
    /// The name the client gave the file, if any.
    pub filename: Option<String>,
}

pub async fn receive(state: &AppState, request: Request) -> Result<Upload, ApiError> {
    let limit = state.config.max_upload;
    let content_type = header_str(request.headers(), header::CONTENT_TYPE)
        .unwrap_or_default()
        .to_ascii_lowercase();
    let declared = header_str(request.headers(), header::CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok());
    let multipart = content_type.starts_with("multipart/form-data");
    if declared.is_some_and(|len| len > limit + if multipart { MULTIPART_OVERHEAD } else { 0 }) {
        discard(request.into_body().into_data_stream()).await;
        return Err(ApiError::TooLarge { limit });
    }

    let upload = if multipart {
        let mut form = Multipart::from_request(request, &())
            .await
            .map_err(|e| ApiError::BadRequest(e.body_text()))?;
        let mut seen = Vec::new();
        loop {
            let field = form.next_field().await.map_err(|e| multipart_error(e, limit))?;
            let Some(field) = field else {
                let names = if seen.is_empty() {
                    "none".to_string()
                } else {
                    seen.join(", ")
                };
                return Err(ApiError::BadRequest(format!(
                    "the form has no `{FIELD}` field (fields sent: {names}); send the file as FormData.append('{FIELD}', file)"
                )));
            };
            let name = field.name().unwrap_or_default().to_string();
            if name != FIELD {
                seen.push(format!("`{name}`"));
                continue; // skipping a field drains it
            }
            let filename = field.file_name().map(str::to_owned);
            let stream = field.map(|chunk| chunk.map_err(|e| multipart_error(e, limit)));
            break spool(state, stream, filename).await?;
        }
    } else if content_type.starts_with("video/") || content_type.starts_with("application/octet-stream") {
        let stream = request
            .into_body()
            .into_data_stream()
            .map(|chunk| chunk.map_err(|e| ApiError::BadRequest(format!("reading the body: {e}"))));
        spool(state, stream, None).await?
    } else {
        discard(request.into_body().into_data_stream()).await;
        let shown = if content_type.is_empty() {
            "none".to_string()
        } else {
            content_type
        };
        return Err(ApiError::UnsupportedMediaType(format!(
            "send multipart/form-data with a `{FIELD}` field, or the video itself as video/* or application/octet-stream (Content-Type was {shown})"
        )));
    };
    if upload.size == 0 {
        return Err(ApiError::BadRequest("the video is empty (0 bytes)".into()));
    }
    state.metrics.uploaded_bytes.inc_by(upload.size);
    Ok(upload)
}

/// Writes the stream to a new temporary file, refusing it past the size limit.
async fn spool<S, B>(state: &AppState, mut stream: S, filename: Option<String>) -> Result<Upload, ApiError>
where
    S: Stream<Item = Result<B, ApiError>> + Unpin,
    B: AsRef<[u8]>,
{
    let limit = state.config.max_upload;
    let internal = |e: std::io::Error| ApiError::Internal(format!("spooling the upload: {e}"));
    let file = tempfile::Builder::new()
        .prefix("upload-")
        .tempfile_in(state.config.temp_dir())
        .map_err(internal)?;
    let mut out = tokio::fs::File::from_std(file.reopen().map_err(internal)?);
    let mut size = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        let bytes = chunk.as_ref();
        size += bytes.len() as u64;
        if size > limit {
            discard(stream).await;
            return Err(ApiError::TooLarge { limit });
        }
        out.write_all(bytes).await.map_err(internal)?;
    }
    out.flush().await.map_err(internal)?;
    Ok(Upload { file, size, filename })
}

/// Refuses a request without spooling its body: reads and drops it first (see `discard`).
pub async fn refuse(request: Request, error: ApiError) -> ApiError {
    discard(request.into_body().into_data_stream()).await;
    error
}

/// Reads and drops the rest of a refused body, up to `DISCARD_BYTES` or `DISCARD_TIME`, so that the client
/// (which sends the whole body before it reads the answer) gets to see the answer instead of a broken
/// connection, and the connection can serve its next request. Beyond that, it is closed.
async fn discard<S, B, E>(mut stream: S)
where
    S: Stream<Item = Result<B, E>> + Unpin,
    B: AsRef<[u8]>,
{
    let drain = async {
        let mut dropped = 0u64;
        while let Some(Ok(chunk)) = stream.next().await {
            dropped += chunk.as_ref().len() as u64;
            if dropped > DISCARD_BYTES {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(DISCARD_TIME, drain).await;
}

fn multipart_error(e: axum::extract::multipart::MultipartError, limit: u64) -> ApiError {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::TooLarge { limit }
    } else {
        ApiError::BadRequest(format!("malformed multipart body: {}", e.body_text()))
    }
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}
