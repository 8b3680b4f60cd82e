//! The browser side of the thumbnailer, compiled to wasm32 with wasm-bindgen. It runs inside a Web
//! Worker (www/thumbnailer-worker.js is its glue): loads the engine (the mt build when the page is
//! cross-origin isolated, else st), reads the user's File in place with WORKERFS, makes the frame
//! and encodes it with OffscreenCanvas. Options and errors use the vocabulary shared with the
//! server (thumbnail-engine), so `at: '10%'` means the same on both.

mod engine;

use engine::{Engine, EngineModule, Failure};
use js_sys::{Object, Promise, Reflect};
use thumbnail_engine::{Format, ThumbnailOptions, VideoInfo};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, ImageData, ImageEncodeOptions, OffscreenCanvas, OffscreenCanvasRenderingContext2d};

/// Decoder threads of the mt engine (its pthread pool holds 4).
const MT_THREADS: u32 = 2;

/// One engine in one worker; jobs run one at a time.
#[wasm_bindgen]
pub struct ThumbnailWorker {
    engine: Engine,
    name: &'static str,
}

#[wasm_bindgen]
impl ThumbnailWorker {
    /// Loads the engine from `engine_base` (the URL of the folder holding thumbnail-engine-*.js).
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
        let script = format!("{base}thumbnail-engine-{variant}.js");
        scope.import_scripts_1(&script)?;
        let factory: js_sys::Function = Reflect::get(&scope, &"createThumbnailEngine".into())?.dyn_into()?;
        // Where the engine finds its .wasm and worker files: this worker may have been started from a
        // blob (a page of another origin), whose URL says nothing about where the engine lives.
        let locate = Closure::<dyn Fn(String) -> String>::new(move |file: String| format!("{base}{file}"));
        let options = Object::new();
        Reflect::set(&options, &"locateFile".into(), &locate.into_js_value())?;
        // The mt engine starts its own workers from this URL: inside a worker it cannot find itself.
        Reflect::set(&options, &"mainScriptUrlOrBlob".into(), &script.into())?;
        Reflect::set(&options, &"printErr".into(), &js_sys::Function::new_no_args(""))?;
        let module: EngineModule = JsFuture::from(Promise::from(factory.call1(&JsValue::NULL, &options)?))
            .await?
            .unchecked_into();
        let engine = Engine::new(module, threads).map_err(to_js)?;
        Ok(ThumbnailWorker { engine, name })
    }

    /// "browser-mt" or "browser-st".
    #[wasm_bindgen(getter)]
    pub fn engine(&self) -> String {
        self.name.into()
    }

    /// `{ duration, width, height, displayWidth, displayHeight, codec, rotation, fps }`;
    /// width and height are the display size (rotation and aspect ratio applied).
    pub fn probe(&mut self, file: Blob) -> Result<JsValue, JsValue> {
        let info = self.engine.open(&file).map_err(to_js);
        self.engine.close();
        describe(&info?)
    }

    /// Makes the thumbnail: `options` as in the JS API ({ at, width, height, format, quality,
    /// mode }). Resolves to `{ blob, width, height, time, duration }`.
    pub fn thumbnail(&mut self, file: Blob, options: JsValue) -> Result<Promise, JsValue> {
        let options = parse_options(&options)?;
        let frame = self.engine.open(&file).and_then(|info| {
            let t = options.at.seconds(info.duration);
            let frame = self
                .engine
                .frame(t, options.max_width, options.max_height, options.mode)?;
            Ok((frame, info.duration))
        });
        self.engine.close();
        let (frame, duration) = frame.map_err(to_js)?;
        let (format, quality) = (options.format, options.quality);
        Ok(wasm_bindgen_futures::future_to_promise(async move {
            let blob = encode(&frame, format, quality).await?;
            let result = Object::new();
            Reflect::set(&result, &"blob".into(), &blob)?;
            Reflect::set(&result, &"width".into(), &frame.width.into())?;
            Reflect::set(&result, &"height".into(), &frame.height.into())?;
            Reflect::set(&result, &"time".into(), &frame.time.into())?;
            Reflect::set(
                &result,
                &"duration".into(),
                &duration.map_or(JsValue::NULL, JsValue::from),
            )?;
            Ok(result.into())
        }))
    }
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
    let out = Object::new();
    let num = |v: Option<f64>| v.map_or(JsValue::NULL, JsValue::from);
    Reflect::set(&out, &"duration".into(), &num(info.duration))?;
    Reflect::set(&out, &"width".into(), &info.display_width.into())?;
    Reflect::set(&out, &"height".into(), &info.display_height.into())?;
    Reflect::set(&out, &"codedWidth".into(), &info.width.into())?;
    Reflect::set(&out, &"codedHeight".into(), &info.height.into())?;
    Reflect::set(&out, &"codec".into(), &info.codec.clone().into())?;
    Reflect::set(&out, &"rotation".into(), &info.rotation.into())?;
    Reflect::set(&out, &"fps".into(), &num(info.fps))?;
    Ok(out.into())
}

/// Reads the JS options object with the shared vocabulary: each field given is turned into text
/// and parsed exactly as the server parses its query string.
fn parse_options(options: &JsValue) -> Result<ThumbnailOptions, JsValue> {
    let mut pairs = Vec::new();
    if options.is_object() {
        for name in ["at", "width", "height", "format", "quality", "mode"] {
            let value = Reflect::get(options, &name.into())?;
            if value.is_undefined() || value.is_null() {
                continue;
            }
            let text = match value.as_f64() {
                Some(n) => n.to_string(),
                None => value.as_string().ok_or_else(|| bad_option(name))?,
            };
            pairs.push((name, text));
        }
    }
    ThumbnailOptions::from_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str()))).map_err(|e| to_js(e.into()))
}

fn bad_option(name: &str) -> JsValue {
    to_js(Failure {
        code: "invalid_argument".into(),
        message: format!("`{name}` must be a number or a string"),
        fatal: false,
    })
}

/// RGBA to an image file with the browser's own encoders.
async fn encode(frame: &engine::Frame, format: Format, quality: u8) -> Result<Blob, JsValue> {
    let canvas = OffscreenCanvas::new(frame.width, frame.height)?;
    let context: OffscreenCanvasRenderingContext2d = canvas
        .get_context("2d")?
        .ok_or_else(|| JsValue::from_str("no 2d context"))?
        .dyn_into()?;
    let pixels = ImageData::new_with_js_u8_clamped_array_and_sh(&frame.rgba, frame.width, frame.height)?;
    context.put_image_data(&pixels, 0.0, 0.0)?;
    let options = ImageEncodeOptions::new();
    options.set_type(format.mime());
    options.set_quality(quality as f64 / 100.0);
    let blob = JsFuture::from(canvas.convert_to_blob_with_options(&options)?).await?;
    Ok(blob.unchecked_into())
}
