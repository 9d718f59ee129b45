"""Search cost is bounded: query and pattern sizes, a deadline, its own threads, and work that
stops when the caller leaves."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from assistant.index import IndexManager, RepoIndex, search_index
from assistant.tools import ToolContext, run_tool
from sandbox import Roots
from tests.helpers import assert_error, wait_ready

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
    error = assert_error(
        client.get("/api/v1/search", params={"q": "a" * 1025, "mode": "regex"}), "invalid_parameter", "q"
    )
    assert "1024 bytes" in error["message"]
    attack = "(" * 1000 + "a" + ")*" * 1000
    assert_error(client.get("/api/v1/search", params={"q": attack, "mode": "regex"}), "invalid_parameter", "q")


def test_a_pattern_too_complex_for_re2s_budget_is_refused(client: Any) -> None:
    for pattern in ("[a-z]{1,1000}", "\\pL{1000}", "(.{500}){2}"):
        error = assert_error(
            client.get("/api/v1/search", params={"q": pattern, "mode": "regex"}), "invalid_parameter", "q"
        )
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


def test_costly_scans_wait_in_their_own_lane_and_a_full_lane_says_retry(tmp_path: Path, live_server: Any) -> None:
    """24 regex scans of 10 s each: two run, eight wait, the rest are told to retry (429); ranked
    and symbol searches, tools and reads answer meanwhile; the callers give up, their work stops
    and a new scan is taken at once."""
    server = live_server(_big_repo(tmp_path / "repo"))
    with httpx.Client(base_url=server.url) as status_client:
        wait_ready(status_client)
    answers: list[httpx.Response] = []
    refused = threading.Semaphore(0)

    def costly_scan() -> None:
        try:
            response = httpx.get(f"{server.url}/api/v1/search", params={"q": COSTLY, "mode": "regex"}, timeout=8)
        except httpx.TimeoutException:
            return  # the caller gave up: its scan is told to stop
        answers.append(response)
        if response.status_code == 429:
            refused.release()

    callers = [threading.Thread(target=costly_scan) for _ in range(24)]
    for caller in callers:
        caller.start()
    for _ in range(10):  # the lane is full once requests are refused
        assert refused.acquire(timeout=60), "no scan was refused"
    quick: dict[str, Callable[[], httpx.Response]] = {
        "ranked": lambda: httpx.get(
            f"{server.url}/api/v1/search", params={"q": "hello world", "mode": "ranked"}, timeout=30
        ),
        "symbol": lambda: httpx.get(f"{server.url}/api/v1/search", params={"q": "hello", "mode": "symbol"}, timeout=30),
        "tool": lambda: httpx.post(
            f"{server.url}/api/v1/tools/call", json={"name": "list_files", "arguments": {}}, timeout=30
        ),
        "read": lambda: httpx.get(
            f"{server.url}/api/v1/files", params={"path": "README.md", "read": "true"}, timeout=30
        ),
    }
    for name, request in quick.items():
        started = time.monotonic()
        assert request().status_code == 200, name
        assert time.monotonic() - started < 3, name  # milliseconds of work: not the scans' queue of ~40 s
    for caller in callers:
        caller.join()
    busy = [r for r in answers if r.status_code == 429]
    assert len(busy) >= 10 and all(r.headers["retry-after"] == "2" for r in busy)
    assert_error(busy[0], "server_busy")
    # the callers left: their scans stopped, so a new one is taken (and ends at its deadline)
    deadline = time.monotonic() + 60
    while (
        again := httpx.get(f"{server.url}/api/v1/search", params={"q": "vwxyz", "mode": "text"}, timeout=30)
    ).status_code == 429:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert again.status_code == 200 and again.json()["data"]["results"]
