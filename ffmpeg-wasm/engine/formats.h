/* The containers, decoders and parsers the engine is made for.
 *
 * One list for both hosts: the wasm recipe (recipe/build.sh) enables exactly these in FFmpeg's
 * configure, and the native engine whitelists the same demuxers, so a file the browser refuses as
 * "not a media file" is refused by the server too. The native host may decode more codecs (AV1 via
 * Debian's libdav1d), which is what makes the server a useful fallback.
 *
 * Audio-only containers are here so that an .mp3 is reported as "no video stream" rather than
 * "not a media file". Keep each list on one line: the recipe reads them with sed. */
#ifndef TE_FORMATS_H
#define TE_FORMATS_H

#define TE_DEMUXERS "mov,matroska,avi,flv,mpegts,mpegps,mpegvideo,ogg,asf,ivf,mp3,wav,flac,aac"
#define TE_DECODERS "h264,hevc,vp8,vp9,mpeg1video,mpeg2video,mpeg4,h263,h263p,flv,msmpeg4v1,msmpeg4v2,msmpeg4v3,wmv1,wmv2,wmv3,vc1,mjpeg,theora,prores,vp6,vp6a,vp6f"
#define TE_PARSERS "h264,hevc,vp8,vp9,mpegvideo,mpeg4video,h263,vc1,mjpeg,aac,mpegaudio,ac3,opus,vorbis,flac"

#endif
