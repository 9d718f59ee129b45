"""The one registry of the model's tools.

A tool registers its name, description, JSON schema and function once; the chat loop, the
``/tools/call`` endpoint, the system prompt, the MCP endpoint and the CLI all read it from here,
so they can never disagree about what the tools are.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import msgspec

from assistant import metrics, workers
from assistant.errors import AssistantError
from assistant.history import History, HistoryManager, HistoryUnavailable
from assistant.index import DEADLINE_SECONDS as SEARCH_SECONDS
from assistant.index import IndexManager
from assistant.types import ToolStatus
from sandbox import Repo, Roots, SandboxError

log = logging.getLogger("assistant.tools")

DEFAULT_BUDGET = 16 * 1024
EVERY_REPO = "*"
REPO_HELP = "another allowed repository (its absolute path) when the server serves several"


@dataclass
class ToolContext:
    """What a tool call may use: the sandbox, the index, the repo, the conversation's reads."""

    roots: Roots
    indexes: IndexManager
    repo_path: str | None = None
    read_files: set[str] = field(default_factory=set)
    cancel: threading.Event = field(default_factory=threading.Event)  # set when the caller left
    search_seconds: float = SEARCH_SECONDS  # a search ends by then with what it found
    histories: HistoryManager | None = None  # None: no history tools at all

    def history_of(self, repo: Repo) -> History:
        """The repository's history, or HistoryUnavailable (then the history tools are not offered)."""
        if self.histories is None:
            raise HistoryUnavailable("history is not read by this server")
        return self.histories.get(repo)

    @property
    def several(self) -> bool:
        """The server serves more than one repository (the tools then take ``repo``)."""
        return len(self.roots.roots) > 1

    def has_history(self) -> bool:
        if self.histories is None:
            return False
        try:
            with self.roots.open_repo(self.repo_path) as repo:
                return self.histories.available(repo)
        except SandboxError:
            return False


@dataclass(frozen=True)
class Lines:
    """The lines of a file a tool read: where an answer's sources come from."""

    path: str
    start: int
    end: int


@dataclass(frozen=True)
class ToolOutput:
    """The text the model receives (bounded), whether it was cut, a one-line summary, and the
    lines of a file it read (``read_file``)."""

    content: str
    truncated: bool
    summary: str
    read: Lines | None = None


class ToolFailure(AssistantError):
    """A tool could not do what was asked; ``content`` is still written for the model (a tool's
    failure is a result the model reads, not a failed request)."""

    def __init__(self, code: str, message: str, content: str | None = None) -> None:
        super().__init__(code, message)
        self.content = content or f"Error ({code}): {message}"


class Arguments(msgspec.Struct, forbid_unknown_fields=True):
    """A tool's arguments: each tool declares a subclass; the JSON schema the model sees is
    generated from it, and a call's arguments are decoded into it (strictly: ``"10"`` is not an
    integer) before the tool runs."""


A = TypeVar("A", bound=Arguments)


@dataclass(frozen=True)
class Tool(Generic[A]):
    name: str
    description: str
    arguments: type[A]
    function: Callable[[ToolContext, A, int], ToolOutput]
    needs_history: bool = False  # offered only for a repository with a git history
    schema: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "schema", model_schema(self.arguments))

    def schema_for(self, several: bool) -> dict[str, Any]:
        """The arguments' schema; ``repo`` only where the server serves several repositories."""
        properties: dict[str, Any] = self.schema["properties"]
        if several or "repo" not in properties:
            return self.schema
        return {**self.schema, "properties": {k: v for k, v in properties.items() if k != "repo"}}

    def openai_schema(self, several: bool = True) -> dict[str, Any]:
        """The tool as OpenAI/Ollama function-calling APIs expect it."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.schema_for(several)},
        }

    def decode(self, raw: object) -> A:
        """The arguments as the tool takes them, or an AssistantError naming the argument (its
        ``param`` is the argument's name; None for the whole object)."""
        if not isinstance(raw, dict):
            raise AssistantError("invalid_parameter", "`arguments` must be a JSON object")
        properties: dict[str, Any] = self.schema["properties"]
        for name in self.schema.get("required", ()):
            if raw.get(name) is None:
                raise AssistantError("missing_parameter", f"`{name}` is required by {self.name}", param=name)
        for name in raw:
            if name not in properties:
                takes = ", ".join(properties)
                raise AssistantError(
                    "invalid_parameter", f"{self.name} takes no argument `{name}` (it takes: {takes})", param=name
                )
        try:
            return msgspec.convert(raw, self.arguments, strict=True)
        except msgspec.ValidationError as exc:
            at = _AT.search(str(exc))
            name = at.group(1) if at else None
            if name is None or name not in properties:
                raise AssistantError("invalid_parameter", f"invalid arguments for {self.name}: {exc}") from None
            raise AssistantError(
                "invalid_parameter", f"`{name}` must be {_described(properties[name])}", param=name
            ) from None


_AT = re.compile(r"at `\$\.(\w+)`")


def model_schema(arguments: type[Arguments]) -> dict[str, Any]:
    """The JSON schema of a tool's arguments as a model reads it: one object, optional
    arguments shown by their type (a model may still send null for them)."""
    generated = msgspec.json.schema(arguments)
    body = dict(generated["$defs"][arguments.__name__])
    body.pop("title", None)
    body.pop("description", None)
    properties = {}
    for name, spec in body.get("properties", {}).items():
        choices = spec.get("anyOf")
        if choices is not None:
            kept = [choice for choice in choices if choice != {"type": "null"}]
            if len(kept) == 1:
                spec = dict(kept[0])
        if "enum" in spec and "type" not in spec:
            spec = {"type": "string", **spec}
        properties[name] = spec
    out: dict[str, Any] = {"type": "object", "properties": properties}
    if body.get("required"):
        out["required"] = body["required"]
    out["additionalProperties"] = False
    return out


def _described(spec: dict[str, Any]) -> str:
    """What a schema property expects, in words: "an integer from 1 to 100"."""
    if "enum" in spec:
        return "one of " + ", ".join(str(choice) for choice in spec["enum"])
    kind = spec.get("type")
    if kind == "integer":
        low, high = spec.get("minimum"), spec.get("maximum")
        if low is not None and high is not None:
            return f"an integer from {low} to {high}"
        if low is not None:
            return f"an integer of at least {low}"
        return "an integer"
    return {"string": "a string", "boolean": "true or false", "object": "a JSON object"}.get(str(kind), str(kind))


TOOLS: dict[str, Tool[Any]] = {}


def register(tool: Tool[A]) -> Tool[A]:
    if tool.name in TOOLS:
        raise ValueError(f"tool {tool.name!r} registered twice")
    TOOLS[tool.name] = tool
    return tool


def tools_for(ctx: ToolContext | None) -> list[Tool[Any]]:
    """The tools offered for a context's repository: the history tools only where it has one
    (``None``: the tools every repository has)."""
    history = ctx is not None and ctx.has_history()
    return [tool for tool in TOOLS.values() if history or not tool.needs_history]


def get_tool(name: str) -> Tool[Any]:
    tool = TOOLS.get(name)
    if tool is None:
        raise AssistantError(
            "tool_not_found", f"no tool named {name!r}; the tools are {', '.join(sorted(TOOLS))}", param="name"
        )
    return tool


@dataclass(frozen=True)
class ToolResult:
    """The outcome of one call: completed with output, or failed with an error for the model."""

    name: str
    arguments: dict[str, Any]
    status: ToolStatus
    content: str
    truncated: bool
    summary: str
    duration_ms: int
    error: dict[str, str] | None = None
    read: Lines | None = None  # the lines a completed read_file read
    rejected: AssistantError | None = None  # the call never ran: no such tool, or bad arguments

    @property
    def error_code(self) -> str | None:
        return self.error["code"] if self.error else None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "arguments": self.arguments,
            "status": self.status,
            "result": {"content": self.content, "truncated": self.truncated},
            "duration_ms": self.duration_ms,
        }
        if self.error:
            out["error"] = self.error
        return out


