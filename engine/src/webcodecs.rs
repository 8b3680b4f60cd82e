//! What the browser's own decoder (WebCodecs' `VideoDecoder`) is configured with for a stream the
//! engine demuxes: the codec string of the WebCodecs codec registry (`avc1.64001f`, `hvc1.1.6.L93.B0`,
//! `vp09.00.31.08`, `av01.0.08M.08`, `vp8`) and the description (avcC, hvcC, av1C), read from
//! what `te_codec_info` gives. No native code: the browser worker uses it, the native tests check it.

use crate::layout::CodecInfo;

/// A `VideoDecoderConfig`'s codec and description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecoderConfig {
    pub codec: String,
    /// None: the packets carry their parameter sets (Annex B), or the codec needs none.
    pub description: Option<Vec<u8>>,
    /// The colour matrix the engine converts with (its rule: the stream's, BT.601 when it says
    /// nothing), as WebCodecs names it, and whether the samples are full range (None: neither the
    /// container nor, for H.264, the SPS says: the decoder's frames tell, as the engine's own
    /// decoded frames tell swscale).
    pub matrix: &'static str,
    pub full_range: Option<bool>,
}

/// The config for a stream of FFmpeg's codec `codec` ("h264", "hevc", "vp8", "vp9", "av1") of
/// `width` x `height` coded pixels; None for a codec WebCodecs does not name, or a stream whose
/// parameters cannot be told without decoding.
pub fn decoder_config(codec: &str, width: u32, height: u32, c: &CodecInfo) -> Option<DecoderConfig> {
    let x = &c.extradata[..];
    let (codec, description) = match codec {
        "h264" => h264(c, x)?,
        "hevc" => hevc(c, x)?,
        "vp8" => ("vp8".to_owned(), None),
        "vp9" => (vp9(c, width, height), None),
        // av1C, or (some muxers) the sequence header OBU itself.
        "av1" => av1(x).or_else(|| Some((av1_codec_from_obus(x)?, None)))?,
        _ => return None,
    };
    Some(with_colours(codec, description, c, x))
}

/// As [`decoder_config`], and where the container carries no parameters (AV1 in IVF or in an
/// OBU stream: no av1C), from the stream's first keyframe, which `keyframe` gives when asked (an
/// AV1 keyframe's temporal unit holds its sequence header).
pub fn decoder_config_or_keyframe(
    codec: &str,
    width: u32,
    height: u32,
    c: &CodecInfo,
    keyframe: impl FnOnce() -> Option<Vec<u8>>,
) -> Option<DecoderConfig> {
    decoder_config(codec, width, height, c).or_else(|| match codec {
        "av1" => {
            let codec = av1_codec_from_obus(&keyframe()?)?;
            Some(with_colours(codec, None, c, &c.extradata))
        }
        _ => None,
    })
}

/// The config of `codec` and `description`, with the stream's colours: the bitstream's (H.264's
/// SPS) where they are read, else the container's.
fn with_colours(codec: String, description: Option<Vec<u8>>, c: &CodecInfo, x: &[u8]) -> DecoderConfig {
    let signal = if codec.starts_with("avc1") {
        h264_signal(x)
    } else {
        None
    };
    // The bitstream's colour description wins over the container's, as in FFmpeg's decoders.
    let (space, range) = match signal {
        Some(s) => (s.matrix.unwrap_or(c.color_space), if s.full_range { 2 } else { 1 }),
        None => (c.color_space, c.color_range),
    };
    DecoderConfig {
        codec,
        description,
        matrix: matrix(space),
        full_range: match range {
            1 => Some(false),
            2 => Some(true),
            _ => None,
        },
    }
}

/// What an H.264 sequence parameter set's VUI says of the samples (`video_signal_type`).
struct Signal {
    full_range: bool,
    /// `matrix_coefficients` (the same numbers as FFmpeg's AVColorSpace), when described.
    matrix: Option<i32>,
}

