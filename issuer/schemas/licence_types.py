"""The six licence types: field lists, required fields, labels, validators."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from . import codes
from . import fields as f


@dataclass(frozen=True)
class LicenceType:
    name: str
    title_zh: str
    title_en: str
    authority: str  # household_registration / traffic_police / police_station
    fields: tuple[str, ...]
    required: frozenset[str]
    labels: Mapping[str, tuple[str, str]]


# Default labels; per-type overrides below.
_LABELS: dict[str, tuple[str, str]] = {
    "name": ("姓名", "Name"),
    "sex": ("性别", "Sex"),
    "ethnicity": ("民族", "Ethnicity"),
    "birth_date": ("出生日期", "Date of birth"),
    "address": ("住址", "Address"),
    "id_number": ("公民身份号码", "Citizen ID number"),
    "issuing_authority": ("签发机关", "Issuing authority"),
    "valid_from": ("有效期限起始日期", "Valid from"),
    "valid_until": ("有效期限截止日期", "Valid until"),
    "relationship": ("户主或与户主关系", "Relationship to head of household"),
    "birthplace": ("出生地", "Place of birth"),
    "native_place": ("籍贯", "Native place"),
    "household_type": ("户别", "Household type"),
    "household_number": ("户号", "Household number"),
    "registration_authority": ("户口登记机关", "Registration authority"),
    "registered_on": ("登记日期", "Registration date"),
    "nationality": ("国籍", "Nationality"),
    "first_issued": ("初次领证日期", "Date of first issue"),
    "vehicle_classes": ("准驾车型", "Permitted vehicle classes"),
    "file_number": ("档案编号", "File number"),
    "plate": ("号牌号码", "Plate number"),
    "vehicle_type": ("车辆类型", "Vehicle type"),
    "use_character": ("使用性质", "Use character"),
    "brand_model": ("品牌型号", "Brand and model"),
    "vin": ("车辆识别代号", "Vehicle identification number (VIN)"),
    "engine_number": ("发动机号码", "Engine number"),
    "issued_on": ("发证日期", "Date of issue"),
    "brand": ("品牌", "Brand"),
    "model": ("型号", "Model"),
    "colour": ("颜色", "Colour"),
    "frame_number": ("车架号", "Frame number"),
    "motor_number": ("电机号", "Motor number"),
    "anti_theft_tag": ("防盗标签编号", "Anti-theft tag ID"),
}

_ADDRESS = f.text(100)
_AUTHORITY = f.text(50, min_len=2)
_POLICE = f.text_ending(50, ("公安局", "分局"))

# Validators per field name (shared across types unless overridden).
_VALIDATORS: dict[str, f.Validator] = {
    "name": f.person_name,
    "sex": f.one_of(codes.SEXES, "sex (男 or 女)", "性别（男或女）"),
    "ethnicity": f.one_of(codes.ETHNIC_GROUPS, "ethnic group name", "民族名称"),
    "birth_date": f.past_date,
    "address": _ADDRESS,
    "id_number": f.id_number,
    "issuing_authority": _AUTHORITY,
    "valid_from": f.date,
    "valid_until": f.date_or_long_term,
    "relationship": f.one_of(codes.RELATIONSHIPS, "relationship", "家庭关系"),
    "birthplace": f.text(50),
    "native_place": f.text(50),
    "household_type": f.one_of(codes.HOUSEHOLD_TYPES, "household type", "户别"),
    "household_number": f.digits(9),
    "registration_authority": _AUTHORITY,
    "registered_on": f.date,
    "nationality": f.one_of(codes.NATIONALITIES, "nationality", "国籍"),
    "first_issued": f.date,
    "vehicle_classes": f.vehicle_classes,
    "file_number": f.digits(12),
    "plate": f.plate,
    "vehicle_type": f.one_of(codes.VEHICLE_TYPES, "vehicle type", "车辆类型"),
    "use_character": f.one_of(codes.USE_CHARACTERS, "use character", "使用性质"),
    "brand_model": f.text(60),
    "vin": f.vin,
    "engine_number": f.serial(4, 20),
    "issued_on": f.date,
    "brand": f.text(30),
    "model": f.text(30),
    "colour": f.colour,
    "frame_number": f.serial(6, 20),
    "motor_number": f.serial(6, 20),
    "anti_theft_tag": f.anti_theft_tag,
}


@dataclass(frozen=True)
class _Spec:
    name: str
    title_zh: str
    title_en: str
    authority: str
    fields: tuple[str, ...]
    optional: frozenset[str] = frozenset()
    labels: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    validators: Mapping[str, f.Validator] = field(default_factory=dict)


_SPECS = (
    _Spec("id_card", "居民身份证", "ID card", "household_registration",
          ("name", "sex", "ethnicity", "birth_date", "address", "id_number",
           "issuing_authority", "valid_from", "valid_until"),
          validators={"issuing_authority": _POLICE}),
    _Spec("household_book", "户口簿", "Household register book",
          "household_registration",
          ("name", "relationship", "sex", "ethnicity", "birth_date",
           "birthplace", "native_place", "id_number", "address",
           "household_type", "household_number", "registration_authority",
           "registered_on"),
          labels={"address": ("住址", "Address")}),
    _Spec("residence_permit", "居住证", "Residence permit",
          "household_registration",
          ("name", "sex", "birth_date", "id_number", "address",
           "issuing_authority", "valid_from", "valid_until"),
          validators={"issuing_authority": _POLICE}),
    _Spec("driving_license", "驾驶证", "Driving licence", "traffic_police",
          ("name", "sex", "nationality", "address", "birth_date", "id_number",
           "first_issued", "vehicle_classes", "valid_from", "valid_until",
           "issuing_authority", "file_number"),
          labels={"id_number": ("证号", "Licence number (citizen ID number)"),
                  "issuing_authority": ("发证机关", "Issuing authority"),
                  "valid_from": ("有效起始日期", "Valid from"),
                  "valid_until": ("有效期限", "Valid until")}),
    _Spec("vehicle_license", "行驶证", "Vehicle licence", "traffic_police",
          ("plate", "vehicle_type", "name", "address", "use_character",
           "brand_model", "vin", "engine_number", "registered_on",
           "issued_on", "issuing_authority"),
          labels={"name": ("所有人", "Owner"),
                  "registered_on": ("注册日期", "Registration date"),
                  "issuing_authority": ("发证机关", "Issuing authority")},
          # The registered owner may be an organisation, not only a person.
          validators={"name": f.text(60)}),
    _Spec("ebike_registration", "电动自行车防盗登记",
          "E-bike anti-theft registration", "police_station",
          ("plate", "name", "id_number", "brand", "model", "colour",
           "frame_number", "motor_number", "anti_theft_tag", "registered_on",
           "registration_authority"),
          optional=frozenset({"motor_number", "anti_theft_tag"}),
          labels={"plate": ("号牌号码", "E-bike plate number"),
                  "name": ("车主姓名", "Owner name"),
                  "id_number": ("车主身份证号码", "Owner citizen ID number"),
                  "registration_authority": ("登记机关", "Registration authority")},
          validators={"plate": f.ebike_plate}),
)


def _build(spec: _Spec) -> LicenceType:
    labels = {name: spec.labels.get(name, _LABELS[name]) for name in spec.fields}
    return LicenceType(
        name=spec.name, title_zh=spec.title_zh, title_en=spec.title_en,
        authority=spec.authority, fields=spec.fields,
        required=frozenset(spec.fields) - spec.optional,
        labels=MappingProxyType(labels),
    )


LICENCE_TYPES: Mapping[str, LicenceType] = MappingProxyType(
    {s.name: _build(s) for s in _SPECS})

# Internal: type name -> field name -> validator.
VALIDATORS: Mapping[str, Mapping[str, f.Validator]] = MappingProxyType({
    s.name: MappingProxyType(
        {name: s.validators.get(name, _VALIDATORS[name]) for name in s.fields})
    for s in _SPECS
})
