"""validate(): check and normalise one licence's claims."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping

from .errors import ClaimsInvalid, FieldError
from .fields import Bad, Context, china_today
from .licence_types import LICENCE_TYPES, VALIDATORS
from .rules import RULES

_MAX_KEY_LEN = 64
_FIELD_SETS = {name: frozenset(lt.fields) for name, lt in LICENCE_TYPES.items()}


def unknown_type() -> ClaimsInvalid:
    """The error for a licence type name that is not one of the six."""
    return ClaimsInvalid([FieldError(
        "type", "unknown_licence_type",
        "unknown licence type; expected one of " + ", ".join(LICENCE_TYPES),
        "未知的证照类型，应为：" + "、".join(LICENCE_TYPES))])


def _error(field: str, bad: Bad) -> FieldError:
    return FieldError(field, bad.code, bad.message, bad.message_zh)


def _blank(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return False


def _key_name(key: object) -> str:
    """A printable name for an unknown key (never longer than 64 chars)."""
    if isinstance(key, str) and key.isprintable() and 0 < len(key) <= _MAX_KEY_LEN:
        return key
    return "<unprintable field name>"


def validate(licence_type: str, claims: Mapping[str, object], *,
             today: _dt.date | None = None) -> dict[str, object]:
    """Return the normalised claims or raise ClaimsInvalid listing every bad field.

    Values come back as JSON-ready str or list[str], with the same keys, in
    the licence type's display order. ``today`` (default: the current date
    in China, UTC+8) is only used to refuse birth dates in the future.
    """
    if not isinstance(licence_type, str) or licence_type not in LICENCE_TYPES:
        raise unknown_type()
    lt = LICENCE_TYPES[licence_type]
    if not isinstance(claims, Mapping):
        raise ClaimsInvalid([FieldError(
            "claims", "wrong_type", "claims must be a JSON object",
            "证照信息必须为 JSON 对象")], lt.labels)
    ctx = Context(today or china_today())
    validators = VALIDATORS[licence_type]
    errors: list[FieldError] = []
    out: dict[str, object] = {}

    for name in lt.fields:
        present = name in claims
        value = claims.get(name)
        if not present or _blank(value):
            if name in lt.required:
                errors.append(FieldError(name, "missing", "is required", "为必填项"))
            elif present:
                errors.append(FieldError(
                    name, "empty", "must not be empty (omit the field instead)",
                    "不能为空（如无此项请省略该字段）"))
            continue
        try:
            out[name] = validators[name](value, ctx)
        except Bad as bad:
            errors.append(_error(name, bad))

    if not claims.keys() <= _FIELD_SETS[licence_type]:  # a key that is no field: name each
        for key in claims:
            if key not in lt.fields:
                errors.append(FieldError(
                    _key_name(key), "unknown_field",
                    f"is not a field of {lt.title_en}",
                    f"不是{lt.title_zh}的字段"))

    seen = {e.field for e in errors}
    for rule in RULES[licence_type]:
        for name, problem in rule(out, ctx):
            if name not in seen:
                seen.add(name)
                errors.append(_error(name, problem))

    if errors:
        order = {name: i for i, name in enumerate(lt.fields)}
        errors.sort(key=lambda e: order.get(e.field, len(order)))
        raise ClaimsInvalid(errors, lt.labels)
    return out
