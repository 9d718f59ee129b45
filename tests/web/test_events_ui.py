"""The UI follows the workspace's event stream (headless Chromium): a file written in the
repository appears in the file browser and an open file shows its new text, a conversation made in
another tab appears in the list, the model server's state changes without polling; the Usage view."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.fakes.ollama import FakeOllama
from tests.helpers import Layout, wait_until
from tests.web.ui import SHOTS, answer, ready, send

pytestmark = pytest.mark.browser


def test_the_page_follows_file_changes_other_tabs_and_the_model_server(
    layout: Layout, live_server: Any, fake_ollama: FakeOllama, open_page: Any
) -> None:
    server = live_server(layout.repo, ollama_url=fake_ollama.url)
    page, requests = open_page(server.url)
    ready(page)
    page.wait_for_selector("body[data-events=connected]")
    page.wait_for_selector("#index-status:has-text('files indexed')")
    # an open file changes on disk: the viewer shows the new text
    page.click("#file-list >> text=src/")
    page.click("#file-list >> text=main.py")
    page.wait_for_selector("#preview-code:has-text('return 42')")
    (layout.repo / "src" / "main.py").write_text("def main():\n    return 43  # changed on disk\n")
    page.wait_for_selector("#preview-code:has-text('changed on disk')", timeout=10_000)
    # a new file in the directory listed appears in the file browser
    (layout.repo / "src" / "added_later.py").write_text("X = 1\n")
    page.wait_for_selector("#file-list >> text=added_later.py", timeout=10_000)
    # a conversation made in another tab (another client) appears in the list
    page.click("#preview-close")
    httpx.post(f"{server.url}/api/v1/conversations", json={"title": "Made in the other tab", "repo": str(layout.repo)})
    page.wait_for_selector("#conversation-list >> text=Made in the other tab", timeout=10_000)
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "events-followed.png"))
    # the model server stops: the header says so without a poll of /health
    health_asks = len([r for r in requests if r.endswith("/api/v1/health")])
    fake_ollama.down()
    page.wait_for_selector("#health.down", timeout=15_000)
    fake_ollama.up()
    page.wait_for_selector("#health.ok", timeout=15_000)
    asked = len([r for r in requests if r.endswith("/api/v1/health")]) - health_asks
    assert asked <= 2  # once when it went down and once when it came back: told, not polled


def test_the_index_status_and_the_usage_view(
    layout: Layout, live_server: Any, fake_ollama: FakeOllama, open_page: Any
) -> None:
    server = live_server(layout.repo, ollama_url=fake_ollama.url)
    fake_ollama.chat_script(answer("It returns 42."), answer("Still 42."))
    page, _ = open_page(server.url)
    ready(page)
    send(page, "What does main return?")
    page.wait_for_selector(".message.assistant:not(.streaming)")
    send(page, "And now?")
    wait_until(lambda: page.locator(".message.assistant:not(.streaming)").count() == 2, "two answers")
    page.click("#settings-open")
    page.click("#usage-open")
    page.wait_for_selector("#usage-chart svg rect")
    summary = page.locator("#usage-summary").inner_text()
    assert summary.startswith("2 answers")
    assert page.locator("#usage-legend").inner_text().strip() == "qwen2.5-coder:7b"
    assert page.locator("#usage-slowest tbody tr").count() == 2
    page.screenshot(path=str(SHOTS / "usage.png"))
