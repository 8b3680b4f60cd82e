#!/usr/bin/env bash
# The recipe for the wasm engine (the README's third command):
#   1. fetch Debian's FFmpeg source package (exact version below),
#   2. build a slim, decode-only, LGPL FFmpeg with Debian's emscripten, three times:
#      st (no threads), mt (pthreads), and demux (containers and parsers only: no decoders, no
#      scaler; what the browser loads first, to hand packets to its own decoder, WebCodecs),
#   3. link the engine (c/*.c) into each as a MODULARIZE'd factory (its bytes read by the host: te_open_reader),
#   4. write dist/: the artifacts, BUILDINFO (versions, flags, sha256s) and the licence notice.
# Also: --print-component-flags [native], --fetch-source (for fuzz/fuzz.sh), --print-recipe-hash.
# Intermediate files live under target/ffmpeg-wasm/ (git-ignored); a variant whose flags did not
# change is not rebuilt. Usage: engine/recipe/build.sh [st|mt ...]
set -euo pipefail

engine_dir=$(cd "$(dirname "$0")/.." && pwd)
root=$(dirname "$engine_dir")
work=${TE_BUILD_DIR:-$root/target/ffmpeg-wasm}
dist=$engine_dir/dist

FFMPEG_DEB_VERSION=7:5.1.9-0+deb12u1
FFMPEG_VERSION=5.1.9
EMSCRIPTEN_DEB_VERSION=3.1.6~dfsg-5
MT_THREADS=4 # pthread pool size = most decoder threads the mt engine will use

export NODE_PATH=/usr/share/nodejs # Debian's emcc finds acorn there

log() { printf '\033[1m[recipe]\033[0m %s\n' "$*" >&2; }

ensure_tools() {
  local missing=()
  command -v emcc >/dev/null || missing+=(emscripten)
  [ -d /usr/share/nodejs/acorn ] || missing+=(node-acorn)
  command -v dpkg-source >/dev/null || missing+=(dpkg-dev)
  command -v brotli >/dev/null || missing+=(brotli)
  command -v make >/dev/null || missing+=(make)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
  fi
  local have
  have=$(dpkg-query -W -f='${Version}' emscripten)
  [ "$have" = "$EMSCRIPTEN_DEB_VERSION" ] || log "warning: emscripten $have, recipe was made with $EMSCRIPTEN_DEB_VERSION"
}

# Debian's source package, with its patches applied, unpacked once into $work/src.
fetch_source() {
  local src=$work/src/ffmpeg-$FFMPEG_VERSION
  [ -f "$src/configure" ] && return
  if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
    log "adding deb-src entries for Debian's source packages"
    sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \
      >/etc/apt/sources.list.d/debian-src.sources
    apt-get update -q
  fi
  mkdir -p "$work/src"
  (cd "$work/src" && apt-get source --download-only "ffmpeg=$FFMPEG_DEB_VERSION")
  (cd "$work/src" && dpkg-source -x "ffmpeg_${FFMPEG_DEB_VERSION#*:}.dsc" "ffmpeg-$FFMPEG_VERSION")
}

# Reads one of the lists (TE_DEMUXERS, ...) from c/formats.h.
component_list() { sed -n "s/^#define $1 \"\(.*\)\"$/\1/p" "$engine_dir/c/formats.h"; }

# What FFmpeg is made of, whatever it is built for: the components of formats.h, C code only
# (no assembly: wasm has none), LGPL, decode only. The fuzzer (fuzz/fuzz.sh) builds the same.
# `component_flags demux`: the same containers and parsers, without decoders or swscale.
# `component_flags native`: with the native engine's own decoders too (TE_NATIVE_DECODERS: dav1d
# and zlib from Debian), for the fuzzer, which runs what the server runs.
component_flags() {
  local flags=(
    --disable-asm --disable-x86asm --disable-inline-asm --disable-runtime-cpudetect
    --disable-stripping --disable-programs --disable-doc --disable-debug
    --disable-autodetect --disable-network --disable-everything
    --disable-avdevice --disable-postproc --disable-swresample --disable-avfilter
    --disable-gpl --disable-nonfree --enable-small
    --enable-protocol=file
    "--enable-demuxer=$(component_list TE_DEMUXERS)"
    "--enable-parser=$(component_list TE_PARSERS)"
  )
  case ${1:-} in
    demux) flags+=(--disable-swscale) ;;
    native) flags+=("--enable-decoder=$(component_list TE_DECODERS),$(component_list TE_NATIVE_DECODERS)"
                    --enable-libdav1d --enable-zlib) ;;
    *) flags+=("--enable-decoder=$(component_list TE_DECODERS)") ;;
  esac
  printf '%s\n' "${flags[@]}"
}

configure_flags() {
  local variant=$1
  local components
  mapfile -t components < <(component_flags "$variant")
  local flags=(
    --target-os=none --arch=x86_32 --enable-cross-compile
    --cc=emcc --cxx=em++ --ar=emar --ranlib=emranlib --nm=emnm
    "${components[@]}"
    --optflags=-O3
  )
  case $variant in
    st | demux) flags+=(--disable-pthreads --disable-w32threads --disable-os2threads) ;;
    mt) flags+=(--enable-pthreads --disable-w32threads --disable-os2threads
                --extra-cflags=-pthread --extra-ldflags=-pthread) ;;
  esac
  printf '%s\n' "${flags[@]}"
}

