"""Signing licences: the full credential and one view per scenario that accepts the type."""

from __future__ import annotations

import datetime as dt
import secrets
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Mapping, Sequence

from keys import KeyDir
from keys.jose import ALGORITHM, TYP_CREDENTIAL, TYP_VIEW, Signer, b64url_encode, sign_compact
from scenarios import Policy, load_policies

from .schemas import ClaimsInvalid, FieldError, validate
from .views import china_midnight, view_claims

CREDENTIAL_DAYS = 365  # a full credential is re-issued at least yearly
VIEW_DAYS = 30  # views are short-lived; the wallet refreshes them
VIEW_RENEW_DAYS = 7  # a wallet asks for new views (issuer.records.refresh_views) when this little is left
_DAY = 86400


@dataclass(frozen=True)
class Issued:
    """A signed licence: the full credential and its scenario views (scenario -> JWS)."""

    licence_type: str
    jti: str
    credential: str
    views: Mapping[str, str] = field(default_factory=dict)
    issued_at: int = 0
    expires_at: int = 0


@lru_cache(maxsize=1)
def default_policies() -> Mapping[str, Policy]:
    """The packaged policies, loaded once per process (restart the issuer to change them)."""
    return load_policies()


def view_names(licence_type: str, policies: Mapping[str, Policy] | None = None) -> list[str]:
    """The scenarios that get a view of ``licence_type`` (policies' order: the order in
    which :func:`sign_licence` signs them and batch issuance allocates their entries)."""
    policies = policies if policies is not None else default_policies()
    return [name for name, policy in policies.items() if licence_type in policy.accepts]


def new_jti(size: int = 16) -> str:
    """A random credential id: 128 bits for a licence, 96 for a view (plenty to never
    repeat, and 4 bytes fewer in every QR code)."""
    return b64url_encode(secrets.token_bytes(size))


def new_licence_id() -> str:
    """The full credential's ``jti``, which is also the licence's id in the issuer's
    records: 48 bits of Unix time in milliseconds, then 80 random bits (a UUIDv7's
    layout, without its version bits). The ids of licences issued close together share
    their first characters, so the records' indexes on them take a batch in a few places
    instead of all over (base64url does not sort like the bytes, so it is clustering,
    not order). The time it shows is no more than the credential's own ``iat``, and 80
    random bits keep it unguessable. Views keep fully random ids."""
    millis = time.time_ns() // 1_000_000 % 2**48
    return b64url_encode(millis.to_bytes(6, "big") + secrets.token_bytes(10))


def _end_of_validity(claims: Mapping[str, Any]) -> int | None:
    """The licence's own end of validity (end of ``valid_until`` in China time), if any."""
    until = claims.get("valid_until")
    if not isinstance(until, str) or until == "长期":
        return None
    return china_midnight(dt.date.fromisoformat(until) + dt.timedelta(days=1))


def _start_of_validity(claims: Mapping[str, Any]) -> int | None:
    start = claims.get("valid_from")
    if not isinstance(start, str):
        return None
    return china_midnight(dt.date.fromisoformat(start))


def issue(
    keys: KeyDir,
    licence_type: str,
    claims: Mapping[str, Any],
    *,
    holder_jwk: Mapping[str, str] | None = None,
    status: Mapping[str, Any] | None = None,
    view_status: Mapping[str, Mapping[str, Any]] | None = None,
    now: int | None = None,
    with_views: bool = True,
    policies: Mapping[str, Policy] | None = None,
    alg: str = ALGORITHM,
) -> Issued:
    """Validate ``claims`` (raises ``ClaimsInvalid``) and sign the credential and its views.

    ``holder_jwk`` binds the credential and views to the holder's device key (``cnf``);
    views need it. ``status`` is the credential's status-list reference; ``view_status``
    gives one per scenario view. ``alg`` is the headers' name for Ed25519: "EdDSA" (the
    default) or RFC 9864's "Ed25519" (docs/security.md, "Algorithms").
    """
    fields = validate(licence_type, claims)
    return sign_licence(
        keys, licence_type, fields, holder_jwk=holder_jwk, status=status, view_status=view_status,
        now=now, with_views=with_views, policies=policies, alg=alg,
    )


