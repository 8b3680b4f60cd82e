//! A video's colour as its stream declares it, in [`crate::VideoInfo`]: FFmpeg's names of its
//! primaries, transfer and matrix (`av_color_primaries_name` and its siblings: the same words as
//! the `ffmpeg` CLI and ffprobe), and whether it is HDR. The engine gives the numbers
//! (`te_codec`: FFmpeg's stable enum values), this names them; the engine's native tests compare
//! these tables with FFmpeg's own functions.

/// A high dynamic range transfer: what a phone records by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Hdr {
    /// SMPTE ST 2084, the perceptual quantiser (HDR10, Dolby Vision's HDR10 base layer).
    Pq,
    /// ARIB STD-B67, hybrid log-gamma (broadcast, and most phones' HDR video).
    Hlg,
}

impl Hdr {
    /// The HDR transfer of FFmpeg's `AVColorTransferCharacteristic` number, if it is one.
    pub fn of_transfer(transfer: i32) -> Option<Hdr> {
        match transfer {
            16 => Some(Hdr::Pq),
            18 => Some(Hdr::Hlg),
            _ => None,
        }
    }
}

/// What a host makes of an HDR video's pictures: the option `hdr`, in every operation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HdrOutput {
    /// Tone-mapped for an SDR display (crate `thumbnail-tonemap`): what a page shows as is.
    #[default]
    Sdr,
    /// The coded values as they are (an HDR picture looks washed out on an SDR display).
    Keep,
}

impl std::str::FromStr for HdrOutput {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<HdrOutput, crate::Error> {
        match s.trim() {
            "sdr" => Ok(HdrOutput::Sdr),
            "keep" => Ok(HdrOutput::Keep),
            _ => Err(crate::options::bad(format!(
                "`hdr` must be sdr or keep, not {}",
                crate::options::shown(crate::OptionValue::Text(s))
            ))),
        }
    }
}

/// FFmpeg's name of an `AVColorPrimaries` number; `None` when unspecified or unknown.
pub fn primaries_name(n: i32) -> Option<&'static str> {
    Some(match n {
        1 => "bt709",
        4 => "bt470m",
        5 => "bt470bg",
        6 => "smpte170m",
        7 => "smpte240m",
        8 => "film",
        9 => "bt2020",
        10 => "smpte428",
        11 => "smpte431",
        12 => "smpte432",
        22 => "ebu3213",
        _ => return None,
    })
}

/// FFmpeg's name of an `AVColorTransferCharacteristic` number; `None` when unspecified or unknown.
pub fn transfer_name(n: i32) -> Option<&'static str> {
    Some(match n {
        1 => "bt709",
        4 => "bt470m",
        5 => "bt470bg",
        6 => "smpte170m",
        7 => "smpte240m",
        8 => "linear",
        9 => "log100",
        10 => "log316",
        11 => "iec61966-2-4",
        12 => "bt1361e",
        13 => "iec61966-2-1",
        14 => "bt2020-10",
        15 => "bt2020-12",
        16 => "smpte2084",
        17 => "smpte428",
        18 => "arib-std-b67",
        _ => return None,
    })
}

/// FFmpeg's name of an `AVColorSpace` number (the YUV matrix); `None` when unspecified or unknown.
pub fn matrix_name(n: i32) -> Option<&'static str> {
    Some(match n {
        0 => "gbr",
        1 => "bt709",
        4 => "fcc",
        5 => "bt470bg",
        6 => "smpte170m",
        7 => "smpte240m",
        8 => "ycgco",
        9 => "bt2020nc",
        10 => "bt2020c",
        11 => "smpte2085",
        12 => "chroma-derived-nc",
        13 => "chroma-derived-c",
        14 => "ictcp",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hdr_is_pq_or_hlg() {
        assert_eq!(Hdr::of_transfer(16), Some(Hdr::Pq));
        assert_eq!(Hdr::of_transfer(18), Some(Hdr::Hlg));
        for sdr in [0, 1, 2, 6, 13, 14] {
            assert_eq!(Hdr::of_transfer(sdr), None, "{sdr}");
        }
        assert_eq!(serde_json::to_value(Hdr::Hlg).unwrap(), "hlg");
        assert_eq!(
            (primaries_name(2), transfer_name(2), matrix_name(2)),
            (None, None, None)
        );
    }
}
