"""The model's tools: one registry (``registry``), one module per tool."""

from . import list_files, read_file, search_files  # noqa: F401  (registration)
from .registry import (
    DEFAULT_BUDGET,
    TOOLS,
    Lines,
    Tool,
    ToolContext,
    ToolFailure,
    ToolOutput,
    ToolResult,
    call_tool,
    get_tool,
    run_tool,
    validate_arguments,
)

__all__ = [
    "DEFAULT_BUDGET",
    "TOOLS",
    "Lines",
    "Tool",
    "ToolContext",
    "ToolFailure",
    "ToolOutput",
    "ToolResult",
    "call_tool",
    "get_tool",
    "run_tool",
    "validate_arguments",
]
