//! Browser tests: Debian's headless chromium (chromedriver) against the real server on 127.0.0.1.
//! The page at / and the JS API at /thumbnailer.js make thumbnails in the browser (the mt engine on
//! the cross-origin-isolated page, the st engine on a page of another origin without COOP/COEP),
//! fall back to the server, show typed errors, cancel, and recover after a failed job.

use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use serde_json::json;
use test_support::{fixture, psnr, Browser, Server, BAD_INPUTS, VIDEOS};
use thumbnail_engine::{Engine, Mode, OpenOptions};

/// The browser's frame against the native engine's: the same C engine and FFmpeg, built for wasm.
/// PNG is lossless, so only the two builds' float rounding in swscale separates them.
const SAME_FRAME_DB: f64 = 40.0;
const JOB_TIME: Duration = Duration::from_secs(60);

fn start_server() -> Server {
    Server::start(Path::new(env!("CARGO_BIN_EXE_server")), &[])
}

/// What the page shows once a job is over.
#[derive(Debug)]
enum Outcome {
    Made {
        engine: String,
        width: u32,
        height: u32,
        time: f64,
        png: Vec<u8>,
    },
    Failed {
        code: String,
        words: String,
    },
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
            "const error = document.getElementById('error');
             if (error.dataset.code) return { code: error.dataset.code, words: error.textContent };
             const result = document.getElementById('result');
             const bytes = new Uint8Array(await (await fetch(document.getElementById('preview').src)).arrayBuffer());
             let text = '';
             for (const b of bytes) text += String.fromCharCode(b);
             return { ...result.dataset, image: btoa(text) };",
            vec![],
        )
        .await;
    if let Some(code) = shown["code"].as_str() {
        return Outcome::Failed {
            code: code.to_owned(),
            words: shown["words"].as_str().unwrap().to_owned(),
        };
    }
    let number = |name: &str| shown[name].as_str().unwrap().parse::<f64>().unwrap();
    Outcome::Made {
        engine: shown["engine"].as_str().unwrap().to_owned(),
        width: number("width") as u32,
        height: number("height") as u32,
        time: number("time"),
        png: base64::engine::general_purpose::STANDARD
            .decode(shown["image"].as_str().unwrap())
            .unwrap(),
    }
}

/// The native engine's frame of `file` at `at`, in the same box.
fn native_frame(file: &Path, at: f64, box_side: u32) -> thumbnail_engine::Image {
    let mut engine = Engine::open(file, &OpenOptions::default()).unwrap();
    engine.frame(at, box_side, box_side, Mode::Exact).unwrap()
}

/// Asserts that the page made `file`'s frame with `engine`: its size and pixels are the native
/// engine's for the time the slider asked for.
async fn assert_made_like_native(browser: &Browser, file: &Path, engine: &str) {
    let outcome = make_on_page(browser, file).await;
    let at = browser
        .run("return Number(document.getElementById('at').value);", vec![])
        .await;
    let box_side = browser
        .run("return Number(document.getElementById('width').value);", vec![])
        .await;
    let Outcome::Made {
        engine: made_by,
        width,
        height,
        time,
        png,
    } = outcome
    else {
        panic!("{}: {outcome:?}", file.display());
    };
    let name = file.file_name().unwrap().to_string_lossy();
    assert_eq!(made_by, engine, "{name}");
    let native = native_frame(file, at.as_f64().unwrap(), box_side.as_u64().unwrap() as u32);
    assert_eq!((width, height), (native.width, native.height), "{name}: size");
    assert!(
        (time - native.time).abs() < 1e-3,
        "{name}: frame time {time} vs {}",
        native.time
    );
    let image = image::load_from_memory(&png).unwrap().to_rgba8();
    assert_eq!(image.dimensions(), (width, height), "{name}: the PNG's own size");
    let db = psnr(image.as_raw(), &native.rgba);
    eprintln!("{name}: {engine} {width}x{height} at {time:.3} s, {db:.1} dB vs native");
    assert!(db >= SAME_FRAME_DB, "{name}: {db:.1} dB");
}

#[tokio::test]
async fn the_page_makes_every_fixture_with_the_mt_engine() {
    let server = start_server();
    let browser = Browser::start().await;
    browser.client.goto(&server.url("/")).await.unwrap();
    assert_eq!(
        browser.run("return self.crossOriginIsolated;", vec![]).await,
        json!(true),
        "the page is cross-origin isolated"
    );
    for video in VIDEOS {
        assert_made_like_native(&browser, &fixture(video.file), "browser-mt").await;
    }
    // Scaled down: 1920x1080 into the 320 px box.
    browser
        .run("document.getElementById('width').value = '320';", vec![])
        .await;
    assert_made_like_native(&browser, &fixture("h264-1080p.mp4"), "browser-mt").await;
    browser.close().await;
}

#[tokio::test]
async fn auto_mode_asks_the_server_for_av1() {
    let server = start_server();
    let browser = Browser::start().await;
    browser.client.goto(&server.url("/")).await.unwrap();
    let Outcome::Made {
        engine, width, height, ..
    } = make_on_page(&browser, &fixture("av1.mp4")).await
    else {
        panic!("av1.mp4 was not made");
    };
    assert_eq!(engine, "server");
    assert_eq!((width, height), (320, 240));
    // In browser-only mode the same file is a typed error, said in words.
    browser
        .run(
            "const m = document.getElementById('mode'); m.value = 'browser'; m.dispatchEvent(new Event('change'));",
            vec![],
        )
        .await;
    let Outcome::Failed { code, words } = make_on_page(&browser, &fixture("av1.mp4")).await else {
        panic!("av1.mp4 was made in the browser");
    };
    assert_eq!(code, "unsupported_codec");
    assert!(words.contains("codec is not supported"), "{words}");
    browser.close().await;
}

#[tokio::test]
async fn bad_files_show_a_typed_error_in_words() {
    let server = start_server();
    let browser = Browser::start().await;
    browser.client.goto(&server.url("/")).await.unwrap();
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
    assert_made_like_native(&browser, &fixture("h264.mp4"), "browser-mt").await;
    browser.close().await;
}
