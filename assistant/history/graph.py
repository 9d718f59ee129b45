"""The commit graph of a repository, in memory and cached on disk: every commit HEAD reaches (its
parents, time, author, message) and the paths it changed against its first parent.

Asking libgit2 "did this commit change this path?" commit by commit is what makes a path's log
and a blame slow on a long history (a tree lookup per commit and parent, from Python). The graph
answers it from memory: it is built once in a background thread (trees compared as raw objects,
only where their ids differ), saved in the cache directory, and brought up to date when HEAD
moves (only the new commits are read). Until it is ready the history tools read the repository
directly, as before; ranked search uses it (``field``) only once it is ready, so it never
delays a search.
"""

from __future__ import annotations

import bisect
import hashlib
import heapq
import logging
import math
import os
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

log = logging.getLogger("assistant.history")

VERSION = 1
MAX_MESSAGE = 2048  # of a commit's message kept (the subject and the start of the body)
_ENTRY = re.compile(rb"\d+ [^\0]*\0.{20}", re.S)
_TREE_MODE = b"40000"
_TREE_CACHE = 50_000
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
    commit ``i`` changed against its first parent (everything, for a root)."""

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
        """The commits that changed ``path`` (a file) against their first parent, newest first."""
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

    @staticmethod
    def _split(entry: bytes) -> tuple[bytes, bytes, bytes]:
        mode, rest = entry.split(b" ", 1)
        return mode, rest[:-21], rest[-20:]

    def changed(self, old: bytes | None, new: bytes | None, prefix: bytes, out: list[bytes]) -> None:
        """The paths (files and links) that differ between two trees, appended to ``out``."""
        before = self.entries(old)
        after = self.entries(new)
        gone = before - after
        came = after - before
        if not gone and not came:
            return
        old_by_name = {name: (mode, raw) for mode, name, raw in map(self._split, gone)}
        for mode, name, raw in map(self._split, came):
            was = old_by_name.pop(name, None)
            was_tree = was is not None and was[0] == _TREE_MODE
            if mode == _TREE_MODE:
                self.changed(was[1] if was is not None and was_tree else None, raw, prefix + name + b"/", out)
                if was is not None and not was_tree:
                    out.append(prefix + name)
            else:
                out.append(prefix + name)
                if was is not None and was_tree:
                    self.changed(was[1], None, prefix + name + b"/", out)
        for name, (mode, raw) in old_by_name.items():
            if mode == _TREE_MODE:
                self.changed(raw, None, prefix + name + b"/", out)
            else:
                out.append(prefix + name)


def _walk(git: pygit2.Repository, head: pygit2.Oid, hide: pygit2.Oid | None) -> list[pygit2.Commit]:
    walker = git.walk(head, SortMode.NONE)
    if hide is not None:
        walker.hide(hide)
    return list(walker)


def build(
    git: pygit2.Repository, head: pygit2.Oid, previous: Graph | None = None, cancel: threading.Event | None = None
) -> Graph | None:
    """The graph of everything ``head`` reaches; with ``previous`` (whose head ``head`` reaches)
    only the new commits are read. None when cancelled."""
    hide = pygit2.Oid(raw=previous.head) if previous is not None else None
    commits = _walk(git, head, hide)
    trees = _Trees(git.odb)
    known_tree: dict[bytes, bytes] = {c.id.raw: c.tree_id.raw for c in commits}
    paths = list(previous.paths) if previous is not None else []
    path_index = dict(previous.path_index) if previous is not None else {}
    new_ids = [c.id.raw for c in commits]
    offset = len(new_ids)
    index = {raw: i for i, raw in enumerate(new_ids)}
    if previous is not None:
        for raw, i in previous.index.items():
            index[raw] = i + offset
    changed: list[list[int]] = []
    parents: list[list[int]] = []
    for number, commit in enumerate(commits):
        if cancel is not None and number % 256 == 0 and cancel.is_set():
            return None
        parent_raws = [p.raw for p in commit.parent_ids]
        parents.append([index[p] for p in parent_raws if p in index])
        first = parent_raws[0] if parent_raws else None
        first_tree = None
        if first is not None:
            first_tree = known_tree.get(first)
            if first_tree is None and first in index:  # an older commit, from the previous graph
                first_tree = git[pygit2.Oid(raw=first)].peel(pygit2.Commit).tree_id.raw
                known_tree[first] = first_tree
        out: list[bytes] = []
        trees.changed(first_tree, commit.tree_id.raw, b"", out)
        ids = []
        for raw_path in out:
            path = raw_path.decode("utf-8", "surrogateescape")
            at = path_index.get(path)
            if at is None:
                at = path_index[path] = len(paths)
                paths.append(path)
            ids.append(at)
        changed.append(ids)
    made = Graph(
        head=head.raw,
        ids=new_ids + (previous.ids if previous is not None else []),
        parents=parents + ([[p + offset for p in ps] for ps in previous.parents] if previous is not None else []),
        times=[c.commit_time for c in commits] + (previous.times if previous is not None else []),
        author_times=[c.author.time for c in commits] + (previous.author_times if previous is not None else []),
        offsets=[c.author.offset for c in commits] + (previous.offsets if previous is not None else []),
        authors=[c.author.name for c in commits] + (previous.authors if previous is not None else []),
        messages=[c.message[:MAX_MESSAGE] for c in commits] + (previous.messages if previous is not None else []),
        changed=changed + (previous.changed if previous is not None else []),
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
        if len(parents) == 1 and not changed:
            parent = parents[0]
            heapq.heappush(queue, _Pending((-graph.times[parent], parent), parent, item.blob, item.path, lines))
            continue
        remaining = lines
        for number, parent in enumerate(parents):
            if not remaining:
                break
            older_path = item.path
            if number == 0 and not changed:
                parent_blob: bytes | None = item.blob
            else:
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
    for word in _WORD.findall(text):
        low = word.lower()
        if len(low) > 2 and low not in _STOP:
            out.add(low)
        for part in _CAMEL.findall(word):
            part = part.lower()
            if len(part) > 2 and part not in _STOP:
                out.add(part)
    return out


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
        self.build_seconds: float | None = None
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
                made = build(git, head, previous, self._cancel)
                if made is None:
                    return
                self.build_seconds = time.perf_counter() - started
                self.graph = made
                save(self.file, made)
            if self.graph is not None:
                self.graph.touching("")  # the path -> commits table, before the first log asks
                self.field = HistoryField.of(self.graph, self._cancel)
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
