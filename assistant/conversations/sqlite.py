"""The conversation store in one SQLite file (the standard library's ``sqlite3``, WAL) in the user
data directory, migrated forward on open (``schema``).

Each thread has its own connection (WAL lets readers run beside the one writer), every write is
one transaction taken for writing at once (``BEGIN IMMEDIATE``: two writers, two tabs or the CLI
beside the server, queue rather than lose a turn), and a process killed mid-answer loses at most
what it had not written yet. A thread's work stops at its next step once the request it serves
is cancelled (a progress handler). A failure of the file itself (a full disk, a damaged file)
makes ``failure`` say why until a write succeeds again; the file is never deleted or rewritten.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import platformdirs

from assistant.errors import AssistantError, StoreError, StoreInterrupted, StoreUnavailable

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
    decode_fields,
    encode_fields,
    field_values,
    fields_of,
    usage_row,
    with_messages,
)
from .schema import MIGRATIONS, VERSION

log = logging.getLogger("assistant.conversations")

# a time column (Unix seconds) as the API writes times: ISO 8601 UTC with milliseconds,
# formatted by SQLite itself (in Python it was most of the time a page of conversations took)
_ISO = "strftime('%Y-%m-%dT%H:%M:%fZ', {}, 'unixepoch')"
_SUMMARY = (
    f"c.id, c.title, c.repo, c.model, {_ISO.format('c.created_at')}, {_ISO.format('c.updated_at')}, c.forked_from"
)


class _Row(NamedTuple):
    """A conversation's row as ``_row`` reads it."""

    id: str
    title: str
    repo: str | None
    model: str | None
    created_at: str
    updated_at: str
    forked_from: str | None
    active_id: str | None
    titled: int
    rowid: int

    def summary(self) -> Summary:
        return Summary(self.id, self.title, self.repo, self.model, self.created_at, self.updated_at, self.forked_from)


BUSY_MS = 5000
PROGRESS_STEPS = 10_000  # virtual-machine steps between checks of the cancel flag

# a message row as the queries below select it
_MESSAGE = f"m.id, m.parent_id, m.role, m.content, {_ISO.format('m.created_at')}, m.meta"
_LINEAGE = """
    WITH RECURSIVE up(id, depth) AS (
        SELECT id, 0 FROM messages WHERE id = ? AND conversation_id = ?
        UNION ALL
        SELECT m.parent_id, up.depth + 1 FROM messages m JOIN up ON m.id = up.id WHERE m.parent_id IS NOT NULL
    )
"""


def _fts_query(words: list[str]) -> str:
    """The user's words as an FTS5 query: each a quoted prefix, all of them required."""
    return " ".join('"' + w.replace('"', '""') + '"*' for w in words)


