//! A piece of engine work on one video, as the server and the command line ask for it: open the
//! video, describe it, and for a thumbnail (a sheet, a series) take the frames and encode them.
//! The same [`run`] runs in an engine process (process.rs) or, with the server's `--isolation
//! thread`, on an engine thread of the server itself (the server's jobs.rs picks).
//!
//! [`Work`] travels to an engine process as JSON (the vocabulary's types serialise).

use std::fs::File;

use serde::{Deserialize, Serialize};
use thumbnail_engine::{Engine, Image, Interrupt, OpenOptions};
use thumbnail_frames::animation::{self, animation_times};
use thumbnail_frames::budget::PixelBudget;
use thumbnail_frames::fit::Sizing;
use thumbnail_frames::placeholder::Placeholder;
use thumbnail_frames::series::series_times;
use thumbnail_frames::sprite::{self, sprite_times};
use thumbnail_frames::{best_time, Failed, Picture, PICK_SIDE};
use thumbnail_vocabulary::colour::HdrOutput;
use thumbnail_vocabulary::{
    Error as EngineError, ErrorKind, Fitting, Format, FramesOptions, Seek, SpriteOptions, ThumbnailOptions, VideoInfo,
};

use crate::encode::{encode, encode_animated_webp};
pub use crate::failure::Failure;

/// What to do with the video.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Work {
    /// Source frames above this many pixels are refused.
    pub max_pixels: u32,
    /// A thumbnail, or (`sprite`) a contact sheet, or (`frames`) a series of frames; none: only
    /// probe.
    pub thumbnail: Option<ThumbnailOptions>,
    pub sprite: Option<SpriteOptions>,
    pub frames: Option<FramesOptions>,
}

impl Work {
    /// What the operation asks of an HDR video's pictures (a probe makes none).
    fn hdr(&self) -> HdrOutput {
        let asked = [
            self.thumbnail.map(|t| t.hdr),
            self.sprite.map(|s| s.hdr),
            self.frames.as_ref().map(|f| f.hdr),
        ];
        asked.into_iter().flatten().next().unwrap_or_default()
    }

    /// Only probe.
    pub fn probe(max_pixels: u32) -> Work {
        Work {
            max_pixels,
            thumbnail: None,
            sprite: None,
            frames: None,
        }
    }
}

/// What a job made.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Output {
    pub info: VideoInfo,
    /// The thumbnail, or the sheet's image.
    pub frame: Option<Frame>,
    /// For a sheet: its tiles and times (the track is written by the caller, which names the image).
    pub sheet: Option<SheetOut>,
    /// A series of frames, in time order.
    #[serde(default)]
    pub frames: Vec<Frame>,
}

impl Output {
    /// Every encoded image of the output, in order: the thumbnail (or sheet), then the series.
    pub fn images_mut(&mut self) -> impl Iterator<Item = &mut Frame> {
        self.frame.iter_mut().chain(self.frames.iter_mut())
    }
}

impl SheetOut {
    /// The sheet's geometry, as the frames crate lays it out (and writes its WebVTT track).
    pub fn geometry(&self) -> sprite::Sheet {
        sprite::Sheet {
            columns: self.columns,
            rows: self.rows,
            tile_width: self.tile_width,
            tile_height: self.tile_height,
        }
    }
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
    /// A still thumbnail's placeholder (its ThumbHash and average colour), from its pixels.
    #[serde(default)]
    pub placeholder: Option<Placeholder>,
    /// The encoded image (sent after the JSON between processes, not inside it).
    #[serde(skip)]
    pub bytes: Vec<u8>,
}

/// What the budget of a job's pixels is called where it is set.
const BUDGET_NAME: &str = "--max-pixels";

/// Told how far a job of many frames is (0 to 1) after each frame.
pub type Progress<'a> = &'a (dyn Fn(f64) + Sync);

