"""The indexed files' text, off the heap: appended to segment files and read back through a
memory map, so the kernel's page cache holds it (and gives it back under memory pressure)
instead of the server's heap. Each text is followed by its trigram signature (``grams``), read
through the same map.

A segment is a file of ``SEGMENT_BYTES``, written with ``pwrite`` (writing through the map would
make the pages the process's own dirty memory) and mapped once, read-only. A file's text is
``(segment, offset, length, extent)``: the text is ``length`` bytes, the extent its text and
signature. A changed file's new text is appended and its old bytes are dead until the segment
holding them has no live text left, when the store lets go of the segment; it is unmapped once
no record points at it either (a search still reading a replaced record reads what the file
held when it began). Reading copies the bytes out of the map: a caller never holds a view into
a segment. ``release`` tells the kernel this process does not need the mapped pages for now (an
idle repository): they stay in the page cache while there is room.

Two kinds of store:

- **persistent** (the process that keeps a repository's caches): named segment files in the
  repository's own directory, kept across restarts so a warm start reads no file. Each begins
  with a header holding a random token. The tags cache is the store's manifest: before it is
  renamed into place, every segment it points into is made durable (``Segment.sync``:
  ``fdatasync``), and it records each segment's (bytes used, token) beside each file's extent.
  So the cache never points at bytes that were not on disk first. On load, ``adopt`` reopens only the
  segments whose size and token match; an extent past what the manifest says was used is never
  trusted; ``collect`` deletes the segment files no manifest points at any more (those a crash
  left, and those emptied since).
- **temporary** (another process on the same caches, or no cache directory): unlinked files
  that go away with the process however it ends, or, where no directory can hold them,
  anonymous memory.
"""

from __future__ import annotations

import contextlib
import logging
import mmap
import os
import secrets
import tempfile
import threading
from pathlib import Path

import numpy as np
import numpy.typing as npt

log = logging.getLogger("assistant.index")

SEGMENT_BYTES = 64 << 20  # a file's text is at most 1 MiB: a segment holds at least 63 files
MAGIC = b"RATXT001"
HEADER = len(MAGIC) + 8  # the magic, then the segment's token
SUFFIX = ".seg"


