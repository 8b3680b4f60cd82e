// <video-thumbnailer>: the thumbnailer as one element for any page, defined when this module is
// imported (the npm package's `./element`). Glue only: the frames come from the Thumbnailer API.
//
//   <script type="module" src="https://host/video-thumbnailer.js"></script>
//   <video-thumbnailer width="640" format="webp" server="https://host/thumbnail"></video-thumbnailer>
//
// The file types, the drop zone and the shown thumbnail are the page's too (picking.js).
//
// Attributes: src (a video's URL, read in the browser in HTTP Range requests: the server of it must
// allow CORS and serve ranges), server (a thumbnail server's POST /thumbnail: without it, no video
// leaves the browser), assets (where the package's files are, by default beside this module),
// engine (auto, browser, server), at (the first frame; by
// default the most representative one, 'auto'), width, height, fit, focus, background, format,
// quality, seek (exact, keyframe), hdr (sdr, keep), upload.
// Moving the slider shows frames live; letting it go makes the frame and fires `thumbnail`. Events: `thumbnail`
// (detail: { blob, width, height, time, engine }), `error` (detail: a ThumbnailError) and `upload`
// (cancelable; detail: { code, message, file }): in `auto` mode, before a video the browser could
// not handle is sent to the server; `preventDefault()`, or the attribute upload="never", keeps it
// (the job fails with `upload_declined`); otherwise the status line says it is being sent.
// Themeable with the custom properties below and the parts drop, button, slider, time, status,
// error, result, preview, caption, download.

const TEMPLATE = `
<style>
  :host {
    display: block;
    min-width: 0;
    font: var(--vt-font, inherit);
    color: var(--vt-color, inherit);
    --accent: var(--vt-accent, #2457c5);
    --radius: var(--vt-radius, 0.5rem);
  }
  :host([hidden]), [hidden] { display: none !important; }
  .drop {
    border: 2px dashed var(--vt-border, #9996);
    border-radius: var(--radius);
    background: var(--vt-background, transparent);
    padding: 1rem;
    text-align: center;
  }
  .drop.over { border-color: var(--accent); }
  .button {
    display: inline-block;
    padding: 0.625rem 1rem; /* 44 px tall: a finger's target */
    border-radius: var(--radius);
    background: var(--accent);
    color: var(--vt-button-color, #fff);
    cursor: pointer;
  }
  .button:focus-within { outline: 3px solid var(--accent); outline-offset: 2px; }
  input[type=file] { position: absolute; width: 1px; height: 1px; opacity: 0; overflow: hidden; clip-path: inset(50%); }
  .controls { display: flex; gap: 0.5rem; align-items: center; margin-top: 0.75rem; }
  .controls input { flex: 1; min-width: 0; height: 2.75rem; margin: 0; accent-color: var(--accent); }
  [part=error] { color: var(--vt-error, #b3261e); }
  p:empty { display: none; }
  figure { margin: 0.75rem 0 0; }
  img { display: block; max-width: 100%; height: auto; border-radius: var(--radius); }
  figcaption { display: flex; flex-wrap: wrap; justify-content: space-between; gap: 0.25rem 1rem; margin-top: 0.25rem; }
  a { color: var(--accent); }
</style>
<div part="drop" class="drop">
  <label part="button" class="button">Choose a video<input type="file"></label>
  <span>or drop one here</span>
</div>
<div class="controls" hidden>
  <label for="at">Time</label>
  <input part="slider" id="at" type="range" min="0" step="0.04" value="0">
  <output part="time" for="at"></output>
</div>
<p part="status" role="status" aria-live="polite"></p>
<p part="error" role="alert"></p>
<figure part="result" hidden>
  <img part="preview" alt="">
  <figcaption><span part="caption"></span><a part="download" download>Download</a></figcaption>
</figure>`;

import { ACCEPT, dropZone, latestWins, Shown } from './picking.js';
import { Thumbnailer, type ThumbnailError, type ThumbnailErrorCode, type Thumbnail, type ThumbnailOptions } from './thumbnailer.js';

