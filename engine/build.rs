//! Compiles the C engine (c/*.c, the same sources the wasm recipe links) against the
//! system's FFmpeg 5.1 libraries, found with pkg-config. Only with the `native` feature.

fn main() {
    println!("cargo:rerun-if-changed=c");
    if std::env::var_os("CARGO_FEATURE_NATIVE").is_none() {
        return;
    }
    let mut build = cc::Build::new();
    // FFmpeg 5.1's library versions (Debian 12).
    for (lib, version) in [
        ("libavformat", "59"),
        ("libavcodec", "59"),
        ("libswscale", "6"),
        ("libavutil", "57"),
    ] {
        let found = pkg_config::Config::new()
            .atleast_version(version)
            .probe(lib)
            .unwrap_or_else(|e| {
                panic!(
                    "{lib} not found ({e}); on Debian: apt-get install libavformat-dev libavcodec-dev libswscale-dev"
                )
            });
        build.includes(found.include_paths);
    }
    // The engine's files (c/internal.h says which does what), the same the wasm recipe links.
    let mut sources: Vec<_> = std::fs::read_dir("c")
        .expect("engine/c")
        .map(|entry| entry.expect("engine/c").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "c"))
        .collect();
    sources.sort();
    build
        .files(sources)
        .std("c11")
        .warnings(true)
        .flag_if_supported("-Wno-deprecated-declarations")
        .opt_level(2)
        .compile("thumbnail_engine");
}
