//! One engine job as the server runs it: open the uploaded video, describe it, and for a thumbnail
//! take the frame and encode it. The same [`run`] runs in a sandboxed worker process (worker.rs)
//! or, with `--isolation thread`, on an engine thread of the server itself; jobs.rs picks.
//!
//! A job travels to a worker as JSON (the vocabulary's types serialise).

use std::fs::File;

use serde::{Deserialize, Serialize};
use thumbnail_engine::{Engine, Image, Interrupt, OpenOptions};
use thumbnail_frames::animation::{animation_times, encode_gif, Still};
use thumbnail_frames::sprite::{check_size, compose, sprite_times, Tile};
use thumbnail_frames::PICK_SIDE;
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
        None => thumbnail_frames::best_time(info.duration, |t| {
            let image = engine.next_frame(t, PICK_SIDE, PICK_SIDE)?;
            Ok::<_, EngineError>((image.time, image.rgba))
        })?,
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

/// An animation: the frames from `start` at the options' rate (each packet decoded at most once),
/// as one GIF.
fn make_gif(mut engine: Engine, info: VideoInfo, options: &ThumbnailOptions, start: f64) -> Result<Output, Failure> {
    let times = animation_times(start, options.duration, options.fps, info.duration);
    let mut images = Vec::with_capacity(times.len());
    for &t in &times {
        images.push(engine.next_frame(t, options.max_width, options.max_height)?);
    }
    drop(engine);
    let (width, height) = (images[0].width, images[0].height);
    let stills: Vec<Still> = images
        .iter()
        .filter(|i| (i.width, i.height) == (width, height))
        .map(|i| Still {
            width: i.width,
            height: i.height,
            rgba: &i.rgba,
        })
        .collect();
    let bytes = encode_gif(&stills, options.fps, options.looped).map_err(Failure::Internal)?;
    Ok(Output {
        info,
        frame: Some(Frame {
            time: images[0].time,
            width,
            height,
            bytes,
        }),
        sheet: None,
    })
}

/// A contact sheet: the frames at the sheet's times (each packet decoded at most once), tiled.
fn make_sheet(mut engine: Engine, info: VideoInfo, sprite: &SpriteOptions, max_pixels: u32) -> Result<Output, Failure> {
    let times = sprite_times(info.duration, sprite.frames);
    let mut images = Vec::with_capacity(times.len());
    for &t in &times {
        let image = engine.next_frame(t, sprite.tile_width, sprite.tile_height)?;
        if images.is_empty() {
            // The first frame tells the tile size: refuse a sheet too large before making it.
            check_size(
                times.len() as u32,
                sprite.columns,
                image.width,
                image.height,
                u64::from(max_pixels),
            )
            .map_err(|message| EngineError::new(ErrorKind::InvalidArgument, message))?;
        }
        images.push(image);
    }
    drop(engine);
    let tiles: Vec<Tile> = images
        .iter()
        .map(|i| Tile {
            width: i.width,
            height: i.height,
            rgba: &i.rgba,
        })
        .collect();
    let (sheet, rgba) = compose(&tiles, sprite.columns);
    let image = Image {
        width: sheet.width(),
        height: sheet.height(),
        time: times.first().copied().unwrap_or(0.0),
        rgba,
    };
    let bytes = encoded(&image, sprite.format, sprite.quality)?;
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
