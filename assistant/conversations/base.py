"""The conversation store's interface, and the rules every implementation shares.

A conversation holds messages as a tree (each has its parent), so editing a question or asking
again makes a branch; the conversation remembers which leaf is shown (``active_id``). Every
operation is bounded by what it is given: a page by its limit, a branch by its depth, a search
by ``MAX_QUERY_WORDS`` words of ``MAX_QUERY_BYTES``, an import by ``MAX_IMPORT_MESSAGES``; none
reads the whole conversation unless it is asked for the whole conversation (export, delete).

Nothing here knows HTTP: a bad id or argument raises ``StoreError`` with the error code and the
parameter the API names; a store that cannot be used raises ``StoreUnavailable`` with the reason.
"""

from __future__ import annotations

import abc
import base64
import contextlib
import secrets
import threading
from collections.abc import Iterator

import msgspec

from assistant.errors import StoreError

from .documents import (
    MAX_TITLE,
    AnswerFields,
    Conversation,
    Export,
    ImportedMessage,
    Message,
    NewMessage,
    Page,
    Summary,
    UsageRow,
)

TITLE_FROM_QUESTION = 80
UNTITLED = "New conversation"
PAGE = 50
MAX_PAGE = 200
MAX_QUERY_WORDS = 32
MAX_QUERY_BYTES = 1024
EXPORT_FORMAT = "repo-assistant.conversation"


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


def title_from(question: str) -> str:
    line = next((ln.strip() for ln in question.splitlines() if ln.strip()), "") or UNTITLED
    return line if len(line) <= TITLE_FROM_QUESTION else line[: TITLE_FROM_QUESTION - 1].rstrip() + "…"


def check_title(title: str, param: str = "title") -> str:
    if not title.strip():
        raise StoreError("invalid_parameter", "`title` must be a non-empty string", param=param)
    if len(title) > MAX_TITLE:
        raise StoreError("invalid_parameter", f"`title` is longer than {MAX_TITLE} characters", param=param)
    return title.strip()


def search_words(q: str | None) -> list[str]:
    """The words of a conversation search (each matched as a prefix, all required), bounded."""
    if q is None:
        return []
    if len(q.encode("utf-8", "surrogatepass")) > MAX_QUERY_BYTES:
        raise StoreError("invalid_parameter", f"`q` is longer than {MAX_QUERY_BYTES} bytes", param="q")
    words = q.split()
    if len(words) > MAX_QUERY_WORDS:
        raise StoreError("invalid_parameter", f"`q` has more than {MAX_QUERY_WORDS} words", param="q")
    return words


def encode_cursor(updated_at: float, cid: str) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode([updated_at, cid])).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor.encode("ascii") + b"=" * (-len(cursor) % 4))
        updated_at, cid = msgspec.json.decode(raw, type=tuple[float, str])
    except (ValueError, msgspec.DecodeError, msgspec.ValidationError):  # UnicodeError is a ValueError
        raise StoreError("invalid_parameter", "`cursor` is not one this server gave", param="cursor") from None
    return updated_at, cid


def _shown(value: str) -> str:
    return repr(value if len(value) <= 80 else value[:80] + "…")


def not_found(cid: str) -> StoreError:
    return StoreError("conversation_not_found", f"no conversation {_shown(cid)}", param="id")


def not_a_message_of(cid: str, mid: str, param: str) -> StoreError:
    return StoreError(
        "invalid_parameter", f"message {_shown(mid)} is not a message of conversation {_shown(cid)}", param=param
    )


class ConversationStore(abc.ABC):
    """Where conversations are kept. Thread-safe; every method is one transaction."""

    failure: str | None = None  # why the last operation could not use the store (None: it could)

    @abc.abstractmethod
    def create(self, title: str | None, repo: str | None, model: str | None) -> Conversation:
        """A new, empty conversation (``title`` None: untitled until its first question)."""

    @abc.abstractmethod
    def count(self) -> int:
        """How many conversations are stored."""

    @abc.abstractmethod
    def usage_rows(self, since: float, until: float) -> list[UsageRow]:
        """Every stored answer made between ``since`` and ``until``: when, by which model, its
        tokens, tool calls and time to first token (what ``/usage`` sums)."""

    @abc.abstractmethod
    def page(self, words: list[str], repo: str | None, limit: int, cursor: str | None) -> Page:
        """Conversations newest update first (only ``repo``'s when given; only those whose
        title or one message has every word as a prefix of its words), and the next cursor."""

    @abc.abstractmethod
    def summary(self, cid: str) -> Summary:
        """A conversation without its messages."""

    @abc.abstractmethod
    def get(self, cid: str) -> Conversation:
        """A conversation with its shown branch."""

    @abc.abstractmethod
    def update(self, cid: str, title: str | None = None, active_id: str | None = None) -> Conversation:
        """Rename, or show another branch: ``active_id`` is any message of the conversation; its
        newest continuation (the newest child at each step) becomes the leaf shown."""

    @abc.abstractmethod
    def delete(self, cid: str) -> None:
        """Delete a conversation and every message of it."""

    @abc.abstractmethod
    def add(self, cid: str, message: NewMessage, *, param: str = "parent_id", title_from_question: bool = True) -> str:
        """Store a message under its parent and show it; its id. The first question of an
        untitled conversation names it (unless ``title_from_question`` is false)."""

    @abc.abstractmethod
    def set_answer(self, cid: str, mid: str, content: str, fields: AnswerFields, *, streaming: bool) -> None:
        """Replace an answer's text and fields (its progress while it streams, then its end)."""

    @abc.abstractmethod
    def path_to(self, cid: str, mid: str | None) -> list[Message]:
        """The messages from the root to ``mid`` (the history a new turn under it sees)."""

    @abc.abstractmethod
    def role_of(self, cid: str, mid: str, param: str = "parent_id") -> str:
        """The role of a message of the conversation (``param`` names it when it is not one)."""

    @abc.abstractmethod
    def active(self, cid: str) -> str | None:
        """The leaf shown, ``None`` for an empty conversation."""

    @abc.abstractmethod
    def fork(self, cid: str, mid: str) -> Conversation:
        """A new conversation holding the branch from the root to ``mid``."""

    @abc.abstractmethod
    def export(self, cid: str) -> Export:
        """Every message of every branch, parents first."""

    @abc.abstractmethod
    def import_(
        self,
        title: str,
        repo: str | None,
        model: str | None,
        messages: list[ImportedMessage],
        active_id: str | None,
    ) -> Conversation:
        """A new conversation from an export's messages (checked by ``check_import``), new ids
        throughout, the same branch shown."""

    @abc.abstractmethod
    def end_unfinished(self) -> int:
        """Mark every answer still streaming as ``interrupted`` (the process that was writing it
        is gone); how many there were. Called when the store is opened by a server."""

    def check(self) -> str:
        """``ok``, or what is wrong with the store."""
        return "ok"

    def probe(self) -> None:  # noqa: B027 - a store that cannot fail has nothing to probe
        """Write nothing of consequence, to learn whether writes succeed again."""

    @contextlib.contextmanager
    def cancelled_by(self, cancel: threading.Event) -> Iterator[None]:
        """Within the block, this thread's work stops (``StoreInterrupted``) once ``cancel`` is
        set: its client went away. In memory every operation is too short to need it."""
        yield

    def close(self) -> None:  # noqa: B027 - in memory, nothing to release
        """Release what the store holds."""
