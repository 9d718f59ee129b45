"""A repository's history, read with libgit2 (pygit2) and never by running ``git``.

Why a library: a cloned repository's config can name programs (``core.fsmonitor``,
``diff.external``, filter drivers, ``textconv``, hooks) that ``git`` would run. libgit2 runs none
of them: it has no hooks, no fsmonitor, no external diff, and only its built-in filters. Nothing
here writes to ``.git`` (no index refresh, no lock files).

What the sandbox promises holds for history too:
- the history is only found in a ``.git`` directory inside the allowed root (a ``.git`` file, a
  linked worktree's ``commondir``, borrowed objects (``alternates``) or a ``core.worktree``
  elsewhere mean the history lives outside, so there is none);
- a repository that is a subdirectory of its git repository sees the history of its own prefix
  only, with paths relative to itself;
- the content and the name of a path that is git-ignored *now* are never shown, at any commit;
- only commits reachable from the repository's branches, tags and HEAD can be shown.
"""

from __future__ import annotations

import math
import os
import re
import stat
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import msgspec
import pygit2
from pygit2.enums import ConfigLevel, DeltaStatus, DiffFind, RepositoryOpenFlag, SortMode

from assistant.errors import AssistantError
from sandbox import Components, Ignored, Repo

from .graph import Graph, HistoryField, Keeper, entry_at, merge_paths
from .graph import blame as graph_blame

# The history of a repository is read without the user's or the system's git config (nothing
# there changes what is shown), and without libgit2's owner check: that check protects a `git`
# that would run programs named by another user's config, and libgit2 runs none.
for _level in (ConfigLevel.SYSTEM, ConfigLevel.GLOBAL, ConfigLevel.XDG, ConfigLevel.PROGRAMDATA):
    pygit2.settings.search_path[_level] = ""
pygit2.settings.owner_validation = False

MAX_LOG = 100
DEFAULT_LOG = 20
MAX_BLAME_LINES = 5_000
MAX_PATCH_BYTES = 256 * 1024  # one file's diff in a commit, for the API; the model gets 16 KB in all
MAX_FILES = 500  # files listed for one commit
QUERY_COMMITS = 20_000  # commit messages searched by a query, newest first
_HEX = re.compile(r"[0-9a-fA-F]{4,40}")
_REF = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./-]{0,200}")  # HEAD, a branch, a tag: no ~ ^ : @ { }
_RELATIVE = re.compile(r"(\d+)\s*(day|week|month|year)s?(\s+ago)?", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z0-9]+")
_CAMEL = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


class HistoryUnavailable(AssistantError):
    def __init__(self, reason: str) -> None:
        super().__init__("history_unavailable", f"this repository has no history to show: {reason}", param="repo")
        self.reason = reason


def commit_not_found(given: str, why: str = "") -> AssistantError:
    return AssistantError(
        "commit_not_found",
        f"no commit {given!r} in this repository's branches and tags{why}",
        param="commit",
    )


class CommitSummary(msgspec.Struct, kw_only=True):
    """One commit as a log shows it. ``files``: the paths it changed that may be shown (relative
    to the repository); ``hidden_files``: how many more it changed that are git-ignored now."""

    id: str
    short_id: str
    date: str
    author: str
    subject: str
    files: list[str]
    hidden_files: int = 0


