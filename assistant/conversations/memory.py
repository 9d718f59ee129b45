"""The conversation store in memory: the same contract as the SQLite store (one test suite runs
over both), kept for as long as the process runs. Used by tests, and by a server whose database
cannot be opened, so the web UI keeps working the same way."""

from __future__ import annotations

import itertools
import re
import threading
import time
import unicodedata
from dataclasses import dataclass

from assistant.errors import timestamp

from .base import (
    EXPORT_FORMAT,
    UNTITLED,
    ConversationStore,
    check_title,
    decode_cursor,
    encode_cursor,
    new_id,
    not_a_message_of,
    not_found,
    title_from,
)
from .documents import (
    MAX_TITLE,
    AnswerFields,
    Conversation,
    Export,
    ExportedMessage,
    ImportedMessage,
    Message,
    NewMessage,
    Page,
    Summary,
    UsageRow,
    field_values,
    fields_of,
    usage_row,
    with_messages,
)

_WORD = re.compile(r"\w+")


def _words(text: str) -> list[str]:
    """Words as FTS5's default tokenizer sees them: case folded, diacritics removed."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(c))
    return _WORD.findall(plain)


def _matches(words: list[str], query: list[list[str]]) -> bool:
    """Every query word (a phrase whose last word is a prefix) is found in ``words``."""

    def found(phrase: list[str]) -> bool:
        if not phrase:
            return True
        *whole, last = phrase
        for start in range(len(words) - len(phrase) + 1):
            if words[start : start + len(whole)] == whole and words[start + len(whole)].startswith(last):
                return True
        return False

    return all(found(phrase) for phrase in query)


@dataclass
class _Row:
    id: str
    conversation: str
    parent: str | None
    role: str
    content: str
    created: float
    fields: AnswerFields
    streaming: bool


@dataclass
class _Conversation:
    id: str
    title: str
    repo: str | None
    model: str | None
    created: float
    updated: float
    active: str | None
    messages: list[str]  # every message, in the order they were stored
    titled: bool = True  # a person chose the title (else it follows the first question)
    forked_from: str | None = None


class MemoryStore(ConversationStore):
    """Conversations in this process's memory (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._conversations: dict[str, _Conversation] = {}
        self._messages: dict[str, _Row] = {}
        self._children: dict[tuple[str, str | None], list[str]] = {}
        self._order = itertools.count()

    # -- reading -------------------------------------------------------------------------------

    def _get(self, cid: str) -> _Conversation:
        conversation = self._conversations.get(cid)
        if conversation is None:
            raise not_found(cid)
        return conversation

    def _owned(self, cid: str, mid: str, param: str) -> _Row:
        row = self._messages.get(mid)
        if row is None or row.conversation != cid:
            raise not_a_message_of(cid, mid, param)
        return row

    @staticmethod
    def _summary(c: _Conversation) -> Summary:
        return Summary(c.id, c.title, c.repo, c.model, timestamp(c.created), timestamp(c.updated), c.forked_from)

    def _lineage(self, leaf: str | None) -> list[_Row]:
        rows = []
        while leaf is not None:
            row = self._messages[leaf]
            rows.append(row)
            leaf = row.parent
        return rows[::-1]

    def _branch(self, cid: str, leaf: str | None) -> list[Message]:
        out = []
        for row in self._lineage(leaf):
            siblings = list(self._children[(cid, row.parent)])
            out.append(
                Message(
                    id=row.id,
                    parent_id=row.parent,
                    role=row.role,  # type: ignore[arg-type]
                    content=row.content,
                    created_at=timestamp(row.created),
                    sibling_count=len(siblings),
                    sibling_index=siblings.index(row.id),
                    sibling_ids=siblings,
                    **field_values(row.fields),
                )
            )
        return out

    def _conversation(self, cid: str) -> Conversation:
        c = self._get(cid)
        s = self._summary(c)
        return with_messages(s, c.active, self._branch(cid, c.active))

    def _newest_leaf(self, cid: str, mid: str) -> str:
        while self._children.get((cid, mid)):
            mid = self._children[(cid, mid)][-1]
        return mid

    # -- writing -------------------------------------------------------------------------------

    def _touch(self, c: _Conversation) -> None:
        # strictly increasing, as SQLite's REAL times effectively are between two writes
        c.updated = max(time.time(), c.updated + 1e-6)

    def _insert_conversation(
        self, title: str, repo: str | None, model: str | None, *, titled: bool = True
    ) -> _Conversation:
        now = time.time()
        c = _Conversation(new_id("c"), title, repo, model, now, now, None, [], titled)
        self._conversations[c.id] = c
        return c

    def _insert_message(self, c: _Conversation, mid: str, message: NewMessage) -> None:
        self._messages[mid] = _Row(
            mid,
            c.id,
            message.parent_id,
            message.role,
            message.content,
            time.time(),
            fields_of(message.fields),
            message.streaming,
        )
        self._children.setdefault((c.id, message.parent_id), []).append(mid)
        c.messages.append(mid)

    # -- conversations ---------------------------------------------------------------------------

    def create(self, title: str | None, repo: str | None, model: str | None) -> Conversation:
        name = check_title(title) if title is not None else UNTITLED
        with self._lock:
            return self._conversation(self._insert_conversation(name, repo, model, titled=title is not None).id)

    def page(self, words: list[str], repo: str | None, limit: int, cursor: str | None) -> Page:
        query = [_words(w) for w in words]
        after = decode_cursor(cursor) if cursor else None
        with self._lock:
            chosen = []
            for c in sorted(self._conversations.values(), key=lambda c: (c.updated, c.id), reverse=True):
                if repo and c.repo != repo:
                    continue
                if after is not None and (c.updated, c.id) >= after:
                    continue
                if query and not (
                    _matches(_words(c.title), query)
                    or any(_matches(_words(self._messages[m].content), query) for m in c.messages)
                ):
                    continue
                chosen.append(c)
                if len(chosen) > limit:
                    break
        more = encode_cursor(chosen[limit - 1].updated, chosen[limit - 1].id) if len(chosen) > limit else None
        return Page([self._summary(c) for c in chosen[:limit]], more)

    def count(self) -> int:
        with self._lock:
            return len(self._conversations)

    def usage_rows(self, since: float, until: float) -> list[UsageRow]:
        with self._lock:
            rows = [m for m in self._messages.values() if m.role == "assistant" and since <= m.created < until]
        return [usage_row(m.created, m.fields, m.conversation, m.id) for m in sorted(rows, key=lambda m: m.created)]

    def summary(self, cid: str) -> Summary:
        with self._lock:
            return self._summary(self._get(cid))

    def get(self, cid: str) -> Conversation:
        with self._lock:
            return self._conversation(cid)

    def update(self, cid: str, title: str | None = None, active_id: str | None = None) -> Conversation:
        with self._lock:
            c = self._get(cid)
            name = check_title(title) if title is not None else None
            if active_id is not None:
                self._owned(cid, active_id, "active_id")
                c.active = self._newest_leaf(cid, active_id)
            if name is not None:
                c.title, c.titled = name, True
                self._touch(c)
            return self._conversation(cid)

    def delete(self, cid: str) -> None:
        with self._lock:
            c = self._get(cid)
            for mid in c.messages:
                row = self._messages.pop(mid)
                self._children.pop((cid, row.parent), None)
            del self._conversations[cid]

    # -- messages --------------------------------------------------------------------------------

    def add(self, cid: str, message: NewMessage, *, param: str = "parent_id", title_from_question: bool = True) -> str:
        with self._lock:
            c = self._get(cid)
            if message.parent_id is not None:
                self._owned(cid, message.parent_id, param)
            mid = new_id("m")
            self._insert_message(c, mid, message)
            c.active = mid
            self._touch(c)
            if title_from_question and message.role == "user" and message.parent_id is None and not c.titled:
                c.title = title_from(message.content)  # a first question, or its edit
            return mid

    def set_answer(self, cid: str, mid: str, content: str, fields: AnswerFields, *, streaming: bool) -> None:
        with self._lock:
            self._get(cid)
            row = self._owned(cid, mid, "message_id")
            if row.role != "assistant":
                raise not_a_message_of(cid, mid, "message_id")
            row.content, row.fields, row.streaming = content, fields_of(fields), streaming

    def path_to(self, cid: str, mid: str | None) -> list[Message]:
        with self._lock:
            self._get(cid)
            return self._branch(cid, mid)

    def role_of(self, cid: str, mid: str, param: str = "parent_id") -> str:
        with self._lock:
            return self._owned(cid, mid, param).role

    def active(self, cid: str) -> str | None:
        with self._lock:
            return self._get(cid).active

    def end_unfinished(self) -> int:
        with self._lock:
            unfinished = [row for row in self._messages.values() if row.streaming]
            for row in unfinished:
                row.streaming = False
                row.fields.finish_reason = "interrupted"
            return len(unfinished)

    # -- fork, export, import ---------------------------------------------------------------------

    def _copy(
        self,
        title: str,
        repo: str | None,
        model: str | None,
        messages: list[tuple[str, str | None, NewMessage]],
        shown: str | None,
    ) -> str:
        c = self._insert_conversation(title, repo, model)
        new_ids: dict[str, str] = {}
        for old_id, old_parent, message in messages:
            message.parent_id = new_ids[old_parent] if old_parent is not None else None
            new_ids[old_id] = new_id("m")
            self._insert_message(c, new_ids[old_id], message)
        if shown in new_ids:
            c.active = self._newest_leaf(c.id, new_ids[shown])
        elif messages:
            c.active = new_ids[messages[-1][0]]
        return c.id

    def fork(self, cid: str, mid: str) -> Conversation:
        with self._lock:
            c = self._get(cid)
            self._owned(cid, mid, "message_id")
            copied = [
                (r.id, r.parent, NewMessage(role=r.role, content=r.content, fields=fields_of(r.fields)))  # type: ignore[arg-type]
                for r in self._lineage(mid)
            ]
            made = self._copy(f"{c.title} (fork)"[:MAX_TITLE], c.repo, c.model, copied, None)
            self._conversations[made].forked_from = cid
            return self._conversation(made)

    def export(self, cid: str) -> Export:
        with self._lock:
            c = self._get(cid)
            s = self._summary(c)
            messages = [
                ExportedMessage(
                    id=r.id,
                    parent_id=r.parent,
                    role=r.role,  # type: ignore[arg-type]
                    content=r.content,
                    created_at=timestamp(r.created),
                    **field_values(r.fields),
                )
                for r in (self._messages[m] for m in c.messages)
            ]
            return Export(
                EXPORT_FORMAT, 1, s.id, s.title, s.repo, s.model, s.created_at, s.updated_at, c.active, messages
            )

    def import_(
        self,
        title: str,
        repo: str | None,
        model: str | None,
        messages: list[ImportedMessage],
        active_id: str | None,
    ) -> Conversation:
        copied = [
            (m.id, m.parent_id, NewMessage(role=m.role, content=m.content, fields=fields_of(m))) for m in messages
        ]
        with self._lock:
            return self._conversation(self._copy(check_title(title), repo, model, copied, active_id))
