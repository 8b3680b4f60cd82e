#!/usr/bin/env bash
# The project's commands, for a fresh Debian 12 machine (see README.md). Each one first installs
# what it needs (idempotent: quick when everything is there).
#   ./dev.sh run      the app: server + page on http://127.0.0.1:8080 (flags go to the server)
#   ./dev.sh test     every test
#   ./dev.sh bench    the benchmark table (release build; written to target/bench/latest.md)
#   ./dev.sh engine   rebuild the wasm engine in ffmpeg-wasm/dist/ (needs no network but Debian's)
set -euo pipefail
cd "$(dirname "$0")"

log() { printf '\033[1m[dev]\033[0m %s\n' "$*" >&2; }

# Debian packages: the native engine's libraries, the ffmpeg CLI (fixtures, references), exiftool
# (rotated fixture), brotli (size check), Node (runs the wasm engine in tests).
APT_PACKAGES=(
  build-essential pkg-config
  libavformat-dev libavcodec-dev libswscale-dev libavutil-dev
  ffmpeg libimage-exiftool-perl brotli
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
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
}

setup() {
  apt_install "${APT_PACKAGES[@]}"
  command -v node >/dev/null || apt_install nodejs
  command -v cargo >/dev/null || { log "install Rust first: https://rustup.rs"; exit 1; }
}

# Brotli and gzip siblings of the static files, which the server sends to clients that accept
# them (the engine's wasm: 4.2 MB raw, under 1 MB brotli). Git-ignored; redone when a file changes.
precompress() {
  local f
  for f in ffmpeg-wasm/dist/*.js ffmpeg-wasm/dist/*.wasm $(find www -type f \( -name '*.html' -o -name '*.js' -o -name '*.css' -o -name '*.wasm' -o -name '*.json' -o -name '*.svg' \)); do
    [ -f "$f.br" ] && [ "$f.br" -nt "$f" ] || brotli -q 11 -f -k "$f"
    [ -f "$f.gz" ] && [ "$f.gz" -nt "$f" ] || gzip -9 -f -k "$f"
  done
}

case ${1:-} in
  run)
    setup
    precompress
    cargo build --release --locked -p server
    exec target/release/server "${@:2}"
    ;;
  test)
    setup
    cargo test --workspace --locked
    ;;
  bench)
    setup
    cargo build --release --locked -p server -p bench
    target/release/bench "${@:2}"
    ;;
  engine)
    ffmpeg-wasm/recipe/build.sh "${@:2}"
    ;;
  *)
    sed -n '2,8p' "$0" >&2
    exit 2
    ;;
esac
