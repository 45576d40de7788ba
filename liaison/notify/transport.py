"""The one door to the providers for the to-dos: JSON over HTTP with a deadline, and the ways a send fails.

Every provider's answer ends in one of four outcomes: sent; :class:`Transient`
(the request never reached the provider, or it answered busy: retried later
with backoff); :class:`Uncertain` (the request went out but no readable
answer came back in time: the message may have been sent, so only a channel
that drops repeats tries again); or :class:`Refused` (the provider said no
for a reason a person must fix: a wrong number, template or key, a limit
reached). Each carries the provider's code and, in Chinese, what happened
and what to do; never the request's URL, which for 阿里云 holds the mobile
number and the message, or for 企业微信 the secret.

A socket timeout bounds each read, not the call: a provider that answers one
byte at a time would hold the worker for ever. :func:`within` bounds the
whole call; redirects are never followed (they would carry the key elsewhere).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable

MAX_ANSWER = 256 * 1024  # bytes of a provider's answer read at most
ADDRESS_FIX = "请核对 config.yaml 中 notify 的 endpoint（应为服务商或学校接口的完整地址，以 https:// 开头）后重发。"


class SendError(Exception):
    """A send that did not go through; ``code`` is the provider's, ``fix`` says (in Chinese) what to do."""

    transient = False

    def __init__(self, message: str, code: str = "", fix: str = ""):
        super().__init__(message)
        self.code = code
        self.fix = fix


class Transient(SendError):
    """Worth trying again later: the network, a timeout, the provider busy or throttling."""

    transient = True


class Refused(SendError):
    """The provider refused for a reason that will not go away by itself; kept as failed until a person retries."""


class Uncertain(SendError):
    """The request went out but no readable answer came: the provider may have sent the message, or not."""


# What the SDKs (requests, urllib3) say when the request never left this machine: safe to try again.
_NOT_SENT = (
    "NewConnectionError",
    "ConnectTimeoutError",
    "Failed to establish",
    "Connection refused",
    "Name or service not known",
    "Temporary failure in name resolution",
    "No route to host",
    "Network is unreachable",
    "SSLError",
    "CERTIFICATE_VERIFY_FAILED",
    "ProxyError",
)


def network_failure(text: str, who: str) -> SendError:
    """An SDK's network error as Transient (never sent) or Uncertain, in words that quote nothing of the request."""
    if any(marker in text for marker in _NOT_SENT):
        return Transient(f"{who}无法连接", "network")
    if "timed out" in text.lower() or "timeout" in text.lower():
        return Uncertain(f"{who}没有按时回答", "timeout")
    if any(marker in text for marker in ("aborted", "RemoteDisconnected", "reset by peer", "IncompleteRead")):
        return Uncertain(f"{who}在回答之前断开了连接", "disconnected")
    return Uncertain(f"{who}的回答无法读取", "unreadable")


def within(seconds: float, who: str, call: Callable[[], object]):
    """``call()``'s result, or Uncertain when the whole of it takes more than ``seconds``.

    The call goes on in a thread of its own (a socket cannot be interrupted
    from outside); it is left to end by its own timeouts, its result unused.
    """
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as error:  # handed to the caller as it is
            outcome["error"] = error

    thread = threading.Thread(target=run, name="liaison-notify-call", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise Uncertain(f"{who}没有在 {seconds:g} 秒内回答完", "timeout")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is answered as it is (HTTPError 3xx): following it would send the key to another address."""

    def redirect_request(self, *args, **kwargs):
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def signature(secret: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of the body>``: the X-Liaison-Signature of the generic gateways."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def request_json(
    method: str, url: str, timeout: float, body: dict | bytes | None = None, headers: dict | None = None, who: str = ""
) -> tuple[int, object]:
    """(HTTP status, parsed JSON or None) of one call, all of it within ``timeout`` seconds.

    Transient when the request never reached the provider or it answered
    5xx/429; Uncertain when it went out and no whole answer came back;
    Refused for a redirect or an address that is not a URL. ``body`` is a
    JSON object, or its bytes when the caller signed them.
    """
    data = body if isinstance(body, bytes) or body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
    sent = {"Accept": "application/json", **(headers or {})}
    if data is not None:
        sent["Content-Type"] = "application/json; charset=utf-8"
    try:
        request = urllib.request.Request(url, data=data, headers=sent, method=method)
    except ValueError:  # its text would quote the URL, with the secret of a gettoken
        raise Refused(f"{who}的接口地址不正确", "bad-url", ADDRESS_FIX) from None

    def call() -> tuple[int, bytes]:
        try:
            with _OPENER.open(request, timeout=timeout) as response:
                return response.status, response.read(MAX_ANSWER)
        except urllib.error.HTTPError as error:
            with error:
                return error.code, error.read(MAX_ANSWER)

    try:
        status, raw = within(timeout, who, call)
    except urllib.error.URLError as error:  # raised while connecting or sending: the request never arrived whole
        reason = getattr(error, "reason", None)
        said = reason.strerror if isinstance(reason, OSError) and reason.strerror else "网络错误"
        raise Transient(f"{who}无法连接（{said}）", "network") from None
    except TimeoutError:
        raise Uncertain(f"{who}没有按时回答", "timeout") from None
    except (OSError, http.client.HTTPException):  # the answer broke off or was not HTTP
        raise Uncertain(f"{who}在回答之前断开了连接或回答无法读取", "disconnected") from None
    except ValueError:
        raise Refused(f"{who}的接口地址不正确", "bad-url", ADDRESS_FIX) from None
    if 300 <= status < 400:
        raise Refused(f"{who}要求转到别的地址（HTTP {status}），为保护密钥没有跟随", f"HTTP {status}", ADDRESS_FIX)
    if status >= 500 or status == 429:
        raise Transient(f"{who}暂时不可用（HTTP {status}）", f"HTTP {status}")
    try:
        return status, json.loads(raw.decode("utf-8")) if raw else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        return status, None