link_flags() {
  local variant=$1
  local exports=_te_new,_te_free,_te_set_max_pixels,_te_set_output_depth,_te_set_interrupt,_te_open,_te_close,_te_probe,_te_codec_info,_te_decode,_te_decode_next,_te_packets_decoded,_te_result,_te_read_packets,_te_packet_list,_te_open_reader,_te_output_size,_te_message,_te_error_name,_malloc,_free
  local flags=(
    -O3 --closure=0
    -sMODULARIZE=1 -sEXPORT_NAME=createThumbnailEngine
    -sENVIRONMENT=web,worker,node
    -sALLOW_MEMORY_GROWTH=1 -sINITIAL_MEMORY=64MB -sMAXIMUM_MEMORY=2GB
    -sFILESYSTEM=1
    "-sEXPORTED_FUNCTIONS=$exports"
    "-sEXPORTED_RUNTIME_METHODS=FS,UTF8ToString,stringToUTF8,lengthBytesUTF8"
    -sINCOMING_MODULE_JS_API=locateFile,mainScriptUrlOrBlob,print,printErr,onAbort,wasmMemory,instantiateWasm
  )
  case $variant in
    st) ;;
    mt) flags+=(-pthread "-sPTHREAD_POOL_SIZE=$MT_THREADS" "-DTE_MAX_THREADS=$MT_THREADS") ;;
    demux) flags+=(-DTE_NO_DECODERS) ;;
  esac
  printf '%s\n' "${flags[@]}"
}

build_ffmpeg() {
  local variant=$1 build=$work/build-$1 prefix=$work/prefix-$1
  local stamp=$prefix/.flags
  local flags
  flags=$(configure_flags "$variant")
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$flags" ]; then
    log "ffmpeg $variant: up to date"
    return
  fi
  log "ffmpeg $variant: configure"
  rm -rf "$build" "$prefix"
  mkdir -p "$build"
  local args
  mapfile -t args <<<"$flags"
  (cd "$build" && emconfigure "$work/src/ffmpeg-$FFMPEG_VERSION/configure" --prefix="$prefix" "${args[@]}" >configure.log) \
    || { tail -30 "$build/ffbuild/config.log"; exit 1; }
  log "ffmpeg $variant: make ($(nproc) jobs)"
  (cd "$build" && emmake make -j"$(nproc)" >make.log 2>&1 && make install >install.log 2>&1) \
    || { tail -30 "$build/make.log"; exit 1; }
  printf '%s' "$flags" >"$stamp"
}

link_engine() {
  local variant=$1 prefix=$work/prefix-$1
  local out=$work/out-$variant
  local args
  mapfile -t args < <(link_flags "$variant")
  log "engine $variant: link"
  rm -rf "$out" && mkdir -p "$out"
  local libs=("$prefix/lib/libavformat.a" "$prefix/lib/libavcodec.a")
  [ "$variant" = demux ] || libs+=("$prefix/lib/libswscale.a")
  libs+=("$prefix/lib/libavutil.a")
  emcc "${args[@]}" -I"$prefix/include" "$engine_dir"/c/*.c "${libs[@]}" \
    -o "$out/thumbnail-engine-$variant.js"
  mkdir -p "$dist"
  rm -f "$dist"/thumbnail-engine-"$variant".*
  cp "$out"/thumbnail-engine-"$variant".* "$dist/"
}

# Everything needed to reproduce the artifacts, and checksums to tell when they are stale.
write_buildinfo() {
  local info=$dist/BUILDINFO
  {
    echo "# Written by engine/recipe/build.sh; checked by the engine tests. Do not edit."
    echo "ffmpeg-source: Debian source package ffmpeg $FFMPEG_DEB_VERSION (apt-get source ffmpeg=$FFMPEG_DEB_VERSION)"
    (cd "$work/src" && for f in ffmpeg_*.dsc ffmpeg_*.tar.xz; do echo "source-sha256: $(sha256sum "$f")"; done)
    echo "emcc: $(emcc --version | head -1) (Debian package emscripten $(dpkg-query -W -f='${Version}' emscripten))"
    echo "clang: $(emcc -v 2>&1 | grep -m1 "clang version")"
    for v in st mt demux; do
      echo "configure-$v: $(configure_flags $v | tr '\n' ' ')"
      echo "link-$v: $(link_flags $v | tr '\n' ' ')"
    done
    echo "recipe-sha256: $(recipe_hash)"
    (cd "$dist" && for f in thumbnail-engine-*.js thumbnail-engine-*.wasm; do echo "artifact-sha256: $(sha256sum "$f")"; done)
  } >"$info"
  log "wrote $info"
}

# The inputs of the build: a change to any of them means dist/ must be rebuilt.
recipe_inputs() { (cd "$engine_dir" && ls recipe/build.sh c/*.c c/*.h); }
recipe_hash() { (cd "$engine_dir" && recipe_inputs | xargs sha256sum | sha256sum | cut -d' ' -f1); }

main() {
  case ${1:-} in
    --print-recipe-hash) recipe_hash; return ;;
    --print-component-flags) component_flags "${2:-}"; return ;;
    --fetch-source) fetch_source >&2; echo "$work/src/ffmpeg-$FFMPEG_VERSION"; return ;;
  esac
  local variants=("$@")
  [ ${#variants[@]} -gt 0 ] || variants=(st mt demux)
  ensure_tools
  fetch_source
  for v in "${variants[@]}"; do build_ffmpeg "$v"; done
  for v in "${variants[@]}"; do link_engine "$v"; done
  cp "$work/src/ffmpeg-$FFMPEG_VERSION/COPYING.LGPLv2.1" "$dist/COPYING.LGPLv2.1"
  write_buildinfo
}

# Bash reads a script as it runs it; with everything in main, an edit mid-build cannot derail it.
main "$@"
