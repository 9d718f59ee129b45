"""One repository's index: built in the background, kept fresh, searched in memory."""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import msgspec

from assistant.types import IndexState, IndexStats
from sandbox import Components, Repo, Roots, SandboxError, display_name, walk_files

from . import store
from .languages import language_for
from .pool import ParserPool
from .symbols import SymbolTable
from .tags import NO_TAGS, FileTags, decode_batch, extract
from .watch import Changes, Watcher

log = logging.getLogger("assistant.index")

MAX_FILE_BYTES = 1024 * 1024  # larger files are neither searched nor parsed
POOL_THRESHOLD = 64  # fewer files to parse than this: parse in this thread
MAX_BATCH_FILES = 64
SWEEP_INTERVAL = 1.0
MAX_FAILURES = 4  # parser processes dying in a row before the rest of a build goes text-only
SAVE_DELAY = 2.0

Progress = Callable[[int, int], None]

_gc_lock = threading.Lock()
_gc_pauses = 0
_gc_was_enabled = False


@contextmanager
def _gc_paused() -> Iterator[None]:
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


@dataclass
class FileRecord:
    """One indexed file: its identity, text and tags (``None`` while waiting to be parsed)."""

    mtime_ns: int
    size: int
    language: str | None
    text: bytes
    tags: FileTags | None = None
    _lower: bytes | None = field(default=None, repr=False)
    # the name's real components, kept only when it is not valid UTF-8: the index knows the file
    # by its display form (``\xNN``), which every result and cache can encode
    comps: Components | None = None
    minified: bool = False  # lines averaging over MINIFIED_LINE bytes: searched and ranked last

    @property
    def lower(self) -> bytes:
        if self._lower is None:
            self._lower = self.text.lower()
        return self._lower

    def cached(self) -> store.CachedFile:
        return store.CachedFile(self.mtime_ns, self.size, self.language, self.tags or NO_TAGS)


MINIFIED_LINE = 300  # average bytes per line above which a file is minified or generated
MINIFIED_MIN_BYTES = 4096


def looks_minified(text: bytes) -> bool:
    return len(text) >= MINIFIED_MIN_BYTES and len(text) > MINIFIED_LINE * (text.count(b"\n") + 1)


def _join(comps: Components) -> str:
    """The path the index knows a file by: its display form (bad bytes as ``\\xNN``)."""
    path = "/".join(comps)
    return path if path.isascii() else display_name(path)[0]


def _read(repo: Repo, comps: Components) -> FileRecord | None:
    """Read a file for the index (``None``: gone, special, too large or binary)."""
    try:
        data = repo.read(comps, MAX_FILE_BYTES, include_ignored=True)
    except SandboxError:
        return None
    if data.truncated or data.binary:
        return None
    path = _join(comps)
    real = comps if path != "/".join(comps) else None
    minified = looks_minified(data.data)
    return FileRecord(data.mtime_ns, data.size, language_for(path), data.data, comps=real, minified=minified)


