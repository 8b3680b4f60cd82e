//! The wasm engine (engine/dist/thumbnail-engine-{st,mt,demux}.js) as seen from Rust: its
//! emscripten module's exported C functions and filesystem, behind a small safe wrapper.

use js_sys::{Object, Promise, Reflect, Uint8Array, WebAssembly};
use std::rc::Rc;
use thumbnail_engine::layout::{
    self, CodecInfo, ImageRef, Packets, CODEC_SIZE_WASM32, IMAGE_SIZE_WASM32, INFO_SIZE, PACKETS_SIZE_WASM32,
    PACKET_SIZE,
};
use thumbnail_frames::{Failed, Picture};
use thumbnail_tonemap::{Primaries, ToneMap};
use thumbnail_vocabulary::colour::HdrOutput;
use thumbnail_vocabulary::{ErrorKind, Seek, VideoInfo};
use web_sys::Blob;

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::source::Source;

#[wasm_bindgen]
extern "C" {
    /// The object `createThumbnailEngine()` resolves to.
    #[derive(Clone)]
    pub type EngineModule;

    #[wasm_bindgen(method, js_name = _te_new)]
    fn te_new(this: &EngineModule) -> u32;
    #[wasm_bindgen(method, catch, js_name = _te_open_reader)]
    fn te_open_reader(this: &EngineModule, e: u32, size: f64, threads: i32) -> Result<i32, JsValue>;
    #[wasm_bindgen(method, js_name = _te_set_output_depth)]
    fn te_set_output_depth(this: &EngineModule, e: u32, bits: i32);
    #[wasm_bindgen(method, js_name = _te_close)]
    fn te_close(this: &EngineModule, e: u32);
    #[wasm_bindgen(method, js_name = _te_probe)]
    fn te_probe(this: &EngineModule, e: u32) -> u32;
    #[wasm_bindgen(method, js_name = _te_codec_info)]
    fn te_codec_info(this: &EngineModule, e: u32) -> u32;
    #[wasm_bindgen(method, catch, js_name = _te_read_packets)]
    fn te_read_packets(this: &EngineModule, e: u32, t: f64, mode: i32) -> Result<i32, JsValue>;
    #[wasm_bindgen(method, js_name = _te_packet_list)]
    fn te_packet_list(this: &EngineModule, e: u32) -> u32;
    #[wasm_bindgen(method, js_name = _te_output_size)]
    fn te_output_size(this: &EngineModule, e: u32, w: i32, h: i32, max_w: i32, max_h: i32, out: u32) -> i32;
    #[wasm_bindgen(method, catch, js_name = _te_decode)]
    fn te_decode(this: &EngineModule, e: u32, t: f64, w: i32, h: i32, mode: i32) -> Result<i32, JsValue>;
    #[wasm_bindgen(method, catch, js_name = _te_decode_next)]
    fn te_decode_next(this: &EngineModule, e: u32, t: f64, w: i32, h: i32) -> Result<i32, JsValue>;
    #[wasm_bindgen(method, js_name = _te_result)]
    fn te_result(this: &EngineModule, e: u32) -> u32;
    #[wasm_bindgen(method, js_name = _te_message)]
    fn te_message(this: &EngineModule, e: u32) -> u32;
    #[wasm_bindgen(method, js_name = _malloc)]
    fn malloc(this: &EngineModule, size: u32) -> u32;
    #[wasm_bindgen(method, js_name = _free)]
    fn free(this: &EngineModule, ptr: u32);
    #[wasm_bindgen(method, js_name = UTF8ToString)]
    fn utf8_to_string(this: &EngineModule, ptr: u32) -> String;
    #[wasm_bindgen(method, getter, js_name = HEAPU8)]
    fn heap_u8(this: &EngineModule) -> Uint8Array;
}

/// What a JS exception (an Error, a DOMException, a string) says.
pub fn js_message(e: &JsValue) -> String {
    Reflect::get(e, &"message".into())
        .ok()
        .and_then(|m| m.as_string())
        .or_else(|| e.as_string())
        .unwrap_or_else(|| format!("{e:?}"))
}

/// An engine failure: a typed one from the engine, or `fatal` when the engine itself broke (a trap
/// or an abort); then the worker must be replaced.
pub struct Failure {
    pub code: String,
    pub message: String,
    pub fatal: bool,
}

impl Failure {
    fn typed(kind: ErrorKind, message: String) -> Failure {
        Failure {
            code: kind.name().into(),
            message,
            fatal: false,
        }
    }

