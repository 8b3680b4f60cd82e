//! Prometheus metrics, served at GET /metrics (OpenMetrics text).

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: String,
    pub method: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    pub code: String,
}

fn latency_histogram() -> Histogram {
    // 5 ms to ~40 s
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<RouteLabels, Histogram>,
    pub errors: Family<ErrorLabels, Counter>,
    /// Jobs waiting for a worker.
    pub queued: Gauge,
    /// Jobs on a worker.
    pub running: Gauge,
    pub uploaded_bytes: Counter<u64, AtomicU64>,
    /// Engine worker processes started, and those that died on a job.
    pub worker_starts: Counter,
    pub worker_crashes: Counter,
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("thumbnail");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(latency_histogram as fn() -> Histogram);
        let errors = Family::<ErrorLabels, Counter>::default();
        let queued = Gauge::default();
        let running = Gauge::default();
        let uploaded_bytes = Counter::<u64, AtomicU64>::default();
        let worker_starts = Counter::default();
        let worker_crashes = Counter::default();
        registry.register(
            "engine_worker_starts",
            "Engine worker processes started",
            worker_starts.clone(),
        );
        registry.register(
            "engine_worker_crashes",
            "Engine worker processes that died on a job (crash, abort, killed)",
            worker_crashes.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests by route, method and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            latency.clone(),
        );
        registry.register("errors", "Refused or failed requests by problem code", errors.clone());
        registry.register("jobs_queued", "Engine jobs waiting for a worker", queued.clone());
        registry.register("jobs_running", "Engine jobs running", running.clone());
        registry.register("uploaded_bytes", "Bytes of video received", uploaded_bytes.clone());
        Metrics {
            registry,
            requests,
            latency,
            errors,
            queued,
            running,
            uploaded_bytes,
            worker_starts,
            worker_crashes,
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("metrics encode to a String");
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}
