"""POST /api/v1/tools/call: run one model tool by the same code path the model uses."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, post
from litestar.params import JSONBody

from assistant.services import services
from assistant.tools import call_tool, get_tool, validate_arguments

from .disconnect import until_disconnect
from .envelope import ok, sandbox_params, strict_body


class ToolCallBody(msgspec.Struct):
    """Body of POST /tools/call."""

    name: str
    arguments: dict[str, Any] = msgspec.field(default_factory=dict)
    repo_path: str | None = None


@post("/tools/call", summary="Run one of the model's tools (read_file, search_files, list_files)", status_code=200)
async def post_tools_call(request: Request[Any, Any, Any], data: JSONBody[ToolCallBody]) -> Response[bytes]:
    data = await strict_body(request, data)
    tool = get_tool(data.name)
    arguments = validate_arguments(tool, data.arguments)
    svc = services(request)
    with sandbox_params(repo="repo_path"):
        repo_path = svc.roots.resolve(data.repo_path)
    result = await until_disconnect(request, call_tool(svc.tool_context(repo_path), tool.name, arguments))
    return ok(request, result.to_dict())
