"""The key folder's commands: ``certfree keys init|rotate|compromise``, the offline root's
``certfree keys request-trust-list|sign-trust-list|import-trust-list`` and ``certfree sync``
(``certfree keys reissue`` needs the issuer's records: it lives in :mod:`issuer.cli`)."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any

from .cli_base import CHINA, EXIT_OK, EXIT_REJECTED, UsageError, outside_source, parse_time, read_json, render_failure


# A kid is a base64url RFC 7638 thumbprint: one in 64 starts with "-", which argparse takes
# for an option unless it is written --kid=VALUE.
KID_HELP = "the key's kid (write --kid=KID: a kid may start with '-')"


def cmd_keys_init(args: argparse.Namespace) -> int:
    from keys import KeyDir, KeyStoreError

    outside_source(args.dir, "--dir")
    try:
        store = KeyDir.init(args.dir, insecure_dev=args.insecure_dev, now=parse_time(args.now), token=args.pkcs11_token)
    except KeyStoreError as exc:
        raise UsageError(str(exc)) from None
    if args.insecure_dev:
        print("WARNING: --insecure-dev: private keys are NOT encrypted. Development only.", file=sys.stderr)
    for entry in store.issuer_keys():
        print(f"{entry.authority:24} {entry.kid}  {', '.join(entry.licence_types)}{_custody(entry)}")
    print(f"wrote {args.dir}/jwks.json and {args.dir}/trust_list.jws (root pin: {args.dir}/root.jwk.json)")
    return EXIT_OK


def _custody(entry: Any) -> str:
    return f"  [PKCS#11 token {entry.token}]" if entry.custody == "pkcs11" else ""


def _published(store: Any, dir_: str) -> str:
    if store.root_online:
        return f"published a new trust list in {dir_}/trust_list.jws"
    return (f"root key offline: carry {dir_}/trust_request.json to the offline machine "
            "(certfree keys sign-trust-list), then certfree keys import-trust-list / "
            "根密钥离线：请将 trust_request.json 带到离线计算机签署，再导入签好的信任列表")


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    from keys import KeyDir, KeyStoreError

    try:
        store = KeyDir(args.dir)
        new, retired = store.rotate(args.authority, now=parse_time(args.now), token=args.pkcs11_token,
                                    same_custody=not args.file_key)
    except KeyStoreError as exc:
        raise UsageError(str(exc)) from None
    for key in retired:
        print(f"retired  {key.kid}  (signs nothing new; its credentials verify until they expire)")
    print(f"{new.state:8} {new.kid}  {new.authority}{_custody(new)}")
    print(_published(store, args.dir))
    return EXIT_OK


def cmd_keys_compromise(args: argparse.Namespace) -> int:
    from keys import KeyDir, KeyStoreError

    since = parse_time(args.since, "--since")
    assert since is not None
    try:
        store = KeyDir(args.dir)
        key, replacement = store.compromise(args.kid, since, now=parse_time(args.now))
    except KeyStoreError as exc:
        raise UsageError(str(exc)) from None
    print(f"compromised {key.kid} since {dt.datetime.fromtimestamp(since, CHINA).isoformat()}: "
          "credentials it signed at or after that time are refused")
    if replacement is not None:
        print(f"new {replacement.state} key {replacement.kid} for {replacement.authority}{_custody(replacement)}")
    print(_published(store, args.dir))
    print(f"re-issue with: certfree keys reissue --dir {args.dir} --kid={key.kid} --wallet W")
    return EXIT_OK


def cmd_keys_request(args: argparse.Namespace) -> int:
    from keys import KeyDir, KeyStoreError
    from keys.ceremony import write_request

    try:
        path = write_request(KeyDir(args.dir))
    except KeyStoreError as exc:
        raise UsageError(str(exc)) from None
    print(f"wrote {path}: carry it to the offline machine (certfree keys sign-trust-list)")
    return EXIT_OK


def cmd_keys_sign_trust_list(args: argparse.Namespace) -> int:
    """On the offline machine: show what the root is asked to sign, sign it, write the list."""
    from keys import KeyStoreError, atomic_write
    from keys.ceremony import read_request, sign_request

    outside_source(args.out, "--out")
    try:
        value = read_request(Path(args.request))
        for entry in value["keys"]:
            print(f"{entry['state']:11} {entry['authority']:24} {entry['kid']}  {', '.join(entry['types'])}")
        token, seq = sign_request(args.root, value, now=parse_time(args.now))
    except KeyStoreError as exc:
        raise UsageError(str(exc)) from None
    atomic_write(Path(args.out), token.encode("ascii") + b"\n")
    print(f"signed trust list {seq} with {len(value['keys'])} key(s): {args.out} (carry it to the service host)")
    return EXIT_OK


def cmd_keys_import_trust_list(args: argparse.Namespace) -> int:
    from keys import KeyDir, KeyStoreError
    from keys.ceremony import import_trust_list

    try:
        token = Path(args.file).read_text("ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--file {args.file}: cannot read ({type(exc).__name__}) / 无法读取 {args.file}") from None
    try:
        store = KeyDir(args.dir)
    except KeyStoreError as exc:
        raise UsageError(str(exc)) from None
    try:
        seq, changed = import_trust_list(store, token, now=parse_time(args.now))
    except KeyStoreError as exc:
        print(f"certfree: trust list not imported / 信任列表未导入: {exc}", file=sys.stderr)
        return EXIT_REJECTED
    print(f"imported trust list {seq} into {args.dir}/trust_list.jws")
    for entry in store.issuer_keys():
        print(f"{entry.state:11} {entry.authority:24} {entry.kid}{_custody(entry)}")
    if changed:
        print(f"keys changed since it was asked for: a new {args.dir}/trust_request.json awaits the next ceremony")
    return EXIT_OK


def cmd_sync(args: argparse.Namespace) -> int:
    from keys.sync import SyncError, sync
    from verifier import VerificationFailed

    root = read_json(args.root, "--root (the pinned root key)")
    try:
        result = sync(args.source, Path(args.to), root)
    except SyncError as exc:
        print(f"sync failed, cached files unchanged / 同步失败，本地文件未改动: {exc}", file=sys.stderr)
        return EXIT_REJECTED
    except VerificationFailed as exc:
        print(render_failure(exc), file=sys.stderr)
        print("sync refused, cached files unchanged / 同步被拒绝，本地文件未改动", file=sys.stderr)
        return EXIT_REJECTED
    print(f"trust list seq {result.trust_seq}; {len(result.lists)} status list(s); "
          f"{len(result.written)} file(s) written to {args.to}" + (f"; kept newer cached {', '.join(result.kept)}" if result.kept else ""))
    return EXIT_OK


def add_commands(sub: Any) -> Any:
    """``certfree keys init|rotate|compromise``; returns the ``keys`` group for the issuer's ``reissue``."""
    from keys import AUTHORITIES

    keys = sub.add_parser("keys", help="issuer and root keys").add_subparsers(dest="keys_command", required=True)
    p = keys.add_parser("init", help="create a root key, issuer keys, JWKS and the trust list")
    p.add_argument("--dir", required=True)
    p.add_argument("--insecure-dev", action="store_true", help="write UNENCRYPTED keys (development only)")
    p.add_argument("--pkcs11-token", metavar="LABEL", help="make the issuer keys in this PKCS#11 token "
                   "(CERTFREE_PKCS11_MODULE, CERTFREE_PKCS11_PIN or _PIN_FILE)")
    p.add_argument("--now", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_keys_init)
    p = keys.add_parser("rotate", help="new issuer key for an authority; the old one is retired")
    p.add_argument("--dir", "--keys", dest="dir", required=True)
    p.add_argument("--authority", required=True, choices=sorted(AUTHORITIES))
    custody = p.add_mutually_exclusive_group()
    custody.add_argument("--pkcs11-token", metavar="LABEL", help="make the new key in this PKCS#11 token "
                         "(default: where the key it replaces lives)")
    custody.add_argument("--file-key", action="store_true", help="make the new key in a file of the key folder")
    p.add_argument("--now", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_keys_rotate)
    p = keys.add_parser("compromise", help="mark a key compromised from a date: what it signed since is refused")
    p.add_argument("--dir", "--keys", dest="dir", required=True)
    p.add_argument("--kid", required=True, help=KID_HELP)
    p.add_argument("--since", required=True, help="ISO date or time (China time if no offset)")
    p.add_argument("--now", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_keys_compromise)
    p = keys.add_parser("request-trust-list", help="root offline: write DIR/trust_request.json for the offline machine")
    p.add_argument("--dir", "--keys", dest="dir", required=True)
    p.set_defaults(func=cmd_keys_request)
    p = keys.add_parser("sign-trust-list", help="on the offline machine: sign a trust request with the root key")
    p.add_argument("--root", required=True, help="the offline folder holding root.key.pem")
    p.add_argument("--request", required=True, help="trust_request.json from the service host")
    p.add_argument("--out", required=True, help="where to write the signed trust list")
    p.add_argument("--now", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_keys_sign_trust_list)
    p = keys.add_parser("import-trust-list", help="accept a trust list signed offline (checked against the pinned root)")
    p.add_argument("--dir", "--keys", dest="dir", required=True)
    p.add_argument("--file", required=True, help="the signed trust list (trust_list.jws)")
    p.add_argument("--now", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_keys_import_trust_list)
    return keys


def add_sync_command(sub: Any) -> None:
    """``certfree sync``."""
    p = sub.add_parser("sync", help="fetch and verify the trust list and status lists into a local cache")
    p.add_argument("--from", dest="source", required=True, help="service base URL or a folder with the same layout")
    p.add_argument("--to", required=True, help="cache folder (then: verify --keys DIR --status DIR/status)")
    p.add_argument("--root", required=True, help="the pinned root public key (root.jwk.json)")
    p.set_defaults(func=cmd_sync)
