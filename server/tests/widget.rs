//! `<video-thumbnailer>` embedded on a page of another origin (another port, no COOP/COEP), as the
//! README's snippet does: one module script from the server. In Chromium, Firefox and WebKitGTK,
//! against the real server.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};
use test_support::browser::{serve_page_on_another_origin, BrowserKind, COUNT_ENGINE_STARTS_AND_JOBS};
use test_support::in_every_browser;
use test_support::{fixture, Browser, Server};

const JOB_TIME: Duration = Duration::from_secs(60);

/// The README's embed snippet, twice (in the browser, and on the server), themed by a custom
/// property, with listeners that record the events.
fn demo_page(base: &str) -> String {
    format!(
        r#"<!doctype html><meta charset="utf-8"><title>A site embedding the thumbnailer</title>
<style>video-thumbnailer {{ --vt-accent: rebeccapurple; }}</style>
<input id="file" type="file">
<video-thumbnailer id="in-browser" width="200" height="200" format="webp"></video-thumbnailer>
<video-thumbnailer id="on-server" engine="server" server="{base}/thumbnail" width="160"></video-thumbnailer>
<script type="module" src="{base}/video-thumbnailer.js"></script>
<script>
  window.events = [];
  for (const el of document.querySelectorAll('video-thumbnailer')) {{
    el.addEventListener('thumbnail', ({{ detail: d }}) => events.push({{ on: el.id, type: 'thumbnail', engine: d.engine, width: d.width, height: d.height, time: d.time, mime: d.blob.type }}));
    el.addEventListener('error', ({{ detail: e }}) => events.push({{ on: el.id, type: 'error', code: e.code, name: e.name }}));
  }}
</script>"#
    )
}

/// The time of the frame the server picks for `at=auto` in `name`.
async fn auto_time(server: &Server, name: &str) -> f64 {
    let r = reqwest::Client::new()
        .post(server.url("/thumbnail?at=auto&width=64"))
        .header("content-type", "video/mp4")
        .body(std::fs::read(fixture(name)).unwrap())
        .send()
        .await
        .unwrap();
    r.headers()["x-frame-time"].to_str().unwrap().parse().unwrap()
}

/// Waits for the next event the page recorded, and returns it.
async fn next_event(browser: &Browser, seen: &mut usize) -> Value {
    *seen += 1;
    browser
        .wait_for(&format!("window.events.length >= {seen}"), JOB_TIME)
        .await;
    browser
        .run(&format!("return window.events[{}];", *seen - 1), vec![])
        .await
}

