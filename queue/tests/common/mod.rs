//! What the queue's test files share.

use std::time::Duration;

use thumbnail_queue::{JobRecord, Jobs};

/// Waits (up to 20 s) for the job to be in a final state (done, failed or cancelled).
pub async fn finished(jobs: &Jobs, id: &str) -> JobRecord {
    for _ in 0..400 {
        let job = jobs.get(id).await.unwrap().unwrap();
        if job.state.is_final() {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("job {id} never finished");
}
