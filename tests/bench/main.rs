//! The benchmark (`./dev.sh bench`): prints one markdown report of how small and how fast the
//! engine and the server are, each figure beside its reference measured in the same run on the
//! same files, and writes it to target/bench/.
//!
//! Speed lives here, never in tests: tests check behaviour, this measures.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::json;
use test_support::browser::{serve_page_on_another_origin, BrowserKind};
use test_support::{engine_dir, fixture, folder_of_videos, root, Browser, Server};
use thumbnail_engine::{Engine, OpenOptions};
use thumbnail_frames::animation::{animation_times, make_gif};
use thumbnail_frames::budget::PixelBudget;
use thumbnail_frames::sprite::{make_sheet, sheet_seek, sprite_times};
use thumbnail_frames::Picture;
use thumbnail_vocabulary::{FrameTimes, Seek, SheetSeek};

#[derive(Parser)]
#[command(about = "Measures engine size, native and wasm engine speed, and the server, against the ffmpeg CLI")]
struct Args {
    /// Timed runs per figure (the median is reported).
    #[arg(long, default_value_t = 10)]
    runs: usize,
    /// Fresh browser profiles per cold figure.
    #[arg(long, default_value_t = 5)]
    cold_runs: usize,
    /// Seconds of load per concurrency level.
    #[arg(long, default_value_t = 10.0)]
    load_seconds: f64,
    /// Measure only this part (the native engine is measured too when a ratio needs it).
    #[arg(long, value_enum)]
    only: Option<Section>,
    /// The peers section: only these systems (of ours, ours-wasm, mediabunny, ffmpeg.wasm, video).
    #[arg(long, value_delimiter = ',')]
    systems: Vec<String>,
    /// The browser engine of the browser sections: chromium, firefox or webkit.
    #[arg(long, default_value = "chromium", value_parser = |name: &str| BrowserKind::from_name(name).ok_or("chromium, firefox or webkit"))]
    browser: BrowserKind,
}

/// The browser every browser figure of this run is measured in (`--browser`).
static BROWSER: std::sync::OnceLock<BrowserKind> = std::sync::OnceLock::new();

fn browser_kind() -> BrowserKind {
    *BROWSER.get().unwrap_or(&BrowserKind::Chromium)
}

#[derive(Clone, Copy, PartialEq, clap::ValueEnum)]
enum Section {
    Sizes,
    Cli,
    Native,
    Wasm,
    Browser,
    Server,
    Sprite,
    Jobs,
    Peers,
    Hdr,
}

/// The benchmark inputs: 10 s, a keyframe every 2 s, the frame at 1 s.
fn inputs() -> Vec<(&'static str, PathBuf)> {
    vec![
        ("1080p H.264", fixture("h264-1080p.mp4")),
        ("720p VP9", fixture("bench/vp9-720p.webm")),
        ("4K HEVC", fixture("bench/hevc-4k.mp4")),
    ]
}

const AT: f64 = 1.0;

fn main() {
    let args = Args::parse();
    BROWSER.set(args.browser).unwrap();
    test_support::fixtures();
    run(root().join("tests/fixtures.sh").as_os_str(), &["--bench"]);

    // Where every section writes its files (CLI outputs, the page's folder, the peer libraries).
    std::fs::create_dir_all(root().join("target/bench")).unwrap();
    let want = |section| args.only.map_or(true, |only| only == section);
    let mut report = String::new();
    machine(&mut report);
    if want(Section::Sizes) {
        sizes(&mut report);
    }
    if want(Section::Native) || want(Section::Wasm) || want(Section::Browser) {
        let native = native_vs_cli(&mut report, args.runs);
        if want(Section::Wasm) {
            wasm_vs_native(&mut report, args.runs, &native);
        }
        if want(Section::Browser) {
            browser(&mut report, args.runs, args.cold_runs, &native);
        }
    }
    if want(Section::Cli) {
        command_line(&mut report, args.runs.min(3));
    }
    if want(Section::Server) {
        server(&mut report, args.load_seconds, args.runs);
    }
    if want(Section::Sprite) {
        sprite(&mut report, args.runs.min(3));
    }
    if want(Section::Jobs) {
        jobs(&mut report, args.load_seconds);
    }
    if want(Section::Hdr) {
        hdr(&mut report, args.runs);
    }
    if want(Section::Peers) {
        peers(&mut report, args.runs.min(5), args.cold_runs.min(5), &args.systems);
    }

    print!("{report}");
    let dir = root().join("target/bench");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(if args.only.is_none() { "latest.md" } else { "partial.md" });
    std::fs::write(&file, &report).unwrap();
    eprintln!("\nwritten to {}", file.display());
}

fn run(program: &std::ffi::OsStr, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program:?}: {e}"));
    assert!(
        out.status.success(),
        "{program:?} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn sh(script: &str) -> String {
    run("sh".as_ref(), &["-c", script]).trim().to_owned()
}

/// A runtime for a section's HTTP clients and browser sessions.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn machine(report: &mut String) {
    let cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2");
    let _ = writeln!(report, "# Benchmark\n");
    let _ = writeln!(report, "- date: {}", sh("date -u '+%Y-%m-%d %H:%M UTC'"));
    let _ = writeln!(
        report,
        "- machine: {} cores, {} , {}",
        sh("nproc"),
        cpu,
        sh("free -g | awk '/Mem:/ {print $2\" GB\"}'")
    );
    let _ = writeln!(
        report,
        "- ffmpeg CLI: {}",
        sh("ffmpeg -version | head -1 | cut -d' ' -f1-3")
    );
    let _ = writeln!(report, "- node: {}", sh("node --version"));
    let _ = writeln!(
        report,
        "- browser: {}",
        match browser_kind() {
            BrowserKind::Chromium => sh("chromium --version 2>/dev/null | cut -d' ' -f1-2"),
            BrowserKind::Firefox => sh("firefox-esr --version 2>/dev/null"),
            BrowserKind::WebKit => format!("WebKitGTK {}", sh("dpkg-query -W -f='${Version}' libwebkit2gtk-4.1-0")),
        }
    );
    let _ = writeln!(
        report,
        "- inputs: testsrc2, 10 s, 25 fps, a keyframe every 2 s; the frame at {AT} s, exact\n"
    );
}

fn sizes(report: &mut String) {
    let _ = writeln!(
        report,
        "## Engine size (ffmpeg.wasm's core: 7.2 MB compressed; target ≤ 1.2 MB brotli)\n"
    );
    let _ = writeln!(
        report,
        "| artifact | raw | gzip -9 | brotli -q 11 |\n| --- | ---: | ---: | ---: |"
    );
    // The engine (the demux-only build first: a page loads it alone when WebCodecs decodes), then
    // what a page loads with it: the Rust worker and the JS glue.
    let engine = [
        "demux.wasm",
        "demux.js",
        "st.wasm",
        "st.js",
        "mt.wasm",
        "mt.js",
        "mt.worker.js",
    ]
    .map(|name| {
        (
            format!("thumbnail-engine-{name}"),
            engine_dir().join(format!("dist/thumbnail-engine-{name}")),
        )
    });
    let web = [
        "pkg/thumbnail_worker_bg.wasm",
        "pkg/thumbnail_worker.js",
        "thumbnailer.js",
        "engine-worker.js",
        "server-client.js",
        "thumbnailer-worker.js",
        "video-thumbnailer.js",
    ]
    .map(|name| (format!("www/{name}"), root().join("www").join(name)));
    for (name, file) in engine.into_iter().chain(web) {
        let path = file.to_str().unwrap();
        let kb = |bytes: &str| format!("{:.0} KB", bytes.parse::<f64>().unwrap() / 1000.0);
        let raw = kb(&std::fs::metadata(&file).unwrap().len().to_string());
        let gz = kb(&sh(&format!("gzip -9 -c '{path}' | wc -c")));
        let br = kb(&sh(&format!("brotli -q 11 -c '{path}' | wc -c")));
        let _ = writeln!(report, "| {name} | {raw} | {gz} | {br} |");
    }
    let _ = writeln!(report);
    package_sizes(report);
}

