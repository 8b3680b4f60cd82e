//! The server on real-world files, and its engine processes: every real-world fixture gives the
//! frame the engine gives (and the CLI's); a process killed or frozen on a job costs that one
//! request, and the server goes on serving; every job runs in a process of its own, which can
//! neither signal the server nor leave a core file (the misbehaviour comes from the sandbox
//! crate's test hooks, `THUMBNAIL_ENGINE_HOOK`).

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

/// The children of `pid` (every thread's).
fn children(pid: i32) -> Vec<i32> {
    let mut pids = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return pids;
    };
    for task in tasks.flatten() {
        if let Ok(children) = std::fs::read_to_string(task.path().join("children")) {
            pids.extend(children.split_whitespace().filter_map(|p| p.parse::<i32>().ok()));
        }
    }
    pids
}

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |stat| {
        stat.rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z'))
    })
}

/// The server's live engine processes: its launcher's children.
fn engine_processes(server: &Server) -> Vec<i32> {
    children(server.pid() as i32)
        .into_iter()
        .flat_map(children)
        .filter(|pid| !is_zombie(*pid))
        .collect()
}

/// Waits until the server has `count` engine processes (its spares, refilled in the background).
async fn spares(server: &Server, count: usize) -> Vec<i32> {
    for _ in 0..500 {
        let pids = engine_processes(server);
        if pids.len() == count {
            return pids;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "the server never had {count} engine processes: {:?}",
        engine_processes(server)
    );
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

/// An engine process that dies on a job (here: frozen with SIGSTOP so that the job is certainly
/// on it, then killed) costs that request a 422 `engine_crashed`; the next request gets another.
#[tokio::test]
async fn a_process_killed_on_a_job_costs_one_request() {
    let server = start(&["--workers", "1"]);
    assert_still_serving(&server).await;
    let pids = spares(&server, 1).await; // the one spare, which the next job takes
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
    let now = engine_processes(&server);
    assert!(!now.contains(&victim), "the dead process is gone: {now:?}");
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("thumbnail_engine_process_crashes_total 1"),
        "{metrics}"
    );
}

/// An engine process that hangs is killed at the job timeout (503 `timeout`).
#[tokio::test]
async fn a_hung_process_is_killed_at_the_timeout() {
    let server = start(&["--workers", "1", "--job-timeout", "1"]);
    assert_still_serving(&server).await;
    let victim = spares(&server, 1).await[0];
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

/// A spare that died while it waited never saw a job: the next request gets another, and succeeds.
#[tokio::test]
async fn a_spare_that_died_is_replaced_silently() {
    let server = start(&["--workers", "1"]);
    assert_still_serving(&server).await;
    let victim = spares(&server, 1).await[0];
    signal(victim, 9);
    wait_until_dead(victim).await;
    for _ in 0..3 {
        assert_still_serving(&server).await;
    }
}

/// An engine process is confined before it is handed a job (checked from its /proc status and
/// limits), and the server says what its sandbox enforces (`/healthz`, `/metrics`).
#[tokio::test]
async fn engine_processes_run_sandboxed() {
    let server = start(&["--workers", "1", "--require-sandbox"]);
    assert_still_serving(&server).await;
    let pid = spares(&server, 1).await[0];
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let core = limits.lines().find(|l| l.starts_with("Max core file size")).unwrap();
    assert_eq!(
        core.split_whitespace().collect::<Vec<_>>()[4..6],
        ["0", "0"],
        "{limits}"
    );
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

    let health = server.health().await;
    let sandbox = &health["sandbox"];
    let abi = sandbox["landlock_abi"].as_u64().unwrap();
    assert!(abi >= 1, "--require-sandbox started, so Landlock is here: {health}");
    assert_eq!(sandbox["files"], true, "{health}");
    assert_eq!(sandbox["network"], abi >= 4, "{health}");
    assert_eq!(sandbox["scoped_signals"], abi >= 6, "{health}");
    assert_eq!(sandbox["seccomp"], true, "{health}");
    assert_eq!(sandbox["no_core_dumps"], true, "{health}");
    let metrics = server.metrics().await;
    assert!(
        metrics.contains(&format!("thumbnail_sandbox_landlock_abi {abi}\n")),
        "{metrics}"
    );
    // The process of the job above has ended: its peak memory, as the launcher reaped it.
    let peak = engine_peak_rss(&server).await;
    assert!((1e6..4096e6).contains(&peak), "an engine process's peak RSS: {peak}");
    assert!(
        metrics.contains("thumbnail_sandbox_enforced{rule=\"seccomp\"} 1"),
        "{metrics}"
    );
    let log = std::fs::read_to_string(&server.log).unwrap();
    assert!(
        log.lines()
            .any(|l| l.contains("INFO") && l.contains(&format!("Landlock ABI {abi}: files enforced"))),
        "the sandbox is reported at start: {log}"
    );
}

/// `--require-sandbox` with the engine on the server's own threads is refused at start.
#[test]
fn require_sandbox_refuses_thread_isolation() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_thumbnail-server"))
        .args(["--listen", "127.0.0.1:0", "--isolation", "thread", "--require-sandbox"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--require-sandbox"), "{stderr}");
}

/// Every job runs in a process of its own. The hook `linger` makes each engine process behave as
/// one taken over by its video: it stays after its reply and answers any later job with its first
/// output. The second request still gets its own video's thumbnail, from a process that never
/// saw the first, and the first's process is gone.
#[tokio::test]
async fn each_job_runs_in_a_process_that_saw_no_other() {
    let server = Server::start_with(
        Path::new(env!("CARGO_BIN_EXE_thumbnail-server")),
        &["--workers", "1"],
        &[("THUMBNAIL_ENGINE_HOOK", "linger")],
        None,
    );
    let first = spares(&server, 1).await[0];
    let response = post(&server, "size-200x150.mp4", "?width=64").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-image-width"], "64");
    wait_until_dead(first).await; // killed after its reply, lingering or not
    let second = spares(&server, 1).await[0];
    assert_ne!(second, first);
    let response = post(&server, "h264.mp4", "").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        (
            &response.headers()["x-image-width"],
            &response.headers()["x-image-height"]
        ),
        (&"320".parse().unwrap(), &"240".parse().unwrap()),
        "the second video's own thumbnail"
    );
    wait_until_dead(second).await;
}

/// An engine process can signal no process but itself: the hook `signal-caller` makes each try
/// kill, tgkill and tkill with SIGKILL on the server (the launcher's caller); every call fails
/// and the server serves on.
#[tokio::test]
async fn an_engine_process_cannot_signal_the_server() {
    let server = Server::start_with(
        Path::new(env!("CARGO_BIN_EXE_thumbnail-server")),
        &["--workers", "1"],
        &[("THUMBNAIL_ENGINE_HOOK", "signal-caller")],
        None,
    );
    let response = post(&server, "h264.mp4", "").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_still_serving(&server).await;
    let log = std::fs::read_to_string(&server.log).unwrap();
    let tried = format!("signals to the caller {}: [-1, -1, -1]", server.pid());
    assert!(log.contains(&tried), "each signal refused: {log}");
}

/// A crash leaves no core file: the hook `abort` makes each engine process abort on its job, with
/// the server's core size limit raised and the kernel's pattern writing `core` in the working
/// folder. The request is a 422 `engine_crashed` (SIGABRT, no core dumped) and the folder stays empty.
#[tokio::test]
async fn a_crash_leaves_no_core_file() {
    let pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap_or_default();
    // Raised for this test process, so for the server it starts (root may raise the hard limit).
    let unlimited = raise_core_limit();
    let folder = test_support::TestDir::new("core");
    let server = Server::start_with(
        Path::new(env!("CARGO_BIN_EXE_thumbnail-server")),
        &["--workers", "1"],
        &[("THUMBNAIL_ENGINE_HOOK", "abort")],
        Some(folder.path()),
    );
    let response = post(&server, "h264.mp4", "").await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("engine_crashed"))
    );
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("SIGABRT") && !detail.contains("core dumped"),
        "{detail} (limit raised: {unlimited}, pattern {pattern:?})"
    );
    let left: Vec<_> = std::fs::read_dir(folder.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "nothing written beside the server: {left:?}");
}

