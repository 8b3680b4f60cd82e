//! Asynchronous request-reply against the real server and its embedded job store (SQLite and a
//! local folder under `--data-dir`): `Prefer: respond-async` gives 202 + Location, the job's
//! result is the synchronous answer, bad input is refused before any job, jobs survive the server
//! being killed (SIGKILL) and restarted, results survive restarts and expire.

use std::path::Path;
use std::time::Duration;

use reqwest::multipart::{Form, Part};
use reqwest::{Client, Response, StatusCode};
use serde_json::Value;
use test_support::{eventually, fixture, Server, TestDir};

fn start(args: &[&str]) -> Server {
    Server::start(Path::new(env!("CARGO_BIN_EXE_thumbnail-server")), args)
}

/// A data folder of the test's own, kept across the servers it starts on it.
struct DataDir(TestDir);

impl DataDir {
    fn new() -> DataDir {
        DataDir(TestDir::new("async"))
    }

    fn start(&self, args: &[&str]) -> Server {
        let mut all = vec!["--data-dir", self.0.path().to_str().unwrap()];
        all.extend_from_slice(args);
        start(&all)
    }

    /// Files left in the store's inputs (a finished or refused job leaves none).
    fn inputs(&self) -> usize {
        std::fs::read_dir(self.0.path().join("files/inputs")).map_or(0, |d| d.count())
    }
}

fn client() -> Client {
    // Redirects are looked at, not followed.
    Client::builder()
        .timeout(Duration::from_secs(60))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn form(name: &str) -> Form {
    let bytes = std::fs::read(fixture(name)).unwrap();
    Form::new().part("video", Part::bytes(bytes).file_name(name.to_owned()))
}

/// POST `route` with the video, asking for an asynchronous answer (and `key` as Idempotency-Key).
async fn submit(server: &Server, route: &str, name: &str, key: Option<&str>) -> Response {
    let mut request = client()
        .post(server.url(route))
        .header("prefer", "respond-async")
        .multipart(form(name));
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    request.send().await.unwrap()
}

/// The 202's job id, its Location and Retry-After checked.
async fn accepted(response: Response) -> String {
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(response.headers().contains_key("retry-after"));
    let body: Value = response.json().await.unwrap();
    let id = body["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/jobs/{id}"));
    assert_eq!(body["href"], location);
    assert!(
        matches!(body["status"].as_str(), Some("queued" | "running" | "done")),
        "{body}"
    );
    id
}

async fn job(server: &Server, id: &str) -> (StatusCode, Value) {
    let r = client().get(server.url(&format!("/jobs/{id}"))).send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap())
}

/// DELETE /jobs/{id}: asks to cancel the job.
async fn cancel(server: &Server, id: &str) -> Response {
    client()
        .delete(server.url(&format!("/jobs/{id}")))
        .send()
        .await
        .unwrap()
}

/// Waits until the job is finished (done, failed or cancelled); its description.
async fn finished(server: &Server, id: &str) -> Value {
    let mut last = Value::Null;
    eventually("the job to finish", Duration::from_secs(60), async || {
        let (status, body) = job(server, id).await;
        let done = body["status"] == "done";
        assert_eq!(status == StatusCode::SEE_OTHER, done, "{status} {body}");
        last = body;
        matches!(last["status"].as_str(), Some("done" | "failed" | "cancelled"))
    })
    .await;
    last
}

async fn result(server: &Server, id: &str) -> Response {
    client()
        .get(server.url(&format!("/jobs/{id}/result")))
        .send()
        .await
        .unwrap()
}

/// The same request made at once.
async fn at_once(server: &Server, route: &str, name: &str) -> Response {
    client()
        .post(server.url(route))
        .multipart(form(name))
        .send()
        .await
        .unwrap()
}

async fn assert_problem(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    body
}

