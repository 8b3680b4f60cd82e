//! The server on real-world files, and its engine worker processes: every real-world fixture gives
//! the frame the engine gives (and the CLI's), a worker killed or frozen on a job costs that one
//! request, and the server goes on serving with a new worker.

use std::path::Path;
use std::time::Duration;

use reqwest::multipart::{Form, Part};
use reqwest::{Client, StatusCode};
use serde_json::Value;
use test_support::{cli_frame_by, fixture, psnr, rotation_of, Expect, RealWorld, Server, REAL_WORLD};

const SAME_FRAME_DB: f64 = 35.0;

fn start(args: &[&str]) -> Server {
    Server::start(Path::new(env!("CARGO_BIN_EXE_thumbnail-server")), args)
}

fn client() -> Client {
    Client::builder().timeout(Duration::from_secs(60)).build().unwrap()
}

async fn post(server: &Server, name: &str, query: &str) -> reqwest::Response {
    post_to(server, "/thumbnail", name, query).await
}

async fn post_to(server: &Server, route: &str, name: &str, query: &str) -> reqwest::Response {
    let bytes = std::fs::read(fixture(name)).unwrap();
    let form = Form::new().part("video", Part::bytes(bytes).file_name(name.to_owned()));
    client()
        .post(server.url(&format!("{route}{query}")))
        .multipart(form)
        .send()
        .await
        .unwrap()
}

async fn problem_code(response: reqwest::Response) -> (StatusCode, String) {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    (status, body["code"].as_str().unwrap_or_default().to_owned())
}

/// The server's engine worker processes (its children).
fn workers(server: &Server) -> Vec<i32> {
    let mut pids = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{}/task", server.pid()))
        .unwrap()
        .flatten()
    {
        if let Ok(children) = std::fs::read_to_string(task.path().join("children")) {
            pids.extend(children.split_whitespace().filter_map(|p| p.parse::<i32>().ok()));
        }
    }
    pids
}

fn signal(pid: i32, sig: i32) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success(), "kill -{sig} {pid}");
}

async fn assert_still_serving(server: &Server) {
    let response = post(server, "size-200x150.mp4", "?width=64").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-image-width"], "64");
}

#[tokio::test]
async fn real_world_files_give_the_cli_frame() {
    let server = start(&["--workers", "2"]);
    for case in REAL_WORLD {
        let response = post(&server, case.file, &format!("?at={}", case.at)).await;
        match case.expect {
            Expect::Error(kind) => {
                let (status, code) = problem_code(response).await;
                assert_eq!(code, kind, "{}", case.file);
                assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", case.file);
            }
            Expect::Frame { time, size } => {
                assert_eq!(response.status(), StatusCode::OK, "{}", case.file);
                let frame_time: f64 = response.headers()["x-frame-time"].to_str().unwrap().parse().unwrap();
                assert!((frame_time - time).abs() < 0.002, "{}: {frame_time}", case.file);
                let bytes = response.bytes().await.unwrap();
                assert_is_the_cli_frame(case, frame_time, size, &bytes);
            }
        }
    }
    assert_still_serving(&server).await;
}

/// The image `bytes` is the case's frame at `frame_time`, `size`, as the CLI makes it (alpha kept
/// where the fixture has it).
fn assert_is_the_cli_frame(case: &RealWorld, frame_time: f64, size: (u32, u32), bytes: &[u8]) {
    let img = image::load_from_memory(bytes).unwrap().to_rgba8();
    assert_eq!(img.dimensions(), size, "{}", case.file);
    // Transparency is kept (the fixture is half transparent); other frames are opaque.
    let alpha = img.pixels().map(|p| p.0[3] as f64).sum::<f64>() / (size.0 * size.1) as f64;
    let want_alpha = if case.file == "alpha-qtrle.mov" { 128.0 } else { 255.0 };
    assert!((alpha - want_alpha).abs() < 1.5, "{}: mean alpha {alpha}", case.file);
    let reference = cli_frame_by(
        case.reference,
        &fixture(case.file),
        (frame_time - 0.001).max(0.0),
        size.0,
        size.1,
        rotation_of(case.file),
    );
    let db = psnr(img.as_raw(), &reference);
    assert!(db >= SAME_FRAME_DB, "{}: {db:.1} dB from the CLI's frame", case.file);
}