/// Raises this process's core size limit to its hard limit; says whether that is unlimited.
fn raise_core_limit() -> bool {
    use nix::sys::resource::{getrlimit, setrlimit, Resource, RLIM_INFINITY};
    let (_, hard) = getrlimit(Resource::RLIMIT_CORE).unwrap();
    setrlimit(Resource::RLIMIT_CORE, hard, hard).unwrap();
    hard == RLIM_INFINITY
}

/// The largest peak memory of an engine process that ended, in bytes, once one has (the
/// launcher reports it when it reaps the process, a moment after the answer).
async fn engine_peak_rss(server: &Server) -> f64 {
    for _ in 0..500 {
        let peak = server.metric("thumbnail_engine_process_peak_rss_bytes").await;
        if peak > 0.0 {
            return peak;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no engine process's peak memory was reported");
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

/// `--isolation thread` (no engine processes; kept to measure isolation's cost) still makes frames
/// and typed errors, and starts no launcher.
#[tokio::test]
async fn thread_isolation_still_works() {
    let server = start(&["--workers", "1", "--isolation", "thread"]);
    assert_still_serving(&server).await;
    let (status, code) = problem_code(post(&server, "not-a-video.au", "").await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_container")
    );
    assert!(
        children(server.pid() as i32).is_empty(),
        "no engine processes, no launcher"
    );
}

/// Every picture of a job is counted before it is made (the frames crate's budget, the limit
/// `--max-pixels`). The hostile requests, in both isolations: a stream that grows from
/// 160x120 to 1920x1080 after its first second, as a sheet of 400 tiles, 50 a row, 16384 wide:
/// every tile is made in the box of the header's size, so the sheet is 8000x960 and memory stays
/// small (it was 2.8 GB and a crash); a 4K clip as a full-size GIF at 30 fps from 1 s (30 frames
/// of 8.3 MP): 413 `too_large`
/// naming the limit, before any frame is decoded.
#[tokio::test]
async fn pixels_are_counted_before_they_are_made() {
    for isolation in ["process", "thread"] {
        let server = start(&["--workers", "1", "--isolation", isolation]);
        let r = post_to(
            &server,
            "/sprite",
            "growing-resolution.ts",
            "?count=400&columns=50&width=16384&format=jpeg",
        )
        .await;
        assert_eq!(r.status(), StatusCode::OK, "{isolation}");
        let sheet: Value = r.json().await.unwrap();
        let geometry = [
            &sheet["columns"],
            &sheet["rows"],
            &sheet["tileWidth"],
            &sheet["tileHeight"],
        ];
        assert_eq!(geometry, [50, 8, 160, 120], "{isolation}: {sheet:?}");

        let r = post(&server, "clip-4k.mp4", "?format=gif&width=16384&fps=30&duration=5").await;
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::PAYLOAD_TOO_LARGE, Some("too_large")),
            "{body}"
        );
        let detail = body["detail"].as_str().unwrap();
        assert!(
            detail.contains("an animation of 30 frames of 3840x2160")
                && detail.contains("limit of 67108864 pixels (--max-pixels)"),
            "{detail}"
        );
        assert_still_serving(&server).await;

        let peak_mb = match isolation {
            "process" => engine_peak_rss(&server).await / 1048576.0,
            _ => server.peak_rss_kib() as f64 / 1024.0,
        };
        eprintln!("{isolation}: peak RSS {peak_mb:.0} MB");
        assert!(
            peak_mb > 1.0 && peak_mb < 256.0,
            "{isolation}: peak RSS {peak_mb:.0} MB"
        );
    }
}
