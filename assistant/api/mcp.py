"""/mcp: an MCP server (Streamable HTTP, the official ``mcp`` SDK 2.x) exposing the model's tools
from the one registry over the default repository, for clients such as Claude Code.

The SDK's session manager runs in the app's lifespan. Host, cross-site and API-key checks are
the outer guard's (the SDK's own DNS-rebinding check is left off: one policy, one place).
"""

from __future__ import annotations

import logging
from typing import Any

import mcp.types as types
from litestar.handlers import asgi
from litestar.types import Receive, Scope, Send
from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

from assistant import __version__
from assistant.services import Services
from assistant.tools import invoke, tools_for

log = logging.getLogger("assistant.mcp")


def build_mcp(services: Services) -> StreamableHTTPSessionManager:
    """The session manager of an MCP server whose tools are the registry's."""

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(
            tools=[
                types.Tool(name=t.name, description=t.description, input_schema=t.schema_for(context.several))
                for context in [services.tool_context(services.roots.default)]
                for t in tools_for(context)
            ]
        )

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        context = services.tool_context(services.roots.default)
        outcome = await invoke(context, params.name, dict(params.arguments or {}))
        if outcome.rejected is not None:
            return _result(outcome.content, error=True)
        log.info(
            "mcp %s %s %s: %s (%d ms)",
            params.name,
            outcome.arguments,
            outcome.status,
            outcome.summary,
            outcome.duration_ms,
        )
        return _result(
            outcome.content,
            error=outcome.status == "failed",
            meta={"summary": outcome.summary, "truncated": outcome.truncated},
        )

    server: Server[Any] = Server(
        "repo-assistant",
        version=__version__,
        instructions=(
            f"Read, search and list the files of the repository at {services.roots.default}. Paths are relative to it."
        ),
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )
    return StreamableHTTPSessionManager(app=server, stateless=True)


def _result(text: str, *, error: bool, meta: dict[str, Any] | None = None) -> types.CallToolResult:
    content: list[types.ContentBlock] = [types.TextContent(type="text", text=text)]
    # "meta" is the field's name; pydantic's alias "_meta" is what mypy sees without the plugin
    return types.CallToolResult(content=content, is_error=error, structured_content=None, meta=meta)  # type: ignore[call-arg]


def mcp_route(manager: StreamableHTTPSessionManager) -> Any:
    @asgi("/mcp", is_mount=True, copy_scope=True, include_in_schema=False)
    async def handle(scope: Scope, receive: Receive, send: Send) -> None:
        await manager.handle_request(scope, receive, send)  # type: ignore[arg-type]

    return handle
