"""Sync a desk's cached trust list and status lists from the service, or from a folder.

Outside the pure verifier core (it opens sockets); it uses the verifier to check what it
fetched before anything replaces the cached files::

    certfree sync --from https://certfree.example/api --to /var/lib/desk --root root.jwk.json
    certfree sync --from /media/usb/certfree --to /var/lib/desk --root root.jwk.json

Source layout (the service's endpoints, or the same paths under a folder)::

    {base}/trust-list.jws          the trust list (a folder may also name it trust_list.jws)
    {base}/status/index.json       {"lists": [{"id": list id, "uri": list URI}, ...]}
                                   (bare ids, or a bare JSON list, also work)
    {base}/status/{list_id}.jws    one signed status list per id

Cache layout (``--to DIR``), ready for ``certfree verify --keys DIR --status DIR/status``::

    DIR/trust_list.jws  DIR/root.jwk.json  DIR/status/index.json  DIR/status/<id>.jws

A credential names its list by URI (``status.status_list.uri``, the Token Status List
draft); the list's token says the same URI in its signed ``sub``, so the verifier finds it
among the cached files by that, wherever the desk synced from (the service, or a USB
stick). The cached ``index.json`` maps each URI to its file:
``{"lists": [{"id", "uri", "file"}, ...]}``.

Order of work: fetch everything, verify everything (the trust list with the pinned root and
the rollback check against the cached one; each status list against the new trust list),
and only then write, each file with :func:`keys.files.atomic_write` (temp file, fsync,
rename): an interrupted or failed sync leaves every cached file whole, old or new. The
trust list is written first, so cached status lists always verify against it. A cached
status list newer than the fetched one is kept.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .files import atomic_write

MAX_TRUST_LIST = 256 * 1024
MAX_INDEX = 256 * 1024
MAX_STATUS_FILE = 2 * 1024 * 1024
DEFAULT_TIMEOUT = 15.0


class SyncError(Exception):
    """The source could not be read, or what it served is not a trust list and status lists.
    Nothing was written. ``code`` is stable: ``source_unreachable``, ``source_too_large``
    or ``source_malformed``; the message is in English and in Chinese."""

    MESSAGES_ZH = {
        "source_unreachable": "无法读取同步来源",
        "source_too_large": "同步来源的文件过大",
        "source_malformed": "同步来源的文件格式不对",
    }

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.message_zh = self.MESSAGES_ZH[code]

    def __str__(self) -> str:
        return f"{self.code}: {self.message_zh} / {self.message}"


def _reason(exc: BaseException) -> str:
    """What went wrong with a fetch, in a few words (an HTTP status, the OS's reason)."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return str(exc) or type(exc).__name__


@dataclass
class SyncResult:
    trust_seq: int
    trust_issued_at: int
    written: list[Path] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # list ids whose cached copy was newer
    lists: list[str] = field(default_factory=list)


def _is_url(source: str | Path) -> bool:
    return isinstance(source, str) and source.split(":", 1)[0].lower() in ("http", "https")


def _fetch(source: str | Path, rel: str, limit: int, timeout: float, alternatives: tuple[str, ...] = ()) -> bytes:
    if _is_url(source):
        url = str(source).rstrip("/") + "/" + urllib.parse.quote(rel)
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (http/https only)
                data = response.read(limit + 1)
        except (OSError, http.client.HTTPException) as exc:  # URLError, HTTPError, timeouts, a cut-off reply
            raise SyncError("source_unreachable", f"cannot fetch {url}: {_reason(exc)}") from None
    else:
        folder = Path(source)
        for name in (rel, *alternatives):
            path = folder / name
            if path.is_file():
                break
        else:
            raise SyncError("source_unreachable", f"{folder / rel} not found")
        try:
            with open(path, "rb") as fh:
                data = fh.read(limit + 1)
        except OSError as exc:
            raise SyncError("source_unreachable", f"cannot read {path}: {_reason(exc)}") from None
    if len(data) > limit:
        raise SyncError("source_too_large", f"{rel} is larger than {limit} bytes")
    return data


def _list_ids(raw: bytes) -> dict[str, str | None]:
    """list id -> the URI the index gives for it (None if it gives none)."""
    from verifier._status import LIST_ID

    try:
        index: Any = json.loads(raw)
    except (ValueError, RecursionError):
        raise SyncError("source_malformed", "status/index.json is not JSON") from None
    items = index.get("lists") if isinstance(index, dict) else index
    if not isinstance(items, list):
        raise SyncError("source_malformed", "status/index.json has no list of ids")
    ids: dict[str, str | None] = {}
    for item in items:
        list_id = item.get("id") if isinstance(item, dict) else item
        uri = item.get("uri") if isinstance(item, dict) else None
        if not isinstance(list_id, str) or not LIST_ID.fullmatch(list_id):
            raise SyncError("source_malformed", f"bad status list id in index: {list_id!r}")
        if uri is not None and not isinstance(uri, str):
            raise SyncError("source_malformed", f"bad status list URI in index for {list_id}")
        ids[list_id] = uri
    return dict(sorted(ids.items()))


def sync(
    source: str | Path,
    dest: str | Path,
    root_jwk: Mapping[str, Any],
    *,
    timeout: float = DEFAULT_TIMEOUT,
) -> SyncResult:
    """Fetch, verify, then atomically replace the cached trust list and status lists.

    Raises :class:`SyncError` (source unreadable) or ``verifier.VerificationFailed``
    (``trust_list_invalid``, ``trust_list_rollback``, ``status_list_invalid``); in both
    cases no cached file has been touched.
    """
    from verifier import VerificationFailed, load_trust_list, parse_status_list

    dest = Path(dest)
    # 1. fetch and verify the trust list, refusing one older than the cached one
    trust_raw = _fetch(source, "trust-list.jws", MAX_TRUST_LIST, timeout, ("trust_list.jws",))
    try:
        trust_text = trust_raw.decode("ascii").strip()
    except UnicodeDecodeError:
        raise SyncError("source_malformed", "trust list is not ASCII") from None
    held = None
    cached_trust = dest / "trust_list.jws"
    if cached_trust.is_file():
        try:
            held = load_trust_list(cached_trust.read_text("ascii"), root_jwk)
        except (VerificationFailed, UnicodeDecodeError):
            held = None  # a cached list that no longer verifies protects nothing
    trust = load_trust_list(trust_text, root_jwk, held=held)

    # 2. fetch and verify every status list against the new trust list
    ids = _list_ids(_fetch(source, "status/index.json", MAX_INDEX, timeout))
    fetched: dict[str, str] = {}
    uris: dict[str, str | None] = {}
    result = SyncResult(trust.seq, trust.issued_at)
    for list_id, uri in ids.items():
        raw = _fetch(source, f"status/{list_id}.jws", MAX_STATUS_FILE, timeout)
        try:
            token = raw.decode("ascii").strip()
        except UnicodeDecodeError:
            raise SyncError("source_malformed", f"status/{list_id}.jws is not ASCII") from None
        new = parse_status_list(token, trust)
        if new.list_id != list_id:
            raise SyncError("source_malformed", f"status/{list_id}.jws holds list {new.list_id}")
        if uri is not None and new.uri != uri:
            raise SyncError("source_malformed", f"status/{list_id}.jws is not the list at {uri}")
        uris[list_id] = new.uri
        cached = dest / "status" / f"{list_id}.jws"
        if cached.is_file():
            try:
                old = parse_status_list(cached.read_text("ascii"), trust)
            except (VerificationFailed, UnicodeDecodeError):
                old = None
            if old is not None and old.issued_at > new.issued_at:
                result.kept.append(list_id)
                uris[list_id] = old.uri
                continue
        fetched[list_id] = token
    result.lists = list(ids)

    # 3. write: trust list first (it still lists the keys older lists were signed with)
    writes: list[tuple[Path, bytes]] = []
    if held is None or trust.seq > held.seq or cached_trust.read_text("ascii").strip() != trust_text:
        writes.append((cached_trust, trust_text.encode("ascii") + b"\n"))
    writes.append((dest / "root.jwk.json", (json.dumps(dict(root_jwk), indent=2) + "\n").encode("utf-8")))
    for list_id, token in fetched.items():
        writes.append((dest / "status" / f"{list_id}.jws", token.encode("ascii") + b"\n"))
    index = {"lists": [{"id": i, "uri": uris[i], "file": f"{i}.jws"} for i in ids]}
    writes.append((dest / "status" / "index.json", (json.dumps(index, indent=2) + "\n").encode("ascii")))
    for path, data in writes:
        atomic_write(path, data)
        result.written.append(path)
    return result
