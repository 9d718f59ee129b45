"""What the parts of one repository's index share: each file's record (identity, text, tags),
the symbol table, the lock that guards both, and how a file is read for the index."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import gc
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sandbox import Components, Repo, SandboxError, display_name

from . import store
from .grams import Grams, tail
from .languages import language_for
from .ranked import RankedIndex
from .symbols import SymbolTable
from .tags import NO_TAGS, FileTags
from .textstore import Segment, TextStore, Where

MAX_FILE_BYTES = 1024 * 1024  # larger files are neither searched nor parsed

_gc_lock = threading.Lock()
_gc_pauses = 0
_gc_was_enabled = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Hold off the cyclic garbage collector for a short bulk step (decoding one batch of
    tags into the symbol table, loading the cache). Loading a repository creates hundreds of
    thousands of objects that live on, and the collector, triggered every 700 allocations,
    otherwise re-scans the growing heap over and over; paused per step, it runs between
    steps instead. Nested and concurrent pauses (several repositories) are counted."""
    global _gc_pauses, _gc_was_enabled
    with _gc_lock:
        if _gc_pauses == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pauses += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0 and _gc_was_enabled:
                gc.enable()


M_MMAP_THRESHOLD = -3  # mallopt's parameter number (glibc's malloc.h)
MMAP_THRESHOLD = 128 * 1024  # glibc's initial value, kept from then on


@functools.cache
def _libc() -> ctypes.CDLL | None:
    """The C library's functions, through the symbols this process already has (no search for
    the library file: ``ctypes.util.find_library`` runs ``ldconfig`` in a subprocess)."""
    return ctypes.CDLL(None) if sys.platform == "linux" else None


def keep_large_allocations_apart() -> None:
    """Have every allocation of 128 KiB or more mapped on its own, so that freeing it returns
    it to the system at once. glibc starts with that threshold but raises it to the size of
    each mapped block freed (up to 32 MiB); a build frees many large blocks (parser batches,
    the ranked index writer's pages), after which they came from the heap, between objects
    that live on, and the heap could not shrink: the standard library's index kept ~25 MB more
    after a cold build than after a warm start. Called before each build (setting it again
    changes nothing)."""
    libc = _libc()
    if libc is not None:
        with contextlib.suppress(AttributeError):  # not glibc (musl has no mallopt): nothing to do
            libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)


def release_memory() -> None:
    """Hand memory freed after a build back to the system. glibc keeps what was freed for
    later allocations; after a build that is megabytes (the decoded parser batches, the small
    allocations of the ranked index's writer) a server would otherwise hold for its whole life."""
    libc = _libc()
    if libc is not None:
        with contextlib.suppress(AttributeError):  # not glibc: nothing to do
            libc.malloc_trim(0)


class FileRecord:
    """One indexed file: its identity, text and tags (``None`` while waiting to be parsed).

    Its text is held here as it was read, until the index moves it to the text store
    (``stash``); from then on ``text`` reads it from there (a copy, each time)."""

    __slots__ = ("_dropped", "_text", "_where", "comps", "language", "length", "minified", "mtime_ns", "size", "tags")

    def __init__(
        self,
        mtime_ns: int,
        size: int,
        language: str | None,
        text: bytes,
        tags: FileTags | None = None,
        comps: Components | None = None,
        minified: bool = False,
    ) -> None:
        self.mtime_ns = mtime_ns
        self.size = size
        self.language = language
        self._text = text
        self._where: Where | None = None
        self._dropped = False
        self.length = len(text)
        self.tags = tags
        # the name's real components, kept only when it is not valid UTF-8: the index knows the
        # file by its display form (``\xNN``), which every result and cache can encode
        self.comps = comps
        self.minified = minified  # lines averaging over MINIFIED_LINE bytes: searched and ranked last

    @property
    def text(self) -> bytes:
        where = self._where  # set before _text is let go: one of the two always has the text
        if where is not None:
            return where[0].read(where[1], where[2])
        return self._text

    @property
    def segment(self) -> Segment | None:
        return self._where[0] if self._where is not None else None

    @classmethod
    def stored(cls, cached: store.CachedFile, where: Where) -> FileRecord:
        """A record loaded from the cache, its text (and signature) already in the store."""
        real = tuple(os.fsdecode(c) for c in cached.real) if cached.real is not None else None
        record = cls(cached.mtime_ns, cached.size, cached.language, b"", cached.tags, real, cached.minified)
        record.length = cached.length
        record._where = where
        return record

    def stash(self, texts: TextStore, tail: bytes = b"") -> Where | None:
        """Move the text to the store, with ``tail`` (its signature) after it: the heap keeps
        none of it. Where it now is (None if it was already there)."""
        if self._where is not None:
            return None
        self._where = texts.put(self._text, tail)
        self._text = b""
        return self._where

    def unstash(self, texts: TextStore) -> None:
        """This record is no longer the file's: its text in the store is dead (counted once)."""
        if self._where is not None and not self._dropped:
            self._dropped = True
            texts.drop(self._where)

    def cached(self) -> store.CachedFile:
        where = self._where
        ident, offset = (where[0].ident, where[1]) if where is not None else (-1, 0)
        real = tuple(os.fsencode(c) for c in self.comps) if self.comps is not None else None
        tags = self.tags or NO_TAGS
        length, minified = self.length, self.minified
        return store.CachedFile(self.mtime_ns, self.size, self.language, tags, length, minified, real, ident, offset)


