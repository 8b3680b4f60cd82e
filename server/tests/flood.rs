//! A flood against the real server: a thousand connections that send half a request header and
//! stall, and a hundred 100 MB uploads at once, on 2 workers. The stalled connections are closed at
//! the header timeout, /healthz keeps answering quickly, the temporary files stay within their
//! budget, memory stays bounded, and every upload gets its answer (503 + Retry-After before its
//! body is stored, or the engine's verdict), never a 5xx otherwise. Alone in this binary, so that
//! no other test shares the two cores.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::multipart::{Form, Part};
use reqwest::Client;
use serde_json::Value;
use test_support::{zeros, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// GET /healthz on a new connection, from a plain thread (not the test's busy runtime): how long
/// the server took to answer.
fn healthz(address: &str) -> Duration {
    let asked = Instant::now();
    let mut socket = std::net::TcpStream::connect(address).unwrap();
    socket
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    socket.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    asked.elapsed()
}

/// Bytes of the files in `dir`.
fn bytes_in(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_stalled_connections_and_a_hundred_100_mb_uploads() {
    const STALLED: usize = 1000;
    const UPLOADS: usize = 100;
    const SIZE: usize = 100_000_000;
    const BUDGET: u64 = 450_000_000;
    let spool = test_support::root().join(format!("target/test-flood-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&spool);
    std::fs::create_dir_all(&spool).unwrap();
    let server = Server::start(
        Path::new(env!("CARGO_BIN_EXE_thumbnail-server")),
        &[
            "--workers",
            "2",
            "--queue",
            "8",
            "--max-uploads",
            "4",
            "--max-upload",
            "110000000",
            "--temp-budget",
            &BUDGET.to_string(),
            "--header-timeout",
            "3",
            "--max-connections",
            "1500",
            "--temp-dir",
            spool.to_str().unwrap(),
        ],
    );
    let address = server.base.trim_start_matches("http://").to_owned();
    let rss_before = server.rss_kib();

    // A thousand connections that send half a request header and stall.
    let mut stalled = Vec::with_capacity(STALLED);
    for _ in 0..STALLED {
        let mut socket = tokio::net::TcpStream::connect(&address).await.unwrap();
        socket
            .write_all(b"POST /thumbnail HTTP/1.1\r\nHost: x\r\nContent-Le")
            .await
            .unwrap();
        stalled.push((socket, Instant::now()));
    }
    // Each one's time to be closed by the server, from its own stall, measured as it happens.
    let closings: Vec<_> = stalled
        .into_iter()
        .map(|(mut socket, stalled_at)| {
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let ended = tokio::time::timeout(Duration::from_secs(30), async {
                    loop {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(_) => {}
                        }
                    }
                })
                .await;
                ended.is_ok().then(|| stalled_at.elapsed())
            })
        })
        .collect();

    // Watch while the uploads run: /healthz on a new connection each time, the spool folder.
    let watching = Arc::new(AtomicBool::new(true));
    let watcher = {
        let (watching, spool, address) = (watching.clone(), spool.clone(), address.clone());
        std::thread::spawn(move || {
            let (mut health, mut peak_bytes, mut peak_files) = (Vec::new(), 0u64, 0usize);
            while watching.load(Ordering::Relaxed) {
                health.push(healthz(&address));
                peak_bytes = peak_bytes.max(bytes_in(&spool));
                peak_files = peak_files.max(std::fs::read_dir(&spool).unwrap().count());
                std::thread::sleep(Duration::from_millis(100));
            }
            (health, peak_bytes, peak_files)
        })
    };

    // A hundred 100 MB uploads at once (zeros: received in full, no video).
    let client = Client::builder().timeout(Duration::from_secs(120)).build().unwrap();
    let uploads = (0..UPLOADS).map(|i| {
        let request = client.post(server.url("/thumbnail"));
        let request = if i % 2 == 0 {
            request.header("content-type", "video/mp4").body(zeros(SIZE))
        } else {
            let part = Part::stream_with_length(zeros(SIZE), SIZE as u64).file_name("big.mp4");
            request.multipart(Form::new().part("video", part))
        };
        async move {
            let r = request.send().await.unwrap();
            let status = r.status();
            let retry = r.headers().contains_key("retry-after");
            let body: Value = r.json().await.unwrap();
            (status, retry, body["code"].as_str().unwrap_or_default().to_owned())
        }
    });
    let started = Instant::now();
    let answers = futures_util::future::join_all(uploads).await;
    let upload_time = started.elapsed();
    let (mut refused, mut received) = (0, 0);
    for (status, retry, code) in &answers {
        match (status.as_u16(), code.as_str()) {
            (503, "busy") => {
                assert!(retry, "a 503 without Retry-After");
                refused += 1;
            }
            (415, "not_media") => received += 1, // spooled, then found not to be a video
            other => panic!("an upload got {other:?}"),
        }
    }

    // The stalled connections are all closed by the header timeout.
    let mut closed = Vec::new();
    for closing in futures_util::future::join_all(closings).await {
        closed.push(closing.unwrap().expect("a stalled connection still open after 30 s"));
    }
    closed.sort();
    let closed_after = closed[closed.len() - 1];
    watching.store(false, Ordering::Relaxed);
    let (mut health, peak_bytes, peak_files) = watcher.join().unwrap();
    health.sort();
    let rss_peak = server.peak_rss_kib();
    eprintln!(
        "{STALLED} stalled connections, closed after {:?} to {closed_after:?}; {UPLOADS} uploads of {SIZE} bytes in {upload_time:?}: \
         {received} received, {refused} refused with 503; spool peak {peak_bytes} bytes in {peak_files} files (budget {BUDGET}); \
         /healthz over {} probes: median {:?}, 90th percentile {:?}, max {:?}; server RSS {rss_before} -> peak {rss_peak} KiB",
        closed[0],
        health.len(),
        health[health.len() / 2],
        health[health.len() * 9 / 10],
        health[health.len() - 1],
    );
    // Closed at the header timeout (3 s), give or take the load on the two cores.
    assert!(
        closed[0] >= Duration::from_millis(2900),
        "closed before the timeout: {:?}",
        closed[0]
    );
    assert!(
        closed_after < Duration::from_secs(6),
        "the last stalled connection closed after {closed_after:?}"
    );
    assert!(received >= 1 && refused >= 1, "{received} received, {refused} refused");
    assert!(
        peak_bytes <= BUDGET,
        "the spool held {peak_bytes} bytes, over the budget"
    );
    assert!(
        peak_files <= 4 + 8,
        "{peak_files} files: more than the uploads and queue allow"
    );
    assert!(
        rss_peak < rss_before + 128 * 1024,
        "server RSS grew from {rss_before} to {rss_peak} KiB"
    );
    // Under 100 ms, allowing a rare slow probe when the test's own clients hog the two cores.
    let p90 = health[health.len() * 9 / 10];
    assert!(
        p90 < Duration::from_millis(100),
        "/healthz took {p90:?} at the 90th percentile"
    );
    assert!(
        health[health.len() - 1] < Duration::from_millis(500),
        "/healthz took {:?} at worst",
        health[health.len() - 1]
    );
    assert_eq!(server.metric("thumbnail_temp_bytes").await, 0.0);
    assert_eq!(bytes_in(&spool), 0, "temporary files left behind");
    std::fs::remove_dir_all(&spool).unwrap();
}
