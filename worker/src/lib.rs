//! The browser side of the thumbnailer, compiled to wasm32 with wasm-bindgen. It runs inside a Web
//! Worker (www/thumbnailer-worker.js is its glue). It loads the demux-only engine first (containers
//! and parsers, no decoders): a still frame of a codec the browser decodes is demuxed there and
//! decoded by WebCodecs (webcodecs.rs). The whole engine (the mt build when the page is
//! cross-origin isolated, else st) is loaded only when needed: a codec WebCodecs refuses, a decoder
//! error, many frames. Both read the source (a File in place, or a URL in HTTP Range requests)
//! through source.rs, block by block as they ask; frames are encoded with OffscreenCanvas. Options, video descriptions and errors are the vocabulary crate's
//! (thumbnail-vocabulary), as on the server: `at: '10%'` means the same on both, an unknown option
//! is refused by both, and `probe` answers the JSON of POST /probe.

mod engine;
mod pixels;
mod source;
mod webcodecs;

use std::cell::RefCell;
use std::rc::Rc;

use engine::{js_message, Engine, Failure};
use js_sys::{Object, Promise, Reflect};
use source::Source;
use thumbnail_frames::animation::{animation_pictures, animation_times, make_gif, Animation};
use thumbnail_frames::series::series_times;
use thumbnail_frames::sprite::{image_name, make_sheet, sprite_times, SheetInfo};
use thumbnail_frames::webp::mux_animation;
use thumbnail_frames::{best_time, Picture, PICK_SIDE};
use thumbnail_vocabulary::{
    At, Format, FramesOptions, OptionValue, Seek, SpriteOptions, ThumbnailOptions, VideoInfo, DEFAULT_MAX_PIXELS,
};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, ImageData, ImageEncodeOptions, OffscreenCanvas, OffscreenCanvasRenderingContext2d};

/// Decoder threads of the mt engine (its pthread pool holds 4).
const MT_THREADS: u32 = 2;

/// The engines of one worker: the demux-only one, loaded at start, and the whole one, loaded at
/// the first job that needs it. Jobs run one at a time (a series of frames holds the engine between
/// frames, hence the shared cells).
struct Engines {
    /// Where thumbnail-engine-*.js are, ending in `/`.
    base: String,
    /// The whole engine's build ("mt" or "st"), its name in results, and its decoder threads.
    variant: &'static str,
    name: &'static str,
    threads: u32,
    demuxer: RefCell<Engine>,
    whole: RefCell<Option<Rc<RefCell<Engine>>>>,
    decoders: webcodecs::Decoders,
}

impl Engines {
    /// The whole engine, loaded now if it is not yet.
    async fn whole(&self) -> Result<Rc<RefCell<Engine>>, JsValue> {
        if let Some(engine) = self.whole.borrow().as_ref() {
            return Ok(engine.clone());
        }
        let module = engine::load(&self.base, self.variant).await.map_err(|e| {
            to_js(Failure {
                code: "engine_unavailable".into(),
                message: format!("the engine did not load: {}", js_message(&e)),
                fatal: true,
            })
        })?;
        let engine = Rc::new(RefCell::new(Engine::new(module, self.threads).map_err(to_js)?));
        *self.whole.borrow_mut() = Some(engine.clone());
        Ok(engine)
    }
}

#[wasm_bindgen]
pub struct ThumbnailWorker {
    engines: Rc<Engines>,
}

