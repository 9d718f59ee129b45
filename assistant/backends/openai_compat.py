"""OpenAICompatBackend: llama.cpp's server, LM Studio, vLLM, or anything speaking the OpenAI API."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager
from typing import Any

import httpx

from assistant.errors import BackendError
from assistant.types import Message

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

log = logging.getLogger("assistant.backends")


class OpenAICompatBackend(ModelBackend):
    """Chat with native tool calls (streamed tool-call deltas assembled by index).

    Some servers refuse to stream when tools are offered (llama.cpp's server with
    ``tool_choice: auto`` answers 200 with an empty body): a stream that carries nothing is a
    failure, so that round is asked again without streaming. Pulling and deleting models are
    ``not_supported``.
    """

    kind = "openai"
    label = "OpenAI-compatible server"
    unreachable_hint = (
        "Start your OpenAI-compatible server (llama.cpp, vLLM, LM Studio, …) there, or point this server at another "
        "with --base-url URL; for Ollama use --backend ollama."
    )

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        timeouts: Timeouts | None = None,
        connections: int = DEFAULT_CONNECTIONS,
    ) -> None:
        super().__init__(url.rstrip("/"), timeouts, connections)
        self.display_name = f"OpenAI-compatible server at {self.url}"  # until it says it is llama.cpp
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        t = self.timeouts
        self._client = httpx.AsyncClient(
            headers=headers,
            timeout=httpx.Timeout(max(t.first_token, t.between_chunks), connect=t.connect),
            transport=CappedTransport(connections),
        )
        self._refuses_streaming_tools: set[str] = set()  # models whose server would not stream with tools

    def _errors(self, model: str | None = None) -> AbstractContextManager[None]:
        return transport_errors(self)

    async def _check(self, response: httpx.Response, model: str | None = None) -> None:
        if response.status_code < 400:
            return
        await response.aread()
        try:
            error = response.json().get("error", {})
            message = error.get("message") if isinstance(error, dict) else str(error)
        except ValueError:
            message = response.text[:300]
        if response.status_code == 404 and model is not None:
            raise BackendError(
                "ollama_model_not_found", f"model {model!r} is not available on {self.display_name}", param="model"
            )
        raise BackendError("ollama_error", f"{self.display_name} answered {response.status_code}: {message}")

    async def list_models(self) -> list[ModelInfo]:
        with self._errors():
            response = await self._client.get(
                f"{self.url}/models", timeout=httpx.Timeout(self.timeouts.request, connect=self.timeouts.connect)
            )
            await self._check(response)
            data = response.json().get("data", [])
        if any(_is_llama_cpp(item) for item in data):
            self._name_server("llama.cpp")
        return [
            ModelInfo(name=str(item.get("id")), details={"family": item.get("owned_by")})
            for item in data
            if item.get("id")
        ]

    def _name_server(self, label: str) -> None:
        self.label = label
        self.display_name = f"{label} at {self.url}"

    async def version(self) -> str | None:
        await self.list_models()
        return None

    async def show(self, model: str) -> ModelInfo:
        for info in await self.list_models():
            if info.name == model:
                return info
        raise BackendError(
            "ollama_model_not_found", f"model {model!r} is not available on {self.display_name}", param="model"
        )

    def _body(self, request: ChatRequest, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": request.model,
            "messages": to_openai_messages(request.messages),
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
            "stream": stream,
        }
        if stream:
            body["stream_options"] = {"include_usage": True}
        if request.tools:
            body["tools"] = request.tools
            body["tool_choice"] = "auto"
        if request.seed is not None:
            body["seed"] = request.seed
        return body

    async def chat(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        refusing = bool(request.tools) and request.model in self._refuses_streaming_tools
        if not refusing:
            produced = False
            try:
                with self._errors(request.model):
                    async with self._client.stream(
                        "POST", f"{self.url}/chat/completions", json=self._body(request, True)
                    ) as response:
                        await self._check(response, request.model)
                        async for chunk in _read_stream(response, self.timeouts.between_chunks):
                            produced = True
                            yield chunk
            except BackendError as exc:
                # a stream that failed before carrying anything was refused, not answered
                if produced or exc.code != "ollama_error":
                    raise
                log.info("%s refused to stream (%s); asking again without streaming", self.display_name, exc.message)
            if produced:
                return
            if request.tools:
                self._refuses_streaming_tools.add(request.model)
        with self._errors(request.model):
            try:
                response = await self._client.post(f"{self.url}/chat/completions", json=self._body(request, False))
            except (httpx.RemoteProtocolError, httpx.ReadError):
                # the pooled connection was the one a refused stream broke: one fresh try
                response = await self._client.post(f"{self.url}/chat/completions", json=self._body(request, False))
            await self._check(response, request.model)
            payload = response.json()
        choices = payload.get("choices") or []
        if not choices:
            raise BackendError("ollama_error", f"{self.display_name} returned an empty answer")
        message = choices[0].get("message") or {}
        calls = [_call(c.get("function") or {}) for c in message.get("tool_calls") or []]
        usage = payload.get("usage") or {}
        yield ChatChunk(
            content=message.get("content") or "",
            tool_calls=[c for c in calls if c is not None],
            done=True,
            finish_reason="length" if choices[0].get("finish_reason") == "length" else "stop",
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
        )

    async def aclose(self) -> None:
        await self._client.aclose()


def _is_llama_cpp(model: dict[str, Any]) -> bool:
    """llama.cpp's server lists its model as owned by ``llamacpp`` (with ``meta``);
    llama-cpp-python's as owned by ``me`` with a ``permissions`` list; both serve GGUF files."""
    owner = model.get("owned_by")
    return (
        owner == "llamacpp" or (owner == "me" and "permissions" in model) or str(model.get("id", "")).endswith(".gguf")
    )


