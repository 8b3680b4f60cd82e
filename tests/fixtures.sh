#!/usr/bin/env bash
# Generates the test videos with the ffmpeg CLI, deterministically (testsrc2 + sine, bitexact),
# into target/fixtures/ (or $1). Idempotent: files are made again only when this script changes.
# Every test suite (engine, server, browser) reads the same files.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
if [ "${1:-}" = --bench ]; then
  # Larger inputs for the benchmark only (slower to make): 720p VP9, 1080p AV1 and 4K HEVC, 10 s, 2 s GOP,
  # and a 10-minute 720p H.264 video for contact sheets.
  out=$root/target/fixtures/bench
  mkdir -p "$out"
  if [ ! -s "$out/vp9-720p.webm" ]; then
    ffmpeg -hide_banner -loglevel error -nostdin -y -f lavfi -i testsrc2=size=1280x720:rate=25:duration=10 \
      -c:v libvpx-vp9 -deadline realtime -cpu-used 8 -b:v 2M -g 50 -row-mt 1 "$out/tmp.webm"
    mv "$out/tmp.webm" "$out/vp9-720p.webm"
  fi
  if [ ! -s "$out/h264-720p-10min.mp4" ]; then
    # A long video for contact sheets: 10 minutes, a keyframe every 10 s.
    ffmpeg -hide_banner -loglevel error -nostdin -y -f lavfi -i testsrc2=size=1280x720:rate=25:duration=600 \
      -c:v libx264 -preset ultrafast -crf 32 -pix_fmt yuv420p -g 250 "$out/tmp.mp4"
    mv "$out/tmp.mp4" "$out/h264-720p-10min.mp4"
  fi
  if [ ! -s "$out/av1-1080p.mp4" ]; then
    # The AV1 the browsers decode (WebCodecs): 1080p, 10 s, a keyframe every 2 s.
    ffmpeg -hide_banner -loglevel error -nostdin -y -f lavfi -i testsrc2=size=1920x1080:rate=25:duration=10 \
      -c:v libaom-av1 -cpu-used 8 -usage realtime -row-mt 1 -b:v 2M -g 50 "$out/tmp.mp4"
    mv "$out/tmp.mp4" "$out/av1-1080p.mp4"
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
script_hash=$(cat "$0" "$root/tests/legacy_formats.py" | sha256sum | cut -d' ' -f1)
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
  # AV1 in IVF, as encoders and cameras' tools write it: no av1C, its sequence header in the keyframes.
  make_fixture $(video 3) -c:v libaom-av1 -cpu-used 8 -usage realtime -b:v 300k -g 25 -threads 1 -f ivf av1.ivf
  # QuickTime with PNG frames (motion graphics, screen recorders): neither WebCodecs nor the wasm
  # engine decodes it; the server does.
  make_fixture $(video 2) -c:v png -pix_fmt rgb24 png.mov
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
  # at: 'auto' must skip these intros: a fade from black over 3 s, and 3 s of black, in 10 s.
  make_fixture $(video 10) -vf fade=t=in:st=0:d=3 "${x264[@]}" -g 50 fade-in.mp4
  make_fixture -f lavfi -i color=black:size=320x240:rate=25:duration=3 $(video 7) \
    -filter_complex "[0:v][1:v]concat=n=2:v=1[v]" -map "[v]" "${x264[@]}" -g 50 black-lead.mp4
  make_fixture $(audio 3) -c:a aac -b:a 64k audio-only.m4a
  # Load and benchmark input: 1080p, 10 s, a keyframe every 2 s.
  make_fixture $(video 10 1920x1080) "${x264[@]}" -g 50 -crf 28 h264-1080p.mp4
  make_fixture $(video 0.04) -frames:v 1 image.png

  # Rotation lives in the display matrix; exiftool writes it (ffmpeg 5.1's rotate tag does not).
  make_fixture $(video 3) "${x264[@]}" -g 25 tmp-rotated.mp4
  exiftool -q -overwrite_original -Rotation=90 "$out/tmp-rotated.mp4"
  mv "$out/tmp-rotated.mp4" "$out/rotated.mp4"
}

