"""The six licence types as the scenarios package knows them.

This is the scenarios package's own copy of the field lists: it imports
nothing from the rest of certfree (the verifier, the issuer and the app all
import *it*).  The issuer cross-checks these lists against its schemas in its
own tests, so a drift between the two is caught there.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

__all__ = [
    "LICENCE_TYPES",
    "LICENCE_FIELDS",
    "LICENCE_TITLES",
    "DERIVED_CLAIMS",
    "DERIVED_CLAIM_SOURCES",
    "licence_title_zh",
    "licence_title_en",
]

LICENCE_FIELDS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "id_card": (
            "name",
            "sex",
            "ethnicity",
            "birth_date",
            "address",
            "id_number",
            "issuing_authority",
            "valid_from",
            "valid_until",
        ),
        "household_book": (
            "name",
            "relationship",
            "sex",
            "ethnicity",
            "birth_date",
            "birthplace",
            "native_place",
            "id_number",
            "address",
            "household_type",
            "household_number",
            "registration_authority",
            "registered_on",
        ),
        "residence_permit": (
            "name",
            "sex",
            "birth_date",
            "id_number",
            "address",
            "issuing_authority",
            "valid_from",
            "valid_until",
        ),
        "driving_license": (
            "name",
            "sex",
            "nationality",
            "address",
            "birth_date",
            "id_number",
            "first_issued",
            "vehicle_classes",
            "valid_from",
            "valid_until",
            "issuing_authority",
            "file_number",
        ),
        "vehicle_license": (
            "plate",
            "vehicle_type",
            "name",
            "address",
            "use_character",
            "brand_model",
            "vin",
            "engine_number",
            "registered_on",
            "issued_on",
            "issuing_authority",
        ),
        "ebike_registration": (
            "plate",
            "name",
            "id_number",
            "brand",
            "model",
            "colour",
            "frame_number",
            "motor_number",
            "anti_theft_tag",
            "registered_on",
            "registration_authority",
        ),
    }
)

#: The licence types, in the canonical order.
LICENCE_TYPES: tuple[str, ...] = tuple(LICENCE_FIELDS)

#: licence type -> (Chinese title, English title)
LICENCE_TITLES: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "id_card": ("居民身份证", "resident identity card"),
        "household_book": ("户口簿", "household register book"),
        "residence_permit": ("居住证", "residence permit"),
        "driving_license": ("驾驶证", "driving licence"),
        "vehicle_license": ("行驶证", "vehicle licence"),
        "ebike_registration": ("电动自行车防盗登记", "e-bike anti-theft registration"),
    }
)

#: Predicates the issuer may put in a scenario view instead of raw data.
#:  - age_over_18: true only if the holder is 18 or older for the whole
#:    validity of the view;
#:  - id_number_masked: first 6 + 8 asterisks + last 4 of the ID number
#:    (hides the birth date that the ID number contains).
DERIVED_CLAIMS: frozenset[str] = frozenset({"age_over_18", "id_number_masked"})

#: derived claim -> the fields it may be computed from (a type offers the
#: derived claim only if it has at least one of them).
DERIVED_CLAIM_SOURCES: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "age_over_18": frozenset({"birth_date", "id_number"}),
        "id_number_masked": frozenset({"id_number"}),
    }
)

assert set(DERIVED_CLAIM_SOURCES) == DERIVED_CLAIMS
assert set(LICENCE_TITLES) == set(LICENCE_FIELDS)


def licence_title_zh(licence_type: str) -> str:
    """Chinese title of a licence type (the type name itself if unknown)."""
    return LICENCE_TITLES.get(licence_type, (licence_type, licence_type))[0]


def licence_title_en(licence_type: str) -> str:
    """English title of a licence type (the type name itself if unknown)."""
    return LICENCE_TITLES.get(licence_type, (licence_type, licence_type))[1]
