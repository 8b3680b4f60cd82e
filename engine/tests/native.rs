//! The native engine against the ffmpeg CLI on the generated fixtures.

use test_support::{
    cli_frame, cli_frame_by, colourfulness, crop, fixture, mean_luma, psnr, rotation_of, Expect, BAD_INPUTS,
    HDR_VIDEOS, REAL_WORLD, VIDEOS,
};
use thumbnail_engine::{layout::CodecInfo, webcodecs, Engine, Image, Interrupt, OpenOptions};
use thumbnail_vocabulary::colour::HdrOutput;
use thumbnail_vocabulary::{ErrorKind, Seek};

/// Our frame and the CLI's are the same picture when at least this close (dB). Neighbouring
/// frames of testsrc2 are about 20 dB apart, so a wrong frame cannot pass.
const SAME_FRAME_DB: f64 = 35.0;

fn open(name: &str) -> Engine {
    Engine::open(&fixture(name), &OpenOptions::default()).unwrap_or_else(|e| panic!("open {name}: {e}"))
}

fn assert_like_cli(name: &str, image: &Image, t: f64) {
    let reference = cli_frame(&fixture(name), t, image.width, image.height, rotation_of(name));
    let db = psnr(&image.rgba, &reference);
    assert!(db >= SAME_FRAME_DB, "{name} at {t}s: {db:.1} dB from the CLI's frame");
}

#[test]
fn every_fixture_matches_the_cli_frame() {
    for v in VIDEOS {
        let mut engine = open(v.file);
        let info = engine.info().clone();
        assert_eq!(info.codec, v.codec, "{}", v.file);
        assert_eq!((info.width, info.height), v.display, "{} display size", v.file);
        assert_eq!(info.rotation, v.rotation, "{} rotation", v.file);
        assert!(
            (info.duration.unwrap() - if v.file == "long-gop.mp4" { 10.0 } else { 3.0 }).abs() < 0.1,
            "{} duration",
            v.file
        );
        assert_eq!(info.fps, Some(25.0), "{} fps", v.file);

        let full = engine.frame(1.0, 0, 0, Seek::Exact).unwrap();
        assert_eq!((full.width, full.height), v.display, "{} frame size", v.file);
        assert!((1.0..1.04).contains(&full.time), "{}: frame time {}", v.file, full.time);
        assert_like_cli(v.file, &full, 1.0);

        let small = engine.frame(1.0, 160, 160, Seek::Exact).unwrap();
        assert!(
            small.width == 160 || small.height == 160,
            "{}: {}x{} does not fill the box",
            v.file,
            small.width,
            small.height
        );
        assert!(
            small.width <= 160 && small.height <= 160,
            "{}: {}x{} overflows the box",
            v.file,
            small.width,
            small.height
        );
        let aspect = |w: u32, h: u32| w as f64 / h as f64;
        assert!(
            (aspect(small.width, small.height) - aspect(v.display.0, v.display.1)).abs() < 0.02,
            "{} aspect kept",
            v.file
        );
        assert_like_cli(v.file, &small, 1.0);
    }
}

#[test]
fn av1_decodes_natively() {
    // The slim wasm core has no AV1; the server's native engine does (Debian's libdav1d).
    for name in ["av1.mp4", "av1.ivf", "av1.obu", "alpha-sequence.avif"] {
        let mut engine = open(name);
        assert_eq!(engine.info().codec, "av1");
        let image = engine.frame(1.0, 0, 0, Seek::Exact).unwrap();
        assert_like_cli(name, &image, 1.0);
    }
}

#[test]
fn past_the_end_gives_the_last_frame() {
    let mut short = open("short.mp4");
    let image = short.frame(1.0, 0, 0, Seek::Exact).unwrap();
    assert!(
        (image.time - 0.48).abs() < 1e-6,
        "last frame of a 0.5 s clip is at 0.48 s, got {}",
        image.time
    );
    assert_like_cli("short.mp4", &image, 0.48);

    let mut long = open("h264.mp4");
    let image = long.frame(1e12, 0, 0, Seek::Exact).unwrap();
    assert!((image.time - 2.96).abs() < 1e-6, "got {}", image.time);
    assert_like_cli("h264.mp4", &image, 2.96);
}

