#!/usr/bin/env bash
# The project's commands, for a fresh Debian 12 machine (see README.md). Each one first installs
# what it needs (idempotent: quick when everything is there).
#   ./dev.sh run      the app: server + page on http://127.0.0.1:8080 (flags go to the server)
#   ./dev.sh test     every test
#   ./dev.sh bench    the benchmark table (release build; written to target/bench/latest.md)
#   ./dev.sh engine   rebuild the wasm engine in engine/dist/ (needs no network but Debian's)
#   ./dev.sh package  the npm package, target/npm/<name>-<version>.tgz
set -euo pipefail
cd "$(dirname "$0")"

log() { printf '\033[1m[dev]\033[0m %s\n' "$*" >&2; }

# Debian packages: the native engine's libraries, the ffmpeg CLI (fixtures, references), exiftool
# (rotated fixture), avifenc (an AVIF sequence with an alpha track, which the CLI cannot write),
# Python (tests/legacy_formats.py writes the FLIC and CD+G fixtures; some test servers), brotli (size check), Node (runs the wasm engine in tests), chromium and its
# WebDriver (browser tests), PostgreSQL (the shared job store's tests start their own server),
# nginx (a server of byte ranges for the URL sources' tests, which start their own). The browser
# tests run in three engines: chromium, Firefox ESR (its geckodriver is built from crates.io, below)
# and WebKitGTK, Safari's engine (its WebDriver drives the MiniBrowser on an Xvfb display; its
# WebCodecs decode through GStreamer's libav decoders and the parsers of plugins-bad).
APT_PACKAGES=(
  build-essential pkg-config
  libavformat-dev libavcodec-dev libswscale-dev libavutil-dev
  ffmpeg libimage-exiftool-perl libavif-bin python3 brotli
  chromium chromium-driver
  firefox-esr
  webkit2gtk-driver libwebkit2gtk-4.1-0 gstreamer1.0-libav gstreamer1.0-plugins-bad xvfb
  postgresql nginx-light
)

apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return
  log "installing ${missing[*]}"
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -q
  # No package's service starts on installing (PostgreSQL's cluster, nginx on port 80): the tests
  # start their own on 127.0.0.1. A policy-rc.d that refuses is put in place if there is none.
  local policy=/usr/sbin/policy-rc.d ours=
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null && "${sudo[@]}" chmod +x "$policy" && ours=1
  fi
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
  [ -z "$ours" ] || "${sudo[@]}" rm -f "$policy"
}

setup() {
  apt_install "${APT_PACKAGES[@]}"
  command -v node >/dev/null || apt_install nodejs
  command -v npm >/dev/null || apt_install npm
  command -v cargo >/dev/null || { log "install Rust first: https://rustup.rs"; exit 1; }
}

# The browser side: worker/ compiled to wasm32 and bound with wasm-bindgen into www/pkg/ (git-ignored).
# wasm-bindgen-cli must be the exact version of the wasm-bindgen crate in Cargo.lock; it is built
# once (about 2.5 minutes) into ~/.cache/thumbnails-tools/. (Not --locked: its own lock file names a
# webpki-roots release the crates.io mirror here lacks.)
bindgen_root() {
  local version
  version=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"$/\1/p')
  echo "${XDG_CACHE_HOME:-$HOME/.cache}/thumbnails-tools/wasm-bindgen-$version"
}

# geckodriver, Firefox's WebDriver, is not in Debian 12: built once from crates.io (about 5 minutes)
# into the same cache, and put on the PATH of the tests and the bench.
GECKODRIVER_VERSION=0.37.1
browser_drivers() {
  local root="${XDG_CACHE_HOME:-$HOME/.cache}/thumbnails-tools/geckodriver-$GECKODRIVER_VERSION"
  if [ ! -x "$root/bin/geckodriver" ]; then
    log "building geckodriver $GECKODRIVER_VERSION (once)"
    cargo install geckodriver --version "=$GECKODRIVER_VERSION" --root "$root"
  fi
  export PATH="$root/bin:$PATH"
}

# s3s-fs, an S3-compatible server over a folder (Apache-2.0), for the tests of jobs shared through
# an object store: built once from crates.io (about 3 minutes; 0.14.1 is the newest this rustc
# builds) into the same cache; the tests find it by THUMBNAIL_S3S_FS.
S3S_FS_VERSION=0.14.1
object_store_server() {
  local root="${XDG_CACHE_HOME:-$HOME/.cache}/thumbnails-tools/s3s-fs-$S3S_FS_VERSION"
  if [ ! -x "$root/bin/s3s-fs" ]; then
    log "building s3s-fs $S3S_FS_VERSION (once)"
    cargo install s3s-fs --version "=$S3S_FS_VERSION" --features binary --locked --root "$root"
  fi
  export THUMBNAIL_S3S_FS="$root/bin/s3s-fs"
}

