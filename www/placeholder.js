// Placeholders drawn back: a ThumbHash (a result's `thumbhash`, the server's X-Thumbhash header,
// `format: 'thumbhash'`'s JSON) as a small PNG data URL for an <img> to show, stretched to the
// thumbnail's size, while the thumbnail loads. Its own entry, `videothumb/placeholder`: a page that
// shows stored placeholders loads this and evanw's decoder (npm `thumbhash`, MIT) only, not the
// engines.
import { thumbHashToAverageRGBA, thumbHashToDataURL } from 'thumbhash';
import { ThumbnailError } from './errors.js';
/** The ThumbHash's bytes, from its base64; an `invalid_argument` error when it is not one. */
function bytesOf(thumbhash) {
    let text;
    try {
        text = atob(thumbhash);
    }
    catch {
        throw new ThumbnailError('invalid_argument', `not a ThumbHash in base64: ${JSON.stringify(thumbhash.slice(0, 40))}`);
    }
    // A header of 5 bytes (its colours' means and scales), then the coefficients.
    if (text.length < 5) {
        throw new ThumbnailError('invalid_argument', `a ThumbHash is at least 5 bytes, not ${text.length}`);
    }
    return Uint8Array.from(text, (c) => c.charCodeAt(0));
}
/** The placeholder as a PNG data URL (at most 32 pixels a side, the picture's aspect ratio). */
export function thumbhashToDataURL(thumbhash) {
    return thumbHashToDataURL(bytesOf(thumbhash));
}
/** The placeholder's average colour as CSS `rgba(r, g, b, a)`: a background while even that loads. */
export function thumbhashToColor(thumbhash) {
    const { r, g, b, a } = thumbHashToAverageRGBA(bytesOf(thumbhash));
    const byte = (v) => Math.round(Math.min(1, Math.max(0, v)) * 255);
    return `rgba(${byte(r)}, ${byte(g)}, ${byte(b)}, ${Math.round(a * 1000) / 1000})`;
}
