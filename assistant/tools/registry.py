"""The one registry of the model's tools.

A tool registers its name, description, JSON schema and function once; the chat loop, the
``/tools/call`` endpoint, the system prompt, the MCP endpoint and the CLI all read it from here,
so they can never disagree about what the tools are.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from assistant import workers
from assistant.errors import AssistantError
from assistant.index import DEADLINE_SECONDS as SEARCH_SECONDS
from assistant.index import IndexManager
from assistant.types import ToolStatus
from sandbox import Roots, SandboxError

log = logging.getLogger("assistant.tools")

DEFAULT_BUDGET = 16 * 1024


@dataclass
class ToolContext:
    """What a tool call may use: the sandbox, the index, the repo, the conversation's reads."""

    roots: Roots
    indexes: IndexManager
    repo_path: str | None = None
    read_files: set[str] = field(default_factory=set)
    cancel: threading.Event = field(default_factory=threading.Event)  # set when the caller left
    search_seconds: float = SEARCH_SECONDS  # a search ends by then with what it found


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


ToolFunction = Callable[[ToolContext, dict[str, Any], int], ToolOutput]


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    schema: dict[str, Any]
    function: ToolFunction

    def openai_schema(self) -> dict[str, Any]:
        """The tool as OpenAI/Ollama function-calling APIs expect it."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.schema},
        }


TOOLS: dict[str, Tool] = {}


def register(tool: Tool) -> Tool:
    if tool.name in TOOLS:
        raise ValueError(f"tool {tool.name!r} registered twice")
    TOOLS[tool.name] = tool
    return tool


def get_tool(name: str) -> Tool:
    tool = TOOLS.get(name)
    if tool is None:
        raise AssistantError(
            "tool_not_found", f"no tool named {name!r}; the tools are {', '.join(sorted(TOOLS))}", param="name"
        )
    return tool


_TYPES: dict[str, tuple[type, ...]] = {"string": (str,), "integer": (int,), "boolean": (bool,), "object": (dict,)}


def validate_arguments(tool: Tool, arguments: Any, prefix: str = "arguments.") -> dict[str, Any]:
    """Check arguments against the tool's schema; errors name the field (``arguments.path``)."""
    if not isinstance(arguments, dict):
        raise AssistantError("invalid_parameter", "`arguments` must be a JSON object", param=prefix.rstrip("."))
    properties: dict[str, Any] = tool.schema.get("properties", {})
    for name in tool.schema.get("required", []):
        if arguments.get(name) is None:
            raise AssistantError("missing_parameter", f"`{name}` is required by {tool.name}", param=prefix + name)
    clean: dict[str, Any] = {}
    for name, value in arguments.items():
        spec = properties.get(name)
        if spec is None:
            allowed = ", ".join(properties)
            raise AssistantError(
                "invalid_parameter",
                f"{tool.name} takes no argument `{name}` (it takes: {allowed})",
                param=prefix + name,
            )
        if value is None:
            continue
        expected = _TYPES[spec["type"]]
        if not isinstance(value, expected) or (spec["type"] == "integer" and isinstance(value, bool)):
            raise AssistantError("invalid_parameter", f"`{name}` must be a {spec['type']}", param=prefix + name)
        if "enum" in spec and value not in spec["enum"]:
            raise AssistantError(
                "invalid_parameter", f"`{name}` must be one of {', '.join(spec['enum'])}", param=prefix + name
            )
        if "minimum" in spec and value < spec["minimum"]:
            raise AssistantError(
                "invalid_parameter", f"`{name}` must be at least {spec['minimum']}", param=prefix + name
            )
        if "maximum" in spec and value > spec["maximum"]:
            raise AssistantError(
                "invalid_parameter", f"`{name}` must be at most {spec['maximum']}", param=prefix + name
            )
        clean[name] = value
    return clean


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


def run_tool(ctx: ToolContext, name: str, arguments: dict[str, Any], budget: int = DEFAULT_BUDGET) -> ToolResult:
    """Run a validated call. Failures come back as ``status: failed`` results, never raised."""
    tool = get_tool(name)
    started = time.perf_counter()
    try:
        output = tool.function(ctx, arguments, budget)
    except (ToolFailure, SandboxError, AssistantError) as exc:
        content = exc.content if isinstance(exc, ToolFailure) else f"Error ({exc.code}): {exc.message}"
        error = {"code": exc.code, "message": exc.message}
        return ToolResult(name, arguments, "failed", content[:budget], False, exc.message, _ms(started), error)
    except Exception:  # a bug in a tool must not end the conversation
        log.exception("tool %s failed unexpectedly", name)
        message = "the tool failed unexpectedly; the server log has the details"
        error = {"code": "internal_error", "message": message}
        return ToolResult(
            name, arguments, "failed", f"Error (internal_error): {message}", False, message, _ms(started), error
        )
    return ToolResult(
        name, arguments, "completed", output.content, output.truncated, output.summary, _ms(started), read=output.read
    )


async def call_tool(ctx: ToolContext, name: str, arguments: dict[str, Any], budget: int = DEFAULT_BUDGET) -> ToolResult:
    """``run_tool`` in the tools' own thread pool; if the caller goes away, ``ctx.cancel`` is set
    so a running search stops at its next check."""
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
