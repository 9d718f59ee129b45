"""How the server runs under uvicorn: limits that keep idle or abusive connections from
exhausting the process.

- A connection that sends nothing is closed after ``IDLE_SECONDS`` (uvicorn times out idle
  keep-alive connections, but not one that never sent a request: 20,000 of those exhausted the
  file descriptors).
- A request head (request line and headers) must be complete within ``HEAD_SECONDS`` of its first
  byte, as Go's ``ReadHeaderTimeout`` and nginx's ``client_header_timeout`` do: 1,000 connections
  that sent a request line and one header, then nothing, held every slot until they gave up.
- ``limit_concurrency``: past it uvicorn answers 503 at once instead of taking more work.
- The descriptor limit is raised to the hard limit, and the accept loop's "out of system
  resource" error, which asyncio logs with a traceback on every failed accept, is logged at most
  once every ``ACCEPT_LOG_SECONDS``.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import resource
import socket
import time
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

IDLE_SECONDS = 5
HEAD_SECONDS = 10
SHUTDOWN_GRACE_SECONDS = 0.5  # Ctrl-C: open streams end at once; a request still being sent is cut
MAX_CONNECTIONS = 1000
ACCEPT_LOG_SECONDS = 10.0


class IdleTimeoutProtocol(H11Protocol):
    """uvicorn's h11 protocol, with the keep-alive timer armed from the moment a connection is
    made (one that never sends a request is closed like an idle keep-alive connection), and a
    request head that has begun but not ended within ``HEAD_SECONDS`` closing the connection."""

    head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive, self.timeout_keep_alive_handler)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        waiting_for_head = self.conn.their_state is h11.IDLE and bool(self.conn.trailing_data[0])
        if waiting_for_head and self.head_timer is None:
            self.head_timer = self.loop.call_later(HEAD_SECONDS, self.head_timeout)
        elif not waiting_for_head and self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def head_timeout(self) -> None:
        self.head_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None
        super().connection_lost(exc)


class ShutdownCancelFilter(logging.Filter):
    """A request still waiting for its body when Ctrl-C's grace period ends is cancelled, and
    uvicorn logs that as an exception with a traceback: it is no error, one line says it."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, asyncio.CancelledError) and "graceful shutdown" in str(exc):
            record.msg, record.args, record.exc_info, record.levelno, record.levelname = (
                "a request still open at shutdown was closed",
                None,
                None,
                logging.INFO,
                "INFO",
            )
        return True


class AcceptErrorFilter(logging.Filter):
    """Let one accept-loop resource error through per interval; drop the rest."""

    def __init__(self, interval: float = ACCEPT_LOG_SECONDS) -> None:
        super().__init__()
        self.interval = interval
        self._last = -interval
        self._dropped = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if "socket.accept() out of system resource" not in record.getMessage():
            return True
        now = time.monotonic()
        if now - self._last < self.interval:
            self._dropped += 1
            return False
        self._last = now
        if self._dropped:
            record.msg = f"{record.msg} ({self._dropped} more since the last report)"
            self._dropped = 0
        record.exc_info = None  # one line, not a traceback per failed accept
        return True


def port_in_use(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on (another server has it), or ``None``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT is no obstacle
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return "another program is listening on it"
            return None  # another problem: uvicorn's own message says it
    return None


def raise_descriptor_limit() -> int:
    """Raise the soft limit on open files to the hard limit; returns the limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


def uvicorn_config(app: Any, host: str, port: int, **options: Any) -> uvicorn.Config:
    """The uvicorn configuration every way of serving the app uses (the CLI and the tests)."""
    files = raise_descriptor_limit()
    asyncio_log = logging.getLogger("asyncio")
    if not any(isinstance(f, AcceptErrorFilter) for f in asyncio_log.filters):
        asyncio_log.addFilter(AcceptErrorFilter())
    uvicorn_log = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, ShutdownCancelFilter) for f in uvicorn_log.filters):
        uvicorn_log.addFilter(ShutdownCancelFilter())
    settings: dict[str, Any] = {
        "http": IdleTimeoutProtocol,
        "proxy_headers": False,
        "server_header": False,
        "timeout_keep_alive": IDLE_SECONDS,
        "limit_concurrency": max(64, min(MAX_CONNECTIONS, files // 2)),
        "log_config": None,
    }
    settings.update(options)
    return uvicorn.Config(app, host=host, port=port, **settings)
