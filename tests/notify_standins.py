"""Local stand-ins for the to-dos' providers, which cannot run here: 阿里云短信, 腾讯云短信, 企业微信, 钉钉.

Each is a real HTTP server on loopback that checks every request the way the
provider documents it, independently of the SDKs (the signature is
recomputed here from the secret, by the published algorithm):

- 阿里云 SendSms, V3 signature (help.aliyun.com, "V3版本请求体&签名机制"):
  Authorization ``ACS3-HMAC-SHA256 Credential=<id>,SignedHeaders=…,Signature=…``;
  CanonicalRequest = method, URI, the query sorted by name with each name and
  value percent-encoded by RFC 3986 (space as %20), the signed headers as
  ``name:value\\n`` sorted, the signed header names, and the hex SHA-256 of the
  body (also in x-acs-content-sha256); StringToSign = ``ACS3-HMAC-SHA256\\n`` +
  hex SHA-256 of the CanonicalRequest; Signature = hex HMAC-SHA256(secret,
  StringToSign). host and every x-acs-* header must be signed; x-acs-date
  within 15 minutes; a nonce used twice is refused. Answers as SendSms does:
  HTTP 200 with ``Code`` OK or the reason, HTTP 400 SignatureDoesNotMatch.
- 腾讯云 SendSms 2021-01-11, TC3-HMAC-SHA256 (cloud.tencent.com/document/api/382/52072):
  CanonicalRequest = ``POST\\n/\\n\\n`` + the signed headers lowercased as
  ``key:value\\n`` + signed header names + hex SHA-256 of the body;
  StringToSign = ``TC3-HMAC-SHA256\\n<X-TC-Timestamp>\\n<date>/sms/tc3_request\\n`` +
  hex SHA-256 of it; the key is HMAC chained from ``"TC3" + SecretKey`` over the
  UTC date, ``sms`` and ``tc3_request``. The timestamp must be within 5
  minutes. Answers ``{"Response": {"SendStatusSet": […]}}`` or ``{"Response":
  {"Error": {"Code": "AuthFailure.SignatureFailure"}}}``.
- 企业微信: ``/cgi-bin/gettoken`` checks corpid and corpsecret and hands out a
  token for ``expires_in``; ``/cgi-bin/message/send`` requires that token and a
  textcard to one userid, answers 81013 for an unknown userid, and, with
  ``enable_duplicate_check``, delivers the same request body once within
  ``duplicate_check_interval``.
- 钉钉: ``/gettoken`` with appkey and appsecret; ``/topapi/message/
  corpconversation/asyncsend_v2`` requires the token, agent_id and userid_list,
  and delivers the same content to one person once a day.

``delivered`` lists what reached a person; ``requests`` counts every call (``headers``: theirs).
``refuse`` maps a number or userid to the provider's refusal code; ``hang``
makes a send take effect but its answer never come (until ``release``);
``trickle`` answers one byte at a time, for ever; ``raw`` and ``redirect``
answer something else than the provider would. ``Generic`` is the school's
own gateway (``provider: generic``), checking the Bearer key and the HMAC.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import http.server
import json
import threading
import time
import urllib.parse
import uuid

KEY_ID, KEY_SECRET = "LTAI5tStandInKeyId", "standin-sms-secret-0123456789"
APP_SECRET = "standin-app-secret-0123456789"
CORP_ID, APP_KEY, AGENT_ID = "ww0123456789abcdef", "dingstandinappkey", 1000002


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def rfc3986(text: str) -> str:
    return urllib.parse.quote(text, safe="-_.~")


class StandIn:
    """A provider on loopback: ``answer(method, path, query, headers, body)`` gives (status, JSON)."""

    name = ""

    def __init__(self):
        self.delivered: list[dict] = []
        self.requests: list[str] = []
        self.refuse: dict[str, str] = {}
        self.failing = 0  # answer this many requests with HTTP 503 first (a provider busy)
        self.hang = threading.Event()  # set: requests wait for ``release``
        self.trickle = threading.Event()  # set: the answer comes one byte at a time, never ending (until ``release``)
        self.release = threading.Event()
        self.arrived = threading.Event()  # a request arrived while hanging or trickling
        self.raw: tuple[int, bytes] | None = None  # answer these bytes instead (after doing the work)
        self.redirect = ""  # answer 302 to this address instead
        self.headers: list[dict] = []  # every request's headers
        self.lock = threading.Lock()
        standin = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802 - the name http.server calls
                standin.handle(self, "GET")

            def do_POST(self):  # noqa: N802
                standin.handle(self, "POST")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # It looks for the stop every 0.05 s, not socketserver's 0.5 s: each of a test's six stand-ins made its
        # teardown wait for that look (two seconds a test, a quarter of the suite's time).
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def handle(self, handler: http.server.BaseHTTPRequestHandler, method: str) -> None:
        """One request: recorded, answered as the provider would (or as the test made it misbehave)."""
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        path, _, query = handler.path.partition("?")
        with self.lock:
            self.requests.append(f"{method} {path}")
            self.headers.append(dict(handler.headers))
            if self.failing:
                self.failing -= 1
                status, answer = 503, {"message": "busy"}
            else:
                status, answer = self.answer(method, path, query, handler.headers, body)
        if self.hang.is_set() and method == "POST":
            # The provider has done the work but its answer never comes back: the sender
            # cannot know whether the message went out.
            self.arrived.set()
            self.release.wait(60)
            return
        if self.trickle.is_set() and method == "POST":
            self.arrived.set()
            self._trickle(handler)
            return
        data = json.dumps(answer, ensure_ascii=False).encode("utf-8")
        if self.raw is not None:
            status, data = self.raw
        if self.redirect:
            status, data = 302, b""
        handler.send_response(status)
        if self.redirect:
            handler.send_header("Location", self.redirect)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _trickle(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        """A status line, then a header one byte every 0.2 s: each read is quick, the answer never ends."""
        deadline = time.monotonic() + 60
        try:
            handler.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            while not self.release.wait(0.2) and time.monotonic() < deadline:
                handler.wfile.write(b"a")
        except OSError:
            pass

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


class AliyunSms(StandIn):
    name = "aliyun"

    def __init__(self):
        super().__init__()
        self.nonces: set[str] = set()

    def signature_problem(self, method: str, path: str, query: str, headers, body: bytes) -> str:
        auth = headers.get("Authorization", "")
        algorithm, _, rest = auth.partition(" ")
        fields = dict(part.split("=", 1) for part in rest.split(",") if "=" in part)
        if algorithm != "ACS3-HMAC-SHA256" or fields.get("Credential") != KEY_ID:
            return "wrong algorithm or AccessKeyId"
        signed = fields.get("SignedHeaders", "").split(";")
        present = {name.lower() for name in headers if name.lower().startswith("x-acs-")} | {"host"}
        if not present <= set(signed) or signed != sorted(signed):
            return "host and every x-acs-* header must be signed, in order"
        if headers.get("x-acs-content-sha256") != sha256_hex(body):
            return "x-acs-content-sha256 is not the body's hash"
        stamp = datetime.datetime.strptime(headers.get("x-acs-date", ""), "%Y-%m-%dT%H:%M:%SZ")
        if abs(stamp.replace(tzinfo=datetime.UTC).timestamp() - time.time()) > 900:
            return "x-acs-date is more than 15 minutes off"
        nonce = headers.get("x-acs-signature-nonce", "")
        if not nonce or nonce in self.nonces:
            return "the nonce was used before"
        self.nonces.add(nonce)
        pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
        canonical_query = "&".join(f"{rfc3986(k)}={rfc3986(v)}" for k, v in sorted(pairs))
        canonical_headers = "".join(f"{name}:{(headers.get(name) or '').strip()}\n" for name in signed)
        canonical = "\n".join(
            [method, path or "/", canonical_query, canonical_headers, ";".join(signed), sha256_hex(body)]
        )
        to_sign = "ACS3-HMAC-SHA256\n" + sha256_hex(canonical.encode("utf-8"))
        expected = hmac.new(KEY_SECRET.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
        return "" if hmac.compare_digest(expected, fields.get("Signature", "")) else "signature does not match"

    def answer(self, method, path, query, headers, body):
        problem = self.signature_problem(method, path, query, headers, body)
        if problem:
            return 400, {"Code": "SignatureDoesNotMatch", "Message": problem, "RequestId": str(uuid.uuid4())}
        if headers.get("x-acs-action") != "SendSms" or headers.get("x-acs-version") != "2017-05-25":
            return 400, {"Code": "InvalidAction.NotFound", "Message": "action", "RequestId": "r"}
        params = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        mobile = params.get("PhoneNumbers", "")
        if mobile in self.refuse:
            return 200, {"Code": self.refuse[mobile], "Message": "触发号码天级流控Permits:10", "RequestId": "r"}
        self.delivered.append(
            {
                "mobile": mobile,
                "sign": params.get("SignName"),
                "template": params.get("TemplateCode"),
                "params": json.loads(params.get("TemplateParam") or "{}"),
                "out_id": params.get("OutId"),
            }
        )
        return 200, {"Code": "OK", "Message": "OK", "BizId": f"{len(self.delivered)}^0", "RequestId": "r"}


class TencentSms(StandIn):
    name = "tencent"

    def signature_problem(self, headers, body: bytes) -> str:
        auth = headers.get("Authorization", "")
        algorithm, _, rest = auth.partition(" ")
        fields = dict(part.strip().split("=", 1) for part in rest.split(",") if "=" in part)
        scope = fields.get("Credential", "").split("/")
        if (
            algorithm != "TC3-HMAC-SHA256"
            or len(scope) != 4
            or scope[0] != KEY_ID
            or scope[2:] != ["sms", "tc3_request"]
        ):
            return "wrong algorithm or credential scope"
        timestamp = int(headers.get("X-TC-Timestamp", "0"))
        if abs(timestamp - time.time()) > 300:
            return "timestamp more than 5 minutes off"
        day = datetime.datetime.fromtimestamp(timestamp, datetime.UTC).strftime("%Y-%m-%d")
        if scope[1] != day:
            return "the scope's date is not the timestamp's"
        signed = fields.get("SignedHeaders", "").split(";")
        if not {"content-type", "host"} <= set(signed):
            return "content-type and host must be signed"
        canonical_headers = "".join(f"{name}:{(headers.get(name) or '').strip().lower()}\n" for name in signed)
        canonical = f"POST\n/\n\n{canonical_headers}\n{';'.join(signed)}\n{sha256_hex(body)}"
        to_sign = f"TC3-HMAC-SHA256\n{timestamp}\n{day}/sms/tc3_request\n{sha256_hex(canonical.encode())}"
        key = ("TC3" + KEY_SECRET).encode()
        for part in (day, "sms", "tc3_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        return "" if hmac.compare_digest(expected, fields.get("Signature", "")) else "signature does not match"

    def answer(self, method, path, query, headers, body):
        problem = self.signature_problem(headers, body)
        if problem:
            return 200, {
                "Response": {"Error": {"Code": "AuthFailure.SignatureFailure", "Message": problem}, "RequestId": "r"}
            }
        if headers.get("X-TC-Action") != "SendSms" or headers.get("X-TC-Version") != "2021-01-11":
            return 200, {"Response": {"Error": {"Code": "InvalidAction", "Message": "action"}, "RequestId": "r"}}
        request = json.loads(body)
        mobile = request["PhoneNumberSet"][0]
        code = self.refuse.get(mobile.removeprefix("+86"), "Ok")
        if code == "Ok":
            self.delivered.append(
                {
                    "mobile": mobile,
                    "app": request.get("SmsSdkAppId"),
                    "sign": request.get("SignName"),
                    "template": request.get("TemplateId"),
                    "params": request.get("TemplateParamSet"),
                }
            )
        status = {
            "SerialNo": str(uuid.uuid4()),
            "PhoneNumber": mobile,
            "Fee": 1,
            "SessionContext": request.get("SessionContext", ""),
            "Code": code,
            "Message": "send success" if code == "Ok" else "limit",
            "IsoCode": "CN",
        }
        return 200, {"Response": {"SendStatusSet": [status], "RequestId": "r"}}


class TokenApp(StandIn):
    """What 企业微信 and 钉钉 share: an access token for the right id and secret, and duplicate dropping."""

    def __init__(self, users: set[str]):
        super().__init__()
        self.users = users
        self.tokens: set[str] = set()
        self.expired: set[str] = set()  # tokens that ran out: answered 42001 (企业微信) / 88 (钉钉)
        self.seen: dict[str, float] = {}  # request body (or content+user) -> when it was delivered

    def token(self, ok: bool) -> tuple[int, dict]:
        if not ok:
            return 200, {"errcode": 40001, "errmsg": "invalid credential"}
        token = uuid.uuid4().hex
        self.tokens.add(token)
        return 200, {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200}

    def authorised(self, query: str) -> bool:
        return urllib.parse.parse_qs(query).get("access_token", [""])[0] in self.tokens

    def expire_tokens(self) -> None:
        """Every token handed out runs out now (as after two hours)."""
        with self.lock:
            self.expired |= self.tokens
            self.tokens.clear()

    def ran_out(self, query: str) -> bool:
        return urllib.parse.parse_qs(query).get("access_token", [""])[0] in self.expired


class WeCom(TokenApp):
    name = "wecom"

    def answer(self, method, path, query, headers, body):
        args = {k: v[0] for k, v in urllib.parse.parse_qs(query).items()}
        if method == "GET" and path == "/cgi-bin/gettoken":
            return self.token(args.get("corpid") == CORP_ID and args.get("corpsecret") == APP_SECRET)
        if method != "POST" or path != "/cgi-bin/message/send":
            return 404, {"errcode": 404, "errmsg": "not found"}
        if self.ran_out(query):
            return 200, {"errcode": 42001, "errmsg": "access_token expired"}
        if not self.authorised(query):
            return 200, {"errcode": 40014, "errmsg": "invalid access_token"}
        request = json.loads(body)
        card = request.get("textcard") or {}
        if (
            request.get("msgtype") != "textcard"
            or request.get("agentid") != AGENT_ID
            or not all(card.get(k) for k in ("title", "description", "url"))
        ):
            return 200, {"errcode": 40008, "errmsg": "invalid message type"}
        if len(card["title"].encode()) > 128 or len(card["description"].encode()) > 512:
            return 200, {"errcode": 44004, "errmsg": "content size out of limit"}
        user = request.get("touser", "")
        if user in self.refuse or user not in self.users:
            return 200, {"errcode": 81013, "errmsg": "user & party & tag all invalid"}
        key = body.decode("utf-8")
        if request.get("enable_duplicate_check") and time.time() - self.seen.get(key, -1e9) < request.get(
            "duplicate_check_interval", 1800
        ):
            return 200, {"errcode": 0, "errmsg": "ok", "invaliduser": "", "msgid": "duplicate"}
        self.seen[key] = time.time()
        self.delivered.append({"userid": user, **card})
        return 200, {"errcode": 0, "errmsg": "ok", "invaliduser": "", "msgid": uuid.uuid4().hex}


class DingTalk(TokenApp):
    name = "dingtalk"

    def answer(self, method, path, query, headers, body):
        args = {k: v[0] for k, v in urllib.parse.parse_qs(query).items()}
        if method == "GET" and path == "/gettoken":
            return self.token(args.get("appkey") == APP_KEY and args.get("appsecret") == APP_SECRET)
        if method != "POST" or path != "/topapi/message/corpconversation/asyncsend_v2":
            return 404, {"errcode": 404, "errmsg": "not found"}
        if not self.authorised(query):
            return 200, {"errcode": 88, "errmsg": "不合法的access_token"}
        request = json.loads(body)
        msg = request.get("msg") or {}
        card = msg.get("action_card") or {}
        if request.get("agent_id") != AGENT_ID or msg.get("msgtype") != "action_card" or not card.get("single_url"):
            return 200, {"errcode": 40035, "errmsg": "缺少参数"}
        user = request.get("userid_list", "")
        if user not in self.users:
            return 200, {"errcode": 33012, "errmsg": "无效的userid"}
        key = user + json.dumps(msg, sort_keys=True, ensure_ascii=False) + datetime.date.today().isoformat()
        if key not in self.seen:
            self.seen[key] = time.time()
            self.delivered.append({"userid": user, **card})
        return 200, {"errcode": 0, "task_id": 256271667526, "request_id": uuid.uuid4().hex}


class Generic(StandIn):
    """The school's own SMS gateway or app (``provider: generic``): the Bearer key and the body's HMAC."""

    name = "generic"

    def __init__(self, secret: str):
        super().__init__()
        self.secret = secret

    def answer(self, method, path, query, headers, body):
        expected = "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        if headers.get("Authorization") != f"Bearer {self.secret}" or headers.get("X-Liaison-Signature") != expected:
            return 401, {"error": "bad key or signature"}
        request = json.loads(body)
        if request.get("mobile") in self.refuse or request.get("userid") in self.refuse:
            return 400, {"error": "refused"}
        self.delivered.append(request)
        return 200, {"id": uuid.uuid4().hex}
