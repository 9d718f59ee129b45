"""Ranked search: files ranked by BM25 over the ranked index (``ranked``), fused with the symbol
index for the names a query contains, adjusted by priors; then in each file the chunks a
person reads (a definition, a run of top-level code, a window of lines), each with why it
ranked.

Priors (decided on the localization questions, where the answer is always source code; tests,
docs and examples change with it but are not what a question is about):

- a test, documentation, example, vendored or generated file scores ``DEMOTED`` (0.3) of its
  BM25 score, unless the query is about that kind of file (``tests``, ``docs``, ``example``,
  ``vendor``, ``generated`` …);
- a file that defines a name the query spells as code (``raise_for_status``, ``parseHeader``,
  ``Session.send``, ``cmd()``) gains ``SYMBOL_BONUS`` of the best score for each such name;
- a file a pasted stack trace's frames name (``frames.py``) gains ``FRAME_BONUS`` of the best
  score, and a function a frame names counts as a name spelled as code;
- in a repository with a git history, the files whose commit messages say the query's words gain
  up to ``HISTORY_BONUS`` of the best score (``history.graph.HistoryField``: rarer words and newer
  commits count more); 0.6 was chosen on the localization questions with history cut at each
  question's parent commit (recall@5: 0.3 gave 0.86, 0.6 0.88, 1.0 0.86; without history 0.82);
- a file read earlier in the conversation scores ``READ_BONUS`` (1.5 times), as in a text search.

A long query (over 64 terms: a pasted issue) keeps its first line's terms whatever their rarity,
then its rarest (``ranked._rarest``).
"""

from __future__ import annotations

import bisect
import functools
import re
from array import array
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import re2

from .frames import frames, matching_files
from .ranked import RankedIndex
from .records import FileRecord
from .symbols import SymbolTable
from .tokens import idents, parts

# (path, share of the strongest evidence from 0 to 1, why): what a root's history says of files
Evidence = list[tuple[str, float, str]]

DEMOTED = 0.3
READ_BONUS = 1.5
SYMBOL_BONUS = 0.3
FRAME_BONUS = 0.5
HISTORY_BONUS = 0.6
CHUNKS_PER_FILE = 2
TOP_LINES = 40  # top-level code (and files without a grammar) in chunks of at most this many lines
LONG_DEFINITION = 80  # longer definitions are split in windows of WINDOW lines, overlapping by OVERLAP
WINDOW = 60
OVERLAP = 10
K1, B = 1.2, 0.75
MAX_WHY_BODY = 5

# what kind of file a path is; the first that matches wins
_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "vendored",
        re.compile(r"(^|/)(vendor|vendored|third[_-]?party|node_modules|bower_components|extern|external)/", re.I),
    ),
    (
        "generated",
        re.compile(
            r"\.min\.(js|css)$|_pb2(_grpc)?\.pyi?$|\.pb\.(go|cc|h)$|\.g\.dart$|(^|/)generated/|\.generated\.|"
            r"(^|/)(package-lock\.json|yarn\.lock|pnpm-lock\.yaml|Cargo\.lock|poetry\.lock|go\.sum|uv\.lock)$",
            re.I,
        ),
    ),
    (
        "test",
        re.compile(
            r"(^|/)(tests?|testing|__tests__|spec|specs|testdata|test_data|fixtures?|__mocks__)/|"
            r"(^|/)(test_[^/]*|[^/]*_tests?\.[^/]+|[^/]*\.(test|spec)\.[^/]+|conftest\.py|[^/]*Tests?\.(java|kt|cs|swift))$",
            re.I,
        ),
    ),
    ("example", re.compile(r"(^|/)(examples?|samples?|demos?|benchmarks?|bench|tutorials?)/", re.I)),
    (
        "docs",
        re.compile(
            r"(^|/)(docs?|documentation|man)/|\.(md|mdx|rst|txt|adoc)$|"
            r"(^|/)(README|CHANGELOG|CHANGES|HISTORY|NEWS|AUTHORS|CONTRIBUTING|LICENSE|NOTICE)[^/]*$",
            re.I,
        ),
    ),
)
# words that make a query about that kind of file
_ASKS = {
    "vendored": re.compile(r"\b(vendor\w*|third[ _-]?party|node_modules|dependenc\w*)\b", re.I),
    "generated": re.compile(r"\b(generat\w*|lock ?files?|minif\w*|protobuf|\.pb)\b", re.I),
    "test": re.compile(r"\b(tests?|testing|tested|spec|specs|fixtures?|pytest|unittest|jest|mocks?)\b", re.I),
    "example": re.compile(r"\b(examples?|samples?|demos?|benchmarks?|tutorials?)\b", re.I),
    "docs": re.compile(r"\b(docs?|documentation|readme|changelog|typos?|docstrings?|guide)\b", re.I),
}
_LABEL = {
    "source": "source file",
    "test": "test file",
    "docs": "documentation",
    "example": "example",
    "vendored": "vendored",
    "generated": "generated",
}
# a word spelled as code: has `_`, a lower→upper change, a dot between names, or a call's `(`
_CODE_NAME = re.compile(r"[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*(?:\(\))?")
_CAMEL = re.compile(r"[a-z0-9][A-Z]")


