"""``certfree verify``: the desk's check on the command line, offline: one presentation or a
window matter's set, the trust and status lists' age, the replay database and the register."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sqlite3
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from issuer.cli import shown_db
from keys.cli_base import EXIT_OK, EXIT_REJECTED, UsageError, db_reason, parse_time, render_failure


TEXT_MAX = 64 * 1024  # a credential JWS or QR text is a few KB (the verifier refuses more than 16 KiB)


def read_text_file(path: str) -> str:
    """A credential or QR text file named on the command line (not an image), or ``-``: one
    read from standard input (a scanner's output piped in). Read up to TEXT_MAX, never whole."""
    if path == "-":
        data = sys.stdin.buffer.read(TEXT_MAX + 1)
    else:
        with open(path, "rb") as fh:  # OSError: the command line's usage error, naming the file and why
            data = fh.read(TEXT_MAX + 1)
    if len(data) > TEXT_MAX:
        shown = "standard input" if path == "-" else path
        raise UsageError(f"{shown} is too large for a credential or QR text / 内容过大，不是凭证或二维码文本")
    try:
        return data.decode("ascii").strip()
    except ValueError:
        raise UsageError(f"{path}: not a text file holding a credential or QR text (an image? use --image) / "
                         "不是存有凭证或二维码文本的文本文件（图片请用 --image）") from None


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


def cmd_verify(args: argparse.Namespace) -> int:
    from verifier import VerificationFailed

    if args.matter and not args.scenario:  # a window matter is checked at the window
        args.scenario = "window"
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


def add_command(sub: Any) -> None:
    """``certfree verify``."""
    from scenarios import SCENARIOS

    p = sub.add_parser("verify", help="verify a QR image, QR text or credential file, offline")
    p.add_argument("file", nargs="?", help="a file holding a credential JWS or QR text; - reads it from standard input")
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