/// Raw, gzip -9 and brotli -q 11 bytes of `files` together. A peer's files (pinned, so never
/// changing) are compressed once: brotli -q 11 takes minutes on ffmpeg.wasm's 32 MB core; their
/// sizes are kept in target/bench/npm/compressed.json.
fn compressed_sizes(files: &[PathBuf]) -> (u64, u64, u64) {
    let peers = root().join("target/bench/npm");
    let cache_file = peers.join("compressed.json");
    let mut cache: std::collections::BTreeMap<String, (u64, u64, u64)> = std::fs::read_to_string(&cache_file)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default();
    let mut sums = (0, 0, 0);
    for file in files {
        let path = file.to_str().unwrap();
        let raw = std::fs::metadata(file).unwrap_or_else(|e| panic!("{path}: {e}")).len();
        let key = format!("{path} {raw}");
        let sizes = match cache.get(&key) {
            Some(&sizes) => sizes,
            None => {
                let bytes = |s: String| s.parse::<u64>().unwrap();
                let sizes = (
                    raw,
                    bytes(sh(&format!("gzip -9 -c '{path}' | wc -c"))),
                    bytes(sh(&format!("brotli -q 11 -c '{path}' | wc -c"))),
                );
                if file.starts_with(&peers) {
                    cache.insert(key, sizes);
                    std::fs::write(&cache_file, serde_json::to_string(&cache).unwrap()).unwrap();
                }
                sizes
            }
        };
        sums = (sums.0 + sizes.0, sums.1 + sizes.1, sums.2 + sizes.2);
    }
    sums
}

/// The npm package against the peers' packages, as a page pays for them: the JS a page imports,
/// the JS its worker loads, and each wasm file (brotli, as a server or CDN sends it).
fn package_sizes(report: &mut String) {
    let ours = root().join("target/npm/package");
    assert!(
        ours.join("package.json").exists(),
        "target/npm/package: run ./dev.sh package (./dev.sh bench does)"
    );
    let version = std::fs::read_to_string(ours.join("package.json")).unwrap();
    let version: serde_json::Value = serde_json::from_str(&version).unwrap();
    let peers = peer_libraries();
    let at = |dir: &Path, names: &[&str]| names.iter().map(|n| dir.join(n)).collect::<Vec<_>>();
    let ffmpeg_esm = peers.join("@ffmpeg/ffmpeg/dist/esm");
    let rows: Vec<(String, Vec<PathBuf>)> = vec![
        (
            format!(
                "videothumb {}: the API (`import … from 'videothumb'`)",
                version["version"].as_str().unwrap()
            ),
            at(
                &ours,
                &[
                    "thumbnailer.js",
                    "engine-worker.js",
                    "errors.js",
                    "server-client.js",
                    "types.js",
                ],
            ),
        ),
        (
            "videothumb: its worker's JS (glue, bindings, demux-only engine's glue)".into(),
            at(
                &ours,
                &[
                    "thumbnailer-worker.js",
                    "pkg/thumbnail_worker.js",
                    "engine/thumbnail-engine-demux.js",
                ],
            ),
        ),
        (
            "videothumb: pkg/thumbnail_worker_bg.wasm".into(),
            at(&ours, &["pkg/thumbnail_worker_bg.wasm"]),
        ),
        (
            "videothumb: engine/thumbnail-engine-demux.wasm".into(),
            at(&ours, &["engine/thumbnail-engine-demux.wasm"]),
        ),
        (
            "videothumb: engine/thumbnail-engine-st.wasm (+ its .js)".into(),
            at(
                &ours,
                &["engine/thumbnail-engine-st.wasm", "engine/thumbnail-engine-st.js"],
            ),
        ),
        (
            "videothumb: engine/thumbnail-engine-mt.wasm (+ its .js)".into(),
            at(
                &ours,
                &[
                    "engine/thumbnail-engine-mt.wasm",
                    "engine/thumbnail-engine-mt.js",
                    "engine/thumbnail-engine-mt.worker.js",
                ],
            ),
        ),
        (
            "mediabunny 1.61.0: dist/bundles/mediabunny.min.mjs (no wasm)".into(),
            vec![peers.join("mediabunny/dist/bundles/mediabunny.min.mjs")],
        ),
        (
            "web-demuxer 4.0.0: dist/web-demuxer.js".into(),
            vec![peers.join("web-demuxer/dist/web-demuxer.js")],
        ),
        (
            "web-demuxer 4.0.0: dist/wasm-files/web-demuxer-mini.wasm".into(),
            vec![peers.join("web-demuxer/dist/wasm-files/web-demuxer-mini.wasm")],
        ),
        (
            "web-demuxer 4.0.0: dist/wasm-files/web-demuxer.wasm".into(),
            vec![peers.join("web-demuxer/dist/wasm-files/web-demuxer.wasm")],
        ),
        (
            "ffmpeg.wasm 0.12.15: @ffmpeg/ffmpeg dist/esm (the API and its worker)".into(),
            at(
                &ffmpeg_esm,
                &[
                    "index.js",
                    "classes.js",
                    "const.js",
                    "errors.js",
                    "utils.js",
                    "worker.js",
                ],
            ),
        ),
        (
            "ffmpeg.wasm: @ffmpeg/core 0.12.10 ffmpeg-core.wasm (+ its .js)".into(),
            at(
                &peers.join("@ffmpeg/core/dist/esm"),
                &["ffmpeg-core.wasm", "ffmpeg-core.js"],
            ),
        ),
        (
            "ffmpeg.wasm: @ffmpeg/core-mt 0.12.10 ffmpeg-core.wasm (+ its .js)".into(),
            at(
                &peers.join("@ffmpeg/core-mt/dist/esm"),
                &["ffmpeg-core.wasm", "ffmpeg-core.js", "ffmpeg-core.worker.js"],
            ),
        ),
    ];
    let _ = writeln!(
        report,
        "## Package size: the npm package beside its peers (each from npm, pinned)\n\n\
         | package: files | raw | gzip -9 | brotli -q 11 |\n| --- | ---: | ---: | ---: |"
    );
    let kb = |bytes: u64| format!("{:.0} KB", bytes as f64 / 1000.0);
    for (what, files) in rows {
        let (raw, gz, br) = compressed_sizes(&files);
        let _ = writeln!(report, "| {what} | {} | {} | {} |", kb(raw), kb(gz), kb(br));
    }
    let _ = writeln!(report);
}

