"""The on-disk cache of tags: versioned, keyed by repo, and per file by (mtime, size).

One msgpack file per repository under ``<cache>/index-v<VERSION>/``. It is written to a
temporary file in the same directory and renamed over the old one, so a reader (the CLI, or
another server) sees either the old or the new cache, never half of one. A cache that cannot
be read, or of another version, is ignored and rebuilt.

One process at a time keeps a repository's caches (the tags cache and the ranked index): the
one holding its lock file (``CacheLock``, an ``flock`` released when the process ends, however
it ends). Another process on the same repository and cache directory (a second server, the CLI
beside a server) reads the tags cache as a warm start and keeps its ranked index in memory,
writing nothing: two writers of one tantivy directory, or two cache files renamed in turn
from two different states, are not possible.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import tempfile
from pathlib import Path

import msgspec
import platformdirs

from .symbols import SymbolsDocument
from .tags import FileTags, share_names

log = logging.getLogger("assistant.index")

# the tags cache: 2: tags sorted by name; 3: no first line in tags; 4: references per name; 5: packed
# lines; 6: tags from one pass of captures (a function in a Rust `mod` is a function, not a method);
# 7: 31 languages (files in the 18 new ones were cached as text), a `.h` that is C++ parsed as C++;
# 8: the manifest of the text store (each file's extent, its length, minified, real name), the
# prepared symbol table
VERSION = 8
RANKED_VERSION = 6  # the ranked index's schema and analyzers (6: the new languages' names are fields)


class CachedFile(msgspec.Struct, array_like=True):
    mtime_ns: int
    size: int
    language: str | None
    tags: FileTags
    length: int = -1  # bytes of text
    minified: bool = False
    real: tuple[bytes, ...] | None = None  # the name's real components, when not valid UTF-8
    segment: int = -1  # where the text store keeps its text and signature (-1: nowhere kept)
    offset: int = 0


class CacheDocument(msgspec.Struct):
    version: int
    repo: str
    files: dict[str, CachedFile]
    segments: dict[int, tuple[int, bytes]] = {}  # the text store's manifest: segment -> (used, token)
    symbols: SymbolsDocument | None = None  # the prepared symbol table, files numbered in ``files`` order
    skipped: dict[str, tuple[int, int]] = {}  # files not indexed (binary): path -> (mtime_ns, size)


class _LazyDocument(msgspec.Struct):
    """A cache document whose files are decoded one by one (see ``load``)."""

    version: int
    repo: str
    files: dict[str, msgspec.Raw]
    segments: dict[int, tuple[int, bytes]] = {}
    symbols: SymbolsDocument | None = None
    skipped: dict[str, tuple[int, int]] = {}


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(_LazyDocument)
_file_decoder = msgspec.msgpack.Decoder(CachedFile)


def cache_root(configured: str | None) -> Path:
    return Path(configured) if configured else Path(platformdirs.user_cache_dir("repo-assistant"))


def cache_file(configured: str | None, repo_path: str) -> Path:
    digest = hashlib.sha256(repo_path.encode("utf-8", "surrogateescape")).hexdigest()[:24]
    return cache_root(configured) / f"index-v{VERSION}" / f"{digest}.msgpack"


def ranked_dir(configured: str | None, repo_path: str) -> Path:
    """Where a repository's ranked index lives: beside its tags cache."""
    digest = hashlib.sha256(repo_path.encode("utf-8", "surrogateescape")).hexdigest()[:24]
    return cache_root(configured) / f"ranked-v{RANKED_VERSION}" / digest


def texts_dir(configured: str | None) -> str:
    """Where temporary text stores' segments are made (unlinked files: nothing is left there)."""
    return str(cache_root(configured) / "texts")


def kept_texts_dir(configured: str | None, repo_path: str) -> str:
    """Where a repository's text store is kept across restarts (by the process holding its lock)."""
    digest = hashlib.sha256(repo_path.encode("utf-8", "surrogateescape")).hexdigest()[:24]
    return str(cache_root(configured) / f"texts-v{VERSION}" / digest)


def lock_file(configured: str | None, repo_path: str) -> Path:
    digest = hashlib.sha256(repo_path.encode("utf-8", "surrogateescape")).hexdigest()[:24]
    return cache_root(configured) / "locks" / f"{digest}.lock"


class CacheLock:
    """The right to write one repository's caches (see the module docstring)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> bool:
        """Take the lock if no other process holds it; whether this process holds it now."""
        if self._fd is not None or self.path is None:
            return self._fd is not None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            log.warning("cannot write the index cache (its lock %s: %s); the index is kept in memory", self.path, exc)
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None


def load(path: Path, repo_path: str) -> CacheDocument:
    """The cache of a repo (no files when there is no usable cache)."""
    empty = CacheDocument(VERSION, repo_path, {})
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return empty
    except OSError as exc:
        log.warning("cannot read index cache %s (%s); rebuilding", path, exc)
        return empty
    try:
        lazy = _decoder.decode(raw)
        if lazy.version != VERSION or lazy.repo != repo_path:
            log.warning("index cache %s is for another version or repo; rebuilding", path)
            return empty
        # one file at a time, each file's names made the shared strings before the next is
        # decoded: the copies let go of are taken again by the next file (decoded all at once,
        # three names in four were let go of together, leaving the heap full of holes)
        files: dict[str, CachedFile] = {}
        pending = lazy.files
        for name in list(pending):
            cached = files[name] = _file_decoder.decode(pending.pop(name))
            share_names(cached.tags)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        log.warning("index cache %s is unreadable (%s); rebuilding", path, exc)
        return empty
    return CacheDocument(lazy.version, lazy.repo, files, lazy.segments, lazy.symbols, lazy.skipped)


def save(
    path: Path,
    repo_path: str,
    files: dict[str, CachedFile],
    segments: dict[int, tuple[int, bytes]] | None = None,
    symbols: SymbolsDocument | None = None,
    skipped: dict[str, tuple[int, int]] | None = None,
) -> None:
    """Write the cache atomically (temporary file + rename in the same directory; the text it
    points at must be on disk before: ``TextStore.sync``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = _encoder.encode(CacheDocument(VERSION, repo_path, files, segments or {}, symbols, skipped or {}))
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if segments:  # the rename must not reach the disk before the cache's own bytes
                os.fdatasync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
