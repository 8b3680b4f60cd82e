//! A contact sheet: frames at spread times tiled into one image, with the WebVTT thumbnails track
//! that video.js, Plyr and Vidstack read (`sprite.jpg#xywh=x,y,w,h` per cue).

use thumbnail_vocabulary::{FrameTimes, Seek, SheetSeek, MAX_SPRITE_FRAMES};

use crate::budget::{within, PixelBudget};
use crate::{Failed, Picture};

/// Without a known duration, `count` frames are taken a second apart.
const UNKNOWN_DURATION_STEP: f64 = 1.0;

/// The times of the sheet's frames, in increasing order: `count` frames each in the middle of its
/// share of the video, or one every `every` seconds from the start (at most MAX_SPRITE_FRAMES).
pub fn sprite_times(duration: Option<f64>, frames: FrameTimes) -> Vec<f64> {
    let known = duration.filter(|d| d.is_finite() && *d > 0.0);
    match frames {
        FrameTimes::Count(n) => {
            let step = known.map_or(UNKNOWN_DURATION_STEP, |d| d / f64::from(n));
            let first = if known.is_some() { step / 2.0 } else { 0.0 };
            (0..n).map(|i| first + step * f64::from(i)).collect()
        }
        FrameTimes::Every(s) => {
            let end = known.unwrap_or(s * f64::from(MAX_SPRITE_FRAMES));
            (0..MAX_SPRITE_FRAMES)
                .map(|i| s * f64::from(i))
                .take_while(|t| *t < end || *t == 0.0)
                .collect()
        }
    }
}

/// How the sheet's frames at `times` are found: for `auto`, the keyframe at or before each time
/// where every step between the times holds a keyframe of its own, else the exact frame (the
/// engine's `te_decode_next`: each packet decoded once, from the keyframe before each time). The
/// steps are checked at the start, the middle and the end of the sheet: the keyframe at or before
/// a tile's time (`keyframe_before`, from the container's packets without decoding) must come
/// after the time of the tile before, and the keyframe before it be no further back than a step
/// (the GOP no longer than the step). A keyframe the engine cannot tell means exact.
pub fn sheet_seek(choice: SheetSeek, times: &[f64], mut keyframe_before: impl FnMut(f64) -> Option<f64>) -> Seek {
    match choice {
        SheetSeek::Exact => Seek::Exact,
        SheetSeek::Keyframe => Seek::Keyframe,
        SheetSeek::Auto if times.len() < 2 => Seek::Exact,
        SheetSeek::Auto => {
            let mut checked = [1, times.len() / 2, times.len() - 1];
            checked.sort_unstable();
            let mut holds_one = |i: usize| {
                let step = times[i] - times[i - 1];
                let Some(key) = keyframe_before(times[i]).filter(|k| *k > times[i - 1]) else {
                    return false;
                };
                match keyframe_before(key - 0.001) {
                    Some(earlier) if earlier < key => key - earlier <= step,
                    _ => true, // the first keyframe
                }
            };
            let apart = checked
                .iter()
                .enumerate()
                .all(|(n, &i)| (n > 0 && checked[n - 1] == i) || holds_one(i));
            if apart {
                Seek::Keyframe
            } else {
                Seek::Exact
            }
        }
    }
}

/// The sheet's geometry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sheet {
    pub columns: u32,
    pub rows: u32,
    pub tile_width: u32,
    pub tile_height: u32,
}

impl Sheet {
    /// `count` tiles of this size, `columns` a row at most.
    pub fn new(count: u32, columns: u32, tile_width: u32, tile_height: u32) -> Sheet {
        let columns = columns.clamp(1, count.max(1));
        Sheet {
            columns,
            rows: count.max(1).div_ceil(columns),
            tile_width,
            tile_height,
        }
    }

    pub fn width(&self) -> u32 {
        self.columns * self.tile_width
    }

    pub fn height(&self) -> u32 {
        self.rows * self.tile_height
    }

    /// Where tile `i` lies: x, y, width, height.
    pub fn tile(&self, i: u32) -> (u32, u32, u32, u32) {
        let (column, row) = (i % self.columns, i / self.columns);
        (
            column * self.tile_width,
            row * self.tile_height,
            self.tile_width,
            self.tile_height,
        )
    }
}

