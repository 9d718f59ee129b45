"""Parser processes: tree-sitter holds the GIL while it parses, so the index parses on every
core with worker processes.

Each worker is a plain interpreter (``python -S -c …``) running ``tags.serve``, fed through a
pair of pipes, one batch in flight at a time: a frame is a 4-byte length and a msgpack body;
batches of ``(path, language, source)`` go out and ``tags.extract_batch``'s encoded tags come
back. Not ``multiprocessing``: it would re-run the caller's main module in every worker, start
a resource-tracker process and pickle every batch, and none of that is needed to hand bytes
to a process. A worker that dies (a grammar crashing on an odd file) fails its batch, which is
reported with the reason, and is replaced for the next one.
"""

from __future__ import annotations

import contextlib
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import msgspec

import assistant

from .tags import Batch

# The package's own directory first, then the parent's path: the worker imports the same code
# (an editable install's import hook is not there under -S, which skips site's startup work).
_BOOT = (
    "import sys; sys.path[:0] = sys.argv[3:]; from assistant.index.tags import serve; "
    "serve(int(sys.argv[1]), int(sys.argv[2]))"
)
_HEADER = 4
_encoder = msgspec.msgpack.Encoder()


class WorkerDied(Exception):
    pass


class Outcome(NamedTuple):
    batch: Batch
    tags: bytes | None  # encoded (see tags.decode_batch); None: the batch failed
    error: str = ""  # why it failed


class _Worker:
    def __init__(self) -> None:
        down_r, down_w = os.pipe()
        up_r, up_w = os.pipe()
        search_path = [
            str(Path(assistant.__file__).resolve().parent.parent),
            *(p for p in sys.path if isinstance(p, str)),
        ]
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-S", "-c", _BOOT, str(down_r), str(up_w), *search_path],
                pass_fds=(down_r, up_w),
                # its own process group: a terminal's Ctrl-C goes to the server, which decides
                # when its parsers stop (it closes their input, or kills them)
                process_group=0,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
            )
        finally:
            os.close(down_r)
            os.close(up_w)
        self._down = open(down_w, "wb")  # noqa: SIM115 - closed in stop()
        self._up = open(up_r, "rb")  # noqa: SIM115

    def run(self, batch: Batch) -> bytes:
        data = _encoder.encode(batch)
        try:
            self._down.write(len(data).to_bytes(_HEADER, "little"))
            self._down.write(data)
            self._down.flush()
        except OSError as exc:  # BrokenPipeError: it died before reading
            raise WorkerDied(str(exc)) from exc
        header = self._up.read(_HEADER)
        size = int.from_bytes(header, "little") if len(header) == _HEADER else -1
        body = self._up.read(size) if size >= 0 else b""
        if len(body) != size:
            raise WorkerDied(f"exit status {self.process.wait()}")
        return body

    def stop(self, kill: bool = False) -> None:
        if kill:
            self.process.kill()
        for stream in (self._down, self._up):
            with contextlib.suppress(OSError):
                stream.close()  # the worker sees end of input and exits
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class ParserPool:
    """``size`` workers, each started on first use, fed by one thread each from a shared queue."""

    def __init__(self, size: int) -> None:
        self._todo: queue.SimpleQueue[Batch | None] = queue.SimpleQueue()
        self._done: queue.SimpleQueue[Outcome] = queue.SimpleQueue()
        self._pending = 0
        self._stopping = False
        self._workers: list[_Worker | None] = [None] * size
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
                            worker = self._workers[slot] = _Worker()
                        outcome = Outcome(batch, worker.run(batch))
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
