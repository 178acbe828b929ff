"""QR error correction L against M for the wallet's screen code: size, decode time and
how often a damaged or small capture still reads.

    .venv/bin/python bench/qr_levels.py [--count 100] [--seed 7]

The PNG target of issue 6 (decode + verify <= 2 x verify) depends on the QR version, and
the version on the error correction level: the internet-cafe presentation is a version-12
code at M and a version-10 code at L. L is smaller and reads faster; M repairs twice as
many damaged codewords (15 % against 7 %). This bench gives the team figures for that
choice, on ``count`` distinct presentations at each level:

* the version, the module count and zxing-cpp's time to read the page PNG (1 px per module,
  the pure reader the verifier uses for it);
* read rates of simulated captures of a phone screen, through zxing-cpp's full detector
  (what a desk's camera decoder does), each code shown at the same width on the screen:

  - **glare**: a white disc over part of the symbol (a reflection), of 4 to 16 % of its
    area, at a random place inside it;
  - **small**: the whole code (quiet zone included) 170 down to 120 camera pixels wide (a
    desk camera further from the phone; about 2 to 3 pixels a module), smoothed as a lens
    would (Gaussian blur, radius 0.6 px), with sensor noise (Gaussian, sigma 12 grey
    levels).

This is a simulation, not a field trial: it says how the two levels compare under the same
damage, not how often a desk meets that damage. Nothing here is a test.
"""

from __future__ import annotations

import argparse
import io
import math
import random
import sys
import time
from importlib.metadata import version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _fixture as F  # noqa: E402

import segno  # noqa: E402
import zxingcpp  # noqa: E402
from PIL import Image, ImageChops, ImageDraw, ImageFilter  # noqa: E402

from wallet import qr as wallet_qr  # noqa: E402

LEVELS = ("l", "m")
GLARE = (0.04, 0.08, 0.12, 0.16)  # fraction of the symbol's area under the disc
# Camera pixels across the whole code, quiet zone included: each capture a random width in
# the band. Near 2 pixels a module the read depends on how the modules fall on the sensor's
# pixels (one width reads, the next does not), so single widths would show that lottery.
WIDTH_BANDS = ((150, 170), (135, 150), (120, 135))
SHOWN = 360  # screen pixels across the whole code before the camera sees it
_QR = zxingcpp.barcode_formats_from_str("QRCode")


def page_png(code: segno.QRCode) -> bytes:
    out = io.BytesIO()
    code.save(out, kind="png", scale=wallet_qr.SCREEN_SCALE, border=wallet_qr.BORDER)
    return out.getvalue()


def on_screen(code: segno.QRCode) -> Image.Image:
    """The code as the phone shows it: SHOWN pixels across, sharp module edges, grey."""
    picture = Image.open(io.BytesIO(page_png(code))).convert("L")
    return picture.resize((SHOWN, SHOWN), Image.Resampling.NEAREST)


def glare(picture: Image.Image, fraction: float, rng: random.Random, modules: int) -> Image.Image:
    """A white disc covering ``fraction`` of the symbol (quiet zone excluded), centred at a
    random point of the symbol."""
    side = picture.width
    margin = side * wallet_qr.BORDER / (modules + 2 * wallet_qr.BORDER)
    symbol = side - 2 * margin
    radius = symbol * math.sqrt(fraction / math.pi)
    cx = margin + rng.uniform(0, symbol)
    cy = margin + rng.uniform(0, symbol)
    out = picture.copy()
    ImageDraw.Draw(out).ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=255)
    return out


def captured(picture: Image.Image, width: int, rng: random.Random) -> Image.Image:
    """The screen as a camera sees it from further away: ``width`` pixels across, lens blur,
    sensor noise (Gaussian, sigma 12 grey levels)."""
    small = picture.resize((width, width), Image.Resampling.BILINEAR).filter(ImageFilter.GaussianBlur(0.6))
    gauss = rng.gauss
    noise = bytes(min(255, max(0, round(128 + gauss(0, 12)))) for _ in range(width * width))
    # centred on 128: ImageChops.add gives small + noise - 128, clipped to 0..255
    return ImageChops.add(small, Image.frombytes("L", (width, width), noise), scale=1.0, offset=-128)


def reads(picture: Image.Image, text: str) -> bool:
    found = zxingcpp.read_barcodes(picture, formats=_QR)
    return bool(found) and found[0].text == text


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=100, help="distinct presentations per level")
    ap.add_argument("--seed", type=int, default=7, help="seed of the damage's random placement")
    args = ap.parse_args(argv)

    keys = F.keydir()
    texts = [p.text for p in F.presentations(keys, args.count, residents=args.count, scenario="internet_cafe")]
    print(f"machine: {F.machine()}")
    print(f"{args.count} internet-café presentations, {len(texts[0])} characters; segno {segno.__version__}, "
          f"zxing-cpp {version('zxing-cpp')}; shown {SHOWN} px wide; damage seed {args.seed}")
    print()
    header = f"{'level':5} {'version':>7} {'modules':>7} {'page PNG read':>14} | " + " ".join(
        f"{'glare ' + format(g, '.0%'):>9}" for g in GLARE) + " | " + " ".join(f"{f'{a}-{b} px':>10}" for a, b in WIDTH_BANDS)
    print(header)
    for level in LEVELS:
        codes = [segno.make_qr(t, error=level, boost_error=False) for t in texts]
        versions = sorted({c.version for c in codes})
        modules = int(codes[0].symbol_size(scale=1, border=0)[0])
        views = []
        for code in codes:
            picture = Image.open(io.BytesIO(page_png(code)))
            grey = picture.tobytes("raw", "L")
            views.append((grey, zxingcpp.ImageView(grey, picture.width, picture.height, zxingcpp.ImageFormat.Lum)))
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            for _grey, view in views:
                zxingcpp.read_barcodes(view, formats=_QR, is_pure=True, binarizer=zxingcpp.Binarizer.BoolCast)
            best = min(best, (time.perf_counter() - start) / len(views))
        rng = random.Random(args.seed)  # the same damage placement for each level
        glare_rates = []
        screens = [on_screen(c) for c in codes]
        for fraction in GLARE:
            ok = sum(reads(glare(s, fraction, rng, modules), t) for s, t in zip(screens, texts))
            glare_rates.append(ok / len(texts))
        width_rates = []
        for low, high in WIDTH_BANDS:
            ok = sum(reads(captured(s, rng.randint(low, high), rng), t) for s, t in zip(screens, texts))
            width_rates.append(ok / len(texts))
        print(f"{level.upper():5} {'/'.join(map(str, versions)):>7} {modules:>7} {F.us(best):>14} | "
              + " ".join(f"{r:>9.0%}" for r in glare_rates) + " | " + " ".join(f"{r:>10.0%}" for r in width_rates))


if __name__ == "__main__":
    main()
