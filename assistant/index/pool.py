"""Parser processes: tree-sitter holds the GIL while it parses, so the index parses on every
core with worker processes (``assistant.procs``) running ``tags.serve``: batches of ``(path,
language, source)`` go out and ``tags.extract_batch``'s encoded tags come back. A worker that
dies (a grammar crashing on an odd file) fails its batch, which is reported with the reason, and
is replaced for the next one.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import NamedTuple

import msgspec

from assistant.procs import Worker, WorkerDied

from .tags import Batch

_encoder = msgspec.msgpack.Encoder()

__all__ = ["Outcome", "ParserPool", "WorkerDied"]


class Outcome(NamedTuple):
    batch: Batch
    tags: bytes | None  # encoded (see tags.decode_batch); None: the batch failed
    error: str = ""  # why it failed


class ParserPool:
    """``size`` workers, each started on first use, fed by one thread each from a shared queue."""

    def __init__(self, size: int) -> None:
        self._todo: queue.SimpleQueue[Batch | None] = queue.SimpleQueue()
        self._done: queue.SimpleQueue[Outcome] = queue.SimpleQueue()
        self._pending = 0
        self._stopping = False
        self._workers: list[Worker | None] = [None] * size
        self._threads = [
            threading.Thread(target=self._feed, args=(i,), name=f"parser-{i}", daemon=True) for i in range(size)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, batch: Batch) -> None:
        """Queue a batch (from the thread that reads ``results``, which may submit more)."""
        self._pending += 1
        self._todo.put(batch)

    def results(self) -> Iterator[Outcome]:
        """The outcome of every submitted batch, as they finish."""
        while self._pending:
            item = self._done.get()
            self._pending -= 1
            yield item

    def cancel(self) -> None:
        """Start no more batches: those queued come back failed ("cancelled") at once."""
        self._stopping = True

    def close(self, kill: bool = False) -> None:
        """Stop the workers (``kill``: now, dropping batches in flight) and wait for them."""
        self._stopping = self._stopping or kill
        for _ in self._threads:
            self._todo.put(None)
        if kill:
            for worker in list(self._workers):
                if worker is not None:
                    worker.process.kill()
        for thread in self._threads:
            thread.join()

    def _feed(self, slot: int) -> None:
        try:
            while (batch := self._todo.get()) is not None:
                outcome = Outcome(batch, None, "cancelled")
                if not self._stopping:
                    try:
                        worker = self._workers[slot]
                        if worker is None:
                            worker = self._workers[slot] = Worker("assistant.index.tags")
                        outcome = Outcome(batch, worker.run(_encoder.encode(batch)))
                    except Exception as exc:
                        outcome = Outcome(batch, None, f"{type(exc).__name__}: {exc}")
                        self._retire(slot, kill=True)
                self._done.put(outcome)
        finally:
            self._retire(slot, kill=self._stopping)

    def _retire(self, slot: int, kill: bool) -> None:
        worker, self._workers[slot] = self._workers[slot], None
        if worker is not None:
            worker.stop(kill)
