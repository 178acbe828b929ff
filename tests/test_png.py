"""verifier._png reads the wallet's own PNG shape without Pillow, and leaves every other
file to Pillow. Whatever it reads must be pixel for pixel what Pillow reads from the
same bytes; whatever it declines, the verifier still reads (or refuses) through Pillow."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from pngs import SIGNATURE, chunk, chunks
from verifier import VerificationFailed, decode_qr_image
from verifier._png import MAX_PIXELS, grey_pixels
from wallet import png_bytes

TEXT = "CF1:" + "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:" * 8


def pillow_grey(data: bytes) -> list[bytes]:
    """Pillow's pixels of ``data``, one byte per pixel, row by row."""
    image = Image.open(io.BytesIO(data))
    image.load()
    grey = image.tobytes("raw", "L") if image.mode == "1" else image.convert("L").tobytes()
    return [grey[y * image.width:(y + 1) * image.width] for y in range(image.height)]


def fast_grey(data: bytes) -> list[bytes] | None:
    read = grey_pixels(data)
    if read is None:
        return None
    pixels, width, height, stride = read
    return [bytes(pixels[y * stride:y * stride + width]) for y in range(height)]


def ihdr(width: int, height: int, depth: int = 1, colour: int = 0, interlace: int = 0) -> bytes:
    return chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, interlace))


def one_bit_rows(image: Image.Image, filter_type: int = 0) -> bytes:
    """The raw scanlines of a mode-1 image, each with ``filter_type`` as its filter byte
    (the pixels themselves unfiltered: only 0 is a true encoding of them)."""
    packed = image.tobytes("raw", "1")
    row = (image.width + 7) // 8
    return b"".join(bytes([filter_type]) + packed[y * row:(y + 1) * row] for y in range(image.height))


