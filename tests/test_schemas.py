"""Tests for issuer.schemas: the six licence schemas and their validation."""

from __future__ import annotations

import datetime as dt

import pytest

from conftest import LICENCE_TYPES as TYPES  # the six types, in order, as the tests state them
from issuer.schemas import (
    DRIVING_CLASSES,
    ETHNIC_GROUPS,
    LICENCE_TYPES,
    ClaimsInvalid,
    FieldError,
    LicenceType,
    birth_date_from_id,
    example,
    id_check_digit,
    minor_example,
    sex_from_id,
    validate,
    vin_check_digit,
)

TODAY = dt.date(2026, 11, 24)
# A real published VIN with a correct check digit (position 9 = "X").
PUBLISHED_VIN = "1M8GDM9AXKP042788"


def refused(licence_type: str, claims: dict, **kw) -> ClaimsInvalid:
    with pytest.raises(ClaimsInvalid) as info:
        validate(licence_type, claims, **kw)
    return info.value


def codes(exc: ClaimsInvalid) -> dict[str, str]:
    return {e.field: e.code for e in exc.errors}


def with_(licence_type: str, **changes: object) -> dict:
    claims = example(licence_type)
    claims.update(changes)
    return claims


def make_id(region: str, born: str, seq: str) -> str:
    first17 = region + born.replace("-", "") + seq
    return first17 + id_check_digit(first17)


# --- known answers from outside the code ----------------------------------

@pytest.mark.parametrize(
    ("first17", "check"),
    [
        ("11010519491231002", "X"),  # GB 11643-1999 example
        ("44052418800101001", "4"),  # GB 11643-1999 example
    ],
)
def test_id_check_digit_published_examples(first17: str, check: str) -> None:
    assert id_check_digit(first17) == check


def test_id_check_digit_rejects_bad_input() -> None:
    for bad in ("1101051949123100", "110105194912310021", "１1010519491231002", ""):
        with pytest.raises(ValueError):
            id_check_digit(bad)


@pytest.mark.parametrize(
    ("vin", "check"),
    [
        (PUBLISHED_VIN, "X"),
        ("11111111111111111", "1"),  # the classic all-ones VIN is valid
    ],
)
def test_vin_check_digit_published_examples(vin: str, check: str) -> None:
    assert vin_check_digit(vin) == check
    assert vin[8] == check


def test_id_helpers() -> None:
    assert birth_date_from_id("11010519491231002X") == dt.date(1949, 12, 31)
    assert sex_from_id("11010519491231002X") == "女"  # 17th digit 2 is even
    assert sex_from_id("440524188001010014") == "男"  # 17th digit 1 is odd
    with pytest.raises(ValueError):
        birth_date_from_id("11010519490231002X")  # 31 February
    with pytest.raises(ValueError):
        sex_from_id("11010519491231002x")


# --- the type catalogue ----------------------------------------------------

EXPECTED_FIELDS = {
    "id_card": ("name", "sex", "ethnicity", "birth_date", "address", "id_number",
                "issuing_authority", "valid_from", "valid_until"),
    "household_book": ("name", "relationship", "sex", "ethnicity", "birth_date",
                       "birthplace", "native_place", "id_number", "address",
                       "household_type", "household_number",
                       "registration_authority", "registered_on"),
    "residence_permit": ("name", "sex", "birth_date", "id_number", "address",
                         "issuing_authority", "valid_from", "valid_until"),
    "driving_license": ("name", "sex", "nationality", "address", "birth_date",
                        "id_number", "first_issued", "vehicle_classes",
                        "valid_from", "valid_until", "issuing_authority",
                        "file_number"),
    "vehicle_license": ("plate", "vehicle_type", "name", "address",
                        "use_character", "brand_model", "vin", "engine_number",
                        "registered_on", "issued_on", "issuing_authority"),
    "ebike_registration": ("plate", "name", "id_number", "brand", "model",
                           "colour", "frame_number", "motor_number",
                           "anti_theft_tag", "registered_on",
                           "registration_authority"),
}


