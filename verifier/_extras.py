"""The SDK's optional part: reading QR images needs the ``image`` extra (zxing-cpp and
Pillow, ``pip install 'certfree-verifier[image]'``); verifying QR text needs neither. Without
it, an image is refused with ``image_support_missing``, in English and Chinese."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._errors import ImageSupportMissing, VerificationFailed

if TYPE_CHECKING:
    from ._image import ImageInput

_IMAGE_MODULES = frozenset({"zxingcpp", "PIL"})


def decode_qr_image(image: ImageInput) -> str:
    """Return the text of the first QR code in ``image`` (bytes, a ``pathlib.Path`` or a PIL
    image) or raise :class:`VerificationFailed`."""
    try:
        from ._image import decode_qr_image as read
    except ImportError as exc:
        if exc.name not in _IMAGE_MODULES:
            raise
        raise VerificationFailed([ImageSupportMissing()]) from None
    return read(image)
