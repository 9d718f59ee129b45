"""One repository's index: a thin facade over its parts.

- ``records``: the shared data (each file's text and tags, the symbol table, one lock);
- ``build``: the first build (walk, read, cached tags, parser processes);
- ``freshness``: inotify or sweeps, and applying each change before the next search;
- ``cache_writer``: the tags cache on disk.

``RepoIndex`` starts, refreshes and closes them, and answers what searches read.
"""

from __future__ import annotations

import logging
import os
import select
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence

from assistant.bus import EventBus
from assistant.types import IndexState, IndexStats
from sandbox import Components, Repo, Roots, walk_files

from . import store
from .build import MAX_BATCH_FILES, Builder, Progress
from .cache_writer import CacheWriter
from .freshness import Freshness
from .languages import language_for
from .ranked import RankedIndex
from .ranking import Evidence
from .records import (
    MAX_FILE_BYTES,
    FileRecord,
    IndexData,
    gc_paused,
    join_path,
    keep_large_allocations_apart,
    read_record,
    release_memory,
)
from .repomap import MapMaker
from .symbols import SymbolTable
from .watch import Changes

log = logging.getLogger("assistant.index")

PROGRESS_INTERVAL = 0.5  # index.progress at most twice a second per repository
DEBOUNCE = 0.25  # files.changed: the first change at once, then at most one event per this,
MAX_DEBOUNCE = 2.0  # doubling while changes go on, up to this
SETTLE = 0.015  # after the first inotify event, before reading what changed
MAX_PATHS_PER_EVENT = 500

__all__ = ["MAX_FILE_BYTES", "FileRecord", "Progress", "RepoIndex"]


def _identity(st: os.stat_result) -> tuple[int, int]:
    return st.st_mtime_ns, st.st_size


