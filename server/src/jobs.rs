//! The engine's worker pool: jobs run on tokio's blocking threads, at most `workers` at once, with
//! at most `queue` more waiting (beyond that: busy), each interrupted after the job timeout or when
//! its client goes away.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use thumbnail_engine::Interrupt;
use tokio::sync::Semaphore;

use crate::error::ApiError;
use crate::metrics::Metrics;

pub struct Pool {
    workers: Arc<Semaphore>,
    /// Jobs admitted and not yet answered (waiting + running).
    admitted: AtomicUsize,
    capacity: usize,
    timeout: Duration,
    metrics: Arc<Metrics>,
}

/// Interrupts the job if the request is dropped (client gone) before it finished.
struct InterruptOnDrop(Option<Interrupt>);

impl Drop for InterruptOnDrop {
    fn drop(&mut self) {
        if let Some(interrupt) = self.0.take() {
            interrupt.interrupt();
        }
    }
}

/// Gives the admission slot back however the request ends.
struct Admitted<'a>(&'a AtomicUsize);

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Pool {
    pub fn new(workers: usize, queue: usize, timeout: Duration, metrics: Arc<Metrics>) -> Pool {
        Pool {
            workers: Arc::new(Semaphore::new(workers)),
            admitted: AtomicUsize::new(0),
            capacity: workers + queue,
            timeout,
            metrics,
        }
    }

    /// Runs `job` on a worker. The job gets an [`Interrupt`] to hand to the engine.
    pub async fn run<T, F>(&self, job: F) -> Result<T, ApiError>
    where
        F: FnOnce(Interrupt) -> T + Send + 'static,
        T: Send + 'static,
    {
        if self.admitted.fetch_add(1, Ordering::AcqRel) >= self.capacity {
            self.admitted.fetch_sub(1, Ordering::AcqRel);
            return Err(ApiError::Busy);
        }
        let _admitted = Admitted(&self.admitted);

        self.metrics.queued.inc();
        let permit = self.workers.clone().acquire_owned().await;
        self.metrics.queued.dec();
        let permit = permit.map_err(|_| ApiError::Internal("worker pool closed".into()))?;

        let interrupt = Interrupt::new();
        let mut guard = InterruptOnDrop(Some(interrupt.clone()));
        let metrics = self.metrics.clone();
        let task = tokio::task::spawn_blocking(move || {
            // The worker slot is held until the job really ends, even after a timeout answered.
            let _permit = permit;
            metrics.running.inc();
            let result = job(interrupt);
            metrics.running.dec();
            result
        });
        let result = tokio::time::timeout(self.timeout, task).await;
        match result {
            Ok(Ok(value)) => {
                guard.0 = None;
                Ok(value)
            }
            Ok(Err(join_error)) => Err(ApiError::Internal(format!("engine job failed: {join_error}"))),
            Err(_elapsed) => Err(ApiError::Timeout(self.timeout.as_secs_f64())), // guard interrupts
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }
}
