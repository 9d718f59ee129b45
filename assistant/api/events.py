"""GET /api/v1/events: the workspace's events as server-sent events (see ``assistant.bus``).

Each event is ``id: N`` and one ``data:`` line of ``{"type", "ts", …}``; ``: keepalive``
comments while nothing happens, as in the chat stream. ``Last-Event-ID`` (the header a browser's
EventSource sends when it reconnects, or ``?last_event_id=``) resumes after that event from the
ring of the last 1,000; when some of those are gone the stream starts with ``events.reset``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from litestar import get
from litestar.params import QueryParameter
from litestar.response import Stream

from assistant.bus import MAX_SUBSCRIBERS, Event, TooManySubscribers
from assistant.errors import AssistantError

from .envelope import Req, Svc, encode
from .sse import HEADERS, KEEPALIVE, EventStream


def frame(event: Event) -> bytes:
    return b"id: " + str(event.id).encode() + b"\ndata: " + encode(event.body) + b"\n\n"


def reset_frame(bus_last: int) -> bytes:
    body = {"type": "events.reset", "reason": "events were missed; read the state again", "last_id": bus_last}
    return b"data: " + encode(body) + b"\n\n"


# not in the OpenAPI document: a stream that never ends by itself (a conformance run would wait on
# it forever); docs/api.md describes it
@get(
    "/events",
    summary="The workspace's events (server-sent events): index, files, model server, conversations",
    include_in_schema=False,
)
async def get_events(
    request: Req,
    svc: Svc,
    last_event_id: Annotated[
        int | None, QueryParameter(ge=0, description="resume after this event (the Last-Event-ID header wins)")
    ] = None,
) -> Stream:
    header = request.headers.get("last-event-id")
    after = last_event_id
    if header is not None:
        try:
            after = int(header.strip())
        except ValueError:
            raise AssistantError(
                "invalid_parameter", "Last-Event-ID must be an event id (an integer)", param="Last-Event-ID"
            ) from None
    busy = AssistantError(
        "server_busy", f"at most {MAX_SUBSCRIBERS} clients may follow the events at once", headers={"Retry-After": "5"}
    )
    if svc.events.subscribers >= MAX_SUBSCRIBERS:
        raise busy
    keepalive = svc.settings.keepalive_seconds
    stopping = svc.stopping

    async def frames() -> AsyncIterator[bytes]:
        # subscribed when the stream starts: a client gone before that never holds a queue
        try:
            subscriber, missed, gone = svc.events.subscribe(after)
        except TooManySubscribers:  # taken meanwhile by another client
            yield b"data: " + encode({"type": "error", "error": {"code": busy.code, "message": busy.message}}) + b"\n\n"
            return
        try:
            yield b": connected\n\n"
            if gone:
                yield reset_frame(svc.events.last_id)
            for event in missed:
                yield frame(event)
            while stopping is None or not stopping.is_set():
                batch = await subscriber.next(keepalive)
                if batch is None:
                    yield reset_frame(svc.events.last_id)
                elif not batch:
                    yield KEEPALIVE
                else:
                    yield b"".join(frame(event) for event in batch)
        finally:
            subscriber.close()

    return EventStream(frames(), media_type="text/event-stream", headers=HEADERS)
