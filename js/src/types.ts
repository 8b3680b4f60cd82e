// The JS API's vocabulary as TypeScript: options, results, and the job description. The option
// and field names are the Rust vocabulary's (crate thumbnail-vocabulary), compared with it by
// server/tests/vocabulary.rs.

import type { ThumbnailErrorCode } from './errors.js';

/** Which engine made a frame. */
export type EngineName = 'browser-webcodecs' | 'browser-mt' | 'browser-st' | 'server';

export interface CreateOptions {
  /**
   * URL of a thumbnail server's POST /thumbnail (POST /probe is beside it). Without it no video
   * leaves the browser: `auto` is the browser alone, and `engine: 'server'` and `job()` are refused.
   */
  server?: string | URL;
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
  /**
   * The URL of a folder holding this package's files as it ships them (`thumbnailer-worker.js`,
   * `pkg/`, `engine/`): a CDN, a self-hosted copy. Default: beside this module, where a bundler
   * put them.
   */
  assets?: string | URL;
}

/** How a picture fills its box (see `ThumbnailOptions.fit`). */
export type Fit = 'contain' | 'cover' | 'fill' | 'pad';

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
  /**
   * How the picture fills width x height: 'contain' (default: inside it, aspect kept, never
   * enlarged), 'cover' (the box exactly, filled, the rest cropped), 'fill' (the box exactly,
   * stretched), 'pad' (the box exactly, the picture inside it, centred, on `background`). All but
   * 'contain' need both width and height.
   */
  fit?: Fit;
  /** For 'cover': the point kept in view, across and down from 0 to 1 ('0.5,0.3'); default the centre. */
  focus?: string;
  /** For 'pad': the colour around the picture ('ffffff', '#00000080', 'transparent', the default). */
  background?: string;
  /**
   * Default 'png'. 'gif': an animation from `at` (720 px wide unless width/height say otherwise).
   * 'thumbhash': no image, the frame's placeholder alone (`thumbhash`, `averageColor`; `blob` is
   * its JSON, the server's body), made from the frame in a 100 px box unless width/height say;
   * `videothumb/placeholder` draws it back.
   */
  format?: 'png' | 'jpeg' | 'webp' | 'gif' | 'thumbhash';
  /** 1-100, for jpeg and webp. */
  quality?: number;
  /**
   * An HDR video's pictures (PQ or HLG, as probe() says): 'sdr' (default) tone-mapped for an SDR
   * display; 'keep' the coded values (washed out on an SDR display). SDR videos are the same either way.
   */
  hdr?: 'sdr' | 'keep';
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
  /** 'pq' (HDR10) or 'hlg' (most phones' HDR) when the stream declares an HDR transfer. */
  hdr: 'pq' | 'hlg' | null;
  /** The colour the stream declares, in FFmpeg's words ('bt2020', 'arib-std-b67', 'bt2020nc'); null: not said. */
  colorPrimaries: string | null;
  colorTransfer: string | null;
  colorMatrix: string | null;
}

export interface Thumbnail {
  blob: Blob;
  width: number;
  height: number;
  /** Seconds: the time of the frame that was made. */
  time: number;
  duration: number | null;
  engine: EngineName;
  /**
   * A still's placeholder, made of its own pixels by either engine (none for an animation): its
   * ThumbHash (base64), a sketch of it to show while it loads, and its average colour (`#rrggbb`).
   */
  thumbhash?: string;
  averageColor?: string;
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
  /**
   * How the picture fills width x height: 'contain' (default: inside it, aspect kept, never
   * enlarged), 'cover' (the box exactly, filled, the rest cropped), 'fill' (the box exactly,
   * stretched), 'pad' (the box exactly, the picture inside it, centred, on `background`). All but
   * 'contain' need both width and height.
   */
  fit?: Fit;
  /** For 'cover': the point kept in view, across and down from 0 to 1 ('0.5,0.3'); default the centre. */
  focus?: string;
  /** For 'pad': the colour around the picture ('ffffff', '#00000080', 'transparent', the default). */
  background?: string;
  /** Default 'jpeg'. */
  format?: 'png' | 'jpeg' | 'webp';
  /** 1-100, for jpeg and webp. */
  quality?: number;
  /**
   * How the frames are found: 'auto' (default) takes the keyframe at or before each time where the
   * tiles are further apart than the video's keyframes (each tile a frame of its own share, one
   * decoded frame each), else the exact frame; 'exact' or 'keyframe' always.
   */
  seek?: 'auto' | 'exact' | 'keyframe';
  /**
   * An HDR video's pictures (PQ or HLG, as probe() says): 'sdr' (default) tone-mapped for an SDR
   * display; 'keep' the coded values (washed out on an SDR display). SDR videos are the same either way.
   */
  hdr?: 'sdr' | 'keep';
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
  /** The storyboard as data: each tile's seconds (`start` to `end`) and rectangle in the sheet. */
  tiles: SheetTile[];
  /** `WEBVTT` cues `sprite.<ext>#xywh=x,y,w,h`: serve the image under that name beside the track. */
  vtt: string;
  engine: EngineName;
}

/** One tile of a contact sheet: what the track's cue says, as data. */
export interface SheetTile {
  start: number;
  end: number;
  x: number;
  y: number;
  width: number;
  height: number;
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
  /**
   * How the picture fills width x height: 'contain' (default: inside it, aspect kept, never
   * enlarged), 'cover' (the box exactly, filled, the rest cropped), 'fill' (the box exactly,
   * stretched), 'pad' (the box exactly, the picture inside it, centred, on `background`). All but
   * 'contain' need both width and height.
   */
  fit?: Fit;
  /** For 'cover': the point kept in view, across and down from 0 to 1 ('0.5,0.3'); default the centre. */
  focus?: string;
  /** For 'pad': the colour around the picture ('ffffff', '#00000080', 'transparent', the default). */
  background?: string;
  /** 'exact' (default): the first frame at or after each time; 'keyframe': the keyframe before it. */
  seek?: 'exact' | 'keyframe';
  /** Each frame encoded as an image (`blob`); without it, each is an ImageBitmap (`bitmap`). */
  format?: 'png' | 'jpeg' | 'webp';
  /** 1-100, for jpeg and webp. */
  quality?: number;
  /**
   * An HDR video's pictures (PQ or HLG, as probe() says): 'sdr' (default) tone-mapped for an SDR
   * display; 'keep' the coded values (washed out on an SDR display). SDR videos are the same either way.
   */
  hdr?: 'sdr' | 'keep';
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
