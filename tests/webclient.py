"""A small client for the form's tests and benchmark: one cookie jar, the app in-process or a live server.

Most tests drive the Flask app in-process (``Client(app)``: its test client, no
socket, no thread), as Datasette's tests do. A few need what only a socket
shows (waitress dropping a header spelled with underscores, a body over the
limit refused mid-upload, many clients at once, Chromium, nginx in front):
they serve the app with ``LiveServer`` and talk to its port (``Client(port)``).
The same client, cookie handling and replies serve both.
"""

from __future__ import annotations

import http.client
import re
import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


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
    """Requests as one browser makes them: ``target`` is a Flask app (in-process) or a live server's port."""

    def __init__(self, target: int | Flask, headers: dict | None = None):
        self.target = target
        self.headers = dict(headers or {})
        self.cookie = ""

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> Reply:
        sent = {**self.headers, **(headers or {})}
        if self.cookie:
            sent["Cookie"] = self.cookie
        send = _over_loopback if isinstance(self.target, int) else _in_process
        reply = send(self.target, method, path, body, sent)
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


def _over_loopback(port: int, method: str, path: str, body: bytes | None, headers: dict) -> Reply:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return Reply(response.status, dict(response.getheaders()), response.read())
    finally:
        connection.close()


def _in_process(app: Flask, method: str, path: str, body: bytes | None, headers: dict) -> Reply:
    # The client's own cookie jar is off: Client keeps the one cookie, as over loopback.
    response = app.test_client(use_cookies=False).open(path, method=method, data=body, headers=headers)
    try:
        return Reply(response.status_code, dict(response.headers), response.get_data())
    finally:
        response.close()


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
        self.port = int(self.server.effective_port)  # waitress gives it as text
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


class ServerThread:
    """Serves a ``socketserver`` server (http.server's, say) in a thread until ``close`` or the end of a ``with``.

    It looks for the stop every 0.05 s instead of socketserver's 0.5 s: ``shutdown`` waits for that look,
    and with a server in most reminder and deploy tests the default cost each of them half a second.
    """

    def __init__(self, server):
        import threading

        self.server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self):
        return self.server

    def __exit__(self, *exc) -> None:
        self.close()


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