/** The element `<video-thumbnailer>`, defined by importing this module. */
export interface VideoThumbnailerElement extends HTMLElement {
  /** Takes a video (as its button and drop zone do), or a URL (as `src`), and makes its thumbnail. */
  load(file: Blob | string): Promise<void>;
  addEventListener<K extends keyof VideoThumbnailerEventMap>(
    type: K,
    listener: (this: VideoThumbnailerElement, event: VideoThumbnailerEventMap[K]) => unknown,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof VideoThumbnailerEventMap>(
    type: K,
    listener: (this: VideoThumbnailerElement, event: VideoThumbnailerEventMap[K]) => unknown,
    options?: boolean | EventListenerOptions,
  ): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: boolean | EventListenerOptions): void;
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

type Why = { code: ThumbnailErrorCode; message: string; file: Blob };

/** The element's parts. */
interface Parts {
  drop: HTMLElement;
  input: HTMLInputElement;
  controls: HTMLElement;
  slider: HTMLInputElement;
  time: HTMLElement;
  status: HTMLElement;
  error: HTMLElement;
  result: HTMLElement;
  preview: HTMLImageElement;
  caption: HTMLElement;
  download: HTMLAnchorElement;
}

/** Defines <video-thumbnailer> (once per page; nowhere without custom elements, as in Node). */
function defineVideoThumbnailer() {
  if (typeof customElements === 'undefined' || customElements.get('video-thumbnailer')) return;

  class VideoThumbnailer extends HTMLElement {
    static observedAttributes = ['server', 'assets', 'engine', 'src'];
    #thumbnailer: Promise<Thumbnailer> | null = null; // made on first use
    #file: Blob | string | null = null;
    #job: AbortController | null = null; // of the job in progress
    #shown = new Shown();
    #makes = 0; // frames made for good so far: a live frame asked before the last is not shown
    #live = latestWins((at: number) => this.#preview(at));
    #uploadAllowedFor: Blob | null = null; // the video whose upload the page allowed
    #el: Parts;

    constructor() {
      super();
      const root = this.attachShadow({ mode: 'open' });
      root.innerHTML = TEMPLATE;
      const part = <E extends HTMLElement>(name: string) => root.querySelector(`[part=${name}]`) as E;
      this.#el = {
        drop: part('drop'), input: root.querySelector('input[type=file]') as HTMLInputElement, controls: root.querySelector('.controls') as HTMLElement,
        slider: part<HTMLInputElement>('slider'), time: part('time'), status: part('status'), error: part('error'),
        result: part('result'), preview: part<HTMLImageElement>('preview'), caption: part('caption'), download: part<HTMLAnchorElement>('download'),
      };
      const { drop, input, slider } = this.#el;
      input.accept = ACCEPT;
      input.addEventListener('change', () => input.files?.[0] && this.load(input.files[0]));
      // Moving the slider shows frames live (the latest position wins); letting go makes the frame.
      slider.addEventListener('input', () => {
        this.#showTime(Number(slider.value));
        this.#live(Number(slider.value));
      });
      slider.addEventListener('change', () => this.#make(Number(slider.value)));
      dropZone(drop, (file) => this.load(file));
    }

    attributeChangedCallback(name: string, before: string | null, after: string | null) {
      if (before === after) return;
      if (name === 'src') {
        if (after) this.load(after);
        return;
      }
      // `server`, `assets` or `engine` changed: a new Thumbnailer; a job in progress is made again with it.
      const redo = this.#job !== null;
      this.#release();
      if (redo) this.#make(Number(this.#el.slider.value));
    }

    disconnectedCallback() {
      this.#job?.abort();
      this.#job = null;
      this.#release();
      this.#shown.clear();
    }

    /** Takes a video File or Blob (as the button and the drop zone do), or a URL (as `src`), and makes its thumbnail. */
    async load(file: Blob | string): Promise<void> {
      this.#file = file;
      this.#el.controls.hidden = true;
      try {
        const t = await this.#api();
        const info = await t.probe(file);
        if (this.#file !== file) return;
        if (info.duration) {
          this.#el.slider.max = String(info.duration);
          this.#el.controls.hidden = false;
        }
      } catch (e) {
        if (this.#file !== file || !(e instanceof Error)) return;
        // The Thumbnailer was replaced (an attribute changed) while probing: again with the new one.
        if ((e as ThumbnailError).code === 'aborted') return this.load(file);
        this.#fail(e as ThumbnailError);
        return;
      }
      // The first frame: the `at` attribute's, or the most representative one.
      await this.#make(this.getAttribute('at') ?? 'auto');
    }

    /** The Thumbnailer, made on first use; one that failed to be made is made again next time. */
    #api(): Promise<Thumbnailer> {
      if (!this.#thumbnailer) {
        const created = Thumbnailer.create({
          server: this.getAttribute('server') || undefined,
          assets: this.getAttribute('assets') || undefined,
          engine: (this.getAttribute('engine') || 'auto') as 'auto',
          confirmUpload: (why) => this.#confirmUpload(why),
        });
        created.catch(() => {
          if (this.#thumbnailer === created) this.#thumbnailer = null;
        });
        this.#thumbnailer = created;
      }
      return this.#thumbnailer;
    }

    /** `auto` is about to send the video to the server: never silently. */
    #confirmUpload(why: Why): boolean {
      if (this.getAttribute('upload') === 'never') return false;
      if (this.#uploadAllowedFor !== why.file) {
        const event = new CustomEvent('upload', { detail: why, cancelable: true, bubbles: true, composed: true });
        if (!this.dispatchEvent(event)) return false;
        this.#uploadAllowedFor = why.file; // once per video
      }
      this.#el.status.textContent = `This browser cannot make the frame (${why.message}): sending the video to the server…`;
      return true;
    }

    #release() {
      this.#thumbnailer?.then((t) => t.terminate(), () => {});
      this.#thumbnailer = null;
    }

    #showTime(t: number) {
      this.#el.time.textContent = `${t.toFixed(2)} s`;
    }

    /** The thumbnail options the attributes give, at `at`. */
    #options(at: number | string): ThumbnailOptions {
      const options: Record<string, unknown> = { at };
      for (const name of ['width', 'height', 'fit', 'focus', 'background', 'format', 'quality', 'seek', 'hdr']) {
        if (this.hasAttribute(name)) options[name] = this.getAttribute(name);
      }
      return options as ThumbnailOptions; // strings: the vocabulary parses them
    }