#[wasm_bindgen]
impl ThumbnailWorker {
    /// Loads the demux-only engine from `engine_base` (the URL of the folder holding
    /// thumbnail-engine-*.js); the whole engine loads when a job first needs it.
    pub async fn start(engine_base: String) -> Result<ThumbnailWorker, JsValue> {
        let scope: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
        let isolated = Reflect::get(&scope, &"crossOriginIsolated".into())
            .ok()
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        // The mt engine starts its threads as workers from its own URL, which only a same-origin page
        // may do; a cross-origin-isolated page of another origin gets the st engine.
        let same_origin = web_sys::Url::new(&engine_base)?.origin() == scope.location().origin();
        let (variant, name, threads) = if isolated && same_origin {
            ("mt", "browser-mt", MT_THREADS)
        } else {
            ("st", "browser-st", 1)
        };
        let base = format!("{}/", engine_base.trim_end_matches('/'));
        let demuxer = Engine::new(engine::load(&base, "demux").await?, 1).map_err(to_js)?;
        Ok(ThumbnailWorker {
            engines: Rc::new(Engines {
                base,
                variant,
                name,
                threads,
                demuxer: RefCell::new(demuxer),
                whole: RefCell::new(None),
                decoders: webcodecs::Decoders::default(),
            }),
        })
    }

    /// The whole engine's name, "browser-mt" or "browser-st" (a still frame the browser's own
    /// decoder made says "browser-webcodecs").
    #[wasm_bindgen(getter)]
    pub fn engine(&self) -> String {
        self.engines.name.into()
    }

    /// The video's [`VideoInfo`], as POST /probe answers it: `{ duration, fps, width, height,
    /// codedWidth, codedHeight, rotation, codec }` (width and height as shown). Read by the
    /// demux-only engine (no decoder needed); what it cannot read, by the whole engine.
    pub fn probe(&self, file: JsValue) -> Promise {
        let engines = self.engines.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let file = Source::from_js(&file).await.map_err(to_js)?;
            let info = match engines.demuxer.borrow_mut().probe(&file) {
                Ok(info) => info,
                Err(_) => engines.whole().await?.borrow_mut().probe(&file).map_err(to_js)?,
            };
            describe(&info)
        })
    }

    /// Makes the thumbnail: `options` as in the JS API ({ at, width, height, format, quality,
    /// seek, animated, ... }). Resolves to `{ blob, width, height, time, duration, engine }`. A
    /// still frame at a given time goes to WebCodecs first when `webcodecs` and the browser
    /// decodes the codec; anything it does not make, the whole engine makes.
    pub fn thumbnail(&self, file: JsValue, options: JsValue, webcodecs: bool) -> Result<Promise, JsValue> {
        let options = parse_options(&options)?;
        let engines = self.engines.clone();
        Ok(wasm_bindgen_futures::future_to_promise(async move {
            let file = Source::from_js(&file).await.map_err(to_js)?;
            if webcodecs && webcodecs::available() && !options.animated && options.at != At::Auto {
                if let Some(made) = via_webcodecs(&engines, &file, &options).await? {
                    return Ok(made);
                }
            }
            let engine = engines.whole().await?;
            let made = JsFuture::from(thumbnail_wasm(&engine, &file, options)?).await?;
            Reflect::set(&made, &"engine".into(), &engines.name.into())?;
            Ok(made)
        }))
    }
}