/// The command line on a folder of 100 videos (bad ones among them), a 320 px PNG of the frame
/// at 1 s each, against what a person at a shell writes instead: a loop of ffmpegthumbnailer
/// (Debian's) and a loop of the `ffmpeg` CLI, one file after another. Ours runs as many engine
/// processes as there are cores, and with `-j 1` too.
fn command_line(report: &mut String, runs: usize) {
    let dir = root().join("target/bench/cli");
    let _ = std::fs::remove_dir_all(&dir);
    let videos = folder_of_videos(&dir.join("videos"), 100);
    let readable = videos.iter().filter(|(_, outcome)| outcome.is_ok()).count();
    let thumbnail = root().join("target/release/thumbnail");
    let videos_dir = dir.join("videos");
    let v = videos_dir.display();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let systems: Vec<(String, String)> = vec![
        (
            format!("ours: `thumbnail videos/ -o out/ --width 320` ({cores} engine processes)"),
            format!("{} '{v}' -o \"$OUT\" --width 320 --quiet", thumbnail.display()),
        ),
        (
            "ours, `-j 1` (one engine process)".into(),
            format!("{} '{v}' -o \"$OUT\" --width 320 --quiet -j 1", thumbnail.display()),
        ),
        (
            "ffmpegthumbnailer 2.2.2 (Debian's) in a shell loop (`-t 00:00:01 -s 320`)".into(),
            format!("for f in '{v}'/*; do ffmpegthumbnailer -i \"$f\" -o \"$OUT/$(basename \"$f\").png\" -t 00:00:01 -s 320 2>/dev/null; done"),
        ),
        (
            "`ffmpeg -ss 1 -i f -frames:v 1 -vf scale=320:-2` in a shell loop".into(),
            format!("for f in '{v}'/*; do ffmpeg -v quiet -ss 1 -i \"$f\" -frames:v 1 -vf scale=320:-2 -y \"$OUT/$(basename \"$f\").png\" </dev/null; done"),
        ),
    ];
    let _ = writeln!(
        report,
        "## Command line: a folder of 100 videos ({readable} readable), a 320 px PNG of the frame at 1 s each (median of {runs})\n\n\
         | command | time | images made |\n| --- | ---: | ---: |"
    );
    for (name, script) in systems {
        let mut times = Vec::new();
        let mut made = 0;
        for _ in 0..runs {
            let out = dir.join("out");
            let _ = std::fs::remove_dir_all(&out);
            std::fs::create_dir_all(&out).unwrap();
            let started = Instant::now();
            // The exit status says whether any file failed; the images made are counted instead.
            let _ = Command::new("sh")
                .arg("-c")
                .arg(&script)
                .env("OUT", &out)
                .output()
                .unwrap();
            times.push(started.elapsed());
            made = std::fs::read_dir(&out)
                .unwrap()
                .filter(|e| e.as_ref().is_ok_and(|e| e.metadata().is_ok_and(|m| m.len() > 0)))
                .count();
        }
        let _ = writeln!(report, "| {name} | {:.2} s | {made} |", median(times).as_secs_f64());
    }
    let _ = writeln!(report);
}

/// The native engine, one file opened and one frame made per run.
fn native_once(file: &Path, threads: u32, max: u32) -> Duration {
    let started = Instant::now();
    let options = OpenOptions {
        threads,
        ..OpenOptions::default()
    };
    let mut engine = Engine::open(file, &options).unwrap();
    engine.frame(AT, max, max, Seek::Exact).unwrap();
    started.elapsed()
}

fn cli_once(file: &Path, max: u32, png: bool) -> Duration {
    let scale = if max > 0 {
        format!("scale={max}:{max}:force_original_aspect_ratio=decrease")
    } else {
        "null".into()
    };
    let output: &[&str] = if png {
        &["-f", "image2", "-c:v", "png", "-y"]
    } else {
        &["-f", "rawvideo", "-pix_fmt", "rgba", "-y"]
    };
    let target = root().join(if png {
        "target/bench/cli.png"
    } else {
        "target/bench/cli.rgba"
    });
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    let started = Instant::now();
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-ss", &AT.to_string(), "-i"])
        .arg(file)
        .args(["-frames:v", "1", "-vf", &scale])
        .args(output)
        .arg(&target)
        .status()
        .unwrap();
    assert!(status.success());
    started.elapsed()
}

/// Native per-thumbnail medians by input, at full size (for the wasm ratios).
struct NativeTimes(Vec<Duration>);

fn native_vs_cli(report: &mut String, runs: usize) -> NativeTimes {
    std::fs::create_dir_all(root().join("target/bench")).unwrap();
    let _ = writeln!(
        report,
        "## Native engine vs the ffmpeg CLI, per thumbnail (median of {runs})\n"
    );
    let _ = writeln!(
        report,
        "Engine: open + seek + decode + scale to RGBA, in process. CLI: `ffmpeg -ss {AT} -i f -frames:v 1` to raw RGBA, as a process.\n"
    );
    let _ = writeln!(
        report,
        "| input | size | native, 1 thread | native, auto threads | ffmpeg CLI | CLI / native (1 thread) |\n| --- | --- | ---: | ---: | ---: | ---: |"
    );
    let mut full = Vec::new();
    for (label, file) in inputs() {
        for (size, max) in [("full", 0), ("640 px", 640)] {
            native_once(&file, 1, max); // warm the page cache
            let one = median((0..runs).map(|_| native_once(&file, 1, max)).collect());
            let auto = median((0..runs).map(|_| native_once(&file, 0, max)).collect());
            let cli = median((0..runs).map(|_| cli_once(&file, max, false)).collect());
            if max == 0 {
                full.push(one);
            }
            let ratio = cli.as_secs_f64() / one.as_secs_f64();
            let _ = writeln!(
                report,
                "| {label} | {size} | {} | {} | {} | {ratio:.2}× |",
                ms(one),
                ms(auto),
                ms(cli)
            );
        }
    }
    let _ = writeln!(report);
    NativeTimes(full)
}

/// Runs the wasm engine under Node: `runs` opens + frames of each input; per-thumbnail medians.
fn wasm_times(variant: &str, threads: u32, runs: usize) -> Vec<Duration> {
    let out = root().join(format!("target/bench/wasm-{variant}-{threads}"));
    let jobs: Vec<serde_json::Value> = inputs()
        .iter()
        .flat_map(|(_, file)| {
            (0..=runs).map(move |_| {
                serde_json::json!({ "file": file, "threads": threads, "save": false, "frames": [{ "t": AT }] })
            })
        })
        .collect();
    let results = test_support::run_wasm_engine(variant, &jobs.into(), &out);
    results
        .as_array()
        .unwrap()
        .chunks(runs + 1)
        .map(|per_input| {
            // the first run of each input warms up (compiles, grows memory) and is left out
            let samples = per_input[1..]
                .iter()
                .map(|r| {
                    assert_eq!(r["status"], "ok", "{r}");
                    let total = r["open_ms"].as_f64().unwrap() + r["frames"][0]["ms"].as_f64().unwrap();
                    Duration::from_secs_f64(total / 1000.0)
                })
                .collect();
            median(samples)
        })
        .collect()
}

fn wasm_vs_native(report: &mut String, runs: usize, native: &NativeTimes) {
    let _ = writeln!(
        report,
        "## wasm engine under Node vs the native engine, per thumbnail, full size (median of {runs}; target ≤ 2.5×)\n"
    );
    let _ = writeln!(
        report,
        "The same C engine; te_open + te_decode timed inside Node (the file in MEMFS).\n"
    );
    let variants = [("st", 1), ("mt", 1), ("mt", 2), ("mt", 4)];
    let times: Vec<Vec<Duration>> = variants.iter().map(|&(v, t)| wasm_times(v, t, runs)).collect();
    let _ = writeln!(report, "| input | native, 1 thread | wasm st | wasm mt ×1 | wasm mt ×2 | wasm mt ×4 |\n| --- | ---: | ---: | ---: | ---: | ---: |");
    for (i, (label, _)) in inputs().iter().enumerate() {
        let n = native.0[i];
        let cells: Vec<String> = times
            .iter()
            .map(|t| format!("{} ({:.2}×)", ms(t[i]), t[i].as_secs_f64() / n.as_secs_f64()))
            .collect();
        let _ = writeln!(report, "| {label} | {} | {} |", ms(n), cells.join(" | "));
    }
    let _ = writeln!(report);
}

/// The peer libraries the browser figures are measured against, installed from npm (pinned) into
/// target/bench/npm once; their folder.
const PEERS: &[&str] = &[
    "@ffmpeg/ffmpeg@0.12.15",
    "@ffmpeg/core@0.12.10",
    "@ffmpeg/core-mt@0.12.10",
    "mediabunny@1.61.0",
    "web-demuxer@4.0.0",
];

fn peer_libraries() -> PathBuf {
    let dir = root().join("target/bench/npm");
    let stamp = dir.join("installed.txt");
    let want = PEERS.join(" ");
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(want.as_str()) {
        std::fs::create_dir_all(&dir).unwrap();
        let mut args = vec!["install", "--no-audit", "--no-fund", "--prefix", dir.to_str().unwrap()];
        args.extend_from_slice(PEERS);
        run("npm".as_ref(), &args);
        std::fs::write(&stamp, &want).unwrap();
    }
    dir.join("node_modules")
}

