"""The desk's register: the entries of one day and one scenario, only the policy's
fields, and their export as CSV (and XLSX) for the hand-over to the police system. Entries older
than the policy's retention period are purged before anything is shown or exported."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any, NamedTuple

from flask import Response, g, render_template, request

from issuer import LICENCE_TYPES

from scenarios import load_matters
from scenarios._register_values import csv_cell

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


class Export(NamedTuple):
    scenario: str
    day: dt.date
    header: list[str]
    lines: list[list[str]]


def _export() -> Export | Any:
    """The day's entries as a table of text, or the refusal to send instead."""
    scenario, day = _scenario(), _day()
    if scenario is None:
        return page(403, error="scenario_not_allowed")
    if day is None:
        return page(400, scenario=scenario, error="bad_date")
    header, lines = source().register().export_table(scenario, policy=source().policies()[scenario],
                                                     rows=_entries(scenario, day))
    return Export(scenario, day, header, lines)


def _download(data: bytes, mimetype: str, scenario: str, day: dt.date, ext: str) -> Response:
    name = f"register-{scenario}-{day.isoformat()}.{ext}"
    return Response(data, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"',
                                                      "Cache-Control": "no-store"})


@bp.get("/book.csv")
@clerk_required
def book_csv() -> Any:
    """The day's entries as CSV (UTF-8 with a BOM, so that a spreadsheet reads the Chinese):
    recorded_at (UTC, ISO 8601), licence_type, [matter,] then exactly the policy's register
    fields and clerk fields; a cell a spreadsheet would run as a formula gets a ``'``."""
    export = _export()
    if not isinstance(export, Export):
        return export
    scenario, day, header, lines = export
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([csv_cell(cell) for cell in line] for line in lines)
    return _download(("\ufeff" + out.getvalue()).encode("utf-8"), "text/csv", scenario, day, "csv")


@bp.get("/book.xlsx")
@clerk_required
def book_xlsx() -> Any:
    """The same table as an XLSX workbook (openpyxl); every cell is typed as text, so none
    is ever a formula, and shown as written."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    export = _export()
    if not isinstance(export, Export):
        return export
    scenario, day, header, lines = export
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=scenario)

    def text(value: str) -> Any:
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"  # a string, even one starting with "="
        return cell

    for line in [header, *lines]:
        sheet.append([text(cell) for cell in line])
    out = io.BytesIO()
    book.save(out)
    return _download(out.getvalue(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                     scenario, day, "xlsx")


__all__ = ["book", "book_csv", "book_xlsx"]
