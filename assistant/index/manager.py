"""Every allowed root's index in this process (``IndexManager``), and the repositories inside a
root as views of it (``IndexView``)."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from dataclasses import replace

from assistant import metrics
from assistant.bus import EventBus
from assistant.types import IndexState, IndexStats
from sandbox import Components, Roots

from .ranking import Evidence
from .repo_index import FileRecord, Progress, RepoIndex
from .repomap import RepoMap
from .search import DEADLINE_SECONDS, SearchQuery, SearchResult, run_search


class IndexView:
    """A repository as the index sees it: an allowed root's whole index, or a subdirectory of
    one (``base``), served from the root's index filtered by prefix rather than an index of
    its own (each of which would hold a copy of the text and an inotify instance)."""

    def __init__(self, index: RepoIndex, base: Components = ()) -> None:
        self.index = index
        self.base = base
        self._head = "/".join(base) + "/" if base else ""

    @property
    def state(self) -> IndexState:
        return self.index.state

    @property
    def progress(self) -> float:
        return self.index.progress

    @property
    def ready(self) -> threading.Event:
        return self.index.ready

    def stats(self) -> IndexStats:
        return self.index.stats(self._head)

    def paths(self) -> list[str]:
        """Every indexed file of this repository, relative to it."""
        files = self.index.files.copy()  # one step under the GIL (see RepoIndex.stats)
        head = self._head
        return [p[len(head) :] for p in files if p.startswith(head)]

    def record(self, path: str) -> FileRecord | None:
        """The indexed file at ``path`` (relative to this repository), if it is indexed."""
        return self.index.files.get(self._head + path)

    def map(self, question: str | None, tokens: int) -> RepoMap:
        """The repository map for ``question`` within ``tokens`` (see ``repomap``)."""
        self.index.refresh()
        return self.index.maps.make(question, tokens, self._head)

    def search(
        self,
        query: str,
        mode: str = "auto",
        *,
        prefix: Components = (),
        glob: str | None = None,
        limit: int = 50,
        read_files: frozenset[str] = frozenset(),
        deadline: float = DEADLINE_SECONDS,
        cancel: threading.Event | None = None,
    ) -> SearchResult:
        """Search with a query checked here (``SearchQuery.of``); paths relative to this view."""
        checked = SearchQuery.of(query, mode, prefix=prefix, glob=glob, limit=limit, read_files=read_files)
        return self.run(checked, deadline=deadline, cancel=cancel)

    def run(
        self, query: SearchQuery, *, deadline: float = DEADLINE_SECONDS, cancel: threading.Event | None = None
    ) -> SearchResult:
        """Run a checked query, its paths relative to this view."""
        head = self._head  # "" for a root: then the paths pass unchanged
        inside = replace(
            query, prefix=self.base + query.prefix, read_files=frozenset(head + f for f in query.read_files)
        )
        started = time.perf_counter()
        found = run_search(self.index, inside, deadline=deadline, cancel=cancel)
        metrics.searched(query.mode, time.perf_counter() - started)
        for result in found.results:
            result["file"] = result["file"][len(head) :]
        found.files = {f[len(head) :] for f in found.files}
        return found


# the history evidence of a root (its path): files for a query's words, from commit messages
HistoryFor = Callable[[str, str], Evidence]


IDLE_SECONDS = 600.0  # an index not used this long lets go of its text's mapped pages


class IndexManager:
    """Every allowed root's index in this process, created on first use; a subdirectory used
    as a repository is a view of its root's index."""

    def __init__(
        self,
        roots: Roots,
        cache_dir: str | None,
        watch: str = "inotify",
        history: HistoryFor | None = None,
        idle_seconds: float = IDLE_SECONDS,
    ) -> None:
        self.roots = roots
        self.idle_seconds = idle_seconds
        self.cache_dir = cache_dir
        self.watch = watch
        self.history = history  # a root's history field (commit messages), when it has one
        self.events: EventBus | None = None  # where index.progress, index.ready and files.changed go
        self._indexes: dict[str, RepoIndex] = {}
        self._lock = threading.Lock()

    def get(self, repo_path: str) -> IndexView:
        """The index of a (resolved, allowed) repository path, building its root's index in the
        background on first use."""
        view, created = self._view(repo_path)
        if created:
            view.index.start()
        return view

    def build(self, repo_path: str, progress: Progress | None = None) -> IndexView:
        """The index of a repository path, built (or refreshed from the cache) in this thread
        before returning: the CLI's commands, which show progress and then use it at once. An
        index already building in the background is waited for, not built twice."""
        view, created = self._view(repo_path)
        if created:
            view.index.build(progress)
        else:
            view.index.wait()
        return view

    def _view(self, repo_path: str) -> tuple[IndexView, bool]:
        """The view of a repository path, and whether its root's index was made just now.
        Indexes not used for ``idle_seconds`` let go of their text's mapped pages meanwhile."""
        root, base = self.roots.locate(repo_path)
        now = time.monotonic()
        with self._lock:
            index = self._indexes.get(root.path)
            created = index is None
            if index is None:
                index = self._indexes[root.path] = RepoIndex(self.roots, root.path, self.cache_dir, watch=self.watch)
                if self.history is not None:
                    index.history = functools.partial(self.history, root.path)
                index.events = self.events
            index.last_used, index.released = now, False
            idle = [
                i
                for i in self._indexes.values()
                if i is not index and now - i.last_used >= self.idle_seconds and not i.released
            ]
        for other in idle:
            other.release()
        return IndexView(index, base), created

    def known(self) -> list[RepoIndex]:
        with self._lock:
            return list(self._indexes.values())

    def close(self) -> None:
        for index in self.known():
            index.close()