/// A still frame by the browser's own decoder: the demux-only engine reads the packets and says
/// the size; WebCodecs decodes. `None` when it cannot (no WebCodecs name for the codec, a config
/// the browser refuses, packets without timestamps, a decoder error): the whole engine then makes it.
async fn via_webcodecs(
    engines: &Engines,
    file: &Rc<Source>,
    options: &ThumbnailOptions,
) -> Result<Option<JsValue>, JsValue> {
    let read = {
        let mut demuxer = engines.demuxer.borrow_mut();
        let read = demuxer.open(file).and_then(|info| {
            let t = options.at.seconds(info.duration).unwrap_or(0.0);
            let config = thumbnail_engine::webcodecs::decoder_config(
                &info.codec,
                info.coded_width,
                info.coded_height,
                &demuxer.codec(),
            );
            let packets = match config {
                Some(_) => Some(demuxer.read_packets(t, options.seek)?),
                None => None,
            };
            Ok((info, config, packets))
        });
        if !matches!(read, Ok((_, Some(_), Some(_)))) {
            demuxer.close();
        }
        read
    };
    let (info, config, packets) = match read {
        Ok((info, Some(config), Some(packets))) => (info, config, packets),
        _ => return Ok(None),
    };
    // The demuxer stays open while the browser decodes: it says the frame's size after.
    let decoded = if engines.decoders.supported(&config).await {
        engines.decoders.decode(&config, &packets).await.ok()
    } else {
        None
    };
    let sized = decoded.map(|frame| {
        let (w, h) = webcodecs::visible_size(&frame);
        let size = engines
            .demuxer
            .borrow()
            .output_size(w, h, options.max_width, options.max_height);
        (frame, size)
    });
    engines.demuxer.borrow_mut().close();
    let (frame, (width, height)) = match sized {
        Some((frame, Ok(size))) => (frame, size),
        Some((frame, Err(_))) => {
            frame.close();
            return Ok(None);
        }
        None => return Ok(None),
    };
    let rgba = match webcodecs::draw(frame, width, height, info.rotation, &config).await {
        Ok(rgba) => rgba,
        Err(_) => return Ok(None), // its planes could not be read: the engine's decoders instead
    };
    let blob = encode_rgba(width, height, &rgba, options.format, options.quality).await?;
    let result = Object::new();
    Reflect::set(&result, &"blob".into(), &blob)?;
    Reflect::set(&result, &"width".into(), &width.into())?;
    Reflect::set(&result, &"height".into(), &height.into())?;
    Reflect::set(
        &result,
        &"time".into(),
        &packets.list[packets.wanted].time.max(0.0).into(),
    )?;
    Reflect::set(
        &result,
        &"duration".into(),
        &info.duration.map_or(JsValue::NULL, JsValue::from),
    )?;
    Reflect::set(&result, &"engine".into(), &"browser-webcodecs".into())?;
    Ok(Some(result.into()))
}

/// The thumbnail by the whole engine (its own decoders), as a promise of `{ blob, width, height,
/// time, duration }`.
fn thumbnail_wasm(engine: &RefCell<Engine>, file: &Rc<Source>, options: ThumbnailOptions) -> Result<Promise, JsValue> {
    {
        let mut engine = engine.borrow_mut();
        let made = engine.open(file).and_then(|info| {
            let t = match options.at.seconds(info.duration) {
                Some(t) => t,
                None => best_time(info.duration, |t| engine.next_picture(t, PICK_SIDE, PICK_SIDE))?,
            };
            let made = if options.animated {
                // An animation: the frames from t at the options' rate (as the server's), one GIF,
                // or WebP stills from the canvas in one animated WebP.
                let times = animation_times(t, options.duration, options.fps, info.duration);
                let (w, h) = (options.max_width, options.max_height);
                let next = |t| engine.next_picture(t, w, h);
                match options.format {
                    Format::Gif => Made::Gif(make_gif(&times, options.fps, options.looped, next)?),
                    _ => Made::WebpFrames(animation_pictures(&times, next)?),
                }
            } else {
                Made::Still(engine.frame(t, options.max_width, options.max_height, options.seek)?)
            };
            Ok((made, info.duration))
        });
        engine.close();
        drop(engine);
        let (made, duration) = made.map_err(to_js)?;
        let (format, quality, fps, looped) = (options.format, options.quality, options.fps, options.looped);
        Ok(wasm_bindgen_futures::future_to_promise(async move {
            let (blob, width, height, time) = match made {
                Made::WebpFrames(pictures) => {
                    let (width, height, time) = (pictures[0].width, pictures[0].height, pictures[0].time);
                    let mut stills = Vec::with_capacity(pictures.len());
                    for picture in &pictures {
                        let pixels = js_sys::Uint8ClampedArray::from(&picture.rgba[..]);
                        let still = encode_rgba(width, height, &pixels, Format::Webp, quality).await?;
                        let bytes = JsFuture::from(still.array_buffer()).await?;
                        stills.push(js_sys::Uint8Array::new(&bytes).to_vec());
                    }
                    let animation =
                        mux_animation(&stills, width, height, fps, looped).map_err(|message| invalid(&message))?;
                    (bytes_blob(&animation, format)?, width, height, time)
                }
                Made::Still(frame) => (
                    encode(&frame, format, quality).await?,
                    frame.width,
                    frame.height,
                    frame.time,
                ),
                Made::Gif(Animation {
                    width,
                    height,
                    time,
                    bytes,
                }) => (bytes_blob(&bytes, format)?, width, height, time),
            };
            let result = Object::new();
            Reflect::set(&result, &"blob".into(), &blob)?;
            Reflect::set(&result, &"width".into(), &width.into())?;
            Reflect::set(&result, &"height".into(), &height.into())?;
            Reflect::set(&result, &"time".into(), &time.into())?;
            Reflect::set(
                &result,
                &"duration".into(),
                &duration.map_or(JsValue::NULL, JsValue::from),
            )?;
            Ok(result.into())
        }))
    }
}

