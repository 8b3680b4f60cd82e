/* The thumbnail engine: one small C API over libavformat/libavcodec/libswscale, compiled to
 * WebAssembly for the browser (recipe/build.sh) and natively for the server (build.rs).
 *
 *   te_engine *e = te_new();
 *   te_open(e, "/in/video.mp4", threads);      -> te_status; te_probe(e) describes the video
 *   te_decode(e, 1.0, 640, 640, TE_MODE_EXACT); -> te_status; te_result(e) is the RGBA frame
 *   te_free(e);
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
  TE_ERR_TOO_LARGE = 5,         /* frame size above the pixel limit (decompression bombs) */
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

typedef struct te_image {
  double time;     /*  0: the frame's time in seconds from the start of the video */
  int32_t width;   /*  8: display orientation, fitted in the requested box */
  int32_t height;  /* 12 */
  uint8_t *rgba;   /* 16: width * height * 4 bytes, rows top-down; owned by the engine */
} te_image;

typedef struct te_engine te_engine;

te_engine *te_new(void);
void te_free(te_engine *e);
/* Source frames above this many pixels are refused with TE_ERR_TOO_LARGE. */
void te_set_max_pixels(te_engine *e, int32_t max_pixels);

/* While *flag is non-zero, every call gives up with TE_ERR_INTERRUPTED as soon as it can (checked
 * on each read and each frame). Another thread may set it. NULL: no interrupt (the default). */
void te_set_interrupt(te_engine *e, const volatile int32_t *flag);

/* Opens a file and finds its video stream. threads: decoder threads, 0 = the build's default. */
int te_open(te_engine *e, const char *path, int32_t threads);
/* Native builds only: the same on a readable, seekable file descriptor the caller keeps open until
 * te_close (the engine then touches no file system: the server's sandboxed workers use this). */
int te_open_fd(te_engine *e, int fd, int32_t threads);
void te_close(te_engine *e);
/* The open video's description; valid until te_close. */
const te_info *te_probe(const te_engine *e);

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

/* Why the last call failed, in words ("" after success). */
const char *te_message(const te_engine *e);
/* A stable name for a status: "not_media", "no_video", ... */
const char *te_error_name(int32_t status);

#ifdef __cplusplus
}
#endif

#endif
