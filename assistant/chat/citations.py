"""Citations and sources of an answer.

A citation is ``path:line`` or ``path:line-line`` in the answer's text. It is *verified* only when
the file is in the repository's index and the lines are within it; the UI links verified ones
to the file preview and marks the rest unverified. The sources are what the tools actually
read for the answer: each ``read_file`` call that completed, with its line range.
"""

from __future__ import annotations

import re
from typing import Any

from assistant.conversations import Source, TraceEntry
from assistant.errors import AssistantError
from assistant.history import HistoryManager
from assistant.index import IndexManager
from sandbox import Roots, SandboxError

# a path (with a `/` or an extension) then :line or :line-line; not inside a URL or a longer word
CITATION = re.compile(
    r"(?<![\w/.:-])((?:[\w.-]+/)*[\w.-]*[\w-]\.[\w]+|(?:[\w.-]+/)+[\w.-]+):(\d{1,7})(?:[-\u2013](\d{1,7}))?\b"
)
MAX_CITATIONS = 200
# a commit id as answers write it: 7 to 40 hex digits with at least one digit (so that English
# words made of a-f are not looked up), standing alone
COMMIT = re.compile(r"(?<![\w/.:-])(?=[a-f]*\d)[0-9a-f]{7,40}(?![\w-])")
MAX_COMMIT_LOOKUPS = 50


class Verifier:
    """Whether cited lines exist in a repository's index (each file's line count taken once)."""

    def __init__(self, indexes: IndexManager, repo_path: str) -> None:
        self.view = indexes.get(repo_path)
        self._lines: dict[str, int | None] = {}

    def lines(self, path: str) -> int | None:
        if path not in self._lines:
            record = self.view.record(path)
            text = record.text if record is not None else None
            self._lines[path] = (
                None if text is None else text.count(b"\n") + (0 if text.endswith(b"\n") or not text else 1)
            )
        return self._lines[path]

    def verified(self, path: str, line: int, end: int) -> bool:
        lines = self.lines(path)
        return lines is not None and 1 <= line <= end <= max(lines, 1)


def find_citations(text: str, indexes: IndexManager, repo_path: str) -> list[dict[str, Any]]:
    """Every distinct citation in ``text``, in order, each with ``verified``."""
    verifier = Verifier(indexes, repo_path)
    found: dict[str, dict[str, Any]] = {}
    for match in CITATION.finditer(text):
        ref = match.group(0)
        if ref in found or len(found) >= MAX_CITATIONS:
            continue
        path = match.group(1).removeprefix("./")
        line = int(match.group(2))
        end = int(match.group(3)) if match.group(3) else line
        found[ref] = {
            "ref": ref,
            "path": path,
            "line": line,
            "end_line": end,
            "verified": verifier.verified(path, line, end),
        }
    return list(found.values())


def find_commits(text: str, histories: HistoryManager, roots: Roots, repo_path: str) -> list[dict[str, Any]]:
    """The commit ids in ``text`` that name a commit of the repository a branch or tag reaches,
    each once, in order (others are not citations: a hash can be anything)."""
    candidates = list(dict.fromkeys(match.group(0) for match in COMMIT.finditer(text)))[:MAX_COMMIT_LOOKUPS]
    if not candidates:
        return []
    found: list[dict[str, Any]] = []
    try:
        with roots.open_repo(repo_path) as repo:
            history = histories.get(repo)
            for ref in candidates:
                try:
                    commit = history.resolve(ref)
                except AssistantError:
                    continue
                found.append(
                    {"ref": ref, "id": str(commit.id), "subject": commit.message.strip().split("\n", 1)[0][:200]}
                )
    except (AssistantError, SandboxError):
        return []
    return found


def sources_of(trace: list[TraceEntry]) -> list[Source]:
    """The files and line ranges the tools read for an answer (completed ``read_file`` calls),
    each once, in the order they were read."""
    seen: dict[tuple[str, int, int], Source] = {}
    for entry in trace:
        if entry.source is not None:
            seen.setdefault((entry.source.path, entry.source.line, entry.source.end_line), entry.source)
    return list(seen.values())
