// The page's side of the Web Worker that runs the engine (thumbnailer-worker.js and the Rust
// worker): where its files are, starting it, and the messages of its jobs.

import { ThumbnailError, type WorkerFailure } from './errors.js';
import type { EngineName } from './types.js';

/** The files the worker loads, by their paths in the package (the same under the server's `/`). */
const ASSET_PATHS = [
  'pkg/thumbnail_worker.js',
  'pkg/thumbnail_worker_bg.wasm',
  'engine/thumbnail-engine-demux.js',
  'engine/thumbnail-engine-demux.wasm',
  'engine/thumbnail-engine-st.js',
  'engine/thumbnail-engine-st.wasm',
  'engine/thumbnail-engine-mt.js',
  'engine/thumbnail-engine-mt.wasm',
  'engine/thumbnail-engine-mt.worker.js',
] as const;

type Assets = Record<(typeof ASSET_PATHS)[number], string>;

/**
 * Where those files are: beside this module, each named by a literal `new URL('./…',
 * import.meta.url)`, the expression bundlers (Vite, webpack 5, Rollup, esbuild, Parcel) find, copy
 * the file for and rewrite; or, given `assets` (a folder's URL: a CDN, a self-hosted copy of the
 * package), under it. Nothing is fetched until the engine starts.
 */
function assetUrls(assets: URL | null): Assets {
  if (assets) return Object.fromEntries(ASSET_PATHS.map((path) => [path, new URL(path, assets).href])) as Assets;
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
 * Starts the worker from its file: beside this module (named, as the others, by a literal
 * `new URL('./…', import.meta.url)`: bundlers copy the file as it is, a classic script that
 * imports nothing), or under `assets`. From a blob where it cannot start from its URL: a worker
 * of another origin (a CDN, a page embedding a server's module) from one that imports it (served
 * with CORS and CORP); a file a bundler inlined as a `data:` URL (Vite does below 4 KB; such a
 * worker would have no origin) from one holding its text. Returns the worker and the blob's URL
 * to revoke once it has started (or null).
 */
function startWorker(assets: URL | null): { worker: Worker; boot: string | null } {
  const url = assets ? new URL('thumbnailer-worker.js', assets) : new URL('./thumbnailer-worker.js', import.meta.url);
  let boot: Blob;
  if (url.protocol === 'data:') {
    boot = new Blob([bytesOfDataUrl(url.href)], { type: 'text/javascript' });
  } else if (url.origin === location.origin) {
    return { worker: new Worker(url), boot: null };
  } else {
    boot = new Blob([`importScripts(${JSON.stringify(url.href)});`], { type: 'text/javascript' });
  }
  const bootUrl = URL.createObjectURL(boot);
  return { worker: new Worker(bootUrl), boot: bootUrl };
}

/** The bytes a `data:` URL holds (base64 or percent-encoded). */
function bytesOfDataUrl(href: string): Uint8Array<ArrayBuffer> {
  const comma = href.indexOf(',');
  const payload = href.slice(comma + 1);
  if (!href.slice(0, comma).endsWith(';base64')) return new TextEncoder().encode(decodeURIComponent(payload));
  return Uint8Array.from(atob(payload), (c) => c.charCodeAt(0));
}

/** Whether this browser can run the engine at all (a Worker, WebAssembly, OffscreenCanvas). */
export function browserCapable(): boolean {
  return typeof Worker === 'function' && typeof WebAssembly === 'object' && typeof OffscreenCanvas === 'function';
}

export type JobKind = 'thumbnail' | 'probe' | 'sprite' | 'frames';

/** A job waiting for the worker's answer. */
interface Pending {
  resolve: (result: any) => void;
  reject: (error: WorkerFailure) => void;
  frame?: (frame: any) => void;
}

/** A series of frames on the worker, one asked at a time. */
export interface Stream {
  /** Its next frame, or null once it has ended; rejects with a `WorkerFailure` as `run()` does. */
  next(): Promise<any | null>;
  /** Ends the series early. */
  end(): void;
}

/** One worker, started on first use and replaced after a crash, an abort or a timeout. */
export class EngineWorker {
  /** Whether frames may be decoded by the browser's WebCodecs (the Thumbnailer's `webcodecs`). */
  webcodecs = true;
  /** The Thumbnailer's `assets` (null: beside this module). */
  assets: URL | null = null;
  #worker: Worker | null = null;
  #ready: Promise<EngineName> | null = null;
  #failStart: ((error: ThumbnailError) => void) | null = null; // rejects #ready while the engine is starting
  #bootUrl: string | null = null; // the blob URL a cross-origin worker starts from, revoked once it has
  #pending = new Map<number, Pending>();
  #nextId = 1;

  /** Starts the worker and its engine, once; resolves to the engine's name. */
  start(): Promise<EngineName> {
    if (this.#ready) return this.#ready;
    let worker: Worker | undefined;
    try {
      ({ worker, boot: this.#bootUrl } = startWorker(this.assets));
      worker.postMessage({ type: 'start', assets: assetUrls(this.assets) });
    } catch (e) {
      worker?.terminate();
      this.#revokeBoot();
      return Promise.reject(new ThumbnailError('engine_unavailable', `cannot start a Web Worker: ${(e as Error).message}`));
    }
    const started = worker;
    this.#worker = started;
    const ready = new Promise<EngineName>((resolve, reject) => {
      this.#failStart = reject;
      started.onmessage = ({ data }) => {
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
          job.frame?.(data.frame); // one frame of a series, which goes on
          return;
        }
        this.#pending.delete(data.id);
        if (data.ok) job.resolve(data.result);
        else job.reject(data.error);
      };
      started.onerror = (event) => {
        event.preventDefault();
        const error: WorkerFailure = { code: 'engine_crashed', message: `the engine stopped: ${event.message || 'worker error'}`, fatal: true };
        reject(new ThumbnailError(error.code, error.message));
        this.#failAll(error);
      };
    });
    // A failed start ends this worker (not a newer one started since).
    ready.catch(() => this.#ready === ready && this.stop());
    this.#ready = ready;
    return ready;
  }

  /** Runs one job; rejects with a `WorkerFailure`. */
  async run(kind: JobKind, file: Blob | string, options: object): Promise<any> {
    await this.start();
    const worker = this.#worker!;
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      worker.postMessage({ id, kind, file, options, webcodecs: this.webcodecs });
    });
  }

  /**
   * Starts a series of frames on the worker. `next()` resolves to its next frame, or null once it
   * has ended (asking the worker for the one after: one frame at a time), and rejects as run()
   * does; `end()` stops the series early.
   */
  async stream(kind: JobKind, file: Blob | string, options: object): Promise<Stream> {
    await this.start();
    const id = this.#nextId++;
    const worker = this.#worker!;
    const arrived: (object | null)[] = []; // frames, then null for the end, not yet taken
    let failed: WorkerFailure | null = null;
    let wake: (() => void) | null = null;
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
        while (!arrived.length && !failed) await new Promise<void>((resolve) => (wake = resolve));
        if (arrived.length) return arrived.shift();
        throw failed;
      },
      end: () => {
        if (!done) worker.postMessage({ id, more: false });
      },
    };
  }

  #failAll(error: WorkerFailure) {
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
  stop(reason: WorkerFailure = { code: 'aborted', message: 'the engine was stopped', fatal: false }) {
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
