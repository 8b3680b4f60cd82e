/* The containers, decoders and parsers the engine is made for.
 *
 * One list for both hosts: the wasm recipe (recipe/build.sh) enables exactly these in FFmpeg's
 * configure, and the native engine accepts the same containers, so a file the browser refuses is
 * refused by the server too, with the same error. The native host may decode more codecs (AV1 via
 * Debian's libdav1d), which is what makes the server a useful fallback.
 *
 * TE_DEMUXERS are configure's names; TE_DEMUXER_NAMES the same demuxers, in the same order, by the
 * names FFmpeg gives them at run time (AVInputFormat.name: configure's mpegps is "mpeg"), which is
 * what the engine checks a probed file against. Raw elementary streams (h264, hevc, m4v,
 * mpegvideo) are what DVRs and security cameras export. Audio-only containers are here so that an
 * .mp3 is reported as "no video stream" rather than "not a media file". Besides the common codecs:
 * old ones (RealVideo, Cinepak, MS RLE/Video 1, Sorenson 1, H.261), camcorder and broadcast ones
 * (DV, DNxHD/HR) and the lossless ones of screen recordings (HuffYUV, Ut Video, MagicYUV, FFV1).
 * Keep each list on one line: the recipe reads them with sed. */
#ifndef TE_FORMATS_H
#define TE_FORMATS_H

#define TE_DEMUXERS "mov,matroska,avi,flv,mpegts,mpegps,mpegvideo,h264,hevc,m4v,ogg,asf,ivf,rm,dv,mxf,mp3,wav,flac,aac"
#define TE_DEMUXER_NAMES "mov,matroska,avi,flv,mpegts,mpeg,mpegvideo,h264,hevc,m4v,ogg,asf,ivf,rm,dv,mxf,mp3,wav,flac,aac"
#define TE_DECODERS "h264,hevc,vp8,vp9,mpeg1video,mpeg2video,mpeg4,h263,h263p,flv,msmpeg4v1,msmpeg4v2,msmpeg4v3,wmv1,wmv2,wmv3,vc1,mjpeg,theora,prores,vp6,vp6a,vp6f,rv10,rv20,rv30,rv40,dvvideo,dnxhd,cinepak,qtrle,msrle,msvideo1,rawvideo,svq1,h261,huffyuv,ffvhuff,utvideo,magicyuv,ffv1"
#define TE_PARSERS "h264,hevc,vp8,vp9,mpegvideo,mpeg4video,h263,vc1,mjpeg,rv30,rv40,dvd_nav,aac,mpegaudio,ac3,opus,vorbis,flac"

#endif
