"""A repository's history (read-only, with libgit2): ``git`` has the reading, ``HistoryManager``
keeps one ``History`` per repository."""

from __future__ import annotations

import threading
import time

from sandbox import Repo

from .git import (
    DEFAULT_LOG,
    MAX_BLAME_LINES,
    MAX_LOG,
    Blame,
    BlameRange,
    CommitDetail,
    CommitSummary,
    FileChange,
    History,
    HistoryUnavailable,
    WorkingDiff,
    locate,
    parse_since,
)

RECHECK_SECONDS = 10.0  # a repository without history is looked at again after this long (git init)

__all__ = [
    "DEFAULT_LOG",
    "MAX_BLAME_LINES",
    "MAX_LOG",
    "Blame",
    "BlameRange",
    "CommitDetail",
    "CommitSummary",
    "FileChange",
    "History",
    "HistoryManager",
    "HistoryUnavailable",
    "WorkingDiff",
    "parse_since",
]


class HistoryManager:
    """The history of each repository, opened when first asked for; a repository without one
    is remembered as such (with why) for a few seconds."""

    def __init__(self, cache_dir: str | None = None) -> None:
        self.cache_dir = cache_dir  # where commit graphs are kept between runs
        self._lock = threading.Lock()
        self._open: dict[str, History] = {}
        self._missing: dict[str, tuple[float, HistoryUnavailable]] = {}

    def get(self, repo: Repo) -> History:
        """The history of an open sandbox repository, or HistoryUnavailable."""
        with self._lock:
            found = self._open.get(repo.path)
            if found is not None:
                return found
            missing = self._missing.get(repo.path)
            if missing is not None and time.monotonic() - missing[0] < RECHECK_SECONDS:
                raise missing[1]
            try:
                made = History(locate(repo), self.cache_dir)
            except HistoryUnavailable as exc:
                self._missing[repo.path] = (time.monotonic(), exc)
                raise
            self._missing.pop(repo.path, None)
            self._open[repo.path] = made
            return made

    def available(self, repo: Repo) -> bool:
        try:
            self.get(repo)
        except HistoryUnavailable:
            return False
        return True

    def close(self) -> None:
        with self._lock:
            for history in self._open.values():
                history.close()
            self._open.clear()
