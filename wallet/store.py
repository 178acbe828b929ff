"""The holder's wallet on disk: the device key (encrypted at rest) and stored licences.

Layout of ``DIR`` (``certfree wallet init --dir DIR``)::

    device.key.pem         device private key, PKCS#8, encrypted with CERTFREE_WALLET_PASSPHRASE
    device.jwk.json        device public key (what credentials bind to in ``cnf``)
    licences/<type>-<jti>.json   {"licence_type", "jti", "credential", "views": {scenario: JWS}}

One file per licence: a resident may hold two of a type (two e-bikes, two vehicles).
Wallets written before this layout have ``licences/<type>.json``; they are read as they
are, and replaced in the new layout when that licence is stored again.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keys import atomic_write, public_jwk
from keys.jose import b64url_decode
from keys.store import KeyStoreError, passphrase_from_env, read_private_key, write_private_key
from scenarios import licence_title_zh

log = logging.getLogger("certfree.wallet")

WALLET_PASSPHRASE_ENV = "CERTFREE_WALLET_PASSPHRASE"
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")  # licence types and ids (base64url)


class WalletError(Exception):
    """The wallet is missing, locked, or holds nothing for the request. ``message_zh`` is
    the same in Chinese (the command line prints both)."""

    def __init__(self, message: str, message_zh: str) -> None:
        super().__init__(message)
        self.message_zh = message_zh

    def __str__(self) -> str:
        return f"{self.args[0]} / {self.message_zh}"


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
            raise WalletError(f"no wallet at {self.path} (run: certfree wallet init --dir {self.path})",
                              f"{self.path} 下没有钱包（先运行 certfree wallet init --dir {self.path}）")
        self._passphrase = passphrase if passphrase is not None else passphrase_from_env(WALLET_PASSPHRASE_ENV)
        self._device: Ed25519PrivateKey | None = None

    @classmethod
    def init(cls, path: str | Path, *, passphrase: bytes | None = None, insecure_dev: bool = False) -> "Wallet":
        path = Path(path)
        if (path / "device.jwk.json").exists():
            raise WalletError(f"{path} already holds a wallet", f"{path} 下已有钱包")
        passphrase = passphrase if passphrase is not None else passphrase_from_env(WALLET_PASSPHRASE_ENV)
        if not passphrase and not insecure_dev:
            raise WalletError(f"set {WALLET_PASSPHRASE_ENV} to encrypt the device key (or pass --insecure-dev)",
                              f"请设置 {WALLET_PASSPHRASE_ENV} 以加密设备密钥（或使用 --insecure-dev）")
        # A new folder is the resident's alone: which licences they hold is nobody's to list.
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        if insecure_dev:
            log.warning("writing an UNENCRYPTED device key to %s (--insecure-dev)", path)
        write_private_key(path / "device.key.pem", key, None if insecure_dev else passphrase)
        atomic_write(path / "device.jwk.json", json.dumps(public_jwk(key.public_key())).encode())
        (path / "licences").mkdir(mode=0o700, exist_ok=True)
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
                raise WalletError(f"{WALLET_PASSPHRASE_ENV} is not set; cannot unlock the device key",
                                  f"未设置 {WALLET_PASSPHRASE_ENV}，无法解锁设备密钥")
            try:
                key = read_private_key(path, self._passphrase if encrypted else None)
            except KeyStoreError as exc:
                raise WalletError(str(exc), "无法解锁设备密钥：口令错误或文件已损坏") from None
            self._device = key
        return self._device

    def store(self, licence_type: str, jti: str, credential: str, views: Mapping[str, str], *,
              replaces: str | None = None) -> None:
        """Keep a licence (its own file, written atomically, mode 600). ``replaces``: the id
        of a licence this one takes the place of (a re-issue); its file goes once the new
        one is written, so a crash in between leaves both, never neither."""
        if not (_NAME.fullmatch(licence_type) and _NAME.fullmatch(jti)):  # they name the file
            raise WalletError(f"not a licence type and id: {licence_type!r}, {jti!r}", "证照类型或编号无效")
        record = {"licence_type": licence_type, "jti": jti, "credential": credential, "views": dict(views)}
        path = self.path / "licences" / f"{licence_type}-{jti}.json"
        atomic_write(path, json.dumps(record, indent=2).encode(), mode=0o600)
        for other, stored in self._files():  # the replaced licence, or this one in the old layout
            if other != path and stored.jti in (jti, replaces):
                other.unlink(missing_ok=True)

    def _files(self) -> list[tuple[Path, StoredLicence]]:
        out = []
        for path in sorted((self.path / "licences").glob("*.json")):
            data = json.loads(path.read_text("utf-8"))
            out.append((path, StoredLicence(data["licence_type"], data["jti"], data["credential"], data["views"])))
        return out

    def licences(self) -> list[StoredLicence]:
        return [stored for _path, stored in self._files()]

    def licence(self, licence_type: str) -> StoredLicence:
        """The licence of ``licence_type`` issued last (a wallet may hold several)."""
        held = [s for s in self.licences() if s.licence_type == licence_type]
        if not held:
            raise WalletError(f"the wallet holds no {licence_type}", f"钱包中没有{licence_title_zh(licence_type)}")
        return max(held, key=issued_at)


def claims_of(jws: str) -> dict[str, Any]:
    """The payload of a JWS the wallet holds, unverified: the holder's own copy, read for
    its dates (a desk verifies what it is shown)."""
    return dict(json.loads(b64url_decode(jws.split(".")[1])))


def issued_at(stored: StoredLicence) -> int:
    """When the stored credential was signed (its ``iat``)."""
    return int(claims_of(stored.credential)["iat"])


def views_end_within(views: Iterable[str], now: int, seconds: int) -> bool:
    """Whether the first of ``views`` (JWS) to end does so within ``seconds`` of ``now``
    (or is already over): the wallet's cue to ask for new ones."""
    ends = [int(claims_of(v)["exp"]) for v in views]
    return bool(ends) and min(ends) - now <= seconds
