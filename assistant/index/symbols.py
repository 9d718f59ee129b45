"""The symbol table: every tag by name, updated file by file, and its ranking.

Ranking (higher first): an exact name beats a case-insensitive exact name, which beats a
prefix, which beats a substring; within that, definitions beat references; then files that
the rest of the repository references more (references to the names they define), and files
this conversation has already read.
"""

from __future__ import annotations

import bisect
import math
import sys
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

import msgspec
import numpy as np

from .tags import FileTags, Tag


def _lower(name: str) -> str:
    """``name`` lower-cased: the same string object when it already is (most names are)."""
    lower = name.lower()
    return name if lower == name else lower


def _count_references(counts: Counter[str], tags: FileTags, sign: int) -> None:
    """Add (``sign`` 1) or take away (-1) a file's references from per-name totals."""
    for name, count in tags.reference_counts():
        counts[name] += sign * count


Files = str | list[str]  # the files of a name: most names are in one file, kept as its path


def _files(found: Files | None) -> Sequence[str]:
    if found is None:
        return ()
    return (found,) if isinstance(found, str) else found


EXACT, EXACT_CI, PREFIX, SUBSTRING = 1000.0, 900.0, 500.0, 200.0
DEFINITION_BONUS = 100.0
READ_BONUS = 40.0
MAX_CANDIDATE_NAMES = 5000
MAX_COLLECTED = 5000  # hits gathered before lower-ranked names are skipped (total is then a floor)


class SymbolsDocument(msgspec.Struct, array_like=True):
    """A prepared symbol table as the tags cache keeps it, so a warm start need not build it
    again from every file's tags: the names in order, each name's files (one file: its number
    in the cache's list of files; several: -1, and they follow in ``multi_ids``, ``multi_counts``
    of them) and its reference count, as 32-bit integers aligned with ``names``."""

    names: list[str]
    owners: bytes
    multi_counts: bytes
    multi_ids: bytes
    refs: bytes


class SymbolHit(NamedTuple):
    path: str
    tag: Tag
    score: float


