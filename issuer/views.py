"""Scenario views: only what a policy discloses, with derived predicates replacing raw data."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Mapping

from scenarios import Policy

from .schemas.rules import birth_date_of
from .schemas.fields import CHINA  # China Standard Time: licence dates are days there

#: Labels of the derived predicates a view may carry instead of raw data: (Chinese, English).
DERIVED_LABELS: dict[str, tuple[str, str]] = {
    "age_over_18": ("已满18周岁", "18 or older"),
    "id_number_masked": ("公民身份号码（脱敏）", "ID number (masked)"),
}


def mask_id_number(id_number: str) -> str:
    """First 6 and last 4 characters, the birth date and sequence hidden: 110101********0017."""
    return id_number[:6] + "*" * 8 + id_number[-4:]


@lru_cache(maxsize=4096)  # a batch of licences shares a few thousand dates
def china_midnight(day: dt.date) -> int:
    """Unix time of the start of ``day`` in China time."""
    return int(dt.datetime.combine(day, dt.time(), CHINA).timestamp())


@lru_cache(maxsize=4096)
def adult_from(birth_date: str, age: int = 18) -> int:
    """Unix time (China time, midnight) at which someone born on ``birth_date`` turns ``age``."""
    born = dt.date.fromisoformat(birth_date)
    try:
        day = born.replace(year=born.year + age)
    except ValueError:  # born on 29 February: the birthday is 1 March in common years
        day = dt.date(born.year + age, 3, 1)
    return china_midnight(day)


_DAY = 86400


def _week_start(moment: int) -> int:
    """China midnight at the start (Monday) of the week holding ``moment``."""
    day = dt.datetime.fromtimestamp(moment, CHINA).date()
    return china_midnight(day - dt.timedelta(days=day.weekday()))


@dataclass(frozen=True)
class Disclosure:
    """What a scenario's views of one licence type carry, sorted out once from its policy:
    the licence's own fields it discloses, and which derived predicates. Signing many
    views for the same scenario (a batch) reuses one; :func:`view_claims` makes one per call."""

    fields: tuple[str, ...]  # disclosed as they are, where the licence has them
    age_over_18: bool
    id_number_masked: bool

    @classmethod
    def of(cls, policy: Policy, licence_type: str) -> "Disclosure":
        names = policy.disclosed_for(licence_type)
        return cls(tuple(sorted(names.difference(DERIVED_LABELS))), "age_over_18" in names, "id_number_masked" in names)

    def claims(self, fields: Mapping[str, Any], *, nbf: int, exp: int) -> tuple[dict[str, Any], int]:
        """The claims a view of ``fields`` carries and its expiry (see :func:`view_claims`)."""
        out = {name: fields[name] for name in self.fields if name in fields}
        if self.age_over_18:
            born = birth_date_of(fields)  # the policy loader makes sure the licence has one
            assert born is not None
            adult_at = adult_from(born.isoformat())
            out["age_over_18"] = adult_at <= nbf
            if adult_at > nbf and adult_at < exp:
                # The view must end by the 18th birthday; ending exactly on it would show a
                # scenario that withholds the birth date (the internet café) the very day.
                # It ends at the start of that week (Monday, China time) instead: a week.
                # Issued within that week, it would be expired at once: it then lives a
                # day (or to the birthday, if sooner), which tells no more than that.
                exp = _week_start(adult_at)
                if exp <= nbf:
                    exp = min(adult_at, nbf + _DAY)
        if self.id_number_masked:
            out["id_number_masked"] = mask_id_number(str(fields["id_number"]))
        return out, exp


def view_claims(
    policy: Policy, licence_type: str, fields: Mapping[str, Any], *, nbf: int, exp: int
) -> tuple[dict[str, Any], int]:
    """The claims a scenario view carries and the view's expiry.

    ``age_over_18`` must hold for the whole life of the view: it is true only if the holder
    is 18 at ``nbf``; a minor's view expires at their 18th birthday so that a fresh view
    says true from then on.
    """
    return Disclosure.of(policy, licence_type).claims(fields, nbf=nbf, exp=exp)
