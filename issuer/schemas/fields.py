"""Single-field validators.

Each validator takes the raw JSON value and a :class:`Context` and returns the
normalised value, or raises :class:`Bad` with a code and bilingual reason.
Reasons never quote the value. Character classes are explicit ASCII ranges:
``str.isdigit()`` and regex ``\\d`` also accept full-width and other digits.
"""

from __future__ import annotations

import datetime as _dt
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from . import codes
from .checksums import ID_NUMBER_RE, VIN_RE, id_check_digit, vin_check_digit
from .dates import MAX_YEAR, MIN_YEAR, parse_date


class Bad(Exception):
    """A field-level failure: stable code plus English and Chinese reason."""

    def __init__(self, code: str, message: str, message_zh: str) -> None:
        super().__init__(code)
        self.code = code
        self.message = message
        self.message_zh = message_zh


CHINA = _dt.timezone(_dt.timedelta(hours=8))


def china_today() -> _dt.date:
    """Today's date in China Standard Time (UTC+8)."""
    return _dt.datetime.now(CHINA).date()


@dataclass(frozen=True)
class Context:
    today: _dt.date = field(default_factory=china_today)


Validator = Callable[[object, Context], object]
TextValidator = Callable[[object, Context], str]

# Categories refused in any text: control, format (bidi overrides, zero
# width), surrogates, private use, unassigned, line/paragraph separators.
_BAD_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise Bad("wrong_type", "must be a string", "必须为字符串")
    return value.strip()


def _no_controls(s: str) -> None:
    # str.isprintable() is False exactly for categories C* and Z* except the ASCII space:
    # a superset of _BAD_CATEGORIES, so a printable string needs no per-character look.
    if s.isprintable():
        return
    if any(unicodedata.category(c) in _BAD_CATEGORIES for c in s):
        raise Bad("control_character",
                  "contains control or invisible characters",
                  "含有控制字符或不可见字符")


def text(max_len: int, min_len: int = 1) -> TextValidator:
    """Free text: trimmed, min_len..max_len characters, no control characters."""
    def check(value: object, ctx: Context) -> str:
        s = _str(value)
        _no_controls(s)
        if len(s) < min_len:
            raise Bad("too_short", f"must be at least {min_len} characters",
                      f"长度不能少于 {min_len} 个字符")
        if len(s) > max_len:
            raise Bad("too_long", f"must be at most {max_len} characters",
                      f"长度不能超过 {max_len} 个字符")
        return s
    return check


def text_ending(max_len: int, suffixes: Sequence[str]) -> Validator:
    """Free text that must end with one of ``suffixes`` (e.g. an authority)."""
    base = text(max_len, min_len=2)
    joined = " / ".join(suffixes)

    def check(value: object, ctx: Context) -> str:
        s = base(value, ctx)
        if not s.endswith(tuple(suffixes)) or s in suffixes:
            raise Bad("bad_format", f"must be an authority name ending in {joined}",
                      f"应为以“{'”或“'.join(suffixes)}”结尾的机关名称")
        return s
    return check


_NAME_EXTRA = frozenset("·• ")
_NAME_TEXT = text(30)


def person_name(value: object, ctx: Context) -> str:
    """1-30 letters (any script); · and single spaces allowed inside, between letters."""
    s = _NAME_TEXT(value, ctx)
    if not s.isalpha() and (  # letters only (most names) pass at once; else each character
            not all(c.isalpha() or c in _NAME_EXTRA for c in s) or not s[0].isalpha() or not s[-1].isalpha()
            or any(a in _NAME_EXTRA and b in _NAME_EXTRA for a, b in zip(s, s[1:]))):
        raise Bad("bad_format",
                  "may contain only letters, with the separator · or a single space between them",
                  "只能包含文字，文字之间可有间隔号“·”或单个空格")
    return s


def one_of(allowed: Sequence[str], what_en: str, what_zh: str) -> Validator:
    def check(value: object, ctx: Context) -> str:
        s = _str(value)
        if s not in allowed:
            raise Bad("not_allowed_value", f"is not an allowed {what_en}",
                      f"不是允许的{what_zh}")
        return s
    return check


