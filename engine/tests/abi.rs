//! The engine's C interface has one source, `c/engine.h`; every other copy is checked against it
//! here, so that a status, a seek mode or a struct field added on one side only fails:
//! - `te_status` against the vocabulary's `ErrorKind` (numbers and names),
//! - `te_mode` against the vocabulary's `Seek`, and the pixel limits against its constants,
//! - `te_info`, `te_image`, `te_codec`, `te_packet` and `te_packets` against `layout.rs` (offsets computed from the header's types as a
//!   wasm32 compiler lays them out, and the offsets its comments state), and against the Node
//!   runner of the wasm tests (`wasm-runner.cjs`). native.rs checks its `#[repr(C)]` mirrors against
//!   `layout.rs` in its own unit test.

use std::collections::BTreeSet;

use thumbnail_engine::layout::{self, INFO_SIZE, TE_IMAGE_WASM32, TE_INFO};
use thumbnail_vocabulary::{ErrorKind, Seek};

fn header() -> String {
    std::fs::read_to_string(test_support::engine_dir().join("c/engine.h")).unwrap()
}

/// `NAME = number` lines of a C enum whose names start with `prefix`, as (lower-case rest, number).
fn enum_values(text: &str, prefix: &str) -> BTreeSet<(String, i32)> {
    text.lines()
        .filter_map(|line| {
            let (name, rest) = line.trim().strip_prefix(prefix)?.split_once('=')?;
            let number = rest.trim().split(',').next()?.trim().parse().ok()?;
            Some((name.trim().to_ascii_lowercase(), number))
        })
        .collect()
}

#[test]
fn statuses_are_the_vocabulary_s_error_kinds() {
    let c = enum_values(&header(), "TE_ERR_");
    let rust: BTreeSet<(String, i32)> = ErrorKind::ALL
        .iter()
        .map(|k| (k.name().to_owned(), k.status()))
        .collect();
    assert_eq!(c, rust, "te_status in engine.h vs ErrorKind");
}

#[test]
fn modes_are_the_vocabulary_s_seek_modes() {
    let c = enum_values(&header(), "TE_MODE_");
    let rust: BTreeSet<(String, i32)> = [Seek::Exact, Seek::Keyframe]
        .iter()
        .map(|s| (s.name().to_owned(), s.code()))
        .collect();
    assert_eq!(c, rust, "te_mode in engine.h vs Seek");
}

/// A field of a C struct: its name, where a wasm32 compiler puts it, and where the comment says.
#[derive(Debug)]
struct Field {
    name: String,
    offset: usize,
    stated: Option<usize>,
}

/// Lays out `typedef struct <name> { ... } <name>;` of the header for wasm32, returning its fields
/// and its size.
fn c_struct(text: &str, name: &str) -> (Vec<Field>, usize) {
    let start = text
        .find(&format!("typedef struct {name} {{"))
        .unwrap_or_else(|| panic!("no struct {name}"));
    let body = &text[start..];
    let body = &body[body.find('{').unwrap() + 1..body.find(&format!("}} {name};")).unwrap()];
    let (mut fields, mut at, mut align_max) = (Vec::new(), 0usize, 1usize);
    for line in body.lines() {
        let Some((decl, rest)) = line.split_once(';') else {
            continue;
        };
        let decl = decl.trim();
        let (ty, field) = decl.rsplit_once(' ').unwrap();
        let (field, count) = match field.split_once('[') {
            Some((f, n)) => (f, n.trim_end_matches(']').parse::<usize>().unwrap()),
            None => (field, 1),
        };
        let (field, ty) = match field.strip_prefix('*') {
            Some(f) => (f, "pointer"),
            None if ty.ends_with('*') => (field, "pointer"),
            None => (field, ty),
        };
        let (size, align) = match ty {
            "double" => (8, 8),
            "int32_t" | "uint32_t" => (4, 4),
            "char" | "uint8_t" => (1, 1),
            "pointer" => (4, 4), // wasm32
            other => panic!("a type this check does not know: {other} in {name}"),
        };
        at = at.next_multiple_of(align);
        align_max = align_max.max(align);
        // The comment's offset: `/* 16: ...` or `/* 16 */`.
        let stated = rest
            .split_once("/*")
            .and_then(|(_, c)| c.trim().split([':', ' ', '*']).next()?.parse().ok());
        fields.push(Field {
            name: field.to_owned(),
            offset: at,
            stated,
        });
        at += size * count;
    }
    (fields, at.next_multiple_of(align_max))
}

