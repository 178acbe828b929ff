"""certfree keys: Ed25519 key generation, encrypted key files, JWK/JWKS, RFC 7638 kids,
the signed trust list, and the crash-safe file writes and JOSE helpers the other parts share;
every signature goes through one :class:`Signer` (a key file, or a PKCS#11 token:
:mod:`keys.hsm`); :mod:`keys.ceremony` signs trust lists with a root kept offline;
:mod:`keys.cli` holds the key commands, :mod:`keys.cli_base` the plumbing every command shares."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .files import atomic_write, private_file
from .jose import (
    ALGORITHM,
    Signer,
    canonical_json,
    key_id,
    public_jwk,
    public_key_from_jwk,
    sign_compact,
    thumbprint,
)

if TYPE_CHECKING:
    from .authorities import AUTHORITIES, Authority, authority_for
    from .store import PASSPHRASE_ENV, IssuerKey, KeyDir, KeyStoreError

# The verifier SDK (the certfree-verifier distribution) ships only this package's JOSE
# helpers, QR envelope and file helpers; the key directory and the authorities come with
# the full certfree distribution, so they are imported when first asked for (PEP 562).
_LATER = {
    "AUTHORITIES": "authorities", "Authority": "authorities", "authority_for": "authorities",
    "KeyDir": "store", "IssuerKey": "store", "KeyStoreError": "store", "PASSPHRASE_ENV": "store",
}


def __getattr__(name: str) -> Any:
    module = _LATER.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    # authorities
    "AUTHORITIES",
    "Authority",
    "authority_for",
    # key directory
    "KeyDir",
    "IssuerKey",
    "KeyStoreError",
    "PASSPHRASE_ENV",
    # JOSE
    "ALGORITHM",
    "Signer",
    "canonical_json",
    "key_id",
    "public_jwk",
    "public_key_from_jwk",
    "sign_compact",
    "thumbprint",
    # files
    "atomic_write",
    "private_file",
]
