"""Running it as a service, in process: /healthz and /readyz with each failing check named,
the request id, the JSON log lines, the metrics a request, an issuance and a verification
leave, a database that cannot be opened answering 503, and secrets read from *_FILE."""

from __future__ import annotations

import io
import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

import logscan
from keys import KeyDir
from service_fixtures import KEY_PASSPHRASE, auth, csrf, enrol, issue_via_api, make_app, phone_of, service_keys

__all__ = ["service_keys"]


def samples(app: Flask, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """labels -> value of the metric sample ``name``, as /metrics serves it."""
    text = app.test_client().get("/metrics").get_data(as_text=True)
    return {tuple(sorted(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples if s.name == name}


def ready(app: Flask) -> tuple[int, dict[str, Any]]:
    response = app.test_client().get("/readyz")
    assert response.headers["Cache-Control"] == "no-store"  # a probe sees the process as it is now
    return response.status_code, response.json


def unopenable_sqlite(tmp_path: Path) -> str:
    """A SQLite URL whose "file" is a folder: SQLite cannot open it (as a lost mount)."""
    folder = tmp_path / "unopenable" / "certfree.db"
    folder.mkdir(parents=True)
    return f"sqlite:///{folder}"


@pytest.fixture
def own_keys(tmp_path: Path, service_keys: Path) -> Path:
    """A copy of the session's keys that a test may damage."""
    return Path(shutil.copytree(service_keys, tmp_path / "own-keys"))


def test_healthz_answers_and_readyz_is_ready(tmp_path: Path, service_keys: Path) -> None:
    app = make_app(tmp_path, service_keys)
    health = app.test_client().get("/healthz")
    assert health.status_code == 200 and health.json == {"status": "ok"}
    assert health.headers["Cache-Control"] == "no-store"
    status, body = ready(app)
    assert status == 200 and body["status"] == "ready" and body["failed"] == []
    assert [c["check"] for c in body["checks"]] == ["database", "secret_key", "signing_keys", "trust_list"]


@pytest.mark.parametrize("damage, code", [
    ("database", "database_unavailable"),
    ("secret", "secret_key_missing"),
    ("passphrase", "signing_keys_unusable"),
    ("trust_list", "trust_list_invalid"),
    ("expiring", "trust_list_expiring"),
])
def test_readyz_names_the_failing_check(tmp_path: Path, own_keys: Path, damage: str, code: str) -> None:
    extra: dict[str, Any] = {}
    if damage == "database":
        extra["DATABASE_URL"] = unopenable_sqlite(tmp_path)
    app = make_app(tmp_path, own_keys) if damage != "database" else None
    if damage == "database":
        from app import create_app

        app = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path / "i"), "KEYS_DIR": str(own_keys),
                          "KEY_PASSPHRASE": KEY_PASSPHRASE, "SECRET_KEY": "test secret key", **extra})
    elif damage == "secret":
        app.config["SECRET_KEY"] = None
    elif damage == "passphrase":
        app.config["KEY_PASSPHRASE"] = "not the passphrase"
    elif damage == "trust_list":  # another root's list: it does not verify against the pinned root
        other = KeyDir.init(tmp_path / "other", passphrase=b"another passphrase")
        (own_keys / "trust_list.jws").write_text(other.trust_list())
    elif damage == "expiring":  # demand more days than the issuer keys have left
        from keys.store import ISSUER_KEY_YEARS

        app.config["READY_TRUST_MIN_DAYS"] = (ISSUER_KEY_YEARS + 1) * 365
    assert app is not None
    status, body = ready(app)
    assert status == 503 and body["status"] == "not_ready" and body["failed"] == [code]
    failed = [c for c in body["checks"] if not c["ok"]]
    assert failed[0]["error"] == code and failed[0]["message"] and failed[0]["message_zh"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in failed[0]["message_zh"])


def test_signing_keys_that_cannot_be_unlocked_answer_503_not_500(tmp_path: Path, own_keys: Path) -> None:
    from issuer.service import db, issuing

    app = make_app(tmp_path, own_keys)
    with app.app_context(), db.sessions(app)() as session:
        _op, token = issuing.create_operator(session, "op", "household_registration", now=time.time())
        session.commit()
    resident = enrol(app, "resident-a")
    app.config["KEY_PASSPHRASE"] = "not the passphrase"  # as a key file the passphrase no longer opens
    response = issue_via_api(app.test_client(), token, resident, "id_card", "keys-unusable-1")
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.json["error"] == "signing_keys_unusable"
    assert "签发密钥" in response.json["message_zh"]
    assert response.headers["Retry-After"] == "10"


