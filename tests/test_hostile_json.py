"""Hostile JSON and look-alike endings at the service's edges: a body nested deep, a lone
surrogate, invalid UTF-8 or NaN is a coded 400 (never a 500), and no validator lets a
value through with a trailing newline, carriage return, NUL or zero-width space: each is
refused, or (free text in a licence) trimmed so that what is signed is the clean value."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from service_fixtures import *  # noqa: F403
from service_fixtures import auth, enrol, issue_via_api

SUFFIXES = ["\n", "\r", "\x00", "\u200b"]
DEEP = b'{"resident_id": "x", "licence_type": "id_card", "claims": ' + b"[" * 1200 + b"]" * 1200 + b"}"


@pytest.fixture
def licence(app: Flask, client: FlaskClient, operators: dict[str, str]) -> str:
    resident = enrol(app, "hana")
    return str(issue_via_api(client, operators["household_registration"], resident, "id_card", "hostile-json-1").json["id"])


def _post(client: FlaskClient, path: str, raw: bytes, token: str, key: str | None = None) -> Any:
    return client.post(path, data=raw, content_type="application/json", headers=auth(token, key))


@pytest.mark.parametrize("raw, says", [
    (DEEP, "deeper"),
    (b'{"reason": ' + b"[" * 40 + b"]" * 40 + b"}", "deeper"),  # under orjson's limit, over ours
    ('{"reason": "lost\\ud800"}'.encode(), "reason"),  # a lone surrogate: the field is named
    (b'{"reason": "lost\xff"}', "not valid JSON"),
    (b'{"reason": NaN}', "not valid JSON"),
    (b"[1, 2]", "JSON object"),
])
def test_hostile_json_on_a_status_change_is_a_coded_400(client: FlaskClient, operators: dict[str, str], licence: str,
                                                         raw: bytes, says: str) -> None:
    answer = _post(client, f"/api/v1/licences/{licence}/revoke", raw, operators["household_registration"])
    assert answer.status_code == 400 and answer.json["error"] == "bad_json", answer.json
    assert says in answer.json["message"] and answer.json["message_zh"]
    listed = client.get("/api/v1/licences", headers=auth(operators["household_registration"])).json
    assert [item["state"] for item in listed["licences"]] == ["valid"]  # nothing changed


def test_hostile_json_on_issue_is_a_coded_400_naming_the_field(client: FlaskClient, operators: dict[str, str],
                                                               licence: str) -> None:
    token = operators["household_registration"]
    deep = _post(client, "/api/v1/licences", DEEP, token, "hostile-json-2")
    assert deep.status_code == 400 and deep.json["error"] == "bad_json"
    surrogate = '{"resident_id": "x", "licence_type": "id_card", "claims": {"name": "\\udc00"}}'.encode()
    answer = _post(client, "/api/v1/licences", surrogate, token, "hostile-json-3")
    assert answer.status_code == 400 and answer.json["field"] == "claims.name", answer.json


def test_a_reason_with_a_trailing_newline_is_refused_not_stored(client: FlaskClient, operators: dict[str, str],
                                                                licence: str) -> None:
    token = operators["household_registration"]
    for suffix in SUFFIXES:
        answer = client.post(f"/api/v1/licences/{licence}/revoke", json={"reason": "lost" + suffix}, headers=auth(token))
        assert answer.status_code == 400 and answer.json["field"] == "reason", (repr(suffix), answer.json)
    done = client.post(f"/api/v1/licences/{licence}/revoke", json={"reason": "lost"}, headers=auth(token))
    assert done.status_code == 200 and done.json["reason"] == "lost"


def test_every_validator_refuses_or_trims_a_look_alike_ending() -> None:
    """Walks every validating pattern and the licence schemas with each suffix."""
    from issuer import LICENCE_TYPES, ClaimsInvalid, example, records
    from issuer.schemas import validate
    from issuer.service import api
    from scenarios import matters, policy
    from verifier import _status
    from wallet import store

    patterns = {
        "issuer.records.REASON": (records.REASON, "lost"),
        "api reason": (api._REASON, "stolen"),
        "api Idempotency-Key": (api._IDEMPOTENCY_KEY, "key-0001"),
        "scenario name": (policy._NAME_RE, "hotel"),
        "matter id": (matters._ID_RE, "birth_registration"),
        "wallet file name": (store._NAME, "id_card"),
        "status list id": (_status.LIST_ID, "QHQG0Q"),
    }
    for name, (pattern, good) in patterns.items():
        assert pattern.fullmatch(good), name
        for suffix in SUFFIXES:
            assert not pattern.fullmatch(good + suffix), (name, repr(suffix))
    with pytest.raises(ValueError):
        records.set_status(None, "x", "revoked", reason="lost\n")  # type: ignore[arg-type]  # refused before any query
    for licence_type in LICENCE_TYPES:
        claims = example(licence_type)
        for field, value in claims.items():
            if not isinstance(value, str):
                continue
            for suffix in SUFFIXES:
                try:
                    clean = validate(licence_type, {**claims, field: value + suffix})
                except ClaimsInvalid as exc:
                    assert field in {e.field for e in exc.errors}, (licence_type, field, repr(suffix))
                else:  # accepted only as the clean value: nothing of the suffix is signed
                    assert clean[field] == value and not re.search(r"[\r\n\x00\u200b]", str(clean[field]))
