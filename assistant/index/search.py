"""Search over one repository's index: the engine behind /search and the search_files tool."""

from __future__ import annotations

import fnmatch
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import re2

from assistant.types import SEARCH_MODES, IndexState, SearchHit, SearchMode
from sandbox import Components

from .ranking import Terms, best_chunks, rank_files
from .repo_index import RepoIndex
from .text import Matcher, QueryError, TextHit, search_text

MODES = SEARCH_MODES
MAX_LIMIT = 500
MAX_QUERY_BYTES = 16 * 1024  # a pasted issue or stack trace fits; beyond this is refused
DEADLINE_SECONDS = 10.0  # every search ends by then, with what it found and truncated: true
TEXT_SCORE = 10.0
TEXT_READ_BONUS = 5.0
# a file's second part scores half its share of the file's score, so it comes after the files that
# rank near its file (measured on semble's questions: 0.800 at 1.0, 0.823 at 0.5, 0.825 at 0)
SECOND_PART = 0.5
_IDENTIFIER = re.compile(r"^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$")
# While the index builds, files not parsed yet are scanned for definitions of the name with one
# pattern that covers the keywords of every indexed language (def, func, fn, function, class,
# struct, …) and C-like `name(...) {` definitions. Good enough for that window; the parsed
# tags replace it as soon as the file is parsed.
_DEFINITION_WORDS = {
    "def": "function", "function": "function", "func": "function", "fn": "function", "sub": "function",
    "class": "class", "struct": "class", "interface": "interface", "trait": "interface", "enum": "class",
    "type": "type", "module": "module", "mod": "module", "record": "class", "union": "class", "#define": "macro",
}  # fmt: skip
SCAN_SCORE = 900.0 + 100.0  # an exact (case-insensitive) definition


@dataclass
class SearchResult:
    """What a search found, in the shape docs/api.md gives (``to_dict``)."""

    query: str
    mode: str
    results: list[SearchHit]
    total: int
    truncated: bool
    took_ms: float
    state: IndexState
    progress: float
    files: set[str] = field(default_factory=set)
    stopped: bool = False  # ended early: the deadline passed or the caller left

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "mode": self.mode,
            "results": self.results,
            "total": self.total,
            "truncated": self.truncated,
            "took_ms": self.took_ms,
            "index": {"state": self.state, "progress": self.progress},
        }


def merge_by_rank(found: list[tuple[str, SearchResult]], limit: int) -> SearchResult:
    """Results of one query in several repositories as one: each repository's first result,
    then each one's second, … (the better score first among equals), each naming its ``repo``.
    Scores of different repositories are not comparable; ranks are."""
    merged: list[tuple[int, float, int, SearchHit]] = []
    for order, (root, result) in enumerate(found):
        for position, hit in enumerate(result.results):
            hit["repo"] = root
            merged.append((position, -hit["score"], order, hit))
    merged.sort(key=lambda item: item[:3])
    results = [hit for _, _, _, hit in merged[:limit]]
    building = [r for _, r in found if r.state == "building"]
    return SearchResult(
        query=found[0][1].query if found else "",
        mode=found[0][1].mode if found else "",
        results=results,
        total=sum(r.total for _, r in found),
        truncated=any(r.truncated for _, r in found) or len(merged) > len(results),
        took_ms=max((r.took_ms for _, r in found), default=0.0),
        state="building" if building else "ready",
        progress=min((r.progress for r in building), default=1.0),
        files={f"{root}/{f}" for root, r in found for f in r.files},
        stopped=any(r.stopped for _, r in found),
    )


def path_filter(prefix: Components, glob: str | None) -> Callable[[str], bool] | None:
    """A filter on repo-relative paths: under ``prefix`` (whole components) and matching ``glob``.

    A glob without ``/`` matches the file name (``*.py``); with ``/`` the whole path.
    """
    if not prefix and not glob:
        return None
    head = "/".join(prefix) + "/" if prefix else ""

    def accept(path: str) -> bool:
        if head and not path.startswith(head) and path != head[:-1]:  # under a directory, or the file itself
            return False
        if glob:
            target = path if "/" in glob else path.rsplit("/", 1)[-1]
            return fnmatch.fnmatchcase(target, glob)
        return True

    return accept


