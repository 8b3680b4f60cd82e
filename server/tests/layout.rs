//! The page at phone widths, in each browser (`in_every_browser!`): laid out in an iframe of the
//! width (a viewport of exactly that many CSS pixels in every engine, which a window is not:
//! browsers keep windows wider than a phone), with a video picked, its filmstrip and a thumbnail
//! shown: nothing wider than the viewport, the touch targets at least 44 px tall, and Share beside
//! Download exactly where the browser can share the image as a file. The
//! element `<video-thumbnailer>` in a 280 px container, with its thumbnail shown, stays inside it.
//! Both pages pass an accessibility scan (axe-core from npm, pinned in tests/npm/axe/).

use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::json;
use test_support::browser::BrowserKind;
use test_support::{fixture, in_every_browser, Browser, Server};

const JOB_TIME: Duration = Duration::from_secs(60);

/// axe-core's script, installed from npm once per test run (tests/npm/axe/'s lock file) into
/// target/test-data/axe/.
fn axe_script() -> &'static str {
    static SCRIPT: OnceLock<String> = OnceLock::new();
    SCRIPT.get_or_init(|| {
        let dir = test_support::root().join("target/test-data/axe");
        let script = dir.join("node_modules/axe-core/axe.min.js");
        let from = test_support::root().join("tests/npm/axe");
        let lock = std::fs::read(from.join("package-lock.json")).unwrap();
        if std::fs::read(dir.join("package-lock.json")).ok() != Some(lock.clone()) || !script.exists() {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::copy(from.join("package.json"), dir.join("package.json")).unwrap();
            std::fs::write(dir.join("package-lock.json"), &lock).unwrap();
            let out = std::process::Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&dir)
                .output()
                .expect("npm");
            assert!(
                out.status.success(),
                "npm ci axe-core: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::fs::read_to_string(script).unwrap()
    })
}

/// The accessibility violations axe-core finds in the current document (shadow roots included):
/// each rule's id, impact and where.
async fn violations(browser: &Browser) -> serde_json::Value {
    let script = format!(
        "{}\n;const result = await axe.run(document);
         return result.violations.map((v) => ({{ id: v.id, impact: v.impact, where: v.nodes.map((n) => n.target.join(' ')) }}));",
        axe_script()
    );
    browser.run(&script, vec![]).await
}

/// What the page's frame says of its own layout: how wide its content is against its viewport,
/// what is wider than the viewport, and the height of each button, link-button, select and slider.
const MEASURE: &str = "
    const wide = [...document.querySelectorAll('body *')]
      .filter((e) => e.getBoundingClientRect().right > innerWidth + 0.5 && !e.closest('#filmstrip'))
      .map((e) => e.id || e.className || e.tagName);
    const targets = [...document.querySelectorAll('button, .button, select, input[type=range], input[type=number]')]
      .filter((e) => e.offsetParent !== null && !e.closest('#filmstrip'))
      .map((e) => ({ what: e.id || e.textContent.trim() || e.tagName, height: e.getBoundingClientRect().height }));
    const strip = document.getElementById('filmstrip');
    return {
      scrollWidth: document.scrollingElement.scrollWidth, innerWidth, wide, targets,
      strip: { client: strip.clientWidth, scroll: strip.scrollWidth },
    };";

