"""certfree keys: Ed25519 key generation, encrypted key files, JWK/JWKS, RFC 7638 kids,
the signed trust list, and the crash-safe file writes and JOSE helpers the other parts share;
every signature goes through one :class:`Signer` (a key file, or a PKCS#11 token:
:mod:`keys.hsm`); :mod:`keys.ceremony` signs trust lists with a root kept offline;
:mod:`keys.cli` holds the key commands, :mod:`keys.cli_base` the plumbing every command shares."""

from .authorities import AUTHORITIES, Authority, authority_for
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
from .store import PASSPHRASE_ENV, IssuerKey, KeyDir, KeyStoreError

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
