// Must not compile: an unknown format, a code that is no code, a result field that does not exist.
import { Thumbnailer, type ThumbnailErrorCode } from 'videothumb';

export async function wrong(file: File) {
  const t = await Thumbnailer.create({ engine: 'cloud' });
  const thumb = await t.thumbnail(file, { format: 'bmp' });
  const code: ThumbnailErrorCode = 'oops';
  return thumb.pixels + code;
}
