"""The commit graph of a repository, in memory and cached on disk: every commit HEAD reaches (its
parents, time, author, message) and the paths it changed: against its parent, or for a merge
the paths that differ from every parent (what ``git diff-tree -c`` lists, and the only ones for
which ``git log -- path`` shows a merge).

Asking libgit2 "did this commit change this path?" commit by commit is what makes a path's log
and a blame slow on a long history (a tree lookup per commit and parent, from Python). The graph
answers it from memory: it is built once in the background (trees compared as raw objects, only
where their ids differ; a merge's subtrees that equal one parent's are never read), on worker
processes (``assistant.procs``) that take chunks of commits as the walk finds them, so a long
history neither waits for one core nor shares the server's GIL; saved in the cache directory,
and brought up to date when HEAD moves (only the new commits are read, in this thread). Until
it is ready the history tools read the repository directly, as before; ranked search uses it
(``field``) only once it is ready, so it never delays a search.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import hashlib
import heapq
import logging
import math
import os
import queue
import re
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import pygit2
from pygit2.enums import DiffOption, RepositoryOpenFlag, SortMode

from assistant import procs

log = logging.getLogger("assistant.history")

VERSION = 2  # 2: a merge's changed paths are those that differ from every parent
MAX_MESSAGE = 2048  # of a commit's message kept (the subject and the start of the body)
_ENTRY = re.compile(rb"[^\0]*+\0.{20}", re.S)  # mode, space, name, NUL, id
_PARTS = re.compile(rb"(\d+) ([^\0]*)\0(.{20})", re.S)  # an entry's mode, name and id
_TREE_MODE = b"40000"
_TREE_CACHE = 16384
WORKER_OBJECT_CACHE = 64 << 20  # bytes of libgit2's object cache in a worker (its default: 256 MiB)
WORKERS = min(4, os.cpu_count() or 1)  # processes that compare trees on a long history
EMPTY: frozenset[bytes] = frozenset()


class Stored(msgspec.Struct, array_like=True):
    """The graph as it is saved: lists by commit, newest first."""

    version: int
    head: bytes
    ids: list[bytes]
    parents: list[list[int]]
    times: list[int]
    author_times: list[int]
    offsets: list[int]
    authors: list[str]
    messages: list[str]
    changed: list[list[int]]
    paths: list[str]


@dataclass
class Graph:
    """Commits newest first (``ids[i]`` is commit ``i``); ``parents`` by index (a parent a
    shallow clone does not have is left out); ``changed[i]`` the indices in ``paths`` of what
    commit ``i`` changed against its parent (everything, for a root; for a merge, what differs
    from every parent)."""

    head: bytes
    ids: list[bytes]
    parents: list[list[int]]
    times: list[int]
    author_times: list[int]
    offsets: list[int]
    authors: list[str]
    messages: list[str]
    changed: list[list[int]]
    paths: list[str]
    index: dict[bytes, int] = field(init=False)
    path_index: dict[str, int] = field(init=False)
    _touching: dict[int, list[int]] | None = field(init=False, default=None)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.index = {raw: i for i, raw in enumerate(self.ids)}
        self.path_index = {path: i for i, path in enumerate(self.paths)}

    def __len__(self) -> int:
        return len(self.ids)

    def touching(self, path: str) -> list[int]:
        """The commits that changed ``path`` (a file), newest first."""
        with self._lock:
            if self._touching is None:
                made: dict[int, list[int]] = defaultdict(list)
                for commit, changed in enumerate(self.changed):
                    for p in changed:
                        made[p].append(commit)
                self._touching = dict(made)
        found = self.path_index.get(path)
        return self._touching.get(found, []) if found is not None else []

    def touching_under(self, directory: str) -> list[int]:
        """The commits that changed anything under ``directory``, newest first."""
        head = directory.rstrip("/") + "/"
        inside = {i for i, path in enumerate(self.paths) if path.startswith(head)}
        return [c for c, changed in enumerate(self.changed) if not inside.isdisjoint(changed)]

    def stored(self) -> Stored:
        """The graph as it is saved (the fields ``Stored`` lists, after its version)."""
        return Stored(VERSION, *(getattr(self, name) for name in _SAVED))

    @classmethod
    def of(cls, stored: Stored) -> Graph:
        return cls(*(getattr(stored, name) for name in _SAVED))


_SAVED = Stored.__struct_fields__[1:]  # head, ids, …, paths: the graph's own fields, in its order


class _Trees:
    """Raw tree objects as sets of their entries (each entry's bytes, ``mode name\\0id``, as it
    is stored: comparing two trees is a set difference in C), the recent ones cached."""

    def __init__(self, odb: pygit2.Odb) -> None:
        self.odb = odb
        self.cache: dict[bytes, frozenset[bytes]] = {}

    @classmethod
    def opening(cls, gitdir: str) -> _Trees:
        """Over the repository at ``gitdir``, opened here (a worker process, or a chunk whose
        worker failed)."""
        return cls(pygit2.Repository(gitdir, RepositoryOpenFlag.NO_SEARCH).odb)

    def entries(self, raw: bytes | None) -> frozenset[bytes]:
        if raw is None:
            return EMPTY
        found = self.cache.get(raw)
        if found is None:
            found = frozenset(_ENTRY.findall(self.odb.read(pygit2.Oid(raw=raw))[1]))
            if len(self.cache) >= _TREE_CACHE:
                self.cache.clear()
            self.cache[raw] = found
        return found

    def tree_of(self, commit: bytes) -> bytes | None:
        """The tree of a commit that is not among the jobs (None if the repository lacks it)."""
        try:
            _kind, data = self.odb.read(pygit2.Oid(raw=commit))
        except KeyError:
            return None
        return bytes.fromhex(data[5:45].decode()) if data.startswith(b"tree ") else None

    @staticmethod
    def _parts(entries: frozenset[bytes]) -> list[tuple[bytes, bytes, bytes]]:
        """Entries as (mode, name, id), parsed in one pass."""
        return _PARTS.findall(b"".join(entries))

    def changed(self, old: bytes | None, new: bytes | None, prefix: bytes, out: list[bytes]) -> None:
        """The paths (files and links) that differ between two trees, appended to ``out``."""
        before = self.entries(old)
        after = self.entries(new)
        gone = before - after
        came = after - before
        if not gone and not came:
            return
        old_by_name = {name: (mode, raw) for mode, name, raw in self._parts(gone)} if gone else {}
        for mode, name, raw in self._parts(came):
            was = old_by_name.pop(name, None)
            old_tree = was[1] if was is not None and was[0] == _TREE_MODE else None
            if mode == _TREE_MODE:
                self.changed(old_tree, raw, prefix + name + b"/", out)
                if was is not None and old_tree is None:  # a file became a directory
                    out.append(prefix + name)
            else:
                out.append(prefix + name)
                if old_tree is not None:  # a directory became a file
                    self.changed(old_tree, None, prefix + name + b"/", out)
        for name, (mode, raw) in old_by_name.items():
            if mode == _TREE_MODE:
                self.changed(raw, None, prefix + name + b"/", out)
            else:
                out.append(prefix + name)

    def differing(self, olds: list[bytes | None], new: bytes | None, prefix: bytes, out: list[bytes]) -> None:
        """The paths that differ between a merge's tree and every one of its parents' trees (as
        git's combined diff lists them), appended to ``out``: a subtree the merge took unchanged
        from any parent holds none, so it is never read."""
        if new is None and None in olds:
            return  # absent here and in a parent: nothing below differs from that parent
        after = self.entries(new)
        befores = [self.entries(old) for old in olds]
        came = after.difference(*befores)  # entries no parent has exactly
        mine = {name: (mode, raw) for mode, name, raw in self._parts(came)}
        # a parent's entry for a name that differs from every parent is never one the merge has
        theirs = [{name: (mode, raw) for mode, name, raw in self._parts(before - after)} for before in befores]
        lost = set(theirs[0]).intersection(*theirs[1:])  # every parent has it, the merge has not that
        names = lost.union(mine)
        if not names:
            return
        for name in sorted(names):
            here = mine.get(name)
            there = [parent.get(name) for parent in theirs]
            blob = here if here is not None and here[0] != _TREE_MODE else None
            if all((entry if entry is not None and entry[0] != _TREE_MODE else None) != blob for entry in there):
                out.append(prefix + name)
            tree = here[1] if here is not None and here[0] == _TREE_MODE else None
            trees = [entry[1] if entry is not None and entry[0] == _TREE_MODE else None for entry in there]
            if tree not in trees:
                self.differing(trees, tree, prefix + name + b"/", out)


Job = tuple[bytes, bytes, list[bytes]]  # a commit, its tree and its parents
CHUNK = 2048  # commits a worker process diffs per request
_encoder = msgspec.msgpack.Encoder()
_jobs = msgspec.msgpack.Decoder(tuple[str, list[Job]])
_answers = msgspec.msgpack.Decoder()  # lists of paths: str, or bytes where not UTF-8


def changes(trees: _Trees, jobs: list[Job]) -> list[list[str | bytes]]:
    """The paths each commit changed: against its parent, or for a merge those that differ from
    every parent (a parent that is not there, in a shallow clone, counts as empty)."""
    tree_of = {commit: tree for commit, tree, _ in jobs}  # a parent is most often the next job
    out: list[list[str | bytes]] = []
    for _, tree, parents in jobs:
        parent_trees = [tree_of.get(parent) or trees.tree_of(parent) for parent in parents]
        paths: list[bytes] = []
        if len(parent_trees) > 1:
            trees.differing(parent_trees, tree, b"", paths)
        else:
            trees.changed(parent_trees[0] if parent_trees else None, tree, b"", paths)
        out.append([_text(path) for path in paths])
    return out


def _text(path: bytes) -> str | bytes:
    """A path as text; one that is not UTF-8 stays bytes (msgpack carries no lone surrogate)."""
    try:
        return path.decode()
    except UnicodeDecodeError:
        return path


def merge_paths(git: pygit2.Repository, commit: pygit2.Commit) -> list[str]:
    """The paths a merge changed: those that differ from every parent (as the graph has them)."""
    paths: list[bytes] = []
    _Trees(git.odb).differing([parent.tree_id.raw for parent in commit.parents], commit.tree_id.raw, b"", paths)
    return [path.decode("utf-8", "surrogateescape") for path in paths]


_served: dict[str, _Trees] = {}


def _answer(body: bytes) -> bytes:
    gitdir, jobs = _jobs.decode(body)
    trees = _served.get(gitdir)
    if trees is None:
        _served.clear()
        trees = _served[gitdir] = _Trees.opening(gitdir)
    return _encoder.encode(changes(trees, jobs))


def serve(read_fd: int, write_fd: int) -> None:
    """A worker process's main loop (``assistant.procs``): ``(gitdir, jobs)`` in, the paths each
    job's commit changed out. It runs at a lower priority: the graph is background work."""
    with contextlib.suppress(OSError):
        os.nice(5)
    pygit2.settings.cache_max_size(WORKER_OBJECT_CACHE)  # trees are kept here, parsed, in _Trees
    procs.serve(read_fd, write_fd, _answer)


class _Differ:
    """``changes`` of chunks of jobs on worker processes, started with the first chunk (while
    the walk goes on); a chunk whose worker died, or could not start, is diffed in the thread
    that asks for the results."""

    def __init__(self, gitdir: str, count: int, cancel: threading.Event | None) -> None:
        self.gitdir = gitdir
        self.count = count
        self.cancel = cancel
        self.chunks: list[list[Job]] = []
        self.results: dict[int, list[list[str | bytes]]] = {}
        self.todo: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        self.running: list[procs.Worker] = []
        self.threads: list[threading.Thread] = []

    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def submit(self, chunk: list[Job]) -> None:
        if not self.threads:
            for _ in range(self.count):
                self.threads.append(threading.Thread(target=self._feed, name="history-diff", daemon=True))
                self.threads[-1].start()
        self.chunks.append(chunk)
        self.todo.put(len(self.chunks) - 1)

    def finish(self) -> list[list[str | bytes]] | None:
        """Every chunk's changes, in order; None when cancelled."""
        self.todo.put(None)
        for thread in self.threads:
            while thread.is_alive():
                thread.join(0.1)
                if self.cancelled():
                    for worker in self.running:
                        worker.process.kill()
        if self.cancelled():
            return None
        out: list[list[str | bytes]] = []
        trees: _Trees | None = None
        for number, chunk in enumerate(self.chunks):
            found = self.results.get(number)
            if found is None:
                trees = trees or _Trees.opening(self.gitdir)
                found = changes(trees, chunk)
            out.extend(found)
        return out

    def _feed(self) -> None:
        try:
            worker = procs.Worker(__name__)
        except OSError as exc:
            log.warning("a history worker process could not start (%s): its part is diffed in-thread", exc)
            return
        self.running.append(worker)
        try:
            while not self.cancelled() and (number := self.todo.get()) is not None:
                try:
                    answer = worker.run(_encoder.encode((self.gitdir, self.chunks[number])))
                    self.results[number] = _answers.decode(answer)
                except (procs.WorkerDied, msgspec.DecodeError) as exc:
                    log.warning("a history worker process failed (%s): its part is diffed in-thread", exc)
                    return
            self.todo.put(None)  # for the other feeders
        finally:
            worker.stop(kill=self.cancelled())


def build(
    git: pygit2.Repository,
    head: pygit2.Oid,
    previous: Graph | None = None,
    cancel: threading.Event | None = None,
    *,
    gitdir: str | None = None,
    workers: int = 0,
    chunk: int = CHUNK,
) -> Graph | None:
    """The graph of everything ``head`` reaches; with ``previous`` (whose head ``head`` reaches)
    only the new commits are read. With ``gitdir`` (where they open the repository) and
    ``workers`` > 1, the commits' trees are compared on that many processes, ``chunk`` commits
    at a time as the walk finds them (unless there is less than a chunk), else in this thread.
    None when cancelled."""
    walker = git.walk(head, SortMode.NONE)
    if previous is not None:
        walker.hide(pygit2.Oid(raw=previous.head))
    differ = _Differ(gitdir, workers, cancel) if gitdir is not None and workers > 1 else None
    new_ids: list[bytes] = []
    parent_ids: list[list[bytes]] = []
    times: list[int] = []
    author_times: list[int] = []
    offsets: list[int] = []
    authors: list[str] = []
    messages: list[str] = []
    jobs: list[Job] = []
    for commit in walker:
        raw = commit.id.raw
        parent_raws = [p.raw for p in commit.parent_ids]
        author = commit.author
        new_ids.append(raw)
        parent_ids.append(parent_raws)
        times.append(commit.commit_time)
        author_times.append(author.time)
        offsets.append(author.offset)
        authors.append(author.name)
        messages.append(commit.message[:MAX_MESSAGE])
        jobs.append((raw, commit.tree_id.raw, parent_raws))
        if differ is not None and len(jobs) == chunk:
            differ.submit(jobs)
            jobs = []
        if len(new_ids) % 1024 == 0 and cancel is not None and cancel.is_set():
            break
    found: list[list[str | bytes]] | None
    if differ is not None and differ.chunks:
        if jobs:
            differ.submit(jobs)
        found = differ.finish()
    else:
        found, trees = [], _Trees(git.odb)
        for start in range(0, len(jobs), 256):
            if cancel is not None and cancel.is_set():
                break
            found.extend(changes(trees, jobs[start : start + 256]))
    if found is None or (cancel is not None and cancel.is_set()):
        return None
    paths = list(previous.paths) if previous is not None else []
    path_index = dict(previous.path_index) if previous is not None else {}
    offset = len(new_ids)
    index = {raw: i for i, raw in enumerate(new_ids)}
    if previous is not None:
        for raw, i in previous.index.items():
            index[raw] = i + offset
    parents = [[index[p] for p in ps if p in index] for ps in parent_ids]
    changed: list[list[int]] = []
    for out in found:
        ids = []
        for name in out:
            path = name if isinstance(name, str) else name.decode("utf-8", "surrogateescape")
            at = path_index.get(path)
            if at is None:
                at = path_index[path] = len(paths)
                paths.append(path)
            ids.append(at)
        changed.append(ids)
    before = previous.stored() if previous is not None else Stored(VERSION, b"", *([] for _ in _SAVED[1:]))
    made = Graph(
        head=head.raw,
        ids=new_ids + before.ids,
        parents=parents + [[p + offset for p in ps] for ps in before.parents],
        times=times + before.times,
        author_times=author_times + before.author_times,
        offsets=offsets + before.offsets,
        authors=authors + before.authors,
        messages=messages + before.messages,
        changed=changed + before.changed,
        paths=paths,
    )
    return made


# -- blame ---------------------------------------------------------------------------------


@dataclass(order=True)
class _Pending:
    """Lines of the file as they are in commit ``commit`` (``lines``: pairs of the line there
    and the line at HEAD), waiting to be passed to its parents or blamed on it."""

    sort: tuple[int, int]
    commit: int = field(compare=False)
    blob: bytes = field(compare=False)
    path: str = field(compare=False)
    lines: list[tuple[int, int]] = field(compare=False)


class _Blobs:
    """Blobs a blame reads, the recent ones kept: each version of the file is the new side of
    one diff and the old side of the next."""

    def __init__(self, git: pygit2.Repository) -> None:
        self.git = git
        self.kept: dict[bytes, pygit2.Blob] = {}

    def get(self, raw: bytes) -> pygit2.Blob:
        blob = self.kept.get(raw)
        if blob is None:
            if len(self.kept) >= 64:
                self.kept.clear()
            blob = self.kept[raw] = self.git[pygit2.Oid(raw=raw)].peel(pygit2.Blob)
        return blob

    def hunks(self, old: bytes, new: bytes) -> list[tuple[int, int, int, int]]:
        # git's own default since 2.14: the indent heuristic places a change where a person would
        patch = self.get(old).diff(self.get(new), DiffOption.INDENT_HEURISTIC, context_lines=0)  # type: ignore[call-arg]
        return [(h.old_start, h.old_lines, h.new_start, h.new_lines) for h in patch.hunks]


def _through(
    hunks: list[tuple[int, int, int, int]], lines: list[tuple[int, int]]
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Split ``lines`` (sorted by their line in the new blob) into those the diff added (kept
    as they are) and the others, mapped to their line in the old blob. Each hunk finds its
    lines by bisection; the lines between hunks move by slices."""
    heres = [here for here, _ in lines]
    added: list[tuple[int, int]] = []
    kept: list[tuple[int, int]] = []
    shift = 0
    at = 0
    for _, old_lines, new_start, new_lines in hunks:
        first = new_start if new_lines else new_start + 1  # a deletion sits after new_start
        until = bisect.bisect_left(heres, first, at)
        if shift:
            kept.extend([(here - shift, final) for here, final in lines[at:until]])
        else:
            kept.extend(lines[at:until])
        at = until
        if new_lines:
            past = bisect.bisect_right(heres, new_start + new_lines - 1, at)
            added.extend(lines[at:past])
            at = past
        shift += new_lines - old_lines
    if shift:
        kept.extend([(here - shift, final) for here, final in lines[at:]])
    else:
        kept.extend(lines[at:])
    return added, kept


def entry_at(git: pygit2.Repository, commit: bytes, path: str) -> bytes | None:
    """The raw id of what ``path`` (a file or a directory) is at a commit, or None."""
    try:
        return bytes(git[pygit2.Oid(raw=commit)].peel(pygit2.Commit).tree[path].id.raw)
    except KeyError:
        return None


def _same_in(git: pygit2.Repository, graph: Graph, parents: list[int], path: str, blob: bytes) -> int | None:
    """The first of a merge's parents that has ``path`` as ``blob``."""
    for parent in parents:
        if entry_at(git, graph.ids[parent], path) == blob:
            return parent
    return None


def blame(
    git: pygit2.Repository,
    graph: Graph,
    path: str,
    start: int,
    end: int,
    renamed_from: Callable[[int, str], str | None] = lambda commit, path: None,
) -> dict[int, int]:
    """For each line ``start``..``end`` of ``path`` at the graph's head, the index of the commit
    that last changed it: the commits are visited newest first from HEAD, lines passing to a
    parent where the parent has them unchanged (as git blame does, every parent of a merge), and
    commits that did not change the path are stepped over without reading anything."""
    head_blob = entry_at(git, graph.head, path)
    if head_blob is None:
        return {}
    blobs = _Blobs(git)
    out: dict[int, int] = {}
    queue: list[_Pending] = [_Pending((0, 0), 0, head_blob, path, [(n, n) for n in range(start, end + 1)])]
    while queue:
        item = heapq.heappop(queue)
        lines = item.lines
        while queue and queue[0].commit == item.commit and queue[0].path == item.path:  # reached twice
            lines = sorted(lines + heapq.heappop(queue).lines)
        commit = item.commit
        parents = graph.parents[commit]
        if not parents:
            for _, final in lines:
                out[final] = commit
            continue
        index = graph.path_index.get(item.path)
        changed = index is not None and index in graph.changed[commit]
        if not changed:  # the file as a parent has it: all of it passes to the first such parent, as git does
            same = parents[0] if len(parents) == 1 else _same_in(git, graph, parents, item.path, item.blob)
            if same is not None:
                heapq.heappush(queue, _Pending((-graph.times[same], same), same, item.blob, item.path, lines))
                continue
        remaining = lines
        for parent in parents:
            if not remaining:
                break
            older_path = item.path
            parent_blob = entry_at(git, graph.ids[parent], older_path)
            if parent_blob is None and len(parents) == 1:  # added here: renamed from another path?
                before = renamed_from(commit, item.path)
                if before is not None:
                    older_path = before
                    parent_blob = entry_at(git, graph.ids[parent], before)
            if parent_blob is None:
                continue
            if parent_blob == item.blob:
                passed, remaining = remaining, []
            else:
                added, passed = _through(blobs.hunks(parent_blob, item.blob), remaining)
                remaining = added
            if passed:
                heapq.heappush(queue, _Pending((-graph.times[parent], parent), parent, parent_blob, older_path, passed))
        for _, final in remaining:
            out[final] = commit
    return out


# -- ranked search: commit messages as evidence of what files are about ---------------------

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]+")
_CAMEL = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_STOP = frozenset(
    " ".join(
        (
            "the and for with from this that into when then than are was were has have had not but all any can",
            "add adds added fix fixes fixed use uses used make makes update updates updated remove removes removed",
            "merge merged branch pull request bump version release changes change new more some also only its",
        )
    ).split()
)
MAX_FILES_PER_COMMIT = 30  # a commit that touched more says little about each file
HALF_LIFE = 4000  # commits: a message this many commits old counts half
MAX_COMMITS_SCANNED = 50_000


def words(text: str) -> set[str]:
    """The words of a message or a query as the history field indexes them (lower case,
    identifiers split; short and common words dropped)."""
    out: set[str] = set()
    for word in set(_WORD.findall(text)):
        out.update(_forms(word))
    return out


@functools.lru_cache(maxsize=1 << 16)
def _forms(word: str) -> tuple[str, ...]:
    """A word's indexed forms: itself and its parts, lower case (a message's words repeat
    across a history, so they are worked out once)."""
    forms = {word.lower(), *(part.lower() for part in _CAMEL.findall(word))}
    return tuple(form for form in forms if len(form) > 2 and form not in _STOP)


@dataclass
class HistoryField:
    """Commit messages as a field of the files they changed: for a query's words, the files
    whose commits say them, weighted by rarity and recency."""

    graph: Graph
    postings: dict[str, list[tuple[int, int]]]  # word -> (commit, its age) whose message has it, newest first
    commits: int  # how many commits the field holds

    @classmethod
    def of(
        cls, graph: Graph, cancel: threading.Event | None = None, keep: Iterable[int] | None = None
    ) -> HistoryField | None:
        """The field of the graph's newest commits (``keep``: only these, newest first; a
        benchmark cuts history at a question's parent commit); a commit's age counts the
        commits kept before it."""
        postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        age = 0
        for commit in keep if keep is not None else range(len(graph)):
            if age >= MAX_COMMITS_SCANNED:
                break
            if cancel is not None and age % 1024 == 0 and cancel.is_set():
                return None
            age += 1
            if len(graph.parents[commit]) > 1 or not graph.changed[commit]:
                continue  # a merge: its changes are the merged commits'
            if len(graph.changed[commit]) > MAX_FILES_PER_COMMIT:
                continue
            for word in words(graph.messages[commit]):
                postings[word].append((commit, age))
        return cls(graph, dict(postings), age)

    def evidence(self, query: str, limit: int = 20) -> list[tuple[str, float, str]]:
        """Files for ``query``'s words, best first: (path, score from 0 to 1, why) where why is
        ``history:retry×3,timeout×1`` (commits that said each word)."""  # noqa: RUF002
        asked = words(query)
        total = max(1, self.commits)
        scores: dict[int, float] = defaultdict(float)
        said: dict[int, Counter[str]] = defaultdict(Counter)
        for word in asked:
            commits = self.postings.get(word)
            if not commits or (len(commits) > 20 and len(commits) > total * 0.05):
                continue  # too common to say anything
            idf = math.log(1 + total / len(commits))
            per_file: dict[int, float] = defaultdict(float)
            for commit, age in commits:
                weight = 0.5 ** (age / HALF_LIFE)
                for p in self.graph.changed[commit]:
                    per_file[p] += weight
                    said[p][word] += 1
            for p, weight in per_file.items():
                scores[p] += idf * math.log1p(weight)
        if not scores:
            return []
        best = max(scores.values())
        ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:limit]
        out = []
        for p, score in ranked:
            top = ",".join(f"{w}×{n}" for w, n in said[p].most_common(3))  # noqa: RUF001
            out.append((self.graph.paths[p], score / best, f"history:{top}"))
        return out


