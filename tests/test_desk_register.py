"""The desk station's register, its CSV export and its retention, and its freshness banner,
through the station's own app (Flask test client) on a folder set up with the real CLI
(``certfree sync``, ``certfree desk add|clerk``); real signatures, real SQLite files."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import time
from pathlib import Path
from typing import Any, Callable

import pytest
from desk_station_fixtures import CLERK_PASSWORD, HOTEL_DESK, setup_station

CHINA = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    return setup_station(tmp_path_factory.mktemp("desk-register"))


def _station(data: Path, clock: Callable[[], float] = time.time) -> Any:
    from desk.station import create_station

    client = create_station(data, clock=clock).test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/desk/login").get_data(as_text=True)).group(1)
    assert client.post("/desk/login", data={"username": "front1", "password": CLERK_PASSWORD, "csrf_token": token}).status_code == 302
    return client


def _csrf(client: Any) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/desk/").get_data(as_text=True)).group(1)


def _check_in(client: Any, code: str, room: str) -> None:
    html = client.post("/desk/verify", data={"csrf_token": _csrf(client), "scenario": "hotel", "code": code}).get_data(as_text=True)
    assert 'data-verdict="accepted"' in html, html
    token = re.search(r'name="token" value="([^"]+)"', html).group(1)
    done = client.post("/desk/register", data={"csrf_token": _csrf(client), "token": token, "room": room})
    assert done.status_code == 200 and 'id="recorded"' in done.get_data(as_text=True)


def test_the_csv_of_a_day_holds_exactly_the_policy_fields_and_nothing_past_retention(folder: tuple[Path, Any]) -> None:
    from scenarios import get_policy
    from scenarios.register import Register
    from wallet import present

    data, holder = folder
    hotel = get_policy("hotel")
    now = dt.datetime.now(dt.timezone.utc)
    with Register(data / "register.db") as register:  # entries of earlier days, written by this desk
        claims = {"name": "张三", "sex": "男", "ethnicity": "汉族", "id_number": "11010119900307003X",
                  "address": "北京市东城区", "birth_date": "1990-03-07"}
        register.record(hotel, "id_card", claims, {"room": "0101"}, recorded_at=now - dt.timedelta(days=hotel.retention_days + 1), desk=HOTEL_DESK)
        register.record(hotel, "id_card", claims, {"room": "0102"}, recorded_at=now - dt.timedelta(days=hotel.retention_days - 1), desk=HOTEL_DESK)
        register.record(hotel, "id_card", claims, {"room": "0103"}, recorded_at=now - dt.timedelta(days=1), desk="another desk")
    client = _station(data)
    _check_in(client, present(holder, "hotel", licence_type="id_card").text, "0807")
    _check_in(client, present(holder, "hotel", licence_type="household_book").text, "=HYPERLINK(\"x\")")

    today = now.astimezone(CHINA).date()
    response = client.get(f"/desk/book.csv?scenario=hotel&date={today.isoformat()}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    header = ["recorded_at", "licence_type", *hotel.register, *hotel.clerk_field_names]
    assert rows[0] == header == ["recorded_at", "licence_type", "name", "sex", "ethnicity", "id_number", "address", "room"]
    body = rows[1:]
    assert len(body) == 2 and all(len(row) == len(header) for row in body)
    assert [row[1] for row in body] == ["id_card", "household_book"]
    assert [row[-1] for row in body] == ["0807", "'=HYPERLINK(\"x\")"]  # a formula is neutralised
    assert all(row[2] and row[5] for row in body)  # the name and the ID number are there ...
    assert "1990-03-07" not in response.get_data(as_text=True)  # ... the birth date (not kept) is not

    # the entry past the retention period is gone from the file, the one within it is kept
    with Register(data / "register.db") as register:
        rooms = [r["fields"]["room"] for r in register.rows("hotel")]
    assert "0101" not in rooms and "0102" in rooms
    old_day = (now - dt.timedelta(days=hotel.retention_days + 1)).astimezone(CHINA).date()
    old = client.get(f"/desk/book.csv?scenario=hotel&date={old_day.isoformat()}").get_data(as_text=True)
    assert len(list(csv.reader(io.StringIO(old.lstrip("\ufeff"))))) == 1  # the header alone
    # another desk's entries are not this desk's register
    yesterday = (now - dt.timedelta(days=1)).astimezone(CHINA).date()
    page = client.get(f"/desk/book?scenario=hotel&date={yesterday.isoformat()}").get_data(as_text=True)
    assert "0103" not in page and "当日无登记" in page
    page = client.get(f"/desk/book?scenario=hotel&date={today.isoformat()}").get_data(as_text=True)
    assert page.count("<tr><td>") == 2 and "0807" in page and "保留 90 天" in page
    assert client.get("/desk/book?date=yesterday").status_code == 400


def test_the_banner_turns_red_past_the_scenario_staleness_limit(folder: tuple[Path, Any]) -> None:
    from scenarios import get_policy

    data, _holder = folder
    fresh = _station(data).get("/desk/").get_data(as_text=True)
    assert 'id="freshness"' in fresh and 'data-stale="false"' in fresh
    later = time.time() + get_policy("hotel").status_max_age_seconds + 3600  # the lists are now 73 h old
    stale = _station(data, clock=lambda: later).get("/desk/").get_data(as_text=True)
    assert 'class="freshness stale"' in stale and 'data-stale="true"' in stale
    assert "超过本场景时限" in stale and "past this scenario's limit" in stale


def test_the_station_never_opens_a_connection_without_a_sync_url(folder: tuple[Path, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """Every socket the station would open fails the test: it serves, verifies and records
    from the folder alone."""
    import socket

    from wallet import present

    data, holder = folder

    def no_network(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("the desk station opened a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    client = _station(data)
    _check_in(client, present(holder, "hotel", licence_type="id_card").text, "0808")


def test_the_background_sync_refreshes_the_folder(tmp_path: Path) -> None:
    """``--sync-from``: the station's thread syncs the folder again (here from the USB-stick
    folder, after the station's status lists were lost)."""
    from desk.station import start_background_sync

    data, _holder = setup_station(tmp_path)
    lists = sorted(p.name for p in (data / "status").glob("*.jws"))
    assert lists
    for path in (data / "status").glob("*.jws"):
        path.unlink()
    start_background_sync(str(tmp_path / "usb"), data, every=0.2)
    for _ in range(300):  # wait for the thread (no timing is asserted)
        if sorted(p.name for p in (data / "status").glob("*.jws")) == lists:
            break
        time.sleep(0.1)
    assert sorted(p.name for p in (data / "status").glob("*.jws")) == lists


