//! Configuration: flags, each with an environment variable of the same meaning, checked as a whole by
//! [`Config::validate`] before the server starts (a bad value is a clear message and exit code 2,
//! never a panic later).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Parser, ValueEnum};

/// Where the engine runs a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Isolation {
    /// In sandboxed worker processes: a crash on one video costs one request.
    Process,
    /// On threads of the server process (faster to start; a crash takes the server down).
    Thread,
}

/// Where an installed server finds its static files, relative to its binary
/// (`PREFIX/bin/thumbnail-server` → `PREFIX/share/video-thumbnailer/{www,engine}`).
pub const INSTALLED_SHARE: &str = "../share/video-thumbnailer";

#[derive(Parser, Debug, Clone)]
#[command(
    name = "thumbnail-server",
    version,
    about = "Video thumbnails: the app, and POST /thumbnail on the native engine"
)]
pub struct Config {
    /// Address and port to listen on.
    #[arg(long, env = "LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// The static app (index.html, the JS API, the web wasm). Default: `share/video-thumbnailer/www`
    /// beside the binary's folder when installed, else the source tree's `www/`.
    #[arg(long = "www", env = "WWW_DIR")]
    pub www: Option<PathBuf>,

    /// The built wasm engine, served under /engine/. Default: `share/video-thumbnailer/engine`
    /// beside the binary's folder when installed, else the source tree's `engine/dist/`.
    #[arg(long, env = "ENGINE_DIR")]
    pub engine_dir: Option<PathBuf>,

    /// Largest accepted upload, in bytes (100 MiB by default). Every part of a form counts.
    #[arg(long, env = "MAX_UPLOAD", default_value_t = 100 * 1024 * 1024)]
    pub max_upload: u64,

    /// Uploads received at once; beyond that, 503 with Retry-After before the body is read.
    #[arg(long, env = "MAX_UPLOADS", default_value_t = 32)]
    pub max_uploads: usize,

    /// Bytes of temporary files (spooled uploads) at once; an upload that would go past it is
    /// refused with 503 (before its body is read when it declares its length).
    #[arg(long, env = "TEMP_BUDGET", default_value_t = 1024 * 1024 * 1024)]
    pub temp_budget: u64,

    /// Engine jobs running at once (default: the number of cores).
    #[arg(long = "workers", env = "WORKERS")]
    pub workers_flag: Option<usize>,

    /// Requests that may wait for a worker (receiving their upload or queued); beyond that, 503
    /// with Retry-After before the body is read.
    #[arg(long, env = "QUEUE", default_value_t = 64)]
    pub queue: usize,

    /// Longest a job may run, in seconds, before it is interrupted (503).
    #[arg(long, env = "JOB_TIMEOUT", default_value_t = 30.0, value_parser = seconds)]
    pub job_timeout: f64,

    /// Longest a client may take to send a request's headers, in seconds; also how long an idle
    /// connection is kept.
    #[arg(long, env = "HEADER_TIMEOUT", default_value_t = 10.0, value_parser = seconds)]
    pub header_timeout: f64,

    /// Longest an upload may pause between two pieces of its body, in seconds; after that long,
    /// it must also have kept `--min-upload-rate` on average.
    #[arg(long, env = "BODY_TIMEOUT", default_value_t = 15.0, value_parser = seconds)]
    pub body_timeout: f64,

    /// Slowest average upload accepted, in bytes per second (0: no minimum).
    #[arg(long, env = "MIN_UPLOAD_RATE", default_value_t = 16 * 1024)]
    pub min_upload_rate: u64,

    /// Longest a whole thumbnail or probe request may take (upload, queue and job), in seconds.
    #[arg(long, env = "REQUEST_TIMEOUT", default_value_t = 300.0, value_parser = seconds)]
    pub request_timeout: f64,

    /// Connections open at once; beyond that, a new connection gets 503 and is closed. Default:
    /// 2048, or fewer if the open-files limit (ulimit -n) allows fewer.
    #[arg(long = "max-connections", env = "MAX_CONNECTIONS")]
    pub max_connections_flag: Option<usize>,

