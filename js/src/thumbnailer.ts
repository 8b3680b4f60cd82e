// The thumbnailer's JS API: the Thumbnailer class, which sends each job to the Web Worker that
// runs the engine in the browser (engine-worker.ts) or, where the browser cannot and a server is
// named, to the server (server-client.ts). Options are parsed by the Rust vocabulary on either
// side. The element <video-thumbnailer> is another module (video-thumbnailer.ts): importing this
// one defines nothing, and touches no `window`, `document` or `Worker` until it is used.
//
//   const t = await Thumbnailer.create();
//   const { blob, width, height, time, engine } = await t.thumbnail(file, { at: '10%', width: 640 });

import { browserCapable, EngineWorker, type JobKind, type Stream } from './engine-worker.js';
import { ThumbnailError, type ThumbnailErrorCode, type WorkerFailure } from './errors.js';
import { ServerClient, type How } from './server-client.js';
import type {
  CreateOptions,
  EngineName,
  Frame,
  FramesOptions,
  Job,
  JobOptions,
  Source,
  Sprite,
  SpriteOptions,
  Thumbnail,
  ThumbnailOptions,
  VideoInfo,
} from './types.js';

export { ThumbnailError } from './errors.js';
export type { ThumbnailErrorCode } from './errors.js';
export type * from './types.js';

/** Codes after which `auto` asks the server instead: the browser engine cannot make this frame. */
const FALL_BACK_ON = new Set<ThumbnailErrorCode>(['unsupported_codec', 'engine_crashed', 'engine_unavailable', 'no_memory']);
const ENGINES = new Set(['auto', 'browser', 'server']);
const NO_ENGINE = 'this browser has no Web Workers, WebAssembly or OffscreenCanvas';

type Engine = 'auto' | 'browser' | 'server';
type ConfirmUpload = NonNullable<CreateOptions['confirmUpload']>;

/** A job's deadline and cancel: `stopped` rejects when either fires (and `fired` is then that error). */
interface Watcher {
  stopped: Promise<never>;
  fired: ThumbnailError | null;
  stop: () => void;
}

/**
 * `stopped` rejects when `signal` aborts or `timeout` ms pass, whichever first (and `fired` is then
 * that error); `stop()` clears both.
 */
