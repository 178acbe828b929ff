"""The issuer API through the Flask test client, on SQLite and (in CI) PostgreSQL."""

from __future__ import annotations

import concurrent.futures
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from service_fixtures import *
from service_fixtures import auth, csrf, enrol, issue_via_api
from sqlalchemy import select

from issuer import example


def _audit(app: Flask) -> list[Any]:
    from issuer.service import db
    from issuer.service.models import AuditEntry

    with db.sessions(app)() as session:
        return [(e.actor, e.action, e.licence_id, e.outcome) for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def test_no_token_is_401(client: FlaskClient) -> None:
    response = client.get("/api/v1/licences")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/api/v1/licences", headers=auth("cfo_nope.nope")).status_code == 401


def test_wrong_secret_for_a_real_operator_is_401(client: FlaskClient, operators: dict[str, str]) -> None:
    token = operators["traffic_police"]
    forged = token[: token.index(".") + 1] + "x" * 43
    assert client.get("/api/v1/licences", headers=auth(forged)).status_code == 401


def test_tokens_are_stored_only_as_hashes(app: Flask, operators: dict[str, str]) -> None:
    from issuer.service import db
    from issuer.service.models import Operator

    with db.sessions(app)() as session:
        stored = [(o.token_hash, o.id) for o in session.scalars(select(Operator))]
    for token in operators.values():
        assert all(token.encode() not in h and len(h) == 32 for h, _ in stored)


def test_issue_then_get_and_list(app: Flask, client: FlaskClient, operators: dict[str, str]) -> None:
    resident = enrol(app, "alice")
    response = issue_via_api(client, operators["traffic_police"], resident, "driving_license", "key-issue-0001")
    assert response.status_code == 201, response.json
    body = response.json
    assert body["licence_type"] == "driving_license" and body["state"] == "valid"
    assert body["authority"] == "traffic_police" and body["status"]["list"]
    assert "name" not in body and "claims" not in body  # no personal data in the API answer
    got = client.get(f"/api/v1/licences/{body['id']}", headers=auth(operators["traffic_police"]))
    assert got.status_code == 200 and got.json["id"] == body["id"]
    listed = client.get("/api/v1/licences", headers=auth(operators["traffic_police"])).json["licences"]
    assert [item["id"] for item in listed] == [body["id"]]
    # another authority sees none of it
    assert client.get("/api/v1/licences", headers=auth(operators["police_station"])).json["licences"] == []
    assert client.get(f"/api/v1/licences/{body['id']}", headers=auth(operators["police_station"])).status_code == 403
    assert ("operator:" in _audit(app)[-1][0])


def test_traffic_police_cannot_issue_an_id_card(app: Flask, client: FlaskClient, operators: dict[str, str]) -> None:
    resident = enrol(app, "bob")
    response = issue_via_api(client, operators["traffic_police"], resident, "id_card", "key-idcard-0001")
    assert response.status_code == 403
    assert response.json["error"] == "forbidden" and response.json["field"] == "licence_type"
    actor, action, licence_id, outcome = _audit(app)[-1]
    assert (action, licence_id, outcome) == ("licence.issue", None, "denied") and actor.startswith("operator:")
    assert client.get("/api/v1/licences", headers=auth(operators["household_registration"])).json["licences"] == []


def test_same_idempotency_key_issues_once(app: Flask, client: FlaskClient, operators: dict[str, str]) -> None:
    from issuer.service import db
    from issuer.service.models import LicenceRecord, WalletCredential

    resident = enrol(app, "carol")
    token = operators["household_registration"]
    first = issue_via_api(client, token, resident, "id_card", "retry-key-0001")
    again = issue_via_api(client, token, resident, "id_card", "retry-key-0001")
    assert first.status_code == 201 and again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert first.json["id"] == again.json["id"]
    with db.sessions(app)() as session:
        assert len(list(session.scalars(select(LicenceRecord)))) == 1
        assert len(list(session.scalars(select(WalletCredential)))) == 1
    assert [a[1] for a in _audit(app)].count("licence.issue") == 1
    # the same key with a different request is refused, not silently replayed
    other = dict(example("id_card"), name="李四")
    conflict = issue_via_api(client, token, resident, "id_card", "retry-key-0001", claims=other)
    assert conflict.status_code == 422 and conflict.json["error"] == "idempotency_conflict"
    # a new key issues a new licence
    assert issue_via_api(client, token, resident, "id_card", "retry-key-0002").status_code == 201


def test_concurrent_retries_issue_once(app: Flask, operators: dict[str, str]) -> None:
    from issuer.service import db
    from issuer.service.models import LicenceRecord

    if db.engine(app).dialect.name == "sqlite":
        pass  # SQLite serialises writers; the test still checks the outcome
    resident = enrol(app, "dave")
    token = operators["police_station"]

    def call(_: int) -> Any:
        with app.test_client() as c:
            r = issue_via_api(c, token, resident, "ebike_registration", "concurrent-key-1")
            return r.status_code, r.json["id"]

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(call, range(4)))
    assert {code for code, _ in results} <= {200, 201}
    assert len({licence_id for _, licence_id in results}) == 1
    with db.sessions(app)() as session:
        assert len(list(session.scalars(select(LicenceRecord)))) == 1


