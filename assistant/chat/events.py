"""What the tool loop says as it works: the events of one answer (``loop.run`` yields them; the
SSE writer, the non-streamed folds, the CLI and the stored turn read them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from assistant.tools import ToolResult
from assistant.types import FinishReason, ToolStatus


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def to_dict(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }


@dataclass(frozen=True)
class ContentDelta:
    text: str


@dataclass(frozen=True)
class ToolStarted:
    id: str
    name: str
    arguments: dict[str, Any]
    timestamp: str


@dataclass(frozen=True)
class ToolFinished:
    """A call's outcome: its ``ToolResult`` (with the arguments as the model sent them)."""

    id: str
    result: ToolResult
    timestamp: str
    repeated: bool = False  # answered from an identical earlier call

    @property
    def name(self) -> str:
        return self.result.name

    @property
    def arguments(self) -> dict[str, Any]:
        return self.result.arguments

    @property
    def status(self) -> ToolStatus:
        return self.result.status

    @property
    def duration_ms(self) -> int:
        return self.result.duration_ms

    @property
    def summary(self) -> str:
        return self.result.summary

    @property
    def content(self) -> str:
        return self.result.content

    @property
    def truncated(self) -> bool:
        return self.result.truncated

    @property
    def error(self) -> dict[str, str] | None:
        return self.result.error


@dataclass(frozen=True)
class Done:
    finish_reason: FinishReason
    usage: Usage
    rounds_exhausted: bool = False  # stopped by the round limit (or stuck), not done on its own
    extra: dict[str, Any] = field(default_factory=dict)  # added to the done event (citations, ids)


@dataclass(frozen=True)
class Failed:
    code: str
    message: str


@dataclass(frozen=True)
class Status:
    """What the server is doing now, said when it changes: waiting for the model's first token
    of a round, running a tool, or writing (the round's first content arrived). A client shows
    it, and counts the seconds itself from ``timestamp``."""

    state: Literal["waiting_for_model", "running_tool", "writing"]
    round: int
    timestamp: str
    tool: str | None = None


@dataclass(frozen=True)
class ContextGiven:
    """The code given with the question before the first round (``context``): each part's
    path, lines, definition and why it ranked, and the tokens the block took."""

    parts: list[dict[str, Any]]
    tokens: int
    text: str = ""  # the block as the model read it (kept with a stored answer, not streamed)


Event = ContentDelta | ToolStarted | ToolFinished | Done | Failed | Status | ContextGiven

SHOWN_RESULT_BYTES = 8192  # a tool result in the stream's events and the stored trace (the model got it whole)


def cut_bytes(text: str, limit: int) -> tuple[str, bool]:
    """``text`` cut to at most ``limit`` UTF-8 bytes on a character boundary, and whether it was."""
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text, False
    return raw[:limit].decode("utf-8", "ignore"), True
