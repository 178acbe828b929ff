"""``certfree serve`` as an operator runs it: gunicorn with two workers, secrets from files,
JSON logs (the access log included) carrying the request id, metrics added up over the
workers from a folder emptied at each start, and a refusal to start that names the
database's host and the cause, or the missing secret."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

import logscan
from local_servers import free_port, wait_until_answers
from issuer import example
from service_fixtures import KEY_PASSPHRASE, service_keys

__all__ = ["service_keys"]
CERTFREE = str(Path(sys.executable).with_name("certfree"))


def _env(tmp_path: Path, keys: Path, **extra: str) -> dict[str, str]:
    secret = tmp_path / "secrets" / "session"
    passphrase = tmp_path / "secrets" / "passphrase"
    secret.parent.mkdir(exist_ok=True)
    secret.write_text("the session secret of this test service\n")
    passphrase.write_text(KEY_PASSPHRASE + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CERTFREE_", "PROMETHEUS_"))}
    env.update({
        "CERTFREE_INSTANCE_PATH": str(tmp_path / "instance"),
        "CERTFREE_DATABASE_URL": f"sqlite:///{tmp_path / 'certfree.db'}",
        "CERTFREE_KEYS_DIR": str(keys),
        "CERTFREE_SECRET_KEY_FILE": str(secret),
        "CERTFREE_KEY_PASSPHRASE_FILE": str(passphrase),
        **extra,
    })
    return env


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=30) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as refused:
        return refused.code, dict(refused.headers), refused.read()


class Served:
    def __init__(self, tmp_path: Path, env: dict[str, str], run: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.out = tmp_path / f"stdout-{run}.log"
        self.err = tmp_path / f"stderr-{run}.log"
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.proc = subprocess.Popen([CERTFREE, "serve", "--bind", f"127.0.0.1:{self.port}", "--workers", "2"],
                                         env=env, stdout=out, stderr=err)
        # until a worker answers (the schema upgrade, then gunicorn's boot)
        wait_until_answers(f"{self.url}/healthz", self.proc, seconds=120,
                           output=lambda: self.err.read_text("utf-8", "replace"))

    def stop(self) -> tuple[list[str], list[str]]:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)
        return self.out.read_text("utf-8").splitlines(), self.err.read_text("utf-8").splitlines()


def _metric(body: bytes, name: str, **labels: str) -> float:
    return sum(s.value for family in text_string_to_metric_families(body.decode())
               for s in family.samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))


def test_serve_logs_json_with_request_ids_and_adds_up_metrics_over_workers(tmp_path: Path, service_keys: Path) -> None:
    stale = tmp_path / "instance" / "prometheus" / "counter_999999.db"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"left by an earlier run")
    # readiness demands more days than the keys have: /readyz fails and logs why
    env = _env(tmp_path, service_keys, CERTFREE_READY_TRUST_MIN_DAYS="36500")
    served = Served(tmp_path, env, 1)
    try:
        assert not stale.exists()  # the metrics folder is emptied at each start
        before = _get(f"{served.url}/metrics")[2]  # after the start-up polls (a slow first answer may be asked twice)
        for _ in range(6):
            assert _get(f"{served.url}/healthz")[0] == 200
        status, headers, body = _get(f"{served.url}/readyz", {"X-Request-ID": "ops-test-readyz-1"})
        assert status == 503 and json.loads(body)["failed"] == ["trust_list_expiring"]
        assert headers["X-Request-ID"] == "ops-test-readyz-1"
        claims = example("id_card")
        query = urllib.parse.urlencode({"name": claims["name"], "id": claims["id_number"], "token": "cfo_0a1b2c3d.s3cr3tvalue12"})
        leaky = f"{served.url}/wallet/login?{query}"
        status, headers, _ = _get(leaky, {"Authorization": "Bearer cfo_0a1b2c3d.s3cr3tvalue12",
                                          "Cookie": "certfree_session=eyJhIjoiYiJ9.Zx8kQw.c2lnbmF0dXJlc2lnbmF0dXJl"})
        assert status == 200
        leaky_id = headers["X-Request-ID"]
        status, _, metrics = _get(f"{served.url}/metrics")
        assert status == 200
    finally:
        stdout, stderr = served.stop()
    # the metrics of both workers, added up
    healthz = ("certfree_http_requests_total", {"route": "/healthz", "status": "200"})
    assert _metric(metrics, healthz[0], **healthz[1]) - _metric(before, healthz[0], **healthz[1]) == 6
    assert _metric(metrics, "certfree_http_requests_total", route="/readyz", status="503") == 1
    assert _metric(metrics, "certfree_http_request_duration_seconds_count", route="/wallet/login") == 1
    # every line is one JSON object with nothing personal and no query string
    assert logscan.scan_json_lines(stdout, "stdout") == []
    assert logscan.scan_json_lines(stderr, "stderr") == []
    assert logscan.scan_lines([leaky]) != []  # the scan does catch what was in the URL
    access = [json.loads(line) for line in stdout]
    assert {a["logger"] for a in access} == {"gunicorn.access"}
    by_id = {a["request_id"]: a for a in access}
    assert by_id["ops-test-readyz-1"]["path"] == "/readyz" and by_id["ops-test-readyz-1"]["status"] == 503
    assert by_id[leaky_id]["path"] == "/wallet/login" and by_id[leaky_id]["method"] == "GET"
    assert all(a["request_id"] and a["method"] == "GET" and a["status"] in (200, 503) for a in access)
    # each line made from gunicorn's atoms as issuer.service.gunicorn_conf.AccessLogger cuts them
    assert all(a["remote"] == "127.0.0.1" and a["bytes"] > 0 and a["duration_ms"] >= 0 for a in access)
    assert {a["path"] for a in access} >= {"/healthz", "/readyz", "/metrics", "/wallet/login"}
    app_lines = [json.loads(line) for line in stderr]
    not_ready = [r for r in app_lines if r["logger"] == "issuer.service.health"]
    assert [(r["level"], r["request_id"]) for r in not_ready] == [("WARNING", "ops-test-readyz-1")]
    assert any(r["logger"] == "gunicorn.error" and "Booting worker" in r["message"] for r in app_lines)


def test_metrics_start_from_zero_at_each_start(tmp_path: Path, service_keys: Path) -> None:
    env = _env(tmp_path, service_keys)
    for run in (1, 2):
        served = Served(tmp_path, env, run)
        try:
            for _ in range(3):
                _get(f"{served.url}/metrics")
            metrics = _get(f"{served.url}/metrics")[2]
        finally:
            served.stop()
        # the three before this one, none from the first run (the start-up polls ask /healthz)
        assert _metric(metrics, "certfree_http_requests_total", route="/metrics", status="200") == 3


def test_serve_names_the_database_host_and_cause_when_it_cannot_start(tmp_path: Path, service_keys: Path) -> None:
    port = free_port()  # nothing listens there
    url = f"postgresql+psycopg://certfree:a-db-password-42@127.0.0.1:{port}/certfree"
    refused = subprocess.run([CERTFREE, "serve", "--bind", "127.0.0.1:9"], env=_env(tmp_path, service_keys, CERTFREE_DATABASE_URL=url),
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2
    assert f"127.0.0.1:{port}/certfree" in refused.stderr and "refused" in refused.stderr.lower()
    assert "a-db-password-42" not in refused.stderr and "Traceback" not in refused.stderr
    assert "无法使用数据库" in refused.stderr


def test_serve_refuses_to_start_without_a_session_secret(tmp_path: Path, service_keys: Path) -> None:
    env: dict[str, Any] = _env(tmp_path, service_keys)
    del env["CERTFREE_SECRET_KEY_FILE"]
    refused = subprocess.run([CERTFREE, "serve", "--bind", "127.0.0.1:9"], env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "CERTFREE_SECRET_KEY" in refused.stderr and "会话密钥" in refused.stderr
    assert not (tmp_path / "instance" / "secret_key").exists()


def test_an_access_lines_atoms_are_only_the_fields_it_writes() -> None:
    """gunicorn's own atoms copy every header and environ variable (the session cookie, an
    operator's bearer token) into each access record; certfree's logger keeps seven."""
    import datetime as dt
    from types import SimpleNamespace

    from gunicorn.config import Config

    from issuer.service.gunicorn_conf import AccessLogger

    secret = "cfo_0a1b2c3d.s3cr3tvalue12"
    response = SimpleNamespace(status="201 CREATED", sent=417,
                               headers=[("Content-Type", "application/json"), ("X-Request-ID", "rid-1"), ("Set-Cookie", secret)])
    request = SimpleNamespace(headers=[("AUTHORIZATION", f"Bearer {secret}"), ("COOKIE", f"certfree_session={secret}")])
    environ = {"REMOTE_ADDR": "10.0.0.7", "REQUEST_METHOD": "POST", "PATH_INFO": "/api/v1/licences",
               "QUERY_STRING": f"token={secret}", "HTTP_AUTHORIZATION": f"Bearer {secret}", "RAW_URI": "/api/v1/licences",
               "SERVER_PROTOCOL": "HTTP/1.1"}
    atoms = AccessLogger(Config()).atoms(response, request, environ, dt.timedelta(seconds=1, microseconds=2500))
    assert atoms == {"h": "10.0.0.7", "m": "POST", "U": "/api/v1/licences", "s": "201", "B": 417, "D": 1_002_500,
                     "{x-request-id}o": "rid-1"}


def test_serve_signs_every_status_list_before_its_workers_answer(tmp_path: Path, service_keys: Path) -> None:
    """Licences written while the service was stopped (a batch run, a restore, an upgrade)
    leave lists with no current token; ``certfree serve`` signs them before gunicorn starts,
    so the first desk scan or status request finds them signed, and logs how many."""
    from sqlalchemy import create_engine, select

    from issuer import LICENCE_TYPES
    from issuer.db import session_factory
    from issuer.db.models import SignedStatusList, StatusList
    from issuer.records import issue_licence
    from keys import KeyDir

    env = _env(tmp_path, service_keys)
    Served(tmp_path, env, 1).stop()  # the schema, made by the service's own migrations
    engine = create_engine(env["CERTFREE_DATABASE_URL"])
    keys = KeyDir(service_keys, passphrase=KEY_PASSPHRASE.encode())
    with session_factory(engine)() as session:
        for licence_type in LICENCE_TYPES:
            issue_licence(session, keys, licence_type, example(licence_type), now=int(time.time()) - 60)
        session.commit()
        lists = set(session.scalars(select(StatusList.id)))
        assert len(lists) >= 3 and not session.scalars(select(SignedStatusList.list_id)).all()
    served = Served(tmp_path, env, 2)
    try:  # only /healthz has been asked so far
        with session_factory(engine)() as session:
            signed = {row.list_id: row for row in session.scalars(select(SignedStatusList))}
        assert set(signed) == lists
        assert all(row.revision == 0 and row.token.count(".") == 2 for row in signed.values())
        status, _, body = _get(f"{served.url}/status/{sorted(lists)[0]}.jws")
        assert status == 200 and body.decode().strip() == signed[sorted(lists)[0]].token  # served as kept
    finally:
        _, stderr = served.stop()
    engine.dispose()
    started = [json.loads(line) for line in stderr if '"issuer.service.start"' in line]
    assert [(r["level"], r["message"].split(" in ")[0]) for r in started] == [
        ("INFO", f"status lists: {len(lists)} current, signed and kept")]