class Segment:
    """One segment and its map (read-only for a file; ``ident`` -1: not kept across restarts)."""

    def __init__(self, fd: int, size: int, used: int, ident: int = -1, token: bytes = b"") -> None:
        self.fd = fd
        self.size = size
        self.ident = ident
        self.token = token
        if fd >= 0:
            self.map = mmap.mmap(fd, size, prot=mmap.PROT_READ)
        else:
            self.map = mmap.mmap(-1, size)  # anonymous: where no directory can hold segments
        self.used = used
        self.live = 0  # bytes of extents that records still point at
        self.writes = 0  # writes made, and how many of them are known to be on disk
        self.synced = 0
        self._array: npt.NDArray[np.uint8] | None = None

    @classmethod
    def temporary(cls, directory: str | None, size: int) -> Segment:
        if directory is not None:
            os.makedirs(directory, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory, prefix="text-") as handle:
            fd = os.dup(handle.fileno())  # the file lives on through it (it has no name)
        os.ftruncate(fd, size)  # sparse: only what is written takes space
        return cls(fd, size, 0)

    @classmethod
    def anonymous(cls, size: int) -> Segment:
        return cls(-1, size, 0)

    @classmethod
    def create(cls, path: Path, size: int, ident: int) -> Segment:
        token = secrets.token_bytes(8)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            os.ftruncate(fd, size)
            os.pwrite(fd, MAGIC + token, 0)
            segment = cls(fd, size, HEADER, ident, token)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                path.unlink()
            raise
        segment.writes = 1
        return segment

    @classmethod
    def reopen(cls, path: Path, size: int, ident: int, used: int, token: bytes) -> Segment | None:
        """A segment a manifest names, if its file is the one it wrote (None: damaged or gone)."""
        try:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            if os.fstat(fd).st_size != size or not HEADER <= used <= size or os.pread(fd, HEADER, 0) != MAGIC + token:
                os.close(fd)
                return None
            return cls(fd, size, used, ident, token)
        except OSError:
            os.close(fd)
            return None

    def write(self, *parts: bytes) -> int:
        at = self.used
        for data in parts:
            if self.fd < 0:
                self.map[self.used : self.used + len(data)] = data
            else:
                written = 0
                while written < len(data):
                    written += os.pwrite(self.fd, data[written:], self.used + written)
            self.used += len(data)
        self.writes += 1
        return at

    def read(self, at: int, length: int) -> bytes:
        return self.map[at : at + length]

    def array(self) -> npt.NDArray[np.uint8]:
        """The segment's bytes as a numpy array (a view of the map: no copy)."""
        if self._array is None:
            self._array = np.frombuffer(self.map, dtype=np.uint8)
        return self._array

    def sync(self) -> None:
        """Make every write made so far durable."""
        writes = self.writes
        if writes != self.synced and self.fd >= 0:
            os.fdatasync(self.fd)
        self.synced = writes

    def release(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.map.madvise(mmap.MADV_DONTNEED)

    def __del__(self) -> None:  # no record and no store points here: unmap, and close the file
        self._array = None
        with contextlib.suppress(BufferError, ValueError, AttributeError):
            self.map.close()
        with contextlib.suppress(OSError, AttributeError):
            if self.fd >= 0:
                os.close(self.fd)


Where = tuple[Segment, int, int, int]  # segment, offset, length of the text, bytes in all
Manifest = dict[int, tuple[int, bytes]]  # segment -> (bytes used, token)


class TextStore:
    """The segments of one repository's index. ``put`` and ``drop`` are called with the
    index's lock held; ``Segment.read`` from any thread. ``persistent``: ``directory`` is the
    repository's own, and its segments are kept across restarts (see the module docstring)."""

    def __init__(self, directory: str | None, segment_bytes: int = SEGMENT_BYTES, persistent: bool = False) -> None:
        self.directory = directory
        self.segment_bytes = segment_bytes
        self.persistent = persistent and directory is not None
        self._segments: list[Segment] = []
        self._current: Segment | None = None
        self._lock = threading.Lock()
        self._next_ident = 0
        self._warned = False

    def keep_in(self, directory: str) -> None:
        """Keep this store's segments in ``directory`` across restarts (before the first put)."""
        with self._lock:
            if not self._segments:
                self.directory = directory
                self.persistent = True

    def put(self, text: bytes, tail: bytes = b"") -> Where:
        """Store ``text`` followed by ``tail``; where they now are."""
        size = len(text) + len(tail)
        with self._lock:
            current = self._current
            for _ in range(4):  # a segment that cannot be written is left for a new one, of another kind
                try:
                    if current is None or current.used + size > current.size:
                        current = self._current = self._segment()
                        self._segments.append(current)
                    at = current.write(text, tail)
                    current.live += size
                    return current, at, len(text), size
                except OSError as exc:
                    self._fall_back(exc)
                    current = None
            raise OSError("no segment could hold the text")

    def _fall_back(self, exc: OSError) -> None:
        if not self._warned:
            log.warning("cannot keep the indexed text in %s (%s); using another place", self.directory, exc)
            self._warned = True
        if self.persistent:
            self.persistent = False
        elif self.directory is not None:
            self.directory = None
        else:
            self.directory = ""  # not even the temporary directory: anonymous memory

    def _segment(self) -> Segment:
        if self.persistent and self.directory is not None:
            os.makedirs(self.directory, exist_ok=True)
            if not self._next_ident:
                self._next_ident = max(self._on_disk(), default=0) + 1
            ident, self._next_ident = self._next_ident, self._next_ident + 1
            return Segment.create(self._path(ident), self.segment_bytes, ident)
        if self.directory == "":
            return Segment.anonymous(self.segment_bytes)
        return Segment.temporary(self.directory, self.segment_bytes)

    def _path(self, ident: int) -> Path:
        return Path(self.directory or ".") / f"{ident:06d}{SUFFIX}"

    def _on_disk(self) -> list[int]:
        try:
            names = os.listdir(self.directory or ".")
        except OSError:
            return []
        return [int(n[: -len(SUFFIX)]) for n in names if n.endswith(SUFFIX) and n[: -len(SUFFIX)].isdigit()]

    def adopt(self, manifest: Manifest) -> dict[int, Segment]:
        """Reopen the segments a manifest (the tags cache) names; those whose file is not the
        one it wrote are left out, and with them every text they held."""
        if not self.persistent or self.directory is None:
            return {}
        adopted: dict[int, Segment] = {}
        with self._lock:
            for ident, (used, token) in sorted(manifest.items()):
                segment = Segment.reopen(self._path(ident), self.segment_bytes, ident, used, token)
                if segment is None:
                    log.warning("text segment %s is damaged or gone; its files are read again", self._path(ident))
                    continue
                adopted[ident] = segment
                self._segments.append(segment)
            self._next_ident = max([*self._on_disk(), *manifest, 0]) + 1
        return adopted

    def settle(self) -> None:
        """After adopting: let go of the segments no loaded text points at, and append to the
        one with the most room."""
        with self._lock:
            self._segments = [s for s in self._segments if s.live > 0]
            roomiest = max(self._segments, key=lambda s: s.size - s.used, default=None)
            self._current = roomiest if roomiest is not None and roomiest.size - roomiest.used > (1 << 20) else None

    def drop(self, where: Where) -> None:
        """A text no record points at any more."""
        segment = where[0]
        with self._lock:
            segment.live -= where[3]
            if segment.live <= 0 and segment is not self._current and segment in self._segments:
                self._segments.remove(segment)

    def collect(self, keep: Manifest) -> None:
        """Delete the segment files neither ``keep`` (the manifest just saved) nor this store
        uses: what a crash left behind, and segments emptied since the last save."""
        if not self.persistent or self.directory is None:
            return
        with self._lock:
            used = {s.ident for s in self._segments} | set(keep)
            for ident in self._on_disk():
                if ident not in used and ident < self._next_ident:
                    with contextlib.suppress(OSError):
                        self._path(ident).unlink()

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
