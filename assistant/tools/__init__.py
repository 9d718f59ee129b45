"""The model's tools: one registry (``registry``), one module per tool."""

from . import find_symbol, history, list_files, read_file, search_files  # noqa: F401  (registration)
from .registry import (
    DEFAULT_BUDGET,
    TOOLS,
    Arguments,
    Lines,
    Tool,
    ToolContext,
    ToolFailure,
    ToolOutput,
    ToolResult,
    get_tool,
    invoke,
    run_tool,
    tools_for,
)

__all__ = [
    "DEFAULT_BUDGET",
    "TOOLS",
    "Arguments",
    "Lines",
    "Tool",
    "ToolContext",
    "ToolFailure",
    "ToolOutput",
    "ToolResult",
    "get_tool",
    "invoke",
    "run_tool",
    "tools_for",
]
