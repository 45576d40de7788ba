"""校园APP: one to-do as a message to one person, through 企业微信, 钉钉 or the school's own app.

The roster's login (the single-sign-on name) is the person's userid in the app.

- 企业微信 (application messages): ``GET /cgi-bin/gettoken?corpid=&corpsecret=``
  (the token lasts ``expires_in`` seconds and is kept until then), then
  ``POST /cgi-bin/message/send?access_token=`` with ``{"touser": <login>,
  "msgtype": "textcard", "agentid": …, "textcard": {"title", "description",
  "url", "btntxt"}, "enable_duplicate_check": 1, "duplicate_check_interval":
  14400}``. ``errcode`` 0 is sent unless the login is in ``invaliduser``;
  81013 means the person is not in the app's visible range.
- 钉钉 (work notifications): ``GET /gettoken?appkey=&appsecret=``, then
  ``POST /topapi/message/corpconversation/asyncsend_v2?access_token=`` with
  ``{"agent_id": …, "userid_list": <login>, "msg": {"msgtype":
  "action_card", "action_card": {"title", "markdown", "single_title",
  "single_url"}}}``.
- the school's app (``generic``): POST JSON ``{"id", "kind", "userid",
  "mobile", "title", "description", "url"}`` to ``endpoint`` with
  ``Authorization: Bearer <LIAISON_APP_SECRET>`` and ``X-Liaison-Signature``.

企业微信 (its duplicate check, four hours) and 钉钉 (the same content to one
person once a day) drop a repeated message themselves, so a send cut short
by a crash may be tried again safely (:func:`repeat_is_harmless`).
The secret comes from the environment only: LIAISON_APP_SECRET.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import urllib.parse

from liaison.core.config import AppSettings

from .transport import ADDRESS_FIX, Refused, Transient, Uncertain, request_json, signature

NAMES = {"wecom": "企业微信", "dingtalk": "钉钉", "generic": "学校 APP"}
BASES = {"wecom": "https://qyapi.weixin.qq.com", "dingtalk": "https://oapi.dingtalk.com"}
DUPLICATE_CHECK = 14400  # seconds: 企业微信's longest duplicate check
_TOKEN_EXPIRED = {40014, 41001, 42001, 42009, 88}  # the token is not (or no longer) valid: take a new one
_BUSY = {-1, 45009, 45033, 90002, 90018}
USER_FIX = "校园 APP 中找不到这个人（userid 与名单中的统一身份认证账号不一致，或不在应用的可见范围内）。请核对后重发。"
CONFIG_FIX = "校园 APP 不接受应用的设置：请核对 config.yaml 的 notify.app（corp_id 或 app_key、agent_id）与环境变量 LIAISON_APP_SECRET。"

_tokens: dict[str, tuple[str, float]] = {}  # cache key -> (access_token, when to renew it: time.monotonic())
_tokens_lock = threading.Lock()


def repeat_is_harmless(settings: AppSettings) -> bool:
    """Whether sending the same message twice reaches the person once (the provider drops the repeat)."""
    return settings.provider in ("wecom", "dingtalk")


def _secret(settings: AppSettings) -> str:
    secret = os.environ.get("LIAISON_APP_SECRET", "")
    if not secret:
        raise Refused(
            f"没有设置 {NAMES[settings.provider]} 的密钥，无法发送。",
            "no-key",
            "请在表单服务的环境变量中设置 LIAISON_APP_SECRET（见 docs/notify.md），然后重发。",
        )
    return secret


def send_app(settings: AppSettings, item: dict) -> str:
    """Send one to-do's app message; the provider's id for it. Raises Transient or Refused."""
    secret = _secret(settings)
    if settings.provider == "generic":
        return _generic(settings, item, secret)
    for attempt in (1, 2):
        token = _token(settings, secret)
        try:
            return _wecom(settings, item, token) if settings.provider == "wecom" else _dingtalk(settings, item, token)
        except _Expired:
            _forget(settings, secret)
            if attempt == 2:
                raise Transient(f"{NAMES[settings.provider]}的 access_token 刚换取就失效", "token") from None
    raise AssertionError("unreachable")


class _Expired(Exception):
    """The access token was refused: take a new one and try once more."""


def _base(settings: AppSettings) -> str:
    return (settings.endpoint or BASES[settings.provider]).rstrip("/")


def _cache_key(settings: AppSettings, secret: str) -> str:
    who = settings.corp_id if settings.provider == "wecom" else settings.app_key
    return hashlib.sha256(f"{settings.provider}\n{_base(settings)}\n{who}\n{secret}".encode()).hexdigest()


def _forget(settings: AppSettings, secret: str) -> None:
    with _tokens_lock:
        _tokens.pop(_cache_key(settings, secret), None)


def _token(settings: AppSettings, secret: str) -> str:
    key = _cache_key(settings, secret)
    with _tokens_lock:
        token, until = _tokens.get(key, ("", 0.0))
        if token and time.monotonic() < until:
            return token
        if settings.provider == "wecom":
            query = {"corpid": settings.corp_id, "corpsecret": secret}
            url = f"{_base(settings)}/cgi-bin/gettoken?{urllib.parse.urlencode(query)}"
        else:
            query = {"appkey": settings.app_key, "appsecret": secret}
            url = f"{_base(settings)}/gettoken?{urllib.parse.urlencode(query)}"
        try:
            _, answer = request_json("GET", url, settings.timeout, who=NAMES[settings.provider])
        except Uncertain as error:  # asking for a token sends nothing: simply try again later
            raise Transient(str(error), error.code) from None
        if not isinstance(answer, dict):
            raise Transient(f"{NAMES[settings.provider]}换取 access_token 的回答无法读取", "unreadable")
        if answer.get("errcode") in _BUSY:
            raise Transient(f"{NAMES[settings.provider]}繁忙：{answer.get('errmsg', '')}", str(answer.get("errcode")))
        if answer.get("errcode", 0) != 0 or not answer.get("access_token"):
            code = str(answer.get("errcode", ""))
            raise Refused(
                f"{NAMES[settings.provider]}拒绝换取 access_token：errcode {code}，{answer.get('errmsg', '')}",
                code,
                CONFIG_FIX,
            )
        # Renewed a few minutes early: a token that runs out mid-send costs a retry.
        _tokens[key] = (answer["access_token"], time.monotonic() + max(60, int(answer.get("expires_in", 7200)) - 300))
        return answer["access_token"]


def _answer(settings: AppSettings, status: int, answer: object) -> dict:
    """The provider's verdict on a send: the answer when sent, else Transient, Uncertain, Refused or _Expired."""
    name = NAMES[settings.provider]
    if not isinstance(answer, dict) or not isinstance(answer.get("errcode"), int):
        if status >= 400:  # not the provider's API speaking (a wrong address): nothing was sent
            raise Refused(f"{name}的接口回答 HTTP {status}", f"HTTP {status}", ADDRESS_FIX)
        raise Uncertain(f"{name}的回答无法读取", "unreadable")
    code = answer.get("errcode")
    if code == 0:
        return answer
    if code in _TOKEN_EXPIRED:
        raise _Expired()
    if code in _BUSY:
        raise Transient(f"{name}繁忙：errcode {code}，{answer.get('errmsg', '')}", str(code))
    fix = USER_FIX if code in (81013, 33012, 40031) else CONFIG_FIX
    raise Refused(f"{name}拒绝：errcode {code}，{answer.get('errmsg', '')}", str(code), fix)


