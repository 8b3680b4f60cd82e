//! What a job reads: the user's File or Blob (mounted with WORKERFS, read in place), or a URL read
//! in HTTP Range requests (CORS), block by block as the engine asks, never whole. A URL is first
//! asked for its first byte (asynchronously, so that a server that ignores Range is found out
//! before it sends the whole file); the engine's reads are then synchronous XMLHttpRequests, which a
//! worker may make. The failures are typed: `source_not_found` (404, 410), `source_no_range` (a
//! server that answers a range with the whole file), `source_refused` (CORS refused, unreachable,
//! 401/403, another status).

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use js_sys::Uint8Array;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, Blob, Headers, RequestInit, Response, XmlHttpRequest, XmlHttpRequestResponseType};

use crate::engine::Failure;

/// Bytes a Range request asks for at once, and how many such blocks are kept.
const BLOCK: u64 = 256 * 1024;
const KEPT_BLOCKS: usize = 32;

pub enum Source {
    File(Blob),
    Url(Rc<RangeReader>),
}

impl Source {
    /// A File or Blob, or a URL (a string: the JS API made it absolute), its size found out first.
    pub async fn from_js(value: &JsValue) -> Result<Source, Failure> {
        if let Some(url) = value.as_string() {
            return Ok(Source::Url(Rc::new(RangeReader::open(url).await?)));
        }
        match value.dyn_ref::<Blob>() {
            Some(blob) => Ok(Source::File(blob.clone())),
            None => Err(refused("invalid_argument", "pass a File, a Blob or a URL".into())),
        }
    }
}

fn refused(code: &str, message: String) -> Failure {
    Failure {
        code: code.into(),
        message,
        fatal: false,
    }
}

/// A URL's bytes, read in blocks by synchronous Range requests, the last blocks kept.
pub struct RangeReader {
    url: String,
    pub size: u64,
    blocks: RefCell<(HashMap<u64, Rc<Vec<u8>>>, VecDeque<u64>)>,
    /// Bytes fetched so far.
    pub fetched: Cell<u64>,
    /// Why a read failed: the engine then says only "cannot read".
    pub failure: RefCell<Option<Failure>>,
}

impl RangeReader {
    /// Asks for the first byte: the answer says whether the URL is there, may be read from
    /// another origin, serves ranges, and how long it is.
    async fn open(url: String) -> Result<RangeReader, Failure> {
        let scope: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
        let controller = AbortController::new().map_err(|_| refused("source_refused", "no AbortController".into()))?;
        let headers = Headers::new().map_err(|_| refused("source_refused", "no Headers".into()))?;
        let _ = headers.set("Range", "bytes=0-0");
        let init = RequestInit::new();
        init.set_headers(&headers);
        init.set_signal(Some(&controller.signal()));
        let response: Response = match JsFuture::from(scope.fetch_with_str_and_init(&url, &init)).await {
            Ok(r) => r.unchecked_into(),
            Err(_) => {
                return Err(refused(
                    "source_refused",
                    format!("{url} could not be read: the server is unreachable or does not allow this page to read it (CORS)"),
                ))
            }
        };
        let status = response.status();
        let size = match status {
            206 => {
                let header = response.headers().get("Content-Range").ok().flatten();
                let total = header.as_deref().and_then(|h| h.rsplit('/').next()).and_then(|n| n.parse().ok());
                controller.abort();
                match total {
                    Some(size) => size,
                    // Content-Range not exposed to this origin: its length from a HEAD request.
                    None => head_length(&url).await?,
                }
            }
            200 => {
                controller.abort(); // not the whole file
                return Err(refused(
                    "source_no_range",
                    format!("{url} is served without HTTP Range requests (it answered with the whole file): only a server that serves byte ranges can be read without downloading it all"),
                ));
            }
            404 | 410 => return Err(refused("source_not_found", format!("{url}: not found (HTTP {status})"))),
            _ => return Err(refused("source_refused", format!("{url}: the server refused it (HTTP {status})"))),
        };
        Ok(RangeReader {
            url,
            size,
            blocks: RefCell::new((HashMap::new(), VecDeque::new())),
            fetched: Cell::new(0),
            failure: RefCell::new(None),
        })
    }

