"""A pytest plugin: every log record of the whole test run, at every level, goes to one file,
and at the end the run fails if any line holds personal data or a secret.

What counts (see :func:`needles` and :data:`PATTERNS`):

* personal data: the value of every personal field (:data:`PERSONAL_FIELDS`) of every example
  claim set, ``issuer.schemas.example(t)`` for all six licence types and ``minor_example()``:
  names, ID numbers, addresses, birth dates, plates, VINs, serial numbers. Each is also looked
  for as it appears JSON-escaped (``\\u674e``), URL-encoded and as a bytes repr (``\\xe6``);
* the passwords and passphrases the tests use: the named constants, imported, plus every
  string literal the test sources assign to a password / passphrase / secret name (read from
  the sources with :mod:`ast`, so a new test's passphrase is covered without a copy here);
* shapes no legitimate log line has: a certfree QR text (``CF1:`` + base45), a compact JWS
  (a credential, a view, a presentation), an operator API token (``cfo_<id>.<secret>``), a
  Bearer token, the session cookie (by name, and Flask's signed-cookie shape), a PEM private
  key, a private JWK (``"d": ...``) and any 18-character ID number with a valid check digit.

Scope: the ``logging`` records of the pytest process (root at DEBUG; a logger that sets its
own higher level, e.g. SQLAlchemy's, keeps it, as in production) and every warning pytest
records. It does not see stdout/stderr or subprocesses' logs.

A test that documents a known leak (a strict xfail) takes the ``held_log`` fixture: its
records are kept out of run.log and the test scans them itself."""

from __future__ import annotations

import ast
import json
import logging
import os
import re
import time
import urllib.parse
from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
LOGS = TESTS.parent / ".pytest-logs"
#: Under pytest-xdist each worker writes its own file (run-gw0.log, ...); the controller,
#: which runs no test, scans them all when the workers are done.
WORKER = os.environ.get("PYTEST_XDIST_WORKER")
LOG_FILE = LOGS / (f"run-{WORKER}.log" if WORKER else "run.log")

#: Claim fields whose value identifies a person or their property. Every other field of the six
#: licence types is in NOT_PERSONAL_FIELDS (test_logscan checks that the two cover them all).
PERSONAL_FIELDS = frozenset({
    "name", "birth_date", "id_number", "address", "birthplace", "household_number",
    "file_number", "plate", "vin", "engine_number", "frame_number", "motor_number",
    "anti_theft_tag",
})
#: Closed lists, authorities, validity and registration dates, makes and models: the same for
#: many holders, and legitimately named in log lines (an authority, a scenario's rules).
NOT_PERSONAL_FIELDS = frozenset({
    "sex", "ethnicity", "nationality", "relationship", "household_type", "use_character",
    "vehicle_type", "vehicle_classes", "issuing_authority", "registration_authority",
    "valid_from", "valid_until", "registered_on", "first_issued", "issued_on", "brand",
    "model", "colour", "brand_model", "native_place",
})

#: A string literal bound to a name, keyword, dict key or setenv() variable matching this is
#: taken as a test secret (if it is at least MIN_SECRET_LENGTH long: "x", "w", "wallet" and
#: "resident" are also test passphrases, but too common as words to look for).
_SECRET_NAME = re.compile(r"pass(word|phrase)?(?![a-z])|secret", re.IGNORECASE)
MIN_SECRET_LENGTH = 10

_ID_NUMBER_SHAPE = r"(?<![0-9A-Za-z])[1-9][0-9]{5}(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9X](?![0-9A-Za-z])"
_B64 = r"[A-Za-z0-9_-]"


