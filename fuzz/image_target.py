"""The fuzz target for reading QR codes out of images, without the fuzzer:
``fuzz/fuzz_image.py`` runs it under atheris, ``tests/test_fuzz_corpus.py`` replays the
committed corpus (``fuzz/image_corpus``) through it on every test run.

Any input must end in the QR text or a certfree ``VerificationFailed`` from
``verifier.decode_qr_image``; and whenever ``verifier._png`` reads a file itself, its
pixels must be exactly the ones Pillow reads from the same bytes (and Pillow must read
them). Anything else is a bug. This target found two (session 5): an image wider than
zxing-cpp reads leaked its ValueError, and Pillow's load() a SyntaxError.
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from pathlib import Path

from PIL import Image

from verifier import VerificationFailed, decode_qr_image
from verifier._png import grey_pixels
from wallet import png_bytes

MAX_DECODE = 64 * 1024  # larger inputs only go through the PNG reader's differential check


def pillow_grey(data: bytes) -> bytes:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image.tobytes("raw", "L")


def test_one_input(data: bytes) -> None:
    read = grey_pixels(data)
    if read is not None:
        pixels, width, height, stride = read
        mine = b"".join(bytes(pixels[y * stride:y * stride + width]) for y in range(height))
        try:
            theirs = pillow_grey(data)
        except Exception as exc:  # noqa: BLE001 - any refusal by Pillow is the finding
            raise AssertionError(f"verifier._png read a file Pillow refuses: {exc!r}") from None
        assert mine == theirs, "verifier._png and Pillow read different pixels"
    if len(data) <= MAX_DECODE:
        with warnings.catch_warnings():  # Pillow's DecompressionBombWarning before our cap
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            try:
                decode_qr_image(data)
            except VerificationFailed:
                pass


def write_seeds(folder: Path) -> None:
    """The wallet's PNG at 1 and 2 px per module, and the same code as GIF, BMP, JPEG,
    WEBP and an RGB PNG (Pillow's other readers)."""
    folder.mkdir(parents=True, exist_ok=True)
    text = "CF1:" + "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:" * 2
    page = png_bytes(text)
    (folder / "seed_wallet_1px.png").write_bytes(page)
    (folder / "seed_wallet_1px_split.png").write_bytes(_split_idat(page, 3))
    (folder / "seed_wallet_2px.png").write_bytes(png_bytes(text, scale=2))
    grey = Image.open(io.BytesIO(png_bytes(text, scale=2))).convert("L")
    for name, image, fmt in (("gif", grey, "GIF"), ("bmp", grey, "BMP"), ("jpeg", grey, "JPEG"),
                             ("webp", grey, "WEBP"), ("rgb.png", grey.convert("RGB"), "PNG")):
        out = io.BytesIO()
        image.save(out, format=fmt)
        (folder / f"seed.{name}").write_bytes(out.getvalue())


def _split_idat(png: bytes, parts: int) -> bytes:
    """The same PNG with its one IDAT chunk split into ``parts`` (each with its CRC)."""
    at = png.index(b"IDAT")
    (length,) = struct.unpack(">I", png[at - 4:at])
    body = png[at + 4:at + 4 + length]
    step = -(-len(body) // parts)
    idats = b"".join(_chunk(b"IDAT", body[i:i + step]) for i in range(0, len(body), step))
    return png[:at - 4] + idats + png[at + 8 + length:]


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
