"""A key directory: the root key, the issuer keys, their registry, JWKS and trust list.

Layout of ``DIR`` (``certfree keys init --dir DIR``)::

    registry.json          which keys exist, their authority, licence types, validity, state,
                           public key and custody (a file here, or a PKCS#11 token)
    root.key.pem           root private key, PKCS#8, encrypted with CERTFREE_KEY_PASSPHRASE
                           (absent on a service host whose root is kept offline)
    root.jwk.json          root public key: the pin a verifier is configured with
    issuers/<kid>.key.pem  issuer private keys, PKCS#8, encrypted (none for a key in a token)
    jwks.json              public issuer keys (RFC 7517 JWK Set)
    trust_list.jws         the trust list, signed by the root key
    trust_request.json     with the root offline: the keys the next trust list must list
                           (carried to the offline machine, see keys/ceremony.py)

Each issuer key signs through one interface (:data:`keys.jose.Signer`): a key in a file
is parsed here; a key whose registry entry says ``"custody": "pkcs11"`` lives in the named
token and signs there (:mod:`keys.hsm`); its private part is never on this disk.

With ``--insecure-dev`` private keys are written unencrypted, with ``.UNENCRYPTED`` in
their file names, a warning file beside them, and a warning logged on every load.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from .authorities import AUTHORITIES
from .files import atomic_write, secret_from_env
from .jose import ALGORITHM, TYP_TRUST_LIST, Signer, key_id, public_jwk, public_key_from_jwk, sign_compact

log = logging.getLogger("certfree.keys")

PASSPHRASE_ENV = "CERTFREE_KEY_PASSPHRASE"
ISSUER_KEY_YEARS = 5
_YEAR = 365 * 24 * 3600
INSECURE_NOTE = (
    "INSECURE DEVELOPMENT KEYS: the private keys in this folder are NOT encrypted.\n"
    "They were made with --insecure-dev and must never be used for real licences.\n"
    "不安全的开发密钥：本目录中的私钥未加密，仅供开发演示，严禁用于真实证照。\n"
)


class KeyStoreError(Exception):
    """A key directory is missing, unreadable, or its passphrase is wrong."""


@dataclass(frozen=True)
class IssuerKey:
    kid: str
    authority: str
    licence_types: tuple[str, ...]
    not_before: int
    not_after: int
    state: str  # "active" | "retired" | "compromised"; "pending" until a trust list lists it
    retired_at: int | None = None
    compromised_since: int | None = None
    # Where the private key lives: "file" (issuers/<kid>.key.pem) or "pkcs11" (in ``token``).
    # Registry only: the trust list carries what to_json gives, not these.
    custody: str = "file"
    token: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kid": self.kid,
            "authority": self.authority,
            "types": list(self.licence_types),
            "nbf": self.not_before,
            "exp": self.not_after,
            "state": self.state,
            "retired_at": self.retired_at,
            "compromised_since": self.compromised_since,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "IssuerKey":
        return cls(
            kid=data["kid"],
            authority=data["authority"],
            licence_types=tuple(data["types"]),
            not_before=int(data["nbf"]),
            not_after=int(data["exp"]),
            state=data["state"],
            retired_at=data.get("retired_at"),
            compromised_since=data.get("compromised_since"),
            custody=data.get("custody", "file"),
            token=data.get("token"),
        )


def passphrase_from_env(name: str = PASSPHRASE_ENV) -> bytes | None:
    """The passphrase in ``$NAME``, or in the file ``$NAME_FILE`` (as the service reads its
    secrets); None if neither is set. Raises :class:`KeyStoreError` if both are."""
    try:
        value = secret_from_env(name)
    except ValueError as exc:
        raise KeyStoreError(str(exc)) from None
    return value.encode("utf-8") if value else None


def write_private_key(path: Path, key: Ed25519PrivateKey, passphrase: bytes | None) -> None:
    """Write ``key`` as PKCS#8 PEM (mode 600), encrypted with ``passphrase``; ``None``
    writes it unencrypted (``--insecure-dev`` only)."""
    encryption: Any = NoEncryption() if passphrase is None else BestAvailableEncryption(passphrase)
    atomic_write(path, key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, encryption), mode=0o600)


def read_private_key(path: Path, passphrase: bytes | None) -> Ed25519PrivateKey:
    """Read an Ed25519 PKCS#8 PEM key (``passphrase`` None for an unencrypted one). Raises
    :class:`KeyStoreError` naming the file, never the passphrase."""
    try:
        pem = path.read_bytes()
    except FileNotFoundError:
        raise KeyStoreError(f"private key file missing: {path.name} / 私钥文件缺失：{path.name}") from None
    try:
        key = load_pem_private_key(pem, password=passphrase)
    except (ValueError, TypeError):
        raise KeyStoreError(f"cannot unlock {path.name}: wrong passphrase or damaged file / 无法解锁 {path.name}：口令错误或文件损坏") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyStoreError(f"{path.name} is not an Ed25519 key / {path.name} 不是 Ed25519 密钥")
    return key


class KeyDir:
    """A key directory on disk. Private keys are parsed once and cached.

    The registry (which keys exist and their states) is re-read when ``registry.json``
    changes on disk, checked at most every ``REFRESH_SECONDS``: a service that keeps one
    ``KeyDir`` stops signing with a key that ``certfree keys compromise`` or ``rotate``
    retired from another process, instead of until its restart."""

    REFRESH_SECONDS = 1.0

    def __init__(self, path: str | Path, passphrase: bytes | None = None) -> None:
        self.path = Path(path)
        self._passphrase = passphrase if passphrase is not None else passphrase_from_env()
        self._private: dict[str, Signer] = {}
        self._signing: dict[str, tuple[IssuerKey, Signer]] = {}  # cleared on any change
        if not (self.path / "registry.json").is_file():
            raise KeyStoreError(f"no key directory at {self.path} (run: certfree keys init --dir {self.path}) / {self.path} 不是密钥目录（请先运行 certfree keys init --dir {self.path}）")
        self._registry: dict[str, Any] = {}
        self._stamp: tuple[int, int, int] | None = None
        self._checked_at = float("-inf")
        self._load_registry()

    def _registry_stamp(self) -> tuple[int, int, int]:
        stat = (self.path / "registry.json").stat()
        return stat.st_mtime_ns, stat.st_size, stat.st_ino

    def _load_registry(self) -> None:
        stamp = self._registry_stamp()
        self._registry = json.loads((self.path / "registry.json").read_text("utf-8"))
        self._stamp, self._checked_at = stamp, time.monotonic()
        self._signing.clear()

    def _fresh(self, *, force: bool = False) -> None:
        """Re-read the registry if another process has changed it."""
        if not force and time.monotonic() - self._checked_at < self.REFRESH_SECONDS:
            return
        self._checked_at = time.monotonic()
        try:
            changed = self._registry_stamp() != self._stamp
        except OSError:
            return
        if changed:
            self._load_registry()

    # ---- creation -------------------------------------------------------------------

    @classmethod
    def init(
        cls,
        path: str | Path,
        *,
        passphrase: bytes | None = None,
        insecure_dev: bool = False,
        now: int | None = None,
        token: str | None = None,
    ) -> "KeyDir":
        """Create a root key and one issuer key per authority (in the PKCS#11 ``token`` if
        one is named, else in files), then publish JWKS and trust list."""
        path = Path(path)
        if (path / "registry.json").exists():
            raise KeyStoreError(f"{path} already holds keys; refusing to overwrite them / {path} 中已有密钥，不会覆盖")
        passphrase = passphrase if passphrase is not None else passphrase_from_env()
        if not insecure_dev and not passphrase:
            raise KeyStoreError(
                f"set {PASSPHRASE_ENV} to encrypt the private keys "
                "(or pass --insecure-dev for unencrypted development keys) / "
                f"请设置 {PASSPHRASE_ENV} 以加密私钥（或使用 --insecure-dev 生成不加密的开发密钥）"
            )
        now = int(time.time()) if now is None else now
        path.mkdir(parents=True, exist_ok=True)
        if insecure_dev:
            atomic_write(path / "INSECURE-DEV-KEYS.txt", INSECURE_NOTE.encode("utf-8"))
            log.warning("writing UNENCRYPTED development keys to %s (--insecure-dev)", path)
        root = Ed25519PrivateKey.generate()
        registry: dict[str, Any] = {
            "format": 1,
            "insecure_dev": insecure_dev,
            "trust_seq": 0,
            "root": {"kid": key_id(root.public_key())},
            "issuers": [],
        }
        store = cls.__new__(cls)
        store.path, store._passphrase, store._private, store._registry = path, passphrase, {}, registry
        store._signing, store._stamp, store._checked_at = {}, None, time.monotonic()  # written below
        store._write_private("root", root)
        atomic_write(path / "root.jwk.json", _dump(public_jwk(root.public_key())))
        for authority in AUTHORITIES.values():
            store._add_issuer_key(authority.name, now, token=token)
        store.publish(now)
        return store

    def _key_file(self, name: str) -> Path:
        suffix = ".UNENCRYPTED.key.pem" if self.insecure_dev else ".key.pem"
        if name == "root":
            return self.path / f"root{suffix}"
        return self.path / "issuers" / f"{name}{suffix}"

    def _write_private(self, name: str, key: Ed25519PrivateKey) -> None:
        if not (self.insecure_dev or self._passphrase):
            raise KeyStoreError(f"{PASSPHRASE_ENV} is not set; a new key would be written unencrypted / 未设置 {PASSPHRASE_ENV}，新密钥将无法加密")
        write_private_key(self._key_file(name), key, None if self.insecure_dev else self._passphrase)
        self._private[name] = key

    def _add_issuer_key(self, authority: str, now: int, *, token: str | None = None, state: str = "active") -> IssuerKey:
        """A new issuer key for ``authority``: made in the PKCS#11 ``token`` if one is named,
        else in this process and written encrypted to a file."""
        custody: dict[str, str] = {}
        if token is not None:
            from . import hsm

            kid, public = hsm.generate(token)
            custody = {"custody": "pkcs11", "token": token}
        else:
            key = Ed25519PrivateKey.generate()
            kid, public = key_id(key.public_key()), key.public_key()
            self._write_private(kid, key)
        entry = IssuerKey(
            kid=kid,
            authority=authority,
            licence_types=AUTHORITIES[authority].licence_types,
            not_before=now,
            not_after=now + ISSUER_KEY_YEARS * _YEAR,
            state=state,
        )
        self._registry["issuers"].append({**entry.to_json(), **custody, "jwk": public_jwk(public)})
        self._save_registry()
        return IssuerKey.from_json(self._registry["issuers"][-1])

    def _save_registry(self) -> None:
        self._signing.clear()
        atomic_write(self.path / "registry.json", _dump(self._registry))
        self._stamp = self._registry_stamp()

    # ---- reading --------------------------------------------------------------------

    @property
    def insecure_dev(self) -> bool:
        return bool(self._registry.get("insecure_dev"))

    def issuer_keys(self) -> list[IssuerKey]:
        self._fresh()
        return [IssuerKey.from_json(e) for e in self._registry["issuers"]]

    def private_key(self, name: str) -> Ed25519PrivateKey:
        """Load (once) the private key file ``name`` ("root" or an issuer kid)."""
        cached = self._private.get(name)
        if isinstance(cached, Ed25519PrivateKey):
            return cached
        path = self._key_file(name)
        if self.insecure_dev:
            log.warning("using UNENCRYPTED development key %s (--insecure-dev)", path.name)
        elif not self._passphrase:
            raise KeyStoreError(f"{PASSPHRASE_ENV} is not set; cannot unlock {path.name} / 未设置 {PASSPHRASE_ENV}，无法解锁 {path.name}")
        key = read_private_key(path, None if self.insecure_dev else self._passphrase)
        self._private[name] = key
        return key

    def signer(self, name: str) -> Signer:
        """The signer of key ``name`` ("root" or an issuer kid): its file, parsed once, or
        its PKCS#11 token, as the registry says. A token key opens no session here: the
        first signature in each process does (see :mod:`keys.hsm`)."""
        cached = self._private.get(name)
        if cached is not None:
            return cached
        data = next((e for e in self._registry["issuers"] if e["kid"] == name), None)
        if data is None or data.get("custody", "file") == "file":
            return self.private_key(name)
        if data["custody"] != "pkcs11":
            raise KeyStoreError(f"key {name!r}: unknown custody {data['custody']!r} / 密钥 {name!r} 的保管方式未知")
        from . import hsm

        signer: Signer = hsm.TokenSigner(data["token"], name, public_key_from_jwk(data["jwk"]))
        self._private[name] = signer
        return signer

    @property
    def root_online(self) -> bool:
        """Whether the root private key is in this folder (not kept offline)."""
        return self._key_file("root").is_file()

    def signing_key(self, licence_type: str, now: int) -> tuple[IssuerKey, Signer]:
        """The active key allowed to sign ``licence_type`` at ``now``."""
        self._fresh()
        cached = self._signing.get(licence_type)
        if cached is not None and cached[0].not_before <= now < cached[0].not_after:
            return cached
        for entry in reversed(self.issuer_keys()):
            if (
                entry.state == "active"
                and licence_type in entry.licence_types
                and entry.not_before <= now < entry.not_after
            ):
                found = entry, self.signer(entry.kid)
                self._signing[licence_type] = found
                return found
        raise KeyStoreError(f"no active issuer key may sign {licence_type!r} / 没有可签发 {licence_type!r} 的有效密钥")

    def key_for_authority(self, authority: str, now: int) -> tuple[IssuerKey, Signer]:
        for entry in reversed(self.issuer_keys()):
            if entry.state == "active" and entry.authority == authority and entry.not_before <= now < entry.not_after:
                return entry, self.signer(entry.kid)
        raise KeyStoreError(f"no active key for authority {authority!r} / 机关 {authority!r} 没有有效密钥")

    def root_public_jwk(self) -> dict[str, str]:
        return json.loads((self.path / "root.jwk.json").read_text("utf-8"))

    def jwks(self) -> dict[str, Any]:
        return json.loads((self.path / "jwks.json").read_text("utf-8"))

    def trust_list(self) -> str:
        return (self.path / "trust_list.jws").read_text("ascii").strip()

    # ---- lifecycle ------------------------------------------------------------------

    def _begin_change(self) -> None:
        """Before a change: unlock the root key, or with the root offline an issuer key file
        (a wrong or missing passphrase fails here, before anything is written), and read the
        registry as it is on disk, not an old copy."""
        self._fresh(force=True)
        if self.root_online:
            self.private_key("root")
        else:
            files = [e for e in self._registry["issuers"] if e.get("custody", "file") == "file"]
            if files:
                self.private_key(files[-1]["kid"])

    def _custody_of(self, authority: str, token: str | None, same_custody: bool) -> str | None:
        """The token a new key of ``authority`` goes in: ``token``, or with ``same_custody``
        that of the authority's newest key (None: a file)."""
        if token is not None or not same_custody:
            return token
        for data in reversed(self._registry["issuers"]):
            if data["authority"] == authority:
                return data.get("token") if data.get("custody") == "pkcs11" else None
        return None

    def rotate(self, authority: str, now: int | None = None, *, token: str | None = None,
               same_custody: bool = True) -> tuple[IssuerKey, list[IssuerKey]]:
        """A new active key for ``authority``; its active keys become "retired" at ``now``.

        A retired key signs nothing new; what it signed up to ``retired_at`` still verifies
        until it expires. Publishes a new trust list. Returns (new key, keys retired).

        The new key is made in the PKCS#11 ``token`` if one is named, else where the key it
        replaces lives (``same_custody=False``: in a file). With the root offline, the new
        key is "pending" and the old ones stay active: nothing changes for the desks until a
        trust list signed offline that lists the new key is imported
        (:func:`keys.ceremony.import_trust_list`), which activates it and retires them.
        """
        if authority not in AUTHORITIES:
            raise KeyStoreError(f"unknown authority {authority!r} / 未知的签发机关 {authority!r}")
        self._begin_change()
        now = int(time.time()) if now is None else now
        token = self._custody_of(authority, token, same_custody)
        if not self.root_online:
            pending = self._add_issuer_key(authority, now, token=token, state="pending")
            self._publish_or_request(now)
            return pending, []
        retired = []
        for data in self._registry["issuers"]:
            if data["authority"] == authority and data["state"] == "active":
                data["state"], data["retired_at"] = "retired", now
                retired.append(IssuerKey.from_json(data))
        new = self._add_issuer_key(authority, now, token=token)
        self.publish(now)
        return new, retired

    def compromise(self, kid: str, since: int, now: int | None = None) -> tuple[IssuerKey, IssuerKey | None]:
        """Mark ``kid`` "compromised" from ``since``: what it signed at or after ``since`` is
        refused. If it was its authority's active key, a replacement key is made. Publishes a
        new trust list. Returns (the compromised key, the replacement or None)."""
        now = int(time.time()) if now is None else now
        self._begin_change()
        for data in self._registry["issuers"]:
            if data["kid"] == kid:
                break
        else:
            raise KeyStoreError(f"no issuer key {kid!r} / 没有密钥 {kid!r}")
        was_active = data["state"] in ("active", "pending")
        # Never accept more than before: a second report cannot move the time later, and a
        # retired key keeps refusing what it signed after its retirement.
        refused_from = [int(since)]
        if data.get("compromised_since") is not None:
            refused_from.append(int(data["compromised_since"]))
        if data["state"] == "retired" and data.get("retired_at") is not None:
            refused_from.append(int(data["retired_at"]) + 1)  # retired keys refuse iat > retired_at
        data["state"], data["compromised_since"] = "compromised", min(refused_from)
        replacement = None
        if was_active and not any(
            e["authority"] == data["authority"] and e["state"] in ("active", "pending") for e in self._registry["issuers"]
        ):
            token = self._custody_of(data["authority"], None, True)
            state = "active" if self.root_online else "pending"
            replacement = self._add_issuer_key(data["authority"], now, token=token, state=state)
        else:
            self._save_registry()
        self._publish_or_request(now)
        return IssuerKey.from_json(data), replacement

    def issuer_key(self, kid: str) -> IssuerKey:
        for entry in self.issuer_keys():
            if entry.kid == kid:
                return entry
        raise KeyStoreError(f"no issuer key {kid!r} / 没有密钥 {kid!r}")

    # ---- publishing -----------------------------------------------------------------

    def public_jwk(self, kid: str) -> dict[str, str]:
        """The public JWK of issuer key ``kid``, from the registry (from its key file for a
        registry written before the registry held public keys)."""
        for data in self._registry["issuers"]:
            if data["kid"] == kid and "jwk" in data:
                return dict(data["jwk"])
        return public_jwk(self.private_key(kid).public_key())

    def trust_entries(self) -> list[dict[str, Any]]:
        """The key entries the next trust list carries: every issuer key, a pending one as
        active (listing it is what makes it usable)."""
        entries = []
        for entry in self.issuer_keys():
            item = {**entry.to_json(), "jwk": self.public_jwk(entry.kid)}
            if entry.state == "pending":
                item["state"] = "active"
            entries.append(item)
        return entries

    def _publish_or_request(self, now: int) -> None:
        """After a change: a new trust list, or with the root offline the request for one."""
        if self.root_online:
            self.publish(now)
        else:
            from .ceremony import write_request

            write_request(self)

    def publish(self, now: int | None = None) -> str:
        """Write ``jwks.json`` and a new trust list with the next sequence number, signed by
        the root key in this folder (with the root offline: :mod:`keys.ceremony`)."""
        if not self.root_online:
            raise KeyStoreError("the root key is offline: sign the trust list on the offline machine "
                                "(certfree keys sign-trust-list) / 根密钥离线保存：请在离线计算机上签署信任列表")
        now = int(time.time()) if now is None else now
        entries = self.trust_entries()
        seq = self.trust_seq + 1
        token = sign_trust_list(entries, self.signer("root"), seq=seq, now=now)
        # The number is recorded first: a crash before the list is written skips a number;
        # the other order could publish a different list under a number already used.
        self.record_trust_seq(seq)
        self.install_trust_list(token, entries, now)
        (self.path / "trust_request.json").unlink(missing_ok=True)  # a request made while the root was away
        return token

    @property
    def trust_seq(self) -> int:
        """The number of the newest trust list published or imported here."""
        return int(self._registry.get("trust_seq", 0))

    def record_trust_seq(self, seq: int) -> None:
        self._registry["trust_seq"] = max(seq, self.trust_seq)
        self._save_registry()

    def install_trust_list(self, token: str, entries: list[dict[str, Any]], now: int) -> None:
        """Make ``token`` (listing ``entries``, already verified) the published trust list:
        the pending keys it lists become active and the older active keys of their
        authorities retire at ``now``; ``jwks.json`` and ``trust_list.jws`` are rewritten."""
        listed = {e["kid"] for e in entries if e["state"] == "active"}
        promoted = [d for d in self._registry["issuers"] if d["state"] == "pending" and d["kid"] in listed]
        for new in promoted:
            for data in self._registry["issuers"]:
                if data["authority"] == new["authority"] and data["state"] == "active":
                    data["state"], data["retired_at"] = "retired", now
            new["state"] = "active"
        if promoted:
            self._save_registry()
        jwks = [{**e["jwk"], "kid": e["kid"], "alg": ALGORITHM, "use": "sig"} for e in entries]
        atomic_write(self.path / "jwks.json", _dump({"keys": jwks}))
        atomic_write(self.path / "trust_list.jws", token.encode("ascii") + b"\n")


def sign_trust_list(entries: list[dict[str, Any]], root: Signer, *, seq: int, now: int) -> str:
    """The trust list JWS listing ``entries``, number ``seq``, signed by ``root``."""
    claims = {"iss": "certfree-root", "iat": now, "seq": seq, "keys": entries}
    return sign_compact(claims, root, kid=key_id(root.public_key()), typ=TYP_TRUST_LIST)


def _dump(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")
