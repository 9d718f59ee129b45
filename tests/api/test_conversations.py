"""Conversations that last: the API in the envelope, chat turns stored as they happen (and as
they end, however they end), branches, export and import, fork, and the faults that must not
take chat down with them."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from assistant.conversations import MIGRATIONS
from assistant.conversations import SqliteStore as ConversationStore
from tests.fakes.ollama import FakeOllama
from tests.helpers import Layout, assert_error, call, calls, free_port, say, wait_ready, wait_until
from tests.sse import read

MODEL = "qwen2.5-coder:7b"


def api(server: Any, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, f"{server.url}/api/v1{path}", timeout=30, **kwargs)


def data(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()["data"]


def chat(server: Any, **body: Any) -> list[Any]:
    """One streamed chat turn; its events."""
    body.setdefault("settings", {"model": MODEL})
    with httpx.stream("POST", f"{server.url}/api/v1/chat/completions", json=body, timeout=30) as response:
        assert response.status_code == 200, response.read()
        events, _ = read(response)
    return events


UNSET = object()


def ask(server: Any, conversation: str, question: str | None, parent: Any = UNSET) -> dict[str, Any]:
    body: dict[str, Any] = {"conversation_id": conversation, "messages": []}
    if question is not None:
        body["messages"] = [{"role": "user", "content": question}]
    if parent is not UNSET:
        body["parent_id"] = parent
    events = chat(server, **body)
    done = events[-2]
    assert done["type"] == "done", events
    return done  # type: ignore[no-any-return]


@pytest.fixture
def server(layout: Layout, live_server: Any, fake_ollama: FakeOllama) -> Any:
    return live_server(layout.repo, ollama_url=fake_ollama.url)


def test_a_conversation_is_created_listed_read_renamed_and_deleted(server: Any) -> None:
    made = data(api(server, "POST", "/conversations", json={"title": "First"}))
    assert made["title"] == "First" and made["messages"] == [] and made["id"].startswith("c_")
    second = data(api(server, "POST", "/conversations", json={}))
    assert second["title"] == "New conversation"
    listed = data(api(server, "GET", "/conversations"))
    assert [c["id"] for c in listed["conversations"]] == [second["id"], made["id"]]  # newest first
    assert listed["next_cursor"] is None
    renamed = data(api(server, "PATCH", f"/conversations/{made['id']}", json={"title": "Renamed"}))
    assert renamed["title"] == "Renamed"
    assert data(api(server, "GET", "/conversations"))["conversations"][0]["id"] == made["id"]  # updated: first
    assert data(api(server, "DELETE", f"/conversations/{made['id']}")) == {"id": made["id"], "deleted": True}
    assert_error(api(server, "GET", f"/conversations/{made['id']}"), "conversation_not_found", "id")


def test_bad_requests_get_clear_errors(server: Any) -> None:
    made = data(api(server, "POST", "/conversations", json={"title": "x"}))
    assert_error(
        api(server, "PATCH", f"/conversations/{made['id']}", json={"title": "t" * 201}), "invalid_parameter", "title"
    )
    assert_error(
        api(server, "PATCH", f"/conversations/{made['id']}", json={"title": "  "}), "invalid_parameter", "title"
    )
    assert_error(api(server, "POST", "/conversations", json={"title": "t" * 201}), "invalid_parameter", "title")
    assert_error(api(server, "GET", "/conversations/c_nope"), "conversation_not_found", "id")
    assert_error(api(server, "DELETE", "/conversations/c_nope"), "conversation_not_found", "id")
    assert_error(api(server, "GET", "/conversations", params={"cursor": "garbage"}), "invalid_parameter", "cursor")
    assert_error(api(server, "GET", "/conversations", params={"limit": 0}), "invalid_parameter", "limit")
    assert_error(
        api(server, "GET", f"/conversations/{made['id']}/export", params={"format": "pdf"}),
        "invalid_parameter",
        "format",
    )
    assert_error(api(server, "GET", "/conversations", params={"repo": "/etc"}), "access_denied", "repo")


def test_pages_follow_the_cursor_newest_first(server: Any) -> None:
    ids = [data(api(server, "POST", "/conversations", json={"title": f"n{i}"}))["id"] for i in range(7)]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = data(api(server, "GET", "/conversations", params=params))
        seen += [c["id"] for c in page["conversations"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))


def test_a_chat_turn_is_stored_with_its_trace_and_the_next_turn_reads_the_history(
    server: Any, fake_ollama: FakeOllama
) -> None:
    conversation = data(api(server, "POST", "/conversations", json={}))["id"]
    fake_ollama.chat_script(calls(call("read_file", path="src/main.py")), say("`main` returns 42 (src/main.py:2)."))
    done = ask(server, conversation, "What does main return?")
    assert done["conversation_id"] == conversation and done["message_id"].startswith("m_")
    assert done["citations"] == [
        {"ref": "src/main.py:2", "path": "src/main.py", "line": 2, "end_line": 2, "verified": True}
    ]
    stored = data(api(server, "GET", f"/conversations/{conversation}"))
    assert stored["title"] == "What does main return?"  # from the first question
    question, answer = stored["messages"]
    assert (question["role"], question["content"], question["parent_id"]) == ("user", "What does main return?", None)
    assert answer["parent_id"] == question["id"] and answer["id"] == done["message_id"]
    assert answer["content"] == "`main` returns 42 (src/main.py:2)." and answer["finish_reason"] == "stop"
    assert [(e["name"], e["status"]) for e in answer["tool_events"]] == [("read_file", "completed")]  # one entry a call
    assert answer["sources"] == [{"path": "src/main.py", "line": 1, "end_line": 2, "label": "src/main.py:1-2"}]
    assert answer["model"] == MODEL and answer["usage"]["total_tokens"] == 30
    assert answer["timings"]["total_ms"] >= 0
    given = answer["context"]  # the code given with the question is kept with the answer
    assert [(p["path"], p["start_line"], p["end_line"]) for p in given["parts"]] == [("src/main.py", 1, 2)]
    first_sent = fake_ollama.received("/api/chat")[0].body["messages"][-1]["content"]
    assert given["text"] in first_sent and first_sent.endswith("What does main return?")
    fake_ollama.chat_script(say("It takes no arguments."))
    ask(server, conversation, "And its arguments?")
    sent = fake_ollama.received("/api/chat")[-1].body["messages"]
    # the history reads as the model read it: the first question with its code; the second
    # question gets no part the conversation holds already (src/main.py:1-2 is there)
    assert [(m["role"], m["content"]) for m in sent[1:]] == [
        ("user", first_sent),
        ("assistant", "`main` returns 42 (src/main.py:2)."),
        ("user", "And its arguments?"),
    ]


def test_asking_again_and_editing_make_branches_that_can_be_switched(server: Any, fake_ollama: FakeOllama) -> None:
    conversation = data(api(server, "POST", "/conversations", json={}))["id"]
    fake_ollama.chat_script(say("first answer"), say("second answer"), say("answer to the edit"))
    first = ask(server, conversation, "question one")
    again = ask(server, conversation, None, parent=first["user_message_id"])  # regenerate
    shown = data(api(server, "GET", f"/conversations/{conversation}"))["messages"]
    assert [m["content"] for m in shown] == ["question one", "second answer"]
    assert (shown[1]["sibling_count"], shown[1]["sibling_index"]) == (2, 1)
    assert shown[1]["sibling_ids"] == [first["message_id"], again["message_id"]]
    edited = ask(server, conversation, "question one, edited", parent=None)  # an edit of the first question
    assert edited["user_message_id"] != first["user_message_id"]
    shown = data(api(server, "GET", f"/conversations/{conversation}"))["messages"]
    assert [m["content"] for m in shown] == ["question one, edited", "answer to the edit"]
    assert (shown[0]["sibling_count"], shown[0]["sibling_index"]) == (2, 1)
    back = data(api(server, "PATCH", f"/conversations/{conversation}", json={"active_id": first["user_message_id"]}))
    assert [m["content"] for m in back["messages"]] == ["question one", "second answer"]  # its newest answer
    assert_error(
        api(server, "PATCH", f"/conversations/{conversation}", json={"active_id": "m_other"}),
        "invalid_parameter",
        "active_id",
    )


def test_chat_refuses_what_a_conversation_cannot_take(server: Any) -> None:
    conversation = data(api(server, "POST", "/conversations", json={}))["id"]
    url = f"{server.url}/api/v1/chat/completions"
    q = [{"role": "user", "content": "hi"}]
    cases = [
        ({"conversation_id": "c_missing", "messages": q}, "conversation_not_found", "conversation_id"),
        ({"conversation_id": conversation, "messages": q, "parent_id": "m_missing"}, "invalid_parameter", "parent_id"),
        ({"conversation_id": conversation, "messages": [*q, *q]}, "invalid_parameter", "messages"),
        ({"conversation_id": conversation, "messages": []}, "invalid_parameter", "messages"),
        ({"messages": q, "parent_id": "m_x"}, "invalid_parameter", "parent_id"),
        ({"messages": []}, "invalid_parameter", "messages"),
    ]
    for body, code, param in cases:
        assert_error(httpx.post(url, json={**body, "settings": {"model": MODEL}}, timeout=10), code, param)


def test_a_client_that_leaves_mid_answer_leaves_it_stored_as_cancelled(server: Any, fake_ollama: FakeOllama) -> None:
    conversation = data(api(server, "POST", "/conversations", json={}))["id"]
    fake_ollama.chat_script([{"message": {"role": "assistant", "content": "partial "}}, 5.0, *say("rest")])
    body = {
        "conversation_id": conversation,
        "messages": [{"role": "user", "content": "slow one"}],
        "settings": {"model": MODEL},
    }
    with httpx.stream("POST", f"{server.url}/api/v1/chat/completions", json=body, timeout=30) as response:
        for line in response.iter_lines():
            if "partial" in line:
                break
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        messages = data(api(server, "GET", f"/conversations/{conversation}"))["messages"]
        if len(messages) == 2:
            break
        time.sleep(0.05)
    assert [m["content"] for m in messages] == ["slow one", "partial "]
    assert messages[1]["finish_reason"] == "cancelled"


def test_two_tabs_writing_to_one_conversation_lose_nothing(server: Any, fake_ollama: FakeOllama) -> None:
    conversation = data(api(server, "POST", "/conversations", json={}))["id"]
    first = None
    fake_ollama.chat_script(*[say(f"answer {i}") for i in range(9)])
    first = ask(server, conversation, "root question")
    errors: list[BaseException] = []

    def tab(i: int) -> None:
        try:
            ask(server, conversation, f"follow-up {i}", parent=first["message_id"])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=tab, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    exported = data(api(server, "GET", f"/conversations/{conversation}/export", params={"format": "json"}))["content"]
    follow_ups = [m for m in exported["messages"] if m["content"].startswith("follow-up")]
    assert sorted(m["content"] for m in follow_ups) == [f"follow-up {i}" for i in range(8)]
    answers = [
        m for m in exported["messages"] if m["role"] == "assistant" and m["parent_id"] in {f["id"] for f in follow_ups}
    ]
    assert len(answers) == 8


def test_export_and_import_round_trip_and_fork(server: Any, fake_ollama: FakeOllama) -> None:
    conversation = data(api(server, "POST", "/conversations", json={"title": "Round trip"}))["id"]
    fake_ollama.chat_script(calls(call("list_files")), say("It has src/."), say("Again: src/."), say("Later."))
    first = ask(server, conversation, "What is here?")
    ask(server, conversation, None, parent=first["user_message_id"])
    ask(server, conversation, "Anything else?")
    markdown = data(api(server, "GET", f"/conversations/{conversation}/export"))
    assert markdown["format"] == "md" and markdown["filename"] == "Round-trip.md"
    assert markdown["content"].startswith("# Round trip\n") and "## You\n\nWhat is here?" in markdown["content"]
    assert "## Assistant\n\nAgain: src/." in markdown["content"] and "It has src/." not in markdown["content"]
    exported = data(api(server, "GET", f"/conversations/{conversation}/export", params={"format": "json"}))["content"]
    assert len(exported["messages"]) == 5  # both branches
    imported = data(api(server, "POST", "/conversations", json=exported))
    assert imported["id"] != conversation and imported["title"] == "Round trip"
    again = data(api(server, "GET", f"/conversations/{imported['id']}/export", params={"format": "json"}))["content"]

    def shape(document: dict[str, Any]) -> list[Any]:
        index = {m["id"]: i for i, m in enumerate(document["messages"])}
        return [
            (
                m["role"],
                m["content"],
                index.get(m["parent_id"]),
                m.get("finish_reason"),
                len(m.get("tool_events") or []),
            )
            for m in document["messages"]
        ]

    assert shape(again) == shape(exported)
    original = data(api(server, "GET", f"/conversations/{conversation}"))["messages"]
    assert [m["content"] for m in data(api(server, "GET", f"/conversations/{imported['id']}"))["messages"]] == [
        m["content"] for m in original
    ]
    forked = data(api(server, "POST", f"/conversations/{conversation}/fork", json={"message_id": original[1]["id"]}))
    assert forked["title"] == "Round trip (fork)" and [m["content"] for m in forked["messages"]] == [
        "What is here?",
        "Again: src/.",
    ]
    assert_error(
        api(server, "POST", f"/conversations/{imported['id']}/fork", json={"message_id": original[1]["id"]}),
        "invalid_parameter",
        "message_id",
    )
    assert_error(
        api(server, "POST", "/conversations", json={"messages": [{"id": "a", "role": "robot", "content": "x"}]}),
        "invalid_parameter",
        "messages[0].role",
    )


def test_search_finds_titles_and_message_text(server: Any, fake_ollama: FakeOllama) -> None:
    fake_ollama.chat_script(say("The tokenizer splits words."), say("Nothing."))
    one = data(api(server, "POST", "/conversations", json={"title": "About parsing"}))["id"]
    ask(server, one, "How are identifiers handled?")
    two = data(api(server, "POST", "/conversations", json={"title": "Deployment"}))["id"]
    ask(server, two, "Where is the Dockerfile?")

    def found(q: str) -> list[str]:
        return [c["id"] for c in data(api(server, "GET", "/conversations", params={"q": q}))["conversations"]]

    assert found("tokeniz") == [one]  # a word of an answer, by prefix
    assert found("deployment") == [two]  # the title
    assert found('docker "file') == []  # quotes cannot break the query
    assert found("identifiers handled") == [one]


def test_conversations_survive_a_restart(
    layout: Layout, live_server: Any, fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    data_dir = str(tmp_path / "kept")
    first = live_server(layout.repo, ollama_url=fake_ollama.url, data_dir=data_dir)
    conversation = data(api(first, "POST", "/conversations", json={}))["id"]
    fake_ollama.chat_script(say("kept"))
    ask(first, conversation, "remember this")
    first.__exit__()
    second = live_server(layout.repo, ollama_url=fake_ollama.url, data_dir=data_dir)
    assert [m["content"] for m in data(api(second, "GET", f"/conversations/{conversation}"))["messages"]] == [
        "remember this",
        "kept",
    ]


@pytest.mark.parametrize("damage", ["unwritable", "corrupt"])
def test_a_store_that_cannot_be_opened_keeps_conversations_in_memory(
    layout: Layout,
    live_server: Any,
    fake_ollama: FakeOllama,
    tmp_path: Path,
    damage: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    if damage == "unwritable":
        data_dir.chmod(0o500)
        if os.access(data_dir, os.W_OK):  # root can write anywhere: a file where the directory should be
            data_dir.chmod(0o700)
            data_dir.rmdir()
            data_dir.write_text("not a directory")
    else:
        (data_dir / "conversations.sqlite3").write_bytes(b"this is not a database" * 100)
    try:
        server = live_server(layout.repo, ollama_url=fake_ollama.url, data_dir=str(data_dir))
        health = data(api(server, "GET", "/health"))
        assert health["status"] == "degraded" and health["services"]["conversations"]["status"] == "memory"
        assert "conversations.sqlite3" in health["services"]["conversations"]["error"]
        assert "in memory" in health["services"]["conversations"]["error"]
        assert any("kept in memory" in r.getMessage() for r in caplog.records)
        conversation = data(api(server, "POST", "/conversations", json={}))["id"]  # the UI works the same way
        fake_ollama.chat_script(say("still answering"))
        assert ask(server, conversation, "hi")["conversation_id"] == conversation
        assert [c["id"] for c in data(api(server, "GET", "/conversations"))["conversations"]] == [conversation]
        if damage == "corrupt":  # the user's file is never rewritten
            assert (data_dir / "conversations.sqlite3").read_bytes() == b"this is not a database" * 100
    finally:
        if data_dir.is_dir():
            data_dir.chmod(0o700)


def test_migrating_an_older_database_keeps_everything(tmp_path: Path) -> None:
    path = tmp_path / "conversations.sqlite3"
    old = sqlite3.connect(path)
    old.executescript(MIGRATIONS[0] + "\nPRAGMA user_version = 1;")
    old.execute("INSERT INTO conversations VALUES ('c_old', 'Old one', NULL, NULL, 1.0, 2.0, 'm_2')")
    old.execute("INSERT INTO messages VALUES ('m_1', 'c_old', NULL, 'user', 'an old question about lexers', 1.0)")
    old.execute("INSERT INTO messages VALUES ('m_2', 'c_old', 'm_1', 'assistant', 'an old answer', 1.5)")
    old.commit()
    old.close()
    store = ConversationStore(path)
    try:
        assert store.check() == "ok"
        loaded = store.get("c_old")
        assert [m.content for m in loaded.messages] == ["an old question about lexers", "an old answer"]
        assert [c.id for c in store.page(["lexers"], None, 10, None).conversations] == [
            "c_old"
        ]  # indexed by the migration
        version = sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0]
        assert version == len(MIGRATIONS)
    finally:
        store.close()


def test_a_server_killed_mid_answer_keeps_its_progress_and_takes_the_next_question(
    layout: Layout, fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    """kill -9 while an answer streams: after a restart the question, the answer's text so far and
    the tool calls it ran are there, marked interrupted, and a new question is taken."""
    port = free_port()
    args = [
        sys.executable,
        "-m",
        "assistant",
        "serve",
        "--repo",
        str(layout.repo),
        "--port",
        str(port),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--data-dir",
        str(tmp_path / "data"),
        "--ollama-url",
        fake_ollama.url,
        "--log-level",
        "warning",
    ]

    def start() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, "the server exited"
                time.sleep(0.1)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            wait_ready(client)
        return proc

    class Server:
        url = f"http://127.0.0.1:{port}"

    proc = start()
    try:
        conversation = data(api(Server, "POST", "/conversations", json={}))["id"]
        fake_ollama.chat_script(
            say("first answer"),
            calls(call("read_file", path="src/main.py")),
            [{"message": {"role": "assistant", "content": "half an answer"}}, 60.0, *say("never")],
        )
        ask(Server, conversation, "first question")
        body = {
            "conversation_id": conversation,
            "messages": [{"role": "user", "content": "second"}],
            "settings": {"model": MODEL},
        }
        with httpx.stream("POST", f"{Server.url}/api/v1/chat/completions", json=body, timeout=30) as response:
            lines = response.iter_lines()
            for line in lines:
                if "half an answer" in line:
                    break

            def kept() -> bool:  # stored within a few seconds, while the model is silent
                shown = data(api(Server, "GET", f"/conversations/{conversation}"))["messages"]
                return len(shown) == 4 and shown[3]["content"] == "half an answer"

            wait_until(kept, "the answer's text so far being stored")
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert (
        sqlite3.connect(tmp_path / "data" / "conversations.sqlite3").execute("PRAGMA integrity_check").fetchone()[0]
        == "ok"
    )
    proc = start()
    try:
        messages = data(api(Server, "GET", f"/conversations/{conversation}"))["messages"]
        assert [m["content"] for m in messages] == ["first question", "first answer", "second", "half an answer"]
        interrupted = messages[3]
        assert interrupted["finish_reason"] == "interrupted"
        assert [(e["name"], e["status"]) for e in interrupted["tool_events"]] == [("read_file", "completed")]
        fake_ollama.chat_script(say("third answer"))
        ask(Server, conversation, "a third question")  # under the interrupted answer
        after = data(api(Server, "GET", f"/conversations/{conversation}"))["messages"]
        assert [m["content"] for m in after[-2:]] == ["a third question", "third answer"]
        assert after[-2]["parent_id"] == interrupted["id"]
    finally:
        proc.terminate()
        proc.wait(10)


def test_the_json_export_is_plain_json(server: Any) -> None:
    made = data(api(server, "POST", "/conversations", json={"title": "ünïcode ✓"}))
    exported = data(api(server, "GET", f"/conversations/{made['id']}/export", params={"format": "json"}))
    assert exported["filename"] == "ünïcode.json"
    assert json.loads(json.dumps(exported["content"]))["title"] == "ünïcode ✓"


def test_titles_follow_the_first_question_until_a_person_names_them(server: Any, fake_ollama: FakeOllama) -> None:
    conversation = data(api(server, "POST", "/conversations", json={}))["id"]
    fake_ollama.chat_script(say("one"), say("two"), say("three"))
    ask(server, conversation, "first wording")
    ask(server, conversation, "second wording", parent=None)  # the first question, edited
    assert data(api(server, "GET", f"/conversations/{conversation}"))["title"] == "second wording"
    data(api(server, "PATCH", f"/conversations/{conversation}", json={"title": "Mine"}))
    ask(server, conversation, "third wording", parent=None)
    assert data(api(server, "GET", f"/conversations/{conversation}"))["title"] == "Mine"
    named = data(api(server, "POST", "/conversations", json={"title": "Named at the start"}))["id"]
    fake_ollama.chat_script(say("x"))
    ask(server, named, "a question")
    assert data(api(server, "GET", f"/conversations/{named}"))["title"] == "Named at the start"


def test_a_fork_says_where_it_came_from(server: Any, fake_ollama: FakeOllama) -> None:
    conversation = data(api(server, "POST", "/conversations", json={}))["id"]
    fake_ollama.chat_script(say("answer"))
    done = ask(server, conversation, "question")
    forked = data(api(server, "POST", f"/conversations/{conversation}/fork", json={"message_id": done["message_id"]}))
    assert forked["forked_from"] == conversation
    listed = {c["id"]: c for c in data(api(server, "GET", "/conversations"))["conversations"]}
    assert listed[forked["id"]]["forked_from"] == conversation and listed[conversation]["forked_from"] is None


def test_a_conversation_runs_on_its_own_repository_and_one_not_served_is_read_only(
    layout: Layout, live_server: Any, fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    (other / "lib").mkdir(parents=True)
    (other / "lib" / "only_here.py").write_text("def only_here():\n    return 1\n")
    data_dir = str(tmp_path / "shared-data")
    both = live_server([layout.repo, other], ollama_url=fake_ollama.url, data_dir=data_dir)
    conversation = data(api(both, "POST", "/conversations", json={"repo": str(other)}))["id"]
    fake_ollama.chat_script(calls(call("read_file", path="lib/only_here.py")), say("read it"))
    body = {
        "conversation_id": conversation,
        "messages": [{"role": "user", "content": "q"}],
        "settings": {"model": MODEL, "repo_path": str(layout.repo)},
    }
    events = chat(both, **body)
    read = [e for e in events if isinstance(e, dict) and e.get("type") == "tool_call" and e["status"] == "completed"]
    assert read and read[0]["result"]["content"].startswith("lib/only_here.py")  # on the conversation's repository
    both.__exit__()
    flask_only = live_server(layout.repo, ollama_url=fake_ollama.url, data_dir=data_dir)
    error = assert_error(
        httpx.post(f"{flask_only.url}/api/v1/chat/completions", json=body, timeout=30),
        "access_denied",
        "conversation_id",
    )
    assert "read-only" in error["message"]
    assert len(data(api(flask_only, "GET", f"/conversations/{conversation}"))["messages"]) == 2  # nothing added