async fn the_widget_works_on_another_origin_in_the_browser_and_via_the_server(kind: BrowserKind) {
    let server = Server::start(Path::new(env!("CARGO_BIN_EXE_thumbnail-server")), &[]);
    let page = serve_page_on_another_origin(demo_page(&server.base)).await;
    let browser = Browser::start(kind).await;
    browser.goto(&page).await;
    browser
        .wait_for("customElements.get('video-thumbnailer')", JOB_TIME)
        .await;
    assert_eq!(
        browser.run("return self.crossOriginIsolated;", vec![]).await,
        json!(false)
    );
    let idle = browser
        .run(
            "const root = document.getElementById('in-browser').shadowRoot;
             return ['.controls', '[part=result]'].map((s) => getComputedStyle(root.querySelector(s)).display);",
            vec![],
        )
        .await;
    assert_eq!(idle, json!(["none", "none"]), "no slider nor preview before a video");
    browser.choose_file("#file", &fixture("h264.mp4")).await;
    let mut seen = 0;

    // A user picks the file with the widget's own button.
    browser
        .run(
            "const input = document.getElementById('in-browser').shadowRoot.querySelector('input[type=file]');
             const files = new DataTransfer();
             files.items.add(document.getElementById('file').files[0]);
             input.files = files.files;
             input.dispatchEvent(new Event('change'));",
            vec![],
        )
        .await;
    // The first frame is the most representative one: the frame the server picks for at=auto
    // (its candidates decoded by WebCodecs).
    let auto = auto_time(&server, "h264.mp4").await;
    let event = next_event(&browser, &mut seen).await;
    assert_eq!(
        event,
        json!({ "on": "in-browser", "type": "thumbnail", "engine": kind.webcodecs_or("browser-st"), "width": 200, "height": 150, "time": auto, "mime": "image/webp" })
    );
    let shown = browser
        .run(
            "const root = document.getElementById('in-browser').shadowRoot;
             const img = root.querySelector('[part=preview]');
             await img.decode();
             return {
               src: img.src.slice(0, 5), width: img.naturalWidth, height: img.naturalHeight,
               download: root.querySelector('[part=download]').download,
               slider: root.querySelector('[part=slider]').max,
               accent: getComputedStyle(root.querySelector('[part=button]')).backgroundColor,
             };",
            vec![],
        )
        .await;
    assert_eq!(
        shown,
        json!({ "src": "blob:", "width": 200, "height": 150, "download": format!("h264-{auto:.2}s.webp"), "slider": "3", "accent": "rgb(102, 51, 153)" })
    );

    // The slider asks for another frame.
    browser
        .run(
            "const slider = document.getElementById('in-browser').shadowRoot.querySelector('[part=slider]');
             slider.value = '2.48';
             slider.dispatchEvent(new Event('change'));",
            vec![],
        )
        .await;
    let event = next_event(&browser, &mut seen).await;
    assert_eq!(
        (event["engine"].clone(), event["time"].clone()),
        (json!(kind.webcodecs_or("browser-st")), json!(2.48))
    );

    // mode="server": the widget posts across origins to the server attribute.
    browser
        .run(
            "await document.getElementById('on-server').load(document.getElementById('file').files[0]);",
            vec![],
        )
        .await;
    let event = next_event(&browser, &mut seen).await;
    assert_eq!(
        event,
        json!({ "on": "on-server", "type": "thumbnail", "engine": "server", "width": 160, "height": 120, "time": auto, "mime": "image/png" })
    );

    // Not a video: an `error` event with its code, and words in the widget.
    browser.choose_file("#file", &fixture("text.txt")).await;
    browser
        .run(
            "await document.getElementById('in-browser').load(document.getElementById('file').files[0]);",
            vec![],
        )
        .await;
    let event = next_event(&browser, &mut seen).await;
    assert_eq!(
        event,
        json!({ "on": "in-browser", "type": "error", "code": "not_media", "name": "ThumbnailError" })
    );
    let words = browser
        .run(
            "return document.getElementById('in-browser').shadowRoot.querySelector('[part=error]').textContent;",
            vec![],
        )
        .await;
    assert!(words.as_str().unwrap().contains("not a video"), "{words}");
    browser.close().await;
}

/// A page that embeds one widget in `auto` mode, whose first attempt to start a Web Worker fails
/// (as a blocked or failed engine download would), with listeners that record the events and
/// decline the first `upload`.
fn resilience_page(base: &str) -> String {
    format!(
        r#"<!doctype html><meta charset="utf-8"><title>A site embedding the thumbnailer</title>
<input id="file" type="file">
<video-thumbnailer id="w" engine="browser" server="{base}/thumbnail" width="160"></video-thumbnailer>
<script>
  window.events = [];
  const RealWorker = Worker;
  let failures = 1;
  window.Worker = class extends RealWorker {{
    constructor(...args) {{
      if (failures-- > 0) throw new Error('no worker this time');
      super(...args);
    }}
  }};
  let declines = 1;
  const el = document.getElementById('w');
  el.addEventListener('thumbnail', ({{ detail: d }}) => events.push({{ type: 'thumbnail', engine: d.engine, width: d.width }}));
  el.addEventListener('error', ({{ detail: e }}) => events.push({{ type: 'error', code: e.code }}));
  el.addEventListener('upload', (e) => {{
    events.push({{ type: 'upload', code: e.detail.code }});
    if (declines-- > 0) e.preventDefault();
  }});
</script>
<script type="module" src="{base}/video-thumbnailer.js"></script>"#
    )
}

