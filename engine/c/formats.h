/* The containers, decoders and parsers the engine is made for.
 *
 * One list for both hosts: the wasm recipe (recipe/build.sh) enables exactly these in FFmpeg's
 * configure, and the native engine accepts the same containers, so a file the browser refuses is
 * refused by the server too, with the same error; the native engine opens no other demuxer or
 * decoder (engine.c's open_demuxer). The native host decodes a few codecs more
 * (TE_NATIVE_DECODERS: AV1 via Debian's libdav1d), which is what makes the server a useful fallback.
 *
 * TE_DEMUXERS are configure's names; TE_DEMUXER_NAMES the same demuxers, in the same order, by the
 * names FFmpeg gives them at run time (AVInputFormat.name: configure's mpegps is "mpeg"), which is
 * what the engine checks a probed file against. Raw elementary streams (h264, hevc, m4v,
 * mpegvideo) are what DVRs and security cameras export. Audio-only containers are here so that an
 * .mp3 is reported as "no video stream" rather than "not a media file". Besides the common codecs:
 * old ones (RealVideo, Cinepak, MS RLE/Video 1, Sorenson 1, H.261), camcorder and broadcast ones
 * (DV, DNxHD/HR), the lossless ones of screen recordings (HuffYUV, Ut Video, MagicYUV, FFV1), and
 * what real uploads held that nothing read before: YUV4MPEG (.y4m, raw video from tools), FLIC
 * (.fli/.flc animations), CD+G (karaoke discs), AV1 OBU streams (.obu) and animated GIF.
 * Keep each list on one line: the recipe reads them with sed. */
#ifndef TE_FORMATS_H
#define TE_FORMATS_H

#define TE_DEMUXERS "mov,matroska,avi,flv,mpegts,mpegps,mpegvideo,h264,hevc,m4v,obu,ogg,asf,ivf,rm,dv,mxf,yuv4mpegpipe,flic,cdg,gif,mp3,wav,flac,aac"
#define TE_DEMUXER_NAMES "mov,matroska,avi,flv,mpegts,mpeg,mpegvideo,h264,hevc,m4v,obu,ogg,asf,ivf,rm,dv,mxf,yuv4mpegpipe,flic,cdg,gif,mp3,wav,flac,aac"
#define TE_DECODERS "h264,hevc,vp8,vp9,mpeg1video,mpeg2video,mpeg4,h263,h263p,flv,msmpeg4v1,msmpeg4v2,msmpeg4v3,wmv1,wmv2,wmv3,vc1,mjpeg,theora,prores,vp6,vp6a,vp6f,rv10,rv20,rv30,rv40,dvvideo,dnxhd,cinepak,qtrle,msrle,msvideo1,rawvideo,svq1,h261,huffyuv,ffvhuff,utvideo,magicyuv,ffv1,flic,cdgraphics,gif"
/* Decoders only the native engine has: AV1 through Debian's libdav1d (the browser decodes AV1 with
 * WebCodecs), PNG through zlib (QuickTime PNG: motion graphics, screen recorders). The native
 * engine opens no decoder outside TE_DECODERS and these. */
#define TE_NATIVE_DECODERS "libdav1d,png"
#define TE_PARSERS "h264,hevc,vp8,vp9,av1,mpegvideo,mpeg4video,h263,vc1,mjpeg,rv30,rv40,dvd_nav,aac,mpegaudio,ac3,opus,vorbis,flac"

#ifdef __EMSCRIPTEN__
#define TE_ALL_DECODERS TE_DECODERS
#else
#define TE_ALL_DECODERS TE_DECODERS "," TE_NATIVE_DECODERS
#endif

/* Bounds on probing, the same in both hosts: bytes read to tell the container; bytes, media time
 * and packets read to find the streams' parameters; streams kept (a broadcast TS has a dozen; a
 * hostile file may claim thousands). */
#define TE_FORMAT_PROBE_BYTES (1024 * 1024)
#define TE_PROBE_BYTES (5 * 1024 * 1024)
#define TE_PROBE_MICROSECONDS (5 * 1000 * 1000)
#define TE_PROBE_PACKETS 2500
#define TE_MAX_STREAMS 100

#endif
