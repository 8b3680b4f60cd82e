//! The browser side of the thumbnailer, compiled to wasm32 with wasm-bindgen. It runs inside a Web
//! Worker (www/thumbnailer-worker.js is its glue). It loads the demux-only engine first (containers
//! and parsers, no decoders): the frames of a codec the browser decodes (a still, `at: 'auto'`'s
//! candidates, a sheet, a series, an animation) are demuxed there and decoded by WebCodecs
//! (session.rs). The whole engine (the mt build where the browser can run it, else st) is loaded
//! only when needed: a codec WebCodecs refuses, a decoder error, raw streams without
//! timestamps. Both read the source (a File in place, or a URL in HTTP Range requests) through
//! source.rs, block by block as they ask; frames are encoded as the server encodes them (PNG, GIF:
//! the frames crate) or with OffscreenCanvas (JPEG, WebP). Options, video
//! descriptions and errors are the vocabulary crate's
//! (thumbnail-vocabulary), as on the server: `at: '10%'` means the same on both, an unknown option
//! is refused by both, and `probe` answers the JSON of POST /probe.

mod engine;
mod pixels;
mod session;
mod source;
mod webcodecs;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use engine::{js_message, Engine, Failure};
use js_sys::{Object, Promise, Reflect};
use session::Session;
use source::Source;
use thumbnail_frames::animation::{animation_pictures, animation_times, make_gif, Animation};
use thumbnail_frames::budget::PixelBudget;
use thumbnail_frames::fit::Sizing;
use thumbnail_frames::placeholder::{Placeholder, PlaceholderAnswer};
use thumbnail_frames::series::series_times;
use thumbnail_frames::sprite::{image_name, make_sheet, sheet_seek, sprite_times, SheetInfo};
use thumbnail_frames::webp::mux_animation;
use thumbnail_frames::{best_time, Picture, PICK_SIDE};
use thumbnail_vocabulary::{
    ErrorKind, Format, FramesOptions, OptionValue, Seek, SpriteOptions, ThumbnailOptions, VideoInfo, DEFAULT_MAX_PIXELS,
};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, ImageData, ImageEncodeOptions, OffscreenCanvas, OffscreenCanvasRenderingContext2d};

/// A build of the whole engine: its file's name, its name in results, and its decoder threads.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Variant {
    build: &'static str,
    name: &'static str,
    threads: u32,
}

/// The multi-threaded build (decoder threads: 2 of its pthread pool's 4), where the browser can
/// run it; the single-threaded one everywhere else, and when the mt build fails to start.
const MT: Variant = Variant {
    build: "mt",
    name: "browser-mt",
    threads: 2,
};
const ST: Variant = Variant {
    build: "st",
    name: "browser-st",
    threads: 1,
};

/// The engines of one worker: the demux-only one, loaded at start, and the whole one, loaded at
/// the first job that needs it. Jobs run one at a time (a series of frames holds the engine between
/// frames, hence the shared cells).
struct Engines {
    /// Where the engine's files are.
    files: engine::Files,
    /// The whole engine's build: mt where the browser can run it, until it fails to start.
    variant: Cell<Variant>,
    demuxer: RefCell<Engine>,
    whole: RefCell<Option<Rc<RefCell<Engine>>>>,
    decoders: webcodecs::Decoders,
}

impl Engines {
    /// The whole engine's name in results ("browser-mt" or "browser-st").
    fn name(&self) -> &'static str {
        self.variant.get().name
    }

    /// The whole engine, loaded now if it is not yet: the mt build where the browser can run it,
    /// the st build if that fails to start (in the same job; this worker keeps st from then on).
    async fn whole(&self) -> Result<Rc<RefCell<Engine>>, JsValue> {
        if let Some(engine) = self.whole.borrow().as_ref() {
            return Ok(engine.clone());
        }
        let engine = loop {
            let variant = self.variant.get();
            let loaded = match engine::load(&self.files, variant.build, engine::Ahead::default()).await {
                Ok(module) => Engine::new(module, variant.threads).map_err(to_js),
                Err(e) => Err(e),
            };
            match loaded {
                Ok(engine) => break engine,
                Err(_) if variant == MT => self.variant.set(ST),
                Err(e) => {
                    return Err(to_js(Failure {
                        code: "engine_unavailable".into(),
                        message: format!("the engine did not load: {}", js_message(&e)),
                        fatal: true,
                    }))
                }
            }
        };
        let engine = Rc::new(RefCell::new(engine));
        *self.whole.borrow_mut() = Some(engine.clone());
        Ok(engine)
    }
}

