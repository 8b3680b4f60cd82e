// The thumbnailer's Web Worker (classic, so that it can importScripts the engine). Glue only: the
// work is done by the Rust worker (worker/ compiled to pkg/thumbnail_worker_bg.wasm), which loads
// the engine. It learns where every file is from its first message, { type: 'start', assets }
// (`assets`: each file's path in the package, 'pkg/…' and 'engine/…', to its URL): the page's
// module found them (beside itself, wherever a bundler put them, or under the URL it was given),
// as this worker, started from a bundler's copy or from a blob, cannot.
'use strict';

let ready = null;

async function start(assets) {
  // Everything asked for at once, before the bindings' script: this worker's own wasm, and the
  // demux-only engine's wasm (compiled while the worker's starts) and script (null if either
  // fails: the engine then fetches it itself).
  const ownWasm = fetch(assets['pkg/thumbnail_worker_bg.wasm']);
  const demuxWasm = self.WebAssembly?.compileStreaming
    ? WebAssembly.compileStreaming(fetch(assets['engine/thumbnail-engine-demux.wasm'])).catch(() => null)
    : Promise.resolve(null);
  const demuxScript = fetch(assets['engine/thumbnail-engine-demux.js'])
    .then((response) => (response.ok ? response.blob() : null))
    .catch(() => null);
  importScripts(assets['pkg/thumbnail_worker.js']); // defines wasm_bindgen
  const engine = {};
  for (const [path, url] of Object.entries(assets)) {
    if (path.startsWith('engine/')) engine[path.slice('engine/'.length)] = url;
  }
  // The mt engine's threads are workers started from this file: a bundler may have inlined it
  // as a data: URL (a worker of no origin, which may not share memory): started from a blob.
  const threadScript = engine['thumbnail-engine-mt.worker.js'];
  if (threadScript?.startsWith('data:')) {
    engine['thumbnail-engine-mt.worker.js'] = URL.createObjectURL(await (await fetch(threadScript)).blob());
  }
  await wasm_bindgen({ module_or_path: ownWasm });
  return wasm_bindgen.ThumbnailWorker.start(engine, demuxWasm, demuxScript);
}

// A failure the Rust side did not type is the engine itself breaking (a trap, an abort).
function asError(e) {
  if (e && typeof e.code === 'string') return e;
  return { code: 'engine_crashed', message: String((e && e.message) || e), fatal: true };
}

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
  if (data.type === 'start') {
    ready = start(data.assets);
    ready.then(
      (worker) => postMessage({ type: 'ready', engine: worker.engine }),
      (e) => postMessage({ type: 'ready', error: { code: 'engine_unavailable', message: `the engine did not load: ${asError(e).message}`, fatal: true } }),
    );
    return;
  }
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
