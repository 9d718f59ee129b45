"""Work that stops when the client goes away.

uvicorn does not cancel a handler whose client disconnected before the response started; the
handler learns of it only from an ``http.disconnect`` message on ``receive``. ``until_disconnect``
watches for it while the work runs and cancels the work (and with it a model request, or a search
through its cancel flag) when it comes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import Any, TypeVar

from assistant.errors import AssistantError

from .envelope import Req

T = TypeVar("T")


async def until_disconnect(request: Req, work: Awaitable[T], stop: asyncio.Event | None = None) -> T:
    """Run ``work``, cancelling it if the client goes away first, or when ``stop`` is set (the
    server is shutting down: the client then gets an ``internal_error`` answer in its route
    family's shape instead of a bare 500)."""
    task = asyncio.ensure_future(work)

    async def disconnected() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    watchers: set[asyncio.Future[Any]] = {asyncio.ensure_future(disconnected())}
    if stop is not None:
        watchers.add(asyncio.ensure_future(stop.wait()))
    try:
        await asyncio.wait({task, *watchers}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        task.cancel()
        raise
    finally:
        for watcher in watchers:
            watcher.cancel()
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if stop is not None and stop.is_set():
            raise AssistantError("internal_error", "the server is shutting down; the request was not finished")
        raise AssistantError("invalid_request", "the client closed the connection before the answer was ready")
    return task.result()