def run_tool(ctx: ToolContext, name: str, arguments: object, budget: int = DEFAULT_BUDGET) -> ToolResult:
    """Run a tool (see ``_run``), counted in the metrics by tool (``unknown`` for a name that is
    no tool's: label values stay bounded) and status."""
    result = _run(ctx, name, arguments, budget)
    metrics.tool_called(name if name in TOOLS else "unknown", result.status, result.duration_ms / 1000)
    return result


def _run(ctx: ToolContext, name: str, arguments: object, budget: int = DEFAULT_BUDGET) -> ToolResult:
    """Decode the arguments and run the tool. Nothing is raised: a call refused before it ran
    (no such tool, bad arguments) is a failed result with ``rejected`` set, and a tool's own
    failure is a failed result the model reads."""
    shown = arguments if isinstance(arguments, dict) else {}
    started = time.perf_counter()
    try:
        tool = get_tool(name)
        decoded = tool.decode(arguments)
        if tool.needs_history:
            with ctx.roots.open_repo(ctx.repo_path) as repo:
                ctx.history_of(repo)
    except (AssistantError, SandboxError) as exc:
        content = f"Error ({exc.code}): {exc.message}"
        error = {"code": exc.code, "message": exc.message}
        refused = exc if isinstance(exc, AssistantError) else AssistantError(exc.code, exc.message, param="repo")
        return ToolResult(name, shown, "failed", content, False, exc.message, 0, error, rejected=refused)
    try:
        output = tool.function(ctx, decoded, budget)
    except (ToolFailure, SandboxError, AssistantError) as exc:
        content = exc.content if isinstance(exc, ToolFailure) else f"Error ({exc.code}): {exc.message}"
        error = {"code": exc.code, "message": exc.message}
        return ToolResult(name, shown, "failed", content[:budget], False, exc.message, _ms(started), error)
    except Exception:  # a bug in a tool must not end the conversation
        log.exception("tool %s failed unexpectedly", name)
        message = "the tool failed unexpectedly; the server log has the details"
        error = {"code": "internal_error", "message": message}
        return ToolResult(
            name, shown, "failed", f"Error (internal_error): {message}", False, message, _ms(started), error
        )
    return ToolResult(
        name, shown, "completed", output.content, output.truncated, output.summary, _ms(started), read=output.read
    )


async def invoke(ctx: ToolContext, name: str, arguments: object, budget: int = DEFAULT_BUDGET) -> ToolResult:
    """The one way a tool is called (chat, ``/tools/call``, MCP): ``run_tool`` in the tools' own
    thread pool; if the caller goes away, ``ctx.cancel`` is set so a running search stops at its
    next check."""
    return await workers.run_in(workers.TOOLS, run_tool, ctx, name, arguments, budget, cancel=ctx.cancel)


def _ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


def fit(lines: list[str], budget: int, more: Callable[[int], str]) -> tuple[str, bool]:
    """Join lines within ``budget`` bytes; if cut, end with ``more(lines_shown)``."""
    out: list[str] = []
    used = 0
    reserve = 200  # room for the closing line
    for i, line in enumerate(lines):
        size = len(line.encode("utf-8", "replace")) + 1
        if used + size > budget - reserve:
            out.append(more(i))
            return "\n".join(out), True
        out.append(line)
        used += size
    return "\n".join(out), False
