"""What a desk's camera sees: the certfree code among other codes (a payment or Wi-Fi
sticker beside the phone), and a small, blurred capture that zxing-cpp reads only at twice
the size. Real presentations, composed images, decoded by zxing-cpp, verified for real."""

from __future__ import annotations

import io
from typing import NamedTuple

import pytest
import segno
import zxingcpp
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFilter

from verifier import QRNotFound, VerificationFailed, decode_qr_image
from verifier._image import _choose_text, is_certfree_text
from wallet import png_bytes, present

QR = zxingcpp.barcode_formats_from_str("QRCode")
STICKERS = ("WIFI:S:Haishu Hotel Guest;T:WPA;P:welcome-0807;;", "https://qr.alipay.com/fkx19304bxq8kdn2gd7c2")


def _grey(png: bytes) -> Image.Image:
    return Image.open(io.BytesIO(png)).convert("L")


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90)
    return out.getvalue()


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _plain_zxing(image: Image.Image) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(image, formats=QR) if r.valid]


@pytest.mark.parametrize("sticker", STICKERS)
def test_the_certfree_code_is_chosen_among_other_codes_in_view(holder, verifier, now, sticker: str) -> None:
    presentation = present(holder, "hotel", licence_type="id_card", now=now)
    phone = _grey(png_bytes(presentation.text, scale=4))
    out = io.BytesIO()
    segno.make(sticker, error="m").save(out, kind="png", scale=6, border=4)
    label = _grey(out.getvalue())
    photo = Image.new("L", (max(label.width, phone.width) + 40, label.height + phone.height + 60), 235)
    photo.paste(label, (20, 20))  # the sticker on the counter, the phone held below it
    photo.paste(phone, (20, label.height + 40))
    photo = photo.filter(ImageFilter.GaussianBlur(0.6))
    found = _plain_zxing(photo)
    assert sticker in found and presentation.text in found  # zxing-cpp sees both codes ...
    assert found[0] == sticker  # ... and the sticker first: reading "the first code" took it
    data = _jpeg(photo)
    assert decode_qr_image(data) == presentation.text
    result = verifier.verify(data, scenario="hotel", now=now)
    assert result.licence_type == "id_card" and result.claims["name"]


def test_only_other_codes_in_view_gives_their_text_to_refuse_as_malformed(verifier, now) -> None:
    label = segno.make(STICKERS[0], error="m")
    out = io.BytesIO()
    label.save(out, kind="png", scale=6, border=4)
    assert decode_qr_image(out.getvalue()) == STICKERS[0]
    with pytest.raises(VerificationFailed) as refused:
        verifier.verify(out.getvalue(), scenario="hotel", now=now)
    assert refused.value.codes == ["malformed"]


def _small_blurred(text: str, px_per_module: float = 2.0, blur: float = 0.6) -> Image.Image:
    """A far-away capture: about ``px_per_module`` pixels per module, then lens blur."""
    code = _grey(png_bytes(text, scale=1))
    side = round(code.width * px_per_module)
    return code.resize((side, side), Image.BILINEAR).filter(ImageFilter.GaussianBlur(blur))


def test_a_small_blurred_capture_is_read_at_twice_the_size(holder, verifier, now) -> None:
    presentation = present(holder, "hotel", licence_type="id_card", now=now)
    capture = _small_blurred(presentation.text)
    assert _plain_zxing(capture) == []  # zxing-cpp finds nothing at the captured size
    assert decode_qr_image(capture) == presentation.text
    assert decode_qr_image(_png(capture)) == presentation.text
    assert verifier.verify(capture, scenario="hotel", now=now).licence_type == "id_card"


def test_a_capture_with_no_code_is_still_qr_not_found_after_the_retry() -> None:
    blank = Image.new("L", (300, 200), 200).filter(ImageFilter.GaussianBlur(2))
    with pytest.raises(VerificationFailed) as refused:
        decode_qr_image(blank)
    assert [type(f) for f in refused.value.failures] == [QRNotFound]


class _Read(NamedTuple):
    """What _choose_text looks at in each of zxing-cpp's results."""

    valid: bool
    text: str


_TEXTS = st.sampled_from(["", "CF1:ABC", "CF1:", "eyJh.eyJi.c2ln", "a.b.", "a.b", STICKERS[0], STICKERS[1], "x"])


@settings(max_examples=500)
@given(st.lists(st.builds(_Read, st.booleans(), _TEXTS), max_size=5))
def test_the_code_chosen_in_one_pass_is_the_one_the_plain_rule_chooses(results: list[_Read]) -> None:
    """The valid results' non-empty texts; of those the first certfree one, else the first."""
    texts = [r.text for r in results if r.valid and r.text]
    plain = next((t for t in texts if is_certfree_text(t)), texts[0] if texts else None)
    assert _choose_text(results) == plain
