//! One engine job as the server runs it: open the uploaded video, describe it, and for a thumbnail
//! take the frame and encode it. The same [`run`] runs in a sandboxed worker process (worker.rs)
//! or, with `--isolation thread`, on an engine thread of the server itself; jobs.rs picks.
//!
//! A job travels to a worker as JSON (the vocabulary's types serialise).

use std::fs::File;

use serde::{Deserialize, Serialize};
use thumbnail_engine::{Engine, Interrupt, OpenOptions};
use thumbnail_frames::PICK_SIDE;
use thumbnail_vocabulary::{Error as EngineError, ErrorKind, ThumbnailOptions, VideoInfo};

use crate::encode::encode;
use crate::error::ApiError;

/// What to do with the video.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    /// Source frames above this many pixels are refused.
    pub max_pixels: u32,
    /// `None`: only probe.
    pub thumbnail: Option<ThumbnailOptions>,
}

/// What a job made.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Output {
    pub info: VideoInfo,
    pub frame: Option<Frame>,
}

/// An encoded thumbnail.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Frame {
    /// Seconds from the start of the video.
    pub time: f64,
    pub width: u32,
    pub height: u32,
    /// The encoded image (sent after the JSON between processes, not inside it).
    #[serde(skip)]
    pub bytes: Vec<u8>,
}

/// Why a job failed: the engine's verdict on the video, or a fault of ours (encoding).
#[derive(Debug, Clone, Serialize, Deserialize, thiserror::Error)]
pub enum Failure {
    #[error("{message}")]
    Engine { code: String, message: String },
    #[error("{0}")]
    Internal(String),
}

impl From<EngineError> for Failure {
    fn from(e: EngineError) -> Failure {
        Failure::Engine {
            code: e.kind.name().to_owned(),
            message: e.message,
        }
    }
}

impl Failure {
    /// The engine error this stands for, if it is one.
    pub fn engine_error(&self) -> Option<EngineError> {
        match self {
            Failure::Engine { code, message } => Some(EngineError::new(ErrorKind::from_name(code)?, message.clone())),
            Failure::Internal(_) => None,
        }
    }
}

/// Runs a job on the video `file` reads.
pub fn run(job: &Job, file: File, interrupt: Option<Interrupt>) -> Result<Output, Failure> {
    let options = OpenOptions {
        threads: 1,
        max_pixels: Some(job.max_pixels),
        interrupt,
    };
    let mut engine = Engine::open_file(file, &options)?;
    let info = engine.info().clone();
    let Some(thumbnail) = &job.thumbnail else {
        return Ok(Output { info, frame: None });
    };
    let t = match thumbnail.at.seconds(info.duration) {
        Some(t) => t,
        None => thumbnail_frames::best_time(info.duration, |t| {
            let image = engine.next_frame(t, PICK_SIDE, PICK_SIDE)?;
            Ok::<_, EngineError>((image.time, image.rgba))
        })?,
    };
    let image = engine.frame(t, thumbnail.max_width, thumbnail.max_height, thumbnail.seek)?;
    drop(engine);
    let bytes = encode(&image, thumbnail.format, thumbnail.quality).map_err(|e| match e {
        // What the client asked cannot be encoded (a WebP wider than 16383): its fault, a 400.
        ApiError::BadRequest(message) => Failure::from(EngineError::new(ErrorKind::InvalidArgument, message)),
        other => Failure::Internal(other.to_string()),
    })?;
    Ok(Output {
        info,
        frame: Some(Frame {
            time: image.time,
            width: image.width,
            height: image.height,
            bytes,
        }),
    })
}
