"""Status lists (IETF OAuth Token Status List, draft-ietf-oauth-status-list), checked offline.

A status list token is a compact JWS (``typ`` ``statuslist+jwt``) signed by an issuer key
of the authority that owns the list::

    {"iss": authority, "sub": uri, "iat": time, "exp": time, "ttl": seconds,
     "status_list": {"bits": 2, "lst": base64url(zlib(bit array))}}

Entry ``i`` is held in bits ``2*(i%4)`` and ``2*(i%4)+1`` of byte ``i//4`` (least
significant bits first, as in the draft): 0 valid, 1 revoked (the draft's INVALID),
2 suspended.

A credential or view refers to its entry as the draft has it, ``"status": {"status_list":
{"idx": i, "uri": uri}}``, and the list is found by its ``sub``. Credentials issued before
carry ``"status": {"idx": i, "lst": list_id}``, and lists signed before have ``sub`` =
list id and no ``exp``/``ttl``: both are still read until they expire. A list's id is its
``sub`` when that is an id, else the last segment of its URI (``.../<id>.jws``).
Lists are verified once when loaded (signature, trusted key of the owning authority, size
caps before and while inflating); a lookup afterwards is one dict access and a shift.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping, TypeGuard

from cryptography.exceptions import InvalidSignature

from keys.jose import TYP_STATUS_LIST, b64url_decode, is_allowed_algorithm, signing_input, split_compact

from ._errors import (
    ClaimInvalid,
    ReportedStolen,
    Revoked,
    StatusListInvalid,
    StatusUnknown,
    Suspended,
    VerificationError,
    VerificationFailed,
)
from ._json import strict_json
from ._trust import TrustedKey, TrustStore

BITS = 2
VALID, REVOKED, SUSPENDED = 0, 1, 2
#: Used when there is no scenario (a bare credential check): 24 h, then warn.
DEFAULT_STATUS_MAX_AGE = 24 * 3600
DEFAULT_STATUS_UNKNOWN = "warn"
#: Caps, checked before anything is parsed or inflated.
MAX_STATUS_TOKEN = 2 * 1024 * 1024  # characters of the compact JWS
MAX_COMPRESSED = 1024 * 1024  # bytes of the zlib stream
MAX_INFLATED = 4 * 1024 * 1024  # bytes of bit array: 16,777,216 entries at 2 bits
LIST_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # fullmatch only: "$" would let a final newline through
# A list URI: http(s), printable ASCII without spaces, quotes or angle brackets, capped.
LIST_URI = re.compile(r"https?://[!#-;=?-~]{1,2000}", re.ASCII)
_ID_IN_URI = re.compile(r".*/([A-Za-z0-9_-]{1,64})\.jws", re.ASCII)
_MAX_INDEX = 2**40


def _invalid(detail: str) -> VerificationFailed:
    return VerificationFailed([StatusListInvalid(detail=detail)])


@dataclass(frozen=True)
class StatusList:
    """One verified status list."""

    list_id: str
    authority: str
    kid: str
    issued_at: int
    data: bytes = field(repr=False)
    token: str = field(repr=False, default="")
    uri: str | None = None  # the list's URI (its sub); None for a list signed with a bare id
    expires_at: int | None = None  # exp; None for a list signed before lists had one
    ttl: int | None = None

    @property
    def size(self) -> int:
        return len(self.data) * (8 // BITS)

    def get(self, idx: int) -> int:
        """The 2-bit status of entry ``idx`` (IndexError outside the list)."""
        return (self.data[idx >> 2] >> ((idx & 3) << 1)) & 3

    def age(self, now: float) -> int:
        return int(now - self.issued_at)

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at


@dataclass(frozen=True)
class StatusStore:
    """Verified status lists by list id and by URI; build it with :func:`load_status_lists`."""

    lists: Mapping[str, StatusList]
    trust_seq: int = 0
    by_uri: Mapping[str, StatusList] = field(default_factory=dict)

    def get(self, ref: str) -> StatusList | None:
        """The list whose URI or id is ``ref``."""
        return self.by_uri.get(ref) or self.lists.get(ref)

    def lookup(self, ref: str, idx: int) -> int | None:
        lst = self.get(ref)
        if lst is None or not 0 <= idx < lst.size:
            return None
        return lst.get(idx)

    def oldest_age(self, now: float) -> int | None:
        """Age in seconds of the oldest list held (None if none is held)."""
        return max((lst.age(now) for lst in self.lists.values()), default=None)


def parse_status_list(token: str, trust: TrustStore) -> StatusList:
    """Verify one status list token against ``trust``. Raises :class:`VerificationFailed`
    with ``status_list_invalid``."""
    if not isinstance(token, str) or len(token) > MAX_STATUS_TOKEN:
        raise _invalid("status list token too large")
    token = token.strip()
    try:
        header_bytes, payload, signature = split_compact(token)
        header = strict_json(header_bytes)
    except (ValueError, UnicodeDecodeError):
        raise _invalid("not a compact JWS") from None
    if not isinstance(header, dict):
        raise _invalid("bad header")
    if not is_allowed_algorithm(header.get("alg")) or header.get("typ") != TYP_STATUS_LIST or set(header) - {"alg", "kid", "typ"}:
        raise _invalid("bad header (alg, typ or extra members)")
    kid = header.get("kid")
    key = trust.by_kid(kid) if isinstance(kid, str) else None
    if key is None:
        raise _invalid("signed by a key that is not in the trust list")
    try:
        key.public_key.verify(signature, signing_input(header_bytes, payload))
    except InvalidSignature:
        raise _invalid("signature does not verify") from None
    try:
        claims = strict_json(payload)
    except (ValueError, UnicodeDecodeError):
        raise _invalid("payload is not JSON") from None
    if not isinstance(claims, dict):
        raise _invalid("payload is not an object")
    iss, sub, iat, body = claims.get("iss"), claims.get("sub"), claims.get("iat"), claims.get("status_list")
    list_id, uri = _list_names(sub)
    if not _is_index(iat):
        raise _invalid("bad iat")
    exp, ttl = claims.get("exp"), claims.get("ttl")
    if exp is not None and (not _is_index(exp) or exp <= iat):
        raise _invalid("bad exp")
    if ttl is not None and not _is_index(ttl):
        raise _invalid("bad ttl")
    if iss != key.authority:
        raise _invalid(f"list of {iss!r} signed by a key of {key.authority!r}")
    _check_key_at(key, iat)
    if not isinstance(body, dict) or body.get("bits") != BITS or not isinstance(body.get("lst"), str):
        raise _invalid("status_list must hold bits=2 and lst")
    if len(body["lst"]) > MAX_COMPRESSED * 4 // 3 + 4:
        raise _invalid("compressed list too large")
    try:
        compressed = b64url_decode(body["lst"])
    except ValueError:
        raise _invalid("lst is not base64url") from None
    return StatusList(list_id, key.authority, key.kid, iat, _inflate(compressed), token, uri, exp, ttl)


def _list_names(sub: Any) -> tuple[str, str | None]:
    """(list id, URI) of a list token's ``sub``: a URI (the draft), whose id is its last
    segment without ``.jws`` (or the whole URI if it has none), or a bare list id."""
    if isinstance(sub, str) and LIST_ID.fullmatch(sub):
        return sub, None
    if not isinstance(sub, str) or not LIST_URI.fullmatch(sub):
        raise _invalid("bad sub: neither a list URI nor a list id")
    named = _ID_IN_URI.fullmatch(sub)
    return (named.group(1) if named else sub), sub


def _check_key_at(key: TrustedKey, iat: int) -> None:
    if not key.not_before <= iat < key.not_after:
        raise _invalid("signed outside the key's validity")
    if key.state == "retired" and key.retired_at is not None and iat > key.retired_at:
        raise _invalid("signed after the key was retired")
    if key.state == "compromised" and (key.compromised_since is None or iat >= key.compromised_since):
        raise _invalid("signed after the key was reported compromised")


def _inflate(compressed: bytes) -> bytes:
    """Inflate once, with the output capped: a small stream cannot expand without limit."""
    if len(compressed) > MAX_COMPRESSED:
        raise _invalid("compressed list too large")
    inflater = zlib.decompressobj()
    try:
        data = inflater.decompress(compressed, MAX_INFLATED)
    except zlib.error:
        raise _invalid("lst is not a zlib stream") from None
    if inflater.unconsumed_tail:
        raise _invalid("inflated list too large")
    if not inflater.eof or inflater.unused_data:
        raise _invalid("truncated zlib stream or trailing data")
    if not data:
        raise _invalid("empty list")
    return data


def load_status_lists(
    source: str | Path | Iterable[str],
    trust: TrustStore,
) -> StatusStore:
    """Verify status lists from a folder of ``*.jws`` files (e.g. what ``certfree sync`` or
    ``certfree status publish`` wrote) or from an iterable of tokens.

    Every list must verify against ``trust``; one that does not raises
    :class:`VerificationFailed` (``status_list_invalid``). When two tokens carry the same
    list id, the newer one is kept.
    """
    if isinstance(source, (str, Path)):
        folder = Path(source)
        if not folder.is_dir():
            raise _invalid(f"no status list folder at {folder}")
        tokens: Iterable[str] = []
        texts = []
        for path in sorted(folder.glob("*.jws")):
            if path.stat().st_size > MAX_STATUS_TOKEN:
                raise _invalid(f"{path.name} too large")
            try:
                texts.append(path.read_text("ascii"))
            except (UnicodeDecodeError, OSError):
                raise _invalid(f"{path.name} cannot be read as a compact JWS") from None
        tokens = texts
    else:
        tokens = source
    lists: dict[str, StatusList] = {}
    for token in tokens:
        lst = parse_status_list(token, trust)
        held = lists.get(lst.list_id)
        if held is not None and held.authority != lst.authority:
            raise _invalid(f"list id {lst.list_id} claimed by two authorities")
        if held is None or lst.issued_at > held.issued_at:
            lists[lst.list_id] = lst
    by_uri = {lst.uri: lst for lst in lists.values() if lst.uri is not None}
    return StatusStore(MappingProxyType(lists), trust.seq, MappingProxyType(by_uri))


def check_status(
    store: StatusStore | None,
    claims: Mapping[str, Any],
    policy: Any,
    now: float,
    fail: Callable[[VerificationError], None],
) -> tuple[VerificationError, ...]:
    """Check the credential's status entry. Failures go to ``fail``; warnings are returned.

    No ``status`` claim: nothing to check. Otherwise the list must be held and no older
    than the policy's ``status_max_age_seconds`` (24 h without a scenario); if it is not,
    the status is unknown and the policy's ``status_unknown`` decides: "refuse" fails,
    "warn" accepts with a :class:`StatusUnknown` warning.
    """
    ref = claims.get("status")
    if ref is None:
        return ()
    entry = status_entry(ref)
    if entry is None:
        fail(ClaimInvalid(field="status"))
        return ()
    uri, list_id, idx = entry
    max_age = policy.status_max_age_seconds if policy is not None else DEFAULT_STATUS_MAX_AGE
    mode = policy.status_unknown if policy is not None else DEFAULT_STATUS_UNKNOWN
    if store is None:
        lst = None
    else:
        lst = store.by_uri.get(uri) if uri is not None else store.lists.get(list_id or "")
    if lst is None or lst.authority != claims.get("iss"):
        reason = "no status list held for this licence"
    elif lst.expired(now):
        reason = "status list has expired (exp)"
    elif now - lst.issued_at > max_age:
        reason = f"status list is {lst.age(now)} s old (limit {max_age} s)"
    elif idx >= lst.size:
        fail(StatusListInvalid(field="status", detail="index outside the list"))
        return ()
    else:
        value = lst.get(idx)
        if value == VALID:
            return ()
        if value == REVOKED:
            fail(Revoked(field="status"))
        elif value == SUSPENDED:
            stolen = claims.get("vct") == "ebike_registration"
            fail(ReportedStolen(field="status") if stolen else Suspended(field="status"))
        else:
            fail(StatusListInvalid(field="status", detail=f"undefined status value {value}"))
        return ()
    unknown = StatusUnknown(field="status", detail=reason)
    if mode == "refuse":
        fail(unknown)
        return ()
    return (unknown,)


def status_entry(ref: Any) -> tuple[str | None, str | None, int] | None:
    """(list URI, list id, index) of a ``status`` claim, one of the two set; None if it is
    neither the draft's ``{"status_list": {"idx", "uri"}}`` nor the older ``{"idx", "lst"}``."""
    if not isinstance(ref, dict):
        return None
    if "status_list" in ref:
        inner = ref["status_list"]
        if set(ref) != {"status_list"} or not isinstance(inner, dict) or set(inner) != {"idx", "uri"}:
            return None
        uri, idx = inner["uri"], inner["idx"]
        if not isinstance(uri, str) or not LIST_URI.fullmatch(uri) or not _is_index(idx):
            return None
        return uri, None, idx
    if set(ref) != {"idx", "lst"}:  # as strict as the draft's shape: no member it does not read
        return None
    list_id, idx = ref["lst"], ref["idx"]
    if not isinstance(list_id, str) or not _is_index(idx):
        return None
    return None, list_id, idx


def _is_index(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < _MAX_INDEX
