// The thumbnailer's JS API (types: thumbnailer.d.ts). Glue between the page, the Web Worker that
// runs the engine in the browser (thumbnailer-worker.js + the Rust worker), and the server's
// POST /thumbnail fallback. Options are parsed by the Rust vocabulary on either side. The element
// <video-thumbnailer> is another module (video-thumbnailer.js): importing this one defines nothing.
//
//   const t = await Thumbnailer.create({ server: '/thumbnail', engine: 'auto' });
//   const { blob, width, height, time, engine } = await t.thumbnail(file, { at: '10%', width: 640 });

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
const ENGINES = new Set(['auto', 'browser', 'server']);

/** The files the worker loads, by their paths in the package (the same under the server's `/`). */
const ASSET_PATHS = [
  'thumbnailer-worker.js',
  'pkg/thumbnail_worker.js',
  'pkg/thumbnail_worker_bg.wasm',
  'engine/thumbnail-engine-demux.js',
  'engine/thumbnail-engine-demux.wasm',
  'engine/thumbnail-engine-st.js',
  'engine/thumbnail-engine-st.wasm',
  'engine/thumbnail-engine-mt.js',
  'engine/thumbnail-engine-mt.wasm',
  'engine/thumbnail-engine-mt.worker.js',
];

/**
 * Where those files are: beside this module, each named by a literal `new URL('./…',
 * import.meta.url)`, the expression bundlers (Vite, webpack 5, Rollup, esbuild, Parcel) find, copy
 * the file for and rewrite; or, given `assets` (a folder's URL: a CDN, a self-hosted copy of the
 * package), under it. Nothing is fetched until the engine starts.
 */
function assetUrls(assets) {
  if (assets) return Object.fromEntries(ASSET_PATHS.map((path) => [path, new URL(path, assets).href]));
  return {
    'pkg/thumbnail_worker.js': new URL('./pkg/thumbnail_worker.js', import.meta.url).href,
    'pkg/thumbnail_worker_bg.wasm': new URL('./pkg/thumbnail_worker_bg.wasm', import.meta.url).href,
    'engine/thumbnail-engine-demux.js': new URL('./engine/thumbnail-engine-demux.js', import.meta.url).href,
    'engine/thumbnail-engine-demux.wasm': new URL('./engine/thumbnail-engine-demux.wasm', import.meta.url).href,
    'engine/thumbnail-engine-st.js': new URL('./engine/thumbnail-engine-st.js', import.meta.url).href,
    'engine/thumbnail-engine-st.wasm': new URL('./engine/thumbnail-engine-st.wasm', import.meta.url).href,
    'engine/thumbnail-engine-mt.js': new URL('./engine/thumbnail-engine-mt.js', import.meta.url).href,
    'engine/thumbnail-engine-mt.wasm': new URL('./engine/thumbnail-engine-mt.wasm', import.meta.url).href,
    'engine/thumbnail-engine-mt.worker.js': new URL('./engine/thumbnail-engine-mt.worker.js', import.meta.url).href,
  };
}

/**
 * Starts the worker: the one beside this module (`new Worker(new URL(…))`, which bundlers bundle
 * as a worker), or the one under `assets`; a worker of another origin (a CDN, a page embedding a
 * server's module) is started from a blob that imports it (served with CORS and CORP). Returns
 * the worker and the blob's URL to revoke once it has started (or null).
 */
function startWorker(assets) {
  const url = assets ? new URL('thumbnailer-worker.js', assets) : new URL('./thumbnailer-worker.js', import.meta.url);
  if (url.origin === location.origin) {
    return { worker: assets ? new Worker(url) : new Worker(new URL('./thumbnailer-worker.js', import.meta.url)), boot: null };
  }
  const boot = URL.createObjectURL(new Blob([`importScripts(${JSON.stringify(url.href)});`], { type: 'text/javascript' }));
  return { worker: new Worker(boot), boot };
}

