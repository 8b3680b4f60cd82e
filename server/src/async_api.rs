//! Asynchronous request-reply: an operation called with `Prefer: respond-async` is accepted as a
//! job (202 Accepted, `Location: /jobs/{id}`) and run by any server sharing the job store
//! (crate `thumbnail-queue`); its result is the answer the synchronous call would have given.
//!
//!   GET    /jobs/{id}         its state (303 See Other to the result once done)
//!   GET    /jobs/{id}/result  the answer, or the failed job's problem
//!   DELETE /jobs/{id}         cancels it while queued or running

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use serde::Serialize;
use thumbnail_queue::{Cancelled, JobRecord, Made, NewJob, Progress, Runner, State as JobState};

use crate::api::{pairs, Answer, Operation};
use crate::error::ApiError;
use crate::jobs::Pool;
use crate::metrics::{JobStateLabels, Metrics};
use crate::upload::Upload;
use crate::AppState;

/// Seconds a client is told to wait before asking about a job again.
const POLL_AFTER_SECS: u32 = 1;
/// The name a done job keeps its answer's body under.
const BODY: &str = "body";

/// A job as GET /jobs/{id} describes it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobStatus {
    id: String,
    operation: String,
    status: JobState,
    /// Runs started (more than one: its server stopped and another took it).
    attempts: u32,
    /// How far it is, 0 to 1, for jobs of many frames (a sheet, frames, an animation).
    progress: Option<f64>,
    /// The server (`--node-name`) running it, or that ran it.
    node: Option<String>,
    /// Milliseconds since the Unix epoch.
    created_at: i64,
    started_at: Option<i64>,
    finished_at: Option<i64>,
    /// When the result (or failure) stops being kept.
    expires_at: Option<i64>,
    /// This description.
    href: String,
    /// Where the result is, once done.
    result: Option<String>,
    /// Parts of the result at their own address, once done (a sheet's image and its WebVTT track).
    files: Vec<String>,
    /// Why it failed: the problem the synchronous call would have answered.
    error: Option<serde_json::Value>,
}

fn href(id: &str) -> String {
    format!("/jobs/{id}")
}

fn result_href(id: &str) -> String {
    format!("/jobs/{id}/result")
}

/// A done job's answer as kept (its description; the bytes are in the job files).
fn stored_answer(job: &JobRecord) -> Option<Answer> {
    job.result
        .clone()
        .filter(|_| job.state == JobState::Done)
        .and_then(|r| serde_json::from_value(r).ok())
}

fn status(job: &JobRecord) -> JobStatus {
    JobStatus {
        id: job.id.clone(),
        operation: job.kind.clone(),
        status: job.state,
        attempts: job.attempts,
        progress: job.progress,
        node: job.node.clone(),
        created_at: job.created_at,
        started_at: job.started_at,
        finished_at: job.finished_at,
        expires_at: job.expires_at,
        href: href(&job.id),
        result: (job.state == JobState::Done).then(|| result_href(&job.id)),
        files: stored_answer(job)
            .map(|answer| {
                answer
                    .parts
                    .iter()
                    .map(|part| format!("{}/{}", result_href(&job.id), part.name))
                    .collect()
            })
            .unwrap_or_default(),
        error: job.problem.clone(),
    }
}

/// Sets the gauges of jobs by state from the store (all servers sharing it).
pub async fn count_jobs(state: &AppState) {
    match state.jobs.store().counts().await {
        Ok(counts) => {
            for (job_state, n) in counts {
                let labels = JobStateLabels {
                    state: job_state.name().into(),
                };
                state.metrics.async_jobs.by_state.get_or_create(&labels).set(n as i64);
            }
        }
        Err(e) => tracing::warn!(error = %e, "counting the jobs for the metrics"),
    }
}

fn store_error(e: thumbnail_queue::Error) -> ApiError {
    match e {
        thumbnail_queue::Error::KeyReused(_) => ApiError::IdempotencyKeyReused(e.to_string()),
        e => ApiError::Internal(e.to_string()),
    }
}

/// Whether a new job of `bytes` (its upload's length, if known) may be accepted: fewer than
/// `--max-queued-jobs` are waiting, and their inputs with it stay within `--max-queued-bytes`
/// (checked before the upload is received, and again with its size once it is).
pub async fn room(state: &AppState, bytes: Option<u64>) -> Result<(), ApiError> {
    let store = state.jobs.store();
    let queued = store.queued_count().await.map_err(store_error)?;
    if queued >= state.config.max_queued_jobs {
        return Err(ApiError::Busy("the job queue is full"));
    }
    let held = store.queued_bytes().await.map_err(store_error)?;
    if held.saturating_add(bytes.unwrap_or(0)) > state.config.max_queued_bytes {
        return Err(ApiError::Busy("the queued jobs' inputs fill their budget"));
    }
    Ok(())
}

