"""The one signing interface: every signature certfree makes (credentials, views, status
lists, the trust list) goes through a :class:`Signer`.

A signer holds an Ed25519 key and answers ``sign(data) -> 64-byte signature`` and
``public_key()``. ``cryptography``'s :class:`Ed25519PrivateKey` is one (a key in a file of
the key store, parsed in this process); a :class:`TokenKey` such as
:class:`keys.hsm.TokenSigner` is the other (a key that lives in a PKCS#11 token and never
leaves it). Which one a key uses is chosen per
key in the key store's registry (:mod:`keys.store`).
"""

from __future__ import annotations

import abc

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


class TokenKey(abc.ABC):
    """An Ed25519 key whose private part is outside this process (a PKCS#11 token)."""

    @abc.abstractmethod
    def sign(self, data: bytes) -> bytes:
        """The Ed25519 signature (RFC 8032, pure EdDSA) of ``data``."""

    @abc.abstractmethod
    def public_key(self) -> Ed25519PublicKey:
        """The key's public half."""


#: What signs: a key parsed in this process (as it stands: no wrapper, no extra call per
#: signature) or a key in a token. Both answer ``sign(data)`` and ``public_key()``; nothing
#: else is accepted (``isinstance(key, Signer)``), so no other kind of key signs by mistake.
Signer = Ed25519PrivateKey | TokenKey
