#!/usr/bin/env bash
# Generates the test videos with the ffmpeg CLI, deterministically (testsrc2 + sine, bitexact),
# into target/fixtures/ (or $1). Idempotent: files are made again only when this script changes.
# Every test suite (engine, server, browser) reads the same files.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
if [ "${1:-}" = --bench ]; then
  # Larger inputs for the benchmark only (slower to make): 720p VP9 and 4K HEVC, 10 s, 2 s GOP.
  out=$root/target/fixtures/bench
  mkdir -p "$out"
  if [ ! -s "$out/vp9-720p.webm" ]; then
    ffmpeg -hide_banner -loglevel error -nostdin -y -f lavfi -i testsrc2=size=1280x720:rate=25:duration=10 \
      -c:v libvpx-vp9 -deadline realtime -cpu-used 8 -b:v 2M -g 50 -row-mt 1 "$out/tmp.webm"
    mv "$out/tmp.webm" "$out/vp9-720p.webm"
  fi
  if [ ! -s "$out/hevc-4k.mp4" ]; then
    ffmpeg -hide_banner -loglevel error -nostdin -y -f lavfi -i testsrc2=size=3840x2160:rate=25:duration=10 \
      -c:v libx265 -preset ultrafast -x265-params log-level=error -pix_fmt yuv420p -g 50 -tag:v hvc1 "$out/tmp.mp4"
    mv "$out/tmp.mp4" "$out/hevc-4k.mp4"
  fi
  exit 0
fi
out=${1:-$root/target/fixtures}
stamp=$out/.generated-by
script_hash=$(sha256sum "$0" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$script_hash" ]; then
  exit 0
fi
rm -rf "$out"
mkdir -p "$out"

# ffmpeg <inputs/options...> <name>: writes $out/<name> atomically.
make_fixture() {
  local name=${*: -1}
  local args=("${@:1:$#-1}")
  ffmpeg -hide_banner -loglevel error -nostdin -y "${args[@]}" \
    -fflags +bitexact -flags:v +bitexact -flags:a +bitexact -map_metadata -1 "$out/tmp-$name"
  mv "$out/tmp-$name" "$out/$name"
}

video() { # video <seconds> [size] [rate]
  echo -f lavfi -i "testsrc2=size=${2:-320x240}:rate=${3:-25}:duration=$1"
}
audio() { echo -f lavfi -i "sine=frequency=440:sample_rate=44100:duration=$1"; }
x264=(-c:v libx264 -preset veryfast -pix_fmt yuv420p -threads 1)

# shellcheck disable=SC2046 # video/audio expand to several words on purpose
{
  make_fixture $(video 3) $(audio 3) "${x264[@]}" -g 25 -c:a aac -b:a 64k -shortest h264.mp4
  make_fixture $(video 3) "${x264[@]}" -g 25 -movflags +faststart h264-faststart.mp4
  make_fixture $(video 3) -c:v libx265 -preset ultrafast -x265-params log-level=error:pools=1 \
    -pix_fmt yuv420p -g 25 -tag:v hvc1 hevc.mp4
  make_fixture $(video 3) -c:v libvpx -deadline realtime -cpu-used 8 -b:v 500k -g 25 -threads 1 vp8.webm
  make_fixture $(video 3) -c:v libvpx-vp9 -deadline realtime -cpu-used 8 -b:v 500k -g 25 -threads 1 vp9.webm
  make_fixture $(video 3) -c:v libaom-av1 -cpu-used 8 -usage realtime -b:v 300k -g 25 -threads 1 av1.mp4
  make_fixture $(video 3) -c:v mpeg4 -q:v 3 -g 25 mpeg4.avi
  make_fixture $(video 3) -c:v mpeg2video -q:v 3 -g 12 -f mpegts mpeg2.ts
  make_fixture $(video 3) -c:v prores_ks -profile:v 0 prores.mov
  make_fixture $(video 3) -c:v wmv2 -q:v 3 -g 25 wmv2.wmv
  make_fixture $(video 3) -c:v flv -q:v 3 -g 25 flv1.flv
  make_fixture $(video 3) -c:v mjpeg -q:v 3 mjpeg.avi
  make_fixture $(video 3) -c:v libtheora -q:v 7 -g 25 theora.ogv
  make_fixture $(video 3) -vf setsar=4/3 "${x264[@]}" -g 25 anamorphic.mp4
  make_fixture $(video 0.5) "${x264[@]}" -g 25 short.mp4
  make_fixture $(video 10) "${x264[@]}" -g 250 -bf 3 long-gop.mp4
  make_fixture $(audio 3) -c:a aac -b:a 64k audio-only.m4a
  # Load and benchmark input: 1080p, 10 s, a keyframe every 2 s.
  make_fixture $(video 10 1920x1080) "${x264[@]}" -g 50 -crf 28 h264-1080p.mp4
  make_fixture $(video 0.04) -frames:v 1 image.png

  # Rotation lives in the display matrix; exiftool writes it (ffmpeg 5.1's rotate tag does not).
  make_fixture $(video 3) "${x264[@]}" -g 25 tmp-rotated.mp4
  exiftool -q -overwrite_original -Rotation=90 "$out/tmp-rotated.mp4"
  mv "$out/tmp-rotated.mp4" "$out/rotated.mp4"
}

# Broken inputs.
size=$(stat -c %s "$out/h264.mp4")
head -c $((size * 2 / 5)) "$out/h264.mp4" >"$out/truncated.mp4" # moov is at the end: cut off
: >"$out/empty.mp4"
printf 'This is not a video.\nJust some words in a text file.\n' >"$out/text.txt"
cp "$out/text.txt" "$out/text-named.mp4"

echo "$script_hash" >"$stamp"