    /// The connection limit in force (set by `validate`).
    #[arg(skip)]
    pub max_connections: usize,

    /// Where engine jobs run: `process` (a sandboxed engine process per job) or `thread`.
    #[arg(long, env = "ISOLATION", value_enum, default_value_t = Isolation::Process)]
    pub isolation: Isolation,

    /// Refuse to start unless the engine processes' sandbox is enforced on this kernel (Landlock
    /// keeping files out, seccomp, no core dumps); with `--isolation thread`, refuse to start.
    #[arg(long, env = "REQUIRE_SANDBOX")]
    pub require_sandbox: bool,

    /// Address-space limit of each engine process, in MiB (0: none).
    #[arg(long, env = "WORKER_MEMORY_MB", default_value_t = 4096)]
    pub worker_memory_mb: u64,

    /// Source frames above this many pixels are refused (decompression bombs); output images are
    /// scaled to fit in it too.
    #[arg(long, env = "MAX_PIXELS", default_value_t = thumbnail_vocabulary::DEFAULT_MAX_PIXELS)]
    pub max_pixels: u32,

    /// Where uploads are spooled (default: the system's temporary folder).
    #[arg(long, env = "TEMP_DIR")]
    pub temp_dir: Option<PathBuf>,

    /// Where the asynchronous jobs (`Prefer: respond-async`) are kept when neither
    /// `--jobs-database` nor `--jobs-files` says otherwise: `<dir>/jobs.db` and `<dir>/files/`.
    #[arg(long, env = "DATA_DIR", default_value = "thumbnail-data")]
    pub data_dir: PathBuf,

    /// The jobs' database: `sqlite:///path/jobs.db` or `postgres://user@host/db`. Servers that
    /// share one database (and `--jobs-files`) share the jobs: any may accept, run or answer one.
    #[arg(long, env = "JOBS_DATABASE")]
    pub jobs_database: Option<String>,

    /// Where the jobs' inputs and results are kept: `file:///path` or an object store's URL.
    #[arg(long, env = "JOBS_FILES")]
    pub jobs_files: Option<String>,

    /// Jobs this server takes from the queue at once (default: half of `--workers`, at least one);
    /// 0: it runs none (it
    /// accepts jobs and answers about them, others sharing the store run them).
    #[arg(long, env = "JOB_CONCURRENCY")]
    pub job_concurrency: Option<usize>,

    /// Seconds between this server's heartbeats in the job queue; a server silent for two is
    /// presumed dead and its running jobs are run again by another.
    #[arg(long, env = "JOB_HEARTBEAT", default_value_t = 5.0, value_parser = seconds)]
    pub job_heartbeat: f64,

    /// Runs of one job at most (a server stopping under it counts as one).
    #[arg(long, env = "JOB_ATTEMPTS", default_value_t = 3)]
    pub job_attempts: u32,

    /// Jobs waiting to run (on every server sharing the store) before a new one is refused with
    /// 503 and Retry-After, before its upload: their inputs wait on disk.
    #[arg(long, env = "MAX_QUEUED_JOBS", default_value_t = 1000)]
    pub max_queued_jobs: u64,

    /// Bytes of inputs of jobs waiting or running (on every server sharing the store) before a new
    /// job is refused with 503 and Retry-After: before its upload when its length says so, else
    /// once received.
    #[arg(long, env = "MAX_QUEUED_BYTES", default_value_t = 4 << 30)]
    pub max_queued_bytes: u64,

    /// Longest an asynchronous job may run, in seconds (its engine job is stopped then: failed
    /// with `timeout`).
    #[arg(long, env = "ASYNC_JOB_TIMEOUT", default_value_t = 600.0, value_parser = seconds)]
    pub async_job_timeout: f64,

    /// Seconds a finished job's result (or failure) stays readable; then 410 Gone.
    #[arg(long, env = "RESULT_TTL", default_value_t = 3600.0, value_parser = seconds)]
    pub result_ttl: f64,

    /// This server's name among those sharing the jobs (default: the host's name).
    #[arg(long, env = "NODE_NAME")]
    pub node_name: Option<String>,