def test_request_id_is_taken_when_plain_and_made_otherwise(tmp_path: Path, service_keys: Path) -> None:
    client = make_app(tmp_path, service_keys).test_client()
    assert client.get("/healthz", headers={"X-Request-ID": "edge-7f3a.01_B"}).headers["X-Request-ID"] == "edge-7f3a.01_B"
    made = set()
    for given in ("x" * 65, "bad id", "a\u00e9b", "-leading-dash", "id;rm", ""):
        answer = client.get("/healthz", headers={"X-Request-ID": given}).headers["X-Request-ID"]
        assert answer != given and len(answer) == 32 and int(answer, 16) >= 0
        made.add(answer)
    assert len(made) == 6  # a new one each time


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The root logger's records as production writes them: JSON, with the request id."""
    from issuer.service.logs import JsonFormatter, RequestIdFilter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    logging.getLogger().addHandler(handler)
    try:
        yield stream
    finally:
        logging.getLogger().removeHandler(handler)


def test_log_lines_are_json_and_carry_the_request_id(tmp_path: Path, service_keys: Path, json_log: io.StringIO) -> None:
    """A request that fails twice over (its database cannot be opened, then a server error
    with a traceback): every line it logs is one JSON object holding its request id."""
    from app import create_app

    app = create_app({"INSTANCE_PATH": str(tmp_path / "i"), "KEYS_DIR": str(service_keys), "SECRET_KEY": "test secret key",
                      "DATABASE_URL": unopenable_sqlite(tmp_path), "PROPAGATE_EXCEPTIONS": False})

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("a bug")

    client = app.test_client()
    unavailable = client.get("/status/index.json", headers={"X-Request-ID": "req-unavailable-1"})
    assert unavailable.status_code == 503
    crashed = client.get("/boom", headers={"X-Request-ID": "req-crash-2"})
    assert crashed.status_code == 500 and crashed.headers["X-Request-ID"] == "req-crash-2"
    lines = json_log.getvalue().splitlines()
    records = [json.loads(line) for line in lines]
    assert all(isinstance(r, dict) for r in records)
    by_id = {r["request_id"]: r for r in records}
    assert by_id["req-unavailable-1"]["level"] == "WARNING" and "database unavailable" in by_id["req-unavailable-1"]["message"]
    assert "Traceback" in by_id["req-crash-2"]["exc_info"] and by_id["req-crash-2"]["level"] == "ERROR"
    assert logscan.scan_lines(lines) == []


def test_metrics_count_routes_issuance_and_verifications(tmp_path: Path, service_keys: Path) -> None:
    from issuer.service import context
    from issuer.service import db, issuing
    from verifier import VerificationFailed

    app = make_app(tmp_path, service_keys)
    client = app.test_client()
    with app.app_context(), db.sessions(app)() as session:
        _op, token = issuing.create_operator(session, "op-metrics", "household_registration", now=time.time())
        session.commit()
    before_requests = samples(app, "certfree_http_requests_total")
    before_issued = samples(app, "certfree_licences_issued_total")
    before_checks = samples(app, "certfree_verifications_total")
    before_fails = samples(app, "certfree_verification_failures_total")

    resident = enrol(app, "metrics-resident")
    licence = issue_via_api(client, token, resident, "id_card", "metrics-0001")
    assert licence.status_code == 201
    assert client.get("/status/abcdef123456.jws").status_code == 404  # a raw path that is no route
    phone = phone_of(app, "metrics-resident")
    code = phone.code("id_card", "internet_cafe")
    with app.app_context():
        desk = context.desk_verifier()
        assert desk.verify(code, scenario="internet_cafe").licence_type == "id_card"
        with pytest.raises(VerificationFailed) as replayed:
            desk.verify(code, scenario="internet_cafe")
    replay_codes = {f.code for f in replayed.value.failures}

    def grew(after: dict[Any, float], before: dict[Any, float], **labels: str) -> float:
        key = tuple(sorted(labels.items()))
        return after.get(key, 0.0) - before.get(key, 0.0)

    requests = samples(app, "certfree_http_requests_total")
    assert grew(requests, before_requests, route="/api/v1/licences", method="POST", status="201") == 1
    assert grew(requests, before_requests, route="/status/<list_id>.jws", method="GET", status="404") == 1
    assert not any("abcdef123456" in value for labels in requests for _k, value in labels)  # the rule, not the path
    assert grew(samples(app, "certfree_licences_issued_total"), before_issued, licence_type="id_card") == 1
    checks = samples(app, "certfree_verifications_total")
    assert grew(checks, before_checks, scenario="internet_cafe", outcome="accepted") == 1
    assert grew(checks, before_checks, scenario="internet_cafe", outcome="refused") == 1
    fails = samples(app, "certfree_verification_failures_total")
    assert replay_codes and all(grew(fails, before_fails, scenario="internet_cafe", code=c) == 1 for c in replay_codes)
    latency = samples(app, "certfree_http_request_duration_seconds_count")
    assert latency[(("method", "POST"), ("route", "/api/v1/licences"))] >= 1
    ages = samples(app, "certfree_status_list_age_seconds")
    assert ages and all(0 <= age < app.config["STATUS_RESIGN_SECONDS"] + 60 for age in ages.values())


