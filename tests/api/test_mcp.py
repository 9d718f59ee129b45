"""/mcp with the official mcp client: list and call the registry's tools, denial included."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from mcp import Client

from assistant.tools import TOOLS
from tests.helpers import CANARY, Layout
from tests.helpers import run_mcp as run


def test_lists_the_registry_tools(layout: Layout, live_server: Any) -> None:
    server = live_server(layout.repo)

    async def work(client: Client) -> Any:
        return await client.list_tools()

    listed = run(f"{server.url}/mcp", work)
    # the layout's repository has no history: no history tools
    assert sorted(t.name for t in listed.tools) == sorted(n for n, t in TOOLS.items() if not t.needs_history)
    for tool in listed.tools:
        assert tool.description == TOOLS[tool.name].description
        assert tool.input_schema == TOOLS[tool.name].schema_for(several=False)  # one repository: no repo


def test_calls_each_tool_and_a_denied_path(layout: Layout, live_server: Any) -> None:
    server = live_server(layout.repo)

    async def work(client: Client) -> Any:
        return (
            await client.call_tool("read_file", {"path": "src/main.py"}),
            await client.call_tool("list_files", {"depth": 1}),
            await client.call_tool("search_files", {"query": "main"}),
            await client.call_tool("find_symbol", {"name": "main", "kind": "definition"}),
            await client.call_tool("read_file", {"path": "../outside/secret.txt"}),
            await client.call_tool("read_file", {"path": ".git/config"}),
            await client.call_tool("read_file", {}),
            await client.call_tool("rm_rf", {}),
        )

    read, listed, searched, symbol, escape, git, missing_arg, unknown = run(f"{server.url}/mcp", work)
    assert read.is_error is False and read.content[0].text == "src/main.py (2 lines)\n1  def main():\n2      return 42"
    assert listed.content[0].text.splitlines()[:2] == ["./", "  src/"]
    assert "main — function — src/main.py:1" in searched.content[0].text
    assert symbol.is_error is False and "  src/main.py:1-2  function" in symbol.content[0].text
    for denied in (escape, git):
        assert denied.is_error is True and denied.content[0].text.startswith("Error (access_denied)")
        assert CANARY.decode() not in denied.content[0].text
    assert missing_arg.is_error and "`path` is required" in missing_arg.content[0].text
    assert unknown.is_error and "no tool named 'rm_rf'" in unknown.content[0].text


def test_api_key_is_enforced_and_health_says_connected(layout: Layout, live_server: Any) -> None:
    server = live_server(layout.repo, api_key="mcp-key")
    refused = httpx2.post(
        f"{server.url}/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={"Accept": "application/json, text/event-stream"},
    )
    assert refused.status_code == 401

    async def work(client: Client) -> Any:
        return await client.list_tools()

    assert len(run(f"{server.url}/mcp", work, key="mcp-key").tools) == len(
        [t for t in TOOLS.values() if not t.needs_history]
    )
    with pytest.raises(Exception):  # noqa: B017 - the SDK wraps the 401 in its own error type
        run(f"{server.url}/mcp", work, key="wrong")
    health = httpx2.get(f"{server.url}/api/v1/health").json()["data"]
    assert health["services"]["mcp_server"] == {"status": "connected"}
