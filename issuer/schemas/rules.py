"""Cross-field rules, run on the fields that passed single-field validation.

A rule only runs when every field it reads is present and valid; it returns
(field, Bad) pairs. The first error reported for a field wins.

Rules (all documented in the package docstring):
* birth_date / sex must match the ID number (GB 11643 digits 7-14 and 17);
* birth date <= every issuance / registration date;
* valid_from < valid_until (长期 counts as open-ended);
* id_card: period set by age at valid_from (居民身份证法 art. 5):
  under 16 -> 5 years, 16-25 -> 10, 26-45 -> 20, 46 and over -> 长期;
* residence_permit: exactly 1 year, never 长期;
* driving_license: first_issued <= valid_from; holder 18+ at first_issued
  (the lowest minimum age of any class); at valid_from the holder has the
  minimum age of every listed class (A1/A2 22; A3/B1/B2/N/P 20; others 18);
  period 6 years for the first licence (valid_from == first_issued), else
  6 or 10 years or 长期;
* vehicle_license: registered_on <= issued_on.
Periods end on the same month/day ("valid_from plus N years").
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Mapping

from . import codes
from .checksums import birth_date_from_id, sex_from_id
from .dates import add_years, age_on, parse_date
from .fields import Bad, Context

Found = list[tuple[str, Bad]]
Rule = Callable[[dict[str, object], Context], Found]

_ISSUE_FIELDS = ("valid_from", "first_issued", "registered_on", "issued_on")


def _d(out: Mapping[str, object], name: str) -> _dt.date | None:
    v = out.get(name)
    return parse_date(v) if isinstance(v, str) else None


def birth_date_of(out: Mapping[str, object]) -> _dt.date | None:
    """The holder's birth date: the birth_date field, or else the one the ID number encodes
    (an e-bike registration has an ID number and no birth date field)."""
    if "birth_date" in out:
        return _d(out, "birth_date")
    if "id_number" in out:
        return birth_date_from_id(str(out["id_number"]))
    return None


def matches_id_number(out: dict[str, object], ctx: Context) -> Found:
    found: Found = []
    if "id_number" not in out:
        return found
    idn = str(out["id_number"])
    if "birth_date" in out and _d(out, "birth_date") != birth_date_from_id(idn):
        found.append(("birth_date", Bad(
            "mismatch_with_id_number",
            "does not match the birth date encoded in the ID number",
            "与公民身份号码中的出生日期不一致")))
    if "sex" in out and out["sex"] != sex_from_id(idn):
        found.append(("sex", Bad(
            "mismatch_with_id_number",
            "does not match the sex encoded in the ID number (17th digit)",
            "与公民身份号码第 17 位表示的性别不一致")))
    return found


def born_before_issue(out: dict[str, object], ctx: Context) -> Found:
    born = birth_date_of(out)
    if born is None:
        return []
    return [(name, Bad("dates_out_of_order",
                       "must not be before the holder's date of birth",
                       "不能早于持证人出生日期"))
            for name in _ISSUE_FIELDS
            if (d := _d(out, name)) is not None and d < born]


def _until(out: dict[str, object]) -> _dt.date | str | None:
    v = out.get("valid_until")
    if v == codes.LONG_TERM:
        return codes.LONG_TERM
    return _d(out, "valid_until")


def validity_order(out: dict[str, object], ctx: Context) -> Found:
    start, until = _d(out, "valid_from"), _until(out)
    if isinstance(until, _dt.date) and start is not None and until <= start:
        return [("valid_until", Bad("dates_out_of_order",
                                    "must be after the start of validity",
                                    "必须晚于有效期起始日期"))]
    return []


def _period(out: dict[str, object], allowed: tuple[int, ...],
            long_term_ok: bool, en: str, zh: str) -> Found:
    start, until = _d(out, "valid_from"), _until(out)
    if start is None or until is None:
        return []
    if until == codes.LONG_TERM:
        ok = long_term_ok
    else:
        ok = any(until in add_years(start, n) for n in allowed)
    if ok:
        return []
    return [("valid_until", Bad("bad_validity_period", en, zh))]


def id_card_period(out: dict[str, object], ctx: Context) -> Found:
    born, start = birth_date_of(out), _d(out, "valid_from")
    if born is None or start is None:
        return []
    age = age_on(born, start)
    years = 5 if age < 16 else 10 if age < 26 else 20 if age < 46 else None
    return _period(
        out, (years,) if years else (), years is None,
        "does not match the statutory validity for the holder's age at issue "
        "(under 16: 5 years, 16-25: 10, 26-45: 20, 46 and over: 长期)",
        "与签发时年龄对应的法定有效期不符（未满16周岁5年，16至25周岁10年，"
        "26至45周岁20年，46周岁以上长期）")


def residence_permit_period(out: dict[str, object], ctx: Context) -> Found:
    return _period(out, (1,), False,
                   "must be exactly one year after the start of validity",
                   "有效期应为自起始日期起一年")


def driving_license_rules(out: dict[str, object], ctx: Context) -> Found:
    found: Found = []
    born, first, start = birth_date_of(out), _d(out, "first_issued"), _d(out, "valid_from")
    if first is not None and start is not None and first > start:
        found.append(("first_issued", Bad(
            "dates_out_of_order", "must not be after the start of validity",
            "不能晚于有效起始日期")))
    if born is not None and first is not None and age_on(born, first) < 18:
        found.append(("first_issued", Bad(
            "too_young", "the holder must be at least 18 on the first issue date",
            "初次领证时持证人须年满18周岁")))
    classes = out.get("vehicle_classes")
    if born is not None and start is not None and isinstance(classes, list):
        age = age_on(born, start)
        if any(age < codes.CLASS_MIN_AGE[c] for c in classes):
            found.append(("vehicle_classes", Bad(
                "too_young",
                "a listed class needs an older holder at the start of validity "
                "(A1/A2: 22; A3, B1, B2, N, P: 20; others: 18)",
                "持证人在有效起始日期未达到所列准驾车型的最低年龄"
                "（A1、A2 为22周岁；A3、B1、B2、N、P 为20周岁；其余为18周岁）")))
    if first is not None and start is not None and first == start:
        found += _period(out, (6,), False,
                         "a first licence is valid for exactly 6 years",
                         "初次领取的驾驶证有效期为6年")
    else:
        found += _period(out, (6, 10), True,
                         "must be 6 or 10 years after the start of validity, or 长期",
                         "有效期应为6年、10年或长期")
    return found


def vehicle_dates(out: dict[str, object], ctx: Context) -> Found:
    reg, issued = _d(out, "registered_on"), _d(out, "issued_on")
    if reg is not None and issued is not None and issued < reg:
        return [("issued_on", Bad("dates_out_of_order",
                                  "must not be before the registration date",
                                  "不能早于注册日期"))]
    return []


_COMMON: tuple[Rule, ...] = (matches_id_number, born_before_issue, validity_order)

def mainland_id_number(out: dict[str, object], ctx: Context) -> Found:
    """A resident identity card or household register carries a mainland number: 81, 82
    and 83 (and 71) begin only the numbers on Hong Kong, Macao and Taiwan residents'
    residence permits."""
    idn = out.get("id_number")
    if isinstance(idn, str) and idn[:2] in codes.SAR_CODES:
        return [("id_number", Bad(
            "not_a_mainland_number",
            "a number beginning 71, 81, 82 or 83 is a Hong Kong, Macao or Taiwan resident's; "
            "it is not on this licence",
            "以71、81、82、83开头的号码属于港澳台居民，不会出现在此证件上"))]
    return []


RULES: dict[str, tuple[Rule, ...]] = {
    "id_card": _COMMON + (mainland_id_number, id_card_period),
    "household_book": _COMMON + (mainland_id_number,),
    "residence_permit": _COMMON + (residence_permit_period,),
    "driving_license": _COMMON + (driving_license_rules,),
    "vehicle_license": _COMMON + (vehicle_dates,),
    "ebike_registration": _COMMON,
}
