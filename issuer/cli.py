"""The issuer's commands: ``certfree example|issue|renew-views``, ``certfree status
revoke|suspend|reinstate|publish|list`` and ``certfree keys reissue``, and the issuer
database they open (``--db``). The service's own commands are in :mod:`issuer.service_cli`."""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

from keys.cli import KID_HELP
from keys.jose import ALGORITHM, ALGORITHMS
from keys.cli_base import EXIT_OK, EXIT_REJECTED, UsageError, db_reason, parse_time, read_json

LICENCE_TYPE_NAMES = ["id_card", "household_book", "residence_permit", "driving_license", "vehicle_license", "ebike_registration"]

DB_ENV = "CERTFREE_DATABASE_URL"
DB_HELP = f"issuer database: SQLAlchemy URL or SQLite file (default: ${DB_ENV} or instance/certfree.db)"


def db_url(value: str | None) -> str:
    import os

    return value or os.environ.get(DB_ENV) or "instance/certfree.db"


def shown_db(value: str) -> str:
    """A database file or URL as it may be printed: a URL without its password."""
    if "://" not in value:
        return value
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(value).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "(the database URL / 数据库地址)"


@contextmanager
def open_db(value: str | None, *, create: bool = True) -> Any:
    """A session on the issuer database (its tables created if missing and brought up to
    this program's, unless ``create`` is false: ``issuer.db.schema``); the caller commits."""
    from issuer.db import make_engine, session_factory
    from issuer.db.schema import create_records

    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    url = db_url(value)
    if not create and "://" not in url and not Path(url).is_file():  # SQLite would make an empty one
        raise UsageError(f"--db: no database at {url} / 没有这个数据库")
    try:
        engine = make_engine(url)
    except (ArgumentError, ImportError):  # an unknown scheme, or its driver is not installed
        raise UsageError(f"--db / ${DB_ENV}: unsupported database URL {shown_db(url)}; use a SQLite file path, "
                         "sqlite:///FILE or postgresql+psycopg://USER:PASSWORD@HOST/DB / 不支持的数据库地址，"
                         "请使用 SQLite 文件路径、sqlite:///文件 或 postgresql+psycopg://用户:口令@主机/库名") from None
    if create:
        try:
            create_records(engine)
        except SQLAlchemyError as exc:
            engine.dispose()
            zh, en = db_reason(exc)
            raise UsageError(f"--db {shown_db(url)}: the issuer database cannot be used ({en}) / "
                             f"签发机关数据库无法使用（{zh}）") from None
    try:
        with session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()


def cmd_example(args: argparse.Namespace) -> int:
    from issuer import example

    print(json.dumps(example(args.type), ensure_ascii=False, indent=2))
    return EXIT_OK


def cmd_issue(args: argparse.Namespace) -> int:
    from issuer import ClaimsInvalid
    from issuer.records import issue_licence
    from keys import KeyDir, KeyStoreError, atomic_write

    claims = read_json(args.claims, "--claims")
    holder = None
    wallet = None
    if args.wallet:
        from wallet import Wallet, WalletError

        try:
            wallet = Wallet(args.wallet)
        except WalletError as exc:
            raise UsageError(str(exc)) from None
        holder = wallet.device_jwk()
    elif args.holder_key:
        holder = read_json(args.holder_key, "--holder-key")
    if args.out and not Path(args.out).resolve().parent.is_dir():  # before anything is issued
        raise UsageError(f"--out: no folder {Path(args.out).parent} / 文件夹不存在")
    try:
        keys = KeyDir(args.keys)
        with open_db(args.db) as session:
            issued = issue_licence(session, keys, args.type, claims, holder_jwk=holder, now=parse_time(args.now),
                                   alg=args.alg)
            session.commit()
    except KeyStoreError as exc:
        raise UsageError(str(exc)) from None
    except ClaimsInvalid as exc:
        print("claims refused / 证照信息不合格:", file=sys.stderr)
        for err in exc.errors:
            print(f"  {err.field}: {err.code}: {err.message} / {err.message_zh}", file=sys.stderr)
        return EXIT_REJECTED
    if args.out:  # the full credential: name, ID number, address; for its holder only
        atomic_write(Path(args.out), (issued.credential + "\n").encode("ascii"), mode=0o600)
    if wallet is not None:
        wallet.store(issued.licence_type, issued.jti, issued.credential, issued.views)
    if not args.out and wallet is None:
        print(issued.credential)
    print(f"issued {issued.licence_type} licence id {issued.jti}" + (f" with {len(issued.views)} views" if issued.views else ""), file=sys.stderr)
    return EXIT_OK