class RepoIndex:
    """The index of one repository (see the module docstring for its parts)."""

    def __init__(
        self,
        roots: Roots,
        repo_path: str,
        cache_dir: str | None,
        workers: int | None = None,
        watch: str = "inotify",
        batch_files: int = MAX_BATCH_FILES,
        max_watches: int | None = None,
    ) -> None:
        """``watch``: ``inotify`` (falling back to ``sweep`` where unavailable), or ``sweep``: a
        full check at most once a second, for file systems where inotify does not see every
        change (NFS, SMB and other network or FUSE mounts edited from elsewhere). ``max_watches``:
        inotify watches this index may take (None: as many as the kernel gives); the directories
        past it are swept at most once a second."""
        self.repo_path = repo_path
        self._roots = roots
        # files for a query's words from the commit messages that changed them (set by the
        # manager when the root has a history); none until the commit graph is ready
        self.history: Callable[[str], Evidence] | None = None
        self.events: EventBus | None = None  # index.progress, index.ready, files.changed
        self._text_bytes = (-1, 0)  # (data version, bytes of text indexed)
        self._follower: threading.Thread | None = None
        self.data = IndexData(RankedIndex(store.ranked_dir(cache_dir, repo_path)), store.texts_dir(cache_dir))
        self._builder = Builder(self.data, workers or os.cpu_count() or 2, batch_files)
        self._freshness = Freshness(self.data, self._builder, repo_path, watch, max_watches)
        self.maps = MapMaker(self.data)
        self._cache = CacheWriter(self.data, store.cache_file(cache_dir, repo_path), repo_path)
        self._cache_lock = store.CacheLock(store.lock_file(cache_dir, repo_path))
        self._kept_texts = store.kept_texts_dir(cache_dir, repo_path)
        self.verifying = False  # after a warm start, until the files were checked against the index
        self.state: IndexState = "building"
        self.text_ready = threading.Event()
        self.ready = threading.Event()
        self.parsed_last_build = 0
        self.last_build_counts: dict[str, int] = {}  # parsed, cached, not_code, skipped: the CLI says them
        self.last_indexed: float | None = None
        self.index_ms: int | None = None
        self.error: str | None = None
        self._repo: Repo | None = None
        self._thread: threading.Thread | None = None
        self.last_used = time.monotonic()  # by the manager, which releases idle indexes
        self.released = False  # its text's pages let go of, since it was last used

    @property
    def files(self) -> dict[str, FileRecord]:
        return self.data.files

    @property
    def symbols(self) -> SymbolTable:
        return self.data.symbols

    @property
    def done(self) -> int:
        """Files parsed (or taken from the cache) so far."""
        return self.data.done

    @property
    def total(self) -> int:
        return self.data.total

    # -- life cycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Build in a background thread (returns at once)."""
        self._thread = threading.Thread(target=self._build_safely, name=f"index:{self.repo_path}", daemon=True)
        self._thread.start()

    def build(self, progress: Progress | None = None) -> None:
        """Build in this thread (the CLI's ``index`` command)."""
        self._build(progress)

    def wait(self) -> None:
        """Wait until a background build has ended, however it ended."""
        if self._thread is not None:
            self._thread.join()

    def close(self) -> None:
        self._builder.closed = True
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._cache.flush()
        with self.data.lock:
            self.data.ranked.close()
            self.data.texts.close()
            self._freshness.close()
            if self._repo is not None:
                self._repo.close()
                self._repo = None
        self._cache_lock.release()

    @property
    def progress(self) -> float:
        if self.state == "ready":
            return 1.0
        return round(self.data.done / self.data.total, 3) if self.data.total else 0.0

    def release(self) -> None:
        """Not used for a while: this process lets go of the pages of its text (the page cache
        keeps them while there is room; a search reads them back)."""
        if self.state == "ready":
            self.data.texts.release()
            self.released = True

    def text_bytes(self) -> int:
        """Bytes of text indexed (counted again only after a change)."""
        version = self.data.version
        if self._text_bytes[0] != version:
            files = self.data.files.copy()
            self._text_bytes = (version, sum(r.length for r in files.values()))
        return self._text_bytes[1]

    def _publishing(self, progress: Progress | None) -> Progress | None:
        """``progress``, also published as ``index.progress`` at most twice a second."""
        events = self.events
        if events is None:
            return progress
        last = [0.0]

        def report(done: int, total: int) -> None:
            if progress is not None:
                progress(done, total)
            now = time.monotonic()
            if now - last[0] >= PROGRESS_INTERVAL:
                last[0] = now
                events.publish("index.progress", repo=self.repo_path, done=done, total=total)

        return report

    def _follow(self) -> None:
        """Apply file changes as inotify reports them and publish ``files.changed``: a change
        after a quiet moment at once; while changes go on, the next event after ``DEBOUNCE``
        seconds, the wait doubling while each wait ends with more changes waiting (a thousand
        changes in a second are four events)."""
        events = self.events
        if events is None:
            return

        def apply() -> int:
            try:
                return self.refresh(self._announce)
            except Exception:  # the next search applies them; the stream goes on
                log.exception("applying file changes in %s failed", self.repo_path)
                return 0

        while not self._builder.closed:
            watcher = self._freshness.watcher
            if watcher is None:  # sweeping: at most once a second
                time.sleep(1.0)
                apply()
                continue
            if not self._readable(watcher.fd, 1.0):
                if self._freshness.unwatched:  # out of watches: those directories are swept
                    apply()
                continue
            # a file being written reports its creation, then its content: read them together
            time.sleep(SETTLE)
            wait = DEBOUNCE
            changed = apply()
            while changed and not self._builder.closed:
                time.sleep(wait)
                if not self._readable(watcher.fd, 0):
                    break  # quiet again: the next change is told at once
                changed = apply()
                wait = min(wait * 2, MAX_DEBOUNCE)

    @staticmethod
    def _readable(fd: int, timeout: float) -> bool:
        try:
            readable, _, _ = select.select([fd], [], [], timeout)
        except (OSError, ValueError):  # closed with the index
            return False
        return bool(readable)

    def totals(self) -> tuple[int, int]:
        """(files, symbols) indexed, read without waiting for the index (``/health``)."""
        return len(self.data.files), len(self.data.symbols)

    def stats(self, under: str = "") -> IndexStats:
        """What ``/status`` shows; ``under`` (``"src/"``) counts only the files below it."""
        data = self.data
        # never the index lock: a map or a build holding it for seconds must not hold up /health.
        # A dict's copy is made in one step under the GIL (no Python code runs while it is made,
        # unlike iterating it), however other threads change it.
        files = data.files.copy()
        records = [r for p, r in files.items() if p.startswith(under)] if under else list(files.values())
        symbols = (
            len(data.symbols) if not under else sum(r.tags.definition_count for r in records if r.tags is not None)
        )
        languages = Counter(r.language for r in records if r.language)
        watch, swept = self._freshness.describe()
        return {
            "path": self.repo_path + ("/" + under.rstrip("/") if under else ""),
            "state": self.state,
            "progress": self.progress,
            "files_indexed": len(records),
            "symbols": symbols,
            "languages": dict(languages.most_common()),
            "last_indexed": self.last_indexed,
            "index_ms": self.index_ms,
            "watch": watch if self.ready.is_set() else None,
            "swept_directories": swept,
            "verifying": self.verifying,
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
        keep_large_allocations_apart()
        data = self.data
        self._repo = self._roots.acquire(self.repo_path)
        self._freshness.start()
        ranked = data.ranked
        if not self._cache_lock.acquire():
            log.info(
                "another process keeps the index cache of %s; this one reads it and indexes in memory", self.repo_path
            )
            ranked.directory = None
            self._cache.writes = False
        else:
            data.texts.keep_in(self._kept_texts)
        with data.lock:
            ranked.open()
            ranked.building = True
        with gc_paused():
            doc = self._cache.load()
            cached = doc.files
            warm = bool(doc.segments) and self._builder.load_stored(cached, data.texts.adopt(doc.segments), doc.symbols)
        if warm:  # every text and tag loaded, none read: ready now, and checked against the files next
            pending: list[str] = []
            queued = 0
        else:
            pending, queued = self._builder.load_texts(self._repo, cached, self._freshness.watch)
        self.text_ready.set()
        data.total = len(data.files)
        data.done = data.total - len(pending)
        progress = self._publishing(progress)
        if progress:
            progress(data.done, data.total)
        self._builder.parse(pending[queued:], progress)
        if self._builder.closed:  # stopped mid-build: keep what was parsed, for the next start
            self._cache.save(unvisited=cached)
            with data.lock:
                ranked.commit(final=True)
            return
        self.parsed_last_build = len(pending)
        self.last_build_counts = dict(self._builder.counts, parsed=len(pending))
        self.verifying = warm
        with data.lock:
            if not warm:  # (a warm start leaves this to the check, which sees what is really gone)
                for path in [p for p in ranked.indexed if p not in data.files]:  # gone since the last run
                    ranked.remove(path)
            ranked.commit(final=True)
            ranked.building = False
            with gc_paused():
                data.symbols.prepare()
            self.last_indexed = time.time()
            self.index_ms = round((time.perf_counter() - started) * 1000)
            self._freshness.last_sweep = time.monotonic()
            data.texts.release()  # the build read every text back (parsers, ranked index): not needed now
        if not warm and (pending or set(cached) != set(data.files) or data.texts.persistent):  # (new texts)
            self._cache.save()  # before ready: what is ready is on disk, and the save's memory is given back
        release_memory()  # what loading, parsing and the ranked index's writer freed, back to the system
        self.state = "ready"
        self.ready.set()
        if self.events is not None:
            files, symbols = self.totals()
            self.events.publish(
                "index.ready", repo=self.repo_path, files=files, symbols=symbols, index_ms=self.index_ms
            )
            self._follower = threading.Thread(target=self._follow, name=f"follow:{self.repo_path}", daemon=True)
            self._follower.start()
        if warm:
            self._check_stored()

    def _check_stored(self) -> None:
        """After a warm start: walk the repository (watching each directory, as a build does)
        and apply what changed while no server watched it, as changes are applied (each changed
        path published as ``files.changed``). Searches are answered meanwhile, from the index as
        it was when the last server stopped; ``/status`` says ``verifying`` until this ends."""
        data = self.data
        repo = self._repo
        try:
            if repo is None:
                return
            # compared as the walk goes (keeping every stat result would leave the heap full of holes)
            files, known_skipped = data.files, data.skipped
            seen: set[str] = set()
            dirty: dict[str, Components] = {}
            identities: dict[str, tuple[int, int]] = {}  # of the new files, to remember those not indexable
            skipped: dict[str, tuple[int, int]] = {}
            for comps, st in walk_files(repo, max_size=MAX_FILE_BYTES, on_directory=self._freshness.watch):
                if self._builder.closed:
                    return
                path = join_path(comps)
                seen.add(path)
                identity = _identity(st)
                old = files.get(path)
                if old is not None:
                    if (old.mtime_ns, old.size) != identity:
                        dirty[path] = comps
                elif known_skipped.get(path) == identity:  # not indexed last time (binary), and not changed
                    skipped[path] = identity
                else:
                    dirty[path] = comps
                    identities[path] = identity
            with data.lock:
                ranked = data.ranked
                for path in [p for p in ranked.indexed if p not in files and p not in seen]:
                    ranked.remove(path)
                dirty.update((p, data.comps(p)) for p in files if p not in seen)  # gone
                del seen
                for path in dirty:  # loaded from the store, but changed: counted as parsed (or read) below
                    old = files.get(path)
                    if old is not None:
                        self.last_build_counts["cached" if old.language is not None else "not_code"] -= 1
                changed = self._freshness.apply(repo, Changes(files=set(dirty.values())), self._announce)
                if changed:
                    self.last_indexed = time.time()
                parsed = sum(1 for p in dirty if p in files and files[p].language is not None)
                unreadable = {p: identity for p, identity in identities.items() if p not in files}
                data.skipped = skipped | unreadable
                self.last_build_counts["skipped"] = len(data.skipped)
            self.parsed_last_build += parsed
            self.last_build_counts["parsed"] = self.parsed_last_build
            if changed or unreadable:
                self._cache.save()
            release_memory()  # the walk's stat results, back to the system
        finally:
            self.verifying = False

    def _announce(self, paths: list[str]) -> None:
        if self.events is not None:
            shown = paths[:MAX_PATHS_PER_EVENT]
            self.events.publish("files.changed", repo=self.repo_path, paths=shown, more=len(paths) - len(shown))

    # -- keeping fresh ----------------------------------------------------------------------

    def refresh(self, announce: Callable[[list[str]], None] | None = None) -> int:
        """Apply every change made since the last call; returns how many files changed."""
        if not self.ready.is_set() or self._repo is None:
            return 0
        with self.data.lock:
            changes = self._freshness.pending()
            if changes is None:
                return 0
            changed = self._freshness.apply(self._repo, changes, announce)
            if changed:
                self.last_indexed = time.time()
                self._cache.schedule()
            return changed

    # -- reading ----------------------------------------------------------------------------

    def texts(
        self, path_filter: Callable[[str], bool] | None, grams: Sequence[int] = ()
    ) -> Iterator[tuple[str, bytes]]:
        """(path, text) in path order, minified or generated files last: from memory, or
        read directly while building (then in path order only). With ``grams`` (trigrams every
        wanted text holds), only the files whose signature has them all, once all are read."""
        if self.text_ready.is_set():
            with self.data.lock:
                files = self.data.files
                if grams:
                    candidates = self.data.grams.candidates(list(grams))
                    items = sorted((p, files[p]) for p in candidates if p in files)
                else:
                    items = sorted(files.items())
            chosen = [(p, r) for p, r in items if path_filter is None or path_filter(p)]
            for path, record in sorted(chosen, key=lambda item: item[1].minified):  # stable: path order within
                yield path, record.text
            return
        with self._roots.open_repo(self.repo_path) as repo:
            found = sorted(walk_files(repo, max_size=MAX_FILE_BYTES))
            for comps, _ in found:
                path = join_path(comps)
                if path_filter is not None and not path_filter(path):
                    continue
                read = read_record(repo, comps)
                if read is not None:
                    yield path, read.text

    def unparsed(self, path_filter: Callable[[str], bool] | None) -> list[tuple[str, bytes]]:
        """(path, text) of the source files whose tags are not in the symbol table yet: waiting
        to be parsed, or (before the walk has read them) still on disk, read directly."""
        if self.text_ready.is_set():
            with self.data.lock:
                return [
                    (p, r.text)
                    for p, r in sorted(self.data.files.items())
                    if r.tags is None and (path_filter is None or path_filter(p))
                ]
        return [(p, t) for p, t in self.texts(path_filter) if language_for(p, t) is not None]

    def is_minified(self, path: str) -> bool:
        record = self.data.files.get(path)
        return record is not None and record.minified