/// A black sheet of `count` tiles of `tile`, `columns` a row.
fn blank(count: u32, columns: u32, tile: (u32, u32)) -> (Sheet, Vec<u8>) {
    let sheet = Sheet::new(count, columns, tile.0.max(1), tile.1.max(1));
    let rgba = [0u8, 0, 0, 255].repeat(sheet.width() as usize * sheet.height() as usize);
    (sheet, rgba)
}

/// Puts `picture` (no larger than a tile) centred in tile `i`.
fn paste(sheet: &Sheet, rgba: &mut [u8], i: u32, picture: &Picture) {
    let stride = sheet.width() as usize * 4;
    let (x, y, w, h) = sheet.tile(i);
    let (left, top) = (x + (w - picture.width) / 2, y + (h - picture.height) / 2);
    let row_bytes = picture.width as usize * 4;
    for row in 0..picture.height as usize {
        let from = &picture.rgba[row * row_bytes..(row + 1) * row_bytes];
        let at = (top as usize + row) * stride + left as usize * 4;
        rgba[at..at + from.len()].copy_from_slice(from);
    }
}

/// A sheet of the frames `next` makes at `times` (asked in order: each packet decoded at most
/// once), `columns` a row, each in a tile of `tile` (the host's engine's size for the video's
/// frames in the asked box, `te_output_size`: `next` asks every frame in that box). Refused
/// before any frame is made when the sheet would be more than 16384 a side (invalid) or when it
/// and the tile in flight would pass the `budget` (too large). Each frame is pasted as it comes
/// and dropped. Returns the sheet and its RGBA.
pub fn make_sheet<E>(
    times: &[f64],
    columns: u32,
    tile: (u32, u32),
    budget: &mut PixelBudget,
    mut next: impl FnMut(f64) -> Result<Picture, E>,
) -> Result<(Sheet, Vec<u8>), Failed<E>> {
    let count = times.len() as u32;
    let geometry = check_size(count, columns, tile.0, tile.1).map_err(Failed::Refused)?;
    let canvas = u64::from(geometry.width()) * u64::from(geometry.height());
    budget.reserve(canvas, || {
        format!(
            "a sheet of {count} tiles of {}x{} ({}x{})",
            tile.0,
            tile.1,
            geometry.width(),
            geometry.height()
        )
    })?;
    budget.reserve_pictures(1, tile, || "the sheet and a frame in flight".to_owned())?;
    let (sheet, mut rgba) = blank(count, columns, tile);
    for (i, &t) in times.iter().enumerate() {
        let picture = next(t).map_err(Failed::Engine)?;
        within(picture.width, picture.height, tile)?;
        paste(&sheet, &mut rgba, i as u32, &picture);
    }
    budget.release(u64::from(tile.0) * u64::from(tile.1));
    Ok((sheet, rgba))
}

/// What both hosts answer about a sheet, besides its image: the same JSON (camelCase) from POST
/// /sprite and from the browser's `t.sprite()`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SheetInfo {
    pub columns: u32,
    pub rows: u32,
    pub tile_width: u32,
    pub tile_height: u32,
    /// The time each tile stands for, in order (its cue's start).
    pub times: Vec<f64>,
    /// The storyboard as data, the track's cues one by one: when each tile is shown and where it is.
    pub tiles: Vec<Tile>,
    /// The WebVTT thumbnails track, pointing at the image by `image_name`.
    pub vtt: String,
}

/// One tile of a storyboard: the seconds it stands for (`start` to `end`) and its rectangle in
/// the sheet, as the track's cue says (`#xywh=x,y,width,height`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tile {
    pub start: f64,
    pub end: f64,
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

impl SheetInfo {
    pub fn new(sheet: &Sheet, times: Vec<f64>, duration: Option<f64>, image_name: &str) -> SheetInfo {
        let tiles = tiles(sheet, &times, duration);
        SheetInfo {
            columns: sheet.columns,
            rows: sheet.rows,
            tile_width: sheet.tile_width,
            tile_height: sheet.tile_height,
            vtt: vtt(&tiles, image_name),
            times,
            tiles,
        }
    }
}

