"""The model-server seam: one small abstract class.

``list_models`` and ``chat`` are what every backend must do; ``pull``, ``delete`` and ``show``
raise ``not_supported`` unless a backend overrides them. Every failure leaves a backend as a
``BackendError`` carrying one of our codes (``ollama_unavailable``, ``ollama_model_not_found``,
``ollama_error``, ``ollama_timeout``, ``not_supported``); the codes keep the reference API's
names whatever the backend, and the message names the backend.
"""

from __future__ import annotations

import abc
import asyncio
import re
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from assistant.errors import BackendError
from assistant.types import Message


def valid_text(text: str) -> str:
    """``text`` with any lone surrogate (a model server may send ``"\\ud800"`` in its JSON)
    replaced by U+FFFD: such a string cannot be encoded as UTF-8, so it would fail the answer."""
    if text.isascii():
        return text
    return _SURROGATE.sub("\ufffd", text)


_SURROGATE = re.compile("[\ud800-\udfff]")


def valid_value(value: Any) -> Any:
    """``valid_text`` applied to every string in a JSON-like value (keys included)."""
    if isinstance(value, str):
        return valid_text(value)
    if isinstance(value, dict):
        return {valid_value(k): valid_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [valid_value(v) for v in value]
    return value


@dataclass(frozen=True)
class Timeouts:
    """Model-call timeouts in seconds: connect 5; first token 300 (the model may be
    loading); 120 between chunks; 10 for requests that load no model (list, show, delete)."""

    connect: float = 5.0
    first_token: float = 300.0
    between_chunks: float = 120.0
    request: float = 10.0
    answer: float = 900.0  # one whole model round, however it trickles in


MAX_LINE_BYTES = 8 << 20  # one NDJSON or SSE line from the model server
MAX_ANSWER_CHARS = 1 << 20  # content of one model round; past it the round ends as "length"


class _CappedLines(httpx.AsyncByteStream):
    """A response body that fails once a line grows past ``MAX_LINE_BYTES`` without a newline
    (the clients buffer a line whole before parsing it)."""

    def __init__(self, inner: httpx.AsyncByteStream) -> None:
        self._inner = inner

    async def __aiter__(self) -> AsyncIterator[bytes]:
        run = 0  # bytes since the last newline
        async for chunk in self._inner:
            newline = chunk.rfind(b"\n")
            run = len(chunk) - newline - 1 if newline >= 0 else run + len(chunk)
            if run > MAX_LINE_BYTES:
                raise BackendError(
                    "ollama_error",
                    f"the model server sent a line of over {MAX_LINE_BYTES >> 20} MB; the answer was stopped",
                )
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


DEFAULT_CONNECTIONS = 100  # httpx's own default pool


class CappedTransport(httpx.AsyncBaseTransport):
    """httpx's transport, with every response body read through ``_CappedLines``, and a pool of
    ``connections`` (one per answer streaming at once, so it is sized from the chats allowed)."""

    def __init__(self, connections: int = DEFAULT_CONNECTIONS) -> None:
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=min(connections, 100))
        self._inner = httpx.AsyncHTTPTransport(limits=limits)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _CappedLines(response.stream)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


@dataclass(frozen=True)
class ModelInfo:
    """One installed model."""

    name: str
    size: int | None = None
    modified_at: str | None = None
    digest: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    capabilities: tuple[str, ...] = ()
    context_length: int | None = None

    @property
    def supports_tools(self) -> bool:
        return "tools" in self.capabilities

    @property
    def native_tools(self) -> bool:
        """Offer tools through the API's tool field: the model supports them, or the server
        does not say (an OpenAI-compatible server lists no capabilities)."""
        return self.supports_tools or not self.capabilities

    def to_dict(self) -> dict[str, Any]:
        details = {k: self.details.get(k) for k in ("family", "parameter_size", "quantization_level")}
        return {
            "name": self.name,
            "size": self.size,
            "modified_at": self.modified_at,
            "digest": self.digest,
            "details": details,
            "capabilities": list(self.capabilities),
        }


