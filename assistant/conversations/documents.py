"""What a conversation is made of, as typed shapes: the stored answer's fields, the messages and
conversations the API returns, the export document, the import it is read back from, and the
Markdown export.

An import is decoded into these types (msgspec) with the same limits as a live turn, so a
document that would not have come from this server (a string where the citations go, a trace
of a thousand entries, a model name of a megabyte) is a 400 naming the field, not a page that
breaks on every reload.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from assistant.errors import StoreError

MAX_TITLE = 200
MAX_MODEL = 256
MAX_CONTENT = 1 << 20  # characters of one message: an answer round is capped at this too
MAX_TRACE = 512  # tool calls of one answer: 8 rounds of 16 calls, twice over, and room
MAX_RESULT = 8192  # a tool result as the stream showed it (cut at 8 KB)
MAX_CONTEXT_TEXT = 4 * 32768 + 4096  # the code given before the first round, at its largest budget
MAX_CITATIONS = 200
MAX_IMPORT_MESSAGES = 2000
MAX_IMPORT_BYTES = 8 << 20
MAX_ID = 128

Title = Annotated[str, Meta(min_length=1, max_length=MAX_TITLE)]
ModelName = Annotated[str, Meta(min_length=1, max_length=MAX_MODEL)]
Text = Annotated[str, Meta(max_length=MAX_CONTENT)]
Id = Annotated[str, Meta(min_length=1, max_length=MAX_ID)]
Count = Annotated[int, Meta(ge=0)]
Finish = Literal["stop", "length", "cancelled", "error", "interrupted"]


class ShownResult(Struct):
    """A tool's result as the model received it (cut at 8 KB in the stored trace)."""

    content: Annotated[str, Meta(max_length=MAX_RESULT)]
    truncated: bool


class ErrorInfo(Struct):
    code: Annotated[str, Meta(max_length=64)]
    message: Annotated[str, Meta(max_length=4096)]


class Source(Struct):
    """A file and the lines a ``read_file`` call read for an answer."""

    path: str
    line: int
    end_line: int
    label: str


class TraceEntry(Struct, kw_only=True, omit_defaults=True):
    """One tool call of an answer, as the trace panel shows it (an answer stored before this
    server kept one entry a call may hold a ``started`` entry before each)."""

    type: Literal["tool_call"] = "tool_call"
    id: Id
    name: Annotated[str, Meta(max_length=MAX_ID)]
    status: Literal["started", "completed", "failed"]
    arguments: dict[str, Any] = {}
    timestamp: Annotated[str, Meta(max_length=64)] | None = None
    duration_ms: Count | None = None
    summary: Annotated[str, Meta(max_length=4096)] | None = None
    result: ShownResult | None = None
    error: ErrorInfo | None = None
    source: Source | None = None  # the lines a completed read_file read


class Usage(Struct):
    prompt_tokens: Count
    completion_tokens: Count
    total_tokens: Count


class Timings(Struct, omit_defaults=True):
    total_ms: Count
    first_content_ms: Count | None = None


class UsageRow(Struct, kw_only=True):
    """One stored answer as ``/usage`` counts it."""

    at: float
    model: str | None
    tokens_in: int
    tokens_out: int
    tool_calls: int
    first_token_ms: int | None
    total_ms: int | None
    conversation_id: str
    message_id: str


def usage_row(at: float, fields: AnswerFields, cid: str, mid: str) -> UsageRow:
    usage = fields.usage if isinstance(fields.usage, Usage) else None
    timings = fields.timings if isinstance(fields.timings, Timings) else None
    trace = fields.tool_events if isinstance(fields.tool_events, list) else []
    model = fields.model if isinstance(fields.model, str) else None
    return UsageRow(
        at=at,
        model=model,
        tokens_in=usage.prompt_tokens if usage else 0,
        tokens_out=usage.completion_tokens if usage else 0,
        tool_calls=len(trace),
        first_token_ms=timings.first_content_ms if timings else None,
        total_ms=timings.total_ms if timings else None,
        conversation_id=cid,
        message_id=mid,
    )


class Citation(Struct):
    """``path:line`` (or ``path:line-line``) in an answer, verified against the repository."""

    ref: str
    path: str
    line: int
    end_line: int
    verified: bool


class CommitCitation(Struct):
    """A commit id in an answer (``ref`` as written), verified: a commit a branch or tag reaches."""

    ref: Annotated[str, Meta(min_length=4, max_length=40)]
    id: Annotated[str, Meta(min_length=40, max_length=64)]
    subject: Annotated[str, Meta(max_length=200)]


