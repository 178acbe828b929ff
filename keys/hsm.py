"""Issuer keys in a PKCS#11 token: a hardware security module in production, SoftHSM2 in
the tests. The private key is made inside the token, marked sensitive and not extractable,
and never leaves it; the key store records only where it is (the token's label) and its
public key.

Configuration, from the environment of the process that signs:

``CERTFREE_PKCS11_MODULE``
    the token's PKCS#11 library (SoftHSM2: ``/usr/lib/softhsm/libsofthsm2.so``)
``CERTFREE_PKCS11_PIN`` or ``CERTFREE_PKCS11_PIN_FILE``
    the token's user PIN (or a file holding it)

Sessions and processes: a PKCS#11 library serves the process that initialised it; a
session opened before a ``fork`` is not the child's (SoftHSM2 with ``library.reset_on_fork
= true`` refuses it; an HSM's client library may do worse). So nothing is opened at import,
nor in the gunicorn master: the first signature in a process initialises the library and
opens one session per token, recorded with the process id. A forked child forgets them
(``os.register_at_fork``) and, checking the process id as well, opens its own on first use.

Needs the optional ``python-pkcs11`` package: ``pip install certfree[hsm]``.
"""

from __future__ import annotations

import os
import random
import threading
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .files import read_capped
from .jose import TokenKey
from .store import KeyStoreError

MODULE_ENV = "CERTFREE_PKCS11_MODULE"
PIN_ENV = "CERTFREE_PKCS11_PIN"
PIN_FILE_ENV = "CERTFREE_PKCS11_PIN_FILE"
ED25519_OID = "1.3.101.112"  # RFC 8410 id-Ed25519: the curve of CKK_EC_EDWARDS keys
MAX_PIN_FILE = 4096


class TokenError(KeyStoreError):
    """A PKCS#11 token cannot be used: no library configured, token or key missing, PIN
    refused, a signature failed. A :class:`KeyStoreError`, as a key file that cannot be read is."""


def _pkcs11() -> Any:
    try:
        import pkcs11
    except ImportError:
        raise TokenError("PKCS#11 support is not installed (pip install certfree[hsm]) / "
                         "未安装 PKCS#11 支持（pip install certfree[hsm]）") from None
    return pkcs11


def module_from_env() -> str:
    module = os.environ.get(MODULE_ENV)
    if not module:
        raise TokenError(f"set {MODULE_ENV} to the token's PKCS#11 library / 请设置 {MODULE_ENV} 为密码设备的 PKCS#11 库")
    return module


def pin_from_env() -> str:
    """The user PIN, from ``CERTFREE_PKCS11_PIN`` or the file ``CERTFREE_PKCS11_PIN_FILE`` names."""
    pin = os.environ.get(PIN_ENV)
    if pin:
        return pin
    path = os.environ.get(PIN_FILE_ENV)
    if path:
        text = read_capped(path, MAX_PIN_FILE, TokenError).decode("utf-8", "replace").strip()
        if text:
            return text
    raise TokenError(f"set {PIN_ENV} or {PIN_FILE_ENV} to the token's user PIN / 请设置 {PIN_ENV} 或 {PIN_FILE_ENV}（密码设备用户 PIN）")


# ---- per-process state ---------------------------------------------------------------

_lock = threading.RLock()
_pid: int | None = None
_libraries: dict[str, tuple[int, Any]] = {}  # module -> (process that initialised it, library)
_sessions: dict[tuple[str, str], Any] = {}  # (module, token label) -> session of this process
_handles: dict[tuple[str, str, str], Any] = {}  # (module, token, key label) -> private key object
_inherited: list[Any] = []  # a parent's sessions, kept unreferenced-but-alive: never closed here


def _forget_parent_sessions() -> None:
    """In a forked child: the parent's library state and sessions are not ours."""
    global _pid
    _inherited.extend(_sessions.values())
    _sessions.clear()
    _handles.clear()
    _pid = None


os.register_at_fork(after_in_child=_forget_parent_sessions)


def open_sessions() -> dict[str, int]:
    """Token label -> the process that opened this process's session on it (none yet: empty)."""
    with _lock:
        return {token: _pid or 0 for (_module, token) in _sessions}