/// The first SPS of avcC or of Annex B parameter sets, read with h264-reader: the decoder takes
/// range and matrix from it (so the engine's frames are converted with them), but the demux-only
/// engine reads no bitstream, and a WebCodecs decoder given no colour space may not say the range
/// (Chromium calls a full-range H.264 limited). None when there is no SPS or it has no signal type.
fn h264_signal(x: &[u8]) -> Option<Signal> {
    use h264_reader::avcc::AvcDecoderConfigurationRecord;
    use h264_reader::nal::{sps::SeqParameterSet, Nal, RefNal};
    let sps: &[u8] = if x.first() == Some(&1) {
        AvcDecoderConfigurationRecord::try_from(x)
            .ok()?
            .sequence_parameter_sets()
            .next()?
            .ok()?
    } else {
        annex_b_nals(x).find(|n| n.first().is_some_and(|h| h & 0x1f == 7))?
    };
    let sps = SeqParameterSet::from_bits(RefNal::new(sps, &[], true).rbsp_bits()).ok()?;
    let signal = sps.vui_parameters?.video_signal_type?;
    Some(Signal {
        full_range: signal.video_full_range_flag,
        matrix: signal.colour_description.map(|d| i32::from(d.matrix_coefficients)),
    })
}

/// WebCodecs' name for FFmpeg's AVColorSpace as swscale converts it (unspecified and the rest: 601).
fn matrix(space: i32) -> &'static str {
    match space {
        1 => "bt709",
        5 => "bt470bg",
        9 | 10 => "bt2020-ncl",
        _ => "smpte170m",
    }
}

/// avcC (ISO 14496-15 5.3.3.1): `avc1.PPCCLL` from its profile, constraint and level bytes. Annex B
/// (MPEG-TS, raw, AVI): the same three bytes from the SPS in the extradata, no description.
fn h264(c: &CodecInfo, x: &[u8]) -> Option<(String, Option<Vec<u8>>)> {
    if x.len() >= 7 && x[0] == 1 {
        return Some((format!("avc1.{:02x}{:02x}{:02x}", x[1], x[2], x[3]), Some(x.to_vec())));
    }
    let sps = annex_b_nals(x).find(|n| !n.is_empty() && n[0] & 0x1f == 7 && n.len() >= 4);
    let (profile, constraints, level) = match sps {
        Some(n) => (n[1], n[2], n[3]),
        None if c.profile > 0 && c.level > 0 => (
            (c.profile & 0xff) as u8,
            if c.profile & (1 << 9) != 0 { 0x40 } else { 0 },
            c.level as u8,
        ),
        None => return None,
    };
    Some((format!("avc1.{profile:02x}{constraints:02x}{level:02x}"), None))
}

/// hvcC (ISO 14496-15 8.3.3.1), its string per Annex E: `hvc1.[A-C]P.FLAGS.[LH]L.CC…`.
/// Annex B: `hev1` from FFmpeg's profile and level, the parameter sets in the packets.
fn hevc(c: &CodecInfo, x: &[u8]) -> Option<(String, Option<Vec<u8>>)> {
    if x.len() >= 23 && x[0] == 1 {
        let space = ["", "A", "B", "C"][(x[1] >> 6) as usize];
        let tier = if x[1] & 0x20 != 0 { 'H' } else { 'L' };
        let profile = x[1] & 0x1f;
        let flags = u32::from_be_bytes([x[2], x[3], x[4], x[5]]).reverse_bits();
        let mut constraints = x[6..12].to_vec();
        while constraints.len() > 1 && constraints.last() == Some(&0) {
            constraints.pop();
        }
        let constraints: Vec<String> = constraints.iter().map(|b| format!("{b:X}")).collect();
        let codec = format!(
            "hvc1.{space}{profile}.{flags:X}.{tier}{}.{}",
            x[12],
            constraints.join(".")
        );
        return Some((codec, Some(x.to_vec())));
    }
    if c.profile <= 0 || c.level <= 0 {
        return None;
    }
    // compatible with its own profile, and Main with Main 10 (as encoders write it)
    let profile = c.profile.clamp(0, 31) as u32;
    let flags = (1u32 << profile) | if profile == 1 { 1 << 2 } else { 0 };
    Some((format!("hev1.{}.{flags:X}.L{}.B0", c.profile, c.level), None))
}

/// `vp09.PP.LL.DD`: profile and bit depth as the stream declares them; the level is the smallest
/// whose picture size holds the frame (VP9 levels, annex A), the decoder only checks it is one.
fn vp9(c: &CodecInfo, width: u32, height: u32) -> String {
    let depth = if c.bit_depth > 8 {
        c.bit_depth
    } else if c.profile >= 2 {
        10
    } else {
        8
    };
    let profile = c.profile.clamp(0, 3);
    let area = u64::from(width) * u64::from(height);
    let level = [
        (36_864, 10),
        (73_728, 11),
        (122_880, 20),
        (245_760, 21),
        (552_960, 30),
        (983_040, 31),
        (2_228_224, 41),
        (8_912_896, 51),
    ]
    .iter()
    .find(|(most, _)| area <= *most)
    .map_or(62, |l| l.1);
    format!("vp09.{profile:02}.{level:02}.{depth:02}")
}

