"""Search cost is bounded: query and pattern sizes, a deadline, its own threads, and work that
stops when the caller leaves."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from assistant.index import IndexManager, RepoIndex, search_index
from assistant.tools import ToolContext, run_tool
from sandbox import Roots
from tests.conftest import assert_error, wait_ready

# matches the empty string at every line start: RE2 stays linear, but each of the (many) calls
# costs about a millisecond per megabyte of file
COSTLY = "(" * 300 + "a" + ")*" * 300


def _big_repo(root: Path, files: int = 8) -> Path:
    root.mkdir(exist_ok=True)
    line = b"abcdefg hijk lmnop qrstu vwxyz\n"
    for i in range(files):
        (root / f"big{i}.txt").write_bytes(line * 33_000)  # ~1 MB each
    (root / "README.md").write_text("# hello\n")
    return root


def test_over_long_queries_and_patterns_are_refused(client: Any) -> None:
    error = assert_error(client.get("/api/v1/search", params={"q": "a" * (16 * 1024 + 1)}), "invalid_parameter", "q")
    assert "16 KB" in error["message"]
    pasted = ("Traceback (most recent call last): File main.py line 2 in main\n" * 130)[: 8 * 1024]
    assert client.get("/api/v1/search", params={"q": pasted}).status_code == 200
    error = assert_error(client.get("/api/v1/search", params={"q": "a" * 1025, "mode": "regex"}), "invalid_parameter", "q")
    assert "1024 bytes" in error["message"]
    attack = "(" * 1000 + "a" + ")*" * 1000
    assert_error(client.get("/api/v1/search", params={"q": attack, "mode": "regex"}), "invalid_parameter", "q")


def test_a_pattern_too_complex_for_re2s_budget_is_refused(client: Any) -> None:
    for pattern in ("[a-z]{1,1000}", "\\pL{1000}", "(.{500}){2}"):
        error = assert_error(client.get("/api/v1/search", params={"q": pattern, "mode": "regex"}), "invalid_parameter", "q")
        assert "too complex" in error["message"]


def test_a_search_ends_at_its_deadline_with_what_it_found(tmp_path: Path) -> None:
    repo = _big_repo(tmp_path / "repo")
    roots = Roots([str(repo)])
    index = RepoIndex(roots, str(repo), str(tmp_path / "cache"))
    index.build()
    try:
        started = time.monotonic()
        found = search_index(index, COSTLY, "regex", deadline=0.3, limit=20)
        assert time.monotonic() - started < 3
        assert found.stopped and found.truncated and len(found.results) == 20
        cancel = threading.Event()
        cancel.set()
        gone = search_index(index, COSTLY, "regex", cancel=cancel)
        assert gone.stopped and gone.truncated
    finally:
        index.close()
        roots.close()


def test_the_tool_says_when_a_search_was_stopped(tmp_path: Path) -> None:
    repo = _big_repo(tmp_path / "repo")
    roots = Roots([str(repo)])
    indexes = IndexManager(roots, str(tmp_path / "cache"))
    try:
        assert indexes.get(str(repo)).ready.wait(30)
        context = ToolContext(roots, indexes, str(repo), search_seconds=0.2)
        result = run_tool(context, "search_files", {"query": COSTLY, "mode": "regex"})
    finally:
        indexes.close()
        roots.close()
    assert result.status == "completed" and result.truncated
    assert "stopped at its time limit" in result.content


def test_costly_searches_neither_starve_other_requests_nor_outlive_their_callers(tmp_path: Path, live_server: Any) -> None:
    server = live_server(_big_repo(tmp_path / "repo"))
    with httpx.Client(base_url=server.url) as status_client:
        wait_ready(status_client)

    def give_up_early() -> None:
        with pytest.raises(httpx.TimeoutException):
            httpx.get(f"{server.url}/api/v1/search", params={"q": COSTLY, "mode": "regex"}, timeout=1.5)

    callers = [threading.Thread(target=give_up_early) for _ in range(10)]
    for caller in callers:
        caller.start()
    time.sleep(0.3)
    # while ten costly searches are running or queued, tools and reads still answer at once
    started = time.monotonic()
    listed = httpx.post(f"{server.url}/api/v1/tools/call", json={"name": "list_files", "arguments": {}}, timeout=5)
    read = httpx.get(f"{server.url}/api/v1/files", params={"path": "README.md", "read": "true"}, timeout=5)
    assert listed.status_code == 200 and read.status_code == 200
    assert time.monotonic() - started < 1.5
    for caller in callers:
        caller.join()
    # the callers left: their work stopped, so a new search gets a thread at once
    started = time.monotonic()
    found = httpx.get(f"{server.url}/api/v1/search", params={"q": "hello"}, timeout=10).json()["data"]
    assert found["results"][0]["file"] == "README.md"
    assert time.monotonic() - started < 2
