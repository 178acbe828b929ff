"""Example claim sets: one demo resident (李华) holding all six licences.

李华, male, born 1990-03-07 in Beijing Dongcheng (region code 110101),
ID number 110101199003070038. Also a 17-year-old for age-gated scenarios.
"""

from __future__ import annotations

import copy

from .licence_types import LICENCE_TYPES
from .validation import unknown_type

DEMO_NAME = "李华"
DEMO_ID_NUMBER = "110101199003070038"
DEMO_SEX = "男"
DEMO_BIRTH_DATE = "1990-03-07"
DEMO_ADDRESS = "北京市东城区和平里东街11号院3号楼2单元501室"

_PERSON = {"name": DEMO_NAME, "sex": DEMO_SEX, "birth_date": DEMO_BIRTH_DATE,
           "id_number": DEMO_ID_NUMBER, "address": DEMO_ADDRESS}

_EXAMPLES: dict[str, dict[str, object]] = {
    "id_card": {
        **_PERSON, "ethnicity": "汉族",
        "issuing_authority": "北京市公安局东城分局",
        # Aged 26 at issue -> 20-year card.
        "valid_from": "2016-05-20", "valid_until": "2036-05-20",
    },
    "household_book": {
        **_PERSON, "relationship": "户主", "ethnicity": "汉族",
        "birthplace": "北京市东城区", "native_place": "北京市",
        "household_type": "家庭户", "household_number": "110012345",
        "registration_authority": "北京市公安局东城分局和平里派出所",
        "registered_on": "1990-03-20",
    },
    "residence_permit": {
        **_PERSON, "issuing_authority": "北京市公安局东城分局",
        "valid_from": "2026-03-01", "valid_until": "2027-03-01",
    },
    "driving_license": {
        **_PERSON, "nationality": "中国",
        "first_issued": "2012-08-20", "vehicle_classes": ["C1"],
        # Second licence: 6 years (2012-2018), then 10 years.
        "valid_from": "2018-08-20", "valid_until": "2028-08-20",
        "issuing_authority": "北京市公安局公安交通管理局",
        "file_number": "110012345678",
    },
    "vehicle_license": {
        "plate": "京AF07236", "vehicle_type": "小型轿车",
        "name": DEMO_NAME, "address": DEMO_ADDRESS, "use_character": "非营运",
        "brand_model": "比亚迪牌BYD7005BEV", "vin": "LGXCE4CB2N0123456",
        "engine_number": "TZ200XSN123456",
        "registered_on": "2022-05-10", "issued_on": "2022-05-10",
        "issuing_authority": "北京市公安局公安交通管理局",
    },
    "ebike_registration": {
        "plate": "京AH37021", "name": DEMO_NAME, "id_number": DEMO_ID_NUMBER,
        "brand": "雅迪", "model": "DE3", "colour": "白色",
        "frame_number": "YD2403A0012345", "motor_number": "M48V2403123456",
        "anti_theft_tag": "E28011606000020849A1C3F7",
        "registered_on": "2024-04-01",
        "registration_authority": "北京市公安局东城分局和平里派出所",
    },
}

_MINOR: dict[str, object] = {
    "name": "王雨桐", "sex": "女", "ethnicity": "汉族",
    "birth_date": "2009-06-01",
    "address": "北京市朝阳区望京西园三区312号楼1单元802室",
    "id_number": "110105200906010248",
    "issuing_authority": "北京市公安局朝阳分局",
    # Aged 16 at issue -> 10-year card; still 17 on 2026-11-24.
    "valid_from": "2025-07-01", "valid_until": "2035-07-01",
}


def example(licence_type: str) -> dict[str, object]:
    """A valid example claim set (a fresh copy) for the demo resident 李华."""
    if not isinstance(licence_type, str) or licence_type not in LICENCE_TYPES:
        raise unknown_type()
    order = LICENCE_TYPES[licence_type].fields
    claims = _EXAMPLES[licence_type]
    return {name: copy.deepcopy(claims[name]) for name in order if name in claims}


def minor_example() -> dict[str, object]:
    """A valid id_card claim set for a holder born 2009-06-01 (17 on 2026-11-24)."""
    order = LICENCE_TYPES["id_card"].fields
    return {name: _MINOR[name] for name in order}