#[tokio::test]
async fn an_accepted_job_answers_what_the_call_would_have() {
    let data = DataDir::new();
    let server = data.start(&[]);
    // The tutorial's thumbnail: the same PNG and headers as made at once.
    let id = accepted(submit(&server, "/thumbnail?width=160", "h264.mp4", None).await).await;
    let described = finished(&server, &id).await;
    assert_eq!(described["status"], "done", "{described}");
    assert_eq!(described["operation"], "thumbnail");
    assert_eq!(described["attempts"], 1);
    assert_eq!(described["result"], format!("/jobs/{id}/result"));
    // Described as openapi.json says.
    let spec: Value =
        serde_json::from_str(&std::fs::read_to_string(test_support::root().join("server/openapi.json")).unwrap())
            .unwrap();
    let schema = &spec["components"]["schemas"]["Job"];
    let mut fields: Vec<&String> = described.as_object().unwrap().keys().collect();
    let mut documented: Vec<&String> = schema["properties"].as_object().unwrap().keys().collect();
    fields.sort();
    documented.sort();
    assert_eq!(fields, documented, "the Job schema in openapi.json");
    let (status, _) = job(&server, &id).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let later = result(&server, &id).await;
    let now = at_once(&server, "/thumbnail?width=160", "h264.mp4").await;
    assert_eq!(later.status(), StatusCode::OK);
    for name in [
        "content-type",
        "content-disposition",
        "x-frame-time",
        "x-image-width",
        "x-image-height",
        "x-video-duration",
    ] {
        assert_eq!(later.headers()[name], now.headers()[name], "{name}");
    }
    assert_eq!(later.bytes().await.unwrap(), now.bytes().await.unwrap());
    // Following the 303 gives the result too.
    let followed = reqwest::get(server.url(&format!("/jobs/{id}"))).await.unwrap();
    assert_eq!(followed.headers()["content-type"], "image/png");

    // Probe, sheet and frames: the same JSON.
    for route in ["/probe", "/sprite?count=4&width=80", "/frames?times=0.5,2&width=64"] {
        let id = accepted(submit(&server, route, "h264.mp4", None).await).await;
        assert_eq!(finished(&server, &id).await["status"], "done");
        let later: Value = result(&server, &id).await.json().await.unwrap();
        let now: Value = at_once(&server, route, "h264.mp4").await.json().await.unwrap();
        assert_eq!(later, now, "{route}");
    }
    // A sheet's image and track at their own addresses: the track's cues point at the image beside it.
    let id = accepted(submit(&server, "/sprite?count=4&columns=2&width=80", "h264.mp4", None).await).await;
    let described = finished(&server, &id).await;
    let files: Vec<String> = serde_json::from_value(described["files"].clone()).unwrap();
    assert_eq!(
        files,
        [
            format!("/jobs/{id}/result/sprite.jpg"),
            format!("/jobs/{id}/result/thumbnails.vtt")
        ]
    );
    let track = client().get(server.url(&files[1])).send().await.unwrap();
    assert_eq!(track.headers()["content-type"], "text/vtt");
    let track = track.text().await.unwrap();
    assert!(
        track.starts_with("WEBVTT") && track.contains("sprite.jpg#xywh=80,60,80,60"),
        "{track}"
    );
    let image = client().get(server.url(&files[0])).send().await.unwrap();
    assert_eq!(image.headers()["content-type"], "image/jpeg");
    let image = image::load_from_memory(&image.bytes().await.unwrap()).unwrap();
    assert_eq!((image.width(), image.height()), (160, 120));
    let other = client()
        .get(server.url(&format!("/jobs/{id}/result/..%2Fbody")))
        .send()
        .await
        .unwrap();
    assert_problem(other, StatusCode::NOT_FOUND, "not_found").await;

    // Every finished job's input is gone.
    assert_eq!(data.inputs(), 0);
    // The metrics: the store's jobs by state, and what this server ran.
    let metrics = server.metrics().await;
    for line in [
        "thumbnail_async_jobs{state=\"done\"} 5",
        "thumbnail_async_jobs{state=\"queued\"} 0",
        "thumbnail_async_job_runs_total 5",
        "thumbnail_async_job_retries_total 0",
        "thumbnail_async_jobs_finished_total{state=\"done\"} 5",
        "thumbnail_async_job_latency_seconds_count 5",
    ] {
        assert!(metrics.lines().any(|l| l == line), "no {line:?} in\n{metrics}");
    }
}

