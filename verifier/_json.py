"""The one JSON parser for everything the verifier reads out of a JWS: credentials, views,
trust lists and status lists."""

from __future__ import annotations

import json
from typing import Any


def strict_json(data: bytes) -> Any:
    """JSON that refuses duplicate keys, NaN/Infinity and non-UTF-8 bytes (``ValueError``)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("not UTF-8") from None
    return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError("duplicate key")
        out[k] = v
    return out


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")