def _patterns() -> dict[str, str]:
    from issuer.service.config import defaults
    from issuer.service.security import TOKEN_PREFIX
    from keys.envelope import PREFIX

    cookie = defaults(Path("instance"))["SESSION_COOKIE_NAME"]
    return {
        "certfree QR text": re.escape(PREFIX) + r"[0-9A-Z $%*+\-./:]{20,}",
        "compact JWS or signed cookie": rf"eyJ{_B64}{{4,}}\.{_B64}*\.{_B64}{{16,}}",
        "compressed signed cookie": rf"\.eJ{_B64}{{8,}}\.{_B64}+\.{_B64}{{16,}}",
        "operator API token": re.escape(TOKEN_PREFIX) + rf"[0-9a-f]{{4,}}\.{_B64}{{8,}}",
        # only "Bearer " is consumed, so an operator token after it is still named as one
        "Bearer token": r"Bearer\s+(?=(?=[A-Za-z0-9_.~+/-]*[0-9])[A-Za-z0-9_.~+/-]{16,})",
        "session cookie": re.escape(cookie) + r"=[^;\s\"']",
        "PEM private key": r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----",
        "private JWK": rf"[\"']d[\"']\s*:\s*[\"']{_B64}{{16,}}",
        "ID number": _ID_NUMBER_SHAPE,
        # a credential passed in a URL, as an access log or a referrer would show it
        "credential in a query string": r"[?&](?:token|access_token|api_key|password|passphrase|secret|csrf_token|session)=[^&\s\"']",
    }


def _variants(value: str) -> Iterator[tuple[str, str]]:
    """``value`` as it may appear in a log line: as is, JSON-escaped, URL-encoded, bytes repr."""
    yield "", value
    yield " (JSON-escaped)", json.dumps(value)[1:-1]
    yield " (URL-encoded)", urllib.parse.quote(value)
    yield " (form-encoded)", urllib.parse.quote_plus(value)
    yield " (bytes repr)", repr(value.encode("utf-8"))[2:-1]


def personal_values() -> dict[str, str]:
    """label -> value, for every personal field of every example claim set."""
    from issuer.schemas import LICENCE_TYPES, example, minor_example

    found: dict[str, str] = {}
    sets = [(f"example {t}", example(t)) for t in LICENCE_TYPES] + [("minor example", minor_example())]
    for where, claims in sets:
        for field, value in claims.items():
            if field in PERSONAL_FIELDS and isinstance(value, str):
                found.setdefault(value, f"{where} {field}")
    return {label: value for value, label in found.items()}


def _literal(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)):
        value = node.value if isinstance(node.value, str) else node.value.decode("utf-8", "replace")
        return value if len(value) >= MIN_SECRET_LENGTH else None
    return None


def harvested_secrets(folder: Path = TESTS) -> dict[str, str]:
    """label -> value: string literals the test sources bind to a password/passphrase/secret."""
    found: dict[str, str] = {}

    def add(name: str, node: ast.AST | None, where: str) -> None:
        value = _literal(node)
        if value is not None and _SECRET_NAME.search(name):
            found.setdefault(value, f"test secret {name} ({where})")

    for path in sorted(folder.glob("*.py")):
        try:
            tree = ast.parse(path.read_text("utf-8"), str(path))
        except (OSError, SyntaxError):
            continue
        for node in ast.walk(tree):
            where = f"{path.name}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        add(target.id, node.value, where)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                add(node.target.id, node.value, where)
            elif isinstance(node, ast.keyword) and node.arg:
                add(node.arg, node.value, where)
            elif isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values):
                    if isinstance(key, ast.Constant) and isinstance(key.value, str):
                        add(key.value, value, where)
            elif isinstance(node, ast.Call) and len(node.args) >= 2:  # monkeypatch.setenv(NAME, value)
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    add(first.value, node.args[1], where)
            elif isinstance(node, ast.FunctionDef):  # def f(password="default")
                args = node.args.args[len(node.args.args) - len(node.args.defaults):]
                for arg, default in zip(args, node.args.defaults):
                    add(arg.arg, default, where)
    return {label: value for value, label in found.items()}


def secrets() -> dict[str, str]:
    """label -> value: the named secrets of the suite and the demo, then the harvested ones."""
    from conftest import PASSPHRASE, WALLET_PASSPHRASE
    from issuer.service.demo import DEMO_PASSWORD, DESK_PASSWORD
    from service_fixtures import KEY_PASSPHRASE, PASSWORD

    named = {
        "key passphrase (conftest)": PASSPHRASE.decode(),
        "wallet passphrase (conftest)": WALLET_PASSPHRASE.decode(),
        "service key passphrase": KEY_PASSPHRASE,
        "resident password (service tests)": PASSWORD,
        "demo resident password": DEMO_PASSWORD,
        "demo desk password": DESK_PASSWORD,
    }
    values = set(named.values())
    return {**named, **{k: v for k, v in harvested_secrets().items() if v not in values}}


