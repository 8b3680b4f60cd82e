//! One engine job as the server runs it: open the uploaded video, describe it, and for a thumbnail
//! take the frame and encode it. The same [`run`] runs in a sandboxed worker process (worker.rs)
//! or, with `--isolation thread`, on an engine thread of the server itself; jobs.rs picks.
//!
//! A job travels to a worker as JSON (the vocabulary's types serialise).

use std::fs::File;

use serde::{Deserialize, Serialize};
use thumbnail_engine::{Engine, Image, Interrupt, OpenOptions};
use thumbnail_frames::animation::{self, animation_times};
use thumbnail_frames::sprite::{self, sprite_times};
use thumbnail_frames::{best_time, Failed, Picture, PICK_SIDE};
use thumbnail_vocabulary::{Error as EngineError, ErrorKind, Format, SpriteOptions, ThumbnailOptions, VideoInfo};

use crate::encode::encode;
use crate::error::ApiError;

/// What to do with the video.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    /// Source frames above this many pixels are refused.
    pub max_pixels: u32,
    /// A thumbnail, or (`sprite`) a contact sheet; neither: only probe.
    pub thumbnail: Option<ThumbnailOptions>,
    pub sprite: Option<SpriteOptions>,
}

/// What a job made.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Output {
    pub info: VideoInfo,
    /// The thumbnail, or the sheet's image.
    pub frame: Option<Frame>,
    /// For a sheet: its tiles and times (the track is written by the caller, which names the image).
    pub sheet: Option<SheetOut>,
}

/// A contact sheet's geometry and the times its tiles stand for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SheetOut {
    pub columns: u32,
    pub rows: u32,
    pub tile_width: u32,
    pub tile_height: u32,
    pub times: Vec<f64>,
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
    if let Some(sprite) = &job.sprite {
        return make_sheet(engine, info, sprite, job.max_pixels);
    }
    let Some(thumbnail) = &job.thumbnail else {
        return Ok(Output {
            info,
            frame: None,
            sheet: None,
        });
    };
    let t = match thumbnail.at.seconds(info.duration) {
        Some(t) => t,
        None => best_time(info.duration, |t| next_picture(&mut engine, t, PICK_SIDE, PICK_SIDE))?,
    };
    if thumbnail.format == Format::Gif {
        return make_gif(engine, info, thumbnail, t);
    }
    let image = engine.frame(t, thumbnail.max_width, thumbnail.max_height, thumbnail.seek)?;
    drop(engine);
    let bytes = encoded(&image, thumbnail.format, thumbnail.quality)?;
    Ok(Output {
        info,
        frame: Some(Frame {
            time: image.time,
            width: image.width,
            height: image.height,
            bytes,
        }),
        sheet: None,
    })
}

fn encoded(image: &Image, format: Format, quality: u8) -> Result<Vec<u8>, Failure> {
    encode(image, format, quality).map_err(|e| match e {
        // What the client asked cannot be encoded (a WebP wider than 16383): its fault, a 400.
        ApiError::BadRequest(message) => Failure::from(EngineError::new(ErrorKind::InvalidArgument, message)),
        other => Failure::Internal(other.to_string()),
    })
}

/// The engine's next frame (`te_decode_next`) as the frames crate takes it.
fn next_picture(engine: &mut Engine, t: f64, width: u32, height: u32) -> Result<Picture, EngineError> {
    let image = engine.next_frame(t, width, height)?;
    Ok(Picture {
        width: image.width,
        height: image.height,
        time: image.time,
        rgba: image.rgba,
    })
}

impl From<Failed<EngineError>> for Failure {
    fn from(failed: Failed<EngineError>) -> Failure {
        match failed {
            Failed::Engine(e) => e.into(),
            Failed::Refused(message) => EngineError::new(ErrorKind::InvalidArgument, message).into(),
        }
    }
}

/// An animation: the frames from `start` at the options' rate, as one GIF.
fn make_gif(mut engine: Engine, info: VideoInfo, options: &ThumbnailOptions, start: f64) -> Result<Output, Failure> {
    let times = animation_times(start, options.duration, options.fps, info.duration);
    let (w, h) = (options.max_width, options.max_height);
    let made = animation::make_gif(&times, options.fps, options.looped, |t| {
        next_picture(&mut engine, t, w, h)
    })?;
    Ok(Output {
        info,
        frame: Some(Frame {
            time: made.time,
            width: made.width,
            height: made.height,
            bytes: made.gif,
        }),
        sheet: None,
    })
}

/// A contact sheet: the frames at the sheet's times, tiled, encoded.
fn make_sheet(
    mut engine: Engine,
    info: VideoInfo,
    options: &SpriteOptions,
    max_pixels: u32,
) -> Result<Output, Failure> {
    let times = sprite_times(info.duration, options.frames);
    let (w, h) = (options.tile_width, options.tile_height);
    let (sheet, rgba) = sprite::make_sheet(&times, options.columns, u64::from(max_pixels), |t| {
        next_picture(&mut engine, t, w, h)
    })?;
    drop(engine);
    let image = Image {
        width: sheet.width(),
        height: sheet.height(),
        time: times.first().copied().unwrap_or(0.0),
        rgba,
    };
    let bytes = encoded(&image, options.format, options.quality)?;
    Ok(Output {
        info,
        frame: Some(Frame {
            time: image.time,
            width: image.width,
            height: image.height,
            bytes,
        }),
        sheet: Some(SheetOut {
            columns: sheet.columns,
            rows: sheet.rows,
            tile_width: sheet.tile_width,
            tile_height: sheet.tile_height,
            times,
        }),
    })
}
