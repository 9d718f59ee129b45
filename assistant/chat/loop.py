"""The tool loop, knowing no HTTP: messages in, an async stream of events out.

``run`` takes a validated chat (``ChatInput``, its model resolved) and what it works with
(``ChatServices``), and yields events (``events``); ``api/sse.py`` turns them into SSE frames
and the non-streaming handlers fold them into one result. What the model is told (the system
prompt, the variant, the model) is ``prompting``'s.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any, Protocol

from assistant import workers
from assistant.backends import ChatRequest, ModelBackend, ModelInfo, ToolCallRequest
from assistant.errors import BackendError, timestamp
from assistant.history import HistoryManager
from assistant.index import IndexManager
from assistant.tools import DEFAULT_BUDGET, TOOLS, ToolContext, invoke, tools_for
from assistant.types import FinishReason, Message
from sandbox import Roots

from . import context as code_context
from . import fallback
from .events import ContentDelta, ContextGiven, Done, Event, Failed, Status, ToolFinished, ToolStarted, Usage
from .prompting import choose_variant, system_prompt
from .textcalls import HoldBack, parse_text_calls

DEFAULT_TEMPERATURE = 0.7
DEFAULT_MAX_TOKENS = 2048


class ChatServices(Protocol):
    """What a chat works with: the sandbox's roots, the indexes, the model server and the tools."""

    roots: Roots
    indexes: IndexManager
    backend: ModelBackend
    histories: HistoryManager

    def tool_context(self, repo_path: str | None, read_files: set[str] | None = None) -> ToolContext: ...

    def conversation_event(self, kind: str, cid: str, title: str | None) -> None: ...


# -- the tool loop ---------------------------------------------------------------------------

CONTEXT_STEPS = (8192, 16384, 32768, 65536, 131072)
TOOL_RESERVE_TOKENS = 4096  # room for tool results, so num_ctx need not change between rounds
CHARS_PER_TOKEN = 4
MANUAL_TRIGGERS = re.compile(r"\b(read_file|search_files|list_files|use tools?)\b", re.IGNORECASE)
_READ_HEADER = re.compile(r"^(\S+) \([\d,]+\+? lines")
MAX_CALLS_PER_ROUND = 16  # a model asking for hundreds of calls at once gets the first ones run
MAX_FAILING_CALLS = 3  # failed or repeated calls in a row: the model is stuck, so it answers now


@dataclass
class ChatInput:
    """A validated chat request (the API layer checked every field)."""

    messages: list[Message]
    model: ModelInfo  # resolved: its name, context length and whether it takes native tools
    repo_path: str
    max_rounds: int
    map_tokens: int = 1024  # the repository map's share of the system prompt (0: no map)
    context_tokens: int = 0  # ranked code given with the question before the first round (0: none)
    temperature: float = DEFAULT_TEMPERATURE
    max_tokens: int = DEFAULT_MAX_TOKENS
    tool_mode: str = "auto"
    seed: int | None = None


def tools_offered(tool_mode: str, messages: list[Message]) -> bool:
    """Auto mode always offers tools; manual mode when the last user message asks for them."""
    if tool_mode != "manual":
        return True
    last_user = next((m for m in reversed(messages) if m.get("role") == "user"), None)
    return bool(last_user and MANUAL_TRIGGERS.search(str(last_user.get("content") or "")))


def estimate_tokens(messages: list[Message], tools: list[dict[str, Any]] | None) -> int:
    chars = sum(len(str(m.get("content") or "")) + 16 for m in messages)
    if tools:
        chars += len(json.dumps(tools))
    return chars // CHARS_PER_TOKEN + 1


def choose_num_ctx(needed: int, context_length: int | None, floor: int = 0) -> int:
    """The smallest step covering ``needed`` tokens, capped at the model's context length and
    never below ``floor`` (an earlier round's value: a change makes Ollama reload the model)."""
    step = next((s for s in CONTEXT_STEPS if s >= needed), CONTEXT_STEPS[-1])
    if context_length:
        step = min(step, context_length)
    return max(step, floor)


def _previously_read(messages: list[Message]) -> set[str]:
    found = set()
    for message in messages:
        if message.get("role") == "tool":
            match = _READ_HEADER.match(str(message.get("content") or ""))
            if match:
                found.add(match.group(1))
    return found


