"""短信: one to-do as an approved template with parameters, through 阿里云, 腾讯云 or the school's gateway.

- 阿里云短信: the official SDK (``alibabacloud-dysmsapi20170525``), ``SendSms``
  with PhoneNumbers, SignName, TemplateCode, TemplateParam (a JSON object of
  the named parameters) and OutId (the ledger item's id, found again in
  阿里云's 发送记录); the SDK signs with ACS3-HMAC-SHA256. The answer's
  ``Code`` is ``OK`` or the reason (``isv.BUSINESS_LIMIT_CONTROL``…).
- 腾讯云短信: the official SDK (``tencentcloud-sdk-python-sms``), ``SendSms``
  2021-01-11 with PhoneNumberSet, SmsSdkAppId, SignName, TemplateId and
  TemplateParamSet (the parameters' values in the template's order); the
  SDK signs with TC3-HMAC-SHA256. Each number's ``Code`` is ``Ok`` or the reason.
- the school's gateway (``generic``): POST JSON ``{"id", "mobile",
  "sign_name", "template", "params": {…}}`` to ``endpoint`` with
  ``Authorization: Bearer <LIAISON_SMS_KEY_SECRET>``, ``X-Liaison-Key-Id`` and
  ``X-Liaison-Signature: sha256=<HMAC-SHA256 of the body>``; any 2xx is sent.

Keys come from the environment only: LIAISON_SMS_KEY_ID, LIAISON_SMS_KEY_SECRET.
Every call has the configured timeout and is tried once: retries are the worker's.
"""

from __future__ import annotations

import json
import os
import urllib.parse

from liaison.core.config import SmsSettings

from .transport import Refused, Transient, Uncertain, network_failure, request_json, signature, within

NAMES = {"aliyun": "阿里云短信", "tencent": "腾讯云短信", "generic": "学校短信网关"}
RETRY_LATER = "python build.py notify --retry <编号>"
LIMIT_FIX = (
    "短信平台对这个号码的发送频率有上限（流控），这一条被拒绝。可过一段时间后用 "
    f"{RETRY_LATER} 重发；若经常发生，请在短信平台控制台调整流控，并把 config.yaml 的 notify.sms.limits 改成一致。"
)
NUMBER_FIX = "手机号不正确。请改正 roster.yaml（或 notify.office）中的 mobile 后重发。"
TEMPLATE_FIX = (
    "短信模板或签名不被接受：请核对 config.yaml 中 notify.sms 的 templates、sign_name 与短信平台审核通过的是否一致，"
    "模板中的参数见 docs/notify.md。改好后重发。"
)
ACCOUNT_FIX = "短信账户余额不足或服务已停用，请充值或开通后重发。"
KEY_FIX = "短信平台不接受密钥：请核对环境变量 LIAISON_SMS_KEY_ID、LIAISON_SMS_KEY_SECRET 与该密钥的短信权限。"

# 阿里云 SendSms codes (the answer's Code), by what to do.
_ALIYUN = {
    "isv.BUSINESS_LIMIT_CONTROL": LIMIT_FIX,
    "isv.DAY_LIMIT_CONTROL": LIMIT_FIX,
    "isv.MOBILE_NUMBER_ILLEGAL": NUMBER_FIX,
    "isv.MOBILE_COUNT_OVER_LIMIT": NUMBER_FIX,
    "isv.SMS_TEMPLATE_ILLEGAL": TEMPLATE_FIX,
    "isv.SMS_SIGNATURE_ILLEGAL": TEMPLATE_FIX,
    "isv.SMS_SIGN_ILLEGAL": TEMPLATE_FIX,
    "isv.TEMPLATE_MISSING_PARAMETERS": TEMPLATE_FIX,
    "isv.TEMPLATE_PARAMS_ILLEGAL": TEMPLATE_FIX,
    "isv.PARAM_LENGTH_LIMIT": TEMPLATE_FIX,
    "isv.INVALID_JSON_PARAM": TEMPLATE_FIX,
    "isv.AMOUNT_NOT_ENOUGH": ACCOUNT_FIX,
    "isv.OUT_OF_SERVICE": ACCOUNT_FIX,
    "SignatureDoesNotMatch": KEY_FIX,
    "InvalidAccessKeyId.NotFound": KEY_FIX,
    "InvalidAccessKeyId.Inactive": KEY_FIX,
    "Forbidden.RAM": KEY_FIX,
    "isp.RAM_PERMISSION_DENY": KEY_FIX,
}
# 腾讯云 codes, by prefix (the first that matches), by what to do.
_TENCENT = (
    ("LimitExceeded.PhoneNumber", LIMIT_FIX),
    ("LimitExceeded.DeliveryFrequencyLimit", LIMIT_FIX),
    ("InvalidParameterValue.IncorrectPhoneNumber", NUMBER_FIX),
    ("FailedOperation.PhoneNumber", NUMBER_FIX),
    ("FailedOperation.InsufficientBalance", ACCOUNT_FIX),
    ("FailedOperation.", TEMPLATE_FIX),
    ("InvalidParameterValue.", TEMPLATE_FIX),
    ("AuthFailure", KEY_FIX),
    ("UnauthorizedOperation", KEY_FIX),
)


