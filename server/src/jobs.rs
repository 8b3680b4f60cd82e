//! The engine's job pool: at most `workers` jobs run at once, the others wait, and each job has a
//! time limit. (How many requests may wait is decided before their upload, in lib.rs.)
//!
//! Two ways to run a job (`--isolation`):
//! - `process` (the default): in an engine process of its own (`thumbnail_sandbox`: a spare,
//!   forked and confined ahead, that runs this one job and exits; another is launched to replace
//!   it). A crash, an abort or memory corruption in FFmpeg on a hostile file costs that one
//!   request (422 `engine_crashed`), and no later request's video is ever read by the process
//!   that read it. A timeout or a client that goes away kills the process.
//! - `thread`: on one of `workers` dedicated threads of the server (the engine's interrupt flag
//!   stops a job that times out or whose client went away). Faster to start, but a crash in
//!   FFmpeg takes the whole server down; kept to measure what isolation costs (`./dev.sh bench`).
//!
//! Dedicated threads rather than tokio's blocking pool: jobs then always run on the same few
//! threads, so the allocator keeps a few arenas (peak RSS at 32 clients 417 -> 145 MB).

use std::fs::File;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use thumbnail_engine::Interrupt;
use tokio::sync::{oneshot, Semaphore};

use crate::config::Isolation;
use crate::error::ApiError;
use crate::metrics::Metrics;
use thumbnail_sandbox::process::CallError;
use thumbnail_sandbox::spares::Spares;
use thumbnail_sandbox::work::{self, Failure, Output, Work};
use thumbnail_sandbox::SandboxStatus;

/// Told how far a job is, from any thread.
pub type ProgressFn = Arc<dyn Fn(f64) + Send + Sync>;

pub struct Pool {
    runner: Runner,
    timeout: Duration,
    metrics: Arc<Metrics>,
}

enum Runner {
    Processes(Processes),
    Threads(Threads),
}

/// Counts a job as queued, then as running, whatever ends it.
struct Tracked<'a> {
    metrics: &'a Metrics,
    running: bool,
}

impl<'a> Tracked<'a> {
    fn queued(metrics: &'a Metrics) -> Self {
        metrics.queued.inc();
        Tracked {
            metrics,
            running: false,
        }
    }
    fn start(&mut self) {
        self.metrics.queued.dec();
        self.metrics.running.inc();
        self.running = true;
    }
}

impl Drop for Tracked<'_> {
    fn drop(&mut self) {
        if self.running {
            self.metrics.running.dec();
        } else {
            self.metrics.queued.dec();
        }
    }
}

pub struct PoolConfig {
    pub isolation: Isolation,
    pub workers: usize,
    pub timeout: Duration,
    /// The binary that becomes the engine launcher (`process`): the server's own.
    pub launcher_exe: PathBuf,
    /// Each engine process's address-space limit in bytes (0: none).
    pub process_memory: u64,
    /// Refuse to start unless the engine processes' sandbox is enforced (`--require-sandbox`).
    pub require_sandbox: bool,
}

impl Pool {
    /// The pool; with `process` isolation, its launcher and first spares started, and what their
    /// sandbox enforces logged and counted.
    pub async fn new(config: PoolConfig, metrics: Arc<Metrics>) -> std::io::Result<Pool> {
        let runner = match config.isolation {
            Isolation::Process => {
                let spares = Spares::start(&config.launcher_exe, config.process_memory, config.workers)
                    .await
                    .map_err(|e| std::io::Error::other(format!("cannot start sandboxed engine processes: {e}")))?;
                let status = spares.status();
                if config.require_sandbox && !status.is_enforced() {
                    return Err(std::io::Error::other(format!(
                        "--require-sandbox: the engine processes' sandbox is not enforced here ({})",
                        status.describe()
                    )));
                }
                tracing::info!(sandbox = %status.describe(), "engine processes sandboxed");
                metrics.sandbox(status);
                Runner::Processes(Processes {
                    slots: Semaphore::new(config.workers),
                    spares,
                })
            }
            Isolation::Thread => Runner::Threads(Threads::new(config.workers)),
        };
        Ok(Pool {
            runner,
            timeout: config.timeout,
            metrics,
        })
    }

    /// The largest peak resident memory of an engine process so far, in bytes (none with
    /// `--isolation thread`).
    pub fn engine_peak_rss(&self) -> Option<u64> {
        match &self.runner {
            Runner::Processes(p) => Some(p.spares.peak_rss()),
            Runner::Threads(_) => None,
        }
    }

    /// What the engine processes' sandbox enforces (none with `--isolation thread`).
    pub fn sandbox(&self) -> Option<&SandboxStatus> {
        match &self.runner {
            Runner::Processes(p) => Some(p.spares.status()),
            Runner::Threads(_) => None,
        }
    }

    /// Runs `job` on the video `file` reads, within the pool's time limit (`--job-timeout`).
    pub async fn run(&self, job: Work, file: File) -> Result<Output, ApiError> {
        self.run_within(job, file, self.timeout, None).await
    }

