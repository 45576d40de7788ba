"""Loopback ports for servers a test starts as processes, and whether the process started really holds one.

A port picked by binding to 0 and closing is free only at that moment: the
three workers start servers at once, and the kernel may hand the same number
to another worker's server (or to this test's own next bind to 0) before ours
binds it. Then "something answers on the port" is no sign that ours started:
nginx, which had bound its first port and was still retrying its second, took
a test's TLS handshake into its backlog and reset it when it gave up. So a
test waits until the listening socket belongs to its own process, read from
/proc (Linux), and starts again on new ports when the process gives up.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterable
from pathlib import Path


def free_port(taken: Iterable[int] = ()) -> int:
    """A loopback port nothing listens on now, and none of ``taken`` (the ports this test already uses)."""
    taken = set(taken)
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port not in taken:
            return port


def _listening_inodes(port: int) -> set[str]:
    """The inodes of the sockets listening on TCP ``port`` (IPv4 and IPv6), from /proc/net."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(f"socket:[{inode}]")
    return inodes


def _socket_inodes(pid: int) -> set[str]:
    """The sockets process ``pid`` holds open (``socket:[inode]``), from its file descriptors."""
    folder = f"/proc/{pid}/fd"
    try:
        names = os.listdir(folder)
    except OSError:  # the process is gone
        return set()
    held = set()
    for name in names:
        with contextlib.suppress(OSError):  # closed meanwhile
            target = os.readlink(f"{folder}/{name}")
            if target.startswith("socket:"):
                held.add(target)
    return held


def listens(pid: int, port: int) -> bool:
    """Whether process ``pid`` holds a socket listening on ``port`` (not another process that took the port).

    The process's own descriptors are read first: while it starts it holds no socket, and the tables of
    /proc/net (every socket of the machine, thousands late in a run) are read only once it holds one.
    """
    held = _socket_inodes(pid)
    return bool(held) and not held.isdisjoint(_listening_inodes(port))


def healthz(port: int) -> int:
    """The status of ``GET /healthz`` on the loopback ``port`` (OSError while nothing answers)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/healthz")
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def start_server(
    command_for: Callable[[int], list[str]],
    log_path: Path,
    env: dict,
    ready: Callable[[int], bool] = lambda port: True,
    timeout: float = 60,
) -> tuple[subprocess.Popen, int]:
    """(process, port): ``command_for(port)`` started on a free port, once it holds the port and ``ready(port)``.

    What it writes goes to ``log_path`` (appended). When it exits saying that its port is in use (another
    server took the port first), it starts again on a new one, five times at most; when it exits for any other
    reason, or is not ready within ``timeout``, the test fails with what this start wrote.
    """
    for _attempt in range(5):
        port = free_port()
        offset = log_path.stat().st_size if log_path.exists() else 0
        with open(log_path, "ab") as log:
            process = subprocess.Popen(command_for(port), env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                with open(log_path, "rb") as log:
                    log.seek(offset)
                    said = log.read().decode("utf-8", "replace")
                if f":{port} " in said and "Address already in use" in said:
                    break  # its port was taken: a new one
                raise AssertionError(f"the server exited ({process.returncode}): {said}")
            with contextlib.suppress(OSError):  # OSError: not answering yet
                if listens(process.pid, port) and ready(port):
                    return process, port
            if time.monotonic() > deadline:
                process.kill()
                process.wait(timeout=30)
                raise AssertionError(f"the server was not ready within {timeout:g} s: {log_path.read_text()}")
            time.sleep(0.05)  # ask again shortly, not in a tight loop (a tight loop cost 0.4 s of CPU a start)
    raise AssertionError(f"the server found its port taken five times over: {log_path.read_text()}")
