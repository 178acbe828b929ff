"""certfree entry points: the ``certfree`` command line (``main``).

The web service is ``create_app`` (built by ``issuer.service``); everything here is thin
glue around the packages: keys, issuer, wallet, verifier, scenarios.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sqlite3
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Sequence

CHINA = dt.timezone(dt.timedelta(hours=8))
EXIT_OK, EXIT_REJECTED, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3  # 1 is only ever "not valid"


def pad(text: str, width: int) -> str:
    """Left-justify for a terminal, counting CJK characters as two columns."""
    import unicodedata

    shown = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(0, width - shown)


class UsageError(Exception):
    """A command-line mistake: printed, exit code 2."""


def read_json(path: str | Path, option: str) -> Any:
    """A JSON file named on the command line, or a UsageError naming the option."""
    try:
        return json.loads(Path(path).read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"{option} {path}: cannot read JSON ({type(exc).__name__}) / 无法读取 JSON 文件 {path}") from None


def parse_time(text: str | None, option: str = "--now") -> int | None:
    """ISO 8601 time for ``--now`` (or ``option``); a time without an offset is China time (UTC+8)."""
    if text is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option}: not an ISO 8601 time: {text!r} / 不是 ISO 8601 时间") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=CHINA)
    return int(moment.timestamp())


# What a database error means for the person at the desk, found by a word in the driver's
# message; the message itself is never shown (it may hold the values being written).
_DB_REASONS = (
    (("locked", "busy"), "被其他程序占用", "in use by another program"),
    (("not a database", "malformed"), "不是数据库文件或已损坏", "not a database file, or damaged"),
    (("readonly", "read-only"), "只读", "read-only"),
    (("unable to open",), "无法打开", "cannot be opened"),
    (("disk", "full"), "磁盘已满或出错", "disk full or failing"),
)


def db_reason(exc: BaseException) -> tuple[str, str]:
    """(Chinese, English) reason for a database error (sqlite3 or SQLAlchemy), without its text."""
    text = str(getattr(exc, "orig", None) or exc).lower()
    for words, zh, en in _DB_REASONS:
        if any(word in text for word in words):
            return zh, en
    return "数据库错误", f"database error ({type(exc).__name__})"


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


# ---- keys -------------------------------------------------------------------------------


SOURCE_PACKAGES = ("keys", "issuer", "wallet", "verifier", "scenarios", "desk")


def outside_source(folder: str, option: str) -> None:
    """UsageError if ``folder`` lies inside one of certfree's own packages: key material and
    wallets never go into the source tree (``--dir keys`` run from the repository root would
    write private keys into the ``keys`` package)."""
    import importlib

    target = Path(folder).resolve()
    for name in SOURCE_PACKAGES:
        home = Path(importlib.import_module(name).__file__ or "").resolve().parent
        if target == home or home in target.parents:
            raise UsageError(f"{option} {folder}: inside certfree's own {name}/ package; use a folder of your own "
                             f"(mkdir try && cd try) / {option} {folder} 位于 certfree 源代码的 {name}/ 包内，"
                             "请使用自己的文件夹（如 mkdir try && cd try）")


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


# ---- issuer -----------------------------------------------------------------------------


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
            issued = issue_licence(session, keys, args.type, claims, holder_jwk=holder, now=parse_time(args.now))
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


# ---- wallet -----------------------------------------------------------------------------

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


def check_qr_out(path: str) -> None:
    """A QR image is written as PNG or SVG only: say so before anything is made."""
    if Path(path).suffix.lower() not in (".png", ".svg"):
        raise UsageError(f"--out {path}: use a .png or .svg file / 请使用 .png 或 .svg 文件")


def read_text_file(path: str) -> str:
    """A credential or QR text file named on the command line (not an image)."""
    try:
        return Path(path).read_text("ascii").strip()
    except ValueError:
        raise UsageError(f"{path}: not a text file holding a credential or QR text (an image? use --image) / "
                         "不是存有凭证或二维码文本的文本文件（图片请用 --image）") from None


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
    from wallet import Wallet, WalletError, present, version, write

    if args.out:
        check_qr_out(args.out)
    try:
        from scenarios import get_policy

        prefer = get_policy(args.scenario).accepts
        presentation = present(Wallet(args.wallet), args.scenario, licence_type=args.type, prefer=prefer, now=parse_time(args.now))
    except WalletError as exc:
        raise UsageError(str(exc)) from None
    if args.out:
        write(presentation.text, args.out)
        print(f"wrote {args.out} (QR version {version(presentation.text)})", file=sys.stderr)
    print(presentation.text)
    return EXIT_OK


# ---- verifier ---------------------------------------------------------------------------


def load_verifier(keys_dir: str, replay_db: str | None = None, status_dir: str | None = None) -> Any:
    from verifier import MemoryReplayCache, SqliteReplayCache, Verifier, load_status_lists, load_trust_list

    folder = Path(keys_dir)
    try:
        token = (folder / "trust_list.jws").read_text("ascii")
        root = json.loads((folder / "root.jwk.json").read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"--keys: cannot read the trust list or root key in {keys_dir} / 无法读取信任列表或根公钥") from None
    trust = load_trust_list(token, root)
    if replay_db and not Path(replay_db).resolve().parent.is_dir():
        raise UsageError(f"--replay-db: no folder {Path(replay_db).parent} / 文件夹不存在")
    try:
        cache = SqliteReplayCache(replay_db) if replay_db else MemoryReplayCache()
    except sqlite3.Error as exc:
        raise replay_db_error(replay_db or "", exc) from None
    status = load_status_lists(Path(status_dir), trust) if status_dir else None
    return Verifier(trust, replay_cache=cache, status=status)


def replay_db_error(path: str, exc: BaseException) -> UsageError:
    zh, en = db_reason(exc)
    return UsageError(f"--replay-db {path}: 已扫码记录库无法使用（{zh}）/ the replay database cannot be used ({en})")


def render_result(result: Any) -> str:
    from issuer import LICENCE_TYPES
    from issuer.views import DERIVED_LABELS

    lt = LICENCE_TYPES[result.licence_type]
    labels = {**DERIVED_LABELS, **lt.labels}  # this licence's labels: "name" is 车主姓名 only on a vehicle licence
    order = {name: i for i, name in enumerate(lt.fields)}
    lines = [f"通过 / ACCEPTED  {lt.title_zh} {lt.title_en}" + (f"  [{result.scenario}]" if result.scenario else "")]
    for name in sorted(result.claims, key=lambda n: order.get(n, len(order))):
        value = result.claims[name]
        zh, en = labels.get(name, (name, name))
        shown = "是 yes" if value is True else "否 no" if value is False else value
        lines.append(f"  {zh} {en}: {shown}")
    for warning in result.warnings:
        lines.append(f"  ! {warning.code}: {warning.message_zh} / {warning.message}")
    return "\n".join(lines)


def render_failure(exc: Any) -> str:
    lines = ["未通过 / REJECTED"]
    for failure in exc.failures:
        field = f" [{failure.field}]" if failure.field else ""
        detail = f" ({failure.detail})" if failure.detail else ""  # what exactly, for the engineer
        lines.append(f"  x {failure.code}{field}: {failure.message_zh} / {failure.message}{detail}")
    return "\n".join(lines)


def cmd_verify(args: argparse.Namespace) -> int:
    from verifier import VerificationFailed

    for image in args.image or []:  # a mistyped name is a usage error, not a "malformed" licence
        if not Path(image).is_file():
            raise UsageError(f"--image {image}: no such file / 没有这个文件")
    if args.status and not Path(args.status).is_dir():
        raise UsageError(f"--status {args.status}: no such folder / 没有这个文件夹")
    inputs: list[Any] = [Path(p) for p in args.image or []] + list(args.text or [])
    if args.file:
        inputs.append(read_text_file(args.file))
    if not inputs:
        raise UsageError("give --image PNG, --text TEXT or a FILE / 请给出 --image 图片、--text 文本或文件")
    now = parse_time(args.now)
    if args.matter:
        from scenarios import UnknownMatterError, get_matter
        from verifier import UnknownMatter

        try:
            get_matter(args.matter)
        except UnknownMatterError:
            raise UsageError(f"--matter {args.matter}: {UnknownMatter.code}: "
                             f"{UnknownMatter.message_zh} / {UnknownMatter.message}") from None
    clerk = _clerk_entries(args) if args.register else {}
    try:
        verifier = load_verifier(args.keys, args.replay_db, args.status)
    except VerificationFailed as exc:
        return _report([exc], [], args)
    with open_register(args.register) as register:  # before anything is verified: a bad register never spends a code
        _print_trust_age(verifier, now, args)
        if args.matter:
            return _verify_matter(verifier, args, inputs, now, clerk, register)
        results, failures = [], []
        for item in inputs:
            try:
                results.append(_verify_one(verifier, item, args, now))
            except VerificationFailed as exc:
                failures.append(exc)
        if register is not None and results:
            _record(register, args, results, clerk, now)
    return _report(failures, results, args)


def _verify_one(verifier: Any, item: Any, args: argparse.Namespace, now: int | None) -> Any:
    try:
        return verifier.verify(item, scenario=args.scenario, now=now)
    except sqlite3.Error as exc:  # the replay database, locked or failing
        raise replay_db_error(args.replay_db or "", exc) from None


def _clerk_entries(args: argparse.Namespace) -> dict[str, str]:
    """``--clerk FIELD=VALUE`` entries, checked before anything is scanned so that a typo
    never costs the resident a fresh code."""
    from scenarios import get_policy

    if not args.scenario:
        raise UsageError("--register needs --scenario / --register 须同时指定 --scenario")
    clerk: dict[str, str] = {}
    for item in args.clerk or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"--clerk: expected FIELD=VALUE, got {item!r} / 格式应为 字段=值")
        clerk[name] = value
    policy = get_policy(args.scenario)
    known = {f.name for f in policy.clerk_fields}
    for name in clerk:
        if name not in known:
            raise UsageError(f"--clerk: {policy.name} has no field {name!r} (fields: {', '.join(sorted(known)) or 'none'}) / 该场景没有此登记字段")
    for f in policy.clerk_fields:
        if f.required and not clerk.get(f.name, "").strip():
            raise UsageError(f"--clerk {f.name}=...: required at {policy.name} / 必填：{f.label_zh}")
    return clerk


def register_unavailable(path: str, exc: BaseException, *, verified: bool) -> UsageError:
    """The coded, bilingual message for a register that cannot be opened or written."""
    zh, en = db_reason(exc)
    where = shown_db(path)
    if verified:
        after_zh, after_en = "核验已通过，但未登记", "the licence was verified but NOT recorded"
    else:
        after_zh, after_en = "未核验，二维码仍可使用", "nothing was verified; the code is still good"
    return UsageError(f"register_unavailable: 登记簿 {where} 无法打开或写入（{zh}），{after_zh} / "
                      f"the register {where} cannot be opened or written ({en}); {after_en}")


@contextmanager
def open_register(path: str | None) -> Any:
    """The desk's register (None without --register), opened and checked."""
    if not path:
        yield None
        return
    from sqlalchemy.exc import SQLAlchemyError

    from scenarios.register import Register

    try:
        register = Register(path)
    except SQLAlchemyError as exc:
        raise register_unavailable(path, exc, verified=False) from None
    with register:
        yield register


