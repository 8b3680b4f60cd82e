//! What a job reads, block by block as the engine asks (`te_open_reader`), never whole: the user's
//! File or Blob (each block a `FileReaderSync` read of a slice: read in place, nothing copied
//! before it is needed), or a URL (each block an HTTP Range request, CORS). A URL is first asked
//! for its first byte (asynchronously, so that a server that ignores Range is found out before it
//! sends the whole file); the engine's reads are then synchronous XMLHttpRequests, which a worker
//! may make. The failures are typed: `source_not_found` (404, 410), `source_no_range` (a server
//! that answers a range with the whole file), `source_refused` (CORS refused, unreachable,
//! 401/403, another status), `source_changed` (the file changed between two requests: its ETag,
//! Last-Modified or length differ from the first answer's, or the server, asked `If-Range` with
//! the first answer's validator, sent the whole file; or an answer's Content-Range is not the
//! range asked). The last blocks are kept: the engine reads its 64 KB at a time and seeks back
//! and forth in a few places.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use js_sys::Uint8Array;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AbortController, Blob, FileReaderSync, Headers, RequestInit, Response, XmlHttpRequest, XmlHttpRequestResponseType,
};

use crate::engine::Failure;

/// Bytes a Range request asks for at once, and how many such blocks are kept.
const BLOCK: u64 = 256 * 1024;
const KEPT_BLOCKS: usize = 32;

/// Where a source's blocks come from.
enum Backend {
    Blob(Blob, FileReaderSync),
    Url(Remote),
}

/// A URL and what its first answer said of the file, which every later answer must say too.
struct Remote {
    url: String,
    /// A strong ETag (a weak one cannot validate a range), else Last-Modified: sent as If-Range
    /// to a URL of the page's own origin (to another, If-Range would need a CORS preflight that
    /// servers allowing Range alone refuse; the answers' validators are compared instead).
    validator: Option<String>,
    etag: Option<String>,
    last_modified: Option<String>,
}

/// A response header's value, if the response has it and the page may read it.
fn header_of(get: impl Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    get(name).filter(|v| !v.is_empty())
}

/// `bytes <first>-<last>/<total>` (the total may be `*`).
fn content_range(value: &str) -> Option<(u64, u64, Option<u64>)> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (first, last) = range.split_once('-')?;
    Some((
        first.trim().parse().ok()?,
        last.trim().parse().ok()?,
        total.trim().parse().ok(),
    ))
}

fn refused(code: &str, message: String) -> Failure {
    Failure {
        code: code.into(),
        message,
        fatal: false,
    }
}

/// A video's bytes, read in blocks, the last blocks kept.
pub struct Source {
    backend: Backend,
    pub size: u64,
    blocks: RefCell<(HashMap<u64, Rc<Vec<u8>>>, VecDeque<u64>)>,
    /// Why a read failed: the engine then says only "cannot read".
    pub failure: RefCell<Option<Failure>>,
}

impl Source {
    /// A File or Blob, or a URL (a string: the JS API made it absolute), its size found out first.
    pub async fn from_js(value: &JsValue) -> Result<Rc<Source>, Failure> {
        if let Some(url) = value.as_string() {
            return Ok(Rc::new(Source::open_url(url).await?));
        }
        let blob = value
            .dyn_ref::<Blob>()
            .ok_or_else(|| refused("invalid_argument", "pass a File, a Blob or a URL".into()))?;
        // The engine's reads are synchronous: without FileReaderSync this browser cannot run it on
        // a file (engine_unavailable: `engine: 'auto'` offers the server).
        let reader = FileReaderSync::new().map_err(|_| Failure {
            code: "engine_unavailable".into(),
            message: "this browser's workers have no FileReaderSync, which the engine reads files with".into(),
            fatal: false,
        })?;
        Ok(Rc::new(Source::new(
            Backend::Blob(blob.clone(), reader),
            blob.size() as u64,
        )))
    }

    fn new(backend: Backend, size: u64) -> Source {
        Source {
            backend,
            size,
            blocks: RefCell::new((HashMap::new(), VecDeque::new())),
            failure: RefCell::new(None),
        }
    }

