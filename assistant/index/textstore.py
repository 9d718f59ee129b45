"""The indexed files' text, off the heap: appended to segment files and read back through a
memory map, so the kernel's page cache holds it (and gives it back under memory pressure)
instead of the server's heap.

A segment is an unlinked temporary file (it goes away with the process, however it ends: a
crash leaves nothing to clean up or to misread) of ``SEGMENT_BYTES``, written with ``pwrite``
(writing through the map would make the pages the process's own dirty memory) and mapped once,
read-only. A file's text is ``(segment, offset, length)``; a changed file's new text is
appended and its old bytes are dead until the segment holding them has no live text left, when
the store lets go of the segment; it is unmapped and its file freed once no record points at it
either (a search still reading a replaced record reads what the file held when it began).
Reading copies the bytes out of the map: a caller never holds a view into a segment.
``release`` tells the kernel this process does not need the mapped pages for now (an idle
repository): they stay in the page cache while there is room.

Where the cache directory is, the segments are made there (a disk); without one, in the system's
temporary directory (which may be memory: ``tmpfs``).
"""

from __future__ import annotations

import contextlib
import logging
import mmap
import os
import tempfile
import threading

log = logging.getLogger("assistant.index")

SEGMENT_BYTES = 64 << 20  # a file's text is at most 1 MiB: a segment holds at least 64 files


class Segment:
    """One segment file and its read-only map."""

    def __init__(self, directory: str | None, size: int = SEGMENT_BYTES) -> None:
        self.size = size
        if directory is not None:
            os.makedirs(directory, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory, prefix="text-") as handle:
            self.fd = os.dup(handle.fileno())  # the file lives on through it (it has no name)
        os.ftruncate(self.fd, size)  # sparse: only what is written takes space
        self.map = mmap.mmap(self.fd, size, prot=mmap.PROT_READ)
        self.used = 0
        self.live = 0  # bytes of text that records still point at

    def write(self, data: bytes) -> int:
        at = self.used
        written = 0
        while written < len(data):
            written += os.pwrite(self.fd, data[written:], at + written)
        self.used += len(data)
        self.live += len(data)
        return at

    def read(self, at: int, length: int) -> bytes:
        return self.map[at : at + length]

    def release(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.map.madvise(mmap.MADV_DONTNEED)

    def __del__(self) -> None:  # no record and no store points here: unmap, and free the file
        with contextlib.suppress(BufferError, ValueError, AttributeError):
            self.map.close()
        with contextlib.suppress(OSError, AttributeError):
            os.close(self.fd)


Where = tuple[Segment, int, int]  # segment, offset, length


class TextStore:
    """The segments of one repository's index. ``put`` and ``drop`` are called with the
    index's lock held; ``Segment.read`` from any thread."""

    def __init__(self, directory: str | None, segment_bytes: int = SEGMENT_BYTES) -> None:
        self.directory = directory
        self.segment_bytes = segment_bytes
        self._segments: list[Segment] = []
        self._current: Segment | None = None
        self._lock = threading.Lock()
        self._failed = False  # no segment could be made: texts stay with their records

    def put(self, data: bytes) -> Where | None:
        """Where ``data`` now is; None if no segment can be made or written (the caller keeps
        the text itself)."""
        with self._lock:
            current = self._current
            try:
                if current is None or current.used + len(data) > current.size:
                    current = self._current = self._segment()
                    self._segments.append(current)
                return current, current.write(data), len(data)
            except OSError as exc:
                if not self._failed:
                    log.warning("cannot keep the indexed text in %s (%s); it is kept in memory", self.directory, exc)
                self._failed = True
                return None

    def _segment(self) -> Segment:
        if self.directory is not None and not self._failed:
            try:
                return Segment(self.directory, self.segment_bytes)
            except OSError as exc:
                where = tempfile.gettempdir()
                log.warning("cannot keep the indexed text in %s (%s); using %s", self.directory, exc, where)
                self.directory = None
        return Segment(None, self.segment_bytes)

    def drop(self, where: Where) -> None:
        """A text no record points at any more."""
        segment, _, length = where
        with self._lock:
            segment.live -= length
            if segment.live <= 0 and segment is not self._current and segment in self._segments:
                self._segments.remove(segment)

    def release(self) -> None:
        """Unmap every page from this process for now (they are read back as needed)."""
        with self._lock:
            for segment in self._segments:
                segment.release()

    def stats(self) -> tuple[int, int, int]:
        """(segments, bytes written, bytes still pointed at)."""
        with self._lock:
            return len(self._segments), sum(s.used for s in self._segments), sum(s.live for s in self._segments)

    def close(self) -> None:
        """Let go of every segment (each goes when the last record pointing at it does)."""
        with self._lock:
            self._segments.clear()
            self._current = None