class ContextPart(Struct, omit_defaults=True):
    """A part of the code given with the question before the first round."""

    path: Annotated[str, Meta(max_length=4096)]
    start_line: Count
    end_line: Count
    symbol: Annotated[str, Meta(max_length=1024)] | None = None
    why: Annotated[str, Meta(max_length=4096)] = ""


class GivenContext(Struct, omit_defaults=True):
    """The code given with the question (``parts``), the tokens it took, and the block as the
    model read it (``text``: given again with this question when the conversation goes on)."""

    parts: Annotated[list[ContextPart], Meta(max_length=64)]
    tokens: Count
    text: Annotated[str, Meta(max_length=MAX_CONTEXT_TEXT)] = ""


class AnswerFields(Struct, kw_only=True, omit_defaults=True):
    """What an answer keeps beside its text (a question keeps none of it). ``UNSET`` fields are
    left out of every response; ``model`` is ``null`` for an answer made from search."""

    tool_events: Annotated[list[TraceEntry], Meta(max_length=MAX_TRACE)] | UnsetType = UNSET
    finish_reason: Finish | UnsetType | None = UNSET
    usage: Usage | UnsetType | None = UNSET
    model: ModelName | UnsetType | None = UNSET
    timings: Timings | UnsetType | None = UNSET
    citations: Annotated[list[Citation], Meta(max_length=MAX_CITATIONS)] | UnsetType = UNSET
    commits: Annotated[list[CommitCitation], Meta(max_length=MAX_CITATIONS)] | UnsetType = UNSET
    sources: Annotated[list[Source], Meta(max_length=MAX_TRACE)] | UnsetType = UNSET
    error: ErrorInfo | UnsetType | None = UNSET
    rounds_exhausted: bool | UnsetType = UNSET  # the model ran out of tool rounds
    from_search: bool | UnsetType = UNSET  # the answer is ranked search results, not a model's
    context: GivenContext | UnsetType = UNSET  # the code given with the question before the first round


FIELD_NAMES = AnswerFields.__struct_fields__


def field_values(fields: AnswerFields) -> dict[str, Any]:
    """The answer fields as keyword arguments (for a message shape that carries them)."""
    return {name: getattr(fields, name) for name in FIELD_NAMES}


def fields_of(message: AnswerFields) -> AnswerFields:
    """The answer fields of any message shape that carries them."""
    return AnswerFields(**field_values(message))


def encode_fields(fields: AnswerFields) -> bytes:
    return msgspec.json.encode(fields)


_fields_decoder = msgspec.json.Decoder(AnswerFields)


def decode_fields(raw: str | bytes | None) -> AnswerFields:
    """A row's stored answer fields. A row written before imports were typed may hold a field
    of the wrong type: that field is dropped, the rest kept (the page must not break)."""
    if not raw:
        return AnswerFields()
    try:
        return _fields_decoder.decode(raw)
    except msgspec.ValidationError:
        pass
    try:
        loose = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return AnswerFields()
    kept: dict[str, Any] = {}
    for name in FIELD_NAMES:
        if isinstance(loose, dict) and name in loose:
            try:
                kept[name] = getattr(msgspec.convert({name: loose[name]}, AnswerFields), name)
            except msgspec.ValidationError:
                continue
    return AnswerFields(**kept)


class Message(AnswerFields, kw_only=True, omit_defaults=True):
    """A message of a conversation's shown branch, with where it sits among its siblings."""

    id: str
    parent_id: str | None
    role: Literal["user", "assistant"]
    content: str
    created_at: str
    sibling_count: int
    sibling_index: int
    sibling_ids: list[str]


class ExportedMessage(AnswerFields, kw_only=True, omit_defaults=True):
    """A message of an export (every branch, parents first)."""

    id: str
    parent_id: str | None
    role: Literal["user", "assistant"]
    content: str
    created_at: str


class Summary(Struct):
    """A conversation as the list shows it (``forked_from``: the conversation it was forked from)."""

    id: str
    title: str
    repo: str | None
    model: str | None
    created_at: str
    updated_at: str
    forked_from: str | None


class Conversation(Struct):
    """A conversation with its shown branch, root first."""

    id: str
    title: str
    repo: str | None
    model: str | None
    created_at: str
    updated_at: str
    forked_from: str | None
    active_id: str | None
    messages: list[Message]


