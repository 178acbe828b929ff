"""Claim schemas for the six licences of the certificate-free city.

``validate(type, claims)`` returns normalised claims or raises
:class:`ClaimsInvalid` listing every bad field (stdlib only).

Formats (strict; values are never echoed in error messages):

* Dates: ASCII "YYYY-MM-DD", a real calendar date, year 1850-2199.
  ``valid_until`` may be "长期" where the licence allows it.
* id_number (GB 11643-1999): 17 ASCII digits + ASCII digit or uppercase X;
  ISO 7064 MOD 11-2 check digit; province code 11-15, 21-23, 31-37, 41-46,
  50-54, 61-65, 71, 81, 82 or 83 (Taiwan residents' residence permits),
  and for mainland codes digits 3-4 not "00"; digits 7-14 a real date,
  not in the future. birth_date and sex must agree with it.
* Motor-vehicle plate (GA 36-2018), one of:
  ordinary  province + A-Z + 5 of [A-HJ-NP-Z0-9]        e.g. 京A12345
  special   province + A-Z + 4 of [A-HJ-NP-Z0-9] + 学/警/挂  e.g. 京A1234学
  small NEV province + A-Z + D|F + [A-HJ-NP-Z0-9] + 4 digits  e.g. 京AD12345
  large NEV province + A-Z + 5 digits + D|F               e.g. 粤B12345F
  A middle dot "·" (U+00B7) after the second character is removed.
* E-bike plate (chosen format, as issued by several cities): province +
  city letter A-Z + 6 of [A-HJ-NP-Z0-9], e.g. 京AH37021; "·" handled as above.
* vin (ISO 3779 / GB 16735): 17 of [0-9A-HJ-NPR-Z]; position 9 check digit.
* engine_number 4-20, frame_number / motor_number 6-20 uppercase ASCII
  letters or digits. anti_theft_tag: 24 hex digits (96-bit UHF RFID EPC),
  lowercase accepted and normalised to uppercase.
* household_number: 9 ASCII digits; file_number: 12 ASCII digits.
* vehicle_classes: non-empty list of distinct DRIVING_CLASSES codes,
  returned in official order.
* Closed lists: SEXES, ETHNIC_GROUPS, NATIONALITIES (中国), RELATIONSHIPS,
  HOUSEHOLD_TYPES, USE_CHARACTERS, VEHICLE_TYPES, colour (1-3 of
  COLOUR_CHARS optionally followed by 色, or 其他).
* Text: trimmed, no control/invisible characters; name 1-30 letters plus
  "·" and single spaces (vehicle_license ``name`` is the owner and may be an
  organisation: free text up to 60); address <= 100; authorities 2-50, and
  the id_card / residence_permit issuing_authority ends in 公安局 or 分局.
* Optional fields: ebike_registration motor_number and anti_theft_tag; all
  other fields are required. A present but blank optional field is refused.
* Cross-field rules: see :mod:`issuer.schemas.rules`.

Error codes: missing, empty, unknown_field, wrong_type, bad_format,
bad_check_digit, bad_region_code, bad_birth_date, not_a_date, out_of_range,
in_future, too_short, too_long, control_character, not_allowed_value,
duplicate_value, dates_out_of_order, bad_validity_period, too_young,
mismatch_with_id_number, unknown_licence_type.
"""

from __future__ import annotations

from .checksums import birth_date_from_id, id_check_digit, sex_from_id, vin_check_digit
from .codes import (
    COLOUR_CHARS,
    DRIVING_CLASSES,
    ETHNIC_GROUPS,
    HOUSEHOLD_TYPES,
    LONG_TERM,
    NATIONALITIES,
    PLATE_PROVINCES,
    RELATIONSHIPS,
    SEXES,
    USE_CHARACTERS,
    VEHICLE_TYPES,
)
from .errors import ClaimsInvalid, FieldError
from .examples import example, minor_example
from .licence_types import LICENCE_TYPES, LicenceType
from .validation import validate

__all__ = [
    "LICENCE_TYPES",
    "LicenceType",
    "FieldError",
    "ClaimsInvalid",
    "validate",
    "example",
    "minor_example",
    "id_check_digit",
    "birth_date_from_id",
    "sex_from_id",
    "vin_check_digit",
    "ETHNIC_GROUPS",
    "DRIVING_CLASSES",
    "SEXES",
    "NATIONALITIES",
    "RELATIONSHIPS",
    "HOUSEHOLD_TYPES",
    "USE_CHARACTERS",
    "VEHICLE_TYPES",
    "PLATE_PROVINCES",
    "COLOUR_CHARS",
    "LONG_TERM",
]
