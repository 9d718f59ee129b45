"""POST /api/v1/tools/call: run one model tool by the same code path the model uses."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, post
from litestar.params import JSONBody

from assistant.errors import AssistantError
from assistant.services import services
from assistant.tools import invoke

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
    svc = services(request)
    with sandbox_params(repo="repo_path"):
        repo_path = svc.roots.resolve(data.repo_path)
    result = await until_disconnect(request, invoke(svc.tool_context(repo_path), data.name, data.arguments))
    refused = result.rejected
    if refused is not None:  # the client's request, not the tool, was wrong: a 4xx
        param = refused.param if refused.param == "name" else ".".join(filter(None, ("arguments", refused.param)))
        raise AssistantError(refused.code, refused.message, param=param)
    return ok(request, result.to_dict())
