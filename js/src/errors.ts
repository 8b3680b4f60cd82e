// The failures of the JS API: one class, its `code` one of the vocabulary's words.

/**
 * What a `ThumbnailError` says went wrong: `CODES` in vocabulary/src/error.rs, the one list (a test
 * compares this type with it). The engine's and the server's codes are the same words.
 * - not_media, unsupported_container, no_video, unsupported_codec, corrupt, too_large, no_memory, io:
 *   the video
 * - invalid_argument: an option (`at`, `width`, `format`, ...)
 * - aborted (name 'AbortError'), timeout: the job was stopped
 * - engine_crashed: the engine (in the browser, or the server's worker process) died on this video
 * - engine_unavailable: the browser engine did not load
 * - upload_declined: `auto` would have sent the video to the server, and `confirmUpload` said no
 * - network, upload_too_large, busy, request_timeout, bad_request, unsupported_media_type, internal:
 *   the server path
 * - idempotency_key_reused: an asynchronous request's Idempotency-Key was sent before with
 *   another request (operation, query or video).
 * - not_found, gone, conflict: an asynchronous job of the server unknown, expired, or not in a
 *   state for what was asked (cancelling a finished job)
 * - source_not_found, source_no_range, source_refused: a URL source is not there (404, 410), is
 *   served without HTTP Range requests, or cannot be read from this page (CORS, unreachable,
 *   another status)
 * - source_changed: the file at a URL source changed while it was read (its ETag, Last-Modified
 *   or length differ, or the server sent other bytes than asked)
 */
export type ThumbnailErrorCode =
  | 'not_media'
  | 'unsupported_container'
  | 'no_video'
  | 'unsupported_codec'
  | 'corrupt'
  | 'too_large'
  | 'no_memory'
  | 'io'
  | 'invalid_argument'
  | 'timeout'
  | 'engine_crashed'
  | 'bad_request'
  | 'upload_too_large'
  | 'unsupported_media_type'
  | 'busy'
  | 'request_timeout'
  | 'internal'
  | 'not_found'
  | 'gone'
  | 'conflict'
  | 'idempotency_key_reused'
  | 'aborted'
  | 'engine_unavailable'
  | 'upload_declined'
  | 'network'
  | 'source_not_found'
  | 'source_no_range'
  | 'source_refused'
  | 'source_changed';

/** A failure with a `code` to switch on. */
export class ThumbnailError extends Error {
  /** 'AbortError' for `aborted`, else 'ThumbnailError'. */
  override readonly name: 'ThumbnailError' | 'AbortError';
  readonly code: ThumbnailErrorCode;
  /** The HTTP status, when the server answered the error. */
  readonly status?: number;

  constructor(code: ThumbnailErrorCode, message: string, { status }: { status?: number } = {}) {
    super(message);
    this.name = code === 'aborted' ? 'AbortError' : 'ThumbnailError';
    this.code = code;
    if (status !== undefined) this.status = status;
  }
}

/** A failure as the worker posts it: a code, words, and whether the worker must be replaced. */
export interface WorkerFailure {
  code: ThumbnailErrorCode;
  message: string;
  fatal: boolean;
}
