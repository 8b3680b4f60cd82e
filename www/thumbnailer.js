// The thumbnailer's JS API (types: thumbnailer.d.ts). Glue between the page, the Web Worker that
// runs the engine in the browser (thumbnailer-worker.js + the Rust worker), and the server's
// POST /thumbnail fallback. Options are parsed by the Rust vocabulary on either side. Importing
// it also defines the <video-thumbnailer> element (video-thumbnailer.js).
//
//   const t = await Thumbnailer.create({ server: '/thumbnail', mode: 'auto' });
//   const { blob, width, height, time, engine } = await t.thumbnail(file, { at: '10%', width: 640 });

import { defineVideoThumbnailer } from './video-thumbnailer.js';

/** A failure with a `code` to switch on (see thumbnailer.d.ts for the list). */
export class ThumbnailError extends Error {
  constructor(code, message, { status } = {}) {
    super(message);
    this.name = code === 'aborted' ? 'AbortError' : 'ThumbnailError';
    this.code = code;
    if (status !== undefined) this.status = status;
  }
}

/** Codes after which `auto` asks the server instead: the browser engine cannot make this frame. */
const FALL_BACK_ON = new Set(['unsupported_codec', 'engine_crashed', 'engine_unavailable', 'no_memory']);
const MODES = new Set(['auto', 'browser', 'server']);
const here = new URL('.', import.meta.url);

function browserCapable() {
  return typeof Worker === 'function' && typeof WebAssembly === 'object' && typeof OffscreenCanvas === 'function';
}

/** One worker, started on first use and replaced after a crash, an abort or a timeout. */
class EngineWorker {
  #worker = null;
  #ready = null;
  #pending = new Map();
  #nextId = 1;

  start() {
    if (this.#ready) return this.#ready;
    const url = new URL('thumbnailer-worker.js', here);
    let worker;
    if (url.origin === location.origin) {
      worker = new Worker(url);
    } else {
      // A page cannot start a worker from another origin's URL: start one from a blob that
      // imports ours (served with CORS and CORP).
      const boot = `self.THUMBNAILER_BASE=${JSON.stringify(here.href)};importScripts(${JSON.stringify(url.href)});`;
      worker = new Worker(URL.createObjectURL(new Blob([boot], { type: 'text/javascript' })));
    }
    this.#worker = worker;
    this.#ready = new Promise((resolve, reject) => {
      worker.onmessage = ({ data }) => {
        if (data.type === 'ready') {
          if (data.error) reject(new ThumbnailError(data.error.code, data.error.message));
          else resolve(data.engine);
          return;
        }
        const job = this.#pending.get(data.id);
        if (!job) return;
        this.#pending.delete(data.id);
        if (data.ok) job.resolve(data.result);
        else job.reject(data.error);
      };
      worker.onerror = (event) => {
        event.preventDefault();
        const error = { code: 'engine_crashed', message: `the engine stopped: ${event.message || 'worker error'}`, fatal: true };
        reject(new ThumbnailError(error.code, error.message));
        this.#failAll(error);
      };
    });
    this.#ready.catch(() => this.stop());
    return this.#ready;
  }

  /** Runs one job; rejects with a plain `{ code, message, fatal }`. */
  async run(kind, file, options) {
    await this.start();
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ id, kind, file, options });
    });
  }

  #failAll(error) {
    for (const job of this.#pending.values()) job.reject(error);
    this.#pending.clear();
    this.stop();
  }

  /** Ends the worker (and whatever it is doing); the next job starts a new one. */
  stop(reason) {
    if (reason) this.#failAll(reason);
    this.#worker?.terminate();
    this.#worker = null;
    this.#ready = null;
  }
}

export class Thumbnailer {
  #mode;
  #server;
  #timeout;
  #engine = new EngineWorker();
  #queue = Promise.resolve(); // jobs on the worker run one at a time

  /**
   * @param {{ server?: string, mode?: 'auto'|'browser'|'server', timeout?: number }} [options]
   * `server`: URL of POST /thumbnail (POST /probe beside it), by default the one of the server this
   * module comes from; `timeout`: ms per job.
   */
  static async create({ server = new URL('thumbnail', here).href, mode = 'auto', timeout = 60000 } = {}) {
    if (!MODES.has(mode)) throw new ThumbnailError('invalid_argument', `mode must be auto, browser or server, not ${mode}`);
    const t = new Thumbnailer(server, mode, timeout);
    if (mode !== 'server' && browserCapable()) {
      // Start loading the engine now; `browser` mode reports a failure here, `auto` falls back later.
      const started = t.#engine.start();
      if (mode === 'browser') await started;
      else started.catch(() => {});
    } else if (mode === 'browser') {
      throw new ThumbnailError('engine_unavailable', 'this browser has no Web Workers, WebAssembly or OffscreenCanvas');
    }
    return t;
  }

