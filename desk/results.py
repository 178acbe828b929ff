"""The signed tokens a desk page carries between requests, and a window matter's progress.

* The *result* token travels with the register form: the verified documents (licence type
  and the disclosed claims), the scenario, the matter, the desk, when they were verified
  ("v") and a nonce ("n") spent when the entry is recorded: one register entry per
  verification, within RESULT_MAX_AGE.
* The *progress* token travels with the scan form while a window matter is being
  assembled: the documents verified so far, so the clerk scans them one after another.

Both are signed with the app's secret key (itsdangerous): the page cannot change them.
They hold what the page already shows (the disclosed claims), nothing more."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from issuer import LICENCE_TYPES
from scenarios.matters import Matter, MatterCheck, check_matter

RESULT_MAX_AGE = 10 * 60  # a verified result may be registered within 10 minutes, once

Document = tuple[str, dict[str, Any]]  # (licence type, disclosed claims)


class TokenRefused(Exception):
    """A token that is forged, damaged (``result_invalid``) or too old (``result_expired``)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def result_token(scenario: str, documents: list[Document], matter: str | None, desk: str | None, verified_at: float) -> str:
    return _serializer("certfree-desk-register").dumps(
        {"s": scenario, "d": [[t, c] for t, c in documents], "m": matter, "k": desk,
         "v": verified_at, "n": secrets.token_urlsafe(16)})


def _loads(salt: str, token: str, now: float) -> dict[str, Any]:
    try:
        data = _serializer(salt).loads(token, max_age=RESULT_MAX_AGE)
    except SignatureExpired:
        raise TokenRefused("result_expired") from None
    except BadSignature:
        raise TokenRefused("result_invalid") from None
    if not isinstance(data, dict) or not isinstance(data.get("v"), (int, float)) or not isinstance(data.get("d"), list):
        raise TokenRefused("result_invalid")
    if now - data["v"] > RESULT_MAX_AGE:  # the desk's own clock (tests, audits), not only the token's
        raise TokenRefused("result_expired")
    return data


def load_result(token: str, now: float) -> dict[str, Any]:
    data = _loads("certfree-desk-register", token, now)
    if not isinstance(data.get("n"), str) or not isinstance(data.get("s"), str):
        raise TokenRefused("result_invalid")
    return data


def documents(data: dict[str, Any]) -> list[Document]:
    return [(str(t), dict(c)) for t, c in data["d"]]


@dataclass
class Progress:
    """A window matter being assembled: the documents verified so far, by licence type."""

    matter: Matter
    documents: dict[str, dict[str, Any]]
    started_at: float
    restarted: bool = False  # the documents scanned before were too old and are dropped

    @property
    def check(self) -> MatterCheck:
        return check_matter(self.matter, self.documents)

    def add(self, licence_type: str, claims: dict[str, Any]) -> None:
        self.documents[licence_type] = claims  # the same type scanned again: the newer one

    def token(self) -> str:
        return _serializer("certfree-desk-matter").dumps(
            {"m": self.matter.id, "d": [[t, c] for t, c in self.documents.items()], "v": self.started_at})

    def rows(self) -> list[tuple[str, str]]:
        """(licence type, "present" | "missing") for every type the matter names, in order."""
        wanted = list(self.matter.requires) + [t for group in self.matter.one_of for t in group]
        seen = list(dict.fromkeys([*wanted, *self.documents]))
        return [(t, "present" if t in self.documents else "missing") for t in seen if t in LICENCE_TYPES]


def load_progress(token: str, matter: Matter, now: float) -> Progress:
    """The matter's progress from its token; a fresh one when the token is empty, for
    another matter, or too old (a matter is assembled within RESULT_MAX_AGE: then
    ``restarted``, for the page to say why the documents scanned before are gone)."""
    if token:
        try:
            data = _loads("certfree-desk-matter", token, now)
        except TokenRefused as exc:
            return Progress(matter, {}, now, restarted=exc.code == "result_expired")
        if data.get("m") == matter.id:
            return Progress(matter, {str(t): dict(c) for t, c in data["d"]}, float(data["v"]))
    return Progress(matter, {}, now)


__all__ = ["RESULT_MAX_AGE", "TokenRefused", "Progress", "result_token", "load_result", "load_progress", "documents"]
