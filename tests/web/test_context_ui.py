"""The code given before the first round, in the web UI (headless Chromium against the real
server and the fake Ollama): the trace's first entry, folded, each part opening the preview, and
the same after a reload (the conversation keeps it)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes.ollama import FakeOllama
from tests.helpers import Layout
from tests.web.ui import SHOTS, answer, ready, send, tool_round

pytestmark = pytest.mark.browser

CONFIG = '''"""Reading the settings file."""



def parse_config(path):
    """The settings in the file at path, as a dict."""
    with open(path) as handle:
        data = json.load(handle)
    if "name" not in data:
        raise ValueError("a settings file names the project")
    return data
'''


def test_the_code_given_first_is_the_traces_first_entry_and_opens_the_preview(
    layout: Layout, live_server: Any, fake_ollama: FakeOllama, open_page: Any
) -> None:
    (layout.repo / "src" / "config.py").write_text(CONFIG)
    server = live_server(layout.repo, ollama_url=fake_ollama.url)
    fake_ollama.chat_script(
        tool_round(("read_file", {"path": "src/config.py"})),
        answer("`parse_config` loads JSON and checks the name: src/config.py:11."),
    )
    page, _ = open_page(server.url)
    ready(page)
    send(page, "How does parse_config read the settings file?")
    page.wait_for_selector(".message.assistant:not(.streaming)", timeout=15_000)
    # the first entry is the context, before the tool call, folded
    trace = page.locator("#trace .trace-calls > li")
    assert trace.count() == 2
    assert "trace-context" in (trace.nth(0).get_attribute("class") or "")
    assert trace.nth(1).locator(".tool-name").inner_text() == "read_file"
    context = page.locator(".trace-context")
    assert context.locator(".tool-name").inner_text() == "context"
    assert not context.locator("details").evaluate("d => d.open")
    # the parts it lists are the parts the model received, in that order
    sent = fake_ollama.received("/api/chat")[0].body["messages"][-1]["content"]
    context.locator("summary").click()
    links = context.locator("a.context-part")
    shown = links.all_inner_texts()
    assert shown and shown[0].startswith("src/config.py:")
    for ref in shown:
        path, lines = ref.rsplit(":", 1)
        assert f"=== {path} lines {lines}" in sent
    assert "tokens" in context.locator(".duration").inner_text()
    assert context.locator(".context-symbol").first.inner_text() == "parse_config"
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "context-entry.png"))
    # a part opens the preview at its lines
    links.first.click()
    page.wait_for_selector("#file-preview:not([hidden])", timeout=5_000)
    assert page.locator("#preview-name").inner_text() == "src/config.py"
    assert "def parse_config" in page.locator("#preview-code").inner_text()
    start, end = shown[0].rsplit(":", 1)[1].split("-")
    assert page.locator("#preview-lines").inner_text() == f"lines {start}\u2013{end}"
    page.keyboard.press("Escape")
    # the conversation keeps it: after a reload the entry is there again, first
    page.reload()
    ready(page)
    page.wait_for_selector(".message.assistant .body", timeout=10_000)
    page.wait_for_selector(".trace-context", timeout=10_000)
    trace = page.locator("#trace .trace-calls > li")
    assert "trace-context" in (trace.nth(0).get_attribute("class") or "")
    page.locator(".trace-context summary").click()
    assert page.locator(".trace-context a.context-part").all_inner_texts() == shown
