//! The page offline after one visit (www/sw.js, versioned by the server at /sw.js): it reloads from
//! the service worker with the server stopped, stays cross-origin isolated and makes thumbnails
//! (by WebCodecs or its wasm engine, as the browser allows); a new version of an asset waits while
//! an old page is open (that page keeps the old assets), then replaces the old cache when the page
//! reloads. In Chromium, Firefox and WebKitGTK.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};
use test_support::browser::BrowserKind;
use test_support::{fixture, in_every_browser, root, Browser, Server};

const WAIT: Duration = Duration::from_secs(60);

fn start(args: &[&str]) -> Server {
    Server::start(Path::new(env!("CARGO_BIN_EXE_thumbnail-server")), args)
}

/// Waits until the service worker is active and its cache holds everything it lists.
async fn wait_until_offline_ready(browser: &Browser) -> Value {
    browser
        .wait_for(
            "navigator.serviceWorker.getRegistration().then((r) => r?.active?.state === 'activated')",
            WAIT,
        )
        .await;
    browser
        .run(
            "await navigator.serviceWorker.ready;
             const names = await caches.keys();
             const cached = names.length === 1 ? (await (await caches.open(names[0])).keys()).length : 0;
             return { names, cached };",
            vec![],
        )
        .await
}

/// The paths the served service worker precaches (its `PRECACHE`, filled in by the server).
async fn precache_list(server: &Server) -> Vec<String> {
    let script = reqwest::get(server.url("/sw.js")).await.unwrap().text().await.unwrap();
    let list = script
        .split_once("const PRECACHE = ")
        .and_then(|(_, rest)| rest.split_once(";\n"))
        .map(|(list, _)| list)
        .unwrap_or_else(|| panic!("no PRECACHE in {script}"));
    serde_json::from_str(list).unwrap()
}

/// Makes the h264 fixture's thumbnail on the page; returns (engine, width, height).
async fn make_h264(browser: &Browser) -> Value {
    browser.choose_file("#file", &fixture("h264.mp4")).await;
    browser
        .wait_for("!document.getElementById('make').disabled", WAIT)
        .await;
    browser.run("document.getElementById('make').click();", vec![]).await;
    browser
        .wait_for(
            "!document.getElementById('result').hidden || document.getElementById('error').dataset.code",
            WAIT,
        )
        .await;
    browser
        .run(
            "const r = document.getElementById('result');
             return { engine: r.dataset.engine ?? null, width: Number(r.dataset.width), error: document.getElementById('error').textContent };",
            vec![],
        )
        .await
}

async fn after_one_visit_the_page_works_with_the_server_stopped(kind: BrowserKind) {
    let server = start(&[]);
    let url = server.url("/");
    let browser = Browser::start(kind).await;
    browser.goto(&url).await;
    let ready = wait_until_offline_ready(&browser).await;
    assert_eq!(ready["names"].as_array().unwrap().len(), 1, "{ready}");
    // Everything the server lists in the service worker is cached; the list is what it serves.
    let listed = precache_list(&server).await;
    assert_eq!(ready["cached"], listed.len(), "{ready} vs {listed:?}");
    for needed in [
        "./",
        "thumbnailer.js",
        "pkg/thumbnail_worker_bg.wasm",
        "engine/thumbnail-engine-mt.wasm",
        "engine/thumbnail-engine-st.wasm",
    ] {
        assert!(
            listed.iter().any(|p| p == needed),
            "{needed} is not precached: {listed:?}"
        );
    }
    assert!(
        !listed
            .iter()
            .any(|p| p == "sw.js" || p.ends_with(".br") || p.ends_with(".gz")),
        "{listed:?}"
    );

    drop(server);
    let offline = browser
        .run(
            "return fetch('/healthz').then(() => 'answered', () => 'unreachable');",
            vec![],
        )
        .await;
    assert_eq!(offline, "unreachable");

    // Navigated to again, not refreshed: geckodriver's refresh bypasses the service worker.
    browser.goto(&url).await;
    browser.wait_for("document.getElementById('make')", WAIT).await;
    assert_eq!(
        browser.run("return self.crossOriginIsolated;", vec![]).await,
        json!(true),
        "the cached page keeps COOP/COEP"
    );
    assert_eq!(
        make_h264(&browser).await,
        json!({ "engine": kind.webcodecs_or(kind.isolated_engine()), "width": 320, "error": "" })
    );
    browser.close().await;
}