class SymbolTable:
    """Name -> files, with the indexes prefix and substring lookups need.

    Built for cheap bulk loading (400,000 tags in well under a second) and cheap per-file
    updates; reference counts and file popularity are computed on demand and cached. Each
    file's tags stay packed (``FileTags``) and are made into ``Tag``s only for hits.
    """

    def __init__(self) -> None:
        self.definitions = 0
        self._file_tags: dict[str, FileTags] = {}
        # While a repository is loaded: name -> its files. ``prepare`` (after the load) turns it
        # into ``_files``, aligned with ``_names``: a dict of every name cost three times a list.
        self._by_name: dict[str, Files] | None = {}
        self._files: list[Files] = []
        # every name in order of its lower case (then itself), and the lower cases in the same
        # order: built by the first search (or prepare()) rather than name by name during the
        # load. Lists, not a dict by lower case: a fifth of the memory, and the prefix scan
        # needs the order anyway.
        self._lowers: list[str] | None = None
        self._names: list[str] = []
        self._blob: str | None = None
        self._blob_starts: Sequence[int] = []
        self._ref_counts: Counter[str] | None = None  # built by prepare(), then kept current
        self._popularity: dict[str, float] = {}

    def __len__(self) -> int:
        return self.definitions

    def names(self) -> list[str]:
        """Every name, in order of its lower case."""
        self._sorted()
        return list(self._names)

    def files_with(self, name: str) -> Sequence[str]:
        """The files that have ``name`` (this exact spelling), defined or referenced."""
        return _files(self._entry(name)[1])

    def _sorted(self) -> list[str]:
        if self._lowers is None:
            pairs = sorted((_lower(name), name) for name in self._by_name or ())
            self._lowers = [lower for lower, _ in pairs]
            self._names = [name for _, name in pairs]
        return self._lowers

    def _locate(self, name: str) -> tuple[int, bool]:
        """Where ``name`` is in the sorted lists, or would go; and whether it is there."""
        lowers, names = self._sorted(), self._names
        lower = _lower(name)
        at = bisect.bisect_left(lowers, lower)
        while at < len(lowers) and lowers[at] == lower and names[at] < name:
            at += 1
        return at, at < len(lowers) and lowers[at] == lower and names[at] == name

    def _spellings(self, lower: str) -> list[str]:
        """The names whose lower case is ``lower``."""
        ordered = self._sorted()
        start = bisect.bisect_left(ordered, lower)
        return self._names[start : bisect.bisect_right(ordered, lower, start)]

    def _entry(self, name: str) -> tuple[int, Files | None]:
        """A name's files (``None``: no file has it) and its place in the sorted lists (where it
        is or would go; -1 while loading, when the lists may not be built)."""
        if self._by_name is not None:
            return -1, self._by_name.get(name)
        at, found = self._locate(name)
        return at, self._files[at] if found else None

    def _store(self, name: str, at: int, files: Files) -> None:
        """Give a name that has files others (``at`` from ``_entry``)."""
        if self._by_name is not None:
            self._by_name[name] = files
        else:
            self._files[at] = files

    def _insert(self, name: str, at: int, files: Files) -> None:
        """A name no file had (``at`` from ``_entry``), kept in the sorted lists once built."""
        if self._by_name is not None:
            self._by_name[name] = files
            if self._lowers is None:
                return
            at, _ = self._locate(name)
        else:
            self._files.insert(at, files)
        assert self._lowers is not None
        self._lowers.insert(at, _lower(name))
        self._names.insert(at, name)
        self._blob = None

    def _drop(self, name: str, at: int) -> None:
        """A name no file has any more (``at`` from ``_entry``)."""
        if self._by_name is not None:
            del self._by_name[name]
            if self._lowers is None:
                return
            at, _ = self._locate(name)
        else:
            del self._files[at]
        assert self._lowers is not None
        del self._lowers[at], self._names[at]
        self._blob = None

    def add_file(self, path: str, tags: FileTags) -> None:
        for name in tags.names:
            at, files = self._entry(name)
            if files is None:
                self._insert(name, at, path)
            elif isinstance(files, str):
                self._store(name, at, [files, path])
            else:
                files.append(path)
        self.definitions += tags.definition_count
        self._file_tags[path] = tags
        if self._ref_counts is not None:
            _count_references(self._ref_counts, tags, 1)
        self._popularity.clear()

    def remove_file(self, path: str, tags: FileTags) -> None:
        for name in tags.names:
            at, files = self._entry(name)
            if isinstance(files, list):
                if path in files:
                    files.remove(path)
                if len(files) == 1:
                    self._store(name, at, files[0])
            elif files == path:
                self._drop(name, at)
        self.definitions -= tags.definition_count
        self._file_tags.pop(path, None)
        if self._ref_counts is not None:
            _count_references(self._ref_counts, tags, -1)
        self._popularity.clear()

    def prepare(self) -> None:
        """Build the lookup structures now (after a bulk load) rather than on the first search."""
        self._sorted()
        if self._by_name is not None:
            self._files = [self._by_name[name] for name in self._names]
            self._by_name = None
        next(iter(self._substring_names("\0")), None)
        self._counts()

    def export(self, number: dict[str, int]) -> SymbolsDocument | None:
        """The prepared table, files given by ``number`` (None: not prepared, or a file of it is
        not numbered)."""
        if self._by_name is not None or self._ref_counts is None:
            return None
        owners, multi_counts, multi_ids = array("i"), array("i"), array("i")
        try:
            for files in self._files:
                if isinstance(files, str):
                    owners.append(number[files])
                else:
                    owners.append(-1)
                    multi_counts.append(len(files))
                    multi_ids.extend([number[f] for f in files])
        except KeyError:
            return None
        counts = self._ref_counts
        refs = array("i", [counts.get(name, 0) for name in self._names])
        return SymbolsDocument(
            list(self._names), owners.tobytes(), multi_counts.tobytes(), multi_ids.tobytes(), refs.tobytes()
        )

    def restore(self, doc: SymbolsDocument, paths: list[str], file_tags: dict[str, FileTags]) -> bool:
        """Take the table ``export`` made (``paths``: the files by number, ``file_tags`` every
        file's tags, as they were then) instead of adding every file; False (and nothing
        changed) if it does not fit them."""
        owners = np.frombuffer(doc.owners, dtype=np.int32)
        counts = np.frombuffer(doc.multi_counts, dtype=np.int32)
        ids = np.frombuffer(doc.multi_ids, dtype=np.int32)
        refs = np.frombuffer(doc.refs, dtype=np.int32)
        several = np.flatnonzero(owners < 0)
        if not (
            len(owners) == len(refs) == len(doc.names)
            and len(several) == len(counts)
            and int(counts.sum()) == len(ids)
            and (not len(owners) or int(owners.max()) < len(paths))
            and (not len(ids) or (int(ids.max()) < len(paths) and int(ids.min()) >= 0))
            and (not len(counts) or int(counts.min()) >= 2)
        ):
            return False
        names = list(map(sys.intern, doc.names))  # the same strings as the files' tags
        by_number = np.array(paths, dtype=object)
        files: list[Files] = by_number[np.maximum(owners, 0)].tolist()
        start = 0
        for at, count in zip(several.tolist(), counts.tolist(), strict=True):
            files[at] = by_number[ids[start : start + count]].tolist()
            start += count
        self._names = names
        self._lowers = [_lower(name) for name in names]
        self._files = files
        self._by_name = None
        self._blob = None
        self._ref_counts = Counter({name: count for name, count in zip(names, refs.tolist(), strict=True) if count})
        self._file_tags = file_tags
        self.definitions = sum(tags.definition_count for tags in file_tags.values())
        self._popularity.clear()
        return True

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
        return tags.named(name) if tags is not None else []

    def _defines(self, path: str, name: str) -> bool:
        tags = self._file_tags.get(path)
        return tags is not None and tags.defines(name)

    def definers(self, name: str) -> list[str]:
        """The files that define ``name`` (this exact spelling)."""
        return [p for p in self.files_with(name) if self._defines(p, name)]

    def defined_in(self, name: str) -> list[tuple[str, str]]:
        """(file, name) for each file that defines ``name`` (any case), in path order."""
        found: list[tuple[str, str]] = []
        for spelled in self._spellings(name.lower()):
            found.extend((path, spelled) for path in self.definers(spelled))
        return sorted(set(found))

    def ref_count(self, name: str) -> int:
        """How many references to ``name`` the repository has."""
        return self._counts()[name]

    def _popularity_of(self, path: str) -> float:
        value = self._popularity.get(path)
        if value is None:
            counts = self._counts()
            tags = self._file_tags.get(path)
            defined = tags.defined_names() if tags is not None else set()
            refs = sum(counts[name] for name in defined)
            value = self._popularity[path] = min(50.0, 8.0 * math.log2(1 + refs))
        return value

    def _candidates(self, query: str) -> list[tuple[str, float]]:
        """Names matching ``query`` with their match class score, best classes first."""
        lower = query.lower()
        found: dict[str, float] = {}
        if self.files_with(query):
            found[query] = EXACT
        for name in self._spellings(lower):
            found.setdefault(name, EXACT_CI)
        ordered, names = self._sorted(), self._names
        start = bisect.bisect_left(ordered, lower)
        for at in range(start, min(len(ordered), start + MAX_CANDIDATE_NAMES)):
            if not ordered[at].startswith(lower):
                break
            name = names[at]
            found.setdefault(name, PREFIX - min(50, len(name) - len(query)))
        if len(found) < MAX_CANDIDATE_NAMES:
            for name in self._substring_names(lower):
                found.setdefault(name, SUBSTRING - min(50, len(name) - len(query)))
                if len(found) >= MAX_CANDIDATE_NAMES:
                    break
        return sorted(found.items(), key=lambda item: -item[1])

    def _substring_names(self, lower: str) -> Iterable[str]:
        """The names whose lower case contains ``lower``, in order."""
        ordered = self._sorted()
        if self._blob is None:
            self._blob = "\n".join(ordered)
            packed, pos = array("L"), 0  # packed: a list of ints took 30 bytes a name
            for name in ordered:
                packed.append(pos)
                pos += len(name) + 1
            self._blob_starts = packed
        blob, starts, names = self._blob, self._blob_starts, self._names
        pos = blob.find(lower)
        while pos >= 0:
            index = bisect.bisect_right(starts, pos) - 1
            yield names[index]
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
                remaining = sum(len(self.files_with(n)) for n, _ in candidates[position:])
                hits.sort(key=lambda h: (-h.score, h.path, h.tag.line))
                return hits[:limit], len(hits) + remaining
            for path in self.files_with(name):
                if path_filter is not None and not path_filter(path):
                    continue
                boost = self._popularity_of(path) + (READ_BONUS if path in read_files else 0.0)
                for tag in self.tags_named(path, name):
                    score = base + (DEFINITION_BONUS if tag.is_definition else 0.0) + boost
                    hits.append(SymbolHit(path, tag, round(score, 2)))
        hits.sort(key=lambda h: (-h.score, h.path, h.tag.line))
        return hits[:limit], len(hits)
