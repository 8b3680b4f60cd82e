// A TypeScript user of the package: every option and every result type, compiled with --strict
// (the test also compiles wrong.ts, which must fail: the types are checked, not `any`).
import {
  Thumbnailer,
  ThumbnailError,
  type CreateOptions,
  type EngineName,
  type Frame,
  type FramesOptions,
  type Job,
  type JobOptions,
  type Source,
  type SheetTile,
  type Sprite,
  type SpriteOptions,
  type Thumbnail,
  type ThumbnailErrorCode,
  type ThumbnailOptions,
  type VideoInfo,
} from 'videothumb';
import 'videothumb/element';
import type { VideoThumbnailerElement, VideoThumbnailerEventMap } from 'videothumb/element';
import { thumbhashToColor, thumbhashToDataURL } from 'videothumb/placeholder';

export async function everything(file: File, url: string, signal: AbortSignal): Promise<string[]> {
  const create: CreateOptions = {
    engine: 'auto',
    server: new URL('https://thumbs.example.com/thumbnail'),
    timeout: 30_000,
    webcodecs: false,
    assets: '/vendor/videothumb/',
    confirmUpload: async ({ code, message, file }) => code === 'unsupported_codec' && message.length > 0 && file.size < 1e9,
  };
  const t: Thumbnailer = await Thumbnailer.create(create);
  const job: JobOptions = { signal, timeout: 5_000 };
  const info: VideoInfo = await t.probe(file, job);
  const words: string[] = [info.codec, `${info.width}x${info.height}`, `${info.codedWidth}x${info.codedHeight}`];
  const still: ThumbnailOptions = { at: '10%', width: 640, height: 360, format: 'webp', quality: 80, seek: 'keyframe', signal };
  const thumb: Thumbnail = await t.thumbnail(file, still);
  const gif: ThumbnailOptions = { at: 'auto', format: 'gif', animated: true, duration: 3, fps: 10, loop: false };
  const animation: Thumbnail = await t.thumbnail(url, gif);
  const engines: EngineName[] = [thumb.engine, animation.engine];
  words.push(`${thumb.blob.size} ${thumb.time} ${thumb.duration ?? 'unknown'} ${engines.join()}`);
  const placeholder: string | undefined = thumb.thumbhash ?? thumb.averageColor;
  words.push(placeholder ?? 'none');
  const fitted: ThumbnailOptions = { width: 320, height: 180, fit: 'cover', focus: '0.5,0.3' };
  const padded: ThumbnailOptions = { width: 320, height: 180, fit: 'pad', background: '#000000' };
  const hashOnly: Thumbnail = await t.thumbnail(file, { ...fitted, format: 'thumbhash' });
  await t.thumbnail(file, padded);
  if (hashOnly.thumbhash) words.push(thumbhashToDataURL(hashOnly.thumbhash), thumbhashToColor(hashOnly.thumbhash));
  const sheet: SpriteOptions = { count: 24, every: undefined, columns: 6, width: 160, height: 90, fit: 'fill', format: 'jpeg', quality: 70 };
  const sprite: Sprite = await t.sprite(new URL(url), sheet);
  words.push(`${sprite.columns}x${sprite.rows} ${sprite.tileWidth}x${sprite.tileHeight} ${sprite.times.length} ${sprite.vtt} ${sprite.blob.type}`);
  const tiles: SheetTile[] = sprite.tiles;
  words.push(tiles.map(({ start, end, x, y, width, height }) => `${start}-${end}@${x},${y},${width}x${height}`).join());
  const series: FramesOptions = { times: [1, 2.5], count: undefined, every: undefined, width: 80, height: 60, fit: 'contain', seek: 'exact', format: 'png', quality: 90 };
  for await (const frame of t.frames(file, series)) {
    const f: Frame = frame;
    words.push(`${f.time} ${f.width}x${f.height} ${f.bitmap?.width ?? f.blob?.size} ${f.engine}`);
  }
  const described: Job = await t.job('sprite', file, sheet);
  words.push(`${described.id} ${described.status} ${described.progress ?? 0} ${described.href} ${described.files.join()}`);
  const source: Source = file;
  try {
    await t.thumbnail(source);
  } catch (e) {
    if (e instanceof ThumbnailError) {
      const code: ThumbnailErrorCode = e.code;
      words.push(`${e.name} ${code} ${e.status ?? ''} ${e.message}`);
    }
  }
  t.terminate();
  return words;
}

export function element(): VideoThumbnailerElement {
  const el = document.createElement('video-thumbnailer');
  el.setAttribute('server', 'https://thumbs.example.com/thumbnail');
  el.addEventListener('thumbnail', (e: VideoThumbnailerEventMap['thumbnail']) => console.log(e.detail.blob.size, e.detail.engine));
  void el.load(new Blob());
  return el;
}
