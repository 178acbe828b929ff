"""Read the QR text out of an image (a photo or a screenshot), with size caps."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Union

import zxingcpp
from PIL import Image, UnidentifiedImageError

from ._errors import MalformedInput, QRNotFound, VerificationFailed

MAX_IMAGE_BYTES = 12 * 1024 * 1024
MAX_IMAGE_PIXELS = 40_000_000

ImageInput = Union[bytes, Path, Image.Image]


def decode_qr_image(image: ImageInput) -> str:
    """Return the text of the first QR code in ``image`` or raise :class:`VerificationFailed`."""
    if isinstance(image, Image.Image):
        picture = image
    else:
        data = _read_capped(image)
        try:
            picture = Image.open(io.BytesIO(data))
            width, height = picture.size
            if width * height > MAX_IMAGE_PIXELS:
                raise VerificationFailed([MalformedInput(detail="image too large")])
            picture.load()
        except VerificationFailed:
            raise
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
            raise VerificationFailed([MalformedInput(detail="not a readable image")]) from None
    if picture.mode != "L":
        # zxing-cpp works on luminance: handing it 8-bit grey rather than RGB halves its
        # time, and PIL's conversion of a 1-bit PNG to grey is ~20 x cheaper than to RGB.
        picture = picture.convert("L")
    results = zxingcpp.read_barcodes(picture, formats=zxingcpp.BarcodeFormat.QRCode)  # type: ignore[arg-type]
    for result in results:
        if result.valid and result.text:
            return result.text
    raise VerificationFailed([QRNotFound()])


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