#[test]
fn exact_and_keyframe_modes_on_a_long_gop() {
    let mut engine = open("long-gop.mp4");
    let exact = engine.frame(7.0, 0, 0, Seek::Exact).unwrap();
    assert!((exact.time - 7.0).abs() < 1e-6, "exact frame at {}", exact.time);
    assert_like_cli("long-gop.mp4", &exact, 7.0);

    // One keyframe, at 0: keyframe mode returns it, a different picture.
    let key = engine.frame(7.0, 0, 0, Seek::Keyframe).unwrap();
    assert_eq!(key.time, 0.0);
    assert_like_cli("long-gop.mp4", &key, 0.0);
    assert!(
        psnr(&key.rgba, &exact.rgba) < 25.0,
        "keyframe and exact frame should differ"
    );
}

#[test]
fn frames_in_any_order_from_one_engine() {
    let mut engine = open("h264.mp4");
    for t in [2.0, 0.4, 2.8, 0.0, 1.52] {
        let image = engine.frame(t, 0, 0, Seek::Exact).unwrap();
        assert!((image.time - t).abs() < 1e-6, "asked {t}, got {}", image.time);
        assert_like_cli("h264.mp4", &image, t);
    }
}

#[test]
fn never_enlarges() {
    let image = open("h264.mp4").frame(1.0, 1000, 1000, Seek::Exact).unwrap();
    assert_eq!((image.width, image.height), (320, 240));
}

#[test]
fn bad_inputs_are_typed_errors() {
    for &(name, kind) in BAD_INPUTS {
        let err = Engine::open(&fixture(name), &OpenOptions::default())
            .err()
            .unwrap_or_else(|| panic!("{name} opened"));
        assert_eq!(err.kind.name(), kind, "{name}: {err}");
        assert!(!err.message.is_empty(), "{name}: no message");
    }
    let err = Engine::open(&fixture("no-such-file.mp4"), &OpenOptions::default())
        .err()
        .unwrap();
    assert_eq!(err.kind, ErrorKind::Io, "{err}");
}

/// The native engine runs what formats.h lists and nothing else, though Debian's FFmpeg has the
/// rest: a codec outside the list is refused at the first frame (the wasm engines, which were
/// built without it, refuse it the same way), a file of more streams than TE_MAX_STREAMS at open
/// as too large (FFmpeg itself says only "out of memory").
#[test]
fn what_formats_h_leaves_out_is_refused_natively() {
    let mut engine = open("unlisted-codec.mov");
    assert_eq!(engine.info().codec, "jpeg2000");
    let err = engine.frame(0.2, 0, 0, Seek::Exact).err().unwrap();
    assert_eq!(err.kind, ErrorKind::UnsupportedCodec, "{err}");
    let err = Engine::open(&fixture("many-streams.mkv"), &OpenOptions::default())
        .err()
        .unwrap();
    assert_eq!(err.kind, ErrorKind::TooLarge, "{err}");
    assert!(err.message.contains("more than 100 streams"), "{err}");
}

