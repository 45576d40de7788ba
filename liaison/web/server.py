"""The form's HTTP server: waitress with limits, so slow or oversized clients cannot stop the service.

waitress reads every request in its one event loop and hands a request to a
thread only when it is whole, so a slow client costs a connection slot, not
a thread. Its defaults let a hundred slow clients take every slot
(``connection_limit`` 100) for as long as they trickle a byte now and then:
``channel_timeout`` counts silence, not slowness, and nothing bounds how long
one request may take to arrive. And a declared body up to 1 GB is read to
the end before the application can answer 401 or 413.

So, from ``web.limits`` (liaison.core.config.ServerLimits, docs/deploy.md):

* many slots (``connections``), watched with poll() (select() breaks past
  descriptor 1023), and ``backlog`` for the kernel's queue when they are full;
* a deadline waitress lacks: a connection that has sent part of a request
  must finish it within ``request_timeout`` seconds or is closed. It counts
  from the request's first byte, so neither a byte a second nor blank lines
  (which waitress parses as empty requests) renew it;
* ``max_request_body_size``: a Content-Length over ``max_body_kb`` gets 413
  as soon as the headers end, before one byte of the body is read; a chunked
  body is cut off at the same size while it arrives. What the client still
  sends after the 413 is dropped for a moment, so that it reads the answer
  (``_Channel``), then the connection is closed;
* ``max_request_header_size`` (431), ``channel_timeout`` for silent
  kept-alive connections, and bodies over 64 KB buffered on disk, not in memory;
* a connection whose answer moves no byte for ``channel_timeout`` is closed:
  waitress would wait for a client that never reads to become writable;
* waitress' own answers (400, 413, 431, 500) as a short Chinese page.
"""

from __future__ import annotations

import logging
import resource
import socket
import time

from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import MultiSocketServer, TcpWSGIServer
from waitress.task import ErrorTask, ThreadedTaskDispatcher

from liaison.core.config import ServerLimits

from .chinese import server_page

log = logging.getLogger("liaison.web")

CLEANUP_EVERY = 1  # seconds between sweeps for connections past their deadline
LINGER_SECONDS = 2  # after a 413: how long the rest of the refused body may still arrive (and be dropped)
LINGER_BYTES = 4 * 1024 * 1024  # and how much of it
LINGER_CHUNK = 65536
MEMORY_PER_BODY = 64 * 1024  # a body longer than this waits in a temporary file while it arrives


def adjustments(limits: ServerLimits, host: str, port: int, threads: int) -> dict:
    """waitress' settings (waitress.adjustments.Adjustments) for ``limits``."""
    return {
        "host": host,
        "port": port,
        "threads": threads,
        "ident": "liaison",
        "connection_limit": limits.connections,
        "backlog": limits.backlog,
        "channel_timeout": limits.idle_timeout,
        "cleanup_interval": CLEANUP_EVERY,
        # waitress refuses a body whose length is >= this; the form takes max_body_kb exactly.
        "max_request_body_size": limits.max_body_kb * 1024 + 1,
        "max_request_header_size": limits.max_header_kb * 1024,
        "inbuf_overflow": MEMORY_PER_BODY,
        "asyncore_use_poll": True,
    }


class _ChineseErrorTask(ErrorTask):
    """waitress' answer to a request it refuses itself, as a Chinese page (its own is English text)."""

    def execute(self):
        error = self.request.error
        body = server_page(error.code, self.channel.server.limits)
        self.status = f"{error.code} {error.reason}"
        self.response_headers.extend(
            [
                ("Content-Type", "text/html; charset=utf-8"),
                ("Content-Security-Policy", "default-src 'none'"),
                ("X-Content-Type-Options", "nosniff"),
                ("Cache-Control", "no-store"),
            ]
        )
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)
        if error.code == 413:
            self.channel.refused_body = True


