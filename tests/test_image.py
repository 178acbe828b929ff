"""Reading QR codes out of images: the wallet's own renders, files, screenshots and photos.

decode_qr_image tries zxing-cpp's fast reader for upright, clean codes on 1-bit images and
the full detector on everything else (and when the fast reader finds nothing). Every
case here must come out as the exact text, whichever reader got it.
"""

from __future__ import annotations

import io
import struct

import pytest
import zxingcpp
from PIL import Image, ImageFilter

from pngs import SIGNATURE, broken_chunk_after_idat, chunk
from verifier import MalformedInput, QRNotFound, VerificationFailed, decode_qr_image
from wallet import png_bytes
from wallet.qr import SCALE, SCREEN_SCALE, make

TEXT = "CF1:" + "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:" * 8  # 364 characters, version 11


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _open(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def test_the_wallet_png_is_one_bit_one_pixel_per_module_and_reads_back() -> None:
    png = png_bytes(TEXT)
    image = _open(png)
    side = make(TEXT).pixels(scale=1)
    assert image.mode == "1" and image.size == (side, side) and SCREEN_SCALE == 1
    # the same text from zxing-cpp on its own, and from the verifier's reader, many times
    # over (the reader hands zxing-cpp a view of a buffer it must keep alive)
    assert zxingcpp.read_barcodes(image.convert("L"))[0].text == TEXT
    assert {decode_qr_image(png) for _ in range(50)} == {TEXT}


@pytest.mark.parametrize("scale", [1, 2, 3, SCALE])
def test_one_bit_renders_at_every_scale(scale: int) -> None:
    assert decode_qr_image(png_bytes(TEXT, scale=scale)) == TEXT


def test_a_one_bit_code_that_is_not_upright_falls_back_to_the_full_detector() -> None:
    grey = _open(png_bytes(TEXT, scale=4)).convert("L")
    tilted = grey.rotate(12, expand=True, fillcolor=255).convert("1")
    assert tilted.mode == "1"
    assert decode_qr_image(_png(tilted)) == TEXT


def test_a_one_bit_code_with_a_margin_of_text_around_it_still_reads() -> None:
    code = _open(png_bytes(TEXT, scale=3)).convert("L")
    page = Image.new("L", (code.width + 300, code.height + 200), 255)
    page.paste(code, (220, 120))
    page.paste(0, (10, 10, 200, 30))  # a black bar, as a heading would be
    assert decode_qr_image(_png(page.convert("1"))) == TEXT


def test_a_colour_photo_like_image_reads() -> None:
    code = _open(png_bytes(TEXT, scale=5)).convert("RGB")
    photo = Image.new("RGB", (code.width + 160, code.height + 160), (205, 200, 190))
    photo.paste(code, (70, 90))
    photo = photo.rotate(7, expand=True, fillcolor=(90, 90, 100)).filter(ImageFilter.GaussianBlur(1))
    out = io.BytesIO()
    photo.save(out, format="JPEG", quality=85)
    assert decode_qr_image(out.getvalue()) == TEXT


def test_a_path_and_a_pil_image_are_read_too(tmp_path) -> None:
    path = tmp_path / "code.png"
    path.write_bytes(png_bytes(TEXT))
    assert decode_qr_image(path) == TEXT
    assert decode_qr_image(_open(png_bytes(TEXT, scale=2))) == TEXT


def test_a_blank_one_bit_image_has_no_code() -> None:
    with pytest.raises(VerificationFailed) as err:
        decode_qr_image(_png(Image.new("1", (120, 120), 1)))
    assert [type(f) for f in err.value.failures] == [QRNotFound]


def test_image_formats_outside_the_list_are_refused() -> None:
    out = io.BytesIO()
    _open(png_bytes(TEXT, scale=2)).save(out, format="TIFF")
    with pytest.raises(VerificationFailed) as err:
        decode_qr_image(out.getvalue())
    assert [type(f) for f in err.value.failures] == [MalformedInput]


def test_a_pil_image_over_the_pixel_cap_is_refused_before_it_is_read() -> None:
    from verifier._image import MAX_IMAGE_PIXELS

    side = int(MAX_IMAGE_PIXELS**0.5) + 1  # 1-bit: about 5 MiB in memory
    with pytest.raises(VerificationFailed) as err:
        decode_qr_image(Image.new("1", (side, side), 1))
    assert [(type(f), f.detail) for f in err.value.failures] == [(MalformedInput, "image too large")]


def _png_header(width: int, height: int) -> bytes:
    """A PNG with an IHDR and an IEND chunk: its size is known, it holds no pixels. (Pillow
    needs the chunk after IHDR to identify the file; without it the file is unreadable
    before its size is ever looked at.)"""
    return SIGNATURE + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)) + chunk(b"IEND", b"")


