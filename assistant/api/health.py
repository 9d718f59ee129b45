"""Is it up, and what does it serve: GET /health (never needs the API key) and GET /status."""

from __future__ import annotations

import time
from typing import Literal

import msgspec
from litestar import get
from msgspec import UNSET, Struct, UnsetType

from assistant import __version__
from assistant.backends import Reachability, default_model
from assistant.types import RepoIndexState

from .envelope import Envelope, Req, Svc, ok, timestamp

Reach = Literal["connected", "busy", "unavailable"]


class ModelServerState(Struct, omit_defaults=True):
    """The model server as the last exchange with it left it (``services.ollama``)."""

    status: Reach
    latency_ms: float | None
    error: str | UnsetType = UNSET


class ModelServer(Struct, omit_defaults=True):
    """``services.model_server``: the same, with which server it is."""

    kind: str
    url: str
    label: str
    name: str
    status: Reach
    latency_ms: float | None
    error: str | UnsetType = UNSET


class McpState(Struct):
    status: Literal["connected", "disabled"]


class StoreState(Struct, omit_defaults=True):
    """``ok``; ``memory`` when the database could not be opened (kept until the server stops);
    ``unavailable`` after a failure at run time (the reason in ``error``)."""

    status: Literal["ok", "memory", "unavailable"]
    error: str | UnsetType = UNSET


class HealthServices(Struct):
    ollama: ModelServerState
    model_server: ModelServer
    mcp_server: McpState
    conversations: StoreState


class IndexTotals(Struct):
    repos: int
    files: int
    symbols: int


class Health(Struct):
    status: Literal["healthy", "degraded", "unhealthy"]
    version: str
    services: HealthServices
    index: IndexTotals


class IndexStats(Struct):
    """One repository's index."""

    path: str
    state: RepoIndexState  # idle: not used yet, so not indexed yet
    progress: float
    files_indexed: int
    symbols: int
    languages: dict[str, int]
    last_indexed: str | None
    index_ms: int | None
    # how changes are seen: inotify; inotify+sweep (out of watches: swept_directories are looked
    # through at most once a second); sweep (no inotify); None before the first build
    watch: str | None = None
    swept_directories: int = 0
    # after a warm start (the index as the last server left it, ready at once), while the files
    # are checked against it: changes made meanwhile are applied (and told as files.changed) after
    verifying: bool = False


class Backend(Struct):
    kind: str
    url: str
    version: str | None
    status: Reach


class Status(Struct):
    version: str
    uptime_seconds: float
    backend: Backend
    default_model: str | None
    repos: list[IndexStats]


def _state(reach: Reachability) -> ModelServerState:
    """The model server as /health shows it (``services.ollama`` and ``services.model_server``)."""
    status: Reach = "unavailable" if reach.status == "unknown" else reach.status
    error = reach.error if reach.error is not None and status != "connected" else UNSET
    return ModelServerState(status, reach.latency_ms if status != "unavailable" else None, error)


def _index_totals(svc: Svc) -> IndexTotals:
    totals = [index.totals() for index in svc.indexes.known()]
    return IndexTotals(
        repos=len(svc.roots.roots),
        files=sum(files for files, _ in totals),
        symbols=sum(symbols for _, symbols in totals),
    )


@get("/health", summary="Is the server up, and can it reach the model server? (never needs auth)")
async def get_health(request: Req, svc: Svc) -> Envelope[Health]:
    ping = _state(await svc.watch.current())
    status: Literal["healthy", "degraded", "unhealthy"] = (
        "healthy" if ping.status in ("connected", "busy") else "degraded"
    )
    kept = svc.conversations
    store = StoreState(kept.status if kept is not None else "unavailable")
    if kept is not None and kept.error is not None:
        store.error = kept.error
        kept.probe_soon()
    if store.status != "ok":
        status = "degraded"
    if not svc.roots.roots:
        status = "unhealthy"
    backend = svc.backend
    model_server = ModelServer(
        backend.kind, backend.url, backend.label, backend.display_name, ping.status, ping.latency_ms, ping.error
    )
    services = HealthServices(
        ollama=ping,
        model_server=model_server,
        mcp_server=McpState("connected" if svc.mcp_enabled else "disabled"),
        conversations=store,
    )
    return ok(request, Health(status, __version__, services, _index_totals(svc)))


@get("/status", summary="Version, uptime, the model server and every repository's index")
async def get_status(request: Req, svc: Svc) -> Envelope[Status]:
    reach = await svc.watch.current()
    ping = _state(reach)
    models = await svc.watch.known_models() if ping.status != "unavailable" else []
    repos = []
    known = {index.repo_path: index for index in svc.indexes.known()}
    for root in svc.roots.roots:
        index = known.get(root.path)
        if index is None:  # not used yet: indexed when first used (or with --index-on-start)
            repos.append(IndexStats(root.path, "idle", 0.0, 0, 0, {}, None, None))
            continue
        stats = index.stats()
        last = stats["last_indexed"]
        stats["last_indexed"] = None if last is None else timestamp(float(last))
        repos.append(msgspec.convert(stats, IndexStats))
    return ok(
        request,
        Status(
            version=__version__,
            uptime_seconds=round(time.time() - svc.started, 1),
            backend=Backend(svc.backend.kind, svc.backend.url, reach.version, ping.status),
            default_model=default_model(svc.settings.model, models),
            repos=repos,
        ),
    )
