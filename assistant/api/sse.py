"""Server-sent events, framed by hand: one ``data: <json>`` line and an empty line per event,
lines ending in ``\\n`` (Litestar's ServerSentEvent ends them in ``\\r\\n``, which breaks clients
that split on ``\\n``), keepalive comments while the source is silent, ``[DONE]`` at the end."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
from litestar.response import Stream
from litestar.response.base import ASGIResponse

from assistant.chat import events as ev
from assistant.errors import AssistantError

from .envelope import CLIENT_GONE, encode

log = logging.getLogger("assistant.api.sse")

DONE = b"data: [DONE]\n\n"
KEEPALIVE = b": keepalive\n\n"
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def sse(event: Any) -> bytes:
    """One event: a single ``data:`` line (JSON never contains a raw newline)."""
    return b"data: " + encode(event) + b"\n\n"


def log_failure(request_id: str, code: str, message: str) -> None:
    """A chat that failed, in the log at warning with its request id (the client saw the same)."""
    log.warning("chat %s failed: %s (%s)", request_id or "-", message, code)


def error_event(code: str, message: str) -> bytes:
    return sse({"type": "error", "error": {"code": code, "message": message}})


_END = object()
CLOSE_GRACE_SECONDS = 5.0  # how long a closing stream waits for its upstream to close


async def with_keepalive(
    source: AsyncIterator[bytes], interval: float, stop: asyncio.Event | None = None, stopped: bytes | None = None
) -> AsyncIterator[bytes]:
    """Pass ``source`` through, adding a keepalive comment after every ``interval`` of silence.

    The source runs in its own task feeding a small queue, so a busy stream costs a queue hand-off
    per frame and a timer only when the queue is empty. Cancelling this generator (the client went
    away) cancels that task, which closes the source and whatever upstream request feeds it. When
    ``stop`` is set (the server is shutting down) the stream ends cleanly with an error event
    (``stopped``, in the route family's shape; ours by default) and ``[DONE]``.
    """
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=64)

    async def pump() -> None:
        try:
            async for item in source:
                await queue.put(item)
        except Exception as exc:  # handed to the consumer, which re-raises it
            await queue.put(exc)
            return
        finally:
            closer = getattr(source, "aclose", None)
            if closer is not None:
                # shielded: the server's cancel scope would otherwise interrupt the close of the
                # upstream request, leaving it open after the client went away
                with anyio.CancelScope(shield=True):
                    await closer()
        await queue.put(_END)

    producer = asyncio.ensure_future(pump())
    stopping = asyncio.ensure_future(stop.wait()) if stop is not None else None
    getter: asyncio.Future[Any] | None = None
    try:
        while True:
            if not queue.empty():
                item = queue.get_nowait()
            else:
                getter = asyncio.ensure_future(queue.get())
                waiting: set[asyncio.Future[Any]] = {getter} if stopping is None else {getter, stopping}
                done, _ = await asyncio.wait(waiting, timeout=interval, return_when=asyncio.FIRST_COMPLETED)
                if getter not in done:
                    getter.cancel()
                    if stopping is not None and stopping in done:
                        yield stopped or error_event(
                            "internal_error", "the server is shutting down; the stream was closed"
                        )
                        yield DONE
                        return
                    yield KEEPALIVE
                    continue
                item = getter.result()
            if item is _END:
                return
            if isinstance(item, Exception):
                raise item
            yield item
    finally:
        # the client left while we waited: nothing will read the queue again
        for task in (producer, stopping, getter):
            if task is not None and not task.done():
                task.cancel()
        with anyio.move_on_after(CLOSE_GRACE_SECONDS, shield=True):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await producer


class EventStream(Stream):
    """A stream of server-sent events, always sent as ``text/event-stream``: Litestar would give
    a stream the media type of its route, JSON for a handler that can also answer with JSON."""

    def to_asgi_response(self, *args: Any, **kwargs: Any) -> ASGIResponse:
        kwargs["media_type"] = self.media_type
        return super().to_asgi_response(*args, **kwargs)


def sse_stream(
    events: AsyncIterator[bytes],
    keepalive_seconds: float,
    stop: asyncio.Event | None = None,
    stopped: bytes | None = None,
) -> Stream:
    return EventStream(
        with_keepalive(events, keepalive_seconds, stop, stopped), media_type="text/event-stream", headers=HEADERS
    )


class ChunkWriter:
    """OpenAI ``chat.completion.chunk`` frames of one response, for ``/api/v1`` and ``/v1``
    alike: one ``id`` and ``created``, the role in the first delta; a usage chunk (``/v1``'s
    ``stream_options.include_usage``) has no choices."""

    def __init__(self, model: str | None) -> None:
        self.id = "chatcmpl-" + secrets.token_hex(12)
        self.created = int(time.time())
        self.model = model
        self.role_sent = False

    def chunk(self, delta: dict[str, Any], finish: str | None = None, usage: dict[str, int] | None = None) -> bytes:
        if not self.role_sent and finish is None and usage is None:
            delta = {"role": "assistant", **delta}
            self.role_sent = True
        body: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [] if usage is not None else [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        if usage is not None:
            body["usage"] = usage
        return sse(body)


class ChatStream(ChunkWriter):
    """Turns the agent's events into the chat SSE protocol (docs/api.md): the answer's chunks,
    ``tool_call`` events where they happen, the finish chunk, ``done`` with usage, then
    ``[DONE]``; an ``error`` event (then ``[DONE]``) for a failure after the stream began."""

    def __init__(self, model: str | None, request_id: str = "") -> None:
        super().__init__(model)
        self.request_id = request_id

    def frames(self, event: ev.Event) -> list[bytes]:
        if isinstance(event, ev.ContentDelta):
            return [self.chunk({"content": event.text})]
        if isinstance(event, (ev.ToolStarted, ev.ToolFinished)):
            return [sse(tool_event(event))]
        if isinstance(event, ev.Done):
            out = [] if self.role_sent else [self.chunk({})]
            out.append(self.chunk({}, event.finish_reason))
            done: dict[str, Any] = {"type": "done", "usage": event.usage.to_dict()}
            if event.rounds_exhausted:
                done["rounds_exhausted"] = True
            done.update(event.extra)
            out.append(sse(done))
            return out
        if isinstance(event, ev.Status):
            status: dict[str, Any] = {"type": "status", "state": event.state, "round": event.round}
            if event.tool is not None:
                status["tool"] = event.tool
            status["timestamp"] = event.timestamp
            return [sse(status)]
        if isinstance(event, ev.ContextGiven):
            return [sse({"type": "context", "parts": event.parts, "tokens": event.tokens})]
        log_failure(self.request_id, event.code, event.message)
        return [error_event(event.code, event.message)]

    def render(self, events: AsyncIterator[ev.Event]) -> AsyncIterator[bytes]:
        async def frames() -> AsyncIterator[bytes]:
            async for event in events:
                for frame in self.frames(event):
                    yield frame

        return finished(frames(), events)


async def finished(frames: AsyncIterator[bytes], source: Any) -> AsyncIterator[bytes]:
    """Pass ``frames`` through and end the stream properly whatever happens: a failure after the
    stream began becomes an error event (an exception here would only truncate the response),
    the upstream ``source`` is closed, and ``[DONE]`` comes last."""
    try:
        async for frame in frames:
            yield frame
    except AssistantError as exc:
        yield error_event(exc.code, exc.message)
    except CLIENT_GONE as exc:
        log.debug("the client went away: %r", exc)
    except Exception:
        log.exception("stream failed")
        yield error_event("internal_error", "an unexpected error occurred; the server log has the details")
    finally:
        closer = getattr(source, "aclose", None)
        if closer is not None:
            await closer()
    yield DONE


def tool_event(event: ev.ToolStarted | ev.ToolFinished) -> dict[str, Any]:
    """A ``tool_call`` event; a finished call carries its result as the model saw it (cut at 8 KB)."""
    out: dict[str, Any] = {"type": "tool_call", "id": event.id, "name": event.name}
    if isinstance(event, ev.ToolStarted):
        out.update(status="started", arguments=event.arguments, timestamp=event.timestamp)
        return out
    content, cut = ev.cut_bytes(event.content, ev.SHOWN_RESULT_BYTES)
    out.update(
        status=event.status,
        arguments=event.arguments,
        timestamp=event.timestamp,
        duration_ms=event.duration_ms,
        summary=event.summary,
        result={"content": content, "truncated": event.truncated or cut},
    )
    if event.error:
        out["error"] = event.error
    return out