def test_bad_requests_name_the_field(app: Flask, client: FlaskClient, operators: dict[str, str]) -> None:
    resident = enrol(app, "erin")
    token = operators["household_registration"]
    no_key = client.post("/api/v1/licences", json={"resident_id": resident, "licence_type": "id_card", "claims": {}}, headers=auth(token))
    assert no_key.status_code == 400 and no_key.json["field"] == "Idempotency-Key"
    bad = dict(example("id_card"), id_number="110101199003070010")
    invalid = issue_via_api(client, token, resident, "id_card", "bad-claims-01", claims=bad)
    assert invalid.status_code == 422
    assert "id_number" in {e["field"] for e in invalid.json["errors"]}
    assert all(e["message_zh"] for e in invalid.json["errors"])
    nobody = issue_via_api(client, token, "0000000000000000", "id_card", "no-resident-1")
    assert nobody.status_code == 404 and nobody.json["field"] == "resident_id"
    missing = client.post("/api/v1/licences", json={"licence_type": "id_card"}, headers=auth(token, "missing-field-1"))
    assert missing.status_code == 400 and missing.json["field"] == "resident_id"


def test_revoke_suspend_reinstate(app: Flask, client: FlaskClient, operators: dict[str, str]) -> None:
    resident = enrol(app, "frank")
    token = operators["police_station"]
    licence_id = issue_via_api(client, token, resident, "ebike_registration", "status-key-01").json["id"]
    path = f"/api/v1/licences/{licence_id}"
    suspended = client.post(f"{path}/suspend", json={"reason": "stolen"}, headers=auth(token))
    assert suspended.status_code == 200 and suspended.json["state"] == "suspended" and suspended.json["reason"] == "stolen"
    assert client.post(f"{path}/suspend", json={}, headers=auth(token)).status_code == 409
    reinstated = client.post(f"{path}/reinstate", json={}, headers=auth(token))
    assert reinstated.status_code == 200 and reinstated.json["state"] == "valid"
    bad_reason = client.post(f"{path}/revoke", json={"reason": "Stolen by 张三"}, headers=auth(token))
    assert bad_reason.status_code == 400 and bad_reason.json["field"] == "reason"
    revoked = client.post(f"{path}/revoke", json={"reason": "lost"}, headers=auth(token))
    assert revoked.status_code == 200 and revoked.json["state"] == "revoked"
    assert client.post(f"{path}/reinstate", json={}, headers=auth(token)).status_code == 409
    assert client.get("/api/v1/licences?state=revoked", headers=auth(token)).json["licences"][0]["id"] == licence_id
    # another authority may not touch it
    assert client.post(f"{path}/revoke", json={}, headers=auth(operators["traffic_police"])).status_code == 403
    assert client.post("/api/v1/licences/nope/revoke", json={}, headers=auth(token)).status_code == 404
    actions = [(a[1], a[2], a[3]) for a in _audit(app)]
    for action in ("licence.suspend", "licence.reinstate", "licence.revoke"):
        assert (action, licence_id, "ok") in actions
    assert ("licence.revoke", licence_id, "denied") in actions


def test_audit_log_is_append_only_and_has_no_personal_data(app: Flask, client: FlaskClient, operators: dict[str, str]) -> None:
    import pytest

    from issuer.service import db
    from issuer.service.models import AuditEntry

    resident = enrol(app, "grace")
    issue_via_api(client, operators["household_registration"], resident, "id_card", "audit-key-001")
    claims = example("id_card")
    for row in _audit(app):
        text = " ".join(str(x) for x in row)
        assert claims["name"] not in text and claims["id_number"] not in text and "grace" not in text
    with db.sessions(app)() as session:
        entry = session.scalars(select(AuditEntry)).first()
        assert entry is not None
        entry.action = "tampered"
        with pytest.raises(PermissionError):
            session.flush()


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy":
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
}


