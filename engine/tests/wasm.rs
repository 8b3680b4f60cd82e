//! The committed wasm engine (dist/, st and mt) under Node, against the native engine: the same
//! answers and, within a small tolerance, the same pixels, for every fixture.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use test_support::{fixture, psnr, root, Expect, BAD_INPUTS, REAL_WORLD, SAME_PIXELS_DB, VIDEOS};
use thumbnail_engine::{Engine, OpenOptions};
use thumbnail_vocabulary::Seek;

// wasm and native run the same C code over the same FFmpeg; only swscale's SIMD paths (native)
// differ from its C paths (wasm) in rounding: SAME_PIXELS_DB (measured >= 45 dB on the common
// fixtures; a wrong frame is ~20 dB), or a real-world case's own `wasm_db`.

#[derive(Serialize)]
struct Job {
    file: PathBuf,
    threads: u32,
    frames: Vec<FrameJob>,
}

#[derive(Serialize, Clone, Copy)]
struct FrameJob {
    t: f64,
    width: u32,
    height: u32,
    mode: i32,
    /// `te_decode_next` rather than `te_decode`.
    next: bool,
}

#[derive(Deserialize, Debug)]
struct JobResult {
    status: String,
    message: Option<String>,
    info: Option<WasmInfo>,
    frames: Vec<FrameResult>,
    /// Packets given to the decoder, and of them given again.
    packets: Option<(u64, u64)>,
}

/// `te_info` as the runner reads it (the C struct's names: width is coded, display_width as shown).
#[derive(Deserialize, Debug)]
struct WasmInfo {
    duration: f64,
    width: u32,
    height: u32,
    display_width: u32,
    display_height: u32,
    rotation: u32,
    codec: String,
}

#[derive(Deserialize, Debug)]
struct FrameResult {
    status: String,
    message: Option<String>,
    time: Option<f64>,
    width: Option<u32>,
    height: Option<u32>,
    rgba: Option<PathBuf>,
}

/// Runs the jobs through dist/thumbnail-engine-<variant>.js in one Node process.
fn run_wasm(variant: &str, threads: u32, jobs: &[Job]) -> Vec<JobResult> {
    run_wasm_in(&format!("{variant}-{threads}"), variant, jobs)
}

/// The same, writing into target/wasm-tests/<folder>: one folder per test, as the tests run at
/// the same time.
fn run_wasm_in(folder: &str, variant: &str, jobs: &[Job]) -> Vec<JobResult> {
    let out = root().join("target/wasm-tests").join(folder);
    let results = test_support::run_wasm_engine(variant, &serde_json::to_value(jobs).unwrap(), &out);
    serde_json::from_value(results).unwrap()
}

fn frame_job(t: f64, width: u32, height: u32, mode: Seek) -> FrameJob {
    FrameJob {
        t,
        width,
        height,
        mode: mode.code(),
        next: false,
    }
}