/// A copy of www/ to change (with its br/gzip siblings, if any: the server skips stale ones).
fn copy_of_www() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let www = dir.path().join("www");
    let status = Command::new("cp")
        .args(["-r", "--preserve=timestamps"])
        .arg(root().join("www"))
        .arg(&www)
        .status()
        .unwrap();
    assert!(status.success());
    (dir, www)
}

async fn a_new_version_waits_for_the_open_page_then_replaces_the_old_cache(kind: BrowserKind) {
    let (_dir, www) = copy_of_www();
    let server = start(&["--www", www.to_str().unwrap()]);
    let browser = Browser::start(kind).await;
    browser.goto(&server.url("/")).await;
    let first = wait_until_offline_ready(&browser).await;
    let old_cache = first["names"][0].as_str().unwrap().to_owned();
    // A page the worker controls (the first visit's page is not: the worker never claims pages).
    // (Navigated to again: geckodriver's refresh bypasses the service worker.)
    browser.goto(&server.url("/")).await;
    browser.wait_for("navigator.serviceWorker.controller", WAIT).await;

    let css = www.join("app.css");
    let mut text = std::fs::read_to_string(&css).unwrap();
    text.push_str("\n/* version 2 */\n");
    std::fs::write(&css, text).unwrap();

    // The browser looks for a new worker on navigation; ask now rather than wait for one.
    browser
        .run(
            "await (await navigator.serviceWorker.getRegistration()).update();",
            vec![],
        )
        .await;
    // The new version installs and waits: the open page keeps the old worker, cache and assets.
    browser
        .wait_for(
            "navigator.serviceWorker.getRegistration().then((r) => r?.waiting?.state === 'installed')",
            WAIT,
        )
        .await;
    let open_page = browser
        .run(
            "const names = await caches.keys();
             const css = await (await fetch('/app.css')).text();
             return { names, css: css.includes('version 2'), offered: !document.getElementById('update').hidden };",
            vec![],
        )
        .await;
    assert_eq!(open_page["css"], false, "the open page got a new asset: {open_page}");
    assert!(
        open_page["names"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == old_cache.as_str()),
        "the old cache went while its page is open: {open_page}"
    );
    assert_eq!(
        open_page["offered"], true,
        "the page does not offer the new version: {open_page}"
    );

    // The page's Reload button: the new version takes over, the old cache goes.
    // (The old page is marked, so that what follows waits for the new one, not a page going away.)
    browser
        .run(
            "window.oldPage = true; document.getElementById('reload').click();",
            vec![],
        )
        .await;
    let started = std::time::Instant::now();
    let names = loop {
        // The page reloads meanwhile: a script may land on the old page as it goes.
        let names = browser
            .client
            .execute("return caches.keys();", vec![])
            .await
            .unwrap_or_default();
        if names.as_array().is_some_and(|n| n.len() == 1) && names[0] != old_cache.as_str() {
            break names; // a new cache, and the old one gone
        }
        assert!(started.elapsed() < WAIT, "caches now: {names}, before: {old_cache}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!("cache {old_cache} replaced by {}", names[0]);
    browser
        .wait_for(
            "!window.oldPage && document.readyState === 'complete' && document.getElementById('make')",
            WAIT,
        )
        .await;
    let now = browser
        .run(
            "const cache = await caches.open((await caches.keys())[0]);
             return { cached: (await (await cache.match('/app.css')).text()).includes('version 2'),
                      served: (await (await fetch('/app.css')).text()).includes('version 2') };",
            vec![],
        )
        .await;
    assert_eq!(now, json!({ "cached": true, "served": true }));
    assert_eq!(
        make_h264(&browser).await,
        json!({ "engine": kind.webcodecs_or(kind.isolated_engine()), "width": 320, "error": "" })
    );
    browser.close().await;
}

#[tokio::test]
async fn the_manifest_makes_the_page_installable() {
    let server = start(&[]);
    let get = |path: &str| reqwest::get(server.url(path));
    let response = get("/manifest.webmanifest").await.unwrap();
    assert_eq!(response.headers()["content-type"], "application/manifest+json");
    let manifest: Value = response.json().await.unwrap();
    assert_eq!(
        (&manifest["start_url"], &manifest["display"], &manifest["scope"]),
        (&json!("/"), &json!("standalone"), &json!("/"))
    );
    assert!(manifest["name"].as_str().is_some_and(|n| !n.is_empty()));
    // Chromium's installability wants a 192 px and a 512 px icon; each must exist and be that size.
    for icon in manifest["icons"].as_array().unwrap() {
        let response = get(&format!("/{}", icon["src"].as_str().unwrap())).await.unwrap();
        assert_eq!(response.status(), 200, "{icon}");
        assert_eq!(
            response.headers()["content-type"],
            icon["type"].as_str().unwrap(),
            "{icon}"
        );
        if let Some((w, h)) = icon["sizes"].as_str().unwrap().split_once('x') {
            let image = image::load_from_memory(&response.bytes().await.unwrap()).unwrap();
            assert_eq!(
                (image.width().to_string(), image.height().to_string()),
                (w.into(), h.into())
            );
        }
    }
    // Shared videos come to ./share as the form's `video` file, of the types the page offers to
    // pick (picking.ts's ACCEPT); the installed app opens video files at its start.
    let accept = std::fs::read_to_string(test_support::root().join("js/src/picking.ts")).unwrap();
    let accept = accept
        .split_once("export const ACCEPT = '")
        .and_then(|(_, rest)| rest.split_once('\''))
        .map(|(list, _)| list.split(',').map(|t| json!(t)).collect::<Vec<_>>())
        .unwrap();
    let share = &manifest["share_target"];
    assert_eq!(
        (
            &share["action"],
            &share["method"],
            &share["enctype"],
            &share["params"]["files"][0]["name"]
        ),
        (
            &json!("share"),
            &json!("POST"),
            &json!("multipart/form-data"),
            &json!("video")
        )
    );
    assert_eq!(share["params"]["files"][0]["accept"], json!(accept));
    let handled = manifest["file_handlers"][0]["accept"]["video/*"].as_array().unwrap();
    for extension in accept.iter().skip(1).chain(&[json!(".mp4")]) {
        assert!(handled.contains(extension), "file_handlers lacks {extension}");
    }
    let page = get("/").await.unwrap().text().await.unwrap();
    assert!(page.contains(r#"<link rel="manifest" href="manifest.webmanifest">"#));
    // The service worker comes with its version filled in.
    let sw = get("/sw.js").await.unwrap();
    assert_eq!(sw.headers()["content-type"], "text/javascript; charset=utf-8");
    let sw = sw.text().await.unwrap();
    assert!(
        !sw.contains("ASSETS_VERSION") && sw.contains("const VERSION = '"),
        "{sw}"
    );
}

/// A video shared to the installed app: the system's share sheet POSTs a form to ./share (the
/// manifest's share_target), which the service worker takes, online and with the server stopped,
/// and the page opens with the video picked, its probe line shown, as if chosen with the button.
async fn a_video_shared_to_the_app_is_picked_online_and_offline(kind: BrowserKind) {
    let server = start(&[]);
    let url = server.url("/");
    let browser = Browser::start(kind).await;
    browser.goto(&url).await;
    wait_until_offline_ready(&browser).await;
    let mut server = Some(server);
    for online in [true, false] {
        if !online {
            drop(server.take());
        }
        browser.goto(&url).await;
        browser.wait_for("document.getElementById('make')", WAIT).await;
        // A file input of the test's (the page's own would pick the video itself).
        browser
            .run(
                "const source = document.createElement('input');
                 source.type = 'file';
                 source.id = 'shared-source';
                 document.body.append(source);",
                vec![],
            )
            .await;
        browser.choose_file("#shared-source", &fixture("h264.mp4")).await;
        browser
            .run(
                "const form = document.createElement('form');
                 form.method = 'post';
                 form.action = 'share';
                 form.enctype = 'multipart/form-data';
                 const input = document.createElement('input');
                 input.type = 'file';
                 input.name = 'video';
                 const files = new DataTransfer();
                 files.items.add(document.getElementById('shared-source').files[0]);
                 input.files = files.files;
                 form.append(input);
                 document.body.append(form);
                 form.submit();",
                vec![],
            )
            .await;
        let info = browser
            .wait_for(
                "!document.getElementById('shared-source') && location.search === ''
                   && document.getElementById('info').textContent.includes('320×240') &&
                   document.getElementById('info').textContent",
                WAIT,
            )
            .await;
        assert_eq!(info, json!("h264.mp4 — 320×240 h264, 3.00 s"), "online {online}");
        assert_eq!(
            browser
                .run("return !document.getElementById('make').disabled && !(await caches.has('shared-video') && await (await caches.open('shared-video')).match('shared-video'));", vec![])
                .await,
            json!(true),
            "picked, and the shared copy gone (online {online})"
        );
    }
    browser.close().await;
}

in_every_browser!(
    a_video_shared_to_the_app_is_picked_online_and_offline,
    after_one_visit_the_page_works_with_the_server_stopped,
    a_new_version_waits_for_the_open_page_then_replaces_the_old_cache,
);
