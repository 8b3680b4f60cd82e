//! Receiving the video: a multipart form with a `video` field (the tutorial's
//! `FormData.append('video', file)`) or a raw `video/*` / `application/octet-stream` body, streamed
//! to a temporary file chunk by chunk (memory stays constant whatever the size). The file is
//! deleted when the `Upload` is dropped, on every path.
//!
//! Limits, each checked before the bytes it guards are stored:
//! - `--max-uploads` bodies received at once and the `--temp-budget` of temporary bytes: a request
//!   past either is answered 503 without its body being read (a declared length is reserved up
//!   front; a chunked body reserves as it streams);
//! - `--max-upload` bytes, every part of a form and its framing counted, chunked or not (413);
//! - a form has at most `MAX_PARTS` parts, each part's headers at most `MAX_PART_HEAD` bytes and
//!   each part other than the video at most `MAX_OTHER_PART` bytes (400 / 413);
//! - the body may pause at most `--body-timeout`, and after that long must have kept
//!   `--min-upload-rate` on average (408).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::Request;
use axum::http::{header, HeaderMap};
use futures_util::{Stream, StreamExt};
use tempfile::NamedTempFile;
use tokio::io::AsyncWriteExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::AppState;

/// The multipart field that carries the video.
pub const FIELD: &str = "video";
/// Room for the multipart framing and small fields around the video.
const MULTIPART_OVERHEAD: u64 = 64 * 1024;
/// Parts in one form (the video, and a few fields a client may add).
const MAX_PARTS: usize = 16;
/// Bytes of one part's headers.
const MAX_PART_HEAD: usize = 8 * 1024;
/// Bytes of a part other than the video.
const MAX_OTHER_PART: u64 = 16 * 1024;
/// Most we keep reading of a body refused for its size or type, in time and bytes (see `discard`).
/// Independent of the upload limit, so that a small limit does not turn every slightly-too-large
/// upload into a reset.
const DISCARD_TIME: Duration = Duration::from_secs(5);
const DISCARD_BYTES: u64 = 64 * 1024 * 1024;

/// What all uploads share: the slots for bodies being received and the temporary-file budget.
pub struct Uploads {
    slots: Arc<Semaphore>,
    budget: Arc<Budget>,
}

impl Uploads {
    pub fn new(max_uploads: usize, temp_budget: u64, metrics: Arc<Metrics>) -> Uploads {
        metrics.upload_limit.set(max_uploads as i64);
        metrics.temp_budget.set(temp_budget as i64);
        Uploads {
            slots: Arc::new(Semaphore::new(max_uploads)),
            budget: Arc::new(Budget {
                used: AtomicU64::new(0),
                limit: temp_budget,
                metrics,
            }),
        }
    }
}

/// Bytes of temporary files in use, against the budget.
struct Budget {
    used: AtomicU64,
    limit: u64,
    metrics: Arc<Metrics>,
}

impl Budget {
    fn take(&self, bytes: u64) -> bool {
        let taken = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|&total| total <= self.limit)
            })
            .is_ok();
        if taken {
            self.metrics.temp_bytes.inc_by(bytes as i64);
        }
        taken
    }

    fn give_back(&self, bytes: u64) {
        self.used.fetch_sub(bytes, Ordering::AcqRel);
        self.metrics.temp_bytes.dec_by(bytes as i64);
    }
}

/// Part of the budget, held as long as its file exists.
struct Reservation {
    budget: Arc<Budget>,
    bytes: u64,
}

impl Reservation {
    /// Makes the reservation cover `size` bytes.
    fn cover(&mut self, size: u64) -> Result<(), ApiError> {
        if size > self.bytes {
            if !self.budget.take(size - self.bytes) {
                return Err(ApiError::Busy("its temporary storage is full"));
            }
            self.bytes = size;
        }
        Ok(())
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.give_back(self.bytes);
    }
}

/// An upload being received: its slot, given back when the body is in.
struct Receiving {
    _slot: OwnedSemaphorePermit,
    metrics: Arc<Metrics>,
}

impl Drop for Receiving {
    fn drop(&mut self) {
        self.metrics.uploads.dec();
    }
}

pub struct Upload {
    pub file: NamedTempFile,
    pub size: u64,
    /// The name the client gave the file, if any.
    pub filename: Option<String>,
    /// Dropped after `file` (fields drop in order): the budget is given back once the file is gone.
    _reservation: Reservation,
}

