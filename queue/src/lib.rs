//! Asynchronous jobs for the server (the asynchronous request-reply pattern): a job is accepted at
//! once, stored, run by any server sharing the store, and its result kept for a while.
//!
//! - [`store`]: each job's state (`thumbnail_jobs`), what the HTTP API reports;
//! - [`files`]: the jobs' inputs and results in an object store;
//! - the queue: apalis (`apalis-sqlite` by default, `apalis-postgres` to share the jobs between
//!   servers) delivers job ids to this server's workers, beats their hearts, and re-delivers the
//!   jobs of a server that stopped beating (killed, crashed) to another one.
//!
//! The host (the HTTP server) says what a job is and how to run it ([`Runner`]); this crate knows
//! nothing of videos.

pub mod files;
pub mod store;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::*;
use apalis_postgres::PostgresStorage;
use apalis_sqlite::SqliteStorage;
use bytes::Bytes;
pub use files::Files;
pub use store::{now_ms, JobRecord, NewJob, State, Store};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the job store: {0}")]
    Database(#[from] sqlx::Error),
    #[error("the job files: {0}")]
    Files(#[from] object_store::Error),
    #[error("the job files: {0}")]
    Io(#[from] std::io::Error),
    #[error("the job queue: {0}")]
    Queue(String),
    #[error("the job store holds something unexpected: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Config(String),
    /// An idempotency key already stands for another request (its fingerprint differs).
    #[error("the Idempotency-Key {0:?} was used before for another request (operation, query or video)")]
    KeyReused(String),
}

/// Where the jobs live and how this server takes part.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    /// `sqlite:///path/jobs.db` (created if missing) or `postgres://user@host/db`.
    pub database_url: String,
    /// Where inputs and results go: `file:///path` or any URL `object_store` takes.
    pub files_url: url::Url,
    /// This server's name among those sharing the store (its workers are named after it).
    pub node: String,
    /// Jobs this server runs at once (0: none; it only accepts jobs and answers about them).
    pub concurrency: usize,
    /// A server that misses two heartbeats is presumed dead: its jobs are run again elsewhere.
    pub heartbeat: Duration,
    /// Runs of one job at most (a server dying under it counts as one).
    pub max_attempts: u32,
    /// How long a finished job's result (or failure) stays readable.
    pub result_ttl: Duration,
    /// How long after that its row stays (answering that it expired), before it is forgotten.
    pub row_retention: Duration,
    /// How often idle workers look for new jobs.
    pub poll: Duration,
    /// The longest a run may take (the host's own limit): a job still running this long after
    /// its run started (and two heartbeats more) ended without its outcome recorded, and the
    /// sweeper fails it.
    pub run_limit: Duration,
}

/// What a run made: files to keep, and the host's description of the result (kept as JSON).
pub struct Made {
    pub files: Vec<(String, Bytes)>,
    pub result: serde_json::Value,
}

/// Where a runner says how far its job is (0 to 1), from any thread; kept in the job's row a few
/// times a second at most.
#[derive(Clone)]
pub struct Progress(tokio::sync::watch::Sender<f64>);

impl Progress {
    pub fn set(&self, done: f64) {
        self.0.send_replace(done.clamp(0.0, 1.0));
    }
}

/// How often a running job's progress is written to its row, at most.
const PROGRESS_EVERY: Duration = Duration::from_millis(300);

/// How the host runs its jobs.
pub trait Runner: Send + Sync + 'static {
    /// Runs `job` on its input, telling `progress` how far it is where it knows. `Err`: the job
    /// failed, with the host's problem document.
    fn run(
        &self,
        job: &JobRecord,
        input: std::fs::File,
        progress: Progress,
    ) -> impl Future<Output = Result<Made, serde_json::Value>> + Send;

    /// The problem document of a job given up after `attempts` runs that never finished (each
    /// time the server running it stopped).
    fn abandoned(&self, job: &JobRecord) -> serde_json::Value;

    /// The problem document of a job whose outcome could not be recorded (`why`): an internal
    /// failure.
    fn unrecorded(&self, why: &str) -> serde_json::Value;

    /// A run of `job` starts here (`job.attempts` counts it).
    fn started(&self, _job: &JobRecord) {}

    /// This server finished `job` (done or failed), `latency` after it was accepted.
    fn finished(&self, _job: &JobRecord, _state: State, _latency: Duration) {}
}

