//! The jobs' state: one row per job in `thumbnail_jobs`, in SQLite or Postgres (the same SQL text
//! for both through sqlx's `Any` driver: `$n` parameters, `ON CONFLICT`, `RETURNING`). This row,
//! not the queue's own table, is what the HTTP API reports: the queue only delivers job ids.
//!
//! A job goes `queued` -> `running` -> `done` | `failed`, or to `cancelled` from either of the
//! first two. Each run takes a fresh `run` token; only the run holding the current token may
//! finish the job, so a job re-delivered after its server died is finished exactly once.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use crate::Error;

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS thumbnail_jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    params TEXT NOT NULL,
    filename TEXT,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    idempotency_key TEXT UNIQUE,
    request_fingerprint TEXT,
    input_bytes BIGINT NOT NULL DEFAULT 0,
    run TEXT,
    node TEXT,
    created_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT,
    expires_at BIGINT,
    result TEXT,
    problem TEXT,
    progress DOUBLE PRECISION,
    queued BIGINT NOT NULL DEFAULT 0,
    purged BIGINT NOT NULL DEFAULT 0
)";

/// `SELECT <every column a JobRecord reads> FROM thumbnail_jobs <rest>`, as one literal.
macro_rules! select {
    ($rest:literal) => {
        concat!(
            "SELECT id, kind, params, filename, state, attempts, run, node, created_at, started_at, finished_at, expires_at, progress, result, problem FROM thumbnail_jobs ",
            $rest
        )
    };
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Queued,
    Running,
    Done,
    Failed,
    Cancelled,
}

impl State {
    pub const ALL: [State; 5] = [
        State::Queued,
        State::Running,
        State::Done,
        State::Failed,
        State::Cancelled,
    ];

    pub fn name(self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Running => "running",
            State::Done => "done",
            State::Failed => "failed",
            State::Cancelled => "cancelled",
        }
    }

    fn from_name(name: &str) -> Result<State, Error> {
        Ok(match name {
            "queued" => State::Queued,
            "running" => State::Running,
            "done" => State::Done,
            "failed" => State::Failed,
            "cancelled" => State::Cancelled,
            other => return Err(Error::Corrupt(format!("a job in the unknown state {other:?}"))),
        })
    }

    /// Done, failed or cancelled: nothing more happens to it.
    pub fn is_final(self) -> bool {
        matches!(self, State::Done | State::Failed | State::Cancelled)
    }
}

/// One job as the store has it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRecord {
    pub id: String,
    /// What to make ("thumbnail", "probe", ...): the host's word.
    pub kind: String,
    /// The request's parameters, as name/value pairs.
    pub params: Vec<(String, String)>,
    /// The uploaded file's name, if it had one.
    pub filename: Option<String>,
    pub state: State,
    /// Runs started (a job re-delivered after its server died runs again).
    pub attempts: u32,
    /// The current run's token.
    pub run: Option<String>,
    /// The server running it, or that ran it.
    pub node: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// When a finished job's result is deleted.
    pub expires_at: Option<i64>,
    /// How far a running job is, 0 to 1, where its runner says.
    pub progress: Option<f64>,
    /// What a done job made (the host's description of its files), as JSON.
    pub result: Option<serde_json::Value>,
    /// Why a failed job failed: the host's problem document, as JSON.
    pub problem: Option<serde_json::Value>,
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn record(row: &AnyRow) -> Result<JobRecord, Error> {
    let json = |name: &str| -> Result<Option<serde_json::Value>, Error> {
        let text: Option<String> = row.try_get(name)?;
        text.map(|t| serde_json::from_str(&t).map_err(|e| Error::Corrupt(format!("{name}: {e}"))))
            .transpose()
    };
    let params: String = row.try_get("params")?;
    Ok(JobRecord {
        id: row.try_get("id")?,
        kind: row.try_get("kind")?,
        params: serde_json::from_str(&params).map_err(|e| Error::Corrupt(format!("params: {e}")))?,
        filename: row.try_get("filename")?,
        state: State::from_name(&row.try_get::<String, _>("state")?)?,
        attempts: row.try_get::<i64, _>("attempts")? as u32,
        run: row.try_get("run")?,
        node: row.try_get("node")?,
        created_at: row.try_get("created_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        expires_at: row.try_get("expires_at")?,
        progress: row.try_get("progress")?,
        result: json("result")?,
        problem: json("problem")?,
    })
}

/// A new job, before it is stored.
pub struct NewJob<'a> {
    pub kind: &'a str,
    pub params: &'a [(String, String)],
    pub filename: Option<&'a str>,
    /// Scoped by `fingerprint`: a hash of the operation, its query and its video.
    pub idempotency_key: Option<&'a str>,
    pub fingerprint: Option<&'a str>,
    /// The input's size (what the queued inputs' budget counts).
    pub input_bytes: u64,
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
}