def _library(module: str) -> Any:
    """The PKCS#11 library ``module``, initialised in this process."""
    global _pid
    pkcs11 = _pkcs11()
    if _pid != os.getpid():  # also covers a fork that register_at_fork did not see
        if _sessions:
            _forget_parent_sessions()
        _pid = os.getpid()
    known = _libraries.get(module)
    if known is None:
        try:
            lib = pkcs11.lib(module)  # loads and initialises it (or hands back its loaded copy)
        except pkcs11.PKCS11Error as exc:
            raise TokenError(f"cannot load PKCS#11 library {Path(module).name} ({type(exc).__name__}) / "
                             f"无法加载 PKCS#11 库 {Path(module).name}") from None
        try:
            lib.get_slots()
        except pkcs11.PKCS11Error:  # a copy some other code initialised before a fork
            _reinitialise(lib)
    elif known[0] != os.getpid():
        # Initialised by a parent before the fork: finalise (the child's copy may already be
        # reset, which the library reports as an error) and initialise it for this process.
        lib = known[1]
        _reinitialise(lib)
    else:
        return known[1]
    _libraries[module] = (os.getpid(), lib)
    return lib


def _reinitialise(lib: Any) -> None:
    """Finalise ``lib`` (a copy reset by the fork reports an error, ignored) and initialise it."""
    try:
        lib.finalize()
    except _pkcs11().PKCS11Error:
        pass
    lib.initialize()


def _session(module: str, token: str, pin: str) -> Any:
    pkcs11 = _pkcs11()
    key = (module, token)
    session = _sessions.get(key) if _pid == os.getpid() else None
    if session is None:
        try:
            session = _open(module, token, pin)
        except pkcs11.NoSuchToken:
            raise TokenError(f"no PKCS#11 token labelled {token!r} / 找不到标签为 {token!r} 的密码设备") from None
        except (pkcs11.PinIncorrect, pkcs11.PinInvalid, pkcs11.PinLenRange, pkcs11.PinLocked):
            raise TokenError(f"the token {token!r} refused the PIN / 密码设备 {token!r} 拒绝了 PIN") from None
        except pkcs11.PKCS11Error as exc:
            raise TokenError(f"cannot open a session on token {token!r} ({type(exc).__name__}) / 无法打开密码设备会话") from None
        _sessions[key] = session
    return session


def _open(module: str, token: str, pin: str) -> Any:
    """A logged-in session on ``token``. Processes that start at the same moment can see a
    passing failure (SoftHSM2's file store reads a token while another process writes it:
    CKR_GENERAL_ERROR or CKR_USER_PIN_NOT_INITIALIZED at log-in, or a token left out of the
    slot list when the library was initialised): tried again, up to five times over about a second, the library
    initialised anew first if this process has no session open, before the failure is
    reported."""
    pkcs11 = _pkcs11()
    for attempt in range(5):
        lib = _library(module)
        try:
            found = lib.get_token(token_label=token)
            try:
                return found.open(user_pin=pin, rw=True)
            except pkcs11.UserAlreadyLoggedIn:  # log-in is per process: another session did it
                return found.open(rw=True)
        except (pkcs11.GeneralError, pkcs11.NoSuchToken, pkcs11.DeviceError, pkcs11.FunctionFailed,
                pkcs11.UserPinNotInitialized):
            if attempt == 4:
                raise
            time.sleep(0.05 * 2 ** attempt * (0.5 + random.random()))
            if not any(key[0] == module for key in _sessions):
                _reinitialise(lib)  # reads the token store again
    raise AssertionError("not reached")


def _reset(module: str, token: str) -> None:
    """Drop a session the token no longer honours (token reset, HSM restarted)."""
    dropped = _sessions.pop((module, token), None)
    if dropped is not None:
        _inherited.append(dropped)
    for handle in [h for h in _handles if h[:2] == (module, token)]:
        del _handles[handle]


# ---- keys ------------------------------------------------------------------------------


def _ec_point_to_raw(point: bytes) -> bytes:
    """CKA_EC_POINT of an Ed25519 key: the 32 bytes, DER OCTET STRING-wrapped or bare."""
    if len(point) == 34 and point[:2] == b"\x04\x20":
        return point[2:]
    if len(point) == 32:
        return point
    raise TokenError("the token's public key is not an Ed25519 point / 密码设备返回的公钥不是 Ed25519 公钥")


