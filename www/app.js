// The page at / : glue between its form and the Thumbnailer API (thumbnailer.js). No logic of its
// own beyond showing things: options are parsed and frames made by the API.
import { Thumbnailer } from './thumbnailer.js';
import { ACCEPT, dropZone, latestWins, Shown } from './picking.js';

const $ = (id) => document.getElementById(id);
const ui = {
  drop: $('drop'), file: $('file'), info: $('info'),
  form: $('options'), at: $('at'), atValue: $('at-value'),
  width: $('width'), format: $('format'), quality: $('quality'), engine: $('engine'), seek: $('seek'),
  make: $('make'), cancel: $('cancel'), progress: $('progress'),
  status: $('status'), error: $('error'),
  ask: $('ask-upload'), askText: $('ask-upload-text'), uploadYes: $('upload-yes'), uploadNo: $('upload-no'),
  update: $('update'), reload: $('reload'),
  filmstrip: $('filmstrip'), sheet: $('sheet'), sheetImage: $('sheet-image'), sheetVtt: $('sheet-vtt'),
  result: $('result'), preview: $('preview'), caption: $('caption'), download: $('download'), share: $('share'),
};

/** What each error code means to a person; the API's own message follows it. */
const IN_WORDS = {
  not_media: 'This file is not a video.',
  unsupported_container: 'This kind of video file is not supported.',
  no_video: 'This file has no video stream (audio only?).',
  unsupported_codec: 'The video’s codec is not supported.',
  corrupt: 'The video is damaged or incomplete.',
  too_large: 'The video’s frames are too large to decode here.',
  no_memory: 'There is not enough memory to decode this video.',
  io: 'The video could not be read.',
  invalid_argument: 'An option is not valid.',
  bad_request: 'The server could not read the request.',
  upload_too_large: 'The video is too large to send to the server.',
  unsupported_media_type: 'The server does not take this kind of file.',
  busy: 'The server is busy; try again in a moment.',
  request_timeout: 'Sending the video to the server took too long.',
  internal: 'The server failed to make the thumbnail.',
  not_found: 'The server does not know this job.',
  gone: 'The job\'s result has expired on the server.',
  conflict: 'The job was not in a state for that.',
  idempotency_key_reused: 'That request key was used before for another request.',
  timeout: 'Making the thumbnail took too long.',
  aborted: 'Cancelled.',
  network: 'The server could not be reached.',
  source_not_found: 'There is no video at that address.',
  source_no_range: 'The server of that address does not serve parts of files (HTTP Range requests).',
  source_changed: 'The file at that address changed while it was read.',
  source_refused: 'That address cannot be read from this page.',
  engine_crashed: 'The engine stopped on this video.',
  engine_unavailable: 'The in-browser engine could not start.',
  upload_declined: 'The video was not sent to the server.',
};

// The page promises that the video is not uploaded: when the browser cannot make a frame,
// `auto` asks first (once per file), and the answer No keeps the video here.
let uploadAllowedFor = null;
function askToUpload({ code, message, file: asked }) {
  if (uploadAllowedFor === asked) return true;
  ui.askText.textContent = `${IN_WORDS[code] || 'Your browser cannot make this frame.'} (${message}) ` +
    `Send ${asked.name || 'the video'} to the server to make the frame there? The video leaves your computer.`;
  ui.ask.hidden = false;
  ui.uploadYes.focus();
  return new Promise((resolve) => {
    const answer = (yes) => {
      ui.ask.hidden = true;
      ui.uploadYes.onclick = ui.uploadNo.onclick = null;
      if (yes) uploadAllowedFor = asked;
      resolve(yes);
    };
    ui.uploadYes.onclick = (e) => {
      e.preventDefault();
      answer(true);
    };
    ui.uploadNo.onclick = () => answer(false);
    job?.signal.addEventListener('abort', () => answer(false), { once: true });
  });
}

const thumbnailers = new Map(); // one per engine choice, made on first use
function thumbnailer() {
  const engine = ui.engine.value;
  if (!thumbnailers.has(engine)) {
    // the server this page comes from (its POST /thumbnail), for what the browser cannot make
    const created = Thumbnailer.create({ engine, server: new URL('thumbnail', import.meta.url).href, confirmUpload: askToUpload });
    created.catch(() => thumbnailers.delete(engine)); // try again next time
    thumbnailers.set(engine, created);
  }
  return thumbnailers.get(engine);
}

