"""The models of the model server: GET /models; POST /models/pull; DELETE /models/{name}."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any

import msgspec
from litestar import delete, get, post
from litestar.params import JSONBody, PathParameter
from litestar.response import Stream
from msgspec import Struct

from assistant.backends import ModelInfo, default_model
from assistant.errors import AssistantError

from .envelope import Envelope, Req, Svc, ok, strict_body
from .sse import finished, sse, sse_stream

log = logging.getLogger("assistant.api")


class Details(Struct):
    family: str | None
    parameter_size: str | None
    quantization_level: str | None


class Model(Struct):
    """An installed model (``size``, ``modified_at`` and ``digest`` are null where the server does
    not say; an OpenAI-compatible server lists no capabilities)."""

    name: str
    size: int | None
    modified_at: str | None
    digest: str | None
    details: Details
    capabilities: list[str]


class Models(Struct):
    models: list[Model]
    default_model: str | None
    can_pull: bool


class Deleted(Struct):
    model: str
    deleted: bool


def _model(info: ModelInfo) -> Model:
    details = Details(*(info.details.get(k) for k in ("family", "parameter_size", "quantization_level")))
    return Model(info.name, info.size, info.modified_at, info.digest, details, list(info.capabilities))


@get("/models", summary="The installed models, their capabilities and the default choice")
async def get_models(request: Req, svc: Svc) -> Envelope[Models]:
    models = await svc.backend.list_models()
    return ok(
        request,
        Models([_model(m) for m in models], default_model(svc.settings.model, models), svc.backend.can_pull),
    )


class PullBody(msgspec.Struct):
    """Body of POST /models/pull."""

    model: Annotated[str, msgspec.Meta(min_length=1, pattern=r"\S")]


@post("/models/pull", summary="Pull a model; progress streams as server-sent events", status_code=200)
async def post_models_pull(request: Req, svc: Svc, data: JSONBody[PullBody]) -> Stream:
    data = await strict_body(request, data)
    if not data.model.strip():
        raise AssistantError("invalid_parameter", "`model` must name a model, e.g. qwen2.5-coder:7b", param="model")
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
        svc.events.publish("model.pulled", model=data.model)
        yield sse({"type": "done"})

    return sse_stream(finished(events(), source), svc.settings.keepalive_seconds, svc.stopping)


@delete("/models/{name:path}", summary="Remove a model (names may contain / and :)", status_code=200)
async def delete_model(request: Req, svc: Svc, name: Annotated[str, PathParameter()]) -> Envelope[Deleted]:
    model = name.lstrip("/")
    if not model:
        raise AssistantError("missing_parameter", "name the model to delete in the path", param="name")
    await svc.backend.delete(model)
    svc.events.publish("model.deleted", model=model)
    return ok(request, Deleted(model, True))
