"""A fake Ollama server speaking the real wire protocol (JSON and chunked NDJSON) on loopback.

Used by tests and demos alike instead of mocks. Script it per test:

    fake.chat_script([{"message": {"role": "assistant", "content": "Hi"}}, DONE])
    fake.slow = 0.5            # delay before every answer
    fake.hang = True           # accept, then never answer
    fake.drop_after = 2        # close the connection after 2 streamed chunks
    fake.down() / fake.up()    # stop / resume listening on the same port

It records every request (``requests``) and when a client went away mid-stream
(``disconnects``).
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

DONE: dict[str, Any] = {"done": True, "done_reason": "stop", "prompt_eval_count": 10, "eval_count": 5}

DEFAULT_MODELS: list[dict[str, Any]] = [
    {
        "name": "llama3.2:3b",
        "model": "llama3.2:3b",
        "modified_at": "2026-01-10T10:00:00Z",
        "size": 2019393189,
        "digest": "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72",
        "details": {
            "format": "gguf",
            "family": "llama",
            "families": ["llama"],
            "parameter_size": "3.2B",
            "quantization_level": "Q4_K_M",
        },
    },
    {
        "name": "qwen2.5-coder:7b",
        "model": "qwen2.5-coder:7b",
        "modified_at": "2026-01-09T15:00:00Z",
        "size": 4683087332,
        "digest": "2b0496514337a3d5901f1d253d01726c890b721e891335a56d6e08cedf3e2cb0",
        "details": {
            "format": "gguf",
            "family": "qwen2",
            "families": ["qwen2"],
            "parameter_size": "7.6B",
            "quantization_level": "Q4_K_M",
        },
    },
    {
        "name": "codellama:7b",
        "model": "codellama:7b",
        "modified_at": "2026-01-08T15:00:00Z",
        "size": 3825910662,
        "digest": "8fdf8f752f6e80de33e82f381aba784c025982752cd1ae9377add66449d2225f",
        "details": {
            "format": "gguf",
            "family": "llama",
            "families": ["llama"],
            "parameter_size": "7B",
            "quantization_level": "Q4_0",
        },
    },
]

CAPABILITIES = {
    "llama3.2:3b": ["completion", "tools"],
    "qwen2.5-coder:7b": ["completion", "tools", "insert"],
    "codellama:7b": ["completion"],
}
CONTEXT = {"llama3.2:3b": 131072, "qwen2.5-coder:7b": 32768, "codellama:7b": 16384}


def pull_progress(model: str) -> list[dict[str, Any]]:
    digest = "sha256:" + "ab" * 32
    steps: list[dict[str, Any]] = [{"status": "pulling manifest"}]
    for done in (0, 400, 800, 1000):
        steps.append({"status": f"pulling {digest[7:19]}", "digest": digest, "total": 1000, "completed": done})
    steps += [{"status": "verifying sha256 digest"}, {"status": "writing manifest"}, {"status": "success"}]
    return steps


@dataclass
class Recorded:
    method: str
    path: str
    body: Any
    at: float


@dataclass
class FakeOllama:
    """The fake server (see the module docstring)."""

    models: list[dict[str, Any]] = field(default_factory=lambda: [dict(m) for m in DEFAULT_MODELS])
    slow: float = 0.0
    hang: bool = False
    drop_after: int | None = None
    chunk_delay: float = 0.0
    pull_error_after: int | None = None
    pull_script: list[Any] | None = None  # what a pull streams instead of its progress (as chat scripts)
    echo_chunks: int | None = None  # unscripted chats echo the last user message in this many chunks
    requests: list[Recorded] = field(default_factory=list)
    disconnects: list[tuple[str, float]] = field(default_factory=list)
    port: int = 0

    def __post_init__(self) -> None:
        self._scripts: deque[Iterable[Any]] = deque()
        self._server: ThreadingHTTPServer | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()

    # -- control ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def chat_script(self, *responses: Iterable[Any]) -> None:
        """Queue chat answers: each a list (or any iterable, endless ones too) of NDJSON chunks
        (dicts), delays (numbers) and raw bytes written as they are."""
        self._scripts.extend(responses)

    def next_script(self, body: dict[str, Any]) -> Iterable[Any]:
        """The next queued chat answer, or an echo of the last user message (``echo_chunks``)."""
        return self._scripts.popleft() if self._scripts else _echo(body, self.echo_chunks)

    def received(self, path: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    handler: type[BaseHTTPRequestHandler] | None = None  # set by subclasses speaking another protocol

    def start(self) -> Self:
        fake = self

        class Handler(self.handler or _Handler):  # type: ignore[misc]
            owner = fake

        self._stop.clear()
        self._server = _Server(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def down(self) -> None:
        """Stop listening (connections are refused) but keep the port number for ``up``."""
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def up(self) -> None:
        self.start()

    stop = down

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.down()


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # the default backlog of 5 refuses bursts a real Ollama accepts
    allow_reuse_address = True


class _Handler(BaseHTTPRequestHandler):
    owner: FakeOllama
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def setup(self) -> None:
        super().setup()
        # headers and body go out in separate writes: without this, Nagle's algorithm and
        # delayed ACKs add 40 ms to every answer, as they would not with the real Ollama
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # -- plumbing ---------------------------------------------------------------------------

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw) if raw else None
        except json.JSONDecodeError:
            return raw.decode("latin-1")

    def _record(self, body: Any) -> None:
        with self.owner._lock:
            self.owner.requests.append(Recorded(self.command, self.path, body, time.monotonic()))

    def _accept(self) -> dict[str, Any] | None:
        """Read and record the request, then apply the slow/hang switches. Returns the JSON
        body (``{}`` when there is none or it is not an object), or ``None`` if the client left."""
        body = self._body() if self.command != "GET" else None
        self._record(body)
        if not self._gate():
            return None
        return body if isinstance(body, dict) else {}

    def _client_gone(self) -> bool:
        readable, _, _ = select.select([self.connection], [], [], 0)
        if not readable:
            return False
        try:
            return bool(self.connection.recv(1, socket.MSG_PEEK) == b"")
        except OSError:
            return True

    def _wait(self, seconds: float) -> bool:
        """Sleep, watching for the client to go away (returns False if it did)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self._client_gone() or self.owner._stop.is_set():
                return False
            time.sleep(min(0.02, max(0.0, deadline - time.monotonic())))
        return True

    def _json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _encode(self, item: Any) -> bytes:
        if isinstance(item, bytes):  # raw bytes, as a misbehaving server sends them
            return item
        return json.dumps(item).encode() + b"\n"

    def _finish(self) -> None:
        """Called after the last item of a stream (a subclass may add a trailer)."""

    def _stream(self, what: str, items: Iterable[Any], content_type: str = "application/x-ndjson") -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        sent = 0
        try:
            for item in items:
                if isinstance(item, (int, float)) and not isinstance(item, bool):
                    if not self._wait(float(item)):
                        raise BrokenPipeError
                    continue
                if self.owner.chunk_delay and sent and not self._wait(self.owner.chunk_delay):
                    raise BrokenPipeError
                if self.owner.drop_after is not None and sent >= self.owner.drop_after:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                line = self._encode(item)
                self.wfile.write(f"{len(line):X}\r\n".encode() + line + b"\r\n")
                self.wfile.flush()
                sent += 1
            self._finish()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            with self.owner._lock:
                self.owner.disconnects.append((what, time.monotonic()))
            self.close_connection = True

    def _gate(self) -> bool:
        """Apply the slow and hang switches; False if the client left meanwhile."""
        if self.owner.hang:
            while not self.owner._stop.is_set():
                if self._client_gone():
                    with self.owner._lock:
                        self.owner.disconnects.append((self.path, time.monotonic()))
                    return False
                time.sleep(0.02)
            return False
        return not (self.owner.slow and not self._wait(self.owner.slow))

    def _model_named(self, name: str) -> dict[str, Any] | None:
        for model in self.owner.models:
            if name in (model["name"], model["name"].removesuffix(":latest")) or model["name"] == f"{name}:latest":
                return model
        return None

    # -- endpoints ---------------------------------------------------------------------------

    def do_GET(self) -> None:
        if self._accept() is None:
            return
        if self.path == "/api/tags":
            self._json(200, {"models": self.owner.models})
        elif self.path == "/api/version":
            self._json(200, {"version": "0.9.9-fake"})
        else:
            self._json(404, {"error": "not found"})

    def do_DELETE(self) -> None:
        body = self._accept()
        if body is None:
            return
        name = body.get("model") or body.get("name") or ""
        model = self._model_named(name)
        if self.path != "/api/delete" or model is None:
            self._json(404, {"error": f"model '{name}' not found"})
            return
        self.owner.models.remove(model)
        self._json(200, {})

    def do_POST(self) -> None:
        body = self._accept()
        if body is None:
            return
        name = body.get("model") or body.get("name") or ""
        if self.path == "/api/show":
            model = self._model_named(name)
            if model is None:
                self._json(404, {"error": f"model '{name}' not found"})
                return
            family = model["details"]["family"]
            self._json(
                200,
                {
                    "details": model["details"],
                    "model_info": {
                        f"{family}.context_length": CONTEXT.get(model["name"], 8192),
                        "general.architecture": family,
                    },
                    "capabilities": CAPABILITIES.get(model["name"], ["completion"]),
                    "modified_at": model["modified_at"],
                },
            )
        elif self.path == "/api/pull":
            steps: list[Any] = (
                list(self.owner.pull_script) if self.owner.pull_script is not None else pull_progress(name)
            )
            if self.owner.pull_error_after is not None:
                steps = [*steps[: self.owner.pull_error_after], {"error": "pull model manifest: file does not exist"}]
            self._stream("pull", steps)
            if self.owner.pull_error_after is None and self._model_named(name) is None:
                self.owner.models.append({**DEFAULT_MODELS[0], "name": name, "model": name})
        elif self.path == "/api/chat":
            if self._model_named(name) is None:
                self._json(404, {"error": f"model '{name}' not found, try pulling it first"})
                return
            script = self.owner.next_script(body)
            chunks = (_chat_chunk(name, item) for item in script)
            if body.get("stream", True):
                self._stream("chat", chunks)
            else:
                self._json(200, _merge(name, list(chunks)))
        else:
            self._json(404, {"error": "not found"})


def _echo(body: dict[str, Any], chunks: int | None) -> list[Any]:
    if chunks is None:
        return [{"message": {"role": "assistant", "content": "(no script)"}}, DONE]
    last = next((m.get("content") or "" for m in reversed(body.get("messages", [])) if m.get("role") == "user"), "")
    step = max(1, -(-len(last) // chunks))
    parts = [last[i : i + step] for i in range(0, len(last), step)] or [""]
    return [{"message": {"role": "assistant", "content": part}} for part in parts] + [DONE]


def _chat_chunk(model: str, item: Any) -> Any:
    if not isinstance(item, dict):
        return item
    chunk = {"model": model, "created_at": "2026-01-11T12:00:00Z", "done": False, **item}
    chunk.setdefault("message", {"role": "assistant", "content": ""})
    return chunk


def _merge(model: str, chunks: list[Any]) -> dict[str, Any]:
    content = "".join(c.get("message", {}).get("content", "") for c in chunks if isinstance(c, dict))
    calls = [call for c in chunks if isinstance(c, dict) for call in c.get("message", {}).get("tool_calls", [])]
    last = next((c for c in reversed(chunks) if isinstance(c, dict) and c.get("done")), DONE)
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = calls
    return {**last, "model": model, "message": message}
