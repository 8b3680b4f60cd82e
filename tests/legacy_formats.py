#!/usr/bin/env python3
"""Writes the fixtures whose formats the ffmpeg CLI reads but cannot write (tests/fixtures.sh).

    legacy_formats.py flic <width> <height> <fps> <out.flc>   frames: rgb8 raw video on stdin
    legacy_formats.py cdg <seconds> <out.cdg>

FLIC (Autodesk Animator Pro, .flc): the first frame a 256-colour palette and a byte-run (BRUN)
picture, every later one a word-oriented delta (DELTA_FLC) against the one before: lines that did
not change skipped, the rest in literal and repeat packets, as the format's own encoders write it.
The frames come from the CLI (`-pix_fmt rgb8`: 3 bits red, 3 green, 2 blue), so the palette is
that fixed one.

CD+G (karaoke discs, .cdg): 300 packets of 24 bytes a second; the screen (300x216, 16 colours) set
up as discs do (memory preset repeated, palette, border), then drawn one 6x12 tile per packet,
every tenth tile XOR-ed over what is there, so the picture at 1 s is a third of the screen.

Both are deterministic: the same arguments and input give the same bytes.
"""
import struct
import sys


def flic(width, height, fps, out):
    frame_size = width * height
    data = sys.stdin.buffer.read()
    if width % 2 or len(data) % frame_size or not data:
        sys.exit(f"flic: {len(data)} bytes are not whole {width}x{height} rgb8 frames (even width)")
    frames = [data[i:i + frame_size] for i in range(0, len(data), frame_size)]

    palette = bytearray()
    for i in range(256):  # rgb8: (msb) 3 bits red, 3 green, 2 blue (lsb)
        palette += bytes(((i >> 5) * 255 // 7, ((i >> 2) & 7) * 255 // 7, (i & 3) * 255 // 3))

    def chunk(kind, payload):
        if len(payload) % 2:
            payload += b"\0"
        return struct.pack("<IH", 6 + len(payload), kind) + payload

    def brun(frame):
        body = bytearray()
        for y in range(height):
            line = frame[y * width:(y + 1) * width]
            body.append(0)  # the line's packet count: ignored by FLC readers
            x = 0
            while x < width:
                run = 1
                while x + run < width and run < 127 and line[x + run] == line[x]:
                    run += 1
                if run >= 3:
                    body += bytes((run, line[x]))
                    x += run
                    continue
                end = x  # literal bytes until a run of 3 starts (at most 128)
                while end < width and end - x < 128 and not (
                    end + 2 < width and line[end] == line[end + 1] == line[end + 2]
                ):
                    end += 1
                body += struct.pack("<b", -(end - x)) + line[x:end]
                x = end
        return bytes(body)

    def delta(before, frame):
        body = bytearray()
        lines = 0
        skipped = 0
        for y in range(height):
            old, new = before[y * width:(y + 1) * width], frame[y * width:(y + 1) * width]
            if old == new:
                skipped += 1
                continue
            if skipped:
                body += struct.pack("<h", -skipped)
                skipped = 0
            packets = bytearray()
            count = 0
            x = 0
            while x < width:  # words: pixel pairs
                skip = 0
                while x < width and skip < 254 and old[x:x + 2] == new[x:x + 2]:
                    x += 2
                    skip += 2
                if x >= width:
                    break
                pair = new[x:x + 2]
                run = 1
                while x + 2 * run < width and run < 127 and new[x + 2 * run:x + 2 * run + 2] == pair:
                    run += 1
                if run >= 2:
                    packets += bytes((skip,)) + struct.pack("<b", -run) + pair
                    x += 2 * run
                else:
                    words = 1
                    while x + 2 * words < width and words < 127 and \
                            old[x + 2 * words:x + 2 * words + 2] != new[x + 2 * words:x + 2 * words + 2]:
                        words += 1
                    packets += bytes((skip, words)) + new[x:x + 2 * words]
                    x += 2 * words
                count += 1
            body += struct.pack("<H", count) + packets
            lines += 1
        return struct.pack("<H", lines) + bytes(body)

    body = bytearray()
    offsets = []
    before = None
    for frame in frames:
        offsets.append(128 + len(body))
        if before is None:
            chunks = chunk(4, struct.pack("<HBB", 1, 0, 0) + bytes(palette)) + chunk(15, brun(frame))
            count = 2
        else:
            chunks = chunk(7, delta(before, frame))
            count = 1
        body += struct.pack("<IHHHHHH", 16 + len(chunks), 0xF1FA, count, 0, 0, 0, 0) + chunks
        before = frame
    header = struct.pack(
        "<IHHHHHHIHIIIIHH",
        128 + len(body), 0xAF12, len(frames), width, height, 8, 3, round(1000 / fps),
        0, 0, 0, 0, 0, 1, 1,
    )
    header += bytes(80 - len(header)) + struct.pack("<II", offsets[0], offsets[1] if len(offsets) > 1 else 0)
    header += bytes(128 - len(header))
    with open(out, "wb") as f:
        f.write(header + body)


def cdg(seconds, out):
    def packet(instruction, data):
        return bytes((0x09, instruction, 0, 0)) + bytes(data).ljust(16, b"\0") + bytes(4)

    colours = [  # 12-bit RGB, packed 6 bits a byte as the discs store them
        (r << 8) | (g << 4) | b
        for r, g, b in [(0, 0, 0), (15, 15, 15), (15, 0, 0), (0, 15, 0), (0, 0, 15), (15, 15, 0),
                        (0, 15, 15), (15, 0, 15), (8, 8, 8), (15, 8, 0), (0, 8, 15), (8, 15, 8),
                        (4, 4, 12), (12, 4, 4), (4, 12, 4), (12, 12, 12)]
    ]

    def palette(first):
        data = []
        for c in colours[first:first + 8]:
            data += [(c >> 6) & 0x3F, c & 0x3F]
        return data

    packets = [packet(1, [8, i]) for i in range(16)]  # memory preset to colour 8
    packets += [packet(30, palette(0)), packet(31, palette(8)), packet(2, [4])]
    total = round(seconds * 300)
    tile = 0
    while len(packets) < total:
        row, column = (tile // 50) % 18, tile % 50
        bits = [((row * 5 + column * 3 + y * 7) ^ (y * 9)) & 0x3F for y in range(12)]
        colour0, colour1 = (row + column) % 16, (row * 3 + column * 7 + 1) % 16
        packets.append(packet(38 if tile % 10 == 9 else 6, [colour0, colour1, row, column] + bits))
        tile += 1
    with open(out, "wb") as f:
        f.write(b"".join(packets[:total]))


if __name__ == "__main__":
    kind, args = sys.argv[1], sys.argv[2:]
    if kind == "flic":
        flic(int(args[0]), int(args[1]), float(args[2]), args[3])
    elif kind == "cdg":
        cdg(float(args[0]), args[1])
    else:
        sys.exit(f"unknown kind {kind}")
