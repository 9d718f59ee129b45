"""Text search over the index's in-memory copy of each file: literal or RE2 regex.

Like ripgrep: line-oriented (a match never spans lines), smart case (case-insensitive unless
the query has an upper-case letter), one result per matching line. A regex is compiled by RE2,
which runs in linear time, so no pattern can hang the server; look-arounds and back-references
are refused. Only the files whose trigram signature (``grams``) holds every trigram of the
query, or of the literal a regex requires (``def\\s+parse_\\w+`` requires ``parse_``), are read
at all; of those, files without the literal are skipped before the regex runs (the literal
found ignoring case when the regex ignores it). A search that ignores case runs RE2 too, over
the text as it is (a lower-cased copy of every file, kept for such searches, was as large as
the text itself, and searching it was slower than RE2).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NamedTuple

import re2

from assistant.errors import AssistantError

from .grams import needles

MAX_LINE = 300
MAX_COUNTED = 10_000  # matching lines counted per search; beyond this the total is a floor
MAX_REGEX_BYTES = 1024
MAX_PROGRAM_SIZE = 4096  # RE2 instructions: RE2 is linear in the text, but times this size
RE2_MAX_MEM = 8 << 20  # bytes RE2 may use for one compiled pattern (its default is 8 MiB too)
CHECK_EVERY = 64  # matching lines between two looks at the clock within one file

Stop = Callable[[], bool]

_ESCAPE = re.compile(r"\\.")
_META = set("\\.^$|?*+()[]{}")


class QueryError(AssistantError):
    """A search the index cannot run (``invalid_parameter``). ``message`` says why and what is
    allowed; ``param`` the part of the search at fault (``query`` or ``mode``), which each caller
    renames to its own spelling (``q`` for ``GET /search``, ``query`` for the tool)."""

    def __init__(self, message: str, field: str = "query") -> None:
        super().__init__("invalid_parameter", message, param=field)


class TextHit(NamedTuple):
    path: str
    line: int
    text: str
    before: str | None
    after: str | None


def smart_case_sensitive(query: str, regex: bool) -> bool:
    visible = _ESCAPE.sub("", query) if regex else query
    return any(ch.isupper() for ch in visible)


def required_literal(pattern: str) -> str | None:
    """The longest literal every match of ``pattern`` must contain, if one is easy to see.

    Conservative: only runs of plain characters at the top level of a pattern without
    alternation; a character followed by ``?``, ``*`` or ``{`` is optional and ends the run.
    """
    if "|" in pattern or "(?" in pattern:  # alternation, or flags (case) that may change within
        return None
    runs: list[str] = []
    current: list[str] = []
    depth = 0
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        nxt = pattern[i + 1] if i + 1 < len(pattern) else ""
        if ch == "\\":
            esc = nxt
            literal = esc if esc and not esc.isalnum() else None
            i += 2
            following = pattern[i] if i < len(pattern) else ""
            if literal is not None and depth == 0 and following not in ("?", "*", "{"):
                current.append(literal)
                continue
            runs.append("".join(current))
            current = []
            continue
        if ch in "([":
            runs.append("".join(current))
            current = []
            if ch == "[":
                close = pattern.find("]", i + 2)
                i = close + 1 if close > 0 else len(pattern)
                continue
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        elif ch in _META or depth or nxt in ("?", "*", "{"):
            runs.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    runs.append("".join(current))
    best = max(runs, key=len)
    return best if len(best) >= 3 else None


@dataclass(frozen=True)
class Matcher:
    """A compiled text query."""

    query: str
    regex: bool
    case_sensitive: bool
    literal: bytes | None  # for a literal query: the bytes; for a regex: a required literal
    pattern: re2._Regexp | None
    # a regex ignoring case whose required literal has letters: that literal, ignoring case
    prefilter: re2._Regexp | None = None
    grams: tuple[int, ...] = ()  # trigrams every matching text holds (see grams.py); () if none are known

    @classmethod
    def build(cls, query: str, regex: bool) -> Matcher:
        if not query:
            raise QueryError("the query is empty")
        if regex and len(query.encode("utf-8", "surrogatepass")) > MAX_REGEX_BYTES:
            raise QueryError(f"a regular expression may be at most {MAX_REGEX_BYTES} bytes long")
        sensitive = smart_case_sensitive(query, regex)
        if not regex and sensitive:
            return cls(query, False, True, query.encode(), None, grams=tuple(needles(query.encode(), False)))
        # ignoring case: RE2, with no lower-cased copy of every file (RE2 ignores case faster
        # than a search of such a copy, and the copy was as large as the text itself)
        options = re2.Options()
        options.log_errors = False
        options.never_nl = True
        options.case_sensitive = sensitive
        options.max_mem = RE2_MAX_MEM
        source = query if regex else re.escape(query)
        try:
            compiled = re2.compile(b"(?m)" + source.encode(), options)
        except re2.error as exc:
            detail = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
            hint = (
                " (RE2 syntax: look-arounds and back-references are not supported)"
                if "perl operator" in detail or "escape" in detail
                else ""
            )
            if "too large" in detail or "too big" in detail or "out of memory" in detail:
                hint = " (the pattern is too complex; simplify it)"
            raise QueryError(f"invalid regular expression: {detail}{hint}") from None
        if regex and compiled.programsize > MAX_PROGRAM_SIZE:
            raise QueryError(
                f"the regular expression is too complex ({compiled.programsize} RE2 instructions, "
                f"at most {MAX_PROGRAM_SIZE}); simplify it"
            )
        if not regex:  # a literal ignoring case
            return cls(query, False, False, None, compiled, grams=tuple(needles(query.encode(), True)))
        required = required_literal(query)
        if not required or not required.isascii():
            return cls(query, regex, sensitive, None, compiled)
        grams = tuple(needles(required.encode(), not sensitive))
        if sensitive or required.lower() == required.upper():  # no letters: case cannot differ
            return cls(query, regex, sensitive, required.encode(), compiled, grams=grams)
        prefilter = re2.compile(re.escape(required).encode(), options)
        return cls(query, regex, sensitive, None, compiled, prefilter, grams)


def _line_at(text: bytes, start: int, end: int) -> str:
    return text[start:end].rstrip(b"\r")[:MAX_LINE].decode("utf-8", "replace")


def _line_bounds(text: bytes, pos: int) -> tuple[int, int]:
    start = text.rfind(b"\n", 0, pos) + 1
    end = text.find(b"\n", pos)
    return start, len(text) if end < 0 else end


class _Collector:
    def __init__(self, limit: int, stop: Stop | None) -> None:
        self.limit = limit
        self.hits: list[TextHit] = []
        self.total = 0
        self.stop = stop
        self.stopped = False  # the deadline passed or the caller left

    @property
    def full(self) -> bool:
        return self.total >= MAX_COUNTED or self.stopped

    def check(self) -> bool:
        """Whether to go on (looks at the clock and the cancel flag)."""
        if self.stop is not None and not self.stopped and self.stop():
            self.stopped = True
        return not self.stopped

    def add(self, path: str, text: bytes, start: int, end: int, line: int) -> None:
        self.total += 1
        if len(self.hits) >= self.limit:
            return
        before = after = None
        if start > 0:
            prev = text.rfind(b"\n", 0, start - 1) + 1
            before = _line_at(text, prev, start - 1)
        if end < len(text):
            nxt = text.find(b"\n", end + 1)
            after = _line_at(text, end + 1, len(text) if nxt < 0 else nxt)
            if after == "" and nxt < 0:
                after = None
        self.hits.append(TextHit(path, line, _line_at(text, start, end), before, after))


def _scan(matcher: Matcher, path: str, text: bytes, out: _Collector) -> None:
    needle = matcher.literal
    if needle is not None and text.find(needle) < 0:
        return
    if matcher.prefilter is not None and matcher.prefilter.search(text) is None:
        return
    line_no = 1
    counted_to = 0
    pos = 0
    while pos <= len(text) and not out.full:
        if matcher.pattern is None:
            assert needle is not None
            found = text.find(needle, pos)
            if found < 0:
                return
        else:
            match = matcher.pattern.search(text, pos)
            if match is None:
                return
            found = match.start()
        start, end = _line_bounds(text, found)
        line_no += text.count(b"\n", counted_to, start)
        counted_to = start
        out.add(path, text, start, end, line_no)
        pos = end + 1
        if out.total % CHECK_EVERY == 0 and not out.check():
            return


FileText = tuple[str, bytes]  # (path, text)


def search_text(
    matcher: Matcher, files: Iterable[FileText], limit: int, stop: Stop | None = None
) -> tuple[list[TextHit], int, bool, bool]:
    """Matching lines in path order: (hits up to ``limit``, total counted, truncated, stopped).

    ``stop`` is asked between files (and every few hundred matching lines): when it says yes
    the search ends with what it found, ``stopped`` and truncated."""
    out = _Collector(limit, stop)
    for path, text in files:
        if not out.check():
            break
        _scan(matcher, path, text, out)
        if out.full:
            break
    return out.hits, out.total, out.full or out.total > len(out.hits), out.stopped