ReachStatus = Literal["unknown", "connected", "busy", "unavailable"]


class Reachability:
    """What the exchanges with the model server said last: every request, every chunk of an
    answer, and the probes of ``/health`` report here, so the server knows whether its model
    server is up without asking it again (a server busy generating is slow to answer a probe,
    and is not down). ``listeners`` are told when it goes up or down."""

    def __init__(self) -> None:
        self.status: ReachStatus = "unknown"
        self.error: str | None = None
        self.latency_ms: float | None = None
        self.version: str | None = None
        self.streams = 0  # answers streaming from it right now
        self.listeners: list[Callable[[ReachStatus, str | None], None]] = []

    def _set(self, status: ReachStatus, error: str | None) -> None:
        was_up = self.status in ("connected", "busy")
        self.status, self.error = status, error
        if was_up != (status in ("connected", "busy")) or self.status == "unknown":
            for listener in self.listeners:
                listener(status, error)

    def succeeded(self, latency_ms: float | None = None, version: str | None = None) -> None:
        if latency_ms is not None:
            self.latency_ms = latency_ms
        if version is not None:
            self.version = version
        if self.status != "connected":
            self._set("connected", None)

    def failed(self, error: BackendError) -> None:
        """A request failed: the server is down, or (a timeout while it streams) busy."""
        if error.code == "ollama_timeout" and self.streams:
            self._set("busy", error.message)
        elif error.code in ("ollama_unavailable", "ollama_timeout"):
            self.latency_ms = None
            self._set("unavailable", error.message)


@contextmanager
def transport_errors(backend: ModelBackend) -> Iterator[None]:
    """Map what can go wrong on the wire to our codes (the message names the server, and says
    what to do when nothing answers); the outcome is noted in ``backend.reach``."""
    display_name = backend.display_name
    try:
        try:
            yield
        except BackendError:
            raise
        except (httpx.ConnectError, ConnectionError):
            raise BackendError(
                "ollama_unavailable", f"{display_name} cannot be reached. {backend.unreachable_hint}"
            ) from None
        except (TimeoutError, httpx.TimeoutException):
            raise BackendError("ollama_timeout", f"{display_name} did not answer in time") from None
        except (httpx.RemoteProtocolError, httpx.ReadError):
            raise BackendError("ollama_error", f"{display_name} closed the connection unexpectedly") from None
        except (httpx.HTTPError, ValueError) as exc:  # ValueError: a malformed answer
            raise BackendError("ollama_error", f"{display_name} failed: {exc}") from None
    except BackendError as exc:
        backend.reach.failed(exc)
        raise
    backend.reach.succeeded()


CODE_HINTS = ("coder", "code")


def default_model(configured: str | None, models: list[ModelInfo]) -> str | None:
    """The configured model, else a code-focused model that supports tools, else the first."""
    if configured:
        return configured
    for info in models:
        if info.supports_tools and any(hint in info.name.lower() for hint in CODE_HINTS):
            return info.name
    return models[0].name if models else None


@dataclass(frozen=True)
class ToolCallRequest:
    """A tool call as the model asked for it (whole: name and parsed arguments)."""

    name: str
    arguments: dict[str, Any]

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", valid_text(self.name))
        object.__setattr__(self, "arguments", valid_value(self.arguments))


@dataclass
class ChatChunk:
    """One piece of a streamed answer."""

    content: str = ""
    tool_calls: list[ToolCallRequest] = field(default_factory=list)
    done: bool = False
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None

    def __post_init__(self) -> None:
        self.content = valid_text(self.content)


@dataclass
class ChatRequest:
    """One model round."""

    model: str
    messages: list[Message]
    temperature: float
    max_tokens: int
    tools: list[dict[str, Any]] | None = None
    num_ctx: int | None = None
    seed: int | None = None


