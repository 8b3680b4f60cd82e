//! The server as a library, so that tests can build the same app: [`app`] makes the router.

mod api;
mod config;
mod encode;
mod engine_job;
mod error;
mod jobs;
mod metrics;
mod sandbox;
mod service_worker;
mod static_files;
mod upload;
pub mod worker;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use tower_http::cors::{Any, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

pub use config::{Config, Isolation};
use error::ProblemCode;
use jobs::{Pool, PoolConfig};
use metrics::{ErrorLabels, Metrics, RequestLabels, RouteLabels};

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pool: Arc<Pool>,
    metrics: Arc<Metrics>,
}

const OPENAPI: &str = include_str!("../openapi.json");

pub fn app(config: Config) -> Router {
    let metrics = Arc::new(Metrics::new());
    let pool = Arc::new(Pool::new(
        PoolConfig {
            isolation: config.isolation,
            workers: config.workers(),
            queue: config.queue,
            timeout: config.job_timeout(),
            worker_exe: std::env::current_exe().expect("the server's own path"),
            worker_memory: config.worker_memory_mb.saturating_mul(1024 * 1024),
        },
        metrics.clone(),
    ));
    let state = AppState {
        config: Arc::new(config),
        pool,
        metrics,
    };

    // Static files are revalidated on each use (Last-Modified).
    let no_cache = SetResponseHeaderLayer::if_not_present(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));

    Router::new()
        .route("/thumbnail", post(api::thumbnail))
        .route("/probe", post(api::probe))
        .route("/healthz", get(healthz))
        .route("/metrics", get(render_metrics))
        .route("/openapi.json", get(openapi))
        .route("/sw.js", get(service_worker::script))
        // Uploads are limited while they stream (upload.rs), not buffered by axum.
        .layer(DefaultBodyLimit::disable())
        .nest_service("/engine", static_files::serve(&state.config.engine_dir))
        .fallback_service(static_files::serve(&state.config.www))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            static_files::skip_stale_siblings,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .layer(no_cache)
        // Cross-origin isolation, so that the page may use SharedArrayBuffer (the mt engine), and
        // CORP cross-origin, so that pages of other origins may load the widget and the engine.
        .layer(header_layer("cross-origin-opener-policy", "same-origin"))
        .layer(header_layer("cross-origin-embedder-policy", "require-corp"))
        .layer(header_layer("cross-origin-resource-policy", "cross-origin"))
        .layer(header_layer("x-content-type-options", "nosniff"))
        .layer(
            CorsLayer::new()
                .allow_origin(Any)
                .allow_methods([Method::GET, Method::POST])
                .allow_headers(Any)
                .expose_headers([
                    api::FRAME_TIME,
                    api::VIDEO_DURATION,
                    api::IMAGE_WIDTH,
                    api::IMAGE_HEIGHT,
                    header::CONTENT_DISPOSITION,
                ]),
        )
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

fn header_layer(name: &'static str, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(HeaderName::from_static(name), HeaderValue::from_static(value))
}

/// Counts every request by route and status, times it, and counts problems by code.
async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = match request.extensions().get::<MatchedPath>() {
        Some(path) => path.as_str().to_owned(),
        None => "static".to_owned(), // not per file: the label set stays small
    };
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let m = &state.metrics;
    let status = response.status();
    m.requests
        .get_or_create(&RequestLabels {
            route: route.clone(),
            method,
            status: status.as_u16(),
        })
        .inc();
    m.latency
        .get_or_create(&RouteLabels { route })
        .observe(started.elapsed().as_secs_f64());
    if let Some(code) = response.extensions().get::<ProblemCode>() {
        m.errors
            .get_or_create(&ErrorLabels {
                code: code.0.to_owned(),
            })
            .inc();
    }
    response
}

async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    Json(serde_json::json!({
        "status": "ok",
        "workers": state.config.workers(),
        "capacity": state.pool.capacity(),
        "isolation": format!("{:?}", state.config.isolation).to_lowercase(),
    }))
}

async fn render_metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}
