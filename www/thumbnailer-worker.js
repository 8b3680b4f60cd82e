// The thumbnailer's Web Worker (classic, so that it can importScripts the engine). Glue only: the
// work is done by the Rust worker (worker/ compiled to pkg/thumbnail_worker_bg.wasm), which loads the engine from
// engine/. A page on another origin starts this file from a blob that sets THUMBNAILER_BASE first.
'use strict';

const base = self.THUMBNAILER_BASE || new URL('.', self.location.href).href;
importScripts(new URL('pkg/thumbnail_worker.js', base).href); // defines wasm_bindgen

const ready = (async () => {
  await wasm_bindgen({ module_or_path: new URL('pkg/thumbnail_worker_bg.wasm', base) });
  return wasm_bindgen.ThumbnailWorker.start(new URL('engine/', base).href);
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

self.onmessage = async ({ data }) => {
  const { id, kind, file, options } = data;
  try {
    const worker = await ready;
    const result = kind === 'probe' ? worker.probe(file) : await worker[kind](file, options); // thumbnail, sprite
    postMessage({ id, ok: true, result });
  } catch (e) {
    postMessage({ id, ok: false, error: asError(e) });
  }
};
