"""The code the model sees before its first round: the parts ranked search finds for the
question (whole definitions where the index knows them), with their path and numbered lines as
``read_file`` shows them, within a budget of tokens.

- The budget is ``--context-tokens`` (0: none), never more than a quarter of the model's
  context length; the whole block (heading and part headers included) fits in it, counted as
  the loop counts (``CHARS_PER_TOKEN`` characters a token).
- A part the conversation already holds (a part given for an earlier question, found in the
  messages by its header) is not given again; a later question gets only new parts.
- Every part is read through the sandbox when it is given: an ignored file, a binary file or one
  that went away is never given, whatever the index still holds.

The block goes in front of the question in the last user message; the stream says what was
given (a ``context`` event before the first chunk) and a stored answer keeps it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from assistant.errors import AssistantError
from assistant.index import IndexManager
from assistant.types import Message
from sandbox import MAX_READ_BYTES, Repo, SandboxError

CHARS_PER_TOKEN = 4  # as the loop estimates
MAX_PARTS = 12
MIN_PART_LINES = 4  # a part cut to fit the budget keeps at least this many lines, or is left out
CANDIDATES = 30
HEADING = (
    "Code from the repository that search ranked for this question (numbered lines as read_file shows them; "
    "read more with the tools, cite as path:line):"
)
_PART = re.compile(r"^=== (?P<path>\S+) lines (?P<start>\d+)-(?P<end>\d+)", re.MULTILINE)
QUESTION_MARK = "\n\n=== Question:\n"


@dataclass(frozen=True)
class Part:
    path: str
    start_line: int
    end_line: int
    symbol: str | None
    why: str
    text: str  # the header and the numbered lines, as the model gets them

    def shown(self) -> dict[str, object]:
        """The part as the stream, the trace and the stored answer show it (without its text)."""
        return {
            "path": self.path,
            "start_line": self.start_line,
            "end_line": self.end_line,
            "symbol": self.symbol,
            "why": self.why,
        }


@dataclass(frozen=True)
class Context:
    parts: list[Part]
    tokens: int  # of ``block``

    @property
    def block(self) -> str:
        if not self.parts:
            return ""
        return HEADING + "\n\n" + "\n\n".join(p.text for p in self.parts)


def budget(setting: int, context_length: int | None) -> int:
    """The tokens the context may take: the setting, at most a quarter of the model's context."""
    if setting <= 0:
        return 0
    return min(setting, context_length // 4) if context_length else setting


def tokens_of(text: str) -> int:
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


def given_in(messages: Iterable[Message]) -> set[tuple[str, int, int]]:
    """The parts a conversation already holds: each part header in its user messages."""
    found: set[tuple[str, int, int]] = set()
    for message in messages:
        if message.get("role") != "user":
            continue
        content = str(message.get("content") or "")
        if HEADING not in content:
            continue
        for match in _PART.finditer(content):
            found.add((match["path"], int(match["start"]), int(match["end"])))
    return found


def with_context(question: str, context: Context) -> str:
    """The user message the model gets: the context block, then the question."""
    return with_text(question, context.block if context.parts else "")


def with_text(question: str, block: str) -> str:
    return block + QUESTION_MARK + question if block else question


def _not_held(path: str, start: int, end: int, given: set[tuple[str, int, int]]) -> tuple[int, int] | None:
    """The lines ``start``-``end`` of ``path`` the conversation does not hold yet (the first run
    of them), ``None`` when fewer than ``MIN_PART_LINES`` are left."""
    for held_path, held_start, held_end in sorted(given):
        if held_path != path or held_end < start or held_start > end:
            continue
        if held_start <= start:
            start = held_end + 1
        else:
            end = held_start - 1
        if end - start + 1 < MIN_PART_LINES:
            return None
    return start, end


def gather(
    indexes: IndexManager, repo: Repo, question: str, tokens: int, given: set[tuple[str, int, int]] | None = None
) -> Context:
    """The best parts for ``question`` within ``tokens`` (none for an empty question, a zero
    budget, or while the index has nothing to rank)."""
    given = set(given or ())
    if tokens <= 0 or not question.strip():
        return Context([], 0)
    view = indexes.get(repo.path)
    try:
        found = view.search(question[:16384], "ranked", limit=CANDIDATES)
    except AssistantError:  # a question the search refuses gives no context; the loop goes on
        return Context([], 0)
    used = tokens_of(HEADING) + 1
    parts: list[Part] = []
    texts: dict[str, list[str] | None] = {}
    for result in found.results:
        if len(parts) >= MAX_PARTS:
            break
        path, start, end = result["file"], int(result["line"]), int(result.get("end_line") or result["line"])
        left = _not_held(path, start, end, given)
        if left is None:
            continue
        start, end = left
        if path not in texts:
            texts[path] = _lines(repo, path)
        lines = texts[path]
        if lines is None or start > len(lines):
            continue
        end = min(end, len(lines))
        symbol = result.get("symbol")
        why = ", ".join(result.get("why") or [])
        room = tokens - used - 1
        part = _part(path, start, end, symbol, why, lines, room)
        if part is None:
            continue
        parts.append(part)
        given.add((path, part.start_line, part.end_line))
        used += tokens_of(part.text) + 1
        if tokens - used < 64:
            break
    block = Context(parts, 0).block
    return Context(parts, tokens_of(block) if parts else 0)


def _lines(repo: Repo, path: str) -> list[str] | None:
    """The file's lines read through the sandbox now; ``None`` if it cannot be given."""
    try:
        data = repo.read(repo.components(path), MAX_READ_BYTES)
    except SandboxError:
        return None
    if data.binary:
        return None
    lines = data.data.decode("utf-8", "replace").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _part(path: str, start: int, end: int, symbol: str | None, why: str, lines: list[str], room: int) -> Part | None:
    """The part as the model reads it, cut (from the end) to ``room`` tokens; ``None`` when not
    even ``MIN_PART_LINES`` lines fit."""
    while True:
        width = len(str(end))
        header = f"=== {path} lines {start}-{end}" + (f" (in {symbol})" if symbol else "")
        body = "\n".join(f"{n:>{width}}  {lines[n - 1][:500]}" for n in range(start, end + 1))
        text = header + "\n" + body
        size = tokens_of(text)
        if size <= room:
            return Part(path, start, end, symbol, why, text)
        # cut the lines that do not fit, in one step from the average line's size
        keep = int((end - start + 1) * room / size) - 1
        if keep < MIN_PART_LINES:
            return None
        end = start + keep - 1