def _keys(provider: str) -> tuple[str, str]:
    key_id, secret = os.environ.get("LIAISON_SMS_KEY_ID", ""), os.environ.get("LIAISON_SMS_KEY_SECRET", "")
    if not secret or (provider != "generic" and not key_id):
        raise Refused(
            f"没有设置短信密钥，无法通过{NAMES[provider]}发送。",
            "no-key",
            "请在表单服务的环境变量中设置 LIAISON_SMS_KEY_ID 与 LIAISON_SMS_KEY_SECRET（见 docs/notify.md），然后重发。",
        )
    return key_id, secret


def params_of(item: dict) -> list[tuple[str, str]]:
    return [(str(name), str(value)) for name, value in item.get("params") or ()]


def send_sms(settings: SmsSettings, item: dict) -> str:
    """Send one to-do's SMS; the provider's id for it. Raises Transient or Refused."""
    template = settings.templates.get(item["kind"], "")
    if not template and settings.provider != "generic":
        raise Refused(
            f"没有“{item['kind']}”待办的短信模板。",
            "no-template",
            f"请在 config.yaml 的 notify.sms.templates 中填写 {item['kind']} 的模板编号后重发。",
        )
    key_id, secret = _keys(settings.provider)
    if settings.provider == "aliyun":
        return _aliyun(settings, item, template, key_id, secret)
    if settings.provider == "tencent":
        return _tencent(settings, item, template, key_id, secret)
    return _generic(settings, item, template, key_id, secret)


def _endpoint(url: str) -> tuple[str, str]:
    """(protocol, host[:port]) of a configured base URL, for the SDKs."""
    parts = urllib.parse.urlsplit(url)
    return parts.scheme or "https", parts.netloc


def _aliyun(settings: SmsSettings, item: dict, template: str, key_id: str, secret: str) -> str:
    from alibabacloud_dysmsapi20170525 import models
    from alibabacloud_dysmsapi20170525.client import Client
    from alibabacloud_tea_openapi import exceptions
    from alibabacloud_tea_openapi import models as openapi
    from darabonba.runtime import RuntimeOptions
    from Tea.exceptions import TeaException

    millis = settings.timeout * 1000
    config = openapi.Config(
        access_key_id=key_id,
        access_key_secret=secret,
        region_id=settings.region or "cn-hangzhou",
        read_timeout=millis,
        connect_timeout=millis,
    )
    if settings.endpoint:
        config.protocol, config.endpoint = _endpoint(settings.endpoint)
    request = models.SendSmsRequest(
        phone_numbers=item["mobile"],
        sign_name=settings.sign_name,
        template_code=template,
        template_param=json.dumps(dict(params_of(item)), ensure_ascii=False),
        out_id=item["id"],
    )
    try:
        answer = within(
            settings.timeout,
            NAMES["aliyun"],
            lambda: Client(config).send_sms_with_options(request, RuntimeOptions(autoretry=False)),
        )
    except exceptions.ClientException as error:  # 4xx: the request or the key
        raise _aliyun_refusal(error.code, error.message) from None
    except TeaException as error:  # 5xx and throttling (with a status), or the network (without)
        status = getattr(error, "statusCode", None)
        if status:
            code = getattr(error, "code", "") or f"HTTP {status}"
            raise Transient(f"阿里云短信暂时不可用：HTTP {status} {code}", code) from None
        # The SDK's text of a network error quotes the request's URL: the mobile and the message.
        raise network_failure(str(getattr(error, "message", "") or error), NAMES["aliyun"]) from None
    body = answer.body
    if body is None or not body.code:
        raise Uncertain("阿里云短信的回答无法读取", "unreadable")
    if body.code == "OK":
        return body.biz_id or ""
    if body.code.startswith("isp."):
        raise Transient(f"阿里云短信暂时不可用：{body.code} {body.message}", body.code)
    raise _aliyun_refusal(body.code, body.message)