class SqliteStore(ConversationStore):
    """The conversations database (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()  # the list of connections
        self._writing = threading.Lock()  # one writer of this process at a time (others: busy_timeout)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._migrate(self._db())
        except (sqlite3.Error, OSError) as exc:
            self.close()
            raise StoreUnavailable(f"{path}: {exc}") from exc

    @classmethod
    def default_path(cls, data_dir: str | None) -> Path:
        root = Path(data_dir) if data_dir else Path(platformdirs.user_data_dir("repo-assistant"))
        return root / "conversations.sqlite3"

    def close(self) -> None:
        with self._lock:
            for db in self._connections:
                db.close()
            self._connections.clear()

    # -- plumbing ----------------------------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False, timeout=BUSY_MS / 1000)
            db.execute(f"PRAGMA busy_timeout = {BUSY_MS}")
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")  # with WAL: safe against a killed process
            db.execute("PRAGMA foreign_keys = ON")
            db.set_progress_handler(self._should_stop, PROGRESS_STEPS)
            self._local.db = db
            with self._lock:
                self._connections.append(db)
        return db

    def _should_stop(self) -> int:
        cancel: threading.Event | None = getattr(self._local, "cancel", None)
        return 1 if cancel is not None and cancel.is_set() else 0

    @contextlib.contextmanager
    def cancelled_by(self, cancel: threading.Event) -> Iterator[None]:
        self._local.cancel = cancel
        try:
            yield
        finally:
            self._local.cancel = None

    def _migrate(self, db: sqlite3.Connection) -> None:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > VERSION:
            raise sqlite3.DatabaseError(f"the database is of a newer version ({version}) than this server ({VERSION})")
        for number in range(version, VERSION):
            log.info("conversations: migrating the database to version %d", number + 1)
            db.executescript(f"BEGIN IMMEDIATE;\n{MIGRATIONS[number]}\nPRAGMA user_version = {number + 1};\nCOMMIT;")

    def _failed(self, exc: sqlite3.Error) -> AssistantError:
        text = str(exc)
        if text == "interrupted":
            return StoreInterrupted()
        if "locked" in text:  # another process held the file past the busy timeout: not lasting
            return StoreUnavailable(f"the database is busy ({text}); retry in a moment")
        if self.failure is None:
            log.warning("conversations cannot be kept for now: %s: %s", self.path, text)
        self.failure = f"{self.path}: {text}"
        return StoreUnavailable(self.failure)

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One transaction, taken for writing at once (so two writers queue, not deadlock)."""
        with self._writing:
            try:
                db = self._db()
                db.execute("BEGIN IMMEDIATE")
                try:
                    yield db
                    db.execute("COMMIT")
                except BaseException:
                    with contextlib.suppress(sqlite3.Error):  # an interrupt has rolled back already
                        db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise self._failed(exc) from exc
        if self.failure is not None:
            log.warning("conversations are kept again: %s accepts writes", self.path)
            self.failure = None

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: what it reads is one state of the file."""
        try:
            db = self._db()
            db.execute("BEGIN")
            try:
                yield db
            finally:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise self._failed(exc) from exc

    def check(self) -> str:
        with self._read() as db:
            return str(db.execute("PRAGMA integrity_check").fetchone()[0])

    def probe(self) -> None:
        with self._write() as db:
            db.execute(f"PRAGMA user_version = {VERSION}")

    # -- reading rows ----------------------------------------------------------------------------

    @staticmethod
    def _row(db: sqlite3.Connection, cid: str) -> _Row:
        row = db.execute(
            f"SELECT {_SUMMARY}, c.active_id, c.titled, c.rowid FROM conversations c WHERE c.id = ?", (cid,)
        ).fetchone()
        if row is None:
            raise not_found(cid)
        return _Row(*row)

    @staticmethod
    def _owned(db: sqlite3.Connection, cid: str, mid: str, param: str) -> tuple[str, str | None]:
        """(role, parent_id) of a message of the conversation."""
        row = db.execute("SELECT conversation_id, role, parent_id FROM messages WHERE id = ?", (mid,)).fetchone()
        if row is None or row[0] != cid:
            raise not_a_message_of(cid, mid, param)
        return row[1], row[2]

    @staticmethod
    def _lineage(db: sqlite3.Connection, cid: str, leaf: str) -> list[tuple[Any, ...]]:
        """The message rows from the root to ``leaf``: one step per message of the branch."""
        rows = db.execute(
            f"{_LINEAGE} SELECT {_MESSAGE} FROM up JOIN messages m ON m.id = up.id ORDER BY up.depth DESC",
            (leaf, cid),
        ).fetchall()
        return [tuple(r) for r in rows]

    def _branch(self, db: sqlite3.Connection, cid: str, leaf: str | None) -> list[Message]:
        if leaf is None:
            return []
        out = []
        for mid, parent, role, content, created, meta in self._lineage(db, cid, leaf):
            siblings = [
                r[0]
                for r in db.execute(
                    "SELECT id FROM messages WHERE conversation_id = ? AND parent_id IS ? ORDER BY rowid", (cid, parent)
                )
            ]
            out.append(
                Message(
                    id=mid,
                    parent_id=parent,
                    role=role,
                    content=content,
                    created_at=created,
                    sibling_count=len(siblings),
                    sibling_index=siblings.index(mid),
                    sibling_ids=siblings,
                    **field_values(decode_fields(meta)),
                )
            )
        return out

    def _conversation(self, db: sqlite3.Connection, cid: str) -> Conversation:
        row = self._row(db, cid)
        return with_messages(row.summary(), row.active_id, self._branch(db, cid, row.active_id))

    # -- writing rows ----------------------------------------------------------------------------

    @staticmethod
    def _insert_message(db: sqlite3.Connection, cid: str, mid: str, message: NewMessage, now: float) -> None:
        cursor = db.execute(
            "INSERT INTO messages(id, conversation_id, parent_id, role, content, created_at, meta, streaming) "
            "VALUES (?,?,?,?,?,?,?,?)",
            (
                mid,
                cid,
                message.parent_id,
                message.role,
                message.content,
                now,
                encode_fields(message.fields).decode(),
                int(message.streaming),
            ),
        )
        db.execute("INSERT INTO message_text(rowid, text) VALUES (?, ?)", (cursor.lastrowid, message.content))

    @staticmethod
    def _insert_conversation(
        db: sqlite3.Connection, title: str, repo: str | None, model: str | None, now: float, *, titled: bool = True
    ) -> str:
        cid = new_id("c")
        cursor = db.execute(
            "INSERT INTO conversations(id, title, repo, model, created_at, updated_at, titled) VALUES (?,?,?,?,?,?,?)",
            (cid, title, repo, model, now, now, int(titled)),
        )
        db.execute("INSERT INTO title_text(rowid, text) VALUES (?, ?)", (cursor.lastrowid, title))
        return cid

    @staticmethod
    def _retitle(db: sqlite3.Connection, row: _Row, title: str, *, chosen: bool) -> None:
        """A new title: ``chosen`` by a person (it stays), or the first question's (it follows it)."""
        db.execute("UPDATE conversations SET title = ?, titled = ? WHERE rowid = ?", (title, int(chosen), row.rowid))
        db.execute("UPDATE title_text SET text = ? WHERE rowid = ?", (title, row.rowid))

    @staticmethod
    def _newest_leaf(db: sqlite3.Connection, cid: str, mid: str) -> str:
        leaf = mid
        while True:
            child = db.execute(
                "SELECT id FROM messages WHERE conversation_id = ? AND parent_id = ? ORDER BY rowid DESC LIMIT 1",
                (cid, leaf),
            ).fetchone()
            if child is None:
                return leaf
            leaf = child[0]

    # -- conversations -----------------------------------------------------------------------------

    def create(self, title: str | None, repo: str | None, model: str | None) -> Conversation:
        name = check_title(title) if title is not None else UNTITLED
        with self._write() as db:
            cid = self._insert_conversation(db, name, repo, model, time.time(), titled=title is not None)
            return self._conversation(db, cid)

    def page(self, words: list[str], repo: str | None, limit: int, cursor: str | None) -> Page:
        clauses: list[str] = []
        args: list[Any] = []
        if repo:
            clauses.append("c.repo = ?")
            args.append(repo)
        if cursor:
            updated, cid = decode_cursor(cursor)
            clauses.append("(c.updated_at < ? OR (c.updated_at = ? AND c.id < ?))")
            args += [updated, updated, cid]
        if words:
            match = _fts_query(words)
            clauses.append(
                "(c.rowid IN (SELECT rowid FROM title_text WHERE title_text MATCH ?) OR c.id IN "
                "(SELECT m.conversation_id FROM message_text JOIN messages m ON m.rowid = message_text.rowid "
                "WHERE message_text MATCH ?))"
            )
            args += [match, match]
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        order = "ORDER BY c.updated_at DESC, c.id DESC LIMIT ?"
        sql = f"SELECT {_SUMMARY}, c.updated_at FROM conversations c {where} {order}"
        with self._read() as db:
            try:
                rows = db.execute(sql, (*args, limit + 1)).fetchall()
            except sqlite3.OperationalError as exc:
                if "fts5" not in str(exc):
                    raise
                raise StoreError("invalid_parameter", f"`q` cannot be searched: {exc}", param="q") from None
        more = encode_cursor(rows[limit - 1][7], rows[limit - 1][0]) if len(rows) > limit else None
        return Page([Summary(*r[:7]) for r in rows[:limit]], more)

    def count(self) -> int:
        with self._read() as db:
            return int(db.execute("SELECT COUNT(*) FROM conversations").fetchone()[0])

    def usage_rows(self, since: float, until: float) -> list[UsageRow]:
        with self._read() as db:
            rows = db.execute(
                "SELECT created_at, meta, conversation_id, id FROM messages "
                "WHERE role = 'assistant' AND created_at >= ? AND created_at < ? ORDER BY created_at",
                (since, until),
            ).fetchall()
        return [usage_row(at, decode_fields(meta), cid, mid) for at, meta, cid, mid in rows]

    def summary(self, cid: str) -> Summary:
        with self._read() as db:
            return self._row(db, cid).summary()

    def get(self, cid: str) -> Conversation:
        with self._read() as db:
            return self._conversation(db, cid)

    def update(self, cid: str, title: str | None = None, active_id: str | None = None) -> Conversation:
        with self._write() as db:
            row = self._row(db, cid)
            if title is not None:
                self._retitle(db, row, check_title(title), chosen=True)
                db.execute("UPDATE conversations SET updated_at = ? WHERE rowid = ?", (time.time(), row.rowid))
            if active_id is not None:
                self._owned(db, cid, active_id, "active_id")
                leaf = self._newest_leaf(db, cid, active_id)
                db.execute("UPDATE conversations SET active_id = ? WHERE rowid = ?", (leaf, row.rowid))
            return self._conversation(db, cid)

    def delete(self, cid: str) -> None:
        with self._write() as db:
            row = self._row(db, cid)
            db.execute(
                "DELETE FROM message_text WHERE rowid IN (SELECT rowid FROM messages WHERE conversation_id = ?)", (cid,)
            )
            db.execute("DELETE FROM messages WHERE conversation_id = ?", (cid,))
            db.execute("DELETE FROM title_text WHERE rowid = ?", (row.rowid,))
            db.execute("DELETE FROM conversations WHERE rowid = ?", (row.rowid,))

    # -- messages -------------------------------------------------------------------------------

    def add(self, cid: str, message: NewMessage, *, param: str = "parent_id", title_from_question: bool = True) -> str:
        mid = new_id("m")
        now = time.time()
        with self._write() as db:
            row = self._row(db, cid)
            if message.parent_id is not None:
                self._owned(db, cid, message.parent_id, param)
            self._insert_message(db, cid, mid, message, now)
            db.execute("UPDATE conversations SET updated_at = ?, active_id = ? WHERE rowid = ?", (now, mid, row.rowid))
            if title_from_question and message.role == "user" and message.parent_id is None and not row.titled:
                self._retitle(db, row, title_from(message.content), chosen=False)  # a first question, or its edit
        return mid

    def set_answer(self, cid: str, mid: str, content: str, fields: AnswerFields, *, streaming: bool) -> None:
        with self._write() as db:
            row = db.execute(
                "SELECT rowid, role, content FROM messages WHERE id = ? AND conversation_id = ?", (mid, cid)
            ).fetchone()
            if row is None or row[1] != "assistant":
                raise not_a_message_of(cid, mid, "message_id")
            db.execute(
                "UPDATE messages SET content = ?, meta = ?, streaming = ? WHERE rowid = ?",
                (content, encode_fields(fields).decode(), int(streaming), row[0]),
            )
            if content != row[2]:
                db.execute("UPDATE message_text SET text = ? WHERE rowid = ?", (content, row[0]))

    def path_to(self, cid: str, mid: str | None) -> list[Message]:
        with self._read() as db:
            self._row(db, cid)
            return self._branch(db, cid, mid)

    def role_of(self, cid: str, mid: str, param: str = "parent_id") -> str:
        with self._read() as db:
            return self._owned(db, cid, mid, param)[0]

    def active(self, cid: str) -> str | None:
        with self._read() as db:
            return self._row(db, cid).active_id

    def end_unfinished(self) -> int:
        with self._write() as db:
            rows = db.execute("SELECT rowid, meta FROM messages WHERE streaming = 1").fetchall()
            for rowid, meta in rows:
                fields = decode_fields(meta)
                fields.finish_reason = "interrupted"
                db.execute(
                    "UPDATE messages SET meta = ?, streaming = 0 WHERE rowid = ?",
                    (encode_fields(fields).decode(), rowid),
                )
        return len(rows)

    # -- fork, export, import ---------------------------------------------------------------------

    def _copy(
        self,
        db: sqlite3.Connection,
        title: str,
        repo: str | None,
        model: str | None,
        messages: list[tuple[str, str | None, NewMessage]],
        shown: str | None,
    ) -> str:
        """A new conversation holding ``messages`` ((old id, old parent, message), parents
        first) under new ids, showing the newest continuation of ``shown`` (an old id; else the
        last message)."""
        now = time.time()
        cid = self._insert_conversation(db, title, repo, model, now)
        new_ids: dict[str, str] = {}
        for old_id, old_parent, message in messages:
            message.parent_id = new_ids[old_parent] if old_parent is not None else None
            new_ids[old_id] = new_id("m")
            self._insert_message(db, cid, new_ids[old_id], message, now)
        leaf = None
        if shown in new_ids:
            leaf = self._newest_leaf(db, cid, new_ids[shown])
        elif messages:
            leaf = new_ids[messages[-1][0]]
        db.execute("UPDATE conversations SET active_id = ? WHERE id = ?", (leaf, cid))
        return cid

    def fork(self, cid: str, mid: str) -> Conversation:
        with self._write() as db:
            row = self._row(db, cid)
            self._owned(db, cid, mid, "message_id")
            lineage = self._lineage(db, cid, mid)
            copied = [
                (m, parent, NewMessage(role=role, content=content, fields=decode_fields(meta)))
                for m, parent, role, content, _, meta in lineage
            ]
            made = self._copy(db, f"{row.title} (fork)"[:MAX_TITLE], row.repo, row.model, copied, None)
            db.execute("UPDATE conversations SET forked_from = ? WHERE id = ?", (cid, made))
            return self._conversation(db, made)

    def export(self, cid: str) -> Export:
        with self._read() as db:
            row = self._row(db, cid)
            rows = db.execute(
                f"SELECT {_MESSAGE} FROM messages m WHERE m.conversation_id = ? ORDER BY m.rowid", (cid,)
            ).fetchall()
        messages = [
            ExportedMessage(
                id=mid,
                parent_id=parent,
                role=role,
                content=content,
                created_at=created,
                **field_values(decode_fields(meta)),
            )
            for mid, parent, role, content, created, meta in rows
        ]
        return Export(
            EXPORT_FORMAT, 1, row.id, row.title, row.repo, row.model, row.created_at, row.updated_at, row.active_id,
            messages,
        )  # fmt: skip

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
        with self._write() as db:
            made = self._copy(db, check_title(title), repo, model, copied, active_id)
            return self._conversation(db, made)
