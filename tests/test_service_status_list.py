"""The Token Status List draft, checked from outside: joserfc (an independent JOSE library)
reads a credential's ``status.status_list.uri``, fetches that URI over HTTP from the
service running on a real port, verifies the list token with the issuer's JWKS fetched the
same way, inflates the bit list as the draft says (zlib, ``bits``, ``lst``) and reads the
entry: valid, then revoked after a revocation through the API."""

from __future__ import annotations

import base64
import json
import threading
import urllib.request
import warnings
import zlib
from typing import Any, Iterator

import pytest
from flask import Flask
from werkzeug.serving import make_server

from service_fixtures import *  # noqa: F401,F403
from service_fixtures import auth, current_licence, enrol, issue_via_api, phone_of


@pytest.fixture
def served(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The service on a real port of 127.0.0.1; its public URL (the start of every list URI)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    monkeypatch.setenv("CERTFREE_PUBLIC_URL", base)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield base
    server.shutdown()
    thread.join()


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[str, bytes]:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as response:
        return response.headers.get("Content-Type", ""), response.read()


def _post(url: str, body: Any, headers: dict[str, str]) -> Any:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={**headers, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _entry_state(reference: dict[str, Any], base: str) -> int:
    """The draft's client: fetch the list at the reference's URI, verify it with the
    issuer's JWKS (joserfc), check its claims and read entry ``idx``."""
    from joserfc import jws
    from joserfc.jwk import KeySet

    uri, idx = reference["uri"], reference["idx"]
    mimetype, token = _get(uri)
    assert mimetype.startswith("application/statuslist+jwt")
    _, jwks = _get(base + "/.well-known/jwks.json")
    with warnings.catch_warnings():  # joserfc warns that "EdDSA" is deprecated (RFC 9864)
        warnings.filterwarnings("ignore", message="EdDSA is deprecated")
        verified = jws.deserialize_compact(token.decode("ascii"), KeySet.import_key_set(json.loads(jwks)),
                                           algorithms=["EdDSA"])
    assert verified.protected["typ"] == "statuslist+jwt"
    claims = json.loads(verified.payload)
    assert claims["sub"] == uri
    assert isinstance(claims["iat"], int) and claims["exp"] > claims["iat"] and claims["ttl"] > 0
    bits = claims["status_list"]["bits"]
    lst = claims["status_list"]["lst"]
    raw = zlib.decompress(_unb64(lst))
    per_byte = 8 // bits
    return (raw[idx // per_byte] >> ((idx % per_byte) * bits)) & ((1 << bits) - 1)


def test_joserfc_finds_the_entry_at_the_credentials_uri_valid_then_revoked(
    app: Flask, operators: dict[str, str], served: str
) -> None:
    from issuer.service import db
    from issuer.service.models import WalletCredential

    resident = enrol(app, "status-list-resident")
    answer = issue_via_api(app.test_client(), operators["traffic_police"], resident, "driving_license", "draft-status-1")
    assert answer.status_code == 201, answer.get_data(as_text=True)
    phone = phone_of(app, "status-list-resident")  # enrolling binds the licence to the phone's key
    licence_id = current_licence(app, answer.json["id"])
    with app.app_context(), db.sessions(app)() as session:
        credential = session.get(WalletCredential, licence_id).credential  # the full credential, held for the phone
    tokens = [credential, *phone.licence(licence_id)["views"].values()]
    references = []
    for token in tokens:
        payload = json.loads(_unb64(token.split(".")[1]))
        assert set(payload["status"]) == {"status_list"}
        references.append(payload["status"]["status_list"])
    assert len(references) >= 2 and all(r["uri"].startswith(served + "/status/") for r in references)
    assert [_entry_state(r, served) for r in references] == [0] * len(references)

    changed = _post(f"{served}/api/v1/licences/{licence_id}/revoke", {"reason": "withdrawn"},
                    auth(operators["traffic_police"]))
    assert changed["state"] == "revoked"
    assert [_entry_state(r, served) for r in references] == [1] * len(references)