/// Runs a job on the video `file` reads.
pub fn run(job: &Work, file: File, interrupt: Option<Interrupt>, progress: Progress) -> Result<Output, Failure> {
    let options = OpenOptions {
        threads: 1,
        max_pixels: Some(job.max_pixels),
        interrupt,
        hdr: job.hdr(),
    };
    let mut engine = Engine::open_file(file, &options)?;
    let info = engine.info().clone();
    if let Some(sprite) = &job.sprite {
        return make_sheet(engine, info, sprite, job.max_pixels, progress);
    }
    if let Some(frames) = &job.frames {
        return make_frames(engine, info, frames, job.max_pixels, progress);
    }
    let Some(thumbnail) = &job.thumbnail else {
        return Ok(Output {
            info,
            frame: None,
            sheet: None,
            frames: Vec::new(),
        });
    };
    let t = match thumbnail.at.seconds(info.duration) {
        Some(t) => t,
        None => {
            let pick = Sizing::still(Fitting::default(), (PICK_SIDE, PICK_SIDE), (info.width, info.height));
            best_time(info.duration, |t| next_picture(&mut engine, t, &pick))?
        }
    };
    if thumbnail.animated {
        return make_animation(engine, info, thumbnail, t, job.max_pixels, progress);
    }
    let sizing = Sizing::still(
        thumbnail.fitting,
        (thumbnail.max_width, thumbnail.max_height),
        (info.width, info.height),
    );
    let (width, height) = sizing.engine_box();
    let made = engine.frame(t, width, height, thumbnail.seek)?;
    drop(engine);
    let image = fitted(&sizing, made);
    let bytes = encode(&image, thumbnail.format, thumbnail.quality)?;
    Ok(Output {
        info,
        frame: Some(Frame {
            time: image.time,
            width: image.width,
            height: image.height,
            placeholder: Some(Placeholder::of(image.width, image.height, &image.rgba)),
            bytes,
        }),
        sheet: None,
        frames: Vec::new(),
    })
}

/// Counts the frames of a job of `total`, telling `progress`.
struct Counted<'a> {
    made: usize,
    total: usize,
    progress: Progress<'a>,
}

impl<'a> Counted<'a> {
    fn new(total: usize, progress: Progress<'a>) -> Self {
        Counted {
            made: 0,
            total: total.max(1),
            progress,
        }
    }

    fn one(&mut self) {
        self.made += 1;
        (self.progress)(self.made as f64 / self.total as f64);
    }

    /// `made` (a frame, or the engine's failure to make it), counted.
    fn after<T>(&mut self, made: T) -> T {
        self.one();
        made
    }
}

/// The engine's next frame (`te_decode_next`) as the frames crate takes it, fitted as `sizing` says.
fn next_picture(engine: &mut Engine, t: f64, sizing: &Sizing) -> Result<Picture, EngineError> {
    let (width, height) = sizing.engine_box();
    let image = engine.next_frame(t, width, height)?;
    Ok(sizing.apply(picture(image)))
}

/// The keyframe at or before `t` as `sizing` fits it.
fn keyframe_picture(engine: &mut Engine, t: f64, sizing: &Sizing) -> Result<Picture, EngineError> {
    let (width, height) = sizing.engine_box();
    let image = engine.frame(t, width, height, Seek::Keyframe)?;
    Ok(sizing.apply(picture(image)))
}

/// The time of the keyframe at or before `t`, from the container's packets (nothing decoded).
fn keyframe_before(engine: &mut Engine, t: f64) -> Option<f64> {
    engine.read_packets(t, Seek::Keyframe).ok()?.wanted_time()
}

fn picture(image: Image) -> Picture {
    Picture {
        width: image.width,
        height: image.height,
        time: image.time,
        rgba: image.rgba,
    }
}

/// The engine's `image` fitted as `sizing` says.
fn fitted(sizing: &Sizing, image: Image) -> Image {
    let fitted = sizing.apply(picture(image));
    Image {
        width: fitted.width,
        height: fitted.height,
        time: fitted.time,
        rgba: fitted.rgba,
    }
}

impl From<Failed<EngineError>> for Failure {
    fn from(failed: Failed<EngineError>) -> Failure {
        match failed {
            Failed::Engine(e) => e.into(),
            Failed::Refused(message) => EngineError::new(ErrorKind::InvalidArgument, message).into(),
            Failed::TooLarge(message) => EngineError::new(ErrorKind::TooLarge, message).into(),
        }
    }
}