def _call(function: dict[str, Any]) -> ToolCallRequest | None:
    name = function.get("name")
    raw = function.get("arguments") or "{}"
    try:
        args = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError:
        args = {}
    return ToolCallRequest(name, args if isinstance(args, dict) else {}) if name else None


async def _read_stream(response: httpx.Response, between: float) -> AsyncIterator[ChatChunk]:
    """OpenAI SSE chunks -> ChatChunks; tool-call deltas are assembled by index."""
    pending: dict[int, dict[str, str]] = {}
    finish: str | None = None
    usage: dict[str, Any] = {}
    lines = response.aiter_lines().__aiter__()
    first = True
    while True:
        try:
            if first:
                line = await lines.__anext__()
                first = False
            else:
                async with asyncio.timeout(between):
                    line = await lines.__anext__()
        except StopAsyncIteration:
            break
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            break
        event = json.loads(data)
        if event.get("error"):
            message = event["error"].get("message") if isinstance(event["error"], dict) else event["error"]
            raise BackendError("ollama_error", f"the model server reported: {message}")
        usage = event.get("usage") or usage
        for choice in event.get("choices") or []:
            delta = choice.get("delta") or {}
            for call in delta.get("tool_calls") or []:
                slot = pending.setdefault(int(call.get("index", 0)), {"name": "", "arguments": ""})
                function = call.get("function") or {}
                slot["name"] += function.get("name") or ""
                slot["arguments"] += function.get("arguments") or ""
            if choice.get("finish_reason"):
                finish = choice["finish_reason"]
            if delta.get("content"):
                yield ChatChunk(content=delta["content"])
    if finish is None and not pending and not usage:
        return  # nothing at all: the caller falls back to a non-streamed request
    calls = [_call(pending[i]) for i in sorted(pending)]
    yield ChatChunk(
        tool_calls=[c for c in calls if c is not None],
        done=True,
        finish_reason="length" if finish == "length" else "stop",
        prompt_tokens=usage.get("prompt_tokens"),
        completion_tokens=usage.get("completion_tokens"),
    )


def to_openai_messages(messages: list[Message]) -> list[dict[str, Any]]:
    """Our (Ollama-shaped) history in OpenAI's shape: tool calls get ids, results point at them."""
    out: list[dict[str, Any]] = []
    waiting: list[str] = []
    for number, message in enumerate(messages):
        role = message["role"]
        if role == "assistant" and message.get("tool_calls"):
            calls = []
            waiting = []
            for index, call in enumerate(message["tool_calls"]):
                call_id = f"call_{number}_{index}"
                waiting.append(call_id)
                function = call.get("function", {})
                arguments = function.get("arguments", {})
                calls.append(
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {
                            "name": function.get("name"),
                            "arguments": json.dumps(arguments) if not isinstance(arguments, str) else arguments,
                        },
                    }
                )
            out.append({"role": "assistant", "content": message.get("content") or "", "tool_calls": calls})
        elif role == "tool":
            call_id = message.get("tool_call_id") or (waiting.pop(0) if waiting else f"call_{number}")
            out.append({"role": "tool", "tool_call_id": call_id, "content": message.get("content", "")})
        else:
            out.append({"role": role, "content": message.get("content", "")})
    return out
