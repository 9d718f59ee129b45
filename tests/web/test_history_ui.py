"""The viewer's History and Blame tabs and commit citations, in headless Chromium against the real
server on a repository made with git."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fakes.ollama import FakeOllama
from tests.gitrepos import SECRET, history_repo
from tests.helpers import Layout
from tests.web.ui import SHOTS, answer, ready, send, tool_round

pytestmark = pytest.mark.browser


def test_history_tab_commit_view_and_blame_of_selected_lines(
    tmp_path: Path, live_server: Any, fake_ollama: FakeOllama, open_page: Any
) -> None:
    made = history_repo(tmp_path / "git")
    server = live_server(made.path, ollama_url=fake_ollama.url)
    page, _ = open_page(server.url)
    ready(page)
    page.click("#file-list >> text=app/")
    page.click("#file-list >> text=settings.py")
    page.wait_for_selector("#file-preview:not([hidden])")
    page.click("#tab-history")
    rows = page.locator("#preview-history .commit-row")
    rows.first.wait_for()
    assert rows.count() == 2  # the rename, and the commit that made it as app/config.py
    assert rows.nth(0).locator(".subject").inner_text() == "Rename config to settings"
    assert rows.nth(1).locator(".sha").inner_text() == made.commits["start"][:7]
    rows.nth(1).click()
    page.wait_for_selector("#preview-history .diff")
    assert page.locator("#preview-name").inner_text().startswith(made.commits["start"][:7])
    view = page.locator("#preview-history").inner_text()
    assert "Start the project with its config" in view and "+SETTING_1 = 1" in view
    assert "1 git-ignored file not shown" in view and SECRET.split("=")[1] not in view
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "history-commit.png"))

    # back to a file; select lines 4-5 of app/net.py in the code and ask who changed them
    page.click("#file-list >> text=net.py")
    page.wait_for_selector("#preview-code:has-text('attempts')")
    page.evaluate(
        """() => {
          const code = document.getElementById('preview-code');
          const text = code.textContent;
          const start = text.indexOf('def fetch');
          const end = text.indexOf('try:');
          const walker = document.createTreeWalker(code, NodeFilter.SHOW_TEXT);
          let seen = 0, node, range = document.createRange(), began = false;
          while ((node = walker.nextNode())) {
            const size = node.nodeValue.length;
            if (!began && seen + size > start) { range.setStart(node, start - seen); began = true; }
            if (began && seen + size >= end) { range.setEnd(node, end - seen); break; }
            seen += size;
          }
          const selection = window.getSelection();
          selection.removeAllRanges();
          selection.addRange(range);
        }"""
    )
    page.click("#tab-blame")
    page.wait_for_selector("#preview-history .blame-range")
    ranges = page.locator("#preview-history .blame-range")
    assert ranges.count() == 2
    assert ranges.nth(0).locator(".subject").inner_text() == "Five attempts for flaky mirrors"
    assert "4  def fetch(url, attempts=5):" in ranges.nth(0).locator(".blame-lines").inner_text()
    assert ranges.nth(1).locator(".sha").inner_text() == made.commits["retry"][:7]
    assert "uncommitted changes" in page.locator("#preview-history").inner_text()
    page.screenshot(path=str(SHOTS / "history-blame.png"))
    page.click("#tab-code")
    assert page.locator("#preview-pre").is_visible() and not page.locator("#preview-history").is_visible()


def test_commit_ids_in_an_answer_link_to_the_commit(
    tmp_path: Path, live_server: Any, fake_ollama: FakeOllama, open_page: Any
) -> None:
    made = history_repo(tmp_path / "git")
    server = live_server(made.path, ollama_url=fake_ollama.url)
    retry = made.commits["retry"][:7]
    fake_ollama.chat_script(
        tool_round(("git_log", {"query": "retry"})),
        answer(f"The retry loop came with {retry}; 99999ab is not a commit here."),
    )
    page, _ = open_page(server.url)
    ready(page)
    send(page, "When did fetch start retrying?")
    page.wait_for_selector(".message.assistant:not(.streaming) a.cite.commit")
    links = page.locator(".message.assistant a.cite.commit")
    assert links.count() == 1 and links.first.inner_text() == retry
    assert page.locator(".message.assistant .body").inner_text().count("99999ab") == 1  # plain text
    links.first.click()
    page.wait_for_selector("#preview-history .diff")
    assert "Networks drop requests; three attempts." in page.locator("#preview-history .message").inner_text()
    assert not page.locator("#preview-tabs").is_visible()  # a commit, not a file: no Code/History/Blame
    assert page.locator(".trace-entry .tool-name").first.inner_text() == "git_log"
    page.screenshot(path=str(SHOTS / "history-citation.png"))


def test_without_history_the_tab_says_so(
    layout: Layout, live_server: Any, fake_ollama: FakeOllama, open_page: Any
) -> None:
    server = live_server(layout.repo, ollama_url=fake_ollama.url)
    page, _ = open_page(server.url)
    ready(page)
    page.click("#file-list >> text=src/")
    page.click("#file-list >> text=main.py")
    page.wait_for_selector("#file-preview:not([hidden])")
    page.click("#tab-history")
    page.wait_for_selector("#preview-history .note:has-text('history_unavailable')")