/// Reads bits most significant first, as the AV1 specification's f(n).
struct Bits<'a> {
    data: &'a [u8],
    at: usize,
}

impl Bits<'_> {
    fn f(&mut self, n: u32) -> Option<u32> {
        let mut value = 0u32;
        for _ in 0..n {
            let byte = *self.data.get(self.at / 8)?;
            value = (value << 1) | u32::from((byte >> (7 - self.at % 8)) & 1);
            self.at += 1;
        }
        Some(value)
    }

    fn flag(&mut self) -> Option<bool> {
        self.f(1).map(|b| b == 1)
    }

    /// uvlc(): leading zeros, then as many bits.
    fn uvlc(&mut self) -> Option<()> {
        let mut zeros = 0;
        while !self.flag()? {
            zeros += 1;
            if zeros >= 32 {
                return None;
            }
        }
        self.f(zeros).map(|_| ())
    }
}

/// leb128(): the OBU size, 7 bits a byte, at most 8 bytes.
fn leb128(data: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, byte) in data.iter().take(8).enumerate() {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

/// The payload of the first sequence header OBU in `data` (low-overhead OBUs, with sizes).
fn sequence_header(mut data: &[u8]) -> Option<&[u8]> {
    while !data.is_empty() {
        let header = data[0];
        let kind = (header >> 3) & 0xf;
        let extension = header & 0x4 != 0;
        if header & 0x2 == 0 {
            return None; // no size field: not what IVF and OBU files carry
        }
        let at = 1 + usize::from(extension);
        let (size, len) = leb128(data.get(at..)?)?;
        let start = at + len;
        let end = start.checked_add(usize::try_from(size).ok()?)?;
        let payload = data.get(start..end)?;
        if kind == 1 {
            return Some(payload);
        }
        data = &data[end..];
    }
    None
}

/// `av01.P.LLT.DD` from an AV1 sequence header OBU found in `data` (a keyframe's temporal unit, or
/// extradata that is OBUs rather than av1C), per the AV1 specification's sequence_header_obu().
fn av1_codec_from_obus(data: &[u8]) -> Option<String> {
    let mut b = Bits {
        data: sequence_header(data)?,
        at: 0,
    };
    let profile = b.f(3)?;
    let _still_picture = b.f(1)?;
    let reduced = b.flag()?;
    let (level, tier);
    let mut frame_ids = false;
    if reduced {
        level = b.f(5)?;
        tier = 0;
    } else {
        let mut decoder_model = false;
        let mut buffer_delay_bits = 0;
        if b.flag()? {
            // timing_info()
            b.f(32)?;
            b.f(32)?;
            if b.flag()? {
                b.uvlc()?;
            }
            decoder_model = b.flag()?;
            if decoder_model {
                buffer_delay_bits = b.f(5)? + 1;
                b.f(32)?;
                b.f(5)?;
                b.f(5)?;
            }
        }
        let initial_display_delay = b.flag()?;
        let operating_points = b.f(5)? + 1;
        let (mut first_level, mut first_tier) = (0, 0);
        for i in 0..operating_points {
            b.f(12)?;
            let level = b.f(5)?;
            let tier = if level > 7 { b.f(1)? } else { 0 };
            if i == 0 {
                (first_level, first_tier) = (level, tier);
            }
            if decoder_model && b.flag()? {
                b.f(buffer_delay_bits)?;
                b.f(buffer_delay_bits)?;
                b.f(1)?;
            }
            if initial_display_delay && b.flag()? {
                b.f(4)?;
            }
        }
        (level, tier) = (first_level, first_tier);
    }
    let width_bits = b.f(4)? + 1;
    let height_bits = b.f(4)? + 1;
    b.f(width_bits)?;
    b.f(height_bits)?;
    if !reduced {
        frame_ids = b.flag()?;
    }
    if frame_ids {
        b.f(4)?;
        b.f(3)?;
    }
    b.f(3)?; // use_128x128_superblock, enable_filter_intra, enable_intra_edge_filter
    if !reduced {
        b.f(4)?; // interintra compound, masked compound, warped motion, dual filter
        let order_hint = b.flag()?;
        if order_hint {
            b.f(2)?; // jnt_comp, ref_frame_mvs
        }
        let screen_content = if b.flag()? { 2 } else { b.f(1)? };
        if screen_content > 0 && !b.flag()? {
            b.f(1)?; // seq_force_integer_mv
        }
        if order_hint {
            b.f(3)?;
        }
    }
    b.f(3)?; // superres, cdef, restoration
    let high_bitdepth = b.flag()?;
    let depth = match (profile, high_bitdepth) {
        (2, true) => {
            if b.flag()? {
                12
            } else {
                10
            }
        }
        (_, true) => 10,
        _ => 8,
    };
    let tier = if tier == 1 { 'H' } else { 'M' };
    Some(format!("av01.{profile}.{level:02}{tier}.{depth:02}"))
}

/// av1C (AV1 ISOBMFF binding 2.3): `av01.P.LLT.DD`, and av1C as the description when it carries
/// configOBUs (the sequence header). A bare 4-byte av1C (libavif's AVIF sequences) is no
/// description: Firefox's decoder fails on every frame given one; the keyframes carry the header.
fn av1(x: &[u8]) -> Option<(String, Option<Vec<u8>>)> {
    if x.len() < 4 || x[0] != 0x81 {
        return None;
    }
    let (profile, level) = (x[1] >> 5, x[1] & 0x1f);
    let tier = if x[2] & 0x80 != 0 { 'H' } else { 'M' };
    let depth = match (x[2] & 0x40 != 0, x[2] & 0x20 != 0) {
        (true, true) => 12,
        (true, false) => 10,
        _ => 8,
    };
    let description = (x.len() > 4).then(|| x.to_vec());
    Some((format!("av01.{profile}.{level:02}{tier}.{depth:02}"), description))
}

/// The NAL units of an Annex B byte stream (after each 00 00 01 start code).
fn annex_b_nals(x: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= x.len() {
        if x[i] == 0 && x[i + 1] == 0 && x[i + 2] == 1 {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    let ends: Vec<usize> = starts
        .iter()
        .skip(1)
        .map(|&s| {
            // the next start code, with a fourth leading zero if there is one
            let mut e = s - 3;
            while e > 0 && x[e - 1] == 0 {
                e -= 1;
            }
            e
        })
        .chain(std::iter::once(x.len()))
        .collect();
    starts.into_iter().zip(ends).map(move |(s, e)| &x[s..e.max(s)])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(extradata: &[u8]) -> CodecInfo {
        CodecInfo {
            profile: -99,
            level: -99,
            extradata: extradata.to_vec(),
            ..CodecInfo::default()
        }
    }

    #[test]
    fn names_the_codecs_as_the_registry_does() {
        let avcc = [1, 0x64, 0x00, 0x1f, 0xff, 0xe1, 0, 0];
        let c = decoder_config("h264", 1920, 1080, &info(&avcc)).unwrap();
        assert_eq!(
            (c.codec.as_str(), c.description.as_deref()),
            ("avc1.64001f", Some(&avcc[..]))
        );
        // Annex B: from the SPS (here after a four-byte start code), no description
        let annex_b = [0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1e, 0x11, 0, 0, 1, 0x68, 0xce];
        let c = decoder_config("h264", 320, 240, &info(&annex_b)).unwrap();
        assert_eq!((c.codec.as_str(), c.description), ("avc1.42c01e", None));
        // hvcC of x265's Main profile, level 3.1
        let mut hvcc = vec![1, 0x01, 0x60, 0, 0, 0, 0x90, 0, 0, 0, 0, 0, 93];
        hvcc.resize(23, 0);
        let c = decoder_config("hevc", 1280, 720, &info(&hvcc)).unwrap();
        assert_eq!(c.codec, "hvc1.1.6.L93.90");
        let c = decoder_config(
            "hevc",
            1280,
            720,
            &CodecInfo {
                profile: 1,
                level: 93,
                ..info(&[])
            },
        )
        .unwrap();
        assert_eq!(c.codec, "hev1.1.6.L93.B0");
        let c = decoder_config(
            "vp9",
            1280,
            720,
            &CodecInfo {
                profile: 0,
                bit_depth: 8,
                ..info(&[])
            },
        )
        .unwrap();
        assert_eq!(c.codec, "vp09.00.31.08");
        let av1c = [0x81, 0x08, 0x0c, 0x00];
        let c = decoder_config("av1", 1920, 1080, &info(&av1c)).unwrap();
        assert_eq!(c.codec, "av01.0.08M.08");
        // A bare av1C is no description (Firefox fails on every frame given one); with its
        // configOBUs (a sequence header OBU after it), it is.
        assert_eq!(c.description, None);
        let with_obus = [0x81, 0x08, 0x0c, 0x00, 0x0a, 0x01, 0x00];
        let c = decoder_config("av1", 1920, 1080, &info(&with_obus)).unwrap();
        assert_eq!(c.description.as_deref(), Some(&with_obus[..]));
        assert_eq!(decoder_config("mpeg4", 320, 240, &info(&[])), None);
        assert_eq!(decoder_config("av1", 320, 240, &info(&[])), None);
        // Without av1C (AV1 in IVF), from the keyframe: a temporal delimiter, then the sequence
        // header libaom wrote for 320x240, 8-bit and 10-bit (the CLI's `-f ivf`).
        let keyframe = |header: &str| {
            let mut unit = vec![0x12, 0x00];
            unit.extend(
                (0..header.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&header[i..i + 2], 16).unwrap()),
            );
            unit.extend([0x32, 0x02, 0xff, 0xff]); // a frame OBU after it, cut short
            unit
        };
        for (header, codec) in [
            ("0a0b000000043cffbcdaf90040", "av01.0.00M.08"),
            ("0a0b000000043cffbcdaf94040", "av01.0.00M.10"),
        ] {
            let c = decoder_config_or_keyframe("av1", 320, 240, &info(&[]), || Some(keyframe(header))).unwrap();
            assert_eq!((c.codec.as_str(), c.description), (codec, None));
        }
        // A keyframe without a sequence header, or none at all: no config.
        assert_eq!(
            decoder_config_or_keyframe("av1", 320, 240, &info(&[]), || Some(vec![0x12, 0x00])),
            None
        );
        assert_eq!(decoder_config_or_keyframe("av1", 320, 240, &info(&[]), || None), None);
        // Truncated sequence headers never read past their end.
        let full = keyframe("0a0b000000043cffbcdaf90040");
        for cut in 0..full.len() {
            let _ = decoder_config_or_keyframe("av1", 320, 240, &info(&[]), || Some(full[..cut].to_vec()));
        }
    }

    #[test]
    fn the_matrix_is_the_engine_s() {
        let c = |space, range| CodecInfo {
            color_space: space,
            color_range: range,
            ..info(&[])
        };
        let config = |c| decoder_config("vp8", 16, 16, &c).unwrap();
        assert_eq!(
            (config(c(2, 0)).matrix, config(c(2, 0)).full_range),
            ("smpte170m", None)
        );
        assert_eq!(
            (config(c(1, 2)).matrix, config(c(1, 2)).full_range),
            ("bt709", Some(true))
        );
        assert_eq!(config(c(1, 1)).full_range, Some(false));
    }

    /// x264's full-range BT.601 (`colour-full-range.mp4`): the container says nothing of the
    /// colours, the SPS's VUI does, in avcC and in Annex B alike; and it overrides a container's.
    #[test]
    fn the_range_and_matrix_of_an_h264_sps() {
        let sps = "6764000dacd94141fb016e04040c800000030080000019078a14cb";
        let avcc = hex(&format!("0164000dffe1001b{sps}01000468ef8fcbfdf8f800"));
        let c = decoder_config("h264", 320, 240, &info(&avcc)).unwrap();
        assert_eq!((c.matrix, c.full_range), ("smpte170m", Some(true)));
        let annex_b = hex(&format!("00000001{sps}0000000168ef8fcbfdf8f8"));
        let tagged = CodecInfo {
            color_space: 1,
            color_range: 1,
            ..info(&annex_b)
        };
        let c = decoder_config("h264", 320, 240, &tagged).unwrap();
        assert_eq!(
            (c.codec.as_str(), c.matrix, c.full_range),
            ("avc1.64000d", "smpte170m", Some(true))
        );
        // an SPS without a VUI (the earlier test's): the container's
        let plain = [0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1e, 0x11];
        let c = decoder_config(
            "h264",
            320,
            240,
            &CodecInfo {
                color_range: 2,
                ..info(&plain)
            },
        )
        .unwrap();
        assert_eq!((c.matrix, c.full_range), ("smpte170m", Some(true)));
        let c = decoder_config("h264", 320, 240, &info(&plain)).unwrap();
        assert_eq!(c.full_range, None);
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }
}
