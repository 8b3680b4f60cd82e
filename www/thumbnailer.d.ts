// Types of /thumbnailer.js, the thumbnailer's JS API.

/** Which engine made a frame. */
export type EngineName = 'browser-webcodecs' | 'browser-mt' | 'browser-st' | 'server';

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
 * - not_found, gone, conflict: an asynchronous job of the server unknown, expired, or not in a
 *   state for what was asked (cancelling a finished job)
 * - source_not_found, source_no_range, source_refused: a URL source is not there (404, 410), is
 *   served without HTTP Range requests, or cannot be read from this page (CORS, unreachable,
 *   another status)
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
  | 'aborted'
  | 'engine_unavailable'
  | 'upload_declined'
  | 'network'
  | 'source_not_found'
  | 'source_no_range'
  | 'source_refused';

export class ThumbnailError extends Error {
  /** 'AbortError' for `aborted`, else 'ThumbnailError'. */
  readonly name: 'ThumbnailError' | 'AbortError';
  readonly code: ThumbnailErrorCode;
  /** The HTTP status, when the server answered the error. */
  readonly status?: number;
}

export interface CreateOptions {
  /** URL of the server's POST /thumbnail (POST /probe is beside it). Default: `thumbnail` beside thumbnailer.js. */
  server?: string;
  /**
   * Which engine makes the frames. 'auto' (default): in the browser, falling back to the server
   * when the browser cannot (no Worker/WebAssembly, or a codec neither WebCodecs nor the wasm
   * engine decodes; see `confirmUpload`); 'browser'; 'server'. Unknown options are refused.
   */
  engine?: 'auto' | 'browser' | 'server';
  /** Milliseconds a job may take, the engine's start included. Default 60000. */
  timeout?: number;
  /**
   * Asked before `auto` sends a video to the server because the browser could not make the frame
   * (`why` is that failure). Anything but `true` keeps the video in the browser: the job fails with
   * `upload_declined`. Without it, `auto` sends the video.
   */
  confirmUpload?: (why: { code: ThumbnailErrorCode; message: string; file: Blob }) => boolean | Promise<boolean>;
  /**
   * The frames of a codec the browser decodes (H.264, VP8, VP9, AV1; HEVC where it has it) are
   * decoded by the browser's WebCodecs (`engine: 'browser-webcodecs'` in a result, a sheet, each
   * frame of a series), the wasm engine's decoders loading only for the rest and whenever WebCodecs
   * fails. Default true; false: always the wasm engine.
   */
  webcodecs?: boolean;
}

export interface JobOptions {
  signal?: AbortSignal;
  /** Milliseconds this job may take (default: the Thumbnailer's). */
  timeout?: number;
}

export interface ThumbnailOptions extends JobOptions {
  /**
   * Seconds (1.5), a share of the duration ('10%'), a timestamp ('00:01:02.5'), or 'auto': the most
   * representative frame (no black, blank or fading one). Default 1 s; past the end, the last frame.
   */
  at?: number | string | 'auto';
  /** The frame is scaled down to fit width x height (aspect kept); either may be left out. */
  width?: number;
  height?: number;
  /** Default 'png'. 'gif': an animation from `at` (720 px wide unless width/height say otherwise). */
  format?: 'png' | 'jpeg' | 'webp' | 'gif';
  /** 1-100, for jpeg and webp. */
  quality?: number;
  /** 'exact' (default): the frame at `at`; 'keyframe': the keyframe before it, faster. */
  seek?: 'exact' | 'keyframe';
  /**
   * An animation: always for 'gif'; `true` with 'webp' makes an animated WebP (in the browser each
   * frame is a still WebP of the canvas; the server's libwebp codes only what changed, so its
   * files are smaller). Not for png or jpeg.
   */
  animated?: boolean;
  /** For an animation: seconds of video (default 3, at most 30), */
  duration?: number;
  /** frames a second (default 5, at most 30), */
  fps?: number;
  /** and whether it loops (default true). */
  loop?: boolean;
}

export interface VideoInfo {
  /** Seconds, or null when the container does not say. */
  duration: number | null;
  /** Display size: rotation and pixel aspect ratio applied. */
  width: number;
  height: number;
  /** Size of the coded pictures. */
  codedWidth: number;
  codedHeight: number;
  codec: string;
  /** Clockwise degrees: 0, 90, 180 or 270. */
  rotation: number;
  fps: number | null;
}

export interface Thumbnail {
  blob: Blob;
  width: number;
  height: number;
  /** Seconds: the time of the frame that was made. */
  time: number;
  duration: number | null;
  engine: EngineName;
}

export interface SpriteOptions extends JobOptions {
  /** How many frames, spread over the video (default 24, at most 400); or: */
  count?: number;
  /** one frame every so many seconds, from the start (at least 0.04). */
  every?: number;
  /** Tiles in a row (default 6, at most 50). */
  columns?: number;
  /** Each frame fitted in width x height (default width 160; a height alone sets only the height). */
  width?: number;
  height?: number;
  /** Default 'jpeg'. */
  format?: 'png' | 'jpeg' | 'webp';
  /** 1-100, for jpeg and webp. */
  quality?: number;
}

