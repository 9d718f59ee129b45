"""Bounded thread pools ("lanes") for blocking work started by requests.

Work that takes milliseconds (ranked and symbol searches, repository maps, system prompts) has a
lane of its own, so it never waits behind scans of every file (text and regex searches, which
can take a second each on a large repository); tool calls (the chat loop, ``/tools/call``,
``/mcp``) have a third. None of them is the event loop's default pool, which file reads, health
checks and chats use. The scan lane refuses work (429 ``server_busy``, with ``Retry-After``)
once four searches a thread wait in it, instead of making every caller wait longer.
Work in a lane is bounded by its own deadline, and ``run_in`` sets a cancel flag when the
awaiting request goes away, which the work checks between files.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from assistant.errors import AssistantError

T = TypeVar("T")
RETRY_AFTER_SECONDS = 2


class Lane:
    """A thread pool that knows how much work waits in it."""

    def __init__(self, name: str, threads: int, max_waiting: int | None = None) -> None:
        self.name = name
        self.threads = threads
        self.max_waiting = max_waiting
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=name)
        self._lock = threading.Lock()
        self.waiting = 0  # submitted and not started yet

    def submit(self, fn: Callable[[], T]) -> asyncio.Future[T]:
        """Queue ``fn`` at once, or refuse it (429) while the lane's queue is full."""
        with self._lock:
            if self.max_waiting is not None and self.waiting >= self.max_waiting:
                raise AssistantError(
                    "server_busy",
                    f"{self.waiting} requests wait for the {self.name} lane already; retry in a moment",
                    headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
                )
            self.waiting += 1
        waits = [True]  # until the work starts, or is cancelled before it could

        def stop_waiting() -> None:
            with self._lock:
                if waits[0]:
                    waits[0] = False
                    self.waiting -= 1

        def started() -> T:
            stop_waiting()
            return fn()

        future = asyncio.get_running_loop().run_in_executor(self.pool, started)
        future.add_done_callback(lambda _: stop_waiting())
        return future


QUICK = Lane("quick", 2)  # ranked and symbol searches, maps, system prompts: milliseconds
SCANS = Lane("scan", 2, max_waiting=2 * 4)  # text and regex: every file; one a core
TOOLS = Lane("tool", 8)


def start(
    lane: Lane, fn: Callable[..., T], /, *args: Any, cancel: threading.Event | None = None, **kwargs: Any
) -> Awaitable[T]:
    """Queue ``fn`` in ``lane`` now (refused with 429 when the lane is full); awaiting the result,
    a caller that is cancelled sets ``cancel`` so the work stops early."""
    future = lane.submit(functools.partial(fn, *args, **kwargs))

    async def result() -> T:
        try:
            return await future
        except asyncio.CancelledError:
            if cancel is not None:
                cancel.set()
            raise

    return result()


async def run_in(
    lane: Lane, fn: Callable[..., T], /, *args: Any, cancel: threading.Event | None = None, **kwargs: Any
) -> T:
    """Run ``fn`` in ``lane`` (see ``start``)."""
    return await start(lane, fn, *args, cancel=cancel, **kwargs)
