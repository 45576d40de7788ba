"""The form's HTTP port under hostile clients: ``python build.py serve`` run for real, hit over loopback.

Slow clients (a byte now and then, blank lines, a body that never ends) may
hang on, but real requests are answered meanwhile, and each slow client is
cut off at ``web.limits.request_timeout``. A body declared or sent over
``web.limits.max_body_kb`` is refused before it is read. Time is bounded by
each socket's timeout and the test's ``timeout`` mark, never by a sleep.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import PROJECT, PROXY_SECRET, build_form_repo, built_copy, proxy_headers, seed_embedded_remote
from ports import free_port, healthz, start_server

pytestmark = pytest.mark.early  # slow clients and timeouts: waiting, which overlaps other workers' work at the start

SLOW_CLIENTS = 120  # more than waitress' default connection_limit (100)
TRICKLE = b"GET /new HTTP/1.1\r\nHost: form\r\nX-Slow: " + b"a" * 4000


class Served:
    """``python build.py serve`` on a free loopback port, in its own process."""

    def __init__(self, root: Path, data: Path):
        env = {**os.environ, "LIAISON_PROXY_SECRET": PROXY_SECRET, "LIAISON_LOG_LEVEL": "WARNING"}

        def command(port: int) -> list[str]:
            serve = [sys.executable, str(PROJECT / "build.py"), "--root", str(root), "serve"]
            return [*serve, "--port", str(port), "--data", str(data)]

        def answers(port: int) -> bool:
            return healthz(port) in (200, 503)

        self.process, self.port = start_server(command, data.parent / "serve.log", env, answers)

    def get(self, path: str, headers: dict | None = None, timeout: float = 10):
        """A real request; ``timeout`` bounds the wait (raises TimeoutError rather than waiting on)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request("GET", path, headers=headers or {})
            response = connection.getresponse()
            response.body = response.read()
            return response
        finally:
            connection.close()

    def peak_memory_kb(self) -> int:
        """The process' peak resident memory (VmHWM in /proc): over its whole life, so for a shared server over
        every test it served before too."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        raise AssertionError("no VmHWM")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=20)


def served_form(tmp_path_factory, root: Path, data: Path, **limits) -> Served:
    """The form repository at ``root`` served with these ``web.limits`` in its config.yaml."""
    if limits:
        config = root / "config.yaml"
        lines = "".join(f"    {key}: {value}\n" for key, value in limits.items())
        config.write_text(config.read_text(encoding="utf-8") + "  limits:\n" + lines, encoding="utf-8")
    seed_embedded_remote(tmp_path_factory, root, data)
    return Served(root, data)


@pytest.fixture
def serve_form(form_repo, tmp_path, tmp_path_factory):
    """serve_form(**limits) -> Served: the form with these ``web.limits`` in config.yaml; stopped afterwards."""
    started = []

    def start(**limits) -> Served:
        started.append(served_form(tmp_path_factory, form_repo, tmp_path / "data", **limits))
        return started[-1]

    yield start
    for served in started:
        served.stop()


def shared_server(tmp_path_factory, name: str, **limits):
    """One server for the tests of this module that only connect to it, as a running service meets one client
    after another (each test closes its own connections); starting one costs half a CPU-second."""
    folder = tmp_path_factory.mktemp(name)
    root = built_copy(tmp_path_factory, "form-repo", build_form_repo, folder / "repo")
    served = served_form(tmp_path_factory, root, folder / "data", **limits)
    yield served
    served.stop()


@pytest.fixture(scope="module")
def default_form(tmp_path_factory):
    """The form with the default ``web.limits``, shared (``shared_server``)."""
    yield from shared_server(tmp_path_factory, "default-form")


@pytest.fixture(scope="module")
def impatient_form(tmp_path_factory):
    """The form that closes a request not whole within 2 s (``request_timeout``), shared (``shared_server``)."""
    yield from shared_server(tmp_path_factory, "impatient-form", request_timeout=2)


class Trickle:
    """Slow clients: each connection sends ``pieces`` one byte at a time, every ``every`` seconds, until closed."""

    def __init__(self, port: int, count: int, pieces: bytes = TRICKLE, every: float = 0.5):
        self.sockets = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(count)]
        self.pieces, self.every = pieces, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        position = 0
        while not self._stop.is_set() and position < len(self.pieces):
            for sock in self.sockets:
                with contextlib.suppress(OSError):  # closed by the server: that one is done
                    sock.send(self.pieces[position : position + 1])
            position += 1
            self._stop.wait(self.every)  # the client's own pace, not a wait for the server

    def still_open(self) -> int:
        """How many connections the server has not closed."""
        open_ = 0
        for sock in self.sockets:
            sock.setblocking(False)
            try:
                open_ += sock.recv(1, socket.MSG_PEEK) != b""
            except BlockingIOError:
                open_ += 1
            except OSError:
                pass
            finally:
                sock.setblocking(True)
        return open_

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        for sock in self.sockets:
            sock.close()


@pytest.mark.timeout(180)
def test_real_requests_are_answered_while_a_hundred_and_twenty_slow_clients_hang_on(default_form):
    served = default_form
    slow = Trickle(served.port, SLOW_CLIENTS)
    try:
        for _ in range(5):
            assert served.get("/healthz").status == 200
        page = served.get("/new", proxy_headers("zhao"))
        assert page.status == 200 and "赵某" in page.body.decode("utf-8")
        assert slow.still_open() == SLOW_CLIENTS  # they hang on; they just do not block anyone
    finally:
        slow.close()


@pytest.mark.timeout(180)
@pytest.mark.parametrize(
    "pieces",
    [
        pytest.param(TRICKLE, id="a-header-byte-at-a-time"),
        pytest.param(b"\r\n" * 2000, id="blank-lines"),  # waitress parses each pair as an empty request
        pytest.param(
            b"POST /new HTTP/1.1\r\nHost: form\r\nContent-Length: 100000\r\n\r\n" + b"a" * 2000, id="a-slow-body"
        ),
    ],
)
def test_a_slow_client_is_cut_off_at_the_request_timeout(impatient_form, pieces):
    served = impatient_form
    slow = Trickle(served.port, 10, pieces, every=0.2)
    try:
        for sock in slow.sockets:
            sock.settimeout(30)  # the server closes it long before; a recv that times out fails the test
            with contextlib.suppress(ConnectionResetError):
                assert sock.recv(4096) == b""
        assert served.get("/healthz").status == 200
    finally:
        slow.close()


def never_reading(port: int, requests: int = 400) -> socket.socket:
    """A client that pipelines ``requests`` requests for a 14 KB script, as many as the server takes, and never
    reads an answer: 5 MB of answers, more than the sockets between them hold."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    sock.connect(("127.0.0.1", port))
    sock.settimeout(2)
    data = b"GET /static/search.js HTTP/1.1\r\nHost: form\r\n\r\n" * requests
    with contextlib.suppress(TimeoutError):  # the server stops reading once its answers pile up unread
        sock.sendall(data)
    return sock


