"""A direct reader for the one PNG shape a certfree wallet renders; Pillow reads the rest.

segno writes a QR code as a 1-bit greyscale, non-interlaced PNG of three chunks (IHDR,
IDAT, IEND) whose rows are all unfiltered. For such a small file (763 bytes for the
wallet page's internet-cafe code) Pillow's generic machinery is most of the cost of reading
it: about 20 µs of Python to open and load 73 x 73 pixels, against 2 µs for the inflate
itself, and the verification that follows runs about 13 µs slower after it (the CPU's
caches and predictors are cold for the verifier's own code): docs/benchmarks.md, "Two
machines" and "QR codes". This module reads exactly that shape and nothing else:

* the PNG signature, then IHDR (13 bytes: 1-bit, colour type 0, compression 0, filter
  method 0, no interlace), one or more IDAT chunks, and IEND as the last bytes of the
  file: every chunk's length within the file and its CRC right; any other chunk, order or
  trailing byte and the file is left to Pillow;
* one zlib stream that inflates to exactly the rows the header promises (inflating stops
  one byte past that, so a stream that would inflate further costs nothing more), with
  every row's filter byte 0 (None); a filtered row is left to Pillow;
* at most :data:`MAX_PIXELS` pixels (the caller applies its own size caps as well).

:func:`grey_pixels` returns ``None`` for anything else, and the caller reads the file with
Pillow as before: this module never refuses an image, so it cannot refuse one Pillow
would read (tests/test_png.py holds its pixels equal to Pillow's for every file it
accepts, damaged ones included). Nothing it returns is trusted further than Pillow's
pixels were: the QR text read from them must still carry valid signatures.
"""

from __future__ import annotations

import struct
import zlib

__all__ = ["MAX_PIXELS", "grey_pixels"]

#: The largest image read here (a version-40 code at 6 pixels per module is 1,110 x 1,110).
MAX_PIXELS = 4_000_000

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHUNK_HEAD = struct.Struct(">I4s")
_IHDR = struct.Struct(">IIBBBBB")
_ONE_BIT_GREY = (1, 0, 0, 0, 0)  # bit depth, colour type, compression, filter method, interlace
_BIT_TO_GREY = bytes.maketrans(b"01", b"\x00\xff")  # a 1-bit grey PNG's 0 is black


def grey_pixels(data: bytes) -> tuple[memoryview, int, int, int] | None:
    """``(pixels, width, height, row_stride)`` of a 1-bit greyscale PNG of the shape
    described above, one byte per pixel (0 black, 255 white) with rows ``row_stride``
    bytes apart; ``None`` if ``data`` is anything else."""
    if not data.startswith(_SIGNATURE):
        return None
    end = len(data)
    pos = len(_SIGNATURE)
    header: bytes | None = None
    idat: list[bytes] = []
    while True:
        if pos + 12 > end:
            return None
        length, kind = _CHUNK_HEAD.unpack_from(data, pos)
        body_end = pos + 8 + length
        if body_end + 4 > end:
            return None
        if zlib.crc32(data[pos + 4:body_end]) != int.from_bytes(data[body_end:body_end + 4], "big"):
            return None
        if header is None:
            if kind != b"IHDR" or length != _IHDR.size:
                return None
            header = data[pos + 8:body_end]
        elif kind == b"IDAT":  # only IHDR and IDAT come before: the IDATs are consecutive
            idat.append(data[pos + 8:body_end])
        elif kind == b"IEND" and idat and length == 0 and body_end + 4 == end:
            break
        else:
            return None
        pos = body_end + 4
    width, height, *shape = _IHDR.unpack(header)
    if tuple(shape) != _ONE_BIT_GREY:
        return None
    if not (0 < width and 0 < height and width * height <= MAX_PIXELS):
        return None
    row_bytes = 1 + (width + 7) // 8  # the filter byte, then the pixels, 8 to a byte
    size = row_bytes * height
    inflater = zlib.decompressobj()
    try:
        rows = inflater.decompress(b"".join(idat), size + 1)
    except zlib.error:
        return None
    if len(rows) != size or not inflater.eof or inflater.unused_data or inflater.unconsumed_tail:
        return None
    if rows[::row_bytes].count(0) != height:  # a row with a filter: Pillow undoes it
        return None
    # Every bit as one byte: the rows as one integer, written out in binary ("0"/"1", one
    # character a bit, leading zeros kept), then mapped to 0 and 255. A zero byte at the
    # end keeps the last row's view inside the buffer (zxing-cpp checks stride x height).
    bits = 8 * (size + 1)
    grey = format(int.from_bytes(rows + b"\0", "big"), f"0{bits}b").encode("ascii").translate(_BIT_TO_GREY)
    # Each row is its filter byte's 8 pixels, then the image's, then padding bits.
    return memoryview(grey)[8:], width, height, 8 * row_bytes
