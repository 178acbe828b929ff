"""The offline root: trust lists signed on a machine that is never on a network.

The service host keeps its key folder without ``root.key.pem`` (only the pin,
``root.jwk.json``); the root private key stays on the offline machine. A change of keys
there (``keys rotate``, ``keys compromise``) writes ``trust_request.json``, the entries the
next trust list must carry, public keys only; an operator carries it across, signs it, and
carries the list back::

    service host                                offline machine
    certfree keys rotate --dir DIR ...
      -> DIR/trust_request.json     ------->    certfree keys sign-trust-list --root ROOT
                                                  --request trust_request.json --out trust_list.jws
    certfree keys import-trust-list <-------    trust_list.jws
      --dir DIR --file trust_list.jws

``sign-trust-list`` checks every entry before the root signs it (each kid is its key's
thumbprint, each authority signs only its own licence types) and numbers the list after
both the service's last number and its own (``ROOT/root_state.json``), so it never signs
two lists under one number. ``import-trust-list`` accepts a list only if it verifies with
the pinned root key, is newer than the one in use, and names only keys the host holds with
the same public key; then the new keys it lists become active (see
:meth:`keys.store.KeyDir.install_trust_list`).
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

from .authorities import AUTHORITIES
from .files import atomic_write, read_capped
from .jose import key_id, public_key_from_jwk, split_compact
from .store import KeyDir, KeyStoreError, _dump, passphrase_from_env, read_private_key, sign_trust_list

REQUEST_FILE = "trust_request.json"
ROOT_STATE_FILE = "root_state.json"
MAX_REQUEST_BYTES = 256 * 1024  # as large as a trust list may be (verifier/_trust.py)
_STATES = ("active", "retired", "compromised")


class CeremonyError(KeyStoreError):
    """A trust request or an imported trust list is refused; nothing was written."""


def request(store: KeyDir) -> dict[str, Any]:
    """What the offline root is asked to sign: the host's key entries and its last number."""
    return {
        "format": 1,
        "root_kid": key_id(public_key_from_jwk(store.root_public_jwk())),
        "after_seq": store.trust_seq,
        "keys": store.trust_entries(),
    }


def write_request(store: KeyDir) -> Path:
    """Write ``DIR/trust_request.json`` for the offline machine; its path."""
    path = store.path / REQUEST_FILE
    atomic_write(path, _dump(request(store)))
    return path


def read_request(path: Path) -> dict[str, Any]:
    """A trust request file, size-capped before it is parsed, every entry checked."""
    data = read_capped(path, MAX_REQUEST_BYTES, CeremonyError)
    try:
        value = json.loads(data.decode("utf-8"))
    except ValueError:
        raise CeremonyError(f"{path.name} is not JSON / {path.name} 不是 JSON 文件") from None
    check_request(value)
    return value  # type: ignore[no-any-return]


def check_request(value: Any) -> None:
    """Refuse a request the root must not sign: a kid that is not its key's thumbprint, a
    key listed twice, an unknown authority or state, or a licence type its authority does
    not sign. Raises :class:`CeremonyError` naming the entry."""
    if not isinstance(value, dict) or value.get("format") != 1 or not isinstance(value.get("keys"), list):
        raise CeremonyError("not a certfree trust request / 不是 certfree 信任列表签署申请")
    if not isinstance(value.get("after_seq"), int) or not isinstance(value.get("root_kid"), str):
        raise CeremonyError("trust request without its number or root / 签署申请缺少序号或根密钥标识")
    seen: set[str] = set()
    for number, entry in enumerate(value["keys"], 1):
        where = f"key {number}"
        try:
            if key_id(public_key_from_jwk(entry["jwk"])) != entry["kid"] or entry["kid"] in seen:
                raise CeremonyError(f"{where}: kid is not its key's thumbprint, or repeated / 第 {number} 个密钥：标识与公钥不符或重复")
            authority = AUTHORITIES.get(entry["authority"])
            if authority is None or entry["state"] not in _STATES:
                raise CeremonyError(f"{where}: unknown authority or state / 第 {number} 个密钥：签发机关或状态未知")
            if not set(entry["types"]) <= set(authority.licence_types) or not entry["types"]:
                raise CeremonyError(f"{where}: licence types its authority does not sign / 第 {number} 个密钥：证照类型超出其机关的签发范围")
            if not (isinstance(entry["nbf"], int) and isinstance(entry["exp"], int) and entry["nbf"] < entry["exp"]):
                raise CeremonyError(f"{where}: bad validity / 第 {number} 个密钥：有效期无效")
        except (KeyError, TypeError, ValueError):
            raise CeremonyError(f"{where}: malformed entry / 第 {number} 个密钥：格式错误") from None
        seen.add(entry["kid"])


