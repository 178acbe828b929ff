"""The log scanner itself: it must find every planted secret and every piece of personal data
(else the end-of-run scan proves nothing), and pass the lines the suite legitimately logs."""

from __future__ import annotations

import json
import logging
import urllib.parse
import warnings
from pathlib import Path

import pytest

import logscan
from conftest import NOW, PASSPHRASE, WALLET_PASSPHRASE
from issuer import LICENCE_TYPES, example, issue
from issuer.schemas import id_check_digit, minor_example
from issuer.service.demo import DEMO_PASSWORD, DESK_PASSWORD
from keys import KeyDir
from logscan import LOG_FILE, PERSONAL_FIELDS, NOT_PERSONAL_FIELDS, line_hits, scan
from scenarios import get_policy
from service_fixtures import KEY_PASSPHRASE, PASSWORD
from wallet import Wallet, present


def test_scanner_finds_a_planted_id_number(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text(f"INFO fine\nWARNING resident {example('id_card')['id_number']} checked in\n", "utf-8")
    assert scan(log) == ["x.log:2: example id_card id_number"]


def test_every_field_of_every_licence_type_is_classified() -> None:
    """A new claim field must be put on one list or the other, so personal data is not missed."""
    fields = {name for lt in LICENCE_TYPES.values() for name in lt.fields}
    assert PERSONAL_FIELDS | NOT_PERSONAL_FIELDS == fields
    assert not PERSONAL_FIELDS & NOT_PERSONAL_FIELDS


EXAMPLES = [(t, example(t)) for t in LICENCE_TYPES] + [("minor", minor_example())]
PERSONAL = sorted({(t, f, v) for t, claims in EXAMPLES for f, v in claims.items() if f in PERSONAL_FIELDS}, key=str)


@pytest.mark.parametrize(("licence_type", "field", "value"), PERSONAL, ids=[f"{t}-{f}" for t, f, _ in PERSONAL])
def test_every_personal_example_value_is_caught(licence_type: str, field: str, value: str) -> None:
    assert line_hits(f"ERROR certfree.x: failed for {value} (retrying)")
    assert line_hits(f"ERROR certfree.x: {json.dumps({field: value})}")  # JSON, \\u-escaped
    assert line_hits(f"DEBUG werkzeug: body {urllib.parse.urlencode({field: value})}")  # a form body
    assert line_hits(f"DEBUG certfree.x: raw {value.encode('utf-8')!r}")  # bytes repr


def test_the_example_claim_sets_are_caught_whole() -> None:
    for _t, claims in EXAMPLES:
        assert line_hits(json.dumps(claims, ensure_ascii=False))
        assert line_hits(json.dumps(claims))


SECRETS = sorted(logscan.secrets().items())


@pytest.mark.parametrize(("label", "secret"), SECRETS, ids=[label for label, _ in SECRETS])
def test_test_passwords_and_passphrases_are_caught(label: str, secret: str) -> None:
    assert line_hits(f"INFO x: login with password={secret}") == [label]
    assert line_hits(f"DEBUG x: form {urllib.parse.urlencode({'password': secret})}")
    assert line_hits(f"DEBUG x: {json.dumps({'passphrase': secret})}")


def test_the_named_test_secrets_are_imported_not_copied() -> None:
    found = set(logscan.secrets().values())
    assert {PASSPHRASE.decode(), WALLET_PASSPHRASE.decode(), KEY_PASSPHRASE, PASSWORD, DEMO_PASSWORD, DESK_PASSWORD} <= found


def test_passphrases_are_found_in_the_test_sources() -> None:
    """Literals in the tests are harvested, not copied here: every CERTFREE_*PASSPHRASE a test
    sets and every passphrase= long enough to be looked for."""
    found = set(logscan.secrets().values())
    assert {"cli test passphrase", "wallet pass", "a long issuer passphrase", "status cli", "sync tests"} <= found
    assert not {"x", "w", "wallet", "resident", "short"} & found  # too short: too common as words


def test_id_numbers_with_a_valid_check_digit_are_caught_even_if_unknown() -> None:
    first17 = "44030619851231123"
    number = first17 + id_check_digit(first17)
    assert line_hits(f"WARNING x: holder {number} refused") == ["ID number"]
    wrong = first17 + ("0" if number[-1] != "0" else "1")
    assert line_hits(f"WARNING x: holder {wrong} refused") == []
    assert line_hits(f"WARNING x: {number}1 and a{number}") == []  # part of a longer token
    assert line_hits("INFO x: masked 110101********0038") == []  # the masked form is shown by design


@pytest.fixture(scope="module")
def qr_and_jws(keydir: KeyDir, holder: Wallet) -> tuple[str, str]:
    issued = issue(keydir, "id_card", example("id_card"), holder_jwk=holder.device_jwk(), now=NOW - 60)
    qr = present(holder, "hotel", prefer=get_policy("hotel").accepts, now=NOW).text
    return issued.credential, qr


def test_credentials_and_qr_texts_are_caught(qr_and_jws: tuple[str, str]) -> None:
    jws, qr = qr_and_jws
    assert qr.startswith("CF1:") and jws.startswith("eyJ")
    assert "certfree QR text" in line_hits(f"WARNING desk: scan failed: {qr}")
    assert "compact JWS or signed cookie" in line_hits(f"ERROR x: bad credential {jws}")
    assert "compact JWS or signed cookie" in line_hits(f"ERROR x: {json.dumps({'credential': jws})}")


@pytest.mark.parametrize(("line", "label"), [
    ("Authorization: Bearer cfo_0123456789abcdef.s3cr3ts3cr3ts3cr3t", "operator API token"),
    ("token=cfo_3f2a9c0d1e4b5a69.Zx-8kQ_3vN0pLr7sT2uW9yB4cE6fH1jM5nA8dG0iK3o", "operator API token"),
    ("Authorization: Bearer abcdefgh12345678ijkl", "Bearer token"),
    ("Cookie: certfree_session=eyJjc3JmIjoi.aGVsbG8.c2ln", "session cookie"),
    ("Set-Cookie: certfree_session=.eJwlzDEKgDAMAMC_ZHZwdvMjJbShBmJTkg4i_t2C640xqbR.Zx8kQw.3vN0pLr7sT2uW9yB4cE6fH1jM5nA; HttpOnly",
     "session cookie"),
    ("session .eJwlzDEKgDAMAMC_ZHZwdvMjJbShBmJTkg4i_t2C640xqbR.Zx8kQw.3vN0pLr7sT2uW9yB4cE6fH1jM5nA",
     "compressed signed cookie"),
    ("-----BEGIN PRIVATE KEY-----", "PEM private key"),
    ("-----BEGIN ENCRYPTED PRIVATE KEY-----", "PEM private key"),
    ("-----BEGIN EC PRIVATE KEY-----", "PEM private key"),
    ('jwk {"crv": "Ed25519", "d": "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A", "kty": "OKP"}', "private JWK"),
    ('"GET /wallet/sync?token=abc123 HTTP/1.1" 200', "credential in a query string"),
    ("referer https://city.example/login?next=/&password=hunter22", "credential in a query string"),
])
def test_secret_shapes_are_caught(line: str, label: str) -> None:
    assert label in line_hits(line)


@pytest.mark.parametrize("line", [
    "2026-11-25 05:56:01,123 INFO alembic.runtime.migration: Running upgrade  -> 0001, initial schema",
    "2026-11-25 05:56:01,123 DEBUG alembic.runtime.migration: new branch insert 0001",
    "WARNING certfree.keys: using UNENCRYPTED development key root.key.pem (--insecure-dev)",
    "WARNING certfree.wallet: writing an UNENCRYPTED device key to /tmp/w/device.key.pem (--insecure-dev)",
    "ERROR issuer.service: Exception on /desk/register [POST]",
    "INFO x: wallet passphrase not set; CERTFREE_WALLET_PASSPHRASE is read from the environment",
    "INFO x: 401 for Bearer token (missing); cookie certfree_session not set",
    "INFO x: -----BEGIN PUBLIC KEY-----",
    'INFO x: jwk {"crv": "Ed25519", "kty": "OKP", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}',
    "INFO x: licence 6f1c2a5e-0b7d-4c1e-9a3f-2d8e5b7c9a10 issued by 北京市公安局东城分局 (id_card, valid 2016-05-20..2036-05-20)",
    "INFO x: 居民身份证 汉族 男 中国 小型轿车 非营运 雅迪 DE3 白色 C1",
    "INFO x: kid sha256 5pG9n-Qn3Lk2TQzB1oC8dUq7vW0xY4zA6bE2fH9jK1m; idx 1234567890123456 jti 110101199003",
    "INFO x: verified at 1764000000 (2026-11-24T10:00:00+08:00), status list seq 17",
])
def test_ordinary_log_lines_are_not_flagged(line: str) -> None:
    assert line_hits(line) == []


def test_run_log_is_being_written() -> None:
    logging.getLogger("certfree.test").warning("log scan probe")
    for handler in logging.getLogger().handlers:
        handler.flush()
    assert "log scan probe" in LOG_FILE.read_text("utf-8")


def test_debug_records_reach_the_run_log() -> None:
    logging.getLogger("certfree.test").debug("log scan debug probe")
    for handler in logging.getLogger().handlers:
        handler.flush()
    assert "log scan debug probe" in LOG_FILE.read_text("utf-8")


def test_warnings_reach_the_run_log() -> None:
    """pytest records each warning itself (warnings.showwarning never runs inside a test), so
    logscan logs what pytest records; called here as pytest calls it, without a real warning
    (which would print in every run's summary)."""
    message = warnings.WarningMessage(UserWarning("log scan warning probe"), UserWarning, "x.py", 7)
    logscan.pytest_warning_recorded(message, "runtest", "tests/x.py::t", None)
    for handler in logging.getLogger().handlers:
        handler.flush()
    assert "x.py:7: UserWarning: log scan warning probe" in LOG_FILE.read_text("utf-8")
    assert logging.getLogger("py.warnings").getEffectiveLevel() <= logging.WARNING


def test_held_log_keeps_records_out_of_the_run_log(held_log: logscan.HeldLog) -> None:
    logging.getLogger("certfree.test").info("held probe, not for run.log")
    for handler in logging.getLogger().handlers:
        handler.flush()
    assert [r.getMessage() for r in held_log.records] == ["held probe, not for run.log"]
    assert held_log.hits() == []
    logging.getLogger("certfree.test").info("resident %s", example("id_card")["id_number"])
    assert held_log.hits() == ["held log:2: example id_card id_number"]
    held_log.records.pop()  # this test is not an xfail: what it holds goes to run.log at the end


def test_json_log_lines_are_scanned_as_the_service_writes_them() -> None:
    """``certfree serve``'s lines: one JSON object each, decoded values scanned, and an access
    line with a query string refused whatever the query holds."""
    name = example("id_card")["name"]
    clean = [
        '{"time": "t", "level": "INFO", "logger": "gunicorn.access", "request_id": "r-1", "message": "request", '
        '"method": "GET", "path": "/wallet/", "status": 200}',
        '{"time": "t", "level": "WARNING", "logger": "issuer.service.health", "message": "not ready: x", "request_id": "r-2"}',
    ]
    assert logscan.scan_json_lines(clean) == []
    dirty = [
        "plain text line",
        json.dumps({"logger": "gunicorn.access", "path": "/desk/?page=2", "message": "request"}),
        json.dumps({"logger": "issuer", "message": f"resident {name}"}),  # JSON-escaped in the line
        json.dumps({"logger": "issuer", "message": f"resident {name}"}, ensure_ascii=False),
    ]
    assert logscan.scan_json_lines(dirty) == [
        "log:1: not one JSON object",
        "log:2: query string in the access log",
        "log:3: example id_card name (JSON-escaped)",
        "log:3: example id_card name",
        "log:4: example id_card name",
    ]
