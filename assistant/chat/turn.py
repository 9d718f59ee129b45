"""What one chat turn is, from a validated request to the stored answer.

- ``chat_input``: the one builder of a ``ChatInput`` (the loop's input) from the server's
  settings, a resolved model and what the client asked. ``/api/v1/chat/completions``, ``/v1``
  and the CLI's ``ask`` all use it.
- ``Plan``: a chat ready to answer: asked of the model, or (no model server answering) answered
  from search (``fallback``). ``answer_events`` are its events, with the answer's citations,
  sources and model added to ``Done``.
- ``StoredTurn``: a chat inside a stored conversation. The question is stored before the model is
  asked (``begin``); the answer is stored as it happens (made with its first content or tool
  call, then updated with each finished tool call and at least every ``PROGRESS_SECONDS`` of
  text) and when it ends, however it ends: ``stop``, ``length``, ``error``, ``cancelled`` (the
  client left). An answer a crash left unfinished is marked ``interrupted`` when the store is next
  opened. A failure before the model answers is stored too, as an answer with the error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import anyio
import msgspec

from assistant import metrics, workers
from assistant.backends import ModelInfo
from assistant.conversations import AnswerFields, Conversations, ConversationStore, ErrorInfo, NewMessage, TraceEntry
from assistant.conversations.documents import (
    Citation,
    CommitCitation,
    GivenContext,
    ShownResult,
    Source,
    Timings,
    Usage,
)
from assistant.errors import AssistantError, StoreError
from assistant.settings import Settings
from assistant.types import Message

from . import fallback, loop
from .citations import find_citations, find_commits, sources_of
from .context import with_text
from .events import SHOWN_RESULT_BYTES, ContentDelta, ContextGiven, Done, Event, Failed, Status, ToolFinished, cut_bytes

log = logging.getLogger("assistant.chat")

PROGRESS_SECONDS = 2.0  # an answer's text is stored at least this often while it streams


@dataclass(frozen=True)
class ChatOptions:
    """What a client may choose for one chat (``None``: the default)."""

    temperature: float | None = None
    max_tokens: int | None = None
    tool_mode: str | None = None
    seed: int | None = None


def chat_input(
    settings: Settings, model: ModelInfo, repo_path: str, messages: list[Message], options: ChatOptions
) -> loop.ChatInput:
    """The loop's input: the server's bounds (rounds, map), the model, and the client's choices."""
    return loop.ChatInput(
        messages=messages,
        model=model,
        repo_path=repo_path,
        max_rounds=settings.max_rounds,
        map_tokens=settings.map_tokens,
        context_tokens=settings.context_tokens,
        temperature=loop.DEFAULT_TEMPERATURE if options.temperature is None else options.temperature,
        max_tokens=loop.DEFAULT_MAX_TOKENS if options.max_tokens is None else options.max_tokens,
        tool_mode=options.tool_mode or "auto",
        seed=options.seed,
    )


def trace_entry(event: ToolFinished) -> TraceEntry:
    """A finished tool call as the trace keeps it: its result as the model saw it, cut at 8 KB."""
    content, cut = cut_bytes(event.content, SHOWN_RESULT_BYTES)
    read = event.result.read
    return TraceEntry(
        id=event.id,
        name=event.name,
        status=event.status,
        arguments=event.arguments,
        timestamp=event.timestamp,
        duration_ms=event.duration_ms,
        summary=event.summary,
        result=ShownResult(content, event.truncated or cut),
        error=msgspec.convert(event.error, ErrorInfo) if event.error else None,
        source=Source(read.path, read.start, read.end, f"{read.path}:{read.start}-{read.end}") if read else None,
    )


