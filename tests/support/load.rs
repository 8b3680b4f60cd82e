//! A bounded load on POST /thumbnail: `clients` clients post the same video back to back until
//! the time is up. Used by the load test (behaviour) and the benchmark (figures).

use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};

pub struct Load {
    /// Time of each request answered 200.
    pub latencies: Vec<Duration>,
    /// Requests answered 503 with Retry-After (the queue was full).
    pub busy: usize,
    pub elapsed: Duration,
}

impl Load {
    /// Thumbnails per second.
    pub fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }
}

/// Runs the load against `url` (a POST /thumbnail with its query). Any answer but 200 or 503 with
/// Retry-After fails the caller.
pub async fn run(url: &str, video: &[u8], clients: usize, seconds: f64) -> Load {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    let per_client = stream::iter(0..clients)
        .map(|_| {
            let client = client.clone();
            async move {
                let (mut latencies, mut busy) = (Vec::new(), 0);
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    let r = client
                        .post(url)
                        .header("content-type", "video/mp4")
                        .body(video.to_vec())
                        .send()
                        .await
                        .unwrap();
                    match r.status().as_u16() {
                        200 => {
                            let _ = r.bytes().await.unwrap();
                            latencies.push(sent.elapsed());
                        }
                        503 if r.headers().contains_key("retry-after") => {
                            let _ = r.bytes().await;
                            busy += 1;
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        other => panic!("under load: {other}: {}", r.text().await.unwrap_or_default()),
                    }
                }
                (latencies, busy)
            }
        })
        .buffer_unordered(clients)
        .collect::<Vec<_>>()
        .await;
    Load {
        elapsed: started.elapsed(),
        busy: per_client.iter().map(|c| c.1).sum(),
        latencies: per_client.into_iter().flat_map(|c| c.0).collect(),
    }
}