let file = null;
let job = null; // the AbortController of the job in progress
const shown = new Shown();
let makes = 0; // thumbnails made for good: a live frame asked before the last is not shown
let sheetUrls = [];

/** The filmstrip and the contact sheet's downloads: one sheet of 10 frames across the video. */
async function showFilmstrip(chosen) {
  for (const url of sheetUrls) URL.revokeObjectURL(url);
  sheetUrls = [];
  ui.filmstrip.replaceChildren();
  ui.filmstrip.hidden = ui.sheet.hidden = true;
  let sprite;
  try {
    sprite = await (await thumbnailer()).sprite(chosen, { count: 10, columns: 10, width: 160, format: 'jpeg' });
  } catch {
    return; // no filmstrip for this one (declined, unsupported): the slider is enough
  }
  if (chosen !== file) return;
  const image = URL.createObjectURL(sprite.blob);
  const track = URL.createObjectURL(new Blob([sprite.vtt], { type: 'text/vtt' }));
  sheetUrls = [image, track];
  const base = (chosen.name || 'video').replace(/\.[^.]*$/, '') || 'video';
  ui.sheetImage.href = image;
  ui.sheetImage.download = 'sprite.jpg'; // the name the track points at
  ui.sheetVtt.href = track;
  ui.sheetVtt.download = `${base}-thumbnails.vtt`;
  const scale = 96 / sprite.tileWidth;
  sprite.times.forEach((time, i) => {
    const button = document.createElement('button');
    button.type = 'button';
    button.title = button.ariaLabel = `Frame at ${seconds(time)}`;
    button.dataset.time = String(time);
    Object.assign(button.style, {
      width: `${Math.round(sprite.tileWidth * scale)}px`,
      height: `${Math.round(sprite.tileHeight * scale)}px`,
      backgroundImage: `url(${image})`,
      backgroundSize: `${sprite.columns * sprite.tileWidth * scale}px auto`,
      backgroundPosition: `-${(i % sprite.columns) * sprite.tileWidth * scale}px -${Math.floor(i / sprite.columns) * sprite.tileHeight * scale}px`,
    });
    button.addEventListener('click', () => {
      ui.at.value = String(time);
      showTime();
      ui.make.click();
    });
    ui.filmstrip.append(button);
  });
  ui.filmstrip.hidden = ui.sheet.hidden = false;
}

/** While the slider moves: small frames, the latest position winning, none once a make began. */
const livePreview = latestWins(async (at) => {
  if (!file || job) return;
  const [chosen, made] = [file, makes];
  const thumb = await (await thumbnailer()).thumbnail(chosen, { at, width: 640, height: 640, format: 'jpeg' });
  if (chosen !== file || made !== makes || job) return;
  shown.show(thumb, chosen, ui.preview, ui.download);
  offerShare(thumb);
  ui.caption.textContent = `Preview of the frame at ${seconds(thumb.time)}`;
  ui.result.hidden = false;
});

function showError(e) {
  const code = e?.code || 'error';
  ui.error.dataset.code = code;
  ui.error.textContent = `${IN_WORDS[code] || 'Something went wrong.'} ${e?.message || ''}`.trim();
}

/**
 * The Share button beside Download, shown only where the browser can share this image as a file
 * (Web Share with files: phones; `navigator.canShare` says, not the browser's name).
 */
let sharing = null;
function offerShare(thumb) {
  sharing = new File([thumb.blob], ui.download.download, { type: thumb.blob.type });
  ui.share.hidden = !(navigator.canShare?.({ files: [sharing] }) ?? false);
}
ui.share.addEventListener('click', () => {
  navigator.share({ files: [sharing], title: sharing.name }).catch((e) => {
    if (e.name !== 'AbortError') ui.status.textContent = `Could not share the image: ${e.message}`;
  });
});

function clearMessages() {
  ui.error.textContent = '';
  delete ui.error.dataset.code;
  ui.status.textContent = '';
}

function busy(on) {
  ui.progress.hidden = !on;
  ui.cancel.hidden = !on;
  ui.make.disabled = on || !file;
  ui.file.disabled = on;
}

function seconds(t) {
  return `${t.toFixed(2)} s`;
}

function showTime() {
  ui.atValue.textContent = seconds(Number(ui.at.value));
}

