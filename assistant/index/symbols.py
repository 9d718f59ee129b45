"""The symbol table: every tag by name, updated file by file, and its ranking.

Ranking (higher first): an exact name beats a case-insensitive exact name, which beats a
prefix, which beats a substring; within that, definitions beat references; then files that
the rest of the repository references more (references to the names they define), and files
this conversation has already read.
"""

from __future__ import annotations

import bisect
import math
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from operator import attrgetter
from typing import NamedTuple, TypeVar

from .tags import FileTags, References, Tag

_name = attrgetter("name")


_Named = TypeVar("_Named", Tag, References)


def _named(items: tuple[_Named, ...], name: str) -> tuple[_Named, ...]:
    """The run of ``items`` (sorted by name) with this name."""
    start = bisect.bisect_left(items, name, key=_name)
    return items[start : bisect.bisect_right(items, name, start, key=_name)]


def _lower(name: str) -> str:
    """``name`` lower-cased: the same string object when it already is (most names are)."""
    lower = name.lower()
    return name if lower == name else lower


def _count_references(counts: Counter[str], tags: FileTags, sign: int) -> None:
    """Add (``sign`` 1) or take away (-1) a file's references from per-name totals."""
    for refs in tags.references:
        counts[refs.name] += sign * refs.count


EXACT, EXACT_CI, PREFIX, SUBSTRING = 1000.0, 900.0, 500.0, 200.0
DEFINITION_BONUS = 100.0
READ_BONUS = 40.0
MAX_CANDIDATE_NAMES = 5000
MAX_COLLECTED = 5000  # hits gathered before lower-ranked names are skipped (total is then a floor)


class SymbolHit(NamedTuple):
    path: str
    tag: Tag
    score: float