/// The real server on the app's www/ plus an empty page (`/blank.html`, so that nothing loads
/// before a timer starts) and the peer libraries under `/peers/`.
fn bench_server() -> Server {
    let www = root().join("target/bench/www");
    let _ = std::fs::remove_dir_all(&www);
    std::fs::create_dir_all(&www).unwrap();
    for entry in std::fs::read_dir(root().join("www")).unwrap() {
        let entry = entry.unwrap();
        std::os::unix::fs::symlink(entry.path(), www.join(entry.file_name())).unwrap();
    }
    std::os::unix::fs::symlink(peer_libraries(), www.join("peers")).unwrap();
    std::fs::write(
        www.join("blank.html"),
        "<!doctype html><meta charset=utf-8><title>bench</title><input id=file type=file>",
    )
    .unwrap();
    Server::start(&server_binary(), &["--www", www.to_str().unwrap()])
}

fn server_binary() -> PathBuf {
    let binary = std::env::current_exe().unwrap().with_file_name("thumbnail-server");
    assert!(binary.exists(), "build the server first (./dev.sh bench does)");
    binary
}

/// JS run in a page with a `#file` input: loads the API from `arguments[0]` (the server's base URL)
/// and times `arguments[1]` thumbnails of the file after `arguments[2]` untimed ones, full size PNG
/// at 1 s, by the wasm engine's own decoders (the WebCodecs path is measured in `peers`). The first timed one of a fresh page includes fetching and compiling everything.
const TIME_THUMBNAILS: &str = "
    const [base, runs, warmups] = arguments;
    const file = document.getElementById('file').files[0];
    const started = performance.now();
    const { Thumbnailer } = await import(base + '/thumbnailer.js');
    const t = window.thumbnailer ??= await Thumbnailer.create({ engine: 'browser', webcodecs: false });
    let engine;
    for (let i = 0; i < warmups; i++) await t.thumbnail(file, { at: 1 });
    const times = [];
    for (let i = 0; i < runs; i++) {
      const start = warmups === 0 && i === 0 ? started : performance.now();
      engine = (await t.thumbnail(file, { at: 1 })).engine;
      times.push(performance.now() - start);
    }
    return { times, engine };";

async fn time_thumbnails(
    browser: &Browser,
    base: &str,
    file: &Path,
    runs: usize,
    warmups: usize,
) -> (Vec<Duration>, String) {
    browser.choose_file("#file", file).await;
    let out = browser
        .run(TIME_THUMBNAILS, vec![json!(base), json!(runs), json!(warmups)])
        .await;
    assert!(out["thrown"].is_null(), "{}: {out}", file.display());
    let times = js_times(out["times"].as_array().unwrap());
    (times, out["engine"].as_str().unwrap().to_owned())
}

/// Times a page measured (`performance.now()` differences, in ms).
fn js_times(times: &[serde_json::Value]) -> Vec<Duration> {
    times
        .iter()
        .map(|ms| Duration::from_secs_f64(ms.as_f64().unwrap() / 1000.0))
        .collect()
}

/// In the headless browser of the run (`--browser`) against the real server: the JS API's first thumbnail on a fresh profile
/// (cold: nothing cached, from importing the API to the image) and then per thumbnail (warm), for
/// the mt engine (a cross-origin-isolated page of the server) and the st engine (a page of another
/// origin without COOP/COEP, as a site embedding the thumbnailer).
fn browser(report: &mut String, runs: usize, cold_runs: usize, native: &NativeTimes) {
    let server = bench_server();
    let runtime = runtime();

    let _ = writeln!(
        report,
        "## In the browser: headless {}, the JS API against the real server
",
        browser_kind().name()
    );
    let _ = writeln!(
        report,
        "Full-size PNG of the frame at {AT} s (decode in the worker + `OffscreenCanvas` PNG encoding + transfer). \
         Cold: a fresh profile, from `import('/thumbnailer.js')` to the first image (fetching and compiling \
         the API, the web wasm and the engine over loopback; median of {cold_runs}). Warm: per thumbnail after that \
         (median of {runs}), beside the native engine (decode only).\n"
    );
    let _ = writeln!(
        report,
        "| engine | page | input | cold | warm | native, 1 thread | warm / native |\n| --- | --- | --- | ---: | ---: | ---: | ---: |"
    );
    runtime.block_on(async {
        let other = serve_page_on_another_origin(
            "<!doctype html><meta charset=utf-8><title>another site</title><input id=file type=file>".into(),
        )
        .await;
        let pages = [
            (
                browser_kind().isolated_engine(),
                "same origin, isolated",
                server.url("/blank.html"),
            ),
            ("browser-st", "another origin", other),
        ];
        for (engine, page_kind, page) in pages {
            let mut cold = Vec::new();
            for _ in 0..cold_runs {
                let browser = Browser::start(browser_kind()).await;
                browser.goto(&page).await;
                let (times, made_by) = time_thumbnails(&browser, &server.base, &inputs()[0].1, 1, 0).await;
                assert_eq!(made_by, engine);
                cold.push(times[0]);
                browser.close().await;
            }
            let browser = Browser::start(browser_kind()).await;
            browser.goto(&page).await;
            for (i, (label, file)) in inputs().iter().enumerate() {
                let (times, made_by) = time_thumbnails(&browser, &server.base, file, runs, 1).await;
                assert_eq!(made_by, engine);
                let warm = median(times);
                let cold = if i == 0 { ms(median(cold.clone())) } else { "".into() };
                let _ = writeln!(
                    report,
                    "| {engine} | {page_kind} | {label} | {cold} | {} | {} | {:.2}× |",
                    ms(warm),
                    ms(native.0[i]),
                    warm.as_secs_f64() / native.0[i].as_secs_f64()
                );
            }
            browser.close().await;
        }
    });
    let _ = writeln!(report);
}