    /// Runs `job` within `timeout` (an asynchronous job's own limit), telling `progress` how far
    /// a job of many frames is.
    pub async fn run_within(
        &self,
        job: Work,
        file: File,
        timeout: Duration,
        progress: Option<ProgressFn>,
    ) -> Result<Output, ApiError> {
        let result = match &self.runner {
            Runner::Processes(p) => p.run(&job, &file, timeout, &self.metrics, progress.as_deref()).await,
            Runner::Threads(t) => t.run(job, file, timeout, &self.metrics, progress).await,
        };
        result?.map_err(|failure| match failure.engine_error() {
            Some(e) => ApiError::Engine(e),
            None => match failure {
                Failure::Internal(message) => ApiError::Internal(message),
                Failure::Engine { code, message } => ApiError::Internal(format!("{code}: {message}")),
            },
        })
    }
}

/// One engine process per job, taken from the spares.
struct Processes {
    slots: Semaphore,
    spares: Arc<Spares>,
}

impl Processes {
    async fn run(
        &self,
        job: &Work,
        file: &File,
        timeout: Duration,
        metrics: &Metrics,
        progress: Option<&(dyn Fn(f64) + Send + Sync)>,
    ) -> Result<Result<Output, Failure>, ApiError> {
        let mut tracked = Tracked::queued(metrics);
        let _slot = self.slots.acquire().await.expect("the slots are never closed");
        let take = || async {
            metrics.engine_processes.inc();
            self.spares
                .take()
                .await
                .map_err(|e| ApiError::Internal(format!("cannot launch an engine process: {e}")))
        };
        // If this future is dropped (client gone), `process` is dropped: the process is killed.
        let mut process = take().await?;
        if let Err(CallError::NotDelivered(e) | CallError::Died(e)) = process.start(job, file).await {
            // It died while it waited and never saw the job: another takes it.
            tracing::warn!(error = %e, "a spare engine process had died; taking another");
            drop(process.end().await);
            process = take().await?;
            if let Err(CallError::NotDelivered(e) | CallError::Died(e)) = process.start(job, file).await {
                return Err(ApiError::Internal(format!("a new engine process refused a job: {e}")));
            }
        }
        tracked.start(); // the job is on its process

        // An encoded image is never larger than its RGBA pixels, plus headers.
        let max_image = u64::from(job.max_pixels) * 4 + (1 << 20);
        match tokio::time::timeout(timeout, process.result(max_image, progress)).await {
            Ok(Ok(result)) => Ok(result), // the process exits (and is killed if it lingers)
            Ok(Err(CallError::NotDelivered(e) | CallError::Died(e))) => {
                let how = process.end().await;
                metrics.engine_process_crashes.inc();
                tracing::warn!(error = %e, "{how}");
                Err(ApiError::EngineCrashed(how))
            }
            Err(_elapsed) => {
                drop(process); // killed
                Err(ApiError::Timeout(timeout.as_secs_f64()))
            }
        }
    }
}

type ThreadJob = Box<dyn FnOnce() + Send>;

/// The engine on dedicated threads of the server.
struct Threads {
    jobs: mpsc::Sender<ThreadJob>,
}

/// Interrupts the job if the request is dropped (client gone) or times out before it finished.
struct InterruptOnDrop(Option<Interrupt>);

impl Drop for InterruptOnDrop {
    fn drop(&mut self) {
        if let Some(interrupt) = self.0.take() {
            interrupt.interrupt();
        }
    }
}

impl Threads {
    fn new(workers: usize) -> Threads {
        let (jobs, queue_rx) = mpsc::channel::<ThreadJob>();
        let queue_rx = Arc::new(Mutex::new(queue_rx));
        for i in 0..workers {
            let queue_rx = queue_rx.clone();
            std::thread::Builder::new()
                .name(format!("engine-{i}"))
                .spawn(move || loop {
                    // The lock is held only while waiting for the next job.
                    let job = queue_rx.lock().expect("job queue lock").recv();
                    match job {
                        Ok(job) => job(),
                        Err(_) => return, // the pool is gone
                    }
                })
                .expect("start an engine thread");
        }
        Threads { jobs }
    }

    async fn run(
        &self,
        job: Work,
        file: File,
        timeout: Duration,
        metrics: &Metrics,
        progress: Option<ProgressFn>,
    ) -> Result<Result<Output, Failure>, ApiError> {
        let mut tracked = Tracked::queued(metrics);
        let interrupt = Interrupt::new();
        let _guard = InterruptOnDrop(Some(interrupt.clone()));
        let (started_tx, started) = oneshot::channel();
        let (done_tx, done) = oneshot::channel();
        let wrapped: ThreadJob = Box::new(move || {
            if interrupt.is_interrupted() {
                return; // its request is gone already
            }
            let _ = started_tx.send(());
            let tell = |done: f64| {
                if let Some(progress) = &progress {
                    progress(done);
                }
            };
            let result = std::panic::catch_unwind(AssertUnwindSafe(|| work::run(&job, file, Some(interrupt), &tell)));
            let _ = done_tx.send(result);
        });
        self.jobs
            .send(wrapped)
            .map_err(|_| ApiError::Internal("the engine threads are gone".into()))?;

        // Waiting in the queue is bounded by its length; the time limit starts with the job.
        started
            .await
            .map_err(|_| ApiError::Internal("the job was dropped".into()))?;
        tracked.start();
        match tokio::time::timeout(timeout, done).await {
            Ok(Ok(Ok(result))) => Ok(result),
            Ok(Ok(Err(_panic))) => Err(ApiError::Internal("the engine job panicked".into())),
            Ok(Err(_)) => Err(ApiError::Internal("the job was dropped".into())),
            Err(_elapsed) => Err(ApiError::Timeout(timeout.as_secs_f64())), // _guard interrupts it
        }
    }
}
