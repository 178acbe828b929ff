"""certfree verifier: the offline SDK a desk or a government window imports.

>>> from verifier import Verifier, load_trust_list, VerificationFailed
>>> trust = load_trust_list(trust_list_text, pinned_root_jwk)
>>> result = Verifier(trust).verify(qr_text, scenario="hotel")   # or raises VerificationFailed

It never opens a socket and needs no database: the trust list, status lists and replay
cache are handed to it. It imports neither flask nor sqlalchemy. It is its own distribution,
``certfree-verifier``; reading QR images needs its ``image`` extra (QR text does not).
"""

from ._core import ALLOWED_ALGORITHMS, Verifier, VerifiedLicence
from ._errors import (
    ALL_ERRORS,
    ClaimInvalid,
    ClaimMissing,
    Expired,
    HolderProofInvalid,
    HolderProofMissing,
    ImageSupportMissing,
    KeyCompromised,
    KeyNotAuthorised,
    KeyNotValid,
    MalformedInput,
    NotYetValid,
    PresentationFromFuture,
    PresentationStale,
    QRNotFound,
    Replayed,
    ReportedStolen,
    Revoked,
    SignatureInvalid,
    StatusListInvalid,
    StatusUnknown,
    Suspended,
    TrustListInvalid,
    TrustListRollback,
    TypeNotAccepted,
    UnderAge,
    UnknownKey,
    UnknownMatter,
    UnknownScenario,
    UnsupportedAlgorithm,
    UnsupportedHeader,
    VerificationError,
    VerificationFailed,
    WrongScenario,
)
from ._ed25519 import BACKEND as ED25519_BACKEND
from ._ed25519 import strict_point as ed25519_strict_point
from ._ed25519 import verify as ed25519_verify
from ._extras import decode_qr_image
from ._matters import MatterResult, verify_matter
from ._replay import MemoryReplayCache, PrunePace, ReplayCache, SqliteReplayCache
from ._status import StatusList, StatusStore, load_status_lists, parse_status_list
from ._trust import TrustedKey, TrustStore, load_trust_list

__all__ = [
    # verifying
    "Verifier",
    "VerifiedLicence",
    "ALLOWED_ALGORITHMS",
    "decode_qr_image",
    "verify_matter",
    "MatterResult",
    # Ed25519 as the verifier checks it (RFC 8032's strict encodings, no small-order key),
    # for a system that checks other signatures of the same keys (a device's, say)
    "ed25519_verify",
    "ed25519_strict_point",
    "ED25519_BACKEND",
    # trust
    "load_trust_list",
    "TrustStore",
    "TrustedKey",
    # status lists
    "load_status_lists",
    "parse_status_list",
    "StatusStore",
    "StatusList",
    # replay caches
    "ReplayCache",
    "MemoryReplayCache",
    "SqliteReplayCache",
    "PrunePace",
    # errors
    "VerificationError",
    "VerificationFailed",
    "ALL_ERRORS",
    "MalformedInput",
    "QRNotFound",
    "ImageSupportMissing",
    "UnsupportedAlgorithm",
    "UnsupportedHeader",
    "UnknownKey",
    "KeyNotAuthorised",
    "KeyNotValid",
    "KeyCompromised",
    "SignatureInvalid",
    "Expired",
    "NotYetValid",
    "ClaimInvalid",
    "TrustListInvalid",
    "TrustListRollback",
    "HolderProofMissing",
    "HolderProofInvalid",
    "PresentationStale",
    "PresentationFromFuture",
    "Replayed",
    "TypeNotAccepted",
    "WrongScenario",
    "ClaimMissing",
    "UnderAge",
    "UnknownMatter",
    "UnknownScenario",
    "Revoked",
    "Suspended",
    "ReportedStolen",
    "StatusUnknown",
    "StatusListInvalid",
]
