"""The conversation store as the event loop uses it: never on the loop.

Every call runs in a thread of the store's own pool (not the loop's, not the search pool's), so a
slow query holds up no other request, stream or health check. A caller that is cancelled (its
client went away) stops the query it started at its next step. A store that could not be opened,
or that fails at run time (a full disk, a damaged file), answers ``conversations_unavailable``
with the reason until a write succeeds again; ``probe`` tries one in the background.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Literal, TypeVar

import anyio

from assistant.errors import AssistantError, StoreUnavailable

from .base import ConversationStore

log = logging.getLogger("assistant.conversations")

T = TypeVar("T")
STORE_THREADS = 2  # a long search on one, turns still written on the other
PROBE_SECONDS = 5.0  # how often a failed store is tried again, at most


class Conversations:
    """The store (or why there is none), reached from the event loop."""

    def __init__(self, store: ConversationStore | None, error: str | None = None) -> None:
        """``error``: why the store on disk could not be opened (``store`` is then one in
        memory, or none)."""
        self.store = store
        self.open_error = error
        self._pool = ThreadPoolExecutor(max_workers=STORE_THREADS, thread_name_prefix="store")
        self._last_probe = 0.0
        self._probing = False
        self.busy: Counter[str] = Counter()  # conversations with turns streaming now, and how many
        self.count_cached: int | None = None  # conversations stored, as last counted (for /metrics)

    @property
    def status(self) -> Literal["ok", "memory", "unavailable"]:
        """``memory``: the file could not be opened, so conversations last until the server stops."""
        if self.store is None or self.store.failure is not None:
            return "unavailable"
        return "memory" if self.open_error is not None else "ok"

    @property
    def error(self) -> str | None:
        if self.store is None:
            return self.open_error or "no store"
        if self.store.failure is not None:
            return self.store.failure
        if self.open_error is not None:
            return f"{self.open_error}; conversations are kept in memory until the server stops"
        return None

    async def run(self, work: Callable[[ConversationStore], T], *, interruptible: bool = True) -> T:
        """``work(store)`` in a store thread. When the caller is cancelled the work stops at its
        next step (``interruptible``) or is let finish (a turn being stored as its client leaves)."""
        store = self.store
        if store is None:
            raise StoreUnavailable(self.error or "no store")
        cancel = threading.Event()

        def call() -> T:
            with store.cancelled_by(cancel):
                return work(store)

        future = asyncio.get_running_loop().run_in_executor(self._pool, call)
        if not interruptible:
            # shielded twice: from the server's cancel scope, and from a task cancellation that
            # would otherwise cancel the work before a store thread took it up; a caller that is
            # cancelled still waits for the work to end, so what it does next follows it
            with anyio.CancelScope(shield=True):
                try:
                    return await asyncio.shield(future)
                except asyncio.CancelledError:
                    await asyncio.wait({future})
                    raise
        try:
            return await future
        except asyncio.CancelledError:
            cancel.set()
            raise

    def probe_soon(self) -> None:
        """When the store has failed, try a write in the background (at most every few seconds):
        the store recovers on its own once writes succeed again."""
        if self.store is None or self.store.failure is None or self._probing:
            return
        now = time.monotonic()
        if now - self._last_probe < PROBE_SECONDS:
            return
        self._last_probe = now
        self._probing = True
        store = self.store

        def probe() -> None:
            try:
                store.probe()
            except AssistantError:
                pass  # still failing: failure says why
            finally:
                self._probing = False

        self._pool.submit(probe)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        if self.store is not None:
            self.store.close()
