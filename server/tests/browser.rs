//! Browser tests, each in Chromium, Firefox ESR and WebKitGTK (`in_every_browser!`), against the
//! real server on 127.0.0.1. The page at / and the JS API at /thumbnailer.js make thumbnails in the
//! browser (the mt engine on the cross-origin-isolated page where the browser can run it, the st
//! engine on a page of another origin without COOP/COEP), fall back to the server, show typed
//! errors, cancel, and recover after a failed job. Each browser is held to the path its measured
//! capabilities give (`BrowserKind::webcodecs_or`, `isolated_engine`).

use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};
use test_support::browser::{serve_page_on_another_origin, BrowserKind, COUNT_ENGINE_STARTS_AND_JOBS};
use test_support::in_every_browser;
use test_support::{
    colourfulness, fixture, mean_luma, psnr, Browser, Expect, Server, BAD_INPUTS, HDR_VIDEOS, REAL_WORLD, VIDEOS,
};
use thumbnail_engine::{Engine, OpenOptions};
use thumbnail_vocabulary::Seek;

/// The browser's frame against the native engine's: the same C engine and FFmpeg, built for wasm.
/// PNG is lossless, so only the two builds' float rounding in swscale separates them.
const SAME_FRAME_DB: f64 = 40.0;
const JOB_TIME: Duration = Duration::from_secs(60);

fn start_server() -> Server {
    Server::start(Path::new(env!("CARGO_BIN_EXE_thumbnail-server")), &[])
}

/// A thumbnail as the page or the API gave it.
#[derive(Debug)]
struct Made {
    engine: String,
    width: u32,
    height: u32,
    time: f64,
    png: Vec<u8>,
}

impl Made {
    /// From `{ engine, width, height, time, image }` (image: base64; numbers, or strings as in a
    /// dataset).
    fn from_json(v: &Value) -> Made {
        let number = |name: &str| {
            v[name]
                .as_f64()
                .or_else(|| v[name].as_str()?.parse().ok())
                .unwrap_or_else(|| panic!("no {name} in {v}"))
        };
        Made {
            engine: v["engine"].as_str().unwrap().to_owned(),
            width: number("width") as u32,
            height: number("height") as u32,
            time: number("time"),
            png: base64_bytes(&v["image"]),
        }
    }
}

/// What the page shows once a job is over.
#[derive(Debug)]
enum Outcome {
    Made(Made),
    Failed { code: String, words: String },
}

/// JS for `run`: `base64Of(blob)`, to bring an image back as JSON.
const BASE64_OF: &str = "
    const base64Of = async (blob) => {
      const bytes = new Uint8Array(await blob.arrayBuffer());
      let text = '';
      for (const b of bytes) text += String.fromCharCode(b);
      return btoa(text);
    };";

/// The bytes a page sent back as base64 (`base64Of`, `btoa`).
fn base64_bytes(base64: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(base64.as_str().unwrap())
        .unwrap()
}

/// Picks `file` on the page, waits for its probe, and presses "Make thumbnail".
async fn make_on_page(browser: &Browser, file: &Path) -> Outcome {
    browser.choose_file("#file", file).await;
    browser
        .wait_for(
            "!document.getElementById('info').textContent.includes('reading') && !document.getElementById('make').disabled",
            JOB_TIME,
        )
        .await;
    press_make(browser).await
}

async fn press_make(browser: &Browser) -> Outcome {
    browser
        .run(
            "document.getElementById('result').hidden = true; document.getElementById('make').click();",
            vec![],
        )
        .await;
    browser
        .wait_for(
            "(!document.getElementById('result').hidden || document.getElementById('error').dataset.code) && document.getElementById('progress').hidden",
            JOB_TIME,
        )
        .await;
    outcome(browser).await
}

async fn outcome(browser: &Browser) -> Outcome {
    let shown = browser
        .run(
            &format!(
                "{BASE64_OF}
                 const error = document.getElementById('error');
                 if (error.dataset.code) return {{ code: error.dataset.code, words: error.textContent }};
                 const image = await (await fetch(document.getElementById('preview').src)).blob();
                 return {{ ...document.getElementById('result').dataset, image: await base64Of(image) }};"
            ),
            vec![],
        )
        .await;
    match shown["code"].as_str() {
        Some(code) => Outcome::Failed {
            code: code.to_owned(),
            words: shown["words"].as_str().unwrap().to_owned(),
        },
        None => Outcome::Made(Made::from_json(&shown)),
    }
}

/// The native engine's frame of `file` at `at`, in the same box.
fn native_frame(file: &Path, at: f64, box_side: u32) -> thumbnail_engine::Image {
    let mut engine = Engine::open(file, &OpenOptions::default()).unwrap();
    engine.frame(at, box_side, box_side, Seek::Exact).unwrap()
}

/// Asserts that `made` is `file`'s frame at `at` in the box, made by `engine`: its size, time and
/// pixels are the native engine's.
fn assert_like_native(made: &Made, file: &Path, at: f64, box_side: u32, engine: &str, floor_db: f64) {
    let name = file.file_name().unwrap().to_string_lossy();
    let Made {
        width, height, time, ..
    } = *made;
    // The page's browser engine makes a still of a codec the browser decodes with WebCodecs.
    let webcodecs = engine.starts_with("browser-") && made.engine == "browser-webcodecs";
    assert!(made.engine == engine || webcodecs, "{name}: made by {}", made.engine);
    let floor_db = if made.engine == "browser-webcodecs" {
        SQUEEZED
            .iter()
            .find(|s| s.0 == name)
            .map_or(WEBCODECS_DB, |s| s.1)
            .min(floor_db)
    } else {
        floor_db
    };
    let native = native_frame(file, at, box_side);
    assert_eq!((width, height), (native.width, native.height), "{name}: size");
    assert!(
        (time - native.time).abs() < 1e-3,
        "{name}: frame time {time} vs {}",
        native.time
    );
    let image = image::load_from_memory(&made.png).unwrap().to_rgba8();
    assert_eq!(image.dimensions(), (width, height), "{name}: the PNG's own size");
    // Encoded as the server encodes (the frames crate's encoder in both hosts), not by a canvas.
    let as_server = thumbnail_frames::png::encode(image.as_raw(), width, height).unwrap();
    assert!(made.png == as_server, "{name}: not the server's PNG of these pixels");
    let db = psnr(image.as_raw(), &native.rgba);
    if std::env::var_os("DBG_IMAGES").is_some() {
        image.save(format!("/tmp/dbg/{name}-{}.png", made.engine)).unwrap();
        image::RgbaImage::from_raw(width, height, native.rgba.clone())
            .unwrap()
            .save(format!("/tmp/dbg/{name}-native.png"))
            .unwrap();
    }
    eprintln!(
        "{name}: {} {width}x{height} at {time:.3} s, {db:.1} dB vs native",
        made.engine
    );
    assert!(db >= floor_db, "{name}: {db:.1} dB");
}

/// Asserts that the page makes `file`'s frame with `engine`, like the native engine at the time
/// and in the box the page asked for.
async fn assert_made_like_native(browser: &Browser, file: &Path, engine: &str, floor_db: f64) {
    let outcome = make_on_page(browser, file).await;
    let Outcome::Made(made) = outcome else {
        panic!("{}: {outcome:?}", file.display());
    };
    let asked = browser
        .run(
            "return [Number(document.getElementById('at').value), Number(document.getElementById('width').value)];",
            vec![],
        )
        .await;
    let (at, box_side) = (asked[0].as_f64().unwrap(), asked[1].as_u64().unwrap() as u32);
    assert_like_native(&made, file, at, box_side, engine, floor_db);
}

/// The app's page (cross-origin isolated) makes every fixture like the native engine: by WebCodecs
/// where this browser gives the decoded planes, else by its wasm engine (mt; st in WebKitGTK).
async fn the_page_makes_every_fixture_with_its_wasm_engine(kind: BrowserKind) {
    let server = start_server();
    let browser = Browser::start(kind).await;
    browser.goto(&server.url("/")).await;
    assert_eq!(
        browser.run("return self.crossOriginIsolated;", vec![]).await,
        json!(true),
        "the page is cross-origin isolated"
    );
    let idle = browser
        .run(
            "return ['cancel', 'progress', 'result'].map((id) => getComputedStyle(document.getElementById(id)).display);",
            vec![],
        )
        .await;
    assert_eq!(
        idle,
        json!(["none", "none", "none"]),
        "nothing of a job shows before one"
    );
    for video in VIDEOS {
        assert_made_like_native(&browser, &fixture(video.file), kind.isolated_engine(), SAME_FRAME_DB).await;
    }
    // Scaled down: 1920x1080 into the 320 px box.
    browser
        .run("document.getElementById('width').value = '320';", vec![])
        .await;
    assert_made_like_native(
        &browser,
        &fixture("h264-1080p.mp4"),
        kind.isolated_engine(),
        SAME_FRAME_DB,
    )
    .await;
    browser.close().await;
}

/// The real-world fixtures in the browser give the native engine's frame (the same outcome as the
/// server's), as close as the wasm engine's frames are under Node (`RealWorld::wasm_db`).
async fn the_page_makes_the_real_world_fixtures_like_the_server(kind: BrowserKind) {
    let server = start_server();
    let browser = Browser::start(kind).await;
    browser.goto(&server.url("/")).await;
    for case in REAL_WORLD {
        if let Expect::Frame { .. } = case.expect {
            assert_made_like_native(&browser, &fixture(case.file), kind.isolated_engine(), case.wasm_db).await;
        }
    }
    browser.close().await;
}

/// An mt engine that cannot start (its wasm broken here; in a browser: threads refused, a worker
/// blocked) is not the end: the same job is made by the st engine, and so are the next.
async fn a_failed_mt_start_falls_back_to_the_st_engine_in_the_same_job(kind: BrowserKind) {
    let engines = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(test_support::root().join("engine/dist")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_file() && !name.ends_with(".br") && !name.ends_with(".gz") {
            std::fs::copy(&path, engines.path().join(&name)).unwrap();
        }
    }
    std::fs::write(engines.path().join("thumbnail-engine-mt.wasm"), b"\0asm not really").unwrap();
    let server = Server::start(
        Path::new(env!("CARGO_BIN_EXE_thumbnail-server")),
        &["--engine-dir", engines.path().to_str().unwrap()],
    );
    let browser = Browser::start(kind).await;
    browser.goto(&server.url("/")).await;
    // MPEG-4 Part 2: no browser decodes it, so the whole engine must start.
    for _ in 0..2 {
        assert_made_like_native(&browser, &fixture("mpeg4.avi"), "browser-st", SAME_FRAME_DB).await;
    }
    browser.close().await;
}