#[wasm_bindgen]
impl ThumbnailWorker {
    /// A contact sheet: `options` as in the JS API ({ count | every, columns, width, height,
    /// format, quality }). Resolves to `{ blob, columns, rows, tileWidth, tileHeight, times, vtt }`,
    /// the JSON of POST /sprite with the image as a Blob.
    pub fn sprite(&self, file: JsValue, options: JsValue) -> Result<Promise, JsValue> {
        let options = parse_sprite_options(&options)?;
        let engines = self.engines.clone();
        Ok(wasm_bindgen_futures::future_to_promise(async move {
            let file = Source::from_js(&file).await.map_err(to_js)?;
            let engine = engines.whole().await?;
            let made = {
                let mut engine = engine.borrow_mut();
                let made = engine.open(&file).and_then(|info| {
                    let times = sprite_times(info.duration, options.frames);
                    let (w, h) = (options.tile_width, options.tile_height);
                    let sheet = make_sheet(&times, options.columns, u64::from(DEFAULT_MAX_PIXELS), |t| {
                        engine.next_picture(t, w, h)
                    })?;
                    Ok((info.duration, times, sheet))
                });
                engine.close();
                made
            };
            let (duration, times, (sheet, rgba)) = made.map_err(to_js)?;
            let info = SheetInfo::new(&sheet, times, duration, &image_name(options.format.extension()));
            let (format, quality) = (options.format, options.quality);
            let pixels = js_sys::Uint8ClampedArray::from(&rgba[..]);
            let blob = encode_rgba(sheet.width(), sheet.height(), &pixels, format, quality).await?;
            let result = serde::Serialize::serialize(&info, &serde_wasm_bindgen::Serializer::json_compatible())?;
            Reflect::set(&result, &"blob".into(), &blob)?;
            Ok(result)
        }))
    }
}

#[wasm_bindgen]
impl ThumbnailWorker {
    /// A series of frames: `options` as in the JS API ({ times | count | every, width, height,
    /// seek, format, quality }). Each frame, `{ time, width, height, bitmap }` (an ImageBitmap) or
    /// `{ time, width, height, blob }` when a format is asked, goes to `emit`, whose promise this
    /// waits for before the next decode: `false` ends the series there. Resolves to `{ count,
    /// duration }` when the series ends.
    pub fn frames(&self, file: JsValue, options: JsValue, emit: js_sys::Function) -> Result<Promise, JsValue> {
        let options = parse_frames_options(&options)?;
        let engines = self.engines.clone();
        Ok(wasm_bindgen_futures::future_to_promise(async move {
            let file = Source::from_js(&file).await.map_err(to_js)?;
            let engine = engines.whole().await?;
            let opened = engine.borrow_mut().open(&file);
            let info = match opened {
                Ok(info) => info,
                Err(failure) => {
                    engine.borrow_mut().close();
                    return Err(to_js(failure));
                }
            };
            let made = series(&engine, &info, &options, &emit).await;
            engine.borrow_mut().close();
            let count = made?;
            let result = Object::new();
            Reflect::set(&result, &"count".into(), &count.into())?;
            Reflect::set(
                &result,
                &"duration".into(),
                &info.duration.map_or(JsValue::NULL, JsValue::from),
            )?;
            Ok(result.into())
        }))
    }
}

