"""Keeping an index fresh: inotify reports changes as they happen (or, where it is unavailable
or ``--watch sweep`` asks, a check of every file's size and mtime at most once a second), and
each change is applied before the next search: changed files read and parsed again, deleted
and newly ignored ones dropped."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable

from sandbox import Components, Repo, SandboxError, walk_files

from .build import Builder
from .records import MAX_FILE_BYTES, IndexData, join_path, read_record
from .tags import NO_TAGS
from .watch import Changes, Watcher

log = logging.getLogger("assistant.index")

SWEEP_INTERVAL = 1.0


class Freshness:
    """Change detection for one repository and the application of its changes."""

    def __init__(
        self, data: IndexData, builder: Builder, repo_path: str, mode: str = "inotify", max_watches: int | None = None
    ) -> None:
        self.data = data
        self.builder = builder
        self.repo_path = repo_path
        self.mode = mode
        self.max_watches = max_watches
        self.watcher: Watcher | None = None
        self.unwatched: set[Components] = set()  # directories inotify could not take: swept
        self.last_sweep = 0.0

    def start(self) -> None:
        """Set up inotify (before the walk, which adds a watch per directory it enters)."""
        if self.mode == "inotify":
            try:
                self.watcher = Watcher(self.max_watches)
            except OSError as exc:
                log.warning("inotify unavailable (%s); sweeping for changes at most once a second", exc)

    def watch(self, fd: int, comps: Components) -> None:
        """The walk's ``on_directory``: watch each directory it enters (or fall back to sweeps)."""
        if self.watcher is None:
            return
        try:
            self.watcher.watch(fd, comps)
            self.unwatched.discard(comps)
        except OSError as exc:
            if not self.unwatched:
                log.warning(
                    "cannot watch every directory of %s (%s, after %d); the others are swept at most once a second",
                    self.repo_path,
                    exc,
                    self.watcher.watched,
                )
            self.unwatched.add(comps)

    def describe(self) -> tuple[str, int]:
        """How changes are seen (``inotify``, ``inotify+sweep``, ``sweep``) and how many
        directories are swept for want of a watch."""
        if self.watcher is None:
            return "sweep", 0
        return ("inotify+sweep" if self.unwatched else "inotify"), len(self.unwatched)

    def _swept(self, repo: Repo, directories: set[Components]) -> dict[str, Components]:
        """The files under unwatched directories that changed, came or went since they were
        indexed (each is watched again if a watch has come free meanwhile)."""
        dirty: dict[str, Components] = {}
        tops = {d for d in directories if not any(d[:k] in directories for k in range(len(d)))}
        for top in tops:
            self.unwatched -= {d for d in self.unwatched if d[: len(top)] == top}
            seen: dict[str, tuple[Components, os.stat_result]] = {}
            try:
                for comps, st in walk_files(repo, max_size=MAX_FILE_BYTES, start=top, on_directory=self.watch):
                    seen[join_path(comps)] = (comps, st)
            except (OSError, SandboxError):
                pass  # gone, or no longer a directory: what it held went with it
            dirty.update(self.stale(seen, join_path(top) + "/" if top else ""))
        return dirty

    def stale(self, seen: dict[str, tuple[Components, os.stat_result]], prefix: str) -> dict[str, Components]:
        """The files under ``prefix`` that a walk of it (``seen``) found new or changed (another
        size or mtime than indexed), or did not find."""
        files = self.data.files
        dirty = {p: self.data.comps(p) for p in files if p.startswith(prefix) and p not in seen}
        for path, (comps, st) in seen.items():
            old = files.get(path)
            if old is None or (old.mtime_ns, old.size) != (st.st_mtime_ns, st.st_size):
                dirty[path] = comps
        return dirty

    def close(self) -> None:
        if self.watcher is not None:
            self.watcher.close()
            self.watcher = None

    def pending(self) -> Changes | None:
        """The changes since the last call, or ``None`` (nothing, or not time for a sweep yet)."""
        if self.watcher is not None:
            changes = self.watcher.drain()
            if self.unwatched and time.monotonic() - self.last_sweep >= SWEEP_INTERVAL:
                self.last_sweep = time.monotonic()
                changes.sweep = set(self.unwatched)
        elif time.monotonic() - self.last_sweep >= SWEEP_INTERVAL:
            changes = Changes(resync=True)
        else:
            return None
        return changes if changes else None

    def apply(self, repo: Repo, changes: Changes, announce: Callable[[list[str]], None] | None = None) -> int:
        """Apply ``changes`` (call with the data's lock held); returns how many files changed.
        ``announce`` is told the paths that changed (added, changed or gone; never an ignored
        one) as soon as they are known, before the changed files are parsed."""
        data = self.data
        if changes.resync:
            self.last_sweep = time.monotonic()
            seen = {
                join_path(c): (c, st) for c, st in walk_files(repo, max_size=MAX_FILE_BYTES, on_directory=self.watch)
            }
            dirty = self.stale(seen, "")
        else:
            dirty = {join_path(c): c for c in changes.files}
            dirty.update(self._swept(repo, changes.sweep))
            for gone in changes.gone_dirs:
                prefix = join_path(gone) + "/"
                dirty.update((p, data.comps(p)) for p in data.files if p.startswith(prefix))
            for new in changes.new_dirs:
                dirty.update(
                    (join_path(c), c)
                    for c, _ in walk_files(repo, max_size=MAX_FILE_BYTES, start=new, on_directory=self.watch)
                )
        changed = 0
        to_parse: list[str] = []
        named: list[str] = []
        for path in sorted(dirty):
            comps = dirty[path]
            old = data.files.get(path)
            record = None
            if not repo.ignore.is_ignored(comps, False):
                record = read_record(repo, comps)
            if record is None:
                if old is not None:
                    data.remove(path)
                    changed += 1
                    if not repo.ignore.is_ignored(comps, False):
                        named.append(path)
                continue
            if old is not None and (old.mtime_ns, old.size, old.text) == (record.mtime_ns, record.size, record.text):
                continue
            if old is not None:
                data.symbols.remove_file(path, old.tags or NO_TAGS)
            record.tags = NO_TAGS if record.language is None else None
            data.put_file(path, record)
            if record.language is not None:
                to_parse.append(path)
            else:
                data.ranked.put(path, record)
            changed += 1
            named.append(path)
        if announce is not None and named:
            announce(named)
        data.total = len(data.files)
        data.done = data.total - len(to_parse)
        self.builder.parse(to_parse, None)
        data.ranked.commit(final=True)  # the next search sees every change
        return changed