# Real-world traits (see REAL_WORLD in tests/support/lib.rs for what each must give).
# shellcheck disable=SC2046
{
  # Odd and tiny frame sizes: swscale's SIMD writes past the end of exactly sized rows at some.
  for size in 176x144 200x150 360x240; do
    make_fixture $(video 3 "$size") "${x264[@]}" -g 25 "size-$size.mp4"
  done
  # testsrc2 rounds odd sizes down: scale to them. 4:4:4 H.264 allows odd sizes.
  make_fixture $(video 3 500x480) -vf scale=499:479 -c:v libx264 -preset veryfast -pix_fmt yuv444p -threads 1 -g 25 size-499x479-444.mp4
  make_fixture $(video 1 2x2) "${x264[@]}" size-2x2.mp4
  # Extreme aspect ratios and sample aspect ratios.
  make_fixture $(video 3 640x16) "${x264[@]}" -g 25 wide-40to1.mp4
  make_fixture $(video 3 16x640) "${x264[@]}" -g 25 tall-1to40.mp4
  make_fixture $(video 3) -vf setsar=10/1 "${x264[@]}" -g 25 sar-10to1.mp4
  make_fixture $(video 3) -vf setsar=1/8 "${x264[@]}" -g 25 sar-1to8.mp4
  # MPEG program streams (camcorders, DVDs), with MPEG audio.
  make_fixture $(video 3) $(audio 3) -c:v mpeg2video -q:v 3 -g 12 -c:a mp2 -f mpeg ps.mpg
  make_fixture $(video 3) $(audio 3) -c:v mpeg2video -q:v 3 -g 12 -c:a ac3 -f vob ps.vob
  # Raw elementary streams (DVRs, security cameras): no container, no timestamps.
  make_fixture $(video 3) "${x264[@]}" -g 25 -f h264 raw.h264
  make_fixture $(video 3) -c:v libx265 -preset ultrafast -x265-params log-level=error:pools=1 -g 25 -f hevc raw.hevc
  make_fixture $(video 3) -c:v mpeg2video -q:v 3 -g 12 -f mpeg2video raw.m2v
  make_fixture $(video 3) -c:v mpeg4 -q:v 3 -g 25 -f m4v raw.m4v
  # Broadcast TS: two programs; interlaced MPEG-2; a capture that starts mid-stream (below).
  make_fixture $(video 3) $(video 3 176x144) -map 0 -map 1 -c:v mpeg2video -q:v 3 -g 12 \
    -program title=one:st=0 -program title=two:st=1 -f mpegts two-programs.ts
  make_fixture $(video 3) -c:v mpeg2video -q:v 3 -g 12 -flags +ildct+ilme -top 1 -f mpegts interlaced.ts
  make_fixture $(video 3) "${x264[@]}" -g 25 -x264-params interlaced=1 interlaced-h264.mkv
  # Two frames, asked for at 1 s: the last one.
  make_fixture $(video 0.08) -c:v mpeg2video -q:v 3 -f mpegts two-frames.ts
  make_fixture $(video 0.08) "${x264[@]}" -bf 1 -f mpegts two-frames-h264.ts
  # Fragmented MP4 (browser recordings, DASH); 3GP from a phone (H.263); captions (mov_text).
  make_fixture $(video 3) "${x264[@]}" -g 25 -movflags frag_keyframe+empty_moov fragmented.mp4
  make_fixture $(video 3 176x144 15) -c:v h263 -q:v 3 -g 15 phone.3gp
  printf '1\n00:00:00,000 --> 00:00:02,000\nHello\n\n2\n00:00:02,000 --> 00:00:03,000\nWorld\n' >"$out/captions.srt"
  make_fixture $(video 3) -i "$out/captions.srt" -map 0 -map 1 "${x264[@]}" -g 25 -c:s mov_text captions.mp4
  rm "$out/captions.srt"
  # 10-bit (HEVC Main 10, H.264 High 10).
  make_fixture $(video 3) -c:v libx265 -preset ultrafast -x265-params log-level=error:pools=1 -pix_fmt yuv420p10le -g 25 hevc-10bit.mkv
  make_fixture $(video 3) -c:v libx264 -preset veryfast -threads 1 -pix_fmt yuv420p10le -g 25 h264-10bit.mp4
  # Old codecs: palette (8-bit raw in AVI), Cinepak, MS Video 1, QuickTime Animation with alpha,
  # RealVideo in RealMedia, DV from a camcorder (NTSC, 4:1:1, SAR 10:11), MPEG-2 in MXF.
  make_fixture $(video 3) -pix_fmt pal8 -c:v rawvideo palette.avi
  make_fixture $(video 3) -c:v cinepak -g 25 cinepak.avi
  make_fixture $(video 3) -c:v msvideo1 msvideo1.avi
  make_fixture $(video 3) -vf "format=rgba,colorchannelmixer=aa=0.5,format=argb" -c:v qtrle alpha-qtrle.mov
  make_fixture $(video 3) -c:v rv20 -q:v 3 -g 25 realvideo.rm
  make_fixture $(video 2 720x480 30000/1001) -c:v dvvideo -pix_fmt yuv411p camcorder.dv
  make_fixture $(video 3) -c:v mpeg2video -q:v 3 -g 12 -f mxf broadcast.mxf
  make_fixture $(video 2) -c:v dnxhd -profile:v dnxhr_lb -pix_fmt yuv422p dnxhr.mov
  make_fixture $(video 3) -c:v svq1 sorenson.mov
  make_fixture $(video 3 352x288) -c:v h261 -q:v 3 h261.avi
  # Lossless screen recordings (small frames: these are large).
  for codec in huffyuv ffvhuff utvideo magicyuv; do
    make_fixture $(video 2 176x144) -c:v $codec "lossless-$codec.avi"
  done
  make_fixture $(video 2 176x144) -c:v ffv1 lossless-ffv1.mkv
  # ASF with three video streams (the longest is the main one).
  make_fixture $(video 3) $(video 3 176x144) -map 0 -map 1 -map 0 -c:v wmv1 -q:v 3 -g 25 three-streams.wmv
  # Matroska written to a pipe: no cues, no duration, one keyframe.
  ffmpeg -hide_banner -loglevel error -nostdin $(video 3) "${x264[@]}" -g 1000 -fflags +bitexact \
    -flags:v +bitexact -map_metadata -1 -f matroska - >"$out/tmp-no-cues.mkv"
  mv "$out/tmp-no-cues.mkv" "$out/no-cues.mkv"
  # Audio with cover art: the picture is the thumbnail, as the CLI makes it.
  make_fixture $(audio 3) $(video 0.04 200x200) -map 0 -map 1 -c:a libmp3lame -c:v mjpeg -disposition:v attached_pic cover-art.mp3
  # A resolution change mid-stream: 320x240 then 176x144, timestamps continuing.
  make_fixture $(video 2) -c:v mpeg2video -q:v 3 -g 12 -f mpegts tmp-part1.ts
  make_fixture $(video 2 176x144) -c:v mpeg2video -q:v 3 -g 12 -output_ts_offset 2 -f mpegts tmp-part2.ts
  cat "$out/tmp-part1.ts" "$out/tmp-part2.ts" >"$out/resolution-change.ts"
  rm "$out/tmp-part1.ts" "$out/tmp-part2.ts"
  # A stream that grows: its first second 160x120 (what the header says), the nine after it 1920x1080.
  # A sheet or an animation sized by its first frame would hold nine seconds of 1080p.
  make_fixture $(video 1 160x120) "${x264[@]}" -g 25 -f mpegts tmp-small.ts
  make_fixture $(video 9 1920x1080) -c:v libx264 -preset ultrafast -pix_fmt yuv420p -threads 1 -g 25 \
    -output_ts_offset 1 -f mpegts tmp-large.ts
  cat "$out/tmp-small.ts" "$out/tmp-large.ts" >"$out/growing-resolution.ts"
  rm "$out/tmp-small.ts" "$out/tmp-large.ts"
  # 4K at 30 fps, 2 s: as a full-size GIF, 60 frames of 8.3 MP.
  make_fixture $(video 2 3840x2160 30) -c:v libx264 -preset ultrafast -pix_fmt yuv420p -threads 1 -g 60 \
    -crf 35 clip-4k.mp4
  # Rotated 180 and 270 degrees.
  for r in 180 270; do
    make_fixture $(video 3) "${x264[@]}" -g 25 "tmp-rotated-$r.mp4"
    exiftool -q -overwrite_original "-Rotation=$r" "$out/tmp-rotated-$r.mp4"
    mv "$out/tmp-rotated-$r.mp4" "$out/rotated-$r.mp4"
  done
  # Colour tagged in the stream (VUI): BT.601 (cameras, SD), BT.709 (HD), full-range BT.601
  # (Android's screen recordings, JPEG-like); each converted from testsrc2's RGB with its own matrix.
  make_fixture $(video 3) -vf scale=out_color_matrix=bt601 "${x264[@]}" -g 25 \
    -colorspace smpte170m -color_primaries smpte170m -color_trc smpte170m colour-bt601.mp4
  make_fixture $(video 3) -vf scale=out_color_matrix=bt709 "${x264[@]}" -g 25 \
    -colorspace bt709 -color_primaries bt709 -color_trc bt709 colour-bt709.mp4
  make_fixture $(video 3) -vf scale=out_color_matrix=bt601:out_range=full "${x264[@]}" -g 25 \
    -color_range pc -colorspace smpte170m colour-full-range.mp4
  # Formats real uploads held that nothing read before: YUV4MPEG from video tools (8-bit 4:2:0 and
  # 10-bit 4:2:2), an animated GIF, AV1 as a bare OBU stream (no container), and, written by
  # tests/legacy_formats.py since the CLI reads them but cannot write them, a FLIC animation
  # (palette, byte runs, then deltas) and a CD+G karaoke track.
  make_fixture $(video 2 176x144) -pix_fmt yuv420p -f yuv4mpegpipe raw.y4m
  make_fixture $(video 2 176x144) -pix_fmt yuv422p10le -strict -1 -f yuv4mpegpipe raw-10bit.y4m
  make_fixture $(video 3 320x240 10) -vf "split[a][b];[a]palettegen[p];[b][p]paletteuse" animated.gif
  make_fixture $(video 3) -c:v libaom-av1 -cpu-used 8 -usage realtime -b:v 300k -g 25 -threads 1 -f obu av1.obu
  ffmpeg -hide_banner -loglevel error -nostdin $(video 3 320x200 10) -pix_fmt rgb8 -f rawvideo - |
    python3 "$root/tests/legacy_formats.py" flic 320 200 10 "$out/tmp-animation.flc"
  mv "$out/tmp-animation.flc" "$out/animation.flc"
  python3 "$root/tests/legacy_formats.py" cdg 3 "$out/karaoke.cdg"
  # An AVIF sequence with an alpha track (a second AV1 track of the same size): the colour track
  # (4:2:0) is the picture, as the CLI chooses it. avifenc with rav1e from PNG frames
  # (deterministic; libaom's realtime mode asserts on this input).
  mkdir -p "$out/tmp-alpha"
  ffmpeg -hide_banner -loglevel error -nostdin -f lavfi \
    -i "testsrc2=size=320x240:rate=25:duration=2,format=rgba,geq=r='r(X,Y)':g='g(X,Y)':b='b(X,Y)':a='if(lt(X,160),255,96)'" \
    "$out/tmp-alpha/%03d.png"
  avifenc --speed 10 --codec rav1e -j 1 -y 420 --fps 25 --keyframe 25 "$out"/tmp-alpha/*.png "$out/tmp-alpha.avif" >/dev/null
  mv "$out/tmp-alpha.avif" "$out/alpha-sequence.avif"
  rm -r "$out/tmp-alpha"
  # What formats.h leaves out is refused by the native engine too, though Debian's FFmpeg reads it:
  # JPEG 2000 in QuickTime (a listed container, a codec outside the list), and a file of 120
  # streams (past TE_MAX_STREAMS).
  make_fixture $(video 0.4 176x144) -c:v jpeg2000 unlisted-codec.mov
  # shellcheck disable=SC2046
  make_fixture $(video 0.04 32x32) $(printf -- '-map 0 %.0s' $(seq 120)) -c:v mpeg4 many-streams.mkv
  # HDR as phones record it, made with zscale from SDR testsrc2 so that the original is known (its
  # RGB: testsrc2's YUV would be read as full range): SDR white at HDR's reference white, 203 nits (ITU-R BT.2408: 75 % HLG, 58 % PQ), an SDR display's
  # BT.1886 gamma undone. HLG and PQ in 10-bit HEVC (320x240); HLG in 10-bit AV1 at 1080p; PQ as a
  # phone holds it upright, 1920x1080 coded and turned (1080x1920 shown); and PQ with highlights: a
  # patch of the same picture with its white at 2,000 nits.
  to_hlg="format=gbrp,zscale=transfer=arib-std-b67:primaries=bt2020:matrix=bt2020nc:transferin=bt709:primariesin=bt709:matrixin=bt709:rangein=full:range=limited:npl=203,format=yuv420p10le"
  to_pq="format=gbrp,zscale=transfer=smpte2084:primaries=bt2020:matrix=bt2020nc:transferin=bt709:primariesin=bt709:matrixin=bt709:rangein=full:range=limited:npl=203,format=yuv420p10le"
  hevc_hdr=(-c:v libx265 -preset ultrafast -x265-params log-level=error:pools=1:colorprim=bt2020:colormatrix=bt2020nc -g 25 -tag:v hvc1)
  hlg_tags=(-color_primaries bt2020 -color_trc arib-std-b67 -colorspace bt2020nc)
  pq_tags=(-color_primaries bt2020 -color_trc smpte2084 -colorspace bt2020nc)
  make_fixture $(video 2) -vf "$to_hlg" "${hevc_hdr[@]}" "${hlg_tags[@]}" hdr-hlg.mp4
  make_fixture $(video 2) -vf "$to_pq" "${hevc_hdr[@]}" "${pq_tags[@]}" hdr-pq.mp4
  SVT_LOG=1 make_fixture $(video 2 1920x1080) -vf "$to_hlg" -c:v libsvtav1 -preset 12 -g 25 -svtav1-params lp=1 \
    "${hlg_tags[@]}" hdr-hlg-av1.mp4
  make_fixture $(video 2 1920x1080) -vf "$to_pq" "${hevc_hdr[@]}" "${pq_tags[@]}" tmp-hdr-phone.mp4
  exiftool -q -overwrite_original -Rotation=90 "$out/tmp-hdr-phone.mp4"
  mv "$out/tmp-hdr-phone.mp4" "$out/hdr-pq-phone.mp4"
  make_fixture $(video 2) -filter_complex "[0:v]split[a][b];[a]$to_pq[base];[b]crop=120:80:100:80,${to_pq/npl=203/npl=2000}[bright];[base][bright]overlay=100:80:format=yuv420p10" \
    "${hevc_hdr[@]}" "${pq_tags[@]}" hdr-pq-highlights.mp4
  # Something FFmpeg recognises that is not a video container the engine reads.
  make_fixture $(audio 1) -c:a pcm_s16be -f au not-a-video.au
}
# A DVR capture: a TS cut at a packet boundary 40% in (no tables until they repeat).
size=$(stat -c %s "$out/interlaced.ts")
tail -c +$(( (size * 2 / 5) / 188 * 188 + 1 )) "$out/interlaced.ts" >"$out/cut-mid-stream.ts"
# A header that promises more than the file holds: an AVI cut in half (no index either).
size=$(stat -c %s "$out/mpeg4.avi")
head -c $((size / 2)) "$out/mpeg4.avi" >"$out/half.avi"
# A camera's damaged frame: in a copy of h264.mp4, the NAL length of the first B-frame after
# 1.2 s that nothing refers to claims more bytes than the file has. FFmpeg's decoders (the CLI, the
# engine) drop it and go on with the same frames after it; the browser's decoder stops there (and
# the engine, which cannot read that packet's NAL header, does not know to leave it out).
damaged=$(ffprobe -v error -select_streams v:0 -show_entries packet=pts_time,pos,flags -of csv=p=0 "$out/h264.mp4" |
  while IFS=, read -r t pos flags; do
    [[ $flags == *K* ]] && continue
    awk -v t="$t" 'BEGIN { exit !(t > 1.2 && t < 1.85) }' || continue
    nal=$(od -An -tu1 -j $((pos + 4)) -N1 "$out/h264.mp4" | tr -d ' ')
    if (( ((nal >> 5) & 3) == 0 )); then echo "$pos"; break; fi
  done)
cp "$out/h264.mp4" "$out/tmp-damaged-frame.mp4"
printf '\x7f\xff\xff\xff' | dd of="$out/tmp-damaged-frame.mp4" bs=1 seek="$damaged" conv=notrunc status=none
mv "$out/tmp-damaged-frame.mp4" "$out/damaged-frame.mp4"
# Truncated ASF with several video streams.
size=$(stat -c %s "$out/three-streams.wmv")
head -c $((size * 3 / 5)) "$out/three-streams.wmv" >"$out/three-streams-truncated.wmv"

# Broken inputs.
size=$(stat -c %s "$out/h264.mp4")
head -c $((size * 2 / 5)) "$out/h264.mp4" >"$out/truncated.mp4" # moov is at the end: cut off
: >"$out/empty.mp4"
printf 'This is not a video.\nJust some words in a text file.\n' >"$out/text.txt"
cp "$out/text.txt" "$out/text-named.mp4"

echo "$script_hash" >"$stamp"
