"""GET /api/v1/history, /api/v1/commits/{id} and /api/v1/blame; the history tools through
/tools/call and in a chat (offered, called, their commits cited and verified)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fakes.ollama import FakeOllama
from tests.gitrepos import SECRET, GitRepo, history_repo
from tests.helpers import Layout, assert_error, call, calls, say, stream, wait_until


@pytest.fixture
def made(tmp_path: Path) -> GitRepo:
    return history_repo(tmp_path / "git")


@pytest.fixture
def http(made: GitRepo, client_for: Any) -> Any:
    return client_for(made.path)


def test_history_of_a_path_and_its_shape(http: Any, made: GitRepo) -> None:
    data = http.get("/api/v1/history", params={"path": "app/settings.py"}).json()["data"]
    assert data["path"] == "app/settings.py" and data["shallow"] is False
    assert [c["id"] for c in data["commits"]] == [made.commits["rename"], made.commits["start"]]
    first = data["commits"][0]
    assert set(first) == {"id", "short_id", "date", "author", "subject", "files", "hidden_files"}
    assert first["date"] == "2024-03-01T10:00:00+00:00" and first["author"] == "Ada Lovelace"
    found = http.get("/api/v1/history", params={"query": "backoff", "limit": 1}).json()["data"]["commits"]
    assert [c["subject"] for c in found] == ["Add retry with exponential backoff to fetch"]
    assert (
        http.get("/api/v1/history", params={"since": "2024-05-02"}).json()["data"]["commits"][-1]["id"]
        == (made.commits["readme"])
    )


def test_a_commit_with_its_diff(http: Any, made: GitRepo) -> None:
    data = http.get(f"/api/v1/commits/{made.commits['rename'][:7]}").json()["data"]
    assert data["id"] == made.commits["rename"] and data["parents"] == [made.commits["retry"]]
    assert data["files"] == [
        {
            "path": "app/settings.py",
            "status": "renamed",
            "additions": 0,
            "deletions": 0,
            "binary": False,
            "patch": data["files"][0]["patch"],
            "old_path": "app/config.py",
        }
    ]
    one = http.get(f"/api/v1/commits/{made.commits['retry']}", params={"path": "app/net.py"}).json()["data"]
    assert one["message"].endswith("Networks drop requests; three attempts.")
    assert "+def fetch(url, attempts=3):" in one["files"][0]["patch"]


def test_blame_ranges(http: Any, made: GitRepo) -> None:
    data = http.get("/api/v1/blame", params={"path": "app/net.py", "start_line": 4, "end_line": 5}).json()["data"]
    assert [(r["start_line"], r["end_line"], r["commit"]) for r in data["ranges"]] == [
        (4, 4, made.commits["feature"]),
        (5, 5, made.commits["retry"]),
    ]
    assert data["total_lines"] == 10 and data["working_copy_differs"] is True


def test_history_errors(http: Any, made: GitRepo) -> None:
    assert_error(http.get("/api/v1/commits/0123abc"), "commit_not_found", "commit")
    assert_error(http.get(f"/api/v1/commits/{made.commits['dangling']}"), "commit_not_found", "commit")
    assert_error(http.get("/api/v1/commits/HEAD:README.md"), "commit_not_found", "commit")
    assert_error(http.get("/api/v1/history", params={"path": "../outside"}), "access_denied", "path")
    assert_error(http.get("/api/v1/history", params={"repo": "/etc"}), "access_denied", "repo")
    assert_error(http.get("/api/v1/history", params={"since": "soon"}), "invalid_parameter", "since")
    assert_error(http.get("/api/v1/history", params={"limit": 101}), "invalid_parameter", "limit")
    assert_error(http.get("/api/v1/blame"), "missing_parameter", "path")
    assert_error(
        http.get("/api/v1/blame", params={"path": "app/net.py", "start_line": 50}), "invalid_parameter", "start_line"
    )
    assert_error(
        http.get("/api/v1/blame", params={"path": "app/net.py", "start_line": 5, "end_line": 2}),
        "invalid_parameter",
        "end_line",
    )
    assert_error(http.get("/api/v1/blame", params={"path": "notes.txt"}), "file_not_found", "path")


def test_the_ignored_file_is_hidden_from_every_endpoint(http: Any, made: GitRepo) -> None:
    secret = SECRET.split("=")[1]
    assert_error(http.get("/api/v1/history", params={"path": ".env"}), "access_denied", "path")
    assert_error(http.get("/api/v1/blame", params={"path": ".env"}), "access_denied", "path")
    hidden = http.get(f"/api/v1/commits/{made.commits['start']}", params={"path": ".env"})
    assert_error(hidden, "access_denied", "path")
    for response in (
        http.get(f"/api/v1/commits/{made.commits['start']}"),
        http.get(f"/api/v1/commits/{made.commits['untrack']}"),
        http.get("/api/v1/history", params={"limit": 100}),
        http.post("/api/v1/tools/call", json={"name": "git_diff", "arguments": {}}),
    ):
        assert response.status_code == 200 and secret not in response.text and '".env"' not in response.text
    start = http.get(f"/api/v1/commits/{made.commits['start']}").json()["data"]
    assert start["hidden_files"] == 1 and ".env" not in {f["path"] for f in start["files"]}


def test_a_repository_without_history(layout: Layout, client: Any) -> None:
    assert_error(client.get("/api/v1/history"), "history_unavailable", "repo")
    assert_error(client.get("/api/v1/commits/abcd123"), "history_unavailable", "repo")
    refused = client.post("/api/v1/tools/call", json={"name": "git_log", "arguments": {}})
    error = assert_error(refused, "history_unavailable", "repo_path")
    assert "no history" in error["message"]


def test_openapi_documents_the_history_endpoints(http: Any) -> None:
    paths = http.get("/api/v1/schema/openapi.json").json()["paths"]
    for path in ("/api/v1/history", "/api/v1/commits/{commit}", "/api/v1/blame"):
        assert "get" in paths[path], path
        assert "404" in paths[path]["get"]["responses"] or "4XX" in str(paths[path]["get"]["responses"]), path


def test_ranked_search_uses_commit_messages_once_the_graph_is_ready(http: Any, made: GitRepo) -> None:
    # "flaky mirrors" is only in a commit message (the commit that changed app/net.py)
    def search(q: str) -> list[dict[str, Any]]:
        return list(http.get("/api/v1/search", params={"q": q, "mode": "ranked"}).json()["data"]["results"])

    found = wait_until(lambda: (r := search("flaky mirrors")) and any("history:" in w for w in r[0]["why"]) and r)
    assert found[0]["file"] == "app/net.py"
    assert "history:flaky×1,mirrors×1" in found[0]["why"] or "history:mirrors×1,flaky×1" in found[0]["why"]  # noqa: RUF001
    # the .env the first commit added is ignored now: its history names it, search never does
    assert all(r["file"] != ".env" for r in search("start the project with its config"))


def test_a_chat_uses_history_and_its_commit_ids_are_verified_citations(
    made: GitRepo, live_server: Any, fake_ollama: FakeOllama
) -> None:
    server = live_server(made.path, ollama_url=fake_ollama.url)
    retry = made.commits["retry"][:7]
    fake_ollama.chat_script(
        calls(call("git_log", query="retry")),
        say(f"Retry came in {retry} (see also 1234abc, which is not a commit here)."),
    )
    events, _, _ = stream(server, "Why does fetch retry?")
    finished = [e for e in events if isinstance(e, dict) and e.get("type") == "tool_call" and e["status"] != "started"]
    assert [(e["name"], e["status"]) for e in finished] == [("git_log", "completed")]
    assert retry in finished[0]["result"]["content"]
    done = next(e for e in events if isinstance(e, dict) and e.get("type") == "done")
    assert done["commits"] == [
        {"ref": retry, "id": made.commits["retry"], "subject": "Add retry with exponential backoff to fetch"}
    ]
    first = fake_ollama.received("/api/chat")[0].body
    offered = {t["function"]["name"] for t in first["tools"]}
    assert {"git_log", "git_show", "git_blame", "git_diff", "find_symbol"} <= offered
    assert "git_blame" in first["messages"][0]["content"]
    assert made.ran() == []
