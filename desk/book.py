"""The desk's register: the entries of one day and one scenario, only the policy's
fields, and their export as CSV for the hand-over to the police system. Entries older
than the policy's retention period are purged before anything is shown or exported."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from flask import Response, g, render_template, request

from issuer import LICENCE_TYPES

from scenarios import load_matters

from .pages import bp, clerk_required, page
from .source import freshness, source

CHINA = dt.timezone(dt.timedelta(hours=8))  # a desk's day is a China day


def _day() -> dt.date | None:
    text = request.args.get("date", "")
    if not text:
        return dt.datetime.fromtimestamp(source().now(), CHINA).date()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def _entries(scenario: str, day: dt.date) -> list[dict[str, object]]:
    src = source()
    register = src.register()
    register.purge(src.policies(), dt.datetime.fromtimestamp(src.now(), dt.timezone.utc))
    start = dt.datetime.combine(day, dt.time(), CHINA)
    return register.rows(scenario, desk=g.desk.name, since=start, until=start + dt.timedelta(days=1))


def _scenario() -> str | None:
    wanted = request.args.get("scenario") or g.desk.scenarios[0]
    return wanted if wanted in g.desk.scenarios else None


@bp.get("/book")
@clerk_required
def book() -> Any:
    scenario, day = _scenario(), _day()
    if scenario is None:
        return page(403, error="scenario_not_allowed")
    if day is None:
        return page(400, scenario=scenario, error="bad_date")
    policy = source().policies()[scenario]
    rows = _entries(scenario, day)
    for row in rows:
        recorded_at = row["recorded_at"]
        assert isinstance(recorded_at, dt.datetime)
        row["local_time"] = recorded_at.astimezone(CHINA).strftime("%H:%M:%S")
    clerk_labels = {f.name: (f.label_zh, f.label_en) for f in policy.clerk_fields}
    fresh = freshness(source().verifier(), source().now())
    return render_template("desk/book.html", desk=g.desk, policy=policy, scenario=scenario, day=day, rows=rows,
                           columns=[*policy.register, *policy.clerk_field_names], clerk_labels=clerk_labels,
                           licences=LICENCE_TYPES, field_label=_field_label, policies=source().policies(),
                           matters=load_matters(), fresh=fresh, stale=fresh.stale(policy))


def _field_label(name: str) -> tuple[str, str]:
    for licence in LICENCE_TYPES.values():
        if name in licence.labels:
            return licence.labels[name]  # type: ignore[no-any-return]
    return (name, name)


@bp.get("/book.csv")
@clerk_required
def book_csv() -> Any:
    """The day's entries as CSV (UTF-8 with a BOM, so that a spreadsheet reads the Chinese):
    recorded_at (UTC, ISO 8601), licence_type, [matter,] then exactly the policy's register
    fields and clerk fields; a cell a spreadsheet would run as a formula is neutralised."""
    scenario, day = _scenario(), _day()
    if scenario is None:
        return page(403, error="scenario_not_allowed")
    if day is None:
        return page(400, scenario=scenario, error="bad_date")
    out = io.StringIO()
    out.write("\ufeff")
    source().register().export_csv(out, scenario, policy=source().policies()[scenario], rows=_entries(scenario, day))
    name = f"register-{scenario}-{day.isoformat()}.csv"
    return Response(out.getvalue().encode("utf-8"), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


__all__ = ["book", "book_csv"]