def test_licence_types_catalogue() -> None:
    assert tuple(LICENCE_TYPES) == TYPES
    authorities = {"id_card": "household_registration",
                   "household_book": "household_registration",
                   "residence_permit": "household_registration",
                   "driving_license": "traffic_police",
                   "vehicle_license": "traffic_police",
                   "ebike_registration": "police_station"}
    titles = {"id_card": "居民身份证", "household_book": "户口簿",
              "residence_permit": "居住证", "driving_license": "驾驶证",
              "vehicle_license": "行驶证", "ebike_registration": "电动自行车防盗登记"}
    for name, lt in LICENCE_TYPES.items():
        assert isinstance(lt, LicenceType)
        assert lt.name == name
        assert lt.fields == EXPECTED_FIELDS[name]
        assert lt.authority == authorities[name]
        assert lt.title_zh == titles[name]
        assert lt.title_en
        assert lt.required <= set(lt.fields)
        assert set(lt.labels) == set(lt.fields)
        assert all(zh and en for zh, en in lt.labels.values())
    assert LICENCE_TYPES["id_card"].labels["name"] == ("姓名", "Name")
    assert LICENCE_TYPES["id_card"].required == set(EXPECTED_FIELDS["id_card"])
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        LICENCE_TYPES["id_card"].name = "x"  # type: ignore[misc]


def test_schemas_agree_with_scenarios_copy() -> None:
    from scenarios.licences import LICENCE_FIELDS

    assert dict(LICENCE_FIELDS) == {k: v.fields for k, v in LICENCE_TYPES.items()}


def test_reference_lists() -> None:
    assert len(ETHNIC_GROUPS) == 56 and len(set(ETHNIC_GROUPS)) == 56
    assert ETHNIC_GROUPS[:5] == ("汉族", "蒙古族", "回族", "藏族", "维吾尔族")
    assert ETHNIC_GROUPS[-1] == "基诺族"
    assert all(g.endswith("族") for g in ETHNIC_GROUPS)
    assert DRIVING_CLASSES == ("A1", "A2", "A3", "B1", "B2", "C1", "C2", "C3",
                               "C4", "C5", "C6", "D", "E", "F", "M", "N", "P")


# --- examples --------------------------------------------------------------

@pytest.mark.parametrize("licence_type", TYPES)
def test_example_validates(licence_type: str) -> None:
    claims = example(licence_type)
    assert set(claims) == set(LICENCE_TYPES[licence_type].fields)
    assert validate(licence_type, claims) == claims
    assert validate(licence_type, claims, today=TODAY) == claims


def test_examples_belong_to_one_resident() -> None:
    keys = ("name", "id_number", "sex", "birth_date", "address")
    seen: dict[str, set] = {k: set() for k in keys}
    for t in TYPES:
        claims = example(t)
        for k in keys:
            if k in claims:
                seen[k].add(claims[k])
    assert all(len(v) == 1 for v in seen.values()), seen
    (idn,) = seen["id_number"]
    assert seen["name"] == {"李华"}
    assert idn.startswith("110101")
    assert birth_date_from_id(idn) == dt.date(1990, 3, 7)
    assert seen["birth_date"] == {"1990-03-07"}
    assert seen["sex"] == {sex_from_id(idn)}


def test_example_returns_a_fresh_copy() -> None:
    example("driving_license")["vehicle_classes"].append("A1")  # type: ignore[union-attr]
    assert example("driving_license")["vehicle_classes"] == ["C1"]


def test_minor_example() -> None:
    claims = minor_example()
    assert validate("id_card", claims, today=TODAY) == claims
    born = dt.date.fromisoformat(str(claims["birth_date"]))
    assert born == dt.date(2009, 6, 1)
    assert birth_date_from_id(str(claims["id_number"])) == born
    age = TODAY.year - born.year - ((TODAY.month, TODAY.day) < (born.month, born.day))
    assert age == 17


def test_unknown_type() -> None:
    exc = refused("passport", {})
    assert codes(exc) == {"type": "unknown_licence_type"}
    with pytest.raises(ClaimsInvalid):
        example("passport")


# --- id_number ---------------------------------------------------------------

def test_wrong_id_check_digit() -> None:
    good = example("id_card")["id_number"]
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    exc = refused("id_card", with_("id_card", id_number=bad))
    assert codes(exc) == {"id_number": "bad_check_digit"}
    assert exc.errors[0].message == "check digit does not match (GB 11643)"
    assert "GB 11643" in exc.errors[0].message_zh


@pytest.mark.parametrize("digit", ["１", "١", "۱", "߁"])  # full-width, Arabic-Indic...
def test_non_ascii_digits_in_id_number(digit: str) -> None:
    good = str(example("id_card")["id_number"])
    bad = digit + good[1:]
    assert bad[0].isdigit()  # why str.isdigit() must not be used
    exc = refused("id_card", with_("id_card", id_number=bad))
    assert codes(exc)["id_number"] == "bad_format"


