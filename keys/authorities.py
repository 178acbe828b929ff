"""The issuing authorities and the licence types each may sign."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Authority:
    name: str
    title_zh: str
    title_en: str
    licence_types: tuple[str, ...]


AUTHORITIES: dict[str, Authority] = {
    a.name: a
    for a in (
        Authority(
            "household_registration",
            "公安局户政管理部门",
            "Public security bureau, household registration",
            ("id_card", "household_book", "residence_permit"),
        ),
        Authority(
            "traffic_police",
            "公安局交通警察支队",
            "Public security bureau, traffic police",
            ("driving_license", "vehicle_license"),
        ),
        Authority(
            "police_station",
            "公安派出所",
            "Local police station",
            ("ebike_registration",),
        ),
    )
}


def authority_for(licence_type: str) -> Authority:
    """The authority that signs ``licence_type``."""
    for authority in AUTHORITIES.values():
        if licence_type in authority.licence_types:
            return authority
    raise KeyError(licence_type)