/// HDR phone videos (HLG and PQ; HEVC and AV1; 320x240, 1080p and an upright phone's 1080x1920)
/// come out tone-mapped (crate `thumbnail-tonemap`) near the SDR pictures they were made from:
/// colourfulness at least 70 % of the original's and mean luma within 15 %; `hdr: keep` gives the
/// coded values (washed out); the PQ highlights at 2,000 nits keep their gradation.
#[test]
fn hdr_is_tone_mapped_to_its_sdr_original() {
    for video in &HDR_VIDEOS {
        let open = |hdr| {
            Engine::open(
                &fixture(video.file),
                &OpenOptions {
                    hdr,
                    ..OpenOptions::default()
                },
            )
            .unwrap()
        };
        let image = open(HdrOutput::Sdr).frame(1.0, 320, 320, Seek::Exact).unwrap();
        let kept = open(HdrOutput::Keep).frame(1.0, 320, 320, Seek::Exact).unwrap();
        let original = video.original(1.0, image.width, image.height);
        let colour = colourfulness(&image.rgba) / colourfulness(&original);
        let luma = mean_luma(&image.rgba) / mean_luma(&original);
        let kept_colour = colourfulness(&kept.rgba) / colourfulness(&original);
        eprintln!(
            "{}: {}x{}, colourfulness {:.0} % (kept: {:.0} %), mean luma {:.1} against {:.1}, {:.1} dB from the original",
            video.file,
            image.width,
            image.height,
            colour * 100.0,
            kept_colour * 100.0,
            mean_luma(&image.rgba),
            mean_luma(&original),
            psnr(&image.rgba, &original)
        );
        assert!(
            colour >= 0.7,
            "{}: colourfulness {colour:.2} of the original's",
            video.file
        );
        assert!(
            (luma - 1.0).abs() <= 0.15,
            "{}: mean luma {luma:.2} of the original's",
            video.file
        );
        assert!(
            kept_colour < colour - 0.2,
            "{}: kept {kept_colour:.2}, mapped {colour:.2}",
            video.file
        );
        if let Some(patch) = video.highlights {
            // the patch is the same picture: its gradation is there (not clipped flat), and brighter
            let (ours, theirs) = (crop(&image.rgba, 320, patch), crop(&original, 320, patch));
            let spread = |rgba: &[u8]| {
                let mean = mean_luma(rgba);
                let n = rgba.len() as f64 / 4.0;
                let v: f64 = rgba
                    .chunks_exact(4)
                    .map(|p| {
                        let l = 0.2126 * f64::from(p[0]) + 0.7152 * f64::from(p[1]) + 0.0722 * f64::from(p[2]);
                        (l - mean) * (l - mean)
                    })
                    .sum();
                (v / n).sqrt()
            };
            eprintln!(
                "  highlights: luma spread {:.1} (original {:.1}), mean {:.1} (original {:.1})",
                spread(&ours),
                spread(&theirs),
                mean_luma(&ours),
                mean_luma(&theirs)
            );
            assert!(
                spread(&ours) >= 0.5 * spread(&theirs),
                "{}: highlights flattened",
                video.file
            );
            assert!(
                mean_luma(&ours) > mean_luma(&theirs),
                "{}: highlights no brighter",
                video.file
            );
        }
    }
}

/// SDR videos are untouched by the tone mapping: `hdr: sdr` (the default) and `keep` give the same
/// bytes.
#[test]
fn sdr_videos_are_not_tone_mapped() {
    for name in ["h264.mp4", "colour-bt709.mp4", "vp9.webm", "rotated.mp4"] {
        let frame = |hdr| {
            let options = OpenOptions {
                hdr,
                ..OpenOptions::default()
            };
            Engine::open(&fixture(name), &options)
                .unwrap()
                .frame(1.0, 160, 160, Seek::Exact)
                .unwrap()
        };
        assert_eq!(frame(HdrOutput::Sdr).rgba, frame(HdrOutput::Keep).rgba, "{name}");
    }
}