def generate(token: str, *, module: str | None = None, pin: str | None = None) -> tuple[str, Ed25519PublicKey]:
    """Make an Ed25519 key pair in ``token`` (private half sensitive, not extractable); label
    both halves with the key's certfree kid and return (kid, public key)."""
    from .jose import key_id

    pkcs11 = _pkcs11()
    from pkcs11 import Attribute, KeyType, Mechanism
    from pkcs11.util.ec import encode_named_curve_parameters

    module = module or module_from_env()
    pin = pin if pin is not None else pin_from_env()
    temporary = "certfree-new-" + os.urandom(8).hex()
    with _lock:
        session = _session(module, token, pin)
        try:
            public, private = session.generate_keypair(
                KeyType.EC_EDWARDS,
                public_template={Attribute.EC_PARAMS: encode_named_curve_parameters(ED25519_OID),
                                 Attribute.LABEL: temporary, Attribute.TOKEN: True, Attribute.VERIFY: True},
                private_template={Attribute.LABEL: temporary, Attribute.TOKEN: True, Attribute.PRIVATE: True,
                                  Attribute.SIGN: True, Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False},
                mechanism=Mechanism.EC_EDWARDS_KEY_PAIR_GEN,
                store=True,
            )
            public_key = Ed25519PublicKey.from_public_bytes(_ec_point_to_raw(public[Attribute.EC_POINT]))
            kid = key_id(public_key)
            for obj in (public, private):
                obj[Attribute.LABEL] = kid
                obj[Attribute.ID] = kid.encode("ascii")
        except pkcs11.PKCS11Error as exc:
            raise TokenError(f"token {token!r} could not make an Ed25519 key ({type(exc).__name__}) / "
                             f"密码设备 {token!r} 无法生成 Ed25519 密钥") from None
    return kid, public_key


class TokenSigner(TokenKey):
    """An Ed25519 key in a PKCS#11 token, signing with ``CKM_EDDSA`` in this process's session.

    The object itself holds no session: it can be made anywhere (the gunicorn master
    included) and used after a fork; the session is found, or opened, at each signature."""

    def __init__(self, token: str, label: str, public_key: Ed25519PublicKey, *,
                 module: str | None = None, pin: str | None = None) -> None:
        self.token = token
        self.label = label
        self._public = public_key
        self._module = module or module_from_env()
        self._pin = pin if pin is not None else pin_from_env()

    def __repr__(self) -> str:
        return f"TokenSigner(token={self.token!r}, label={self.label!r})"

    def public_key(self) -> Ed25519PublicKey:
        return self._public

    def sign(self, data: bytes) -> bytes:
        pkcs11 = _pkcs11()
        for attempt in (1, 2):
            with _lock:
                try:
                    return bytes(self._handle().sign(data, mechanism=pkcs11.Mechanism.EDDSA))
                except (pkcs11.SessionHandleInvalid, pkcs11.SessionClosed, pkcs11.DeviceRemoved,
                        pkcs11.TokenNotPresent, pkcs11.ObjectHandleInvalid, pkcs11.KeyHandleInvalid,
                        pkcs11.UserNotLoggedIn) as exc:
                    _reset(self._module, self.token)  # the token forgot us: one fresh session
                    if attempt == 2:
                        raise TokenError(f"token {self.token!r} cannot sign ({type(exc).__name__}) / 密码设备无法签名") from None
                except pkcs11.PKCS11Error as exc:
                    raise TokenError(f"token {self.token!r} cannot sign ({type(exc).__name__}) / 密码设备无法签名") from None
        raise AssertionError("not reached")

    def _handle(self) -> Any:
        pkcs11 = _pkcs11()
        cache_key = (self._module, self.token, self.label)
        session = _session(self._module, self.token, self._pin)
        handle = _handles.get(cache_key)
        if handle is None:
            try:
                handle = session.get_key(object_class=pkcs11.ObjectClass.PRIVATE_KEY,
                                         key_type=pkcs11.KeyType.EC_EDWARDS, label=self.label)
            except pkcs11.NoSuchKey:
                raise TokenError(f"token {self.token!r} holds no key {self.label!r} / 密码设备 {self.token!r} 中没有密钥 {self.label!r}") from None
            _handles[cache_key] = handle
        return handle
