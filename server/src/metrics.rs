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

/// A rule of the engine processes' sandbox.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SandboxLabels {
    pub rule: String,
}

/// An asynchronous job's state: queued, running, done, failed, cancelled.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobStateLabels {
    pub state: String,
}

/// Asynchronous jobs: all of them by state (every server sharing the store; read when the metrics
/// are), and what this server ran.
pub struct AsyncJobMetrics {
    pub by_state: Family<JobStateLabels, Gauge>,
    pub runs: Counter,
    pub retries: Counter,
    pub finished: Family<JobStateLabels, Counter>,
    pub latency: Histogram,
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
    /// Engine processes taken for a job (one each), and those that died on it.
    pub engine_processes: Counter,
    pub engine_process_crashes: Counter,
    /// The largest peak resident memory of an engine process so far (set when the metrics are read).
    pub engine_process_peak_rss: Gauge,
    /// What the engine processes' sandbox enforces (`sandbox`).
    sandbox_landlock_abi: Gauge,
    sandbox_enforced: Family<SandboxLabels, Gauge>,
    /// Operation requests admitted (receiving their upload, queued or running), and the most at once.
    pub admitted: Gauge,
    pub admission_limit: Gauge,
    /// Uploads being received, and the most at once.
    pub uploads: Gauge,
    pub upload_limit: Gauge,
    /// Bytes of temporary files reserved (spooled uploads), and the budget.
    pub temp_bytes: Gauge,
    pub temp_budget: Gauge,
    /// Open connections, the most at once, and those refused past it.
    pub connections: Gauge,
    pub connection_limit: Gauge,
    pub connections_refused: Counter,
    pub async_jobs: AsyncJobMetrics,
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
        let engine_processes = Counter::default();
        let engine_process_crashes = Counter::default();
        let engine_process_peak_rss = Gauge::default();
        let sandbox_landlock_abi = Gauge::default();
        let sandbox_enforced = Family::<SandboxLabels, Gauge>::default();
        let gauges = [
            (
                "admitted_requests",
                "Thumbnail and probe requests admitted (uploading, queued or running)",
            ),
            (
                "admitted_requests_limit",
                "Most thumbnail and probe requests admitted at once (--workers + --queue)",
            ),
            ("uploads", "Uploads being received"),
            ("uploads_limit", "Most uploads received at once (--max-uploads)"),
            ("temp_bytes", "Bytes of temporary files reserved for spooled uploads"),
            (
                "temp_budget_bytes",
                "Most bytes of temporary files at once (--temp-budget)",
            ),
            ("connections", "Open HTTP connections"),
            (
                "connections_limit",
                "Most HTTP connections open at once (--max-connections)",
            ),
        ]
        .map(|(name, help)| {
            let gauge = Gauge::default();
            registry.register(name, help, gauge.clone());
            gauge
        });
        let [admitted, admission_limit, uploads, upload_limit, temp_bytes, temp_budget, connections, connection_limit] =
            gauges;
        let connections_refused = Counter::default();
        registry.register(
            "connections_refused",
            "Connections refused past --max-connections",
            connections_refused.clone(),
        );
        registry.register(
            "engine_processes",
            "Engine processes taken for a job (one each)",
            engine_processes.clone(),
        );
        registry.register(
            "engine_process_crashes",
            "Engine processes that died on their job (crash, abort, killed)",
            engine_process_crashes.clone(),
        );
        registry.register(
            "engine_process_peak_rss_bytes",
            "The largest peak resident memory of an engine process that ended",
            engine_process_peak_rss.clone(),
        );
        registry.register(
            "sandbox_landlock_abi",
            "The kernel's Landlock ABI as the engine processes' sandbox uses it (0: none)",
            sandbox_landlock_abi.clone(),
        );
        registry.register(
            "sandbox_enforced",
            "What the engine processes' sandbox enforces on this kernel (1) or not (0), by rule",
            sandbox_enforced.clone(),
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
        let async_jobs = AsyncJobMetrics {
            by_state: Family::default(),
            runs: Counter::default(),
            retries: Counter::default(),
            finished: Family::default(),
            // 5 ms to ~80 s
            latency: Histogram::new(exponential_buckets(0.005, 2.0, 15)),
        };
        registry.register(
            "async_jobs",
            "Asynchronous jobs by state, on every server sharing the job store",
            async_jobs.by_state.clone(),
        );
        registry.register(
            "async_job_runs",
            "Job runs this server started",
            async_jobs.runs.clone(),
        );
        registry.register(
            "async_job_retries",
            "Job runs this server started again after the server running them stopped",
            async_jobs.retries.clone(),
        );
        registry.register(
            "async_jobs_finished",
            "Jobs this server finished, by state (done, failed)",
            async_jobs.finished.clone(),
        );
        registry.register(
            "async_job_latency_seconds",
            "From a job's acceptance to its end, for the jobs this server finished",
            async_jobs.latency.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            errors,
            queued,
            running,
            uploaded_bytes,
            engine_processes,
            engine_process_crashes,
            engine_process_peak_rss,
            sandbox_landlock_abi,
            sandbox_enforced,
            admitted,
            admission_limit,
            uploads,
            upload_limit,
            temp_bytes,
            temp_budget,
            connections,
            connection_limit,
            connections_refused,
            async_jobs,
        }
    }

    /// Records what the engine processes' sandbox enforces.
    pub fn sandbox(&self, status: &thumbnail_sandbox::SandboxStatus) {
        self.sandbox_landlock_abi.set(i64::from(status.landlock_abi));
        for (rule, on) in [
            ("landlock_files", status.files),
            ("landlock_network", status.network),
            ("landlock_scoped_signals", status.scoped_signals),
            ("seccomp", status.seccomp),
            ("no_core_dumps", status.no_core_dumps),
        ] {
            self.sandbox_enforced
                .get_or_create(&SandboxLabels { rule: rule.to_owned() })
                .set(i64::from(on));
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
