"""Conversations that last: one SQLite file (the standard library's ``sqlite3``, WAL) in the user
data directory, its schema versioned with ``PRAGMA user_version`` and migrated forward on open.

A conversation holds messages as a tree (each has its parent), so editing a question or asking
again makes a branch; the conversation remembers which leaf is shown (``active_id``). Every
write is one transaction (``BEGIN IMMEDIATE``): a process killed mid-answer loses at most that
answer, and two writers (two tabs, the CLI beside the server) wait for each other rather than
lose a turn. Titles and message text are searched with FTS5.

Nothing here knows HTTP: a bad id or argument raises ``StoreError`` with the error code and the
parameter the API names.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger("assistant.conversations")

# a time column (Unix seconds) as the API writes times: ISO 8601 UTC with milliseconds,
# formatted by SQLite itself (in Python it was most of the time a page of conversations took)
_ISO = "strftime('%Y-%m-%dT%H:%M:%fZ', {}, 'unixepoch')"
MAX_TITLE = 200
TITLE_FROM_QUESTION = 80
PAGE = 50
MAX_PAGE = 200
BUSY_MS = 5000

# Each step takes the schema from the version before it (its index + 1) to the next, in one
# transaction with the new user_version.
MIGRATIONS: tuple[str, ...] = (
    # 1: conversations and their message tree
    """
    CREATE TABLE conversations (
        id TEXT PRIMARY KEY,
        title TEXT NOT NULL,
        repo TEXT,
        model TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        active_id TEXT
    );
    CREATE TABLE messages (
        id TEXT PRIMARY KEY,
        conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        parent_id TEXT,
        role TEXT NOT NULL,
        content TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE INDEX messages_by_parent ON messages(conversation_id, parent_id);
    CREATE INDEX conversations_by_update ON conversations(updated_at DESC, id DESC);
    """,
    # 2: what an answer keeps (its trace, usage, finish reason, model, timings, citations) and
    # full-text search over titles and messages
    """
    ALTER TABLE messages ADD COLUMN meta TEXT NOT NULL DEFAULT '{}';
    CREATE VIRTUAL TABLE search USING fts5(text, conversation_id UNINDEXED, message_id UNINDEXED);
    INSERT INTO search(text, conversation_id, message_id) SELECT title, id, '' FROM conversations;
    INSERT INTO search(text, conversation_id, message_id) SELECT content, conversation_id, id FROM messages;
    """,
)
VERSION = len(MIGRATIONS)
META_FIELDS = ("tool_events", "finish_reason", "usage", "model", "timings", "citations", "sources")


class StoreError(Exception):
    """A request the store cannot do: ``code`` is an API error code, ``param`` what was wrong."""

    def __init__(self, code: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.param = param


class StoreUnavailable(Exception):
    """The database cannot be opened or written (a read-only directory, a corrupt file)."""


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


def title_from(question: str) -> str:
    line = next((ln.strip() for ln in question.splitlines() if ln.strip()), "") or "New conversation"
    return line if len(line) <= TITLE_FROM_QUESTION else line[: TITLE_FROM_QUESTION - 1].rstrip() + "…"


def check_title(title: Any, param: str = "title") -> str:
    if not isinstance(title, str) or not title.strip():
        raise StoreError("invalid_parameter", "`title` must be a non-empty string", param)
    if len(title) > MAX_TITLE:
        raise StoreError("invalid_parameter", f"`title` is longer than {MAX_TITLE} characters", param)
    return title.strip()


def _fts_query(q: str) -> str:
    """The user's words as an FTS5 query: each a quoted prefix, all of them required."""
    words = [w for w in q.split() if w]
    return " ".join('"' + w.replace('"', '""') + '"*' for w in words)


def _cursor_of(updated_at: float, cid: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([updated_at, cid]).encode()).decode().rstrip("=")


def _parse_cursor(cursor: str) -> tuple[float, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        updated_at, cid = json.loads(raw)
        if not isinstance(cid, str) or not isinstance(updated_at, (int, float)):
            raise ValueError
        return float(updated_at), cid
    except (ValueError, TypeError, json.JSONDecodeError, UnicodeDecodeError):
        raise StoreError("invalid_parameter", "`cursor` is not one this server gave", "cursor") from None


class ConversationStore:
    """The conversations database. Thread-safe: one connection, one lock (every operation is
    a few milliseconds); other processes on the same file are waited for up to 5 s."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=BUSY_MS / 1000)
            self._db.execute(f"PRAGMA busy_timeout = {BUSY_MS}")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")  # with WAL: safe against a killed process
            self._db.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except (sqlite3.Error, OSError) as exc:
            raise StoreUnavailable(f"{path}: {exc}") from exc

    @classmethod
    def default_path(cls, data_dir: str | None) -> Path:
        import platformdirs

        root = Path(data_dir) if data_dir else Path(platformdirs.user_data_dir("repo-assistant"))
        return root / "conversations.sqlite3"

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- plumbing ------------------------------------------------------------------------------

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > VERSION:
            raise sqlite3.DatabaseError(f"the database is of a newer version ({version}) than this server ({VERSION})")
        for number in range(version, VERSION):
            log.info("conversations: migrating the database to version %d", number + 1)
            self._db.executescript(
                f"BEGIN IMMEDIATE;\n{MIGRATIONS[number]}\nPRAGMA user_version = {number + 1};\nCOMMIT;"
            )

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One transaction, taken for writing at once (so two writers queue, not deadlock)."""
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._db

    def check(self) -> str:
        """``ok``, or what ``PRAGMA integrity_check`` says is wrong."""
        with self._read() as db:
            return str(db.execute("PRAGMA integrity_check").fetchone()[0])

    # -- conversations -----------------------------------------------------------------------

    def create(self, title: str | None, repo: str | None, model: str | None) -> dict[str, Any]:
        now = time.time()
        cid = new_id("c")
        name = check_title(title) if title is not None else "New conversation"
        with self._write() as db:
            db.execute(
                "INSERT INTO conversations(id, title, repo, model, created_at, updated_at) VALUES (?,?,?,?,?,?)",
                (cid, name, repo, model, now, now),
            )
            db.execute("INSERT INTO search(text, conversation_id, message_id) VALUES (?,?,'')", (name, cid))
        return self.get(cid)

    def _row(self, db: sqlite3.Connection, cid: str) -> tuple[Any, ...]:
        row = db.execute(
            f"SELECT id, title, repo, model, {_ISO.format('created_at')}, {_ISO.format('updated_at')}, active_id "
            "FROM conversations WHERE id = ?",
            (cid,),
        ).fetchone()
        if row is None:
            raise StoreError("conversation_not_found", f"no conversation {cid!r}", "id")
        return tuple(row)

    @staticmethod
    def _summary(row: tuple[Any, ...]) -> dict[str, Any]:
        """A conversation's fields from (id, title, repo, model, created, updated) (the times as
        SQLite formatted them: ``_ISO``)."""
        return {
            "id": row[0],
            "title": row[1],
            "repo": row[2],
            "model": row[3],
            "created_at": row[4],
            "updated_at": row[5],
        }

    def page(
        self, q: str | None = None, repo: str | None = None, limit: int = PAGE, cursor: str | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """A page of conversations, newest update first, and the cursor of the next page."""
        clauses: list[str] = []
        args: list[Any] = []
        if repo:
            clauses.append("c.repo = ?")
            args.append(repo)
        if cursor:
            updated, cid = _parse_cursor(cursor)
            clauses.append("(c.updated_at < ? OR (c.updated_at = ? AND c.id < ?))")
            args += [updated, updated, cid]
        match = _fts_query(q) if q and q.strip() else ""
        if match:
            clauses.append("c.id IN (SELECT conversation_id FROM search WHERE search MATCH ?)")
            args.append(match)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        sql = (
            f"SELECT c.id, c.title, c.repo, c.model, {_ISO.format('c.created_at')}, {_ISO.format('c.updated_at')}, "
            f"c.updated_at FROM conversations c {where} ORDER BY c.updated_at DESC, c.id DESC LIMIT ?"
        )
        with self._read() as db:
            try:
                rows = db.execute(sql, (*args, limit + 1)).fetchall()
            except sqlite3.OperationalError as exc:  # an FTS5 syntax the quoting did not cover
                raise StoreError("invalid_parameter", f"`q` cannot be searched: {exc}", "q") from None
        page = [self._summary(r) for r in rows[:limit]]
        more = _cursor_of(rows[limit - 1][6], rows[limit - 1][0]) if len(rows) > limit else None
        return page, more

    def get(self, cid: str) -> dict[str, Any]:
        """A conversation with its active branch, root first."""
        with self._read() as db:
            row = self._row(db, cid)
            messages = self._branch(db, cid, row[6])
        return {**self._summary(row), "active_id": row[6], "messages": messages}

    def _branch(self, db: sqlite3.Connection, cid: str, leaf: str | None) -> list[dict[str, Any]]:
        if leaf is None:
            return []
        rows = db.execute(
            """
            WITH RECURSIVE up(id, parent_id, depth) AS (
                SELECT id, parent_id, 0 FROM messages WHERE id = ? AND conversation_id = ?
                UNION ALL
                SELECT m.id, m.parent_id, up.depth + 1 FROM messages m JOIN up ON m.id = up.parent_id
            )
            SELECT m.id, m.parent_id, m.role, m.content, strftime('%Y-%m-%dT%H:%M:%fZ', m.created_at, 'unixepoch'),
                   m.meta, up.depth
            FROM up JOIN messages m ON m.id = up.id ORDER BY up.depth DESC
            """,
            (leaf, cid),
        ).fetchall()
        out = []
        for mid, parent, role, content, created, meta, _ in rows:
            siblings = [
                r[0]
                for r in db.execute(
                    "SELECT id FROM messages WHERE conversation_id = ? AND parent_id IS ? ORDER BY rowid", (cid, parent)
                )
            ]
            message: dict[str, Any] = {
                "id": mid,
                "parent_id": parent,
                "role": role,
                "content": content,
                "created_at": created,
                "sibling_count": len(siblings),
                "sibling_index": siblings.index(mid),
                "sibling_ids": siblings,
            }
            extra = json.loads(meta or "{}")
            message.update({k: v for k, v in extra.items() if k in META_FIELDS})
            out.append(message)
        return out

    def update(self, cid: str, title: str | None = None, active_id: str | None = None) -> dict[str, Any]:
        """Rename, or show another branch: ``active_id`` is any message of the conversation;
        its newest continuation (the newest child at each step) becomes the leaf shown."""
        with self._write() as db:
            self._row(db, cid)
            if title is not None:
                name = check_title(title)
                db.execute("UPDATE conversations SET title = ?, updated_at = ? WHERE id = ?", (name, time.time(), cid))
                db.execute("DELETE FROM search WHERE conversation_id = ? AND message_id = ''", (cid,))
                db.execute("INSERT INTO search(text, conversation_id, message_id) VALUES (?,?,'')", (name, cid))
            if active_id is not None:
                self._owned(db, cid, active_id, "active_id")
                leaf = active_id
                while True:
                    child = db.execute(
                        "SELECT id FROM messages WHERE conversation_id = ? AND parent_id = ? "
                        "ORDER BY rowid DESC LIMIT 1",
                        (cid, leaf),
                    ).fetchone()
                    if child is None:
                        break
                    leaf = child[0]
                db.execute("UPDATE conversations SET active_id = ? WHERE id = ?", (leaf, cid))
        return self.get(cid)

    def delete(self, cid: str) -> None:
        with self._write() as db:
            self._row(db, cid)
            db.execute("DELETE FROM search WHERE conversation_id = ?", (cid,))
            db.execute("DELETE FROM messages WHERE conversation_id = ?", (cid,))
            db.execute("DELETE FROM conversations WHERE id = ?", (cid,))

    # -- messages --------------------------------------------------------------------------------

    def _owned(self, db: sqlite3.Connection, cid: str, mid: str, param: str) -> tuple[Any, ...]:
        row = db.execute("SELECT conversation_id, role, parent_id FROM messages WHERE id = ?", (mid,)).fetchone()
        if row is None or row[0] != cid:
            raise StoreError("invalid_parameter", f"message {mid!r} is not a message of conversation {cid!r}", param)
        return tuple(row)

    def add(
        self,
        cid: str,
        parent_id: str | None,
        role: str,
        content: str,
        meta: dict[str, Any] | None = None,
        *,
        param: str = "parent_id",
        title_from_question: bool = True,
    ) -> str:
        """Add a message under ``parent_id`` (``None``: a first question) and show it."""
        mid = new_id("m")
        now = time.time()
        with self._write() as db:
            row = self._row(db, cid)
            if parent_id is not None:
                self._owned(db, cid, parent_id, param)
            db.execute(
                "INSERT INTO messages(id, conversation_id, parent_id, role, content, created_at, meta) "
                "VALUES (?,?,?,?,?,?,?)",
                (mid, cid, parent_id, role, content, now, json.dumps(meta or {}, ensure_ascii=False)),
            )
            db.execute("INSERT INTO search(text, conversation_id, message_id) VALUES (?,?,?)", (content, cid, mid))
            db.execute("UPDATE conversations SET updated_at = ?, active_id = ? WHERE id = ?", (now, mid, cid))
            if title_from_question and role == "user" and parent_id is None and row[1] == "New conversation":
                title = title_from(content)
                db.execute("UPDATE conversations SET title = ? WHERE id = ?", (title, cid))
                db.execute("DELETE FROM search WHERE conversation_id = ? AND message_id = ''", (cid,))
                db.execute("INSERT INTO search(text, conversation_id, message_id) VALUES (?,?,'')", (title, cid))
        return mid

    def path_to(self, cid: str, mid: str | None) -> list[dict[str, Any]]:
        """The messages from the root to ``mid`` (the history a new turn under it sees)."""
        with self._read() as db:
            self._row(db, cid)
            return self._branch(db, cid, mid) if mid else []

    def message(self, cid: str, mid: str, param: str = "parent_id") -> dict[str, Any]:
        with self._read() as db:
            conversation, role, parent = self._owned(db, cid, mid, param)
        return {"id": mid, "role": role, "parent_id": parent, "conversation_id": conversation}

    def active(self, cid: str) -> str | None:
        with self._read() as db:
            return self._row(db, cid)[6]  # type: ignore[no-any-return]

    # -- fork, export, import ----------------------------------------------------------------------

    def fork(self, cid: str, message_id: str) -> dict[str, Any]:
        """A new conversation holding the branch from the root to ``message_id``."""
        with self._read() as db:
            row = self._row(db, cid)
            self._owned(db, cid, message_id, "message_id")
            branch = self._branch(db, cid, message_id)
        return self._copy(f"{row[1]} (fork)"[:MAX_TITLE], row[2], row[3], branch)

    def _copy(self, title: str, repo: str | None, model: str | None, messages: list[dict[str, Any]]) -> dict[str, Any]:
        """A new conversation with ``messages`` (parents before children), new ids throughout."""
        made = self.create(title, repo, model)
        cid = made["id"]
        new_ids: dict[str, str] = {}
        for message in messages:
            parent = message.get("parent_id")
            meta = {k: message[k] for k in META_FIELDS if k in message}
            new_ids[message["id"]] = self.add(
                cid,
                new_ids.get(parent) if parent else None,
                message["role"],
                message["content"],
                meta,
                title_from_question=False,
            )
        return self.get(cid)

    def export(self, cid: str) -> dict[str, Any]:
        """Everything about a conversation: every message of every branch, parents first."""
        with self._read() as db:
            row = self._row(db, cid)
            rows = db.execute(
                f"SELECT id, parent_id, role, content, {_ISO.format('created_at')}, meta FROM messages "
                "WHERE conversation_id = ? "
                "ORDER BY rowid",
                (cid,),
            ).fetchall()
        messages = []
        for mid, parent, role, content, created, meta in rows:
            message = {
                "id": mid,
                "parent_id": parent,
                "role": role,
                "content": content,
                "created_at": created,
            }
            message.update({k: v for k, v in json.loads(meta or "{}").items() if k in META_FIELDS})
            messages.append(message)
        return {
            "format": "repo-assistant.conversation",
            "version": 1,
            **self._summary(row),
            "active_id": row[6],
            "messages": messages,
        }

    def import_(self, document: dict[str, Any]) -> dict[str, Any]:
        """A new conversation from an ``export`` document (new ids; the active branch kept)."""
        messages = document.get("messages")
        if not isinstance(messages, list):
            raise StoreError("invalid_parameter", "`messages` must be the list an export gives", "messages")
        known: set[str] = set()
        for index, message in enumerate(messages):
            if (
                not isinstance(message, dict)
                or not isinstance(message.get("id"), str)
                or message.get("role") not in ("user", "assistant")
                or not isinstance(message.get("content"), str)
                or (message.get("parent_id") is not None and message.get("parent_id") not in known)
            ):
                raise StoreError(
                    "invalid_parameter",
                    "each message needs an id, a role (user or assistant), content, and a parent listed before it",
                    f"messages[{index}]",
                )
            known.add(message["id"])
        title = check_title(document.get("title") or "Imported conversation")
        copied = self._copy(title, document.get("repo"), document.get("model"), messages)
        active = document.get("active_id")
        if isinstance(active, str) and active in known:
            position = [m["id"] for m in messages].index(active)
            with self._read() as db:
                ids = [
                    r[0]
                    for r in db.execute(
                        "SELECT id FROM messages WHERE conversation_id = ? ORDER BY rowid", (copied["id"],)
                    )
                ]
            return self.update(copied["id"], active_id=ids[position])
        return copied


def markdown(document: dict[str, Any]) -> str:
    """A conversation's active branch as Markdown (from ``get``)."""
    lines = [f"# {document['title']}", ""]
    facts = [f for f in (document.get("repo"), document.get("model"), document.get("updated_at")) if f]
    if facts:
        lines += ["_" + " · ".join(facts) + "_", ""]
    for message in document["messages"]:
        who = "You" if message["role"] == "user" else "Assistant"
        lines += [f"## {who}", ""]
        for event in message.get("tool_events") or []:
            if event.get("status") != "started":
                args = ", ".join(f"{k}={json.dumps(v)}" for k, v in (event.get("arguments") or {}).items())
                lines.append(f"> {event.get('name')}({args}) — {event.get('summary') or event.get('status')}")
        if message.get("tool_events"):
            lines.append("")
        lines += [message["content"].rstrip(), ""]
        sources = message.get("sources") or []
        if sources:
            lines.append("Sources: " + ", ".join(s["label"] for s in sources))
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"