function browserCapable() {
  return typeof Worker === 'function' && typeof WebAssembly === 'object' && typeof OffscreenCanvas === 'function';
}

/** One worker, started on first use and replaced after a crash, an abort or a timeout. */
class EngineWorker {
  /** Whether frames may be decoded by the browser's WebCodecs (the Thumbnailer's `webcodecs`). */
  webcodecs = true;
  /** The Thumbnailer's `assets` (null: beside this module). */
  assets = null;
  #worker = null;
  #ready = null;
  #failStart = null; // rejects #ready while the engine is starting
  #bootUrl = null; // the blob URL a cross-origin worker starts from, revoked once it has
  #pending = new Map();
  #nextId = 1;

  start() {
    if (this.#ready) return this.#ready;
    let worker;
    try {
      ({ worker, boot: this.#bootUrl } = startWorker(this.assets));
      worker.postMessage({ type: 'start', assets: assetUrls(this.assets) });
    } catch (e) {
      worker?.terminate();
      this.#revokeBoot();
      return Promise.reject(new ThumbnailError('engine_unavailable', `cannot start a Web Worker: ${e.message}`));
    }
    this.#worker = worker;
    const ready = new Promise((resolve, reject) => {
      this.#failStart = reject;
      worker.onmessage = ({ data }) => {
        if (data.type === 'ready') {
          this.#revokeBoot();
          this.#failStart = null;
          if (data.error) reject(new ThumbnailError(data.error.code, data.error.message));
          else resolve(data.engine);
          return;
        }
        const job = this.#pending.get(data.id);
        if (!job) return;
        if (data.frame) {
          job.frame(data.frame); // one frame of a series, which goes on
          return;
        }
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
    // A failed start ends this worker (not a newer one started since).
    ready.catch(() => this.#ready === ready && this.stop());
    this.#ready = ready;
    return ready;
  }

  /** Runs one job; rejects with a plain `{ code, message, fatal }`. */
  async run(kind, file, options) {
    await this.start();
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ id, kind, file, options, webcodecs: this.webcodecs });
    });
  }

  /**
   * Starts a series of frames on the worker. `next()` resolves to its next frame, or null once it
   * has ended (asking the worker for the one after: one frame at a time), and rejects as run()
   * does; `end()` stops the series early.
   */
  async stream(kind, file, options) {
    await this.start();
    const id = this.#nextId++;
    const worker = this.#worker;
    const arrived = []; // frames, then null for the end, not yet taken
    let failed = null;
    let wake = null;
    let taken = 0;
    let done = false;
    const settle = () => {
      wake?.();
      wake = null;
    };
    this.#pending.set(id, {
      frame: (frame) => {
        arrived.push(frame);
        settle();
      },
      resolve: () => {
        done = true;
        arrived.push(null);
        settle();
      },
      reject: (error) => {
        done = true;
        failed = error;
        settle();
      },
    });
    worker.postMessage({ id, kind, file, options, webcodecs: this.webcodecs });
    return {
      next: async () => {
        if (taken++ > 0 && !done) worker.postMessage({ id, more: true });
        while (!arrived.length && !failed) await new Promise((resolve) => (wake = resolve));
        if (arrived.length) return arrived.shift();
        throw failed;
      },
      end: () => {
        if (!done) worker.postMessage({ id, more: false });
      },
    };
  }

  #failAll(error) {
    for (const job of this.#pending.values()) job.reject(error);
    this.#pending.clear();
    this.stop();
  }

  #revokeBoot() {
    if (this.#bootUrl) URL.revokeObjectURL(this.#bootUrl);
    this.#bootUrl = null;
  }

  /**
   * Ends the worker (and whatever it is doing); the next job starts a new one. Jobs on it, and a
   * start in progress, are rejected with `reason` (by default `aborted`).
   */
  stop(reason = { code: 'aborted', message: 'the engine was stopped', fatal: false }) {
    const failStart = this.#failStart;
    this.#failStart = null;
    failStart?.(new ThumbnailError(reason.code, reason.message));
    if (this.#pending.size) this.#failAll(reason);
    this.#worker?.terminate();
    this.#revokeBoot();
    this.#worker = null;
    this.#ready = null;
  }
}

/**
 * `stopped` rejects when `signal` aborts or `timeout` ms pass, whichever first (and `fired` is then
 * that error); `stop()` clears both.
 */
function watch(signal, timeout, what) {
  const watcher = { fired: null };
  watcher.stopped = new Promise((_, reject) => {
    const fire = (error) => {
      watcher.fired ??= error;
      reject(error);
    };
    const timer = setTimeout(() => fire(new ThumbnailError('timeout', `${what} took longer than ${timeout} ms`)), timeout);
    const onAbort = () => fire(new ThumbnailError('aborted', 'the job was cancelled'));
    signal?.addEventListener('abort', onAbort, { once: true });
    watcher.stop = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
  });
  watcher.stopped.catch(() => {});
  return watcher;
}

/**
 * What a job reads: a File or Blob as it is, or a URL (a string or a URL) as its absolute address,
 * which the browser engine reads in HTTP Range requests, never whole.
 */
function source(file) {
  if (file instanceof Blob) return file;
  if (typeof file === 'string' || file instanceof URL) {
    try {
      return new URL(file, location.href).href;
    } catch {
      throw new ThumbnailError('invalid_argument', `not a URL: ${file}`);
    }
  }
  throw new ThumbnailError('invalid_argument', 'pass a File, a Blob or a URL');
}

/** Refuses what no engine could take: a bad timeout, a signal already aborted. */
function check(file, signal, timeout) {
  if (!(timeout > 0)) throw new ThumbnailError('invalid_argument', `timeout must be a number of milliseconds above 0, not ${timeout}`);
  if (signal?.aborted) throw new ThumbnailError('aborted', 'the job was cancelled');
}

export class Thumbnailer {
  #engineChoice;
  #server;
  #timeout;
  #confirmUpload;
  #engine = new EngineWorker();
  #queue = Promise.resolve(); // jobs on the worker run one at a time
  #generation = 0; // terminate() ends the jobs of earlier generations, queued or running
  #requests = new Set(); // AbortControllers of the requests to the server in flight

  /**
   * @param {{ server?: string, engine?: 'auto'|'browser'|'server', timeout?: number, webcodecs?: boolean, assets?: string|URL,
   *           confirmUpload?: (why: { code: string, message: string, file: Blob }) => boolean|Promise<boolean> }} [options]
   * `server`: URL of a thumbnail server's POST /thumbnail (POST /probe beside it); without it no
   * video leaves the browser, and `auto` is the browser alone; `timeout`: ms per job;
   * `confirmUpload`: asked before `auto` sends a video to the server because the browser could not
   * make the frame (false: the job fails with `upload_declined`); `webcodecs` (default true): the
   * frames of a codec the browser decodes (H.264, VP8, VP9, AV1, HEVC where it has it) are decoded
   * by the browser's WebCodecs, the wasm engine's decoders loading only for the rest (false: always
   * the wasm engine); `assets`: the URL of a folder holding the package's files (the worker,
   * pkg/, engine/), by default beside this module.
   */
  static async create({ server = null, engine = 'auto', timeout = 60000, confirmUpload, webcodecs = true, assets = null, ...unknown } = {}) {
    const extra = Object.keys(unknown);
    if (extra.length) throw new ThumbnailError('invalid_argument', `unknown option \`${extra[0]}\` (known: server, engine, timeout, confirmUpload, webcodecs, assets)`);
    if (typeof webcodecs !== 'boolean') throw new ThumbnailError('invalid_argument', 'webcodecs must be true or false');
    if (!ENGINES.has(engine)) throw new ThumbnailError('invalid_argument', `engine must be auto, browser or server, not ${engine}`);
    if (!(timeout > 0)) throw new ThumbnailError('invalid_argument', `timeout must be a number of milliseconds above 0, not ${timeout}`);
    if (confirmUpload !== undefined && typeof confirmUpload !== 'function') throw new ThumbnailError('invalid_argument', 'confirmUpload must be a function');
    const url = (value, what) => {
      if (value === null || value === undefined) return null;
      try {
        return new URL(value, globalThis.location?.href);
      } catch {
        throw new ThumbnailError('invalid_argument', `${what} must be a URL, not ${value}`);
      }
    };
    const serverUrl = url(server, 'server');
    if (engine === 'server' && !serverUrl) throw new ThumbnailError('invalid_argument', 'engine server needs the `server` option (the URL of POST /thumbnail)');
    const assetsUrl = url(assets, 'assets');
    // a folder: its files are under it, not beside it
    if (assetsUrl && !assetsUrl.pathname.endsWith('/')) assetsUrl.pathname += '/';
    const t = new Thumbnailer(serverUrl, engine, timeout, confirmUpload);
    t.#engine.webcodecs = webcodecs;
    t.#engine.assets = assetsUrl;
    if (engine !== 'server' && browserCapable()) {
      // Start loading the engine now; `browser` reports a failure here, `auto` falls back later.
      const started = t.#engine.start();
      if (engine === 'browser') await started;
      else started.catch(() => {});
    } else if (engine === 'browser') {
      throw new ThumbnailError('engine_unavailable', 'this browser has no Web Workers, WebAssembly or OffscreenCanvas');
    }
    return t;
  }

  constructor(server, engine, timeout, confirmUpload) {
    this.#server = server;
    this.#engineChoice = engine;
    this.#timeout = timeout;
    this.#confirmUpload = confirmUpload;
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

  /**
   * A contact sheet of a video File or Blob: `count` frames spread over it (or one `every` s),
   * `columns` a row, each fitted in width x height, as `{ blob, columns, rows, tileWidth,
   * tileHeight, times, vtt, engine }`; `vtt` is the WebVTT thumbnails track, pointing at the image
   * as `sprite.<ext>`.
   */
  sprite(file, { signal, timeout, ...options } = {}) {
    return this.#dispatch('sprite', file, options, signal, timeout);
  }

  /**
   * The frames of a video File or Blob at `times` (increasing seconds), or `count` spread over it,
   * or one `every` s, each fitted in width x height, one at a time: `{ time, width, height,
   * bitmap, engine }` (an ImageBitmap), or `{ ..., blob }` when a `format` is asked. An async
   * iterator (`for await (const frame of t.frames(file, { count: 10 }))`): each frame is made
   * when it is asked for (with `seek: 'exact'` each packet is decoded at most once), and leaving
   * the loop ends the job. Its `timeout` counts until the last frame.
   */
  frames(file, { signal, timeout, ...options } = {}) {
    return this.#series(file, options, signal, timeout);
  }

  /**
   * Sends the video to the server as an asynchronous job of `operation` ('thumbnail', 'probe',
   * 'sprite' or 'frames', with that call's options) and resolves, as soon as the server has it,
   * to the job's description `{ id, status, href, ... }`: `href` (GET) says where it is and
   * leads to its result once done; DELETE on it cancels it. For callers that keep the id
   * (to ask again after a reload, from another device); `t.sprite()` and the others already use
   * such jobs on the server for long work, and wait for them.
   */
  async job(operation, file, { signal, timeout = this.#timeout, ...options } = {}) {
    if (!['thumbnail', 'probe', 'sprite', 'frames'].includes(operation)) {
      throw new ThumbnailError('invalid_argument', `operation must be thumbnail, probe, sprite or frames, not ${operation}`);
    }
    if (!this.#server) throw new ThumbnailError('invalid_argument', 'job() needs the `server` option (the URL of POST /thumbnail)');
    if (!(file instanceof Blob)) throw new ThumbnailError('invalid_argument', 'a job on the server takes a File or a Blob');
    check(file, signal, timeout);
    return this.#request(operation, file, options, signal, timeout, this.#generation, 'accept');
  }

  /**
   * Stops the worker and ends every job not yet settled (queued, starting the engine, running, or
   * on the server) with `aborted`. The Thumbnailer can still be used: the next job starts a new worker.
   */
  terminate() {
    this.#generation++;
    this.#engine.stop({ code: 'aborted', message: 'the thumbnailer was terminated', fatal: false });
    for (const request of this.#requests) request.abort();
  }

  async #dispatch(kind, given, options, signal, timeout = this.#timeout) {
    const file = source(given);
    check(file, signal, timeout);
    const generation = this.#generation;
    if (this.#engineChoice === 'server') {
      if (typeof file === 'string') throw new ThumbnailError('invalid_argument', 'a URL is read by the browser engine only: pass the File, or use engine auto or browser');
      return this.#viaServer(kind, file, options, signal, timeout, generation);
    }
    if (!browserCapable()) {
      const why = new ThumbnailError('engine_unavailable', 'this browser has no Web Workers, WebAssembly or OffscreenCanvas');
      await this.#mayUpload(file, why, signal);
      return this.#viaServer(kind, file, options, signal, timeout, generation);
    }
    try {
      return await this.#inBrowser(kind, file, options, signal, timeout, generation);
    } catch (e) {
      if (this.#engineChoice !== 'auto' || !FALL_BACK_ON.has(e.code)) throw e;
      await this.#mayUpload(file, e, signal);
      return this.#viaServer(kind, file, options, signal, timeout, generation);
    }
  }

  async *#series(given, options, signal, timeout = this.#timeout) {
    const file = source(given);
    check(file, signal, timeout);
    if (typeof file === 'string' && this.#engineChoice === 'server') throw new ThumbnailError('invalid_argument', 'a URL is read by the browser engine only');
    const generation = this.#generation;
    if (this.#engineChoice !== 'server' && browserCapable()) {
      let yielded = false;
      try {
        for await (const frame of this.#seriesInBrowser(file, options, signal, timeout, generation)) {
          yielded = true;
          yield frame;
        }
        return;
      } catch (e) {
        // `auto` goes to the server only if the browser could not make the first frame.
        if (yielded || this.#engineChoice !== 'auto' || !FALL_BACK_ON.has(e.code)) throw e;
        await this.#mayUpload(file, e, signal);
      }
    } else if (this.#engineChoice !== 'server') {
      await this.#mayUpload(file, new ThumbnailError('engine_unavailable', 'this browser has no Web Workers, WebAssembly or OffscreenCanvas'), signal);
    }
    const { frames } = await this.#viaServer('frames', file, options, signal, timeout, generation);
    for (const { image, ...frame } of frames) {
      const blob = await (await fetch(image)).blob();
      // As the browser gives them: an ImageBitmap unless a format was asked.
      yield options.format == null ? { ...frame, bitmap: await createImageBitmap(blob), engine: 'server' } : { ...frame, blob, engine: 'server' };
    }
  }

  /**
   * A series on the worker, queued as any job; it holds the worker from its first frame to its
   * last. Its timeout and signal end it even while the caller holds a frame and asks for no more.
   */
  async *#seriesInBrowser(file, options, signal, timeout, generation) {
    const watcher = watch(signal, timeout, 'the job');
    let release;
    const mine = new Promise((resolve) => (release = resolve));
    const before = this.#queue;
    this.#queue = before.then(() => mine);
    let stream = null;
    let running = true;
    watcher.stopped.catch(() => {
      // The caller may never ask again: end the decode and free the queue now.
      if (running && stream) this.#engine.stop();
      release();
    });
    try {
      await Promise.race([before, watcher.stopped]);
      if (generation !== this.#generation) throw new ThumbnailError('aborted', 'the thumbnailer was terminated');
      let engine;
      try {
        engine = await Promise.race([this.#engine.start(), watcher.stopped]);
      } catch (e) {
        throw e instanceof ThumbnailError ? e : new ThumbnailError('engine_unavailable', String(e));
      }
      try {
        stream = await Promise.race([this.#engine.stream('frames', file, options), watcher.stopped]);
        for (;;) {
          const frame = await Promise.race([stream.next(), watcher.stopped]);
          if (!frame) return;
          yield { engine, ...frame }; // each frame says which path made it
        }
      } catch (e) {
        throw this.#engineFailure(e);
      }
    } finally {
      running = false;
      stream?.end();
      watcher.stop();
      release();
    }
  }

  /** A failure of a job on the worker, as the caller sees it; the worker ends when it must. */
  #engineFailure(e) {
    if (e instanceof ThumbnailError) {
      // The only way to halt a decode in progress (aborted, timeout) is to end the worker.
      if (e.code === 'aborted' || e.code === 'timeout') this.#engine.stop();
      return e;
    }
    if (e.fatal) this.#engine.stop();
    return new ThumbnailError(e.code, e.message);
  }

  /** `auto` is about to send the video to the server because of `why`: the page may say no. */
  async #mayUpload(file, why, signal) {
    if (!this.#server) throw why; // no server named: the browser's failure is the answer
    if (typeof file === 'string') throw why; // a URL: nothing here to send, the browser could not make it
    if (!this.#confirmUpload) return;
    let yes = false;
    try {
      yes = await this.#confirmUpload({ code: why.code, message: why.message, file });
    } catch {
      yes = false;
    }
    if (signal?.aborted) throw new ThumbnailError('aborted', 'the job was cancelled');
    if (yes !== true) {
      throw new ThumbnailError('upload_declined', `the browser could not make this frame (${why.code}: ${why.message}); the video was not sent to the server`);
    }
  }

  /**
   * Queues a job for the worker. Its time and its signal count from now: waiting behind other
   * jobs, the engine's start and the decoding; it settles as soon as either fires.
   */
  #inBrowser(kind, file, options, signal, timeout, generation) {
    const watcher = watch(signal, timeout, 'the job');
    const run = this.#queue.then(() => this.#runOnWorker(kind, file, options, watcher, generation));
    this.#queue = run.catch(() => {});
    const job = Promise.race([run, watcher.stopped]);
    job.then(watcher.stop, watcher.stop);
    return job;
  }

  async #runOnWorker(kind, file, options, { stopped, fired }, generation) {
    if (generation !== this.#generation) throw new ThumbnailError('aborted', 'the thumbnailer was terminated');
    if (fired) throw fired; // cancelled or out of time while queued
    let engine;
    try {
      engine = await Promise.race([this.#engine.start(), stopped]);
    } catch (e) {
      // Stopped while the engine starts: the engine goes on starting for the next job.
      throw e instanceof ThumbnailError ? e : new ThumbnailError('engine_unavailable', String(e));
    }
    try {
      const result = await Promise.race([this.#engine.run(kind, file, options), stopped]);
      // A result says which path made it (browser-webcodecs, or the engine's name).
      return kind === 'probe' ? result : { engine, ...result };
    } catch (e) {
      throw this.#engineFailure(e);
    }
  }

  /**
   * Makes it on the server. A long operation (a sheet, a series of frames, an animation) is sent
   * as an asynchronous job (`Prefer: respond-async`): the server answers at once and the job is
   * polled with backoff until its result (which the poll's 303 leads to); a cancel or a timeout
   * deletes the job on the server.
   */
  async #viaServer(kind, file, options, signal, timeout, generation) {
    const long = kind === 'sprite' || kind === 'frames' || (kind === 'thumbnail' && (options.format === 'gif' || options.animated === true));
    return this.#request(kind, file, options, signal, timeout, generation, long ? 'job' : 'now');
  }

  /**
   * POSTs the video; `how` is 'now' (wait for the answer), 'job' (an asynchronous job, polled
   * to its result) or 'accept' (an asynchronous job: its description, at once).
   */
  async #request(kind, file, options, signal, timeout, generation, how) {
    if (generation !== this.#generation) throw new ThumbnailError('aborted', 'the thumbnailer was terminated');
    // POST /probe, /sprite and /frames live beside POST /thumbnail.
    const url = kind === 'thumbnail' ? new URL(this.#server.href) : new URL(kind, this.#server);
    for (const [name, value] of Object.entries(options)) {
      if (value !== undefined && value !== null) url.searchParams.set(name, String(value));
    }
    const body = new FormData();
    body.append('video', file, file.name || 'video');
    // One controller for the caller's signal, the timeout and terminate() (no AbortSignal.any or
    // AbortSignal.timeout: older browsers, the ones that need the server, lack them).
    const request = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      request.abort();
    }, timeout);
    const onAbort = () => request.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    this.#requests.add(request);
    let job = null; // the asynchronous job's address, while it is not finished
    try {
      const headers = how === 'now' ? {} : { prefer: 'respond-async' };
      let response = await fetch(url, { method: 'POST', body, headers, signal: request.signal });
      if (response.status === 202) {
        const accepted = await response.json();
        if (how === 'accept') return { ...accepted, href: new URL(accepted.href, url).href };
        job = new URL(accepted.href, url);
        response = await this.#poll(job, response, request.signal);
        job = null;
      }
      if (!response.ok) throw await problem(response);
      if (kind === 'probe' || kind === 'frames') return await response.json(); // probe: the same shape as the browser's
      if (kind === 'sprite') {
        const { image, ...sheet } = await response.json(); // the same shape, the image as a data URL
        return { ...sheet, blob: await (await fetch(image)).blob(), engine: 'server' };
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
      if (e instanceof ThumbnailError) throw e; // the job (if any) is finished
      // A job stopped here is stopped on the server too (nobody would read its result).
      if (job) fetch(job, { method: 'DELETE', keepalive: true }).catch(() => {});
      // Stopped while sending, waiting or reading the answer.
      if (timedOut) throw new ThumbnailError('timeout', `the server took longer than ${timeout} ms`);
      if (request.signal.aborted) throw new ThumbnailError('aborted', 'the job was cancelled');
      throw new ThumbnailError('network', `the server could not be reached: ${e.message}`);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      this.#requests.delete(request);
    }
  }

  /**
   * Asks about the job at `job` until it is finished: its result's response (GET /jobs/{id}
   * answers 303 to it once done, which fetch follows), or a ThumbnailError with the failed job's
   * code. Waits Retry-After, growing by half each time up to 2 s.
   */
  async #poll(job, accepted, signal) {
    let wait = Math.max(100, Number(accepted.headers.get('retry-after')) * 1000 || 250) / 2;
    for (;;) {
      await sleep(wait, signal);
      wait = Math.min(wait * 1.5, 2000);
      const response = await fetch(job, { signal, cache: 'no-store' });
      if (response.redirected) return response; // done: this is the result
      if (!response.ok) throw await problem(response);
      const described = await response.json();
      if (described.status === 'failed') {
        const { code, detail, status } = described.error || {};
        throw new ThumbnailError(code || 'internal', detail || 'the job failed on the server', { status });
      }
      if (described.status === 'cancelled') throw new ThumbnailError('aborted', 'the job was cancelled on the server');
    }
  }
}

/** Resolves after `ms`, or rejects (AbortError) when `signal` aborts first. */
function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(new DOMException('aborted', 'AbortError'));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** A failed response as a ThumbnailError: its problem document, or its status in the vocabulary's words. */
async function problem(response) {
  const body = await response.json().catch(() => ({}));
  // Not a problem document (a proxy's error page, ...): said in the vocabulary's words.
  const code = body.code || (response.status >= 500 ? 'internal' : 'bad_request');
  return new ThumbnailError(code, body.detail || `the server answered ${response.status}`, { status: response.status });
}