/// The same through POST /frames (a series of one, made by `te_decode_next` in the worker and
/// sent back over its socket with the other images' framing): every real-world file gives the
/// CLI's frame, or its problem.
#[tokio::test]
async fn real_world_files_give_the_cli_frame_in_a_series() {
    let server = start(&["--workers", "2"]);
    for case in REAL_WORLD {
        let response = post_to(&server, "/frames", case.file, &format!("?times={}", case.at)).await;
        match case.expect {
            Expect::Error(kind) => {
                let (status, code) = problem_code(response).await;
                assert_eq!(code, kind, "{}", case.file);
                assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", case.file);
            }
            Expect::Frame { time, size } => {
                assert_eq!(response.status(), StatusCode::OK, "{}", case.file);
                let body: Value = response.json().await.unwrap();
                let frame = &body["frames"][0];
                assert_eq!(body["frames"].as_array().map(Vec::len), Some(1), "{}", case.file);
                let frame_time = frame["time"].as_f64().unwrap();
                assert!((frame_time - time).abs() < 0.002, "{}: {frame_time}", case.file);
                let data = frame["image"]
                    .as_str()
                    .unwrap()
                    .strip_prefix("data:image/png;base64,")
                    .unwrap();
                let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, data).unwrap();
                assert_is_the_cli_frame(case, frame_time, size, &bytes);
            }
        }
    }
    assert_still_serving(&server).await;
}

/// A worker that dies on a job (here: frozen with SIGSTOP so that the job is certainly on it,
/// then killed) costs that request a 422 `engine_crashed`; the next request gets a new worker.
#[tokio::test]
async fn a_worker_killed_on_a_job_costs_one_request() {
    let server = start(&["--workers", "1"]);
    assert_still_serving(&server).await; // the worker exists and has served
    let pids = workers(&server);
    assert_eq!(pids.len(), 1, "one worker: {pids:?}");
    let victim = pids[0];
    signal(victim, 19); // SIGSTOP: the job will wait on it
    let request = tokio::spawn({
        let url = server.url("/thumbnail");
        async move {
            let bytes = std::fs::read(fixture("h264.mp4")).unwrap();
            let form = Form::new().part("video", Part::bytes(bytes).file_name("h264.mp4"));
            client().post(url).multipart(form).send().await.unwrap()
        }
    });
    // The job is on the worker once the server says one is running.
    wait_for_metric(&server, "thumbnail_jobs_running 1").await;
    signal(victim, 9);
    let (status, code) = problem_code(request.await.unwrap()).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "engine_crashed")
    );
    assert_still_serving(&server).await;
    let now = workers(&server);
    assert!(!now.contains(&victim), "the dead worker is gone: {now:?}");
    let metrics = server.metrics().await;
    assert!(metrics.contains("thumbnail_engine_worker_crashes_total 1"), "{metrics}");
}

/// A worker that hangs is killed at the job timeout (503 `timeout`) and replaced.
#[tokio::test]
async fn a_hung_worker_is_killed_at_the_timeout() {
    let server = start(&["--workers", "1", "--job-timeout", "1"]);
    assert_still_serving(&server).await;
    let victim = workers(&server)[0];
    signal(victim, 19); // frozen: never answers
    let (status, code) = problem_code(post(&server, "h264.mp4", "").await).await;
    assert_eq!((status, code.as_str()), (StatusCode::SERVICE_UNAVAILABLE, "timeout"));
    wait_until_dead(victim).await; // killed, not left frozen
    assert_still_serving(&server).await;
}

/// Waits until a process has exited (gone, or a zombie not yet reaped).
async fn wait_until_dead(pid: i32) {
    for _ in 0..500 {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => return,
            Ok(stat)
                if stat
                    .rsplit(')')
                    .next()
                    .is_some_and(|rest| rest.trim_start().starts_with('Z')) =>
            {
                return
            }
            Ok(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
    panic!("process {pid} is still alive");
}

/// A worker that died while idle never saw a job: the next request gets a new one, and succeeds.
#[tokio::test]
async fn a_worker_that_died_idle_is_replaced_silently() {
    let server = start(&["--workers", "1"]);
    assert_still_serving(&server).await;
    let victim = workers(&server)[0];
    signal(victim, 9);
    wait_until_dead(victim).await;
    for _ in 0..3 {
        assert_still_serving(&server).await;
    }
}

/// The worker cannot open files: its sandbox is in force (checked from its /proc status).
#[tokio::test]
async fn workers_run_sandboxed() {
    let server = start(&["--workers", "1"]);
    assert_still_serving(&server).await;
    let pid = workers(&server)[0];
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    };
    assert_eq!(field("NoNewPrivs:"), "1", "{status}");
    assert_eq!(field("Seccomp:"), "2", "seccomp filter mode: {status}");
}

async fn wait_for_metric(server: &Server, line: &str) {
    for _ in 0..500 {
        if server.metrics().await.lines().any(|l| l == line) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the metric never showed {line:?}");
}

/// `--isolation thread` (no worker processes; kept to measure isolation's cost) still makes frames
/// and typed errors, and starts no worker.
#[tokio::test]
async fn thread_isolation_still_works() {
    let server = start(&["--workers", "1", "--isolation", "thread"]);
    assert_still_serving(&server).await;
    let (status, code) = problem_code(post(&server, "not-a-video.au", "").await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_container")
    );
    assert!(workers(&server).is_empty(), "no worker processes");
}