#[tokio::test]
async fn bad_input_is_refused_before_a_job_and_failed_jobs_are_problems() {
    let data = DataDir::new();
    let server = data.start(&[]);
    // A bad query: 400 at once, no job stored.
    assert_problem(
        submit(&server, "/thumbnail?width=0", "h264.mp4", None).await,
        StatusCode::BAD_REQUEST,
        "invalid_argument",
    )
    .await;
    assert_problem(
        submit(&server, "/probe?at=1", "h264.mp4", None).await,
        StatusCode::BAD_REQUEST,
        "invalid_argument",
    )
    .await;
    assert_eq!(data.inputs(), 0);
    // Not a video: accepted (the engine decides), then failed with the synchronous call's problem.
    let id = accepted(submit(&server, "/thumbnail", "text.txt", None).await).await;
    let described = finished(&server, &id).await;
    assert_eq!(described["status"], "failed");
    assert_eq!(described["error"]["code"], "not_media", "{described}");
    assert_eq!(described["error"]["status"], 415);
    assert_problem(
        result(&server, &id).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "not_media",
    )
    .await;
    // Cancelling a finished job: 409.
    let r = cancel(&server, &id).await;
    assert_problem(r, StatusCode::CONFLICT, "conflict").await;
    // Unknown and malformed ids.
    let unknown = "00000000-0000-4000-8000-000000000000";
    for path in [format!("/jobs/{unknown}"), format!("/jobs/{unknown}/result")] {
        let r = client().get(server.url(&path)).send().await.unwrap();
        assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;
    }
    let r = cancel(&server, &unknown).await;
    assert_problem(r, StatusCode::NOT_FOUND, "not_found").await;
    for id in ["nope", "1", "..%2F..%2Fetc", "00000000-0000-4000-8000-00000000000g"] {
        let r = client().get(server.url(&format!("/jobs/{id}"))).send().await.unwrap();
        assert_problem(r, StatusCode::BAD_REQUEST, "bad_request").await;
    }
    // A bad Idempotency-Key.
    let long = "k".repeat(300);
    assert_problem(
        submit(&server, "/thumbnail", "h264.mp4", Some(&long)).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    // Without the header nothing changes.
    assert_eq!(
        at_once(&server, "/thumbnail", "h264.mp4").await.status(),
        StatusCode::OK
    );
    assert_eq!(data.inputs(), 0);
}

#[tokio::test]
async fn a_retried_post_with_the_same_key_is_the_same_job() {
    let server = start(&[]);
    let first = accepted(submit(&server, "/thumbnail?width=64", "h264.mp4", Some("upload-42")).await).await;
    let again = accepted(submit(&server, "/thumbnail?width=64", "h264.mp4", Some("upload-42")).await).await;
    assert_eq!(first, again);
    let other = accepted(submit(&server, "/thumbnail?width=64", "h264.mp4", Some("upload-43")).await).await;
    assert_ne!(first, other);
    assert_eq!(finished(&server, &first).await["status"], "done");
    // The key stands for its request: another query, video or operation with it is a 422, and
    // never that job.
    for (route, video) in [
        ("/thumbnail?width=65", "h264.mp4"),
        ("/thumbnail?width=64", "vp9.webm"),
        ("/probe", "h264.mp4"),
    ] {
        let response = submit(&server, route, video, Some("upload-42")).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{route} {video}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "idempotency_key_reused", "{body}");
    }
    // The same request with its query in another order is the same request.
    let reordered =
        accepted(submit(&server, "/thumbnail?height=48&width=64", "h264.mp4", Some("upload-44")).await).await;
    let again = accepted(submit(&server, "/thumbnail?width=64&height=48", "h264.mp4", Some("upload-44")).await).await;
    assert_eq!(reordered, again);
}

/// A job that runs for seconds in this (debug) build: 8 full-size PNG frames of a 1080p video.
const SLOW: &str = "/frames?count=8";
const SLOW_VIDEO: &str = "h264-1080p.mp4";

/// Waits until the job runs.
async fn running(server: &Server, id: &str) {
    eventually("the job to run", Duration::from_secs(30), async || {
        let (_, body) = job(server, id).await;
        assert_ne!(
            body["status"], "done",
            "the job finished before the test could act on it: {body}"
        );
        body["status"] == "running"
    })
    .await;
}

#[tokio::test]
async fn cancelling_stops_a_running_or_queued_job() {
    let data = DataDir::new();
    let server = data.start(&["--job-concurrency", "1"]);
    let slow = accepted(submit(&server, SLOW, SLOW_VIDEO, None).await).await;
    running(&server, &slow).await;
    // Queued behind it (one at a time), then cancelled before it ran.
    let queued = accepted(submit(&server, "/thumbnail", "h264.mp4", None).await).await;
    assert_eq!(job(&server, &queued).await.1["status"], "queued");
    let r = cancel(&server, &queued).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "cancelled");
    // The running one, cancelled: it stops, and the server takes the next job.
    let r = cancel(&server, &slow).await;
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "cancelled");
    assert_problem(result(&server, &slow).await, StatusCode::CONFLICT, "conflict").await;
    let next = accepted(submit(&server, "/thumbnail", "h264.mp4", None).await).await;
    assert_eq!(finished(&server, &next).await["status"], "done");
    assert_eq!(job(&server, &queued).await.1["status"], "cancelled", "never ran");
    assert_eq!(job(&server, &slow).await.1["status"], "cancelled");
    assert_eq!(data.inputs(), 0);
}