def needles() -> dict[str, tuple[str, bool]]:
    """label -> (literal string to look for, whole word only), every variant of every value.

    A secret counts only as a whole word ("wallet pass" is a test passphrase; "wallet
    passphrase not set" is a fine log line). Personal data counts anywhere: Chinese text has
    no spaces, and an ID number inside a longer string is still an ID number."""
    found: dict[str, tuple[str, bool]] = {}
    for values, whole_word in ((personal_values(), False), (secrets(), True)):
        for label, value in values.items():
            for suffix, text in _variants(value):
                found.setdefault(text, (label + suffix, whole_word))
    return {label: (text, whole_word) for text, (label, whole_word) in found.items()}


@lru_cache(maxsize=1)
def _compiled() -> tuple[re.Pattern[str], dict[str, str]]:
    """One regex: every needle (longest first, so an address beats its own prefix), then the
    patterns; group name -> label."""
    labels: dict[str, str] = {}
    parts = []
    literal = sorted(needles().items(), key=lambda item: -len(item[1][0]))
    for i, (label, (text, whole_word)) in enumerate(literal):
        labels[f"n{i}"] = label
        pattern = re.escape(text)
        if whole_word:
            pattern = f"(?<![A-Za-z0-9]){pattern}(?![A-Za-z0-9])"
        parts.append(f"(?P<n{i}>{pattern})")
    for i, (label, pattern) in enumerate(_patterns().items()):
        labels[f"p{i}"] = label
        parts.append(f"(?P<p{i}>{pattern})")
    return re.compile("|".join(parts)), labels


def _valid_id_number(text: str) -> bool:
    from issuer.schemas import birth_date_from_id, id_check_digit

    try:
        birth_date_from_id(text)
    except ValueError:
        return False
    return id_check_digit(text[:17]) == text[17]


def line_hits(line: str) -> list[str]:
    """What ``line`` holds, by label (never the value), each label once."""
    regex, labels = _compiled()
    found: list[str] = []
    for match in regex.finditer(line):
        label = labels[match.lastgroup or ""]
        if label == "ID number" and not _valid_id_number(match.group()):
            continue
        if label not in found:
            found.append(label)
    return found


def scan_lines(lines: Iterable[str], name: str = "log") -> list[str]:
    hits = []
    for number, line in enumerate(lines, start=1):
        hits.extend(f"{name}:{number}: {what}" for what in line_hits(line))
    return hits


def scan_json_lines(lines: Iterable[str], name: str = "log") -> list[str]:
    """The service's own log lines (``certfree serve``: issuer/service/logs.py) as
    :func:`scan_lines` sees them, and more: each line must be one JSON object, each decoded
    string value is scanned too (a value JSON-escaped in the line is plain there), and an
    access line (``"logger": "gunicorn.access"``) must hold no query string at all, whatever
    it carries."""
    hits = []
    for number, line in enumerate(lines, start=1):
        where = f"{name}:{number}"
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if not isinstance(record, dict):
            hits.append(f"{where}: not one JSON object")
            hits.extend(f"{where}: {what}" for what in line_hits(line))
            continue
        found = line_hits(line)
        for value in record.values():
            if isinstance(value, str):
                found.extend(what for what in line_hits(value) if what not in found)
        if record.get("logger") == "gunicorn.access" and "?" in str(record.get("path", "")):
            found.append("query string in the access log")
        hits.extend(f"{where}: {what}" for what in found)
    return hits


def scan(path: Path) -> list[str]:
    """The lines of ``path`` that hold personal data or a secret, named by what they hold."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        return scan_lines(fh, path.name)


# ---- the plugin -----------------------------------------------------------------------

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _Hold(logging.Filter):
    """While ``records`` is a list, records are kept there instead of being written."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if self.records is None:
            return True
        self.records.append(record)
        return False


