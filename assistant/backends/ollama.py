"""OllamaBackend: the official ``ollama`` AsyncClient with explicit timeouts and our error codes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import ollama

from assistant.errors import BackendError

from .base import (
    DEFAULT_CONNECTIONS,
    CappedTransport,
    ChatChunk,
    ChatRequest,
    ModelBackend,
    ModelInfo,
    Timeouts,
    ToolCallRequest,
    transport_errors,
)

SHOW_CACHE_SECONDS = 30.0


class OllamaBackend(ModelBackend):
    """Talks to Ollama. Nothing about its reachability is remembered between requests, so an
    Ollama started after this server is used as soon as it answers."""

    kind = "ollama"
    label = "Ollama"
    can_pull = True
    install_hint = "pull one first (Pull… in the web UI, or POST /api/v1/models/pull)"
    unreachable_hint = (
        "Start Ollama (ollama serve), then pull a model with Pull… in the web UI (or POST /api/v1/models/pull); "
        "or use any OpenAI-compatible server instead: --backend openai --base-url URL."
    )

    def __init__(self, url: str, timeouts: Timeouts | None = None, connections: int = DEFAULT_CONNECTIONS) -> None:
        super().__init__(url, timeouts, connections)
        self.display_name = f"Ollama at {url}"
        t = self.timeouts
        self._control = ollama.AsyncClient(
            host=url, timeout=httpx.Timeout(t.request, connect=t.connect), transport=CappedTransport(connections)
        )
        # a read may wait for the first token or between chunks (answer() bounds each as it should)
        streaming = httpx.Timeout(max(t.first_token, t.between_chunks), connect=t.connect)
        self._stream = ollama.AsyncClient(host=url, timeout=streaming, transport=CappedTransport(connections))
        self._show_cache: dict[tuple[str, str | None], tuple[float, ModelInfo]] = {}

    @contextmanager
    def _errors(self, model: str | None = None) -> Iterator[None]:
        with transport_errors(self):
            try:
                yield
            except ollama.ResponseError as exc:
                text = str(exc.error)
                if exc.status_code == 404 or ("not found" in text and model is not None):
                    raise BackendError(
                        "ollama_model_not_found",
                        f"model {model!r} is not installed on {self.display_name}; pull it first",
                        param="model",
                    ) from None
                raise BackendError("ollama_error", f"{self.display_name} answered with an error: {text}") from None
            except ollama.RequestError as exc:
                raise BackendError("ollama_error", f"{self.display_name} failed: {exc}") from None

    async def list_models(self) -> list[ModelInfo]:
        with self._errors():
            listing = await self._control.list()
        models = []
        for item in listing.models:
            name = item.model or ""
            info = await self._show_cached(name, item.digest)
            details = item.details.model_dump() if item.details is not None else {}
            models.append(
                ModelInfo(
                    name=name,
                    size=int(item.size) if item.size is not None else None,
                    modified_at=item.modified_at.isoformat() if item.modified_at else None,
                    digest=item.digest,
                    details=details,
                    capabilities=info.capabilities if info else (),
                    context_length=info.context_length if info else None,
                )
            )
        return models

    async def _show_cached(self, name: str, digest: str | None) -> ModelInfo | None:
        key = (name, digest)
        hit = self._show_cache.get(key)
        if hit is not None and time.monotonic() - hit[0] < SHOW_CACHE_SECONDS:
            return hit[1]
        try:
            info = await self.show(name)
        except BackendError as exc:
            if exc.code in ("ollama_unavailable", "ollama_timeout"):
                raise
            return None
        self._show_cache[key] = (time.monotonic(), info)
        return info

    async def show(self, model: str) -> ModelInfo:
        with self._errors(model):
            shown = await self._control.show(model)
        context = None
        for key, value in (shown.modelinfo or {}).items():
            if key.endswith(".context_length") and isinstance(value, int):
                context = value
        details = shown.details.model_dump() if shown.details is not None else {}
        return ModelInfo(
            name=model, details=details, capabilities=tuple(shown.capabilities or ()), context_length=context
        )

    async def version(self) -> str | None:
        # through the long-lived control client: a client made per probe builds a TLS context
        # first, tens of milliseconds of CPU on the event loop at every /health
        with self._errors():
            response = await self._control._client.get("/api/version")
            response.raise_for_status()
            return str(response.json().get("version"))

    async def pull(self, model: str) -> AsyncIterator[dict[str, Any]]:
        with self._errors(model):
            stream = await self._stream.pull(model, stream=True)
            async for event in _progressing(stream, self.timeouts.between_chunks, self.display_name):
                yield event

    async def delete(self, model: str) -> None:
        with self._errors(model):
            await self._control.delete(model)
        self._show_cache = {k: v for k, v in self._show_cache.items() if k[0] != model}
        self.resolved = {k: v for k, v in self.resolved.items() if v.name != model}

    async def chat(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        options: dict[str, Any] = {"temperature": request.temperature, "num_predict": request.max_tokens}
        if request.num_ctx:
            options["num_ctx"] = request.num_ctx
        if request.seed is not None:
            options["seed"] = request.seed
        with self._errors(request.model):
            stream = await self._stream.chat(
                model=request.model,
                messages=request.messages,
                tools=request.tools or None,
                stream=True,
                options=options,
            )
            async for part in _paced(stream, self.timeouts.between_chunks):
                message = part.message
                calls = [
                    ToolCallRequest(call.function.name, dict(call.function.arguments or {}))
                    for call in (message.tool_calls or [])
                ]
                chunk = ChatChunk(content=message.content or "", tool_calls=calls, done=bool(part.done))
                if part.done:
                    chunk.finish_reason = "length" if part.done_reason == "length" else "stop"
                    chunk.prompt_tokens = part.prompt_eval_count
                    chunk.completion_tokens = part.eval_count
                yield chunk

    async def aclose(self) -> None:
        for client in (self._control, self._stream):
            await client._client.aclose()


def _progress(part: Any) -> dict[str, Any]:
    """One pull progress line, normalised (docs/api.md): Ollama's ``pulling <digest>`` lines that
    carry a digest are ``{"status": "downloading", "digest", "completed", "total"}``."""
    status = str(part.status or "")
    digest = getattr(part, "digest", None)
    event: dict[str, Any] = {"status": "downloading" if digest and status.startswith("pulling ") else status}
    for key, value in (
        ("digest", digest),
        ("completed", getattr(part, "completed", None)),
        ("total", getattr(part, "total", None)),
    ):
        if value is not None:
            event[key] = value
    if event["status"] == "downloading":
        event.setdefault("completed", 0)
    return event


async def _progressing(stream: AsyncIterator[Any], between: float, server: str) -> AsyncIterator[dict[str, Any]]:
    """A pull's progress events, ended with ``ollama_timeout`` when none has said anything new for
    ``between`` seconds: a server dripping a byte a second (or repeating one line) makes no
    progress, however busy the connection looks."""
    loop = asyncio.get_running_loop()
    iterator = stream.__aiter__()
    last: dict[str, Any] | None = None
    deadline = loop.time() + between
    try:
        while True:
            try:
                async with asyncio.timeout_at(deadline):
                    part = await iterator.__anext__()
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise BackendError(
                    "ollama_timeout", f"{server} made no progress pulling for {between:g} s; the pull was stopped"
                ) from None
            event = _progress(part)
            if event != last:
                last, deadline = event, loop.time() + between
            yield event
    finally:
        closer = getattr(iterator, "aclose", None)
        if closer is not None:
            await closer()


async def _paced(stream: AsyncIterator[Any], between: float) -> AsyncIterator[Any]:
    """Enforce the between-chunks timeout (the first chunk is bounded by the read timeout)."""
    iterator = stream.__aiter__()
    first = True
    try:
        while True:
            try:
                if first:
                    item = await iterator.__anext__()
                    first = False
                else:
                    async with asyncio.timeout(between):  # a timer handle, not a task per chunk
                        item = await iterator.__anext__()
            except StopAsyncIteration:
                return
            yield item
    finally:
        closer = getattr(iterator, "aclose", None)
        if closer is not None:
            await closer()
