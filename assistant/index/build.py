"""Building: the walk that reads every file (reusing cached tags where a file's mtime and size
did not change), and parsing the rest, in this thread for a few files or in the parser
processes for many, overlapping the walk."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sandbox import Components, Repo, walk_files

from . import store
from .grams import signature_bytes
from .pool import ParserPool
from .records import MAX_FILE_BYTES, FileRecord, IndexData, gc_paused, join_path, read_record
from .symbols import SymbolsDocument
from .tags import NO_TAGS, decode_batch, extract
from .textstore import HEADER, SEGMENT_BYTES, Segment, Where

log = logging.getLogger("assistant.index")

POOL_THRESHOLD = 64  # fewer files to parse than this: parse in this thread
MAX_BATCH_FILES = 64
MAX_FAILURES = 4  # parser processes dying in a row before the rest of a build goes text-only
STORED_SHARE = 0.9  # a warm start loads the stored texts when at least this share of the cache has one
MAX_DEAD_RATIO = 2  # ... and the store's bytes are at most this many times the live ones (else it is made anew)

Progress = Callable[[int, int], None]
OnDirectory = Callable[[int, Components], None]


class Builder:
    """Fills an ``IndexData``: ``load_texts`` walks and reads, ``parse`` parses. ``closed`` (set
    by the index when it closes) stops both at the next file or batch."""

    def __init__(self, data: IndexData, workers: int, batch_files: int = MAX_BATCH_FILES) -> None:
        self.data = data
        self.workers = workers
        self.batch_files = batch_files
        self.closed = False
        self._pool: ParserPool | None = None
        self.counts = {"cached": 0, "not_code": 0, "skipped": 0}  # of the last walk: what was not parsed

    def load_texts(
        self, repo: Repo, cached: dict[str, store.CachedFile], on_directory: OnDirectory
    ) -> tuple[list[str], int]:
        """Walk and read every file; reuse cached tags where (mtime, size) match.

        Returns the files to parse and how many of them (the first ones) already went to the
        worker pool while the walk went on."""
        data = self.data
        pending: list[str] = []
        queued = 0  # pending files already sent to the pool: parsing overlaps the walk
        counts = self.counts = {"cached": 0, "not_code": 0, "skipped": 0}
        data.skipped.clear()
        for comps, st in walk_files(repo, max_size=MAX_FILE_BYTES, on_directory=on_directory):
            if self.closed:
                break
            if len(pending) >= POOL_THRESHOLD and len(pending) - queued >= MAX_BATCH_FILES:
                self._submit(pending[queued:])
                queued = len(pending)
            record = read_record(repo, comps)
            if record is None:  # binary, or gone or unreadable since the walk saw it
                counts["skipped"] += 1
                data.skipped[join_path(comps)] = (st.st_mtime_ns, st.st_size)
                continue
            path = join_path(comps)
            hit = cached.get(path)
            with data.lock:
                data.put_file(path, record)
                if hit is not None and (hit.mtime_ns, hit.size) == (record.mtime_ns, record.size):
                    record.tags = hit.tags
                    data.symbols.add_file(path, record.tags)
                    data.index_as_is(path, record)
                    counts["cached" if record.language is not None else "not_code"] += 1
                elif record.language is None:
                    record.tags = NO_TAGS
                    data.index_as_is(path, record)
                    counts["not_code"] += 1
                else:
                    pending.append(path)
        return pending, queued

    def load_stored(
        self, cached: dict[str, store.CachedFile], segments: dict[int, Segment], symbols: SymbolsDocument | None
    ) -> bool:
        """A warm start: a record for every cached file whose text and signature the store kept
        (none is read), if that is nearly all of them and the store is not mostly dead bytes
        (else False, and nothing is loaded: the walk reads every file, and the store is made
        anew). The files left out are found by the check that follows, as new. When every file
        is loaded, the symbol table is the one the cache kept (``symbols``), not built again."""
        data = self.data
        self.counts = {"cached": 0, "not_code": 0, "skipped": 0}
        kept: dict[str, Where] = {}
        for path, entry in cached.items():
            segment = segments.get(entry.segment)
            extent = entry.length + signature_bytes(entry.length)
            if segment is not None and entry.length >= 0 and HEADER <= entry.offset <= segment.used - extent:
                kept[path] = (segment, entry.offset, entry.length, extent)
        live = sum(where[3] for where in kept.values())
        used = sum(segment.used for segment in segments.values())
        if not kept or len(kept) < STORED_SHARE * len(cached) or used > MAX_DEAD_RATIO * live + SEGMENT_BYTES:
            data.texts.settle()  # nothing points at the adopted segments: let go of them
            return False
        with data.lock:
            restored = (
                symbols is not None
                and len(kept) == len(cached)
                and data.symbols.restore(symbols, list(cached), {p: e.tags for p, e in cached.items()})
            )
            for path, where in kept.items():
                entry = cached[path]
                where[0].live += where[3]
                record = FileRecord.stored(entry, where)
                data.files[path] = record
                data.grams.put(path, where)
                if not restored:
                    data.symbols.add_file(path, entry.tags)
                data.index_as_is(path, record)
                self.counts["cached" if record.language is not None else "not_code"] += 1
            data.version += 1
        data.texts.settle()
        return True

    def parse(self, paths: list[str], progress: Progress | None) -> None:
        """Parse ``paths`` (few: in this thread; many: in the pool) and collect every result."""
        data = self.data
        if len(paths) < POOL_THRESHOLD and self._pool is None:
            for path in paths:
                record = data.files[path]
                data.store_tags(path, extract(record.language or "", record.text))
                data.done += 1
            if progress:
                progress(data.done, data.total)
            return
        self._submit(paths)
        self._collect(progress)

    def _submit(self, paths: list[str]) -> None:
        """Send files to the parser processes in batches, starting them on first use."""
        if self._pool is None:
            self._pool = ParserPool(self.workers)
        files = self.data.files
        step = self.batch_files
        for start in range(0, len(paths), step):
            self._pool.submit([(p, files[p].language or "", files[p].text) for p in paths[start : start + step]])

    def _collect(self, progress: Progress | None) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        data = self.data
        failures = 0  # in a row: past MAX_FAILURES the parsers cannot work here at all
        try:
            for batch, result, error in pool.results():
                if result is not None:
                    failures = 0
                    with gc_paused():
                        for path, tags in decode_batch(result):
                            data.store_tags(path, tags)
                else:
                    failures += 1
                    if self.closed or failures > MAX_FAILURES:
                        if failures == MAX_FAILURES + 1 and not self.closed:
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
                        data.store_tags(path, NO_TAGS)
                data.done += len(batch)
                with data.lock:
                    data.ranked.commit(due=True)  # searches during the build see what is ready
                if progress:
                    progress(data.done, data.total)
                if self.closed:
                    break
        finally:
            pool.close(kill=self.closed)