async fn the_widget_retries_a_failed_start_follows_its_attributes_and_never_uploads_silently(kind: BrowserKind) {
    let server = Server::start(Path::new(env!("CARGO_BIN_EXE_thumbnail-server")), &[]);
    let page = serve_page_on_another_origin(resilience_page(&server.base)).await;
    let browser = Browser::start(kind).await;
    browser.goto(&page).await;
    browser
        .wait_for("customElements.get('video-thumbnailer')", JOB_TIME)
        .await;
    browser.choose_file("#file", &fixture("h264.mp4")).await;
    let load = "document.getElementById('w').load(document.getElementById('file').files[0]);";
    let mut seen = 0;

    // The engine cannot start the first time: a typed error ...
    browser.run(load, vec![]).await;
    let event = next_event(&browser, &mut seen).await;
    assert_eq!(event, json!({ "type": "error", "code": "engine_unavailable" }));
    // ... and the next video tries again (the failed Thumbnailer is not kept).
    browser.run(load, vec![]).await;
    let event = next_event(&browser, &mut seen).await;
    assert_eq!(
        event,
        json!({ "type": "thumbnail", "engine": kind.webcodecs_or("browser-st"), "width": 160 })
    );

    // An attribute changes while the new engine is still starting: the job is made with the new one.
    browser
        .run(
            &format!("{load} document.getElementById('w').setAttribute('engine', 'auto');"),
            vec![],
        )
        .await;
    let event = next_event(&browser, &mut seen).await;
    assert_eq!(
        event,
        json!({ "type": "thumbnail", "engine": kind.webcodecs_or("browser-st"), "width": 160 })
    );

    // PNG in QuickTime, which neither WebCodecs nor the wasm engine decodes: `upload` is announced
    // and may be declined.
    browser.choose_file("#file", &fixture("png.mov")).await;
    browser.run(load, vec![]).await;
    let event = next_event(&browser, &mut seen).await;
    assert_eq!(event, json!({ "type": "upload", "code": "unsupported_codec" }));
    let event = next_event(&browser, &mut seen).await;
    assert_eq!(event, json!({ "type": "error", "code": "upload_declined" }));
    let posts = server.metrics().await;
    assert!(
        !posts.contains("method=\"POST\""),
        "a declined upload reached the server:\n{posts}"
    );
    // Allowed: the widget says it sends the video, and the server makes the frame.
    browser.run(load, vec![]).await;
    let event = next_event(&browser, &mut seen).await;
    assert_eq!(event, json!({ "type": "upload", "code": "unsupported_codec" }));
    let event = next_event(&browser, &mut seen).await;
    assert_eq!(event, json!({ "type": "thumbnail", "engine": "server", "width": 160 }));
    browser.close().await;
}