def test_id_number_other_shapes() -> None:
    good = str(example("id_card")["id_number"])
    for bad, code in [
        (good[:17], "bad_format"),
        (good + "1", "bad_format"),
        ("11010519491231002x", "bad_format"),  # X must be uppercase
        ("1101051949123100X2", "bad_format"),
        (make_id("990101", "1990-03-07", "003"), "bad_region_code"),
        (make_id("100101", "1990-03-07", "003"), "bad_region_code"),
        (make_id("110001", "1990-03-07", "003"), "bad_region_code"),
        (make_id("110101", "1990-02-30", "003"), "bad_birth_date"),
        (make_id("110101", "2027-03-07", "003"), "in_future"),
        (12345, "wrong_type"),
    ]:
        exc = refused("ebike_registration", with_("ebike_registration", id_number=bad),
                      today=TODAY)
        assert codes(exc) == {"id_number": code}, bad
    # HK/Macao/Taiwan residence permit numbers (810000 / 820000 / 830000).
    hk = make_id("810000", "1990-03-07", "003")
    assert validate("ebike_registration", with_("ebike_registration", id_number=hk))


def test_birth_date_and_sex_must_match_id_number() -> None:
    exc = refused("id_card", with_("id_card", birth_date="1990-03-08"))
    assert codes(exc) == {"birth_date": "mismatch_with_id_number"}
    exc = refused("driving_license", with_("driving_license", sex="女"))
    assert codes(exc) == {"sex": "mismatch_with_id_number"}


# --- dates -------------------------------------------------------------------

@pytest.mark.parametrize("bad", ["2020-02-30", "2026-02-29", "2020-13-01", "2020-1-01",
                                 "20200101", "２０２０-01-01", " ", "2020-01-01T00:00"])
def test_not_a_date(bad: str) -> None:
    exc = refused("id_card", with_("id_card", valid_from=bad))
    assert codes(exc)["valid_from"] in {"not_a_date", "missing"}
    if bad.strip():
        assert codes(exc)["valid_from"] == "not_a_date"


def test_valid_until_before_valid_from() -> None:
    exc = refused("residence_permit", with_("residence_permit", valid_until="2026-02-01"))
    assert codes(exc) == {"valid_until": "dates_out_of_order"}


def test_id_card_validity_by_age() -> None:
    # 李华 was 26 on 2016-05-20: 20 years; 10 years is refused.
    exc = refused("id_card", with_("id_card", valid_until="2026-05-20"))
    assert codes(exc) == {"valid_until": "bad_validity_period"}
    # 长期 only from 46.
    exc = refused("id_card", with_("id_card", valid_until="长期"))
    assert codes(exc) == {"valid_until": "bad_validity_period"}
    idn = make_id("110101", "1970-01-15", "021")
    old = with_("id_card", id_number=idn, birth_date="1970-01-15", sex="男",
                valid_from="2016-05-20", valid_until="长期")
    assert validate("id_card", old)["valid_until"] == "长期"
    # Under 16: 5 years.
    kid = with_("id_card", id_number=make_id("110101", "2012-04-01", "013"),
                birth_date="2012-04-01", valid_from="2020-06-01", valid_until="2025-06-01")
    assert validate("id_card", kid)
    kid["valid_until"] = "2030-06-01"
    assert codes(refused("id_card", kid)) == {"valid_until": "bad_validity_period"}
    # Issued before birth.
    exc = refused("id_card", with_("id_card", valid_from="1989-05-20",
                                   valid_until="1994-05-20"))
    assert codes(exc)["valid_from"] == "dates_out_of_order"


def test_leap_day_anniversary() -> None:
    claims = with_("residence_permit", valid_from="2024-02-29", valid_until="2025-02-28")
    assert validate("residence_permit", claims)
    claims["valid_until"] = "2025-03-01"
    assert validate("residence_permit", claims)
    claims["valid_until"] = "2025-03-02"
    assert codes(refused("residence_permit", claims)) == {"valid_until": "bad_validity_period"}


def test_residence_permit_one_year() -> None:
    for bad in ("2028-03-01", "长期"):
        exc = refused("residence_permit", with_("residence_permit", valid_until=bad))
        assert codes(exc) == {"valid_until": "bad_validity_period"}


# --- driving licence ---------------------------------------------------------

@pytest.mark.parametrize("bad", [["C9"], ["Z"], ["C1", "Z"], ["c1"], ["C1 E"]])
def test_unknown_driving_class(bad: list) -> None:
    exc = refused("driving_license", with_("driving_license", vehicle_classes=bad))
    assert codes(exc) == {"vehicle_classes": "not_allowed_value"}