class ModelBackend(abc.ABC):
    """A model server: Ollama, or anything that speaks the OpenAI API."""

    kind: str = "backend"
    display_name: str = "the model server"  # names the server in messages: "Ollama at http://…"
    label: str = "model server"  # the server's kind in a few words: "Ollama", "llama.cpp"
    unreachable_hint: str = "Start it, or point this server at another with its flags."
    can_pull: bool = False  # whether ``pull`` and ``delete`` work (the UI offers Pull… only then)
    install_hint: str = "load one in that server"  # how a model gets there, when none is

    def __init__(self, url: str, timeouts: Timeouts | None = None, connections: int = DEFAULT_CONNECTIONS) -> None:
        """``connections``: how many requests may be open to the server at once (each streaming
        answer holds one for its whole length)."""
        self.url = url
        self.timeouts = timeouts or Timeouts()
        self.connections = connections
        self.reach = Reachability()
        self.resolved: dict[str, ModelInfo] = {}  # what the server last said of a model a chat asked for

    @abc.abstractmethod
    async def list_models(self) -> list[ModelInfo]:
        """The installed models, with capabilities where the server tells them."""

    @abc.abstractmethod
    def chat(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        """Stream one round. Closing the iterator closes the upstream request."""

    async def answer(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        """``chat`` within bounds whatever the server does: the first chunk within the
        first-token timeout and the whole round within ``timeouts.answer`` (a server dripping a
        byte a second beats a per-read timeout), at most ``MAX_ANSWER_CHARS`` of content (then
        the round ends as ``length``), and a stream that carries nothing at all is an error,
        not an empty answer."""
        loop = asyncio.get_running_loop()
        ends = loop.time() + self.timeouts.answer
        stream = self.chat(request).__aiter__()
        received = False
        size = 0
        self.reach.streams += 1
        try:
            while True:
                try:
                    if received:  # each wait is bounded by the backend's between-chunks timeout
                        chunk = await stream.__anext__()
                    else:
                        async with asyncio.timeout(max(0.0, min(ends - loop.time(), self.timeouts.first_token))):
                            chunk = await stream.__anext__()
                except StopAsyncIteration:
                    break
                except TimeoutError:
                    what = "finish its answer" if received else "start its answer"
                    raise BackendError("ollama_timeout", f"{self.display_name} did not {what} in time") from None
                if loop.time() > ends:  # a timer per chunk would cost more than the check
                    raise BackendError("ollama_timeout", f"{self.display_name} did not finish its answer in time")
                if not received:
                    self.reach.succeeded()
                received = True
                size += len(chunk.content)
                if size > MAX_ANSWER_CHARS:
                    chunk.content = chunk.content[: len(chunk.content) - (size - MAX_ANSWER_CHARS)]
                    chunk.done, chunk.finish_reason = True, "length"
                    yield chunk
                    return
                yield chunk
        finally:
            self.reach.streams -= 1
            await stream.aclose()  # type: ignore[attr-defined]
        if not received:
            raise BackendError("ollama_error", f"{self.display_name} returned an empty answer")

    def pull(self, model: str) -> AsyncIterator[dict[str, Any]]:
        """Stream normalised progress of downloading a model."""
        raise self.not_supported("pulling models")

    async def delete(self, model: str) -> None:
        raise self.not_supported("deleting models")

    async def show(self, model: str) -> ModelInfo:
        """Details of one model (capabilities, context length)."""
        for info in await self.list_models():
            if info.name == model:
                return info
        raise BackendError(
            "ollama_model_not_found", f"model {model!r} is not installed on {self.display_name}", param="model"
        )

    async def version(self) -> str | None:
        """The server's version, if it says (also a cheap reachability check)."""
        await self.list_models()
        return None

    async def aclose(self) -> None:  # noqa: B027 - concrete on purpose: most backends hold nothing to release
        """Release connections."""

    def not_supported(self, what: str) -> BackendError:
        return BackendError("not_supported", f"{self.display_name} ({self.kind} backend) does not support {what}")
