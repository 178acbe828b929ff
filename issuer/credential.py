"""Signing licences: the full credential and one view per scenario that accepts the type."""

from __future__ import annotations

import datetime as dt
import secrets
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Mapping, NamedTuple, Sequence

from keys import KeyDir
from keys.jose import ALGORITHM, TYP_CREDENTIAL, TYP_VIEW, CompactSigner, b64url_encode, join_compact
from scenarios import Policy, load_policies

from .schemas import ClaimsInvalid, FieldError, validate
from .views import Disclosure, china_midnight

CREDENTIAL_DAYS = 365  # a full credential is re-issued at least yearly
VIEW_DAYS = 30  # views are short-lived; the wallet refreshes them
VIEW_RENEW_DAYS = 7  # a wallet asks for new views (issuer.records.refresh_views) when this little is left
_DAY = 86400
_LICENCE_ID_RANDOM = 10  # random bytes in a licence id (after its 6 bytes of time)
_VIEW_JTI = 12  # random bytes in a view's jti (a multiple of 3, so each view's base64url is its own slice)
_VIEW_JTI_CHARS = _VIEW_JTI * 4 // 3  # 16 base64url characters


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


def new_licence_id(random: bytes | None = None) -> str:
    """The full credential's ``jti``, which is also the licence's id in the issuer's
    records: 48 bits of Unix time in milliseconds, then 80 random bits (a UUIDv7's
    layout, without its version bits). The ids of licences issued close together share
    their first characters, so the records' indexes on them take a batch in a few places
    instead of all over (base64url does not sort like the bytes, so it is clustering,
    not order). The time it shows is no more than the credential's own ``iat``, and 80
    random bits keep it unguessable. Views keep fully random ids. ``random``: those 10
    bytes, if the caller drew them from the system CSPRNG already."""
    millis = time.time_ns() // 1_000_000 % 2**48
    if random is None:
        random = secrets.token_bytes(_LICENCE_ID_RANDOM)
    elif len(random) != _LICENCE_ID_RANDOM:
        raise ValueError(f"a licence id takes {_LICENCE_ID_RANDOM} random bytes")
    return b64url_encode(millis.to_bytes(6, "big") + random)


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
    scenarios = None if with_views and holder_jwk is not None else ()
    signer = LicenceSigner(keys, licence_type, now=now, scenarios=scenarios, policies=policies, alg=alg)
    return signer.sign(fields, holder_jwk=holder_jwk, status=status, view_status=view_status)


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
    signer = LicenceSigner(keys, licence_type, now=now, scenarios=scenarios, policies=policies)
    return signer.sign_views(fields, holder_jwk=holder_jwk, exp=exp, view_status=view_status)


class Unsigned(NamedTuple):
    """A licence ready to sign (:meth:`LicenceSigner.prepare`): its id and expiry, and the
    signing inputs of its credential and of each view (in ``names`` order)."""

    jti: str
    expires_at: int
    names: tuple[str, ...]
    inputs: list[bytes]  # the credential's, then each view's