fn server(report: &mut String, seconds: f64, runs: usize) {
    let (label, file) = inputs().remove(0);
    let video = std::fs::read(&file).unwrap();
    let runtime = runtime();

    let _ = writeln!(
        report,
        "## Server: POST /thumbnail ({label}, {:.1} MB, frame at {AT} s, full-size PNG)\n",
        video.len() as f64 / 1e6
    );
    let _ = writeln!(
        report,
        "Workers: one per core. Each level runs {seconds} s; latency of the 200s; 503s are the queue refusing. \
         `process`: each job in a sandboxed engine process of its own (the default; forked ahead, one job each); \
         `thread`: on threads of the server process (no crash isolation), measured in the same run for the \
         isolation's cost.\n"
    );
    let _ = writeln!(
        report,
        "| isolation | clients | thumbnails/s | p50 | p99 | 503s | server peak RSS | an engine process's peak RSS |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    let mut single = Duration::ZERO;
    let mut rates: Vec<(&str, usize, f64)> = Vec::new();
    for isolation in ["process", "thread"] {
        let server = Server::start(&server_binary(), &["--isolation", isolation]);
        for clients in [1, 8, 32] {
            let load = runtime.block_on(test_support::load::run(
                &server.url("/thumbnail"),
                &video,
                clients,
                seconds,
            ));
            let (rate, busy, mut latencies) = (load.rate(), load.busy, load.latencies);
            latencies.sort();
            if clients == 1 && isolation == "process" {
                single = percentile(&latencies, 0.5);
            }
            rates.push((isolation, clients, rate));
            let _ = writeln!(
                report,
                "| {isolation} | {clients} | {rate:.1} | {} | {} | {busy} | {:.0} MB | {:.0} MB |",
                ms(percentile(&latencies, 0.5)),
                ms(percentile(&latencies, 0.99)),
                server.peak_rss_kib() as f64 / 1024.0,
                runtime.block_on(server.metric("thumbnail_engine_process_peak_rss_bytes")) / 1048576.0
            );
        }
    }
    let _ = writeln!(report);
    for clients in [1, 8, 32] {
        let rate = |mode: &str| {
            rates
                .iter()
                .find(|r| r.0 == mode && r.1 == clients)
                .map_or(0.0, |r| r.2)
        };
        let _ = writeln!(
            report,
            "- {clients} clients: processes {:.1}/s vs threads {:.1}/s ({:+.1} %)",
            rate("process"),
            rate("thread"),
            (rate("process") / rate("thread") - 1.0) * 100.0
        );
    }
    let cli = median((0..runs).map(|_| cli_once(&file, 0, true)).collect());
    let _ = writeln!(
        report,
        "\nPer thumbnail: server {} (upload over loopback + decode + PNG, 1 client, p50) vs `ffmpeg -ss {AT} -i f -frames:v 1 out.png` as a process {} ({:.2}× the server).\n",
        ms(single),
        ms(cli),
        cli.as_secs_f64() / single.as_secs_f64()
    );
}

/// What a load of asynchronous jobs measured.
struct JobLoad {
    /// From the 202 to the job seen done, per job.
    to_done: Vec<Duration>,
    elapsed: Duration,
}

/// `clients` clients each post the video as an asynchronous job (`Prefer: respond-async`), poll
/// its address every 50 ms until it is done, read its result, and start again, until `seconds`.
async fn job_load(server: &Server, route: &str, video: &[u8], clients: usize, seconds: f64) -> JobLoad {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    let runs = (0..clients).map(|_| {
        let client = client.clone();
        async move {
            let mut to_done = Vec::new();
            while Instant::now() < deadline {
                let r = client
                    .post(server.url(route))
                    .header("content-type", "video/mp4")
                    .header("prefer", "respond-async")
                    .body(video.to_vec())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status().as_u16(), 202, "{}", r.text().await.unwrap_or_default());
                let accepted = Instant::now();
                let job = server.url(r.headers()["location"].to_str().unwrap());
                loop {
                    let r = client.get(&job).send().await.unwrap();
                    if r.status().as_u16() == 303 {
                        break;
                    }
                    let described: serde_json::Value = r.json().await.unwrap();
                    assert_ne!(described["status"], "failed", "{described}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                to_done.push(accepted.elapsed());
                let result = client.get(format!("{job}/result")).send().await.unwrap();
                assert_eq!(result.status().as_u16(), 200);
                let _ = result.bytes().await.unwrap();
            }
            to_done
        }
    });
    let to_done = futures_util::future::join_all(runs)
        .await
        .into_iter()
        .flatten()
        .collect();
    JobLoad {
        to_done,
        elapsed: started.elapsed(),
    }
}

/// The asynchronous path (embedded store: SQLite and a local folder) beside the synchronous
/// POST /thumbnail, at 8 and 32 concurrent clients.
fn jobs(report: &mut String, seconds: f64) {
    let (label, file) = inputs().remove(0);
    let video = std::fs::read(&file).unwrap();
    let runtime = runtime();
    let room = ["--queue", "256", "--max-uploads", "64"];
    let server = Server::start(&server_binary(), &room);
    let _ = writeln!(
        report,
        "\n## Asynchronous jobs: POST /thumbnail with `Prefer: respond-async` ({label}, full-size PNG)\n\n\
         Embedded store (SQLite + local folder), one server, workers one per core. Each client posts a job, \
         polls it every 50 ms until done, reads its result, again, for {seconds} s; beside it, the same \
         clients calling POST /thumbnail synchronously.\n\n\
         | clients | jobs/s | 202 → done p50 | p99 | synchronous thumbnails/s | jobs / synchronous |\n| ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for clients in [8, 32] {
        let load = runtime.block_on(job_load(&server, "/thumbnail", &video, clients, seconds));
        let sync = runtime.block_on(test_support::load::run(
            &server.url("/thumbnail"),
            &video,
            clients,
            seconds,
        ));
        let mut to_done = load.to_done;
        to_done.sort();
        let rate = to_done.len() as f64 / load.elapsed.as_secs_f64();
        let _ = writeln!(
            report,
            "| {clients} | {rate:.1} | {} | {} | {:.1} | {:.2} |",
            ms(percentile(&to_done, 0.5)),
            ms(percentile(&to_done, 0.99)),
            sync.rate(),
            rate / sync.rate()
        );
    }
}

/// A contact sheet of 100 frames of a 10-minute 720p video (keyframe every 10 s), 160 px tiles,
/// 10 a row: the native engine (`te_decode_next`, tiling; encoding left out on both sides' count
/// of packets) against the CLI's `fps=1/6,scale=160:-1,tile=10x10`, which decodes every frame.
fn sprite(report: &mut String, runs: usize) {
    let file = fixture("bench/h264-720p-10min.mp4");
    let total = test_support::video_packets(&file);
    let mut ours = Vec::new();
    let mut packets = (0, 0);
    for _ in 0..runs {
        let started = Instant::now();
        let mut engine = Engine::open(&file, &OpenOptions::default()).unwrap();
        let times = sprite_times(engine.info().duration, FrameTimes::Count(100));
        let tile = engine.output_size(160, 0).unwrap();
        let mut budget = PixelBudget::new(u64::MAX, "none");
        let (sheet, rgba) = make_sheet(&times, 10, tile, &mut budget, |t| next_picture(&mut engine, t, tile)).unwrap();
        assert_eq!((sheet.columns, sheet.rows), (10, 10));
        assert_eq!(rgba.len(), (sheet.width() * sheet.height() * 4) as usize);
        ours.push(started.elapsed());
        packets = engine.packets_decoded();
    }
    let target = root().join("target/bench/sprite-cli.jpg");
    let mut cli = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        let status = Command::new("ffmpeg")
            .args(["-v", "error", "-nostdin", "-i"])
            .arg(&file)
            .args(["-vf", "fps=1/6,scale=160:-1,tile=10x10", "-frames:v", "1", "-y"])
            .arg(&target)
            .status()
            .unwrap();
        assert!(status.success());
        cli.push(started.elapsed());
    }
    let (ours, cli) = (median(ours), median(cli));
    report.push_str(&format!(
        "\n## Contact sheet: 100 frames of a 10-minute 720p H.264 video (keyframe every 10 s), 160 px tiles, 10 a row\n\n\
         | system | time (median of {runs}) | packets decoded |\n| --- | ---: | ---: |\n\
         | native engine (`te_decode_next` + tiling) | {} | {} of {total} ({} twice) |\n\
         | `ffmpeg -vf fps=1/6,scale=160:-1,tile=10x10` | {} | all {total} |\n\n\
         The CLI takes {:.1}x our time.\n",
        ms(ours),
        packets.0,
        packets.1,
        ms(cli),
        cli.as_secs_f64() / ours.as_secs_f64()
    ));
    sheet_in_browser(report, runs, ours);
    sheet_seek_auto(report, runs);
    gif(report, runs);
}

/// `seek: 'auto'` on a sheet whose tiles are further apart than the keyframes: 24 tiles of the
/// 10-minute video (25 s apart, a keyframe every 10 s), exact frames against auto (keyframes).
fn sheet_seek_auto(report: &mut String, runs: usize) {
    let file = fixture("bench/h264-720p-10min.mp4");
    let time = |choice: SheetSeek| {
        let mut chosen = Seek::Exact;
        let samples = (0..runs)
            .map(|_| {
                let started = Instant::now();
                let mut engine = Engine::open(&file, &OpenOptions::default()).unwrap();
                let times = sprite_times(engine.info().duration, FrameTimes::Count(24));
                let tile = engine.output_size(160, 0).unwrap();
                chosen = sheet_seek(choice, &times, |t| {
                    engine.read_packets(t, Seek::Keyframe).ok()?.wanted_time()
                });
                let mut budget = PixelBudget::new(u64::MAX, "none");
                make_sheet(&times, 6, tile, &mut budget, |t| match chosen {
                    Seek::Keyframe => engine.frame(t, tile.0, tile.1, Seek::Keyframe).map(|i| Picture {
                        width: i.width,
                        height: i.height,
                        time: i.time,
                        rgba: i.rgba,
                    }),
                    Seek::Exact => next_picture(&mut engine, t, tile),
                })
                .unwrap();
                (started.elapsed(), engine.packets_decoded().0)
            })
            .collect::<Vec<_>>();
        let packets = samples[0].1;
        (median(samples.into_iter().map(|(d, _)| d).collect()), packets, chosen)
    };
    let (exact, exact_packets, _) = time(SheetSeek::Exact);
    let (auto, auto_packets, chosen) = time(SheetSeek::Auto);
    report.push_str(&format!(
        "\n## Contact sheet, `seek`: 24 tiles 25 s apart of the same video (a keyframe every 10 s)\n\n\
         | seek | time (median of {runs}) | packets decoded |\n| --- | ---: | ---: |\n\
         | `exact` | {} | {exact_packets} |\n| `auto` (took {chosen:?}) | {} | {auto_packets} |\n",
        ms(exact),
        ms(auto)
    ));
}

/// The tone mapping's cost (crate `thumbnail-tonemap`): the frame at 1 s of the upright phone's
/// 1080p PQ HEVC, whole (1080x1920) and in a 320 px box, tone-mapped (`hdr: sdr`) and not
/// (`keep`), beside the CLI's own tone mapping of the same frame (zscale to linear light, BT.709
/// primaries, tonemap=mobius, back to BT.709).
fn hdr(report: &mut String, runs: usize) {
    use thumbnail_vocabulary::colour::HdrOutput;
    let file = fixture("hdr-pq-phone.mp4");
    let time = |hdr, side| {
        let samples = (0..runs)
            .map(|_| {
                let started = Instant::now();
                let mut engine = Engine::open(
                    &file,
                    &OpenOptions {
                        hdr,
                        ..OpenOptions::default()
                    },
                )
                .unwrap();
                engine.frame(1.0, side, side, Seek::Exact).unwrap();
                started.elapsed()
            })
            .collect();
        median(samples)
    };
    let cli = |filter: &str| {
        let samples = (0..runs)
            .map(|_| {
                let started = Instant::now();
                let out = Command::new("ffmpeg")
                    .args(["-v", "error", "-nostdin", "-ss", "1", "-i"])
                    .arg(&file)
                    .args(["-frames:v", "1", "-vf", filter, "-f", "rawvideo", "-"])
                    .output()
                    .unwrap();
                assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
                started.elapsed()
            })
            .collect();
        median(samples)
    };
    let tonemap = "zscale=t=linear:npl=203,format=gbrpf32le,zscale=p=bt709,tonemap=mobius,zscale=t=bt709:m=bt709:r=tv,format=rgb24";
    let rows = [(0, "whole, 1080x1920"), (320, "in a 320 px box")].map(|(side, name)| {
        let (sdr, keep) = (time(HdrOutput::Sdr, side), time(HdrOutput::Keep, side));
        format!(
            "| {name} | {} | {} | {} |\n",
            ms(sdr),
            ms(keep),
            ms(sdr.saturating_sub(keep))
        )
    });
    let (cli_mapped, cli_plain) = (cli(tonemap), cli("format=rgb24"));
    report.push_str(&format!(
        "\n## HDR to SDR: the frame at 1 s of a 1080p PQ HEVC phone video (turned upright)\n\n\
         | picture | tone-mapped (`hdr: sdr`, median of {runs}) | as coded (`keep`) | the tone mapping |\n\
         | --- | ---: | ---: | ---: |\n{}{}\n\
         The CLI, whole: {} with `{tonemap}`, {} without ({} for its tone mapping).\n",
        rows[0],
        rows[1],
        ms(cli_mapped),
        ms(cli_plain),
        ms(cli_mapped.saturating_sub(cli_plain))
    ));
}

/// The engine's next frame in the box `size`, as the frames crate takes it.
fn next_picture(engine: &mut Engine, t: f64, size: (u32, u32)) -> Result<Picture, thumbnail_vocabulary::Error> {
    let image = engine.next_frame(t, size.0, size.1)?;
    Ok(Picture {
        width: image.width,
        height: image.height,
        time: image.time,
        rgba: image.rgba,
    })
}

/// The tutorial's GIF (3 s from 1 s, 5 fps, 720 px wide) of the 1080p input: the native engine and
/// the frames crate's encoder against the tutorial's `palettegen`+`paletteuse` command.
fn gif(report: &mut String, runs: usize) {
    let file = fixture("h264-1080p.mp4");
    let mut ours = Vec::new();
    let mut bytes = 0;
    for _ in 0..runs {
        let started = Instant::now();
        let mut engine = Engine::open(&file, &OpenOptions::default()).unwrap();
        let times = animation_times(1.0, 3.0, 5.0, engine.info().duration);
        let size = engine.output_size(720, 0).unwrap();
        let mut budget = PixelBudget::new(u64::MAX, "none");
        bytes = make_gif(&times, size, 5.0, true, &mut budget, |t| {
            next_picture(&mut engine, t, size)
        })
        .unwrap()
        .bytes
        .len();
        ours.push(started.elapsed());
    }
    let target = root().join("target/bench/tutorial.gif");
    let mut cli = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        let status = Command::new("ffmpeg")
            .args(["-v", "error", "-nostdin", "-y", "-ss", "1", "-t", "3", "-i"])
            .arg(&file)
            .args([
                "-filter_complex",
                "fps=5,scale=720:-1:flags=lanczos[x];[x]split[x1][x2];[x1]palettegen[p];[x2][p]paletteuse",
                "-f",
                "gif",
            ])
            .arg(&target)
            .status()
            .unwrap();
        assert!(status.success());
        cli.push(started.elapsed());
    }
    let cli_bytes = std::fs::metadata(&target).unwrap().len();
    let (ours, cli) = (median(ours), median(cli));
    report.push_str(&format!(
        "\n## The tutorial's GIF: 3 s from 1 s of the 1080p H.264 input, 5 fps, 720 px wide\n\n\
         | system | time (median of {runs}) | bytes |\n| --- | ---: | ---: |\n\
         | native engine + frames crate (NeuQuant, dithered, unchanged pixels transparent) | {} | {bytes} |\n\
         | `ffmpeg ... fps=5,scale=720:-1:flags=lanczos,...palettegen...paletteuse` | {} | {cli_bytes} |\n\n\
         The CLI takes {:.1}x our time. (Quality, in the tests: ours 40.0 dB, ffmpeg's 39.55 dB.)\n",
        ms(ours),
        ms(cli),
        cli.as_secs_f64() / ours.as_secs_f64()
    ));
    gif_in_browser(report, runs);
}

