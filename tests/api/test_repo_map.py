"""The repository map: GET /api/v1/map, in the system prompt, within its budget, made for the
question, and current after an edit."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.ollama import FakeOllama
from tests.helpers import Layout, assert_error, say, stream

MODULES = {
    "store/db.py": "class Database:\n    def query(self, sql):\n        return []\n\n    def close(self):\n"
    "        pass\n",
    "store/cache.py": "from store.db import Database\n\n\nclass Cache:\n    def get(self, key):\n"
    "        return Database().query(key)\n",
    "web/routes.py": (
        "from store.cache import Cache\nfrom store.db import Database\n\n\n"
        "def index_page():\n    return Cache().get('home')\n\n\n"
        "def health_page():\n    return Database().query('select 1')\n"
    ),
    "web/auth.py": "def check_password(user, password):\n    '''Compare the password hash.'''\n    return False\n",
    "cli.py": "from web.routes import index_page\n\n\ndef main():\n    index_page()\n",
}


@pytest.fixture
def mapped(layout: Layout, client_for: Any) -> Any:
    for name, text in MODULES.items():
        path = layout.repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    client = client_for(layout.repo)
    client.app.state["services"].indexes.get(str(layout.repo)).ready.wait(10)
    return client


def get_map(client: Any, **params: Any) -> dict[str, Any]:
    response = client.get("/api/v1/map", params=params)
    assert response.status_code == 200, response.text
    return response.json()["data"]  # type: ignore[no-any-return]


def test_the_map_shows_central_files_with_their_definitions_first(mapped: Any) -> None:
    data = get_map(mapped, tokens=400)
    assert data["files"][0] == "store/db.py"  # everything leads to the database
    assert data["map"].startswith("store/db.py:\n    1│class Database:\n    2│    def query(self, sql):")
    assert data["index"] == "ready" and 0 < data["tokens"] <= 400
    assert "return []" not in data["map"]  # signatures only


def test_the_map_respects_its_token_budget(mapped: Any) -> None:
    for budget in (20, 40, 80, 400):
        data = get_map(mapped, tokens=budget)
        assert data["tokens"] <= budget and len(data["map"]) <= budget * 4
    assert len(get_map(mapped, tokens=20)["files"]) < len(get_map(mapped, tokens=400)["files"])


def test_the_map_changes_with_the_question(mapped: Any) -> None:
    plain = get_map(mapped, tokens=60)["files"]
    about_passwords = get_map(mapped, tokens=60, q="where is the password hash compared")["files"]
    assert about_passwords[0] == "web/auth.py" and about_passwords != plain


def test_the_map_is_current_after_an_edit(mapped: Any, layout: Layout) -> None:
    before = get_map(mapped, tokens=400)["map"]
    (layout.repo / "web" / "auth.py").write_text("def verify_token(token):\n    return True\n")  # seen at once
    after = get_map(mapped, tokens=400)["map"]
    assert "check_password" in before and "check_password" not in after and "verify_token" in after


def test_bad_map_requests_get_clear_errors(mapped: Any) -> None:
    assert_error(mapped.get("/api/v1/map", params={"tokens": 0}), "invalid_parameter", "tokens")
    assert_error(mapped.get("/api/v1/map", params={"q": "x" * 17000}), "invalid_parameter", "q")
    assert_error(mapped.get("/api/v1/map", params={"repo": "/etc"}), "access_denied", "repo")
    assert_error(mapped.get("/api/v1/prompt", params={"q": "x" * 17000}), "invalid_parameter", "q")


def test_the_prompt_includes_the_map_for_the_question_and_none_at_zero(
    layout: Layout, client_for: Any, mapped: Any, tmp_path: Path
) -> None:
    text = mapped.get("/api/v1/prompt", params={"q": "password hash"}).json()["data"]["prompt"]
    assert "Repository map" in text and "web/auth.py:\n    1│def check_password(user, password):" in text
    off = client_for(layout.repo, map_tokens=0, cache_dir=str(tmp_path / "c2"))
    off.app.state["services"].indexes.get(str(layout.repo)).ready.wait(10)
    assert "Repository map" not in off.get("/api/v1/prompt").json()["data"]["prompt"]


def test_a_chat_sends_the_map_made_for_its_question(layout: Layout, live_server: Any, fake_ollama: FakeOllama) -> None:
    for name, text in MODULES.items():
        path = layout.repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    server = live_server(layout.repo, ollama_url=fake_ollama.url)
    deadline = time.monotonic() + 10  # the first build runs in the background
    while httpx.get(f"{server.url}/api/v1/map").json()["data"]["index"] != "ready" and time.monotonic() < deadline:
        time.sleep(0.05)
    fake_ollama.chat_script(say("ok"))
    stream(server, "where is the password hash compared?")
    system = fake_ollama.received("/api/chat")[0].body["messages"][0]["content"]
    assert "Repository map" in system and "check_password" in system


def test_a_pasted_900_kb_question_is_mapped_by_its_first_16_kb(mapped: Any, layout: Layout) -> None:
    view = mapped.app.state["services"].indexes.get(str(layout.repo))
    head = ("Why does check_password in web/auth.py fail? " * 400)[: 16 * 1024]
    pasted = head + "Traceback: store/cache.py Cache.get index_page\n" * 19_000  # ~900 KB in all
    assert view.map(pasted, 256) == view.map(head, 256)
    assert view.map(pasted, 256) != view.map(pasted[16 * 1024 :], 256)  # what is past 16 KB is not used


def test_health_and_status_never_wait_for_the_index(mapped: Any, layout: Layout) -> None:
    """A map or a build may hold the index for seconds: /health and /status read their counts
    without it."""
    index = mapped.app.state["services"].indexes.get(str(layout.repo)).index
    with index.data.lock:  # held here for as long as the requests take: they must not need it
        health = mapped.get("/api/v1/health").json()["data"]
        status = mapped.get("/api/v1/status").json()["data"]
    assert health["index"]["files"] == status["repos"][0]["files_indexed"] == len(MODULES) + 3
