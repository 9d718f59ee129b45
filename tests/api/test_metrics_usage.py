"""GET /metrics (parsed by prometheus-client's own parser: every documented metric, labels bounded)
and GET /api/v1/usage (its sums against the stored conversations, /v1 answers counted too)."""

from __future__ import annotations

import random
import re
import string
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.fakes.ollama import FakeOllama
from tests.helpers import MODEL, Layout, ask, assert_error, call, calls, say

DOCS = Path(__file__).parents[2] / "docs" / "api.md"


def documented_metrics() -> set[str]:
    """The metric names docs/api.md lists in its metrics table."""
    text = DOCS.read_text()
    section = text[text.index("## Metrics") :]
    return set(re.findall(r"^\| `(repo_assistant_[a-z_]+)`", section, re.M))


def families(text: str) -> dict[str, Any]:
    return {family.name: family for family in text_string_to_metric_families(text)}


def test_metrics_have_every_documented_metric_with_bounded_labels(
    layout: Layout, live_server: Any, fake_ollama: FakeOllama
) -> None:
    server = live_server(layout.repo, ollama_url=fake_ollama.url)
    fake_ollama.chat_script(calls(call("read_file", path="src/main.py")), say("It returns 42."))
    assert ask(server).status_code == 200
    httpx.get(f"{server.url}/api/v1/search", params={"q": "main", "mode": "symbol"})
    before = {
        s.labels["path"]
        for s in families(httpx.get(f"{server.url}/metrics").text)["repo_assistant_http_requests"].samples
    }
    with httpx.Client(base_url=server.url) as client:
        for _ in range(1000):
            client.get("/api/v1/" + "".join(random.choices(string.ascii_lowercase + "/", k=12)))
    text = httpx.get(f"{server.url}/metrics").text
    found = families(text)
    documented = documented_metrics()
    assert len(documented) >= 15
    missing = {name for name in documented if name not in found and name.removesuffix("_total") not in found}
    assert not missing, missing
    requests = found["repo_assistant_http_requests"]
    paths = {s.labels["path"] for s in requests.samples}
    # the registry is the process's: other apps' routes may be in it; what the 1,000 random paths
    # added must be route templates only
    added = paths - before
    assert added <= _routes(server), added - _routes(server)
    assert {"/api/v1/chat/completions", "/api/v1/search"} <= paths
    tools = found["repo_assistant_tool_calls"]
    assert any(s.labels == {"tool": "read_file", "status": "completed"} and s.value >= 1 for s in tools.samples)
    tokens = found["repo_assistant_tokens"]
    assert {s.labels["direction"] for s in tokens.samples if s.labels.get("model") == MODEL} == {"in", "out"}
    searches = found["repo_assistant_searches"]
    assert any(s.labels["mode"] == "symbol" and s.value >= 1 for s in searches.samples)
    files = found["repo_assistant_index_files"]
    assert next(s.value for s in files.samples if s.labels["repo"] == str(layout.repo)) >= 1
    assert found["repo_assistant_model_server_up"].samples[0].value == 1.0


def _routes(server: Any) -> set[str]:
    """The app's route templates as the middleware names them (``{id}``, without ``:str``)."""
    app = server.server.config.app
    return {re.sub(r":\w+\}", "}", route.path) for route in app.routes} | {""}


def test_metrics_can_be_turned_off(layout: Layout, client_for: Any) -> None:
    client = client_for(layout.repo, metrics="off")
    assert_error(client.get("/metrics"), "route_not_found")


def test_usage_sums_the_stored_answers_and_the_v1_ones(
    layout: Layout, live_server: Any, fake_ollama: FakeOllama
) -> None:
    server = live_server(layout.repo, ollama_url=fake_ollama.url)
    cid = httpx.post(f"{server.url}/api/v1/conversations", json={}).json()["data"]["id"]
    fake_ollama.chat_script(
        calls(call("search_files", query="main")), say("First answer."), say("Second answer."), say("From an editor.")
    )
    assert ask(server, "What does main do?", conversation_id=cid).status_code == 200
    assert ask(server, "And then?", conversation_id=cid).status_code == 200
    v1 = httpx.post(
        f"{server.url}/v1/chat/completions",
        json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}]},
        timeout=30,
    )
    assert v1.status_code == 200
    stored = httpx.get(f"{server.url}/api/v1/conversations/{cid}").json()["data"]["messages"]
    answers = [m for m in stored if m["role"] == "assistant"]
    v1_usage = v1.json()["usage"]
    by_model = httpx.get(f"{server.url}/api/v1/usage", params={"group": "model"}).json()["data"]
    totals = by_model["totals"]
    assert totals["answers"] == len(answers) + 1
    assert totals["tokens_in"] == sum(m["usage"]["prompt_tokens"] for m in answers) + v1_usage["prompt_tokens"]
    assert totals["tokens_out"] == sum(m["usage"]["completion_tokens"] for m in answers) + v1_usage["completion_tokens"]
    assert totals["tool_calls"] == sum(len(m.get("tool_events", [])) for m in answers) == 1
    assert [g["key"] for g in by_model["groups"]] == [MODEL]
    assert totals["first_token_ms_p50"] is not None and totals["first_token_ms_p95"] >= totals["first_token_ms_p50"]
    by_day = httpx.get(f"{server.url}/api/v1/usage").json()["data"]
    assert sum(g["answers"] for g in by_day["groups"]) == totals["answers"]
    assert {s["source"] for s in by_day["slowest"]} == {"conversation", "v1"}
    before = httpx.get(f"{server.url}/api/v1/usage", params={"until": "2001-01-01"}).json()["data"]
    assert before["totals"]["answers"] == 0
    bad = httpx.get(f"{server.url}/api/v1/usage", params={"since": "soon"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "since"
    reversed_ = httpx.get(f"{server.url}/api/v1/usage", params={"since": "2030-01-02", "until": "2030-01-01"})
    assert reversed_.status_code == 400
    wrong_group = httpx.get(f"{server.url}/api/v1/usage", params={"group": "week"})
    assert wrong_group.status_code == 400 and wrong_group.json()["error"]["param"] == "group"