    /// Logs as JSON lines instead of text.
    #[arg(long, env = "LOG_JSON")]
    pub log_json: bool,
}

/// A number of seconds: finite, above 0, at most a day.
fn seconds(value: &str) -> Result<f64, String> {
    let s: f64 = value
        .trim()
        .parse()
        .map_err(|_| format!("`{value}` is not a number of seconds"))?;
    if !(s.is_finite() && s > 0.0 && s <= 86_400.0) {
        return Err(format!("`{value}`: give a number of seconds above 0 and at most 86400"));
    }
    Ok(s)
}

/// File descriptors the server needs beyond its connections (listener, logs, workers, spooled files).
const SPARE_FDS: u64 = 64;
/// Connections open at once when `--max-connections` is not given (and the open-files limit allows).
const DEFAULT_MAX_CONNECTIONS: usize = 2048;

impl Config {
    /// Checks the values together, finds the static folders and raises the open-files limit.
    /// The message names the flag to change.
    pub fn validate(mut self) -> Result<Config, String> {
        if self.workers_flag == Some(0) {
            return Err("--workers must be at least 1".into());
        }
        if self.workers() > 1024 {
            return Err(format!("--workers {} is more than 1024", self.workers()));
        }
        if self.require_sandbox && self.isolation == Isolation::Thread {
            return Err("--require-sandbox: --isolation thread runs the engine unsandboxed in the server".into());
        }
        if self.max_upload == 0 {
            return Err("--max-upload must be at least 1 byte".into());
        }
        if self.max_uploads == 0 {
            return Err("--max-uploads must be at least 1".into());
        }
        if self.temp_budget < self.max_upload {
            return Err(format!(
                "--temp-budget ({}) is below --max-upload ({}): no upload of the largest size could be received",
                self.temp_budget, self.max_upload
            ));
        }
        if self.request_timeout < self.job_timeout {
            return Err(format!(
                "--request-timeout ({} s) is below --job-timeout ({} s)",
                self.request_timeout, self.job_timeout
            ));
        }
        if self.max_pixels == 0 {
            return Err("--max-pixels must be at least 1".into());
        }
        if self.worker_memory_mb != 0 && self.worker_memory_mb < 256 {
            return Err(format!(
                "--worker-memory-mb {} is too small for the engine (0 for no limit, or at least 256)",
                self.worker_memory_mb
            ));
        }
        if self.job_heartbeat < 1.0 {
            return Err(format!(
                "--job-heartbeat {} is below 1 second (the queue counts whole seconds)",
                self.job_heartbeat
            ));
        }
        if self.job_attempts == 0 {
            return Err("--job-attempts must be at least 1".into());
        }
        if let Some(files) = &self.jobs_files {
            url::Url::parse(files).map_err(|e| format!("--jobs-files {files:?}: not a URL ({e})"))?;
        }
        if self.jobs_database.is_none() || self.jobs_files.is_none() {
            std::fs::create_dir_all(&self.data_dir)
                .and_then(|()| self.data_dir.canonicalize())
                .map(|dir| self.data_dir = dir)
                .map_err(|e| format!("--data-dir {}: {e}", self.data_dir.display()))?;
        }
        let files = raise_open_files_limit();
        let others = self.max_uploads as u64 + 4 * self.workers() as u64 + SPARE_FDS;
        self.max_connections = match self.max_connections_flag {
            Some(0) => return Err("--max-connections must be at least 1".into()),
            Some(wanted) if wanted as u64 + others > files => {
                return Err(format!(
                    "--max-connections {wanted} needs about {} open files, and this process may open {files} (ulimit -n)",
                    wanted as u64 + others
                ));
            }
            Some(wanted) => wanted,
            None if files <= others => {
                return Err(format!(
                    "this process may open only {files} files (ulimit -n): too few to serve connections"
                ))
            }
            None => DEFAULT_MAX_CONNECTIONS.min((files - others) as usize),
        };
        let temp = self.temp_dir();
        tempfile::tempfile_in(&temp)
            .map_err(|e| format!("--temp-dir {}: cannot create files there ({e})", temp.display()))?;
        self.www = Some(find_dir(self.www.take(), "www", "www", "--www", "index.html")?);
        self.engine_dir = Some(find_dir(
            self.engine_dir.take(),
            "engine",
            "engine/dist",
            "--engine-dir",
            "thumbnail-engine-st.js",
        )?);
        Ok(self)
    }

