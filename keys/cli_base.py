"""The command line's shared plumbing, below every role's commands: exit codes, usage
errors, time and JSON file arguments, what a database error means, the refusal of folders
inside certfree's own packages, running a command to its exit code, the last-resort internal
error, terminal columns."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import sys
from pathlib import Path
from typing import Any, Callable

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


SOURCE_PACKAGES = ("keys", "issuer", "wallet", "verifier", "scenarios", "desk")


def outside_source(folder: str, option: str) -> None:
    """UsageError if ``folder`` lies inside one of certfree's own packages: key material and
    wallets never go into the source tree (``--dir keys`` run from the repository root would
    write private keys into the ``keys`` package)."""
    target = Path(folder).resolve()
    root = Path(__file__).resolve().parent.parent  # the packages lie side by side
    for name in SOURCE_PACKAGES:
        home = root / name
        if target == home or home in target.parents:
            raise UsageError(f"{option} {folder}: inside certfree's own {name}/ package; use a folder of your own "
                             f"(mkdir try && cd try) / {option} {folder} 位于 certfree 源代码的 {name}/ 包内，"
                             "请使用自己的文件夹（如 mkdir try && cd try）")


def render_failure(exc: Any) -> str:
    """A refused verification (``verifier.VerificationFailed``) for the terminal: each failure's code, field, Chinese and English."""
    lines = ["未通过 / REJECTED"]
    for failure in exc.failures:
        field = f" [{failure.field}]" if failure.field else ""
        detail = f" ({failure.detail})" if failure.detail else ""  # what exactly, for the engineer
        lines.append(f"  x {failure.code}{field}: {failure.message_zh} / {failure.message}{detail}")
    return "\n".join(lines)


def internal_error(exc: BaseException) -> int:
    """Last resort: a bug, not a user mistake. The exception's text may hold personal data,
    so only its type and where it was raised are printed."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    print(f"certfree: 内部错误 / internal error: {type(exc).__name__}{where}; "
          "请将此行报告给技术支持 / please report this line", file=sys.stderr)
    return EXIT_INTERNAL


def run(command: Callable[[Any], int], args: Any) -> int:
    """Run one command and turn what it raised into its exit code and one line on stderr:
    2 for a usage error, a file or folder that cannot be read, a key store or wallet that is
    not there, a setting that cannot be used or a database that cannot be used; 3 for a bug."""
    try:
        return int(command(args))
    except UsageError as exc:
        print(f"certfree: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:  # a file or folder named on the command line is missing or unreadable
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"certfree: error: {where}{exc.strerror or type(exc).__name__} / 文件或文件夹无法读写", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:
        from sqlalchemy.exc import SQLAlchemyError

        from issuer.service.config import ConfigError
        from keys import KeyStoreError
        from wallet import WalletError

        # a key folder or wallet that is not there, a setting that cannot be used
        if isinstance(exc, (KeyStoreError, WalletError, ConfigError)):
            print(f"certfree: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        if isinstance(exc, (sqlite3.Error, SQLAlchemyError)):  # a locked, full or damaged database
            zh, en = db_reason(exc)
            print(f"certfree: error: a database cannot be used ({en}) / 数据库无法使用（{zh}）", file=sys.stderr)
            return EXIT_USAGE
        return internal_error(exc)