def test_database_that_cannot_be_opened_answers_503_with_retry_after(tmp_path: Path, service_keys: Path) -> None:
    from app import create_app
    from issuer.service.errors import MESSAGES

    app = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path / "i"), "KEYS_DIR": str(service_keys),
                      "SECRET_KEY": "test secret key", "DATABASE_URL": unopenable_sqlite(tmp_path),
                      "DATABASE_RETRY_AFTER": 7})
    client = app.test_client()
    before = samples(app, "certfree_database_errors_total")
    status = client.get("/status/index.json")
    assert status.status_code == 503 and status.headers["Retry-After"] == "7"
    assert status.json["error"] == "database_unavailable" and status.json["message_zh"]
    api = client.get("/api/v1/licences", headers=auth("cfo_0123.abcdefghij"))
    assert api.status_code == 503 and api.json["error"] == "database_unavailable"
    page = client.post("/wallet/login", data={"username": "someone", "password": "whatever-pass",
                                              "csrf_token": csrf(client, "/wallet/login")})
    text = page.get_data(as_text=True)
    assert page.status_code == 503 and page.headers["Retry-After"] == "7" and page.mimetype == "text/html"
    assert MESSAGES["database_unavailable"].zh in text and MESSAGES["database_unavailable"].en in text
    after = samples(app, "certfree_database_errors_total")
    kind = (("kind", "unavailable"),)
    assert after[kind] - before.get(kind, 0.0) == 3
    assert "Traceback" not in text


def test_secrets_are_read_from_files_and_never_made(tmp_path: Path, service_keys: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from app import create_app
    from issuer.service.config import ConfigError

    secret_file = tmp_path / "session-secret"
    secret_file.write_text("a session secret from a mounted file\n")
    passphrase_file = tmp_path / "key-passphrase"
    passphrase_file.write_text(KEY_PASSPHRASE + "\n")
    instance = tmp_path / "instance"
    monkeypatch.setenv("CERTFREE_INSTANCE_PATH", str(instance))
    monkeypatch.setenv("CERTFREE_KEYS_DIR", str(service_keys))
    monkeypatch.setenv("CERTFREE_DATABASE_URL", f"sqlite:///{tmp_path / 'certfree.db'}")
    for name in ("CERTFREE_SECRET_KEY", "CERTFREE_KEY_PASSPHRASE"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name + "_FILE", raising=False)

    bare = create_app()  # nothing given: nothing made
    assert bare.config["SECRET_KEY"] is None and not (instance / "secret_key").exists()
    assert sorted(p.name for p in instance.iterdir()) == []

    monkeypatch.setenv("CERTFREE_SECRET_KEY_FILE", str(secret_file))
    monkeypatch.setenv("CERTFREE_KEY_PASSPHRASE_FILE", str(passphrase_file))
    app = create_app()
    assert app.config["SECRET_KEY"] == "a session secret from a mounted file"
    assert app.config["KEY_PASSPHRASE"] == KEY_PASSPHRASE
    from issuer.service import db

    db.upgrade(app)
    assert ready(app)[0] == 200  # the keys unlock with the passphrase from the file

    monkeypatch.setenv("CERTFREE_SECRET_KEY", "also given directly")
    with pytest.raises(ConfigError, match="CERTFREE_SECRET_KEY_FILE"):
        create_app()
    monkeypatch.delenv("CERTFREE_SECRET_KEY")
    monkeypatch.setenv("CERTFREE_SECRET_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="cannot|No such file"):
        create_app()


def test_operations_doc_lists_every_setting() -> None:
    """docs/operations.md names every CERTFREE_* variable the code, the Makefile, CI and the
    tests read, and the ones the service builds from its tables (the _FILE forms too)."""
    import re

    from issuer.service.config import ENV_KEYS, NUMBER_ENV, SECRET_ENV

    root = Path(__file__).resolve().parent.parent
    sources = [p for folder in ("app.py", "keys", "issuer", "wallet", "verifier", "scenarios", "desk", "tests", "Makefile", ".ci")
               for p in ([root / folder] if (root / folder).is_file() else (root / folder).rglob("*"))
               if p.is_file() and p.suffix in ("", ".py", ".js", ".sh") and "node_modules" not in p.parts]
    read = {name for path in sources for name in re.findall(r"CERTFREE_[A-Z0-9_]*[A-Z0-9]", path.read_text("utf-8", "replace"))}
    built = set(ENV_KEYS) | set(NUMBER_ENV) | {f"{name}_FILE" for name in SECRET_ENV}
    assert {"CERTFREE_DATABASE_URL", "CERTFREE_SECRET_KEY_FILE", "CERTFREE_DATABASE_STATEMENT_TIMEOUT"} <= read | built
    doc = (root / "docs" / "operations.md").read_text("utf-8")
    named = set(re.findall(r"CERTFREE_[A-Z0-9_]*[A-Z0-9]", doc))
    assert sorted((read | built) - named) == []