pub async fn receive(state: &AppState, request: Request) -> Result<Upload, ApiError> {
    let config = &state.config;
    let limit = config.max_upload;
    let content_type = header_str(request.headers(), header::CONTENT_TYPE)
        .unwrap_or_default()
        .to_owned();
    let boundary = multer::parse_boundary(&content_type).ok();
    let lower = content_type.to_ascii_lowercase();
    let raw = lower.starts_with("video/") || lower.starts_with("application/octet-stream");
    if boundary.is_none() && lower.starts_with("multipart/form-data") {
        let error = ApiError::BadRequest("the multipart/form-data Content-Type has no boundary".into());
        return Err(refuse(request, error));
    }
    if boundary.is_none() && !raw {
        return Err(refuse(request, unsupported_type(&lower)));
    }
    // A form's framing counts; the whole body is held to this, declared or not.
    let cap = if boundary.is_some() {
        limit + MULTIPART_OVERHEAD
    } else {
        limit
    };
    let declared = header_str(request.headers(), header::CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > cap) {
        return Err(refuse(request, ApiError::TooLarge { limit }));
    }

    // Room to receive it, or 503 before reading a byte of it.
    let uploads = &state.uploads;
    let Ok(slot) = uploads.slots.clone().try_acquire_owned() else {
        return Err(refuse(request, ApiError::Busy("too many uploads at once")));
    };
    state.metrics.uploads.inc();
    let receiving = Receiving {
        _slot: slot,
        metrics: state.metrics.clone(),
    };
    let mut reservation = Reservation {
        budget: uploads.budget.clone(),
        bytes: 0,
    };
    if let Err(e) = reservation.cover(declared.unwrap_or(0).min(limit)) {
        return Err(refuse(request, e));
    }

    let inner = Arc::new(Mutex::new(Some(request.into_body().into_data_stream())));
    let body = Guarded {
        inner: inner.clone(),
        received: 0,
        cap,
        limit,
        started: Instant::now(),
        idle: Box::pin(tokio::time::sleep(config.body_timeout())),
        body_timeout: config.body_timeout(),
        min_rate: config.min_upload_rate,
        framing: boundary.as_deref().map(Framing::new),
    };
    let received = match boundary {
        Some(boundary) => from_form(state, body, &boundary, reservation).await,
        None => spool(state, body, None, reservation).await,
    };
    drop(receiving);
    let upload = match received {
        Ok(upload) => upload,
        // Too slow: not worth waiting for the rest.
        Err(e @ ApiError::RequestTimeout(_)) => return Err(e),
        Err(e) => {
            // Refused part way (too large, a bad form, the budget): the rest is read and dropped
            // for a moment, so that the client sees the answer (see `discard`).
            let rest = inner.lock().expect("the body").take();
            if let Some(rest) = rest {
                tokio::spawn(discard(rest));
            }
            return Err(e);
        }
    };
    if upload.size == 0 {
        return Err(ApiError::BadRequest("the video is empty (0 bytes)".into()));
    }
    state.metrics.uploaded_bytes.inc_by(upload.size);
    Ok(upload)
}

fn unsupported_type(content_type: &str) -> ApiError {
    let shown = if content_type.is_empty() { "none" } else { content_type };
    ApiError::UnsupportedMediaType(format!(
        "send multipart/form-data with a `{FIELD}` field, or the video itself as video/* or application/octet-stream (Content-Type was {shown})"
    ))
}

/// The `video` part of a form, spooled; other parts are read (within their limits) and dropped.
async fn from_form(
    state: &AppState,
    body: Guarded,
    boundary: &str,
    reservation: Reservation,
) -> Result<Upload, ApiError> {
    let limit = state.config.max_upload;
    let constraints = multer::Constraints::new().size_limit(
        multer::SizeLimit::new()
            .whole_stream(body.cap)
            .per_field(MAX_OTHER_PART)
            .for_field(FIELD, limit),
    );
    let mut form = multer::Multipart::with_constraints(body, boundary, constraints);
    let mut seen = Vec::new();
    loop {
        let Some(field) = form.next_field().await.map_err(|e| form_error(e, limit))? else {
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
            continue; // the next call drains it, within MAX_OTHER_PART
        }
        let filename = field.file_name().map(str::to_owned);
        let stream = field.map(|chunk| chunk.map_err(|e| form_error(e, limit)));
        return spool(state, stream, filename, reservation).await;
    }
}

