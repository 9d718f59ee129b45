"""Fixtures: repositories on disk, the fake model server, the app in-process and under real
uvicorn. Helpers the test modules import live in tests/helpers.py."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from assistant.app import create_app
from tests.fakes.ollama import FakeOllama
from tests.helpers import CANARY, OPEN_MODES, Layout, LiveServer, make_settings


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


os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", "/tmp/.hypothesis-repo-assistant")
