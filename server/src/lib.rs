//! The server as a library: [`serve`] runs the app on a listener (main.rs parses the flags; the
//! engine's processes, which the same binary becomes, are `thumbnail_sandbox::process::main`).

mod api;
mod async_api;
mod config;
mod connections;
mod error;
mod jobs;
mod metrics;
mod service_worker;
mod static_files;
mod upload;

use std::future::Future;
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
use error::{ApiError, ProblemCode};
use jobs::{Pool, PoolConfig};
use metrics::{ErrorLabels, Metrics, RequestLabels, RouteLabels};
use upload::Uploads;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pool: Arc<Pool>,
    /// One permit per request admitted at once (see `admit`).
    admission: Arc<tokio::sync::Semaphore>,
    uploads: Arc<Uploads>,
    metrics: Arc<Metrics>,
    /// The asynchronous jobs (async_api.rs), shared with every server on the same store.
    jobs: thumbnail_queue::Jobs,
}

const OPENAPI: &str = include_str!("../openapi.json");

/// Serves the app on `listener` until `shutdown` completes. `config` must be validated.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let limits = connections::Limits {
        max_connections: config.max_connections,
        header_timeout: config.header_timeout(),
    };
    let jobs = thumbnail_queue::Jobs::open(config.queue_config())
        .await
        .map_err(|e| std::io::Error::other(format!("opening the job store: {e}")))?;
    let metrics = Arc::new(Metrics::new());
    let pool = Pool::new(
        PoolConfig {
            isolation: config.isolation,
            workers: config.workers(),
            timeout: config.job_timeout(),
            launcher_exe: std::env::current_exe()?,
            process_memory: config.worker_memory_mb.saturating_mul(1024 * 1024),
            require_sandbox: config.require_sandbox,
        },
        metrics.clone(),
    )
    .await?;
    let router = app(config, jobs, Arc::new(pool), metrics.clone());
    connections::serve(listener, router, limits, metrics, shutdown).await
}

fn app(config: Config, jobs: thumbnail_queue::Jobs, pool: Arc<Pool>, metrics: Arc<Metrics>) -> Router {
    let uploads = Arc::new(Uploads::new(config.max_uploads, config.temp_budget, metrics.clone()));
    let capacity = config.capacity();
    metrics.admission_limit.set(capacity as i64);
    let state = AppState {
        config: Arc::new(config),
        pool,
        admission: Arc::new(tokio::sync::Semaphore::new(capacity)),
        uploads,
        metrics: metrics.clone(),
        jobs: jobs.clone(),
    };
    jobs.start(Arc::new(async_api::EngineRunner {
        pool: state.pool.clone(),
        max_pixels: state.config.max_pixels,
        metrics: metrics.clone(),
        timeout: state.config.async_job_timeout(),
    }));

    // Static files are revalidated on each use (Last-Modified).
    let no_cache = SetResponseHeaderLayer::if_not_present(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));

    let operations = Router::new()
        .route("/thumbnail", post(api::thumbnail))
        .route("/probe", post(api::probe))
        .route("/sprite", post(api::sprite))
        .route("/frames", post(api::frames))
        .route_layer(middleware::from_fn_with_state(state.clone(), admit))
        // Uploads are limited while they stream (upload.rs), not buffered by axum.
        .layer(DefaultBodyLimit::disable());

    // What pages of other origins may use: the operations, the widget, the engine and the API's
    // description (not the metrics or the health check).
    let public = operations
        .route("/jobs/{id}", get(async_api::get).delete(async_api::cancel))
        .route("/jobs/{id}/result", get(async_api::result))
        .route("/jobs/{id}/result/{name}", get(async_api::part))
        .route("/openapi.json", get(openapi))
        .route("/sw.js", get(service_worker::script))
        .nest_service("/engine", static_files::serve(state.config.engine_dir()))
        .fallback_service(static_files::serve(state.config.www()))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            static_files::skip_stale_siblings,
        ))
        .layer(
            CorsLayer::new()
                .allow_origin(Any)
                .allow_methods([Method::GET, Method::POST, Method::DELETE])
                .allow_headers(Any)
                .expose_headers([
                    header::LOCATION,
                    header::RETRY_AFTER,
                    api::FRAME_TIME,
                    api::VIDEO_DURATION,
                    api::IMAGE_WIDTH,
                    api::IMAGE_HEIGHT,
                    api::THUMBHASH,
                    api::AVERAGE_COLOR,
                    header::CONTENT_DISPOSITION,
                ]),
        );

    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(render_metrics))
        .merge(public)
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .layer(no_cache)
        // Cross-origin isolation, so that the page may use SharedArrayBuffer (the mt engine), and
        // CORP cross-origin, so that pages of other origins may load the widget and the engine.
        .layer(header_layer("cross-origin-opener-policy", "same-origin"))
        .layer(header_layer("cross-origin-embedder-policy", "require-corp"))
        .layer(header_layer("cross-origin-resource-policy", "cross-origin"))
        .layer(header_layer("x-content-type-options", "nosniff"))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Admission of an operation (POST /thumbnail, /probe), before a byte of its body is read: at
/// most one per worker plus the queue in flight (receiving, waiting or running). One more is shed
/// with 503 + Retry-After at once, its body read and dropped (never stored) for a moment after, so
/// that the client sees the answer rather than a reset. (tower's `LoadShed` answers without that
/// drain, which HTTP/1 clients that send their whole body first see as a broken connection.)
/// An admitted operation is ended at `--request-timeout` whatever it is doing: dropping it deletes
/// its file and stops its worker.
async fn admit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    struct InFlight<'a> {
        metrics: &'a Metrics,
        _slot: tokio::sync::SemaphorePermit<'a>,
    }
    impl Drop for InFlight<'_> {
        fn drop(&mut self) {
            self.metrics.admitted.dec();
        }
    }
    let Ok(slot) = state.admission.try_acquire() else {
        return upload::refuse(request, ApiError::Busy("all workers and the queue are taken")).into_response();
    };
    state.metrics.admitted.inc();
    let _in_flight = InFlight {
        metrics: &state.metrics,
        _slot: slot,
    };
    let limit = state.config.request_timeout();
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::RequestTimeout(format!(
            "the request took longer than {} s (upload, queue and processing)",
            limit.as_secs_f64()
        ))
        .into_response(),
    }
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
    // Known methods by name; anything else as one label, so that a client cannot grow the series.
    let method = match *request.method() {
        Method::GET | Method::HEAD | Method::POST | Method::PUT | Method::DELETE | Method::OPTIONS | Method::PATCH => {
            request.method().as_str().to_owned()
        }
        _ => "other".to_owned(),
    };
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
        "capacity": state.config.capacity(),
        "isolation": format!("{:?}", state.config.isolation).to_lowercase(),
        "sandbox": state.pool.sandbox(),
    }))
}

async fn render_metrics(State(state): State<AppState>) -> impl IntoResponse {
    async_api::count_jobs(&state).await;
    if let Some(peak) = state.pool.engine_peak_rss() {
        state
            .metrics
            .engine_process_peak_rss
            .set(i64::try_from(peak).unwrap_or(i64::MAX));
    }
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