fn check(name: &str, fields: &[Field], rust: &[(&str, usize)]) {
    let c: Vec<(&str, usize)> = fields.iter().map(|f| (f.name.as_str(), f.offset)).collect();
    assert_eq!(c, rust, "{name} in engine.h vs layout.rs");
    for f in fields {
        if let Some(stated) = f.stated {
            assert_eq!(stated, f.offset, "{name}.{}: the comment says {stated}", f.name);
        }
    }
}

#[test]
fn structs_are_laid_out_as_layout_rs_says() {
    let text = header();
    let (info, info_size) = c_struct(&text, "te_info");
    check("te_info", &info, &TE_INFO);
    assert_eq!(info_size, INFO_SIZE);
    let (image, image_size) = c_struct(&text, "te_image");
    check("te_image", &image, &TE_IMAGE_WASM32);
    assert_eq!(image_size, thumbnail_engine::layout::IMAGE_SIZE_WASM32);
    let (codec, codec_size) = c_struct(&text, "te_codec");
    check("te_codec", &codec, &layout::TE_CODEC_WASM32);
    assert_eq!(codec_size, layout::CODEC_SIZE_WASM32);
    let (packet, packet_size) = c_struct(&text, "te_packet");
    check("te_packet", &packet, &layout::TE_PACKET);
    assert_eq!(packet_size, layout::PACKET_SIZE);
    let (packets, packets_size) = c_struct(&text, "te_packets");
    check("te_packets", &packets, &layout::TE_PACKETS_WASM32);
    assert_eq!(packets_size, layout::PACKETS_SIZE_WASM32);
    assert_eq!(define(&text, "TE_PACKET_KEY"), layout::PACKET_KEY as u64);
    assert_eq!(define(&text, "TE_PACKET_SKIP"), layout::PACKET_SKIP as u64);
}

/// `(name, offset)` of each `name ... (ptr + N)` or `name ... [ptr >> k]` the runner reads in `function`.
fn runner_reads(function: &str) -> Vec<(String, usize)> {
    let runner = std::fs::read_to_string(test_support::engine_dir().join("tests/wasm-runner.cjs")).unwrap();
    let start = runner.find(&format!("function {function}(")).unwrap();
    let body = &runner[start..];
    let body = &body[..body.find("\n}").unwrap()];
    body.lines()
        .filter_map(|line| {
            let line = line.trim().trim_start_matches("const ");
            let name: String = line
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let offset = if let Some((_, after)) = line.split_once("ptr + ") {
                after.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()?
            } else if line.contains("[ptr >>") {
                0
            } else {
                return None;
            };
            Some((name, offset))
        })
        .filter(|(name, _)| !name.is_empty() && name != "return")
        .collect()
}

#[test]
fn the_node_runner_reads_the_same_offsets() {
    for (function, fields) in [("readInfo", &TE_INFO[..]), ("readImage", &TE_IMAGE_WASM32[..])] {
        let reads = runner_reads(function);
        assert!(reads.len() >= 3, "{function}: {reads:?}");
        for (name, offset) in reads {
            let expected = fields.iter().find(|f| f.0 == name).map(|f| f.1);
            assert_eq!(
                expected,
                Some(offset),
                "wasm-runner.cjs {function} reads `{name}` at {offset}"
            );
        }
    }
}

/// `#define NAME (expression)` of the header, evaluated (products of integers only).
fn define(text: &str, name: &str) -> u64 {
    let line = text
        .lines()
        .find_map(|l| l.trim().strip_prefix(&format!("#define {name} ")))
        .unwrap_or_else(|| panic!("no #define {name}"));
    let line = line.split("/*").next().unwrap();
    line.trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .split('*')
        .map(|n| n.trim().parse::<u64>().unwrap_or_else(|_| panic!("{name}: {line}")))
        .product()
}

#[test]
fn limits_are_the_vocabulary_s() {
    let text = header();
    assert_eq!(
        define(&text, "TE_DEFAULT_MAX_PIXELS"),
        u64::from(thumbnail_vocabulary::DEFAULT_MAX_PIXELS)
    );
    assert_eq!(define(&text, "TE_MAX_SIDE"), u64::from(thumbnail_vocabulary::MAX_SIDE));
}