def file_kind(path: str, minified: bool = False) -> str:
    return "generated" if minified else _kind_of_path(path)


@functools.lru_cache(maxsize=65536)
def _kind_of_path(path: str) -> str:
    for kind, pattern in _KINDS:
        if pattern.search(path):
            return kind
    return "source"


def asked_kinds(query: str) -> set[str]:
    """The kinds of file (other than source) the query is about."""
    return {kind for kind, pattern in _ASKS.items() if pattern.search(query)}


def code_names(query: str) -> list[str]:
    """The names a query spells as code (the last part of a dotted one), each once."""
    found: dict[str, None] = {}
    for match in _CODE_NAME.finditer(query):
        spelled = match.group()
        call = spelled.endswith("()")
        name = spelled.removesuffix("()")
        dotted = "." in name
        last = name.rsplit(".", 1)[-1]
        if len(last) < 3:
            continue
        if call or dotted or "_" in last.strip("_") or _CAMEL.search(last) or last.startswith("__"):
            found[last] = None
    return list(found)


@dataclass
class RankedFile:
    path: str
    score: float
    kind: str
    priors: list[str] = field(default_factory=list)


_PIECE = re.compile(r"[A-Z]?[a-z]+|[A-Z]+[a-z]*|\d+|[^\W\d_]+")
_IDENT_WORD = re.compile(r"[^\W\d][\w]*")


COMMON_WEIGHT = 0.7  # the weight (inverse document frequency) of a term in about half the files
MIN_CHUNK_TERMS = 3


_ALNUM = bytes(1 if chr(c).isascii() and chr(c).isalnum() else 0 for c in range(256))
_LOWER_OR_DIGIT = bytes(1 if (97 <= c <= 122 or 48 <= c <= 57) else 0 for c in range(256))
_UPPER = bytes(1 if 65 <= c <= 90 else 0 for c in range(256))


@functools.lru_cache(maxsize=128)
def _pattern(terms: tuple[str, ...]) -> Any:
    """RE2 (linear, and several times the speed of ``re`` here) finding any of ``terms``
    (longest first) in any case; ``starts_word`` keeps the matches where a word starts."""
    if not terms:
        return None
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    options.max_mem = 8 << 20
    alternatives = b"|".join(re.escape(t.encode("utf-8")) for t in terms)
    try:
        return re2.compile(b"(?:" + alternatives + b")", options)
    except re2.error:  # too large a program for max_mem: no chunk-level matching
        return None


