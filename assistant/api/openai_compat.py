"""POST /v1/chat/completions and GET /v1/models in strict OpenAI shapes (no envelope), so the
official ``openai`` client and editors that speak it (Continue, Zed, …) work unchanged.

Without ``tools`` in the request our tools run server-side and the stream carries only
standard chunks (the tool trace goes to the server log). With the client's own ``tools`` ours
are not added: one model round runs and its tool calls go back to the client to run.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal, cast

import msgspec
from litestar import get, post
from litestar.params import JSONBody
from litestar.response import Stream
from msgspec import UNSET, Struct, UnsetType

from assistant import metrics
from assistant.backends import ChatRequest, ToolCallRequest
from assistant.chat import events as ev
from assistant.chat import loop
from assistant.chat.loop import ChatInput
from assistant.chat.turn import ChatOptions, chat_input, logged
from assistant.errors import AssistantError
from assistant.services import Services, UsageRecord
from assistant.types import Message, Role

from .chat import MaxTokens, chat_model, take_chat_slot
from .disconnect import until_disconnect
from .envelope import Req, Svc, sandbox_params, strict_body
from .sse import ChunkWriter, log_failure, sse, sse_stream

log = logging.getLogger("assistant.trace")

ROLES = {"system", "developer", "user", "assistant", "tool"}


class OpenAIMessage(msgspec.Struct):
    role: Annotated[str, msgspec.Meta(min_length=1)]  # checked against ROLES with a clear message
    content: str | list[dict[str, Any]] | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None
    name: str | None = None


class OpenAIChatBody(msgspec.Struct):
    """The OpenAI chat request, plus ``repo_path`` (or the ``X-Repo-Path`` header)."""

    messages: Annotated[list[OpenAIMessage], msgspec.Meta(min_length=1)]
    model: str | None = None
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    temperature: Annotated[float, msgspec.Meta(ge=0, le=2)] | None = None
    max_tokens: MaxTokens | None = None
    max_completion_tokens: MaxTokens | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: Any = None
    seed: int | None = None
    repo_path: str | None = None


def _text(content: Any, index: int) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts = []
    for part in content:
        if part.get("type") != "text":
            raise AssistantError(
                "invalid_parameter", "only text content parts are supported", param=f"messages[{index}].content"
            )
        parts.append(str(part.get("text", "")))
    return "".join(parts)


def _messages(body: OpenAIChatBody) -> list[Message]:
    """The client's messages in our form, converted once here."""
    out: list[Message] = []
    names: dict[str, str] = {}
    for index, message in enumerate(body.messages):
        if message.role not in ROLES:
            raise AssistantError(
                "invalid_parameter",
                f"unknown role {message.role!r}; allowed: system, user, assistant, tool",
                param=f"messages[{index}].role",
            )
        role = cast(Role, "system" if message.role == "developer" else message.role)  # checked against ROLES above
        item: Message = {"role": role, "content": _text(message.content, index)}
        if message.tool_calls:
            calls = []
            for number, call in enumerate(message.tool_calls):
                name, arguments = _tool_call(call, f"messages[{index}].tool_calls[{number}]")
                names[str(call.get("id"))] = name
                calls.append({"function": {"name": name, "arguments": arguments}})
            item["tool_calls"] = calls
        if role == "tool":
            item["tool_name"] = message.name or names.get(str(message.tool_call_id), "")
            if message.tool_call_id:
                item["tool_call_id"] = message.tool_call_id
        out.append(item)
    return out