/// Whether this worker can run the mt engine, asked of the browser rather than inferred from
/// `crossOriginIsolated`: a shared `WebAssembly.Memory` can be made and is a `SharedArrayBuffer`
/// (WebKitGTK is isolated but has neither), the page is isolated (so that the memory may be
/// posted to the engine's threads), and the mt engine comes from this worker's origin (its threads
/// are workers started from its URLs, which only a same-origin page may start).
fn threads_available(scope: &web_sys::WorkerGlobalScope, files: &engine::Files) -> bool {
    let isolated = Reflect::get(scope, &"crossOriginIsolated".into())
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    let origin = scope.location().origin();
    let same_origin = ["thumbnail-engine-mt.js", "thumbnail-engine-mt.worker.js"]
        .iter()
        .all(|name| {
            files
                .url(name)
                .is_ok_and(|url| web_sys::Url::new(url).is_ok_and(|url| url.origin() == origin))
        });
    isolated && same_origin && shared_memory_works(scope)
}

/// Makes a one-page shared wasm memory and checks that its buffer is a `SharedArrayBuffer`.
fn shared_memory_works(scope: &web_sys::WorkerGlobalScope) -> bool {
    let Ok(shared_array_buffer) = Reflect::get(scope, &"SharedArrayBuffer".into()) else {
        return false;
    };
    if !shared_array_buffer.is_function() {
        return false;
    }
    let descriptor = Object::new();
    for (key, value) in [
        ("initial", JsValue::from(1)),
        ("maximum", 1.into()),
        ("shared", true.into()),
    ] {
        if Reflect::set(&descriptor, &key.into(), &value).is_err() {
            return false;
        }
    }
    js_sys::WebAssembly::Memory::new(&descriptor).is_ok_and(|memory| {
        Reflect::get(&memory.buffer(), &"constructor".into()).is_ok_and(|made_by| made_by == shared_array_buffer)
    })
}

/// What a promise the glue handed over resolved to (None: not a promise, or it failed).
async fn awaited(promise: JsValue) -> Option<JsValue> {
    JsFuture::from(promise.dyn_into::<Promise>().ok()?).await.ok()
}

#[wasm_bindgen]
pub struct ThumbnailWorker {
    engines: Rc<Engines>,
}