/// The colour a stream declares, in FFmpeg's words (the vocabulary's tables are FFmpeg's own:
/// compared with its functions), and HDR told apart: HLG and PQ phones' HEVC, BT.709 and BT.601
/// tagged SDR, and a stream that says nothing.
#[test]
fn probe_names_the_colour_and_tells_hdr() {
    use std::ffi::{c_char, c_int, CStr};
    use thumbnail_vocabulary::colour::{matrix_name, primaries_name, transfer_name, Hdr};
    extern "C" {
        fn av_color_primaries_name(n: c_int) -> *const c_char;
        fn av_color_transfer_name(n: c_int) -> *const c_char;
        fn av_color_space_name(n: c_int) -> *const c_char;
    }
    let ffmpeg = |f: unsafe extern "C" fn(c_int) -> *const c_char, n: i32| {
        // SAFETY: FFmpeg returns NULL or a static NUL-terminated name.
        let name = unsafe { f(n) };
        (!name.is_null()).then(|| unsafe { CStr::from_ptr(name) }.to_str().unwrap().to_owned())
    };
    for n in 0..32 {
        for (ours, theirs) in [
            (primaries_name(n), ffmpeg(av_color_primaries_name, n)),
            (transfer_name(n), ffmpeg(av_color_transfer_name, n)),
            (matrix_name(n), ffmpeg(av_color_space_name, n)),
        ] {
            match ours {
                Some(name) => assert_eq!(Some(name.to_owned()), theirs, "{n}"),
                None => assert!(
                    matches!(theirs.as_deref(), None | Some("reserved" | "unspecified" | "unknown")),
                    "{n}: FFmpeg names {theirs:?}, the vocabulary nothing"
                ),
            }
        }
    }
    for (name, hdr, colour) in [
        (
            "hdr-hlg.mp4",
            Some(Hdr::Hlg),
            [Some("bt2020"), Some("arib-std-b67"), Some("bt2020nc")],
        ),
        (
            "hdr-pq.mp4",
            Some(Hdr::Pq),
            [Some("bt2020"), Some("smpte2084"), Some("bt2020nc")],
        ),
        ("colour-bt709.mp4", None, [Some("bt709"), Some("bt709"), Some("bt709")]),
        (
            "colour-bt601.mp4",
            None,
            [Some("smpte170m"), Some("smpte170m"), Some("smpte170m")],
        ),
        ("h264.mp4", None, [None, None, None]),
    ] {
        let info = open(name).info().clone();
        assert_eq!(info.hdr, hdr, "{name}");
        let said = [&info.color_primaries, &info.color_transfer, &info.color_matrix].map(|c| c.as_deref());
        assert_eq!(said, colour, "{name}");
    }
}

#[test]
fn pixel_limit_refuses_large_frames() {
    let limit = |max| {
        Engine::open(
            &fixture("h264.mp4"),
            &OpenOptions {
                max_pixels: Some(max),
                ..OpenOptions::default()
            },
        )
    };
    let err = limit(320 * 240 - 1).err().unwrap();
    assert_eq!(err.kind, ErrorKind::TooLarge, "{err}");
    assert!(limit(320 * 240).is_ok());
}

#[test]
fn invalid_times_are_refused_and_the_engine_goes_on() {
    let mut engine = open("h264.mp4");
    for t in [-1.0, f64::NAN, f64::INFINITY] {
        let err = engine.frame(t, 0, 0, Seek::Exact).err().unwrap();
        assert_eq!(err.kind, ErrorKind::InvalidArgument, "t = {t}");
    }
    assert!(engine.frame(1.0, 0, 0, Seek::Exact).is_ok());
}

#[test]
fn threads_give_the_same_frame() {
    let one = open("hevc.mp4").frame(2.0, 0, 0, Seek::Exact).unwrap();
    let mut engine = Engine::open(
        &fixture("hevc.mp4"),
        &OpenOptions {
            threads: 4,
            ..OpenOptions::default()
        },
    )
    .unwrap();
    let four = engine.frame(2.0, 0, 0, Seek::Exact).unwrap();
    assert_eq!(one.time, four.time);
    assert_eq!(psnr(&one.rgba, &four.rgba), f64::INFINITY);
}