  constructor(server, mode, timeout) {
    this.#server = new URL(server, location.href);
    this.#mode = mode;
    this.#timeout = timeout;
  }

  /** `{ duration, width, height, codec, rotation, fps }` of a video File or Blob. */
  probe(file, { signal, timeout } = {}) {
    return this.#dispatch('probe', file, {}, signal, timeout);
  }

  /**
   * The frame at `at` (seconds, '10%' or '00:01:02.5'; default 1 s) of a video File or Blob,
   * fitted in width x height, as `{ blob, width, height, time, engine }`. `timeout` (ms) overrides
   * the Thumbnailer's for this job.
   */
  thumbnail(file, { signal, timeout, ...options } = {}) {
    return this.#dispatch('thumbnail', file, options, signal, timeout);
  }

  /** Stops the worker. The Thumbnailer can still be used: the next job starts a new one. */
  terminate() {
    this.#engine.stop({ code: 'aborted', message: 'the thumbnailer was terminated', fatal: false });
  }

  async #dispatch(kind, file, options, signal, timeout = this.#timeout) {
    if (!(file instanceof Blob)) throw new ThumbnailError('invalid_argument', 'pass a File or a Blob');
    if (signal?.aborted) throw new ThumbnailError('aborted', 'the job was cancelled');
    if (this.#mode === 'server' || (this.#mode === 'auto' && !browserCapable())) {
      return this.#viaServer(kind, file, options, signal, timeout);
    }
    try {
      return await this.#inBrowser(kind, file, options, signal, timeout);
    } catch (e) {
      if (this.#mode === 'auto' && FALL_BACK_ON.has(e.code)) return this.#viaServer(kind, file, options, signal, timeout);
      throw e;
    }
  }

  #inBrowser(kind, file, options, signal, timeout) {
    const job = this.#queue.then(() => this.#runOnWorker(kind, file, options, signal, timeout));
    this.#queue = job.catch(() => {});
    return job;
  }

  async #runOnWorker(kind, file, options, signal, timeout) {
    if (signal?.aborted) throw new ThumbnailError('aborted', 'the job was cancelled');
    let engine;
    try {
      engine = await this.#engine.start();
    } catch (e) {
      throw e instanceof ThumbnailError ? e : new ThumbnailError('engine_unavailable', String(e));
    }
    if (signal?.aborted) throw new ThumbnailError('aborted', 'the job was cancelled');
    let stop;
    const stopped = new Promise((_, reject) => {
      stop = (code, message) => {
        this.#engine.stop(); // the only way to halt a decode in progress
        reject(new ThumbnailError(code, message));
      };
    });
    const onAbort = () => stop('aborted', 'the job was cancelled');
    signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => stop('timeout', `the job took longer than ${timeout} ms`), timeout);
    try {
      const result = await Promise.race([this.#engine.run(kind, file, options), stopped]);
      return kind === 'probe' ? result : { ...result, engine };
    } catch (e) {
      if (e instanceof ThumbnailError) throw e;
      if (e.fatal) this.#engine.stop();
      throw new ThumbnailError(e.code, e.message);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  async #viaServer(kind, file, options, signal, timeout) {
    const url = kind === 'probe' ? new URL('probe', this.#server) : new URL(this.#server.href);
    for (const [name, value] of Object.entries(options)) {
      if (value !== undefined && value !== null) url.searchParams.set(name, String(value));
    }
    const body = new FormData();
    body.append('video', file, file.name || 'video');
    const deadline = AbortSignal.timeout(timeout);
    try {
      const response = await fetch(url, { method: 'POST', body, signal: signal ? AbortSignal.any([signal, deadline]) : deadline });
      if (!response.ok) {
        const problem = await response.json().catch(() => ({}));
        throw new ThumbnailError(problem.code || 'server', problem.detail || `the server answered ${response.status}`, { status: response.status });
      }
      if (kind === 'probe') {
        const p = await response.json();
        return { duration: p.duration, width: p.display_width, height: p.display_height, codedWidth: p.width, codedHeight: p.height, codec: p.codec, rotation: p.rotation, fps: p.fps };
      }
      const number = (name) => Number(response.headers.get(name));
      return {
        blob: await response.blob(),
        width: number('x-image-width'),
        height: number('x-image-height'),
        time: number('x-frame-time'),
        duration: response.headers.has('x-video-duration') ? number('x-video-duration') : null,
        engine: 'server',
      };
    } catch (e) {
      if (e instanceof ThumbnailError) throw e;
      // Stopped while sending or while reading the answer.
      if (deadline.aborted) throw new ThumbnailError('timeout', `the server took longer than ${timeout} ms`);
      if (e.name === 'AbortError') throw new ThumbnailError('aborted', 'the job was cancelled');
      throw new ThumbnailError('network', `the server could not be reached: ${e.message}`);
    }
  }
}

defineVideoThumbnailer(Thumbnailer);
