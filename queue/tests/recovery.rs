//! The queue on a real SQLite file, and on a real PostgreSQL: jobs submitted are run by the host's
//! runner once; a job stored but never queued, or queued but not noted so (its server stopped
//! between the steps), is queued by the sweeper and run once too.

use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
mod common;

use common::finished;
use thumbnail_queue::{JobRecord, Jobs, Made, NewJob, Progress, QueueConfig, Runner, State};

/// Answers each job with its input reversed, counting its runs.
struct Reverse {
    runs: AtomicUsize,
}

impl Runner for Reverse {
    async fn run(
        &self,
        _job: &JobRecord,
        mut input: std::fs::File,
        progress: Progress,
    ) -> Result<Made, serde_json::Value> {
        progress.set(0.5);
        self.runs.fetch_add(1, Ordering::SeqCst);
        let mut bytes = Vec::new();
        input.read_to_end(&mut bytes).unwrap();
        bytes.reverse();
        Ok(Made {
            files: vec![("body".into(), Bytes::from(bytes))],
            result: serde_json::json!({ "reversed": true }),
        })
    }

    fn abandoned(&self, _job: &JobRecord) -> serde_json::Value {
        serde_json::json!({ "code": "engine_crashed" })
    }

    fn unrecorded(&self, why: &str) -> serde_json::Value {
        serde_json::json!({ "code": "internal", "detail": why })
    }
}

/// Jobs on the store at `database_url`: one submitted; one stored but never queued; one queued
/// but not noted as queued (its server stopped between the two), which the sweeper queues again:
/// each runs once.
async fn each_runs_once(database_url: String) {
    let dir = tempfile::tempdir().unwrap();
    let config = QueueConfig {
        database_url,
        files_url: url::Url::from_directory_path(dir.path().join("files")).unwrap(),
        node: "test".into(),
        concurrency: 1,
        heartbeat: Duration::from_secs(1),
        max_attempts: 3,
        result_ttl: Duration::from_secs(3600),
        row_retention: Duration::from_secs(3600),
        poll: Duration::from_millis(50),
        run_limit: Duration::from_secs(600),
    };
    // `jobs` runs none: its sweeper alone looks at the jobs, before `back` runs them.
    let jobs = Jobs::open(QueueConfig {
        concurrency: 0,
        ..config.clone()
    })
    .await
    .unwrap();
    let input = dir.path().join("input");
    std::fs::write(&input, b"abc").unwrap();
    let params = vec![("width".to_owned(), "64".to_owned())];
    let new = |key| NewJob {
        kind: "thumbnail",
        params: &params,
        filename: Some("clip.mp4"),
        idempotency_key: key,
        fingerprint: None,
        input_bytes: 3,
    };
    // Submitted as a server does it.
    let (submitted, fresh) = jobs.submit(new(None), &input).await.unwrap();
    assert!(fresh);
    // Stored, its input kept, but its server stopped before queuing it.
    let lost = "7d7d0d4b-6a43-4b4e-9b5e-1c1c2f2f3a3a";
    jobs.files().put_input(lost, &input).await.unwrap();
    let (record, stored) = jobs.store().insert(lost, &new(Some("lost"))).await.unwrap();
    assert!(stored && record.state == State::Queued);
    // Queued, but its server stopped before noting it: the sweeper queues it again.
    let (twice, _) = jobs.submit(new(Some("twice")), &input).await.unwrap();
    sqlx::any::install_default_drivers();
    let db = sqlx::AnyPool::connect(&config.database_url).await.unwrap();
    // (Accepted a minute ago, as the other one, so that the sweeper sees them both at once.)
    sqlx::query("UPDATE thumbnail_jobs SET queued = 0, created_at = created_at - 60000 WHERE id = $1 OR id = $2")
        .bind(&twice.id)
        .bind(lost)
        .execute(&db)
        .await
        .unwrap();
    let runner = Arc::new(Reverse {
        runs: AtomicUsize::new(0),
    });
    jobs.start(runner.clone());
    // Both queued (again, for the second: the queue takes an id once, so this is not a second delivery).
    let mut unqueued = (-1i64,);
    for _ in 0..200 {
        unqueued = sqlx::query_as("SELECT COUNT(*) FROM thumbnail_jobs WHERE queued = 0")
            .fetch_one(&db)
            .await
            .unwrap();
        if unqueued.0 == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(unqueued.0, 0, "the sweeper queued the jobs never queued");
    assert_eq!(
        runner.runs.load(Ordering::SeqCst),
        0,
        "a server of concurrency 0 runs nothing"
    );
    let back = Jobs::open(config).await.unwrap();
    back.start(runner.clone());
    for id in [submitted.id.as_str(), lost, twice.id.as_str()] {
        let job = finished(&jobs, id).await;
        assert_eq!(job.state, State::Done, "{job:?}");
        assert_eq!(job.attempts, 1, "{job:?}");
        assert_eq!(job.result, Some(serde_json::json!({ "reversed": true })));
        assert_eq!(
            jobs.file(&job, "body").await.unwrap().unwrap(),
            Bytes::from_static(b"cba")
        );
    }
    // Nothing runs twice, later either (the sweepers go on looking).
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(runner.runs.load(Ordering::SeqCst), 3);
    // The same idempotency key is the same job.
    let (again, fresh) = jobs.submit(new(Some("lost")), &input).await.unwrap();
    assert!(!fresh);
    assert_eq!(again.id, lost);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_each_job_runs_once() {
    let dir = tempfile::tempdir().unwrap();
    each_runs_once(format!("sqlite://{}", dir.path().join("jobs.db").display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_each_job_runs_once() {
    let postgres = test_support::Postgres::start();
    each_runs_once(postgres.url.clone()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_jobs_lose_their_files_then_their_rows() {
    let dir = tempfile::tempdir().unwrap();
    let config = QueueConfig {
        database_url: format!("sqlite://{}", dir.path().join("jobs.db").display()),
        files_url: url::Url::from_directory_path(dir.path().join("files")).unwrap(),
        node: "test".into(),
        concurrency: 1,
        heartbeat: Duration::from_secs(1),
        max_attempts: 3,
        result_ttl: Duration::from_millis(500),
        row_retention: Duration::from_secs(1),
        poll: Duration::from_millis(50),
        run_limit: Duration::from_secs(600),
    };
    let jobs = Jobs::open(config).await.unwrap();
    let input = dir.path().join("input");
    std::fs::write(&input, b"abc").unwrap();
    let params = Vec::new();
    let (job, _) = jobs
        .submit(
            NewJob {
                kind: "probe",
                params: &params,
                filename: None,
                idempotency_key: None,
                fingerprint: None,
                input_bytes: 3,
            },
            &input,
        )
        .await
        .unwrap();
    jobs.start(Arc::new(Reverse {
        runs: AtomicUsize::new(0),
    }));
    let done = finished(&jobs, &job.id).await;
    assert!(jobs.file(&done, "body").await.unwrap().is_some());
    let results = dir.path().join("files/results").join(&job.id);
    assert!(results.exists());
    // Past its lifetime: its files go, its row says it expired; a while later the row goes too.
    let mut seen_expired = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        match jobs.get(&job.id).await.unwrap() {
            Some(row) => seen_expired |= jobs.expired(&row),
            None => break,
        }
    }
    assert!(seen_expired, "the expired row was there for a while");
    assert_eq!(jobs.get(&job.id).await.unwrap(), None, "the row is forgotten");
    assert!(!results.exists(), "the results are deleted");
}
