#!/usr/bin/env bash
# Fuzzes the engine with libFuzzer, under AddressSanitizer and UndefinedBehaviorSanitizer, over
# FFmpeg built natively from the wasm recipe's exact source and component flags (C code only, as
# in the browser), with the native engine's own decoders besides (formats.h's TE_NATIVE_DECODERS:
# libdav1d, PNG): what is fuzzed is what runs. Work files live in target/fuzz/ (git-ignored); the
# corpus stays between runs, and every run adds its executions to target/fuzz/executions.
#
#   engine/fuzz/fuzz.sh [seconds] [--jobs N]
#                                     fuzz for that long (default 3600) in N processes at once
#                                     (default: one per core), from the corpus and tiny seed clips
#   engine/fuzz/fuzz.sh --files F...  run each file once under the sanitizers (no fuzzing)
#
# A run goes on past a crash (libFuzzer's -fork mode: short fuzzing processes over parts of the
# corpus, their new inputs merged into it); each crash, timeout or out-of-memory leaves its input
# in target/fuzz/crashes/, listed at the end, and the run then exits 1. Once fixed, keep the input in
# engine/fuzz/regressions/ (the engine tests run every file there).
set -euo pipefail

engine_dir=$(cd "$(dirname "$0")/.." && pwd)
root=$(dirname "$engine_dir")
work=$root/target/fuzz
recipe=$engine_dir/recipe/build.sh
CLANG=clang-14
SANITIZE=-fsanitize=address,undefined
# FFmpeg's code gets edge coverage but no comparison tracing (trace-cmp): with it, perf showed
# 64 % of the time in libFuzzer's __sanitizer_cov_trace_*cmp* hooks (FFmpeg's byte-scanning loops:
# the MPEG-TS packet-size probe, swscale's filters) and 30 runs/s; the seeds of every format give
# the magic numbers that comparison tracing would find. The engine's own C keeps it.
FFMPEG_COVERAGE="-fsanitize=fuzzer-no-link -fno-sanitize-coverage=trace-cmp"

log() { printf '\033[1m[fuzz]\033[0m %s\n' "$*" >&2; }

ensure_tools() {
  local missing=()
  command -v $CLANG >/dev/null || missing+=(clang-14)
  [ -n "$(ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a 2>/dev/null)" ] || missing+=(libclang-rt-14-dev)
  command -v make >/dev/null || missing+=(make)
  [ -f /usr/include/zlib.h ] || missing+=(zlib1g-dev)
  [ -f /usr/include/dav1d/dav1d.h ] || missing+=(libdav1d-dev)
  command -v pkg-config >/dev/null || missing+=(pkg-config)
  command -v ffmpeg >/dev/null || missing+=(ffmpeg)
  command -v avifenc >/dev/null || missing+=(libavif-bin)
  command -v python3 >/dev/null || missing+=(python3)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
}

