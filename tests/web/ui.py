"""What the web UI tests share: the browser's flags, waiting on the page, sending a question,
scripted answers, and where screenshots go."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

from tests.fakes.ollama import DONE

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = Path(__file__).parent / "screenshots"

# Records every class a trace entry goes through, so a test can see "running" even when
# the tool finishes within a millisecond.
TRACE_RECORDER = """
window.__traceStates = [];
new MutationObserver((records) => {
  for (const r of records) {
    if (r.type === "attributes" && r.target.classList.contains("trace-entry")) {
      window.__traceStates.push([r.target.dataset.id, r.oldValue || ""], [r.target.dataset.id, r.target.className]);
    }
  }
}).observe(document, { subtree: true, attributes: true, attributeOldValue: true, attributeFilter: ["class"] });
"""


def ready(page: Page) -> None:
    page.wait_for_selector("body[data-ready=true]", timeout=15_000)


def until(condition: Any, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the page did not get there in time"
        time.sleep(0.05)


def send(page: Page, text: str) -> None:
    page.fill("#prompt", text)
    page.press("#prompt", "Enter")


def tool_round(*calls: tuple[str, dict[str, Any]]) -> list[Any]:
    message = {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"function": {"name": n, "arguments": a}} for n, a in calls],
    }
    return [{"message": message}, DONE]


def answer(*parts: str, delay: float = 0.0) -> list[Any]:
    items: list[Any] = []
    for part in parts:
        if delay:
            items.append(delay)
        items.append({"message": {"role": "assistant", "content": part}})
    return [*items, DONE]