    pub fn workers(&self) -> usize {
        self.workers_flag
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1)
    }

    /// Requests admitted at once: one per worker, plus the queue.
    pub fn capacity(&self) -> usize {
        self.workers() + self.queue
    }

    pub fn job_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.job_timeout)
    }

    pub fn async_job_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.async_job_timeout)
    }

    pub fn header_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.header_timeout)
    }

    pub fn body_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.body_timeout)
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.request_timeout)
    }

    /// Asynchronous jobs this server runs at once unless told: half the workers (at least one),
    /// so that long jobs never take every worker from synchronous requests.
    pub fn default_job_concurrency(&self) -> usize {
        self.workers().div_ceil(2)
    }

    /// Where and how the asynchronous jobs are kept and run (after `validate`).

    pub fn queue_config(&self) -> thumbnail_queue::QueueConfig {
        let database = self
            .jobs_database
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("jobs.db").display()));
        let files = match &self.jobs_files {
            Some(url) => url::Url::parse(url).expect("validated"),
            None => url::Url::from_directory_path(self.data_dir.join("files")).expect("an absolute folder"),
        };
        let node = self.node_name.clone().unwrap_or_else(|| {
            nix::unistd::gethostname()
                .ok()
                .and_then(|h| h.into_string().ok())
                .unwrap_or_else(|| "server".into())
        });
        thumbnail_queue::QueueConfig {
            database_url: database,
            files_url: files,
            node,
            concurrency: self.job_concurrency.unwrap_or_else(|| self.default_job_concurrency()),
            heartbeat: Duration::from_secs_f64(self.job_heartbeat.round()),
            max_attempts: self.job_attempts,
            result_ttl: Duration::from_secs_f64(self.result_ttl),
            // An expired job answers 410 for a week (or seven result lifetimes), then 404.
            row_retention: Duration::from_secs_f64((7.0 * self.result_ttl).max(7.0 * 86_400.0)),
            poll: Duration::from_millis(50),
            // A run may wait for an engine process behind synchronous requests, then work.
            run_limit: self.async_job_timeout() + self.request_timeout(),
        }
    }

    pub fn temp_dir(&self) -> PathBuf {
        self.temp_dir.clone().unwrap_or_else(std::env::temp_dir)
    }

    /// The static app's folder (found by `validate`).
    pub fn www(&self) -> &Path {
        self.www.as_deref().expect("validated config")
    }

    /// The wasm engine's folder (found by `validate`).
    pub fn engine_dir(&self) -> &Path {
        self.engine_dir.as_deref().expect("validated config")
    }
}

/// The folder given by `flag`, else the installed one beside the binary, else the source tree's.
fn find_dir(
    given: Option<PathBuf>,
    installed: &str,
    source: &str,
    flag: &str,
    marker: &str,
) -> Result<PathBuf, String> {
    let candidates: Vec<PathBuf> = match given {
        Some(dir) => vec![dir],
        None => {
            let mut found = Vec::new();
            if let Some(bin) = std::env::current_exe()
                .ok()
                .and_then(|e| e.parent().map(Path::to_owned))
            {
                found.push(bin.join(INSTALLED_SHARE).join(installed));
            }
            found.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(source));
            found
        }
    };
    for dir in &candidates {
        if dir.join(marker).is_file() {
            return dir.canonicalize().map_err(|e| format!("{flag} {}: {e}", dir.display()));
        }
    }
    let tried: Vec<String> = candidates.iter().map(|d| d.display().to_string()).collect();
    Err(format!(
        "{flag}: no folder with {marker} (looked in {}); pass {flag} DIR",
        tried.join(", ")
    ))
}

/// Raises the soft limit on open files to the hard one; returns the limit in force.
fn raise_open_files_limit() -> u64 {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) => {
            if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
                hard
            } else {
                soft
            }
        }
        Err(_) => 1024,
    }
}
