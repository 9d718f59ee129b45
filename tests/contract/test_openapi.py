"""The OpenAPI document describes the API as it answers: checked by reading it, and by a
schemathesis run with every check over every operation against the live server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from assistant.api.openapi import OPERATIONS
from tests.fakes.ollama import FakeOllama
from tests.helpers import Layout

CONFIG = Path(__file__).with_name("schemathesis.toml")


def _document(client: Any) -> dict[str, Any]:
    return client.get("/api/v1/schema/openapi.json").json()  # type: ignore[no-any-return]


def test_every_operation_is_described(client: Any) -> None:
    paths = _document(client)["paths"]
    listed = {(method, path) for path, item in paths.items() for method in item}
    assert listed == set(OPERATIONS)
    for path, item in paths.items():
        for method, spec in item.items():
            responses = spec["responses"]
            assert responses["200"]["content"], (method, path)
            for status, response in responses.items():
                schema = next(iter(response["content"].values()))["schema"]
                assert schema != {"type": "string"}, (method, path, status)
            assert "403" in responses and "405" in responses
            assert ("401" in responses) is (path != "/api/v1/health")  # health never needs the key


def test_streams_enumerations_and_errors_are_described(client: Any) -> None:
    paths = _document(client)["paths"]
    assert set(paths["/api/v1/models/pull"]["post"]["responses"]["200"]["content"]) == {"text/event-stream"}
    assert set(paths["/api/v1/chat/completions"]["post"]["responses"]["200"]["content"]) == {
        "text/event-stream",
        "application/json",
    }
    parameters = {p["name"]: p["schema"] for p in paths["/api/v1/search"]["get"]["parameters"]}
    assert parameters["mode"]["enum"] == ["auto", "ranked", "symbol", "text", "regex"]
    files = {p["name"]: p["schema"] for p in paths["/api/v1/files"]["get"]["parameters"]}
    assert [e for e in files["encoding"]["enum"] if e is not None] == ["utf-8", "base64"]
    prompt = {p["name"]: p["schema"] for p in paths["/api/v1/prompt"]["get"]["parameters"]}
    assert prompt["tool_mode"]["enum"] == ["auto", "manual"]
    error = paths["/api/v1/files"]["get"]["responses"]["404"]
    assert "file_not_found" in error["description"]
    assert error["content"]["application/json"]["schema"]["properties"]["success"] == {"const": False}
    v1 = paths["/v1/chat/completions"]["post"]["responses"]["400"]["content"]["application/json"]["schema"]
    assert v1["required"] == ["error"]


def test_schemathesis_finds_nothing(layout: Layout, live_server: Any, fake_ollama: FakeOllama, tmp_path: Path) -> None:
    fake_ollama.echo_chunks = 2
    server = live_server(layout.repo, ollama_url=fake_ollama.url, keepalive_seconds=1)
    assert httpx.get(f"{server.url}/api/v1/health", timeout=10).status_code == 200
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(CONFIG),
        "run",
        f"{server.url}/api/v1/schema/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        "40",
        "--seed",
        "20261129",
        "--no-color",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path, check=False)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "failures" not in done.stdout.split("SUMMARY")[-1]


def test_fields_the_server_refuses_empty_are_described_with_min_length(client: Any) -> None:
    document = _document(client)
    schemas = document["components"]["schemas"]
    for name, field in [
        ("NewConversation", "title"),
        ("ConversationChange", "title"),
        ("Fork", "message_id"),
        ("ChatBody", "parent_id"),
        ("FileReadBody", "path"),
        ("OpenAIMessage", "role"),
    ]:
        assert schemas[name]["properties"][field].get("minLength") == 1, (name, field)
    assert "" not in schemas["ChatMessage"]["properties"]["role"]["enum"]
    listing = {p["name"]: p["schema"] for p in document["paths"]["/api/v1/conversations"]["get"]["parameters"]}
    assert listing["cursor"]["minLength"] == 1