/// Every fixture, a few frames each, through one wasm variant, compared with the native engine.
fn matches_native(variant: &str, threads: u32) {
    let frames_for = |name: &str| -> Vec<FrameJob> {
        if let Some(case) = REAL_WORLD.iter().find(|c| c.file == name) {
            return vec![
                frame_job(case.at, 0, 0, Seek::Exact),
                frame_job(case.at, 100, 100, Seek::Exact),
            ];
        }
        match name {
            "long-gop.mp4" => vec![frame_job(7.0, 0, 0, Seek::Exact), frame_job(7.0, 0, 0, Seek::Keyframe)],
            _ => vec![
                frame_job(1.0, 0, 0, Seek::Exact),
                frame_job(1.0, 160, 160, Seek::Exact),
                frame_job(99.0, 0, 0, Seek::Exact),
            ],
        }
    };
    let mut names: Vec<&str> = VIDEOS.iter().map(|v| v.file).collect();
    names.push("short.mp4");
    names.extend(
        REAL_WORLD
            .iter()
            .filter(|c| matches!(c.expect, Expect::Frame { .. }))
            .map(|c| c.file),
    );
    let refused: Vec<(&str, &str)> = BAD_INPUTS
        .iter()
        .copied()
        .chain([
            ("av1.mp4", "unsupported_codec"),
            ("av1.ivf", "unsupported_codec"),
            ("av1.obu", "unsupported_codec"),
            ("alpha-sequence.avif", "unsupported_codec"),
            ("png.mov", "unsupported_codec"),
            ("unlisted-codec.mov", "unsupported_codec"),
            ("many-streams.mkv", "too_large"),
        ])
        .chain(REAL_WORLD.iter().filter_map(|c| match c.expect {
            Expect::Error(kind) => Some((c.file, kind)),
            Expect::Frame { .. } => None,
        }))
        .collect();
    let jobs: Vec<Job> = names
        .iter()
        .map(|name| Job {
            file: fixture(name),
            threads,
            frames: frames_for(name),
        })
        // A file the engine opens may still be refused at its first frame (a codec without decoder).
        .chain(refused.iter().map(|(name, _)| Job {
            file: fixture(name),
            threads,
            frames: vec![frame_job(1.0, 0, 0, Seek::Exact)],
        }))
        .collect();
    let results = run_wasm(variant, threads, &jobs);
    assert_eq!(results.len(), jobs.len());

    let mut worst = f64::INFINITY;
    let mut failures = Vec::new();
    for (job, result) in jobs.iter().zip(&results).take(names.len()) {
        let name = job.file.file_name().unwrap().to_string_lossy();
        assert_eq!(result.status, "ok", "{variant} {name}: {:?}", result.message);
        let mut native = Engine::open(&job.file, &OpenOptions::default()).unwrap();
        let (n, w) = (native.info().clone(), result.info.as_ref().unwrap());
        assert_eq!(
            (
                w.width,
                w.height,
                w.display_width,
                w.display_height,
                w.rotation,
                w.codec.as_str()
            ),
            (
                n.coded_width,
                n.coded_height,
                n.width,
                n.height,
                n.rotation,
                n.codec.as_str()
            ),
            "{variant} {name}: info"
        );
        assert_eq!(
            (w.duration >= 0.0).then_some(w.duration),
            n.duration,
            "{variant} {name}: duration"
        );

        for (f, got) in job.frames.iter().zip(&result.frames) {
            assert_eq!(got.status, "ok", "{variant} {name} at {}: {:?}", f.t, got.message);
            let mode = if f.mode == 0 { Seek::Exact } else { Seek::Keyframe };
            let want = native.frame(f.t, f.width, f.height, mode).unwrap();
            assert_eq!(
                (got.width, got.height),
                (Some(want.width), Some(want.height)),
                "{variant} {name} at {}",
                f.t
            );
            let time = got.time.unwrap();
            assert!(
                (time - want.time).abs() < 1e-9,
                "{variant} {name} at {}: {time} vs {}",
                f.t,
                want.time
            );
            let pixels = std::fs::read(got.rgba.as_ref().unwrap()).unwrap();
            let db = psnr(&pixels, &want.rgba);
            let floor = REAL_WORLD
                .iter()
                .find(|c| c.file == name)
                .map_or(SAME_PIXELS_DB, |c| c.wasm_db);
            worst = worst.min(db);
            if db < floor {
                failures.push(format!(
                    "{variant} {name} at {} ({}x{}): {db:.1} dB from the native frame",
                    f.t, want.width, want.height
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    eprintln!("{variant} (threads {threads}): worst PSNR against native {worst:.1} dB");

    for (job, result) in jobs.iter().zip(&results).skip(names.len()) {
        let name = job.file.file_name().unwrap().to_string_lossy().into_owned();
        let mut want = refused.iter().find(|(n, _)| *n == name).unwrap().1;
        let (status, message) = match result.frames.first() {
            Some(frame) if result.status == "ok" => (&frame.status, &frame.message),
            _ => (&result.status, &result.message),
        };
        // The wasm build has only the demuxers it reads, so it cannot name a container it lacks.
        if want == "unsupported_container" && status == "not_media" {
            want = "not_media";
        }
        assert_eq!(status, want, "{variant} {name}: {message:?}");
        assert!(
            message.as_deref().is_some_and(|m| !m.is_empty()),
            "{variant} {name}: no message"
        );
    }
}

#[test]
fn st_matches_native() {
    matches_native("st", 1);
}

#[test]
fn mt_matches_native_with_two_threads() {
    matches_native("mt", 2);
}

#[test]
fn mt_matches_native_with_four_threads() {
    matches_native("mt", 4);
}

/// `te_decode_next` in wasm: the frames of an animation (5 per second for 3 s) are the native
/// engine's, and the wasm engine decodes exactly the packets the native one does.
#[test]
fn next_frames_in_wasm_are_the_native_ones() {
    let times: Vec<f64> = (0..15).map(|i| 0.5 + f64::from(i) * 0.2).collect();
    let names = ["long-gop.mp4", "h264.mp4", "vp9.webm"];
    let jobs: Vec<Job> = names
        .iter()
        .map(|name| Job {
            file: fixture(name),
            threads: 1,
            frames: times
                .iter()
                .filter(|t| **t < 3.0)
                .map(|&t| FrameJob {
                    next: true,
                    ..frame_job(t, 160, 160, Seek::Exact)
                })
                .collect(),
        })
        .collect();
    let results = run_wasm_in("st-next", "st", &jobs);
    for (job, result) in jobs.iter().zip(&results) {
        let name = job.file.file_name().unwrap().to_string_lossy();
        assert_eq!(result.status, "ok", "{name}: {:?}", result.message);
        let mut native = Engine::open(&job.file, &OpenOptions::default()).unwrap();
        for (f, got) in job.frames.iter().zip(&result.frames) {
            let want = native.next_frame(f.t, f.width, f.height).unwrap();
            assert_eq!(got.time, Some(want.time), "{name} at {}", f.t);
            let pixels = std::fs::read(got.rgba.as_ref().unwrap()).unwrap();
            let db = psnr(&pixels, &want.rgba);
            assert!(db >= SAME_PIXELS_DB, "{name} at {}: {db:.1} dB", f.t);
        }
        assert_eq!(
            result.packets,
            Some(native.packets_decoded()),
            "{name}: packets decoded in wasm vs natively"
        );
    }
}
