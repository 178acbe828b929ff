"""Rendering QR text as an image: build the symbol once, then write PNG or SVG from it.

The symbol is built by zxing-cpp's ``create_barcode`` (its encoder is zint's, in C): the
same symbol as segno's and qrcode's (same version, error correction M, alphanumeric mode
for certfree's base45 text) in about 1/30 of segno's time; bench/qr_encoders.py measures
the three and checks that zxing-cpp reads each one back. segno's writers turn the one
matrix into a PNG (the 1-bit greyscale shape verifier/_png.py reads directly) or an SVG."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import segno.writers
import zxingcpp

from keys import atomic_write

# M repairs twice the damage L does: a reflection over 8 % of a screen code leaves 80 % of
# codes readable at M, 32 % at L; L is two versions smaller and reads 22 % faster
# (bench/qr_levels.py; docs/benchmarks.md, "Error correction L against M").
ERROR_LEVEL = "M"
# Pixels per module. Files (``write``) are opened in image viewers and printed as they
# are, so they get 6. The wallet page's PNG (``png_bytes``) gets one pixel per module,
# the smallest exact image, and the browser enlarges it without smoothing
# (``image-rendering: pixelated``): the page stays small and a desk that is handed the
# PNG decodes it about 3 times faster than at 6 (docs/benchmarks.md, "QR codes").
SCALE = 6
SCREEN_SCALE = 1
BORDER = 4  # the quiet zone the QR standard asks for
_DARK = bytes.maketrans(b"\x00\xff", b"\x01\x00")  # zxing-cpp's black pixel is a dark module


class QRTooLong(ValueError):
    """The text does not fit in a QR code (version 40) at error correction M."""


@dataclass(frozen=True)
class Symbol:
    """A QR symbol, built once: its version and its modules (one row of 0/1 bytes per
    module row, 1 dark, no quiet zone)."""

    version: int
    matrix: tuple[bytes, ...]

    @property
    def size(self) -> int:
        """Modules per side, without the quiet zone."""
        return len(self.matrix)

    def pixels(self, *, scale: int = 1, border: int = BORDER) -> int:
        """Pixels per side of the image at ``scale`` pixels per module."""
        return (self.size + 2 * border) * scale

    def png(self, *, scale: int = SCREEN_SCALE) -> bytes:
        return self._write("png", scale=scale, border=BORDER)

    def svg(self, *, scale: int = SCALE) -> bytes:
        return self._write("svg", scale=scale, border=BORDER, xmldecl=False, svgns=True, title="certfree QR")

    def _write(self, kind: str, **options: object) -> bytes:
        out = io.BytesIO()
        # segno.writers.save: the writers QRCode.save uses, given a matrix (segno's stubs omit it)
        segno.writers.save(self.matrix, (self.size, self.size), out, kind, **options)  # type: ignore[attr-defined]
        return out.getvalue()


def make(text: str) -> Symbol:
    """The QR symbol for ``text`` at error correction M. Raises :class:`QRTooLong` if it
    cannot fit."""
    try:
        barcode = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level=ERROR_LEVEL)
    except ValueError as exc:  # zxing-cpp reports a text too long for version 40 as a ValueError
        raise QRTooLong(f"the text does not fit in a QR code at level {ERROR_LEVEL}: {exc}") from None
    image = memoryview(cast(Any, barcode.to_image(scale=1, add_quiet_zones=False)))  # one byte a module
    side = len(image)
    modules = image.tobytes().translate(_DARK)
    return Symbol((side - 17) // 4, tuple(modules[i:i + side] for i in range(0, side * side, side)))


def version(text: str) -> int:
    return make(text).version


def png_bytes(text: str, *, scale: int = SCREEN_SCALE) -> bytes:
    return make(text).png(scale=scale)


def svg_bytes(text: str, *, scale: int = SCALE) -> bytes:
    return make(text).svg(scale=scale)


def write(text: str, path: str | Path, *, scale: int = SCALE, symbol: Symbol | None = None) -> Path:
    """Write ``text`` as a QR image; the format follows the suffix (.png or .svg). Pass
    the ``symbol`` already built for ``text`` to build it only once."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".png", ".svg"):
        raise ValueError(f"unsupported QR image format {suffix!r}: use .png or .svg")
    symbol = symbol or make(text)
    data = symbol.png(scale=scale) if suffix == ".png" else symbol.svg(scale=scale)  # a file: SCALE, not SCREEN_SCALE
    atomic_write(path, data, mode=0o600)  # a licence's QR shows what the licence says
    return path


__all__ = ["Symbol", "QRTooLong", "make", "version", "png_bytes", "svg_bytes", "write", "SCALE", "SCREEN_SCALE", "BORDER"]