def cmd_renew_views(args: argparse.Namespace) -> int:
    """New views for the licences in --wallet whose views end within VIEW_RENEW_DAYS (all of
    them with --all): the issuer re-signs them from the credential the holder hands back."""
    from issuer.credential import VIEW_RENEW_DAYS
    from issuer.records import RecordError, refresh_views
    from keys import KeyDir, KeyStoreError
    from wallet import Wallet
    from wallet.store import views_end_within

    keys = KeyDir(args.keys)
    wallet = Wallet(args.wallet)
    at = parse_time(args.now)
    now = int(time.time()) if at is None else at
    renewed = 0
    with open_db(args.db, create=False) as session:
        for held in wallet.licences():
            if not held.views or not (args.all or views_end_within(held.views.values(), now, VIEW_RENEW_DAYS * 86400)):
                continue
            try:
                views = refresh_views(session, keys, held.credential, now=now)
            except (RecordError, KeyStoreError) as exc:
                print(f"{held.licence_type} {held.jti}: no new views / 未更新: {exc}", file=sys.stderr)
                continue
            wallet.store(held.licence_type, held.jti, held.credential, views)
            print(f"{held.licence_type} {held.jti}: {len(views)} new view(s) / 已更新 {len(views)} 个场景视图")
            renewed += 1
    print(f"{renewed} licence(s) got new views / 共 {renewed} 个证照的视图已更新")
    return EXIT_OK


