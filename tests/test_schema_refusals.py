"""Every refusal of issuer.schemas held to its exact field, code and messages, every bound on
both of its sides, and every cross-field rule on both sides of its boundary.

The expected messages below are the stable texts a desk or a clerk reads (English and
Chinese); the check digits are checked against independent formulations of the standards
(ISO 7064 MOD 11-2 with weights 2^i mod 11, and the ISO 3779 transliteration string), not
against the code's own tables. Everything runs in process, in milliseconds, so mutmut sees it.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import time

import pytest

from issuer.schemas import (
    LICENCE_TYPES,
    ClaimsInvalid,
    FieldError,
    birth_date_from_id,
    example,
    id_check_digit,
    minor_example,
    sex_from_id,
    validate,
    vin_check_digit,
)
from issuer.schemas import fields, licence_types
from issuer.schemas.dates import add_years, age_on
from issuer.schemas.fields import Bad, Context, china_today

TYPES = tuple(LICENCE_TYPES)
CHINA = dt.timezone(dt.timedelta(hours=8))


def make_id(region: str, born: str, seq: str) -> str:
    first17 = region + born.replace("-", "") + seq
    return first17 + id_check_digit(first17)


def with_(licence_type: str, **changes: object) -> dict:
    claims = example(licence_type)
    claims.update(changes)
    return claims


def errors_of(licence_type: str, claims: object, **kw: object) -> list[tuple[str, str, str, str]]:
    with pytest.raises(ClaimsInvalid) as info:
        validate(licence_type, claims, **kw)  # type: ignore[arg-type]
    return [(e.field, e.code, e.message, e.message_zh) for e in info.value.errors]


# --- the refusal texts (stable: a desk shows them) ----------------------------------------

WRONG_TYPE = ("wrong_type", "must be a string", "必须为字符串")
CONTROL = ("control_character", "contains control or invisible characters", "含有控制字符或不可见字符")
NAME_FORMAT = ("bad_format", "may contain only letters, with the separator · or a single space between them",
               "只能包含文字，文字之间可有间隔号“·”或单个空格")
POLICE_FORMAT = ("bad_format", "must be an authority name ending in 公安局 / 分局", "应为以“公安局”或“分局”结尾的机关名称")
NOT_A_DATE = ("not_a_date", "must be a real calendar date YYYY-MM-DD", "必须为真实存在的日期（格式 YYYY-MM-DD）")
YEAR_RANGE = ("out_of_range", "year must be between 1850 and 2199", "年份须在 1850 至 2199 之间")
IN_FUTURE = ("in_future", "must not be in the future", "不能晚于今天")
ID_LENGTH = ("bad_format", "must be exactly 18 characters", "必须为 18 位")
ID_SHAPE = ("bad_format", "must be 17 ASCII digits followed by an ASCII digit or uppercase X",
            "必须为 17 位半角数字加 1 位半角数字或大写 X")
ID_CHECK = ("bad_check_digit", "check digit does not match (GB 11643)", "校验码错误（GB 11643）")
ID_REGION = ("bad_region_code", "address code is not a real region code", "地址码不是有效的行政区划代码")
ID_BIRTH = ("bad_birth_date", "birth-date digits are not a real date", "出生日期码不是有效日期")
ID_FUTURE = ("in_future", "birth-date digits are in the future", "出生日期码晚于今天")
VIN_LENGTH = ("bad_format", "must be exactly 17 characters", "必须为 17 位")
VIN_SHAPE = ("bad_format", "may only contain 0-9 and uppercase A-Z except I, O and Q",
             "只能包含半角数字和除 I、O、Q 以外的大写字母")
VIN_CHECK = ("bad_check_digit", "check digit (position 9) does not match (GB 16735)", "第 9 位校验位错误（GB 16735）")
TAG_FORMAT = ("bad_format", "must be 24 hexadecimal digits (96-bit RFID EPC)",
              "必须为 24 位十六进制数字（96 位 RFID 电子标签）")
PLATE_FORMAT = ("bad_format", "is not a valid plate (province, authority letter, 5 serial characters without I/O, "
                "or an 8-character new-energy plate)",
                "号牌号码格式错误（省份简称＋发牌机关字母＋5 位序号，不含 I、O；或 8 位新能源号牌）")
EBIKE_PLATE_FORMAT = ("bad_format", "must be a province abbreviation, a city letter A-Z and 6 digits or letters (no I or O)",
                      "格式应为省份简称＋城市字母＋6 位数字或字母（不含 I、O）")
COLOUR = ("not_allowed_value", "is not an allowed colour", "不是允许的颜色")
CLASSES_TYPE = ("wrong_type", "must be a list of strings", "必须为字符串列表")
CLASSES_EMPTY = ("missing", "must list at least one class", "至少需要一个准驾车型")
CLASSES_UNKNOWN = ("not_allowed_value", "contains a code that is not an official driving class",
                   "含有不是法定准驾车型代号的内容")
CLASSES_TWICE = ("duplicate_value", "lists the same class more than once", "准驾车型重复")
MISSING = ("missing", "is required", "为必填项")
EMPTY = ("empty", "must not be empty (omit the field instead)", "不能为空（如无此项请省略该字段）")
BIRTH_MISMATCH = ("mismatch_with_id_number", "does not match the birth date encoded in the ID number",
                  "与公民身份号码中的出生日期不一致")
SEX_MISMATCH = ("mismatch_with_id_number", "does not match the sex encoded in the ID number (17th digit)",
                "与公民身份号码第 17 位表示的性别不一致")
BEFORE_BIRTH = ("dates_out_of_order", "must not be before the holder's date of birth", "不能早于持证人出生日期")
UNTIL_ORDER = ("dates_out_of_order", "must be after the start of validity", "必须晚于有效期起始日期")
ID_CARD_PERIOD = ("bad_validity_period",
                  "does not match the statutory validity for the holder's age at issue "
                  "(under 16: 5 years, 16-25: 10, 26-45: 20, 46 and over: 长期)",
                  "与签发时年龄对应的法定有效期不符（未满16周岁5年，16至25周岁10年，26至45周岁20年，46周岁以上长期）")
PERMIT_PERIOD = ("bad_validity_period", "must be exactly one year after the start of validity", "有效期应为自起始日期起一年")
FIRST_AFTER_START = ("dates_out_of_order", "must not be after the start of validity", "不能晚于有效起始日期")
FIRST_TOO_YOUNG = ("too_young", "the holder must be at least 18 on the first issue date", "初次领证时持证人须年满18周岁")
CLASS_TOO_YOUNG = ("too_young",
                   "a listed class needs an older holder at the start of validity "
                   "(A1/A2: 22; A3, B1, B2, N, P: 20; others: 18)",
                   "持证人在有效起始日期未达到所列准驾车型的最低年龄（A1、A2 为22周岁；A3、B1、B2、N、P 为20周岁；其余为18周岁）")
FIRST_PERIOD = ("bad_validity_period", "a first licence is valid for exactly 6 years", "初次领取的驾驶证有效期为6年")
RENEWAL_PERIOD = ("bad_validity_period", "must be 6 or 10 years after the start of validity, or 长期", "有效期应为6年、10年或长期")
ISSUED_BEFORE_REG = ("dates_out_of_order", "must not be before the registration date", "不能早于注册日期")
NOT_MAINLAND = ("not_a_mainland_number",
                "a number beginning 71, 81, 82 or 83 is a Hong Kong, Macao or Taiwan resident's; it is not on this licence",
                "以71、81、82、83开头的号码属于港澳台居民，不会出现在此证件上")
UNKNOWN_TYPE = ("unknown_licence_type",
                "unknown licence type; expected one of id_card, household_book, residence_permit, "
                "driving_license, vehicle_license, ebike_registration",
                "未知的证照类型，应为：id_card、household_book、residence_permit、driving_license、"
                "vehicle_license、ebike_registration")


def too_short(n: int) -> tuple[str, str, str]:
    return ("too_short", f"must be at least {n} characters", f"长度不能少于 {n} 个字符")


def too_long(n: int) -> tuple[str, str, str]:
    return ("too_long", f"must be at most {n} characters", f"长度不能超过 {n} 个字符")


def digits_format(n: int) -> tuple[str, str, str]:
    return ("bad_format", f"must be exactly {n} ASCII digits", f"必须为 {n} 位半角数字")


def serial_format(low: int, high: int) -> tuple[str, str, str]:
    return ("bad_format", f"must be {low}-{high} ASCII digits or uppercase letters",
            f"必须为 {low} 至 {high} 位半角数字或大写字母")


def one_of(en: str, zh: str) -> tuple[str, str, str]:
    return ("not_allowed_value", f"is not an allowed {en}", f"不是允许的{zh}")


# --- single fields: one refusal each, exact --------------------------------------------------

SINGLE_REFUSALS = [
    # (id, licence type, field, value, (code, message, message_zh))
    ("name_not_text", "id_card", "name", 42, WRONG_TYPE),
    ("address_list", "id_card", "address", ["北京"], WRONG_TYPE),
    ("address_newline", "id_card", "address", "北京市\n东城区", CONTROL),
    ("address_zero_width", "id_card", "address", "北京市\u200b东城区", CONTROL),
    ("address_line_separator", "id_card", "address", "北京市\u2028东城区", CONTROL),
    ("address_private_use", "id_card", "address", "北京市\ue000东城区", CONTROL),
    ("address_unassigned", "id_card", "address", "北京市\u0378东城区", CONTROL),
    ("address_101", "id_card", "address", "北" * 101, too_long(100)),
    ("name_31", "id_card", "name", "李" * 31, too_long(30)),
    ("name_digit", "id_card", "name", "李华2", NAME_FORMAT),
    ("name_starts_with_dot", "id_card", "name", "·李", NAME_FORMAT),
    ("name_ends_with_dot", "id_card", "name", "李·", NAME_FORMAT),
    ("name_ends_with_space_dot", "id_card", "name", "李华 ·", NAME_FORMAT),
    ("name_two_dots", "id_card", "name", "李··华", NAME_FORMAT),
    ("name_two_spaces", "id_card", "name", "Anna  Maria", NAME_FORMAT),
    ("authority_one_char", "driving_license", "issuing_authority", "局", too_short(2)),
    ("authority_51", "driving_license", "issuing_authority", "局" * 51, too_long(50)),
    ("police_one_char", "id_card", "issuing_authority", "局", too_short(2)),
    ("police_two_chars", "id_card", "issuing_authority", "东城", POLICE_FORMAT),
    ("police_suffix_alone", "id_card", "issuing_authority", "分局", POLICE_FORMAT),
    ("police_suffix_alone_long", "residence_permit", "issuing_authority", "公安局", POLICE_FORMAT),
    ("police_other_office", "id_card", "issuing_authority", "北京市东城区政府", POLICE_FORMAT),
    ("police_suffix_inside", "id_card", "issuing_authority", "公安局东城办事处", POLICE_FORMAT),
    ("police_51", "id_card", "issuing_authority", "北" * 48 + "公安局", too_long(50)),
    ("birthplace_51", "household_book", "birthplace", "北" * 51, too_long(50)),
    ("brand_model_61", "vehicle_license", "brand_model", "B" * 61, too_long(60)),
    ("owner_61", "vehicle_license", "name", "北" * 61, too_long(60)),
    ("brand_31", "ebike_registration", "brand", "雅" * 31, too_long(30)),
    ("model_31", "ebike_registration", "model", "D" * 31, too_long(30)),
    ("sex_other", "id_card", "sex", "M", one_of("sex (男 or 女)", "性别（男或女）")),
    ("sex_not_text", "id_card", "sex", 1, WRONG_TYPE),
    ("ethnicity_short", "id_card", "ethnicity", "汉", one_of("ethnic group name", "民族名称")),
    ("relationship", "household_book", "relationship", "朋友", one_of("relationship", "家庭关系")),
    ("household_type", "household_book", "household_type", "个人户", one_of("household type", "户别")),
    ("nationality", "driving_license", "nationality", "美国", one_of("nationality", "国籍")),
    ("vehicle_type", "vehicle_license", "vehicle_type", "飞船", one_of("vehicle type", "车辆类型")),
    ("use_character", "vehicle_license", "use_character", "私用", one_of("use character", "使用性质")),
    ("household_number_8", "household_book", "household_number", "11001234", digits_format(9)),
    ("household_number_10", "household_book", "household_number", "1100123456", digits_format(9)),
    ("household_number_wide", "household_book", "household_number", "１１００１２３４５", digits_format(9)),
    ("file_number_11", "driving_license", "file_number", "11001234567", digits_format(12)),
    ("file_number_13", "driving_license", "file_number", "1100123456789", digits_format(12)),
    ("date_30_february", "id_card", "valid_from", "2020-02-30", NOT_A_DATE),
    ("date_one_digit_month", "id_card", "valid_from", "2020-1-01", NOT_A_DATE),
    ("date_with_time", "id_card", "valid_from", "2020-01-01T00:00", NOT_A_DATE),
    ("date_not_text", "id_card", "valid_from", 20200101, WRONG_TYPE),
    ("date_1849", "vehicle_license", "registered_on", "1849-12-31", YEAR_RANGE),
    ("date_2200", "vehicle_license", "issued_on", "2200-01-01", YEAR_RANGE),
    ("until_not_text", "driving_license", "valid_until", 10, WRONG_TYPE),
    ("until_not_a_date", "driving_license", "valid_until", "长期2", NOT_A_DATE),
    ("id_17", "ebike_registration", "id_number", "11010119900307003", ID_LENGTH),
    ("id_19", "ebike_registration", "id_number", "1101011990030700380", ID_LENGTH),
    ("id_lowercase_x", "ebike_registration", "id_number", "11010519491231002x", ID_SHAPE),
    ("id_letter_inside", "ebike_registration", "id_number", "1101011990030700X8", ID_SHAPE),
    ("id_check_digit", "ebike_registration", "id_number", "110101199003070039", ID_CHECK),
    ("id_not_text", "ebike_registration", "id_number", 110101199003070038, WRONG_TYPE),
    ("vin_16", "vehicle_license", "vin", "1M8GDM9AXKP04278", VIN_LENGTH),
    ("vin_18", "vehicle_license", "vin", "1M8GDM9AXKP0427888", VIN_LENGTH),
    ("vin_letter_i", "vehicle_license", "vin", "1M8GDM9AXKP04278I", VIN_SHAPE),
    ("vin_lowercase", "vehicle_license", "vin", "1m8gdm9axkp042788", VIN_SHAPE),
    ("vin_check_digit", "vehicle_license", "vin", "1M8GDM9A5KP042788", VIN_CHECK),
    ("engine_3", "vehicle_license", "engine_number", "TZ2", serial_format(4, 20)),
    ("engine_21", "vehicle_license", "engine_number", "T" * 21, serial_format(4, 20)),
    ("engine_lowercase", "vehicle_license", "engine_number", "tz200xsn", serial_format(4, 20)),
    ("frame_5", "ebike_registration", "frame_number", "YD240", serial_format(6, 20)),
    ("frame_21", "ebike_registration", "frame_number", "Y" * 21, serial_format(6, 20)),
    ("motor_5", "ebike_registration", "motor_number", "M4824", serial_format(6, 20)),
    ("motor_21", "ebike_registration", "motor_number", "M" * 21, serial_format(6, 20)),
    ("tag_23", "ebike_registration", "anti_theft_tag", "E28011606000020849A1C3F", TAG_FORMAT),
    ("tag_25", "ebike_registration", "anti_theft_tag", "E28011606000020849A1C3F70", TAG_FORMAT),
    ("tag_not_hex", "ebike_registration", "anti_theft_tag", "G28011606000020849A1C3F7", TAG_FORMAT),
    # "ﬀ" (one character, U+FB00) upper-cases to the two ASCII letters "FF": only ASCII text
    # is upper-cased, so 23 characters cannot become 24 hex digits.
    ("tag_ligature", "ebike_registration", "anti_theft_tag", "\ufb00" + "0" * 22, TAG_FORMAT),
    ("plate_two_chars", "vehicle_license", "plate", "京A", PLATE_FORMAT),
    ("plate_dot_only", "vehicle_license", "plate", "京A·", PLATE_FORMAT),
    ("plate_dot_first", "vehicle_license", "plate", "京·A12345", PLATE_FORMAT),
    ("plate_two_dots", "vehicle_license", "plate", "京A··12345", PLATE_FORMAT),
    ("plate_letter_o", "vehicle_license", "plate", "京A1234O", PLATE_FORMAT),
    ("plate_six_serial", "vehicle_license", "plate", "京A123456", PLATE_FORMAT),
    ("plate_not_text", "vehicle_license", "plate", 12345, WRONG_TYPE),
    ("ebike_plate_two_chars", "ebike_registration", "plate", "京A", EBIKE_PLATE_FORMAT),
    ("ebike_plate_five", "ebike_registration", "plate", "京A12345", EBIKE_PLATE_FORMAT),
    ("ebike_plate_seven", "ebike_registration", "plate", "京AH370211", EBIKE_PLATE_FORMAT),
    ("ebike_plate_letter_i", "ebike_registration", "plate", "京AI37021", EBIKE_PLATE_FORMAT),
    ("colour_clear", "ebike_registration", "colour", "透明", COLOUR),
    ("colour_four", "ebike_registration", "colour", "红白蓝黑", COLOUR),
    ("colour_suffix_only", "ebike_registration", "colour", "色", COLOUR),
    ("colour_other_suffix", "ebike_registration", "colour", "其他色", COLOUR),
    ("classes_text", "driving_license", "vehicle_classes", "C1", CLASSES_TYPE),
    ("classes_number_inside", "driving_license", "vehicle_classes", ["C1", 1], CLASSES_TYPE),
    ("classes_empty", "driving_license", "vehicle_classes", [], CLASSES_EMPTY),
    ("classes_unknown", "driving_license", "vehicle_classes", ["C1", "C9"], CLASSES_UNKNOWN),
    ("classes_lowercase", "driving_license", "vehicle_classes", ["c1"], CLASSES_UNKNOWN),
    ("classes_twice", "driving_license", "vehicle_classes", ["C1", "E", "C1"], CLASSES_TWICE),
    ("classes_twice_padded", "driving_license", "vehicle_classes", [" C1", "C1 "], CLASSES_TWICE),
]


@pytest.mark.parametrize(("licence_type", "field", "value", "refusal"),
                         [case[1:] for case in SINGLE_REFUSALS], ids=[case[0] for case in SINGLE_REFUSALS])
def test_each_bad_field_is_refused_alone_with_its_code_and_messages(
        licence_type: str, field: str, value: object, refusal: tuple[str, str, str]) -> None:
    assert errors_of(licence_type, with_(licence_type, **{field: value})) == [(field, *refusal)]


SINGLE_ACCEPTED = [
    # (id, licence type, field, value sent, value returned)
    ("name_one_letter", "id_card", "name", "李", "李"),
    ("name_30", "id_card", "name", "李" * 30, "李" * 30),
    ("name_trimmed", "id_card", "name", "  李华 ", "李华"),
    ("name_dot_inside", "id_card", "name", "买买提·艾力", "买买提·艾力"),
    ("name_bullet_inside", "id_card", "name", "阿依古丽•买买提", "阿依古丽•买买提"),
    ("name_space_inside", "id_card", "name", "Anna Maria", "Anna Maria"),
    ("address_100", "id_card", "address", "北" * 100, "北" * 100),
    ("address_ideographic_space", "id_card", "address", "北京市\u3000东城区", "北京市\u3000东城区"),
    ("address_trimmed_both_ends", "id_card", "address", "\u3000北京市东城区 ", "北京市东城区"),
    ("authority_two", "driving_license", "issuing_authority", "交警", "交警"),
    ("authority_50", "driving_license", "issuing_authority", "局" * 50, "局" * 50),
    ("police_three", "id_card", "issuing_authority", "东分局", "东分局"),
    ("police_50", "id_card", "issuing_authority", "北" * 47 + "公安局", "北" * 47 + "公安局"),
    ("brand_one", "ebike_registration", "brand", "A", "A"),
    ("brand_30", "ebike_registration", "brand", "雅" * 30, "雅" * 30),
    ("owner_60", "vehicle_license", "name", "北" * 60, "北" * 60),
    ("sex_trimmed", "id_card", "sex", " 男 ", "男"),
    ("household_number_9", "household_book", "household_number", "000000000", "000000000"),
    ("file_number_12", "driving_license", "file_number", "000000000000", "000000000000"),
    ("date_1850", "vehicle_license", "registered_on", "1850-01-01", "1850-01-01"),
    ("date_2199", "vehicle_license", "issued_on", "2199-12-31", "2199-12-31"),
    ("long_term_trimmed", "driving_license", "valid_until", " 长期 ", "长期"),
    ("engine_4", "vehicle_license", "engine_number", "TZ20", "TZ20"),
    ("engine_20", "vehicle_license", "engine_number", "T" * 20, "T" * 20),
    ("frame_6", "ebike_registration", "frame_number", "YD2403", "YD2403"),
    ("frame_20", "ebike_registration", "frame_number", "Y" * 20, "Y" * 20),
    ("motor_6", "ebike_registration", "motor_number", "M48240", "M48240"),
    ("tag_lowercase", "ebike_registration", "anti_theft_tag", "e28011606000020849a1c3f7", "E28011606000020849A1C3F7"),
    ("plate_dot", "vehicle_license", "plate", "京A·12345", "京A12345"),
    ("plate_large_nev_dot", "vehicle_license", "plate", "粤B·12345F", "粤B12345F"),
    ("plate_trimmed", "vehicle_license", "plate", " 京A12345 ", "京A12345"),
    ("ebike_plate_dot", "ebike_registration", "plate", "京A·H37021", "京AH37021"),
    ("colour_one", "ebike_registration", "colour", "白", "白"),
    ("colour_three", "ebike_registration", "colour", "红白蓝色", "红白蓝色"),
    ("colour_other", "ebike_registration", "colour", "其他", "其他"),
    ("classes_tuple", "driving_license", "vehicle_classes", ("C1",), ["C1"]),
    ("classes_trimmed_sorted", "driving_license", "vehicle_classes", [" E", "C1 "], ["C1", "E"]),
    ("vin_published", "vehicle_license", "vin", "1M8GDM9AXKP042788", "1M8GDM9AXKP042788"),
]


@pytest.mark.parametrize(("licence_type", "field", "value", "returned"),
                         [case[1:] for case in SINGLE_ACCEPTED], ids=[case[0] for case in SINGLE_ACCEPTED])
def test_each_field_is_accepted_at_its_bounds_and_normalised(
        licence_type: str, field: str, value: object, returned: object) -> None:
    out = validate(licence_type, with_(licence_type, **{field: value}))
    assert out[field] == returned
    assert out == dict(example(licence_type), **{field: returned})


# --- the ID number -------------------------------------------------------------------------

GOOD_REGIONS = ["11", "15", "21", "23", "31", "37", "41", "46", "50", "54", "61", "65", "71", "81", "82", "83"]
BAD_REGIONS = ["10", "16", "20", "24", "30", "38", "40", "47", "49", "55", "60", "66", "70", "72", "80", "84", "99"]


@pytest.mark.parametrize("region", GOOD_REGIONS)
def test_an_id_number_from_each_end_of_each_province_range_is_accepted(region: str) -> None:
    rest = "0000" if region in {"71", "81", "82", "83"} else "0101"
    number = make_id(region + rest, "1990-03-07", "003")
    assert validate("ebike_registration", with_("ebike_registration", id_number=number))["id_number"] == number


@pytest.mark.parametrize("region", BAD_REGIONS)
def test_an_id_number_just_outside_each_province_range_is_refused(region: str) -> None:
    number = make_id(region + "0101", "1990-03-07", "003")
    assert errors_of("ebike_registration", with_("ebike_registration", id_number=number)) == [("id_number", *ID_REGION)]


def test_a_mainland_id_number_needs_a_city_code_a_sar_one_does_not() -> None:
    for region in ("110001", "110000", "650000"):
        number = make_id(region, "1990-03-07", "003")
        assert errors_of("ebike_registration", with_("ebike_registration", id_number=number)) == [
            ("id_number", *ID_REGION)]
    for region in ("110100", "111000", "710000", "810000", "820000", "830000"):
        number = make_id(region, "1990-03-07", "003")
        assert validate("ebike_registration", with_("ebike_registration", id_number=number))["id_number"] == number


def test_an_id_numbers_birth_date_is_a_real_date_from_1850_to_today() -> None:
    today = dt.date(2026, 11, 24)
    for born, refusal in [("1849-12-31", ID_BIRTH), ("1990-02-29", ID_BIRTH), ("1990-13-01", ID_BIRTH),
                          ("2026-11-25", ID_FUTURE)]:
        claims = with_("ebike_registration", id_number=make_id("110101", born, "003"))
        assert errors_of("ebike_registration", claims, today=today) == [("id_number", *refusal)], born
    for born in ("1850-01-01", "2026-11-24"):
        claims = with_("ebike_registration", id_number=make_id("110101", born, "003"),
                       registered_on="2026-11-24")
        assert validate("ebike_registration", claims, today=today)["id_number"] == claims["id_number"]


def test_a_birth_date_today_is_accepted_and_tomorrow_is_in_the_future() -> None:
    claims = example("id_card")  # born 1990-03-07, in the date and in the ID number
    assert validate("id_card", claims, today=dt.date(1990, 3, 7)) == claims
    assert errors_of("id_card", claims, today=dt.date(1990, 3, 6)) == [
        ("birth_date", *IN_FUTURE), ("id_number", *ID_FUTURE)]


def test_without_a_date_today_is_the_date_in_china() -> None:
    while True:  # once more if China's midnight passed during the checks
        china = dt.datetime.now(CHINA).date()
        tomorrow = china + dt.timedelta(days=1)
        claims = with_("ebike_registration", id_number=make_id("110101", china.isoformat(), "003"),
                       registered_on=china.isoformat())
        accepted = validate("ebike_registration", claims)["id_number"]
        claims["id_number"] = make_id("110101", tomorrow.isoformat(), "003")
        try:
            validate("ebike_registration", claims)
            refusal: list[tuple[str, str, str, str]] = []
        except ClaimsInvalid as exc:
            refusal = [(e.field, e.code, e.message, e.message_zh) for e in exc.errors]
        if dt.datetime.now(CHINA).date() == china:
            break
    assert accepted == make_id("110101", china.isoformat(), "003")
    assert refusal == [("id_number", *ID_FUTURE)]


@pytest.mark.parametrize("zone", ["Etc/GMT-14", "Etc/GMT+12"], ids=["kiritimati", "baker_island"])
def test_china_today_does_not_depend_on_the_machines_time_zone(zone: str) -> None:
    # At any instant the date in UTC+8 differs from the date in UTC+14 or in UTC-12: one of
    # these two zones tells China's date from the machine's local date.
    saved = os.environ.get("TZ")
    os.environ["TZ"] = zone
    time.tzset()
    try:
        before = dt.datetime.now(CHINA).date()
        got = china_today()
        after = dt.datetime.now(CHINA).date()
    finally:
        if saved is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = saved
        time.tzset()
    assert got in {before, after}


# --- check digits, against independent formulations of the standards ----------------------

def iso7064_mod11_2(first17: str) -> str:
    """ISO 7064 MOD 11-2 as the standard states it: weight 2^(18-i) mod 11 for position i."""
    s = sum(int(c) * pow(2, 17 - i, 11) for i, c in enumerate(first17))
    value = (12 - s % 11) % 11
    return "X" if value == 10 else str(value)


_TRANSLITERATION = "0123456789.ABCDEFGH..JKLMN.P.R..STUVWXYZ"  # ISO 3779: value = index mod 10


def iso3779_check(vin: str) -> str:
    weights = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2]
    s = sum(_TRANSLITERATION.index(c) % 10 * w for c, w in zip(vin, weights))
    return "X" if s % 11 == 10 else str(s % 11)


def test_the_id_check_digit_is_iso7064_mod11_2_for_every_residue() -> None:
    rng = random.Random(11643)
    seen: set[str] = set()
    for _ in range(400):
        first17 = "".join(rng.choice("0123456789") for _ in range(17))
        assert id_check_digit(first17) == iso7064_mod11_2(first17), first17
        seen.add(iso7064_mod11_2(first17))
    assert seen == set("0123456789X")
    assert iso7064_mod11_2("11010519491231002") == "X"  # the oracle agrees with GB 11643's example


@pytest.mark.parametrize("bad", ["1101051949123100", "110105194912310021", "1101051949123100X", "",
                                 "１1010519491231002", 11010519491231002, None],
                         ids=["16", "18", "x_at_17", "empty", "wide_digit", "int", "none"])
def test_id_check_digit_refuses_anything_but_17_ascii_digits(bad: object) -> None:
    with pytest.raises(ValueError, match=r"^expected exactly 17 ASCII digits$"):
        id_check_digit(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["11010519491231002x", "11010519491231002", "1101051949123100211",
                                 11010519491231002, None],
                         ids=["lowercase_x", "17", "19", "int", "none"])
def test_the_id_helpers_refuse_a_malformed_number(bad: object) -> None:
    for helper in (birth_date_from_id, sex_from_id):
        with pytest.raises(ValueError, match=r"^expected 17 ASCII digits followed by a digit or X$"):
            helper(bad)  # type: ignore[arg-type]


def test_the_birth_date_comes_from_digits_7_to_14() -> None:
    assert birth_date_from_id(make_id("110101", "1987-11-23", "004")) == dt.date(1987, 11, 23)
    assert birth_date_from_id("11010519491231002X") == dt.date(1949, 12, 31)


@pytest.mark.parametrize("digit", "0123456789")
def test_the_sex_is_the_parity_of_the_17th_digit(digit: str) -> None:
    number = make_id("110101", "1990-03-07", "00" + digit)
    assert sex_from_id(number) == ("男" if digit in "13579" else "女")


def test_the_vin_check_digit_is_iso3779_for_every_residue() -> None:
    for vin in ("1M8GDM9AXKP042788", "11111111111111111", "1HGCM82633A004352", "JHMCM56557C404453"):
        assert iso3779_check(vin) == vin[8]  # published VINs: the oracle agrees with them
        assert vin_check_digit(vin) == vin[8]
    rng = random.Random(3779)
    alphabet = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"
    seen: set[str] = set()
    for _ in range(400):
        vin = "".join(rng.choice(alphabet) for _ in range(17))
        assert vin_check_digit(vin) == iso3779_check(vin), vin
        seen.add(iso3779_check(vin))
    assert seen == set("0123456789X")


def test_the_vin_check_digit_ignores_position_9() -> None:
    assert vin_check_digit("1M8GDM9AIKP042788") == "X"
    assert vin_check_digit("1M8GDM9A0KP042788") == "X"


@pytest.mark.parametrize(("bad", "message"), [
    ("1M8GDM9AXKP04278", "expected a 17-character VIN"),
    ("1M8GDM9AXKP0427888", "expected a 17-character VIN"),
    (11111111111111111, "expected a 17-character VIN"),
    (None, "expected a 17-character VIN"),
    ("1M8GDM9AXKP04278I", "VIN may only contain 0-9 and A-Z except I, O, Q"),
    ("1m8GDM9AXKP042788", "VIN may only contain 0-9 and A-Z except I, O, Q"),
], ids=["16", "18", "int", "none", "letter_i", "lowercase"])
def test_vin_check_digit_refuses_a_malformed_vin(bad: object, message: str) -> None:
    with pytest.raises(ValueError) as info:
        vin_check_digit(bad)  # type: ignore[arg-type]
    assert str(info.value) == message


@pytest.mark.parametrize("wrong", "0123456789")
def test_a_vin_with_a_wrong_check_digit_is_refused(wrong: str) -> None:
    vin = "1HGCM82633A004352"
    if wrong == vin[8]:
        assert validate("vehicle_license", with_("vehicle_license", vin=vin))["vin"] == vin
    else:
        bad = vin[:8] + wrong + vin[9:]
        assert errors_of("vehicle_license", with_("vehicle_license", vin=bad)) == [("vin", *VIN_CHECK)]


# --- dates ------------------------------------------------------------------------------

def test_an_anniversary_is_the_same_day_and_29_february_has_two() -> None:
    assert add_years(dt.date(2020, 5, 20), 10) == frozenset({dt.date(2030, 5, 20)})
    assert add_years(dt.date(2024, 2, 29), 4) == frozenset({dt.date(2028, 2, 29)})
    assert add_years(dt.date(2024, 2, 29), 1) == frozenset({dt.date(2025, 2, 28), dt.date(2025, 3, 1)})


def test_age_is_completed_years_counted_from_the_birthday() -> None:
    born = dt.date(1990, 3, 7)
    assert [age_on(born, dt.date(2008, 3, d)) for d in (6, 7, 8)] == [17, 18, 18]
    assert [age_on(born, dt.date(2008, m, 7)) for m in (2, 4)] == [17, 18]
    leap = dt.date(2004, 2, 29)
    assert [age_on(leap, dt.date(2022, 2, 28)), age_on(leap, dt.date(2022, 3, 1))] == [17, 18]


# --- cross-field rules ---------------------------------------------------------------------

def test_birth_date_and_sex_must_match_the_id_number_exactly() -> None:
    assert errors_of("id_card", with_("id_card", birth_date="1990-03-08", sex="女")) == [
        ("sex", *SEX_MISMATCH), ("birth_date", *BIRTH_MISMATCH)]
    # an e-bike registration has neither field: its ID number alone is fine
    assert validate("ebike_registration", example("ebike_registration")) == example("ebike_registration")


def test_a_date_of_issue_on_the_birth_date_is_accepted_and_the_day_before_refused() -> None:
    for licence_type, field in [("household_book", "registered_on"), ("ebike_registration", "registered_on")]:
        assert validate(licence_type, with_(licence_type, **{field: "1990-03-07"}))[field] == "1990-03-07"
        assert errors_of(licence_type, with_(licence_type, **{field: "1990-03-06"})) == [(field, *BEFORE_BIRTH)]


def test_a_date_of_issue_before_birth_counts_the_birth_date_field_when_the_number_is_bad() -> None:
    claims = with_("id_card", id_number="110101199003070039", valid_from="1989-05-20", valid_until="1994-05-20")
    assert errors_of("id_card", claims) == [("id_number", *ID_CHECK), ("valid_from", *BEFORE_BIRTH)]


def test_a_first_issue_before_birth_is_reported_once() -> None:
    claims = with_("driving_license", first_issued="1990-03-06")
    assert errors_of("driving_license", claims) == [("first_issued", *BEFORE_BIRTH)]


def test_validity_must_end_after_it_starts() -> None:
    claims = with_("residence_permit", valid_until="2026-03-01")  # the start day itself
    assert errors_of("residence_permit", claims) == [("valid_until", *UNTIL_ORDER)]
    claims = with_("residence_permit", valid_until="2026-02-28")
    assert errors_of("residence_permit", claims) == [("valid_until", *UNTIL_ORDER)]


def test_a_residence_permit_is_valid_for_exactly_one_year() -> None:
    assert validate("residence_permit", example("residence_permit"))["valid_until"] == "2027-03-01"
    for until in ("2027-02-28", "2027-03-02", "2028-03-01", "长期"):
        claims = with_("residence_permit", valid_until=until)
        assert errors_of("residence_permit", claims) == [("valid_until", *PERMIT_PERIOD)], until


def test_rules_that_read_a_bad_field_do_not_run() -> None:
    assert errors_of("residence_permit", with_("residence_permit", valid_from="2026-02-30")) == [
        ("valid_from", *NOT_A_DATE)]
    assert errors_of("id_card", with_("id_card", valid_from="2016-05-32")) == [("valid_from", *NOT_A_DATE)]
    assert errors_of("id_card", with_("id_card", birth_date="1990-02-30", id_number="110101199003070039")) == [
        ("birth_date", *NOT_A_DATE), ("id_number", *ID_CHECK)]
    assert errors_of("driving_license", with_("driving_license", valid_from="2018-02-30")) == [
        ("valid_from", *NOT_A_DATE)]
    assert errors_of("driving_license", with_("driving_license", first_issued="2012-02-30")) == [
        ("first_issued", *NOT_A_DATE)]
    assert errors_of("driving_license", with_("driving_license", valid_until="2028-02-30")) == [
        ("valid_until", *NOT_A_DATE)]
    assert errors_of("vehicle_license", with_("vehicle_license", registered_on="2022-02-30")) == [
        ("registered_on", *NOT_A_DATE)]
    assert errors_of("vehicle_license", with_("vehicle_license", issued_on="2022-02-30")) == [
        ("issued_on", *NOT_A_DATE)]


# Holder born 2000-06-15 (male): age at valid_from -> the card's statutory period.
KID = {"name": "张三", "sex": "男", "ethnicity": "汉族", "birth_date": "2000-06-15",
       "address": "北京市东城区和平里东街11号", "id_number": make_id("110101", "2000-06-15", "013"),
       "issuing_authority": "北京市公安局东城分局"}

ID_CARD_PERIODS = [
    # (id, valid_from, the one accepted valid_until, a refused one)
    ("age_15", "2016-06-14", "2021-06-14", "2026-06-14"),
    ("age_16", "2016-06-15", "2026-06-15", "2021-06-15"),
    ("age_25", "2026-06-14", "2036-06-14", "2046-06-14"),
    ("age_26", "2026-06-15", "2046-06-15", "2036-06-15"),
    ("age_45", "2046-06-14", "2066-06-14", "长期"),
    ("age_46", "2046-06-15", "长期", "2066-06-15"),
]


@pytest.mark.parametrize(("start", "good", "bad"), [c[1:] for c in ID_CARD_PERIODS],
                         ids=[c[0] for c in ID_CARD_PERIODS])
def test_an_id_cards_period_follows_the_holders_age_on_both_sides_of_each_birthday(
        start: str, good: str, bad: str) -> None:
    claims = dict(KID, valid_from=start, valid_until=good)
    assert validate("id_card", claims) == {name: claims[name] for name in LICENCE_TYPES["id_card"].fields}
    claims["valid_until"] = bad
    assert errors_of("id_card", claims) == [("valid_until", *ID_CARD_PERIOD)]
    if good != "长期":
        claims["valid_until"] = str(dt.date.fromisoformat(good) + dt.timedelta(days=1))
        assert errors_of("id_card", claims) == [("valid_until", *ID_CARD_PERIOD)]


# The minimum age of each driving class (2022 regulation, art. 13).
CLASS_AGES = {"A1": 22, "A2": 22, "A3": 20, "B1": 20, "B2": 20, "C1": 18, "C2": 18, "C3": 18, "C4": 18,
              "C5": 18, "C6": 20, "D": 18, "E": 18, "F": 18, "M": 18, "N": 20, "P": 20}


@pytest.mark.parametrize("vehicle_class", list(CLASS_AGES))
def test_each_driving_class_needs_its_minimum_age_to_the_day(vehicle_class: str) -> None:
    age = CLASS_AGES[vehicle_class]  # holder born 1990-03-07
    birthday, eve = f"{1990 + age}-03-07", f"{1990 + age}-03-06"
    if age == 18:  # a first licence: valid_from is the first issue date, valid 6 years
        ok = with_("driving_license", vehicle_classes=[vehicle_class], first_issued=birthday,
                   valid_from=birthday, valid_until=f"{1996 + age}-03-07")
        assert validate("driving_license", ok)["vehicle_classes"] == [vehicle_class]
        young = dict(ok, first_issued=eve, valid_from=eve, valid_until=f"{1996 + age}-03-06")
        assert errors_of("driving_license", young) == [("first_issued", *FIRST_TOO_YOUNG),
                                                        ("vehicle_classes", *CLASS_TOO_YOUNG)]
    else:
        ok = with_("driving_license", vehicle_classes=["C1", vehicle_class], first_issued="2008-03-07",
                   valid_from=birthday, valid_until=f"{2000 + age}-03-07")
        in_order = sorted(["C1", vehicle_class], key=list(CLASS_AGES).index)  # the official order
        assert validate("driving_license", ok)["vehicle_classes"] == in_order
        young = dict(ok, valid_from=eve, valid_until=f"{2000 + age}-03-06")
        assert errors_of("driving_license", young) == [("vehicle_classes", *CLASS_TOO_YOUNG)]


def test_a_driving_licence_first_issue_needs_18_and_comes_first() -> None:
    assert validate("driving_license", with_("driving_license", first_issued="2008-03-07"))
    assert errors_of("driving_license", with_("driving_license", first_issued="2008-03-06")) == [
        ("first_issued", *FIRST_TOO_YOUNG)]
    assert errors_of("driving_license", with_("driving_license", first_issued="2018-08-21")) == [
        ("first_issued", *FIRST_AFTER_START)]


def test_a_first_driving_licence_is_valid_6_years_a_later_one_6_10_or_long_term() -> None:
    first = with_("driving_license", valid_from="2012-08-20", valid_until="2018-08-20")
    assert validate("driving_license", first)["valid_until"] == "2018-08-20"
    for until in ("2022-08-20", "长期", "2018-08-21"):
        assert errors_of("driving_license", dict(first, valid_until=until)) == [("valid_until", *FIRST_PERIOD)]
    for until in ("2024-08-20", "2028-08-20", "长期"):
        assert validate("driving_license", with_("driving_license", valid_until=until))["valid_until"] == until
    for until in ("2025-08-20", "2029-08-20", "2028-08-21"):
        assert errors_of("driving_license", with_("driving_license", valid_until=until)) == [
            ("valid_until", *RENEWAL_PERIOD)]


def test_every_driving_licence_rule_reports_alongside_the_others() -> None:
    # too young at first issue, first issue = start, 10 years: three findings, all kept
    claims = with_("driving_license", first_issued="2008-03-06", valid_from="2008-03-06", valid_until="2018-03-06")
    assert errors_of("driving_license", claims) == [("first_issued", *FIRST_TOO_YOUNG),
                                                    ("vehicle_classes", *CLASS_TOO_YOUNG),
                                                    ("valid_until", *FIRST_PERIOD)]
    claims = with_("driving_license", first_issued="2019-01-01", valid_until="2025-08-20")
    assert errors_of("driving_license", claims) == [("first_issued", *FIRST_AFTER_START),
                                                    ("valid_until", *RENEWAL_PERIOD)]


def test_a_vehicle_licence_is_issued_on_or_after_registration() -> None:
    assert validate("vehicle_license", example("vehicle_license"))["issued_on"] == "2022-05-10"  # same day
    assert errors_of("vehicle_license", with_("vehicle_license", issued_on="2022-05-09")) == [
        ("issued_on", *ISSUED_BEFORE_REG)]


@pytest.mark.parametrize("region", ["710000", "810000", "820000", "830000"])
def test_a_hong_kong_macao_or_taiwan_number_is_only_on_a_residence_permit_or_ebike(region: str) -> None:
    number = make_id(region, "1990-03-07", "003")  # 17th digit odd: 男, as the example
    for licence_type in ("id_card", "household_book"):
        assert errors_of(licence_type, with_(licence_type, id_number=number)) == [("id_number", *NOT_MAINLAND)]
    for licence_type in ("residence_permit", "ebike_registration", "driving_license"):
        assert validate(licence_type, with_(licence_type, id_number=number))["id_number"] == number


def test_a_bad_id_number_on_an_id_card_is_reported_once() -> None:
    assert errors_of("id_card", with_("id_card", id_number="110101199003070039")) == [("id_number", *ID_CHECK)]
    assert errors_of("household_book", with_("household_book", id_number="11010119900307003")) == [
        ("id_number", *ID_LENGTH)]


# --- the whole claim set ---------------------------------------------------------------------

def test_missing_blank_and_empty_fields() -> None:
    claims = example("id_card")
    del claims["name"]
    claims["sex"] = None
    claims["address"] = "   "
    assert errors_of("id_card", claims) == [("name", *MISSING), ("sex", *MISSING), ("address", *MISSING)]
    ebike = example("ebike_registration")
    del ebike["motor_number"], ebike["anti_theft_tag"]
    assert validate("ebike_registration", ebike) == ebike
    assert list(validate("ebike_registration", ebike)) == [
        f for f in LICENCE_TYPES["ebike_registration"].fields if f not in {"motor_number", "anti_theft_tag"}]
    for blank in ("", " ", None):
        assert errors_of("ebike_registration", dict(ebike, motor_number=blank, anti_theft_tag=blank)) == [
            ("motor_number", *EMPTY), ("anti_theft_tag", *EMPTY)]


def test_every_field_after_a_missing_one_is_still_checked() -> None:
    claims = with_("id_card", sex="M", valid_from="2016-02-30")
    del claims["name"]
    assert errors_of("id_card", claims) == [("name", *MISSING), ("sex", *one_of("sex (男 or 女)", "性别（男或女）")),
                                            ("valid_from", *NOT_A_DATE)]


def test_the_returned_claims_are_the_normalised_values_in_display_order() -> None:
    for licence_type in TYPES:
        claims = dict(reversed(list(example(licence_type).items())))
        out = validate(licence_type, claims)
        assert list(out) == list(LICENCE_TYPES[licence_type].fields)
        assert out == example(licence_type)


@pytest.mark.parametrize(("key", "shown"), [
    ("x", "x"), ("k" * 64, "k" * 64), ("k" * 65, "<unprintable field name>"), ("", "<unprintable field name>"),
    ("a\nb", "<unprintable field name>"), (7, "<unprintable field name>"),
], ids=["one", "sixty_four", "sixty_five", "empty", "newline", "number"])
def test_an_unknown_field_is_named_when_printable_and_64_characters_or_fewer(key: object, shown: str) -> None:
    claims = example("vehicle_license")
    claims[key] = "x"  # type: ignore[index]
    assert errors_of("vehicle_license", claims) == [
        (shown, "unknown_field", "is not a field of Vehicle licence", "不是行驶证的字段")]


def test_errors_come_in_field_order_then_unknown_fields_in_the_order_sent() -> None:
    claims = {"photo": "x", **example("id_card"), "zzz": 1}
    claims["sex"] = "女"  # a rule finding, made after the field checks
    del claims["address"]
    assert errors_of("id_card", claims) == [
        ("sex", *SEX_MISMATCH), ("address", *MISSING),
        ("photo", "unknown_field", "is not a field of ID card", "不是居民身份证的字段"),
        ("zzz", "unknown_field", "is not a field of ID card", "不是居民身份证的字段")]


@pytest.mark.parametrize("licence_type", ["passport", None, ["id_card"]], ids=["name", "none", "list"])
def test_an_unknown_licence_type_is_refused_by_validate_and_example(licence_type: object) -> None:
    assert errors_of(licence_type, {}) == [("type", *UNKNOWN_TYPE)]  # type: ignore[arg-type]
    with pytest.raises(ClaimsInvalid) as info:
        example(licence_type)  # type: ignore[arg-type]
    assert [(e.field, e.code, e.message, e.message_zh) for e in info.value.errors] == [("type", *UNKNOWN_TYPE)]


def test_claims_that_are_not_an_object_are_refused() -> None:
    with pytest.raises(ClaimsInvalid) as info:
        validate("id_card", ["name"])  # type: ignore[arg-type]
    assert info.value.to_list() == [{"field": "claims", "code": "wrong_type",
                                     "message": "claims must be a JSON object", "message_zh": "证照信息必须为 JSON 对象"}]
    assert str(info.value) == "invalid claims (1 error): claims [wrong_type]: claims must be a JSON object"
    assert info.value.message_zh == "证照信息有误（共 1 项）：claims [wrong_type]：证照信息必须为 JSON 对象"


def test_the_rendered_refusal_names_each_field_with_its_label() -> None:
    claims = with_("driving_license", sex="M", extra="x")
    del claims["name"]
    with pytest.raises(ClaimsInvalid) as info:
        validate("driving_license", claims)
    exc = info.value
    assert str(exc) == ("invalid claims (3 errors): name [missing]: is required; "
                        "sex [not_allowed_value]: is not an allowed sex (男 or 女); "
                        "extra [unknown_field]: is not a field of Driving licence")
    assert exc.message_zh == ("证照信息有误（共 3 项）：姓名（name） [missing]：为必填项；"
                              "性别（sex） [not_allowed_value]：不是允许的性别（男或女）；"
                              "extra [unknown_field]：不是驾驶证的字段")
    assert exc.fields == ("name", "sex", "extra")
    assert exc.codes == {"name": "missing", "sex": "not_allowed_value", "extra": "unknown_field"}
    assert exc.args == (str(exc),)


def test_claims_invalid_reports_the_first_code_of_a_field_and_renders_without_labels() -> None:
    exc = ClaimsInvalid([FieldError("a", "x", "one", "一"), FieldError("a", "y", "two", "二")])
    assert exc.codes == {"a": "x"}
    assert exc.fields == ("a", "a")
    assert str(exc) == "invalid claims (2 errors): a [x]: one; a [y]: two"
    assert exc.message_zh == "证照信息有误（共 2 项）：a [x]：一；a [y]：二"
    assert exc.to_list() == [{"field": "a", "code": "x", "message": "one", "message_zh": "一"},
                             {"field": "a", "code": "y", "message": "two", "message_zh": "二"}]
    assert FieldError("a", "x", "one", "一").to_dict() == {"field": "a", "code": "x", "message": "one",
                                                           "message_zh": "一"}


def test_a_field_failure_carries_its_code_and_both_messages() -> None:
    bad = Bad("too_long", "must be at most 1 characters", "长度不能超过 1 个字符")
    assert (bad.code, bad.message, bad.message_zh) == ("too_long", "must be at most 1 characters", "长度不能超过 1 个字符")
    assert bad.args == ("too_long",)


# --- the catalogue and the examples -------------------------------------------------------

TITLES_EN = {"id_card": "ID card", "household_book": "Household register book",
             "residence_permit": "Residence permit", "driving_license": "Driving licence",
             "vehicle_license": "Vehicle licence", "ebike_registration": "E-bike anti-theft registration"}


def test_each_licence_type_has_its_titles_required_fields_and_labels() -> None:
    for name, lt in LICENCE_TYPES.items():
        assert lt.title_en == TITLES_EN[name]
        assert list(lt.labels) == list(lt.fields)
    optional = {"motor_number", "anti_theft_tag"}
    assert LICENCE_TYPES["ebike_registration"].required == frozenset(LICENCE_TYPES["ebike_registration"].fields) - optional
    for name in TYPES[:-1]:
        assert LICENCE_TYPES[name].required == frozenset(LICENCE_TYPES[name].fields)
    labels = LICENCE_TYPES["driving_license"].labels
    assert labels["id_number"] == ("证号", "Licence number (citizen ID number)")
    assert labels["valid_until"] == ("有效期限", "Valid until")
    assert labels["name"] == ("姓名", "Name")  # a default label
    assert LICENCE_TYPES["vehicle_license"].labels["name"] == ("所有人", "Owner")
    assert LICENCE_TYPES["ebike_registration"].labels["plate"] == ("号牌号码", "E-bike plate number")
    with pytest.raises(TypeError):
        LICENCE_TYPES["id_card"].labels["name"] = ("x", "x")  # type: ignore[index]


def test_the_examples_come_in_display_order() -> None:
    for licence_type in TYPES:
        assert list(example(licence_type)) == list(LICENCE_TYPES[licence_type].fields)
    assert list(minor_example()) == list(LICENCE_TYPES["id_card"].fields)
    assert minor_example()["birth_date"] == "2009-06-01"


# --- the validator factories and the catalogue builder, called at test time ----------------
# The package builds its validators and its catalogue once, at import; these tests build them
# again, so that a change to a factory or to the builder is seen (mutmut, among others, only
# sees code that runs inside a test).

CTX = Context(today=dt.date(2026, 11, 24))


def bad_of(check: object, value: object) -> tuple[str, str, str]:
    with pytest.raises(Bad) as info:
        check(value, CTX)  # type: ignore[operator]
    return (info.value.code, info.value.message, info.value.message_zh)


def test_text_keeps_trimmed_text_between_its_two_lengths() -> None:
    five = fields.text(5)
    assert [five(v, CTX) for v in ("a", " abcde ", "a\u3000b")] == ["a", "abcde", "a\u3000b"]
    assert bad_of(five, "") == too_short(1)
    assert bad_of(five, "abcdef") == too_long(5)
    assert bad_of(five, 5) == WRONG_TYPE
    assert bad_of(five, "a\x00b") == CONTROL
    three_to_five = fields.text(5, min_len=3)
    assert three_to_five("abc", CTX) == "abc"
    assert bad_of(three_to_five, "ab") == too_short(3)


def test_text_ending_wants_an_authority_name_with_one_of_its_suffixes() -> None:
    police = fields.text_ending(50, ("公安局", "分局"))
    for good in ("东分局", "北京市公安局", "北" * 47 + "公安局"):
        assert police(good, CTX) == good
    for bad in ("东城", "分局", "公安局", "公安局东城"):
        assert bad_of(police, bad) == POLICE_FORMAT, bad
    assert bad_of(police, "局") == too_short(2)
    assert bad_of(police, "北" * 48 + "公安局") == too_long(50)
    single = fields.text_ending(10, ("局",))
    assert bad_of(single, "处") == too_short(2)
    assert bad_of(single, "东处") == ("bad_format", "must be an authority name ending in 局", "应为以“局”结尾的机关名称")


def test_one_of_keeps_an_allowed_value_and_refuses_the_others() -> None:
    sex = fields.one_of(("男", "女"), "sex (男 or 女)", "性别（男或女）")
    assert [sex("男", CTX), sex(" 女 ", CTX)] == ["男", "女"]
    assert bad_of(sex, "M") == one_of("sex (男 or 女)", "性别（男或女）")
    assert bad_of(sex, None) == WRONG_TYPE


def test_digits_wants_exactly_n_ascii_digits() -> None:
    nine = fields.digits(9)
    assert nine(" 012345678 ", CTX) == "012345678"
    for bad in ("01234567", "0123456789", "０１２３４５６７８", "01234567a"):
        assert bad_of(nine, bad) == digits_format(9), bad


def test_serial_wants_uppercase_ascii_letters_or_digits_between_two_lengths() -> None:
    engine = fields.serial(4, 20)
    for good in ("AB12", "Z" * 20):
        assert engine(good, CTX) == good
    for bad in ("AB1", "Z" * 21, "ab12", "ＡＢ12", "AB-12"):
        assert bad_of(engine, bad) == serial_format(4, 20), bad


SPEC_EXPECTED = {
    # name: (title_zh, title_en, authority, optional fields, label overrides)
    "id_card": ("居民身份证", "ID card", "household_registration", set(), {}),
    "household_book": ("户口簿", "Household register book", "household_registration", set(), {}),
    "residence_permit": ("居住证", "Residence permit", "household_registration", set(), {}),
    "driving_license": ("驾驶证", "Driving licence", "traffic_police", set(),
                        {"id_number": ("证号", "Licence number (citizen ID number)"),
                         "issuing_authority": ("发证机关", "Issuing authority"),
                         "valid_from": ("有效起始日期", "Valid from"), "valid_until": ("有效期限", "Valid until")}),
    "vehicle_license": ("行驶证", "Vehicle licence", "traffic_police", set(),
                        {"name": ("所有人", "Owner"), "registered_on": ("注册日期", "Registration date"),
                         "issuing_authority": ("发证机关", "Issuing authority")}),
    "ebike_registration": ("电动自行车防盗登记", "E-bike anti-theft registration", "police_station",
                           {"motor_number", "anti_theft_tag"},
                           {"plate": ("号牌号码", "E-bike plate number"), "name": ("车主姓名", "Owner name"),
                            "id_number": ("车主身份证号码", "Owner citizen ID number"),
                            "registration_authority": ("登记机关", "Registration authority")}),
}
DEFAULT_LABELS = {"name": ("姓名", "Name"), "sex": ("性别", "Sex"), "birth_date": ("出生日期", "Date of birth"),
                  "id_number": ("公民身份号码", "Citizen ID number"), "plate": ("号牌号码", "Plate number")}


@pytest.mark.parametrize("spec", licence_types._SPECS, ids=[s.name for s in licence_types._SPECS])
def test_each_licence_type_is_built_from_its_spec(spec: licence_types._Spec) -> None:
    built = licence_types._build(spec)
    title_zh, title_en, authority, optional, overrides = SPEC_EXPECTED[spec.name]
    assert (built.name, built.title_zh, built.title_en, built.authority) == (spec.name, title_zh, title_en, authority)
    assert built.fields == spec.fields
    assert built.required == frozenset(spec.fields) - optional
    assert list(built.labels) == list(spec.fields)
    for name, label in overrides.items():
        assert built.labels[name] == label
    for name, label in DEFAULT_LABELS.items():
        if name in spec.fields and name not in overrides:
            assert built.labels[name] == label
    with pytest.raises(TypeError):
        built.labels["name"] = ("x", "x")  # type: ignore[index]