/// POSTs the server has answered on `route`, from its metrics.
async fn posts_to(server: &Server, route: &str) -> f64 {
    let text = server.metrics().await;
    let prefix = format!("thumbnail_http_requests_total{{route=\"{route}\",method=\"POST\"");
    text.lines()
        .filter(|l| l.starts_with(&prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn auto_mode_asks_before_sending_what_the_browser_cannot_decode_to_the_server(kind: BrowserKind) {
    let server = start_server();
    let browser = Browser::start(kind).await;
    browser.goto(&server.url("/")).await;
    // The page promises the video is not uploaded: neither WebCodecs nor the wasm engine decodes
    // PNG in QuickTime, so it asks.
    browser.choose_file("#file", &fixture("png.mov")).await;
    // Its description is read in the browser (the demux-only engine needs no decoder); the
    // filmstrip, the first frames asked for, brings the question: declined, it is not shown.
    browser
        .wait_for("!document.getElementById('ask-upload').hidden", JOB_TIME)
        .await;
    browser
        .run("document.getElementById('upload-no').click();", vec![])
        .await;
    browser
        .wait_for("document.getElementById('ask-upload').hidden", JOB_TIME)
        .await;
    browser.run("document.getElementById('make').click();", vec![]).await;
    browser
        .wait_for("!document.getElementById('ask-upload').hidden", JOB_TIME)
        .await;
    let question = browser
        .run("return document.getElementById('ask-upload-text').textContent;", vec![])
        .await;
    assert!(question.as_str().unwrap().contains("server"), "{question}");
    browser
        .run("document.getElementById('upload-no').click();", vec![])
        .await;
    browser
        .wait_for("document.getElementById('error').dataset.code", JOB_TIME)
        .await;
    let Outcome::Failed { code, words } = outcome(&browser).await else {
        panic!("declined, yet made");
    };
    assert_eq!(code, "upload_declined");
    assert!(words.contains("not sent"), "{words}");
    assert_eq!(
        posts_to(&server, "/probe").await + posts_to(&server, "/thumbnail").await,
        0.0
    );

    // Asked again for the frame; yes this time (and not asked twice for the same file).
    browser
        .run(
            "document.getElementById('result').hidden = true; document.getElementById('make').click();",
            vec![],
        )
        .await;
    browser
        .wait_for("!document.getElementById('ask-upload').hidden", JOB_TIME)
        .await;
    browser
        .run("document.getElementById('upload-yes').click();", vec![])
        .await;
    browser
        .wait_for(
            "(!document.getElementById('result').hidden || document.getElementById('error').dataset.code) && document.getElementById('progress').hidden",
            JOB_TIME,
        )
        .await;
    let Outcome::Made(made) = outcome(&browser).await else {
        panic!("png.mov was not made");
    };
    assert_eq!(posts_to(&server, "/thumbnail").await, 1.0);
    assert_eq!(made.engine, "server");
    assert_eq!((made.width, made.height), (320, 240));
    // In browser-only mode the same file is a typed error, said in words.
    browser
        .run(
            "const m = document.getElementById('engine'); m.value = 'browser'; m.dispatchEvent(new Event('change'));",
            vec![],
        )
        .await;
    let Outcome::Failed { code, words } = make_on_page(&browser, &fixture("png.mov")).await else {
        panic!("png.mov was made in the browser");
    };
    assert_eq!(code, "unsupported_codec");
    assert!(words.contains("codec is not supported"), "{words}");
    browser.close().await;
}

async fn bad_files_show_a_typed_error_in_words(kind: BrowserKind) {
    let server = start_server();
    let browser = Browser::start(kind).await;
    browser.goto(&server.url("/")).await;
    for (file, expected) in BAD_INPUTS {
        let outcome = make_on_page(&browser, &fixture(file)).await;
        let Outcome::Failed { code, words } = outcome else {
            panic!("{file}: {outcome:?}");
        };
        eprintln!("{file}: {code}: {words}");
        assert_eq!(code, *expected, "{file}");
        assert!(
            words.len() > 20 && !words.starts_with("Something went wrong"),
            "{file}: {words}"
        );
    }
    // And the page still works.
    assert_made_like_native(&browser, &fixture("h264.mp4"), kind.isolated_engine(), SAME_FRAME_DB).await;
    browser.close().await;
}

/// JS for `run`: `thumbnailOf(result)` turns the API's result into JSON for `Made::from_json`.
const THUMBNAIL_OF: &str = "
    const thumbnailOf = async (r) =>
      ({ engine: r.engine, width: r.width, height: r.height, time: r.time, image: await base64Of(r.blob) });
    const file = document.getElementById('file').files[0];";

/// A page of another origin that imports `{base}/thumbnailer.js`, with a file input.
fn embedding_page(base: &str) -> String {
    format!(
        r#"<!doctype html><meta charset="utf-8"><title>Another site</title>
<input id="file" type="file">
<script type="module">
  import {{ Thumbnailer }} from '{base}/thumbnailer.js';
  window.Thumbnailer = Thumbnailer;
</script>"#
    )
}

async fn another_origin_without_isolation_gets_the_st_engine_and_the_server(kind: BrowserKind) {
    let server = start_server();
    let page = serve_page_on_another_origin(embedding_page(&server.base)).await;
    let browser = Browser::start(kind).await;
    browser.goto(&page).await;
    browser.wait_for("window.Thumbnailer", JOB_TIME).await;
    assert_eq!(
        browser.run("return self.crossOriginIsolated;", vec![]).await,
        json!(false)
    );
    let h264 = fixture("h264.mp4");
    browser.choose_file("#file", &h264).await;

    let made = browser
        .run(
            &format!(
                "{BASE64_OF}{THUMBNAIL_OF}
                 const t = await Thumbnailer.create({{ engine: 'browser' }});
                 const info = await t.probe(file);
                 return {{ info, ...await thumbnailOf(await t.thumbnail(file, {{ at: 1.5, width: 200, height: 200 }})) }};"
            ),
            vec![],
        )
        .await;
    assert!(made["thrown"].is_null(), "{made}");
    assert_eq!(made["info"]["codec"], "h264");
    assert_eq!(
        (made["info"]["width"].clone(), made["info"]["height"].clone()),
        (json!(320), json!(240))
    );
    assert_like_native(&Made::from_json(&made), &h264, 1.5, 200, "browser-st", SAME_FRAME_DB);

    // mode: 'server' posts across origins (CORS) and reads the frame's headers.
    let made = browser
        .run(
            &format!(
                "{BASE64_OF}{THUMBNAIL_OF}
                 const t = await Thumbnailer.create({{ engine: 'server', server: arguments[0] }});
                 return thumbnailOf(await t.thumbnail(file, {{ at: 1.5, width: 200, height: 200 }}));"
            ),
            vec![json!(server.url("/thumbnail"))],
        )
        .await;
    assert!(made["thrown"].is_null(), "{made}");
    assert_like_native(&Made::from_json(&made), &h264, 1.5, 200, "server", SAME_FRAME_DB);
    browser.close().await;
}

/// JS for `run`: `whenPosted(then)` calls `then` right after the next thumbnail job is handed to the
/// engine's worker, so that a cancel lands on a running job at a known moment (not after a guessed
/// delay).
/// `settle(p)` gives a job's outcome as JSON, or `{ pending: true }` if it has not settled in 20 s.
const JOB_HOOKS: &str = "
    const whenPosted = (then) => {
      const post = Worker.prototype.postMessage;
      Worker.prototype.postMessage = function (message) {
        post.call(this, message);
        if (message && message.kind === 'thumbnail') {
          Worker.prototype.postMessage = post;
          then();
        }
      };
    };
    const settle = (p) => Promise.race([
      p.then((r) => ({ engine: r.engine, width: r.width }), (e) => ({ name: e.name, code: e.code })),
      new Promise((resolve) => setTimeout(() => resolve({ pending: true }), 20000)),
    ]);";

async fn cancel_timeout_and_terminate_stop_the_job_and_the_next_one_works(kind: BrowserKind) {
    let server = start_server();
    let browser = Browser::start(kind).await;
    browser.goto(&server.url("/")).await;
    let big = fixture("h264-1080p.mp4");

    // The page's Cancel button, pressed once the job is on the engine (a 1080p exact seek).
    browser.choose_file("#file", &big).await;
    browser
        .wait_for("document.getElementById('at').max === '10'", JOB_TIME)
        .await;
    browser
        .run(
            &format!(
                "{JOB_HOOKS}
                 document.getElementById('at').value = '9.9'; // no input event: no live frame before the job
                 whenPosted(() => document.getElementById('cancel').click());
                 document.getElementById('make').click();"
            ),
            vec![],
        )
        .await;
    browser
        .wait_for(
            "document.getElementById('progress').hidden && document.getElementById('error').dataset.code",
            JOB_TIME,
        )
        .await;
    let Outcome::Failed { code, words } = outcome(&browser).await else {
        panic!("the job was not cancelled");
    };
    assert_eq!(
        (code.as_str(), words.as_str()),
        ("aborted", "Cancelled. the job was cancelled")
    );
    let Outcome::Made(made) = press_make(&browser).await else {
        panic!("the job after a cancel failed");
    };
    assert!(
        [kind.isolated_engine(), "browser-webcodecs"].contains(&made.engine.as_str()),
        "{}",
        made.engine
    );
    assert!((made.time - 9.9).abs() < 0.05, "{}", made.time);

    // The API: an AbortSignal, a timeout, terminate(), on a running job, while the engine starts
    // and on a queued job; after each, the next job works.
    let outcomes = browser
        .run(
            &format!(
                "{JOB_HOOKS}
                 const file = document.getElementById('file').files[0];
                 const {{ Thumbnailer }} = await import('/thumbnailer.js');
                 const t = await Thumbnailer.create({{ engine: 'browser' }});
                 const small = {{ at: 1, width: 320 }};
                 const out = {{ warm: await settle(t.thumbnail(file, {{ at: 0 }})) }};

                 const c = new AbortController();
                 whenPosted(() => c.abort());
                 out.aborted = await settle(t.thumbnail(file, {{ at: 9.9, signal: c.signal }}));
                 out.afterAbort = await settle(t.thumbnail(file, small));
                 // 1 ms: far less than the ~50 1080p frames this seek decodes.
                 out.timedOut = await settle(t.thumbnail(file, {{ at: 9.9, timeout: 1 }}));
                 out.afterTimeout = await settle(t.thumbnail(file, small));
                 whenPosted(() => t.terminate());
                 const running = t.thumbnail(file, {{ at: 9.9 }});
                 const queued = t.thumbnail(file, {{ at: 9.9 }});
                 out.terminated = await settle(running);
                 out.terminatedQueued = await settle(queued);
                 out.afterTerminate = await settle(t.thumbnail(file, small));
                 // Cancelled while queued behind a long job: settled at once, not when its turn comes.
                 const order = [];
                 const long = t.thumbnail(file, {{ at: 9.9 }});
                 long.then(() => order.push('long'), () => order.push('long'));
                 const c3 = new AbortController();
                 const waiting = t.thumbnail(file, {{ at: 9.9, signal: c3.signal }});
                 waiting.catch(() => order.push('queued'));
                 c3.abort();
                 out.abortedWhileQueued = await settle(waiting);
                 await settle(long);
                 out.settledFirst = order[0];
                 out.alreadyAborted = await settle(t.thumbnail(file, {{ signal: AbortSignal.abort() }}));

                 // While the engine starts (auto mode starts it in create() and does not wait).
                 const starting = await Thumbnailer.create({{ engine: 'auto', server: '/thumbnail' }});
                 const duringStart = starting.thumbnail(file, small);
                 setTimeout(() => starting.terminate(), 0);
                 out.terminatedWhileStarting = await settle(duringStart);
                 out.afterStartTerminate = await settle(starting.thumbnail(file, small));
                 const starting2 = await Thumbnailer.create({{ engine: 'auto', server: '/thumbnail' }});
                 const c2 = new AbortController();
                 const abortedDuringStart = starting2.thumbnail(file, {{ ...small, signal: c2.signal }});
                 setTimeout(() => c2.abort(), 0);
                 out.abortedWhileStarting = await settle(abortedDuringStart);
                 out.afterStartAbort = await settle(starting2.thumbnail(file, small));
                 const starting3 = await Thumbnailer.create({{ engine: 'auto', server: '/thumbnail' }});
                 out.timedOutWhileStarting = await settle(starting3.thumbnail(file, {{ ...small, timeout: 1 }}));
                 out.afterStartTimeout = await settle(starting3.thumbnail(file, small));
                 return out;"
            ),
            vec![],
        )
        .await;
    eprintln!("{outcomes:#}");
    let h264 = kind.webcodecs_or(kind.isolated_engine());
    let made = json!({ "engine": h264, "width": 320 });
    let aborted = json!({ "name": "AbortError", "code": "aborted" });
    let timed_out = json!({ "name": "ThumbnailError", "code": "timeout" });
    assert_eq!(outcomes["warm"]["engine"], h264, "{outcomes}");
    for (name, expected) in [
        ("aborted", &aborted),
        ("afterAbort", &made),
        ("timedOut", &timed_out),
        ("afterTimeout", &made),
        ("terminated", &aborted),
        ("terminatedQueued", &aborted),
        ("afterTerminate", &made),
        ("abortedWhileQueued", &aborted),
        ("settledFirst", &json!("queued")),
        ("alreadyAborted", &aborted),
        ("terminatedWhileStarting", &aborted),
        ("afterStartTerminate", &made),
        ("abortedWhileStarting", &aborted),
        ("afterStartAbort", &made),
        ("timedOutWhileStarting", &timed_out),
        ("afterStartTimeout", &made),
    ] {
        assert_eq!(&outcomes[name], expected, "{name}: {outcomes}");
    }
    browser.close().await;
}

/// A file over 4 GiB (its frames after a sparse hole, see test_support::large): read in place by
/// WORKERFS, so the browser's memory does not grow with it.
async fn a_file_over_4_gib_gives_its_thumbnail_without_the_memory_growing(kind: BrowserKind) {
    let large = test_support::large_mp4();
    let size = std::fs::metadata(&large).unwrap().len();
    assert!(size > 4 << 30, "{size}");
    // The native engine reads it as h264.mp4 itself: the same frames, at offsets beyond 4 GiB.
    let small = native_frame(&fixture("h264.mp4"), 1.0, 640);
    assert_eq!(psnr(&native_frame(&large, 1.0, 640).rgba, &small.rgba), f64::INFINITY);

    let server = start_server();
    let browser = Browser::start(kind).await;
    browser.goto(&server.url("/")).await;
    assert_made_like_native(&browser, &fixture("h264.mp4"), kind.isolated_engine(), SAME_FRAME_DB).await;
    let before = browser.peak_rss_kib();
    assert_made_like_native(&browser, &large, kind.isolated_engine(), SAME_FRAME_DB).await;
    let after = browser.peak_rss_kib();
    let grown_mib = after.saturating_sub(before) / 1024;
    eprintln!(
        "{} MiB file: peak RSS of the browser {} -> {} MiB",
        size >> 20,
        before / 1024,
        after / 1024
    );
    // A copy of the file would be 4.5 GiB (and could not fit in a wasm32 heap at all).
    assert!(grown_mib < 256, "the browser grew by {grown_mib} MiB");
    browser.close().await;
}

/// The same files and options through the browser engine and through the server, from the same
/// JS API: the same probe JSON, the same thumbnail metadata (`at: 'auto'` picks the same frame),
/// the same error codes and messages.
async fn the_browser_and_the_server_answer_alike(kind: BrowserKind) {
    let server = start_server();
    let browser = Browser::start(kind).await;
    browser.goto(&server.url("/")).await;
    let files = [
        "h264.mp4",
        "rotated.mp4",
        "anamorphic.mp4",
        "vp9.webm",
        "fade-in.mp4",
        "black-lead.mp4",
        "text.txt",
        "audio-only.m4a",
        "truncated.mp4",
    ];
    for file in files {
        browser.choose_file("#file", &fixture(file)).await;
        let both = browser
            .run(
                "const file = document.getElementById('file').files[0];
                 const { Thumbnailer } = await import('/thumbnailer.js');
                 const failure = (e) => ({ code: e.code, message: e.code === 'invalid_argument' ? e.message : undefined });
                 const round = (x) => (x === null ? null : Math.round(x * 1000) / 1000);
                 const metadata = ({ width, height, time, duration }) => ({ width, height, time: round(time), duration: round(duration) });
                 const out = {};
                 for (const engine of ['browser', 'server']) {
                   const t = await Thumbnailer.create({ engine, server: '/thumbnail' });
                   const probe = await t.probe(file).then((r) => r, failure);
                   const made = {};
                   for (const options of [
                     { at: 1.5, width: 200 }, { at: '50%', seek: 'keyframe' }, { at: 1e-7, width: 64, height: 64 }, { at: 'auto', width: 160 }, { format: 'gif', duration: 1, width: 120 },
                     { format: 'webp', animated: true, duration: 0.6, width: 120 }, { format: 'gif', loop: false, duration: 0.4, width: 64 },
                     { width: 120, height: 90, fit: 'cover', focus: '0.2,0.8' }, { width: 64, height: 200, fit: 'pad', format: 'jpeg' }, { fit: 'cover', width: 100 }, { fit: 'pad', width: 9, height: 9, focus: '0,0' },
                     { colour: 'red' }, { format: 'png', animated: true }, { format: 'webp', fps: 5 }, { mode: 'keyframe' }, { width: 0 }, { width: 320.5 }, { at: -1 }, { seek: 'fast' }, { format: 'bmp' },
                   ]) {
                     made[JSON.stringify(options)] = await t.thumbnail(file, options).then(metadata, failure);
                   }
                   const sprite = await t.sprite(file, { count: 6, columns: 3, width: 80, height: 40, fit: 'cover' }).then(({ blob, engine, ...sheet }) => sheet, failure);
                   out[engine] = { probe, made, sprite };
                   t.terminate();
                 }
                 return out;",
                vec![],
            )
            .await;
        eprintln!("{file}: {}", both["browser"]);
        assert!(both["browser"]["probe"].is_object(), "{file}: {both}");
        assert_eq!(both["browser"]["probe"], both["server"]["probe"], "{file}: probe");
        assert_eq!(both["browser"]["sprite"], both["server"]["sprite"], "{file}: sprite");
        let (in_browser, on_server) = (both["browser"]["made"].as_object().unwrap(), &both["server"]["made"]);
        for (options, outcome) in in_browser {
            assert_eq!(outcome, &on_server[options], "{file} with {options}");
        }
    }
    browser.close().await;
}

/// `fit` in the browser is the server's, on both of its paths (WebCodecs, where the browser
/// decodes the codec, and the wasm decoders): the box exactly (a GIF's too), pad's background
/// exact, and the same pixels (cover's crop at the focus, fill's stretch, pad's enlargement; as
/// PNG, each host's own lossy encoders aside) as close as each path's frames are to the native ones.
async fn fit_gives_the_server_s_pictures(kind: BrowserKind) {
    let server = start_server();
    let browser = Browser::start(kind).await;
    browser.goto(&server.url("/")).await;
    let cases = [
        "{ width: 100, height: 100, fit: 'cover', focus: '0,0.5' }",
        "{ width: 100, height: 100, fit: 'cover', focus: '1,1' }",
        "{ width: 200, height: 60, fit: 'fill' }",
        "{ width: 400, height: 400, fit: 'pad', background: '#00ff00' }",
        "{ width: 90, height: 60, fit: 'cover', format: 'gif', duration: 0.4 }",
    ];
    for file in ["h264.mp4", "rotated.mp4", "mpeg4.avi"] {
        browser.choose_file("#file", &fixture(file)).await;
        for options in cases {
            let both = browser
                .run(
                    &format!(
                        "{BASE64_OF}
                         const file = document.getElementById('file').files[0];
                         const {{ Thumbnailer }} = await import('/thumbnailer.js');
                         const out = {{}};
                         for (const engine of ['browser', 'server']) {{
                           const t = await Thumbnailer.create({{ engine, server: '/thumbnail' }});
                           const r = await t.thumbnail(file, {options});
                           out[engine] = {{ engine: r.engine, width: r.width, height: r.height, png: await base64Of(r.blob) }};
                           t.terminate();
                         }}
                         return out;"
                    ),
                    vec![],
                )
                .await;
            let (ours, theirs) = (&both["browser"], &both["server"]);
            assert_eq!(
                (&ours["width"], &ours["height"]),
                (&theirs["width"], &theirs["height"]),
                "{file} {options}"
            );
            let (a, b) = (png_rgba(&ours["png"]), png_rgba(&theirs["png"]));
            assert_eq!(a.len(), b.len(), "{file} {options}: the image's own size");
            if options.contains("gif") {
                continue; // each host's palette and dithering: the size is what is compared
            }
            let engine = ours["engine"].as_str().unwrap();
            let db = psnr(&a, &b);
            eprintln!(
                "{file} {options} ({engine}): {}x{}, {db:.1} dB vs the server's",
                ours["width"], ours["height"]
            );
            assert!(
                db >= floor_db(kind, engine).min(WEBCODECS_DB),
                "{file} {options} ({engine}): {db:.1} dB"
            );
            if options.contains("pad") {
                // 320x240 (240x320 turned) enlarged into 400x400: green above and below (or beside).
                assert_eq!(&a[..4], &[0, 255, 0, 255], "{file}: the background's first pixel");
                assert_eq!(
                    &a[a.len() - 4..],
                    &[0, 255, 0, 255],
                    "{file}: the background's last pixel"
                );
            }
        }
    }
    browser.close().await;
}

/// The browsers whose WebCodecs give 10-bit AV1 frames as their 10-bit planes (I420P10), which the
/// worker tone-maps. Measured: Firefox ESR 153 gives BGRX (its own 8-bit RGB, like every frame it
/// decodes), WebKitGTK 2.50 one in none of the planar formats.
const HDR_PLANES_BY_WEBCODECS: [BrowserKind; 1] = [BrowserKind::Chromium];

/// HDR phone videos tone-mapped in the browser as on the server (crate `thumbnail-tonemap` in
/// both): each fixture through WebCodecs where the browser decodes it (its 10-bit planes) and
/// through the wasm decoders (`webcodecs: false`; not AV1, which they lack): near the SDR original
/// (colourfulness at least 70 % of its, mean luma within 15 %) and at least 35 dB from the
/// server's picture. A browser that hands out its own 8-bit RGB of an HDR frame cannot be
/// tone-mapped: the job goes to the wasm decoders, and for AV1, which they lack, is refused as
/// `unsupported_codec` (`auto` then asks the server; see HDR_PLANES_BY_WEBCODECS).
async fn hdr_is_tone_mapped_like_the_server(kind: BrowserKind) {
    let server = start_server();
    let browser = Browser::start(kind).await;
    browser.goto(&server.url("/")).await;
    for video in &HDR_VIDEOS {
        browser.choose_file("#file", &fixture(video.file)).await;
        let made = browser
            .run(
                &format!(
                    "{BASE64_OF}
                     const file = document.getElementById('file').files[0];
                     const {{ Thumbnailer }} = await import('/thumbnailer.js');
                     const out = {{}};
                     for (const [name, options] of [['server', {{ engine: 'server', server: '/thumbnail' }}],
                                                    ['webcodecs', {{ engine: 'browser' }}],
                                                    ['wasm', {{ engine: 'browser', webcodecs: false }}]]) {{
                       const t = await Thumbnailer.create(options);
                       out[name] = await t.thumbnail(file, {{ width: 320, height: 320 }}).then(
                         async (r) => ({{ engine: r.engine, width: r.width, height: r.height, png: await base64Of(r.blob) }}),
                         (e) => ({{ code: e.code, message: e.message }}));
                       t.terminate();
                     }}
                     return out;"
                ),
                vec![],
            )
            .await;
        let served = &made["server"];
        let theirs = png_rgba(&served["png"]);
        let (w, h) = (
            served["width"].as_u64().unwrap() as u32,
            served["height"].as_u64().unwrap() as u32,
        );
        let original = video.original(1.0, w, h);
        for path in ["webcodecs", "wasm"] {
            let r = &made[path];
            let av1 = video.file.contains("av1");
            if av1 && (path == "wasm" || !HDR_PLANES_BY_WEBCODECS.contains(&kind)) {
                // the wasm decoders have no AV1; WebCodecs' own RGB cannot be tone-mapped
                assert_eq!(r["code"], "unsupported_codec", "{} {path}: {r}", video.file);
                continue;
            }
            let ours = png_rgba(&r["png"]);
            assert_eq!(
                (&r["width"], &r["height"]),
                (&served["width"], &served["height"]),
                "{} {path}",
                video.file
            );
            let db = psnr(&ours, &theirs);
            let colour = colourfulness(&ours) / colourfulness(&original);
            let luma = mean_luma(&ours) / mean_luma(&original);
            eprintln!(
                "{kind:?} {} {path} ({}): {db:.1} dB from the server's, colourfulness {:.0} % (server {:.0} %), mean luma {:.1} against {:.1}",
                video.file,
                r["engine"],
                colour * 100.0,
                colourfulness(&theirs) / colourfulness(&original) * 100.0,
                mean_luma(&ours),
                mean_luma(&original)
            );
            assert!(db >= 35.0, "{} {path}: {db:.1} dB", video.file);
            assert!(
                colour >= 0.7 && (luma - 1.0).abs() <= 0.15,
                "{} {path}: {colour:.2}, {luma:.2}",
                video.file
            );
        }
    }
    browser.close().await;
}

/// The colour a stream declares, and whether it is HDR, in `probe()` as in POST /probe: the
/// phones' HLG and PQ HEVC (WebCodecs or the wasm engine: the demux-only engine describes it).
async fn probe_tells_hdr_like_the_server(kind: BrowserKind) {
    let server = start_server();
    let browser = Browser::start(kind).await;
    browser.goto(&server.url("/")).await;
    for (file, hdr, transfer) in [
        ("hdr-hlg.mp4", "hlg", "arib-std-b67"),
        ("hdr-pq.mp4", "pq", "smpte2084"),
    ] {
        browser.choose_file("#file", &fixture(file)).await;
        let both = browser
            .run(
                "const file = document.getElementById('file').files[0];
                 const { Thumbnailer } = await import('/thumbnailer.js');
                 const out = {};
                 for (const engine of ['browser', 'server']) {
                   const t = await Thumbnailer.create({ engine, server: '/thumbnail' });
                   out[engine] = await t.probe(file);
                   t.terminate();
                 }
                 return out;",
                vec![],
            )
            .await;
        assert_eq!(both["browser"], both["server"], "{file}");
        let probe = &both["browser"];
        assert_eq!(
            (
                &probe["hdr"],
                &probe["colorTransfer"],
                &probe["colorPrimaries"],
                &probe["colorMatrix"]
            ),
            (&json!(hdr), &json!(transfer), &json!("bt2020"), &json!("bt2020nc")),
            "{file}: {probe}"
        );
    }
    browser.close().await;
}

/// Every picture of a job is counted before it is made, in the browser as on the server (the
/// frames crate's budget; the browser's limit is the server's default `--max-pixels`), by
/// WebCodecs and by the wasm decoders: a stream that grows from 160x120 to 1920x1080 as a sheet of
/// 400 tiles 16384 wide is 50x8 tiles of 160x120; a 4K clip as a 30 fps GIF at 16384 px is
/// `too_large`, naming the limit, before a frame is decoded.
async fn pixels_are_counted_before_they_are_made(kind: BrowserKind) {
    let server = start_server();
    let browser = Browser::start(kind).await;
    browser.goto(&server.url("/")).await;
    browser.choose_file("#file", &fixture("growing-resolution.ts")).await;
    browser
        .run("window.growing = document.getElementById('file').files[0];", vec![])
        .await;
    browser.choose_file("#file", &fixture("clip-4k.mp4")).await;
    let out = browser
        .run(
            "const clip = document.getElementById('file').files[0];
             const { Thumbnailer } = await import('/thumbnailer.js');
             const out = {};
             for (const webcodecs of [true, false]) {
               const t = await Thumbnailer.create({ engine: 'browser', webcodecs });
               const sheet = await t.sprite(window.growing, { count: 400, columns: 50, width: 16384, format: 'jpeg' })
                 .then(({ columns, rows, tileWidth, tileHeight, engine }) => ({ columns, rows, tileWidth, tileHeight, engine }),
                       (e) => ({ code: e.code, message: e.message }));
               const gif = await t.thumbnail(clip, { format: 'gif', width: 16384, fps: 30, duration: 5 })
                 .then(({ width, height, engine }) => ({ width, height, engine }), (e) => ({ code: e.code, message: e.message }));
               out[webcodecs ? 'webcodecs' : 'wasm'] = { sheet, gif };
               t.terminate();
             }
             return out;",
            vec![],
        )
        .await;
    eprintln!("{kind:?}: {out}");
    for path in ["webcodecs", "wasm"] {
        let sheet = &out[path]["sheet"];
        let geometry = [
            &sheet["columns"],
            &sheet["rows"],
            &sheet["tileWidth"],
            &sheet["tileHeight"],
        ];
        assert_eq!(geometry, [50, 8, 160, 120], "{path}: {out}");
        let gif = &out[path]["gif"];
        assert_eq!(gif["code"], "too_large", "{path}: {out}");
        let message = gif["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("an animation of 30 frames of 3840x2160")
                && message.contains("limit of 67108864 pixels (the browser's limit)"),
            "{path}: {message}"
        );
    }
    assert_ne!(out["wasm"]["sheet"]["engine"], "browser-webcodecs", "{out}");
    browser.close().await;
}

/// A still's placeholder is the same from every engine: the ThumbHash and average colour the
/// browser makes (by WebCodecs and by the wasm decoders) are the server's, within what their
/// pixels differ (drawn back, 3 per channel on average; the colour within 3).
async fn a_still_comes_with_the_server_s_placeholder(kind: BrowserKind) {
    use base64::Engine as _;
    let server = start_server();
    let browser = Browser::start(kind).await;
    browser.goto(&server.url("/")).await;
    browser.choose_file("#file", &fixture("h264.mp4")).await;
    let out = browser
        .run(
            "const file = document.getElementById('file').files[0];
             const { Thumbnailer } = await import('/thumbnailer.js');
             const out = {};
             for (const [name, engine, webcodecs] of [['webcodecs', 'browser', true], ['wasm', 'browser', false], ['server', 'server', true]]) {
               const t = await Thumbnailer.create({ engine, webcodecs, server: '/thumbnail' });
               const r = await t.thumbnail(file, { width: 160 });
               const gif = await t.thumbnail(file, { format: 'gif', duration: 0.4, width: 64 });
               const only = await t.thumbnail(file, { format: 'thumbhash' });
               out[name] = { thumbhash: r.thumbhash, averageColor: r.averageColor, engine: r.engine, gif: 'thumbhash' in gif,
                             only: { thumbhash: only.thumbhash, width: only.width, height: only.height, type: only.blob.type,
                                     body: JSON.parse(await only.blob.text()) } };
               t.terminate();
             }
             return out;",
            vec![],
        )
        .await;
    eprintln!("{kind:?}: {out}");
    let drawn = |name: &str| {
        let hash = base64::engine::general_purpose::STANDARD
            .decode(
                out[name]["thumbhash"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{name}: {out}")),
            )
            .unwrap();
        thumbhash::thumb_hash_to_rgba(&hash).unwrap()
    };
    let colour = |name: &str| {
        let hex = out[name]["averageColor"]
            .as_str()
            .unwrap()
            .trim_start_matches('#')
            .to_owned();
        (0..3)
            .map(|i| i64::from_str_radix(&hex[i * 2..i * 2 + 2], 16).unwrap())
            .collect::<Vec<_>>()
    };
    // `format: 'thumbhash'`: no image, the placeholder's JSON (the server's body) from the frame in
    // a 100 px box, the same in every host.
    for name in ["webcodecs", "wasm", "server"] {
        let only = &out[name]["only"];
        assert_eq!(only["type"], "application/json", "{name}: {only}");
        assert_eq!(
            (&only["width"], &only["height"]),
            (&json!(100), &json!(75)),
            "{name}: {only}"
        );
        assert_eq!(only["body"]["thumbhash"], only["thumbhash"], "{name}: {only}");
        assert_eq!(
            (&only["body"]["width"], &only["body"]["height"]),
            (&json!(100), &json!(75)),
            "{name}"
        );
        assert!(
            only["body"]["averageColor"].as_str().unwrap().starts_with('#'),
            "{name}: {only}"
        );
    }
    let reference = drawn("server");
    for name in ["webcodecs", "wasm"] {
        assert_eq!(out[name]["gif"], false, "no placeholder with an animation: {out}");
        let (w, h, rgba) = drawn(name);
        assert_eq!((w, h), (reference.0, reference.1), "{name}");
        let off = rgba
            .iter()
            .zip(&reference.2)
            .map(|(a, b)| f64::from(a.abs_diff(*b)))
            .sum::<f64>()
            / rgba.len() as f64;
        assert!(off <= 3.0, "{name}: drawn {off:.1} from the server's");
        let apart = colour(name)
            .iter()
            .zip(colour("server"))
            .map(|(a, b)| (a - b).abs())
            .max()
            .unwrap();
        assert!(apart <= 3, "{name}: {out}");
    }
    browser.close().await;
}

/// The page's filmstrip (a contact sheet of 10 frames across the video), its downloads (the sheet
/// and its WebVTT track), and the slider's live frames.
async fn the_page_shows_a_filmstrip_and_live_frames(kind: BrowserKind) {
    let server = start_server();
    let browser = Browser::start(kind).await;
    browser.goto(&server.url("/")).await;
    browser.choose_file("#file", &fixture("h264.mp4")).await;
    browser
        .wait_for("document.querySelectorAll('#filmstrip button').length === 10", JOB_TIME)
        .await;
    let strip = browser
        .run(
            "const buttons = [...document.querySelectorAll('#filmstrip button')];
             const vtt = await (await fetch(document.getElementById('sheet-vtt').href)).text();
             const sheet = await (await fetch(document.getElementById('sheet-image').href)).blob();
             return { times: buttons.map((b) => Number(b.dataset.time)), vtt, sheet: sheet.type,
                      names: [document.getElementById('sheet-image').download, document.getElementById('sheet-vtt').download] };",
            vec![],
        )
        .await;
    let times: Vec<f64> = serde_json::from_value(strip["times"].clone()).unwrap();
    assert_eq!(times.len(), 10);
    assert!(
        (times[0] - 0.15).abs() < 1e-9 && (times[9] - 2.85).abs() < 1e-9,
        "{times:?}"
    );
    assert_eq!(strip["sheet"], "image/jpeg");
    assert_eq!(strip["names"], json!(["sprite.jpg", "h264-thumbnails.vtt"]));
    let vtt = strip["vtt"].as_str().unwrap();
    assert!(
        vtt.starts_with("WEBVTT") && vtt.matches("sprite.jpg#xywh=").count() == 10,
        "{vtt}"
    );

    // A frame of the strip, clicked: that frame is made.
    browser
        .run("document.querySelectorAll('#filmstrip button')[6].click();", vec![])
        .await;
    browser
        .wait_for(
            "!document.getElementById('result').hidden && document.getElementById('progress').hidden && document.getElementById('result').dataset.time",
            JOB_TIME,
        )
        .await;
    let Outcome::Made(made) = outcome(&browser).await else {
        panic!("the filmstrip's frame was not made");
    };
    assert!((made.time - times[6]).abs() < 0.05, "{} vs {}", made.time, times[6]);

    // An animated GIF from the same frame: 3 s at 5 fps, to download as .gif.
    browser
        .run(
            "const f = document.getElementById('format'); f.value = 'gif'; f.dispatchEvent(new Event('change'));",
            vec![],
        )
        .await;
    let Outcome::Made(gif) = press_make(&browser).await else {
        panic!("no GIF");
    };
    assert!((gif.time - times[6]).abs() < 0.05, "{}", gif.time);
    let shown = browser
        .run(
            "const blob = await (await fetch(document.getElementById('preview').src)).blob();
             const head = new Uint8Array(await blob.slice(0, 6).arrayBuffer());
             return { type: blob.type, magic: String.fromCharCode(...head), name: document.getElementById('download').download };",
            vec![],
        )
        .await;
    assert_eq!(shown["type"], "image/gif");
    assert_eq!(shown["magic"], "GIF89a");
    assert!(shown["name"].as_str().unwrap().ends_with(".gif"), "{shown}");
    browser
        .run(
            "const f = document.getElementById('format'); f.value = 'png'; f.dispatchEvent(new Event('change'));",
            vec![],
        )
        .await;

    // The slider dragged: live frames, the last position shown, the engine's worker never restarted.
    let counts = browser
        .run(
            &format!(
                "{COUNT_ENGINE_STARTS_AND_JOBS}
             const at = document.getElementById('at');
             for (let i = 1; i <= 12; i++) {{ at.value = String(0.2 * i); at.dispatchEvent(new Event('input')); }}
             return at.value;"
            ),
            vec![],
        )
        .await;
    assert_eq!(counts, "2.4");
    browser
        .wait_for(
            "document.getElementById('caption').textContent.includes('2.40 s')",
            JOB_TIME,
        )
        .await;
    let counts = browser
        .run("return { started: window.started, posted: window.posted };", vec![])
        .await;
    eprintln!("12 slider positions: {counts}");
    assert_eq!(counts["started"], 0, "{counts}");
    assert!((1..12).contains(&counts["posted"].as_u64().unwrap()), "{counts}");
    browser.close().await;
}

/// `t.frames()`: an async iterator of frames, in the browser and from the server, each like the
/// native engine's; one frame made per ask (leaving the loop ends the job, the worker goes on);
/// an abort while the caller holds a frame ends the job; typed errors.
async fn frames_come_one_at_a_time_like_the_native_engine_s(kind: BrowserKind) {
    let server = start_server();
    let browser = Browser::start(kind).await;
    browser.goto(&server.url("/")).await;
    let file = fixture("h264.mp4");
    browser.choose_file("#file", &file).await;
    let got = browser
        .run(
            &format!(
                "{COUNT_ENGINE_STARTS_AND_JOBS}
             const file = document.getElementById('file').files[0];
             const {{ Thumbnailer }} = await import('/thumbnailer.js');
             const failure = (e) => ({{ code: e.code, name: e.name, message: e.message }});
             const pixels = (bitmap) => {{
               const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
               const context = canvas.getContext('2d');
               context.drawImage(bitmap, 0, 0);
               const data = context.getImageData(0, 0, bitmap.width, bitmap.height).data;
               let text = '';
               for (let i = 0; i < data.length; i++) text += String.fromCharCode(data[i]);
               return btoa(text);
             }};
             const out = {{}};
             for (const engine of ['browser', 'server']) {{
               const t = await Thumbnailer.create({{ engine, server: '/thumbnail' }});
               const frames = [];
               for await (const f of t.frames(file, {{ times: [0.5, 1, 2.25], width: 80 }})) {{
                 frames.push({{ time: f.time, width: f.width, height: f.height, engine: f.engine,
                               bitmap: f.bitmap instanceof ImageBitmap, rgba: pixels(f.bitmap) }});
               }}
               const jpegs = [];
               for await (const f of t.frames(file, {{ count: 2, width: 64, format: 'jpeg' }})) jpegs.push(f.blob.type);
               const errors = {{}};
               for (const [name, options] of [['unsorted', {{ times: [2, 1] }}], ['none', {{}}], ['unknown', {{ count: 2, at: 1 }}]]) {{
                 errors[name] = await (async () => {{ for await (const f of t.frames(file, options)); }})().then(() => null, failure);
               }}
               const bad = new File(['not a video'], 'notes.txt');
               errors.notMedia = await (async () => {{ for await (const f of t.frames(bad, {{ count: 2 }})); }})().then(() => null, failure);
               out[engine] = {{ frames, jpegs, errors }};
               t.terminate();
             }}
             // In the browser: leave the loop after one frame of 100; the next job runs on the same worker.
             const t = await Thumbnailer.create({{ engine: 'browser' }});
             window.started = 0; window.posted = 0;
             let seen = 0;
             for await (const f of t.frames(file, {{ count: 100, width: 64 }})) {{ seen++; break; }}
             const after = await t.thumbnail(file, {{ at: 2, width: 64 }}).then((r) => r.time, failure);
             const early = {{ seen, after, started: window.started }};
             // Aborted while the caller holds a frame: the job ends, the next one works.
             const controller = new AbortController();
             const it = t.frames(file, {{ count: 5, width: 64, signal: controller.signal }});
             const first = (await it.next()).value.time;
             controller.abort();
             const aborted = await it.next().then(() => null, failure);
             const next = await t.thumbnail(file, {{ at: 1, width: 64 }}).then((r) => r.time, failure);
             t.terminate();
             return {{ ...out, early, abort: {{ first, aborted, next }} }};"
            ),
            vec![],
        )
        .await;
    for engine in ["browser", "server"] {
        let made = &got[engine];
        eprintln!("{engine}: {}", made["errors"]);
        let frames = made["frames"].as_array().unwrap();
        assert_eq!(frames.len(), 3, "{engine}");
        for (frame, t) in frames.iter().zip([0.5, 1.0, 2.25]) {
            let native = native_frame(&file, t, 80);
            assert_eq!(frame["bitmap"], true, "{engine}: an ImageBitmap");
            assert_eq!(
                (
                    frame["width"].as_u64().unwrap() as u32,
                    frame["height"].as_u64().unwrap() as u32
                ),
                (native.width, native.height)
            );
            assert!(
                (frame["time"].as_f64().unwrap() - native.time).abs() < 1e-3,
                "{engine} at {t}: {frame:?}"
            );
            let rgba = base64_bytes(&frame["rgba"]);
            let db = psnr(&rgba, &native.rgba);
            eprintln!("{engine} frame at {t}: {db:.1} dB vs native");
            assert!(db >= SAME_FRAME_DB, "{engine} at {t}: {db:.1} dB");
        }
        let name = if engine == "browser" {
            kind.webcodecs_or(kind.isolated_engine())
        } else {
            "server"
        };
        assert!(frames.iter().all(|f| f["engine"] == name), "{engine}: {frames:?}");
        assert_eq!(made["jpegs"], json!(["image/jpeg", "image/jpeg"]));
        for error in ["unsorted", "none", "unknown"] {
            assert_eq!(made["errors"][error]["code"], "invalid_argument", "{engine} {error}");
        }
        assert_eq!(made["errors"]["notMedia"]["code"], "not_media", "{engine}");
    }
    // The same messages from both hosts: one parser.
    assert_eq!(got["browser"]["errors"], got["server"]["errors"]);
    eprintln!("early: {}, abort: {}", got["early"], got["abort"]);
    assert_eq!(got["early"]["seen"], 1);
    assert!(
        (got["early"]["after"].as_f64().unwrap() - 2.0).abs() < 0.05,
        "{}",
        got["early"]
    );
    assert_eq!(got["early"]["started"], 0, "the worker went on after the loop was left");
    assert_eq!(got["abort"]["aborted"]["code"], "aborted");
    assert_eq!(got["abort"]["aborted"]["name"], "AbortError");
    assert!(
        (got["abort"]["next"].as_f64().unwrap() - 1.0).abs() < 0.05,
        "{}",
        got["abort"]
    );
    browser.close().await;
}

/// An animated WebP made in the browser: each frame is the canvas's still WebP of that frame (the
/// same bytes as a still thumbnail at its time), each shown 1/fps s.
async fn an_animated_webp_in_the_browser_is_the_canvas_s_stills(kind: BrowserKind) {
    let server = start_server();
    let browser = Browser::start(kind).await;
    browser.goto(&server.url("/")).await;
    browser.choose_file("#file", &fixture("h264.mp4")).await;
    let got = browser
        .run(
            "const file = document.getElementById('file').files[0];
             const { Thumbnailer } = await import('/thumbnailer.js');
             const t = await Thumbnailer.create({ engine: 'browser', webcodecs: false });
             const base64 = async (blob) => { const b = new Uint8Array(await blob.arrayBuffer()); let s = ''; for (const x of b) s += String.fromCharCode(x); return btoa(s); };
             const made = await t.thumbnail(file, { format: 'webp', animated: true, width: 160, loop: false });
             const stills = [];
             for (const at of [1, 1.2, 2.8]) stills.push(await base64((await t.thumbnail(file, { format: 'webp', at, width: 160 })).blob));
             t.terminate();
             return { type: made.blob.type, engine: made.engine, time: made.time, width: made.width, animation: await base64(made.blob), stills };",
            vec![],
        )
        .await;
    assert_eq!(got["type"], "image/webp");
    assert_eq!(got["engine"], kind.isolated_engine());
    assert_eq!((got["width"].as_u64(), got["time"].as_f64()), (Some(160), Some(1.0)));
    let bytes = base64_bytes(&got["animation"]);
    use image::AnimationDecoder;
    let frames: Vec<image::Frame> = image::codecs::webp::WebPDecoder::new(std::io::Cursor::new(&bytes))
        .unwrap()
        .into_frames()
        .collect::<Result<_, _>>()
        .unwrap();
    // 1 s to the end (3 s) at 5 fps.
    assert_eq!(frames.len(), 10);
    for f in &frames {
        assert_eq!(f.delay().numer_denom_ms(), (200, 1));
        assert_eq!(f.buffer().dimensions(), (160, 120));
    }
    for (i, still) in [(0, &got["stills"][0]), (1, &got["stills"][1]), (9, &got["stills"][2])] {
        let still = image::load_from_memory(&base64_bytes(still)).unwrap().to_rgba8();
        let db = psnr(frames[i].buffer().as_raw(), still.as_raw());
        assert!(db >= 60.0, "frame {i}: {db:.1} dB against the still WebP at its time");
    }
    browser.close().await;
}

/// The JS API on the server engine: long operations (a sheet, frames, an animation) go as
/// asynchronous jobs and are polled to their result, others wait for their answer; `t.job()`
/// gives the job; a cancelled call cancels its job on the server; a failed job is a typed error.
async fn the_server_engine_runs_long_work_as_jobs(kind: BrowserKind) {
    let server = start_server();
    let browser = Browser::start(kind).await;
    browser.goto(&server.url("/")).await;
    browser.choose_file("#file", &fixture("h264-1080p.mp4")).await;
    browser
        .run("window.big = document.getElementById('file').files[0];", vec![])
        .await;
    browser.choose_file("#file", &fixture("h264.mp4")).await;
    let got = browser
        .run(
            "const file = document.getElementById('file').files[0];
             const { Thumbnailer } = await import('/thumbnailer.js');
             const seen = [];
             const realFetch = window.fetch;
             let onPoll = null;
             window.fetch = (input, init = {}) => {
               const url = new URL(input instanceof Request ? input.url : input, location.href);
               if (!url.protocol.startsWith('data')) {
                 seen.push(`${init.method || 'GET'} ${url.pathname}${init.headers?.prefer ? ' async' : ''}`);
                 if (url.pathname.startsWith('/jobs/') && (init.method || 'GET') === 'GET') onPoll?.(url.href);
               }
               return realFetch(input, init);
             };
             const failure = (e) => ({ code: e.code, name: e.name });
             const t = await Thumbnailer.create({ engine: 'server', server: '/thumbnail' });
             const still = await t.thumbnail(file, { width: 64 });
             const stillSeen = seen.splice(0);
             const sheet = await t.sprite(file, { count: 4, width: 80 }).then(({ blob, engine, ...rest }) => ({ ...rest, type: blob.type, engine }));
             const sheetSeen = seen.splice(0);
             const gif = await t.thumbnail(file, { format: 'gif', duration: 0.4, width: 64 });
             const gifSeen = seen.splice(0);
             const badJob = await t.job('render', file).then(() => null, failure);
             const job = await t.job('thumbnail', file, { width: 48 });
             let made;
             for (;;) { const r = await realFetch(job.href); if (r.redirected) { made = r.headers.get('x-image-width'); break; } await new Promise((r) => setTimeout(r, 100)); }
             const failed = await t.sprite(new File(['not a video'], 'notes.txt'), { count: 2 }).then(() => null, failure);
             // Cancelled at its first poll: the job is deleted on the server.
             const controller = new AbortController();
             let polled;
             onPoll = (href) => { polled = href; onPoll = null; controller.abort(); };
             const cancelled = await (async () => { for await (const f of t.frames(window.big, { count: 8, signal: controller.signal })); })().then(() => null, failure);
             seen.splice(0);
             let after;
             for (let i = 0; i < 50; i++) { after = await (await realFetch(polled)).json(); if (after.status === 'cancelled') break; await new Promise((r) => setTimeout(r, 100)); }
             t.terminate();
             return { still: still.width, stillSeen, sheet, sheetSeen, gif: { type: gif.blob.type, width: gif.width }, gifSeen,
                      job: { status: job.status, href: job.href, id: job.id }, badJob, made, failed, cancelled, after: after.status };",
            vec![],
        )
        .await;
    eprintln!("{got}");
    assert_eq!(got["still"], 64);
    assert_eq!(
        got["stillSeen"],
        json!(["POST /thumbnail"]),
        "a still waits for its answer"
    );
    assert_eq!(
        (&got["sheet"]["columns"], &got["sheet"]["type"]),
        (&json!(4), &json!("image/jpeg"))
    );
    let polled = |key: &str| {
        let seen: Vec<String> = serde_json::from_value(got[key].clone()).unwrap();
        assert!(
            seen[0].starts_with("POST /") && seen[0].ends_with(" async"),
            "{key}: {seen:?}"
        );
        assert!(seen[1..].iter().all(|s| s.starts_with("GET /jobs/")), "{key}: {seen:?}");
        assert!(seen.len() >= 2, "{key}: {seen:?}");
    };
    polled("sheetSeen");
    polled("gifSeen");
    assert_eq!(got["gif"], json!({ "type": "image/gif", "width": 64 }));
    assert!(matches!(
        got["job"]["status"].as_str(),
        Some("queued" | "running" | "done")
    ));
    assert!(got["job"]["href"].as_str().unwrap().starts_with(&server.base));
    assert_eq!(got["made"], "48");
    assert_eq!(got["badJob"]["code"], "invalid_argument");
    assert_eq!(got["failed"]["code"], "not_media");
    assert_eq!(got["cancelled"]["code"], "aborted");
    assert_eq!(got["cancelled"]["name"], "AbortError");
    assert_eq!(got["after"], "cancelled", "the job was cancelled on the server");
    browser.close().await;
}

/// Codecs the browser's WebCodecs may decode here (headless Chromium's software decoders; HEVC
/// only where the platform has it, which `--disable-gpu` does not).
const WEBCODECS_CODECS: [&str; 5] = ["h264", "hevc", "vp8", "vp9", "av1"];

/// The WebCodecs path's frames are the native engine's to this PSNR: the worker scales the YUV
/// planes with swscale's own filters (its bicubic taps made as `initFilter` makes them, chroma at
/// half the width or, for an odd width, the full one), so only the order and rounding of the two
/// passes and the decoders' rounding part them (measured 47.0-49.9 dB; 55.5-59.1 where chroma is
/// full-width: 4:4:4, odd widths such as sar-1to8's 27 px and anamorphic's 427; 43.6 for
/// tall-1to40; 37.7 on the 1080p picture scaled 12x down) ...
const WEBCODECS_DB: f64 = 35.0;
/// ... but where a picture is squeezed twentyfold down (sar-10to1: 320x240 with a 10:1 sample
/// aspect ratio, shown at 160x12), where the native engine's own x86 swscale is off: its vertical
/// filter for packed RGB sums 81 taps in 16-bit multiplies that each truncate, and comes out darker
/// than the exact sum (the wasm engine's C swscale is 35.2 dB from it too). Measured 33.4 dB; the
/// frame is the right one: its time and size are checked exactly.
const SQUEEZED: [(&str, f64); 1] = [("sar-10to1.mp4", 30.0)];

/// AV1 in Firefox: its WebCodecs hands out frames converted to RGB with its own colours (BT.709
/// for a stream that names no matrix, where the engine takes BT.601), and the wasm decoders
/// cannot make AV1 instead, so these frames are the browser's. Measured: 25.6 dB for a still,
/// 22.4 dB for a sheet of 80 px tiles. Size and time are still checked exactly.
const BROWSER_COLOURS_DB: f64 = 20.0;

/// AV1 as files hold it: in MP4 (with av1C), in IVF and as a bare OBU stream (no av1C: the decoder's
/// configuration read from the sequence header), and an AVIF sequence with an alpha track (its
/// colour track, 4:2:0, is the picture; Firefox's and WebKitGTK's WebCodecs refuse AV1 4:4:4).
const AV1_FILES: [&str; 4] = ["av1.mp4", "av1.ivf", "av1.obu", "alpha-sequence.avif"];

/// What makes frames of FFmpeg's codec `codec` (the fixtures': untagged 8-bit 4:2:0) on the
/// app's page in this browser: AV1 only by WebCodecs (the wasm engine has no AV1 decoder), the
/// rest as [`BrowserKind::webcodecs_or`] says.
fn expected_engine(kind: BrowserKind, codec: &str) -> &'static str {
    match codec {
        "av1" => "browser-webcodecs",
        _ => kind.webcodecs_or(kind.isolated_engine()),
    }
}

/// How close a frame made by `engine` in this browser is to the native engine's.
fn floor_db(kind: BrowserKind, engine: &str) -> f64 {
    match (engine, kind) {
        ("browser-webcodecs", BrowserKind::Firefox) => BROWSER_COLOURS_DB,
        ("browser-webcodecs", _) => WEBCODECS_DB,
        _ => SAME_FRAME_DB,
    }
}

/// Every fixture through both paths of the page's engine: WebCodecs (the demux-only engine's
/// packets, the browser's decoder) and the wasm engine's own decoders (`webcodecs: false`), each
/// against the native engine. WebCodecs takes the codecs it decodes from a container with
/// timestamps (see WEBCODECS_DB); what it refuses (HEVC here, raw streams without timestamps)
/// falls back to the wasm engine in the same job. AV1, which the wasm engine lacks, is made by
/// WebCodecs alone.
async fn every_fixture_through_webcodecs_and_the_wasm_decoders(kind: BrowserKind) {
    let server = start_server();
    let browser = Browser::start(kind).await;
    browser.goto(&server.url("/")).await;
    let mut names: Vec<&str> = VIDEOS.iter().map(|v| v.file).collect();
    names.extend(AV1_FILES);
    names.push("h264-1080p.mp4");
    names.extend(
        REAL_WORLD
            .iter()
            .filter(|c| matches!(c.expect, Expect::Frame { .. }))
            .map(|c| c.file),
    );
    // HEVC goes to WebCodecs where the browser decodes it, else to the wasm decoders.
    let hevc = {
        let engine = Engine::open(&fixture("hevc.mp4"), &OpenOptions::default()).unwrap();
        let info = engine.info();
        thumbnail_engine::webcodecs::decoder_config(&info.codec, info.coded_width, info.coded_height, &engine.codec())
            .unwrap()
            .codec
    };
    let hevc_decoded = browser
        .run(
            &format!("return (await VideoDecoder.isConfigSupported({{ codec: '{hevc}' }})).supported;"),
            vec![],
        )
        .await
        == json!(true);
    eprintln!("WebCodecs decodes {hevc}: {hevc_decoded}");
    let mut by_webcodecs = Vec::new();
    for name in names {
        let file = fixture(name);
        let case = REAL_WORLD.iter().find(|c| c.file == name);
        let (at, wasm_db) = case.map_or((1.0, SAME_FRAME_DB), |c| (c.at, c.wasm_db));
        let codec = Engine::open(&file, &OpenOptions::default())
            .unwrap()
            .info()
            .codec
            .clone();
        browser.choose_file("#file", &file).await;
        for webcodecs in [true, false] {
            let made = browser
                .run(
                    &format!(
                        "{BASE64_OF}{THUMBNAIL_OF}
                         const {{ Thumbnailer }} = await import('/thumbnailer.js');
                         const key = 'thumbnailer_{webcodecs}';
                         window[key] ??= await Thumbnailer.create({{ engine: 'browser', webcodecs: {webcodecs} }});
                         try {{
                           return await thumbnailOf(await window[key].thumbnail(file, {{ at: {at}, width: 160, height: 160 }}));
                         }} catch (e) {{ return {{ code: e.code, message: e.message }}; }}"
                    ),
                    vec![],
                )
                .await;
            if codec == "av1" && !webcodecs {
                assert_eq!(made["code"], json!("unsupported_codec"), "{name}: {made}");
                continue;
            }
            assert!(made["code"].is_null(), "{name} (webcodecs {webcodecs}): {made}");
            let made = Made::from_json(&made);
            let engine = made.engine.clone();
            if webcodecs && (name == "hevc.mp4" && !hevc_decoded || name == "damaged-frame.mp4") {
                // Refused by WebCodecs, or failing mid-stream (a packet the browser's decoder
                // rejects): the same job made by the wasm decoders.
                assert_eq!(engine, kind.isolated_engine(), "{name}");
            }
            if engine == "browser-webcodecs" {
                assert!(
                    webcodecs && WEBCODECS_CODECS.contains(&codec.as_str()),
                    "{name}: {codec}"
                );
                by_webcodecs.push(name);
                // (assert_like_native lowers the floor for the SQUEEZED pictures itself)
                assert_like_native(&made, &file, at, 160, "browser-webcodecs", floor_db(kind, &engine));
            } else {
                assert_like_native(&made, &file, at, 160, kind.isolated_engine(), wasm_db);
            }
        }
    }
    eprintln!("made by WebCodecs: {by_webcodecs:?}");
    let mut expected = AV1_FILES.to_vec();
    if kind.webcodecs_or(kind.isolated_engine()) == "browser-webcodecs" {
        expected.extend(["h264.mp4", "vp8.webm", "vp9.webm", "h264-1080p.mp4", "rotated.mp4"]);
    }
    match kind {
        // WebKitGTK's GStreamer decoders give HEVC (8-bit; 10-bit frames have no format), and
        // resize a picture with a sample aspect ratio (made by the wasm decoders instead).
        BrowserKind::WebKit => expected.push("hevc.mp4"),
        BrowserKind::Chromium => expected.push("anamorphic.mp4"),
        BrowserKind::Firefox => {}
    }
    for name in expected {
        assert!(
            by_webcodecs.contains(&name),
            "{name} was not made by WebCodecs: {by_webcodecs:?}"
        );
    }
    browser.close().await;
}

/// What a page's thumbnailers make of `file` for the series test: a sheet (PNG), a series of
/// frames (PNG each), `at: 'auto'` and a GIF, by `engine` with `webcodecs`.
const SERIES_OF: &str = "
    const [engine, webcodecs, times] = arguments;
    const file = document.getElementById('file').files[0];
    const { Thumbnailer } = await import('/thumbnailer.js');
    const failure = (e) => ({ code: e.code, message: e.message });
    const round = (x) => (x === null ? null : Math.round(x * 1000) / 1000);
    const t = await Thumbnailer.create({ engine, webcodecs, server: '/thumbnail' });
    const sprite = await t.sprite(file, { count: 6, columns: 3, width: 80, format: 'png' })
      .then(async ({ blob, ...sheet }) => ({ ...sheet, png: await base64Of(blob) }), failure);
    let frames = [];
    try {
      for await (const f of t.frames(file, { times, width: 80, format: 'png' })) {
        frames.push({ time: f.time, width: f.width, height: f.height, engine: f.engine, png: await base64Of(f.blob) });
      }
    } catch (e) { frames = failure(e); }
    const auto = await t.thumbnail(file, { at: 'auto', width: 160 }).then((r) => ({ time: round(r.time), engine: r.engine }), failure);
    const gif = await t.thumbnail(file, { format: 'gif', duration: 1, width: 120 })
      .then((r) => ({ width: r.width, height: r.height, time: round(r.time), duration: round(r.duration), engine: r.engine }), failure);
    t.terminate();
    return { sprite, frames, auto, gif };";

/// Decodes a PNG the page sent back (base64) to RGBA.
fn png_rgba(base64: &Value) -> Vec<u8> {
    image::load_from_memory(&base64_bytes(base64))
        .unwrap()
        .to_rgba8()
        .into_raw()
}

/// Sheets, series of frames, `at: 'auto'` and animations come from WebCodecs too (the times that
/// share a keyframe in one pass of the browser's decoder), and are the server's: the same sheet
/// (layout, times, WebVTT; pixels within WEBCODECS_DB), the native engine's frames, the same
/// `auto` time and animation. AV1, which the wasm engine lacks, gets all of them in the browser;
/// with `webcodecs: false` it cannot. A series whose later frames the browser's decoder fails on
/// (damaged-frame.mp4) goes on with the wasm decoders from there, each frame saying who made it.
async fn sheets_series_and_animations_come_from_webcodecs_too(kind: BrowserKind) {
    let server = start_server();
    let browser = Browser::start(kind).await;
    browser.goto(&server.url("/")).await;
    let assert_frames_native = |name: &str, file: &Path, frames: &Value, times: &[f64], engines: &[&str]| {
        let frames = frames.as_array().unwrap_or_else(|| panic!("{name}: {frames}"));
        assert_eq!(frames.len(), times.len(), "{name}");
        for ((frame, &t), engine) in frames.iter().zip(times).zip(engines) {
            let native = Engine::open(file, &OpenOptions::default())
                .unwrap()
                .frame(t, 80, 0, Seek::Exact)
                .unwrap();
            assert_eq!(frame["engine"], *engine, "{name} at {t}");
            assert_eq!(
                (frame["width"].as_u64(), frame["height"].as_u64()),
                (Some(u64::from(native.width)), Some(u64::from(native.height)))
            );
            assert!(
                (frame["time"].as_f64().unwrap() - native.time).abs() < 1e-3,
                "{name} at {t}: {frame:?}"
            );
            let floor = floor_db(kind, *engine);
            let db = psnr(&png_rgba(&frame["png"]), &native.rgba);
            eprintln!("{name} at {t} ({engine}): {db:.1} dB vs native");
            assert!(db >= floor, "{name} at {t} ({engine}): {db:.1} dB vs native");
        }
    };
    let series = format!("{BASE64_OF}{SERIES_OF}");
    let times = [0.5, 1.0, 1.1, 2.25, 2.9];
    for (name, codec) in [
        ("av1.mp4", "av1"),
        ("h264.mp4", "h264"),
        ("vp9.webm", "vp9"),
        ("rotated.mp4", "h264"),
    ] {
        let file = fixture(name);
        let engine = expected_engine(kind, codec);
        browser.choose_file("#file", &file).await;
        let ours = browser
            .run(&series, vec![json!("browser"), json!(true), json!(times)])
            .await;
        let theirs = browser
            .run(&series, vec![json!("server"), json!(true), json!(times)])
            .await;
        eprintln!(
            "{name}: auto {} / {}, gif {} / {}",
            ours["auto"], theirs["auto"], ours["gif"], theirs["gif"]
        );
        let (mut sheet, mut server_sheet) = (ours["sprite"].clone(), theirs["sprite"].clone());
        assert_eq!(sheet["engine"], engine, "{name}: {sheet}");
        let db = psnr(&png_rgba(&sheet["png"]), &png_rgba(&server_sheet["png"]));
        eprintln!("{name}: sheet {db:.1} dB vs the server's");
        let floor = floor_db(kind, engine).min(WEBCODECS_DB);
        assert!(db >= floor, "{name}: sheet {db:.1} dB vs the server's");
        for key in ["engine", "png"] {
            sheet.as_object_mut().unwrap().remove(key);
            server_sheet.as_object_mut().unwrap().remove(key);
        }
        assert_eq!(sheet, server_sheet, "{name}: the sheet's layout, times and track");
        assert_frames_native(name, &file, &ours["frames"], &times, &[engine; 5]);
        for (what, ours, theirs) in [
            ("auto", &ours["auto"], &theirs["auto"]),
            ("gif", &ours["gif"], &theirs["gif"]),
        ] {
            assert_eq!(ours["engine"], engine, "{name} {what}: {ours}");
            let strip = |v: &Value| {
                let mut v = v.clone();
                v.as_object_mut().unwrap().remove("engine");
                v
            };
            assert_eq!(strip(ours), strip(theirs), "{name} {what}");
        }
        if name == "av1.mp4" {
            // The wasm engine has no AV1 decoder: without WebCodecs, nothing of it in the browser.
            let wasm = browser
                .run(&series, vec![json!("browser"), json!(false), json!(times)])
                .await;
            for what in ["sprite", "frames", "auto", "gif"] {
                assert_eq!(
                    wasm[what]["code"], "unsupported_codec",
                    "{name} {what} without WebCodecs: {}",
                    wasm[what]
                );
            }
        }
    }
    // Eight frames before the damaged one (one pass), then two after it: the browser's decoder
    // fails on that pass, and the wasm decoders make those two.
    let file = fixture("damaged-frame.mp4");
    browser.choose_file("#file", &file).await;
    let times = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.5, 2.5];
    let ours = browser
        .run(&series, vec![json!("browser"), json!(true), json!(times)])
        .await;
    let mut engines = vec![expected_engine(kind, "h264"); 8];
    engines.extend([kind.isolated_engine(); 2]);
    assert_frames_native("damaged-frame.mp4", &file, &ours["frames"], &times, &engines);
    browser.close().await;
}

/// A URL read in ranges is checked answer by answer against the first: a file replaced while it
/// is read (another ETag and Last-Modified), or a server that sends other bytes than the range
/// asked, is `source_changed`; a steady server gives the thumbnail.
async fn a_url_that_changes_while_it_is_read_is_a_typed_error(kind: BrowserKind) {
    let ranges = test_support::ChangingRangeServer::start(&fixture("h264.mp4"));
    let server = start_server();
    let browser = Browser::start(kind).await;
    browser.goto(&server.url("/")).await;
    let base = &ranges.base;
    let out = browser
        .run(
            &format!(
                "const {{ Thumbnailer }} = await import('/thumbnailer.js');
                 const t = await Thumbnailer.create({{ engine: 'browser' }});
                 const out = {{}};
                 for (const path of ['steady/video', 'changes-after/1/video', 'shifted/video']) {{
                   out[path] = await t.thumbnail('{base}/' + path, {{ width: 64 }})
                     .then((r) => ({{ width: r.width, height: r.height }}), (e) => ({{ code: e.code, message: e.message }}));
                 }}
                 return out;"
            ),
            vec![],
        )
        .await;
    eprintln!("{kind:?}: {out}");
    assert_eq!(
        out["steady/video"],
        serde_json::json!({ "width": 64, "height": 48 }),
        "{out}"
    );
    // the fixture's size is x264's on this machine
    let size = std::fs::metadata(fixture("h264.mp4")).unwrap().len();
    let shifted = format!(
        "asked for bytes 0-{0}, the server sent \"bytes 1-{0}/{1}\"",
        size - 1,
        size
    );
    for (path, why) in [
        ("changes-after/1/video", "its ETag was \"v1\", now \"v2\""),
        ("shifted/video", shifted.as_str()),
    ] {
        assert_eq!(out[path]["code"], "source_changed", "{path}: {out}");
        let message = out[path]["message"].as_str().unwrap();
        assert!(message.contains(why), "{path}: {message}");
    }
    browser.close().await;
}

/// URL sources: the worker reads a video another server serves (a real nginx, another origin,
/// CORS) in HTTP Range requests, never whole. A frame in the middle of the 4.5 GiB file (its
/// header at the end, its frames after a hole of 4.5 GiB) is fetched in less than 5 MB; probing
/// and both decoding paths give the native engine's answers; a missing file, a server without
/// ranges and one without CORS are typed errors (the one without ranges stops its download).
async fn urls_are_read_in_ranges(kind: BrowserKind) {
    let large = test_support::large_mp4();
    let ranges = test_support::RangeServer::start(&test_support::fixtures());
    let server = start_server();
    let browser = Browser::start(kind).await;
    browser.goto(&server.url("/")).await;
    let base = ranges.base.clone();
    let run = |js: String| {
        let browser = &browser;
        async move {
            browser
                .run(
                    &format!(
                        "{BASE64_OF}
                         const thumbnailOf = async (r) =>
                           ({{ engine: r.engine, width: r.width, height: r.height, time: r.time, image: await base64Of(r.blob) }});
                         const {{ Thumbnailer }} = await import('/thumbnailer.js');
                         window.t ??= await Thumbnailer.create({{ engine: 'auto', server: '/thumbnail' }});
                         window.wasm ??= await Thumbnailer.create({{ engine: 'browser', webcodecs: false }});
                         try {{ {js} }} catch (e) {{ return {{ code: e.code, message: e.message }}; }}"
                    ),
                    vec![],
                )
                .await
        }
    };

    let info = run(format!("return await t.probe('{base}/cors/h264.mp4');")).await;
    let native = Engine::open(&fixture("h264.mp4"), &OpenOptions::default()).unwrap();
    let read: thumbnail_vocabulary::VideoInfo = serde_json::from_value(info.clone()).expect("a description");
    assert_eq!(&read, native.info(), "{info}");

    let name = large
        .strip_prefix(test_support::fixtures())
        .unwrap()
        .display()
        .to_string();
    let native = Engine::open(&large, &OpenOptions::default()).unwrap();
    let middle = native.info().duration.unwrap() / 2.0;
    let before = ranges.bytes_sent("/cors/");
    let made = run(format!(
        "return await thumbnailOf(await t.thumbnail(new URL('{base}/cors/{name}'), {{ at: '50%', width: 160, height: 160 }}));"
    ))
    .await;
    assert!(made["code"].is_null(), "{made}");
    let fetched = ranges.bytes_sent("/cors/") - before;
    eprintln!(
        "a frame at 50% of the {} byte file: {fetched} bytes fetched",
        std::fs::metadata(&large).unwrap().len()
    );
    assert!(fetched < 5_000_000, "{fetched} bytes fetched");
    assert_like_native(
        &Made::from_json(&made),
        &large,
        middle,
        160,
        kind.webcodecs_or(kind.isolated_engine()),
        WEBCODECS_DB,
    );
    // The wasm decoders read the same way.
    let made = run(format!(
        "return await thumbnailOf(await wasm.thumbnail('{base}/cors/{name}', {{ at: '50%', width: 160, height: 160 }}));"
    ))
    .await;
    assert!(made["code"].is_null(), "{made}");
    assert_like_native(
        &Made::from_json(&made),
        &large,
        middle,
        160,
        kind.isolated_engine(),
        SAME_FRAME_DB,
    );

    let failed = |path: &str| run(format!("await t.thumbnail('{base}{path}'); return {{ code: null }};"));
    let missing = failed("/cors/no-such-video.mp4").await;
    assert_eq!(missing["code"], json!("source_not_found"), "{missing}");
    let before = ranges.bytes_sent("/no-range/");
    let whole = failed(&format!("/no-range/{name}")).await;
    assert_eq!(whole["code"], json!("source_no_range"), "{whole}");
    let sent = ranges.bytes_sent("/no-range/") - before;
    assert!(sent < 256 << 20, "{sent} bytes of a server without ranges were read");
    let refused = failed("/no-cors/h264.mp4").await;
    assert_eq!(refused["code"], json!("source_refused"), "{refused}");
    for outcome in [&missing, &whole, &refused] {
        assert!(
            outcome["message"].as_str().is_some_and(|m| m.contains(&base)),
            "{outcome}"
        );
    }
    // And the Thumbnailer goes on.
    let made = run(format!(
        "return await thumbnailOf(await t.thumbnail('{base}/cors/h264.mp4', {{ width: 160, height: 160 }}));"
    ))
    .await;
    assert_like_native(
        &Made::from_json(&made),
        &fixture("h264.mp4"),
        1.0,
        160,
        kind.webcodecs_or(kind.isolated_engine()),
        WEBCODECS_DB,
    );
    browser.close().await;
}

in_every_browser!(
    a_failed_mt_start_falls_back_to_the_st_engine_in_the_same_job,
    the_page_makes_every_fixture_with_its_wasm_engine,
    the_page_makes_the_real_world_fixtures_like_the_server,
    auto_mode_asks_before_sending_what_the_browser_cannot_decode_to_the_server,
    bad_files_show_a_typed_error_in_words,
    another_origin_without_isolation_gets_the_st_engine_and_the_server,
    cancel_timeout_and_terminate_stop_the_job_and_the_next_one_works,
    a_file_over_4_gib_gives_its_thumbnail_without_the_memory_growing,
    the_browser_and_the_server_answer_alike,
    the_page_shows_a_filmstrip_and_live_frames,
    frames_come_one_at_a_time_like_the_native_engine_s,
    an_animated_webp_in_the_browser_is_the_canvas_s_stills,
    the_server_engine_runs_long_work_as_jobs,
    every_fixture_through_webcodecs_and_the_wasm_decoders,
    sheets_series_and_animations_come_from_webcodecs_too,
    urls_are_read_in_ranges,
    a_url_that_changes_while_it_is_read_is_a_typed_error,
    pixels_are_counted_before_they_are_made,
    a_still_comes_with_the_server_s_placeholder,
    fit_gives_the_server_s_pictures,
    hdr_is_tone_mapped_like_the_server,
    probe_tells_hdr_like_the_server,
);