class SymbolTable:
    """Name -> [(file, tag)], with the indexes prefix and substring lookups need.

    Built for cheap bulk loading (400,000 tags in well under a second) and cheap per-file
    updates; reference counts and file popularity are computed on demand and cached. A file's
    references are kept per name (``References``) and made into ``Tag``s only for hits.
    """

    def __init__(self) -> None:
        self.postings: dict[str, list[str]] = {}  # name -> files that have it
        self.definitions = 0
        self._file_tags: dict[str, FileTags] = {}
        # names by lower case, and those sorted: built from the postings by the first search
        # (or prepare()) rather than name by name while a whole repository is being loaded
        # lower-cased name -> its spellings (a tuple: almost always one, and a fifth the size of a set)
        self._by_lower: dict[str, tuple[str, ...]] | None = None
        self._sorted_lower: list[str] | None = None
        self._blob: str | None = None
        self._blob_starts: Sequence[int] = []
        self._ref_counts: Counter[str] | None = None  # built by prepare(), then kept current
        self._popularity: dict[str, float] = {}

    def __len__(self) -> int:
        return self.definitions

    def _lower_names(self) -> dict[str, tuple[str, ...]]:
        if self._by_lower is None:
            by_lower: dict[str, tuple[str, ...]] = {}
            for name in self.postings:
                lower = _lower(name)
                names = by_lower.get(lower)
                by_lower[lower] = (name,) if names is None else (*names, name)
            self._by_lower = by_lower
        return self._by_lower

    def _new_name(self, name: str, by_lower: dict[str, tuple[str, ...]]) -> None:
        lower = _lower(name)
        names = by_lower.get(lower)
        if names is not None:
            if name not in names:
                by_lower[lower] = (*names, name)
            return
        by_lower[lower] = (name,)
        if self._sorted_lower is not None:
            bisect.insort(self._sorted_lower, lower)
        self._blob = None

    def add_file(self, path: str, tags: FileTags) -> None:
        defined = {t.name for t in tags.definitions}
        postings, by_lower = self.postings, self._by_lower
        for name in defined.union([r.name for r in tags.references]):
            files = postings.get(name)
            if files is None:
                postings[name] = [path]
                if by_lower is not None:
                    self._new_name(name, by_lower)
            else:
                files.append(path)
        self.definitions += len(tags.definitions)
        self._file_tags[path] = tags
        if self._ref_counts is not None:
            _count_references(self._ref_counts, tags, 1)
        self._popularity.clear()

    def remove_file(self, path: str, tags: FileTags) -> None:
        for name in {t.name for t in tags.definitions}.union([r.name for r in tags.references]):
            files = self.postings.get(name)
            if files is None:
                continue
            if path in files:
                files.remove(path)
            if files:
                continue
            del self.postings[name]
            if self._by_lower is None:
                continue
            lower = name.lower()
            names = tuple(n for n in self._by_lower.get(lower, ()) if n != name)
            if names:
                self._by_lower[lower] = names
            else:
                self._by_lower.pop(lower, None)
                if self._sorted_lower is not None:
                    del self._sorted_lower[bisect.bisect_left(self._sorted_lower, lower)]
                self._blob = None
        self.definitions -= len(tags.definitions)
        self._file_tags.pop(path, None)
        if self._ref_counts is not None:
            _count_references(self._ref_counts, tags, -1)
        self._popularity.clear()

    def prepare(self) -> None:
        """Build the lookup structures now (after a bulk load) rather than on the first search."""
        self._sorted()
        next(iter(self._substring_names("\0")), None)
        self._counts()

    def _counts(self) -> Counter[str]:
        if self._ref_counts is None:
            counts: Counter[str] = Counter()
            for tags in self._file_tags.values():
                _count_references(counts, tags, 1)
            self._ref_counts = counts
        return self._ref_counts

    def tags_named(self, path: str, name: str) -> list[Tag]:
        """The definitions of ``name`` in one file, then each line that references it."""
        tags = self._file_tags.get(path)
        if tags is None:
            return []
        found = list(_named(tags.definitions, name))
        for refs in _named(tags.references, name):
            found.extend(Tag(name, refs.kind, False, line, line) for line in refs.lines)
        return found

    def _defines(self, path: str, name: str) -> bool:
        tags = self._file_tags.get(path)
        return tags is not None and bool(_named(tags.definitions, name))

    def definers(self, name: str) -> list[str]:
        """The files that define ``name`` (this exact spelling)."""
        return [p for p in self.postings.get(name, ()) if self._defines(p, name)]

    def defined_in(self, name: str) -> list[tuple[str, str]]:
        """(file, name) for each file that defines ``name`` (any case), in path order."""
        found: list[tuple[str, str]] = []
        for spelled in self._lower_names().get(name.lower(), ()):
            defining = (p for p in self.postings.get(spelled, ()) if self._defines(p, spelled))
            found.extend((path, spelled) for path in defining)
        return sorted(set(found))

    def ref_count(self, name: str) -> int:
        """How many references to ``name`` the repository has."""
        return self._counts()[name]

    def _popularity_of(self, path: str) -> float:
        value = self._popularity.get(path)
        if value is None:
            counts = self._counts()
            tags = self._file_tags.get(path)
            defined = {t.name for t in tags.definitions} if tags is not None else set()
            refs = sum(counts[name] for name in defined)
            value = self._popularity[path] = min(50.0, 8.0 * math.log2(1 + refs))
        return value

    def _sorted(self) -> list[str]:
        if self._sorted_lower is None:
            self._sorted_lower = sorted(self._lower_names())
        return self._sorted_lower

    def _candidates(self, query: str) -> list[tuple[str, float]]:
        """Names matching ``query`` with their match class score, best classes first."""
        lower = query.lower()
        by_lower = self._lower_names()
        found: dict[str, float] = {}
        if query in self.postings:
            found[query] = EXACT
        for name in by_lower.get(lower, ()):
            found.setdefault(name, EXACT_CI)
        ordered = self._sorted()
        start = bisect.bisect_left(ordered, lower)
        for candidate in ordered[start : start + MAX_CANDIDATE_NAMES]:
            if not candidate.startswith(lower):
                break
            for name in by_lower[candidate]:
                found.setdefault(name, PREFIX - min(50, len(name) - len(query)))
        if len(found) < MAX_CANDIDATE_NAMES:
            for candidate in self._substring_names(lower):
                for name in by_lower[candidate]:
                    found.setdefault(name, SUBSTRING - min(50, len(name) - len(query)))
                if len(found) >= MAX_CANDIDATE_NAMES:
                    break
        return sorted(found.items(), key=lambda item: -item[1])

    def _substring_names(self, lower: str) -> Iterable[str]:
        ordered = self._sorted()
        if self._blob is None:
            self._blob = "\n".join(ordered)
            packed, pos = array("L"), 0  # packed: a list of ints took 30 bytes a name
            for name in ordered:
                packed.append(pos)
                pos += len(name) + 1
            self._blob_starts = packed
        blob, starts = self._blob, self._blob_starts
        pos = blob.find(lower)
        while pos >= 0:
            index = bisect.bisect_right(starts, pos) - 1
            yield ordered[index]
            next_start = starts[index + 1] if index + 1 < len(starts) else len(blob)
            pos = blob.find(lower, next_start)

    def search(
        self,
        query: str,
        limit: int,
        *,
        read_files: frozenset[str] = frozenset(),
        path_filter: Callable[[str], bool] | None = None,
    ) -> tuple[list[SymbolHit], int]:
        """Ranked hits (at most ``limit``) and how many there were in all."""
        hits: list[SymbolHit] = []
        candidates = self._candidates(query)
        for position, (name, base) in enumerate(candidates):
            if len(hits) >= MAX_COLLECTED:
                remaining = sum(len(self.postings[n]) for n, _ in candidates[position:])
                hits.sort(key=lambda h: (-h.score, h.path, h.tag.line))
                return hits[:limit], len(hits) + remaining
            for path in self.postings[name]:
                if path_filter is not None and not path_filter(path):
                    continue
                boost = self._popularity_of(path) + (READ_BONUS if path in read_files else 0.0)
                for tag in self.tags_named(path, name):
                    score = base + (DEFINITION_BONUS if tag.is_definition else 0.0) + boost
                    hits.append(SymbolHit(path, tag, round(score, 2)))
        hits.sort(key=lambda h: (-h.score, h.path, h.tag.line))
        return hits[:limit], len(hits)