/// Damaged copies of real files (cut short at many points, bytes overwritten) either give a frame
/// or a typed error: the server runs this engine in-process, so it must never crash.
#[test]
fn damaged_files_never_crash() {
    let dir = test_support::root().join("target/damaged");
    std::fs::create_dir_all(&dir).unwrap();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut random = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let (mut frames, mut errors) = (0, 0);
    for name in [
        "h264-faststart.mp4",
        "hevc.mp4",
        "vp9.webm",
        "mpeg2.ts",
        "mpeg4.avi",
        "wmv2.wmv",
        "theora.ogv",
    ] {
        let original = std::fs::read(fixture(name)).unwrap();
        for i in 1..=12 {
            let mut bytes = original.clone();
            if i % 2 == 0 {
                bytes.truncate(original.len() * i / 13);
            } else {
                for _ in 0..(i * 8) {
                    let at = random() as usize % bytes.len();
                    bytes[at] = random() as u8;
                }
            }
            let path = dir.join(format!("{i}-{name}"));
            std::fs::write(&path, &bytes).unwrap();
            match Engine::open(&path, &OpenOptions::default()) {
                Ok(mut engine) => {
                    // The packets for another decoder, from damaged headers and packets too.
                    let _ = engine.codec();
                    for t in [1.0, 100.0] {
                        match engine.read_packets(t, Seek::Exact) {
                            Ok(p) => assert!(
                                p.wanted < p.list.len() && p.list.iter().all(|k| k.offset + k.size <= p.data.len())
                            ),
                            Err(e) => assert!(!e.message.is_empty()),
                        }
                    }
                    for t in [0.0, 1.0, 2.5, 100.0] {
                        match engine.frame(t, 64, 64, Seek::Exact) {
                            Ok(image) => {
                                assert_eq!(image.rgba.len(), (image.width * image.height * 4) as usize);
                                frames += 1;
                            }
                            Err(e) => {
                                assert!(!e.message.is_empty());
                                errors += 1;
                            }
                        }
                    }
                }
                Err(e) => {
                    // Damage may hit a header anywhere: any kind of the file's fault, never a bad call.
                    assert!(
                        !matches!(e.kind, ErrorKind::InvalidArgument | ErrorKind::Io),
                        "{name} #{i}: {e:?}"
                    );
                    errors += 1;
                }
            }
        }
    }
    eprintln!("damaged files: {frames} frames, {errors} typed errors");
    assert!(
        frames > 0 && errors > 0,
        "the damage should sometimes be survivable and sometimes not"
    );
}

/// The inputs that once crashed the engine under the fuzzer (engine/fuzz/regressions/), through
/// the calls the fuzzer makes: each ends in a frame or a typed error, and what the engine told a
/// decoder (its codec info) still holds after the packets were read (one of them read the file
/// again from its first byte and left the extradata pointing at freed memory).
#[test]
fn fuzzer_regressions_run_through() {
    let dir = test_support::root().join("engine/fuzz/regressions");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_none_or(|ext| ext != "md"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no regression inputs in {}", dir.display());
    let options = OpenOptions {
        threads: 1,
        max_pixels: Some(4 * 1024 * 1024),
        ..OpenOptions::default()
    };
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let mut engine = match Engine::open_file(std::fs::File::open(&path).unwrap(), &options) {
            Ok(engine) => engine,
            Err(e) => {
                assert!(!e.message.is_empty(), "{name}: refused without a word");
                continue;
            }
        };
        let told = engine.codec();
        if let Err(e) = engine.read_packets(1.0, Seek::Exact) {
            assert!(!e.message.is_empty(), "{name}");
        }
        assert_eq!(engine.codec(), told, "{name}: the codec info changed under the packets");
        for (t, w, seek) in [(1.0, 64, Seek::Exact), (0.0, 0, Seek::Keyframe)] {
            match engine.frame(t, w, w, seek) {
                Ok(image) => assert_eq!(image.rgba.len(), (image.width * image.height * 4) as usize, "{name}"),
                Err(e) => assert!(!e.message.is_empty(), "{name}"),
            }
        }
    }
}

#[test]
fn an_interrupt_stops_the_engine() {
    let interrupt = Interrupt::new();
    let options = OpenOptions {
        interrupt: Some(interrupt.clone()),
        ..OpenOptions::default()
    };
    let mut engine = Engine::open(&fixture("long-gop.mp4"), &options).unwrap();
    assert!(engine.frame(1.0, 0, 0, Seek::Exact).is_ok());
    interrupt.interrupt();
    let err = engine.frame(7.0, 0, 0, Seek::Exact).err().unwrap();
    assert_eq!(err.kind, ErrorKind::Interrupted, "{err}");
    let err = Engine::open(&fixture("h264.mp4"), &options).err().unwrap();
    assert_eq!(err.kind, ErrorKind::Interrupted, "{err}");
}

