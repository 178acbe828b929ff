"""certfree issuer: the six licence schemas, signing full credentials and scenario views."""

from .credential import Issued, issue, new_jti
from .schemas import LICENCE_TYPES, ClaimsInvalid, FieldError, LicenceType, example, validate
from .views import mask_id_number, view_claims

__all__ = [
    "issue",
    "Issued",
    "new_jti",
    "validate",
    "example",
    "LICENCE_TYPES",
    "LicenceType",
    "ClaimsInvalid",
    "FieldError",
    "view_claims",
    "mask_id_number",
]
