"""What a licence's card shows on the resident's phone: its type, the holder's name, a
masked number and its validity, read from the credential the service holds for them."""

from __future__ import annotations

import json
from typing import Any, Mapping

from issuer import LICENCE_TYPES
from issuer.views import mask_id_number
from keys.jose import split_compact


def _masked(value: str) -> str:
    """An ID number as the internet cafe sees it; any other number with its middle hidden."""
    if len(value) == 18:
        return mask_id_number(value)
    keep = max(1, len(value) // 4)
    return value[:keep] + "*" * (len(value) - 2 * keep) + value[-keep:] if len(value) > 2 * keep else value


def card_face(licence_type: str, credential: str) -> dict[str, Any]:
    """The card face of ``credential`` (its holder's own data, for their own phone)."""
    claims: Mapping[str, Any] = json.loads(split_compact(credential)[1])
    lt = LICENCE_TYPES[licence_type]
    number = claims.get("plate") or claims.get("id_number") or claims.get("file_number") or ""
    return {
        "title_zh": lt.title_zh,
        "title_en": lt.title_en,
        "name": claims.get("name", ""),
        # a plate is shown as it is on the vehicle; a personal number masked
        "number": number if "plate" in claims else _masked(str(number)),
        "valid_until": claims.get("valid_until"),
        "exp": claims.get("exp"),
    }
