//! The server under pressure: a full queue answers 503 with Retry-After, a slow job is interrupted,
//! temporary files go on every path (client gone too), memory stays flat with 100 MB uploads, and a
//! bounded load gives 503 exactly when it goes past the configured capacity. (The flood of stalled
//! connections and large uploads is flood.rs: alone in its binary, so no other test shares the CPU.)

use std::path::Path;
use std::time::{Duration, Instant};

use futures_util::stream;
use reqwest::multipart::{Form, Part};
use reqwest::{Client, StatusCode};
use serde_json::Value;
use test_support::{eventually, fixture, zeros, Server};
use tokio::io::AsyncWriteExt;

fn start(args: &[&str]) -> Server {
    Server::start(Path::new(env!("CARGO_BIN_EXE_thumbnail-server")), args)
}

fn client() -> Client {
    Client::builder().timeout(Duration::from_secs(120)).build().unwrap()
}

/// POST /thumbnail with the video as a raw body.
async fn post(client: &Client, server: &Server, bytes: &[u8], query: &str) -> reqwest::Response {
    client
        .post(server.url(&format!("/thumbnail{query}")))
        .header("content-type", "video/mp4")
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_full_queue_answers_503_with_retry_after() {
    let server = start(&["--workers", "1", "--queue", "0"]);
    let video = std::fs::read(fixture("h264-1080p.mp4")).unwrap();
    let client = client();
    let responses: Vec<_> =
        futures_util::future::join_all((0..12).map(|_| post(&client, &server, &video, "?at=9.9&width=320"))).await;
    let (mut ok, mut busy) = (0, 0);
    for r in responses {
        match r.status() {
            StatusCode::OK => ok += 1,
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_eq!(r.headers()["retry-after"], "2");
                let body: Value = r.json().await.unwrap();
                assert_eq!(body["code"], "busy");
                busy += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    eprintln!("12 at once on 1 worker, no queue: {ok} made, {busy} busy");
    assert!(ok >= 1 && busy >= 1, "{ok} ok, {busy} busy");
    assert_eq!(
        post(&client, &server, &video, "?width=64").await.status(),
        StatusCode::OK
    );
}

/// POST /thumbnail of the 1080p fixture at 9.9 s (about 50 frames to decode); returns the
/// response and how long it took.
async fn slow_job(server: &Server) -> (reqwest::Response, Duration) {
    let video = std::fs::read(fixture("h264-1080p.mp4")).unwrap();
    let started = Instant::now();
    let r = post(&client(), server, &video, "?at=9.9").await;
    (r, started.elapsed())
}

#[tokio::test]
async fn a_slow_job_is_interrupted_at_the_timeout() {
    // How long the job takes here, without a tight limit ...
    let unhurried = start(&["--workers", "1"]);
    let _ = slow_job(&unhurried).await; // the worker warm, as below
    let (r, takes) = slow_job(&unhurried).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        takes > Duration::from_millis(200),
        "the job is too quick to outlive a limit: {takes:?}"
    );
    // ... then with a limit a quarter of that: it cannot finish in time.
    let limit = takes.as_secs_f64() / 4.0;
    let server = start(&["--workers", "1", "--job-timeout", &format!("{limit:.3}")]);
    let _ = post(&client(), &server, &std::fs::read(fixture("h264.mp4")).unwrap(), "").await;
    let (r, took) = slow_job(&server).await;
    eprintln!("the job takes {takes:?}; with a {limit:.3} s limit it was answered after {took:?}");
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "timeout", "{body}");
    // The engine was told to stop: the worker comes free.
    eventually("the interrupted job to end", Duration::from_secs(10), async || {
        server.metric("thumbnail_jobs_running").await == 0.0
    })
    .await;
    assert_eq!(slow_job(&unhurried).await.0.status(), StatusCode::OK);
}

#[tokio::test]
async fn temporary_files_go_on_every_path() {
    let spool = test_support::root().join(format!("target/test-spool-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&spool);
    std::fs::create_dir_all(&spool).unwrap();
    let server = start(&["--temp-dir", spool.to_str().unwrap(), "--max-upload", "4000000"]);
    let client = client();
    let small = std::fs::read(fixture("h264.mp4")).unwrap();
    let big = std::fs::read(fixture("h264-1080p.mp4")).unwrap();

    assert_eq!(post(&client, &server, &small, "").await.status(), StatusCode::OK);
    assert_eq!(
        post(&client, &server, b"not a video", "").await.status(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    assert_eq!(
        post(&client, &server, &small, "?format=nope").await.status(),
        StatusCode::BAD_REQUEST
    );
    let form = Form::new().part("video", Part::bytes(small.clone()).file_name("a.mp4"));
    assert_eq!(
        client
            .post(server.url("/probe"))
            .multipart(form)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    // too large, found while streaming (chunked)
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = (0..30).map(|_| Ok(vec![0u8; 200_000])).collect();
    let r = client
        .post(server.url("/thumbnail"))
        .header("content-type", "video/mp4")
        .body(reqwest::Body::wrap_stream(stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // The client goes away in the middle of its upload ...
    let address = server.base.trim_start_matches("http://").to_owned();
    let mut socket = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /thumbnail HTTP/1.1\r\nHost: {address}\r\nContent-Type: video/mp4\r\nContent-Length: {}\r\n\r\n",
        big.len()
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    socket.write_all(&big[..100_000]).await.unwrap();
    eventually(
        "the partial upload to be spooled",
        Duration::from_secs(10),
        async || std::fs::read_dir(&spool).unwrap().count() > 0,
    )
    .await;
    drop(socket);
    // ... and while its job runs (1080p at 9.9 s: 48 frames to decode).
    let mut socket = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /thumbnail?at=9.9 HTTP/1.1\r\nHost: {address}\r\nContent-Type: video/mp4\r\nContent-Length: {}\r\n\r\n",
        big.len()
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    socket.write_all(&big).await.unwrap();
    eventually("the job to start", Duration::from_secs(10), async || {
        server.metric("thumbnail_jobs_running").await > 0.0
    })
    .await;
    drop(socket);

    eventually("the spool folder to be empty", Duration::from_secs(10), async || {
        std::fs::read_dir(&spool).unwrap().count() == 0
    })
    .await;
    std::fs::remove_dir_all(&spool).unwrap();
}

#[tokio::test]
async fn memory_stays_flat_with_100_mb_uploads() {
    let server = start(&["--max-upload", "110000000"]);
    let before = server.rss_kib();
    let client = client();
    let uploads = (0..4).map(|i| {
        let request = client.post(server.url("/thumbnail"));
        let request = if i % 2 == 0 {
            request.header("content-type", "video/mp4").body(zeros(100_000_000))
        } else {
            let part = Part::stream_with_length(zeros(100_000_000), 100_000_000).file_name("big.mp4");
            request.multipart(Form::new().part("video", part))
        };
        request.send()
    });
    for r in futures_util::future::join_all(uploads).await {
        // 100 MB of zeros is no video: received in full, then refused by the engine.
        assert_eq!(r.unwrap().status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
    let peak = server.peak_rss_kib();
    eprintln!("server RSS: {before} KiB at start, peak {peak} KiB after 4 concurrent 100 MB uploads");
    assert!(
        peak < before + 64 * 1024,
        "peak RSS {peak} KiB grew with the uploads (start {before} KiB)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bounded_load_gives_no_5xx_and_503_only_past_capacity() {
    let (workers, queue) = (2, 8);
    let server = start(&["--workers", &workers.to_string(), "--queue", &queue.to_string()]);
    let health = server.health().await;
    let capacity = health["capacity"].as_u64().unwrap() as usize;
    assert_eq!(capacity, workers + queue);
    let video = std::fs::read(fixture("h264-1080p.mp4")).unwrap();
    for clients in [capacity - 2, capacity * 3] {
        let load = test_support::load::run(&server.url("/thumbnail?width=640"), &video, clients, 5.0).await;
        let (ok, busy, rate) = (load.latencies.len(), load.busy, load.rate());
        eprintln!(
            "{clients} clients for 5 s on a capacity of {capacity}: {ok} thumbnails ({rate:.1}/s), {busy} busy; RSS {} KiB",
            server.rss_kib()
        );
        assert!(ok > 0);
        // Each client waits for its answer before the next request: at most `clients` in flight.
        if clients <= capacity {
            assert_eq!(busy, 0, "{clients} clients never exceed a capacity of {capacity}");
        } else {
            assert!(
                busy > 0,
                "{clients} clients at once on a capacity of {capacity} should meet 503"
            );
        }
    }
    assert!(
        server.peak_rss_kib() < 512 * 1024,
        "peak RSS {} KiB",
        server.peak_rss_kib()
    );
}
