"""A subdirectory of an allowed root used as a repository: the root's ignore rules (and git's
global excludes) still apply, an ignored directory is refused, and it is served from the root's
index rather than an index of its own."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from assistant.index import RepoIndex
from sandbox import Roots
from tests.helpers import CANARY, Layout, assert_error, no_canary


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user home of our own, so the machine's git configuration plays no part."""
    home = tmp_path / "home"
    (home / ".config").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    return home


@pytest.fixture
def nested(layout: Layout, home: Path) -> Layout:
    (layout.repo / ".gitignore").write_text("src/.env\nbuild/\n")
    (layout.repo / "src" / ".env").write_bytes(CANARY)
    (layout.repo / "build").mkdir()
    (layout.repo / "build" / "out.py").write_bytes(CANARY)
    return layout


def test_the_roots_gitignore_applies_to_a_subdirectory_repo(nested: Layout, client: Any) -> None:
    sub = str(nested.repo / "src")
    listing = client.get("/api/v1/files", params={"repo": sub}).json()["data"]
    assert ".env" not in {e["name"] for e in listing["entries"]}
    read = client.get("/api/v1/files", params={"repo": sub, "path": ".env", "read": "true"})
    assert_error(read, "access_denied", "path")
    tool = client.post(
        "/api/v1/tools/call", json={"name": "read_file", "arguments": {"path": ".env"}, "repo_path": sub}
    ).json()["data"]
    assert tool["status"] == "failed" and no_canary(tool["result"]["content"])
    found = client.get("/api/v1/search", params={"repo": sub, "q": "CANARY"}).json()["data"]
    assert found["results"] == []


def test_an_ignored_directory_cannot_be_a_repo(nested: Layout, client: Any) -> None:
    for endpoint, params in (("/api/v1/files", {}), ("/api/v1/search", {"q": "CANARY"})):
        response = client.get(endpoint, params={"repo": str(nested.repo / "build"), **params})
        assert_error(response, "access_denied", "repo")
        assert no_canary(response.content)


def test_gits_global_excludes_file_is_honoured(layout: Layout, home: Path, client_for: Any) -> None:
    (home / ".config" / "git").mkdir()
    (home / ".config" / "git" / "ignore").write_text("*.secret\n")
    (layout.repo / "keys.secret").write_bytes(CANARY)
    client = client_for(layout.repo)
    names = {e["name"] for e in client.get("/api/v1/files").json()["data"]["entries"]}
    assert "keys.secret" not in names and "README.md" in names
    assert_error(client.get("/api/v1/files", params={"path": "keys.secret", "read": "true"}), "access_denied", "path")


def test_core_excludes_file_names_another_file(layout: Layout, home: Path, client_for: Any, tmp_path: Path) -> None:
    excludes = tmp_path / "my-excludes"
    excludes.write_text("*.pem\n")
    subprocess.run(
        ["git", "config", "--global", "core.excludesFile", str(excludes)],
        check=True,
        env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
    )
    (layout.repo / "server.pem").write_bytes(CANARY)
    client = client_for(layout.repo)
    assert "server.pem" not in {e["name"] for e in client.get("/api/v1/files").json()["data"]["entries"]}


def test_a_subdirectory_repo_shares_its_roots_index(nested: Layout, client: Any) -> None:
    sub = str(nested.repo / "src")
    found = client.get("/api/v1/search", params={"repo": sub, "q": "main"}).json()["data"]
    assert found["results"] and {r["file"] for r in found["results"]} <= {"main.py", "pkg/util.py"}
    deeper = client.get("/api/v1/search", params={"repo": str(nested.repo / "src" / "pkg"), "q": "X"}).json()["data"]
    assert [r["file"] for r in deeper["results"]] == ["util.py"]
    indexes = client.app.state["services"].indexes.known()
    assert [i.repo_path for i in indexes] == [str(nested.repo)]
    status = client.get("/api/v1/status").json()["data"]
    assert len(status["repos"]) == 1


def test_stats_while_the_index_builds(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    for i in range(5000):
        (repo / f"m{i}.txt").write_text(f"line {i}\n")
    roots = Roots([str(repo)])
    index = RepoIndex(roots, str(repo), str(tmp_path / "cache"))
    failures: list[BaseException] = []

    def poll() -> None:
        while not index.ready.is_set():
            try:
                index.stats()
            except BaseException as exc:
                failures.append(exc)
            time.sleep(0)

    poller = threading.Thread(target=poll)
    switching = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads take turns often, as under a loaded server
    try:
        index.start()
        poller.start()
        poller.join(60)
    finally:
        sys.setswitchinterval(switching)
    index.close()
    roots.close()
    assert failures == []
