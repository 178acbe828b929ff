"""The key folder's commands: ``certfree keys init|rotate|compromise`` and ``certfree sync``
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
        store = KeyDir.init(args.dir, insecure_dev=args.insecure_dev, now=parse_time(args.now))
    except KeyStoreError as exc:
        raise UsageError(str(exc)) from None
    if args.insecure_dev:
        print("WARNING: --insecure-dev: private keys are NOT encrypted. Development only.", file=sys.stderr)
    for entry in store.issuer_keys():
        print(f"{entry.authority:24} {entry.kid}  {', '.join(entry.licence_types)}")
    print(f"wrote {args.dir}/jwks.json and {args.dir}/trust_list.jws (root pin: {args.dir}/root.jwk.json)")
    return EXIT_OK


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    from keys import KeyDir, KeyStoreError

    try:
        new, retired = KeyDir(args.dir).rotate(args.authority, now=parse_time(args.now))
    except KeyStoreError as exc:
        raise UsageError(str(exc)) from None
    for key in retired:
        print(f"retired  {key.kid}  (signs nothing new; its credentials verify until they expire)")
    print(f"active   {new.kid}  {new.authority}")
    print(f"published a new trust list in {args.dir}/trust_list.jws")
    return EXIT_OK


def cmd_keys_compromise(args: argparse.Namespace) -> int:
    from keys import KeyDir, KeyStoreError

    since = parse_time(args.since, "--since")
    assert since is not None
    try:
        key, replacement = KeyDir(args.dir).compromise(args.kid, since, now=parse_time(args.now))
    except KeyStoreError as exc:
        raise UsageError(str(exc)) from None
    print(f"compromised {key.kid} since {dt.datetime.fromtimestamp(since, CHINA).isoformat()}: "
          "credentials it signed at or after that time are refused")
    if replacement is not None:
        print(f"new active key {replacement.kid} for {replacement.authority}")
    print(f"published a new trust list; re-issue with: certfree keys reissue --dir {args.dir} --kid={key.kid} --wallet W")
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
    p.add_argument("--now", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_keys_init)
    p = keys.add_parser("rotate", help="new issuer key for an authority; the old one is retired")
    p.add_argument("--dir", "--keys", dest="dir", required=True)
    p.add_argument("--authority", required=True, choices=sorted(AUTHORITIES))
    p.add_argument("--now", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_keys_rotate)
    p = keys.add_parser("compromise", help="mark a key compromised from a date: what it signed since is refused")
    p.add_argument("--dir", "--keys", dest="dir", required=True)
    p.add_argument("--kid", required=True, help=KID_HELP)
    p.add_argument("--since", required=True, help="ISO date or time (China time if no offset)")
    p.add_argument("--now", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_keys_compromise)
    return keys


def add_sync_command(sub: Any) -> None:
    """``certfree sync``."""
    p = sub.add_parser("sync", help="fetch and verify the trust list and status lists into a local cache")
    p.add_argument("--from", dest="source", required=True, help="service base URL or a folder with the same layout")
    p.add_argument("--to", required=True, help="cache folder (then: verify --keys DIR --status DIR/status)")
    p.add_argument("--root", required=True, help="the pinned root public key (root.jwk.json)")
    p.set_defaults(func=cmd_sync)
