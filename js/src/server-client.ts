// A thumbnail server's HTTP API as the JS API uses it: POST /thumbnail (and /probe, /sprite,
// /frames beside it) answered at once, or as an asynchronous job polled to its result.

import { ThumbnailError, type ThumbnailErrorCode } from './errors.js';
import type { JobKind } from './engine-worker.js';
import type { Job } from './types.js';

/** 'now': wait for the answer; 'job': an asynchronous job, polled to its result; 'accept': an asynchronous job's description, at once. */
export type How = 'now' | 'job' | 'accept';

export class ServerClient {
  readonly #thumbnail: URL;
  #requests = new Set<AbortController>(); // the requests in flight

  /** `thumbnail`: the URL of POST /thumbnail. */
  constructor(thumbnail: URL) {
    this.#thumbnail = thumbnail;
  }

  /** Aborts every request in flight (each fails with `aborted`). */
  abortAll() {
    for (const request of this.#requests) request.abort();
  }

  /**
   * POSTs the video with `options` as the query; see `How`. Failures are ThumbnailErrors: the
   * server's problem document, or `timeout`, `aborted`, `network`.
   */
  async request(kind: JobKind, file: Blob, options: Record<string, unknown>, signal: AbortSignal | undefined, timeout: number, how: How): Promise<any> {
    // POST /probe, /sprite and /frames live beside POST /thumbnail.
    const url = kind === 'thumbnail' ? new URL(this.#thumbnail.href) : new URL(kind, this.#thumbnail);
    for (const [name, value] of Object.entries(options)) {
      if (value !== undefined && value !== null) url.searchParams.set(name, String(value));
    }
    const body = new FormData();
    body.append('video', file, (file as File).name || 'video');
    // One controller for the caller's signal, the timeout and abortAll() (no AbortSignal.any or
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
    let job: URL | null = null; // the asynchronous job's address, while it is not finished
    try {
      const headers: Record<string, string> = how === 'now' ? {} : { prefer: 'respond-async' };
      let response = await fetch(url, { method: 'POST', body, headers, signal: request.signal });
      if (response.status === 202) {
        const accepted = (await response.json()) as Job;
        if (how === 'accept') return { ...accepted, href: new URL(accepted.href, url).href };
        job = new URL(accepted.href, url);
        response = await poll(job, response, request.signal);
        job = null;
      }
      if (!response.ok) throw await problem(response);
      if (kind === 'probe' || kind === 'frames') return await response.json(); // probe: the same shape as the browser's
      if (kind === 'sprite') {
        const { image, ...sheet } = await response.json(); // the same shape, the image as a data URL
        return { ...sheet, blob: await (await fetch(image)).blob(), engine: 'server' };
      }
      const number = (name: string) => Number(response.headers.get(name));
      return {
        blob: await response.blob(),
        width: number('x-image-width'),
        height: number('x-image-height'),
        time: number('x-frame-time'),
        duration: response.headers.has('x-video-duration') ? number('x-video-duration') : null,
        engine: 'server',
        ...(response.headers.has('x-thumbhash') && {
          thumbhash: response.headers.get('x-thumbhash')!,
          averageColor: response.headers.get('x-average-color')!,
        }),
      };
    } catch (e) {
      if (e instanceof ThumbnailError) throw e; // the job (if any) is finished
      // A job stopped here is stopped on the server too (nobody would read its result).
      if (job) fetch(job, { method: 'DELETE', keepalive: true }).catch(() => {});
      // Stopped while sending, waiting or reading the answer.
      if (timedOut) throw new ThumbnailError('timeout', `the server took longer than ${timeout} ms`);
      if (request.signal.aborted) throw new ThumbnailError('aborted', 'the job was cancelled');
      throw new ThumbnailError('network', `the server could not be reached: ${(e as Error).message}`);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      this.#requests.delete(request);
    }
  }
}

/**
 * Asks about the job at `job` until it is finished: its result's response (GET /jobs/{id}
 * answers 303 to it once done, which fetch follows), or a ThumbnailError with the failed job's
 * code. Waits Retry-After, growing by half each time up to 2 s.
 */
async function poll(job: URL, accepted: Response, signal: AbortSignal): Promise<Response> {
  let wait = Math.max(100, Number(accepted.headers.get('retry-after')) * 1000 || 250) / 2;
  for (;;) {
    await sleep(wait, signal);
    wait = Math.min(wait * 1.5, 2000);
    const response = await fetch(job, { signal, cache: 'no-store' });
    if (response.redirected) return response; // done: this is the result
    if (!response.ok) throw await problem(response);
    const described = (await response.json()) as Job;
    if (described.status === 'failed') {
      const { code, detail, status } = described.error || ({} as Partial<NonNullable<Job['error']>>);
      throw new ThumbnailError(code || 'internal', detail || 'the job failed on the server', { status });
    }
    if (described.status === 'cancelled') throw new ThumbnailError('aborted', 'the job was cancelled on the server');
  }
}

/** Resolves after `ms`, or rejects (AbortError) when `signal` aborts first. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
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
async function problem(response: Response): Promise<ThumbnailError> {
  const body: { code?: ThumbnailErrorCode; detail?: string } = await response.json().catch(() => ({}));
  // Not a problem document (a proxy's error page, ...): said in the vocabulary's words.
  const code = body.code || (response.status >= 500 ? 'internal' : 'bad_request');
  return new ThumbnailError(code, body.detail || `the server answered ${response.status}`, { status: response.status });
}