def _text_result(hit: TextHit, score: float) -> SearchHit:
    result: SearchHit = {
        "file": hit.path,
        "line": hit.line,
        "end_line": hit.line,
        "kind": "text",
        "text": hit.text,
        "score": score,
    }
    if hit.before is not None:
        result["context_before"] = hit.before
    if hit.after is not None:
        result["context_after"] = hit.after
    return result


@dataclass(frozen=True)
class SearchQuery:
    """One search, checked once where it enters (``of``): a mode we have, a query that is not
    empty, valid Unicode and at most ``MAX_QUERY_BYTES``."""

    text: str
    mode: SearchMode = "auto"
    prefix: Components = ()
    glob: str | None = None
    limit: int = 50
    read_files: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls,
        text: str,
        mode: str = "auto",
        *,
        prefix: Components = (),
        glob: str | None = None,
        limit: int = 50,
        read_files: frozenset[str] = frozenset(),
    ) -> SearchQuery:
        if mode not in MODES:
            raise QueryError(f"`mode` must be one of {', '.join(MODES)}", field="mode")
        if not text.strip():
            raise QueryError("the query is empty")
        try:
            size = len(text.encode("utf-8"))
        except UnicodeEncodeError:
            raise QueryError("the query is not valid Unicode (it holds a lone surrogate)") from None
        if size > MAX_QUERY_BYTES:
            raise QueryError(f"the query is longer than {MAX_QUERY_BYTES // 1024} KB; shorten it")
        return cls(text, mode, tuple(prefix), glob, limit, read_files)

    @property
    def identifier(self) -> bool:
        """A name (``parse``, ``Parser.parse``): ``auto`` looks it up as a symbol first."""
        return bool(_IDENTIFIER.match(self.text.strip()))

    @property
    def scans_files(self) -> bool:
        """Whether the search reads every file's text (text and regex; ``auto`` for a name: its
        symbols, then its text), rather than the ranked and symbol indexes alone."""
        if self.mode == "auto":
            return self.identifier
        return self.mode in ("text", "regex")


@dataclass
class _Found:
    """What one mode found (``SearchResult`` adds the timing and the index's state)."""

    mode: str
    results: list[SearchHit]
    total: int
    truncated: bool
    stopped: bool = False


@dataclass(frozen=True)
class _Scope:
    """What every mode reads: the index, the query, the path filter and the stop check."""

    index: RepoIndex
    query: SearchQuery
    accept: Callable[[str], bool] | None
    stop: Callable[[], bool]


