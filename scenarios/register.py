"""The desk's local register (SQLAlchemy 2.0).

A desk records each accepted presentation with ONLY the policy's register
fields (those present in the disclosed claims) plus the clerk's entries.  It
never stores a full credential, a JWS, a QR text or a signature: the caller
hands over claims, and everything outside ``policy.register`` is dropped.

Import it explicitly (``from scenarios.register import Register``); the
``scenarios`` package itself does not import SQLAlchemy.

Storage: one table, ``register_entries``: id, scenario, licence_type,
recorded_at (UTC), matter (nullable), fields (JSON text of the kept register
and clerk fields), desk (the recording desk's name, nullable).  Entries older
than their policy's ``retention_days`` are deleted by :meth:`Register.purge`,
and those of the scenario being recorded by :meth:`Register.record` itself.  Each :meth:`Register.record` is one committed transaction;
a file database runs in WAL mode with ``synchronous=FULL``, so a committed
record survives a crash or a power cut.
"""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import TracebackType
from typing import Any, Mapping, TextIO

from sqlalchemy import DateTime, Index, Integer, String, Text, create_engine, delete, event, inspect, select, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

from keys import private_file

from .licences import licence_title_en, licence_title_zh
from ._register_values import RegisterError, clerk_value, csv_cell, json_value, text_cell
from .policy import Policy, PolicyError, get_policy

__all__ = ["Base", "RegisterEntry", "Register", "RegisterError"]

MAX_MATTER_LENGTH = 64
MAX_DESK_LENGTH = 128


class UTCDateTime(TypeDecorator[datetime]):
    """Stores an aware datetime as naive UTC; returns an aware UTC datetime."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("recorded_at must be timezone-aware")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    pass


class RegisterEntry(Base):
    """One accepted presentation at a desk."""

    __tablename__ = "register_entries"
    __table_args__ = (
        Index("ix_register_entries_scenario_id", "scenario", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scenario: Mapped[str] = mapped_column(String(64), nullable=False)
    licence_type: Mapped[str] = mapped_column(String(64), nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    matter: Mapped[str | None] = mapped_column(String(MAX_MATTER_LENGTH), nullable=True)
    fields: Mapped[str] = mapped_column(Text, nullable=False)
    # The desk (its name) that recorded the entry; None for entries from before desks.
    desk: Mapped[str | None] = mapped_column(String(MAX_DESK_LENGTH), nullable=True)


def _url(url_or_path: str | Path) -> URL:
    if isinstance(url_or_path, str) and "://" in url_or_path:
        return make_url(url_or_path)
    if str(url_or_path) == ":memory:":
        return URL.create("sqlite", database=":memory:")
    path = Path(url_or_path).expanduser()
    private_file(path)  # names, ID numbers, addresses: the owner's alone (600)
    return URL.create("sqlite", database=str(path))


def _on_sqlite_connect(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")  # "memory" for :memory:, fine
        cursor.execute("PRAGMA synchronous=FULL")  # a commit is on disk
        cursor.execute("PRAGMA busy_timeout=5000")
    finally:
        cursor.close()


def _expired(policy: Policy, now: datetime) -> Any:
    """DELETE of ``policy``'s entries older than its retention period as of ``now``."""
    cutoff = now.astimezone(timezone.utc) - timedelta(days=policy.retention_days)
    return delete(RegisterEntry).where(RegisterEntry.scenario == policy.name, RegisterEntry.recorded_at < cutoff)


