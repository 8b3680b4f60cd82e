//! The `thumbnail` command as a person at a shell runs it: on a folder of 100 videos (the
//! fixtures, bad ones among them), on one file, as a sheet, a GIF and a probe, and with wrong
//! arguments; images compared with the `ffmpeg` CLI's frames.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use test_support::{cli_frame, fixture, folder_of_videos, psnr};

fn thumbnail(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_thumbnail"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the thumbnail command")
}

fn said(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// One image per readable file, each named after its video and fitted in the width asked; each
/// failure on a line of its own with its file and its code; a summary; exit status 1.
#[test]
fn a_folder_of_100_videos_gives_an_image_each_and_names_the_failures() {
    let dir = tempfile::tempdir().unwrap();
    let expected = folder_of_videos(&dir.path().join("videos"), 100);
    assert_eq!(expected.len(), 100);
    let out = thumbnail(&["videos", "-o", "thumbs", "--width", "160", "--quiet"], dir.path());
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let made = expected.iter().filter(|(_, o)| o.is_ok()).count();
    // Named after the video's stem, or its whole name where two share a stem (ps.mpg, ps.vob).
    let stem = |v: &PathBuf| v.file_stem().unwrap().to_string_lossy().into_owned();
    for (video, outcome) in &expected {
        let shared = expected.iter().filter(|(other, _)| stem(other) == stem(video)).count() > 1;
        let name = if shared {
            video.file_name().unwrap().to_string_lossy().into_owned()
        } else {
            stem(video)
        };
        let image = dir.path().join("thumbs").join(format!("{name}.png"));
        match outcome {
            Ok(()) => {
                let picture = image::open(&image)
                    .unwrap_or_else(|e| panic!("{}: {e}\n{}", image.display(), said(&out)))
                    .to_rgba8();
                assert!(picture.width() <= 160 && picture.width() >= 1, "{}", image.display());
            }
            Err(code) => {
                assert!(!image.exists(), "{} was made", image.display());
                let line = format!("videos/{}: {code}: ", video.file_name().unwrap().to_string_lossy());
                assert!(
                    stderr.lines().any(|l| l.starts_with(&line)),
                    "no `{line}` in:\n{stderr}"
                );
            }
        }
    }
    let summary = format!("{made} of 100 made, {} failed", 100 - made);
    assert!(stderr.contains(&summary), "no `{summary}` in:\n{stderr}");
    // and nothing else was written
    assert_eq!(std::fs::read_dir(dir.path().join("thumbs")).unwrap().count(), made);
}

/// One file, its image named by `-o`: the format from its extension, the frame the `ffmpeg`
/// CLI gives at that time (a neighbouring frame is about 20 dB away).
#[test]
fn one_file_to_the_named_image_is_the_cli_s_frame() {
    let dir = tempfile::tempdir().unwrap();
    let video = fixture("h264.mp4");
    let out = thumbnail(
        &[
            video.to_str().unwrap(),
            "-o",
            "still.webp",
            "--at",
            "50%",
            "--width",
            "160",
            "--quality",
            "100",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", said(&out));
    let bytes = std::fs::read(dir.path().join("still.webp")).unwrap();
    assert_eq!(image::guess_format(&bytes).unwrap(), image::ImageFormat::WebP);
    let picture = image::load_from_memory(&bytes).unwrap().to_rgba8();
    assert_eq!(picture.dimensions(), (160, 120));
    // PNG by default, in the current folder: the pixels of the CLI's frame at 50% of 3 s
    // (lossy WebP of testsrc's sharp colour edges is 27.9 dB from it, the PNG 46.8)
    let out = thumbnail(&[video.to_str().unwrap(), "--at", "50%", "--width", "160"], dir.path());
    assert!(out.status.success(), "{}", said(&out));
    let picture = image::open(dir.path().join("h264.png")).unwrap().to_rgba8();
    let db = psnr(picture.as_raw(), &cli_frame(&video, 1.5, 160, 120, 0));
    assert!(db >= 35.0, "{db:.1} dB from the CLI's frame");
    // --fit: the box exactly, padded with the colour asked.
    let out = thumbnail(
        &[
            video.to_str().unwrap(),
            "-o",
            "square.png",
            "--width",
            "100",
            "--height",
            "100",
            "--fit",
            "pad",
            "--background",
            "ff0000",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", said(&out));
    let square = image::open(dir.path().join("square.png")).unwrap().to_rgba8();
    assert_eq!(square.dimensions(), (100, 100));
    assert_eq!(square.get_pixel(50, 0).0, [255, 0, 0, 255]);
}

/// A sheet and its WebVTT track beside it, the track naming the image; a GIF of the frames asked.
#[test]
fn sprite_writes_the_sheet_and_its_track_and_gif_an_animation() {
    let dir = tempfile::tempdir().unwrap();
    let video = fixture("h264.mp4");
    let out = thumbnail(
        &[
            "sprite",
            video.to_str().unwrap(),
            "-o",
            "sheets/",
            "--count",
            "6",
            "--columns",
            "3",
            "--width",
            "80",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", said(&out));
    let sheet = image::open(dir.path().join("sheets/h264.sprite.jpg")).unwrap();
    assert_eq!((sheet.width(), sheet.height()), (240, 120));
    let track = std::fs::read_to_string(dir.path().join("sheets/h264.sprite.vtt")).unwrap();
    assert!(track.starts_with("WEBVTT"), "{track}");
    assert_eq!(track.matches("h264.sprite.jpg#xywh=").count(), 6, "{track}");

    let out = thumbnail(
        &[
            "gif",
            video.to_str().unwrap(),
            "-o",
            "clip.gif",
            "--at",
            "0",
            "--duration",
            "1",
            "--fps",
            "4",
            "--width",
            "120",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", said(&out));
    let file = std::fs::File::open(dir.path().join("clip.gif")).unwrap();
    let decoder = image::codecs::gif::GifDecoder::new(std::io::BufReader::new(file)).unwrap();
    let frames = image::AnimationDecoder::into_frames(decoder).collect_frames().unwrap();
    assert_eq!(frames.len(), 4);
    assert_eq!(frames[0].buffer().dimensions(), (120, 90));
}

/// `probe --json`: a JSON object a line, the video's description or its error.
#[test]
fn probe_json_describes_each_video_or_says_its_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = thumbnail(
        &[
            "probe",
            "--json",
            "-q",
            fixture("rotated.mp4").to_str().unwrap(),
            fixture("text.txt").to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{}", said(&out));
    let info = lines.iter().find(|l| l["info"].is_object()).unwrap();
    assert_eq!(
        (
            &info["info"]["width"],
            &info["info"]["height"],
            &info["info"]["rotation"],
            &info["info"]["codec"]
        ),
        (
            &Value::from(240),
            &Value::from(320),
            &Value::from(90),
            &Value::from("h264")
        )
    );
    let error = lines.iter().find(|l| l["error"].is_object()).unwrap();
    assert_eq!(error["error"]["code"], "not_media");
    assert!(error["file"].as_str().unwrap().ends_with("text.txt"));
}

/// Wrong arguments are clap's usage errors (status 2), worded by the vocabulary where it judges
/// the value; nothing is run.
/// An HDR video's thumbnail comes tone-mapped (`--hdr sdr`, the default): more colourful than its
/// coded values (`--hdr keep`), near the SDR picture it was made from; an SDR video's is the same
/// either way.
#[test]
fn hdr_videos_come_tone_mapped() {
    let dir = tempfile::tempdir().unwrap();
    let image = |file: &str, hdr: &str| {
        let name = format!("{hdr}.png");
        let out = thumbnail(
            &[
                fixture(file).to_str().unwrap(),
                "--width",
                "320",
                "--hdr",
                hdr,
                "-o",
                &name,
            ],
            dir.path(),
        );
        assert!(out.status.success(), "{}", said(&out));
        image::open(dir.path().join(&name)).unwrap().to_rgba8()
    };
    let (sdr, keep) = (image("hdr-pq.mp4", "sdr"), image("hdr-pq.mp4", "keep"));
    let video = test_support::HDR_VIDEOS
        .iter()
        .find(|v| v.file == "hdr-pq.mp4")
        .unwrap();
    let original = video.original(1.0, sdr.width(), sdr.height());
    let (mapped, kept, theirs) = (
        test_support::colourfulness(sdr.as_raw()),
        test_support::colourfulness(keep.as_raw()),
        test_support::colourfulness(&original),
    );
    assert!(
        mapped >= 0.7 * theirs && kept < 0.5 * theirs,
        "{mapped:.1} {kept:.1} of {theirs:.1}"
    );
    assert_eq!(image("h264.mp4", "sdr").as_raw(), image("h264.mp4", "keep").as_raw());
}

#[test]
fn wrong_arguments_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let video = fixture("h264.mp4");
    let video = video.to_str().unwrap();
    for (args, words) in [
        (vec![video, "--width", "wide"], "width"),
        (
            vec![video, "--format", "bmp"],
            "`format` must be png, jpeg, webp, gif or thumbhash",
        ),
        (vec![video, "--format", "gif"], "gif command"),
        (vec!["sprite", video, "--columns", "0"], "columns"),
        (
            vec!["sprite", video, "--seek", "fast"],
            "must be auto, exact or keyframe",
        ),
        (vec![video, "--hdr", "pq"], "`hdr` must be sdr or keep"),
        (
            vec![video, "--fit", "cover", "--width", "10"],
            "give both `width` and `height`",
        ),
        (vec![video, "--timeout", "0"], "--timeout"),
        (
            vec![video, fixture("vp8.webm").to_str().unwrap(), "-o", video],
            "is a file",
        ),
        (vec![], "<INPUT>"),
    ] {
        let out = thumbnail(&args, dir.path());
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", said(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(words), "{args:?}: no `{words}` in {stderr}");
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "something was written"
    );
    let help = thumbnail(&["--help"], dir.path());
    assert!(help.status.success());
    let help = String::from_utf8_lossy(&help.stdout);
    for command in [
        "sprite", "gif", "probe", "--at", "--width", "--format", "--output", "--jobs",
    ] {
        assert!(help.contains(command), "--help does not name {command}");
    }
}