async function choose(chosen) {
  if (!chosen || job) return;
  file = chosen;
  clearMessages();
  ui.result.hidden = true;
  ui.make.disabled = false;
  ui.info.textContent = `${file.name} — reading…`;
  try {
    const info = await (await thumbnailer()).probe(file);
    if (file !== chosen) return;
    const length = info.duration ? `, ${seconds(info.duration)}` : '';
    ui.info.textContent = `${file.name} — ${info.width}×${info.height} ${info.codec}${length}`;
    if (info.duration) {
      ui.at.max = String(info.duration);
      ui.at.value = String(Math.min(1, info.duration / 2));
      ui.at.disabled = false;
    } else {
      ui.at.disabled = true;
    }
    showTime();
    showFilmstrip(chosen);
  } catch (e) {
    if (file !== chosen) return;
    ui.info.textContent = file.name;
    ui.at.disabled = true;
    showError(e);
  }
}

async function make(event) {
  event.preventDefault();
  if (!file || job) return;
  clearMessages();
  job = new AbortController();
  makes++;
  busy(true);
  ui.status.textContent = 'Making the thumbnail…';
  const format = ui.format.value;
  const options = { at: ui.at.disabled ? 1 : Number(ui.at.value), format, seek: ui.seek.value, signal: job.signal };
  if (ui.width.value) options.width = options.height = Number(ui.width.value);
  if (format === 'jpeg' || format === 'webp') options.quality = Number(ui.quality.value);
  const started = performance.now();
  try {
    const t = await thumbnailer();
    const thumb = await t.thumbnail(file, options);
    const ms = Math.round(performance.now() - started);
    shown.show(thumb, file, ui.preview, ui.download);
    offerShare(thumb);
    ui.preview.width = thumb.width;
    ui.preview.height = thumb.height;
    ui.caption.textContent = `${thumb.width}×${thumb.height} ${format.toUpperCase()}, frame at ${seconds(thumb.time)}, made by ${thumb.engine} in ${ms} ms`;
    Object.assign(ui.result.dataset, { engine: thumb.engine, width: thumb.width, height: thumb.height, time: thumb.time });
    ui.result.hidden = false;
    ui.status.textContent = 'Done.';
  } catch (e) {
    ui.status.textContent = '';
    showError(e);
  } finally {
    job = null;
    busy(false);
  }
}

ui.file.addEventListener('change', () => choose(ui.file.files[0]));
ui.at.addEventListener('input', () => {
  showTime();
  livePreview(Number(ui.at.value));
});
ui.format.addEventListener('change', () => {
  ui.quality.disabled = !['jpeg', 'webp'].includes(ui.format.value);
});
ui.engine.addEventListener('change', () => file && choose(file));
ui.form.addEventListener('submit', make);
ui.cancel.addEventListener('click', () => job?.abort());

ui.file.accept = ACCEPT;
dropZone(ui.drop, choose);

// Start the engine while the user picks a file.
thumbnailer().catch(showError);

// A video shared to the installed app (the service worker kept it, see sw.js) or opened with it
// (the manifest's file_handlers): picked as if chosen with the button.
async function takeShared() {
  if (!new URLSearchParams(location.search).has('shared') || !('caches' in self)) return;
  history.replaceState(null, '', location.pathname);
  const cache = await caches.open('shared-video');
  const response = await cache.match('shared-video');
  if (!response) return;
  await cache.delete('shared-video');
  const name = decodeURIComponent(response.headers.get('x-file-name') || 'video');
  choose(new File([await response.blob()], name, { type: response.headers.get('content-type') || '' }));
}
takeShared();
if ('launchQueue' in self) {
  launchQueue.setConsumer(async ({ files }) => {
    if (files?.length) choose(await files[0].getFile());
  });
}

// Offline after one visit (sw.js). Registration failing (e.g. a private window) only loses that.
// A new version waits until this page is reloaded (never mixing two versions' assets): say so.
if ('serviceWorker' in navigator) {
  navigator.serviceWorker
    .register('sw.js')
    .then((registration) => {
      const offerReload = () => {
        if (registration.waiting && navigator.serviceWorker.controller) ui.update.hidden = false;
      };
      offerReload();
      registration.addEventListener('updatefound', () => {
        registration.installing?.addEventListener('statechange', offerReload);
      });
    })
    .catch((e) => console.warn('no offline mode:', e));
  ui.reload.addEventListener('click', async () => {
    const registration = await navigator.serviceWorker.getRegistration();
    if (!registration?.waiting) return location.reload();
    navigator.serviceWorker.addEventListener('controllerchange', () => location.reload(), { once: true });
    registration.waiting.postMessage('activate');
  });
}
