//! Configuration: flags, each with an environment variable of the same meaning.

use std::net::SocketAddr;
use std::path::PathBuf;
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

#[derive(Parser, Debug, Clone)]
#[command(
    name = "server",
    version,
    about = "Video thumbnails: the app, and POST /thumbnail on the native engine"
)]
pub struct Config {
    /// Address and port to listen on.
    #[arg(long, env = "LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// The static app (index.html, the JS API, the web wasm).
    #[arg(long = "www", env = "WWW_DIR", default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../www"))]
    pub www: PathBuf,

    /// The built wasm engine, served under /engine/.
    #[arg(long, env = "ENGINE_DIR", default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../ffmpeg-wasm/dist"))]
    pub engine_dir: PathBuf,

    /// Largest accepted upload, in bytes (100 MiB by default).
    #[arg(long, env = "MAX_UPLOAD", default_value_t = 100 * 1024 * 1024)]
    pub max_upload: u64,

    /// Engine jobs running at once (default: the number of cores).
    #[arg(long = "workers", env = "WORKERS")]
    pub workers_flag: Option<usize>,

    /// Jobs that may wait for a worker; beyond that, 503 with Retry-After.
    #[arg(long, env = "QUEUE", default_value_t = 64)]
    pub queue: usize,

    /// Longest a job may run, in seconds, before it is interrupted (503).
    #[arg(long, env = "JOB_TIMEOUT", default_value_t = 30.0)]
    pub job_timeout: f64,

    /// Where engine jobs run: `process` (sandboxed worker processes) or `thread`.
    #[arg(long, env = "ISOLATION", value_enum, default_value_t = Isolation::Process)]
    pub isolation: Isolation,

    /// Address-space limit of each engine worker process, in MiB (0: none).
    #[arg(long, env = "WORKER_MEMORY_MB", default_value_t = 4096)]
    pub worker_memory_mb: u64,

    /// Source frames above this many pixels are refused (decompression bombs).
    #[arg(long, env = "MAX_PIXELS", default_value_t = 64 * 1024 * 1024)]
    pub max_pixels: u32,

    /// Where uploads are spooled (default: the system's temporary folder).
    #[arg(long, env = "TEMP_DIR")]
    pub temp_dir: Option<PathBuf>,

    /// Logs as JSON lines instead of text.
    #[arg(long, env = "LOG_JSON")]
    pub log_json: bool,
}

impl Config {
    pub fn workers(&self) -> usize {
        self.workers_flag
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1)
    }

    pub fn job_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.job_timeout.max(0.001))
    }

    pub fn temp_dir(&self) -> PathBuf {
        self.temp_dir.clone().unwrap_or_else(std::env::temp_dir)
    }
}
