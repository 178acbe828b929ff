"""The holder's commands: ``certfree wallet init``, ``certfree qr`` and ``certfree present``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keys.cli_base import EXIT_OK, UsageError, outside_source, parse_time

if TYPE_CHECKING:
    from wallet import Presentation, Wallet

WALLET_PASSPHRASE_MIN = 8


def cmd_wallet_init(args: argparse.Namespace) -> int:
    from keys.store import passphrase_from_env
    from wallet import WALLET_PASSPHRASE_ENV, Wallet, WalletError

    passphrase = passphrase_from_env(WALLET_PASSPHRASE_ENV)
    if passphrase and len(passphrase.decode("utf-8")) < WALLET_PASSPHRASE_MIN and not args.insecure_dev:
        # the key file's own KDF is light (PKCS#8 PBKDF2, 2048 rounds): the length is the defence
        raise UsageError(f"{WALLET_PASSPHRASE_ENV} must be at least {WALLET_PASSPHRASE_MIN} characters / "
                         f"{WALLET_PASSPHRASE_ENV} 至少需要 {WALLET_PASSPHRASE_MIN} 个字符")
    outside_source(args.dir, "--dir")
    try:
        Wallet.init(args.dir, insecure_dev=args.insecure_dev)
    except WalletError as exc:
        raise UsageError(str(exc)) from None
    print(f"wallet created in {args.dir}")
    return EXIT_OK


def cmd_wallet_list(args: argparse.Namespace) -> int:
    """One line a licence: its type, the number on its card (a plate as it is, a personal
    number masked), its id, and the scenarios it has a view for: what ``present --licence``
    takes (the id, or the plate)."""
    from wallet import Wallet, WalletError
    from wallet.store import issued_at
    from wallet.web.faces import card_face

    try:
        held = Wallet(args.dir).licences()
    except WalletError as exc:
        raise UsageError(str(exc)) from None
    if not held:
        print("the wallet holds no licence / 钱包中没有证照")
    for stored in sorted(held, key=lambda s: (s.licence_type, -issued_at(s))):
        face = card_face(stored.licence_type, stored.credential)
        print(f"{stored.licence_type}  {face['title_zh']} {face['title_en']}  {face['number']}  "
              f"id {stored.jti}  views: {', '.join(sorted(stored.views)) or '-'}")
    return EXIT_OK


def check_qr_out(path: str) -> None:
    """A QR image is written as PNG or SVG only: say so before anything is made."""
    if Path(path).suffix.lower() not in (".png", ".svg"):
        raise UsageError(f"--out {path}: use a .png or .svg file / 请使用 .png 或 .svg 文件")


def cmd_qr(args: argparse.Namespace) -> int:
    from keys.envelope import encode_credential
    from wallet import write

    check_qr_out(args.out)
    try:
        text = Path(args.file).read_text("ascii").strip()
        qr_text = encode_credential(text) if text.startswith("eyJ") else text
    except ValueError:  # not ASCII, not a compact JWS, not in the form certfree signs
        raise UsageError(f"{args.file}: not a certfree credential (a .jws file) or QR text / "
                         "不是 certfree 凭证（.jws 文件）或二维码文本") from None
    write(qr_text, args.out)
    print(qr_text)
    return EXIT_OK


def cmd_present(args: argparse.Namespace) -> int:
    from wallet import Wallet, WalletError, present, write
    from wallet.qr import make

    if args.out:
        check_qr_out(args.out)
    try:
        from scenarios import get_policy

        prefer = get_policy(args.scenario).accepts
        wallet = Wallet(args.wallet)
        presentation = present(wallet, args.scenario, licence_type=args.type, prefer=prefer,
                               licence=args.licence, now=parse_time(args.now))
    except WalletError as exc:
        raise UsageError(str(exc)) from None
    if args.licence is None:
        _say_which(wallet, presentation)
    if args.out:
        symbol = make(presentation.text)  # built once: the image and its version
        write(presentation.text, args.out, symbol=symbol)
        print(f"wrote {args.out} (QR version {symbol.version})", file=sys.stderr)
    print(presentation.text)
    return EXIT_OK


def _say_which(wallet: Wallet, presentation: Presentation) -> None:
    """When the wallet holds more than one licence of the type shown with a view for the
    scenario, say on stderr which one was chosen and how to choose another."""
    from wallet.store import claims_of

    alike = [s for s in wallet.licences()
             if s.licence_type == presentation.licence_type and presentation.scenario in s.views]
    if len(alike) > 1:
        [stored] = [s for s in alike if s.views[presentation.scenario] == presentation.view]
        which = claims_of(stored.credential).get("plate") or stored.jti
        print(f"the wallet holds {len(alike)} {presentation.licence_type} licences: showing {which} "
              f"(--licence chooses another; certfree wallet list) / "
              f"钱包中有 {len(alike)} 张同类证照，当前出示 {which}（可用 --licence 选择其他；certfree wallet list）",
              file=sys.stderr)


def add_commands(sub: Any) -> None:
    """``certfree qr``, ``certfree wallet init`` and ``certfree present``."""
    from issuer.cli import LICENCE_TYPE_NAMES
    from scenarios import SCENARIOS

    p = sub.add_parser("qr", help="render a credential (JWS file) or QR text file as a QR image")
    p.add_argument("file")
    p.add_argument("--out", required=True, help="OUT.png or OUT.svg")
    p.set_defaults(func=cmd_qr)

    w = sub.add_parser("wallet", help="the holder's wallet").add_subparsers(dest="wallet_command", required=True)
    p = w.add_parser("init", help="create a wallet and its device key")
    p.add_argument("--dir", required=True)
    p.add_argument("--insecure-dev", action="store_true", help="UNENCRYPTED device key (development only)")
    p.set_defaults(func=cmd_wallet_init)
    p = w.add_parser("list", help="the licences the wallet holds: type, number, id, scenarios")
    p.add_argument("--dir", required=True)
    p.set_defaults(func=cmd_wallet_list)

    p = sub.add_parser("present", help="make a fresh presentation QR for a scenario")
    p.add_argument("--wallet", required=True)
    p.add_argument("--scenario", required=True, choices=SCENARIOS)
    p.add_argument("--type", choices=LICENCE_TYPE_NAMES)
    p.add_argument("--licence", metavar="ID_OR_PLATE",
                   help="which licence, when the wallet holds two of a type: its id or plate (certfree wallet list)")
    p.add_argument("--out", help="qr.png or qr.svg")
    p.add_argument("--now", help="present as of this ISO time (tests)")
    p.set_defaults(func=cmd_present)
