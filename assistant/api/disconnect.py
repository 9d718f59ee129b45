"""Work that stops when the client goes away.

uvicorn does not cancel a handler whose client disconnected before the response started; the
handler learns of it only from an ``http.disconnect`` message on ``receive``. ``until_disconnect``
watches for it while the work runs and cancels the work (and with it a model request, or a search
through its cancel flag) when it comes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

from litestar import Request

from assistant.errors import AssistantError

T = TypeVar("T")


async def until_disconnect(request: Request[Any, Any, Any], work: Awaitable[T]) -> T:
    """Run ``work``, cancelling it if the client goes away first."""
    task = asyncio.ensure_future(work)

    async def disconnected() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    watcher = asyncio.ensure_future(disconnected())
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        task.cancel()
        raise
    finally:
        watcher.cancel()
    if not task.done():
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        raise AssistantError("invalid_request", "the client closed the connection before the answer was ready")
    return task.result()