def sign_licence(
    keys: KeyDir,
    licence_type: str,
    fields: Mapping[str, Any],
    *,
    holder_jwk: Mapping[str, str] | None = None,
    status: Mapping[str, Any] | None = None,
    view_status: Mapping[str, Mapping[str, Any]] | None = None,
    now: int | None = None,
    with_views: bool = True,
    policies: Mapping[str, Policy] | None = None,
    alg: str = ALGORITHM,
) -> Issued:
    """:func:`issue` for ``fields`` that :func:`issuer.schemas.validate` has already
    returned (callers that validate first, e.g. before allocating status entries)."""
    now = int(time.time()) if now is None else now
    entry, private_key = keys.signing_key(licence_type, now)
    nbf = max(now, _start_of_validity(fields) or now)
    exp = now + CREDENTIAL_DAYS * _DAY
    end = _end_of_validity(fields)
    if end is not None:
        if end <= now:  # a licence whose period is over is not issued (it would be born expired)
            raise ClaimsInvalid([FieldError(
                "valid_until", "validity_ended", "the licence's period of validity has already ended",
                "证照有效期已届满")])
        exp = min(exp, end)
    base = _base(entry.authority, licence_type, now, nbf, exp, holder_jwk)
    jti = new_licence_id()
    credential_claims = {**fields, **base, "jti": jti}
    if status is not None:
        credential_claims["status"] = dict(status)
    credential = sign_compact(credential_claims, private_key, kid=entry.kid, typ=TYP_CREDENTIAL, alg=alg)
    views: dict[str, str] = {}
    if with_views and holder_jwk is not None:
        policies = policies if policies is not None else default_policies()
        views = _sign_views(entry.kid, private_key, licence_type, fields, base, nbf, exp,
                            view_names(licence_type, policies), view_status, policies, alg)
    return Issued(licence_type, jti, credential, views, now, exp)


def sign_views(
    keys: KeyDir,
    licence_type: str,
    fields: Mapping[str, Any],
    *,
    holder_jwk: Mapping[str, str],
    exp: int,
    scenarios: Sequence[str],
    view_status: Mapping[str, Mapping[str, Any]] | None = None,
    now: int | None = None,
    policies: Mapping[str, Policy] | None = None,
) -> dict[str, str]:
    """New views of an issued licence (``fields``, bound to ``holder_jwk``, ending by the
    credential's ``exp``) for ``scenarios``, signed with the authority's current key: what
    the wallet asks for when its views near their end (see ``issuer.records.refresh_views``)."""
    now = int(time.time()) if now is None else now
    entry, private_key = keys.signing_key(licence_type, now)
    nbf = max(now, _start_of_validity(fields) or now)
    base = _base(entry.authority, licence_type, now, nbf, exp, holder_jwk)
    policies = policies if policies is not None else default_policies()
    return _sign_views(entry.kid, private_key, licence_type, fields, base, nbf, exp, scenarios, view_status, policies)


def _base(authority: str, licence_type: str, now: int, nbf: int, exp: int,
          holder_jwk: Mapping[str, str] | None) -> dict[str, Any]:
    """The claims every JWS of a licence carries (the views override ``exp``)."""
    base: dict[str, Any] = {"iss": authority, "iat": now, "exp": exp, "vct": licence_type}
    if nbf != now:  # omitted when it equals iat (RFC 7519 4.1.5 makes it optional): QR bytes count
        base["nbf"] = nbf
    if holder_jwk is not None:
        base["cnf"] = {"jwk": dict(holder_jwk)}
    return base


def _sign_views(kid: str, private_key: Signer, licence_type: str, fields: Mapping[str, Any],
                base: Mapping[str, Any], nbf: int, exp: int, scenarios: Sequence[str],
                view_status: Mapping[str, Mapping[str, Any]] | None, policies: Mapping[str, Policy],
                alg: str = ALGORITHM) -> dict[str, str]:
    views: dict[str, str] = {}
    for name in scenarios:
        # VIEW_DAYS from the licence's start: a licence that starts later (a renewal issued
        # early) gets views usable from its first day, not views that expire before it
        view_until = min(exp, nbf + VIEW_DAYS * _DAY)
        disclosed, view_exp = view_claims(policies[name], licence_type, fields, nbf=nbf, exp=view_until)
        v = {**disclosed, **base, "exp": view_exp, "scn": name, "jti": new_jti(12)}
        if view_status and name in view_status:
            v["status"] = dict(view_status[name])
        views[name] = sign_compact(v, private_key, kid=kid, typ=TYP_VIEW, alg=alg)
    return views
