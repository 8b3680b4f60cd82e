//! A video file larger than 4 GiB that costs almost no disk: h264.mp4's boxes rewritten so that its
//! media data starts after a hole of zeros (a sparse file). The mdat box gets a 64-bit size and
//! the chunk offset table becomes `co64`, so every sample really is read beyond 4 GiB.

use std::io::{Seek, SeekFrom, Write};
use std::path::PathBuf;

/// Zeros before the first sample.
pub const HOLE: u64 = 4_608 * 1024 * 1024; // 4.5 GiB

/// The file (made once, under target/fixtures/large/): h264.mp4's frames, over 4.5 GiB in all.
pub fn large_mp4() -> PathBuf {
    // First the fixtures: making them starts from an empty target/fixtures/.
    let source = std::fs::read(crate::fixture("h264.mp4")).unwrap();
    let dir = crate::root().join("target/fixtures/large");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("h264-4.5gib.mp4");
    let boxes = top_level(&source);
    let find = |kind: &[u8; 4]| {
        boxes
            .iter()
            .find(|b| &b.kind == kind)
            .unwrap_or_else(|| panic!("h264.mp4 has no {}", String::from_utf8_lossy(kind)))
    };
    let (ftyp, mdat, moov) = (find(b"ftyp"), find(b"mdat"), find(b"moov"));
    let payload = &source[mdat.body.clone()];
    let ftyp = &source[ftyp.start..ftyp.body.end];
    let payload_at = ftyp.len() as u64 + 16 + HOLE;
    let delta = payload_at as i64 - mdat.body.start as i64;
    let moov = rewrite_offsets(&source[moov.start..moov.body.end], delta);
    let size = payload_at + payload.len() as u64 + moov.len() as u64;
    if std::fs::metadata(&path).is_ok_and(|m| m.len() == size) {
        return path;
    }

    // A name of its own per writer: tests running at once may each make it, and each renames a
    // whole file into place.
    let partial = path.with_extension(format!("partial-{}-{}", std::process::id(), crate::unique()));
    let mut out = std::fs::File::create(&partial).unwrap();
    out.write_all(ftyp).unwrap();
    out.write_all(&1u32.to_be_bytes()).unwrap(); // size 1: a 64-bit size follows
    out.write_all(b"mdat").unwrap();
    out.write_all(&(16 + HOLE + payload.len() as u64).to_be_bytes())
        .unwrap();
    out.seek(SeekFrom::Current(HOLE as i64)).unwrap(); // the hole: never written
    out.write_all(payload).unwrap();
    out.write_all(&moov).unwrap();
    drop(out);
    std::fs::rename(&partial, &path).unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().len(), size);
    path
}

struct Mp4Box {
    kind: [u8; 4],
    start: usize,
    body: std::ops::Range<usize>,
}

/// The boxes laid one after another in `data` (a file, or a container box's body).
fn top_level(data: &[u8]) -> Vec<Mp4Box> {
    let mut boxes = Vec::new();
    let mut at = 0;
    while at + 8 <= data.len() {
        let size = u32::from_be_bytes(data[at..at + 4].try_into().unwrap()) as usize;
        let kind: [u8; 4] = data[at + 4..at + 8].try_into().unwrap();
        let (header, size) = match size {
            0 => (8, data.len() - at),
            1 => (
                16,
                u64::from_be_bytes(data[at + 8..at + 16].try_into().unwrap()) as usize,
            ),
            n => (8, n),
        };
        boxes.push(Mp4Box {
            kind,
            start: at,
            body: at + header..at + size,
        });
        at += size;
    }
    boxes
}

/// `moov` (a whole box) with every chunk offset moved by `delta`, written as 64-bit `co64`.
fn rewrite_offsets(moov: &[u8], delta: i64) -> Vec<u8> {
    const CONTAINERS: [&[u8; 4]; 5] = [b"moov", b"trak", b"mdia", b"minf", b"stbl"];
    let b = &top_level(moov)[0];
    let body = &moov[b.body.clone()];
    let new_body = if CONTAINERS.contains(&&b.kind) {
        top_level(body)
            .iter()
            .flat_map(|child| rewrite_offsets(&body[child.start..child.body.end], delta))
            .collect()
    } else if &b.kind == b"stco" || &b.kind == b"co64" {
        let wide = &b.kind == b"co64";
        let count = u32::from_be_bytes(body[4..8].try_into().unwrap()) as usize;
        let mut out = body[..8].to_vec(); // version, flags, entry count
        for i in 0..count {
            let offset = if wide {
                u64::from_be_bytes(body[8 + i * 8..16 + i * 8].try_into().unwrap())
            } else {
                u32::from_be_bytes(body[8 + i * 4..12 + i * 4].try_into().unwrap()) as u64
            };
            out.extend_from_slice(&((offset as i64 + delta) as u64).to_be_bytes());
        }
        return with_header(b"co64", &out);
    } else {
        body.to_vec()
    };
    with_header(&b.kind, &new_body)
}

fn with_header(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(body);
    out
}