    fn crashed(error: JsValue) -> Failure {
        let message = js_message(&error);
        Failure {
            code: "engine_crashed".into(),
            message: format!("the engine stopped: {message}"),
            fatal: true,
        }
    }
}

impl From<Failed<Failure>> for Failure {
    fn from(failed: Failed<Failure>) -> Failure {
        match failed {
            Failed::Engine(f) => f,
            Failed::Refused(message) => Failure::typed(ErrorKind::InvalidArgument, message),
            Failed::TooLarge(message) => Failure::typed(ErrorKind::TooLarge, message),
        }
    }
}

impl From<thumbnail_vocabulary::Error> for Failure {
    fn from(e: thumbnail_vocabulary::Error) -> Failure {
        Failure::typed(e.kind, e.message)
    }
}

pub struct Engine {
    module: EngineModule,
    raw: u32,
    threads: i32,
    /// While a video is open: the reader the engine calls (`Module.teRead`), and its source.
    reading: Option<(Closure<dyn FnMut(f64, u32, i32) -> i32>, Rc<Source>)>,
    /// An open HDR video's, when its frames are tone-mapped: the engine then gives 16-bit RGBA.
    tone_map: Option<ToneMap>,
}

/// What the glue fetched for an engine while the worker started: its script and its wasm
/// compiled.
#[derive(Default)]
pub struct Ahead {
    pub script: Option<Blob>,
    pub wasm: Option<WebAssembly::Module>,
}

/// Where each file of the engine is: its name in engine/dist (`thumbnail-engine-mt.wasm`) to its
/// URL, as the page's module found it (beside itself, wherever a bundler put it, or under the
/// `assets` URL it was given). Names it lacks are not the engine's.
#[derive(Clone, Default)]
pub struct Files(Rc<std::collections::HashMap<String, String>>);

impl Files {
    /// From the glue's `{ name: url }` object.
    pub fn from_object(files: &Object) -> Files {
        let map = Object::entries(files)
            .iter()
            .filter_map(|entry| {
                let entry: js_sys::Array = entry.dyn_into().ok()?;
                Some((entry.get(0).as_string()?, entry.get(1).as_string()?))
            })
            .collect();
        Files(Rc::new(map))
    }

    pub fn url(&self, name: &str) -> Result<&str, JsValue> {
        self.0
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| JsValue::from_str(&format!("the engine's file {name} was not given")))
    }
}

/// Loads `thumbnail-engine-<variant>.js` into this worker and instantiates it: from what was
/// fetched `ahead`, or else fetched now (a script the worker may not import from a blob, e.g.
/// under a page's CSP, is imported from its URL).
pub async fn load(files: &Files, variant: &str, ahead: Ahead) -> Result<EngineModule, JsValue> {
    let scope: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    let script = files.url(&format!("thumbnail-engine-{variant}.js"))?.to_owned();
    if !ahead.script.is_some_and(|blob| import_blob(&scope, &blob).is_ok()) {
        scope.import_scripts_1(&script)?;
    }
    // Each build defines the same factory: taken at once, before another build replaces it.
    let factory: js_sys::Function = Reflect::get(&scope, &"createThumbnailEngine".into())?.dyn_into()?;
    // Where the engine finds its .wasm and worker files (by their names in engine/dist).
    let found = files.clone();
    let locate = Closure::<dyn Fn(String) -> String>::new(move |file: String| {
        found.url(&file).map_or(file.clone(), str::to_owned)
    });
    let options = Object::new();
    Reflect::set(&options, &"locateFile".into(), &locate.into_js_value())?;
    // The mt engine starts its own workers from this URL: inside a worker it cannot find itself.
    Reflect::set(&options, &"mainScriptUrlOrBlob".into(), &script.into())?;
    Reflect::set(&options, &"printErr".into(), &js_sys::Function::new_no_args(""))?;
    // Emscripten waits for an instance made this way forever if it fails: its failure fails the load.
    let failed = ahead
        .wasm
        .map(|module| instantiate_from(&options, module))
        .transpose()?;
    let ready = Promise::from(factory.call1(&JsValue::NULL, &options)?);
    let ready = match failed {
        Some(failed) => Promise::race(&js_sys::Array::of2(&ready, &failed)),
        None => ready,
    };
    let module = JsFuture::from(ready).await?;
    Ok(module.unchecked_into())
}