/// JS run in a page of the server with a `#file` input: the tutorial's GIF of the file
/// `arguments[0]` times after one untimed run, with our JS API (the browser engine) and with
/// ffmpeg.wasm (its mt core: the tutorial's own command, the file copied into its memory as its
/// API needs; the copy, the command and reading the GIF out are timed).
const TIME_GIFS: &str = "
    const [runs] = arguments;
    const file = document.getElementById('file').files[0];
    const { Thumbnailer } = await import('/thumbnailer.js');
    const { FFmpeg } = await import('/peers/@ffmpeg/ffmpeg/dist/esm/index.js');
    const ffmpeg = new FFmpeg();
    const core = '/peers/@ffmpeg/core-mt/dist/esm/';
    await ffmpeg.load({ coreURL: core + 'ffmpeg-core.js', wasmURL: core + 'ffmpeg-core.wasm', workerURL: core + 'ffmpeg-core.worker.js' });
    const ours = (webcodecs) => {
      const t = Thumbnailer.create({ engine: 'browser', webcodecs });
      return async () => {
        const r = await (await t).thumbnail(file, { format: 'gif' });
        return { bytes: r.blob.size, engine: r.engine };
      };
    };
    const theirs = async () => {
      await ffmpeg.writeFile('in.mp4', new Uint8Array(await file.arrayBuffer()));
      const code = await ffmpeg.exec(['-ss', '1', '-t', '3', '-i', 'in.mp4', '-filter_complex',
        'fps=5,scale=720:-1:flags=lanczos[x];[x]split[x1][x2];[x1]palettegen[p];[x2][p]paletteuse', '-f', 'gif', 'out.gif']);
      if (code !== 0) throw new Error(`ffmpeg.wasm exited with ${code}`);
      const gif = await ffmpeg.readFile('out.gif');
      await ffmpeg.deleteFile('in.mp4');
      await ffmpeg.deleteFile('out.gif');
      return { bytes: gif.length, engine: 'ffmpeg.wasm' };
    };
    const out = {};
    for (const [name, make] of [['ours', ours(true)], ['ours-wasm', ours(false)], ['ffmpeg.wasm', theirs]]) {
      out[name] = await timed(make, runs);
    }
    ffmpeg.terminate();
    return out;";

