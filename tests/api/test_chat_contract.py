"""One chat contract, run against both model backends (Ollama and OpenAI-compatible), each
behind its own fake server speaking its real wire protocol."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fakes.ollama import FakeOllama
from tests.fakes.openai import FakeOpenAI
from tests.helpers import (
    Layout,
    ask,
    assert_error,
    call,
    calls,
    chunks,
    free_port,
    say,
    stream,
    text_of,
    tool_events,
    wait_until,
)


class Backend:
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.fake: FakeOllama = FakeOpenAI() if kind == "openai" else FakeOllama()
        self.fake.start()

    def settings(self, **overrides: Any) -> dict[str, Any]:
        if self.kind == "openai":
            return {"backend": "openai", "base_url": self.fake.base_url, **overrides}  # type: ignore[attr-defined]
        return {"ollama_url": self.fake.url, **overrides}

    def down_settings(self) -> dict[str, Any]:
        url = f"http://127.0.0.1:{free_port()}"
        return {"backend": "openai", "base_url": f"{url}/v1"} if self.kind == "openai" else {"ollama_url": url}

    def chat_bodies(self) -> list[dict[str, Any]]:
        path = "/v1/chat/completions" if self.kind == "openai" else "/api/chat"
        return [r.body for r in self.fake.received(path)]


@pytest.fixture(params=["ollama", "openai"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    made = Backend(str(request.param))
    yield made
    made.fake.down()


@pytest.fixture
def server(layout: Layout, live_server: Any, backend: Backend) -> Any:
    return live_server(layout.repo, **backend.settings(keepalive_seconds=5))


def test_two_round_tool_conversation(server: Any, backend: Backend) -> None:
    backend.fake.chat_script(
        calls(call("search_files", query="main"), call("read_file", path="src/main.py")), say("It ", "returns 42.")
    )
    events, _, _ = stream(server)
    kinds = [e if isinstance(e, str) else e.get("type") or e.get("object") for e in events]
    # the code given with the question comes first, then the calls, the answer, done
    assert [k for k in kinds if k != "status"] == ["context"] + ["tool_call"] * 4 + ["chat.completion.chunk"] * 3 + [
        "done",
        "[DONE]",
    ]
    states = [
        (e["state"], e["round"], e.get("tool")) for e in events if isinstance(e, dict) and e.get("type") == "status"
    ]
    assert states == [
        ("waiting_for_model", 1, None),
        ("running_tool", 1, "search_files"),
        ("running_tool", 1, "read_file"),
        ("waiting_for_model", 2, None),
        ("writing", 2, None),
    ]
    assert (
        kinds[0] == "context"
        and kinds.index("status") == 1
        and kinds[-3:] == ["chat.completion.chunk", "done", "[DONE]"]
    )
    tools = tool_events(events)
    assert [(t["name"], t["status"]) for t in tools] == [
        ("search_files", "started"),
        ("search_files", "completed"),
        ("read_file", "started"),
        ("read_file", "completed"),
    ]
    assert tools[2]["arguments"] == {"path": "src/main.py"}
    assert "return 42" in tools[3]["result"]["content"]
    assert text_of(events) == "It returns 42."
    assert chunks(events)[0]["choices"][0]["delta"]["role"] == "assistant"
    done = events[-2]
    assert done["type"] == "done" and done["usage"] == {
        "prompt_tokens": 20,
        "completion_tokens": 10,
        "total_tokens": 30,
    }
    assert done["sources"] == [{"path": "src/main.py", "line": 1, "end_line": 2, "label": "src/main.py:1-2"}]
    first, second = backend.chat_bodies()
    assert first["messages"][0]["role"] == "system" and first["tools"]
    assert [m for m in second["messages"] if m["role"] == "tool"]


def test_not_streamed(server: Any, backend: Backend) -> None:
    backend.fake.chat_script(calls(call("read_file", path="src/main.py")), say("42."))
    data = ask(server, stream=False).json()["data"]
    assert data["content"] == "42." and data["tool_calls"][0]["status"] == "completed"
    assert data["usage"]["total_tokens"] == 30


def test_keepalive_while_silent(layout: Layout, live_server: Any, backend: Backend) -> None:
    server = live_server(layout.repo, **backend.settings(keepalive_seconds=0.15))
    backend.fake.chat_script([{"message": {"role": "assistant", "content": "a"}}, 0.8, *say("b")])
    events, comments, _ = stream(server)
    assert comments and text_of(events) == "ab"


def test_disconnect_cancels_upstream(server: Any, backend: Backend) -> None:
    backend.fake.chat_script([{"message": {"role": "assistant", "content": "first"}}, 3.0, *say("never")])
    body = {"messages": [{"role": "user", "content": "hi"}], "settings": {"model": "qwen2.5-coder:7b"}}
    with httpx.stream("POST", f"{server.url}/api/v1/chat/completions", json=body) as response:
        for line in response.iter_lines():
            if "first" in line:
                break
    closed = time.monotonic()
    while not backend.fake.disconnects and time.monotonic() - closed < 5:
        time.sleep(0.02)
    assert [what for what, _ in backend.fake.disconnects] == ["chat"]


def test_down_before_the_stream_answers_from_search(layout: Layout, live_server: Any, backend: Backend) -> None:
    server = live_server(layout.repo, **backend.down_settings())
    answer = ask(server, stream=False).json()["data"]
    named = "OpenAI-compatible server at" if backend.kind == "openai" else "Ollama at"  # names the backend
    assert answer["model"] is None and answer["content"].startswith(
        f"**Search results, not a model's answer.** {named}"
    )


def test_dying_during_the_stream(server: Any, backend: Backend) -> None:
    backend.fake.chat_script(say("partial ", "more ", "end"))
    backend.fake.drop_after = 1
    events, _, _ = stream(server)
    assert text_of(events) == "partial "
    assert events[-2]["error"]["code"] == "ollama_error" and events[-1] == "[DONE]"


def test_model_not_found(server: Any) -> None:
    assert_error(ask(server, settings={"model": "nope:1b"}), "ollama_model_not_found", "settings.model")


def test_hung_model_times_out(layout: Layout, live_server: Any, backend: Backend) -> None:
    server = live_server(layout.repo, **backend.settings(first_token_timeout=0.5, chunk_timeout=0.5))
    backend.fake.chat_script([{"message": {"role": "assistant", "content": "a"}}, 5.0, *say("b")])
    events, _, _ = stream(server)
    assert events[-2]["error"]["code"] == "ollama_timeout"


def test_tool_call_written_as_text(server: Any, backend: Backend) -> None:
    backend.fake.chat_script(say('<tool_call>{"name": "list_files", "arguments": {}}</tool_call>'), say("Listed."))
    events, _, _ = stream(server)
    assert text_of(events) == "Listed." and tool_events(events)[1]["status"] == "completed"


def test_unknown_tool_and_repeated_call(server: Any, backend: Backend) -> None:
    backend.fake.chat_script(
        calls(call("nope_tool")), calls(call("list_files")), calls(call("list_files")), say("done")
    )
    events, _, _ = stream(server)
    finished = [t for t in tool_events(events) if t["status"] != "started"]
    assert finished[0]["error"]["code"] == "tool_not_found"
    assert finished[1]["status"] == "completed" and "same call as before" in finished[2]["result"]["content"]


def test_round_limit(layout: Layout, live_server: Any, backend: Backend) -> None:
    server = live_server(layout.repo, **backend.settings(max_rounds=1))
    backend.fake.chat_script(calls(call("list_files")), say("Final."))
    events, _, _ = stream(server)
    assert text_of(events) == "Final."
    bodies = backend.chat_bodies()
    assert len(bodies) == 2 and bodies[0]["tools"] and not bodies[1].get("tools")


def test_server_busy(layout: Layout, live_server: Any, backend: Backend) -> None:
    server = live_server(layout.repo, **backend.settings(max_concurrent_chats=1))
    backend.fake.chat_script([5.0, *say("slow")])
    worker = threading.Thread(target=lambda: stream(server))
    worker.start()
    wait_until(lambda: backend.chat_bodies(), "the first chat reaching the model")  # it holds the slot
    assert_error(ask(server, stream=False), "server_busy")
    worker.join()


def test_openai_backend_falls_back_when_a_stream_with_tools_is_refused(layout: Layout, live_server: Any) -> None:
    fake = FakeOpenAI(refuse_stream_with_tools=True).start()
    try:
        server = live_server(layout.repo, backend="openai", base_url=fake.base_url)
        fake.chat_script(calls(call("read_file", path="src/main.py")), say("It returns 42."))
        events, _, _ = stream(server)
        assert text_of(events) == "It returns 42."
        assert tool_events(events)[1]["status"] == "completed"
        bodies = [r.body for r in fake.received("/v1/chat/completions")]
        # round 1 streamed (refused: empty body) and asked again without streaming; round 2
        # (tools still offered) goes straight to a non-streamed request: the refusal is remembered
        assert [b["stream"] for b in bodies] == [True, False, False]
    finally:
        fake.down()


def test_openai_backend_cannot_pull_or_delete(layout: Layout, client_for: Any) -> None:
    client = client_for(layout.repo, backend="openai", base_url=f"http://127.0.0.1:{free_port()}/v1")
    assert_error(client.post("/api/v1/models/pull", json={"model": "x"}), "not_supported")
    assert_error(client.delete("/api/v1/models/x"), "not_supported")


def test_an_empty_turn_in_a_tool_round_asks_once_more_without_tools(server: Any, backend: Backend) -> None:
    backend.fake.chat_script(say(""), say("Hi there!"))
    events, _, _ = stream(server, "Say hi")
    assert text_of(events) == "Hi there!"
    assert events[-2]["type"] == "done" and "rounds_exhausted" not in events[-2]
    bodies = backend.chat_bodies()
    assert len(bodies) == 2 and bodies[0]["tools"] and not bodies[1].get("tools")
    backend.fake.chat_script(say(""), say(""))  # empty twice: an empty answer, not a failure
    events, _, _ = stream(server, "Say hi")
    assert events[-2]["type"] == "done" and text_of(events) == ""


def test_an_empty_non_streamed_tool_round_keeps_what_the_tools_gathered(
    layout: Layout, live_server: Any, backend: Backend
) -> None:
    server = live_server(layout.repo, **backend.settings())
    backend.fake.chat_script(calls(call("read_file", path="src/main.py")), say(""), say("main returns 42."))
    answer = ask(server, stream=False).json()
    assert answer["success"] is True, answer
    assert answer["data"]["content"] == "main returns 42."
    assert [c["status"] for c in answer["data"]["tool_calls"]] == ["completed"]


def test_a_stuck_model_answers_after_three_failed_or_repeated_calls(
    layout: Layout, live_server: Any, backend: Backend
) -> None:
    server = live_server(layout.repo, **backend.settings(max_rounds=8))
    backend.fake.chat_script(
        calls(call("read_file", path="/etc/made/up.py")),
        calls(call("read_file", path="/etc/made/up.py")),
        calls(call("list_files", path="nope")),
        say("I could not find it."),
    )
    events, _, _ = stream(server)
    assert text_of(events) == "I could not find it."
    assert events[-2]["rounds_exhausted"] is True
    bodies = backend.chat_bodies()
    assert len(bodies) == 4 and not bodies[3].get("tools")
    assert all(
        "tool" not in str(m.get("content", "")).lower() or m["role"] != "system" for m in bodies[3]["messages"][1:]
    )


def test_an_empty_non_streamed_tool_round_on_llama_cpp_is_not_a_502(layout: Layout, live_server: Any) -> None:
    fake = FakeOpenAI(refuse_stream_with_tools=True).start()
    try:
        server = live_server(layout.repo, backend="openai", base_url=fake.base_url)
        fake.chat_script(calls(call("read_file", path="src/main.py")), say(""), say("It returns 42."))
        answer = ask(server, stream=False)
        assert answer.status_code == 200, answer.text
        assert answer.json()["data"]["content"] == "It returns 42."
        bodies = [r.body for r in fake.received("/v1/chat/completions")]
        assert [bool(b.get("tools")) for b in bodies] == [True, True, True, False]
    finally:
        fake.down()
