"""Keeping an index fresh: inotify reports changes as they happen (or, where it is unavailable
or ``--watch sweep`` asks, a check of every file's size and mtime at most once a second), and
each change is applied before the next search: changed files read and parsed again, deleted
and newly ignored ones dropped."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from sandbox import Components, Repo, walk_files

from .build import Builder
from .records import MAX_FILE_BYTES, IndexData, join_path, read_record
from .tags import NO_TAGS
from .watch import Changes, Watcher

log = logging.getLogger("assistant.index")

SWEEP_INTERVAL = 1.0


class Freshness:
    """Change detection for one repository and the application of its changes."""

    def __init__(self, data: IndexData, builder: Builder, repo_path: str, mode: str = "inotify") -> None:
        self.data = data
        self.builder = builder
        self.repo_path = repo_path
        self.mode = mode
        self.watcher: Watcher | None = None
        self.last_sweep = 0.0

    def start(self) -> None:
        """Set up inotify (before the walk, which adds a watch per directory it enters)."""
        if self.mode == "inotify":
            try:
                self.watcher = Watcher()
            except OSError as exc:
                log.warning("inotify unavailable (%s); sweeping for changes at most once a second", exc)

    def watch(self, fd: int, comps: Components) -> None:
        """The walk's ``on_directory``: watch each directory it enters (or fall back to sweeps)."""
        if self.watcher is None:
            return
        try:
            self.watcher.watch(fd, comps)
        except OSError as exc:
            log.warning("cannot watch %s (%s); sweeping for changes instead", self.repo_path, exc)
            self.watcher.close()
            self.watcher = None

    def close(self) -> None:
        if self.watcher is not None:
            self.watcher.close()
            self.watcher = None

    def pending(self) -> Changes | None:
        """The changes since the last call, or ``None`` (nothing, or not time for a sweep yet)."""
        if self.watcher is not None:
            changes = self.watcher.drain()
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
            dirty = {p: data.comps(p) for p in data.files if p not in seen}
            for path, (comps, st) in seen.items():
                old = data.files.get(path)
                if old is None or (old.mtime_ns, old.size) != (st.st_mtime_ns, st.st_size):
                    dirty[path] = comps
        else:
            dirty = {join_path(c): c for c in changes.files}
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
