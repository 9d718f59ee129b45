"""Reading server-sent events the strict way: one line per event, lines ending in \\n."""

from __future__ import annotations

import json
from typing import Any

import httpx


def parse(raw: str) -> tuple[list[Any], list[str]]:
    """(events, comments) of a whole SSE body; ``[DONE]`` stays a string."""
    assert "\r" not in raw
    events: list[Any] = []
    comments: list[str] = []
    for block in raw.split("\n\n"):
        if not block:
            continue
        lines = block.split("\n")
        assert len(lines) == 1, block  # one line per event
        if lines[0].startswith(":"):
            comments.append(lines[0])
        else:
            assert lines[0].startswith("data: "), block
            payload = lines[0][6:]
            events.append(payload if payload == "[DONE]" else json.loads(payload))
    return events, comments


def read(response: httpx.Response) -> tuple[list[Any], list[str]]:
    return parse(b"".join(response.iter_raw()).decode())
