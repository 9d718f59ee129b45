"""Writing an index's tags cache (the format and the atomic write are ``store``'s): after a
build at once, after changes a little later (``SAVE_DELAY``), so a burst of edits is one write."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import msgspec

from . import store
from .records import IndexData, release_memory
from .textstore import Segment

log = logging.getLogger("assistant.index")

SAVE_DELAY = 2.0


class CacheWriter:
    """The tags cache of one repository."""

    def __init__(self, data: IndexData, path: Path, repo_path: str) -> None:
        self.data = data
        self.path = path
        self.repo_path = repo_path
        self.writes = True  # false while another process keeps this repository's caches
        self._timer: threading.Timer | None = None

    def load(self) -> store.CacheDocument:
        return store.load(self.path, self.repo_path)

    def schedule(self) -> None:
        """Save in ``SAVE_DELAY`` seconds (a later change moves the save on)."""
        if not self.writes:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer = threading.Timer(SAVE_DELAY, self.save)
        self._timer.daemon = True
        self._timer.start()

    def flush(self) -> None:
        """Save now if a save is waiting (when the index closes)."""
        with self.data.lock:
            if self._timer is not None:
                self._timer.cancel()
                self.save()

    def save(self, unvisited: dict[str, store.CachedFile] | None = None) -> None:
        """Write the cache: every parsed file, plus ``unvisited`` entries of files the walk
        did not reach (a build stopped part way must not forget the rest of the old cache)."""
        if not self.writes:
            return
        texts = self.data.texts
        kept: dict[int, tuple[Segment, int]] = {}  # segments the cache points into, and their bytes used
        with self.data.lock:
            self._timer = None
            snapshot: dict[str, store.CachedFile] = {}
            for path, record in self.data.files.items():
                if record.tags is None:
                    continue
                entry = snapshot[path] = record.cached()
                segment = record.segment
                if entry.segment >= 0 and segment is not None and entry.segment not in kept:
                    kept[entry.segment] = (segment, segment.used)
            # every file the symbol table has is in the snapshot (its tags are given before it is added)
            symbols = self.data.symbols.export({path: i for i, path in enumerate(snapshot)})
            skipped = dict(self.data.skipped)
            for path, entry in (unvisited or {}).items():
                if path not in snapshot:  # not loaded: its text was never adopted
                    snapshot[path] = msgspec.structs.replace(entry, segment=-1)
        try:
            for segment, _ in kept.values():
                segment.sync()  # on disk before the cache that points at it
            manifest = {ident: (used, segment.token) for ident, (segment, used) in kept.items()}
            store.save(self.path, self.repo_path, snapshot, manifest, symbols, skipped)
        except (OSError, UnicodeError, msgspec.EncodeError) as exc:
            log.warning("cannot write the index cache %s: %s", self.path, exc)
            return
        texts.collect(manifest)
        release_memory()  # the snapshot's and the encoding's small objects, back to the system