def _record(register: Any, args: argparse.Namespace, results: list[Any], clerk: dict[str, str], now: int | None) -> None:
    from sqlalchemy.exc import SQLAlchemyError

    from scenarios import get_policy
    from scenarios.register import RegisterError

    moment = dt.datetime.fromtimestamp(now, dt.timezone.utc) if now else dt.datetime.now(dt.timezone.utc)
    for result in results:
        try:
            register.record(get_policy(args.scenario), result.licence_type, result.claims, clerk, recorded_at=moment, matter=args.matter)
        except RegisterError as exc:
            raise UsageError(f"not recorded in the register / 未登记: {exc.code} [{exc.field}]: {exc.message_zh} / {exc.message_en}") from None
        except SQLAlchemyError as exc:  # its text is the SQL only (hide_parameters), but say it plainly
            raise register_unavailable(args.register, exc, verified=True) from None


def _verify_matter(verifier: Any, args: argparse.Namespace, inputs: list[Any], now: int | None,
                   clerk: dict[str, str], register: Any) -> int:
    from verifier import verify_matter

    try:
        outcome = verify_matter(verifier, args.matter, inputs, now=now)
    except sqlite3.Error as error:
        raise replay_db_error(args.replay_db or "", error) from None
    if register is not None and outcome.verified:  # as without --matter: what verified is recorded, with the matter
        _record(register, args, list(outcome.verified), clerk, now)
    if args.json:
        print(json.dumps({
            "ok": outcome.done,
            "matter": args.matter,
            "verified": [r.to_json() for r in outcome.verified],
            "failures": [f.to_json() for exc in outcome.rejected for f in exc.failures],
            "missing": list(outcome.check.missing),
            "missing_one_of": [list(g) for g in outcome.check.missing_one_of],
        }, ensure_ascii=False, indent=2))
    else:
        for result in outcome.verified:
            print(render_result(result))
        for exc in outcome.rejected:
            print(render_failure(exc))
        m = outcome.check.matter
        state = "办结条件齐全 / complete" if outcome.done else f"{outcome.check.message_zh()} / {outcome.check.message()}"
        print(f"{m.title_zh} {m.title_en}: {state}")
    return EXIT_OK if outcome.done else EXIT_REJECTED


