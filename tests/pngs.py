"""PNG files built by hand for the image tests: chunks with right CRCs, and damaged files."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

from wallet import png_bytes

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def chunk(kind: bytes, body: bytes) -> bytes:
    """One PNG chunk: length, type, body and the CRC of type and body."""
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    """The (type, body) of each chunk of a well-formed PNG, in order."""
    out, pos = [], len(SIGNATURE)
    while pos < len(png):
        (length,) = struct.unpack_from(">I", png, pos)
        out.append((png[pos + 4:pos + 8], png[pos + 8:pos + 8 + length]))
        pos += 12 + length
    return out


def broken_chunk_after_idat(text: str = "CF1:" + "ABC" * 40) -> bytes:
    """A wallet PNG of ``text`` whose image data is split in two, the second part under a
    chunk type that is not one (b"ID\\0\\0"), with right CRCs: Pillow's load() meets the
    broken chunk while it still wants image data (it raised SyntaxError there)."""
    out = SIGNATURE
    for kind, body in chunks(png_bytes(text, scale=2)):
        out += chunk(kind, body) if kind != b"IDAT" else chunk(b"IDAT", body[:10]) + chunk(b"ID\0\0", body[10:])
    return out


def too_wide() -> bytes:
    """A valid, blank 8-bit PNG 70,000 px wide and 2 high: far under the pixel cap, wider
    than zxing-cpp reads (65,535 px a side; it raised ValueError)."""
    out = io.BytesIO()
    Image.new("L", (70_000, 2), 255).save(out, format="PNG")
    return out.getvalue()
