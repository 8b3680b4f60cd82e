//! `thumbnail`: thumbnails, contact sheets, GIFs and descriptions of videos, one file or folders
//! of them, on the native engine in sandboxed processes (the server's, `thumbnail-sandbox`), as
//! many at once as there are cores. Options are the vocabulary's (the same names, values and
//! messages as the server's query and the JS API's), parsed by it.
//!
//!   thumbnail clip.mp4 -o clip.webp --at 10% --width 320
//!   thumbnail videos/ -o thumbs/ --format jpeg
//!   thumbnail sprite talk.mkv -o sheets/ --count 40
//!   thumbnail gif clip.mp4 --at 5 --duration 3
//!   thumbnail probe --json videos/

mod batch;
mod outputs;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, CommandFactory, Parser, Subcommand};
use thumbnail_sandbox::launcher::{main as engine_launcher, LAUNCHER_FLAG};
use thumbnail_sandbox::work::Work;
use thumbnail_vocabulary::{SpriteOptions, ThumbnailOptions, DEFAULT_MAX_PIXELS};

use batch::Batch;
use outputs::Kind;

#[derive(Parser)]
#[command(
    name = "thumbnail",
    version,
    about = "Thumbnails, contact sheets and GIFs of videos, on FFmpeg in sandboxed processes",
    long_about = "Makes a thumbnail of each video (a file, or every file of a folder), as many at \
                  once as there are cores, each in a sandboxed process of its own. Each failure is \
                  named with its file and its code (not_media, unsupported_codec, corrupt, ...); \
                  the exit status is 1 when any file failed, 2 when the command line is wrong.",
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    still: StillArgs,
}

#[derive(Subcommand)]
enum Command {
    /// A contact sheet of each video (its image and its WebVTT thumbnails track)
    Sprite(SpriteArgs),
    /// An animated GIF of each video
    Gif(GifArgs),
    /// Describe each video: duration, size, codec, rotation, frame rate
    Probe(ProbeArgs),
}

/// What every command reads, and how it runs.
#[derive(Args)]
struct Common {
    /// Videos, or folders whose files are videos
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<PathBuf>,
    /// Videos made at once (default: the number of cores)
    #[arg(short = 'j', long, value_name = "N")]
    jobs: Option<usize>,
    /// Seconds one video may take
    #[arg(long, value_name = "SECONDS", default_value_t = 120.0)]
    timeout: f64,
    /// Source frames above this many pixels are refused (decompression bombs)
    #[arg(long, value_name = "PIXELS", default_value_t = DEFAULT_MAX_PIXELS)]
    max_pixels: u32,
    /// No progress bar
    #[arg(short, long)]
    quiet: bool,
}

/// Where images go.
#[derive(Args)]
struct Output {
    /// The image's file (one input), or a folder for them (several, or a folder given; created
    /// if missing). Default: the current folder
    #[arg(short, long, value_name = "PATH")]
    output: Option<PathBuf>,
}

/// How a picture is made: how it fills its box (the vocabulary's fitting options) and what an
/// HDR video's colours become.
#[derive(Args)]
struct PictureArgs {
    /// contain (in the box, never enlarged), cover (the box exactly, the rest cropped), fill (the
    /// box exactly, stretched) or pad (the box exactly, on --background); all but contain need
    /// --width and --height [default: contain]
    #[arg(long)]
    fit: Option<String>,
    /// For --fit cover: the point kept in view, across and down from 0 to 1 (0.5,0.2) [default: 0.5,0.5]
    #[arg(long)]
    focus: Option<String>,
    /// For --fit pad: the colour around the picture, hex rrggbb[aa] or transparent [default: transparent]
    #[arg(long)]
    background: Option<String>,
    /// An HDR video's pictures: sdr (tone-mapped for an SDR display) or keep (the coded values,
    /// washed out on an SDR display) [default: sdr]
    #[arg(long)]
    hdr: Option<String>,
}

