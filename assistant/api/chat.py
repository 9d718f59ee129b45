"""POST /api/v1/chat/completions: validate, then stream the agent's events (or fold them)."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, Response, post
from litestar.params import JSONBody
from litestar.response import Stream

from assistant import agent, search_answer
from assistant.backends import ModelInfo
from assistant.citations import find_citations, sources_of
from assistant.conversations import AnswerFields, Conversations, ConversationStore, NewMessage, TraceEntry
from assistant.conversations.documents import Citation, ErrorInfo, Source, Timings, Usage
from assistant.errors import AssistantError, BackendError, StoreError
from assistant.prompting import resolve_model
from assistant.services import Services, services
from assistant.types import Message

from .disconnect import until_disconnect
from .envelope import ok, sandbox_params, strict_body
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
    # edit of the first); a message id, under it (an edit, or asking a question again): a branch
    # "" is no message (the OpenAPI document says minLength 1), but it is decoded: an unknown
    # conversation answers 404 first, a known one 400 naming parent_id
    parent_id: str | msgspec.UnsetType | None = msgspec.UNSET


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


@dataclass
class Turn:
    """A chat inside a stored conversation: the question is stored before the model is asked,
    the answer (with its trace) when it ends, however it ends."""

    conversations: Conversations
    conversation_id: str
    user_message_id: str

    def end(self) -> None:
        """This turn no longer keeps its conversation busy."""
        _release(self.conversations, self.conversation_id)


@dataclass
class Plan:
    """A validated chat: asked of the model (``chat``), or, with no model server answering,
    answered from ranked search (``reason`` says why)."""

    repo_path: str
    question: str
    chat: agent.ChatInput | None
    reason: str = ""
    turn: Turn | None = None

    @property
    def model(self) -> str | None:
        return self.chat.model.name if self.chat is not None else None

    def events(self, svc: Services) -> AsyncIterator[agent.Event]:
        if self.chat is not None:
            source = agent.run(svc, self.chat)
        else:
            source = search_answer.answer(svc.indexes, self.repo_path, self.question, self.reason)
        return recorded(svc, self, source)


def _messages(body: ChatBody) -> None:
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


def _history(store: ConversationStore, body: ChatBody) -> tuple[str | None, list[Message]]:
    """The parent of the new turn and the messages before it (run in a store thread)."""
    cid = body.conversation_id or ""
    try:
        shown = store.active(cid)  # an unknown conversation first, whatever parent_id says
    except StoreError as exc:
        exc.param = "conversation_id"
        raise
    parent = shown if body.parent_id is msgspec.UNSET else body.parent_id
    if body.parent_id is not msgspec.UNSET and parent is not None:
        store.role_of(cid, parent, "parent_id")
    path = store.path_to(cid, parent) if parent else []
    if body.messages and path and path[-1].role != "assistant":
        raise AssistantError(
            "invalid_parameter", "a new question goes under an answer (or first, with no parent)", param="parent_id"
        )
    if not body.messages and (not path or path[-1].role != "user"):
        raise AssistantError("invalid_parameter", "asking again needs `parent_id` to be a question", param="parent_id")
    history: list[Message] = [{"role": m.role, "content": m.content} for m in path]
    return parent, history


def _occupy(conversations: Conversations, body: ChatBody) -> str:
    """A question under the answer shown waits for the answer being written in its conversation
    (409 ``conversation_busy``); a branch (an explicit ``parent_id``: an edit, asking again, a
    second tab) may be asked beside it."""
    cid = body.conversation_id or ""
    if body.parent_id is msgspec.UNSET and conversations.busy[cid]:
        raise AssistantError(
            "conversation_busy",
            "an answer is being written in this conversation; wait for it (or stop it) before asking again",
            param="conversation_id",
        )
    conversations.busy[cid] += 1
    return cid


def _release(conversations: Conversations, cid: str) -> None:
    conversations.busy[cid] -= 1
    if conversations.busy[cid] <= 0:
        del conversations.busy[cid]


async def prepare(svc: Services, body: ChatBody) -> Plan:
    """Everything that can fail before a stream starts fails here, as an envelope."""
    _messages(body)
    repo = _setting(body, "repo_path", None)
    with sandbox_params(repo=repo.param):
        repo_path = svc.roots.resolve(repo.value)
    if body.conversation_id is None:
        return await _plan(svc, body, repo_path, body_messages(body))
    conversations = svc.kept()
    cid = _occupy(conversations, body)
    try:
        parent, history = await conversations.run(lambda s: _history(s, body))
        plan = await _plan(svc, body, repo_path, history + body_messages(body))
        # the question is stored before the model is asked (asking again: it is stored already)
        if body.messages:
            question = NewMessage(role="user", content=body.messages[0].content, parent_id=parent)
            user_id = await conversations.run(lambda s: s.add(cid, question))
        else:
            user_id = parent or ""
    except BaseException:
        _release(conversations, cid)
        raise
    plan.turn = Turn(conversations, cid, user_id)
    return plan


def body_messages(body: ChatBody) -> list[Message]:
    return [{"role": m.role, "content": m.content} for m in body.messages]


async def _plan(svc: Services, body: ChatBody, repo_path: str, messages: list[Message]) -> Plan:
    """The chat for the model, or (no model server answering) the answer from search."""
    question = next((str(m["content"]) for m in reversed(messages) if m["role"] == "user"), "")
    model = _setting(body, "model", None)
    try:
        info = await chat_model(svc, model.value, model.param)
    except BackendError as exc:
        if exc.code != "ollama_unavailable":
            raise
        return Plan(repo_path, question, None, reason=exc.message)
    return Plan(
        repo_path,
        question,
        agent.ChatInput(
            messages=messages,
            model=info,
            repo_path=repo_path,
            max_rounds=svc.settings.max_rounds,
            map_tokens=svc.settings.map_tokens,
            temperature=_setting(body, "temperature", agent.DEFAULT_TEMPERATURE).value,
            max_tokens=_setting(body, "max_tokens", agent.DEFAULT_MAX_TOKENS).value,
            tool_mode=_setting(body, "tool_mode", "auto").value,
        ),
    )


async def recorded(svc: Services, plan: Plan, source: AsyncIterator[agent.Event]) -> AsyncIterator[agent.Event]:
    """Pass the events through; at the end add the citations, the sources and the model to
    ``done``, and store the answer in its conversation (partial, ``cancelled``, when the client
    left; ``error`` when it failed)."""
    content: list[str] = []
    trace: list[dict[str, Any]] = []
    started = time.monotonic()
    first: float | None = None
    stored = False

    async def store(finish: str, usage: dict[str, int] | None, extra: dict[str, Any]) -> str | None:
        turn = plan.turn
        if turn is None:
            return None
        timings = Timings(round((time.monotonic() - started) * 1000))
        if first is not None:
            timings.first_content_ms = round((first - started) * 1000)
        fields = AnswerFields(
            tool_events=[msgspec.convert(entry, TraceEntry) for entry in trace],
            finish_reason=finish,  # type: ignore[arg-type]
            usage=msgspec.convert(usage, Usage) if usage is not None else None,
            model=plan.model,
            timings=timings,
        )
        if "citations" in extra:
            fields.citations = [msgspec.convert(c, Citation) for c in extra["citations"]]
            fields.sources = [msgspec.convert(c, Source) for c in extra["sources"]]
        if "error" in extra:
            fields.error = msgspec.convert(extra["error"], ErrorInfo)
        answer = NewMessage(role="assistant", content="".join(content), parent_id=turn.user_message_id, fields=fields)
        try:
            return await turn.conversations.run(lambda s: s.add(turn.conversation_id, answer), interruptible=False)
        except AssistantError as exc:
            log.warning("the answer could not be stored in conversation %s: %s", turn.conversation_id, exc.message)
            return None

    try:
        async for event in source:
            if isinstance(event, agent.ContentDelta):
                if first is None:
                    first = time.monotonic()
                content.append(event.text)
            elif isinstance(event, (agent.ToolStarted, agent.ToolFinished)):
                trace.append(tool_event(event))
            elif isinstance(event, agent.Done):
                text = "".join(content)
                extra: dict[str, Any] = {
                    "model": plan.model,
                    "citations": find_citations(text, svc.indexes, plan.repo_path),
                    "sources": sources_of(trace),
                }
                stored = True
                message_id = await store(event.finish_reason, event.usage.to_dict(), extra)
                if plan.turn is not None and message_id is not None:
                    extra.update(
                        conversation_id=plan.turn.conversation_id,
                        user_message_id=plan.turn.user_message_id,
                        message_id=message_id,
                    )
                event = replace(event, extra={**event.extra, **extra})
            elif isinstance(event, agent.Failed):
                stored = True
                await store("error", None, {"error": {"code": event.code, "message": event.message}})
            yield event
    finally:
        if not stored:
            await store("cancelled", None, {})
        if plan.turn is not None:
            plan.turn.end()


@post("/chat/completions", summary="Chat about the repository; streams SSE by default (docs/api.md)", status_code=200)
async def post_chat(request: Request[Any, Any, Any], data: JSONBody[ChatBody]) -> Response[bytes] | Stream:
    data = await strict_body(request, data)
    svc = services(request)
    take_chat_slot(svc)
    try:
        plan = await prepare(svc, data)
    except BaseException:
        svc.release_chat()
        raise
    request_id = request.scope["state"]["request_id"]
    if data.stream:
        renderer = ChatStream(plan.model, request_id)

        async def frames() -> AsyncIterator[bytes]:
            try:
                async for frame in renderer.render(plan.events(svc)):
                    yield frame
            finally:
                svc.release_chat()

        return sse_stream(frames(), svc.settings.keepalive_seconds, svc.stopping)
    try:
        return ok(request, await until_disconnect(request, _complete(svc, plan, request_id), svc.stopping))
    finally:
        svc.release_chat()


async def _complete(svc: Services, plan: Plan, request_id: str) -> dict[str, Any]:
    renderer = ChatStream(plan.model)
    content: list[str] = []
    calls: list[dict[str, Any]] = []
    events = plan.events(svc)
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
    finally:
        await events.aclose()  # type: ignore[attr-defined]
    raise AssistantError("internal_error", "the answer ended without finishing")
