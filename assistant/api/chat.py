"""POST /api/v1/chat/completions: validate, then stream the answer's events (or fold them).

HTTP only: what a turn is (the question stored first, the answer stored as it happens, the
answer from search without a model server) is ``assistant.chat.turn``'s."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec
from litestar import post
from litestar.params import JSONBody
from litestar.response import Stream
from msgspec import UNSET, Struct, UnsetType

from assistant.backends import ModelInfo
from assistant.chat import events as ev
from assistant.chat.prompting import resolve_model
from assistant.chat.turn import ChatOptions, Plan, StoredTurn, answer_events, begin, chat_input, logged
from assistant.conversations.documents import Citation, CommitCitation, Source
from assistant.errors import AssistantError, BackendError, StoreError
from assistant.services import Services
from assistant.types import FinishReason, Message, ToolStatus
from sandbox import SandboxError

from .disconnect import until_disconnect
from .envelope import Envelope, Req, Svc, ok, sandbox_params, strict_body
from .sse import ChatStream, log_failure, sse_stream, tool_event

log = logging.getLogger("assistant.api.chat")

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

    messages: list[ChatMessage]
    settings: ChatSettings | None = None
    stream: bool = True
    model: str | None = None
    repo_path: str | None = None
    temperature: Temperature | None = None
    max_tokens: MaxTokens | None = None
    tool_mode: ToolMode | None = None
    conversation_id: str | None = None  # a stored conversation: `messages` is only the new question
    # where the new turn goes: absent, under the answer shown; null, a first question again (an
    # edit of the first); a message id, under it (an edit, or asking a question again): a branch.
    # "" is no message (the OpenAPI document says minLength 1), but it is decoded: an unknown
    # conversation answers 404 first, a known one 400 naming parent_id
    parent_id: str | msgspec.UnsetType | None = msgspec.UNSET


@dataclass(frozen=True)
class Resolved:
    value: Any
    param: str


def _setting(body: ChatBody, name: str) -> Resolved:
    """A setting from ``settings`` (which wins) or the flat form, named as the client sent it."""
    nested = getattr(body.settings, name) if body.settings is not None else None
    if nested is not None:
        return Resolved(nested, f"settings.{name}")
    flat = getattr(body, name)
    if flat is not None:
        return Resolved(flat, name)
    return Resolved(None, f"settings.{name}" if body.settings is not None else name)


def options_of(body: ChatBody) -> ChatOptions:
    return ChatOptions(
        temperature=_setting(body, "temperature").value,
        max_tokens=_setting(body, "max_tokens").value,
        tool_mode=_setting(body, "tool_mode").value,
    )


async def chat_model(svc: Services, name: str | None, param: str) -> ModelInfo:
    """The chat's model; a missing one is named by ``param``, the client's spelling."""
    try:
        return await resolve_model(svc.backend, name, svc.settings.model, svc.settings.first_token_timeout)
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


def _check_shape(body: ChatBody) -> None:
    """The shape rules of ``messages``, ``conversation_id`` and ``parent_id``."""
    if body.conversation_id is None:
        if body.parent_id is not msgspec.UNSET:
            raise AssistantError("invalid_parameter", "`parent_id` needs a `conversation_id`", param="parent_id")
        if not body.messages:
            raise AssistantError("invalid_parameter", "`messages` must hold at least one message", param="messages")
        return
    if len(body.messages) > 1 or (body.messages and body.messages[0].role != "user"):
        raise AssistantError(
            "invalid_parameter",
            "with `conversation_id`, `messages` holds only the new user message (the server has the history)",
            param="messages",
        )
    if not body.messages and not isinstance(body.parent_id, str):
        raise AssistantError(
            "invalid_parameter",
            "asking again needs `parent_id`: the question to answer again (or send the new question in `messages`)",
            param="messages",
        )


async def prepare(svc: Services, body: ChatBody) -> Plan:
    """Everything that can fail before a stream starts fails here, as an envelope. In a stored
    conversation the question is stored first, and a failure after that is stored with it."""
    _check_shape(body)
    repo = _setting(body, "repo_path")
    with sandbox_params(repo=repo.param):
        repo_path = svc.roots.resolve(repo.value)
    new: list[Message] = [{"role": m.role, "content": m.content} for m in body.messages]
    turn: StoredTurn | None = None
    said: list[Message] = []
    if body.conversation_id is not None:
        repo_path = await _conversation_repo(svc, body.conversation_id, repo_path)
        question = body.messages[0].content if body.messages else None
        turn, said = await begin(svc.kept(), body.conversation_id, body.parent_id, question)
        await turn.announce(svc.conversation_event)
    model = _setting(body, "model")
    try:
        plan = await _plan(svc, repo_path, said + new, model, options_of(body))
    except AssistantError as exc:
        if turn is not None:
            await turn.fail(exc, model.value)
        raise
    plan.turn = turn
    return plan


async def _conversation_repo(svc: Services, cid: str, requested: str) -> str:
    """A conversation's turns run on its own repository, whatever the request names; one this
    server does not serve is read-only here (403)."""
    try:
        summary = await svc.kept().run(lambda s: s.summary(cid))
    except StoreError as exc:
        exc.param = "conversation_id"
        raise
    if summary.repo is None or summary.repo == requested:
        return requested
    try:
        return svc.roots.resolve(summary.repo)
    except SandboxError:
        raise AssistantError(
            "access_denied",
            f"this conversation is about {summary.repo}, which this server does not serve: it is read-only here",
            param="conversation_id",
        ) from None


async def _plan(svc: Services, repo_path: str, messages: list[Message], model: Resolved, options: ChatOptions) -> Plan:
    """The chat for the model, or (no model server answering) the answer from search."""
    question = next((str(m["content"]) for m in reversed(messages) if m["role"] == "user"), "")
    try:
        info = await chat_model(svc, model.value, model.param)
    except BackendError as exc:
        if exc.code != "ollama_unavailable":
            raise
        return Plan(repo_path, question, None, reason=exc.message)
    return Plan(repo_path, question, chat_input(svc.settings, info, repo_path, messages, options))


class Output(Struct):
    content: str
    truncated: bool


class Failure(Struct):
    code: str
    message: str


class Call(Struct, omit_defaults=True):
    """A tool call the answer made (as the stream's finished ``tool_call`` event shows it)."""

    id: str
    name: str
    arguments: dict[str, Any]
    status: ToolStatus
    result: Output
    duration_ms: int
    error: Failure | UnsetType = UNSET


class Counts(Struct):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class Completion(Struct, kw_only=True, omit_defaults=True):
    """The whole answer at once (``"stream": false``): the stream's content joined, its tool
    calls, and what its ``done`` event says. ``model`` is null for an answer from search."""

    id: str
    object: Literal["chat.completion"]
    created: int
    model: str | None
    content: str
    finish_reason: FinishReason
    tool_calls: list[Call]
    usage: Counts
    citations: list[Citation] | UnsetType = UNSET
    commits: list[CommitCitation] | UnsetType = UNSET  # commit ids in the answer, verified
    sources: list[Source] | UnsetType = UNSET
    conversation_id: str | UnsetType = UNSET
    user_message_id: str | UnsetType = UNSET
    message_id: str | UnsetType = UNSET
    rounds_exhausted: bool | UnsetType = UNSET
    from_search: bool | UnsetType = UNSET


@post("/chat/completions", summary="Chat about the repository; streams SSE by default (docs/api.md)", status_code=200)
async def post_chat(request: Req, svc: Svc, data: JSONBody[ChatBody]) -> Envelope[Completion] | Stream:
    data = await strict_body(request, data)
    take_chat_slot(svc)
    try:
        plan = await prepare(svc, data)
    except BaseException:
        svc.release_chat()
        raise
    request_id = request.scope["state"]["request_id"]
    conversation = plan.turn.conversation_id if plan.turn is not None else None
    events = logged(
        answer_events(svc, plan), route="/api/v1", request_id=request_id, conversation=conversation, model=plan.model
    )
    if data.stream:
        renderer = ChatStream(plan.model, request_id)

        async def frames() -> AsyncIterator[bytes]:
            try:
                async for frame in renderer.render(events):
                    yield frame
            finally:
                svc.release_chat()
                if plan.turn is not None:
                    plan.turn.release()

        return sse_stream(frames(), svc.settings.keepalive_seconds, svc.stopping)
    try:
        return ok(request, await until_disconnect(request, _complete(events, plan, request_id), svc.stopping))
    finally:
        svc.release_chat()
        if plan.turn is not None:
            plan.turn.release()


async def _complete(events: AsyncIterator[ev.Event], plan: Plan, request_id: str) -> Completion:
    renderer = ChatStream(plan.model)
    content: list[str] = []
    calls: list[dict[str, Any]] = []
    started = time.monotonic()
    try:
        async for event in events:
            if isinstance(event, ev.ContentDelta):
                content.append(event.text)
            elif isinstance(event, ev.ToolFinished):
                shown = tool_event(event)
                call = {k: shown[k] for k in ("id", "name", "arguments", "status", "result", "duration_ms")}
                if event.error:
                    call["error"] = event.error
                calls.append(call)
            elif isinstance(event, ev.Failed):
                log_failure(request_id, event.code, event.message)
                raise AssistantError(event.code, event.message)
            elif isinstance(event, ev.Done):
                extra = {"rounds_exhausted": True} if event.rounds_exhausted else {}
                answer = {
                    **extra,
                    **event.extra,
                    "id": renderer.id,
                    "object": "chat.completion",
                    "created": renderer.created,
                    "model": plan.model,
                    "content": "".join(content),
                    "finish_reason": event.finish_reason,
                    "tool_calls": calls,
                    "usage": event.usage.to_dict(),
                }
                return msgspec.convert(answer, Completion)
    finally:
        await events.aclose()  # type: ignore[attr-defined]
    raise AssistantError("internal_error", f"the answer ended without finishing ({time.monotonic() - started:.1f} s)")
