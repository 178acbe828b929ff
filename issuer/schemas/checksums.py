"""Check-digit algorithms and helpers for the 18-digit resident ID number.

* GB 11643-1999 (公民身份号码): ISO 7064 MOD 11-2 over the first 17 digits.
* ISO 3779 / GB 16735 (车辆识别代号 VIN): weighted sum mod 11 in position 9.
"""

from __future__ import annotations

import datetime as _dt
import re
from operator import mul

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"  # index = weighted sum mod 11

# Explicit ASCII classes: str.isdigit() and regex \d accept non-ASCII digits.
ID_NUMBER_RE = re.compile(r"[0-9]{17}[0-9X]")
_FIRST17_RE = re.compile(r"[0-9]{17}")

_VIN_VALUES = {
    **{str(d): d for d in range(10)},
    "A": 1, "B": 2, "C": 3, "D": 4, "E": 5, "F": 6, "G": 7, "H": 8,
    "J": 1, "K": 2, "L": 3, "M": 4, "N": 5, "P": 7, "R": 9,
    "S": 2, "T": 3, "U": 4, "V": 5, "W": 6, "X": 7, "Y": 8, "Z": 9,
}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
VIN_RE = re.compile(r"[0-9A-HJ-NPR-Z]{17}")


def id_check_digit(first17: str) -> str:
    """GB 11643-1999 check digit ('0'-'9' or 'X') for 17 ASCII digits."""
    if not isinstance(first17, str) or not _FIRST17_RE.fullmatch(first17):
        raise ValueError("expected exactly 17 ASCII digits")
    total = sum(map(mul, map(int, first17), _ID_WEIGHTS))
    return _ID_CHECK[total % 11]


def _check_id_shape(id_number: str) -> None:
    if not isinstance(id_number, str) or not ID_NUMBER_RE.fullmatch(id_number):
        raise ValueError("expected 17 ASCII digits followed by a digit or X")


def birth_date_from_id(id_number: str) -> _dt.date:
    """The birth date encoded in digits 7-14; ValueError if not a real date."""
    _check_id_shape(id_number)
    s = id_number[6:14]
    return _dt.date(int(s[:4]), int(s[4:6]), int(s[6:8]))


def sex_from_id(id_number: str) -> str:
    """"男" if the 17th digit (sequence code) is odd, else "女"."""
    _check_id_shape(id_number)
    return "男" if int(id_number[16]) % 2 == 1 else "女"


def vin_check_digit(vin: str) -> str:
    """ISO 3779 / GB 16735 check digit for position 9 of a 17-char VIN.

    The character currently in position 9 is ignored (weight 0).
    """
    if not isinstance(vin, str) or len(vin) != 17:
        raise ValueError("expected a 17-character VIN")
    probe = vin[:8] + "0" + vin[9:]
    if not VIN_RE.fullmatch(probe):
        raise ValueError("VIN may only contain 0-9 and A-Z except I, O, Q")
    total = sum(_VIN_VALUES[c] * w for c, w in zip(probe, _VIN_WEIGHTS))
    r = total % 11
    return "X" if r == 10 else str(r)
