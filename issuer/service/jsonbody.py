"""Reading a JSON request body without trusting it: the size is capped before parsing, the
parse is orjson's (strict UTF-8, no lone surrogates, no NaN, at most 1,024 levels, none of
it recursing in Python), and the result must be an object no deeper than ``max_depth``.
Every refusal is a :class:`BadJson` with a stable code and both languages, never a 500.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from flask import request

MAX_DEPTH = 16  # a licence request is 3 levels deep (claims, a list of vehicle classes)


class BadJson(ValueError):
    """The body is not an acceptable JSON object; ``field`` names where, when known."""

    def __init__(self, message: str, message_zh: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message, self.message_zh, self.field = message, message_zh, field


def _depth(value: Any) -> int:
    """How deep ``value`` nests, walked without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _has_surrogate(text: str) -> bool:
    return any(0xD800 <= ord(ch) <= 0xDFFF for ch in text)


def _surrogate_path(raw: bytes) -> str | None:
    """Where a lone surrogate sits (``claims.name``), for the message; None if not found."""
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str) and _has_surrogate(item):
            return path or "body"
        if isinstance(item, dict):
            for key, child in item.items():
                where = f"{path}.{key}" if path else str(key)
                if _has_surrogate(key):
                    return path or "body"
                stack.append((where, child))
        elif isinstance(item, list):
            stack.extend((f"{path}[{i}]", child) for i, child in enumerate(item))
    return None


def read_object(*, optional: bool = False, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """The request's JSON object ({} for an empty body when ``optional``), or BadJson.
    The size cap is the app's (``request.max_content_length``), applied before reading."""
    raw = request.get_data(cache=True)
    if not raw.strip() and optional:
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        reason = str(exc).split(":", 1)[0]
        if "surrogate" in reason:
            field = _surrogate_path(raw)
            raise BadJson(f"invalid Unicode (a lone surrogate) in {field or 'the body'}",
                          f"{field or '请求体'}含有无效的Unicode字符（孤立代理项）", field) from None
        if "depth" in reason:
            raise BadJson(f"the body nests deeper than {max_depth} levels", f"请求体嵌套超过{max_depth}层") from None
        raise BadJson(f"the body is not valid JSON ({reason})", "请求体不是有效的JSON") from None
    if not isinstance(body, dict):
        raise BadJson("the body must be a JSON object", "请求体必须是JSON对象")
    if _depth(body) > max_depth:
        raise BadJson(f"the body nests deeper than {max_depth} levels", f"请求体嵌套超过{max_depth}层")
    return body
