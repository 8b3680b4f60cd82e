#!/usr/bin/env bash
# Fuzzes the engine with libFuzzer, under AddressSanitizer and UndefinedBehaviorSanitizer, over
# FFmpeg built natively from the wasm recipe's exact source and component flags (C code only, as
# in the browser). Work files live in target/fuzz/ (git-ignored).
#
#   ffmpeg-wasm/fuzz/fuzz.sh [seconds]     fuzz for that long (default 3600), from the fixtures
#   ffmpeg-wasm/fuzz/fuzz.sh --files F...  run each file once under the sanitizers (no fuzzing)
#
# A crash leaves its input in target/fuzz/crashes/; once fixed, keep it in
# ffmpeg-wasm/fuzz/regressions/ (the engine tests run every file there).
set -euo pipefail

engine_dir=$(cd "$(dirname "$0")/.." && pwd)
root=$(dirname "$engine_dir")
work=$root/target/fuzz
recipe=$engine_dir/recipe/build.sh
CLANG=clang-14
SANITIZE=-fsanitize=address,undefined

log() { printf '\033[1m[fuzz]\033[0m %s\n' "$*" >&2; }

ensure_tools() {
  local missing=()
  command -v $CLANG >/dev/null || missing+=(clang-14)
  [ -n "$(ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a 2>/dev/null)" ] || missing+=(libclang-rt-14-dev)
  command -v make >/dev/null || missing+=(make)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
}

# FFmpeg with the recipe's components, instrumented, into $work/prefix (once per flag set).
build_ffmpeg() {
  local src flags stamp=$work/prefix/.flags
  src=$("$recipe" --fetch-source)
  mapfile -t flags < <("$recipe" --print-component-flags)
  flags+=(
    --cc=$CLANG --cxx=clang++-14 --disable-pthreads
    "--extra-cflags=$SANITIZE -fsanitize=fuzzer-no-link -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g"
    "--extra-ldflags=$SANITIZE"
    --optflags=-O1
  )
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "${flags[*]}" ]; then
    return
  fi
  log "ffmpeg: configure (sanitizers)"
  rm -rf "$work/build" "$work/prefix"
  mkdir -p "$work/build"
  (cd "$work/build" && "$src/configure" --prefix="$work/prefix" "${flags[@]}" >configure.log) \
    || { tail -30 "$work/build/ffbuild/config.log"; exit 1; }
  log "ffmpeg: make ($(nproc) jobs)"
  (cd "$work/build" && make -j"$(nproc)" >make.log 2>&1 && make install >install.log 2>&1) \
    || { tail -30 "$work/build/make.log"; exit 1; }
  printf '%s' "${flags[*]}" >"$stamp"
}

build_fuzzer() {
  local p=$work/prefix
  log "fuzzer: link"
  $CLANG $SANITIZE -fsanitize=fuzzer -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1 -std=c11 \
    -I"$p/include" -I"$engine_dir/engine" \
    "$engine_dir/fuzz/engine_fuzzer.c" "$engine_dir/engine/engine.c" \
    "$p/lib/libavformat.a" "$p/lib/libavcodec.a" "$p/lib/libswscale.a" "$p/lib/libavutil.a" -lm \
    -o "$work/engine_fuzzer"
}

main() {
  ensure_tools
  mkdir -p "$work"
  build_ffmpeg
  build_fuzzer
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
  if [ "${1:-}" = --files ]; then
    shift
    "$work/engine_fuzzer" -rss_limit_mb=4096 "$@"
    return
  fi
  local seconds=${1:-3600}
  # Seeds: every fixture of the tests, and the regressions.
  "$root/tests/fixtures.sh" "$root/target/fixtures"
  mkdir -p "$work/corpus" "$work/crashes"
  log "fuzzing for $seconds s (corpus: $work/corpus)"
  "$work/engine_fuzzer" "$work/corpus" "$root/target/fixtures" "$engine_dir/fuzz/regressions" \
    -max_total_time="$seconds" -max_len=262144 -timeout=20 -rss_limit_mb=4096 \
    -artifact_prefix="$work/crashes/" -print_final_stats=1
}

main "$@"
