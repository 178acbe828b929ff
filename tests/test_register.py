"""The desk's local register, on real SQLite files."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import stat
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from scenarios import get_policy, load_policy
from scenarios.register import Register, RegisterError

CST = timezone(timedelta(hours=8))
WHEN = datetime(2025, 3, 1, 14, 30, 5, tzinfo=CST)

ID_CARD_CLAIMS: dict[str, object] = {
    "name": "张三",
    "sex": "男",
    "ethnicity": "汉",
    "birth_date": "1990-01-02",
    "address": "北京市东城区某某胡同1号",
    "id_number": "110101199001021234",
    "issuing_authority": "北京市公安局东城分局",
    "valid_from": "2020-01-01",
    "valid_until": "2040-01-01",
}


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "desk" / "register.db"


def test_hotel_row_keeps_only_register_fields_and_room(db: Path) -> None:
    hotel = get_policy("hotel")
    with Register(db) as reg:
        row_id = reg.record(hotel, "id_card", ID_CARD_CLAIMS, {"room": " 1208 "}, recorded_at=WHEN)
        rows = reg.rows("hotel")
    assert isinstance(row_id, int)
    assert len(rows) == 1
    row = rows[0]
    assert row["id"] == row_id
    assert row["scenario"] == "hotel"
    assert row["licence_type"] == "id_card"
    assert row["matter"] is None
    assert row["recorded_at"] == WHEN
    assert row["recorded_at"].tzinfo is not None  # type: ignore[union-attr]
    assert row["recorded_at"].utcoffset() == timedelta(0)  # type: ignore[union-attr]
    fields = row["fields"]
    assert isinstance(fields, dict)
    assert set(fields) == {"name", "sex", "ethnicity", "id_number", "address", "room"}
    assert fields["room"] == "1208"
    assert fields["id_number"] == "110101199001021234"
    assert "birth_date" not in fields
    assert "valid_until" not in fields


def test_stored_text_holds_no_unkept_claim(db: Path) -> None:
    claims = dict(ID_CARD_CLAIMS, jws="eyJhbGciOiJFUzI1NiJ9.payload.sig", qr="HC1:XYZ")
    with Register(db) as reg:
        reg.record(get_policy("hotel"), "id_card", claims, {"room": "301"}, recorded_at=WHEN)
    con = sqlite3.connect(db)
    try:
        dump = "\n".join(con.iterdump())
        (stored,) = con.execute("SELECT fields FROM register_entries").fetchone()
    finally:
        con.close()
    for secret in ("1990-01-02", "eyJhbGci", "HC1:", "东城分局", "2040-01-01"):
        assert secret not in dump
    assert json.loads(stored)["name"] == "张三"


def test_internet_cafe_keeps_masked_number_only(db: Path) -> None:
    cafe = get_policy("internet_cafe")
    claims = {"name": "李四", "id_number_masked": "110101********1234", "age_over_18": True,
              "id_number": "110101199001021234"}
    with Register(db) as reg:
        reg.record(cafe, "id_card", claims, {"terminal": "A-17"}, recorded_at=WHEN)
        (row,) = reg.rows("internet_cafe")
    assert row["fields"] == {"name": "李四", "id_number_masked": "110101********1234", "terminal": "A-17"}


def test_csv_export_header_and_values_match_the_row(db: Path) -> None:
    hotel = get_policy("hotel")
    with Register(db) as reg:
        reg.record(hotel, "id_card", ID_CARD_CLAIMS, {"room": "1208"}, recorded_at=WHEN)
        book = dict(ID_CARD_CLAIMS, name="张小三", id_number="110101201501021234")
        reg.record(hotel, "household_book", book, {"room": "1208"}, recorded_at=WHEN + timedelta(minutes=1))
        # another scenario's row is not exported
        reg.record(get_policy("fuel_purchase"), "id_card", ID_CARD_CLAIMS,
                   {"litres": "20", "purpose": "农机"}, recorded_at=WHEN)
        rows = reg.rows("hotel")
        out = io.StringIO()
        written = reg.export_csv(out, "hotel")
    assert written == 2
    records = list(csv.reader(io.StringIO(out.getvalue())))
    assert records[0] == [
        "recorded_at", "licence_type", "name", "sex", "ethnicity", "id_number", "address", "room",
    ]
    assert len(records) == 3
    for line, row in zip(records[1:], rows):
        assert line[0] == row["recorded_at"].isoformat()  # type: ignore[union-attr]
        assert datetime.fromisoformat(line[0]) == row["recorded_at"]
        assert line[1] == row["licence_type"]
        fields = row["fields"]
        assert isinstance(fields, dict)
        assert line[2:] == [fields[c] for c in records[0][2:]]
    assert records[2][1] == "household_book" and records[2][2] == "张小三"


def test_csv_export_of_window_has_matter_column(db: Path) -> None:
    window = get_policy("window")
    claims = {"plate": "京A12345", "name": "王五", "vin": "LSVAA4182E2123456", "address": "x"}
    with Register(db) as reg:
        reg.record(window, "vehicle_license", claims, {}, recorded_at=WHEN, matter="vehicle_transfer")
        out = io.StringIO()
        assert reg.export_csv(out, "window") == 1
    header, line = list(csv.reader(io.StringIO(out.getvalue())))
    assert header == ["recorded_at", "licence_type", "matter", "name", "id_number", "plate"]
    assert line[1:] == ["vehicle_license", "vehicle_transfer", "王五", "", "京A12345"]


def test_csv_export_neutralises_formulas(db: Path) -> None:
    fuel = get_policy("fuel_purchase")
    with Register(db) as reg:
        reg.record(fuel, "id_card", ID_CARD_CLAIMS, {"litres": "5", "purpose": "=HYPERLINK(1)"}, recorded_at=WHEN)
        out = io.StringIO()
        reg.export_csv(out, "fuel_purchase")
    header, line = list(csv.reader(io.StringIO(out.getvalue())))
    assert header == ["recorded_at", "licence_type", "name", "id_number", "litres", "purpose"]
    assert line[-1] == "'=HYPERLINK(1)"


def test_missing_required_clerk_field_is_refused(db: Path) -> None:
    with Register(db) as reg:
        with pytest.raises(RegisterError) as info:
            reg.record(get_policy("hotel"), "id_card", ID_CARD_CLAIMS, {}, recorded_at=WHEN)
        assert (info.value.code, info.value.field) == ("required", "room")
        assert "room" in str(info.value) and "房间号" in str(info.value)
        with pytest.raises(RegisterError) as info:
            reg.record(get_policy("hotel"), "id_card", ID_CARD_CLAIMS, {"room": "   "}, recorded_at=WHEN)
        assert info.value.field == "room"
        assert reg.rows() == []


@pytest.mark.parametrize("room", ["CF1:23H/99XP03YM", "cf1:23h/99xp03ym", " CF1:2"])
def test_the_next_person_s_code_scanned_into_a_clerk_field_is_refused(db: Path, room: str) -> None:
    """A busy desk: the next guest's code scanned while the room field had the focus (the
    browser keeps its first 16 characters; lower case with Caps Lock on)."""
    with Register(db) as reg:
        with pytest.raises(RegisterError) as info:
            reg.record(get_policy("hotel"), "id_card", ID_CARD_CLAIMS, {"room": room}, recorded_at=WHEN)
        assert (info.value.code, info.value.field) == ("scanned_code", "room")
        assert "房间号" in info.value.message_zh and "二维码" in info.value.message_zh
        reg.record(get_policy("hotel"), "id_card", ID_CARD_CLAIMS, {"room": "CF-0807"}, recorded_at=WHEN)
        assert [r["fields"]["room"] for r in reg.rows()] == ["CF-0807"]  # type: ignore[index]


@pytest.mark.parametrize("litres", ["abc", "12,5", "-3", "1e3", "", "1.2.3"])
def test_non_numeric_litres_is_refused(db: Path, litres: str) -> None:
    fuel = get_policy("fuel_purchase")
    with Register(db) as reg:
        with pytest.raises(RegisterError) as info:
            reg.record(fuel, "id_card", ID_CARD_CLAIMS, {"litres": litres, "purpose": "发电机"}, recorded_at=WHEN)
        assert info.value.field == "litres"
        assert info.value.code == ("required" if litres == "" else "not_number")
        assert "购买数量" in info.value.message_zh
        assert "litres" in str(info.value)
        assert reg.rows("fuel_purchase") == []


def test_decimal_litres_accepted_and_full_width_digits_normalised(db: Path) -> None:
    fuel = get_policy("fuel_purchase")
    with Register(db) as reg:
        reg.record(fuel, "id_card", ID_CARD_CLAIMS, {"litres": "20.5", "purpose": "农机"}, recorded_at=WHEN)
        reg.record(fuel, "id_card", ID_CARD_CLAIMS, {"litres": "１２．５", "purpose": "农机"}, recorded_at=WHEN)
        rows = reg.rows("fuel_purchase")
    assert [r["fields"]["litres"] for r in rows] == ["20.5", "12.5"]  # type: ignore[index]
    assert set(rows[0]["fields"]) == {"name", "id_number", "litres", "purpose"}  # type: ignore[arg-type]


def test_other_clerk_errors(db: Path, tmp_path: Path) -> None:
    hotel = get_policy("hotel")
    with Register(db) as reg:
        with pytest.raises(RegisterError) as info:  # unknown clerk key
            reg.record(hotel, "id_card", ID_CARD_CLAIMS, {"room": "1", "phone": "123"}, recorded_at=WHEN)
        assert (info.value.code, info.value.field) == ("unknown_field", "phone")
        with pytest.raises(RegisterError) as info:  # too long
            reg.record(hotel, "id_card", ID_CARD_CLAIMS, {"room": "1" * 17}, recorded_at=WHEN)
        assert (info.value.code, info.value.field) == ("too_long", "room") and "16" in info.value.message_zh
        with pytest.raises(RegisterError) as info:  # type not accepted
            reg.record(hotel, "driving_license", ID_CARD_CLAIMS, {"room": "1"}, recorded_at=WHEN)
        assert (info.value.code, info.value.field) == ("type_not_accepted", "licence_type") and "驾驶证" in info.value.message_zh
        with pytest.raises(RegisterError) as info:  # naive time
            reg.record(hotel, "id_card", ID_CARD_CLAIMS, {"room": "1"}, recorded_at=datetime(2025, 1, 1))
        assert (info.value.code, info.value.field) == ("bad_time", "recorded_at")
        assert reg.rows() == []

    # an integer clerk field, from a policy written for the test
    policy_file = tmp_path / "locker.toml"
    policy_file.write_text(
        'name = "locker"\ntitle_zh = "寄存"\ntitle_en = "Locker"\naccepts = ["id_card"]\n'
        'register = ["name"]\nstatus_max_age_seconds = 3600\nstatus_unknown = "warn"\n'
        '[disclose]\nid_card = ["name"]\n'
        '[[clerk_fields]]\nname = "box"\nlabel_zh = "柜号"\nlabel_en = "Box"\nkind = "integer"\n'
        "required = true\nmax_length = 4\n"
        '[[clerk_fields]]\nname = "note"\nlabel_zh = "备注"\nlabel_en = "Note"\nkind = "text"\n'
        "required = false\nmax_length = 20\n",
        encoding="utf-8",
    )
    locker = load_policy(policy_file)
    with Register(db) as reg:
        with pytest.raises(RegisterError) as info:
            reg.record(locker, "id_card", ID_CARD_CLAIMS, {"box": "1.5"}, recorded_at=WHEN)
        assert info.value.field == "box" and "整数" in info.value.message_zh
        reg.record(locker, "id_card", ID_CARD_CLAIMS, {"box": "42"}, recorded_at=WHEN)
        out = io.StringIO()
        reg.export_csv(out, "locker")
    # the optional clerk field left empty is not stored, and exported blank
    with Register(db) as reopened:
        (row,) = reopened.rows("locker")
    assert row["fields"] == {"name": "张三", "box": "42"}
    assert out.getvalue().splitlines()[0] == "recorded_at,licence_type,name,box,note"
    assert out.getvalue().splitlines()[1].endswith(",张三,42,")


def test_record_survives_close_and_reopen(db: Path) -> None:
    street = get_policy("street_check")
    reg = Register(db)
    first = reg.record(street, "residence_permit", ID_CARD_CLAIMS, {"place": "王府井大街"}, recorded_at=WHEN)
    reg.close()
    assert db.exists()

    with Register(db) as reopened:
        rows = reopened.rows()
        assert [r["id"] for r in rows] == [first]
        assert rows[0]["fields"] == {"name": "张三", "id_number": "110101199001021234", "place": "王府井大街"}
        assert rows[0]["recorded_at"] == WHEN
        second = reopened.record(street, "id_card", ID_CARD_CLAIMS, {"place": "西单"}, recorded_at=WHEN)
        assert second > first
        # the packaged policy gives the CSV columns after a reopen
        out = io.StringIO()
        assert reopened.export_csv(out, "street_check") == 2
        assert out.getvalue().splitlines()[0] == "recorded_at,licence_type,name,id_number,place"

    # the row is committed in the file itself, visible to a plain sqlite3 reader
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        count = con.execute("SELECT count(*) FROM register_entries").fetchone()[0]
    finally:
        con.close()
    assert count == 2


def test_sqlalchemy_url_and_scenario_filter(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'by-url.db'}"
    with Register(url) as reg:
        reg.record(get_policy("hotel"), "id_card", ID_CARD_CLAIMS, {"room": "1"}, recorded_at=WHEN)
        reg.record(get_policy("ebike_check"), "ebike_registration",
                   {"plate": "京B00001", "frame_number": "F123", "brand": "雅迪", "id_number_masked": "x"},
                   {"place": "东单"}, recorded_at=WHEN, matter=None)
        assert len(reg.rows()) == 2
        (ebike,) = reg.rows("ebike_check")
        assert ebike["fields"] == {"plate": "京B00001", "frame_number": "F123", "place": "东单"}
        assert reg.rows("window") == []
    assert (tmp_path / "by-url.db").exists()


def test_only_claims_disclosed_for_the_type_are_kept(db: Path) -> None:
    # A claims mapping carrying more than the type discloses: the window
    # register keeps "plate", but an id_card does not disclose a plate.
    window = get_policy("window")
    with Register(db) as reg:
        reg.record(window, "id_card", dict(ID_CARD_CLAIMS, plate="京A0"), {}, recorded_at=WHEN, matter="id_card_renewal")
        (row,) = reg.rows("window")
    assert row["fields"] == {"name": "张三", "id_number": "110101199001021234"}
    assert row["matter"] == "id_card_renewal"


def test_a_failed_write_never_shows_the_resident_s_data(db: Path) -> None:
    """A write that fails (a locked file, a full disk, a read-only mount) raises a
    database error whose message holds the SQL, never the row's name, ID number or address."""
    import sqlalchemy.exc

    with Register(db) as reg:
        reg.record(get_policy("hotel"), "id_card", ID_CARD_CLAIMS, {"room": "1208"}, recorded_at=WHEN)
        refuse = sqlite3.connect(db)
        refuse.execute("CREATE TRIGGER refuse BEFORE INSERT ON register_entries BEGIN SELECT RAISE(ABORT, 'refused'); END")
        refuse.commit()
        refuse.close()
        with pytest.raises(sqlalchemy.exc.SQLAlchemyError) as info:
            reg.record(get_policy("hotel"), "id_card", ID_CARD_CLAIMS, {"room": "1209"}, recorded_at=WHEN)
    shown = str(info.value)
    assert "register_entries" in shown  # the statement is still there for the engineer
    for value in ("张三", "110101199001021234", "某某胡同"):
        assert value not in shown


def test_a_new_register_file_is_the_desk_owner_s_alone(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)
    try:
        with Register(tmp_path / "desk" / "hotel.db") as reg:
            reg.engine.connect().close()
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE((tmp_path / "desk").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "desk" / "hotel.db").stat().st_mode) == 0o600