build_web() {
  rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
  local root
  root=$(bindgen_root)
  if [ ! -x "$root/bin/wasm-bindgen" ]; then
    log "building wasm-bindgen-cli ${root##*-} (once)"
    cargo install wasm-bindgen-cli --version "=${root##*-}" --root "$root"
  fi
  cargo build --profile wasm --locked -p thumbnail-worker --target wasm32-unknown-unknown
  "$root/bin/wasm-bindgen" --target no-modules --no-typescript --out-dir www/pkg target/wasm32-unknown-unknown/wasm/thumbnail_worker.wasm
}

# The JS API: js/src/*.ts compiled by TypeScript (pinned in js/package-lock.json, installed once
# into js/node_modules/) into www/ with its declarations, beside the worker's glue (plain JS, copied).
# All of it git-ignored there: js/src/ is the source.
build_js() {
  if [ ! -x js/node_modules/.bin/tsc ] || [ js/package-lock.json -nt js/node_modules/.package-lock.json ]; then
    (cd js && npm ci --no-audit --no-fund --loglevel=error)
  fi
  js/node_modules/.bin/tsc -p js
  cp js/src/thumbnailer-worker.js www/thumbnailer-worker.js
}

# The npm package, made from what build_web and build_js made: target/npm/<name>-<version>.tgz
# (the one file there), its version the Cargo workspace's. Its files keep the paths the server
# serves them at (thumbnailer.js, pkg/, engine/), which the JS API names with new URL(…,
# import.meta.url); with them the licences, FFmpeg's notice, build record and the engine's own
# source (engine/source/) for relinking.
package_npm() {
  local stage=target/npm/package version
  version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"$/\1/p' Cargo.toml)
  rm -rf target/npm && mkdir -p "$stage/pkg" "$stage/engine/source"
  local module
  for module in thumbnailer video-thumbnailer engine-worker errors server-client types picking placeholder; do
    cp "www/$module.js" "www/$module.d.ts" "$stage/"
  done
  cp www/thumbnailer-worker.js "$stage/"
  cp www/pkg/thumbnail_worker.js www/pkg/thumbnail_worker_bg.wasm "$stage/pkg/"
  cp engine/dist/*.js engine/dist/*.wasm engine/dist/BUILDINFO engine/dist/NOTICE.md engine/dist/COPYING.LGPLv2.1 "$stage/engine/"
  cp -r engine/c engine/recipe "$stage/engine/source/"
  cp LICENSE-MIT LICENSE-APACHE "$stage/"
  cp js/README.md "$stage/README.md"
  # js/package.json without what only builds it, with the workspace's version
  VERSION="$version" node -e '
    const p = JSON.parse(require("fs").readFileSync("js/package.json", "utf8"));
    delete p.devDependencies; delete p.private;
    p.version = process.env.VERSION;
    require("fs").writeFileSync(process.argv[1], JSON.stringify(p, null, 2) + "\n");
  ' "$stage/package.json"
  (cd target/npm && npm pack --loglevel=warn ./package >/dev/null)
  ls target/npm/*.tgz
}

# Brotli and gzip siblings of the static files, which the server sends to clients that accept
# them (the engine's wasm: 4.2 MB raw, under 1 MB brotli). Git-ignored; redone when a file changes.
# A sibling carries its file's exact mtime: the server offers it only while the file is no newer.
precompress() {
  local f
  for f in engine/dist/*.js engine/dist/*.wasm $(find www -type f \( -name '*.html' -o -name '*.js' -o -name '*.css' -o -name '*.wasm' -o -name '*.json' -o -name '*.svg' -o -name '*.webmanifest' \)); do
    if [ ! -f "$f.br" ] || [ "$f" -nt "$f.br" ]; then brotli -q 11 -f -k "$f" && touch -r "$f" "$f.br"; fi
    if [ ! -f "$f.gz" ] || [ "$f" -nt "$f.gz" ]; then gzip -9 -f -k "$f" && touch -r "$f" "$f.gz"; fi
  done
}

case ${1:-} in
  run)
    setup
    build_web
    build_js
    precompress
    cargo build --release --locked -p thumbnail-server
    exec target/release/thumbnail-server "${@:2}"
    ;;
  test)
    setup
    build_web
    build_js
    precompress # the tests serve what `run` serves
    package_npm # the npm package's tests install it into apps of their own
    browser_drivers
    object_store_server
    cargo test --workspace --locked
    # The worker's own tests again in wasm, in Node: its pixel loops as the browser runs them
    # (wasm SIMD), which a native build does not compile.
    CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER="$(bindgen_root)/bin/wasm-bindgen-test-runner" \
      cargo test --locked --target wasm32-unknown-unknown -p thumbnail-worker --lib
    ;;
  bench)
    setup
    build_web
    build_js
    precompress
    package_npm # its size beside the peers
    apt_install ffmpegthumbnailer # the command line's reference (not shipped)
    browser_drivers
    cargo build --release --locked -p thumbnail-server -p thumbnail-cli -p bench
    target/release/bench "${@:2}"
    ;;
  engine)
    engine/recipe/build.sh "${@:2}"
    ;;
  package)
    setup
    build_web
    build_js
    package_npm
    ;;
  *)
    sed -n '2,9p' "$0" >&2
    exit 2
    ;;
esac
