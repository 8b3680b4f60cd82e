//! The committed wasm artifacts are what the recipe makes from the current sources, and small.

use std::path::{Path, PathBuf};
use std::process::Command;

fn engine_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn buildinfo() -> String {
    std::fs::read_to_string(engine_dir().join("dist/BUILDINFO")).expect("dist/BUILDINFO")
}

fn stdout(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn artifacts_are_built_from_the_current_recipe() {
    let hash = stdout(Command::new(engine_dir().join("recipe/build.sh")).arg("--print-recipe-hash"));
    let recorded = buildinfo()
        .lines()
        .find_map(|l| l.strip_prefix("recipe-sha256: ").map(str::to_owned));
    assert_eq!(
        recorded.as_deref(),
        Some(hash.trim()),
        "the engine sources or recipe changed since dist/ was built: run engine/recipe/build.sh"
    );
}

#[test]
fn artifacts_match_their_recorded_checksums() {
    let info = buildinfo();
    let recorded: Vec<&str> = info
        .lines()
        .filter_map(|l| l.strip_prefix("artifact-sha256: "))
        .collect();
    for name in [
        "st.js",
        "st.wasm",
        "mt.js",
        "mt.wasm",
        "mt.worker.js",
        "demux.js",
        "demux.wasm",
    ] {
        let file = format!("thumbnail-engine-{name}");
        let actual = stdout(
            Command::new("sha256sum")
                .arg(&file)
                .current_dir(engine_dir().join("dist")),
        );
        assert!(
            recorded.contains(&actual.trim()),
            "{file} differs from BUILDINFO: rebuild with the recipe"
        );
    }
}

/// The whole engine within 1.2 MB brotli; the demux-only one, which the browser loads first (its
/// own decoder, WebCodecs, decoding), within 525 KB: it was 470,098 bytes, 502,456 once AV1's
/// parser (the keyframes of AV1 in IVF and OBU streams, for WebCodecs) and the OBU, YUV4MPEG,
/// FLIC, CD+G and GIF demuxers joined (st 1,090,598 -> 1,126,993; mt 1,106,361 -> 1,144,165).
#[test]
fn each_variant_is_at_most_1_2_mb_brotli() {
    for (variant, most) in [("st", 1_200_000), ("mt", 1_200_000), ("demux", 525_000)] {
        let wasm = engine_dir().join(format!("dist/thumbnail-engine-{variant}.wasm"));
        let out = Command::new("brotli")
            .args(["-q", "11", "-c"])
            .arg(&wasm)
            .output()
            .expect("brotli CLI");
        assert!(out.status.success());
        let size = out.stdout.len();
        eprintln!(
            "{variant}: {} bytes raw, {size} bytes brotli",
            std::fs::metadata(&wasm).unwrap().len()
        );
        assert!(size <= most, "{variant}: {size} bytes after brotli -q 11");
    }
}

#[test]
fn licence_and_source_ship_with_the_engine() {
    let dist = engine_dir().join("dist");
    let lgpl = std::fs::read_to_string(dist.join("COPYING.LGPLv2.1")).unwrap();
    assert!(lgpl.contains("GNU LESSER GENERAL PUBLIC LICENSE"));
    let info = buildinfo();
    assert!(info.contains("ffmpeg-source: Debian source package ffmpeg 7:5.1.9"));
    for key in ["configure-st: ", "configure-mt: ", "link-st: ", "link-mt: ", "emcc: "] {
        assert!(info.lines().any(|l| l.starts_with(key)), "BUILDINFO lacks {key}");
    }
    // LGPL only: the recipe never enables GPL or non-free parts.
    assert!(info.contains("--disable-gpl") && !info.contains("--enable-gpl") && !info.contains("--enable-nonfree"));
}