/// Accepts an operation (its query checked, its upload received) as a job: 202, `Location` and
/// `Retry-After`. A retried request with the same `Idempotency-Key` (the same operation, query
/// and video) gets the same job; the key with another request is a 422.
pub async fn accept(
    state: &AppState,
    operation: Operation,
    params: &[(String, String)],
    upload: &Upload,
    idempotency_key: Option<&str>,
) -> Result<Response, ApiError> {
    let input_bytes = std::fs::metadata(upload.file.path()).map_or(0, |m| m.len());
    room(state, Some(input_bytes)).await?;
    let fingerprint = match idempotency_key {
        Some(_) => Some(fingerprint(operation, params, upload).await?),
        None => None,
    };
    let job = NewJob {
        kind: operation.name(),
        params,
        filename: upload.filename.as_deref(),
        idempotency_key,
        fingerprint: fingerprint.as_deref(),
        input_bytes,
    };
    let (record, _new) = state.jobs.submit(job, upload.file.path()).await.map_err(store_error)?;
    let mut response = (StatusCode::ACCEPTED, Json(status(&record))).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::LOCATION,
        HeaderValue::try_from(href(&record.id)).expect("a job's path"),
    );
    headers.insert(header::RETRY_AFTER, HeaderValue::from(POLL_AFTER_SECS));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// What makes two requests the same for an idempotency key: SHA-256 of the operation, its query
/// pairs (sorted) and the SHA-256 of its video.
async fn fingerprint(operation: Operation, params: &[(String, String)], upload: &Upload) -> Result<String, ApiError> {
    use sha2::{Digest, Sha256};
    let path = upload.file.path().to_owned();
    let video = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
        let mut hasher = Sha256::new();
        std::io::copy(&mut std::fs::File::open(path)?, &mut hasher)?;
        Ok(hasher.finalize().to_vec())
    })
    .await
    .map_err(|e| ApiError::Internal(format!("hashing the upload: {e}")))?
    .map_err(|e| ApiError::Internal(format!("hashing the upload: {e}")))?;
    let mut pairs = params.to_vec();
    pairs.sort();
    let mut hasher = Sha256::new();
    hasher.update(operation.name());
    hasher.update([0]);
    hasher.update(serde_json::to_vec(&pairs).expect("pairs serialise"));
    hasher.update([0]);
    hasher.update(video);
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// A job by the id in its path: 400 if it cannot be one, 404 if unknown, 410 once expired.
async fn find(state: &AppState, id: &str) -> Result<JobRecord, ApiError> {
    if uuid::Uuid::try_parse(id).is_err() {
        return Err(ApiError::BadRequest(format!("{id:?} is not a job id")));
    }
    let job = state
        .jobs
        .get(id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| ApiError::NotFound(format!("no job {id}")))?;
    if state.jobs.expired(&job) {
        return Err(ApiError::Gone(format!("job {id} finished and its result has expired")));
    }
    Ok(job)
}

/// GET /jobs/{id}: the job; once done, 303 See Other to its result (with the same description).
pub async fn get(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let job = find(&state, &id).await?;
    let done = job.state == JobState::Done;
    let mut response = Json(status(&job)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if done {
        *response.status_mut() = StatusCode::SEE_OTHER;
        response.headers_mut().insert(
            header::LOCATION,
            HeaderValue::try_from(result_href(&id)).expect("a job's path"),
        );
    } else if !job.state.is_final() {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(POLL_AFTER_SECS));
    }
    Ok(response)
}

/// A done job's answer as kept; its body and parts are files of their own.
fn done_answer(job: &JobRecord) -> Result<Answer, ApiError> {
    stored_answer(job).ok_or_else(|| ApiError::Internal(format!("job {} is done without a result", job.id)))
}

/// A file a done job kept, by name: 410 once it is no longer there.
async fn kept(state: &AppState, job: &JobRecord, name: &str) -> Result<Vec<u8>, ApiError> {
    let bytes = state.jobs.file(job, name).await.map_err(store_error)?;
    let bytes = bytes.ok_or_else(|| ApiError::Gone(format!("job {}'s result is no longer kept", job.id)))?;
    Ok(bytes.to_vec())
}

