"""Error answers for the pages and the JSON endpoints: every one has a stable code and says,
in Chinese first and then in English, what went wrong and what to do. JSON answers have the
API's shape, ``{"error": code, "message", "message_zh"}``; pages get a small bilingual page.
No answer and no log line here holds a request's data."""

from __future__ import annotations

from typing import Any, NamedTuple

from flask import Flask, jsonify, make_response, render_template, request
from werkzeug.exceptions import BadRequest, HTTPException


class Message(NamedTuple):
    code: str
    zh: str
    en: str


_MESSAGES = [
    Message("bad_request", "请求有误，请返回后重试", "the request is not valid: go back and try again"),
    Message("form_expired", "表单已过期，请重试", "the form expired, please try again"),
    Message("not_found", "页面不存在", "no such page"),
    Message("method_not_allowed", "此处不支持该请求方法", "this method is not allowed here"),
    Message("too_large", "上传的内容过大", "the upload is too large"),
    Message("internal_error", "服务器内部错误，请稍后重试", "internal error: try again later"),
    Message("login_required", "请重新登录", "please log in again"),
    # operations (/readyz, and a database that cannot be reached: issuer/service/dbfail.py)
    Message("database_unavailable", "数据库暂时无法访问，请稍后重试",
            "the database cannot be reached just now: try again in a moment"),
    Message("secret_key_missing", "未配置会话密钥（CERTFREE_SECRET_KEY），请联系管理员",
            "the session secret (CERTFREE_SECRET_KEY) is not set: call the administrator"),
    Message("signing_keys_unusable", "签发密钥无法使用（缺失、无法解锁或已过期），请联系管理员",
            "the signing keys cannot be used (missing, locked or expired): call the administrator"),
    Message("trust_list_invalid", "信任列表无效或未列出当前签发密钥，请联系管理员",
            "the trust list is not valid or does not list the signing keys in use: call the administrator"),
    Message("trust_list_expiring", "信任列表中的签发密钥即将到期，请轮换密钥",
            "a signing key in the trust list expires soon: rotate it"),
    # the wallet's devices
    Message("device_key_invalid", "设备密钥无效，请刷新页面后重试",
            "the device key is not a valid Ed25519 public key: reload the page and try again"),
    Message("device_proof_invalid", "设备签名无效，请刷新页面后重试",
            "the device's signature is not valid: reload the page and try again"),
    Message("device_challenge_expired", "验证已超时，请重试", "the challenge expired: try again"),
    Message("device_key_taken", "该设备密钥已登记过，请刷新页面重新启用",
            "this device key was enrolled before: reload the page to enable this phone again"),
    Message("device_not_found", "未找到该设备", "no such device of yours"),
    Message("device_enrol_conflict", "另一部手机正在启用，请稍后刷新页面",
            "another phone is being enabled at the same moment: reload the page in a moment"),
    Message("device_not_enrolled", "本机尚未启用或已被其他手机取代，请在本机重新启用证照",
            "this phone is not (or no longer) your enrolled device: enable your licences on it again"),
    # the desk page
    Message("no_input", "请上传二维码图片或粘贴二维码文本", "upload a photo of the QR code or paste its text"),
    Message("image_too_large", "图片超过12 MB，请只拍二维码或截图后重新上传",
            "the image is over 12 MB: photograph or screenshot just the code and upload it again"),
    Message("unknown_scenario", "请选择列表中的核验场景", "choose a scenario from the list"),
    Message("unknown_matter", "请选择列表中的办理事项", "choose a matter from the list"),
    Message("result_expired", "核验结果已超过10分钟，请重新扫码核验",
            "the check is over 10 minutes old: scan the code again"),
    Message("matter_restarted", "先前扫描的证照已超过10分钟，已清除，请重新扫描",
            "the documents scanned before are over 10 minutes old and were cleared: scan them again"),
    Message("result_invalid", "登记表无效，请重新扫码核验", "the register form is not valid: scan the code again"),
    Message("already_recorded", "该核验结果已登记，如需再登记请重新核验",
            "this result is already in the register; verify the code again to record it again"),
    Message("register_unavailable", "登记簿暂时无法写入，请稍后重试",
            "the register cannot be written now; try again later"),
    Message("desk_unavailable", "核验台暂时无法核验：信任列表或状态列表未能加载，请联系管理员",
            "the desk cannot check codes now: its trust list or status lists were refused; call the administrator"),
    Message("no_desk", "该账号未分配核验台，请联系管理员（certfree desk clerk）",
            "this account belongs to no desk: ask the administrator (certfree desk clerk)"),
    Message("scenario_not_allowed", "本核验台不能核验该场景", "this desk may not verify this scenario"),
    Message("matter_not_allowed", "本窗口不能办理该事项", "this window may not handle this matter"),
    Message("several_codes", "本场景一次只能核验一个二维码，请逐个扫码",
            "this scenario checks one code at a time: scan them one by one"),
    Message("bad_date", "日期格式不对，请按 年-月-日 输入", "the date is not valid: write it as YYYY-MM-DD"),
]
MESSAGES = {m.code: m for m in _MESSAGES}
STATUS_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "too_large", 500: "internal_error"}


class FormExpired(BadRequest):
    """A form posted without the session's CSRF token (an old tab, a log-in elsewhere)."""

    description = "form_expired"


def json_error(status: int, code: str, message: str, message_zh: str, **extra: Any) -> Any:
    response = jsonify({"error": code, "message": message, "message_zh": message_zh, **extra})
    response.status_code = status
    return response


def wants_json() -> bool:
    return request.path.startswith(("/api/", "/wallet/api/")) or request.path.endswith(".json")


def answer(status: int, code: str, **extra: Any) -> Any:
    """The coded, bilingual answer: JSON for the API and ``*.json``, else a small page."""
    m = MESSAGES[code]
    if wants_json():
        return json_error(status, code, m.en, m.zh, **extra)
    return render_template("error.html", page_error=m), status


def _http_error(exc: HTTPException) -> Any:
    status = exc.code or 500
    code = "form_expired" if isinstance(exc, FormExpired) else STATUS_CODES.get(status, "bad_request")
    response = make_response(answer(status, code))
    for name, value in exc.get_headers():
        if name == "Allow":  # a 405 says which methods are allowed
            response.headers[name] = value
    return response


def init_app(app: Flask) -> None:
    for status in STATUS_CODES:
        app.register_error_handler(status, _http_error)


__all__ = ["Message", "MESSAGES", "FormExpired", "json_error", "wants_json", "answer", "init_app"]