def test_vehicle_classes_shape() -> None:
    assert codes(refused("driving_license", with_("driving_license", vehicle_classes="C1"))) \
        == {"vehicle_classes": "wrong_type"}
    assert codes(refused("driving_license", with_("driving_license", vehicle_classes=[]))) \
        == {"vehicle_classes": "missing"}
    assert codes(refused("driving_license",
                         with_("driving_license", vehicle_classes=["C1", "C1"]))) \
        == {"vehicle_classes": "duplicate_value"}
    out = validate("driving_license", with_("driving_license", vehicle_classes=["E", "C1"]))
    assert out["vehicle_classes"] == ["C1", "E"]


def test_driving_licence_rules() -> None:
    # First licence: 6 years only.
    first = with_("driving_license", valid_from="2012-08-20", valid_until="2018-08-20")
    assert validate("driving_license", first)
    first["valid_until"] = "2022-08-20"
    assert codes(refused("driving_license", first)) == {"valid_until": "bad_validity_period"}
    # Renewal: 10 years or 长期, not 7.
    assert validate("driving_license", with_("driving_license", valid_until="长期"))
    exc = refused("driving_license", with_("driving_license", valid_until="2025-08-20"))
    assert codes(exc) == {"valid_until": "bad_validity_period"}
    # Holder under 18 at first issue (born 1990-03-07).
    exc = refused("driving_license", with_("driving_license", first_issued="2008-03-06"))
    assert codes(exc) == {"first_issued": "too_young"}
    assert validate("driving_license", with_("driving_license", first_issued="2008-03-07"))
    # first_issued after valid_from.
    exc = refused("driving_license", with_("driving_license", first_issued="2019-01-01"))
    assert codes(exc) == {"first_issued": "dates_out_of_order"}
    # A1 needs 22 at valid_from; on 2012-08-20 李华 was 22, on 2011-08-20 only 21.
    young = with_("driving_license", vehicle_classes=["A1"], first_issued="2011-08-20",
                  valid_from="2011-08-20", valid_until="2017-08-20")
    assert codes(refused("driving_license", young)) == {"vehicle_classes": "too_young"}
    assert codes(refused("driving_license", with_("driving_license", nationality="美国"))) \
        == {"nationality": "not_allowed_value"}
    assert codes(refused("driving_license", with_("driving_license", file_number="11001234567"))) \
        == {"file_number": "bad_format"}


# --- plates and VINs -----------------------------------------------------------

@pytest.mark.parametrize("plate", ["京A12345", "京AD12345", "粤B12345F", "沪AFA1234",
                                   "京A1234学", "京A1234警", "琼EZ9Y88", "新Q8M2K5"])
def test_good_plates(plate: str) -> None:
    assert validate("vehicle_license", with_("vehicle_license", plate=plate))["plate"] == plate


def test_plate_middle_dot_normalised() -> None:
    out = validate("vehicle_license", with_("vehicle_license", plate="京A·12345"))
    assert out["plate"] == "京A12345"
    out = validate("vehicle_license", with_("vehicle_license", plate="粤B·12345F"))
    assert out["plate"] == "粤B12345F"


@pytest.mark.parametrize("plate", [
    "京A1234",      # too short
    "京A123456",    # 6-digit ordinary serial
    "京AI2345",     # I is not used in serials
    "京A1234O",     # nor O
    "港A12345",     # not a province abbreviation
    "AA12345",      # no province
    "京112345",     # authority must be a letter
    "京a12345",     # lowercase
    "京AD123",      # too short for any format
    "京AD12345D",   # 9 characters
    "京AA12345",    # 8 chars but not D/F
    "京AD1A345",    # small NEV: last 4 must be digits
    "粤B1234AF",    # large NEV: 5 digits before D/F
    "京A·1·2345",
    "京Ａ12345",    # full-width letter
])
def test_bad_plates(plate: str) -> None:
    exc = refused("vehicle_license", with_("vehicle_license", plate=plate))
    assert codes(exc) == {"plate": "bad_format"}


def test_published_vin_accepted_and_bad_check_digit_refused() -> None:
    out = validate("vehicle_license", with_("vehicle_license", vin=PUBLISHED_VIN))
    assert out["vin"] == PUBLISHED_VIN
    for wrong in "0123456789":
        bad = PUBLISHED_VIN[:8] + wrong + PUBLISHED_VIN[9:]
        exc = refused("vehicle_license", with_("vehicle_license", vin=bad))
        assert codes(exc) == {"vin": "bad_check_digit"}


