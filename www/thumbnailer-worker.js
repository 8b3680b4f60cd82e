// The thumbnailer's Web Worker (classic, so that it can importScripts the engine). Glue only: the
// work is done by the Rust worker (worker/ compiled to pkg/thumbnail_worker_bg.wasm), which loads the engine from
// engine/. A page on another origin starts this file from a blob that sets THUMBNAILER_BASE first.
'use strict';

const base = self.THUMBNAILER_BASE || new URL('.', self.location.href).href;
// Everything asked for at once, before the bindings' script: this worker's own wasm, and the
// demux-only engine's wasm (compiled while the worker's starts) and script (null if either
// fails: the engine then fetches it itself).
const ownWasm = fetch(new URL('pkg/thumbnail_worker_bg.wasm', base));
const demuxWasm = self.WebAssembly?.compileStreaming
  ? WebAssembly.compileStreaming(fetch(new URL('engine/thumbnail-engine-demux.wasm', base))).catch(() => null)
  : Promise.resolve(null);
const demuxScript = fetch(new URL('engine/thumbnail-engine-demux.js', base))
  .then((response) => (response.ok ? response.blob() : null))
  .catch(() => null);
importScripts(new URL('pkg/thumbnail_worker.js', base).href); // defines wasm_bindgen

const ready = (async () => {
  await wasm_bindgen({ module_or_path: ownWasm });
  return wasm_bindgen.ThumbnailWorker.start(new URL('engine/', base).href, demuxWasm, demuxScript);
})();

// A failure the Rust side did not type is the engine itself breaking (a trap, an abort).
function asError(e) {
  if (e && typeof e.code === 'string') return e;
  return { code: 'engine_crashed', message: String((e && e.message) || e), fatal: true };
}

ready.then(
  (worker) => postMessage({ type: 'ready', engine: worker.engine }),
  (e) => postMessage({ type: 'ready', error: { code: 'engine_unavailable', message: `the engine did not load: ${asError(e).message}`, fatal: true } }),
);

// A series of frames hands each frame over and waits for the page to ask for the next one
// ({ id, more: true }) or to end the series ({ id, more: false }): at most one frame in flight.
const waiting = new Map(); // id -> resolves the frame's promise with whether to go on

function emitter(id) {
  return (frame) =>
    new Promise((resolve) => {
      waiting.set(id, resolve);
      postMessage({ id, frame }, frame.bitmap ? [frame.bitmap] : []);
    });
}

self.onmessage = async ({ data }) => {
  const { id, kind, file, options, more, webcodecs } = data;
  if (more !== undefined) {
    waiting.get(id)?.(more);
    waiting.delete(id);
    return;
  }
  try {
    const worker = await ready;
    const result =
      kind === 'probe' ? await worker.probe(file)
      : kind === 'frames' ? await worker.frames(file, options, emitter(id), webcodecs !== false)
      : kind === 'thumbnail' ? await worker.thumbnail(file, options, webcodecs !== false)
      : await worker.sprite(file, options, webcodecs !== false);
    postMessage({ id, ok: true, result });
  } catch (e) {
    postMessage({ id, ok: false, error: asError(e) });
  } finally {
    waiting.delete(id);
  }
};
