"""Strict ISO calendar dates ("YYYY-MM-DD") and age arithmetic."""

from __future__ import annotations

import datetime as _dt
import re
from functools import lru_cache

_DATE_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")  # ASCII only
MIN_YEAR = 1850
MAX_YEAR = 2199


@lru_cache(maxsize=8192)
def parse_date(text: str) -> _dt.date | None:
    """The date for a strict "YYYY-MM-DD" string, or None if not a real date (cached: a
    licence's dates are checked by several rules, and a batch repeats the same dates)."""
    m = _DATE_RE.fullmatch(text)
    if not m:
        return None
    try:
        return _dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def add_years(d: _dt.date, years: int) -> frozenset[_dt.date]:
    """Anniversary dates ``years`` after ``d``.

    A 29 February start has no exact anniversary in a common year, so both
    28 February and 1 March are accepted then.
    """
    try:
        return frozenset({d.replace(year=d.year + years)})
    except ValueError:  # 29 Feb -> common year
        return frozenset({_dt.date(d.year + years, 2, 28),
                          _dt.date(d.year + years, 3, 1)})


def age_on(birth: _dt.date, on: _dt.date) -> int:
    """Completed years of age on ``on`` (a 29 Feb birthday counts from 1 Mar)."""
    before_birthday = (on.month, on.day) < (birth.month, birth.day)
    return on.year - birth.year - int(before_birthday)