/// Makes the series' frames one at a time, each handed to `emit` and waited for; how many went.
async fn series(
    engine: &RefCell<Engine>,
    info: &VideoInfo,
    options: &FramesOptions,
    emit: &js_sys::Function,
) -> Result<u32, JsValue> {
    let (w, h) = (options.max_width, options.max_height);
    let mut count = 0;
    for t in series_times(info.duration, &options.series) {
        // The engine is borrowed for the decode only, never across a wait.
        let made = match options.seek {
            Seek::Exact => engine.borrow_mut().next_frame(t, w, h),
            Seek::Keyframe => engine.borrow_mut().frame(t, w, h, Seek::Keyframe),
        };
        let frame = made.map_err(to_js)?;
        let out = Object::new();
        Reflect::set(&out, &"time".into(), &frame.time.into())?;
        Reflect::set(&out, &"width".into(), &frame.width.into())?;
        Reflect::set(&out, &"height".into(), &frame.height.into())?;
        match options.format {
            Some(format) => {
                let blob = encode(&frame, format, options.quality).await?;
                Reflect::set(&out, &"blob".into(), &blob)?;
            }
            None => {
                let canvas = OffscreenCanvas::new(frame.width, frame.height)?;
                put_pixels(&canvas, frame.width, frame.height, &frame.rgba)?;
                let bitmap: JsValue = canvas.transfer_to_image_bitmap()?.into();
                Reflect::set(&out, &"bitmap".into(), &bitmap)?;
            }
        }
        count += 1;
        let more = JsFuture::from(Promise::from(emit.call1(&JsValue::NULL, &out)?)).await?;
        if more.is_falsy() {
            break;
        }
    }
    Ok(count)
}

/// What a thumbnail job made, before it is a Blob: a still (encoded by the browser's canvas), a GIF
/// (encoded in Rust, as on the server), or the frames of an animated WebP (each encoded by the
/// canvas, then put together in Rust).
enum Made {
    Still(engine::Frame),
    Gif(Animation),
    WebpFrames(Vec<Picture>),
}

/// Encoded bytes as a Blob of the format's type.
fn bytes_blob(bytes: &[u8], format: Format) -> Result<Blob, JsValue> {
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(format.mime());
    Blob::new_with_u8_array_sequence_and_options(&parts, &options)
}

/// A failure as the JS side expects it: `{ code, message, fatal }`.
fn to_js(f: Failure) -> JsValue {
    let error = Object::new();
    let _ = Reflect::set(&error, &"code".into(), &f.code.into());
    let _ = Reflect::set(&error, &"message".into(), &f.message.into());
    let _ = Reflect::set(&error, &"fatal".into(), &f.fatal.into());
    error.into()
}

fn describe(info: &VideoInfo) -> Result<JsValue, JsValue> {
    // Plain objects (not Maps), null for a missing number: JSON.stringify gives POST /probe's text.
    let serializer = serde_wasm_bindgen::Serializer::json_compatible();
    serde::Serialize::serialize(info, &serializer).map_err(JsValue::from)
}

/// Reads the JS options object with the shared vocabulary: numbers stay numbers, text is parsed as
/// the server parses its query string, and an unknown name is refused as the server refuses it.
fn parse_options(options: &JsValue) -> Result<ThumbnailOptions, JsValue> {
    let entries = entries(options)?;
    ThumbnailOptions::from_values(values(&entries)).map_err(|e| to_js(e.into()))
}

/// The same for a series of frames' options.
fn parse_frames_options(options: &JsValue) -> Result<FramesOptions, JsValue> {
    let entries = entries(options)?;
    FramesOptions::from_values(values(&entries)).map_err(|e| to_js(e.into()))
}