impl PictureArgs {
    fn pairs(&self) -> [(&'static str, &Option<String>); 4] {
        [
            ("fit", &self.fit),
            ("focus", &self.focus),
            ("background", &self.background),
            ("hdr", &self.hdr),
        ]
    }
}

#[derive(Args)]
struct StillArgs {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    output: Output,
    /// Seconds (1.5), a share of the duration (10%), a timestamp (00:01:02.5), or auto (the most
    /// representative frame) [default: 1]
    #[arg(long)]
    at: Option<String>,
    /// Fitted in this width (aspect kept, never enlarged)
    #[arg(long)]
    width: Option<String>,
    /// Fitted in this height
    #[arg(long)]
    height: Option<String>,
    #[command(flatten)]
    picture: PictureArgs,
    /// png, jpeg, webp, or thumbhash (no image: the placeholder as JSON, <name>.json) [default: the
    /// output file's extension, else png]
    #[arg(long)]
    format: Option<String>,
    /// 1-100, for jpeg and webp
    #[arg(long)]
    quality: Option<String>,
    /// exact (the frame at `at`) or keyframe (the keyframe before it, faster) [default: exact]
    #[arg(long)]
    seek: Option<String>,
}

#[derive(Args)]
struct SpriteArgs {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    output: Output,
    /// Tiles, spread over the video [default: 24]
    #[arg(long)]
    count: Option<String>,
    /// One tile every so many seconds, instead of --count
    #[arg(long)]
    every: Option<String>,
    /// Tiles a row [default: 6]
    #[arg(long)]
    columns: Option<String>,
    /// Each tile fitted in this width [default: 160]
    #[arg(long)]
    width: Option<String>,
    /// Each tile fitted in this height
    #[arg(long)]
    height: Option<String>,
    #[command(flatten)]
    picture: PictureArgs,
    /// png, jpeg or webp [default: jpeg]
    #[arg(long)]
    format: Option<String>,
    /// 1-100, for jpeg and webp
    #[arg(long)]
    quality: Option<String>,
    /// auto (the keyframes where the tiles are further apart than they are, else the exact
    /// frames), exact or keyframe [default: auto]
    #[arg(long)]
    seek: Option<String>,
}

#[derive(Args)]
struct GifArgs {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    output: Output,
    /// Where the animation starts (as for a thumbnail) [default: 1]
    #[arg(long)]
    at: Option<String>,
    /// Seconds of video [default: 3, at most 30]
    #[arg(long)]
    duration: Option<String>,
    /// Frames a second [default: 5, at most 30]
    #[arg(long)]
    fps: Option<String>,
    /// Fitted in this width [default: 720]
    #[arg(long)]
    width: Option<String>,
    /// Fitted in this height
    #[arg(long)]
    height: Option<String>,
    #[command(flatten)]
    picture: PictureArgs,
    /// Play once instead of looping
    #[arg(long)]
    once: bool,
}

#[derive(Args)]
struct ProbeArgs {
    #[command(flatten)]
    common: Common,
    /// One JSON object a line: {"file", "info"} or {"file", "error": {"code", "message"}}
    #[arg(long)]
    json: bool,
}

/// The named options that were given, as the vocabulary reads them (name, value).
fn pairs<'a>(options: &[(&'a str, &'a Option<String>)]) -> Vec<(&'a str, &'a str)> {
    options
        .iter()
        .filter_map(|(name, value)| value.as_deref().map(|v| (*name, v)))
        .collect()
}

/// A value the vocabulary refused: clap's usage error (exit status 2).
fn refuse(message: impl std::fmt::Display) -> ! {
    Cli::command()
        .error(clap::error::ErrorKind::ValueValidation, message)
        .exit()
}

fn main() -> ExitCode {
    // The same binary is the engine launcher (see thumbnail_sandbox::launcher).
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(LAUNCHER_FLAG) {
        engine_launcher(&args[1..]);
    }
    let cli = Cli::parse();
    let (common, kind, work, output) = match cli.command {
        None => {
            let s = cli.still;
            // The format from the output file's extension when none is given.
            let implied = outputs::format_of(s.output.output.as_deref(), &s.common.inputs);
            let format = s.format.clone().or(implied);
            let mut given = pairs(&[
                ("at", &s.at),
                ("width", &s.width),
                ("height", &s.height),
                ("format", &format),
                ("quality", &s.quality),
                ("seek", &s.seek),
            ]);
            given.extend(pairs(&s.picture.pairs()));
            let options = ThumbnailOptions::from_pairs(given).unwrap_or_else(|e| refuse(e.message));
            if options.animated {
                refuse("an animation is the gif command's: thumbnail gif …");
            }
            let work = Work {
                thumbnail: Some(options),
                ..Work::probe(s.common.max_pixels)
            };
            (s.common, Kind::Still(options), work, s.output.output)
        }
        Some(Command::Gif(g)) => {
            let once = g.once.then(|| "false".to_owned());
            let gif = Some("gif".to_owned());
            let mut given = pairs(&[
                ("at", &g.at),
                ("duration", &g.duration),
                ("fps", &g.fps),
                ("width", &g.width),
                ("height", &g.height),
                ("format", &gif),
                ("loop", &once),
            ]);
            given.extend(pairs(&g.picture.pairs()));
            let options = ThumbnailOptions::from_pairs(given).unwrap_or_else(|e| refuse(e.message));
            let work = Work {
                thumbnail: Some(options),
                ..Work::probe(g.common.max_pixels)
            };
            (g.common, Kind::Still(options), work, g.output.output)
        }
        Some(Command::Sprite(s)) => {
            let mut given = pairs(&[
                ("count", &s.count),
                ("every", &s.every),
                ("columns", &s.columns),
                ("width", &s.width),
                ("height", &s.height),
                ("format", &s.format),
                ("quality", &s.quality),
                ("seek", &s.seek),
            ]);
            given.extend(pairs(&s.picture.pairs()));
            let options = SpriteOptions::from_pairs(given).unwrap_or_else(|e| refuse(e.message));
            let work = Work {
                sprite: Some(options),
                ..Work::probe(s.common.max_pixels)
            };
            (s.common, Kind::Sprite(options), work, s.output.output)
        }
        Some(Command::Probe(p)) => {
            let work = Work::probe(p.common.max_pixels);
            (p.common, Kind::Probe { json: p.json }, work, None)
        }
    };
    if !(common.timeout > 0.0 && common.timeout.is_finite()) {
        refuse(format!(
            "--timeout must be a number of seconds above 0, not {}",
            common.timeout
        ));
    }
    if common.jobs == Some(0) {
        refuse("--jobs must be at least 1");
    }
    let videos = outputs::expand(&common.inputs);
    let plan = match outputs::Plan::new(&kind, &videos, &common.inputs, output.as_deref()) {
        Ok(plan) => plan,
        Err(message) => refuse(message),
    };
    let parallel = common
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let batch = Batch {
        kind,
        work,
        plan,
        parallel,
        timeout: Duration::from_secs_f64(common.timeout),
        progress: !common.quiet,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match runtime.block_on(batch.run(videos)) {
        Ok(summary) if summary.failed == 0 => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(message) => {
            eprintln!("thumbnail: {message}");
            ExitCode::from(3)
        }
    }
}
