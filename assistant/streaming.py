"""Server-sent events, framed by hand: one ``data: <json>`` line and an empty line per event,
lines ending in ``\\n`` (Litestar's ServerSentEvent ends them in ``\\r\\n``, which breaks clients
that split on ``\\n``), keepalive comments while the source is silent, ``[DONE]`` at the end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from litestar.response import Stream

from assistant.api.envelope import encode

DONE = b"data: [DONE]\n\n"
KEEPALIVE = b": keepalive\n\n"
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def sse(event: Any) -> bytes:
    """One event: a single ``data:`` line (JSON never contains a raw newline)."""
    return b"data: " + encode(event) + b"\n\n"


def error_event(code: str, message: str) -> bytes:
    return sse({"type": "error", "error": {"code": code, "message": message}})


async def with_keepalive(
    source: AsyncIterator[bytes], interval: float, stop: asyncio.Event | None = None
) -> AsyncIterator[bytes]:
    """Pass ``source`` through, adding a keepalive comment after every ``interval`` of silence.

    Cancelling this generator (the client went away) cancels the pending read and closes the
    source, which closes whatever upstream request feeds it. When ``stop`` is set (the server
    is shutting down) the stream ends cleanly with an error event and ``[DONE]``.
    """
    iterator = source.__aiter__()
    pending: asyncio.Future[bytes] | None = None
    stopping = asyncio.ensure_future(stop.wait()) if stop is not None else None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(iterator.__anext__())
            waiting: set[asyncio.Future[Any]] = {pending} if stopping is None else {pending, stopping}
            done, _ = await asyncio.wait(waiting, timeout=interval, return_when=asyncio.FIRST_COMPLETED)
            if stopping is not None and stopping in done and pending not in done:
                yield error_event("internal_error", "the server is shutting down; the stream was closed")
                yield DONE
                return
            if not done:
                yield KEEPALIVE
                continue
            try:
                item = pending.result()
            except StopAsyncIteration:
                pending = None
                return
            pending = None
            yield item
    finally:
        if stopping is not None:
            stopping.cancel()
        if pending is not None and not pending.done():
            pending.cancel()
            try:
                await pending
            except (asyncio.CancelledError, StopAsyncIteration, Exception):
                pass
        closer = getattr(iterator, "aclose", None)
        if closer is not None:
            await closer()


def sse_stream(events: AsyncIterator[bytes], keepalive_seconds: float, stop: asyncio.Event | None = None) -> Stream:
    return Stream(with_keepalive(events, keepalive_seconds, stop), media_type="text/event-stream", headers=HEADERS)
