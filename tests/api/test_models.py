"""Health, status, models, pull and delete against the fake Ollama server."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.fakes.ollama import FakeOllama
from tests.helpers import Layout, assert_error, free_port
from tests.sse import read


def test_healthy(layout: Layout, client_for: Any, fake_ollama: FakeOllama) -> None:
    client = client_for(layout.repo, ollama_url=fake_ollama.url)
    data = client.get("/api/v1/health").json()["data"]
    assert data["status"] == "healthy"
    assert data["services"]["ollama"]["status"] == "connected"
    assert isinstance(data["services"]["ollama"]["latency_ms"], float)
    assert "error" not in data["services"]["ollama"]
    assert data["services"]["mcp_server"] == {"status": "connected"}
    assert data["index"]["repos"] == 1 and set(data["index"]) == {"repos", "files", "symbols"}


def test_degraded_when_ollama_is_down(layout: Layout, client_for: Any) -> None:
    client = client_for(layout.repo, ollama_url=f"http://127.0.0.1:{free_port()}")
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["status"] == "degraded"
    assert data["services"]["ollama"]["status"] == "unavailable" and data["services"]["ollama"]["latency_ms"] is None
    assert "cannot be reached" in data["services"]["ollama"]["error"]
    error = assert_error(client.get("/api/v1/models"), "ollama_unavailable")
    assert "Ollama at http://127.0.0.1" in error["message"]
    status = client.get("/api/v1/status").json()["data"]
    assert status["backend"]["status"] == "unavailable" and status["default_model"] is None


def test_a_slow_model_server_never_slows_health(layout: Layout, client_for: Any, fake_ollama: FakeOllama) -> None:
    """/health answers from what the server knows; the slow probe's latency shows when it ends."""
    client = client_for(layout.repo, ollama_url=fake_ollama.url)
    assert client.get("/api/v1/health").json()["data"]["status"] == "healthy"
    fake_ollama.slow = 1.5
    started = time.monotonic()
    data = client.get("/api/v1/health").json()["data"]
    assert time.monotonic() - started < 1.0  # it waits 0.1 s for a probe at most
    assert data["status"] == "healthy" and data["services"]["ollama"]["status"] == "connected"
    deadline = time.monotonic() + 20
    while (client.get("/api/v1/health").json()["data"]["services"]["ollama"]["latency_ms"] or 0) < 1500:
        assert time.monotonic() < deadline, "the slow probe's latency was never reported"
        time.sleep(0.1)


def test_hung_server_gives_ollama_timeout_not_a_hang(layout: Layout, client_for: Any, fake_ollama: FakeOllama) -> None:
    client = client_for(layout.repo, ollama_url=fake_ollama.url, request_timeout=0.5)
    fake_ollama.hang = True
    started = time.monotonic()
    assert_error(client.get("/api/v1/models"), "ollama_timeout")
    health = client.get("/api/v1/health").json()["data"]
    assert health["status"] == "degraded" and "did not answer in time" in health["services"]["ollama"]["error"]
    assert time.monotonic() - started < 30  # about 1 s of timeouts: not a hang


def test_ollama_appearing_after_start_is_picked_up(layout: Layout, client_for: Any, fake_ollama: FakeOllama) -> None:
    fake_ollama.down()
    client = client_for(layout.repo, ollama_url=fake_ollama.url)
    assert client.get("/api/v1/health").json()["data"]["status"] == "degraded"
    assert client.get("/api/v1/models").status_code == 502
    fake_ollama.up()
    assert client.get("/api/v1/health").json()["data"]["status"] == "healthy"
    assert client.get("/api/v1/models").status_code == 200


def test_models_shape_capabilities_and_default(layout: Layout, client_for: Any, fake_ollama: FakeOllama) -> None:
    client = client_for(layout.repo, ollama_url=fake_ollama.url)
    data = client.get("/api/v1/models").json()["data"]
    by_name = {m["name"]: m for m in data["models"]}
    assert set(by_name) == {"llama3.2:3b", "qwen2.5-coder:7b", "codellama:7b"}
    coder = by_name["qwen2.5-coder:7b"]
    assert coder["capabilities"] == ["completion", "tools", "insert"]
    assert coder["details"] == {"family": "qwen2", "parameter_size": "7.6B", "quantization_level": "Q4_K_M"}
    assert (
        coder["size"] == 4683087332
        and coder["digest"].startswith("2b04")
        and coder["modified_at"].startswith("2026-01-09")
    )
    assert "tools" not in by_name["codellama:7b"]["capabilities"]
    # a code model that can use tools wins over the first model and over codellama (no tools)
    assert data["default_model"] == "qwen2.5-coder:7b"
    configured = client_for(layout.repo, ollama_url=fake_ollama.url, model="llama3.2:3b")
    assert configured.get("/api/v1/models").json()["data"]["default_model"] == "llama3.2:3b"