class Register:
    """The desk's local register.

    ``url_or_path``: a filesystem path (an SQLite file in WAL mode, created
    with its directory if absent) or an SQLAlchemy URL such as
    ``"sqlite:///desk.db"``.  Usable as a context manager.
    """

    def __init__(self, url_or_path: str | Path):
        url = _url(url_or_path)
        # The rows hold names, ID numbers and addresses: a failed INSERT must not put
        # them into an exception message, a traceback or a log line.
        self._engine: Engine = create_engine(url, hide_parameters=True)
        if self._engine.dialect.name == "sqlite":
            event.listen(self._engine, "connect", _on_sqlite_connect)
        Base.metadata.create_all(self._engine)
        with self._engine.begin() as conn:  # a register file from before the desk column
            if "desk" not in {c["name"] for c in inspect(conn).get_columns("register_entries")}:
                conn.execute(text(f"ALTER TABLE register_entries ADD COLUMN desk VARCHAR({MAX_DESK_LENGTH})"))
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)
        self._policies: dict[str, Policy] = {}

    @property
    def engine(self) -> Engine:
        return self._engine

    # -- writing ---------------------------------------------------------

    def record(
        self,
        policy: Policy,
        licence_type: str,
        claims: Mapping[str, object],
        clerk: Mapping[str, str],
        *,
        recorded_at: datetime,
        matter: str | None = None,
        desk: str | None = None,
    ) -> int:
        """Record one accepted presentation; returns the new row's id.

        Keeps only ``policy.register`` fields that are in ``claims`` and are
        disclosed for ``licence_type``; validates ``clerk`` against
        ``policy.clerk_fields`` (unknown keys, required, kind, max_length).
        Raises :class:`RegisterError` naming the field otherwise. ``desk`` names the
        desk that records it. Entries of this scenario older than the policy's
        ``retention_days`` are purged in the same transaction.
        """
        if licence_type not in policy.accepts:
            raise RegisterError(
                "type_not_accepted",
                "licence_type",
                f"{policy.name} does not accept the {licence_title_en(licence_type)}",
                f"{policy.title_zh}不接受{licence_title_zh(licence_type)}",
            )
        if not isinstance(recorded_at, datetime) or recorded_at.utcoffset() is None:
            raise RegisterError(
                "bad_time",
                "recorded_at",
                "recorded_at must be a timezone-aware datetime",
                "登记时间必须带时区",
            )
        if matter is not None:
            if not isinstance(matter, str) or not matter.strip() or len(matter) > MAX_MATTER_LENGTH:
                raise RegisterError(
                    "bad_matter",
                    "matter",
                    f"matter must be a non-empty text of at most {MAX_MATTER_LENGTH} characters",
                    f"办理事项必须是不超过{MAX_MATTER_LENGTH}个字符的文字",
                )
            matter = matter.strip()

        known = {f.name for f in policy.clerk_fields}
        for key in clerk:
            if key not in known:
                raise RegisterError(
                    "unknown_field",
                    str(key), f"unknown clerk field {key!r}", f"未知的登记项“{key}”"
                )

        disclosed = policy.disclosed_for(licence_type)
        kept: dict[str, object] = {}
        for name in policy.register:
            if name in claims and name in disclosed:
                kept[name] = json_value(name, claims[name])
        for f in policy.clerk_fields:
            value = clerk_value(f, clerk.get(f.name))
            if value is not None:
                kept[f.name] = value

        entry = RegisterEntry(
            scenario=policy.name,
            licence_type=licence_type,
            recorded_at=recorded_at.astimezone(timezone.utc),
            matter=matter,
            fields=json.dumps(kept, ensure_ascii=False, sort_keys=False),
            desk=desk[:MAX_DESK_LENGTH] if desk else None,
        )
        with self._sessions.begin() as session:  # one committed transaction
            session.execute(_expired(policy, recorded_at))
            session.add(entry)
            session.flush()
            row_id = entry.id
        self._policies[policy.name] = policy
        return row_id

    # -- reading ---------------------------------------------------------

    def purge(self, policies: Mapping[str, Policy], now: datetime) -> int:
        """Delete every entry older than its scenario policy's ``retention_days`` as of
        ``now``; returns how many were deleted. Entries of a scenario not in
        ``policies`` are kept."""
        deleted = 0
        with self._sessions.begin() as session:
            for policy in policies.values():
                result: Any = session.execute(_expired(policy, now))
                deleted += result.rowcount or 0
        return deleted

    def rows(
        self,
        scenario: str | None = None,
        *,
        desk: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[dict[str, object]]:
        """Rows (oldest first) as dicts: id, scenario, licence_type,
        recorded_at (aware UTC datetime), matter, desk, fields (dict); only those of
        ``scenario`` and ``desk`` when given, recorded in [``since``, ``until``)."""
        stmt = select(RegisterEntry).order_by(RegisterEntry.id)
        if scenario is not None:
            stmt = stmt.where(RegisterEntry.scenario == scenario)
        if desk is not None:
            stmt = stmt.where(RegisterEntry.desk == desk)
        if since is not None:
            stmt = stmt.where(RegisterEntry.recorded_at >= since)
        if until is not None:
            stmt = stmt.where(RegisterEntry.recorded_at < until)
        with self._sessions() as session:
            entries = list(session.scalars(stmt))
        return [
            {
                "id": e.id,
                "scenario": e.scenario,
                "licence_type": e.licence_type,
                "recorded_at": e.recorded_at,
                "matter": e.matter,
                "desk": e.desk,
                "fields": json.loads(e.fields),
            }
            for e in entries
        ]

    def _columns(self, scenario: str, rows: list[dict[str, object]], policy: Policy | None) -> list[str]:
        if policy is None:
            policy = self._policies.get(scenario)
        if policy is None:
            try:
                policy = get_policy(scenario)
            except PolicyError:
                policy = None
        if policy is not None:
            return [*policy.register, *policy.clerk_field_names]
        # An unknown (non-packaged) scenario after a reopen: the union of the
        # stored keys, in first-seen order (stored in policy order).
        columns: list[str] = []
        for row in rows:
            fields = row["fields"]
            assert isinstance(fields, dict)
            for key in fields:
                if key not in columns:
                    columns.append(key)
        return columns

    def export_table(
        self,
        scenario: str,
        *,
        policy: Policy | None = None,
        rows: list[dict[str, object]] | None = None,
    ) -> tuple[list[str], list[list[str]]]:
        """The scenario's rows as a table of text: (header, lines), as
        :meth:`export_csv` writes them, before any cell is neutralised.

        Header: recorded_at, licence_type, [matter], register fields...,
        clerk fields...  The matter column is present for the ``window``
        scenario and whenever a row has a matter.  ``policy`` defaults to the
        one last used with :meth:`record`, else the packaged one; ``rows``
        (from :meth:`rows`) to export only those.
        """
        if rows is None:
            rows = self.rows(scenario)
        columns = self._columns(scenario, rows, policy)
        with_matter = scenario == "window" or any(r["matter"] is not None for r in rows)
        header = ["recorded_at", "licence_type", *(["matter"] if with_matter else []), *columns]
        lines = []
        for row in rows:
            recorded_at = row["recorded_at"]
            assert isinstance(recorded_at, datetime)
            fields = row["fields"]
            assert isinstance(fields, dict)
            line = [recorded_at.isoformat(), str(row["licence_type"])]
            if with_matter:
                line.append(text_cell(row["matter"]))
            line.extend(text_cell(fields.get(c)) for c in columns)
            lines.append(line)
        return header, lines

    def export_csv(
        self,
        fp: TextIO,
        scenario: str,
        *,
        policy: Policy | None = None,
        rows: list[dict[str, object]] | None = None,
    ) -> int:
        """Write :meth:`export_table` as CSV; returns the number of rows written.
        Cells that a spreadsheet would run as a formula are prefixed with ``'``."""
        header, lines = self.export_table(scenario, policy=policy, rows=rows)
        writer = csv.writer(fp)
        writer.writerow(header)
        writer.writerows([csv_cell(cell) for cell in line] for line in lines)
        return len(lines)

    # -- lifetime --------------------------------------------------------

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Register:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
