"""GET /api/v1/search and POST /api/v1/tools/call over HTTP."""

from __future__ import annotations

from typing import Any

from tests.helpers import Layout, assert_error, wait_ready, wait_until


def test_search_result_shape(client: Any) -> None:
    response = client.get("/api/v1/search", params={"q": "main", "limit": 5})
    data = response.json()["data"]
    assert set(data) == {"query", "mode", "results", "total", "truncated", "took_ms", "index"}
    assert data["query"] == "main" and set(data["index"]) == {"state", "progress"}
    first = data["results"][0]
    assert {"file", "line", "end_line", "kind", "text", "score"} <= set(first)


def test_search_errors(client: Any) -> None:
    assert_error(client.get("/api/v1/search"), "missing_parameter", "q")
    assert_error(client.get("/api/v1/search", params={"q": "x", "mode": "fuzzy"}), "invalid_parameter", "mode")
    assert_error(client.get("/api/v1/search", params={"q": "x", "limit": 0}), "invalid_parameter", "limit")
    assert_error(client.get("/api/v1/search", params={"q": "x", "limit": 501}), "invalid_parameter", "limit")
    assert_error(client.get("/api/v1/search", params={"q": "(?<=a)b", "mode": "regex"}), "invalid_parameter", "q")
    assert_error(client.get("/api/v1/search", params={"q": "x", "path": "../.."}), "access_denied", "path")
    assert_error(client.get("/api/v1/search", params={"q": "x", "repo": "/etc"}), "access_denied", "repo")


def test_tools_call_completed_failed_and_errors(client: Any, layout: Layout) -> None:
    ok = client.post("/api/v1/tools/call", json={"name": "read_file", "arguments": {"path": "README.md"}})
    data = ok.json()["data"]
    assert data["status"] == "completed" and data["name"] == "read_file" and data["arguments"] == {"path": "README.md"}
    assert data["result"]["content"].startswith("README.md (3 lines)") and isinstance(data["duration_ms"], int)
    failed = client.post(
        "/api/v1/tools/call",
        json={"name": "read_file", "arguments": {"path": "missing.md"}, "repo_path": str(layout.repo)},
    )
    assert failed.status_code == 200
    assert failed.json()["data"]["status"] == "failed" and failed.json()["data"]["error"]["code"] == "file_not_found"
    assert_error(
        client.post("/api/v1/tools/call", json={"name": "delete_repo", "arguments": {}}), "tool_not_found", "name"
    )
    assert_error(
        client.post("/api/v1/tools/call", json={"name": "read_file", "arguments": {}}),
        "missing_parameter",
        "arguments.path",
    )
    assert_error(
        client.post("/api/v1/tools/call", json={"name": "read_file", "arguments": {"path": 5}}),
        "invalid_parameter",
        "arguments.path",
    )
    assert_error(client.post("/api/v1/tools/call", json={"arguments": {}}), "missing_parameter", "name")
    assert_error(
        client.post("/api/v1/tools/call", json={"name": "read_file", "arguments": {"path": "x"}, "repo_path": "/etc"}),
        "access_denied",
        "repo_path",
    )


def test_a_search_path_that_does_not_exist_is_a_404(client: Any) -> None:
    assert_error(client.get("/api/v1/search", params={"q": "main", "path": "no/such/dir"}), "file_not_found", "path")
    tool = client.post(
        "/api/v1/tools/call", json={"name": "search_files", "arguments": {"query": "main", "path": "nope"}}
    ).json()["data"]
    assert tool["status"] == "failed" and tool["error"]["code"] == "file_not_found"
    one_file = client.get("/api/v1/search", params={"q": "return", "path": "src/main.py"}).json()["data"]
    assert [r["file"] for r in one_file["results"]] == ["src/main.py"]


def test_list_files_on_a_file_lists_it_without_a_slash(client: Any) -> None:
    data = client.post("/api/v1/tools/call", json={"name": "list_files", "arguments": {"path": "src/main.py"}}).json()[
        "data"
    ]
    assert data["status"] == "completed"
    assert data["result"]["content"].splitlines()[0] == "src/main.py  (26 bytes)"


def test_minified_files_rank_after_real_source_and_are_marked(layout: Layout, client_for: Any) -> None:
    (layout.repo / "a.min.js").write_text("var handleRequest=function(){return 1};" * 400)  # one 16 KB line
    (layout.repo / "z_server.js").write_text("function handleRequest() {\n  return 2;\n}\n")
    client = client_for(layout.repo)
    wait_ready(client)  # while the index builds, a direct scan goes in path order (docs/api.md)
    found = client.get("/api/v1/search", params={"q": "handleRequest", "mode": "text"}).json()["data"]
    assert [r["file"] for r in found["results"]] == ["z_server.js", "a.min.js"]
    assert found["results"][1]["minified"] is True and "minified" not in found["results"][0]
    tool = client.post(
        "/api/v1/tools/call", json={"name": "search_files", "arguments": {"query": "handleRequest", "mode": "text"}}
    ).json()["data"]
    assert "a.min.js  (minified or generated" in tool["result"]["content"]


