"""``certfree demo``: keys, a wallet, six licences, their QR codes and the desk's check, end
to end on the command line (``make demo``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from issuer.cli import open_db
from keys.cli_base import EXIT_OK, EXIT_REJECTED, pad

from .verify_cli import load_verifier


def cmd_demo(args: argparse.Namespace) -> int:
    """Keys, a wallet, six licences, their QR codes decoded from PNG and verified; then a
    fresh presentation at every scenario, and the same code scanned again (a replay)."""
    import shutil

    from issuer import LICENCE_TYPES, example
    from issuer.records import issue_licence, publish_status_lists
    from keys import KeyDir
    from keys.envelope import encode_credential
    from scenarios import SCENARIOS, get_policy
    from verifier import VerificationFailed
    from wallet import Wallet, present, write
    from wallet.qr import SCALE, make

    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    if args.insecure_dev:
        print("WARNING: demo keys are UNENCRYPTED (--insecure-dev); development only.\n")
    keys = KeyDir.init(out / "keys", insecure_dev=args.insecure_dev)
    holder = Wallet.init(out / "wallet", insecure_dev=args.insecure_dev)
    all_issued = {}
    with open_db(str(out / "issuer.db")) as session:  # records and status entries
        for licence_type in LICENCE_TYPES:
            issued = issue_licence(session, keys, licence_type, example(licence_type), holder_jwk=holder.device_jwk())
            holder.store(licence_type, issued.jti, issued.credential, issued.views)
            all_issued[licence_type] = issued
        session.commit()
        publish_status_lists(session, keys, out / "status")
    verifier = load_verifier(str(out / "keys"), status_dir=str(out / "status"))
    ok = True
    print(f"{pad('licence 证照', 46)} {'QR ver':>6} {'chars':>6} {'PNG px':>7}  result 结果")
    for licence_type, lt in LICENCE_TYPES.items():
        issued = all_issued[licence_type]
        text = encode_credential(issued.credential)
        symbol = make(text)  # built once: the image, its version and its size
        png = write(text, out / f"{licence_type}.png", symbol=symbol)
        try:
            result = verifier.verify(png)
            outcome = f"通过 / valid ({result.licence_type})"
            if result.warnings:
                ok = False
                outcome += " ! " + ", ".join(w.code for w in result.warnings)
        except VerificationFailed as exc:
            ok = False
            outcome = "未通过 / " + ", ".join(exc.codes)
        px = symbol.pixels(scale=SCALE)
        print(f"{pad(lt.title_zh + ' ' + lt.title_en, 46)} {symbol.version:>6} {len(text):>6} {px:>7}  {outcome}")
    print()
    print(f"{pad('scenario 场景', 46)} {'QR ver':>6}  {pad('fresh 首次扫码', 34)} same code again 再次扫码")
    for name in SCENARIOS:
        policy = get_policy(name)
        presentation = present(holder, name, prefer=policy.accepts)
        symbol = make(presentation.text)
        png = write(presentation.text, out / f"present-{name}.png", symbol=symbol)
        first = "通过 / accepted " + presentation.licence_type
        try:
            verifier.verify(png, scenario=name)
        except VerificationFailed as exc:
            ok = False
            first = "未通过 / " + ", ".join(exc.codes)
        try:
            verifier.verify(png, scenario=name)
            again = "通过 / accepted (WRONG)"
            ok = False
        except VerificationFailed as exc:
            again = "拒绝 / " + ", ".join(exc.codes)
        print(f"{pad(policy.title_zh + ' ' + name, 46)} {symbol.version:>6}  {pad(first, 34)} {again}")
    print(f"\nQR images, keys, wallet, issuer.db and status lists are in {out}/")
    return EXIT_OK if ok else EXIT_REJECTED


def add_command(sub: Any) -> None:
    """``certfree demo``."""
    p = sub.add_parser("demo", help="keys, six licences, QR codes and verification, end to end")
    p.add_argument("--out", default="demo-out")
    p.add_argument("--insecure-dev", action="store_true")
    p.set_defaults(func=cmd_demo)
