"""Group robots of the campus apps: 企业微信 group robots and 钉钉 custom robots.

A robot posts into one group, so a round is one message (split when long)
listing the leaders below the minimum and @-mentioning them by mobile number,
not one message each: both services allow about 20 messages a minute per
robot. Formats as the services document them:

- 企业微信: POST ``<url>?key=<key>`` with ``{"msgtype": "text", "text":
  {"content": …, "mentioned_mobile_list": […]}}``; content at most 2048 bytes.
- 钉钉: POST ``<url>?access_token=<token>&timestamp=<ms>&sign=<sign>`` with
  ``{"msgtype": "text", "text": {"content": …}, "at": {"atMobiles": […],
  "isAtAll": false}}``; a mention shows only where the content has ``@<mobile>``.
  With 加签, sign = urlencode(base64(HMAC-SHA256(key=secret,
  msg=f"{timestamp}\\n{secret}"))), the timestamp in milliseconds.

Both answer HTTP 200 with ``{"errcode": 0, "errmsg": "ok"}``; any other
errcode is a failure. Secrets come from the environment only:
``LIAISON_WEBHOOK_TOKEN`` (the key or access_token) and, for 钉钉 加签,
``LIAISON_DINGTALK_SECRET``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import urllib.parse
import urllib.request
from dataclasses import dataclass

from liaison.notify.plan import Due, ReminderConfigError

PRESETS = ("wecom", "dingtalk")
PRESET_NAMES = {"wecom": "企业微信群机器人", "dingtalk": "钉钉群机器人"}
CONTENT_LIMIT = 2000  # bytes of UTF-8: under 企业微信's 2048, far under 钉钉's
TIMEOUT = 15


@dataclass(frozen=True)
class RobotMessage:
    due: list[Due]
    content: str
    mobiles: list[str]


def robot_messages(kind: str, heading: str, footer: str, due: list[Due]) -> list[RobotMessage]:
    """The round's text in messages of at most CONTENT_LIMIT bytes, each naming its own leaders."""
    messages: list[RobotMessage] = []
    lines: list[str] = []
    chunk: list[Due] = []

    def flush() -> None:
        if chunk:
            mobiles = [d.leader.mobile for d in chunk if d.leader.mobile]
            messages.append(RobotMessage(list(chunk), "\n".join([heading, *lines, footer]), mobiles))
            lines.clear()
            chunk.clear()

    for item in due:
        line = f"{item.leader.name}老师（{item.leader.department}）：已记录 {item.count} 次，要求 {item.minimum} 次"
        if kind == "dingtalk" and item.leader.mobile:
            line += f" @{item.leader.mobile}"  # 钉钉 shows the mention only where the text has it
        size = len("\n".join([heading, *lines, line, footer]).encode("utf-8"))
        if chunk and size > CONTENT_LIMIT:
            flush()
        lines.append(line)
        chunk.append(item)
    flush()
    return messages


def payload(kind: str, message: RobotMessage) -> dict:
    if kind == "wecom":
        return {"msgtype": "text", "text": {"content": message.content, "mentioned_mobile_list": message.mobiles}}
    return {
        "msgtype": "text",
        "text": {"content": message.content},
        "at": {"atMobiles": message.mobiles, "isAtAll": False},
    }


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """钉钉's 加签: base64 of HMAC-SHA256 over "timestamp\\nsecret" keyed by the secret (URL-encode it in the query)."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def robot_url(kind: str, url: str, timestamp_ms: int) -> str:
    token = os.environ.get("LIAISON_WEBHOOK_TOKEN", "")
    if not token:
        raise ReminderConfigError(
            f"没有设置环境变量 LIAISON_WEBHOOK_TOKEN（{PRESET_NAMES[kind]}的 key 或 access_token），无法发送。"
        )
    query = {"key": token} if kind == "wecom" else {"access_token": token}
    secret = os.environ.get("LIAISON_DINGTALK_SECRET", "")
    if kind == "dingtalk" and secret:
        query.update(timestamp=str(timestamp_ms), sign=dingtalk_sign(secret, timestamp_ms))
    return url + ("&" if "?" in url else "?") + urllib.parse.urlencode(query)


def post_robot(kind: str, url: str, message: RobotMessage, timestamp_ms: int) -> None:
    """Send one message; a refusal by the service (errcode ≠ 0) is an error with its reason."""
    body = json.dumps(payload(kind, message), ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(
        robot_url(kind, url, timestamp_ms),
        data=body,
        headers={"Content-Type": "application/json; charset=utf-8"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        answer = response.read(65536)
    try:
        result = json.loads(answer.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise OSError(f"{PRESET_NAMES[kind]}的回应不是 JSON：{answer[:200]!r}") from None
    if result.get("errcode") != 0:
        raise OSError(f"{PRESET_NAMES[kind]}拒绝了消息：errcode {result.get('errcode')}，{result.get('errmsg', '')}")
