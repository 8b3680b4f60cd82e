//! The server against hostile clients, on raw TCP where an HTTP client would tidy the request up:
//! paths that try to leave the served folders, stalled headers and idle connections, too many
//! connections, uploads refused before their body is read (busy, too many uploads, temporary-file
//! budget), forms that abuse parts, slow bodies, failures that must not leak paths, CORS where
//! pages need it only, bad configuration, and an installed binary's folders.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::stream;
use reqwest::multipart::{Form, Part};
use reqwest::{Client, StatusCode};
use serde_json::Value;
use test_support::{eventually, fixture, zeros, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BINARY: &str = env!("CARGO_BIN_EXE_thumbnail-server");

fn start(args: &[&str]) -> Server {
    Server::start(Path::new(BINARY), args)
}

fn client() -> Client {
    Client::builder().timeout(Duration::from_secs(60)).build().unwrap()
}

fn address(server: &Server) -> String {
    server.base.trim_start_matches("http://").to_owned()
}

/// Reads until the connection ends (or `limit`); returns what came and whether it ended.
async fn read_to_end(socket: &mut TcpStream, limit: Duration) -> (String, bool) {
    let mut got = Vec::new();
    let ended = tokio::time::timeout(limit, async {
        let mut buf = [0u8; 8192];
        loop {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .is_ok();
    (String::from_utf8_lossy(&got).into_owned(), ended)
}

/// Reads one response head (status line and headers), within 20 s.
async fn read_head(socket: &mut TcpStream) -> String {
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), async {
        let mut byte = [0u8; 1];
        while !got.ends_with(b"\r\n\r\n") {
            if socket.read(&mut byte).await.unwrap_or(0) == 0 {
                break;
            }
            got.push(byte[0]);
        }
    })
    .await
    .expect("a response head within 20 s");
    String::from_utf8_lossy(&got).into_owned()
}

/// A GET sent byte for byte as written, answered and closed.
async fn raw_get(server: &Server, target: &str) -> String {
    let mut socket = TcpStream::connect(address(server)).await.unwrap();
    let request = format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    socket.write_all(request.as_bytes()).await.unwrap();
    let (response, ended) = read_to_end(&mut socket, Duration::from_secs(20)).await;
    assert!(ended, "GET {target}: no end of response");
    response
}

/// Starts a POST /thumbnail of `length` declared bytes and sends `first` of them, then holds it.
async fn start_upload(server: &Server, length: u64, first: usize) -> TcpStream {
    let mut socket = TcpStream::connect(address(server)).await.unwrap();
    let head =
        format!("POST /thumbnail HTTP/1.1\r\nHost: x\r\nContent-Type: video/mp4\r\nContent-Length: {length}\r\n\r\n");
    socket.write_all(head.as_bytes()).await.unwrap();
    socket.write_all(&vec![0u8; first]).await.unwrap();
    socket
}

/// A POST /thumbnail that declares `length` bytes and asks to be told before sending them
/// (`Expect: 100-continue`, as curl does for large bodies): returns the first answer's head.
async fn post_expecting(server: &Server, length: u64) -> String {
    let mut socket = TcpStream::connect(address(server)).await.unwrap();
    let head = format!(
        "POST /thumbnail HTTP/1.1\r\nHost: x\r\nContent-Type: video/mp4\r\nContent-Length: {length}\r\nExpect: 100-continue\r\n\r\n"
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    read_head(&mut socket).await
}

fn spool_dir(name: &str) -> PathBuf {
    let dir = test_support::root().join(format!("target/test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn files_in(dir: &Path) -> usize {
    std::fs::read_dir(dir).unwrap().count()
}

fn assert_busy_head(head: &str, reason: &str) {
    assert!(head.starts_with("HTTP/1.1 503 "), "{reason}: {head}");
    assert!(
        head.to_ascii_lowercase().contains("retry-after: 2\r\n"),
        "{reason}: {head}"
    );
}

#[tokio::test]
async fn raw_paths_cannot_leave_the_served_folders() {
    let server = start(&[]);
    // The secrets the paths below aim at exist, so a leak would show.
    let cargo = std::fs::read_to_string(test_support::root().join("Cargo.toml")).unwrap();
    assert!(cargo.contains("[workspace]"));
    assert!(std::fs::read_to_string("/etc/passwd").unwrap().contains("root:"));
    // The raw client works: a real file comes back.
    let engine = raw_get(&server, "/engine/thumbnail-engine-st.js").await;
    assert!(
        engine.starts_with("HTTP/1.1 200 "),
        "{}",
        &engine[..engine.len().min(200)]
    );

    for target in [
        "/../Cargo.toml",
        "/../../../../../../etc/passwd",
        "/engine/../../Cargo.toml",
        "/engine/../../../../../../etc/passwd",
        "/%2e%2e/Cargo.toml",
        "/.%2e/Cargo.toml",
        "/..%2fCargo.toml",
        "/engine/..%2f..%2fCargo.toml",
        "/engine/%2e%2e%2f%2e%2e%2fCargo.toml",
        "/..\\Cargo.toml",
        "/engine/..\\..\\Cargo.toml",
        "//etc/passwd",
        "/engine//etc/passwd",
        "/sw.js/../../Cargo.toml",
        "/%00/../Cargo.toml",
        "http://x/../Cargo.toml",
    ] {
        let response = raw_get(&server, target).await;
        let status = response.split(' ').nth(1).unwrap_or_default();
        assert!(status == "404" || status == "400", "GET {target}: {response}");
        assert!(
            !response.contains("[workspace]") && !response.contains("root:"),
            "GET {target} leaked a file:\n{response}"
        );
    }
}

#[tokio::test]
async fn stalled_headers_and_idle_connections_are_closed_at_the_header_timeout() {
    let server = start(&["--header-timeout", "1"]);
    let mut stalled = Vec::new();
    for _ in 0..50 {
        let mut socket = TcpStream::connect(address(&server)).await.unwrap();
        socket
            .write_all(b"POST /thumbnail HTTP/1.1\r\nHost: x\r\nContent-Ty")
            .await
            .unwrap();
        stalled.push(socket);
    }
    let mut idle = Vec::new();
    for _ in 0..5 {
        let mut socket = TcpStream::connect(address(&server)).await.unwrap();
        socket
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        assert!(read_head(&mut socket).await.starts_with("HTTP/1.1 200 "));
        idle.push(socket); // kept alive, then silent
    }
    let started = Instant::now();
    for mut socket in stalled.into_iter().chain(idle) {
        let (_, ended) = read_to_end(&mut socket, Duration::from_secs(10)).await;
        assert!(ended, "a silent connection was still open after 10 s");
    }
    eprintln!("55 silent connections closed within {:?}", started.elapsed());
    assert_eq!(server.metric("thumbnail_connections").await, 1.0); // the metrics request
}

#[tokio::test]
async fn connections_past_the_limit_get_503_and_are_closed() {
    let server = start(&["--max-connections", "10", "--header-timeout", "60"]);
    let mut held = Vec::new();
    for _ in 0..10 {
        let mut socket = TcpStream::connect(address(&server)).await.unwrap();
        socket.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        held.push(socket);
    }
    // Accepted in order: this one is the eleventh.
    let mut extra = TcpStream::connect(address(&server)).await.unwrap();
    extra
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (response, ended) = read_to_end(&mut extra, Duration::from_secs(10)).await;
    assert!(ended, "the refused connection was not closed");
    assert_busy_head(&response, "the eleventh connection");
    let problem: Value = serde_json::from_str(response.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(problem["code"], "busy");
    assert!(problem["detail"].as_str().unwrap().contains("connections"), "{problem}");

    held.pop();
    eventually("a freed slot to serve again", Duration::from_secs(20), async || {
        client()
            .get(server.url("/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == StatusCode::OK)
    })
    .await;
    drop(held);
    eventually("the metrics to show the refusal", Duration::from_secs(20), async || {
        let Ok(r) = client().get(server.url("/metrics")).send().await else {
            return false; // still at the limit: the held connections are closing
        };
        let text = r.text().await.unwrap_or_default();
        let refused = text
            .lines()
            .find_map(|l| l.strip_prefix("thumbnail_connections_refused_total "))
            .and_then(|v| v.parse::<f64>().ok());
        refused.is_some_and(|n| n >= 1.0) && text.lines().any(|l| l == "thumbnail_connections_limit 10")
    })
    .await;
}

#[tokio::test]
async fn a_busy_server_answers_before_reading_the_body() {
    let spool = spool_dir("busy-spool");
    let server = start(&["--workers", "1", "--queue", "0", "--temp-dir", spool.to_str().unwrap()]);
    // The only slot: an upload in progress.
    let _holder = start_upload(&server, 50_000_000, 1000).await;
    eventually("the first upload to be spooled", Duration::from_secs(20), async || {
        files_in(&spool) == 1
    })
    .await;
    assert_eq!(server.metric("thumbnail_admitted_requests").await, 1.0);

    // Twelve 90 MB uploads that wait to be told to send: told 503 at once, not 100 Continue.
    let heads = futures_util::future::join_all((0..12).map(|_| post_expecting(&server, 90_000_000))).await;
    for head in heads {
        assert_busy_head(&head, "a 90 MB upload to a full server");
    }
    // A client that sends its body straight away gets its 503 too, long before it could have sent it all.
    let r = client()
        .post(server.url("/thumbnail"))
        .header("content-type", "video/mp4")
        .body(zeros(90_000_000))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.headers()["retry-after"], "2");
    let problem: Value = r.json().await.unwrap();
    assert_eq!(problem["code"], "busy");
    // Nothing of theirs was stored.
    assert_eq!(files_in(&spool), 1);
    assert_eq!(server.metric("thumbnail_temp_bytes").await, 50_000_000.0);
    std::fs::remove_dir_all(&spool).unwrap();
}

#[tokio::test]
async fn uploads_at_once_and_temporary_bytes_are_bounded() {
    let spool = spool_dir("budget-spool");
    let server = start(&[
        "--max-uploads",
        "2",
        "--max-upload",
        "4000000",
        "--temp-budget",
        "5000000",
        "--temp-dir",
        spool.to_str().unwrap(),
    ]);
    assert_eq!(server.metric("thumbnail_uploads_limit").await, 2.0);
    assert_eq!(server.metric("thumbnail_temp_budget_bytes").await, 5_000_000.0);
    // 4 MB declared: reserved up front.
    let holder = start_upload(&server, 4_000_000, 1000).await;
    eventually("the first upload to be spooled", Duration::from_secs(20), async || {
        files_in(&spool) == 1
    })
    .await;
    assert_eq!(server.metric("thumbnail_temp_bytes").await, 4_000_000.0);
    // 2 MB declared does not fit in what is left: refused before its body.
    let head = post_expecting(&server, 2_000_000).await;
    assert_busy_head(&head, "an upload past the temporary-file budget");
    // A chunked upload reserves as it streams: refused once past the budget, nothing kept.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = (0..30).map(|_| Ok(vec![0u8; 100_000])).collect();
    let r = client()
        .post(server.url("/thumbnail"))
        .header("content-type", "video/mp4")
        .body(reqwest::Body::wrap_stream(stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let problem: Value = r.json().await.unwrap();
    assert!(
        problem["detail"].as_str().unwrap().contains("temporary storage"),
        "{problem}"
    );
    eventually(
        "the refused chunked upload's file to go",
        Duration::from_secs(20),
        async || files_in(&spool) == 1,
    )
    .await;

    // Two uploads at once at most: a second in progress, the third is refused before its body.
    let second = start_upload(&server, 10, 5).await;
    eventually("two uploads in progress", Duration::from_secs(20), async || {
        server.metric("thumbnail_uploads").await == 2.0
    })
    .await;
    let head = post_expecting(&server, 1000).await;
    assert_busy_head(&head, "a third upload at once");

    // All given back when they end.
    drop((holder, second));
    eventually("the budget to be free", Duration::from_secs(20), async || {
        server.metric("thumbnail_temp_bytes").await == 0.0 && server.metric("thumbnail_uploads").await == 0.0
    })
    .await;
    let video = std::fs::read(fixture("h264.mp4")).unwrap();
    let r = client()
        .post(server.url("/thumbnail"))
        .header("content-type", "video/mp4")
        .body(video)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    eventually("the spool folder to be empty", Duration::from_secs(20), async || {
        files_in(&spool) == 0
    })
    .await;
    std::fs::remove_dir_all(&spool).unwrap();
}

/// A form streamed without a length (chunked), its parts in order.
fn chunked_form(parts: Vec<(String, Vec<u8>)>) -> Form {
    parts.into_iter().fold(Form::new(), |form, (name, bytes)| {
        let body = reqwest::Body::wrap_stream(stream::iter([Ok::<_, std::io::Error>(bytes)]));
        form.part(name, Part::stream(body).file_name("x"))
    })
}

async fn post_form(server: &Server, form: Form) -> (StatusCode, Value) {
    let r = client()
        .post(server.url("/thumbnail"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body = if status == StatusCode::OK {
        Value::Null
    } else {
        r.json().await.unwrap()
    };
    (status, body)
}

#[tokio::test]
async fn every_part_of_a_form_counts() {
    let server = start(&["--max-upload", "300000"]);
    let video = std::fs::read(fixture("h264.mp4")).unwrap(); // 136 kB
    let with_video = |mut parts: Vec<(String, Vec<u8>)>| {
        parts.push(("video".into(), video.clone()));
        parts
    };
    // The control: the video with a few small fields is fine.
    let small: Vec<_> = (0..3).map(|i| (format!("f{i}"), b"hello".to_vec())).collect();
    assert_eq!(
        post_form(&server, chunked_form(with_video(small))).await.0,
        StatusCode::OK
    );

    // Too many parts.
    let many: Vec<_> = (0..20).map(|i| (format!("f{i}"), b"x".to_vec())).collect();
    let (status, problem) = post_form(&server, chunked_form(with_video(many))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("parts"), "{problem}");

    // A part other than the video that is large (streamed: no Content-Length to check up front).
    let (status, problem) = post_form(
        &server,
        chunked_form(with_video(vec![("notes".into(), vec![b'n'; 100_000])])),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("notes"), "{problem}");

    // Fields within their own limit, but with the video over the whole body's.
    let fields: Vec<_> = (0..15).map(|i| (format!("f{i}"), vec![b'f'; 16_000])).collect();
    let (status, problem) = post_form(&server, chunked_form(with_video(fields))).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{problem}");
    assert_eq!(problem["code"], "upload_too_large");

    // A part whose headers go on and on.
    let boundary = "b0undary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"video\"; filename=\"a.mp4\"\r\nX-Pad: {}\r\n\r\n",
        "p".repeat(20_000)
    )
    .into_bytes();
    body.extend_from_slice(&video);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let r = client()
        .post(server.url("/thumbnail"))
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let problem: Value = r.json().await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("headers"), "{problem}");

    // A raw chunked body over the limit is cut while it streams.
    let r = client()
        .post(server.url("/thumbnail"))
        .header("content-type", "video/mp4")
        .body(zeros(2_000_000))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        post_form(&server, chunked_form(with_video(vec![]))).await.0,
        StatusCode::OK
    );
}

/// Sends `piece` bytes of a declared-length upload every `every`, until the server answers; returns
/// the answer and how long it took.
async fn trickle(server: &Server, piece: usize, every: Duration) -> (String, Duration) {
    let socket = TcpStream::connect(address(server)).await.unwrap();
    let (mut read, mut write) = socket.into_split();
    let started = Instant::now();
    let writer = tokio::spawn(async move {
        let head = "POST /thumbnail HTTP/1.1\r\nHost: x\r\nContent-Type: video/mp4\r\nContent-Length: 90000000\r\n\r\n";
        write.write_all(head.as_bytes()).await?;
        loop {
            write.write_all(&vec![0u8; piece]).await?;
            tokio::time::sleep(every).await;
        }
        #[allow(unreachable_code)]
        std::io::Result::Ok(())
    });
    let mut got = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), async {
        let mut buf = [0u8; 4096];
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            match read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        // and the body
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(500), read.read(&mut buf)).await {
            got.extend_from_slice(&buf[..n]);
        }
    })
    .await;
    writer.abort();
    (String::from_utf8_lossy(&got).into_owned(), started.elapsed())
}

#[tokio::test]
async fn slow_uploads_are_cut() {
    // Stalls after its first bytes.
    let server = start(&["--body-timeout", "1"]);
    let (response, took) = trickle(&server, 1000, Duration::from_secs(3600)).await;
    assert!(response.starts_with("HTTP/1.1 408 "), "{response}");
    assert!(
        response.contains("request_timeout") && response.contains("stalled"),
        "{response}"
    );
    eprintln!("a stalled upload: 408 after {took:?}");

    // Keeps sending, far too slowly.
    let server = start(&["--body-timeout", "1", "--min-upload-rate", "200000"]);
    let (response, took) = trickle(&server, 2000, Duration::from_millis(200)).await;
    assert!(response.starts_with("HTTP/1.1 408 "), "{response}");
    assert!(response.contains("too slow"), "{response}");
    eprintln!("a 10 kB/s upload: 408 after {took:?}");

    // Never idle, no minimum rate, but the whole request is past its time.
    let server = start(&[
        "--body-timeout",
        "1",
        "--min-upload-rate",
        "0",
        "--job-timeout",
        "1",
        "--request-timeout",
        "2",
    ]);
    let (response, took) = trickle(&server, 100, Duration::from_millis(200)).await;
    assert!(response.starts_with("HTTP/1.1 408 "), "{response}");
    assert!(response.contains("took longer than 2 s"), "{response}");
    assert!(took >= Duration::from_secs(2), "{took:?}");
    eprintln!("a 2 s request limit: 408 after {took:?}");
    assert_eq!(server.metric("thumbnail_admitted_requests").await, 0.0);
}

#[tokio::test]
async fn failures_on_the_servers_side_do_not_leak_paths() {
    let spool = spool_dir("gone-spool");
    let server = start(&["--temp-dir", spool.to_str().unwrap()]);
    std::fs::remove_dir_all(&spool).unwrap(); // the disk goes away under it
    let video = std::fs::read(fixture("h264.mp4")).unwrap();
    let r = client()
        .post(server.url("/thumbnail"))
        .header("content-type", "video/mp4")
        .body(video.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = r.text().await.unwrap();
    let problem: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(problem["code"], "internal");
    for secret in [spool.to_str().unwrap(), "/work", "target", "os error", "No such file"] {
        assert!(!body.contains(secret), "the answer shows {secret:?}: {body}");
    }
    // The log has it.
    let log = std::fs::read_to_string(&server.log).unwrap();
    assert!(log.contains("spooling the upload"), "{log}");
    std::fs::create_dir_all(&spool).unwrap();
    let r = client()
        .post(server.url("/thumbnail"))
        .header("content-type", "video/mp4")
        .body(video)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    std::fs::remove_dir_all(&spool).unwrap();
}

#[tokio::test]
async fn cors_is_open_where_pages_need_it_only() {
    let server = start(&[]);
    let origin = "http://127.0.0.1:9";
    let get = |path: &'static str| client().get(server.url(path)).header("origin", origin).send();
    let preflight = |path: &'static str, method: &'static str| {
        client()
            .request(reqwest::Method::OPTIONS, server.url(path))
            .header("origin", origin)
            .header("access-control-request-method", method)
            .send()
    };
    for path in [
        "/thumbnailer.js",
        "/video-thumbnailer.js",
        "/engine/thumbnail-engine-st.js",
        "/openapi.json",
    ] {
        let r = get(path).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert_eq!(r.headers()["access-control-allow-origin"], "*", "{path}");
    }
    for path in ["/thumbnail", "/probe"] {
        let r = preflight(path, "POST").await.unwrap();
        assert_eq!(r.headers()["access-control-allow-origin"], "*", "{path}");
    }
    for path in ["/metrics", "/healthz"] {
        let r = get(path).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert!(
            !r.headers().contains_key("access-control-allow-origin"),
            "{path} is open to other origins"
        );
        let r = preflight(path, "GET").await.unwrap();
        assert!(
            !r.headers().contains_key("access-control-allow-origin"),
            "{path}'s preflight is open to other origins"
        );
    }
}

#[test]
fn bad_configuration_is_refused_clearly() {
    for (args, names) in [
        (&["--job-timeout", "inf"][..], "--job-timeout"),
        (&["--job-timeout", "NaN"], "--job-timeout"),
        (&["--job-timeout", "0"], "--job-timeout"),
        (&["--header-timeout=-1"], "--header-timeout"),
        (&["--workers", "0"], "--workers"),
        (&["--max-upload", "1000", "--temp-budget", "10"], "--temp-budget"),
        (&["--max-uploads", "0"], "--max-uploads"),
        (&["--request-timeout", "5", "--job-timeout", "10"], "--request-timeout"),
        (&["--worker-memory-mb", "10"], "--worker-memory-mb"),
        (&["--max-connections", "100000000"], "--max-connections"),
        (&["--max-pixels", "0"], "--max-pixels"),
        (&["--www", "/nonexistent/www"], "--www"),
        (&["--engine-dir", "/nonexistent/engine"], "--engine-dir"),
        (&["--temp-dir", "/nonexistent/tmp"], "--temp-dir"),
    ] {
        let mut child = Command::new(BINARY)
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("{args:?}: the server started");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        assert_eq!(status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(names), "{args:?} should name {names}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        eprintln!("{args:?}: {}", stderr.lines().next().unwrap_or_default());
    }
}

#[tokio::test]
async fn an_installed_binary_serves_its_installed_files() {
    let prefix = spool_dir("install");
    let bin = prefix.join("bin");
    let share = prefix.join("share/video-thumbnailer");
    for dir in [&bin, &share.join("www"), &share.join("engine")] {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::copy(BINARY, bin.join("thumbnail-server")).unwrap();
    let marker = format!("<!doctype html><title>installed {}</title>", std::process::id());
    std::fs::write(share.join("www/index.html"), &marker).unwrap();
    std::fs::write(share.join("engine/thumbnail-engine-st.js"), "// the installed engine").unwrap();

    let server = Server::start(&bin.join("thumbnail-server"), &[]);
    let page = client()
        .get(server.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(page, marker);
    let engine = client()
        .get(server.url("/engine/thumbnail-engine-st.js"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(engine, "// the installed engine");
    // Its engine workers are the installed binary too.
    let video = std::fs::read(fixture("h264.mp4")).unwrap();
    let r = client()
        .post(server.url("/thumbnail"))
        .header("content-type", "video/mp4")
        .body(video)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    drop(server);
    std::fs::remove_dir_all(&prefix).unwrap();
}

#[tokio::test]
async fn output_images_fit_in_the_pixel_limit() {
    // 320x240 with a sample aspect ratio of 10:1 is shown 3200x240: 768,000 pixels.
    let server = start(&["--max-pixels", "100000"]);
    let video = std::fs::read(fixture("sar-10to1.mp4")).unwrap();
    let r = client()
        .post(server.url("/thumbnail"))
        .header("content-type", "video/mp4")
        .body(video)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let image = image::load_from_memory(&r.bytes().await.unwrap()).unwrap();
    let (w, h) = (image.width(), image.height());
    eprintln!("sar 10:1 under a 100,000 pixel limit: {w}x{h}");
    assert!(u64::from(w) * u64::from(h) <= 100_000, "{w}x{h}");
    assert!(w > 5 * h, "the shape is kept: {w}x{h}");
}
