"""Whether the model server is up, known without waiting on it.

``/health`` and ``/status`` answer from ``backend.reach`` (what the last exchange said: a request,
a chunk of an answer, a probe). Each call starts a probe when none is running and waits for it a
short while (``HEALTH_WAIT``): a model server that answers at once is reported as it is now; one
busy generating (llama.cpp answers nothing else meanwhile) is reported from what the server knows,
and a probe that times out while answers stream says ``busy``, not down. A background task probes
every ``INTERVAL`` seconds (``DOWN_INTERVAL`` while it is down), so a change is seen without any
client asking.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from assistant.backends import ModelBackend, ModelInfo, Reachability
from assistant.errors import BackendError

HEALTH_WAIT = 0.1  # how long /health waits for a probe before answering from what it knows
PROBE_SECONDS = 3.0  # a probe's own timeout (the request timeout when that is shorter)
INTERVAL = 15.0
DOWN_INTERVAL = 5.0
WATCHED_INTERVAL = 2.0  # while clients follow the event stream: they hear of a change within this


class ModelServerWatch:
    """Probes of one backend (see the module docstring)."""

    def __init__(self, backend: ModelBackend) -> None:
        self.backend = backend
        self.timeout = min(PROBE_SECONDS, backend.timeouts.request)
        self._probe: asyncio.Task[None] | None = None
        self._runner: asyncio.Task[None] | None = None
        self._listing: asyncio.Task[None] | None = None
        self._models: list[ModelInfo] = []  # what the server listed last
        self.watched: Callable[[], bool] = lambda: False  # someone follows the event stream

    async def _list(self) -> None:
        with contextlib.suppress(BackendError):
            self._models = await self.backend.list_models()

    async def known_models(self, wait: float = HEALTH_WAIT) -> list[ModelInfo]:
        """The installed models: listed now if the server answers within ``wait``, else what it
        listed last (the listing goes on in the background)."""
        if self._listing is None or self._listing.done():
            self._listing = asyncio.ensure_future(self._list())
        await asyncio.wait({self._listing}, timeout=wait)
        return self._models

    @property
    def reach(self) -> Reachability:
        return self.backend.reach

    async def _probe_once(self) -> None:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout):
                version = await self.backend.version()
        except TimeoutError:
            self.reach.failed(BackendError("ollama_timeout", f"{self.backend.display_name} did not answer in time"))
        except BackendError:
            pass  # noted in reach by the backend
        else:
            self.reach.succeeded(round((time.perf_counter() - started) * 1000, 1), version)

    def probe(self) -> asyncio.Task[None]:
        """The probe running now, or a new one."""
        if self._probe is None or self._probe.done():
            self._probe = asyncio.ensure_future(self._probe_once())
        return self._probe

    async def current(self, wait: float = HEALTH_WAIT) -> Reachability:
        """What is known, after waiting at most ``wait`` for a fresh probe (for the whole probe
        while nothing is known yet)."""
        await asyncio.wait({self.probe()}, timeout=wait if self.reach.status != "unknown" else None)
        return self.reach

    def start(self) -> None:
        """Probe in the background from now on (called in the event loop)."""

        async def forever() -> None:
            while True:
                await asyncio.shield(self.probe())
                up = self.reach.status in ("connected", "busy")
                await asyncio.sleep(WATCHED_INTERVAL if self.watched() else INTERVAL if up else DOWN_INTERVAL)

        self._runner = asyncio.ensure_future(forever())

    async def stop(self) -> None:
        for task in (self._runner, self._probe, self._listing):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
