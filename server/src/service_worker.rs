//! `GET /sw.js`: the page's service worker (www/sw.js) with its two placeholders filled in from
//! what the server serves (every file of www/ and of the engine folder):
//! - `ASSETS_VERSION`: a hash of their names, sizes and modification times, so that any new or
//!   changed asset gives the browser a new service worker, which fills a new cache;
//! - `ASSETS_LIST`: the list it precaches: the page (`./`) and every file served, but the service
//!   worker itself and the br/gzip siblings (the same bytes, compressed). Never kept by hand.

use std::path::Path;
use std::time::UNIX_EPOCH;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::AppState;

/// A file the server serves, by its URL path relative to the page.
struct Asset {
    path: String,
    len: u64,
    modified_ns: u128,
}

pub async fn script(State(state): State<AppState>) -> Result<Response, ApiError> {
    let config = state.config.clone();
    let script = tokio::task::spawn_blocking(move || -> std::io::Result<String> {
        let template = std::fs::read_to_string(config.www().join("sw.js"))?;
        let mut assets = Vec::new();
        list(config.www(), "", &mut assets)?;
        list(config.engine_dir(), "engine/", &mut assets)?;
        let mut hash = Sha256::new();
        for a in &assets {
            hash.update(format!("{}\t{}\t{}\n", a.path, a.len, a.modified_ns));
        }
        let version: String = hash.finalize()[..8].iter().map(|b| format!("{b:02x}")).collect();
        let precache: Vec<&str> = std::iter::once("./")
            .chain(
                assets
                    .iter()
                    .map(|a| a.path.as_str())
                    .filter(|p| *p != "sw.js" && !p.ends_with(".br") && !p.ends_with(".gz")),
            )
            .collect();
        let list = serde_json::to_string(&precache).expect("names serialise");
        Ok(template
            .replace("ASSETS_VERSION", &version)
            .replace("ASSETS_LIST", &list))
    })
    .await
    .map_err(|e| ApiError::Internal(format!("versioning sw.js: {e}")))?
    .map_err(|e| ApiError::Internal(format!("versioning sw.js: {e}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        script,
    )
        .into_response())
}

/// Every file under `dir` (sorted, so the version is stable), hidden ones aside.
fn list(dir: &Path, prefix: &str, assets: &mut Vec<Asset>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = format!("{prefix}{name}");
        let meta = entry.metadata()?;
        if meta.is_dir() {
            list(&entry.path(), &format!("{path}/"), assets)?;
        } else {
            let modified = meta.modified()?.duration_since(UNIX_EPOCH).unwrap_or_default();
            assets.push(Asset {
                path,
                len: meta.len(),
                modified_ns: modified.as_nanos(),
            });
        }
    }
    Ok(())
}
