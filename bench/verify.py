"""Verification throughput against the cryptographic limit and against PyJWT.

    .venv/bin/python bench/verify.py [--count 2000] [--residents 500] [--repeats 5] [--pngs 300]

On one core: verifies ``count`` holder-bound internet-cafe presentations (QR text in,
verified claims out, in-memory replay cache), each from one of ``residents`` distinct
holders, each licence and view with its own entry in a city-sized status list that the
desk holds (2**20 entries, 1 % of them revoked; ``--no-status``: no entries, no list), and
in the same run times

* the two raw Ed25519 verifications each presentation needs (the issuer's signature on
  the view, the holder's on the proof), with OpenSSL via ``cryptography``, with
  libsodium via PyNaCl and with ed25519-zebra via py-ed25519-zebra-bindings, each
  library called directly, keys parsed beforehand;
* PyJWT's ``jwt.decode`` of the bare view JWS (one signature) with a pre-loaded key;
* for the first ``pngs`` presentations, the wallet page's PNG (1 px per module): verified
  from the PNG bytes (``verifier``'s own PNG reader, then zxing-cpp), against zxing-cpp's
  own read of the same image, its pixels decoded beforehand and handed over with the
  options that suit it best (pure code, exact 0/255 binarizer, QR only), followed by the
  verify of the text it read: what the verifier's image path adds to the best reader.

Prints the times, presentations per second and the ratios against the targets:
end to end <= 1.3 x the two raw verifications on the fastest backend, < jwt.decode, and
PNG -> verified claims <= 1.15 x (zxing-cpp's own read + verify).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _fixture as F  # noqa: E402

import jwt  # noqa: E402
import nacl.bindings  # noqa: E402
import zxingcpp  # noqa: E402
from PIL import Image  # noqa: E402
from ed25519_zebra import ed_verify as zebra_verify  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey  # noqa: E402

from keys.jose import protected_header, public_key_from_jwk, raw_public, signing_input, split_compact  # noqa: E402
from keys.jose import TYP_PROOF  # noqa: E402
from verifier import MemoryReplayCache, Verifier, _ed25519, load_status_lists, load_trust_list  # noqa: E402
from wallet import qr as wallet_qr  # noqa: E402

TARGET_VS_RAW = 1.3
TARGET_PNG = 1.15


def main(argv: list[str] | None = None) -> dict[str, float]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=2000, help="presentations verified per pass")
    ap.add_argument("--residents", type=int, default=500, help="distinct holders (device keys)")
    ap.add_argument("--repeats", type=int, default=5, help="passes; the best is kept")
    ap.add_argument("--pngs", type=int, default=300, help="presentations verified from the page PNG per pass")
    ap.add_argument("--wall", action="store_true", help="time by the wall clock, not the thread's CPU time")
    ap.add_argument("--no-status", dest="status", action="store_false",
                    help="codes with no status entry, and a desk holding no status list")
    args = ap.parse_args(argv)
    # The thread's CPU time: the machine is shared, and time spent waiting for the core is
    # not the code's (``--wall`` times by the wall clock instead).
    clock = time.perf_counter if args.wall else time.thread_time
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core

    keys = F.keydir()
    trust = load_trust_list(keys.trust_list(), keys.root_public_jwk())
    # As a desk sees them: each licence and view with its entry in a city-sized status list
    # (2**20 entries, 1 % revoked), which the desk holds verified (--no-status: neither).
    lists = F.status_list() if args.status else None
    presented = F.presentations(keys, args.count, residents=args.residents, status=lists)
    status = load_status_lists([F.sign_list(keys, lists)], trust) if lists is not None else None
    # with the list held, each code's status is known (valid): no warning; without, the
    # policy's status_unknown decides, and every code gets the same answer
    expected_warnings: tuple = () if lists is not None else Verifier(trust).verify(presented[0].text, "internet_cafe", now=F.NOW).warnings
    scenario = "internet_cafe"

    # ---- end to end: QR text in, verified claims out ----------------------------------
    state: dict[str, Verifier] = {}

    def fresh() -> None:  # a new desk (empty replay cache) for every pass
        state["v"] = Verifier(trust, replay_cache=MemoryReplayCache(), status=status)

    def verify(p: F.Presented) -> None:
        result = state["v"].verify(p.text, scenario, now=F.NOW)
        assert result.claims["age_over_18"] is True and result.warnings == expected_warnings


    # ---- the same two signatures, raw ----------------------------------------------------
    triples_openssl, triples_raw = [], []
    for p in presented:
        view_header, view_payload, view_sig = split_compact(p.view)
        issuer = trust.by_kid(_kid(p.view))
        assert issuer is not None
        proof_header, proof_payload, proof_sig = split_compact(p.proof)
        assert proof_header == protected_header(None, TYP_PROOF)
        holder = public_key_from_jwk(_cnf(view_payload))
        view_msg = signing_input(view_header, view_payload)
        proof_msg = signing_input(proof_header, proof_payload)
        triples_openssl.append(((issuer.public_key, view_sig, view_msg), (holder, proof_sig, proof_msg)))
        triples_raw.append(((raw_public(issuer.public_key), view_sig, view_msg), (raw_public(holder), proof_sig, proof_msg)))

    def two_openssl(t: tuple) -> None:
        (k1, s1, m1), (k2, s2, m2) = t
        k1.verify(s1, m1)
        k2.verify(s2, m2)

    open_ = nacl.bindings.crypto_sign_open

    def two_sodium(t: tuple) -> None:
        (k1, s1, m1), (k2, s2, m2) = t
        open_(s1 + m1, k1)
        open_(s2 + m2, k2)

    def two_zebra(t: tuple) -> None:
        (k1, s1, m1), (k2, s2, m2) = t
        zebra_verify(s1, m1, k1)
        zebra_verify(s2, m2, k2)

    # ---- PyJWT: the bare view, one signature, key loaded beforehand -----------------------
    view_key: Ed25519PublicKey = triples_openssl[0][0][0]
    kid = _kid(presented[0].view)
    views = [p.view for p in presented if _kid(p.view) == kid]

    def pyjwt(view: str) -> None:
        jwt.decode(view, view_key, algorithms=["EdDSA"])

    # ---- the page PNG: the verifier's image path against zxing-cpp's own read ------------
    pngs = [wallet_qr.png_bytes(p.text) for p in presented[: args.pngs]]
    decoded = []  # each PNG's pixels, decoded beforehand (Pillow): zxing-cpp's input
    for png in pngs:
        picture = Image.open(io.BytesIO(png))
        grey = picture.tobytes("raw", "L") if picture.mode == "1" else picture.convert("L").tobytes()
        decoded.append((grey, zxingcpp.ImageView(grey, picture.width, picture.height, zxingcpp.ImageFormat.Lum)))
    qr_only = zxingcpp.barcode_formats_from_str("QRCode")

    def from_png(png: bytes) -> None:
        result = state["v"].verify(png, scenario, now=F.NOW)
        assert result.claims["age_over_18"] is True and result.warnings == expected_warnings

    def zxing_then_verify(item: tuple) -> None:
        _grey, view = item
        [code] = zxingcpp.read_barcodes(view, formats=qr_only, is_pure=True, binarizer=zxingcpp.Binarizer.BoolCast)
        result = state["v"].verify(code.text, scenario, now=F.NOW)
        assert result.claims["age_over_18"] is True and result.warnings == expected_warnings

    # Interleaved passes, best of each: a busy moment on the machine hits all alike.
    end_to_end = raw_openssl = raw_sodium = raw_zebra = pyjwt_decode = png_path = zxing_path = float("inf")
    for _ in range(args.repeats):
        end_to_end = min(end_to_end, F.per_call(verify, presented, repeats=1, setup=fresh, clock=clock))
        raw_openssl = min(raw_openssl, F.per_call(two_openssl, triples_openssl, repeats=1, clock=clock))
        raw_sodium = min(raw_sodium, F.per_call(two_sodium, triples_raw, repeats=1, clock=clock))
        raw_zebra = min(raw_zebra, F.per_call(two_zebra, triples_raw, repeats=1, clock=clock))
        pyjwt_decode = min(pyjwt_decode, F.per_call(pyjwt, views, repeats=1, clock=clock))
        png_path = min(png_path, F.per_call(from_png, pngs, repeats=1, setup=fresh, clock=clock))
        zxing_path = min(zxing_path, F.per_call(zxing_then_verify, decoded, repeats=1, setup=fresh, clock=clock))
    raws = (("zebra", raw_zebra), ("libsodium", raw_sodium), ("openssl", raw_openssl))
    fastest_name, fastest = min(raws, key=lambda x: x[1])

    ratio_raw = end_to_end / fastest
    ratio_jwt = end_to_end / pyjwt_decode
    print(f"machine: {F.machine()}; pinned to one core; timed by {'the wall clock' if args.wall else 'CPU time (thread_time)'}")
    print(f"verifier backend: {_ed25519.BACKEND}; {args.count} presentations by {args.residents} holders, "
          f"QR text {len(presented[0].text)} chars; best of {args.repeats} passes")
    print(f"end to end (QR text -> verified claims)  {F.us(end_to_end)}  {1 / end_to_end:8.0f} presentations/s")
    print(f"2 raw Ed25519 verifies, OpenSSL          {F.us(raw_openssl)}")
    print(f"2 raw Ed25519 verifies, libsodium        {F.us(raw_sodium)}  ({raw_openssl / raw_sodium:.2f}x faster than OpenSSL)")
    print(f"2 raw Ed25519 verifies, ed25519-zebra    {F.us(raw_zebra)}  ({raw_openssl / raw_zebra:.2f}x faster than OpenSSL)")
    print(f"PyJWT jwt.decode of the bare view        {F.us(pyjwt_decode)}  ({pyjwt_decode / (raw_openssl / 2):.2f}x one raw OpenSSL verify)")
    print(f"overhead beyond the 2 raw verifies       {F.us(end_to_end - fastest)}")
    print(f"{f'ratio end to end / 2 raw ({fastest_name})':37} {ratio_raw:6.2f}   target <= {TARGET_VS_RAW}: "
          f"{'MET' if ratio_raw <= TARGET_VS_RAW else 'MISSED'}")
    print(f"{'ratio end to end / jwt.decode':37} {ratio_jwt:6.2f}   target < 1: {'MET' if ratio_jwt < 1 else 'MISSED'}")
    ratio_png = png_path / zxing_path
    print(f"page PNG ({wallet_qr.SCREEN_SCALE} px/module, {Image.open(io.BytesIO(pngs[0])).size[0]} px), "
          f"{len(pngs)} presentations:")
    print(f"  PNG bytes -> verified claims            {F.us(png_path)}")
    print(f"  zxing-cpp's own read of its pixels + verify {F.us(zxing_path)}")
    print(f"{'ratio PNG path / (zxing-cpp + verify)':37} {ratio_png:6.2f}   target <= {TARGET_PNG}: "
          f"{'MET' if ratio_png <= TARGET_PNG else 'MISSED'}")
    return {"end_to_end": end_to_end, "raw_openssl": raw_openssl, "raw_sodium": raw_sodium, "raw_zebra": raw_zebra,
            "pyjwt": pyjwt_decode, "png_path": png_path, "zxing_path": zxing_path}


def _kid(jws: str) -> str:
    import json

    header, _, _ = split_compact(jws)
    return json.loads(header)["kid"]


def _cnf(payload: bytes) -> dict:
    import json

    return json.loads(payload)["cnf"]["jwk"]


if __name__ == "__main__":
    main()