def _tool_call(call: dict[str, Any], param: str) -> tuple[str, dict[str, Any]]:
    """An assistant message's earlier tool call: ``{function: {name, arguments}}``, arguments a
    JSON object or a string holding one (a string that is not JSON counts as no arguments)."""
    function = call.get("function")
    if not isinstance(function, dict):
        raise AssistantError(
            "invalid_parameter",
            "a tool call needs a `function` object with `name` and `arguments`",
            param=f"{param}.function",
        )
    name = function.get("name")
    if not isinstance(name, str) or not name:
        raise AssistantError(
            "invalid_parameter", "a tool call's `name` must be a non-empty string", param=f"{param}.function.name"
        )
    raw = function.get("arguments")
    if raw is None or raw == "":
        return name, {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            return name, {}
    if not isinstance(raw, dict):
        raise AssistantError(
            "invalid_parameter",
            "a tool call's `arguments` must be a JSON object (or a string holding one)",
            param=f"{param}.function.arguments",
        )
    return name, raw


class _Chunks(ChunkWriter):
    """The OpenAI chunks of ``/v1``, and the non-streamed completion in the same shape."""

    def completion(
        self, content: str, finish: str, usage: dict[str, int], tool_calls: list[dict[str, Any]] | None = None
    ) -> OpenAICompletion:
        message: dict[str, Any] = {"role": "assistant", "content": content or (None if tool_calls else "")}
        if tool_calls:
            message["tool_calls"] = tool_calls
        answer = {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": usage,
        }
        return msgspec.convert(answer, OpenAICompletion)


class OpenAIFunction(Struct):
    name: str
    arguments: str  # JSON text, as OpenAI sends it


class OpenAIToolCall(Struct):
    id: str
    type: Literal["function"]
    function: OpenAIFunction


class OpenAIAnswer(Struct, omit_defaults=True):
    role: Literal["assistant"]
    content: str | None  # null when the answer is only tool calls
    tool_calls: list[OpenAIToolCall] | UnsetType = UNSET


class OpenAIChoice(Struct):
    index: int
    message: OpenAIAnswer
    finish_reason: Literal["stop", "length", "tool_calls"]


class OpenAIUsage(Struct, omit_defaults=True):
    prompt_tokens: int | UnsetType = UNSET
    completion_tokens: int | UnsetType = UNSET
    total_tokens: int | UnsetType = UNSET


class OpenAICompletion(Struct):
    """A whole answer (``"stream": false``) as OpenAI's API gives it."""

    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[OpenAIChoice]
    usage: OpenAIUsage


class OpenAIModel(Struct):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str


class OpenAIModels(Struct):
    object: Literal["list"]
    data: list[OpenAIModel]


def _openai_calls(calls: list[ToolCallRequest]) -> list[dict[str, Any]]:
    return [
        {
            "id": "call_" + secrets.token_hex(8),
            "type": "function",
            "function": {"name": c.name, "arguments": json.dumps(c.arguments)},
        }
        for c in calls
    ]


def _error_frame(code: str, message: str) -> bytes:
    return sse(
        {
            "error": {
                "message": message,
                "type": "upstream_error" if code.startswith("ollama") else "api_error",
                "param": None,
                "code": code,
            }
        }
    )


@get("/v1/models", summary="OpenAI-compatible model list", include_in_schema=True)
async def v1_models(svc: Svc) -> OpenAIModels:
    models = await svc.backend.list_models()
    return OpenAIModels("list", [OpenAIModel(m.name, "model", 0, svc.backend.kind) for m in models])


@post(
    "/v1/chat/completions",
    summary="OpenAI-compatible chat (our tools run server-side unless you send your own)",
    status_code=200,
)
async def v1_chat(request: Req, svc: Svc, data: JSONBody[OpenAIChatBody]) -> OpenAICompletion | Stream:
    data = await strict_body(request, data)
    messages = _messages(data)
    repo_value = data.repo_path or request.headers.get("x-repo-path")
    with sandbox_params(repo="repo_path"):
        repo_path = svc.roots.resolve(repo_value)
    take_chat_slot(svc)
    try:
        info = await chat_model(svc, data.model, "model")
        include_usage = bool((data.stream_options or {}).get("include_usage"))
        options = ChatOptions(
            temperature=data.temperature, max_tokens=data.max_completion_tokens or data.max_tokens, seed=data.seed
        )
        chat = chat_input(svc.settings, info, repo_path, messages, options)
        if data.tools:
            source = _client_tools(svc, chat, data.tools)
        else:
            source = _our_tools(svc, chat, request.scope["state"]["request_id"])
        source = _measured(svc, info.name, source)
    except BaseException:
        svc.release_chat()
        raise
    renderer = _Chunks(info.name)
    if data.stream:
        stopped = _error_frame("internal_error", "the server is shutting down; the stream was closed")
        return sse_stream(
            _stream(svc, renderer, source, include_usage), svc.settings.keepalive_seconds, svc.stopping, stopped
        )
    try:
        content, finish, usage, calls = await until_disconnect(request, _fold(source), svc.stopping)
    except AssistantError as exc:
        raise AssistantError(exc.code, exc.message) from None
    finally:
        svc.release_chat()
    return renderer.completion(content, finish, usage, calls)


async def _fold(source: AsyncIterator[tuple[str, Any]]) -> tuple[str, str, dict[str, int], list[dict[str, Any]] | None]:
    """A whole non-streamed answer: (content, finish reason, usage, client tool calls)."""
    content, finish, usage, calls = "", "stop", {}, None
    try:
        async for kind, value in source:
            if kind == "content":
                content += value
            elif kind == "done":
                finish, usage, calls = value
    finally:
        await source.aclose()  # type: ignore[attr-defined]
    return content, finish, usage, calls


async def _stream(
    svc: Services, renderer: _Chunks, source: AsyncIterator[tuple[str, Any]], include_usage: bool
) -> AsyncIterator[bytes]:
    try:
        async for kind, value in source:
            if kind == "content":
                yield renderer.chunk({"content": value})
            elif kind == "done":
                finish, usage, calls = value
                if calls:
                    deltas = [{"index": i, **call} for i, call in enumerate(calls)]
                    yield renderer.chunk({"tool_calls": deltas})
                elif not renderer.role_sent:
                    yield renderer.chunk({"content": ""})
                yield renderer.chunk({}, finish)
                if include_usage:
                    yield renderer.chunk({}, usage=usage)
    except AssistantError as exc:
        yield _error_frame(exc.code, exc.message)
    except Exception:
        logging.getLogger("assistant.api").exception("OpenAI-compatible stream failed")
        yield _error_frame("internal_error", "an unexpected error occurred; the server log has the details")
    finally:
        svc.release_chat()
    yield b"data: [DONE]\n\n"


async def _measured(
    svc: Services, model: str, source: AsyncIterator[tuple[str, Any]]
) -> AsyncIterator[tuple[str, Any]]:
    """``source`` passed through; its answer counted in the metrics and in ``/usage`` (a /v1
    answer is stored nowhere else)."""
    started = time.monotonic()
    first: float | None = None
    tools = 0
    async for kind, value in source:
        if kind == "content" and first is None:
            first = time.monotonic()
        elif kind == "tool":
            tools += 1
        elif kind == "done":
            usage = value[1]
            first_ms = None if first is None else round((first - started) * 1000)
            total_ms = round((time.monotonic() - started) * 1000)
            tokens_in, tokens_out = usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)
            metrics.answered(model, first_ms, total_ms, tokens_in, tokens_out)
            svc.note_v1_usage(UsageRecord(time.time(), model, tokens_in, tokens_out, tools, first_ms, total_ms))
        if kind != "tool":
            yield kind, value


