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


class LiveServer:
    """The service's own waitress server (liaison.web.server) for ``app`` on a loopback port, in a thread, stopped cleanly.

    waitress's ``run()`` loops until its sockets are closed under it, which
    makes ``select`` fail with "Bad file descriptor" in the serving thread.
    Here the thread polls a stop flag between short loop turns and closes the
    server itself, so a test's teardown leaves no thread error behind.
    """

    def __init__(self, app, threads: int = 12, limits=None):
        import threading

        from liaison.core.config import ServerLimits
        from liaison.web.server import create_server

        self.server = create_server(app, "127.0.0.1", 0, threads, limits or ServerLimits())
        self.port = self.server.effective_port
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="live-waitress", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        server = self.server
        while not self._stop.is_set():
            server.asyncore.loop(timeout=0.05, map=server._map, use_poll=server.adj.asyncore_use_poll, count=1)
        for channel in list(server._map.values()):  # open client connections, then the listener
            channel.close()

    def stop(self) -> None:
        # Workers first, while the loop still runs: a worker that finishes a request wakes
        # the loop by writing b"x" to its trigger, and after the loop has closed that pipe
        # the write lands at the start of whatever file a later test opens under the
        # reused descriptor (seen as a schema copy beginning "x#" in test_web).
        self.server.task_dispatcher.shutdown()
        self._stop.set()
        self._thread.join(timeout=10)


class HangingServer:
    """A TCP server on loopback that accepts connections and never answers: a remote that hangs."""

    def __init__(self):
        import socket
        import threading

        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.held: list = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        self.listener.settimeout(0.1)
        while not self._stop.is_set():
            try:
                self.held.append(self.listener.accept()[0])
            except TimeoutError:
                continue

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for connection in self.held:
            connection.close()
        self.listener.close()
