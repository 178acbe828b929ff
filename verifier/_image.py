"""Read the QR text out of an image (a photo or a screenshot), with size caps.

A desk's camera often sees other codes beside the phone (a payment or Wi-Fi sticker):
of every code zxing-cpp finds, the certfree one is taken (``CF1:`` or a compact JWS),
else the first. A small, blurred code that is not found is looked for once more in the
image resampled to twice its size (bicubic), before ``qr_not_found``.

zxing-cpp and Pillow are the SDK's ``image`` extra: this module is imported only when an
image is read (``verifier._extras``), so QR text verifies without them."""

from __future__ import annotations

import io
import re
import struct
from pathlib import Path
from typing import Any, Iterable, Union

import zxingcpp
from PIL import Image, UnidentifiedImageError

from ._errors import MalformedInput, QRNotFound, VerificationFailed
from ._png import grey_pixels

MAX_IMAGE_BYTES = 12 * 1024 * 1024
MAX_IMAGE_PIXELS = 40_000_000
MAX_IMAGE_SIDE = 65_535  # zxing-cpp reads no wider or taller image (it raises ValueError)
# What a desk is handed: a wallet's PNG, a phone screenshot, a camera photo. Pillow's
# other decoders are not reached by untrusted uploads at all.
IMAGE_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP")

ImageInput = Union[bytes, Path, Image.Image]

# The 2 x retry runs only while the enlarged image stays this small (a big photo without a
# code is not worth four times its decoding time, and its pixels are not small ones).
MAX_RETRY_PIXELS = 16_000_000
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*", re.ASCII)

# What Pillow raises for a file it cannot read. Image.open turns its plugins' SyntaxError,
# IndexError, TypeError and struct.error into UnidentifiedImageError, but load() does not:
# a PNG whose image data runs on into a broken chunk raises SyntaxError there.
_UNREADABLE = (
    UnidentifiedImageError, OSError, ValueError, EOFError, SyntaxError, IndexError, TypeError,
    struct.error, Image.DecompressionBombError,
)


def decode_qr_image(image: ImageInput) -> str:
    """Return the text of the first QR code in ``image`` or raise :class:`VerificationFailed`."""
    if isinstance(image, Image.Image):
        picture = image  # opened by the caller; the caps hold, and it may not be loaded yet
        _check_size(picture.width, picture.height)
        try:
            picture.load()
        except _UNREADABLE:
            raise VerificationFailed([MalformedInput(detail="not a readable image")]) from None
    else:
        data = _read_capped(image)
        rendered = grey_pixels(data)  # a wallet's own PNG, read without Pillow (see _png)
        if rendered is not None:
            return _read_bilevel(*rendered)
        try:
            picture = Image.open(io.BytesIO(data), formats=IMAGE_FORMATS)
            _check_size(*picture.size)
            picture.load()
        except VerificationFailed:
            raise
        except _UNREADABLE:
            raise VerificationFailed([MalformedInput(detail="not a readable image")]) from None
    # zxing-cpp works on luminance: 8-bit grey rather than RGB halves its time. The pixels
    # are copied out once (handing zxing-cpp the PIL image copies them twice); a 1-bit
    # image is unpacked straight to 0/255 bytes by PIL's raw packer, without a converted
    # copy. ImageView does not own its buffer: ``grey`` must stay referenced while read.
    if picture.mode == "1":
        return _read_bilevel(picture.tobytes("raw", "L"), picture.width, picture.height, picture.width)
    if picture.mode != "L":
        picture = picture.convert("L")
    grey, width, height = picture.tobytes(), picture.width, picture.height
    return _read(zxingcpp.ImageView(grey, width, height, _LUM), grey, width, height, width)


def _read_bilevel(grey: bytes | memoryview, width: int, height: int, stride: int) -> str:
    """A 1-bit image is a render (a wallet's PNG, a printed code scanned in black and
    white), not a camera photo: try zxing-cpp's reader for an upright code on a clean
    background first, about 3 x faster; if it finds nothing, the full detector runs.
    ``grey`` is one byte a pixel, 0 or 255, rows ``stride`` bytes apart."""
    _check_size(width, height)
    pixels = zxingcpp.ImageView(grey, width, height, _LUM, stride)  # grey stays referenced while read
    text = _choose_text(zxingcpp.read_barcodes(pixels, formats=_QR, is_pure=True, binarizer=_EXACT))
    return text if text is not None else _read(pixels, grey, width, height, stride)


def _read(pixels: zxingcpp.ImageView, grey: bytes | memoryview, width: int, height: int, stride: int) -> str:
    """The code's text; if none is found, once more at twice the size (see the module).
    ``pixels`` is a view of ``grey``, one byte a pixel, rows ``stride`` bytes apart."""
    text = _choose_text(zxingcpp.read_barcodes(pixels, formats=_QR))
    if text is None:
        picture = Image.frombuffer("L", (width, height), bytes(grey), "raw", "L", stride, 1)
        width, height = picture.width * 2, picture.height * 2
        if width * height <= MAX_RETRY_PIXELS and max(width, height) <= MAX_IMAGE_SIDE:
            larger = picture.resize((width, height), Image.Resampling.BICUBIC)
            grey = larger.tobytes()  # referenced while zxing-cpp reads it
            view = zxingcpp.ImageView(grey, larger.width, larger.height, _LUM)
            text = _choose_text(zxingcpp.read_barcodes(view, formats=_QR))
    if text is None:
        raise VerificationFailed([QRNotFound()])
    return text


def _check_size(width: int, height: int) -> None:
    """Refuse an image over the pixel cap, or with a side longer than zxing-cpp reads."""
    if width * height > MAX_IMAGE_PIXELS or width > MAX_IMAGE_SIDE or height > MAX_IMAGE_SIDE:
        raise VerificationFailed([MalformedInput(detail="image too large")])


_QR = zxingcpp.barcode_formats_from_str("QRCode")
_LUM = zxingcpp.ImageFormat.Lum  # 8-bit grey, one byte a pixel
_EXACT = zxingcpp.Binarizer.BoolCast  # grey from a 1-bit image is exactly 0 or 255


def is_certfree_text(text: str) -> bool:
    """Whether a QR code's text is a certfree code: the ``CF1:`` envelope or a compact JWS."""
    return text.startswith("CF1:") or _COMPACT_JWS.fullmatch(text) is not None


def _choose_text(results: Iterable[Any]) -> str | None:
    """The certfree code among the codes found (a sticker may be in view), else the first."""
    first = None
    for result in results:
        if result.valid:
            text = str(result.text)
            if text and is_certfree_text(text):
                return text
            if text and first is None:
                first = text
    return first


def _read_capped(source: bytes | Path) -> bytes:
    if isinstance(source, (bytes, bytearray)):
        if len(source) > MAX_IMAGE_BYTES:
            raise VerificationFailed([MalformedInput(detail="image file too large")])
        return bytes(source)
    try:
        with open(source, "rb") as fh:
            data = fh.read(MAX_IMAGE_BYTES + 1)
    except OSError:
        raise VerificationFailed([MalformedInput(detail="image file cannot be read")]) from None
    if len(data) > MAX_IMAGE_BYTES:
        raise VerificationFailed([MalformedInput(detail="image file too large")])
    return data