/// Writes the stream to a new temporary file, within the reserved budget.
async fn spool<S>(
    state: &AppState,
    mut stream: S,
    filename: Option<String>,
    mut reservation: Reservation,
) -> Result<Upload, ApiError>
where
    S: Stream<Item = Result<Bytes, ApiError>> + Unpin,
{
    let internal = |e: std::io::Error| ApiError::Internal(format!("spooling the upload: {e}"));
    let file = tempfile::Builder::new()
        .prefix("upload-")
        .tempfile_in(state.config.temp_dir())
        .map_err(internal)?;
    let mut out = tokio::fs::File::from_std(file.reopen().map_err(internal)?);
    let mut size = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        size += chunk.len() as u64;
        reservation.cover(size)?;
        out.write_all(&chunk).await.map_err(internal)?;
    }
    out.flush().await.map_err(internal)?;
    Ok(Upload {
        file,
        size,
        filename,
        _reservation: reservation,
    })
}

/// The request body with the limits on its size and pace, and on a form's framing.
struct Guarded {
    /// Shared with `receive`, which drains what is left of a refused body.
    inner: Arc<Mutex<Option<axum::body::BodyDataStream>>>,
    received: u64,
    /// Most bytes of body; `limit` is what the client is told.
    cap: u64,
    limit: u64,
    started: Instant,
    /// Fires when the body has paused for `body_timeout`.
    idle: Pin<Box<tokio::time::Sleep>>,
    body_timeout: Duration,
    min_rate: u64,
    framing: Option<Framing>,
}

impl Stream for Guarded {
    type Item = Result<Bytes, ApiError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let mut inner = this.inner.lock().expect("the body");
        let Some(inner) = inner.as_mut() else {
            return Poll::Ready(None);
        };
        match inner.poll_next_unpin(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                this.received += chunk.len() as u64;
                if this.received > this.cap {
                    return Poll::Ready(Some(Err(ApiError::TooLarge { limit: this.limit })));
                }
                if let Some(framing) = &mut this.framing {
                    if let Err(e) = framing.scan(&chunk) {
                        return Poll::Ready(Some(Err(e)));
                    }
                }
                let elapsed = this.started.elapsed();
                if this.min_rate > 0 && elapsed > this.body_timeout {
                    let floor = this.min_rate as f64 * elapsed.as_secs_f64();
                    if (this.received as f64) < floor {
                        return Poll::Ready(Some(Err(ApiError::RequestTimeout(format!(
                            "the upload is too slow: {} bytes in {:.0} s, below {} bytes/s",
                            this.received,
                            elapsed.as_secs_f64(),
                            this.min_rate
                        )))));
                    }
                }
                let deadline = tokio::time::Instant::now() + this.body_timeout;
                this.idle.as_mut().reset(deadline);
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(ApiError::BadRequest(format!("reading the body: {e}"))))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match this.idle.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(ApiError::RequestTimeout(format!(
                    "the upload stalled: nothing received for {} s",
                    this.body_timeout.as_secs_f64()
                ))))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

/// Watches a form's framing as it streams by: counts the parts and the bytes of each part's
/// headers, which the multipart parser would otherwise buffer without bound. It does not parse:
/// it finds the delimiter lines and the blank line that ends each part's headers.
struct Framing {
    /// `\r\n--boundary`: what starts every part (the first one after a virtual CRLF).
    delimiter: Vec<u8>,
    /// The end of the previous chunk, where a delimiter or a blank line may have begun.
    carry: Vec<u8>,
    /// In a part's headers: how many bytes of them so far.
    in_head: Option<usize>,
    /// Delimiters seen: one per part, and the closing one.
    delimiters: usize,
}

impl Framing {
    fn new(boundary: &str) -> Framing {
        Framing {
            delimiter: format!("\r\n--{boundary}").into_bytes(),
            carry: b"\r\n".to_vec(),
            in_head: None,
            delimiters: 0,
        }
    }

    fn scan(&mut self, chunk: &[u8]) -> Result<(), ApiError> {
        let mut data = std::mem::take(&mut self.carry);
        data.extend_from_slice(chunk);
        let mut at = 0;
        loop {
            match self.in_head {
                None => match memchr::memmem::find(&data[at..], &self.delimiter) {
                    Some(i) => {
                        at += i + self.delimiter.len();
                        self.delimiters += 1;
                        if self.delimiters > MAX_PARTS + 1 {
                            return Err(ApiError::BadRequest(format!(
                                "the form has more than {MAX_PARTS} parts"
                            )));
                        }
                        self.in_head = Some(0);
                    }
                    None => break,
                },
                Some(so_far) => match memchr::memmem::find(&data[at..], b"\r\n\r\n") {
                    Some(i) => {
                        Self::check_head(so_far + i)?;
                        at += i + 4;
                        self.in_head = None;
                    }
                    None => break,
                },
            }
        }
        // Keep what could be the start of the next delimiter (or blank line); count the rest.
        let keep = (data.len() - at).min(self.delimiter.len() - 1);
        if let Some(so_far) = self.in_head {
            let counted = so_far + (data.len() - at - keep);
            Self::check_head(counted)?;
            self.in_head = Some(counted);
        }
        self.carry = data.split_off(data.len() - keep);
        Ok(())
    }