def test_the_xlsx_export_holds_the_same_table_as_text(folder: tuple[Path, Any]) -> None:
    from openpyxl import load_workbook

    from scenarios import get_policy
    from wallet import present

    data, holder = folder
    client = _station(data)
    _check_in(client, present(holder, "hotel", licence_type="id_card").text, "=1+2")
    today = dt.datetime.now(CHINA).date().isoformat()
    response = client.get(f"/desk/book.xlsx?scenario=hotel&date={today}")
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(response.data)).active
    table = [[cell.value for cell in row] for row in sheet.iter_rows()]
    hotel = get_policy("hotel")
    assert table[0] == ["recorded_at", "licence_type", *hotel.register, *hotel.clerk_field_names]
    csv_text = client.get(f"/desk/book.csv?scenario=hotel&date={today}").get_data(as_text=True)
    assert len(table) == len(list(csv.reader(io.StringIO(csv_text.lstrip("\ufeff")))))
    formula = [row for row in sheet.iter_rows() if row[-1].value == "=1+2"]
    assert formula and formula[0][-1].data_type == "s"  # text, never a formula


def test_the_log_in_page_shows_the_lists_age_and_an_unsynced_folder_is_refused(folder: tuple[Path, Any], tmp_path: Path) -> None:
    from desk.station import create_station
    from desk_station_fixtures import CERTFREE

    data, _holder = folder
    login = create_station(data).test_client().get("/desk/login").get_data(as_text=True)
    assert 'id="freshness"' in login and 'data-stale="false"' in login
    import subprocess

    empty = tmp_path / "never-synced"
    empty.mkdir()
    refused = subprocess.run([CERTFREE, "desk", "serve", "--data", str(empty), "--bind", "127.0.0.1:9"],
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "certfree sync --to" in refused.stderr
