//! Every run ends recorded, on a real SQLite file: a run whose result cannot be stored fails its
//! job (`internal`), a run taken over by another (its server missed its heartbeats) stops, and a
//! job left `running` past its run's time limit (its server could not say how it ended) is failed
//! by the sweeper.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
mod common;

use common::finished;
use thumbnail_queue::{JobRecord, Jobs, Made, NewJob, Progress, QueueConfig, Runner, State};

/// Answers with a file after `delay`; notes when its run was dropped before it finished.
struct Slow {
    delay: Duration,
    dropped: Arc<AtomicBool>,
}

/// Raises its flag when dropped unfinished.
struct Unfinished(Arc<AtomicBool>, bool);

impl Drop for Unfinished {
    fn drop(&mut self) {
        if !self.1 {
            self.0.store(true, Ordering::SeqCst);
        }
    }
}

impl Runner for Slow {
    async fn run(
        &self,
        _job: &JobRecord,
        _input: std::fs::File,
        _progress: Progress,
    ) -> Result<Made, serde_json::Value> {
        let mut guard = Unfinished(self.dropped.clone(), false);
        tokio::time::sleep(self.delay).await;
        guard.1 = true;
        Ok(Made {
            files: vec![("body".into(), Bytes::from_static(b"made"))],
            result: serde_json::json!({ "made": true }),
        })
    }

    fn abandoned(&self, _job: &JobRecord) -> serde_json::Value {
        serde_json::json!({ "code": "engine_crashed" })
    }

    fn unrecorded(&self, why: &str) -> serde_json::Value {
        serde_json::json!({ "code": "internal", "detail": why })
    }
}

fn config(dir: &std::path::Path, concurrency: usize, run_limit: Duration) -> QueueConfig {
    QueueConfig {
        database_url: format!("sqlite://{}", dir.join("jobs.db").display()),
        files_url: url::Url::from_directory_path(dir.join("files")).unwrap(),
        node: "test".into(),
        concurrency,
        heartbeat: Duration::from_secs(1),
        max_attempts: 3,
        result_ttl: Duration::from_secs(3600),
        row_retention: Duration::from_secs(3600),
        poll: Duration::from_millis(50),
        run_limit,
    }
}

async fn submit(jobs: &Jobs, dir: &std::path::Path) -> String {
    let input = dir.join("input");
    std::fs::write(&input, b"abc").unwrap();
    let params = Vec::new();
    let job = NewJob {
        kind: "probe",
        params: &params,
        filename: None,
        idempotency_key: None,
        fingerprint: None,
        input_bytes: 3,
    };
    jobs.submit(job, &input).await.unwrap().0.id
}

async fn running(jobs: &Jobs, id: &str) -> JobRecord {
    for _ in 0..400 {
        let job = jobs.get(id).await.unwrap().unwrap();
        if job.state == State::Running {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("job {id} never ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_that_cannot_be_stored_fails_the_job() {
    let dir = tempfile::tempdir().unwrap();
    let jobs = Jobs::open(config(dir.path(), 1, Duration::from_secs(600)))
        .await
        .unwrap();
    // Where the results would go is a file: no result can be written under it.
    std::fs::create_dir_all(dir.path().join("files")).unwrap();
    std::fs::write(dir.path().join("files/results"), b"in the way").unwrap();
    let id = submit(&jobs, dir.path()).await;
    let dropped = Arc::new(AtomicBool::new(false));
    jobs.start(Arc::new(Slow {
        delay: Duration::ZERO,
        dropped,
    }));
    let job = finished(&jobs, &id).await;
    assert_eq!(job.state, State::Failed, "{job:?}");
    let problem = job.problem.unwrap();
    assert_eq!(problem["code"], "internal", "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("could not be stored"),
        "{problem}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_taken_over_by_another_stops() {
    let dir = tempfile::tempdir().unwrap();
    let jobs = Jobs::open(config(dir.path(), 1, Duration::from_secs(600)))
        .await
        .unwrap();
    let id = submit(&jobs, dir.path()).await;
    let dropped = Arc::new(AtomicBool::new(false));
    jobs.start(Arc::new(Slow {
        delay: Duration::from_secs(60),
        dropped: dropped.clone(),
    }));
    running(&jobs, &id).await;
    // Another server took the job over (as after missed heartbeats): a new run token.
    jobs.store()
        .start(&id, "the-other-run", "other")
        .await
        .unwrap()
        .unwrap();
    for _ in 0..200 {
        if dropped.load(Ordering::SeqCst) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(dropped.load(Ordering::SeqCst), "the superseded run stopped");
    let job = jobs.get(&id).await.unwrap().unwrap();
    assert_eq!(
        (job.state, job.run.as_deref()),
        (State::Running, Some("the-other-run")),
        "{job:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_left_running_past_its_limit_is_failed() {
    let dir = tempfile::tempdir().unwrap();
    // This server runs none: the job's run is a ghost whose server never came back.
    let jobs = Jobs::open(config(dir.path(), 0, Duration::from_secs(1))).await.unwrap();
    let id = submit(&jobs, dir.path()).await;
    jobs.store().start(&id, "a-ghost-run", "gone").await.unwrap().unwrap();
    jobs.start(Arc::new(Slow {
        delay: Duration::ZERO,
        dropped: Arc::new(AtomicBool::new(false)),
    }));
    // Its limit (1 s) and two heartbeats (2 s) pass; the sweeper looks at least every second.
    let job = finished(&jobs, &id).await;
    assert_eq!(job.state, State::Failed, "{job:?}");
    let problem = job.problem.unwrap();
    assert_eq!(problem["code"], "internal", "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("past its time limit"),
        "{problem}"
    );
    assert!(
        job.finished_at.unwrap() - job.started_at.unwrap() >= 3000,
        "{:?}",
        (job.started_at, job.finished_at)
    );
}
