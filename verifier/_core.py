"""The offline verifier: QR text or image in, verified claims out, or one error that
lists every failed check. Pure: no network, no database, no clock of its own."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from keys import envelope
from keys.jose import (
    ALGORITHM,
    ALGORITHMS,
    TYP_CREDENTIAL,
    TYP_PROOF,
    TYP_VIEW,
    b64url_bytes,
    protected_header,
    raw_public_from_jwk,
    split_compact,
)
from scenarios import Policy, load_policies

from . import _ed25519
from . import _errors as E
from ._extras import decode_qr_image
from ._json import strict_json
from ._replay import MemoryReplayCache, ReplayCache
from ._status import StatusStore, check_status
from ._trust import TrustedKey, TrustStore

if TYPE_CHECKING:
    from PIL import Image

ALLOWED_ALGORITHMS = frozenset(ALGORITHMS)  # "EdDSA" and RFC 9864's "Ed25519": both Ed25519
MAX_JWS = 16 * 1024
DEFAULT_SKEW = 30
DEFAULT_FRESHNESS = 60
_IGNORED_HEADERS = frozenset({"jku", "x5u", "jwk", "x5c", "x5t", "x5t#S256", "cty"})

Clock = Callable[[], float]


@dataclass(frozen=True)
class VerifiedLicence:
    """What a successful verification returns."""

    licence_type: str
    claims: Mapping[str, Any]
    scenario: str | None
    authority: str
    kid: str
    issued_at: int
    expires_at: int
    presented_at: int | None = None
    warnings: tuple[E.VerificationError, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": True,
            "type": self.licence_type,
            "scenario": self.scenario,
            "claims": dict(self.claims),
            "authority": self.authority,
            "issued_at": self.issued_at,
            "expires_at": self.expires_at,
            "presented_at": self.presented_at,
            "warnings": [w.to_json() for w in self.warnings],
            "failures": [],
        }

    @classmethod
    def _filled(cls, **fields: Any) -> VerifiedLicence:
        """The verifier's own constructor: every field given, set in one step. A frozen
        dataclass's ``__init__`` sets its fields one ``object.__setattr__`` at a time:
        0.3-0.4 µs more of a 16 µs verify (docs/benchmarks.md, "Verifying presentations").
        tests/test_fast_paths.py holds the result equal to the one ``__init__`` builds."""
        result = object.__new__(cls)
        result.__dict__.update(fields)
        return result


@dataclass(slots=True)
class _Parsed:
    header: bytes
    payload: bytes
    claims: dict[str, Any]
    signature: bytes
    key: TrustedKey | None
    typ: str
    proof: envelope.Proof | None = None
    signed: bytes = b""  # the JWS signing input, base64url(header) "." base64url(payload)
    holder_key: bytes | None = None  # raw cnf key when the envelope carried it raw
    alg: str = ALGORITHM  # the header's alg (an envelope's holder proof names the same)


Fail = Callable[[E.VerificationError], None]  # each check reports every failure it finds


class Verifier:
    """Offline verifier for one desk.

    ``trust`` comes from :func:`verifier.load_trust_list`; ``clock`` returns the current
    Unix time (pass a fixed clock in tests and audits); ``replay_cache`` remembers holder
    proofs already seen; ``policies`` defaults to the packaged scenario policies.
    """

    def __init__(
        self,
        trust: TrustStore,
        *,
        clock: Clock = time.time,
        replay_cache: ReplayCache | None = None,
        policies: Mapping[str, Policy] | None = None,
        status: StatusStore | None = None,
    ) -> None:
        self.trust = trust
        self.clock = clock
        self.replay_cache: ReplayCache = replay_cache if replay_cache is not None else MemoryReplayCache()
        self.policies = policies if policies is not None else load_policies()
        self.status = status  # verified status lists (verifier.load_status_lists); None: none held

    # ---- public ---------------------------------------------------------------------

    def verify(
        self,
        qr: str | bytes | Path | Image.Image,
        scenario: str | None = None,
        *,
        now: float | None = None,
    ) -> VerifiedLicence:
        """Verify a QR text or a compact JWS (a ``str``, never a file name), or a QR image
        (bytes, a ``pathlib.Path`` or a PIL image).

        With ``scenario`` the input must be a live presentation; the scenario's policy is
        applied and only the claims it discloses are returned. Raises
        :class:`VerificationFailed` listing every failed check.
        """
        now = self.clock() if now is None else now
        policy = None
        if scenario is not None:
            policy = self.policies.get(scenario)
            if policy is None:
                raise E.VerificationFailed([E.UnknownScenario(field="scenario")])
        text = qr if isinstance(qr, str) else decode_qr_image(qr)
        parsed = self._parse(text)
        failures: list[E.VerificationError] = []
        fail = failures.append
        self._check_issuer(parsed, fail)
        self._check_times(parsed.claims, now, policy.clock_skew_seconds if policy else DEFAULT_SKEW, fail)
        presented_at = None
        if parsed.proof is not None or policy is not None:
            presented_at = self._check_holder(parsed, policy, now, fail)
        if policy is not None:
            self._check_policy(parsed.claims, policy, now, fail)
        warnings = check_status(self.status, parsed.claims, policy, now, fail)
        if failures:
            raise E.VerificationFailed(failures)
        claims = parsed.claims
        licence_type = claims["vct"]
        if policy is not None:
            disclosed = policy.disclosed_for(licence_type)
            shown = {k: v for k, v in claims.items() if k in disclosed}
        else:
            shown = {k: v for k, v in claims.items() if k not in _ENVELOPE_CLAIMS}
        assert parsed.key is not None
        return VerifiedLicence._filled(
            licence_type=licence_type,
            claims=shown,
            scenario=scenario,
            authority=parsed.key.authority,
            kid=parsed.key.kid,
            issued_at=claims["iat"],
            expires_at=claims["exp"],
            presented_at=presented_at,
            warnings=warnings,
        )

    # ---- parsing --------------------------------------------------------------------

    def _parse(self, text: str) -> _Parsed:
        text = text.strip()
        if text.startswith(envelope.PREFIX):
            return self._parse_envelope(text)
        if text.startswith("eyJ"):
            return self._parse_jws(text)
        if text.startswith(_CAPS_LOCK_PREFIX) and len(text) <= envelope.MAX_TEXT and text == text.lower():
            # A keyboard-wedge scanner typing with Caps Lock on turns every letter lower
            # case. Base45 has upper-case letters only, so this text has one meaning, the
            # code's own (a JWS typed so is lost: base64url is case-sensitive).
            return self._parse_envelope(text.upper())
        raise E.VerificationFailed([E.MalformedInput(detail="not a certfree QR code or JWS")])

    def _parse_envelope(self, text: str) -> _Parsed:
        try:
            _kind, kid_prefix, payload, claims, signature, proof, holder_key, alg = envelope.decode(text)
        except envelope.EnvelopeError as exc:
            raise E.VerificationFailed([E.MalformedInput(detail=exc.reason)]) from None
        key = self.trust.by_prefix(kid_prefix)
        if key is None:
            raise E.VerificationFailed([E.UnknownKey()])
        typ = TYP_VIEW if "scn" in claims else TYP_CREDENTIAL
        _require_claim_types(claims)
        header, signed_prefix = _header_template(key.kid, typ, alg)
        signed = signed_prefix + b64url_bytes(payload)
        return _Parsed(header, payload, claims, signature, key, typ, proof, signed, holder_key, alg)

    def _parse_jws(self, token: str) -> _Parsed:
        if len(token) > MAX_JWS:
            raise E.VerificationFailed([E.MalformedInput(detail="too long")])
        try:
            header_bytes, payload, signature = split_compact(token)
            header = strict_json(header_bytes)
            claims = strict_json(payload)
        except ValueError:
            raise E.VerificationFailed([E.MalformedInput(detail="not a compact JWS")]) from None
        if not isinstance(header, dict) or not isinstance(claims, dict):
            raise E.VerificationFailed([E.MalformedInput(detail="header or payload is not an object")])
        # The allow-list decides the algorithm; the token's header is only checked against it.
        alg = header.get("alg")
        if type(alg) is not str or alg not in ALLOWED_ALGORITHMS:
            raise E.VerificationFailed([E.UnsupportedAlgorithm(field="alg")])
        if "crit" in header:
            raise E.VerificationFailed([E.UnsupportedHeader(field="crit")])
        typ = header.get("typ")
        if typ not in (TYP_CREDENTIAL, TYP_VIEW):
            raise E.VerificationFailed([E.UnsupportedHeader(field="typ")])
        unknown = set(header) - {"alg", "kid", "typ"} - _IGNORED_HEADERS
        if unknown:
            raise E.VerificationFailed([E.UnsupportedHeader(field="header")])
        kid = header.get("kid")
        key = self.trust.by_kid(kid) if isinstance(kid, str) else None
        if key is None:
            raise E.VerificationFailed([E.UnknownKey()])
        if len(signature) != 64:
            raise E.VerificationFailed([E.SignatureInvalid()])
        _require_claim_types(claims)
        if (typ == TYP_VIEW) != ("scn" in claims):
            raise E.VerificationFailed([E.UnsupportedHeader(field="typ")])
        # split_compact accepts only canonical base64url, so the token's first two parts
        # are exactly the signing input.
        signed = token.rsplit(".", 1)[0].encode("ascii")
        return _Parsed(header_bytes, payload, claims, signature, key, typ, None, signed)

    # ---- checks ---------------------------------------------------------------------

    def _check_issuer(self, parsed: _Parsed, fail: Fail) -> None:
        key = parsed.key
        assert key is not None
        if not _ed25519.verify(key.raw, parsed.signature, parsed.signed):
            fail(E.SignatureInvalid())
        claims = parsed.claims
        licence_type = claims["vct"]
        if licence_type not in key.licence_types or claims["iss"] != key.authority:
            fail(E.KeyNotAuthorised(field="vct", detail=f"{key.authority} may not sign {licence_type}"))
        iat = claims["iat"]
        if not key.not_before <= iat < key.not_after:
            fail(E.KeyNotValid())
        if key.state == "retired" and key.retired_at is not None and iat > key.retired_at:
            fail(E.KeyNotValid(detail="signed after the key was retired"))
        if key.state == "compromised" and (key.compromised_since is None or iat >= key.compromised_since):
            fail(E.KeyCompromised())

    @staticmethod
    def _check_times(claims: Mapping[str, Any], now: float, skew: int, fail: Fail) -> None:
        if now >= claims["exp"] + skew:
            fail(E.Expired(field="exp"))
        if now + skew < claims.get("nbf", claims["iat"]) or now + skew < claims["iat"]:
            fail(E.NotYetValid(field="nbf"))

    def _check_holder(self, parsed: _Parsed, policy: Policy | None, now: float, fail: Fail) -> int | None:
        proof = parsed.proof
        if proof is None:
            fail(E.HolderProofMissing())
            return None
        holder_key = parsed.holder_key
        if holder_key is None:
            try:
                holder_key = _holder_key(parsed.claims["cnf"]["jwk"])
            except (TypeError, KeyError, ValueError):
                fail(E.HolderProofInvalid(field="cnf", detail="the view names no holder key"))
                return None
        view_jws = parsed.signed + b"." + b64url_bytes(parsed.signature)
        proof_signed = _PROOF_SIGNED_PREFIX[parsed.alg] + b64url_bytes(proof.payload(view_jws))
        if not _ed25519.verify(holder_key, proof.signature, proof_signed):
            fail(E.HolderProofInvalid())
            return None
        freshness = policy.freshness_seconds if policy else DEFAULT_FRESHNESS
        skew = policy.clock_skew_seconds if policy else DEFAULT_SKEW
        if proof.iat > now + skew:
            fail(E.PresentationFromFuture())
        elif now - proof.iat > freshness + skew:
            fail(E.PresentationStale())
        else:
            replay_key = hashlib.sha256(proof.signature).digest()
            if self.replay_cache.check_and_add(replay_key, proof.iat + freshness + skew + 1, now):
                fail(E.Replayed())
        return proof.iat

    @staticmethod
    def _check_policy(claims: Mapping[str, Any], policy: Policy, now: float, fail: Fail) -> None:
        licence_type = claims["vct"]
        if licence_type not in policy.accepts:
            fail(E.TypeNotAccepted(field="vct", detail=licence_type))
            return
        if claims.get("scn") != policy.name:
            fail(E.WrongScenario(field="scn", detail=str(claims.get("scn"))))
            return
        missing = policy.disclosed_for(licence_type).difference(claims)
        for name in sorted(missing):
            fail(E.ClaimMissing(field=name))
        if policy.min_age is None:
            return
        if policy.min_age == 18:  # the view carries the issuer's answer
            if "age_over_18" in claims and claims["age_over_18"] is not True:
                fail(E.UnderAge(field="age_over_18"))
        elif "birth_date" in claims:  # any other age: from the birth date (policy.py makes it disclosed)
            try:
                born = dt.date.fromisoformat(claims["birth_date"])
            except (TypeError, ValueError):
                fail(E.ClaimInvalid(field="birth_date"))
                return
            if age_on(born, china_date(now)) < policy.min_age:
                fail(E.UnderAge(field="birth_date"))


_ENVELOPE_CLAIMS = frozenset({"iss", "iat", "nbf", "exp", "jti", "vct", "scn", "cnf", "status"})


@lru_cache(maxsize=256)
def _header_template(kid: str | None, typ: str, alg: str) -> tuple[bytes, bytes]:
    """The protected header certfree signs for (kid, typ, alg), and base64url(header) + ".",
    built once per trusted key, type and algorithm name."""
    header = protected_header(kid, typ, alg)
    return header, b64url_bytes(header) + b"."


_CAPS_LOCK_PREFIX = envelope.PREFIX.lower()
_PROOF_SIGNED_PREFIX = {alg: _header_template(None, TYP_PROOF, alg)[1] for alg in ALGORITHMS}


def _holder_key(jwk: Mapping[str, Any]) -> bytes:
    """The raw 32-byte holder key of a ``cnf`` JWK (see :func:`keys.jose.raw_public_from_jwk`),
    decoded once per key: the same residents come back to the same desk."""
    if not isinstance(jwk, Mapping):
        raise TypeError("cnf.jwk is not an object")
    x = jwk.get("x")
    if type(x) is str and len(jwk) == 3 and jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519":
        return _raw_holder_key(x)
    return raw_public_from_jwk(jwk)  # anything unusual: the full check, which says why


@lru_cache(maxsize=4096)
def _raw_holder_key(x: str) -> bytes:
    return raw_public_from_jwk({"crv": "Ed25519", "kty": "OKP", "x": x})


_CHINA = dt.timezone(dt.timedelta(hours=8))


def china_date(now: float) -> dt.date:
    """The date in China (UTC+8, no daylight saving) at Unix time ``now``."""
    return dt.datetime.fromtimestamp(now, _CHINA).date()


def age_on(born: dt.date, day: dt.date) -> int:
    """Whole years from ``born`` to ``day`` (a 29 February birthday comes of age on 1 March
    in other years)."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


_REQUIRED_INT = ("iat", "exp")  # nbf is optional: absent means "valid from iat"
_MAX_TIME = 2**40


def _require_claim_types(claims: Mapping[str, Any]) -> None:
    # Fast path for the common case (every claim as it should be); the general checks
    # below name every bad claim.
    get = claims.get
    iat, exp, scn = get("iat"), get("exp"), get("scn", "")
    nbf = get("nbf", iat)
    if (
        type(iat) is int and type(nbf) is int and type(exp) is int
        and 0 <= iat < _MAX_TIME and 0 <= nbf < _MAX_TIME and 0 <= exp < _MAX_TIME
        and type(get("iss")) is str and type(get("vct")) is str and type(scn) is str
    ):
        return
    bad = [name for name in _REQUIRED_INT if not _is_time(claims.get(name))]
    if "nbf" in claims and not _is_time(claims["nbf"]):
        bad.append("nbf")
    bad += [name for name in ("iss", "vct") if not isinstance(claims.get(name), str)]
    if "scn" in claims and not isinstance(claims["scn"], str):
        bad.append("scn")
    if bad:
        raise E.VerificationFailed([E.ClaimInvalid(field=name) for name in bad])


def _is_time(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**40