def _spelled(field: str, labels: list[str], where: str) -> list[str]:
    """``field:label`` for each label, ``(by stem)`` where ``where`` does not spell it so (the
    query's ``retries`` matching a name ``retry``)."""
    return [f"{field}:{t}" if t in where else f"{field}:{t} (by stem)" for t in labels]


def starts_word(text: bytes, at: int) -> bool:
    """Whether a match at ``at`` starts a word: the text's start, after a character that is
    not an ASCII letter or digit (``_`` included: snake_case parts), or at a lower→upper change."""
    if at == 0:
        return True
    before = text[at - 1]
    return not _ALNUM[before] or (_LOWER_OR_DIGIT[before] == 1 and _UPPER[text[at]] == 1)


@dataclass
class Terms:
    """A query's terms: what the index matches (``parts`` and whole identifiers), how rare each
    is, and how each is shown and found in a file's text: by its ``label``, the query's own
    spelling of it (``redirects`` for the stem ``redirect``), which every term of that spelling
    shares."""

    parts: list[str]
    idents: list[str]
    variants: dict[str, list[str]]  # part term -> its forms in the bodies
    label: dict[str, str]  # term -> its label
    weights: dict[str, float]  # label -> the largest weight of its terms
    pattern: Any  # an RE2 pattern of the terms that tell chunks apart (see ``_pattern``)
    title: frozenset[str] = frozenset()  # a multi-line query's first-line terms (kept when it is long)
    # the terms ``pattern`` finds, lower case, longest first, when all are ASCII (then found with
    # ``bytes.find`` in a lower-case copy: the RE2 wrapper's Python match objects were most of
    # a query's time)
    ascii_terms: tuple[bytes, ...] | None = None

    @classmethod
    def of(cls, query: str, ranked: RankedIndex) -> Terms:
        part_terms = [t for t in dict.fromkeys(parts(query)) if len(t) > 1]
        ident_terms = list(dict.fromkeys(idents(query)))
        label: dict[str, str] = {}
        for word in _IDENT_WORD.findall(query):
            for piece in _PIECE.findall(word):
                for term in parts(piece):
                    label.setdefault(term, piece.lower())
            for term in idents(word):
                label.setdefault(term, word.lower())
        variants = ranked.variants({t: label.get(t, t) for t in part_terms})
        term_weights = ranked.weights(part_terms, ident_terms, variants)
        weights: dict[str, float] = {}
        for term, weight in term_weights.items():
            name = label.setdefault(term, term)
            weights[name] = max(weights.get(name, 0.0), weight)
        # chunks are told apart by the rarer words: one in most files (weight under
        # COMMON_WEIGHT) is not looked for in them, unless the query has few others
        by_weight = sorted(weights, key=lambda name: (-weights[name], name))
        kept = {n for i, n in enumerate(by_weight) if i < MIN_CHUNK_TERMS or weights[n] >= COMMON_WEIGHT}
        telling = [t for t in term_weights if label[t] in kept]
        ordered = tuple(sorted(telling, key=len, reverse=True))
        pattern = _pattern(ordered)
        lines = query.strip().splitlines()
        title = frozenset((*parts(lines[0]), *idents(lines[0]))) if len(lines) > 1 else frozenset()
        ascii_terms = tuple(t.lower().encode() for t in ordered) if all(t.isascii() for t in ordered) else None
        return cls(part_terms, ident_terms, variants, label, weights, pattern, title, ascii_terms)

    def labels(self, text: str) -> set[str]:
        """The labels of the terms in ``text`` (a path, a definition's name)."""
        return {self.label[t] for t in (*parts(text), *idents(text)) if t in self.label}


