"""The one door to the providers for the to-dos: JSON over HTTP with a timeout, and the two ways a send fails.

Every provider's answer ends in one of three outcomes: sent; :class:`Transient`
(the network, a timeout, the provider busy: retried later with backoff); or
:class:`Refused` (the provider said no for a reason a person must fix: a
wrong number, template or key, a limit reached). Both carry the provider's
code and, in Chinese, what happened and what to do.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request

MAX_ANSWER = 256 * 1024  # bytes of a provider's answer read at most


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


def signature(secret: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of the body>``: the X-Liaison-Signature of the generic gateways."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def request_json(
    method: str, url: str, timeout: float, body: dict | bytes | None = None, headers: dict | None = None, who: str = ""
) -> tuple[int, object]:
    """(HTTP status, parsed JSON or None) of one call; Transient for the network, timeouts and 5xx/429.

    ``body`` is a JSON object, or its bytes when the caller signed them.
    """
    data = body if isinstance(body, bytes) or body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
    sent = {"Accept": "application/json", **(headers or {})}
    if data is not None:
        sent["Content-Type"] = "application/json; charset=utf-8"
    request = urllib.request.Request(url, data=data, headers=sent, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read(MAX_ANSWER)
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read(MAX_ANSWER)
        error.close()
    except (urllib.error.URLError, OSError, ValueError) as error:  # refused, unreachable, timed out, bad URL
        reason = getattr(error, "reason", error)
        raise Transient(f"{who}无法连接（{reason}）", "network") from None
    if status >= 500 or status == 429:
        raise Transient(f"{who}暂时不可用（HTTP {status}）", f"HTTP {status}")
    try:
        return status, json.loads(raw.decode("utf-8")) if raw else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        return status, None