#[wasm_bindgen]
impl ThumbnailWorker {
    /// Loads the demux-only engine from `engine_files` (`{ name: url }`: each file of engine/dist
    /// by its name, where the page's module found it), from what the glue fetched while this worker
    /// started when it has: `demux_wasm` a promise of its wasm compiled, `demux_script` of its
    /// script as a Blob (either may give null); the whole engine loads when a job first needs it.
    pub async fn start(
        engine_files: Object,
        demux_wasm: JsValue,
        demux_script: JsValue,
    ) -> Result<ThumbnailWorker, JsValue> {
        // A panic reaches the job as an exception that names it (the glue makes it engine_crashed,
        // which ends this worker), not as a bare "unreachable".
        std::panic::set_hook(Box::new(|info| wasm_bindgen::throw_str(&info.to_string())));
        let scope: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
        let files = engine::Files::from_object(&engine_files);
        let variant = if threads_available(&scope, &files) { MT } else { ST };
        let ahead = engine::Ahead {
            script: awaited(demux_script).await.and_then(|blob| blob.dyn_into().ok()),
            wasm: awaited(demux_wasm).await.and_then(|module| module.dyn_into().ok()),
        };
        let demuxer = Engine::new(engine::load(&files, "demux", ahead).await?, 1).map_err(to_js)?;
        Ok(ThumbnailWorker {
            engines: Rc::new(Engines {
                files,
                variant: Cell::new(variant),
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
        self.engines.name().into()
    }

    /// The video's [`VideoInfo`], as POST /probe answers it: `{ duration, fps, width, height,
    /// codedWidth, codedHeight, rotation, codec, hdr, colorPrimaries, colorTransfer, colorMatrix }`
    /// (width and height as shown). Read by the
    /// demux-only engine (no decoder needed); what it cannot read, by the whole engine.
    pub fn probe(&self, file: JsValue) -> Promise {
        let engines = self.engines.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let file = Source::from_js(&file).await.map_err(to_js)?;
            let read = engines.demuxer.borrow_mut().probe(&file);
            let info = match read {
                Ok(info) => info,
                Err(_) => engines.whole().await?.borrow_mut().probe(&file).map_err(to_js)?,
            };
            describe(&info)
        })
    }

    /// Makes the thumbnail: `options` as in the JS API ({ at, width, height, format, quality,
    /// seek, animated, ... }). Resolves to `{ blob, width, height, time, duration, engine }`. Its
    /// frames come from WebCodecs first when `webcodecs` and the browser decodes the codec;
    /// anything that path does not make, the whole engine makes.
    pub fn thumbnail(&self, file: JsValue, options: JsValue, webcodecs: bool) -> Result<Promise, JsValue> {
        let options = parse_options(&options)?;
        let engines = self.engines.clone();
        Ok(wasm_bindgen_futures::future_to_promise(async move {
            let file = Source::from_js(&file).await.map_err(to_js)?;
            let by_browser = match Session::start(&engines, &file, webcodecs, options.hdr).await {
                Some(session) => thumbnail_by(&session, &options).await,
                None => None,
            };
            let (made, duration, engine) = match by_browser {
                Some(made) => {
                    let (made, duration) = made.map_err(to_js)?;
                    (made, duration, "browser-webcodecs")
                }
                None => {
                    let engine = engines.whole().await?;
                    let (made, duration) = thumbnail_wasm(&engine, &file, &options).map_err(to_js)?;
                    (made, duration, engines.name())
                }
            };
            finish(made, &options, duration, engine).await
        }))
    }
}

/// The thumbnail's frames by the browser's own decoder (`None`: this path cannot make them; an
/// error: what was asked cannot be made, whoever decodes).
async fn thumbnail_by(session: &Session, options: &ThumbnailOptions) -> Option<Result<(Made, Option<f64>), Failure>> {
    let duration = session.info.duration;
    let t = match options.at.seconds(duration) {
        Some(t) => t,
        None => best_time_by(session).await?,
    };
    let fit = (options.max_width, options.max_height);
    let display = (session.info.width, session.info.height);
    let made = if options.animated {
        let times = animation_times(t, options.duration, options.fps, duration);
        let sizing = match Sizing::series(options.fitting, fit, display, |(w, h)| session.output_size(w, h)) {
            Ok(sizing) => sizing,
            Err(failure) => return Some(Err(failure)),
        };
        let size = sizing.size();
        // The browser's frames are all made before the animation takes them: counted first.
        let mut budget = browser_budget();
        let held = budget.reserve_pictures(times.len(), size, || {
            format!("an animation of {} frames of {}x{}", times.len(), size.0, size.1)
        });
        if let Err(refused) = held {
            return Some(Err(refused.into()));
        }
        let pictures = session.pictures(&times, sizing.engine_box(), Seek::Exact).await?;
        let pictures = pictures.into_iter().map(|p| sizing.apply(p)).collect();
        // Handed over to the animation, which counts them again with its encoder's work.
        budget.release(budget.held());
        animation(&times, size, &mut budget, options, served(pictures))
    } else {
        let sizing = Sizing::still(options.fitting, fit, display);
        let picture = session.pictures(&[t], sizing.engine_box(), options.seek).await?.pop()?;
        Ok(Made::Still(sizing.apply(picture)))
    };
    Some(made.map(|made| (made, duration)))
}

/// The budget of a job's pixels in the browser (see `thumbnail_frames::budget`): what fits the
/// worker's wasm memory with room to spare, the server's default `--max-pixels`.
fn browser_budget() -> PixelBudget {
    PixelBudget::new(u64::from(DEFAULT_MAX_PIXELS), "the browser's limit")
}

/// Pictures made beforehand, handed in their order to a loop that asks for them time by time.
fn served(pictures: Vec<Picture>) -> impl FnMut(f64) -> Result<Picture, Failure> {
    let mut pictures = pictures.into_iter();
    move |_| {
        pictures
            .next()
            .ok_or_else(|| thumbnail_vocabulary::Error::new(ErrorKind::Corrupt, "a frame is missing").into())
    }
}

/// `at: 'auto'` by the browser's decoder: the candidate frames a window at a time, as
/// [`best_time`] asks for them.
async fn best_time_by(session: &Session) -> Option<f64> {
    let duration = session.info.duration;
    let windows = thumbnail_frames::candidate_windows(duration);
    let mut made: Vec<(f64, Picture)> = Vec::new();
    loop {
        let served = best_time(duration, |t| {
            made.iter()
                .find(|(asked, _)| *asked == t)
                .map(|(_, p)| p.clone())
                .ok_or(t)
        });
        let missing = match served {
            Ok(t) => return Some(t),
            Err(missing) => missing,
        };
        let window = windows.iter().find(|w| w.contains(&missing))?;
        if made.iter().any(|(asked, _)| window.contains(asked)) {
            return None; // made already: cannot happen, but never loop
        }
        let pictures = session.pictures(window, (PICK_SIDE, PICK_SIDE), Seek::Exact).await?;
        made.extend(window.iter().copied().zip(pictures));
    }
}

/// The thumbnail's frames by the whole engine (its own decoders).
fn thumbnail_wasm(
    engine: &RefCell<Engine>,
    file: &Rc<Source>,
    options: &ThumbnailOptions,
) -> Result<(Made, Option<f64>), Failure> {
    let mut engine = engine.borrow_mut();
    let made = engine.open(file, options.hdr).and_then(|info| {
        let t = match options.at.seconds(info.duration) {
            Some(t) => t,
            None => best_time(info.duration, |t| engine.next_frame(t, PICK_SIDE, PICK_SIDE))?,
        };
        let fit = (options.max_width, options.max_height);
        let display = (info.width, info.height);
        let made = if options.animated {
            let times = animation_times(t, options.duration, options.fps, info.duration);
            let sizing = Sizing::series(options.fitting, fit, display, |(w, h)| {
                engine.video_output_size(&info, w, h)
            })?;
            let (w, h) = sizing.engine_box();
            animation(&times, sizing.size(), &mut browser_budget(), options, |t| {
                engine.next_frame(t, w, h).map(|p| sizing.apply(p))
            })?
        } else {
            let sizing = Sizing::still(options.fitting, fit, display);
            let (w, h) = sizing.engine_box();
            Made::Still(sizing.apply(engine.frame(t, w, h, options.seek)?))
        };
        Ok((made, info.duration))
    });
    engine.close();
    made
}

/// An animation of the frames at `times` (the options' rate, as the server's) in the box `size`:
/// one GIF, or WebP stills from the canvas put into one animated WebP.
fn animation(
    times: &[f64],
    size: (u32, u32),
    budget: &mut PixelBudget,
    options: &ThumbnailOptions,
    next: impl FnMut(f64) -> Result<Picture, Failure>,
) -> Result<Made, Failure> {
    Ok(match options.format {
        Format::Gif => Made::Gif(make_gif(times, size, options.fps, options.looped, budget, next)?),
        _ => Made::WebpFrames(animation_pictures(times, size, budget, next)?),
    })
}

/// What a job made, encoded: `{ blob, width, height, time, duration, engine }`, and for a still
/// its placeholder (`thumbhash`, `averageColor`), as the server makes it.
async fn finish(
    made: Made,
    options: &ThumbnailOptions,
    duration: Option<f64>,
    engine: &str,
) -> Result<JsValue, JsValue> {
    let (format, quality) = (options.format, options.quality);
    let placeholder = match &made {
        Made::Still(picture) => Some(Placeholder::of(picture.width, picture.height, &picture.rgba)),
        _ => None,
    };
    let (blob, width, height, time) = match made {
        Made::WebpFrames(pictures) => {
            let (width, height, time) = (pictures[0].width, pictures[0].height, pictures[0].time);
            let mut stills = Vec::with_capacity(pictures.len());
            for picture in &pictures {
                let still = encode_rgba(width, height, &picture.rgba, Format::Webp, quality).await?;
                let bytes = JsFuture::from(still.array_buffer()).await?;
                stills.push(js_sys::Uint8Array::new(&bytes).to_vec());
            }
            let animation = mux_animation(&stills, width, height, options.fps, options.looped)
                .map_err(|message| invalid(&message))?;
            (bytes_blob(&animation, format)?, width, height, time)
        }
        // No image: the placeholder's JSON, as the server's body.
        Made::Still(picture) if format == Format::Thumbhash => (
            bytes_blob(
                &PlaceholderAnswer::json(picture.width, picture.height, picture.time, &picture.rgba),
                format,
            )?,
            picture.width,
            picture.height,
            picture.time,
        ),
        Made::Still(picture) => (
            encode_rgba(picture.width, picture.height, &picture.rgba, format, quality).await?,
            picture.width,
            picture.height,
            picture.time,
        ),
        Made::Gif(Animation {
            width,
            height,
            time,
            bytes,
        }) => (bytes_blob(&bytes, format)?, width, height, time),
    };
    let result = fields(&[
        ("blob", blob.into()),
        ("width", width.into()),
        ("height", height.into()),
        ("time", time.into()),
        ("duration", seconds_or_null(duration)),
        ("engine", engine.into()),
    ])?;
    if let Some(placeholder) = placeholder {
        Reflect::set(&result, &"thumbhash".into(), &placeholder.thumbhash.into())?;
        Reflect::set(&result, &"averageColor".into(), &placeholder.average_color.into())?;
    }
    Ok(result.into())
}

/// A plain object of these fields.
fn fields(fields: &[(&str, JsValue)]) -> Result<Object, JsValue> {
    let object = Object::new();
    for (name, value) in fields {
        Reflect::set(&object, &(*name).into(), value)?;
    }
    Ok(object)
}

/// A duration as results give it: seconds, or null when the video does not say.
fn seconds_or_null(duration: Option<f64>) -> JsValue {
    duration.map_or(JsValue::NULL, JsValue::from)
}

#[wasm_bindgen]
impl ThumbnailWorker {
    /// A contact sheet: `options` as in the JS API ({ count | every, columns, width, height,
    /// format, quality }). Resolves to `{ blob, columns, rows, tileWidth, tileHeight, times, vtt,
    /// engine }`, the JSON of POST /sprite with the image as a Blob. Its frames as a thumbnail's.
    pub fn sprite(&self, file: JsValue, options: JsValue, webcodecs: bool) -> Result<Promise, JsValue> {
        let options = parse_sprite_options(&options)?;
        let engines = self.engines.clone();
        Ok(wasm_bindgen_futures::future_to_promise(async move {
            let file = Source::from_js(&file).await.map_err(to_js)?;
            let fit = (options.tile_width, options.tile_height);
            let sheet = |duration,
                         tile: (u32, u32),
                         budget: &mut PixelBudget,
                         next: &mut dyn FnMut(f64) -> Result<Picture, Failure>| {
                let times = sprite_times(duration, options.frames);
                let sheet = make_sheet(&times, options.columns, tile, budget, next)?;
                Ok::<_, Failure>((duration, times, sheet))
            };
            let by_browser = match Session::start(&engines, &file, webcodecs, options.hdr).await {
                Some(session) => {
                    let times = sprite_times(session.info.duration, options.frames);
                    let mut budget = browser_budget();
                    // The browser's frames are all made before the sheet takes them: counted first.
                    let display = (session.info.width, session.info.height);
                    let counted = Sizing::series(options.fitting, fit, display, |(w, h)| session.output_size(w, h))
                        .and_then(|sizing| {
                            let tile = sizing.size();
                            let what = || format!("{} frames of {}x{}", times.len(), tile.0, tile.1);
                            budget.reserve_pictures(times.len(), tile, what)?;
                            Ok(sizing)
                        });
                    match counted {
                        Ok(sizing) => {
                            let seek = sheet_seek(options.seek, &times, |t| session.keyframe_before(t));
                            session
                                .pictures(&times, sizing.engine_box(), seek)
                                .await
                                .map(|pictures| {
                                    let pictures = pictures.into_iter().map(|p| sizing.apply(p)).collect();
                                    sheet(session.info.duration, sizing.size(), &mut budget, &mut served(pictures))
                                })
                        }
                        Err(refused) => Some(Err(refused)),
                    }
                }
                None => None,
            };
            let (made, engine) = match by_browser {
                Some(made) => (made, "browser-webcodecs"),
                None => {
                    let engine = engines.whole().await?;
                    let mut engine = engine.borrow_mut();
                    let made = engine.open(&file, options.hdr).and_then(|info| {
                        let display = (info.width, info.height);
                        let sizing = Sizing::series(options.fitting, fit, display, |(w, h)| {
                            engine.video_output_size(&info, w, h)
                        })?;
                        let (w, h) = sizing.engine_box();
                        let times = sprite_times(info.duration, options.frames);
                        let seek = sheet_seek(options.seek, &times, |t| {
                            engine.read_packets(t, Seek::Keyframe).ok()?.wanted_time()
                        });
                        let next = &mut |t| {
                            let picture = match seek {
                                Seek::Keyframe => engine.frame(t, w, h, Seek::Keyframe),
                                Seek::Exact => engine.next_frame(t, w, h),
                            };
                            picture.map(|p| sizing.apply(p))
                        };
                        sheet(info.duration, sizing.size(), &mut browser_budget(), next)
                    });
                    engine.close();
                    (made, engines.name())
                }
            };
            let (duration, times, (sheet, rgba)) = made.map_err(to_js)?;
            let info = SheetInfo::new(&sheet, times, duration, &image_name(options.format.extension()));
            let (format, quality) = (options.format, options.quality);
            let blob = encode_rgba(sheet.width(), sheet.height(), &rgba, format, quality).await?;
            let result = serde::Serialize::serialize(&info, &serde_wasm_bindgen::Serializer::json_compatible())?;
            Reflect::set(&result, &"blob".into(), &blob)?;
            Reflect::set(&result, &"engine".into(), &engine.into())?;
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
    /// duration, engine }` when the series ends. The frames come from WebCodecs a few at a time
    /// (as a thumbnail's), and from the whole engine from the first the browser cannot make on.
    pub fn frames(
        &self,
        file: JsValue,
        options: JsValue,
        emit: js_sys::Function,
        webcodecs: bool,
    ) -> Result<Promise, JsValue> {
        let options = parse_frames_options(&options)?;
        let engines = self.engines.clone();
        Ok(wasm_bindgen_futures::future_to_promise(async move {
            let file = Source::from_js(&file).await.map_err(to_js)?;
            let fit = (options.max_width, options.max_height);
            // The times the whole engine is left to make: all (None), or from where WebCodecs stopped.
            let mut left: Option<Vec<f64>> = None;
            let mut count = 0;
            if let Some(session) = Session::start(&engines, &file, webcodecs, options.hdr).await {
                let duration = session.info.duration;
                let times = series_times(duration, &options.series);
                let display = (session.info.width, session.info.height);
                let sizing =
                    Sizing::series(options.fitting, fit, display, |(w, h)| session.output_size(w, h)).map_err(to_js)?;
                let size = sizing.size();
                // A few frames at a time (no more than 32 MP of them wait to be taken), each
                // counted before it is made, in the box of the video's frames.
                let chunk = ((32u64 << 20) / (u64::from(size.0) * u64::from(size.1)))
                    .clamp(1, session::MAX_TAKEN as u64) as usize;
                let mut budget = browser_budget();
                for (index, part) in times.chunks(chunk).enumerate() {
                    let what = || format!("{} frames of {}x{}", part.len(), size.0, size.1);
                    budget
                        .reserve_pictures::<Failure>(part.len(), size, what)
                        .map_err(|f| to_js(f.into()))?;
                    let Some(pictures) = session.pictures(part, sizing.engine_box(), options.seek).await else {
                        left = Some(times[index * chunk..].to_vec());
                        break;
                    };
                    for picture in pictures {
                        let picture = sizing.apply(picture);
                        count += 1;
                        let made = (picture.time, picture.width, picture.height, "browser-webcodecs");
                        if !emit_frame(made, &picture.rgba, &options, &emit).await? {
                            return series_result(count, duration, "browser-webcodecs");
                        }
                    }
                    budget.release(budget.held()); // the chunk was handed on, one by one
                }
                if left.is_none() {
                    return series_result(count, duration, "browser-webcodecs");
                }
            }
            let engine = engines.whole().await?;
            let opened = engine.borrow_mut().open(&file, options.hdr);
            let info = match opened {
                Ok(info) => info,
                Err(failure) => {
                    engine.borrow_mut().close();
                    return Err(to_js(failure));
                }
            };
            let times = left.unwrap_or_else(|| series_times(info.duration, &options.series));
            let made = series(&engine, &info, engines.name(), &times, &options, &emit).await;
            engine.borrow_mut().close();
            series_result(count + made?, info.duration, engines.name())
        }))
    }
}

/// What a series resolves to when it ends: `{ count, duration, engine }`.
fn series_result(count: u32, duration: Option<f64>, engine: &str) -> Result<JsValue, JsValue> {
    let result = fields(&[
        ("count", count.into()),
        ("duration", seconds_or_null(duration)),
        ("engine", engine.into()),
    ])?;
    Ok(result.into())
}

/// The whole engine's frames of a series at `times`, one at a time, each handed to `emit` and
/// waited for; how many went.
async fn series(
    engine: &RefCell<Engine>,
    info: &VideoInfo,
    name: &str,
    times: &[f64],
    options: &FramesOptions,
    emit: &js_sys::Function,
) -> Result<u32, JsValue> {
    let fit = (options.max_width, options.max_height);
    let sizing = Sizing::series(options.fitting, fit, (info.width, info.height), |(w, h)| {
        engine.borrow().video_output_size(info, w, h)
    })
    .map_err(to_js)?;
    let (w, h) = sizing.engine_box();
    let mut count = 0;
    for &t in times {
        // The engine is borrowed for the decode only, never across a wait; one frame at a time,
        // in the box of the video's frames.
        let made = match options.seek {
            Seek::Exact => engine.borrow_mut().next_frame(t, w, h),
            Seek::Keyframe => engine.borrow_mut().frame(t, w, h, Seek::Keyframe),
        };
        let frame = sizing.apply(made.map_err(to_js)?);
        count += 1;
        if !emit_frame(
            (frame.time, frame.width, frame.height, name),
            &frame.rgba,
            options,
            emit,
        )
        .await?
        {
            break;
        }
    }
    Ok(count)
}

/// Hands one frame of a series to `emit` (`{ time, width, height, engine, bitmap | blob }`: its
/// time, size and the path that made it) and waits: whether to go on.
async fn emit_frame(
    (time, width, height, engine): (f64, u32, u32, &str),
    rgba: &[u8],
    options: &FramesOptions,
    emit: &js_sys::Function,
) -> Result<bool, JsValue> {
    let image = match options.format {
        Some(format) => (
            "blob",
            encode_rgba(width, height, rgba, format, options.quality).await?.into(),
        ),
        None => {
            let canvas = OffscreenCanvas::new(width, height)?;
            put_pixels(&canvas, width, height, rgba)?;
            ("bitmap", canvas.transfer_to_image_bitmap()?.into())
        }
    };
    let out = fields(&[
        ("time", time.into()),
        ("width", width.into()),
        ("height", height.into()),
        ("engine", engine.into()),
        image,
    ])?;
    let more = JsFuture::from(Promise::from(emit.call1(&JsValue::NULL, &out)?)).await?;
    Ok(more.is_truthy())
}

/// What a thumbnail job made, before it is a Blob: a still (a PNG encoded in Rust as on the
/// server, JPEG and WebP by the browser's canvas), a GIF (encoded in Rust, as on the server), or
/// the frames of an animated WebP (each encoded by the canvas, then put together in Rust).
enum Made {
    Still(Picture),
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

/// RGBA to an image file: PNG as the server encodes it (the frames crate's encoder), JPEG and
/// WebP with the browser's own encoders.
async fn encode_rgba(width: u32, height: u32, rgba: &[u8], format: Format, quality: u8) -> Result<Blob, JsValue> {
    if format == Format::Png {
        let png = thumbnail_frames::png::encode(rgba, width, height).map_err(|e| JsValue::from_str(&e))?;
        return bytes_blob(&png, format);
    }
    if format == Format::Webp && CANVAS_WEBP.get() == Some(false) {
        return webp_lossless(width, height, rgba);
    }
    let canvas = OffscreenCanvas::new(width, height)?;
    put_pixels(&canvas, width, height, rgba)?;
    let options = ImageEncodeOptions::new();
    options.set_type(format.mime());
    options.set_quality(quality as f64 / 100.0);
    let blob: Blob = JsFuture::from(canvas.convert_to_blob_with_options(&options)?)
        .await?
        .unchecked_into();
    // A canvas gives a PNG for a type it does not encode (the HTML standard): WebKit's for WebP.
    if format == Format::Webp {
        CANVAS_WEBP.set(Some(blob.type_() == format.mime()));
        if blob.type_() != format.mime() {
            return webp_lossless(width, height, rgba);
        }
    }
    if blob.type_() != format.mime() {
        return Err(invalid(&format!("this browser does not encode {}", format.mime())));
    }
    Ok(blob)
}

thread_local! {
    /// Whether this browser's canvas encodes WebP (None: not asked yet).
    static CANVAS_WEBP: Cell<Option<bool>> = const { Cell::new(None) };
}

/// A lossless WebP (VP8L) of RGBA pixels, for a browser whose canvas encodes no WebP.
fn webp_lossless(width: u32, height: u32, rgba: &[u8]) -> Result<Blob, JsValue> {
    let mut webp = Vec::new();
    image_webp::WebPEncoder::new(&mut webp)
        .encode(rgba, width, height, image_webp::ColorType::Rgba8)
        .map_err(|e| invalid(&format!("cannot encode the WebP: {e}")))?;
    bytes_blob(&webp, Format::Webp)
}

/// Draws RGBA on a canvas of its size.
fn put_pixels(canvas: &OffscreenCanvas, width: u32, height: u32, rgba: &[u8]) -> Result<(), JsValue> {
    let rgba = js_sys::Uint8ClampedArray::from(rgba); // ImageData keeps its own copy
    let pixels = ImageData::new_with_js_u8_clamped_array_and_sh(&rgba, width, height)?;
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
