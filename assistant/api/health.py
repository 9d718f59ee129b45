"""Is it up, and what does it serve: GET /health (never needs the API key) and GET /status."""

from __future__ import annotations

import time
from typing import Any

from litestar import Request, Response, get

from assistant import __version__
from assistant.backends import Reachability, default_model
from assistant.services import Services, services

from .envelope import ok, timestamp


def _state(reach: Reachability) -> dict[str, Any]:
    """The model server as /health shows it (``services.ollama`` and ``services.model_server``)."""
    status = "unavailable" if reach.status == "unknown" else reach.status
    out: dict[str, Any] = {"status": status, "latency_ms": reach.latency_ms if status != "unavailable" else None}
    if reach.error is not None and status != "connected":
        out["error"] = reach.error
    return out


def _index_totals(svc: Services) -> dict[str, int]:
    totals = [index.totals() for index in svc.indexes.known()]
    return {
        "repos": len(svc.roots.roots),
        "files": sum(files for files, _ in totals),
        "symbols": sum(symbols for _, symbols in totals),
    }


@get("/health", summary="Is the server up, and can it reach the model server? (never needs auth)")
async def get_health(request: Request[Any, Any, Any]) -> Response[bytes]:
    svc = services(request)
    ping = _state(await svc.watch.current())
    status = "healthy" if ping["status"] in ("connected", "busy") else "degraded"
    kept = svc.conversations
    conversations: dict[str, Any] = {"status": kept.status if kept is not None else "unavailable"}
    if kept is not None and kept.error is not None:
        conversations["error"] = kept.error
        kept.probe_soon()
    if conversations["status"] != "ok":
        status = "degraded"
    if not svc.roots.roots:
        status = "unhealthy"
    backend = svc.backend
    model_server = {
        "kind": backend.kind,
        "url": backend.url,
        "label": backend.label,
        "name": backend.display_name,
        **ping,
    }
    return ok(
        request,
        {
            "status": status,
            "version": __version__,
            "services": {
                "ollama": ping,
                "model_server": model_server,
                "mcp_server": {"status": "connected" if svc.mcp_enabled else "disabled"},
                "conversations": conversations,
            },
            "index": _index_totals(svc),
        },
    )


@get("/status", summary="Version, uptime, the model server and every repository's index")
async def get_status(request: Request[Any, Any, Any]) -> Response[bytes]:
    svc = services(request)
    reach = await svc.watch.current()
    ping = _state(reach)
    models = await svc.watch.known_models() if ping["status"] != "unavailable" else []
    repos = []
    for index in svc.indexes.known():
        stats = index.stats()
        last = stats["last_indexed"]
        stats["last_indexed"] = None if last is None else timestamp(float(last))
        repos.append(stats)
    return ok(
        request,
        {
            "version": __version__,
            "uptime_seconds": round(time.time() - svc.started, 1),
            "backend": {
                "kind": svc.backend.kind,
                "url": svc.backend.url,
                "version": reach.version,
                "status": ping["status"],
            },
            "default_model": default_model(svc.settings.model, models),
            "repos": repos,
        },
    )