/// GET /jobs/{id}/result: the answer of a done job, exactly as the synchronous call gives it;
/// a failed job's problem (its own status and code); 409 while it is not finished or if cancelled.
pub async fn result(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let job = find(&state, &id).await?;
    match job.state {
        JobState::Done => Ok(Answer {
            body: kept(&state, &job, BODY).await?,
            parts: Vec::new(),
            ..done_answer(&job)?
        }
        .into_response()),
        JobState::Failed => {
            let problem = job
                .problem
                .unwrap_or_else(|| ApiError::Internal(String::new()).problem_json());
            let status = problem["status"]
                .as_u64()
                .and_then(|s| StatusCode::from_u16(s as u16).ok())
                .filter(|s| s.is_client_error() || s.is_server_error())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut response = (status, Json(problem)).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/problem+json"),
            );
            Ok(response)
        }
        JobState::Cancelled => Err(ApiError::Conflict(format!("job {id} was cancelled"))),
        JobState::Queued | JobState::Running => Err(ApiError::Conflict(format!(
            "job {id} is {}; its result is at this address once it is done",
            job.state.name()
        ))),
    }
}

/// GET /jobs/{id}/result/{name}: a part of a done job's result on its own (`files` in the job's
/// description): a sheet's image, or its WebVTT track, which points at the image beside it.
pub async fn part(
    State(state): State<AppState>,
    Path((id, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let job = find(&state, &id).await?;
    if job.state != JobState::Done {
        return Err(ApiError::Conflict(format!(
            "job {id} is {}: no result",
            job.state.name()
        )));
    }
    let answer = done_answer(&job)?;
    let part = answer
        .parts
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| ApiError::NotFound(format!("job {id}'s result has no part {name:?}")))?;
    Ok(Answer {
        content_type: part.content_type.clone(),
        headers: Vec::new(),
        body: kept(&state, &job, &part.name).await?,
        parts: Vec::new(),
    }
    .into_response())
}

/// DELETE /jobs/{id}: cancels a queued or running job (200, the job now cancelled); 409 once it
/// is finished.
pub async fn cancel(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    find(&state, &id).await?;
    match state.jobs.cancel(&id).await.map_err(store_error)? {
        Cancelled::Now(job) => Ok(Json(status(&job)).into_response()),
        Cancelled::Finished(job) => Err(ApiError::Conflict(format!("job {id} is {} already", job.state.name()))),
        Cancelled::NotFound => Err(ApiError::NotFound(format!("no job {id}"))),
    }
}

/// Runs this server's share of the jobs on its engine pool.
pub struct EngineRunner {
    pub pool: std::sync::Arc<Pool>,
    pub max_pixels: u32,
    pub metrics: std::sync::Arc<Metrics>,
    /// An asynchronous job's time limit (`--async-job-timeout`): longer than a request's.
    pub timeout: std::time::Duration,
}

impl Runner for EngineRunner {
    async fn run(&self, job: &JobRecord, input: std::fs::File, progress: Progress) -> Result<Made, serde_json::Value> {
        let made = async {
            let operation = Operation::from_name(&job.kind)
                .ok_or_else(|| ApiError::Internal(format!("a job of the unknown kind {:?}", job.kind)))?;
            let asked = operation.parse(pairs(&job.params))?;
            let tell: crate::jobs::ProgressFn = std::sync::Arc::new(move |done| progress.set(done));
            let output = self
                .pool
                .run_within(asked.job(self.max_pixels), input, self.timeout, Some(tell))
                .await?;
            asked.answer(output, job.filename.as_deref())
        };
        match made.await {
            Ok(mut answer) => {
                // The body and each part are files of their own; the rest (type, headers, the
                // parts' names and types) is the job's result.
                let mut files = vec![(BODY.to_owned(), Bytes::from(std::mem::take(&mut answer.body)))];
                for part in &mut answer.parts {
                    files.push((part.name.clone(), Bytes::from(std::mem::take(&mut part.bytes))));
                }
                let result = serde_json::to_value(&answer).expect("an answer's description serialises");
                Ok(Made { files, result })
            }
            Err(error) => {
                tracing::info!(job = %job.id, error = %error, "job failed");
                Err(error.problem_json())
            }
        }
    }

    fn started(&self, job: &JobRecord) {
        self.metrics.async_jobs.runs.inc();
        if job.attempts > 1 {
            self.metrics.async_jobs.retries.inc();
        }
    }

    fn finished(&self, _job: &JobRecord, state: JobState, latency: std::time::Duration) {
        let jobs = &self.metrics.async_jobs;
        jobs.finished
            .get_or_create(&JobStateLabels {
                state: state.name().into(),
            })
            .inc();
        jobs.latency.observe(latency.as_secs_f64());
    }

    fn unrecorded(&self, why: &str) -> serde_json::Value {
        ApiError::Internal(format!("the job ended without its outcome: {why}")).problem_json()
    }

    fn abandoned(&self, job: &JobRecord) -> serde_json::Value {
        ApiError::EngineCrashed(format!(
            "the job was started {} times and each time the server running it stopped",
            job.attempts - 1
        ))
        .problem_json()
    }
}
