"""Writing an index's tags cache (the format and the atomic write are ``store``'s): after a
build at once, after changes a little later (``SAVE_DELAY``), so a burst of edits is one write."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import msgspec

from . import store
from .records import IndexData

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

    def load(self) -> dict[str, store.CachedFile]:
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
        with self.data.lock:
            self._timer = None
            snapshot = {p: r.cached() for p, r in self.data.files.items() if r.tags is not None}
            for path, entry in (unvisited or {}).items():
                snapshot.setdefault(path, entry)
        try:
            store.save(self.path, self.repo_path, snapshot)
        except (OSError, UnicodeError, msgspec.EncodeError) as exc:
            log.warning("cannot write the index cache %s: %s", self.path, exc)