/// The same for a contact sheet's options.
fn parse_sprite_options(options: &JsValue) -> Result<SpriteOptions, JsValue> {
    let entries = entries(options)?;
    SpriteOptions::from_values(values(&entries)).map_err(|e| to_js(e.into()))
}

/// The given (not undefined or null) entries of a JS options object.
fn entries(options: &JsValue) -> Result<Vec<(String, Value)>, JsValue> {
    let mut entries = Vec::new();
    if options.is_undefined() || options.is_null() {
        return Ok(entries);
    }
    if !options.is_object() {
        return Err(invalid("the options must be an object"));
    }
    for entry in Object::entries(options.unchecked_ref()).iter() {
        let entry: js_sys::Array = entry.unchecked_into();
        let (name, value) = (entry.get(0).as_string().unwrap_or_default(), entry.get(1));
        if value.is_undefined() || value.is_null() {
            continue;
        }
        let value = match (value.as_f64(), value.as_string(), value.as_bool()) {
            (Some(n), _, _) => Value::Number(n),
            (_, Some(text), _) => Value::Text(text),
            // Yes or no (`animated: true`, `loop: false`) as the query says it.
            (_, _, Some(flag)) => Value::Text(flag.to_string()),
            // A list (`times: [1, 2.5]`) as the server's query has it: "1,2.5".
            _ if js_sys::Array::is_array(&value) => Value::Text(js_sys::Array::from(&value).join(",").into()),
            _ => {
                return Err(invalid(&format!(
                    "`{name}` must be a number, a string, true or false, or a list"
                )))
            }
        };
        entries.push((name, value));
    }
    Ok(entries)
}

fn values(entries: &[(String, Value)]) -> impl Iterator<Item = (&str, OptionValue<'_>)> {
    entries.iter().map(|(name, value)| {
        let value = match value {
            Value::Number(n) => OptionValue::Number(*n),
            Value::Text(t) => OptionValue::Text(t),
        };
        (name.as_str(), value)
    })
}

/// An option's value, owned while the entries are read.
enum Value {
    Number(f64),
    Text(String),
}

fn invalid(message: &str) -> JsValue {
    to_js(Failure {
        code: "invalid_argument".into(),
        message: message.into(),
        fatal: false,
    })
}

/// RGBA to an image file with the browser's own encoders.
async fn encode(frame: &engine::Frame, format: Format, quality: u8) -> Result<Blob, JsValue> {
    encode_rgba(frame.width, frame.height, &frame.rgba, format, quality).await
}

async fn encode_rgba(
    width: u32,
    height: u32,
    rgba: &js_sys::Uint8ClampedArray,
    format: Format,
    quality: u8,
) -> Result<Blob, JsValue> {
    let canvas = OffscreenCanvas::new(width, height)?;
    put_pixels(&canvas, width, height, rgba)?;
    let options = ImageEncodeOptions::new();
    options.set_type(format.mime());
    options.set_quality(quality as f64 / 100.0);
    let blob = JsFuture::from(canvas.convert_to_blob_with_options(&options)?).await?;
    Ok(blob.unchecked_into())
}

/// Draws RGBA on a canvas of its size.
fn put_pixels(
    canvas: &OffscreenCanvas,
    width: u32,
    height: u32,
    rgba: &js_sys::Uint8ClampedArray,
) -> Result<(), JsValue> {
    let pixels = ImageData::new_with_js_u8_clamped_array_and_sh(rgba, width, height)?;
    context_2d(canvas)?.put_image_data(&pixels, 0, 0)
}

/// A canvas's 2d context.
fn context_2d(canvas: &OffscreenCanvas) -> Result<OffscreenCanvasRenderingContext2d, JsValue> {
    canvas
        .get_context("2d")?
        .ok_or_else(|| JsValue::from_str("no 2d context"))?
        .dyn_into()
        .map_err(JsValue::from)
}