def test_capabilities_are_cached_briefly(layout: Layout, client_for: Any, fake_ollama: FakeOllama) -> None:
    client = client_for(layout.repo, ollama_url=fake_ollama.url)
    client.get("/api/v1/models")
    client.get("/api/v1/models")
    assert len(fake_ollama.received("/api/show")) == 3  # once per model, not per request
    assert len(fake_ollama.received("/api/tags")) == 2


def test_delete_names_with_slash_and_colon(layout: Layout, client_for: Any, fake_ollama: FakeOllama) -> None:
    fake_ollama.models.append(
        {**fake_ollama.models[0], "name": "hf.co/org/model:Q4_K_M", "model": "hf.co/org/model:Q4_K_M"}
    )
    client = client_for(layout.repo, ollama_url=fake_ollama.url)
    response = client.delete("/api/v1/models/hf.co/org/model:Q4_K_M")
    assert response.json()["data"] == {"model": "hf.co/org/model:Q4_K_M", "deleted": True}
    assert fake_ollama.received("/api/delete")[0].body["model"] == "hf.co/org/model:Q4_K_M"
    assert_error(client.delete("/api/v1/models/nope:1b"), "ollama_model_not_found", "model")
    assert_error(client.delete("/api/v1/models/nope:1b", headers={"Host": "evil.example"}), "forbidden_host", "Host")


def test_pull_validation_errors_come_before_the_stream(layout: Layout, client_for: Any) -> None:
    client = client_for(layout.repo, ollama_url=f"http://127.0.0.1:{free_port()}")
    assert_error(client.post("/api/v1/models/pull", json={}), "missing_parameter", "model")
    assert_error(client.post("/api/v1/models/pull", json={"model": " "}), "invalid_parameter", "model")
    assert_error(client.post("/api/v1/models/pull", json={"model": "x"}), "ollama_unavailable")