def test_the_licence_list_comes_in_pages_that_hold_every_licence_once(app: Flask, client: FlaskClient, operators: dict[str, str]) -> None:
    """Seven licences, pages of three: every licence exactly once, in id order, the last
    page's next is null; another authority's licences are not in them; limits and cursors
    that are not what the API takes are refused, naming the parameter."""
    token = operators["police_station"]
    issued = {issue_via_api(client, token, enrol(app, f"pager{i}"), "ebike_registration", f"page-key-{i:02}").json["id"]
              for i in range(7)}
    issue_via_api(client, operators["traffic_police"], enrol(app, "other"), "driving_license", "page-key-other")
    seen: list[str] = []
    after = ""
    for _ in range(4):
        page = client.get(f"/api/v1/licences?limit=3&after={after}", headers=auth(token))
        assert page.status_code == 200
        seen += [licence["id"] for licence in page.json["licences"]]
        after = page.json["next"]
        if after is None:
            break
        assert after == seen[-1]
    assert after is None and len(seen) == 7 and set(seen) == issued and seen == sorted(seen)
    assert [len(client.get(f"/api/v1/licences?limit={n}", headers=auth(token)).json["licences"]) for n in (1, 7, 1000)] == [1, 7, 7]
    assert client.get("/api/v1/licences", headers=auth(token)).json["next"] is None  # the default page holds all 7
    for query, field in (("limit=0", "limit"), ("limit=1001", "limit"), ("limit=ten", "limit"), ("limit=%EF%BC%93", "limit"),
                         ("after=..%2F", "after"), (f"after={'A' * 33}", "after")):
        refused = client.get(f"/api/v1/licences?{query}", headers=auth(token))
        assert refused.status_code == 400 and refused.json["field"] == field and refused.json["message_zh"], query


def test_every_response_has_security_headers(app: Flask, client: FlaskClient, operators: dict[str, str]) -> None:
    """Pages, JSON, files, redirects and every kind of error answer carry the same headers;
    the API's answers, whatever their status, are never cached."""
    token = operators["household_registration"]
    big = b"{" + b" " * (64 * 1024) + b"}"
    responses = {
        "page": (client.get("/wallet/login"), 200, "text/html"),
        "wallet page": (client.get("/wallet/"), 200, "text/html"),
        # a log-out answers with a redirect (the desk's pages, which add the camera's sources, are
        # held to their own policy in the desk's tests)
        "redirect": (client.post("/wallet/logout", data={"csrf_token": csrf(client, "/wallet/login")}), 302, None),
        "static file": (client.get("/static/certfree.css"), 200, "text/css"),
        "public JSON": (client.get("/.well-known/jwks.json"), 200, "application/json"),
        "API JSON": (client.get("/api/v1/licences", headers=auth(token)), 200, "application/json"),
        "API 401": (client.get("/api/v1/licences"), 401, "application/json"),
        "API 404": (client.get("/api/v1/licences/no-such-id", headers=auth(token)), 404, "application/json"),
        "API 413": (client.post("/api/v1/licences", data=big, content_type="application/json",
                                headers=auth(token, "headers-key-1")), 413, "application/json"),
        "error page 404": (client.get("/no/such/page"), 404, "text/html"),
        "error page 405": (client.get("/wallet/logout"), 405, "text/html"),
        "error page 400 (stale form)": (client.post("/wallet/logout", data={"csrf_token": "stale"}), 400, "text/html"),
        "JSON 401 (log-in expired)": (client.get("/wallet/api/challenge"), 401, "application/json"),
    }
    for kind, (response, status, mimetype) in responses.items():
        assert response.status_code == status, kind
        if mimetype:
            assert response.mimetype == mimetype, kind
        for name, value in SECURITY_HEADERS.items():
            assert response.headers.get(name) == value, f"{kind}: {name}"
        if kind.startswith("API"):
            assert response.headers["Cache-Control"] == "no-store", kind
    assert 'data-code="not_found"' in responses["error page 404"][0].get_data(as_text=True)
    assert responses["API 413"][0].json["error"] == "too_large"


