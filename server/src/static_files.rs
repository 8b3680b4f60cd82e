//! Static files: www/ at `/` and the wasm engine at `/engine/`, each with its br/gzip siblings
//! (made by `./dev.sh run`). A sibling is only offered while it is at least as new as the file it
//! compresses: an edited file with an old `.br` beside it must not be served as it was.

use std::path::{Component, Path, PathBuf};

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use tower_http::services::ServeDir;

use crate::AppState;

pub fn serve(dir: &Path) -> ServeDir {
    ServeDir::new(dir)
        .precompressed_br()
        .precompressed_gzip()
        .append_index_html_on_directories(true)
}

/// Removes from Accept-Encoding the codings whose sibling of the requested file is stale.
pub async fn skip_stale_siblings(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let reads = matches!(*request.method(), Method::GET | Method::HEAD);
    let accepted = request.headers().get(header::ACCEPT_ENCODING).cloned();
    if let (true, Some(accepted), Some(file)) = (reads, accepted, file_for(&state, request.uri().path())) {
        let stale = stale_codings(&file).await;
        if !stale.is_empty() {
            let kept: Vec<&str> = accepted
                .to_str()
                .unwrap_or_default()
                .split(',')
                .filter(|c| !stale.contains(&c.split(';').next().unwrap_or_default().trim()))
                .collect();
            if let Ok(value) = HeaderValue::from_str(&kept.join(",")) {
                request.headers_mut().insert(header::ACCEPT_ENCODING, value);
            }
        }
    }
    next.run(request).await
}

/// The codings whose sibling of `file` (`file.br`, `file.gz`) is there but older than `file`.
async fn stale_codings(file: &Path) -> Vec<&'static str> {
    let modified = |path: PathBuf| async move { tokio::fs::metadata(path).await.and_then(|m| m.modified()).ok() };
    let Some(original) = modified(file.to_path_buf()).await else {
        return Vec::new();
    };
    let mut stale = Vec::new();
    for (coding, extension) in [("br", "br"), ("gzip", "gz")] {
        let mut sibling = file.as_os_str().to_owned();
        sibling.push(format!(".{extension}"));
        if modified(sibling.into())
            .await
            .is_some_and(|compressed| compressed < original)
        {
            stale.push(coding);
        }
    }
    stale
}

/// The file a static URL path names, if it is a plain one (no `..`, no escapes).
fn file_for(state: &AppState, path: &str) -> Option<PathBuf> {
    if path.contains('%') {
        return None;
    }
    let (root, rest) = match path.strip_prefix("/engine/") {
        Some(rest) => (state.config.engine_dir(), rest),
        None => (state.config.www(), path.trim_start_matches('/')),
    };
    let relative = Path::new(rest);
    if !relative.components().all(|c| matches!(c, Component::Normal(_))) {
        return None;
    }
    let file = root.join(relative);
    Some(if rest.is_empty() || rest.ends_with('/') {
        file.join("index.html")
    } else {
        file
    })
}