class _Channel(HTTPChannel):
    """A connection that remembers when the request it is receiving began, and lingers after a 413.

    Lingering (as nginx's ``lingering_close``): a client still sending the
    body it was refused reads no answer if the connection is simply closed —
    the unread bytes make the kernel reset it, and the reset discards the
    413 on its way. So after the answer the connection stops writing and
    drops what still arrives, for at most LINGER_SECONDS and LINGER_BYTES,
    then closes. Nothing of it is kept.
    """

    error_task_class = _ChineseErrorTask
    receiving_since: float | None = None  # time.time() of the first byte not yet part of a served request
    refused_body = False  # a 413 went out while the body may still be on its way
    linger_until = 0.0  # while lingering: when to give up on the client (time.time())
    lingered = 0  # bytes dropped while lingering

    def received(self, data):
        if data and self.receiving_since is None:
            self.receiving_since = time.time()
        return super().received(data)

    def service(self):
        try:
            super().service()
        finally:
            self.receiving_since = None  # a request was served: the next one starts its own clock

    def readable(self):
        return True if self.linger_until else super().readable()

    def handle_read(self):
        if not self.linger_until:
            return super().handle_read()
        data = self.recv(LINGER_CHUNK)
        self.lingered += len(data)
        if not data or self.lingered > LINGER_BYTES or time.time() > self.linger_until:
            self.handle_close()

    def handle_close(self):
        if self.linger_until or not self.refused_body or not self.connected:
            return super().handle_close()
        try:
            self.socket.shutdown(socket.SHUT_WR)  # the answer is out; the client reads it to the end
        except OSError:
            return super().handle_close()
        self.linger_until = time.time() + LINGER_SECONDS
        self.will_close = self.close_when_flushed = False


class _Server(TcpWSGIServer):
    """waitress' TCP server with the request deadline (see the module's docstring)."""

    channel_class = _Channel
    limits = ServerLimits()

    def maintenance(self, now):
        super().maintenance(now)
        channels = list(self.active_channels.values())
        late = [
            channel
            for channel in channels
            if channel.receiving_since is not None
            and not channel.requests
            and now - channel.receiving_since > self.limits.request_timeout
        ]
        for channel in late + [c for c in channels if c.linger_until and now > c.linger_until]:
            channel.will_close = True
        # waitress marks a connection idle past channel_timeout to close, but closes it only once its socket can
        # be written. A client that never reads its answers (pipelined requests, a tiny receive window) keeps
        # the socket full, so the slot was its for good: an answer that moved no byte for as long is given up.
        stuck = [
            channel
            for channel in channels
            if channel.total_outbufs_len and now - channel.last_activity > self.adj.channel_timeout
        ]
        for channel in stuck:
            channel.handle_close()  # also wakes a task waiting for the answer to drain: it ends, its thread is free
        if stuck:
            log.warning("closed %d connection(s) that did not read their answers", len(stuck))
        if late:
            log.warning(
                "closed %d connection(s) that did not send a whole request within %d s",
                len(late),
                self.limits.request_timeout,
            )


def files_needed(limits: ServerLimits) -> int:
    """Descriptors the service may hold: a socket and a body's temporary file per connection, and some to spare."""
    return 2 * limits.connections + 100


def raise_file_limit(limits: ServerLimits) -> str:
    """Raise this process' open-file limit for ``limits``; '' when it is enough, else what to change (Chinese)."""
    needed = files_needed(limits)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        ceiling = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (ceiling, hard))
        soft = ceiling
    if soft != resource.RLIM_INFINITY and soft < needed:
        return (
            f"config.yaml 的 web.limits.connections 为 {limits.connections}，需要能同时打开约 {needed} 个文件，"
            f"但系统只允许 {soft} 个。请调低 connections，或提高上限（systemd 单元中的 LimitNOFILE、ulimit -n）。"
        )
    return ""


def create_server(app, host: str, port: int, threads: int, limits: ServerLimits):
    """A waitress server for ``app`` with ``limits``, listening but not yet running (call ``.run()``).

    ``host`` may name several addresses (``localhost``: IPv4 and IPv6); the
    server then listens on each, as waitress' own ``create_server`` does.
    """
    adj = Adjustments(**adjustments(limits, host, port, threads))
    dispatcher = ThreadedTaskDispatcher()
    dispatcher.set_thread_count(adj.threads)
    socket_map: dict = {}
    servers = []
    for sockinfo in adj.listen:
        server = _Server(app, socket_map, dispatcher=dispatcher, adj=adj, sockinfo=sockinfo)
        server.limits = limits
        servers.append(server)
    if len(servers) == 1:
        return servers[0]
    listening = [(s.effective_host, s.effective_port) for s in servers]
    return MultiSocketServer(socket_map, adj, listening, dispatcher, servers[-1].log_info)