/// Files with the traits of real users' files (odd sizes, raw streams, program streams, no index,
/// 2-frame clips, 10-bit, alpha, palette, old codecs, rotation, extreme aspect ratios ...): the
/// frame the CLI makes, full size and fitted in a small box, or the expected error.
#[test]
fn real_world_fixtures_match_the_cli() {
    for case in REAL_WORLD {
        let opened = Engine::open(&fixture(case.file), &OpenOptions::default());
        let (time, size) = match case.expect {
            Expect::Error(kind) => {
                let err = opened.err().unwrap_or_else(|| panic!("{} opened", case.file));
                assert_eq!(err.kind.name(), kind, "{}: {err}", case.file);
                continue;
            }
            Expect::Frame { time, size } => (time, size),
        };
        let mut engine = opened.unwrap_or_else(|e| panic!("{}: {e}", case.file));
        for box_side in [0, 100] {
            let image = engine
                .frame(case.at, box_side, box_side, Seek::Exact)
                .unwrap_or_else(|e| panic!("{} at {}: {e}", case.file, case.at));
            assert!(
                (image.time - time).abs() < 0.002,
                "{}: frame at {} s, not {time}",
                case.file,
                image.time
            );
            if box_side == 0 {
                assert_eq!((image.width, image.height), size, "{} size", case.file);
            } else {
                assert!(
                    image.width <= 100 && image.height <= 100,
                    "{}: {}x{}",
                    case.file,
                    image.width,
                    image.height
                );
                assert!(image.width == 100 || image.height == 100 || (size.0 <= 100 && size.1 <= 100));
            }
            assert_eq!(image.rgba.len(), (image.width * image.height * 4) as usize);
            // The CLI asked for a hair before the frame's own time picks the same frame.
            let reference = cli_frame_by(
                case.reference,
                &fixture(case.file),
                (image.time - 0.001).max(0.0),
                image.width,
                image.height,
                rotation_of(case.file),
            );
            let db = psnr(&image.rgba, &reference);
            assert!(
                db >= SAME_FRAME_DB,
                "{} ({}x{}): {db:.1} dB from the CLI's frame",
                case.file,
                image.width,
                image.height
            );
        }
    }
}

/// The engine's status names (C) are the vocabulary's (Rust).
#[test]
fn status_names_are_the_vocabulary() {
    for kind in ErrorKind::ALL {
        assert_eq!(thumbnail_engine::status_name(kind.status()), kind.name());
    }
}

/// Frames at increasing times from `next_frame` are those `frame` makes one by one. In a container
/// whose header indexes its keyframes, no packet is decoded twice; in one without (MPEG-TS, a raw
/// stream) the first frame's search may read ahead and seek back, and after it the decoding only goes
/// forward: the packets it decodes are within the stream's count.
fn assert_next_frames(name: &str, times: &[f64], indexed: bool) {
    let mut one_by_one = open(name);
    let mut sequential = open(name);
    let mut first = None;
    for &t in times {
        let want = one_by_one.frame(t, 160, 160, Seek::Exact).unwrap();
        let got = sequential.next_frame(t, 160, 160).unwrap();
        assert_eq!(
            (got.time, got.width, got.height),
            (want.time, want.width, want.height),
            "{name} at {t}"
        );
        assert!(got.rgba == want.rgba, "{name} at {t}: not the same pixels");
        first.get_or_insert(sequential.packets_decoded().0);
    }
    let ((seeking, _), (going_on, again)) = (one_by_one.packets_decoded(), sequential.packets_decoded());
    let (total, first) = (test_support::video_packets(&fixture(name)), first.unwrap());
    eprintln!(
        "{name}: {} frames; packets decoded {going_on} going on ({again} a second time), {seeking} seeking each time; {total} in the stream",
        times.len()
    );
    if indexed {
        assert_eq!(again, 0, "{name}: packets decoded twice");
    }
    assert!(
        going_on - first <= total,
        "{name}: {going_on} packets decoded after the first frame's {first}, the stream has {total}"
    );
    assert!(
        going_on < seeking,
        "{name}: going on decoded {going_on}, seeking {seeking}"
    );
}

