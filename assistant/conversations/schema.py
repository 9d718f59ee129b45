"""The conversations database's schema, versioned with ``PRAGMA user_version``.

Each step takes the schema from the version before it (its index + 1) to the next, in one
transaction with the new ``user_version``; a database is migrated forward when it is opened.
"""

from __future__ import annotations

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
    # 3: full-text rows keyed by the rowid of their message or conversation (deleting or renaming
    # one no longer scans every row), prefix indexes for one- and two-letter prefixes (a search
    # for "a" no longer merges every term), and answers marked while they stream (a process
    # killed mid-answer leaves them to be marked interrupted by the next)
    """
    CREATE VIRTUAL TABLE message_text USING fts5(text, prefix='1 2');
    CREATE VIRTUAL TABLE title_text USING fts5(text, prefix='1 2');
    INSERT INTO message_text(rowid, text) SELECT rowid, content FROM messages;
    INSERT INTO title_text(rowid, text) SELECT rowid, title FROM conversations;
    DROP TABLE search;
    ALTER TABLE messages ADD COLUMN streaming INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX messages_streaming ON messages(streaming) WHERE streaming = 1;
    """,
    # 4: whether a person chose the title (else it follows the first question, edits included),
    # and the conversation a fork was made from
    """
    ALTER TABLE conversations ADD COLUMN titled INTEGER NOT NULL DEFAULT 1;
    UPDATE conversations SET titled = 0 WHERE title = 'New conversation';
    ALTER TABLE conversations ADD COLUMN forked_from TEXT;
    """,
)
VERSION = len(MIGRATIONS)
