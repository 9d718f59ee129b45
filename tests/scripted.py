"""An in-process model backend for unit tests of the tool loop (like httpx's ``MockTransport``):
each ``chat`` call plays the next scripted round. The wire-level fakes in ``tests/fakes/`` stay
for the contract suite; this one needs no server, no port and no thread."""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from assistant.backends import ChatChunk, ChatRequest, ModelBackend, ModelInfo, ToolCallRequest
from assistant.history import HistoryManager
from assistant.index import IndexManager
from assistant.tools import ToolContext
from sandbox import Roots

Round = list[ChatChunk]


def text(*parts: str) -> Round:
    """A round that answers in ``parts``."""
    return [ChatChunk(content=p) for p in parts] + [
        ChatChunk(done=True, finish_reason="stop", prompt_tokens=3, completion_tokens=2)
    ]


def tools(*calls: tuple[str, dict[str, Any]]) -> Round:
    """A round that asks for tool calls."""
    return [ChatChunk(tool_calls=[ToolCallRequest(n, a) for n, a in calls], done=True, finish_reason="stop")]


class ScriptedBackend(ModelBackend):
    """Plays ``rounds`` in order and records every request."""

    kind = "scripted"

    def __init__(self, *rounds: Round, info: ModelInfo | None = None) -> None:
        super().__init__("scripted://")
        self.rounds: deque[Round] = deque(rounds)
        self.requests: list[ChatRequest] = []
        self.info = info or ModelInfo(name="scripted", capabilities=("tools",), context_length=32768)

    async def list_models(self) -> list[ModelInfo]:
        return [self.info]

    async def chat(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        self.requests.append(request)
        for chunk in self.rounds.popleft():
            yield chunk


@dataclass
class ScriptedServices:
    """What ``loop.run`` needs (``ChatServices``), around a scripted backend."""

    roots: Roots
    indexes: IndexManager
    backend: ModelBackend
    contexts: list[ToolContext] = field(default_factory=list)
    histories: HistoryManager = field(default_factory=HistoryManager)
    announced: list[tuple[str, str, str | None]] = field(default_factory=list)

    def conversation_event(self, kind: str, cid: str, title: str | None) -> None:
        self.announced.append((kind, cid, title))

    def tool_context(self, repo_path: str | None, read_files: set[str] | None = None) -> ToolContext:
        read = read_files if read_files is not None else set()
        context = ToolContext(self.roots, self.indexes, repo_path, read, histories=self.histories)
        self.contexts.append(context)
        return context
