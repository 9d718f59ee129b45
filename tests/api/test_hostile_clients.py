"""Clients that misbehave or leave: deep JSON, malformed tool calls, idle connections,
disconnects, and a server stopping under /v1 requests."""

from __future__ import annotations

import gc
import logging
import socket
import threading
import time
from typing import Any

import httpx
import pytest

from tests.fakes.ollama import FakeOllama
from tests.helpers import MODEL, Layout, assert_error, say, wait_until
from tests.sse import read

NESTED = "[" * 1000 + "]" * 1000


@pytest.mark.parametrize(
    "path,body",
    [
        ("/api/v1/tools/call", '{"name": "list_files", "arguments": {"a": ' + NESTED + "}}"),
        ("/api/v1/files/read", '{"path": ' + NESTED + "}"),
        ("/api/v1/chat/completions", '{"messages": [], "settings": ' + NESTED + "}"),
        ("/api/v1/models/pull", '{"model": ' + NESTED + "}"),
    ],
)
def test_deeply_nested_json_is_a_400(client: Any, path: str, body: str) -> None:
    response = client.post(path, content=body, headers={"content-type": "application/json"})
    assert "nested too deeply" in assert_error(response, "invalid_request")["message"]


def test_deeply_nested_json_on_v1_is_an_openai_400(client: Any) -> None:
    body = '{"model": "m", "messages": [{"role": "user", "content": "x"}], "tools": [' + NESTED + "]}"
    response = client.post("/v1/chat/completions", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_request"


@pytest.mark.parametrize(
    "tool_call,param",
    [
        ({"function": "x"}, "messages[1].tool_calls[0].function"),
        ("not an object", "messages[1].tool_calls[0]"),
        ({"function": {"name": 5, "arguments": "{}"}}, "messages[1].tool_calls[0].function.name"),
        ({"function": {"name": "read_file", "arguments": "[1, 2]"}}, "messages[1].tool_calls[0].function.arguments"),
        ({"function": {"name": "read_file", "arguments": 7}}, "messages[1].tool_calls[0].function.arguments"),
    ],
)
def test_malformed_tool_calls_on_v1_are_400_with_param(
    layout: Layout, live_server: Any, fake_ollama: FakeOllama, tool_call: Any, param: str
) -> None:
    server = live_server(layout.repo, ollama_url=fake_ollama.url)
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": None, "tool_calls": [tool_call]}]
    response = httpx.post(f"{server.url}/v1/chat/completions", json={"model": MODEL, "messages": messages}, timeout=10)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] in ("invalid_parameter", "invalid_request") and error["param"] == param
    assert not fake_ollama.received("/api/chat")


def test_max_tokens_is_bounded(layout: Layout, live_server: Any, fake_ollama: FakeOllama) -> None:
    server = live_server(layout.repo, ollama_url=fake_ollama.url)
    huge = 10**30
    v1 = httpx.post(
        f"{server.url}/v1/chat/completions",
        json={"model": MODEL, "messages": [{"role": "user", "content": "x"}], "max_tokens": huge},
        timeout=10,
    )
    assert v1.status_code == 400 and v1.json()["error"]["param"] == "max_tokens"
    ours = httpx.post(
        f"{server.url}/api/v1/chat/completions",
        json={"messages": [{"role": "user", "content": "x"}], "settings": {"max_tokens": 131_073}},
        timeout=10,
    )
    assert_error(ours, "invalid_parameter", "settings.max_tokens")
    assert not fake_ollama.received("/api/chat")


def test_non_streaming_v1_disconnect_cancels_the_model_request_and_frees_the_slot(
    layout: Layout, live_server: Any, fake_ollama: FakeOllama
) -> None:
    server = live_server(layout.repo, ollama_url=fake_ollama.url, max_concurrent_chats=1)
    fake_ollama.chat_script([{"message": {"role": "assistant", "content": "a"}}, 5.0, *say("b")], say("next"))
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{server.url}/v1/chat/completions", json=body, timeout=0.5)
    closed = time.monotonic()
    while not fake_ollama.disconnects and time.monotonic() - closed < 5:
        time.sleep(0.02)
    assert [what for what, _ in fake_ollama.disconnects] == ["chat"]
    assert fake_ollama.disconnects[0][1] - closed < 2
    again = httpx.post(f"{server.url}/v1/chat/completions", json=body, timeout=10)
    assert again.json()["choices"][0]["message"]["content"] == "next"


def _services(server: Any) -> Any:
    return server.server.config.app.state["services"]


