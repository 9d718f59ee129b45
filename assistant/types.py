"""Shapes shared across layers, in one place (as ``starlette/types.py`` keeps its own)."""

# No ``from __future__ import annotations`` here: a TypedDict reads NotRequired from its
# annotations as they are defined (as strings it would count every key as required, and so
# would the OpenAPI document made from it).
from typing import Any, Literal, NotRequired, TypedDict, get_args

Role = Literal["system", "user", "assistant", "tool"]
ToolStatus = Literal["completed", "failed"]
IndexState = Literal["building", "ready"]
RepoIndexState = Literal["idle", "building", "ready"]  # idle: not used yet, so not indexed yet
FinishReason = Literal["stop", "length"]


class Message(TypedDict):
    """One message of a conversation as the loop keeps it (Ollama's shape): each backend
    converts it once, at its edge, to what its server speaks."""

    role: Role
    content: str
    tool_calls: NotRequired[list[dict[str, Any]]]
    tool_name: NotRequired[str]
    tool_call_id: NotRequired[str]


SearchMode = Literal["auto", "ranked", "symbol", "text", "regex"]
SEARCH_MODES: tuple[SearchMode, ...] = get_args(SearchMode)


class SearchHit(TypedDict):
    """One search result, as ``GET /search`` and the tool read it."""

    file: str
    line: int
    end_line: int
    kind: Literal["definition", "reference", "text", "chunk"]
    text: str
    score: float
    symbol: NotRequired[str]
    symbol_kind: NotRequired[str]
    context_before: NotRequired[str]
    context_after: NotRequired[str]
    minified: NotRequired[bool]
    why: NotRequired[list[str]]  # a ranked result: the terms that matched, by field, and the priors
    match_line: NotRequired[int]  # a ranked result: the chunk's line with the most terms (its `text`)
    symbol_lines: NotRequired[list[int]]  # a ranked result in a definition: its whole range [line, end_line]
    repo: NotRequired[str]  # a search of every repository (repo=*): the root it was found in


class IndexStats(TypedDict):
    """One repository's index, as ``/status`` shows it."""

    path: str
    state: RepoIndexState
    progress: float
    files_indexed: int
    symbols: int
    languages: dict[str, int]
    last_indexed: float | str | None
    index_ms: int | None
    watch: str | None  # inotify, inotify+sweep (some directories swept) or sweep; None: not built yet
    swept_directories: int
    verifying: bool  # after a warm start, while the files are checked against the stored index