class FileChange(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One file's part of a diff: ``status`` added, deleted, modified or renamed (``old_path``)."""

    path: str
    status: str
    additions: int
    deletions: int
    binary: bool
    patch: str
    truncated: bool = False
    old_path: str | None = None


class CommitDetail(msgspec.Struct, kw_only=True):
    """A commit: its whole message, its parents, and its diff against its first parent."""

    id: str
    short_id: str
    date: str
    author: str
    subject: str
    message: str
    parents: list[str]
    files: list[FileChange]
    hidden_files: int
    files_truncated: bool


class BlameRange(msgspec.Struct, kw_only=True):
    """Lines ``start_line``..``end_line`` of the file at HEAD were last changed by ``commit``."""

    start_line: int
    end_line: int
    commit: str
    short_id: str
    date: str
    author: str
    subject: str


class Blame(msgspec.Struct, kw_only=True):
    path: str
    start_line: int
    end_line: int
    total_lines: int
    ranges: list[BlameRange]
    working_copy_differs: bool  # the file has uncommitted changes: blame is of HEAD's version


class WorkingDiff(msgspec.Struct, kw_only=True):
    """Uncommitted changes against HEAD (``staged``: only what is in the index)."""

    staged: bool
    files: list[FileChange]
    hidden_files: int
    files_truncated: bool


@dataclass(frozen=True)
class Located:
    """Where a repository's history lives: its ``.git`` directory, and the repository's path
    inside that git repository's work tree (``prefix``)."""

    gitdir: str
    workdir: str
    prefix: Components


def locate(repo: Repo) -> Located:
    """Find the ``.git`` directory of a sandbox repository, at it or above it but never above
    its allowed root; HistoryUnavailable says why there is none."""
    top = repo.root.path
    here = repo.path
    while True:
        candidate = os.path.join(here, ".git")
        try:
            st = os.lstat(candidate)
        except FileNotFoundError:
            st = None
        except OSError as exc:
            raise HistoryUnavailable(f"its .git cannot be read ({exc.strerror})") from None
        if st is not None:
            if not stat.S_ISDIR(st.st_mode):
                raise HistoryUnavailable(
                    ".git is a file or a link (a linked worktree or a submodule): its history lives elsewhere"
                )
            break
        if here == top or len(here) <= len(top):
            raise HistoryUnavailable("it is not a git repository (no .git)")
        here = os.path.dirname(here)
    for borrowed, what in (
        ("commondir", "a linked worktree's"),
        (os.path.join("objects", "info", "alternates"), "objects borrowed from another repository (alternates)"),
    ):
        if os.path.lexists(os.path.join(candidate, borrowed)):
            raise HistoryUnavailable(f"its .git uses {what}, outside the allowed root")
    inside = repo.path[len(here) :].strip("/")
    return Located(candidate, here, tuple(p for p in inside.split("/") if p))


def _iso(seconds: int, offset_minutes: int) -> str:
    zone = timezone(timedelta(minutes=offset_minutes))
    return datetime.fromtimestamp(seconds, zone).isoformat()


def parse_since(text: str) -> int:
    """``since`` as a time: an ISO date or date-time, or ``N days|weeks|months|years (ago)``."""
    given = text.strip()
    relative = _RELATIVE.fullmatch(given)
    if relative:
        count = int(relative.group(1))
        days = {"day": 1, "week": 7, "month": 30, "year": 365}[relative.group(2).lower()]
        return int(time.time() - count * days * 86_400)
    try:
        when = datetime.fromisoformat(given.replace("Z", "+00:00"))
    except ValueError:
        raise AssistantError(
            "invalid_parameter",
            f"`since` must be an ISO date (2024-05-01), a date-time, or '3 weeks' / '2 months ago'; got {text!r}",
            param="since",
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp())


def query_terms(text: str) -> list[str]:
    """The words of a query or message, lower case, identifiers split (``parseConfig`` →
    ``parse``, ``config``, ``parseconfig``)."""
    out: list[str] = []
    for word in _WORD.findall(text):
        low = word.lower()
        out.append(low)
        parts = _CAMEL.findall(word)
        if len(parts) > 1:
            out.extend(part.lower() for part in parts)
    for word in re.findall(r"[A-Za-z0-9]+(?:_[A-Za-z0-9]+)+", text):
        out.extend(part.lower() for part in word.split("_") if part)
    return out


class History:
    """One repository's history. libgit2 objects are not shared between threads: one lock."""

    def __init__(self, located: Located, cache_dir: str | None = None, *, graph: bool = True) -> None:
        self.located = located
        self.keeper = Keeper(located.gitdir, cache_dir, enabled=graph)
        self.prefix = located.prefix
        self._lock = threading.Lock()
        try:
            self._git = pygit2.Repository(located.gitdir, RepositoryOpenFlag.NO_SEARCH)
        except (pygit2.GitError, ValueError, KeyError) as exc:
            raise HistoryUnavailable(f"its .git cannot be read ({exc})") from None
        workdir = self._git.workdir
        if workdir is None or os.path.realpath(workdir.rstrip("/")) != os.path.realpath(located.workdir):
            raise HistoryUnavailable("its work tree is set elsewhere (core.worktree) or it is bare")
        self.keeper.refresh()  # the commit graph, built in the background

    @property
    def shallow(self) -> bool:
        return bool(self._git.is_shallow)

    @contextmanager
    def _locked(self) -> Iterator[pygit2.Repository]:
        with self._lock:
            try:
                yield self._git
            except pygit2.GitError as exc:
                raise HistoryUnavailable(f"its history could not be read ({exc})") from None

    # -- paths ----------------------------------------------------------------------------

    def git_path(self, comps: Components) -> str:
        return "/".join(self.prefix + comps)

    def shown_path(self, git_path: str) -> Components | None:
        """A git path as the repository's own components, or None when it is outside it."""
        parts = tuple(git_path.split("/"))
        if parts[: len(self.prefix)] != self.prefix:
            return None
        return parts[len(self.prefix) :]

    @staticmethod
    def path_arg(repo: Repo, given: str | None) -> Components | None:
        """A client's path by the sandbox's path rule (None: the whole repository); a path that is
        git-ignored now (as a file or as a directory) is refused like read_file refuses it."""
        if not given:
            return None
        comps = repo.components(given)
        if comps and (repo.ignore.is_ignored(comps, False) or repo.ignore.is_ignored(comps, True)):
            raise Ignored(f"{'/'.join(comps)} is git-ignored; ignored files and their history are never shown")
        return comps or None

    @staticmethod
    def visible(repo: Repo, comps: Components | None) -> bool:
        """May this path's name and content be shown: inside the repository and not git-ignored
        now (by its own name or a directory above it)."""
        if not comps or ".git" in comps:
            return False
        return not repo.ignore.is_ignored(comps, False)

    # -- commits --------------------------------------------------------------------------

    def _tips(self, git: pygit2.Repository) -> list[pygit2.Oid]:
        tips: list[pygit2.Oid] = []
        if not git.head_is_unborn:
            tips.append(git.head.peel(pygit2.Commit).id)
        for name in git.listall_references():
            if not name.startswith(("refs/heads/", "refs/tags/", "refs/remotes/")):
                continue
            try:
                tip = pygit2.Oid(raw=git.references[name].peel(pygit2.Commit).id.raw)
            except (pygit2.GitError, ValueError, KeyError, pygit2.InvalidSpecError):
                continue  # a tag of a tree or a blob, a dangling ref
            if tip not in tips:
                tips.append(tip)
        return tips

    def resolve(self, given: str) -> pygit2.Commit:
        """A commit named by a full or short hexadecimal id, HEAD, or a branch or tag name;
        nothing else (no revision syntax, which could name a blob or a tree by path), and only
        one reachable from a branch, a tag or HEAD."""
        text = given.strip()
        with self._locked() as git:
            found: object = None
            if _HEX.fullmatch(text):
                try:
                    found = git.get(text.lower())
                except ValueError:
                    raise commit_not_found(
                        given, " (that short id names more than one object: give more digits)"
                    ) from None
            if found is None and _REF.fullmatch(text) and ".." not in text:
                try:
                    found = git.lookup_reference_dwim(text).peel(pygit2.Commit)
                except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
                    found = None
            if found is None and not _HEX.fullmatch(text):
                raise commit_not_found(
                    given, " (give a commit id of 4 to 40 hexadecimal digits, HEAD, or a branch or tag)"
                )
            if not isinstance(found, pygit2.Commit):
                raise commit_not_found(given)
            for tip in self._tips(git):
                if tip == found.id or git.descendant_of(tip, found.id):
                    return found
        raise commit_not_found(given)

    def _changes(self, git: pygit2.Repository, commit: pygit2.Commit, *, renames: bool = False) -> pygit2.Diff:
        if commit.parents:
            diff = commit.parents[0].tree.diff_to_tree(commit.tree)
        else:
            diff = commit.tree.diff_to_tree(swap=True)
        if renames:
            diff.find_similar(DiffFind.FIND_RENAMES)
        return diff

    def _summary(self, git: pygit2.Repository, repo: Repo, commit: pygit2.Commit) -> CommitSummary:
        files: list[str] = []
        hidden = 0
        if len(commit.parents) > 1:  # a merge: what differs from every parent
            changed = merge_paths(git, commit)
        else:
            deltas = self._changes(git, commit).deltas
            changed = [d.new_file.path if d.status != DeltaStatus.DELETED else d.old_file.path for d in deltas]
        for path in changed:
            comps = self.shown_path(path)
            if comps is None:
                continue
            if self.visible(repo, comps):
                files.append("/".join(comps))
            else:
                hidden += 1
        return _summary(commit, files, hidden)

    def _touches(self, commit: pygit2.Commit, path: str) -> bool:
        """Did this commit change ``path`` (a file or a directory; "" is the whole tree)? A merge
        did when it differs from every parent."""
        mine = _entry(commit.tree, path)
        if not commit.parents:
            return mine is not None
        return all(_entry(parent.tree, path) != mine for parent in commit.parents)

    def _renamed_from(self, git: pygit2.Repository, commit: pygit2.Commit, path: str) -> str | None:
        """The path this commit renamed to ``path``, if it did."""
        if not commit.parents:
            return None
        diff = commit.parents[0].tree.diff_to_tree(commit.tree)
        diff.find_similar(DiffFind.FIND_RENAMES)
        for delta in diff.deltas:
            if delta.status == DeltaStatus.RENAMED and delta.new_file.path == path:
                return str(delta.old_file.path)
        return None

    def log(
        self,
        repo: Repo,
        path: Components | None = None,
        *,
        query: str | None = None,
        since: int | None = None,
        limit: int = DEFAULT_LOG,
        cancel: threading.Event | None = None,
    ) -> list[CommitSummary]:
        """Commits newest first: those that changed ``path`` (following its renames), whose
        message matches ``query`` (ranked: rarer words count more, then newer first), since a
        time. A commit that changed only hidden paths is not listed."""
        target = self.git_path(path or ())
        is_file = False
        with self._locked() as git:
            if git.head_is_unborn:
                return []
            head = git.head.peel(pygit2.Commit)
            if target:
                is_file = isinstance(_object_at(git, head.tree, target), pygit2.Blob)
            graph = self.keeper.current(head.id.raw)
            if graph is not None:
                return self._log_graph(git, graph, repo, target, is_file, query, since, limit)
            walker = git.walk(head.id, SortMode.NONE)
            terms = sorted(set(query_terms(query))) if query else []
            frequency = dict.fromkeys(terms, 0)
            matched: list[tuple[int, pygit2.Commit]] = []  # with terms: (order, commit)
            out: list[CommitSummary] = []
            scanned = 0
            for commit in walker:
                scanned += 1
                if (cancel is not None and cancel.is_set()) or (terms and scanned > QUERY_COMMITS):
                    break
                if since is not None and commit.commit_time < since:
                    break
                if target:
                    if not self._touches(commit, target):
                        continue
                    if is_file and commit.parents and _entry(commit.parents[0].tree, target) is None:
                        target = self._renamed_from(git, commit, target) or target  # follow it back
                if terms:
                    words = set(query_terms(commit.message))
                    hits = [t for t in terms if t in words]
                    for term in hits:
                        frequency[term] += 1
                    if hits:
                        matched.append((scanned, commit))
                    continue
                summary = self._summary(git, repo, commit)
                if summary.files or not summary.hidden_files:
                    out.append(summary)
                if len(out) >= limit:
                    break
            if not terms:
                return out
            weights = {t: _idf(scanned, frequency[t]) for t in terms}
            ranked = sorted(
                matched,
                key=lambda item: (-sum(weights[t] for t in set(query_terms(item[1].message)) if t in weights), item[0]),
            )
            for _, commit in ranked:
                summary = self._summary(git, repo, commit)
                if summary.files or not summary.hidden_files:
                    out.append(summary)
                if len(out) >= limit:
                    break
            return out

    def _log_graph(
        self,
        git: pygit2.Repository,
        graph: Graph,
        repo: Repo,
        target: str,
        is_file: bool,
        query: str | None,
        since: int | None,
        limit: int,
    ) -> list[CommitSummary]:
        """``log`` from the commit graph: the same commits, without reading a tree per commit."""
        candidates: Iterable[int]
        if not target:
            candidates = range(len(graph))
        elif is_file:
            candidates = self._following(git, graph, target)
        else:
            candidates = graph.touching_under(target)
        terms = sorted(set(query_terms(query))) if query else []
        seen: dict[int, str] = {}
        out: list[CommitSummary] = []
        frequency = dict.fromkeys(terms, 0)
        matched: list[int] = []
        for commit in candidates:
            if since is not None and graph.times[commit] < since:
                break
            parents = graph.parents[commit]
            if target and len(parents) > 1:  # a merge that took the path from one side is not listed
                mine = entry_at(git, graph.ids[commit], target)
                if any(entry_at(git, graph.ids[p], target) == mine for p in parents):
                    continue
            if terms:
                if len(matched) >= QUERY_COMMITS:
                    break
                said = set(query_terms(graph.messages[commit]))
                hits = [t for t in terms if t in said]
                for term in hits:
                    frequency[term] += 1
                if hits:
                    matched.append(commit)
                continue
            shown = self._graph_summaries(graph, repo, [commit], 1, seen)
            if shown:
                out.extend(shown)
                if len(out) >= limit:
                    break
        if terms:
            total = max(1, min(len(graph), QUERY_COMMITS))
            weights = {t: _idf(total, frequency[t]) for t in terms}

            def score(commit: int) -> float:
                said = set(query_terms(graph.messages[commit]))
                return sum(weight for term, weight in weights.items() if term in said)

            ranked = sorted(matched, key=lambda commit: (-score(commit), commit))
            return self._graph_summaries(graph, repo, ranked, limit, seen)
        return out

    def _following(self, git: pygit2.Repository, graph: Graph, target: str) -> Iterator[int]:
        """The commits that changed a file, newest first, following it back through renames
        (looked for only when the listing gets that far: finding one diffs a whole commit)."""
        current = target
        newer_than = -1
        for _ in range(100):  # renames followed, at most
            found = [c for c in graph.touching(current) if c > newer_than]
            yield from found
            if not found:
                return
            oldest = found[-1]
            parents = graph.parents[oldest]
            if len(parents) != 1 or entry_at(git, graph.ids[parents[0]], current) is not None:
                return
            before = self._renamed_from(git, git[pygit2.Oid(raw=graph.ids[oldest])].peel(pygit2.Commit), current)
            if before is None:
                return
            current, newer_than = before, oldest

    def _graph_summaries(
        self, graph: Graph, repo: Repo, commits: list[int], limit: int, seen: dict[int, str] | None = None
    ) -> list[CommitSummary]:
        out: list[CommitSummary] = []
        state = seen if seen is not None else {}  # path index -> "shown", "hidden" or "outside"
        for commit in commits:
            files: list[str] = []
            hidden = 0
            for p in graph.changed[commit]:
                found = state.get(p)
                if found is None:
                    comps = self.shown_path(graph.paths[p])
                    found = "outside" if comps is None else "shown" if self.visible(repo, comps) else "hidden"
                    state[p] = found
                if found == "shown":
                    files.append("/".join(graph.paths[p].split("/")[len(self.prefix) :]))
                elif found == "hidden":
                    hidden += 1
            if not files and hidden:
                continue  # only hidden paths changed
            message = graph.messages[commit]
            out.append(
                CommitSummary(
                    id=graph.ids[commit].hex(),
                    short_id=graph.ids[commit].hex()[:7],
                    date=_iso(graph.author_times[commit], graph.offsets[commit]),
                    author=graph.authors[commit],
                    subject=_subject(message),
                    files=sorted(files),
                    hidden_files=hidden,
                )
            )
            if len(out) >= limit:
                break
        return out

    def show(self, repo: Repo, given: str, path: Components | None = None) -> CommitDetail:
        """A commit's message and its diff against its first parent (one file's or one
        directory's part of it with ``path``); hidden paths are counted, never shown."""
        commit = self.resolve(given)
        with self._locked() as git:
            diff = self._changes(git, commit, renames=True)
            files, hidden, cut = self._file_changes(repo, diff, path)
            return CommitDetail(
                id=str(commit.id),
                short_id=str(commit.short_id),
                date=_iso(commit.author.time, commit.author.offset),
                author=commit.author.name,
                subject=_subject(commit.message),
                message=commit.message.rstrip("\n"),
                parents=[str(p) for p in commit.parent_ids],
                files=files,
                hidden_files=hidden,
                files_truncated=cut,
            )

    def _file_changes(
        self, repo: Repo, diff: pygit2.Diff, path: Components | None
    ) -> tuple[list[FileChange], int, bool]:
        files: list[FileChange] = []
        hidden = 0
        cut = False
        for patch in diff:
            if patch is None:
                continue
            delta = patch.delta
            new = self.shown_path(delta.new_file.path)
            old = self.shown_path(delta.old_file.path)
            shown = new if delta.status != DeltaStatus.DELETED else old
            if shown is None:
                continue
            if path and shown[: len(path)] != path and (old is None or old[: len(path)] != path):
                continue
            if not self.visible(repo, shown) or (old is not None and old != shown and not self.visible(repo, old)):
                hidden += 1
                continue
            if len(files) >= MAX_FILES:
                cut = True
                continue
            files.append(_file_change(patch, shown, old))
        return files, hidden, cut

    def blame(self, repo: Repo, path: Components, start_line: int, end_line: int) -> Blame:
        """Who last changed each line of ``path`` at HEAD, as ranges of lines."""
        if not self.visible(repo, path):
            raise AssistantError("access_denied", "this path is git-ignored; its history is hidden", param="path")
        target = self.git_path(path)
        with self._locked() as git:
            if git.head_is_unborn:
                raise AssistantError("file_not_found", "the repository has no commits yet", param="path")
            head = git.head.peel(pygit2.Commit)
            blob = _object_at(git, head.tree, target)
            if not isinstance(blob, pygit2.Blob):
                raise AssistantError(
                    "file_not_found",
                    f"{'/'.join(path)} is not a file at HEAD (blame reads committed files)",
                    param="path",
                )
            total = blob.data.count(b"\n") + (0 if blob.data.endswith(b"\n") or not blob.data else 1)
            if total == 0:
                return Blame(
                    path="/".join(path), start_line=0, end_line=0, total_lines=0, ranges=[], working_copy_differs=False
                )
            if start_line > total:
                raise AssistantError(
                    "invalid_parameter",
                    f"`start_line` {start_line} is past the end of the file ({total} lines)",
                    param="start_line",
                )
            end = min(end_line, total, start_line + MAX_BLAME_LINES - 1)
            spans: list[tuple[int, int, pygit2.Oid]] = []
            graph = self.keeper.current(head.id.raw)
            if graph is not None:

                def renamed_from(commit: int, later: str) -> str | None:
                    found = git[pygit2.Oid(raw=graph.ids[commit])].peel(pygit2.Commit)
                    return self._renamed_from(git, found, later)

                by_line = graph_blame(git, graph, target, start_line, end, renamed_from)
                for line in range(start_line, end + 1):
                    oid = pygit2.Oid(raw=graph.ids[by_line.get(line, 0)])
                    if spans and spans[-1][2] == oid and spans[-1][1] + 1 == line:
                        spans[-1] = (spans[-1][0], line, oid)
                    else:
                        spans.append((line, line, oid))
            else:
                made = git.blame(target, newest_commit=head.id, min_line=start_line, max_line=end)
                for hunk in made:
                    first = max(hunk.final_start_line_number, start_line)
                    last = min(hunk.final_start_line_number + hunk.lines_in_hunk - 1, end)
                    if last >= first:
                        spans.append((first, last, hunk.final_commit_id))
            ranges: list[BlameRange] = []
            cache: dict[str, pygit2.Commit] = {}
            for first, last, commit_id in spans:
                key = str(commit_id)
                commit = cache.get(key)
                if commit is None:
                    found = git.get(commit_id)
                    if not isinstance(found, pygit2.Commit):
                        raise HistoryUnavailable(f"its history could not be read (commit {key} is missing)")
                    commit = cache[key] = found
                if ranges and ranges[-1].commit == str(commit.id) and ranges[-1].end_line + 1 == first:
                    ranges[-1].end_line = last
                    continue
                ranges.append(
                    BlameRange(
                        start_line=first,
                        end_line=last,
                        commit=str(commit.id),
                        short_id=str(commit.id)[:7],
                        date=_iso(commit.author.time, commit.author.offset),
                        author=commit.author.name,
                        subject=_subject(commit.message),
                    )
                )
            differs = self._working_differs(git, repo, path, blob)
            return Blame(
                path="/".join(path),
                start_line=start_line,
                end_line=end,
                total_lines=total,
                ranges=ranges,
                working_copy_differs=differs,
            )

    def file_at_head(self, path: Components) -> str:
        """The committed text of a file (for blame's lines); "" when it is not a file at HEAD."""
        with self._locked() as git:
            if git.head_is_unborn:
                return ""
            found = _object_at(git, git.head.peel(pygit2.Commit).tree, self.git_path(path))
            return found.data.decode("utf-8", "replace") if isinstance(found, pygit2.Blob) else ""

    @staticmethod
    def _working_differs(git: pygit2.Repository, repo: Repo, path: Components, blob: pygit2.Blob) -> bool:
        try:
            data = repo.read(path, blob.size + 1).data
        except Exception:
            return True
        return data != blob.data

    def working_diff(self, repo: Repo, path: Components | None = None, *, staged: bool = False) -> WorkingDiff:
        """Uncommitted changes against HEAD: the working tree's (new content read through the
        sandbox, like read_file), or with ``staged`` only the index's."""
        with self._locked() as git:
            head_tree = None if git.head_is_unborn else git.head.peel(pygit2.Commit).tree
            if staged:
                if head_tree is None:  # nothing committed yet: every staged file is new
                    return self._staged_first(git, repo, path)
                diff = git.index.diff_to_tree(head_tree)
                diff.find_similar(DiffFind.FIND_RENAMES)
                files, hidden, cut = self._file_changes(repo, diff, path)
                return WorkingDiff(staged=True, files=files, hidden_files=hidden, files_truncated=cut)
            status = git.status(untracked_files="all", ignored=False)
        files = []
        hidden = 0
        cut = False
        for git_path in sorted(status):
            comps = self.shown_path(git_path)
            if comps is None:
                continue
            if path and comps[: len(path)] != path:
                continue
            if not self.visible(repo, comps):
                hidden += 1
                continue
            with self._locked() as git:
                old = _object_at(git, head_tree, git_path) if head_tree is not None else None
                old_data = old.data if isinstance(old, pygit2.Blob) else None
            try:
                new_data: bytes | None = repo.read(comps, MAX_PATCH_BYTES * 4).data
            except Exception:
                new_data = None
            if old_data == new_data:
                continue
            if len(files) >= MAX_FILES:
                cut = True
                continue
            patch = pygit2.Patch.create_from(old_data, new_data, old_as_path=git_path, new_as_path=git_path)
            status_word = "added" if old_data is None else "deleted" if new_data is None else "modified"
            files.append(_file_change(patch, comps, None, status_word))
        return WorkingDiff(staged=False, files=files, hidden_files=hidden, files_truncated=cut)

    def _staged_first(self, git: pygit2.Repository, repo: Repo, path: Components | None) -> WorkingDiff:
        files: list[FileChange] = []
        hidden = 0
        for entry in git.index:
            comps = self.shown_path(entry.path)
            if comps is None or (path and comps[: len(path)] != path):
                continue
            if not self.visible(repo, comps):
                hidden += 1
                continue
            blob = git.get(entry.id)
            data = blob.data if isinstance(blob, pygit2.Blob) else b""
            patch = pygit2.Patch.create_from(None, data, old_as_path=entry.path, new_as_path=entry.path)
            files.append(_file_change(patch, comps, None, "added"))
        return WorkingDiff(
            staged=True, files=files[:MAX_FILES], hidden_files=hidden, files_truncated=len(files) > MAX_FILES
        )

    def field(self) -> HistoryField | None:
        """Commit messages as a search field of the files they changed, once it is built."""
        return self.keeper.field

    def close(self) -> None:
        self.keeper.close()
        with self._lock:
            self._git.free()


def _entry(tree: pygit2.Tree, path: str) -> pygit2.Oid | None:
    """The id of what ``path`` is in ``tree`` ("" is the tree itself), or None."""
    if not path:
        return tree.id
    try:
        return tree[path].id
    except KeyError:
        return None


def _object_at(git: pygit2.Repository, tree: pygit2.Tree | None, path: str) -> pygit2.Object | None:
    if tree is None:
        return None
    try:
        return git.get(tree[path].id)
    except KeyError:
        return None


def _idf(total: int, frequency: int) -> float:
    return math.log(1 + (total - frequency + 0.5) / (frequency + 0.5))


def _subject(message: str) -> str:
    return message.strip().split("\n", 1)[0].strip()[:200]


def _summary(commit: pygit2.Commit, files: list[str], hidden: int) -> CommitSummary:
    return CommitSummary(
        id=str(commit.id),
        short_id=str(commit.short_id),
        date=_iso(commit.author.time, commit.author.offset),
        author=commit.author.name,
        subject=_subject(commit.message),
        files=files,
        hidden_files=hidden,
    )


_STATUS = {
    DeltaStatus.ADDED: "added",
    DeltaStatus.DELETED: "deleted",
    DeltaStatus.RENAMED: "renamed",
    DeltaStatus.COPIED: "added",
}


def _file_change(
    patch: pygit2.Patch, shown: Components, old: Components | None, status: str | None = None
) -> FileChange:
    delta = patch.delta
    binary = bool(delta.is_binary)
    try:
        text = "" if binary else (patch.text or "")
    except (pygit2.GitError, UnicodeDecodeError):
        text = ""
    data = text.encode("utf-8", "replace")
    truncated = len(data) > MAX_PATCH_BYTES
    if truncated:
        text = data[:MAX_PATCH_BYTES].decode("utf-8", "ignore")
        text = text[: text.rfind("\n") + 1]
    _, additions, deletions = patch.line_stats
    word = status or _STATUS.get(delta.status, "modified")
    renamed = word == "renamed" and old is not None and old != shown
    return FileChange(
        path="/".join(shown),
        status=word,
        additions=additions,
        deletions=deletions,
        binary=binary,
        patch=text,
        truncated=truncated,
        old_path="/".join(old) if renamed and old is not None else None,
    )
