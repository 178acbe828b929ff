"""Every failure the verifier can report: one class per reason, a stable ``code``, an
English and a Chinese message. Personal data never goes into a message; what a failure
is about (a claim name, a licence type) is kept in ``field``."""

from __future__ import annotations

from typing import Any, Iterable


class VerificationError(Exception):
    """Root of every certfree verification error."""

    code = "verification_error"
    message = "verification failed"
    message_zh = "核验未通过"

    def __init__(self, field: str | None = None, detail: str | None = None) -> None:
        self.field = field
        self.detail = detail
        super().__init__(self.describe())

    def describe(self) -> str:
        text = f"{self.code}: {self.message}"
        if self.field:
            text += f" [{self.field}]"
        return text

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message, "message_zh": self.message_zh}
        if self.field:
            out["field"] = self.field
        if self.detail:
            out["detail"] = self.detail
        return out


class VerificationFailed(VerificationError):
    """Raised by ``verify``: carries every failed check in ``failures``."""

    code = "verification_failed"
    message = "the credential was not accepted"
    message_zh = "证照核验未通过"

    def __init__(self, failures: Iterable[VerificationError]) -> None:
        self.failures: tuple[VerificationError, ...] = tuple(failures)
        super().__init__()

    def describe(self) -> str:
        return "; ".join(f.describe() for f in self.failures) or self.code

    @property
    def codes(self) -> list[str]:
        return [f.code for f in self.failures]




class ImageSupportMissing(VerificationError):
    """An image was given to an SDK installed without its ``image`` extra (zxing-cpp, Pillow)."""

    code = "image_support_missing"
    message = "reading QR images needs the SDK's image extra: pip install 'certfree-verifier[image]' (or pass the QR text)"
    message_zh = "读取二维码图片需要安装 SDK 的 image 扩展：pip install 'certfree-verifier[image]'（或直接传入二维码文本）"


class MalformedInput(VerificationError):
    """The QR text or credential could not be parsed."""

    code = "malformed"
    message = "the QR code or credential is malformed"
    message_zh = "二维码或凭证格式错误"


class QRNotFound(VerificationError):
    """No QR code could be read from the image."""

    code = "qr_not_found"
    message = "no readable QR code in the image"
    message_zh = "图片中未识别到二维码"


class UnsupportedAlgorithm(VerificationError):
    """The token names an algorithm outside the allow-list ("EdDSA" or "Ed25519", both Ed25519)."""

    code = "unsupported_algorithm"
    message = "signature algorithm not allowed (Ed25519 only, named EdDSA or Ed25519)"
    message_zh = "签名算法不被允许（仅限 Ed25519，名称为 EdDSA 或 Ed25519）"


class UnsupportedHeader(VerificationError):
    """The token's header carries a critical extension or another type than expected."""

    code = "unsupported_header"
    message = "the token header is not acceptable"
    message_zh = "凭证头部不被接受"


class UnknownKey(VerificationError):
    """The signing key is not in the trust list."""

    code = "unknown_key"
    message = "signed by a key that is not in the trust list"
    message_zh = "签发密钥不在信任列表中"


class KeyNotAuthorised(VerificationError):
    """The signing key may not sign this licence type, or not for this issuer."""

    code = "key_not_authorised"
    message = "the issuing key is not authorised for this licence type"
    message_zh = "签发密钥无权签发此类证照"


class KeyNotValid(VerificationError):
    """The credential was signed outside the key's validity or after the key was retired."""

    code = "key_not_valid"
    message = "signed outside the issuing key's validity period"
    message_zh = "签发时间不在密钥有效期内"


class KeyCompromised(VerificationError):
    """The credential was signed after its key was reported compromised."""

    code = "key_compromised"
    message = "signed after the issuing key was reported compromised"
    message_zh = "签发密钥已泄露，该时间之后签发的凭证无效"


class SignatureInvalid(VerificationError):
    """The issuer's signature does not verify."""

    code = "signature_invalid"
    message = "the issuer's signature is invalid (altered or forged)"
    message_zh = "签发机关签名无效（凭证被篡改或伪造）"


class Expired(VerificationError):
    """The credential's validity has ended."""

    code = "expired"
    message = "the credential has expired"
    message_zh = "凭证已过期"


class NotYetValid(VerificationError):
    """The credential is not valid yet."""

    code = "not_yet_valid"
    message = "the credential is not valid yet"
    message_zh = "凭证尚未生效"


class ClaimInvalid(VerificationError):
    """A registered claim is missing or has the wrong type."""

    code = "claim_invalid"
    message = "a required credential field is missing or invalid"
    message_zh = "凭证必要字段缺失或无效"


