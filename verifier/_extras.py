"""The SDK's optional part: reading QR images needs the ``image`` extra (zxing-cpp and
Pillow, ``pip install 'certfree-verifier[image]'``); verifying QR text needs neither. Without
it, an image is refused with ``image_support_missing``, in English and Chinese."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from ._errors import ImageSupportMissing, VerificationFailed

if TYPE_CHECKING:
    from ._image import ImageInput

_IMAGE_MODULES = frozenset({"zxingcpp", "PIL"})

# The image reader, imported by the first image read: an import statement run on every
# call costs about 9 µs on a 1-bit page PNG whose whole read is about 140 µs
# (docs/benchmarks.md, "Verifying presentations"). A failed import is not remembered, so
# an extra installed while the process runs is found by the next read.
_reader: Callable[[ImageInput], str] | None = None


def decode_qr_image(image: ImageInput) -> str:
    """Return the text of the first QR code in ``image`` (bytes, a ``pathlib.Path`` or a PIL
    image) or raise :class:`VerificationFailed`."""
    read = _reader
    if read is None:
        read = _import_reader()
    return read(image)


def _import_reader() -> Callable[[ImageInput], str]:
    global _reader
    try:
        from ._image import decode_qr_image as read
    except ImportError as exc:
        if exc.name not in _IMAGE_MODULES:
            raise
        raise VerificationFailed([ImageSupportMissing()]) from None
    _reader = read
    return read