def digits(n: int) -> Validator:
    pattern = re.compile(f"[0-9]{{{n}}}")

    def check(value: object, ctx: Context) -> str:
        s = _str(value)
        if not pattern.fullmatch(s):
            raise Bad("bad_format", f"must be exactly {n} ASCII digits",
                      f"必须为 {n} 位半角数字")
        return s
    return check


def date(value: object, ctx: Context) -> str:
    s = _str(value)
    d = parse_date(s)
    if d is None:
        raise Bad("not_a_date", "must be a real calendar date YYYY-MM-DD",
                  "必须为真实存在的日期（格式 YYYY-MM-DD）")
    if not MIN_YEAR <= d.year <= MAX_YEAR:
        raise Bad("out_of_range", f"year must be between {MIN_YEAR} and {MAX_YEAR}",
                  f"年份须在 {MIN_YEAR} 至 {MAX_YEAR} 之间")
    return s


def past_date(value: object, ctx: Context) -> str:
    s = date(value, ctx)
    d = parse_date(s)
    if d is not None and d > ctx.today:
        raise Bad("in_future", "must not be in the future", "不能晚于今天")
    return s


def date_or_long_term(value: object, ctx: Context) -> str:
    """A date, or 长期 (long-term validity)."""
    if isinstance(value, str) and value.strip() == codes.LONG_TERM:
        return codes.LONG_TERM
    return date(value, ctx)


def id_number(value: object, ctx: Context) -> str:
    """GB 11643-1999 citizen ID number (18 characters)."""
    s = _str(value)
    if len(s) != 18:
        raise Bad("bad_format", "must be exactly 18 characters",
                  "必须为 18 位")
    if not ID_NUMBER_RE.fullmatch(s):
        raise Bad("bad_format",
                  "must be 17 ASCII digits followed by an ASCII digit or uppercase X",
                  "必须为 17 位半角数字加 1 位半角数字或大写 X")
    if id_check_digit(s[:17]) != s[17]:
        raise Bad("bad_check_digit", "check digit does not match (GB 11643)",
                  "校验码错误（GB 11643）")
    province = s[:2]
    if province not in codes.PROVINCE_CODES or (
            province not in codes.SAR_CODES and s[2:4] == "00"):
        raise Bad("bad_region_code", "address code is not a real region code",
                  "地址码不是有效的行政区划代码")
    born = parse_date(f"{s[6:10]}-{s[10:12]}-{s[12:14]}")
    if born is None or born.year < MIN_YEAR:
        raise Bad("bad_birth_date", "birth-date digits are not a real date",
                  "出生日期码不是有效日期")
    if born > ctx.today:
        raise Bad("in_future", "birth-date digits are in the future",
                  "出生日期码晚于今天")
    return s


def vin(value: object, ctx: Context) -> str:
    """17-character VIN (ISO 3779 / GB 16735) with a valid check digit."""
    s = _str(value)
    if len(s) != 17:
        raise Bad("bad_format", "must be exactly 17 characters", "必须为 17 位")
    if not VIN_RE.fullmatch(s):
        raise Bad("bad_format",
                  "may only contain 0-9 and uppercase A-Z except I, O and Q",
                  "只能包含半角数字和除 I、O、Q 以外的大写字母")
    if vin_check_digit(s) != s[8]:
        raise Bad("bad_check_digit",
                  "check digit (position 9) does not match (GB 16735)",
                  "第 9 位校验位错误（GB 16735）")
    return s


def serial(min_len: int, max_len: int) -> Validator:
    """Uppercase ASCII letters and digits (engine, frame, motor numbers)."""
    pattern = re.compile(f"[0-9A-Z]{{{min_len},{max_len}}}")

    def check(value: object, ctx: Context) -> str:
        s = _str(value)
        if not pattern.fullmatch(s):
            raise Bad("bad_format",
                      f"must be {min_len}-{max_len} ASCII digits or uppercase letters",
                      f"必须为 {min_len} 至 {max_len} 位半角数字或大写字母")
        return s
    return check