#[tokio::test]
async fn a_job_survives_its_server_killed_and_results_survive_restarts() {
    let data = DataDir::new();
    let args = ["--job-heartbeat", "1"];
    let mut first = data.start(&args);
    let id = accepted(submit(&first, SLOW, SLOW_VIDEO, None).await).await;
    running(&first, &id).await;
    // Some of its frames made: its progress says so.
    let mut progress = 0.0;
    eventually("the job to make a frame", Duration::from_secs(30), async || {
        let (_, body) = job(&first, &id).await;
        assert_eq!(body["status"], "running", "{body}");
        progress = body["progress"].as_f64().unwrap_or(0.0);
        progress > 0.0
    })
    .await;
    assert!(progress < 1.0, "{progress}");
    first.kill(); // SIGKILL, mid-job
    let second = data.start(&args);
    let described = finished(&second, &id).await;
    eprintln!("after the kill: {described}");
    assert_eq!(described["status"], "done", "{described}");
    assert_eq!(described["attempts"], 2, "run again once");
    assert_eq!(described["progress"], 1.0);
    let frames: Value = result(&second, &id).await.json().await.unwrap();
    assert_eq!(frames["frames"].as_array().unwrap().len(), 8);
    assert_eq!(second.metric("thumbnail_async_job_retries_total").await, 1.0);
    drop(second);
    // A finished result, read by a third server on the same store.
    let third = data.start(&args);
    let again: Value = result(&third, &id).await.json().await.unwrap();
    assert_eq!(again, frames);
    assert_eq!(data.inputs(), 0);
}

#[tokio::test]
async fn results_expire() {
    let server = start(&["--result-ttl", "1"]);
    let id = accepted(submit(&server, "/thumbnail?width=64", "h264.mp4", None).await).await;
    assert_eq!(finished(&server, &id).await["status"], "done");
    eventually("the result to expire", Duration::from_secs(10), async || {
        result(&server, &id).await.status() == StatusCode::GONE
    })
    .await;
    let (status, body) = job(&server, &id).await;
    assert_eq!(status, StatusCode::GONE);
    assert_eq!(body["code"], "gone");
}

/// The inputs of waiting jobs are held to `--max-queued-bytes` (h264.mp4 is 136,362 bytes: two
/// fit in 300,000, a third does not); the refusal comes before the upload (nothing more received).
#[tokio::test]
async fn queued_inputs_are_held_to_their_byte_budget() {
    let server = start(&["--job-concurrency", "0", "--max-queued-bytes", "300000"]);
    let first = accepted(submit(&server, "/thumbnail", "h264.mp4", None).await).await;
    accepted(submit(&server, "/thumbnail", "h264.mp4", None).await).await;
    let received = server.metric("thumbnail_uploaded_bytes_total").await;
    let refused = submit(&server, "/thumbnail", "h264.mp4", None).await;
    assert!(refused.headers().contains_key("retry-after"));
    let body = assert_problem(refused, StatusCode::SERVICE_UNAVAILABLE, "busy").await;
    assert!(
        body["detail"].as_str().unwrap().contains("inputs fill their budget"),
        "{body}"
    );
    assert_eq!(
        server.metric("thumbnail_uploaded_bytes_total").await,
        received,
        "refused before its upload"
    );
    // Cancelled, the first one's input leaves the budget.
    cancel(&server, &first).await;
    accepted(submit(&server, "/thumbnail", "h264.mp4", None).await).await;
}

#[tokio::test]
async fn a_full_job_queue_refuses_before_the_upload() {
    // A server that runs none of its jobs, with room for one waiting.
    let server = start(&["--job-concurrency", "0", "--max-queued-jobs", "1"]);
    let first = accepted(submit(&server, "/thumbnail", "h264.mp4", None).await).await;
    let refused = submit(&server, "/thumbnail", "h264.mp4", None).await;
    assert!(refused.headers().contains_key("retry-after"));
    let body = assert_problem(refused, StatusCode::SERVICE_UNAVAILABLE, "busy").await;
    assert!(body["detail"].as_str().unwrap().contains("job queue"), "{body}");
    // Cancelled, it makes room; synchronous calls never waited for it.
    cancel(&server, &first).await;
    accepted(submit(&server, "/thumbnail", "h264.mp4", None).await).await;
    assert_eq!(
        at_once(&server, "/thumbnail", "h264.mp4").await.status(),
        StatusCode::OK
    );
}
