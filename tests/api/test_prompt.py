"""GET /api/v1/prompt: three variants, each listing exactly the registry's tools."""

from __future__ import annotations

import re
from typing import Any

from assistant.tools import TOOLS
from tests.fakes.ollama import FakeOllama
from tests.helpers import Layout, assert_error, free_port

TOOL_LINE = re.compile(r"^- (\w+)[(:]", re.MULTILINE)


def prompt(client: Any, **params: str) -> dict[str, Any]:
    response = client.get("/api/v1/prompt", params=params)
    assert response.status_code == 200, response.text
    return response.json()["data"]  # type: ignore[no-any-return]


def test_three_variants_list_exactly_the_registry_tools(
    layout: Layout, client_for: Any, fake_ollama: FakeOllama
) -> None:
    client = client_for(layout.repo, ollama_url=fake_ollama.url)
    auto = prompt(client, model="qwen2.5-coder:7b")
    manual = prompt(client, model="qwen2.5-coder:7b", tool_mode="manual")
    text = prompt(client, model="codellama:7b")  # no "tools" capability
    assert (auto["variant"], manual["variant"], text["variant"]) == ("auto", "manual", "text_tools")
    for data in (auto, manual, text):
        # the layout's repository has no history: the history tools are not in its prompt
        offered = sorted(name for name, tool in TOOLS.items() if not tool.needs_history)
        assert sorted(TOOL_LINE.findall(data["prompt"])) == offered
        for name in offered:
            assert TOOLS[name].description in data["prompt"]
        assert "git_log" not in data["prompt"]
    assert "<tool_call>" in text["prompt"] and '"required":["path"]' in text["prompt"]
    assert "<tool_call>" not in auto["prompt"]
    assert "use tools" in manual["prompt"]
    assert len({auto["prompt"], manual["prompt"], text["prompt"]}) == 3


def test_prompt_carries_the_repo_overview(layout: Layout, client_for: Any, fake_ollama: FakeOllama) -> None:
    client = client_for(layout.repo, ollama_url=fake_ollama.url)
    client.app.state["services"].indexes.get(str(layout.repo)).ready.wait(10)
    text = prompt(client)["prompt"]
    assert '"repo"' in text  # the repository's name
    assert "README title: Demo repo" in text
    assert "Top-level entries: src/, README.md" in text
    assert "Main languages: python (2 files)" in text
    sub = prompt(client, repo_path=str(layout.repo / "src"))["prompt"]
    assert '"src"' in sub and "Top-level entries: pkg/, main.py" in sub


def test_prompt_without_a_reachable_server_assumes_tools(layout: Layout, client_for: Any) -> None:
    client = client_for(layout.repo, ollama_url=f"http://127.0.0.1:{free_port()}")
    assert prompt(client, model="anything")["variant"] == "auto"


def test_prompt_errors(layout: Layout, client_for: Any, fake_ollama: FakeOllama) -> None:
    client = client_for(layout.repo, ollama_url=fake_ollama.url)
    assert_error(client.get("/api/v1/prompt", params={"tool_mode": "sometimes"}), "invalid_parameter", "tool_mode")
    assert_error(client.get("/api/v1/prompt", params={"repo_path": "/etc"}), "access_denied", "repo_path")
    assert_error(client.get("/api/v1/prompt", params={"repo_path": "relative"}), "repo_path_invalid", "repo_path")