@pytest.mark.timeout(120)
def test_a_client_that_never_reads_its_answers_keeps_its_slot_no_longer_than_the_idle_timeout(serve_form):
    """Pipelined requests whose answers are never read fill the socket both ways; waitress then marks the
    connection to close but waits for it to become writable, which it never does: the slot was held for good."""
    served = serve_form(connections=10, idle_timeout=2)
    hogs = [never_reading(served.port) for _ in range(10)]
    try:
        assert served.get("/healthz", timeout=60).status == 200  # waits in the queue until the slots are freed
    finally:
        for sock in hogs:
            sock.close()


def raw_request(port: int, head: bytes, timeout: float = 20) -> bytes:
    """Send only ``head`` (request line and headers) and read whatever the server answers until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer


@pytest.mark.timeout(120)
@pytest.mark.parametrize("signed_in", [False, True])
def test_a_huge_declared_body_gets_413_before_a_byte_of_it_is_sent(default_form, signed_in):
    served = default_form
    auth = "".join(f"{k}: {v}\r\n" for k, v in proxy_headers("zhao").items()) if signed_in else ""
    head = (
        "POST /new HTTP/1.1\r\nHost: form\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: 300000000\r\n{auth}\r\n"
    ).encode()
    answer = raw_request(served.port, head)
    status, _, body = answer.partition(b"\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 413"), answer[:200]
    assert "提交的内容太大" in body.decode("utf-8") and "512 KB" in body.decode("utf-8")


def push_body(port: int, head: bytes, piece: bytes, total: int) -> int:
    """Send ``head`` then ``piece`` repeatedly up to ``total`` bytes; how many the server took before cutting it off."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(head)
        try:
            while sent < total:
                sock.sendall(piece)
                sent += len(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass
    return sent


@pytest.mark.timeout(180)
@pytest.mark.parametrize("chunked", [False, True])
def test_a_300_mb_body_is_cut_off_and_the_server_stays_small(default_form, chunked):
    served = default_form
    total, piece = 300 * 1024 * 1024, b"a" * 65536
    if chunked:
        head = b"POST /new HTTP/1.1\r\nHost: form\r\nTransfer-Encoding: chunked\r\n\r\n"
        piece = b"10000\r\n" + piece + b"\r\n"
    else:
        head = f"POST /new HTTP/1.1\r\nHost: form\r\nContent-Length: {total}\r\n\r\n".encode()
    sent = push_body(served.port, head, piece, total)
    assert sent < 50 * 1024 * 1024, f"the server took {sent} bytes of a body over its limit"
    assert served.get("/healthz").status == 200
    assert served.peak_memory_kb() < 250 * 1024


@pytest.mark.timeout(120)
def test_a_client_that_sends_the_whole_refused_body_still_reads_the_chinese_413(form_repo, make_app, live):
    """As a browser does: the whole body first, then the answer. Ten times, as a reset is a matter of timing."""
    port = live(make_app(form_repo, start_worker=False))
    body = b"content=" + b"%E9%95%BF" * 200_000  # 1.8 MB: 长 two hundred thousand times
    for _ in range(10):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        headers = {**proxy_headers("zhao"), "Content-Type": "application/x-www-form-urlencoded"}
        connection.request("POST", "/new", body=body, headers=headers)
        response = connection.getresponse()
        assert response.status == 413 and "512 KB" in response.read().decode("utf-8")
        connection.close()


def test_serve_refuses_to_start_when_the_system_allows_too_few_open_files(form_repo, tmp_path):
    """500 connections need about 1,100 descriptors; under a hard limit of 300 the service says so and stops."""
    command = f"ulimit -n 300 && ulimit -Hn 300 && exec {sys.executable} {PROJECT / 'build.py'} --root {form_repo}"
    command += f" serve --port {free_port()} --data {tmp_path / 'data'}"
    done = subprocess.run(
        ["bash", "-c", command],
        env={**os.environ, "LIAISON_PROXY_SECRET": PROXY_SECRET},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "web.limits.connections 为 500" in done.stderr and "系统只允许 300 个" in done.stderr