    /// Copies up to `out.len()` bytes at `offset` into `out`; how many (0 at the end).
    pub fn read(&self, offset: u64, out: &mut [u8]) -> Result<usize, Failure> {
        let mut done = 0;
        while done < out.len() && offset + (done as u64) < self.size {
            let at = offset + done as u64;
            let block = self.block(at / BLOCK)?;
            let inside = (at % BLOCK) as usize;
            let n = (block.len().saturating_sub(inside)).min(out.len() - done);
            if n == 0 {
                break;
            }
            out[done..done + n].copy_from_slice(&block[inside..inside + n]);
            done += n;
        }
        Ok(done)
    }

    fn block(&self, index: u64) -> Result<Rc<Vec<u8>>, Failure> {
        if let Some(block) = self.blocks.borrow().0.get(&index) {
            return Ok(block.clone());
        }
        let start = index * BLOCK;
        let end = (start + BLOCK).min(self.size) - 1;
        let bytes = Rc::new(self.fetch(start, end)?);
        let mut blocks = self.blocks.borrow_mut();
        blocks.0.insert(index, bytes.clone());
        blocks.1.push_back(index);
        if blocks.1.len() > KEPT_BLOCKS {
            if let Some(old) = blocks.1.pop_front() {
                blocks.0.remove(&old);
            }
        }
        Ok(bytes)
    }

    /// Bytes start..=end by one synchronous Range request.
    fn fetch(&self, start: u64, end: u64) -> Result<Vec<u8>, Failure> {
        let failed = |message: String| refused("source_refused", message);
        let xhr = XmlHttpRequest::new().map_err(|_| failed("no XMLHttpRequest".into()))?;
        xhr.open_with_async("GET", &self.url, false)
            .map_err(|_| failed(format!("{}: cannot be requested", self.url)))?;
        xhr.set_response_type(XmlHttpRequestResponseType::Arraybuffer);
        let _ = xhr.set_request_header("Range", &format!("bytes={start}-{end}"));
        if xhr.send().is_err() {
            return Err(failed(format!(
                "{}: the server stopped answering, or does not allow this page to read it (CORS)",
                self.url
            )));
        }
        let status = xhr.status().unwrap_or(0);
        match status {
            206 => {}
            200 => {
                return Err(refused(
                    "source_no_range",
                    format!("{} stopped serving byte ranges", self.url),
                ))
            }
            404 | 410 => return Err(refused("source_not_found", format!("{}: not found (HTTP {status})", self.url))),
            _ => return Err(failed(format!("{}: HTTP {status} for bytes {start}-{end}", self.url))),
        }
        let body = xhr.response().map_err(|_| failed("no response".into()))?;
        let bytes = Uint8Array::new(&body).to_vec();
        self.fetched.set(self.fetched.get() + bytes.len() as u64);
        if bytes.len() as u64 != end - start + 1 {
            return Err(failed(format!(
                "{}: {} bytes for a range of {} (the file changed?)",
                self.url,
                bytes.len(),
                end - start + 1
            )));
        }
        Ok(bytes)
    }
}

/// A URL's Content-Length by a HEAD request (for a server that does not expose Content-Range).
async fn head_length(url: &str) -> Result<u64, Failure> {
    let scope: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    let init = RequestInit::new();
    init.set_method("HEAD");
    let response: Response = JsFuture::from(scope.fetch_with_str_and_init(url, &init))
        .await
        .map_err(|_| refused("source_refused", format!("{url}: its length cannot be asked")))?
        .unchecked_into();
    response
        .headers()
        .get("Content-Length")
        .ok()
        .flatten()
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| {
            refused(
                "source_no_range",
                format!("{url}: the server says neither the range it sent nor the file's length"),
            )
        })
}
