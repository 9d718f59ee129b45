"""The conversation store under load and faults: off the event loop and bounded, a full disk or a
damaged file answered as 503 (and recovered from), typed imports, and the small refusals."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from assistant.conversations import Conversations, SqliteStore, StoreInterrupted
from tests.fakes.ollama import FakeOllama
from tests.helpers import MODEL, Layout, ServerProcess, assert_error, say, text_of
from tests.sse import parse

RESPONSIVE_SECONDS = 0.2  # /health takes a few milliseconds: forty times that


def api(server: Any, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, f"{server.url}/api/v1{path}", timeout=60, **kwargs)


def data(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()["data"]


@pytest.fixture
def server(layout: Layout, live_server: Any, fake_ollama: FakeOllama) -> Any:
    return live_server(layout.repo, ollama_url=fake_ollama.url)


def first_token_seconds(client: httpx.Client) -> float:
    """Seconds from sending a stateless streamed chat to its first content chunk."""
    body = {"messages": [{"role": "user", "content": "hi"}], "settings": {"model": MODEL}}
    started = time.monotonic()
    took = None
    with client.stream("POST", "/chat/completions", json=body) as response:
        for line in response.iter_lines():
            if took is None and '"content"' in line:
                took = time.monotonic() - started
    assert took is not None, "no content"
    return took


def health_seconds(client: httpx.Client) -> float:
    started = time.monotonic()
    assert client.get("/health").status_code == 200
    return time.monotonic() - started


def test_the_heaviest_allowed_store_request_holds_up_no_one(
    layout: Layout, fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    # The server, the client sending the import and the one measuring are three processes, as
    # they are in use: in one process they would take turns with the interpreter lock, which is
    # no part of what the server does.
    server = ServerProcess(layout.repo, tmp_path, fake_ollama.url, env={"REPO_ASSISTANT_MAX_BODY_BYTES": str(16 << 20)})
    fake_ollama.chat_script(*[say("answer") for _ in range(200)])
    text = "several words of an imported answer " * 110  # ~4 KB: 2,000 of them make 8 MB, the most allowed
    messages = [
        {
            "id": f"m{i}",
            "parent_id": f"m{i - 1}" if i else None,
            "role": "user" if i % 2 == 0 else "assistant",
            "content": text,
        }
        for i in range(2000)
    ]
    document = tmp_path / "import.json"
    document.write_text(json.dumps({"title": "a long one", "messages": messages}))
    answer = tmp_path / "answer.json"
    sender = (
        "import httpx, pathlib, sys\n"
        "r = httpx.post(sys.argv[1], content=pathlib.Path(sys.argv[2]).read_bytes(),"
        " headers={'content-type': 'application/json'}, timeout=60)\n"
        "pathlib.Path(sys.argv[3]).write_text(r.text if r.status_code == 200 else '')\n"
    )
    with server, httpx.Client(base_url=f"{server.url}/api/v1", timeout=60) as client:
        # Two tries: a store call on the event loop stalls every import the same way, while a busy
        # two-core machine (the server, two clients, the store's thread and whatever else runs)
        # can take the CPU away from the server once for a few hundred milliseconds.
        tries = []
        for _ in range(2):
            # The same probes with nothing else running, on this machine under today's load.
            idle_health = max(health_seconds(client) for _ in range(10))
            idle_token = max(first_token_seconds(client) for _ in range(3))
            heavy = subprocess.Popen(
                [sys.executable, "-c", sender, f"{server.url}/api/v1/conversations", str(document), str(answer)]
            )
            health: list[float] = []
            tokens: list[float] = []
            while heavy.poll() is None:
                health.append(health_seconds(client))
                tokens.append(first_token_seconds(client))
            assert heavy.wait() == 0
            imported = json.loads(answer.read_text())["data"]
            assert len(data(api(server, "GET", f"/conversations/{imported['id']}"))["messages"]) == 2000
            assert health and tokens, "nothing was measured while the import ran"
            # Within 200 ms, or (on a machine too busy for that even when idle) a few times what the
            # same probe took just before; an import on the event loop held everything for 14-23 s.
            slow_health = max(health) >= max(RESPONSIVE_SECONDS, 4 * idle_health)
            slow_token = max(tokens) >= max(RESPONSIVE_SECONDS, 4 * idle_token)
            tries.append((max(health), idle_health, max(tokens), idle_token))
            if not (slow_health or slow_token):
                break
    assert not (slow_health or slow_token), f"(worst /health, idle /health, worst first token, idle) per try: {tries}"


def test_every_store_request_is_bounded(server: Any) -> None:
    made = data(api(server, "POST", "/conversations", json={"title": "x"}))
    assert_error(api(server, "GET", "/conversations", params={"q": " ".join("w" * 33)}), "invalid_parameter", "q")
    assert_error(api(server, "GET", "/conversations", params={"q": "x" * 1025}), "invalid_parameter", "q")
    assert data(api(server, "GET", "/conversations", params={"q": " ".join("abcdefghijklmnopqrstuvwxyzABCDEF")}))
    too_many = [{"id": f"m{i}", "role": "user", "content": "q"} for i in range(2001)]
    assert_error(api(server, "POST", "/conversations", json={"messages": too_many}), "invalid_parameter", "messages")
    assert_error(api(server, "POST", "/conversations", json={"model": "m" * 257}), "invalid_parameter", "model")
    lone_surrogate = "WzEuMCwgIlx1ZDgwMCJd"  # [1.0, "\ud800"], as a cursor is written
    assert_error(api(server, "GET", "/conversations", params={"cursor": lone_surrogate}), "invalid_parameter", "cursor")
    assert_error(api(server, "GET", "/conversations", params={"cursor": ""}), "invalid_parameter", "cursor")
    assert data(api(server, "GET", f"/conversations/{made['id']}"))["title"] == "x"


def test_an_import_past_8_mib_is_refused_whatever_the_body_limit(
    layout: Layout, live_server: Any, fake_ollama: FakeOllama
) -> None:
    server = live_server(layout.repo, ollama_url=fake_ollama.url, max_body_bytes=32 << 20)
    messages = [{"id": f"m{i}", "role": "user", "content": "x" * (1 << 20)} for i in range(9)]
    assert_error(api(server, "POST", "/conversations", json={"messages": messages}), "payload_too_large")


def test_a_query_stops_when_its_client_goes_away(tmp_path: Path) -> None:
    """The progress handler stops a statement once the request it serves is cancelled: a store
    thread is not held by a client that left."""
    store = SqliteStore(tmp_path / "c.sqlite3")
    conversations = Conversations(store)
    endless = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT count(*) FROM n"
    outcome: list[BaseException] = []

    def spin(s: Any) -> None:
        try:
            with s._read() as db:
                db.execute(endless).fetchone()
        except BaseException as exc:
            outcome.append(exc)
            raise

    async def leave_early() -> None:
        task = asyncio.ensure_future(conversations.run(spin))
        await asyncio.sleep(0.3)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await conversations.run(lambda s: s.create("after", None, None))  # the threads are free again

    try:
        asyncio.run(asyncio.wait_for(leave_early(), 60))
    finally:
        conversations.close()
    assert len(outcome) == 1 and isinstance(outcome[0], StoreInterrupted)


def test_chat_with_an_unknown_conversation_is_404_whatever_the_parent(server: Any) -> None:
    url = f"{server.url}/api/v1/chat/completions"
    question = [{"role": "user", "content": "hi"}]
    for cid, parent in [("c_missing", None), ("c_missing", ""), ("c_missing", ".."), ("c" * 10_240, "m_x")]:
        body = {"conversation_id": cid, "parent_id": parent, "messages": question, "settings": {"model": MODEL}}
        error = assert_error(httpx.post(url, json=body, timeout=10), "conversation_not_found", "conversation_id")
        assert len(error["message"]) < 200


def test_a_second_question_while_one_streams_is_409(server: Any, fake_ollama: FakeOllama) -> None:
    conversation = data(api(server, "POST", "/conversations", json={}))["id"]
    fake_ollama.chat_script([{"message": {"role": "assistant", "content": "slow "}}, 3.0, *say("end")], say("branch"))
    url = f"{server.url}/api/v1/chat/completions"
    body = {
        "conversation_id": conversation,
        "messages": [{"role": "user", "content": "one"}],
        "settings": {"model": MODEL},
    }
    with httpx.stream("POST", url, json=body, timeout=30) as response:
        lines = response.iter_lines()  # kept: a loop over a new iterator closes the connection as it ends
        for line in lines:
            if "slow" in line:
                break
        second = {**body, "messages": [{"role": "user", "content": "two"}]}
        refused = httpx.post(url, json=second, timeout=10)
        assert refused.headers["content-type"].startswith("application/json"), refused.text
        assert_error(refused, "conversation_busy", "conversation_id")
        stored = data(api(server, "GET", f"/conversations/{conversation}"))["messages"]
        branch = {**second, "parent_id": None}  # an edit of the first question: a branch beside it
        events, _ = parse(httpx.post(url, json=branch, timeout=30).text)
        assert text_of(events) == "branch"
        for _ in lines:
            pass
    assert [m["content"] for m in stored] == ["one"]


# -- a store that fails while the server runs ---------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB file system of its own (tmpfs), to fill up."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True)
    assert done.returncode == 0, f"a tmpfs is needed to fill a disk: {done.stderr.decode()}"
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def wait_for(check: Any, seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def test_a_full_disk_is_503_then_recovers_on_its_own(
    layout: Layout, live_server: Any, fake_ollama: FakeOllama, small_disk: Path
) -> None:
    server = live_server(layout.repo, ollama_url=fake_ollama.url, data_dir=str(small_disk / "data"))
    kept = data(api(server, "POST", "/conversations", json={"title": "before"}))
    filler = small_disk / "filler"
    with open(filler, "wb") as handle, contextlib.suppress(OSError):
        while True:
            handle.write(b"\0" * 65536)
    big = {"title": "after", "messages": [{"id": f"m{i}", "role": "user", "content": "x" * 4000} for i in range(200)]}
    error = assert_error(api(server, "POST", "/conversations", json=big), "conversations_unavailable")
    assert "full" in error["message"]
    health = data(api(server, "GET", "/health"))
    assert health["status"] == "degraded"
    assert health["services"]["conversations"]["status"] == "unavailable"
    assert "full" in health["services"]["conversations"]["error"]
    fake_ollama.chat_script(say("still answering"))
    stateless = {"messages": [{"role": "user", "content": "hi"}], "settings": {"model": MODEL}}
    events, _ = parse(httpx.post(f"{server.url}/api/v1/chat/completions", json=stateless, timeout=30).text)
    assert text_of(events) == "still answering"
    filler.unlink()
    recovered = wait_for(lambda: data(api(server, "GET", "/health"))["services"]["conversations"]["status"] == "ok")
    assert recovered, "the store did not recover once the disk had room again"
    assert data(api(server, "GET", "/health"))["status"] == "healthy"
    assert data(api(server, "GET", f"/conversations/{kept['id']}"))["title"] == "before"
    assert data(api(server, "POST", "/conversations", json=big))["title"] == "after"


def test_a_file_damaged_after_start_is_503_never_500(
    layout: Layout, live_server: Any, fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    data_dir = tmp_path / "kept"
    server = live_server(layout.repo, ollama_url=fake_ollama.url, data_dir=str(data_dir))
    for i in range(50):
        api(server, "POST", "/conversations", json={"title": f"conversation {i} about parsing"})
    database = data_dir / "conversations.sqlite3"
    original = database.read_bytes()
    page = 4096
    with open(database, "r+b") as handle:  # every page but the header's, overwritten
        handle.seek(page)
        handle.write(b"\xa5" * (len(original) - page))
    for path in (data_dir / "conversations.sqlite3-wal", data_dir / "conversations.sqlite3-shm"):
        with contextlib.suppress(FileNotFoundError), open(path, "r+b") as handle:
            handle.write(b"\xa5" * 4096)
    statuses = []
    for attempt in range(5):
        statuses.append(api(server, "GET", "/conversations", params={"q": "parsing"}).status_code)
        statuses.append(api(server, "POST", "/conversations", json={"title": f"new {attempt}"}).status_code)
    assert 500 not in statuses and 503 in statuses, statuses
    health = data(api(server, "GET", "/health"))
    assert health["status"] == "degraded" and health["services"]["conversations"]["status"] == "unavailable"
    assert database.stat().st_size >= len(original)  # never deleted or rewritten by the server


# -- imports are typed ---------------------------------------------------------------------------


def _answer(**fields: Any) -> dict[str, Any]:
    return {"id": "a", "parent_id": "q", "role": "assistant", "content": "see src/main.py:1", **fields}


def _document(*answers: dict[str, Any]) -> dict[str, Any]:
    return {"title": "imported", "messages": [{"id": "q", "role": "user", "content": "question"}, *answers]}


BAD_FIELDS: list[tuple[dict[str, Any], str]] = [
    ({"citations": "src/main.py:1"}, "citations"),
    ({"citations": [{"ref": 1}]}, "citations[0].ref"),
    ({"sources": {"path": "x"}}, "sources"),
    ({"tool_events": "read_file"}, "tool_events"),
    ({"tool_events": [{"id": "t", "name": "read_file"}]}, "tool_events[0]"),
    (
        {
            "tool_events": [
                {"id": "t", "name": "x", "status": "completed", "result": {"content": "x" * 9000, "truncated": False}}
            ]
        },
        "tool_events[0].result.content",
    ),
    ({"usage": "many"}, "usage"),
    ({"timings": {"total_ms": -1}}, "timings.total_ms"),
    ({"finish_reason": "exploded"}, "finish_reason"),
    ({"model": "m" * 300}, "model"),
    ({"error": "bad"}, "error"),
    ({"content": 42}, "content"),
]


@pytest.mark.parametrize(("fields", "where"), BAD_FIELDS)
def test_an_import_field_of_the_wrong_shape_is_400_naming_it(server: Any, fields: dict[str, Any], where: str) -> None:
    response = api(server, "POST", "/conversations", json=_document(_answer(**fields)))
    error = assert_error(
        response,
        "invalid_parameter" if where != "tool_events[0]" else "missing_parameter",
        response.json()["error"]["param"],
    )
    assert error["param"].startswith(f"messages[1].{where}"), error


def test_imported_citations_are_checked_again_and_every_page_still_renders(server: Any) -> None:
    claimed = [
        {"ref": "src/main.py:1", "path": "src/main.py", "line": 1, "end_line": 1, "verified": False},
        {"ref": "nowhere.py:9", "path": "nowhere.py", "line": 9, "end_line": 9, "verified": True},
        {"ref": "src/main.py:7", "path": "src/main.py", "line": 7, "end_line": 7, "verified": True},
    ]
    made = data(
        api(
            server,
            "POST",
            "/conversations",
            json=_document(_answer(content="src/main.py:1 and nowhere.py:9", citations=claimed)),
        )
    )
    answer = data(api(server, "GET", f"/conversations/{made['id']}"))["messages"][1]
    assert {c["ref"]: c["verified"] for c in answer["citations"]} == {
        "src/main.py:1": True,
        "nowhere.py:9": False,
        "src/main.py:7": False,  # main.py has two lines
    }
    for format in ("md", "json"):
        assert data(api(server, "GET", f"/conversations/{made['id']}/export", params={"format": format}))


def test_the_markdown_export_cannot_be_forged_by_a_message(server: Any) -> None:
    forged = "fine\n## You\n\nI never asked this\n<script>alert(1)</script>\n```\n## kept in code\n<b>\n```"
    made = data(api(server, "POST", "/conversations", json=_document(_answer(content=forged))))
    markdown = data(api(server, "GET", f"/conversations/{made['id']}/export"))["content"]
    assert markdown.count("\n## You\n") == 1 and "\\## You" in markdown
    assert "<script>" not in markdown and "&lt;script>" in markdown
    assert "```\n## kept in code\n<b>\n```" in markdown  # code blocks exactly as written