def cmd_status_set(args: argparse.Namespace) -> int:
    from issuer.records import RecordError, set_status

    state = {"revoke": "revoked", "suspend": "suspended", "reinstate": "valid"}[args.status_command]
    try:
        with open_db(args.db) as session:
            record = set_status(session, args.licence, state, reason=args.reason, now=parse_time(args.now))
            session.commit()
    except (RecordError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    print(f"licence {record.id} ({record.licence_type}): {record.state} [{record.reason}]; "
          f"run `certfree status publish` so verifiers learn it")
    return EXIT_OK


def cmd_status_publish(args: argparse.Namespace) -> int:
    from issuer.records import publish_status_lists
    from keys import KeyDir, KeyStoreError

    try:
        keys = KeyDir(args.keys)
        with open_db(args.db) as session:
            paths = publish_status_lists(session, keys, Path(args.out), now=parse_time(args.now))
            session.commit()  # the tokens signed, kept for the service and the next publish
    except KeyStoreError as exc:
        raise UsageError(str(exc)) from None
    for list_id, path in paths.items():
        print(f"{list_id}  {path}  ({path.stat().st_size} bytes)")
    print(f"wrote {len(paths)} status list(s) and {Path(args.out) / 'index.json'}")
    return EXIT_OK


def cmd_status_list(args: argparse.Namespace) -> int:
    from issuer.records import iter_licences

    with open_db(args.db) as session:
        for r in iter_licences(session, authority=args.authority, holder=args.holder):
            print(f"{r.id}  {r.licence_type:20} {r.state:10} {r.reason or '-':16} kid {r.kid[:12]}…  list {r.status_list}#{r.status_idx}")
    return EXIT_OK


def cmd_keys_reissue(args: argparse.Namespace) -> int:
    """Re-sign with the authority's current key every licence recorded for --kid that the
    holder hands back (--wallet: read and updated in place; --from DIR: *.jws credentials or
    wallet licence *.json files, new ones written to --out DIR as wallet licence JSON)."""
    from issuer.records import RecordError, count_for_kid, kid_of_licence, reissue_credential, reissued_as
    from keys import KeyDir, KeyStoreError, atomic_write

    if not args.wallet and not args.source:
        raise UsageError("give --wallet W or --from DIR (with --out DIR) / 请指定 --wallet，或 --from 与 --out")
    if args.source and not args.out:
        raise UsageError("--from needs --out / --from 须同时指定 --out")
    keys = KeyDir(args.dir)
    held: Iterable[tuple[str, Any]] = ()  # (credential, wallet or None)
    if args.wallet:
        from wallet import Wallet

        wallet = Wallet(args.wallet)
        held = [(s.credential, wallet) for s in wallet.licences()]
    if args.source:
        handed = _handed_back(Path(args.source))
        held = itertools.chain(held, ((credential, None) for credential in handed))
    now = parse_time(args.now)
    done, unstored = 0, 0
    try:
        with open_db(args.db) as session:
            # Each credential handed back is looked up by its id: a key of a whole city's
            # id cards signed millions, which are counted, never loaded.
            recorded = count_for_kid(session, args.kid)
            seen: set[str] = set()
            for credential, target in held:
                licence_id = _licence_id(credential)
                if licence_id is None or licence_id in seen or kid_of_licence(session, licence_id) != args.kid:
                    continue
                seen.add(licence_id)
                lost = reissued_as(session, licence_id)
                if lost is not None:  # a run stopped after recording the new licence, before storing it
                    print(f"licence {licence_id} was re-issued before as licence id {lost}, which was never stored "
                          f"(a run stopped in between): issue the resident a new licence and revoke {lost} / "
                          f"证照 {licence_id} 已重签为 {lost}，但新凭证未能保存：请为居民重新签发并注销 {lost}")
                    unstored += 1
                    continue
                out = reissue_credential(session, keys, credential, kid=args.kid, now=now)
                # Recorded before it is handed out: no credential exists that the records do
                # not know (its status entry could otherwise be given to another licence).
                session.commit()
                new = out.issued
                try:
                    if target is not None:
                        target.store(new.licence_type, new.jti, new.credential, new.views, replaces=out.old_id)
                    else:
                        record = {"licence_type": new.licence_type, "jti": new.jti, "credential": new.credential,
                                  "views": dict(new.views)}
                        atomic_write(Path(args.out) / f"{new.licence_type}-{new.jti}.json", json.dumps(record, indent=2).encode(),
                                     mode=0o600)
                except OSError as exc:
                    raise UsageError(f"licence {out.old_id} was re-issued as {new.jti} and recorded, but its credential "
                                     f"could not be stored ({exc.strerror or exc}) / 证照 {out.old_id} 已重签为 {new.jti} "
                                     "并已记录，但新凭证未能保存") from None
                print(f"re-issued {new.licence_type} {out.old_id} -> licence id {new.jti}")
                done += 1
    except (RecordError, KeyStoreError) as exc:
        raise UsageError(str(exc)) from None
    print(f"{done} licence(s) re-issued; {recorded - done - unstored} recorded for {args.kid} not handed back"
          + ("; run `certfree status publish`" if done else ""))
    return EXIT_REJECTED if unstored else EXIT_OK


def _handed_back(folder: Path) -> Iterator[str]:
    """The credentials in a --from folder: *.jws files and wallet licence *.json files, in
    name order. Every file is read and checked before the first is given (a bad one stops
    the run before anything is re-issued), then read again as it is given: a city's
    handed-back credentials are never all in memory, only their file names."""
    names = sorted(entry.name for entry in os.scandir(folder)
                   if entry.name.endswith((".jws", ".json")) and entry.is_file())
    for name in names:
        _handed_back_file(folder / name)
    return (_handed_back_file(folder / name) for name in names)


def _handed_back_file(path: Path) -> str:
    try:
        if path.suffix == ".jws":
            credential: Any = path.read_text("ascii").strip()
        else:
            data = json.loads(path.read_text("utf-8"))
            credential = data.get("credential") if isinstance(data, dict) else None
        if not isinstance(credential, str) or _licence_id(credential) is None:
            raise ValueError
    except ValueError:
        raise UsageError(f"--from: {path}: not a credential (.jws) or a wallet licence file (.json) / "
                         "不是凭证（.jws）或钱包证照文件（.json）") from None
    return credential


def _licence_id(credential: str) -> str | None:
    """The licence id (jti) of a compact JWS, unverified; ValueError if it is not one."""
    from keys.jose import split_compact

    payload = json.loads(split_compact(credential)[1])
    if not isinstance(payload, dict):
        raise ValueError("not a JWS payload")
    jti = payload.get("jti")
    return jti if isinstance(jti, str) else None


def add_commands(sub: Any) -> None:
    """``certfree example``, ``certfree issue`` and ``certfree renew-views``."""
    p = sub.add_parser("example", help="print a valid example claims JSON for a licence type")
    p.add_argument("type", choices=LICENCE_TYPE_NAMES)
    p.set_defaults(func=cmd_example)

    p = sub.add_parser("issue", help="sign a licence (full credential, plus views with --wallet)")
    p.add_argument("type", choices=LICENCE_TYPE_NAMES)
    p.add_argument("--keys", required=True)
    p.add_argument("--claims", required=True)
    p.add_argument("--holder-key", help="the holder's public JWK file (binds cnf)")
    p.add_argument("--wallet", help="bind to this wallet's device key and store there, with its views")
    p.add_argument("--out", help="write the credential JWS here")
    p.add_argument("--now", help="issue as of this ISO time (tests)")
    p.add_argument("--alg", choices=ALGORITHMS, default=ALGORITHM,
                   help="the headers' name for Ed25519: EdDSA (default) or RFC 9864's Ed25519")
    p.add_argument("--db", help=DB_HELP)
    p.set_defaults(func=cmd_issue)

    p = sub.add_parser("renew-views", help="re-sign a wallet's views (they live 30 days) from its credentials")
    p.add_argument("--keys", required=True)
    p.add_argument("--wallet", required=True)
    p.add_argument("--all", action="store_true", help="every licence, not only those whose views end within 7 days")
    p.add_argument("--db", help=DB_HELP)
    p.add_argument("--now", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_renew_views)


def add_key_commands(keys: Any) -> None:
    """``certfree keys reissue``, in the ``keys`` group that :mod:`keys.cli` made."""
    p = keys.add_parser("reissue", help="re-sign the licences recorded for a key with the authority's current key")
    p.add_argument("--dir", "--keys", dest="dir", required=True)
    p.add_argument("--kid", required=True, help=KID_HELP)
    p.add_argument("--wallet", help="a wallet: its licences signed by --kid are replaced in place")
    p.add_argument("--from", dest="source", help="folder of credentials (*.jws) or wallet licence files (*.json)")
    p.add_argument("--out", help="with --from: folder for the re-issued licences (wallet licence JSON)")
    p.add_argument("--db", help=DB_HELP)
    p.add_argument("--now", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_keys_reissue)


def add_status_commands(sub: Any) -> None:
    """``certfree status revoke|suspend|reinstate|publish|list``."""
    st = sub.add_parser("status", help="revoke, suspend, reinstate licences; publish status lists").add_subparsers(
        dest="status_command", required=True)
    for name, text in (("revoke", "revoke a licence"), ("suspend", "suspend a licence (e-bike: reported stolen)"),
                       ("reinstate", "make a suspended or revoked licence valid again")):
        p = st.add_parser(name, help=text)
        p.add_argument("--licence", required=True, help="licence id (printed by certfree issue; write --licence=ID if it starts with '-')")
        p.add_argument("--reason", required=True, help="short code, e.g. lost, stolen, court_order")
        p.add_argument("--db", help=DB_HELP)
        p.add_argument("--now", help=argparse.SUPPRESS)
        p.set_defaults(func=cmd_status_set)
    p = st.add_parser("publish", help="write the signed status lists and index.json")
    p.add_argument("--keys", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--db", help=DB_HELP)
    p.add_argument("--now", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_status_publish)
    p = st.add_parser("list", help="list recorded licences and their status")
    p.add_argument("--db", help=DB_HELP)
    p.add_argument("--authority")
    p.add_argument("--holder")
    p.set_defaults(func=cmd_status_list)
