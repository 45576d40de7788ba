"""A small HTTP client for the form's tests and benchmark: real requests over loopback, one cookie jar."""

from __future__ import annotations

import http.client
import re
import urllib.parse
from dataclasses import dataclass


@dataclass
class Reply:
    status: int
    headers: dict
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def field(self, name: str) -> str:
        """The value of a hidden input in the page (csrf_token, token)."""
        match = re.search(rf'name="{name}" value="([^"]*)"', self.text)
        return match[1] if match else ""


class Client:
    def __init__(self, port: int, headers: dict | None = None):
        self.port = port
        self.headers = dict(headers or {})
        self.cookie = ""

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> Reply:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        sent = {**self.headers, **(headers or {})}
        if self.cookie:
            sent["Cookie"] = self.cookie
        connection.request(method, path, body=body, headers=sent)
        response = connection.getresponse()
        reply = Reply(response.status, dict(response.getheaders()), response.read())
        connection.close()
        cookie = reply.headers.get("Set-Cookie")
        if cookie:
            self.cookie = cookie.split(";", 1)[0]
        return reply

    def get(self, path: str) -> Reply:
        return self.request("GET", path)

    def post(self, path: str, fields: dict, headers: dict | None = None) -> Reply:
        body = urllib.parse.urlencode(fields).encode("utf-8")
        return self.request(
            "POST", path, body, {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        )

    def new_form(self) -> dict:
        """GET the form and return the hidden fields a real browser would send back."""
        page = self.get("/new")
        assert page.status == 200, page.status
        return {"csrf_token": page.field("csrf_token"), "token": page.field("token")}