def rank_files(
    ranked: RankedIndex,
    symbols: SymbolTable,
    records: dict[str, FileRecord],
    query: str,
    terms: Terms,
    accept: Callable[[str], bool] | None,
    read_files: frozenset[str],
    want: int,
    history: Evidence | None = None,
) -> tuple[list[RankedFile], int]:
    """Files for ``query``, best first (at most ``want``), and how many matched in all."""
    pool = max(200, want * 4) if accept is None else max(1000, want * 20)
    found, total = ranked.search(terms.parts, terms.idents, terms.variants, pool, terms.title)
    if accept is not None:
        found = [(p, s) for p, s in found if accept(p)]
    asked = asked_kinds(query)
    files: dict[str, RankedFile] = {}
    for path, score in found:
        record = records.get(path)
        if record is None:
            continue
        kind = file_kind(path, record.minified)
        ranked_file = RankedFile(path, score, kind, [_LABEL[kind]])
        if kind != "source" and kind not in asked:
            ranked_file.score *= DEMOTED
        files[path] = ranked_file
    best = max((f.score for f in files.values()), default=1.0)
    added = 0

    def credit(path: str, share: float, prior: str) -> None:
        """``share`` of the best score to ``path``, with why; a file the words did not rank
        comes in (and counts among those that matched)."""
        nonlocal added
        if accept is not None and not accept(path):
            return
        entry = files.get(path)
        if entry is None:
            record = records.get(path)
            if record is None:
                return
            kind = file_kind(path, record.minified)
            entry = files[path] = RankedFile(path, 0.0, kind, [_LABEL[kind]])
            added += 1
        entry.score += share * best
        entry.priors.append(prior)

    trace = frames(query)
    if trace:  # a pasted stack trace: the files its frames name are evidence of their own
        by_name: dict[str, list[str]] = {}
        for path in records:
            by_name.setdefault(path.rsplit("/", 1)[-1], []).append(path)
        for path in sorted({p for frame in trace for p in matching_files(frame.path, by_name)}):
            credit(path, FRAME_BONUS, "in the stack trace")
    names = list(dict.fromkeys([*code_names(query), *(f.function for f in trace if f.function)]))
    for name in names:
        for path, spelled in symbols.defined_in(name):
            credit(path, SYMBOL_BONUS, f"defines {spelled}")
    for path, share, why in history or ():  # the files whose commit messages say the query's words
        credit(path, HISTORY_BONUS * share, why)
    total += added
    for path in read_files:
        read = files.get(path)
        if read is not None:
            read.score *= READ_BONUS
            read.priors.append("read earlier")
    ordered = sorted(files.values(), key=lambda f: (-f.score, f.path))
    return ordered[:want], max(total, len(ordered))


# -- chunks --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Chunk:
    start: int
    end: int  # inclusive
    symbol: str | None  # the definition (``Class.method``), None for top-level code
    kind: str | None = None  # the definition's kind (``method``, ``class``, …)
    lines: tuple[int, int] | None = None  # the definition's whole range (a window of a long one is less)


@dataclass
class Layout:
    """A file cut into chunks, with what finding terms in it needs: the byte offset each line
    starts at, the chunk each line counts for (the first that holds it), and the chunks'
    names joined into one string (``names``, each chunk's name starting at ``name_at``)."""

    chunks: list[Chunk]
    starts: Sequence[int]  # packed (array): a list of ints took ten times the memory, per line
    chunk_of_line: Sequence[int]
    names: bytes
    name_at: list[int]
    average: float


_layouts: OrderedDict[int, tuple[FileRecord, Layout]] = OrderedDict()
_CACHE_FILES = 256


