"""POST /api/v1/tools/call: run one model tool by the same code path the model uses."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import post
from litestar.params import JSONBody
from msgspec import UNSET, Struct, UnsetType

from assistant.errors import AssistantError
from assistant.tools import invoke
from assistant.types import ToolStatus

from .disconnect import until_disconnect
from .envelope import Envelope, Req, Svc, ok, sandbox_params, strict_body


class ToolCallBody(msgspec.Struct):
    """Body of POST /tools/call."""

    name: str
    arguments: dict[str, Any] = msgspec.field(default_factory=dict)
    repo_path: str | None = None


class Output(Struct):
    """What the model would read (``truncated``: cut to the tool's budget)."""

    content: str
    truncated: bool


class Failure(Struct):
    code: str
    message: str


class ToolCall(Struct, omit_defaults=True):
    """One call's outcome: ``failed`` (with ``error``) is a result too, as the model gets it."""

    name: str
    arguments: dict[str, Any]
    status: ToolStatus
    result: Output
    duration_ms: int
    error: Failure | UnsetType = UNSET


@post(
    "/tools/call",
    summary="Run one of the model's tools (file, search, symbol and history tools)",
    status_code=200,
)
async def post_tools_call(request: Req, svc: Svc, data: JSONBody[ToolCallBody]) -> Envelope[ToolCall]:
    data = await strict_body(request, data)
    with sandbox_params(repo="repo_path"):
        repo_path = svc.roots.resolve(data.repo_path)
    result = await until_disconnect(request, invoke(svc.tool_context(repo_path), data.name, data.arguments))
    refused = result.rejected
    if refused is not None:  # the client's request, not the tool, was wrong: a 4xx
        # the tool's own name is ``name``; an argument (find_symbol has one called ``name`` too) is
        # ``arguments.<its name>``
        named_tool = refused.code == "tool_not_found"
        param = refused.param if named_tool else ".".join(filter(None, ("arguments", refused.param)))
        if refused.code == "history_unavailable":  # the repository has none: the body's repo_path
            param = "repo_path"
        raise AssistantError(refused.code, refused.message, param=param)
    error = Failure(**result.error) if result.error else UNSET
    output = Output(result.content, result.truncated)
    return ok(request, ToolCall(result.name, result.arguments, result.status, output, result.duration_ms, error))
