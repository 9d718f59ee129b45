"""Health, status and the model server: GET /health, /status, /models; POST /models/pull;
DELETE /models/{name}."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, delete, get, post
from litestar.params import JSONBody, PathParameter
from litestar.response import Stream

from assistant import __version__
from assistant.backends import ModelBackend, ModelInfo, default_model
from assistant.errors import AssistantError, BackendError
from assistant.services import Services, services
from assistant.streaming import finished, sse, sse_stream

from .envelope import ok, strict_body, timestamp

log = logging.getLogger("assistant.api")


async def _ping(backend: ModelBackend) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        version = await backend.version()
    except BackendError as exc:
        return {"status": "unavailable", "latency_ms": None, "error": exc.message, "version": None}
    return {"status": "connected", "latency_ms": round((time.perf_counter() - started) * 1000, 1), "version": version}


def _index_totals(svc: Services) -> dict[str, int]:
    stats = [index.stats() for index in svc.indexes.known()]
    return {
        "repos": len(svc.roots.roots),
        "files": sum(int(s["files_indexed"]) for s in stats),  # type: ignore[call-overload]
        "symbols": sum(int(s["symbols"]) for s in stats),  # type: ignore[call-overload]
    }


@get("/health", summary="Is the server up, and can it reach the model server? (never needs auth)")
async def get_health(request: Request[Any, Any, Any]) -> Response[bytes]:
    svc = services(request)
    ping = await _ping(svc.backend)
    ping.pop("version")
    status = "healthy" if ping["status"] == "connected" else "degraded"
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
            },
            "index": _index_totals(svc),
        },
    )


@get("/status", summary="Version, uptime, the model server and every repository's index")
async def get_status(request: Request[Any, Any, Any]) -> Response[bytes]:
    svc = services(request)
    ping = await _ping(svc.backend)
    models: list[ModelInfo] = []
    if ping["status"] == "connected":
        try:
            models = await svc.backend.list_models()
        except BackendError:
            models = []
    repos = []
    for index in svc.indexes.known():
        stats = index.stats()
        last = stats["last_indexed"]
        stats["last_indexed"] = None if last is None else timestamp(float(last))  # type: ignore[arg-type]
        repos.append(stats)
    return ok(
        request,
        {
            "version": __version__,
            "uptime_seconds": round(time.time() - svc.started, 1),
            "backend": {
                "kind": svc.backend.kind,
                "url": svc.backend.url,
                "version": ping["version"],
                "status": ping["status"],
            },
            "default_model": default_model(svc.settings.model, models),
            "repos": repos,
        },
    )


@get("/models", summary="The installed models, their capabilities and the default choice")
async def get_models(request: Request[Any, Any, Any]) -> Response[bytes]:
    svc = services(request)
    models = await svc.backend.list_models()
    return ok(
        request, {"models": [m.to_dict() for m in models], "default_model": default_model(svc.settings.model, models)}
    )


class PullBody(msgspec.Struct):
    """Body of POST /models/pull."""

    model: Annotated[str, msgspec.Meta(min_length=1, pattern=r"\S")]


@post("/models/pull", summary="Pull a model; progress streams as server-sent events", status_code=200)
async def post_models_pull(request: Request[Any, Any, Any], data: JSONBody[PullBody]) -> Stream:
    data = await strict_body(request, data)
    if not data.model.strip():
        raise AssistantError("invalid_parameter", "`model` must name a model, e.g. qwen2.5-coder:7b", param="model")
    svc = services(request)
    source = svc.backend.pull(data.model).__aiter__()
    try:  # errors before the first progress line are answered as an envelope
        first: dict[str, Any] | None = await source.__anext__()
    except StopAsyncIteration:
        first = None

    async def events() -> AsyncIterator[bytes]:
        if first is not None:
            yield sse(first)
        async for event in source:
            yield sse(event)
        yield sse({"type": "done"})

    return sse_stream(finished(events(), source), svc.settings.keepalive_seconds, svc.stopping)


@delete("/models/{name:path}", summary="Remove a model (names may contain / and :)", status_code=200)
async def delete_model(request: Request[Any, Any, Any], name: Annotated[str, PathParameter()]) -> Response[bytes]:
    model = name.lstrip("/")
    if not model:
        raise AssistantError("missing_parameter", "name the model to delete in the path", param="name")
    await services(request).backend.delete(model)
    return ok(request, {"model": model, "deleted": True})