def _root_file(root_dir: Path) -> tuple[Path, bool]:
    for name, encrypted in (("root.key.pem", True), ("root.UNENCRYPTED.key.pem", False)):
        if (root_dir / name).is_file():
            return root_dir / name, encrypted
    raise CeremonyError(f"no root private key in {root_dir} / {root_dir} 中没有根私钥")


def sign_request(root_dir: str | Path, value: dict[str, Any], *, passphrase: bytes | None = None,
                 now: int | None = None) -> tuple[str, int]:
    """On the offline machine: sign the trust list ``value`` (a checked request) asks for
    with the root key in ``root_dir``. Returns (trust list, its number); the number is
    recorded in ``root_dir/root_state.json`` before the list is returned."""
    root_dir = Path(root_dir)
    check_request(value)
    path, encrypted = _root_file(root_dir)
    passphrase = passphrase if passphrase is not None else passphrase_from_env()
    if encrypted and not passphrase:
        raise CeremonyError("set CERTFREE_KEY_PASSPHRASE to unlock the root key / 请设置 CERTFREE_KEY_PASSPHRASE 以解锁根密钥")
    root = read_private_key(path, passphrase if encrypted else None)
    if key_id(root.public_key()) != value["root_kid"]:
        raise CeremonyError("the request was made for another root key / 该申请针对的是另一个根密钥")
    state_path = root_dir / ROOT_STATE_FILE
    state: dict[str, Any] = (json.loads(state_path.read_text("utf-8")) if state_path.is_file()
                             else {"trust_seq": 0, "signed": []})
    seq = max(int(value["after_seq"]), int(state["trust_seq"])) + 1
    now = int(time.time()) if now is None else now
    token = sign_trust_list(value["keys"], root, seq=seq, now=now)
    state["trust_seq"] = seq
    state["signed"].append({"seq": seq, "iat": now, "sha256": hashlib.sha256(token.encode("ascii")).hexdigest()})
    atomic_write(state_path, _dump(state))  # the number first: never two lists under one number
    return token, seq


def import_trust_list(store: KeyDir, token: str, now: int | None = None) -> tuple[int, bool]:
    """On the service host: accept ``token`` if it verifies with the pinned root key, is
    newer than the list in use and names only keys this folder holds (same public keys);
    then install it. Returns (its number, whether a new request was written because the
    keys changed since the list was asked for)."""
    from verifier import VerificationFailed, load_trust_list

    now = int(time.time()) if now is None else now
    pin = store.root_public_jwk()
    try:
        held = load_trust_list(store.trust_list(), pin)
        trust = load_trust_list(token, pin, held=held)
    except VerificationFailed as exc:
        codes = ", ".join(f.code for f in exc.failures)
        raise CeremonyError(f"trust list refused ({codes}) / 信任列表被拒绝（{codes}）") from None
    if trust.seq <= held.seq:
        raise CeremonyError(f"trust list {trust.seq} is not newer than the one in use ({held.seq}) / 信任列表不比当前的新")
    entries = json.loads(split_compact(token.strip())[1])["keys"]
    for entry in entries:
        try:
            ours = store.public_jwk(entry["kid"])
        except KeyStoreError:
            ours = None
        if ours is None or ours.get("x") != entry["jwk"]["x"]:
            raise CeremonyError(f"the trust list names a key this host does not hold: {entry['kid']} / 信任列表中有本机没有的密钥")
    store.record_trust_seq(trust.seq)
    store.install_trust_list(token.strip(), entries, now)
    changed = store.trust_entries() != entries
    path = store.path / REQUEST_FILE
    if changed:
        write_request(store)
    else:
        path.unlink(missing_ok=True)
    return trust.seq, changed

