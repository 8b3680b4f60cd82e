/* The thumbnail engine: one small C API over libavformat/libavcodec/libswscale, compiled to
 * WebAssembly for the browser (recipe/build.sh) and natively for the server (build.rs).
 *
 *   te_engine *e = te_new();
 *   te_open(e, "/in/video.mp4", threads);      -> te_status; te_probe(e) describes the video
 *   te_decode(e, 1.0, 640, 640, TE_MODE_EXACT); -> te_status; te_result(e) is the RGBA frame
 *   te_free(e);
 *
 * Or demux and decode apart (another decoder, such as the browser's WebCodecs, decodes):
 *   te_open(...); te_codec_info(e) is what that decoder is configured with;
 *   te_read_packets(e, 1.0, TE_MODE_EXACT) -> te_status; te_packet_list(e) are the packets from the
 *   keyframe at or before t up to the frame wanted, and which of them that is.
 *
 * Every call returns a te_status; on failure te_message(e) says why in words. The structs have a
 * fixed layout (checked below) because JavaScript reads them straight from the wasm heap. */
#ifndef TE_ENGINE_H
#define TE_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum te_status {
  TE_OK = 0,
  TE_ERR_NOT_MEDIA = 1,         /* empty, text, an image: nothing a container of media was found in */
  TE_ERR_NO_VIDEO = 2,          /* a media file without a video stream (audio only) */
  TE_ERR_UNSUPPORTED_CODEC = 3, /* a video stream this build cannot decode */
  TE_ERR_CORRUPT = 4,           /* recognised but broken: bad header, truncated, nothing decodes */
  TE_ERR_TOO_LARGE = 5,         /* frame size above the pixel limit (decompression bombs), or more
                                   streams than the engine reads (formats.h: TE_MAX_STREAMS) */
  TE_ERR_NO_MEMORY = 6,
  TE_ERR_IO = 7,                /* the file cannot be opened or read */
  TE_ERR_INVALID_ARGUMENT = 8,  /* a bad call: negative time, nothing open, ... */
  TE_ERR_INTERRUPTED = 9,       /* the caller's interrupt flag was set (a timeout, a cancel) */
  TE_ERR_UNSUPPORTED_CONTAINER = 10, /* a media container the engine recognises but does not read */
} te_status;

typedef enum te_mode {
  TE_MODE_EXACT = 0,    /* the first frame whose time is >= t */
  TE_MODE_KEYFRAME = 1, /* the keyframe at or before t: faster, for previews */
} te_mode;

/* Default limit on the source frame size: 64 megapixels (8K is 33). Output images are held to the
 * same number of pixels, and to TE_MAX_SIDE a side (whatever the sample aspect ratio claims). */
#define TE_DEFAULT_MAX_PIXELS (64 * 1024 * 1024)
#define TE_MAX_SIDE 16384

typedef struct te_info {
  double duration;        /*  0: seconds; negative when unknown */
  double fps;             /*  8: average frame rate; 0 when unknown */
  int32_t width;          /* 16: coded size */
  int32_t height;         /* 20 */
  int32_t display_width;  /* 24: as shown: sample aspect ratio and rotation applied */
  int32_t display_height; /* 28 */
  int32_t rotation;       /* 32: clockwise degrees to turn the coded picture: 0, 90, 180, 270 */
  int32_t reserved;       /* 36 */
  char codec[24];         /* 40: FFmpeg's codec name ("h264", "av1", ...), NUL-terminated */
} te_info;                /* 64 bytes */

/* What a decoder other than the engine's needs to decode the video stream. */
typedef struct te_codec {
  int32_t profile;          /*  0: FFmpeg's profile (FF_PROFILE_*), -99 when unknown */
  int32_t level;            /*  4: FFmpeg's level, -99 when unknown */
  int32_t bit_depth;        /*  8: bits per sample (8, 10, 12), 0 when unknown */
  int32_t chroma;           /* 12: 420, 422, 444, 400 (monochrome); 0 when unknown */
  int32_t color_space;      /* 16: the matrix (AVColorSpace); 2 when unspecified */
  int32_t color_range;      /* 20: AVColorRange: 1 limited, 2 full, 0 unspecified */
  int32_t color_primaries;  /* 24: AVColorPrimaries */
  int32_t color_transfer;   /* 28: AVColorTransferCharacteristic */
  int32_t sar_num;          /* 32: sample aspect ratio as the engine applies it (1:1 when none) */
  int32_t sar_den;          /* 36 */
  int32_t alpha;            /* 40: the pixel format has alpha */
  int32_t extradata_size;   /* 44 */
  const uint8_t *extradata; /* 48: avcC, hvcC, av1C, ... or Annex B parameter sets; may be NULL */
} te_codec;

/* Flags of a te_packet. */
#define TE_PACKET_KEY 1    /* a keyframe: decoding may start here */
#define TE_PACKET_SKIP 2   /* no other frame refers to it and it is not the one wanted: need not be decoded */