async fn the_slider_shows_frames_live_without_restarting_the_engine(kind: BrowserKind) {
    let server = Server::start(Path::new(env!("CARGO_BIN_EXE_thumbnail-server")), &[]);
    let page = serve_page_on_another_origin(demo_page(&server.base)).await;
    let browser = Browser::start(kind).await;
    browser.goto(&page).await;
    browser
        .wait_for("customElements.get('video-thumbnailer')", JOB_TIME)
        .await;
    browser.choose_file("#file", &fixture("h264.mp4")).await;
    browser
        .run(
            "await document.getElementById('in-browser').load(document.getElementById('file').files[0]);",
            vec![],
        )
        .await;
    let mut seen = 0;
    assert_eq!(next_event(&browser, &mut seen).await["type"], "thumbnail");
    // Count engine workers started and jobs posted from here, then drag: 15 positions at once.
    let drag = browser
        .run(
            &format!(
                "{COUNT_ENGINE_STARTS_AND_JOBS}
             const slider = document.getElementById('in-browser').shadowRoot.querySelector('[part=slider]');
             for (let i = 1; i <= 15; i++) {{
               slider.value = String(0.16 * i);
               slider.dispatchEvent(new Event('input'));
             }}
             return slider.value;"
            ),
            vec![],
        )
        .await;
    assert_eq!(drag, "2.4");
    // The last position is what ends up shown; no `thumbnail` event (the slider was not let go).
    let caption = browser
        .wait_for(
            "(() => { const c = document.getElementById('in-browser').shadowRoot.querySelector('[part=caption]').textContent; return c.includes(' 2.40 s') && c; })()",
            JOB_TIME,
        )
        .await;
    let counts = browser
        .run(
            "return { started: window.started, posted: window.posted, events: window.events.length };",
            vec![],
        )
        .await;
    eprintln!("15 slider positions: {counts}, shown: {caption}");
    assert_eq!(counts["started"], 0, "the engine's worker was restarted: {counts}");
    let posted = counts["posted"].as_u64().unwrap();
    assert!(
        (2..15).contains(&posted),
        "{posted} frames made for 15 positions: {counts}"
    );
    assert_eq!(counts["events"], seen as u64, "a live frame fired `thumbnail`");
    browser.close().await;
}

/// `src`: the widget makes the thumbnail of a URL (another origin's nginx, CORS, ranges) in the
/// browser, and a missing one is a typed `error` event; nothing is uploaded.
async fn the_widget_takes_a_url_in_its_src_attribute(kind: BrowserKind) {
    let server = Server::start(Path::new(env!("CARGO_BIN_EXE_thumbnail-server")), &[]);
    let ranges = test_support::RangeServer::start(&test_support::fixtures());
    let page = serve_page_on_another_origin(format!(
        r#"<!doctype html><meta charset="utf-8"><title>A site showing its own video</title>
<video-thumbnailer id="w" src="{videos}/cors/h264.mp4" at="1.5" width="160"></video-thumbnailer>
<script type="module" src="{base}/video-thumbnailer.js"></script>
<script>
  window.events = [];
  const el = document.getElementById('w');
  el.addEventListener('thumbnail', ({{ detail: d }}) => events.push({{ type: 'thumbnail', engine: d.engine, width: d.width, time: d.time }}));
  el.addEventListener('error', ({{ detail: e }}) => events.push({{ type: 'error', code: e.code }}));
</script>"#,
        videos = ranges.base,
        base = server.base
    ))
    .await;
    let browser = Browser::start(kind).await;
    browser.goto(&page).await;
    let mut seen = 0;
    let event = next_event(&browser, &mut seen).await;
    assert_eq!(
        event,
        json!({ "type": "thumbnail", "engine": kind.webcodecs_or("browser-st"), "width": 160, "time": 1.52 })
    );
    assert!(ranges.bytes_sent("/cors/h264.mp4") > 0);
    browser
        .run(
            &format!(
                "document.getElementById('w').setAttribute('src', '{}/cors/gone.mp4');",
                ranges.base
            ),
            vec![],
        )
        .await;
    let event = next_event(&browser, &mut seen).await;
    assert_eq!(event, json!({ "type": "error", "code": "source_not_found" }));
    let posts = server.metrics().await;
    assert!(!posts.contains("method=\"POST\""), "a URL reached the server:\n{posts}");
    browser.close().await;
}

in_every_browser!(
    the_widget_works_on_another_origin_in_the_browser_and_via_the_server,
    the_widget_retries_a_failed_start_follows_its_attributes_and_never_uploads_silently,
    the_slider_shows_frames_live_without_restarting_the_engine,
    the_widget_takes_a_url_in_its_src_attribute,
);
