"""Building a fresh presentation: a scenario view plus a holder proof made now."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Sequence

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keys.envelope import encode_presentation, jws_algorithm, proof_claims
from keys.jose import TYP_PROOF, sign_compact

from .store import StoredLicence, Wallet, WalletError, claims_of, issued_at

NONCE_BYTES = 8


@dataclass(frozen=True)
class Presentation:
    licence_type: str
    scenario: str
    presented_at: int
    view: str
    proof: str
    text: str  # the QR text


def holder_proof(view_jws: str, device_key: Ed25519PrivateKey, now: int, *, nonce: bytes | None = None) -> str:
    """The holder's proof over ``view_jws`` at ``now``: a short JWS by the device key, its
    header naming the view's algorithm ("EdDSA" or "Ed25519": one per QR envelope).
    ``nonce`` is for tests; a real proof takes ``NONCE_BYTES`` fresh random bytes."""
    nonce = secrets.token_bytes(NONCE_BYTES) if nonce is None else nonce
    claims = proof_claims(view_jws, now, nonce)
    return sign_compact(claims, device_key, kid=None, typ=TYP_PROOF, alg=jws_algorithm(view_jws))


def present_view(view_jws: str, device_key: Ed25519PrivateKey, *, licence_type: str, scenario: str, now: int | None = None) -> Presentation:
    now = int(time.time()) if now is None else now
    proof = holder_proof(view_jws, device_key, now)
    return Presentation(licence_type, scenario, now, view_jws, proof, encode_presentation(view_jws, proof))


def choose(
    licences: Sequence[StoredLicence],
    scenario: str,
    licence_type: str | None = None,
    prefer: Sequence[str] = (),
    *,
    licence: str | None = None,
    now: int | None = None,
) -> StoredLicence:
    """The stored licence to show for ``scenario``: among those with a view for it that is
    valid at ``now``, the type asked for, else the first in the order of ``prefer`` (a
    policy's ``accepts``), else any; of two of a type, the one issued last. ``licence``
    names one: its id (``jti``) or, for a vehicle or an e-bike, its plate (a resident with
    two e-bikes shows the one in front of the patrol). A view that has expired is never
    chosen over one a desk would accept."""
    now = int(time.time()) if now is None else now
    rank = {t: i for i, t in enumerate(prefer)}
    held = [s for s in licences if scenario in s.views and licence_type in (None, s.licence_type)
            and (licence is None or _named(s, licence))]
    usable = [s for s in held if _valid_at(s.views[scenario], now)]
    if usable:
        return min(usable, key=lambda s: (rank.get(s.licence_type, len(rank)), -issued_at(s)))
    if held:
        raise WalletError(f"the wallet's views for scenario {scenario!r} have expired or are not valid yet: "
                          "ask the issuer for new ones (certfree renew-views)",
                          f"钱包中用于场景 {scenario!r} 的凭证视图已过期或尚未生效，请向签发机关申请更新（certfree renew-views）")
    if licence is not None:
        raise WalletError(f"the wallet holds no licence {licence!r} with a view for scenario {scenario!r} "
                          "(certfree wallet list shows what it holds)",
                          f"钱包中没有可用于场景 {scenario!r} 的证照 {licence!r}（certfree wallet list 可列出钱包中的证照）")
    wanted = f"a {licence_type} view" if licence_type else "a view"
    raise WalletError(f"the wallet holds no licence with {wanted} for scenario {scenario!r}",
                      f"钱包中没有可用于场景 {scenario!r} 的证照")


def _named(stored: StoredLicence, licence: str) -> bool:
    """Whether ``licence`` is ``stored``'s id or its plate."""
    return licence == stored.jti or licence == claims_of(stored.credential).get("plate")


def _valid_at(view: str, now: int) -> bool:
    claims = claims_of(view)
    return int(claims.get("nbf", claims["iat"])) <= now < int(claims["exp"])


def present(
    wallet: Wallet,
    scenario: str,
    *,
    licence_type: str | None = None,
    prefer: Sequence[str] = (),
    licence: str | None = None,
    now: int | None = None,
) -> Presentation:
    """A fresh presentation of a stored licence for ``scenario`` (``licence``: see :func:`choose`)."""
    now = int(time.time()) if now is None else now
    stored = choose(wallet.licences(), scenario, licence_type, prefer, licence=licence, now=now)
    return present_view(stored.views[scenario], wallet.device_key(), licence_type=stored.licence_type, scenario=scenario, now=now)