/// The tiles of a sheet at `times`: each shown from its time to the next's (the last to the end of
/// the video, or a second when its length is unknown).
pub fn tiles(sheet: &Sheet, times: &[f64], duration: Option<f64>) -> Vec<Tile> {
    times
        .iter()
        .enumerate()
        .map(|(i, &start)| {
            let end = times
                .get(i + 1)
                .copied()
                .or(duration.filter(|d| *d > start))
                .unwrap_or(start + 1.0);
            let (x, y, width, height) = sheet.tile(i as u32);
            Tile {
                start,
                end,
                x,
                y,
                width,
                height,
            }
        })
        .collect()
}

/// The name the track calls the image: `sprite.<extension>`.
pub fn image_name(extension: &str) -> String {
    format!("sprite.{extension}")
}

/// Refuses a sheet of `count` tiles of this size above 16384 pixels a side (the formats' and the
/// canvases' limit), before its frames are made.
fn check_size(count: u32, columns: u32, tile_width: u32, tile_height: u32) -> Result<Sheet, String> {
    let sheet = Sheet::new(count, columns, tile_width.max(1), tile_height.max(1));
    let (w, h) = (
        u64::from(sheet.columns) * u64::from(sheet.tile_width),
        u64::from(sheet.rows) * u64::from(sheet.tile_height),
    );
    if w > 16384 || h > 16384 {
        return Err(format!(
            "the sheet would be {w}x{h} pixels ({count} tiles of {tile_width}x{tile_height}, {} a row): at most 16384 a side; ask fewer frames, fewer columns or smaller tiles",
            sheet.columns
        ));
    }
    Ok(sheet)
}

