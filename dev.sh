#!/usr/bin/env bash
# The project's commands, for a fresh Debian 12 machine (see README.md). Each one first installs
# what it needs (idempotent: quick when everything is there).
#   ./dev.sh test     every test
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

case ${1:-} in
  test)
    setup
    cargo test --workspace --locked
    ;;
  engine)
    ffmpeg-wasm/recipe/build.sh "${@:2}"
    ;;
  *)
    sed -n '2,6p' "$0" >&2
    exit 2
    ;;
esac