/// JS for the scripts below: `timed(make, runs)` runs `make` once untimed, then `runs` times,
/// and gives `{ times, ...what the last made }`.
const TIMED: &str = "
    const timed = async (make, runs) => {
      await make();
      const times = [];
      let made;
      for (let i = 0; i < runs; i++) {
        const start = performance.now();
        made = await make();
        times.push(performance.now() - start);
      }
      return { times, ...made };
    };";

/// JS run in a page of the server with a `#file` input: a 100-tile contact sheet (160 px tiles)
/// of it, `arguments[0]` times after one untimed run, by our JS API on the WebCodecs path and on
/// the wasm decoders.
const TIME_SHEETS: &str = "
    const [runs] = arguments;
    const file = document.getElementById('file').files[0];
    const { Thumbnailer } = await import('/thumbnailer.js');
    const out = {};
    for (const [name, webcodecs] of [['ours', true], ['ours-wasm', false]]) {
      const t = await Thumbnailer.create({ engine: 'browser', webcodecs, timeout: 600000 });
      out[name] = await timed(async () => ({ engine: (await t.sprite(file, { count: 100, columns: 10, width: 160 })).engine }), runs);
      t.terminate();
    }
    return out;";

/// The tutorial's GIF in the run's headless browser: our JS API (WebCodecs, and the wasm decoders) against
/// ffmpeg.wasm's mt core.
fn gif_in_browser(report: &mut String, runs: usize) {
    let out = in_browser("h264-1080p.mp4", &format!("{TIMED}{TIME_GIFS}"), runs);
    let (ours, ours_bytes, ours_engine) = browser_figure(&out, "ours");
    let (wasm, wasm_bytes, wasm_engine) = browser_figure(&out, "ours-wasm");
    let (theirs, their_bytes, _) = browser_figure(&out, "ffmpeg.wasm");
    let browser = browser_kind().name();
    report.push_str(&format!(
        "\n### The same GIF in headless {browser} (warm: after one untimed run, median of {runs})\n\n\
         | system | time | bytes |\n| --- | ---: | ---: |\n\
         | ours, JS API, {ours_engine} (`t.thumbnail(file, {{ format: 'gif' }})`) | {} | {ours_bytes} |\n\
         | ours, JS API, {wasm_engine} (`webcodecs: false`) | {} | {wasm_bytes} |\n\
         | ffmpeg.wasm 0.12.15, core-mt 0.12.10 (the tutorial's command; writeFile + exec + readFile) | {} | {their_bytes} |\n\n\
         ffmpeg.wasm takes {:.1}x our time ({:.1}x the wasm decoders').\n",
        ms(ours),
        ms(wasm),
        ms(theirs),
        theirs.as_secs_f64() / ours.as_secs_f64(),
        theirs.as_secs_f64() / wasm.as_secs_f64()
    ));
}

/// A contact sheet in the run's headless browser: the sprite section's sheet (100 tiles of the 10-minute
/// 720p video) by our JS API on both browser paths, beside the native engine's time (`native`).
fn sheet_in_browser(report: &mut String, runs: usize, native: Duration) {
    let out = in_browser("bench/h264-720p-10min.mp4", &format!("{TIMED}{TIME_SHEETS}"), runs);
    let (ours, _, ours_engine) = browser_figure(&out, "ours");
    let (wasm, _, wasm_engine) = browser_figure(&out, "ours-wasm");
    let browser = browser_kind().name();
    report.push_str(&format!(
        "\n### The same sheet in headless {browser} (warm: after one untimed run, median of {runs})\n\n\
         | system | time |\n| --- | ---: |\n\
         | ours, JS API, {ours_engine} (`t.sprite(file, {{ count: 100, columns: 10, width: 160 }})`) | {} |\n\
         | ours, JS API, {wasm_engine} (`webcodecs: false`) | {} |\n\
         | the native engine (above) | {} |\n\n\
         The wasm decoders take {:.1}x the WebCodecs path's time; the browser {:.1}x the native engine's.\n",
        ms(ours),
        ms(wasm),
        ms(native),
        wasm.as_secs_f64() / ours.as_secs_f64(),
        ours.as_secs_f64() / native.as_secs_f64()
    ));
}

/// Runs `script` (its `arguments[0]`: `runs`) in a fresh page of the bench server with `fixture`
/// chosen in its `#file` input.
fn in_browser(fixture_name: &str, script: &str, runs: usize) -> serde_json::Value {
    let server = bench_server();
    runtime().block_on(async {
        let browser = Browser::start(browser_kind()).await;
        browser.goto(&server.url("/blank.html")).await;
        browser.choose_file("#file", &fixture(fixture_name)).await;
        let out = browser.run(script, vec![json!(runs)]).await;
        browser.close().await;
        assert!(out["thrown"].is_null(), "{out}");
        out
    })
}

/// A system's median time, bytes and engine from what `TIME_GIFS` or `TIME_SHEETS` returned.
fn browser_figure(out: &serde_json::Value, name: &str) -> (Duration, u64, String) {
    let times = js_times(out[name]["times"].as_array().unwrap_or_else(|| panic!("{name}: {out}")));
    let engine = out[name]["engine"].as_str().unwrap_or_default().to_owned();
    (median(times), out[name]["bytes"].as_u64().unwrap_or(0), engine)
}

