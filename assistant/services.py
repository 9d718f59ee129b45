"""The long-lived objects one server (or one CLI command) works with."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from assistant import metrics
from assistant.backends import ModelBackend, OllamaBackend, OpenAICompatBackend, Timeouts
from assistant.backends.base import DEFAULT_CONNECTIONS
from assistant.bus import EventBus
from assistant.conversations import Conversations, MemoryStore, SqliteStore, StoreUnavailable
from assistant.errors import AssistantError
from assistant.history import HistoryManager, HistoryUnavailable
from assistant.index import IndexManager
from assistant.index.ranking import Evidence
from assistant.model_watch import ModelServerWatch
from assistant.settings import Settings
from assistant.tools import ToolContext
from sandbox import Roots, SandboxError

log = logging.getLogger("assistant.services")

MAX_V1_USAGE = 100_000


@dataclass(frozen=True)
class UsageRecord:
    """One answer given through /v1 (editors are users too): kept in memory since start."""

    at: float
    model: str
    tokens_in: int
    tokens_out: int
    tool_calls: int
    first_token_ms: int | None
    total_ms: int | None


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
    events: EventBus = field(default_factory=EventBus)
    v1_usage: list[UsageRecord] = field(default_factory=list)  # /v1 answers since start (not stored)

    def __post_init__(self) -> None:
        self.watch = ModelServerWatch(self.backend)
        self.watch.watched = lambda: self.events.subscribers > 0

        def model_server(status: str, error: str | None) -> None:
            if status in ("connected", "busy"):
                self.events.publish("model_server.up", status=status)
            elif status == "unavailable":
                self.events.publish("model_server.down", error=error)

        self.backend.reach.listeners.append(model_server)
        self.indexes.events = self.events
        metrics.use(
            metrics.State(
                repos=self._repo_figures,
                conversations=self._conversation_count,
                event_clients=lambda: self.events.subscribers,
                model_server_up=self._model_server_up,
            )
        )

    def _model_server_up(self) -> bool | None:
        status = self.backend.reach.status
        return None if status == "unknown" else status in ("connected", "busy")

    def _repo_figures(self) -> list[metrics.RepoFigures]:
        out = []
        for index in self.indexes.known():
            files, symbols = index.totals()
            seconds = index.index_ms / 1000 if index.index_ms is not None else None
            out.append(metrics.RepoFigures(index.repo_path, files, symbols, index.text_bytes(), seconds))
        return out

    def _conversation_count(self) -> int | None:
        store = self.conversations
        return store.count_cached if store is not None else None

    def note_v1_usage(self, record: UsageRecord) -> None:
        """A /v1 answer, for /usage (the newest ``MAX_V1_USAGE`` kept, in memory)."""
        self.v1_usage.append(record)
        if len(self.v1_usage) > MAX_V1_USAGE:
            del self.v1_usage[: len(self.v1_usage) - MAX_V1_USAGE]

    def heartbeat(self) -> dict[str, int]:
        """The counts ``/health`` shows, for the event stream's heartbeat."""
        files = symbols = 0
        for index in self.indexes.known():
            f, s = index.totals()
            files += f
            symbols += s
        return {
            "repos": len(self.roots.roots),
            "files": files,
            "symbols": symbols,
            "event_clients": self.events.subscribers,
        }

    async def count_conversations(self) -> None:
        """Refresh the count of stored conversations the metrics show (read in a store thread)."""
        store = self.conversations
        if store is None or store.store is None:
            return
        with contextlib.suppress(AssistantError):
            store.count_cached = await store.run(lambda s: s.count(), interruptible=False)

    def conversation_event(self, kind: str, cid: str, title: str | None) -> None:
        """``conversation.created|updated|deleted`` (id and title only)."""
        self.events.publish(f"conversation.{kind}", id=cid, title=title)
        if getattr(self, "_loop", None) is not None:
            self._counting = asyncio.ensure_future(self.count_conversations())

    async def _beat(self) -> None:
        await self.count_conversations()
        while True:
            await asyncio.sleep(self.settings.heartbeat_seconds)
            self.events.publish("heartbeat", **self.heartbeat())
            await self.count_conversations()

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
        """Begin indexing in the background (called in the event loop): the default repository
        at once, the other roots when first used (a search, the map, a tool), or all of them
        with ``--index-on-start``."""
        self.stopping = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self.watch.start()
        self._heart = asyncio.ensure_future(self._beat())
        roots = self.roots.roots if self.settings.index_on_start else self.roots.roots[:1]
        for root in roots:
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
        heart = getattr(self, "_heart", None)
        if heart is not None:
            heart.cancel()
        await self.watch.stop()
        await self.backend.aclose()
        await asyncio.to_thread(self.indexes.close)
        self.histories.close()
        self.roots.close()


def services(request: Any) -> Services:
    """The ``Services`` of the app handling ``request``."""
    return request.app.state["services"]  # type: ignore[no-any-return]