def _report(failures: list[Any], results: list[Any], args: argparse.Namespace) -> int:
    ok = not failures
    if args.json:
        if len(results) + len(failures) == 1 and results:
            body = results[0].to_json()
        else:
            body = {
                "ok": ok,
                "type": results[0].licence_type if len(results) == 1 else None,
                "claims": dict(results[0].claims) if len(results) == 1 else None,
                "results": [r.to_json() for r in results],
                "failures": [f.to_json() for exc in failures for f in exc.failures],
            }
            if not results:
                body.update(type=None, claims=None)
        print(json.dumps(body, ensure_ascii=False, indent=2))
    else:
        for result in results:
            print(render_result(result))
        for exc in failures:
            print(render_failure(exc))
    return EXIT_OK if ok else EXIT_REJECTED


# ---- status, key lifecycle, sync --------------------------------------------------------

DB_ENV = "CERTFREE_DATABASE_URL"
DB_HELP = f"issuer database: SQLAlchemy URL or SQLite file (default: ${DB_ENV} or instance/certfree.db)"


def db_url(value: str | None) -> str:
    import os

    return value or os.environ.get(DB_ENV) or "instance/certfree.db"


@contextmanager
def open_db(value: str | None, *, create: bool = True) -> Any:
    """A session on the issuer database (its tables created if missing, unless
    ``create`` is false); the caller commits."""
    from issuer.db import Base, make_engine, session_factory

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
            Base.metadata.create_all(engine)
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