    fn check_head(bytes: usize) -> Result<(), ApiError> {
        if bytes > MAX_PART_HEAD {
            return Err(ApiError::BadRequest(format!(
                "a part of the form has more than {MAX_PART_HEAD} bytes of headers"
            )));
        }
        Ok(())
    }
}

/// Refuses a request without storing its body, answering at once. A client that waits to be told
/// before sending it (`Expect: 100-continue`) never sends it; any other body is read and dropped
/// for a moment after the answer (see `discard`), on its own task.
pub fn refuse(request: Request, error: ApiError) -> ApiError {
    let waits = header_str(request.headers(), header::EXPECT).is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
    if !waits {
        tokio::spawn(discard(request.into_body().into_data_stream()));
    }
    error
}

/// Reads and drops the rest of a refused body, up to `DISCARD_BYTES` or `DISCARD_TIME`, while the
/// answer goes out: a client that reads the answer only after sending its whole body then sees it
/// instead of a reset connection, and the connection can serve its next request. Beyond that, it is closed.
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

/// A multipart failure as the client should hear it: our own limits and timeouts keep their
/// status (they reach the parser as stream errors); the parser's limits are 413s; the rest is a 400.
fn form_error(e: multer::Error, limit: u64) -> ApiError {
    match e {
        multer::Error::StreamReadFailed(inner) => match inner.downcast::<ApiError>() {
            Ok(ours) => *ours,
            Err(other) => ApiError::BadRequest(format!("reading the body: {other}")),
        },
        multer::Error::StreamSizeExceeded { .. } => ApiError::TooLarge { limit },
        multer::Error::FieldSizeExceeded { field_name, .. } if field_name.as_deref() == Some(FIELD) => {
            ApiError::TooLarge { limit }
        }
        multer::Error::FieldSizeExceeded { field_name, limit } => ApiError::BadRequest(format!(
            "the form field `{}` is larger than {limit} bytes (only `{FIELD}` may be large)",
            field_name.unwrap_or_default()
        )),
        other => ApiError::BadRequest(format!("malformed multipart body: {other}")),
    }
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::{Framing, MAX_PARTS, MAX_PART_HEAD};

    fn scan_in_pieces(body: &[u8], piece: usize) -> Result<usize, String> {
        let mut framing = Framing::new("XyZ");
        for chunk in body.chunks(piece) {
            framing.scan(chunk).map_err(|e| e.to_string())?;
        }
        Ok(framing.delimiters)
    }

    fn form(parts: usize, head_padding: usize) -> Vec<u8> {
        let mut body = Vec::new();
        for i in 0..parts {
            body.extend_from_slice(
                format!(
                    "--XyZ\r\nContent-Disposition: form-data; name=\"f{i}\"\r\nX-Pad: {}\r\n\r\nvalue {i}\r\n",
                    "p".repeat(head_padding)
                )
                .as_bytes(),
            );
        }
        body.extend_from_slice(b"--XyZ--\r\n");
        body
    }

    #[test]
    fn parts_are_counted_however_the_body_is_cut() {
        for piece in [1, 2, 3, 7, 64, 100_000] {
            // The closing delimiter is found too: n parts + 1.
            assert_eq!(scan_in_pieces(&form(3, 10), piece), Ok(4), "pieces of {piece}");
            assert!(scan_in_pieces(&form(MAX_PARTS, 10), piece).is_ok(), "pieces of {piece}");
            assert!(
                scan_in_pieces(&form(MAX_PARTS + 1, 10), piece).is_err(),
                "pieces of {piece}"
            );
        }
    }

    #[test]
    fn large_part_headers_are_refused_however_the_body_is_cut() {
        for piece in [1, 5, 4096, 100_000] {
            assert!(
                scan_in_pieces(&form(2, MAX_PART_HEAD - 200), piece).is_ok(),
                "pieces of {piece}"
            );
            let e = scan_in_pieces(&form(2, MAX_PART_HEAD + 10), piece).unwrap_err();
            assert!(e.contains("headers"), "{e}");
        }
        // Headers that never end are refused once past the limit, not buffered.
        let mut framing = Framing::new("XyZ");
        framing
            .scan(b"--XyZ\r\nContent-Disposition: form-data; name=\"video\"\r\n")
            .unwrap();
        let endless = vec![b'a'; MAX_PART_HEAD + 100];
        assert!(framing.scan(&endless).is_err());
    }
}
