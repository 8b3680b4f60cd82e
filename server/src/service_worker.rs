//! `GET /sw.js`: the page's service worker (www/sw.js) with its `ASSETS_VERSION` placeholder
//! replaced by a hash of what it caches: every file of www/ and of the engine folder (name, size,
//! modification time). Any new asset thus gives the browser a new service worker, which fills a new
//! cache and removes the old one.

use std::path::Path;
use std::time::UNIX_EPOCH;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::AppState;

const PLACEHOLDER: &str = "ASSETS_VERSION";

pub async fn script(State(state): State<AppState>) -> Result<Response, ApiError> {
    let config = state.config.clone();
    let script = tokio::task::spawn_blocking(move || -> std::io::Result<String> {
        let template = std::fs::read_to_string(config.www().join("sw.js"))?;
        let mut hash = Sha256::new();
        for (prefix, dir) in [("", config.www()), ("engine/", config.engine_dir())] {
            list(dir, prefix, &mut hash)?;
        }
        let version: String = hash.finalize()[..8].iter().map(|b| format!("{b:02x}")).collect();
        Ok(template.replace(PLACEHOLDER, &version))
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

/// Feeds every file under `dir` (sorted, so the hash is stable) to `hash`.
fn list(dir: &Path, prefix: &str, hash: &mut Sha256) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
        let meta = entry.metadata()?;
        if meta.is_dir() {
            list(&entry.path(), &format!("{name}/"), hash)?;
        } else {
            let modified = meta.modified()?.duration_since(UNIX_EPOCH).unwrap_or_default();
            hash.update(format!("{name}\t{}\t{}\n", meta.len(), modified.as_nanos()));
        }
    }
    Ok(())
}
