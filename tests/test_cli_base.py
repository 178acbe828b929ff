"""The command line's shared plumbing (keys/cli_base.py), each helper held to what it
prints or returns: the person at the desk reads these lines."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError as SQLAlchemyOperationalError

from keys.cli_base import (
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_USAGE,
    UsageError,
    db_reason,
    internal_error,
    outside_source,
    pad,
    parse_time,
    read_json,
    render_failure,
    run,
)
from verifier import VerificationFailed
from verifier._errors import ClaimMissing, SignatureInvalid


def test_pad_counts_a_chinese_character_as_two_columns() -> None:
    assert pad("ab", 5) == "ab   "
    assert pad("旅馆", 5) == "旅馆 "
    assert pad("旅馆ab", 5) == "旅馆ab"  # already wider: nothing added, nothing cut
    assert pad("ｆ", 3) == "ｆ "  # a fullwidth letter is two columns too


def test_a_time_without_an_offset_is_china_time() -> None:
    assert parse_time(None) is None
    china = parse_time("2026-06-01T10:00:00")
    assert china == int(dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.timezone.utc).timestamp())
    assert parse_time("2026-06-01T10:00:00+00:00") == china + 8 * 3600
    with pytest.raises(UsageError) as info:
        parse_time("tomorrow", "--since")
    assert str(info.value) == "--since: not an ISO 8601 time: 'tomorrow' / 不是 ISO 8601 时间"


def test_a_json_file_that_cannot_be_read_names_the_option(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text('{"name": "李华"}', "utf-8")
    assert read_json(good, "--claims") == {"name": "李华"}
    bad = tmp_path / "bad.json"
    bad.write_text("{", "utf-8")
    for path, kind in ((bad, "JSONDecodeError"), (tmp_path / "absent.json", "FileNotFoundError")):
        with pytest.raises(UsageError) as info:
            read_json(path, "--claims")
        assert str(info.value) == f"--claims {path}: cannot read JSON ({kind}) / 无法读取 JSON 文件 {path}"


@pytest.mark.parametrize(
    ("message", "zh", "en"),
    [
        ("database is locked", "被其他程序占用", "in use by another program"),
        ("the database is busy", "被其他程序占用", "in use by another program"),
        ("file is not a database", "不是数据库文件或已损坏", "not a database file, or damaged"),
        ("database disk image is malformed", "不是数据库文件或已损坏", "not a database file, or damaged"),
        ("attempt to write a readonly database", "只读", "read-only"),
        ("the file system is read-only", "只读", "read-only"),
        ("unable to open database file", "无法打开", "cannot be opened"),
        ("disk I/O error", "磁盘已满或出错", "disk full or failing"),
        ("database or disk is full", "磁盘已满或出错", "disk full or failing"),
        ("no such table: licences", "数据库错误", "database error (OperationalError)"),
    ],
)
def test_a_database_error_is_named_by_its_kind_never_its_text(message: str, zh: str, en: str) -> None:
    assert db_reason(sqlite3.OperationalError(message)) == (zh, en)


def test_a_wrapped_driver_error_is_read_through_its_orig() -> None:
    from sqlalchemy.exc import OperationalError

    wrapped = OperationalError("INSERT INTO licences VALUES (?)", ("王小明",), sqlite3.OperationalError("database is locked"))
    assert db_reason(wrapped) == ("被其他程序占用", "in use by another program")


def test_a_folder_inside_certfree_s_own_packages_is_refused(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parent.parent
    outside_source(str(tmp_path / "keys"), "--dir")  # a folder of one's own: fine
    for folder in (root / "keys", root / "wallet" / "phone", root / "desk"):
        with pytest.raises(UsageError) as info:
            outside_source(str(folder), "--dir")
        name = folder.relative_to(root).parts[0]
        assert str(info.value).startswith(f"--dir {folder}: inside certfree's own {name}/ package; use a folder of your own")
        assert f"位于 certfree 源代码的 {name}/ 包内" in str(info.value)


def test_a_refusal_is_printed_one_line_a_check_in_both_languages() -> None:
    failed = VerificationFailed([SignatureInvalid(), ClaimMissing(field="age_over_18", detail="the view has no such claim")])
    assert render_failure(failed) == (
        "未通过 / REJECTED\n"
        f"  x signature_invalid: {SignatureInvalid.message_zh} / {SignatureInvalid.message}\n"
        f"  x claim_missing [age_over_18]: {ClaimMissing.message_zh} / {ClaimMissing.message} (the view has no such claim)"
    )


def test_a_wrapped_driver_error_is_named_by_the_driver_s_words_not_the_statement_s() -> None:
    """SQLAlchemy's text holds the statement too: a table named ``busy_desks`` must not make
    a damaged file read as "in use"."""
    from sqlalchemy.exc import DatabaseError

    wrapped = DatabaseError("SELECT * FROM busy_desks", None, sqlite3.DatabaseError("file is not a database"))
    assert "busy" in str(wrapped)
    assert db_reason(wrapped) == ("不是数据库文件或已损坏", "not a database file, or damaged")


def test_the_refusal_of_a_source_folder_is_whole_in_both_languages() -> None:
    root = Path(__file__).resolve().parent.parent
    with pytest.raises(UsageError) as info:
        outside_source(str(root / "scenarios" / "mine"), "--out")
    assert str(info.value) == (
        f"--out {root / 'scenarios' / 'mine'}: inside certfree's own scenarios/ package; use a folder of your own "
        f"(mkdir try && cd try) / --out {root / 'scenarios' / 'mine'} 位于 certfree 源代码的 scenarios/ 包内，"
        "请使用自己的文件夹（如 mkdir try && cd try）")


def _raise_deep(error: BaseException) -> None:
    raise error  # the line internal_error names: the innermost frame


def test_an_internal_error_names_the_innermost_frame_and_nothing_else(capsys: pytest.CaptureFixture[str]) -> None:
    def command(args: object) -> int:
        _raise_deep(RuntimeError("王小明 110101199001011234"))
        return 0

    line = _raise_deep.__code__.co_firstlineno + 1
    assert run(command, None) == EXIT_INTERNAL
    assert capsys.readouterr() == ("", f"certfree: 内部错误 / internal error: RuntimeError at test_cli_base.py:{line}; "
                                       "请将此行报告给技术支持 / please report this line\n")


def test_an_internal_error_without_a_traceback_names_its_type_only(capsys: pytest.CaptureFixture[str]) -> None:
    assert internal_error(KeyError("110101199001011234")) == EXIT_INTERNAL
    assert capsys.readouterr().err == "certfree: 内部错误 / internal error: KeyError; 请将此行报告给技术支持 / please report this line\n"


@pytest.mark.parametrize(("error", "says"), [
    (FileNotFoundError(2, "No such file or directory", "/srv/desk/a.jws"), "/srv/desk/a.jws: No such file or directory"),
    (ConnectionRefusedError(111, "Connection refused"), "Connection refused"),
    (OSError(), "OSError"),
    (IsADirectoryError(21, "Is a directory", ""), "Is a directory"),
], ids=["named-file", "no-file", "no-reason", "empty-name"])
def test_an_os_error_is_a_usage_error_naming_the_file_when_there_is_one(
        capsys: pytest.CaptureFixture[str], error: OSError, says: str) -> None:
    def command(args: object) -> int:
        raise error

    assert run(command, None) == EXIT_USAGE
    assert capsys.readouterr() == ("", f"certfree: error: {says} / 文件或文件夹无法读写\n")


@pytest.mark.parametrize("error", [
    sqlite3.OperationalError("database is locked"),
    SQLAlchemyOperationalError("UPDATE licences SET state = ?", ("revoked",), sqlite3.OperationalError("database is locked")),
], ids=["sqlite3", "sqlalchemy"])
def test_a_database_error_that_reaches_run_is_a_usage_error_naming_its_kind(
        capsys: pytest.CaptureFixture[str], error: Exception) -> None:
    def command(args: object) -> int:
        raise error

    assert run(command, None) == EXIT_USAGE
    assert capsys.readouterr() == ("", "certfree: error: a database cannot be used (in use by another program) / "
                                       "数据库无法使用（被其他程序占用）\n")


def test_run_returns_the_command_s_own_code_as_an_int() -> None:
    assert run(lambda args: EXIT_REJECTED if args else EXIT_OK, True) == 1
    assert run(lambda args: True, None) == 1 and type(run(lambda args: True, None)) is int


def test_a_json_file_is_read_as_utf8_whatever_the_locale(tmp_path: Path) -> None:
    """A desk whose locale is not UTF-8 (a C locale, a Windows GBK one) still reads the
    claims file certfree wrote: JSON files are UTF-8 (RFC 8259)."""
    import locale

    claims = tmp_path / "claims.json"
    claims.write_text('{"name": "李华"}', "utf-8")
    held = locale.setlocale(locale.LC_CTYPE)
    locale.setlocale(locale.LC_CTYPE, "C")
    try:
        assert read_json(claims, "--claims") == {"name": "李华"}
    finally:
        locale.setlocale(locale.LC_CTYPE, held)


def test_an_internal_error_names_the_file_of_the_innermost_frame(capsys: pytest.CaptureFixture[str]) -> None:
    """A bug deep in a library is placed where it was raised (pathlib here), not where the
    command called it."""
    assert run(lambda args: len(Path(args).name), 12345) == EXIT_INTERNAL
    err = capsys.readouterr().err
    assert re.fullmatch(r"certfree: 内部错误 / internal error: TypeError at pathlib\.py:\d+; "
                        r"请将此行报告给技术支持 / please report this line\n", err), err
