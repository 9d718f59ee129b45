"""A model server that misbehaves cannot hang, flood or fool a chat: an empty answer is an
error, a line is capped, an answer has a deadline and a size cap, tool calls a per-round cap."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from typing import Any

import pytest

from assistant.backends.base import MAX_ANSWER_CHARS
from tests.fakes.ollama import DONE, FakeOllama
from tests.helpers import Layout, call, calls, chunks, say, stream, text_of, tool_events


@pytest.fixture
def server(layout: Layout, live_server: Any, fake_ollama: FakeOllama) -> Any:
    return live_server(
        layout.repo, ollama_url=fake_ollama.url, keepalive_seconds=0.5, chunk_timeout=8, answer_timeout=2
    )


def _error(events: list[Any]) -> dict[str, Any]:
    assert events[-1] == "[DONE]"
    assert events[-2]["type"] == "error", events[-3:]
    return events[-2]["error"]  # type: ignore[no-any-return]


def test_an_empty_200_is_an_error_not_an_empty_answer(server: Any, fake_ollama: FakeOllama) -> None:
    fake_ollama.chat_script([])
    events, _, response = stream(server)
    assert response.status_code == 200
    error = _error(events)
    assert error["code"] == "ollama_error" and "empty answer" in error["message"]


def test_a_line_without_end_is_capped(server: Any, fake_ollama: FakeOllama) -> None:
    fake_ollama.chat_script([b'{"message": {"role": "assistant", "content": "' + b"x" * (9 << 20)])
    events, _, _ = stream(server)
    error = _error(events)
    assert error["code"] == "ollama_error" and "8 MB" in error["message"]


def test_a_drip_of_bytes_ends_at_the_answer_deadline(server: Any, fake_ollama: FakeOllama) -> None:
    drip: list[Any] = []
    for byte in b'{"message": {"role": "assistant", "content": "hello"}}':
        drip += [bytes([byte]), 1.0]  # about a minute in all
    fake_ollama.chat_script(drip)
    started = time.monotonic()
    events, _, _ = stream(server)
    assert _error(events)["code"] == "ollama_timeout"
    assert time.monotonic() - started < 20  # answer_timeout=2, though no gap between bytes was long


def test_an_endless_stream_of_chunks_ends_at_the_answer_deadline(server: Any, fake_ollama: FakeOllama) -> None:
    def endless() -> Iterator[Any]:
        for _ in itertools.count():
            yield {"message": {"role": "assistant", "content": "more "}}
            yield 0.05

    fake_ollama.chat_script(endless())
    started = time.monotonic()
    events, _, _ = stream(server)
    assert _error(events)["code"] == "ollama_timeout"
    assert text_of(events).startswith("more more")
    assert time.monotonic() - started < 20  # answer_timeout=2; the stream itself never ends


def test_a_flood_of_content_is_cut_at_the_answer_cap(layout: Layout, live_server: Any, fake_ollama: FakeOllama) -> None:
    server = live_server(layout.repo, ollama_url=fake_ollama.url)
    piece = "y" * 4096

    def flood() -> Iterator[Any]:
        while True:
            yield {"message": {"role": "assistant", "content": piece}}

    fake_ollama.chat_script(flood())
    events, _, _ = stream(server)
    assert len(text_of(events)) == MAX_ANSWER_CHARS
    assert chunks(events)[-1]["choices"][0]["finish_reason"] == "length"
    assert events[-2]["type"] == "done"


def test_hundreds_of_tool_calls_in_one_round_run_the_first_sixteen(server: Any, fake_ollama: FakeOllama) -> None:
    many = [call("list_files", depth=1 + i % 3, path=f"dir{i}") for i in range(500)]
    fake_ollama.chat_script(calls(*many), say("done"))
    events, _, _ = stream(server)
    started = [e for e in tool_events(events) if e["status"] == "started"]
    assert len(started) == 16
    assert text_of(events) == "done"
    second = fake_ollama.received("/api/chat")[1].body["messages"]
    assert "only the first 16 were run" in second[-1]["content"]
    assert DONE["done"] is True