def layout_of(record: FileRecord) -> Layout:
    """A file's chunks (cached for the most recently ranked files)."""
    key = id(record)
    cached = _layouts.get(key)
    if cached is not None and cached[0] is record:
        _layouts.move_to_end(key)
        return cached[1]
    text = record.text
    starts = array("I", [0])
    find = text.find
    at = find(b"\n")
    while at >= 0:
        starts.append(at + 1)
        at = find(b"\n", at + 1)
    lines = max(1, len(starts) - (1 if text.endswith(b"\n") else 0))
    chunks = _chunk(record, lines)
    chunk_of_line = array("I", [0]) * (lines + 2)
    for index in range(len(chunks) - 1, -1, -1):  # backwards: the first chunk holding a line wins
        chunk = chunks[index]
        chunk_of_line[chunk.start : chunk.end + 1] = array("I", [index]) * (chunk.end - chunk.start + 1)
    name_at: list[int] = []
    pieces: list[bytes] = []
    offset = 0
    for chunk in chunks:
        name_at.append(offset)
        piece = (chunk.symbol or "").encode("utf-8", "replace") + b"\n"
        pieces.append(piece)
        offset += len(piece)
    average = max(1.0, sum(c.end - c.start + 1 for c in chunks) / max(1, len(chunks)))
    layout = Layout(chunks, starts, chunk_of_line, b"".join(pieces), name_at, average)
    _layouts[key] = (record, layout)
    if len(_layouts) > _CACHE_FILES:
        _layouts.popitem(last=False)
    return layout


def _chunk(record: FileRecord, lines: int) -> list[Chunk]:
    definitions = [t for t in (record.tags.definitions if record.tags else ()) if t.end_line > t.line]
    owner: list[int] = [-1] * (lines + 2)  # line -> the innermost definition holding it
    names: list[str] = []
    ordered = sorted(definitions, key=lambda t: (t.line - t.end_line, t.line))  # outermost first
    for tag in ordered:
        parent = owner[tag.line] if tag.line <= lines else -1
        names.append(f"{names[parent]}.{tag.name}" if parent >= 0 else tag.name)
        end = min(tag.end_line, lines)
        if tag.line <= end:
            owner[tag.line : end + 1] = [len(names) - 1] * (end - tag.line + 1)
    chunks: list[Chunk] = []
    line = 1
    while line <= lines:
        who = owner[line]
        end = line
        while end < lines and owner[end + 1] == who:
            end += 1
        if who < 0:  # top-level code: consecutive pieces of at most TOP_LINES
            for first in range(line, end + 1, TOP_LINES):
                chunks.append(Chunk(first, min(end, first + TOP_LINES - 1), None))
            line = end + 1
            continue
        tag = ordered[who]  # the definition: each chunk of it knows its kind and whole range
        definition = (names[who], tag.kind, (tag.line, min(tag.end_line, lines)))
        if end - line + 1 <= LONG_DEFINITION:
            chunks.append(Chunk(line, end, *definition))
        else:  # a long definition: overlapping windows
            first = line
            while True:
                chunks.append(Chunk(first, min(end, first + WINDOW - 1), *definition))
                if first + WINDOW - 1 >= end:
                    break
                first += WINDOW - OVERLAP
        line = end + 1
    return chunks


@dataclass
class ChunkHit:
    chunk: Chunk
    score: float
    best_line: int
    why: list[str]
    text: str = ""  # the best line, stripped (at most MAX_LINE_BYTES)


MAX_LINE_BYTES = 300


def _line(text: bytes, starts: Sequence[int], line: int) -> str:
    """Line ``line`` of ``text`` by the layout's line offsets (no second pass over the file)."""
    if not 1 <= line <= len(starts):
        return ""
    end = starts[line] - 1 if line < len(starts) else len(text)
    return text[starts[line - 1] : end].strip()[:MAX_LINE_BYTES].decode("utf-8", "replace")


def _matches(text: bytes, pattern: Any, ascii_terms: tuple[bytes, ...] | None) -> list[tuple[int, bytes]]:
    """Where the terms are in ``text`` (any case), as (offset, the term in lower case): what
    ``pattern.finditer`` gives (leftmost, the longest term first at a place, not overlapping).
    For ASCII terms each is found with ``bytes.find`` in a lower-case copy of the text (C loops,
    no match object per hit), then the same choice is made over the places found."""
    if ascii_terms is None:
        return [(m.start(), m.group().lower()) for m in pattern.finditer(text)]
    lower = text.lower()
    found: list[tuple[int, int, bytes]] = []
    for term in ascii_terms:
        find, size = lower.find, len(term)
        at = find(term)
        while at >= 0:
            found.append((at, -size, term))
            at = find(term, at + 1)
    found.sort()
    chosen: list[tuple[int, bytes]] = []
    end = 0
    for at, negative, term in found:
        if at >= end:
            chosen.append((at, term))
            end = at - negative
    return chosen


