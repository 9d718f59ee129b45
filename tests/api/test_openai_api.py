"""/v1 with the official openai client: streaming and not, with and without client tools,
errors as OpenAI error objects."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest

from tests.fakes.ollama import FakeOllama
from tests.helpers import Layout, call, calls, say

MODEL = "qwen2.5-coder:7b"
WEATHER: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.fixture
def server(layout: Layout, live_server: Any, fake_ollama: FakeOllama) -> Any:
    return live_server(layout.repo, ollama_url=fake_ollama.url)


_clients: list[openai.OpenAI] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Any:
    yield
    while _clients:
        _clients.pop().close()


def client_for(server: Any, key: str = "unused", **kwargs: Any) -> openai.OpenAI:
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0, **kwargs)
    _clients.append(client)
    return client


def test_models_list(server: Any) -> None:
    models = client_for(server).models.list()
    assert [m.id for m in models.data] == ["llama3.2:3b", "qwen2.5-coder:7b", "codellama:7b"]
    assert all(m.object == "model" for m in models.data)


def test_chat_not_streamed_runs_our_tools_server_side(server: Any, fake_ollama: FakeOllama) -> None:
    fake_ollama.chat_script(calls(call("read_file", path="src/main.py")), say("It returns 42."))
    completion = client_for(server).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "What does main return?"}]
    )
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.content == "It returns 42."
    assert completion.choices[0].finish_reason == "stop"
    assert completion.choices[0].message.tool_calls is None
    assert completion.usage is not None and completion.usage.total_tokens == 30
    second = fake_ollama.received("/api/chat")[1].body
    assert "return 42" in second["messages"][-1]["content"]  # the tool really ran


def test_chat_streamed_has_only_standard_chunks(server: Any, fake_ollama: FakeOllama) -> None:
    fake_ollama.chat_script(calls(call("list_files")), say("Two ", "files."))
    stream = client_for(server).chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": [{"type": "text", "text": "What is here?"}]}],
        stream=True,
        stream_options={"include_usage": True},
    )
    parts = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in parts if c.choices)
    assert text == "Two files."
    assert parts[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in parts if c.choices][-1] == "stop"
    assert parts[-1].choices == [] and parts[-1].usage is not None and parts[-1].usage.total_tokens == 30
    assert len({c.id for c in parts}) == 1


def test_raw_stream_has_no_custom_events(server: Any, fake_ollama: FakeOllama) -> None:
    fake_ollama.chat_script(calls(call("list_files")), say("ok"))
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": True}
    with httpx.stream("POST", f"{server.url}/v1/chat/completions", json=body) as response:
        lines = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    for line in lines[:-1]:
        assert json.loads(line[6:])["object"] == "chat.completion.chunk"


def test_client_tools_are_returned_not_run(server: Any, fake_ollama: FakeOllama) -> None:
    fake_ollama.chat_script(calls(call("get_weather", city="Oslo")), calls(call("get_weather", city="Bergen")))
    client = client_for(server)
    completion = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Weather in Oslo?"}], tools=[WEATHER]
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    (tool_call,) = choice.message.tool_calls or []
    assert tool_call.type == "function"
    assert tool_call.function.name == "get_weather" and json.loads(tool_call.function.arguments) == {"city": "Oslo"}
    sent = fake_ollama.received("/api/chat")[0].body
    assert [t["function"]["name"] for t in sent["tools"]] == ["get_weather"]  # ours were not added
    assert sent["messages"] == [{"role": "user", "content": "Weather in Oslo?"}]
    streamed: list[Any] = list(
        client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "Bergen?"}], tools=[WEATHER], stream=True
        )
    )
    deltas = [tc for c in streamed if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert deltas[0].function.name == "get_weather" and json.loads(deltas[0].function.arguments) == {"city": "Bergen"}
    assert [c.choices[0].finish_reason for c in streamed if c.choices][-1] == "tool_calls"


def test_client_tool_results_round_trip(server: Any, fake_ollama: FakeOllama) -> None:
    fake_ollama.chat_script(say("It is sunny in Oslo."))
    messages: Any = [
        {"role": "user", "content": "Weather in Oslo?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]
    completion = client_for(server).chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER])
    assert completion.choices[0].message.content == "It is sunny in Oslo."
    sent = fake_ollama.received("/api/chat")[0].body["messages"]
    assert sent[1]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": {"city": "Oslo"}}
    assert sent[2] == {"role": "tool", "content": "sunny", "tool_name": "get_weather"}


def test_errors_are_openai_error_objects(layout: Layout, live_server: Any, fake_ollama: FakeOllama) -> None:
    server = live_server(layout.repo, ollama_url=fake_ollama.url)
    with pytest.raises(openai.NotFoundError) as missing:
        client_for(server).chat.completions.create(model="nope:1b", messages=[{"role": "user", "content": "hi"}])
    assert missing.value.body["code"] == "ollama_model_not_found" and missing.value.body["param"] == "model"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as bad:
        client_for(server).chat.completions.create(model=MODEL, messages=[])
    assert bad.value.body["param"] == "messages"  # type: ignore[index]
    raw = httpx.get(f"{server.url}/v1/nope")
    assert raw.status_code == 404 and set(raw.json()) == {"error"} and raw.json()["error"]["code"] == "route_not_found"
    keyed = live_server(layout.repo, ollama_url=fake_ollama.url, api_key="k1")
    with pytest.raises(openai.AuthenticationError):
        client_for(keyed, key="wrong").models.list()
    assert next(m.id for m in client_for(keyed, key="k1").models.list().data) == "llama3.2:3b"


def test_repo_from_header(layout: Layout, server: Any, fake_ollama: FakeOllama) -> None:
    fake_ollama.chat_script(calls(call("read_file", path="main.py")), say("ok"))
    client = client_for(server, default_headers={"X-Repo-Path": str(layout.repo / "src")})
    client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "read main.py"}])
    tool_result = fake_ollama.received("/api/chat")[1].body["messages"][-1]["content"]
    assert tool_result.startswith("main.py (2 lines)")  # read inside the src/ sub-repository
