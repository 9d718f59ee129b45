"""The first hour with a slow local model: a busy model server is not a dead one, a question is
never lost, the server says what it is doing, and answers that are only tool-call text."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest

from tests.fakes.ollama import FakeOllama
from tests.helpers import MODEL, Layout, assert_error, call, calls, say, stream, text_of, tool_events, wait_until


def api(server: Any, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, f"{server.url}/api/v1{path}", timeout=60, **kwargs)


def data(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()["data"]


def busy_for(fake: FakeOllama, seconds: float, delay: float) -> None:
    """The model server answers each request ``delay`` late for ``seconds`` (it is generating for
    another client, as llama.cpp does one thing at a time), then at once again."""
    fake.slow = delay
    threading.Timer(seconds, lambda: setattr(fake, "slow", 0.0)).start()


def test_a_question_asked_while_the_model_server_is_busy_is_answered(
    layout: Layout, live_server: Any, fake_ollama: FakeOllama
) -> None:
    """Model resolution waits as a first token would (it was cut at the 1 s request timeout:
    504, and the question was neither stored nor shown)."""
    server = live_server(layout.repo, ollama_url=fake_ollama.url, request_timeout=1.0, first_token_timeout=60)
    conversation = data(api(server, "POST", "/conversations", json={}))["id"]
    fake_ollama.chat_script(say("answered after all"))
    busy_for(fake_ollama, seconds=3.0, delay=2.0)  # each request outlasts the request timeout meanwhile
    body = {
        "conversation_id": conversation,
        "messages": [{"role": "user", "content": "rephrased"}],
        "settings": {"model": MODEL},
    }
    events, _, response = stream_body(server, body)
    assert response.status_code == 200 and text_of(events) == "answered after all"
    shown = data(api(server, "GET", f"/conversations/{conversation}"))["messages"]
    assert [m["content"] for m in shown] == ["rephrased", "answered after all"]


def test_what_the_server_said_of_a_model_is_used_while_it_is_busy(
    layout: Layout, live_server: Any, fake_ollama: FakeOllama
) -> None:
    server = live_server(layout.repo, ollama_url=fake_ollama.url, request_timeout=0.5, first_token_timeout=60)
    fake_ollama.chat_script(say("first"), say("second"))
    assert text_of(stream(server)[0]) == "first"
    fake_ollama.slow = 1.0  # every request now outlasts the request timeout; a chat's first token may take that
    assert text_of(stream(server)[0]) == "second"


def test_a_failure_after_the_question_is_stored_stays_with_it(
    layout: Layout, live_server: Any, fake_ollama: FakeOllama
) -> None:
    server = live_server(layout.repo, ollama_url=fake_ollama.url)
    conversation = data(api(server, "POST", "/conversations", json={}))["id"]
    body = {
        "conversation_id": conversation,
        "messages": [{"role": "user", "content": "typed with care"}],
        "settings": {"model": "not-installed:1b"},
    }
    assert_error(
        httpx.post(f"{server.url}/api/v1/chat/completions", json=body, timeout=30),
        "ollama_model_not_found",
        "settings.model",
    )
    question, answer = data(api(server, "GET", f"/conversations/{conversation}"))["messages"]
    assert question["content"] == "typed with care"
    assert answer["finish_reason"] == "error" and answer["error"]["code"] == "ollama_model_not_found"
    fake_ollama.chat_script(say("now it works"))
    again = {"conversation_id": conversation, "messages": [], "parent_id": question["id"], "settings": {"model": MODEL}}
    events, _, _ = stream_body(server, again)  # Ask again on the question
    assert text_of(events) == "now it works"
    follow = {
        "conversation_id": conversation,
        "messages": [{"role": "user", "content": "and then?"}],
        "parent_id": answer["id"],
        "settings": {"model": MODEL},
    }
    fake_ollama.chat_script(say("then this"))
    assert text_of(stream_body(server, follow)[0]) == "then this"  # a question may follow a failed answer
    sent = fake_ollama.received("/api/chat")[-1].body["messages"]
    assert [m["content"] for m in sent[1:]] == ["typed with care", "and then?"]  # the error is not shown to the model


def stream_body(server: Any, body: dict[str, Any]) -> tuple[list[Any], list[str], httpx.Response]:
    from tests.sse import read

    with httpx.stream("POST", f"{server.url}/api/v1/chat/completions", json=body, timeout=120) as response:
        if response.status_code != 200:
            response.read()
            return [], [], response
        events, comments = read(response)
    return events, comments, response


def test_health_says_busy_not_down_while_an_answer_streams(
    layout: Layout, live_server: Any, fake_ollama: FakeOllama
) -> None:
    server = live_server(layout.repo, ollama_url=fake_ollama.url, request_timeout=1.0)
    fake_ollama.chat_script([{"message": {"role": "assistant", "content": "slowly "}}, 8.0, *say("done")])
    body = {"messages": [{"role": "user", "content": "hi"}], "settings": {"model": MODEL}}
    with httpx.stream("POST", f"{server.url}/api/v1/chat/completions", json=body, timeout=60) as response:
        lines = response.iter_lines()
        for line in lines:
            if "slowly" in line:
                break
        fake_ollama.hang = True  # it answers nothing else while it generates
        started = time.monotonic()
        health = data(api(server, "GET", "/health"))
        assert time.monotonic() - started < 1.0  # what the server knows, at once (it needs a few ms)
        assert health["status"] == "healthy" and health["services"]["model_server"]["status"] == "connected"

        def busy() -> bool:  # the probe times out while the answer streams: busy, never down
            state = data(api(server, "GET", "/health"))
            assert state["status"] == "healthy", state
            return bool(state["services"]["model_server"]["status"] == "busy")

        wait_until(busy, "the probe timing out")
        fake_ollama.hang = False
        for _ in lines:
            pass


def test_the_stream_says_what_the_server_is_doing(server: Any, fake_ollama: FakeOllama) -> None:
    fake_ollama.chat_script(calls(call("list_files")), say("Done."))
    events, _, _ = stream(server)
    states = [e for e in events if isinstance(e, dict) and e.get("type") == "status"]
    assert [(s["state"], s["round"], s.get("tool")) for s in states] == [
        ("waiting_for_model", 1, None),
        ("running_tool", 1, "list_files"),
        ("waiting_for_model", 2, None),
        ("writing", 2, None),
    ]
    assert all(s["timestamp"].endswith("Z") for s in states)
    first_chunk = next(i for i, e in enumerate(events) if isinstance(e, dict) and e.get("object"))
    assert events[first_chunk - 1]["state"] == "writing"  # said just before the words


@pytest.fixture
def server(layout: Layout, live_server: Any, fake_ollama: FakeOllama) -> Any:
    return live_server(layout.repo, ollama_url=fake_ollama.url)


@pytest.mark.parametrize(
    "written",
    [
        "functions.list_files:\n{}",
        'functions.read_file:\n{"path": "src/main.py"}',
        "{&#34;name&#34;: &#34;read_file&#34;, &#34;arguments&#34;: {&#34;path&#34;: &#34;src/main.py&#34;}}",
        "{&#34;query&#34;: &#34;main&#34;}",  # arguments alone: search_files is the one tool that takes a query
    ],
)
def test_tool_calls_a_small_model_writes_as_text_are_run(server: Any, fake_ollama: FakeOllama, written: str) -> None:
    fake_ollama.chat_script(say(written), say("It returns 42."))
    events, _, _ = stream(server)
    assert text_of(events) == "It returns 42."
    finished = [t for t in tool_events(events) if t["status"] != "started"]
    assert len(finished) == 1 and finished[0]["status"] == "completed"


def test_a_last_round_of_only_tool_call_text_is_answered_from_search(
    layout: Layout, live_server: Any, fake_ollama: FakeOllama
) -> None:
    server = live_server(layout.repo, ollama_url=fake_ollama.url, max_rounds=1)
    fake_ollama.chat_script(calls(call("list_files")), say('functions.read_file:\n{"path": "src/main.py"}'))
    events, _, _ = stream(server, "what does main return")
    text = text_of(events)
    assert "functions." not in text
    assert text.startswith("**Search results, not a model's answer.** The model gave no answer")
    assert "src/main.py:1-2" in text
    done = events[-2]
    assert done["type"] == "done" and done["from_search"] is True and done["rounds_exhausted"] is True


def test_one_log_line_a_chat_whatever_the_route(
    server: Any, fake_ollama: FakeOllama, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="assistant.chat")
    fake_ollama.chat_script(calls(call("list_files")), say("Done."), say("plain"), say("v1"))
    stream(server)
    httpx.post(
        f"{server.url}/api/v1/chat/completions",
        json={"messages": [{"role": "user", "content": "x"}], "settings": {"model": MODEL}, "stream": False},
        timeout=30,
    )
    httpx.post(
        f"{server.url}/v1/chat/completions",
        json={"model": MODEL, "messages": [{"role": "user", "content": "x"}]},
        timeout=30,
    )
    lines = [
        r.getMessage() for r in caplog.records if r.name == "assistant.chat" and r.getMessage().startswith("chat ")
    ]
    assert len(lines) == 3, lines
    first, second, third = lines
    assert " /api/v1 " in first and f"model={MODEL}" in first and "rounds=2 tool_calls=1" in first
    assert "tokens=20+10" in first and "first_token=" in first and first.endswith(" stop")
    assert " /api/v1 " in second and "rounds=1 tool_calls=0" in second
    assert " /v1 " in third and third.endswith(" stop")


def test_an_overview_question_without_a_model_starts_from_the_readme_and_the_map(
    layout: Layout, live_server: Any
) -> None:
    (layout.repo / "README.md").write_text(
        "# Demo repo\n\n[![build](https://ci.example/badge.svg)](https://ci.example)\n\n"
        "A small repository that answers 42.\n\n## Installing\n\npip install demo\n"
    )
    (layout.repo / "pyproject.toml").write_text('[project]\nname = "demo"\ndescription = "the project"\n')
    server = live_server(layout.repo, ollama_url="http://127.0.0.1:9")
    with httpx.Client(base_url=server.url) as client:
        wait_until(lambda: client.get("/api/v1/status").json()["data"]["repos"][0]["state"] == "ready", "the index")
    text = text_of(stream(server, "What does this project do?")[0])
    opening = text.index("What the project says of itself (README.md:1-5)")
    assert "> A small repository that answers 42." in text and "badge.svg" not in text and "pip install" not in text
    assert opening < text.index("src/main.py")  # the map of central files follows it
    assert text.index("src/main.py") < text.find("pyproject.toml") or "pyproject.toml" not in text