# FFmpeg with the recipe's components, instrumented, into $work/prefix (once per flag set).
build_ffmpeg() {
  local src flags stamp=$work/prefix/.flags
  src=$("$recipe" --fetch-source)
  mapfile -t flags < <("$recipe" --print-component-flags native)
  flags+=(
    --cc=$CLANG --cxx=clang++-14 --disable-pthreads
    "--extra-cflags=$SANITIZE $FFMPEG_COVERAGE -fno-omit-frame-pointer -g"
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
  $CLANG $SANITIZE -fsanitize=fuzzer -fno-omit-frame-pointer -g -O1 -std=c11 \
    -I"$p/include" -I"$engine_dir/c" \
    "$engine_dir/fuzz/engine_fuzzer.c" "$engine_dir"/c/*.c \
    "$p/lib/libavformat.a" "$p/lib/libavcodec.a" "$p/lib/libswscale.a" "$p/lib/libavutil.a" \
    $(pkg-config --libs dav1d zlib) -lm \
    -o "$work/engine_fuzzer"
}

# Seeds: one tiny clip (64x48, 5 frames, a keyframe every 3) per codec and container the engine
# reads, so that each run decodes little and the fuzzer runs fast. Made with the ffmpeg CLI (FLIC
# and CD+G, which it cannot write, by tests/legacy_formats.py); each once.
make_seeds() {
  local seeds=$work/seeds
  local version=3 # made again when this list changes
  [ "$(cat "$seeds/.done" 2>/dev/null)" = $version ] && return
  rm -rf "$seeds" && mkdir -p "$seeds"
  local spec codec ext
  for spec in libx264:mp4 libx264:mkv libx264:ts libx264:h264 libx264:flv libx265:hevc libx265:mp4 \
    libvpx:webm libvpx:ivf libvpx-vp9:webm mpeg4:avi mpeg4:m4v mpeg2video:mpg mpeg2video:m2v \
    mpeg2video:ts wmv1:asf wmv2:wmv msmpeg4:avi flv:flv mjpeg:avi libtheora:ogv prores_ks:mov \
    rv10:rm rv20:rm cinepak:avi msvideo1:avi qtrle:mov rawvideo:avi svq1:mov huffyuv:avi \
    ffvhuff:avi utvideo:avi magicyuv:avi ffv1:mkv gif:gif png:mov libaom-av1:ivf \
    libaom-av1:obu libaom-av1:mp4; do
    codec=${spec%%:*} ext=${spec#*:}
    ffmpeg -hide_banner -loglevel error -nostdin -y -f lavfi -i testsrc2=size=64x48:rate=10:duration=0.5 \
      -c:v "$codec" -g 3 -x265-params log-level=error -cpu-used 8 -fflags +bitexact -flags:v +bitexact \
      "$seeds/$codec.$ext"
  done
  ffmpeg -hide_banner -loglevel error -nostdin -f lavfi -i testsrc2=size=64x48:rate=10:duration=0.5 \
    -pix_fmt rgb8 -f rawvideo - | python3 "$root/tests/legacy_formats.py" flic 64 48 10 "$seeds/flic.flc"
  python3 "$root/tests/legacy_formats.py" cdg 0.2 "$seeds/cdg.cdg"
  ffmpeg -hide_banner -loglevel error -nostdin -y -f lavfi -i testsrc2=size=64x48:rate=10:duration=0.5 \
    -pix_fmt yuv420p -f yuv4mpegpipe "$seeds/raw.y4m"
  ffmpeg -hide_banner -loglevel error -nostdin -y -f lavfi -i testsrc2=size=256x128:rate=10:duration=0.3 \
    -c:v dnxhd -profile:v dnxhr_lb -pix_fmt yuv422p "$seeds/dnxhr.mov"
  ffmpeg -hide_banner -loglevel error -nostdin -y -f lavfi -i testsrc2=size=176x144:rate=10:duration=0.5 \
    -c:v h263 -g 3 "$seeds/h263.3gp"
  ffmpeg -hide_banner -loglevel error -nostdin -y -f lavfi -i testsrc2=size=64x48:rate=25:duration=0.2 \
    -c:v mpeg1video -g 3 -f mpeg "$seeds/mpeg1.mpg"
  # An AVIF sequence with an alpha track (two AV1 tracks), as avifenc writes it.
  mkdir -p "$seeds/tmp-avif"
  ffmpeg -hide_banner -loglevel error -nostdin -f lavfi \
    -i "testsrc2=size=64x48:rate=10:duration=0.5,format=rgba,geq=r='r(X,Y)':g='g(X,Y)':b='b(X,Y)':a='if(lt(X,32),255,96)'" \
    "$seeds/tmp-avif/%03d.png"
  avifenc --speed 10 --codec rav1e -j 1 -y 420 --fps 10 --keyframe 3 "$seeds"/tmp-avif/*.png \
    "$seeds/alpha-sequence.avif" >/dev/null
  rm -r "$seeds/tmp-avif"
  echo $version >"$seeds/.done"
}

# What the fuzzing processes left in crashes/: crashes and sanitizer reports, timeouts (-timeout),
# memory past -rss_limit_mb, leaks; not libFuzzer's notes of slow inputs (slow-unit-*).
findings() { ls "$work/crashes" | grep -E '^(crash|timeout|oom|leak)-' || true; }

usage() { echo "usage: fuzz.sh [seconds] [--jobs N] | --files F..." >&2; exit 2; }

main() {
  local files=() seconds=3600 jobs
  jobs=$(nproc)
  if [ "${1:-}" = --files ]; then
    shift
    [ $# -gt 0 ] || usage
    files=("$@")
    set --
  fi
  while [ $# -gt 0 ]; do
    case $1 in
      --jobs) jobs=${2:-}; shift $(( $# > 1 ? 2 : 1 ))
        [[ $jobs =~ ^[1-9][0-9]*$ ]] || usage ;;
      *[!0-9]* | '') usage ;;
      *) seconds=$1; shift ;;
    esac
  done
  ensure_tools
  mkdir -p "$work"
  build_ffmpeg
  build_fuzzer
  # Every report halts (a crash for libFuzzer), but for the known ones of FFmpeg in ubsan.supp.
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:suppressions=$engine_dir/fuzz/ubsan.supp
  export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
  if [ ${#files[@]} -gt 0 ]; then
    "$work/engine_fuzzer" -rss_limit_mb=4096 "${files[@]}"
    return
  fi
  make_seeds
  # -entropic=0: libFuzzer 14's entropic schedule spends 90 % of the time on its own bookkeeping
  # with FFmpeg's hundreds of thousands of features (measured with perf: 4 runs/s).
  mkdir -p "$work/corpus" "$work/crashes"
  local before status=0
  before=$(findings)
  log "fuzzing for $seconds s in $jobs processes (corpus: $work/corpus)"
  # In its own process group: libFuzzer 14's fork mode takes an interrupted fuzzing process for a
  # crash and goes on, so Ctrl-C (or a TERM) stops the whole group here, and the runs done so far
  # are still counted below.
  local fuzzer
  setsid "$work/engine_fuzzer" "$work/corpus" "$work/seeds" "$engine_dir/fuzz/regressions" \
    -fork="$jobs" -ignore_crashes=1 -max_total_time="$seconds" \
    -max_len=65536 -timeout=20 -rss_limit_mb=4096 -entropic=0 \
    -artifact_prefix="$work/crashes/" 2> >(tee "$work/last-run.log" >&2) &
  fuzzer=$!
  trap 'log "stopping"; kill -KILL -- -$fuzzer 2>/dev/null' INT TERM
  wait $fuzzer || status=$?
  trap - INT TERM
  sleep 1 # the tee above finishes writing
  # The fork mode's lines "#<runs>: cov: ..." count every fuzzing process's executions so far.
  local runs total found
  runs=$(sed -n 's/^#\([0-9]*\): cov:.*/\1/p' "$work/last-run.log" | tail -1)
  total=$(( $(cat "$work/executions" 2>/dev/null || echo 0) + ${runs:-0} ))
  echo "$total" >"$work/executions"
  log "this run: ${runs:-0} executions; all runs from this corpus: $total"
  found=$(comm -13 <(echo "$before") <(findings))
  if [ -n "$found" ]; then
    log "new in $work/crashes/:"$'\n'"$found"
    status=1
  fi
  return $status
}

main "$@"
