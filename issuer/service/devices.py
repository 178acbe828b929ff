"""Residents' devices: a phone's browser makes an Ed25519 key that cannot leave it
(Web Crypto, non-extractable) and enrols its public half here by signing a challenge; the
issuer then binds the resident's licences to that key. One device is active at a time: a
new one, or the removal of the active one, re-binds every licence and revokes the old
binding through the status lists. Functions take a ``session``; the caller commits.

The service never receives a device's private key: enrolment carries the public JWK and a
signature, and a device proves possession again each time it fetches its views.
"""

from __future__ import annotations

import secrets
from typing import Any, Mapping

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer.db import unix, utc
from issuer.records import RecordError, rebind_credential
from keys import KeyDir, thumbprint
from keys.jose import b64url_decode
from verifier import ed25519_strict_point as strict_point
from verifier import ed25519_verify

from .models import Device, Resident, WalletCredential, WalletView
from .residents import licences_of

CHALLENGE_SECONDS = 300  # a challenge is signed by the device within five minutes
PROOF_CONTEXT = b"certfree-device-proof/v1\n"  # what a device signs: this, purpose, "\n", challenge
PURPOSES = ("enrol", "sync")
LABEL_MAX = 80


class DeviceError(ValueError):
    """A device request refused, with a stable code (see ``issuer.service.errors``)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt="certfree-device-challenge")


def new_challenge(secret: str, resident_id: str, *, now: float) -> str:
    """A fresh challenge for ``resident_id``'s device to sign, good for CHALLENGE_SECONDS
    from ``now`` (the service's clock), signed by the service so it needs no storage."""
    return _serializer(secret).dumps({"r": resident_id, "t": int(now), "n": secrets.token_urlsafe(16)})


def signed_message(purpose: str, challenge: str) -> bytes:
    """The bytes a device signs to prove it holds its key, for ``purpose`` and ``challenge``."""
    return PROOF_CONTEXT + purpose.encode("ascii") + b"\n" + challenge.encode("ascii")


def public_key_of(jwk: Any) -> bytes:
    """The raw key of a device's public JWK: exactly ``{"crv": "Ed25519", "kty": "OKP", "x"}``
    (no private member, no other member), a canonical point not of small order (the
    verifier's rule), or ``DeviceError("device_key_invalid")``."""
    if not isinstance(jwk, dict) or set(jwk) != {"crv", "kty", "x"}:
        raise DeviceError("device_key_invalid")
    if jwk["crv"] != "Ed25519" or jwk["kty"] != "OKP" or not isinstance(jwk["x"], str):
        raise DeviceError("device_key_invalid")
    try:
        raw = b64url_decode(jwk["x"])
    except (ValueError, TypeError):
        raise DeviceError("device_key_invalid") from None
    if len(raw) != 32 or not strict_point(raw):
        raise DeviceError("device_key_invalid")
    return raw


def check_possession(secret: str, resident_id: str, purpose: str, jwk: Any, challenge: Any, signature: Any, *,
                     now: float) -> dict[str, str]:
    """Check that the device holding ``jwk``'s private key signed ``challenge`` (issued to
    this resident, not expired) for ``purpose``. Returns the JWK, reduced to its three members."""
    key = public_key_of(jwk)
    if not isinstance(challenge, str) or not isinstance(signature, str) or len(challenge) > 200:
        raise DeviceError("device_proof_invalid")
    try:
        data = _serializer(secret).loads(challenge)
    except BadSignature:
        raise DeviceError("device_proof_invalid") from None
    if not isinstance(data, dict) or data.get("r") != resident_id or purpose not in PURPOSES:
        raise DeviceError("device_proof_invalid")
    issued = data.get("t")
    if not isinstance(issued, int) or not issued - 30 <= now < issued + CHALLENGE_SECONDS:  # 30 s: hosts' clocks
        raise DeviceError("device_challenge_expired")
    try:
        raw_signature = b64url_decode(signature)
    except (ValueError, TypeError):
        raise DeviceError("device_proof_invalid") from None
    if not ed25519_verify(key, raw_signature, signed_message(purpose, challenge)):
        raise DeviceError("device_proof_invalid")
    return {"crv": "Ed25519", "kty": "OKP", "x": jwk["x"]}


def _label(text: Any) -> str:
    label = text.strip() if isinstance(text, str) else ""
    label = "".join(ch for ch in label if ch.isprintable())[:LABEL_MAX]
    return label or "手机 phone"


def _rebind(session: Session, keys: KeyDir, resident: Resident, jwk: Mapping[str, str] | None, reason: str,
            now: int) -> int:
    """Bind every licence the service holds for ``resident`` to ``jwk`` (None: to no key);
    the old licences are revoked with ``reason``. Returns how many were re-bound."""
    count = 0
    for row, record in licences_of(session, resident.id):
        if record.state == "revoked":
            continue  # a revoked licence stays as it is: the desk says why it is refused
        try:
            done = rebind_credential(session, keys, row.credential, jwk, reason=reason, now=now)
        except RecordError:
            continue
        session.delete(row)
        session.flush()
        fresh = WalletCredential(licence_id=done.issued.jti, resident_id=resident.id,
                                 licence_type=row.licence_type, credential=done.issued.credential)
        fresh.views = [WalletView(scenario=name, jws=jws) for name, jws in done.issued.views.items()]
        session.add(fresh)
        count += 1
    return count


def enrol_device(session: Session, keys: KeyDir, resident: Resident, jwk: Mapping[str, str], label: Any, *,
                 now: float) -> Device:
    """Make ``jwk`` the resident's active device and bind their licences to it. Enrolling
    the active device again changes nothing; a key enrolled by anyone before is refused."""
    thumb = thumbprint(jwk)
    active = resident.device
    if active is not None and active.thumbprint == thumb:
        return active
    if session.scalar(select(Device.id).where(Device.thumbprint == thumb)) is not None:
        raise DeviceError("device_key_taken")  # a removed key never comes back
    if active is not None:
        active.removed_at = utc(now)
    device = Device(resident=resident, public_jwk=dict(jwk), thumbprint=thumb, label=_label(label), created_at=utc(now))
    session.add(device)
    session.flush()
    _rebind(session, keys, resident, jwk, "device_replaced", int(now))
    return device


def remove_device(session: Session, keys: KeyDir, resident: Resident, device_id: int, *, now: float) -> Device:
    """Remove one of the resident's devices (a lost or sold phone). Removing the active one
    binds the licences to no key: the phone's codes are refused once desks sync, and the
    next device enrolled gets new ones."""
    device = session.get(Device, device_id)
    if device is None or device.resident_id != resident.id or device.removed_at is not None:
        raise DeviceError("device_not_found")
    was_active = resident.device is device
    device.removed_at = utc(now)
    session.flush()
    if was_active:
        _rebind(session, keys, resident, None, "device_removed", int(now))
    return device


def device_json(device: Device, *, active: Device | None) -> dict[str, Any]:
    return {
        "id": device.id,
        "label": device.label,
        "thumbprint": device.thumbprint,
        "created_at": unix(device.created_at),
        "removed_at": unix(device.removed_at) if device.removed_at else None,
        "active": device is active,
    }


__all__ = [
    "DeviceError", "new_challenge", "signed_message", "public_key_of", "check_possession",
    "enrol_device", "remove_device", "device_json", "CHALLENGE_SECONDS", "PURPOSES",
]