# -- the cache file ------------------------------------------------------------------------


def cache_file(cache_dir: str | None, gitdir: str) -> Path | None:
    if not cache_dir:
        return None
    digest = hashlib.sha256(os.path.realpath(gitdir).encode("utf-8", "surrogateescape")).hexdigest()[:24]
    return Path(cache_dir) / "history" / f"{digest}.graph"


def load(path: Path | None) -> Graph | None:
    if path is None:
        return None
    try:
        stored = msgspec.msgpack.decode(path.read_bytes(), type=Stored)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        return None
    if stored.version != VERSION:
        return None
    lengths = {len(stored.ids), len(stored.parents), len(stored.times), len(stored.messages), len(stored.changed)}
    if len(lengths) != 1:
        return None  # damaged: rebuilt
    return Graph.of(stored)


def save(path: Path | None, graph: Graph) -> None:
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".tmp{os.getpid()}")
        temporary.write_bytes(msgspec.msgpack.encode(graph.stored()))
        os.replace(temporary, path)
    except OSError as exc:
        log.warning("the history cache could not be written (%s): it is built again next time", exc)


class Keeper:
    """Keeps one repository's graph (and its search field) up to date in a background thread."""

    def __init__(self, gitdir: str, cache_dir: str | None, *, enabled: bool = True) -> None:
        self.enabled = enabled  # False: never built (the tools read the repository directly)
        self.gitdir = gitdir
        self.file = cache_file(cache_dir, gitdir)
        self.graph: Graph | None = None
        self.field: HistoryField | None = None
        self.build_seconds: float | None = None  # the last build of the graph, when one ran
        self.field_seconds: float | None = None  # and of the search field after it
        self._lock = threading.Lock()
        self._running = False
        self._cancel = threading.Event()

    def current(self, head: bytes | None) -> Graph | None:
        """The graph if it is at ``head``; else None, and an update starts."""
        graph = self.graph
        if graph is not None and graph.head == head:
            return graph
        if head is not None:
            self.refresh()
        return None

    def refresh(self) -> None:
        with self._lock:
            if self._running or not self.enabled:
                return
            self._running = True
        threading.Thread(target=self._update, name="history-graph", daemon=True).start()

    def _update(self) -> None:
        try:
            git = pygit2.Repository(self.gitdir, RepositoryOpenFlag.NO_SEARCH)
            if git.head_is_unborn:
                return
            head = git.head.peel(pygit2.Commit).id
            previous = self.graph or load(self.file)
            if previous is not None and previous.head == head.raw:
                self.graph = previous
            else:
                if previous is not None and not (
                    pygit2.Oid(raw=previous.head) == head or git.descendant_of(head, pygit2.Oid(raw=previous.head))
                ):
                    previous = None  # history was rewritten: read it all again
                started = time.perf_counter()
                made = build(git, head, previous, self._cancel, gitdir=self.gitdir, workers=WORKERS)
                if made is None:
                    return
                self.build_seconds = time.perf_counter() - started
                self.graph = made
                save(self.file, made)
            if self.graph is not None:
                started = time.perf_counter()
                self.graph.touching("")  # the path -> commits table, before the first log asks
                self.field = HistoryField.of(self.graph, self._cancel)
                self.field_seconds = time.perf_counter() - started
            git.free()
        except (pygit2.GitError, KeyError, ValueError, OSError) as exc:
            log.warning("the commit graph of %s could not be built: %s", self.gitdir, exc)
        finally:
            with self._lock:
                self._running = False

    def wait(self, seconds: float) -> bool:
        """For tests and benchmarks: wait until no update runs."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with self._lock:
                if not self._running:
                    return True
            time.sleep(0.01)
        return False

    def close(self) -> None:
        self._cancel.set()