def _wecom(settings: AppSettings, item: dict, token: str) -> str:
    card = {"title": item["title"], "description": item["description"], "url": item["url"], "btntxt": "详情"}
    body = {
        "touser": item["login"],
        "msgtype": "textcard",
        "agentid": settings.agent_id,
        "textcard": card,
        "enable_duplicate_check": 1,
        "duplicate_check_interval": DUPLICATE_CHECK,
    }
    url = f"{_base(settings)}/cgi-bin/message/send?access_token={urllib.parse.quote(token)}"
    status, answer = request_json("POST", url, settings.timeout, body, who=NAMES["wecom"])
    answer = _answer(settings, status, answer)
    invalid = {user.lower() for user in str(answer.get("invaliduser", "")).split("|") if user}
    if item["login"].lower() in invalid:
        raise Refused(f"企业微信找不到 userid“{item['login']}”", "invaliduser", USER_FIX)
    return str(answer.get("msgid", ""))


def _dingtalk(settings: AppSettings, item: dict, token: str) -> str:
    body = {
        "agent_id": settings.agent_id,
        "userid_list": item["login"],
        "msg": {
            "msgtype": "action_card",
            "action_card": {
                "title": item["title"],
                "markdown": f"### {item['title']}\n\n{item['description']}",
                "single_title": "查看详情",
                "single_url": item["url"],
            },
        },
    }
    url = f"{_base(settings)}/topapi/message/corpconversation/asyncsend_v2?access_token={urllib.parse.quote(token)}"
    status, answer = request_json("POST", url, settings.timeout, body, who=NAMES["dingtalk"])
    return str(_answer(settings, status, answer).get("task_id", ""))


def _generic(settings: AppSettings, item: dict, secret: str) -> str:
    body = {key: item[key] for key in ("id", "kind", "login", "mobile", "title", "description", "url")}
    body["userid"] = body.pop("login")
    raw = json.dumps(body, ensure_ascii=False).encode("utf-8")
    headers = {"Authorization": f"Bearer {secret}", "X-Liaison-Signature": signature(secret, raw)}
    status, answer = request_json("POST", settings.endpoint, settings.timeout, raw, headers, NAMES["generic"])
    if status >= 300:
        said = json.dumps(answer, ensure_ascii=False)[:200] if answer is not None else ""
        raise Refused(f"学校 APP 拒绝：HTTP {status} {said}", f"HTTP {status}", "请按学校 APP 接口的说明处理后重发。")
    return str(answer.get("id", "")) if isinstance(answer, dict) else ""