def test_stopping_the_server_gives_v1_clients_openai_errors(
    layout: Layout, live_server: Any, fake_ollama: FakeOllama
) -> None:
    server = live_server(layout.repo, ollama_url=fake_ollama.url, keepalive_seconds=0.2)
    fake_ollama.chat_script([{"message": {"role": "assistant", "content": "a"}}, 10.0, *say("b")])
    fake_ollama.chat_script([{"message": {"role": "assistant", "content": "a"}}, 10.0, *say("b")])
    threading.Timer(1.0, _services(server).request_stop).start()
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": True}
    with httpx.stream("POST", f"{server.url}/v1/chat/completions", json=body, timeout=10) as response:
        events, _ = read(response)
    assert events[-1] == "[DONE]"
    assert set(events[-2]) == {"error"} and events[-2]["error"]["code"] == "internal_error"
    plain = httpx.post(f"{server.url}/v1/chat/completions", json={**body, "stream": False}, timeout=10)
    assert plain.status_code == 500 and plain.headers["content-type"].startswith("application/json")
    assert plain.json()["error"]["code"] == "internal_error"


def test_idle_connections_are_closed(layout: Layout, live_server: Any) -> None:
    server = live_server(layout.repo)
    quiet = [socket.create_connection(("127.0.0.1", server.port), timeout=60) for _ in range(20)]
    for sock in quiet:
        assert sock.recv(1) == b""  # the server closed it (after 5 s; the socket would give up after 60)
        sock.close()
    assert httpx.get(f"{server.url}/api/v1/health", timeout=5).status_code == 200


def test_half_open_requests_are_closed_and_the_server_serves_again(layout: Layout, live_server: Any) -> None:
    """1,100 connections that send a request line and one header, then nothing, fill the server's
    slots; each is closed once its head is 10 s late, and requests are served again."""
    server = live_server(layout.repo)
    half_open = []
    for _ in range(1100):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=120)
        sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\n")
        half_open.append(sock)
    try:
        refused = httpx.get(f"{server.url}/api/v1/health", timeout=30)
        assert refused.status_code == 503  # every slot is taken meanwhile (docs/security.md says so)
        for sock in half_open:
            assert sock.recv(1) == b""  # closed by the server, not by the socket's own 120 s timeout
        deadline = time.monotonic() + 60
        while httpx.get(f"{server.url}/api/v1/health", timeout=30).status_code != 200:
            assert time.monotonic() < deadline, "requests were not served again"
            time.sleep(0.1)
    finally:
        for sock in half_open:
            sock.close()


def test_disconnects_leave_no_pending_tasks_and_no_tracebacks(
    layout: Layout, live_server: Any, fake_ollama: FakeOllama, caplog: pytest.LogCaptureFixture
) -> None:
    fake_ollama.chunk_delay = 0.05
    fake_ollama.echo_chunks = 100
    server = live_server(layout.repo, ollama_url=fake_ollama.url, keepalive_seconds=0.02)
    caplog.set_level(logging.DEBUG)
    for _ in range(15):
        for path, body in (
            (
                "/api/v1/chat/completions",
                {"messages": [{"role": "user", "content": "x " * 40}], "settings": {"model": MODEL}},
            ),
            (
                "/v1/chat/completions",
                {"messages": [{"role": "user", "content": "x " * 40}], "model": MODEL, "stream": True},
            ),
        ):
            with httpx.stream("POST", f"{server.url}{path}", json=body, timeout=5) as response:
                for number, _ in enumerate(response.iter_lines()):
                    if number > 3:
                        break
    wait_until(lambda: _services(server).active_chats == 0, "every chat ending")
    gc.collect()
    assert not [r for r in caplog.records if "Task was destroyed" in r.getMessage()]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_the_accept_loops_resource_errors_are_logged_once_per_interval() -> None:
    from assistant.server import AcceptErrorFilter

    gate = AcceptErrorFilter(interval=60)
    records = [
        logging.LogRecord(
            "asyncio",
            logging.ERROR,
            __file__,
            1,
            "socket.accept() out of system resource",
            None,
            (OSError, OSError(24, "Too many open files"), None),
        )
        for _ in range(1000)
    ]
    passed = [r for r in records if gate.filter(r)]
    assert len(passed) == 1 and passed[0].exc_info is None  # one line, no traceback
    other = logging.LogRecord("asyncio", logging.ERROR, __file__, 1, "something else", None, None)
    assert gate.filter(other)


def test_a_slow_non_streamed_v1_answer_is_not_cut_by_our_timeouts(
    layout: Layout, live_server: Any, fake_ollama: FakeOllama
) -> None:
    from assistant.server import IDLE_SECONDS

    server = live_server(layout.repo, ollama_url=fake_ollama.url, keepalive_seconds=0.5)
    fake_ollama.chat_script([IDLE_SECONDS + 1.0, *say("finally")])
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
    answer = httpx.post(f"{server.url}/v1/chat/completions", json=body, timeout=30)
    assert answer.status_code == 200 and answer.json()["choices"][0]["message"]["content"] == "finally"