ANTI_THEFT_TAG_LEN = 24  # 96-bit EPC of a UHF RFID tag (ISO/IEC 18000-6C)
_HEX_RE = re.compile(f"[0-9A-F]{{{ANTI_THEFT_TAG_LEN}}}")


def anti_theft_tag(value: object, ctx: Context) -> str:
    """24 hex digits; lowercase is accepted and normalised to uppercase."""
    s = _str(value)
    up = s.upper() if s.isascii() else s
    if not _HEX_RE.fullmatch(up):
        raise Bad("bad_format",
                  f"must be {ANTI_THEFT_TAG_LEN} hexadecimal digits (96-bit RFID EPC)",
                  f"必须为 {ANTI_THEFT_TAG_LEN} 位十六进制数字（96 位 RFID 电子标签）")
    return up


_P = codes.PLATE_PROVINCES
_SEQ = "[A-HJ-NP-Z0-9]"  # A-Z without I and O, and 0-9
_PLATE_PATTERNS = (
    re.compile(f"[{_P}][A-Z]{_SEQ}{{5}}"),             # ordinary blue/yellow
    re.compile(f"[{_P}][A-Z]{_SEQ}{{4}}[学警挂]"),      # coach, police, trailer
    re.compile(f"[{_P}][A-Z][DF]{_SEQ}[0-9]{{4}}"),    # small new-energy
    re.compile(f"[{_P}][A-Z][0-9]{{5}}[DF]"),          # large new-energy
)
_EBIKE_PLATE = re.compile(f"[{_P}][A-Z]{_SEQ}{{6}}")
_DOT = "·"  # U+00B7 printed between authority letter and serial


def _strip_dot(s: str) -> str:
    return s[:2] + s[3:] if len(s) > 2 and s[2] == _DOT else s


def plate(value: object, ctx: Context) -> str:
    """Motor-vehicle plate (GA 36-2018); a · after the 2nd char is removed."""
    s = _strip_dot(_str(value))
    if not any(p.fullmatch(s) for p in _PLATE_PATTERNS):
        raise Bad("bad_format",
                  "is not a valid plate (province, authority letter, 5 serial "
                  "characters without I/O, or an 8-character new-energy plate)",
                  "号牌号码格式错误（省份简称＋发牌机关字母＋5 位序号，不含 I、O；"
                  "或 8 位新能源号牌）")
    return s


def ebike_plate(value: object, ctx: Context) -> str:
    """E-bike plate: province, city letter, 6 of 0-9/A-Z without I and O."""
    s = _strip_dot(_str(value))
    if not _EBIKE_PLATE.fullmatch(s):
        raise Bad("bad_format",
                  "must be a province abbreviation, a city letter A-Z and 6 "
                  "digits or letters (no I or O)",
                  "格式应为省份简称＋城市字母＋6 位数字或字母（不含 I、O）")
    return s


_COLOUR_RE = re.compile(f"[{codes.COLOUR_CHARS}]{{1,3}}色?|其他")


def colour(value: object, ctx: Context) -> str:
    s = _str(value)
    if not _COLOUR_RE.fullmatch(s):
        raise Bad("not_allowed_value", "is not an allowed colour",
                  "不是允许的颜色")
    return s


def vehicle_classes(value: object, ctx: Context) -> list[str]:
    """Non-empty list of distinct 准驾车型 codes, returned in official order."""
    if not isinstance(value, (list, tuple)) or not all(
            isinstance(v, str) for v in value):
        raise Bad("wrong_type", "must be a list of strings", "必须为字符串列表")
    items = [v.strip() for v in value]
    if not items:
        raise Bad("missing", "must list at least one class", "至少需要一个准驾车型")
    if any(v not in codes.DRIVING_CLASSES for v in items):
        raise Bad("not_allowed_value",
                  "contains a code that is not an official driving class",
                  "含有不是法定准驾车型代号的内容")
    if len(set(items)) != len(items):
        raise Bad("duplicate_value", "lists the same class more than once",
                  "准驾车型重复")
    return sorted(items, key=codes.DRIVING_CLASSES.index)
