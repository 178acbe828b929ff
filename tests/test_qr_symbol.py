"""The wallet's QR symbol, built once (zxing-cpp's encoder) and written as PNG and SVG
(segno's writers): both images read back through zxing-cpp with the text, the version
and error correction M; the SVG as Chromium draws it. The symbol is the one segno
builds on its own for the same text (same version and modules' count)."""

from __future__ import annotations

import io
from typing import Any

import pytest
import segno
import zxingcpp
from browser_fixtures import browser  # noqa: F401  (the fixture)
from PIL import Image

from wallet import Wallet, present
from wallet.qr import BORDER, QRTooLong, Symbol, make

from conftest import NOW


def _read(image: Image.Image) -> Any:
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(found) == 1
    return found[0]


@pytest.fixture(scope="module")
def texts(holder: Wallet) -> list[str]:
    """Codes of the sizes a wallet shows: a short one and presentations from version 12 up."""
    return ["CF1:ABC"] + [present(holder, name, now=NOW).text for name in ("internet_cafe", "hotel", "window")]


def test_png_reads_back_with_the_text_version_and_level_m(texts: list[str]) -> None:
    for text in texts:
        symbol = make(text)
        for scale in (1, 3):
            found = _read(Image.open(io.BytesIO(symbol.png(scale=scale))))
            assert found.text == text and found.extra["ECLevel"] == "M"
            assert int(found.extra["Version"]) == symbol.version
        image = Image.open(io.BytesIO(symbol.png(scale=1)))
        assert image.size == (symbol.pixels(scale=1),) * 2 == ((symbol.size + 2 * BORDER),) * 2
        assert symbol.size == 17 + 4 * symbol.version


def test_the_symbol_is_the_one_segno_builds(texts: list[str]) -> None:
    for text in texts:
        ours, theirs = make(text), segno.make_qr(text, error="m", boost_error=False)
        assert ours.version == theirs.version and ours.size == theirs.symbol_size(border=0)[0]
        # the finder patterns sit where the standard puts them, dark modules are 1
        assert ours.matrix[0][:7] == b"\x01" * 7 and ours.matrix[-1][:7] == b"\x01" * 7 and ours.matrix[0][-7:] == b"\x01" * 7


def test_svg_drawn_by_chromium_reads_back(browser: Any, texts: list[str]) -> None:  # noqa: F811
    for text in texts:
        symbol = make(text)
        svg = symbol.svg(scale=4).decode()
        assert svg.startswith("<svg") and "certfree QR" in svg
        page = browser.new_page(viewport={"width": 900, "height": 900})
        page.set_content(f'<html><body style="margin:0;background:#fff">{svg}</body></html>')
        shot = page.locator("svg").screenshot()
        page.close()
        found = _read(Image.open(io.BytesIO(shot)))
        assert found.text == text and found.extra["ECLevel"] == "M" and int(found.extra["Version"]) == symbol.version


def test_a_text_too_long_for_any_qr_code_is_refused() -> None:
    with pytest.raises(QRTooLong):
        make("A" * 5000)
    largest = make("A" * 3391)  # the most alphanumeric characters a QR code holds at M
    assert isinstance(largest, Symbol) and largest.version == 40
    with pytest.raises(QRTooLong):
        make("A" * 3392)
