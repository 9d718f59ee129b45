"""Search over one repository's index: the engine behind /search and the search_files tool."""

from __future__ import annotations

import fnmatch
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import re2

from assistant.types import SEARCH_MODES, SearchHit
from sandbox import Components

from .ranking import Terms, best_chunks, rank_files
from .repo_index import RepoIndex
from .text import Matcher, QueryError, TextHit, search_text

Mode = Literal["auto", "ranked", "symbol", "text", "regex"]
MODES = SEARCH_MODES
MAX_LIMIT = 500
MAX_QUERY_BYTES = 16 * 1024  # a pasted issue or stack trace fits; beyond this is refused
DEADLINE_SECONDS = 10.0  # every search ends by then, with what it found and truncated: true
TEXT_SCORE = 10.0
TEXT_READ_BONUS = 5.0
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
    state: str
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


def scans_files(query: str, mode: str) -> bool:
    """Whether a search reads every file's text (text and regex; ``auto`` for an identifier: its
    symbols, then its text), rather than the ranked and symbol indexes alone."""
    if mode == "auto":
        return bool(_IDENTIFIER.match(query.strip()))
    return mode in ("text", "regex")


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
    """Run one search (refreshing the index first, so every edit so far is seen).

    It ends after ``deadline`` seconds, or as soon as ``cancel`` is set (the caller left), with
    what it found so far and ``truncated`` set. (A repository that is a subdirectory of a root
    is searched through its ``IndexView``.)"""
    started = time.perf_counter()
    if mode not in MODES:
        raise QueryError(f"`mode` must be one of {', '.join(MODES)}", field="mode")
    if not query.strip():
        raise QueryError("the query is empty")
    try:
        size = len(query.encode("utf-8"))
    except UnicodeEncodeError:
        raise QueryError("the query is not valid Unicode (it holds a lone surrogate)") from None
    if size > MAX_QUERY_BYTES:
        raise QueryError(f"the query is longer than {MAX_QUERY_BYTES // 1024} KB; shorten it")
    ends = time.monotonic() + deadline

    def stop() -> bool:
        return time.monotonic() > ends or (cancel is not None and cancel.is_set())

    index.refresh()
    accept = path_filter(prefix, glob)
    resolved: str = mode
    if mode == "auto":
        resolved = "symbol" if _IDENTIFIER.match(query.strip()) else "ranked"
        query_ = query.strip() if resolved == "symbol" else query
    else:
        query_ = query
    if resolved == "ranked":
        ranked, ranked_total = _ranked(index, query, accept, read_files, limit, set())
        return SearchResult(
            query=query,
            mode="ranked",
            results=ranked,
            total=ranked_total,
            truncated=ranked_total > len({r["file"] for r in ranked}),
            took_ms=round((time.perf_counter() - started) * 1000, 2),
            state=index.state,
            progress=index.progress,
            files={r["file"] for r in ranked},
        )
    results: list[SearchHit] = []
    total = 0
    truncated = False
    stopped = False
    seen_lines: set[tuple[str, int]] = set()
    if resolved == "symbol":
        name = query_.rsplit(".", 1)[-1]
        hits, total = index.symbols.search(name, limit, read_files=read_files, path_filter=accept)
        if index.state == "building":
            scanned = _scan_definitions(index, name, accept, limit, stop)
            results.extend(scanned)
            seen_lines.update((r["file"], r["line"]) for r in scanned)
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
            seen_lines.add((hit.path, tag.line))
        results.sort(key=lambda r: -r["score"])  # stable: scanned definitions among the parsed ones
        del results[limit:]
        truncated = total > len(results)
    if resolved in ("text", "regex") or mode == "auto":
        matcher = Matcher.build(query_, regex=resolved == "regex")
        room = max(0, limit - len(results)) if mode == "auto" and resolved == "symbol" else limit
        texts = index.texts(accept)
        text_hits, text_total, text_truncated, stopped = search_text(matcher, texts, room + len(seen_lines), stop)
        added = 0
        for text_hit in text_hits:
            if (text_hit.path, text_hit.line) in seen_lines:
                text_total -= 1
                continue
            if added < room:
                results.append(
                    _text_result(text_hit, TEXT_SCORE + (TEXT_READ_BONUS if text_hit.path in read_files else 0.0))
                )
                added += 1
        total += text_total
        truncated = truncated or text_truncated or text_total > added
        if mode == "auto" and resolved == "symbol":
            resolved = "symbol+text"
            room = limit - len(results)
            if room > 0 and not stopped:  # then what ranked search adds
                seen_lines.update((r["file"], r["line"]) for r in results)
                more, more_total = _ranked(index, query_, accept, read_files, room, seen_lines)
                results.extend(more)
                total += more_total
                if more:
                    resolved = "symbol+text+ranked"
    if read_files and resolved in ("text", "regex"):
        results.sort(key=lambda r: -r["score"])  # stable: read files first, path order within
    for result in results:
        if index.is_minified(result["file"]):
            result["minified"] = True
    results.sort(key=lambda r: r.get("minified", False))  # stable: minified or generated files last
    return SearchResult(
        query=query,
        mode=resolved,
        results=results,
        total=total,
        truncated=truncated,
        took_ms=round((time.perf_counter() - started) * 1000, 2),
        state=index.state,
        progress=index.progress,
        files={r["file"] for r in results},
        stopped=stopped,
    )


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
    files, total = rank_files(data.ranked, data.symbols, data.files, query, terms, accept, read_files, limit)
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
        for hit in hits:
            if len(results) >= limit:
                break
            if any(hit.chunk.start <= line <= hit.chunk.end for line in shown.get(ranked_file.path, ())):
                continue  # the symbol or text results above already show this part
            result: SearchHit = {
                "file": ranked_file.path,
                "line": hit.chunk.start,
                "end_line": hit.chunk.end,
                "kind": "chunk",
                "text": hit.text,
                "score": round(ranked_file.score * (hit.score / top if hit.score > 0 else 1.0), 4),
                "why": hit.why + ranked_file.priors,
            }
            if hit.best_line != hit.chunk.start:
                result["match_line"] = hit.best_line
            if hit.chunk.symbol:
                result["symbol"] = hit.chunk.symbol
            results.append(result)
        if len(results) >= limit:
            break
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