/// Runs a script held in a Blob, as importScripts runs one from its URL.
fn import_blob(scope: &web_sys::WorkerGlobalScope, blob: &Blob) -> Result<(), JsValue> {
    let url = web_sys::Url::create_object_url_with_blob(blob)?;
    let imported = scope.import_scripts_1(&url);
    web_sys::Url::revoke_object_url(&url)?;
    imported
}

/// Has the engine's options instantiate `module` (emscripten's `instantiateWasm`); the promise
/// rejects if that fails.
fn instantiate_from(options: &Object, module: WebAssembly::Module) -> Result<Promise, JsValue> {
    let mut reject = None;
    let failed = Promise::new(&mut |_, no| reject = Some(no));
    let reject = reject.expect("the executor runs at once");
    let instantiate = Closure::once_into_js(move |imports: js_sys::Object, receive: js_sys::Function| -> JsValue {
        wasm_bindgen_futures::spawn_local(async move {
            match JsFuture::from(WebAssembly::instantiate_module(&module, &imports)).await {
                Ok(instance) => drop(receive.call2(&JsValue::NULL, &instance, &module)),
                Err(e) => drop(reject.call1(&JsValue::NULL, &e)),
            }
        });
        Object::new().into() // "the exports come later"
    });
    Reflect::set(options, &"instantiateWasm".into(), &instantiate)?;
    Ok(failed)
}

impl Engine {
    pub fn new(module: EngineModule, threads: u32) -> Result<Engine, Failure> {
        let raw = module.te_new();
        if raw == 0 {
            return Err(Failure::typed(ErrorKind::NoMemory, "cannot allocate the engine".into()));
        }
        Ok(Engine {
            module,
            raw,
            threads: threads as i32,
            reading: None,
            tone_map: None,
        })
    }

    fn heap(&self) -> Uint8Array {
        heap_of(&self.module)
    }

    fn bytes(&self, ptr: u32, len: usize) -> Vec<u8> {
        self.heap().subarray(ptr, ptr + len as u32).to_vec()
    }

    fn check(&self, status: Result<i32, JsValue>) -> Result<(), Failure> {
        // A URL that could not be read: its own failure, not the engine's "cannot read".
        if let Some((_, reader)) = &self.reading {
            if let Some(failure) = reader.failure.borrow_mut().take() {
                return Err(failure);
            }
        }
        match status {
            Ok(0) => Ok(()),
            Ok(code) => {
                let message = self.module.utf8_to_string(self.module.te_message(self.raw));
                Err(Failure::typed(ErrorKind::from_status(code), message))
            }
            Err(trap) => Err(Failure::crashed(trap)),
        }
    }

    /// Opens a source (a File, a Blob or a URL), whose bytes the engine asks for through
    /// `Module.teRead` (`te_open_reader`) as it needs them; an HDR video's frames will be
    /// tone-mapped, or not, as `hdr` says.
    pub fn open(&mut self, source: &Rc<Source>, hdr: HdrOutput) -> Result<VideoInfo, Failure> {
        self.close();
        let (reader, module) = (source.clone(), self.module.clone());
        let read = Closure::<dyn FnMut(f64, u32, i32) -> i32>::new(move |offset: f64, at: u32, len: i32| {
            // Straight from the source's blocks into the engine's heap
            let heap = heap_of(&module);
            let copy = |done: usize, bytes: &[u8]| {
                let to = at + done as u32;
                heap.subarray(to, to + bytes.len() as u32).copy_from(bytes);
            };
            match reader.read(offset as u64, len.max(0) as usize, copy) {
                Ok(n) => n as i32,
                Err(failure) => {
                    *reader.failure.borrow_mut() = Some(failure);
                    -1
                }
            }
        });
        Reflect::set(&self.module, &"teRead".into(), read.as_ref()).map_err(Failure::crashed)?;
        self.reading = Some((read, source.clone()));
        let status = self.module.te_open_reader(self.raw, source.size as f64, self.threads);
        self.check(status)?;
        let mut info = layout::info_from_bytes(&self.bytes(self.module.te_probe(self.raw), INFO_SIZE));
        let colour = self.codec();
        info.set_colour(colour.color_primaries, colour.color_transfer, colour.color_space);
        let tone_mapped = if hdr == HdrOutput::Sdr { info.hdr } else { None };
        self.tone_map = tone_mapped.map(|transfer| ToneMap::new(transfer, Primaries::of(colour.color_primaries)));
        self.module
            .te_set_output_depth(self.raw, if self.tone_map.is_some() { 16 } else { 8 });
        Ok(info)
    }

