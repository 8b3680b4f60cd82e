//! What every test suite shares: the fixtures (made by tests/fixtures.sh with the ffmpeg CLI), what
//! each one is, the CLI's own frame as the reference, a PSNR to compare pictures, and the real
//! server started on a free port, and headless chromium.

pub mod browser;
pub mod large;
pub mod load;
pub mod server;

pub use browser::Browser;
pub use large::large_mp4;
pub use server::Server;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// A fixture the engine must decode, and what it must say about it.
pub struct Video {
    pub file: &'static str,
    pub codec: &'static str,
    pub display: (u32, u32),
    pub rotation: u32,
}

const fn video(file: &'static str, codec: &'static str, w: u32, h: u32, rotation: u32) -> Video {
    Video {
        file,
        codec,
        display: (w, h),
        rotation,
    }
}

/// Decoded by every build of the engine (native, wasm st, wasm mt).
pub const VIDEOS: &[Video] = &[
    video("h264.mp4", "h264", 320, 240, 0),
    video("h264-faststart.mp4", "h264", 320, 240, 0),
    video("hevc.mp4", "hevc", 320, 240, 0),
    video("vp8.webm", "vp8", 320, 240, 0),
    video("vp9.webm", "vp9", 320, 240, 0),
    video("mpeg4.avi", "mpeg4", 320, 240, 0),
    video("mpeg2.ts", "mpeg2video", 320, 240, 0),
    video("prores.mov", "prores", 320, 240, 0),
    video("wmv2.wmv", "wmv2", 320, 240, 0),
    video("flv1.flv", "flv1", 320, 240, 0),
    video("mjpeg.avi", "mjpeg", 320, 240, 0),
    video("theora.ogv", "theora", 320, 240, 0),
    video("long-gop.mp4", "h264", 320, 240, 0),
    // SAR 4:3: shown 4/3 wider, as the CLI's scale=iw*sar:ih makes it.
    video("anamorphic.mp4", "h264", 427, 240, 0),
    // A display matrix of 90 degrees: portrait.
    video("rotated.mp4", "h264", 240, 320, 90),
];

/// The rotation a fixture declares (0 for those not in VIDEOS).
pub fn rotation_of(file: &str) -> u32 {
    VIDEOS.iter().find(|v| v.file == file).map_or(0, |v| v.rotation)
}

/// Inputs every build must refuse, with the error kind's name.
pub const BAD_INPUTS: &[(&str, &str)] = &[
    ("audio-only.m4a", "no_video"),
    ("truncated.mp4", "corrupt"),
    ("empty.mp4", "not_media"),
    ("text.txt", "not_media"),
    ("text-named.mp4", "not_media"),
    ("image.png", "not_media"),
];

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The ffmpeg-wasm crate's folder (the engine and its dist/).
pub fn engine_dir() -> PathBuf {
    root().join("ffmpeg-wasm")
}

/// The fixtures folder, generated on first use (the script is idempotent and quick).
pub fn fixtures() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = root().join("target/fixtures");
        let status = Command::new(root().join("tests/fixtures.sh"))
            .arg(&dir)
            .status()
            .expect("run tests/fixtures.sh (needs the ffmpeg CLI)");
        assert!(status.success(), "tests/fixtures.sh failed");
        dir
    })
}

pub fn fixture(name: &str) -> PathBuf {
    fixtures().join(name)
}

/// The ffmpeg CLI's frame for `-ss t -i file -frames:v 1`, scaled to width x height, as RGBA.
///
/// For a rotated video the CLI is told to do what the engine does: scale in the coded orientation,
/// then turn. (Its autorotate turns first, which moves the chroma samples of a scaled 4:2:0
/// picture by half a pixel: visible on sharp coloured edges, 23 dB on testsrc2's clock.)
pub fn cli_frame(file: &Path, t: f64, width: u32, height: u32, rotation: u32) -> Vec<u8> {
    let filter = match rotation {
        90 => format!("scale={height}:{width},transpose=clock"),
        180 => format!("scale={width}:{height},hflip,vflip"),
        270 => format!("scale={height}:{width},transpose=cclock"),
        _ => format!("scale={width}:{height}"),
    };
    let output = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-nostdin",
            "-noautorotate",
            "-ss",
            &t.to_string(),
            "-i",
        ])
        .arg(file)
        .args([
            "-frames:v",
            "1",
            "-vf",
            &filter,
            "-pix_fmt",
            "rgba",
            "-f",
            "rawvideo",
            "-",
        ])
        .output()
        .expect("run the ffmpeg CLI");
    assert!(
        output.status.success(),
        "ffmpeg CLI failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        output.stdout.len(),
        (width * height * 4) as usize,
        "CLI frame size for {}",
        file.display()
    );
    output.stdout
}

/// Peak signal-to-noise ratio over the RGB channels of two RGBA pictures of the same size (dB;
/// infinite when identical). Around 20 dB separates neighbouring frames of testsrc2.
pub fn psnr(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len(), "pictures of different sizes");
    let (mut sum, mut n) = (0f64, 0u64);
    for (pa, pb) in a.chunks_exact(4).zip(b.chunks_exact(4)) {
        for c in 0..3 {
            let d = pa[c] as f64 - pb[c] as f64;
            sum += d * d;
            n += 1;
        }
    }
    if sum == 0.0 {
        return f64::INFINITY;
    }
    10.0 * (255.0f64 * 255.0 / (sum / n as f64)).log10()
}

/// A number no other call in this process got (for log and file names).
pub(crate) fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Runs `jobs` (the format is in ffmpeg-wasm/tests/wasm-runner.cjs) through the committed
/// dist/thumbnail-engine-<variant>.js in one Node process, in `out` (emptied first), and returns
/// its results.json.
pub fn run_wasm_engine(variant: &str, jobs: &serde_json::Value, out: &Path) -> serde_json::Value {
    let _ = std::fs::remove_dir_all(out);
    std::fs::create_dir_all(out).unwrap();
    let jobs_file = out.join("jobs.json");
    std::fs::write(&jobs_file, serde_json::to_vec(jobs).unwrap()).unwrap();
    let output = Command::new("node")
        .arg("--no-experimental-fetch") // emscripten 3.1.6's glue loads the wasm with fs in Node
        .arg(engine_dir().join("tests/wasm-runner.cjs"))
        .args([variant.as_ref(), jobs_file.as_os_str(), out.as_os_str()])
        .output()
        .expect("run node (apt-get install nodejs)");
    assert!(
        output.status.success(),
        "wasm runner ({variant}) failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&std::fs::read(out.join("results.json")).unwrap()).unwrap()
}