/// `HH:MM:SS.mmm`, as WebVTT writes times.
fn clock(t: f64) -> String {
    let ms = (t.max(0.0) * 1000.0).round() as u64;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// The WebVTT thumbnails track: cue i runs from `times[i]` to the next time (the last to the end of
/// the video) and shows tile i of `image`.
pub fn vtt(tiles: &[Tile], image: &str) -> String {
    let mut out = String::from("WEBVTT\n");
    for t in tiles {
        out.push_str(&format!(
            "\n{} --> {}\n{image}#xywh={},{},{},{}\n",
            clock(t.start),
            clock(t.end),
            t.x,
            t.y,
            t.width,
            t.height
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_takes_keyframes_where_each_step_holds_one() {
        let times: Vec<f64> = (0..24).map(|i| 12.5 + 25.0 * f64::from(i)).collect();
        // keyframes every 10 s: each 25 s step holds one; every 30 s: not the first
        let every = |gop: f64| move |t: f64| Some((t / gop).floor() * gop);
        assert_eq!(sheet_seek(SheetSeek::Auto, &times, every(10.0)), Seek::Keyframe);
        assert_eq!(sheet_seek(SheetSeek::Auto, &times, every(30.0)), Seek::Exact);
        // only the first keyframe (an unindexed stream's), or none told: exact
        assert_eq!(sheet_seek(SheetSeek::Auto, &times, |_| Some(0.0)), Seek::Exact);
        assert_eq!(sheet_seek(SheetSeek::Auto, &times, |_| None), Seek::Exact);
        // a long GOP in the middle only: exact
        let middle = |t: f64| {
            Some(if (200.0..400.0).contains(&t) {
                200.0
            } else {
                (t / 10.0).floor() * 10.0
            })
        };
        assert_eq!(sheet_seek(SheetSeek::Auto, &times, middle), Seek::Exact);
        // asked for: as asked, whatever the keyframes; one tile: exact
        assert_eq!(sheet_seek(SheetSeek::Exact, &times, every(10.0)), Seek::Exact);
        assert_eq!(sheet_seek(SheetSeek::Keyframe, &times, every(30.0)), Seek::Keyframe);
        assert_eq!(sheet_seek(SheetSeek::Auto, &times[..1], every(10.0)), Seek::Exact);
    }

    #[test]
    fn times_spread_or_every() {
        assert_eq!(
            sprite_times(Some(10.0), FrameTimes::Count(5)),
            vec![1.0, 3.0, 5.0, 7.0, 9.0]
        );
        assert_eq!(sprite_times(Some(10.0), FrameTimes::Every(4.0)), vec![0.0, 4.0, 8.0]);
        assert_eq!(sprite_times(None, FrameTimes::Count(3)), vec![0.0, 1.0, 2.0]);
        assert_eq!(sprite_times(Some(0.5), FrameTimes::Every(4.0)), vec![0.0]);
        assert_eq!(
            sprite_times(None, FrameTimes::Every(0.04)).len(),
            MAX_SPRITE_FRAMES as usize
        );
    }

    #[test]
    fn tiles_are_placed_and_the_track_points_at_them() {
        let picture = |width: u32, rgb: [u8; 3]| Picture {
            width,
            height: 2,
            time: 0.0,
            rgba: [rgb[0], rgb[1], rgb[2], 255].repeat(width as usize * 2),
        };
        // The third is narrower: centred.
        let pictures = [
            picture(4, [10, 20, 30]),
            picture(4, [40, 50, 60]),
            picture(2, [70, 80, 90]),
        ];
        let times = [0.0, 1.0, 2.0];
        let mut budget = PixelBudget::new(1000, "the test's");
        let (sheet, rgba) = make_sheet(&times, 2, (4, 2), &mut budget, |t| {
            Ok::<_, ()>(pictures[t as usize].clone())
        })
        .unwrap();
        assert_eq!(budget.held(), 32, "the sheet, held by the caller now");
        assert_eq!(
            sheet,
            Sheet {
                columns: 2,
                rows: 2,
                tile_width: 4,
                tile_height: 2
            }
        );
        assert_eq!(rgba.len(), 8 * 4 * 4);
        let px = |x: usize, y: usize| &rgba[(y * 8 + x) * 4..(y * 8 + x) * 4 + 4];
        assert_eq!(px(0, 0), [10, 20, 30, 255]);
        assert_eq!(px(4, 1), [40, 50, 60, 255]);
        assert_eq!(px(0, 2), [0, 0, 0, 255]); // left of the centred narrow frame
        assert_eq!(px(1, 3), [70, 80, 90, 255]);
        assert_eq!(px(7, 3), [0, 0, 0, 255]); // the empty fourth tile
        let info = SheetInfo::new(&sheet, vec![0.5, 1.5, 2.5], Some(3.0), "sprite.jpg");
        assert_eq!(
            info.tiles[2],
            Tile {
                start: 2.5,
                end: 3.0,
                x: 0,
                y: 2,
                width: 4,
                height: 2
            }
        );
        let track = info.vtt;
        assert_eq!(
            track,
            "WEBVTT\n\n00:00:00.500 --> 00:00:01.500\nsprite.jpg#xywh=0,0,4,2\n\n00:00:01.500 --> 00:00:02.500\nsprite.jpg#xywh=4,0,4,2\n\n00:00:02.500 --> 00:00:03.000\nsprite.jpg#xywh=0,2,4,2\n"
        );
        assert_eq!(clock(3725.5), "01:02:05.500");

        // Past the budget: refused before any frame is asked for, nothing counted.
        let mut asked = 0;
        let mut budget = PixelBudget::new(39, "the test's");
        let refused = make_sheet(&times, 2, (4, 2), &mut budget, |t| {
            asked += 1;
            Ok::<_, ()>(pictures[t as usize].clone())
        });
        assert!(matches!(refused, Err(Failed::TooLarge(m)) if m.contains("limit of 39 pixels")));
        assert_eq!(
            (asked, budget.held()),
            (0, 32),
            "the sheet was counted, the frame in flight refused"
        );
        // Wider than 16384: invalid, before any frame.
        let refused = make_sheet(&times, 3, (8000, 2), &mut PixelBudget::new(u64::MAX, "none"), |_| {
            asked += 1;
            Ok::<_, ()>(pictures[0].clone())
        });
        assert!(matches!(refused, Err(Failed::Refused(m)) if m.contains("16384 a side")));
        assert_eq!(asked, 0);
        // A frame larger than its tile (an engine that broke the box): refused.
        let refused = make_sheet(&times, 2, (3, 2), &mut PixelBudget::new(1000, "the test's"), |t| {
            Ok::<_, ()>(pictures[t as usize].clone())
        });
        assert!(matches!(refused, Err(Failed::TooLarge(m)) if m.contains("larger than the 3x2")));
    }
}
