"""Rendering QR text as an image: build the matrix once, then write PNG or SVG."""

from __future__ import annotations

import io
from pathlib import Path

import segno

from keys import atomic_write

# M repairs twice the damage L does: a reflection over 8 % of a screen code leaves 80 % of
# codes readable at M, 32 % at L; L is two versions smaller and reads 22 % faster
# (bench/qr_levels.py; docs/benchmarks.md, "Error correction L against M").
ERROR_LEVEL = "m"
# Pixels per module. Files (``write``) are opened in image viewers and printed as they
# are, so they get 6. The wallet page's PNG (``png_bytes``) gets one pixel per module,
# the smallest exact image, and the browser enlarges it without smoothing
# (``image-rendering: pixelated``): the page stays small and a desk that is handed the
# PNG decodes it about 3 times faster than at 6 (docs/benchmarks.md, "QR codes").
SCALE = 6
SCREEN_SCALE = 1
BORDER = 4  # the quiet zone the QR standard asks for


def make(text: str) -> segno.QRCode:
    """The QR matrix for ``text`` at error correction M (segno picks alphanumeric mode for
    certfree's base45 text). Raises ``segno.DataOverflowError`` if it cannot fit."""
    return segno.make_qr(text, error=ERROR_LEVEL, boost_error=False)


def version(text: str) -> int:
    return int(make(text).version)


def png_bytes(text: str, *, scale: int = SCREEN_SCALE) -> bytes:
    out = io.BytesIO()
    make(text).save(out, kind="png", scale=scale, border=BORDER)
    return out.getvalue()


def svg_bytes(text: str, *, scale: int = SCALE) -> bytes:
    out = io.BytesIO()
    make(text).save(out, kind="svg", scale=scale, border=BORDER, xmldecl=False, svgns=True, title="certfree QR")
    return out.getvalue()


def write(text: str, path: str | Path, *, scale: int = SCALE) -> Path:
    """Write ``text`` as a QR image; the format follows the suffix (.png or .svg)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".png":
        data = png_bytes(text, scale=scale)  # a file: SCALE, not SCREEN_SCALE
    elif suffix == ".svg":
        data = svg_bytes(text, scale=scale)
    else:
        raise ValueError(f"unsupported QR image format {suffix!r}: use .png or .svg")
    atomic_write(path, data, mode=0o600)  # a licence's QR shows what the licence says
    return path
