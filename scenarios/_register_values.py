"""Checking and writing the values of a register entry: claims as JSON, the clerk's
entries validated against the policy, and CSV cells a spreadsheet cannot run."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from decimal import Decimal

from keys.envelope import PREFIX as _CODE_START

from .policy import ClerkField

_INTEGER_RE = re.compile(r"[0-9]+", re.ASCII)
_DECIMAL_RE = re.compile(r"[0-9]+(?:\.[0-9]+)?", re.ASCII)
#: Leading characters that make a spreadsheet treat a CSV cell as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class RegisterError(ValueError):
    """A record was refused.  ``code`` is stable (``required``, ``too_long``,
    ``not_integer``...), ``field`` names the offending field; the message is given in
    English (``message_en``) and Chinese (``message_zh``)."""

    def __init__(self, code: str, field: str, message_en: str, message_zh: str):
        self.code = code
        self.field = field
        self.message_en = message_en
        self.message_zh = message_zh
        super().__init__(f"{code} [{field}]: {message_en} / {message_zh}")


def json_value(field: str, value: object) -> object:
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [json_value(field, v) for v in value]
    raise RegisterError(
        "unsupported_value",
        field,
        f"claim {field!r} has an unsupported value type {type(value).__name__}",
        f"证照项“{field}”的取值类型不受支持",
    )


def clerk_value(f: ClerkField, raw: object) -> str | None:
    """The validated, normalised clerk entry, or None when left empty."""
    if raw is None:
        text = ""
    elif isinstance(raw, str):
        text = raw
    else:
        raise RegisterError(
            "not_text",
            f.name, f"{f.label_en} must be text", f"“{f.label_zh}”必须是文字"
        )
    if f.kind in ("integer", "decimal"):
        # Chinese input methods may give full-width digits: "１２．５" -> "12.5"
        text = unicodedata.normalize("NFKC", text)
    text = text.strip()
    if not text:
        if f.required:
            raise RegisterError(
                "required",
                f.name,
                f"required field {f.label_en} is missing",
                f"必填项“{f.label_zh}”未填写",
            )
        return None
    if text[: len(_CODE_START)].upper() == _CODE_START:
        # The next person's code, scanned while this form had the focus (a busy desk): the
        # browser keeps the first max_length characters. Never a value, never recorded.
        raise RegisterError(
            "scanned_code",
            f.name,
            f"{f.label_en} holds a scanned QR code: fill it in and record this entry first, then scan that code again",
            f"“{f.label_zh}”中是扫描到的二维码：请先填写并登记本条，再重新扫描该二维码",
        )
    if any(unicodedata.category(ch) == "Cc" for ch in text):
        raise RegisterError(
            "control_characters",
            f.name,
            f"{f.label_en} contains control characters",
            f"“{f.label_zh}”含有控制字符",
        )
    if len(text) > f.max_length:
        raise RegisterError(
            "too_long",
            f.name,
            f"{f.label_en} is longer than {f.max_length} characters",
            f"“{f.label_zh}”不能超过{f.max_length}个字符",
        )
    if f.kind == "integer" and not _INTEGER_RE.fullmatch(text):
        raise RegisterError(
            "not_integer",
            f.name, f"{f.label_en} must be a whole number", f"“{f.label_zh}”必须是整数"
        )
    if f.kind == "decimal" and not _DECIMAL_RE.fullmatch(text):
        raise RegisterError(
            "not_number",
            f.name, f"{f.label_en} must be a number", f"“{f.label_zh}”必须是数字"
        )
    return text


def text_cell(value: object) -> str:
    """A stored register value as the text of one export cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return str(value)


def csv_cell(text: str) -> str:
    """``text`` made safe for a spreadsheet: a cell it would run as a formula gets a ``'``."""
    if text.startswith(_FORMULA_START):
        return "'" + text  # keep spreadsheets from running it as a formula
    return text
