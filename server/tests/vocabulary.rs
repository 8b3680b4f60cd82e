//! The vocabulary (crate `thumbnail-vocabulary`) is the one source of the codes, the option names
//! and the video description; the other forms are written for their readers (TypeScript types,
//! the OpenAPI description, the page's words, the JS glue) and compared with it here, so that a
//! code, an option or a field added on one side only fails. (The C side: engine/tests/abi.rs.)

use std::collections::BTreeSet;

use serde_json::Value;
use thumbnail_vocabulary::{VideoInfo, CODES, FRAMES_OPTION_NAMES, OPTION_NAMES, SPRITE_OPTION_NAMES};

fn read(path: &str) -> String {
    std::fs::read_to_string(test_support::root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn set<'a>(items: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    items.into_iter().map(str::to_owned).collect()
}

/// The text between `start` and the first `end` after it.
fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text.find(start).unwrap_or_else(|| panic!("no {start:?}")) + start.len();
    let rest = &text[from..];
    &rest[..rest.find(end).unwrap_or_else(|| panic!("no {end:?} after {start:?}"))]
}

/// The quoted words ('a' or "a") in `text`.
fn quoted(text: &str) -> BTreeSet<String> {
    let mut words = BTreeSet::new();
    for quote in ['\'', '"'] {
        let parts: Vec<&str> = text.split(quote).collect();
        for word in parts.iter().skip(1).step_by(2) {
            words.insert((*word).to_owned());
        }
    }
    words
}

/// The property names of a TypeScript interface's body (`name?: type;` lines, comments skipped).
fn ts_fields(body: &str) -> BTreeSet<String> {
    body.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("/*") && !l.starts_with('*') && !l.starts_with("//"))
        .filter_map(|l| {
            l.split_once(':')
                .map(|(name, _)| name.trim_end_matches('?').trim().to_owned())
        })
        .filter(|name| !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .collect()
}

fn video_info_fields() -> BTreeSet<String> {
    let sample = VideoInfo::default();
    let Value::Object(map) = serde_json::to_value(sample).unwrap() else {
        unreachable!()
    };
    map.keys().cloned().collect()
}

fn openapi() -> Value {
    serde_json::from_str(&read("server/openapi.json")).unwrap()
}