    /// Asks for the first byte: the answer says whether the URL is there, may be read from
    /// another origin, serves ranges, and how long it is.
    async fn open_url(url: String) -> Result<Source, Failure> {
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
                    format!(
                    "{url} could not be read: the server is unreachable or does not allow this page to read it (CORS)"
                ),
                ))
            }
        };
        let status = response.status();
        let get = |name: &str| response.headers().get(name).ok().flatten();
        let etag = header_of(&get, "ETag");
        let last_modified = header_of(&get, "Last-Modified");
        let same_origin = url.starts_with(&format!("{}/", scope.location().origin()));
        let validator = etag
            .clone()
            .filter(|e| !e.starts_with("W/"))
            .or_else(|| last_modified.clone())
            .filter(|_| same_origin);
        let size = match status {
            206 => {
                let header = response.headers().get("Content-Range").ok().flatten();
                let total = header
                    .as_deref()
                    .and_then(|h| h.rsplit('/').next())
                    .and_then(|n| n.parse().ok());
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
            _ => {
                return Err(refused(
                    "source_refused",
                    format!("{url}: the server refused it (HTTP {status})"),
                ))
            }
        };
        Ok(Source::new(
            Backend::Url(Remote {
                url,
                validator,
                etag,
                last_modified,
            }),
            size,
        ))
    }

    /// Hands up to `len` bytes at `offset` to `put`, a kept block's slice at a time, with how
    /// many went before it; how many in all (0 at the end).
    pub fn read(&self, offset: u64, len: usize, mut put: impl FnMut(usize, &[u8])) -> Result<usize, Failure> {
        let mut done = 0;
        while done < len && offset + (done as u64) < self.size {
            let at = offset + done as u64;
            let block = self.block(at / BLOCK)?;
            let inside = (at % BLOCK) as usize;
            let n = (block.len().saturating_sub(inside)).min(len - done);
            if n == 0 {
                break;
            }
            put(done, &block[inside..inside + n]);
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
        let bytes = Rc::new(match &self.backend {
            Backend::Blob(blob, reader) => read_blob(blob, reader, start, end)?,
            Backend::Url(remote) => fetch(remote, start, end, self.size)?,
        });
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
}

/// Bytes start..=end of a File or Blob.
fn read_blob(blob: &Blob, reader: &FileReaderSync, start: u64, end: u64) -> Result<Vec<u8>, Failure> {
    let failed = || refused("io", "the file cannot be read (was it moved or changed?)".into());
    let slice = blob
        .slice_with_f64_and_f64(start as f64, end as f64 + 1.0)
        .map_err(|_| failed())?;
    let buffer = reader.read_as_array_buffer(&slice).map_err(|_| failed())?;
    Ok(Uint8Array::new(&buffer).to_vec())
}

/// Bytes start..=end of a URL by one synchronous Range request (`If-Range` the first answer's
/// validator), checked against the first answer: the same file, the range asked.
fn fetch(remote: &Remote, start: u64, end: u64, size: u64) -> Result<Vec<u8>, Failure> {
    let url = &remote.url;
    let failed = |message: String| refused("source_refused", message);
    let changed = |why: String| refused("source_changed", format!("{url} changed while it was read: {why}"));
    let xhr = XmlHttpRequest::new().map_err(|_| failed("no XMLHttpRequest".into()))?;
    xhr.open_with_async("GET", url, false)
        .map_err(|_| failed(format!("{url}: cannot be requested")))?;
    xhr.set_response_type(XmlHttpRequestResponseType::Arraybuffer);
    let _ = xhr.set_request_header("Range", &format!("bytes={start}-{end}"));
    if let Some(validator) = &remote.validator {
        let _ = xhr.set_request_header("If-Range", validator);
    }
    if xhr.send().is_err() {
        return Err(failed(format!(
            "{url}: the server stopped answering, or does not allow this page to read it (CORS)"
        )));
    }
    let status = xhr.status().unwrap_or(0);
    match status {
        206 => {}
        // Asked If-Range, a server sends the whole file when the validator no longer matches.
        200 if remote.validator.is_some() => {
            return Err(changed(
                "the server no longer has the version first read (If-Range)".into(),
            ))
        }
        200 => return Err(refused("source_no_range", format!("{url} stopped serving byte ranges"))),
        404 | 410 => return Err(refused("source_not_found", format!("{url}: not found (HTTP {status})"))),
        _ => return Err(failed(format!("{url}: HTTP {status} for bytes {start}-{end}"))),
    }
    let get = |name: &str| xhr.get_response_header(name).ok().flatten();
    let differs = |first: &Option<String>, name: &str| match (first, header_of(&get, name)) {
        (Some(first), Some(now)) => (first != &now).then(|| format!("its {name} was {first}, now {now}")),
        _ => None,
    };
    if let Some(why) = differs(&remote.etag, "ETag").or_else(|| differs(&remote.last_modified, "Last-Modified")) {
        return Err(changed(why));
    }
    if let Some(range) = header_of(&get, "Content-Range") {
        match content_range(&range) {
            Some((first, last, total)) if first == start && last == end && total.is_none_or(|t| t == size) => {}
            Some((first, last, Some(total))) if total != size => {
                return Err(changed(format!(
                    "{total} bytes long, not {size} (bytes {first}-{last} sent)"
                )))
            }
            _ => {
                return Err(changed(format!(
                    "asked for bytes {start}-{end}, the server sent {range:?}"
                )))
            }
        }
    }
    let body = xhr.response().map_err(|_| failed("no response".into()))?;
    let bytes = Uint8Array::new(&body).to_vec();
    if bytes.len() as u64 != end - start + 1 {
        return Err(changed(format!(
            "{} bytes for a range of {}",
            bytes.len(),
            end - start + 1
        )));
    }
    Ok(bytes)
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
