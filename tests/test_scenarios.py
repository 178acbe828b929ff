"""Scenario policies and the window matters catalogue."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import scenarios
from scenarios import (
    DERIVED_CLAIMS,
    LICENCE_FIELDS,
    LICENCE_TITLES,
    SCENARIOS,
    Matter,
    MatterError,
    Policy,
    PolicyError,
    check_matter,
    get_matter,
    get_policy,
    load_matters,
    load_policies,
    load_policy,
)
from scenarios.matters import DEPARTMENTS, matters_by_department
from scenarios.policy import POLICIES_DIR

# ---------------------------------------------------------------- policies


def test_all_six_policies_load_in_order() -> None:
    policies = load_policies()
    assert tuple(policies) == SCENARIOS == (
        "hotel",
        "internet_cafe",
        "fuel_purchase",
        "street_check",
        "ebike_check",
        "window",
    )
    for name, policy in policies.items():
        assert isinstance(policy, Policy)
        assert policy.name == name
        assert policy.title_zh and policy.title_en
        assert get_policy(name) is policy
        assert set(policy.disclose) == set(policy.accepts)
        # register fields are disclosed by at least one accepted type
        for field in policy.register:
            assert any(field in policy.disclose[t] for t in policy.accepts)
        assert policy.status_unknown in {"refuse", "warn"}


def test_loading_is_cached_and_read_only() -> None:
    assert load_policies() is load_policies()
    assert load_policies(POLICIES_DIR) is load_policies()
    policies = load_policies()
    with pytest.raises(TypeError):
        policies["x"] = policies["hotel"]  # type: ignore[index]
    with pytest.raises(TypeError):
        policies["hotel"].disclose["id_card"] = frozenset()  # type: ignore[index]


def test_policy_titles_are_fixed() -> None:
    titles = {name: p.title_zh for name, p in load_policies().items()}
    assert titles == {
        "hotel": "旅馆入住登记",
        "internet_cafe": "网吧上网登记",
        "fuel_purchase": "散装汽油购买登记",
        "street_check": "街面盘查身份核验",
        "ebike_check": "电动自行车防盗核查",
        "window": "政务服务窗口",
    }


def test_hotel_policy() -> None:
    hotel = get_policy("hotel")
    assert hotel.accepts == ("id_card", "household_book")
    identity = {"name", "sex", "ethnicity", "birth_date", "address", "id_number"}
    assert hotel.disclosed_for("id_card") == identity
    assert hotel.disclosed_for("household_book") == identity
    assert hotel.register == ("name", "sex", "ethnicity", "id_number", "address")
    assert hotel.min_age is None
    assert [f.name for f in hotel.clerk_fields] == ["room"]
    assert hotel.clerk_fields[0].required and hotel.clerk_fields[0].kind == "text"
    assert hotel.status_unknown == "warn"
    assert hotel.status_max_age_seconds == 72 * 3600
    assert hotel.disclosed_for("driving_license") == frozenset()


def test_internet_cafe_discloses_no_birth_date_id_number_or_address() -> None:
    cafe = get_policy("internet_cafe")
    assert cafe.accepts == ("id_card",)
    disclosed = cafe.disclosed_for("id_card")
    assert disclosed == {"name", "id_number_masked", "age_over_18"}
    for hidden in ("birth_date", "id_number", "address"):
        assert hidden not in disclosed
    assert cafe.min_age == 18
    assert set(cafe.register) == {"name", "id_number_masked"}
    assert [f.name for f in cafe.clerk_fields] == ["terminal"]


def test_fuel_purchase_discloses_no_address_and_refuses_unknown_status() -> None:
    fuel = get_policy("fuel_purchase")
    assert fuel.accepts == ("id_card",)
    assert fuel.disclosed_for("id_card") == {"name", "id_number"}
    assert "address" not in fuel.disclosed_for("id_card")
    assert set(fuel.register) == {"name", "id_number"}
    kinds = {f.name: f.kind for f in fuel.clerk_fields}
    assert kinds == {"litres": "decimal", "purpose": "text"}
    assert fuel.status_unknown == "refuse"
    assert fuel.status_max_age_seconds == 6 * 3600


def test_street_check_ebike_check_and_window() -> None:
    street = get_policy("street_check")
    assert set(street.accepts) == {"id_card", "residence_permit", "driving_license"}
    # exactly the identity items, as for the hotel and the café: a field too many is a leak
    identity = {"name", "sex", "birth_date", "id_number", "address"}
    assert street.disclosed_for("id_card") == identity | {"ethnicity"}
    assert street.disclosed_for("residence_permit") == identity
    assert street.disclosed_for("driving_license") == identity
    assert "nationality" not in street.disclosed_for("driving_license")
    assert [f.name for f in street.clerk_fields] == ["place"]

    ebike = get_policy("ebike_check")
    assert ebike.accepts == ("ebike_registration",)
    assert ebike.disclosed_for("ebike_registration") == {
        "plate", "brand", "model", "colour", "frame_number",
        "anti_theft_tag", "registered_on", "id_number_masked",
    }
    assert "id_number" not in ebike.disclosed_for("ebike_registration")
    assert [f.name for f in ebike.clerk_fields] == ["place"]

    window = get_policy("window")
    assert set(window.accepts) == set(LICENCE_FIELDS)
    for t, fields in LICENCE_FIELDS.items():
        assert window.disclosed_for(t) == frozenset(fields)
    assert window.clerk_fields == ()


def test_defaults_and_ranges_of_packaged_policies() -> None:
    for policy in load_policies().values():
        assert policy.freshness_seconds == 60
        assert policy.clock_skew_seconds == 30
        assert 60 <= policy.status_max_age_seconds <= 72 * 3600


def test_every_disclosed_claim_is_a_field_or_a_derived_claim() -> None:
    assert DERIVED_CLAIMS == {"age_over_18", "id_number_masked"}
    for policy in load_policies().values():
        for t in policy.accepts:
            for claim in policy.disclosed_for(t):
                assert claim in LICENCE_FIELDS[t] or claim in DERIVED_CLAIMS, (policy.name, t, claim)


def test_licence_field_lists() -> None:
    assert tuple(LICENCE_FIELDS) == (
        "id_card", "household_book", "residence_permit",
        "driving_license", "vehicle_license", "ebike_registration",
    )
    assert LICENCE_FIELDS["id_card"] == (
        "name", "sex", "ethnicity", "birth_date", "address", "id_number",
        "issuing_authority", "valid_from", "valid_until",
    )
    assert len(LICENCE_FIELDS["household_book"]) == 13
    assert len(LICENCE_FIELDS["driving_license"]) == 12
    assert "vin" in LICENCE_FIELDS["vehicle_license"]
    assert "anti_theft_tag" in LICENCE_FIELDS["ebike_registration"]
    assert LICENCE_TITLES["household_book"][0] == "户口簿"


def test_unknown_policy_name() -> None:
    with pytest.raises(PolicyError, match="nope"):
        get_policy("nope")
    with pytest.raises(KeyError):
        get_policy("nope")


def test_package_does_not_import_sqlalchemy_or_certfree() -> None:
    code = (
        "import sys, scenarios, scenarios.policy, scenarios.matters\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "{'sqlalchemy', 'flask', 'issuer', 'verifier', 'wallet', 'keys', 'app'}]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ------------------------------------------------------- broken policies

MINIMAL = """\
name = "{name}"
title_zh = "测试"
title_en = "Test"
accepts = ["id_card"]
register = ["name"]
status_max_age_seconds = 3600
status_unknown = "warn"
{extra}
[disclose]
id_card = ["name", "id_number_masked"]
"""


def write_policy(directory: Path, name: str = "test_desk", extra: str = "", body: str | None = None) -> Path:
    path = directory / f"{name}.toml"
    text = body if body is not None else MINIMAL.format(name=name, extra=extra)
    path.write_text(text, encoding="utf-8")
    return path


def test_minimal_policy_gets_defaults(tmp_path: Path) -> None:
    policy = load_policy(write_policy(tmp_path))
    assert policy.freshness_seconds == 60
    assert policy.clock_skew_seconds == 30
    assert policy.min_age is None
    assert policy.clerk_fields == ()
    assert policy.disclosed_for("id_card") == {"name", "id_number_masked"}
    assert dict(load_policies(tmp_path)) == {"test_desk": policy}


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        # unknown key
        ('status_unknown = "warn"', 'status_unknown = "warn"\ncolour = "red"', "colour"),
        # unknown licence type in accepts
        ('accepts = ["id_card"]', 'accepts = ["id_card", "passport"]', "accepts[1]"),
        # unknown licence type in disclose
        ('id_card = ["name", "id_number_masked"]',
         'id_card = ["name"]\npassport = ["name"]', "disclose.passport"),
        # disclosed name that is not a field of the type
        ('id_card = ["name", "id_number_masked"]', 'id_card = ["name", "plate"]', "disclose.id_card[1]"),
        # register field not disclosed
        ('register = ["name"]', 'register = ["name", "address"]', "register[1]"),
        # freshness out of range
        ('status_unknown = "warn"', 'status_unknown = "warn"\nfreshness_seconds = 5', "freshness_seconds"),
        ('status_unknown = "warn"', 'status_unknown = "warn"\nfreshness_seconds = 601', "freshness_seconds"),
        # skew out of range
        ('status_unknown = "warn"', 'status_unknown = "warn"\nclock_skew_seconds = 301', "clock_skew_seconds"),
        # status_unknown not refuse/warn
        ('status_unknown = "warn"', 'status_unknown = "ignore"', "status_unknown"),
        # integer given as text / as a boolean
        ('status_max_age_seconds = 3600', 'status_max_age_seconds = "3600"', "status_max_age_seconds"),
        ('status_unknown = "warn"', 'status_unknown = "warn"\nfreshness_seconds = true', "freshness_seconds"),
        # min_age 18 without age_over_18 disclosed
        ('status_unknown = "warn"', 'status_unknown = "warn"\nmin_age = 18', "min_age"),
        # missing required key
        ('register = ["name"]\n', "", "register"),
        # accepted type without a disclose list
        ('accepts = ["id_card"]', 'accepts = ["id_card", "household_book"]', "disclose.household_book"),
        # derived claim the type cannot carry
        ('accepts = ["id_card"]', 'accepts = ["id_card", "vehicle_license"]\n', "disclose.vehicle_license[1]"),
    ],
)
def test_broken_policy_is_refused_naming_the_key(tmp_path: Path, old: str, new: str, key: str) -> None:
    text = MINIMAL.format(name="broken", extra="")
    assert old in text
    text = text.replace(old, new, 1)
    if "vehicle_license" in new:
        text += 'vehicle_license = ["plate", "id_number_masked"]\n'
    path = write_policy(tmp_path, "broken", body=text)
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert info.value.file == "broken.toml"
    assert info.value.key == key
    assert "broken.toml" in str(info.value)
    assert repr(key) in str(info.value)
    # the directory loader refuses it too
    with pytest.raises(PolicyError, match="broken.toml"):
        load_policies(tmp_path)


def test_clerk_field_validation(tmp_path: Path) -> None:
    good = '[[clerk_fields]]\nname = "room"\nlabel_zh = "房间号"\nlabel_en = "Room"\nkind = "text"\nrequired = true\nmax_length = 16\n'
    base = MINIMAL.format(name="desk", extra="")
    policy = load_policy(write_policy(tmp_path, "desk", body=base + good))
    assert policy.clerk_fields[0].label_zh == "房间号"
    assert policy.clerk_field("room") is policy.clerk_fields[0]

    cases = {
        "clerk_fields[0].kind": good.replace('"text"', '"money"'),
        "clerk_fields[0].max_length": good.replace("16", "0"),
        "clerk_fields[0].required": good.replace("true", '"yes"'),
        "clerk_fields[0].colour": good + 'colour = "red"\n',
        "clerk_fields[0].label_en": good.replace('label_en = "Room"\n', ""),
        "clerk_fields[1].name": good + good,
        "clerk_fields[0].name": good.replace('"room"', '"name"'),  # clashes with register
    }
    for key, clerk in cases.items():
        path = write_policy(tmp_path, "desk", body=base + clerk)
        with pytest.raises(PolicyError) as info:
            load_policy(path)
        assert info.value.key == key, (key, str(info.value))


def test_file_name_must_match_policy_name(tmp_path: Path) -> None:
    path = tmp_path / "other.toml"
    path.write_text(MINIMAL.format(name="desk", extra=""), encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert info.value.key == "name" and "other.toml" in str(info.value)


def test_invalid_toml_is_refused(tmp_path: Path) -> None:
    path = write_policy(tmp_path, "desk", body="name = \n")
    with pytest.raises(PolicyError, match="desk.toml"):
        load_policy(path)


def test_min_age_with_age_predicate_loads(tmp_path: Path) -> None:
    text = MINIMAL.format(name="bar", extra="min_age = 18").replace(
        '"id_number_masked"]', '"id_number_masked", "age_over_18"]'
    )
    assert load_policy(write_policy(tmp_path, "bar", body=text)).min_age == 18
    # an age other than 18 needs the birth date
    text16 = text.replace("min_age = 18", "min_age = 16")
    with pytest.raises(PolicyError) as info:
        load_policy(write_policy(tmp_path, "bar", body=text16))
    assert info.value.key == "min_age"


def test_directory_cache_sees_changes(tmp_path: Path) -> None:
    write_policy(tmp_path, "desk")
    first = load_policies(tmp_path)
    assert first["desk"].freshness_seconds == 60
    write_policy(tmp_path, "desk", extra="freshness_seconds = 120")
    second = load_policies(tmp_path)
    assert second["desk"].freshness_seconds == 120


# ----------------------------------------------------------------- matters


def test_catalogue_size_ids_and_departments() -> None:
    matters = load_matters()
    assert len(matters) >= 32
    assert len(set(matters)) == len(matters)
    for mid, matter in matters.items():
        assert isinstance(matter, Matter)
        assert matter.id == mid and mid.isascii()
        assert matter.title_zh and matter.title_en and matter.department_zh
        assert matter.requires
        assert set(matter.requires) <= set(LICENCE_FIELDS)
        for group in matter.one_of:
            assert len(group) >= 2 and set(group) <= set(LICENCE_FIELDS)
    departments = {m.department for m in matters.values()}
    assert departments == set(DEPARTMENTS) == {
        "household_registration", "exit_entry", "traffic_police", "municipal",
    }
    grouped = matters_by_department()
    assert sum(len(v) for v in grouped.values()) == len(matters)
    assert all(len(v) >= 4 for v in grouped.values())
    titles = {m.title_zh for m in matters.values()}
    for expected in ("出生登记", "户口迁出", "分户", "居住证签注", "普通护照申领",
                     "驾驶证期满换证", "机动车转移登记", "电动自行车转移登记", "住房公积金提取"):
        assert any(expected in t for t in titles), expected


def test_every_matter_can_be_processed_at_the_window() -> None:
    window = get_policy("window")
    for matter in load_matters().values():
        assert matter.licence_types <= set(window.accepts)


def test_check_matter_missing_one_licence() -> None:
    transfer = get_matter("vehicle_transfer")
    assert set(transfer.requires) == {"vehicle_license", "id_card"}
    check = check_matter(transfer, ["id_card"])
    assert not check.done
    assert check.missing == ("vehicle_license",)
    assert check.missing_one_of == ()
    assert "行驶证" in check.message_zh()
    assert check.message_zh().startswith("缺少：")
    assert "vehicle licence" in check.message()

    school = get_matter("school_enrolment_migrant")
    check = check_matter(school, ["residence_permit"])
    assert check.missing == ("household_book",)
    assert check.message_zh() == "缺少：户口簿"


def test_check_matter_done_when_all_present() -> None:
    transfer = get_matter("vehicle_transfer")
    check = check_matter(transfer, iter(["vehicle_license", "id_card", "driving_license"]))
    assert check.done and check.missing == () and check.missing_one_of == ()
    assert "齐全" in check.message_zh()
    check = check_matter(transfer, [])
    assert check.missing == transfer.requires


def test_one_of_is_satisfied_by_either_alternative() -> None:
    insurance = get_matter("medical_insurance_enrolment")
    assert insurance.one_of == (("id_card", "household_book"),)
    assert check_matter(insurance, ["residence_permit", "id_card"]).done
    assert check_matter(insurance, ["residence_permit", "household_book"]).done
    assert check_matter(insurance, ["residence_permit", "id_card", "household_book"]).done
    check = check_matter(insurance, ["residence_permit"])
    assert not check.done
    assert check.missing == ()
    assert check.missing_one_of == (("id_card", "household_book"),)
    assert "居民身份证" in check.message_zh() and "户口簿" in check.message_zh()
    # the alternative does not replace a required licence
    check = check_matter(insurance, ["id_card"])
    assert check.missing == ("residence_permit",) and not check.done


def test_check_matter_refuses_unknown_types() -> None:
    with pytest.raises(ValueError):
        check_matter(get_matter("passport_application"), ["passport"])


def test_unknown_matter() -> None:
    with pytest.raises(KeyError):
        get_matter("no_such_matter")
    with pytest.raises(MatterError, match="no_such_matter"):
        get_matter("no_such_matter")


CATALOGUE = """\
[[matter]]
id = "a"
title_zh = "甲"
title_en = "A"
department = "municipal"
department_zh = "市政"
requires = ["id_card"]
"""


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (CATALOGUE + CATALOGUE, "duplicate id"),
        (CATALOGUE.replace('["id_card"]', '["passport"]'), "passport"),
        (CATALOGUE.replace('"municipal"', '"tax_office"'), "department"),
        (CATALOGUE.replace('["id_card"]', "[]"), "requires"),
        (CATALOGUE + 'one_of = [["household_book"]]\n', "one_of[0]"),
        (CATALOGUE + 'one_of = [["id_card", "household_book"]]\n', "also in requires"),
        (CATALOGUE + 'fee = 10\n', "fee"),
    ],
)
def test_broken_catalogue_is_refused(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "matters.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(MatterError) as info:
        load_matters(path)
    assert needle in str(info.value)
    assert "matters.toml" in str(info.value)


def test_custom_catalogue_loads(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_text(CATALOGUE, encoding="utf-8")
    matters = load_matters(path)
    assert list(matters) == ["a"] and matters["a"].one_of == ()


def test_public_api() -> None:
    for name in scenarios.__all__:
        assert hasattr(scenarios, name), name
    assert "Register" not in scenarios.__all__


def test_the_sdk_names_each_licence_as_its_card_does() -> None:
    """A window matter's page lists the documents under the card's title ("Household
    register book") and says what is missing with the SDK's (``licence_title_en``): the two
    must name the same document. The ID card alone has two forms: "ID card" on its card,
    "resident identity card" (its official English name) in the SDK's sentences."""
    from issuer import LICENCE_TYPES
    from scenarios import LICENCE_TITLES, licence_title_en, licence_title_zh

    assert set(LICENCE_TITLES) == set(LICENCE_TYPES)
    for name, spec in LICENCE_TYPES.items():
        assert licence_title_zh(name) == spec.title_zh
        if name != "id_card":
            assert licence_title_en(name).lower() == spec.title_en.lower(), name
    assert (licence_title_en("id_card"), LICENCE_TYPES["id_card"].title_en) == ("resident identity card", "ID card")