_handler: logging.Handler | None = None
_hold = _Hold()
_old_root_level = logging.WARNING
_started = 0.0


def _attach() -> None:
    """(Re-)attach the handler and open the root to DEBUG, should a test have undone either."""
    root = logging.getLogger()
    if _handler is not None and _handler not in root.handlers:
        root.addHandler(_handler)
    if root.level != logging.DEBUG:
        root.setLevel(logging.DEBUG)


def pytest_sessionstart(session: pytest.Session) -> None:
    global _handler, _old_root_level, _started
    _started = time.time()
    LOG_FILE.parent.mkdir(exist_ok=True)
    _handler = logging.FileHandler(LOG_FILE, mode="w", encoding="utf-8")
    _handler.setLevel(logging.DEBUG)
    _handler.setFormatter(logging.Formatter(FORMAT))
    _handler.addFilter(_hold)
    _old_root_level = logging.getLogger().level
    # PIL logs each PNG chunk it reads at DEBUG ("STREAM b'IDAT' 41 557": the chunk's name,
    # offset and length, never its content): thousands of lines a run (every QR image the
    # suite renders and reads back), with nothing a scan could find.
    logging.getLogger("PIL").setLevel(logging.INFO)
    _attach()
    logging.captureWarnings(True)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    _attach()


def pytest_warning_recorded(warning_message, when, nodeid, location) -> None:  # type: ignore[no-untyped-def]
    """pytest records warnings itself (so captureWarnings never sees them): log each one."""
    logging.getLogger("py.warnings").warning(
        "%s: %s:%s: %s: %s", nodeid or when, warning_message.filename, warning_message.lineno,
        warning_message.category.__name__, warning_message.message)


class PersonalDataLogged(AssertionError):
    """Held log records hold personal data or secrets (a strict xfail names this exception, so
    it fails for the leak it documents and for nothing else)."""


class HeldLog:
    def __init__(self, records: list[logging.LogRecord]) -> None:
        self.records = records

    def lines(self) -> list[str]:
        formatter = logging.Formatter(FORMAT)
        return [line for record in self.records for line in formatter.format(record).splitlines()]

    def hits(self) -> list[str]:
        return scan_lines(self.lines(), "held log")

    def assert_clean(self) -> None:
        hits = self.hits()
        if hits:
            raise PersonalDataLogged(f"{len(hits)} log lines hold personal data or secrets: {hits[:10]}")


@pytest.fixture
def held_log(request: pytest.FixtureRequest) -> Iterator[HeldLog]:
    """This test's log records, held out of run.log: for a test that proves a known leak (a
    strict xfail) and scans its own records with ``held_log.hits()``. Once the test is no
    longer marked xfail, its records are written to run.log after all."""
    records: list[logging.LogRecord] = []
    _hold.records = records
    try:
        yield HeldLog(records)
    finally:
        _hold.records = None
        if request.node.get_closest_marker("xfail") is None and _handler is not None:
            for record in records:
                _handler.handle(record)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _handler is None:
        return
    logging.captureWarnings(False)
    root = logging.getLogger()
    root.removeHandler(_handler)
    root.setLevel(_old_root_level)
    _handler.close()
    if WORKER:  # the controller scans this worker's file with the others
        return
    # this run's files: the controller's (or the only process's) and its workers'
    files = [LOG_FILE] + [p for p in sorted(LOGS.glob("run-gw*.log")) if p.stat().st_mtime >= _started]
    hits = [hit for path in files for hit in scan(path)]
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter:
        reporter.ensure_newline()
    if hits:
        if reporter:
            reporter.write_line(f"LOG SCAN FAILED: {len(hits)} log lines hold personal data or secrets:", red=True)
            for hit in hits[:20]:
                reporter.write_line("  " + hit, red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    elif reporter:
        size = sum(path.stat().st_size for path in files)
        names = ", ".join(path.name for path in files)
        reporter.write_line(f"log scan: {names} ({size} bytes) holds no personal data or secrets")
