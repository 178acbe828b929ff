"""What a broken scenario policy is refused with, exactly, and every range on its boundary.

A desk operator who edits a policy file reads the refusal to find the mistake, so each
refusal is held to its whole text (the file, the key and the message the module's
docstring promises), and each number is tried one below, at, and one above both ends of
its range. The expected texts are written here from the policy format, not copied from
the loader's output.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from scenarios import SCENARIOS, PolicyError, get_policy, load_policies, load_policy
from scenarios.policy import POLICIES_DIR, ClerkField, UnknownPolicyError

# A complete policy using every key, each replaced or removed by the cases below.
FULL = """\
name = "desk"
title_zh = "测试窗口"
title_en = "Test desk"
accepts = ["id_card", "household_book"]
min_age = 18
register = ["name", "address"]
freshness_seconds = 45
clock_skew_seconds = 20
status_max_age_seconds = 7200
status_unknown = "refuse"
retention_days = 14

[disclose]
id_card = ["name", "age_over_18", "id_number_masked"]
household_book = ["name", "address", "age_over_18"]

[[clerk_fields]]
name = "room"
label_zh = "房间号"
label_en = "Room number"
kind = "text"
required = true
max_length = 16

[[clerk_fields]]
name = "litres"
label_zh = "升数"
label_en = "Litres"
kind = "decimal"
required = false
max_length = 8
keep = true
"""

ROOM = FULL[FULL.index("[[clerk_fields]]"):FULL.index("[[clerk_fields]]", FULL.index("[[clerk_fields]]") + 1)]


def _load(tmp_path: Path, text: str, stem: str = "desk"):
    path = tmp_path / f"{stem}.toml"
    path.write_text(text, encoding="utf-8")
    return load_policy(path)


def _swap(old: str, new: str) -> str:
    assert FULL.count(old) == 1, old
    return FULL.replace(old, new)


def test_a_full_policy_loads_every_key_as_written(tmp_path: Path) -> None:
    policy = _load(tmp_path, FULL)
    assert policy.name == "desk"
    assert (policy.title_zh, policy.title_en) == ("测试窗口", "Test desk")
    assert policy.accepts == ("id_card", "household_book")
    assert dict(policy.disclose) == {
        "id_card": frozenset({"name", "age_over_18", "id_number_masked"}),
        "household_book": frozenset({"name", "address", "age_over_18"}),
    }
    assert policy.min_age == 18
    assert policy.register == ("name", "address")
    assert policy.clerk_fields == (
        ClerkField("room", "房间号", "Room number", "text", True, 16),
        ClerkField("litres", "升数", "Litres", "decimal", False, 8, keep=True),
    )
    assert not policy.clerk_fields[0].keep  # absent: false
    assert (policy.freshness_seconds, policy.clock_skew_seconds) == (45, 20)
    assert (policy.status_max_age_seconds, policy.status_unknown, policy.retention_days) == (7200, "refuse", 14)
    assert policy.clerk_field_names == ("room", "litres")
    assert policy.clerk_field("litres") is policy.clerk_fields[1]
    assert policy.clerk_field("plate") is None
    assert policy.accepts_type("household_book") and not policy.accepts_type("driving_license")
    assert policy.disclosed_for("driving_license") == frozenset()
    with pytest.raises(TypeError):
        policy.disclose["id_card"] = frozenset()  # type: ignore[index]
    assert hash(policy) == hash(_load(tmp_path, FULL))


def test_the_optional_keys_take_their_documented_defaults(tmp_path: Path) -> None:
    text = FULL
    for line in ("min_age = 18\n", "freshness_seconds = 45\n", "clock_skew_seconds = 20\n", "retention_days = 14\n"):
        text = text.replace(line, "")
    text = text[: text.index("[[clerk_fields]]")]
    policy = _load(tmp_path, text)
    assert policy.min_age is None
    assert policy.clerk_fields == ()
    assert (policy.freshness_seconds, policy.clock_skew_seconds, policy.retention_days) == (60, 30, 30)


# (the policy text, the key named, the message) — the message as the format promises it.
REFUSALS = [
    (_swap('status_unknown = "refuse"', 'status_unknown = "refuse"\ncolour = "red"'), "colour", "unknown key"),
    (_swap('title_en = "Test desk"\n', ""), "title_en", "missing required key"),
    # several keys missing: the first in alphabetical order is named
    (_swap('title_zh = "测试窗口"\n', "").replace('status_unknown = "refuse"\n', ""), "status_unknown", "missing required key"),
    (_swap('name = "desk"', "name = 5"), "name", "must be a non-empty string"),
    (_swap('name = "desk"', 'name = "   "'), "name", "must be a non-empty string"),
    (_swap('name = "desk"', 'name = "Desk"'), "name", "'Desk' is not a lowercase ascii name"),
    (_swap('name = "desk"', 'name = "desk\\n"'), "name", "'desk\\n' is not a lowercase ascii name"),
    (_swap('name = "desk"', 'name = "other"'), "name", "'other' does not match the file name 'desk'"),
    (_swap('title_zh = "测试窗口"', 'title_zh = ""'), "title_zh", "must be a non-empty string"),
    (_swap('title_en = "Test desk"', "title_en = 1"), "title_en", "must be a non-empty string"),
    (_swap('accepts = ["id_card", "household_book"]', 'accepts = "id_card"'), "accepts", "must be a list of names"),
    (_swap('accepts = ["id_card", "household_book"]', "accepts = []"), "accepts", "must not be empty"),
    (_swap('accepts = ["id_card", "household_book"]', 'accepts = ["id_card", "household_book", "id_card"]'),
     "accepts", "'id_card' is listed twice"),
    (_swap('accepts = ["id_card", "household_book"]', 'accepts = ["id_card", "Passport"]'),
     "accepts[1]", "'Passport' is not a lowercase ascii name"),
    (_swap('accepts = ["id_card", "household_book"]', 'accepts = ["id_card", "household_book", "passport"]'),
     "accepts[2]", "unknown licence type 'passport'"),
    (_swap('[disclose]\nid_card = ["name", "age_over_18", "id_number_masked"]\nhousehold_book = ["name", "address", "age_over_18"]\n', "")
     .replace("register = [", 'disclose = ["name"]\nregister = [', 1),
     "disclose", "must be a table: licence type = [claims]"),
    (_swap('household_book = ["name", "address", "age_over_18"]', 'household_book = ["name", "address", "age_over_18"]\npassport = ["name"]'),
     "disclose.passport", "unknown licence type 'passport'"),
    (_swap('household_book = ["name", "address", "age_over_18"]', 'household_book = ["name", "address", "age_over_18"]\nresidence_permit = ["name"]'),
     "disclose.residence_permit", "'residence_permit' is not in accepts"),
    (_swap('household_book = ["name", "address", "age_over_18"]\n', ""),
     "disclose.household_book", "accepted licence type has no disclose list"),
    (_swap('id_card = ["name", "age_over_18", "id_number_masked"]', "id_card = []"), "disclose.id_card", "must not be empty"),
    (_swap('id_card = ["name", "age_over_18", "id_number_masked"]', 'id_card = ["name", "plate", "age_over_18"]'),
     "disclose.id_card[1]", "'plate' is neither a field of id_card nor a derived claim"),
    (_swap('id_card = ["name", "age_over_18", "id_number_masked"]', 'id_card = ["name", "age_over_18", "name"]'),
     "disclose.id_card", "'name' is listed twice"),
    (_swap("min_age = 18", "min_age = 0"), "min_age", "0 is out of range 1..120"),
    (_swap("min_age = 18", "min_age = 121"), "min_age", "121 is out of range 1..120"),
    (_swap("min_age = 18", 'min_age = "18"'), "min_age", "must be an integer"),
    (_swap('household_book = ["name", "address", "age_over_18"]', 'household_book = ["name", "address"]'),
     "min_age", "min_age 18 needs 'age_over_18' disclosed for household_book"),
    (_swap("min_age = 18", "min_age = 16"), "min_age", "min_age 16 needs 'birth_date' disclosed for id_card"),
    (_swap('register = ["name", "address"]', 'register = "name"'), "register", "must be a list of names"),
    (_swap('register = ["name", "address"]', 'register = ["name", "sex"]'),
     "register[1]", "'sex' is not disclosed for any accepted licence type"),
    (_swap('register = ["name", "address"]', 'register = ["name", "name"]'), "register", "'name' is listed twice"),
    (FULL.replace("[[clerk_fields]]", "[[clerk]]", 1), "clerk", "unknown key"),
    (FULL[: FULL.index("[[clerk_fields]]")].replace("register = [", 'clerk_fields = "room"\nregister = ['),
     "clerk_fields", "must be an array of tables ([[clerk_fields]])"),
    (FULL[: FULL.index("[[clerk_fields]]")].replace("register = [", 'clerk_fields = ["room"]\nregister = ['),
     "clerk_fields[0]", "must be a table"),
    (_swap('label_en = "Litres"', 'label_en = "Litres"\nunit = "L"'), "clerk_fields[1].unit", "unknown key"),
    (_swap('label_en = "Litres"\n', ""), "clerk_fields[1].label_en", "missing required key"),
    (_swap('name = "litres"', 'name = "Litres"'), "clerk_fields[1].name", "'Litres' is not a lowercase ascii name"),
    (_swap('name = "litres"', 'name = "address"'), "clerk_fields[1].name", "'address' is also a register field"),
    (_swap('name = "litres"', 'name = "room"'), "clerk_fields[1].name", "'room' is defined twice"),
    (_swap('kind = "decimal"', 'kind = "money"'), "clerk_fields[1].kind", "'money' is not one of ['decimal', 'integer', 'text']"),
    (_swap('kind = "decimal"', "kind = 2"), "clerk_fields[1].kind", "must be a non-empty string"),
    (_swap('label_zh = "升数"', 'label_zh = " "'), "clerk_fields[1].label_zh", "must be a non-empty string"),
    (_swap('label_en = "Litres"', "label_en = 3"), "clerk_fields[1].label_en", "must be a non-empty string"),
    (_swap("required = false", 'required = "no"'), "clerk_fields[1].required", "must be true or false"),
    (_swap("required = false", "required = 0"), "clerk_fields[1].required", "must be true or false"),
    (_swap("keep = true", 'keep = "yes"'), "clerk_fields[1].keep", "must be true or false"),
    (_swap("keep = true", "keep = 1"), "clerk_fields[1].keep", "must be true or false"),
    (_swap("keep = true", "kept = true"), "clerk_fields[1].kept", "unknown key"),
    (_swap("max_length = 8", "max_length = 0"), "clerk_fields[1].max_length", "0 is out of range 1..1000"),
    (_swap("max_length = 8", "max_length = 1001"), "clerk_fields[1].max_length", "1001 is out of range 1..1000"),
    (_swap("max_length = 8", "max_length = 8.0"), "clerk_fields[1].max_length", "must be an integer"),
    (_swap("freshness_seconds = 45", "freshness_seconds = 9"), "freshness_seconds", "9 is out of range 10..600"),
    (_swap("freshness_seconds = 45", "freshness_seconds = 601"), "freshness_seconds", "601 is out of range 10..600"),
    (_swap("freshness_seconds = 45", "freshness_seconds = false"), "freshness_seconds", "must be an integer"),
    (_swap("clock_skew_seconds = 20", "clock_skew_seconds = -1"), "clock_skew_seconds", "-1 is out of range 0..300"),
    (_swap("clock_skew_seconds = 20", "clock_skew_seconds = 301"), "clock_skew_seconds", "301 is out of range 0..300"),
    (_swap("status_max_age_seconds = 7200", "status_max_age_seconds = 59"),
     "status_max_age_seconds", "59 is out of range 60..2592000"),
    (_swap("status_max_age_seconds = 7200", "status_max_age_seconds = 2592001"),
     "status_max_age_seconds", "2592001 is out of range 60..2592000"),
    (_swap('status_unknown = "refuse"', 'status_unknown = "ignore"'), "status_unknown", "'ignore' is not one of ['refuse', 'warn']"),
    (_swap('status_unknown = "refuse"', "status_unknown = 1"), "status_unknown", "must be a non-empty string"),
    (_swap("retention_days = 14", "retention_days = 0"), "retention_days", "0 is out of range 1..3650"),
    (_swap("retention_days = 14", "retention_days = 3651"), "retention_days", "3651 is out of range 1..3650"),
]


def _id(key: str, message: str) -> str:
    """A test id of plain characters (a bracket or a quote in an id confuses tools that pass
    test ids on a command line, mutmut among them)."""
    return re.sub(r"[^A-Za-z0-9_.]+", "-", f"{key} {message}").strip("-")[:60]


@pytest.mark.parametrize(("text", "key", "message"), REFUSALS, ids=[_id(k, m) for _, k, m in REFUSALS])
def test_a_broken_policy_is_refused_with_its_file_key_and_reason(tmp_path: Path, text: str, key: str, message: str) -> None:
    with pytest.raises(PolicyError) as info:
        _load(tmp_path, text)
    assert (info.value.file, info.value.key, info.value.detail) == ("desk.toml", key, message)
    assert str(info.value) == f"desk.toml: key {key!r}: {message}"
    with pytest.raises(PolicyError) as again:
        load_policies(tmp_path)
    assert str(again.value) == str(info.value)


@pytest.mark.parametrize("reserved", ["id", "scenario", "licence_type", "recorded_at", "matter", "fields"])
def test_a_reserved_column_name_is_refused_as_a_register_or_clerk_field(tmp_path: Path, reserved: str) -> None:
    with pytest.raises(PolicyError) as info:
        _load(tmp_path, _swap('register = ["name", "address"]', f'register = ["name", "{reserved}"]'))
    assert (info.value.key, info.value.detail) == ("register[1]", f"{reserved!r} is a reserved column name")
    with pytest.raises(PolicyError) as info:
        _load(tmp_path, _swap('name = "litres"', f'name = "{reserved}"'))
    assert (info.value.key, info.value.detail) == ("clerk_fields[1].name", f"{reserved!r} is a reserved column name")


@pytest.mark.parametrize(
    ("line", "good"),
    [
        ("min_age = 18", ["min_age = 1", "min_age = 120"]),
        ("freshness_seconds = 45", ["freshness_seconds = 10", "freshness_seconds = 600"]),
        ("clock_skew_seconds = 20", ["clock_skew_seconds = 0", "clock_skew_seconds = 300"]),
        ("status_max_age_seconds = 7200", ["status_max_age_seconds = 60", "status_max_age_seconds = 2592000"]),
        ("retention_days = 14", ["retention_days = 1", "retention_days = 3650"]),
        ("max_length = 8", ["max_length = 1", "max_length = 1000"]),
    ],
)
def test_each_number_is_accepted_at_both_ends_of_its_range(tmp_path: Path, line: str, good: list[str]) -> None:
    key, _, _ = line.partition(" = ")
    for replacement in good:
        text = _swap(line, replacement)
        if key == "min_age":  # any age but 18 needs the birth date disclosed
            text = text.replace('"name", "age_over_18", "id_number_masked"', '"name", "age_over_18", "birth_date"')
            text = text.replace('["name", "address", "age_over_18"]', '["name", "address", "birth_date"]')
        policy = _load(tmp_path, text)
        value = int(replacement.rpartition(" ")[2])
        got = policy.clerk_fields[1].max_length if key == "max_length" else getattr(policy, key)
        assert got == value, replacement


def test_a_register_field_disclosed_for_one_accepted_type_only_is_enough(tmp_path: Path) -> None:
    # address is disclosed for the household book alone, not for the ID card
    assert "address" not in _load(tmp_path, FULL).disclosed_for("id_card")
    assert _load(tmp_path, FULL).register == ("name", "address")
    assert _load(tmp_path, _swap('register = ["name", "address"]', "register = []")).register == ()


def test_a_derived_claim_needs_a_source_field_of_the_type(tmp_path: Path) -> None:
    text = _swap('accepts = ["id_card", "household_book"]', 'accepts = ["id_card", "household_book", "vehicle_license"]')
    text = text.replace("min_age = 18\n", "")
    good = text.replace("[[clerk_fields]]", 'vehicle_license = ["plate", "name"]\n\n[[clerk_fields]]', 1)
    assert _load(tmp_path, good).disclosed_for("vehicle_license") == {"plate", "name"}
    for claim in ("age_over_18", "id_number_masked"):
        bad = text.replace("[[clerk_fields]]", f'vehicle_license = ["plate", "{claim}"]\n\n[[clerk_fields]]', 1)
        with pytest.raises(PolicyError) as info:
            _load(tmp_path, bad)
        assert (info.value.key, info.value.detail) == (
            "disclose.vehicle_license[1]",
            f"derived claim {claim!r} cannot be computed from a vehicle_license",
        )


def test_a_file_that_cannot_be_read_or_parsed_is_named(tmp_path: Path) -> None:
    with pytest.raises(PolicyError) as info:
        load_policy(tmp_path / "absent.toml")
    assert (info.value.file, info.value.key) == ("absent.toml", None)
    assert str(info.value) == "absent.toml: cannot read: No such file or directory"
    with pytest.raises(PolicyError) as info:
        _load(tmp_path, "name = \n")
    assert info.value.file == "desk.toml" and info.value.key is None
    assert str(info.value).startswith("desk.toml: not valid TOML: ")


def test_a_policies_directory_must_exist_and_be_a_directory(tmp_path: Path) -> None:
    with pytest.raises(PolicyError) as info:
        load_policies(tmp_path / "absent")
    assert str(info.value) == f"policies directory {str(tmp_path / 'absent')!r} does not exist"
    assert (info.value.file, info.value.key) == (None, None)
    file = tmp_path / "plain.toml"
    file.write_text(FULL, encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        load_policies(file)
    assert str(info.value) == f"{str(file.resolve())!r} is not a directory"


def test_a_directory_lists_the_six_scenarios_in_order_then_the_others_by_name(tmp_path: Path) -> None:
    for stem in ("zeta", "alpha", "hotel", "window"):
        text = _swap('name = "desk"', f'name = "{stem}"')
        (tmp_path / f"{stem}.toml").write_text(text, encoding="utf-8")
    assert list(load_policies(tmp_path)) == ["hotel", "window", "alpha", "zeta"]
    assert list(load_policies()) == list(SCENARIOS)


def test_an_unknown_scenario_is_named_with_the_known_ones() -> None:
    for name in ("nope", ["hotel"]):
        with pytest.raises(UnknownPolicyError) as info:
            get_policy(name)  # type: ignore[arg-type]
        assert str(info.value) == f"key 'name': unknown scenario {name!r}; known: {', '.join(SCENARIOS)}"
        assert (info.value.file, info.value.key) == (None, "name")
        assert isinstance(info.value, KeyError)
    assert get_policy("hotel") is load_policies()["hotel"]


def test_a_policy_error_reads_the_same_with_or_without_its_place() -> None:
    assert str(PolicyError("plain")) == "plain"
    assert str(PolicyError("m", file="f.toml")) == "f.toml: m"
    assert str(PolicyError("m", key="k")) == "key 'k': m"
    assert str(UnknownPolicyError("m", key="k")) == "key 'k': m"
    assert str(PolicyError.__new__(PolicyError)) == ""


def test_the_packaged_folder_must_hold_exactly_the_six_scenarios(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    import scenarios.policy as policy_module

    packaged = tmp_path / "policies"
    shutil.copytree(POLICIES_DIR, packaged)
    (packaged / "window.toml").unlink()
    (packaged / "zeta.toml").write_text(_swap('name = "desk"', 'name = "zeta"'), encoding="utf-8")
    monkeypatch.setattr(policy_module, "POLICIES_DIR", packaged.resolve())
    expected = ("packaged policies must be exactly ['hotel', 'internet_cafe', 'fuel_purchase', 'street_check', "
                "'ebike_check', 'window']; missing ['window'], unexpected ['zeta']")
    for directory in (None, packaged):  # by default, or named: the packaged folder is held to the six
        with pytest.raises(PolicyError) as info:
            load_policies(directory)
        assert str(info.value) == expected
    shutil.copy(POLICIES_DIR / "window.toml", packaged)
    (packaged / "zeta.toml").unlink()
    assert list(load_policies()) == ["hotel", "internet_cafe", "fuel_purchase", "street_check", "ebike_check", "window"]


def test_the_packaged_folder_is_refused_with_only_one_missing_or_only_one_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    import scenarios.policy as policy_module

    six = "['hotel', 'internet_cafe', 'fuel_purchase', 'street_check', 'ebike_check', 'window']"
    packaged = tmp_path / "policies"
    shutil.copytree(POLICIES_DIR, packaged)
    monkeypatch.setattr(policy_module, "POLICIES_DIR", packaged.resolve())
    (packaged / "window.toml").unlink()  # one missing, nothing extra
    with pytest.raises(PolicyError) as info:
        load_policies()
    assert str(info.value) == f"packaged policies must be exactly {six}; missing ['window'], unexpected []"
    shutil.copy(POLICIES_DIR / "window.toml", packaged)
    (packaged / "zeta.toml").write_text(_swap('name = "desk"', 'name = "zeta"'), encoding="utf-8")  # one extra
    with pytest.raises(PolicyError) as info:
        load_policies()
    assert str(info.value) == f"packaged policies must be exactly {six}; missing [], unexpected ['zeta']"


def test_a_folder_read_once_is_served_from_the_cache_until_a_file_changes(tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "mine"
    shutil.copytree(POLICIES_DIR, folder)
    first = load_policies(folder)
    assert load_policies(folder) is first  # the same mapping: the files were not read again
    (folder / "zeta.toml").write_text(_swap('name = "desk"', 'name = "zeta"'), encoding="utf-8")
    second = load_policies(folder)
    assert second is not first and "zeta" in second and "zeta" not in first
    assert load_policies(folder) is second


def test_the_packaged_folder_is_held_to_the_six_even_through_a_link(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    import scenarios.policy as policy_module

    real = tmp_path / "real"
    shutil.copytree(POLICIES_DIR, real)
    (real / "window.toml").unlink()
    link = tmp_path / "policies"
    link.symlink_to(real, target_is_directory=True)  # an installed package reached through a link
    monkeypatch.setattr(policy_module, "POLICIES_DIR", link)
    with pytest.raises(PolicyError, match=r"missing \['window'\], unexpected \[\]"):
        load_policies()
