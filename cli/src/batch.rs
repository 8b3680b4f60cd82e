//! Running the videos: `parallel` at once, each in an engine process of its own (launched and
//! confined ahead by the sandbox crate's spares), a progress bar, and at the end one line per
//! failure (the file, its code, the engine's words) and a summary.

use std::collections::VecDeque;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::outputs::{Kind, Plan};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use thumbnail_sandbox::process::CallError;
use thumbnail_sandbox::spares::Spares;
use thumbnail_sandbox::work::{Failure, Output, Work};

pub struct Batch {
    pub kind: Kind,
    pub work: Work,
    pub plan: Plan,
    pub parallel: usize,
    pub timeout: Duration,
    pub progress: bool,
}

/// How the batch went.
pub struct Summary {
    pub failed: usize,
}

/// Why one video gave nothing: a code of the vocabulary and words.
struct Failed {
    code: String,
    message: String,
}

impl Failed {
    fn new(code: &str, message: impl Into<String>) -> Failed {
        Failed {
            code: code.into(),
            message: message.into(),
        }
    }
}

impl From<Failure> for Failed {
    fn from(failure: Failure) -> Failed {
        match failure {
            Failure::Engine { code, message } => Failed { code, message },
            Failure::Internal(message) => Failed::new("internal", message),
        }
    }
}

/// What the batch's tasks share.
struct Shared {
    batch: Batch,
    queue: Mutex<VecDeque<PathBuf>>,
    failures: Mutex<Vec<(PathBuf, Failed)>>,
    made: Mutex<usize>,
    bar: ProgressBar,
    spares: Arc<Spares>,
}

/// Each engine process's address-space limit (as the server's default `--worker-memory-mb`).
const PROCESS_MEMORY: u64 = 4096 << 20;

impl Batch {
    pub async fn run(self, videos: Vec<PathBuf>) -> Result<Summary, String> {
        let total = videos.len();
        let bar = if self.progress {
            ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr())
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed} {wide_msg}").expect("a valid template"),
        );
        let started = Instant::now();
        let parallel = self.parallel.min(total.max(1));
        let exe = std::env::current_exe().map_err(|e| format!("the path of this program: {e}"))?;
        let spares = Spares::start(&exe, PROCESS_MEMORY, parallel)
            .await
            .map_err(|e| format!("cannot start sandboxed engine processes: {e}"))?;
        let shared = Arc::new(Shared {
            batch: self,
            queue: Mutex::new(videos.into()),
            failures: Mutex::new(Vec::new()),
            made: Mutex::new(0),
            bar,
            spares,
        });
        let tasks: Vec<_> = (0..parallel).map(|_| tokio::spawn(run_queue(shared.clone()))).collect();
        for task in tasks {
            task.await.expect("a batch task");
        }
        shared.bar.finish_and_clear();
        let failures = std::mem::take(&mut *shared.failures.lock().unwrap());
        let made = *shared.made.lock().unwrap();
        let mut failures: Vec<_> = failures;
        failures.sort_by(|a, b| a.0.cmp(&b.0));
        for (video, failed) in &failures {
            eprintln!("{}: {}: {}", video.display(), failed.code, failed.message);
        }
        let verb = match shared.batch.kind {
            Kind::Probe { .. } => "described",
            _ => "made",
        };
        eprintln!(
            "{made} of {total} {verb}, {} failed, in {:.1} s",
            failures.len(),
            started.elapsed().as_secs_f64()
        );
        Ok(Summary { failed: failures.len() })
    }
}

/// One task: the next video, until there is none.
async fn run_queue(shared: Arc<Shared>) {
    loop {
        let Some(video) = shared.queue.lock().unwrap().pop_front() else {
            break;
        };
        shared.bar.set_message(video.display().to_string());
        let outcome = match run_one(&shared, &video).await {
            Ok(output) => finish(&shared, &video, &output),
            Err(failed) => Err(failed),
        };
        match outcome {
            Ok(()) => *shared.made.lock().unwrap() += 1,
            Err(failed) => {
                if let Kind::Probe { json: true } = shared.batch.kind {
                    let line = serde_json::json!({
                        "file": video.display().to_string(),
                        "error": { "code": failed.code, "message": failed.message },
                    });
                    shared.bar.suspend(|| println!("{line}"));
                }
                shared.failures.lock().unwrap().push((video, failed));
            }
        }
        shared.bar.inc(1);
    }
}

/// The video through an engine process of its own (another when the one taken had died while it
/// waited). A process that crashes or runs out of time is ended (its video fails).
async fn run_one(shared: &Shared, video: &Path) -> Result<Output, Failed> {
    let file = File::open(video).map_err(|e| Failed::new("io", e.to_string()))?;
    if !file.metadata().is_ok_and(|m| m.is_file()) {
        return Err(Failed::new("io", "not a file"));
    }
    let work = &shared.batch.work;
    let mut attempts = 0;
    let mut running = loop {
        let mut process = shared
            .spares
            .take()
            .await
            .map_err(|e| Failed::new("internal", format!("cannot launch an engine process: {e}")))?;
        match process.start(work, &file).await {
            Ok(()) => break process,
            Err(CallError::NotDelivered(e) | CallError::Died(e)) => {
                drop(process.end().await);
                attempts += 1;
                if attempts == 2 {
                    return Err(Failed::new(
                        "internal",
                        format!("an engine process refused the video: {e}"),
                    ));
                }
            }
        }
    };
    // An encoded image is never larger than its RGBA pixels, plus headers.
    let max_image = u64::from(work.max_pixels) * 4 + (1 << 20);
    match tokio::time::timeout(shared.batch.timeout, running.result(max_image, None)).await {
        Ok(Ok(result)) => result.map_err(Failed::from),
        Ok(Err(CallError::NotDelivered(_) | CallError::Died(_))) => {
            let how = running.end().await;
            Err(Failed::new("engine_crashed", how))
        }
        Err(_elapsed) => {
            drop(running); // killed
            Err(Failed::new(
                "timeout",
                format!("took longer than {} s", shared.batch.timeout.as_secs_f64()),
            ))
        }
    }
}

/// What was made of the video: written (or, for probe, printed).
fn finish(shared: &Shared, video: &Path, output: &Output) -> Result<(), Failed> {
    match shared.batch.kind {
        Kind::Probe { json } => {
            let info = &output.info;
            let line = if json {
                serde_json::json!({ "file": video.display().to_string(), "info": info }).to_string()
            } else {
                format!(
                    "{}: {} {}x{}{}, {}, {}",
                    video.display(),
                    info.codec,
                    info.width,
                    info.height,
                    if info.rotation != 0 {
                        format!(" (turned {}°)", info.rotation)
                    } else {
                        String::new()
                    },
                    info.duration.map_or("duration unknown".into(), |d| format!("{d:.2} s")),
                    info.fps.map_or("fps unknown".into(), |f| format!("{f:.2} fps")),
                )
            };
            shared.bar.suspend(|| println!("{line}"));
            Ok(())
        }
        _ => shared
            .batch
            .plan
            .write(&shared.batch.kind, video, output)
            .map(drop)
            .map_err(|message| Failed::new("io", message)),
    }
}