typedef struct te_packet {
  double time;       /*  0: presentation time in seconds from the start of the video (as te_image's) */
  double duration;   /*  8: seconds; 0 when unknown */
  int32_t offset;    /* 16: where its bytes are in te_packets.data */
  int32_t size;      /* 20 */
  int32_t flags;     /* 24: TE_PACKET_* */
  int32_t reserved;  /* 28 */
} te_packet;         /* 32 bytes */

typedef struct te_packets {
  int32_t count;           /*  0: packets in decode order, the first a keyframe */
  int32_t wanted;          /*  4: the index of the frame te_decode would make for the same t and mode */
  int32_t data_size;       /*  8 */
  int32_t reserved;        /* 12 */
  const te_packet *list;   /* 16 */
  const uint8_t *data;     /* 20 (24 on 64-bit hosts) */
} te_packets;

typedef struct te_image {
  double time;     /*  0: the frame's time in seconds from the start of the video */
  int32_t width;   /*  8: display orientation, fitted in the requested box */
  int32_t height;  /* 12 */
  uint8_t *rgba;   /* 16: width * height * 4 samples (te_set_output_depth), rows top-down; owned by the engine */
} te_image;

typedef struct te_engine te_engine;

te_engine *te_new(void);
void te_free(te_engine *e);
/* Source frames above this many pixels are refused with TE_ERR_TOO_LARGE. */
void te_set_max_pixels(te_engine *e, int32_t max_pixels);
/* The depth of te_result's samples: 8 (the default: RGBA, a byte each) or 16 (RGBA64 in the host's
 * byte order: the coded values of a 10-bit HDR frame, its matrix undone, kept for the host's tone
 * mapping). */
void te_set_output_depth(te_engine *e, int32_t bits);

/* While *flag is non-zero, every call gives up with TE_ERR_INTERRUPTED as soon as it can (checked
 * on each read and each frame). Another thread may set it. NULL: no interrupt (the default). */
void te_set_interrupt(te_engine *e, const volatile int32_t *flag);

/* Opens a file and finds its video stream. threads: decoder threads, 0 = the build's default.
 * Needs no decoder: a video this build cannot decode is described (te_probe, te_codec_info, te_read_packets),
 * and te_decode says TE_ERR_UNSUPPORTED_CODEC. */
int te_open(te_engine *e, const char *path, int32_t threads);
/* Wasm builds only: the same on bytes the host reads (a URL by HTTP Range requests): the engine
 * calls Module.teRead(offset, pointer, length), which copies up to length bytes at offset of the
 * size-byte file to the heap at pointer and returns how many (0 at the end, negative on failure). */
int te_open_reader(te_engine *e, double size, int32_t threads);
/* Native builds only: the same on a readable, seekable file descriptor the caller keeps open until
 * te_close (the engine then touches no file system: the server's sandboxed workers use this). */
int te_open_fd(te_engine *e, int fd, int32_t threads);
void te_close(te_engine *e);
/* The open video's description; valid until te_close. */
const te_info *te_probe(const te_engine *e);
/* What another decoder needs for the open video stream; valid until te_close. */
const te_codec *te_codec_info(const te_engine *e);

/* Decodes the frame at t seconds (past the end: the last frame) and scales it to fit in
 * max_width x max_height (0 = no limit; never enlarged), rotation and aspect ratio applied. */
int te_decode(te_engine *e, double t, int32_t max_width, int32_t max_height, int32_t mode);
/* The frame at or after t (exact), going on from the last te_decode or te_decode_next when t is
 * later: the packets in between are decoded once, or skipped when the index shows a keyframe after
 * them at or before t. Frames for a sorted list of times thus decode each packet at most once (a
 * contact sheet, an animation). An earlier t seeks, as te_decode does. */
int te_decode_next(te_engine *e, double t, int32_t max_width, int32_t max_height);
/* Packets given to the decoder since te_open; with `again`, those of them given a second time or
 * more (a seek back). A double: exact to 2^53, and a plain number in JS. */
double te_packets_decoded(const te_engine *e, int32_t again);
/* The last decoded image; valid until the next te_decode or te_close. */
const te_image *te_result(const te_engine *e);

/* Reads, without decoding, the packets the frame at t needs (mode as te_decode's): from the
 * keyframe at or before it (seeking as te_decode does) up to the last packet that may come out
 * before it; past the end, up to the last frame. Fails where the packets alone cannot say which
 * frame is wanted (no timestamps, no keyframe found): the engine's own decoder then knows better.
 * te_packet_list(e) holds them until the next call or te_close. */
int te_read_packets(te_engine *e, double t, int32_t mode);
const te_packets *te_packet_list(const te_engine *e);

/* The size te_decode makes a width x height frame of the open video fitted in the box (out[0] x
 * out[1]): for another decoder's frames to come out the engine's size. */
int te_output_size(te_engine *e, int32_t width, int32_t height, int32_t max_width, int32_t max_height, int32_t *out);

/* Why the last call failed, in words ("" after success). */
const char *te_message(const te_engine *e);
/* A stable name for a status: "not_media", "no_video", ... */
const char *te_error_name(int32_t status);

#ifdef __cplusplus
}
#endif

#endif