    /** A live frame while the slider moves: shown, unless a frame was made for good meanwhile. */
    async #preview(at: number) {
      const file = this.#file;
      if (!file) return;
      const makes = this.#makes;
      const thumb = await (await this.#api()).thumbnail(file, this.#options(at));
      if (file !== this.#file || makes !== this.#makes) return;
      this.#shown.show(thumb, file, this.#el.preview, this.#el.download);
      this.#el.caption.textContent = `${thumb.width}×${thumb.height}, ${thumb.time.toFixed(2)} s, ${thumb.engine}`;
      this.#el.result.hidden = false;
    }

    async #make(at: number | string) {
      const file = this.#file;
      if (!file) return;
      this.#makes++;
      this.#job?.abort();
      const job = (this.#job = new AbortController());
      const options = { ...this.#options(at), signal: job.signal };
      this.#el.error.textContent = '';
      this.#el.status.textContent = 'Making the thumbnail…';
      try {
        const thumb = await (await this.#api()).thumbnail(file, options);
        if (this.#job !== job) return;
        const { preview, download, caption, slider, result, status } = this.#el;
        this.#shown.show(thumb, file, preview, download);
        caption.textContent = `${thumb.width}×${thumb.height}, ${thumb.time.toFixed(2)} s, ${thumb.engine}`;
        slider.value = String(thumb.time);
        this.#showTime(thumb.time);
        result.hidden = false;
        status.textContent = '';
        this.dispatchEvent(new CustomEvent('thumbnail', { detail: thumb, bubbles: true, composed: true }));
      } catch (e) {
        if (this.#job === job && (e as ThumbnailError).code !== 'aborted') this.#fail(e as ThumbnailError);
      } finally {
        if (this.#job === job) this.#job = null;
      }
    }

    #fail(error: ThumbnailError) {
      this.#el.status.textContent = '';
      this.#el.error.textContent = error.message;
      this.dispatchEvent(new CustomEvent('error', { detail: error, bubbles: true, composed: true }));
    }
  }

  customElements.define('video-thumbnailer', VideoThumbnailer);
}

defineVideoThumbnailer();