/// An animation: the frames from `start` at the options' rate, as one GIF or animated WebP.
fn make_animation(
    mut engine: Engine,
    info: VideoInfo,
    options: &ThumbnailOptions,
    start: f64,
    max_pixels: u32,
    progress: Progress,
) -> Result<Output, Failure> {
    let times = animation_times(start, options.duration, options.fps, info.duration);
    let sizing = Sizing::series(
        options.fitting,
        (options.max_width, options.max_height),
        (info.width, info.height),
        |(w, h)| engine.output_size(w, h),
    )?;
    let size = sizing.size();
    let mut budget = PixelBudget::new(u64::from(max_pixels), BUDGET_NAME);
    let mut counted = Counted::new(times.len(), progress);
    let next = |t| counted.after(next_picture(&mut engine, t, &sizing));
    let made = match options.format {
        Format::Gif => animation::make_gif(&times, size, options.fps, options.looped, &mut budget, next)?,
        _ => animation::make_animation(&times, size, &mut budget, next, |frames| {
            encode_animated_webp(frames, options.fps, options.looped, options.quality)
        })?,
    };
    Ok(Output {
        info,
        frame: Some(Frame {
            time: made.time,
            width: made.width,
            height: made.height,
            placeholder: None,
            bytes: made.bytes,
        }),
        sheet: None,
        frames: Vec::new(),
    })
}

/// A contact sheet: the frames at the sheet's times, tiled, encoded.
fn make_sheet(
    mut engine: Engine,
    info: VideoInfo,
    options: &SpriteOptions,
    max_pixels: u32,
    progress: Progress,
) -> Result<Output, Failure> {
    let times = sprite_times(info.duration, options.frames);
    let sizing = Sizing::series(
        options.fitting,
        (options.tile_width, options.tile_height),
        (info.width, info.height),
        |(w, h)| engine.output_size(w, h),
    )?;
    let tile = sizing.size();
    let seek = sprite::sheet_seek(options.seek, &times, |t| keyframe_before(&mut engine, t));
    let mut budget = PixelBudget::new(u64::from(max_pixels), BUDGET_NAME);
    let mut counted = Counted::new(times.len(), progress);
    let (sheet, rgba) = sprite::make_sheet(&times, options.columns, tile, &mut budget, |t| {
        let picture = match seek {
            Seek::Keyframe => keyframe_picture(&mut engine, t, &sizing),
            Seek::Exact => next_picture(&mut engine, t, &sizing),
        };
        counted.after(picture)
    })?;
    drop(engine);
    let image = Image {
        width: sheet.width(),
        height: sheet.height(),
        time: times.first().copied().unwrap_or(0.0),
        rgba,
    };
    let bytes = encode(&image, options.format, options.quality)?;
    Ok(Output {
        info,
        frame: Some(Frame {
            time: image.time,
            width: image.width,
            height: image.height,
            placeholder: None,
            bytes,
        }),
        sheet: Some(SheetOut {
            columns: sheet.columns,
            rows: sheet.rows,
            tile_width: sheet.tile_width,
            tile_height: sheet.tile_height,
            times,
        }),
        frames: Vec::new(),
    })
}

/// A series of frames, each encoded (PNG unless the options say). The server answers them all at
/// once, so together they are held to the budget, as a contact sheet is: each frame is counted
/// before it is made (too large at the first past it), in the box of the video's frames.
fn make_frames(
    mut engine: Engine,
    info: VideoInfo,
    options: &FramesOptions,
    max_pixels: u32,
    progress: Progress,
) -> Result<Output, Failure> {
    let times = series_times(info.duration, &options.series);
    let format = options.format.unwrap_or(Format::Png);
    let sizing = Sizing::series(
        options.fitting,
        (options.max_width, options.max_height),
        (info.width, info.height),
        |(w, h)| engine.output_size(w, h),
    )?;
    let size = sizing.size();
    let (width, height) = sizing.engine_box();
    let mut budget = PixelBudget::new(u64::from(max_pixels), BUDGET_NAME);
    let mut frames = Vec::with_capacity(times.len());
    let mut counted = Counted::new(times.len(), progress);
    for &t in &times {
        budget
            .reserve_pictures::<EngineError>(1, size, || format!("{} frames of {}x{}", times.len(), size.0, size.1))?;
        let made = match options.seek {
            Seek::Exact => engine.next_frame(t, width, height)?,
            Seek::Keyframe => engine.frame(t, width, height, Seek::Keyframe)?,
        };
        let image = fitted(&sizing, made);
        frames.push(Frame {
            time: image.time,
            width: image.width,
            height: image.height,
            placeholder: None,
            bytes: encode(&image, format, options.quality)?,
        });
        counted.one();
    }
    Ok(Output {
        info,
        frame: None,
        sheet: None,
        frames,
    })
}
