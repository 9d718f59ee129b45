"""What the test modules share besides fixtures: servers to start, fake model scripts, requests
and the assertions every module makes the same way."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import httpx2
import uvicorn
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from assistant.app import create_app
from assistant.errors import ERROR_CODES
from assistant.server import uvicorn_config
from assistant.settings import Settings, load_settings
from sandbox import openat2_available
from tests.fakes.ollama import DONE
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


def make_settings(repo: Path | list[Path], **overrides: Any) -> Settings:
    repos = [str(r) for r in (repo if isinstance(repo, list) else [repo])]
    flags: dict[str, Any] = {"repo": repos, **overrides}
    return load_settings(flags, environ={}, config=None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """The app under a real uvicorn in a thread (for streaming, disconnect and keepalive)."""

    def __init__(self, settings: Settings) -> None:
        self.port = free_port()
        self.settings = settings.with_overrides(port=self.port)
        config = uvicorn_config(
            create_app(self.settings), "127.0.0.1", self.port, log_level="warning", timeout_graceful_shutdown=1
        )
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
    """Wait until every repository's index in use is ready (polling /status through ``client``)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        repos = client.get("/api/v1/status").json()["data"]["repos"]
        if all(r["state"] in ("ready", "idle") for r in repos):  # idle: not used, so not indexed yet
            return
        time.sleep(0.05)
    raise AssertionError("the index was not ready in time")


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
    return dict(error)


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
    body = {
        "messages": [{"role": "user", "content": question}],
        "settings": {"model": MODEL, **extra.pop("settings", {})},
        **extra,
    }
    return httpx.post(f"{server.url}/api/v1/chat/completions", json=body, timeout=30)


def stream(
    server: Any, question: str = "What does main return?", **extra: Any
) -> tuple[list[Any], list[str], httpx.Response]:
    body = {
        "messages": [{"role": "user", "content": question}],
        "settings": {"model": MODEL, **extra.pop("settings", {})},
        **extra,
    }
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
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        return await work(client)


def run_mcp(url: str, work: Any, key: str | None = None) -> Any:
    """Run ``work(client)`` in a session of the official MCP client against ``url``."""
    return asyncio.run(_session(url, key, work))


def no_canary(body: bytes | str) -> bool:
    raw = body.encode() if isinstance(body, str) else body
    return CANARY not in raw and b"CANARY" not in raw


class ServerProcess:
    """``repo-assistant serve`` as a process of its own (its own interpreter: what it does is not
    slowed by what the test does), started and ready (index built) on entry, stopped on exit."""

    def __init__(self, repo: Path, work: Path, ollama_url: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.args = [
            sys.executable,
            "-m",
            "assistant",
            "serve",
            "--repo",
            str(repo),
            "--port",
            str(self.port),
            "--cache-dir",
            str(work / "cache"),
            "--data-dir",
            str(work / "data"),
            "--ollama-url",
            ollama_url,
            "--log-level",
            "warning",
        ]
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerProcess:
        self.proc = subprocess.Popen(self.args, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        proc = self.proc

        def answers() -> bool:
            assert proc.poll() is None, "the server exited"
            try:
                return httpx.get(f"{self.url}/api/v1/health", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(answers, "the server answering")
        with httpx.Client(base_url=self.url, timeout=5) as client:
            wait_ready(client)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def worker_processes(module: bytes) -> list[int]:
    """Our worker processes running ``module`` (``assistant.procs``): children of this process
    whose command line names it."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                ppid = int(handle.read().rsplit(b")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                cmdline = handle.read()
        except OSError:
            continue
        if ppid == os.getpid() and module in cmdline:
            found.append(int(entry))
    return found