    /// The video's description, the source let go of after.
    pub fn probe(&mut self, source: &Rc<Source>) -> Result<VideoInfo, Failure> {
        let info = self.open(source, HdrOutput::Keep);
        self.close();
        info
    }

    /// What another decoder needs for the open video (`te_codec_info`), the extradata copied out.
    pub fn codec(&self) -> CodecInfo {
        let (mut info, at, len) =
            layout::codec_from_wasm32_bytes(&self.bytes(self.module.te_codec_info(self.raw), CODEC_SIZE_WASM32));
        if at != 0 {
            info.extradata = self.bytes(at, len);
        }
        info
    }

    /// The packets, undecoded, that the frame at `t` needs (`te_read_packets`), copied out.
    pub fn read_packets(&mut self, t: f64, mode: Seek) -> Result<Packets, Failure> {
        let status = self.module.te_read_packets(self.raw, t, mode.code());
        self.check(status)?;
        let (count, wanted, size, list, data) =
            layout::packets_from_wasm32_bytes(&self.bytes(self.module.te_packet_list(self.raw), PACKETS_SIZE_WASM32));
        let table = self.bytes(list, count * PACKET_SIZE);
        Ok(Packets {
            list: table.chunks_exact(PACKET_SIZE).map(layout::packet_from_bytes).collect(),
            wanted,
            data: self.bytes(data, size),
        })
    }

    /// The size the engine makes the open video's frames (of its coded size) in the box: what a
    /// job of many frames counts before it asks for them, and the box it asks them in.
    pub fn video_output_size(&self, info: &VideoInfo, max_width: u32, max_height: u32) -> Result<(u32, u32), Failure> {
        self.output_size(info.coded_width, info.coded_height, max_width, max_height)
    }

    /// The size the engine makes a `width` x `height` frame of the open video fitted in the box.
    pub fn output_size(&self, width: u32, height: u32, max_width: u32, max_height: u32) -> Result<(u32, u32), Failure> {
        let out = self.module.malloc(8);
        let status = self.module.te_output_size(
            self.raw,
            width as i32,
            height as i32,
            max_width as i32,
            max_height as i32,
            out,
        );
        let size = self.bytes(out, 8);
        self.module.free(out);
        self.check(Ok(status))?;
        let side = |at: usize| i32::from_le_bytes(size[at..at + 4].try_into().unwrap()).max(1) as u32;
        Ok((side(0), side(4)))
    }

    /// The frame at `t` seconds of the open video, fitted in the box.
    pub fn frame(&mut self, t: f64, max_width: u32, max_height: u32, mode: Seek) -> Result<Picture, Failure> {
        let status = self
            .module
            .te_decode(self.raw, t, max_width as i32, max_height as i32, mode.code());
        self.check(status)?;
        self.result()
    }

    /// The first frame at or after `t`, going on from the last one made when `t` is later
    /// (`te_decode_next`: each packet decoded at most once for increasing times).
    pub fn next_frame(&mut self, t: f64, max_width: u32, max_height: u32) -> Result<Picture, Failure> {
        let status = self
            .module
            .te_decode_next(self.raw, t, max_width as i32, max_height as i32);
        self.check(status)?;
        self.result()
    }

    /// The image of the last successful decode, copied out of the heap into Rust's memory (an
    /// HDR one tone-mapped).
    fn result(&self) -> Result<Picture, Failure> {
        let image: ImageRef =
            layout::image_from_wasm32_bytes(&self.bytes(self.module.te_result(self.raw), IMAGE_SIZE_WASM32));
        let rgba = match &self.tone_map {
            None => self.bytes(image.rgba, image.len()),
            Some(map) => map.to_sdr(&thumbnail_tonemap::samples(&self.bytes(image.rgba, 2 * image.len()))),
        };
        Ok(Picture {
            width: image.width,
            height: image.height,
            time: image.time,
            rgba,
        })
    }

    /// Closes the video and lets go of its source.
    pub fn close(&mut self) {
        self.module.te_close(self.raw);
        if self.reading.take().is_some() {
            let _ = Reflect::delete_property(self.module.unchecked_ref::<Object>(), &"teRead".into());
        }
    }
}

/// The heap as it is now: with threads, another thread may have grown the memory since the
/// module last refreshed its views.
fn heap_of(module: &EngineModule) -> Uint8Array {
    match Reflect::get(module, &"wasmMemory".into()) {
        Ok(memory) if !memory.is_undefined() => {
            Uint8Array::new(&memory.unchecked_into::<js_sys::WebAssembly::Memory>().buffer())
        }
        _ => module.heap_u8(),
    }
}