#[test]
fn error_codes() {
    let all = set(CODES.iter().map(|c| c.name));
    let from_server = set(CODES.iter().filter(|c| c.from_server()).map(|c| c.name));

    let ts = read("js/src/errors.ts");
    let union = quoted(between(&ts, "export type ThumbnailErrorCode =", ";"));
    assert_eq!(union, all, "ThumbnailErrorCode in js/src/errors.ts");

    let spec = openapi();
    let openapi_codes: BTreeSet<String> = spec["components"]["schemas"]["Problem"]["properties"]["code"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(openapi_codes, from_server, "the problem codes in openapi.json");

    // Every code has words on the page.
    let app = read("www/app.js");
    let words: BTreeSet<String> = between(&app, "const IN_WORDS = {", "};")
        .lines()
        .filter_map(|l| l.trim().split_once(':').map(|(k, _)| k.trim().to_owned()))
        .filter(|k| !k.is_empty())
        .collect();
    assert_eq!(words, all, "IN_WORDS in app.js");

    // The JS glue and the Rust worker only make codes of the list.
    for path in [
        "js/src/thumbnailer.ts",
        "js/src/engine-worker.ts",
        "js/src/server-client.ts",
        "js/src/thumbnailer-worker.js",
        "worker/src/lib.rs",
        "worker/src/engine.rs",
    ] {
        let text = read(path);
        let mut made = BTreeSet::new();
        for marker in ["ThumbnailError('", "code: '", "code: \"", "FALL_BACK_ON = new Set(["] {
            for piece in text.split(marker).skip(1) {
                let piece = if marker.starts_with("FALL_BACK_ON") {
                    &piece[..piece.find(']').unwrap()]
                } else {
                    &piece[..piece.find(['\'', '"']).unwrap()]
                };
                if marker.starts_with("FALL_BACK_ON") {
                    made.extend(quoted(piece));
                } else {
                    made.insert(piece.to_owned());
                }
            }
        }
        made.retain(|c| !c.is_empty());
        assert!(
            !made.is_empty() || path.ends_with("engine.rs"),
            "{path}: no codes found"
        );
        for code in made {
            assert!(
                all.contains(&code),
                "{path} makes the code `{code}`, which the vocabulary does not list"
            );
        }
    }
}

/// The names of an operation's query parameters in openapi.json (not its headers).
fn query_parameters(spec: &Value, path: &str) -> BTreeSet<String> {
    spec["paths"][path]["post"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["in"] == "query")
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn option_names() {
    let names = set(OPTION_NAMES);
    let ts = read("js/src/types.ts");
    let fields = ts_fields(between(
        &ts,
        "export interface ThumbnailOptions extends JobOptions {",
        "\n}",
    ));
    assert_eq!(fields, names, "ThumbnailOptions in js/src/types.ts");

    let spec = openapi();
    let params = query_parameters(&spec, "/thumbnail");
    assert_eq!(params, names, "the query parameters of /thumbnail in openapi.json");
}

#[test]
fn the_video_description() {
    let fields = video_info_fields();
    let ts = read("js/src/types.ts");
    assert_eq!(
        ts_fields(between(&ts, "export interface VideoInfo {", "\n}")),
        fields,
        "VideoInfo in js/src/types.ts"
    );
    let spec = openapi();
    let probe = &spec["components"]["schemas"]["Probe"];
    let properties: BTreeSet<String> = probe["properties"].as_object().unwrap().keys().cloned().collect();
    assert_eq!(properties, fields, "Probe in openapi.json");
    let required: BTreeSet<String> = probe["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        required, fields,
        "every Probe field is always there (null when unknown)"
    );
}

#[test]
fn sprite_option_names_and_answer() {
    let names = set(SPRITE_OPTION_NAMES);
    let ts = read("js/src/types.ts");
    let fields = ts_fields(between(
        &ts,
        "export interface SpriteOptions extends JobOptions {",
        "\n}",
    ));
    assert_eq!(fields, names, "SpriteOptions in js/src/types.ts");
    let spec = openapi();
    let params = query_parameters(&spec, "/sprite");
    assert_eq!(params, names, "the query parameters of /sprite in openapi.json");

    // The answer: the frames crate's SheetInfo, plus the image (a data URL on the server, a Blob
    // and the engine's name in the browser).
    let sheet = thumbnail_frames::sprite::SheetInfo::new(
        &thumbnail_frames::sprite::Sheet::new(1, 1, 1, 1),
        vec![0.0],
        None,
        "sprite.jpg",
    );
    let Value::Object(map) = serde_json::to_value(sheet).unwrap() else {
        unreachable!()
    };
    let mut fields: BTreeSet<String> = map.keys().cloned().collect();
    let mut with_image = fields.clone();
    with_image.insert("image".into());
    let properties: BTreeSet<String> = spec["components"]["schemas"]["Sprite"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(properties, with_image, "Sprite in openapi.json");
    fields.extend(["blob".to_owned(), "engine".to_owned()]);
    assert_eq!(
        ts_fields(between(&ts, "export interface Sprite {", "\n}")),
        fields,
        "Sprite in js/src/types.ts"
    );
}

#[test]
fn frames_option_names_and_answer() {
    let names = set(FRAMES_OPTION_NAMES);
    let ts = read("js/src/types.ts");
    let fields = ts_fields(between(
        &ts,
        "export interface FramesOptions extends JobOptions {",
        "\n}",
    ));
    assert_eq!(fields, names, "FramesOptions in js/src/types.ts");
    let spec = openapi();
    let params = query_parameters(&spec, "/frames");
    assert_eq!(params, names, "the query parameters of /frames in openapi.json");
    // One frame: the server's carries its image as a data URL, the browser's a bitmap or a blob
    // and the engine's name.
    let frame = &spec["components"]["schemas"]["Frames"]["properties"]["frames"]["items"]["properties"];
    let served: BTreeSet<String> = frame.as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        served,
        set(["time", "width", "height", "image"]),
        "a frame in openapi.json"
    );
    assert_eq!(
        ts_fields(between(&ts, "export interface Frame {", "\n}")),
        set(["time", "width", "height", "bitmap", "blob", "engine"]),
        "Frame in js/src/types.ts"
    );
}

#[test]
fn the_job_description() {
    let spec = openapi();
    let properties: BTreeSet<String> = spec["components"]["schemas"]["Job"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let ts = read("js/src/types.ts");
    assert_eq!(
        ts_fields(between(&ts, "export interface Job {", "\n}")),
        properties,
        "Job in js/src/types.ts against openapi.json"
    );
}
