"""QR encoders side by side: segno, qrcode and zxing-cpp's ``create_barcode`` building the
same symbol, and the wallet's QR built once and written as PNG and SVG.

    .venv/bin/python bench/qr_encoders.py [--repeats 5] [--count 5]

For one fresh presentation per scenario (the first licence type it accepts), at error
correction M: the time each encoder takes to build the symbol's matrix (``count``
distinct presentations, best of ``repeats`` passes, one core), and a check that each
symbol, drawn at 4 px per module with a 4-module quiet zone, is read back by zxing-cpp
with the same text, the same version for all three and error correction M. Then the
wallet's PNG and SVG of one code from one matrix (``wallet.qr.make`` once, then
``Symbol.png`` and ``Symbol.svg``) against segno building the matrix for each. Exit 1 if
a symbol does not read back as it should.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _fixture as F  # noqa: E402

import qrcode  # noqa: E402
import segno  # noqa: E402
import zxingcpp  # noqa: E402
from PIL import Image  # noqa: E402

from scenarios import load_policies  # noqa: E402
from wallet import qr as wallet_qr  # noqa: E402


def build_segno(text: str) -> list[list[bool]]:
    return [[bool(m) for m in row] for row in segno.make_qr(text, error="m", boost_error=False).matrix]


def build_qrcode(text: str) -> list[list[bool]]:
    q = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
    q.add_data(text, optimize=0)  # one segment: alphanumeric for base45 text, as segno
    q.make(fit=True)
    return [list(row) for row in q.get_matrix()]


def build_zxing(text: str) -> list[list[bool]]:
    return [[bool(m) for m in row] for row in wallet_qr.make(text).matrix]


# Build only, without turning the result into lists (what each costs a caller that renders it).
BUILD_ONLY = {
    "segno": lambda t: segno.make_qr(t, error="m", boost_error=False),
    "qrcode": lambda t: build_qrcode(t),
    "zxing-cpp": lambda t: wallet_qr.make(t),
}
AS_LISTS = {"segno": build_segno, "qrcode": build_qrcode, "zxing-cpp": build_zxing}


def read_back(matrix: list[list[bool]]) -> tuple[str, str, str]:
    """(text, version, error-correction level) zxing-cpp reads from the drawn matrix."""
    side, scale, quiet = len(matrix), 4, 4
    image = Image.new("L", ((side + 2 * quiet) * scale,) * 2, 255)
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                image.paste(0, ((x + quiet) * scale, (y + quiet) * scale, (x + quiet + 1) * scale, (y + quiet + 1) * scale))
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    if len(found) != 1:
        return "", "", ""
    return found[0].text, found[0].extra.get("Version", ""), found[0].extra.get("ECLevel", "")


def main(argv: list[str] | None = None) -> int:
    args = F.timing_args(__doc__, argv, repeats=5, count_help="distinct presentations per scenario")
    keys = F.keydir()
    print(f"machine: {F.machine()}")
    print(f"segno {segno.__version__}, qrcode {F.dist_version('qrcode')}, zxing-cpp {F.dist_version('zxing-cpp')}; error correction M; "
          f"best of {args.repeats} passes over {args.count} presentations; build time per symbol")
    print(f"{'scenario':14} {'type':18} {'chars':>5} {'ver':>3} | " + " ".join(f"{n:>10}" for n in BUILD_ONLY)
          + " | zxing-cpp reads back")
    ok = True
    totals = dict.fromkeys(BUILD_ONLY, 0.0)
    for name, policy in load_policies().items():
        licence_type = policy.accepts[0]
        texts = [p.text for p in F.presentations(keys, args.count, residents=args.count, scenario=name, licence_type=licence_type)]
        times = {n: F.per_call(fn, texts, repeats=args.repeats) for n, fn in BUILD_ONLY.items()}
        for n, t in times.items():
            totals[n] += t
        reads = {n: read_back(fn(texts[0])) for n, fn in AS_LISTS.items()}
        versions = {v for _, v, _ in reads.values()}
        good = all(t == texts[0] and level == "M" for t, _, level in reads.values()) and len(versions) == 1
        ok = ok and good
        version = versions.pop() if len(versions) == 1 else "?"
        print(f"{name:14} {licence_type:18} {len(texts[0]):5} {version:>3} | "
              + " ".join(f"{times[n] * 1e3:8.3f}ms" for n in BUILD_ONLY)
              + f" | {'same text, version and level M for all three' if good else 'DIFFERS: ' + repr(reads)}")
    fastest = min(totals, key=lambda n: totals[n])
    print("over all scenarios: " + ", ".join(f"{n} {totals[n] / totals[fastest]:.1f} x" for n in totals)
          + f" the time of the fastest, {fastest}")

    # ---- the wallet: one matrix, two images ------------------------------------------
    texts = [p.text for p in F.presentations(keys, args.count, residents=args.count)]

    def wallet_both(text: str) -> tuple[bytes, bytes]:
        symbol = wallet_qr.make(text)
        return symbol.png(), symbol.svg()

    def segno_both(text: str) -> tuple[bytes, bytes]:
        png, svg = io.BytesIO(), io.BytesIO()
        segno.make_qr(text, error="m", boost_error=False).save(png, kind="png", scale=1, border=4)
        segno.make_qr(text, error="m", boost_error=False).save(svg, kind="svg", scale=6, border=4)
        return png.getvalue(), svg.getvalue()

    ours, theirs = F.per_call(wallet_both, texts, repeats=args.repeats), F.per_call(segno_both, texts, repeats=args.repeats)
    print(f"internet-café code, PNG and SVG: built once with zxing-cpp and written by segno's writers {ours * 1e3:.3f} ms; "
          f"segno building it for each {theirs * 1e3:.3f} ms ({theirs / ours:.0f} x)")
    print("all symbols read back" if ok else "A SYMBOL DID NOT READ BACK")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