def test_tools_call_runs_find_symbol_and_answers_a_bad_kind_as_a_4xx(client: Any, layout: Layout) -> None:
    client.app.state["services"].indexes.get(str(layout.repo)).ready.wait(10)
    ok = client.post("/api/v1/tools/call", json={"name": "find_symbol", "arguments": {"name": "main"}}).json()["data"]
    assert ok["status"] == "completed" and ok["name"] == "find_symbol"
    assert ok["result"]["content"].startswith("Definitions of main (1, best first):\n  src/main.py:1-2  function")
    assert_error(
        client.post("/api/v1/tools/call", json={"name": "find_symbol", "arguments": {"name": "main", "kind": "all"}}),
        "invalid_parameter",
        "arguments.kind",
    )
    assert_error(
        client.post("/api/v1/tools/call", json={"name": "find_symbol", "arguments": {}}),
        "missing_parameter",
        "arguments.name",
    )


def test_a_search_of_every_repository_names_each_results_repository(
    layout: Layout, client_for: Any, tmp_path: Any
) -> None:
    other = tmp_path / "other"
    (other / "lib").mkdir(parents=True)
    (other / "lib" / "retry.py").write_text("def main_retry_loop():\n    return 'again'\n")
    client = client_for([layout.repo, other], index_on_start=True)
    wait_ready(client)
    found = client.get("/api/v1/search", params={"q": "main", "repo": "*", "limit": 20}).json()["data"]
    repos = {r["repo"] for r in found["results"]}
    assert repos == {str(layout.repo), str(other)}
    assert found["total"] >= len(found["results"])
    # merged by rank: each repository's first result comes before any repository's second
    firsts: dict[str, int] = {}
    for position, result in enumerate(found["results"]):
        firsts.setdefault(result["repo"], position)
    assert sorted(firsts.values()) == [0, 1]
    # one repository only without *: no repo field
    alone = client.get("/api/v1/search", params={"q": "main"}).json()["data"]["results"]
    assert alone and all("repo" not in r for r in alone)
    # a path only one repository has: the other is left out, not an error
    under = client.get("/api/v1/search", params={"q": "main", "repo": "*", "path": "lib"}).json()["data"]
    assert {r["repo"] for r in under["results"]} == {str(other)}
    assert_error(client.get("/api/v1/search", params={"q": "main", "repo": "**"}), "repo_path_invalid", "repo")


def test_a_text_search_of_more_repositories_than_the_scan_lane_queues_is_not_refused(
    layout: Layout, client_for: Any, tmp_path: Any
) -> None:
    """Each repository's search was a job of its own in the scan lane, which refuses a ninth
    waiting job: fifty repositories got 429 server_busy. They are one job now."""
    repos = [layout.repo]
    for i in range(16):  # each repository's search takes a while: many matching lines to count
        repo = tmp_path / f"r{i:02d}"
        repo.mkdir()
        for j in range(100):
            (repo / f"timeouts_{j}.py").write_text(f"TIMEOUT_SECONDS_{i} = {j}\n" * 60)
        repos.append(repo)
    client = client_for(repos, index_on_start=True)
    wait_ready(client)
    answer = client.get("/api/v1/search", params={"q": "TIMEOUT_SECONDS", "mode": "text", "repo": "*", "limit": 64})
    assert answer.status_code == 200, answer.text
    found = answer.json()["data"]
    assert found["total"] == 16 * 6000 and {r["repo"] for r in found["results"]} == {str(r) for r in repos[1:]}


def test_a_repository_is_indexed_when_first_used_unless_asked_at_start(
    layout: Layout, client_for: Any, tmp_path: Any
) -> None:
    other = tmp_path / "later"
    other.mkdir()
    (other / "late.py").write_text("def arrives_late():\n    return 1\n")
    client = client_for([layout.repo, other])
    wait_ready(client)
    states = {r["path"]: r["state"] for r in client.get("/api/v1/status").json()["data"]["repos"]}
    assert states == {str(layout.repo): "ready", str(other): "idle"}
    found = client.get("/api/v1/search", params={"q": "arrives_late", "repo": str(other), "mode": "symbol"})
    assert [r["file"] for r in found.json()["data"]["results"]] == ["late.py"]  # a direct scan while it builds
    wait_until(
        lambda: (
            {r["path"]: r["state"] for r in client.get("/api/v1/status").json()["data"]["repos"]}[str(other)] == "ready"
        ),
        "the repository first used to be indexed",
    )
    eager = client_for([layout.repo, other], index_on_start=True, cache_dir=str(tmp_path / "cache2"))
    wait_until(
        lambda: {r["state"] for r in eager.get("/api/v1/status").json()["data"]["repos"]} == {"ready"},
        "both repositories indexed at start",
    )