def search_index(
    index: RepoIndex,
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
    """``run_search`` of a query checked here (``SearchQuery.of``)."""
    checked = SearchQuery.of(query, mode, prefix=prefix, glob=glob, limit=limit, read_files=read_files)
    return run_search(index, checked, deadline=deadline, cancel=cancel)


def run_search(
    index: RepoIndex, query: SearchQuery, *, deadline: float = DEADLINE_SECONDS, cancel: threading.Event | None = None
) -> SearchResult:
    """Run one search (refreshing the index first, so every edit so far is seen).

    It ends after ``deadline`` seconds, or as soon as ``cancel`` is set (the caller left), with
    what it found so far and ``truncated`` set. (A repository that is a subdirectory of a root
    is searched through its ``IndexView``.)"""
    started = time.perf_counter()
    ends = time.monotonic() + deadline

    def stop() -> bool:
        return time.monotonic() > ends or (cancel is not None and cancel.is_set())

    index.refresh()
    scope = _Scope(index, query, path_filter(query.prefix, query.glob), stop)
    if query.mode == "ranked" or (query.mode == "auto" and not query.identifier):
        found = _by_rank(scope)
    elif query.mode == "symbol":
        found = _by_symbol(scope, query.text)
    elif query.mode in ("text", "regex"):
        found = _by_text(scope)
    else:
        found = _by_name(scope)
    if found.mode != "ranked":
        for result in found.results:
            if index.is_minified(result["file"]):
                result["minified"] = True
        found.results.sort(key=lambda r: r.get("minified", False))  # stable: minified or generated files last
    return SearchResult(
        query=query.text,
        mode=found.mode,
        results=found.results,
        total=found.total,
        truncated=found.truncated,
        took_ms=round((time.perf_counter() - started) * 1000, 2),
        state=index.state,
        progress=index.progress,
        files={r["file"] for r in found.results},
        stopped=found.stopped,
    )


def _by_rank(scope: _Scope) -> _Found:
    """A question in words: files in rank order, each with its best parts."""
    query = scope.query
    ranked, total = _ranked(scope.index, query.text, scope.accept, query.read_files, query.limit, set())
    return _Found("ranked", ranked, total, total > len({r["file"] for r in ranked}))


def _by_symbol(scope: _Scope, text: str) -> _Found:
    """Definitions and references of a name (its last dotted part) from the symbol table, and,
    while the index builds, definitions scanned for in the files not parsed yet."""
    index, query = scope.index, scope.query
    name = text.rsplit(".", 1)[-1]
    hits, total = index.symbols.search(name, query.limit, read_files=query.read_files, path_filter=scope.accept)
    results: list[SearchHit] = []
    if index.state == "building":
        scanned = _scan_definitions(index, name, scope.accept, query.limit, scope.stop)
        results.extend(scanned)
        total += len(scanned)
    for hit in hits:
        tag = hit.tag
        results.append(
            {
                "file": hit.path,
                "line": tag.line,
                "end_line": tag.end_line,
                "kind": "definition" if tag.is_definition else "reference",
                "symbol": tag.name,
                "symbol_kind": tag.kind,
                "text": _line_of(index, hit.path, tag.line),
                "score": hit.score,
            }
        )
    results.sort(key=lambda r: -r["score"])  # stable: scanned definitions among the parsed ones
    del results[query.limit :]
    return _Found("symbol", results, total, total > len(results))


def _text_hits(scope: _Scope, matcher: Matcher, room: int, seen: set[tuple[str, int]]) -> _Found:
    """Lines matching ``matcher``, at most ``room`` of them, none of the lines already ``seen``."""
    read_files = scope.query.read_files
    texts = scope.index.texts(scope.accept, matcher.grams)
    hits, total, truncated, stopped = search_text(matcher, texts, room + len(seen), scope.stop)
    results: list[SearchHit] = []
    for hit in hits:
        if (hit.path, hit.line) in seen:
            total -= 1
            continue
        if len(results) < room:
            results.append(_text_result(hit, TEXT_SCORE + (TEXT_READ_BONUS if hit.path in read_files else 0.0)))
    return _Found("text", results, total, truncated or total > len(results), stopped)


def _by_text(scope: _Scope) -> _Found:
    """A literal (smart case) or RE2 search over every file's text; files the conversation
    read come first."""
    query = scope.query
    found = _text_hits(scope, Matcher.build(query.text, regex=query.mode == "regex"), query.limit, set())
    found.mode = query.mode
    if query.read_files:
        found.results.sort(key=lambda r: -r["score"])  # stable: read files first, path order within
    return found


def _by_name(scope: _Scope) -> _Found:
    """``auto`` for a name: its symbols, then the lines that mention it, then what ranked
    search adds, each part skipping the lines shown above it."""
    query = scope.query
    name = query.text.strip()
    symbols = _by_symbol(scope, name)
    seen = {(r["file"], r["line"]) for r in symbols.results}
    text = _text_hits(scope, Matcher.build(name, regex=False), max(0, query.limit - len(symbols.results)), seen)
    found = _Found(
        "symbol+text",
        symbols.results + text.results,
        symbols.total + text.total,
        symbols.truncated or text.truncated,
        text.stopped,
    )
    room = query.limit - len(found.results)
    if room > 0 and not found.stopped:
        seen.update((r["file"], r["line"]) for r in text.results)
        more, more_total = _ranked(scope.index, name, scope.accept, query.read_files, room, seen)
        found.results.extend(more)
        found.total += more_total
        if more:
            found.mode = "symbol+text+ranked"
    return found


def _ranked(
    index: RepoIndex,
    query: str,
    accept: Callable[[str], bool] | None,
    read_files: frozenset[str],
    limit: int,
    seen_lines: set[tuple[str, int]],
) -> tuple[list[SearchHit], int]:
    """Ranked results: files in rank order, each with its best chunks (see ``ranking``)."""
    data = index.data
    terms = Terms.of(query, data.ranked)
    history = index.history(query) if index.history is not None else []
    files, total = rank_files(data.ranked, data.symbols, data.files, query, terms, accept, read_files, limit, history)
    results: list[SearchHit] = []
    shown: dict[str, list[int]] = {}
    for path, line in seen_lines:
        shown.setdefault(path, []).append(line)
    for ranked_file in files:
        record = data.files.get(ranked_file.path)
        if record is None:
            continue
        hits = best_chunks(record, ranked_file.path, terms)
        top = hits[0].score if hits and hits[0].score > 0 else 1.0
        for part, hit in enumerate(hits):
            if any(hit.chunk.start <= line <= hit.chunk.end for line in shown.get(ranked_file.path, ())):
                continue  # the symbol or text results above already show this part
            result: SearchHit = {
                "file": ranked_file.path,
                "line": hit.chunk.start,
                "end_line": hit.chunk.end,
                "kind": "chunk",
                "text": hit.text,
                "score": round(
                    ranked_file.score * (hit.score / top if hit.score > 0 else 1.0) * (SECOND_PART if part else 1.0), 4
                ),
                "why": hit.why + ranked_file.priors,
            }
            if hit.best_line != hit.chunk.start:
                result["match_line"] = hit.best_line
            if hit.chunk.symbol:
                result["symbol"] = hit.chunk.symbol
                if hit.chunk.kind:
                    result["symbol_kind"] = hit.chunk.kind
                if hit.chunk.lines:
                    result["symbol_lines"] = list(hit.chunk.lines)
            results.append(result)
    # one result per file near the top: a file's second part keeps its own score (the file's
    # score scaled by how the part compares with the file's best, and by SECOND_PART), so it
    # follows the files that rank about as well instead of taking the place of the next file
    results.sort(key=lambda r: -r["score"])  # stable: a file's parts and equal files stay in order
    del results[limit:]
    return results, total


def _definition_pattern(name: str) -> Any:
    """RE2 (linear time: the scanned files are the user's, any size) for a definition of ``name``."""
    words = "|".join(re.escape(w) for w in sorted(_DEFINITION_WORDS, key=len, reverse=True))
    escaped = re.escape(name)
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    source = (
        r"(?m)^[ \t]*(?:[\w@:<>\[\],*&]+[ \t]+)*?(?:("
        + words
        + r")[ \t]+(?:\([^)\n]*\)[ \t]*)?(?:self\.)?"
        + escaped
        + r"\b|"
        + escaped
        + r"[ \t]*\([^;\n]*\)[ \t]*(?:const[ \t]*)?\{)"
    )
    return re2.compile(source.encode(), options)


def _scan_definitions(
    index: RepoIndex, name: str, accept: Callable[[str], bool] | None, limit: int, stop: Callable[[], bool]
) -> list[SearchHit]:
    """Definitions of ``name`` in the files the index has not parsed yet (while it builds)."""
    pattern = _definition_pattern(name)
    found: list[SearchHit] = []
    for path, text in index.unparsed(accept):
        if stop() or len(found) >= limit:
            break
        for match in pattern.finditer(text):
            line = text.count(b"\n", 0, match.start()) + 1
            word = (match.group(1) or b"").decode().lower()
            found.append(
                {
                    "file": path, "line": line, "end_line": line, "kind": "definition", "symbol": name,
                    "symbol_kind": _DEFINITION_WORDS.get(word, "function"), "text": _line_of(index, path, line),
                    "score": SCAN_SCORE,
                }
            )  # fmt: skip
            if len(found) >= limit:
                break
    return found


def _line_of(index: RepoIndex, path: str, line: int) -> str:
    record = index.files.get(path)
    if record is None:
        return ""
    lines = record.text.split(b"\n", line)
    return lines[line - 1].strip()[:300].decode("utf-8", "replace") if len(lines) >= line else ""
