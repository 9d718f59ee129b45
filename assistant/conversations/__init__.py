"""Conversations that last: the store's interface (``base``), its SQLite and in-memory
implementations, the typed shapes of what is stored, exported and imported (``documents``),
and the store as the event loop reaches it (``access``)."""

from assistant.errors import StoreError, StoreInterrupted, StoreUnavailable

from .access import Conversations
from .base import MAX_PAGE, MAX_QUERY_BYTES, MAX_QUERY_WORDS, PAGE, ConversationStore, search_words
from .documents import (
    MAX_IMPORT_BYTES,
    MAX_IMPORT_MESSAGES,
    MAX_MODEL,
    AnswerFields,
    Conversation,
    ErrorInfo,
    Export,
    ImportedMessage,
    Message,
    NewMessage,
    Page,
    Source,
    TraceEntry,
    UsageRow,
    check_import,
    markdown,
)
from .memory import MemoryStore
from .schema import MIGRATIONS
from .sqlite import SqliteStore

__all__ = [
    "MAX_IMPORT_BYTES",
    "MAX_IMPORT_MESSAGES",
    "MAX_MODEL",
    "MAX_PAGE",
    "MAX_QUERY_BYTES",
    "MAX_QUERY_WORDS",
    "MIGRATIONS",
    "PAGE",
    "AnswerFields",
    "Conversation",
    "ConversationStore",
    "Conversations",
    "ErrorInfo",
    "Export",
    "ImportedMessage",
    "MemoryStore",
    "Message",
    "NewMessage",
    "Page",
    "Source",
    "SqliteStore",
    "StoreError",
    "StoreInterrupted",
    "StoreUnavailable",
    "TraceEntry",
    "UsageRow",
    "check_import",
    "markdown",
    "search_words",
]