def best_chunks(record: FileRecord, path: str, terms: Terms, limit: int = CHUNKS_PER_FILE) -> list[ChunkHit]:
    """The chunks of a file where the query's terms are, best first (at least one: the file's
    first chunk when only its path or names matched)."""
    layout = layout_of(record)
    chunks = layout.chunks
    counts: dict[int, dict[str, int]] = {}
    line_terms: dict[int, set[str]] = {}
    pattern = terms.pattern
    if pattern is not None and not record.minified:
        label_of = {t.encode("utf-8"): name for t, name in terms.label.items()}
        starts, chunk_of_line = layout.starts, layout.chunk_of_line
        text = record.text
        for at, spelled in _matches(text, pattern, terms.ascii_terms):
            name = label_of.get(spelled)
            if name is None or not starts_word(text, at):
                continue
            line = bisect.bisect_right(starts, at)
            found = line_terms.get(line)
            if found is None:
                line_terms[line] = {name}
            else:
                found.add(name)
            bag = counts.setdefault(chunk_of_line[min(line, len(chunk_of_line) - 1)], {})
            bag[name] = bag.get(name, 0) + 1
    named: dict[int, list[str]] = {}
    if pattern is not None and layout.names.strip():
        for match in pattern.finditer(layout.names):
            if not starts_word(layout.names, match.start()):
                continue
            index = bisect.bisect_right(layout.name_at, match.start()) - 1
            if index not in named:
                named[index] = sorted(terms.labels(chunks[index].symbol or ""))
    best_line: dict[int, tuple[int, int]] = {}  # chunk -> (terms on its best line, that line)
    for line, found in line_terms.items():
        index = layout.chunk_of_line[min(line, len(layout.chunk_of_line) - 1)]
        current = best_line.get(index)
        if current is None or (len(found), -line) > (current[0], -current[1]):
            best_line[index] = (len(found), line)
    in_path = sorted(terms.labels(path))
    weights = terms.weights
    scored: list[tuple[float, int, int]] = []  # (-score, first line, chunk)
    for index in set(counts) | set(named):
        chunk = chunks[index]
        bag = counts.get(index, {})
        norm = K1 * (1 - B + B * (chunk.end - chunk.start + 1) / layout.average)
        score = sum(weights.get(t, 0.0) * n * (K1 + 1) / (n + norm) for t, n in bag.items())
        score += sum(2 * weights.get(t, 0.0) for t in named.get(index, ()))
        scored.append((-score, chunk.start, index))
    scored.sort()
    hits: list[ChunkHit] = []
    for negative, _, index in scored[:limit]:  # why and the best line only for the parts returned
        chunk = chunks[index]
        bag = counts.get(index, {})
        names = named.get(index, [])
        score = -negative
        why = _spelled("name", names, (chunk.symbol or "").lower()) + _spelled("path", in_path, path.lower())
        strongest = sorted(bag.items(), key=lambda item: (-item[1] * weights.get(item[0], 0.0), item[0]))
        why += [f"body:{t}×{n}" if n > 1 else f"body:{t}" for t, n in strongest[:MAX_WHY_BODY]]  # noqa: RUF001
        line = best_line.get(index, (0, chunk.start))[1]
        hits.append(ChunkHit(chunk, score, line, why, _line(record.text, layout.starts, line)))
    if not hits and chunks:
        first = chunks[0].start
        why = _spelled("path", in_path, path.lower())
        hits.append(ChunkHit(chunks[0], 0.0, first, why, _line(record.text, layout.starts, first)))
    return hits[:limit]
