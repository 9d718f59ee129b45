"""POST /api/v1/chat/completions over real uvicorn with the fake Ollama server."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest

from assistant.tools import TOOLS
from tests.fakes.ollama import FakeOllama
from tests.helpers import (
    MODEL,
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
    wait_ready,
    wait_until,
)


@pytest.fixture
def server(layout: Layout, live_server: Any, fake_ollama: FakeOllama) -> Any:
    return live_server(layout.repo, ollama_url=fake_ollama.url, keepalive_seconds=5)


def test_two_round_tool_conversation_streamed(server: Any, fake_ollama: FakeOllama) -> None:
    fake_ollama.chat_script(
        calls(call("search_files", query="main"), call("read_file", path="src/main.py"), in_done=True),
        say("`main` returns ", "**42**."),
    )
    events, _, response = stream(server)
    assert response.headers["content-type"].startswith("text/event-stream"), (response.headers, events[:3])
    assert response.headers["x-request-id"].startswith("req_")
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
    started, finished = tools[2], tools[3]
    assert started["id"] == finished["id"] and started["id"].startswith("tc_") and tools[0]["id"] != started["id"]
    assert set(started) == {"type", "id", "name", "status", "arguments", "timestamp"}
    assert started["arguments"] == {"path": "src/main.py"}
    assert set(finished) == {
        "type",
        "id",
        "name",
        "status",
        "arguments",
        "timestamp",
        "duration_ms",
        "summary",
        "result",
    }
    assert finished["result"] == {
        "content": "src/main.py (2 lines)\n1  def main():\n2      return 42",
        "truncated": False,
    }
    assert finished["summary"] == "read lines 1-2 of src/main.py" and isinstance(finished["duration_ms"], int)
    assert "match" in tools[1]["summary"]
    answer = chunks(events)
    assert len({(c["id"], c["created"]) for c in answer}) == 1 and answer[0]["id"].startswith("chatcmpl-")
    assert answer[0]["choices"][0]["delta"] == {"role": "assistant", "content": "`main` returns "}
    assert answer[1]["choices"][0]["delta"] == {"content": "**42**."}
    assert answer[2]["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "stop"}
    assert all(c["model"] == MODEL for c in answer)
    assert events[-2] == {
        "type": "done",
        "usage": {"prompt_tokens": 20, "completion_tokens": 10, "total_tokens": 30},
        "model": MODEL,
        "citations": [],  # the answer cites no path:line
        "commits": [],  # nor a commit
        "sources": [{"path": "src/main.py", "line": 1, "end_line": 2, "label": "src/main.py:1-2"}],
    }
    # what the model was sent
    first, second = [r.body for r in fake_ollama.received("/api/chat")]
    assert first["messages"][0]["role"] == "system" and "search_files" in first["messages"][0]["content"]
    # the code given with the question: what the context event says is what the model got,
    # in front of the question, as read_file shows it, and counted as the event says
    given = events[0]
    assert given["type"] == "context" and [
        (p["path"], p["start_line"], p["end_line"], p["symbol"]) for p in given["parts"]
    ] == [("src/main.py", 1, 2, "main")]
    assert given["parts"][0]["why"]
    sent = first["messages"][1]
    assert sent["role"] == "user" and sent["content"].endswith("\n\n=== Question:\nWhat does main return?")
    block = sent["content"].removesuffix("\n\n=== Question:\nWhat does main return?")
    assert "=== src/main.py lines 1-2 (in main)\n1  def main():\n2      return 42" in block
    assert given["tokens"] == -(-len(block) // 4)
    assert sorted(t["function"]["name"] for t in first["tools"]) == sorted(
        n for n, t in TOOLS.items() if not t.needs_history
    )
    tool_messages = [m for m in second["messages"] if m["role"] == "tool"]
    assert [m["tool_name"] for m in tool_messages] == ["search_files", "read_file"]
    assert "return 42" in tool_messages[1]["content"]
    assert first["options"]["num_ctx"] == second["options"]["num_ctx"] == 8192
    assert first["options"]["temperature"] == 0.7 and first["options"]["num_predict"] == 2048


def test_two_round_tool_conversation_not_streamed(server: Any, fake_ollama: FakeOllama) -> None:
    fake_ollama.chat_script(calls(call("read_file", path="src/main.py")), say("It returns 42."))
    response = ask(server, stream=False)
    data = response.json()["data"]
    assert set(data) == {
        "id",
        "object",
        "created",
        "model",
        "content",
        "finish_reason",
        "tool_calls",
        "usage",
        "citations",
        "commits",
        "sources",
    }
    assert (
        data["object"] == "chat.completion" and data["content"] == "It returns 42." and data["finish_reason"] == "stop"
    )
    assert data["sources"] == [{"path": "src/main.py", "line": 1, "end_line": 2, "label": "src/main.py:1-2"}]
    (tool,) = data["tool_calls"]
    assert set(tool) == {"id", "name", "arguments", "status", "result", "duration_ms"}
    assert tool["name"] == "read_file" and tool["status"] == "completed" and "return 42" in tool["result"]["content"]
    assert data["usage"] == {"prompt_tokens": 20, "completion_tokens": 10, "total_tokens": 30}


def test_flat_legacy_form_and_settings_winning(server: Any, fake_ollama: FakeOllama, layout: Layout) -> None:
    fake_ollama.chat_script(say("flat"), say("nested"))
    flat = httpx.post(
        f"{server.url}/api/v1/chat/completions",
        json={
            "model": MODEL,
            "messages": [{"role": "user", "content": "hi"}],
            "repo_path": str(layout.repo),
            "temperature": 0.1,
            "stream": False,
        },
    )
    assert flat.json()["data"]["content"] == "flat"
    both = httpx.post(
        f"{server.url}/api/v1/chat/completions",
        json={
            "model": "missing:1b",
            "temperature": 1.5,
            "messages": [{"role": "user", "content": "hi"}],
            "settings": {"model": MODEL, "temperature": 0.2},
            "stream": False,
        },
    )
    assert both.json()["data"]["content"] == "nested"
    sent = [r.body for r in fake_ollama.received("/api/chat")]
    assert (
        sent[0]["options"]["temperature"] == 0.1
        and sent[1]["options"]["temperature"] == 0.2
        and sent[1]["model"] == MODEL
    )


def test_keepalive_while_the_model_is_silent(layout: Layout, live_server: Any, fake_ollama: FakeOllama) -> None:
    server = live_server(layout.repo, ollama_url=fake_ollama.url, keepalive_seconds=0.15)
    fake_ollama.chat_script([0.8, *say("late answer")])
    events, comments, _ = stream(server)
    assert len(comments) >= 3 and set(comments) == {": keepalive"}
    assert text_of(events) == "late answer"


def test_keepalive_while_a_tool_is_slow_to_answer(layout: Layout, live_server: Any, fake_ollama: FakeOllama) -> None:
    server = live_server(layout.repo, ollama_url=fake_ollama.url, keepalive_seconds=0.1)
    fake_ollama.chat_script(calls(call("list_files")), [0.5, *say("done")])
    events, comments, _ = stream(server)
    assert comments and text_of(events) == "done"


def test_disconnect_cancels_the_model_request(server: Any, fake_ollama: FakeOllama) -> None:
    fake_ollama.chat_script([{"message": {"role": "assistant", "content": "first"}}, 3.0, *say("never sent")])
    body = {"messages": [{"role": "user", "content": "hi"}], "settings": {"model": MODEL}}
    with httpx.stream("POST", f"{server.url}/api/v1/chat/completions", json=body) as response:
        for line in response.iter_lines():
            if "first" in line:
                break
    closed = time.monotonic()
    while not fake_ollama.disconnects and time.monotonic() - closed < 5:
        time.sleep(0.02)
    assert [what for what, _ in fake_ollama.disconnects] == ["chat"]
    assert fake_ollama.disconnects[0][1] - closed < 2


def test_ollama_down_before_the_stream_answers_from_search(layout: Layout, live_server: Any) -> None:
    server = live_server(layout.repo, ollama_url=f"http://127.0.0.1:{free_port()}")
    with httpx.Client(base_url=server.url) as client:
        wait_ready(client)
    events, _, response = stream(server, "what does main return")
    assert response.status_code == 200
    text = text_of(events)
    assert text.startswith("**Search results, not a model's answer.** Ollama at http://127.0.0.1:")
    assert "ollama serve" in text  # the way forward is still said
    assert "1. src/main.py:1-2 — `main`" in text and "return 42" in text
    done = events[-2]
    assert done["type"] == "done" and done["model"] is None
    assert done["citations"] == [
        {"ref": "src/main.py:1-2", "path": "src/main.py", "line": 1, "end_line": 2, "verified": True}
    ]
    assert all(c["model"] is None for c in chunks(events))
    whole = ask(server, stream=False, question="what does main return").json()["data"]
    assert whole["model"] is None and whole["content"] == text


def test_ollama_dying_during_the_stream(server: Any, fake_ollama: FakeOllama) -> None:
    fake_ollama.chat_script(say("partial ", "answer ", "more"))
    fake_ollama.drop_after = 2
    events, _, _ = stream(server)
    assert text_of(events) == "partial answer "
    assert events[-2]["type"] == "error" and events[-2]["error"]["code"] == "ollama_error"
    assert events[-1] == "[DONE]"


def test_model_not_found(server: Any) -> None:
    assert_error(ask(server, settings={"model": "nope:1b"}), "ollama_model_not_found", "settings.model")
    response = httpx.post(
        f"{server.url}/api/v1/chat/completions",
        json={"model": "nope:1b", "messages": [{"role": "user", "content": "x"}]},
    )
    assert_error(response, "ollama_model_not_found", "model")


def test_hung_model_gives_ollama_timeout(layout: Layout, live_server: Any, fake_ollama: FakeOllama) -> None:
    server = live_server(layout.repo, ollama_url=fake_ollama.url, first_token_timeout=0.5, chunk_timeout=0.5)
    fake_ollama.chat_script(
        [5.0, *say("too late")], [{"message": {"role": "assistant", "content": "a"}}, 5.0, *say("b")]
    )
    started = time.monotonic()
    events, _, _ = stream(server)
    assert events[-2]["error"]["code"] == "ollama_timeout" and events[-1] == "[DONE]"
    assert_error(ask(server, stream=False), "ollama_timeout")  # stalls between chunks
    assert time.monotonic() - started < 30  # about 1 s of timeouts: not a hang


@pytest.mark.parametrize(
    "written",
    [
        '{"name": "read_file", "arguments": {"path": "src/main.py"}}',
        '  <tool_call>\n{"name": "read_file", "arguments": {"path": "src/main.py"}}\n</tool_call>',
        '<function=read_file>{"path": "src/main.py"}</function>',
        "<function=read_file>\n<parameter=path>\nsrc/main.py\n</parameter>\n</function>",
    ],
)
def test_tool_calls_written_as_text_are_run_and_hidden(server: Any, fake_ollama: FakeOllama, written: str) -> None:
    pieces = [written[: len(written) // 2], written[len(written) // 2 :]]  # split across chunks
    fake_ollama.chat_script(say(*pieces), say("It returns 42."))
    events, _, _ = stream(server)
    assert text_of(events) == "It returns 42."
    tools = tool_events(events)
    assert [(t["name"], t["status"]) for t in tools] == [("read_file", "started"), ("read_file", "completed")]
    assert tools[0]["arguments"] == {"path": "src/main.py"}


def test_text_that_only_looks_like_a_call_is_shown(server: Any, fake_ollama: FakeOllama) -> None:
    fake_ollama.chat_script(
        say('{"answer": ', "42}"), say('{"name": "rm_rf", "arguments": {}}'), say("<b>bold</b> claim")
    )
    assert text_of(stream(server)[0]) == '{"answer": 42}'
    assert text_of(stream(server)[0]) == '{"name": "rm_rf", "arguments": {}}'  # not an offered tool
    assert text_of(stream(server)[0]) == "<b>bold</b> claim"


def test_ordinary_text_streams_at_once(layout: Layout, live_server: Any, fake_ollama: FakeOllama) -> None:
    server = live_server(layout.repo, ollama_url=fake_ollama.url)
    fake_ollama.chat_script([{"message": {"role": "assistant", "content": "Hello"}}, 60.0, *say(" world")])
    body = {"messages": [{"role": "user", "content": "hi"}], "settings": {"model": MODEL}}
    with httpx.stream("POST", f"{server.url}/api/v1/chat/completions", json=body) as response:
        started = time.monotonic()
        for line in response.iter_lines():
            if '"Hello"' in line:
                assert time.monotonic() - started < 20  # not held until the round ends, 60 s later
                break


def test_unknown_tool_name_is_a_failed_call_the_model_reads(server: Any, fake_ollama: FakeOllama) -> None:
    fake_ollama.chat_script(calls(call("delete_everything", path="/")), say("I cannot do that."))
    events, _, _ = stream(server)
    failed = tool_events(events)[1]
    assert failed["status"] == "failed" and failed["error"]["code"] == "tool_not_found"
    assert text_of(events) == "I cannot do that."
    second = fake_ollama.received("/api/chat")[1].body
    assert "no tool named 'delete_everything'" in second["messages"][-1]["content"]


def test_tool_failure_is_returned_to_the_model(server: Any, fake_ollama: FakeOllama) -> None:
    fake_ollama.chat_script(calls(call("read_file", path="../outside/secret.txt")), say("Denied."))
    events, _, _ = stream(server)
    failed = tool_events(events)[1]
    assert failed["status"] == "failed" and failed["error"]["code"] == "access_denied"
    assert "CANARY" not in str(events)
    assert fake_ollama.received("/api/chat")[1].body["messages"][-1]["content"].startswith("Error (access_denied)")


def test_repeated_identical_call_is_answered_from_the_first(server: Any, fake_ollama: FakeOllama) -> None:
    fake_ollama.chat_script(
        calls(call("read_file", path="src/main.py")), calls(call("read_file", path="src/main.py")), say("ok")
    )
    events, _, _ = stream(server)
    finished = [t for t in tool_events(events) if t["status"] != "started"]
    assert len(finished) == 2 and finished[1]["duration_ms"] == 0
    assert (
        "same call as before" in finished[1]["result"]["content"]
        and finished[0]["id"] in finished[1]["result"]["content"]
    )
    third = fake_ollama.received("/api/chat")[2].body
    assert "same call as before" in third["messages"][-1]["content"]


def test_round_limit_then_one_final_round_without_tools(
    layout: Layout, live_server: Any, fake_ollama: FakeOllama
) -> None:
    server = live_server(layout.repo, ollama_url=fake_ollama.url, max_rounds=2)
    fake_ollama.chat_script(calls(call("list_files")), calls(call("search_files", query="main")), say("Final."))
    events, _, _ = stream(server)
    assert text_of(events) == "Final."
    sent = [r.body for r in fake_ollama.received("/api/chat")]
    assert len(sent) == 3
    assert sent[0]["tools"] and sent[1]["tools"] and not sent[2].get("tools")
    # no instruction is added for the final round: small models repeat it in their answer
    assert sent[2]["messages"][-1]["role"] == "tool" and len(sent[2]["messages"]) == len(sent[1]["messages"]) + 2
    assert events[-2]["type"] == "done" and events[-2]["rounds_exhausted"] is True
    assert len({s["options"]["num_ctx"] for s in sent}) == 1


def test_manual_mode_offers_tools_only_when_asked(server: Any, fake_ollama: FakeOllama) -> None:
    fake_ollama.chat_script(say("no tools"), say("with tools"))
    stream(server, "What is this project?", settings={"tool_mode": "manual"})
    stream(server, "Please use read_file on src/main.py", settings={"tool_mode": "manual"})
    without, with_tools = [r.body for r in fake_ollama.received("/api/chat")]
    assert not without.get("tools") and "manual mode" in without["messages"][0]["content"]
    assert sorted(t["function"]["name"] for t in with_tools["tools"]) == sorted(
        n for n, t in TOOLS.items() if not t.needs_history
    )


def test_models_without_tool_support_get_tools_described_in_text(server: Any, fake_ollama: FakeOllama) -> None:
    fake_ollama.chat_script(
        say('<tool_call>{"name": "read_file", "arguments": {"path": "README.md"}}</tool_call>'), say("A demo.")
    )
    events, _, _ = stream(server, settings={"model": "codellama:7b"})
    assert text_of(events) == "A demo." and tool_events(events)[1]["status"] == "completed"
    first, second = [r.body for r in fake_ollama.received("/api/chat")]
    assert not first.get("tools") and "<tool_call>" in first["messages"][0]["content"]
    assert second["messages"][-1]["role"] == "user" and second["messages"][-1]["content"].startswith(
        "Result of read_file"
    )


def test_num_ctx_covers_prompt_and_max_tokens_within_the_model_context(server: Any, fake_ollama: FakeOllama) -> None:
    fake_ollama.chat_script(say("a"), say("b"))
    stream(server, settings={"max_tokens": 20000})
    stream(server, "x" * 200_000, settings={"model": "codellama:7b", "max_tokens": 100})  # 16,384-token model
    big, capped = [r.body["options"]["num_ctx"] for r in fake_ollama.received("/api/chat")]
    assert big == 32768 and capped == 16384


def test_server_busy_past_max_concurrent_chats(layout: Layout, live_server: Any, fake_ollama: FakeOllama) -> None:
    server = live_server(layout.repo, ollama_url=fake_ollama.url, max_concurrent_chats=1)
    fake_ollama.chat_script([5.0, *say("slow")], say("after"))
    results: list[Any] = []
    worker = threading.Thread(target=lambda: results.append(stream(server)))
    worker.start()
    wait_until(lambda: fake_ollama.received("/api/chat"), "the first chat reaching the model")  # it holds the slot
    busy = ask(server, stream=False)
    assert_error(busy, "server_busy")
    assert busy.headers["retry-after"] == "2"
    worker.join()
    assert text_of(results[0][0]) == "slow"
    assert ask(server, stream=False).json()["data"]["content"] == "after"  # the slot was released


@pytest.mark.parametrize(
    "body,code,param",
    [
        ({}, "missing_parameter", "messages"),
        ({"messages": []}, "invalid_parameter", "messages"),
        ({"messages": "hi"}, "invalid_parameter", "messages"),
        ({"messages": [{"content": "hi"}]}, "missing_parameter", "messages[0].role"),
        ({"messages": [{"role": "robot", "content": "hi"}]}, "invalid_parameter", "messages[0].role"),
        ({"messages": [{"role": "user", "content": 5}]}, "invalid_parameter", "messages[0].content"),
        ({"messages": [{"role": "user"}]}, "missing_parameter", "messages[0].content"),
        (
            {"messages": [{"role": "user", "content": "x"}], "settings": {"temperature": 3}},
            "invalid_parameter",
            "settings.temperature",
        ),
        ({"messages": [{"role": "user", "content": "x"}], "temperature": -1}, "invalid_parameter", "temperature"),
        (
            {"messages": [{"role": "user", "content": "x"}], "settings": {"max_tokens": 0}},
            "invalid_parameter",
            "settings.max_tokens",
        ),
        (
            {"messages": [{"role": "user", "content": "x"}], "settings": {"tool_mode": "always"}},
            "invalid_parameter",
            "settings.tool_mode",
        ),
        ({"messages": [{"role": "user", "content": "x"}], "stream": "yes"}, "invalid_parameter", "stream"),
        (
            {"messages": [{"role": "user", "content": "x"}], "settings": {"repo_path": "/etc"}},
            "access_denied",
            "settings.repo_path",
        ),
        ({"messages": [{"role": "user", "content": "x"}], "repo_path": "relative"}, "repo_path_invalid", "repo_path"),
        ({"messages": [{"role": "user", "content": "x"}], "settings": "fast"}, "invalid_parameter", "settings"),
    ],
)
def test_validation_errors_name_the_field(server: Any, body: dict[str, Any], code: str, param: str) -> None:
    response = httpx.post(f"{server.url}/api/v1/chat/completions", json=body)
    error = assert_error(response, code, param)
    if "role" in param and code == "invalid_parameter":
        assert "system, user, assistant, tool" in error["message"]


def test_non_streaming_disconnect_cancels_the_model_request_and_frees_the_slot(
    layout: Layout, live_server: Any, fake_ollama: FakeOllama
) -> None:
    server = live_server(layout.repo, ollama_url=fake_ollama.url, max_concurrent_chats=1)
    fake_ollama.chat_script([{"message": {"role": "assistant", "content": "a"}}, 5.0, *say("b")], say("next"))
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{server.url}/api/v1/chat/completions",
            json={"messages": [{"role": "user", "content": "hi"}], "settings": {"model": MODEL}, "stream": False},
            timeout=0.5,
        )
    closed = time.monotonic()
    while not fake_ollama.disconnects and time.monotonic() - closed < 5:
        time.sleep(0.02)
    assert [what for what, _ in fake_ollama.disconnects] == ["chat"]
    assert fake_ollama.disconnects[0][1] - closed < 2
    assert ask(server, stream=False).json()["data"]["content"] == "next"  # the slot is free again


def test_files_read_earlier_rank_higher_in_later_searches(server: Any, fake_ollama: FakeOllama, layout: Layout) -> None:
    (layout.repo / "a.py").write_text("def shared():\n    pass\n")
    (layout.repo / "z.py").write_text("def shared():\n    pass\n")  # seen by the next search (inotify)
    fake_ollama.chat_script(
        calls(call("read_file", path="z.py")), calls(call("search_files", query="shared", mode="symbol")), say("ok")
    )
    events, _, _ = stream(server)
    search = next(t for t in tool_events(events) if t["name"] == "search_files" and t["status"] == "completed")
    lines = search["result"]["content"].splitlines()
    assert lines[1].startswith("  shared — function — z.py:1")


def test_tool_output_is_cut_to_what_is_left_of_the_context(
    server: Any, fake_ollama: FakeOllama, layout: Layout
) -> None:
    (layout.repo / "long.py").write_text("".join(f"value_{i} = {i}  # some padding text here\n" for i in range(400)))
    # a 16,384-token model asked for 14,000 tokens of answer leaves little room for tool output
    fake_ollama.chat_script(calls(call("read_file", path="long.py")), say("ok"))
    events, _, _ = stream(server, settings={"model": "codellama:7b", "max_tokens": 14000})
    sent = fake_ollama.received("/api/chat")[1].body
    tool_text = sent["messages"][-1]["content"]
    assert 1024 <= len(tool_text.encode()) <= 8 * 1024  # well under the 16 KB default
    assert "call read_file with start_line=" in tool_text.splitlines()[-1]
    assert sent["options"]["num_ctx"] == 16384
    finished = tool_events(events)[1]
    assert finished["result"]["truncated"] is True


def test_a_failed_chat_is_logged_at_warning_with_its_request_id(
    server: Any, fake_ollama: FakeOllama, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    caplog.set_level(logging.INFO)
    fake_ollama.chat_script([{"error": "model runner crashed"}])
    body = {"messages": [{"role": "user", "content": "hi"}], "settings": {"model": MODEL}}
    for stream_it in (True, False):
        httpx.post(
            f"{server.url}/api/v1/chat/completions",
            json={**body, "stream": stream_it},
            headers={"X-Request-ID": f"req-log-{stream_it}"},
            timeout=10,
        )
        fake_ollama.chat_script([{"error": "model runner crashed"}])
    warnings = [
        r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name == "assistant.api.sse"
    ]
    assert any("req-log-True" in w and "model runner crashed" in w for w in warnings), warnings
    assert any("req-log-False" in w for w in warnings), warnings
