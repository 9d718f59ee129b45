"""Shared fixtures: repositories on disk, the app in-process, and the app under real uvicorn."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
import uvicorn
from litestar.testing import TestClient
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from assistant.app import create_app
from assistant.errors import ERROR_CODES
from assistant.server import uvicorn_config
from assistant.settings import Settings, load_settings
from sandbox import openat2_available
from tests.fakes.ollama import DONE, FakeOllama
from tests.sse import read

CANARY = b"CANARY-7f3a9e-do-not-leak"
OPEN_MODES = ["openat2", "walk"] if openat2_available() else ["walk"]


@dataclass
class Layout:
    """A repository with a secret file beside it (the canary) and an evil sibling."""

    base: Path
    repo: Path
    outside: Path
    canary: Path
    sibling: Path


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    base = tmp_path
    repo = base / "repo"
    outside = base / "outside"
    sibling = base / "repo-evil"
    for d in (repo / "src" / "pkg", outside, sibling, repo / ".git"):
        d.mkdir(parents=True)
    canary = outside / "secret.txt"
    canary.write_bytes(CANARY)
    (sibling / "secret.txt").write_bytes(CANARY)
    (repo / ".git" / "config").write_bytes(CANARY)
    (repo / "README.md").write_text("# Demo repo\n\nA small repository.\n")
    (repo / "src" / "main.py").write_text("def main():\n    return 42\n")
    (repo / "src" / "pkg" / "util.py").write_text("X = 1\n")
    return Layout(base, repo, outside, canary, sibling)


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    path = tmp_path / "cache"
    path.mkdir()
    return path


@pytest.fixture
def fake_ollama() -> Iterator[FakeOllama]:
    """A fake Ollama on a free loopback port, started."""
    fake = FakeOllama().start()
    yield fake
    fake.down()


@pytest.fixture(autouse=True, scope="session")
def _conversations_kept_apart(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Servers started as processes by the tests keep conversations in a temporary directory,
    never in the user's own data directory."""
    previous = os.environ.get("REPO_ASSISTANT_DATA_DIR")
    os.environ["REPO_ASSISTANT_DATA_DIR"] = str(tmp_path_factory.mktemp("data"))
    yield
    if previous is None:
        os.environ.pop("REPO_ASSISTANT_DATA_DIR", None)
    else:
        os.environ["REPO_ASSISTANT_DATA_DIR"] = previous


def make_settings(repo: Path | list[Path], **overrides: Any) -> Settings:
    repos = [str(r) for r in (repo if isinstance(repo, list) else [repo])]
    flags: dict[str, Any] = {"repo": repos, **overrides}
    return load_settings(flags, environ={}, config=None)


@pytest.fixture
def client_for(cache_dir: Path) -> Iterator[Callable[..., TestClient[Any]]]:
    """Build an in-process client for a repo with setting overrides."""
    clients: list[TestClient[Any]] = []

    def build(repo: Path | list[Path], **overrides: Any) -> TestClient[Any]:
        overrides.setdefault("cache_dir", str(cache_dir))
        overrides.setdefault("data_dir", str(cache_dir.parent / "data"))
        client = TestClient(create_app(make_settings(repo, **overrides)), base_url="http://127.0.0.1:3000")
        client.__enter__()
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture(params=OPEN_MODES)
def open_mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def client(layout: Layout, client_for: Callable[..., TestClient[Any]], open_mode: str) -> TestClient[Any]:
    return client_for(layout.repo, open_mode=open_mode)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """The app under a real uvicorn in a thread (for streaming, disconnect and keepalive)."""

    def __init__(self, settings: Settings) -> None:
        self.port = free_port()
        self.settings = settings.with_overrides(port=self.port)
        config = uvicorn_config(create_app(self.settings), "127.0.0.1", self.port, log_level="warning", timeout_graceful_shutdown=1)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def live_server(cache_dir: Path) -> Iterator[Callable[..., LiveServer]]:
    servers: list[LiveServer] = []

    def start(repo: Path | list[Path], **overrides: Any) -> LiveServer:
        overrides.setdefault("cache_dir", str(cache_dir))
        overrides.setdefault("data_dir", str(cache_dir.parent / "data"))
        server = LiveServer(make_settings(repo, **overrides)).__enter__()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.__exit__()