MINIFIED_LINE = 300  # average bytes per line above which a file is minified or generated
MINIFIED_MIN_BYTES = 4096


def looks_minified(text: bytes) -> bool:
    return len(text) >= MINIFIED_MIN_BYTES and len(text) > MINIFIED_LINE * (text.count(b"\n") + 1)


def join_path(comps: Components) -> str:
    """The path the index knows a file by: its display form (bad bytes as ``\\xNN``)."""
    path = "/".join(comps)
    return path if path.isascii() else display_name(path)[0]


def read_record(repo: Repo, comps: Components) -> FileRecord | None:
    """Read a file for the index (``None``: gone, special, too large or binary)."""
    try:
        data = repo.read(comps, MAX_FILE_BYTES, include_ignored=True)
    except SandboxError:
        return None
    if data.truncated or data.binary:
        return None
    path = join_path(comps)
    real = comps if path != "/".join(comps) else None
    minified = looks_minified(data.data)
    return FileRecord(data.mtime_ns, data.size, language_for(path, data.data), data.data, comps=real, minified=minified)


class IndexData:
    """The files (with their text and tags) and the symbol table of one repository, guarded by
    one lock; ``done`` and ``total`` count the files parsed and indexed (for progress)."""

    def __init__(
        self, ranked: RankedIndex | None = None, text_dir: str | None = None, persistent: bool = False
    ) -> None:
        self.lock = threading.RLock()
        self.files: dict[str, FileRecord] = {}
        self.symbols = SymbolTable()
        self.ranked = ranked or RankedIndex(None)
        self.grams = Grams()  # every file's trigram signature: which files a literal may be in
        self.texts = TextStore(text_dir, persistent=persistent)  # every file's text, off the heap
        # the files the last walk could not index (binary, mostly), by their (mtime, size) then:
        # a warm start's check does not read them again unless they changed
        self.skipped: dict[str, tuple[int, int]] = {}
        self.version = 0  # every change to the files or their tags makes a new version
        self.done = 0
        self.total = 0

    def put_file(self, path: str, record: FileRecord) -> None:
        """A file read (new, or changed: its tags are given or parsed after)."""
        where = record.stash(self.texts, tail(record.text))
        if where is not None:
            self.grams.put(path, where)
        old = self.files.get(path)
        self.files[path] = record
        if old is not None and old is not record:
            old.unstash(self.texts)
        self.version += 1

    def store_tags(self, path: str, tags: FileTags) -> None:
        """Give a file its (new) tags, keeping the symbol table in step."""
        with self.lock:
            record = self.files.get(path)
            if record is None:
                return
            if record.tags is not None:
                self.symbols.remove_file(path, record.tags)
            record.tags = tags
            self.symbols.add_file(path, tags)
            self.ranked.put(path, record)
            self.version += 1

    def index_as_is(self, path: str, record: FileRecord) -> None:
        """A file whose tags are known (from the cache, or none: no grammar) is in the ranked
        index as it is now (added unless it already is)."""
        if not self.ranked.current(path, record):
            self.ranked.put(path, record)

    def remove(self, path: str) -> None:
        """Forget a file (deleted, or newly ignored)."""
        record = self.files.pop(path, None)
        self.grams.remove(path)
        if record is not None:
            record.unstash(self.texts)
            self.version += 1
            self.symbols.remove_file(path, record.tags or NO_TAGS)
            self.ranked.remove(path)

    def comps(self, path: str) -> Components:
        """The real components of an indexed path (its display form may differ)."""
        record = self.files.get(path)
        return record.comps if record is not None and record.comps is not None else tuple(path.split("/"))