def _call_key(call: ToolCallRequest) -> str:
    return call.name + json.dumps(call.arguments, sort_keys=True)


class _Round:
    """What one model round produced."""

    def __init__(self) -> None:
        self.content = ""
        self.shown = ""
        self.calls: list[ToolCallRequest] = []
        self.finish_reason: FinishReason = "stop"


async def run(services: ChatServices, chat: ChatInput) -> AsyncIterator[Event]:
    """The tool loop: model round, every tool call it asked for, results back, next round;
    at most ``max_rounds`` rounds with tools, then one more without them (no instruction is
    added for it: small models repeat one in their answer). The final round comes early when
    the model is stuck (``MAX_FAILING_CALLS`` failed or repeated calls in a row), and once when
    a round that offered tools came back empty. Yields events; closing the iterator closes the
    model request."""
    offered = tools_offered(chat.tool_mode, chat.messages)
    with services.roots.open_repo(chat.repo_path) as repo:
        variant = choose_variant(chat.tool_mode, chat.model.native_tools)
        question = next((str(m.get("content") or "") for m in reversed(chat.messages) if m.get("role") == "user"), "")
        # the map for this question can take a tenth of a second on a large repository: not on
        # the event loop, where every other stream would wait for it
        prompt = await workers.run_in(
            workers.QUICK,
            system_prompt,
            repo,
            services.indexes,
            variant,
            question,
            chat.map_tokens,
            services.histories,
        )
        # the code for the question, in front of it: the parts the conversation holds already
        # are not given again
        budget = code_context.budget(chat.context_tokens, chat.model.context_length)
        given = code_context.Context([], 0)
        if budget > 0:
            held = code_context.given_in(chat.messages)
            given = await workers.run_in(
                workers.QUICK, code_context.gather, services.indexes, repo, question, budget, held
            )
    context = services.tool_context(chat.repo_path, _previously_read(chat.messages))
    offered_tools = await workers.run_in(workers.QUICK, tools_for, context)
    schemas = [tool.openai_schema(context.several) for tool in offered_tools]
    messages: list[Message] = [{"role": "system", "content": prompt}, *chat.messages]
    if given.parts:
        last = max(i for i, m in enumerate(messages) if m.get("role") == "user")
        messages[last] = {**messages[last], "content": code_context.with_context(question, given)}
        yield ContextGiven([p.shown() for p in given.parts], given.tokens, given.block)
    native = schemas if offered and chat.model.native_tools else None
    num_ctx = choose_num_ctx(
        estimate_tokens(messages, native) + chat.max_tokens + (TOOL_RESERVE_TOKENS if offered else 0),
        chat.model.context_length,
    )
    usage = Usage()
    answered: dict[str, ToolFinished] = {}
    rounds = 0
    final = not offered  # the round without tools: the answer, whatever the model does
    exhausted = False  # the model was stopped (rounds used up, or stuck) rather than done
    failing = 0  # consecutive calls that failed or repeated an earlier one
    try:
        while True:
            with_tools = not final
            needed = estimate_tokens(messages, native if with_tools else None) + chat.max_tokens
            num_ctx = choose_num_ctx(needed, chat.model.context_length, num_ctx)
            request = ChatRequest(
                model=chat.model.name,
                messages=messages,
                tools=native if with_tools else None,
                temperature=chat.temperature,
                max_tokens=chat.max_tokens,
                num_ctx=num_ctx,
                seed=chat.seed,
            )
            result = _Round()
            yield Status("waiting_for_model", rounds + 1, timestamp())
            async for event in _model_round(services.backend, request, result, usage, with_tools, rounds + 1):
                yield event
            if final and result.calls:
                # the last round offered no tools, and the model still only asked for them (small
                # models do): it gave no answer. The question's search results stand in for one.
                reason = "The model gave no answer: it asked for more tool calls after its last round."
                text = await workers.run_in(
                    workers.QUICK, fallback.render, services.indexes, chat.repo_path, question, reason
                )
                yield ContentDelta(text)
                yield Done(result.finish_reason, usage, rounds_exhausted=exhausted, extra={"from_search": True})
                return
            if not result.calls and with_tools and not result.content.strip():
                # "no answer yet": llama.cpp's function-calling grammar forces an empty turn on a
                # model that would answer directly. Ask once more, without tools.
                final = True
                continue
            if not result.calls or final:
                yield Done(result.finish_reason, usage, rounds_exhausted=exhausted)
                return
            skipped = len(result.calls) - MAX_CALLS_PER_ROUND
            del result.calls[MAX_CALLS_PER_ROUND:]
            messages.append(_assistant_message(result, native is not None))
            remaining_tokens = num_ctx - estimate_tokens(messages, native) - chat.max_tokens
            budget = max(1024, min(DEFAULT_BUDGET, remaining_tokens * CHARS_PER_TOKEN // max(1, len(result.calls))))
            for number, call in enumerate(result.calls, 1):
                yield Status("running_tool", rounds + 1, timestamp(), tool=call.name)
                async for event in _run_call(context, call, budget, answered):
                    yield event
                    if isinstance(event, ToolFinished):
                        failing = failing + 1 if event.status == "failed" or event.repeated else 0
                        content = event.content
                        if skipped > 0 and number == len(result.calls):
                            content += (
                                f"\n[You asked for {skipped + MAX_CALLS_PER_ROUND} tool calls at once; only the first "
                                f"{MAX_CALLS_PER_ROUND} were run. Ask for fewer per round.]"
                            )
                        messages.append(_result_message(call, content, native is not None))
            rounds += 1
            if rounds >= chat.max_rounds or failing >= MAX_FAILING_CALLS:
                final = exhausted = True
    except BackendError as exc:
        yield Failed(exc.code, exc.message)


async def _model_round(
    backend: ModelBackend, request: ChatRequest, result: _Round, usage: Usage, with_tools: bool, number: int
) -> AsyncIterator[Event]:
    """One round, its content streamed as it comes; content that may be tool calls written as
    text is held back to the end of the round. In the round without tools too: what is only
    tool calls is then no answer (``result.calls`` says so, and nothing of it is shown)."""
    schemas = {name: tool.schema for name, tool in TOOLS.items()}
    hold = HoldBack(active=True)
    stream = backend.answer(request)
    writing = False
    try:
        async for chunk in stream:
            if chunk.tool_calls:
                result.calls.extend(chunk.tool_calls)
            if chunk.content:
                result.content += chunk.content
                shown = hold.feed(chunk.content)
                if shown:
                    if not writing:
                        writing = True
                        yield Status("writing", number, timestamp())
                    result.shown += shown
                    yield ContentDelta(shown)
            if chunk.done:
                result.finish_reason = "length" if chunk.finish_reason == "length" else "stop"
                usage.prompt_tokens += chunk.prompt_tokens or 0
                usage.completion_tokens += chunk.completion_tokens or 0
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
    held = hold.finish()
    if held:
        written = parse_text_calls(held, schemas) if not result.calls else None
        if written:
            result.calls.extend(written)
        elif not result.calls:
            if not writing:
                yield Status("writing", number, timestamp())
            result.shown += held
            yield ContentDelta(held)


def _assistant_message(result: _Round, native: bool) -> Message:
    message: Message = {"role": "assistant", "content": result.shown if native else result.content}
    if native:
        message["tool_calls"] = [{"function": {"name": c.name, "arguments": c.arguments}} for c in result.calls]
    return message


def _result_message(call: ToolCallRequest, content: str, native: bool) -> Message:
    if native:
        return {"role": "tool", "content": content, "tool_name": call.name}
    # models without tool support do not know the "tool" role: the result comes as a user turn
    args = json.dumps(call.arguments, ensure_ascii=False)
    return {"role": "user", "content": f"Result of {call.name}({args}):\n{content}"}


async def _run_call(
    context: ToolContext, call: ToolCallRequest, budget: int, answered: dict[str, ToolFinished]
) -> AsyncIterator[Event]:
    call_id = "tc_" + secrets.token_hex(8)
    yield ToolStarted(call_id, call.name, call.arguments, timestamp())
    key = _call_key(call)
    first = answered.get(key)
    if first is not None:
        note = f"\n[This is the same call as before ({first.id}); the result above is repeated from it, not run again.]"
        again = replace(
            first.result, duration_ms=0, summary=f"repeated call: {first.summary}", content=first.content + note
        )
        yield ToolFinished(call_id, again, timestamp(), repeated=True)
        return
    result = await invoke(context, call.name, call.arguments, budget)
    finished = ToolFinished(call_id, result, timestamp())
    answered[key] = finished
    yield finished