/// JS run in a fresh page of the server with a `#file` input: `arguments[1]` thumbnails of the
/// file's frame at 1 s, 640 px wide PNG, by the system `arguments[0]`, timed from before it loads
/// (the first: cold) and each after (warm). Each system's own way, as its documentation shows it:
/// - ours: the JS API (`webcodecs` on: WebCodecs and the demux-only engine; off: the wasm decoders);
/// - mediabunny: `Input` + `BlobSource` + `CanvasSink` (WebCodecs; the canvas to PNG);
/// - ffmpeg.wasm: its mt core, the file written into its memory, `-ss 1 -i in -frames:v 1
///   -vf scale=640:-1 out.png`, read out;
/// - `<video>`: an object URL, seek to 1 s, draw on a canvas, PNG.
const TIME_PEERS: &str = "
    const [system, runs] = arguments;
    const file = document.getElementById('file').files[0];
    const started = performance.now();
    const png = (canvas) => canvas.convertToBlob
      ? canvas.convertToBlob({ type: 'image/png' })
      : new Promise((done) => canvas.toBlob(done, 'image/png'));
    let make;
    if (system === 'ours' || system === 'ours-wasm') {
      const { Thumbnailer } = await import('/thumbnailer.js');
      const t = await Thumbnailer.create({ engine: 'browser', webcodecs: system === 'ours' });
      make = async () => {
        const r = await t.thumbnail(file, { at: 1, width: 640, height: 640, format: 'png' });
        return { width: r.width, engine: r.engine };
      };
    } else if (system === 'mediabunny') {
      const mb = await import('/peers/mediabunny/dist/bundles/mediabunny.mjs');
      make = async () => {
        const input = new mb.Input({ source: new mb.BlobSource(file), formats: mb.ALL_FORMATS });
        const track = await input.getPrimaryVideoTrack();
        const { canvas } = await new mb.CanvasSink(track, { width: 640 }).getCanvas(1);
        await png(canvas);
        input.dispose?.();
        return { width: canvas.width };
      };
    } else if (system === 'ffmpeg.wasm') {
      const { FFmpeg } = await import('/peers/@ffmpeg/ffmpeg/dist/esm/index.js');
      const ffmpeg = new FFmpeg();
      const core = '/peers/@ffmpeg/core-mt/dist/esm/';
      await ffmpeg.load({ coreURL: core + 'ffmpeg-core.js', wasmURL: core + 'ffmpeg-core.wasm', workerURL: core + 'ffmpeg-core.worker.js' });
      make = async () => {
        await ffmpeg.writeFile('in', new Uint8Array(await file.arrayBuffer()));
        const code = await ffmpeg.exec(['-ss', '1', '-i', 'in', '-frames:v', '1', '-vf', 'scale=640:-1', 'out.png']);
        if (code !== 0) throw new Error(`ffmpeg.wasm exited with ${code}`);
        const out = await ffmpeg.readFile('out.png');
        await ffmpeg.deleteFile('in');
        await ffmpeg.deleteFile('out.png');
        return { width: 640, bytes: out.length };
      };
    } else {
      make = async () => {
        const video = document.createElement('video');
        video.muted = true;
        const url = URL.createObjectURL(file);
        video.src = url;
        await new Promise((ok, fail) => { video.onloadeddata = ok; video.onerror = () => fail(new Error(`<video>: ${video.error?.message}`)); });
        video.currentTime = 1;
        await new Promise((ok) => { video.onseeked = ok; });
        const canvas = new OffscreenCanvas(640, Math.round(640 * video.videoHeight / video.videoWidth));
        canvas.getContext('2d').drawImage(video, 0, 0, canvas.width, canvas.height);
        await png(canvas);
        URL.revokeObjectURL(url);
        video.removeAttribute('src');
        video.load();
        return { width: canvas.width };
      };
    }
    const times = [];
    let last;
    try {
      for (let i = 0; i < runs; i++) {
        const start = i === 0 ? started : performance.now();
        last = await make();
        times.push(performance.now() - start);
      }
    } catch (e) {
      return { error: String(e.message || e) };
    }
    return { times, ...last };";

/// The browser's decoder against the peer libraries, in one headless Chromium run (the issue's
/// table): ours on the WebCodecs path and on the wasm decoders, mediabunny, ffmpeg.wasm's mt core
/// and the `<video>` element, on 1080p H.264, 720p VP9 and 1080p AV1. Cold: a fresh browser profile,
/// from loading the library to the first PNG (median of `cold_runs` profiles); warm: each one after
/// (median of the profiles' later runs). The systems take turns round by round, so that the
/// machine's drift over the minutes this takes falls on each alike.
fn peers(report: &mut String, runs: usize, cold_runs: usize, only: &[String]) {
    let server = bench_server();
    let runtime = runtime();
    let inputs = [
        ("1080p H.264", fixture("h264-1080p.mp4")),
        ("720p VP9", fixture("bench/vp9-720p.webm")),
        ("1080p AV1", fixture("bench/av1-1080p.mp4")),
    ];
    let systems: Vec<&str> = ["ours", "ours-wasm", "mediabunny", "ffmpeg.wasm", "video"]
        .into_iter()
        .filter(|s| only.is_empty() || only.iter().any(|o| o == s))
        .collect();
    let _ = writeln!(
        report,
        "## The browser's own decoder against the peer libraries (headless {}, software decoders)\n\n\
         The frame at 1 s as a 640 px wide PNG. Cold: a fresh browser profile, from loading the library to the \
         first image (median of {cold_runs}); warm: each image after (median of {} in all); the systems take turns, \
         a profile each per round. Ours: the JS API in its \
         worker; `webcodecs` is the default path (the demux-only engine's packets, WebCodecs), `wasm` the engine's \
         own decoders. mediabunny 1.61.0 (`CanvasSink`), ffmpeg.wasm 0.12.15 with core-mt 0.12.10 \
         (the file written in, `-ss 1 -frames:v 1 -vf scale=640:-1`), `<video>` + canvas.\n",
        browser_kind().name(),
        cold_runs * runs.saturating_sub(1)
    );
    let _ = writeln!(report, "| input | system | cold | warm |\n| --- | --- | ---: | ---: |");
    let mut ratios = Vec::new();
    runtime.block_on(async {
        for (label, file) in &inputs {
            // Round by round, every system in each (so that the machine's drift over minutes
            // falls on all of them alike): a fresh browser profile, then its warm runs.
            let mut measured: Vec<(&str, Vec<Duration>, Vec<Duration>, Option<String>, String)> = systems
                .iter()
                .map(|s| (*s, Vec::new(), Vec::new(), None, String::new()))
                .collect();
            for _ in 0..cold_runs {
                for (system, cold, warm, failed, made_by) in &mut measured {
                    if failed.is_some() {
                        continue;
                    }
                    let browser = Browser::start(browser_kind()).await;
                    browser.goto(&server.url("/blank.html")).await;
                    browser.choose_file("#file", file).await;
                    let out = browser.run(TIME_PEERS, vec![json!(system), json!(runs.max(2))]).await;
                    browser.close().await;
                    let Some(times) = out["times"].as_array() else {
                        *failed = Some(out["error"].as_str().map_or_else(|| out.to_string(), str::to_owned));
                        continue;
                    };
                    *made_by = out["engine"].as_str().unwrap_or_default().to_owned();
                    let times = js_times(times);
                    cold.push(times[0]);
                    warm.extend_from_slice(&times[1..]);
                }
            }
            let mut figures = std::collections::HashMap::new();
            for (system, cold, warm, failed, made_by) in measured {
                let name = match system {
                    "ours" => format!("ours, webcodecs ({made_by})"),
                    "ours-wasm" => format!("ours, wasm ({made_by})"),
                    "video" => "`<video>` + canvas".into(),
                    other => other.into(),
                };
                match failed {
                    Some(e) => {
                        let _ = writeln!(report, "| {label} | {name} | fails: {e} | |");
                    }
                    None => {
                        let (cold, warm) = (median(cold), median(warm));
                        let _ = writeln!(report, "| {label} | {name} | {} | {} |", ms(cold), ms(warm));
                        figures.insert(system, (cold, warm));
                    }
                }
            }
            ratios.push((*label, figures));
        }
    });
    let _ = writeln!(
        report,
        "\nRatios (targets: warm ≥ 1.0× mediabunny's speed, cold within 1.5× of its time, warm ≥ 2× ffmpeg.wasm's speed):\n\n\
         | input | mediabunny warm / ours | ours cold / mediabunny cold | ffmpeg.wasm warm / ours |\n| --- | ---: | ---: | ---: |"
    );
    for (label, figures) in ratios {
        let ratio = |a: Option<&(Duration, Duration)>,
                     b: Option<&(Duration, Duration)>,
                     pick: fn(&(Duration, Duration)) -> Duration| {
            match (a, b) {
                (Some(a), Some(b)) => format!("{:.2}×", pick(a).as_secs_f64() / pick(b).as_secs_f64()),
                _ => "–".into(),
            }
        };
        let (ours, mb, ff) = (
            figures.get("ours"),
            figures.get("mediabunny"),
            figures.get("ffmpeg.wasm"),
        );
        let _ = writeln!(
            report,
            "| {label} | {} | {} | {} |",
            ratio(mb, ours, |f| f.1),
            ratio(ours, mb, |f| f.0),
            ratio(ff, ours, |f| f.1)
        );
    }
    let _ = writeln!(report);
}
