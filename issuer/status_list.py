"""Building and signing status list tokens (IETF OAuth Token Status List, draft-ietf-oauth-status-list).

A credential or view refers to its entry as ``"status": {"status_list": {"idx": i, "uri":
U}}``; ``U`` is the list's URI, the service's public base URL (``CERTFREE_PUBLIC_URL``,
default ``http://127.0.0.1:8000``, the demo's address) followed by ``/status/<list id>.jws``,
where the service serves the list. The list token says ``sub`` = ``U``, ``iat``, ``exp``
and ``ttl``. Credentials issued before carried ``"status": {"idx": i, "lst": list id}``;
the verifier still reads them (a list id is the last segment of its URI).

2 bits per entry (0 valid, 1 revoked, 2 suspended), entry ``i`` in bits ``2*(i%4)``..
of byte ``i//4``, least significant first; the array is DEFLATE-compressed in a zlib
stream. Zopfli (a DEFLATE encoder that searches harder; any zlib inflates its output) is
used when installed: for 1,000,000 entries with 1 % revoked it gives about 13 KB against
about 14.5 KB from zlib level 9. See ``bench/status_list.py``.
"""

from __future__ import annotations

import os
import zlib
from typing import Any, Iterable, Mapping

from keys import IssuerKey, KeyDir
from keys.jose import TYP_STATUS_LIST, Signer, b64url_encode, sign_compact

try:  # optional: a better DEFLATE encoder
    import zopfli.zlib as _zopfli
except ImportError:  # pragma: no cover - depends on the environment
    _zopfli = None

BITS = 2
VALID, REVOKED, SUSPENDED = 0, 1, 2
STATE_VALUES = {"valid": VALID, "revoked": REVOKED, "suspended": SUSPENDED}
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"
STATUS_PATH = "/status/{}.jws"  # the public endpoint (issuer/service/public.py) serving a list
#: A list token's ``exp``: past it no verifier uses the list. Longer than any scenario's
#: ``status_max_age_seconds`` (3 days at most), which decides staleness first.
LIST_LIFETIME = 7 * 86400
#: A list token's ``ttl``: how long a consumer may cache it before fetching it again (the
#: service re-signs a list at least this often, STATUS_RESIGN_SECONDS).
LIST_TTL = 900


def public_url() -> str:
    """The service's public base URL (``CERTFREE_PUBLIC_URL``), without a final slash. It
    goes into every status list URI, so keep it fixed while credentials referring to it
    live."""
    return (os.environ.get("CERTFREE_PUBLIC_URL") or DEFAULT_PUBLIC_URL).rstrip("/")


def list_uri(list_id: str, base: str | None = None) -> str:
    """The URI of status list ``list_id``: where the service serves it, and its token's ``sub``."""
    return (public_url() if base is None else base.rstrip("/")) + STATUS_PATH.format(list_id)


def status_ref(list_id: str, idx: int, base: str | None = None) -> dict[str, Any]:
    """The ``status`` claim of a credential or view whose entry is ``idx`` in ``list_id``."""
    return status_ref_at(list_uri(list_id, base), idx)


def status_ref_at(uri: str, idx: int) -> dict[str, Any]:
    """:func:`status_ref` for a list whose URI (:func:`list_uri`) is already made: batch
    issuance makes each list's URI once for a batch's thousands of entries."""
    return {"status_list": {"idx": idx, "uri": uri}}


def pack(size: int, entries: Iterable[tuple[int, int]] | Mapping[int, int]) -> bytes:
    """The raw bit array of ``size`` entries; ``entries`` gives (index, value) pairs that
    are not 0."""
    if size <= 0 or size % 4:
        raise ValueError("size must be a positive multiple of 4")
    data = bytearray(size // 4)
    items = entries.items() if isinstance(entries, Mapping) else entries
    for idx, value in items:
        if not 0 <= idx < size or not 0 <= value <= 3:
            raise ValueError(f"bad status entry {idx}={value}")
        shift = (idx & 3) << 1
        data[idx >> 2] = (data[idx >> 2] & ~(3 << shift)) | (value << shift)
    return bytes(data)


def compress(raw: bytes, *, best: bool = True) -> bytes:
    """A zlib stream of ``raw``: zopfli if available and ``best``, else zlib at its best
    settings. The service compresses with zlib (``best=False``), in the request that needs
    the list: for a million entries 1 % of them revoked, zopfli takes about 0.9 s and zlib
    50 ms, for 11 % more bytes. ``certfree status publish`` takes zopfli."""
    if best and _zopfli is not None and any(raw):
        return _zopfli.compress(raw, numiterations=1)
    packer = zlib.compressobj(9, zlib.DEFLATED, 15, 9, zlib.Z_FILTERED)
    return packer.compress(raw) + packer.flush()


def encode_list(size: int, entries: Any, *, best: bool = True) -> str:
    """A token's ``lst``: the bit array of ``size`` entries, compressed (:func:`compress`),
    in base64url. The costly part of signing a list."""
    return b64url_encode(compress(pack(size, entries), best=best))


def status_list_claims(list_id: str, authority: str, size: int, entries: Any, now: int,
                       base: str | None = None) -> dict[str, Any]:
    return encoded_list_claims(list_id, authority, encode_list(size, entries), now, base)


def encoded_list_claims(list_id: str, authority: str, lst: str, now: int, base: str | None = None) -> dict[str, Any]:
    """A list token's claims around ``lst`` (:func:`encode_list`), issued at ``now``."""
    return {
        "iss": authority,
        "sub": list_uri(list_id, base),
        "iat": int(now),
        "exp": int(now) + LIST_LIFETIME,
        "ttl": LIST_TTL,
        "status_list": {"bits": BITS, "lst": lst},
    }


def sign_status_list(keys: KeyDir, authority: str, list_id: str, size: int, entries: Any, now: int,
                     base: str | None = None) -> str:
    """The signed status list token, by ``authority``'s active key at ``now``; its URI
    starts with ``base`` (default: :func:`public_url`)."""
    return sign_encoded_list(keys, authority, list_id, encode_list(size, entries), now, base)


def sign_encoded_list(keys: KeyDir, authority: str, list_id: str, lst: str, now: int, base: str | None = None) -> str:
    """:func:`sign_status_list` for a bit array already encoded (:func:`encode_list`)."""
    return sign_list_with(keys.key_for_authority(authority, now), list_id, lst, now, base)


def sign_list_with(key: tuple[IssuerKey, Signer], list_id: str, lst: str, now: int, base: str | None = None) -> str:
    """:func:`sign_encoded_list` with the authority's key already looked up (``key`` as
    ``KeyDir.key_for_authority`` gives it: the entry, which names its authority, and its
    private key)."""
    entry, private_key = key
    claims = encoded_list_claims(list_id, entry.authority, lst, now, base)
    return sign_compact(claims, private_key, kid=entry.kid, typ=TYP_STATUS_LIST)
