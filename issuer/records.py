"""The issuer's record-keeping services: issue and record a licence, change its status,
list licences, and build / publish the signed status lists.

Every function takes a SQLAlchemy ``Session``; the caller commits (or rolls back)::

    with session_factory(make_engine(url))() as session:
        issued = issue_licence(session, keys, "id_card", claims, holder_jwk=jwk)
        session.commit()

Status indexes: each licence gets one entry for its full credential and one per scenario
view, each a random free index (``secrets.randbelow``) in its authority's open list. An
index is never reused, and a list is closed for new entries when half full, so probing
stays cheap and the index says nothing about when a licence was issued.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Collection, Iterable, Iterator, Mapping, Sequence, cast

from sqlalchemy import CursorResult, delete, func, insert, inspect, select, tuple_, update
from sqlalchemy.orm import Session

from keys import KeyDir, atomic_write, thumbprint
from keys.jose import ALGORITHM, b64url_encode, split_compact

from .credential import Issued, sign_licence, sign_views, view_names
from .db.models import LicenceRecord, SignedStatusList, StatusEntry, StatusList, StatusMark, utc
from .schemas import validate
from .status_list import LIST_TTL, STATE_VALUES, VALID, encode_list, list_uri, public_url, sign_list_with, status_ref

DEFAULT_LIST_SIZE = 1 << 20  # entries per status list (256 KiB as a raw 2-bit array)
MAX_FILL = 0.5  # a list takes no new entries once half of it is used
STATES = frozenset(STATE_VALUES)
REASON = re.compile(r"[a-z0-9_]{1,32}")  # fullmatch: "$" would let a final newline through
_ENVELOPE_CLAIMS = frozenset({"iss", "iat", "nbf", "exp", "jti", "vct", "scn", "cnf", "status"})


StatusRef = tuple[str, int]  # (status list id, index)
# A licence's record as rows: its row in ``licences`` and one row in ``status_entries``
# per status entry, as tuples in these column orders. Both ways of issuing write exactly
# these: issue_licence through the ORM, issuer.batch straight to the driver.
LICENCE_COLUMNS = ("id", "licence_type", "authority", "kid", "holder", "issued_at", "expires_at",
                   "status_list", "status_idx", "state", "credential_sha256")
ENTRY_COLUMNS = ("list_id", "idx", "licence_id", "scope")
Record = tuple[tuple[Any, ...], list[tuple[Any, ...]]]


class RecordError(LookupError):
    """No such licence, or a request the records cannot honour."""


class StateConflict(RecordError):
    """The licence is not in a state the change may start from (``state`` says which it is)."""

    def __init__(self, licence_id: str, state: str) -> None:
        super().__init__(f"licence {licence_id!r} is {state}")
        self.state = state


def credential_digest(credential: str) -> str:
    return b64url_encode(hashlib.sha256(credential.strip().encode("ascii")).digest())


# A batch's licences share one issue time and a few expiry times: each converted once, and
# the rows share the one datetime object (which the pickle to a batch's writer then sends once).
_utc = lru_cache(maxsize=1024)(utc)


def licence_rows(issued: Issued, authority: str, kid: str, holder: str | None,
                 refs: Sequence[StatusRef], scopes: Sequence[str]) -> Record:
    """The rows that record ``issued`` (``LICENCE_COLUMNS``, ``ENTRY_COLUMNS``): a new,
    valid licence whose full credential has ``refs[0]``, and one status entry per
    ``(ref, scope)`` pair ("credential", then each scenario view's name)."""
    lst, idx = refs[0]
    licence = (issued.jti, issued.licence_type, authority, kid, holder, _utc(issued.issued_at),
               _utc(issued.expires_at), lst, idx, "valid", credential_digest(issued.credential))
    return licence, [(l2, i2, issued.jti, scope) for (l2, i2), scope in zip(refs, scopes, strict=True)]


# ---- status index allocation -------------------------------------------------------------


def new_list_id(taken: Callable[[str], bool]) -> str:
    """A fresh status list id: 32 random bits, 6 base64url characters, for which
    ``taken`` (is it already a list?) is false."""
    while True:
        list_id = b64url_encode(secrets.token_bytes(4))
        if not taken(list_id):
            return list_id


class _Allocator:
    """Random free indexes in an authority's open list, none repeated within one call."""

    def __init__(self, session: Session, authority: str, now: int) -> None:
        self.session, self.authority, self.now = session, authority, now
        self.taken: set[tuple[str, int]] = set()
        self.current: StatusList | None = None

    def _open_list(self) -> StatusList:
        lst = self.current
        if lst is not None and lst.used < lst.size * MAX_FILL:
            return lst
        if lst is not None:
            lst.open = False
        with self.session.no_autoflush:
            lst = None
            for candidate in self.session.scalars(
                select(StatusList)
                .where(StatusList.authority == self.authority, StatusList.open.is_(True))
                .order_by(StatusList.created_at, StatusList.id)
            ):
                if candidate.used < candidate.size * MAX_FILL:
                    lst = candidate
                    break
                candidate.open = False
            if lst is None:
                list_id = new_list_id(lambda i: self.session.get(StatusList, i) is not None)
                lst = StatusList(id=list_id, authority=self.authority, size=DEFAULT_LIST_SIZE, used=0,
                                 created_at=utc(self.now), open=True)
                self.session.add(lst)
        self.current = lst
        return lst

    def allocate(self) -> tuple[str, int]:
        return self.allocate_many(1)[0]

    def allocate_many(self, count: int) -> list[tuple[str, int]]:
        """``count`` random free indexes: random candidates, one query for the ones
        already used, new draws for those (a list is at most half full, so few)."""
        lst = self._open_list()
        if count > 1 and lst.used + count > lst.size * MAX_FILL:  # near the fill limit: one by one
            return [ref for _ in range(count) for ref in self.allocate_many(1)]
        chosen: list[int] = []
        with self.session.no_autoflush:
            while len(chosen) < count:
                wanted = count - len(chosen)
                candidates = {secrets.randbelow(lst.size) for _ in range(wanted)}
                candidates -= {idx for (list_id, idx) in self.taken if list_id == lst.id}
                candidates -= set(chosen)
                if not candidates:
                    continue
                used = set(self.session.scalars(
                    select(StatusEntry.idx).where(StatusEntry.list_id == lst.id, StatusEntry.idx.in_(candidates))
                ))
                chosen.extend(sorted(candidates - used)[:wanted])
        if inspect(lst).pending:  # a list made in this session: nobody else counts in it yet
            lst.used = (lst.used or 0) + count
        else:
            # Counted in SQL (used = used + count): the value read above may be stale if
            # another issuer wrote since, and writing it back plus count would lose their
            # entries from the count. Flushed at once, so lst.used reads a number again.
            lst.used = StatusList.used + count  # type: ignore[assignment]
            self.session.flush()
        refs = [(lst.id, idx) for idx in chosen]
        self.taken.update(refs)
        secrets.SystemRandom().shuffle(refs)  # sorted() above must not order the views
        return refs



# ---- services ------------------------------------------------------------------------------


def issue_licence(
    session: Session,
    keys: KeyDir,
    licence_type: str,
    claims: Mapping[str, Any],
    *,
    holder_jwk: Mapping[str, str] | None = None,
    holder: str | None = None,
    now: int | None = None,
    alg: str = ALGORITHM,
) -> Issued:
    """Validate ``claims`` (raises ``ClaimsInvalid``), allocate status entries for the
    credential and each scenario view, sign them (headers naming ``alg``), and record the
    licence."""
    now = int(time.time()) if now is None else now
    fields = validate(licence_type, claims)
    key, _ = keys.signing_key(licence_type, now)
    allocator = _Allocator(session, key.authority, now)
    scenarios = view_names(licence_type) if holder_jwk is not None else []
    refs = allocator.allocate_many(1 + len(scenarios))
    cred_ref = refs[0]
    view_refs: dict[str, tuple[str, int]] = dict(zip(scenarios, refs[1:]))
    issued = sign_licence(
        keys,
        licence_type,
        fields,
        holder_jwk=holder_jwk,
        status=status_ref(*cred_ref),
        view_status={name: status_ref(*ref) for name, ref in view_refs.items()},
        now=now,
        alg=alg,
    )
    if holder is None and holder_jwk is not None:
        holder = thumbprint(holder_jwk)
    add_record(session, licence_rows(issued, key.authority, key.kid, holder, refs, ("credential", *scenarios)))
    session.flush()
    return issued


def add_record(session: Session, record: Record) -> LicenceRecord:
    """Add one licence's rows (:func:`licence_rows`) to ``session`` through the ORM: how
    :func:`issue_licence` records a licence, one by one; ``issuer.batch.record_batch``
    writes the same rows in bulk."""
    licence, entries = record
    row = LicenceRecord(**dict(zip(LICENCE_COLUMNS, licence)))
    for list_id, idx, _licence_id, scope in entries:
        row.entries.append(StatusEntry(list_id=list_id, idx=idx, scope=scope))
    session.add(row)
    return row


def set_status(session: Session, licence_id: str, state: str, *, reason: str, now: int | None = None,
               only_from: Collection[str] | None = None) -> LicenceRecord:
    """Set a licence's state ("valid", "revoked", "suspended") with a short reason code.
    Every status entry of the licence (credential and views) shows it once published.

    ``only_from``: the states the change may start from. The check and the write are one
    conditional UPDATE, so two changes at once cannot both pass a check made before
    either wrote (a reinstate overwriting a revoke); the loser raises ``StateConflict``."""
    if state not in STATES:
        raise ValueError(f"state must be one of {sorted(STATES)}")
    if not isinstance(reason, str) or not REASON.fullmatch(reason):
        raise ValueError("reason must be a short code: lowercase letters, digits, _ (at most 32)")
    now = int(time.time()) if now is None else now
    change = update(LicenceRecord).where(LicenceRecord.id == licence_id)
    if only_from is not None:
        change = change.where(LicenceRecord.state.in_(sorted(only_from)))
    result = session.execute(change.values(state=state, reason=reason, state_changed_at=utc(now)),
                             execution_options={"synchronize_session": False})
    changed = cast("CursorResult[Any]", result).rowcount
    record = session.get(LicenceRecord, licence_id, populate_existing=True)
    if record is None:
        raise RecordError(f"no licence {licence_id!r} / 无此证照 {licence_id!r}")
    if not changed:
        raise StateConflict(licence_id, record.state)
    _mark(session, licence_id, STATE_VALUES[state])
    return record


def _mark(session: Session, licence_id: str, value: int) -> None:
    """Show ``value`` at every status entry of the licence: its marks (none for valid), and
    a new revision of each of its lists, whose signed token is stale from this commit on
    (status_list_token). The licence's row is locked by the caller's UPDATE: two changes of
    one licence write its marks one after the other."""
    entries = session.execute(select(StatusEntry.list_id, StatusEntry.idx).where(StatusEntry.licence_id == licence_id)).all()
    if not entries:
        return
    session.execute(delete(StatusMark).where(tuple_(StatusMark.list_id, StatusMark.idx).in_([tuple(e) for e in entries])))
    if value != VALID:
        session.execute(insert(StatusMark), [{"list_id": list_id, "idx": idx, "value": value} for list_id, idx in entries])
    session.execute(update(StatusList).where(StatusList.id.in_(sorted({list_id for list_id, _ in entries})))
                    .values(revision=StatusList.revision + 1), execution_options={"synchronize_session": False})


def list_licences(session: Session, *, authority: str | None = None, holder: str | None = None) -> list[LicenceRecord]:
    return list(iter_licences(session, authority=authority, holder=holder))


def iter_licences(session: Session, *, authority: str | None = None, holder: str | None = None) -> Iterator[LicenceRecord]:
    """The licences in issue order, read 1,000 at a time (a city's are millions: never all
    in memory at once; a server-side cursor on PostgreSQL)."""
    query = select(LicenceRecord).order_by(LicenceRecord.issued_at, LicenceRecord.id).execution_options(yield_per=1000)
    if authority is not None:
        query = query.where(LicenceRecord.authority == authority)
    if holder is not None:
        query = query.where(LicenceRecord.holder == holder)
    return iter(session.scalars(query))


def _entries(session: Session, list_id: str) -> list[tuple[int, int]]:
    """(index, 2-bit status) of every entry of ``list_id`` that is not valid: the list's
    marks, read by their primary key from the list alone."""
    rows = session.execute(select(StatusMark.idx, StatusMark.value).where(StatusMark.list_id == list_id)
                           .order_by(StatusMark.idx))
    return [(idx, value) for idx, value in rows]


def status_list_tokens(session: Session, keys: KeyDir, *, list_ids: Iterable[str] | None = None,
                       now: int | None = None, max_age: int = LIST_TTL, best: bool = True) -> dict[str, str]:
    """list id -> signed status list token (by the owning authority's active key), for every
    list or for ``list_ids`` (an unknown id is left out), each as :func:`status_list_token`
    gives it. One query reads every list with its stored token; only a token that is stale
    costs more (a signature, or a new compression)."""
    now = int(time.time()) if now is None else now
    base = public_url()
    return {row.id: _token(session, keys, row, now, max_age, best, base) for row in _list_rows(session, list_ids)}


def status_list_token(session: Session, keys: KeyDir, list_id: str, *, now: int | None = None,
                      max_age: int = LIST_TTL, best: bool = False) -> str | None:
    """One list's signed token, or None for an unknown list id.

    The newest token is kept in ``signed_status_lists``, for every worker and process. It
    is served while it shows the list's current revision (no licence of the list changed
    state since), was signed by the authority's active key for the public URL of now, and
    is younger than ``max_age`` seconds: a revocation is served at once, and otherwise the
    same token (and ETag). A token that only aged, or whose key or URL changed, is signed
    again around the same compressed bit array (about 2 ms, the queries included); only a new revision is compressed
    again from the licences that are not valid: 50-250 ms for a million entries with zlib,
    about a second or more with ``best`` (zopfli, for ``certfree status publish``). The caller
    commits (the token it stores is kept for the others from then on).
    """
    now = int(time.time()) if now is None else now
    rows = _list_rows(session, [list_id])
    return _token(session, keys, rows[0], now, max_age, best, public_url()) if rows else None


def _list_rows(session: Session, list_ids: Iterable[str] | None) -> list[Any]:
    """Each list (all, or ``list_ids``) with its stored signed token (None if it has none),
    by list id."""
    query = (select(StatusList.id, StatusList.authority, StatusList.size, StatusList.revision, SignedStatusList)
             .outerjoin(SignedStatusList, SignedStatusList.list_id == StatusList.id))
    if list_ids is not None:
        query = query.where(StatusList.id.in_(list(list_ids)))
    return list(session.execute(query.order_by(StatusList.id)))


def _token(session: Session, keys: KeyDir, row: Any, now: int, max_age: int, best: bool, base: str) -> str:
    list_id, authority, size, revision, signed = row
    key = keys.key_for_authority(authority, now)
    kid = key[0].kid
    if signed is not None and signed.revision == revision:
        if signed.kid == kid and signed.base == base and 0 <= now - signed.signed_at < max_age:
            return str(signed.token)
        lst = signed.lst
    else:
        # The revision was read first: a change committed after it is in these entries
        # too, and the token stored as of the older revision is signed again later.
        lst = encode_list(size, _entries(session, list_id), best=best)
    token = sign_list_with(key, list_id, lst, now, base)
    _keep_signed(session, {"list_id": list_id, "revision": revision, "lst": lst, "kid": kid, "base": base,
                           "signed_at": now, "token": token})
    return token


def _keep_signed(session: Session, row: dict[str, Any]) -> None:
    """Store ``row`` as its list's signed token, unless the one stored is of a newer
    revision or was signed later for the same one (two workers signing at once)."""
    from sqlalchemy.dialects import postgresql, sqlite

    insert: Any = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(SignedStatusList).values(**row)
    table = SignedStatusList.__table__
    newer = (table.c.revision < stmt.excluded.revision) | (
        (table.c.revision == stmt.excluded.revision) & (table.c.signed_at <= stmt.excluded.signed_at))
    session.execute(stmt.on_conflict_do_update(index_elements=[table.c.list_id], set_={
        name: stmt.excluded[name] for name in row if name != "list_id"}, where=newer))


def publish_status_lists(session: Session, keys: KeyDir, out_dir: Path, *, now: int | None = None) -> dict[str, Path]:
    """Write ``<list id>.jws`` for every list and then ``index.json`` (``{"iat", "lists":
    [{"id", "uri"}, ...]}``) into ``out_dir``, each file atomically. Returns list id -> path."""
    now = int(time.time()) if now is None else now
    out_dir = Path(out_dir)
    tokens = status_list_tokens(session, keys, now=now)
    paths: dict[str, Path] = {}
    for list_id, token in tokens.items():
        path = out_dir / f"{list_id}.jws"
        atomic_write(path, token.encode("ascii") + b"\n")
        paths[list_id] = path
    index = {"iat": now, "lists": [{"id": list_id, "uri": list_uri(list_id)} for list_id in sorted(tokens)]}
    atomic_write(out_dir / "index.json", (json.dumps(index, indent=2) + "\n").encode("ascii"))
    return paths


# ---- re-issuance after a key compromise ------------------------------------------------------


@dataclass(frozen=True)
class Reissued:
    old_id: str
    issued: Issued


def kid_of_licence(session: Session, licence_id: str) -> str | None:
    """The kid that signed licence ``licence_id``, None if no such licence is recorded. The
    record stays in the session: :func:`reissued_as` and :func:`reissue_credential` find it
    there without asking the database again."""
    record = session.get(LicenceRecord, licence_id)
    return record.kid if record is not None else None


def reissued_as(session: Session, licence_id: str) -> str | None:
    """The id of the licence that re-issued ``licence_id`` (revoked with reason
    ``reissued``), None if it was not re-issued. The replacement is looked for only then."""
    record = session.get(LicenceRecord, licence_id)
    if record is None or record.state != "revoked" or record.reason != "reissued":
        return None
    return session.scalar(select(LicenceRecord.id).where(LicenceRecord.replaces == licence_id)
                          .order_by(LicenceRecord.issued_at.desc()).limit(1))


def count_for_kid(session: Session, kid: str) -> int:
    """How many licences ``kid`` signed, whatever their state (counted on its index)."""
    return int(session.scalar(select(func.count()).select_from(LicenceRecord).where(LicenceRecord.kid == kid)) or 0)


def reissue_credential(
    session: Session, keys: KeyDir, credential: str, *, kid: str | None = None, now: int | None = None
) -> Reissued:
    """Re-sign a credential the holder hands back (checked as :func:`_handed_back` says)
    with the authority's current key. The new licence records ``replaces``; the old one is
    revoked with reason ``reissued``. Views are made if the credential names a holder key.
    """
    now = int(time.time()) if now is None else now
    record, claims = _handed_back(session, credential)
    if kid is not None and record.kid != kid:
        raise RecordError(f"licence {record.id} was not signed by {kid} / 证照 {record.id} 不是由该密钥签发")
    return _reissue(session, keys, record, claims, _holder_jwk(claims), record.holder, "reissued", now)


def rebind_credential(
    session: Session, keys: KeyDir, credential: str, holder_jwk: Mapping[str, str] | None, *,
    reason: str = "device_replaced", now: int | None = None,
) -> Reissued:
    """Bind a licence to another holder key: the resident enrolled a new phone
    (``holder_jwk``), or removed the one it was bound to (None: a credential bound to no
    key, with no views, until a device is enrolled). The licence is re-signed with the same
    fields as a new licence that ``replaces`` it, with new status entries and views for the
    new key; the old one is revoked with ``reason``, so the old device's codes are refused
    at every desk once it syncs its status lists."""
    now = int(time.time()) if now is None else now
    record, claims = _handed_back(session, credential)
    holder = thumbprint(holder_jwk) if holder_jwk is not None else None
    return _reissue(session, keys, record, claims, holder_jwk, holder, reason, now)


def _reissue(session: Session, keys: KeyDir, record: LicenceRecord, claims: Mapping[str, Any],
             holder_jwk: Mapping[str, str] | None, holder: str | None, reason: str, now: int) -> Reissued:
    old_id, licence_type = record.id, record.licence_type
    if record.state == "revoked":
        raise RecordError(f"licence {old_id} is revoked; it is not re-issued / 证照 {old_id} 已注销，不予重签")
    fields = {k: v for k, v in claims.items() if k not in _ENVELOPE_CLAIMS}
    issued = issue_licence(session, keys, licence_type, fields, holder_jwk=holder_jwk, holder=holder, now=now)
    new = session.get(LicenceRecord, issued.jti)
    assert new is not None
    new.replaces = old_id
    if record.state == "suspended":  # a suspension carries over to the new licence
        set_status(session, issued.jti, "suspended", reason=record.reason or "carried_over", now=now)
    set_status(session, old_id, "revoked", reason=reason, now=now)
    session.flush()
    return Reissued(old_id, issued)


def refresh_views(session: Session, keys: KeyDir, credential: str, *, now: int | None = None) -> dict[str, str]:
    """New scenario views (scenario -> JWS) for a credential the holder hands back, signed
    now: views live ``VIEW_DAYS``, the credential a year, and a wallet asks for new views
    as its old ones near their end. Each keeps the view's status entry, so a revoke or a
    suspension shows on the new views as on the old. Refused (``RecordError``) for a
    credential not issued as it is, a revoked or expired licence, or one with no holder key."""
    now = int(time.time()) if now is None else now
    record, claims = _handed_back(session, credential)
    if record.state == "revoked":
        raise RecordError(f"licence {record.id} is revoked; it gets no new views / 证照 {record.id} 已注销，不再更新")
    if claims.get("exp", 0) <= now:
        raise RecordError(f"licence {record.id} has expired; it gets no new views / 证照 {record.id} 已过期，不再更新")
    holder_jwk = _holder_jwk(claims)
    if holder_jwk is None:
        raise RecordError(f"licence {record.id} names no holder key; it has no views / 证照 {record.id} 未绑定持证人设备")
    view_status = {e.scope: status_ref(e.list_id, e.idx) for e in record.entries if e.scope != "credential"}
    fields = {k: v for k, v in claims.items() if k not in _ENVELOPE_CLAIMS}
    return sign_views(keys, record.licence_type, fields, holder_jwk=holder_jwk, exp=claims["exp"],
                      scenarios=[name for name in view_names(record.licence_type) if name in view_status],
                      view_status=view_status, now=now)


def _handed_back(session: Session, credential: str) -> tuple[LicenceRecord, dict[str, Any]]:
    """The record of a credential a holder hands back, and its claims. The issuer keeps no
    personal data, so the holder's copy is the source; it is accepted only if its SHA-256
    matches the one recorded at issuance (a forgery made with a stolen key cannot be
    laundered)."""
    try:
        _, payload, _ = split_compact(credential.strip())
        claims = json.loads(payload)
        licence_id = claims["jti"]
    except (ValueError, KeyError, TypeError):
        raise RecordError("not a certfree credential / 不是本系统签发的凭证") from None
    record = session.get(LicenceRecord, licence_id) if isinstance(licence_id, str) else None
    if record is None:
        raise RecordError(f"no licence {licence_id!r} on record / 无此证照记录 {licence_id!r}")
    if record.credential_sha256 != credential_digest(credential):
        raise RecordError(f"licence {licence_id}: the credential differs from the one issued / 证照 {licence_id} 与签发时不一致")
    return record, claims


def _holder_jwk(claims: Mapping[str, Any]) -> dict[str, str] | None:
    cnf = claims.get("cnf")
    jwk = cnf.get("jwk") if isinstance(cnf, dict) else None
    return jwk if isinstance(jwk, dict) else None