#[test]
fn frames_at_increasing_times_decode_each_packet_at_most_once() {
    // An animation's frames: 5 per second for 3 s (the tutorial's GIF), from 0.5 s.
    let gif: Vec<f64> = (0..15).map(|i| 0.5 + f64::from(i) * 0.2).collect();
    assert_next_frames("h264.mp4", &gif[..12], true);
    assert_next_frames("long-gop.mp4", &gif, true);
    assert_next_frames("vp9.webm", &gif[..12], true);
    assert_next_frames("mpeg2.ts", &gif[..12], false);
    // A contact sheet's: one every second of a 10 s video with a keyframe every 2 s (the index
    // lets it skip what lies between).
    let sheet: Vec<f64> = (0..10).map(|i| 0.5 + f64::from(i)).collect();
    assert_next_frames("h264-1080p.mp4", &sheet, true);
    // A raw stream, timed by its frame rate.
    assert_next_frames("raw.h264", &gif[..10], false);
}

#[test]
fn next_frame_goes_back_and_past_the_end() {
    let mut engine = open("long-gop.mp4");
    let later = engine.next_frame(5.0, 64, 64).unwrap();
    let earlier = engine.next_frame(1.0, 64, 64).unwrap();
    assert!(
        (earlier.time - 1.0).abs() < 0.05 && (later.time - 5.0).abs() < 0.05,
        "{} {}",
        earlier.time,
        later.time
    );
    let last = engine.next_frame(100.0, 64, 64).unwrap();
    let again = engine.next_frame(200.0, 64, 64).unwrap();
    assert_eq!((last.time, &last.rgba), (again.time, &again.rgba));
    assert_eq!(
        last.time,
        open("long-gop.mp4").frame(100.0, 64, 64, Seek::Exact).unwrap().time
    );
    // The same time twice: the same frame, nothing more decoded.
    let before = engine.packets_decoded().0;
    let first = engine.next_frame(2.0, 64, 64).unwrap();
    let after_first = engine.packets_decoded().0;
    let second = engine.next_frame(2.0, 64, 64).unwrap();
    assert_eq!((first.time, &first.rgba), (second.time, &second.rgba));
    assert_eq!(engine.packets_decoded().0, after_first);
    assert!(after_first > before);
}

/// Every real-world fixture (odd sizes, raw streams, no index, cut files, several streams, a
/// resolution change): frames asked at increasing times with `next_frame` are those `frame` makes
/// one by one (same time, same pixels), and the same again after the time goes back.
#[test]
fn next_frame_on_every_real_world_fixture() {
    for case in REAL_WORLD {
        if let Expect::Error(_) = case.expect {
            continue;
        }
        let mut one_by_one = open(case.file);
        let mut sequential = open(case.file);
        let times = [0.0, 0.3, 0.6, case.at, case.at + 0.2, 0.1, 0.5];
        for t in times {
            let want = one_by_one.frame(t, 96, 96, Seek::Exact);
            let got = sequential.next_frame(t, 96, 96);
            match (want, got) {
                (Ok(want), Ok(got)) => {
                    assert_eq!(
                        (got.time, got.width, got.height),
                        (want.time, want.width, want.height),
                        "{} at {t}",
                        case.file
                    );
                    assert!(got.rgba == want.rgba, "{} at {t}: not the same pixels", case.file);
                }
                (want, got) => assert_eq!(
                    want.map(|i| i.time).map_err(|e| e.kind),
                    got.map(|i| i.time).map_err(|e| e.kind),
                    "{} at {t}",
                    case.file
                ),
            }
        }
    }
}

