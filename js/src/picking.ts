// What the page (app.js) and the <video-thumbnailer> element (video-thumbnailer.js) share: which
// files they offer to pick, the drop zone, showing a made thumbnail (its object URL replaced and
// revoked) and its download name, and a live preview's pace. Glue only.

/** The file picker's `accept`: video types, and the extensions browsers do not map to one. */
export const ACCEPT = 'video/*,.mkv,.webm,.ts,.m2ts,.mts,.mpg,.vob,.flv,.wmv,.asf,.avi,.mov,.3gp,.ogv,.rm,.dv,.mxf';

/** Makes `zone` take dropped files (and show `over` while one hovers); calls `take(file)`. */
export function dropZone(zone: HTMLElement, take: (file: File) => void): void {
  for (const type of ['dragenter', 'dragover']) {
    zone.addEventListener(type, (e) => {
      e.preventDefault();
      zone.classList.add('over');
    });
  }
  for (const type of ['dragleave', 'drop']) {
    zone.addEventListener(type, () => zone.classList.remove('over'));
  }
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    const file = e.dataTransfer?.files[0];
    if (file) take(file);
  });
}

/** `<video name>-<time>s.<ext>` for a thumbnail of `file` at `time`, as a `Blob` of `type`. */
export function downloadName(file: Blob | string, time: number, type: string): string {
  const format = (type || 'image/png').split('/')[1] || 'png';
  const base = (nameOf(file) || 'video').replace(/\.[^.]*$/, '') || 'video';
  return `${base}-${time.toFixed(2)}s.${format === 'jpeg' ? 'jpg' : format}`;
}

/** A picked file's name ('' for a Blob or a URL). */
function nameOf(file: Blob | string): string {
  return typeof file === 'string' ? '' : (file as File).name || '';
}

/** One thumbnail on show at a time: its object URL, revoked when the next replaces it or on `clear()`. */
export class Shown {
  #url: string | null = null;

  /** Shows `thumb` ({ blob, time }) of `file` in `img` and offers it from the link `download`. */
  show(thumb: { blob: Blob; time: number }, file: Blob | string, img: HTMLImageElement, download: HTMLAnchorElement): void {
    this.clear();
    this.#url = URL.createObjectURL(thumb.blob);
    img.src = this.#url;
    img.alt = `Frame at ${thumb.time.toFixed(2)} s of ${nameOf(file) || 'the video'}`;
    download.href = this.#url;
    download.download = downloadName(file, thumb.time, thumb.blob.type);
  }

  clear(): void {
    if (this.#url) URL.revokeObjectURL(this.#url);
    this.#url = null;
  }
}

/**
 * Calls `run(value)` for the latest value asked, one at a time: values asked while one runs are
 * replaced by the newest (a slider's live preview: no queue of stale frames, and nothing cancelled,
 * so the engine's worker is never restarted). Returns the function to ask with.
 */
export function latestWins<T>(run: (value: T) => Promise<unknown>): (value: T) => Promise<void> {
  let wanted!: T;
  let pending = false;
  let running = false;
  return async (value: T) => {
    wanted = value;
    pending = true;
    if (running) return;
    running = true;
    try {
      while (pending) {
        pending = false;
        await run(wanted).catch(() => {});
      }
    } finally {
      running = false;
    }
  };
}