def test_pull_progress_end_to_end_over_uvicorn(layout: Layout, live_server: Any, fake_ollama: FakeOllama) -> None:
    server = live_server(layout.repo, ollama_url=fake_ollama.url)
    with httpx.stream(
        "POST", f"{server.url}/api/v1/models/pull", json={"model": "tinyllama"}, headers={"X-Request-ID": "pull-1"}
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["x-request-id"] == "pull-1"
        events, _ = read(response)
    assert events[0] == {"status": "pulling manifest"}
    downloads = [e for e in events if isinstance(e, dict) and "completed" in e]
    assert [d["completed"] for d in downloads] == [0, 400, 800, 1000]
    # Ollama's "pulling <digest>" lines are normalised (SPEC §3)
    assert all(set(d) == {"status", "digest", "completed", "total"} for d in downloads)
    assert all(
        d["total"] == 1000 and d["digest"].startswith("sha256:") and d["status"] == "downloading" for d in downloads
    )
    assert {"status": "verifying sha256 digest"} in events and {"status": "success"} in events
    assert events[-2:] == [{"type": "done"}, "[DONE]"]
    assert fake_ollama.received("/api/pull")[0].body["model"] == "tinyllama"


def test_pull_error_mid_stream(layout: Layout, live_server: Any, fake_ollama: FakeOllama) -> None:
    fake_ollama.pull_error_after = 3
    server = live_server(layout.repo, ollama_url=fake_ollama.url)
    with httpx.stream("POST", f"{server.url}/api/v1/models/pull", json={"model": "missing-model"}) as response:
        events, _ = read(response)
    assert len([e for e in events if isinstance(e, dict) and "status" in e]) == 3
    error = events[-2]
    assert error["type"] == "error" and error["error"]["code"] == "ollama_error"
    assert "file does not exist" in error["error"]["message"]
    assert events[-1] == "[DONE]"


@pytest.mark.parametrize(
    "drip",
    [
        [b'{"status": "pulling manifest"}\n', *([0.25, b" "] * 400)],  # a byte at a time, never a line
        [b'{"status": "pulling manifest"}\n', *([0.25, b'{"status": "pulling manifest"}\n'] * 400)],  # the same line
    ],
    ids=["bytes", "repeated-line"],
)
def test_a_pull_that_makes_no_progress_ends_with_ollama_timeout(
    layout: Layout, live_server: Any, fake_ollama: FakeOllama, drip: list[Any]
) -> None:
    fake_ollama.pull_script = drip  # 100 s of dripping unless the pull is stopped
    server = live_server(layout.repo, ollama_url=fake_ollama.url, chunk_timeout=1.5)
    with httpx.stream("POST", f"{server.url}/api/v1/models/pull", json={"model": "m"}, timeout=60) as response:
        events, _ = read(response)
    error = events[-2]
    assert error["type"] == "error" and error["error"]["code"] == "ollama_timeout", events
    assert "no progress" in error["error"]["message"] and events[-1] == "[DONE]"


def test_keepalive_comments_while_the_pull_is_silent(layout: Layout, live_server: Any, fake_ollama: FakeOllama) -> None:
    fake_ollama.chunk_delay = 0.5
    server = live_server(layout.repo, ollama_url=fake_ollama.url, keepalive_seconds=0.15)
    with httpx.stream("POST", f"{server.url}/api/v1/models/pull", json={"model": "m"}) as response:
        events, comments = read(response)
    assert len(comments) >= 3 and set(comments) == {": keepalive"}
    assert events[-2:] == [{"type": "done"}, "[DONE]"]


def test_client_disconnect_cancels_the_upstream_pull(layout: Layout, live_server: Any, fake_ollama: FakeOllama) -> None:
    fake_ollama.chunk_delay = 0.3
    server = live_server(layout.repo, ollama_url=fake_ollama.url)
    with httpx.stream("POST", f"{server.url}/api/v1/models/pull", json={"model": "m"}) as response:
        first = next(response.iter_lines())
        assert first.startswith("data: ")
    closed_at = time.monotonic()
    deadline = closed_at + 5
    while not fake_ollama.disconnects and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [what for what, _ in fake_ollama.disconnects] == ["pull"]
    assert fake_ollama.disconnects[0][1] - closed_at < 2


def test_health_names_the_configured_model_server(layout: Layout, client_for: Any, fake_ollama: FakeOllama) -> None:
    from tests.fakes.openai import FakeOpenAI

    ollama = client_for(layout.repo, ollama_url=fake_ollama.url).get("/api/v1/health").json()["data"]["services"]
    assert (
        ollama["model_server"]["kind"] == "ollama" and ollama["model_server"]["name"] == f"Ollama at {fake_ollama.url}"
    )
    assert ollama["model_server"]["status"] == "connected" and ollama["model_server"]["url"] == fake_ollama.url
    for owner, label in (("llamacpp", "llama.cpp"), ("acme", "OpenAI-compatible server")):
        fake = FakeOpenAI(owned_by=owner).start()
        try:
            client = client_for(layout.repo, backend="openai", base_url=fake.base_url)
            server = client.get("/api/v1/health").json()["data"]["services"]["model_server"]
            assert server["kind"] == "openai" and server["label"] == label and server["status"] == "connected"
            assert server["name"] == f"{label} at {fake.base_url}" and isinstance(server["latency_ms"], float)
        finally:
            fake.down()


def test_an_unreachable_model_server_says_what_to_do_once(layout: Layout, client_for: Any) -> None:
    ollama = client_for(layout.repo, ollama_url=f"http://127.0.0.1:{free_port()}")
    message = assert_error(ollama.get("/api/v1/models"), "ollama_unavailable")["message"]
    assert "ollama serve" in message and "--backend openai --base-url" in message and message.count("?") == 0
    other = client_for(layout.repo, backend="openai", base_url=f"http://127.0.0.1:{free_port()}/v1")
    message = assert_error(other.get("/api/v1/models"), "ollama_unavailable")["message"]
    assert "OpenAI-compatible server at" in message and "--base-url" in message and "ollama serve" not in message