/// Demuxing apart from decoding (`te_read_packets`, for the browser's own decoder): on every
/// fixture, the packets start at a keyframe and the one wanted is the frame `te_decode` makes (its
/// time), in both modes and past the end; where the packets alone cannot tell (no timestamps),
/// the engine says so and its own decoder goes on. Those the browser decodes get a codec string.
#[test]
fn packets_lead_to_the_frame_the_engine_decodes() {
    let names: Vec<&str> = VIDEOS
        .iter()
        .map(|v| v.file)
        .chain(["av1.mp4", "av1.ivf", "av1.obu", "alpha-sequence.avif"])
        .chain(
            REAL_WORLD
                .iter()
                .filter(|c| matches!(c.expect, Expect::Frame { .. }))
                .map(|c| c.file),
        )
        .collect();
    let mut declined = Vec::new();
    for name in names {
        let at = REAL_WORLD.iter().find(|c| c.file == name).map_or(1.0, |c| c.at);
        let mut engine = open(name);
        let info = engine.info().clone();
        let codec = engine.codec();
        // (AV1 in IVF: from the first keyframe, as the browser worker does.)
        let keyframe = engine
            .read_packets(0.0, Seek::Keyframe)
            .ok()
            .and_then(|p| p.list.first().map(|first| p.bytes(first).to_vec()));
        let config =
            webcodecs::decoder_config_or_keyframe(&info.codec, info.coded_width, info.coded_height, &codec, || {
                keyframe
            });
        if ["h264", "hevc", "vp8", "vp9", "av1"].contains(&info.codec.as_str()) && !name.starts_with("raw.") {
            let config = config.unwrap_or_else(|| panic!("{name}: no decoder config for {}", info.codec));
            assert!(config.codec.len() >= 3, "{name}: {config:?}");
        }
        // The demux-only engine knows the colours only from the container; from an H.264
        // bitstream the config reads them itself, and they are those the decoder used.
        if info.codec == "h264" {
            let untagged = CodecInfo {
                color_space: 2,
                color_range: 0,
                ..codec.clone()
            };
            let config = webcodecs::decoder_config("h264", info.coded_width, info.coded_height, &untagged);
            if let Some(full_range) = config.and_then(|c| c.full_range) {
                assert_eq!(
                    full_range,
                    codec.color_range == 2,
                    "{name}: the SPS's range is not the decoder's ({})",
                    codec.color_range
                );
            }
        }
        for (t, seek) in [
            (at, Seek::Exact),
            (0.0, Seek::Exact),
            (at, Seek::Keyframe),
            (99.0, Seek::Exact),
        ] {
            let packets = match engine.read_packets(t, seek) {
                Ok(p) => p,
                Err(e) => {
                    declined.push(format!("{name} at {t}: {e}"));
                    continue;
                }
            };
            let first = packets.list.first().unwrap_or_else(|| panic!("{name}: no packets"));
            assert!(first.key, "{name} at {t}: the first packet is not a keyframe");
            let wanted = packets.list[packets.wanted];
            assert!(!wanted.skip, "{name} at {t}");
            let image = engine
                .frame(t, 64, 64, seek)
                .unwrap_or_else(|e| panic!("{name} at {t}: {e}"));
            assert!(
                (wanted.time.max(0.0) - image.time).abs() < 1e-6,
                "{name} at {t} {seek:?}: packets lead to {} but the engine decodes {}",
                wanted.time,
                image.time
            );
        }
    }
    let declined_files: std::collections::BTreeSet<&str> =
        declined.iter().map(|d| d.split(' ').next().unwrap()).collect();
    eprintln!("packets declined: {declined:#?}");
    assert!(
        declined_files
            .iter()
            .all(|f| f.starts_with("raw.") || *f == "cover-art.mp3"),
        "{declined:#?}"
    );
}

/// Pictures nothing refers to are marked: an H.264 with B-frames needs about half its packets.
#[test]
fn packets_nothing_refers_to_need_not_be_decoded() {
    let mut engine = open("h264.mp4");
    let packets = engine.read_packets(1.9, Seek::Exact).unwrap();
    let skipped = packets.list.iter().filter(|p| p.skip).count();
    eprintln!(
        "h264.mp4 at 1.9 s: {} packets, {skipped} need not be decoded",
        packets.list.len()
    );
    assert!(
        skipped > 0 && skipped < packets.list.len(),
        "{skipped} of {}",
        packets.list.len()
    );
}
