//! What every test suite shares: the fixtures (made by tests/fixtures.sh with the ffmpeg CLI), what
//! each one is, the CLI's own frame as the reference, a PSNR to compare pictures, and the real
//! server started on a free port, and headless chromium.

pub mod browser;
pub mod large;
pub mod load;
pub mod postgres;
pub mod ranges;
pub mod s3;
pub mod server;

pub use browser::Browser;
pub use large::large_mp4;
pub use postgres::Postgres;
pub use ranges::{ChangingRangeServer, RangeServer};
pub use s3::S3Server;
pub use server::{eventually, zeros, Server};

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

/// The rotation a fixture declares (0 for those not rotated).
pub fn rotation_of(file: &str) -> u32 {
    match file {
        "rotated-180.mp4" => 180,
        "rotated-270.mp4" => 270,
        _ => VIDEOS.iter().find(|v| v.file == file).map_or(0, |v| v.rotation),
    }
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

/// How the ffmpeg CLI is asked for the reference frame at t.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reference {
    /// `-ss t -i file`: the CLI seeks (most files).
    Seek,
    /// `-i file -vf select=gte(t,T)`: the CLI decodes from the start (raw streams, where its
    /// seek finds no timestamps and gives nothing).
    Decode,
}

/// What every host must make of a real-world fixture.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Expect {
    /// A frame of this display size whose time is this (seconds).
    Frame { time: f64, size: (u32, u32) },
    /// This error kind.
    Error(&'static str),
}

/// A fixture with a trait of the files users have (see tests/fixtures.sh), asked for at `at` s.
pub struct RealWorld {
    pub file: &'static str,
    pub at: f64,
    pub expect: Expect,
    pub reference: Reference,
    /// The wasm engine's frame is the native one's to at least this PSNR (dB): 40, but where
    /// swscale's C paths (wasm) and x86 SIMD paths (native) part more: a picture stretched 10x by
    /// its sample aspect ratio, and 4:2:2 pictures converted at full size (measured, below).
    pub wasm_db: f64,
}

/// Wasm and native pictures of the same frame, where nothing magnifies swscale's paths' rounding.
pub const SAME_PIXELS_DB: f64 = 40.0;

const fn frame(file: &'static str, at: f64, time: f64, w: u32, h: u32) -> RealWorld {
    RealWorld {
        file,
        at,
        expect: Expect::Frame { time, size: (w, h) },
        reference: Reference::Seek,
        wasm_db: SAME_PIXELS_DB,
    }
}

/// `case`, whose wasm picture is only `db` close to the native one (see [`RealWorld::wasm_db`]).
const fn apart(case: RealWorld, db: f64) -> RealWorld {
    RealWorld { wasm_db: db, ..case }
}

const fn decoded(file: &'static str, at: f64, time: f64, w: u32, h: u32) -> RealWorld {
    RealWorld {
        reference: Reference::Decode,
        ..frame(file, at, time, w, h)
    }
}

const fn refused(file: &'static str, kind: &'static str) -> RealWorld {
    RealWorld {
        file,
        at: 1.0,
        expect: Expect::Error(kind),
        reference: Reference::Seek,
        wasm_db: SAME_PIXELS_DB,
    }
}