class LicenceSigner:
    """Signs licences of one type with the key that may sign it at ``now``, and their views
    for ``scenarios`` (default: every scenario that accepts the type, :func:`view_names`).

    What every licence shares is worked out once, when it is made: the key (checked once),
    the two protected headers, and each scenario's :class:`~issuer.views.Disclosure`. A
    batch (:func:`issuer.batch.sign_batch`) makes one for all its licences;
    :func:`sign_licence` and :func:`sign_views` make one per call. Either way each licence
    is signed by the same code, into the same bytes.

    Signing is two steps: :meth:`prepare` builds a licence's claims and signing inputs (all
    Python), :meth:`sign_prepared` signs many of them in one tight loop of the key's
    ``sign`` and joins the JWS. A batch prepares all its licences first: interleaved with
    Python's own work, each Ed25519 signature took about a quarter longer (the two evict
    each other from the CPU's caches; docs/benchmarks.md, "Batch issuance").
    """

    def __init__(self, keys: KeyDir, licence_type: str, *, now: int | None = None,
                 scenarios: Sequence[str] | None = None, policies: Mapping[str, Policy] | None = None,
                 alg: str = ALGORITHM) -> None:
        self.licence_type = licence_type
        self.now = int(time.time()) if now is None else now
        entry, private_key = keys.signing_key(licence_type, self.now)
        self.authority, self.kid = entry.authority, entry.kid
        self._credential = CompactSigner(private_key, kid=entry.kid, typ=TYP_CREDENTIAL, alg=alg)
        self._view = CompactSigner(private_key, kid=entry.kid, typ=TYP_VIEW, alg=alg)
        self.views: tuple[tuple[str, Disclosure], ...] = ()
        if scenarios is None or scenarios:
            policies = policies if policies is not None else default_policies()
            names = view_names(licence_type, policies) if scenarios is None else scenarios
            self.views = tuple((name, Disclosure.of(policies[name], licence_type)) for name in names)
        self.view_names = tuple(name for name, _ in self.views)

    def sign(self, fields: Mapping[str, Any], *, holder_jwk: Mapping[str, str] | None = None,
             status: Mapping[str, Any] | None = None,
             view_status: Mapping[str, Mapping[str, Any]] | None = None) -> Issued:
        """The credential of ``fields`` (validated), and its views if ``holder_jwk`` binds them
        to a device key (see :func:`issue`)."""
        return self.sign_prepared([self.prepare(fields, holder_jwk=holder_jwk, status=status,
                                                view_status=view_status)])[0]

    def prepare(self, fields: Mapping[str, Any], *, holder_jwk: Mapping[str, str] | None = None,
                status: Mapping[str, Any] | None = None,
                view_status: Mapping[str, Mapping[str, Any]] | None = None) -> Unsigned:
        """:meth:`sign` up to the signatures: the claims of the credential and its views,
        serialised into their signing inputs (raises ``ClaimsInvalid`` if the licence's
        period of validity is over)."""
        now = self.now
        nbf = max(now, _start_of_validity(fields) or now)
        exp = now + CREDENTIAL_DAYS * _DAY
        end = _end_of_validity(fields)
        if end is not None:
            if end <= now:  # a licence whose period is over is not issued (it would be born expired)
                raise ClaimsInvalid([FieldError(
                    "valid_until", "validity_ended", "the licence's period of validity has already ended",
                    "证照有效期已届满")])
            exp = min(exp, end)
        base = self._base(nbf, exp, holder_jwk)
        views = self.views if holder_jwk is not None else ()
        # one draw from the system CSPRNG for the licence's id and every view's jti
        random = secrets.token_bytes(_LICENCE_ID_RANDOM + _VIEW_JTI * len(views))
        jti = new_licence_id(random[:_LICENCE_ID_RANDOM])
        credential_claims = {**fields, **base, "jti": jti}
        if status is not None:
            credential_claims["status"] = dict(status)
        inputs = [self._credential.signing_input(credential_claims)]
        inputs += self._view_inputs(views, fields, base, nbf, exp, view_status, random[_LICENCE_ID_RANDOM:])
        return Unsigned(jti, exp, self.view_names if views else (), inputs)

    def sign_prepared(self, licences: Sequence[Unsigned]) -> list[Issued]:
        """Sign licences :meth:`prepare` made: every signature in one loop, then the JWS."""
        sign = self._credential.sign  # the one key, for the credentials and the views
        signatures = iter(list(map(sign, [m for u in licences for m in u.inputs])))
        out = []
        for u in licences:
            jws = [join_compact(m, next(signatures)) for m in u.inputs]
            out.append(Issued(self.licence_type, u.jti, jws[0], dict(zip(u.names, jws[1:])), self.now, u.expires_at))
        return out

    def sign_views(self, fields: Mapping[str, Any], *, holder_jwk: Mapping[str, str], exp: int,
                   view_status: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, str]:
        """New views of an issued licence (see :func:`sign_views`)."""
        nbf = max(self.now, _start_of_validity(fields) or self.now)
        base = self._base(nbf, exp, holder_jwk)
        random = secrets.token_bytes(_VIEW_JTI * len(self.views))
        inputs = self._view_inputs(self.views, fields, base, nbf, exp, view_status, random)
        return {name: join_compact(m, self._view.sign(m)) for name, m in zip(self.view_names, inputs)}

    def _base(self, nbf: int, exp: int, holder_jwk: Mapping[str, str] | None) -> dict[str, Any]:
        """The claims every JWS of a licence carries (the views override ``exp``)."""
        base: dict[str, Any] = {"iss": self.authority, "iat": self.now, "exp": exp, "vct": self.licence_type}
        if nbf != self.now:  # omitted when it equals iat (RFC 7519 4.1.5 makes it optional): QR bytes count
            base["nbf"] = nbf
        if holder_jwk is not None:
            base["cnf"] = {"jwk": dict(holder_jwk)}
        return base

    def _view_inputs(self, views: Sequence[tuple[str, Disclosure]], fields: Mapping[str, Any],
                     base: Mapping[str, Any], nbf: int, exp: int,
                     view_status: Mapping[str, Mapping[str, Any]] | None, random: bytes) -> list[bytes]:
        inputs = []
        # VIEW_DAYS from the licence's start: a licence that starts later (a renewal issued
        # early) gets views usable from its first day, not views that expire before it
        view_until = min(exp, nbf + VIEW_DAYS * _DAY)
        jtis = b64url_encode(random)  # each view's jti is its own slice of the one encoding
        signing_input = self._view.signing_input
        for i, (name, disclosure) in enumerate(views):
            v, view_exp = disclosure.claims(fields, nbf=nbf, exp=view_until)  # a new dict: filled in here
            v.update(base)
            v["exp"] = view_exp
            v["scn"] = name
            v["jti"] = jtis[_VIEW_JTI_CHARS * i:_VIEW_JTI_CHARS * (i + 1)]
            if view_status and name in view_status:
                v["status"] = dict(view_status[name])
            inputs.append(signing_input(v))
        return inputs
