"""The holder's wallet on disk: the device key (encrypted at rest) and stored licences.

Layout of ``DIR`` (``certfree wallet init --dir DIR``)::

    device.key.pem         device private key, PKCS#8, encrypted with CERTFREE_WALLET_PASSPHRASE
    device.jwk.json        device public key (what credentials bind to in ``cnf``)
    licences/<type>.json   {"licence_type", "jti", "credential", "views": {scenario: JWS}}
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keys import atomic_write, public_jwk
from keys.store import KeyStoreError, passphrase_from_env, read_private_key, write_private_key

log = logging.getLogger("certfree.wallet")

WALLET_PASSPHRASE_ENV = "CERTFREE_WALLET_PASSPHRASE"


class WalletError(Exception):
    """The wallet is missing, locked, or holds nothing for the request."""


@dataclass(frozen=True)
class StoredLicence:
    licence_type: str
    jti: str
    credential: str
    views: Mapping[str, str]


class Wallet:
    def __init__(self, path: str | Path, passphrase: bytes | None = None) -> None:
        self.path = Path(path)
        if not (self.path / "device.jwk.json").is_file():
            raise WalletError(f"no wallet at {self.path} (run: certfree wallet init --dir {self.path})")
        self._passphrase = passphrase if passphrase is not None else passphrase_from_env(WALLET_PASSPHRASE_ENV)
        self._device: Ed25519PrivateKey | None = None

    @classmethod
    def init(cls, path: str | Path, *, passphrase: bytes | None = None, insecure_dev: bool = False) -> "Wallet":
        path = Path(path)
        if (path / "device.jwk.json").exists():
            raise WalletError(f"{path} already holds a wallet")
        passphrase = passphrase if passphrase is not None else passphrase_from_env(WALLET_PASSPHRASE_ENV)
        if not passphrase and not insecure_dev:
            raise WalletError(f"set {WALLET_PASSPHRASE_ENV} to encrypt the device key (or pass --insecure-dev)")
        key = Ed25519PrivateKey.generate()
        if insecure_dev:
            log.warning("writing an UNENCRYPTED device key to %s (--insecure-dev)", path)
        write_private_key(path / "device.key.pem", key, None if insecure_dev else passphrase)
        atomic_write(path / "device.jwk.json", json.dumps(public_jwk(key.public_key())).encode())
        (path / "licences").mkdir(exist_ok=True)
        wallet = cls(path, passphrase)
        wallet._device = key
        return wallet

    def device_jwk(self) -> dict[str, str]:
        return json.loads((self.path / "device.jwk.json").read_text("utf-8"))

    def device_key(self) -> Ed25519PrivateKey:
        if self._device is None:
            path = self.path / "device.key.pem"
            encrypted = b"ENCRYPTED" in path.read_bytes().split(b"\n", 1)[0]
            if encrypted and not self._passphrase:
                raise WalletError(f"{WALLET_PASSPHRASE_ENV} is not set; cannot unlock the device key")
            try:
                key = read_private_key(path, self._passphrase if encrypted else None)
            except KeyStoreError as exc:
                raise WalletError(str(exc)) from None
            self._device = key
        return self._device

    def store(self, licence_type: str, jti: str, credential: str, views: Mapping[str, str]) -> None:
        record = {"licence_type": licence_type, "jti": jti, "credential": credential, "views": dict(views)}
        atomic_write(self.path / "licences" / f"{licence_type}.json", json.dumps(record, indent=2).encode(), mode=0o600)

    def licences(self) -> list[StoredLicence]:
        out = []
        for path in sorted((self.path / "licences").glob("*.json")):
            data = json.loads(path.read_text("utf-8"))
            out.append(StoredLicence(data["licence_type"], data["jti"], data["credential"], data["views"]))
        return out

    def licence(self, licence_type: str) -> StoredLicence:
        for stored in self.licences():
            if stored.licence_type == licence_type:
                return stored
        raise WalletError(f"the wallet holds no {licence_type}")