/// Every host (native, wasm st and mt, the server) gives these outcomes; frames match the CLI's.
pub const REAL_WORLD: &[RealWorld] = &[
    frame("size-176x144.mp4", 1.0, 1.0, 176, 144),
    frame("size-200x150.mp4", 1.0, 1.0, 200, 150),
    frame("size-360x240.mp4", 1.0, 1.0, 360, 240),
    frame("size-499x479-444.mp4", 1.0, 1.0, 499, 479),
    frame("size-2x2.mp4", 0.5, 0.52, 2, 2),
    frame("wide-40to1.mp4", 1.0, 1.0, 640, 16),
    frame("tall-1to40.mp4", 1.0, 1.0, 16, 640),
    apart(frame("sar-10to1.mp4", 1.0, 1.0, 3200, 240), 30.0), // measured 32.0 dB
    frame("sar-1to8.mp4", 1.0, 1.0, 40, 240),
    frame("ps.mpg", 1.0, 1.011, 320, 240),
    frame("ps.vob", 1.0, 1.006, 320, 240),
    decoded("raw.h264", 1.0, 1.0, 320, 240),
    decoded("raw.hevc", 1.0, 1.0, 320, 240),
    decoded("raw.m2v", 1.0, 1.0, 320, 240),
    decoded("raw.m4v", 1.0, 1.0, 320, 240),
    frame("two-programs.ts", 1.0, 1.0, 320, 240),
    frame("interlaced.ts", 1.0, 1.0, 320, 240),
    frame("interlaced-h264.mkv", 1.0, 1.0, 320, 240),
    // The CLI lands on the keyframe after t here (a seek in a TS without index); decoding is exact.
    decoded("cut-mid-stream.ts", 1.0, 1.0, 320, 240),
    frame("two-frames.ts", 1.0, 0.04, 320, 240),
    frame("two-frames-h264.ts", 1.0, 0.04, 320, 240),
    frame("fragmented.mp4", 1.0, 1.0, 320, 240),
    frame("phone.3gp", 1.0, 1.0, 176, 144),
    frame("captions.mp4", 1.0, 1.0, 320, 240),
    frame("hevc-10bit.mkv", 1.0, 1.0, 320, 240),
    frame("h264-10bit.mp4", 1.0, 1.0, 320, 240),
    frame("palette.avi", 1.0, 1.0, 320, 240),
    frame("cinepak.avi", 1.0, 1.0, 320, 240),
    frame("msvideo1.avi", 1.0, 1.0, 320, 240),
    frame("alpha-qtrle.mov", 1.0, 1.0, 320, 240),
    frame("realvideo.rm", 1.0, 1.0, 320, 240),
    frame("camcorder.dv", 1.0, 1.001, 640, 480),
    frame("broadcast.mxf", 1.0, 1.0, 320, 240),
    apart(frame("dnxhr.mov", 1.0, 1.0, 320, 240), 30.0), // 4:2:2, measured 33.0 dB
    frame("sorenson.mov", 1.0, 1.0, 320, 240),
    frame("h261.avi", 1.0, 1.0, 352, 288),
    apart(frame("lossless-huffyuv.avi", 1.0, 1.0, 176, 144), 28.0), // 4:2:2, measured 30.4 dB
    frame("lossless-ffvhuff.avi", 1.0, 1.0, 176, 144),
    frame("lossless-utvideo.avi", 1.0, 1.0, 176, 144),
    frame("lossless-magicyuv.avi", 1.0, 1.0, 176, 144),
    frame("lossless-ffv1.mkv", 1.0, 1.0, 176, 144),
    frame("three-streams.wmv", 1.0, 1.0, 320, 240),
    frame("three-streams-truncated.wmv", 2.5, 1.88, 320, 240),
    frame("no-cues.mkv", 2.5, 2.52, 320, 240),
    // The CLI gives nothing when it seeks in a file whose only picture is the cover.
    decoded("cover-art.mp3", 1.0, 0.0, 200, 200),
    frame("resolution-change.ts", 3.0, 3.0, 176, 144),
    frame("rotated-180.mp4", 1.0, 1.0, 320, 240),
    frame("rotated-270.mp4", 1.0, 1.0, 240, 320),
    frame("half.avi", 2.5, 1.52, 320, 240),
    // Colour tagged in the stream: BT.601, BT.709, full-range BT.601.
    frame("colour-bt601.mp4", 1.0, 1.0, 320, 240),
    frame("colour-bt709.mp4", 1.0, 1.0, 320, 240),
    frame("colour-full-range.mp4", 1.0, 1.0, 320, 240),
    // A reference frame that does not decode, before the one asked for: decoders go on past it.
    frame("damaged-frame.mp4", 1.9, 1.92, 320, 240),
    // Formats real uploads held that nothing read before (FLIC, CD+G: tests/legacy_formats.py).
    // FLIC, CD+G and GIF have no keyframes a seek can use: the CLI's reference decodes from the start.
    frame("raw.y4m", 1.0, 1.0, 176, 144),
    frame("raw-10bit.y4m", 1.0, 1.0, 176, 144),
    decoded("animated.gif", 1.0, 1.0, 320, 240),
    decoded("animation.flc", 1.0, 1.0, 320, 200),
    decoded("karaoke.cdg", 1.0, 1.0, 300, 216),
    refused("not-a-video.au", "unsupported_container"),
];

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The engine crate's folder (the C engine, its wasm recipe and dist/).
pub fn engine_dir() -> PathBuf {
    root().join("engine")
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

/// Packets of the first video stream of `file`, as ffprobe counts them.
pub fn video_packets(file: &Path) -> u64 {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-count_packets"])
        .args(["-show_entries", "stream=nb_read_packets", "-of", "csv=p=0"])
        .arg(file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.trim().trim_end_matches(',').parse().ok())
        .unwrap_or_else(|| panic!("ffprobe on {}: {text}", file.display()))
}

/// The ffmpeg CLI's frame for `-ss t -i file -frames:v 1`, scaled to width x height, as RGBA.
///
/// For a rotated video the CLI is told to do what the engine does: scale in the coded orientation,
/// then turn. (Its autorotate turns first, which moves the chroma samples of a scaled 4:2:0
/// picture by half a pixel: visible on sharp coloured edges, 23 dB on testsrc2's clock.)
pub fn cli_frame(file: &Path, t: f64, width: u32, height: u32, rotation: u32) -> Vec<u8> {
    cli_frame_by(Reference::Seek, file, t, width, height, rotation)
}

/// [`cli_frame`], with the CLI seeking to t or decoding from the start up to t.
pub fn cli_frame_by(reference: Reference, file: &Path, t: f64, width: u32, height: u32, rotation: u32) -> Vec<u8> {
    let scale = match rotation {
        90 => format!("scale={height}:{width},transpose=clock"),
        180 => format!("scale={width}:{height},hflip,vflip"),
        270 => format!("scale={height}:{width},transpose=cclock"),
        _ => format!("scale={width}:{height}"),
    };
    let (seek, filter) = match reference {
        Reference::Seek => (vec!["-ss".to_owned(), t.to_string()], scale),
        Reference::Decode => (vec![], format!("select=gte(t\\,{t}),{scale}")),
    };
    let output = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-noautorotate"])
        .args(seek)
        .arg("-i")
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

/// An HDR fixture (tests/fixtures.sh) and the SDR picture it was made from: testsrc2 of this size,
/// shown turned `rotation` degrees as the file says.
pub struct HdrVideo {
    pub file: &'static str,
    pub source: &'static str,
    pub rotation: u32,
    /// PQ highlights: the rectangle (x, y, w, h, in the 320x240 picture) made with its white at
    /// 2,000 nits.
    pub highlights: Option<(usize, usize, usize, usize)>,
}

pub const HDR_VIDEOS: [HdrVideo; 5] = [
    HdrVideo {
        file: "hdr-hlg.mp4",
        source: "320x240",
        rotation: 0,
        highlights: None,
    },
    HdrVideo {
        file: "hdr-pq.mp4",
        source: "320x240",
        rotation: 0,
        highlights: None,
    },
    HdrVideo {
        file: "hdr-hlg-av1.mp4",
        source: "1920x1080",
        rotation: 0,
        highlights: None,
    },
    HdrVideo {
        file: "hdr-pq-phone.mp4",
        source: "1920x1080",
        rotation: 90,
        highlights: None,
    },
    HdrVideo {
        file: "hdr-pq-highlights.mp4",
        source: "320x240",
        rotation: 0,
        highlights: Some((100, 80, 120, 80)),
    },
];

impl HdrVideo {
    /// The SDR original's frame at t, scaled (in its coded orientation, then turned, as the engine
    /// does) to width x height, as RGBA.
    pub fn original(&self, t: f64, width: u32, height: u32) -> Vec<u8> {
        let (w, h) = if self.rotation % 180 == 90 {
            (height, width)
        } else {
            (width, height)
        };
        let turn = match self.rotation {
            90 => ",transpose=clock",
            270 => ",transpose=cclock",
            _ => "",
        };
        let output = Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-f", "lavfi", "-i"])
            .arg(format!("testsrc2=size={}:rate=25:duration=2", self.source))
            .args(["-ss", &t.to_string(), "-frames:v", "1", "-vf"])
            .arg(format!("scale={w}:{h}:flags=bicubic{turn},format=rgba"))
            .args(["-f", "rawvideo", "-"])
            .output()
            .expect("run ffmpeg");
        assert!(
            output.status.success(),
            "ffmpeg: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(output.stdout.len(), (width * height * 4) as usize);
        output.stdout
    }
}

/// Hasler and Süsstrunk's colourfulness of an RGBA picture (2003: σ and μ of R−G and (R+G)/2−B):
/// about 0 for grey, above 100 for a very colourful picture.
pub fn colourfulness(rgba: &[u8]) -> f64 {
    let (mut n, mut sum, mut squares) = (0.0, [0.0f64; 2], [0.0f64; 2]);
    for px in rgba.chunks_exact(4) {
        let (r, g, b) = (f64::from(px[0]), f64::from(px[1]), f64::from(px[2]));
        let (rg, yb) = (r - g, 0.5 * (r + g) - b);
        n += 1.0;
        for (i, v) in [rg, yb].into_iter().enumerate() {
            sum[i] += v;
            squares[i] += v * v;
        }
    }
    let mean = sum.map(|s| s / n);
    let variance = [0, 1].map(|i| squares[i] / n - mean[i] * mean[i]);
    (variance[0] + variance[1]).max(0.0).sqrt() + 0.3 * (mean[0] * mean[0] + mean[1] * mean[1]).sqrt()
}

/// The mean luma (BT.709 weights on the 8-bit values) of an RGBA picture.
pub fn mean_luma(rgba: &[u8]) -> f64 {
    let pixels = rgba.chunks_exact(4);
    let n = pixels.len() as f64;
    pixels
        .map(|p| 0.2126 * f64::from(p[0]) + 0.7152 * f64::from(p[1]) + 0.0722 * f64::from(p[2]))
        .sum::<f64>()
        / n
}

/// The pixels of a rectangle (x, y, w, h) of a `width`-wide RGBA picture, as RGBA.
pub fn crop(rgba: &[u8], width: usize, (x, y, w, h): (usize, usize, usize, usize)) -> Vec<u8> {
    (y..y + h)
        .flat_map(|row| rgba[(row * width + x) * 4..(row * width + x + w) * 4].iter().copied())
        .collect()
}

/// A folder of the test's own, `target/test-data/<what>-<pid>-<n>`, removed when dropped.
pub struct TestDir(PathBuf);

impl TestDir {
    pub fn new(what: &str) -> TestDir {
        let dir = root().join(format!("target/test-data/{what}-{}-{}", std::process::id(), unique()));
        std::fs::create_dir_all(&dir).unwrap();
        TestDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A free TCP port on 127.0.0.1, for a server that must be told its port (nginx, PostgreSQL,
/// WebKitWebDriver, Python's http.server).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something listens on 127.0.0.1:`port`; after `limit`, panics with `why()` (what
/// did not start, and where its logs are).
pub fn wait_for_port(port: u16, limit: std::time::Duration, why: impl Fn() -> String) {
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < limit, "{}", why());
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A number no other call in this process got (for log and file names).
pub(crate) fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Runs `jobs` (the format is in engine/tests/wasm-runner.cjs) through the committed
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

/// What a video of [`folder_of_videos`] should give: an image, or the error's code.
pub type Outcome = Result<(), &'static str>;

/// A folder of `count` videos as a person at a shell has one (the command line's tests and its
/// bench): every fixture that makes a frame, every bad input and every real-world one that
/// fails, then copies of the codec fixtures under other names; symbolic links to the fixtures,
/// in `dir` (made). Each with what it should give.
pub fn folder_of_videos(dir: &Path, count: usize) -> Vec<(PathBuf, Outcome)> {
    std::fs::create_dir_all(dir).unwrap();
    let mut chosen: Vec<(String, &str, Outcome)> = Vec::new();
    for v in VIDEOS {
        chosen.push((v.file.into(), v.file, Ok(())));
    }
    for case in REAL_WORLD {
        let outcome = match case.expect {
            Expect::Frame { .. } => Ok(()),
            Expect::Error(code) => Err(code),
        };
        chosen.push((case.file.into(), case.file, outcome));
    }
    for (file, code) in BAD_INPUTS {
        chosen.push(((*file).into(), file, Err(*code)));
    }
    let mut copy = 0;
    while chosen.len() < count {
        let v = &VIDEOS[copy % VIDEOS.len()];
        chosen.push((format!("again-{copy}-{}", v.file), v.file, Ok(())));
        copy += 1;
    }
    chosen.truncate(count);
    chosen
        .into_iter()
        .map(|(name, from, outcome)| {
            let path = dir.join(name);
            let _ = std::fs::remove_file(&path);
            std::os::unix::fs::symlink(fixture(from), &path).unwrap();
            (path, outcome)
        })
        .collect()
}