def _age_text(seconds: int) -> str:
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 3 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _print_trust_age(verifier: Any, now: int | None, args: argparse.Namespace) -> None:
    """Say how old the trust list (and the status lists) are: stdout in text mode, stderr with --json."""
    import time

    moment = now if now is not None else int(time.time())
    line = f"信任列表 trust list: seq {verifier.trust.seq}, issued {_age_text(verifier.trust.age(moment))} ago"
    status = getattr(verifier, "status", None)
    if status is None:
        line += "; 状态列表 status lists: none held"
    else:
        oldest = status.oldest_age(moment)
        line += f"; 状态列表 status lists: {len(status.lists)} held" + (f", oldest {_age_text(oldest)}" if oldest is not None else "")
    print(line, file=sys.stderr if args.json else sys.stdout)


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
    except KeyStoreError as exc:
        raise UsageError(str(exc)) from None
    for list_id, path in paths.items():
        print(f"{list_id}  {path}  ({path.stat().st_size} bytes)")
    print(f"wrote {len(paths)} status list(s) and {Path(args.out) / 'index.json'}")
    return EXIT_OK


def cmd_status_list(args: argparse.Namespace) -> int:
    from issuer.records import list_licences

    with open_db(args.db) as session:
        for r in list_licences(session, authority=args.authority, holder=args.holder):
            print(f"{r.id}  {r.licence_type:20} {r.state:10} {r.reason or '-':16} kid {r.kid[:12]}…  list {r.status_list}#{r.status_idx}")
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