def png(width: int, height: int, stream: bytes, *, parts: int = 1, extra: bytes = b"", **header: int) -> bytes:
    step = max(1, -(-len(stream) // parts))
    idats = b"".join(chunk(b"IDAT", stream[i:i + step]) for i in range(0, len(stream), step)) or chunk(b"IDAT", b"")
    return SIGNATURE + ihdr(width, height, **header) + extra + idats + chunk(b"IEND", b"")


def sample_image(width: int = 37, height: int = 23) -> Image.Image:
    image = Image.new("1", (width, height), 1)
    for x in range(width):
        for y in range(height):
            if (x * 7 + y * 3) % 5 == 0:
                image.putpixel((x, y), 0)
    return image


# ---- what the wallet renders is read here, exactly as Pillow reads it ----------------


def test_the_wallet_page_png_is_read_here_and_equals_pillow() -> None:
    data = png_bytes(TEXT)  # one pixel per module: the wallet page's PNG
    assert fast_grey(data) is not None
    assert fast_grey(data) == pillow_grey(data)
    assert decode_qr_image(data) == TEXT


@pytest.mark.parametrize("scale", [2, 3, 6])
def test_larger_renders_repeat_rows_with_the_up_filter_and_are_left_to_pillow(scale: int) -> None:
    data = png_bytes(TEXT, scale=scale)  # segno writes each repeated row as "Up", all zero
    assert grey_pixels(data) is None
    assert decode_qr_image(data) == TEXT


@pytest.mark.parametrize(("width", "height"), [(1, 1), (7, 3), (8, 8), (9, 2), (37, 23), (64, 1)])
def test_any_width_reads_the_same_as_pillow(width: int, height: int) -> None:
    image = sample_image(width, height)
    data = png(width, height, zlib.compress(one_bit_rows(image)))
    assert fast_grey(data) == pillow_grey(data)


def test_image_data_split_over_several_idat_chunks_is_read_and_decodes() -> None:
    image = Image.open(io.BytesIO(png_bytes(TEXT, scale=2)))
    data = png(image.width, image.height, zlib.compress(one_bit_rows(image)), parts=7)
    assert data.count(b"IDAT") == 7
    assert fast_grey(data) == pillow_grey(data)
    assert decode_qr_image(data) == TEXT


# ---- anything else is left to Pillow, which still reads it ----------------------------

IMAGE = sample_image()
ROWS = one_bit_rows(IMAGE)
GOOD = png(IMAGE.width, IMAGE.height, zlib.compress(ROWS))


def test_the_sample_itself_is_read_here() -> None:
    assert fast_grey(GOOD) == pillow_grey(GOOD)


@pytest.mark.parametrize(("name", "data"), [
    ("a filtered row (Sub)", png(IMAGE.width, IMAGE.height, zlib.compress(one_bit_rows(IMAGE, 1)))),
    ("an ancillary chunk before the pixels", png(IMAGE.width, IMAGE.height, zlib.compress(ROWS), extra=chunk(b"tEXt", b"Comment\0hi"))),
    ("bytes after IEND", GOOD + b"\0"),
    ("8-bit grey", png(IMAGE.width, IMAGE.height, zlib.compress(b"".join(
        b"\0" + row for row in pillow_grey(SIGNATURE + ihdr(IMAGE.width, IMAGE.height) + chunk(b"IDAT", zlib.compress(ROWS)) + chunk(b"IEND", b""))
    )), depth=8)),
    ("a zlib stream with data after its end", png(IMAGE.width, IMAGE.height, zlib.compress(ROWS) + b"\0\0")),
])
def test_other_shapes_are_left_to_pillow_which_reads_them(name: str, data: bytes) -> None:
    assert grey_pixels(data) is None, name
    pillow_grey(data)  # Pillow reads each of these


@pytest.mark.parametrize(("name", "data"), [
    ("too few rows", png(IMAGE.width, IMAGE.height, zlib.compress(ROWS[:-3]))),
    ("too many rows", png(IMAGE.width, IMAGE.height, zlib.compress(ROWS + ROWS[:6]))),
    ("a bad CRC", GOOD[:-20] + bytes([GOOD[-20] ^ 1]) + GOOD[-19:]),
    ("no IEND", GOOD[:-12]),
    ("no IDAT", SIGNATURE + ihdr(IMAGE.width, IMAGE.height) + chunk(b"IEND", b"")),
    ("not a PNG", b"GIF89a" + GOOD[6:]),
    ("interlaced (these rows are not Adam7 passes)", png(IMAGE.width, IMAGE.height, zlib.compress(ROWS), interlace=1)),
    ("a chunk longer than the file", GOOD[:8] + struct.pack(">I", 2**31) + GOOD[12:]),
    ("a width of 0", png(0, IMAGE.height, zlib.compress(ROWS))),
    ("a broken zlib stream", png(IMAGE.width, IMAGE.height, b"\x78\x9c" + b"\xff" * 40)),
])
def test_damaged_files_are_left_to_pillow(name: str, data: bytes) -> None:
    assert grey_pixels(data) is None, name


def test_over_the_size_it_reads_the_file_is_left_to_pillow() -> None:
    side = int(MAX_PIXELS**0.5) + 1
    rows = (b"\0" + b"\xff" * ((side + 7) // 8)) * side
    assert grey_pixels(png(side, side, zlib.compress(rows))) is None
    at = int(MAX_PIXELS**0.5)
    rows = (b"\0" + b"\xff" * ((at + 7) // 8)) * at
    assert grey_pixels(png(at, at, zlib.compress(rows))) is not None


def test_a_zlib_bomb_is_not_inflated_past_the_rows_promised() -> None:
    # 4 MB of zeros compress to about 4 KB; the header promises 23 rows of 6 bytes
    bomb = png(IMAGE.width, IMAGE.height, zlib.compress(b"\0" * 4_000_000, 9))
    assert len(bomb) < 10_000
    assert grey_pixels(bomb) is None


# ---- damage anywhere: the same pixels as Pillow, or left to Pillow --------------------

WALLET = png_bytes(TEXT)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_damaged_wallet_png_reads_as_pillow_reads_it_or_is_left_to_pillow(data: st.DataObject) -> None:
    damaged = bytearray(WALLET)
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(damaged) - 1))
        damaged[at] = data.draw(st.integers(0, 255))
    damaged = bytes(damaged)
    read = fast_grey(damaged)
    if read is not None:
        assert read == pillow_grey(damaged)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_damage_under_valid_crcs_reads_as_pillow_reads_it_or_is_left_to_pillow(data: st.DataObject) -> None:
    """The header's fields and the zlib stream damaged, every CRC made right again: the
    checks behind the CRCs decide, and what passes them must be Pillow's pixels."""
    parts = chunks(WALLET)
    kind, body = parts[data.draw(st.sampled_from([0, 1]))]  # IHDR or the IDAT
    damaged = bytearray(body)
    for _ in range(data.draw(st.integers(1, 2))):
        damaged[data.draw(st.integers(0, len(damaged) - 1))] = data.draw(st.integers(0, 255))
    rebuilt = SIGNATURE + b"".join(chunk(k, bytes(damaged) if k == kind else b) for k, b in parts)
    read = fast_grey(rebuilt)
    if read is not None:
        try:
            assert read == pillow_grey(rebuilt)
        except (OSError, SyntaxError, ValueError):
            raise AssertionError("read here, refused by Pillow") from None


@settings(max_examples=200, deadline=None)
@given(
    width=st.integers(1, 40), height=st.integers(1, 20), seed=st.binary(min_size=1, max_size=64),
    parts=st.integers(1, 4), level=st.integers(0, 9),
)
def test_any_unfiltered_one_bit_png_reads_as_pillow_reads_it(width: int, height: int, seed: bytes, parts: int, level: int) -> None:
    row = (width + 7) // 8
    pixels = (seed * (row * height // len(seed) + 1))[:row * height]
    rows = b"".join(b"\0" + pixels[y * row:(y + 1) * row] for y in range(height))
    data = png(width, height, zlib.compress(rows, level), parts=parts)
    assert fast_grey(data) == pillow_grey(data)


# A damaged IHDR can claim over 89 megapixels: Pillow's Image.open warns about that before
# the verifier's own cap (40 MP) refuses the file; the refusal is what is tested here.
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_damaged_wallet_png_gives_the_text_or_a_certfree_error(data: st.DataObject) -> None:
    """Any byte of the file, or of the header or pixel data with the CRCs made right again
    (so that the readers' checks behind the CRCs are reached): the code's text, or
    VerificationFailed, never another exception."""
    parts = chunks(WALLET)
    target = data.draw(st.sampled_from(["file", "IHDR", "IDAT"]))
    body = WALLET if target == "file" else dict(parts)[target.encode()]
    damaged = bytearray(body)
    for _ in range(data.draw(st.integers(1, 2))):
        damaged[data.draw(st.integers(0, len(damaged) - 1))] = data.draw(st.integers(0, 255))
    if target != "file":
        damaged = bytearray(SIGNATURE + b"".join(
            chunk(k, bytes(damaged) if k == target.encode() else b) for k, b in parts))
    try:
        assert decode_qr_image(bytes(damaged)) == TEXT
    except VerificationFailed:
        pass