async fn the_page_fits_every_width_from_320_px(kind: BrowserKind) {
    let server = Server::start(Path::new(env!("CARGO_BIN_EXE_thumbnail-server")), &[]);
    let browser = Browser::start(kind).await;
    for width in [320, 360, 390, 768] {
        browser.goto(&server.url("/")).await;
        let framed = browser
            .run(
                "const [width] = arguments;
                 document.body.replaceChildren();
                 const frame = document.createElement('iframe');
                 frame.style.cssText = `width: ${width}px; height: 2000px; border: 0; display: block`;
                 const loaded = new Promise((resolve) => (frame.onload = resolve));
                 frame.src = '/';
                 document.body.append(frame);
                 await loaded;
                 return frame.contentWindow.innerWidth;",
                vec![json!(width)],
            )
            .await;
        assert_eq!(framed, json!(width), "the frame's viewport");
        browser.enter_frame(0).await;
        browser.choose_file("#file", &fixture("h264.mp4")).await;
        browser
            .wait_for("document.querySelectorAll('#filmstrip button').length === 10", JOB_TIME)
            .await;
        browser.run("document.getElementById('make').click();", vec![]).await;
        browser
            .wait_for(
                "!document.getElementById('result').hidden && document.getElementById('preview').complete",
                JOB_TIME,
            )
            .await;
        let measured = browser.run(MEASURE, vec![]).await;
        // Share beside Download only where the browser can share the image as a file.
        let share = browser
            .run(
                "const image = await (await fetch(document.getElementById('download').href)).blob();
                 const file = new File([image], 'frame.png', { type: image.type });
                 return { can: navigator.canShare?.({ files: [file] }) ?? false,
                          shown: !document.getElementById('share').hidden };",
                vec![],
            )
            .await;
        assert_eq!(share["can"], share["shown"], "{} at {width} px: {share}", kind.name());
        if width == 390 {
            let found = violations(&browser).await;
            assert_eq!(found, json!([]), "{}: the page with a thumbnail shown", kind.name());
        }
        if width == 320 {
            eprintln!("{}: can share files: {}", kind.name(), share["can"]);
        }
        if width == 320 {
            // Looked at (the note says what it showed): the whole page in the frame.
            let shot = browser.screenshot().await;
            let path = test_support::root().join(format!("target/test-logs/layout-{}-320.png", kind.name()));
            std::fs::write(&path, shot).unwrap();
        }
        browser.leave_frame().await;
        let scroll = measured["scrollWidth"].as_u64().unwrap();
        assert!(
            scroll <= width,
            "{} at {width} px: the page is {scroll} px wide: {measured}",
            kind.name()
        );
        assert_eq!(
            measured["wide"],
            json!([]),
            "{} at {width} px: wider than the screen",
            kind.name()
        );
        // The filmstrip scrolls inside itself where its ten tiles do not fit.
        let strip = &measured["strip"];
        assert!(strip["client"].as_u64().unwrap() <= width, "{strip}");
        for target in measured["targets"].as_array().unwrap() {
            let height = target["height"].as_f64().unwrap();
            assert!(height >= 44.0, "{} at {width} px: {target} is below 44 px", kind.name());
        }
        let count = measured["targets"].as_array().map_or(0, Vec::len);
        assert!(count >= 7, "{measured}"); // Choose, the slider, 4 selects, quality, Make, Download
    }
    browser.close().await;
}

async fn the_element_fits_a_280_px_container(kind: BrowserKind) {
    let server = Server::start(Path::new(env!("CARGO_BIN_EXE_thumbnail-server")), &[]);
    let browser = Browser::start(kind).await;
    browser.goto(&server.url("/")).await;
    browser
        .run(
            "document.body.innerHTML = `<main><h1>A page holding the element</h1>
               <label>The test's video <input id=\"file\" type=\"file\"></label>
               <div id=\"box\" style=\"width: 280px\"><video-thumbnailer id=\"w\" width=\"640\"></video-thumbnailer></div></main>`;
             window.made = null;
             document.getElementById('w').addEventListener('thumbnail', (e) => (window.made = e.detail.width));
             await import('/video-thumbnailer.js');",
            vec![],
        )
        .await;
    browser.choose_file("#file", &fixture("h264.mp4")).await;
    browser
        .run(
            "document.getElementById('w').load(document.getElementById('file').files[0]);",
            vec![],
        )
        .await;
    browser.wait_for("window.made !== null", JOB_TIME).await;
    let measured = browser
        .run(
            "const box = document.getElementById('box').getBoundingClientRect();
             const el = document.getElementById('w');
             const out = [...el.shadowRoot.querySelectorAll('*')]
               .filter((e) => e.getClientRects().length && e.getBoundingClientRect().right > box.right + 0.5)
               .map((e) => e.getAttribute('part') || e.tagName);
             const slider = el.shadowRoot.querySelector('[part=slider]').getBoundingClientRect();
             return { width: el.getBoundingClientRect().width, scroll: el.scrollWidth, out, slider: slider.height,
                      shown: !el.shadowRoot.querySelector('[part=result]').hidden };",
            vec![],
        )
        .await;
    assert_eq!(measured["shown"], json!(true), "{measured}");
    assert!(
        measured["width"].as_f64().unwrap() <= 280.0,
        "{} : {measured}",
        kind.name()
    );
    assert_eq!(
        measured["out"],
        json!([]),
        "{}: outside the 280 px box: {measured}",
        kind.name()
    );
    assert!(measured["slider"].as_f64().unwrap() >= 44.0, "{measured}");
    let found = violations(&browser).await;
    assert_eq!(found, json!([]), "{}: a page holding the element", kind.name());
    browser.close().await;
}

in_every_browser!(
    the_page_fits_every_width_from_320_px,
    the_element_fits_a_280_px_container
);
