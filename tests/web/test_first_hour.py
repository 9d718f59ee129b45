"""The first hour with a slow local model, in headless Chromium: a question is never lost, the
page says what the server is doing, the trace is grouped by answer, the code can be read, and
conversations stay with their repository."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.ollama import FakeOllama
from tests.fakes.openai import FakeOpenAI
from tests.helpers import Layout
from tests.web.ui import SHOTS, answer, ready, send, tool_round, until

pytestmark = pytest.mark.browser


def shoot(page: Any, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / name))


def test_a_slow_first_round_says_what_the_server_is_doing(
    layout: Layout, live_server: Any, fake_ollama: FakeOllama, open_page: Any
) -> None:
    server = live_server(layout.repo, ollama_url=fake_ollama.url)
    fake_ollama.chat_script(
        [4.0, *tool_round(("read_file", {"path": "src/main.py"}))],
        answer("It returns 42.", delay=0.5),
    )
    page, _ = open_page(server.url, 1440, 900)
    ready(page)
    send(page, "What does main return?")
    page.wait_for_selector(".status-line:has-text('Waiting for the model')", timeout=10_000)
    until(
        lambda: (
            " 2 s" in page.locator(".status-line").inner_text() or " 3 s" in page.locator(".status-line").inner_text()
        )
    )
    shoot(page, "waiting-for-the-model.png")
    page.wait_for_selector(".message.assistant:not(.streaming)", timeout=20_000)
    assert page.locator(".status-line").count() == 0  # gone with the answer
    assert page.locator(".message.assistant .body").inner_text() == "It returns 42."


def test_the_composer_keeps_a_question_the_server_did_not_take(
    layout: Layout, live_server: Any, fake_ollama: FakeOllama, open_page: Any
) -> None:
    server = live_server(layout.repo, ollama_url=fake_ollama.url, max_concurrent_chats=1)
    fake_ollama.chat_script([30.0, *answer("late")])
    body = {"messages": [{"role": "user", "content": "hold the only slot"}], "settings": {"model": "qwen2.5-coder:7b"}}
    with httpx.stream("POST", f"{server.url}/api/v1/chat/completions", json=body, timeout=60):
        until(lambda: fake_ollama.received("/api/chat"))  # the one chat allowed is running
        page, _ = open_page(server.url)
        ready(page)
        send(page, "a question typed with care")
        page.wait_for_selector("#error:not([hidden])", timeout=10_000)
        assert "Too many chats" in page.locator("#error").inner_text()
        assert page.locator("#prompt").input_value() == "a question typed with care"  # not lost
        until(lambda: page.locator("#conversation-list .muted").count() == 1)  # no empty conversation left
        listed = httpx.get(f"{server.url}/api/v1/conversations", timeout=5).json()["data"]["conversations"]
        assert listed == []


def test_a_failed_answer_stays_with_its_question_and_can_be_asked_again(
    layout: Layout, live_server: Any, fake_ollama: FakeOllama, open_page: Any
) -> None:
    server = live_server(layout.repo, ollama_url=fake_ollama.url)
    fake_ollama.chat_script(
        [{"message": {"role": "assistant", "content": "half"}}, {"error": "out of memory"}], answer("whole")
    )
    page, _ = open_page(server.url)
    ready(page)
    send(page, "what does main do?")
    page.wait_for_selector(".message.assistant.failed .note", timeout=10_000)
    assert "The answer failed" in page.locator(".message.assistant .note").inner_text()
    assert page.locator("#prompt").input_value() == ""  # the server had the question
    assert page.locator(".message.user .body").inner_text() == "what does main do?"
    page.click(".message.assistant >> text=Ask again")
    page.wait_for_selector(".message.assistant .branch-count >> text=2/2", timeout=10_000)
    assert page.locator(".message.assistant .body").inner_text() == "whole"


def test_an_interrupted_answer_and_the_round_limit_are_drawn_from_what_was_stored(
    layout: Layout, live_server: Any, fake_ollama: FakeOllama, open_page: Any
) -> None:
    server = live_server(layout.repo, ollama_url=fake_ollama.url)
    document = {
        "title": "kept",
        "messages": [
            {"id": "q1", "role": "user", "content": "first"},
            {
                "id": "a1",
                "parent_id": "q1",
                "role": "assistant",
                "content": "all I found",
                "rounds_exhausted": True,
                "finish_reason": "stop",
            },
            {"id": "q2", "parent_id": "a1", "role": "user", "content": "second"},
            {
                "id": "a2",
                "parent_id": "q2",
                "role": "assistant",
                "content": "half an ans",
                "finish_reason": "interrupted",
            },
        ],
    }
    made = httpx.post(f"{server.url}/api/v1/conversations", json=document, timeout=10).json()["data"]
    page, _ = open_page(server.url)
    page.add_init_script(f"localStorage.setItem('repo-assistant.open-conversation', {json.dumps(made['id'])})")
    page.reload()
    ready(page)
    notes = page.locator(".message.assistant .note").all_inner_texts()
    assert notes == [
        "The model ran out of tool rounds; this answer is from what it had found by then.",
        "Interrupted: the server stopped before this answer was finished.",
    ]
    assert page.locator(".message.assistant").nth(1).locator("text=Ask again").count() == 1


def test_the_trace_groups_calls_under_their_answer(
    layout: Layout, live_server: Any, fake_ollama: FakeOllama, open_page: Any
) -> None:
    server = live_server(layout.repo, ollama_url=fake_ollama.url)
    fake_ollama.chat_script(
        tool_round(("list_files", {})),
        answer("It has src/."),
        tool_round(("read_file", {"path": "src/main.py"}), ("search_files", {"query": "main"})),
        answer("42."),
    )
    page, _ = open_page(server.url, 1440, 900)
    ready(page)
    send(page, "What is here?")
    page.wait_for_selector(".message.assistant:not(.streaming) >> text=It has src/.", timeout=10_000)
    send(page, "What does main return?")
    until(lambda: page.locator(".message.assistant:not(.streaming)").count() == 2)
    until(lambda: page.locator(".trace-group").count() == 2)
    groups = page.locator(".trace-group")
    assert groups.nth(0).locator(".trace-group-number").inner_text() == "Answer 1"
    assert groups.nth(0).locator(".trace-group-title").inner_text() == "What is here?"
    assert not groups.nth(0).locator(":scope > details").evaluate("d => d.open")  # the earlier answer folded
    assert groups.nth(1).locator(":scope > details").evaluate("d => d.open")  # the current one open
    calls = "li:not(.trace-context) .tool-name"  # the code given first is an entry of its own
    assert groups.nth(1).locator(calls).all_inner_texts() == ["read_file", "search_files"]
    shoot(page, "trace-by-answer.png")
    page.reload()
    ready(page)
    until(lambda: page.locator(".trace-group").count() == 2)
    assert page.locator(".trace-group").nth(0).locator(calls).all_text_contents() == ["list_files"]  # folded


def test_the_code_viewer_is_wide_enough_to_read(
    layout: Layout, live_server: Any, fake_ollama: FakeOllama, open_page: Any
) -> None:
    wide = "".join(f"value_{i:03d} = {'x' * 110!r}  # a line longer than a hundred characters\n" for i in range(120))
    (layout.repo / "src" / "wide.py").write_text(wide)
    server = live_server(layout.repo, ollama_url=fake_ollama.url)
    fake_ollama.chat_script(answer("See src/wide.py:60-62."))
    page, _ = open_page(server.url, 1440, 900)
    ready(page)
    send(page, "where are the values?")
    page.wait_for_selector(".message.assistant a.cite", timeout=10_000)
    page.click(".message.assistant a.cite")
    page.wait_for_selector("#file-preview:not([hidden]) #preview-mark:not([hidden])", timeout=5_000)
    characters = page.evaluate(
        """() => {
            const code = document.getElementById('preview-code');
            const probe = document.createElement('span');
            probe.textContent = 'x'.repeat(100);
            code.append(probe);
            const char = probe.getBoundingClientRect().width / 100;
            probe.remove();
            const box = code.parentElement.getBoundingClientRect();
            const scroller = document.getElementById('preview-pre').getBoundingClientRect();
            return Math.floor((Math.min(box.right, scroller.right) - box.left - 12) / char);
        }"""
    )
    assert characters >= 100, characters
    assert page.locator("#preview-gutter").inner_text().split("\n")[:3] == ["1", "2", "3"]  # line numbers
    assert page.locator("#preview-code span.hljs-string").count() > 0  # highlighted
    assert page.locator("#preview-mark").get_attribute("data-line") == "60"
    assert page.locator("#preview-lines").inner_text() == "lines 60–62"  # noqa: RUF001 - the UI's own characters
    shoot(page, "code-viewer.png")
    page.keyboard.press("Escape")
    assert page.locator("#file-preview").is_hidden()
    page.click(".message.assistant a.cite")
    page.click("#preview-close")
    assert page.locator("#file-preview").is_hidden()


def test_conversations_stay_with_their_repository(
    layout: Layout, live_server: Any, fake_ollama: FakeOllama, open_page: Any, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.py").write_text("def other():\n    pass\n")
    data_dir = str(tmp_path / "data")
    both = live_server([layout.repo, other], ollama_url=fake_ollama.url, data_dir=data_dir)
    api = f"{both.url}/api/v1/conversations"
    mine = httpx.post(api, json={"title": "about repo", "repo": str(layout.repo)}, timeout=10).json()["data"]
    theirs = httpx.post(api, json={"title": "about other", "repo": str(other)}, timeout=10).json()["data"]
    page, _ = open_page(both.url)
    ready(page)
    until(lambda: page.locator(".conversation-title").all_inner_texts() == ["about repo"])  # the repository picked
    page.check("#every-repo")
    until(lambda: page.locator(".conversation-title").all_inner_texts() == ["about other", "about repo"])
    both.__exit__()
    alone = live_server(layout.repo, ollama_url=fake_ollama.url, data_dir=data_dir)  # serves no `other`
    page, _ = open_page(alone.url)
    page.add_init_script(f"localStorage.setItem('repo-assistant.open-conversation', {json.dumps(theirs['id'])})")
    page.reload()
    ready(page)
    banner = page.locator(".read-only").inner_text()
    assert str(other) in banner and "read-only" in banner
    assert page.locator("#prompt").is_disabled()
    shoot(page, "read-only-conversation.png")
    assert mine["repo"] == str(layout.repo)


def test_pull_is_offered_only_where_the_model_server_can_pull(layout: Layout, live_server: Any, open_page: Any) -> None:
    fake = FakeOpenAI().start()
    try:
        server = live_server(layout.repo, backend="openai", base_url=fake.base_url)
        page, _ = open_page(server.url)
        ready(page)
        until(lambda: page.locator("#model-picker option").count() > 0 and page.locator("#pull-open").is_hidden())
    finally:
        fake.down()


def test_a_question_asked_before_the_models_are_known_uses_the_default_rule(
    layout: Layout, live_server: Any, fake_ollama: FakeOllama, open_page: Any
) -> None:
    server = live_server(layout.repo, ollama_url=fake_ollama.url, first_token_timeout=90, request_timeout=30)
    fake_ollama.slow = 8.0  # the model server is busy: every request waits
    page, _ = open_page(server.url)
    ready(page)  # the repositories, the files and the conversation do not wait for it
    assert page.locator("#model-picker").input_value() == ""  # the models are not known yet
    assert page.locator("#file-list >> text=README.md").count() == 1
    page.evaluate(
        """() => {
            window.__chatBodies = [];
            const fetch = window.fetch;
            window.fetch = (url, options) => {
                if (String(url).endsWith('/chat/completions')) window.__chatBodies.push(JSON.parse(options.body));
                return fetch(url, options);
            };
        }"""
    )
    fake_ollama.chat_script(answer("from the default model"))
    send(page, "hello")
    until(lambda: page.evaluate("window.__chatBodies.length") > 0, 30)
    sent = page.evaluate("window.__chatBodies[0]")
    assert "model" not in sent["settings"]  # the server's default rule, never null
    page.wait_for_selector(".message.assistant:not(.streaming) >> text=from the default model", timeout=90_000)


def test_small_things_citations_copy_buttons_and_titles(
    layout: Layout, live_server: Any, fake_ollama: FakeOllama, open_page: Any
) -> None:
    (layout.repo / "src" / "snake_case_name.py").write_text("def snake():\n    return 1\n" * 10)
    server = live_server(layout.repo, ollama_url=fake_ollama.url)
    long = "What does the function that computes the answer in the main module return when it is called?"
    fake_ollama.chat_script(
        answer("See src/snake_case_name.py:3-12 and:\n\n```python\nprint(42)  # a long enough line\n```")
    )
    (layout.repo / "src" / "__init__.py").write_text("")
    page, _ = open_page(server.url, 1440, 900)
    ready(page)
    send(page, long)
    page.wait_for_selector(".message.assistant:not(.streaming) a.cite", timeout=10_000)
    cite = page.locator(".message.assistant a.cite")
    assert cite.inner_text() == "src/snake_case_name.py:3-12"  # whole: the `_`s were not read as emphasis
    style = cite.evaluate(
        "c => [getComputedStyle(c).whiteSpace, getComputedStyle(c).paddingBottom, "
        "getComputedStyle(c).textDecorationLine]"
    )
    assert style == ["nowrap", "2px", "none"]  # the range stays on one line; the underline is drawn below the `_`s
    copy = page.locator(".message.assistant button.copy").bounding_box()
    code = page.locator(".message.assistant pre").bounding_box()
    assert copy["y"] + copy["height"] <= code["y"]  # above the code, not over it
    until(lambda: page.locator(".conversation-open").count() == 1)
    title = httpx.get(f"{server.url}/api/v1/conversations", timeout=5).json()["data"]["conversations"][0]["title"]
    assert title.startswith(long[:60])
    assert page.locator(".conversation-open").get_attribute("title").startswith(title)  # the whole title on hover
    shoot(page, "small-things.png")