function watch(signal: AbortSignal | undefined, timeout: number, what: string): Watcher {
  const watcher = { fired: null, stop: () => {} } as Omit<Watcher, 'stopped'> as Watcher;
  watcher.stopped = new Promise<never>((_, reject) => {
    const fire = (error: ThumbnailError) => {
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
function source(file: Source): Blob | string {
  if (file instanceof Blob) return file;
  if (typeof file === 'string' || file instanceof URL) {
    try {
      return new URL(file, globalThis.location?.href).href;
    } catch {
      throw new ThumbnailError('invalid_argument', `not a URL: ${file}`);
    }
  }
  throw new ThumbnailError('invalid_argument', 'pass a File, a Blob or a URL');
}

/** Refuses what no engine could take: a bad timeout, a signal already aborted. */
function check(signal: AbortSignal | undefined, timeout: number) {
  if (!(timeout > 0)) throw new ThumbnailError('invalid_argument', `timeout must be a number of milliseconds above 0, not ${timeout}`);
  if (signal?.aborted) throw new ThumbnailError('aborted', 'the job was cancelled');
}

/** A URL option, or null when not given. */
function urlOption(value: string | URL | null | undefined, what: string): URL | null {
  if (value === null || value === undefined) return null;
  try {
    return new URL(value, globalThis.location?.href);
  } catch {
    throw new ThumbnailError('invalid_argument', `${what} must be a URL, not ${value}`);
  }
}

export class Thumbnailer {
  #engineChoice: Engine;
  #server: ServerClient | null;
  #timeout: number;
  #confirmUpload: ConfirmUpload | undefined;
  #engine = new EngineWorker();
  #queue: Promise<unknown> = Promise.resolve(); // jobs on the worker run one at a time
  #generation = 0; // terminate() ends the jobs of earlier generations, queued or running

  /**
   * A thumbnailer (see `CreateOptions`); with `engine: 'browser'`, once its engine has started.
   * Unknown options are refused.
   */
  static async create(options: CreateOptions = {}): Promise<Thumbnailer> {
    const { server = null, engine = 'auto', timeout = 60000, confirmUpload, webcodecs = true, assets = null, ...unknown } = options;
    const extra = Object.keys(unknown);
    if (extra.length) throw new ThumbnailError('invalid_argument', `unknown option \`${extra[0]}\` (known: server, engine, timeout, confirmUpload, webcodecs, assets)`);
    if (typeof webcodecs !== 'boolean') throw new ThumbnailError('invalid_argument', 'webcodecs must be true or false');
    if (!ENGINES.has(engine)) throw new ThumbnailError('invalid_argument', `engine must be auto, browser or server, not ${engine}`);
    if (!(timeout > 0)) throw new ThumbnailError('invalid_argument', `timeout must be a number of milliseconds above 0, not ${timeout}`);
    if (confirmUpload !== undefined && typeof confirmUpload !== 'function') throw new ThumbnailError('invalid_argument', 'confirmUpload must be a function');
    const serverUrl = urlOption(server, 'server');
    if (engine === 'server' && !serverUrl) throw new ThumbnailError('invalid_argument', 'engine server needs the `server` option (the URL of POST /thumbnail)');
    const assetsUrl = urlOption(assets, 'assets');
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
      throw new ThumbnailError('engine_unavailable', NO_ENGINE);
    }
    return t;
  }

  private constructor(server: URL | null, engine: Engine, timeout: number, confirmUpload: ConfirmUpload | undefined) {
    this.#server = server && new ServerClient(server);
    this.#engineChoice = engine;
    this.#timeout = timeout;
    this.#confirmUpload = confirmUpload;
  }

  /** `{ duration, width, height, codec, rotation, fps, ... }` of a video. */
  probe(file: Source, { signal, timeout }: JobOptions = {}): Promise<VideoInfo> {
    return this.#dispatch('probe', file, {}, signal, timeout);
  }

  /**
   * The frame at `at` (seconds, '10%' or '00:01:02.5'; default 1 s) of a video, fitted in width x
   * height, as `{ blob, width, height, time, engine }`. `timeout` (ms) overrides the
   * Thumbnailer's for this job.
   */
  thumbnail(file: Source, { signal, timeout, ...options }: ThumbnailOptions = {}): Promise<Thumbnail> {
    return this.#dispatch('thumbnail', file, options, signal, timeout);
  }

  /**
   * A contact sheet of a video: `count` frames spread over it (or one `every` s), `columns` a row,
   * each fitted in width x height, as `{ blob, columns, rows, tileWidth, tileHeight, times, vtt,
   * engine }`; `vtt` is the WebVTT thumbnails track, pointing at the image as `sprite.<ext>`.
   */
  sprite(file: Source, { signal, timeout, ...options }: SpriteOptions = {}): Promise<Sprite> {
    return this.#dispatch('sprite', file, options, signal, timeout);
  }

  /**
   * The frames of a video at `times` (increasing seconds), or `count` spread over it, or one
   * `every` s, each fitted in width x height, one at a time: `{ time, width, height, bitmap,
   * engine }` (an ImageBitmap), or `{ ..., blob }` when a `format` is asked. An async iterator
   * (`for await (const frame of t.frames(file, { count: 10 }))`): each frame is made when it is
   * asked for (with `seek: 'exact'` each packet is decoded at most once), and leaving the loop
   * ends the job. Its `timeout` counts until the last frame.
   */
  frames(file: Source, { signal, timeout, ...options }: FramesOptions = {}): AsyncGenerator<Frame, void, undefined> {
    return this.#series(file, options, signal, timeout);
  }

  /**
   * Sends the video to the server as an asynchronous job of `operation` (with that call's
   * options) and resolves, as soon as the server has it, to the job's description `{ id, status,
   * href, ... }`: `href` (GET) says where it is and leads to its result once done; DELETE on it
   * cancels it. For callers that keep the id (to ask again after a reload, from another device);
   * `t.sprite()` and the others already use such jobs on the server for long work, and wait for
   * them. Needs the `server` option.
   */
  job(operation: 'thumbnail', file: Blob, options?: ThumbnailOptions): Promise<Job>;
  job(operation: 'probe', file: Blob, options?: JobOptions): Promise<Job>;
  job(operation: 'sprite', file: Blob, options?: SpriteOptions): Promise<Job>;
  job(operation: 'frames', file: Blob, options?: FramesOptions): Promise<Job>;
  async job(operation: JobKind, file: Blob, { signal, timeout = this.#timeout, ...options }: JobOptions & Record<string, unknown> = {}): Promise<Job> {
    if (!['thumbnail', 'probe', 'sprite', 'frames'].includes(operation)) {
      throw new ThumbnailError('invalid_argument', `operation must be thumbnail, probe, sprite or frames, not ${operation}`);
    }
    if (!this.#server) throw new ThumbnailError('invalid_argument', 'job() needs the `server` option (the URL of POST /thumbnail)');
    if (!(file instanceof Blob)) throw new ThumbnailError('invalid_argument', 'a job on the server takes a File or a Blob');
    check(signal, timeout);
    return this.#viaServer(operation, file, options, signal, timeout, this.#generation, 'accept');
  }

  /**
   * Stops the worker and ends every job not yet settled (queued, starting the engine, running, or
   * on the server) with `aborted`. The Thumbnailer can still be used: the next job starts a new worker.
   */
  terminate(): void {
    this.#generation++;
    this.#engine.stop({ code: 'aborted', message: 'the thumbnailer was terminated', fatal: false });
    this.#server?.abortAll();
  }

  async #dispatch(kind: JobKind, given: Source, options: object, signal?: AbortSignal, timeout = this.#timeout): Promise<any> {
    const file = source(given);
    check(signal, timeout);
    const generation = this.#generation;
    if (this.#engineChoice === 'server') {
      if (typeof file === 'string') throw new ThumbnailError('invalid_argument', 'a URL is read by the browser engine only: pass the File, or use engine auto or browser');
      return this.#viaServer(kind, file, options, signal, timeout, generation, this.#how(kind, options));
    }
    if (!browserCapable()) {
      const why = new ThumbnailError('engine_unavailable', NO_ENGINE);
      const blob = await this.#mayUpload(file, why, signal);
      return this.#viaServer(kind, blob, options, signal, timeout, generation, this.#how(kind, options));
    }
    try {
      return await this.#inBrowser(kind, file, options, signal, timeout, generation);
    } catch (e) {
      if (!(e instanceof ThumbnailError) || this.#engineChoice !== 'auto' || !FALL_BACK_ON.has(e.code)) throw e;
      const blob = await this.#mayUpload(file, e, signal);
      return this.#viaServer(kind, blob, options, signal, timeout, generation, this.#how(kind, options));
    }
  }

  async *#series(given: Source, options: object & { format?: string }, signal?: AbortSignal, timeout = this.#timeout): AsyncGenerator<Frame, void, undefined> {
    const file = source(given);
    check(signal, timeout);
    if (typeof file === 'string' && this.#engineChoice === 'server') throw new ThumbnailError('invalid_argument', 'a URL is read by the browser engine only');
    const generation = this.#generation;
    let blob: Blob;
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
        if (!(e instanceof ThumbnailError) || yielded || this.#engineChoice !== 'auto' || !FALL_BACK_ON.has(e.code)) throw e;
        blob = await this.#mayUpload(file, e, signal);
      }
    } else if (this.#engineChoice !== 'server') {
      blob = await this.#mayUpload(file, new ThumbnailError('engine_unavailable', NO_ENGINE), signal);
    } else {
      blob = file as Blob;
    }
    const { frames } = await this.#viaServer('frames', blob, options, signal, timeout, generation, 'job');
    for (const { image, ...frame } of frames as { image: string; time: number; width: number; height: number }[]) {
      const blob = await (await fetch(image)).blob();
      // As the browser gives them: an ImageBitmap unless a format was asked.
      yield options.format == null ? { ...frame, bitmap: await createImageBitmap(blob), engine: 'server' } : { ...frame, blob, engine: 'server' };
    }
  }

  /**
   * A series on the worker, queued as any job; it holds the worker from its first frame to its
   * last. Its timeout and signal end it even while the caller holds a frame and asks for no more.
   */
  async *#seriesInBrowser(file: Blob | string, options: object, signal: AbortSignal | undefined, timeout: number, generation: number): AsyncGenerator<Frame, void, undefined> {
    const watcher = watch(signal, timeout, 'the job');
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const before = this.#queue;
    this.#queue = before.then(() => mine);
    let stream: Stream | null = null;
    let running = true;
    watcher.stopped.catch(() => {
      // The caller may never ask again: end the decode and free the queue now.
      if (running && stream) this.#engine.stop();
      release();
    });
    try {
      await Promise.race([before, watcher.stopped]);
      if (generation !== this.#generation) throw new ThumbnailError('aborted', 'the thumbnailer was terminated');
      let engine: EngineName;
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
  #engineFailure(e: unknown): ThumbnailError {
    if (e instanceof ThumbnailError) {
      // The only way to halt a decode in progress (aborted, timeout) is to end the worker.
      if (e.code === 'aborted' || e.code === 'timeout') this.#engine.stop();
      return e;
    }
    const failure = e as WorkerFailure;
    if (failure.fatal) this.#engine.stop();
    return new ThumbnailError(failure.code, failure.message);
  }

  /**
   * `auto` is about to send the video to the server because of `why`: the page may say no. There
   * must be a server and a file to send; resolves to the file.
   */
  async #mayUpload(file: Blob | string, why: ThumbnailError, signal?: AbortSignal): Promise<Blob> {
    if (!this.#server) throw why; // no server named: the browser's failure is the answer
    if (typeof file === 'string') throw why; // a URL: nothing here to send, the browser could not make it
    if (!this.#confirmUpload) return file;
    let yes: boolean = false;
    try {
      yes = await this.#confirmUpload({ code: why.code, message: why.message, file });
    } catch {
      yes = false;
    }
    if (signal?.aborted) throw new ThumbnailError('aborted', 'the job was cancelled');
    if (yes !== true) {
      throw new ThumbnailError('upload_declined', `the browser could not make this frame (${why.code}: ${why.message}); the video was not sent to the server`);
    }
    return file;
  }

  /**
   * Queues a job for the worker. Its time and its signal count from now: waiting behind other
   * jobs, the engine's start and the decoding; it settles as soon as either fires.
   */
  #inBrowser(kind: JobKind, file: Blob | string, options: object, signal: AbortSignal | undefined, timeout: number, generation: number): Promise<any> {
    const watcher = watch(signal, timeout, 'the job');
    const run = this.#queue.then(() => this.#runOnWorker(kind, file, options, watcher, generation));
    this.#queue = run.catch(() => {});
    const job = Promise.race([run, watcher.stopped]);
    job.then(watcher.stop, watcher.stop);
    return job;
  }

  async #runOnWorker(kind: JobKind, file: Blob | string, options: object, { stopped, fired }: Watcher, generation: number): Promise<any> {
    if (generation !== this.#generation) throw new ThumbnailError('aborted', 'the thumbnailer was terminated');
    if (fired) throw fired; // cancelled or out of time while queued
    let engine: EngineName;
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
   * A long operation on the server (a sheet, a series of frames, an animation) is sent as an
   * asynchronous job (`Prefer: respond-async`), polled with backoff until its result; a cancel or
   * a timeout deletes the job on the server.
   */
  #how(kind: JobKind, options: { format?: string; animated?: boolean }): How {
    const long = kind === 'sprite' || kind === 'frames' || (kind === 'thumbnail' && (options.format === 'gif' || options.animated === true));
    return long ? 'job' : 'now';
  }

  #viaServer(kind: JobKind, file: Blob, options: object, signal: AbortSignal | undefined, timeout: number, generation: number, how: How): Promise<any> {
    if (generation !== this.#generation) return Promise.reject(new ThumbnailError('aborted', 'the thumbnailer was terminated'));
    return this.#server!.request(kind, file, options as Record<string, unknown>, signal, timeout, how);
  }
}