def wait_until(condition: Callable[[], Any], what: str = "the condition", seconds: float = 30) -> Any:
    """Wait for something observable (never sleep and then assume): the condition's first true
    value, or a failure naming what did not happen within ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} did not happen within {seconds} s"
        time.sleep(0.02)


def wait_ready(client: Any) -> None:
    """Wait until every repository's index is ready (polling /status through ``client``)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        repos = client.get("/api/v1/status").json()["data"]["repos"]
        if all(r["state"] == "ready" for r in repos):
            return
        time.sleep(0.05)
    raise AssertionError("the index was not ready in time")


# -- helpers shared by the test modules -------------------------------------------------------

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def assert_error(response: Any, code: str, param: str | None = None) -> dict[str, Any]:
    body = response.json()
    assert response.status_code == ERROR_CODES[code].status, body
    assert body["success"] is False
    error = body["error"]
    assert error["code"] == code
    assert error["type"] == ERROR_CODES[code].type
    assert error["param"] == param
    assert error["doc_url"] == f"/docs/errors.md#{code}"
    assert error["message"]
    assert error["details"] == []
    assert body["meta"]["request_id"] == response.headers["x-request-id"]
    assert TIMESTAMP.match(body["meta"]["timestamp"])
    return error


MODEL = "qwen2.5-coder:7b"


def say(*parts: str) -> list[Any]:
    return [{"message": {"role": "assistant", "content": p}} for p in parts] + [DONE]


def call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"function": {"name": name, "arguments": arguments}}


def calls(*tool_calls: dict[str, Any], in_done: bool = False) -> list[Any]:
    chunk = {"message": {"role": "assistant", "content": "", "tool_calls": list(tool_calls)}}
    if in_done:  # Ollama sometimes sends the tool calls in the final chunk
        return [{**DONE, **chunk}]
    return [chunk, DONE]


def ask(server: Any, question: str = "What does main return?", **extra: Any) -> httpx.Response:
    body = {"messages": [{"role": "user", "content": question}], "settings": {"model": MODEL, **extra.pop("settings", {})}, **extra}
    return httpx.post(f"{server.url}/api/v1/chat/completions", json=body, timeout=30)


def stream(server: Any, question: str = "What does main return?", **extra: Any) -> tuple[list[Any], list[str], httpx.Response]:
    body = {"messages": [{"role": "user", "content": question}], "settings": {"model": MODEL, **extra.pop("settings", {})}, **extra}
    with httpx.stream("POST", f"{server.url}/api/v1/chat/completions", json=body, timeout=30) as response:
        if response.status_code != 200:
            response.read()
            return [], [], response
        events, comments = read(response)
    return events, comments, response


def chunks(events: list[Any]) -> list[dict[str, Any]]:
    return [e for e in events if isinstance(e, dict) and e.get("object") == "chat.completion.chunk"]


def text_of(events: list[Any]) -> str:
    return "".join(c["choices"][0]["delta"].get("content", "") for c in chunks(events))


def tool_events(events: list[Any]) -> list[dict[str, Any]]:
    return [e for e in events if isinstance(e, dict) and e.get("type") == "tool_call"]


async def _session(url: str, key: str | None, work: Any) -> Any:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
        async with Client(streamable_http_client(url, http_client=http)) as client:
            return await work(client)


def run_mcp(url: str, work: Any, key: str | None = None) -> Any:
    """Run ``work(client)`` in a session of the official MCP client against ``url``."""
    return asyncio.run(_session(url, key, work))


def no_canary(body: bytes | str) -> bool:
    raw = body.encode() if isinstance(body, str) else body
    return CANARY not in raw and b"CANARY" not in raw


os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", "/tmp/.hypothesis-repo-assistant")