class TrustListInvalid(VerificationError):
    """The trust list's signature or content is invalid."""

    code = "trust_list_invalid"
    message = "the trust list is invalid or not signed by the pinned root key"
    message_zh = "信任列表无效或非根密钥签发"


class TrustListRollback(VerificationError):
    """The trust list is older than the one already held."""

    code = "trust_list_rollback"
    message = "the trust list is older than the one already held"
    message_zh = "信任列表版本比现有版本旧（疑似回滚）"


class HolderProofMissing(VerificationError):
    """A scenario needs a presentation with a holder proof, and there is none."""

    code = "holder_proof_missing"
    message = "this check needs a live presentation from the holder's wallet, not a bare credential"
    message_zh = "此处须出示持证人钱包实时生成的二维码，不能仅出示凭证"


class HolderProofInvalid(VerificationError):
    """The holder proof does not verify with the key the view names."""

    code = "holder_proof_invalid"
    message = "the holder proof is invalid (not made by the holder's device)"
    message_zh = "持证人设备签名无效（非本人设备生成）"


class PresentationStale(VerificationError):
    """The holder proof is older than the freshness window: a screenshot or an old code."""

    code = "presentation_stale"
    message = "the QR code is too old; ask the holder to refresh it"
    message_zh = "二维码已过期，请持证人刷新后重新出示"


class PresentationFromFuture(VerificationError):
    """The holder proof's time is beyond the allowed clock skew in the future."""

    code = "presentation_from_future"
    message = "the QR code's time is in the future; check the device clock"
    message_zh = "二维码时间超前，请检查设备时间"


class Replayed(VerificationError):
    """This exact presentation was already scanned."""

    code = "replayed"
    message = "this QR code was already used; ask the holder to refresh it"
    message_zh = "该二维码已被使用过，请持证人刷新后重新出示"


class TypeNotAccepted(VerificationError):
    """This scenario does not accept this licence type."""

    code = "type_not_accepted"
    message = "this licence type is not accepted here"
    message_zh = "此场景不接受该类证照"


class WrongScenario(VerificationError):
    """The view was made for another scenario."""

    code = "wrong_scenario"
    message = "this QR code was made for a different place; ask the holder to choose this scenario"
    message_zh = "该二维码用于其他场景，请持证人选择本场景重新出示"


class ClaimMissing(VerificationError):
    """A claim the scenario needs is missing."""

    code = "claim_missing"
    message = "a field this scenario needs is missing"
    message_zh = "缺少本场景所需字段"


class UnderAge(VerificationError):
    """The holder is under the scenario's minimum age."""

    code = "under_age"
    message = "the holder is under the minimum age for this place"
    message_zh = "持证人未达到本场所规定年龄"


class UnknownScenario(VerificationError):
    """The scenario name is not one of the loaded policies."""

    code = "unknown_scenario"
    message = "unknown scenario"
    message_zh = "未知的核验场景"


class UnknownMatter(VerificationError):
    """The window matter id is not one of the matters catalogue's (``verify_matter``)."""

    code = "unknown_matter"
    message = "unknown window matter"
    message_zh = "未知的办理事项"


class Revoked(VerificationError):
    """The issuer has revoked the licence (lost, replaced, cancelled)."""

    code = "revoked"
    message = "the licence has been revoked by its issuer"
    message_zh = "该证照已被签发机关注销"


class Suspended(VerificationError):
    """The issuer has suspended the licence (for example a suspended driving licence)."""

    code = "suspended"
    message = "the licence is suspended"
    message_zh = "该证照已被暂停使用"


class ReportedStolen(VerificationError):
    """The e-bike registration is suspended because the e-bike was reported stolen."""

    code = "reported_stolen"
    message = "this e-bike has been reported stolen"
    message_zh = "该电动自行车已报失窃"


class StatusUnknown(VerificationError):
    """No status list is held for the licence, or the one held is older than allowed."""

    code = "status_unknown"
    message = "revocation status unknown: no status list held, or it is too old; sync when online"
    message_zh = "证照状态未知：未持有状态列表或列表已过期，请联网同步"


class StatusListInvalid(VerificationError):
    """A status list is not signed by a trusted key of its authority, or is malformed."""

    code = "status_list_invalid"
    message = "the status list is invalid or not signed by a trusted key of its issuer"
    message_zh = "状态列表无效或非签发机关可信密钥签发"


ALL_ERRORS: tuple[type[VerificationError], ...] = tuple(
    cls for cls in list(globals().values())
    if isinstance(cls, type) and issubclass(cls, VerificationError) and cls not in (VerificationError, VerificationFailed)
)