impl Store {
    pub async fn open(pool: AnyPool) -> Result<Store, Error> {
        sqlx::query(SCHEMA).execute(&pool).await?;
        // Stores made before these were kept gain their columns (SQLite has no ADD COLUMN IF
        // NOT EXISTS: the error of a column already there is the expected outcome).
        for added in [
            "ALTER TABLE thumbnail_jobs ADD COLUMN request_fingerprint TEXT",
            "ALTER TABLE thumbnail_jobs ADD COLUMN input_bytes BIGINT NOT NULL DEFAULT 0",
        ] {
            let added = sqlx::query(added).execute(&pool).await;
            if let Err(e) = added {
                let message = e.to_string();
                if !message.contains("duplicate column") && !message.contains("already exists") {
                    return Err(e.into());
                }
            }
        }
        sqlx::query("CREATE INDEX IF NOT EXISTS thumbnail_jobs_state ON thumbnail_jobs (state, expires_at)")
            .execute(&pool)
            .await?;
        Ok(Store { pool })
    }

    /// Stores a new queued job, or, when another job already has its idempotency key, returns
    /// that one (and `false`).
    pub async fn insert(&self, id: &str, job: &NewJob<'_>) -> Result<(JobRecord, bool), Error> {
        let params = serde_json::to_string(job.params).expect("pairs serialise");
        let inserted = sqlx::query(
            "INSERT INTO thumbnail_jobs (id, kind, params, filename, state, idempotency_key, request_fingerprint, input_bytes, created_at)
             VALUES ($1, $2, $3, $4, 'queued', $5, $6, $7, $8) ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .bind(id)
        .bind(job.kind)
        .bind(params)
        .bind(job.filename)
        .bind(job.idempotency_key)
        .bind(job.fingerprint)
        .bind(i64::try_from(job.input_bytes).unwrap_or(i64::MAX))
        .bind(now_ms())
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1;
        let found = if inserted {
            self.get(id).await?
        } else {
            self.by_key(job.idempotency_key.unwrap_or_default(), job.fingerprint)
                .await?
        };
        let found = found.ok_or_else(|| Error::Corrupt("a job just stored is not there".into()))?;
        Ok((found, inserted))
    }

    /// The job stored with this idempotency key, if it was stored for a request of this
    /// fingerprint ([`Error::KeyReused`] if for another).
    pub async fn by_key(&self, key: &str, fingerprint: Option<&str>) -> Result<Option<JobRecord>, Error> {
        let stored = sqlx::query("SELECT request_fingerprint FROM thumbnail_jobs WHERE idempotency_key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        let Some(stored) = stored else {
            return Ok(None);
        };
        if stored.try_get::<Option<String>, _>("request_fingerprint")?.as_deref() != fingerprint {
            return Err(Error::KeyReused(key.to_owned()));
        }
        let row = sqlx::query(select!("WHERE idempotency_key = $1"))
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(record).transpose()
    }

    pub async fn get(&self, id: &str) -> Result<Option<JobRecord>, Error> {
        let row = sqlx::query(select!("WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(record).transpose()
    }

    /// Starts a run of a queued job, or again of a running one whose server died (the queue
    /// re-delivers it only then): a new run token, one more attempt. `None`: the job is finished
    /// or cancelled (or gone), nothing to run.
    pub async fn start(&self, id: &str, run: &str, node: &str) -> Result<Option<JobRecord>, Error> {
        let updated = sqlx::query(
            "UPDATE thumbnail_jobs SET state = 'running', attempts = attempts + 1, run = $1, node = $2, started_at = $3, progress = NULL
             WHERE id = $4 AND state IN ('queued', 'running')",
        )
        .bind(run)
        .bind(node)
        .bind(now_ms())
        .bind(id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if updated == 0 {
            return Ok(None);
        }
        self.get(id).await
    }

    /// Finishes the run `run` of a job: done with `result`, or failed with `problem`. `false`: the
    /// job is no longer this run's (cancelled, or finished by another run).
    pub async fn finish(
        &self,
        id: &str,
        run: &str,
        outcome: Result<&serde_json::Value, &serde_json::Value>,
        expires_at: i64,
    ) -> Result<bool, Error> {
        let (state, result, problem) = match outcome {
            Ok(result) => ("done", Some(result.to_string()), None),
            Err(problem) => ("failed", None, Some(problem.to_string())),
        };
        let updated = sqlx::query(
            "UPDATE thumbnail_jobs SET state = $1, result = $2, problem = $3, finished_at = $4, expires_at = $5,
             progress = CASE WHEN $1 = 'done' THEN 1.0 ELSE progress END
             WHERE id = $6 AND run = $7 AND state = 'running'",
        )
        .bind(state)
        .bind(result)
        .bind(problem)
        .bind(now_ms())
        .bind(expires_at)
        .bind(id)
        .bind(run)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(updated == 1)
    }

    /// How far the run `run` of a running job is.
    pub async fn set_progress(&self, id: &str, run: &str, progress: f64) -> Result<(), Error> {
        sqlx::query("UPDATE thumbnail_jobs SET progress = $1 WHERE id = $2 AND run = $3 AND state = 'running'")
            .bind(progress)
            .bind(id)
            .bind(run)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Cancels a queued or running job; `false` if it was neither.
    pub async fn cancel(&self, id: &str, expires_at: i64) -> Result<bool, Error> {
        let updated = sqlx::query(
            "UPDATE thumbnail_jobs SET state = 'cancelled', finished_at = $1, expires_at = $2
             WHERE id = $3 AND state IN ('queued', 'running')",
        )
        .bind(now_ms())
        .bind(expires_at)
        .bind(id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(updated == 1)
    }

    /// The state of a job, cheaply (a running job watches for its cancellation).
    /// Whether the job is still running as the run `run` (not cancelled, finished, nor taken over
    /// by another run after this one's server missed its heartbeats).
    pub async fn is_run_current(&self, id: &str, run: &str) -> Result<bool, Error> {
        let row =
            sqlx::query("SELECT 1 AS current FROM thumbnail_jobs WHERE id = $1 AND run = $2 AND state = 'running'")
                .bind(id)
                .bind(run)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.is_some())
    }

    /// Fails every job still `running` whose current run started before `before` (past its time
    /// limit: the run ended without its outcome recorded), with `problem`; their ids.
    pub async fn fail_stale_runs(
        &self,
        before: i64,
        problem: &serde_json::Value,
        expires_at: i64,
    ) -> Result<Vec<String>, Error> {
        let rows = sqlx::query(
            "UPDATE thumbnail_jobs SET state = 'failed', problem = $1, finished_at = $2, expires_at = $3
             WHERE state = 'running' AND started_at < $4 RETURNING id",
        )
        .bind(problem.to_string())
        .bind(now_ms())
        .bind(expires_at)
        .bind(before)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get::<String, _>("id")?)).collect()
    }

    pub async fn state(&self, id: &str) -> Result<Option<State>, Error> {
        let row = sqlx::query("SELECT state FROM thumbnail_jobs WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| State::from_name(&r.try_get::<String, _>("state")?))
            .transpose()
    }

    /// Notes that the job's id is on the queue.
    pub async fn mark_queued(&self, id: &str) -> Result<(), Error> {
        sqlx::query("UPDATE thumbnail_jobs SET queued = 1 WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Ids of jobs accepted before `before` whose id is not known to be on the queue (their
    /// server stopped between storing and queuing them), at most `limit`.
    pub async fn unqueued_before(&self, before: i64, limit: i64) -> Result<Vec<String>, Error> {
        let rows = sqlx::query(
            "SELECT id FROM thumbnail_jobs WHERE state = 'queued' AND queued = 0 AND created_at < $1 LIMIT $2",
        )
        .bind(before)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get("id")?)).collect()
    }

    /// Finished jobs whose time is up, at most `limit`.
    pub async fn expired(&self, now: i64, limit: i64) -> Result<Vec<JobRecord>, Error> {
        let rows = sqlx::query(select!("WHERE expires_at <= $1 AND purged = 0 LIMIT $2"))
            .bind(now)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(record).collect()
    }

    /// Marks an expired job's files as deleted (its row stays, so that it answers 410 Gone).
    pub async fn purged(&self, id: &str) -> Result<(), Error> {
        sqlx::query("UPDATE thumbnail_jobs SET purged = 1 WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Deletes the rows of jobs whose files were deleted and that expired before `before`.
    pub async fn delete_forgotten(&self, before: i64) -> Result<u64, Error> {
        let deleted = sqlx::query("DELETE FROM thumbnail_jobs WHERE purged = 1 AND expires_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(deleted)
    }

    /// Jobs waiting to run, on every server sharing the store.
    /// Bytes of the inputs of jobs queued or running (their inputs are kept until they end).
    pub async fn queued_bytes(&self) -> Result<u64, Error> {
        let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(input_bytes), 0) AS BIGINT) AS n FROM thumbnail_jobs WHERE state IN ('queued', 'running')",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get::<i64, _>("n")?.max(0) as u64)
    }

    pub async fn queued_count(&self) -> Result<u64, Error> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM thumbnail_jobs WHERE state = 'queued'")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<i64, _>("n")? as u64)
    }

    /// How many jobs are in each state (every state, zero included), on every server sharing the
    /// store.
    pub async fn counts(&self) -> Result<Vec<(State, u64)>, Error> {
        let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM thumbnail_jobs GROUP BY state")
            .fetch_all(&self.pool)
            .await?;
        let mut counts = State::ALL.map(|state| (state, 0));
        for row in rows {
            let state = State::from_name(&row.try_get::<String, _>("state")?)?;
            let n = row.try_get::<i64, _>("n")? as u64;
            counts.iter_mut().filter(|(s, _)| *s == state).for_each(|c| c.1 = n);
        }
        Ok(counts.to_vec())
    }
}