@pytest.mark.parametrize("vin", ["1M8GDM9AXKP04278", "1M8GDM9AXKP0427888",
                                 "1M8GDM9AXKP04278I", "1M8GDM9AXKP04278O",
                                 "1M8GDM9AXKQ042788", "1m8gdm9axkp042788"])
def test_vin_bad_format(vin: str) -> None:
    exc = refused("vehicle_license", with_("vehicle_license", vin=vin))
    assert codes(exc) == {"vin": "bad_format"}


def test_vehicle_licence_lists_and_dates() -> None:
    assert codes(refused("vehicle_license", with_("vehicle_license", vehicle_type="飞船"))) \
        == {"vehicle_type": "not_allowed_value"}
    assert codes(refused("vehicle_license", with_("vehicle_license", use_character="私用"))) \
        == {"use_character": "not_allowed_value"}
    exc = refused("vehicle_license", with_("vehicle_license", issued_on="2022-05-09"))
    assert codes(exc) == {"issued_on": "dates_out_of_order"}
    # The owner may be an organisation.
    assert validate("vehicle_license", with_("vehicle_license", name="北京某某科技有限公司"))


# --- e-bike ---------------------------------------------------------------------

def test_ebike_fields() -> None:
    out = validate("ebike_registration",
                   with_("ebike_registration", plate="京A·H37021",
                         anti_theft_tag="e28011606000020849a1c3f7"))
    assert out["plate"] == "京AH37021"
    assert out["anti_theft_tag"] == "E28011606000020849A1C3F7"
    for field, bad in [("plate", "京A12345"), ("plate", "京AI37021"),
                       ("anti_theft_tag", "E28011606000020849A1C3F"),
                       ("anti_theft_tag", "G28011606000020849A1C3F7"),
                       ("frame_number", "YD-2403"), ("motor_number", "M48"),
                       ("frame_number", "ＹＤ2403A0012345")]:
        exc = refused("ebike_registration", with_("ebike_registration", **{field: bad}))
        assert codes(exc) == {field: "bad_format"}, (field, bad)
    assert codes(refused("ebike_registration", with_("ebike_registration", colour="透明"))) \
        == {"colour": "not_allowed_value"}
    # Optional fields may be omitted but not sent blank.
    claims = example("ebike_registration")
    del claims["motor_number"], claims["anti_theft_tag"]
    assert validate("ebike_registration", claims) == claims
    claims["motor_number"] = ""
    assert codes(refused("ebike_registration", claims)) == {"motor_number": "empty"}


# --- household book and text fields -----------------------------------------------

def test_household_book_lists() -> None:
    for field, bad, code in [("household_type", "个人户", "not_allowed_value"),
                             ("relationship", "朋友", "not_allowed_value"),
                             ("ethnicity", "汉", "not_allowed_value"),
                             ("sex", "M", "not_allowed_value"),
                             ("household_number", "11001234", "bad_format"),
                             ("household_number", "１１００１２３４５", "bad_format"),
                             ("registered_on", "1990-03-06", "dates_out_of_order")]:
        exc = refused("household_book", with_("household_book", **{field: bad}))
        assert codes(exc) == {field: code}, field


def test_text_fields() -> None:
    out = validate("id_card", with_("id_card", name="  李华 ", address=" 北京市东城区某路1号\u3000"))
    assert out["name"] == "李华" and out["address"] == "北京市东城区某路1号"
    assert validate("id_card", with_("id_card", name="买买提·艾力"))
    for field, bad, code in [("name", "李" * 31, "too_long"), ("name", "李华2", "bad_format"),
                             ("address", "北" * 101, "too_long"),
                             ("address", "北京市\n东城区", "control_character"),
                             ("address", "北京市\u202e东城区", "control_character"),
                             ("issuing_authority", "北京市东城区政府", "bad_format"),
                             ("name", 42, "wrong_type"), ("name", "", "missing"),
                             ("name", None, "missing")]:
        exc = refused("id_card", with_("id_card", **{field: bad}))
        assert codes(exc) == {field: code}, (field, bad)


# --- whole-claim behaviour ----------------------------------------------------------

def test_unknown_and_missing_fields() -> None:
    claims = with_("id_card", photo="base64...")
    del claims["address"]
    exc = refused("id_card", claims)
    assert codes(exc) == {"photo": "unknown_field", "address": "missing"}
    assert codes(refused("id_card", "not a mapping")) == {"claims": "wrong_type"}  # type: ignore[arg-type]


