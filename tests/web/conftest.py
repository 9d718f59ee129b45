"""The browser the web UI tests drive: Debian's Chromium through the playwright package (its own
browser download is never used), one per module, a fresh context a page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.web.ui import CHROMIUM, FLAGS, TRACE_RECORDER


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def open_page(browser: Browser) -> Iterator[Any]:
    contexts = []

    def open_(url: str, width: int = 1280, height: int = 800) -> tuple[Page, list[str]]:
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        page.add_init_script(TRACE_RECORDER)
        page.goto(url + "/")
        return page, requests

    yield open_
    for context in contexts:
        context.close()
