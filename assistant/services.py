"""The long-lived objects one server (or one CLI command) works with."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from assistant.backends import ModelBackend, OllamaBackend, OpenAICompatBackend, Timeouts
from assistant.backends.base import DEFAULT_CONNECTIONS
from assistant.conversations import Conversations, MemoryStore, SqliteStore, StoreUnavailable
from assistant.history import HistoryManager, HistoryUnavailable
from assistant.index import IndexManager
from assistant.index.ranking import Evidence
from assistant.model_watch import ModelServerWatch
from assistant.settings import Settings
from assistant.tools import ToolContext
from sandbox import Roots, SandboxError

log = logging.getLogger("assistant.services")


def build_backend(settings: Settings) -> ModelBackend:
    """The backend the settings ask for."""
    timeouts = Timeouts(
        connect=settings.connect_timeout,
        first_token=settings.first_token_timeout,
        between_chunks=settings.chunk_timeout,
        request=settings.request_timeout,
        answer=settings.answer_timeout,
    )
    # every chat allowed at once may stream an answer, and resolves its model first: room for all
    connections = max(DEFAULT_CONNECTIONS, settings.max_concurrent_chats + 16)
    if settings.backend == "openai":
        return OpenAICompatBackend(settings.base_url or "", settings.backend_api_key, timeouts, connections)
    return OllamaBackend(settings.ollama_url, timeouts, connections)


@dataclass
class Services:
    """Built once at start-up and shared by every request."""

    settings: Settings
    roots: Roots
    indexes: IndexManager
    backend: ModelBackend
    started: float = field(default_factory=time.time)
    mcp_enabled: bool = False
    stopping: asyncio.Event | None = None
    active_chats: int = 0
    conversations: Conversations | None = None  # opened with the server (open_conversations)
    watch: ModelServerWatch = field(init=False)
    histories: HistoryManager = field(default_factory=HistoryManager)

    def __post_init__(self) -> None:
        self.watch = ModelServerWatch(self.backend)

    @classmethod
    def build(cls, settings: Settings) -> Services:
        mode = None if settings.open_mode == "auto" else settings.open_mode
        roots = Roots(list(settings.repos), mode)  # type: ignore[arg-type]
        histories = HistoryManager(settings.cache_dir)

        def evidence(root: str, query: str) -> Evidence:
            """What a root's commit messages say of its files for ``query`` (nothing until its
            commit graph is ready, or without a history)."""
            try:
                with roots.open_repo(root) as repo:
                    field = histories.get(repo).field()
            except (SandboxError, HistoryUnavailable):
                return []
            return field.evidence(query) if field is not None else []

        made = cls(
            settings=settings,
            roots=roots,
            indexes=IndexManager(roots, settings.cache_dir, settings.watch, history=evidence),
            backend=build_backend(settings),
            histories=histories,
        )
        return made

    def open_conversations(self) -> None:
        """Open the conversations database (the server's); when it cannot be, say why once and
        go on without it: chat then works statelessly, and /health says so."""
        path = SqliteStore.default_path(self.settings.data_dir)
        try:
            store = SqliteStore(path)
            interrupted = store.end_unfinished()
        except StoreUnavailable as exc:
            self.conversations = Conversations(MemoryStore(), exc.reason)
            log.warning(
                "conversations cannot be kept on disk (%s); they are kept in memory until the server stops. "
                "Use --data-dir for a writable directory, or move the damaged file away.",
                exc.reason,
            )
            return
        if interrupted:
            log.info("conversations: %d answer(s) left unfinished by the last run marked interrupted", interrupted)
        self.conversations = Conversations(store)

    def kept(self) -> Conversations:
        """The conversations, or 503 ``conversations_unavailable`` before they were opened."""
        if self.conversations is None:
            raise StoreUnavailable("the server has not opened them yet")
        return self.conversations

    def start(self) -> None:
        """Begin indexing every allowed root in the background (called in the event loop)."""
        self.stopping = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self.watch.start()
        for root in self.roots.roots:
            self.indexes.get(root.path)

    def try_acquire_chat(self) -> bool:
        """Take a chat slot, or say no when --max-concurrent-chats are running."""
        if self.active_chats >= self.settings.max_concurrent_chats:
            return False
        self.active_chats += 1
        return True

    def release_chat(self) -> None:
        self.active_chats = max(0, self.active_chats - 1)

    def request_stop(self) -> None:
        """Ask open streams to end cleanly (safe to call from a signal handler)."""
        loop = getattr(self, "_loop", None)
        if loop is not None and self.stopping is not None:
            loop.call_soon_threadsafe(self.stopping.set)

    def tool_context(self, repo_path: str | None, read_files: set[str] | None = None) -> ToolContext:
        return ToolContext(
            self.roots,
            self.indexes,
            repo_path,
            read_files if read_files is not None else set(),
            histories=self.histories,
        )

    async def aclose(self) -> None:
        if self.conversations is not None:
            await asyncio.to_thread(self.conversations.close)
            self.conversations = None
        await self.watch.stop()
        await self.backend.aclose()
        await asyncio.to_thread(self.indexes.close)
        self.histories.close()
        self.roots.close()


def services(request: Any) -> Services:
    """The ``Services`` of the app handling ``request``."""
    return request.app.state["services"]  # type: ignore[no-any-return]