def cmd_keys_reissue(args: argparse.Namespace) -> int:
    """Re-sign with the authority's current key every licence recorded for --kid that the
    holder hands back (--wallet: read and updated in place; --from DIR: *.jws credentials or
    wallet licence *.json files, new ones written to --out DIR as wallet licence JSON)."""
    from issuer.records import RecordError, licences_for_kid, reissue_credential
    from keys import KeyDir, KeyStoreError, atomic_write

    if not args.wallet and not args.source:
        raise UsageError("give --wallet W or --from DIR (with --out DIR) / 请指定 --wallet，或 --from 与 --out")
    if args.source and not args.out:
        raise UsageError("--from needs --out / --from 须同时指定 --out")
    keys = KeyDir(args.dir)
    held: list[tuple[str, Any]] = []  # (credential, wallet or None)
    wallet = None
    if args.wallet:
        from wallet import Wallet

        wallet = Wallet(args.wallet)
        held += [(s.credential, wallet) for s in wallet.licences()]
    if args.source:
        held += [(credential, None) for credential in _handed_back(Path(args.source))]
    now = parse_time(args.now)
    done = 0
    try:
        with open_db(args.db) as session:
            recorded = {r.id for r in licences_for_kid(session, args.kid)}
            for credential, target in held:
                if _licence_id(credential) not in recorded:
                    continue
                out = reissue_credential(session, keys, credential, kid=args.kid, now=now)
                new = out.issued
                if target is not None:
                    target.store(new.licence_type, new.jti, new.credential, new.views, replaces=out.old_id)
                else:
                    record = {"licence_type": new.licence_type, "jti": new.jti, "credential": new.credential, "views": dict(new.views)}
                    atomic_write(Path(args.out) / f"{new.licence_type}-{new.jti}.json", json.dumps(record, indent=2).encode(), mode=0o600)
                print(f"re-issued {new.licence_type} {out.old_id} -> licence id {new.jti}")
                recorded.discard(out.old_id)
                done += 1
            session.commit()
    except (RecordError, KeyStoreError) as exc:
        raise UsageError(str(exc)) from None
    print(f"{done} licence(s) re-issued; {len(recorded)} recorded for {args.kid} not handed back"
          + ("; run `certfree status publish`" if done else ""))
    return EXIT_OK


def _handed_back(folder: Path) -> list[str]:
    """The credentials in a --from folder: *.jws files and wallet licence *.json files."""
    out = []
    for path in sorted(folder.iterdir()):
        if path.suffix not in (".jws", ".json"):
            continue
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
        out.append(credential)
    return out


def _licence_id(credential: str) -> str | None:
    """The licence id (jti) of a compact JWS, unverified; ValueError if it is not one."""
    from keys.jose import split_compact

    payload = json.loads(split_compact(credential)[1])
    if not isinstance(payload, dict):
        raise ValueError("not a JWS payload")
    jti = payload.get("jti")
    return jti if isinstance(jti, str) else None


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