def test_same_key_different_request_at_the_same_moment_is_a_conflict_not_a_500(
    app: Flask, operators: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two requests with one Idempotency-Key and different bodies, both past the key lookup
    before either writes (held there by a barrier: the natural race window). The one that
    loses the insert must answer 422 idempotency_conflict, as it would a moment later."""
    import threading

    from issuer.service import issuing

    residents = [enrol(app, "dora"), enrol(app, "erik")]
    token = operators["household_registration"]
    both_looked = threading.Barrier(2, timeout=30)
    issue_for_resident = issuing.issue_for_resident

    def after_the_lookup(*args: Any, **kwargs: Any) -> Any:
        both_looked.wait()
        return issue_for_resident(*args, **kwargs)

    monkeypatch.setattr(issuing, "issue_for_resident", after_the_lookup)
    answers: dict[str, Any] = {}

    def send(resident: str) -> None:
        answers[resident] = issue_via_api(app.test_client(), token, resident, "id_card", "same-moment-0001")

    threads = [threading.Thread(target=send, args=(r,)) for r in residents]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(answers[r].status_code for r in residents)
    assert codes == [201, 422], codes
    assert [a.json["error"] for a in answers.values() if a.status_code == 422] == ["idempotency_conflict"]


def test_an_api_body_over_64_kb_is_refused_before_it_is_parsed(app: Flask, client: FlaskClient, operators: dict[str, str]) -> None:
    """The API takes a licence request of a few KB, not the 12 MB the desk's image uploads
    may be: 50,000 unknown claim names used to come back as a 7.7 MB list of errors."""
    resident = enrol(app, "gina")
    claims = {f"field{i}": "x" for i in range(50_000)}
    answer = issue_via_api(client, operators["household_registration"], resident, "id_card", "too-large-0001", claims=claims)
    assert answer.status_code == 413 and answer.json["error"] == "too_large"
    assert len(answer.get_data()) < 1024 and answer.json["message_zh"] == "请求体超过 64 KB"
    fine = issue_via_api(client, operators["household_registration"], resident, "id_card", "too-large-0002")
    assert fine.status_code == 201


def test_api_errors_are_json_with_a_code_and_chinese_without_english_words(app: Flask, client: FlaskClient, operators: dict[str, str]) -> None:
    """Unknown paths and wrong methods under /api/ answer JSON, not HTML; an unknown state
    filter is a 400 naming the field; the Chinese state-conflict message is all Chinese."""
    token = operators["police_station"]
    for response, status, code in (
        (client.get("/api/v1/licence", headers=auth(token)), 404, "not_found"),
        (client.get("/api/v1/licences/x/revoke", headers=auth(token)), 405, "method_not_allowed"),
        (client.put("/api/v1/licences", json={}, headers=auth(token)), 405, "method_not_allowed"),
    ):
        assert (response.status_code, response.mimetype) == (status, "application/json")
        assert response.json["error"] == code and response.json["message_zh"]
        assert status != 405 or "POST" in response.headers["Allow"]
    bad_state = client.get("/api/v1/licences?state=nonsense", headers=auth(token))
    assert bad_state.status_code == 400 and bad_state.json["field"] == "state" and bad_state.json["error"] == "unknown_state"
    resident = enrol(app, "gina")
    licence_id = issue_via_api(client, token, resident, "ebike_registration", "conflict-key-1").json["id"]
    assert client.post(f"/api/v1/licences/{licence_id}/revoke", json={}, headers=auth(token)).status_code == 200
    conflict = client.post(f"/api/v1/licences/{licence_id}/suspend", json={}, headers=auth(token))
    assert conflict.status_code == 409 and conflict.json["field"] == "state"
    assert conflict.json["message_zh"] == "证照当前状态为已注销，不能暂停"
    assert not re.search(r"[A-Za-z]", conflict.json["message_zh"])


def test_the_desk_s_pages_carry_their_own_strict_policy(app: Flask, client: FlaskClient) -> None:
    """The desk's pages add only what the camera and the in-page decoder need (media from the
    camera, WebAssembly compiled from the desk's own file) to the service's policy."""
    answer = client.get("/desk/")
    policy = dict(part.strip().split(" ", 1) for part in answer.headers["Content-Security-Policy"].split(";"))
    assert policy["default-src"] == "'self'" and policy["frame-ancestors"] == "'none'"
    assert policy["script-src"] == "'self' 'wasm-unsafe-eval'" and "unsafe-inline" not in answer.headers["Content-Security-Policy"]
    assert policy["connect-src"] == "'self'" and policy["media-src"] == "'self' blob: mediastream:"
    for name in ("X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"):
        assert answer.headers[name] == SECURITY_HEADERS[name]
