//! The npm package as its users get it: the tarball `./dev.sh package` made (target/npm/*.tgz),
//! installed with npm into fresh apps built by Vite and by webpack 5 (pinned in their lock files),
//! served by Python's static server (not ours) without COOP/COEP and with them, making a
//! thumbnail in each browser; a TypeScript consumer compiled with `--strict`; the package
//! imported in Node as server-side rendering does; and what `npm pack` ships.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};
use test_support::browser::{Browser, BrowserKind};
use test_support::{cli_frame, fixture, free_port, in_every_browser, psnr, root};

/// The package's tarball: the one file `./dev.sh package` leaves in target/npm/.
fn tarball() -> PathBuf {
    let found: Vec<PathBuf> = std::fs::read_dir(root().join("target/npm"))
        .expect("target/npm: run ./dev.sh package (./dev.sh test does)")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "tgz"))
        .collect();
    assert_eq!(found.len(), 1, "exactly one package in target/npm: {found:?}");
    found[0].clone()
}

/// Runs `npm args…` in `dir` (the machine's npm, its cache shared); its stdout. Fails the test
/// with npm's own words when npm fails.
fn npm(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("npm")
        .args(args)
        .args(["--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir)
        .output()
        .expect("npm");
    assert!(
        out.status.success(),
        "npm {args:?} in {}: {}{}",
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A copy of tests/npm/`name` in a temporary folder, its locked dependencies installed (`npm
/// ci`), and the package from its tarball beside them, as `npm install <tgz>` puts it (not saved:
/// the lock files pin the tools, the tarball changes with every build).
fn consumer(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let from = root().join("tests/npm").join(name);
    for entry in std::fs::read_dir(&from).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    npm(dir.path(), &["ci"]);
    npm(dir.path(), &["install", "--no-save", tarball().to_str().unwrap()]);
    dir
}

/// A bundler's app, built once per test run: tests/npm/`name` with the shared page (app.js)
/// as its entry, `npm run build` into dist/ (the page beside the bundle for webpack, whose
/// build makes none).
fn built(name: &'static str) -> PathBuf {
    static BUILT: Mutex<Vec<(&str, tempfile::TempDir)>> = Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, dir)) = built.iter().find(|(n, _)| *n == name) {
        return dir.path().join("dist");
    }
    let dir = consumer(name);
    std::fs::copy(root().join("tests/npm/app.js"), dir.path().join("app.js")).unwrap();
    npm(dir.path(), &["run", "build"]);
    let dist = dir.path().join("dist");
    if !dist.join("index.html").exists() {
        std::fs::copy(dir.path().join("index.html"), dist.join("index.html")).unwrap();
    }
    built.push((name, dir));
    dist
}

/// Python's `http.server` on a folder, on 127.0.0.1 and a free port, optionally sending COOP and
/// COEP (so that the page is cross-origin isolated); what it logged (one line a request) is
/// readable. Stopped on drop.
struct StaticServer {
    child: Child,
    port: u16,
    log: PathBuf,
    _logs: tempfile::TempDir,
}

/// http.server with the two headers of cross-origin isolation on every response.
const ISOLATING_SERVER: &str = "
import functools, http.server, sys
class Isolating(http.server.SimpleHTTPRequestHandler):
    def end_headers(self):
        self.send_header('Cross-Origin-Opener-Policy', 'same-origin')
        self.send_header('Cross-Origin-Embedder-Policy', 'require-corp')
        super().end_headers()
handler = functools.partial(Isolating, directory=sys.argv[2])
http.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), handler).serve_forever()
";

impl StaticServer {
    fn start(dir: &Path, isolated: bool) -> StaticServer {
        let port = free_port();
        let logs = tempfile::tempdir().unwrap();
        let log = logs.path().join("requests.log");
        let mut command = Command::new("python3");
        if isolated {
            command.args(["-c", ISOLATING_SERVER, &port.to_string(), dir.to_str().unwrap()]);
        } else {
            command.args([
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                "--directory",
                dir.to_str().unwrap(),
                &port.to_string(),
            ]);
        }
        let child = command
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("python3");
        test_support::wait_for_port(port, Duration::from_secs(10), || "http.server did not start".into());
        StaticServer {
            child,
            port,
            log,
            _logs: logs,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The paths requested so far with a 200 answer.
    fn served(&self) -> Vec<String> {
        let mut text = String::new();
        std::fs::File::open(&self.log)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        text.lines()
            .filter(|l| l.contains("\" 200 "))
            .filter_map(|l| l.split('"').nth(1)?.split(' ').nth(1).map(str::to_owned))
            .collect()
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The frame a thumbnail of h264.mp4 at 1 s in 160x120 is (a frame of testsrc: the next frame's
/// differs in its counter and moving parts, about 20 dB away); the wasm engine's and the
/// browser's decoders give the CLI's to 40 dB and more.
const SAME_FRAME_DB: f64 = 32.0;

/// The app built by `bundler`, on a page without and with cross-origin isolation, makes
/// h264.mp4's thumbnail with the browser's decoder and with the wasm engine's: the right frame,
/// by the engine this browser has there, every file from the app's own server.
async fn makes_a_thumbnail(bundler: &'static str, kind: BrowserKind) {
    let dist = built(bundler);
    let file = fixture("h264.mp4");
    let reference = cli_frame(&file, 1.0, 160, 120, 0);
    let browser = Browser::start(kind).await;
    for isolated in [false, true] {
        let server = StaticServer::start(&dist, isolated);
        browser.goto(&server.url("/index.html")).await;
        browser
            .wait_for("document.title === 'ready'", Duration::from_secs(30))
            .await;
        let page_isolated = browser.run("return window.isolated;", vec![]).await;
        assert_eq!(page_isolated, json!(isolated), "{bundler}: crossOriginIsolated");
        browser.choose_file("#file", &file).await;
        // the wasm engine this page gets: mt where it is isolated and the browser shares memory
        let wasm = if isolated { kind.isolated_engine() } else { "browser-st" };
        for webcodecs in [true, false] {
            let made = browser
                .run("return await window.make(arguments[0]);", vec![json!(webcodecs)])
                .await;
            assert!(
                made["error"].is_null(),
                "{bundler} (isolated {isolated}, webcodecs {webcodecs}): {made}"
            );
            let expected = if webcodecs { kind.webcodecs_or(wasm) } else { wasm };
            assert_eq!(
                (
                    made["engine"].as_str(),
                    made["width"].as_u64(),
                    made["height"].as_u64(),
                    made["time"].as_f64()
                ),
                (Some(expected), Some(160), Some(120), Some(1.0)),
                "{bundler} (isolated {isolated}, webcodecs {webcodecs})"
            );
            let png = base64::engine::general_purpose::STANDARD
                .decode(made["png"].as_str().unwrap())
                .unwrap();
            let image = image::load_from_memory_with_format(&png, image::ImageFormat::Png)
                .unwrap()
                .to_rgba8();
            let db = psnr(image.as_raw(), &reference);
            eprintln!(
                "{bundler} in {} (isolated {isolated}): {expected}, {db:.1} dB from the ffmpeg CLI",
                kind.name()
            );
            assert!(
                db >= SAME_FRAME_DB,
                "{bundler} {expected}: {db:.1} dB from the CLI's frame"
            );
        }
        // The worker's wasm and the engine's (the demux-only build, and the whole one for the
        // wasm decoders) came from the app's server, where the bundler put them; no other host
        // was asked (none other is reachable here).
        let served = server.served();
        let wasm = served.iter().filter(|p| p.ends_with(".wasm")).count();
        assert!(
            wasm >= 3,
            "{bundler}: the worker's and the engine's wasm were not all served: {served:?}"
        );
    }
    browser.close().await;
}

async fn the_vite_app_makes_a_thumbnail(kind: BrowserKind) {
    makes_a_thumbnail("vite-app", kind).await;
}

async fn the_webpack_app_makes_a_thumbnail(kind: BrowserKind) {
    makes_a_thumbnail("webpack-app", kind).await;
}

in_every_browser!(the_vite_app_makes_a_thumbnail, the_webpack_app_makes_a_thumbnail);

/// tests/npm/typescript/consumer.ts uses every option and result type of both entry points and
/// compiles with `--strict`; wrong.ts (a wrong option value, a code that is none, a field that
/// does not exist) does not, each error where it is expected.
#[test]
fn a_typescript_consumer_compiles_strictly_and_a_wrong_one_does_not() {
    let dir = consumer("typescript");
    let tsc = dir.path().join("node_modules/.bin/tsc");
    let out = Command::new(&tsc)
        .args(["-p", "."])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "consumer.ts: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = Command::new(&tsc)
        .args([
            "--strict",
            "--noEmit",
            "--module",
            "esnext",
            "--moduleResolution",
            "bundler",
            "--target",
            "es2022",
            "--lib",
            "es2022,dom",
            "wrong.ts",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "wrong.ts compiled");
    for (line, expected) in [(5, "'\"cloud\"'"), (6, "'\"bmp\"'"), (7, "'\"oops\"'"), (8, "'pixels'")] {
        assert!(
            said.lines()
                .any(|l| l.starts_with(&format!("wrong.ts({line},")) && l.contains(expected)),
            "no error for {expected} on line {line}: {said}"
        );
    }
}

/// Server-side rendering imports the package in Node: nothing of the browser is touched until
/// it is used, and then a typed error says what is missing.
#[test]
fn importing_the_package_in_node_touches_no_browser_global() {
    let dir = consumer("typescript");
    let script = "
        const api = await import('videothumb');
        await import('videothumb/element');
        const made = await api.Thumbnailer.create({ engine: 'auto' });
        const failure = await made.thumbnail(new Blob([new Uint8Array(16)])).catch((e) => e);
        console.log(JSON.stringify({
          thumbnailer: typeof api.Thumbnailer, error: typeof api.ThumbnailError,
          window: typeof window, document: typeof document, worker: typeof Worker,
          code: failure.code, isError: failure instanceof api.ThumbnailError,
        }));";
    let out = Command::new("node")
        .args(["--input-type=module", "-e", script])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        said,
        json!({ "thumbnailer": "function", "error": "function", "window": "undefined", "document": "undefined",
                "worker": "undefined", "code": "engine_unavailable", "isError": true })
    );
}

/// `videothumb/placeholder` draws a ThumbHash back in Node as in a page (evanw's decoder, the
/// package's one dependency): the placeholder of a picture, made by the frames crate as both hosts
/// make it, decodes to the reference decoder's sketch (the Rust port's, pixel for pixel within
/// rounding) and to the picture's own colours, scaled down (within a stated distance); a string
/// that is not a ThumbHash is a typed error.
#[test]
fn a_placeholder_draws_back_in_node() {
    let dir = consumer("typescript");
    // Four quadrants of colour, 160x120: what a sketch must keep.
    let (width, height) = (160u32, 120u32);
    let mut rgba = Vec::new();
    for y in 0..height {
        for x in 0..width {
            let colour = match (x < width / 2, y < height / 2) {
                (true, true) => [220, 40, 40, 255],
                (false, true) => [40, 200, 60, 255],
                (true, false) => [40, 60, 220, 255],
                (false, false) => [240, 230, 60, 255],
            };
            rgba.extend(colour);
        }
    }
    let placeholder = thumbnail_frames::placeholder::Placeholder::of(width, height, &rgba);
    let script = format!(
        "const {{ thumbhashToDataURL, thumbhashToColor }} = await import('videothumb/placeholder');
         const url = thumbhashToDataURL('{hash}');
         const bad = (() => {{ try {{ thumbhashToDataURL('not a hash!'); }} catch (e) {{ return e.code; }} }})();
         const short = (() => {{ try {{ thumbhashToDataURL('AAA='); }} catch (e) {{ return e.code; }} }})();
         console.log(JSON.stringify({{ url, color: thumbhashToColor('{hash}'), bad, short }}));",
        hash = placeholder.thumbhash
    );
    let out = Command::new("node")
        .args(["--input-type=module", "-e", &script])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (&said["bad"], &said["short"]),
        (&json!("invalid_argument"), &json!("invalid_argument"))
    );
    assert!(said["color"].as_str().unwrap().starts_with("rgba("), "{said}");
    let png = said["url"]
        .as_str()
        .unwrap()
        .strip_prefix("data:image/png;base64,")
        .unwrap();
    let png = base64::engine::general_purpose::STANDARD.decode(png).unwrap();
    let drawn = image::load_from_memory(&png).unwrap().to_rgba8();
    // The reference: the Rust port's decoding of the same hash.
    let hash = base64::engine::general_purpose::STANDARD
        .decode(&placeholder.thumbhash)
        .unwrap();
    let (w, h, reference) = thumbhash::thumb_hash_to_rgba(&hash).unwrap();
    assert_eq!(
        drawn.dimensions(),
        (w as u32, h as u32),
        "the sketch's size (the picture's aspect)"
    );
    let most = drawn
        .as_raw()
        .iter()
        .zip(&reference)
        .map(|(a, b)| a.abs_diff(*b))
        .max()
        .unwrap();
    assert!(most <= 2, "{most} levels from the reference decoder");
    // Against the picture scaled down to the sketch's size: a sketch of 20-odd bytes keeps where
    // the colours are and blurs the edges, the worst case for it being hard-edged saturated
    // quadrants such as these (measured 36.4 levels a channel on average); the same picture
    // mirrored, its quadrants swapped, is 121.7 from the sketch.
    let scaled = image::imageops::resize(
        &image::RgbaImage::from_raw(width, height, rgba).unwrap(),
        w as u32,
        h as u32,
        image::imageops::FilterType::Triangle,
    );
    let mean_off = |a: &[u8], b: &[u8]| {
        let pairs = a.chunks_exact(4).zip(b.chunks_exact(4));
        pairs
            .map(|(p, q)| (0..3).map(|c| f64::from(p[c].abs_diff(q[c]))).sum::<f64>())
            .sum::<f64>()
            / (a.len() / 4 * 3) as f64
    };
    let off = mean_off(drawn.as_raw(), scaled.as_raw());
    let mut swapped = scaled.clone();
    image::imageops::flip_horizontal_in_place(&mut swapped);
    let other = mean_off(drawn.as_raw(), swapped.as_raw());
    eprintln!("the sketch is {off:.1} levels from the picture scaled down, {other:.1} from the swapped one");
    assert!(off <= 45.0 && other > 2.5 * off, "{off:.1}, {other:.1}");
}

/// What `npm pack` puts in the package: the modules and their declarations, the worker's glue and
/// wasm, the engine's three builds and what FFmpeg's licence asks for, the licences and the
/// README; nothing else (no sources maps, no tests, no precompressed copies).
#[test]
fn the_package_ships_only_what_it_should() {
    let stage = root().join("target/npm/package");
    let listed: Value = serde_json::from_str(&npm(&stage, &["pack", "--dry-run", "--json"])).unwrap();
    let files: BTreeSet<String> = listed[0]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_owned())
        .collect();
    let mut expected: BTreeSet<String> = [
        "package.json",
        "README.md",
        "LICENSE-MIT",
        "LICENSE-APACHE",
        "thumbnailer-worker.js",
        "pkg/thumbnail_worker.js",
        "pkg/thumbnail_worker_bg.wasm",
        "engine/thumbnail-engine-mt.worker.js",
        "engine/BUILDINFO",
        "engine/NOTICE.md",
        "engine/COPYING.LGPLv2.1",
        "engine/source/recipe/build.sh",
    ]
    .map(str::to_owned)
    .into();
    // The engine's own source, every file of engine/c (for relinking, as the LGPL asks).
    for entry in std::fs::read_dir(root().join("engine/c")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        expected.insert(format!("engine/source/c/{name}"));
    }
    for module in [
        "thumbnailer",
        "video-thumbnailer",
        "engine-worker",
        "errors",
        "server-client",
        "types",
        "picking",
        "placeholder",
    ] {
        expected.insert(format!("{module}.js"));
        expected.insert(format!("{module}.d.ts"));
    }
    for variant in ["demux", "st", "mt"] {
        expected.insert(format!("engine/thumbnail-engine-{variant}.js"));
        expected.insert(format!("engine/thumbnail-engine-{variant}.wasm"));
    }
    assert_eq!(files, expected);
    assert_eq!(listed[0]["name"], "videothumb");
    let manifest: Value = serde_json::from_str(&std::fs::read_to_string(stage.join("package.json")).unwrap()).unwrap();
    assert_eq!(
        manifest["version"],
        env!("CARGO_PKG_VERSION"),
        "the workspace's version"
    );
    assert!(
        manifest.get("devDependencies").is_none() && manifest.get("private").is_none(),
        "{manifest}"
    );
    assert_eq!(
        tarball().file_name().unwrap().to_str().unwrap(),
        format!("videothumb-{}.tgz", env!("CARGO_PKG_VERSION"))
    );
}
