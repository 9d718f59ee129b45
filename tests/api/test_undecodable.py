"""A file name that is not valid UTF-8 (and a model that sends a lone surrogate) breaks nothing:
search, tools, chat, /v1, /mcp and the index cache all use the name's display form (``\\xNN``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from mcp import Client

from assistant.index import RepoIndex
from sandbox import Roots
from tests.fakes.ollama import DONE, FakeOllama
from tests.helpers import MODEL, Layout, call, calls, run_mcp, say, stream, text_of, tool_events

SHOWN = "bad\\xff.py"


@pytest.fixture
def bad_name(layout: Layout) -> Path:
    path = Path(os.fsdecode(bytes(layout.repo / "src") + b"/bad\xff.py"))
    path.write_text("def needle_function():\n    return 'needle'\n")
    return path


@pytest.fixture
def server(layout: Layout, bad_name: Path, live_server: Any, fake_ollama: FakeOllama) -> Any:
    return live_server(layout.repo, ollama_url=fake_ollama.url)


def test_search_shows_the_display_form(server: Any) -> None:
    for mode in ("auto", "text", "symbol"):
        response = httpx.get(f"{server.url}/api/v1/search", params={"q": "needle_function", "mode": mode}, timeout=10)
        assert response.status_code == 200, response.text
        assert f"src/{SHOWN}" in {r["file"] for r in response.json()["data"]["results"]}
    tool = httpx.post(
        f"{server.url}/api/v1/tools/call", json={"name": "search_files", "arguments": {"query": "needle"}}, timeout=10
    )
    assert tool.status_code == 200 and tool.json()["data"]["status"] == "completed"
    assert f"src/{SHOWN}" in tool.json()["data"]["result"]["content"]


def test_chat_and_its_search_tool_complete(server: Any, fake_ollama: FakeOllama) -> None:
    fake_ollama.chat_script(calls(call("search_files", query="needle")), say("Found it."))
    events, _, response = stream(server)
    assert response.status_code == 200
    finished = [e for e in tool_events(events) if e["status"] != "started"]
    assert finished[0]["status"] == "completed" and SHOWN in finished[0]["result"]["content"]
    assert text_of(events) == "Found it." and events[-1] == "[DONE]"


def test_v1_and_mcp_complete(server: Any, fake_ollama: FakeOllama) -> None:
    fake_ollama.chat_script(calls(call("search_files", query="needle")), say("Found it."))
    with openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused") as client:
        answer = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "where?"}])
    assert answer.choices[0].message.content == "Found it."

    async def work(client: Client) -> Any:
        return await client.call_tool("search_files", {"query": "needle"})

    result = run_mcp(f"{server.url}/mcp", work)
    assert result.is_error is False and SHOWN in result.content[0].text


def test_the_index_cache_is_saved_and_reused(layout: Layout, bad_name: Path, tmp_path: Path) -> None:
    roots = Roots([str(layout.repo)])
    try:
        first = RepoIndex(roots, str(layout.repo), str(tmp_path / "c"))
        first.build()
        first.close()
        again = RepoIndex(roots, str(layout.repo), str(tmp_path / "c"))
        again.build()
        assert again.parsed_last_build == 0  # everything came from the cache
        assert f"src/{SHOWN}" in again.files
        # an edit of the undecodable file is seen (the index keeps its real name to re-read it)
        bad_name.write_text("def other_name():\n    pass\n")
        assert again.refresh() >= 1
        assert again.symbols.search("other_name", 5)[1] == 1
        again.close()
    finally:
        roots.close()


def test_a_lone_surrogate_from_the_model_does_not_fail_the_answer(server: Any, fake_ollama: FakeOllama) -> None:
    fake_ollama.chat_script(say("odd \ud800 text"))
    events, _, response = stream(server)
    assert response.status_code == 200
    assert text_of(events) == "odd \ufffd text"
    assert events[-2]["type"] == "done" and events[-1] == "[DONE]"
    fake_ollama.chat_script(
        [
            {"message": {"role": "assistant", "content": "", "tool_calls": [call("search_files", query="x\udfff")]}},
            DONE,
        ],
        say("ok"),
    )
    events, _, _ = stream(server)
    assert [e["status"] for e in tool_events(events)] == ["started", "completed"]
    assert events[-1] == "[DONE]"
