"""The workspace event bus: what happened in the server (an index built, files changed, the model
server went down, a conversation was made), for ``GET /api/v1/events``.

Any thread publishes; each event gets the next id and a timestamp and goes into a ring of the
last ``RING`` events (for ``Last-Event-ID`` resume) and into every subscriber's own bounded queue.
A subscriber that falls behind is never waited for: its queue is emptied and it gets an
``events.reset`` event next, then the stream goes on. Nothing here knows HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

RING = 1000  # events kept for resuming
QUEUE = 256  # events a subscriber may have waiting before it is reset
MAX_SUBSCRIBERS = 64


@dataclass(frozen=True)
class Event:
    id: int
    type: str
    body: dict[str, Any]  # ``type`` and ``ts`` first, then the event's own fields


@dataclass(eq=False)
class Subscriber:
    """One client's queue; ``wait`` returns its next events (or a reset)."""

    bus: EventBus
    loop: asyncio.AbstractEventLoop
    pending: deque[Event] = field(default_factory=deque)
    reset: bool = False
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    def offer(self, event: Event) -> None:
        """Called in the subscriber's loop."""
        if self.reset:
            return  # the reset event says everything before now was missed
        if len(self.pending) >= QUEUE:
            self.pending.clear()
            self.reset = True
        else:
            self.pending.append(event)
        self.wake.set()

    async def next(self, timeout: float) -> list[Event] | None:
        """The events waiting (after ``timeout`` with none: an empty list); None means reset."""
        if not self.pending and not self.reset:
            self.wake.clear()
            try:
                await asyncio.wait_for(self.wake.wait(), timeout)
            except TimeoutError:
                return []
        if self.reset:
            self.reset = False
            return None
        out = list(self.pending)
        self.pending.clear()
        return out

    def close(self) -> None:
        self.bus.unsubscribe(self)


class TooManySubscribers(Exception):
    pass


class EventBus:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ring: deque[Event] = deque(maxlen=RING)
        self._next = 1
        self._subscribers: set[Subscriber] = set()

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    @property
    def last_id(self) -> int:
        return self._next - 1

    def publish(self, type_: str, **fields: Any) -> Event:
        """Publish from any thread; never blocks on a subscriber."""
        with self._lock:
            event = Event(self._next, type_, {"type": type_, "ts": round(time.time(), 3), **fields})
            self._next += 1
            self._ring.append(event)
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            with contextlib.suppress(RuntimeError):  # its loop is closed: it is going away
                subscriber.loop.call_soon_threadsafe(subscriber.offer, event)
        return event

    def subscribe(self, last_id: int | None = None) -> tuple[Subscriber, list[Event], bool]:
        """A new subscriber (in the running loop), the events after ``last_id`` it missed, and
        whether some it asked for are gone from the ring (it must start over: a reset)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if len(self._subscribers) >= MAX_SUBSCRIBERS:
                raise TooManySubscribers
            subscriber = Subscriber(self, loop)
            self._subscribers.add(subscriber)
            missed: list[Event] = []
            gone = False
            if last_id is not None:
                missed = [e for e in self._ring if e.id > last_id]
                oldest = self._ring[0].id if self._ring else self._next
                gone = last_id + 1 < oldest and last_id < self._next - 1
        return subscriber, missed, gone

    def unsubscribe(self, subscriber: Subscriber) -> None:
        with self._lock:
            self._subscribers.discard(subscriber)