def with_messages(summary: Summary, active_id: str | None, messages: list[Message]) -> Conversation:
    s = summary
    return Conversation(s.id, s.title, s.repo, s.model, s.created_at, s.updated_at, s.forked_from, active_id, messages)


class Page(Struct):
    conversations: list[Summary]
    next_cursor: str | None


class Export(Struct):
    """Everything about a conversation, for ``format=json`` and for import."""

    format: str
    version: int
    id: str
    title: str
    repo: str | None
    model: str | None
    created_at: str
    updated_at: str
    active_id: str | None
    messages: list[ExportedMessage]


class ImportedMessage(AnswerFields, kw_only=True, omit_defaults=True):
    """A message of a document to import: the export's shape, checked like a live turn."""

    id: Id
    parent_id: Id | None = None
    role: Literal["user", "assistant"]
    content: Text
    created_at: Annotated[str, Meta(max_length=64)] | None = None


class NewMessage(Struct, kw_only=True):
    """A message to store under ``parent_id`` (``None``: a first question)."""

    role: Literal["user", "assistant"]
    content: str
    parent_id: str | None = None
    fields: AnswerFields = msgspec.field(default_factory=AnswerFields)
    streaming: bool = False


def check_import(messages: list[ImportedMessage]) -> None:
    """Each message's parent is listed before it, and no id is given twice."""
    known: set[str] = set()
    for index, message in enumerate(messages):
        if message.id in known:
            raise StoreError(
                "invalid_parameter", f"message id {message.id!r} is given twice", param=f"messages[{index}].id"
            )
        if message.parent_id is not None and message.parent_id not in known:
            raise StoreError(
                "invalid_parameter",
                "a message's parent must be listed before it (as an export lists them)",
                param=f"messages[{index}].parent_id",
            )
        known.add(message.id)


# -- Markdown ------------------------------------------------------------------------------------

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_BLOCK_START = re.compile(r"^( {0,3})(#{1,6}(?:\s|$)|=+\s*$|-+\s*$|>)")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")


def _escape_inline(text: str) -> str:
    """``<`` outside code spans as ``&lt;``: raw HTML in a message stays text."""
    out: list[str] = []
    last = 0
    for span in _CODE_SPAN.finditer(text):
        out.append(text[last : span.start()].replace("<", "&lt;"))
        out.append(span.group(0))
        last = span.end()
    out.append(text[last:].replace("<", "&lt;"))
    return "".join(out)


def escape_markdown(text: str) -> str:
    """A message's text made safe to place under a turn heading: outside fenced code, a line
    cannot start a heading (``## You``), a setext underline or a quote, and raw HTML is shown
    as text. Code blocks are left exactly as written."""
    lines: list[str] = []
    fence: str | None = None
    for line in text.split("\n"):
        opened = _FENCE.match(line)
        if fence is not None:
            lines.append(line)
            if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence):
                fence = None
            continue
        if opened:
            fence = opened.group(1)
            lines.append(line)
            continue
        line = _BLOCK_START.sub(lambda m: m.group(1) + "\\" + m.group(2), line)
        lines.append(_escape_inline(line))
    return "\n".join(lines)


def _one_line(text: str) -> str:
    return _escape_inline(" ".join(text.split()))


def markdown(conversation: Conversation) -> str:
    """A conversation's shown branch as Markdown; no message can forge a turn or carry HTML."""
    lines = [f"# {_one_line(conversation.title)}", ""]
    facts = [f for f in (conversation.repo, conversation.model, conversation.updated_at) if f]
    if facts:
        lines += ["_" + _one_line(" · ".join(facts)) + "_", ""]
    for message in conversation.messages:
        who = "You" if message.role == "user" else "Assistant"
        lines += [f"## {who}", ""]
        trace = message.tool_events if message.tool_events is not UNSET else []
        for event in trace:
            if event.status != "started":
                args = ", ".join(f"{k}={msgspec.json.encode(v).decode()}" for k, v in event.arguments.items())
                lines.append(_one_line(f"> {event.name}({args}) — {event.summary or event.status}"))
        if trace:
            lines.append("")
        lines += [escape_markdown(message.content.rstrip()), ""]
        sources = message.sources if message.sources is not UNSET else []
        if sources:
            lines += [_one_line("Sources: " + ", ".join(s.label for s in sources)), ""]
    return "\n".join(lines).rstrip() + "\n"