def add_lifecycle_commands(sub: Any, keys: Any) -> None:
    from keys import AUTHORITIES

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
    p = keys.add_parser("reissue", help="re-sign the licences recorded for a key with the authority's current key")
    p.add_argument("--dir", "--keys", dest="dir", required=True)
    p.add_argument("--kid", required=True, help=KID_HELP)
    p.add_argument("--wallet", help="a wallet: its licences signed by --kid are replaced in place")
    p.add_argument("--from", dest="source", help="folder of credentials (*.jws) or wallet licence files (*.json)")
    p.add_argument("--out", help="with --from: folder for the re-issued licences (wallet licence JSON)")
    p.add_argument("--db", help=DB_HELP)
    p.add_argument("--now", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_keys_reissue)

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

    p = sub.add_parser("sync", help="fetch and verify the trust list and status lists into a local cache")
    p.add_argument("--from", dest="source", required=True, help="service base URL or a folder with the same layout")
    p.add_argument("--to", required=True, help="cache folder (then: verify --keys DIR --status DIR/status)")
    p.add_argument("--root", required=True, help="the pinned root public key (root.jwk.json)")
    p.set_defaults(func=cmd_sync)



# ---- service ----------------------------------------------------------------------------


def create_app(test_config: Any = None) -> Any:
    """The Flask app (issuer API, public endpoints, web wallet, desk page): see issuer.service."""
    from issuer.service import create_app as _create_app

    return _create_app(test_config)


def _prepared_app() -> Any:
    from issuer.service import demo

    app = create_app()
    return app, demo.prepare(app)