DOCUMENTED_MAX_PIXELS = 40_000_000  # a 40-megapixel camera photo; more is refused unread
DOCUMENTED_MAX_BYTES = 12 * 1024 * 1024


@pytest.mark.parametrize(("size", "detail"), [
    ((8000, 5000), "not a readable image"),  # exactly at the cap: opened, and found to hold no pixels
    ((8000, 5001), "image too large"),       # one row more: refused from the header alone
    ((5001, 8000), "image too large"),
])
def test_the_pixel_cap_is_exact(size: tuple[int, int], detail: str) -> None:
    with pytest.raises(VerificationFailed) as err:
        decode_qr_image(_png_header(*size))
    assert [(type(f), f.detail) for f in err.value.failures] == [(MalformedInput, detail)]
    assert (size[0] * size[1] > DOCUMENTED_MAX_PIXELS) == (detail == "image too large")


def test_the_file_size_cap_is_exact(tmp_path) -> None:
    """A real QR PNG padded (after IEND, which readers ignore) to exactly the cap is read;
    one byte more is refused before Pillow sees it, as bytes and as a file."""
    png = png_bytes(TEXT)
    at_cap = png + b"\0" * (DOCUMENTED_MAX_BYTES - len(png))
    over = at_cap + b"\0"
    (tmp_path / "at_cap.png").write_bytes(at_cap)
    (tmp_path / "over.png").write_bytes(over)
    assert decode_qr_image(at_cap) == TEXT
    assert decode_qr_image(tmp_path / "at_cap.png") == TEXT
    for source in (over, tmp_path / "over.png"):
        with pytest.raises(VerificationFailed) as err:
            decode_qr_image(source)
        assert [(type(f), f.detail) for f in err.value.failures] == [(MalformedInput, "image file too large")]


@pytest.mark.parametrize("mode", ["1", "L"])
def test_a_side_longer_than_zxing_reads_is_refused_as_too_large(mode: str) -> None:
    """zxing-cpp reads no side over 65,535 pixels (it raises ValueError): such an image,
    well under the pixel cap, is 'image too large', as a file (the wallet-shaped 1-bit PNG
    and an 8-bit one) and as a PIL image; one pixel narrower it is read."""
    for size, failure in (((65_535, 2), QRNotFound), ((65_536, 2), MalformedInput), ((2, 65_536), MalformedInput)):
        image = Image.new(mode, size, 255)
        for source in (_png(image), image):
            with pytest.raises(VerificationFailed) as err:
                decode_qr_image(source)
            assert [type(f) for f in err.value.failures] == [failure], (size, type(source))
            if failure is MalformedInput:
                assert err.value.failures[0].detail == "image too large"


def test_a_png_whose_image_data_runs_on_into_a_broken_chunk_is_malformed() -> None:
    """Pillow's load() raises SyntaxError (not OSError) for a chunk it cannot parse after
    the first IDAT; found by fuzzing the PNG readers. The verifier says malformed."""
    split = broken_chunk_after_idat(TEXT)
    for source in (split, _open(split)):  # as bytes, and as a PIL image opened but not loaded
        with pytest.raises(VerificationFailed) as err:
            decode_qr_image(source)
        assert [(type(f), f.detail) for f in err.value.failures] == [(MalformedInput, "not a readable image")]