class RepoIndex:
    """The index of one repository (see the package docstring for the life cycle)."""

    def __init__(
        self,
        roots: Roots,
        repo_path: str,
        cache_dir: str | None,
        workers: int | None = None,
        watch: str = "inotify",
        batch_files: int = MAX_BATCH_FILES,
    ) -> None:
        """``watch``: ``inotify`` (falling back to ``sweep`` where unavailable), or ``sweep``: a
        full check at most once a second, for file systems where inotify does not see every
        change (NFS, SMB and other network or FUSE mounts edited from elsewhere)."""
        self.repo_path = repo_path
        self._watch_mode = watch
        self._batch_files = batch_files
        self._roots = roots
        self._cache_path = store.cache_file(cache_dir, repo_path)
        self._workers = workers or os.cpu_count() or 2
        self._lock = threading.RLock()
        self.files: dict[str, FileRecord] = {}
        self.symbols = SymbolTable()
        self.state: IndexState = "building"
        self.text_ready = threading.Event()
        self.ready = threading.Event()
        self.done = 0
        self.total = 0
        self.parsed_last_build = 0
        self.last_indexed: float | None = None
        self.index_ms: int | None = None
        self.error: str | None = None
        self._repo: Repo | None = None
        self._watcher: Watcher | None = None
        self._last_sweep = 0.0
        self._save_timer: threading.Timer | None = None
        self._closed = False
        self._thread: threading.Thread | None = None
        self._pool: ParserPool | None = None

    # -- life cycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Build in a background thread (returns at once)."""
        self._thread = threading.Thread(target=self._build_safely, name=f"index:{self.repo_path}", daemon=True)
        self._thread.start()

    def build(self, progress: Progress | None = None) -> None:
        """Build in this thread (the CLI's ``index`` command)."""
        self._build(progress)

    def close(self) -> None:
        self._closed = True
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            if self._save_timer is not None:
                self._save_timer.cancel()
                self._save_now()
            if self._watcher is not None:
                self._watcher.close()
                self._watcher = None
            if self._repo is not None:
                self._repo.close()
                self._repo = None

    @property
    def progress(self) -> float:
        if self.state == "ready":
            return 1.0
        return round(self.done / self.total, 3) if self.total else 0.0

    def stats(self, under: str = "") -> IndexStats:
        """What ``/status`` shows; ``under`` (``"src/"``) counts only the files below it."""
        with self._lock:  # the build adds files from another thread
            records = [r for p, r in self.files.items() if p.startswith(under)] if under else list(self.files.values())
            symbols = (
                len(self.symbols) if not under else sum(len(r.tags.definitions) for r in records if r.tags is not None)
            )
        languages = Counter(r.language for r in records if r.language)
        return {
            "path": self.repo_path + ("/" + under.rstrip("/") if under else ""),
            "state": self.state,
            "progress": self.progress,
            "files_indexed": len(records),
            "symbols": symbols,
            "languages": dict(languages.most_common()),
            "last_indexed": self.last_indexed,
            "index_ms": self.index_ms,
        }

    # -- building ---------------------------------------------------------------------------

    def _build_safely(self) -> None:
        try:
            self._build(None)
        except Exception as exc:  # the server keeps serving with a direct scan
            log.exception("building the index of %s failed", self.repo_path)
            self.error = str(exc)

    def _build(self, progress: Progress | None) -> None:
        started = time.perf_counter()
        self._repo = self._roots.acquire(self.repo_path)
        if self._watch_mode == "inotify":
            try:
                self._watcher = Watcher()
            except OSError as exc:
                log.warning("inotify unavailable (%s); sweeping for changes at most once a second", exc)
        with _gc_paused():
            cached = store.load(self._cache_path, self.repo_path)
        pending, queued = self._load_texts(cached)
        self.text_ready.set()
        self.total = len(self.files)
        self.done = self.total - len(pending)
        if progress:
            progress(self.done, self.total)
        self._parse(pending[queued:], progress)
        if self._closed:  # stopped mid-build: keep what was parsed, for the next start
            self._save_now(unvisited=cached)
            return
        self.parsed_last_build = len(pending)
        with self._lock:
            with _gc_paused():
                self.symbols.prepare()
            self.state = "ready"
            self.last_indexed = time.time()
            self.index_ms = round((time.perf_counter() - started) * 1000)
            self._last_sweep = time.monotonic()
        self.ready.set()
        if pending or set(cached) != set(self.files):
            self._save_now()

    def _load_texts(self, cached: dict[str, store.CachedFile]) -> tuple[list[str], int]:
        """Walk and read every file; reuse cached tags where (mtime, size) match.

        Returns the files to parse and how many of them (the first ones) already went to the
        worker pool while the walk went on."""
        assert self._repo is not None
        pending: list[str] = []
        queued = 0  # pending files already sent to the pool: parsing overlaps the walk
        for comps, _ in walk_files(self._repo, max_size=MAX_FILE_BYTES, on_directory=self._watch):
            if self._closed:
                break
            if len(pending) >= POOL_THRESHOLD and len(pending) - queued >= MAX_BATCH_FILES:
                self._submit(pending[queued:])
                queued = len(pending)
            record = _read(self._repo, comps)
            if record is None:
                continue
            path = _join(comps)
            hit = cached.get(path)
            with self._lock:
                self.files[path] = record
                if hit is not None and (hit.mtime_ns, hit.size) == (record.mtime_ns, record.size):
                    record.tags = hit.tags
                    self.symbols.add_file(path, record.tags)
                elif record.language is None:
                    record.tags = NO_TAGS
                else:
                    pending.append(path)
        return pending, queued

    def _watch(self, fd: int, comps: Components) -> None:
        if self._watcher is None:
            return
        try:
            self._watcher.watch(fd, comps)
        except OSError as exc:
            log.warning("cannot watch %s (%s); sweeping for changes instead", self.repo_path, exc)
            self._watcher.close()
            self._watcher = None

    def _parse(self, paths: list[str], progress: Progress | None) -> None:
        """Parse ``paths`` (few: in this thread; many: in the pool) and collect every result."""
        if len(paths) < POOL_THRESHOLD and self._pool is None:
            for path in paths:
                record = self.files[path]
                self._store_tags(path, extract(record.language or "", record.text))
                self.done += 1
            if progress:
                progress(self.done, self.total)
            return
        self._submit(paths)
        self._collect(progress)

    def _submit(self, paths: list[str]) -> None:
        """Send files to the parser processes in batches, starting them on first use."""
        if self._pool is None:
            self._pool = ParserPool(self._workers)
        step = self._batch_files
        for start in range(0, len(paths), step):
            self._pool.submit(
                [(p, self.files[p].language or "", self.files[p].text) for p in paths[start : start + step]]
            )

    def _collect(self, progress: Progress | None) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        failures = 0  # in a row: past MAX_FAILURES the parsers cannot work here at all
        try:
            for batch, result, error in pool.results():
                if result is not None:
                    failures = 0
                    with _gc_paused():
                        for path, tags in decode_batch(result):
                            self._store_tags(path, tags)
                else:
                    failures += 1
                    if self._closed or failures > MAX_FAILURES:
                        if failures == MAX_FAILURES + 1 and not self._closed:
                            log.warning(
                                "parser processes keep dying (%s); the remaining files are searched as text only", error
                            )
                            pool.cancel()
                    elif len(batch) > 1:  # find the file that kills its parser
                        log.warning(
                            "a parser process died on a batch of %d files (%s); parsing them one at a time",
                            len(batch),
                            error,
                        )
                        for item in batch:
                            pool.submit([item])
                        continue
                    else:
                        log.warning("a parser process died on %s (%s); it is searched as text only", batch[0][0], error)
                    for path, _, _ in batch:
                        self._store_tags(path, NO_TAGS)
                self.done += len(batch)
                if progress:
                    progress(self.done, self.total)
                if self._closed:
                    break
        finally:
            pool.close(kill=self._closed)

    def _store_tags(self, path: str, tags: FileTags) -> None:
        with self._lock:
            record = self.files.get(path)
            if record is None:
                return
            if record.tags is not None:
                self.symbols.remove_file(path, record.tags)
            record.tags = tags
            self.symbols.add_file(path, tags)

    # -- keeping fresh ----------------------------------------------------------------------

    def refresh(self) -> int:
        """Apply every change made since the last call; returns how many files changed."""
        if not self.ready.is_set() or self._repo is None:
            return 0
        with self._lock:
            if self._watcher is not None:
                changes = self._watcher.drain()
            elif time.monotonic() - self._last_sweep >= SWEEP_INTERVAL:
                changes = Changes(resync=True)
            else:
                return 0
            if not changes:
                return 0
            changed = self._apply(changes)
            if changed:
                self.last_indexed = time.time()
                self._schedule_save()
            return changed

    def _apply(self, changes: Changes) -> int:
        assert self._repo is not None
        if changes.resync:
            self._last_sweep = time.monotonic()
            seen = {
                _join(c): (c, st) for c, st in walk_files(self._repo, max_size=MAX_FILE_BYTES, on_directory=self._watch)
            }
            dirty = {p: self._comps(p) for p in self.files if p not in seen}
            for path, (comps, st) in seen.items():
                old = self.files.get(path)
                if old is None or (old.mtime_ns, old.size) != (st.st_mtime_ns, st.st_size):
                    dirty[path] = comps
        else:
            dirty = {_join(c): c for c in changes.files}
            for gone in changes.gone_dirs:
                prefix = _join(gone) + "/"
                dirty.update((p, self._comps(p)) for p in self.files if p.startswith(prefix))
            for new in changes.new_dirs:
                dirty.update(
                    (_join(c), c)
                    for c, _ in walk_files(self._repo, max_size=MAX_FILE_BYTES, start=new, on_directory=self._watch)
                )
        changed = 0
        to_parse: list[str] = []
        for path in sorted(dirty):
            comps = dirty[path]
            old = self.files.get(path)
            record = None
            if not self._repo.ignore.is_ignored(comps, False):
                record = _read(self._repo, comps)
            if record is None:
                if old is not None:
                    self.symbols.remove_file(path, old.tags or NO_TAGS)
                    del self.files[path]
                    changed += 1
                continue
            if old is not None and (old.mtime_ns, old.size, old.text) == (record.mtime_ns, record.size, record.text):
                continue
            if old is not None:
                self.symbols.remove_file(path, old.tags or NO_TAGS)
            record.tags = NO_TAGS if record.language is None else None
            self.files[path] = record
            if record.language is not None:
                to_parse.append(path)
            changed += 1
        self.total = len(self.files)
        self.done = self.total - len(to_parse)
        self._parse(to_parse, None)
        return changed

    def unparsed(self, path_filter: Callable[[str], bool] | None) -> list[tuple[str, bytes]]:
        """(path, text) of the source files whose tags are not in the symbol table yet: waiting
        to be parsed, or (before the walk has read them) still on disk, read directly."""
        if self.text_ready.is_set():
            with self._lock:
                return [
                    (p, r.text)
                    for p, r in sorted(self.files.items())
                    if r.tags is None and (path_filter is None or path_filter(p))
                ]
        return [(p, t) for p, t, _ in self.texts(path_filter, need_lower=False) if language_for(p) is not None]

    def is_minified(self, path: str) -> bool:
        record = self.files.get(path)
        return record is not None and record.minified

    def _comps(self, path: str) -> Components:
        record = self.files.get(path)
        return record.comps if record is not None and record.comps is not None else tuple(path.split("/"))

    def _schedule_save(self) -> None:
        if self._save_timer is not None:
            self._save_timer.cancel()
        self._save_timer = threading.Timer(SAVE_DELAY, self._save_now)
        self._save_timer.daemon = True
        self._save_timer.start()

    def _save_now(self, unvisited: dict[str, store.CachedFile] | None = None) -> None:
        """Write the cache: every parsed file, plus ``unvisited`` entries of files the walk
        did not reach (a build stopped part way must not forget the rest of the old cache)."""
        with self._lock:
            self._save_timer = None
            snapshot = {p: r.cached() for p, r in self.files.items() if r.tags is not None}
            for path, entry in (unvisited or {}).items():
                snapshot.setdefault(path, entry)
        try:
            store.save(self._cache_path, self.repo_path, snapshot)
        except (OSError, UnicodeError, msgspec.EncodeError) as exc:
            log.warning("cannot write the index cache %s: %s", self._cache_path, exc)

    # -- reading ----------------------------------------------------------------------------

    def texts(
        self, path_filter: Callable[[str], bool] | None, need_lower: bool
    ) -> Iterator[tuple[str, bytes, bytes | None]]:
        """(path, text, lower) in path order, minified or generated files last: from memory, or
        read directly while building (then in path order only)."""
        if self.text_ready.is_set():
            with self._lock:
                items = sorted(self.files.items())
            chosen = [(p, r) for p, r in items if path_filter is None or path_filter(p)]
            for path, record in sorted(chosen, key=lambda item: item[1].minified):  # stable: path order within
                yield path, record.text, record.lower if need_lower else None
            return
        with self._roots.open_repo(self.repo_path) as repo:
            found = sorted(walk_files(repo, max_size=MAX_FILE_BYTES))
            for comps, _ in found:
                path = _join(comps)
                if path_filter is not None and not path_filter(path):
                    continue
                read = _read(repo, comps)
                if read is not None:
                    yield path, read.text, None
