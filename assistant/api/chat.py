"""POST /api/v1/chat/completions: validate, then stream the agent's events (or fold them)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, Response, post
from litestar.params import JSONBody
from litestar.response import Stream

from assistant import agent
from assistant.backends import ModelInfo
from assistant.errors import AssistantError, BackendError
from assistant.prompting import resolve_model
from assistant.services import Services, services

from .disconnect import until_disconnect
from .envelope import ok, sandbox_params, strict_body
from .sse import ChatStream, log_failure, sse_stream, tool_event

RETRY_AFTER_SECONDS = 2

Role = Literal["system", "user", "assistant", "tool"]
ToolMode = Literal["auto", "manual"]
Temperature = Annotated[float, msgspec.Meta(ge=0, le=2)]
MAX_TOKENS = 131_072  # the largest context any model here is given; more is a client mistake
MaxTokens = Annotated[int, msgspec.Meta(ge=1, le=MAX_TOKENS)]


class ChatMessage(msgspec.Struct):
    role: Role
    content: str


class ChatSettings(msgspec.Struct):
    model: str | None = None
    repo_path: str | None = None
    temperature: Temperature | None = None
    max_tokens: MaxTokens | None = None
    tool_mode: ToolMode | None = None


class ChatBody(msgspec.Struct):
    """The nested form (``settings``) or the flat legacy form; ``settings`` wins."""

    messages: Annotated[list[ChatMessage], msgspec.Meta(min_length=1)]
    settings: ChatSettings | None = None
    stream: bool = True
    model: str | None = None
    repo_path: str | None = None
    temperature: Temperature | None = None
    max_tokens: MaxTokens | None = None
    tool_mode: ToolMode | None = None


@dataclass(frozen=True)
class Resolved:
    value: Any
    param: str


def _setting(body: ChatBody, name: str, default: Any) -> Resolved:
    nested = getattr(body.settings, name) if body.settings is not None else None
    if nested is not None:
        return Resolved(nested, f"settings.{name}")
    flat = getattr(body, name)
    if flat is not None:
        return Resolved(flat, name)
    return Resolved(default, f"settings.{name}" if body.settings is not None else name)


async def chat_model(svc: Services, name: str | None, param: str) -> ModelInfo:
    """The chat's model; a missing one is named by ``param``, the client's spelling."""
    try:
        return await resolve_model(svc.backend, name, svc.settings.model)
    except BackendError as exc:
        exc.param = param if exc.code == "ollama_model_not_found" else None
        raise


def take_chat_slot(svc: Services) -> None:
    """Count this chat against --max-concurrent-chats, or refuse it with server_busy."""
    if not svc.try_acquire_chat():
        raise AssistantError(
            "server_busy",
            f"{svc.settings.max_concurrent_chats} chats are already running; retry in a moment",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )


async def prepare(svc: Services, body: ChatBody) -> agent.ChatInput:
    """Everything that can fail before a stream starts fails here, as an envelope."""
    repo = _setting(body, "repo_path", None)
    with sandbox_params(repo=repo.param):
        repo_path = svc.roots.resolve(repo.value)
    model = _setting(body, "model", None)
    return agent.ChatInput(
        messages=[{"role": m.role, "content": m.content} for m in body.messages],
        model=await chat_model(svc, model.value, model.param),
        repo_path=repo_path,
        max_rounds=svc.settings.max_rounds,
        map_tokens=svc.settings.map_tokens,
        temperature=_setting(body, "temperature", agent.DEFAULT_TEMPERATURE).value,
        max_tokens=_setting(body, "max_tokens", agent.DEFAULT_MAX_TOKENS).value,
        tool_mode=_setting(body, "tool_mode", "auto").value,
    )


@post("/chat/completions", summary="Chat about the repository; streams SSE by default (docs/api.md)", status_code=200)
async def post_chat(request: Request[Any, Any, Any], data: JSONBody[ChatBody]) -> Response[bytes] | Stream:
    data = await strict_body(request, data)
    svc = services(request)
    take_chat_slot(svc)
    try:
        chat = await prepare(svc, data)
    except BaseException:
        svc.release_chat()
        raise
    request_id = request.scope["state"]["request_id"]
    if data.stream:
        renderer = ChatStream(chat.model.name, request_id)

        async def frames() -> AsyncIterator[bytes]:
            try:
                async for frame in renderer.render(agent.run(svc, chat)):
                    yield frame
            finally:
                svc.release_chat()

        return sse_stream(frames(), svc.settings.keepalive_seconds, svc.stopping)
    try:
        return ok(request, await until_disconnect(request, _complete(svc, chat, request_id), svc.stopping))
    finally:
        svc.release_chat()


async def _complete(svc: Services, chat: agent.ChatInput, request_id: str) -> dict[str, Any]:
    renderer = ChatStream(chat.model.name)
    content: list[str] = []
    calls: list[dict[str, Any]] = []
    events = agent.run(svc, chat)
    try:
        async for event in events:
            if isinstance(event, agent.ContentDelta):
                content.append(event.text)
            elif isinstance(event, agent.ToolFinished):
                shown = tool_event(event)
                call = {k: shown[k] for k in ("id", "name", "arguments", "status", "result", "duration_ms")}
                if event.error:
                    call["error"] = event.error
                calls.append(call)
            elif isinstance(event, agent.Failed):
                log_failure(request_id, event.code, event.message)
                raise AssistantError(event.code, event.message)
            elif isinstance(event, agent.Done):
                extra = {"rounds_exhausted": True} if event.rounds_exhausted else {}
                return {
                    **extra,
                    "id": renderer.id,
                    "object": "chat.completion",
                    "created": renderer.created,
                    "model": chat.model.name,
                    "content": "".join(content),
                    "finish_reason": event.finish_reason,
                    "tool_calls": calls,
                    "usage": event.usage.to_dict(),
                }
    finally:
        await events.aclose()  # type: ignore[attr-defined]
    raise AssistantError("internal_error", "the answer ended without finishing")
