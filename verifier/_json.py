"""The one JSON parser for everything the verifier reads out of a JWS: credentials, views,
trust lists and status lists."""

from __future__ import annotations

import json
from typing import Any


def strict_json(data: bytes) -> Any:
    """JSON that refuses duplicate keys, NaN/Infinity, non-UTF-8 bytes and nesting deeper
    than the interpreter can parse (``ValueError`` for all of them)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("not UTF-8") from None
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except RecursionError:  # thousands of nested "[": a few KB of input, under every cap
        raise ValueError("nested too deeply") from None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError("duplicate key")
        out[k] = v
    return out


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")