async def _our_tools(svc: Services, chat: ChatInput, request_id: str) -> AsyncIterator[tuple[str, Any]]:
    """Our agent loop; tool calls are logged, not sent."""
    events = logged(loop.run(svc, chat), route="/v1", request_id=request_id, conversation=None, model=chat.model.name)
    async for event in events:
        if isinstance(event, ev.ContentDelta):
            yield "content", event.text
        elif isinstance(event, ev.ToolFinished):
            yield "tool", None
            log.info(
                "tool %s %s %s: %s (%d ms)",
                event.name,
                json.dumps(event.arguments),
                event.status,
                event.summary,
                event.duration_ms,
            )
        elif isinstance(event, ev.Failed):
            log_failure(request_id, event.code, event.message)
            raise AssistantError(event.code, event.message)
        elif isinstance(event, ev.Done):
            yield "done", (event.finish_reason, event.usage.to_dict(), None)


async def _client_tools(svc: Services, chat: ChatInput, tools: list[dict[str, Any]]) -> AsyncIterator[tuple[str, Any]]:
    """One round with the client's tools; the model's calls go back to the client."""
    request = ChatRequest(
        model=chat.model.name,
        messages=chat.messages,
        tools=tools,
        temperature=chat.temperature,
        max_tokens=chat.max_tokens,
        seed=chat.seed,
    )
    calls: list[ToolCallRequest] = []
    usage = ev.Usage()
    finish = "stop"
    async for chunk in svc.backend.answer(request):
        calls.extend(chunk.tool_calls)
        if chunk.content:
            yield "content", chunk.content
        if chunk.done:
            finish = chunk.finish_reason or "stop"
            usage.prompt_tokens += chunk.prompt_tokens or 0
            usage.completion_tokens += chunk.completion_tokens or 0
    if calls:
        yield "done", ("tool_calls", usage.to_dict(), _openai_calls(calls))
    else:
        yield "done", (finish, usage.to_dict(), None)