/** A contact sheet and its WebVTT thumbnails track (video.js, Plyr, Vidstack read it). */
export interface Sprite {
  blob: Blob;
  columns: number;
  rows: number;
  tileWidth: number;
  tileHeight: number;
  /** Seconds: the time each tile stands for, in order. */
  times: number[];
  /** `WEBVTT` cues `sprite.<ext>#xywh=x,y,w,h`: serve the image under that name beside the track. */
  vtt: string;
  engine: EngineName;
}

export interface FramesOptions extends JobOptions {
  /** Seconds, increasing (at most 400); or: */
  times?: number[] | number;
  /** so many frames spread over the video (each in the middle of its share, at most 400); or: */
  count?: number;
  /** one frame every so many seconds, from the start (at least 0.04). */
  every?: number;
  /** Each frame fitted in width x height (aspect kept, never enlarged). */
  width?: number;
  height?: number;
  /** 'exact' (default): the first frame at or after each time; 'keyframe': the keyframe before it. */
  seek?: 'exact' | 'keyframe';
  /** Each frame encoded as an image (`blob`); without it, each is an ImageBitmap (`bitmap`). */
  format?: 'png' | 'jpeg' | 'webp';
  /** 1-100, for jpeg and webp. */
  quality?: number;
}

/** One frame of a series: an ImageBitmap (`bitmap`), or an image (`blob`) when a format was asked. */
export interface Frame {
  /** Seconds: the frame's own time. */
  time: number;
  width: number;
  height: number;
  bitmap?: ImageBitmap;
  blob?: Blob;
  engine: EngineName;
}

/** A job of the server, as GET /jobs/{id} describes it (see openapi.json). */
export interface Job {
  id: string;
  operation: 'thumbnail' | 'probe' | 'sprite' | 'frames';
  status: 'queued' | 'running' | 'done' | 'failed' | 'cancelled';
  attempts: number;
  /** How far a job of many frames is, 0 to 1 (null where unknown). */
  progress: number | null;
  node: string | null;
  /** Milliseconds since the Unix epoch. */
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  expiresAt: number | null;
  /** Its address (absolute from `job()`): GET it to know where it is (303 to the result once done), DELETE it to cancel. */
  href: string;
  result: string | null;
  /** A done sheet's image and WebVTT track at their own address (the track points at the image beside it). */
  files: string[];
  error: { code: ThumbnailErrorCode; detail: string; status: number } | null;
}

/**
 * What a job reads: a File or Blob, or a URL (absolute, or relative to the page) that the browser
 * engine reads in HTTP Range requests (CORS), never whole; a URL is never sent to the server.
 */
export type Source = Blob | string | URL;

export class Thumbnailer {
  static create(options?: CreateOptions): Promise<Thumbnailer>;
  probe(file: Source, options?: JobOptions): Promise<VideoInfo>;
  thumbnail(file: Source, options?: ThumbnailOptions): Promise<Thumbnail>;
  sprite(file: Source, options?: SpriteOptions): Promise<Sprite>;
  /**
   * The frames one at a time, each made when it is asked for; leaving the loop ends the job.
   * `for await (const frame of t.frames(file, { count: 10, width: 160 })) ctx.drawImage(frame.bitmap, 0, 0);`
   */
  frames(file: Source, options?: FramesOptions): AsyncGenerator<Frame, void, undefined>;
  /**
   * Sends the video to the server as an asynchronous job and resolves, once the server has it, to
   * the job. (`sprite()`, `frames()` and animations already run as such jobs on the server.)
   */
  job(operation: 'thumbnail', file: Blob, options?: ThumbnailOptions): Promise<Job>;
  job(operation: 'probe', file: Blob, options?: JobOptions): Promise<Job>;
  job(operation: 'sprite', file: Blob, options?: SpriteOptions): Promise<Job>;
  job(operation: 'frames', file: Blob, options?: FramesOptions): Promise<Job>;
  /**
   * Stops the browser engine and ends every job not yet settled (queued, waiting for the engine to
   * start, running, or on the server) with `aborted`; the next job starts a new engine.
   */
  terminate(): void;
}

/** The element `<video-thumbnailer>`, defined by importing this module. */
export interface VideoThumbnailerElement extends HTMLElement {
  /** Takes a video (as its button and drop zone do) and makes its thumbnail. */
  load(file: Blob): Promise<void>;
}

/** Its events: `el.addEventListener('thumbnail', (e) => e.detail.blob)`. */
export interface VideoThumbnailerEventMap extends Omit<HTMLElementEventMap, 'error'> {
  thumbnail: CustomEvent<Thumbnail>;
  error: CustomEvent<ThumbnailError>;
  /** Cancelable: `preventDefault()` keeps the video from being sent to the server. */
  upload: CustomEvent<{ code: ThumbnailErrorCode; message: string; file: Blob }>;
}

declare global {
  interface HTMLElementTagNameMap {
    'video-thumbnailer': VideoThumbnailerElement;
  }
}