def cmd_demo_data(args: argparse.Namespace) -> int:
    """Demo keys, schema, operators and a demo resident with all six licences (idempotent)."""
    from issuer.service import demo

    _app, info = _prepared_app()
    print(demo.banner(info, f"http://{args.bind}"))
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the service under gunicorn (schema upgraded once, before the workers start)."""
    import os

    from issuer.service import db

    app = create_app()
    if args.demo:
        from issuer.service import demo

        print(demo.banner(demo.prepare(app), f"http://{args.bind}"), flush=True)
    else:
        db.upgrade(app)
    argv = [sys.executable, "-m", "gunicorn", "--workers", str(args.workers), "--bind", args.bind,
            "--access-logformat", '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(L)ss', "app:create_app()"]
    os.execv(sys.executable, argv)
    return EXIT_OK  # not reached


def add_service_commands(sub: Any) -> None:
    p = sub.add_parser("serve", help="run the web service under gunicorn")
    p.add_argument("--bind", default="127.0.0.1:8000")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--demo", action="store_true", help="prepare demo data first and print the demo log-ins")
    p.set_defaults(func=cmd_serve)
    p = sub.add_parser("demo-data", help="create demo keys, operators and a resident with six licences")
    p.add_argument("--bind", default="127.0.0.1:8000", help="where the service will listen (for the printed URLs)")
    p.set_defaults(func=cmd_demo_data)
    desk = sub.add_parser("desk-clerk", help="front-desk clerks of the service's desk page").add_subparsers(dest="desk_command", required=True)
    p = desk.add_parser("add", help="add a clerk (password from CERTFREE_DESK_PASSWORD, or asked for)")
    p.add_argument("--username", required=True)
    p.set_defaults(func=cmd_desk_clerk_add)
    audit = sub.add_parser("audit", help="the service's audit log").add_subparsers(dest="audit_command", required=True)
    p = audit.add_parser("verify", help="check the audit log's hash chain (exit 1 if it was tampered with)")
    p.add_argument("--db", help="database URL or SQLite path (default: $CERTFREE_DATABASE_URL or instance/certfree.db)")
    p.set_defaults(func=cmd_audit_verify)


def cmd_desk_clerk_add(args: argparse.Namespace) -> int:
    import getpass
    import os
    import time

    from issuer.service import db
    from issuer.service.residents import EnrolError, add_clerk

    password = os.environ.get("CERTFREE_DESK_PASSWORD") or getpass.getpass("password for the new clerk: ")
    app = create_app()
    db.upgrade(app)
    with db.sessions(app)() as session:
        try:
            add_clerk(session, args.username, password, now=time.time())
        except EnrolError as exc:
            raise UsageError(f"{exc.field}: {exc.message} / {exc.message_zh}") from None
        session.commit()
    print(f"desk clerk {args.username!r} added; log in at /desk/login")
    return EXIT_OK


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from issuer.service.audit import verify_chain

    with open_db(args.db, create=False) as session:  # reads only: creates nothing
        check = verify_chain(session)
    if check.ok:
        print(f"audit log intact: {check.entries} entries / 审计日志完整：{check.entries} 条")
        return EXIT_OK
    where = f" at entry {check.first_bad_seq}" if check.first_bad_seq is not None else ""
    print(f"AUDIT LOG TAMPERED{where}: {check.reason} / 审计日志被篡改{where}")
    return EXIT_REJECTED


# ---- demo -------------------------------------------------------------------------------


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
    from wallet import Wallet, present, version, write

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
        png = write(text, out / f"{licence_type}.png")
        try:
            result = verifier.verify(png)
            outcome = f"通过 / valid ({result.licence_type})"
            if result.warnings:
                ok = False
                outcome += " ! " + ", ".join(w.code for w in result.warnings)
        except VerificationFailed as exc:
            ok = False
            outcome = "未通过 / " + ", ".join(exc.codes)
        from PIL import Image

        with Image.open(png) as im:
            px = im.size[0]
        print(f"{pad(lt.title_zh + ' ' + lt.title_en, 46)} {version(text):>6} {len(text):>6} {px:>7}  {outcome}")
    print()
    print(f"{pad('scenario 场景', 46)} {'QR ver':>6}  {pad('fresh 首次扫码', 34)} same code again 再次扫码")
    for name in SCENARIOS:
        policy = get_policy(name)
        presentation = present(holder, name, prefer=policy.accepts)
        png = write(presentation.text, out / f"present-{name}.png")
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
        print(f"{pad(policy.title_zh + ' ' + name, 46)} {version(presentation.text):>6}  {pad(first, 34)} {again}")
    print(f"\nQR images, keys, wallet, issuer.db and status lists are in {out}/")
    return EXIT_OK if ok else EXIT_REJECTED


# ---- parser -----------------------------------------------------------------------------


# A kid is a base64url RFC 7638 thumbprint: one in 64 starts with "-", which argparse takes
# for an option unless it is written --kid=VALUE.
KID_HELP = "the key's kid (write --kid=KID: a kid may start with '-')"


def build_parser() -> argparse.ArgumentParser:
    from scenarios import SCENARIOS

    types = ["id_card", "household_book", "residence_permit", "driving_license", "vehicle_license", "ebike_registration"]
    parser = argparse.ArgumentParser(prog="certfree", description="certfree: electronic licences and offline verification")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", required=True)

    keys = sub.add_parser("keys", help="issuer and root keys").add_subparsers(dest="keys_command", required=True)
    p = keys.add_parser("init", help="create a root key, issuer keys, JWKS and the trust list")
    p.add_argument("--dir", required=True)
    p.add_argument("--insecure-dev", action="store_true", help="write UNENCRYPTED keys (development only)")
    p.add_argument("--now", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_keys_init)

    p = sub.add_parser("example", help="print a valid example claims JSON for a licence type")
    p.add_argument("type", choices=types)
    p.set_defaults(func=cmd_example)

    p = sub.add_parser("issue", help="sign a licence (full credential, plus views with --wallet)")
    p.add_argument("type", choices=types)
    p.add_argument("--keys", required=True)
    p.add_argument("--claims", required=True)
    p.add_argument("--holder-key", help="the holder's public JWK file (binds cnf)")
    p.add_argument("--wallet", help="bind to this wallet's device key and store there, with its views")
    p.add_argument("--out", help="write the credential JWS here")
    p.add_argument("--now", help="issue as of this ISO time (tests)")
    p.add_argument("--db", help=DB_HELP)
    p.set_defaults(func=cmd_issue)

    p = sub.add_parser("renew-views", help="re-sign a wallet's views (they live 30 days) from its credentials")
    p.add_argument("--keys", required=True)
    p.add_argument("--wallet", required=True)
    p.add_argument("--all", action="store_true", help="every licence, not only those whose views end within 7 days")
    p.add_argument("--db", help=DB_HELP)
    p.add_argument("--now", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_renew_views)

    p = sub.add_parser("qr", help="render a credential (JWS file) or QR text file as a QR image")
    p.add_argument("file")
    p.add_argument("--out", required=True, help="OUT.png or OUT.svg")
    p.set_defaults(func=cmd_qr)

    w = sub.add_parser("wallet", help="the holder's wallet").add_subparsers(dest="wallet_command", required=True)
    p = w.add_parser("init", help="create a wallet and its device key")
    p.add_argument("--dir", required=True)
    p.add_argument("--insecure-dev", action="store_true", help="UNENCRYPTED device key (development only)")
    p.set_defaults(func=cmd_wallet_init)

    p = sub.add_parser("present", help="make a fresh presentation QR for a scenario")
    p.add_argument("--wallet", required=True)
    p.add_argument("--scenario", required=True, choices=SCENARIOS)
    p.add_argument("--type", choices=types)
    p.add_argument("--out", help="qr.png or qr.svg")
    p.add_argument("--now", help="present as of this ISO time (tests)")
    p.set_defaults(func=cmd_present)

    p = sub.add_parser("verify", help="verify a QR image, QR text or credential file, offline")
    p.add_argument("file", nargs="?", help="a file holding a credential JWS or QR text")
    p.add_argument("--image", action="append", help="QR image (PNG/JPEG); may repeat with --matter")
    p.add_argument("--text", action="append", help="QR text or JWS; may repeat with --matter")
    p.add_argument("--keys", required=True, help="folder with trust_list.jws and root.jwk.json")
    p.add_argument("--scenario", choices=SCENARIOS)
    p.add_argument("--matter", help="window matter id: check the set of presentations against it")
    p.add_argument("--replay-db", help="SQLite file remembering scanned codes (default: memory)")
    p.add_argument("--status", help="folder of signed status lists (certfree status publish / sync)")
    p.add_argument("--register", help="the desk's register (SQLite file) to record accepted presentations")
    p.add_argument("--clerk", action="append", metavar="FIELD=VALUE", help="clerk entry for the register, e.g. room=0807")
    p.add_argument("--now", help="verify as of this ISO time (audits, tests)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_verify)

    add_lifecycle_commands(sub, keys)
    add_service_commands(sub)

    # ---- the desk's commands live with the desk (desk/cli.py) ----
    from desk.cli import add_commands as add_desk_commands

    add_desk_commands(sub)

    p = sub.add_parser("demo", help="keys, six licences, QR codes and verification, end to end")
    p.add_argument("--out", default="demo-out")
    p.add_argument("--insecure-dev", action="store_true")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.command == "verify" and args.matter and not args.scenario:
        args.scenario = "window"
    try:
        return int(args.func(args))
    except UsageError as exc:
        print(f"certfree: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:  # a file or folder named on the command line is missing or unreadable
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"certfree: error: {where}{exc.strerror or type(exc).__name__} / 文件或文件夹无法读写", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:
        from sqlalchemy.exc import SQLAlchemyError

        from keys import KeyStoreError
        from wallet import WalletError

        if isinstance(exc, (KeyStoreError, WalletError)):  # a key folder or wallet that is not there
            print(f"certfree: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        if isinstance(exc, (sqlite3.Error, SQLAlchemyError)):  # a locked, full or damaged database
            zh, en = db_reason(exc)
            print(f"certfree: error: a database cannot be used ({en}) / 数据库无法使用（{zh}）", file=sys.stderr)
            return EXIT_USAGE
        return internal_error(exc)


def internal_error(exc: BaseException) -> int:
    """Last resort: a bug, not a user mistake. The exception's text may hold personal data,
    so only its type and where it was raised are printed."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    print(f"certfree: 内部错误 / internal error: {type(exc).__name__}{where}; "
          "请将此行报告给技术支持 / please report this line", file=sys.stderr)
    return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
