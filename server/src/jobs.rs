//! The engine's job pool: at most `workers` jobs run at once, the others wait, and each job has a
//! time limit. (How many requests may wait is decided before their upload, in lib.rs.)
//!
//! Two ways to run a job (`--isolation`):
//! - `process` (the default): in a sandboxed engine process (`thumbnail_sandbox::process`). A crash, an abort or
//!   memory corruption in FFmpeg on a hostile file costs that one request (422 `engine_crashed`);
//!   the worker is replaced. A timeout or a client that goes away kills the worker.
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
use thumbnail_sandbox::process::{CallError, EngineProcess};
use thumbnail_sandbox::work::{self, Failure, Output, Work};

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
    /// The binary started as a worker (`process`): the server's own.
    pub worker_exe: PathBuf,
    /// Each worker's address-space limit in bytes (0: none).
    pub worker_memory: u64,
}

impl Pool {
    pub fn new(config: PoolConfig, metrics: Arc<Metrics>) -> Pool {
        let runner = match config.isolation {
            Isolation::Process => Runner::Processes(Processes::new(&config, metrics.clone())),
            Isolation::Thread => Runner::Threads(Threads::new(config.workers)),
        };
        Pool {
            runner,
            timeout: config.timeout,
            metrics,
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

/// Sandboxed worker processes, started as needed and kept while they are healthy.
struct Processes {
    slots: Semaphore,
    idle: Mutex<Vec<EngineProcess>>,
    exe: PathBuf,
    memory: u64,
}

impl Processes {
    fn new(config: &PoolConfig, metrics: Arc<Metrics>) -> Processes {
        let processes = Processes {
            slots: Semaphore::new(config.workers),
            idle: Mutex::new(Vec::new()),
            exe: config.worker_exe.clone(),
            memory: config.worker_memory,
        };
        // Started now, so that the first requests do not wait for them.
        for _ in 0..config.workers {
            match processes.spawn(&metrics) {
                Ok(worker) => processes.idle.lock().expect("idle workers").push(worker),
                Err(e) => tracing::error!(error = %e, "cannot start an engine worker"),
            }
        }
        processes
    }

    fn spawn(&self, metrics: &Metrics) -> std::io::Result<EngineProcess> {
        metrics.worker_starts.inc();
        EngineProcess::spawn(&self.exe, self.memory)
    }

    /// An idle worker that is still alive, or a new one.
    fn take(&self, metrics: &Metrics) -> Result<EngineProcess, ApiError> {
        while let Some(mut worker) = self.idle.lock().expect("idle workers").pop() {
            if !worker.has_exited() {
                return Ok(worker);
            }
        }
        self.spawn(metrics)
            .map_err(|e| ApiError::Internal(format!("cannot start an engine worker: {e}")))
    }

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
        // If this future is dropped (client gone), `worker` is dropped: the process is killed.
        let mut worker = self.take(metrics)?;
        if let Err(CallError::NotDelivered(e) | CallError::Died(e)) = worker.start(job, file).await {
            // It died while idle and never saw the job: a new one takes it.
            tracing::warn!(error = %e, "an idle engine worker had died; starting another");
            drop(worker.end().await);
            worker = self.take(metrics)?;
            if let Err(CallError::NotDelivered(e) | CallError::Died(e)) = worker.start(job, file).await {
                return Err(ApiError::Internal(format!("a new engine worker refused a job: {e}")));
            }
        }
        tracked.start(); // the job is on the worker
                         // An encoded image is never larger than its RGBA pixels, plus headers.
        let max_image = u64::from(job.max_pixels) * 4 + (1 << 20);
        match tokio::time::timeout(timeout, worker.result(max_image, progress)).await {
            Ok(Ok(result)) => {
                self.idle.lock().expect("idle workers").push(worker);
                Ok(result)
            }
            Ok(Err(CallError::NotDelivered(e) | CallError::Died(e))) => {
                let how = worker.end().await;
                metrics.worker_crashes.inc();
                tracing::warn!(error = %e, "{how}");
                Err(ApiError::EngineCrashed(how))
            }
            Err(_elapsed) => {
                drop(worker); // killed
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
