// The consumer page of both bundler tests (vite-app/, webpack-app/ copy it as their entry): the
// package imported by its name, as an npm user writes it. The test picks a file in #file and
// calls make().
import { Thumbnailer, ThumbnailError } from 'videothumb';

async function base64Of(blob) {
  const bytes = new Uint8Array(await blob.arrayBuffer());
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

window.make = async (webcodecs) => {
  const file = document.getElementById('file').files[0];
  const t = await Thumbnailer.create({ engine: 'browser', webcodecs });
  try {
    const r = await t.thumbnail(file, { at: 1, width: 160, format: 'png' });
    return { engine: r.engine, width: r.width, height: r.height, time: r.time, png: await base64Of(r.blob) };
  } catch (e) {
    return { error: e instanceof ThumbnailError ? e.code : String(e), message: e.message };
  } finally {
    t.terminate();
  }
};
window.isolated = crossOriginIsolated;
document.title = 'ready';