/// The queue's name in the backends' tables.
const QUEUE: &str = "thumbnail-jobs";
/// The Postgres advisory lock held while the tables are made ("thumbs" in ASCII).
const SETUP_LOCK: i64 = 0x7468_756d_6273;

#[derive(Clone)]
enum Queue {
    Sqlite(SqliteStorage<String>),
    Postgres(PostgresStorage<String>),
}

/// The jobs: their store, their files and their queue.
#[derive(Clone)]
pub struct Jobs {
    store: Store,
    files: Files,
    queue: Queue,
    config: Arc<QueueConfig>,
}

/// What asking to cancel a job did.
pub enum Cancelled {
    Now(JobRecord),
    /// Too late: it is done, failed or cancelled already.
    Finished(JobRecord),
    NotFound,
}

impl Jobs {
    /// Opens (creating what is missing) the store, the files and the queue.
    pub async fn open(config: QueueConfig) -> Result<Jobs, Error> {
        sqlx::any::install_default_drivers();
        let url = config.database_url.as_str();
        let sqlite = url.starts_with("sqlite:");
        let any = || {
            sqlx::any::AnyPoolOptions::new()
                .max_connections(8)
                .after_connect(move |connection, _| {
                    Box::pin(async move {
                        if sqlite {
                            // As the queue's connections (below): WAL, synced at checkpoints.
                            sqlx::query("PRAGMA synchronous = NORMAL").execute(connection).await?;
                        }
                        Ok(())
                    })
                })
                .connect(url)
        };
        let (queue, store) = if sqlite {
            let options: sqlx::sqlite::SqliteConnectOptions = url
                .parse::<sqlx::sqlite::SqliteConnectOptions>()?
                .create_if_missing(true)
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                // With WAL, what a process killed at any moment committed is kept; only a power
                // cut may lose the last commits (FULL would sync every commit).
                .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10));
            let pool = sqlx::SqlitePool::connect_with(options).await?;
            SqliteStorage::setup(&pool)
                .await
                .map_err(|e| Error::Queue(e.to_string()))?;
            let queue_config = apalis_sqlite::Config::default()
                .queue(QUEUE)
                .batch_size(2 * config.concurrency.max(1))
                .heartbeat_interval(config.heartbeat)
                .missed_heartbeats(2);
            let store = Store::open(any().await?).await?;
            (
                Queue::Sqlite(SqliteStorage::new(&pool).with_config(queue_config)),
                store,
            )
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let pool = sqlx::PgPool::connect(url).await?;
            // Servers starting together on a new database would create the same tables at once,
            // which Postgres refuses: one at a time.
            let mut lock = pool.acquire().await?;
            sqlx::query("SELECT pg_advisory_lock($1)")
                .bind(SETUP_LOCK)
                .execute(&mut *lock)
                .await?;
            let set_up = async {
                PostgresStorage::setup(&pool)
                    .await
                    .map_err(|e| Error::Queue(e.to_string()))?;
                Store::open(any().await?).await
            }
            .await;
            sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(SETUP_LOCK)
                .execute(&mut *lock)
                .await?;
            let store = set_up?;
            let queue_config = apalis_postgres::Config::default()
                .queue(QUEUE)
                .batch_size(2 * config.concurrency.max(1))
                .heartbeat_interval(config.heartbeat)
                .missed_heartbeats(2);
            (
                Queue::Postgres(PostgresStorage::new(&pool).with_config(queue_config)),
                store,
            )
        } else {
            return Err(Error::Config(format!(
                "the job database must be a sqlite: or postgres: URL, not {url:?}"
            )));
        };
        let files = Files::open(&config.files_url)?;
        Ok(Jobs {
            store,
            files,
            queue,
            config: Arc::new(config),
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn files(&self) -> &Files {
        &self.files
    }

    /// Accepts a job on the video at `input` (copied into the job files): stored as queued, then
    /// handed to the queue (or, if the queue refuses now, to the sweeper). A job with the same
    /// idempotency key and the same request fingerprint is returned instead (`false`); the same
    /// key with another fingerprint is [`Error::KeyReused`].
    pub async fn submit(&self, job: NewJob<'_>, input: &std::path::Path) -> Result<(JobRecord, bool), Error> {
        if let Some(key) = job.idempotency_key {
            if let Some(existing) = self.store.by_key(key, job.fingerprint).await? {
                return Ok((existing, false));
            }
        }
        let id = uuid::Uuid::new_v4().to_string();
        self.files.put_input(&id, input).await?;
        let (record, inserted) = self.store.insert(&id, &job).await?;
        if !inserted {
            // Another request with the same key stored its job first.
            self.files.delete_input(&id).await?;
            return Ok((record, false));
        }
        match self.push(&id).await {
            Ok(()) => self.store.mark_queued(&id).await?,
            // Stored all the same: the sweeper queues it a little later.
            Err(e) => tracing::warn!(job = %id, error = %e, "queuing a job; the sweeper will"),
        }
        Ok((record, true))
    }

    /// Hands the job's id to the queue, once ever: the id is the task's idempotency key, so that
    /// pushing it again (the sweeper does, for a job stored but never queued: a server stopped
    /// between the two) cannot deliver it twice.
    async fn push(&self, id: &str) -> Result<(), String> {
        match &self.queue {
            Queue::Sqlite(q) => {
                let task = TaskBuilder::new(id.to_owned()).idempotency_key(id).build();
                q.clone().push_task(task).await.map_err(|e| e.to_string())
            }
            Queue::Postgres(q) => {
                let task = TaskBuilder::new(id.to_owned()).idempotency_key(id).build();
                match q.clone().push_task(task).await {
                    // Postgres refuses the key a second time, where SQLite ignores it: queued already.
                    Err(e) if e.to_string().contains("idx_jobs_idempotency_key") => Ok(()),
                    other => other.map_err(|e| e.to_string()),
                }
            }
        }
    }

    pub async fn get(&self, id: &str) -> Result<Option<JobRecord>, Error> {
        self.store.get(id).await
    }

    /// Whether a finished job's time is up (its result deleted, or about to be).
    pub fn expired(&self, job: &JobRecord) -> bool {
        job.expires_at.is_some_and(|t| t <= now_ms())
    }

    /// Cancels a queued or running job (a running one stops within a moment, wherever it runs).
    pub async fn cancel(&self, id: &str) -> Result<Cancelled, Error> {
        if self.store.cancel(id, self.expiry()).await? {
            self.files.delete_input(id).await?;
            let job = self
                .store
                .get(id)
                .await?
                .ok_or(Error::Corrupt("a cancelled job is gone".into()))?;
            return Ok(Cancelled::Now(job));
        }
        Ok(match self.store.get(id).await? {
            Some(job) => Cancelled::Finished(job),
            None => Cancelled::NotFound,
        })
    }

    /// A file a done job made, by the name its runner gave it.
    pub async fn file(&self, job: &JobRecord, name: &str) -> Result<Option<Bytes>, Error> {
        let Some(run) = job.run.as_deref().filter(|_| job.state == State::Done) else {
            return Ok(None);
        };
        self.files.get(&Files::result_key(&job.id, run, name)).await
    }

    fn expiry(&self) -> i64 {
        now_ms() + self.config.result_ttl.as_millis() as i64
    }

    /// Starts this server's workers (they take jobs until the process ends; none with a
    /// concurrency of 0) and the sweeper that deletes expired results.
    pub fn start<R: Runner>(&self, runner: Arc<R>) {
        let context = Arc::new(Context {
            jobs: self.clone(),
            runner,
        });
        // A name of its own for each start: the jobs of a killed process are another worker's to
        // take back, and a restarted one must not pass for the one that died.
        let name = format!("{}-{}-{}", self.config.node, std::process::id(), now_ms());
        let concurrency = self.config.concurrency;
        let poll = self.config.poll;
        // The same worker on either backend (their types differ, their use does not).
        macro_rules! spawn_worker {
            ($backend:expr) => {{
                let worker = WorkerBuilder::new(name)
                    .backend($backend.poll_with_interval(poll))
                    .data(context.clone())
                    .concurrency(concurrency)
                    .build(deliver::<R>);
                tokio::spawn(async move {
                    if let Err(e) = worker.run().await {
                        tracing::error!(error = %e, "the job worker stopped");
                    }
                });
            }};
        }
        match self.queue.clone() {
            _ if concurrency == 0 => {}
            Queue::Sqlite(q) => spawn_worker!(q),
            Queue::Postgres(q) => spawn_worker!(q),
        }
        let jobs = self.clone();
        tokio::spawn(async move { jobs.sweep(context.runner.clone()).await });
    }

    /// Now and then, for as long as the server runs: deletes the files of jobs whose time is up
    /// (and their rows `row_retention` later), queues jobs stored but never queued (their server
    /// stopped between the two), and fails jobs still `running` past their run's time limit.
    async fn sweep<R: Runner>(self, runner: Arc<R>) {
        let every = (self.config.result_ttl / 4).clamp(Duration::from_millis(200), Duration::from_secs(60));
        loop {
            let stale = now_ms() - 3 * self.config.heartbeat.as_millis() as i64;
            match self.store.unqueued_before(stale, 100).await {
                Ok(ids) => {
                    for id in ids {
                        tracing::info!(job = %id, "queuing a job stored but never queued");
                        match self.push(&id).await {
                            Ok(()) => {
                                if let Err(e) = self.store.mark_queued(&id).await {
                                    tracing::warn!(job = %id, error = %e, "noting a job queued");
                                }
                            }
                            Err(e) => tracing::warn!(job = %id, error = %e, "queuing a job"),
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "looking for jobs never queued"),
            }
            tokio::time::sleep(every.min(self.config.heartbeat)).await;
            match self.store.expired(now_ms(), 100).await {
                Ok(jobs) => {
                    for job in jobs {
                        let deleted = async {
                            self.files.delete_results(&job.id, None).await?;
                            self.files.delete_input(&job.id).await?;
                            self.store.purged(&job.id).await
                        };
                        if let Err(e) = deleted.await {
                            tracing::warn!(job = %job.id, error = %e, "deleting an expired job's files");
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "looking for expired jobs"),
            }
            // A run past its time limit (and two heartbeats) that is still `running` ended without
            // its outcome recorded (its server could not write it, or lost the store meanwhile).
            let limit = self.config.run_limit + 2 * self.config.heartbeat;
            let stale = now_ms() - limit.as_millis() as i64;
            let problem = runner.unrecorded(&format!(
                "its run was still going {} s after it started, past its time limit, and never said how it ended",
                limit.as_secs()
            ));
            match self.store.fail_stale_runs(stale, &problem, self.expiry()).await {
                Ok(ids) => {
                    for id in ids {
                        tracing::warn!(job = %id, "a job was still running past its time limit: failed");
                        if let Err(e) = self.files.delete_input(&id).await {
                            tracing::warn!(job = %id, error = %e, "deleting a failed job's input");
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "looking for runs past their time limit"),
            }
            let forgotten = now_ms() - self.config.row_retention.as_millis() as i64;
            if let Err(e) = self.store.delete_forgotten(forgotten).await {
                tracing::warn!(error = %e, "forgetting expired jobs");
            }
        }
    }
}

struct Context<R> {
    jobs: Jobs,
    runner: Arc<R>,
}

/// How often a running job looks whether it was cancelled or taken over by another run.
const CANCEL_CHECK: Duration = Duration::from_millis(250);

/// A job id delivered by the queue: run it, unless it is finished or cancelled already.
async fn deliver<R: Runner>(id: String, context: Data<Arc<Context<R>>>) -> Result<(), BoxDynError> {
    let Context { jobs, runner } = &**context;
    let run = uuid::Uuid::new_v4().to_string();
    let Some(job) = jobs.store.start(&id, &run, &jobs.config.node).await? else {
        return Ok(()); // done, failed or cancelled meanwhile
    };
    runner.started(&job);
    let ended = |state: State| {
        let latency = Duration::from_millis(now_ms().saturating_sub(job.created_at).max(0) as u64);
        runner.finished(&job, state, latency);
    };
    if job.attempts > jobs.config.max_attempts {
        let problem = runner.abandoned(&job);
        if jobs.store.finish(&id, &run, Err(&problem), jobs.expiry()).await? {
            ended(State::Failed);
        }
        jobs.files.delete_input(&id).await?;
        return Ok(());
    }
    let input = jobs.files.open_input(&id).await?;
    let (progress, mut told) = tokio::sync::watch::channel(0.0);
    let writer = {
        let (store, id, run) = (jobs.store.clone(), id.clone(), run.clone());
        tokio::spawn(async move {
            while told.changed().await.is_ok() {
                let done = *told.borrow_and_update();
                if let Err(e) = store.set_progress(&id, &run, done).await {
                    tracing::debug!(job = %id, error = %e, "noting a job's progress");
                }
                tokio::time::sleep(PROGRESS_EVERY).await;
            }
        })
    };
    let _stop_writing = AbortOnDrop(writer);
    let work = runner.run(&job, input, Progress(progress));
    let superseded = async {
        loop {
            tokio::time::sleep(CANCEL_CHECK).await;
            // Cancelled, or re-delivered to another run after this server missed its heartbeats.
            match jobs.store.is_run_current(&id, &run).await {
                Ok(true) | Err(_) => continue,
                Ok(false) => return,
            }
        }
    };
    let outcome = tokio::select! {
        outcome = work => outcome,
        () = superseded => {
            tracing::info!(job = %id, "the job was cancelled or taken over by another run: this one stops");
            return Ok(()); // dropping the run stops the engine
        }
    };
    let result = match outcome {
        Ok(made) => match keep(jobs, &id, &run, made.files).await {
            Ok(()) => Ok(made.result),
            Err(e) => {
                tracing::error!(job = %id, error = %e, "storing a job's result");
                let _ = jobs.files.delete_results(&id, Some(&run)).await;
                Err(runner.unrecorded(&format!("its result could not be stored: {e}")))
            }
        },
        Err(problem) => Err(problem),
    };
    let state = if result.is_ok() { State::Done } else { State::Failed };
    let finished = jobs.store.finish(&id, &run, result.as_ref(), jobs.expiry()).await?;
    if finished {
        ended(state);
        jobs.files.delete_input(&id).await?;
    } else {
        // Cancelled, or finished by another run: this run's files are nobody's.
        jobs.files.delete_results(&id, Some(&run)).await?;
    }
    Ok(())
}

/// Keeps a run's files.
async fn keep(jobs: &Jobs, id: &str, run: &str, files: Vec<(String, Bytes)>) -> Result<(), Error> {
    for (name, bytes) in files {
        jobs.files.put(&Files::result_key(id, run, &name), bytes).await?;
    }
    Ok(())
}

/// Ends a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
