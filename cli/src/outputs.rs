//! What is made of which files, and where it goes: the inputs (a folder stands for its files),
//! and where each video's image (and a sheet's WebVTT track) is written.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use thumbnail_frames::sprite::{tiles, vtt};
use thumbnail_sandbox::work::Output;
use thumbnail_vocabulary::{SpriteOptions, ThumbnailOptions};

/// What is made of each video.
pub enum Kind {
    /// A thumbnail, or (format gif) an animation.
    Still(ThumbnailOptions),
    Sprite(SpriteOptions),
    Probe {
        json: bool,
    },
}

/// The videos the inputs name: a file as it is (checked when it is read), a folder's files in
/// name order (not its subfolders' or hidden ones).
pub fn expand(inputs: &[PathBuf]) -> Vec<PathBuf> {
    let mut videos = Vec::new();
    for input in inputs {
        if !input.is_dir() {
            videos.push(input.clone());
            continue;
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(input)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.is_file() && !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        videos.extend(files);
    }
    videos
}

/// The format an output file's extension names, when there is one output file.
pub fn format_of(output: Option<&Path>, inputs: &[PathBuf]) -> Option<String> {
    let output = output?;
    if inputs.len() != 1 || inputs[0].is_dir() || output.is_dir() {
        return None;
    }
    let extension = output.extension()?.to_str()?.to_ascii_lowercase();
    ["png", "jpg", "jpeg", "webp"]
        .contains(&extension.as_str())
        .then_some(extension)
}

/// Where each video's files go.
pub enum Plan {
    /// Nothing is written (probe).
    Nothing,
    /// One video, one image at this path.
    File(PathBuf),
    /// In this folder, each named after its video.
    Folder {
        dir: PathBuf,
        names: HashMap<PathBuf, String>,
    },
}

impl Plan {
    /// An output path names the image of one video, unless it is (or ends like) a folder, or there
    /// are several videos (then it must be a folder). Names in a folder are the videos' stems, or
    /// their whole file names where two videos share a stem.
    pub fn new(kind: &Kind, videos: &[PathBuf], inputs: &[PathBuf], output: Option<&Path>) -> Result<Plan, String> {
        if matches!(kind, Kind::Probe { .. }) {
            return Ok(Plan::Nothing);
        }
        let one_file = inputs.len() == 1 && !inputs[0].is_dir();
        if let Some(output) = output {
            let folder_like = output.is_dir() || output.to_string_lossy().ends_with('/');
            if one_file && !folder_like {
                return Ok(Plan::File(output.to_owned()));
            }
            if output.exists() && !output.is_dir() {
                return Err(format!(
                    "--output {} is a file, but there are several videos: give a folder",
                    output.display()
                ));
            }
        }
        let dir = output.map_or_else(|| PathBuf::from("."), Path::to_owned);
        let stem = |v: &PathBuf| v.file_stem().unwrap_or_default().to_string_lossy().into_owned();
        let mut seen: HashMap<String, usize> = HashMap::new();
        for video in videos {
            *seen.entry(stem(video)).or_default() += 1;
        }
        let names = videos
            .iter()
            .map(|video| {
                let name = if seen[&stem(video)] > 1 {
                    video.file_name().unwrap_or_default().to_string_lossy().into_owned()
                } else {
                    stem(video)
                };
                (video.clone(), name)
            })
            .collect();
        Ok(Plan::Folder { dir, names })
    }

    /// Writes what the engine made of `video`; the paths written.
    pub fn write(&self, kind: &Kind, video: &Path, output: &Output) -> Result<Vec<PathBuf>, String> {
        let image = output.frame.as_ref().ok_or("the engine made no image")?;
        let extension = match kind {
            Kind::Still(options) => options.format.extension(),
            Kind::Sprite(options) => options.format.extension(),
            Kind::Probe { .. } => return Ok(Vec::new()),
        };
        let path = match self {
            Plan::Nothing => return Ok(Vec::new()),
            Plan::File(path) => path.clone(),
            Plan::Folder { dir, names } => {
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                let name = &names[video];
                match kind {
                    Kind::Sprite(_) => dir.join(format!("{name}.sprite.{extension}")),
                    _ => dir.join(format!("{name}.{extension}")),
                }
            }
        };
        let write =
            |path: &Path, bytes: &[u8]| std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()));
        write(&path, &image.bytes)?;
        let mut written = vec![path.clone()];
        if let (Kind::Sprite(_), Some(sheet)) = (kind, &output.sheet) {
            // The track beside the image, pointing at it by its name.
            let geometry = sheet.geometry();
            let image_name = path.file_name().unwrap_or_default().to_string_lossy();
            let track = path.with_extension("vtt");
            write(
                &track,
                vtt(&tiles(&geometry, &sheet.times, output.info.duration), &image_name).as_bytes(),
            )?;
            written.push(track);
        }
        Ok(written)
    }
}