def _aliyun_refusal(code: str, message: str) -> Refused:
    fix = _ALIYUN.get(code, f"请按阿里云短信的错误码说明（{code}）处理后重发。")
    return Refused(f"阿里云短信拒绝：{code}，{message}", code, fix)


def _tencent(settings: SmsSettings, item: dict, template: str, key_id: str, secret: str) -> str:
    from tencentcloud.common import credential
    from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile
    from tencentcloud.sms.v20210111 import models, sms_client

    http = HttpProfile(reqTimeout=settings.timeout)
    if settings.endpoint:
        http.protocol, http.endpoint = _endpoint(settings.endpoint)
        http.scheme = http.protocol
    client = sms_client.SmsClient(
        credential.Credential(key_id, secret), settings.region or "ap-guangzhou", ClientProfile(httpProfile=http)
    )
    request = models.SendSmsRequest()
    request.PhoneNumberSet = ["+86" + item["mobile"]]
    request.SmsSdkAppId = settings.sdk_app_id
    request.SignName = settings.sign_name
    request.TemplateId = template
    request.TemplateParamSet = [value for _, value in params_of(item)]
    request.SessionContext = item["id"]
    try:
        answer = within(settings.timeout, NAMES["tencent"], lambda: client.SendSms(request))
    except TencentCloudSDKException as error:
        code = error.get_code() or ""
        if code == "ClientNetworkError":  # its text quotes the request
            raise network_failure(error.get_message() or "", NAMES["tencent"]) from None
        if code in _UNREADABLE:  # the SDK could not read a 200 answer: the message may have gone
            raise Uncertain("腾讯云短信的回答无法读取", "unreadable") from None
        if code.startswith(("InternalError", "ServerNetworkError", "RequestLimitExceeded")):
            raise Transient(f"腾讯云短信暂时不可用：{code} {error.get_message()}"[:300], code) from None
        raise _tencent_refusal(code, error.get_message()) from None
    status = (answer.SendStatusSet or [None])[0]
    if status is None or not isinstance(status.Code, str) or not status.Code:
        raise Uncertain("腾讯云短信的回答中没有发送状态", "unreadable")
    if status.Code == "Ok":
        return status.SerialNo or ""
    if status.Code.startswith("InternalError"):
        raise Transient(f"腾讯云短信暂时不可用：{status.Code} {status.Message}", status.Code)
    raise _tencent_refusal(status.Code, status.Message)


# The SDK's own codes when it cannot read an answer (the names of Python's exceptions), not 腾讯云's.
_UNREADABLE = {"JSONDecodeError", "KeyError", "TypeError", "ValueError", "AttributeError", "IndexError"}


def _tencent_refusal(code: str, message: str) -> Refused:
    fix = next((fix for prefix, fix in _TENCENT if code.startswith(prefix)), None)
    return Refused(
        f"腾讯云短信拒绝：{code}，{message}", code, fix or f"请按腾讯云短信的错误码说明（{code}）处理后重发。"
    )


def _generic(settings: SmsSettings, item: dict, template: str, key_id: str, secret: str) -> str:
    body = {
        "id": item["id"],
        "mobile": item["mobile"],
        "sign_name": settings.sign_name,
        "template": template or item["kind"],
        "params": dict(params_of(item)),
    }
    raw = json.dumps(body, ensure_ascii=False).encode("utf-8")
    headers = {
        "Authorization": f"Bearer {secret}",
        "X-Liaison-Key-Id": key_id,
        "X-Liaison-Signature": signature(secret, raw),
    }
    status, answer = request_json("POST", settings.endpoint, settings.timeout, raw, headers, NAMES["generic"])
    if status >= 300:
        said = json.dumps(answer, ensure_ascii=False)[:200] if answer is not None else ""
        raise Refused(f"学校短信网关拒绝：HTTP {status} {said}", f"HTTP {status}", "请按短信网关的说明处理后重发。")
    return str(answer.get("id", "")) if isinstance(answer, dict) else ""