def test_every_bad_field_is_reported() -> None:
    good_id = str(example("driving_license")["id_number"])
    claims = with_("driving_license",
                   id_number=good_id[:17] + ("1" if good_id[17] != "1" else "2"),
                   vehicle_classes=["C9"],
                   valid_from="2020-02-30",
                   nationality="",
                   extra="x")
    exc = refused("driving_license", claims)
    assert codes(exc) == {"nationality": "missing", "id_number": "bad_check_digit",
                          "vehicle_classes": "not_allowed_value",
                          "valid_from": "not_a_date", "extra": "unknown_field"}
    assert all(isinstance(e, FieldError) for e in exc.errors)
    text = str(exc)
    for e in exc.errors:
        assert e.field in text and e.code in text and e.message in text
        assert e.message_zh in exc.message_zh
    assert "准驾车型" in exc.message_zh
    assert isinstance(exc, ValueError)


@pytest.mark.parametrize(("licence_type", "field", "bad"), [
    ("id_card", "id_number", "110101199003070039"),
    ("id_card", "id_number", "１10101199003070038"),
    ("id_card", "valid_from", "2020-02-30"),
    ("id_card", "name", "SECRETNAME123"),
    ("id_card", "birth_date", "1990-03-08"),
    ("id_card", "address", "秘密地址\x00"),
    ("household_book", "household_number", "98765"),
    ("vehicle_license", "plate", "京AI2345"),
    ("vehicle_license", "vin", "1M8GDM9A5KP042788"),
    ("driving_license", "vehicle_classes", ["ZZTOP"]),
    ("ebike_registration", "anti_theft_tag", "DEADBEEFCAFE"),
])
def test_messages_never_contain_the_value(licence_type: str, field: str, bad: object) -> None:
    exc = refused(licence_type, with_(licence_type, **{field: bad}))
    assert field in codes(exc)
    needle = bad[0] if isinstance(bad, list) else str(bad).strip("\x00")
    rendered = [str(exc), exc.message_zh, repr(exc.errors)]
    for e in exc.errors:
        rendered += [e.message, e.message_zh]
    assert all(needle not in r for r in rendered)


def test_result_is_json_ready() -> None:
    import json

    for t in TYPES:
        out = validate(t, example(t))
        assert json.loads(json.dumps(out, ensure_ascii=False)) == out


def test_c6_light_trailer_needs_20_years() -> None:
    """Art. 13 of the 2022 driving licence regulation: C6 (轻型牵引挂车) from 20, like B1/B2."""
    claims = example("driving_license")  # holder born 1990-03-07
    eighteen = dict(claims, first_issued="2008-03-07", valid_from="2008-03-07", valid_until="2014-03-07", vehicle_classes=["C1", "C6"])
    assert validate("driving_license", dict(eighteen, vehicle_classes=["C1"]))
    with pytest.raises(ClaimsInvalid) as refused:
        validate("driving_license", eighteen)
    assert "vehicle_classes" in refused.value.fields


@pytest.mark.parametrize("name", ["·", "•", "· •", "李 ·", "· 李", "李··华", "李 · 华"])
def test_a_name_is_letters_with_single_separators_between_them(name: str) -> None:
    with pytest.raises(ClaimsInvalid) as refused:
        validate("id_card", dict(example("id_card"), name=name))
    assert refused.value.codes == {"name": "bad_format"}


@pytest.mark.parametrize("name", ["李华", "买买提·吐尔逊", "Anna Maria", "阿依古丽•买买提"])
def test_names_with_a_separator_inside_are_fine(name: str) -> None:
    assert validate("id_card", dict(example("id_card"), name=name))["name"] == name


@pytest.mark.parametrize("licence_type", ["id_card", "household_book"])
def test_a_hong_kong_macao_or_taiwan_number_is_not_on_a_mainland_card(licence_type: str) -> None:
    from issuer.schemas import id_check_digit

    number = "830000" + "19900307003"
    number += id_check_digit(number)
    claims = dict(example(licence_type), id_number=number)
    with pytest.raises(ClaimsInvalid) as refused:
        validate(licence_type, claims)
    assert refused.value.codes.get("id_number") == "not_a_mainland_number"
    # the same number is fine where such residents appear (an e-bike registration)
    assert validate("ebike_registration", dict(example("ebike_registration"), id_number=number))
