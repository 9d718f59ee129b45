"""The models of the model server: GET /models; POST /models/pull; DELETE /models/{name}."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, delete, get, post
from litestar.params import JSONBody, PathParameter
from litestar.response import Stream

from assistant.backends import default_model
from assistant.errors import AssistantError
from assistant.services import services

from .envelope import ok, strict_body
from .sse import finished, sse, sse_stream

log = logging.getLogger("assistant.api")


@get("/models", summary="The installed models, their capabilities and the default choice")
async def get_models(request: Request[Any, Any, Any]) -> Response[bytes]:
    svc = services(request)
    models = await svc.backend.list_models()
    return ok(
        request,
        {
            "models": [m.to_dict() for m in models],
            "default_model": default_model(svc.settings.model, models),
            "can_pull": svc.backend.can_pull,
        },
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