@dataclass
class Answer:
    """What an answer has said so far."""

    parts: list[str] = field(default_factory=list)
    trace: list[TraceEntry] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    first: float | None = None  # when its first content came
    context: GivenContext | None = None  # the code given with the question

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def note(self, event: Event) -> None:
        if isinstance(event, ContentDelta):
            if self.first is None:
                self.first = time.monotonic()
            self.parts.append(event.text)
        elif isinstance(event, ToolFinished):
            self.trace.append(trace_entry(event))
        elif isinstance(event, ContextGiven):
            self.context = msgspec.convert(
                {"parts": event.parts, "tokens": event.tokens, "text": event.text}, GivenContext
            )

    def timings(self) -> Timings:
        first = None if self.first is None else round((self.first - self.started) * 1000)
        return Timings(round((time.monotonic() - self.started) * 1000), first)


class StoredTurn:
    """A turn of a stored conversation (see the module docstring)."""

    async def announce(self, publish: Callable[[str, str, str | None], None]) -> None:
        """Say the conversation changed (``conversation.updated`` with its title, which the first
        question may have set)."""
        cid = self.conversation_id
        with contextlib.suppress(AssistantError):
            summary = await self.conversations.run(lambda s: s.summary(cid), interruptible=False)
            publish("updated", cid, summary.title)

    def __init__(self, conversations: Conversations, conversation_id: str, user_message_id: str) -> None:
        self.conversations = conversations
        self.conversation_id = conversation_id
        self.user_message_id = user_message_id
        self.answer_id: str | None = None
        self._saved = (0, 0)  # (parts, trace entries) of the answer when it was last stored
        self._saving = asyncio.Lock()  # one save at a time: the first one makes the message
        self._released = False

    async def save(self, answer: Answer, fields: AnswerFields, *, streaming: bool) -> str | None:
        """Store the answer as it is now (made the first time); its id, or ``None`` when the
        store failed (the chat goes on: it is only not kept)."""
        async with self._saving:
            return await self._save(answer, fields, streaming)

    async def keep_saving(self, answer: Answer, model: str | None, stop: asyncio.Event) -> None:
        """Until ``stop``, store what is new of the answer every ``PROGRESS_SECONDS`` (a model may
        say nothing for minutes after its last words; a crash then keeps them)."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), PROGRESS_SECONDS)
            if not stop.is_set() and (len(answer.parts), len(answer.trace)) != self._saved:
                await self.save(answer, AnswerFields(model=model), streaming=True)

    async def _save(self, answer: Answer, fields: AnswerFields, streaming: bool) -> str | None:
        cid, text = self.conversation_id, answer.text
        fields.tool_events = list(answer.trace)
        fields.timings = answer.timings()
        if answer.context is not None:
            fields.context = answer.context
        self._saved = (len(answer.parts), len(answer.trace))
        try:
            if self.answer_id is None:
                message = NewMessage(
                    role="assistant", content=text, parent_id=self.user_message_id, fields=fields, streaming=streaming
                )

                def made(store: ConversationStore) -> None:  # kept here: the caller may be cancelled meanwhile
                    self.answer_id = store.add(cid, message)

                await self.conversations.run(made, interruptible=False)
            else:
                aid = self.answer_id
                await self.conversations.run(
                    lambda s: s.set_answer(cid, aid, text, fields, streaming=streaming), interruptible=False
                )
        except AssistantError as exc:
            log.warning("the answer could not be stored in conversation %s: %s", cid, exc.message)
            return None
        return self.answer_id

    async def fail(self, error: AssistantError, model: str | None) -> None:
        """The chat failed before the model answered: the question stays, with the error."""
        fields = AnswerFields(finish_reason="error", model=model, error=ErrorInfo(error.code, error.message))
        await self.save(Answer(), fields, streaming=False)
        self.release()

    def release(self) -> None:
        """This turn no longer keeps its conversation busy."""
        if not self._released:
            self._released = True
            busy = self.conversations.busy
            busy[self.conversation_id] -= 1
            if busy[self.conversation_id] <= 0:
                del busy[self.conversation_id]


def occupy(conversations: Conversations, cid: str, under_shown: bool) -> None:
    """Count a turn against its conversation. A question under the answer shown waits for the
    answer being written there (409 ``conversation_busy``); a branch (an edit, asking again, a
    second tab naming its parent) may be asked beside it."""
    if under_shown and conversations.busy[cid]:
        raise AssistantError(
            "conversation_busy",
            "an answer is being written in this conversation; wait for it (or stop it) before asking again",
            param="conversation_id",
        )
    conversations.busy[cid] += 1


def history(
    store: ConversationStore, cid: str, parent: str | msgspec.UnsetType | None, asking: bool
) -> tuple[str | None, list[Message]]:
    """The parent of the new turn (``UNSET``: under the message shown) and the messages the model
    sees before it; run in a store thread. A new question may follow anything: an answer, an
    answer that failed or was interrupted, or a question left without one. Asking again needs a
    question. Answers that are only an error are not shown to the model."""
    try:
        shown = store.active(cid)  # an unknown conversation first, whatever parent_id says
    except StoreError as exc:
        exc.param = "conversation_id"
        raise
    under = shown if parent is msgspec.UNSET else parent
    if parent is not msgspec.UNSET and under is not None:
        store.role_of(cid, under, "parent_id")
    path = store.path_to(cid, under) if under else []
    if not asking and (not path or path[-1].role != "user"):
        raise AssistantError("invalid_parameter", "asking again needs `parent_id` to be a question", param="parent_id")
    said: list[Message] = []
    for m in path:
        if m.role == "assistant" and m.context is not msgspec.UNSET and said and said[-1]["role"] == "user":
            # the code given with that question: the model saw it there, and sees it again
            said[-1] = {"role": "user", "content": with_text(str(said[-1]["content"]), m.context.text)}
        if not (m.role == "assistant" and not m.content and m.error not in (None, msgspec.UNSET)):
            said.append({"role": m.role, "content": m.content})
    return under, said


async def begin(
    conversations: Conversations,
    cid: str,
    parent: str | msgspec.UnsetType | None,
    question: str | None,
) -> tuple[StoredTurn, list[Message]]:
    """Open a turn: check where it goes, then store the question (asking again, ``question`` is
    ``None``: it is stored already). Returns the turn and the messages before the question."""
    occupy(conversations, cid, parent is msgspec.UNSET)
    try:
        under, said = await conversations.run(lambda s: history(s, cid, parent, question is not None))
        if question is None:
            user_id = under or ""  # the question being asked again, the last of what was said
        else:
            asked = NewMessage(role="user", content=question, parent_id=under)
            user_id = await conversations.run(lambda s: s.add(cid, asked))
    except BaseException:
        conversations.busy[cid] -= 1
        if conversations.busy[cid] <= 0:
            del conversations.busy[cid]
        raise
    return StoredTurn(conversations, cid, user_id), said


@dataclass
class Plan:
    """A chat ready to answer: asked of the model (``chat``), or, with no model server answering,
    answered from ranked search (``reason`` says why)."""

    repo_path: str
    question: str
    chat: loop.ChatInput | None
    reason: str = ""
    turn: StoredTurn | None = None

    @property
    def model(self) -> str | None:
        return self.chat.model.name if self.chat is not None else None


async def answer_events(services: loop.ChatServices, plan: Plan) -> AsyncIterator[Event]:
    """The answer's events. ``Done`` gains the citations, the sources, the model and (in a stored
    conversation) the ids; the answer is stored as it happens and when it ends, however it ends."""
    if plan.chat is not None:
        source = loop.run(services, plan.chat)
    else:
        source = fallback.answer(services.indexes, plan.repo_path, plan.question, plan.reason)
    answer = Answer()
    turn = plan.turn
    ended = False
    stop_saving = asyncio.Event()
    saver = asyncio.ensure_future(turn.keep_saving(answer, plan.model, stop_saving)) if turn is not None else None
    try:
        async for event in source:
            answer.note(event)
            if isinstance(event, Done):
                ended = True
                stop_saving.set()
                if plan.model:
                    timings = answer.timings()
                    metrics.answered(
                        plan.model,
                        timings.first_content_ms,
                        timings.total_ms,
                        event.usage.prompt_tokens,
                        event.usage.completion_tokens,
                    )
                citations = find_citations(answer.text, services.indexes, plan.repo_path)
                commits = await workers.run_in(
                    workers.QUICK, find_commits, answer.text, services.histories, services.roots, plan.repo_path
                )
                sources = sources_of(answer.trace)
                extra = {
                    "model": plan.model,
                    "citations": citations,
                    "commits": commits,
                    "sources": [msgspec.to_builtins(s) for s in sources],
                }
                if turn is not None:
                    fields = AnswerFields(
                        finish_reason=event.finish_reason,
                        usage=msgspec.convert(event.usage.to_dict(), Usage),
                        model=plan.model,
                        citations=[msgspec.convert(c, Citation) for c in citations],
                        commits=[msgspec.convert(c, CommitCitation) for c in commits],
                        sources=sources,
                    )
                    if event.rounds_exhausted:
                        fields.rounds_exhausted = True
                    if event.extra.get("from_search"):
                        fields.from_search = True
                    if await turn.save(answer, fields, streaming=False) is not None:
                        extra.update(
                            conversation_id=turn.conversation_id,
                            user_message_id=turn.user_message_id,
                            message_id=turn.answer_id,
                        )
                        await turn.announce(services.conversation_event)
                event = Done(event.finish_reason, event.usage, event.rounds_exhausted, {**event.extra, **extra})
            elif isinstance(event, Failed):
                ended = True
                stop_saving.set()
                if turn is not None:
                    fields = AnswerFields(
                        finish_reason="error", model=plan.model, error=ErrorInfo(event.code, event.message)
                    )
                    await turn.save(answer, fields, streaming=False)
            elif turn is not None and isinstance(event, ToolFinished):  # each finished call is kept at once
                await turn.save(answer, AnswerFields(model=plan.model), streaming=True)
            yield event
    finally:
        stop_saving.set()
        if saver is not None:  # a save it began ends first (the answer is made once)
            with anyio.CancelScope(shield=True):
                await asyncio.wait({saver})
        if turn is not None:
            if not ended:
                await turn.save(answer, AnswerFields(finish_reason="cancelled", model=plan.model), streaming=False)
            turn.release()


async def logged(
    events: AsyncIterator[Event], *, route: str, request_id: str, conversation: str | None, model: str | None
) -> AsyncIterator[Event]:
    """Pass the events through, then log one info line for the chat: its request id, route,
    conversation, model, rounds, tool calls, tokens, time to first token, duration and outcome."""
    started = time.monotonic()
    first: float | None = None
    rounds = calls = 0
    tokens = "-"
    outcome = "cancelled"  # unless it ends otherwise: the client left
    try:
        async for event in events:
            if isinstance(event, Status) and event.state == "waiting_for_model":
                rounds += 1
            elif isinstance(event, ContentDelta) and first is None:
                first = time.monotonic()
            elif isinstance(event, ToolFinished):
                calls += 1
            elif isinstance(event, Done):
                outcome = "rounds exhausted" if event.rounds_exhausted else event.finish_reason
                tokens = f"{event.usage.prompt_tokens}+{event.usage.completion_tokens}"
            elif isinstance(event, Failed):
                outcome = f"failed ({event.code})"
            yield event
    finally:
        log.info(
            "chat %s %s conversation=%s model=%s rounds=%d tool_calls=%d tokens=%s first_token=%s duration=%.1fs %s",
            request_id or "-",
            route,
            conversation or "-",
            model or "(search)",
            rounds,
            calls,
            tokens,
            "-" if first is None else f"{first - started:.1f}s",
            time.monotonic() - started,
            outcome,
        )
